/* gst-diode — end-to-end tests: real diode-relay process, real codecs
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each test starts the diode-relay binary (DIODE_RELAY, or the one built next
 * to this test) on 127.0.0.1 with a free port, runs GStreamer pipelines with
 * diodesink / diodesrc against it and compares what viewers decode with what
 * the publisher's own decoder makes of the same H.264 stream, frame by frame
 * (SHA-1 of the visible pixels). The relay is stopped at the end of every
 * test, and killed by the kernel if this process dies first.
 *
 * XDG_CONFIG_HOME points at a temporary directory made for this run (the
 * elements keep their identity and known-relays there), removed at the end.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "framesums.h"
#include "testproc.h"

#include <string.h>

#define FPS 30

/* The run's XDG_CONFIG_HOME (also holds the relay's key, shared by the tests
 * so that trust-on-first-use never sees two relays on one HOST:PORT). */
static gchar *config_dir;

/* ------------------------------------------------------------------------ */
/* the relay process: tests/common/testproc.c */

static Proc *
relay_start (void)
{
  gchar *key = g_build_filename (config_dir, "relay.pem", NULL);
  Proc *r = relay_spawn ("relay", NULL, "127.0.0.1", 0, key, NULL);

  g_free (key);
  return r;
}

static gboolean
relay_wait_lines (Proc * r, const gchar * a, const gchar * b, guint count,
    guint timeout_ms)
{
  return proc_wait_count (r, 0, a, b, count, timeout_ms);
}

static void
relay_finish (Proc * r)
{
  relay_stop (r);
  proc_free (r);
}

/* ------------------------------------------------------------------------ */
/* pipelines: tests/common/framesums.c; its failures end the check test */

static void
fail_from_helpers (const gchar * msg)
{
  ck_abort_msg ("%s", msg);
}

/* ------------------------------------------------------------------------ */
/* fixture: a temporary XDG_CONFIG_HOME for the whole run */

static void
remove_tree (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  if (dir) {
    while ((name = g_dir_read_name (dir))) {
      gchar *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR)
          && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (dir);
  }
  g_rmdir (path);
}

static void
config_setup (void)
{
  GError *err = NULL;

  config_dir = g_dir_make_tmp ("gst-diode-e2e-XXXXXX", &err);
  fail_unless (config_dir != NULL, "cannot make a temporary directory: %s",
      err ? err->message : "?");
  g_setenv ("XDG_CONFIG_HOME", config_dir, TRUE);
  tp_fail_handler = fail_from_helpers;
  /* testproc.c gives its children tp_tmp_dir as XDG_CONFIG_HOME. */
  tp_tmp_dir = config_dir;
  /* The elements find their files through g_get_user_config_dir(), which
   * GLib computes once per process. */
  fail_unless_equals_string (g_get_user_config_dir (), config_dir);
}

static void
config_teardown (void)
{
  remove_tree (config_dir);
  tp_tmp_dir = NULL;
  g_clear_pointer (&config_dir, g_free);
}

/* ------------------------------------------------------------------------ */
/* tests */

#define E2E_FRAMES 150
#define E2E_VIEWERS 3

/* One publisher, three viewers through the relay: every viewer decodes
 * exactly what the publisher's own decoder makes of the encoded stream, and
 * the publisher's EOS reaches each of them. */
