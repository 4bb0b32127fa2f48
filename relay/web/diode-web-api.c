/* gst-diode — the relay's pages and API: stream list, JSON, health, metrics
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GET / (HTML list of public streams), /api/streams (the same as JSON),
 * /healthz and /metrics (Prometheus text format 0.0.4), docs/stats.md.
 * Everything runs on the relay's I/O thread and reads the stream table
 * directly. What is shown of streams that are not public: nothing in the
 * list and the JSON (a protected or private stream's name is not for
 * everyone), in /metrics only their sum unless the operator asks for
 * names (http-metrics-private; docs/decisions.md).
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web-api.h"

#include <string.h>

#define CT_JSON    "application/json"
#define CT_HTML    "text/html; charset=utf-8"
#define CT_TEXT    "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

void
relay_web_body_clear (RelayWebBody * b)
{
  g_clear_pointer (&b->body, g_bytes_unref);
}

void
relay_web_api_security_headers (SoupMessageHeaders * h)
{
  soup_message_headers_replace (h, "Content-Security-Policy",
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' "
      "data:; style-src 'self'; script-src 'self'");
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
}

/* ------------------------------------------------------------------------ */
/* what is shown of a stream */

/* Listed (/, /api/streams): public, and fed at some point (a name only
 * held by waiting viewers is not a stream yet). */
static gboolean
stream_listed (Stream * s)
{
  return stream_shown (s) && s->access == DIODE_ACCESS_PUBLIC;
}

static const gchar *
stream_state_name (Stream * s)
{
  /* the names LISTING's states have (diode-relay-list.c) */
  return diode_list_state_name (stream_list_state (s));
}

static gint
stream_cmp_name (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(Stream * const *) a)->name, (*(Stream * const *) b)->name);
}

/* Every stream, sorted by name (a stable order for pages and scrapes). */
static GPtrArray *
streams_sorted (DiodeRelay * r)
{
  GPtrArray *a = g_ptr_array_new ();
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (a, v);
  g_ptr_array_sort (a, stream_cmp_name);
  return a;
}

static gdouble
stream_uptime_s (Stream * s, gint64 now)
{
  return s->media_since ? (now - s->media_since) / 1e6 : 0.0;
}

/* ------------------------------------------------------------------------ */
/* GET /api/streams */

static void
add_nullable_int (JsonBuilder * b, const gchar * name, gint v)
{
  json_builder_set_member_name (b, name);
  if (v > 0)
    json_builder_add_int_value (b, v);
  else
    json_builder_add_null_value (b);
}

static GBytes *
build_streams_json (DiodeRelay * r, gint64 now)
{
  JsonBuilder *b = json_builder_new ();
  GPtrArray *streams = streams_sorted (r);
  JsonGenerator *gen;
  JsonNode *root;
  gchar *out;
  gsize len;
  guint i;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "relay");
  json_builder_add_string_value (b, diode_relay_get_address (r));
  json_builder_set_member_name (b, "streams");
  json_builder_begin_array (b);
  for (i = 0; i < streams->len; i++) {
    Stream *s = streams->pdata[i];
    const DiodeCapsInfo *ci;
    StreamTotals t;
    const gchar *codec;
    gdouble fps;

    if (!stream_listed (s))
      continue;
    stream_totals (s, &t);
    ci = stream_caps_info (s);
    codec = diode_caps_info_codec (ci);
    fps = diode_caps_info_framerate (ci);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, s->name);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, stream_state_name (s));
    json_builder_set_member_name (b, "access");
    json_builder_add_string_value (b, diode_access_name (s->access));
    json_builder_set_member_name (b, "viewers");
    json_builder_add_int_value (b, t.viewers);
    json_builder_set_member_name (b, "web_viewers");
    json_builder_add_int_value (b, t.web_viewers);
    json_builder_set_member_name (b, "bitrate_bps");
    json_builder_add_int_value (b, stream_live_here (s) ? s->bitrate_bps : 0);
    add_nullable_int (b, "width", ci->width);
    add_nullable_int (b, "height", ci->height);
    json_builder_set_member_name (b, "framerate");
    if (fps > 0)
      json_builder_add_double_value (b, fps);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "codec");
    if (*codec)
      json_builder_add_string_value (b, codec);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "uptime_s");
    json_builder_add_double_value (b, stream_uptime_s (s, now));
    json_builder_set_member_name (b, "owner");
    json_builder_add_string_value (b, s->owner);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_ptr_array_unref (streams);

  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  out = json_generator_to_data (gen, &len);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return g_bytes_new_take (out, len);
}

