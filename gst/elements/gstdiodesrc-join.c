/* gst-diode — diodesrc: joining a live stream at its live edge
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A viewer that subscribes at the latest keyframe receives that keyframe's
 * chunk: up to a GOP of frames older than "now", in a burst. Shown as they
 * come (`join=keyframe`, what diodesrc did before), the first picture is up
 * to a GOP old and, since the first buffer is placed at "now", the viewer
 * then plays that far behind live for the whole session.
 *
 * `join=live` (the default): SUBSCRIBE_OK says which seq was the newest on
 * the relay when it answered (live_seq, docs/protocol.md section 18). The
 * frames before it are held (bounded) until it arrives; then the publisher
 * time of the live frame is placed at the moment the burst began (when the
 * live frame was the relay's newest), a new segment starts there (running
 * times unchanged), and the held frames go out before it with earlier
 * timestamps and GST_BUFFER_FLAG_DECODE_ONLY: decoders decode them and
 * clip their output to the segment (and newer ones honour the flag), sinks
 * clip too, so the first picture shown is the live one, at the same delay
 * a viewer that has been there from the start has. CAPS that come while
 * frames are held are applied in order with them.
 *
 * Where the burst took longer than the source's `latency` to arrive (a
 * slow link), the live frame would already be late: it is placed at its
 * own arrival instead, as the first buffer is with join=keyframe.
 *
 * All of this runs on the streaming thread.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesrc-private.h"

GST_DEBUG_CATEGORY_EXTERN (gst_diode_src_debug);
#define GST_CAT_DEFAULT gst_diode_src_debug

/* What may be held while catching up: a GOP of a high bitrate stream
 * (the relay's keyframe chunks are bounded by its ring, 8 MiB by default
 * per stream; docs/protocol.md section 12), and for at most this long.
 * Past either bound the held frames go out as with join=keyframe. */
#define JOIN_MAX_BYTES    (16 * 1024 * 1024)
#define JOIN_MAX_FRAMES   4096
#define JOIN_MAX_WAIT_US  (5 * G_USEC_PER_SEC)

GType
gst_diode_join_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_DIODE_JOIN_LIVE, "Show the live frame first: decode the frames "
          "before it without showing them", "live"},
    {GST_DIODE_JOIN_KEYFRAME, "Show the relay's latest keyframe first, and "
          "stay that far behind live", "keyframe"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstDiodeJoin", values);

    g_once_init_leave (&type, t);
  }
  return type;
}

static void
held_free (DiodeMsg * m)
{
  diode_msg_clear (m);
  g_free (m);
}

void
gst_diode_src_join_reset (GstDiodeSrc * self)
{
  DiodeMsg *m;

  while ((m = g_queue_pop_head (&self->join_held)))
    held_free (m);
  self->join_held_bytes = 0;
  self->join_state = GST_DIODE_JOIN_IDLE;
  self->join_live_seq = 0;
  self->join_oldest = DIODE_TIME_NONE;
}

void
gst_diode_src_join_subscribed (GstDiodeSrc * self, const DiodeMsg * ok)
{
  GstDiodeJoin mode;

  gst_diode_src_join_reset (self);
  GST_OBJECT_LOCK (self);
  mode = self->join;
  GST_OBJECT_UNLOCK (self);
  /* Only a live subscription at the latest keyframe starts behind live: a
   * resume goes on where we were (every frame is wanted), a start in a
   * recording is where the user asked to be. */
  if (mode != GST_DIODE_JOIN_LIVE || self->resumed || self->non_live
      || self->sub_mode != DIODE_START_LIVE || !ok->live_seq
      || ok->live_seq <= ok->seq)
    return;
  self->join_state = GST_DIODE_JOIN_ARMED;
  self->join_live_seq = ok->live_seq;
  GST_DEBUG_OBJECT (self, "joining at seq %" G_GUINT64_FORMAT ", live is %"
      G_GUINT64_FORMAT, ok->seq, ok->live_seq);
}

gboolean
gst_diode_src_join_holding (GstDiodeSrc * self)
{
  return self->join_state == GST_DIODE_JOIN_HOLDING;
}

