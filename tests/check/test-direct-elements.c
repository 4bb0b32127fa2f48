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

static Who alice = { "alice" }, bob = { "bob" }, carol = { "carol" };

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

/* Publisher alice, stun-server=none (host candidates are enough here),
 * then the NULL-terminated properties given: set before the harness
 * exists (it starts the element). */
static GstHarness *
sink_h (DiodeRelay * relay, const gchar * stream, gboolean direct,
    const gchar * first_prop, ...)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;
  va_list ap;

  who_init (&alice);
  g_object_set (e, "relay", hp, "stream", stream, "identity", alice.key,
      "direct", direct, "stun-server", "none", NULL);
  va_start (ap, first_prop);
  if (first_prop)
    g_object_set_valist (G_OBJECT (e), first_prop, ap);
  va_end (ap);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_object_unref (e);
  g_free (hp);
  return h;
}

/* Viewer @who; *bus gets the element's messages. */
static GstHarness *
src_as (DiodeRelay * relay, const gchar * stream, const gchar * mode,
    GstBus ** bus, Who * who, const gchar * stun)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  who_init (who);
  gst_util_set_object_arg (G_OBJECT (e), "direct", mode);
  g_object_set (e, "relay", hp, "stream", stream, "identity", who->key,
      "timeout", 5000, "stun-server", stun, NULL);
  *bus = bus_for (e);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  g_free (hp);
  return h;
}

/* Viewer bob. */
static GstHarness *
src_h (DiodeRelay * relay, const gchar * stream, const gchar * mode,
    GstBus ** bus)
{
  return src_as (relay, stream, mode, bus, &bob, "none");
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

/* The sink's next diode-path (bounded by @timeout_ms): path @path, its
 * viewers field @viewers, the fields diodesrc's has. */
static void
expect_sink_path (GstBus * bus, const gchar * path, guint viewers,
    guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  GstMessage *msg;
  const GstStructure *s;
  guint v = G_MAXUINT;
  guint64 from = G_MAXUINT64;

  /* diode-stats messages come too: skipped */
  while (!(s = pop_path (bus, &msg))) {
    fail_unless (g_get_monotonic_time () < end, "the sink posted no "
        "diode-path %s", path);
    g_usleep (10 * 1000);
  }
  fail_unless_equals_string (gst_structure_get_string (s, "path"), path);
  fail_unless (gst_structure_get_uint (s, "viewers", &v));
  fail_unless_equals_int (v, viewers);
  fail_unless (gst_structure_get_uint64 (s, "from-seq", &from));
  fail_unless_equals_uint64 (from, 0);
  fail_unless (gst_structure_get_string (s, "pair") != NULL);
  fail_unless (gst_structure_get_string (s, "reason") != NULL);
  gst_message_unref (msg);
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

static guint64
src_attempts (GstHarness * src)
{
  GstStructure *st = stats_of (src);
  guint64 n = stat_u64 (st, "direct-attempts");

  gst_structure_free (st);
  return n;
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

  /* turn-server reads back without its password */
  {
    static const gchar *in_out[][2] = {
      {"turn://alice:s3cret@turn.example:3478?transport=tcp",
          "turn://alice:***@turn.example:3478?transport=tcp"},
      {"turn://alice:p@ss@10.0.0.1:3478", "turn://alice:***@10.0.0.1:3478"},
      {"turn://alice@10.0.0.1:3478", "turn://alice@10.0.0.1:3478"},
      {"turn.example:3478", "turn.example:3478"},
    };
    guint k;

    for (k = 0; k < G_N_ELEMENTS (in_out); k++) {
      g_object_set (sink, "turn-server", in_out[k][0], NULL);
      g_object_get (sink, "turn-server", &turn, NULL);
      fail_unless_equals_string (turn, in_out[k][1]);
      g_free (turn);
    }
  }
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
  GstHarness *sink = sink_h (relay, "never", TRUE, NULL);
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
  GstHarness *sink = sink_h (relay, "plain", FALSE, NULL);
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
  GstHarness *sink = sink_h (relay, "cam", TRUE, NULL);
  GstBus *sbus = bus_for (sink->element);
  GstStructure *st;
  GstMessage *msg;
  guint next = 0, i;
  guint64 from, before, after;
  gboolean offering = FALSE;
  guint viewers = 0;

  start_both (relay, "cam", src, sink);
  /* the sink's message: none while its viewer is on the relay path */
  fail_unless (pop_path (sbus, &msg) == NULL);
  from = steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  /* seqs are 1-based; the switch took the next one needed */
  fail_unless (from >= 1 && from <= next, "from-seq %" G_GUINT64_FORMAT
      " after %u buffers", from, next);
  /* the sink says so too (before the viewer could: SUBSCRIBE_OK) */
  expect_sink_path (sbus, "direct", 1, 2000);

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
  fail_unless_equals_string (gst_structure_get_string (st, "path"),
      "direct");
  fail_unless (stat_u64 (st, "direct-sessions") >= 1);
  fail_unless (stat_u64 (st, "direct-bytes-sent") >= 100 * SIZE);
  gst_structure_free (st);

  /* EOS comes over the direct path too, after the last buffer (the
   * relay's, which may come first, waits for it) */
  fail_unless (gst_harness_push (sink, fixture_make_buffer (next, SIZE,
              GOP)) == GST_FLOW_OK);
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));
  expect_last_then_eos (src, next);
  /* once per change: nothing more while the viewer stayed direct */
  {
    const GstStructure *ps = pop_path (sbus, &msg);

    /* the direct session may end after EOS: "relay" then, never "direct"
     * twice */
    if (ps) {
      fail_unless_equals_string (gst_structure_get_string (ps, "path"),
          "relay");
      gst_message_unref (msg);
    }
  }
  teardown (src, bus, sink, relay);
  gst_object_unref (sbus);
}

