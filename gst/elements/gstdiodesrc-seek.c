/* gst-diode — diodesrc: recordings (start, RANGE, queries, TIME seeks)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a stored stream adds to the viewer (protocol version 3): `start`
 * (live, earliest, -SECONDS, an ISO 8601 time), the RANGE asked before the
 * source goes to PAUSED (a finished recording is played like a file, a
 * non-live source; anything else stays live), the SEEKING, POSITION and
 * DURATION queries, and flushing TIME seeks: each seek is a new
 * subscription (SUBSCRIBE TIME with the snap a KEY_UNIT seek's flags ask
 * for; an accurate seek always snaps BEFORE) made in do_seek, so the new segment already knows where the relay landed.
 * Positions are in recording time: publisher time minus the publisher time
 * of the oldest stored chunk.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesrc-private.h"

#include <string.h>

GST_DEBUG_CATEGORY_EXTERN (gst_diode_src_debug);
#define GST_CAT_DEFAULT gst_diode_src_debug

/* A seek this close to the live edge (or past it) goes back to live. */
#define LIVE_EDGE_SLACK (500 * GST_MSECOND)

/* ------------------------------------------------------------------------ */
/* start */

gboolean
gst_diode_src_parse_start (const gchar * str, guint8 * mode, guint64 * value,
    GError ** error)
{
  *value = 0;
  if (!str || !*str || !g_ascii_strcasecmp (str, "live")) {
    *mode = DIODE_START_LIVE;
    return TRUE;
  }
  if (!g_ascii_strcasecmp (str, "earliest")) {
    *mode = DIODE_START_EARLIEST;
    return TRUE;
  }
  if (str[0] == '-') {
    gchar *end = NULL;
    gdouble secs = g_ascii_strtod (str + 1, &end);

    if (end && end != str + 1 && *end == '\0' && secs >= 0.0
        && secs < 1e9) {
      *mode = DIODE_START_BACK;
      *value = (guint64) (secs * GST_SECOND);
      return TRUE;
    }
  } else {
    GTimeZone *utc = g_time_zone_new_utc ();
    GDateTime *dt = g_date_time_new_from_iso8601 (str, utc);

    g_time_zone_unref (utc);
    if (dt) {
      gint64 us = g_date_time_to_unix (dt) * G_USEC_PER_SEC +
          g_date_time_get_microsecond (dt);

      g_date_time_unref (dt);
      if (us > 0) {
        *mode = DIODE_START_WALLCLOCK;
        *value = (guint64) us;
        return TRUE;
      }
    }
  }
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "start '%s' is not one of: live, earliest, -SECONDS (back from the "
      "live edge, e.g. -30 or -1.5), or an ISO 8601 date-time (e.g. "
      "2026-12-01T10:00:00Z; no zone means UTC)", str);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* RANGE, before PAUSED */

/* Ask the relay what it holds of the stream. A refusal class answer (not
 * found, not stored, not authorized) is no failure: the SUBSCRIBE that
 * follows gives the answer that counts. */
