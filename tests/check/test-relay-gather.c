/* gst-diode — a viewer's backlog written in records filled across frames
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay writes a viewer that has more than one ring frame waiting in
 * TLS records filled across frame boundaries, through one buffer shared by
 * every viewer (diode-relay-conn.c, conn_send_ring), and finishes a record
 * that met a full socket later without giving its bytes again. What a
 * viewer receives must not depend on any of it. A joiner with GOPs of
 * mixed sizes behind it (tiny frames, frames at and around the 16 KiB
 * record size, frames of several records) gets every frame byte for byte,
 * whether it reads at once (diodesrc) or through a 4 KiB receive buffer
 * while another viewer is served (a raw client: its records meet AGAIN
 * while the other one's gathers reuse the shared buffer). The relay's
 * stats must show records that spanned frames. Real TLS, real sockets on
 * 127.0.0.1, every wait bounded, no timing asserted.
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
#define PULL_MS 5000

/* One GOP's sizes: the record is 16384 plaintext bytes and a MEDIA frame
 * adds its header and fields to the payload, so these land on both sides
 * of one, two and several records, with tiny ones in between. */
static const gsize sizes[] = {
  30000, 1, 7, 100, 16000, 16264, 16300, 16324, 16325, 16384, 5, 16500,
  32768, 3000, 40000, 12, 200000, 16250, 2, 65536,
};

#define GOP G_N_ELEMENTS (sizes)
/* GOPs pushed while the slow viewer does not read: ~6 MB, more than the
 * relay's socket can queue (net.ipv4.tcp_wmem's maximum, 4 MiB by
 * default), so its records meet AGAIN; its backlog stays under the limits
 * raised for it, and 13 GOPs of 20 frames 33 ms apart (8.6 s) under the
 * ring's 10 s. */
#define BLOCKED_GOPS 12

/* The @k-th MEDIA payload must be buffer @k's. */
static void
check_payload (GBytes * payload, guint k)
{
  gsize size, want = sizes[k % GOP];
  const guint8 *data = g_bytes_get_data (payload, &size);
  guint8 *expect = g_malloc (want);

  fail_unless_equals_uint64 (size, want);
  fixture_fill_payload (expect, want, k);
  fail_unless (memcmp (data, expect, want) == 0, "payload %u differs", k);
  g_free (expect);
}

static void
push_gop (GstHarness * pub, guint * pushed)
{
  guint k;

  for (k = 0; k < GOP; k++, (*pushed)++)
    fail_unless_equals_int (gst_harness_push (pub, fixture_make_buffer
            (*pushed, sizes[*pushed % GOP], GOP)), GST_FLOW_OK);
}

static void
pull_all (GstHarness * view, guint * pulled, guint pushed)
{
  for (; *pulled < pushed; (*pulled)++) {
    gint64 end = deadline_in (PULL_MS);
    GstBuffer *b;

    while (!(b = gst_harness_try_pull (view))) {
      fail_if (g_get_monotonic_time () > end, "buffer %u did not arrive",
          *pulled);
      g_usleep (2 * 1000);
    }
    fail_unless (fixture_payload_matches (b, *pulled, sizes[*pulled % GOP]),
        "diodesrc: buffer %u differs", *pulled);
    gst_buffer_unref (b);
  }
}