GST_START_TEST (test_e2e_three_viewers)
{
  Proc *relay = relay_start ();
  Pipe *pipes[E2E_VIEWERS + 1], *pub, **viewers = pipes + 1;
  GPtrArray *ref;
  GString *report;
  gchar *desc;
  gint64 deadline;
  guint i, j;

  for (i = 0; i < E2E_VIEWERS; i++) {
    gchar *name = g_strdup_printf ("viewer %u", i + 1);

    desc = viewer_desc (relay->port, "e2e", NULL);
    viewers[i] = pipe_new (name, desc, "out");
    g_free (name);
    g_free (desc);
    pipe_play (viewers[i]);
  }
  /* They subscribe before the stream exists; the relay holds them. */
  if (!relay_wait_lines (relay, "waits up to", "for 'e2e'", E2E_VIEWERS,
          10000)) {
    pipes_check (viewers, E2E_VIEWERS);
    fail ("the relay did not report %u viewers waiting for 'e2e' within 10 s",
        E2E_VIEWERS);
  }

  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! "
      "x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! "
      "h264parse ! tee name=t  "
      "t. ! queue ! diodesink relay=127.0.0.1:%u stream=e2e  "
      "t. ! queue ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=ref sync=false", E2E_FRAMES, FPS, relay->port);
  pub = pipes[0] = pipe_new ("publisher", desc, "ref");
  g_free (desc);
  pipe_play (pub);

  deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  while (!pub->eos) {
    pipes_check (pipes, E2E_VIEWERS + 1);
    fail_unless (g_get_monotonic_time () < deadline, "publisher: no EOS "
        "within 20 s (%u frames decoded by its reference branch)",
        collector_count (&pub->col));
    g_usleep (10 * 1000);
  }
  /* The publisher's EOS crosses the relay to every viewer. */
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  for (i = 0; i < E2E_VIEWERS; i++) {
    pipe_wait_eos (viewers[i], deadline, "within 15 s of the publisher's");
    pipes_check (pipes, E2E_VIEWERS + 1);
  }
  for (i = 0; i <= E2E_VIEWERS; i++)
    pipe_stop (pipes[i]);

  ref = pub->col.sums;
  report = g_string_new (NULL);
  g_string_append_printf (report, "e2e: reference %u frames", ref->len);
  for (i = 0; i < E2E_VIEWERS; i++) {
    GPtrArray *got = viewers[i]->col.sums;
    guint same = 0;

    for (j = 0; j < MIN (got->len, ref->len); j++)
      if (!strcmp (g_ptr_array_index (got, j), g_ptr_array_index (ref, j)))
        same++;
    g_string_append_printf (report, ", viewer %u: %u/%u identical", i + 1,
        same, got->len);
  }
  g_print ("%s\n", report->str);
  g_string_free (report, TRUE);

  fail_unless_equals_int (ref->len, E2E_FRAMES);
  for (i = 0; i < E2E_VIEWERS; i++) {
    GPtrArray *got = viewers[i]->col.sums;

    for (j = 0; j < MIN (got->len, ref->len); j++)
      fail_unless (!strcmp (g_ptr_array_index (got, j),
              g_ptr_array_index (ref, j)), "viewer %u: decoded frame %u "
          "differs from the reference (sha1 %s, expected %s)", i + 1, j,
          (gchar *) g_ptr_array_index (got, j),
          (gchar *) g_ptr_array_index (ref, j));
    fail_unless (got->len == ref->len, "viewer %u decoded %u frames, the "
        "reference %u", i + 1, got->len, ref->len);
  }

  for (i = 0; i <= E2E_VIEWERS; i++)
    pipe_free (pipes[i]);
  relay_finish (relay);
}

GST_END_TEST;

/* What went into the publisher's tee: one entry per encoded frame. */
typedef struct
{
  GMutex lock;
  GArray *keyframes;            /* indices of buffers without DELTA_UNIT */
  guint count;
} TeeLog;

static gboolean
tee_log_buffer (GstBuffer ** buf, guint idx, gpointer user_data)
{
  TeeLog *log = user_data;

  if (!GST_BUFFER_FLAG_IS_SET (*buf, GST_BUFFER_FLAG_DELTA_UNIT))
    g_array_append_val (log->keyframes, log->count);
  log->count++;
  return TRUE;
}

static GstPadProbeReturn
on_tee_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  TeeLog *log = user_data;

  g_mutex_lock (&log->lock);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    tee_log_buffer (&buf, 0, log);
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info),
        tee_log_buffer, log);
  }
  g_mutex_unlock (&log->lock);
  return GST_PAD_PROBE_OK;
}

static guint
tee_log_count (TeeLog * log)
{
  guint n;

  g_mutex_lock (&log->lock);
  n = log->count;
  g_mutex_unlock (&log->lock);
  return n;
}

/* Latest keyframe index < @before, or G_MAXUINT. */
static guint
tee_log_keyframe_before (TeeLog * log, guint before)
{
  guint i, k = G_MAXUINT;

  g_mutex_lock (&log->lock);
  for (i = 0; i < log->keyframes->len; i++)
    if (g_array_index (log->keyframes, guint, i) < before)
      k = g_array_index (log->keyframes, guint, i);
  g_mutex_unlock (&log->lock);
  return k;
}

