/* gst-diode — diodesrc: watch a stream from a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-diodesrc
 * @title: diodesrc
 * @see_also: diodesink
 *
 * Watches a stream published with diodesink, through a diode relay, over
 * TLS 1.3. It outputs exactly the publisher's caps, and starts at the relay's
 * latest keyframe (with the stream's headers first) so decoding begins at
 * once. On a live stream it is a live source: buffer timestamps are mapped
 * onto this pipeline's running time when they arrive, and the `latency`
 * property says how much jitter a `sync=true` sink should absorb. The
 * publisher's EOS becomes EOS here.
 *
 * A stream that is not published yet is waited for up to `timeout` ms.
 *
 * ## Joining at the live edge
 *
 * The relay starts a viewer at its latest keyframe, which may be up to a
 * GOP older than the newest frame. With `join=live` (the default) the
 * source decodes the frames from that keyframe without showing them: they
 * go out before the segment's start (and flagged DECODE_ONLY), so decoders
 * and sinks drop their output, and the first picture shown is the frame
 * that was live when the viewer joined, placed at the moment it joined.
 * From then on it runs as close to live as a viewer that has been there
 * from the start. `join=keyframe` shows the keyframe first, at once, and
 * then stays that far behind live. `stats` counts the frames decoded but
 * not shown (`join-decode-only`). Needs a relay that says where live is
 * (docs/protocol.md section 18); with an older one both behave as
 * `keyframe`. A pipeline that does not decode (an appsink or a muxer taking
 * the encoded frames) should use `join=keyframe`: sinks drop what comes
 * before the segment's start, the keyframe included, so with `live` its
 * first buffer would be a delta frame.
 *
 * `relay` may list several relays (`a:7878,b:7878`, each entry may pin its
 * relay as `0xADDRESS@host:port`): the source uses the first that works and,
 * when that relay is lost, resumes on the next one in order at the next
 * sequence number it needs, without the pipeline noticing more than a gap.
 *
 * With `publisher-id` set to the address of the expected publisher (what
 * `diode id` prints on the camera), the source watches the stream only
 * while that identity publishes it: the relay refuses the subscription, or
 * cuts the source off, when another identity holds the name (after its
 * owner's grace period ran out), and the source checks the relay's
 * SUBSCRIBE_OK itself. Either way it fails with
 * GST_RESOURCE_ERROR_NOT_AUTHORIZED naming both addresses, and does not
 * reconnect.
 *
 * ## Direct paths
 *
 * When the publisher offers direct paths (diodesink `direct=true`) and
 * `direct` is `auto` (the default), a live viewer asks for one as soon as
 * it is subscribed, while it keeps playing from the relay. It switches when
 * the direct path delivers the next sequence number it needs (PATH DIRECT:
 * the relay stops sending it media), and goes back to the relay path at the
 * next sequence number it needs when the direct path breaks (PATH RELAY:
 * the relay resends from there): no gap, no duplicate, no pipeline error.
 * It tries again later (2 s, doubling to 60 s). Each change posts a
 * `diode-path` element message (`path`, `pair`, `from-seq`, `reason`);
 * `stats` has `path` and `pair`. `stun-server` and `turn-server` as on
 * diodesink; `direct=never` always uses the relay.
 *
 * ## Recordings
 *
 * A relay with a store (`diode-relay --store DIR`) keeps the streams whose
 * publisher set `record=true`. `start` says where to begin: `live` (the
 * default: the latest keyframe), `earliest` (the oldest stored chunk),
 * `-SECONDS` back from the live edge (`-30`, `-1.5`), or an ISO 8601 time
 * (`2026-12-01T09:30:00Z`; no zone means UTC; the relay's receive time).
 * The URI takes it too: `diode://relay/cam?start=-3600`.
 *
 * Before it goes to PAUSED the source asks the relay what it holds (RANGE).
 * A finished recording (its publisher sent EOS, e.g. an uploaded film) is
 * played like a file: a non-live source that prerolls, pauses, and plays
 * from its start. Anything else stays a live source. On a recorded stream
 * the source answers SEEKING (seekable, in TIME), POSITION and DURATION in
 * recording time (0 is the oldest stored chunk; a live recording's duration
 * grows), and takes flushing TIME seeks: KEY_UNIT lands on the keyframe at
 * or before the target (SNAP_AFTER: after, both SNAP flags: nearest), an
 * accurate seek decodes from that keyframe and the sinks drop what comes
 * before the target. Seeking to the live edge or past it returns to live.
 * So `gst-play-1.0 diode://...` seeks with its arrow keys and an
 * application's gst_element_seek_simple() works.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 diodesrc stream=pi-taipei ! h264parse ! avdec_h264 ! autovideosink
 * gst-launch-1.0 diodesrc stream=pi-taipei join=keyframe ! h264parse ! avdec_h264 ! autovideosink
 * gst-launch-1.0 diodesrc relay=relay.example.org:7878 stream=pi-taipei ! decodebin ! autovideosink
 * gst-play-1.0 diode://relay.example.org/pi-taipei
 * gst-play-1.0 diode://relay-a.example.org,relay-b.example.org/pi-taipei
 * gst-launch-1.0 diodesrc relay=relay.example.org stream=pi-taipei turn-server=turn://me:secret@turn.example.org:3478 ! decodebin ! autovideosink
 * ]|
 * Recordings (the relay runs with `--store`):
 * |[
 * gst-launch-1.0 diodesrc relay=relay.example.org stream=pi-taipei start=earliest ! decodebin ! autovideosink
 * gst-launch-1.0 diodesrc relay=relay.example.org stream=pi-taipei start=-30 ! decodebin ! autovideosink
 * gst-launch-1.0 diodesrc relay=relay.example.org stream=pi-taipei start=2026-12-01T09:30:00Z ! decodebin ! autovideosink
 * gst-play-1.0 "diode://relay.example.org/pi-taipei?start=-3600"
 * gst-play-1.0 diode://relay.example.org/movie
 * ]|
 * In gst-play-1.0, the left and right arrows seek 10 s back and forward
 * (space pauses): on a live recorded stream, right at the end goes back
 * to live.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesrc-private.h"

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

GST_DEBUG_CATEGORY (gst_diode_src_debug);
#define GST_CAT_DEFAULT gst_diode_src_debug

/* Properties: relay, stream, identity, relay-id and timeout are the shared
 * client's (GST_DIODE_PROP_*); the rest are the source's own. */
