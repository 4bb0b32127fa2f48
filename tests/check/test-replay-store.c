/* gst-diode — the relay serves recordings from its store
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay", against in-process relays with a
 * store (store-dir) and raw clients speaking protocol version 3. The
 * recordings are made by the relay itself (RECORD, UPLOAD publishers), so
 * every chunk boundary is known (a keyframe every 5 frames). A replay
 * cursor serves stored chunks, moves onto the ring of a live stream, skips
 * damaged chunks; its memory is bounded; the stored policy decides who
 * sees a recording. RANGE and FETCH are checked frame by frame. Shared
 * helpers in replayharness.[ch].
 */
#include "replayharness.h"

#include <string.h>
#include <glib/gstdio.h>

/* A finished recording subscribed LIVE plays from its start (state
 * RECORDING) to its EOS, by v3 and by v1 viewers, and again after a
 * restart on the same directory. RANGE_OK: one span, state, owner. */
GST_START_TEST (test_store_finished_from_start)
{
  gchar *dir = tmp_store ();
  gchar *owner = raw_key_address ("pub.pem");
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  DiodeMsg m = { 0 };
  guint round;

  record_finished (relay, "film", 40);
  for (round = 0; round < 2; round++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");
    RawClient *v1 = raw_open (relay, 0, "viewer.pem");

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, diode_msg_encode_range ("film", 0));
    next_msg (v, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
    fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
    fail_unless (!g_ascii_strcasecmp (m.owner, owner));
    fail_unless_equals_int (m.n_spans, 1);
    fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
    fail_unless_equals_uint64 (m.spans[0].last_seq, 40);
    fail_unless_equals_uint64 (m.spans[0].first_time, 10 * MS);
    diode_msg_clear (&m);
    raw_send_frame (v, subscribe_at ("film", DIODE_START_LIVE, 0, 0));
    fail_unless_equals_uint64 (expect_play (v, 1, 1, DIODE_STREAM_RECORDING),
        10 * MS);
    expect_rest_and_eos (v, 2, 40);

    /* a version-1 viewer too: from the start, to EOS */
    hello_v (v1, DIODE_ROLE_VIEWER, 1);
    raw_send_frame (v1, diode_msg_encode_subscribe ("film", 0, 1000));
    next_msg (v1, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
    fail_unless_equals_uint64 (m.seq, 1);
    diode_msg_clear (&m);
    next_msg (v1, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
    diode_msg_clear (&m);
    expect_rest_and_eos (v1, 1, 40);
    raw_free (v, FALSE);
    raw_free (v1, FALSE);
    /* the same after a restart: finished recordings are known */
    relay_free (relay);
    relay = relay_with ("store-dir", dir, NULL);
  }
  relay_free (relay);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

/* Every start mode and snap in the store of a finished recording (1..40,
 * keyframes at 1, 6, ... 36, 10 ms a frame); each plays on to EOS. */
GST_START_TEST (test_store_start_modes)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
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
    {DIODE_START_TIME, 0, DIODE_SNAP_AFTER, 1},
    /* past the end of a finished recording: its last keyframe chunk */
    {DIODE_START_TIME, 10000 * MS, DIODE_SNAP_BEFORE, 36},
    {DIODE_START_BACK, 3600 * GST_SECOND, DIODE_SNAP_BEFORE, 1},
    {DIODE_START_WALLCLOCK, 1, DIODE_SNAP_BEFORE, 1},
  };
  guint i;

  record_finished (relay, "film", 40);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, subscribe_at ("film", cases[i].mode, cases[i].value,
            cases[i].snap));
    fail_unless_equals_uint64 (expect_play (v, cases[i].first,
            cases[i].first, DIODE_STREAM_RECORDING),
        cases[i].first * 10 * MS);
    expect_rest_and_eos (v, cases[i].first + 1, 40);
    raw_free (v, FALSE);
  }
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A live recording whose early chunks left the ring (a ring of a few
 * chunks): EARLIEST walks the stored chunks, then moves onto the ring and
 * on to live: every seq once, in order, then new frames as they come. */