/* ------------------------------------------------------------------------ */
/* GET /: the same as HTML */

static void
human_bitrate (GString * o, guint64 bps)
{
  if (bps >= 1000000)
    g_string_append_printf (o, "%.1f Mbit/s", bps / 1e6);
  else
    g_string_append_printf (o, "%.0f kbit/s", bps / 1e3);
}

static void
human_duration (GString * o, gdouble s)
{
  guint64 t = (guint64) s;

  if (t >= 3600)
    g_string_append_printf (o, "%" G_GUINT64_FORMAT " h %02u min", t / 3600,
        (guint) (t % 3600 / 60));
  else if (t >= 60)
    g_string_append_printf (o, "%u min %02u s", (guint) (t / 60),
        (guint) (t % 60));
  else
    g_string_append_printf (o, "%u s", (guint) t);
}

static GBytes *
build_list_html (DiodeRelay * r, gint64 now)
{
  GString *o = g_string_new (NULL);
  GPtrArray *streams = streams_sorted (r);
  gchar *addr = g_markup_escape_text (diode_relay_get_address (r), -1);
  guint i, n = 0;

  /* no inline style or script: the CSP allows only files of this
   * origin */
  g_string_append_printf (o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
      "<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, "
      "initial-scale=1\">\n<title>Diode relay</title>\n"
      "<link rel=\"stylesheet\" href=\"/static/watch.css\">\n</head>\n"
      "<body class=\"list\">\n<h1>Streams</h1>\n"
      "<p class=\"relay\">Relay <code>%s</code></p>\n", addr);
  g_free (addr);
  for (i = 0; i < streams->len; i++) {
    Stream *s = streams->pdata[i];
    const DiodeCapsInfo *ci;
    StreamTotals t;
    gchar *name, *path;

    if (!stream_listed (s))
      continue;
    if (!n++)
      g_string_append (o, "<table>\n<thead><tr><th>Stream</th><th>State</th>"
          "<th>Viewers</th><th>Bitrate</th><th>Resolution</th>"
          "<th>Uptime</th></tr></thead>\n<tbody>\n");
    stream_totals (s, &t);
    ci = stream_caps_info (s);
    name = g_markup_escape_text (s->name, -1);
    path = g_uri_escape_string (s->name, NULL, FALSE);
    g_string_append_printf (o, "<tr><td><a href=\"/watch/%s\">%s</a></td>"
        "<td class=\"state-%s\">%s</td><td>%u</td><td>", path, name,
        stream_state_name (s), stream_state_name (s), t.viewers);
    human_bitrate (o, stream_live_here (s) ? s->bitrate_bps : 0);
    g_string_append (o, "</td><td>");
    if (ci->width && ci->height)
      g_string_append_printf (o, "%d×%d", ci->width, ci->height);
    else
      g_string_append (o, "–");
    if (diode_caps_info_framerate (ci) > 0) {
      gchar fps[G_ASCII_DTOSTR_BUF_SIZE];

      g_string_append_printf (o, " @ %s fps", g_ascii_formatd (fps,
              sizeof (fps), "%.4g", diode_caps_info_framerate (ci)));
    }
    g_string_append (o, "</td><td>");
    human_duration (o, stream_uptime_s (s, now));
    g_string_append (o, "</td></tr>\n");
    g_free (name);
    g_free (path);
  }
  g_ptr_array_unref (streams);
  if (n)
    g_string_append (o, "</tbody>\n</table>\n");
  else
    g_string_append (o, "<p class=\"empty\">No public stream right now.</p>\n");
  g_string_append (o, "<p class=\"api\"><a href=\"/api/streams\">JSON</a>"
      "</p>\n</body>\n</html>\n");
  return g_string_free_to_bytes (o);
}

