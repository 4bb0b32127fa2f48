/* gst-diode — direct paths: a publisher serving viewers over ICE
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The two ends of a direct path (docs/protocol.md section 17), without
 * GStreamer: DiodeDirectServer on the publisher's side, DiodeDirectViewer
 * on the viewer's. Each runs one thread with its own GMainContext for its
 * ICE agents (ext/nice), TLS sessions (ext/tls) and diode sessions
 * (gst/protocol). The element talks to it from its own thread through
 * functions that take a lock and through one eventfd (get_fd) that is
 * readable while something waits for the element: SIGNAL frames to send to
 * the relay, and (viewer) events and received frames.
 *
 * Over the ICE byte stream the protocol is the ordinary diode protocol, the
 * publisher in the relay's place: TLS 1.3 with mutual certificates (the
 * publisher is the TLS server), each end checking the other's address
 * end to end, then HELLO/WELCOME, SUBSCRIBE from a seq, SUBSCRIBE_OK, CAPS,
 * MEDIA with the publisher's own seqs, EOS, PING/PONG.
 */
#pragma once

#include <glib.h>
#include "diode-msg.h"
#include "diode-identity.h"
#include "diode-ice.h"

G_BEGIN_DECLS

/* ---- publisher side ---------------------------------------------------- */

/* May the viewer of address @viewer ("0x...", lowercase) take a direct
 * path? Called on the server's thread; must be thread safe. */
typedef gboolean (*DiodeDirectAdmitFunc) (const gchar * viewer,
    gpointer user_data);

typedef struct {
  DiodeIdentity *identity;     /* the publisher's (reffed by the server) */
  const gchar *stream;         /* stream name, for SUBSCRIBE checks/logs */
  guint max_viewers;           /* direct-max: more OFFERs are CLOSEd */
  const gchar *stun_server;    /* as DiodeIceConfig */
  const gchar *turn_server;
  DiodeIceTransport transport;
  DiodeDirectAdmitFunc admit;
  gpointer admit_data;
} DiodeDirectServerConfig;

typedef struct _DiodeDirectServer DiodeDirectServer;

DiodeDirectServer *diode_direct_server_new (const DiodeDirectServerConfig * cfg,
    GError ** error);
/* Stops the thread, closes every direct session (CLOSE frames are not
 * sent: the relay closes them when the publisher goes). */
void     diode_direct_server_free (DiodeDirectServer * s);
/* Every frame the publisher sends to the relay, whole (header included):
 * CAPS, MEDIA (stream headers too), EOS. Any thread; never blocks. */
void     diode_direct_server_push_frame (DiodeDirectServer * s, GBytes * frame);
/* A SIGNAL the relay forwarded (m->type == DIODE_MSG_SIGNAL). */
void     diode_direct_server_handle_signal (DiodeDirectServer * s,
    const DiodeMsg * m);
/* The relay connection was lost and made again: every direct session's
 * signalling is gone (established direct sessions go on). */
void     diode_direct_server_relay_reset (DiodeDirectServer * s);
/* The owner's access policy changed: every session (signalling or
 * established, with or without a relay id) is asked again through the
 * admit function, on the server's thread; those it refuses end with "not
 * authorized" (their viewers fall back to the relay path, where the
 * relay's own check applies). Any thread; never blocks. */
void     diode_direct_server_recheck (DiodeDirectServer * s);
/* Readable while SIGNAL frames wait (pop them with next_signal), and once
 * the number of viewers on direct paths went from 0 or to 0 (read it with
 * get_stats): next_signal clears it when no frame is left. */
int      diode_direct_server_get_fd (DiodeDirectServer * s);
/* The next SIGNAL frame to send to the relay (owned by the caller), or
 * NULL; clears the fd when none is left. */
GBytes  *diode_direct_server_next_signal (DiodeDirectServer * s);

typedef struct {
  guint viewers;               /* direct sessions carrying media now */
  guint64 sessions;            /* direct sessions that reached media */
  guint64 offers;              /* OFFERs received */
  guint64 refused;             /* OFFERs refused (policy, direct-max) */
  guint64 bytes_sent;          /* media bytes over direct paths */
} DiodeDirectServerStats;
void     diode_direct_server_get_stats (DiodeDirectServer * s,
    DiodeDirectServerStats * stats);

/* ---- viewer side ------------------------------------------------------- */

typedef struct {
  DiodeIdentity *identity;     /* the viewer's (reffed) */
  const gchar *stream;
  const gchar *publisher;      /* the address the publisher must prove */
  const gchar *stun_server;
  const gchar *turn_server;
  DiodeIceTransport transport;
  gsize queue_bytes;           /* bound of received frames waiting; 0: 8 MiB */
} DiodeDirectViewerConfig;

typedef enum {
  DIODE_DIRECT_NONE = 0,       /* nothing waits */
  DIODE_DIRECT_MSG,            /* *msg: CAPS, MEDIA or EOS from the direct path */
  DIODE_DIRECT_UP,             /* SUBSCRIBE_OK came: frames follow; *text
                                  names the pair ("host host") */
  DIODE_DIRECT_DOWN,           /* the direct path is over: *text says why.
                                  Final for this viewer object. */
} DiodeDirectEvent;

typedef struct _DiodeDirectViewer DiodeDirectViewer;

DiodeDirectViewer *diode_direct_viewer_new (const DiodeDirectViewerConfig * cfg,
    GError ** error);
void     diode_direct_viewer_free (DiodeDirectViewer * v);
/* Starts an attempt: ICE agent, OFFER (sid new) queued for the relay. */
void     diode_direct_viewer_start (DiodeDirectViewer * v);
/* The seq the element needs next: the direct SUBSCRIBE asks for it.
 * Any thread (locked: no 64-bit atomics on 32-bit ARM). */
void     diode_direct_viewer_set_next_seq (DiodeDirectViewer * v, guint64 seq);
void     diode_direct_viewer_handle_signal (DiodeDirectViewer * v,
    const DiodeMsg * m);
int      diode_direct_viewer_get_fd (DiodeDirectViewer * v);
GBytes  *diode_direct_viewer_next_signal (DiodeDirectViewer * v);
/* The next event; for MSG, @msg (zeroed by the caller) is filled and owned
 * by the caller; for UP/DOWN, *text (may be NULL) is owned by the caller. */
DiodeDirectEvent diode_direct_viewer_next (DiodeDirectViewer * v,
    DiodeMsg * msg, gchar ** text);
/* Peek: seq of the first queued MEDIA, or 0 when none is queued. */
guint64  diode_direct_viewer_peek_seq (DiodeDirectViewer * v);

typedef struct {
  guint64 bytes_received;
  gchar *pair;                 /* "host srflx"..., NULL before UP */
} DiodeDirectViewerStats;
void     diode_direct_viewer_get_stats (DiodeDirectViewer * v,
    DiodeDirectViewerStats * stats);

G_END_DECLS
