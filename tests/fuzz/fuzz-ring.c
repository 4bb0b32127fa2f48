/* gst-diode — fuzzing: the ring and its cursors (gst/buffering/diode-ring.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is a program: each byte picks an operation, the bytes after it
 * its arguments (missing bytes read as 0).
 *
 *   push CAPS / MEDIA (delta, keyframe, header) / other, reset, set_limits,
 *   and for one of 4 cursors: join, next (1..16 times), skip_to_latest,
 *   seek_seq, clear, backlog.
 *
 * Every frame carries its id and a byte pattern; the harness reads every
 * byte of every frame a cursor returns, so a frame freed too early is a
 * heap-use-after-free under ASan. Checks:
 *  - accounting: ring bytes = the caps' and the header set's cost when there
 *    is no chunk, and never less than that; with a byte limit and more than
 *    one chunk, ring bytes <= max_bytes (every push ends with an eviction
 *    pass);
 *  - a header push is refused exactly when the header set would pass
 *    DIODE_RING_MAX_HEADERS or DIODE_RING_MAX_HEADER_BYTES (modelled here),
 *    and a refused push changes nothing;
 *  - the join chunk is never a continuation chunk;
 *  - the write position grows by exactly the bytes appended;
 *  - a cursor returns frames of one chunk run in push order; its prelude is
 *    CAPS/header frames only; after seek_seq (which, like a join, sends the
 *    chunk's caps and headers first) the first other frame is the MEDIA
 *    with that seq;
 *  - a cursor that is caught up (next() returned NULL) has no backlog; a
 *    cursor on a live chunk has a backlog no larger than the ring;
 *  - find_seq returns a live chunk and index holding that seq;
 *  - nothing leaks once the cursors are cleared and the ring freed.
 */
#include "fuzz-common.h"

#include <string.h>

#include "diode-ring.h"

#define N_CURSORS 4

/* FUZZ_TRACE=1 prints each step: to check what a seed exercises. */
static gboolean trace;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  trace = g_getenv ("FUZZ_TRACE") != NULL;
  return 0;
}

typedef enum
{
  KIND_CAPS,
  KIND_MEDIA,
  KIND_HEADER,
  KIND_OTHER,
} Kind;

typedef struct
{
  Kind kind;
  guint64 seq;
} FrameInfo;

typedef struct
{
  DiodeCursor c;
  guint32 last_id;              /* last in-order frame id, 0: none yet */
  guint64 expect_seq;           /* after seek_seq: the next frame's seq */
} Cur;

typedef struct
{
  const guint8 *d;
  gsize n, pos;

  DiodeRing *r;
  GArray *frames;               /* FrameInfo by id; id 0 unused */
  guint64 seq;                  /* last MEDIA seq pushed */
  guint64 time;                 /* media clock, ns */
  guint64 max_bytes, max_time;
  gsize caps_cost;              /* model: what the latest CAPS counts for */
  guint hdr_n;                  /* model: the header set */
  gsize hdr_cost;
  gboolean hdr_closed;          /* a non-header MEDIA followed the set */
  Cur cur[N_CURSORS];
} Fuzz;

static guint8
byte (Fuzz * f)
{
  return f->pos < f->n ? f->d[f->pos++] : 0;
}

static GBytes *
make_frame (Fuzz * f, Kind kind, gsize size, guint64 seq)
{
  FrameInfo info = { kind, seq };
  guint32 id = f->frames->len;
  guint8 *p;
  gsize i;

  g_array_append_val (f->frames, info);
  size = MAX (size, 4);
  p = g_malloc (size);
  p[0] = id >> 24;
  p[1] = id >> 16;
  p[2] = id >> 8;
  p[3] = id;
  for (i = 4; i < size; i++)
    p[i] = (guint8) (id * 31 + i);
  return g_bytes_new_take (p, size);
}

/* Reads every byte of @frame (ASan checks it is alive) and returns its id. */
static guint32
check_frame (Fuzz * f, GBytes * frame)
{
  gsize size, i;
  const guint8 *p = g_bytes_get_data (frame, &size);
  guint32 id;

  FUZZ_CHECK (size >= 4, "frame of %zu bytes", size);
  id = fuzz_be32 (p);
  FUZZ_CHECK (id > 0 && id < f->frames->len, "frame id %u of %u", id,
      f->frames->len);
  for (i = 4; i < size; i++)
    FUZZ_CHECK (p[i] == (guint8) (id * 31 + i), "frame %u corrupted at %zu",
        id, i);
  return id;
}

