/* gst-diode — chunks fetched from other relays: the requests
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The requests of diode-relay-peers.c (read its comment first): a chunk
 * (relay_peers_chunk_get) or a stored range (relay_peers_range) asked of
 * the sources in order, requests for the same chunk shared, each answer
 * (or none) handed to its waiters from an idle source on the I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-peers.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* requests */

void
relay_range_free (RelayRange * rr)
{
  if (!rr)
    return;
  g_free (rr->name);
  g_free (rr->owner);
  g_free (rr->fleet);
  g_strfreev (rr->allow);
  g_free (rr->spans);
  g_free (rr);
}

RelayRange *
relay_range_copy (const RelayRange * rr)
{
  RelayRange *c = g_new0 (RelayRange, 1);

  *c = *rr;
  c->name = g_strdup (rr->name);
  c->owner = g_strdup (rr->owner);
  c->fleet = g_strdup (rr->fleet);
  c->allow = g_strdupv (rr->allow);
  c->spans = g_memdup2 (rr->spans, sizeof (DiodeSpan) * rr->n_spans);
  return c;
}

/* The policy and spans the last RANGE_OK from another relay gave for
 * stream @key (borrowed), or NULL. */
const RelayRange *
relay_peers_remote (DiodeRelay * r, const gchar * key)
{
  return r->remote_meta ? g_hash_table_lookup (r->remote_meta, key) : NULL;
}

void
req_free (FetchReq * q)
{
  g_slist_free_full (q->waiters, g_free);
  if (q->chunk)
    diode_stored_chunk_unref (q->chunk);
  relay_range_free (q->range);
  g_free (q->key);
  g_free (q->name);
  g_free (q->hkey);
  g_free (q->reason);
  g_free (q);
}

static void
req_call (DiodeRelay * r, FetchReq * q)
{
  GSList *it;

  for (it = q->waiters; it; it = it->next) {
    Waiter *w = it->data;

    if (q->kind == REQ_CHUNK) {
      GError *err = q->chunk ? NULL : g_error_new_literal (DIODE_STORE_ERROR,
          DIODE_STORE_ERROR_NOT_FOUND, q->reason ? q->reason : "not found");

      w->chunk_cb (r, q->chunk ? diode_stored_chunk_ref (q->chunk) : NULL,
          err, w->user_data);
      g_clear_error (&err);
    } else
      w->range_cb (r, q->range, q->range ? NULL : q->reason, w->user_data);
  }
}

gboolean
peers_fetch_done_cb (gpointer data)
{
  DiodeRelay *r = data;
  FetchReq *q;

  r->fetch_done_source = NULL;
  /* a callback may ask again: what it asks goes after these */
  while ((q = g_queue_pop_head (&r->fetch_done))) {
    req_call (r, q);
    req_free (q);
  }
  relay_reap (r);
  return G_SOURCE_REMOVE;
}

/* The answer (or none) is known: the callbacks run from an idle source. */
void
req_done (DiodeRelay * r, FetchReq * q)
{
  q->on = NULL;
  if (q->hkey && r->fetch_reqs
      && g_hash_table_lookup (r->fetch_reqs, q->hkey) == q)
    g_hash_table_remove (r->fetch_reqs, q->hkey);
  if (q->kind == REQ_CHUNK && !q->chunk && !r->stopping) {
    r->fetch_failed++;
    if (q->hkey && r->fetch_misses) {
      gint64 *until = g_new (gint64, 1);

      *until = g_get_monotonic_time () + FETCH_MISS_MS * 1000;
      g_hash_table_replace (r->fetch_misses, g_strdup (q->hkey), until);
    }
  }
  g_queue_push_tail (&r->fetch_done, q);
  if (!r->fetch_done_source && r->context) {
    GSource *s = g_idle_source_new ();

    g_source_set_priority (s, G_PRIORITY_DEFAULT);
    g_source_set_callback (s, peers_fetch_done_cb, r, NULL);
    g_source_attach (s, r->context);
    r->fetch_done_source = s;
    g_source_unref (s);
  }
}

