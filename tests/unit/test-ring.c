/* gst-diode — unit tests: chunk ring and cursors
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include "diode-ring.h"

/* A fake frame: its first byte says what it is, the rest pads it. */
static GBytes *
frame (guint8 tag, gsize size)
{
  guint8 *d = g_malloc0 (size);
  d[0] = tag;
  return g_bytes_new_take (d, size);
}

static guint8
tag_of (GBytes * b)
{
  return ((const guint8 *) g_bytes_get_data (b, NULL))[0];
}

/* Push MEDIA frame @seq (tag = seq) with time seq * 100 ms. */
static void
push (DiodeRing * r, guint64 seq, gboolean key, gsize size)
{
  GBytes *f = frame ((guint8) seq, size);
  fail_unless (diode_ring_push_media (r, f, seq, seq * 100 * GST_MSECOND, key,
          FALSE, NULL));
  g_bytes_unref (f);
}

GST_START_TEST (test_join_at_latest_keyframe)
{
  DiodeRing *r = diode_ring_new (0, 0);
  DiodeCursor c;
  GBytes *caps = frame (200, 10), *f;

  diode_ring_push_caps (r, caps);
  push (r, 1, TRUE, 100);
  push (r, 2, FALSE, 100);
  push (r, 3, TRUE, 100);
  push (r, 4, FALSE, 100);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 2);

  diode_cursor_init (&c);
  diode_cursor_join (&c, r);
  /* caps first, then the latest keyframe and what follows */
  f = diode_cursor_next (&c, r, NULL);
  fail_unless_equals_int (tag_of (f), 200);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 3);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 4);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  /* live: new frames come through the same cursor, including a new chunk */
  push (r, 5, FALSE, 100);
  push (r, 6, TRUE, 100);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 5);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 6);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  fail_unless_equals_int (c.last_seq, 6);

  diode_cursor_clear (&c);
  diode_ring_free (r);
  g_bytes_unref (caps);
}

GST_END_TEST;

/* What a chunk of @n frames of @size bytes counts for. */
#define CHUNK_COST(n, size) \
  (DIODE_RING_CHUNK_OVERHEAD + (n) * DIODE_RING_FRAME_COST (size))

GST_START_TEST (test_byte_limit_evicts_whole_chunks)
{
  /* room for 5 chunks of 4 frames, so no chunk reaches half of it */
  const gsize limit = 5 * CHUNK_COST (4, 1000) + 100;
  DiodeRing *r = diode_ring_new (limit, 0);
  guint64 s;

  for (s = 1; s <= 40; s++)
    push (r, s, s % 4 == 1, 1000);
  /* at most the limit, whole chunks: 5 full chunks */
  fail_unless (diode_ring_get_bytes (r) <= limit);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 5);
  fail_unless_equals_int (diode_ring_get_bytes (r), 5 * CHUNK_COST (4, 1000));
  diode_ring_free (r);
}

GST_END_TEST;

/* Was test_newest_chunk_never_evicted: a chunk that grows to half the
 * limit without a keyframe goes on in a continuation chunk, so its
 * beginning can be evicted; joiners never start at a continuation. */
GST_START_TEST (test_long_chunk_continues)
{
  DiodeRing *r = diode_ring_new (2 * CHUNK_COST (2, 500), 0);
  DiodeCursor c, late;
  DiodeChunk *join;
  gboolean skipped;
  guint64 s;

  push (r, 1, TRUE, 500);
  push (r, 2, FALSE, 500);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 1);
  diode_cursor_init (&c);
  diode_cursor_join (&c, r);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 1);
  /* the keyframe chunk is full (half the limit): seq 3 continues */
  push (r, 3, FALSE, 500);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 2);
  join = diode_ring_join_chunk (r);
  fail_unless (join->keyframe && join->first_seq == 1);
  /* a reader passes from a chunk to its continuation without a skip */
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, &skipped)), 2);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, &skipped)), 3);
  fail_if (skipped);
  /* no keyframe ever again: the beginning goes, the ring stays bounded */
  for (s = 4; s <= 40; s++) {
    push (r, s, FALSE, 500);
    fail_unless (diode_ring_get_bytes (r) <= 2 * CHUNK_COST (2, 500)
        + DIODE_RING_FRAME_COST (500));
  }
  fail_unless (diode_ring_get_n_chunks (r) <= 3);
  /* nothing to join at: a joiner waits for the next keyframe... */
  fail_unless (diode_ring_join_chunk (r) == NULL);
  diode_cursor_init (&late);
  diode_cursor_join (&late, r);
  fail_unless (diode_cursor_next (&late, r, NULL) == NULL);
  /* ...as does a reader that fell out of the ring */
  fail_unless (diode_cursor_next (&c, r, &skipped) == NULL);
  fail_unless (skipped);
  push (r, 41, TRUE, 500);
  fail_unless_equals_int (tag_of (diode_cursor_next (&late, r, NULL)), 41);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 41);
  /* a seq inside a continuation can still be resumed from */
  fail_unless (diode_cursor_seek_seq (&late, r, 40));
  fail_unless_equals_int (tag_of (diode_cursor_next (&late, r, NULL)), 40);
  fail_unless_equals_int (tag_of (diode_cursor_next (&late, r, NULL)), 41);
  diode_cursor_clear (&c);
  diode_cursor_clear (&late);
  diode_ring_free (r);
}

