/* gst-diode — diodesink and diodesrc on direct paths (issue 12), on
 * loopback: an in-process relay introduces them, libnice connects them,
 * media leaves the relay and comes back to it when the direct path ends,
 * with no gap and no duplicate
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything is real: the relay (its SIGNAL forwarding and PATH handling),
 * ICE over 127.0.0.1 host candidates (stun-server=none: no STUN server is
 * needed on one host), TLS 1.3 between publisher and viewer. The relay's
 * per-stream byte counter (its stats JSON) shows whether media crossed it.
 * The NAT cases are tests/nat's.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "fixture.h"
#include "diode-identity.h"
#include "diode-msg.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define SIZE      1000          /* bytes per buffer */
#define GOP       10
#define TICK_MS   20            /* one buffer this often */
#define SWITCH_MS 20000         /* the direct path is up by then */

typedef struct
{
  const gchar *name;
  gchar *key;
  gchar *addr;
} Who;

static Who alice = { "alice" }, bob = { "bob" };

static void
who_init (Who * w)
{
  GError *err = NULL;
  DiodeIdentity *id;

  if (w->key)
    return;
  w->key = g_strdup_printf ("%s/%s.pem", fixture_config_dir (), w->name);
  id = diode_identity_load_or_create (w->key, &err);
  g_assert (id != NULL);
  w->addr = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
}

static GstBus *
bus_for (GstElement * e)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (e, bus);
  return bus;
}

/* Publisher alice, stun-server=none (host candidates are enough here). */
static GstHarness *
sink_h (DiodeRelay * relay, const gchar * stream, gboolean direct)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  who_init (&alice);
  g_object_set (e, "relay", hp, "stream", stream, "identity", alice.key,
      "direct", direct, "stun-server", "none", NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_object_unref (e);
  g_free (hp);
  return h;
}

/* Viewer bob; *bus gets the element's messages. */
static GstHarness *
src_h (DiodeRelay * relay, const gchar * stream, const gchar * mode,
    GstBus ** bus)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  who_init (&bob);
  gst_util_set_object_arg (G_OBJECT (e), "direct", mode);
  g_object_set (e, "relay", hp, "stream", stream, "identity", bob.key,
      "timeout", 5000, "stun-server", "none", NULL);
  *bus = bus_for (e);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  g_free (hp);
  return h;
}

/* The viewer first (it waits), then the publisher: the viewer gets every
 * buffer from the first on. */
static void
start_both (DiodeRelay * relay, const gchar * stream, GstHarness * src,
    GstHarness * sink)
{
  gst_harness_play (src);
  fail_unless (fixture_wait_waiting (relay, stream, 1, 5000));
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, stream, TRUE, 5000));
}

/* Push buffer *next into the sink and pull it from the source: it must be
 * that very buffer (OFFSET = index, payload), so a gap or a duplicate on
 * either path fails here. */
static void
step (GstHarness * sink, GstHarness * src, guint * next)
{
  GstBuffer *b;

  fail_unless_equals_int (gst_harness_push (sink,
          fixture_make_buffer (*next, SIZE, GOP)), GST_FLOW_OK);
  b = gst_harness_pull (src);
  fail_unless (b != NULL, "no buffer %u", *next);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), *next);
  fail_unless (fixture_payload_matches (b, *next, SIZE), "payload %u", *next);
  gst_buffer_unref (b);
  (*next)++;
  g_usleep (TICK_MS * 1000);
}