void
req_set_reason (FetchReq * q, const gchar * fmt, ...)
{
  va_list ap;

  g_free (q->reason);
  va_start (ap, fmt);
  q->reason = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}


/* Ask the next source in order that is not in its backoff; none left:
 * done without an answer. */
void
req_next (DiodeRelay * r, FetchReq * q)
{
  gint64 now = g_get_monotonic_time ();
  guint n = r->peer_list ? r->peer_list->len : 0;

  q->on = NULL;
  while (q->source <= n) {
    Peer *p = q->source < n ? g_ptr_array_index (r->peer_list, q->source)
        : r->up_peer;

    q->source++;
    if (p && peer_usable (p, now)) {
      peer_enqueue (p, q);
      return;
    }
  }
  if (q->kind == REQ_CHUNK && !q->skip && !q->exact && !q->chunk) {
    /* Nobody holds seq: like a store read, the first chunk after it (a
     * gap: it goes out with DISCONT). Every source again, same order. */
    q->skip = TRUE;
    q->source = 0;
    req_next (r, q);
    return;
  }
  if (!q->reason)
    req_set_reason (q, "no peer and no upstream could be asked");
  req_done (r, q);
}

void
relay_peers_chunk_get (DiodeRelay * r, const gchar * key, const gchar * name,
    guint64 seq, gboolean exact, RelayPeerChunkFunc cb, gpointer user_data)
{
  Waiter *w = g_new0 (Waiter, 1);
  gchar *hkey = g_strdup_printf ("%s\n%" G_GUINT64_FORMAT "\n%d", key, seq,
      exact);
  FetchReq *q = r->fetch_reqs ? g_hash_table_lookup (r->fetch_reqs, hkey)
      : NULL;

  w->chunk_cb = cb;
  w->user_data = user_data;
  if (q) {
    /* the same chunk is on its way already */
    q->waiters = g_slist_append (q->waiters, w);
    g_free (hkey);
    return;
  }
  q = g_new0 (FetchReq, 1);
  q->kind = REQ_CHUNK;
  q->key = g_strdup (key);
  q->name = g_strdup (name);
  q->seq = seq;
  q->exact = exact;
  q->waiters = g_slist_append (NULL, w);
  if (r->cache)
    q->chunk = relay_cache_get (r->cache, key, seq);
  if (q->chunk || !r->fetch_reqs || r->stopping) {
    g_free (hkey);
    if (!q->chunk)
      req_set_reason (q, "the relay is not running");
    req_done (r, q);
    return;
  }
  if (r->fetch_misses) {
    gint64 *until = g_hash_table_lookup (r->fetch_misses, hkey);

    if (until && *until > g_get_monotonic_time ()) {
      /* every source said no a moment ago: no new round yet */
      g_free (hkey);
      req_set_reason (q, "no peer and no upstream holds it (asked less "
          "than a second ago)");
      req_done (r, q);
      return;
    }
  }
  q->hkey = hkey;
  g_hash_table_insert (r->fetch_reqs, q->hkey, q);
  req_next (r, q);
}

void
relay_peers_range (DiodeRelay * r, const gchar * key, const gchar * name,
    RelayRangeFunc cb, gpointer user_data)
{
  Waiter *w = g_new0 (Waiter, 1);
  FetchReq *q = g_new0 (FetchReq, 1);

  w->range_cb = cb;
  w->user_data = user_data;
  q->kind = REQ_RANGE;
  q->key = g_strdup (key);
  q->name = g_strdup (name);
  q->waiters = g_slist_append (NULL, w);
  if (!r->peer_list || r->stopping) {
    req_set_reason (q, "the relay is not running");
    req_done (r, q);
    return;
  }
  req_next (r, q);
}