/* ------------------------------------------------------------------------ */
/* GET /metrics: Prometheus text format 0.0.4 */

/* A label value as the format wants it: \ " and newline escaped. */
static void
label_escape (GString * o, const gchar * v)
{
  for (; v && *v; v++) {
    if (*v == '\\')
      g_string_append (o, "\\\\");
    else if (*v == '"')
      g_string_append (o, "\\\"");
    else if (*v == '\n')
      g_string_append (o, "\\n");
    else
      g_string_append_c (o, *v);
  }
}

static void
family (GString * o, const gchar * name, const gchar * type,
    const gchar * help)
{
  g_string_append_printf (o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
      type);
}

/* name{k1="v1",...} value: @labels is a NULL-terminated key, value list. */
static void
sample_full (GString * o, const gchar * name, const gchar * const *labels,
    const gchar * value)
{
  guint i;

  g_string_append (o, name);
  if (labels && labels[0]) {
    g_string_append_c (o, '{');
    for (i = 0; labels[i]; i += 2) {
      g_string_append_printf (o, "%s%s=\"", i ? "," : "", labels[i]);
      label_escape (o, labels[i + 1]);
      g_string_append_c (o, '"');
    }
    g_string_append_c (o, '}');
  }
  g_string_append_printf (o, " %s\n", value);
}

static void
sample_u64 (GString * o, const gchar * name, const gchar * const *labels,
    guint64 v)
{
  gchar buf[32];

  g_snprintf (buf, sizeof (buf), "%" G_GUINT64_FORMAT, v);
  sample_full (o, name, labels, buf);
}

/* microsecond precision, whatever the locale */
static void
sample_double (GString * o, const gchar * name, const gchar * const *labels,
    gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  sample_full (o, name, labels, g_ascii_formatd (buf, sizeof (buf), "%.6f",
          v));
}

/* One relay-wide number: HELP, TYPE, the sample. */
static void
scalar (GString * o, const gchar * name, const gchar * type,
    const gchar * help, guint64 v)
{
  family (o, name, type, help);
  sample_u64 (o, name, NULL, v);
}

/* What /metrics says of one stream (or of the non-public ones summed). */
typedef struct {
  const gchar *label;           /* the stream label: its name, or "" */
  guint64 bytes_in, frames_in, bytes_out, frames_out, skips, drops;
  guint64 media_out;
  guint64 viewers, web_viewers, waiting, buffered, live, direct_viewers;
  guint64 join_counts[RELAY_JOIN_BUCKETS + 1], join_sum_us;
} StreamRow;

static void
row_add (StreamRow * row, Stream * s)
{
  StreamTotals t;
  guint i;

  stream_totals (s, &t);
  row->bytes_in += s->bytes_in;
  row->frames_in += s->frames_in;
  row->bytes_out += t.bytes_out;
  row->frames_out += t.frames_out;
  row->media_out += t.media_out;
  row->skips += t.skips;
  row->drops += s->drops;
  row->viewers += t.viewers;
  row->web_viewers += t.web_viewers;
  row->waiting += s->waiting->len;
  row->buffered += diode_ring_get_bytes (s->ring);
  row->live += stream_live_here (s) ? 1 : 0;
  row->direct_viewers += relay_direct_stream_viewers (s);
  for (i = 0; i <= RELAY_JOIN_BUCKETS; i++)
    row->join_counts[i] += s->join_counts[i];
  row->join_sum_us += s->join_sum_us;
}

/* A bucket bound of @ms milliseconds in seconds, as docs/stats.md writes
 * it: exact decimal digits, no trailing zero (0.05 and 10, not
 * g_ascii_dtostr's 0.050000000000000003), which is also the shortest text
 * that reads back as the same double. */
static void
le_format (gchar * buf, gsize len, guint ms)
{
  gchar *end;

  if (ms % 1000 == 0) {
    g_snprintf (buf, len, "%u", ms / 1000);
    return;
  }
  g_snprintf (buf, len, "%u.%03u", ms / 1000, ms % 1000);
  for (end = buf + strlen (buf) - 1; *end == '0'; end--)
    *end = '\0';
}