gboolean
gst_diode_src_join_keeps_offset (GstDiodeSrc * self)
{
  return self->join_state == GST_DIODE_JOIN_DRAINING && self->join_live_seq;
}

/* The live frame came. Its publisher time (dts, else pts) @ref is placed
 * at the moment the burst began, @at (a buffer time in the current
 * segment), or at its own arrival when that is more than `latency` ago.
 * The frames before it need earlier running times, which a pipeline that
 * has just started does not have (they would clamp to 0), so buffer times
 * move up by the span held (@span: the live frame's time minus the oldest
 * held one's) and a new segment keeps every running time where the old
 * mapping put it. It starts at the live frame's pts: what comes before is
 * decoded, then clipped by decoders and sinks (GStreamer 1.22's
 * GstVideoDecoder does not honour DECODE_ONLY on its input yet; clipping
 * to the segment it does). */
static void
join_anchor (GstDiodeSrc * self, const DiodeMsg * live)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  guint64 ref = live->dts != DIODE_TIME_NONE ? live->dts : live->pts;
  guint64 pts = live->pts != DIODE_TIME_NONE ? live->pts : ref;
  GstClockTime now = gst_diode_src_now (self), at = self->join_anchor;
  GstClockTime span, start;
  GstSegment seg;
  guint latency;

  self->join_state = GST_DIODE_JOIN_DRAINING;
  GST_OBJECT_LOCK (self);
  latency = self->latency;
  seg = bsrc->segment;
  GST_OBJECT_UNLOCK (self);
  if (now > at + (GstClockTime) latency * GST_MSECOND) {
    GST_INFO_OBJECT (self, "the frames up to the live one took %"
        GST_TIME_FORMAT " to arrive (latency %u ms): showing it late",
        GST_TIME_ARGS (now - at), latency);
    at = now;
  }
  if (ref == DIODE_TIME_NONE || self->fixed_offset
      || seg.format != GST_FORMAT_TIME || seg.rate != 1.0 || pts < ref)
    return;
  span = self->join_oldest != DIODE_TIME_NONE && self->join_oldest < ref ?
      ref - self->join_oldest : 0;
  self->ts_offset = (GstClockTimeDiff) (at + span) - (GstClockTimeDiff) ref;
  self->have_offset = TRUE;
  start = at + span + (pts - ref);
  /* running time = ts - start + base, stream time = ts - start + time:
   * the live frame's pts keeps the running and stream time the old
   * segment gave buffer time at + (pts - ref) */
  seg.base += at + (pts - ref) - seg.start;
  seg.time += at + (pts - ref) - seg.start;
  seg.start = seg.position = start;
  GST_DEBUG_OBJECT (self, "live frame at %" GST_TIME_FORMAT ", %"
      GST_TIME_FORMAT " held before it: %" GST_SEGMENT_FORMAT,
      GST_TIME_ARGS (at), GST_TIME_ARGS (span), &seg);
  gst_base_src_new_segment (bsrc, &seg);
}

/* Past a bound: what is held goes out as join=keyframe would have shown
 * it (the first buffer at "now"). */
static void
join_give_up (GstDiodeSrc * self, const gchar * why)
{
  GST_INFO_OBJECT (self, "not joining at the live edge: %s", why);
  self->join_live_seq = 0;
  self->join_state = GST_DIODE_JOIN_DRAINING;
}

