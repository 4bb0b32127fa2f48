/* gst-diode — chunks fetched from sibling relays (--peer) and the upstream
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One job: get a chunk of a recording this relay does not hold (or the
 * stored range of a stream it does not carry) from another relay. The
 * sources are asked in a fixed order: the cache of what was fetched
 * before (diode-relay-cache.c), then each --peer in the order given, with
 * the LOCAL flag (answer from what you hold, ask nobody), then the current
 * upstream without it (it may ask its own peers and upstream). The first
 * verified answer wins; a damaged chunk (count, bytes or CRC do not match
 * its CHUNK header: diode_stored_chunk_verify) is dropped, never handed
 * on, and the next source is asked; nobody has it → NULL, and the replay
 * cursor skips to the next chunk it can get, with DISCONT.
 *
 * Each source is one outgoing role-RELAY connection (a Link of kind
 * LINK_PEER, diode-relay-link.c: pin or known-relays TOFU as for
 * --upstream) that needs protocol version 3, carrying one request at a
 * time (RANGE or FETCH; the others wait in the source's queue). A source
 * whose connection fails is skipped for a backoff (doubling, 1 s to 30 s)
 * and tried again after it; one that answers nothing for FETCH_TIMEOUT_MS
 * is closed and skipped the same way. What a source may make this relay
 * hold is bounded from the CHUNK header: at most DIODE_FETCH_MAX_CHUNKS
 * chunks and DIODE_FETCH_MAX_BYTES per FETCH, each chunk its n_frames
 * frames and bytes; anything past that closes the connection.
 *
 * Requests for the same chunk (stream key and seq) share one fetch. Every
 * callback runs on the I/O thread from an idle source, never from inside
 * the call that asked, so callers need no re-entrancy care.
 *
 * This file: the sources (their connections, what they answer, backoff,
 * stats). The requests and their callbacks: diode-relay-peers-req.c.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-peers.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* sources */

gboolean
peer_usable (Peer * p, gint64 now)
{
  DiodeRelay *r = p->relay;

  if (r->stopping)
    return FALSE;
  if (p->retry_at && now < p->retry_at)
    return FALSE;
  if (p->upstream) {
    gint64 retry_at = 0;

    /* an upstream fetch link already up is used as it is */
    if (p->link && link_is_up (p->link))
      return TRUE;
    return upstream_pick (r, now, &retry_at) >= 0;
  }
  return TRUE;
}

void
peer_enqueue (Peer * p, FetchReq * q)
{
  q->on = p;
  g_queue_push_tail (&p->queue, q);
  peer_kick (p);
}

/* The chunk being received is dropped (connection gone, bad frame). */
static void
peer_reset_chunk (Peer * p)
{
  p->in_chunk = FALSE;
  g_clear_pointer (&p->frames, g_ptr_array_unref);
  p->got_bytes = 0;
}

static void
peer_send_cur (Peer * p)
{
  DiodeRelay *r = p->relay;
  FetchReq *q = p->cur;
  Link *l = p->link;

  p->fetch_chunks = 0;
  p->fetch_bytes = 0;
  p->requests++;
  p->cur_deadline = g_get_monotonic_time () + FETCH_TIMEOUT_MS * 1000;
  if (q->kind == REQ_CHUNK) {
    guint64 from = q->skip ? q->seq + 1 : q->seq;
    guint64 to = q->skip ? G_MAXUINT64 : q->seq;

    r->fetch_requests++;
    /* Peers answer from what they hold; the upstream may ask further.
     * One chunk; after a gap, from the next seq on (the source stops at
     * its per-FETCH caps; what comes is cached: the viewer needs it
     * next). */
    link_send (l, diode_msg_encode_fetch (q->name, from, to,
            p->upstream ? 0 : DIODE_RANGE_LOCAL), DIODE_MSG_FETCH);
    g_debug ("%s %s: FETCH '%s' seq %" G_GUINT64_FORMAT "..%"
        G_GUINT64_FORMAT, link_kind_name (l), p->text, q->name, from, to);
  } else {
    r->range_requests++;
    link_send (l, diode_msg_encode_range (q->name, p->upstream ? 0 :
            DIODE_RANGE_LOCAL), DIODE_MSG_RANGE);
    g_debug ("%s %s: RANGE '%s'", link_kind_name (l), p->text, q->name);
  }
}

