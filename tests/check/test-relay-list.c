/* gst-diode — the camera's own relay list: diodesink and diodesrc with
 * relay=A,B fail over between in-process relays (real TLS on 127.0.0.1)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 9, item 3: a publisher and a viewer both given relay=A,B move to B
 * when A stops, the viewer's buffers keep strictly increasing (no
 * duplicate, no pipeline error); a first entry that refuses (wrong pin)
 * makes them use the second, at start and while reconnecting; the whole
 * list refusing is one clear error; a viewer left on A when the camera
 * moved to B follows it after A's grace; a bad list is a clear error at
 * start; the URI carries the list and reads back the same. The same with
 * diode-relay processes and kill -9 / SIGSTOP: tests/faults,
 * relay-failover.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "fixture.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"

#define GOP 10
#define BUF_SIZE 700

/* "hostA:portA,hostB:portB" */
static gchar *
list_of (DiodeRelay * a, DiodeRelay * b)
{
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  gchar *l = g_strdup_printf ("%s,%s", ha, hb);

  g_free (ha);
  g_free (hb);
  return l;
}

/* The element posts to a bus of its own, so the test sees its errors and
 * diode-connection messages. */
static GstBus *
own_bus (GstElement * e)
{
  GstBus *bus = gst_bus_new ();

  gst_element_set_bus (e, bus);
  return bus;
}

static GstHarness *
harness_for (const gchar * factory, const gchar * relay, const gchar * stream,
    GstBus ** bus)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  gboolean is_src = g_str_equal (factory, "diodesrc");
  GstHarness *h;

  /* reconnect-delay small: the backoff of a relay that failed; moving to
   * the next relay of the list never waits for it. */
  g_object_set (e, "relay", relay, "stream", stream, "reconnect-delay", 50,
      NULL);
  if (is_src)
    g_object_set (e, "timeout", 10000, NULL);
  *bus = own_bus (e);
  h = gst_harness_new_with_element (e, is_src ? NULL : "sink",
      is_src ? "src" : NULL);
  gst_object_unref (e);
  return h;
}

static gchar *
stat_string (GstElement * e, const gchar * field)
{
  GstStructure *st = NULL;
  gchar *v;

  g_object_get (e, "stats", &st, NULL);
  v = g_strdup (gst_structure_get_string (st, field));
  gst_structure_free (st);
  return v;
}

static guint64
stat_uint64 (GstElement * e, const gchar * field)
{
  GstStructure *st = NULL;
  guint64 v = G_MAXUINT64;

  g_object_get (e, "stats", &st, NULL);
  gst_structure_get_uint64 (st, field, &v);
  gst_structure_free (st);
  return v;
}

/* No ERROR on @bus; returns the last "diode-connection" message with
 * state "resumed" (or NULL). */
static GstStructure *
check_bus (GstBus * bus, const gchar * who)
{
  GstStructure *resumed = NULL;
  GstMessage *m;

  while ((m = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *err = NULL;

      gst_message_parse_error (m, &err, NULL);
      fail ("%s posted an error: %s", who, err->message);
    }
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (m),
            "diode-connection")
        && !g_strcmp0 (gst_structure_get_string (gst_message_get_structure
                (m), "state"), "resumed")) {
      if (resumed)
        gst_structure_free (resumed);
      resumed = gst_structure_copy (gst_message_get_structure (m));
    }
    gst_message_unref (m);
  }
  return resumed;
}

/* Pull what the viewer has now (not blocking); offsets must strictly
 * increase. Returns how many it pulled. */
static guint
drain_viewer (GstHarness * src, gint64 * last_offset)
{
  GstBuffer *b;
  guint n = 0;

  while ((b = gst_harness_try_pull (src))) {
    gint64 off = (gint64) GST_BUFFER_OFFSET (b);

    fail_unless (fixture_payload_matches (b, (guint) off, BUF_SIZE),
        "buffer %" G_GINT64_FORMAT " corrupted", off);
    fail_unless (off > *last_offset, "buffer %" G_GINT64_FORMAT " after %"
        G_GINT64_FORMAT ": a duplicate or a step back", off, *last_offset);
    *last_offset = off;
    gst_buffer_unref (b);
    n++;
  }
  return n;
}

/* Publisher and viewer on relay=A,B; A stops mid-stream: both move to B
 * and the stream goes on, with strictly increasing buffers and no error. */
