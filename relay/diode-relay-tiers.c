/* gst-diode — the fetch tiers: what a relay serves from other relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One job: put the remote sources of diode-relay-peers.c behind the
 * relay's requests. relay_chunk_get (the replay cursor's and a FETCH's
 * read) is this relay's store first, then the remote tiers when they can
 * help; a LOCAL FETCH (a sibling asking) is the store, then the cache,
 * never the network; a client's RANGE for a stream not held here is
 * passed on, answered under the policy the other relay gave; a remote
 * replay's start is found in the spans another relay gave. Everything here
 * runs on the relay's I/O thread; callbacks come back on it too.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* the tiers of relay_chunk_get: the local store, then the remote ones */

typedef struct {
  gchar      *key, *name;
  guint64     seq;
  RelayChunkFunc cb;
  gpointer    user_data;
  DiodeStoredChunk *local;      /* the store's first chunk after a gap */
  GError     *local_error;
  gboolean    exact;
} TierReq;

/* Requests waiting for a store read are tracked: a relay stopped before
 * the read came back (its answer is dropped with the relay's context)
 * frees them in relay_tiers_stop. */
static void
pending_add (DiodeRelay * r, gpointer req, GDestroyNotify free_func)
{
  if (!r->tier_pending)
    r->tier_pending = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (r->tier_pending, req, free_func);
}

static void
pending_remove (DiodeRelay * r, gpointer req)
{
  if (r->tier_pending)
    g_hash_table_remove (r->tier_pending, req);
}

void
relay_tiers_stop (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer req, free_func;

  if (!r->tier_pending)
    return;
  g_hash_table_iter_init (&it, r->tier_pending);
  while (g_hash_table_iter_next (&it, &req, &free_func))
    ((GDestroyNotify) free_func) (req);
  g_clear_pointer (&r->tier_pending, g_hash_table_unref);
}

static void
tier_req_free (TierReq * t)
{
  if (t->local)
    diode_stored_chunk_unref (t->local);
  g_clear_error (&t->local_error);
  g_free (t->key);
  g_free (t->name);
  g_free (t);
}

/* Is asking other relays for @seq of @name of any use? Not when the
 * stream is live here and its ring (which the replay cursor moves onto)
 * reaches back to @seq: that is the live edge of a recording, polled. */
static gboolean
remote_wanted (DiodeRelay * r, const gchar * name, guint64 seq)
{
  Stream *s;
  DiodeChunk *oldest;

  if (r->stopping || !relay_peers_configured (r))
    return FALSE;
  s = stream_lookup (r, name);
  if (!s || s->eos || !(s->publisher || s->pull || s->pull_next))
    return TRUE;
  oldest = diode_ring_oldest_chunk (s->ring);
  return oldest && oldest->first_seq && seq < oldest->first_seq;
}