/* First keyframe index >= @from, or G_MAXUINT. */
static guint
tee_log_keyframe_from (TeeLog * log, guint from)
{
  guint i, k = G_MAXUINT;

  g_mutex_lock (&log->lock);
  for (i = 0; i < log->keyframes->len && k == G_MAXUINT; i++)
    if (g_array_index (log->keyframes, guint, i) >= from)
      k = g_array_index (log->keyframes, guint, i);
  g_mutex_unlock (&log->lock);
  return k;
}

static gboolean
tee_log_is_keyframe (TeeLog * log, guint idx)
{
  guint i;
  gboolean yes = FALSE;

  g_mutex_lock (&log->lock);
  for (i = 0; i < log->keyframes->len; i++)
    if (g_array_index (log->keyframes, guint, i) == idx)
      yes = TRUE;
  g_mutex_unlock (&log->lock);
  return yes;
}

#define LATE_GOP 90             /* frames: 3 s at 30 fps */
#define LATE_JOIN_AT 135        /* frames: 4.5 s, half-way into the 2nd GOP */
#define LATE_MAX_FIRST_MS 1000
#define LATE_MIN_FRAMES 60      /* from frame 90: past the join point */

/* A viewer that joins mid-GOP starts at once and decodes exactly the
 * publisher's frames. With join=keyframe its first picture is the latest
 * keyframe (with the stream's headers); with join=live (the default) the
 * frames from that keyframe are decoded but not shown, and its first
 * picture is the frame that was live when it joined. */
