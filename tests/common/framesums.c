/* gst-diode — shared test helpers: pipelines and decoded frame checksums
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Moved here from tests/integration/test-e2e.c so that the tree tests
 * compare what leaves decode with the same code. See framesums.h.
 */
#include "framesums.h"
#include "testproc.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <string.h>

static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer user_data)
{
  Collector *col = user_data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  GstVideoInfo info;
  GstVideoFrame frame;
  GChecksum *sum;
  guint p, row;

  if (!sample)
    return GST_FLOW_FLUSHING;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
          GST_MAP_READ)) {
    gst_sample_unref (sample);
    GST_ELEMENT_ERROR (sink, STREAM, FAILED, ("cannot map a decoded frame"),
        (NULL));
    return GST_FLOW_ERROR;
  }
  /* Row by row, so that stride padding cannot make equal frames differ. */
  sum = g_checksum_new (G_CHECKSUM_SHA1);
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
    gsize row_bytes = (gsize) GST_VIDEO_FRAME_COMP_WIDTH (&frame, p) *
        GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, p);

    for (row = 0; row < (guint) GST_VIDEO_FRAME_COMP_HEIGHT (&frame, p); row++)
      g_checksum_update (sum, data + (gsize) row * stride, row_bytes);
  }
  gst_video_frame_unmap (&frame);
  gst_sample_unref (sample);

  g_mutex_lock (&col->lock);
  if (!col->first_us)
    col->first_us = g_get_monotonic_time ();
  g_ptr_array_add (col->sums, g_strdup (g_checksum_get_string (sum)));
  g_mutex_unlock (&col->lock);
  g_checksum_free (sum);
  return GST_FLOW_OK;
}

void
collector_attach (Collector * col, GstElement * pipeline, const gchar * name)
{
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstAppSinkCallbacks cb = { 0 };

  tp_check (sink != NULL, "no appsink '%s'", name);
  cb.new_sample = on_new_sample;
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, col, NULL);
  gst_object_unref (sink);
}

guint
collector_count (Collector * col)
{
  guint n;

  g_mutex_lock (&col->lock);
  n = col->sums->len;
  g_mutex_unlock (&col->lock);
  return n;
}

Pipe *
pipe_new (const gchar * name, const gchar * desc, const gchar * appsink)
{
  Pipe *p = g_new0 (Pipe, 1);
  GError *err = NULL;

  p->name = g_strdup (name);
  p->pipeline = gst_parse_launch (desc, &err);
  tp_check (p->pipeline != NULL && err == NULL, "%s: cannot build '%s': "
      "%s", name, desc, err ? err->message : "?");
  p->bus = gst_element_get_bus (p->pipeline);
  g_mutex_init (&p->col.lock);
  p->col.sums = g_ptr_array_new_with_free_func (g_free);
  if (appsink)
    collector_attach (&p->col, p->pipeline, appsink);
  return p;
}

void
pipe_play (Pipe * p)
{
  tp_check (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE, "%s: cannot start the pipeline", p->name);
}

/* Stop the pipeline (bounded: NULL from PLAYING does not wait on data). */
void
pipe_stop (Pipe * p)
{
  if (p->pipeline)
    tp_check (gst_element_set_state (p->pipeline, GST_STATE_NULL) !=
        GST_STATE_CHANGE_FAILURE, "%s: cannot stop the pipeline", p->name);
}

void
pipe_free (Pipe * p)
{
  pipe_stop (p);
  gst_object_unref (p->bus);
  gst_object_unref (p->pipeline);
  g_ptr_array_unref (p->col.sums);
  g_mutex_clear (&p->col.lock);
  g_free (p->name);
  g_free (p);
}

/* Handle bus messages for up to @timeout: errors fail the test, EOS is
 * recorded, warnings are shown. Returns early after an EOS. */
void
pipe_poll (Pipe * p, GstClockTime timeout)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (p->bus, timeout,
      GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING);
  GError *err = NULL;
  gchar *dbg = NULL;

  if (!msg)
    return;
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_EOS:
      p->eos = TRUE;
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &err, &dbg);
      g_printerr ("%s: warning from %s: %s (%s)\n", p->name,
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
          dbg ? dbg : "");
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &err, &dbg);
      tp_fail ("%s: error from %s: %s (%s)", p->name,
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
          dbg ? dbg : "");
      break;
    default:
      break;
  }
  g_clear_error (&err);
  g_free (dbg);
  gst_message_unref (msg);
}

/* Fail if any pipeline reported an error; keep their EOS. */
void
pipes_check (Pipe ** pipes, guint n)
{
  guint i;

  for (i = 0; i < n; i++)
    pipe_poll (pipes[i], 0);
}

void
pipe_wait_eos (Pipe * p, gint64 deadline_us, const gchar * why)
{
  while (!p->eos) {
    gint64 left = deadline_us - g_get_monotonic_time ();

    tp_check (left > 0, "%s: no EOS %s (%u frames decoded so far)",
        p->name, why, collector_count (&p->col));
    pipe_poll (p, MIN (left, 100 * G_TIME_SPAN_MILLISECOND) * GST_USECOND);
  }
}

/* Sleep @ms while watching @pipes for errors. */
void
pipes_run_for (Pipe ** pipes, guint n, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end) {
    pipes_check (pipes, n);
    g_usleep (10 * 1000);
  }
}

gchar *
viewer_desc (guint port, const gchar * stream, const gchar * extra)
{
  return g_strdup_printf ("diodesrc relay=127.0.0.1:%u stream=%s "
      "timeout=20000 %s ! h264parse ! avdec_h264 ! videoconvert ! "
      "video/x-raw,format=I420 ! appsink name=out sync=false", port, stream,
      extra ? extra : "");
}

guint64
pipe_element_stat (Pipe * p, const gchar * element, const gchar * field)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), element);
  GstStructure *s = NULL;
  guint64 v = 0;

  tp_check (e != NULL, "%s: no element '%s'", p->name, element);
  g_object_get (e, "stats", &s, NULL);
  tp_check (s != NULL && gst_structure_get_uint64 (s, field, &v),
      "%s: %s has no stats field '%s'", p->name, element, field);
  gst_structure_free (s);
  gst_object_unref (e);
  return v;
}

guint
sums_first_mismatch (GPtrArray * ref, guint ref_start, GPtrArray * got)
{
  guint j;

  for (j = 0; j < got->len; j++)
    if (ref_start + j >= ref->len || strcmp (g_ptr_array_index (got, j),
            g_ptr_array_index (ref, ref_start + j)))
      return j;
  return got->len;
}

guint
sums_find (GPtrArray * ref, const gchar * sum)
{
  guint i;

  for (i = 0; i < ref->len; i++)
    if (!strcmp (g_ptr_array_index (ref, i), sum))
      return i;
  return G_MAXUINT;
}
