/* gst-diode — keyframe-aligned chunks, the per-stream ring, viewer cursors
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rules are in diode-ring.h; docs/architecture.md ("Ring accounting")
 * says why the constants are what they are.
 */
#include "diode-ring.h"

#include <string.h>

struct _DiodeRing {
  GQueue      chunks;        /* DiodeChunk*, oldest first, one ref each */
  guint64     max_bytes;
  guint64     max_time;
  gsize       bytes;         /* accounted: chunk costs + caps + header set */
  GBytes     *caps;          /* latest CAPS frame */
  GPtrArray  *headers;       /* current header set (GBytes*) */
  gsize       header_cost;   /* what the header set counts for */
  gboolean    headers_closed;/* a non-header frame followed the header set */
  guint64     last_seq;
  guint64     pos;           /* bytes ever appended */
};

G_DEFINE_QUARK (diode-ring-error-quark, diode_ring_error);

static void
frames_unref (gpointer p)
{
  g_bytes_unref (p);
}

DiodeChunk *
diode_chunk_ref (DiodeChunk *c)
{
  g_atomic_int_inc (&c->ref_count);
  return c;
}

void
diode_chunk_unref (DiodeChunk *c)
{
  if (!g_atomic_int_dec_and_test (&c->ref_count))
    return;
  g_clear_pointer (&c->caps_frame, g_bytes_unref);
  g_ptr_array_unref (c->header_frames);
  g_ptr_array_unref (c->frames);
  g_array_unref (c->seqs);
  g_free (c);
}

DiodeRing *
diode_ring_new (guint64 max_bytes, guint64 max_time)
{
  DiodeRing *r = g_new0 (DiodeRing, 1);

  g_queue_init (&r->chunks);
  r->max_bytes = max_bytes;
  r->max_time = max_time;
  r->headers = g_ptr_array_new_with_free_func (frames_unref);
  return r;
}

static void
evict_oldest (DiodeRing *r)
{
  DiodeChunk *c = g_queue_pop_head (&r->chunks);

  c->evicted = TRUE;
  c->next = NULL;
  r->bytes -= c->cost;
  diode_chunk_unref (c);
}

static guint64
ring_span (DiodeRing *r)
{
  DiodeChunk *oldest = g_queue_peek_head (&r->chunks);
  DiodeChunk *newest = g_queue_peek_tail (&r->chunks);

  if (oldest->start_time == G_MAXUINT64 || newest->end_time == G_MAXUINT64
      || newest->end_time < oldest->start_time)
    return 0;
  return newest->end_time - oldest->start_time;
}

/* Whole chunks only, oldest first; the newest chunk always stays, and it
 * cannot outgrow half a limit (chunk_too_long()), so the ring stays
 * within its limits + one frame + the caps and header set. */
static void
enforce_limits (DiodeRing *r)
{
  while (g_queue_get_length (&r->chunks) > 1) {
    gboolean over = (r->max_bytes && r->bytes > r->max_bytes)
        || (r->max_time && ring_span (r) > r->max_time);
    if (!over)
      break;
    evict_oldest (r);
  }
}

void
diode_ring_free (DiodeRing *r)
{
  if (!r)
    return;
  diode_ring_reset (r);
  g_ptr_array_unref (r->headers);
  g_free (r);
}

void
diode_ring_set_limits (DiodeRing *r, guint64 max_bytes, guint64 max_time)
{
  r->max_bytes = max_bytes;
  r->max_time = max_time;
  enforce_limits (r);
}

static void
set_caps (DiodeRing *r, GBytes *caps_frame)
{
  if (r->caps) {
    r->bytes -= DIODE_RING_FRAME_COST (g_bytes_get_size (r->caps));
    g_bytes_unref (r->caps);
  }
  r->caps = caps_frame ? g_bytes_ref (caps_frame) : NULL;
  if (r->caps)
    r->bytes += DIODE_RING_FRAME_COST (g_bytes_get_size (r->caps));
}

static void
clear_headers (DiodeRing *r)
{
  g_ptr_array_set_size (r->headers, 0);
  r->bytes -= r->header_cost;
  r->header_cost = 0;
}

void
diode_ring_reset (DiodeRing *r)
{
  while (!g_queue_is_empty (&r->chunks))
    evict_oldest (r);
  set_caps (r, NULL);
  clear_headers (r);
  r->headers_closed = FALSE;
  /* Empty again, so the count must be 0 (fuzz-ring checks it). Were it not,
   * a relay must not abort every stream for it: say so and start afresh. */
  if (G_UNLIKELY (r->bytes != 0)) {
    g_warning ("ring accounting was off by %" G_GSIZE_FORMAT " bytes",
        (gsize) r->bytes);
    r->bytes = 0;
  }
}