enum {
  PROP_LATENCY = GST_DIODE_PROP_LAST,
  PROP_STATS,
  PROP_STATS_INTERVAL,
  PROP_PUBLISHER_ID,
  PROP_START,
  PROP_DIRECT,
  PROP_JOIN,
};

#define DEFAULT_LATENCY 125     /* ms, as srtsrc's (docs/decisions.md) */
#define DEFAULT_STATS_INTERVAL 1000     /* ms */
#define DEFAULT_DIRECT GST_DIODE_DIRECT_AUTO
#define DEFAULT_JOIN GST_DIODE_JOIN_LIVE
#define RELAY_POLL_MS 100       /* read the relay at least this often */

static void gst_diode_src_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

#define gst_diode_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstDiodeSrc, gst_diode_src, GST_TYPE_PUSH_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_diode_src_uri_handler_init);
    GST_DEBUG_CATEGORY_INIT (gst_diode_src_debug, "diodesrc", 0,
        "diode viewer"));
GST_ELEMENT_REGISTER_DEFINE (diodesrc, "diodesrc", GST_RANK_PRIMARY,
    GST_TYPE_DIODE_SRC);

/* Connect, TLS, HELLO, then SUBSCRIBE from @start_seq (0: latest keyframe)
 * or, on a relay of version 3, where self->sub_* say (a time, the
 * earliest stored chunk). The relay holds the subscription until the
 * stream appears, up to our timeout (0: as long as the relay allows). */
gboolean
gst_diode_src_subscribe (GstDiodeSrc * self, guint64 start_seq,
    GError ** error)
{
  GstDiodeClient *c = self->client;
  GBytes *sub;
  gboolean ok;

  /* A new subscription: any direct session belonged to the old one, and
   * frames held for a join at the live edge to the old subscription. */
  gst_diode_src_direct_resubscribing (self);
  gst_diode_src_join_reset (self);
  /* A connection may be open already: the one RANGE was asked on. */
  if (!c->session && !gst_diode_client_open (c, error))
    return FALSE;
  sub = gst_diode_src_subscribe_frame (self, start_seq);
  if (!sub) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' is not a valid stream name (1 to 255 bytes of UTF-8, no '/' "
        "and no control characters)", c->stream_name);
    gst_diode_client_close (c);
    return FALSE;
  }
  diode_session_sent (c->session, DIODE_MSG_SUBSCRIBE, 0, NULL);
  ok = gst_diode_client_send_bytes (c, sub, error);
  g_bytes_unref (sub);
  if (!ok) {
    gst_diode_client_close (c);
    return FALSE;
  }
  self->subscribed = FALSE;
  self->resumed = start_seq != 0 || (self->last_seq
      && self->sub_mode == DIODE_START_TIME);
  GST_INFO_OBJECT (self, "subscribed to '%s' on relay %s from seq %"
      G_GUINT64_FORMAT " (start mode %u, %" G_GUINT64_FORMAT ")",
      c->stream_name, c->hostport, start_seq, self->sub_mode,
      self->sub_value);
  return TRUE;
}