static void
tier_remote_done (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
{
  TierReq *t = user_data;

  if (ch && t->exact && ch->hdr.first_seq > t->seq)
    g_clear_pointer (&ch, diode_stored_chunk_unref);
  if (ch) {
    t->cb (r, ch, NULL, t->user_data);
  } else if (t->local) {
    /* nobody has the chunk the local store lacks: its next one */
    DiodeStoredChunk *l = t->local;

    t->local = NULL;
    t->cb (r, l, NULL, t->user_data);
  } else if (t->local_error && g_error_matches (t->local_error,
          DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED)) {
    /* nobody has an intact copy: the replay skips it in the store */
    t->cb (r, NULL, t->local_error, t->user_data);
  } else {
    t->cb (r, NULL, error, t->user_data);
  }
  tier_req_free (t);
}

static void
tier_local_done (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
{
  TierReq *t = user_data;

  pending_remove (r, t);
  if ((ch && ch->hdr.first_seq <= t->seq) || !remote_wanted (r, t->name,
          t->seq)) {
    t->cb (r, ch, error, t->user_data);
    tier_req_free (t);
    return;
  }
  /* Not here, damaged here, or only a later chunk here (a gap in the
   * store): the peers, then the upstream. The store's own answer stands
   * when they have nothing better. */
  if (ch) {
    t->local = ch;
    t->exact = TRUE;
  } else {
    t->local_error = error ? g_error_copy (error) : NULL;
    t->exact = g_error_matches (error, DIODE_STORE_ERROR,
        DIODE_STORE_ERROR_DAMAGED);
  }
  relay_peers_chunk_get (r, t->key, t->name, t->seq, t->exact,
      tier_remote_done, t);
}

/* relay_chunk_get: this relay's store, then the cache, the peers in order
 * and the upstream (docs/architecture.md, "Relays that share chunks"). */
void
relay_chunk_get_tiers (DiodeRelay * r, const gchar * key, const gchar * name,
    guint64 seq, RelayChunkFunc cb, gpointer user_data)
{
  TierReq *t;

  if (!relay_peers_configured (r)) {
    relay_chunk_get_local (r, key, seq, cb, user_data);
    return;
  }
  t = g_new0 (TierReq, 1);
  t->key = g_strdup (key);
  t->name = g_strdup (name);
  t->seq = seq;
  t->cb = cb;
  t->user_data = user_data;
  pending_add (r, t, (GDestroyNotify) tier_req_free);
  relay_chunk_get_local (r, key, seq, tier_local_done, t);
}

/* A DiodeStoreMeta (copies) from what another relay said of @key: the
 * policy a replay of it is checked against. FALSE: nothing known. */
gboolean
relay_peers_remote_meta (DiodeRelay * r, const gchar * key,
    DiodeStoreMeta * meta)
{
  const RelayRange *rr = relay_peers_remote (r, key);

  memset (meta, 0, sizeof (*meta));
  if (!rr)
    return FALSE;
  meta->name = g_strdup (rr->name);
  meta->owner = g_strdup (rr->owner);
  meta->access = rr->access <= DIODE_ACCESS_PRIVATE ? rr->access :
      DIODE_ACCESS_PRIVATE;
  meta->fleet = g_strdup (rr->fleet ? rr->fleet : "");
  meta->allow = rr->allow ? g_strdupv (rr->allow) : g_new0 (gchar *, 1);
  meta->finished = rr->stream_state == DIODE_STREAM_RECORDING;
  return TRUE;
}

/* Where a start mode lands in the spans another relay gave: the seq to
 * FETCH first (the chunk holding it starts at or before it, as
 * diode_store_find's BEFORE); 0 when the spans are empty. Times inside a
 * span are interpolated: the chunk boundaries are the source's. */
guint64
relay_range_find_start (const RelayRange * rr, guint8 mode, guint64 value,
    guint64 now_us)
{
  const DiodeSpan *first, *last;
  guint i;

  if (!rr || !rr->n_spans)
    return 0;
  first = &rr->spans[0];
  last = &rr->spans[rr->n_spans - 1];
  switch (mode) {
    case DIODE_START_BACK:
      if (rr->stream_state == DIODE_STREAM_RECORDING
          && last->end_time != DIODE_TIME_NONE) {
        value = last->end_time > value ? last->end_time - value : 0;
        mode = DIODE_START_TIME;
      } else {
        value = now_us > value / 1000 ? now_us - value / 1000 : 0;
        mode = DIODE_START_WALLCLOCK;
      }
      break;
    case DIODE_START_TIME:
    case DIODE_START_WALLCLOCK:
      break;
    default:
      return first->first_seq;
  }
  for (i = rr->n_spans; i > 0; i--) {
    const DiodeSpan *sp = &rr->spans[i - 1];
    guint64 lo = mode == DIODE_START_TIME ? sp->first_time : sp->wall_start_us;
    guint64 hi = mode == DIODE_START_TIME ? sp->end_time : sp->wall_end_us;

    if (lo == DIODE_TIME_NONE || value < lo)
      continue;
    if (hi == DIODE_TIME_NONE || hi <= lo || value >= hi)
      return sp->last_seq;
    return sp->first_seq + (guint64) ((gdouble) (value - lo) / (hi - lo) *
        (sp->last_seq - sp->first_seq));
  }
  return first->first_seq;
}

/* ------------------------------------------------------------------------ */
/* a client's RANGE passed on */

static void
range_for_done (DiodeRelay * r, const RelayRange * rr, const gchar * reason,
    gpointer user_data)
{
  Conn *c = r->range_waits ? g_hash_table_lookup (r->range_waits,
      user_data) : NULL;
  gboolean relay_role;
  DiodeStoreMeta meta;
  gchar *why = NULL, *key;
  GError *err = NULL;
  GBytes *f;

  if (!c)
    return;
  g_hash_table_remove (r->range_waits, user_data);
  c->range_wait = 0;
  if (c->dead || c->phase != CONN_OPEN)
    return;
  if (!rr) {
    gchar *text = g_strdup_printf ("stream is neither live nor stored on "
        "this relay, its peers or its upstream (%s)", reason ? reason :
        "nobody answered");

    conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
    g_free (text);
    conn_flush (c);
    return;
  }
  key = diode_name_key (rr->name, NULL);
  relay_peers_remote_meta (r, key ? key : "", &meta);
  g_free (key);
  if (!meta.name) {
    /* a race with a newer answer: the policy of this one */
    meta.name = g_strdup (rr->name);
    meta.owner = g_strdup (rr->owner);
    meta.access = rr->access;
    meta.fleet = g_strdup (rr->fleet);
    meta.allow = g_strdupv (rr->allow);
  }
  if (!relay_replay_allowed (c, NULL, &meta, &why)) {
    relay_log (r, RELAY_LOG_REFUSED, "refused RANGE from %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    diode_store_meta_clear (&meta);
    conn_flush (c);
    return;
  }
  /* an allowlist is told to relays only (they enforce it downstream) */
  relay_role = diode_session_get_role (c->session) == DIODE_ROLE_RELAY;
  f = diode_msg_encode_range_ok (rr->name, rr->stream_state, rr->owner,
      rr->access, rr->fleet, relay_role ? (const gchar * const *) rr->allow :
      NULL, rr->spans, MIN (rr->n_spans, DIODE_MAX_SPANS));
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

void
relay_peers_range_for (Conn * c, const gchar * name)
{
  DiodeRelay *r = c->relay;
  gchar *key = diode_name_key (name, NULL);
  guint id;

  if (!r->range_waits)
    r->range_waits = g_hash_table_new (NULL, NULL);
  id = ++r->next_range_wait;
  if (!id)
    id = ++r->next_range_wait;
  c->range_wait = id;
  g_hash_table_insert (r->range_waits, GUINT_TO_POINTER (id), c);
  relay_peers_range (r, key ? key : name, name, range_for_done,
      GUINT_TO_POINTER (id));
  g_free (key);
}

/* A RANGE for a stream pulled here: what the upstream (and the peers)
 * hold, merged with this relay's ring. */
static gint
span_cmp (const void *a, const void *b)
{
  const DiodeSpan *x = a, *y = b;

  return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

typedef struct {
  guint       id;               /* in r->range_waits */
  gchar      *name;
} PulledRange;

static void
pulled_range_done (DiodeRelay * r, const RelayRange * rr, const gchar * reason,
    gpointer user_data)
{
  PulledRange *pr = user_data;
  Conn *c = r->range_waits ? g_hash_table_lookup (r->range_waits,
      GUINT_TO_POINTER (pr->id)) : NULL;
  Stream *s = stream_lookup (r, pr->name);
  DiodeMsg local = { 0 };
  RelayRange *merged;
  DiodeSpan *ring;
  guint n, i, j;

  if (c && (!rr || rr->stream_state == DIODE_STREAM_LIVE || !s
          || !s->has_policy)) {
    /* Recorded nowhere else (or the stream went meanwhile): what this
     * relay holds, as a LOCAL RANGE is answered. */
    g_hash_table_remove (r->range_waits, GUINT_TO_POINTER (pr->id));
    c->range_wait = 0;
    if (!c->dead && c->phase == CONN_OPEN) {
      local.stream = pr->name;
      local.range_flags = DIODE_RANGE_LOCAL;
      handle_range (c, &local);
      conn_flush (c);
    }
  } else if (c) {
    gchar *why = NULL;

    /* The stream's policy as the pull got it applies as well as the
     * one RANGE_OK gave (fail closed: both must allow). */
    if (!relay_replay_allowed (c, s, NULL, &why)) {
      g_hash_table_remove (r->range_waits, GUINT_TO_POINTER (pr->id));
      c->range_wait = 0;
      if (c->dead || c->phase != CONN_OPEN) {
        g_free (why);
        goto out;
      }
      relay_log (r, RELAY_LOG_REFUSED, "refused RANGE from %s (%s): %s",
          c->address, c->peer, why);
      conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
      g_free (why);
      conn_flush (c);
    } else {
      /* the remote spans + the ring's, merged into contiguous runs */
      merged = relay_range_copy (rr);
      ring = g_new0 (DiodeSpan, DIODE_MAX_SPANS + 1);
      n = relay_spans (r, s, NULL, ring);
      merged->spans = g_renew (DiodeSpan, merged->spans, rr->n_spans + n);
      memcpy (merged->spans + rr->n_spans, ring, n * sizeof (DiodeSpan));
      n += rr->n_spans;
      qsort (merged->spans, n, sizeof (DiodeSpan), span_cmp);
      for (i = 0, j = 0; i < n; i++) {
        DiodeSpan *sp = &merged->spans[i];
        DiodeSpan *last = j ? &merged->spans[j - 1] : NULL;

        if (last && sp->first_seq <= last->last_seq + 1) {
          if (sp->last_seq > last->last_seq) {
            last->last_seq = sp->last_seq;
            last->end_time = sp->end_time;
            last->wall_end_us = MAX (last->wall_end_us, sp->wall_end_us);
          }
          continue;
        }
        merged->spans[j++] = *sp;
      }
      /* at most DIODE_MAX_SPANS, the newest */
      if (j > DIODE_MAX_SPANS) {
        memmove (merged->spans, merged->spans + j - DIODE_MAX_SPANS,
            DIODE_MAX_SPANS * sizeof (DiodeSpan));
        j = DIODE_MAX_SPANS;
      }
      merged->n_spans = j;
      merged->stream_state = DIODE_STREAM_LIVE_RECORDED;
      g_free (ring);
      /* answered under the policy RANGE_OK gave (range_for_done) */
      range_for_done (r, merged, reason, GUINT_TO_POINTER (pr->id));
      relay_range_free (merged);
    }
  }
out:
  g_free (pr->name);
  g_free (pr);
}

void
relay_range_pulled_for (Conn * c, const gchar * name)
{
  DiodeRelay *r = c->relay;
  gchar *key = diode_name_key (name, NULL);
  PulledRange *pr = g_new0 (PulledRange, 1);

  if (!r->range_waits)
    r->range_waits = g_hash_table_new (NULL, NULL);
  pr->id = ++r->next_range_wait;
  if (!pr->id)
    pr->id = ++r->next_range_wait;
  pr->name = g_strdup (name);
  c->range_wait = pr->id;
  g_hash_table_insert (r->range_waits, GUINT_TO_POINTER (pr->id), c);
  relay_peers_range (r, key ? key : name, name, pulled_range_done, pr);
  g_free (key);
}

void
relay_peers_conn_gone (Conn * c)
{
  if (c->range_wait && c->relay->range_waits)
    g_hash_table_remove (c->relay->range_waits,
        GUINT_TO_POINTER (c->range_wait));
  c->range_wait = 0;
}

/* ------------------------------------------------------------------------ */
/* what this relay holds, for a LOCAL FETCH: the store, then the cache */

typedef struct {
  gchar      *key;
  guint64     seq;
  RelayChunkFunc cb;
  gpointer    user_data;
} HeldReq;

static void
held_req_free (gpointer p)
{
  HeldReq *h = p;

  g_free (h->key);
  g_free (h);
}

static void
held_local_done (DiodeRelay * r, DiodeStoredChunk * ch, const GError * error,
    gpointer user_data)
{
  HeldReq *h = user_data;
  DiodeStoredChunk *cached = NULL;

  pending_remove (r, h);
  if ((!ch || ch->hdr.first_seq > h->seq) && r->cache && !r->stopping)
    cached = relay_cache_get (r->cache, h->key, h->seq);
  if (cached) {
    if (ch)
      diode_stored_chunk_unref (ch);
    r->served_from_cache++;
    h->cb (r, cached, NULL, h->user_data);
  } else {
    h->cb (r, ch, error, h->user_data);
  }
  held_req_free (h);
}

void
relay_chunk_get_held (DiodeRelay * r, const gchar * key, guint64 seq,
    RelayChunkFunc cb, gpointer user_data)
{
  HeldReq *h;

  if (!r->cache) {
    relay_chunk_get_local (r, key, seq, cb, user_data);
    return;
  }
  h = g_new0 (HeldReq, 1);
  h->key = g_strdup (key);
  h->seq = seq;
  h->cb = cb;
  h->user_data = user_data;
  pending_add (r, h, held_req_free);
  relay_chunk_get_local (r, key, seq, held_local_done, h);
}