GST_START_TEST (test_list_fails_over_to_second_relay)
{
  DiodeRelay *a = fixture_relay_start (0, "fo-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "fo-b.pem");
  gchar *list = list_of (a, b), *hb = diode_relay_get_hostport (b);
  gchar *ha = diode_relay_get_hostport (a), *r;
  GstBus *sbus, *vbus;
  GstHarness *sink = harness_for ("diodesink", list, "fo", &sbus);
  GstHarness *src = harness_for ("diodesrc", list, "fo", &vbus);
  GstStructure *resumed;
  gint64 last = -1, end;
  guint i = 0, got = 0, after_stop = 0;

  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  gst_harness_play (src);
  fail_unless (fixture_wait_publisher (a, "fo", TRUE, 5000));
  fail_unless (fixture_wait_viewers (a, "fo", 1, 5000));
  r = stat_string (sink->element, "relay");
  fail_unless_equals_string (r, ha);
  g_free (r);

  /* two GOPs through A */
  end = deadline_in (10000);
  while (got < 2 * GOP) {
    if (i < 4 * GOP)
      fail_unless_equals_int (gst_harness_push (sink,
              fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    got += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers via A", got);
  }

  /* A goes away (it says SHUTDOWN and closes): both move to B */
  diode_relay_stop (a);
  end = deadline_in (20000);
  while (after_stop < 3 * GOP) {
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    after_stop += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers after A "
        "stopped (last %" G_GINT64_FORMAT ", pushed %u)", after_stop, last, i);
  }
  fail_unless (diode_relay_has_publisher (b, "fo"));

  /* both say where they are now, and that they moved once */
  r = stat_string (sink->element, "relay");
  fail_unless_equals_string (r, hb);
  g_free (r);
  r = stat_string (src->element, "relay");
  fail_unless_equals_string (r, hb);
  g_free (r);
  fail_unless_equals_uint64 (stat_uint64 (sink->element, "failovers"), 1);
  fail_unless_equals_uint64 (stat_uint64 (src->element, "failovers"), 1);
  fail_unless_equals_uint64 (stat_uint64 (src->element, "reconnects"), 1);

  resumed = check_bus (sbus, "diodesink");
  fail_unless (resumed != NULL, "diodesink posted no 'resumed'");
  fail_unless_equals_string (gst_structure_get_string (resumed, "relay"), hb);
  gst_structure_free (resumed);
  resumed = check_bus (vbus, "diodesrc");
  fail_unless (resumed != NULL, "diodesrc posted no 'resumed'");
  fail_unless_equals_string (gst_structure_get_string (resumed, "relay"), hb);
  gst_structure_free (resumed);

  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_object_unref (sbus);
  gst_object_unref (vbus);
  g_object_unref (a);
  g_object_unref (b);
  g_free (list);
  g_free (ha);
  g_free (hb);
}

GST_END_TEST;

/* A relay list whose first entry refuses (its pin does not match): the
 * elements use the second, at start. Both ways of pinning: the entry's own
 * 0xADDRESS@, and relay-id for entries without one. */
GST_START_TEST (test_first_entry_refused_uses_second)
{
  DiodeRelay *a = fixture_relay_start (0, "pin-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "pin-b.pem");
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  const gchar *addr_b = diode_relay_get_address (b);
  gchar *own = g_strdup_printf ("%s@%s,%s", addr_b, ha, hb);
  gchar *plain = list_of (a, b), *r;
  GstBus *sbus, *vbus;
  GstHarness *sink, *src;
  GstBuffer *buf;
  GstStructure *s;

  /* the publisher pins B's address on entry A: A refuses, B is used */
  sink = harness_for ("diodesink", own, "pin", &sbus);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  fail_unless (fixture_wait_publisher (b, "pin", TRUE, 5000));
  fail_if (diode_relay_has_publisher (a, "pin"));
  r = stat_string (sink->element, "relay");
  fail_unless_equals_string (r, hb);
  g_free (r);
  s = check_bus (sbus, "diodesink");
  fail_unless (s == NULL);

  /* the viewer: relay-id = B's address pins every entry without its own */
  src = harness_for ("diodesrc", plain, "pin", &vbus);
  g_object_set (src->element, "relay-id", addr_b, NULL);
  gst_harness_play (src);
  gst_harness_push (sink, fixture_make_buffer (0, BUF_SIZE, GOP));
  buf = gst_harness_pull (src);
  fail_unless (buf != NULL);
  fail_unless (fixture_payload_matches (buf, 0, BUF_SIZE));
  gst_buffer_unref (buf);
  r = stat_string (src->element, "relay");
  fail_unless_equals_string (r, hb);
  g_free (r);
  fail_unless_equals_int (diode_relay_count_viewers (a, "pin"), 0);
  s = check_bus (vbus, "diodesrc");
  fail_unless (s == NULL);
  /* not a fail-over: the first connection went to B */
  fail_unless_equals_uint64 (stat_uint64 (src->element, "failovers"), 0);

  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_object_unref (sbus);
  gst_object_unref (vbus);
  g_object_unref (a);
  g_object_unref (b);
  g_free (ha);
  g_free (hb);
  g_free (own);
  g_free (plain);
}

GST_END_TEST;

/* Wait until @e's stats name @relay (bounded). */
static gboolean
wait_stat_relay (GstElement * e, const gchar * relay, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  for (;;) {
    gchar *r = stat_string (e, "relay");
    gboolean same = !g_strcmp0 (r, relay);

    g_free (r);
    if (same)
      return TRUE;
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
}

/* While reconnecting, a relay of the list that refuses (its pin does not
 * match) is skipped, not fatal: the viewer waits for the first relay to
 * come back (restarted on the same port, same key) and resumes there. */
GST_START_TEST (test_reconnect_skips_refusing_relay)
{
  DiodeRelay *a = fixture_relay_start (0, "back-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "back-b.pem");
  guint16 port_a = diode_relay_get_port (a);
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  /* B pinned to A's address: B refuses to be used */
  gchar *list = g_strdup_printf ("%s,%s@%s", ha, diode_relay_get_address (a),
      hb);
  GstBus *sbus, *vbus;
  GstHarness *sink = harness_for ("diodesink", ha, "back", &sbus);
  GstHarness *src = harness_for ("diodesrc", list, "back", &vbus);
  GstStructure *resumed;
  gint64 last = -1, end;
  guint i = 0, got = 0;

  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  gst_harness_play (src);
  fail_unless (fixture_wait_viewers (a, "back", 1, 5000));
  end = deadline_in (10000);
  while (got < GOP) {
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    got += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers via A", got);
  }

  /* A goes; B refuses every attempt; A comes back on its port */
  diode_relay_stop (a);
  g_object_unref (a);
  g_usleep (300 * 1000);
  a = fixture_relay_start (port_a, "back-a.pem");
  fail_unless (wait_stat_relay (src->element, ha, 10000),
      "the viewer did not come back to relay A");
  got = 0;
  end = deadline_in (10000);
  while (got < GOP) {
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    got += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers via the "
        "restarted A", got);
  }
  /* back on the same relay: a reconnect, not a fail-over */
  fail_unless_equals_uint64 (stat_uint64 (src->element, "failovers"), 0);
  fail_unless_equals_uint64 (stat_uint64 (src->element, "reconnects"), 1);
  resumed = check_bus (vbus, "diodesrc");
  fail_unless (resumed != NULL);
  fail_unless_equals_string (gst_structure_get_string (resumed, "relay"), ha);
  gst_structure_free (resumed);
  resumed = check_bus (sbus, "diodesink");
  if (resumed)
    gst_structure_free (resumed);

  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_object_unref (sbus);
  gst_object_unref (vbus);
  g_object_unref (a);
  g_object_unref (b);
  g_free (ha);
  g_free (hb);
  g_free (list);
}

GST_END_TEST;

/* While reconnecting, every relay of the list refusing ends the element
 * with NOT_AUTHORIZED naming each (a single refusal used to end it; now it
 * takes the whole list). */
GST_START_TEST (test_reconnect_all_refuse_is_error)
{
  DiodeRelay *a = fixture_relay_start (0, "ref-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "ref-b.pem");
  guint16 port_a = diode_relay_get_port (a);
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  gchar *list = g_strdup_printf ("%s,%s@%s", ha, diode_relay_get_address (a),
      hb);
  GstBus *vbus;
  GstHarness *src = harness_for ("diodesrc", list, "ref", &vbus);
  GstMessage *msg;
  GError *err = NULL;

  gst_harness_play (src);
  fail_unless (fixture_wait_waiting (a, "ref", 1, 5000));
  /* A comes back with another key: known-relays refuses it; B refuses
   * too (its pin) */
  diode_relay_stop (a);
  g_object_unref (a);
  a = fixture_relay_start (port_a, "ref-a2.pem");
  msg = gst_bus_timed_pop_filtered (vbus, 10 * GST_SECOND,
      GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error when every relay refused");
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED), "%s", err->message);
  fail_unless (strstr (err->message, ha) && strstr (err->message, hb),
      "'%s' does not name both relays", err->message);
  g_error_free (err);
  gst_message_unref (msg);

  gst_harness_teardown (src);
  gst_object_unref (vbus);
  g_object_unref (a);
  g_object_unref (b);
  g_free (ha);
  g_free (hb);
  g_free (list);
}

GST_END_TEST;

/* The publisher moved to B while the viewer's relay A stayed up: A keeps
 * the viewer for its grace, then says the stream is gone (NOT_FOUND); the
 * viewer counts A as failed and finds the stream on B. */
GST_START_TEST (test_viewer_follows_publisher_after_grace)
{
  DiodeRelay *a = fixture_relay_start (0, "gr-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "gr-b.pem");
  gchar *list = list_of (a, b), *ha = diode_relay_get_hostport (a);
  gchar *hb = diode_relay_get_hostport (b);
  GstBus *sbus, *s2bus, *vbus;
  GstHarness *sink = harness_for ("diodesink", ha, "gr", &sbus);
  GstHarness *src = harness_for ("diodesrc", list, "gr", &vbus);
  GstHarness *sink2;
  GstStructure *resumed;
  gint64 last = -1, end;
  guint i = 0, got = 0;

  g_object_set (a, "grace-ms", 300, NULL);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  gst_harness_play (src);
  fail_unless (fixture_wait_viewers (a, "gr", 1, 5000));
  end = deadline_in (10000);
  while (got < GOP) {
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    got += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers via A", got);
  }

  /* the camera goes (no EOS) and comes back on B only */
  gst_harness_teardown (sink);
  resumed = check_bus (sbus, "diodesink");
  if (resumed)
    gst_structure_free (resumed);
  sink2 = harness_for ("diodesink", hb, "gr", &s2bus);
  gst_harness_set_src_caps_str (sink2, CAPS_STR);
  gst_harness_play (sink2);
  fail_unless (fixture_wait_publisher (b, "gr", TRUE, 5000));
  i += GOP - i % GOP;           /* the new run starts at a keyframe */
  got = 0;
  end = deadline_in (15000);
  while (got < GOP) {
    fail_unless_equals_int (gst_harness_push (sink2,
            fixture_make_buffer (i++, BUF_SIZE, GOP)), GST_FLOW_OK);
    g_usleep (10 * 1000);
    got += drain_viewer (src, &last);
    fail_unless (g_get_monotonic_time () < end, "only %u buffers via B after "
        "A's grace", got);
  }
  fail_unless (wait_stat_relay (src->element, hb, 1000));
  fail_unless_equals_uint64 (stat_uint64 (src->element, "failovers"), 1);
  resumed = check_bus (vbus, "diodesrc");
  fail_unless (resumed != NULL);
  fail_unless_equals_string (gst_structure_get_string (resumed, "relay"), hb);
  gst_structure_free (resumed);

  gst_harness_teardown (sink2);
  gst_harness_teardown (src);
  gst_object_unref (sbus);
  gst_object_unref (s2bus);
  gst_object_unref (vbus);
  g_object_unref (a);
  g_object_unref (b);
  g_free (list);
  g_free (ha);
  g_free (hb);
}

GST_END_TEST;

/* Every relay of the list refuses: the error names each one. */
GST_START_TEST (test_all_entries_refused)
{
  DiodeRelay *a = fixture_relay_start (0, "all-a.pem");
  DiodeRelay *b = fixture_relay_start (0, "all-b.pem");
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  gchar *list = list_of (a, b);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (e, "relay", list, "stream", "x", "timeout", 3000,
      "relay-id", "0x00112233445566778899aabbccddeeff00112233", NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, 10000);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED), "%s", err->message);
  fail_unless (strstr (err->message, ha) && strstr (err->message, hb),
      "'%s' does not name both relays", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  g_object_unref (a);
  g_object_unref (b);
  g_free (ha);
  g_free (hb);
  g_free (list);
}

GST_END_TEST;

/* A bad list fails at start with a SETTINGS error that quotes the entry. */
GST_START_TEST (test_bad_list_is_clear_error)
{
  static const struct {
    const gchar *relay;
    const gchar *needle;
  } cases[] = {
    {"127.0.0.1:7878,,127.0.0.1:7879", "empty"},
    {"127.0.0.1:7878,relay.example.org:99999", "relay.example.org:99999"},
    {"127.0.0.1:7878, 127.0.0.1:7878", "127.0.0.1:7878"},
    {"0x12@127.0.0.1:7878", "0x12"},
  };
  const gchar *factories[] = { "diodesink", "diodesrc" };
  guint i, k;

  for (k = 0; k < G_N_ELEMENTS (factories); k++) {
    for (i = 0; i < G_N_ELEMENTS (cases); i++) {
      GstElement *e = gst_element_factory_make (factories[k], NULL);
      GstMessage *msg;
      GError *err = NULL;

      g_object_set (e, "relay", cases[i].relay, "stream", "x", NULL);
      msg = fixture_expect_error (e, GST_STATE_PAUSED, 5000);
      fail_unless (msg != NULL, "%s relay=%s: no error", factories[k],
          cases[i].relay);
      gst_message_parse_error (msg, &err, NULL);
      GST_INFO ("%s relay=%s: %s", factories[k], cases[i].relay,
          err->message);
      fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
              GST_RESOURCE_ERROR_SETTINGS), "%s relay=%s: %s %d: %s",
          factories[k], cases[i].relay, g_quark_to_string (err->domain),
          err->code, err->message);
      fail_unless (strstr (err->message, cases[i].needle) != NULL,
          "%s relay=%s: '%s' lacks '%s'", factories[k], cases[i].relay,
          err->message, cases[i].needle);
      g_error_free (err);
      gst_message_unref (msg);
      gst_element_set_state (e, GST_STATE_NULL);
      gst_object_unref (e);
    }
  }
}

GST_END_TEST;

#define PIN "0x00112233445566778899aabbccddeeff00112233"

/* The URI carries the list (pins too) and reads back the same. */
GST_START_TEST (test_uri_list_round_trip)
{
  const gchar *uri = "diode://127.0.0.1:9000," PIN "@relay.example.org,"
      "[::1]:7000/cam?relay-id=" PIN;
  GstElement *src = gst_element_make_from_uri (GST_URI_SRC, uri, NULL, NULL);
  GstElement *sink;
  gchar *relay, *stream, *rid, *back;
  GError *err = NULL;

  fail_unless (src != NULL);
  g_object_get (src, "relay", &relay, "stream", &stream, "relay-id", &rid,
      NULL);
  fail_unless_equals_string (relay, "127.0.0.1:9000," PIN
      "@relay.example.org:7878,[::1]:7000");
  fail_unless_equals_string (stream, "cam");
  fail_unless_equals_string (rid, PIN);
  back = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (back, "diode://127.0.0.1:9000," PIN
      "@relay.example.org:7878,[::1]:7000/cam?relay-id=" PIN);
  /* what get_uri gives is a URI set_uri takes, to the same settings */
  sink = gst_element_make_from_uri (GST_URI_SINK, back, NULL, NULL);
  fail_unless (sink != NULL);
  g_free (relay);
  g_object_get (sink, "relay", &relay, NULL);
  fail_unless_equals_string (relay, "127.0.0.1:9000," PIN
      "@relay.example.org:7878,[::1]:7000");
  g_free (relay);
  g_free (stream);
  g_free (rid);
  g_free (back);

  /* a list set as a property reads back canonical in the URI */
  g_object_set (sink, "relay", " a.example , b.example:9 ", "stream", "s",
      "relay-id", NULL, NULL);
  back = gst_uri_handler_get_uri (GST_URI_HANDLER (sink));
  fail_unless_equals_string (back, "diode://a.example:7878,b.example:9/s");
  g_free (back);

  /* a bad list in a URI is refused, quoting the entry */
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "diode://a.example,b.example:0/cam", &err));
  fail_unless (err != NULL);
  fail_unless (strstr (err->message, "b.example:0") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "diode://a.example,/cam", &err));
  g_clear_error (&err);
  fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "diode://a.example,b.example/", &err));
  g_clear_error (&err);
  /* the refused URIs changed nothing */
  g_object_get (src, "relay", &relay, NULL);
  fail_unless_equals_string (relay, "127.0.0.1:9000," PIN
      "@relay.example.org:7878,[::1]:7000");
  g_free (relay);

  gst_object_unref (src);
  gst_object_unref (sink);
}

GST_END_TEST;

static Suite *
relay_list_suite (void)
{
  Suite *s = suite_create ("relay-list");
  TCase *tc = tcase_create ("relay-list");

  fixture_config_dir ();
  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_list_fails_over_to_second_relay);
  tcase_add_test (tc, test_first_entry_refused_uses_second);
  tcase_add_test (tc, test_all_entries_refused);
  tcase_add_test (tc, test_reconnect_skips_refusing_relay);
  tcase_add_test (tc, test_reconnect_all_refuse_is_error);
  tcase_add_test (tc, test_viewer_follows_publisher_after_grace);
  tcase_add_test (tc, test_bad_list_is_clear_error);
  tcase_add_test (tc, test_uri_list_round_trip);
  return s;
}

GST_CHECK_MAIN (relay_list);
