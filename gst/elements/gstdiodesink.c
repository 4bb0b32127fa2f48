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
 * The pipeline never waits on the network: buffers go into a send queue that
 * a writer thread drains. When the link is slower than the stream and the
 * queue holds more than `backlog-limit` bytes at a keyframe, that whole GOP is
 * dropped (never part of one; only a single GOP that by itself overflows four
 * times the limit is cut short, to bound memory), a QoS message and a
 * `diode-gop-dropped`
 * element message are posted, and publishing resumes at the next keyframe
 * (flagged DISCONT). `stats` and periodic `diode-stats` element messages
 * report what was sent and dropped.
 *
 * Who may watch is the publisher's choice, enforced by every relay on every
 * join: `access=public` (anyone), `protected` (members of `fleet`, a list the
 * relay operator keeps) or `private` (the addresses in `allow`, a list or a
 * file of them). Changing them while playing applies at once: viewers no
 * longer allowed are cut off. Access control fails closed: a change that
 * cannot be applied (a malformed address, protected without a fleet, too
 * many addresses, an allow file that is not a small regular file) leaves
 * only the publisher's own identity allowed, posts an error and stops
 * publishing; the properties then read that closed policy.
 *
 * A flush drops what is queued; publishing resumes at the next keyframe.
 *
 * `relay` may list several relays (`a:7878,b:7878`, each entry may pin its
 * relay as `0xADDRESS@host:port`): the sink publishes to the first that
 * works and, when that relay is lost, goes on with the next one in order,
 * numbering on from its own count, at the next keyframe.
 *
 * ## Recording and uploading
 *
 * With `record=true` relays that have a store (`diode-relay --store DIR`)
 * record the stream; its access policy applies to the recording too. The
 * relay's answer shows in `stats` (`recording`, `stored-seq`,
 * `stored-bytes`); a relay without a store, with a failed store or too old
 * for recordings gets a warning, and publishing goes on live.
 *
 * Whether that is a live recording or an upload depends on the upstream,
 * asked (LATENCY query) when the first buffer arrives, so the PUBLISH waits
 * for it. A live upstream (a camera) is recorded as it goes. A non-live one
 * (`filesrc ! qtdemux ! h264parse`) is uploaded at full speed: nothing is
 * ever dropped, render() waits while more than `backlog-limit` bytes are
 * queued, the relay stores all of it (not just its ring) and paces the
 * upload by its disk, `diode-upload` element messages report progress
 * (sent, position, duration, stored, percent) every `stats-interval` ms and
 * at the end. At EOS the sink waits, bounded by `timeout` since the relay's
 * last report, until the relay confirms that everything is stored (STORED
 * final) before it lets EOS through; the stream is then a finished
 * recording that viewers play from the start, pause and seek. Without that
 * confirmation a warning says the recording may be incomplete.
 *
 * ## Direct paths
 *
 * With `direct=true` the sink offers viewers a direct path: the relay
 * forwards a viewer's ICE credentials and candidates (protocol version 4),
 * libnice finds a path through the NATs, and the viewer gets the very
 * frames the relay gets, with the same sequence numbers, over TLS 1.3 with
 * mutual authentication; the sink checks each viewer against its own access
 * policy (public: anyone the relay admitted; private: `allow`; protected:
 * never). At most `direct-max` viewers at once. `stun-server` (default: the
 * relay's own STUN answer, `diode-relay --stun`) and `turn-server` say how
 * ICE finds its candidates. `stats` counts direct viewers, sessions and
 * bytes. Setting `direct=false` while playing closes every direct path: the
 * viewers go back to the relay path without a gap.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 rpicamsrc ! h264parse ! diodesink name=pi-taipei
 * gst-launch-1.0 rpicamsrc ! h264parse ! diodesink name=pi-taipei relay=relay.example.org direct=true direct-max=2
 * gst-launch-1.0 v4l2src ! videoconvert ! x264enc tune=zerolatency ! h264parse ! diodesink name=pi-taipei relay=relay.example.org:7878
 * gst-launch-1.0 tcpclientsrc host=127.0.0.1 port=3030 ! h264parse ! diodesink name=pi-taipei
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency ! h264parse ! diodesink uri=diode://127.0.0.1:7878/test
 * gst-launch-1.0 rpicamsrc ! h264parse ! diodesink name=pi-taipei relay=relay-a.example.org,relay-b.example.org
 * gst-launch-1.0 v4l2src ! videoconvert ! x264enc tune=zerolatency ! h264parse ! diodesink name=door access=private allow=0x1f0c...,0x9a4e...
 * ]|
 * Recording (the relay runs with `--store`), and uploading a film for
 * on-demand viewing (`-m` prints the diode-upload progress messages):
 * |[
 * gst-launch-1.0 -e rpicamsrc ! h264parse ! diodesink name=pi-taipei relay=relay.example.org record=true
 * gst-launch-1.0 -m filesrc location=movie.mp4 ! qtdemux ! h264parse ! diodesink name=movie relay=relay.example.org record=true
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesink-private.h"
#include "gstdiodepolicy.h"

#include <string.h>

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY (gst_diode_sink_debug);
#define GST_CAT_DEFAULT gst_diode_sink_debug

/* Properties: relay, stream, identity, relay-id and timeout are the shared
 * client's (GST_DIODE_PROP_*, defaults in gstdiodeclient.h); the rest are
 * the sink's own. */
enum {
  PROP_BACKLOG_LIMIT = GST_DIODE_PROP_LAST,
  PROP_STATS,
  PROP_STATS_INTERVAL,
  PROP_ACCESS,
  PROP_ALLOW,
  PROP_FLEET,
  PROP_RECORD,
  PROP_DIRECT,
  PROP_DIRECT_MAX,
};

#define DEFAULT_BACKLOG_LIMIT   (4 * 1024 * 1024)  /* bytes */
#define DEFAULT_STATS_INTERVAL  1000               /* ms */
#define DEFAULT_DIRECT          FALSE
#define DEFAULT_DIRECT_MAX      4  /* a Pi Zero's uplink: 4 x 4 Mbit/s */

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

/* ------------------------------------------------------------------------ */
/* stats */

static GstStructure *
make_stats (GstDiodeSink * self)
{
  GstStructure *s;

  g_mutex_lock (&self->qlock);
  s = gst_structure_new ("application/x-diode-sink-stats",
      "bytes-sent", G_TYPE_UINT64, self->bytes_sent,
      "buffers-sent", G_TYPE_UINT64, self->buffers_queued,
      "buffers-dropped", G_TYPE_UINT64, self->buffers_dropped,
      "gops-dropped", G_TYPE_UINT64, self->gops_dropped,
      "reconnects", G_TYPE_UINT64, self->reconnects,
      "backlog-bytes", G_TYPE_UINT64, (guint64) self->queue_bytes,
      "connected-ms", G_TYPE_UINT64, self->connected_at ?
      (guint64) ((g_get_monotonic_time () - self->connected_at) / 1000) :
      (guint64) 0, NULL);
  gst_diode_sink_add_store_stats (self, s);
  g_mutex_unlock (&self->qlock);
  gst_diode_sink_direct_add_stats (self, s);
  /* After qlock: the client's part takes the object lock. */
  gst_diode_client_add_stats (self->client, s);
  return s;
}

static void
maybe_post_stats (GstDiodeSink * self)
{
  guint interval;

  GST_OBJECT_LOCK (self);
  interval = self->stats_interval;
  GST_OBJECT_UNLOCK (self);
  if (gst_diode_stats_due (&self->stats_posted_at, interval))
    gst_diode_post_stats (GST_ELEMENT (self), make_stats (self));
}

/* ------------------------------------------------------------------------ */
/* access policy */

/* PUBLISH (with @stream) or POLICY (@stream NULL) for the current settings. */
GBytes *
gst_diode_sink_build_policy_frame (GstDiodeSink * self, const gchar * stream,
    GError ** error)
{
  GstDiodeClient *c = self->client;
  GstDiodePolicy *policy;
  DiodeAccess access;
  gchar *allow, *fleet;
  GBytes *frame = NULL;

  GST_OBJECT_LOCK (self);
  access = c->access;
  allow = g_strdup (c->allow);
  fleet = g_strdup (c->fleet);
  if (stream)
    self->policy_sent_gen = self->policy_gen;
  GST_OBJECT_UNLOCK (self);

  policy = gst_diode_policy_new (access, allow, fleet, error);
  if (policy)
    frame = gst_diode_policy_encode (policy, stream, self->pubflags |
        gst_diode_sink_direct_pubflags (self), c->version, error);
  /* the direct paths apply what the relay applies */
  if (frame)
    gst_diode_sink_direct_note_policy (self, policy);
  if (frame)
    GST_INFO_OBJECT (self, "access %s, fleet '%s', %u addresses allowed",
        diode_access_name (access), fleet ? fleet : "",
        g_strv_length (policy->allow));
  gst_diode_policy_free (policy);
  g_free (allow);
  g_free (fleet);
  return frame;
}

/* Settings changed while publishing: the relay applies them at once.
 *
 * A policy that cannot be applied fails closed (docs/decisions.md, "A live
 * policy change that cannot be applied"): the relay is told to let nobody
 * but this publisher's own identity watch, ahead of anything queued; what
 * was queued is dropped; access/allow/fleet then read that closed policy
 * (private, nobody allowed), which is what the relay enforces; an error is
 * posted and render() fails from then on. Only a restart publishes again. */
static void
send_policy_update (GstDiodeSink * self)
{
  GstDiodeClient *c = self->client;
  GError *err = NULL;
  GBytes *frame;
  gboolean running;
  guint gen;

  /* One update at a time, so the relay ends with the last one. */
  g_mutex_lock (&self->policy_lock);
  GST_OBJECT_LOCK (self);
  gen = self->policy_gen;
  running = gen != self->policy_sent_gen;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->qlock);
  running = running && self->writer && !self->writer_done;
  g_mutex_unlock (&self->qlock);
  if (!running) {
    g_mutex_unlock (&self->policy_lock);
    return;                     /* not publishing yet, or nothing new */
  }

  frame = gst_diode_sink_build_policy_frame (self, NULL, &err);
  GST_OBJECT_LOCK (self);
  if (frame) {
    self->policy_sent_gen = gen;
  } else {
    /* What the properties read is what the relay enforces. */
    c->access = DIODE_ACCESS_PRIVATE;
    g_clear_pointer (&c->allow, g_free);
    g_clear_pointer (&c->fleet, g_free);
    self->policy_sent_gen = ++self->policy_gen;
  }
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->qlock);
  if (!frame) {
    GstDiodePolicy *closed = gst_diode_policy_new_closed ();

    frame = gst_diode_policy_encode (closed, NULL, 0, 0, NULL);
    gst_diode_policy_free (closed);
    /* Nothing more goes out but the closed policy (and EOS at stop). */
    gst_diode_sink_drop_queued_locked (self, (1u << ITEM_MEDIA) |
        (1u << ITEM_CONTROL) | (1u << ITEM_EOS) | (1u << ITEM_SIGNAL));
    self->failed = TRUE;
  }
  gst_diode_sink_enqueue_policy_locked (self, frame);
  g_mutex_unlock (&self->qlock);
  if (err)
    gst_diode_sink_direct_note_policy (self, NULL);
  g_mutex_unlock (&self->policy_lock);

  if (err) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Access policy not "
            "applied, publishing stopped: %s. The stream is now closed to "
            "every viewer but this publisher's own identity.", err->message),
        (NULL));
    g_error_free (err);
    /* After the locks: a notify handler may set the policy again. */
    g_object_freeze_notify (G_OBJECT (self));
    g_object_notify (G_OBJECT (self), "access");
    g_object_notify (G_OBJECT (self), "allow");
    g_object_notify (G_OBJECT (self), "fleet");
    g_object_thaw_notify (G_OBJECT (self));
  }
}

