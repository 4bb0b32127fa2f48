/* gst-diode — the relay serves recordings without a store: the ring
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay", against in-process relays with raw
 * clients speaking protocol version 3 (real TLS on 127.0.0.1). Without a
 * store the relay starts a SUBSCRIBE in time from its ring, answers RANGE
 * with the ring's span and FETCH with its closed chunks; access and errors
 * as SUBSCRIBE. The store side is test-replay-store.c; shared helpers in
 * replayharness.[ch].
 */
#include "replayharness.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* without a store: the ring */

/* Every start mode and snap finds its keyframe chunk in the ring (seqs
 * 1..30, keyframes at 1, 6, 11, ... : 10 ms a frame). */
GST_START_TEST (test_ring_start_modes)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  struct
  {
    guint8 mode;
    guint64 value;
    guint8 snap;
    guint64 first;
  } cases[] = {
    {DIODE_START_EARLIEST, 0, DIODE_SNAP_BEFORE, 1},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_BEFORE, 11},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_AFTER, 16},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_NEAREST, 11},
    {DIODE_START_TIME, 140 * MS, DIODE_SNAP_NEAREST, 16},
    {DIODE_START_TIME, 160 * MS, DIODE_SNAP_AFTER, 16},
    {DIODE_START_TIME, 0, DIODE_SNAP_BEFORE, 1},
    /* past the newest keyframe: live (the latest keyframe, 26) */
    {DIODE_START_TIME, 10000 * MS, DIODE_SNAP_AFTER, 26},
    /* an hour back: older than everything, so the oldest */
    {DIODE_START_BACK, 3600 * GST_SECOND, DIODE_SNAP_BEFORE, 1},
    /* a wall clock before the stream: the oldest; after it: live */
    {DIODE_START_WALLCLOCK, 1, DIODE_SNAP_NEAREST, 1},
    {DIODE_START_WALLCLOCK, G_MAXINT64, DIODE_SNAP_AFTER, 26},
  };
  guint i;
  guint64 next;

  next = publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  fail_unless_equals_uint64 (next, 1);
  send_range (p, 1, 30, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 30, 2000));

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");
    guint64 t;

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, subscribe_at ("cam", cases[i].mode, cases[i].value,
            cases[i].snap));
    t = expect_play (v, cases[i].first, 30, DIODE_STREAM_LIVE);
    /* start_time: the publisher time of the keyframe it landed on */
    fail_unless_equals_uint64 (t, cases[i].first * 10 * MS);
    raw_free (v, FALSE);
  }
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A version-1 viewer gets the version-1 SUBSCRIBE_OK (no v3 block: its
 * parser sees no state), a v3 one the block; LIVE keeps today's start. */
GST_START_TEST (test_subscribe_ok_versions)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v1 = raw_open (relay, 0, "viewer.pem");
  RawClient *v3 = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  GBytes *ok;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 12, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 12, 2000));

  hello_v (v1, DIODE_ROLE_VIEWER, 1);
  raw_send_frame (v1, diode_msg_encode_subscribe ("cam", 0, 1000));
  next_msg (v1, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 11);
  /* exactly the version-1 frame */
  ok = diode_msg_encode_subscribe_ok_from ("cam", 11, m.publisher);
  fail_unless (g_bytes_equal (ok, m.frame), "v1 SUBSCRIBE_OK changed");
  g_bytes_unref (ok);
  diode_msg_clear (&m);

  hello_v (v3, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v3, subscribe_at ("cam", DIODE_START_LIVE, 0, 0));
  fail_unless_equals_uint64 (expect_play (v3, 11, 12, DIODE_STREAM_LIVE),
      110 * MS);

  raw_free (v1, FALSE);
  raw_free (v3, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* RANGE_OK of a live stream without a store: one span, the ring's, up to
 * the live edge; state LIVE; owner; the policy without its allowlist for
 * a viewer. */
GST_START_TEST (test_range_ring)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  gchar *viewer = raw_key_address ("viewer.pem");
  gchar *owner = raw_key_address ("pub.pem");
  const gchar *allow[] = { viewer, NULL };
  DiodeMsg m = { 0 };
  gint64 before = g_get_real_time ();

  publish (p, "cam", DIODE_ACCESS_PRIVATE, allow);
  send_range (p, 1, 20, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 20, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE);
  fail_unless_equals_string (m.owner, owner);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless (m.allow == NULL || m.allow[0] == NULL,
      "the allowlist was told to a viewer");
  fail_unless_equals_int (m.n_spans, 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[0].last_seq, 20);
  fail_unless_equals_uint64 (m.spans[0].first_time, 10 * MS);
  fail_unless_equals_uint64 (m.spans[0].end_time, 200 * MS);
  fail_unless (m.spans[0].wall_start_us >= (guint64) before - G_USEC_PER_SEC);
  fail_unless (m.spans[0].wall_end_us >= m.spans[0].wall_start_us);
  diode_msg_clear (&m);

  /* back in READY: SUBSCRIBE on the same connection */
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  expect_play (v, 1, 20, DIODE_STREAM_LIVE);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  g_free (viewer);
  g_free (owner);
  relay_free (relay);
}