static gboolean
src_range (GstDiodeSrc * self, GError ** error)
{
  GstDiodeClient *c = self->client;
  GBytes *frame = diode_msg_encode_range (c->stream_name, 0);
  DiodeMsg m = { 0 };
  guint timeout;
  gboolean ok;

  if (!frame) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "'%s' is not a valid stream name (1 to 255 bytes of UTF-8, no '/' "
        "and no control characters)", c->stream_name);
    return FALSE;
  }
  diode_session_sent (c->session, DIODE_MSG_RANGE, 0, NULL);
  ok = gst_diode_client_send_bytes (c, frame, error);
  g_bytes_unref (frame);
  if (!ok)
    return FALSE;
  GST_OBJECT_LOCK (self);
  timeout = c->timeout ? c->timeout : 10000;
  if (c->connect_timeout && c->connect_timeout < timeout)
    timeout = c->connect_timeout;
  GST_OBJECT_UNLOCK (self);

  switch (gst_diode_client_recv (c, &m, g_get_monotonic_time () +
          (gint64) timeout * 1000, error)) {
    case DIODE_SESSION_MESSAGE:
      break;
    case DIODE_SESSION_NEED_MORE:
      /* RANGE is advice (is there a recording?), not the subscription: a
       * relay slow to answer it (it may ask its upstream) leaves us live,
       * on a new connection, rather than failing the state change. */
      GST_WARNING_OBJECT (self, "relay %s did not answer RANGE within %u ms; "
          "watching live", c->hostport, timeout);
      gst_diode_client_close (c);
      return TRUE;
    default:
      return FALSE;
  }
  ok = TRUE;
  if (m.type == DIODE_MSG_RANGE_OK) {
    GST_OBJECT_LOCK (self);
    self->have_range = TRUE;
    self->stream_state = m.stream_state;
    self->first_time = m.n_spans ? m.spans[0].first_time : DIODE_TIME_NONE;
    self->end_time = m.n_spans ? m.spans[m.n_spans - 1].end_time :
        DIODE_TIME_NONE;
    self->range_at = g_get_monotonic_time ();
    GST_OBJECT_UNLOCK (self);
    GST_INFO_OBJECT (self, "'%s' on relay %s: %s, %u span(s), %"
        GST_TIME_FORMAT " .. %" GST_TIME_FORMAT, c->stream_name, c->hostport,
        diode_stream_state_name (m.stream_state), m.n_spans,
        GST_TIME_ARGS (self->first_time), GST_TIME_ARGS (self->end_time));
  } else if (m.type == DIODE_MSG_ERROR && m.error_code < 200) {
    GST_INFO_OBJECT (self, "relay %s holds no recording of '%s': %s (%u)",
        c->hostport, c->stream_name, m.error_text, m.error_code);
  } else if (m.type == DIODE_MSG_ERROR) {
    /* A relay that cannot answer RANGE (or refuses it outright) leaves us
     * where version 2 was: live. The connection is closed; the caller
     * opens another for the SUBSCRIBE. */
    GST_WARNING_OBJECT (self, "relay %s refused RANGE: %s (%u); watching "
        "live", c->hostport, m.error_text, m.error_code);
    gst_diode_client_close (c);
  } else {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "Relay %s answered RANGE with %s", c->hostport,
        diode_msg_type_name (m.type));
    ok = FALSE;
  }
  diode_msg_clear (&m);
  return ok;
}

static gboolean
src_first_attempt (gpointer user_data, GError ** error)
{
  GstDiodeSrc *self = user_data;
  GstDiodeClient *c = self->client;

  if (!gst_diode_client_open (c, error))
    return FALSE;
  GST_OBJECT_LOCK (self);
  self->have_range = FALSE;
  self->stream_state = DIODE_STREAM_LIVE;
  self->first_time = self->end_time = DIODE_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  if (c->version >= DIODE_PROTOCOL_VERSION_STORE && !src_range (self, error)) {
    gst_diode_client_close (c);
    return FALSE;
  }
  /* RANGE then SUBSCRIBE on one connection (back in READY after
   * RANGE_OK or a refusal class ERROR). */
  self->sub_mode = self->start_mode;
  self->sub_value = self->start_value;
  self->sub_snap = DIODE_SNAP_BEFORE;
  /* A finished recording plays from its start, like a file. */
  if (self->stream_state == DIODE_STREAM_RECORDING
      && self->sub_mode == DIODE_START_LIVE)
    self->sub_mode = DIODE_START_EARLIEST;
  /* -SECONDS in a finished recording is back from its end in its own
   * time: an upload ran at full speed, so its wall-clock span says
   * nothing about its length. Asked as a publisher time (TIME), from the
   * span RANGE_OK gave. */
  if (self->stream_state == DIODE_STREAM_RECORDING
      && self->sub_mode == DIODE_START_BACK
      && self->end_time != DIODE_TIME_NONE
      && self->first_time != DIODE_TIME_NONE) {
    guint64 t = self->end_time > self->sub_value ?
        self->end_time - self->sub_value : 0;

    self->sub_mode = DIODE_START_TIME;
    self->sub_value = MAX (t, self->first_time);
  }
  if (self->sub_mode != DIODE_START_LIVE
      && c->version < DIODE_PROTOCOL_VERSION_STORE)
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("Relay %s speaks "
            "protocol version %u, which has no recordings: watching '%s' "
            "live instead", c->hostport, c->version, c->stream_name), (NULL));
  return gst_diode_src_subscribe (self, 0, error);
}