/* Connect if needed; send the next request once the connection is up and
 * nothing is outstanding on it (one request at a time). */
void
peer_kick (Peer * p)
{
  DiodeRelay *r = p->relay;
  Link *l;

  if (r->stopping)
    return;
  if (!p->link) {
    p->link = link_new (r, LINK_PEER, -1);
    p->link->peer = p;
    p->link->endpoint = p->ep;
  }
  l = p->link;
  if (!l->conn && l->state == LINK_IDLE) {
    if (!p->queue.length)
      return;
    if (p->upstream) {
      gint64 retry_at = 0;
      gint ep = upstream_pick (r, g_get_monotonic_time (), &retry_at);

      if (ep < 0) {
        /* no upstream to ask now: the waiting requests move on */
        GQueue q = p->queue;
        FetchReq *req;

        g_queue_init (&p->queue);
        while ((req = g_queue_pop_head (&q))) {
          req_set_reason (req, "no upstream reachable");
          req_next (r, req);
        }
        return;
      }
      l->ep = ep;
    }
    /* may fail at once: peer_link_down moves the queue on */
    link_connect (l);
    return;
  }
  if (l->state != LINK_READY || !link_is_up (l) || p->cur || p->in_chunk
      || l->conn->phase != CONN_OPEN)
    return;
  p->cur = g_queue_pop_head (&p->queue);
  if (!p->cur)
    return;
  peer_send_cur (p);
}

void
peer_on_ready (Link * l)
{
  Peer *p = l->peer;

  if (!p) {
    link_close (l, "no longer needed");
    return;
  }
  if (l->version < DIODE_PROTOCOL_VERSION_STORE) {
    relay_log (l->relay, RELAY_LOG_LINK, "%s %s (%s) speaks protocol v%u: "
        "it cannot serve chunks (version %d needed); not asking it for %u "
        "s", link_kind_name (l), p->text, l->peer_address, l->version,
        DIODE_PROTOCOL_VERSION_STORE, PEER_RETRY_MAX_MS / 1000);
    p->retry_ms = PEER_RETRY_MAX_MS;
    p->retry_at = g_get_monotonic_time () + (gint64) p->retry_ms * 1000;
    link_close (l, "protocol version 3 needed");
    return;
  }
  p->retry_ms = 0;
  p->retry_at = 0;
  p->idle_since = g_get_monotonic_time ();
  peer_kick (p);
}

/* The connection went (or never came up): what waited on it goes to the
 * next source; the source backs off unless it was up and simply closed. */
void
peer_link_down (Link * l, const gchar * why)
{
  DiodeRelay *r = l->relay;
  Peer *p = l->peer;
  GQueue moved = G_QUEUE_INIT;
  FetchReq *q;
  gint64 now = g_get_monotonic_time ();

  if (!p)
    return;
  peer_reset_chunk (p);
  if (p->cur)
    g_queue_push_tail (&moved, p->cur);
  p->cur = NULL;
  while ((q = g_queue_pop_head (&p->queue)))
    g_queue_push_tail (&moved, q);
  if (!l->was_up || moved.length || p->bad_backoff_ms) {
    /* it failed us: skip it for a while */
    p->failures++;
    if (p->retry_ms < PEER_RETRY_MAX_MS || !p->retry_at)
      p->retry_ms = p->retry_ms ? MIN (p->retry_ms * 2, PEER_RETRY_MAX_MS) :
          PEER_RETRY_MIN_MS;
    /* a bad answer's backoff counts across reconnections */
    p->retry_ms = MAX (p->retry_ms, p->bad_backoff_ms);
    p->bad_backoff_ms = 0;
    p->retry_at = now + (gint64) p->retry_ms * 1000;
    relay_log (r, RELAY_LOG_LINK, "%s %s is down (%s); skipped for %u ms",
        link_kind_name (l), p->text, why, p->retry_ms);
  }
  while ((q = g_queue_pop_head (&moved))) {
    req_set_reason (q, "%s %s: %s", p->upstream ? "upstream" : "peer",
        p->text, why);
    req_next (r, q);
  }
}

