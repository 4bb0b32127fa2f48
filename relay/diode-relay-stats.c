/* gst-diode — the relay's stats: a log line per stream and a JSON snapshot
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The per-stream log line every stats interval, and the JSON snapshot kept
 * for diode_relay_get_stats() and written to --stats-file (mode 0600).
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* stats: a log line per stream and a JSON snapshot (docs/stats.md) */

/* A control link's fail-overs are its endpoint's: the Link to an
 * endpoint is replaced (a probe promoted at fail-back) but its history
 * stays. A pull's are its own (a fail-back's second pull inherits them). */
static guint
link_failover_count (DiodeRelay * r, Link * l)
{
  if (l->kind == LINK_CONTROL && r->ep_failovers && r->endpoints
      && l->ep >= 0 && (guint) l->ep < r->endpoints->len)
    return r->ep_failovers[l->ep];
  return l->failovers;
}

static void
stats_add_viewer (JsonBuilder * b, Conn * c, gint64 now)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "address");
  json_builder_add_string_value (b, c->address);
  json_builder_set_member_name (b, "peer");
  json_builder_add_string_value (b, c->peer);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, c->bytes_out);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, c->frames_out);
  json_builder_set_member_name (b, "skips");
  json_builder_add_int_value (b, c->skips);
  /* what of it came from the stream's ring: 0 growth while on DIRECT */
  json_builder_set_member_name (b, "media_bytes");
  json_builder_add_int_value (b, c->media_bytes_out);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, c->on_direct ? "direct" : "relay");
  json_builder_set_member_name (b, "backlog");
  json_builder_add_int_value (b, c->stream ?
      diode_cursor_backlog (&c->cursor, c->stream->ring) : 0);
  json_builder_set_member_name (b, "join_ms");
  json_builder_add_double_value (b, c->first_media_at ?
      (c->first_media_at - c->accepted_at) / 1000.0 : -1);
  json_builder_set_member_name (b, "connected_s");
  json_builder_add_double_value (b, (now - c->accepted_at) / 1e6);
  json_builder_end_object (b);
}

static const gchar *
stream_source_name (Stream * s)
{
  switch (s->source) {
    case SOURCE_LOCAL:
      return "local";
    case SOURCE_PULLED:
      return "pulled";
    case SOURCE_PUSHED:
      return "pushed";
    default:
      return s->publisher ? "local" : "none";
  }
}

/* One entry per link to another relay (docs/stats.md, "links"). */
static void
stats_add_links (JsonBuilder * b, DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;
  guint i;

  json_builder_set_member_name (b, "failovers");
  /* counted where the decision is made (DiodeFailover): whichever of the
   * control link or a pull noticed the death first */
  json_builder_add_int_value (b, r->failover ?
      diode_failover_get_failovers (r->failover) : 0);
  json_builder_set_member_name (b, "failbacks");
  json_builder_add_int_value (b, r->failbacks);
  json_builder_set_member_name (b, "links");
  json_builder_begin_array (b);
  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Link *l = v;
    gchar *peer = link_peer_string (l);
    Conn *c = l->conn;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "peer");
    json_builder_add_string_value (b, peer);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, l->peer_address);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, link_kind_name (l));
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, link_state_name (l->state));
    json_builder_set_member_name (b, "streams");
    if (l->kind == LINK_CONTROL) {
      json_builder_add_int_value (b, l->streams);
    } else {
      json_builder_begin_array (b);
      if (l->stream)
        json_builder_add_string_value (b, l->stream->name);
      json_builder_end_array (b);
    }
    json_builder_set_member_name (b, "bytes_in");
    json_builder_add_int_value (b, l->bytes_in + (c ? c->bytes_in : 0));
    json_builder_set_member_name (b, "bytes_out");
    json_builder_add_int_value (b, l->bytes_out + (c ? c->bytes_out : 0));
    json_builder_set_member_name (b, "connected_s");
    json_builder_add_double_value (b, l->connected_at ?
        (now - l->connected_at) / 1e6 : 0.0);
    json_builder_set_member_name (b, "failovers");
    json_builder_add_int_value (b, link_failover_count (r, l));
    json_builder_end_object (b);
    g_free (peer);
  }
  /* child relays' control links to this relay */
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);

    if (c->dead)
      continue;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "peer");
    json_builder_add_string_value (b, c->peer);
    json_builder_set_member_name (b, "address");
    json_builder_add_string_value (b, c->address);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, "child");
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, "linked");
    json_builder_set_member_name (b, "streams");
    json_builder_add_int_value (b, c->announced ?
        g_hash_table_size (c->announced) : 0);
    json_builder_set_member_name (b, "bytes_in");
    json_builder_add_int_value (b, c->bytes_in);
    json_builder_set_member_name (b, "bytes_out");
    json_builder_add_int_value (b, c->bytes_out);
    json_builder_set_member_name (b, "connected_s");
    json_builder_add_double_value (b, (now - c->accepted_at) / 1e6);
    json_builder_set_member_name (b, "failovers");
    json_builder_add_int_value (b, 0);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  /* What the children announced: the root knows every stream of its
   * tree. */
  json_builder_set_member_name (b, "announced");
  json_builder_begin_array (b);
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);
    GHashTableIter ai;
    guint k;

    if (c->dead || !c->announced)
      continue;
    g_hash_table_iter_init (&ai, c->announced);
    while (g_hash_table_iter_next (&ai, NULL, &v)) {
      Announced *a = v;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, a->name);
      json_builder_set_member_name (b, "via");
      json_builder_add_string_value (b, c->address);
      json_builder_set_member_name (b, "owner");
      json_builder_add_string_value (b, a->owner);
      json_builder_set_member_name (b, "access");
      json_builder_add_string_value (b, diode_access_name (a->access));
      json_builder_set_member_name (b, "path");
      json_builder_begin_array (b);
      for (k = 0; a->path && a->path[k]; k++)
        json_builder_add_string_value (b, a->path[k]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  }
  json_builder_end_array (b);
}