/* Buffer @i, then EOS, from the source (bounded). */
static void
expect_last_then_eos (GstHarness * src, guint i)
{
  gint64 end = deadline_in (10000);
  GstBuffer *b = gst_harness_pull (src);

  fail_unless (b != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
  gst_buffer_unref (b);
  for (;;) {
    GstEvent *ev = gst_harness_try_pull_event (src);

    if (ev && GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_event_unref (ev);
      break;
    }
    if (ev)
      gst_event_unref (ev);
    else
      g_usleep (10 * 1000);
    fail_unless (g_get_monotonic_time () < end, "no EOS");
  }
}

/* A diode-path message already posted, or NULL. */
static const GstStructure *
pop_path (GstBus * bus, GstMessage ** msg)
{
  while ((*msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (*msg);

    if (gst_structure_has_name (s, "diode-path"))
      return s;
    gst_message_unref (*msg);
  }
  return NULL;
}

/* Steps until the source posts diode-path @path (bounded): its from-seq. */
static guint64
steps_until_path (GstHarness * sink, GstHarness * src, GstBus * bus,
    guint * next, const gchar * path, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  GstMessage *msg;
  const GstStructure *s;
  guint64 from = 0;

  for (;;) {
    step (sink, src, next);
    if ((s = pop_path (bus, &msg))) {
      fail_unless_equals_string (gst_structure_get_string (s, "path"), path);
      fail_unless (gst_structure_get_uint64 (s, "from-seq", &from));
      if (!strcmp (path, "direct"))
        fail_if (gst_structure_get_string (s, "pair")[0] == '\0');
      gst_message_unref (msg);
      return from;
    }
    fail_unless (g_get_monotonic_time () < end, "no diode-path %s after "
        "%u ms", path, timeout_ms);
  }
}

/* streams[name].bytes_out of the relay's latest stats snapshot, after the
 * next one (200 ms apart: relay_with()). */
static guint64
relay_bytes_out (DiodeRelay * relay, const gchar * stream)
{
  JsonParser *p = json_parser_new ();
  JsonArray *streams;
  gchar *json;
  guint64 out = G_MAXUINT64;
  guint i;

  g_usleep (450 * 1000);
  json = diode_relay_get_stats_json (relay);
  fail_unless (json != NULL);
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  streams = json_object_get_array_member (json_node_get_object
      (json_parser_get_root (p)), "streams");
  for (i = 0; i < json_array_get_length (streams); i++) {
    JsonObject *o = json_array_get_object_element (streams, i);

    if (!g_strcmp0 (json_object_get_string_member (o, "name"), stream))
      out = (guint64) json_object_get_int_member (o, "bytes_out");
  }
  fail_if (out == G_MAXUINT64, "stream %s not in the relay's stats", stream);
  g_object_unref (p);
  g_free (json);
  return out;
}

static GstStructure *
stats_of (GstHarness * h)
{
  GstStructure *s = NULL;

  g_object_get (h->element, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

static guint64
stat_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v = G_MAXUINT64;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no %s", field);
  return v;
}

static void
teardown (GstHarness * src, GstBus * bus, GstHarness * sink, DiodeRelay * r)
{
  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  gst_object_unref (bus);
  relay_free (r);
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_properties)
{
  GstElement *sink = gst_element_factory_make ("diodesink", NULL);
  GstElement *src = gst_element_factory_make ("diodesrc", NULL);
  GParamSpec *ps;
  gboolean direct = TRUE;
  guint max = 0;
  gchar *stun = (gchar *) "x", *turn = (gchar *) "x";

  g_object_get (sink, "direct", &direct, "direct-max", &max, "stun-server",
      &stun, "turn-server", &turn, NULL);
  fail_if (direct);
  fail_unless_equals_int (max, 4);
  fail_unless (stun == NULL && turn == NULL);
  /* off while playing closes the direct paths; on waits for a start */
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "direct");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_PLAYING);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "direct-max");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_READY);
  fail_unless_equals_int (G_PARAM_SPEC_UINT (ps)->maximum, 64);

  g_object_get (src, "stun-server", &stun, NULL);
  fail_unless (stun == NULL);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "direct");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_READY);
  fail_unless (G_IS_PARAM_SPEC_ENUM (ps));
  {
    GEnumClass *ec = g_type_class_ref (ps->value_type);

    fail_unless_equals_string (g_enum_get_value (ec,
            G_PARAM_SPEC_ENUM (ps)->default_value)->value_nick, "auto");
    fail_unless (g_enum_get_value_by_nick (ec, "never") != NULL);
    g_type_class_unref (ec);
  }
  gst_util_set_object_arg (G_OBJECT (src), "direct", "never");
  g_object_get (src, "direct", &max, NULL);
  fail_unless_equals_int (max, 0);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "turn-server");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_READY);
  gst_object_unref (sink);
  gst_object_unref (src);
}

GST_END_TEST;

/* A STUN or TURN setting that does not parse stops the start with an error
 * naming the property (the password of a TURN URI is never echoed). */