/* A request is over on this source: the next one goes out. */
static void
peer_request_over (Peer * p)
{
  p->cur = NULL;
  p->idle_since = g_get_monotonic_time ();
  peer_kick (p);
}

static void
peer_violation (Peer * p, DiodeErrorCode code, const gchar * fmt, ...)
    G_GNUC_PRINTF (3, 4);

/* The source broke the rules: ERROR and close; what it owed goes to the
 * next source (peer_link_down). */
static void
peer_violation (Peer * p, DiodeErrorCode code, const gchar * fmt, ...)
{
  Link *l = p->link;
  gchar *text;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  relay_log (p->relay, RELAY_LOG_LINK, "%s %s (%s): %s; closing it",
      link_kind_name (l), p->text, l->peer_address, text);
  if (l->conn && !l->conn->why)
    l->conn->why = g_strdup (text);
  peer_reset_chunk (p);
  if (l->conn)
    conn_send_error (l->conn, code, text);
  g_free (text);
}

static void
peer_bad_answer (Peer * p, const gchar * fmt, ...) G_GNUC_PRINTF (2, 3);

/* A chunk that is not what was asked, or not what its own frames say: a
 * bad answer. Nothing of it is kept (not cached, not served); the source
 * is closed (its request goes to the next source, peer_link_down) and
 * skipped for a backoff that doubles with each bad answer in a row, even
 * across reconnections: a source that keeps answering nonsense is asked
 * less and less often, never in a loop. */
static void
peer_bad_answer (Peer * p, const gchar * fmt, ...)
{
  DiodeRelay *r = p->relay;
  gchar *text;
  va_list ap;

  va_start (ap, fmt);
  text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  p->bad_answers++;
  r->fetch_bad++;
  p->bad_in_row = MIN (p->bad_in_row + 1, 16);
  p->bad_backoff_ms = MIN ((guint64) PEER_RETRY_MIN_MS << (p->bad_in_row - 1),
      (guint64) PEER_RETRY_MAX_MS);
  peer_violation (p, DIODE_ERR_PROTOCOL, "bad answer: %s", text);
  g_free (text);
}

/* RANGE_OK: spans, state, owner and policy. An access value this relay
 * does not know is read as private (fail closed). */
static void
peer_range_ok (Peer * p, DiodeMsg * m)
{
  DiodeRelay *r = p->relay;
  FetchReq *q = p->cur;
  RelayRange *rr;

  if (!q || q->kind != REQ_RANGE) {
    peer_violation (p, DIODE_ERR_PROTOCOL, "RANGE_OK without a RANGE");
    return;
  }
  if (!m->n_spans) {
    req_set_reason (q, "%s %s holds nothing of it", p->upstream ?
        "upstream" : "peer", p->text);
    peer_request_over (p);
    req_next (r, q);
    return;
  }
  rr = g_new0 (RelayRange, 1);
  rr->name = g_strdup (m->stream);
  rr->stream_state = m->stream_state;
  rr->owner = g_strdup (m->owner);
  rr->access = m->access <= DIODE_ACCESS_PRIVATE ? m->access :
      DIODE_ACCESS_PRIVATE;
  rr->fleet = g_strdup (m->fleet ? m->fleet : "");
  rr->allow = m->allow ? g_strdupv (m->allow) : g_new0 (gchar *, 1);
  rr->spans = g_memdup2 (m->spans, sizeof (DiodeSpan) * m->n_spans);
  rr->n_spans = m->n_spans;
  rr->from_upstream = p->upstream;
  q->range = rr;
  if (r->remote_meta)
    g_hash_table_replace (r->remote_meta, g_strdup (q->key),
        relay_range_copy (rr));
  peer_request_over (p);
  req_done (r, q);
}

