/* gst-diode — unit tests: the ring counts what it holds and stays bounded
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The publisher-side floods of the hardening issue, against the ring alone:
 * a stream that never sends a second keyframe, millions of empty MEDIA
 * frames, an endless stream header set. Memory really in use is read from
 * glibc (mallinfo2) where there is one, so "accounted >= real" is checked
 * against the allocator, not against our own arithmetic. Under
 * AddressSanitizer the allocator is ASan's and mallinfo2() says nothing:
 * those comparisons are skipped there, the accounting checks still run.
 */
#include <gst/check/gstcheck.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "diode-ring.h"
#include "diode-msg.h"

#define MIB (1024 * 1024)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#if defined(UNDER_ASAN) || !defined(__GLIBC__)
#define HAVE_HEAP_COUNT 0
#else
#define HAVE_HEAP_COUNT 1
#endif

/* Under ASan every allocation is several times slower: fewer tiny frames
 * there (still several times the ring's limit), the full counts elsewhere. */
#ifdef UNDER_ASAN
#define SMALL_FRAMES_SCALE 5
#else
#define SMALL_FRAMES_SCALE 1
#endif

/* Bytes the allocator has handed out and not got back (0 if unknown). */
static gsize
heap_in_use (void)
{
#if HAVE_HEAP_COUNT
  struct mallinfo2 mi = mallinfo2 ();

  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

/* A MEDIA frame as the relay's session hands it over: a copy of the
 * received bytes in a GBytes of its own (diode_session_next()). */
static GBytes *
media_frame (guint64 seq, gboolean key, const guint8 * data, gsize len)
{
  guint8 prefix[DIODE_MEDIA_PREFIX_SIZE];
  guint8 *buf = g_malloc (DIODE_MEDIA_PREFIX_SIZE + len);
  GBytes *frame;

  fail_unless (diode_msg_write_media_prefix (prefix, seq, seq, DIODE_TIME_NONE,
          1, G_MAXUINT64, G_MAXUINT64, key ? DIODE_MEDIA_KEYFRAME : 0, len));
  memcpy (buf, prefix, sizeof (prefix));
  if (data)
    memcpy (buf + sizeof (prefix), data, len);
  else
    memset (buf + sizeof (prefix), 0, len);
  frame = g_bytes_new (buf, DIODE_MEDIA_PREFIX_SIZE + len);
  g_free (buf);
  return frame;
}

static void
push_media (DiodeRing * r, guint64 seq, gboolean key, const guint8 * data,
    gsize len)
{
  GBytes *f = media_frame (seq, key, data, len);

  /* 40 ms per frame */
  fail_unless (diode_ring_push_media (r, f, seq, seq * 40 * GST_MSECOND, key,
          FALSE, NULL));
  g_bytes_unref (f);
}

/* The issue: "a publisher that never sends a second keyframe grows one
 * chunk forever (+200 MB)". 200 MB of 64 KiB frames after one keyframe
 * through the relay's default 32 MiB ring. */
GST_START_TEST (test_no_second_keyframe_bounded)
{
  const gsize limit = 32 * MIB, size = 64 * 1024;
  const gsize frame_cost = DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE
      + size);
  DiodeRing *r = diode_ring_new (limit, 0);
  guint8 *data = g_malloc0 (size);
  gsize heap0 = heap_in_use (), heap_max = 0, pushed = 0;
  guint64 seq = 0;
  DiodeCursor live;

  diode_cursor_init (&live);
  while (pushed < 200 * MIB) {
    seq++;
    push_media (r, seq, seq == 1, data, size);
    pushed += size;
    fail_unless (diode_ring_get_bytes (r) <= limit + frame_cost,
        "after %" G_GSIZE_FORMAT " MiB the ring counts %" G_GSIZE_FORMAT
        " bytes, limit %" G_GSIZE_FORMAT, pushed / MIB,
        diode_ring_get_bytes (r), limit);
    heap_max = MAX (heap_max, heap_in_use ());
    /* a viewer that keeps up reads every frame, continuation or not */
    if (seq == 1)
      diode_cursor_join (&live, r);
    while (diode_cursor_next (&live, r, NULL));
    fail_unless_equals_uint64 (live.last_seq, seq);
  }
  fail_unless_equals_uint64 (live.skipped, 0);
  g_print ("200 MiB without a 2nd keyframe: ring %" G_GSIZE_FORMAT " bytes in %u chunks; heap grew by at "
      "most %" G_GSIZE_FORMAT " bytes\n", diode_ring_get_bytes (r),
      diode_ring_get_n_chunks (r), heap_max - heap0);
  if (HAVE_HEAP_COUNT)
    fail_unless (heap_max - heap0 <= limit + 2 * frame_cost + MIB,
        "heap grew by %" G_GSIZE_FORMAT " bytes for a %" G_GSIZE_FORMAT
        "-byte ring", heap_max - heap0, limit);
  /* the keyframe chunk is long gone: a joiner waits for the next one */
  fail_unless (diode_ring_join_chunk (r) == NULL);
  push_media (r, ++seq, TRUE, data, size);
  fail_unless (diode_ring_join_chunk (r) != NULL);
  fail_unless_equals_uint64 (diode_ring_join_chunk (r)->first_seq, seq);
  diode_cursor_clear (&live);
  diode_ring_free (r);
  g_free (data);
}

