/* gst-diode — GstHarness tests of diodesink and diodesrc against an
 * in-process relay (real TLS on 127.0.0.1)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "fixture.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1, codec_data=(buffer)0142c01effe1"

static GstHarness *
src_harness (DiodeRelay * relay, const gchar * stream, guint timeout)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "timeout", timeout, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  g_free (hp);
  return h;
}

static GstHarness *
sink_harness (DiodeRelay * relay, const gchar * stream)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  g_free (hp);
  return h;
}

/* Buffer @i: keyframe every @gop, 33 ms apart, payload derived from @i. */
static GstBuffer *
make_buffer (guint i, guint gop)
{
  gsize size = 100 + i * 37 % 5000;
  guint8 *data = g_malloc (size);
  GstBuffer *buf;
  gsize k;

  for (k = 0; k < size; k++)
    data[k] = (guint8) (i * 7 + k);
  buf = gst_buffer_new_wrapped (data, size);
  GST_BUFFER_PTS (buf) = 1000 * GST_SECOND + i * 33 * GST_MSECOND;
  GST_BUFFER_DTS (buf) = GST_BUFFER_PTS (buf);
  GST_BUFFER_DURATION (buf) = 33 * GST_MSECOND;
  GST_BUFFER_OFFSET (buf) = i;
  if (i % gop != 0)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return buf;
}

/* diodesink queues and sends from a thread: wait until the relay has it all. */
static void
wait_sink_drained (GstHarness * sink)
{
  gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

  for (;;) {
    GstStructure *st = NULL;
    guint64 backlog = 1;

    g_object_get (sink->element, "stats", &st, NULL);
    gst_structure_get_uint64 (st, "backlog-bytes", &backlog);
    gst_structure_free (st);
    if (backlog == 0)
      break;
    fail_unless (g_get_monotonic_time () < end, "diodesink did not drain");
    g_usleep (5 * 1000);
  }
}

static void
check_same_payload (GstBuffer * got, guint i)
{
  GstBuffer *want = make_buffer (i, 1);
  GstMapInfo a, b;

  gst_buffer_map (got, &a, GST_MAP_READ);
  gst_buffer_map (want, &b, GST_MAP_READ);
  fail_unless_equals_uint64 (a.size, b.size);
  fail_unless (memcmp (a.data, b.data, a.size) == 0, "payload %u differs", i);
  gst_buffer_unmap (got, &a);
  gst_buffer_unmap (want, &b);
  gst_buffer_unref (want);
}