gboolean
gst_diode_src_connect (GstDiodeSrc * self)
{
  GstDiodeClient *c = self->client;
  GError *err = NULL;
  gchar *start;
  gboolean non_live;

  GST_OBJECT_LOCK (self);
  start = g_strdup (c->start);
  GST_OBJECT_UNLOCK (self);
  if (!gst_diode_src_parse_start (start, &self->start_mode,
          &self->start_value, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", err->message),
        (NULL));
    g_error_free (err);
    g_free (start);
    return FALSE;
  }
  g_free (start);
  self->at_live = FALSE;
  self->need_segment = TRUE;
  self->fixed_offset = FALSE;
  GST_OBJECT_LOCK (self);
  self->seek_requested = FALSE;
  self->start_time = self->last_time = DIODE_TIME_NONE;
  self->seeks = 0;
  GST_OBJECT_UNLOCK (self);

  /* The first connection fails fast: a wrong relay (list) is a setup
   * error, not an outage to ride out. */
  if (!gst_diode_client_prepare (c, &err) ||
      !gst_diode_client_connect_first (c, src_first_attempt, self, &err)) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      gst_diode_client_post_error (c, err, NULL);
    g_clear_error (&err);
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  non_live = self->have_range && self->stream_state == DIODE_STREAM_RECORDING;
  self->non_live = non_live;
  GST_OBJECT_UNLOCK (self);
  self->fixed_offset = non_live;
  gst_base_src_set_live (GST_BASE_SRC (self), !non_live);
  GST_INFO_OBJECT (self, "'%s' is %s", c->stream_name, non_live ?
      "a finished recording: playing it as a non-live source" :
      "live (or not stored): a live source");
  self->connected_early = TRUE;
  gst_diode_client_post_state (c, "connected", 0, NULL);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* subscriptions */

GBytes *
gst_diode_src_subscribe_frame (GstDiodeSrc * self, guint64 start_seq)
{
  GstDiodeClient *c = self->client;
  guint timeout;
  DiodeSubscribeArgs a = { 0 };

  GST_OBJECT_LOCK (self);
  timeout = c->timeout;
  GST_OBJECT_UNLOCK (self);
  if (c->version < DIODE_PROTOCOL_VERSION_STORE)
    return diode_msg_encode_subscribe_pinned (c->stream_name, start_seq,
        timeout ? timeout : G_MAXUINT32, self->pin);
  a.stream = c->stream_name;
  a.wait_ms = timeout ? timeout : G_MAXUINT32;
  a.pin = self->pin;
  a.start_mode = self->sub_mode;
  a.start_seq = self->sub_mode == DIODE_START_LIVE ? start_seq : 0;
  a.start_value = self->sub_value;
  a.snap = self->sub_snap;
  return diode_msg_encode_subscribe_args (&a, c->version, DIODE_ROLE_VIEWER);
}

void
gst_diode_src_note_subscribed (GstDiodeSrc * self, const DiodeMsg * m)
{
  GstDiodeClient *c = self->client;

  if (c->version < DIODE_PROTOCOL_VERSION_STORE) {
    self->at_live = TRUE;
    return;
  }
  GST_OBJECT_LOCK (self);
  self->stream_state = m->stream_state;
  self->start_time = m->start_time;
  GST_OBJECT_UNLOCK (self);
  self->at_live = self->sub_mode == DIODE_START_LIVE
      && m->stream_state != DIODE_STREAM_RECORDING;
  GST_INFO_OBJECT (self, "'%s' (%s) starts at publisher time %"
      GST_TIME_FORMAT "%s", c->stream_name,
      diode_stream_state_name (m->stream_state), GST_TIME_ARGS (m->start_time),
      self->at_live ? ", live" : "");
}

void
gst_diode_src_prepare_resume (GstDiodeSrc * self)
{
  guint64 last;

  GST_OBJECT_LOCK (self);
  last = self->last_time;
  GST_OBJECT_UNLOCK (self);
  /* Live: on at the next seq, as ever. In the past: at the keyframe
   * before the last buffer we had; what we had already is dropped by seq
   * (the source is "resumed"). */
  if (self->at_live || self->sub_mode == DIODE_START_LIVE
      || last == DIODE_TIME_NONE) {
    self->sub_mode = DIODE_START_LIVE;
    self->sub_value = 0;
  } else {
    self->sub_mode = DIODE_START_TIME;
    self->sub_value = last;
  }
  self->sub_snap = DIODE_SNAP_BEFORE;
}

/* ------------------------------------------------------------------------ */
/* buffer times */

GstClockTime
gst_diode_src_recording_ts (GstDiodeSrc * self, guint64 t)
{
  guint64 first;

  GST_OBJECT_LOCK (self);
  first = self->first_time;
  GST_OBJECT_UNLOCK (self);
  if (t == DIODE_TIME_NONE)
    return GST_CLOCK_TIME_NONE;
  if (first == DIODE_TIME_NONE)
    return t;
  return t > first ? t - first : 0;
}

/* The first buffer after a (re)subscription that was no seek: a non-live
 * source starts its segment there (not at 0, or a sink would wait for the
 * skipped time); a live one keeps its running-time mapping and sets the
 * segment's time so that stream time is the position in the recording. */
void
gst_diode_src_maybe_new_segment (GstDiodeSrc * self, guint64 t,
    GstClockTime ts)
{
  GstBaseSrc *bsrc = GST_BASE_SRC (self);
  GstSegment seg;
  GstClockTime pos;
  gboolean recorded;

  if (!self->need_segment || t == DIODE_TIME_NONE
      || !GST_CLOCK_TIME_IS_VALID (ts))
    return;
  self->need_segment = FALSE;
  GST_OBJECT_LOCK (self);
  recorded = self->first_time != DIODE_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  if (!recorded)
    return;
  pos = gst_diode_src_recording_ts (self, t);
  gst_segment_copy_into (&bsrc->segment, &seg);
  if (self->fixed_offset) {
    if (pos == 0)
      return;
    seg.start = seg.time = seg.position = pos;
  } else {
    seg.time = pos > ts ? pos - ts : 0;
  }
  GST_DEBUG_OBJECT (self, "segment: %" GST_SEGMENT_FORMAT, &seg);
  gst_base_src_new_segment (bsrc, &seg);
}

/* ------------------------------------------------------------------------ */
/* queries */

static gboolean
src_recorded_locked (GstDiodeSrc * self)
{
  return self->first_time != DIODE_TIME_NONE
      && (self->stream_state == DIODE_STREAM_LIVE_RECORDED
      || self->stream_state == DIODE_STREAM_RECORDING);
}

/* Duration in recording time: a finished recording's end; a live one's
 * edge, grown by the time passed since RANGE_OK (or what we received). */
static GstClockTime
src_duration_locked (GstDiodeSrc * self)
{
  guint64 end = self->end_time;

  if (!src_recorded_locked (self) || end == DIODE_TIME_NONE)
    return GST_CLOCK_TIME_NONE;
  if (self->stream_state != DIODE_STREAM_RECORDING)
    end += (guint64) MAX (0, g_get_monotonic_time () - self->range_at) *
        GST_USECOND;
  if (self->last_time != DIODE_TIME_NONE && self->last_time > end)
    end = self->last_time;
  return end > self->first_time ? end - self->first_time : 0;
}

gboolean
gst_diode_src_query_recording (GstDiodeSrc * self, GstQuery * query)
{
  GstFormat fmt;

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_SEEKING:{
      gboolean seekable;
      GstClockTime dur;

      gst_query_parse_seeking (query, &fmt, NULL, NULL, NULL);
      if (fmt != GST_FORMAT_TIME)
        return FALSE;
      GST_OBJECT_LOCK (self);
      seekable = src_recorded_locked (self);
      dur = src_duration_locked (self);
      GST_OBJECT_UNLOCK (self);
      gst_query_set_seeking (query, GST_FORMAT_TIME, seekable, 0,
          seekable && GST_CLOCK_TIME_IS_VALID (dur) ? (gint64) dur : -1);
      return TRUE;
    }
    case GST_QUERY_POSITION:{
      GstClockTime pos = GST_CLOCK_TIME_NONE;

      gst_query_parse_position (query, &fmt, NULL);
      if (fmt != GST_FORMAT_TIME)
        return FALSE;
      GST_OBJECT_LOCK (self);
      if (src_recorded_locked (self) && self->last_time != DIODE_TIME_NONE)
        pos = self->last_time > self->first_time ?
            self->last_time - self->first_time : 0;
      GST_OBJECT_UNLOCK (self);
      if (!GST_CLOCK_TIME_IS_VALID (pos))
        return FALSE;
      gst_query_set_position (query, GST_FORMAT_TIME, (gint64) pos);
      return TRUE;
    }
    case GST_QUERY_DURATION:{
      GstClockTime dur;

      gst_query_parse_duration (query, &fmt, NULL);
      if (fmt != GST_FORMAT_TIME)
        return FALSE;
      GST_OBJECT_LOCK (self);
      dur = src_duration_locked (self);
      GST_OBJECT_UNLOCK (self);
      if (!GST_CLOCK_TIME_IS_VALID (dur))
        return FALSE;
      gst_query_set_duration (query, GST_FORMAT_TIME, (gint64) dur);
      return TRUE;
    }
    default:
      return FALSE;
  }
}

