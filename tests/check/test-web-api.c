/* gst-diode — the relay's stream list, JSON API, health and metrics
 * (issue 11, items 3 and 4)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Real publishers (GstHarness diodesink) and viewers (diodesrc) on an
 * in-process relay; the bodies come from diode_relay_web_render(), which
 * builds them on the relay's I/O thread exactly as the HTTP handlers do.
 * /api/streams must carry the right viewers, bitrate and resolution and
 * leave protected and private streams out; / the same as escaped HTML;
 * /metrics must pass a strict Prometheus text parser (written here, and
 * tests/check/promcheck.py for a second, independent reading), name
 * non-public streams only when the operator asks, escape label values,
 * count a joining viewer in diode_join_seconds and keep per-stream
 * counters from going down when viewers leave.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/wait.h>

#include "fixture.h"
#include "promreader.h"
#include "rawclient.h"
#include "diode-msg.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define WAIT_MS 5000
#define GOP 5
#define BUF_SIZE 1000
/* a valid stream name that needs escaping everywhere */
#define ODD_NAME "say \"hi\" \\ there <b>&"

typedef struct
{
  GstHarness *h;
  guint next;
} Pub;

static gchar *
key_path (const gchar * name)
{
  gchar *addr = fixture_key_address (name);

  g_free (addr);
  return g_build_filename (fixture_config_dir (), name, NULL);
}

static Pub *
publish (DiodeRelay * relay, const gchar * stream, gint access,
    const gchar * extra_prop, const gchar * extra_value)
{
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  gchar *key = key_path ("alice.pem");
  Pub *p = g_new0 (Pub, 1);

  fail_unless (e != NULL);
  g_object_set (e, "relay", hp, "stream", stream, "identity", key,
      "timeout", WAIT_MS, "access", access, NULL);
  if (extra_prop)
    g_object_set (e, extra_prop, extra_value, NULL);
  p->h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (p->h, CAPS_STR);
  gst_harness_play (p->h);
  fail_unless (fixture_wait_publisher (relay, stream, TRUE, WAIT_MS),
      "'%s' was not published", stream);
  g_free (hp);
  g_free (key);
  return p;
}

static void
pub_push (Pub * p, guint n)
{
  while (n--) {
    fail_unless_equals_int (gst_harness_push (p->h,
            fixture_make_buffer (p->next, BUF_SIZE, GOP)), GST_FLOW_OK);
    p->next++;
  }
}

static void
pub_free (Pub * p)
{
  gst_harness_teardown (p->h);
  g_free (p);
}

static GstHarness *
viewer_new_as (DiodeRelay * relay, const gchar * stream, const gchar * who)
{
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  gchar *key = key_path (who);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "identity", key,
      "timeout", 10000, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (h);
  g_free (hp);
  g_free (key);
  return h;
}

static GstHarness *
viewer_new (DiodeRelay * relay, const gchar * stream)
{
  return viewer_new_as (relay, stream, "bob.pem");
}

/* @v receives at least one buffer within WAIT_MS while @p publishes. */
static void
viewer_gets_media (GstHarness * v, Pub * p)
{
  gint64 end = deadline_in (WAIT_MS);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (v))) {
    fail_if (g_get_monotonic_time () > end, "the viewer got no buffer");
    pub_push (p, 1);
    g_usleep (10 * 1000);
  }
  gst_buffer_unref (b);
}

static gchar *
render (DiodeRelay * relay, const gchar * path, const gchar * want_type)
{
  guint status = 0;
  gchar *type = NULL;
  gchar *body = diode_relay_web_render (relay, path, &status, &type);

  fail_unless (body != NULL, "%s: no body", path);
  fail_unless_equals_int (status, 200);
  fail_unless_equals_string (type, want_type);
  g_free (type);
  return body;
}

/* ------------------------------------------------------------------------ */
/* /api/streams */

static JsonNode *
streams_json (DiodeRelay * relay)
{
  gchar *text = render (relay, "/api/streams", "application/json");
  JsonParser *p = json_parser_new ();
  GError *err = NULL;
  JsonNode *root;

  fail_unless (json_parser_load_from_data (p, text, -1, &err), "%s: %s",
      text, err ? err->message : "?");
  root = json_node_copy (json_parser_get_root (p));
  fail_unless (JSON_NODE_HOLDS_OBJECT (root), "%s", text);
  g_object_unref (p);
  g_free (text);
  return root;
}