GST_START_TEST (test_roundtrip)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *src = src_harness (relay, "rt", 5000);
  GstHarness *sink;
  GstCaps *caps, *expect;
  GstEvent *ev;
  GstClockTime first_pts = 0;
  guint i;

  /* the viewer subscribes first and waits for the stream */
  gst_harness_play (src);
  fail_unless (fixture_wait_waiting (relay, "rt", 1, 5000));
  fail_if (diode_relay_has_publisher (relay, "rt"));
  sink = sink_harness (relay, "rt");
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, "rt", TRUE, 5000));

  for (i = 0; i < 20; i++)
    fail_unless_equals_int (gst_harness_push (sink, make_buffer (i, 10)),
        GST_FLOW_OK);
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));

  for (i = 0; i < 20; i++) {
    GstBuffer *b = gst_harness_pull (src);

    fail_unless (b != NULL, "no buffer %u", i);
    check_same_payload (b, i);
    if (i == 0) {
      first_pts = GST_BUFFER_PTS (b);
      fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    } else {
      fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
    }
    /* spacing, duration, offset and flags cross unchanged */
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b) - first_pts,
        i * 33 * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DTS (b), GST_BUFFER_PTS (b));
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (b), 33 * GST_MSECOND);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (b,
            GST_BUFFER_FLAG_DELTA_UNIT), i % 10 != 0);
    gst_buffer_unref (b);
  }

  /* exactly the publisher's caps */
  caps = gst_pad_get_current_caps (src->sinkpad);
  expect = gst_caps_from_string (CAPS_STR);
  fail_unless (gst_caps_is_equal (caps, expect));
  gst_caps_unref (caps);
  gst_caps_unref (expect);

  /* the publisher's EOS becomes EOS */
  while ((ev = gst_harness_pull_event (src))) {
    gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
    if (eos)
      break;
  }
  fail_unless (ev != NULL, "no EOS");

  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_late_joiner_starts_at_latest_keyframe)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *sink = sink_harness (relay, "late");
  GstHarness *src;
  GstBuffer *b;
  guint i;

  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  /* two GOPs and a half: keyframes at 0, 10, 20 */
  for (i = 0; i < 25; i++)
    fail_unless_equals_int (gst_harness_push (sink, make_buffer (i, 10)),
        GST_FLOW_OK);
  wait_sink_drained (sink);
  fail_unless (fixture_wait_last_seq (relay, "late", 25, 5000));

  src = src_harness (relay, "late", 5000);
  gst_harness_play (src);
  b = gst_harness_pull (src);
  /* caps arrived first, then buffer 20: the latest keyframe */
  fail_unless (gst_pad_has_current_caps (src->sinkpad));
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 20);
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DELTA_UNIT));
  check_same_payload (b, 20);
  gst_buffer_unref (b);
  for (i = 21; i < 25; i++) {
    b = gst_harness_pull (src);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    gst_buffer_unref (b);
  }
  /* and it stays live */
  gst_harness_push (sink, make_buffer (25, 10));
  b = gst_harness_pull (src);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 25);
  gst_buffer_unref (b);

  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_latency_query)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *src = src_harness (relay, "lat", 5000);
  GstQuery *q = gst_query_new_latency ();
  gboolean live;
  GstClockTime min, max;

  g_object_set (src->element, "latency", 150, NULL);
  gst_harness_play (src);
  fail_unless (gst_element_query (src->element, q));
  gst_query_parse_latency (q, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 150 * GST_MSECOND);
  gst_query_unref (q);
  gst_harness_teardown (src);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_second_publisher_refused)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *owner = sink_harness (relay, "taken");
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *intruder = gst_element_factory_make ("diodesink", NULL);
  gchar *key = g_build_filename (fixture_config_dir (), "intruder.pem", NULL);
  GstMessage *msg;
  GError *err = NULL;

  gst_harness_set_src_caps_str (owner, CAPS_STR);
  gst_harness_play (owner);
  fail_unless (fixture_wait_publisher (relay, "taken", TRUE, 5000));

  /* another identity asking for a name that is being published */
  g_object_set (intruder, "relay", hp, "stream", "taken", "identity",
      key, NULL);
  msg = fixture_expect_error (intruder, GST_STATE_PAUSED, 5000);
  fail_unless (msg != NULL, "second publisher got no error");
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("second publisher: %s", err->message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED));
  fail_unless (strstr (err->message, "name 'taken' is owned by 0x"));
  /* the first publisher is untouched */
  fail_unless (diode_relay_has_publisher (relay, "taken"));
  fail_unless_equals_int (gst_harness_push (owner, make_buffer (0, 10)),
      GST_FLOW_OK);

  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (intruder, GST_STATE_NULL);
  gst_object_unref (intruder);
  gst_harness_teardown (owner);
  g_free (hp);
  g_free (key);
  g_object_unref (relay);
}

GST_END_TEST;

/* The same identity publishing the name again (a restarted camera whose old
 * connection still looks alive) takes over; the old connection is closed. */
