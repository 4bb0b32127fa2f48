/* gst-diode — diodesink's send queue and writer thread
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * render() never waits on the network: it queues buffers (and CAPS, POLICY,
 * EOS) here, and a writer thread, the only user of the TLS session after
 * start(), frames and sends them, answers the relay, and reconnects when
 * the link is lost. Apart from gstdiodesink.c because it is the I/O half.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesink-private.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_diode_sink_debug);
#define GST_CAT_DEFAULT gst_diode_sink_debug

#define WRITER_IDLE_MS          100  /* writer checks the relay this often */

/* ------------------------------------------------------------------------ */
/* the send queue */

void
gst_diode_sink_qitem_free (QItem * it)
{
  if (it->frame)
    g_bytes_unref (it->frame);
  if (it->buf)
    gst_buffer_unref (it->buf);
  g_free (it);
}

/* Queue an item for the writer. Called with qlock held. */
void
gst_diode_sink_enqueue_item_locked (GstDiodeSink * self, ItemKind kind,
    GBytes * frame, GstBuffer * buf, guint32 flags)
{
  QItem *it = g_new0 (QItem, 1);

  it->kind = kind;
  it->frame = frame;
  it->buf = buf;
  it->flags = flags;
  it->size = frame ? g_bytes_get_size (frame) : buf ?
      DIODE_MEDIA_PREFIX_SIZE + gst_buffer_get_size (buf) :
      DIODE_FRAME_HEADER_SIZE + 8;
  self->queue_bytes += it->size;
  if (kind == ITEM_POLICY)
    g_queue_push_head (&self->queue, it);
  else
    g_queue_push_tail (&self->queue, it);
  g_cond_signal (&self->qcond);
}

/* Drops the queued items of the kinds in @kinds (a mask of 1 << ItemKind)
 * that the writer has not taken yet; counts dropped buffers. qlock held. */
void
gst_diode_sink_drop_queued_locked (GstDiodeSink * self, guint kinds)
{
  GList *l = self->queue.head;

  while (l) {
    GList *next = l->next;
    QItem *it = l->data;

    if (kinds & (1u << it->kind)) {
      self->queue_bytes -= it->size;
      if (it->kind == ITEM_MEDIA)
        self->buffers_dropped++;
      g_queue_delete_link (&self->queue, l);
      gst_diode_sink_qitem_free (it);
    }
    l = next;
  }
  g_cond_broadcast (&self->qcond);
}

/* A POLICY goes ahead of the media already queued: a viewer cut off must
 * not get what was queued before (on a slow link, seconds of it), and one
 * let in may. It replaces any POLICY still queued, so the last one set is
 * the one the relay ends with. qlock held. */
void
gst_diode_sink_enqueue_policy_locked (GstDiodeSink * self, GBytes * frame)
{
  gst_diode_sink_drop_queued_locked (self, 1u << ITEM_POLICY);
  gst_diode_sink_enqueue_item_locked (self, ITEM_POLICY, frame, NULL, 0);
}