/* ------------------------------------------------------------------------ */
/* FLUSH */

/* FLUSH_START: what is queued is not sent (caps and policy are, viewers
 * need them), and publishing resumes at the next keyframe, flagged DISCONT,
 * as after a GOP drop. */
static void
flush_queue (GstDiodeSink * self)
{
  g_mutex_lock (&self->qlock);
  gst_diode_sink_drop_queued_locked (self, (1u << ITEM_MEDIA) |
      (1u << ITEM_EOS));
  self->dropping = TRUE;
  self->mark_discont = TRUE;
  GST_DEBUG_OBJECT (self, "flushed: %" G_GSIZE_FORMAT " bytes still in "
      "flight", self->queue_bytes);
  g_mutex_unlock (&self->qlock);
}

/* ------------------------------------------------------------------------ */
/* GstBaseSink */

static gboolean
sink_publish_attempt (gpointer user_data, GError ** error)
{
  return gst_diode_sink_publish_session (user_data, error);
}

/* The first connection (each relay of the list once) and the writer. At
 * start(), or at the first buffer with record=TRUE. */
gboolean
gst_diode_sink_start_publishing (GstDiodeSink * self, GError ** error)
{
  GstDiodeClient *c = self->client;

  /* The first connection fails fast: a wrong relay (list) or a refused
   * name is a setup error, not an outage to ride out. */
  if (!gst_diode_client_connect_first (c, sink_publish_attempt, self, error))
    return FALSE;
  self->published = TRUE;
  self->stats_posted_at = g_get_monotonic_time ();
  g_mutex_lock (&self->qlock);
  self->connected_at = self->stats_posted_at;
  g_mutex_unlock (&self->qlock);
  /* 0: the first buffer of an upload posts a diode-upload at once (percent
   * 0, the duration), so even an upload shorter than stats-interval reports
   * progress before its final message */
  self->upload_posted_at = 0;
  gst_diode_client_post_state (c, "connected", 0, NULL);
  g_mutex_lock (&self->qlock);
  self->writer = g_thread_new ("diodesink-writer",
      gst_diode_sink_writer_thread, self);
  g_mutex_unlock (&self->qlock);
  /* A policy change made while we were connecting goes out now. */
  send_policy_update (self);
  return TRUE;
}

