/* gst-diode — the relay serves recordings: replay viewers, RANGE, FETCH
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
 * peers helper adds peers and the upstream inside it.
 *
 * RANGE answers with the spans held (store + ring); FETCH streams CHUNK +
 * frames + FETCH_END, paced by the socket like a viewer (conn_flush asks
 * fetch_next_frame for the next frame when the socket takes more).
 *
 * Runs on the relay's I/O thread, except the pool's jobs, which touch
 * only the store and hand their result back through the relay's context.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* chunk reads on the pool */

typedef struct {
  DiodeRelay *relay;
  gchar      *key;
  guint64     seq;
  /* find first (a SUBSCRIBE's start), then read what it found */
  gboolean    find;
  gboolean    skip;             /* the chunk at seq is damaged: the next */
  guint8      mode, snap;
  guint64     value, now_us;
  RelayChunkFunc cb;
  gpointer    user_data;
  DiodeStoredChunk *chunk;
  GError     *error;
} ChunkJob;

static void
chunk_job_free (gpointer p)
{
  ChunkJob *j = p;

  g_clear_pointer (&j->chunk, diode_stored_chunk_unref);
  g_clear_error (&j->error);
  g_free (j->key);
  g_free (j);
}

/* On the I/O thread: the answer. */
static gboolean
chunk_job_done (gpointer p)
{
  ChunkJob *j = p;
  DiodeStoredChunk *chunk = j->chunk;

  j->chunk = NULL;
  j->cb (j->relay, chunk, j->error, j->user_data);
  return G_SOURCE_REMOVE;
}

/* Hands @j to the I/O thread (a source on the relay's context; when the
 * relay stops first, the context's end frees the job). */
static void
chunk_job_return (ChunkJob * j)
{
  GSource *src = g_idle_source_new ();

  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, chunk_job_done, j, chunk_job_free);
  g_source_attach (src, j->relay->context);
  g_source_unref (src);
}

/* A damaged chunk at @seq (the read there said so): the first good chunk
 * after it. The store answers a read inside a damaged chunk with DAMAGED
 * and one past it with the next chunk, so: probe forward, doubling the
 * step, then halve back to the first seq whose read is not damaged (a few
 * reads, once per damaged chunk; never skips a good chunk). */
static DiodeStoredChunk *
store_read_after_damage (DiodeStore * store, const gchar * key, guint64 seq,
    GError ** error)
{
  guint64 lo = seq, hi = 0, step = 1;
  DiodeStoredChunk *found = NULL;
  GError *err = NULL;

  for (;;) {
    guint64 p = lo + step;
    DiodeStoredChunk *c = diode_store_read (store, key, p, &err);

    if (c) {
      found = c;
      hi = p;
      break;
    }
    if (!g_error_matches (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED)) {
      hi = p;
      break;
    }
    g_clear_error (&err);
    lo = p;
    step = step < G_MAXUINT32 ? step * 2 : step;
  }
  while (hi - lo > 1) {
    guint64 mid = lo + (hi - lo) / 2;
    DiodeStoredChunk *c = diode_store_read (store, key, mid, NULL);

    if (c) {
      g_clear_pointer (&found, diode_stored_chunk_unref);
      found = c;
      hi = mid;
    } else {
      /* damaged there (or gone meanwhile): the answer lies above */
      lo = mid;
    }
  }
  if (found) {
    g_clear_error (&err);
    /* something is missing before it: the reader sees DISCONT */
    found->hdr.flags |= DIODE_CHUNK_DISCONT;
    return found;
  }
  if (err)
    g_propagate_error (error, err);
  else
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
        "nothing stored after the damaged chunk at seq %" G_GUINT64_FORMAT,
        seq);
  return NULL;
}

/* On a pool thread: blocking store calls only. */
static void
chunk_job_run (gpointer data, gpointer user_data)
{
  ChunkJob *j = data;
  DiodeStore *store = j->relay->store;

  if (!store) {
    g_set_error (&j->error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
        "this relay has no store");
  } else if (j->skip) {
    j->chunk = store_read_after_damage (store, j->key, j->seq, &j->error);
  } else {
    if (j->find) {
      j->seq = diode_store_find (store, j->key, j->mode, j->value, j->snap,
          j->now_us);
      if (!j->seq)
        g_set_error (&j->error, DIODE_STORE_ERROR,
            DIODE_STORE_ERROR_NOT_FOUND, "nothing stored");
    }
    if (!j->error)
      j->chunk = diode_store_read (store, j->key, j->seq, &j->error);
    if (!j->chunk && !j->error)
      g_set_error (&j->error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
          "nothing stored at or after seq %" G_GUINT64_FORMAT, j->seq);
  }
  chunk_job_return (j);
}

static void
chunk_job_push (DiodeRelay * r, ChunkJob * j)
{
  GError *err = NULL;

  if (!r->replay_pool) {
    /* A few threads: reads are disk-bound, and a slow disk must not hold
     * up every viewer behind one read. */
    r->replay_pool = g_thread_pool_new (chunk_job_run, NULL,
        REPLAY_THREADS, FALSE, &err);
    if (!r->replay_pool) {
      g_warning ("cannot start the store read threads: %s", err->message);
      g_clear_error (&err);
    }
  }
  if (!r->replay_pool || !g_thread_pool_push (r->replay_pool, j, &err)) {
    if (!j->error)
      g_set_error (&j->error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
          "store read threads unavailable");
    g_clear_error (&err);
    chunk_job_return (j);
  }
}