/* One label set of a join-time histogram (RELAY_JOIN_BUCKET_MS buckets,
 * @counts not cumulative): its buckets, _sum and _count. @stream NULL:
 * no label but le. */
static void
histogram_samples (GString * o, const gchar * base, const gchar * stream,
    const guint64 * counts, guint64 sum_us)
{
  static const guint bucket_ms[RELAY_JOIN_BUCKETS] = RELAY_JOIN_BUCKET_MS;
  gchar *bucket = g_strconcat (base, "_bucket", NULL);
  gchar *sum = g_strconcat (base, "_sum", NULL);
  gchar *count = g_strconcat (base, "_count", NULL);
  const gchar *nl[] = { "stream", stream, NULL };
  guint64 cum = 0;
  guint i;

  for (i = 0; i <= RELAY_JOIN_BUCKETS; i++) {
    gchar le[G_ASCII_DTOSTR_BUF_SIZE];
    const gchar *sl[] = { "stream", stream, "le", le, NULL };
    const gchar *l[] = { "le", le, NULL };

    cum += counts[i];
    if (i < RELAY_JOIN_BUCKETS)
      le_format (le, sizeof (le), bucket_ms[i]);
    else
      g_strlcpy (le, "+Inf", sizeof (le));
    sample_u64 (o, bucket, stream ? sl : l, cum);
  }
  sample_double (o, sum, stream ? nl : NULL, sum_us / 1e6);
  sample_u64 (o, count, stream ? nl : NULL, cum);
  g_free (bucket);
  g_free (sum);
  g_free (count);
}

/* /metrics names @s (else it is summed under stream=""): public, or the
 * operator asked for every name. */
static gboolean
stream_named (DiodeRelay * r, Stream * s)
{
  return (s->has_policy && s->access == DIODE_ACCESS_PUBLIC)
      || r->http_metrics_private;
}

static void
metrics_streams (GString * o, DiodeRelay * r)
{
  static const struct {
    const gchar *name, *type, *help;
    gsize offset;
  } fams[] = {
#define F(n, t, h, m) { "diode_stream_" n, t, h, G_STRUCT_OFFSET (StreamRow, m) }
    F ("bytes_in_total", "counter", "Bytes of frames received from the "
        "stream's source.", bytes_in),
    F ("frames_in_total", "counter", "Frames received from the stream's "
        "source.", frames_in),
    F ("bytes_out_total", "counter", "Bytes sent to the stream's viewers, "
        "present and gone.", bytes_out),
    F ("frames_out_total", "counter", "Frames sent to the stream's viewers, "
        "present and gone.", frames_out),
    F ("viewers", "gauge", "Viewers now (diode and web).", viewers),
    F ("web_viewers", "gauge", "Web (WebSocket) viewers now.", web_viewers),
    F ("waiting", "gauge", "Viewers waiting for the stream to be "
        "published.", waiting),
    F ("skips_total", "counter", "Slow-viewer jumps to the latest "
        "keyframe.", skips),
    F ("drops_total", "counter", "Slow viewers disconnected (hard limit or "
        "write timeout).", drops),
    F ("buffered_bytes", "gauge", "Bytes the stream's ring holds.",
        buffered),
    F ("live", "gauge", "1 while a source feeds the stream (for the "
        "non-public sum: how many do).", live),
    F ("media_bytes_out_total", "counter", "Bytes of the stream's frames "
        "(CAPS, MEDIA, EOS) sent to its viewers, present and gone: not "
        "what viewers on a direct path receive.", media_out),
    F ("direct_viewers", "gauge", "Viewers taking the stream over a direct "
        "path (their last PATH was DIRECT).", direct_viewers),
#undef F
  };
  GPtrArray *streams = streams_sorted (r);
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (StreamRow));
  StreamRow hidden = { "" };
  guint i, f, n_hidden = 0;
  guint64 by_access[4] = { 0 };
  static const gchar *access_names[4] = { "public", "protected", "private",
    "none"
  };

  for (i = 0; i < streams->len; i++) {
    Stream *s = streams->pdata[i];

    by_access[!s->has_policy ? 3 : MIN (s->access, 2)]++;
    if (stream_named (r, s)) {
      StreamRow row = { s->name };

      row_add (&row, s);
      g_array_append_val (rows, row);
    } else {
      row_add (&hidden, s);
      n_hidden++;
    }
  }
  /* the non-public ones, summed under stream="" (never a valid name) */
  if (n_hidden)
    g_array_append_val (rows, hidden);

  family (o, "diode_streams", "gauge", "Streams the relay holds, by access "
      "(none: no policy yet).");
  for (i = 0; i < 4; i++) {
    const gchar *l[] = { "access", access_names[i], NULL };
    sample_u64 (o, "diode_streams", l, by_access[i]);
  }
  for (f = 0; f < G_N_ELEMENTS (fams); f++) {
    family (o, fams[f].name, fams[f].type, fams[f].help);
    for (i = 0; i < rows->len; i++) {
      StreamRow *row = &g_array_index (rows, StreamRow, i);
      const gchar *l[] = { "stream", row->label, NULL };

      sample_u64 (o, fams[f].name, l,
          G_STRUCT_MEMBER (guint64, row, fams[f].offset));
    }
  }
  /* the "per stream ... join times as a histogram" */
  family (o, "diode_stream_join_seconds", "histogram", "Join times of the "
      "stream's viewers: connection accepted to first MEDIA frame "
      "written.");
  for (i = 0; i < rows->len; i++) {
    StreamRow *row = &g_array_index (rows, StreamRow, i);

    histogram_samples (o, "diode_stream_join_seconds", row->label,
        row->join_counts, row->join_sum_us);
  }
  g_array_unref (rows);
  g_ptr_array_unref (streams);
}