/* One attempt at the relay the client chose: at start from the latest
 * keyframe; after a lost connection, on whichever relay of the list, at
 * the next seq we need (a relay that does not hold it starts at its latest
 * keyframe, and the gap flags DISCONT). */
static gboolean
src_resubscribe (gpointer user_data, GError ** error)
{
  GstDiodeSrc *self = user_data;

  gst_diode_src_prepare_resume (self);
  return gst_diode_src_subscribe (self, self->last_seq &&
      self->sub_mode == DIODE_START_LIVE ? self->last_seq + 1 : 0, error);
}

/* READY->PAUSED, before the base class: settings, counters, and the
 * connection (gst_diode_src_connect), because whether this source is live
 * depends on what the relay holds. */
static gboolean
src_prepare (GstDiodeSrc * self)
{
  gchar *pin;

  GST_OBJECT_LOCK (self);
  pin = g_strdup (self->publisher_id);
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->pin, g_free);
  if (pin && *pin) {
    if (!diode_msg_address_is_valid (pin)) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("publisher-id '%s' is not an address (\"0x\" and 40 hex digits, "
              "as `diode id` prints it)", pin), (NULL));
      g_free (pin);
      return FALSE;
    }
    self->pin = g_ascii_strdown (pin, -1);
  }
  g_free (pin);

  self->subscribed = FALSE;
  self->was_live = FALSE;
  self->last_seq = 0;
  self->stats_posted_at = g_get_monotonic_time ();
  GST_OBJECT_LOCK (self);
  self->started_at = self->stats_posted_at;
  self->first_buffer_at = 0;
  self->buffers_received = self->bytes_received = 0;
  self->discont = self->buffers_missed = self->reconnects = 0;
  self->duplicates = 0;
  self->join_decode_only = self->join_shown_seq = 0;
  GST_OBJECT_UNLOCK (self);
  gst_diode_src_join_reset (self);
  self->resumed = FALSE;
  self->have_offset = FALSE;
  self->connected_early = FALSE;
  g_clear_pointer (&self->caps_str, g_free);
  gst_diode_src_direct_reset (self, TRUE);
  return gst_diode_src_connect (self);
}

static GstStateChangeReturn
gst_diode_src_change_state (GstElement * element, GstStateChange transition)
{
  GstDiodeSrc *self = GST_DIODE_SRC (element);

  /* GstBaseSrc reads is_live to decide NO_PREROLL before it starts us. */
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !src_prepare (self))
    return GST_STATE_CHANGE_FAILURE;
  return GST_ELEMENT_CLASS (parent_class)->change_state (element,
      transition);
}

static gboolean
gst_diode_src_start (GstBaseSrc * bsrc)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);

  /* Connected in change_state; a start without it (an activation the
   * state change did not make) connects now. */
  if (!self->connected_early && !src_prepare (self))
    return FALSE;
  self->connected_early = FALSE;
  return TRUE;
}

static GstFlowReturn
src_reconnect (GstDiodeSrc * self, const gchar * reason)
{
  GError *err = NULL;

  if (gst_diode_client_reconnect (self->client, reason, src_resubscribe, self,
          &err)) {
    GST_OBJECT_LOCK (self);
    self->reconnects++;
    GST_OBJECT_UNLOCK (self);
    return GST_FLOW_OK;
  }
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (err);
    return GST_FLOW_FLUSHING;
  }
  gst_diode_client_post_error (self->client, err, NULL);
  g_error_free (err);
  return GST_FLOW_ERROR;
}

static gboolean
gst_diode_src_stop (GstBaseSrc * bsrc)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);

  gst_diode_src_direct_reset (self, FALSE);
  gst_diode_src_join_reset (self);
  gst_diode_client_close (self->client);
  GST_INFO_OBJECT (self, "received %" G_GUINT64_FORMAT " buffers, %"
      G_GUINT64_FORMAT " bytes", self->buffers_received, self->bytes_received);
  return TRUE;
}

/* Caps come from the publisher, in-band: nothing to negotiate up front. */
static gboolean
gst_diode_src_negotiate (GstBaseSrc * bsrc)
{
  return TRUE;
}

gboolean
gst_diode_src_apply_caps (GstDiodeSrc * self, const gchar * str)
{
  GstCaps *caps;
  gboolean ok;

  if (!g_strcmp0 (str, self->caps_str))
    return TRUE;
  caps = gst_caps_from_string (str);
  if (!caps || !gst_caps_is_fixed (caps)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("The publisher sent caps that cannot be used here"), ("%s", str));
    if (caps)
      gst_caps_unref (caps);
    return FALSE;
  }
  ok = gst_base_src_set_caps (GST_BASE_SRC (self), caps);
  gst_caps_unref (caps);
  if (!ok) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream refused the stream's caps"), ("%s", str));
    return FALSE;
  }
  g_free (self->caps_str);
  self->caps_str = g_strdup (str);
  return TRUE;
}

