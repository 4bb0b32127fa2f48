/* gst-diode — the relay serves recordings: the replay cursor
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay". A SUBSCRIBE with a start mode other
 * than LIVE (or a LIVE one for a finished recording) starts where the
 * target lands: in the store (diode_store_find) when the stream is stored
 * here, else in the ring (diode_ring_find_time and friends). A store start
 * makes the viewer a *replay cursor*: it is fed the stored chunks one after
 * the other, each read on a GThreadPool (never on the I/O thread) and
 * handed back to the I/O thread, at most one chunk read ahead, and moves
 * onto the ring (diode_cursor_seek_seq) when the next seq it needs is in
 * the ring, so it passes to live with no gap and no duplicate. Every chunk
 * a cursor holds counts against a relay-wide bound (replay_max_bytes,
 * diode_stored_chunk_cost): over it, new reads wait their turn.
 *
 * relay_chunk_get() is the chunk tier function: the local store here; the
 * peers helper adds peers and the upstream inside it. What is held and
 * who may see it (relay_store_meta, relay_replay_allowed) and the byte
 * bound (replay_hold/replay_release) are shared with RANGE and FETCH
 * (diode-relay-fetch.c).
 *
 * Runs on the relay's I/O thread, except the pool's jobs, which touch
 * only the store and hand their result back through the relay's context.
 *
 * This file: the replay cursor (reads ahead, frames out, onto the ring).
 * Where a SUBSCRIBE with a start begins, the pool's chunk reads and what
 * is held: diode-relay-replay-start.c.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-replay.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* the replay cursor */




/* The relay-wide replay bound (--replay-bytes) counts what is held
 * (replay_hold) and what reads in flight will land (a slot each, reserved
 * when the read is dispatched: replay_admit, given back when it lands or
 * is dropped: replay_unreserve). A read is dispatched only while held +
 * reserved is under the bound, so the total stays under the bound plus
 * one chunk (a chunk bigger than its slot adds its excess once; the slot
 * grows to it). Requests over the bound wait in r->replay_waiting, in
 * order, and are resumed as bytes come free (replay_drain). */

static void replay_drain (DiodeRelay * r);

void
replay_hold (DiodeRelay * r, DiodeStoredChunk * ch)
{
  gsize cost = diode_stored_chunk_cost (ch);

  r->replay_bytes += cost;
  r->replay_slot = MAX (r->replay_slot, cost);
}

static guint64
replay_used (DiodeRelay * r)
{
  return r->replay_bytes + r->replay_reserved;
}

/* May request @id dispatch a read now? TRUE: a slot is reserved in
 * *@reserved. FALSE: it waits its turn (*@queued, in r->replay_waiting).
 * When nothing at all is held or reserved a read always goes (a chunk
 * bigger than the bound must not stop replay for good). Newcomers queue
 * behind those waiting already. */
gboolean
replay_admit (DiodeRelay * r, guint id, gsize * reserved, gboolean * queued)
{
  guint64 used = replay_used (r);

  if (*queued)
    return FALSE;
  if (*reserved)
    return TRUE;
  if (used > 0 && (used >= r->replay_max_bytes || (!r->replay_draining
              && !g_queue_is_empty (&r->replay_waiting)))) {
    *queued = TRUE;
    g_queue_push_tail (&r->replay_waiting, GUINT_TO_POINTER (id));
    return FALSE;
  }
  *reserved = MAX (r->replay_slot, (gsize) REPLAY_SLOT_MIN);
  r->replay_reserved += *reserved;
  return TRUE;
}

/* A read landed or was dropped: its slot is free. */
void
replay_unreserve (DiodeRelay * r, gsize * reserved)
{
  if (!*reserved)
    return;
  r->replay_reserved = r->replay_reserved > *reserved ?
      r->replay_reserved - *reserved : 0;
  *reserved = 0;
  replay_drain (r);
}

/* A chunk let go: its bytes are free for the reads waiting for them. */
void
replay_release (DiodeRelay * r, DiodeStoredChunk * ch)
{
  gsize cost;

  if (!ch)
    return;
  cost = diode_stored_chunk_cost (ch);
  r->replay_bytes = r->replay_bytes > cost ? r->replay_bytes - cost : 0;
  diode_stored_chunk_unref (ch);
  replay_drain (r);
}

