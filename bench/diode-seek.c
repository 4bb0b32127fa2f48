/* gst-diode — diode-seek: seek latency in a recording, for the benchmarks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-seek --relay 127.0.0.1:P [--relay-id 0x..] --stream S \
 *              [--seeks 100] [--seed 1] [--flags key-unit|accurate]
 *
 * Plays a recording the way a player scrubs through it:
 *
 *   diodesrc start=earliest ! h264parse ! avdec_h264 ! fakesink sync=false
 *
 * prerolled in PAUSED (a finished recording makes diodesrc a non-live
 * source), asks its DURATION, then does --seeks flushing TIME seeks to
 * targets drawn uniformly in [0, duration) (GRand, --seed) and measures
 * each one from the call to gst_element_seek() to the first decoded frame
 * reaching the sink after the flush (a pad probe: FLUSH_STOP, then the
 * first buffer). Between seeks it waits for ASYNC_DONE (the sink prerolled
 * on that frame), so every seek starts from a still pipeline, as a user
 * dragging a slider does.
 *
 * Output: one JSON line on stdout: seek latency mean/p50/p90/p99/max in ms,
 * the landing error (|first frame PTS - target| in ms, p50/max: a KEY_UNIT
 * seek lands on the keyframe before the target), the duration, and the
 * failures (seeks refused, or no frame within 10 s).
 */
#include <gst/gst.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static GMutex lock;
static GCond cond;
static gboolean armed, flushed, got;
static gint64 t_first;
static GstClockTime first_pts;

static GstPadProbeReturn
on_sink_data (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  g_mutex_lock (&lock);
  if (armed) {
    if (info->type & GST_PAD_PROBE_TYPE_EVENT_FLUSH) {
      GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);

      if (GST_EVENT_TYPE (ev) == GST_EVENT_FLUSH_STOP)
        flushed = TRUE;
    } else if ((info->type & GST_PAD_PROBE_TYPE_BUFFER) && flushed && !got) {
      GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
      GstEvent *ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);

      t_first = g_get_monotonic_time ();
      /* in stream time, the domain of the seek target */
      first_pts = GST_CLOCK_TIME_NONE;
      if (ev) {
        const GstSegment *seg;

        gst_event_parse_segment (ev, &seg);
        first_pts = gst_segment_to_stream_time (seg, GST_FORMAT_TIME,
            GST_BUFFER_PTS (b));
        gst_event_unref (ev);
      }
      got = TRUE;
      g_cond_broadcast (&cond);
    }
  }
  g_mutex_unlock (&lock);
  return GST_PAD_PROBE_OK;
}

/* Bus messages until ASYNC_DONE (TRUE) or an error / @timeout (FALSE). */
static gboolean
wait_async_done (GstElement * pipe, GstClockTime timeout, gchar ** why)
{
  GstBus *bus = gst_element_get_bus (pipe);
  gint64 end = g_get_monotonic_time () + timeout / 1000;
  gboolean ok = FALSE;

  while (g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR | GST_MESSAGE_EOS);

    if (!m)
      continue;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ASYNC_DONE) {
      ok = TRUE;
    } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *err = NULL;

      gst_message_parse_error (m, &err, NULL);
      if (why)
        *why = g_strdup (err->message);
      g_error_free (err);
    } else if (why) {
      *why = g_strdup ("EOS");
    }
    gst_message_unref (m);
    break;
  }
  gst_object_unref (bus);
  return ok;
}

