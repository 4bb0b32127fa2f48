/* gst-diode — diodesink: recording and uploads (record=TRUE)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With record=TRUE the relays may store the stream (PUBLISH flag RECORD,
 * protocol version 3). Whether it is a live recording or an upload of a
 * file (flag UPLOAD) depends on the upstream: a LATENCY query answered
 * live=FALSE means a non-live source (filesrc ! qtdemux ...) that runs at
 * full speed, so the PUBLISH waits for the first buffer, when the upstream
 * can answer. In upload mode nothing is ever dropped: render() waits while
 * the send queue is over backlog-limit (the relay paces us by its store),
 * progress goes out as "diode-upload" element messages, and at EOS the sink
 * waits for the relay's STORED final before letting EOS through. Apart from
 * gstdiodesink.c because it is one job: what record=TRUE changes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesink-private.h"

GST_DEBUG_CATEGORY_EXTERN (gst_diode_sink_debug);
#define GST_CAT_DEFAULT gst_diode_sink_debug

/* An upload waits this long for the relay to confirm it stored everything
 * after EOS when `timeout` is 0 (no limit is not an option at EOS: a relay
 * that never answers must not hang the pipeline). */
#define FINAL_WAIT_DEFAULT_MS 10000
/* render() in upload mode re-checks the queue this often while it waits,
 * so a writer that died is noticed even without a broadcast. */
#define UPLOAD_WAIT_SLICE_MS 200

/* Is the upstream live? FALSE only when it says so: a query nobody
 * answers counts as live, so a camera is never taken for a file. */
static gboolean
upstream_is_live (GstDiodeSink * self)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = TRUE;

  if (gst_pad_peer_query (GST_BASE_SINK_PAD (self), q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  else
    GST_INFO_OBJECT (self, "upstream did not answer the LATENCY query: "
        "taken as live");
  gst_query_unref (q);
  return live;
}

GstFlowReturn
gst_diode_sink_publish_deferred (GstDiodeSink * self)
{
  GError *err = NULL;

  self->upload = !upstream_is_live (self);
  self->pubflags = DIODE_PUBLISH_RECORD |
      (self->upload ? DIODE_PUBLISH_UPLOAD : 0);
  self->deferred = FALSE;
  GST_INFO_OBJECT (self, "record=true and the upstream is %s: %s",
      self->upload ? "not live" : "live", self->upload ? "uploading a "
      "recording (nothing dropped, paced by the relay)" : "live recording");
  if (!gst_diode_sink_start_publishing (self, &err)) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_error_free (err);
      return GST_FLOW_FLUSHING;
    }
    gst_diode_client_post_error (self->client, err, NULL);
    g_error_free (err);
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

void
gst_diode_sink_note_store_state (GstDiodeSink * self, const DiodeMsg * m)
{
  GstDiodeClient *c = self->client;
  gint state = c->version >= DIODE_PROTOCOL_VERSION_STORE ?
      (gint) m->store_state : -1;
  gboolean warn;

  g_mutex_lock (&self->qlock);
  self->store_state = state;
  warn = (self->pubflags & DIODE_PUBLISH_RECORD) && !self->store_warned
      && state != DIODE_STORE_RECORDING;
  if (warn)
    self->store_warned = TRUE;
  g_mutex_unlock (&self->qlock);
  if (!warn)
    return;
  /* Publishing goes on: live viewers still get the stream. */
  if (state < 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Relay %s does not record "
            "streams (it speaks protocol version %u, recordings need 3): "
            "publishing '%s' live only", c->hostport, c->version,
            c->stream_name), (NULL));
  else if (state == DIODE_STORE_NONE)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Relay %s has no store "
            "(started without --store): publishing '%s' live only, nothing "
            "is recorded", c->hostport, c->stream_name), (NULL));
  else
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Relay %s cannot record "
            "now (its store failed: disk full or unwritable, its log says "
            "why): publishing '%s' live only", c->hostport, c->stream_name),
        (NULL));
}

void
gst_diode_sink_note_stored (GstDiodeSink * self, const DiodeMsg * m)
{
  g_mutex_lock (&self->qlock);
  self->stored_seq = MAX (self->stored_seq, m->stored_seq);
  self->stored_bytes = m->stored_bytes;
  if (m->final)
    self->stored_final = TRUE;
  self->stored_at = g_get_monotonic_time ();
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  GST_LOG_OBJECT (self, "relay stored up to seq %" G_GUINT64_FORMAT ", %"
      G_GUINT64_FORMAT " bytes%s", m->stored_seq, m->stored_bytes,
      m->final ? " (final)" : "");
}