/* Those waiting, oldest first, while there is room. Not re-entered: a
 * resumed request that frees bytes (it moved onto the ring) lets this
 * loop go on. */
static void
replay_drain (DiodeRelay * r)
{
  if (r->replay_draining)
    return;
  r->replay_draining = TRUE;
  while (!g_queue_is_empty (&r->replay_waiting)
      && (replay_used (r) < r->replay_max_bytes || replay_used (r) == 0)) {
    gpointer id = g_queue_pop_head (&r->replay_waiting);
    Replay *w = g_hash_table_lookup (r->replays, id);
    Fetch *f = w ? NULL : g_hash_table_lookup (r->fetches, id);

    if (w) {
      Conn *c = w->conn;

      w->queued = FALSE;
      replay_maybe_read (w);
      /* it may have moved onto the ring: nothing else flushes it if the
       * stream is quiet */
      if (c && !c->replay && !c->dead)
        conn_flush (c);
    } else if (f) {
      fetch_resume (f);
    }
  }
  r->replay_draining = FALSE;
}

void
replay_free (DiodeRelay * r, Replay * rp)
{
  g_hash_table_remove (r->replays, GUINT_TO_POINTER (rp->id));
  if (rp->conn)
    rp->conn->replay = NULL;
  replay_release (r, rp->cur);
  replay_release (r, rp->ahead);
  replay_unreserve (r, &rp->reserved);
  if (rp->subscribe)
    g_bytes_unref (rp->subscribe);
  g_free (rp->key);
  g_free (rp->name);
  g_free (rp);
}

void
replay_conn_gone (Conn * c)
{
  if (c->replay) {
    c->replay->conn = NULL;
    replay_free (c->relay, c->replay);
  }
}


/* The viewer is told where it starts (SUBSCRIBE_OK, v3 block). */
static void
replay_subscribe_ok (Conn * c, const gchar * name, guint64 first_seq,
    guint64 start_time, guint8 state, Stream * s, const DiodeStoreMeta * meta)
{
  DiodeRelay *r = c->relay;
  DiodeSubscribeOkArgs a = { 0 };
  gchar **path = NULL, **allow = NULL;
  GError *err = NULL;
  Stream tmp;
  gboolean have_tmp = FALSE;

  a.stream = name;
  a.first_seq = first_seq;
  a.stream_state = state;
  a.start_time = start_time;
  if (s && s->has_policy) {
    a.publisher = s->owner;
    a.access = s->access;
    a.fleet = s->fleet;
    allow = stream_allow_list (s);
    path = stream_path_out (r, s);
  } else if (meta && meta->name) {
    meta_policy_stream (&tmp, meta);
    have_tmp = TRUE;
    a.publisher = meta->owner;
    a.access = meta->access;
    a.fleet = tmp.fleet;
    allow = stream_allow_list (&tmp);
    path = stream_path_out (r, &tmp);
  }
  a.allow = (const gchar * const *) allow;
  a.path = (const gchar * const *) path;
  conn_queue (c, diode_msg_encode_subscribe_ok_args (&a,
          diode_session_get_version (c->session),
          diode_session_get_role (c->session)));
  if (!diode_session_sent (c->session, DIODE_MSG_SUBSCRIBE_OK, 0, &err)) {
    g_warning ("session refused SUBSCRIBE_OK: %s", err->message);
    g_clear_error (&err);
  }
  g_free (allow);
  g_strfreev (path);
  if (have_tmp)
    g_hash_table_unref (tmp.allow);
}

/* The next seq the cursor needs is in the ring and close enough to the
 * live edge (under half the slow-viewer limit behind it), or the store
 * has nothing more: move onto the ring, after the last frame sent. */