GST_END_TEST;

GST_START_TEST (test_time_limit)
{
  DiodeRing *r = diode_ring_new (0, GST_SECOND);
  guint64 s;

  /* 100 ms per frame, keyframe every 5 frames: chunks of 0.5 s */
  for (s = 1; s <= 50; s++)
    push (r, s, s % 5 == 1, 10);
  fail_unless (diode_ring_get_n_chunks (r) <= 3);
  fail_unless (diode_ring_get_n_chunks (r) >= 2);
  diode_ring_free (r);
}

GST_END_TEST;

/* With a byte limit, time never cuts a chunk: a GOP longer than the time
 * limit stays whole and joinable at its keyframe. */
GST_START_TEST (test_long_gop_stays_joinable)
{
  DiodeRing *r = diode_ring_new (32 * 1024 * 1024, GST_SECOND);
  guint64 s;

  for (s = 1; s <= 30; s++)     /* 3 s at 100 ms, one keyframe */
    push (r, s, s == 1, 1000);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 1);
  fail_unless_equals_uint64 (diode_ring_join_chunk (r)->first_seq, 1);
  diode_ring_free (r);
}

GST_END_TEST;

GST_START_TEST (test_slow_cursor_skips_to_latest_keyframe)
{
  const gsize limit = 5 * CHUNK_COST (4, 1000) + 100;
  DiodeRing *r = diode_ring_new (limit, 0);
  DiodeCursor c;
  gboolean skipped = FALSE;
  GBytes *f;
  guint64 s;

  push (r, 1, TRUE, 1000);
  diode_cursor_init (&c);
  diode_cursor_join (&c, r);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, &skipped)), 1);
  fail_if (skipped);
  /* the viewer stalls while 30 frames go by */
  for (s = 2; s <= 31; s++)
    push (r, s, s % 4 == 1, 1000);
  f = diode_cursor_next (&c, r, &skipped);
  fail_unless (skipped);
  fail_unless_equals_int (c.skipped, 1);
  /* lands on the newest keyframe chunk (seq 29) */
  fail_unless_equals_int (tag_of (f), 29);
  /* the stalled cursor held at most one evicted chunk: the ring is bounded */
  fail_unless (diode_ring_get_bytes (r) <= limit);
  diode_cursor_clear (&c);
  diode_ring_free (r);
}

GST_END_TEST;

GST_START_TEST (test_headers_in_prelude)
{
  DiodeRing *r = diode_ring_new (0, 0);
  DiodeCursor c;
  GBytes *caps = frame (200, 10), *h1 = frame (201, 10), *h2 = frame (202, 10);

  diode_ring_push_caps (r, caps);
  fail_unless (diode_ring_push_media (r, h1, 1, G_MAXUINT64, FALSE, TRUE,
          NULL));
  fail_unless (diode_ring_push_media (r, h2, 2, G_MAXUINT64, FALSE, TRUE,
          NULL));
  push (r, 3, TRUE, 10);
  push (r, 4, FALSE, 10);
  push (r, 5, TRUE, 10);

  diode_cursor_init (&c);
  diode_cursor_join (&c, r);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 200);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 201);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 202);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 5);
  diode_cursor_clear (&c);
  diode_ring_free (r);
  g_bytes_unref (caps);
  g_bytes_unref (h1);
  g_bytes_unref (h2);
}

GST_END_TEST;

