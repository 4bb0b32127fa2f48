/* gst-diode — starts and resumes that need more than one place
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10 fixes (docs/decisions.md, "Recordings: replay and peer fixes"):
 * a SUBSCRIBE with a start while the store's writer still holds the chunks
 * (right after an EOS) starts where the store and the ring together say,
 * and a replay cursor goes from stored chunks onto an ended stream's ring
 * with no gap; a viewer resuming (start_seq) on a relay whose ring no
 * longer holds that seq is filled from the tiers (here a --peer that
 * recorded the stream) and then goes on with the ring, every seq once.
 * In-process relays, raw v3 clients, real TLS on 127.0.0.1.
 */
#include "replayharness.h"
#include "diode-relay-private.h"        /* relay->store */
#include "diode-store-private.h"        /* diode_store_pause_writer */

#include <string.h>

/* SUBSCRIBE_OK at @from, then (CAPS aside) MEDIA @from..@last, each once
 * and in order, then EOS. */
static void
expect_from_to_eos (RawClient * v, guint64 from, guint64 last)
{
  DiodeMsg m = { 0 };
  guint64 s = from;

  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, from);
  diode_msg_clear (&m);
  for (;;) {
    next_msg (v, &m);
    if (m.type == DIODE_MSG_EOS)
      break;
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless_equals_uint64 (m.seq, s);
      fail_unless (payload_is (m.payload, s));
      s++;
    } else {
      fail_unless (m.type == DIODE_MSG_CAPS, "unexpected %s",
          diode_msg_type_name (m.type));
    }
    diode_msg_clear (&m);
  }
  diode_msg_clear (&m);
  fail_unless_equals_uint64 (s, last + 1);
}

/* The store's writer held (its test hook) while a recording ends: nothing
 * of it is on disk yet, the ring has it all. EARLIEST starts at seq 1 (it
 * got the last keyframe, 56, before). Then with the first half written: the
 * cursor reads 1..30 from the store and takes 31..60 from the ring. */
GST_START_TEST (test_start_while_writer_holds_chunks)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *p2, *v2;

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  diode_store_pause_writer (relay->store, TRUE);
  send_range (p, 1, 60, 5);
  raw_send_frame (p, diode_msg_encode_eos (60));
  fail_unless (fixture_wait_last_seq (relay, "cam", 60, 5000));
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  expect_from_to_eos (v, 1, 60);
  raw_free (v, FALSE);
  diode_store_pause_writer (relay->store, FALSE);
  raw_free (p, FALSE);

  /* half written, half in the writer's queue */
  p2 = raw_open (relay, 0, "pub.pem");
  fail_unless_equals_uint64 (publish3 (p2, "cam2", DIODE_PUBLISH_RECORD), 1);
  send_range (p2, 1, 35, 5);
  wait_stored (p2, 30, FALSE);
  diode_store_pause_writer (relay->store, TRUE);
  send_range (p2, 36, 60, 5);
  raw_send_frame (p2, diode_msg_encode_eos (60));
  fail_unless (fixture_wait_last_seq (relay, "cam2", 60, 5000));
  v2 = raw_open (relay, 0, "viewer.pem");
  hello_v (v2, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v2, subscribe_at ("cam2", DIODE_START_EARLIEST, 0, 0));
  expect_from_to_eos (v2, 1, 60);
  raw_free (v2, FALSE);
  diode_store_pause_writer (relay->store, FALSE);
  raw_free (p2, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* Relay A records "cam" (1..60); relay B carries the same live stream
 * with a small ring (its own publisher, the same frames) and names A with
 * --peer. A viewer resuming on B at seq 11, long gone from B's ring, gets
 * 11..65 (A's stored chunks, then B's ring, then live), each once; before,
 * it joined B's latest keyframe. */
GST_START_TEST (test_resume_filled_from_peer)
{
  gchar *dir = tmp_store ();
  DiodeRelay *a = relay_with ("store-dir", dir, NULL);
  gchar *hp = diode_relay_get_hostport (a);
  gchar *spec[2] = { NULL, NULL };
  DiodeRelay *b;
  RawClient *pa = raw_open (a, 0, "pub.pem");
  RawClient *pb, *v;
  DiodeSubscribeArgs sa = { 0 };
  DiodeMsg m = { 0 };
  guint64 s = 11;
  gchar *bkey = g_build_filename (fixture_config_dir (), "relay-b.pem", NULL);
  GError *err = NULL;

  spec[0] = g_strdup_printf ("%s@%s", diode_relay_get_address (a), hp);
  /* another identity: a relay refuses itself as a peer */
  b = diode_relay_new ("127.0.0.1:0", bkey);
  g_object_set (b, "peers", spec, "buffer-bytes", (guint64) 4000, NULL);
  if (!diode_relay_start (b, &err))
    g_error ("cannot start relay: %s", err->message);
  fail_unless_equals_uint64 (publish3 (pa, "cam", DIODE_PUBLISH_RECORD), 1);
  send_range (pa, 1, 60, 5);
  /* STORED comes up to 5 s later: B's publisher starts after it, or its
   * keepalive (no PONG while we wait here) would close it */
  wait_stored (pa, 55, FALSE);
  pb = raw_open (b, 0, "pub.pem");
  fail_unless_equals_uint64 (publish (pb, "cam", DIODE_ACCESS_PUBLIC, NULL),
      1);
  send_range (pb, 1, 60, 5);
  fail_unless (fixture_wait_last_seq (b, "cam", 60, 5000));

  v = raw_open (b, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  sa.stream = "cam";
  sa.wait_ms = 2000;
  sa.start_mode = DIODE_START_LIVE;
  sa.start_seq = 11;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&sa, 3,
          DIODE_ROLE_VIEWER));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 11);
  diode_msg_clear (&m);
  while (s <= 60) {
    next_msg (v, &m);
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless_equals_uint64 (m.seq, s);
      fail_unless (payload_is (m.payload, s));
      s++;
    } else {
      fail_unless (m.type == DIODE_MSG_CAPS, "unexpected %s",
          diode_msg_type_name (m.type));
    }
    diode_msg_clear (&m);
  }
  /* on B's ring now: live frames follow */
  send_range (pb, 61, 65, 5);
  fail_unless_equals_uint64 (expect_play_more (v, 61, 65), 65);

  raw_free (v, FALSE);
  raw_free (pb, FALSE);
  raw_free (pa, FALSE);
  relay_free (b);
  relay_free (a);
  g_free (spec[0]);
  g_free (bkey);
  g_free (hp);
  g_free (dir);
}

GST_END_TEST;

static Suite *
replay_resume_suite (void)
{
  Suite *s = suite_create ("replay-resume");
  TCase *tc = tcase_create ("resume");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_start_while_writer_holds_chunks);
  tcase_add_test (tc, test_resume_filled_from_peer);
  return s;
}

GST_CHECK_MAIN (replay_resume);