static DiodeChunk *
start_chunk (DiodeRing *r, gboolean keyframe, gboolean continuation)
{
  DiodeChunk *c = g_new0 (DiodeChunk, 1);
  DiodeChunk *prev = g_queue_peek_tail (&r->chunks);
  guint i;

  c->ref_count = 1;
  c->keyframe = keyframe;
  c->continuation = continuation;
  c->cost = DIODE_RING_CHUNK_OVERHEAD
      + (gsize) r->headers->len * DIODE_RING_HEADER_REF_COST;
  r->bytes += c->cost;
  c->start_time = c->end_time = G_MAXUINT64;
  c->caps_frame = r->caps ? g_bytes_ref (r->caps) : NULL;
  c->header_frames = g_ptr_array_new_full (r->headers->len, frames_unref);
  for (i = 0; i < r->headers->len; i++)
    g_ptr_array_add (c->header_frames, g_bytes_ref (r->headers->pdata[i]));
  c->frames = g_ptr_array_new_with_free_func (frames_unref);
  c->seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  c->start_pos = r->pos;
  c->wall_us = (guint64) g_get_real_time ();
  if (prev) {
    prev->closed = TRUE;
    prev->next = c;
  }
  g_queue_push_tail (&r->chunks, c);
  return c;
}

static void
append (DiodeRing *r, DiodeChunk *c, GBytes *frame, guint64 seq, guint64 time)
{
  gsize size = g_bytes_get_size (frame);

  g_ptr_array_add (c->frames, g_bytes_ref (frame));
  g_array_append_val (c->seqs, seq);
  c->bytes += size;
  c->cost += DIODE_RING_FRAME_COST (size);
  r->bytes += DIODE_RING_FRAME_COST (size);
  r->pos += size;
  if (seq && !c->first_seq)
    c->first_seq = seq;
  if (time != G_MAXUINT64) {
    if (c->start_time == G_MAXUINT64)
      c->start_time = time;
    if (c->end_time == G_MAXUINT64 || time > c->end_time)
      c->end_time = time;
  }
}

/* A chunk this long is closed even without a keyframe, so that its frames
 * can be evicted while the stream goes on. Half a limit: ordinary GOPs are
 * far shorter and stay whole, and under a stream without keyframes the ring
 * stays between half its limit and all of it. The byte limit is the memory
 * bound; time cuts chunks only when there is no byte limit, so a GOP longer
 * than the time limit stays joinable as it always was. */
static gboolean
chunk_too_long (DiodeRing *r, DiodeChunk *c)
{
  if (c->frames->len == 0)
    return FALSE;
  if (r->max_bytes)
    return c->cost >= r->max_bytes / 2;
  if (r->max_time && c->start_time != G_MAXUINT64
      && c->end_time != G_MAXUINT64
      && c->end_time - c->start_time >= r->max_time / 2)
    return TRUE;
  return FALSE;
}

/* The chunk a frame that starts nothing goes into: the newest one, or a
 * continuation of it when it is too long, or (nothing yet) a first chunk
 * that is not a keyframe chunk. */
static DiodeChunk *
tail_for_append (DiodeRing *r)
{
  DiodeChunk *cur = g_queue_peek_tail (&r->chunks);

  if (!cur)
    return start_chunk (r, FALSE, FALSE);
  if (chunk_too_long (r, cur))
    return start_chunk (r, FALSE, TRUE);
  return cur;
}

void
diode_ring_push_caps (DiodeRing *r, GBytes *caps_frame)
{
  set_caps (r, caps_frame);
  /* Viewers in flight see the change in line; before the first chunk the
   * caps only wait for it. */
  if (!g_queue_is_empty (&r->chunks)) {
    append (r, tail_for_append (r), caps_frame, 0, G_MAXUINT64);
    enforce_limits (r);
  }
}