/* The entry of @name in /api/streams, or NULL. */
static JsonObject *
find_stream (JsonNode * root, const gchar * name)
{
  JsonArray *a = json_object_get_array_member (json_node_get_object (root),
      "streams");
  guint i;

  fail_unless (a != NULL);
  for (i = 0; i < json_array_get_length (a); i++) {
    JsonObject *o = json_array_get_object_element (a, i);

    if (!g_strcmp0 (json_object_get_string_member (o, "name"), name))
      return o;
  }
  return NULL;
}

static DiodeRelay *
relay_new (void)
{
  return relay_with ("stats-interval-ms", 0, NULL);
}

GST_START_TEST (test_streams_json)
{
  DiodeRelay *relay = relay_new ();
  gchar *alice = fixture_key_address ("alice.pem");
  Pub *cam = publish (relay, "cam", DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *odd = publish (relay, ODD_NAME, DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *priv = publish (relay, "hidden-private", DIODE_ACCESS_PRIVATE,
      "allow", alice);
  Pub *prot = publish (relay, "hidden-protected", DIODE_ACCESS_PROTECTED,
      "fleet", "office");
  GstHarness *v;
  JsonNode *root = NULL;
  JsonObject *o = NULL;
  gint64 end;

  pub_push (priv, 3);
  pub_push (prot, 3);
  pub_push (odd, 3);
  v = viewer_new (relay, "cam");
  viewer_gets_media (v, cam);
  fail_unless (fixture_wait_viewers (relay, "cam", 1, WAIT_MS));

  /* the bitrate is measured over a window: publish until it shows */
  end = deadline_in (WAIT_MS);
  for (;;) {
    pub_push (cam, 3);
    if (root)
      json_node_unref (root);
    root = streams_json (relay);
    o = find_stream (root, "cam");
    fail_unless (o != NULL);
    if (json_object_get_int_member (o, "bitrate_bps") > 0)
      break;
    fail_if (g_get_monotonic_time () > end, "no bitrate after %u ms",
        WAIT_MS);
    g_usleep (50 * 1000);
  }
  fail_unless_equals_string (json_object_get_string_member
      (json_node_get_object (root), "relay"),
      diode_relay_get_address (relay));
  fail_unless_equals_string (json_object_get_string_member (o, "state"),
      "live");
  fail_unless_equals_string (json_object_get_string_member (o, "access"),
      "public");
  fail_unless_equals_int (json_object_get_int_member (o, "viewers"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "web_viewers"), 0);
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 320);
  fail_unless_equals_int (json_object_get_int_member (o, "height"), 240);
  fail_unless (json_object_get_double_member (o, "framerate") == 30.0);
  fail_unless_equals_string (json_object_get_string_member (o, "codec"),
      "h264");
  fail_unless_equals_string (json_object_get_string_member (o, "owner"),
      alice);
  fail_unless (json_object_get_double_member (o, "uptime_s") >= 0.0);
  /* not more than what was pushed could have come in a window */
  fail_unless (json_object_get_int_member (o, "bitrate_bps") <
      (gint64) cam->next * (BUF_SIZE + 200) * 8 * 5);

  /* the odd name as it is, without viewers; never the non-public ones */
  o = find_stream (root, ODD_NAME);
  fail_unless (o != NULL);
  fail_unless_equals_int (json_object_get_int_member (o, "viewers"), 0);
  fail_unless (find_stream (root, "hidden-private") == NULL);
  fail_unless (find_stream (root, "hidden-protected") == NULL);
  fail_unless_equals_int (json_array_get_length (json_object_get_array_member
          (json_node_get_object (root), "streams")), 2);
  json_node_unref (root);

  /* the publisher ends: still listed, "ended", its viewer still counted
   * until it goes */
  pub_free (cam);
  end = deadline_in (WAIT_MS);
  for (;;) {
    root = streams_json (relay);
    o = find_stream (root, "cam");
    if (!o || !g_strcmp0 (json_object_get_string_member (o, "state"),
            "ended"))
      break;
    json_node_unref (root);
    fail_if (g_get_monotonic_time () > end, "'cam' never ended");
    g_usleep (20 * 1000);
  }
  if (o)
    fail_unless_equals_int (json_object_get_int_member (o, "bitrate_bps"),
        0);
  json_node_unref (root);

  gst_harness_teardown (v);
  pub_free (odd);
  pub_free (priv);
  pub_free (prot);
  relay_free (relay);
  g_free (alice);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* GET / and /healthz */

GST_START_TEST (test_list_page)
{
  DiodeRelay *relay = relay_new ();
  gchar *alice = fixture_key_address ("alice.pem");
  Pub *cam = publish (relay, "cam", DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *odd = publish (relay, ODD_NAME, DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *priv = publish (relay, "hidden-private", DIODE_ACCESS_PRIVATE,
      "allow", alice);
  gchar *html, *text, *type = NULL;
  guint status = 0;

  pub_push (cam, 3);
  pub_push (odd, 3);
  pub_push (priv, 3);
  fail_unless (fixture_wait_last_seq (relay, ODD_NAME, 3, WAIT_MS));
  html = render (relay, "/", "text/html; charset=utf-8");
  fail_unless (strstr (html, "<a href=\"/watch/cam\">cam</a>") != NULL,
      "%s", html);
  /* escaped as HTML text, and as a URL path segment in the link */
  fail_unless (strstr (html, "<a href=\"/watch/say%20%22hi%22%20%5C%20there"
          "%20%3Cb%3E%26\">say &quot;hi&quot; \\ there &lt;b&gt;&amp;</a>")
      != NULL, "%s", html);
  fail_unless (strstr (html, "<b>&") == NULL);
  fail_unless (strstr (html, "hidden") == NULL, "%s", html);
  fail_unless (strstr (html, "320×240 @ 30 fps") != NULL, "%s", html);
  /* nothing inline: the CSP forbids it */
  fail_unless (strstr (html, "<script") == NULL
      && strstr (html, "style=") == NULL && strstr (html, "<style") == NULL);
  g_free (html);

  text = render (relay, "/healthz", "text/plain; charset=utf-8");
  fail_unless_equals_string (text, "ok\n");
  g_free (text);
  fail_unless (diode_relay_web_render (relay, "/nope", &status, &type) ==
      NULL);
  fail_unless_equals_int (status, 404);
  fail_unless (type == NULL);

  pub_free (cam);
  pub_free (odd);
  pub_free (priv);
  relay_free (relay);
  g_free (alice);
}

GST_END_TEST;

static Metrics *
metrics (DiodeRelay * relay, gchar ** text_out)
{
  gchar *text = render (relay, "/metrics",
      "text/plain; version=0.0.4; charset=utf-8");
  Metrics *m = metrics_parse (text);

  python_check (text);
  if (text_out)
    *text_out = text;
  else
    g_free (text);
  return m;
}

/* The join-time histogram @base{@labels...} has exactly the buckets
 * docs/stats.md lists, written as it writes them (le="0.05", not
 * le="0.050000000000000003"); @labels: "" or "stream=NAME,". */
static void
check_join_buckets (Metrics * m, const gchar * text, const gchar * base,
    const gchar * labels)
{
  static const gchar *const les[] = { "0.05", "0.1", "0.25", "0.5", "1",
    "2.5", "5", "7.5", "10", "+Inf"
  };
  gchar *prefix = g_strdup_printf ("%s_bucket{%s", base, labels);
  gchar *written = g_strdup_printf ("%s_bucket{%sle=\"0.05\"} ", base,
      *labels ? "stream=\"" : "");
  GHashTableIter it;
  gpointer k;
  guint i, n = 0;

  for (i = 0; i < G_N_ELEMENTS (les); i++) {
    gchar *key = g_strdup_printf ("%sle=%s}", prefix, les[i]);

    fail_unless (g_hash_table_contains (m->samples, key), "no %s:\n%s", key,
        excerpt (strstr (text, base)));
    g_free (key);
  }
  g_hash_table_iter_init (&it, m->samples);
  while (g_hash_table_iter_next (&it, &k, NULL))
    n += g_str_has_prefix (k, prefix);
  fail_unless_equals_int (n, G_N_ELEMENTS (les));
  if (!*labels)
    fail_unless (strstr (text, written) != NULL, "%s", excerpt (strstr (text,
                base)));
  else
    fail_unless (strstr (text, "le=\"0.05\"} ") != NULL);
  g_free (prefix);
  g_free (written);
}

GST_START_TEST (test_metrics)
{
  DiodeRelay *relay = relay_new ();
  gchar *alice = fixture_key_address ("alice.pem");
  Pub *cam = publish (relay, "cam", DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *odd = publish (relay, ODD_NAME, DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *priv = publish (relay, "hidden-private", DIODE_ACCESS_PRIVATE,
      "allow", alice);
  Pub *prot = publish (relay, "hidden-protected", DIODE_ACCESS_PROTECTED,
      "fleet", "office");
  GstHarness *v;
  Metrics *m;
  gchar *text;
  gdouble sent, frames;

  /* before anyone joined: an empty histogram, still well formed */
  m = metrics (relay, NULL);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 0);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 0);
  metrics_free (m);

  pub_push (priv, 4);
  pub_push (prot, 4);
  pub_push (odd, 2);
  fail_unless (fixture_wait_last_seq (relay, "hidden-protected", 4, WAIT_MS));
  fail_unless (fixture_wait_last_seq (relay, ODD_NAME, 2, WAIT_MS));
  v = viewer_new (relay, "cam");
  viewer_gets_media (v, cam);
  fail_unless (fixture_wait_viewers (relay, "cam", 1, WAIT_MS));

  m = metrics (relay, &text);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 1);
  fail_unless (mget (m, "diode_stream_web_viewers", "cam") == 0);
  fail_unless (mget (m, "diode_stream_bytes_in_total", "cam") > 0);
  fail_unless (mget (m, "diode_stream_bytes_out_total", "cam") > 0);
  fail_unless (mget (m, "diode_stream_live", "cam") == 1);
  fail_unless (mget (m, "diode_connections_accepted_total", NULL) >= 5);
  /* the join: one viewer, counted once, in a bucket no later than 10 s */
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 1, "%s", excerpt (text));
  fail_unless (g_hash_table_contains (m->samples,
          "diode_join_seconds_bucket{le=10}"));
  fail_unless (*(gdouble *) g_hash_table_lookup (m->samples,
          "diode_join_seconds_bucket{le=10}") == 1);
  fail_unless (mget (m, "diode_join_seconds_sum", NULL) > 0);
  check_join_buckets (m, text, "diode_join_seconds", "");
  /* and in its stream's histogram; the others' are empty */
  check_join_buckets (m, text, "diode_stream_join_seconds", "stream=cam,");
  fail_unless (mget (m, "diode_stream_join_seconds_count", "cam") == 1);
  fail_unless (mget_key (m,
          "diode_stream_join_seconds_bucket{stream=cam,le=10}") == 1);
  fail_unless (mget (m, "diode_stream_join_seconds_sum", "cam") > 0);
  fail_unless (mget (m, "diode_stream_join_seconds_count", ODD_NAME) == 0);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "") == 0);
  /* the odd name: escaped in the text, read back as it is */
  fail_unless (strstr (text, "stream=\"say \\\"hi\\\" \\\\ there <b>&\"")
      != NULL, "%s", excerpt (text));
  fail_unless (mget (m, "diode_stream_bytes_in_total", ODD_NAME) > 0);
  /* non-public streams: summed under stream="", never named */
  fail_unless (strstr (text, "hidden") == NULL, "%s", excerpt (strstr (text,
          "hidden")));
  fail_unless (mget (m, "diode_stream_bytes_in_total", "") > 0);
  fail_unless (mget (m, "diode_stream_frames_in_total", "") >= 8);
  fail_unless (mget (m, "diode_stream_live", "") == 2);
  fail_unless (g_hash_table_contains (m->samples,
          "diode_streams{access=private}"));
  fail_unless (*(gdouble *) g_hash_table_lookup (m->samples,
          "diode_streams{access=private}") == 1);
  sent = mget (m, "diode_stream_bytes_out_total", "cam");
  frames = mget (m, "diode_stream_frames_out_total", "cam");
  metrics_free (m);
  g_free (text);

  /* the viewer goes: what it was sent stays counted */
  gst_harness_teardown (v);
  fail_unless (fixture_wait_viewers (relay, "cam", 0, WAIT_MS));
  m = metrics (relay, NULL);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 0);
  fail_unless (mget (m, "diode_stream_bytes_out_total", "cam") >= sent,
      "bytes_out went down: %f < %f", mget (m,
          "diode_stream_bytes_out_total", "cam"), sent);
  fail_unless (mget (m, "diode_stream_frames_out_total", "cam") >= frames);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 1);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "cam") == 1);
  metrics_free (m);

  /* a viewer of the private stream (alice is allowed): its join counted
   * under stream="" with the other non-public streams, never by name */
  v = viewer_new_as (relay, "hidden-private", "alice.pem");
  viewer_gets_media (v, priv);
  m = metrics (relay, &text);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 2);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "") == 1, "%s",
      excerpt (strstr (text, "diode_stream_join")));
  fail_unless (mget (m, "diode_stream_join_seconds_count", "cam") == 1);
  check_join_buckets (m, text, "diode_stream_join_seconds", "stream=,");
  fail_unless (strstr (text, "hidden") == NULL);
  metrics_free (m);
  g_free (text);
  gst_harness_teardown (v);

  /* the operator asks: every stream by name */
  g_object_set (relay, "http-metrics-private", TRUE, NULL);
  m = metrics (relay, &text);
  /* 4 buffers and their CAPS (the private one: and what its viewer was
   * fed) */
  fail_unless (mget (m, "diode_stream_frames_in_total", "hidden-private")
      >= 5, "%s", excerpt (text));
  fail_unless (mget (m, "diode_stream_frames_in_total", "hidden-protected")
      == 5);
  fail_unless (mget (m, "diode_stream_live", "") == -1);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "hidden-private")
      == 1);
  fail_unless (mget (m, "diode_stream_join_seconds_count",
          "hidden-protected") == 0);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "") == -1);
  metrics_free (m);
  g_free (text);

  pub_free (cam);
  pub_free (odd);
  pub_free (priv);
  pub_free (prot);
  relay_free (relay);
  g_free (alice);
}