GST_START_TEST (test_cursor_before_first_chunk)
{
  DiodeRing *r = diode_ring_new (0, 0);
  DiodeCursor c;
  GBytes *caps = frame (200, 10);

  diode_cursor_init (&c);
  diode_cursor_join (&c, r);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  diode_ring_push_caps (r, caps);
  push (r, 1, TRUE, 10);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 200);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 1);
  diode_cursor_clear (&c);
  diode_ring_free (r);
  g_bytes_unref (caps);
}

GST_END_TEST;

GST_START_TEST (test_seek_seq_and_reset)
{
  DiodeRing *r = diode_ring_new (0, 0);
  DiodeCursor c;
  guint64 s;

  for (s = 1; s <= 10; s++)
    push (r, s, s % 3 == 1, 10);
  diode_cursor_init (&c);
  fail_unless (diode_cursor_seek_seq (&c, r, 5));
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 5);
  fail_if (diode_cursor_seek_seq (&c, r, 99));
  /* a new publisher: everything buffered goes, the cursor waits */
  diode_ring_reset (r);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  push (r, 1, TRUE, 10);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 1);
  diode_cursor_clear (&c);
  diode_ring_free (r);
}

GST_END_TEST;

/* A subscriber that has every frame joins after the last one: caps and
 * headers, then only what is pushed next (no repeated GOP). */
GST_START_TEST (test_seek_tail)
{
  DiodeRing *r = diode_ring_new (0, 0);
  GBytes *caps = g_bytes_new_static ("caps", 4);
  DiodeCursor c;
  guint64 s;

  diode_cursor_init (&c);
  fail_if (diode_cursor_seek_tail (&c, r));
  diode_ring_push_caps (r, caps);
  for (s = 1; s <= 20; s++)
    push (r, s, s % 10 == 1, 10);
  fail_unless (diode_cursor_seek_tail (&c, r));
  fail_unless (diode_cursor_next (&c, r, NULL) == caps);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  push (r, 21, FALSE, 10);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 21);
  /* the next keyframe opens a chunk: the cursor moves on without a prelude */
  push (r, 22, TRUE, 10);
  fail_unless_equals_int (tag_of (diode_cursor_next (&c, r, NULL)), 22);
  fail_unless (diode_cursor_next (&c, r, NULL) == NULL);
  diode_cursor_clear (&c);
  diode_ring_free (r);
  g_bytes_unref (caps);
}

GST_END_TEST;

/* Replay starts without a store (issue 10): chunks at seq 1, 4, 7, 10
 * (keyframes every 3 frames, 100 ms a frame), found by time and by wall
 * clock with every snap, the oldest as EARLIEST. */
static DiodeRing *
ring_of_four_gops (void)
{
  DiodeRing *r = diode_ring_new (0, 0);
  guint64 s;

  for (s = 1; s <= 12; s++)
    push (r, s, s % 3 == 1, 10);
  return r;
}

GST_START_TEST (test_find_time_snaps)
{
  DiodeRing *r = ring_of_four_gops ();
  const guint64 ms = GST_MSECOND;

  fail_unless_equals_int (diode_ring_get_n_chunks (r), 4);
  fail_unless_equals_int (diode_ring_earliest_chunk (r)->first_seq, 1);
  /* exactly on a keyframe: every snap lands on it */
  fail_unless_equals_int (diode_ring_find_time (r, 400 * ms,
          DIODE_RING_SNAP_BEFORE)->first_seq, 4);
  fail_unless_equals_int (diode_ring_find_time (r, 400 * ms,
          DIODE_RING_SNAP_AFTER)->first_seq, 4);
  fail_unless_equals_int (diode_ring_find_time (r, 400 * ms,
          DIODE_RING_SNAP_NEAREST)->first_seq, 4);
  /* between 700 and 1000 ms */
  fail_unless_equals_int (diode_ring_find_time (r, 800 * ms,
          DIODE_RING_SNAP_BEFORE)->first_seq, 7);
  fail_unless_equals_int (diode_ring_find_time (r, 800 * ms,
          DIODE_RING_SNAP_AFTER)->first_seq, 10);
  fail_unless_equals_int (diode_ring_find_time (r, 800 * ms,
          DIODE_RING_SNAP_NEAREST)->first_seq, 7);
  fail_unless_equals_int (diode_ring_find_time (r, 900 * ms,
          DIODE_RING_SNAP_NEAREST)->first_seq, 10);
  /* a tie goes to the earlier one */
  fail_unless_equals_int (diode_ring_find_time (r, 850 * ms,
          DIODE_RING_SNAP_NEAREST)->first_seq, 7);
  /* before the oldest: the oldest, whatever the snap */
  fail_unless_equals_int (diode_ring_find_time (r, 0,
          DIODE_RING_SNAP_BEFORE)->first_seq, 1);
  fail_unless_equals_int (diode_ring_find_time (r, 0,
          DIODE_RING_SNAP_AFTER)->first_seq, 1);
  /* after the newest keyframe: BEFORE/NEAREST the newest, AFTER none */
  fail_unless_equals_int (diode_ring_find_time (r, 5000 * ms,
          DIODE_RING_SNAP_BEFORE)->first_seq, 10);
  fail_unless_equals_int (diode_ring_find_time (r, 5000 * ms,
          DIODE_RING_SNAP_NEAREST)->first_seq, 10);
  fail_unless (diode_ring_find_time (r, 5000 * ms,
          DIODE_RING_SNAP_AFTER) == NULL);
  diode_ring_free (r);
}

