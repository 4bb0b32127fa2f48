/* gst-diode — unit tests of the chunk store: record layout, append/read,
 * find, spans, meta, reopen, damage, retention, queue bound, sync, memory
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real files in a temporary directory; no mocks. The crash-cut sweep over
 * every byte offset and the disk-full test are in test-store-crash.c.
 */
#include "storecheck.h"

#include <string.h>
#include <glib/gstdio.h>

#define KEY "cam"
#define WALL0 G_GUINT64_CONSTANT (1700000000000000)

/* --- record layout --- */

static void
test_record_roundtrip (void)
{
  DiodeStoredChunk *c = sc_chunk (10, 14, 300, WALL0, TRUE), *p;
  GBytes *rec = diode_chunkrec_serialize (c);
  gsize len;
  const guint8 *d = g_bytes_get_data (rec, &len);
  GError *err = NULL;

  g_assert_true (diode_stored_chunk_verify (c, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (len, ==, DIODE_CHUNKREC_HEAD_SIZE + c->hdr.bytes);
  /* the chunk header is the CHUNK frame's payload, byte for byte */
  {
    GBytes *frame = diode_msg_encode_chunk (&c->hdr);
    gsize flen;
    const guint8 *f = g_bytes_get_data (frame, &flen);

    g_assert_cmpuint (flen, ==, DIODE_FRAME_HEADER_SIZE + DIODE_CHUNK_HEADER_SIZE);
    g_assert_cmpmem (f + DIODE_FRAME_HEADER_SIZE, DIODE_CHUNK_HEADER_SIZE,
        d + DIODE_CHUNKREC_PREFIX_SIZE, DIODE_CHUNK_HEADER_SIZE);
    g_bytes_unref (frame);
  }
  p = diode_chunkrec_parse (d, len, &err);
  g_assert_no_error (err);
  g_assert_true (sc_chunk_equal (c, p));
  g_assert_cmpuint (p->hdr.n_prelude, ==, 1);
  g_assert_cmpuint (p->hdr.n_frames, ==, 6);
  g_assert_cmpuint (diode_stored_chunk_cost (p), >=, p->hdr.bytes);
  diode_stored_chunk_unref (p);
  g_bytes_unref (rec);
  diode_stored_chunk_unref (c);
}

/* Every single flipped byte of a record is caught: in the head by the head
 * CRC, in the frames by the chunk CRC; nothing of it is returned. */
static void
test_record_flip_every_byte (void)
{
  DiodeStoredChunk *c = sc_chunk (1, 3, 50, WALL0, TRUE);
  GBytes *rec = diode_chunkrec_serialize (c);
  gsize len, i;
  guint8 *d = g_bytes_unref_to_data (rec, &len);

  for (i = 0; i < len; i++) {
    GError *err = NULL;
    DiodeStoredChunk *p;

    d[i] ^= 0x10;
    p = diode_chunkrec_parse (d, len, &err);
    g_assert_null (p);
    g_assert_true (g_error_matches (err, DIODE_STORE_ERROR,
            i < DIODE_CHUNKREC_HEAD_SIZE ? DIODE_STORE_ERROR_INVALID : DIODE_STORE_ERROR_DAMAGED));
    g_clear_error (&err);
    d[i] ^= 0x10;
  }
  g_free (d);
  diode_stored_chunk_unref (c);
}

/* Headers claiming absurd sizes are refused from the header alone. */
static void
test_record_absurd_header (void)
{
  DiodeChunkHeader h = { 1, 1, 0, 0, 0, 1, 0, 1, 16, 0 };
  DiodeChunkHeader bad;
  guint8 head[DIODE_CHUNKREC_HEAD_SIZE];
  GError *err = NULL;

  g_assert_true (diode_chunkrec_check_header (&h, NULL));
  bad = h; bad.bytes = DIODE_MAX_CHUNK_BYTES + 1;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.bytes = G_MAXUINT32;
  diode_chunkrec_write_head (&bad, head);
  /* a well-formed head (its CRC checks) claiming 4 GiB: refused */
  g_assert_false (diode_chunkrec_parse_head (head, &bad, &err));
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID);
  g_clear_error (&err);
  bad = h; bad.n_frames = DIODE_MAX_CHUNK_FRAMES + 1; bad.bytes = DIODE_MAX_CHUNK_BYTES;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.n_frames = 0;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.n_prelude = 2;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.n_frames = 3;        /* 3 frames cannot fit in 16 bytes */
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.first_seq = 0;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.first_seq = 5; bad.last_seq = 4;
  g_assert_false (diode_chunkrec_check_header (&bad, NULL));
  bad = h; bad.flags = 0x80;        /* unknown flags are ignored, as in CHUNK */
  g_assert_true (diode_chunkrec_check_header (&bad, NULL));
}

/* A closed ring chunk: prelude = caps + header set, flags, CRC, EOS. */
static void
test_from_ring (void)
{
  DiodeRing *r = diode_ring_new (0, 0);
  GBytes *caps = diode_msg_encode_caps ("video/x-h264");
  guint8 pl[20] = { 1, 2, 3 };
  GBytes *hdr = diode_msg_encode_media (1, 0, 0, 0, DIODE_TIME_NONE, DIODE_TIME_NONE,
      DIODE_MEDIA_HEADER | DIODE_MEDIA_STREAMHEADER, pl, sizeof pl);
  DiodeChunk *rc;
  DiodeStoredChunk *sc;
  GError *err = NULL;
  guint64 seq;
  guint idx;

  diode_ring_push_caps (r, caps);
  g_assert_true (diode_ring_push_media (r, hdr, 1, DIODE_TIME_NONE, FALSE, TRUE, NULL));
  for (seq = 2; seq <= 11; seq++) {
    GBytes *m = diode_msg_encode_media (seq, seq * 1000, seq * 1000, 1000, DIODE_TIME_NONE,
        DIODE_TIME_NONE, (seq % 5 == 2) ? DIODE_MEDIA_KEYFRAME : 0, pl, sizeof pl);

    g_assert_true (diode_ring_push_media (r, m, seq, seq * 1000, seq % 5 == 2, FALSE, NULL));
    g_bytes_unref (m);
  }
  {
    GBytes *eos = diode_msg_encode_eos (11);

    diode_ring_push_other (r, eos);
    g_bytes_unref (eos);
  }
  /* chunks: [1 (header only)], [2..6], [7..11 + EOS] */
  g_assert_true (diode_ring_find_seq (r, 4, &rc, &idx));
  sc = diode_stored_chunk_new_from_ring (rc, WALL0, TRUE);
  g_assert_true (diode_stored_chunk_verify (sc, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (sc->hdr.first_seq, ==, 2);
  g_assert_cmpuint (sc->hdr.last_seq, ==, 6);
  g_assert_cmpuint (sc->hdr.time, ==, 2000);
  g_assert_cmpuint (sc->hdr.wall_us, ==, WALL0);
  g_assert_cmpuint (sc->hdr.n_prelude, ==, 2);     /* caps + the header frame */
  g_assert_cmpuint (sc->hdr.n_frames, ==, 7);
  g_assert_cmpuint (sc->hdr.flags, ==, DIODE_CHUNK_KEYFRAME | DIODE_CHUNK_DISCONT);
  g_assert_true (g_bytes_equal (g_ptr_array_index (sc->frames, 0), caps));
  g_assert_true (g_bytes_equal (g_ptr_array_index (sc->frames, 1), hdr));
  diode_stored_chunk_unref (sc);
  g_assert_true (diode_ring_find_seq (r, 11, &rc, &idx));
  sc = diode_stored_chunk_new_from_ring (rc, WALL0, FALSE);
  g_assert_true (diode_stored_chunk_verify (sc, NULL));
  g_assert_cmpuint (sc->hdr.flags, ==, DIODE_CHUNK_KEYFRAME | DIODE_CHUNK_EOS);
  g_assert_cmpuint (sc->hdr.last_seq, ==, 11);
  /* a frame changed after the fact: verify catches it */
  g_bytes_unref (g_ptr_array_index (sc->frames, 3));
  g_ptr_array_index (sc->frames, 3) = g_bytes_ref (caps);
  g_assert_false (diode_stored_chunk_verify (sc, &err));
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED);
  g_clear_error (&err);
  diode_stored_chunk_unref (sc);
  g_bytes_unref (caps);
  g_bytes_unref (hdr);
  diode_ring_free (r);
}

/* The header's seqs and times against the frames it carries: a chunk
 * with a right count, bytes and CRC whose header claims other seqs (a
 * forged range from a peer) is refused as INVALID. */
static DiodeStoredChunk *
with_header (const DiodeStoredChunk *c, guint64 first, guint64 last, guint64 time,
    guint64 end_time)
{
  DiodeChunkHeader h = c->hdr;
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  guint i;

  for (i = 0; i < c->frames->len; i++)
    g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (c->frames, i)));
  h.first_seq = first;
  h.last_seq = last;
  h.time = time;
  h.end_time = end_time;
  return diode_stored_chunk_new (&h, frames);
}

