/* gst-diode — LIST: the streams a client may watch (docs/protocol.md 19)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Answered on the I/O thread from the stream table, like /api/streams
 * (relay/web/diode-web-api.c), with the same helpers: stream_totals,
 * stream_caps_info, the state names. Visibility fails closed and is
 * SUBSCRIBE's own check (conn_allowed in diode-relay-access.c): a stream
 * is listed only when this connection could subscribe to it, and a LIST
 * ONE of a stream it may not see is answered exactly like one of a name
 * that does not exist (an empty LISTING), so nothing leaks existence.
 * Bounded: one pass over the table (itself bounded by max-streams), at
 * most DIODE_LIST_MAX_ENTRIES entries per answer (TRUNCATED: ask again
 * from the last name), at most LIST_BURST LISTs per LIST_WINDOW_MS per
 * connection, and at most LIST_VISITS streams looked at per second by all
 * LISTs together, so many clients listing a large table cannot take the
 * I/O thread from the media (over either: ERROR 107, the connection stays
 * usable). Recordings held only in the store (--store, no stream in the
 * table) are listed too, state STORED, merged by name: visible exactly
 * when a SUBSCRIBE with a start could replay them (relay_store_meta and
 * relay_replay_allowed, as replay-start), counted in the visits.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

#define LIST_BURST      20
#define LIST_WINDOW_MS  10000
#define LIST_VISITS     200000  /* streams per second, all LISTs */

/* The state /api/streams and LISTING show */
guint8
stream_list_state (Stream * s)
{
  if (!stream_live_here (s))
    return DIODE_LIST_ENDED;
  return relay_record_state (s) == DIODE_STORE_RECORDING ?
      DIODE_LIST_RECORDING : DIODE_LIST_LIVE;
}

/* A stream and not only a name: fed at some point (a name held by
 * waiting viewers only is not one), with a policy. The web list shows
 * the public ones of these (diode-web-api.c). */
gboolean
stream_shown (Stream * s)
{
  return s->has_policy && (s->media_since || s->publisher || s->pull);
}

static gboolean
visible_to (Conn * c, Stream * s)
{
  gchar *why = NULL;
  gboolean ok;

  if (!stream_shown (s))
    return FALSE;
  ok = conn_allowed (c, s, &why);
  g_free (why);
  return ok;
}

static void
entry_fill (DiodeRelay * r, Stream * s, DiodeListEntry * e, gint64 now)
{
  const DiodeCapsInfo *ci = stream_caps_info (s);
  gchar *key = diode_name_key (s->name, NULL);
  StreamTotals t;
  gdouble fps = diode_caps_info_framerate (ci);

  stream_totals (s, &t);
  e->name = g_strdup (s->name);
  e->state = stream_list_state (s);
  e->access = s->access <= DIODE_ACCESS_PRIVATE ? s->access :
      DIODE_ACCESS_PRIVATE;
  e->stored = key && relay_record_lookup (r, key, NULL) ? 1 : 0;
  e->owner = s->owner && diode_msg_address_is_valid (s->owner) ?
      g_ascii_strdown (s->owner, -1) : NULL;
  e->viewers = t.viewers;
  e->web_viewers = t.web_viewers;
  e->bitrate_bps = stream_live_here (s) ? s->bitrate_bps : 0;
  e->codec = g_strndup (diode_caps_info_codec (ci), DIODE_LIST_MAX_CODEC);
  e->width = CLAMP (ci->width, 0, G_MAXUINT16);
  e->height = CLAMP (ci->height, 0, G_MAXUINT16);
  e->framerate_milli = fps > 0 && fps < G_MAXUINT32 / 1000.0 ?
      (guint32) (fps * 1000 + 0.5) : 0;
  e->live_seq = s->ring ? diode_ring_get_last_seq (s->ring) : 0;
  e->uptime_ms = s->media_since && now > s->media_since ?
      (guint64) (now - s->media_since) / 1000 : 0;
  e->bytes_in = s->bytes_in;
  e->bytes_out = t.bytes_out;
  g_free (key);
}

/* A stream held only in the store: what its meta says; no caps (the
 * store keeps them in its chunks only), uptime 0, live_seq its last
 * stored seq. */
static void
entry_fill_stored (DiodeRelay * r, const DiodeStoreMeta * meta,
    DiodeListEntry * e)
{
  guint64 next = relay_record_next_seq (r, meta->name);

  e->name = g_strdup (meta->name);
  e->state = DIODE_LIST_STORED;
  e->access = meta->access <= DIODE_ACCESS_PRIVATE ? meta->access :
      DIODE_ACCESS_PRIVATE;
  e->stored = 1;
  e->owner = meta->owner && diode_msg_address_is_valid (meta->owner) ?
      g_ascii_strdown (meta->owner, -1) : NULL;
  e->codec = g_strdup ("");
  e->live_seq = next ? next - 1 : 0;
}

/* A stream picked for the answer: one of the table's, or (s NULL) one
 * held only in the store. */
typedef struct {
  const gchar *name;            /* borrowed: the stream's or the meta's */
  Stream     *s;
} Pick;

typedef struct {
  Conn       *conn;
  const gchar *after;           /* LIST ALL: names sorting after this */
  GArray     *pick;
} StoredWalk;

static gint
cmp_name (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Pick *) a)->name, ((const Pick *) b)->name);
}

/* A stored stream this connection could replay, and not one the table
 * lists (a name in both is listed once, as the table's stream). */
