/* gst-diode — the relay serves recordings: replay viewers
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
gboolean
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
void
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
  guint64     sent_seq;         /* last MEDIA seq handed out */
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
static void replay_on_chunk (DiodeRelay * r, DiodeStoredChunk * ch,
    const GError * error, gpointer user_data);

void
replay_hold (DiodeRelay * r, DiodeStoredChunk * ch)
{
  r->replay_bytes += diode_stored_chunk_cost (ch);
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

  /* A finished recording plays from its start. Not for a relay's LIVE
   * pull: its ring would take the whole recording at full speed as if it
   * were live; relays replay recordings with RANGE/FETCH (the tiers). */
  if (stored && meta.finished && mode == DIODE_START_LIVE
      && !stream_live_here (s) && !m->start_seq
      && diode_session_get_role (c->session) != DIODE_ROLE_RELAY)
    mode = DIODE_START_EARLIEST;
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