void
gst_diode_src_add_recording_stats (GstDiodeSrc * self, GstStructure * s)
{
  GstClockTime pos = GST_CLOCK_TIME_NONE;
  gchar *start;

  GST_OBJECT_LOCK (self);
  start = g_strdup (self->client->start ? self->client->start : "live");
  /* "Recorded" as the SEEKING/POSITION/DURATION answers judge it: a stream
   * that is not being recorded (state live) has no position, even when the relay still holds an older
   * recording of the name (whose start would be the origin of a number
   * that means nothing for what is being watched). */
  if (src_recorded_locked (self) && self->last_time != DIODE_TIME_NONE)
    pos = self->last_time > self->first_time ?
        self->last_time - self->first_time : 0;
  gst_structure_set (s, "start", G_TYPE_STRING, start,
      "position", G_TYPE_UINT64, (guint64) pos,
      "stream-state", G_TYPE_STRING, self->have_range || self->client->version
      >= DIODE_PROTOCOL_VERSION_STORE ? diode_stream_state_name
      (self->stream_state) : "unknown",
      "seeks", G_TYPE_UINT64, self->seeks, NULL);
  GST_OBJECT_UNLOCK (self);
  g_free (start);
}

/* ------------------------------------------------------------------------ */
/* seeking */

gboolean
gst_diode_src_is_seekable (GstBaseSrc * bsrc)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);
  gboolean seekable;

  GST_OBJECT_LOCK (self);
  seekable = src_recorded_locked (self);
  GST_OBJECT_UNLOCK (self);
  return seekable;
}

