/* gst-diode — recordings through real pipelines: the relay binary with a
 * store, real x264enc / avdec_h264, decoded frames compared by checksum
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, items 2 to 4 as a user meets them: record a stream then watch
 * it from `earliest`, frame-identical; seek to a time (KEY_UNIT and
 * accurate) and land on the right frame; seek back into a live recorded
 * stream, then back to live; upload a real MP4 (made here with x264enc !
 * mp4mux) from filesrc ! qtdemux ! h264parse ! diodesink record=true at
 * full speed and play it from the start as a non-live source, pause and
 * seek. Each test starts diode-relay --store DIR (a temporary directory)
 * --buffer-seconds 2, so anything older than two seconds can only come from
 * the store. Loops are bounded in count and time; nothing asserts a
 * duration.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "framesums.h"
#include "testproc.h"

#include <string.h>

#define FPS 30
#define GOP 30                  /* key-int-max: a keyframe per second */
#define RING_SECONDS "2"

static gchar *config_dir;

/* ------------------------------------------------------------------------ */
/* fixture */

static void
fail_from_helpers (const gchar * msg)
{
  ck_abort_msg ("%s", msg);
}

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

  config_dir = g_dir_make_tmp ("gst-diode-rec-XXXXXX", &err);
  fail_unless (config_dir != NULL, "cannot make a temporary directory: %s",
      err ? err->message : "?");
  g_setenv ("XDG_CONFIG_HOME", config_dir, TRUE);
  tp_fail_handler = fail_from_helpers;
  tp_tmp_dir = config_dir;
  fail_unless_equals_string (g_get_user_config_dir (), config_dir);
}

static void
config_teardown (void)
{
  remove_tree (config_dir);
  tp_tmp_dir = NULL;
  g_clear_pointer (&config_dir, g_free);
}

/* diode-relay --store CONFIG/store-NAME --buffer-seconds 2 */
static Proc *
relay_start_store (const gchar * name)
{
  gchar *key = g_build_filename (config_dir, "relay.pem", NULL);
  gchar *store = g_build_filename (config_dir, name, NULL);
  const gchar *extra[] = { "--store", store, "--buffer-seconds",
    RING_SECONDS, NULL
  };
  Proc *r;

  g_mkdir_with_parents (store, 0700);
  r = relay_spawn ("relay", NULL, "127.0.0.1", 0, key, extra);
  g_free (key);
  g_free (store);
  return r;
}

static void
relay_finish (Proc * r)
{
  relay_stop (r);
  proc_free (r);
}

/* ------------------------------------------------------------------------ */
/* what a publisher's tee saw: which encoded frames are keyframes */

typedef struct
{
  GMutex lock;
  GArray *keyframes;
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

static void
tee_log_attach (TeeLog * log, Pipe * p, const gchar * element)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), element);
  GstPad *pad = gst_element_get_static_pad (e, "sink");

  g_mutex_init (&log->lock);
  log->keyframes = g_array_new (FALSE, FALSE, sizeof (guint));
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, on_tee_data, log, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);
}

static void
tee_log_clear (TeeLog * log)
{
  g_array_unref (log->keyframes);
  g_mutex_clear (&log->lock);
}

/* The latest keyframe at or before frame @idx. */
static guint
tee_log_keyframe_at_or_before (TeeLog * log, guint idx)
{
  guint i, k = G_MAXUINT;

  g_mutex_lock (&log->lock);
  for (i = 0; i < log->keyframes->len; i++)
    if (g_array_index (log->keyframes, guint, i) <= idx)
      k = g_array_index (log->keyframes, guint, i);
  g_mutex_unlock (&log->lock);
  return k;
}

/* ------------------------------------------------------------------------ */
/* bus: element messages and warnings the helpers' pipe_poll would drop */

typedef struct
{
  GMutex lock;
  GstStructure *last_upload;    /* the last "diode-upload" */
  guint uploads;
  guint progress;               /* of them with final=false before any final */
  gboolean final_seen;
  GString *warnings;
} BusLog;