static gboolean
stored_visible (Conn * c, const gchar * name)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, name);
  DiodeStoreMeta meta;
  gchar *why = NULL;
  gboolean ok;

  if (s && stream_shown (s))
    return FALSE;
  /* unreadable meta: relay_store_meta gives access UNREADABLE, which
   * relay_replay_allowed refuses (fail closed) */
  ok = relay_store_meta (r, name, &meta)
      && relay_replay_allowed (c, s, &meta, &why);
  g_free (why);
  diode_store_meta_clear (&meta);
  return ok;
}

static void
stored_pick (const gchar * name, gpointer user_data)
{
  StoredWalk *w = user_data;
  Pick p = { name, NULL };

  if ((!*w->after || strcmp (name, w->after) > 0)
      && stored_visible (w->conn, name))
    g_array_append_val (w->pick, p);
}

/* Per connection: LIST_BURST in a window, then 107 until it ends. */
static gboolean
list_rate_ok (Conn * c, gint64 now)
{
  if (!c->list_window || now - c->list_window >= LIST_WINDOW_MS * 1000) {
    c->list_window = now;
    c->list_count = 0;
  }
  return ++c->list_count <= LIST_BURST;
}

/* Relay-wide: the streams LISTs look at, per second. A LIST ONE looks at
 * one, an ALL at the whole table and the store's list. One LIST larger
 * than the whole budget (a table past it: --max-streams 0) still gets its
 * turn, alone in its second, so such a relay answers at most one pass a
 * second instead of refusing every LIST for ever. */
static gboolean
list_visits_ok (DiodeRelay * r, guint visits, gint64 now)
{
  guint visits_max = (guint) g_atomic_int_get (&r->list_visits);
  guint64 budget = visits_max ? visits_max : LIST_VISITS;

  if (!r->list_visit_window || now - r->list_visit_window >= G_USEC_PER_SEC) {
    r->list_visit_window = now;
    r->list_visits_used = 0;
  }
  if (r->list_visits_used + visits > budget && r->list_visits_used > 0)
    return FALSE;
  r->list_visits_used += visits;
  return TRUE;
}

void
handle_list (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  gint64 now = g_get_monotonic_time ();
  GArray *pick;
  DiodeListEntry *entries;
  guint8 flags = 0;
  guint i, n, max;
  GError *err = NULL;
  GBytes *f;

  if (!list_rate_ok (c, now)) {
    gchar *text = g_strdup_printf ("more than %d LIST in %d s on one "
        "connection: try again later", LIST_BURST, LIST_WINDOW_MS / 1000);

    conn_send_error (c, DIODE_ERR_RATE_LIMITED, text);
    g_free (text);
    return;
  }
  if (!list_visits_ok (r, m->list_mode == DIODE_LIST_ONE ? 1 :
          MAX (g_hash_table_size (r->streams) + (r->recordings ?
                  g_hash_table_size (r->recordings) : 0), 1), now)) {
    conn_send_error (c, DIODE_ERR_RATE_LIMITED, "the relay is answering "
        "too many LISTs: try again in a second");
    return;
  }
  pick = g_array_new (FALSE, FALSE, sizeof (Pick));

  if (m->list_mode == DIODE_LIST_ONE) {
    Stream *s = stream_lookup (r, m->stream);
    Pick p = { NULL, NULL };

    if (s && visible_to (c, s)) {
      p.name = s->name;
      p.s = s;
      g_array_append_val (pick, p);
    } else if (stored_visible (c, m->stream)) {
      p.name = m->stream;
      g_array_append_val (pick, p);
    }
  } else {
    GHashTableIter it;
    gpointer v;
    StoredWalk w = { c, m->stream, pick };

    g_hash_table_iter_init (&it, r->streams);
    while (g_hash_table_iter_next (&it, NULL, &v)) {
      Stream *s = v;
      Pick p = { s->name, s };

      if ((!*m->stream || strcmp (s->name, m->stream) > 0)
          && visible_to (c, s))
        g_array_append_val (pick, p);
    }
    relay_record_foreach_name (r, stored_pick, &w);
    g_array_sort (pick, cmp_name);
  }
  max = (guint) g_atomic_int_get (&r->list_max);
  n = MIN (pick->len, max ? max : DIODE_LIST_MAX_ENTRIES);
  if (pick->len > n)
    flags |= DIODE_LISTING_TRUNCATED;
  entries = g_new0 (DiodeListEntry, MAX (n, 1));
  for (i = 0; i < n; i++) {
    Pick *p = &g_array_index (pick, Pick, i);
    DiodeStoreMeta meta;

    if (p->s)
      entry_fill (r, p->s, &entries[i], now);
    else {
      relay_store_meta (r, p->name, &meta);
      entry_fill_stored (r, &meta, &entries[i]);
      diode_store_meta_clear (&meta);
    }
  }
  f = diode_msg_encode_listing (flags, entries, n);
  for (i = 0; i < n; i++)
    diode_list_entry_clear (&entries[i]);
  g_free (entries);
  g_array_unref (pick);
  if (!f) {
    conn_send_error (c, DIODE_ERR_INTERNAL, "cannot encode LISTING");
    return;
  }
  conn_queue (c, f);
  if (!diode_session_sent (c->session, DIODE_MSG_LISTING, 0, &err)) {
    g_warning ("session refused LISTING: %s", err->message);
    g_clear_error (&err);
  }
  conn_flush (c);
}

void
diode_relay_set_list_limits (DiodeRelay * relay, guint max_entries,
    guint visits_per_second)
{
  g_return_if_fail (DIODE_IS_RELAY (relay));
  g_return_if_fail (max_entries <= DIODE_LIST_MAX_ENTRIES);
  /* atomic: a test may change them while the I/O thread reads them */
  g_atomic_int_set (&relay->list_max, max_entries);
  g_atomic_int_set (&relay->list_visits, visits_per_second);
}