GST_END_TEST;

GST_START_TEST (test_find_wall_and_earliest)
{
  DiodeRing *r = ring_of_four_gops ();
  DiodeChunk *c;
  DiodeCursor cur;
  guint64 base = 1000000000000ULL;
  guint i = 0;

  /* chunks are stamped when they start; give them known stamps 1 s apart */
  for (c = diode_ring_oldest_chunk (r); c; c = c->next)
    c->wall_us = base + (i++) * G_USEC_PER_SEC;
  fail_unless (diode_ring_newest_chunk (r)->wall_us == base + 3 *
      G_USEC_PER_SEC);
  fail_unless_equals_int (diode_ring_find_wall (r, base + 1500000,
          DIODE_RING_SNAP_BEFORE)->first_seq, 4);
  fail_unless_equals_int (diode_ring_find_wall (r, base + 1500000,
          DIODE_RING_SNAP_AFTER)->first_seq, 7);
  fail_unless_equals_int (diode_ring_find_wall (r, base + 1600000,
          DIODE_RING_SNAP_NEAREST)->first_seq, 7);
  fail_unless_equals_int (diode_ring_find_wall (r, 1,
          DIODE_RING_SNAP_BEFORE)->first_seq, 1);

  /* a chunk that starts with a delta frame is never a start: after an
   * eviction of the first keyframe chunk... simulated by a fresh ring that
   * begins without a keyframe */
  diode_ring_free (r);
  r = diode_ring_new (0, 0);
  push (r, 1, FALSE, 10);
  push (r, 2, FALSE, 10);
  fail_unless (diode_ring_earliest_chunk (r) == NULL);
  fail_unless (diode_ring_find_time (r, 0, DIODE_RING_SNAP_BEFORE) == NULL);
  push (r, 3, TRUE, 10);
  fail_unless_equals_int (diode_ring_earliest_chunk (r)->first_seq, 3);
  /* a cursor put there gets the whole chunk from its first frame */
  diode_cursor_init (&cur);
  fail_unless (diode_cursor_seek_seq (&cur, r,
          diode_ring_earliest_chunk (r)->first_seq));
  fail_unless_equals_int (tag_of (diode_cursor_next (&cur, r, NULL)), 3);
  diode_cursor_clear (&cur);
  diode_ring_free (r);
}

GST_END_TEST;

static Suite *
ring_suite (void)
{
  Suite *s = suite_create ("ring");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_join_at_latest_keyframe);
  tcase_add_test (tc, test_byte_limit_evicts_whole_chunks);
  tcase_add_test (tc, test_long_chunk_continues);
  tcase_add_test (tc, test_time_limit);
  tcase_add_test (tc, test_long_gop_stays_joinable);
  tcase_add_test (tc, test_slow_cursor_skips_to_latest_keyframe);
  tcase_add_test (tc, test_headers_in_prelude);
  tcase_add_test (tc, test_cursor_before_first_chunk);
  tcase_add_test (tc, test_seek_seq_and_reset);
  tcase_add_test (tc, test_seek_tail);
  tcase_add_test (tc, test_find_time_snaps);
  tcase_add_test (tc, test_find_wall_and_earliest);
  return s;
}

GST_CHECK_MAIN (ring);
