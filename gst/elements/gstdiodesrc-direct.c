/* gst-diode — diodesrc's direct path: switching without a gap or a duplicate
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With direct=auto, once a live subscription is confirmed (SUBSCRIBE_OK
 * names the publisher) the source asks for a direct path: a
 * DiodeDirectViewer (gst/direct) whose SIGNALs this file carries over the
 * relay connection. The source keeps taking media from the relay meanwhile
 * (join time is the relay's). Everything runs on the streaming thread:
 * create() waits on the relay socket and on the viewer's eventfd
 * (c->aux_fd) and calls gst_diode_src_direct_service() each time round.
 *
 * The switch rule (docs/decisions.md, "Direct paths: switching"):
 *  - the viewer's frames are taken into dqueue as they come; before the
 *    switch, MEDIA the source already pushed (seq <= last_seq) is dropped;
 *  - when the head of dqueue is the next seq needed (last_seq + 1), PATH
 *    DIRECT(from_seq) goes to the relay and media comes from dqueue from
 *    then on; relay CAPS/MEDIA still arriving are dropped;
 *  - a head beyond the next seq waits for the relay path to catch up
 *    (bounded: DQUEUE_MAX bytes, then the attempt is given up);
 *  - on DOWN the frames already taken are pushed, then PATH RELAY(from_seq
 *    = last_seq + 1): the relay resends from there, and what it sends
 *    below it (in flight, its prelude) is dropped by seq;
 *  - a failed attempt or a broken path is retried after a backoff:
 *    RETRY_FIRST_MS doubling to RETRY_MAX_MS, back to RETRY_FIRST_MS after
 *    a path that carried media for STABLE_MS. The relay's own refusals
 *    (no DIRECT offered, not authorized, a pulled stream) stop the
 *    attempts until the next SUBSCRIBE_OK.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesrc-private.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_diode_src_debug);
#define GST_CAT_DEFAULT gst_diode_src_debug

#define RETRY_FIRST_MS  2000
#define RETRY_MAX_MS    60000
#define STABLE_MS       30000
/* Frames of the direct path waiting for the relay path to catch up. */
#define DQUEUE_MAX      (8 * 1024 * 1024)

static void
dqueue_clear (GstDiodeSrc * self)
{
  DiodeMsg *m;

  while ((m = g_queue_pop_head (&self->dqueue))) {
    diode_msg_clear (m);
    g_free (m);
  }
  self->dqueue_bytes = 0;
  g_clear_pointer (&self->dcaps, g_free);
}

static gsize
msg_size (const DiodeMsg * m)
{
  return m->frame ? g_bytes_get_size (m->frame) : 0;
}

static DiodeMsg *
dqueue_pop (GstDiodeSrc * self)
{
  DiodeMsg *m = g_queue_pop_head (&self->dqueue);

  if (m)
    self->dqueue_bytes -= MIN (self->dqueue_bytes, msg_size (m));
  return m;
}

static void
msg_free (DiodeMsg * m)
{
  diode_msg_clear (m);
  g_free (m);
}

/* The viewer goes; the path in use does not change here. */
static void
viewer_free (GstDiodeSrc * self)
{
  g_clear_pointer (&self->viewer, diode_direct_viewer_free);
  self->client->aux_fd = -1;
  self->direct_up = self->direct_down = FALSE;
  g_clear_pointer (&self->down_reason, g_free);
  dqueue_clear (self);
}

static void
schedule_retry (GstDiodeSrc * self)
{
  if (self->direct_refused) {
    self->direct_retry_at = 0;
    return;
  }
  self->direct_retry_at = g_get_monotonic_time () +
      (gint64) self->direct_backoff * 1000;
  GST_INFO_OBJECT (self, "next direct attempt in %u ms",
      self->direct_backoff);
  self->direct_backoff = MIN (self->direct_backoff * 2, RETRY_MAX_MS);
}

static void
set_path (GstDiodeSrc * self, gboolean direct, const gchar * pair_in,
    guint64 from_seq, const gchar * reason)
{
  /* @pair_in may be self->dpair itself, replaced below */
  gchar *pair = g_strdup (direct && pair_in ? pair_in : "");

  GST_OBJECT_LOCK (self);
  self->on_direct = direct;
  g_free (self->dpair);
  self->dpair = direct ? g_strdup (pair) : NULL;
  if (direct)
    self->direct_switches++;
  else
    self->direct_fallbacks++;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "now on the %s path (%s) from seq %" G_GUINT64_FORMAT
      "%s%s", direct ? "direct" : "relay", pair, from_seq,
      reason ? ": " : "", reason ? reason : "");
  gst_diode_post_path (GST_ELEMENT (self), direct ? "direct" : "relay",
      pair, from_seq, reason, -1);
  g_free (pair);
}