static gboolean
replay_try_ring (Replay * rp, gboolean store_done)
{
  Conn *c = rp->conn;
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, rp->name);
  DiodeCursor probe;
  DiodeChunk *at;
  guint index;
  guint64 seq = rp->next_seq;
  gboolean gap = FALSE;

  /* A live stream's ring; an ended one's too while it still holds the
   * next seq and the store said it has nothing there (@store_done): right
   * after an EOS the store's writer may not have written the last chunks
   * yet (they are in its queue), and the ring has them. Otherwise an ended
   * stream is read from the store, as it is kept. */
  if (!s || rp->cur || rp->ahead || !diode_ring_get_n_chunks (s->ring)
      || (!store_done && !stream_live_here (s)))
    return FALSE;
  if (!diode_ring_find_seq (s->ring, seq, &at, &index)) {
    /* The store ended before the ring starts (it missed chunks: a full
     * queue, a failed disk): go on at the ring's oldest start, a gap the
     * viewer sees in the seqs. Only for a live stream: an ended one's
     * missing chunks may still be on their way to the disk. */
    DiodeChunk *first = diode_ring_earliest_chunk (s->ring);

    if (!store_done || !first || first->first_seq < seq
        || !stream_live_here (s))
      return FALSE;
    seq = first->first_seq;
    gap = TRUE;
  }
  diode_cursor_init (&probe);
  if (!diode_cursor_seek_seq (&probe, s->ring, seq))
    return FALSE;
  if (!store_done && diode_cursor_backlog (&probe, s->ring) >
      r->soft_limit / 2) {
    diode_cursor_clear (&probe);
    return FALSE;
  }
  /* Caps and headers in force came with the stored chunks (the ring's
   * inline changes are in them too): no prelude, no duplicate. After a gap
   * the prelude comes again, as after any skip. */
  if (!gap)
    probe.prelude = 0;
  else
    relay_log (r, RELAY_LOG_SLOW, "replay viewer %s (%s) of '%s': seqs %"
        G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " are neither stored nor "
        "buffered; going on at %" G_GUINT64_FORMAT, c->address, c->peer,
        s->name, rp->next_seq, seq - 1, seq);
  diode_cursor_clear (&c->cursor);
  c->cursor = probe;
  g_mutex_lock (&r->lock);
  g_ptr_array_add (s->viewers, c);
  g_mutex_unlock (&r->lock);
  stream_viewer_added (s, c);
  c->stream = s;
  s->linger_until = 0;
  g_info ("replay viewer %s (%s) of '%s' reached the ring at seq %"
      G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT " stored chunks",
      c->address, c->peer, s->name, seq, rp->chunks);
  replay_free (r, rp);
  return TRUE;
}

/* Ask for the next chunk if the cursor may hold one more. */
void
replay_maybe_read (Replay * rp)
{
  Conn *c = rp->conn;
  DiodeRelay *r;

  if (!c || c->dead || rp->reading || rp->ahead || rp->queued || rp->idle)
    return;
  /* nothing follows a finished recording's EOS chunk: no read (a read
   * past it would go to the peers and the upstream, for nothing) */
  if (rp->cur && (rp->cur->hdr.flags & DIODE_CHUNK_EOS))
    return;
  r = c->relay;
  if (rp->started && replay_try_ring (rp, FALSE))
    return;
  /* The relay-wide bound: a read lands a chunk in memory. A cursor that
   * holds nothing may read when nothing at all is held (a chunk bigger
   * than the bound must not stop replay for good). */
  if (!replay_admit (r, rp->id, &rp->reserved, &rp->queued))
    return;
  rp->reading = TRUE;
  if (rp->find) {
    /* the SUBSCRIBE's first read: where the start lands */
    rp->find = FALSE;
    replay_push_find (r, rp);
    return;
  }
  relay_chunk_get (r, rp->key, rp->name, rp->next_seq, replay_on_chunk,
      GUINT_TO_POINTER (rp->id));
}

/* Every tier had the chunk at next_seq damaged: never served; the cursor
 * goes on at the next good chunk (which comes with DISCONT). */
static void
replay_skip_damaged (Replay * rp)
{
  Conn *c = rp->conn;

  rp->skipped++;
  c->relay->replay_damaged++;
  relay_log (c->relay, RELAY_LOG_STREAM, "'%s': the stored chunk at seq %"
      G_GUINT64_FORMAT " is damaged; replay viewer %s (%s) skips to the "
      "next chunk (a gap in its seqs)", rp->name, rp->next_seq, c->address,
      c->peer);
  rp->reading = TRUE;
  /* the read goes on: it keeps a slot (admitted already) */
  rp->reserved = MAX (c->relay->replay_slot, (gsize) REPLAY_SLOT_MIN);
  c->relay->replay_reserved += rp->reserved;
  relay_chunk_skip_damaged (c->relay, rp->key, rp->next_seq, replay_on_chunk,
      GUINT_TO_POINTER (rp->id));
}

/* A resume no tier could fill: its SUBSCRIBE goes to the live path
 * (which joins where it always did: start_seq if the ring has it by now,
 * else the latest keyframe). */