/* Publisher timestamps -> our running time. The first buffer (and the first
 * after a gap) is placed at "now"; later ones keep the publisher's spacing, so
 * a sync=true sink plays them smoothly `latency` later. */
static GstClockTime
map_ts (GstDiodeSrc * self, guint64 t)
{
  gint64 r;

  if (self->fixed_offset)
    return gst_diode_src_recording_ts (self, t);
  if (t == DIODE_TIME_NONE || !self->have_offset)
    return GST_CLOCK_TIME_NONE;
  r = (gint64) t + self->ts_offset;
  return r < 0 ? 0 : (GstClockTime) r;
}

GstClockTime
gst_diode_src_now (GstDiodeSrc * self)
{
  GstClock *clock;
  GstClockTime now, base;
  GstSegment seg;

  GST_OBJECT_LOCK (self);
  clock = GST_ELEMENT_CLOCK (self) ? gst_object_ref (GST_ELEMENT_CLOCK (self))
      : NULL;
  base = GST_ELEMENT_CAST (self)->base_time;
  GST_OBJECT_UNLOCK (self);
  if (!clock) {
    now = 0;
  } else {
    now = gst_clock_get_time (clock);
    now = now > base ? now - base : 0;
    gst_object_unref (clock);
  }
  /* running time -> buffer time in the current segment (base is not 0
   * after a join at the live edge moved the segment's start) */
  GST_OBJECT_LOCK (self);
  seg = GST_BASE_SRC (self)->segment;
  GST_OBJECT_UNLOCK (self);
  now = now > seg.base ? now - seg.base : 0;
  return now + seg.start;
}

static void
update_offset (GstDiodeSrc * self, const DiodeMsg * m, gboolean discont)
{
  GstClockTime now;
  guint64 ref = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;

  if (self->fixed_offset || ref == DIODE_TIME_NONE || (self->have_offset
          && !discont) || gst_diode_src_join_keeps_offset (self))
    return;
  now = gst_diode_src_now (self);
  self->ts_offset = (GstClockTimeDiff) now - (GstClockTimeDiff) ref;
  self->have_offset = TRUE;
  GST_DEBUG_OBJECT (self, "publisher time %" GST_TIME_FORMAT " is running "
      "time %" GST_TIME_FORMAT, GST_TIME_ARGS (ref), GST_TIME_ARGS (now));
}

GstBuffer *
gst_diode_src_make_buffer (GstDiodeSrc * self, const DiodeMsg * m)
{
  GstBuffer *buf = gst_buffer_new_wrapped_bytes (m->payload);
  gboolean gap = self->last_seq && m->seq > self->last_seq + 1;
  /* A sequence that went back is a new run (another relay, a restarted
   * publisher that lost count): a discontinuity, not a gap to count. */
  gboolean restart = self->last_seq && m->seq <= self->last_seq;
  gboolean discont = !self->last_seq || gap || restart
      || (m->flags & DIODE_MEDIA_DISCONT);
  guint64 ref;                  /* the buffer's time: DTS, else PTS */

  if (gap) {
    GST_OBJECT_LOCK (self);
    self->discont++;
    self->buffers_missed += m->seq - self->last_seq - 1;
    GST_OBJECT_UNLOCK (self);
    GST_WARNING_OBJECT (self, "missed %" G_GUINT64_FORMAT " buffers (seq %"
        G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT ")",
        m->seq - self->last_seq - 1, m->seq, self->last_seq);
  }
  /* Re-anchor on a gap (relay skip) and on the publisher's DISCONT (a new
   * run of the stream whose clock starts elsewhere). */
  update_offset (self, m, gap || restart || (m->flags & DIODE_MEDIA_DISCONT));
  self->last_seq = m->seq;

  GST_BUFFER_PTS (buf) = map_ts (self, m->pts);
  GST_BUFFER_DTS (buf) = map_ts (self, m->dts);
  ref = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;
  if (ref != DIODE_TIME_NONE)
    gst_diode_src_maybe_new_segment (self, ref, map_ts (self, ref));
  GST_BUFFER_DURATION (buf) = m->duration == DIODE_TIME_NONE ?
      GST_CLOCK_TIME_NONE : m->duration;
  GST_BUFFER_OFFSET (buf) = m->offset;
  GST_BUFFER_OFFSET_END (buf) = m->offset_end;
  if (!(m->flags & DIODE_MEDIA_KEYFRAME))
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (m->flags & DIODE_MEDIA_HEADER)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_HEADER);
  if (discont)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
  if (m->flags & DIODE_MEDIA_GAP)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_GAP);
  if (m->flags & DIODE_MEDIA_DROPPABLE)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DROPPABLE);
  if (m->flags & DIODE_MEDIA_MARKER)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_MARKER);
  /* One lock per buffer for everything the stats reader sees (64-bit
   * words: they tear on the 32-bit camera). */
  GST_OBJECT_LOCK (self);
  if (ref != DIODE_TIME_NONE)
    self->last_time = ref;
  self->buffers_received++;
  self->bytes_received += gst_buffer_get_size (buf);
  if (!self->first_buffer_at)
    self->first_buffer_at = g_get_monotonic_time ();
  GST_OBJECT_UNLOCK (self);
  return buf;
}