gboolean
diode_ring_push_media (DiodeRing *r, GBytes *frame, guint64 seq,
    guint64 time, gboolean keyframe, gboolean header, GError **error)
{
  DiodeChunk *cur;

  if (header) {
    gsize cost = DIODE_RING_FRAME_COST (g_bytes_get_size (frame));
    /* A header after ordinary frames starts a new header set. */
    guint n = r->headers_closed ? 1 : r->headers->len + 1;
    gsize total = r->headers_closed ? cost : r->header_cost + cost;

    if (n > DIODE_RING_MAX_HEADERS || total > DIODE_RING_MAX_HEADER_BYTES) {
      g_set_error (error, DIODE_RING_ERROR, DIODE_RING_ERROR_HEADERS,
          "stream header set over its limit: %u frames, %" G_GSIZE_FORMAT
          " bytes (limits %d frames, %d bytes)", n, total,
          DIODE_RING_MAX_HEADERS, DIODE_RING_MAX_HEADER_BYTES);
      return FALSE;
    }
    if (r->headers_closed) {
      clear_headers (r);
      r->headers_closed = FALSE;
    }
    g_ptr_array_add (r->headers, g_bytes_ref (frame));
    r->header_cost += cost;
    r->bytes += cost;
    /* Viewers already watching get it in line; joiners get it in the
     * prelude of the next chunk. */
    if (!g_queue_is_empty (&r->chunks))
      append (r, tail_for_append (r), frame, seq, G_MAXUINT64);
    r->last_seq = seq;
    enforce_limits (r);
    return TRUE;
  }
  r->headers_closed = TRUE;
  cur = keyframe ? start_chunk (r, TRUE, FALSE) : tail_for_append (r);
  append (r, cur, frame, seq, time);
  r->last_seq = seq;
  enforce_limits (r);
  return TRUE;
}

void
diode_ring_push_other (DiodeRing *r, GBytes *frame)
{
  append (r, tail_for_append (r), frame, 0, G_MAXUINT64);
  enforce_limits (r);
}

DiodeChunk *
diode_ring_join_chunk (DiodeRing *r)
{
  DiodeChunk *start = NULL;
  GList *l;

  for (l = r->chunks.tail; l; l = l->prev) {
    DiodeChunk *c = l->data;
    if (c->keyframe)
      return c;
    if (!start && !c->continuation)
      start = c;
  }
  return start;
}

gboolean
diode_ring_find_seq (DiodeRing *r, guint64 seq, DiodeChunk **chunk,
    guint *index)
{
  GList *l;

  if (seq == 0)
    return FALSE;
  for (l = r->chunks.tail; l; l = l->prev) {
    DiodeChunk *c = l->data;
    guint i;

    if (!c->first_seq || c->first_seq > seq)
      continue;
    for (i = 0; i < c->seqs->len; i++) {
      if (g_array_index (c->seqs, guint64, i) == seq) {
        *chunk = c;
        *index = i;
        return TRUE;
      }
    }
    return FALSE;
  }
  return FALSE;
}

/* A chunk a replay may start at: a keyframe chunk with MEDIA in it. */
static gboolean
chunk_startable (DiodeChunk *c)
{
  return c->keyframe && c->first_seq != 0;
}

DiodeChunk *
diode_ring_earliest_chunk (DiodeRing *r)
{
  GList *l;

  for (l = r->chunks.head; l; l = l->next)
    if (chunk_startable (l->data))
      return l->data;
  return NULL;
}

typedef guint64 (*ChunkKey) (DiodeChunk *c);

static guint64
key_time (DiodeChunk *c)
{
  return c->start_time;
}

static guint64
key_wall (DiodeChunk *c)
{
  return c->wall_us;
}

/* The snap rules of diode_ring_find_time() over any key that grows along
 * the ring (a publisher's time may jump back at a new segment: the walk
 * takes the last candidate at or before, the first at or after, in ring
 * order, which is what a viewer scrubbing the ring expects). */
static DiodeChunk *
find_by_key (DiodeRing *r, ChunkKey key, guint64 target, guint snap)
{
  DiodeChunk *before = NULL, *after = NULL, *oldest = NULL;
  GList *l;

  for (l = r->chunks.head; l; l = l->next) {
    DiodeChunk *c = l->data;
    guint64 k;

    if (!chunk_startable (c) || key (c) == G_MAXUINT64)
      continue;
    k = key (c);
    if (!oldest)
      oldest = c;
    if (k <= target)
      before = c;
    if (k >= target) {
      after = c;
      break;
    }
  }
  switch (snap) {
    case DIODE_RING_SNAP_AFTER:
      return after;
    case DIODE_RING_SNAP_NEAREST:
      if (!before)
        return after ? after : oldest;
      if (!after)
        return before;
      return (target - key (before) <= key (after) - target) ? before : after;
    default:
      return before ? before : oldest;
  }
}

DiodeChunk *
diode_ring_find_time (DiodeRing *r, guint64 time, guint snap)
{
  return find_by_key (r, key_time, time, snap);
}

DiodeChunk *
diode_ring_find_wall (DiodeRing *r, guint64 wall_us, guint snap)
{
  return find_by_key (r, key_wall, wall_us, snap);
}

DiodeChunk *
diode_ring_newest_chunk (DiodeRing *r)
{
  return g_queue_peek_tail (&r->chunks);
}

DiodeChunk *
diode_ring_oldest_chunk (DiodeRing *r)
{
  return g_queue_peek_head (&r->chunks);
}