/* The first chunk after a gap, as handed to the viewer: the same frames,
 * DISCONT set (the cached copy stays as the source sent it). */
static DiodeStoredChunk *
chunk_with_discont (DiodeStoredChunk * c)
{
  DiodeChunkHeader h = c->hdr;
  GPtrArray *frames = g_ptr_array_new_full (c->frames->len,
      (GDestroyNotify) g_bytes_unref);
  guint i;

  if (h.flags & DIODE_CHUNK_DISCONT)
    return diode_stored_chunk_ref (c);
  h.flags |= DIODE_CHUNK_DISCONT;
  for (i = 0; i < c->frames->len; i++)
    g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (c->frames, i)));
  return diode_stored_chunk_new (&h, frames);
}

/* A whole chunk arrived: verify, count, keep. */
static void
peer_chunk_complete (Peer * p)
{
  DiodeRelay *r = p->relay;
  FetchReq *q = p->cur;
  GPtrArray *frames = p->frames;
  DiodeStoredChunk *c;
  GError *err = NULL;

  p->frames = NULL;
  p->in_chunk = FALSE;
  /* frames: transfer full */
  g_ptr_array_set_free_func (frames, (GDestroyNotify) g_bytes_unref);
  c = diode_stored_chunk_new (&p->hdr, frames);
  if (p->got_bytes == p->hdr.bytes && !diode_stored_chunk_verify (c, &err)
      && g_error_matches (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID)) {
    /* Intact bytes under a header that says something else (seqs that are
     * not its frames'): forged or confused, never a disk's damage. */
    peer_bad_answer (p, "a chunk that does not match its own frames (%s)",
        err->message);
    g_clear_error (&err);
    diode_stored_chunk_unref (c);
    return;
  }
  if (!err && p->got_bytes == p->hdr.bytes
      && (p->fetch_chunks > 1 ? p->hdr.first_seq <= p->fetch_last_seq :
          q->skip ? p->hdr.last_seq <= q->seq :
          (p->hdr.first_seq > q->seq || p->hdr.last_seq < q->seq))) {
    /* Not what was asked: the first chunk must hold the seq (or, after a
     * gap, go past it), each later one start past the one before. */
    peer_bad_answer (p, "chunk seq %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
        " for a FETCH %s seq %" G_GUINT64_FORMAT, p->hdr.first_seq,
        p->hdr.last_seq, q->skip ? "after" : "at", p->fetch_chunks > 1 ?
        p->fetch_last_seq : q->seq);
    diode_stored_chunk_unref (c);
    return;
  }
  if (err || p->got_bytes != p->hdr.bytes) {
    p->damaged++;
    r->fetch_damaged++;
    relay_log (r, RELAY_LOG_LINK, "chunk seq %" G_GUINT64_FORMAT "..%"
        G_GUINT64_FORMAT " of '%s' from %s %s is damaged (%s): dropped, "
        "never served", p->hdr.first_seq, p->hdr.last_seq, q->name,
        p->upstream ? "upstream" : "peer", p->text, err ? err->message :
        "its bytes do not add up to its header");
    g_clear_error (&err);
    diode_stored_chunk_unref (c);
    return;
  }
  p->fetch_last_seq = p->hdr.last_seq;
  p->bad_in_row = 0;
  p->chunks++;
  p->bytes += p->hdr.bytes;
  r->fetched_chunks++;
  r->fetched_bytes += p->hdr.bytes;
  if (p->upstream)
    r->fetched_from_upstream += p->hdr.bytes;
  else
    r->fetched_from_peers += p->hdr.bytes;
  if (r->cache)
    relay_cache_put (r->cache, q->key, c);
  /* holding seq: the answer, in a skip round too (a live edge: the
   * source closed the chunk holding seq meanwhile; no gap then) */
  if (!q->chunk && q->seq >= p->hdr.first_seq && q->seq <= p->hdr.last_seq)
    q->chunk = diode_stored_chunk_ref (c);
  else if (!q->chunk && q->skip && p->hdr.first_seq > q->seq)
    q->chunk = chunk_with_discont (c);
  diode_stored_chunk_unref (c);
}

