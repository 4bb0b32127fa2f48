/* gst-diode — the publisher's end of direct paths: placeholder until issue 12's direct layer lands.
 * Fails closed: nothing is ever offered or connected.
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-direct.h"

#include <gio/gio.h>
#include <string.h>

DiodeDirectServer *
diode_direct_server_new (const DiodeDirectServerConfig * cfg, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "direct paths are not built yet");
  return NULL;
}

void
diode_direct_server_free (DiodeDirectServer * s)
{
}

void
diode_direct_server_push_frame (DiodeDirectServer * s, GBytes * frame)
{
}

void
diode_direct_server_handle_signal (DiodeDirectServer * s, const DiodeMsg * m)
{
}

void
diode_direct_server_relay_reset (DiodeDirectServer * s)
{
}

int
diode_direct_server_get_fd (DiodeDirectServer * s)
{
  return -1;
}

GBytes  *
diode_direct_server_next_signal (DiodeDirectServer * s)
{
  return NULL;
}

void
diode_direct_server_get_stats (DiodeDirectServer * s, DiodeDirectServerStats * stats)
{
  memset (stats, 0, sizeof (*stats));
}
