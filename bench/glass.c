/* gst-diode — diode-glass: glass-to-glass latency, for bench/glass.sh
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-glass pub SINK [--duration S]
 *   diode-glass view SRC [--duration S] [--join VALUE]
 *   diode-glass joins SRC [--duration S] [--join VALUE] [--joiners N]
 *               [--settle S] [--period S] [--watch S] [--gop S] [--seed N]
 *
 * pub:  videotestsrc is-live=true pattern=smpte horizontal-speed=4
 *       ! I420 1280x720 30/1 ! identity (stamp probe) ! x264enc
 *       tune=zerolatency bitrate=4000 key-int-max=60 speed-preset=veryfast
 *       option-string=scenecut=0 ! h264parse config-interval=-1
 *       ! byte-stream/au ! SINK
 *       The picture scrolls (4 pixels a frame) so that the encoder spends
 *       its bit rate as on a camera, not on a still picture; scenecut=0
 *       because x264 otherwise puts an I frame every few frames into this
 *       content (measured: 139 of 300), and a 2 s GOP is what a joiner
 *       has to cope with.
 *       The probe writes the frame index into the luma plane (below) and
 *       prints "S INDEX PROBE_NS CAPTURE_NS" per frame: the probe's own
 *       time and the capture time from the buffer's PTS (capture_time()).
 * view: SRC ! h264parse ! avdec_h264 ! fakesink sync=true signal-handoffs=true
 *       The handoff (called when a sync=true sink renders the buffer, i.e.
 *       after its clock wait) reads the index back and prints
 *       "R 0 INDEX RENDER_NS"; a picture whose blocks do not decode
 *       cleanly prints "X 0 REASON".
 * joins: one long-standing viewer (number 0) for the whole run plus
 *       --joiners viewers, each its own pipeline in this process: joiner k
 *       starts at settle + k * period + a point drawn in [0, gop) (spread
 *       uniformly: one draw per k-th slice of the GOP, slices shuffled),
 *       prints "J k START_NS" when it is set to PLAYING, watches --watch
 *       seconds and leaves ("L k"). Render lines carry the viewer's number.
 *
 * Every time is CLOCK_MONOTONIC, the same clock in every process of the
 * machine, so the publisher's and the viewer's lines can be joined on the
 * index by the script (render - capture = one glass-to-glass sample).
 * SRC and SINK are gst-launch descriptions. --join sets diodesrc's `join`
 * property only where the element has one (older diodesrc: ignored, said
 * on stderr). The run ends after --duration seconds, at SIGINT/SIGTERM, or
 * at an error of viewer 0 or the publisher (exit status 1).
 *
 * The stamp: 2 rows of 32 blocks of 32x32 luma pixels at the top left;
 * row 0 holds the index's 32 bits (MSB first, 235 = 1, 16 = 0), row 1 the
 * same bits inverted. A block is read as the mean of its central 16x16
 * pixels (x264's ringing stays at the edges); a mean between 80 and 176
 * or a row 1 that is not row 0 inverted rejects the picture. Chroma under
 * the blocks is set neutral.
 */
#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib-unix.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BITS 32
#define BLOCK 32
#define Y_ONE 235
#define Y_ZERO 16
#define AMBIG_LO 80
#define AMBIG_HI 176

#define PUB_DESC \
  "videotestsrc is-live=true pattern=smpte horizontal-speed=4 " \
  "! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 " \
  "! identity name=stamp " \
  "! x264enc tune=zerolatency bitrate=4000 key-int-max=60 " \
  "speed-preset=veryfast option-string=scenecut=0 " \
  "! h264parse config-interval=-1 " \
  "! video/x-h264,stream-format=byte-stream,alignment=au ! "

#define VIEW_DESC \
  " ! h264parse ! avdec_h264 ! fakesink name=render sync=true " \
  "signal-handoffs=true"