void
gst_diode_sink_enqueue_locked (GstDiodeSink * self, GBytes * frame)
{
  gst_diode_sink_enqueue_item_locked (self, ITEM_CONTROL, frame, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* the writer thread: the only user of the TLS session after start() */

/* Deal with what the relay sent meanwhile (PING, ERROR), never blocking.
 * Sets *error when the relay refused us or went away. */
static gboolean
writer_check_relay (GstDiodeSink * self, GError ** error)
{
  for (;;) {
    DiodeMsg m = { 0 };
    DiodeSessionResult r = gst_diode_client_recv (self->client, &m, 0, error);

    if (r == DIODE_SESSION_NEED_MORE)
      return TRUE;
    if (r == DIODE_SESSION_ERROR)
      return FALSE;
    if (m.type == DIODE_MSG_ERROR) {
      g_propagate_error (error, gst_diode_client_error_from_msg (self->client,
              &m));
      diode_msg_clear (&m);
      return FALSE;
    }
    if (m.type == DIODE_MSG_STORED)
      gst_diode_sink_note_stored (self, &m);
    else if (m.type == DIODE_MSG_SIGNAL)
      gst_diode_sink_direct_signal (self, &m);
    diode_msg_clear (&m);
  }
}

/* open + PUBLISH (with the current policy) + PUBLISH_OK. Sets wseq so
 * numbering goes on from where the relay's stream stands. */
gboolean
gst_diode_sink_publish_session (GstDiodeSink * self, GError ** error)
{
  GstDiodeClient *c = self->client;
  DiodeMsg m = { 0 };
  GBytes *publish;
  guint timeout;
  gboolean ok = FALSE;

  if (!gst_diode_client_open (c, error))
    return FALSE;
  /* the first time: direct paths, whose STUN default the WELCOME gave */
  gst_diode_sink_direct_start (self);
  publish = gst_diode_sink_build_policy_frame (self, c->stream_name, error);
  if (!publish)
    goto out;
  diode_session_sent (c->session, DIODE_MSG_PUBLISH, 0, NULL);
  ok = gst_diode_client_send_bytes (c, publish, error);
  g_bytes_unref (publish);
  if (!ok)
    goto out;
  ok = FALSE;

  GST_OBJECT_LOCK (self);
  timeout = c->timeout;
  if (c->connect_timeout && (!timeout || c->connect_timeout < timeout))
    timeout = c->connect_timeout;
  GST_OBJECT_UNLOCK (self);
  switch (gst_diode_client_recv (c, &m, timeout ?
          g_get_monotonic_time () + (gint64) timeout * 1000 : -1, error)) {
    case DIODE_SESSION_MESSAGE:
      if (m.type == DIODE_MSG_PUBLISH_OK) {
        ok = TRUE;
        /* Number on from where the stream stands on this relay, or from our
         * own count if that is further (a relay that restarted knows
         * nothing): viewers then never see the sequence go back. */
        self->wseq = MAX (self->wseq, m.seq ? m.seq - 1 : 0);
        gst_diode_sink_note_store_state (self, &m);
        GST_INFO_OBJECT (self, "publishing '%s' on relay %s from seq %"
            G_GUINT64_FORMAT, c->stream_name, c->hostport, self->wseq + 1);
      } else if (m.type == DIODE_MSG_ERROR) {
        g_propagate_error (error, gst_diode_client_error_from_msg (c, &m));
      } else {
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
            "Relay %s answered PUBLISH with %s", c->hostport,
            diode_msg_type_name (m.type));
      }
      diode_msg_clear (&m);
      break;
    case DIODE_SESSION_NEED_MORE:
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
          "Relay %s did not accept the stream within %u ms", c->hostport,
          timeout);
      break;
    case DIODE_SESSION_ERROR:
      break;
  }
out:
  if (!ok)
    gst_diode_client_close (c);
  return ok;
}

/* One reconnect attempt: publish again, then the caps (a relay that
 * restarted has none) before anything else. */
static gboolean
writer_republish (gpointer user_data, GError ** error)
{
  GstDiodeSink *self = user_data;

  if (!gst_diode_sink_publish_session (self, error))
    return FALSE;
  if (self->caps_frame && !gst_diode_client_send_bytes (self->client,
          self->caps_frame, error)) {
    gst_diode_client_close (self->client);
    return FALSE;
  }
  return TRUE;
}

/* The link to the relay was lost: publish again with backoff. Meanwhile
 * render() keeps queueing, dropping whole GOPs past backlog-limit. Called
 * without qlock. FALSE: give up (*error set) or stopping. */
static gboolean
writer_reconnect (GstDiodeSink * self, const gchar * reason, GError ** error)
{
  if (!gst_diode_client_reconnect (self->client, reason, writer_republish,
          self, error))
    return FALSE;
  /* Viewers need a keyframe before anything else: the writer skips to one. */
  self->need_keyframe = TRUE;
  gst_diode_sink_direct_relay_reset (self);
  /* qlock: `stats` reads it from any thread (64-bit: not atomic on 32-bit
   * ARM) */
  g_mutex_lock (&self->qlock);
  self->reconnects++;
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

/* Send one queued item; media is framed here, with the writer's seq. */
static gboolean
writer_send_item (GstDiodeSink * self, QItem * it, GError ** error)
{
  GstDiodeClient *c = self->client;
  GstMapInfo map;
  guint8 *data;
  gboolean ok;
  guint32 flags = it->flags;
  gsize len;

  if (it->kind == ITEM_SIGNAL) {
    /* only where the session allows it (a relay of version 4 on which we
     * publish); otherwise the direct server's frame has no one to go to */
    if (!c->session || !diode_session_sent (c->session, DIODE_MSG_SIGNAL, 0,
            NULL))
      return TRUE;
    return gst_diode_client_send_bytes (c, it->frame, error);
  }
  if (it->kind == ITEM_CONTROL || it->kind == ITEM_POLICY) {
    gboolean caps = g_bytes_get_size (it->frame) > DIODE_FRAME_HEADER_SIZE
        && ((const guint8 *) g_bytes_get_data (it->frame, NULL))[0] ==
        DIODE_MSG_CAPS;

    if (caps) {
      g_clear_pointer (&self->caps_frame, g_bytes_unref);
      self->caps_frame = g_bytes_ref (it->frame);
    }
    ok = gst_diode_client_send_bytes (c, it->frame, error);
    if (ok && caps)
      gst_diode_sink_direct_push (self, it->frame);
    return ok;
  }
  if (it->kind == ITEM_EOS) {
    GBytes *eos = diode_msg_encode_eos (self->wseq);

    ok = gst_diode_client_send_bytes (c, eos, error);
    if (ok)
      gst_diode_sink_direct_push (self, eos);
    g_bytes_unref (eos);
    return ok;
  }
  /* After a reconnect the relay (maybe a fresh one) needs a keyframe. */
  if (self->need_keyframe) {
    if (!(flags & DIODE_MEDIA_KEYFRAME)) {
      g_mutex_lock (&self->qlock);
      self->buffers_dropped++;
      g_mutex_unlock (&self->qlock);
      return TRUE;
    }
    self->need_keyframe = FALSE;
    flags |= DIODE_MEDIA_DISCONT;
  }
  if (!gst_buffer_map (it->buf, &map, GST_MAP_READ)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "Cannot read a buffer");
    return FALSE;
  }
  /* One allocation per frame (header + fields + payload), sent in one go:
   * small frames then fill one TLS record instead of two. */
  len = DIODE_MEDIA_PREFIX_SIZE + map.size;
  data = g_malloc (len);
  diode_msg_write_media_prefix (data, self->wseq + 1, GST_BUFFER_PTS (it->buf),
      GST_BUFFER_DTS (it->buf), GST_BUFFER_DURATION (it->buf),
      GST_BUFFER_OFFSET (it->buf), GST_BUFFER_OFFSET_END (it->buf), flags,
      map.size);
  memcpy (data + DIODE_MEDIA_PREFIX_SIZE, map.data, map.size);
  gst_buffer_unmap (it->buf, &map);
  ok = gst_diode_client_send (c, data, len, error);
  if (ok) {
    GBytes *frame = g_bytes_new_take (data, len);

    self->wseq++;
    /* the same frame, the same seq, to the viewers on direct paths */
    gst_diode_sink_direct_push (self, frame);
    g_bytes_unref (frame);
  } else {
    g_free (data);
  }
  return ok;
}

