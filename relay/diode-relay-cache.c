/* gst-diode — the relay's cache of chunks fetched from other relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One job: keep the chunks this relay fetched from its peers or its
 * upstream (diode-relay-peers.c) so the next viewer of the same recording
 * is served without asking again. Bounded by --cache-bytes, counted with
 * diode_stored_chunk_cost() (what a chunk holds in memory, not just its
 * wire bytes); past the bound the least recently used chunks go first. A
 * chunk bigger than the whole bound is not kept at all.
 *
 * Lookup is by stream key (diode_name_key) and MEDIA seq: per stream a
 * GTree ordered by the chunks' first_seq gives the chunk at or before a
 * seq in O(log n); a GQueue is the recency order (head: most recent).
 * Everything here runs on the relay's I/O thread; the chunks themselves
 * are refcounted and immutable, so a chunk handed out stays valid after
 * its eviction.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

typedef struct {
  gchar      *key;              /* owned by the stream's table entry */
  DiodeStoredChunk *chunk;
  gsize       cost;
  GList       node;             /* in cache->lru, data = this entry */
} CacheEntry;

struct _RelayCache {
  guint64     max_bytes;        /* 0 = keep nothing */
  guint64     bytes;
  GHashTable *streams;          /* key -> GTree (first_seq -> CacheEntry) */
  GQueue      lru;              /* CacheEntry via their node, head newest */
  guint64     hits, misses, evictions, inserts;
};

static gint
seq_cmp (gconstpointer a, gconstpointer b, gpointer unused)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

RelayCache *
relay_cache_new (guint64 max_bytes)
{
  RelayCache *c = g_new0 (RelayCache, 1);

  c->max_bytes = max_bytes;
  c->streams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_tree_unref);
  g_queue_init (&c->lru);
  return c;
}

static void
entry_free (CacheEntry * e)
{
  diode_stored_chunk_unref (e->chunk);
  g_free (e);
}

/* Takes @e out of its stream's tree and the LRU, and frees it. */
static void
cache_remove (RelayCache * c, CacheEntry * e)
{
  GTree *t = g_hash_table_lookup (c->streams, e->key);

  g_queue_unlink (&c->lru, &e->node);
  c->bytes -= e->cost;
  if (t) {
    g_tree_remove (t, &e->chunk->hdr.first_seq);
    if (g_tree_nnodes (t) == 0)
      g_hash_table_remove (c->streams, e->key);    /* frees e->key too */
  }
  entry_free (e);
}

static void
cache_shrink (RelayCache * c, guint64 to)
{
  while (c->bytes > to && c->lru.tail) {
    c->evictions++;
    cache_remove (c, c->lru.tail->data);
  }
}

void
relay_cache_free (RelayCache * c)
{
  if (!c)
    return;
  cache_shrink (c, 0);
  g_hash_table_unref (c->streams);
  g_free (c);
}

void
relay_cache_set_max (RelayCache * c, guint64 max_bytes)
{
  c->max_bytes = max_bytes;
  cache_shrink (c, max_bytes);
}

/* The cached chunk of stream @key holding MEDIA @seq (a new reference), or
 * NULL. A hit makes the chunk the most recently used. */
DiodeStoredChunk *
relay_cache_get (RelayCache * c, const gchar * key, guint64 seq)
{
  GTree *t = g_hash_table_lookup (c->streams, key);
  GTreeNode *n;
  CacheEntry *e;

  if (!t) {
    c->misses++;
    return NULL;
  }
  /* the last chunk starting at or before @seq */
  n = g_tree_upper_bound (t, &seq);
  n = n ? g_tree_node_previous (n) : g_tree_node_last (t);
  if (!n) {
    c->misses++;
    return NULL;
  }
  e = g_tree_node_value (n);
  if (seq < e->chunk->hdr.first_seq || seq > e->chunk->hdr.last_seq) {
    c->misses++;
    return NULL;
  }
  c->hits++;
  g_queue_unlink (&c->lru, &e->node);
  g_queue_push_head_link (&c->lru, &e->node);
  return diode_stored_chunk_ref (e->chunk);
}

/* Keeps @chunk (a new reference is taken) for stream @key, replacing one
 * with the same first seq, then evicts the least recently used chunks
 * past the bound. */
void
relay_cache_put (RelayCache * c, const gchar * key, DiodeStoredChunk * chunk)
{
  GTree *t;
  CacheEntry *e, *old;
  gsize cost = diode_stored_chunk_cost (chunk);

  if (!c->max_bytes || cost > c->max_bytes)
    return;
  /* callers put only verified chunks (diode_stored_chunk_verify); a
   * header whose range could not be looked up sanely never goes in */
  if (!diode_chunkrec_check_header (&chunk->hdr, NULL))
    return;
  t = g_hash_table_lookup (c->streams, key);
  if (!t) {
    t = g_tree_new_full (seq_cmp, NULL, NULL, NULL);
    g_hash_table_insert (c->streams, g_strdup (key), t);
  }
  old = g_tree_lookup (t, &chunk->hdr.first_seq);
  if (old) {
    /* keep the tree (and its key) alive while the old entry goes */
    g_queue_unlink (&c->lru, &old->node);
    c->bytes -= old->cost;
    g_tree_remove (t, &old->chunk->hdr.first_seq);
    entry_free (old);
  }
  e = g_new0 (CacheEntry, 1);
  e->chunk = diode_stored_chunk_ref (chunk);
  e->cost = cost;
  e->node.data = e;
  /* the table owns the key string; the entry borrows it */
  {
    gpointer k = NULL;

    g_hash_table_lookup_extended (c->streams, key, &k, NULL);
    e->key = k;
  }
  g_tree_insert (t, &e->chunk->hdr.first_seq, e);
  g_queue_push_head_link (&c->lru, &e->node);
  c->bytes += cost;
  c->inserts++;
  cache_shrink (c, c->max_bytes);
}

guint64
relay_cache_get_bytes (RelayCache * c)
{
  return c ? c->bytes : 0;
}

guint
relay_cache_get_count (RelayCache * c)
{
  return c ? c->lru.length : 0;
}

void
relay_cache_get_counters (RelayCache * c, guint64 * hits, guint64 * misses,
    guint64 * evictions)
{
  if (hits)
    *hits = c ? c->hits : 0;
  if (misses)
    *misses = c ? c->misses : 0;
  if (evictions)
    *evictions = c ? c->evictions : 0;
}