static int
cmp_dbl (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
pct (GArray * a, double p)
{
  guint k;

  if (a->len == 0)
    return NAN;
  k = (guint) ceil (p / 100.0 * a->len);
  if (k < 1)
    k = 1;
  return g_array_index (a, double, k - 1);
}

static void
jnum (GString * s, const gchar * k, double v, gboolean last)
{
  if (isnan (v))
    g_string_append_printf (s, "\"%s\":null%s", k, last ? "" : ",");
  else
    g_string_append_printf (s, "\"%s\":%.3f%s", k, v, last ? "" : ",");
}

int
main (int argc, char **argv)
{
  gchar *relay = NULL, *relay_id = NULL, *stream = NULL, *flags_s = NULL;
  gint seeks = 100, seed = 1;
  GOptionEntry entries[] = {
    {"relay", 0, 0, G_OPTION_ARG_STRING, &relay, "Relay HOST:PORT", "H:P"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &relay_id, "Pinned relay", "0x"},
    {"stream", 0, 0, G_OPTION_ARG_STRING, &stream, "Recording", "NAME"},
    {"seeks", 0, 0, G_OPTION_ARG_INT, &seeks, "Seeks (100)", "N"},
    {"seed", 0, 0, G_OPTION_ARG_INT, &seed, "Random seed (1)", "N"},
    {"flags", 0, 0, G_OPTION_ARG_STRING, &flags_s,
        "key-unit (default) or accurate", "F"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- seek latency in a "
      "recording");
  GError *err = NULL;
  GstElement *pipe, *src, *sink;
  GstPad *pad;
  GArray *lat, *land;
  GRand *rnd;
  gint64 dur = 0;
  GstSeekFlags sflags = GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT |
      GST_SEEK_FLAG_SNAP_BEFORE;
  guint failed = 0, i;
  gchar *desc, *why = NULL;
  GString *s;
  double sum = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || !relay || !stream
      || seeks < 1 || seeks > 100000) {
    fprintf (stderr, "diode-seek: %s\n", err ? err->message :
        "need --relay, --stream, 1 <= --seeks <= 100000");
    return 2;
  }
  g_option_context_free (ctx);
  if (flags_s && !strcmp (flags_s, "accurate"))
    sflags = GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE;

  desc = g_strdup_printf ("diodesrc name=src start=earliest timeout=20000 ! "
      "h264parse ! avdec_h264 ! fakesink name=sink sync=false");
  pipe = gst_parse_launch (desc, &err);
  g_free (desc);
  if (!pipe) {
    fprintf (stderr, "diode-seek: %s\n", err->message);
    return 1;
  }
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  g_object_set (src, "relay", relay, "stream", stream, NULL);
  if (relay_id)
    g_object_set (src, "relay-id", relay_id, NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_FLUSH, on_sink_data, NULL, NULL);
  gst_object_unref (pad);

  gst_element_set_state (pipe, GST_STATE_PAUSED);
  if (!wait_async_done (pipe, 30 * GST_SECOND, &why)) {
    fprintf (stderr, "diode-seek: the recording did not preroll within 30 s"
        " (%s)\n", why ? why : "timeout");
    return 1;
  }
  for (i = 0; i < 50 && dur <= 0; i++) {
    if (!gst_element_query_duration (pipe, GST_FORMAT_TIME, &dur) || dur <= 0)
      g_usleep (100 * 1000);
  }
  if (dur <= 0) {
    fprintf (stderr, "diode-seek: no DURATION answer: not a recording?\n");
    return 1;
  }
  fprintf (stderr, "diode-seek: %s prerolled, duration %.1f s; %d seeks\n",
      stream, dur / 1e9, seeks);

  lat = g_array_new (FALSE, FALSE, sizeof (double));
  land = g_array_new (FALSE, FALSE, sizeof (double));
  rnd = g_rand_new_with_seed ((guint32) seed);
  for (i = 0; i < (guint) seeks; i++) {
    gint64 target = (gint64) (g_rand_double (rnd) * dur);
    gint64 t0, end;
    gboolean ok;

    g_mutex_lock (&lock);
    armed = TRUE;
    flushed = got = FALSE;
    g_mutex_unlock (&lock);
    t0 = g_get_monotonic_time ();
    if (!gst_element_seek_simple (pipe, GST_FORMAT_TIME, sflags, target)) {
      failed++;
      continue;
    }
    end = t0 + 10 * G_TIME_SPAN_SECOND;
    g_mutex_lock (&lock);
    while (!got && g_cond_wait_until (&cond, &lock, end));
    ok = got;
    armed = FALSE;
    g_mutex_unlock (&lock);
    if (!ok) {
      failed++;
      continue;
    }
    {
      double ms = (t_first - t0) / 1e3;
      double off = GST_CLOCK_TIME_IS_VALID (first_pts) ?
          fabs ((double) first_pts - (double) target) / 1e6 : NAN;

      g_array_append_val (lat, ms);
      if (!isnan (off))
        g_array_append_val (land, off);
      sum += ms;
    }
    /* still again before the next one */
    g_free (why);
    why = NULL;
    if (!wait_async_done (pipe, 10 * GST_SECOND, &why))
      fprintf (stderr, "diode-seek: seek %u: no ASYNC_DONE (%s)\n", i,
          why ? why : "timeout");
  }
  g_array_sort (lat, cmp_dbl);
  g_array_sort (land, cmp_dbl);
  s = g_string_new ("{");
  g_string_append_printf (s, "\"stream\":\"%s\",\"duration_s\":%.1f,"
      "\"seeks\":%d,\"measured\":%u,\"failed\":%u,\"flags\":\"%s\","
      "\"latency_ms\":{", stream, dur / 1e9, seeks, lat->len, failed,
      (sflags & GST_SEEK_FLAG_ACCURATE) ? "accurate" : "key-unit");
  jnum (s, "mean", lat->len ? sum / lat->len : NAN, FALSE);
  jnum (s, "p50", pct (lat, 50), FALSE);
  jnum (s, "p90", pct (lat, 90), FALSE);
  jnum (s, "p99", pct (lat, 99), FALSE);
  jnum (s, "max", lat->len ? g_array_index (lat, double, lat->len - 1) : NAN,
      TRUE);
  g_string_append (s, "},\"landing_error_ms\":{");
  jnum (s, "p50", pct (land, 50), FALSE);
  jnum (s, "max", land->len ? g_array_index (land, double, land->len - 1) :
      NAN, TRUE);
  g_string_append (s, "}}");
  printf ("%s\n", s->str);
  g_string_free (s, TRUE);

  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  g_array_unref (lat);
  g_array_unref (land);
  g_rand_free (rnd);
  g_free (why);
  return failed == (guint) seeks ? 1 : 0;
}