GST_END_TEST;

/* A viewer that stops reading is cut at the hard limit: counted in its
 * stream's drops and the relay's, and what it was sent stays counted.
 * (Keepalive long: a stalled raw client answers no PING, and on a slow
 * machine the keepalive, not the hard limit, would close it first.) */
GST_START_TEST (test_metrics_drops)
{
  DiodeRelay *relay = relay_with ("stats-interval-ms", 0,
      "viewer-soft-limit", (guint64) 64 * 1024, "viewer-hard-limit",
      (guint64) 512 * 1024, "write-timeout-ms", 60000, "buffer-bytes",
      (guint64) 8 * 1024 * 1024, "keepalive-ms", 30000, NULL);
  Pub *cam = publish (relay, "cam", DIODE_ACCESS_PUBLIC, NULL, NULL);
  RawClient *stalled;
  DiodeMsg msg = { 0 };
  Metrics *m;
  gint64 end;
  guint i = 0;

  m = metrics (relay, NULL);
  fail_unless (mget (m, "diode_stream_drops_total", "cam") == 0);
  fail_unless (mget (m, "diode_viewer_drops_total", NULL) == 0);
  metrics_free (m);

  /* one keyframe, then only deltas: no skip can save the stalled viewer */
  fail_unless_equals_int (gst_harness_push (cam->h,
          fixture_make_buffer (i++, 8192, 1000000)), GST_FLOW_OK);
  stalled = raw_open (relay, 4096, "stalled.pem");
  raw_send_frame (stalled, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "stalled/0"));
  fail_unless (raw_read (stalled, &msg, 2000) == RAW_READ_MSG);
  fail_unless_equals_int (msg.type, DIODE_MSG_WELCOME);
  diode_msg_clear (&msg);
  raw_send_frame (stalled, diode_msg_encode_subscribe ("cam", 0, 2000));
  fail_unless (fixture_wait_viewers (relay, "cam", 1, WAIT_MS));

  /* publish until the relay judges it (the ERROR it queues cannot reach
   * a viewer that does not read: it stays counted until closed) */
  end = deadline_in (20000);
  for (;;) {
    gdouble drops;

    fail_if (g_get_monotonic_time () > end || i > 8000, "the stalled viewer "
        "was not dropped after %u buffers", i);
    fail_unless_equals_int (gst_harness_push (cam->h,
            fixture_make_buffer (i++, 8192, 1000000)), GST_FLOW_OK);
    if (i % 64)
      continue;
    m = metrics (relay, NULL);
    drops = mget (m, "diode_stream_drops_total", "cam");
    metrics_free (m);
    if (drops > 0)
      break;
    g_usleep (20 * 1000);
  }
  fail_unless (fixture_wait_viewers (relay, "cam", 0, WAIT_MS));
  m = metrics (relay, NULL);
  fail_unless (mget (m, "diode_stream_drops_total", "cam") == 1);
  fail_unless (mget (m, "diode_viewer_drops_total", NULL) == 1);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 0);
  fail_unless (mget (m, "diode_stream_bytes_out_total", "cam") > 0);
  metrics_free (m);

  raw_free (stalled, TRUE);
  pub_free (cam);
  relay_free (relay);
}