static void
expect_invalid (DiodeStoredChunk *c)
{
  GError *err = NULL;

  g_assert_false (diode_stored_chunk_verify (c, &err));
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID);
  g_clear_error (&err);
  diode_stored_chunk_unref (c);
}

static void
test_record_verify_seqs (void)
{
  DiodeStoredChunk *c = sc_chunk (10, 14, 50, WALL0, TRUE), *x;
  guint64 t = c->hdr.time, e = c->hdr.end_time;
  GPtrArray *frames;
  DiodeChunkHeader h;
  guint i;

  g_assert_true (diode_stored_chunk_verify (c, NULL));
  /* the attack: one chunk claiming the rest of the seq space */
  expect_invalid (with_header (c, 10, G_MAXUINT64, t, e));
  expect_invalid (with_header (c, 1, G_MAXUINT64, t, e));
  /* a range wider or narrower than its MEDIA frames, either end */
  expect_invalid (with_header (c, 9, 14, t, e));
  expect_invalid (with_header (c, 11, 14, t, e));
  expect_invalid (with_header (c, 10, 15, t, e));
  expect_invalid (with_header (c, 10, 13, t, e));
  /* times running backwards; an unknown end is fine */
  expect_invalid (with_header (c, 10, 14, e, t));
  x = with_header (c, 10, 14, t, G_MAXUINT64);
  g_assert_true (diode_stored_chunk_verify (x, NULL));
  diode_stored_chunk_unref (x);
  /* the header check alone refuses a last seq nothing can follow */
  h = c->hdr;
  h.last_seq = G_MAXUINT64;
  g_assert_false (diode_chunkrec_check_header (&h, NULL));

  /* MEDIA out of order (CRC, count and bytes recomputed: intact bytes) */
  frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (i = 0; i < c->frames->len; i++)
    g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (c->frames,
                i == 2 ? 3 : i == 3 ? 2 : i)));
  h = c->hdr;
  h.crc = 0;
  for (i = 0; i < frames->len; i++)
    h.crc = diode_chunk_crc (h.crc, g_ptr_array_index (frames, i));
  expect_invalid (diode_stored_chunk_new (&h, frames));
  /* a chunk with no MEDIA after its prelude */
  frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (c->frames, 0)));
  g_ptr_array_add (frames, diode_msg_encode_eos (14));
  h = c->hdr;
  h.n_frames = 2;
  h.bytes = 0;
  h.crc = 0;
  for (i = 0; i < frames->len; i++) {
    h.bytes += g_bytes_get_size (g_ptr_array_index (frames, i));
    h.crc = diode_chunk_crc (h.crc, g_ptr_array_index (frames, i));
  }
  expect_invalid (diode_stored_chunk_new (&h, frames));
  diode_stored_chunk_unref (c);
}