GST_START_TEST (test_bad_server_uris)
{
  DiodeRelay *relay = relay_with (NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *src = gst_element_factory_make ("diodesrc", NULL);
  GstElement *sink = gst_element_factory_make ("diodesink", NULL);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (src, "relay", hp, "stream", "uris", "stun-server",
      "stun:", NULL);
  msg = fixture_expect_error (src, GST_STATE_PAUSED, 5000);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS), "%s", err->message);
  fail_unless (strstr (err->message, "stun-server") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_element_set_state (src, GST_STATE_NULL);

  g_object_set (sink, "relay", hp, "stream", "uris", "turn-server",
      "turn://user:s3cret@", NULL);
  msg = fixture_expect_error (sink, GST_STATE_PAUSED, 5000);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (strstr (err->message, "turn-server") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "s3cret") == NULL, "%s", err->message);
  g_clear_error (&err);
  gst_message_unref (msg);
  gst_element_set_state (sink, GST_STATE_NULL);

  gst_object_unref (src);
  gst_object_unref (sink);
  g_free (hp);
  relay_free (relay);
}

GST_END_TEST;

/* direct=never: the publisher offers, the viewer never asks; all media
 * crosses the relay. */
GST_START_TEST (test_never_stays_on_relay)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "never", "never", &bus);
  GstHarness *sink = sink_h (relay, "never", TRUE);
  GstStructure *st;
  GstMessage *msg;
  guint next = 0, i;
  guint64 before;

  start_both (relay, "never", src, sink);
  for (i = 0; i < 20; i++)
    step (sink, src, &next);
  before = relay_bytes_out (relay, "never");
  for (i = 0; i < 60; i++)
    step (sink, src, &next);
  fail_unless (relay_bytes_out (relay, "never") - before >= 60 * SIZE);
  fail_unless (pop_path (bus, &msg) == NULL);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "direct-attempts"), 0);
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  gst_structure_free (st);
  st = stats_of (sink);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-offers"), 0);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* The publisher does not offer (direct=false): the relay answers the
 * viewer's OFFER with CLOSE "direct paths not offered", the viewer stays
 * on the relay path and does not ask again. */
GST_START_TEST (test_sink_not_offering)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "plain", "auto", &bus);
  GstHarness *sink = sink_h (relay, "plain", FALSE);
  GstStructure *st;
  GstMessage *msg;
  guint next = 0, i;
  gboolean offering = TRUE;

  start_both (relay, "plain", src, sink);
  /* longer than the first retry would wait (2 s) */
  for (i = 0; i < 200; i++)
    step (sink, src, &next);
  fail_unless (pop_path (bus, &msg) == NULL);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "direct-attempts"), 1);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-switches"), 0);
  gst_structure_free (st);
  st = stats_of (sink);
  fail_unless (gst_structure_get_boolean (st, "direct", &offering));
  fail_if (offering);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* The whole way: relay path at once, then direct (PATH DIRECT at the next
 * seq), no media through the relay while direct, every buffer exactly
 * once and in order. */