/* Notes the flags of a SEEK (GstSegment keeps no KEY_UNIT or SNAP) so
 * do_seek knows it runs for a seek and not for the start-up segment. */
gboolean
gst_diode_src_event (GstBaseSrc * bsrc, GstEvent * event)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);

  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK) {
    GstSeekFlags flags;
    GstFormat fmt;
    gdouble rate;

    gst_event_parse_seek (event, &rate, &fmt, &flags, NULL, NULL, NULL, NULL);
    if (fmt != GST_FORMAT_TIME || rate <= 0.0) {
      GST_DEBUG_OBJECT (self, "refusing a %s seek at rate %f: only forward "
          "TIME seeks", gst_format_get_name (fmt), rate);
      return FALSE;
    }
    GST_OBJECT_LOCK (self);
    self->seek_requested = TRUE;
    self->seek_flags = flags;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_SRC_CLASS (g_type_class_peek_parent (G_OBJECT_GET_CLASS
          (self)))->event (bsrc, event);
}

static guint8
snap_from_flags (GstSeekFlags flags)
{
  gboolean before = (flags & GST_SEEK_FLAG_SNAP_BEFORE) != 0;
  gboolean after = (flags & GST_SEEK_FLAG_SNAP_AFTER) != 0;

  if (before && after)
    return DIODE_SNAP_NEAREST;
  if (after)
    return DIODE_SNAP_AFTER;
  return DIODE_SNAP_BEFORE;
}

/* Wait for the answer to the SUBSCRIBE of a seek: where it landed. */
static gboolean
src_wait_subscribed (GstDiodeSrc * self, GError ** error)
{
  GstDiodeClient *c = self->client;
  guint timeout;
  gint64 deadline;

  GST_OBJECT_LOCK (self);
  timeout = c->timeout;
  GST_OBJECT_UNLOCK (self);
  deadline = timeout ? g_get_monotonic_time () + ((gint64) timeout + 2000)
      * 1000 : -1;
  for (;;) {
    DiodeMsg m = { 0 };
    DiodeSessionResult r = gst_diode_client_recv (c, &m, deadline, error);

    if (r == DIODE_SESSION_NEED_MORE) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "Relay %s did not answer the seek within %u ms", c->hostport,
          timeout);
      return FALSE;
    }
    if (r == DIODE_SESSION_ERROR)
      return FALSE;
    if (m.type == DIODE_MSG_SUBSCRIBE_OK) {
      self->subscribed = TRUE;
      gst_diode_src_note_subscribed (self, &m);
      diode_msg_clear (&m);
      return TRUE;
    }
    if (m.type == DIODE_MSG_ERROR) {
      g_propagate_error (error, gst_diode_client_error_from_msg (c, &m));
      diode_msg_clear (&m);
      return FALSE;
    }
    diode_msg_clear (&m);
  }
}