GST_START_TEST (test_same_identity_takes_over)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *view = src_harness (relay, "cam", 5000);
  GstHarness *old = sink_harness (relay, "cam"), *fresh;
  GstBuffer *b;
  GstFlowReturn ret = GST_FLOW_OK;
  guint i;

  gst_harness_play (view);
  gst_harness_set_src_caps_str (old, CAPS_STR);
  gst_harness_play (old);
  fail_unless_equals_int (gst_harness_push (old, make_buffer (0, 10)),
      GST_FLOW_OK);
  b = gst_harness_pull (view);
  gst_buffer_unref (b);

  fresh = sink_harness (relay, "cam");
  gst_harness_set_src_caps_str (fresh, CAPS_STR);
  gst_harness_play (fresh);
  fail_unless_equals_int (gst_harness_push (fresh, make_buffer (10, 10)),
      GST_FLOW_OK);
  /* the viewer stayed and gets the new run, flagged DISCONT */
  b = gst_harness_pull (view);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 10);
  fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT));
  gst_buffer_unref (b);
  /* the old connection was closed: its next pushes fail */
  for (i = 0; i < 50 && ret == GST_FLOW_OK; i++) {
    ret = gst_harness_push (old, make_buffer (1, 10));
    g_usleep (20 * 1000);
  }
  fail_unless_equals_int (ret, GST_FLOW_ERROR);

  gst_harness_teardown (old);
  gst_harness_teardown (fresh);
  gst_harness_teardown (view);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_unknown_stream_times_out)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *pipe = gst_parse_launch_full ("diodesrc name=src timeout=600 "
      "! fakesink", NULL, GST_PARSE_FLAG_NONE, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  GstMessage *msg;
  GError *err = NULL;
  gint64 t0 = g_get_monotonic_time (), waited;

  g_object_set (src, "relay", hp, "stream", "nobody-here", NULL);
  msg = fixture_expect_error (pipe, GST_STATE_PLAYING, 10000);
  waited = (g_get_monotonic_time () - t0) / 1000;
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("after %" G_GINT64_FORMAT " ms: %s", waited, err->message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (err->message, "'nobody-here'"));
  fail_unless (waited >= 500, "gave up after %" G_GINT64_FORMAT " ms", waited);

  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (pipe);
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_stream_published_while_waiting)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *src = src_harness (relay, "soon", 10000);
  GstHarness *sink;
  GstBuffer *b;

  /* the viewer is held by the relay before the publisher exists (a sink
   * harness starts playing when it is made, so make it only now) */
  gst_harness_play (src);
  fail_unless (fixture_wait_waiting (relay, "soon", 1, 5000));
  fail_if (diode_relay_has_publisher (relay, "soon"));
  sink = sink_harness (relay, "soon");
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  gst_harness_push (sink, make_buffer (0, 10));
  b = gst_harness_pull (src);
  fail_unless (b != NULL);
  check_same_payload (b, 0);
  gst_buffer_unref (b);
  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  g_object_unref (relay);
}

GST_END_TEST;

static void
check_connect_error (const gchar * factory, const gchar * relay_hp,
    const gchar * relay_id, GQuark domain, gint code, const gchar * needle)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (e, "relay", relay_hp, "stream", "x", "timeout", 3000, NULL);
  if (relay_id)
    g_object_set (e, "relay-id", relay_id, NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, 10000);
  fail_unless (msg != NULL, "%s: no error", factory);
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("%s: %s", factory, err->message);
  fail_unless (g_error_matches (err, domain, code), "%s: got %s %d: %s",
      factory, g_quark_to_string (err->domain), err->code, err->message);
  fail_unless (strstr (err->message, needle), "%s: '%s' lacks '%s'",
      factory, err->message, needle);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