gpointer
gst_diode_sink_writer_thread (gpointer user_data)
{
  GstDiodeSink *self = user_data;
  GstDiodeClient *c = self->client;
  GError *err = NULL;

  g_mutex_lock (&self->qlock);
  for (;;) {
    QItem *it;
    gboolean ok;

    if (g_queue_is_empty (&self->queue)) {
      gint64 until;

      if (self->writer_stop)
        break;
      until = g_get_monotonic_time () + WRITER_IDLE_MS * 1000;
      if (g_cond_wait_until (&self->qcond, &self->qlock, until))
        continue;
      /* Idle: keepalive, answer PINGs, notice a relay that refused us. */
      g_mutex_unlock (&self->qlock);
      ok = writer_check_relay (self, &err);
    } else {
      /* Taken off the queue while it is sent (still counted in
       * queue_bytes): a flush or a POLICY may rework the queue meanwhile. */
      it = g_queue_pop_head (&self->queue);
      g_mutex_unlock (&self->qlock);

      ok = writer_send_item (self, it, &err) && writer_check_relay (self,
          &err);

      g_mutex_lock (&self->qlock);
      self->queue_bytes -= it->size;
      if (ok)
        self->bytes_sent += it->size;
      g_cond_broadcast (&self->qcond);
      g_mutex_unlock (&self->qlock);
      gst_diode_sink_qitem_free (it);
    }

    if (!ok && c->lost && !self->writer_stop
        && gst_diode_client_get_reconnect (c)) {
      gchar *reason = g_strdup (err ? err->message : "connection lost");

      g_clear_error (&err);
      ok = writer_reconnect (self, reason, &err);
      g_free (reason);
    }
    g_mutex_lock (&self->qlock);
    if (!ok)
      break;
  }
  if (err) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)
        && !self->writer_stop)
      self->writer_error = err;
    else
      g_error_free (err);
  }
  self->writer_done = TRUE;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  return NULL;
}

/* A writer failure surfaces in the streaming thread as an element error. */
GstFlowReturn
gst_diode_sink_check_writer_locked (GstDiodeSink * self)
{
  if (self->writer_error) {
    GError *err = self->writer_error;

    self->writer_error = NULL;
    self->failed = TRUE;
    g_mutex_unlock (&self->qlock);
    gst_diode_client_post_error (self->client, err, NULL);
    g_error_free (err);
    g_mutex_lock (&self->qlock);
  }
  return self->failed || self->writer_done ? GST_FLOW_ERROR : GST_FLOW_OK;
}

void
gst_diode_sink_stop_writer (GstDiodeSink * self)
{
  if (!self->writer)
    return;
  g_mutex_lock (&self->qlock);
  self->writer_stop = TRUE;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  /* Interrupt a send blocked on a full socket. */
  gst_diode_client_unlock (self->client);
  g_thread_join (self->writer);
  self->writer = NULL;
  gst_diode_client_unlock_stop (self->client);
}