static gchar *
relay_stats_build (DiodeRelay * r, gint64 now)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen;
  JsonNode *root;
  GHashTableIter it;
  gpointer v;
  gchar *out;
  guint i;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "relay");
  json_builder_add_string_value (b, diode_relay_get_address (r));
  json_builder_set_member_name (b, "listen");
  json_builder_add_string_value (b, r->listen);
  json_builder_set_member_name (b, "uptime_s");
  json_builder_add_double_value (b, (now - r->started_at) / 1e6);
  json_builder_set_member_name (b, "connections");
  json_builder_add_int_value (b, g_hash_table_size (r->conns));
  /* viewers' writes (issue 13): TLS records of ring frames, and those
   * filled from several frames */
  json_builder_set_member_name (b, "tx");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "records");
  json_builder_add_int_value (b, r->tx.records);
  json_builder_set_member_name (b, "gathered");
  json_builder_add_int_value (b, r->tx.gathered);
  json_builder_set_member_name (b, "blocked");
  json_builder_add_int_value (b, r->tx.blocked);
  /* fan-outs spread over the I/O threads (diode-relay-fanout.c) */
  json_builder_set_member_name (b, "io_threads");
  json_builder_add_int_value (b, r->io_threads);
  json_builder_set_member_name (b, "spread");
  json_builder_add_int_value (b, r->fanout_spread);
  json_builder_end_object (b);
  stats_add_links (b, r, now);
  relay_peers_stats (r, b, now);
  relay_record_stats (b, r);
  relay_replay_stats (b, r);
  relay_direct_stats (b, r);
  relay_stun_stats (b, r);
  json_builder_set_member_name (b, "streams");
  json_builder_begin_array (b);
  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;
    guint64 sent = 0, skips = 0;
    StreamTotals tot;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, s->name);
    json_builder_set_member_name (b, "publisher");
    json_builder_add_string_value (b, s->publisher ? s->publisher->address :
        NULL);
    json_builder_set_member_name (b, "eos");
    json_builder_add_boolean_value (b, s->eos);
    json_builder_set_member_name (b, "source");
    json_builder_add_string_value (b, stream_source_name (s));
    json_builder_set_member_name (b, "path");
    json_builder_begin_array (b);
    for (i = 0; s->path && i < s->path->len; i++)
      json_builder_add_string_value (b, g_ptr_array_index (s->path, i));
    json_builder_end_array (b);
    json_builder_set_member_name (b, "bytes_in");
    json_builder_add_int_value (b, s->bytes_in);
    json_builder_set_member_name (b, "frames_in");
    json_builder_add_int_value (b, s->frames_in);
    json_builder_set_member_name (b, "last_seq");
    json_builder_add_int_value (b, diode_ring_get_last_seq (s->ring));
    json_builder_set_member_name (b, "chunks");
    json_builder_add_int_value (b, diode_ring_get_n_chunks (s->ring));
    json_builder_set_member_name (b, "buffered_bytes");
    json_builder_add_int_value (b, diode_ring_get_bytes (s->ring));
    json_builder_set_member_name (b, "waiting");
    json_builder_add_int_value (b, s->waiting->len);
    relay_record_stats_stream (b, s);
    json_builder_set_member_name (b, "viewers");
    json_builder_begin_array (b);
    for (i = 0; i < s->viewers->len; i++) {
      Conn *c = g_ptr_array_index (s->viewers, i);
      if (c->dead)
        continue;
      sent += c->bytes_out;
      skips += c->skips;
      stats_add_viewer (b, c, now);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "bytes_out");
    json_builder_add_int_value (b, sent);
    /* viewers present and gone (never goes down while the stream lives) */
    stream_totals (s, &tot);
    json_builder_set_member_name (b, "media_bytes_out");
    json_builder_add_int_value (b, tot.media_out);
    json_builder_set_member_name (b, "direct_viewers");
    json_builder_add_int_value (b, relay_direct_stream_viewers (s));
    json_builder_set_member_name (b, "skips");
    json_builder_add_int_value (b, skips);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  out = json_generator_to_data (gen, NULL);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return out;
}

