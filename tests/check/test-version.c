/* gst-diode — which protocol version the elements negotiate
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diodesink and diodesrc offer versions 1..DIODE_PROTOCOL_VERSION_MAX
 * (docs/protocol.md section 5), so against a relay of this release they
 * speak version 4 (direct paths, section 17), which the relay logs for each
 * HELLO ("publisher 0x... from ... (agent, protocol v3)"). The relay's log
 * domain is watched for those lines while a stream goes through.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "diode-msg.h"
#include "fixture.h"

static GMutex log_lock;
static GPtrArray *log_lines;

static void
on_relay_log (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  g_mutex_lock (&log_lock);
  g_ptr_array_add (log_lines, g_strdup (message));
  g_mutex_unlock (&log_lock);
}

/* TRUE once a logged line starts with @who and ends with @tail. */
static gboolean
wait_log (const gchar * who, const gchar * tail, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  do {
    guint i;
    gboolean found = FALSE;

    g_mutex_lock (&log_lock);
    for (i = 0; i < log_lines->len && !found; i++) {
      const gchar *l = g_ptr_array_index (log_lines, i);

      found = g_str_has_prefix (l, who) && g_str_has_suffix (l, tail);
    }
    g_mutex_unlock (&log_lock);
    if (found)
      return TRUE;
    g_usleep (10 * 1000);
  } while (g_get_monotonic_time () < end);
  return FALSE;
}

GST_START_TEST (test_elements_speak_version_3)
{
  DiodeRelay *relay;
  gchar *hp, *tail;
  GstElement *e;
  GstHarness *sink, *src;
  GstBuffer *b;
  guint handler;

  log_lines = g_ptr_array_new_with_free_func (g_free);
  handler = g_log_set_handler ("diode-relay", G_LOG_LEVEL_INFO, on_relay_log,
      NULL);
  relay = fixture_relay_start (0, NULL);
  hp = diode_relay_get_hostport (relay);

  e = gst_element_factory_make ("diodesink", NULL);
  g_object_set (e, "relay", hp, "stream", "ver", NULL);
  sink = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (sink, "application/x-test");
  gst_harness_play (sink);
  e = gst_element_factory_make ("diodesrc", NULL);
  g_object_set (e, "relay", hp, "stream", "ver", "timeout", 5000, NULL);
  src = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (src);

  /* a buffer goes through, so both ends are past their handshake */
  b = gst_buffer_new_allocate (NULL, 10, NULL);
  gst_buffer_memset (b, 0, 7, 10);
  GST_BUFFER_PTS (b) = GST_BUFFER_DTS (b) = 0;
  fail_unless_equals_int (gst_harness_push (sink, b), GST_FLOW_OK);
  b = gst_harness_pull (src);
  fail_unless (b != NULL);
  gst_buffer_unref (b);

  tail = g_strdup_printf (", protocol v%d)", DIODE_PROTOCOL_VERSION_MAX);
  fail_unless_equals_int (DIODE_PROTOCOL_VERSION_MAX, 4);
  fail_unless (wait_log ("publisher 0x", tail, 5000),
      "no relay log line: publisher ... %s", tail);
  fail_unless (wait_log ("viewer 0x", tail, 5000),
      "no relay log line: viewer ... %s", tail);

  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  g_object_unref (relay);
  g_log_remove_handler ("diode-relay", handler);
  g_free (tail);
  g_free (hp);
  g_ptr_array_unref (log_lines);
}

GST_END_TEST;

static Suite *
version_suite (void)
{
  Suite *s = suite_create ("version");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_elements_speak_version_3);
  return s;
}

GST_CHECK_MAIN (version);