static GstBusSyncReply
on_bus_sync (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  BusLog *log = user_data;

  g_mutex_lock (&log->lock);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (msg, "diode-upload")) {
    if (log->last_upload)
      gst_structure_free (log->last_upload);
    gboolean final = FALSE;

    log->last_upload = gst_structure_copy (gst_message_get_structure (msg));
    log->uploads++;
    gst_structure_get_boolean (log->last_upload, "final", &final);
    if (final)
      log->final_seen = TRUE;
    else if (!log->final_seen)
      log->progress++;
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    GError *err = NULL;

    gst_message_parse_warning (msg, &err, NULL);
    g_string_append_printf (log->warnings, "%s; ", err->message);
    g_error_free (err);
  }
  g_mutex_unlock (&log->lock);
  return GST_BUS_PASS;
}

static void
bus_log_attach (BusLog * log, Pipe * p)
{
  g_mutex_init (&log->lock);
  log->warnings = g_string_new (NULL);
  gst_bus_set_sync_handler (p->bus, on_bus_sync, log, NULL);
}

static void
bus_log_clear (BusLog * log)
{
  g_clear_pointer (&log->last_upload, gst_structure_free);
  g_string_free (log->warnings, TRUE);
  g_mutex_clear (&log->lock);
}

/* ------------------------------------------------------------------------ */
/* pipelines */

static void
wait_count (Pipe ** pipes, guint n, Pipe * p, guint count, guint secs,
    const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + secs * G_TIME_SPAN_SECOND;

  while (collector_count (&p->col) < count) {
    pipes_check (pipes, n);
    fail_unless (g_get_monotonic_time () < deadline, "%s: only %u of %u "
        "frames within %u s (%s)", p->name, collector_count (&p->col), count,
        secs, what);
    g_usleep (5 * 1000);
  }
}

/* Wait for a state change to complete; returns what it returned first. */
static GstStateChangeReturn
set_state_wait (Pipe * p, GstState state)
{
  GstStateChangeReturn first = gst_element_set_state (p->pipeline, state);
  GstStateChangeReturn r;

  fail_unless (first != GST_STATE_CHANGE_FAILURE, "%s: cannot go to %s",
      p->name, gst_element_state_get_name (state));
  r = gst_element_get_state (p->pipeline, NULL, NULL, 20 * GST_SECOND);
  if (r == GST_STATE_CHANGE_FAILURE || r == GST_STATE_CHANGE_ASYNC)
    pipe_poll (p, 0);
  fail_unless (r != GST_STATE_CHANGE_FAILURE && r != GST_STATE_CHANGE_ASYNC,
      "%s: did not reach %s within 20 s", p->name,
      gst_element_state_get_name (state));
  return first;
}

static void
run_to_eos (Pipe * p, guint secs, const gchar * why)
{
  pipe_play (p);
  pipe_wait_eos (p, g_get_monotonic_time () + secs * G_TIME_SPAN_SECOND,
      why);
}

static gchar *
sum_at (GPtrArray * a, guint i)
{
  return i < a->len ? g_ptr_array_index (a, i) : (gchar *) "(none)";
}

/* got[from..] equals ref[ref_start..] for @n frames at least. */
static void
check_run (Pipe * p, guint from, GPtrArray * ref, guint ref_start, guint n,
    const gchar * what)
{
  GPtrArray *got = p->col.sums;
  guint j;

  g_mutex_lock (&p->col.lock);
  fail_unless (got->len >= from + n, "%s: %s: %u frames, wanted %u",
      p->name, what, got->len, from + n);
  for (j = 0; j < n; j++)
    fail_unless (ref_start + j < ref->len && !strcmp (sum_at (got, from + j),
            sum_at (ref, ref_start + j)), "%s: %s: frame %u is not reference "
        "frame %u (it is reference frame %d)", p->name, what, from + j,
        ref_start + j, (gint) sums_find (ref, sum_at (got, from + j)));
  g_mutex_unlock (&p->col.lock);
}

static gint64
query_duration (Pipe * p)
{
  gint64 d = -1;

  if (!gst_element_query_duration (p->pipeline, GST_FORMAT_TIME, &d))
    return -1;
  return d;
}

static gboolean
query_seekable (Pipe * p)
{
  GstQuery *q = gst_query_new_seeking (GST_FORMAT_TIME);
  gboolean seekable = FALSE;

  if (gst_element_query (p->pipeline, q))
    gst_query_parse_seeking (q, NULL, &seekable, NULL, NULL);
  gst_query_unref (q);
  return seekable;
}

static gchar *
x264 (void)
{
  return g_strdup_printf ("x264enc tune=zerolatency key-int-max=%d "
      "speed-preset=ultrafast", GOP);
}