typedef struct
{
  guint num;
  GstElement *pipe;
  guint bus_watch;
  /* the render thread's cached video info (only that thread uses it) */
  GstCaps *caps;
  GstVideoInfo info;
} Viewer;

static GMainLoop *loop;
static int exit_status;
static gchar *opt_join;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

/* One line per call: stdio locks the stream per call, so the lines of
 * several streaming threads never interleave. Flushed at once because the
 * script reads the file while the run goes on and the process may be
 * stopped by `timeout`. */
static void
emit (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);

static void
emit (const gchar * fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  flockfile (stdout);
  vfprintf (stdout, fmt, ap);
  fflush (stdout);
  funlockfile (stdout);
  va_end (ap);
}

/* ------------------------------------------------------------ stamping */

static void
fill (guint8 * p, gint stride, gint x0, gint y0, gint w, gint h, guint8 v)
{
  gint y;

  for (y = y0; y < y0 + h; y++)
    memset (p + (gsize) y * stride + x0, v, w);
}

static void
stamp_frame (GstVideoFrame * f, guint32 index)
{
  guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (f, 0);
  gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
  gint b;

  for (b = 0; b < BITS; b++) {
    gboolean one = (index >> (BITS - 1 - b)) & 1;

    fill (y, ys, b * BLOCK, 0, BLOCK, BLOCK, one ? Y_ONE : Y_ZERO);
    fill (y, ys, b * BLOCK, BLOCK, BLOCK, BLOCK, one ? Y_ZERO : Y_ONE);
  }
  /* I420: chroma planes are half size in both directions */
  fill (GST_VIDEO_FRAME_PLANE_DATA (f, 1), GST_VIDEO_FRAME_PLANE_STRIDE (f, 1),
      0, 0, BITS * BLOCK / 2, BLOCK, 128);
  fill (GST_VIDEO_FRAME_PLANE_DATA (f, 2), GST_VIDEO_FRAME_PLANE_STRIDE (f, 2),
      0, 0, BITS * BLOCK / 2, BLOCK, 128);
}

/* When the live source captured @buf: its PTS is the running time of the
 * capture, so base time + PTS on the pipeline clock. That clock is the
 * system clock, CLOCK_MONOTONIC, unless something else provides one: then
 * -1 (the script falls back on the probe's own time). The probe's time
 * alone would hide a publisher stall: a live source that was held up
 * pushes its late frames in a burst, each stamped later than it was due. */
static gint64
capture_time (GstPad * pad, GstBuffer * buf)
{
  GstElement *e = GST_ELEMENT (gst_pad_get_parent (pad));
  GstClock *clock = e ? gst_element_get_clock (e) : NULL;
  GstEvent *ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  GstClockType type = GST_CLOCK_TYPE_REALTIME;
  gint64 cap = -1;

  if (clock && GST_IS_SYSTEM_CLOCK (clock))
    g_object_get (clock, "clock-type", &type, NULL);
  if (type == GST_CLOCK_TYPE_MONOTONIC && ev && GST_BUFFER_PTS_IS_VALID (buf)) {
    const GstSegment *seg;
    GstClockTime rt;

    gst_event_parse_segment (ev, &seg);
    rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME,
        GST_BUFFER_PTS (buf));
    if (GST_CLOCK_TIME_IS_VALID (rt))
      cap = (gint64) (gst_element_get_base_time (e) + rt);
  }
  if (ev)
    gst_event_unref (ev);
  if (clock)
    gst_object_unref (clock);
  if (e)
    gst_object_unref (e);
  return cap;
}