static guint
failover_count (DiodeRelay * r, Link * l)
{
  if (l->kind == LINK_CONTROL && r->ep_failovers && r->endpoints
      && l->ep >= 0 && (guint) l->ep < r->endpoints->len)
    return r->ep_failovers[l->ep];
  return l->failovers;
}

typedef struct {
  gchar *id, *kind, *peer;
  const gchar *stream;          /* a pull's or push's stream as the stream
                                   families label it ("" for the others,
                                   and for streams not named) */
  const gchar *state;           /* static */
  guint64 up, bytes_in, bytes_out, failovers;
} LinkRow;

static gint
link_row_cmp (gconstpointer a, gconstpointer b)
{
  const LinkRow *x = a, *y = b;
  gint c = strcmp (x->kind, y->kind);

  return c ? c : strcmp (x->id, y->id);
}

static void
metrics_links (GString * o, DiodeRelay * r)
{
  static const struct {
    const gchar *name, *type, *help;
    gsize offset;
  } fams[] = {
#define F(n, t, h, m) { "diode_link_" n, t, h, G_STRUCT_OFFSET (LinkRow, m) }
    F ("up", "gauge", "1 while the link's connection is established.", up),
    F ("bytes_in_total", "counter", "Bytes received over the link's "
        "connections.", bytes_in),
    F ("bytes_out_total", "counter", "Bytes sent over the link's "
        "connections.", bytes_out),
    F ("failovers_total", "counter", "Moves away from the link's endpoint "
        "(control link) or the stream's pull fail-overs.", failovers),
#undef F
  };
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (LinkRow));
  GHashTableIter it;
  gpointer v;
  guint i, f;

  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Link *l = v;
    Conn *c = l->conn;
    LinkRow row;

    row.id = g_strdup_printf ("%u", l->id);
    row.kind = g_strdup (link_kind_name (l));
    row.peer = link_peer_string (l);
    row.up = l->state >= LINK_READY;
    row.state = link_state_name (l->state);
    row.bytes_in = l->bytes_in + (c ? c->bytes_in : 0);
    row.bytes_out = l->bytes_out + (c ? c->bytes_out : 0);
    row.failovers = failover_count (r, l);
    /* a pull's fail-overs are its stream's: labelled with it */
    row.stream = l->stream && stream_named (r, l->stream) ?
        l->stream->name : "";
    g_array_append_val (rows, row);
  }
  for (i = 0; r->children && i < r->children->len; i++) {
    Conn *c = g_ptr_array_index (r->children, i);
    LinkRow row;

    if (c->dead)
      continue;
    /* a child's control link has no Link: its peer is its id */
    row.id = g_strdup (c->peer);
    row.kind = g_strdup ("child");
    row.peer = g_strdup (c->peer);
    row.up = 1;
    row.state = "linked";
    row.bytes_in = c->bytes_in;
    row.bytes_out = c->bytes_out;
    row.failovers = 0;
    row.stream = "";
    g_array_append_val (rows, row);
  }
  g_array_sort (rows, link_row_cmp);
  for (f = 0; f < G_N_ELEMENTS (fams); f++) {
    family (o, fams[f].name, fams[f].type, fams[f].help);
    for (i = 0; i < rows->len; i++) {
      LinkRow *row = &g_array_index (rows, LinkRow, i);
      const gchar *l[] = { "link", row->id, "kind", row->kind, "peer",
        row->peer, "stream", row->stream, NULL
      };

      sample_u64 (o, fams[f].name, l,
          G_STRUCT_MEMBER (guint64, row, fams[f].offset));
    }
  }
  /* the state as a label: one series per link, the current one */
  family (o, "diode_link_state", "gauge", "Always 1: the link's state is "
      "its state label.");
  for (i = 0; i < rows->len; i++) {
    LinkRow *row = &g_array_index (rows, LinkRow, i);
    const gchar *l[] = { "link", row->id, "kind", row->kind, "peer",
      row->peer, "stream", row->stream, "state", row->state, NULL
    };

    sample_u64 (o, "diode_link_state", l, 1);
  }
  for (i = 0; i < rows->len; i++) {
    LinkRow *row = &g_array_index (rows, LinkRow, i);

    g_free (row->id);
    g_free (row->kind);
    g_free (row->peer);
  }
  g_array_unref (rows);
}

