/* gst-diode — diode-load: what the parts of the load tool share
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diode-load is split by job: diode-load.c (options, timeline, epoll loop,
 * JSON report), diode-load-common.c (clock, /proc sampling, the viewer life
 * cycle, the frame accounting every diode-speaking mode shares),
 * diode-load-tls.c (diode viewers over TLS), diode-load-ws.c (WebSocket
 * viewers of the relay's web side), diode-load-tcp.c (tcpserversink
 * readers). One thread: the globals below are read and written by it only.
 */
#ifndef __DIODE_LOAD_H__
#define __DIODE_LOAD_H__

#include <glib.h>
#include <sys/socket.h>

#include "diode-identity.h"
#include "diode-tls.h"
#include "diode-msg.h"
#include "diode-session.h"

G_BEGIN_DECLS

#define RBUF_SIZE       (256 * 1024)
#define AGENT           "diode-load/0.1"
#define MAX_LOOP_S      3600          /* hard bound on any run */

typedef enum {
  MODE_TLS,
  MODE_TCP,
  MODE_WS,
} LoadMode;

typedef enum {
  V_IDLE,            /* not started yet */
  V_CONNECTING,      /* TCP connect in progress */
  V_HANDSHAKE,       /* TLS handshake / WebSocket upgrade */
  V_WELCOME,         /* HELLO sent, waiting WELCOME */
  V_SUBSCRIBING,     /* SUBSCRIBE sent (tls) / 101 received (ws) */
  V_STREAMING,       /* subscribed (tls, ws) / connected (tcp) */
  V_DEAD,
} VState;

typedef struct {
  int fd;
  guint idx;
  guint sidx;                   /* which of the --streams it watches */
  VState st;
  guint32 events;
  gint64 t_start_ns;            /* planned / actual connect() time */
  gint64 t_ready_ns;            /* subscribed (tls, ws) / connected (tcp) */
  gint64 t_key_ns;              /* first decodable frame, 0 = none yet */
  gint64 key_late_ns;           /* its lateness (arrival - pts), see
                                 * load_count_msg() and tcp_event() */
  gboolean key_late_ok;
  gboolean was_ready;
  gboolean got_caps;
  guint64 bytes;
  guint64 bytes_win0, bytes_win1;
  gboolean win0_alive, win1_alive;
  guint64 media, keyframes;
  /* MEDIA accounting (tls, ws): seq gaps and lateness, see
   * load_count_media() */
  guint64 last_seq;             /* 0 = no MEDIA yet */
  guint64 newest_pts;           /* pts of the newest MEDIA, NONE = none */
  guint64 media_win;            /* MEDIA received in the window */
  guint64 gaps_win, lost_win;   /* seq gaps in the window, seqs missing */
  gint64 late_max_win;          /* max (arrival - pts) in the window, ns */
  gboolean late_seen;
  /* tls */
  DiodeTls *tls;
  DiodeSession *sess;
  GByteArray *outq;             /* tls: plaintext; ws: bytes to write */
  gint64 t_ping_ns;             /* last PING we sent (keepalive) */
  guint64 ping_token;
  /* ws */
  GByteArray *inq;              /* head / frame bytes not parsed yet */
  gchar *ws_accept;             /* the Sec-WebSocket-Accept we expect */
  /* tcp H.264 scan (diode-load-tcp.c): the byte-stream has no pts, so
   * the k-th picture a reader gets stands for pts = k / --fps after its
   * first one, and its own smallest lateness stands for live */
  guint zeros;
  gboolean want_nal_header, want_slice, sps, pps;
  guint slice_type;             /* NAL type of the slice whose header we wait */
  guint64 pictures;             /* access units received */
  gint64 own_late_min;          /* min (arrival - k / fps), ns */
  const gchar *why;             /* failure reason (interned string) */
} Viewer;

typedef struct {
  LoadMode mode;
  gboolean tls, tcp, ws, quiet;
  gchar *host;
  gint port;
  gchar *stream;
  gchar *token;
  gint streams;
  gint n;
  gdouble duration, warmup, ramp, spread, pre, connect_timeout, linger;
  gchar *relay_id;
  gchar *identity;
  gdouble expect_bps;
  gdouble max_lag;
  gdouble fps;                  /* tcp: the clip's frame rate */
  gint server_pid;
  guint wait_ms;
  guint64 seed;
} LoadOptions;

typedef struct {
  gboolean ok;
  gdouble cpu_s;
  guint64 rss_kb;
} ProcSample;

extern LoadOptions opt;
extern int epfd;
extern Viewer *viewers;
extern struct sockaddr_storage dst;
extern socklen_t dst_len;
extern guint8 *rbuf;
extern GHashTable *fail_reasons;   /* reason -> count */
extern guint n_started, n_settled; /* settled = ready or dead */
extern gboolean in_window;         /* the measurement window is open */
extern gint64 *late_min;           /* per stream: min (arrival - pts), ns */

/* diode-load-common.c */
gint64 now_ns (void);
void logf_ (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);
ProcSample sample_proc (int pid);
gdouble machine_cpu_s (void);
gdouble self_cpu_s (void);
gchar *viewer_stream_name (Viewer * v);
void set_events (Viewer * v, guint32 ev);
void viewer_fail (Viewer * v, const gchar * why);
void viewer_failf (Viewer * v, const gchar * fmt, ...) G_GNUC_PRINTF (2, 3);
void viewer_ready (Viewer * v);
void viewer_start (Viewer * v);
void viewer_event (Viewer * v, guint32 ev);
void viewer_free (Viewer * v);
void load_count_msg (Viewer * v, DiodeMsg * m);
void load_window_end (gint64 t);
gint64 load_live_ref (Viewer * v);

/* diode-load-tls.c */
gboolean tls_init (GError ** error);
void tls_connected (Viewer * v);
void tls_event (Viewer * v, guint32 ev);
void tls_keepalive_sweep (gint64 * t_sweep);
void tls_viewer_close (Viewer * v);
void tls_cleanup (void);

/* diode-load-ws.c */
void ws_connected (Viewer * v);
void ws_event (Viewer * v, guint32 ev);
void ws_viewer_close (Viewer * v);

/* diode-load-tcp.c */
void tcp_connected (Viewer * v);
void tcp_event (Viewer * v, guint32 ev);

G_END_DECLS

#endif /* __DIODE_LOAD_H__ */
