/* gst-diode — GstHarness tests of what recordings add to the elements:
 * diodesink `record` (store state, STORED progress, warnings), diodesrc
 * `start` (forms, errors, ?start=), the non-live decision, queries and a
 * TIME seek, against in-process relays with a store in a temp directory
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/base/gstbasesrc.h>
#include <string.h>

#include "fixture.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define GOP 10
#define SIZE 500

static DiodeRelay *
relay_with_store (const gchar * dir)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;

  if (dir)
    g_object_set (relay, "store-dir", dir, NULL);
  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (key);
  return relay;
}

static GstHarness *
sink_harness (DiodeRelay * relay, const gchar * stream, gboolean record)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "record", record,
      "stats-interval", 0, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  g_free (hp);
  return h;
}

static GstHarness *
src_harness (DiodeRelay * relay, const gchar * stream, const gchar * start)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "timeout", 5000,
      "start", start, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  g_free (hp);
  return h;
}

static GstStructure *
stats_of (GstElement * e)
{
  GstStructure *s = NULL;

  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL);
  return s;
}

static gchar *
stat_string (GstElement * e, const gchar * field)
{
  GstStructure *s = stats_of (e);
  gchar *v = g_strdup (gst_structure_get_string (s, field));

  gst_structure_free (s);
  fail_unless (v != NULL, "no stats field %s", field);
  return v;
}

static guint64
stat_u64 (GstElement * e, const gchar * field)
{
  GstStructure *s = stats_of (e);
  guint64 v = 0;

  fail_unless (gst_structure_get_uint64 (s, field, &v), "no stats field %s",
      field);
  gst_structure_free (s);
  return v;
}

/* A warning on @e's bus within @timeout_ms whose text contains @needle. */
static gboolean
wait_warning (GstBus * bus, const gchar * needle, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  while (g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 50 * GST_MSECOND,
        GST_MESSAGE_WARNING);
    GError *err = NULL;
    gboolean hit;

    if (!m)
      continue;
    gst_message_parse_warning (m, &err, NULL);
    hit = strstr (err->message, needle) != NULL;
    g_error_free (err);
    gst_message_unref (m);
    if (hit)
      return TRUE;
  }
  return FALSE;
}

/* @b is buffer @i of fixture_make_buffer (i, SIZE, GOP). */
static void
expect_buffer (GstBuffer * b, guint i)
{
  GstMapInfo map;
  guint got;

  fail_unless (b != NULL, "no buffer (wanted %u)", i);
  fail_unless (gst_buffer_map (b, &map, GST_MAP_READ));
  got = map.size >= 4 ? GST_READ_UINT32_BE (map.data) : G_MAXUINT;
  gst_buffer_unmap (b, &map);
  fail_unless (fixture_payload_matches (b, i, SIZE), "wanted buffer %u, got "
      "%" G_GSIZE_FORMAT " bytes of buffer %u (pts %" GST_TIME_FORMAT ")", i,
      gst_buffer_get_size (b), got, GST_TIME_ARGS (GST_BUFFER_PTS (b)));
}

/* A harness upstream answers LATENCY live; this one says "not live", as
 * filesrc ! qtdemux would. */
static GstPadProbeReturn
answer_not_live (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstQuery *q = GST_PAD_PROBE_INFO_QUERY (info);

  if (GST_QUERY_TYPE (q) != GST_QUERY_LATENCY)
    return GST_PAD_PROBE_OK;
  gst_query_set_latency (q, FALSE, 0, GST_CLOCK_TIME_NONE);
  return GST_PAD_PROBE_HANDLED;
}

static void
make_upstream_not_live (GstHarness * h)
{
  gst_pad_add_probe (h->srcpad, GST_PAD_PROBE_TYPE_QUERY_UPSTREAM,
      answer_not_live, NULL, NULL);
}

/* The last "diode-upload" message on @bus, NULL if none. */
static GstStructure *
last_upload_message (GstBus * bus, guint * count)
{
  GstStructure *last = NULL;
  GstMessage *m;

  *count = 0;
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (m, "diode-upload")) {
      if (last)
        gst_structure_free (last);
      last = gst_structure_copy (gst_message_get_structure (m));
      (*count)++;
    }
    gst_message_unref (m);
  }
  return last;
}