static void
late_joiner (gboolean live)
{
  Proc *relay = relay_start ();
  TeeLog log = { 0 };
  Pipe *pipes[2], *pub, *viewer;
  GstElement *tee;
  GstPad *pad;
  GPtrArray *ref, *got;
  gchar *desc;
  gint64 t0, deadline, first_ms;
  guint join_idx, expected_kf, next_kf, start = G_MAXUINT, i, at_first;
  gboolean found = FALSE;

  g_mutex_init (&log.lock);
  log.keyframes = g_array_new (FALSE, FALSE, sizeof (guint));

  desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! "
      "x264enc tune=zerolatency key-int-max=%d speed-preset=ultrafast ! "
      "h264parse ! tee name=t  "
      "t. ! queue ! diodesink relay=127.0.0.1:%u stream=late  "
      "t. ! queue ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=ref sync=false", FPS, LATE_GOP, relay->port);
  pub = pipes[0] = pipe_new ("publisher", desc, "ref");
  g_free (desc);
  tee = gst_bin_get_by_name (GST_BIN (pub->pipeline), "t");
  pad = gst_element_get_static_pad (tee, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, on_tee_data, &log, NULL);
  gst_object_unref (pad);
  gst_object_unref (tee);
  pipe_play (pub);

  /* Let it run 4.5 s: keyframes at 0 and 90, the next one 1.5 s away. */
  deadline = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (tee_log_count (&log) < LATE_JOIN_AT) {
    pipes_check (pipes, 1);
    fail_unless (!pub->eos, "publisher: unexpected EOS");
    fail_unless (g_get_monotonic_time () < deadline, "publisher: only %u of "
        "%u frames encoded within 15 s", tee_log_count (&log), LATE_JOIN_AT);
    g_usleep (5 * 1000);
  }

  desc = viewer_desc (relay->port, "late", live ? "join=live" :
      "join=keyframe");
  viewer = pipes[1] = pipe_new ("viewer", desc, "out");
  g_free (desc);
  join_idx = tee_log_count (&log);
  t0 = g_get_monotonic_time ();
  pipe_play (viewer);

  deadline = t0 + 5 * G_TIME_SPAN_SECOND;
  while (collector_count (&viewer->col) == 0) {
    pipes_check (pipes, 2);
    fail_unless (!viewer->eos, "viewer: EOS before any frame");
    fail_unless (g_get_monotonic_time () < deadline, "viewer: no decoded "
        "frame within 5 s of joining at reference frame %u", join_idx);
    g_usleep (1000);
  }
  g_mutex_lock (&viewer->col.lock);
  first_ms = (viewer->col.first_us - t0) / 1000;
  g_mutex_unlock (&viewer->col.lock);
  at_first = tee_log_count (&log);

  /* Watch ~1 s, and at least until it has caught up with the live edge
   * (the join point is 45 frames after the keyframe it starts at). */
  pipes_run_for (pipes, 2, 1000);
  deadline = g_get_monotonic_time () + 8 * G_TIME_SPAN_SECOND;
  while (collector_count (&viewer->col) < LATE_MIN_FRAMES) {
    pipes_check (pipes, 2);
    fail_unless (!viewer->eos, "viewer: unexpected EOS");
    fail_unless (g_get_monotonic_time () < deadline, "viewer: only %u frames "
        "decoded within 9 s of the first one", collector_count (&viewer->col));
    g_usleep (5 * 1000);
  }
  pipe_stop (viewer);

  /* Run on until the next keyframe is out, then end the stream so that the
   * reference decodes everything the viewer could have seen. */
  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while ((next_kf = tee_log_keyframe_from (&log, join_idx)) == G_MAXUINT
      || collector_count (&pub->col) <= next_kf) {
    pipes_check (pipes, 1);
    fail_unless (g_get_monotonic_time () < deadline, "publisher: no keyframe "
        "after reference frame %u within 10 s (%u frames encoded)", join_idx,
        tee_log_count (&log));
    g_usleep (5 * 1000);
  }
  fail_unless (gst_element_send_event (pub->pipeline, gst_event_new_eos ()));
  pipe_wait_eos (pub, g_get_monotonic_time () + 8 * G_TIME_SPAN_SECOND,
      "within 8 s of being sent one");
  pipe_stop (pub);

  ref = pub->col.sums;
  got = viewer->col.sums;
  expected_kf = tee_log_keyframe_before (&log, join_idx);
  fail_unless (got->len > 0);
  /* Where the viewer started: a frame (a keyframe unless joining live)
   * whose following frames match. */
  for (i = 0; i < ref->len && !found; i++) {
    guint j;

    if (strcmp (g_ptr_array_index (ref, i), g_ptr_array_index (got, 0)))
      continue;
    if (!live && !tee_log_is_keyframe (&log, i))
      continue;
    for (j = 0; j < got->len && i + j < ref->len; j++)
      if (strcmp (g_ptr_array_index (ref, i + j), g_ptr_array_index (got, j)))
        break;
    if (j == got->len) {
      found = TRUE;
      start = i;
    }
  }

  if (!found) {
    /* Say where it goes wrong. */
    for (i = 0; i < ref->len; i++)
      if (!strcmp (g_ptr_array_index (ref, i), g_ptr_array_index (got, 0)))
        break;
    fail_unless (i < ref->len, "late joiner: its first decoded frame (sha1 "
        "%s) is none of the %u reference frames (expected reference frame "
        "%u, a keyframe)", (gchar *) g_ptr_array_index (got, 0), ref->len,
        expected_kf);
    fail_unless (live || tee_log_is_keyframe (&log, i), "late joiner: its "
        "first decoded frame is reference frame %u, not a keyframe (expected "
        "%u)", i, expected_kf);
    for (start = 0; start < got->len && i + start < ref->len; start++)
      if (strcmp (g_ptr_array_index (ref, i + start),
              g_ptr_array_index (got, start)))
        break;
    fail ("late joiner: started at reference frame %u, but its "
        "decoded frame %u (sha1 %s) differs from reference frame %u (sha1 "
        "%s)", i, start, start < got->len ?
        (gchar *) g_ptr_array_index (got, start) : "none", i + start,
        i + start < ref->len ? (gchar *) g_ptr_array_index (ref, i + start) :
        "none: the reference ended first");
  }
  g_print ("late joiner (join=%s): joined at reference frame %u, first "
      "shown frame after %" G_GINT64_FORMAT " ms: reference frame %u "
      "(keyframe %u before it), %.1f s before the next keyframe (frame %u); "
      "%u frames shown, all identical to the reference\n",
      live ? "live" : "keyframe", join_idx, first_ms, start, expected_kf,
      (gdouble) (next_kf - join_idx) / FPS, next_kf, got->len);

  fail_unless (first_ms < LATE_MAX_FIRST_MS, "late joiner: first decoded "
      "frame after %" G_GINT64_FORMAT " ms (limit %d ms; the next keyframe "
      "was %.1f s away)", first_ms, LATE_MAX_FIRST_MS,
      (gdouble) (next_kf - join_idx) / FPS);
  if (!live) {
    fail_unless (start == expected_kf, "late joiner: started at keyframe %u, "
        "expected the latest keyframe before the join (%u, joined at %u)",
        start, expected_kf, join_idx);
  } else {
    /* The first picture is the relay's newest frame when it answered: not
     * the keyframe (45 frames before), at most the few frames between the
     * tee and the relay before the join point, and no later than what the
     * publisher had encoded when it was shown. */
    fail_unless (start > expected_kf && start + 5 >= join_idx
        && start <= at_first, "late joiner (join=live): first shown frame is "
        "reference frame %u; expected the live one: after keyframe %u, at "
        "or just before the join point %u and at most %u (encoded when it "
        "was shown)", start, expected_kf, join_idx, at_first);
  }

  pipe_free (viewer);
  pipe_free (pub);
  g_array_unref (log.keyframes);
  g_mutex_clear (&log.lock);
  relay_finish (relay);
}