GST_END_TEST;

/* A private stream: the viewer on the allowlist gets a direct path too
 * (the sink's own check admits it). */
GST_START_TEST (test_private_allowlist_direct)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus;
  GstHarness *src = src_h (relay, "door", "auto", &bus);
  GstHarness *sink = sink_h (relay, "door", TRUE, "access",
      DIODE_ACCESS_PRIVATE, "allow", bob.addr, NULL);
  GstStructure *st;
  guint next = 0;

  start_both (relay, "door", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  st = stats_of (sink);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-refused"), 0);
  fail_unless (stat_u64 (st, "direct-sessions") >= 1);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
}

GST_END_TEST;

/* The sink's policy changes to one that still lets the viewer watch
 * through the relay (protected, bob a member of the relay's fleet) but no
 * longer admits it to a direct path (the sink cannot know fleets): the
 * sink's own check runs again and ends that direct session; the viewer
 * goes on through the relay, which admits it, with nothing missed. The
 * relay does not end the session here (it still admits bob): only the
 * sink's re-check does. */
GST_START_TEST (test_revoked_viewer_leaves_direct)
{
  gchar *conf_text, *conf;
  DiodeRelay *relay;
  GstBus *bus, *sbus;
  GstHarness *src, *sink;
  GstStructure *st;
  guint next = 0, viewers = 1, i;
  gint64 end;

  who_init (&bob);
  conf_text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  conf = g_build_filename (fixture_config_dir (), "direct-revoke.conf", NULL);
  fail_unless (g_file_set_contents (conf, conf_text, -1, NULL));
  relay = relay_with ("config", conf, NULL);
  src = src_h (relay, "door2", "auto", &bus);
  sink = sink_h (relay, "door2", TRUE, "access", DIODE_ACCESS_PRIVATE,
      "allow", bob.addr, NULL);
  sbus = bus_for (sink->element);
  start_both (relay, "door2", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  expect_sink_path (sbus, "direct", 1, 2000);
  /* as test_fallback_to_relay: relay frames sent before the relay read
   * PATH DIRECT are over before the fallback (a fallback within a few ms
   * of the switch once showed a duplicate: see the i12-fixa report) */
  for (i = 0; i < 20; i++)
    step (sink, src, &next);

  g_object_set (sink->element, "fleet", "office", "access",
      DIODE_ACCESS_PROTECTED, NULL);
  end = deadline_in (10000);
  while (viewers) {
    step (sink, src, &next);
    st = stats_of (sink);
    fail_unless (gst_structure_get_uint (st, "direct-viewers", &viewers));
    gst_structure_free (st);
    fail_unless (g_get_monotonic_time () < end, "the revoked viewer is "
        "still on its direct path");
  }
  expect_sink_path (sbus, "relay", 0, 2000);
  steps_until_path (sink, src, bus, &next, "relay", 10000);
  for (i = 0; i < 30; i++)
    step (sink, src, &next);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
  gst_object_unref (sbus);
  g_free (conf);
  g_free (conf_text);
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
  GstHarness *sink = sink_h (relay, "cut", TRUE, NULL);
  GstBus *sbus = bus_for (sink->element);
  GstStructure *st;
  guint next = 0, i;
  guint64 from, before, attempts;
  gint64 end;

  start_both (relay, "cut", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  expect_sink_path (sbus, "direct", 1, 2000);
  for (i = 0; i < 20; i++)
    step (sink, src, &next);

  before = relay_bytes_out (relay, "cut");
  g_object_set (sink->element, "direct", FALSE, NULL);
  /* the pump said so on its way out (posted from a pool thread) */
  expect_sink_path (sbus, "relay", 0, 2000);
  from = steps_until_path (sink, src, bus, &next, "relay", 10000);
  fail_unless (from >= 1 && from <= next);
  for (i = 0; i < 60; i++)
    step (sink, src, &next);
  fail_unless (relay_bytes_out (relay, "cut") - before >= 60 * SIZE);

  st = stats_of (sink);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  gst_structure_free (st);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "direct-fallbacks"), 1);
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  fail_unless_equals_uint64 (stat_u64 (st, "discont"), 0);
  gst_structure_free (st);

  /* The viewer asks again after its backoff (2 s); the sink answers CLOSE
   * "direct paths not offered", which the relay forwards with the
   * publisher as peer: final all the same (the publisher's own word), so
   * no third attempt follows (the next would come 4 s later). */
  end = deadline_in (20000);
  while ((attempts = src_attempts (src)) < 2) {
    step (sink, src, &next);
    fail_unless (g_get_monotonic_time () < end, "no second attempt");
  }
  fail_unless_equals_uint64 (attempts, 2);
  end = deadline_in (6500);
  while (g_get_monotonic_time () < end)
    step (sink, src, &next);
  fail_unless_equals_uint64 (src_attempts (src), 2);
  st = stats_of (src);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless_equals_uint64 (stat_u64 (st, "buffers-missed"), 0);
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
  gst_object_unref (sbus);
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
  sink = sink_h (relay, "hq", TRUE, "access", DIODE_ACCESS_PROTECTED,
      "fleet", "office", NULL);
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

/* One buffer in, the same out of each of two viewers. */
static void
step2 (GstHarness * sink, GstHarness * src1, GstHarness * src2, guint * next)
{
  GstHarness *srcs[2] = { src1, src2 };
  guint k;

  fail_unless_equals_int (gst_harness_push (sink,
          fixture_make_buffer (*next, SIZE, GOP)), GST_FLOW_OK);
  for (k = 0; k < 2; k++) {
    GstBuffer *b = gst_harness_pull (srcs[k]);

    fail_unless (b != NULL, "viewer %u: no buffer %u", k, *next);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), *next);
    fail_unless (fixture_payload_matches (b, *next, SIZE));
    gst_buffer_unref (b);
  }
  (*next)++;
  g_usleep (TICK_MS * 1000);
}