/* Sends a frame the direct layer made, or PATH, on the relay connection.
 * FALSE with *ret set when the source must stop (flushing); a lost relay
 * connection is left for the next recv() to notice and reconnect. */
static gboolean
send_relay (GstDiodeSrc * self, DiodeMsgType type, GBytes * frame,
    GstFlowReturn * ret)
{
  GstDiodeClient *c = self->client;
  GError *err = NULL;

  if (!c->session || !diode_session_sent (c->session, type, 0, NULL)) {
    GST_DEBUG_OBJECT (self, "%s not sent: no subscription at version 4",
        diode_msg_type_name (type));
    return TRUE;
  }
  if (gst_diode_client_send_bytes (c, frame, &err))
    return TRUE;
  if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
    g_error_free (err);
    *ret = GST_FLOW_FLUSHING;
    return FALSE;
  }
  GST_INFO_OBJECT (self, "relay connection: %s", err->message);
  g_error_free (err);
  return TRUE;
}

static gboolean
send_path (GstDiodeSrc * self, guint8 path, guint64 from_seq,
    GstFlowReturn * ret)
{
  GBytes *frame = diode_msg_encode_path (path, from_seq);
  gboolean ok = send_relay (self, DIODE_MSG_PATH, frame, ret);

  g_bytes_unref (frame);
  return ok;
}

void
gst_diode_src_direct_reset (GstDiodeSrc * self, gboolean counters)
{
  viewer_free (self);
  self->direct_refused = FALSE;
  self->direct_retry_at = 0;
  self->direct_backoff = RETRY_FIRST_MS;
  self->path_dedup = self->relay_eos = FALSE;
  g_clear_pointer (&self->direct_publisher, g_free);
  GST_OBJECT_LOCK (self);
  self->on_direct = FALSE;
  self->dmode = self->direct_mode;
  g_clear_pointer (&self->dpair, g_free);
  if (counters)
    self->direct_attempts = self->direct_switches = self->direct_fallbacks =
        self->direct_bytes = self->relay_dropped = 0;
  GST_OBJECT_UNLOCK (self);
}

void
gst_diode_src_direct_resubscribing (GstDiodeSrc * self)
{
  gboolean was_direct = self->on_direct;

  viewer_free (self);
  self->direct_retry_at = 0;
  self->direct_refused = FALSE;
  self->path_dedup = self->relay_eos = FALSE;
  if (was_direct)
    set_path (self, FALSE, NULL, self->last_seq ? self->last_seq + 1 : 0,
        "subscribing again");
}

void
gst_diode_src_direct_subscribed (GstDiodeSrc * self, const DiodeMsg * m)
{
  GstDiodeClient *c = self->client;

  g_free (self->direct_publisher);
  self->direct_publisher = g_strdup (self->pin ? self->pin : m->publisher);
  self->direct_backoff = RETRY_FIRST_MS;
  if (self->dmode != GST_DIODE_DIRECT_AUTO)
    return;
  /* Direct paths carry the live stream only (a replay is the relay's:
   * section 17.6 rule 1), from a publisher the relay named. */
  if (c->version < DIODE_PROTOCOL_VERSION_DIRECT || !self->direct_publisher
      || self->sub_mode != DIODE_START_LIVE || self->non_live) {
    GST_DEBUG_OBJECT (self, "no direct path: relay version %u, publisher "
        "%s, start mode %u", c->version, self->direct_publisher ?
        self->direct_publisher : "unknown", self->sub_mode);
    return;
  }
  self->direct_retry_at = g_get_monotonic_time ();
}

/* The relay's own CLOSEs (peer empty) that will not change while this
 * subscription lasts; and the publisher's "direct paths not offered"
 * (the relay forwards it with the publisher as peer): diodesink says it
 * once direct=false was set while publishing, and only a new start offers
 * again. A publisher's "not authorized" is not final: its policy may
 * change back. */
static gboolean
is_final_refusal (const DiodeMsg * m)
{
  static const gchar *final[] = { "direct paths not offered",
    "publisher not on this relay", "not authorized", NULL
  };
  guint i;

  if (m->signal_kind != DIODE_SIGNAL_CLOSE)
    return FALSE;
  if (m->peer)
    return !g_strcmp0 (m->signal_data, final[0]);
  for (i = 0; final[i]; i++)
    if (!g_strcmp0 (m->signal_data, final[i]))
      return TRUE;
  return FALSE;
}