static void
metrics_join (GString * o, DiodeRelay * r)
{
  family (o, "diode_join_seconds", "histogram", "Viewers' join times: "
      "connection accepted to first MEDIA frame written.");
  histogram_samples (o, "diode_join_seconds", NULL, r->join_counts,
      r->join_sum_us);
}

/* direct paths and the STUN answerer (issue 12) */
static void
metrics_direct (GString * o, DiodeRelay * r)
{
  guint64 answered, dropped;

  scalar (o, "diode_direct_sessions", "gauge", "Direct sessions open "
      "(signalling between a viewer and a publisher).", r->direct_sessions);
  scalar (o, "diode_direct_offers_total", "counter", "OFFERs forwarded "
      "(direct sessions opened).", r->direct_offers);
  scalar (o, "diode_direct_signals_total", "counter", "SIGNAL frames "
      "forwarded.", r->direct_signals);
  scalar (o, "diode_direct_signals_dropped_total", "counter", "SIGNAL "
      "frames dropped (bounds, unknown sids, receivers not reading).",
      r->direct_signals_dropped);
  scalar (o, "diode_direct_viewers", "gauge", "Viewers on a direct path.",
      r->direct_viewers_on_direct);
  scalar (o, "diode_direct_memory_bytes", "gauge", "Bytes the direct "
      "sessions' state holds.", r->direct_memory);
  relay_stun_counters (r, &answered, &dropped);
  scalar (o, "diode_stun_answered_total", "counter", "STUN Binding "
      "requests answered (--stun).", answered);
  scalar (o, "diode_stun_dropped_total", "counter", "STUN datagrams not "
      "answered (not a Binding Request, malformed, over the rate).",
      dropped);
}