/* One line per stream for the log: rates since the previous line. */
void
relay_stats_log (DiodeRelay * r, gint64 now)
{
  gdouble secs = (now - r->stats_at) / 1e6;
  GHashTableIter it;
  gpointer v;
  guint i;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;
    guint64 out = 0, skips = 0, max_backlog = 0;
    guint n = 0;
    gchar *rec = relay_record_stats_text (s);

    for (i = 0; i < s->viewers->len; i++) {
      Conn *c = g_ptr_array_index (s->viewers, i);
      guint64 bl;

      if (c->dead)
        continue;
      n++;
      out += c->bytes_out;
      skips += c->skips;
      bl = diode_cursor_backlog (&c->cursor, s->ring);
      max_backlog = MAX (max_backlog, bl);
    }
    g_message ("stats '%s' (%s%s%s): in %.2f Mbit/s, %u viewers, out %.2f "
        "Mbit/s, %" G_GUINT64_FORMAT " skips, max backlog %" G_GUINT64_FORMAT
        " bytes, buffered %" G_GSIZE_FORMAT " bytes in %u chunks%s", s->name,
        stream_source_name (s), s->pull && s->pull->peer_address ? " from " :
        "", s->pull && s->pull->peer_address ? s->pull->peer_address : "",
        secs > 0 ? (s->bytes_in - s->stats_bytes_in) * 8 / secs / 1e6 : 0.0,
        n, secs > 0 && out >= s->stats_bytes_out ?
        (out - s->stats_bytes_out) * 8 / secs / 1e6 : 0.0, skips,
        max_backlog, diode_ring_get_bytes (s->ring),
        diode_ring_get_n_chunks (s->ring), rec);
    g_free (rec);
    s->stats_bytes_in = s->bytes_in;
    s->stats_bytes_out = out;
  }
}

/* One line per link: peer, kind, state, bytes, fail-overs. */
void
relay_stats_log_links (DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Link *l = v;
    Conn *c = l->conn;
    gchar *peer = link_peer_string (l);

    g_message ("stats link %s %s (%s): %s%s%s%s, in %" G_GUINT64_FORMAT
        " bytes, out %" G_GUINT64_FORMAT " bytes, up %.0f s, %u fail-overs",
        link_kind_name (l), peer, l->peer_address ? l->peer_address : "?",
        link_state_name (l->state), l->stream ? " '" : "",
        l->stream ? l->stream->name : "", l->stream ? "'" : "",
        l->bytes_in + (c ? c->bytes_in : 0),
        l->bytes_out + (c ? c->bytes_out : 0), l->connected_at ?
        (now - l->connected_at) / 1e6 : 0.0, link_failover_count (r, l));
    g_free (peer);
  }
}

void
relay_stats (DiodeRelay * r, gint64 now)
{
  gchar *json = relay_stats_build (r, now);

  if (r->stats_file) {
    GError *err = NULL;
    /* Written to a temp file created 0600 and renamed over the old one:
     * readers never see half a snapshot, and the file is the operator's
     * alone whatever the umask, an existing file's mode included (the
     * rename replaces it). It lists every viewer's address and IP
     * (docs/security.md). */
    if (!g_file_set_contents_full (r->stats_file, json, -1,
            G_FILE_SET_CONTENTS_CONSISTENT, 0600, &err)) {
      g_message ("cannot write stats to %s: %s", r->stats_file, err->message);
      g_error_free (err);
    }
  }
  g_mutex_lock (&r->lock);
  g_free (r->stats_json);
  r->stats_json = json;
  g_mutex_unlock (&r->lock);
}