/* Upload @n buffers (keyframe every GOP) with record=true from a non-live
 * upstream, then EOS: diodesink waits for the relay's STORED final, so the
 * relay has a finished recording, all of it stored, when this returns. */
static void
publish_recording (DiodeRelay * relay, const gchar * stream, guint n)
{
  GstHarness *sink = sink_harness (relay, stream, TRUE);
  GstBus *bus = gst_bus_new ();
  GstStructure *up;
  gboolean final = FALSE;
  guint i, count;

  gst_element_set_bus (sink->element, bus);
  make_upstream_not_live (sink);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  for (i = 0; i < n; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i, SIZE, GOP)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));
  up = last_upload_message (bus, &count);
  fail_unless (up != NULL, "no diode-upload message");
  fail_unless (gst_structure_get_boolean (up, "final", &final) && final,
      "the upload was not confirmed (STORED final)");
  gst_structure_free (up);
  gst_harness_teardown (sink);
  gst_object_unref (bus);
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_properties)
{
  GstElement *sink = gst_element_factory_make ("diodesink", NULL);
  GstElement *src = gst_element_factory_make ("diodesrc", NULL);
  GParamSpec *ps;
  gboolean record = TRUE;
  gchar *start = NULL, *stream = NULL, *uri;

  g_object_get (sink, "record", &record, NULL);
  fail_if (record, "record defaults to FALSE");
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "record");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_READY);
  g_object_set (sink, "record", TRUE, NULL);
  g_object_get (sink, "record", &record, NULL);
  fail_unless (record);

  g_object_get (src, "start", &start, NULL);
  fail_unless_equals_string (start, "live");
  g_free (start);
  ps = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "start");
  fail_unless (ps->flags & GST_PARAM_MUTABLE_READY);
  g_object_set (src, "start", "-30", NULL);
  g_object_get (src, "start", &start, NULL);
  fail_unless_equals_string (start, "-30");
  g_free (start);

  /* ?start= in the URI */
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src),
          "diode://127.0.0.1:7000/cam?start=earliest", NULL));
  g_object_get (src, "start", &start, "stream", &stream, NULL);
  fail_unless_equals_string (start, "earliest");
  fail_unless_equals_string (stream, "cam");
  g_free (start);
  g_free (stream);
  /* and reads back, also with a zone's '+' */
  g_object_set (src, "start", "2026-12-01T10:00:00+02:00", NULL);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (src), uri, NULL));
  g_object_get (src, "start", &start, NULL);
  fail_unless_equals_string (start, "2026-12-01T10:00:00+02:00");
  fail_unless (strstr (uri, "start=") != NULL, "%s", uri);
  g_free (start);
  g_free (uri);

  gst_object_unref (sink);
  gst_object_unref (src);
}

GST_END_TEST;

/* A bad `start` is a settings error naming the accepted forms, raised
 * before anything is connected. */
GST_START_TEST (test_start_bad_value)
{
  const gchar *bad[] = { "yesterday", "-", "-abc", "--5", "2026-13-45T99:00",
    "+30"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    GstElement *src = gst_element_factory_make ("diodesrc", NULL);
    GstMessage *msg;
    GError *err = NULL;

    g_object_set (src, "relay", "127.0.0.1:1", "start", bad[i], NULL);
    msg = fixture_expect_error (src, GST_STATE_PAUSED, 5000);
    fail_unless (msg != NULL, "start '%s': no error", bad[i]);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_SETTINGS), "start '%s': %s", bad[i],
        err->message);
    fail_unless (strstr (err->message, "earliest")
        && strstr (err->message, "ISO 8601"), "%s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
    gst_element_set_state (src, GST_STATE_NULL);
    gst_object_unref (src);
  }
}

GST_END_TEST;

/* Every accepted form connects and subscribes (the stream is not there:
 * the relay holds the subscription). */