GST_END_TEST;

/* Both readers refuse what the format forbids (so the tests above can
 * fail), and read escapes back. */
GST_START_TEST (test_metrics_readers_strict)
{
  static const gchar *const bad[] = {
    "# HELP a x\n# TYPE a counter\na 1",                /* no final newline */
    "a 1\n",                                            /* no family */
    "# TYPE a counter\na 1\n",                          /* no HELP */
    "# HELP a x\na 1\n",                                /* no TYPE */
    "# HELP a x\n# TYPE a counter\nb 1\n",              /* other family */
    "# HELP a x\n# TYPE a counter\na 1\n# HELP a x\n# TYPE a counter\n",
    "# HELP a x\n# TYPE a counter\na 1\na 2\n",         /* series twice */
    "# HELP a x\n# TYPE a counter\na{s=\"x\"} 1\na{s=\"x\"} 1\n",
    "# HELP a x\n# TYPE a counter\na{s=\"x\\t\"} 1\n",  /* bad escape */
    "# HELP a x\n# TYPE a counter\na{s=\"x} 1\n",       /* unterminated */
    "# HELP a x\n# TYPE a counter\na{s=x} 1\n",         /* unquoted */
    "# HELP a x\n# TYPE a counter\na{1s=\"x\"} 1\n",    /* bad label name */
    "# HELP a x\n# TYPE a counter\na one\n",            /* bad value */
    "# HELP a x\n# TYPE a counter\na 1 1700000000\n",   /* timestamp */
    "# HELP a x\n# TYPE a counter\n\na 1\n",            /* empty line */
    "# HELP a x\n# TYPE a thing\na 1\n",                /* bad type */
    "# HELP 1a x\n# TYPE 1a counter\n1a 1\n",           /* bad name */
    "# HELP a x\n# TYPE a counter\n# note\na 1\n",      /* stray comment */
    /* histograms: not cumulative, +Inf not _count, no +Inf, le order */
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
        "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n"
        "h_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
        "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
    /* le not in its shortest form (docs/stats.md promises 0.05) */
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.050000000000000003\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1e+01\"} 1\n"
        "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
    /* per label set: the second set's +Inf is not its _count, or it has
     * no _sum */
    "# HELP h x\n# TYPE h histogram\nh_bucket{s=\"a\",le=\"+Inf\"} 1\n"
        "h_sum{s=\"a\"} 1\nh_count{s=\"a\"} 1\n"
        "h_bucket{s=\"b\",le=\"+Inf\"} 2\nh_sum{s=\"b\"} 1\n"
        "h_count{s=\"b\"} 1\n",
    "# HELP h x\n# TYPE h histogram\nh_bucket{s=\"a\",le=\"+Inf\"} 1\n"
        "h_sum{s=\"a\"} 1\nh_count{s=\"a\"} 1\n"
        "h_bucket{s=\"b\",le=\"+Inf\"} 2\nh_count{s=\"b\"} 2\n",
  };
  const gchar *good = "# HELP a x y\n# TYPE a counter\n"
      "a{stream=\"q\\\"\\\\\\n\"} 1\na{stream=\"\"} 2.5e3\n"
      "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
      "h_bucket{le=\"+Inf\"} 2\nh_sum 7.25\nh_count 2\n"
      "# HELP g x\n# TYPE g histogram\ng_bucket{s=\"a\",le=\"0.05\"} 0\n"
      "g_bucket{s=\"a\",le=\"+Inf\"} 1\ng_sum{s=\"a\"} 9\n"
      "g_count{s=\"a\"} 1\ng_bucket{s=\"b\",le=\"0.05\"} 3\n"
      "g_bucket{s=\"b\",le=\"+Inf\"} 3\ng_sum{s=\"b\"} 0.1\n"
      "g_count{s=\"b\"} 3\n";
  Metrics *m = metrics_parse (good);
  guint i;

  fail_unless (mget (m, "a", "q\"\\\n") == 1);
  fail_unless (mget (m, "a", "") == 2500);
  fail_unless (mget (m, "h_count", NULL) == 2);
  fail_unless (mget_key (m, "g_bucket{s=b,le=0.05}") == 3);
  fail_unless (mget (m, "g_count", NULL) == -1);
  metrics_free (m);
  python_check (good);
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    gchar *error = NULL;

    m = metrics_parse_full (bad[i], &error);
    fail_unless (m == NULL, "the C reader took bad text %u:\n%s", i, bad[i]);
    g_free (error);
    fail_if (python_reads (bad[i], NULL), "promcheck.py took bad text %u:\n"
        "%s", i, bad[i]);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* the same over real HTTP (the web server: diode-web.c) */

typedef struct
{
  guint status;
  gchar *type, *cache, *csp, *nosniff;
  gchar *body;
} HttpReply;

static void
http_reply_free (HttpReply * h)
{
  g_free (h->type);
  g_free (h->cache);
  g_free (h->csp);
  g_free (h->nosniff);
  g_free (h->body);
  g_free (h);
}

static HttpReply *
http_do (DiodeRelay * relay, const gchar * method, const gchar * path)
{
  gchar *url = g_strdup_printf ("http://127.0.0.1:%u%s",
      diode_relay_get_http_port (relay), path);
  SoupSession *session = soup_session_new_with_options ("timeout", 10, NULL);
  SoupMessage *msg = soup_message_new (method, url);
  HttpReply *h = g_new0 (HttpReply, 1);
  SoupMessageHeaders *rh;
  GError *err = NULL;
  GBytes *body;
  gsize len;
  const gchar *data;

  body = soup_session_send_and_read (session, msg, NULL, &err);
  fail_unless (body != NULL, "%s %s: %s", method, url, err ? err->message :
      "?");
  rh = soup_message_get_response_headers (msg);
  h->status = soup_message_get_status (msg);
  h->type = g_strdup (soup_message_headers_get_one (rh, "Content-Type"));
  h->cache = g_strdup (soup_message_headers_get_one (rh, "Cache-Control"));
  h->csp = g_strdup (soup_message_headers_get_one (rh,
          "Content-Security-Policy"));
  h->nosniff = g_strdup (soup_message_headers_get_one (rh,
          "X-Content-Type-Options"));
  data = g_bytes_get_data (body, &len);
  h->body = g_strndup (data, len);
  g_bytes_unref (body);
  g_object_unref (msg);
  g_object_unref (session);
  g_free (url);
  return h;
}

/* GET @path: 200, @type, the security headers, the API's no-store. */
static gchar *
http_get (DiodeRelay * relay, const gchar * path, const gchar * type,
    gboolean no_store)
{
  HttpReply *h = http_do (relay, "GET", path);
  gchar *body;

  fail_unless_equals_int (h->status, 200);
  fail_unless_equals_string (h->type, type);
  fail_unless (h->csp && strstr (h->csp, "default-src 'self'"), "%s: CSP "
      "%s", path, h->csp);
  fail_unless_equals_string (h->nosniff, "nosniff");
  if (no_store)
    fail_unless_equals_string (h->cache, "no-store");
  body = h->body;
  h->body = NULL;
  http_reply_free (h);
  return body;
}

typedef struct
{
  SoupWebsocketConnection *ws;
  GError *error;
  guint binary;                 /* binary messages received */
  guint media;                  /* of those, MEDIA frames */
  gboolean closed;
} WsViewer;

static void
ws_message (SoupWebsocketConnection * ws, gint type, GBytes * msg,
    WsViewer * v)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (msg, &len);

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    return;
  v->binary++;
  if (len > 8 && d[0] == DIODE_MSG_MEDIA)
    v->media++;
}