GstFlowReturn
gst_diode_sink_upload_wait (GstDiodeSink * self, guint64 limit)
{
  GstFlowReturn ret;

  g_mutex_lock (&self->qlock);
  for (;;) {
    ret = gst_diode_sink_check_writer_locked (self);
    if (ret != GST_FLOW_OK)
      break;
    if (self->flushing) {
      ret = GST_FLOW_FLUSHING;
      break;
    }
    if (self->queue_bytes <= limit)
      break;
    g_cond_wait_until (&self->qcond, &self->qlock, g_get_monotonic_time () +
        UPLOAD_WAIT_SLICE_MS * 1000);
  }
  g_mutex_unlock (&self->qlock);
  return ret;
}

void
gst_diode_sink_upload_wait_final (GstDiodeSink * self)
{
  GstDiodeClient *c = self->client;
  guint timeout;
  gboolean final;
  gint64 wait_us;

  GST_OBJECT_LOCK (self);
  timeout = c->timeout ? c->timeout : FINAL_WAIT_DEFAULT_MS;
  GST_OBJECT_UNLOCK (self);
  wait_us = (gint64) timeout * 1000;

  g_mutex_lock (&self->qlock);
  /* Bounded by `timeout` since the relay last said anything about its
   * store: a long tail still being written keeps the wait going while
   * STORED progress comes, a silent relay ends it. */
  self->stored_at = MAX (self->stored_at, g_get_monotonic_time ());
  while (!self->stored_final && !self->writer_done && !self->flushing
      && self->store_state == DIODE_STORE_RECORDING) {
    gint64 until = self->stored_at + wait_us;

    if (g_get_monotonic_time () >= until)
      break;
    g_cond_wait_until (&self->qcond, &self->qlock, until);
  }
  final = self->stored_final;
  g_mutex_unlock (&self->qlock);

  if (final) {
    GST_INFO_OBJECT (self, "relay %s stored all of '%s'", c->hostport,
        c->stream_name);
  } else if (!self->flushing) {
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("Relay %s did not confirm "
            "that it stored all of '%s' (no final STORED within %u ms of its "
            "last report): the recording may be incomplete", c->hostport,
            c->stream_name, timeout), (NULL));
  }
  gst_diode_sink_upload_progress (self, TRUE);
}

void
gst_diode_sink_add_store_stats (GstDiodeSink * self, GstStructure * s)
{
  /* qlock held by the caller */
  gst_structure_set (s,
      "recording", G_TYPE_STRING, diode_store_state_name
      (self->store_state),
      "stored-seq", G_TYPE_UINT64, self->stored_seq,
      "stored-bytes", G_TYPE_UINT64, self->stored_bytes, NULL);
}

void
gst_diode_sink_upload_progress (GstDiodeSink * self, gboolean force)
{
  GstClockTime pos, dur = GST_CLOCK_TIME_NONE;
  GstStructure *s;
  gchar *stream;
  guint interval;
  gint64 d;
  gint percent = -1;

  if (!self->upload)
    return;
  GST_OBJECT_LOCK (self);
  interval = self->stats_interval;
  GST_OBJECT_UNLOCK (self);
  if (!force && !gst_diode_stats_due (&self->upload_posted_at, interval))
    return;
  /* a reconnect (writer thread) sets it again, under the object lock */
  GST_OBJECT_LOCK (self);
  stream = g_strdup (self->client->stream_name ? self->client->stream_name :
      "");
  GST_OBJECT_UNLOCK (self);
  if (gst_pad_peer_query_duration (GST_BASE_SINK_PAD (self), GST_FORMAT_TIME,
          &d) && d >= 0)
    dur = (GstClockTime) d;
  pos = self->position;
  if (GST_CLOCK_TIME_IS_VALID (dur) && dur > 0 && GST_CLOCK_TIME_IS_VALID (pos))
    percent = (gint) MIN (100, gst_util_uint64_scale (pos, 100, dur));

  g_mutex_lock (&self->qlock);
  if (self->stored_final)
    percent = 100;
  s = gst_structure_new ("diode-upload",
      "stream", G_TYPE_STRING, stream,
      "sent-bytes", G_TYPE_UINT64, self->bytes_sent,
      "sent-frames", G_TYPE_UINT64, self->buffers_queued,
      "position", G_TYPE_UINT64, (guint64) pos,
      "duration", G_TYPE_UINT64, (guint64) dur,
      "stored-seq", G_TYPE_UINT64, self->stored_seq,
      "stored-bytes", G_TYPE_UINT64, self->stored_bytes,
      "final", G_TYPE_BOOLEAN, self->stored_final,
      "percent", G_TYPE_INT, percent, NULL);
  g_mutex_unlock (&self->qlock);
  g_free (stream);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}