/* direct-max=1 and two viewers: one goes direct, the publisher refuses
 * the other, which watches through the relay; both get every buffer. */
GST_START_TEST (test_direct_max)
{
  DiodeRelay *relay = relay_with (NULL);
  GstBus *bus1, *bus2;
  GstHarness *src1 = src_h (relay, "max", "auto", &bus1);
  GstHarness *src2 = src_as (relay, "max", "auto", &bus2, &carol, "none");
  GstHarness *sink = sink_h (relay, "max", TRUE, "direct-max", 1, NULL);
  GstStructure *st;
  GstMessage *msg;
  const GstStructure *ps;
  guint next = 0, direct = 0, i, viewers = 0;
  gint64 end;

  gst_harness_play (src1);
  gst_harness_play (src2);
  fail_unless (fixture_wait_waiting (relay, "max", 2, 5000));
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, "max", TRUE, 5000));
  end = deadline_in (SWITCH_MS);
  while (!direct) {
    step2 (sink, src1, src2, &next);
    if ((ps = pop_path (bus1, &msg))) {
      direct = 1;
      gst_message_unref (msg);
    }
    if ((ps = pop_path (bus2, &msg))) {
      direct = direct ? 3 : 2;
      gst_message_unref (msg);
    }
    fail_unless (g_get_monotonic_time () < end, "nobody went direct");
  }
  fail_unless (direct != 3, "both viewers went direct with direct-max=1");
  /* the other's attempts are refused meanwhile (first retry after 2 s) */
  for (i = 0; i < 150; i++)
    step2 (sink, src1, src2, &next);
  fail_unless (pop_path (direct == 1 ? bus2 : bus1, &msg) == NULL,
      "the second viewer went direct");
  st = stats_of (sink);
  fail_unless (gst_structure_get_uint (st, "direct-viewers", &viewers));
  fail_unless_equals_int (viewers, 1);
  fail_unless (stat_u64 (st, "direct-refused") >= 1);
  gst_structure_free (st);
  st = stats_of (direct == 1 ? src2 : src1);
  fail_unless_equals_string (gst_structure_get_string (st, "path"), "relay");
  fail_unless (stat_u64 (st, "direct-attempts") >= 1);
  gst_structure_free (st);
  gst_harness_teardown (src2);
  gst_object_unref (bus2);
  teardown (src1, bus1, sink, relay);
}