GST_END_TEST;

/* The issue: "1.5 M empty MEDIA frames cost 3x the ring's accounted size".
 * First what N frames really cost against what the ring counts for them,
 * then 1.5 M of them through a bounded ring. */
GST_START_TEST (test_empty_frames_accounted)
{
  const guint n = 300000 / SMALL_FRAMES_SCALE;
  DiodeRing *r = diode_ring_new (0, 0);
  gsize heap0, used, counted;
  guint64 seq;

  heap0 = heap_in_use ();
  push_media (r, 1, TRUE, NULL, 0);
  for (seq = 2; seq <= n; seq++)
    push_media (r, seq, FALSE, NULL, 0);
  used = heap_in_use () - heap0;
  counted = diode_ring_get_bytes (r);
  /* what docs/architecture.md quotes for DIODE_RING_FRAME_OVERHEAD */
  g_print ("%u empty MEDIA frames of %d bytes: heap %" G_GSIZE_FORMAT
      " bytes (%.1f per frame), ring counts %" G_GSIZE_FORMAT
      " (%.1f per frame)\n", n, DIODE_MEDIA_PREFIX_SIZE, used,
      (double) used / n, counted, (double) counted / n);
  fail_unless (counted >= (gsize) n * DIODE_RING_FRAME_COST
      (DIODE_MEDIA_PREFIX_SIZE));
  if (HAVE_HEAP_COUNT)
    fail_unless (counted >= used, "the ring counts %" G_GSIZE_FORMAT
        " bytes for frames that use %" G_GSIZE_FORMAT, counted, used);
  diode_ring_free (r);
}

GST_END_TEST;

GST_START_TEST (test_empty_frame_flood_bounded)
{
  const gsize limit = 32 * MIB;
  const guint n = 1500000 / SMALL_FRAMES_SCALE;
  DiodeRing *r = diode_ring_new (limit, 0);
  gsize heap0 = heap_in_use (), heap_max = 0;
  guint64 seq;

  for (seq = 1; seq <= n; seq++) {
    push_media (r, seq, seq == 1, NULL, 0);
    if (diode_ring_get_bytes (r) > limit
        + DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE))
      fail ("after %" G_GUINT64_FORMAT " frames the ring counts %"
          G_GSIZE_FORMAT " bytes, limit %" G_GSIZE_FORMAT, seq,
          diode_ring_get_bytes (r), limit);
    if (seq % 1024 == 0)
      heap_max = MAX (heap_max, heap_in_use ());
  }
  g_print ("%u empty frames: ring %" G_GSIZE_FORMAT " bytes in %u chunks, "
      "heap grew by at most %" G_GSIZE_FORMAT "\n", n, diode_ring_get_bytes (r),
      diode_ring_get_n_chunks (r), heap_max - heap0);
  /* real memory follows the accounting (a little slack for the arrays'
   * doubling and the allocator's own lists) */
  if (HAVE_HEAP_COUNT)
    fail_unless (heap_max - heap0 <= limit + limit / 4,
        "heap grew by %" G_GSIZE_FORMAT " bytes for a %" G_GSIZE_FORMAT
        "-byte ring", heap_max - heap0, limit);
  diode_ring_free (r);
}

GST_END_TEST;

/* The issue: "STREAMHEADER frames are neither evicted nor counted (+100
 * MB)". A header set is counted, and refused past its cap; a refusal keeps
 * nothing and changes nothing. */