GST_START_TEST (test_start_forms_accepted)
{
  DiodeRelay *relay = relay_with_store (NULL);
  const gchar *good[] = { "live", "earliest", "-30", "-1.5",
    "2026-12-01T10:00:00Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00+02:00"
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    GstHarness *src = src_harness (relay, "absent", good[i]);
    GstBus *bus = gst_bus_new ();
    GstMessage *msg;

    gst_element_set_bus (src->element, bus);
    gst_harness_play (src);
    fail_unless (fixture_wait_waiting (relay, "absent", 1, 5000), "start "
        "'%s' did not subscribe", good[i]);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg == NULL, "start '%s' raised an error", good[i]);
    gst_harness_teardown (src);
    gst_object_unref (bus);
    fail_unless (fixture_wait_waiting (relay, "absent", 0, 5000));
  }
  relay_free (relay);
}

GST_END_TEST;

/* record=true on a relay without a store: a warning naming the relay,
 * and publishing goes on. */
GST_START_TEST (test_record_without_store_warns)
{
  DiodeRelay *relay = relay_with_store (NULL);
  GstHarness *sink = sink_harness (relay, "nostore", TRUE);
  GstBus *bus = gst_bus_new ();
  gchar *state, *hp = diode_relay_get_hostport (relay);
  guint i;

  gst_element_set_bus (sink->element, bus);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  /* PUBLISH waits for the first buffer (live or upload?) */
  fail_if (diode_relay_has_publisher (relay, "nostore"));
  for (i = 0; i < 2 * GOP; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i, SIZE, GOP)), GST_FLOW_OK);
  fail_unless (wait_warning (bus, "has no store", 5000));
  fail_unless (fixture_wait_last_seq (relay, "nostore", 2 * GOP, 5000),
      "publishing must go on");
  state = stat_string (sink->element, "recording");
  fail_unless_equals_string (state, "none");
  g_free (state);
  g_free (hp);
  gst_harness_teardown (sink);
  gst_object_unref (bus);
  relay_free (relay);
}

GST_END_TEST;

/* record=true on a relay with a store: recording, and STORED progress
 * shows in stats (stored-seq, stored-bytes). A harness upstream answers
 * LATENCY live: a live recording, no upload. */
GST_START_TEST (test_record_stored_progress)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *sink = sink_harness (relay, "stored", TRUE);
  gint64 end;
  gchar *state;
  guint i;

  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  for (i = 0; i < 4 * GOP; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i, SIZE, GOP)), GST_FLOW_OK);
  fail_unless (fixture_wait_last_seq (relay, "stored", 4 * GOP, 5000));
  state = stat_string (sink->element, "recording");
  fail_unless_equals_string (state, "recording");
  g_free (state);
  /* closed chunks (3 GOPs) are stored; STORED comes at most every 5 s */
  end = deadline_in (10000);
  while (stat_u64 (sink->element, "stored-seq") < 3 * GOP) {
    fail_unless (g_get_monotonic_time () < end, "no STORED up to seq %u "
        "within 10 s (stored-seq %" G_GUINT64_FORMAT ")", 3 * GOP,
        stat_u64 (sink->element, "stored-seq"));
    g_usleep (20 * 1000);
  }
  fail_unless (stat_u64 (sink->element, "stored-bytes") > 3 * GOP * SIZE);
  gst_harness_teardown (sink);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* The last SEGMENT event queued in the harness. */
static gboolean
last_segment (GstHarness * h, GstSegment * out)
{
  GstEvent *ev;
  gboolean found = FALSE;

  while ((ev = gst_harness_try_pull_event (h))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *seg;

      gst_event_parse_segment (ev, &seg);
      gst_segment_copy_into (seg, out);
      found = TRUE;
    }
    gst_event_unref (ev);
  }
  return found;
}

#define REC_N 60

/* A finished recording: the source is not live, starts at position 0,
 * answers SEEKING / DURATION / POSITION in recording time, and its stats
 * say so. */