void
relay_chunk_get_local (DiodeRelay * relay, const gchar * key,
    guint64 seq, RelayChunkFunc cb, gpointer user_data)
{
  ChunkJob *j = g_new0 (ChunkJob, 1);

  j->relay = relay;
  j->key = g_strdup (key);
  j->seq = seq;
  j->cb = cb;
  j->user_data = user_data;
  chunk_job_push (relay, j);
}

/* Every tier said DAMAGED at @seq: the first good chunk after the damage
 * in this relay's store, with DIODE_CHUNK_DISCONT set in its header (or
 * NULL + NOT_FOUND). */
void
relay_chunk_skip_damaged (DiodeRelay * relay, const gchar * key,
    guint64 seq, RelayChunkFunc cb, gpointer user_data)
{
  ChunkJob *j = g_new0 (ChunkJob, 1);

  j->relay = relay;
  j->key = g_strdup (key);
  j->seq = seq;
  j->skip = TRUE;
  j->cb = cb;
  j->user_data = user_data;
  chunk_job_push (relay, j);
}

/* The tiers: this relay's store, then (diode-relay-peers.c) the cache of
 * fetched chunks, the peers in order and the upstream, when the local
 * store has nothing, a damaged copy or only a later chunk. */
void
relay_chunk_get (DiodeRelay * relay, const gchar * key, const gchar * name,
    guint64 seq, RelayChunkFunc cb, gpointer user_data)
{
  relay_chunk_get_tiers (relay, key, name, seq, cb, user_data);
}

void
relay_replay_init (DiodeRelay * r)
{
  r->replays = g_hash_table_new (NULL, NULL);
  r->fetches = g_hash_table_new (NULL, NULL);
  g_queue_init (&r->replay_waiting);
  r->replay_max_bytes = DIODE_RELAY_DEFAULT_REPLAY_BYTES;
}

void
relay_replay_stop (DiodeRelay * r)
{
  /* Waits for reads under way; their answers are sources on the relay's
   * context, freed with it. */
  if (r->replay_pool)
    g_thread_pool_free (r->replay_pool, FALSE, TRUE);
  r->replay_pool = NULL;
  /* every connection is closed by now (relay_shutdown_cb) */
  g_queue_clear (&r->replay_waiting);
  r->replay_bytes = 0;
}

/* ------------------------------------------------------------------------ */
/* what is held: the store, the ring */

gboolean
relay_store_meta (DiodeRelay * r, const gchar * name, DiodeStoreMeta * meta)
{
  gchar *key;
  gboolean ok;

  memset (meta, 0, sizeof (*meta));
  if (!r->store)
    return FALSE;
  key = diode_name_key (name, NULL);
  /* the recorder's table (diode-relay-record.c): no disk access */
  ok = key && relay_record_lookup (r, key, meta);
  g_free (key);
  if (ok && !meta->name)
    meta->name = g_strdup (name);
  return ok;
}

/* A stream here with something of it (a source, or frames in the ring). */
static gboolean
stream_live_here (Stream * s)
{
  return s && !s->eos && (s->publisher || s->pull || s->pull_next);
}

guint8
relay_stream_state (DiodeRelay * r, Stream * s, const DiodeStoreMeta * meta)
{
  if (stream_live_here (s))
    return relay_record_state (s) == DIODE_STORE_RECORDING ?
        DIODE_STREAM_LIVE_RECORDED : DIODE_STREAM_LIVE;
  if (meta && meta->name && meta->finished)
    return DIODE_STREAM_RECORDING;
  /* stored, not finished, nobody publishing: a recording cut off (its
   * publisher may come back) */
  if (meta && meta->name)
    return DIODE_STREAM_LIVE_RECORDED;
  return DIODE_STREAM_LIVE;
}

/* The policy of a stored stream, as a Stream the access checks read. */
static void
meta_policy_stream (Stream * tmp, const DiodeStoreMeta * meta)
{
  guint i;

  memset (tmp, 0, sizeof (*tmp));
  tmp->name = meta->name;
  tmp->owner = meta->owner;
  tmp->has_policy = TRUE;
  tmp->access = meta->access;
  tmp->fleet = meta->fleet ? meta->fleet : (gchar *) "";
  tmp->allow = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (i = 0; meta->allow && meta->allow[i]; i++)
    g_hash_table_add (tmp->allow, g_ascii_strdown (meta->allow[i], -1));
}

/* Access for a request on a stored or live stream: exactly as SUBSCRIBE
 * (conn_allowed: role RELAY gets protected/private only when trusted),
 * with the stream's policy when it is live here, else the stored meta's
 * (fail closed: a stored stream always has one). */