GST_START_TEST (test_backlog_gathered_same_bytes)
{
  DiodeRelay *relay = relay_with ("stats-interval-ms", 100,
      "viewer-soft-limit", (guint64) 64 * 1024 * 1024,
      "viewer-hard-limit", (guint64) 128 * 1024 * 1024, NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  GstHarness *pub, *view;
  GstElement *e;
  RawClient *slow;
  DiodeMsg m = { 0 };
  guint pushed = 0, pulled = 0, k = 0, g;
  gchar *wmem = NULL;
  guint64 wmem_max = 0;
  gboolean caps = FALSE;

  e = gst_element_factory_make ("diodesink", NULL);
  fail_unless (e != NULL);
  g_object_set (e, "relay", hp, "stream", "cam", NULL);
  pub = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (pub, CAPS_STR);
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (relay, "cam", TRUE, 5000));

  /* a whole GOP waits in the ring before anyone watches */
  push_gop (pub, &pushed);
  fail_unless (fixture_wait_last_seq (relay, "cam", pushed, 5000));

  /* the slow joiner: 4 KiB of receive buffer, not read for a while */
  slow = raw_open (relay, 4096, "slow.pem");
  raw_send_frame (slow, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "gather/0"));
  raw_expect (slow, DIODE_MSG_WELCOME, &m);
  diode_msg_clear (&m);
  raw_send_frame (slow, diode_msg_encode_subscribe ("cam", 0, 2000));
  raw_expect (slow, DIODE_MSG_SUBSCRIBE_OK, &m);
  diode_msg_clear (&m);

  /* the fast joiner: diodesrc starts at the GOP's keyframe too */
  e = gst_element_factory_make ("diodesrc", NULL);
  fail_unless (e != NULL);
  g_object_set (e, "relay", hp, "stream", "cam", "timeout", 5000, NULL);
  view = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (view);
  fail_unless (fixture_wait_viewers (relay, "cam", 2, 5000));
  pull_all (view, &pulled, pushed);

  /* more GOPs while the slow one stays blocked: the fast one's writes
   * reuse the buffer the slow one's pending record was made in */
  for (g = 0; g < BLOCKED_GOPS; g++) {
    push_gop (pub, &pushed);
    pull_all (view, &pulled, pushed);
  }

  /* now the slow one reads: CAPS, then every MEDIA from the first
   * keyframe on, in order, byte for byte */
  while (k < pushed) {
    fail_unless (raw_next (slow, &m, PULL_MS) == RAW_READ_MSG,
        "slow viewer: MEDIA %u did not arrive", k);
    if (m.type == DIODE_MSG_CAPS) {
      fail_if (caps || k > 0, "CAPS again after %u MEDIA", k);
      caps = TRUE;
    } else {
      fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
      fail_unless (caps, "MEDIA before CAPS");
      check_payload (m.payload, k);
      k++;
    }
    diode_msg_clear (&m);
  }

  /* records that took more than one frame were written (the snapshot
   * is at most a stats interval old) */
  {
    gint64 end = deadline_in (PULL_MS);

    while (fixture_stats_tx (relay, "gathered") == 0
        && g_get_monotonic_time () < end)
      g_usleep (20 * 1000);
    fail_unless (fixture_stats_tx (relay, "gathered") > 0, "no record "
        "spanned frames: %s", diode_relay_get_stats_json (relay));
    fail_unless (fixture_stats_tx (relay, "records") >=
        fixture_stats_tx (relay, "gathered"));
    GST_INFO ("tx: %" G_GUINT64_FORMAT " records, %" G_GUINT64_FORMAT
        " gathered, %" G_GUINT64_FORMAT " blocked",
        fixture_stats_tx (relay, "records"),
        fixture_stats_tx (relay, "gathered"),
        fixture_stats_tx (relay, "blocked"));
    /* the slow one did block (unless this kernel queues more than was
     * sent: then the AGAIN path was not exercised, say so) */
    if (g_file_get_contents ("/proc/sys/net/ipv4/tcp_wmem", &wmem, NULL,
            NULL)) {
      gchar **f = g_strsplit_set (g_strstrip (wmem), " \t", -1);

      if (g_strv_length (f) >= 3)
        wmem_max = g_ascii_strtoull (f[g_strv_length (f) - 1], NULL, 10);
      g_strfreev (f);
      g_free (wmem);
    }
    if (wmem_max && wmem_max <= 4 * 1024 * 1024)
      fail_unless (fixture_stats_tx (relay, "blocked") > 0, "the slow viewer "
          "never blocked the relay");
    else
      GST_WARNING ("tcp_wmem max %" G_GUINT64_FORMAT ": blocking not "
          "checked", wmem_max);
  }

  raw_free (slow, FALSE);
  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_free (hp);
  relay_free (relay);
}

GST_END_TEST;

static Suite *
relay_gather_suite (void)
{
  Suite *s = suite_create ("relay-gather");
  TCase *tc = tcase_create ("gather");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_backlog_gathered_same_bytes);
  return s;
}

GST_CHECK_MAIN (relay_gather);