/* Runs with the stream lock held, the streaming thread stopped: the seek
 * is a new subscription, made here so the segment can say where it
 * landed. Accurate seeks keep segment.start at the target (sinks clip
 * what comes before it); KEY_UNIT seeks move it to the keyframe. */
gboolean
gst_diode_src_do_seek (GstBaseSrc * bsrc, GstSegment * segment)
{
  GstDiodeSrc *self = GST_DIODE_SRC (bsrc);
  GstDiodeClient *c = self->client;
  GstSeekFlags flags;
  gboolean requested, live_edge;
  GstClockTime target, dur, landed;
  guint64 first, start_time;
  GError *err = NULL;

  GST_OBJECT_LOCK (self);
  requested = self->seek_requested;
  self->seek_requested = FALSE;
  flags = self->seek_flags;
  first = self->first_time;
  dur = src_duration_locked (self);
  GST_OBJECT_UNLOCK (self);
  if (!requested)
    return TRUE;                /* the start-up segment: nothing to do */
  if (first == DIODE_TIME_NONE || segment->format != GST_FORMAT_TIME)
    return FALSE;

  target = segment->start;
  live_edge = !self->non_live && (!GST_CLOCK_TIME_IS_VALID (dur)
      || target + LIVE_EDGE_SLACK >= dur);
  if (live_edge) {
    self->sub_mode = DIODE_START_LIVE;
    self->sub_value = 0;
  } else {
    self->sub_mode = DIODE_START_TIME;
    self->sub_value = first + target;
  }
  /* SNAP_* moves a KEY_UNIT seek's landing. An accurate one keeps its
   * segment at the target, so it needs the keyframe at or before the
   * target whatever SNAP says (gst_event_new_seek drops SNAP without
   * KEY_UNIT, but an event built from a structure keeps it): with AFTER or NEAREST the relay could start
   * at the next keyframe and the frames from the target to it would never
   * come. */
  self->sub_snap = flags & GST_SEEK_FLAG_KEY_UNIT ? snap_from_flags (flags) :
      DIODE_SNAP_BEFORE;
  GST_INFO_OBJECT (self, "seek to %" GST_TIME_FORMAT "%s (%s%s)",
      GST_TIME_ARGS (target), live_edge ? ": back to live" : "",
      flags & GST_SEEK_FLAG_KEY_UNIT ? "key unit" : "accurate",
      self->sub_snap == DIODE_SNAP_AFTER ? ", snap after" :
      self->sub_snap == DIODE_SNAP_NEAREST ? ", snap nearest" : "");

  gst_diode_client_close (c);
  self->last_seq = 0;
  self->resumed = FALSE;
  self->subscribed = FALSE;
  if (!gst_diode_src_subscribe (self, 0, &err)
      || !src_wait_subscribed (self, &err)) {
    if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      GST_ELEMENT_WARNING (self, RESOURCE, SEEK, ("Seek failed: %s",
              err->message), (NULL));
    g_clear_error (&err);
    gst_diode_client_close (c);
    /* create() reconnects on from where we were */
    c->lost = TRUE;
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  start_time = self->start_time;
  self->last_time = start_time;
  self->seeks++;
  GST_OBJECT_UNLOCK (self);
  landed = start_time != DIODE_TIME_NONE && start_time >= first ?
      start_time - first : target;

  /* From now on buffer time is recording time, also in a live pipeline,
   * whose running time a flushing seek restarted at 0. */
  self->fixed_offset = TRUE;
  self->need_segment = FALSE;
  self->have_offset = TRUE;
  if (live_edge || (flags & GST_SEEK_FLAG_KEY_UNIT))
    segment->start = landed;
  else
    segment->start = target;
  segment->time = segment->start;
  segment->position = segment->start;
  GST_DEBUG_OBJECT (self, "landed at %" GST_TIME_FORMAT ", segment %"
      GST_SEGMENT_FORMAT, GST_TIME_ARGS (landed), segment);
  return TRUE;
}