/* A publisher whose tee feeds diodesink record=true and a reference
 * decoder. */
static Pipe *
publisher_new (guint port, const gchar * stream, gboolean live, guint frames,
    TeeLog * log)
{
  gchar *enc = x264 ();
  gchar *nb = frames ? g_strdup_printf ("num-buffers=%u", frames) :
      g_strdup ("");
  gchar *desc = g_strdup_printf ("videotestsrc is-live=%s %s pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! %s ! h264parse ! "
      "tee name=t  t. ! queue ! diodesink name=pub relay=127.0.0.1:%u "
      "stream=%s record=true  t. ! queue ! avdec_h264 ! videoconvert ! "
      "video/x-raw,format=I420 ! appsink name=ref sync=false",
      live ? "true" : "false", nb, FPS, enc, port, stream);
  Pipe *p = pipe_new ("publisher", desc, "ref");

  if (log)
    tee_log_attach (log, p, "t");
  g_free (desc);
  g_free (nb);
  g_free (enc);
  return p;
}

/* ------------------------------------------------------------------------ */
/* tests */

#define REC_FRAMES 240          /* 8 s at 30 fps: four times the ring */

/* A live stream recorded as it is published, watched afterwards from
 * `earliest`: every frame the publisher encoded, identical, then EOS. */
GST_START_TEST (test_record_then_earliest)
{
  Proc *relay = relay_start_store ("store-earliest");
  Pipe *pub, *viewer;
  gchar *desc;

  pub = publisher_new (relay->port, "rec", TRUE, REC_FRAMES, NULL);
  run_to_eos (pub, 40, "(the live publisher, 8 s of video)");
  pipe_stop (pub);
  fail_unless_equals_int (pub->col.sums->len, REC_FRAMES);

  desc = viewer_desc (relay->port, "rec", "start=earliest");
  viewer = pipe_new ("viewer", desc, "out");
  g_free (desc);
  run_to_eos (viewer, 40, "(watching the recording from earliest)");
  pipe_stop (viewer);
  g_print ("record then earliest: %u of %u frames\n", viewer->col.sums->len,
      REC_FRAMES);
  check_run (viewer, 0, pub->col.sums, 0, REC_FRAMES, "from earliest");
  fail_unless_equals_int (viewer->col.sums->len, REC_FRAMES);

  pipe_free (viewer);
  pipe_free (pub);
  relay_finish (relay);
}

GST_END_TEST;

#define SEEK_FRAMES 300         /* 10 s */
#define SEEK_TARGET_FRAME 165   /* 5.5 s: mid-GOP */

/* Seek in a finished recording with gst_element_seek_simple: KEY_UNIT lands
 * on the keyframe at or before the target, an accurate seek on the target
 * frame itself. */