GST_END_TEST;

/* FETCH from the ring: closed chunks only (the open one is still
 * growing), every MEDIA once, in order; then FETCH_END DONE, next_seq
 * the open chunk's first seq. A range with nothing held: NONE. */
GST_START_TEST (test_fetch_ring)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next, s;
  guint8 status;
  guint i;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 23, 5);     /* chunks 1, 6, 11, 16 closed; 21 open */
  fail_unless (fixture_wait_last_seq (relay, "cam", 23, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 3, 100, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_uint64 (next, 21);
  fail_unless_equals_int (hdrs->len, 4);
  for (i = 0; i < hdrs->len; i++) {
    DiodeChunkHeader *h = &g_array_index (hdrs, DiodeChunkHeader, i);

    fail_unless_equals_uint64 (h->first_seq, 1 + 5 * i);
    fail_unless_equals_uint64 (h->last_seq, 5 + 5 * i);
    fail_unless_equals_uint64 (h->time, (1 + 5 * i) * 10 * MS);
    fail_unless (h->flags & DIODE_CHUNK_KEYFRAME);
    fail_unless_equals_int (h->n_prelude, 1);   /* the CAPS */
  }
  for (s = 1; s <= 20; s++)
    fail_unless_equals_uint64 (g_array_index (seqs, guint64, s - 1), s);
  g_array_unref (hdrs);

  /* nothing held there */
  g_array_set_size (seqs, 0);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1000, 2000, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_NONE);
  fail_unless_equals_int (hdrs->len, 0);
  g_array_unref (hdrs);

  g_array_unref (seqs);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Per FETCH at most 64 chunks: 70 closed chunks come as 64 + MORE, then
 * the rest + DONE from next_seq. */
GST_START_TEST (test_fetch_cap_more)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next;
  guint8 status;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 71, 1);     /* every frame a keyframe: 70 closed */
  fail_unless (fixture_wait_last_seq (relay, "cam", 71, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, 70, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (hdrs->len, DIODE_FETCH_MAX_CHUNKS);
  fail_unless_equals_int (status, DIODE_FETCH_MORE);
  fail_unless_equals_uint64 (next, 65);
  g_array_unref (hdrs);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", next, 70, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (hdrs->len, 6);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_uint64 (next, 71);
  fail_unless_equals_int (seqs->len, 70);
  g_array_unref (hdrs);

  g_array_unref (seqs);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Errors and access, exactly as SUBSCRIBE: 100 for a name nobody has, 103
 * for a bad name, 102 for a private stream the viewer is not allowed
 * (RANGE, FETCH, SUBSCRIBE with a start), and for an untrusted relay; a
 * trusted relay gets the full allowlist in RANGE_OK. The connection stays
 * usable after each refusal. */
GST_START_TEST (test_errors_and_access)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "stranger.pem");
  RawClient *rl = raw_open (relay, 0, "relay2.pem");
  gchar *friend = raw_key_address ("friend.pem");
  gchar *relay2 = raw_key_address ("relay2.pem");
  const gchar *allow[] = { friend, NULL };
  DiodeMsg m = { 0 };

  publish (p, "cam", DIODE_ACCESS_PRIVATE, allow);
  send_range (p, 1, 10, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 10, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("nobody", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_FOUND, "RANGE unknown", "nobody",
      NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("nobody", 1, 5, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_FOUND, "FETCH unknown", NULL);
  raw_send_frame (v, diode_msg_encode_range (" cam", 0));
  raw_expect_error_says (v, DIODE_ERR_BAD_NAME, "RANGE bad name", NULL);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE private", NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, 5, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH private", NULL);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE private",
      NULL);

  /* a relay: refused while untrusted, then told everything */
  hello_v (rl, DIODE_ROLE_RELAY, 3);
  raw_send_frame (rl, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (rl, DIODE_ERR_NOT_AUTHORIZED, "untrusted relay",
      "trusted", NULL);
  fixture_relay_conf_add (relay, "relays", "trusted", relay2);
  range_until_ok (rl, "cam", &m);
  fail_unless (m.allow && m.allow[0]);
  fail_unless_equals_string (m.allow[0], friend);
  fail_unless (m.allow[1] == NULL);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (rl, FALSE);
  raw_free (p, FALSE);
  g_free (friend);
  g_free (relay2);
  relay_free (relay);
}

GST_END_TEST;

GST_START_TEST (test_ring_wall_starts)
{
  check_wall_starts (FALSE);
}

GST_END_TEST;

static Suite *
replay_suite (void)
{
  Suite *s = suite_create ("replay");
  TCase *tc = tcase_create ("ring");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_ring_start_modes);
  tcase_add_test (tc, test_subscribe_ok_versions);
  tcase_add_test (tc, test_range_ring);
  tcase_add_test (tc, test_fetch_ring);
  tcase_add_test (tc, test_fetch_cap_more);
  tcase_add_test (tc, test_errors_and_access);
  tcase_add_test (tc, test_ring_wall_starts);
  return s;
}

GST_CHECK_MAIN (replay);