static const FrameInfo *
info (Fuzz * f, guint32 id)
{
  return &g_array_index (f->frames, FrameInfo, id);
}

static void
check_ring (Fuzz * f)
{
  gsize bytes = diode_ring_get_bytes (f->r);
  guint n = diode_ring_get_n_chunks (f->r);
  DiodeChunk *join = diode_ring_join_chunk (f->r);

  if (n == 0)
    FUZZ_CHECK (bytes == f->caps_cost + f->hdr_cost, "%zu bytes in an empty "
        "ring, caps and headers count %zu", bytes, f->caps_cost + f->hdr_cost);
  FUZZ_CHECK (bytes >= f->caps_cost + f->hdr_cost, "ring counts %zu bytes, "
      "less than its caps and headers (%zu)", bytes,
      f->caps_cost + f->hdr_cost);
  if (f->max_bytes && n > 1)
    FUZZ_CHECK (bytes <= f->max_bytes,
        "ring holds %zu bytes in %u chunks, limit %" G_GUINT64_FORMAT, bytes,
        n, f->max_bytes);
  FUZZ_CHECK (join == NULL || !join->continuation,
      "the join chunk is a continuation");
}

/* Bookkeeping after a push: the position moves by the frame or not at all. */
static void
pushed (Fuzz * f, guint64 pos_before, gsize frame_size)
{
  gsize appended = diode_ring_get_position (f->r) - pos_before;

  FUZZ_CHECK (appended == 0 || appended == frame_size,
      "position moved by %zu for a %zu-byte frame", appended, frame_size);
}

static void
op_push (Fuzz * f, guint op)
{
  guint64 pos = diode_ring_get_position (f->r);
  guint8 a = byte (f), b = byte (f);
  GBytes *frame;
  gsize size;

  switch (op) {
    case 0:                    /* CAPS */
      frame = make_frame (f, KIND_CAPS, 4 + a % 64, 0);
      size = g_bytes_get_size (frame);
      diode_ring_push_caps (f->r, frame);
      FUZZ_CHECK (diode_ring_get_caps (f->r) == frame, "caps not kept");
      f->caps_cost = DIODE_RING_FRAME_COST (size);
      pushed (f, pos, size);
      break;
    case 1:                    /* MEDIA delta */
    case 2:                    /* MEDIA keyframe */
    case 3:{                   /* MEDIA header (keyframe or not) */
      gboolean header = op == 3;
      gboolean key = op == 2 || (header && (b & 1));
      gboolean ok, over = FALSE;
      gsize before = diode_ring_get_bytes (f->r), cost;
      GError *err = NULL;
      guint64 t;

      if (b == 0xff) {
        t = G_MAXUINT64;
      } else {
        f->time += (guint64) (b >> 1) * 1000000;
        t = f->time;
      }
      f->seq++;
      frame = make_frame (f, header ? KIND_HEADER : KIND_MEDIA, 4 + a * 4,
          f->seq);
      size = g_bytes_get_size (frame);
      cost = DIODE_RING_FRAME_COST (size);
      if (header)
        over = (f->hdr_closed ? 1 : f->hdr_n + 1) > DIODE_RING_MAX_HEADERS
            || (f->hdr_closed ? cost : f->hdr_cost + cost)
            > DIODE_RING_MAX_HEADER_BYTES;
      ok = diode_ring_push_media (f->r, frame, f->seq, t, key, header, &err);
      FUZZ_CHECK (ok == !over, "push of a %s frame of %zu bytes: %s, the "
          "header set model (%u frames, %zu bytes%s) says %s",
          header ? "header" : "media", size, ok ? "accepted" : "refused",
          f->hdr_n, f->hdr_cost, f->hdr_closed ? ", closed" : "",
          over ? "over" : "within");
      if (!ok) {
        FUZZ_CHECK (g_error_matches (err, DIODE_RING_ERROR,
                DIODE_RING_ERROR_HEADERS), "refusal without its error");
        g_clear_error (&err);
        FUZZ_CHECK (diode_ring_get_bytes (f->r) == before
            && diode_ring_get_position (f->r) == pos
            && diode_ring_get_last_seq (f->r) != f->seq,
            "a refused push changed the ring");
        pushed (f, pos, size);
        break;
      }
      FUZZ_CHECK (err == NULL, "accepted push with an error set");
      if (header) {
        if (f->hdr_closed) {
          f->hdr_n = 0;
          f->hdr_cost = 0;
          f->hdr_closed = FALSE;
        }
        f->hdr_n++;
        f->hdr_cost += cost;
      } else {
        f->hdr_closed = TRUE;
      }
      FUZZ_CHECK (diode_ring_get_last_seq (f->r) == f->seq, "last_seq %"
          G_GUINT64_FORMAT ", pushed %" G_GUINT64_FORMAT,
          diode_ring_get_last_seq (f->r), f->seq);
      if (!header)
        FUZZ_CHECK (diode_ring_get_n_chunks (f->r) > 0, "no chunk after MEDIA");
      pushed (f, pos, size);
      break;
    }
    default:                   /* other (EOS) */
      frame = make_frame (f, KIND_OTHER, 4 + a % 16, 0);
      size = g_bytes_get_size (frame);
      diode_ring_push_other (f->r, frame);
      FUZZ_CHECK (diode_ring_get_position (f->r) == pos + size,
          "other frame not appended");
      pushed (f, pos, size);
      break;
  }
  g_bytes_unref (frame);
}