/* The CRC kept up frame by frame as the chunk grows (what the recorder
 * does, diode_ring_crc_update) joined with the prelude's at close is the
 * CRC computed from scratch, prelude or not; a kept CRC over more frames
 * than the chunk has is not used. */
static void
test_from_ring_crc_kept (void)
{
  DiodeRing *r = diode_ring_new (0, 0);
  GBytes *caps = diode_msg_encode_caps ("video/x-h264");
  guint8 pl[300];
  DiodeRingCrc kept = { 0, }, bad = { 0, };
  DiodeChunk *rc = NULL;
  DiodeStoredChunk *a, *b, *c;
  guint64 seq;
  guint idx;

  for (idx = 0; idx < sizeof pl; idx++)
    pl[idx] = (guint8) (idx * 7);
  diode_ring_push_caps (r, caps);
  for (seq = 1; seq <= 8; seq++) {
    GBytes *m = diode_msg_encode_media (seq, seq * 1000, seq * 1000, 1000, DIODE_TIME_NONE,
        DIODE_TIME_NONE, seq == 1 ? DIODE_MEDIA_KEYFRAME : 0, pl, sizeof pl - seq);

    g_assert_true (diode_ring_push_media (r, m, seq, seq * 1000, seq == 1, FALSE, NULL));
    g_bytes_unref (m);
    rc = diode_ring_newest_chunk (r);
    /* kept up to the 5th frame only: the rest is computed at close */
    if (seq <= 5)
      diode_ring_crc_update (&kept, rc);
  }
  g_assert_cmpuint (kept.n, ==, 5);
  a = diode_stored_chunk_new_from_ring (rc, WALL0, FALSE);
  b = diode_stored_chunk_new_from_ring_crc (rc, WALL0, FALSE, &kept);
  g_assert_cmpuint (a->hdr.n_prelude, ==, 1);
  g_assert_cmpuint (b->hdr.crc, ==, a->hdr.crc);
  g_assert_cmpuint (b->hdr.bytes, ==, a->hdr.bytes);
  g_assert_true (diode_stored_chunk_verify (b, NULL));
  diode_ring_crc_update (&kept, rc);
  g_assert_cmpuint (kept.n, ==, 8);
  diode_stored_chunk_unref (b);
  b = diode_stored_chunk_new_from_ring_crc (rc, WALL0, FALSE, &kept);
  g_assert_cmpuint (b->hdr.crc, ==, a->hdr.crc);
  bad.n = 9;
  bad.crc = 0x12345678;
  bad.len = 1;
  c = diode_stored_chunk_new_from_ring_crc (rc, WALL0, FALSE, &bad);
  g_assert_cmpuint (c->hdr.crc, ==, a->hdr.crc);
  diode_stored_chunk_unref (a);
  diode_stored_chunk_unref (b);
  diode_stored_chunk_unref (c);
  g_bytes_unref (caps);
  diode_ring_free (r);
}

/* --- the store --- */

static void
begin (DiodeStore *s, const gchar *key)
{
  DiodeStoreMeta m;
  GError *err = NULL;

  sc_meta (&m, key);
  g_assert_true (diode_store_begin (s, key, &m, &err));
  g_assert_no_error (err);
  diode_store_meta_clear (&m);
}

static void
check_read (DiodeStore *s, const gchar *key, guint64 seq, guint64 want_first, guint64 want_last)
{
  GError *err = NULL;
  DiodeStoredChunk *c = diode_store_read (s, key, seq, &err), *ref;

  g_assert_no_error (err);
  g_assert_nonnull (c);
  g_assert_cmpuint (c->hdr.first_seq, ==, want_first);
  g_assert_cmpuint (c->hdr.last_seq, ==, want_last);
  ref = sc_chunk (want_first, want_last, 200, WALL0 + want_first * 40000, TRUE);
  g_assert_true (sc_chunk_equal (c, ref));
  diode_stored_chunk_unref (ref);
  diode_stored_chunk_unref (c);
}

