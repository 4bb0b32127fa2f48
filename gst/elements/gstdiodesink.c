/* gst-diode — diodesink: publish a stream to a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-diodesink
 * @title: diodesink
 * @see_also: diodesrc
 *
 * Publishes whatever it receives (any caps) to a diode relay under a stream
 * name, encrypted with TLS 1.3 and authenticated by this participant's key.
 * The relay fans the stream out to any number of diodesrc viewers; caps
 * (streamheader and codec_data included), timestamps and buffer flags cross
 * unchanged. Buffers without DELTA_UNIT are keyframes: the relay starts a
 * chunk there and lets late viewers join at the latest one.
 *
 * The stream's name defaults to the element's own name.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 rpicamsrc ! h264parse ! diodesink name=pi-taipei
 * gst-launch-1.0 v4l2src ! videoconvert ! x264enc tune=zerolatency ! h264parse ! diodesink name=pi-taipei relay=relay.example.org:7878
 * gst-launch-1.0 tcpclientsrc host=127.0.0.1 port=3030 ! h264parse ! diodesink name=pi-taipei
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency ! h264parse ! diodesink uri=diode://127.0.0.1:7878/test
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesink.h"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY_STATIC (gst_diode_sink_debug);
#define GST_CAT_DEFAULT gst_diode_sink_debug

/* Properties: relay, stream, identity, relay-id and timeout are the shared
 * client's (GST_DIODE_PROP_*); their defaults are in gstdiodeclient.h. */

static void gst_diode_sink_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

#define gst_diode_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstDiodeSink, gst_diode_sink, GST_TYPE_BASE_SINK,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_diode_sink_uri_handler_init);
    GST_DEBUG_CATEGORY_INIT (gst_diode_sink_debug, "diodesink", 0,
        "diode publisher"));
GST_ELEMENT_REGISTER_DEFINE (diodesink, "diodesink", GST_RANK_NONE,
    GST_TYPE_DIODE_SINK);

static guint32
media_flags (GstDiodeSink * self, GstBuffer * buf)
{
  guint32 f = 0;

  /* HEADER alone is not enough: h264parse flags every IDR with in-band
   * SPS/PPS as HEADER. Only buffers of a caps streamheader (muxer headers)
   * are kept by relays for joiners. */
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER)
      && self->has_streamheader)
    f |= DIODE_MEDIA_STREAMHEADER;
  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT))
    f |= DIODE_MEDIA_KEYFRAME;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_HEADER))
    f |= DIODE_MEDIA_HEADER;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT))
    f |= DIODE_MEDIA_DISCONT;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_GAP))
    f |= DIODE_MEDIA_GAP;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DROPPABLE))
    f |= DIODE_MEDIA_DROPPABLE;
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_MARKER))
    f |= DIODE_MEDIA_MARKER;
  return f;
}

/* Deal with what the relay sent us meanwhile (PING, ERROR), never blocking. */
static gboolean
gst_diode_sink_check_relay (GstDiodeSink * self)
{
  for (;;) {
    DiodeMsg m = { 0 };
    GError *err = NULL;
    DiodeSessionResult r = gst_diode_client_recv (self->client, &m, 0, &err);

    if (r == DIODE_SESSION_NEED_MORE)
      return TRUE;
    if (r == DIODE_SESSION_ERROR) {
      if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        gst_diode_client_post_error (self->client, err, NULL);
      g_error_free (err);
      return FALSE;
    }
    if (m.type == DIODE_MSG_ERROR) {
      err = gst_diode_client_error_from_msg (self->client, &m);
      gst_diode_client_post_error (self->client, err, NULL);
      g_error_free (err);
      diode_msg_clear (&m);
      return FALSE;
    }
    diode_msg_clear (&m);
  }
}