GST_START_TEST (test_late_joiner)
{
  late_joiner (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_late_joiner_live)
{
  late_joiner (TRUE);
}

GST_END_TEST;

/* playbin and gst-play-1.0 find diodesrc through its URI handler, and what it
 * decodes is the publisher's video, frame for frame. */
GST_START_TEST (test_playbin_uri)
{
  Proc *relay = relay_start ();
  Pipe *pipes[2], *pub, *viewer;
  GstElement *src = NULL, *vsink;
  GPtrArray *ref, *got;
  gchar *desc;
  gint64 deadline;
  guint j;

  desc = g_strdup_printf ("playbin uri=diode://127.0.0.1:%u/by-uri",
      relay->port);
  viewer = pipes[1] = pipe_new ("playbin viewer", desc, NULL);
  g_free (desc);
  vsink = gst_parse_bin_from_description ("videoconvert ! "
      "video/x-raw,format=I420 ! appsink name=out sync=false", TRUE, NULL);
  fail_unless (vsink != NULL);
  collector_attach (&viewer->col, vsink, "out");
  g_object_set (viewer->pipeline, "video-sink", vsink, NULL);
  pipe_play (viewer);
  if (!relay_wait_lines (relay, "waits up to", "for 'by-uri'", 1, 10000)) {
    pipes_check (&viewer, 1);
    fail ("playbin's source did not subscribe to 'by-uri' within 10 s");
  }
  g_object_get (viewer->pipeline, "source", &src, NULL);
  fail_unless (src != NULL);
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (src), "GstDiodeSrc");
  gst_object_unref (src);

  desc = g_strdup_printf ("videotestsrc num-buffers=60 pattern=smpte ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! "
      "x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! "
      "h264parse ! tee name=t  "
      "t. ! queue ! diodesink relay=127.0.0.1:%u stream=by-uri  "
      "t. ! queue ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=ref sync=false", FPS, relay->port);
  pub = pipes[0] = pipe_new ("publisher", desc, "ref");
  g_free (desc);
  pipe_play (pub);

  deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  while (!pub->eos) {
    pipes_check (pipes, 2);
    fail_unless (g_get_monotonic_time () < deadline, "publisher: no EOS "
        "within 20 s");
    g_usleep (10 * 1000);
  }
  pipe_wait_eos (viewer, g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND,
      "within 15 s of the publisher's");
  pipe_stop (viewer);
  pipe_stop (pub);

  ref = pub->col.sums;
  got = viewer->col.sums;
  g_print ("playbin uri=diode://...: %u of %u frames decoded\n", got->len,
      ref->len);
  fail_unless_equals_int (ref->len, 60);
  fail_unless_equals_int (got->len, ref->len);
  for (j = 0; j < ref->len; j++)
    fail_unless (!strcmp (g_ptr_array_index (got, j),
            g_ptr_array_index (ref, j)), "playbin: frame %u differs", j);

  pipe_free (viewer);
  pipe_free (pub);
  relay_finish (relay);
}

GST_END_TEST;

static Suite *
e2e_suite (void)
{
  Suite *s = suite_create ("e2e");
  TCase *tc = tcase_create ("relay");

  tcase_add_unchecked_fixture (tc, config_setup, config_teardown);
  tcase_add_test (tc, test_e2e_three_viewers);
  tcase_add_test (tc, test_late_joiner);
  tcase_add_test (tc, test_late_joiner_live);
  tcase_add_test (tc, test_playbin_uri);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (e2e);