static GstPadProbeReturn
on_capture (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  static guint32 next_index;
  GstVideoInfo *vi = user_data;
  GstBuffer *buf;
  GstVideoFrame frame;
  gint64 t = now_ns (), cap;

  if (GST_VIDEO_INFO_FORMAT (vi) == GST_VIDEO_FORMAT_UNKNOWN) {
    GstCaps *caps = gst_pad_get_current_caps (pad);

    if (!caps || !gst_video_info_from_caps (vi, caps))
      g_error ("stamp: no video caps");
    gst_caps_unref (caps);
  }
  cap = capture_time (pad, GST_PAD_PROBE_INFO_BUFFER (info));
  buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  if (!gst_video_frame_map (&frame, vi, buf, GST_MAP_WRITE))
    g_error ("stamp: cannot map the frame");
  stamp_frame (&frame, next_index);
  gst_video_frame_unmap (&frame);
  emit ("S %u %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", next_index, t,
      cap);
  next_index++;
  return GST_PAD_PROBE_OK;
}

/* Mean of the central half (both ways) of the block at (bx, by). */
static guint
block_mean (const guint8 * y, gint stride, gint bx, gint by)
{
  guint sum = 0;
  gint r, c;

  for (r = BLOCK / 4; r < 3 * BLOCK / 4; r++)
    for (c = BLOCK / 4; c < 3 * BLOCK / 4; c++)
      sum += y[(gsize) (by * BLOCK + r) * stride + bx * BLOCK + c];
  return sum / (BLOCK / 2 * BLOCK / 2);
}

/* The index in @f, or a reason it cannot be read. */
static const gchar *
read_index (GstVideoFrame * f, guint32 * index)
{
  const guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (f, 0);
  gint ys = GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
  guint32 v = 0, inv = 0;
  gint b;

  if (GST_VIDEO_FRAME_WIDTH (f) < BITS * BLOCK
      || GST_VIDEO_FRAME_HEIGHT (f) < 2 * BLOCK)
    return "small";
  for (b = 0; b < BITS; b++) {
    guint m0 = block_mean (y, ys, b, 0), m1 = block_mean (y, ys, b, 1);

    if ((m0 > AMBIG_LO && m0 < AMBIG_HI) || (m1 > AMBIG_LO && m1 < AMBIG_HI))
      return "ambiguous";
    v = (v << 1) | (m0 >= AMBIG_HI);
    inv = (inv << 1) | (m1 >= AMBIG_HI);
  }
  if (v != ~inv)
    return "mismatch";
  *index = v;
  return NULL;
}

/* fakesink's handoff: called from the render thread once a sync=true sink
 * has waited for the buffer's time, i.e. at rendering. */
static void
on_render (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user_data)
{
  Viewer *v = user_data;
  gint64 t = now_ns ();
  GstVideoFrame frame;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  const gchar *why;
  guint32 index = 0;

  if (!caps) {
    emit ("X %u nocaps\n", v->num);
    return;
  }
  if (!v->caps || !gst_caps_is_equal (caps, v->caps)) {
    if (!gst_video_info_from_caps (&v->info, caps)) {
      gst_caps_unref (caps);
      emit ("X %u badcaps\n", v->num);
      return;
    }
    gst_caps_replace (&v->caps, caps);
  }
  gst_caps_unref (caps);
  if (!gst_video_frame_map (&frame, &v->info, buf, GST_MAP_READ)) {
    emit ("X %u map\n", v->num);
    return;
  }
  why = read_index (&frame, &index);
  gst_video_frame_unmap (&frame);
  if (why)
    emit ("X %u %s\n", v->num, why);
  else
    emit ("R %u %u %" G_GINT64_FORMAT "\n", v->num, index, t);
}