static gboolean
gst_diode_sink_start (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);
  GstDiodeClient *c = self->client;
  GError *err = NULL;
  gboolean record;

  self->wseq = 0;
  self->published = FALSE;
  self->failed = FALSE;
  self->dropping = FALSE;
  self->need_keyframe = FALSE;
  self->mark_discont = TRUE;
  /* the counters: qlock, as `stats` reads them from any thread */
  g_mutex_lock (&self->qlock);
  self->bytes_sent = self->buffers_queued = 0;
  self->buffers_dropped = self->gops_dropped = self->reconnects = 0;
  g_mutex_unlock (&self->qlock);
  self->writer_stop = self->writer_done = FALSE;
  g_clear_pointer (&self->caps_sent, g_free);
  g_clear_pointer (&self->caps_frame, g_bytes_unref);
  GST_OBJECT_LOCK (self);
  record = self->record;
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->qlock);
  self->store_state = -1;
  self->stored_seq = self->stored_bytes = 0;
  self->stored_final = FALSE;
  self->stored_at = 0;
  self->store_warned = FALSE;
  g_mutex_unlock (&self->qlock);
  self->upload = FALSE;
  self->pubflags = record ? DIODE_PUBLISH_RECORD : 0;
  self->position = self->first_position = GST_CLOCK_TIME_NONE;
  /* record=TRUE: live recording or upload? The upstream can say only once
   * it runs, so the PUBLISH waits for the first buffer. */
  self->deferred = record;

  if (!gst_diode_client_prepare (c, &err) || (!record &&
          !gst_diode_sink_start_publishing (self, &err))) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      gst_diode_client_post_error (c, err, NULL);
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