static void
test_append_read_reopen (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeSpan spans[4];
  DiodeStoreMeta m;
  gchar **keys;
  GError *err = NULL;
  guint64 bytes;
  gint pass;

  begin (s, KEY);
  diode_store_set_segment_limits (s, 0, 0, 7);   /* several segments */
  sc_fill (s, KEY, 1, 100, 5, 200, WALL0);        /* 20 chunks of 5 */
  g_assert_cmpuint (diode_store_n_segments (s, KEY), ==, 3);
  bytes = diode_store_get_bytes (s);
  g_assert_cmpuint (bytes, >, 20 * 5 * 200);

  for (pass = 0; pass < 2; pass++) {
    check_read (s, KEY, 1, 1, 5);
    check_read (s, KEY, 3, 1, 5);
    check_read (s, KEY, 36, 36, 40);     /* in the second segment */
    check_read (s, KEY, 100, 96, 100);
    g_assert_null (diode_store_read (s, KEY, 101, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
    g_clear_error (&err);
    g_assert_null (diode_store_read (s, "other", 1, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
    g_clear_error (&err);

    g_assert_cmpuint (diode_store_get_spans (s, KEY, spans, 4), ==, 1);
    g_assert_cmpuint (spans[0].first_seq, ==, 1);
    g_assert_cmpuint (spans[0].last_seq, ==, 100);
    g_assert_cmpuint (spans[0].first_time, ==, 40000000);
    g_assert_cmpuint (spans[0].end_time, ==, 101 * G_GUINT64_CONSTANT (40000000));
    g_assert_cmpuint (spans[0].wall_start_us, ==, WALL0 + 40000);
    g_assert_cmpuint (spans[0].wall_end_us, ==, WALL0 + 101 * 40000);

    /* find: EARLIEST, WALLCLOCK, BACK, TIME with the three snaps */
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_EARLIEST, 0, 0, 0), ==, 1);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, WALL0 + 43 * 40000,
            DIODE_SNAP_BEFORE, 0), ==, 41);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, WALL0 + 43 * 40000,
            DIODE_SNAP_AFTER, 0), ==, 46);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, WALL0 + 44 * 40000,
            DIODE_SNAP_NEAREST, 0), ==, 46);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, WALL0 + 42 * 40000,
            DIODE_SNAP_NEAREST, 0), ==, 41);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_TIME, 43 * G_GUINT64_CONSTANT (40000000),
            DIODE_SNAP_BEFORE, 0), ==, 41);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_TIME, 36 * G_GUINT64_CONSTANT (40000000),
            DIODE_SNAP_AFTER, 0), ==, 36);
    /* 2 s back from wall seq 100 = seq 50 */
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_BACK, 2 * G_GUINT64_CONSTANT (1000000000),
            DIODE_SNAP_BEFORE, WALL0 + 100 * 40000), ==, 46);
    /* before the oldest: the oldest; after the newest: the last keyframe */
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, 5, DIODE_SNAP_BEFORE, 0), ==, 1);
    g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_WALLCLOCK, G_MAXUINT64 - 1,
            DIODE_SNAP_AFTER, 0), ==, 96);
    g_assert_cmpuint (diode_store_find (s, "other", DIODE_START_EARLIEST, 0, 0, 0), ==, 0);

    g_assert_true (diode_store_get_meta (s, KEY, &m));
    g_assert_cmpstr (m.name, ==, KEY);
    g_assert_cmpstr (m.owner, ==, "0x00112233445566778899aabbccddeeff00112233");
    g_assert_cmpuint (m.access, ==, 1);
    g_assert_cmpstr (m.fleet, ==, "0xfleet");
    g_assert_cmpuint (m.pubflags, ==, 1);
    g_assert_false (m.finished);
    diode_store_meta_clear (&m);
    g_assert_false (diode_store_get_meta (s, "other", &m));
    keys = diode_store_list (s);
    g_assert_cmpuint (g_strv_length (keys), ==, 1);
    g_assert_cmpstr (keys[0], ==, KEY);
    g_strfreev (keys);
    g_assert_cmpuint (diode_store_get_bytes (s), ==, bytes);

    /* the second pass: after a close and an open, the same answers */
    diode_store_close (s);
    s = sc_open (dir);
  }

  /* a new run appends after the stored last seq, in a new segment */
  {
    DiodeStoredChunk *c = sc_chunk (50, 60, 10, WALL0, TRUE);

    g_assert_false (diode_store_append (s, KEY, c));   /* seqs going back */
    diode_stored_chunk_unref (c);
  }
  sc_fill (s, KEY, 101, 110, 5, 200, WALL0);
  check_read (s, KEY, 108, 106, 110);
  g_assert_cmpuint (diode_store_n_segments (s, KEY), ==, 4);
  /* a finished recording's meta */
  sc_meta (&m, "Cam");
  m.finished = TRUE;
  g_assert_true (diode_store_set_meta (s, KEY, &m, NULL));
  g_assert_false (diode_store_set_meta (s, "nope", &m, &err));
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
  g_clear_error (&err);
  diode_store_meta_clear (&m);
  diode_store_close (s);
  s = sc_open (dir);
  g_assert_true (diode_store_get_meta (s, KEY, &m));
  g_assert_true (m.finished);
  g_assert_cmpstr (m.name, ==, "Cam");
  diode_store_meta_clear (&m);
  /* BACK on a finished recording counts from its end: 0 back = last key */
  g_assert_cmpuint (diode_store_find (s, KEY, DIODE_START_BACK, 0, DIODE_SNAP_BEFORE, 1), ==, 106);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