static void
replay_resume_give_up (Replay * rp)
{
  Conn *c = rp->conn;
  GBytes *again = g_bytes_ref (rp->subscribe);

  g_info ("viewer %s (%s) of '%s': no tier holds seq %" G_GUINT64_FORMAT
      "; the live path decides", c->address, c->peer, rp->name,
      rp->next_seq);
  c->viewing = FALSE;
  replay_free (c->relay, rp);
  relay_subscribe_retry (c, again);
  g_bytes_unref (again);
}

/* The start the store found (@ch, NULL: none) against the ring's: the
 * store's writer works behind the ring (chunks queued, not yet on disk;
 * after an EOS, or a live recording's newest chunks), so the target may be
 * held by the ring only. The ring wins when it holds an earlier chunk for
 * EARLIEST and AFTER, or a later one for BEFORE and NEAREST that is not
 * just its oldest (a target older than the ring lands there; the store's
 * answer is then the better one). Then the viewer is a ring viewer from
 * that seq (@ch is dropped) and TRUE. */
static gboolean
replay_start_on_ring (Replay * rp, Stream * s, DiodeStoredChunk * ch)
{
  Conn *c = rp->conn;
  DiodeChunk *at;
  gboolean ring;

  if (rp->remote || !s || !diode_ring_get_n_chunks (s->ring))
    return FALSE;
  at = ring_find_start (s, rp->mode, rp->value, rp->snap);
  if (!at)
    return FALSE;
  if (!ch)
    ring = TRUE;
  else if (rp->mode == DIODE_START_EARLIEST
      || rp->snap == DIODE_SNAP_AFTER)
    ring = at->first_seq < ch->hdr.first_seq;
  else
    ring = at->first_seq > ch->hdr.last_seq
        && at != diode_ring_earliest_chunk (s->ring);
  if (!ring)
    return FALSE;
  if (ch)
    diode_stored_chunk_unref (ch);
  g_info ("replay viewer %s (%s) of '%s' starts from the ring at seq %"
      G_GUINT64_FORMAT " (not stored yet)", c->address, c->peer, rp->name,
      at->first_seq);
  c->viewing = FALSE;
  c->start_seq = at->first_seq;
  c->join_tail = FALSE;
  replay_free (c->relay, rp);
  s->linger_until = 0;
  stream_attach_conn (c, s);
  return TRUE;
}

static void replay_on_chunk_do (DiodeRelay * r, DiodeStoredChunk * ch,
    const GError * error, gpointer user_data);

/* A read landed: its slot is given back (in _do, before the chunk is
 * held), then those waiting get the room that is left, even when the read
 * brought nothing. */
