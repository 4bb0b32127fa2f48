/* gst-diode — one ICE connection (libnice): placeholder until issue 12's
 * ICE layer lands. Fails closed: no agent is ever made.
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-ice.h"

#include <gio/gio.h>

DiodeIce *
diode_ice_new (GMainContext * context, const DiodeIceConfig * config,
    DiodeIceFunc func, gpointer user_data, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "direct paths are not built yet");
  return NULL;
}

void
diode_ice_free (DiodeIce * ice)
{
}

gboolean
diode_ice_set_remote_credentials (DiodeIce * ice, const gchar * text,
    GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "not built");
  return FALSE;
}

gboolean
diode_ice_add_remote_candidate (DiodeIce * ice, const gchar * text,
    GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "not built");
  return FALSE;
}

void
diode_ice_remote_gathered (DiodeIce * ice)
{
}

int
diode_ice_take_fd (DiodeIce * ice)
{
  return -1;
}

void
diode_ice_get_stats (DiodeIce * ice, guint64 * bytes_out, guint64 * bytes_in)
{
  *bytes_out = *bytes_in = 0;
}

gboolean
diode_ice_check_stun_uri (const gchar * uri, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "not built");
  return FALSE;
}

gboolean
diode_ice_check_turn_uri (const gchar * uri, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "not built");
  return FALSE;
}