static gboolean
gst_diode_sink_stop (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  gst_diode_sink_stop_writer (self);
  gst_diode_sink_direct_stop (self);
  gst_diode_client_close (self->client);
  g_mutex_lock (&self->qlock);
  g_queue_clear_full (&self->queue, (GDestroyNotify) gst_diode_sink_qitem_free);
  self->queue_bytes = 0;
  g_clear_error (&self->writer_error);
  g_mutex_unlock (&self->qlock);
  self->published = FALSE;
  GST_INFO_OBJECT (self, "sent %" G_GUINT64_FORMAT " bytes, %" G_GUINT64_FORMAT
      " buffers; dropped %" G_GUINT64_FORMAT " buffers in %" G_GUINT64_FORMAT
      " GOPs", self->bytes_sent, self->buffers_queued, self->buffers_dropped,
      self->gops_dropped);
  return TRUE;
}

static gboolean
gst_diode_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);
  gchar *str = gst_caps_to_string (caps);
  GBytes *frame;
  GstFlowReturn ret;

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
            DIODE_MAX_CAPS_PAYLOAD - 4), ("%s", str));
    g_free (str);
    return FALSE;
  }
  /* Caps are never dropped: viewers need them to decode what follows. */
  g_mutex_lock (&self->qlock);
  ret = gst_diode_sink_check_writer_locked (self);
  if (ret == GST_FLOW_OK)
    gst_diode_sink_enqueue_locked (self, frame);
  else
    g_bytes_unref (frame);
  g_mutex_unlock (&self->qlock);
  GST_DEBUG_OBJECT (self, "caps %s", str);
  g_free (self->caps_sent);
  self->caps_sent = str;
  return ret == GST_FLOW_OK;
}

