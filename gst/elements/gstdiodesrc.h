/* gst-diode — diodesrc: watch a stream from a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include "gstdiodeclient.h"
#include "diode-direct.h"

G_BEGIN_DECLS

/* `join`: where a live viewer's first shown picture is */
typedef enum {
  GST_DIODE_JOIN_LIVE,          /* the live frame (the ones before it are
                                   decoded, not shown) */
  GST_DIODE_JOIN_KEYFRAME,      /* the relay's latest keyframe */
} GstDiodeJoin;
#define GST_TYPE_DIODE_JOIN (gst_diode_join_get_type ())
GType gst_diode_join_get_type (void);

/* where a join at the live edge is (gstdiodesrc-join.c) */
typedef enum {
  GST_DIODE_JOIN_IDLE,          /* nothing to do */
  GST_DIODE_JOIN_ARMED,         /* SUBSCRIBE_OK named a live seq ahead */
  GST_DIODE_JOIN_HOLDING,       /* holding frames until it comes */
  GST_DIODE_JOIN_DRAINING,      /* letting them out, decode-only first */
} GstDiodeJoinState;

#define GST_TYPE_DIODE_SRC (gst_diode_src_get_type ())
G_DECLARE_FINAL_TYPE (GstDiodeSrc, gst_diode_src, GST, DIODE_SRC, GstPushSrc)

struct _GstDiodeSrc {
  GstPushSrc      parent;

  GstDiodeClient *client;
  /* settings (GST_OBJECT_LOCK) */
  guint           latency;      /* ms */
  gchar          *publisher_id; /* "0x..." the viewer pins, NULL: any */

  /* streaming thread */
  gboolean        subscribed;   /* SUBSCRIBE_OK received */
  gchar          *pin;          /* publisher_id as of start(), lowercase */
  gboolean        was_live;     /* the stream was live once: outages after
                                   that are ridden out (reconnect) */
  guint64         reconnects;   /* GST_OBJECT_LOCK: read by `stats` */
  gchar          *caps_str;     /* caps in force */
  guint64         last_seq;
  gboolean        resumed;      /* this subscription asked for a seq (not
                                   the latest keyframe): seqs already had
                                   are duplicates (another relay's overlap) */
  gboolean        have_offset;
  GstClockTimeDiff ts_offset;   /* publisher time -> our running time */
  guint           stats_interval; /* ms, GST_OBJECT_LOCK */
  gint64          stats_posted_at;
  /* counters: written by the streaming thread, read by `stats` from any
   * thread, both under GST_OBJECT_LOCK (64-bit: torn on 32-bit ARM) */
  gint64          started_at;     /* start(): for join time */
  gint64          first_buffer_at;
  guint64         buffers_received;
  guint64         bytes_received;
  guint64         discont;        /* gaps in the sequence (relay skips) */
  guint64         buffers_missed; /* buffers in those gaps */
  guint64         duplicates;     /* seqs had already, dropped after a resume */

  /* direct paths: gstdiodesrc-direct.c (streaming thread) */
  GstDiodeDirectMode direct_mode; /* setting, GST_OBJECT_LOCK */
  GstDiodeDirectMode dmode;       /* as of start */
  DiodeDirectViewer *viewer;      /* an attempt or a path up, NULL: none */
  GQueue          dqueue;         /* DiodeMsg*: frames taken from the viewer
                                     not pushed yet */
  gsize           dqueue_bytes;
  gchar          *dcaps;          /* CAPS of the direct path dropped before
                                     the switch: applied at it */
  gboolean        direct_up;      /* the viewer said UP */
  gboolean        direct_down;    /* ... and then DOWN: drain, then fall back */
  gchar          *down_reason;
  gboolean        on_direct;      /* media comes from the direct path */
  gboolean        direct_refused; /* the relay will not introduce us: no
                                     retry until the next SUBSCRIBE_OK */
  gchar          *direct_publisher; /* SUBSCRIBE_OK's publisher */
  gint64          direct_retry_at;  /* monotonic µs of the next attempt, 0 */
  guint           direct_backoff;   /* ms */
  gint64          direct_since;     /* monotonic µs the switch happened */
  gboolean        path_dedup;     /* after PATH RELAY: drop seqs had */
  gboolean        path_resent;    /* the relay's resend (CAPS first) began */
  gboolean        relay_eos;      /* EOS came via the relay while direct */
  guint64         eos_seq;        /* ... after this seq */
  gint64          relay_polled_at;/* monotonic µs create() last read the
                                     relay connection */
  /* under GST_OBJECT_LOCK (stats read them from any thread) */
  gchar          *dpair;          /* "host host"..., NULL on the relay path */
  guint64         direct_attempts;
  guint64         direct_switches;
  guint64         direct_fallbacks;
  guint64         direct_bytes;
  guint64         relay_dropped;  /* relay frames dropped while direct */

  /* joining at the live edge: gstdiodesrc-join.c (streaming thread) */
  GstDiodeJoin    join;           /* setting, GST_OBJECT_LOCK */
  GstDiodeJoinState join_state;
  guint64         join_live_seq;  /* SUBSCRIBE_OK's live_seq, 0: none */
  GQueue          join_held;      /* DiodeMsg*: CAPS, MEDIA (EOS) held */
  gsize           join_held_bytes;
  GstClockTime    join_anchor;    /* buffer time the first frame came at */
  gint64          join_since;     /* monotonic µs, the same moment */
  guint64         join_oldest;    /* publisher time of the oldest held */
  /* under GST_OBJECT_LOCK (stats) */
  guint64         join_decode_only; /* frames sent DECODE_ONLY */
  guint64         join_shown_seq; /* seq of the last join's live frame */

  /* recordings: gstdiodesrc-seek.c */
  guint8          start_mode;     /* `start` as of READY->PAUSED:        */
  guint64         start_value;    /*   DiodeStartMode and its value       */
  guint8          sub_mode;       /* what the next SUBSCRIBE asks for     */
  guint64         sub_value;
  guint8          sub_snap;       /* DiodeSnap */
  gboolean        connected_early;/* READY->PAUSED made the connection */
  gboolean        non_live;       /* a finished recording: played like a
                                     file (not a live source) */
  gboolean        fixed_offset;   /* publisher time - first_time is the
                                     buffer time (non-live, after a seek) */
  gboolean        need_segment;   /* push a segment before the next buffer */
  gboolean        at_live;        /* following the live edge */
  /* under GST_OBJECT_LOCK: queries and stats read them from any thread */
  gboolean        have_range;     /* RANGE_OK received */
  guint8          stream_state;   /* DiodeStreamState (RANGE_OK, then
                                     SUBSCRIBE_OK) */
  guint64         first_time;     /* publisher time of the oldest stored
                                     chunk: position 0 (DIODE_TIME_NONE) */
  guint64         end_time;       /* end of the held range at range_at */
  gint64          range_at;       /* monotonic µs of the RANGE_OK */
  guint64         start_time;     /* SUBSCRIBE_OK: where it landed */
  guint64         last_time;      /* publisher time of the last buffer */
  gboolean        seek_requested; /* a SEEK event is being performed */
  GstSeekFlags    seek_flags;
  guint64         seeks;
};

GST_ELEMENT_REGISTER_DECLARE (diodesrc);

G_END_DECLS