GST_START_TEST (test_streamheader_flood_refused)
{
  DiodeRing *r = diode_ring_new (32 * MIB, 0);
  guint8 *data = g_malloc0 (64 * 1024);
  GError *err = NULL;
  GBytes *f;
  guint64 seq = 0;
  gsize before;
  guint i;

  /* small headers: refused at the frame count */
  for (i = 0; i < DIODE_RING_MAX_HEADERS; i++) {
    f = media_frame (++seq, FALSE, data, 100);
    fail_unless (diode_ring_push_media (r, f, seq, G_MAXUINT64, FALSE, TRUE,
            &err), "header %u refused: %s", i, err ? err->message : "");
    g_bytes_unref (f);
  }
  fail_unless_equals_int (diode_ring_get_bytes (r), DIODE_RING_MAX_HEADERS
      * DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE + 100));
  before = diode_ring_get_bytes (r);
  f = media_frame (++seq, FALSE, data, 100);
  fail_if (diode_ring_push_media (r, f, seq, G_MAXUINT64, FALSE, TRUE, &err));
  g_bytes_unref (f);
  fail_unless (g_error_matches (err, DIODE_RING_ERROR,
          DIODE_RING_ERROR_HEADERS));
  GST_INFO ("refused: %s", err->message);
  g_clear_error (&err);
  fail_unless_equals_int (diode_ring_get_bytes (r), before);
  fail_unless_equals_uint64 (diode_ring_get_last_seq (r), seq - 1);

  /* a media frame closes the set; the next header starts a new one */
  push_media (r, seq, TRUE, data, 100);
  fail_unless_equals_int (diode_ring_get_n_chunks (r), 1);
  fail_unless_equals_int (diode_ring_join_chunk (r)->header_frames->len,
      DIODE_RING_MAX_HEADERS);

  /* big headers, in line in a live chunk: refused at the byte cap */
  for (i = 0;; i++) {
    f = media_frame (++seq, FALSE, data, 64 * 1024);
    if (!diode_ring_push_media (r, f, seq, G_MAXUINT64, FALSE, TRUE, &err)) {
      g_bytes_unref (f);
      break;
    }
    g_bytes_unref (f);
    fail_unless (i < DIODE_RING_MAX_HEADERS);
  }
  fail_unless (g_error_matches (err, DIODE_RING_ERROR,
          DIODE_RING_ERROR_HEADERS));
  g_clear_error (&err);
  fail_unless_equals_int (i, DIODE_RING_MAX_HEADER_BYTES
      / DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE + 64 * 1024));
  /* counted twice (the set, and in line in the chunk): never less than held */
  fail_unless (diode_ring_get_bytes (r) >= 2 * i
      * DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE + 64 * 1024));
  /* a reset forgets the set: a new publisher starts afresh */
  diode_ring_reset (r);
  fail_unless_equals_int (diode_ring_get_bytes (r), 0);
  f = media_frame (++seq, FALSE, data, 100);
  fail_unless (diode_ring_push_media (r, f, seq, G_MAXUINT64, FALSE, TRUE,
          NULL));
  g_bytes_unref (f);
  diode_ring_free (r);
  g_free (data);
}

GST_END_TEST;

/* Caps and the header set are counted even before the first chunk, when
 * nothing can be evicted yet. */
GST_START_TEST (test_caps_and_headers_counted)
{
  DiodeRing *r = diode_ring_new (0, 0);
  GBytes *caps = diode_msg_encode_caps ("video/x-h264");
  GBytes *caps2 = diode_msg_encode_caps ("video/x-h265");
  GBytes *h = media_frame (1, FALSE, NULL, 10);
  gsize c1 = DIODE_RING_FRAME_COST (g_bytes_get_size (caps));
  gsize c2 = DIODE_RING_FRAME_COST (g_bytes_get_size (caps2));

  diode_ring_push_caps (r, caps);
  fail_unless_equals_int (diode_ring_get_bytes (r), c1);
  /* replaced, not added */
  diode_ring_push_caps (r, caps2);
  fail_unless_equals_int (diode_ring_get_bytes (r), c2);
  fail_unless (diode_ring_push_media (r, h, 1, G_MAXUINT64, FALSE, TRUE,
          NULL));
  fail_unless_equals_int (diode_ring_get_bytes (r), c2
      + DIODE_RING_FRAME_COST (g_bytes_get_size (h)));
  diode_ring_reset (r);
  fail_unless_equals_int (diode_ring_get_bytes (r), 0);
  diode_ring_free (r);
  g_bytes_unref (caps);
  g_bytes_unref (caps2);
  g_bytes_unref (h);
}

GST_END_TEST;

/* A chunk that grows without a keyframe is also closed by time, so a
 * time-limited ring is bounded in time the same way. */
GST_START_TEST (test_no_second_keyframe_time_bounded)
{
  DiodeRing *r = diode_ring_new (0, 2 * GST_SECOND);
  guint64 seq;

  for (seq = 1; seq <= 3000; seq++) {   /* 2 minutes at 40 ms */
    push_media (r, seq, seq == 1, NULL, 10);
    fail_unless (diode_ring_get_n_chunks (r) <= 3);
  }
  /* 2 s kept, not 2 minutes: at most the limit + a half-limit chunk */
  fail_unless (diode_ring_get_bytes (r) <= 3 * DIODE_RING_CHUNK_OVERHEAD
      + 76 * DIODE_RING_FRAME_COST (DIODE_MEDIA_PREFIX_SIZE + 10));
  diode_ring_free (r);
}

GST_END_TEST;

static Suite *
ring_limits_suite (void)
{
  Suite *s = suite_create ("ring-limits");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_no_second_keyframe_bounded);
  tcase_add_test (tc, test_empty_frames_accounted);
  tcase_add_test (tc, test_empty_frame_flood_bounded);
  tcase_add_test (tc, test_streamheader_flood_refused);
  tcase_add_test (tc, test_caps_and_headers_counted);
  tcase_add_test (tc, test_no_second_keyframe_time_bounded);
  return s;
}

GST_CHECK_MAIN (ring_limits);