GST_START_TEST (test_src_finished_recording)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *src;
  GstQuery *q;
  gboolean seekable = FALSE;
  gint64 dur = -1, pos = -1;
  gchar *state, *start;
  guint i;

  publish_recording (relay, "film", REC_N);
  src = src_harness (relay, "film", "live");
  gst_harness_play (src);
  fail_if (gst_base_src_is_live (GST_BASE_SRC (src->element)),
      "a finished recording is played as a non-live source");
  /* start=live on a finished recording: from its start */
  for (i = 0; i < 10; i++) {
    GstBuffer *b = gst_harness_pull (src);

    fail_unless (b != NULL);
    expect_buffer (b, i);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), i * 33 * GST_MSECOND);
    gst_buffer_unref (b);
  }
  q = gst_query_new_seeking (GST_FORMAT_TIME);
  fail_unless (gst_element_query (src->element, q));
  gst_query_parse_seeking (q, NULL, &seekable, NULL, NULL);
  gst_query_unref (q);
  fail_unless (seekable);
  fail_unless (gst_element_query_duration (src->element, GST_FORMAT_TIME,
          &dur));
  /* from the first buffer's time to the end of the last one */
  fail_unless (dur >= (REC_N - 1) * 33 * GST_MSECOND
      && dur <= REC_N * 33 * GST_MSECOND, "duration %" GST_TIME_FORMAT,
      GST_TIME_ARGS (dur));
  fail_unless (gst_element_query_position (src->element, GST_FORMAT_TIME,
          &pos));
  fail_unless (pos >= 9 * 33 * GST_MSECOND && pos <= dur, "position %"
      GST_TIME_FORMAT, GST_TIME_ARGS (pos));
  state = stat_string (src->element, "stream-state");
  start = stat_string (src->element, "start");
  fail_unless_equals_string (state, "recording");
  fail_unless_equals_string (start, "live");
  g_free (state);
  g_free (start);
  gst_harness_teardown (src);

  /* start=-0.5: back from the recording's end (1.98 s), the keyframe at or
   * before 1.48 s is buffer 40; the segment starts there, so a sink does
   * not wait 1.32 s for it */
  src = src_harness (relay, "film", "-0.5");
  gst_harness_play (src);
  {
    GstBuffer *b = gst_harness_pull (src);
    GstSegment seg;

    expect_buffer (b, 40);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 40 * 33 * GST_MSECOND);
    gst_buffer_unref (b);
    fail_unless (last_segment (src, &seg));
    fail_unless_equals_uint64 (seg.start, 40 * 33 * GST_MSECOND);
    fail_unless_equals_uint64 (seg.time, 40 * 33 * GST_MSECOND);
  }
  gst_harness_teardown (src);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A flushing seek with @how (KEY_UNIT or ACCURATE, and SNAP flags) to
 * buffer @to: the first buffer is buffer @expect and the segment starts at
 * buffer @seg_start. */
static void
seek_lands_at (GstHarness * src, GstSeekFlags how, guint to, guint expect,
    guint seg_start)
{
  GstBuffer *b = NULL;
  GstSegment seg;
  GstEvent *seek;
  guint i;

  seek = gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH |
      (how & ~(GST_SEEK_FLAG_SNAP_BEFORE | GST_SEEK_FLAG_SNAP_AFTER)),
      GST_SEEK_TYPE_SET, to * 33 * GST_MSECOND, GST_SEEK_TYPE_NONE, -1);
  /* gst_event_new_seek() drops SNAP flags without KEY_UNIT (with a
   * g_warning); an event built otherwise (a binding, a structure from an
   * application) can still carry them, so set them in the structure */
  gst_structure_set (gst_event_writable_structure (seek), "flags",
      GST_TYPE_SEEK_FLAGS, GST_SEEK_FLAG_FLUSH | how, NULL);
  fail_unless (gst_harness_push_upstream_event (src, seek));
  for (i = 0; i < REC_N + 2; i++) {
    b = gst_harness_pull (src);
    fail_unless (b != NULL);
    if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT))
      break;
    gst_buffer_unref (b);
    b = NULL;
  }
  fail_unless (b != NULL, "no buffer after the seek to %u", to);
  expect_buffer (b, expect);
  gst_buffer_unref (b);
  fail_unless (last_segment (src, &seg));
  fail_unless_equals_uint64 (seg.start, seg_start * 33 * GST_MSECOND);
}

/* A flushing KEY_UNIT seek with @snap to buffer @to lands on buffer
 * @expect, and the segment starts there. */
static void
seek_lands (GstHarness * src, GstSeekFlags snap, guint to, guint expect)
{
  seek_lands_at (src, GST_SEEK_FLAG_KEY_UNIT | snap, to, expect, expect);
}

/* A flushing KEY_UNIT seek lands on the keyframe at or before the target;
 * an accurate one starts its segment at the target itself. */