static void
post_gop_dropped (GstDiodeSink * self, GstBuffer * buf, gsize backlog)
{
  GstClockTime ts = GST_BUFFER_PTS (buf);
  GstSegment *seg = &GST_BASE_SINK (self)->segment;
  GstMessage *qos;
  guint64 queued, dropped, gops, reconnects;

  /* the writer thread counts too: a consistent set under qlock */
  g_mutex_lock (&self->qlock);
  queued = self->buffers_queued;
  dropped = self->buffers_dropped;
  gops = self->gops_dropped;
  reconnects = self->reconnects;
  g_mutex_unlock (&self->qlock);
  GST_WARNING_OBJECT (self, "relay link slower than the stream: %"
      G_GSIZE_FORMAT " bytes queued; dropping a GOP", backlog);
  qos = gst_message_new_qos (GST_OBJECT (self), TRUE,
      gst_segment_to_running_time (seg, GST_FORMAT_TIME, ts),
      gst_segment_to_stream_time (seg, GST_FORMAT_TIME, ts), ts,
      GST_BUFFER_DURATION (buf));
  gst_message_set_qos_stats (qos, GST_FORMAT_BUFFERS, queued, dropped);
  gst_element_post_message (GST_ELEMENT (self), qos);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("diode-gop-dropped",
              "gops-dropped", G_TYPE_UINT64, gops,
              "reconnects", G_TYPE_UINT64, reconnects,
              "backlog-bytes", G_TYPE_UINT64, (guint64) backlog,
              "timestamp", G_TYPE_UINT64, ts, NULL)));
}