GST_START_TEST (test_relay_unreachable)
{
  /* a port nobody listens on: bind one, close it */
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  gchar *hp = diode_relay_get_hostport (relay);

  diode_relay_stop (relay);
  check_connect_error ("diodesink", hp, NULL, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_OPEN_WRITE, "Could not connect to relay");
  check_connect_error ("diodesrc", hp, NULL, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_OPEN_READ, "Could not connect to relay");
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_relay_key_changed)
{
  DiodeRelay *relay = fixture_relay_start (0, "relay-a.pem");
  guint16 port = diode_relay_get_port (relay);
  gchar *hp = diode_relay_get_hostport (relay);
  gchar *addr_a = g_strdup (diode_relay_get_address (relay));
  GstHarness *sink = sink_harness (relay, "tofu");

  /* first use records relay A's key */
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, "tofu", TRUE, 5000));
  gst_harness_teardown (sink);
  g_object_unref (relay);

  /* another key on the same address: both elements refuse it */
  relay = fixture_relay_start (port, "relay-b.pem");
  fail_if (g_str_equal (addr_a, diode_relay_get_address (relay)));
  check_connect_error ("diodesink", hp, NULL, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_AUTHORIZED, addr_a);
  check_connect_error ("diodesrc", hp, NULL, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_AUTHORIZED, diode_relay_get_address (relay));
  /* a pinned relay-id wins over the record, and must match */
  check_connect_error ("diodesrc", hp, addr_a, GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_AUTHORIZED, "relay-id requires");
  check_connect_error ("diodesrc", hp, "0x1234", GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_SETTINGS, "not an address");

  g_free (addr_a);
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_pinned_relay_id_accepted)
{
  DiodeRelay *relay = fixture_relay_start (0, "relay-pin.pem");
  GstHarness *sink = sink_harness (relay, "pinned");

  g_object_set (sink->element, "relay-id", diode_relay_get_address (relay),
      NULL);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, "pinned", TRUE, 5000));
  gst_harness_teardown (sink);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_uri_handler)
{
  GstElement *src = gst_element_make_from_uri (GST_URI_SRC,
      "diode://relay.example.org/pi-taipei", "s", NULL);
  GstElement *sink = gst_element_make_from_uri (GST_URI_SINK,
      "diode://127.0.0.1:9000/cam?relay-id=0x00112233445566778899aabbccddeeff00112233",
      "k", NULL);
  gchar *relay, *stream, *rid, *uri;
  GError *err = NULL;

  fail_unless (src && sink);
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (src), "GstDiodeSrc");
  g_object_get (src, "relay", &relay, "stream", &stream, NULL);
  fail_unless_equals_string (relay, "relay.example.org:7878");
  fail_unless_equals_string (stream, "pi-taipei");
  g_free (relay);
  g_free (stream);
  g_object_get (sink, "relay", &relay, "stream", &stream, "relay-id", &rid,
      NULL);
  fail_unless_equals_string (relay, "127.0.0.1:9000");
  fail_unless_equals_string (stream, "cam");
  fail_unless_equals_string (rid, "0x00112233445566778899aabbccddeeff00112233");
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (sink));
  fail_unless_equals_string (uri, "diode://127.0.0.1:9000/cam?relay-id="
      "0x00112233445566778899aabbccddeeff00112233");
  g_free (relay);
  g_free (stream);
  g_free (rid);
  g_free (uri);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), "diode://host/",
          &err));
  fail_unless (err != NULL);
  g_clear_error (&err);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), "http://x/y",
          &err));
  g_clear_error (&err);
  gst_object_unref (src);
  gst_object_unref (sink);
}

GST_END_TEST;

GST_START_TEST (test_stream_defaults_to_element_name)
{
  GstElement *sink = gst_element_factory_make ("diodesink", "pi-taipei");
  gchar *stream;

  g_object_get (sink, "stream", &stream, NULL);
  fail_unless_equals_string (stream, "pi-taipei");
  g_free (stream);
  gst_object_unref (sink);
}

GST_END_TEST;

/* Many streams at once, many viewers per stream: each viewer gets its own
 * stream's buffers, complete and in order. */
GST_START_TEST (test_many_streams_many_viewers)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  const gchar *names[] = { "cam-a", "cam-b", "cam-c" };
  GstHarness *sinks[3], *views[3][3];
  guint s, v, i;

  for (s = 0; s < 3; s++) {
    for (v = 0; v < 3; v++) {
      views[s][v] = src_harness (relay, names[s], 5000);
      gst_harness_play (views[s][v]);
    }
    fail_unless (fixture_wait_waiting (relay, names[s], 3, 5000));
  }
  for (s = 0; s < 3; s++) {
    sinks[s] = sink_harness (relay, names[s]);
    gst_harness_set_src_caps_str (sinks[s], CAPS_STR);
    gst_harness_play (sinks[s]);
  }
  for (i = 0; i < 30; i++)
    for (s = 0; s < 3; s++)
      fail_unless_equals_int (gst_harness_push (sinks[s],
              make_buffer (i + 100 * s, 10)), GST_FLOW_OK);
  for (s = 0; s < 3; s++) {
    /* attached at the first keyframe, which diodesink's writer thread
     * may not have delivered yet */
    {
      gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;

      while (diode_relay_count_viewers (relay, names[s]) != 3
          && g_get_monotonic_time () < end)
        g_usleep (5 * 1000);
    }
    fail_unless_equals_int (diode_relay_count_viewers (relay, names[s]), 3);
    for (v = 0; v < 3; v++) {
      for (i = 0; i < 30; i++) {
        GstBuffer *b = gst_harness_pull (views[s][v]);
        fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i + 100 * s);
        check_same_payload (b, i + 100 * s);
        gst_buffer_unref (b);
      }
    }
  }
  for (s = 0; s < 3; s++) {
    gst_harness_teardown (sinks[s]);
    for (v = 0; v < 3; v++)
      gst_harness_teardown (views[s][v]);
  }
  g_object_unref (relay);
}