static gboolean
gst_diode_sink_start (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);
  GstDiodeClient *c = self->client;
  GError *err = NULL;
  DiodeMsg m = { 0 };
  GBytes *publish;
  guint timeout;
  gboolean ok = FALSE;

  self->seq = 0;
  self->published = FALSE;
  g_clear_pointer (&self->caps_sent, g_free);

  if (!gst_diode_client_open (c, &err))
    goto error;

  publish = diode_msg_encode_publish (c->stream_name);
  if (!publish) {
    g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' is not a valid stream name (1 to 255 bytes of UTF-8, no '/' "
        "and no control characters)", c->stream_name);
    goto error;
  }
  diode_session_sent (c->session, DIODE_MSG_PUBLISH, 0, NULL);
  ok = gst_diode_client_send_bytes (c, publish, &err);
  g_bytes_unref (publish);
  if (!ok)
    goto error;

  GST_OBJECT_LOCK (self);
  timeout = c->timeout;
  GST_OBJECT_UNLOCK (self);
  switch (gst_diode_client_recv (c, &m, timeout ?
          g_get_monotonic_time () + (gint64) timeout * 1000 : -1, &err)) {
    case DIODE_SESSION_MESSAGE:
      if (m.type == DIODE_MSG_PUBLISH_OK) {
        self->published = TRUE;
        /* Number on from where the stream's previous publisher stopped. */
        self->seq = m.seq ? m.seq - 1 : 0;
        self->first = TRUE;
        GST_INFO_OBJECT (self, "publishing '%s' on relay %s",
            c->stream_name, c->hostport);
      } else if (m.type == DIODE_MSG_ERROR) {
        err = gst_diode_client_error_from_msg (c, &m);
      } else {
        g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
            "Relay %s answered PUBLISH with %s", c->hostport,
            diode_msg_type_name (m.type));
      }
      diode_msg_clear (&m);
      break;
    case DIODE_SESSION_NEED_MORE:
      g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
          "Relay %s did not accept the stream within %u ms", c->hostport,
          timeout);
      break;
    case DIODE_SESSION_ERROR:
      break;
  }
  if (!self->published)
    goto error;
  return TRUE;

error:
  if (err && !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    gst_diode_client_post_error (c, err, NULL);
  g_clear_error (&err);
  gst_diode_client_close (c);
  return FALSE;
}

static gboolean
gst_diode_sink_stop (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  gst_diode_client_close (self->client);
  self->published = FALSE;
  GST_INFO_OBJECT (self, "sent %" G_GUINT64_FORMAT " buffers, %"
      G_GUINT64_FORMAT " bytes", self->buffers_sent, self->bytes_sent);
  return TRUE;
}

static gboolean
gst_diode_sink_send_caps (GstDiodeSink * self, GstCaps * caps)
{
  gchar *str = gst_caps_to_string (caps);
  GError *err = NULL;
  GBytes *frame;
  gboolean ok;

  self->has_streamheader = gst_structure_has_field
      (gst_caps_get_structure (caps, 0), "streamheader");
  if (!g_strcmp0 (str, self->caps_sent)) {
    g_free (str);
    return TRUE;
  }
  frame = diode_msg_encode_caps (str);
  if (!frame) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Caps are too large to publish "
            "(%" G_GSIZE_FORMAT " bytes, limit %d)", strlen (str),
            DIODE_MAX_CAPS_PAYLOAD), ("%s", str));
    g_free (str);
    return FALSE;
  }
  ok = gst_diode_client_send_bytes (self->client, frame, &err);
  g_bytes_unref (frame);
  if (!ok) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      gst_diode_client_post_error (self->client, err, NULL);
    g_error_free (err);
    g_free (str);
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "sent caps %s", str);
  g_free (self->caps_sent);
  self->caps_sent = str;
  return TRUE;
}

static gboolean
gst_diode_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  return gst_diode_sink_send_caps (GST_DIODE_SINK (sink), caps);
}