gboolean
gst_diode_src_join_hold (GstDiodeSrc * self, DiodeMsg * m)
{
  if (self->join_state == GST_DIODE_JOIN_IDLE)
    return FALSE;
  if (self->join_state == GST_DIODE_JOIN_DRAINING) {
    /* still letting the held ones out: this one goes after them */
    if (!self->join_held.length)
      return FALSE;
  } else if (m->type == DIODE_MSG_CAPS) {
    /* the stream's caps before its first frame apply at once */
    if (self->join_state == GST_DIODE_JOIN_ARMED)
      return FALSE;
  } else if (m->type == DIODE_MSG_MEDIA) {
    if (self->join_state == GST_DIODE_JOIN_ARMED) {
      self->join_state = GST_DIODE_JOIN_HOLDING;
      self->join_anchor = gst_diode_src_now (self);
      self->join_since = g_get_monotonic_time ();
    }
    if (!(m->flags & DIODE_MEDIA_HEADER)) {
      guint64 ref = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;

      if (ref != DIODE_TIME_NONE && (self->join_oldest == DIODE_TIME_NONE
              || ref < self->join_oldest))
        self->join_oldest = ref;
    }
    if (m->seq >= self->join_live_seq && !(m->flags & DIODE_MEDIA_HEADER))
      join_anchor (self, m);
    else if (self->join_held_bytes > JOIN_MAX_BYTES
        || self->join_held.length >= JOIN_MAX_FRAMES)
      join_give_up (self, "more than a GOP's bound to hold");
    else if (g_get_monotonic_time () - self->join_since > JOIN_MAX_WAIT_US)
      join_give_up (self, "the live frame is slow to come");
  } else if (m->type == DIODE_MSG_EOS) {
    /* (cannot come before the live frame unless the relay skipped) */
    if (self->join_state == GST_DIODE_JOIN_ARMED)
      return FALSE;
    join_give_up (self, "the stream ended");
  } else {
    return FALSE;
  }
  self->join_held_bytes += m->frame ? g_bytes_get_size (m->frame) : 0;
  g_queue_push_tail (&self->join_held, g_memdup2 (m, sizeof (*m)));
  memset (m, 0, sizeof (*m));   /* moved: the caller's clear is a no-op */
  return TRUE;
}

gboolean
gst_diode_src_join_next (GstDiodeSrc * self, GstBuffer ** outbuf,
    GstFlowReturn * ret)
{
  DiodeMsg *m;

  if (self->join_state != GST_DIODE_JOIN_DRAINING)
    return FALSE;
  while ((m = g_queue_pop_head (&self->join_held))) {
    self->join_held_bytes -= MIN (self->join_held_bytes,
        m->frame ? g_bytes_get_size (m->frame) : 0);
    if (m->type == DIODE_MSG_EOS) {
      held_free (m);
      gst_diode_src_join_reset (self);
      *ret = GST_FLOW_EOS;
      return TRUE;
    }
    if (m->type == DIODE_MSG_CAPS) {
      gboolean ok = gst_diode_src_apply_caps (self, m->caps);

      held_free (m);
      if (!ok) {
        *ret = GST_FLOW_NOT_NEGOTIATED;
        gst_diode_src_join_reset (self);
        return TRUE;
      }
      continue;
    }
    *outbuf = gst_diode_src_make_buffer (self, m);
    if (m->seq < self->join_live_seq && !(m->flags & DIODE_MEDIA_HEADER)) {
      GST_BUFFER_FLAG_SET (*outbuf, GST_BUFFER_FLAG_DECODE_ONLY);
      GST_OBJECT_LOCK (self);
      self->join_decode_only++;
      GST_OBJECT_UNLOCK (self);
    } else if (m->seq >= self->join_live_seq && self->join_live_seq) {
      GST_OBJECT_LOCK (self);
      self->join_shown_seq = m->seq;
      GST_OBJECT_UNLOCK (self);
      self->join_live_seq = 0;  /* shown: nothing after it is held back */
    }
    held_free (m);
    *ret = GST_FLOW_OK;
    return TRUE;
  }
  self->join_state = GST_DIODE_JOIN_IDLE;
  self->join_live_seq = 0;
  return FALSE;
}

void
gst_diode_src_join_add_stats (GstDiodeSrc * self, GstStructure * s)
{
  GST_OBJECT_LOCK (self);
  gst_structure_set (s,
      "join", G_TYPE_STRING, self->join == GST_DIODE_JOIN_LIVE ? "live" :
      "keyframe",
      "join-decode-only", G_TYPE_UINT64, self->join_decode_only,
      "join-live-seq", G_TYPE_UINT64, self->join_shown_seq, NULL);
  GST_OBJECT_UNLOCK (self);
}
