/* gst-diode — diodesink internals shared by its source files
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * gstdiodesink.c is the element (properties, policy, GstBaseSink);
 * gstdiodesink-writer.c the send queue and the writer thread that drains
 * it to the relay. Not installed.
 */
#pragma once

#include "gstdiodesink.h"

G_BEGIN_DECLS

typedef enum {
  ITEM_CONTROL,                 /* a ready frame: CAPS */
  ITEM_POLICY,                  /* a ready POLICY frame */
  ITEM_MEDIA,                   /* a buffer: framed by the writer */
  ITEM_EOS,                     /* framed by the writer (needs the last seq) */
  ITEM_SIGNAL,                  /* a SIGNAL from the direct server: ahead
                                   of media, in order among themselves */
} ItemKind;

/* What render() queues: buffers are framed by the writer, so sequence
 * numbers follow what the relay actually received, across reconnections. */
typedef struct {
  ItemKind kind;
  GBytes *frame;                /* ITEM_CONTROL */
  GstBuffer *buf;               /* ITEM_MEDIA */
  guint32 flags;                /* ITEM_MEDIA: DiodeMediaFlags */
  gsize size;                   /* bytes accounted in queue_bytes */
} QItem;

void     gst_diode_sink_qitem_free (QItem * it);
/* Queue an item for the writer (POLICY goes first). qlock held. */
void     gst_diode_sink_enqueue_item_locked (GstDiodeSink * self, ItemKind kind,
                                             GBytes * frame, GstBuffer * buf,
                                             guint32 flags);
void     gst_diode_sink_enqueue_locked (GstDiodeSink * self, GBytes * frame);
void     gst_diode_sink_enqueue_policy_locked (GstDiodeSink * self,
                                               GBytes * frame);
/* Drops the queued items whose kind is in @kinds (1 << ItemKind). */
void     gst_diode_sink_drop_queued_locked (GstDiodeSink * self, guint kinds);

/* open + PUBLISH + PUBLISH_OK */
gboolean gst_diode_sink_start_publishing (GstDiodeSink * self, GError ** error);
gboolean gst_diode_sink_publish_session (GstDiodeSink * self, GError ** error);
gpointer gst_diode_sink_writer_thread (gpointer user_data);
GstFlowReturn gst_diode_sink_check_writer_locked (GstDiodeSink * self);
void     gst_diode_sink_stop_writer (GstDiodeSink * self);

/* gstdiodesink-upload.c: recording and uploads. */
/* record=TRUE: decide live or upload (LATENCY query upstream), then make
 * the first connection. GST_FLOW_OK when publishing. Streaming thread. */
GstFlowReturn gst_diode_sink_publish_deferred (GstDiodeSink * self);
/* After PUBLISH_OK (writer or start): note the relay's store state and
 * warn when record=TRUE cannot be honoured. */
void     gst_diode_sink_note_store_state (GstDiodeSink * self,
                                          const DiodeMsg * m);
/* A STORED frame from the relay (writer thread). */
void     gst_diode_sink_note_stored (GstDiodeSink * self, const DiodeMsg * m);
/* Upload: wait while the queue is over its limit. Streaming thread,
 * without qlock. */
GstFlowReturn gst_diode_sink_upload_wait (GstDiodeSink * self, guint64 limit);
/* record=TRUE: after EOS went out, wait for STORED final (bounded); an
 * upload posts its last progress message. */
void     gst_diode_sink_upload_wait_final (GstDiodeSink * self);
/* The "diode-upload" progress message, at most every stats-interval (or
 * now when @force). */
void     gst_diode_sink_upload_progress (GstDiodeSink * self, gboolean force);
/* The recording fields of stats: recording, stored-seq, stored-bytes. */
void     gst_diode_sink_add_store_stats (GstDiodeSink * self, GstStructure * s);

/* gstdiodesink.c: PUBLISH (@stream) or POLICY (@stream NULL) for the
 * current settings. */
GBytes  *gst_diode_sink_build_policy_frame (GstDiodeSink * self,
                                            const gchar * stream,
                                            GError ** error);

/* gstdiodesink-direct.c: direct paths (docs/protocol.md section 17). */
/* At the first connection, after WELCOME and before PUBLISH: with
 * direct=TRUE, make the server (the pubflags then carry DIRECT) and its
 * SIGNAL pump. A server that cannot be made is a warning: publishing goes
 * on through the relay alone. */
void     gst_diode_sink_direct_start (GstDiodeSink * self);
void     gst_diode_sink_direct_stop (GstDiodeSink * self);
/* DIODE_PUBLISH_DIRECT when offering on a connection at version >= 4. */
guint32  gst_diode_sink_direct_pubflags (GstDiodeSink * self);
/* The policy the relay was just told (copied): the direct path applies it
 * too. NULL: closed. */
void     gst_diode_sink_direct_note_policy (GstDiodeSink * self,
                                            const gpointer policy);
/* Writer thread: a SIGNAL from the relay; every CAPS/MEDIA/EOS frame sent
 * to the relay; the relay connection was made again. */
void     gst_diode_sink_direct_signal (GstDiodeSink * self, const DiodeMsg * m);
void     gst_diode_sink_direct_push (GstDiodeSink * self, GBytes * frame);
void     gst_diode_sink_direct_relay_reset (GstDiodeSink * self);
/* path, direct, direct-viewers, direct-sessions, direct-offers,
 * direct-refused, direct-bytes-sent. */
void     gst_diode_sink_direct_add_stats (GstDiodeSink * self, GstStructure * s);

G_END_DECLS