GST_START_TEST (test_seek_to_time)
{
  Proc *relay = relay_start_store ("store-seek");
  TeeLog log = { 0 };
  Pipe *pub, *viewer;
  GPtrArray *ref;
  GstClockTime target = gst_util_uint64_scale (SEEK_TARGET_FRAME, GST_SECOND,
      FPS);
  gchar *desc;
  guint kf, n0;
  gint64 dur;

  /* non-live and record=true: an upload, at full speed */
  pub = publisher_new (relay->port, "seek", FALSE, SEEK_FRAMES, &log);
  run_to_eos (pub, 40, "(uploading 10 s of video)");
  pipe_stop (pub);
  ref = pub->col.sums;
  fail_unless_equals_int (ref->len, SEEK_FRAMES);
  kf = tee_log_keyframe_at_or_before (&log, SEEK_TARGET_FRAME);
  fail_unless (kf != G_MAXUINT && kf < SEEK_TARGET_FRAME);

  desc = viewer_desc (relay->port, "seek", NULL);
  viewer = pipe_new ("viewer", desc, "out");
  g_free (desc);
  /* A finished recording is a non-live source: it prerolls. */
  fail_unless_equals_int (set_state_wait (viewer, GST_STATE_PAUSED),
      GST_STATE_CHANGE_ASYNC);
  fail_unless (query_seekable (viewer), "a recording must be seekable");
  dur = query_duration (viewer);
  fail_unless (dur >= 9 * GST_SECOND && dur <= 11 * GST_SECOND,
      "duration %" GST_TIME_FORMAT ", the recording is 10 s",
      GST_TIME_ARGS (dur));

  /* KEY_UNIT: the keyframe at or before 5.5 s */
  fail_unless (gst_element_seek_simple (viewer->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, target));
  set_state_wait (viewer, GST_STATE_PAUSED);
  n0 = collector_count (&viewer->col);
  fail_unless_equals_int (n0, 0);
  set_state_wait (viewer, GST_STATE_PLAYING);
  wait_count (&viewer, 1, viewer, 30, 20, "after a KEY_UNIT seek");
  check_run (viewer, 0, ref, kf, 30, "KEY_UNIT seek to 5.5 s");

  /* accurate: the frame at 5.5 s itself (what comes before is clipped) */
  set_state_wait (viewer, GST_STATE_PAUSED);
  n0 = collector_count (&viewer->col);
  fail_unless (gst_element_seek_simple (viewer->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE, target));
  set_state_wait (viewer, GST_STATE_PAUSED);
  set_state_wait (viewer, GST_STATE_PLAYING);
  wait_count (&viewer, 1, viewer, n0 + 30, 20, "after an accurate seek");
  /* A frame rendered between the count and the flush is an old one: it is
   * in the reference and continues the KEY_UNIT run (reference index one
   * past the frame before it). Skip only those: anything else from n0 on
   * is the seek's, and check_run fails on a frame the reference does not
   * have (garbage decoded without its keyframe) or on one that is not the
   * target. */
  g_mutex_lock (&viewer->col.lock);
  while (n0 > 0 && n0 < viewer->col.sums->len) {
    guint at = sums_find (ref, sum_at (viewer->col.sums, n0));
    guint before = sums_find (ref, sum_at (viewer->col.sums, n0 - 1));

    if (at == G_MAXUINT || at == SEEK_TARGET_FRAME || before == G_MAXUINT
        || at != before + 1)
      break;
    n0++;
  }
  g_mutex_unlock (&viewer->col.lock);
  check_run (viewer, n0, ref, SEEK_TARGET_FRAME, 30, "accurate seek to 5.5 s");

  pipe_free (viewer);
  pipe_free (pub);
  tee_log_clear (&log);
  relay_finish (relay);
}

GST_END_TEST;

#define LIVE_BACK_FRAME 30      /* seek back to 1.0 s */

/* Watching a live recorded stream: seek back to 1 s (from the store: the
 * ring holds 2 s), then forward past the live edge, which is live again. */