GST_END_TEST;

/* The relay answers STUN (--stun) and says so in WELCOME: with no
 * stun-server set, both ends ask it (stun.answered counts them) and the
 * direct path comes up as before. */
GST_START_TEST (test_relay_stun_default)
{
  DiodeRelay *relay;
  GstBus *bus;
  GstHarness *src, *sink;
  JsonParser *p = json_parser_new ();
  gchar *json;
  guint next = 0;
  gint64 answered;

  /* The relay answers on 127.0.0.1: the ICE agents gather there too (the
   * direct layer's knob; libnice leaves loopback out otherwise). */
  g_setenv ("DIODE_ICE_LOCAL_ADDRESSES", "127.0.0.1", TRUE);
  relay = relay_with ("stun", "127.0.0.1:0", NULL);
  src = src_as (relay, "stun", "auto", &bus, &bob, NULL);
  sink = sink_h (relay, "stun", TRUE, "stun-server", NULL, NULL);

  start_both (relay, "stun", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  g_usleep (450 * 1000);
  json = diode_relay_get_stats_json (relay);
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  answered = json_object_get_int_member (json_object_get_object_member
      (json_node_get_object (json_parser_get_root (p)), "stun"), "answered");
  /* one Binding request per end at least */
  fail_unless (answered >= 2, "the relay answered %" G_GINT64_FORMAT
      " STUN requests", answered);
  g_object_unref (p);
  g_free (json);
  teardown (src, bus, sink, relay);
  g_unsetenv ("DIODE_ICE_LOCAL_ADDRESSES");
}

GST_END_TEST;

/* The relay restarts while the viewer is on the direct path: both ends
 * reconnect (the viewer's direct session belonged to the old
 * subscription: diode-path relay), the stream goes on, and a new direct
 * path comes up through the new relay. The new relay holds none of the
 * old seqs, so a gap is allowed here; a repeat never is. */
GST_START_TEST (test_relay_restart_while_direct)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  guint16 port = diode_relay_get_port (relay);
  GstBus *bus;
  GstHarness *src = src_h (relay, "again", "auto", &bus);
  GstHarness *sink = sink_h (relay, "again", TRUE, NULL);
  GstStructure *st;
  GstMessage *msg;
  const GstStructure *ps;
  guint next = 0, got = 0, after = 0;
  guint64 last = 0;
  gboolean back_on_relay = FALSE, direct_again = FALSE;
  gint64 end;

  start_both (relay, "again", src, sink);
  steps_until_path (sink, src, bus, &next, "direct", SWITCH_MS);
  last = next - 1;

  relay_free (relay);
  relay = fixture_relay_start (port, NULL);
  end = deadline_in (SWITCH_MS);
  while (!direct_again || after < 30) {
    GstBuffer *b;

    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (next, SIZE, GOP)), GST_FLOW_OK);
    next++;
    g_usleep (TICK_MS * 1000);
    while ((b = gst_harness_try_pull (src))) {
      guint64 off = GST_BUFFER_OFFSET (b);

      fail_unless (off > last, "buffer %" G_GUINT64_FORMAT " after %"
          G_GUINT64_FORMAT, off, last);
      fail_unless (fixture_payload_matches (b, (guint) off, SIZE));
      last = off;
      got++;
      if (direct_again)
        after++;
      gst_buffer_unref (b);
    }
    while ((ps = pop_path (bus, &msg))) {
      const gchar *path = gst_structure_get_string (ps, "path");

      if (!strcmp (path, "relay"))
        back_on_relay = TRUE;
      else if (back_on_relay)
        direct_again = TRUE;
      gst_message_unref (msg);
    }
    fail_unless (g_get_monotonic_time () < end, "after the restart: %u "
        "buffers, back on the relay %d, direct again %d", got,
        back_on_relay, direct_again);
  }
  st = stats_of (src);
  fail_unless (stat_u64 (st, "reconnects") >= 1);
  fail_unless_equals_uint64 (stat_u64 (st, "direct-switches"), 2);
  fail_unless_equals_string (gst_structure_get_string (st, "path"),
      "direct");
  gst_structure_free (st);
  teardown (src, bus, sink, relay);
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
  tcase_add_test (tc, test_revoked_viewer_leaves_direct);
  tcase_add_test (tc, test_direct_max);
  tcase_add_test (tc, test_relay_stun_default);
  tcase_add_test (tc, test_relay_restart_while_direct);
  return s;
}

GST_CHECK_MAIN (direct_elements);