gsize
diode_ring_get_bytes (DiodeRing *r)
{
  return r->bytes;
}

guint
diode_ring_get_n_chunks (DiodeRing *r)
{
  return g_queue_get_length (&r->chunks);
}

guint64
diode_ring_get_last_seq (DiodeRing *r)
{
  return r->last_seq;
}

GBytes *
diode_ring_get_caps (DiodeRing *r)
{
  return r->caps;
}

void
diode_cursor_init (DiodeCursor *c)
{
  memset (c, 0, sizeof (*c));
}

void
diode_cursor_clear (DiodeCursor *c)
{
  g_clear_pointer (&c->chunk, diode_chunk_unref);
  c->index = 0;
  c->prelude = 0;
}

static guint
prelude_len (DiodeChunk *c)
{
  return (c->caps_frame ? 1 : 0) + c->header_frames->len;
}

static void
attach (DiodeCursor *c, DiodeChunk *chunk, guint index, gboolean prelude)
{
  guint i;

  g_clear_pointer (&c->chunk, diode_chunk_unref);
  c->chunk = chunk ? diode_chunk_ref (chunk) : NULL;
  c->index = index;
  c->prelude = (chunk && prelude) ? prelude_len (chunk) : 0;
  if (chunk) {
    c->pos = chunk->start_pos;
    for (i = 0; i < index; i++)
      c->pos += g_bytes_get_size (g_ptr_array_index (chunk->frames, i));
  }
}

void
diode_cursor_join (DiodeCursor *c, DiodeRing *r)
{
  attach (c, diode_ring_join_chunk (r), 0, TRUE);
}

gboolean
diode_cursor_seek_seq (DiodeCursor *c, DiodeRing *r, guint64 seq)
{
  DiodeChunk *chunk;
  guint index;

  if (!diode_ring_find_seq (r, seq, &chunk, &index))
    return FALSE;
  /* Caps and headers first, as for any join: the resuming viewer may be a
   * new process, or the caps may have changed meanwhile. */
  attach (c, chunk, index, TRUE);
  return TRUE;
}

gboolean
diode_cursor_seek_tail (DiodeCursor *c, DiodeRing *r)
{
  DiodeChunk *chunk;
  guint index;

  if (!diode_ring_find_seq (r, r->last_seq, &chunk, &index))
    return FALSE;
  /* Caps and headers still come first (the subscriber may be a new
   * process), then the frame after the last one it has. */
  attach (c, chunk, index + 1, TRUE);
  return TRUE;
}

GBytes *
diode_cursor_next (DiodeCursor *c, DiodeRing *r, gboolean *skipped)
{
  if (skipped)
    *skipped = FALSE;

  for (;;) {
    DiodeChunk *ch = c->chunk;

    if (!ch) {
      /* Joined before anything was published: attach to the first chunk. */
      if (!diode_ring_join_chunk (r))
        return NULL;
      diode_cursor_join (c, r);
      continue;
    }
    if (ch->evicted) {
      /* The viewer fell behind the ring: jump to the newest joinable
       * point, caps and headers first. */
      if (skipped)
        *skipped = TRUE;
      c->skipped++;
      diode_cursor_join (c, r);
      if (!c->chunk)
        return NULL;
      continue;
    }
    if (c->prelude > 0) {
      guint pos = prelude_len (ch) - c->prelude;
      c->prelude--;
      if (ch->caps_frame) {
        if (pos == 0)
          return ch->caps_frame;
        pos--;
      }
      return g_ptr_array_index (ch->header_frames, pos);
    }
    if (c->index < ch->frames->len) {
      guint64 seq = g_array_index (ch->seqs, guint64, c->index);
      GBytes *f = g_ptr_array_index (ch->frames, c->index++);

      if (seq)
        c->last_seq = seq;
      c->pos += g_bytes_get_size (f);
      return f;
    }
    if (!ch->next)
      return NULL;
    attach (c, ch->next, 0, FALSE);
  }
}

guint64
diode_cursor_backlog (DiodeCursor *c, DiodeRing *r)
{
  if (!c->chunk)
    return 0;
  return r->pos > c->pos ? r->pos - c->pos : 0;
}

gboolean
diode_cursor_skip_to_latest (DiodeCursor *c, DiodeRing *r)
{
  DiodeChunk *join = diode_ring_join_chunk (r);

  if (!join || join == c->chunk || (c->chunk && !c->chunk->evicted
          && join->start_pos <= c->chunk->start_pos))
    return FALSE;
  c->skipped++;
  attach (c, join, 0, TRUE);
  return TRUE;
}

guint64
diode_ring_get_position (DiodeRing *r)
{
  return r->pos;
}