static void
test_gaps_and_unknown (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeSpan spans[8];
  DiodeStoredChunk *c;
  GError *err = NULL;

  /* append before begin: refused */
  c = sc_chunk (1, 2, 10, WALL0, TRUE);
  g_assert_false (diode_store_append (s, KEY, c));
  diode_stored_chunk_unref (c);
  begin (s, KEY);
  sc_fill (s, KEY, 1, 10, 5, 100, WALL0);
  sc_fill (s, KEY, 21, 30, 5, 100, WALL0);   /* gap 11..20 inside a segment */
  sc_fill (s, KEY, 31, 35, 5, 100, WALL0);
  g_assert_cmpuint (diode_store_get_spans (s, KEY, spans, 8), ==, 2);
  g_assert_cmpuint (spans[0].first_seq, ==, 1);
  g_assert_cmpuint (spans[0].last_seq, ==, 10);
  g_assert_cmpuint (spans[1].first_seq, ==, 21);
  g_assert_cmpuint (spans[1].last_seq, ==, 35);
  /* room for one: the newest */
  g_assert_cmpuint (diode_store_get_spans (s, KEY, spans, 1), ==, 1);
  g_assert_cmpuint (spans[0].first_seq, ==, 21);
  /* a seq in the gap: the first chunk after it */
  c = diode_store_read (s, KEY, 15, &err);
  g_assert_no_error (err);
  g_assert_cmpuint (c->hdr.first_seq, ==, 21);
  diode_stored_chunk_unref (c);
  diode_store_close (s);
  s = sc_open (dir);
  g_assert_cmpuint (diode_store_get_spans (s, KEY, spans, 8), ==, 2);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* A flipped byte in a stored chunk: the read says DAMAGED and returns
 * nothing of it; its neighbours still read. Also after a reopen (the
 * damage is before the last record: kept, never served). */
static void
test_flipped_byte_on_disk (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *seg, *data;
  gsize len;
  GError *err = NULL;
  gint pass;

  begin (s, KEY);
  sc_fill (s, KEY, 1, 30, 10, 500, WALL0);    /* 3 chunks, one segment */
  seg = sc_seg_path (s, KEY, 1);
  g_assert_true (g_file_get_contents (seg, &data, &len, NULL));
  /* a byte inside the frames of the second chunk (seqs 11..20) */
  {
    gsize rec = DIODE_CHUNKREC_HEAD_SIZE + (len - STORE_SEG_HEADER_SIZE - 3 * DIODE_CHUNKREC_HEAD_SIZE) / 3;
    gsize off = STORE_SEG_HEADER_SIZE + rec + DIODE_CHUNKREC_HEAD_SIZE + 300;

    data[off] ^= 0x01;
  }
  g_assert_true (g_file_set_contents (seg, data, len, NULL));
  for (pass = 0; pass < 2; pass++) {
    guint64 damaged = diode_store_damaged (s);

    g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*damaged chunk at seq 11*");
    g_assert_null (diode_store_read (s, KEY, 15, &err));
    g_test_assert_expected_messages ();
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED);
    g_clear_error (&err);
    g_assert_cmpuint (diode_store_damaged (s), ==, damaged + 1);

    {
      DiodeStoredChunk *c = diode_store_read (s, KEY, 5, &err);

      g_assert_no_error (err);
      g_assert_cmpuint (c->hdr.first_seq, ==, 1);
      diode_stored_chunk_unref (c);
      c = diode_store_read (s, KEY, 25, &err);
      g_assert_no_error (err);
      g_assert_cmpuint (c->hdr.first_seq, ==, 21);
      diode_stored_chunk_unref (c);
    }
    diode_store_close (s);
    g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*seq 11 is damaged*kept*");
    s = sc_open (dir);
    g_test_assert_expected_messages ();
  }
  diode_store_close (s);
  g_free (data);
  g_free (seg);
  sc_rmdir (dir);
  g_free (dir);
}

/* The meta is parsed strictly (docs/security.md, "Stored streams"): any
 * field that does not parse or is out of range makes it unreadable, and the
 * directory quarantined, never a default that would widen access
 * (g_key_file_get_integer() once read "access=banana" or the hand edit
 * "access=private" as 0, PUBLIC). The names public/protected/private are
 * accepted; a missing access is private. */
#define META_HEAD "[stream]\nkey=" KEY "\nname=" KEY "\nowner=0x00112233445566778899aabbccddeeff00112233\n"
#define ADDR_A "0x00112233445566778899aabbccddeeff00112233"

static gchar *
allow_list (guint n, const gchar *last)
{
  GString *g = g_string_new ("allow=");
  guint i;

  for (i = 0; i < n; i++)
    g_string_append_printf (g, "0x%040x;", i);
  if (last)
    g_string_append_printf (g, "%s;", last);
  g_string_append_c (g, '\n');
  return g_string_free (g, FALSE);
}