GST_START_TEST (test_store_to_ring_no_gap)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "buffer-bytes",
      (guint64) 8000, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  gchar *json;

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  send_range (p, 1, 60, 5);
  wait_stored (p, 55, FALSE);   /* chunks up to 51..55 are durable */

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  /* the stored spans and the ring's overlap: one span, to the live edge */
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  fail_unless_equals_int (m.n_spans, 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[0].last_seq, 60);
  fail_unless_equals_uint64 (m.spans[0].end_time, 600 * MS);
  diode_msg_clear (&m);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  fail_unless_equals_uint64 (expect_play (v, 1, 60,
          DIODE_STREAM_LIVE_RECORDED), 10 * MS);
  /* it is a live viewer now: new frames reach it */
  send_range (p, 61, 70, 5);
  fail_unless_equals_uint64 (expect_play_more (v, 61, 70), 70);
  /* and it left the replay cursors */
  json = diode_relay_get_stats_json (relay);
  (void) json;
  g_free (json);
  fail_unless (fixture_wait_viewers (relay, "cam", 1, 2000));

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A byte flipped on disk in the chunk of seqs 11..15: never served. The
 * replay viewer gets 1..10, then (caps again) 16..40 and EOS: a gap in
 * its seqs; FETCH skips it too, the next CHUNK flagged DISCONT; the stats
 * count it. */