void
replay_on_chunk (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
{
  replay_on_chunk_do (r, ch, error, user_data);
  replay_drain (r);
}

static void
replay_on_chunk_do (DiodeRelay * r, DiodeStoredChunk * ch,
    const GError * error, gpointer user_data)
{
  Replay *rp = g_hash_table_lookup (r->replays, user_data);
  Conn *c;
  Stream *s;
  DiodeStoreMeta meta;
  gchar *why = NULL;
  gboolean have_meta;

  if (!rp || !rp->conn || rp->conn->dead) {
    if (ch)
      diode_stored_chunk_unref (ch);
    return;
  }
  c = rp->conn;
  rp->reading = FALSE;
  /* landed: its slot goes; what it holds is counted by replay_hold */
  r->replay_reserved = r->replay_reserved > rp->reserved ?
      r->replay_reserved - rp->reserved : 0;
  rp->reserved = 0;
  if (ch && rp->started && (ch->hdr.last_seq < rp->next_seq
          || ch->hdr.last_seq == G_MAXUINT64)) {
    /* A chunk that does not take the cursor forward (a tier answered an
     * older range, or one that ends the seq space): reading on from it
     * would ask for the same seqs again and again. The replay stops. */
    relay_log (r, RELAY_LOG_STREAM, "replay viewer %s (%s) of '%s': a "
        "chunk %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " for seq %"
        G_GUINT64_FORMAT " does not advance; replay ends", c->address,
        c->peer, rp->name, ch->hdr.first_seq, ch->hdr.last_seq,
        rp->next_seq);
    diode_stored_chunk_unref (ch);
    c->viewing = FALSE;
    replay_free (r, rp);
    return;
  }
  s = stream_lookup (r, rp->name);
  have_meta = relay_store_meta (r, rp->name, &meta);
  /* a recording held elsewhere: the policy its RANGE_OK gave */
  if (!have_meta && rp->remote)
    have_meta = relay_peers_remote_meta (r, rp->key, &meta);
  /* The policy may have changed since the last chunk: checked per chunk,
   * so a replay viewer is cut off within one chunk, like a live one. */
  if (!relay_replay_allowed (c, s, have_meta ? &meta : NULL, &why)) {
    relay_log (r, RELAY_LOG_REFUSED, "cutting off replay viewer %s (%s): %s",
        c->address, c->peer, why);
    if (ch)
      diode_stored_chunk_unref (ch);
    c->viewing = FALSE;
    replay_free (r, rp);
    conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    diode_store_meta_clear (&meta);
    return;
  }
  if (rp->resume && !rp->started
      && (!ch || ch->hdr.first_seq > rp->next_seq)) {
    /* No tier has the seq it resumes at: the live path, as before. */
    if (ch)
      diode_stored_chunk_unref (ch);
    diode_store_meta_clear (&meta);
    replay_resume_give_up (rp);
    return;
  }
  if (!ch) {
    gboolean damaged = g_error_matches (error, DIODE_STORE_ERROR,
        DIODE_STORE_ERROR_DAMAGED);
    gboolean missing = g_error_matches (error, DIODE_STORE_ERROR,
        DIODE_STORE_ERROR_NOT_FOUND);

    if (damaged) {
      replay_skip_damaged (rp);
    } else if (!rp->started && !missing) {
      gchar *text = g_strdup_printf ("the store cannot serve '%s': %s",
          rp->name, error ? error->message : "unknown error");

      relay_log (r, RELAY_LOG_STREAM, "replay viewer %s (%s): %s",
          c->address, c->peer, text);
      c->viewing = FALSE;
      replay_free (r, rp);
      conn_send_error (c, DIODE_ERR_STORE_FAILED, text);
      g_free (text);
    } else if (!rp->started && replay_start_on_ring (rp, s, NULL)) {
      /* nothing stored yet (the writer has it queued): the ring has it */
    } else if (!rp->started) {
      /* Nothing stored to start at (retention took it meanwhile): the
       * live path decides, as for a LIVE SUBSCRIBE. */
      gchar *name = g_strdup (rp->name);

      c->viewing = FALSE;
      replay_free (r, rp);
      relay_subscribe_live (c, s, name);
      g_free (name);
    } else if (!replay_try_ring (rp, TRUE)) {
      /* Nothing more stored yet, the ring does not have it either: a
       * recording still being written, or one that was cut off. */
      rp->idle = TRUE;
      if (error && !missing)
        relay_log (r, RELAY_LOG_STREAM, "replay of '%s' for %s: %s",
            rp->name, c->address, error->message);
    }
    diode_store_meta_clear (&meta);
    return;
  }
  if (!rp->started && replay_start_on_ring (rp, s, ch)) {
    diode_store_meta_clear (&meta);
    return;
  }
  replay_hold (r, ch);
  if (!rp->started) {
    rp->started = TRUE;
    replay_subscribe_ok (c, rp->name, MAX (ch->hdr.first_seq,
            rp->sent_seq + 1), ch->hdr.time,
        relay_stream_state (r, s, have_meta ? &meta : NULL), s,
        have_meta ? &meta : NULL);
    g_info ("replay viewer %s (%s) joined '%s' at stored seq %"
        G_GUINT64_FORMAT, c->address, c->peer, rp->name, ch->hdr.first_seq);
    rp->cur_prelude = TRUE;
  }
  diode_store_meta_clear (&meta);
  rp->chunks++;
  if (ch->hdr.flags & DIODE_CHUNK_DISCONT) {
    /* Something is missing before it (a damaged chunk skipped): caps and
     * headers again, as after any skip; the viewer sees the seq gap. */
    if (rp->cur)
      rp->ahead_prelude = TRUE;
    else
      rp->cur_prelude = TRUE;
  }
  if (!rp->cur) {
    rp->cur = ch;
    rp->index = 0;
  } else {
    rp->ahead = ch;
  }
  rp->next_seq = ch->hdr.last_seq + 1;
  rp->idle = FALSE;
  conn_flush (c);
}

/* The seq of a MEDIA frame (its first payload field), 0 for others. */
static guint64
frame_media_seq (GBytes * f)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (f, &n);
  guint64 be;

  if (n < DIODE_FRAME_HEADER_SIZE + 8 || d[0] != DIODE_MSG_MEDIA)
    return 0;
  /* frames may be slices of a stored record: no alignment assumed */
  memcpy (&be, d + DIODE_FRAME_HEADER_SIZE, sizeof (be));
  return GUINT64_FROM_BE (be);
}