void
peer_handle_message (Link * l, DiodeMsg * m)
{
  DiodeRelay *r = l->relay;
  Peer *p = l->peer;
  FetchReq *q;

  if (!p) {
    link_close (l, "no longer needed");
    return;
  }
  q = p->cur;
  /* any answer shows the source is alive */
  p->cur_deadline = g_get_monotonic_time () + FETCH_TIMEOUT_MS * 1000;
  switch (m->type) {
    case DIODE_MSG_RANGE_OK:
      if (p->in_chunk) {
        peer_violation (p, DIODE_ERR_PROTOCOL, "RANGE_OK inside a chunk");
        return;
      }
      peer_range_ok (p, m);
      return;
    case DIODE_MSG_CHUNK:
      if (!q || q->kind != REQ_CHUNK || p->in_chunk) {
        peer_violation (p, DIODE_ERR_PROTOCOL, "CHUNK without a FETCH or "
            "inside another chunk");
        return;
      }
      if (m->chunk.n_frames < 1 || m->chunk.n_frames > DIODE_MAX_CHUNK_FRAMES
          || m->chunk.bytes > DIODE_MAX_CHUNK_BYTES) {
        peer_violation (p, DIODE_ERR_TOO_LARGE, "CHUNK of %u frames, %u "
            "bytes (limits %d, %d)", m->chunk.n_frames, m->chunk.bytes,
            DIODE_MAX_CHUNK_FRAMES, DIODE_MAX_CHUNK_BYTES);
        return;
      }
      if (p->fetch_chunks >= DIODE_FETCH_MAX_CHUNKS
          || p->fetch_bytes + m->chunk.bytes > DIODE_FETCH_MAX_BYTES) {
        peer_violation (p, DIODE_ERR_TOO_LARGE, "more than %d chunks or %d "
            "bytes in one FETCH", DIODE_FETCH_MAX_CHUNKS,
            DIODE_FETCH_MAX_BYTES);
        return;
      }
      p->fetch_chunks++;
      p->fetch_bytes += m->chunk.bytes;
      p->hdr = m->chunk;
      p->frames = g_ptr_array_new_full (MIN (m->chunk.n_frames, 256),
          (GDestroyNotify) g_bytes_unref);
      p->got_bytes = 0;
      p->in_chunk = TRUE;
      return;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:{
      gsize size = g_bytes_get_size (m->frame);

      if (!p->in_chunk) {
        peer_violation (p, DIODE_ERR_PROTOCOL, "%s outside a chunk",
            diode_msg_type_name (m->type));
        return;
      }
      if (p->frames->len >= p->hdr.n_frames
          || p->got_bytes + size > p->hdr.bytes) {
        peer_violation (p, DIODE_ERR_TOO_LARGE, "sent more than its CHUNK "
            "said (%u frames, %u bytes)", p->hdr.n_frames, p->hdr.bytes);
        return;
      }
      g_ptr_array_add (p->frames, g_bytes_ref (m->frame));
      p->got_bytes += size;
      if (p->frames->len == p->hdr.n_frames)
        peer_chunk_complete (p);
      return;
    }
    case DIODE_MSG_FETCH_END:
      if (!q || q->kind != REQ_CHUNK || p->in_chunk) {
        peer_violation (p, DIODE_ERR_PROTOCOL, "FETCH_END without a FETCH "
            "or inside a chunk");
        return;
      }
      peer_request_over (p);
      if (q->chunk) {
        req_done (r, q);
      } else {
        req_set_reason (q, "%s %s holds nothing %s seq %" G_GUINT64_FORMAT,
            p->upstream ? "upstream" : "peer", p->text, q->skip ? "after" :
            "at", q->seq);
        req_next (r, q);
      }
      return;
    case DIODE_MSG_ERROR:
      /* 1xx: refused (not found, not stored, not authorized): the next
       * source. Fatal ones closed the link already (link.c). */
      if (!q)
        return;
      peer_reset_chunk (p);
      {
        gchar *text = relay_log_text (m->error_text);

        req_set_reason (q, "%s %s: error %u (%s): %s", p->upstream ?
            "upstream" : "peer", p->text, m->error_code,
            diode_error_code_name (m->error_code), text);
        g_free (text);
      }
      peer_request_over (p);
      req_next (r, q);
      return;
    default:
      peer_violation (p, DIODE_ERR_PROTOCOL, "unexpected %s on a peer link",
          diode_msg_type_name (m->type));
      return;
  }
}