void
gst_diode_src_direct_relay_signal (GstDiodeSrc * self, const DiodeMsg * m)
{
  /* The relay ends direct sessions at the publisher's EOS (17.6 rule 7),
   * but the direct path still carries the last frames and the EOS itself,
   * in order: cutting it now would lose them. It ends by itself after the
   * EOS; the relay's EOS bounds the wait (hold_eos). */
  if (self->on_direct && m->signal_kind == DIODE_SIGNAL_CLOSE
      && !g_strcmp0 (m->signal_data, "end of stream")) {
    GST_INFO_OBJECT (self, "relay: end of stream; the direct path drains");
    return;
  }
  if (is_final_refusal (m)) {
    gchar *reason = g_strescape (m->signal_data, NULL);

    GST_INFO_OBJECT (self, "relay: %s; staying on the relay path", reason);
    g_free (reason);
    self->direct_refused = TRUE;
  }
  if (self->viewer)
    diode_direct_viewer_handle_signal (self->viewer, m);
}

gboolean
gst_diode_src_direct_drop_relay (GstDiodeSrc * self, const DiodeMsg * m)
{
  if (self->on_direct) {
    GST_OBJECT_LOCK (self);
    self->relay_dropped++;
    GST_OBJECT_UNLOCK (self);
    return TRUE;
  }
  /* Back on the relay path (PATH RELAY from last_seq + 1): frames the
   * relay sent before it read our PATH DIRECT may still arrive first, some
   * of them newer than what the direct path gave; then comes its resend,
   * CAPS first (docs/protocol.md 17.4), from the seq we asked for. So every
   * seq already pushed is dropped until the resend has begun and a newer
   * seq arrived; ending at the first newer seq would let the resend repeat
   * the in-flight frames. A new run of the stream (DISCONT) ends it too. */
  if (self->path_dedup && m->type == DIODE_MSG_CAPS)
    self->path_resent = TRUE;
  if (self->path_dedup && m->type == DIODE_MSG_MEDIA) {
    if (self->last_seq && m->seq <= self->last_seq
        && !(m->flags & DIODE_MEDIA_DISCONT)) {
      GST_OBJECT_LOCK (self);
      self->relay_dropped++;
      GST_OBJECT_UNLOCK (self);
      return TRUE;
    }
    if (self->path_resent || (m->flags & DIODE_MEDIA_DISCONT))
      self->path_dedup = FALSE;
  }
  return FALSE;
}

gboolean
gst_diode_src_direct_hold_eos (GstDiodeSrc * self, const DiodeMsg * m)
{
  if (!self->on_direct)
    return FALSE;
  /* EOS carries the seq of the last MEDIA: if the direct path ends
   * before delivering it, the relay path gives the rest, then EOS */
  self->relay_eos = TRUE;
  self->eos_seq = m->seq;
  GST_INFO_OBJECT (self, "the relay says the stream ended after seq %"
      G_GUINT64_FORMAT "; the direct path brings the rest", m->seq);
  return TRUE;
}

static void
start_attempt (GstDiodeSrc * self)
{
  GstDiodeClient *c = self->client;
  DiodeDirectViewerConfig cfg = { 0 };
  GError *err = NULL;
  gchar *stun, *turn;

  self->direct_retry_at = 0;
  if (!c->id || !c->session || !self->subscribed) {
    schedule_retry (self);
    return;
  }
  stun = gst_diode_client_stun_server (c);
  turn = gst_diode_client_turn_server (c);
  cfg.identity = c->id;
  cfg.stream = c->stream_name;
  cfg.publisher = self->direct_publisher;
  cfg.stun_server = stun;
  cfg.turn_server = turn;
  cfg.transport = DIODE_ICE_DEFAULT_TRANSPORT;
  self->viewer = diode_direct_viewer_new (&cfg, &err);
  GST_OBJECT_LOCK (self);
  self->direct_attempts++;
  GST_OBJECT_UNLOCK (self);
  if (!self->viewer) {
    GST_INFO_OBJECT (self, "no direct path: %s", err->message);
    g_error_free (err);
    g_free (stun);
    g_free (turn);
    schedule_retry (self);
    return;
  }
  diode_direct_viewer_set_next_seq (self->viewer, self->last_seq ?
      self->last_seq + 1 : 0);
  diode_direct_viewer_start (self->viewer);
  GST_INFO_OBJECT (self, "asking %s for a direct path (STUN %s, TURN %s)",
      self->direct_publisher, cfg.stun_server ? cfg.stun_server : "none",
      cfg.turn_server ? "set" : "none");
  g_free (stun);
  g_free (turn);
}