GST_START_TEST (test_src_seek)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *src;
  GstBuffer *b = NULL;
  GstSegment seg;
  GstClockTime target = 25 * 33 * GST_MSECOND;
  guint i;

  publish_recording (relay, "seekme", REC_N);
  src = src_harness (relay, "seekme", "earliest");
  gst_harness_play (src);
  b = gst_harness_pull (src);
  expect_buffer (b, 0);
  gst_buffer_unref (b);

  fail_unless (gst_harness_push_upstream_event (src,
          gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH |
              GST_SEEK_FLAG_KEY_UNIT, GST_SEEK_TYPE_SET, target,
              GST_SEEK_TYPE_NONE, -1)));
  /* what the harness queued before the flush is older: the first DISCONT
   * buffer is the seek's */
  for (i = 0, b = NULL; i < REC_N + 2; i++) {
    b = gst_harness_pull (src);
    fail_unless (b != NULL);
    if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT))
      break;
    gst_buffer_unref (b);
    b = NULL;
  }
  fail_unless (b != NULL, "no buffer after the seek");
  /* KEY_UNIT seek to buffer 25: keyframe 20 */
  expect_buffer (b, 20);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b), 20 * 33 * GST_MSECOND);
  gst_buffer_unref (b);
  /* the segment (the last one queued) starts at the keyframe */
  fail_unless (last_segment (src, &seg), "no segment after the seek");
  fail_unless_equals_uint64 (seg.start, 20 * 33 * GST_MSECOND);

  /* accurate: the segment starts at the target (sinks clip before it) */
  fail_unless (gst_harness_push_upstream_event (src,
          gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH |
              GST_SEEK_FLAG_ACCURATE, GST_SEEK_TYPE_SET, target,
              GST_SEEK_TYPE_NONE, -1)));
  for (i = 0, b = NULL; i < REC_N + 2; i++) {
    b = gst_harness_pull (src);
    if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT))
      break;
    gst_buffer_unref (b);
    b = NULL;
  }
  fail_unless (b != NULL);
  expect_buffer (b, 20);
  gst_buffer_unref (b);
  fail_unless (last_segment (src, &seg), "no segment after the accurate "
      "seek");
  fail_unless_equals_uint64 (seg.start, target);

  /* KEY_UNIT | SNAP_AFTER: the keyframe at or after buffer 25 (30); both
   * SNAP flags: the nearest one to buffer 28 (30) */
  seek_lands (src, GST_SEEK_FLAG_SNAP_AFTER, 25, 30);
  seek_lands (src, GST_SEEK_FLAG_SNAP_BEFORE | GST_SEEK_FLAG_SNAP_AFTER, 28,
      30);
  seek_lands (src, GST_SEEK_FLAG_SNAP_BEFORE, 28, 20);
  /* SNAP flags on an accurate seek (events from gst_event_new_seek never
   * have them, see seek_lands_at): it still starts at the keyframe at or
   * before the target (20), its segment at the target; snapping to 30
   * would lose buffers 25..29 */
  seek_lands_at (src, GST_SEEK_FLAG_ACCURATE | GST_SEEK_FLAG_SNAP_AFTER, 25,
      20, 25);
  seek_lands_at (src, GST_SEEK_FLAG_ACCURATE | GST_SEEK_FLAG_SNAP_BEFORE |
      GST_SEEK_FLAG_SNAP_AFTER, 28, 20, 28);
  fail_unless_equals_uint64 (stat_u64 (src->element, "seeks"), 7);

  gst_harness_teardown (src);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* start=earliest on a recording that has nothing stored yet (its
 * publisher sent no keyframe): the relay says 105, the source watches live
 * instead and gets the first keyframe. */
