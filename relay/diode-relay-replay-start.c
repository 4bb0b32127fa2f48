/* gst-diode — the relay serves recordings: where a replay starts
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay": where a SUBSCRIBE with a start
 * begins (the store, the ring, or other relays through RANGE), the chunk
 * reads on the GThreadPool (never on the I/O thread) behind
 * relay_chunk_get (the local tier; diode-relay-peers.c adds the others),
 * and what is held and who may see it (relay_store_meta,
 * relay_replay_allowed), shared with RANGE and FETCH. The cursor that
 * then feeds the viewer: diode-relay-replay.c.
 *
 * Runs on the relay's I/O thread, except the pool's jobs, which touch
 * only the store and hand their result back through the relay's context.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-replay.h"

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
    return relay_record_state (s) == DIODE_STORE_RECORDING
        || (!s->publisher && s->upstream_state == DIODE_STREAM_LIVE_RECORDED
        && relay_peers_configured (r)) ?
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
/* SUBSCRIBE with a start */

/* The ring's chunk for a start (no store, or a stream not stored here).
 * NULL: live (a target past the newest keyframe). */
DiodeChunk *
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
  Stream *s;
  gboolean pulled;
  DiodeChunk *oldest;

  if (!rp || !rp->conn || rp->conn->dead)
    return;
  c = rp->conn;
  rp->reading = FALSE;
  s = stream_lookup (r, rp->name);
  pulled = stream_live_here (s) && !s->publisher;
  /* A stream live somewhere is the live path's (it pulls it from the
   * upstream) when there is an upstream; a finished recording, or anything
   * held by a peer when there is no upstream, is replayed from there. A
   * stream recorded elsewhere while live (LIVE_RECORDED) is replayed from
   * there too, up to this relay's ring when it pulls the stream (else the
   * cursor follows the live edge chunk by chunk; decisions.md,
   * "Recordings: watching back through a relay tree"). */
  if (!rr || (rr->stream_state == DIODE_STREAM_LIVE && r->failover)) {
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
  oldest = pulled ? diode_ring_earliest_chunk (s->ring) : NULL;
  if (oldest && (!rp->next_seq || rp->next_seq >= oldest->first_seq)) {
    /* The start is in this relay's ring (or past it: live): the ring's own
     * answer, exact; the SUBSCRIBE_OK says LIVE_RECORDED all the same. */
    DiodeChunk *at = ring_find_start (s, rp->mode, rp->value, rp->snap);

    g_info ("replay viewer %s (%s) of '%s' starts from the ring at seq %"
        G_GUINT64_FORMAT, c->address, c->peer, rp->name,
        at ? at->first_seq : 0);
    c->viewing = FALSE;
    c->start_seq = at ? at->first_seq : 0;
    c->join_tail = FALSE;
    replay_free (r, rp);
    s->linger_until = 0;
    stream_attach_conn (c, s);
    return;
  }
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

/* A viewer resuming (LIVE, start_seq) on a live stream whose ring no
 * longer holds start_seq (or has not got it yet: a gap after a
 * fail-over): a replay cursor from start_seq through the tiers (store,
 * cache, peers, upstream: relay_chunk_get), then the ring. The SUBSCRIBE
 * goes back to the live path (no_remote: today's behaviour) when no tier
 * has start_seq. Relays pulling are left to the live path: their own
 * resume is the pull's business (diode-relay-pull.c). */
static gboolean
replay_subscribe_resume (Conn * c, DiodeMsg * m, Stream * s)
{
  DiodeRelay *r = c->relay;
  DiodeChunk *oldest;
  Replay *rp;

  if (!m->start_seq || c->no_remote || !stream_live_here (s)
      || diode_session_get_role (c->session) == DIODE_ROLE_RELAY)
    return FALSE;
  oldest = diode_ring_oldest_chunk (s->ring);
  if (!oldest || m->start_seq >= oldest->first_seq)
    return FALSE;
  rp = g_new0 (Replay, 1);
  rp->id = ++r->next_replay_id;
  rp->conn = c;
  rp->key = diode_name_key (m->stream, NULL);
  rp->name = g_strdup (m->stream);
  rp->mode = DIODE_START_LIVE;
  rp->resume = TRUE;
  rp->next_seq = m->start_seq;
  /* the frames of the first chunk before start_seq were seen already */
  rp->sent_seq = m->start_seq - 1;
  rp->subscribe = g_bytes_ref (m->frame);
  g_hash_table_insert (r->replays, GUINT_TO_POINTER (rp->id), rp);
  c->replay = rp;
  c->viewing = TRUE;
  c->stream = NULL;
  diode_cursor_init (&c->cursor);
  g_info ("viewer %s (%s) resumes '%s' at seq %" G_GUINT64_FORMAT
      ", before the ring's oldest (%" G_GUINT64_FORMAT "): asking the tiers",
      c->address, c->peer, s->name, m->start_seq, oldest->first_seq);
  replay_maybe_read (rp);
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

  /* A finished recording plays from its start. Not for a relay's LIVE
   * pull: its ring would take the whole recording at full speed as if it
   * were live; relays replay recordings with RANGE/FETCH (the tiers). */
  if (stored && meta.finished && mode == DIODE_START_LIVE
      && !stream_live_here (s) && !m->start_seq
      && diode_session_get_role (c->session) != DIODE_ROLE_RELAY)
    mode = DIODE_START_EARLIEST;
  if (mode == DIODE_START_LIVE) {
    diode_store_meta_clear (&meta);
    return replay_subscribe_resume (c, m, s);
  }
  if (!stored && !(s && diode_ring_get_n_chunks (s->ring))
      && !stream_live_here (s) && !c->no_remote
      && relay_peers_configured (r)) {
    /* Nothing of it here: other relays may have it recorded. */
    diode_store_meta_clear (&meta);
    return replay_subscribe_remote (c, m, mode);
  }
  if (!stored && !c->no_remote
      && relay_stream_state (r, s, NULL) == DIODE_STREAM_LIVE_RECORDED
      && diode_session_get_role (c->session) != DIODE_ROLE_RELAY) {
    /* Pulled here and recorded upstream: the start is resolved against
     * what the upstream (or a peer) holds, then this relay's ring. A
     * stream recorded nowhere keeps the ring's answer, at once. */
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

  /* the first read lands a chunk too: under the replay bound
   * (replay_maybe_read admits it, or queues it) */
  rp->find = TRUE;
  replay_maybe_read (rp);
  diode_store_meta_clear (&meta);
  return TRUE;
}

/* The SUBSCRIBE's first read, admitted under the replay bound: where its
 * start (mode, value, snap) lands in the store. */
void
replay_push_find (DiodeRelay * r, Replay * rp)
{
  ChunkJob *j = g_new0 (ChunkJob, 1);

  j->relay = r;
  j->key = g_strdup (rp->key);
  j->find = TRUE;
  j->mode = rp->mode;
  j->value = rp->value;
  j->snap = rp->snap;
  j->now_us = g_get_real_time ();
  j->cb = replay_on_chunk;
  j->user_data = GUINT_TO_POINTER (rp->id);
  chunk_job_push (r, j);
}
