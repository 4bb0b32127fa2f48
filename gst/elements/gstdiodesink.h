/* gst-diode — diodesink: publish a stream to a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include "gstdiodeclient.h"
#include "diode-direct.h"

G_BEGIN_DECLS

#define GST_TYPE_DIODE_SINK (gst_diode_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstDiodeSink, gst_diode_sink, GST, DIODE_SINK, GstBaseSink)

struct _GstDiodeSink {
  GstBaseSink     parent;

  GstDiodeClient *client;
  /* settings, GST_OBJECT_LOCK */
  guint64         backlog_limit;  /* bytes queued that make a GOP drop */
  guint           stats_interval; /* ms between diode-stats messages */
  guint           policy_gen;     /* bumped by access/allow/fleet changes */
  guint           policy_sent_gen;/* what the relay was last told */
  GMutex          policy_lock;    /* serializes live policy updates */
  gboolean        record;         /* relays may store the stream */
  gboolean        direct;         /* offer direct paths to viewers */
  guint           direct_max;     /* direct viewers at once */

  /* direct paths (gstdiodesink-direct.c) */
  GMutex          server_lock;    /* guards the direct_server pointer:
                                     direct=false while playing frees it */
  DiodeDirectServer *direct_server; /* NULL: not offering */
  gboolean        direct_tried;   /* made (or failed) at this start's
                                     first connection */
  GThread        *direct_pump;    /* moves its SIGNALs into the queue */
  DiodeDirectServer *direct_pump_server; /* the pump's, until joined */
  GMutex          direct_stop_lock; /* direct_start()/stop() one at
                                     a time: direct_tried, the server,
                                     pump and stop fd they make/free */
  int             direct_stop_fd; /* eventfd: ends the pump */
  GMutex          admit_lock;     /* guards admit_policy and own_address */
  gpointer        admit_policy;   /* GstDiodePolicy *: what the relay was
                                     last told, for the direct path's own
                                     check of a viewer */
  gchar          *own_address;

  /* recording and upload (gstdiodesink-upload.c) */
  gboolean        deferred;       /* record=TRUE: PUBLISH waits for the
                                     first buffer (live or not?) */
  gboolean        upload;         /* record=TRUE, upstream not live: no GOP
                                     is ever dropped, render() waits */
  guint32         pubflags;       /* DiodePublishFlags of the PUBLISH */
  gint64          upload_posted_at;
  GstClockTime    position;       /* stream time of the last buffer */
  GstClockTime    first_position;
  gboolean        store_warned;   /* the record warning was posted */

  /* streaming thread */
  guint64         wseq;           /* writer: last MEDIA seq sent */
  GBytes         *caps_frame;     /* writer: last CAPS sent, for reconnects */
  gboolean        need_keyframe;  /* writer: skip to a keyframe (reconnect) */
  guint64         reconnects;
  gboolean        published;      /* PUBLISH_OK received */
  gchar          *caps_sent;      /* last CAPS string queued */
  gboolean        has_streamheader; /* caps carry streamheader buffers */
  gint64          stats_posted_at;

  /* the send queue, between render() and the writer thread: qlock */
  GMutex          qlock;
  GCond           qcond;
  GQueue          queue;          /* QItem*: frames and buffers */
  gsize           queue_bytes;    /* queued + the one being sent */
  GThread        *writer;
  gboolean        writer_stop;
  gboolean        writer_done;
  GError         *writer_error;   /* to post from the streaming thread */
  gboolean        failed;
  gboolean        flushing;
  gboolean        dropping;       /* dropping until the next keyframe */
  gboolean        mark_discont;   /* next queued buffer gets DISCONT */
  gint64          connected_at;
  guint64         bytes_sent;
  guint64         buffers_queued;
  guint64         buffers_dropped;
  guint64         gops_dropped;
  /* the relay's store, from PUBLISH_OK and STORED (qlock) */
  gint            store_state;    /* DiodeStoreState, -1: not told (v < 3) */
  guint64         stored_seq;
  guint64         stored_bytes;
  gboolean        stored_final;
  gint64          stored_at;      /* monotonic µs of the last STORED */
};

GST_ELEMENT_REGISTER_DECLARE (diodesink);

G_END_DECLS