GST_START_TEST (test_src_nothing_stored_goes_live)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *sink = sink_harness (relay, "young", TRUE);
  GstHarness *src;
  GstBuffer *b = NULL;
  gint64 end;
  guint i;

  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  /* a delta frame only: published, recorded, no keyframe */
  fail_unless_equals_int (gst_harness_push (sink, fixture_make_buffer (1,
              SIZE, GOP)), GST_FLOW_OK);
  fail_unless (fixture_wait_last_seq (relay, "young", 1, 5000));
  src = src_harness (relay, "young", "earliest");
  gst_harness_play (src);
  fail_unless (fixture_wait_waiting (relay, "young", 1, 5000),
      "the source did not fall back to a live subscription");
  for (i = 10; i < 10 + GOP; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i, SIZE, GOP)), GST_FLOW_OK);
  end = deadline_in (5000);
  while (!b && g_get_monotonic_time () < end) {
    b = gst_harness_try_pull (src);
    if (!b)
      g_usleep (10 * 1000);
  }
  fail_unless (b != NULL, "no buffer: the source gave up on 105");
  expect_buffer (b, 10);
  gst_buffer_unref (b);
  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* An upload shorter than stats-interval still reports progress: a
 * diode-upload with final=false (at its first buffer) before the final
 * one. */
GST_START_TEST (test_upload_progress_before_final)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *sink = sink_harness (relay, "short", TRUE);
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  guint progress = 0, finals = 0, i;

  /* a minute: no progress message can be due by time during this upload */
  g_object_set (sink->element, "stats-interval", 60000, NULL);
  gst_element_set_bus (sink->element, bus);
  make_upstream_not_live (sink);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  for (i = 0; i < 2 * GOP; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (i, SIZE, GOP)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    gboolean final = FALSE;

    if (gst_message_has_name (m, "diode-upload")) {
      fail_unless (gst_structure_get_boolean (gst_message_get_structure (m),
              "final", &final));
      if (final)
        finals++;
      else {
        fail_unless (finals == 0, "a progress message after the final one");
        progress++;
      }
    }
    gst_message_unref (m);
  }
  fail_unless_equals_int (finals, 1);
  fail_unless (progress >= 1, "no diode-upload with final=false before the "
      "final one");
  gst_harness_teardown (sink);
  gst_object_unref (bus);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A name with an older finished recording, published again live and not
 * recorded: stream-state is live and the stats' position is NONE (not a
 * number measured from the old recording's start), as diodesrc's recording
 * queries judge "recorded" (SEEKING says not seekable, no DURATION). */
GST_START_TEST (test_src_position_none_when_not_recorded)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with_store (dir);
  GstHarness *sink, *src;
  GstStructure *st;
  GstBuffer *b;
  gchar *state;
  guint64 pos = 0;
  guint i;

  publish_recording (relay, "again", 2 * GOP);
  sink = sink_harness (relay, "again", FALSE);
  gst_harness_set_src_caps_str (sink, CAPS_STR);
  gst_harness_play (sink);
  for (i = 0; i < GOP; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (100 + i, SIZE, GOP)), GST_FLOW_OK);
  fail_unless (fixture_wait_publisher (relay, "again", TRUE, 5000));

  src = src_harness (relay, "again", "live");
  gst_harness_play (src);
  for (i = 0; i < 2; i++)
    fail_unless_equals_int (gst_harness_push (sink,
            fixture_make_buffer (100 + GOP + i, SIZE, GOP)), GST_FLOW_OK);
  b = gst_harness_pull (src);
  fail_unless (b != NULL);
  gst_buffer_unref (b);
  state = stat_string (src->element, "stream-state");
  fail_unless_equals_string (state, "live");
  g_free (state);
  st = stats_of (src->element);
  fail_unless (gst_structure_get_uint64 (st, "position", &pos));
  gst_structure_free (st);
  fail_unless_equals_uint64 (pos, GST_CLOCK_TIME_NONE);

  gst_harness_teardown (src);
  gst_harness_teardown (sink);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

static Suite *
elements_rec_suite (void)
{
  Suite *s = suite_create ("elements-rec");
  TCase *tc = tcase_create ("recordings");

  tcase_add_test (tc, test_properties);
  tcase_add_test (tc, test_start_bad_value);
  tcase_add_test (tc, test_start_forms_accepted);
  tcase_add_test (tc, test_record_without_store_warns);
  tcase_add_test (tc, test_record_stored_progress);
  tcase_add_test (tc, test_src_finished_recording);
  tcase_add_test (tc, test_src_seek);
  tcase_add_test (tc, test_src_nothing_stored_goes_live);
  tcase_add_test (tc, test_upload_progress_before_final);
  tcase_add_test (tc, test_src_position_none_when_not_recorded);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (elements_rec);