static GstFlowReturn
gst_diode_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);
  GstMapInfo map;
  GError *err = NULL;
  gboolean ok;
  guint8 prefix[DIODE_MEDIA_PREFIX_SIZE];
  guint32 flags;

  if (!self->published)
    return GST_FLOW_ERROR;
  if (!gst_diode_sink_check_relay (self))
    return GST_FLOW_ERROR;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("Cannot read a buffer"), (NULL));
    return GST_FLOW_ERROR;
  }
  flags = media_flags (self, buf);
  /* A new publish session is a discontinuity for whoever watches. */
  if (self->first)
    flags |= DIODE_MEDIA_DISCONT;
  if (!diode_msg_write_media_prefix (prefix, self->seq + 1,
          GST_BUFFER_PTS (buf), GST_BUFFER_DTS (buf),
          GST_BUFFER_DURATION (buf), GST_BUFFER_OFFSET (buf),
          GST_BUFFER_OFFSET_END (buf), flags, map.size)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("A buffer of %" G_GSIZE_FORMAT
            " bytes exceeds the limit of one frame (%d bytes)", map.size,
            DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE), (NULL));
    gst_buffer_unmap (buf, &map);
    return GST_FLOW_ERROR;
  }
  /* One write per frame: small frames then fill one TLS record instead of
   * two, at the price of one memcpy on the publisher. */
  g_byte_array_set_size (self->scratch, 0);
  g_byte_array_append (self->scratch, prefix, sizeof (prefix));
  g_byte_array_append (self->scratch, map.data, map.size);
  gst_buffer_unmap (buf, &map);

  ok = gst_diode_client_send (self->client, self->scratch->data,
      self->scratch->len, &err);
  if (!ok) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_error_free (err);
      return GST_FLOW_FLUSHING;
    }
    gst_diode_client_post_error (self->client, err, NULL);
    g_error_free (err);
    self->published = FALSE;
    return GST_FLOW_ERROR;
  }
  self->seq++;
  self->first = FALSE;
  self->buffers_sent++;
  self->bytes_sent += self->scratch->len;
  return GST_FLOW_OK;
}

static gboolean
gst_diode_sink_event (GstBaseSink * sink, GstEvent * event)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->published) {
    GBytes *eos = diode_msg_encode_eos (self->seq);
    GError *err = NULL;

    if (!gst_diode_client_send_bytes (self->client, eos, &err)) {
      GST_WARNING_OBJECT (self, "could not send EOS: %s", err->message);
      g_error_free (err);
    } else {
      GST_INFO_OBJECT (self, "sent EOS after seq %" G_GUINT64_FORMAT,
          self->seq);
    }
    g_bytes_unref (eos);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

static gboolean
gst_diode_sink_unlock (GstBaseSink * sink)
{
  gst_diode_client_unlock (GST_DIODE_SINK (sink)->client);
  return TRUE;
}

static gboolean
gst_diode_sink_unlock_stop (GstBaseSink * sink)
{
  gst_diode_client_unlock_stop (GST_DIODE_SINK (sink)->client);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* URI handler */

static GstURIType
gst_diode_sink_uri_get_type (GType type)
{
  return GST_URI_SINK;
}

static const gchar *const *
gst_diode_sink_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { "diode", NULL };
  return protocols;
}

static gchar *
gst_diode_sink_uri_get_uri (GstURIHandler * handler)
{
  return gst_diode_client_get_uri (GST_DIODE_SINK (handler)->client);
}

static gboolean
gst_diode_sink_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  return gst_diode_client_set_uri (GST_DIODE_SINK (handler)->client, uri,
      error);
}

static void
gst_diode_sink_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  iface->get_type = gst_diode_sink_uri_get_type;
  iface->get_protocols = gst_diode_sink_uri_get_protocols;
  iface->get_uri = gst_diode_sink_uri_get_uri;
  iface->set_uri = gst_diode_sink_uri_set_uri;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_diode_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  if (!gst_diode_client_set_property (self->client, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_diode_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  if (!gst_diode_client_get_property (self->client, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_diode_sink_init (GstDiodeSink * self)
{
  self->client = gst_diode_client_new (GST_ELEMENT (self),
      DIODE_ROLE_PUBLISHER);
  self->scratch = g_byte_array_new ();
  /* Publishing forwards buffers as they come: the clock is the viewer's. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_diode_sink_finalize (GObject * object)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  gst_diode_client_free (self->client);
  g_byte_array_unref (self->scratch);
  g_free (self->caps_sent);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diode_sink_class_init (GstDiodeSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_diode_sink_set_property;
  gobject_class->get_property = gst_diode_sink_get_property;
  gobject_class->finalize = gst_diode_sink_finalize;

  gst_diode_client_install_properties (gobject_class,
      GST_DIODE_DEFAULT_TIMEOUT);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Diode publisher", "Sink/Network",
      "Publish a stream to a diode relay over TLS",
      "gst-diode developers");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_diode_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_diode_sink_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_diode_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_diode_sink_render);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_diode_sink_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_diode_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_diode_sink_unlock_stop);
}