static GBytes *
build_metrics (DiodeRelay * r, gint64 now)
{
  GString *o = g_string_new (NULL);
  guint64 hits = 0, misses = 0, evictions = 0;
  gchar *reason = NULL;

  family (o, "diode_relay_info", "gauge", "The relay's identity and "
      "version (always 1).");
  {
    const gchar *l[] = { "address", diode_relay_get_address (r), "version",
      VERSION, NULL
    };
    sample_u64 (o, "diode_relay_info", l, 1);
  }
  family (o, "diode_uptime_seconds", "gauge", "Seconds since the relay "
      "started.");
  sample_double (o, "diode_uptime_seconds", NULL, (now - r->started_at) / 1e6);
  scalar (o, "diode_connections", "gauge", "Open TCP connections, any "
      "state, links included.", g_hash_table_size (r->conns));
  scalar (o, "diode_connections_accepted_total", "counter", "Connections "
      "accepted.", r->accepted_conns);
  scalar (o, "diode_connections_refused_total", "counter", "Connections "
      "refused by the connection caps.", r->refused_conns);
  scalar (o, "diode_viewer_drops_total", "counter", "Slow viewers "
      "disconnected, every stream.", r->viewer_drops);
  scalar (o, "diode_failovers_total", "counter", "Moves away from an "
      "upstream in use.", r->failover ?
      diode_failover_get_failovers (r->failover) : 0);
  scalar (o, "diode_failbacks_total", "counter", "Moves back to a better "
      "upstream.", r->failbacks);
  metrics_streams (o, r);
  metrics_links (o, r);
  metrics_join (o, r);

  /* recordings, the fetch cache, replay */
  scalar (o, "diode_store_healthy", "gauge", "1 while --store works (0 "
      "without --store, or after a failure).", r->store
      && diode_store_is_healthy (r->store, &reason));
  g_free (reason);
  scalar (o, "diode_store_bytes", "gauge", "Bytes the store holds on "
      "disk.", r->store ? diode_store_get_bytes (r->store) : 0);
  scalar (o, "diode_store_chunks_total", "counter", "Chunks handed to the "
      "store.", r->store_chunks);
  scalar (o, "diode_store_dropped_chunks_total", "counter", "Chunks live "
      "recordings lost (write queue full).", r->store_dropped);
  scalar (o, "diode_store_pauses_total", "counter", "Times an upload was "
      "not read because the store's queue was full.", r->store_pauses);
  if (r->cache)
    relay_cache_get_counters (r->cache, &hits, &misses, &evictions);
  scalar (o, "diode_cache_bytes", "gauge", "Bytes of fetched chunks "
      "cached.", r->cache ? relay_cache_get_bytes (r->cache) : 0);
  scalar (o, "diode_cache_hits_total", "counter", "Cache hits.", hits);
  scalar (o, "diode_cache_misses_total", "counter", "Cache misses.", misses);
  scalar (o, "diode_cache_evictions_total", "counter", "Chunks evicted from "
      "the cache.", evictions);
  scalar (o, "diode_fetched_bytes_total", "counter", "Verified chunk bytes "
      "fetched from other relays.", r->fetched_bytes);
  scalar (o, "diode_fetch_failed_total", "counter", "Chunks no other relay "
      "had.", r->fetch_failed);
  scalar (o, "diode_replay_viewers", "gauge", "Viewers fed from the store.",
      r->replays ? g_hash_table_size (r->replays) : 0);
  scalar (o, "diode_replay_bytes", "gauge", "Stored chunk bytes held for "
      "replay and FETCH.", r->replay_bytes);
  scalar (o, "diode_replay_damaged_total", "counter", "Damaged stored "
      "chunks skipped.", r->replay_damaged);
  metrics_direct (o, r);
  return g_string_free_to_bytes (o);
}

/* ------------------------------------------------------------------------ */
/* the bodies, and the handlers that send them */

