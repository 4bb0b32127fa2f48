/* gst-diode — a fan-out spread over the relay's I/O threads
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With io-threads > 1 the relay hands the writes of a fan-out to many
 * viewers out in shares to worker threads (relay/diode-relay-fanout.c).
 * What a viewer receives must not depend on it: 64 raw TLS viewers get
 * every frame byte for byte, in order, while one of them vanishes (a
 * reset) as the frames go out, and is closed alone. The relay's stats say
 * fan-outs were spread. At io-threads 1 and 4 too. Real TLS, real sockets
 * on 127.0.0.1, every wait bounded, no timing asserted.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <string.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define VIEWERS 64
#define FRAMES 45
#define GOP 30
#define READ_MS 5000

static gsize
frame_size (guint k)
{
  /* around and across the 16 KiB record, and small ones */
  static const gsize sizes[] = { 20000, 300, 16324, 5, 40000, 9000 };

  return sizes[k % G_N_ELEMENTS (sizes)];
}

static void
spread (guint io_threads)
{
  /* viewers are read one after the other: a keepalive long enough that
   * the last ones are not closed as silent meanwhile (under ASan too) */
  DiodeRelay *relay = relay_with ("stats-interval-ms", 100,
      "io-threads", io_threads, "keepalive-ms", 20000,
      "viewer-soft-limit", (guint64) 64 * 1024 * 1024,
      "viewer-hard-limit", (guint64) 128 * 1024 * 1024, NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  RawClient *v[VIEWERS];
  GstHarness *pub;
  GstElement *e;
  DiodeMsg m = { 0 };
  guint i, k;

  e = gst_element_factory_make ("diodesink", NULL);
  g_object_set (e, "relay", hp, "stream", "cam", NULL);
  pub = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (pub, CAPS_STR);
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (relay, "cam", TRUE, 5000));

  for (i = 0; i < VIEWERS; i++) {
    gchar *agent = g_strdup_printf ("spread/%u", i);

    v[i] = raw_open (relay, 0, "spread.pem");
    raw_send_frame (v[i], diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
            agent));
    raw_expect (v[i], DIODE_MSG_WELCOME, &m);
    diode_msg_clear (&m);
    raw_send_frame (v[i], diode_msg_encode_subscribe ("cam", 0, 5000));
    g_free (agent);
  }
  fail_unless (fixture_wait_waiting (relay, "cam", VIEWERS, 5000));

  for (k = 0; k < FRAMES; k++) {
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (k, frame_size (k), GOP)), GST_FLOW_OK);
    /* one viewer vanishes while the frames go out */
    if (k == GOP / 2)
      raw_free (v[VIEWERS / 2], TRUE);
  }

  for (i = 0; i < VIEWERS; i++) {
    gboolean caps = FALSE;

    if (i == VIEWERS / 2)
      continue;
    raw_expect_next (v[i], DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
    diode_msg_clear (&m);
    for (k = 0; k < FRAMES;) {
      fail_unless (raw_next (v[i], &m, READ_MS) == RAW_READ_MSG,
          "viewer %u: MEDIA %u did not arrive", i, k);
      if (m.type == DIODE_MSG_CAPS) {
        fail_if (caps, "viewer %u: CAPS again", i);
        caps = TRUE;
      } else {
        fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
        fail_unless (caps, "viewer %u: MEDIA before CAPS", i);
        fail_unless_equals_uint64 (m.seq, k + 1);
        fail_unless_equals_uint64 (g_bytes_get_size (m.payload),
            frame_size (k));
        {
          guint8 *want = g_malloc (frame_size (k));

          fixture_fill_payload (want, frame_size (k), k);
          fail_unless (memcmp (g_bytes_get_data (m.payload, NULL), want,
                  frame_size (k)) == 0, "viewer %u: payload %u differs", i,
              k);
          g_free (want);
        }
        k++;
      }
      diode_msg_clear (&m);
    }
  }
  /* the vanished one is gone, alone */
  fail_unless (fixture_wait_viewers (relay, "cam", VIEWERS - 1, 5000));

  {
    gint64 end = deadline_in (READ_MS);
    guint64 n;

    /* The stats JSON is a snapshot the relay refreshes on its stats tick:
     * wait for one (a fast run, or a loaded machine, can get here before
     * the first; the 1-thread case then read 0 for io_threads). */
    while (fixture_stats_tx (relay, "io_threads") == 0
        && g_get_monotonic_time () < end)
      g_usleep (20 * 1000);
    while ((n = fixture_stats_tx (relay, "spread")) == 0 && io_threads > 1
        && g_get_monotonic_time () < end)
      g_usleep (20 * 1000);
    if (io_threads > 1)
      fail_unless (n > 0, "no fan-out was spread: %s",
          diode_relay_get_stats_json (relay));
    else
      fail_unless_equals_uint64 (n, 0);
    fail_unless_equals_uint64 (fixture_stats_tx (relay, "io_threads"),
        io_threads);
  }

  for (i = 0; i < VIEWERS; i++)
    if (i != VIEWERS / 2)
      raw_free (v[i], FALSE);
  gst_harness_teardown (pub);
  g_free (hp);
  relay_free (relay);
}

GST_START_TEST (test_spread_two_threads)
{
  spread (2);
}

GST_END_TEST;

GST_START_TEST (test_spread_four_threads)
{
  spread (4);
}

GST_END_TEST;

GST_START_TEST (test_spread_one_thread)
{
  spread (1);
}

GST_END_TEST;

static Suite *
relay_spread_suite (void)
{
  Suite *s = suite_create ("relay-spread");
  TCase *tc = tcase_create ("spread");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_spread_two_threads);
  tcase_add_test (tc, test_spread_four_threads);
  tcase_add_test (tc, test_spread_one_thread);
  return s;
}

GST_CHECK_MAIN (relay_spread);