static GstStructure *
make_stats (GstDiodeSrc * self)
{
  gint64 now = g_get_monotonic_time ();
  GstStructure *s;

  /* The streaming thread counts under the object lock: 64-bit words are
   * not read or written at once on 32-bit ARM (the camera). Not held
   * below: the client's part takes it again. */
  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("application/x-diode-src-stats",
      "bytes-received", G_TYPE_UINT64, self->bytes_received,
      "buffers-received", G_TYPE_UINT64, self->buffers_received,
      "discont", G_TYPE_UINT64, self->discont,
      "buffers-missed", G_TYPE_UINT64, self->buffers_missed,
      "duplicates", G_TYPE_UINT64, self->duplicates,
      "reconnects", G_TYPE_UINT64, self->reconnects,
      "join-ms", G_TYPE_INT64, self->first_buffer_at ?
      (self->first_buffer_at - self->started_at) / 1000 : (gint64) - 1,
      "connected-ms", G_TYPE_UINT64, self->started_at ?
      (guint64) ((now - self->started_at) / 1000) : (guint64) 0, NULL);
  GST_OBJECT_UNLOCK (self);
  gst_diode_client_add_stats (self->client, s);
  gst_diode_src_add_recording_stats (self, s);
  gst_diode_src_direct_add_stats (self, s);
  gst_diode_src_join_add_stats (self, s);
  return s;
}

static void
maybe_post_stats (GstDiodeSrc * self)
{
  guint interval;

  GST_OBJECT_LOCK (self);
  interval = self->stats_interval;
  GST_OBJECT_UNLOCK (self);
  if (gst_diode_stats_due (&self->stats_posted_at, interval))
    gst_diode_post_stats (GST_ELEMENT (self), make_stats (self));
}

