/* gst-diode — diodesrc internals shared by its source files
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * gstdiodesrc.c is the element (properties, subscription, buffers);
 * gstdiodesrc-seek.c what recordings add: `start`, the RANGE asked before
 * PAUSED (live or not), SEEKING/POSITION/DURATION and TIME seeks. Not
 * installed.
 */
#pragma once

#include "gstdiodesrc.h"

G_BEGIN_DECLS

/* `start`: "live", "earliest", "-SECONDS" or an ISO 8601 date-time (no zone
 * = UTC). FALSE with a GST_RESOURCE_ERROR_SETTINGS error naming the
 * accepted forms. */
gboolean gst_diode_src_parse_start (const gchar * str, guint8 * mode,
                                    guint64 * value, GError ** error);

/* READY->PAUSED, before chaining up: checks `start`, connects (each relay
 * of the list once), asks RANGE (protocol version 3) and subscribes; a
 * finished recording makes the source non-live. FALSE after posting an
 * error (or when cancelled). */
gboolean gst_diode_src_connect (GstDiodeSrc * self);

/* gstdiodesrc.c: open a connection to the relay chosen last and SUBSCRIBE
 * as self->sub_* say (@start_seq for LIVE). */
gboolean gst_diode_src_subscribe (GstDiodeSrc * self, guint64 start_seq,
                                  GError ** error);
/* The SUBSCRIBE frame for the current self->sub_* (NULL: bad name). */
GBytes  *gst_diode_src_subscribe_frame (GstDiodeSrc * self, guint64 start_seq);
/* A SUBSCRIBE_OK arrived: note its stream state and start time. */
void     gst_diode_src_note_subscribed (GstDiodeSrc * self, const DiodeMsg * m);
/* A reconnect: what to ask for to go on where we were. */
void     gst_diode_src_prepare_resume (GstDiodeSrc * self);
/* Buffer time for publisher time @t when the mapping is fixed. */
GstClockTime gst_diode_src_recording_ts (GstDiodeSrc * self, guint64 t);
/* Before a buffer with publisher time @t goes out: a pending segment. */
void     gst_diode_src_maybe_new_segment (GstDiodeSrc * self, guint64 t,
                                          GstClockTime ts);

/* GstBaseSrc vfuncs and the query part for recordings. */
gboolean gst_diode_src_is_seekable (GstBaseSrc * bsrc);
gboolean gst_diode_src_do_seek (GstBaseSrc * bsrc, GstSegment * segment);
gboolean gst_diode_src_event (GstBaseSrc * bsrc, GstEvent * event);
/* SEEKING, POSITION, DURATION: TRUE when answered. */
gboolean gst_diode_src_query_recording (GstDiodeSrc * self, GstQuery * query);
void     gst_diode_src_add_recording_stats (GstDiodeSrc * self,
                                            GstStructure * s);

/* gstdiodesrc.c, for the direct path's frames */
GstBuffer *gst_diode_src_make_buffer (GstDiodeSrc * self, const DiodeMsg * m);
gboolean gst_diode_src_apply_caps (GstDiodeSrc * self, const gchar * str);

/* gstdiodesrc-direct.c: direct paths (docs/protocol.md section 17). All on
 * the streaming thread. */
/* start/stop: no viewer, counters zeroed (start only). */
void     gst_diode_src_direct_reset (GstDiodeSrc * self, gboolean counters);
/* A SUBSCRIBE is about to go out (start, reconnect, seek): the direct
 * session of the old subscription ends; if media came from it, the path is
 * the relay's again. */
void     gst_diode_src_direct_resubscribing (GstDiodeSrc * self);
/* SUBSCRIBE_OK: an attempt is due at once when the subscription is live,
 * the connection at version 4, `direct` auto. */
void     gst_diode_src_direct_subscribed (GstDiodeSrc * self, const DiodeMsg * m);
/* A SIGNAL from the relay. */
void     gst_diode_src_direct_relay_signal (GstDiodeSrc * self, const DiodeMsg * m);
/* A relay CAPS or MEDIA: TRUE when it must be dropped (the direct path
 * carries the stream, or a seq had already after PATH RELAY). */
gboolean gst_diode_src_direct_drop_relay (GstDiodeSrc * self, const DiodeMsg * m);
/* A relay EOS: TRUE when it waits for the direct path's (which comes in
 * order after the frames still on their way). */
gboolean gst_diode_src_direct_hold_eos (GstDiodeSrc * self, const DiodeMsg * m);
/* The direct path's work: start a due attempt, relay its SIGNALs, take its
 * events, switch, fall back. Sets c->aux_fd for the next wait and
 * *wake_at (monotonic µs, or -1) for a timer. Returns TRUE with *ret (and
 * *outbuf for OK) when it produced the next buffer, EOS or an error. */
gboolean gst_diode_src_direct_service (GstDiodeSrc * self, GstBuffer ** outbuf,
                                       GstFlowReturn * ret, gint64 * wake_at);
/* path, pair, direct-attempts, direct-switches, direct-fallbacks,
 * direct-bytes-received, relay-dropped (object lock taken). */
void     gst_diode_src_direct_add_stats (GstDiodeSrc * self, GstStructure * s);

/* gstdiodesrc.c: the buffer time of "now" (running time + segment start) */
GstClockTime gst_diode_src_now (GstDiodeSrc * self);

/* gstdiodesrc-join.c: `join=live` (docs/protocol.md section 18). All on the
 * streaming thread. */
void     gst_diode_src_join_reset (GstDiodeSrc * self);
/* SUBSCRIBE_OK: arm when it is a live join behind the live edge. */
void     gst_diode_src_join_subscribed (GstDiodeSrc * self, const DiodeMsg * ok);
/* A relay CAPS, MEDIA or EOS: TRUE when it was taken (moved out of @m) to
 * go out later, in order, through gst_diode_src_join_next. */
gboolean gst_diode_src_join_hold (GstDiodeSrc * self, DiodeMsg * m);
/* TRUE with *ret (and *outbuf for OK) when a held frame goes out now. */
gboolean gst_diode_src_join_next (GstDiodeSrc * self, GstBuffer ** outbuf,
                                  GstFlowReturn * ret);
/* Waiting for the live frame (the direct path waits too). */
gboolean gst_diode_src_join_holding (GstDiodeSrc * self);
/* The held frames are going out on the live frame's timing: no
 * re-anchoring on the first of them. */
gboolean gst_diode_src_join_keeps_offset (GstDiodeSrc * self);
/* join, join-decode-only, join-live-seq (object lock taken). */
void     gst_diode_src_join_add_stats (GstDiodeSrc * self, GstStructure * s);

G_END_DECLS
