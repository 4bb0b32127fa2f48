/* gst-diode — the store's reads: chunks by seq, start points, spans
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Blocking and safe from any thread: the segment list is copied under the
 * lock, the files are read without it. A segment that retention removes
 * meanwhile reads as missing (NOT_FOUND), never as garbage: an index entry
 * is checked against the record head it points at, and the record against
 * its CRC, before anything of it is returned.
 */
#include "diode-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* A copy of @key's segment list (NULL when the stream is unknown). The
 * StoreStream pointer stays valid until the store closes. */
static GArray *
segs_snapshot (DiodeStore *s, const gchar *key, StoreStream **stp, gboolean *finished)
{
  StoreStream *st;
  GArray *a = NULL;

  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  if (st) {
    guint i;

    a = g_array_sized_new (FALSE, FALSE, sizeof (StoreSegment), st->segs->len);
    for (i = 0; i < st->segs->len; i++) {
      StoreSegment *seg = &g_array_index (st->segs, StoreSegment, i);

      if (seg->n_chunks > 0)
        g_array_append_val (a, *seg);
    }
    if (finished)
      *finished = st->meta.finished;
  }
  g_mutex_unlock (&s->lock);
  *stp = st;
  return a;
}

static gboolean
pread_all (int fd, void *buf, gsize len, guint64 off)
{
  guint8 *p = buf;

  while (len > 0) {
    ssize_t n = pread (fd, p, len, (off_t) off);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    p += n;
    len -= n;
    off += n;
  }
  return TRUE;
}

/* Index of the first entry of @seg with last_seq >= @seq (binary search
 * over the index file, 64 bytes per probe). */
static gboolean
seg_lookup (StoreStream *st, const StoreSegment *seg, guint64 seq, StoreEntry *out, GError **error)
{
  guint32 lo = 0, hi = seg->n_chunks;

  while (lo < hi) {
    guint32 mid = lo + (hi - lo) / 2;
    StoreEntry e;

    if (!store_idx_read (st, seg->number, mid, 1, &e, error))
      return FALSE;
    if (e.last_seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo >= seg->n_chunks) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND, "seq past segment");
    return FALSE;
  }
  return store_idx_read (st, seg->number, lo, 1, out, error);
}

static guint
mark_hash (gconstpointer p)
{
  const StoreDamageMark *m = p;

  return g_int64_hash (&m->number) ^ g_int64_hash (&m->offset);
}

static gboolean
mark_equal (gconstpointer a, gconstpointer b)
{
  const StoreDamageMark *x = a, *y = b;

  return x->number == y->number && x->offset == y->offset;
}

/* TRUE when a read already found the chunk at @e of @seg damaged. */
static gboolean
is_marked (DiodeStore *s, StoreStream *st, const StoreSegment *seg, const StoreEntry *e)
{
  StoreDamageMark m = { seg->number, e->offset };
  gboolean marked;

  g_mutex_lock (&s->lock);
  marked = st->damage_marks && g_hash_table_contains (st->damage_marks, &m);
  g_mutex_unlock (&s->lock);
  return marked;
}

/* Marks the chunk damaged; TRUE when this read is the first to find it
 * (the one that logs and counts it). */
static gboolean
mark_damaged (DiodeStore *s, StoreStream *st, const StoreSegment *seg, const StoreEntry *e)
{
  StoreDamageMark m = { seg->number, e->offset };
  gboolean first = FALSE;

  g_mutex_lock (&s->lock);
  if (st->damage_marks == NULL)
    st->damage_marks = g_hash_table_new_full (mark_hash, mark_equal, g_free, NULL);
  if (!g_hash_table_contains (st->damage_marks, &m)) {
    g_hash_table_add (st->damage_marks, g_memdup2 (&m, sizeof m));
    s->damaged++;
    first = TRUE;
  }
  g_mutex_unlock (&s->lock);
  return first;
}

static DiodeStoredChunk *
read_record (DiodeStore *s, StoreStream *st, const StoreSegment *seg, const StoreEntry *e,
    GError **error)
{
  gchar *path = store_seg_path (st, seg->number, "seg");
  guint8 head[DIODE_CHUNKREC_HEAD_SIZE];
  DiodeChunkHeader hdr;
  DiodeStoredChunk *c = NULL;
  GError *err = NULL;
  guint8 *buf;
  GBytes *data;
  gint fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND, "%s: %s", path,
        g_strerror (errno));
    g_free (path);
    return NULL;
  }
  if (!pread_all (fd, head, sizeof head, e->offset)
      || !diode_chunkrec_parse_head (head, &hdr, &err)
      || hdr.first_seq != e->first_seq || hdr.last_seq != e->last_seq) {
    if (err == NULL)
      g_set_error (&err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
          "record head does not match the index");
    goto damaged;
  }
  /* hdr.bytes is bounded by DIODE_MAX_CHUNK_BYTES (parse_head) */
  buf = g_try_malloc (MAX (hdr.bytes, 1));
  if (buf == NULL) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED, "out of memory");
    goto out;
  }
  if (!pread_all (fd, buf, hdr.bytes, e->offset + DIODE_CHUNKREC_HEAD_SIZE)) {
    g_free (buf);
    g_set_error (&err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED, "short record");
    goto damaged;
  }
  data = g_bytes_new_take (buf, hdr.bytes);
  c = diode_chunkrec_parse_frames (&hdr, data, &err);
  g_bytes_unref (data);
  if (c == NULL)
    goto damaged;
  goto out;