/* ------------------------------------------------------------ pipelines */

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  Viewer *v = user_data;
  GError *err = NULL;
  gchar *dbg = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      g_printerr ("pipeline %u: error from %s: %s (%s)\n", v->num,
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
          dbg ? dbg : "");
      emit ("F %u error\n", v->num);
      g_clear_error (&err);
      g_free (dbg);
      if (v->num == 0) {
        exit_status = 1;
        g_main_loop_quit (loop);
      } else {
        gst_element_set_state (v->pipe, GST_STATE_NULL);
      }
      break;
    case GST_MESSAGE_EOS:
      g_printerr ("pipeline %u: EOS\n", v->num);
      if (v->num == 0)
        g_main_loop_quit (loop);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      g_printerr ("pipeline %u: warning from %s: %s\n", v->num,
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
      g_clear_error (&err);
      g_free (dbg);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static GstElement *
parse (const gchar * desc)
{
  GError *err = NULL;
  GstElement *pipe = gst_parse_launch (desc, &err);

  if (!pipe || err) {
    g_printerr ("cannot build \"%s\": %s\n", desc,
        err ? err->message : "unknown error");
    exit (2);
  }
  return pipe;
}

/* diodesrc's `join` (issue 13) where the source has it: an older element
 * without it simply keeps its only behaviour. */
static void
set_join (GstElement * pipe, guint num)
{
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  gboolean found = FALSE;

  if (!opt_join)
    return;
  it = gst_bin_iterate_recurse (GST_BIN (pipe));
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);

    if (g_object_class_find_property (G_OBJECT_GET_CLASS (e), "join")) {
      gst_util_set_object_arg (G_OBJECT (e), "join", opt_join);
      found = TRUE;
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  if (!found && num == 0)
    g_printerr ("--join %s: no element has a `join` property; ignored\n",
        opt_join);
}

static Viewer *
viewer_new (const gchar * src, guint num)
{
  Viewer *v = g_new0 (Viewer, 1);
  gchar *desc = g_strconcat (src, VIEW_DESC, NULL);
  GstElement *sink;
  GstBus *bus;

  v->num = num;
  v->pipe = parse (desc);
  g_free (desc);
  set_join (v->pipe, num);
  sink = gst_bin_get_by_name (GST_BIN (v->pipe), "render");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_render), v);
  gst_object_unref (sink);
  bus = gst_element_get_bus (v->pipe);
  v->bus_watch = gst_bus_add_watch (bus, on_bus, v);
  gst_object_unref (bus);
  return v;
}