static void
ws_closed (SoupWebsocketConnection * ws, WsViewer * v)
{
  v->closed = TRUE;
}

static void
ws_connected (GObject * src, GAsyncResult * res, gpointer data)
{
  WsViewer *v = data;

  v->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res,
      &v->error);
  if (v->ws) {
    g_signal_connect (v->ws, "message", G_CALLBACK (ws_message), v);
    g_signal_connect (v->ws, "closed", G_CALLBACK (ws_closed), v);
  }
}

/* Iterates the default context until @cond or @ms pass, pushing a
 * buffer of @p every 20 ms. */
#define WS_WAIT(cond, p, ms) G_STMT_START { \
    gint64 end_ = deadline_in (ms), next_ = 0; \
    while (!(cond)) { \
      fail_if (g_get_monotonic_time () > end_, "timeout waiting for " #cond); \
      if ((p) && g_get_monotonic_time () > next_) { \
        pub_push ((p), 1); \
        next_ = g_get_monotonic_time () + 20 * 1000; \
      } \
      g_main_context_iteration (NULL, FALSE); \
      g_usleep (2000); \
    } \
  } G_STMT_END

GST_START_TEST (test_over_http)
{
  DiodeRelay *relay = relay_with ("stats-interval-ms", 0, "http-listen",
      "127.0.0.1:0", NULL);
  gchar *alice = fixture_key_address ("alice.pem");
  Pub *cam = publish (relay, "cam", DIODE_ACCESS_PUBLIC, NULL, NULL);
  Pub *priv = publish (relay, "hidden-private", DIODE_ACCESS_PRIVATE,
      "allow", alice);
  SoupSession *session = soup_session_new ();
  SoupMessage *upgrade;
  WsViewer v = { NULL };
  JsonParser *jp = json_parser_new ();
  JsonNode *root;
  JsonObject *o;
  HttpReply *h;
  gchar *text, *url;
  Metrics *m;

  pub_push (cam, 3);
  pub_push (priv, 3);
  fail_unless (diode_relay_get_http_port (relay) != 0);

  /* a browser watching 'cam' over /ws/cam */
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws/cam",
      diode_relay_get_http_port (relay));
  upgrade = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (session, upgrade, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, ws_connected, &v);
  WS_WAIT (v.ws || v.error, cam, WAIT_MS);
  fail_unless (v.ws != NULL, "WebSocket: %s", v.error ? v.error->message :
      "?");
  WS_WAIT (v.media >= 2, cam, WAIT_MS);

  /* /api/streams: the web viewer is counted, twice */
  text = http_get (relay, "/api/streams", "application/json", TRUE);
  fail_unless (json_parser_load_from_data (jp, text, -1, NULL), "%s", text);
  root = json_parser_get_root (jp);
  o = find_stream (root, "cam");
  fail_unless (o != NULL, "%s", text);
  fail_unless_equals_int (json_object_get_int_member (o, "viewers"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "web_viewers"), 1);
  fail_unless_equals_int (json_object_get_int_member (o, "width"), 320);
  fail_unless (find_stream (root, "hidden-private") == NULL);
  g_free (text);

  /* /metrics: its join, its bytes */
  text = http_get (relay, "/metrics",
      "text/plain; version=0.0.4; charset=utf-8", TRUE);
  m = metrics_parse (text);
  python_check (text);
  fail_unless (mget (m, "diode_stream_web_viewers", "cam") == 1);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 1);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 1, "%s",
      excerpt (strstr (text, "diode_join")));
  fail_unless (mget (m, "diode_stream_bytes_out_total", "cam") > 0);
  fail_unless (strstr (text, "hidden") == NULL);
  metrics_free (m);
  g_free (text);

  text = http_get (relay, "/", "text/html; charset=utf-8", FALSE);
  fail_unless (strstr (text, "<a href=\"/watch/cam\">cam</a>") != NULL,
      "%s", text);
  fail_unless (strstr (text, "hidden") == NULL);
  g_free (text);
  text = http_get (relay, "/healthz", "text/plain; charset=utf-8", TRUE);
  fail_unless_equals_string (text, "ok\n");
  g_free (text);

  /* HEAD gets the headers; other methods are refused */
  h = http_do (relay, "HEAD", "/metrics");
  fail_unless_equals_int (h->status, 200);
  fail_unless (!h->body || !*h->body);
  http_reply_free (h);
  h = http_do (relay, "POST", "/api/streams");
  fail_unless_equals_int (h->status, 405);
  http_reply_free (h);

  /* the browser goes: the web viewer count drops, its bytes stay */
  soup_websocket_connection_close (v.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  WS_WAIT (v.closed, cam, WAIT_MS);
  fail_unless (fixture_wait_viewers (relay, "cam", 0, WAIT_MS));
  text = http_get (relay, "/metrics",
      "text/plain; version=0.0.4; charset=utf-8", TRUE);
  m = metrics_parse (text);
  fail_unless (mget (m, "diode_stream_web_viewers", "cam") == 0);
  fail_unless (mget (m, "diode_stream_bytes_out_total", "cam") > 0);
  metrics_free (m);
  g_free (text);

  g_object_unref (v.ws);
  g_object_unref (upgrade);
  g_object_unref (session);
  g_object_unref (jp);
  g_free (url);
  pub_free (cam);
  pub_free (priv);
  relay_free (relay);
  g_free (alice);
}

GST_END_TEST;

static Suite *
web_api_suite (void)
{
  Suite *s = suite_create ("web-api");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_streams_json);
  tcase_add_test (tc, test_list_page);
  tcase_add_test (tc, test_metrics);
  tcase_add_test (tc, test_metrics_drops);
  tcase_add_test (tc, test_metrics_readers_strict);
  tcase_add_test (tc, test_over_http);
  return s;
}

GST_CHECK_MAIN (web_api);