static void
reposition (Cur * c)
{
  c->last_id = 0;
  c->expect_seq = 0;
}

static void
check_backlog (Fuzz * f, Cur * c)
{
  guint64 backlog = diode_cursor_backlog (&c->c, f->r);

  FUZZ_CHECK (backlog <= diode_ring_get_position (f->r),
      "backlog %" G_GUINT64_FORMAT " beyond the write position", backlog);
  if (c->c.chunk == NULL)
    FUZZ_CHECK (backlog == 0, "cursor without a chunk has a backlog");
  else if (!c->c.chunk->evicted)
    FUZZ_CHECK (backlog <= diode_ring_get_bytes (f->r),
        "backlog %" G_GUINT64_FORMAT " larger than the ring (%zu)", backlog,
        diode_ring_get_bytes (f->r));
}

static void
op_next (Fuzz * f, Cur * c, guint times)
{
  guint i;

  for (i = 0; i < times; i++) {
    gboolean had_chunk = c->c.chunk != NULL;
    gboolean in_prelude = had_chunk && c->c.prelude > 0;
    gboolean skipped = TRUE;
    GBytes *frame = diode_cursor_next (&c->c, f->r, &skipped);
    guint32 id;

    if (frame == NULL) {
      FUZZ_CHECK (!skipped || c->c.chunk == NULL,
          "skipped set but nothing returned from a live chunk");
      FUZZ_CHECK (diode_cursor_backlog (&c->c, f->r) == 0,
          "caught-up cursor has a backlog of %" G_GUINT64_FORMAT,
          diode_cursor_backlog (&c->c, f->r));
      return;
    }
    id = check_frame (f, frame);
    FUZZ_CHECK (c->c.chunk != NULL && !c->c.chunk->evicted,
        "frame returned from an evicted chunk");
    if (!had_chunk || skipped) {
      /* (re)joined inside next(): the join chunk's caps and headers come
       * first, if it has any */
      reposition (c);
      in_prelude = c->c.chunk->caps_frame != NULL
          || c->c.chunk->header_frames->len > 0;
    }
    if (trace)
      fprintf (stderr, "    cursor %d: frame %u%s%s\n", (int) (c - f->cur), id,
          skipped ? " (skipped ahead)" : "", in_prelude ? " (prelude)" : "");
    if (in_prelude) {
      FUZZ_CHECK (info (f, id)->kind == KIND_CAPS
          || info (f, id)->kind == KIND_HEADER,
          "prelude frame %u is neither caps nor header", id);
      continue;
    }
    if (c->expect_seq) {
      FUZZ_CHECK (info (f, id)->seq == c->expect_seq,
          "after seek_seq(%" G_GUINT64_FORMAT ") got frame with seq %"
          G_GUINT64_FORMAT, c->expect_seq, info (f, id)->seq);
      c->expect_seq = 0;
    }
    if (had_chunk && !skipped && c->last_id)
      FUZZ_CHECK (id > c->last_id, "frame %u returned after frame %u", id,
          c->last_id);
    if (had_chunk && !skipped)
      c->last_id = id;
    check_backlog (f, c);
  }
}