GST_END_TEST;

/* The streaming thread of a viewer whose downstream syncs to the clock (the
 * README's `diodesrc ! h264parse ! avdec_h264 ! autovideosink`) is held
 * between reads, so its socket always has data waiting: the viewer must
 * PING the relay all the same, or the relay, hearing nothing from it for
 * 3·K, drops it with ERROR 203 and it reconnects every few seconds. A pad
 * probe that sleeps a little longer per buffer than the publisher's pace
 * stands for the syncing sink (the viewer stays behind, never finds its
 * socket empty); the relay's keepalive is short so that 3 s is 10 periods. */
static GstPadProbeReturn
hold_streaming_thread (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  g_usleep (GPOINTER_TO_UINT (data) * 1000);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_held_viewer_keeps_alive)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GstHarness *sink, *src;
  GstStructure *st = NULL;
  GstPad *pad;
  GError *err = NULL;
  guint64 reconnects = 1, received = 0;
  gint64 end;
  guint i;

  g_object_set (relay, "keepalive-ms", 300, NULL);
  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  sink = sink_harness (relay, "held");
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (relay, "held", TRUE, 5000));
  src = src_harness (relay, "held", 5000);
  pad = gst_element_get_static_pad (src->element, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, hold_streaming_thread,
      GUINT_TO_POINTER (12), NULL);
  gst_object_unref (pad);
  gst_harness_play (src);

  /* 3 s of a 10 ms pace (bounded in count too); the viewer takes 12 ms */
  end = g_get_monotonic_time () + 3 * G_TIME_SPAN_SECOND;
  for (i = 0; i < 400 && g_get_monotonic_time () < end; i++) {
    GstBuffer *b;

    fail_unless_equals_int (gst_harness_push (sink, make_buffer (i, 30)),
        GST_FLOW_OK);
    while ((b = gst_harness_try_pull (src))) {
      received++;
      gst_buffer_unref (b);
    }
    g_usleep (10 * 1000);
  }
  g_object_get (src->element, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "reconnects", &reconnects));
  gst_structure_free (st);
  fail_unless (received > 50, "the viewer got only %" G_GUINT64_FORMAT
      " buffers", received);
  fail_unless_equals_uint64 (reconnects, 0);

  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  g_object_unref (relay);
  g_free (key);
}

GST_END_TEST;

static Suite *
elements_suite (void)
{
  Suite *s = suite_create ("elements");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_roundtrip);
  tcase_add_test (tc, test_late_joiner_starts_at_latest_keyframe);
  tcase_add_test (tc, test_latency_query);
  tcase_add_test (tc, test_second_publisher_refused);
  tcase_add_test (tc, test_same_identity_takes_over);
  tcase_add_test (tc, test_unknown_stream_times_out);
  tcase_add_test (tc, test_stream_published_while_waiting);
  tcase_add_test (tc, test_many_streams_many_viewers);
  tcase_add_test (tc, test_relay_unreachable);
  tcase_add_test (tc, test_relay_key_changed);
  tcase_add_test (tc, test_pinned_relay_id_accepted);
  tcase_add_test (tc, test_uri_handler);
  tcase_add_test (tc, test_stream_defaults_to_element_name);
  tcase_add_test (tc, test_held_viewer_keeps_alive);
  return s;
}

GST_CHECK_MAIN (elements);