GST_START_TEST (test_switch_to_direct)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "cam", "auto", &bus);
  GstHarness *sink = sink_h (relay, "cam", TRUE);
  GstStructure *st;
  guint next = 0, i;
  guint64 from, before, after;
  gboolean offering = FALSE;
  guint viewers = 0;

  start_both (relay, "cam", src, sink);
  from = steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  /* seqs are 1-based; the switch took the next one needed */
  fail_unless (from >= 1 && from <= next, "from-seq %" G_GUINT64_FORMAT
      " after %u buffers", from, next);

  /* relay frames already on their way are dropped by seq meanwhile */
  for (i = 0; i < 10; i++)
    step (sink, src, &next);
  before = relay_bytes_out (relay, "cam");
  for (i = 0; i < 100; i++)
    step (sink, src, &next);
  after = relay_bytes_out (relay, "cam");
  /* 100 kB of media went by: at most keepalives crossed the relay */
  fail_unless (after - before < 1024, "the relay sent %" G_GUINT64_FORMAT
      " bytes while the viewer was on the direct path", after - before);

  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"),
      "direct");
  fail_if (gst_structure_get_string (st, "pair")[0] == '\0');
  fail_unless_equals_uint64 (stat_u64 (st, "direct-switches"), 1);
  fail_unless (stat_u64 (st, "direct-bytes-received") >= 100 * SIZE);
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  fail_unless_equals_uint64 (stat_u64 (st, "discont"), 0);
  gst_structure_free (st);
  st = stats_of (sink);
  fail_unless (gst_structure_get_boolean (st, "direct", &offering));
  fail_unless (offering);
  fail_unless (gst_structure_get_uint (st, "direct-viewers", &viewers));
  fail_unless_equals_int (viewers, 1);
  fail_unless (stat_u64 (st, "direct-sessions") >= 1);
  fail_unless (stat_u64 (st, "direct-bytes-sent") >= 100 * SIZE);
  gst_structure_free (st);

  /* EOS comes over the direct path too, after the last buffer (the
   * relay's, which may come first, waits for it) */
  fail_unless (gst_harness_push (sink, fixture_make_buffer (next, SIZE,
              GOP)) == GST_FLOW_OK);
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));
  expect_last_then_eos (src, next);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* A private stream: the viewer on the allowlist gets a direct path too
 * (the sink's own check admits it). */
GST_START_TEST (test_private_allowlist_direct)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "door", "auto", &bus);
  GstHarness *sink = sink_h (relay, "door", TRUE);
  GstStructure *st;
  guint next = 0;

  g_object_set (sink->element, "access", DIODE_ACCESS_PRIVATE, "allow",
      bob.addr, NULL);
  start_both (relay, "door", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  st = stats_of (sink);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-refused"), 0);
  fail_unless (stat_u64 (st, "direct-sessions") >= 1);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* The publisher ends its direct paths mid-stream (direct=false while
 * playing frees its server: the TLS session and ICE go): the viewer takes
 * what the direct path delivered, sends PATH RELAY at the next seq, and
 * goes on from the relay with nothing missing and nothing twice. */
GST_START_TEST (test_fallback_to_relay)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "cut", "auto", &bus);
  GstHarness *sink = sink_h (relay, "cut", TRUE);
  GstStructure *st;
  guint next = 0, i;
  guint64 from, before;

  start_both (relay, "cut", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  for (i = 0; i < 20; i++)
    step (sink, src, &next);

  before = relay_bytes_out (relay, "cut");
  g_object_set (sink->element, "direct", FALSE, NULL);
  from = steps_until_path (sink, src, bus, &next, "relay", 10000);
  fail_unless (from >= 1 && from <= next);
  for (i = 0; i < 60; i++)
    step (sink, src, &next);
  fail_unless (relay_bytes_out (relay, "cut") - before >= 60 * SIZE);

  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "direct-fallbacks"), 1);
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  fail_unless_equals_uint64 (stat_u64 (st, "discont"), 0);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* A protected stream: the relay admits fleet members, but the publisher
 * cannot know fleets, so its own check refuses them a direct path
 * (docs/protocol.md 17.7): bob watches through the relay. */
GST_START_TEST (test_policy_refuses_direct)
{
  gchar *conf_text, *conf;
  DiodeRelay *relay;
  GstBus *bus;
  GstHarness *src, *sink;
  GstStructure *st;
  GstMessage *msg;
  guint next = 0, i;

  who_init (&bob);
  conf_text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  conf = g_build_filename (fixture_config_dir (), "direct-fleet.conf", NULL);
  fail_unless (g_file_set_contents (conf, conf_text, -1, NULL));
  relay = relay_with ("config", conf, NULL);
  src = src_h (relay, "hq", "auto", &bus);
  sink = sink_h (relay, "hq", TRUE);
  g_object_set (sink->element, "access", DIODE_ACCESS_PROTECTED, "fleet",
      "office", NULL);
  start_both (relay, "hq", src, sink);
  for (i = 0; i < 150; i++)
    step (sink, src, &next);
  fail_unless (pop_path (bus, &msg) == NULL);
  st = stats_of (sink);
  fail_unless (stat_u64 (st, "direct-refused") >= 1);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-sessions"), 0);
  gst_structure_free (st);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless (stat_u64 (st, "direct-attempts") >= 1);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
  g_free (conf);
  g_free (conf_text);
}

GST_END_TEST;

static Suite *
direct_elements_suite (void)
{
  Suite *s = suite_create ("direct-elements");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_bad_server_uris);
  tcase_add_test (tc, test_never_stays_on_relay);
  tcase_add_test (tc, test_sink_not_offering);
  tcase_add_test (tc, test_switch_to_direct);
  tcase_add_test (tc, test_fallback_to_relay);
  tcase_add_test (tc, test_policy_refuses_direct);
  tcase_add_test (tc, test_private_allowlist_direct);
  return s;
}

GST_CHECK_MAIN (direct_elements);