static GstFlowReturn
gst_diode_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstDiodeSrc *self = GST_DIODE_SRC (psrc);
  GstDiodeClient *c = self->client;
  guint timeout;
  gint64 deadline;

  GST_OBJECT_LOCK (self);
  timeout = c->timeout;
  GST_OBJECT_UNLOCK (self);
  /* Until SUBSCRIBE_OK the relay answers within its wait; give it a little
   * more than ours before concluding it is gone. */
  deadline = (!self->subscribed && timeout) ?
      g_get_monotonic_time () + ((gint64) timeout + 2000) * 1000 : -1;

  for (;;) {
    DiodeMsg m = { 0 };
    GError *err = NULL;
    GstFlowReturn dret = GST_FLOW_OK;
    gint64 wake_at, until;
    DiodeSessionResult r;

    /* Frames held to join at the live edge go out first, in order. */
    if (gst_diode_src_join_next (self, outbuf, &dret)) {
      if (dret == GST_FLOW_OK)
        maybe_post_stats (self);
      return dret;
    }
    /* While the direct path delivers back to back, the relay connection
     * is still read now and then: its PINGs want answers, and our
     * keepalive judges the relay by what we read. */
    if (self->on_direct && g_get_monotonic_time () - self->relay_polled_at >
        RELAY_POLL_MS * 1000) {
      until = 0;
    } else if (gst_diode_src_join_holding (self)) {
      /* the live frame is a few ms away: the direct path can wait */
      until = deadline;
    } else {
      /* The direct path first: its next buffer, its SIGNALs, a due
       * attempt, a switch or a fallback (gstdiodesrc-direct.c). */
      if (gst_diode_src_direct_service (self, outbuf, &dret, &wake_at)) {
        if (dret == GST_FLOW_OK)
          maybe_post_stats (self);
        return dret;
      }
      until = wake_at < 0 ? deadline : deadline < 0 ? wake_at :
          MIN (deadline, wake_at);
    }
    self->relay_polled_at = g_get_monotonic_time ();
    r = gst_diode_client_recv (c, &m, until, &err);

    /* woken for the direct path, or by its timer, or a poll */
    if (r == DIODE_SESSION_NEED_MORE && (c->aux_ready || until == 0
            || deadline < 0 || g_get_monotonic_time () < deadline))
      continue;
    if (r == DIODE_SESSION_NEED_MORE) {
      if (self->was_live && gst_diode_client_get_reconnect (c)) {
        GstFlowReturn ret = src_reconnect (self, "the relay did not answer "
            "the subscription");
        if (ret != GST_FLOW_OK)
          return ret;
        deadline = timeout ? g_get_monotonic_time () +
            ((gint64) timeout + 2000) * 1000 : -1;
        continue;
      }
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
          ("Stream '%s' is not published on relay %s (waited %u ms)",
              c->stream_name, c->hostport, timeout), (NULL));
      return GST_FLOW_ERROR;
    }
    if (r == DIODE_SESSION_ERROR) {
      if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free (err);
        return GST_FLOW_FLUSHING;
      }
      if (c->lost && gst_diode_client_get_reconnect (c)) {
        GstFlowReturn ret = src_reconnect (self, err->message);

        g_error_free (err);
        if (ret != GST_FLOW_OK)
          return ret;
        deadline = timeout ? g_get_monotonic_time () +
            ((gint64) timeout + 2000) * 1000 : -1;
        continue;
      }
      gst_diode_client_post_error (c, err, NULL);
      g_error_free (err);
      return GST_FLOW_ERROR;
    }

    switch (m.type) {
      case DIODE_MSG_SUBSCRIBE_OK:
        /* The relay checked the pin already; a relay that does not know
         * pins ignores them, so check its answer too. */
        if (self->pin && (m.publisher == NULL ||
                g_ascii_strcasecmp (m.publisher, self->pin))) {
          if (m.publisher)
            GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
                ("Relay %s: stream '%s' is published by %s, but publisher-id "
                    "requires %s", c->hostport, c->stream_name, m.publisher,
                    self->pin), (NULL));
          else
            GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
                ("Relay %s does not say who publishes stream '%s', so "
                    "publisher-id %s cannot be checked (the relay predates "
                    "publisher pinning)", c->hostport, c->stream_name,
                    self->pin), (NULL));
          diode_msg_clear (&m);
          return GST_FLOW_ERROR;
        }
        self->subscribed = TRUE;
        self->was_live = TRUE;
        gst_diode_src_note_subscribed (self, &m);
        gst_diode_src_join_subscribed (self, &m);
        gst_diode_src_direct_subscribed (self, &m);
        deadline = -1;
        GST_INFO_OBJECT (self, "'%s' is live, starting at seq %"
            G_GUINT64_FORMAT, c->stream_name, m.seq);
        break;
      case DIODE_MSG_SIGNAL:
        gst_diode_src_direct_relay_signal (self, &m);
        break;
      case DIODE_MSG_CAPS:
        if (gst_diode_src_direct_drop_relay (self, &m)
            || gst_diode_src_join_hold (self, &m))
          break;
        if (!gst_diode_src_apply_caps (self, m.caps)) {
          diode_msg_clear (&m);
          return GST_FLOW_NOT_NEGOTIATED;
        }
        break;
      case DIODE_MSG_MEDIA:
        if (!self->caps_str) {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("The relay sent media before caps"), (NULL));
          diode_msg_clear (&m);
          return GST_FLOW_ERROR;
        }
        if (gst_diode_src_direct_drop_relay (self, &m))
          break;
        /* After a resume, a relay behind us (docs/protocol.md section 8)
         * starts at its next seq, below ours: what we had already is a
         * duplicate. A new run of the stream (a restarted publisher, whose
         * first buffer is flagged DISCONT) is still taken as one. */
        if (self->resumed && self->last_seq && m.seq <= self->last_seq
            && !(m.flags & DIODE_MEDIA_DISCONT)) {
          GST_OBJECT_LOCK (self);
          self->duplicates++;
          GST_OBJECT_UNLOCK (self);
          GST_DEBUG_OBJECT (self, "dropping seq %" G_GUINT64_FORMAT
              ", had up to %" G_GUINT64_FORMAT, m.seq, self->last_seq);
          break;
        }
        if (gst_diode_src_join_hold (self, &m))
          break;
        *outbuf = gst_diode_src_make_buffer (self, &m);
        diode_msg_clear (&m);
        maybe_post_stats (self);
        return GST_FLOW_OK;
      case DIODE_MSG_EOS:
        /* on the direct path its own EOS comes after the frames in flight */
        if (gst_diode_src_direct_hold_eos (self, &m)
            || gst_diode_src_join_hold (self, &m))
          break;
        GST_INFO_OBJECT (self, "publisher ended '%s'", c->stream_name);
        diode_msg_clear (&m);
        return GST_FLOW_EOS;
      case DIODE_MSG_ERROR:{
        GError *e;

        /* A start in time where nothing is stored yet (a recording that
         * just began): watch live instead, which waits for the first
         * keyframe. */
        if (m.error_code == DIODE_ERR_NOT_STORED && !self->subscribed
            && self->sub_mode != DIODE_START_LIVE) {
          GError *err2 = NULL;

          GST_INFO_OBJECT (self, "relay %s: %s; watching '%s' live",
              c->hostport, m.error_text, c->stream_name);
          diode_msg_clear (&m);
          self->sub_mode = DIODE_START_LIVE;
          self->sub_value = 0;
          gst_diode_client_close (c);
          if (!gst_diode_src_subscribe (self, 0, &err2)) {
            if (g_error_matches (err2, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
              g_error_free (err2);
              return GST_FLOW_FLUSHING;
            }
            gst_diode_client_post_error (c, err2, NULL);
            g_error_free (err2);
            return GST_FLOW_ERROR;
          }
          continue;
        }
        e = gst_diode_client_error_from_msg (c, &m);
        /* The relay is going away (shutdown, keepalive) or the publisher
         * did not come back in time: an outage, if we were watching. */
        if ((c->lost || (self->was_live && m.error_code == DIODE_ERR_NOT_FOUND))
            && gst_diode_client_get_reconnect (c)) {
          GstFlowReturn ret = src_reconnect (self, e->message);

          g_error_free (e);
          diode_msg_clear (&m);
          if (ret != GST_FLOW_OK)
            return ret;
          deadline = timeout ? g_get_monotonic_time () +
              ((gint64) timeout + 2000) * 1000 : -1;
          continue;
        }
        gst_diode_client_post_error (c, e, NULL);
        g_error_free (e);
        diode_msg_clear (&m);
        return GST_FLOW_ERROR;
      }
      default:
        GST_DEBUG_OBJECT (self, "ignoring %s", diode_msg_type_name (m.type));
        break;
    }
    diode_msg_clear (&m);
  }
}