gboolean
relay_replay_allowed (Conn * c, Stream * s, const DiodeStoreMeta * meta,
    gchar ** why)
{
  Stream tmp;
  gboolean ok;

  if (s && s->has_policy)
    return conn_allowed (c, s, why);
  if (!meta || !meta->name)
    return TRUE;
  meta_policy_stream (&tmp, meta);
  ok = conn_allowed (c, &tmp, why);
  g_hash_table_unref (tmp.allow);
  return ok;
}

/* The last MEDIA seq of a ring chunk (0: none). */
static guint64
ring_chunk_last_seq (DiodeChunk * ch)
{
  guint i;

  for (i = ch->seqs->len; i > 0; i--) {
    guint64 seq = g_array_index (ch->seqs, guint64, i - 1);

    if (seq)
      return seq;
  }
  return 0;
}

/* The ring's one span: from its oldest chunk holding MEDIA to the live
 * edge. FALSE when it holds no MEDIA. */
static gboolean
ring_span (Stream * s, DiodeSpan * span)
{
  DiodeChunk *ch, *newest;

  if (!s || !s->ring)
    return FALSE;
  for (ch = diode_ring_oldest_chunk (s->ring); ch && !ch->first_seq;
      ch = ch->next);
  newest = diode_ring_newest_chunk (s->ring);
  if (!ch || !newest || !diode_ring_get_last_seq (s->ring))
    return FALSE;
  span->first_seq = ch->first_seq;
  span->last_seq = diode_ring_get_last_seq (s->ring);
  span->first_time = ch->start_time;
  span->end_time = newest->end_time;
  span->wall_start_us = ch->wall_us;
  span->wall_end_us = stream_live_here (s) ? (guint64) g_get_real_time () :
      newest->wall_us;
  return TRUE;
}

static gint
span_cmp (gconstpointer a, gconstpointer b)
{
  const DiodeSpan *x = a, *y = b;

  return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

/* Stored spans + the ring's, merged into contiguous runs, oldest first;
 * at most DIODE_MAX_SPANS (the newest ones). Returns the count. */
guint
relay_spans (DiodeRelay * r, Stream * s, const gchar * key, DiodeSpan * out)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (DiodeSpan));
  DiodeSpan ring, *sp;
  guint n = 0, i;

  if (r->store && key) {
    g_array_set_size (all, DIODE_MAX_SPANS);
    n = diode_store_get_spans (r->store, key, (DiodeSpan *) all->data,
        DIODE_MAX_SPANS);
    g_array_set_size (all, MIN (n, DIODE_MAX_SPANS));
  }
  if (ring_span (s, &ring))
    g_array_append_val (all, ring);
  g_array_sort (all, span_cmp);
  n = 0;
  for (i = 0; i < all->len; i++) {
    sp = &g_array_index (all, DiodeSpan, i);
    if (n && sp->first_seq <= g_array_index (all, DiodeSpan, n - 1).last_seq
        + 1) {
      DiodeSpan *last = &g_array_index (all, DiodeSpan, n - 1);

      if (sp->last_seq > last->last_seq) {
        last->last_seq = sp->last_seq;
        last->end_time = sp->end_time;
        last->wall_end_us = MAX (last->wall_end_us, sp->wall_end_us);
      }
      continue;
    }
    g_array_index (all, DiodeSpan, n++) = *sp;
  }
  i = n > DIODE_MAX_SPANS ? n - DIODE_MAX_SPANS : 0;
  n -= i;
  if (n)
    memcpy (out, &g_array_index (all, DiodeSpan, i), n * sizeof (DiodeSpan));
  g_array_unref (all);
  return n;
}

/* ------------------------------------------------------------------------ */
/* the replay cursor */

struct _Replay {
  guint       id;               /* key in r->replays: reads hold the id */
  Conn       *conn;
  gchar      *key, *name;
  DiodeStoredChunk *cur;        /* being sent */
  guint       index;            /* next frame of cur */
  gboolean    cur_prelude;      /* send cur's prelude frames */
  DiodeStoredChunk *ahead;      /* read ahead (one at most) */
  gboolean    ahead_prelude;
  gboolean    reading;          /* a read in flight */
  gboolean    queued;           /* in r->replay_waiting (over the bound) */
  gboolean    idle;             /* nothing more stored yet: tick retries */
  gboolean    started;          /* SUBSCRIBE_OK sent */
  guint64     next_seq;         /* first seq to read next */
  guint64     chunks, skipped;
  /* the SUBSCRIBE, for a fallback to the live path */
  guint8      mode, snap;
  guint64     value;
  /* a recording this relay does not hold: RANGE asked of other relays
   * (diode-relay-peers.c), its chunks fetched through relay_chunk_get */
  gboolean    remote;
  GBytes     *subscribe;        /* the SUBSCRIBE frame, to handle it again
                                   when no other relay has it recorded */
};

static void replay_maybe_read (Replay * rp);
static void fetch_resume (Fetch * f);
static void replay_on_chunk (DiodeRelay * r, DiodeStoredChunk * ch,
    const GError * error, gpointer user_data);

static void
replay_hold (DiodeRelay * r, DiodeStoredChunk * ch)
{
  r->replay_bytes += diode_stored_chunk_cost (ch);
}

