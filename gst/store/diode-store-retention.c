/* gst-diode — the store's retention: which whole segments go, and when
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs on the writer thread (diode-store-writer.c calls store_retention()
 * after appends and about once a second), with the store lock held. By age:
 * a segment goes once its newest chunk is older than max_seconds. By size:
 * the oldest closed segment of any stream first; a segment a stream is
 * writing only when no closed one is left. Segments are small against the
 * size bound (diode_store_segment_bytes()), so retention removes the oldest
 * whole chunks a small part of the store at a time. See docs/architecture.md,
 * "On-disk store", Retention.
 */
#include "diode-store-private.h"

#include <glib/gstdio.h>

/* Removes segment @i of @st (lock held on entry, released and taken again). */
static void
remove_segment (DiodeStore *s, StoreStream *st, guint i)
{
  StoreSegment seg = g_array_index (st->segs, StoreSegment, i);
  gchar *p, *ip;

  g_array_remove_index (st->segs, i);
  st->bytes -= MIN (st->bytes, seg.size);
  s->bytes -= MIN (s->bytes, seg.size);
  g_mutex_unlock (&s->lock);
  if (st->w_seg_fd >= 0 && st->w_number == seg.number)
    store_close_active (s, st, FALSE);
  if (st->w_number == seg.number)
    st->w_resume = FALSE;
  p = store_seg_path (st, seg.number, "seg");
  ip = store_seg_path (st, seg.number, "idx");
  g_unlink (p);
  g_unlink (ip);
  g_debug ("store: retention removed %s", p);
  g_free (p);
  g_free (ip);
  g_mutex_lock (&s->lock);
}

/* TRUE if @seg is the segment @st is writing: open, or closed only to give
 * back its fds (its next append goes on in it). Writer thread. */
static gboolean
is_active (StoreStream *st, const StoreSegment *seg)
{
  return st->w_number == seg->number && (st->w_seg_fd >= 0 || st->w_resume);
}

/* The stream whose oldest segment is the oldest of the store (by the wall
 * time of its newest chunk), among segments holding chunks; @active: among
 * the segments streams are writing (else among the closed ones). Lock held. */
static StoreStream *
oldest_stream (DiodeStore *s, gboolean active)
{
  StoreStream *oldest = NULL;
  guint64 oldest_end = G_MAXUINT64;
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    StoreStream *st = v;
    StoreSegment *seg;

    if (st->segs->len == 0)
      continue;
    seg = &g_array_index (st->segs, StoreSegment, 0);
    if (is_active (st, seg) != active)
      continue;
    /* a closed segment without chunks (a crash right after its creation)
     * holds nothing: it goes first, it must not keep the closed segments
     * behind it from going */
    if (!active && seg->n_chunks == 0)
      return st;
    if (seg->n_chunks > 0 && seg->wall_end < oldest_end) {
      oldest = st;
      oldest_end = seg->wall_end;
    }
  }
  return oldest;
}

/* Whole segments, oldest first: by age (its newest chunk older than
 * max_seconds), then by total size. Segments are small against max_bytes
 * (diode_store_segment_bytes()), so the size bound removes a small part of
 * the store at a time. A segment a stream is writing goes by size only when
 * no closed segment (of any stream) is left: then the one with the oldest
 * chunks is closed (the stream's next chunk begins a new segment) and
 * removed. Lock held. */
void
store_retention (DiodeStore *s)
{
  gint64 now = g_get_real_time ();
  GHashTableIter it;
  gpointer v;

  if (s->limits.max_seconds > 0) {
    guint64 horizon = (guint64) now > s->limits.max_seconds * G_USEC_PER_SEC
        ? (guint64) now - s->limits.max_seconds * G_USEC_PER_SEC : 0;

    GPtrArray *expired = g_ptr_array_new ();
    guint i;

    /* remove_segment() drops the lock: collect first, so no iterator is
     * held over it (a begin() may add a stream meanwhile) */
    g_hash_table_iter_init (&it, s->streams);
    while (g_hash_table_iter_next (&it, NULL, &v))
      g_ptr_array_add (expired, v);
    for (i = 0; i < expired->len; i++) {
      StoreStream *st = g_ptr_array_index (expired, i);

      /* every chunk of it is older than max_seconds: even the segment
       * being written goes (its stream has not written for that long) */
      while (st->segs->len > 0) {
        StoreSegment *seg = &g_array_index (st->segs, StoreSegment, 0);

        if (seg->n_chunks == 0 || seg->wall_end >= horizon)
          break;
        remove_segment (s, st, 0);
      }
    }
    g_ptr_array_unref (expired);
  }
  while (s->limits.max_bytes > 0 && s->bytes > s->limits.max_bytes) {
    StoreStream *oldest = oldest_stream (s, FALSE);

    if (oldest == NULL)
      oldest = oldest_stream (s, TRUE);
    if (oldest == NULL)
      break;
    remove_segment (s, oldest, 0);
  }
}