/* ------------------------------------------------------------------------ */
/* the API */

static Peer *
peer_new (DiodeRelay * r, DiodeEndpoint * ep)
{
  Peer *p = g_new0 (Peer, 1);

  p->relay = r;
  p->ep = ep;
  p->upstream = ep == NULL;
  p->text = ep ? diode_endpoint_to_string (ep) : g_strdup ("upstream");
  g_queue_init (&p->queue);
  return p;
}

static void
peer_free (Peer * p)
{
  g_assert (!p->cur && !p->queue.length);
  if (p->link) {
    p->link->peer = NULL;
    p->link->endpoint = NULL;
  }
  peer_reset_chunk (p);
  if (p->ep)
    diode_endpoint_free (p->ep);
  g_free (p->text);
  g_free (p);
}

gboolean
relay_peers_init (DiodeRelay * r, GError ** error)
{
  guint i, j;

  g_clear_pointer (&r->peer_list, g_ptr_array_unref);
  r->peer_list = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  for (i = 0; r->peers && r->peers[i]; i++) {
    GError *err = NULL;
    DiodeEndpoint *e = diode_endpoint_parse (r->peers[i], DIODE_DEFAULT_PORT,
        &err);

    if (!e) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "--peer: %s", err->message);
      g_error_free (err);
      g_clear_pointer (&r->peer_list, g_ptr_array_unref);
      return FALSE;
    }
    for (j = 0; j < r->peer_list->len; j++) {
      Peer *o = g_ptr_array_index (r->peer_list, j);

      if (diode_endpoint_same_place (e, o->ep)) {
        gchar *where = diode_endpoint_to_string (e);

        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
            "%s is named twice in --peer", where);
        g_free (where);
        diode_endpoint_free (e);
        g_clear_pointer (&r->peer_list, g_ptr_array_unref);
        return FALSE;
      }
    }
    g_ptr_array_add (r->peer_list, peer_new (r, e));
  }
  g_clear_pointer (&r->up_peer, peer_free);
  r->up_peer = peer_new (r, NULL);
  if (!r->cache)
    r->cache = relay_cache_new (r->cache_bytes);
  else
    relay_cache_set_max (r->cache, r->cache_bytes);
  if (!r->fetch_reqs)
    r->fetch_reqs = g_hash_table_new (g_str_hash, g_str_equal);
  if (!r->fetch_misses)
    r->fetch_misses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        g_free);
  if (!r->remote_meta)
    r->remote_meta = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        (GDestroyNotify) relay_range_free);
  return TRUE;
}

