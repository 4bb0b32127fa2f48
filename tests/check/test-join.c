/* gst-diode — diodesrc `join`: where a live viewer's first shown picture is
 * (against an in-process relay, real TLS on 127.0.0.1). The same through
 * x264enc/avdec_h264 pipelines: tests/integration/test-e2e.c (late joiner).
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "fixture.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define GOP 10
#define FRAME (33 * GST_MSECOND)

static GstHarness *
publisher (DiodeRelay * relay, const gchar * stream, guint n)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;
  guint i;

  g_object_set (e, "relay", hp, "stream", stream, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  g_free (hp);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_harness_play (h);
  for (i = 0; i < n; i++)
    fail_unless_equals_int (gst_harness_push (h,
            fixture_make_buffer (i, 200 + i, GOP)), GST_FLOW_OK);
  /* buffer i is seq i + 1 */
  fail_unless (fixture_wait_last_seq (relay, stream, n, 5000));
  return h;
}

static GstHarness *
viewer (DiodeRelay * relay, const gchar * stream, const gchar * join)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "timeout", 5000, NULL);
  if (join)
    gst_util_set_object_arg (G_OBJECT (e), "join", join);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  g_free (hp);
  gst_harness_play (h);
  return h;
}

static guint64
stat_u64 (GstHarness * h, const gchar * field)
{
  GstStructure *st = NULL;
  guint64 v = G_MAXUINT64;

  g_object_get (h->element, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, field, &v), "no %s", field);
  gst_structure_free (st);
  return v;
}

/* The newest SEGMENT the viewer's harness received. */
static GstSegment *
last_segment (GstHarness * h)
{
  GstSegment *seg = NULL;
  GstEvent *ev;

  while ((ev = gst_harness_try_pull_event (h))) {
    if (GST_EVENT_TYPE (ev) == GST_EVENT_SEGMENT) {
      const GstSegment *s;

      gst_event_parse_segment (ev, &s);
      if (seg)
        gst_segment_free (seg);
      seg = gst_segment_copy (s);
    }
    gst_event_unref (ev);
  }
  fail_unless (seg != NULL, "no segment event");
  return seg;
}

/* Joining 4 frames after the keyframe: those 4 are decoded, not shown
 * (DECODE_ONLY and before the segment's start), keep the publisher's
 * spacing, and the live frame starts the segment at the running time the
 * source had when the burst began, not later; frames after it are
 * ordinary. */
GST_START_TEST (test_join_live_starts_at_the_live_frame)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *pub = publisher (relay, "cam", 2 * GOP + 5);
  GstHarness *src = viewer (relay, "cam", NULL);
  GstClockTime pts[GOP], live_pts, rt_live;
  GstSegment *seg;
  GstBuffer *b;
  guint i;

  for (i = 2 * GOP; i < 2 * GOP + 5; i++) {
    b = gst_harness_pull (src);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    pts[i - 2 * GOP] = GST_BUFFER_PTS (b);
    fail_unless (GST_CLOCK_TIME_IS_VALID (pts[i - 2 * GOP]));
    if (i < 2 * GOP + 4)
      fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY),
          "buffer %u is before the live one: decode only", i);
    else
      fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY),
          "buffer %u is the live one: shown", i);
    gst_buffer_unref (b);
  }
  live_pts = pts[4];
  for (i = 0; i < 4; i++)
    fail_unless_equals_uint64 (live_pts - pts[i], (4 - i) * FRAME);

  /* the segment starts at the live frame; the ones before are outside */
  seg = last_segment (src);
  fail_unless_equals_uint64 (seg->start, live_pts);
  for (i = 0; i < 4; i++)
    fail_unless (!gst_segment_clip (seg, GST_FORMAT_TIME, pts[i],
            pts[i] + FRAME, NULL, NULL), "buffer %u is inside the segment",
        i + 2 * GOP);
  rt_live = gst_segment_to_running_time (seg, GST_FORMAT_TIME, live_pts);
  /* placed when the burst began: not after the live frame was pulled */
  fail_unless (rt_live <= gst_clock_get_time (GST_ELEMENT_CLOCK (src->element))
      - gst_element_get_base_time (src->element));

  fail_unless_equals_uint64 (stat_u64 (src, "join-decode-only"), 4);
  fail_unless_equals_uint64 (stat_u64 (src, "join-live-seq"), 2 * GOP + 5);

  /* and it goes on live, at the publisher's spacing */
  gst_harness_push (pub, fixture_make_buffer (2 * GOP + 5, 300, GOP));
  b = gst_harness_pull (src);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 2 * GOP + 5);
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY));
  fail_unless_equals_uint64 (GST_BUFFER_PTS (b) - live_pts, FRAME);
  gst_buffer_unref (b);

  gst_segment_free (seg);
  gst_harness_teardown (src);
  gst_harness_teardown (pub);
  relay_free (relay);
}

GST_END_TEST;

/* join=keyframe: the keyframe is shown first, as before `join` existed. */
GST_START_TEST (test_join_keyframe_shows_the_keyframe)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *pub = publisher (relay, "cam", 2 * GOP + 5);
  GstHarness *src = viewer (relay, "cam", "keyframe");
  GstSegment *seg;
  GstClockTime kf = GST_CLOCK_TIME_NONE;
  GstBuffer *b;
  guint i;

  for (i = 2 * GOP; i < 2 * GOP + 5; i++) {
    b = gst_harness_pull (src);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY));
    if (i == 2 * GOP)
      kf = GST_BUFFER_PTS (b);
    gst_buffer_unref (b);
  }
  seg = last_segment (src);
  fail_unless (gst_segment_clip (seg, GST_FORMAT_TIME, kf, kf + FRAME,
          NULL, NULL), "the keyframe is outside the segment");
  fail_unless_equals_uint64 (stat_u64 (src, "join-decode-only"), 0);

  gst_segment_free (seg);
  gst_harness_teardown (src);
  gst_harness_teardown (pub);
  relay_free (relay);
}

GST_END_TEST;

/* When the live frame is the keyframe there is nothing to skip. */
GST_START_TEST (test_join_live_at_a_keyframe)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  GstHarness *pub = publisher (relay, "cam", 2 * GOP + 1);
  GstHarness *src = viewer (relay, "cam", "live");
  GstBuffer *b;

  b = gst_harness_pull (src);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 2 * GOP);
  fail_if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY));
  gst_buffer_unref (b);
  fail_unless_equals_uint64 (stat_u64 (src, "join-decode-only"), 0);

  gst_harness_teardown (src);
  gst_harness_teardown (pub);
  relay_free (relay);
}

GST_END_TEST;

static Suite *
join_suite (void)
{
  Suite *s = suite_create ("join");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_join_live_starts_at_the_live_frame);
  tcase_add_test (tc, test_join_keyframe_shows_the_keyframe);
  tcase_add_test (tc, test_join_live_at_a_keyframe);
  return s;
}

GST_CHECK_MAIN (join);