static gboolean
gst_diode_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);

  if (gst_diode_src_query_recording (self, query))
    return TRUE;
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY
      && gst_base_src_is_live (bsrc)) {
    GstClockTime lat;

    GST_OBJECT_LOCK (self);
    lat = (GstClockTime) self->latency * GST_MSECOND;
    GST_OBJECT_UNLOCK (self);
    gst_query_set_latency (query, TRUE, lat, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

static gboolean
gst_diode_src_unlock (GstBaseSrc * bsrc)
{
  gst_diode_client_unlock (GST_DIODE_SRC (bsrc)->client);
  return TRUE;
}

static gboolean
gst_diode_src_unlock_stop (GstBaseSrc * bsrc)
{
  gst_diode_client_unlock_stop (GST_DIODE_SRC (bsrc)->client);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* URI handler */

static GstURIType
gst_diode_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static void
gst_diode_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  /* diode:// parsing and printing live in the shared client */
  gst_diode_client_uri_handler_init (iface);
  iface->get_type = gst_diode_src_uri_get_type;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
gst_diode_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstDiodeSrc *self = GST_DIODE_SRC (object);

  if (prop_id == PROP_LATENCY) {
    GST_OBJECT_LOCK (self);
    self->latency = g_value_get_uint (value);
    GST_OBJECT_UNLOCK (self);
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_latency (GST_OBJECT (self)));
  } else if (prop_id == PROP_STATS_INTERVAL) {
    GST_OBJECT_LOCK (self);
    self->stats_interval = g_value_get_uint (value);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_PUBLISHER_ID) {
    GST_OBJECT_LOCK (self);
    g_free (self->publisher_id);
    self->publisher_id = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_START) {
    GST_OBJECT_LOCK (self);
    g_free (self->client->start);
    self->client->start = g_value_dup_string (value);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_DIRECT) {
    GST_OBJECT_LOCK (self);
    self->direct_mode = g_value_get_enum (value);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_JOIN) {
    GST_OBJECT_LOCK (self);
    self->join = g_value_get_enum (value);
    GST_OBJECT_UNLOCK (self);
  } else if (!gst_diode_client_set_property (self->client, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_diode_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstDiodeSrc *self = GST_DIODE_SRC (object);

  if (prop_id == PROP_LATENCY) {
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, self->latency);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_STATS_INTERVAL) {
    GST_OBJECT_LOCK (self);
    g_value_set_uint (value, self->stats_interval);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_PUBLISHER_ID) {
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, self->publisher_id);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_START) {
    GST_OBJECT_LOCK (self);
    g_value_set_string (value, self->client->start ? self->client->start :
        "live");
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_DIRECT) {
    GST_OBJECT_LOCK (self);
    g_value_set_enum (value, self->direct_mode);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_JOIN) {
    GST_OBJECT_LOCK (self);
    g_value_set_enum (value, self->join);
    GST_OBJECT_UNLOCK (self);
  } else if (prop_id == PROP_STATS) {
    /* make_stats() reads the counters under the object lock */
    g_value_take_boxed (value, make_stats (self));
  } else if (!gst_diode_client_get_property (self->client, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
gst_diode_src_init (GstDiodeSrc * self)
{
  self->client = gst_diode_client_new (GST_ELEMENT (self), DIODE_ROLE_VIEWER);
  self->latency = DEFAULT_LATENCY;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->first_time = self->end_time = self->last_time = DIODE_TIME_NONE;
  self->start_time = DIODE_TIME_NONE;
  self->direct_mode = self->dmode = DEFAULT_DIRECT;
  g_queue_init (&self->dqueue);
  g_queue_init (&self->join_held);
  self->join = DEFAULT_JOIN;
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_do_timestamp (GST_BASE_SRC (self), FALSE);
}

static void
gst_diode_src_finalize (GObject * object)
{
  GstDiodeSrc *self = GST_DIODE_SRC (object);

  gst_diode_src_direct_reset (self, FALSE);
  gst_diode_src_join_reset (self);
  gst_diode_client_free (self->client);
  g_free (self->caps_str);
  g_free (self->publisher_id);
  g_free (self->pin);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_diode_src_class_init (GstDiodeSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_diode_src_set_property;
  gobject_class->get_property = gst_diode_src_get_property;
  gobject_class->finalize = gst_diode_src_finalize;

  gst_diode_client_install_properties (gobject_class,
      GST_DIODE_DEFAULT_TIMEOUT);
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Jitter the pipeline absorbs, reported as this source's latency (ms)",
          0, 60000, DEFAULT_LATENCY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "bytes-received, buffers-received, discont (relay skips), "
          "buffers-missed, reconnects, join-ms (start to first buffer), "
          "connected-ms, relay (the relay in use, host:port), failovers "
          "(moves to another relay of the list), start, position (in the "
          "recording, ns), stream-state (live, live-recorded, recording, "
          "unknown), seeks, path (relay or direct), pair (the direct path's "
          "ICE pair, e.g. \"host srflx\"), direct-attempts, direct-switches, "
          "direct-fallbacks, direct-bytes-received, relay-dropped (relay "
          "frames dropped as the direct path carried them), join (live or "
          "keyframe), join-decode-only (frames decoded but not shown to "
          "join at the live edge), join-live-seq (the first frame shown)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval",
          "Post a diode-stats element message this often (ms, 0: never)",
          0, G_MAXUINT, DEFAULT_STATS_INTERVAL, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_PUBLISHER_ID,
      g_param_spec_string ("publisher-id", "Publisher ID",
          "Address (0x...) of the only publisher to watch: refused, and "
          "never reconnected, when another identity publishes the stream "
          "(NULL: any publisher)", NULL, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_START,
      g_param_spec_string ("start", "Start",
          "Where to start watching: live (the latest keyframe), earliest "
          "(the oldest stored chunk of a recording), -SECONDS back from the "
          "live edge (e.g. -30), or an ISO 8601 date-time (e.g. "
          "2026-12-01T10:00:00Z, no zone = UTC); also ?start= in the URI",
          "live", G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_DIRECT,
      g_param_spec_enum ("direct", "Direct",
          "Direct path to the publisher: never (always through the relay), "
          "auto (when the publisher offers one and ICE connects: the relay "
          "path until then, and again as fallback, without a gap)",
          GST_TYPE_DIODE_DIRECT_MODE, DEFAULT_DIRECT, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_JOIN,
      g_param_spec_enum ("join", "Join",
          "Where a live viewer's first shown picture is: live (the frame "
          "that was live when it subscribed; the frames from the keyframe "
          "before it are decoded, not shown, so it runs as close to live as "
          "a viewer that has been there from the start) or keyframe (the "
          "relay's latest keyframe, up to a GOP behind live, and it stays "
          "that far behind)",
          GST_TYPE_DIODE_JOIN, DEFAULT_JOIN, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /* The enum types of the properties are part of the element's documented
   * API (as ext/srt marks GstSRTConnectionMode). */
  gst_type_mark_as_plugin_api (GST_TYPE_DIODE_DIRECT_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_DIODE_JOIN, 0);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Diode viewer", "Source/Network",
      "Watch a stream from a diode relay over TLS",
      "gst-diode developers");

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_diode_src_change_state);
  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_diode_src_start);
  basesrc_class->is_seekable = GST_DEBUG_FUNCPTR (gst_diode_src_is_seekable);
  basesrc_class->do_seek = GST_DEBUG_FUNCPTR (gst_diode_src_do_seek);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_diode_src_event);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_diode_src_stop);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_diode_src_negotiate);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_diode_src_query);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_diode_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_diode_src_unlock_stop);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_diode_src_create);
}