/* ------------------------------------------------------------------------ */
/* counters for /metrics and the web list (issue 11) */

static const guint join_bucket_ms[RELAY_JOIN_BUCKETS] = RELAY_JOIN_BUCKET_MS;

void
relay_note_join (Conn * c, gint64 now)
{
  DiodeRelay *r = c->relay;
  gint64 us;
  guint i;

  if (c->first_media_at)
    return;
  c->first_media_at = now;
  /* a push to another relay is not a viewer joining */
  if (c->outgoing)
    return;
  us = MAX (now - c->accepted_at, 0);
  for (i = 0; i < RELAY_JOIN_BUCKETS; i++)
    if (us <= (gint64) join_bucket_ms[i] * 1000)
      break;
  r->join_counts[i]++;
  r->join_sum_us += us;
  /* and in its stream's histogram: a viewer writing MEDIA has one */
  if (c->stream) {
    c->stream->join_counts[i]++;
    c->stream->join_sum_us += us;
  }
}

void
stream_viewer_added (Stream * s, Conn * c)
{
  c->view_bytes0 = c->bytes_out;
  c->view_frames0 = c->frames_out;
  c->view_skips0 = c->skips;
  c->view_media0 = c->media_bytes_out;
}

void
stream_viewer_left (Stream * s, Conn * c)
{
  s->gone_bytes_out += c->bytes_out - c->view_bytes0;
  s->gone_frames_out += c->frames_out - c->view_frames0;
  s->gone_skips += c->skips - c->view_skips0;
  s->gone_media_out += c->media_bytes_out - c->view_media0;
  relay_direct_viewer_left (c);
}

void
stream_totals (Stream * s, StreamTotals * t)
{
  guint i;

  memset (t, 0, sizeof (*t));
  t->bytes_out = s->gone_bytes_out;
  t->frames_out = s->gone_frames_out;
  t->skips = s->gone_skips;
  t->media_out = s->gone_media_out;
  /* dead conns still in the array count in the sums (they leave it, and
   * move to gone_*, when reaped), not as viewers */
  for (i = 0; i < s->viewers->len; i++) {
    Conn *c = g_ptr_array_index (s->viewers, i);

    t->bytes_out += c->bytes_out - c->view_bytes0;
    t->frames_out += c->frames_out - c->view_frames0;
    t->skips += c->skips - c->view_skips0;
    t->media_out += c->media_bytes_out - c->view_media0;
    if (c->dead)
      continue;
    t->viewers++;
    if (c->web)
      t->web_viewers++;
    t->max_backlog = MAX (t->max_backlog, diode_cursor_backlog (&c->cursor,
            s->ring));
  }
}

void
relay_rates_tick (DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;
    gint64 dt = now - s->rate_at;

    if (!s->rate_at) {
      s->rate_at = now;
      s->rate_bytes = s->bytes_in;
    } else if (dt >= RELAY_RATE_WINDOW_MS * 1000) {
      s->bitrate_bps = (s->bytes_in - s->rate_bytes) * 8 * G_USEC_PER_SEC
          / (guint64) dt;
      s->rate_at = now;
      s->rate_bytes = s->bytes_in;
    }
  }
}

const DiodeCapsInfo *
stream_caps_info (Stream * s)
{
  GBytes *caps = diode_ring_get_caps (s->ring);
  DiodeMsg m;

  if (caps == s->caps_parsed)
    return &s->caps_info;
  g_clear_pointer (&s->caps_parsed, g_bytes_unref);
  memset (&s->caps_info, 0, sizeof (s->caps_info));
  if (!caps)
    return &s->caps_info;
  s->caps_parsed = g_bytes_ref (caps);
  /* the frame passed the relay's checks when it came in: parse it as any
   * CAPS frame */
  memset (&m, 0, sizeof (m));
  if (diode_msg_parse (caps, &m, NULL) && m.type == DIODE_MSG_CAPS && m.caps)
    diode_caps_info_parse (m.caps, strlen (m.caps), &s->caps_info);
  diode_msg_clear (&m);
  return &s->caps_info;
}