static void
test_meta_strict (void)
{
  static const struct {
    const gchar *lines;
    gint access;               /* -1: quarantined */
  } cases[] = {
    { "access=banana\n", -1 },
    { "access=privat\n", -1 },
    { "access=3\n", -1 },
    { "access=-1\n", -1 },
    { "access=256\n", -1 },
    { "access=2x\n", -1 },
    { "access=\n", -1 },
    { "access=2\naccess=0\n[stream]\naccess=x\n", -1 },
    { "access=2\nowner=0xbad\n", -1 },
    { "access=2\nowner=alice\n", -1 },
    { "access=1\nfleet=a\\tb\n", -1 },
    { "access=2\nallow=" ADDR_A ";mallory;\n", -1 },
    { "access=2\nallow=" ADDR_A "00;\n", -1 },
    { "access=2\npubflags=4\n", -1 },
    { "access=2\npubflags=banana\n", -1 },
    { "access=2\npubflags=-1\n", -1 },
    { "access=2\nfinished=maybe\n", -1 },
    { "access=0\nname=a\\nb\n", -1 },
    { "ALLOW-2049", -1 },
    { "access=private\n", DIODE_ACCESS_PRIVATE },
    { "access=Protected\nfleet=0xfleet\n", DIODE_ACCESS_PROTECTED },
    { "access=public\n", DIODE_ACCESS_PUBLIC },
    { "access=0\n", DIODE_ACCESS_PUBLIC },
    { "access=2\nallow=" ADDR_A ";\npubflags=3\nfinished=true\n", DIODE_ACCESS_PRIVATE },
    { "ALLOW-2048", DIODE_ACCESS_PRIVATE },
    { "", DIODE_ACCESS_PRIVATE },
  };
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *sdir, *meta;
  guint i;

  begin (s, KEY);
  sc_fill (s, KEY, 1, 10, 5, 100, WALL0);
  sdir = diode_store_stream_dir (s, KEY);
  meta = g_build_filename (sdir, "meta", NULL);
  diode_store_close (s);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    gchar *text, *extra = NULL;
    DiodeStoreMeta m;

    if (g_str_has_prefix (cases[i].lines, "ALLOW-"))
      extra = allow_list (g_str_equal (cases[i].lines, "ALLOW-2049") ? 2049 : 2048, NULL);
    text = g_strconcat (META_HEAD, extra ? "access=2\n" : "", extra ? extra : cases[i].lines, NULL);
    g_test_message ("meta: %s", cases[i].lines);
    g_assert_true (g_file_set_contents (meta, text, -1, NULL));
    if (cases[i].access < 0) {
      g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*is quarantined, its meta cannot be read*");
      s = sc_open (dir);
      g_test_assert_expected_messages ();
      g_assert_cmpint (diode_store_key_state (s, KEY, NULL), ==, DIODE_STORE_KEY_QUARANTINED);
      g_assert_false (diode_store_get_meta (s, KEY, &m));
    } else {
      s = sc_open (dir);
      g_assert_cmpint (diode_store_key_state (s, KEY, NULL), ==, DIODE_STORE_KEY_STORED);
      g_assert_true (diode_store_get_meta (s, KEY, &m));
      g_assert_cmpint (m.access, ==, cases[i].access);
      if (extra)
        g_assert_cmpuint (g_strv_length (m.allow), ==, 2048);
      diode_store_meta_clear (&m);
    }
    diode_store_close (s);
    g_free (extra);
    g_free (text);
  }
  g_free (meta);
  g_free (sdir);
  sc_rmdir (dir);
  g_free (dir);
}

/* A viewer asking again and again for a damaged chunk must not write the
 * log: the first read that finds it logs one line and marks it, later reads
 * answer DAMAGED from the mark. 1000 reads, exactly one warning (the test
 * aborts on any other). */