damaged:
  /* one line per damaged chunk (two readers racing on it: one), and those
   * lines rate limited too: a viewer asking for it again and again must
   * not write the log */
  if (mark_damaged (s, st, seg, e))
    store_warn (s, STORE_WARN_DAMAGED, "store: %s: damaged chunk at seq %" G_GUINT64_FORMAT
        " (offset %" G_GUINT64_FORMAT "): %s; not served", path, e->first_seq, e->offset,
        err->message);
  g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
      "stored chunk at seq %" G_GUINT64_FORMAT " is damaged: %s", e->first_seq, err->message);
  g_clear_error (&err);
out:
  close (fd);
  g_free (path);
  return c;
}

DiodeStoredChunk *
diode_store_read (DiodeStore *s, const gchar *key, guint64 seq, GError **error)
{
  StoreStream *st;
  GArray *segs = segs_snapshot (s, key, &st, NULL);
  DiodeStoredChunk *c = NULL;
  guint i;

  if (segs == NULL) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND, "stream not stored");
    return NULL;
  }
  for (i = 0; i < segs->len; i++) {
    StoreSegment *seg = &g_array_index (segs, StoreSegment, i);
    StoreEntry e;
    GError *err = NULL;

    if (seg->last_seq < seq)
      continue;
    if (!seg_lookup (st, seg, seq, &e, &err)) {
      /* removed by retention meanwhile: try the next one */
      g_clear_error (&err);
      continue;
    }
    if (is_marked (s, st, seg, &e)) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
          "stored chunk at seq %" G_GUINT64_FORMAT " is damaged", e.first_seq);
      g_array_unref (segs);
      return NULL;
    }
    c = read_record (s, st, seg, &e, &err);
    if (c == NULL && g_error_matches (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND)) {
      g_clear_error (&err);
      continue;
    }
    if (err)
      g_propagate_error (error, err);
    g_array_unref (segs);
    return c;
  }
  g_array_unref (segs);
  g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
      "nothing stored at or after seq %" G_GUINT64_FORMAT, seq);
  return NULL;
}

/* Every entry of @seg (n_chunks of them, at most STORE_SEGMENT_CHUNKS). */
static StoreEntry *
seg_entries (StoreStream *st, const StoreSegment *seg)
{
  StoreEntry *e = g_new (StoreEntry, MAX (seg->n_chunks, 1));

  if (!store_idx_read (st, seg->number, 0, seg->n_chunks, e, NULL)) {
    g_free (e);
    return NULL;
  }
  return e;
}

guint
diode_store_get_spans (DiodeStore *s, const gchar *key, DiodeSpan *spans, guint max)
{
  StoreStream *st;
  GArray *segs = segs_snapshot (s, key, &st, NULL);
  GArray *out;
  DiodeSpan cur = { 0, };
  gboolean have = FALSE;
  guint i, n, skip;

  if (segs == NULL)
    return 0;
  out = g_array_new (FALSE, FALSE, sizeof (DiodeSpan));
  for (i = 0; i < segs->len; i++) {
    StoreSegment *seg = &g_array_index (segs, StoreSegment, i);
    StoreEntry whole, *es = NULL;
    guint32 k, ne;

    if (seg->gaps) {
      es = seg_entries (st, seg);
      if (es == NULL)
        continue;
      ne = seg->n_chunks;
    } else {
      /* no gap inside: the segment is one run, no file read needed */
      whole.first_seq = seg->first_seq;
      whole.last_seq = seg->last_seq;
      whole.time = seg->first_time;
      whole.end_time = seg->end_time;
      whole.wall_us = seg->wall_start;
      ne = 1;
    }
    for (k = 0; k < ne; k++) {
      const StoreEntry *e = es ? &es[k] : &whole;
      guint64 wall_end = es ? store_entry_wall_end (e) : seg->wall_end;

      if (have && e->first_seq == cur.last_seq + 1) {
        cur.last_seq = e->last_seq;
        cur.end_time = e->end_time;
        cur.wall_end_us = MAX (cur.wall_end_us, wall_end);
        continue;
      }
      if (have)
        g_array_append_val (out, cur);
      cur.first_seq = e->first_seq;
      cur.last_seq = e->last_seq;
      cur.first_time = e->time;
      cur.end_time = e->end_time;
      cur.wall_start_us = e->wall_us;
      cur.wall_end_us = wall_end;
      have = TRUE;
    }
    g_free (es);
  }
  if (have)
    g_array_append_val (out, cur);
  /* more runs than room: the newest ones */
  n = MIN (out->len, max);
  skip = out->len - n;
  if (n > 0)
    memcpy (spans, &g_array_index (out, DiodeSpan, skip), n * sizeof (DiodeSpan));
  g_array_unref (out);
  g_array_unref (segs);
  return n;
}