static void
viewer_start (Viewer * v)
{
  emit ("J %u %" G_GINT64_FORMAT "\n", v->num, now_ns ());
  if (gst_element_set_state (v->pipe, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("pipeline %u: cannot start\n", v->num);
    emit ("F %u start\n", v->num);
  }
}

static void
viewer_free (Viewer * v)
{
  if (!v)
    return;
  gst_element_set_state (v->pipe, GST_STATE_NULL);
  g_source_remove (v->bus_watch);
  gst_object_unref (v->pipe);
  gst_caps_replace (&v->caps, NULL);
  g_free (v);
}

/* ------------------------------------------------------------ joins */

typedef struct
{
  const gchar *src;
  guint num;
  guint watch_ms;
  Viewer *v;
} Joiner;

static gboolean
joiner_leave (gpointer user_data)
{
  Joiner *j = user_data;

  emit ("L %u %" G_GINT64_FORMAT "\n", j->num, now_ns ());
  viewer_free (j->v);
  j->v = NULL;
  return G_SOURCE_REMOVE;
}

static gboolean
joiner_join (gpointer user_data)
{
  Joiner *j = user_data;

  j->v = viewer_new (j->src, j->num);
  viewer_start (j->v);
  g_timeout_add (j->watch_ms, joiner_leave, j);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------ main */

static gboolean
on_stop (gpointer user_data)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

static void
usage (void)
{
  g_printerr ("usage: diode-glass pub SINK | view SRC | joins SRC "
      "[--duration S] [--join VALUE] [--joiners N] [--settle S] "
      "[--period S] [--watch S] [--gop S] [--seed N]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  gdouble duration = 60, settle = 6, period = 4, watch = 3, gop = 2;
  gint joiners = 20, seed = 1;
  GOptionEntry entries[] = {
    {"duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "run time (s)", "S"},
    {"join", 0, 0, G_OPTION_ARG_STRING, &opt_join, "diodesrc join", "V"},
    {"joiners", 0, 0, G_OPTION_ARG_INT, &joiners, "joiners", "N"},
    {"settle", 0, 0, G_OPTION_ARG_DOUBLE, &settle, "first join (s)", "S"},
    {"period", 0, 0, G_OPTION_ARG_DOUBLE, &period, "join spacing (s)", "S"},
    {"watch", 0, 0, G_OPTION_ARG_DOUBLE, &watch, "joiner stays (s)", "S"},
    {"gop", 0, 0, G_OPTION_ARG_DOUBLE, &gop, "GOP length (s)", "S"},
    {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "random seed", "N"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("pub SINK | view SRC | joins SRC");
  GError *err = NULL;
  GstElement *pub = NULL;
  Viewer *main_viewer = NULL;
  Joiner *js = NULL;
  GstVideoInfo vi;
  gint k;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    usage ();
  }
  g_option_context_free (ctx);
  if (argc != 3 || duration <= 0 || duration > 3600 || joiners < 0
      || joiners > 1000)
    usage ();
  gst_init (NULL, NULL);
  loop = g_main_loop_new (NULL, FALSE);

  if (strcmp (argv[1], "pub") == 0) {
    gchar *desc = g_strconcat (PUB_DESC, argv[2], NULL);
    GstElement *stamp;
    GstPad *pad;
    Viewer *bus_ctx = g_new0 (Viewer, 1);
    GstBus *bus;

    pub = parse (desc);
    g_free (desc);
    gst_video_info_init (&vi);
    stamp = gst_bin_get_by_name (GST_BIN (pub), "stamp");
    pad = gst_element_get_static_pad (stamp, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_capture, &vi, NULL);
    gst_object_unref (pad);
    gst_object_unref (stamp);
    bus = gst_element_get_bus (pub);
    gst_bus_add_watch (bus, on_bus, bus_ctx);
    gst_object_unref (bus);
    if (gst_element_set_state (pub, GST_STATE_PLAYING) ==
        GST_STATE_CHANGE_FAILURE) {
      g_printerr ("publisher: cannot start\n");
      return 1;
    }
  } else if (strcmp (argv[1], "view") == 0 || strcmp (argv[1], "joins") == 0) {
    main_viewer = viewer_new (argv[2], 0);
    viewer_start (main_viewer);
    if (strcmp (argv[1], "joins") == 0 && joiners > 0) {
      GRand *rand = g_rand_new_with_seed (seed);
      gint *slice = g_new (gint, joiners);

      /* slice k of the GOP for one joiner each, in a shuffled order */
      for (k = 0; k < joiners; k++)
        slice[k] = k;
      for (k = joiners - 1; k > 0; k--) {
        gint r = g_rand_int_range (rand, 0, k + 1), tmp = slice[k];

        slice[k] = slice[r];
        slice[r] = tmp;
      }
      js = g_new0 (Joiner, joiners);
      for (k = 0; k < joiners; k++) {
        gdouble at = settle + k * period +
            gop * (slice[k] + g_rand_double (rand)) / joiners;

        js[k].src = argv[2];
        js[k].num = k + 1;
        js[k].watch_ms = (guint) (watch * 1000);
        g_timeout_add ((guint) (at * 1000), joiner_join, &js[k]);
      }
      g_free (slice);
      g_rand_free (rand);
    }
  } else {
    usage ();
  }

  g_timeout_add ((guint) (duration * 1000), on_stop, NULL);
  g_unix_signal_add (SIGINT, on_stop, NULL);
  g_unix_signal_add (SIGTERM, on_stop, NULL);
  g_main_loop_run (loop);

  if (pub) {
    gst_element_set_state (pub, GST_STATE_NULL);
    gst_object_unref (pub);
  }
  viewer_free (main_viewer);
  for (k = 0; js && k < joiners; k++)
    viewer_free (js[k].v);
  g_free (js);
  g_main_loop_unref (loop);
  return exit_status;
}