static void
test_damaged_logged_once (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *seg, *data;
  gsize len, rec, off;
  GError *err = NULL;
  guint i;

  begin (s, KEY);
  sc_fill (s, KEY, 1, 30, 10, 500, WALL0);    /* 3 chunks, one segment */
  seg = sc_seg_path (s, KEY, 1);
  g_assert_true (g_file_get_contents (seg, &data, &len, NULL));
  rec = DIODE_CHUNKREC_HEAD_SIZE + (len - STORE_SEG_HEADER_SIZE - 3 * DIODE_CHUNKREC_HEAD_SIZE) / 3;
  off = STORE_SEG_HEADER_SIZE + rec + DIODE_CHUNKREC_HEAD_SIZE + 300;
  data[off] ^= 0x01;
  g_assert_true (g_file_set_contents (seg, data, len, NULL));

  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*damaged chunk at seq 11*");
  for (i = 0; i < 1000; i++) {
    g_assert_null (diode_store_read (s, KEY, 11 + i % 10, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED);
    g_clear_error (&err);
  }
  g_test_assert_expected_messages ();
  g_assert_cmpuint (diode_store_damaged (s), ==, 1);
  /* its neighbours still read */
  for (i = 0; i < 2; i++) {
    DiodeStoredChunk *c = diode_store_read (s, KEY, i ? 25 : 5, &err);

    g_assert_no_error (err);
    g_assert_cmpuint (c->hdr.first_seq, ==, i ? 21 : 1);
    diode_stored_chunk_unref (c);
  }
  diode_store_close (s);
  g_free (data);
  g_free (seg);
  sc_rmdir (dir);
  g_free (dir);
}

/* The store's rate limit on its own (several damaged chunks within a
 * second): at most STORE_WARN_BURST lines, then one saying how many were
 * left out (at the latest when the store closes). */
static gint rate_lines, rate_suppressed;

static void
count_store_warnings (const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
  if (strstr (msg, "damaged chunk at seq"))
    rate_lines++;
  else if (strstr (msg, "suppressed") && strstr (msg, "damaged chunks"))
    rate_suppressed++;
  else
    g_error ("unexpected warning: %s", msg);
}

static gboolean
not_fatal (const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
  return FALSE;                /* the warnings of this test are counted */
}

static void
test_warn_rate_limited (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *seg, *data;
  gsize len, rec;
  GError *err = NULL;
  guint i, n = 20, handler;

  begin (s, KEY);
  sc_fill (s, KEY, 1, n * 10, 10, 200, WALL0);
  g_assert_cmpuint (diode_store_n_segments (s, KEY), ==, 1);
  seg = sc_seg_path (s, KEY, 1);
  g_assert_true (g_file_get_contents (seg, &data, &len, NULL));
  rec = (len - STORE_SEG_HEADER_SIZE) / n;
  for (i = 0; i < n; i++)
    data[STORE_SEG_HEADER_SIZE + i * rec + DIODE_CHUNKREC_HEAD_SIZE + 100] ^= 0x01;
  g_assert_true (g_file_set_contents (seg, data, len, NULL));
  rate_lines = rate_suppressed = 0;
  g_test_log_set_fatal_handler (not_fatal, NULL);
  handler = g_log_set_handler (NULL, G_LOG_LEVEL_WARNING | G_LOG_FLAG_FATAL, count_store_warnings,
      NULL);
  for (i = 0; i < n; i++) {
    g_assert_null (diode_store_read (s, KEY, 1 + i * 10, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED);
    g_clear_error (&err);
  }
  g_assert_cmpuint (diode_store_damaged (s), ==, n);
  /* a slow machine may open a second window: still far fewer than n */
  g_assert_cmpint (rate_lines, >=, STORE_WARN_BURST);
  g_assert_cmpint (rate_lines, <, (gint) n);
  diode_store_close (s);
  g_assert_cmpint (rate_suppressed, >=, 1);
  g_log_remove_handler (NULL, handler);
  g_test_log_set_fatal_handler (NULL, NULL);
  g_free (data);
  g_free (seg);
  sc_rmdir (dir);
  g_free (dir);
}

/* A stored stream whose meta cannot be read (garbage, a truncated file, a
 * directory in its place, another key's meta): at open its directory is
 * quarantined, not skipped. Its key is neither listed nor begun again (by
 * any owner: its owner is unknown), the meta on disk is never written
 * over, its chunks never appended to; the state is QUARANTINED. A
 * directory that appears after open is refused and quarantined by the
 * first begin; a stored stream is never begun for another owner. */
static void
test_quarantine (void)
{
  static const gchar *const damage[] = { "garbage", "truncated", "directory", "other-key" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (damage); i++) {
    gchar *dir = sc_tmpdir ();
    DiodeStore *s = sc_open (dir);
    gchar *sdir, *meta, *seg, *qdir = NULL, *before = NULL, *after = NULL, **keys, *segdata;
    gsize seg_len, seg_len2;
    DiodeStoreMeta m;
    DiodeStoredChunk *c;
    GError *err = NULL;

    g_test_message ("meta damage: %s", damage[i]);
    begin (s, KEY);
    sc_fill (s, KEY, 1, 10, 5, 100, WALL0);
    g_assert_cmpint (diode_store_key_state (s, KEY, NULL), ==, DIODE_STORE_KEY_STORED);
    g_assert_cmpint (diode_store_key_state (s, "other", NULL), ==, DIODE_STORE_KEY_ABSENT);
    sdir = diode_store_stream_dir (s, KEY);
    seg = sc_seg_path (s, KEY, 1);
    diode_store_close (s);
    meta = g_build_filename (sdir, "meta", NULL);
    if (g_str_equal (damage[i], "garbage")) {
      g_assert_true (g_file_set_contents (meta, "\x01\x02 not [a key file\n\xff", -1, NULL));
    } else if (g_str_equal (damage[i], "truncated")) {
      gchar *text;
      gsize len;

      g_assert_true (g_file_get_contents (meta, &text, &len, NULL));
      /* cut inside the group header: no key survives */
      g_assert_true (g_file_set_contents (meta, text, 5, NULL));
      g_free (text);
    } else if (g_str_equal (damage[i], "directory")) {
      g_assert_cmpint (g_unlink (meta), ==, 0);
      g_assert_cmpint (g_mkdir (meta, 0700), ==, 0);
    } else {
      g_assert_true (g_file_set_contents (meta, "[stream]\nkey=someone-else\nowner=0xbad\n", -1,
              NULL));
    }
    if (!g_file_test (meta, G_FILE_TEST_IS_DIR))
      g_assert_true (g_file_get_contents (meta, &before, NULL, NULL));
    g_assert_true (g_file_get_contents (seg, &segdata, &seg_len, NULL));
    g_free (segdata);

    g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*is quarantined*");
    s = sc_open (dir);
    g_test_assert_expected_messages ();
    g_assert_cmpint (diode_store_key_state (s, KEY, &qdir), ==, DIODE_STORE_KEY_QUARANTINED);
    g_assert_cmpstr (qdir, ==, sdir);
    g_assert_false (diode_store_get_meta (s, KEY, &m));
    keys = diode_store_list (s);
    g_assert_cmpuint (g_strv_length (keys), ==, 0);
    g_strfreev (keys);
    /* nobody may begin it, whoever the owner */
    sc_meta (&m, KEY);
    g_assert_false (diode_store_begin (s, KEY, &m, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED);
    g_assert_nonnull (strstr (err->message, "metadata is unreadable"));
    g_assert_nonnull (strstr (err->message, sdir));
    g_clear_error (&err);
    g_free (m.owner);
    m.owner = g_strdup ("0xffffffffffffffffffffffffffffffffffffffff");
    g_assert_false (diode_store_begin (s, KEY, &m, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED);
    g_clear_error (&err);
    g_assert_false (diode_store_set_meta (s, KEY, &m, NULL));
    diode_store_meta_clear (&m);
    c = sc_chunk (11, 15, 100, WALL0, TRUE);
    g_assert_false (diode_store_append (s, KEY, c));
    diode_stored_chunk_unref (c);
    g_assert_null (diode_store_read (s, KEY, 1, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
    g_clear_error (&err);
    diode_store_wait_idle (s);
    diode_store_close (s);
    /* nothing on disk changed */
    if (before) {
      g_assert_true (g_file_get_contents (meta, &after, NULL, NULL));
      g_assert_cmpstr (after, ==, before);
    } else {
      g_assert_true (g_file_test (meta, G_FILE_TEST_IS_DIR));
    }
    g_assert_true (g_file_get_contents (seg, &segdata, &seg_len2, NULL));
    g_free (segdata);
    g_assert_cmpuint (seg_len2, ==, seg_len);
    g_free (before);
    g_free (after);
    g_free (qdir);
    g_free (seg);
    g_free (meta);
    g_free (sdir);
    sc_rmdir (dir);
    g_free (dir);
  }

  /* a directory put there after open; a stored stream of another owner */
  {
    gchar *dir = sc_tmpdir ();
    DiodeStore *s = sc_open (dir);
    gchar *qdir = NULL;
    DiodeStoreMeta m;
    GError *err = NULL;

    g_assert_cmpint (diode_store_key_state (s, "late", &qdir), ==, DIODE_STORE_KEY_ABSENT);
    g_assert_cmpint (g_mkdir_with_parents (qdir, 0700), ==, 0);
    sc_meta (&m, "late");
    g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*appeared without a loaded stream*");
    g_assert_false (diode_store_begin (s, "late", &m, &err));
    g_test_assert_expected_messages ();
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED);
    g_clear_error (&err);
    g_assert_cmpint (diode_store_key_state (s, "late", NULL), ==, DIODE_STORE_KEY_QUARANTINED);
    diode_store_wait_idle (s);
    {
      gchar *qmeta = g_build_filename (qdir, "meta", NULL);

      g_assert_false (g_file_test (qmeta, G_FILE_TEST_EXISTS));   /* nothing written there */
      g_free (qmeta);
    }
    diode_store_meta_clear (&m);
    g_free (qdir);

    begin (s, KEY);
    sc_meta (&m, KEY);
    g_free (m.owner);
    m.owner = g_strdup ("0xffffffffffffffffffffffffffffffffffffffff");
    g_assert_false (diode_store_begin (s, KEY, &m, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED);
    g_clear_error (&err);
    diode_store_meta_clear (&m);
    g_assert_true (diode_store_get_meta (s, KEY, &m));
    g_assert_cmpstr (m.owner, ==, "0x00112233445566778899aabbccddeeff00112233");
    diode_store_meta_clear (&m);
    /* its own owner, spelled in capitals: the same owner */
    sc_meta (&m, KEY);
    g_free (m.owner);
    m.owner = g_strdup ("0x00112233445566778899AABBCCDDEEFF00112233");
    g_assert_true (diode_store_begin (s, KEY, &m, NULL));
    diode_store_meta_clear (&m);
    diode_store_close (s);
    sc_rmdir (dir);
    g_free (dir);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/record/roundtrip", test_record_roundtrip);
  g_test_add_func ("/store/record/flip-every-byte", test_record_flip_every_byte);
  g_test_add_func ("/store/record/absurd-header", test_record_absurd_header);
  g_test_add_func ("/store/record/from-ring", test_from_ring);
  g_test_add_func ("/store/record/verify-seqs", test_record_verify_seqs);
  g_test_add_func ("/store/record/from-ring-crc-kept", test_from_ring_crc_kept);
  g_test_add_func ("/store/append-read-reopen", test_append_read_reopen);
  g_test_add_func ("/store/gaps", test_gaps_and_unknown);
  g_test_add_func ("/store/flipped-byte", test_flipped_byte_on_disk);
  g_test_add_func ("/store/quarantine", test_quarantine);
  g_test_add_func ("/store/meta-strict", test_meta_strict);
  g_test_add_func ("/store/damaged-logged-once", test_damaged_logged_once);
  g_test_add_func ("/store/warn-rate-limited", test_warn_rate_limited);
  return g_test_run ();
}
