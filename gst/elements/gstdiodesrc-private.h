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

G_END_DECLS