static GstFlowReturn
gst_diode_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);
  gboolean key = !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  gboolean dropped_gop = FALSE;
  guint64 limit;
  gsize backlog;
  GstFlowReturn ret;
  guint32 flags;

  if (!self->published && self->deferred) {
    ret = gst_diode_sink_publish_deferred (self);
    if (ret != GST_FLOW_OK)
      return ret;
  }
  if (!self->published)
    return GST_FLOW_ERROR;
  GST_OBJECT_LOCK (self);
  limit = self->backlog_limit;
  GST_OBJECT_UNLOCK (self);
  if (self->upload) {
    /* An upload never drops: wait for the relay (and its store) instead. */
    ret = gst_diode_sink_upload_wait (self, limit ? limit :
        DEFAULT_BACKLOG_LIMIT);
    if (ret != GST_FLOW_OK)
      return ret;
    limit = 0;
  }

  g_mutex_lock (&self->qlock);
  ret = gst_diode_sink_check_writer_locked (self);
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->qlock);
    return ret;
  }
  backlog = self->queue_bytes;
  /* Decide per GOP, at its keyframe: send all of it or none of it. The one
   * exception bounds memory when the link stalls for good: a GOP that alone
   * pushes the queue past four times the limit loses its tail (the part
   * already queued stays decodable) and publishing resumes at the next
   * keyframe. */
  if (key) {
    if (limit && backlog > limit) {
      self->gops_dropped++;
      self->dropping = TRUE;
      dropped_gop = TRUE;
    } else {
      self->dropping = FALSE;
    }
  } else if (!self->dropping && limit && backlog > 4 * limit) {
    self->dropping = TRUE;
    self->gops_dropped++;
    dropped_gop = TRUE;
  }
  if (self->dropping) {
    self->buffers_dropped++;
    self->mark_discont = TRUE;
    g_mutex_unlock (&self->qlock);
    if (dropped_gop)
      post_gop_dropped (self, buf, backlog);
    maybe_post_stats (self);
    return GST_FLOW_OK;
  }
  g_mutex_unlock (&self->qlock);

  if (gst_buffer_get_size (buf) > DIODE_MAX_MEDIA_PAYLOAD -
      DIODE_MEDIA_FIELDS_SIZE) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("A buffer of %" G_GSIZE_FORMAT
            " bytes exceeds the limit of one frame (%d bytes)",
            gst_buffer_get_size (buf), DIODE_MAX_MEDIA_PAYLOAD -
            DIODE_MEDIA_FIELDS_SIZE), (NULL));
    return GST_FLOW_ERROR;
  }
  flags = media_flags (self, buf);
  /* The first buffer of a session, and the first after a drop, is a
   * discontinuity for whoever watches. */
  g_mutex_lock (&self->qlock);
  if (self->mark_discont)
    flags |= DIODE_MEDIA_DISCONT;
  /* A reference, not a copy: the writer frames it when it sends it. */
  gst_diode_sink_enqueue_item_locked (self, ITEM_MEDIA, NULL,
      gst_buffer_ref (buf), flags);
  self->buffers_queued++;
  self->mark_discont = FALSE;
  g_mutex_unlock (&self->qlock);
  if (GST_BUFFER_PTS_IS_VALID (buf) || GST_BUFFER_DTS_IS_VALID (buf)) {
    GstClockTime t = GST_BUFFER_PTS_IS_VALID (buf) ? GST_BUFFER_PTS (buf) :
        GST_BUFFER_DTS (buf);
    GstClockTime st = gst_segment_to_stream_time (&sink->segment,
        GST_FORMAT_TIME, t);

    if (GST_CLOCK_TIME_IS_VALID (st) && (!GST_CLOCK_TIME_IS_VALID
            (self->position) || st > self->position))
      self->position = st;
  }
  maybe_post_stats (self);
  gst_diode_sink_upload_progress (self, FALSE);
  return GST_FLOW_OK;
}