/* The key of an entry for @mode: wall clock (µs) or publisher time (ns). */
static gboolean
entry_key (const StoreEntry *e, gboolean by_time, guint64 *k)
{
  if (by_time) {
    if (e->time == DIODE_TIME_NONE)
      return FALSE;
    *k = e->time;
  } else {
    *k = e->wall_us;
  }
  return TRUE;
}

static gboolean
joinable (const StoreEntry *e, gboolean any)
{
  return any ? !(e->flags & DIODE_CHUNK_CONTINUATION) : (e->flags & DIODE_CHUNK_KEYFRAME) != 0;
}

/* Looks in @seg for the last joinable chunk with key <= @target (when
 * @have_b is given) or the first with key >= @target (when @have_a is). */
static void
scan_find (StoreStream *st, const StoreSegment *seg, gboolean by_time, gboolean any_key,
    guint64 target, gboolean *have_b, guint64 *b, guint64 *kb, gboolean *have_a, guint64 *a,
    guint64 *ka)
{
  StoreEntry *es = seg_entries (st, seg);
  guint32 k;

  if (es == NULL)
    return;
  for (k = 0; k < seg->n_chunks; k++) {
    guint64 ek;

    if (!joinable (&es[k], any_key) || !entry_key (&es[k], by_time, &ek))
      continue;
    if (have_b && ek <= target) {
      *have_b = TRUE;
      *b = es[k].first_seq;
      *kb = ek;
    }
    if (have_a && ek >= target) {
      *have_a = TRUE;
      *a = es[k].first_seq;
      *ka = ek;
      break;
    }
  }
  g_free (es);
}

guint64
diode_store_find (DiodeStore *s, const gchar *key, guint8 start_mode, guint64 value, guint8 snap,
    guint64 now_us)
{
  StoreStream *st;
  gboolean finished = FALSE;
  GArray *segs = segs_snapshot (s, key, &st, &finished);
  gboolean by_time = start_mode == DIODE_START_TIME;
  gboolean any_key;
  guint64 target = 0, before = 0, after = 0, kb = 0, ka = 0;
  gboolean have_before = FALSE, have_after = FALSE;
  gint j, ii;
  guint i;

  if (segs == NULL || segs->len == 0) {
    if (segs)
      g_array_unref (segs);
    return 0;
  }
  /* a stream without any keyframe chunk (it began without one): its
   * chunks that are not continuations are the joinable points */
  any_key = TRUE;
  for (i = 0; i < segs->len; i++)
    if (g_array_index (segs, StoreSegment, i).n_keys > 0)
      any_key = FALSE;

  switch (start_mode) {
    case DIODE_START_EARLIEST:
      target = 0;
      break;
    case DIODE_START_BACK:{
      guint64 ref = now_us, back = value / 1000;

      if (finished)
        ref = g_array_index (segs, StoreSegment, segs->len - 1).wall_end;
      target = ref > back ? ref - back : 0;
      break;
    }
    case DIODE_START_WALLCLOCK:
    case DIODE_START_TIME:
      target = value;
      break;
    default:
      target = 0;
      break;
  }

  /* the last segment starting at or before the target; the nearest
   * joinable chunk before the target is in it or in one before it, the
   * nearest after it in it or in one after it: read only those */
  j = -1;
  for (i = 0; i < segs->len; i++) {
    StoreSegment *seg = &g_array_index (segs, StoreSegment, i);
    guint64 start = by_time ? seg->first_time : seg->wall_start;

    if (start == DIODE_TIME_NONE || start <= target)
      j = i;
  }
  for (ii = j; ii >= 0 && !have_before; ii--)
    scan_find (st, &g_array_index (segs, StoreSegment, ii), by_time, any_key, target,
        &have_before, &before, &kb, NULL, NULL, NULL);
  for (ii = MAX (j, 0); ii < (gint) segs->len && !have_after; ii++)
    scan_find (st, &g_array_index (segs, StoreSegment, ii), by_time, any_key, target,
        NULL, NULL, NULL, &have_after, &after, &ka);
  g_array_unref (segs);

  if (start_mode == DIODE_START_EARLIEST)
    return have_after ? after : before;
  if (!have_before)
    return have_after ? after : 0;
  if (!have_after)
    return before;
  switch (snap) {
    case DIODE_SNAP_AFTER:
      return after;
    case DIODE_SNAP_NEAREST:
      return (target - kb) <= (ka - target) ? before : after;
    case DIODE_SNAP_BEFORE:
    default:
      return before;
  }
}