GST_START_TEST (test_live_seek_back_then_live)
{
  Proc *relay = relay_start_store ("store-live");
  TeeLog log = { 0 };
  Pipe *pipes[2], *pub, *viewer;
  GPtrArray *ref;
  gchar *desc;
  guint kf, n0, i, live_at, found;

  pub = pipes[0] = publisher_new (relay->port, "cam", TRUE, 0, &log);
  pipe_play (pub);
  ref = pub->col.sums;
  wait_count (pipes, 1, pub, 5 * FPS, 30, "publishing 5 s live");

  desc = viewer_desc (relay->port, "cam", NULL);
  viewer = pipes[1] = pipe_new ("viewer", desc, "out");
  g_free (desc);
  /* Still live: a live source, no preroll. */
  fail_unless_equals_int (gst_element_set_state (viewer->pipeline,
          GST_STATE_PAUSED), GST_STATE_CHANGE_NO_PREROLL);
  pipe_play (viewer);
  wait_count (pipes, 2, viewer, 10, 20, "watching live");
  fail_unless (query_seekable (viewer), "a live recorded stream must be "
      "seekable");

  /* back to 1 s */
  kf = tee_log_keyframe_at_or_before (&log, LIVE_BACK_FRAME);
  n0 = collector_count (&viewer->col);
  fail_unless (gst_element_seek_simple (viewer->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
          gst_util_uint64_scale (LIVE_BACK_FRAME, GST_SECOND, FPS)));
  wait_count (pipes, 2, viewer, n0 + 3 * FPS, 30, "after seeking back");
  /* frames rendered before the flush are near the live edge */
  found = G_MAXUINT;
  g_mutex_lock (&viewer->col.lock);
  for (i = n0; i < viewer->col.sums->len && found == G_MAXUINT; i++)
    if (sums_find (ref, sum_at (viewer->col.sums, i)) <= 2 * FPS)
      found = i;
  g_mutex_unlock (&viewer->col.lock);
  fail_unless (found != G_MAXUINT, "no frame of the first 2 s after seeking "
      "back to 1 s");
  check_run (viewer, found, ref, kf, 2 * FPS, "seek back to 1 s");

  /* forward past the live edge: live again */
  n0 = collector_count (&viewer->col);
  live_at = collector_count (&pub->col);
  fail_unless (gst_element_seek_simple (viewer->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT, 3600 * GST_SECOND));
  wait_count (pipes, 2, viewer, n0 + FPS, 30, "after going back to live");
  /* The first frame at or after live_at's keyframe, then the stream on
   * from there. */
  found = G_MAXUINT;
  g_mutex_lock (&viewer->col.lock);
  for (i = n0; i < viewer->col.sums->len && found == G_MAXUINT; i++) {
    guint at = sums_find (ref, sum_at (viewer->col.sums, i));

    if (at != G_MAXUINT && at + 2 * GOP >= live_at && at > 3 * FPS)
      found = i;
  }
  g_mutex_unlock (&viewer->col.lock);
  fail_unless (found != G_MAXUINT, "no frame near the live edge (reference "
      "frame %u) after seeking past it", live_at);
  /* Live again: the publisher's frames in order from there on. A viewer
   * slower than the stream (a loaded machine) may be skipped ahead to a
   * later keyframe by the relay, so gaps forward are allowed; anything
   * else (a frame that is no reference frame, going back) is not. */
  wait_count (pipes, 2, viewer, found + FPS, 30, "live again");
  /* the reference decoder a second further, so it has every frame the
   * viewer has */
  wait_count (pipes, 1, pub, collector_count (&pub->col) + FPS, 30,
      "reference");
  {
    guint at = sums_find (ref, sum_at (viewer->col.sums, found));

    g_mutex_lock (&viewer->col.lock);
    for (i = found + 1; i < found + FPS; i++) {
      guint next = sums_find (ref, sum_at (viewer->col.sums, i));

      fail_unless (next != G_MAXUINT && next > at, "back to live: frame %u "
          "is reference frame %d, after reference frame %u", i, (gint) next,
          at);
      at = next;
    }
    g_mutex_unlock (&viewer->col.lock);
  }

  pipe_free (viewer);
  pipe_free (pub);
  tee_log_clear (&log);
  relay_finish (relay);
}

GST_END_TEST;

#define VOD_FRAMES 450          /* 15 s: seven times the ring */
#define VOD_SEEK_FRAME 300      /* 10 s, a keyframe */

/* A film: a real MP4 made here, uploaded at full speed from filesrc !
 * qtdemux ! h264parse ! diodesink record=true, then played from the start
 * as a non-live source (frame-identical to decoding the file), paused and
 * seeked. */