/* Not on the direct path yet and it is over: try again later. */
static void
give_up (GstDiodeSrc * self, const gchar * reason)
{
  GST_INFO_OBJECT (self, "direct path not used: %s", reason);
  viewer_free (self);
  schedule_retry (self);
}

/* On the direct path, it is over and what it delivered is pushed: back to
 * the relay path, which resends from the next seq needed. */
static gboolean
fall_back (GstDiodeSrc * self, GstFlowReturn * ret)
{
  guint64 from = self->last_seq ? self->last_seq + 1 : 0;
  gchar *reason = g_strdup (self->down_reason ? self->down_reason :
      "the direct path ended");
  gint64 lasted = g_get_monotonic_time () - self->direct_since;

  viewer_free (self);
  self->path_dedup = TRUE;
  self->path_resent = FALSE;
  if (lasted >= (gint64) STABLE_MS * 1000)
    self->direct_backoff = RETRY_FIRST_MS;
  set_path (self, FALSE, NULL, from, reason);
  g_free (reason);
  schedule_retry (self);
  return send_path (self, DIODE_PATH_RELAY, from, ret);
}

/* Take the viewer's events into dqueue; on the direct path only until one
 * frame waits (the rest stays in the viewer's own bounded queue). */
static void
pump_viewer (GstDiodeSrc * self)
{
  for (;;) {
    DiodeMsg m = { 0 };
    gchar *text = NULL;
    DiodeDirectEvent ev;

    if (self->direct_down || (self->on_direct && self->dqueue.length))
      return;
    ev = diode_direct_viewer_next (self->viewer, &m, &text);
    switch (ev) {
      case DIODE_DIRECT_NONE:
        return;
      case DIODE_DIRECT_MSG:
        self->dqueue_bytes += msg_size (&m);
        g_queue_push_tail (&self->dqueue, g_memdup2 (&m, sizeof (m)));
        break;
      case DIODE_DIRECT_UP:
        self->direct_up = TRUE;
        GST_OBJECT_LOCK (self);
        g_free (self->dpair);
        self->dpair = g_strdup (text ? text : "");
        GST_OBJECT_UNLOCK (self);
        GST_INFO_OBJECT (self, "direct path up (%s)", text ? text : "");
        break;
      case DIODE_DIRECT_DOWN:
        self->direct_down = TRUE;
        self->down_reason = g_strdup (text ? text : "direct path closed");
        break;
    }
    g_free (text);
  }
}

/* Before the switch: drop what the relay path gave already; switch when
 * the head is the next seq needed. */
static gboolean
try_switch (GstDiodeSrc * self, GstFlowReturn * ret)
{
  DiodeMsg *m;

  while ((m = g_queue_peek_head (&self->dqueue))) {
    guint64 from;

    if (m->type == DIODE_MSG_CAPS) {
      /* it holds for the MEDIA after it: applied at the switch */
      g_free (self->dcaps);
      self->dcaps = g_strdup (m->caps);
      msg_free (dqueue_pop (self));
      continue;
    }
    if (m->type == DIODE_MSG_MEDIA && self->last_seq
        && m->seq <= self->last_seq) {
      msg_free (dqueue_pop (self));
      continue;
    }
    if (m->type == DIODE_MSG_MEDIA && self->last_seq
        && m->seq > self->last_seq + 1)
      break;                    /* the relay path is behind: wait for it */
    if (m->type != DIODE_MSG_MEDIA && m->type != DIODE_MSG_EOS) {
      msg_free (dqueue_pop (self));
      continue;
    }
    from = m->type == DIODE_MSG_MEDIA ? m->seq : self->last_seq + 1;
    if (!send_path (self, DIODE_PATH_DIRECT, from, ret))
      return FALSE;
    self->direct_since = g_get_monotonic_time ();
    set_path (self, TRUE, self->dpair, from, NULL);
    return TRUE;
  }
  if (self->dqueue_bytes > DQUEUE_MAX)
    give_up (self, "the direct path is too far ahead of the relay path");
  return TRUE;
}