static gboolean
gst_diode_sink_event (GstBaseSink * sink, GstEvent * event)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_START)
    flush_queue (self);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->published) {
    guint timeout;
    gint64 until;

    GST_OBJECT_LOCK (self);
    timeout = self->client->timeout;
    GST_OBJECT_UNLOCK (self);
    until = g_get_monotonic_time () + (gint64) (timeout ? timeout : 10000)
        * 1000;
    /* EOS goes after everything queued; wait (bounded) until the writer has
     * handed it to the relay, so it is not lost when the pipeline stops. */
    g_mutex_lock (&self->qlock);
    if (gst_diode_sink_check_writer_locked (self) == GST_FLOW_OK) {
      gst_diode_sink_enqueue_item_locked (self, ITEM_EOS, NULL, NULL, 0);
      while (self->queue_bytes && !self->writer_done && !self->flushing)
        if (!g_cond_wait_until (&self->qcond, &self->qlock, until))
          break;
      if (self->queue_bytes)
        GST_WARNING_OBJECT (self, "EOS: %" G_GSIZE_FORMAT " bytes still "
            "queued after %u ms", self->queue_bytes, timeout);
      else
        GST_INFO_OBJECT (self, "EOS sent after seq %" G_GUINT64_FORMAT,
            self->wseq);
    }
    g_mutex_unlock (&self->qlock);
    /* A recording (an upload, or a live one) is done when the relay says
     * it stored all of it. */
    if (self->pubflags & DIODE_PUBLISH_RECORD)
      gst_diode_sink_upload_wait_final (self);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* Only the EOS drain can wait in the streaming thread. */
static gboolean
gst_diode_sink_unlock (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  g_mutex_lock (&self->qlock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

static gboolean
gst_diode_sink_unlock_stop (GstBaseSink * sink)
{
  GstDiodeSink *self = GST_DIODE_SINK (sink);

  g_mutex_lock (&self->qlock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* URI handler */

static GstURIType
gst_diode_sink_uri_get_type (GType type)
{
  return GST_URI_SINK;
}

/* The URI's query may set the policy (?access=private&allow=...&fleet=...):
 * on a running sink that takes the same path as setting the properties. */
static void
uri_policy_changed (GstDiodeSink * self)
{
  GST_OBJECT_LOCK (self);
  self->policy_gen++;
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_diode_sink_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstDiodeSink *self = GST_DIODE_SINK (handler);

  if (!gst_diode_client_set_uri (self->client, uri, error))
    return FALSE;
  uri_policy_changed (self);
  send_policy_update (self);
  return TRUE;
}

static void
gst_diode_sink_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  /* diode:// parsing and printing live in the shared client */
  gst_diode_client_uri_handler_init (iface);
  iface->get_type = gst_diode_sink_uri_get_type;
  iface->set_uri = gst_diode_sink_uri_set_uri;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_diode_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  switch (prop_id) {
    case PROP_BACKLOG_LIMIT:
      GST_OBJECT_LOCK (self);
      self->backlog_limit = g_value_get_uint64 (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS_INTERVAL:
      GST_OBJECT_LOCK (self);
      self->stats_interval = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ACCESS:
      GST_OBJECT_LOCK (self);
      self->client->access = g_value_get_enum (value);
      self->policy_gen++;
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ALLOW:
      GST_OBJECT_LOCK (self);
      g_free (self->client->allow);
      self->client->allow = g_value_dup_string (value);
      self->policy_gen++;
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FLEET:
      GST_OBJECT_LOCK (self);
      g_free (self->client->fleet);
      self->client->fleet = g_value_dup_string (value);
      self->policy_gen++;
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_RECORD:
      GST_OBJECT_LOCK (self);
      self->record = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DIRECT:
      GST_OBJECT_LOCK (self);
      self->direct = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      /* off while playing: every direct path closes now (their viewers go
       * back to the relay path); on: at the next relay connection (a
       * reconnect or the next start), whose PUBLISH carries DIRECT */
      if (!g_value_get_boolean (value))
        gst_diode_sink_direct_stop (self);
      break;
    case PROP_DIRECT_MAX:
      GST_OBJECT_LOCK (self);
      self->direct_max = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case GST_DIODE_PROP_URI:
      /* the POLICY goes out when the notification is dispatched */
      gst_diode_client_set_property (self->client, prop_id, value);
      uri_policy_changed (self);
      break;
    default:
      if (!gst_diode_client_set_property (self->client, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_diode_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  switch (prop_id) {
    case PROP_BACKLOG_LIMIT:
      GST_OBJECT_LOCK (self);
      g_value_set_uint64 (value, self->backlog_limit);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS_INTERVAL:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->stats_interval);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, make_stats (self));
      break;
    case PROP_ACCESS:
      GST_OBJECT_LOCK (self);
      g_value_set_enum (value, self->client->access);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_ALLOW:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->client->allow);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_FLEET:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->client->fleet);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_RECORD:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->record);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DIRECT:
      GST_OBJECT_LOCK (self);
      g_value_set_boolean (value, self->direct);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_DIRECT_MAX:
      GST_OBJECT_LOCK (self);
      g_value_set_uint (value, self->direct_max);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      if (!gst_diode_client_get_property (self->client, prop_id, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

/* g_object_set (sink, "access", ..., "allow", ..., NULL) changes the policy
 * once, atomically: one POLICY per batch of property changes, sent when
 * GObject dispatches their notifications, so a viewer allowed by the final
 * settings is never cut off by an intermediate one. */
static void
gst_diode_sink_dispatch_properties_changed (GObject * object, guint n_pspecs,
    GParamSpec ** pspecs)
{
  G_OBJECT_CLASS (parent_class)->dispatch_properties_changed (object,
      n_pspecs, pspecs);
  send_policy_update (GST_DIODE_SINK (object));
}

static void
gst_diode_sink_init (GstDiodeSink * self)
{
  self->client = gst_diode_client_new (GST_ELEMENT (self),
      DIODE_ROLE_PUBLISHER);
  self->backlog_limit = DEFAULT_BACKLOG_LIMIT;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->direct = DEFAULT_DIRECT;
  self->direct_max = DEFAULT_DIRECT_MAX;
  self->direct_stop_fd = -1;
  g_mutex_init (&self->admit_lock);
  g_mutex_init (&self->server_lock);
  g_mutex_init (&self->direct_stop_lock);
  g_mutex_init (&self->qlock);
  g_mutex_init (&self->policy_lock);
  g_cond_init (&self->qcond);
  g_queue_init (&self->queue);
  /* Publishing forwards buffers as they come: the clock is the viewer's. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}

static void
gst_diode_sink_finalize (GObject * object)
{
  GstDiodeSink *self = GST_DIODE_SINK (object);

  gst_diode_client_free (self->client);
  g_queue_clear_full (&self->queue, (GDestroyNotify) gst_diode_sink_qitem_free);
  g_clear_error (&self->writer_error);
  gst_diode_sink_direct_stop (self);
  g_mutex_clear (&self->qlock);
  g_mutex_clear (&self->policy_lock);
  gst_diode_policy_free (self->admit_policy);
  g_free (self->own_address);
  g_mutex_clear (&self->admit_lock);
  g_mutex_clear (&self->server_lock);
  g_mutex_clear (&self->direct_stop_lock);
  g_cond_clear (&self->qcond);
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
  gobject_class->dispatch_properties_changed =
      gst_diode_sink_dispatch_properties_changed;

  gst_diode_client_install_properties (gobject_class,
      GST_DIODE_DEFAULT_TIMEOUT);
  g_object_class_install_property (gobject_class, PROP_BACKLOG_LIMIT,
      g_param_spec_uint64 ("backlog-limit", "Backlog limit",
          "Bytes queued for a slow relay link past which the next GOP is "
          "dropped whole (0: never drop)", 0, G_MAXUINT64,
          DEFAULT_BACKLOG_LIMIT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ACCESS,
      g_param_spec_enum ("access", "Access", "Who may watch: public (any "
          "identity), protected (members of the fleet), private (the "
          "allowlist); changes apply at once", GST_TYPE_DIODE_ACCESS,
          DIODE_ACCESS_PUBLIC, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ALLOW,
      g_param_spec_string ("allow", "Allow", "Addresses that may watch a "
          "private stream (comma separated), or the path of a regular file "
          "of them ('#' comments, 128 KiB at most)", NULL, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_FLEET,
      g_param_spec_string ("fleet", "Fleet", "Fleet whose members may watch "
          "a protected stream (the relay's configuration lists them)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_RECORD,
      g_param_spec_boolean ("record", "Record", "Let relays with a store "
          "record the stream (the access policy applies to the recording "
          "too). From a non-live upstream (a file) the stream is uploaded "
          "at full speed as a recording: nothing dropped, finished at EOS",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DIRECT,
      g_param_spec_boolean ("direct", "Direct",
          "Offer viewers a direct path (ICE through NATs, TLS 1.3 end to "
          "end, the access policy checked again by this sink) so media need "
          "not cross the relay; the relay path stays their fallback. Needs "
          "a relay of protocol version 4. Set to false while playing, it "
          "closes every direct path at once; set to true while playing, it "
          "applies at the next connection to a relay (a reconnect or the "
          "next start)",
          DEFAULT_DIRECT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DIRECT_MAX,
      g_param_spec_uint ("direct-max", "Direct max",
          "Most viewers on direct paths at once (each costs the uplink a "
          "copy of the stream); more are refused and stay on the relay path",
          0, 64, DEFAULT_DIRECT_MAX, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "bytes-sent, buffers-sent, buffers-dropped, gops-dropped, "
          "reconnects, backlog-bytes, connected-ms, relay (the relay in use, "
          "host:port), failovers (moves to another relay of the list), "
          "recording (the relay's store state: none, recording, unavailable, "
          "unknown), stored-seq, stored-bytes (what the relay has stored), "
          "path (direct: some viewer takes the stream over a direct path "
          "now, else relay), "
          "direct (offering direct paths), direct-viewers (on direct paths "
          "now), direct-sessions, direct-offers, direct-refused, "
          "direct-bytes-sent (media bytes over direct paths)",
          GST_TYPE_STRUCTURE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval",
          "Post a diode-stats element message this often (ms, 0: never)",
          0, G_MAXUINT, DEFAULT_STATS_INTERVAL, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /* The enum types of the properties are part of the element's documented
   * API (as ext/srt marks GstSRTConnectionMode). */
  gst_type_mark_as_plugin_api (GST_TYPE_DIODE_ACCESS, 0);

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