static void
op_cursor (Fuzz * f, guint op)
{
  guint8 a = byte (f);
  Cur *c = &f->cur[a % N_CURSORS];

  switch (op) {
    case 7:
      diode_cursor_join (&c->c, f->r);
      reposition (c);
      FUZZ_CHECK (c->c.chunk == diode_ring_join_chunk (f->r),
          "join did not attach to the join chunk");
      break;
    case 8:
      op_next (f, c, 1 + (a >> 2) % 16);
      break;
    case 9:
      if (diode_cursor_skip_to_latest (&c->c, f->r)) {
        reposition (c);
        FUZZ_CHECK (c->c.chunk == diode_ring_join_chunk (f->r),
            "skip_to_latest moved elsewhere than the join chunk");
      }
      break;
    case 10:{
      guint64 back = byte (f), seq = f->seq > back ? f->seq - back : 0;
      DiodeChunk *chunk = NULL;
      guint index = 0;
      gboolean found = diode_ring_find_seq (f->r, seq, &chunk, &index);

      if (found) {
        FUZZ_CHECK (chunk && !chunk->evicted && index < chunk->frames->len
            && g_array_index (chunk->seqs, guint64, index) == seq,
            "find_seq(%" G_GUINT64_FORMAT ") returned a wrong place", seq);
        check_frame (f, g_ptr_array_index (chunk->frames, index));
      }
      FUZZ_CHECK (diode_cursor_seek_seq (&c->c, f->r, seq) == found,
          "seek_seq and find_seq disagree");
      if (found) {
        reposition (c);
        c->expect_seq = seq;
        /* resuming also sends the chunk's caps and headers first */
        FUZZ_CHECK (c->c.chunk == chunk && c->c.index == index
            && c->c.prelude == (chunk->caps_frame ? 1u : 0u)
            + chunk->header_frames->len,
            "seek_seq did not attach at the seq with its prelude");
      }
      break;
    }
    case 11:
      diode_cursor_clear (&c->c);
      FUZZ_CHECK (c->c.chunk == NULL, "clear kept the chunk");
      reposition (c);
      break;
    default:
      break;
  }
  check_backlog (f, c);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  Fuzz f;
  guint i;

  memset (&f, 0, sizeof (f));
  f.d = data;
  f.n = size;
  f.frames = g_array_new (FALSE, TRUE, sizeof (FrameInfo));
  g_array_set_size (f.frames, 1);
  /* the first two bytes: initial limits (0 = unlimited) */
  f.max_bytes = (guint64) byte (&f) * 512;
  f.max_time = (guint64) byte (&f) * 20 * 1000000;
  f.r = diode_ring_new (f.max_bytes, f.max_time);
  for (i = 0; i < N_CURSORS; i++)
    diode_cursor_init (&f.cur[i].c);

  while (f.pos < f.n) {
    guint op = byte (&f) % 13;

    switch (op) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
        op_push (&f, op);
        break;
      case 5:
        diode_ring_reset (f.r);
        FUZZ_CHECK (diode_ring_get_n_chunks (f.r) == 0
            && diode_ring_get_bytes (f.r) == 0
            && diode_ring_get_caps (f.r) == NULL
            && diode_ring_join_chunk (f.r) == NULL, "reset left something");
        f.caps_cost = f.hdr_cost = 0;
        f.hdr_n = 0;
        f.hdr_closed = FALSE;
        break;
      case 6:
        f.max_bytes = (guint64) byte (&f) * 512;
        f.max_time = (guint64) byte (&f) * 20 * 1000000;
        diode_ring_set_limits (f.r, f.max_bytes, f.max_time);
        break;
      case 12:
        /* every cursor reads until caught up */
        for (i = 0; i < N_CURSORS; i++)
          op_next (&f, &f.cur[i], 1000000);
        break;
      default:
        op_cursor (&f, op);
        break;
    }
    check_ring (&f);
    if (trace)
      fprintf (stderr, "  op %u: %u chunks, %zu bytes, position %"
          G_GUINT64_FORMAT "\n", op, diode_ring_get_n_chunks (f.r),
          diode_ring_get_bytes (f.r), diode_ring_get_position (f.r));
  }

  for (i = 0; i < N_CURSORS; i++)
    diode_cursor_clear (&f.cur[i].c);
  diode_ring_free (f.r);
  g_array_unref (f.frames);
  return 0;
}