gboolean
relay_peers_configured (DiodeRelay * r)
{
  return (r->peer_list && r->peer_list->len) || r->failover;
}

/* Every request still waiting: its callbacks run now, with no answer
 * (the relay is shutting down). */
static void
peers_fail_all (DiodeRelay * r, Peer * p)
{
  FetchReq *q;

  if (!p)
    return;
  peer_reset_chunk (p);
  if (p->cur) {
    req_set_reason (p->cur, "the relay is shutting down");
    req_done (r, p->cur);
    p->cur = NULL;
  }
  while ((q = g_queue_pop_head (&p->queue))) {
    req_set_reason (q, "the relay is shutting down");
    req_done (r, q);
  }
}

/* I/O thread, at shutdown (r->stopping): every waiting callback runs while
 * the connections it may refer to still exist. */
void
relay_peers_shutdown (DiodeRelay * r)
{
  guint i;

  for (i = 0; r->peer_list && i < r->peer_list->len; i++)
    peers_fail_all (r, g_ptr_array_index (r->peer_list, i));
  peers_fail_all (r, r->up_peer);
  if (r->fetch_done_source) {
    g_source_destroy (r->fetch_done_source);
    r->fetch_done_source = NULL;
  }
  peers_fetch_done_cb (r);
}

/* After the I/O thread ended: forget the sources (their links are freed
 * by relay_links_stop) and the cache. */
void
relay_peers_stop (DiodeRelay * r)
{
  FetchReq *q;

  if (r->fetch_done_source) {
    g_source_destroy (r->fetch_done_source);
    r->fetch_done_source = NULL;
  }
  /* normally empty (relay_peers_shutdown ran them) */
  while ((q = g_queue_pop_head (&r->fetch_done)))
    req_free (q);
  g_clear_pointer (&r->peer_list, g_ptr_array_unref);
  g_clear_pointer (&r->up_peer, peer_free);
  g_clear_pointer (&r->fetch_reqs, g_hash_table_unref);
  g_clear_pointer (&r->fetch_misses, g_hash_table_unref);
  g_clear_pointer (&r->remote_meta, g_hash_table_unref);
  g_clear_pointer (&r->range_waits, g_hash_table_unref);
  g_clear_pointer (&r->cache, relay_cache_free);
}

static void
peer_tick (Peer * p, gint64 now)
{
  Link *l = p->link;

  if (!l)
    return;
  if (p->cur && now > p->cur_deadline && l->conn && !l->conn->dead) {
    gchar *why = g_strdup_printf ("no answer within %d ms",
        FETCH_TIMEOUT_MS);

    relay_log (p->relay, RELAY_LOG_LINK, "%s %s (%s): %s; closing it",
        link_kind_name (l), p->text, l->peer_address, why);
    link_close (l, why);
    g_free (why);
    return;
  }
  /* an idle connection closes after --link-linger, as pulls do */
  if (!p->cur && !p->queue.length && l->conn && !l->conn->dead
      && l->state == LINK_READY && p->idle_since
      && now - p->idle_since > (gint64) p->relay->link_linger_ms * 1000) {
    p->idle_since = 0;
    link_close (l, "idle");
    return;
  }
  /* requests queued while it was connecting, or after its backoff */
  if (p->queue.length && !p->cur)
    peer_kick (p);
}

void
relay_peers_tick (DiodeRelay * r, gint64 now)
{
  guint i;

  if (r->stopping)
    return;
  if (r->fetch_misses && g_hash_table_size (r->fetch_misses)) {
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init (&it, r->fetch_misses);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (*(gint64 *) v <= now)
        g_hash_table_iter_remove (&it);
  }
  for (i = 0; r->peer_list && i < r->peer_list->len; i++)
    peer_tick (g_ptr_array_index (r->peer_list, i), now);
  if (r->up_peer)
    peer_tick (r->up_peer, now);
}


/* ------------------------------------------------------------------------ */
/* stats (docs/stats.md, "peers" and "fetch") */

