/* gst-diode — watching a live recording back through a relay tree
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10 ("watch the last hour from any relay of the network"; docs/
 * decisions.md, "Recordings: watching back through a relay tree"): a root
 * relay with a store records a stream a child relay pulls (-u root, a
 * small ring). At the child, RANGE reports LIVE_RECORDED with the root's
 * spans merged with the ring's (seq 1 to the live edge), EARLIEST plays
 * every seq from 1 (fetched from the root, then the child's ring) and goes
 * on live with no gap and no duplicate, and a TIME start lands on the
 * keyframe at or before the target. Before the fix the child answered
 * with its ring alone, state LIVE. In-process relays, raw v3 clients, real
 * TLS on 127.0.0.1.
 */
#include "replayharness.h"
#include "fixture.h"

#include <gst/check/gstharness.h>

#include <string.h>

/* A child of @root (-u root, accepted in its [relays] children) with a
 * ring far smaller than the recordings: seq 1 is long gone from it. */
static DiodeRelay *
child_of (DiodeRelay * root)
{
  gchar *ckey = g_build_filename (fixture_config_dir (), "relay-b.pem", NULL);
  gchar *self = fixture_key_address ("relay-b.pem");
  gchar *up = g_strdup_printf ("%s@127.0.0.1:%u",
      diode_relay_get_address (root), diode_relay_get_port (root));
  DiodeRelay *child;
  GError *err = NULL;

  fixture_relay_conf_add (root, "relays", "children", self);
  child = diode_relay_new ("127.0.0.1:0", ckey);
  g_object_set (child, "upstream", up, "buffer-bytes", (guint64) 4000, NULL);
  if (!diode_relay_start (child, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (up);
  g_free (self);
  g_free (ckey);
  return child;
}

/* The child pulls "cam" (a live viewer there) while the root records it. */
GST_START_TEST (test_live_recording_from_child)
{
  gchar *dir = tmp_store ();
  DiodeRelay *root = relay_with ("store-dir", dir, NULL);
  DiodeRelay *child = child_of (root);
  RawClient *p, *live, *v, *t;
  DiodeMsg m = { 0 };

  p = raw_open (root, 0, "pub.pem");
  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  /* a live viewer at the child: the child pulls "cam" from the root */
  live = raw_open (child, 0, "viewer.pem");
  hello_v (live, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (live, subscribe_at ("cam", DIODE_START_LIVE, 0, 0));
  send_range (p, 1, 60, 5);
  wait_stored (p, 55, FALSE);
  fail_unless (fixture_wait_last_seq (child, "cam", 60, 5000));

  /* RANGE at the child: the root's store + the child's ring */
  v = raw_open (child, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  range_until_ok (v, "cam", &m);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  fail_unless (m.n_spans >= 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[m.n_spans - 1].last_seq, 60);
  diode_msg_clear (&m);

  /* EARLIEST at the child: 1..60 (root, then ring), then live */
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  expect_play (v, 1, 60, DIODE_STREAM_LIVE_RECORDED);
  send_range (p, 61, 65, 5);
  fail_unless_equals_uint64 (expect_play_more (v, 61, 65), 65);

  /* TIME 230 ms (seq 23's pts) snapped BEFORE: the keyframe at 21 */
  t = raw_open (child, 0, "viewer.pem");
  hello_v (t, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (t, subscribe_at ("cam", DIODE_START_TIME, 230 * MS,
          DIODE_SNAP_BEFORE));
  expect_play (t, 21, 65, DIODE_STREAM_LIVE_RECORDED);
  send_range (p, 66, 70, 5);
  fail_unless_equals_uint64 (expect_play_more (t, 66, 70), 70);
  fail_unless_equals_uint64 (expect_play_more (v, 66, 70), 70);

  raw_free (t, FALSE);
  raw_free (v, FALSE);
  raw_free (live, FALSE);
  raw_free (p, FALSE);
  relay_free (child);
  relay_free (root);
  g_free (dir);
}

GST_END_TEST;

/* Nobody watches "cam" live at the child (it does not pull it): EARLIEST
 * there still plays the root's recording from seq 1, and the cursor goes
 * on with the chunks the root closes after it (fetched one by one). */
GST_START_TEST (test_live_recording_not_pulled)
{
  gchar *dir = tmp_store ();
  DiodeRelay *root = relay_with ("store-dir", dir, NULL);
  DiodeRelay *child = child_of (root);
  RawClient *p = raw_open (root, 0, "pub.pem");
  RawClient *v;
  DiodeMsg m = { 0 };

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  send_range (p, 1, 60, 5);
  wait_stored (p, 55, FALSE);

  v = raw_open (child, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  range_until_ok (v, "cam", &m);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  diode_msg_clear (&m);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  /* 56..60 is the root's open chunk: it closes with the keyframe at 61 */
  expect_play (v, 1, 55, DIODE_STREAM_LIVE_RECORDED);
  send_range (p, 61, 70, 5);
  fail_unless_equals_uint64 (expect_play_more (v, 56, 65), 65);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (child);
  relay_free (root);
  g_free (dir);
}

GST_END_TEST;

/* diodesrc start=earliest at the child (which pulls the stream): it plays
 * from seq 1, says live-recorded, answers SEEKING with TRUE and a duration,
 * and a TIME seek is accepted (each seek is a SUBSCRIBE with TIME). Before,
 * the child said live, not seekable, and the seek failed. */
GST_START_TEST (test_diodesrc_seekable_at_child)
{
  gchar *dir = tmp_store ();
  DiodeRelay *root = relay_with ("store-dir", dir, NULL);
  DiodeRelay *child = child_of (root);
  RawClient *p = raw_open (root, 0, "pub.pem");
  RawClient *live = raw_open (child, 0, "viewer.pem");
  gchar *hp = diode_relay_get_hostport (child);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;
  GstBuffer *b;
  GstQuery *q;
  GstStructure *st = NULL;
  gboolean seekable = FALSE;
  gint64 dur = -1;

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  hello_v (live, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (live, subscribe_at ("cam", DIODE_START_LIVE, 0, 0));
  /* 3 s of stream: a seek well before the live edge (diodesrc takes one
   * within 0.5 s of it as "back to live") */
  send_range (p, 1, 300, 5);
  wait_stored (p, 295, FALSE);
  fail_unless (fixture_wait_last_seq (child, "cam", 300, 5000));

  g_object_set (e, "relay", hp, "stream", "cam", "timeout", 5000,
      "start", "earliest", NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_harness_play (h);
  b = gst_harness_pull (h);
  fail_unless (b != NULL);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 1);
  gst_buffer_unref (b);
  g_object_get (e, "stats", &st, NULL);
  fail_unless (st != NULL);
  fail_unless_equals_string (gst_structure_get_string (st, "stream-state"),
      "live-recorded");
  gst_structure_free (st);
  q = gst_query_new_seeking (GST_FORMAT_TIME);
  fail_unless (gst_element_query (e, q));
  gst_query_parse_seeking (q, NULL, &seekable, NULL, NULL);
  gst_query_unref (q);
  fail_unless (seekable, "diodesrc at the child is not seekable");
  fail_unless (gst_element_query_duration (e, GST_FORMAT_TIME, &dur));
  fail_unless (dur > 0, "no duration at the child");
  /* A flushing KEY_UNIT seek to 130 ms into the recording (publisher time
   * 140 ms, seq 14's pts): the keyframe at or before it is 11. The first
   * buffer the new SUBSCRIBE gives is DISCONT. */
  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_seek (1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH |
              GST_SEEK_FLAG_KEY_UNIT | GST_SEEK_FLAG_SNAP_BEFORE,
              GST_SEEK_TYPE_SET, 130 * MS, GST_SEEK_TYPE_NONE, -1)));
  {
    guint i;

    for (i = 0; i < 400; i++) {
      b = gst_harness_pull (h);
      fail_unless (b != NULL);
      if (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT))
        break;
      gst_buffer_unref (b);
      b = NULL;
    }
    fail_unless (b != NULL, "no buffer after the seek");
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), 11);
    gst_buffer_unref (b);
  }

  gst_harness_teardown (h);
  gst_object_unref (e);
  raw_free (live, FALSE);
  raw_free (p, FALSE);
  relay_free (child);
  relay_free (root);
  g_free (hp);
  g_free (dir);
}

GST_END_TEST;

static Suite *
replay_tree_suite (void)
{
  Suite *s = suite_create ("replay-tree");
  TCase *tc = tcase_create ("tree");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_live_recording_from_child);
  tcase_add_test (tc, test_live_recording_not_pulled);
  tcase_add_test (tc, test_diodesrc_seekable_at_child);
  return s;
}

GST_CHECK_MAIN (replay_tree);
