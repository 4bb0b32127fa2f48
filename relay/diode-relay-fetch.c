/* gst-diode — the relay serves recordings: RANGE and FETCH
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay", the RANGE/FETCH server. RANGE
 * answers at once with the spans held (the store's index + the ring's one
 * span, merged into contiguous runs). FETCH walks chunks from from_seq like
 * a replay cursor: a live stream's closed ring chunks at once, else the
 * tiers (relay_chunk_get, on the pool), and streams CHUNK + frames +
 * FETCH_END paced by the socket (conn_flush asks fetch_next_frame for the
 * next frame whenever the socket takes more), at most 64 chunks and 32 MiB
 * per FETCH. Chunks it holds count against the relay-wide replay bound
 * (replay_hold/replay_release, diode-relay-replay.c). Access is
 * SUBSCRIBE's (relay_replay_allowed). Runs on the relay's I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* spans */

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

  if (!(m->range_flags & DIODE_RANGE_LOCAL) && !stored
      && relay_stream_state (r, s, NULL) == DIODE_STREAM_LIVE_RECORDED) {
    /* Pulled here, recorded upstream: what the upstream (and peers) hold
     * of it, merged with the ring's span (diode-relay-tiers.c). */
    diode_store_meta_clear (&meta);
    relay_range_pulled_for (c, m->stream);
    return;
  }
  if (!stream_live_here (s) && !stored && !(s && s->ring
          && diode_ring_get_last_seq (s->ring))) {
    gchar *text;

    /* Not held here: unless LOCAL, the peers and the upstream may have it
     * (diode-relay-tiers.c answers, or says NOT_FOUND). */
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
  gsize       reserved;         /* its read's slot under the bound */
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
  replay_unreserve (r, &f->reserved);
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

  if (ch && (ch->hdr.first_seq > f->to_seq
          || ch->hdr.last_seq < f->next_seq))
    /* past the range, or not taking it forward (a tier answered an older
     * range): the FETCH ends rather than ask for the same seqs again */
    g_clear_pointer (&ch, diode_stored_chunk_unref);
  if (ch)
    replay_hold (r, ch);
  f->reading = FALSE;
  f->cur = ch;
  f->index = 0;
  f->header_sent = FALSE;
  f->ended = (ch == NULL);
  /* landed: its slot goes (what it holds is counted now), and those
   * waiting get the room left */
  replay_unreserve (r, &f->reserved);
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
  /* the relay-wide bound, as for replay cursors: a chunk from the ring is
   * held as well as one read from the store */
  if (!replay_admit (r, f->id, &f->reserved, &f->queued))
    return;
  /* a live stream's ring first (an ended one is wholly in the store) */
  if (stream_live_here (s)
      && diode_ring_find_seq (s->ring, f->next_seq, &at, &index)) {
    DiodeStoredChunk *ch = fetch_from_ring (s, f->next_seq);

    if (ch) {
      fetch_take (f, ch);
      return;
    }
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
void
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
        if (h.last_seq >= f->to_seq)
          f->ended = TRUE;      /* nothing after it (and no wrap to 0) */
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
    /* after the stream's EOS nothing more can come; past to_seq (or the
     * end of the seq space: last_seq + 1 would wrap) neither */
    if (ch->hdr.flags & DIODE_CHUNK_EOS)
      f->next_seq = MAX (f->next_seq, f->to_seq + 1);
    if ((ch->hdr.flags & DIODE_CHUNK_EOS) || ch->hdr.last_seq >= f->to_seq)
      f->ended = TRUE;
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
     * under the policy they gave (diode-relay-tiers.c). */
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