GST_START_TEST (test_vod_upload_mp4)
{
  Proc *relay = relay_start_store ("store-vod");
  gchar *mp4 = g_build_filename (config_dir, "film.mp4", NULL);
  Pipe *maker, *ref_pipe, *up, *viewer, *v2;
  BusLog bl = { 0 };
  GPtrArray *ref;
  gchar *desc;
  gboolean final = FALSE;
  gint percent = 0;
  GstElement *sink;
  GstStructure *st = NULL;
  gchar *recording = NULL;
  gint64 dur;

  desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! x264enc "
      "key-int-max=%d bframes=0 speed-preset=ultrafast ! h264parse ! mp4mux "
      "! filesink location=%s", VOD_FRAMES, FPS, GOP, mp4);
  maker = pipe_new ("mp4 maker", desc, NULL);
  g_free (desc);
  run_to_eos (maker, 60, "(making the MP4)");
  pipe_free (maker);

  desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
      "avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! appsink "
      "name=ref sync=false", mp4);
  ref_pipe = pipe_new ("reference", desc, "ref");
  g_free (desc);
  run_to_eos (ref_pipe, 60, "(decoding the MP4)");
  ref = ref_pipe->col.sums;
  fail_unless_equals_int (ref->len, VOD_FRAMES);

  desc = g_strdup_printf ("filesrc location=%s ! qtdemux ! h264parse ! "
      "diodesink name=up relay=127.0.0.1:%u stream=movie record=true "
      "stats-interval=50", mp4, relay->port);
  up = pipe_new ("upload", desc, NULL);
  g_free (desc);
  bus_log_attach (&bl, up);
  run_to_eos (up, 60, "(uploading the MP4)");
  sink = gst_bin_get_by_name (GST_BIN (up->pipeline), "up");
  g_object_get (sink, "stats", &st, NULL);
  gst_object_unref (sink);
  recording = g_strdup (gst_structure_get_string (st, "recording"));
  gst_structure_free (st);
  pipe_stop (up);
  g_mutex_lock (&bl.lock);
  fail_unless (bl.uploads >= 1, "no diode-upload message");
  /* progress, not only the final word: diodesink posts one at the first
   * buffer of an upload whatever stats-interval is (docs/stats.md) */
  fail_unless (bl.progress >= 1, "no diode-upload with final=false before "
      "the final one (%u messages)", bl.uploads);
  gst_structure_get_boolean (bl.last_upload, "final", &final);
  gst_structure_get_int (bl.last_upload, "percent", &percent);
  {
    gchar *str = gst_structure_to_string (bl.last_upload);

    g_print ("upload: %u diode-upload messages (%u progress), last %s\n",
        bl.uploads, bl.progress, str);
    g_free (str);
  }
  fail_unless (final, "the relay did not confirm the upload (STORED final)");
  fail_unless_equals_int (percent, 100);
  fail_unless (bl.warnings->len == 0, "upload warnings: %s",
      bl.warnings->str);
  g_mutex_unlock (&bl.lock);
  fail_unless_equals_string (recording, "recording");

  /* From the start, non-live, frame-identical, to EOS. */
  desc = viewer_desc (relay->port, "movie", NULL);
  viewer = pipe_new ("viewer", desc, "out");
  fail_unless_equals_int (set_state_wait (viewer, GST_STATE_PAUSED),
      GST_STATE_CHANGE_ASYNC);
  dur = query_duration (viewer);
  fail_unless (dur >= 14 * GST_SECOND && dur <= 16 * GST_SECOND,
      "duration %" GST_TIME_FORMAT ", the film is 15 s", GST_TIME_ARGS (dur));
  run_to_eos (viewer, 60, "(playing the film)");
  g_print ("vod: %u of %u frames\n", viewer->col.sums->len, ref->len);
  check_run (viewer, 0, ref, 0, VOD_FRAMES, "the film from the start");
  fail_unless_equals_int (viewer->col.sums->len, VOD_FRAMES);
  pipe_free (viewer);

  /* Another viewer: pause, seek to 10 s, play on, pause, play to EOS. */
  v2 = pipe_new ("seeking viewer", desc, "out");
  g_free (desc);
  set_state_wait (v2, GST_STATE_PAUSED);
  fail_unless (gst_element_seek_simple (v2->pipeline, GST_FORMAT_TIME,
          GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT,
          gst_util_uint64_scale (VOD_SEEK_FRAME, GST_SECOND, FPS)));
  set_state_wait (v2, GST_STATE_PAUSED);
  set_state_wait (v2, GST_STATE_PLAYING);
  wait_count (&v2, 1, v2, 30, 20, "after seeking the film to 10 s");
  set_state_wait (v2, GST_STATE_PAUSED);
  set_state_wait (v2, GST_STATE_PLAYING);
  pipe_wait_eos (v2, g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND,
      "(the film from 10 s)");
  check_run (v2, 0, ref, VOD_SEEK_FRAME, VOD_FRAMES - VOD_SEEK_FRAME,
      "the film from 10 s");
  fail_unless_equals_int (v2->col.sums->len, VOD_FRAMES - VOD_SEEK_FRAME);

  pipe_free (v2);
  pipe_free (up);
  bus_log_clear (&bl);
  pipe_free (ref_pipe);
  g_free (recording);
  g_free (mp4);
  relay_finish (relay);
}

GST_END_TEST;

static Suite *
recording_suite (void)
{
  Suite *s = suite_create ("recording");
  TCase *tc = tcase_create ("pipelines");

  tcase_set_timeout (tc, 180);
  tcase_add_unchecked_fixture (tc, config_setup, config_teardown);
  tcase_add_test (tc, test_record_then_earliest);
  tcase_add_test (tc, test_seek_to_time);
  tcase_add_test (tc, test_live_seek_back_then_live);
  tcase_add_test (tc, test_vod_upload_mp4);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (recording);
