/* gst-diode — a running relay's properties change safely
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay's I/O thread reads its settings without locking; setters called
 * from another thread while it runs must neither free a string it is using
 * (stats-file, written by the loop) nor leave a value half-written, and a
 * value set is the value read back and the value the loop acts on. Run
 * under ASan (scripts/test.sh does) a use-after-free here aborts.
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>

#include "rawclient.h"

static DiodeRelay *
relay_new_started (void)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;

  /* The tick writes the stats file as often as it can (every 200 ms). */
  g_object_set (relay, "stats-interval-ms", 1, NULL);
  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (key);
  return relay;
}

/* Change stats-file as fast as possible while the loop keeps writing it:
 * every set is read back as set, and the files the loop writes are whole
 * JSON snapshots. */
GST_START_TEST (test_stats_file_changed_while_written)
{
  DiodeRelay *relay = relay_new_started ();
  gchar *dir = g_build_filename (fixture_config_dir (), "stats", NULL);
  gint64 end = deadline_in (2500);
  guint n = 0, written = 0, i;

  g_mkdir_with_parents (dir, 0700);
  while (g_get_monotonic_time () < end) {
    gchar *path = g_strdup_printf ("%s/stats-%u-with-a-long-name-so-that-a-"
        "freed-string-is-reused-%u.json", dir, n % 4, n);
    gchar *back = NULL;

    g_object_set (relay, "stats-file", path, NULL);
    g_object_get (relay, "stats-file", &back, NULL);
    fail_unless_equals_string (back, path);
    g_free (back);
    g_free (path);
    n++;
  }
  g_object_set (relay, "stats-file", NULL, NULL);
  for (i = 0; i < n; i++) {
    gchar *path = g_strdup_printf ("%s/stats-%u-with-a-long-name-so-that-a-"
        "freed-string-is-reused-%u.json", dir, i % 4, i);
    gchar *json = NULL;

    if (g_file_get_contents (path, &json, NULL, NULL)) {
      written++;
      fail_unless (g_str_has_prefix (json, "{"), "%s is not JSON", path);
      g_unlink (path);
    }
    g_free (json);
    g_free (path);
  }
  GST_INFO ("%u stats-file changes, %u files written", n, written);
  fail_unless (n > 100, "only %u changes", n);
  fail_unless (written > 0, "the relay wrote no stats file at all");
  g_rmdir (dir);
  g_free (dir);
  diode_relay_stop (relay);
  g_object_unref (relay);
}

GST_END_TEST;

/* Numbers too: a 64-bit limit is read back whole (no torn value on a
 * 32-bit CPU), and a new buffer limit applies to a stream already open. */
GST_START_TEST (test_numbers_changed_while_running)
{
  DiodeRelay *relay = relay_new_started ();
  RawClient *p = raw_open (relay, 0, "pub.pem");
  DiodeMsg m = { 0 };
  guint8 data[4096];
  guint64 v = 0, seq;
  gchar *json;

  raw_send_frame (p, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER,
          "settings/0"));
  raw_expect (p, DIODE_MSG_WELCOME, &m);
  diode_msg_clear (&m);
  raw_send_frame (p, diode_msg_encode_publish ("cam"));
  raw_expect (p, DIODE_MSG_PUBLISH_OK, &m);
  diode_msg_clear (&m);
  raw_send_frame (p, diode_msg_encode_caps ("application/x-test"));
  memset (data, 0x5a, sizeof (data));
  /* 200 chunks of 4 KiB: 800 KiB under the default 32 MiB. */
  for (seq = 1; seq <= 200; seq++)
    raw_send_frame (p, diode_msg_encode_media (seq, seq * GST_MSECOND,
            seq * GST_MSECOND, GST_MSECOND, seq, seq + 1,
            DIODE_MEDIA_KEYFRAME, data, sizeof (data)));
  fail_unless (fixture_wait_last_seq (relay, "cam", 200, 5000));

  g_object_set (relay, "viewer-hard-limit", G_GUINT64_CONSTANT (0x100000001),
      NULL);
  g_object_get (relay, "viewer-hard-limit", &v, NULL);
  fail_unless_equals_uint64 (v, G_GUINT64_CONSTANT (0x100000001));

  /* 64 KiB of buffer: the open stream drops to about 16 chunks, as the
   * next stats snapshot (every tick) shows */
  g_object_set (relay, "buffer-bytes", (guint64) 65536, NULL);
  {
    gint64 end = deadline_in (5000);
    guint64 held = G_MAXUINT64;

    for (;;) {
      const gchar *b;

      json = diode_relay_get_stats_json (relay);
      b = json ? strstr (json, "\"buffered_bytes\"") : NULL;
      if (b)
        held = g_ascii_strtoull (strchr (b, ':') + 1, NULL, 10);
      if (held <= 65536 + 2 * 4200 || g_get_monotonic_time () > end)
        break;
      g_free (json);
      g_usleep (20 * 1000);
    }
    GST_INFO ("%s", json);
    fail_unless (held <= 65536 + 2 * 4200, "stream still holds %"
        G_GUINT64_FORMAT " bytes", held);
  }
  g_free (json);
  raw_free (p, FALSE);
  diode_relay_stop (relay);
  g_object_unref (relay);
}

GST_END_TEST;

static Suite *
settings_suite (void)
{
  Suite *s = suite_create ("relay-settings");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_stats_file_changed_while_written);
  tcase_add_test (tc, test_numbers_changed_while_running);
  return s;
}

GST_CHECK_MAIN (settings);