/* A chunk let go: its bytes are free for the reads waiting for them. */
static void
replay_release (DiodeRelay * r, DiodeStoredChunk * ch)
{
  gsize cost;

  if (!ch)
    return;
  cost = diode_stored_chunk_cost (ch);
  r->replay_bytes = r->replay_bytes > cost ? r->replay_bytes - cost : 0;
  diode_stored_chunk_unref (ch);
  while (!g_queue_is_empty (&r->replay_waiting)
      && r->replay_bytes < r->replay_max_bytes) {
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
}

static void
replay_free (DiodeRelay * r, Replay * rp)
{
  g_hash_table_remove (r->replays, GUINT_TO_POINTER (rp->id));
  if (rp->conn)
    rp->conn->replay = NULL;
  replay_release (r, rp->cur);
  replay_release (r, rp->ahead);
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

  /* Only a live stream's ring: an ended one is wholly in the store (its
   * open chunk went there at EOS), and its Stream may go any time. */
  if (!stream_live_here (s) || rp->cur || rp->ahead)
    return FALSE;
  if (!diode_ring_find_seq (s->ring, seq, &at, &index)) {
    /* The store ended before the ring starts (it missed chunks: a full
     * queue, a failed disk): go on at the ring's oldest start, a gap the
     * viewer sees in the seqs. */
    DiodeChunk *first = diode_ring_earliest_chunk (s->ring);

    if (!store_done || !first || first->first_seq < seq)
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
  c->stream = s;
  s->linger_until = 0;
  g_info ("replay viewer %s (%s) of '%s' reached the ring at seq %"
      G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT " stored chunks",
      c->address, c->peer, s->name, seq, rp->chunks);
  replay_free (r, rp);
  return TRUE;
}

/* Ask for the next chunk if the cursor may hold one more. */
static void
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
  if (r->replay_bytes >= r->replay_max_bytes && r->replay_bytes > 0) {
    rp->queued = TRUE;
    g_queue_push_tail (&r->replay_waiting, GUINT_TO_POINTER (rp->id));
    return;
  }
  rp->reading = TRUE;
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
  relay_chunk_skip_damaged (c->relay, rp->key, rp->next_seq, replay_on_chunk,
      GUINT_TO_POINTER (rp->id));
}

static void
replay_on_chunk (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
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
    } else if (!rp->started) {
      /* Nothing stored to start at (retention took it meanwhile): the
       * live path decides, as for a LIVE SUBSCRIBE. */
      c->viewing = FALSE;
      replay_free (r, rp);
      relay_subscribe_live (c, s);
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
  replay_hold (r, ch);
  if (!rp->started) {
    rp->started = TRUE;
    replay_subscribe_ok (c, rp->name, ch->hdr.first_seq, ch->hdr.time,
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
      GBytes *f = g_bytes_ref (g_ptr_array_index (ch->frames, rp->index++));

      if (!rp->ahead)
        replay_maybe_read (rp);
      return f;
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
  json_builder_set_member_name (b, "waiting");
  json_builder_add_int_value (b, g_queue_get_length (&r->replay_waiting));
  json_builder_set_member_name (b, "damaged");
  json_builder_add_int_value (b, (gint64) r->replay_damaged);
  json_builder_end_object (b);
}

/* ------------------------------------------------------------------------ */
/* SUBSCRIBE with a start */

/* The ring's chunk for a start (no store, or a stream not stored here).
 * NULL: live (a target past the newest keyframe). */
static DiodeChunk *
ring_find_start (Stream * s, guint8 mode, guint64 value, guint8 snap)
{
  DiodeRing *ring = s->ring;
  guint64 now_us = g_get_real_time ();

  switch (mode) {
    case DIODE_START_EARLIEST:
      return diode_ring_earliest_chunk (ring);
    case DIODE_START_BACK:
      if (s->eos) {
        /* a finished stream: back from its end, in its own time */
        DiodeChunk *newest = diode_ring_newest_chunk (ring);
        guint64 end = newest ? newest->end_time : DIODE_TIME_NONE;

        if (end == DIODE_TIME_NONE)
          return diode_ring_earliest_chunk (ring);
        return diode_ring_find_time (ring, end > value ? end - value : 0,
            snap);
      }
      return diode_ring_find_wall (ring, now_us > value / 1000 ?
          now_us - value / 1000 : 0, snap);
    case DIODE_START_WALLCLOCK:
      return diode_ring_find_wall (ring, value, snap);
    case DIODE_START_TIME:
      return diode_ring_find_time (ring, value, snap);
    default:
      return NULL;
  }
}

/* RANGE_OK from a peer or the upstream (or nobody): start the remote
 * replay at the seq the start mode lands on, or hand the SUBSCRIBE back to
 * the live path. */
static void
replay_on_range (DiodeRelay * r, const RelayRange * rr, const gchar * reason,
    gpointer user_data)
{
  Replay *rp = g_hash_table_lookup (r->replays, user_data);
  Conn *c;
  DiodeStoreMeta meta;
  gchar *why = NULL;
  GBytes *again;

  if (!rp || !rp->conn || rp->conn->dead)
    return;
  c = rp->conn;
  rp->reading = FALSE;
  /* A stream live somewhere is the live path's (it pulls it from the
   * upstream) when there is an upstream; a finished recording, or anything
   * held by a peer when there is no upstream, is replayed from there. */
  if (!rr || (rr->stream_state != DIODE_STREAM_RECORDING && r->failover)) {
    g_info ("viewer %s (%s) of '%s': %s; the live path decides",
        c->address, c->peer, rp->name, rr ? "live elsewhere" : reason);
    again = g_bytes_ref (rp->subscribe);
    c->viewing = FALSE;
    replay_free (r, rp);
    relay_subscribe_retry (c, again);
    g_bytes_unref (again);
    return;
  }
  relay_peers_remote_meta (r, rp->key, &meta);
  if (!relay_replay_allowed (c, NULL, &meta, &why)
      || !viewer_pin_allows (c, &(Stream) {.name = meta.name}, meta.owner,
          &why)) {
    relay_log (r, RELAY_LOG_REFUSED, "refused replay viewer %s (%s): %s",
        c->address, c->peer, why);
    c->viewing = FALSE;
    replay_free (r, rp);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    diode_store_meta_clear (&meta);
    return;
  }
  diode_store_meta_clear (&meta);
  rp->next_seq = relay_range_find_start (rr, rp->mode, rp->value,
      g_get_real_time ());
  g_info ("replay viewer %s (%s) of '%s' starts at seq %" G_GUINT64_FORMAT
      " held by %s", c->address, c->peer, rp->name, rp->next_seq,
      rr->from_upstream ? "the upstream" : "a peer");
  replay_maybe_read (rp);
}

/* SUBSCRIBE with a start for a stream this relay holds nothing of: RANGE
 * to the peers, then the upstream (diode-relay-peers.c). */
static gboolean
replay_subscribe_remote (Conn * c, DiodeMsg * m, guint8 mode)
{
  DiodeRelay *r = c->relay;
  Replay *rp = g_new0 (Replay, 1);

  rp->id = ++r->next_replay_id;
  rp->conn = c;
  rp->key = diode_name_key (m->stream, NULL);
  rp->name = g_strdup (m->stream);
  rp->mode = mode;
  rp->snap = m->snap;
  rp->value = m->start_value;
  rp->remote = TRUE;
  rp->subscribe = g_bytes_ref (m->frame);
  g_hash_table_insert (r->replays, GUINT_TO_POINTER (rp->id), rp);
  c->replay = rp;
  c->viewing = TRUE;
  c->stream = NULL;
  diode_cursor_init (&c->cursor);
  rp->reading = TRUE;
  relay_peers_range (r, rp->key, rp->name, replay_on_range,
      GUINT_TO_POINTER (rp->id));
  return TRUE;
}

gboolean
replay_subscribe (Conn * c, DiodeMsg * m, Stream * s)
{
  DiodeRelay *r = c->relay;
  DiodeStoreMeta meta;
  gboolean stored = relay_store_meta (r, m->stream, &meta);
  guint8 mode = m->start_mode;
  Replay *rp;
  ChunkJob *j;

  if (stored && meta.finished && mode == DIODE_START_LIVE
      && !stream_live_here (s) && !m->start_seq)
    mode = DIODE_START_EARLIEST;  /* a finished recording plays from its start */
  if (mode == DIODE_START_LIVE) {
    diode_store_meta_clear (&meta);
    return FALSE;
  }
  if (!stored && !(s && diode_ring_get_n_chunks (s->ring))
      && !stream_live_here (s) && !c->no_remote
      && relay_peers_configured (r)) {
    /* Nothing of it here: other relays may have it recorded. */
    diode_store_meta_clear (&meta);
    return replay_subscribe_remote (c, m, mode);
  }
  if (!stored) {
    /* Without a store: what the ring holds. */
    diode_store_meta_clear (&meta);
    if (s && diode_ring_get_n_chunks (s->ring)) {
      DiodeChunk *at = ring_find_start (s, mode, m->start_value, m->snap);

      c->start_seq = at ? at->first_seq : 0;
      g_info ("viewer %s (%s) starts '%s' (mode %u) from the ring at seq %"
          G_GUINT64_FORMAT, c->address, c->peer, s->name, mode, c->start_seq);
    }
    return FALSE;
  }

  /* Exactly as SUBSCRIBE: a stream live here was checked against its
   * policy already; a stored one is checked against its meta's (fail
   * closed), and a pinned viewer against the stored owner. */
  {
    gchar *why = NULL;

    if (!relay_replay_allowed (c, s, &meta, &why)
        || !viewer_pin_allows (c, s ? s : &(Stream) {.name = meta.name},
            s && s->owner ? s->owner : meta.owner, &why)) {
      relay_log (r, RELAY_LOG_REFUSED, "refused replay viewer %s (%s): %s",
          c->address, c->peer, why);
      conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
      g_free (why);
      diode_store_meta_clear (&meta);
      return TRUE;
    }
  }
  rp = g_new0 (Replay, 1);
  rp->id = ++r->next_replay_id;
  rp->conn = c;
  rp->key = diode_name_key (m->stream, NULL);
  rp->name = g_strdup (m->stream);
  rp->mode = mode;
  rp->snap = m->snap;
  rp->value = m->start_value;
  g_hash_table_insert (r->replays, GUINT_TO_POINTER (rp->id), rp);
  c->replay = rp;
  c->viewing = TRUE;
  c->stream = NULL;
  diode_cursor_init (&c->cursor);

  rp->reading = TRUE;
  j = g_new0 (ChunkJob, 1);
  j->relay = r;
  j->key = g_strdup (rp->key);
  j->find = TRUE;
  j->mode = mode;
  j->value = m->start_value;
  j->snap = m->snap;
  j->now_us = g_get_real_time ();
  j->cb = replay_on_chunk;
  j->user_data = GUINT_TO_POINTER (rp->id);
  chunk_job_push (r, j);
  diode_store_meta_clear (&meta);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* RANGE */

void
handle_range (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, m->stream);
  DiodeStoreMeta meta;
  gboolean stored = relay_store_meta (r, m->stream, &meta);
  DiodeSpan *spans;
  guint n;
  gchar *why = NULL, *key, **allow = NULL;
  gboolean relay_role = diode_session_get_role (c->session) == DIODE_ROLE_RELAY;
  Stream tmp, *pol = NULL;
  GError *err = NULL;
  GBytes *f;

  if (!stream_live_here (s) && !stored && !(s && s->ring
          && diode_ring_get_last_seq (s->ring))) {
    gchar *text;

    /* Not held here: unless LOCAL, the peers and the upstream may have it
     * (diode-relay-peers.c answers, or says NOT_FOUND). */
    if (!(m->range_flags & DIODE_RANGE_LOCAL) && relay_peers_configured (r)) {
      diode_store_meta_clear (&meta);
      relay_peers_range_for (c, m->stream);
      return;
    }
    text = g_strdup_printf ("stream '%s' is neither live nor stored "
        "on this relay", m->stream);
    conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
    g_free (text);
    diode_store_meta_clear (&meta);
    return;
  }
  if (!relay_replay_allowed (c, s, stored ? &meta : NULL, &why)) {
    relay_log (r, RELAY_LOG_REFUSED, "refused RANGE from %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    diode_store_meta_clear (&meta);
    return;
  }
  if (s && s->has_policy) {
    pol = s;
  } else if (stored) {
    meta_policy_stream (&tmp, &meta);
    pol = &tmp;
  }
  key = diode_name_key (m->stream, NULL);
  spans = g_new0 (DiodeSpan, DIODE_MAX_SPANS + 1);
  n = relay_spans (r, s, stored ? key : NULL, spans);
  /* An allowlist is told to relays only (they enforce it downstream). */
  if (pol && relay_role)
    allow = stream_allow_list (pol);
  f = diode_msg_encode_range_ok (m->stream, relay_stream_state (r, s,
          stored ? &meta : NULL), s && s->owner ? s->owner : meta.owner,
      pol ? pol->access : DIODE_ACCESS_PRIVATE, pol ? pol->fleet : "",
      (const gchar * const *) allow, spans, n);
  g_free (allow);
  if (pol == &tmp)
    g_hash_table_unref (tmp.allow);
  g_free (spans);
  g_free (key);
  diode_store_meta_clear (&meta);
  if (!f) {
    conn_send_error (c, DIODE_ERR_INTERNAL, "cannot encode RANGE_OK");
    return;
  }
  conn_queue (c, f);
  if (!diode_session_sent (c->session, DIODE_MSG_RANGE_OK, 0, &err)) {
    g_warning ("session refused RANGE_OK: %s", err->message);
    g_clear_error (&err);
  }
  conn_flush (c);
}

/* ------------------------------------------------------------------------ */
/* FETCH */

struct _Fetch {
  guint       id;
  Conn       *conn;
  gchar      *key, *name;
  gboolean    local;
  guint64     next_seq, to_seq;
  guint       chunks;
  guint64     bytes;
  DiodeStoredChunk *cur;        /* being sent */
  guint       index;            /* next frame of cur; -1: its CHUNK */
  gboolean    header_sent;
  gboolean    discont;          /* a damaged chunk was skipped before */
  gboolean    reading;
  gboolean    sent_any;
  gboolean    ended;            /* FETCH_END handed to conn_flush */
  gboolean    queued;           /* in r->replay_waiting (over the bound) */
  guint64     damaged_seq;      /* a damaged chunk was skipped there */
};

static void fetch_read (Fetch * f);

static void
fetch_free (DiodeRelay * r, Fetch * f)
{
  g_hash_table_remove (r->fetches, GUINT_TO_POINTER (f->id));
  if (f->conn)
    f->conn->fetch = NULL;
  replay_release (r, f->cur);
  g_free (f->key);
  g_free (f->name);
  g_free (f);
}

void
fetch_conn_gone (Conn * c)
{
  if (c->fetch) {
    c->fetch->conn = NULL;
    fetch_free (c->relay, c->fetch);
  }
}

/* The FETCH_END frame; the Fetch is over. A FETCH that found only a
 * damaged chunk is answered ERROR 106 instead (docs/protocol.md: "a damaged
 * chunk with no other copy"), so a relay fetching it asks elsewhere. */
static GBytes *
fetch_end (Fetch * f, guint8 status)
{
  Conn *c = f->conn;
  GError *err = NULL;
  GBytes *b;

  if (!f->sent_any && f->damaged_seq) {
    gchar *text = g_strdup_printf ("the stored chunk of '%s' at seq %"
        G_GUINT64_FORMAT " is damaged and this relay has no other copy",
        f->name, f->damaged_seq);

    b = diode_msg_encode_error (DIODE_ERR_STORE_FAILED, text);
    g_free (text);
    if (!diode_session_sent (c->session, DIODE_MSG_ERROR,
            DIODE_ERR_STORE_FAILED, &err)) {
      g_warning ("session refused ERROR 106: %s", err->message);
      g_clear_error (&err);
    }
    fetch_free (c->relay, f);
    return b;
  }
  b = diode_msg_encode_fetch_end (f->next_seq, status);

  if (!diode_session_sent (c->session, DIODE_MSG_FETCH_END, 0, &err)) {
    g_warning ("session refused FETCH_END: %s", err->message);
    g_clear_error (&err);
  }
  g_debug ("FETCH of '%s' by %s: %u chunks, %" G_GUINT64_FORMAT " bytes, "
      "next %" G_GUINT64_FORMAT ", status %u", f->name, c->address,
      f->chunks, f->bytes, f->next_seq, status);
  fetch_free (c->relay, f);
  return b;
}

/* A closed ring chunk holding @seq or the first one after it, as a stored
 * chunk (what is not stored yet, or a stream not recorded, is served from
 * memory). */
static DiodeStoredChunk *
fetch_from_ring (Stream * s, guint64 seq)
{
  DiodeChunk *ch;

  if (!s || !s->ring)
    return NULL;
  for (ch = diode_ring_oldest_chunk (s->ring); ch; ch = ch->next) {
    guint64 last = ring_chunk_last_seq (ch);

    if (!ch->first_seq || last < seq)
      continue;
    if (!ch->closed && !s->eos)
      return NULL;              /* still growing */
    return diode_stored_chunk_new_from_ring (ch, ch->wall_us, FALSE);
  }
  return NULL;
}

/* @ch (or NULL: nothing more held in the range) is the next to send. */
static void
fetch_take (Fetch * f, DiodeStoredChunk * ch)
{
  DiodeRelay *r = f->conn->relay;

  if (ch && ch->hdr.first_seq > f->to_seq)
    g_clear_pointer (&ch, diode_stored_chunk_unref);
  if (ch)
    replay_hold (r, ch);
  f->reading = FALSE;
  f->cur = ch;
  f->index = 0;
  f->header_sent = FALSE;
  f->ended = (ch == NULL);
}

static void
fetch_on_chunk (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
{
  Fetch *f = g_hash_table_lookup (r->fetches, user_data);

  if (!f || !f->conn || f->conn->dead) {
    if (ch)
      diode_stored_chunk_unref (ch);
    return;
  }
  if (!ch && g_error_matches (error, DIODE_STORE_ERROR,
          DIODE_STORE_ERROR_DAMAGED)) {
    /* Never served: the next good chunk comes with DISCONT. */
    if (!f->damaged_seq)
      f->damaged_seq = f->next_seq;
    r->replay_damaged++;
    relay_log (r, RELAY_LOG_STREAM, "'%s': the stored chunk at seq %"
        G_GUINT64_FORMAT " is damaged; FETCH by %s skips it", f->name,
        f->next_seq, f->conn->address);
    relay_chunk_skip_damaged (r, f->key, f->next_seq, fetch_on_chunk,
        GUINT_TO_POINTER (f->id));
    return;
  }
  if (!ch && error && !g_error_matches (error, DIODE_STORE_ERROR,
          DIODE_STORE_ERROR_NOT_FOUND) && !f->sent_any) {
    Conn *c = f->conn;
    gchar *text = g_strdup_printf ("the store cannot serve '%s': %s",
        f->name, error->message);

    fetch_free (r, f);
    conn_send_error (c, DIODE_ERR_STORE_FAILED, text);
    g_free (text);
    return;
  }
  if (!ch) {
    /* nothing stored there: the ring may hold later seqs of the range */
    ch = fetch_from_ring (stream_lookup (r, f->name), f->next_seq);
  }
  fetch_take (f, ch);
  conn_flush (f->conn);
}

/* The chunk holding next_seq (or the first after it): from the ring when
 * it holds next_seq (at once), else from the tiers (on the pool). */
static void
fetch_read (Fetch * f)
{
  Conn *c = f->conn;
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, f->name);
  DiodeChunk *at;
  guint index;

  f->reading = TRUE;
  /* a live stream's ring first (an ended one is wholly in the store) */
  if (stream_live_here (s)
      && diode_ring_find_seq (s->ring, f->next_seq, &at, &index)) {
    DiodeStoredChunk *ch = fetch_from_ring (s, f->next_seq);

    if (ch) {
      fetch_take (f, ch);
      return;
    }
  }
  /* the relay-wide bound, as for replay cursors */
  if (r->replay_bytes >= r->replay_max_bytes && r->replay_bytes > 0) {
    f->queued = TRUE;
    g_queue_push_tail (&r->replay_waiting, GUINT_TO_POINTER (f->id));
    return;
  }
  if (f->local)
    /* what this relay holds: its store, and the chunks it fetched for its
     * own viewers (the cache): siblings share what one of them fetched */
    relay_chunk_get_held (r, f->key, f->next_seq, fetch_on_chunk,
        GUINT_TO_POINTER (f->id));
  else
    relay_chunk_get (r, f->key, f->name, f->next_seq, fetch_on_chunk,
        GUINT_TO_POINTER (f->id));
}

/* Its turn under the replay bound came. */
static void
fetch_resume (Fetch * f)
{
  Conn *c = f->conn;

  f->queued = FALSE;
  fetch_read (f);
  if (!f->reading && c && !c->dead)
    conn_flush (c);
}

/* conn_flush: the next frame of a FETCH answer (a new ref), or NULL while
 * a read is under way. */
GBytes *
fetch_next_frame (Conn * c)
{
  Fetch *f = c->fetch;
  DiodeRelay *r = c->relay;

  for (;;) {
    DiodeStoredChunk *ch = f->cur;

    if (f->reading)
      return NULL;
    if (f->ended)
      return fetch_end (f, f->sent_any ? DIODE_FETCH_DONE : DIODE_FETCH_NONE);
    if (!ch) {
      if (f->next_seq > f->to_seq)
        return fetch_end (f, f->sent_any ? DIODE_FETCH_DONE :
            DIODE_FETCH_NONE);
      fetch_read (f);
      continue;
    }
    if (!f->header_sent) {
      DiodeChunkHeader h = ch->hdr;
      GError *err = NULL;
      GBytes *b;

      /* the per-FETCH caps: stop before a chunk that would pass them (the
       * first chunk always goes, however big) */
      if (f->chunks && (f->chunks >= DIODE_FETCH_MAX_CHUNKS
              || f->bytes + h.bytes > DIODE_FETCH_MAX_BYTES)) {
        f->next_seq = h.first_seq;
        replay_release (r, ch);
        f->cur = NULL;
        return fetch_end (f, DIODE_FETCH_MORE);
      }
      if (f->discont)
        h.flags |= DIODE_CHUNK_DISCONT;
      f->discont = FALSE;
      b = diode_msg_encode_chunk (&h);
      if (!b) {
        /* a stored header the codec refuses: never sent half a chunk */
        relay_log (r, RELAY_LOG_STREAM, "'%s': stored chunk at seq %"
            G_GUINT64_FORMAT " has a bad header; FETCH skips it", f->name,
            h.first_seq);
        f->discont = TRUE;
        f->next_seq = h.last_seq + 1;
        replay_release (r, ch);
        f->cur = NULL;
        continue;
      }
      if (!diode_session_sent (c->session, DIODE_MSG_CHUNK, 0, &err)) {
        g_warning ("session refused CHUNK: %s", err->message);
        g_clear_error (&err);
      }
      f->header_sent = TRUE;
      f->sent_any = TRUE;
      f->chunks++;
      f->bytes += h.bytes;
      return b;
    }
    if (f->index < ch->frames->len)
      return g_bytes_ref (g_ptr_array_index (ch->frames, f->index++));
    f->next_seq = ch->hdr.last_seq + 1;
    /* after the stream's EOS nothing more can come */
    if (ch->hdr.flags & DIODE_CHUNK_EOS)
      f->next_seq = MAX (f->next_seq, f->to_seq + 1);
    f->cur = NULL;
    replay_release (r, ch);
  }
}

void
handle_fetch (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, m->stream);
  DiodeStoreMeta meta;
  gboolean stored = relay_store_meta (r, m->stream, &meta);
  gchar *why = NULL;
  Fetch *f;

  if (!stream_live_here (s) && !stored && !(s && s->ring
          && diode_ring_get_last_seq (s->ring))) {
    gchar *text, *key = diode_name_key (m->stream, NULL);

    /* Not held here, but other relays told us of it (a RANGE passed on
     * before): served through the tiers (LOCAL: from the cache only),
     * under the policy they gave. */
    stored = key && relay_peers_remote_meta (r, key, &meta);
    g_free (key);
    if (!stored) {
      text = g_strdup_printf ("stream '%s' is neither live nor stored "
          "on this relay", m->stream);
      conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
      g_free (text);
      diode_store_meta_clear (&meta);
      return;
    }
  }
  if (!relay_replay_allowed (c, s, stored ? &meta : NULL, &why)) {
    relay_log (r, RELAY_LOG_REFUSED, "refused FETCH from %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    diode_store_meta_clear (&meta);
    return;
  }
  diode_store_meta_clear (&meta);
  f = g_new0 (Fetch, 1);
  f->id = ++r->next_replay_id;
  f->conn = c;
  f->key = diode_name_key (m->stream, NULL);
  f->name = g_strdup (m->stream);
  f->local = (m->range_flags & DIODE_RANGE_LOCAL) != 0;
  f->next_seq = MAX (m->from_seq, (guint64) 1);
  f->to_seq = m->to_seq;
  g_hash_table_insert (r->fetches, GUINT_TO_POINTER (f->id), f);
  c->fetch = f;
  conn_flush (c);
}