gboolean
relay_web_api_build (DiodeRelay * r, const gchar * path, gint64 now,
    RelayWebBody * out)
{
  memset (out, 0, sizeof (*out));
  out->status = SOUP_STATUS_OK;
  if (!g_strcmp0 (path, "/")) {
    out->content_type = CT_HTML;
    out->body = build_list_html (r, now);
  } else if (!g_strcmp0 (path, "/api/streams")) {
    out->content_type = CT_JSON;
    out->no_store = TRUE;
    out->body = build_streams_json (r, now);
  } else if (!g_strcmp0 (path, "/healthz")) {
    gboolean ok = r->running && !r->stopping;

    out->content_type = CT_TEXT;
    out->no_store = TRUE;
    out->status = ok ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE;
    out->body = g_bytes_new_static (ok ? "ok\n" : "stopping\n",
        ok ? 3 : 9);
  } else if (!g_strcmp0 (path, "/metrics")) {
    out->content_type = CT_METRICS;
    out->no_store = TRUE;
    out->body = build_metrics (r, now);
  } else {
    return FALSE;
  }
  return TRUE;
}

static void
answer (DiodeRelay * r, SoupServerMessage * msg, const gchar * path)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  const gchar *method = soup_server_message_get_method (msg);
  RelayWebBody b;
  gsize len;
  const gchar *data;

  relay_web_api_security_headers (h);
  if (strcmp (method, SOUP_METHOD_GET) && strcmp (method, SOUP_METHOD_HEAD)) {
    soup_message_headers_replace (h, "Allow", "GET, HEAD");
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  if (!relay_web_api_build (r, path, g_get_monotonic_time (), &b)) {
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (b.no_store)
    soup_message_headers_replace (h, "Cache-Control", "no-store");
  data = g_bytes_get_data (b.body, &len);
  soup_server_message_set_status (msg, b.status, NULL);
  soup_server_message_set_response (msg, b.content_type, SOUP_MEMORY_COPY,
      data, len);
  relay_web_body_clear (&b);
}

void
relay_web_api_list_page (DiodeRelay * r, SoupServerMessage * msg)
{
  answer (r, msg, "/");
}

void
relay_web_api_streams (DiodeRelay * r, SoupServerMessage * msg)
{
  answer (r, msg, "/api/streams");
}

void
relay_web_api_healthz (DiodeRelay * r, SoupServerMessage * msg)
{
  answer (r, msg, "/healthz");
}

void
relay_web_api_metrics (DiodeRelay * r, SoupServerMessage * msg)
{
  answer (r, msg, "/metrics");
}

/* ------------------------------------------------------------------------ */
/* the test hook (diode-relay.h): a body built on the I/O thread */

typedef struct {
  DiodeRelay *relay;
  const gchar *path;
  RelayWebBody body;
  gboolean found, done;
  GMutex lock;
  GCond cond;
} RenderCall;

static gboolean
render_cb (gpointer data)
{
  RenderCall *rc = data;

  rc->found = relay_web_api_build (rc->relay, rc->path,
      g_get_monotonic_time (), &rc->body);
  g_mutex_lock (&rc->lock);
  rc->done = TRUE;
  g_cond_signal (&rc->cond);
  g_mutex_unlock (&rc->lock);
  return G_SOURCE_REMOVE;
}

gchar *
diode_relay_web_render (DiodeRelay * relay, const gchar * path,
    guint * status, gchar ** content_type)
{
  RenderCall rc = { relay, path };
  gchar *out = NULL;

  g_return_val_if_fail (DIODE_IS_RELAY (relay) && path, NULL);
  if (!relay->context || !relay->thread)
    return NULL;
  g_mutex_init (&rc.lock);
  g_cond_init (&rc.cond);
  g_main_context_invoke (relay->context, render_cb, &rc);
  g_mutex_lock (&rc.lock);
  while (!rc.done)
    g_cond_wait (&rc.cond, &rc.lock);
  g_mutex_unlock (&rc.lock);
  g_mutex_clear (&rc.lock);
  g_cond_clear (&rc.cond);
  if (status)
    *status = rc.found ? rc.body.status : SOUP_STATUS_NOT_FOUND;
  if (content_type)
    *content_type = rc.found ? g_strdup (rc.body.content_type) : NULL;
  if (rc.found) {
    gsize len;
    const gchar *data = g_bytes_get_data (rc.body.body, &len);

    out = g_strndup (data, len);
    relay_web_body_clear (&rc.body);
  }
  return out;
}