static void
stats_add_peer (JsonBuilder * b, Peer * p, gint64 now)
{
  Link *l = p->link;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "peer");
  json_builder_add_string_value (b, p->text);
  json_builder_set_member_name (b, "address");
  if (l && l->peer_address)
    json_builder_add_string_value (b, l->peer_address);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, p->upstream ? "upstream" : "peer");
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, l ? link_state_name (l->state) :
      "idle");
  json_builder_set_member_name (b, "down");
  json_builder_add_boolean_value (b, p->retry_at && now < p->retry_at);
  json_builder_set_member_name (b, "requests");
  json_builder_add_int_value (b, p->requests);
  json_builder_set_member_name (b, "queued");
  json_builder_add_int_value (b, p->queue.length + (p->cur ? 1 : 0));
  json_builder_set_member_name (b, "chunks");
  json_builder_add_int_value (b, p->chunks);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, p->bytes);
  json_builder_set_member_name (b, "damaged");
  json_builder_add_int_value (b, p->damaged);
  json_builder_set_member_name (b, "failures");
  json_builder_add_int_value (b, p->failures);
  json_builder_set_member_name (b, "bad_answers");
  json_builder_add_int_value (b, p->bad_answers);
  json_builder_end_object (b);
}

void
relay_peers_stats (DiodeRelay * r, JsonBuilder * b, gint64 now)
{
  guint i;
  guint64 hits = 0, misses = 0, evictions = 0;

  json_builder_set_member_name (b, "peers");
  json_builder_begin_array (b);
  for (i = 0; r->peer_list && i < r->peer_list->len; i++)
    stats_add_peer (b, g_ptr_array_index (r->peer_list, i), now);
  json_builder_end_array (b);
  relay_cache_get_counters (r->cache, &hits, &misses, &evictions);
  json_builder_set_member_name (b, "fetch");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "fetched_bytes");
  json_builder_add_int_value (b, r->fetched_bytes);
  json_builder_set_member_name (b, "fetched_chunks");
  json_builder_add_int_value (b, r->fetched_chunks);
  json_builder_set_member_name (b, "fetched_from_peers");
  json_builder_add_int_value (b, r->fetched_from_peers);
  json_builder_set_member_name (b, "fetched_from_upstream");
  json_builder_add_int_value (b, r->fetched_from_upstream);
  json_builder_set_member_name (b, "fetch_requests");
  json_builder_add_int_value (b, r->fetch_requests);
  json_builder_set_member_name (b, "range_requests");
  json_builder_add_int_value (b, r->range_requests);
  json_builder_set_member_name (b, "fetch_failed");
  json_builder_add_int_value (b, r->fetch_failed);
  json_builder_set_member_name (b, "damaged");
  json_builder_add_int_value (b, r->fetch_damaged);
  json_builder_set_member_name (b, "bad_answers");
  json_builder_add_int_value (b, r->fetch_bad);
  json_builder_set_member_name (b, "cache_bytes");
  json_builder_add_int_value (b, relay_cache_get_bytes (r->cache));
  json_builder_set_member_name (b, "cache_limit");
  json_builder_add_int_value (b, r->cache_bytes);
  json_builder_set_member_name (b, "cache_chunks");
  json_builder_add_int_value (b, relay_cache_get_count (r->cache));
  json_builder_set_member_name (b, "cache_hits");
  json_builder_add_int_value (b, hits);
  json_builder_set_member_name (b, "cache_misses");
  json_builder_add_int_value (b, misses);
  json_builder_set_member_name (b, "cache_evictions");
  json_builder_add_int_value (b, evictions);
  json_builder_set_member_name (b, "served_from_cache");
  json_builder_add_int_value (b, r->served_from_cache);
  json_builder_set_member_name (b, "upstream");
  if (r->up_peer)
    stats_add_peer (b, r->up_peer, now);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