/* conn_flush: the next frame of a replay cursor (a new ref), or NULL
 * while it waits for a read. Moves the viewer onto the ring when it gets
 * there (c->replay is NULL after that). */
GBytes *
replay_next_frame (Conn * c)
{
  Replay *rp = c->replay;
  DiodeRelay *r = c->relay;

  for (;;) {
    DiodeStoredChunk *ch = rp->cur;

    if (!ch) {
      replay_maybe_read (rp);
      return NULL;
    }
    if (!rp->cur_prelude && rp->index < ch->hdr.n_prelude)
      rp->index = ch->hdr.n_prelude;
    if (rp->index < ch->frames->len) {
      gboolean prelude = rp->index < ch->hdr.n_prelude;
      GBytes *f = g_ptr_array_index (ch->frames, rp->index++);
      guint64 seq = prelude ? 0 : frame_media_seq (f);

      /* A chunk that overlaps what was sent (a read that landed inside a
       * chunk, a tier that cut chunks differently): each MEDIA once. */
      if (seq && seq <= rp->sent_seq)
        continue;
      if (seq)
        rp->sent_seq = seq;
      if (!rp->ahead)
        replay_maybe_read (rp);
      return g_bytes_ref (f);
    }
    /* chunk done */
    if (ch->hdr.flags & DIODE_CHUNK_EOS) {
      /* A finished recording ends here: its EOS frame was the last one. */
      g_info ("replay viewer %s (%s) reached the end of '%s'", c->address,
          c->peer, rp->name);
      c->viewing = FALSE;
      replay_free (r, rp);
      return NULL;
    }
    rp->cur = rp->ahead;
    rp->cur_prelude = rp->ahead_prelude;
    rp->ahead = NULL;
    rp->ahead_prelude = FALSE;
    rp->index = 0;
    replay_release (r, ch);
    if (!c->replay)
      return NULL;
    if (!rp->cur) {
      if (replay_try_ring (rp, FALSE))
        return NULL;
      replay_maybe_read (rp);
      return NULL;
    }
  }
}

/* relay_tick: cursors that found nothing more stored look again. */
void
relay_replay_tick (DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;
  GPtrArray *again = g_ptr_array_new ();
  guint i;

  if (now - r->replay_tick_at < REPLAY_RETRY_MS * 1000)
    return;
  r->replay_tick_at = now;
  g_hash_table_iter_init (&it, r->replays);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (((Replay *) v)->idle)
      g_ptr_array_add (again, GUINT_TO_POINTER (((Replay *) v)->id));
  for (i = 0; i < again->len; i++) {
    Replay *rp = g_hash_table_lookup (r->replays, again->pdata[i]);

    if (!rp || !rp->conn)
      continue;
    rp->idle = FALSE;
    if (!replay_try_ring (rp, TRUE))
      replay_maybe_read (rp);
  }
  g_ptr_array_unref (again);
}

/* The "replay" member of the stats (docs/stats.md). */
void
relay_replay_stats (JsonBuilder * b, DiodeRelay * r)
{
  json_builder_set_member_name (b, "replay");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "viewers");
  json_builder_add_int_value (b, g_hash_table_size (r->replays));
  json_builder_set_member_name (b, "fetches");
  json_builder_add_int_value (b, g_hash_table_size (r->fetches));
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, (gint64) r->replay_bytes);
  json_builder_set_member_name (b, "max_bytes");
  json_builder_add_int_value (b, (gint64) MIN (r->replay_max_bytes,
          (guint64) G_MAXINT64));
  json_builder_set_member_name (b, "reserved");
  json_builder_add_int_value (b, (gint64) r->replay_reserved);
  json_builder_set_member_name (b, "waiting");
  json_builder_add_int_value (b, g_queue_get_length (&r->replay_waiting));
  json_builder_set_member_name (b, "damaged");
  json_builder_add_int_value (b, (gint64) r->replay_damaged);
  json_builder_end_object (b);
}

