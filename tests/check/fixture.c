/* gst-diode — test fixture: temp config dir and in-process relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

#include <gst/check/gstcheck.h>

const gchar *
fixture_config_dir (void)
{
  static gchar *dir = NULL;

  if (!dir) {
    dir = g_dir_make_tmp ("diode-test-XXXXXX", NULL);
    g_assert_nonnull (dir);
    g_setenv ("XDG_CONFIG_HOME", dir, TRUE);
  }
  return dir;
}

DiodeRelay *
fixture_relay_start (guint16 port, const gchar * key_name)
{
  gchar *listen = g_strdup_printf ("127.0.0.1:%u", port);
  gchar *key = g_build_filename (fixture_config_dir (),
      key_name ? key_name : "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new (listen, key);
  GError *err = NULL;

  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (listen);
  g_free (key);
  return relay;
}

gboolean
fixture_wait_viewers (DiodeRelay * relay, const gchar * stream, guint n,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_count_viewers (relay, stream) != n) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_waiting (DiodeRelay * relay, const gchar * stream, guint n,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_count_waiting (relay, stream) != n) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_last_seq (DiodeRelay * relay, const gchar * stream, guint64 seq,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_get_last_seq (relay, stream) < seq) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (5 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_publisher (DiodeRelay * relay, const gchar * stream,
    gboolean present, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_has_publisher (relay, stream) != present) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

GstMessage *
fixture_expect_error (GstElement * element, GstState state, guint timeout_ms)
{
  GstBus *bus = gst_element_get_bus (element);
  GstMessage *msg;

  if (!bus) {
    bus = gst_bus_new ();
    gst_element_set_bus (element, bus);
  }
  gst_element_set_state (element, state);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime) timeout_ms *
      GST_MSECOND, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  return msg;
}