/* On the direct path: the next buffer from dqueue, or nothing yet. */
static gboolean
take_direct (GstDiodeSrc * self, GstBuffer ** outbuf, GstFlowReturn * ret)
{
  DiodeMsg *m;

  if (self->dcaps) {
    gchar *caps = self->dcaps;

    self->dcaps = NULL;
    if (!gst_diode_src_apply_caps (self, caps)) {
      g_free (caps);
      *ret = GST_FLOW_NOT_NEGOTIATED;
      return TRUE;
    }
    g_free (caps);
  }
  while ((m = dqueue_pop (self))) {
    switch (m->type) {
      case DIODE_MSG_CAPS:
        if (!gst_diode_src_apply_caps (self, m->caps)) {
          msg_free (m);
          *ret = GST_FLOW_NOT_NEGOTIATED;
          return TRUE;
        }
        break;
      case DIODE_MSG_MEDIA:
        if (self->last_seq && m->seq <= self->last_seq)
          break;                /* had it from the relay path */
        if (!self->caps_str) {
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("The publisher sent media before caps on the direct path"),
              (NULL));
          msg_free (m);
          *ret = GST_FLOW_ERROR;
          return TRUE;
        }
        *outbuf = gst_diode_src_make_buffer (self, m);
        GST_OBJECT_LOCK (self);
        self->direct_bytes += gst_buffer_get_size (*outbuf);
        GST_OBJECT_UNLOCK (self);
        msg_free (m);
        *ret = GST_FLOW_OK;
        return TRUE;
      case DIODE_MSG_EOS:
        GST_INFO_OBJECT (self, "publisher ended the stream (direct path)");
        msg_free (m);
        *ret = GST_FLOW_EOS;
        return TRUE;
      default:
        break;
    }
    msg_free (m);
  }
  return FALSE;
}

gboolean
gst_diode_src_direct_service (GstDiodeSrc * self, GstBuffer ** outbuf,
    GstFlowReturn * ret, gint64 * wake_at)
{
  GstDiodeClient *c = self->client;
  GBytes *sig;

  *wake_at = -1;
  /* back on the relay path after the stream ended: up to its last seq */
  if (self->relay_eos && !self->on_direct
      && self->last_seq >= self->eos_seq) {
    GST_INFO_OBJECT (self, "publisher ended the stream at seq %"
        G_GUINT64_FORMAT, self->eos_seq);
    viewer_free (self);
    self->direct_retry_at = 0;
    *ret = GST_FLOW_EOS;
    return TRUE;
  }
  if (!self->viewer && self->direct_retry_at) {
    if (g_get_monotonic_time () >= self->direct_retry_at)
      start_attempt (self);
    else
      *wake_at = self->direct_retry_at;
  }
  if (!self->viewer) {
    c->aux_fd = -1;
    return FALSE;
  }
  diode_direct_viewer_set_next_seq (self->viewer, self->last_seq ?
      self->last_seq + 1 : 0);
  while ((sig = diode_direct_viewer_next_signal (self->viewer))) {
    gboolean ok = send_relay (self, DIODE_MSG_SIGNAL, sig, ret);

    g_bytes_unref (sig);
    if (!ok)
      return TRUE;
  }
  pump_viewer (self);
  if (!self->on_direct) {
    if (self->direct_down) {
      gchar *reason = g_strdup (self->down_reason);

      give_up (self, reason);
      g_free (reason);
      c->aux_fd = -1;
      return FALSE;
    }
    if (self->direct_up && !try_switch (self, ret))
      return TRUE;
  }
  if (self->on_direct) {
    if (take_direct (self, outbuf, ret))
      return TRUE;
    if (self->direct_down && !fall_back (self, ret))
      return TRUE;
  }
  c->aux_fd = self->viewer ? diode_direct_viewer_get_fd (self->viewer) : -1;
  if (!self->viewer && self->direct_retry_at)
    *wake_at = self->direct_retry_at;
  return FALSE;
}

void
gst_diode_src_direct_add_stats (GstDiodeSrc * self, GstStructure * s)
{
  GST_OBJECT_LOCK (self);
  gst_structure_set (s, "path", G_TYPE_STRING, self->dpair &&
      self->on_direct ? "direct" : "relay",
      "pair", G_TYPE_STRING, self->on_direct && self->dpair ? self->dpair : "",
      "direct-attempts", G_TYPE_UINT64, self->direct_attempts,
      "direct-switches", G_TYPE_UINT64, self->direct_switches,
      "direct-fallbacks", G_TYPE_UINT64, self->direct_fallbacks,
      "direct-bytes-received", G_TYPE_UINT64, self->direct_bytes,
      "relay-dropped", G_TYPE_UINT64, self->relay_dropped, NULL);
  GST_OBJECT_UNLOCK (self);
}