GST_START_TEST (test_store_damaged_chunk_skipped)
{
  gchar *dir = tmp_store ();
  /* name-grace-ms 1: the ended stream (and its ring) is forgotten at once,
   * so everything comes from the store */
  DiodeRelay *relay = relay_with ("store-dir", dir, "stats-interval-ms", 100,
      "name-grace-ms", 1, NULL);
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  DiodeMsg m = { 0 };
  guint64 next;
  guint8 status;
  guint i;
  gint damaged = 0;

  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_handler (NULL, G_LOG_LEVEL_WARNING, count_damaged, &damaged);
  record_finished (relay, "film", 40);
  fail_unless (flip_payload_byte (dir, 13), "seq 13 not found on disk");

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  expect_play (v, 1, 10, DIODE_STREAM_RECORDING);
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);      /* after the skip */
  diode_msg_clear (&m);
  expect_rest_and_eos (v, 16, 40);
  raw_free (v, FALSE);

  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("film", 1, 40, DIODE_RANGE_LOCAL));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_int (hdrs->len, 7);
  for (i = 0; i < hdrs->len; i++) {
    DiodeChunkHeader *h = &g_array_index (hdrs, DiodeChunkHeader, i);

    fail_unless (h->first_seq != 11, "the damaged chunk was sent");
    fail_unless_equals_int (! !(h->flags & DIODE_CHUNK_DISCONT),
        h->first_seq == 16);
  }
  fail_unless (g_array_index (hdrs, DiodeChunkHeader, 6).flags &
      DIODE_CHUNK_EOS);
  fail_unless_equals_int (seqs->len, 35);
  /* a FETCH of the damaged chunk alone: 106, the connection usable */
  raw_send_frame (v, diode_msg_encode_fetch ("film", 11, 15, 0));
  raw_expect_error_says (v, DIODE_ERR_STORE_FAILED, "FETCH damaged",
      "damaged", NULL);
  raw_send_frame (v, diode_msg_encode_range ("film", 0));
  raw_expect_next (v, DIODE_MSG_RANGE_OK, &m, "RANGE after 106");
  diode_msg_clear (&m);
  fail_unless (g_atomic_int_get (&damaged) > 0);
  fail_unless_equals_int (stats_replay (relay, "damaged"), 3);
  g_array_unref (hdrs);
  g_array_unref (seqs);
  raw_free (v, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* Memory flat: a viewer that stops reading a long recording makes the
 * relay hold at most its chunk and one read ahead (not the recording);
 * with the relay-wide bound at one byte, three viewers at once still get
 * everything (reads wait their turn). */
GST_START_TEST (test_store_memory_bounded)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  RawClient *slow, *v[3];
  DiodeMsg m = { 0 };
  const guint64 last = 400;
  gint64 held, chunk_cost;
  guint i;

  payload_size = 16 * 1024;
  relay = relay_with ("store-dir", dir, "stats-interval-ms", 100, NULL);
  record_finished (relay, "film", last);        /* 80 chunks, 6.4 MiB */
  chunk_cost = 5 * (payload_size + 1024) + 4096;

  slow = raw_open (relay, 4096, "viewer.pem");
  hello_v (slow, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (slow, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  next_msg (slow, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  diode_msg_clear (&m);
  /* it reads nothing more: the socket fills, the relay waits */
  g_usleep (500 * 1000);
  held = stats_replay (relay, "bytes");
  fail_unless (held > 0 && held <= 2 * chunk_cost, "a stalled replay "
      "viewer holds %" G_GINT64_FORMAT " bytes (2 chunks: %" G_GINT64_FORMAT
      ")", held, 2 * chunk_cost);
  fail_unless_equals_int (stats_replay (relay, "viewers"), 1);
  raw_free (slow, FALSE);
  fail_unless_equals_int (stats_replay (relay, "bytes"), 0);
  relay_free (relay);

  relay = relay_with ("store-dir", dir, "replay-bytes", (guint64) 1, NULL);
  /* a stalled viewer holds the whole (one-byte) bound: a FETCH waits for
   * it, and is answered once the viewer is gone */
  slow = raw_open (relay, 4096, "viewer.pem");
  hello_v (slow, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (slow, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  next_msg (slow, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  diode_msg_clear (&m);
  g_usleep (300 * 1000);
  v[0] = raw_open (relay, 0, "viewer.pem");
  hello_v (v[0], DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v[0], diode_msg_encode_fetch ("film", 1, 5, 0));
  fail_unless (raw_next (v[0], &m, 500) != RAW_READ_MSG,
      "FETCH answered over the replay bound (%s)",
      diode_msg_type_name (m.type));
  diode_msg_clear (&m);
  raw_free (slow, FALSE);
  next_msg (v[0], &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
  diode_msg_clear (&m);
  raw_free (v[0], FALSE);
  for (i = 0; i < 3; i++) {
    v[i] = raw_open (relay, 0, "viewer.pem");
    hello_v (v[i], DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v[i], subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  }
  /* read all three at once (one that is not read holds its chunk, and
   * the others wait for it: that is the bound) */
  {
    guint64 want[3] = { 0, 0, 0 };      /* 0: SUBSCRIBE_OK, 1: CAPS, ... */
    guint done = 0;
    gint64 end = deadline_in (30000);

    while (done < 3 && g_get_monotonic_time () < end) {
      for (i = 0; i < 3; i++) {
        if (want[i] > last + 2)
          continue;
        if (raw_next (v[i], &m, 20) != RAW_READ_MSG) {
          diode_msg_clear (&m);
          continue;
        }
        if (want[i] == 0) {
          fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
        } else if (want[i] == 1) {
          fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
        } else if (want[i] <= last + 1) {
          fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
          fail_unless_equals_uint64 (m.seq, want[i] - 1);
          fail_unless (payload_is (m.payload, m.seq));
        } else {
          fail_unless_equals_int (m.type, DIODE_MSG_EOS);
          done++;
        }
        want[i]++;
        diode_msg_clear (&m);
      }
    }
    fail_unless_equals_int (done, 3);
  }
  for (i = 0; i < 3; i++)
    raw_free (v[i], FALSE);
  relay_free (relay);
  payload_size = 64;
  g_free (dir);
}

GST_END_TEST;

/* A finished private recording, its publisher gone: the stored meta's
 * policy decides, exactly as SUBSCRIBE would (after a restart too): a
 * stranger gets 102 for RANGE, FETCH and SUBSCRIBE (with a start or LIVE);
 * the allowed viewer plays it and is not told the allowlist; an untrusted
 * relay gets 102, a trusted one the full allowlist. */
GST_START_TEST (test_store_policy)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  gchar *friend = raw_key_address ("friend.pem");
  gchar *relay2 = raw_key_address ("relay2.pem");
  const gchar *allow[] = { friend, NULL };
  RawClient *v, *ok, *rl;
  DiodeMsg m = { 0 };

  fail_unless_equals_uint64 (publish3_policy (p, "secret",
          DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD, DIODE_ACCESS_PRIVATE,
          allow), 1);
  send_range (p, 1, 10, 5);
  raw_send_frame (p, diode_msg_encode_eos (10));
  wait_stored (p, 10, TRUE);
  raw_free (p, FALSE);
  relay_free (relay);
  relay = relay_with ("store-dir", dir, NULL);

  v = raw_open (relay, 0, "stranger.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("secret", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE", NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("secret", 1, 10, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH", NULL);
  raw_send_frame (v, subscribe_at ("secret", DIODE_START_EARLIEST, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE start",
      NULL);
  raw_send_frame (v, subscribe_at ("secret", DIODE_START_LIVE, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE live",
      NULL);
  raw_free (v, FALSE);

  ok = raw_open (relay, 0, "friend.pem");
  hello_v (ok, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (ok, diode_msg_encode_range ("secret", 0));
  next_msg (ok, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless (m.allow == NULL || m.allow[0] == NULL);
  diode_msg_clear (&m);
  raw_send_frame (ok, subscribe_at ("secret", DIODE_START_LIVE, 0, 0));
  expect_play (ok, 1, 1, DIODE_STREAM_RECORDING);
  expect_rest_and_eos (ok, 2, 10);
  raw_free (ok, FALSE);

  rl = raw_open (relay, 0, "relay2.pem");
  hello_v (rl, DIODE_ROLE_RELAY, 3);
  raw_send_frame (rl, diode_msg_encode_range ("secret", 0));
  raw_expect_error_says (rl, DIODE_ERR_NOT_AUTHORIZED, "untrusted relay",
      "trusted", NULL);
  fixture_relay_conf_add (relay, "relays", "trusted", relay2);
  range_until_ok (rl, "secret", &m);
  fail_unless (m.allow && m.allow[0] && !m.allow[1]);
  fail_unless_equals_string (m.allow[0], friend);
  diode_msg_clear (&m);
  raw_free (rl, FALSE);

  relay_free (relay);
  g_free (friend);
  g_free (relay2);
  g_free (dir);
}

GST_END_TEST;

/* Stream headers: a recording that starts with two STREAMHEADER frames.
 * A replay from its second chunk gets CAPS, both header frames, then the
 * chunk: byte for byte the frames FETCH returns for that stored chunk. */
GST_START_TEST (test_store_prelude_exact)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *f = raw_open (relay, 0, "viewer.pem");
  GPtrArray *fetched = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  DiodeMsg m = { 0 };
  guint64 s;
  guint i, n_frames = 0;

  fail_unless_equals_uint64 (publish3 (p, "hdr", DIODE_PUBLISH_RECORD
          | DIODE_PUBLISH_UPLOAD), 1);
  for (s = 1; s <= 2; s++)
    raw_send_frame (p, diode_msg_encode_media (s, DIODE_TIME_NONE,
            DIODE_TIME_NONE, DIODE_TIME_NONE, 0, 0,
            DIODE_MEDIA_STREAMHEADER, (const guint8 *) "header", 6));
  for (s = 3; s <= 22; s++)     /* keyframes at 3, 8, 13, 18 */
    raw_send_frame (p, media_frame (s, (s - 3) % 5 == 0));
  raw_send_frame (p, diode_msg_encode_eos (22));
  wait_stored (p, 22, TRUE);
  raw_free (p, FALSE);

  /* the stored chunk of seqs 8..12, as FETCH gives it */
  hello_v (f, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (f, diode_msg_encode_fetch ("hdr", 8, 12, 0));
  next_msg (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
  fail_unless_equals_uint64 (m.chunk.first_seq, 8);
  fail_unless_equals_int (m.chunk.n_prelude, 3);        /* CAPS + 2 headers */
  n_frames = m.chunk.n_frames;
  diode_msg_clear (&m);
  for (i = 0; i < n_frames; i++) {
    next_msg (f, &m);
    g_ptr_array_add (fetched, g_bytes_ref (m.frame));
    diode_msg_clear (&m);
  }
  raw_expect_next (f, DIODE_MSG_FETCH_END, &m, "FETCH_END");
  diode_msg_clear (&m);

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("hdr", DIODE_START_TIME, 80 * MS,
          DIODE_SNAP_BEFORE));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 8);
  fail_unless_equals_uint64 (m.start_time, 80 * MS);
  diode_msg_clear (&m);
  for (i = 0; i < fetched->len; i++) {
    next_msg (v, &m);
    fail_unless (g_bytes_equal (m.frame, fetched->pdata[i]),
        "frame %u of the replay differs from the stored chunk", i);
    diode_msg_clear (&m);
  }
  /* the next chunk without its prelude */
  expect_rest_and_eos (v, 13, 22);

  g_ptr_array_unref (fetched);
  raw_free (v, FALSE);
  raw_free (f, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* Per FETCH at most 32 MiB of frames: chunks of one 1 MiB frame each come
 * as 31 (32 would pass the cap) then FETCH_END MORE; the rest after. */
GST_START_TEST (test_fetch_byte_cap)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  RawClient *v;
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next, total = 0;
  guint8 status;
  guint i;

  payload_size = 1024 * 1024;
  relay = relay_with ("store-dir", dir, NULL);
  {
    RawClient *p = raw_open (relay, 0, "pub.pem");

    fail_unless_equals_uint64 (publish3 (p, "big", DIODE_PUBLISH_RECORD
            | DIODE_PUBLISH_UPLOAD), 1);
    send_range (p, 1, 34, 1);
    raw_send_frame (p, diode_msg_encode_eos (34));
    wait_stored (p, 34, TRUE);
    raw_free (p, FALSE);
  }
  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("big", 1, 34, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_MORE);
  fail_unless_equals_int (hdrs->len, 31);
  for (i = 0; i < hdrs->len; i++)
    total += g_array_index (hdrs, DiodeChunkHeader, i).bytes;
  fail_unless (total <= DIODE_FETCH_MAX_BYTES);
  fail_unless_equals_uint64 (next, 32);
  g_array_unref (hdrs);
  raw_send_frame (v, diode_msg_encode_fetch ("big", next, 34, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_int (hdrs->len, 3);
  fail_unless_equals_int (seqs->len, 34);
  g_array_unref (hdrs);
  g_array_unref (seqs);
  raw_free (v, FALSE);
  relay_free (relay);
  payload_size = 64;
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_store_wall_starts)
{
  check_wall_starts (TRUE);
}

GST_END_TEST;

/* bytes + reserved of one fresh replay stats snapshot; *@held: bytes */
static gint64
replay_used (DiodeRelay * relay, gint64 * held)
{
  gchar *json;
  JsonParser *p = json_parser_new ();
  JsonObject *o;
  gint64 v;

  g_usleep (150 * 1000);        /* stats-interval-ms 100: a fresh one */
  json = diode_relay_get_stats_json (relay);
  fail_unless (json != NULL, "no stats snapshot");
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  o = json_object_get_object_member (json_node_get_object
      (json_parser_get_root (p)), "replay");
  fail_unless (o != NULL, "no replay member in the stats");
  *held = json_object_get_int_member (o, "bytes");
  v = *held + json_object_get_int_member_with_default (o, "reserved", 0);
  g_object_unref (p);
  g_free (json);
  return v;
}

/* The relay-wide replay bound holds against many clients that never read:
 * 50 SUBSCRIBE EARLIEST viewers and 50 FETCHes of a recording, with the
 * bound at 1 MiB. A read reserves its slot when it is dispatched (not
 * when it lands), the SUBSCRIBE's first read and every FETCH wait their
 * turn, so what is held (and reserved) never passes the bound by more than
 * one slot (a read's reservation: 1 MiB at least). Once they are gone, an
 * honest viewer gets the whole recording. */
GST_START_TEST (test_store_bound_many_stalled)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  RawClient *v[100], *honest;
  const guint64 last = 200, bound = 1024 * 1024;
  const gint64 slot = 1024 * 1024;     /* REPLAY_SLOT_MIN */
  gint64 held, used, max_held = 0, max_used = 0;
  guint i;

  payload_size = 32 * 1024;
  relay = relay_with ("store-dir", dir, "stats-interval-ms", 100,
      "replay-bytes", bound, NULL);
  record_finished (relay, "film", last);        /* 40 chunks of ~165 KiB */
  for (i = 0; i < G_N_ELEMENTS (v); i++) {
    v[i] = raw_open (relay, 4096, "viewer.pem");
    hello_v (v[i], DIODE_ROLE_VIEWER, 3);
  }
  /* all the requests at once: many reach the relay before any read lands */
  for (i = 0; i < G_N_ELEMENTS (v); i++) {
    if (i % 2)
      raw_send_frame (v[i], subscribe_at ("film", DIODE_START_EARLIEST, 0,
              0));
    else
      raw_send_frame (v[i], diode_msg_encode_fetch ("film", 1, last, 0));
  }
  /* none of them reads: sample what the relay holds for a while (at
   * least 12 samples, and on a slow machine, e.g. under ASan, until the
   * first reads have landed, 20 s at most) */
  {
    gint64 until = deadline_in (20000);

    for (i = 0; i < 12 || (max_held == 0 && g_get_monotonic_time () < until); i++) {
      used = replay_used (relay, &held);
      max_held = MAX (max_held, held);
      max_used = MAX (max_used, used);
    }
  }
  fail_unless (max_held > 0, "nothing was ever held");
  fail_unless (max_held <= (gint64) bound + slot, "100 stalled clients made "
      "the relay hold %" G_GINT64_FORMAT " bytes (bound %" G_GUINT64_FORMAT
      ")", max_held, bound);
  fail_unless (max_used <= (gint64) bound + slot, "held + reserved reached %"
      G_GINT64_FORMAT " (bound %" G_GUINT64_FORMAT ")", max_used, bound);
  fail_unless (stats_replay (relay, "waiting") > 0, "nobody waits its turn");
  for (i = 0; i < G_N_ELEMENTS (v); i++)
    raw_free (v[i], FALSE);
  fail_unless_equals_int (stats_replay (relay, "bytes"), 0);
  fail_unless_equals_int (stats_replay (relay, "reserved"), 0);

  honest = raw_open (relay, 0, "viewer.pem");
  hello_v (honest, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (honest, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  expect_play (honest, 1, 1, DIODE_STREAM_RECORDING);
  expect_rest_and_eos (honest, 2, last);
  raw_free (honest, FALSE);
  payload_size = 64;
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* The daemon's --replay-bytes reaches the relay (its stats say the bound)
 * and 0 is refused. */
GST_START_TEST (test_daemon_replay_bytes)
{
  gchar *stats = g_build_filename (fixture_config_dir (), "replay-stats.json",
      NULL);
  const gchar *args[] = { "--replay-bytes", "1234567", "--stats-file", stats,
    "--stats-interval", "1", NULL
  };
  FixtureRelayProc *proc;
  gchar *argv0 = (gchar *) DIODE_RELAY_PATH, *out = NULL;
  gchar *bad[] = { argv0, (gchar *) "--replay-bytes", (gchar *) "0", NULL };
  gint status = 0;
  gint64 end = deadline_in (5000);
  gboolean seen = FALSE;

  g_unlink (stats);
  proc = fixture_relay_proc_start (DIODE_RELAY_PATH, args);
  while (!seen && g_get_monotonic_time () < end) {
    gchar *json = NULL;

    if (g_file_get_contents (stats, &json, NULL, NULL))
      seen = strstr (json, "\"max_bytes\" : 1234567") != NULL
          || strstr (json, "\"max_bytes\":1234567") != NULL;
    g_free (json);
    if (!seen)
      g_usleep (100 * 1000);
  }
  fail_unless (seen, "the stats never showed replay max_bytes 1234567");
  fail_unless (fixture_relay_proc_stop (proc));

  fail_unless (g_spawn_sync (NULL, bad, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
          NULL, NULL, NULL, &out, &status, NULL));
  fail_if (g_spawn_check_wait_status (status, NULL));
  fail_unless (strstr (out, "--replay-bytes") != NULL, "%s", out);
  g_free (out);
  g_free (stats);
}

GST_END_TEST;

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Relay-side seek latency: 100 SUBSCRIBEs at random publisher times in a
 * finished recording of 600 GOPs (3 000 frames of 1 KiB), each on a
 * connection already past HELLO, timed from SUBSCRIBE sent to the first
 * MEDIA read (store find + read on the pool + the frames up to it).
 * Printed; the bound only catches a regression by orders of magnitude. */
GST_START_TEST (test_seek_latency)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  GArray *lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  GRand *rand = g_rand_new_with_seed (10);
  const guint64 last = 3000;
  guint i;

  payload_size = 1024;
  relay = relay_with ("store-dir", dir, NULL);
  record_finished (relay, "film", last);
  for (i = 0; i < 100; i++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");
    guint64 t = (guint64) g_rand_int_range (rand, 1, (gint) last) * 10 * MS;
    DiodeMsg m = { 0 };
    gint64 t0, dt;

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    t0 = g_get_monotonic_time ();
    raw_send_frame (v, subscribe_at ("film", DIODE_START_TIME, t,
            DIODE_SNAP_BEFORE));
    do {
      diode_msg_clear (&m);
      next_msg (v, &m);
    } while (m.type != DIODE_MSG_MEDIA);
    dt = g_get_monotonic_time () - t0;
    /* BEFORE: the keyframe at or before the target */
    fail_unless (m.seq * 10 * MS <= t && m.seq % 5 == 1);
    diode_msg_clear (&m);
    g_array_append_val (lat, dt);
    raw_free (v, FALSE);
  }
  g_array_sort (lat, cmp_i64);
  g_print ("seek (SUBSCRIBE TIME -> first MEDIA) over 100 seeks in %"
      G_GUINT64_FORMAT " stored chunks: p50 %.2f ms, p99 %.2f ms, max "
      "%.2f ms\n", last / 5, g_array_index (lat, gint64, 49) / 1000.0,
      g_array_index (lat, gint64, 98) / 1000.0,
      g_array_index (lat, gint64, 99) / 1000.0);
  fail_unless (g_array_index (lat, gint64, 49) < 1000 * 1000,
      "p50 seek over a second");
  g_array_unref (lat);
  g_rand_free (rand);
  relay_free (relay);
  payload_size = 64;
  g_free (dir);
}

GST_END_TEST;

/* A stream recorded here but with nothing stored yet (its publisher sent
 * only CAPS): a SUBSCRIBE with a start has nothing to start at and no
 * keyframe to join: 105, the connection usable. */
GST_START_TEST (test_store_nothing_stored_105)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  fail_unless (fixture_wait_publisher (relay, "cam", TRUE, 2000));
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_STORED, "start, nothing stored",
      "cam", NULL);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.n_spans, 0);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  diode_msg_clear (&m);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

static Suite *
replay_store_suite (void)
{
  Suite *s = suite_create ("replay-store");
  TCase *tc = tcase_create ("store");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_store_finished_from_start);
  tcase_add_test (tc, test_store_start_modes);
  tcase_add_test (tc, test_store_to_ring_no_gap);
  tcase_add_test (tc, test_store_damaged_chunk_skipped);
  tcase_add_test (tc, test_store_memory_bounded);
  tcase_add_test (tc, test_store_bound_many_stalled);
  tcase_add_test (tc, test_store_policy);
  tcase_add_test (tc, test_store_prelude_exact);
  tcase_add_test (tc, test_fetch_byte_cap);
  tcase_add_test (tc, test_store_wall_starts);
  tcase_add_test (tc, test_daemon_replay_bytes);
  tcase_add_test (tc, test_seek_latency);
  tcase_add_test (tc, test_store_nothing_stored_105);
  return s;
}

GST_CHECK_MAIN (replay_store);
