/* gst-diode — diode-latency: latency of one relay hop, for the benchmarks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-latency --port P [--stream lat] [--viewer-delay 3] [--warmup 2] \
 *                 [--duration 30]            publisher + 1 viewer via a relay
 *   diode-latency --direct [--duration 30]   no relay: publisher -> receiver
 *   diode-latency --port P --viewers 100 ... publisher + 100 measuring
 *                 viewers: first / median / last arrival per frame
 *   diode-latency --port P --view-port Q [--view-relay-id 0x..] ...
 *                 publisher at one relay, the viewer at another (a tree of
 *                 relays: bench/tree.sh), still one process and one clock
 *   diode-latency --port P --publishers 100 --stream rec --record ...
 *                 100 publishers in this one process, streams rec-1 ..
 *                 rec-100 (the viewer watches rec-1), each with the RECORD
 *                 flag (protocol version 3: relays may store them): the load
 *                 of bench/store.sh
 *   ... --kill-pid PID --kill-at S
 *                 SIGKILL PID S seconds after the start (a relay between the
 *                 two) and report the fail-over: time from the kill to the
 *                 first frame received after it, and the frames lost
 *
 * One process, one thread, one epoll set, so the sender and the receiver read
 * the same CLOCK_MONOTONIC. The publisher is a raw diode client (DiodeTls,
 * HELLO as PUBLISHER, PUBLISH, CAPS) sending MEDIA frames at --fps with a
 * --size byte payload whose first 8 bytes are the monotonic time (ns) taken
 * right before the frame is handed to TLS; every --gop-th frame is a
 * KEYFRAME. The measuring viewers (--viewers N, default 1; HELLO VIEWER,
 * SUBSCRIBE) join after --viewer-delay seconds and each records (receive -
 * send) of every frame sent after the warm-up, which starts once all of them
 * are subscribed. The relay writes a frame viewer after viewer, starting
 * each frame at the next one (relay/diode-relay-protocol.c stream_fanout),
 * so no viewer is always the last: per frame the tool takes the first, the
 * median and the last arrival across the N viewers and reports p50/p90/p99/
 * max of each over the frames every viewer got ("last" is the viewer served
 * last, whichever it was). One thread reads every viewer, so a frame can
 * wait in one socket while it reads the others: the receive time is the
 * kernel's (SO_TIMESTAMPNS, see arrival_stamp()), when the relay's bytes
 * arrived, not when the thread got round to them (the time after
 * diode_tls_recv where no stamp is had; the JSON counts both).
 * After --duration the publisher stops and the viewers drain for 1 s, so the
 * last frames measured reach everyone.
 *
 * --direct replaces the relay by an in-process TLS server that answers HELLO
 * and PUBLISH itself and measures the frames it receives: the baseline of
 * one TLS connection on loopback. "Added latency of one relay hop" is the
 * relay run minus that baseline.
 *
 * Output: one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <glib.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "diode-identity.h"
#include "diode-tls.h"
#include "diode-msg.h"
#include "diode-session.h"

#define RBUF_SIZE (256 * 1024)
#define MAX_RUN_S 1800

typedef enum { C_PUB, C_VIEW, C_RECV } Kind;
typedef enum {
  S_CONNECTING, S_HANDSHAKE, S_WELCOME, S_REQUEST, S_ACTIVE, S_DEAD
} CState;

typedef struct {
  Kind kind;
  int fd;
  CState st;
  guint32 events;
  DiodeTls *tls;
  DiodeSession *sess;
  GByteArray *outq;
  guint32 keepalive_ms;         /* from WELCOME; 0 = none */
  gint64 last_sent_ns;          /* keepalive: when we last sent a frame */
  guint64 ping_token;
  /* publishers */
  gchar *stream;
  guint64 next_seq, frames_sent;
  guint16 version;              /* from WELCOME */
  /* viewers */
  guint idx;                    /* column in the per-frame arrival matrix */
  guint64 last_seq;
  gboolean subscribed;
  gint64 stamp_ns;              /* newest kernel receive time seen, mono */
} Conn;

static struct {
  gchar *host;
  gint port;
  gboolean direct;
  gchar *stream;
  gdouble fps, viewer_delay, warmup, duration;
  gint size, gop;
  gchar *relay_id;
  gint view_port;
  gchar *view_relay_id;
  gint kill_pid;
  gdouble kill_at;
  gboolean quiet;
  gint publishers;
  gboolean record;
  gint viewers;
  gdouble viewer_ramp;
} opt = {
  .fps = 30, .viewer_delay = 0, .warmup = 2, .duration = 30, .size = 16384,
  .gop = 60, .publishers = 1, .viewers = 1,
  .viewer_ramp = 250,
};

static int epfd;
static DiodeIdentity *identity;
static guint8 *rbuf;
static Conn *pubs, *views, recvc;  /* pubs[0]: the measured stream */
static guint n_subscribed, n_view_failed, n_view_failed_early;
static gchar *view_fail_why;       /* the first viewer's failure */
static int listen_fd = -1, timer_fd = -1;
static struct sockaddr_in dst, dst_view;
/* --kill-pid: when it was killed, the last seq received before, and when
 * the first frame after the kill arrived (0: not yet). */
static gint64 t_kill_ns, t_first_after_kill_ns;
static guint64 seq_at_kill, lost_after_kill;
static guint64 frames_sent, frames_recv, frames_lost;
static guint64 last_seq_seen;
static gint64 t_measure_ns;        /* frames sent before this are ignored */
static gint64 t_end_ns;            /* nor those sent from this on */
static GArray *samples;            /* double ms */
/* per measured frame (seq - seq0) and viewer: receive - send, ms; NAN =
 * not received */
static float *arrivals;
static guint64 seq0;               /* first seq sent at or after t_measure */
static guint max_frames, n_cols;
static gint64 t_recv_ns;           /* receive time of the bytes just read */
static guint64 stamps_kernel, stamps_read;
static guint8 *peek_buf;
#define PEEK_MAX (256 * 1024)
static gdouble self_cpu0 = -1, self_cpu1 = -1; /* ours over the window */
static gboolean fatal;
static guint8 *frame_buf;
static gsize frame_len;

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Receive time of what waits in @c's socket, from the kernel
 * (SO_TIMESTAMPNS, CLOCK_REALTIME, of the newest segment a MSG_PEEK copies),
 * on the monotonic clock; 0 if none. The tool reads its viewers one after
 * the other in one thread: the kernel's time is when the relay's bytes
 * arrived, not when this thread got round to them. Frames already inside
 * GnuTLS's buffer keep the previous stamp (newer than them: an upper
 * bound). */
static gint64
arrival_stamp (Conn * c)
{
  int avail = 0;
  struct iovec iov;
  struct msghdr mh = { 0 };
  union {
    struct cmsghdr h;
    guint8 b[CMSG_SPACE (sizeof (struct timespec)) + 64];
  } ctl;
  struct cmsghdr *cm;
  struct timespec rt, mono;

  if (c->fd < 0 || ioctl (c->fd, FIONREAD, &avail) < 0 || avail <= 0)
    return 0;
  iov.iov_base = peek_buf;
  iov.iov_len = MIN (avail, PEEK_MAX);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = ctl.b;
  mh.msg_controllen = sizeof ctl.b;
  if (recvmsg (c->fd, &mh, MSG_PEEK | MSG_DONTWAIT) <= 0)
    return 0;
  for (cm = CMSG_FIRSTHDR (&mh); cm; cm = CMSG_NXTHDR (&mh, cm)) {
    struct timespec ts;

    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS
        || cm->cmsg_len < CMSG_LEN (sizeof ts))
      continue;
    memcpy (&ts, CMSG_DATA (cm), sizeof ts);
    clock_gettime (CLOCK_REALTIME, &rt);
    clock_gettime (CLOCK_MONOTONIC, &mono);
    return ((gint64) ts.tv_sec - rt.tv_sec) * 1000000000 +
        (ts.tv_nsec - rt.tv_nsec) + (gint64) mono.tv_sec * 1000000000 +
        mono.tv_nsec;
  }
  return 0;
}

/* The warm-up starts once every viewer is subscribed (or lost before). */
static void
maybe_start_measure (void)
{
  if (!t_measure_ns && n_subscribed > 0
      && n_subscribed + n_view_failed_early == (guint) opt.viewers) {
    t_measure_ns = now_ns () + (gint64) (opt.warmup * 1e9);
    if (!opt.quiet)
      fprintf (stderr, "diode-latency: %u viewer(s) subscribed\n",
          n_subscribed);
  }
}

static void
die (Conn * c, const gchar * why)
{
  if (!opt.quiet)
    fprintf (stderr, "diode-latency: %s connection: %s\n",
        c->kind == C_PUB ? "publisher" : c->kind == C_VIEW ? "viewer" :
        "receiver", why);
  c->st = S_DEAD;
  if (c->fd >= 0) {
    epoll_ctl (epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close (c->fd);
    c->fd = -1;
  }
  /* with several measuring viewers one lost viewer is a figure (reported,
   * left out of the positions), not the end of the run */
  if (c->kind == C_VIEW && opt.viewers > 1) {
    n_view_failed++;
    if (!c->subscribed)
      n_view_failed_early++;
    if (!view_fail_why)
      view_fail_why = g_strdup (why);
    maybe_start_measure ();
    return;
  }
  fatal = TRUE;
}

static void
set_events (Conn * c, guint32 ev)
{
  struct epoll_event e = { 0 };
  if (c->fd < 0 || c->events == ev)
    return;
  e.events = ev;
  e.data.ptr = c;
  if (epoll_ctl (epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
    c->events = ev;
}

static void
add_fd (Conn * c, int fd, guint32 ev)
{
  struct epoll_event e = { 0 };
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c->kind != C_PUB)
    setsockopt (fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  c->fd = fd;
  e.events = ev;
  e.data.ptr = c;
  epoll_ctl (epfd, EPOLL_CTL_ADD, fd, &e);
  c->events = ev;
  c->outq = g_byte_array_new ();
}

static gboolean
flush (Conn * c)
{
  while (c->outq->len > 0) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, c->outq->data, c->outq->len,
        &n, &err);
    if (st == DIODE_TLS_OK) {
      g_byte_array_remove_range (c->outq, 0, n);
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      set_events (c, EPOLLIN | EPOLLOUT);
      return TRUE;
    }
    die (c, err ? err->message : "send failed");
    g_clear_error (&err);
    return FALSE;
  }
  set_events (c, EPOLLIN);
  return TRUE;
}

static void
queue_frame (Conn * c, GBytes * f, DiodeMsgType type)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (f, &len);
  GError *err = NULL;

  if (!diode_session_sent (c->sess, type, 0, &err)) {
    die (c, err->message);
    g_error_free (err);
    g_bytes_unref (f);
    return;
  }
  g_byte_array_append (c->outq, d, len);
  g_bytes_unref (f);
  c->last_sent_ns = now_ns ();
  flush (c);
}

/* Keepalive (protocol section 11): send something at least every K ms; a
 * viewer has nothing else to say, so it PINGs at K/2. */
static void
keepalive (Conn * c)
{
  if (c->st != S_ACTIVE || c->keepalive_ms == 0 || !c->sess)
    return;
  if (now_ns () - c->last_sent_ns > (gint64) c->keepalive_ms * 500000)
    queue_frame (c, diode_msg_encode_ping (++c->ping_token), DIODE_MSG_PING);
}

static void
start_client (Conn * c, Kind kind)
{
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const struct sockaddr_in *to = kind == C_VIEW && opt.view_port ? &dst_view :
      &dst;
  if (fd < 0) {
    c->kind = kind;
    die (c, "socket() failed (fd limit?)");
    return;
  }
  c->kind = kind;
  c->st = S_CONNECTING;
  add_fd (c, fd, EPOLLOUT);
  if (connect (fd, (const struct sockaddr *) to, sizeof *to) < 0
      && errno != EINPROGRESS)
    die (c, g_strerror (errno));
}

static void
send_media (Conn * c)
{
  guint32 flags = (c->frames_sent % opt.gop == 0) ? DIODE_MEDIA_KEYFRAME : 0;
  guint64 pts = (guint64) (c->frames_sent * (1e9 / opt.fps));
  gint64 t;
  guint64 seq;

  if (c->st != S_ACTIVE || (t_end_ns && now_ns () >= t_end_ns))
    return;
  seq = c->next_seq++;
  diode_msg_write_media_prefix (frame_buf, seq, pts, DIODE_TIME_NONE,
      (guint64) (1e9 / opt.fps), DIODE_TIME_NONE, DIODE_TIME_NONE, flags,
      opt.size);
  memcpy (frame_buf + DIODE_MEDIA_PREFIX_SIZE + 8, &seq, 8);
  t = now_ns ();
  memcpy (frame_buf + DIODE_MEDIA_PREFIX_SIZE, &t, 8);
  if (c == &pubs[0] && t_measure_ns && t >= t_measure_ns && !seq0)
    seq0 = seq;
  c->frames_sent++;
  frames_sent++;
  g_byte_array_append (c->outq, frame_buf, frame_len);
  c->last_sent_ns = t;
  flush (c);
}

static void
on_media (Conn * c, DiodeMsg * m, gint64 now)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (m->payload, &len);
  gint64 sent;
  guint64 seq;

  if (len < 16)
    return;
  memcpy (&sent, d, 8);
  memcpy (&seq, d + 8, 8);
  frames_recv++;
  if (c->last_seq && seq > c->last_seq + 1 && sent >= t_measure_ns)
    frames_lost += seq - c->last_seq - 1;
  c->last_seq = seq;
  if (c->idx == 0) {
    if (t_kill_ns && !t_first_after_kill_ns && seq > seq_at_kill) {
      t_first_after_kill_ns = now;
      if (seq > seq_at_kill + 1)
        lost_after_kill = seq - seq_at_kill - 1;
    }
    last_seq_seen = seq;
  }
  if (t_measure_ns && sent >= t_measure_ns && (!t_end_ns || sent < t_end_ns)) {
    double ms = (now - sent) / 1e6;
    g_array_append_val (samples, ms);
    if (seq0 && seq >= seq0 && seq - seq0 < max_frames)
      arrivals[(seq - seq0) * n_cols + c->idx] = (float) ms;
  }
}

static void
handle (Conn * c, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      c->keepalive_ms = m->keepalive_ms;
      c->version = m->version;
      if (c->kind == C_PUB && opt.record) {
        DiodePublishArgs a = { 0 };

        if (c->version < DIODE_PROTOCOL_VERSION_STORE) {
          die (c, "--record: the relay speaks no protocol version 3");
          break;
        }
        a.stream = c->stream;
        a.access = DIODE_ACCESS_PUBLIC;
        a.pubflags = DIODE_PUBLISH_RECORD;
        c->st = S_REQUEST;
        queue_frame (c, diode_msg_encode_publish_args (&a, c->version,
                DIODE_ROLE_PUBLISHER), DIODE_MSG_PUBLISH);
      } else if (c->kind == C_PUB) {
        c->st = S_REQUEST;
        queue_frame (c, diode_msg_encode_publish (c->stream),
            DIODE_MSG_PUBLISH);
      } else {
        c->st = S_REQUEST;
        queue_frame (c, diode_msg_encode_subscribe (pubs[0].stream, 0, 10000),
            DIODE_MSG_SUBSCRIBE);
      }
      break;
    case DIODE_MSG_PUBLISH_OK:
      c->next_seq = m->seq ? m->seq : 1;
      c->st = S_ACTIVE;
      queue_frame (c, diode_msg_encode_caps ("application/x-diode-latency"),
          DIODE_MSG_CAPS);
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      c->st = S_ACTIVE;
      c->subscribed = TRUE;
      n_subscribed++;
      maybe_start_measure ();
      break;
    case DIODE_MSG_HELLO:     /* --direct receiver plays the relay */
      queue_frame (c, diode_msg_encode_welcome (DIODE_PROTOCOL_VERSION, 0,
              "diode-latency"), DIODE_MSG_WELCOME);
      break;
    case DIODE_MSG_PUBLISH:
      queue_frame (c, diode_msg_encode_publish_ok (m->stream, 1),
          DIODE_MSG_PUBLISH_OK);
      c->st = S_ACTIVE;
      t_measure_ns = now_ns () + (gint64) (opt.warmup * 1e9);
      break;
    case DIODE_MSG_MEDIA:
      if (c->kind != C_PUB)
        on_media (c, m, t_recv_ns);
      break;
    case DIODE_MSG_PING:
      queue_frame (c, diode_msg_encode_pong (m->token), DIODE_MSG_PONG);
      break;
    case DIODE_MSG_ERROR:
      die (c, m->error_text ? m->error_text : "ERROR from peer");
      break;
    default:
      break;
  }
}

static void
do_read (Conn * c)
{
  for (;;) {
    gsize n = 0;
    GError *err = NULL;
    gint64 stamp = c->kind != C_PUB && t_measure_ns ? arrival_stamp (c) : 0;
    DiodeTlsStatus st = diode_tls_recv (c->tls, rbuf, RBUF_SIZE, &n, &err);
    if (st == DIODE_TLS_OK) {
      DiodeMsg m;
      DiodeSessionResult r;

      /* receive time: the kernel's, else when the bytes came out of TLS */
      if (stamp)
        c->stamp_ns = stamp;
      t_recv_ns = c->stamp_ns ? c->stamp_ns : now_ns ();
      stamps_kernel += c->stamp_ns != 0;
      stamps_read += c->stamp_ns == 0;
      diode_session_feed (c->sess, rbuf, n);
      while ((r = diode_session_next (c->sess, &m, &err)) ==
          DIODE_SESSION_MESSAGE) {
        handle (c, &m);
        diode_msg_clear (&m);
        if (c->st == S_DEAD)
          return;
      }
      if (r == DIODE_SESSION_ERROR) {
        die (c, err->message);
        g_error_free (err);
        return;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    die (c, err ? err->message : "closed");
    g_clear_error (&err);
    return;
  }
}

static void
handshake (Conn * c)
{
  GError *err = NULL;
  DiodeTlsStatus st = diode_tls_handshake (c->tls, &err);
  if (st == DIODE_TLS_AGAIN) {
    set_events (c, diode_tls_wants_write (c->tls) ? EPOLLOUT : EPOLLIN);
    return;
  }
  if (st != DIODE_TLS_OK) {
    die (c, err ? err->message : "handshake failed");
    g_clear_error (&err);
    return;
  }
  if (c->kind == C_RECV) {
    c->sess = diode_session_new (DIODE_SESSION_RELAY_END);
    c->st = S_WELCOME;
    set_events (c, EPOLLIN);
    return;
  }
  if (c->kind == C_VIEW && opt.view_port) {
    if (opt.view_relay_id && g_ascii_strcasecmp (opt.view_relay_id,
            diode_tls_get_peer_address (c->tls)) != 0) {
      die (c, "view-relay-id mismatch");
      return;
    }
  } else if (opt.relay_id && g_ascii_strcasecmp (opt.relay_id,
          diode_tls_get_peer_address (c->tls)) != 0) {
    die (c, "relay-id mismatch");
    return;
  }
  c->sess = diode_session_new (DIODE_SESSION_CLIENT_END);
  c->st = S_WELCOME;
  {
    /* --record needs version 3 (PUBLISH's pubflags); the session must know
     * what the HELLO offered to accept the relay's choice */
    guint16 vmax = opt.record ? DIODE_PROTOCOL_VERSION_MAX :
        DIODE_PROTOCOL_VERSION;
    DiodeRole role = c->kind == C_PUB ? DIODE_ROLE_PUBLISHER :
        DIODE_ROLE_VIEWER;
    GBytes *f = diode_msg_encode_hello (DIODE_PROTOCOL_VERSION, vmax, role,
        "diode-latency");

    diode_session_sent_hello (c->sess, DIODE_PROTOCOL_VERSION, vmax, role,
        NULL);
    g_byte_array_append (c->outq, g_bytes_get_data (f, NULL),
        g_bytes_get_size (f));
    g_bytes_unref (f);
    c->last_sent_ns = now_ns ();
    flush (c);
  }
}

static void
on_event (Conn * c, guint32 ev)
{
  GError *err = NULL;

  switch (c->st) {
    case S_CONNECTING:{
      int e = 0;
      socklen_t l = sizeof e;
      getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
      if (e) {
        die (c, g_strerror (e));
        return;
      }
      c->tls = diode_tls_new_client (c->fd, identity, NULL, &err);
      if (!c->tls) {
        die (c, err->message);
        g_error_free (err);
        return;
      }
      c->st = S_HANDSHAKE;
      handshake (c);
      break;
    }
    case S_HANDSHAKE:
      handshake (c);
      break;
    case S_DEAD:
      break;
    default:
      if ((ev & EPOLLOUT) && !flush (c))
        return;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        do_read (c);
      break;
  }
}

static void
accept_one (void)
{
  GError *err = NULL;
  int fd = accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0 || recvc.fd >= 0) {
    if (fd >= 0)
      close (fd);
    return;
  }
  recvc.kind = C_RECV;
  add_fd (&recvc, fd, EPOLLIN);
  recvc.tls = diode_tls_new_server (fd, identity, &err);
  if (!recvc.tls) {
    die (&recvc, err->message);
    g_error_free (err);
    return;
  }
  recvc.st = S_HANDSHAKE;
  handshake (&recvc);
}

static int
cmp_dbl (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
pct (GArray * a, double p)
{
  guint k;
  if (a->len == 0)
    return NAN;
  k = (guint) ceil (p / 100.0 * a->len);
  if (k < 1)
    k = 1;
  return g_array_index (a, double, k - 1);
}

static void
jnum (GString * s, const gchar * k, double v, gboolean last)
{
  if (isnan (v))
    g_string_append_printf (s, "\"%s\":null%s", k, last ? "" : ",");
  else
    g_string_append_printf (s, "\"%s\":%.4f%s", k, v, last ? "" : ",");
}

static gdouble
self_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int
cmp_flt (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return x < y ? -1 : x > y;
}

static void
jpcts (GString * s, const gchar * k, GArray * a)
{
  g_array_sort (a, cmp_dbl);
  g_string_append_printf (s, ",\"%s\":{", k);
  jnum (s, "p50", pct (a, 50), FALSE);
  jnum (s, "p90", pct (a, 90), FALSE);
  jnum (s, "p99", pct (a, 99), FALSE);
  jnum (s, "max", a->len ? g_array_index (a, double, a->len - 1) : NAN, TRUE);
  g_string_append (s, "}");
}

/* Per frame: the first, the median (nearest rank) and the last arrival
 * across the viewers, over the frames that reached every viewer. */
static void
add_positions (GString * s)
{
  GArray *first = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *median = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *last = g_array_new (FALSE, FALSE, sizeof (double));
  float *row = g_new (float, n_cols);
  guint incomplete = 0;

  guint alive = 0;

  for (guint i = 0; i < n_cols; i++)
    alive += !opt.direct && views[i].st == S_DEAD ? 0 : 1;
  for (guint f = 0; f < max_frames; f++) {
    guint got = 0;
    double v;

    for (guint i = 0; i < n_cols; i++)
      if ((opt.direct || views[i].st != S_DEAD)
          && !isnan (arrivals[(gsize) f * n_cols + i]))
        row[got++] = arrivals[(gsize) f * n_cols + i];
    if (got == 0)
      continue;
    if (got < alive) {
      incomplete++;
      continue;
    }
    qsort (row, got, sizeof (float), cmp_flt);
    v = row[0];
    g_array_append_val (first, v);
    v = row[(got - 1) / 2];
    g_array_append_val (median, v);
    v = row[got - 1];
    g_array_append_val (last, v);
  }
  g_string_append_printf (s, ",\"viewers\":%u,\"viewers_failed\":%u,"
      "\"frames_complete\":%u,\"frames_incomplete\":%u", n_cols,
      n_view_failed, first->len, incomplete);
  if (view_fail_why) {
    g_string_append (s, ",\"viewer_failure\":\"");
    for (const gchar * p = view_fail_why; *p; p++)
      if (*p != '"' && *p != '\\' && (guchar) * p >= 0x20)
        g_string_append_c (s, *p);
    g_string_append (s, "\"");
  }
  /* this process's CPU over the window: how busy the one thread that reads
   * every viewer was (the "last" figures include its queueing) */
  g_string_append (s, ",");
  jnum (s, "self_cpu_s", self_cpu0 >= 0 && self_cpu1 >= 0 ?
      self_cpu1 - self_cpu0 : NAN, FALSE);
  jnum (s, "window_s", opt.duration, FALSE);
  g_string_append_printf (s, "\"reads_kernel_stamped\":%" G_GUINT64_FORMAT
      ",\"reads_unstamped\":%" G_GUINT64_FORMAT, stamps_kernel, stamps_read);
  jpcts (s, "first_ms", first);
  jpcts (s, "median_ms", median);
  jpcts (s, "last_ms", last);
  g_array_free (first, TRUE);
  g_array_free (median, TRUE);
  g_array_free (last, TRUE);
  g_free (row);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opt.host, "Relay host (127.0.0.1)",
        "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_INT, &opt.port, "Relay port", "PORT"},
    {"direct", 0, 0, G_OPTION_ARG_NONE, &opt.direct,
        "No relay: publish straight to an in-process TLS receiver", NULL},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &opt.stream,
        "Stream name (default lat)", "NAME"},
    {"fps", 0, 0, G_OPTION_ARG_DOUBLE, &opt.fps, "Frames per second (30)",
        "FPS"},
    {"size", 0, 0, G_OPTION_ARG_INT, &opt.size, "Payload bytes (16384)", "N"},
    {"gop", 0, 0, G_OPTION_ARG_INT, &opt.gop, "Keyframe every N frames (60)",
        "N"},
    {"viewer-delay", 0, 0, G_OPTION_ARG_DOUBLE, &opt.viewer_delay,
        "Seconds between publishing and the viewer's connect", "S"},
    {"warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &opt.warmup,
        "Ignore frames sent within S of the subscription (2)", "S"},
    {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt.duration,
        "Measurement time (30)", "S"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &opt.relay_id,
        "Expected relay address", "0xADDR"},
    {"view-port", 0, 0, G_OPTION_ARG_INT, &opt.view_port,
        "The viewer subscribes at this relay (default: --port)", "PORT"},
    {"view-relay-id", 0, 0, G_OPTION_ARG_STRING, &opt.view_relay_id,
        "Expected address of the --view-port relay", "0xADDR"},
    {"kill-pid", 0, 0, G_OPTION_ARG_INT, &opt.kill_pid,
        "SIGKILL this process at --kill-at and report the fail-over", "PID"},
    {"kill-at", 0, 0, G_OPTION_ARG_DOUBLE, &opt.kill_at,
        "Seconds after the start (default: viewer-delay + warmup + 1)", "S"},
    {"publishers", 0, 0, G_OPTION_ARG_INT, &opt.publishers,
        "Publishers (1); more than 1: streams NAME-1 .. NAME-N", "N"},
    {"record", 0, 0, G_OPTION_ARG_NONE, &opt.record,
        "Publish with the RECORD flag (protocol version 3)", NULL},
    {"viewers", 'n', 0, G_OPTION_ARG_INT, &opt.viewers,
        "Measuring viewers (1), all in this process", "N"},
    {"viewer-ramp", 0, 0, G_OPTION_ARG_DOUBLE, &opt.viewer_ramp,
        "Viewers connected per second (250; 0: all at once)", "PER_S"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt.quiet, "No progress", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- one-hop latency probe");
  GError *err = NULL;
  gint64 t0, t_view = 0;
  gint next_view = 0;
  struct itimerspec its = { 0 };
  struct epoll_event evs[256];
  Conn timer_tag, listen_tag;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "diode-latency: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if ((!opt.direct && (opt.port <= 0 || opt.port > 65535)) || opt.fps <= 0
      || opt.fps > 1000 || opt.size < 16 || opt.size > 4 * 1024 * 1024
      || opt.gop < 1 || opt.publishers < 1 || opt.publishers > 10000
      || (opt.direct && opt.publishers > 1) || opt.viewers < 1
      || opt.viewers > 20000 || (opt.direct && opt.viewers > 1)
      || opt.viewer_delay + opt.warmup + opt.duration > MAX_RUN_S) {
    fprintf (stderr, "diode-latency: bad options (see --help)\n");
    return 2;
  }
  if (!opt.stream)
    opt.stream = g_strdup ("lat");
  identity = diode_identity_load_or_create (NULL, &err);
  if (!identity) {
    fprintf (stderr, "diode-latency: %s\n", err->message);
    return 1;
  }
  epfd = epoll_create1 (EPOLL_CLOEXEC);
  rbuf = g_malloc (RBUF_SIZE);
  peek_buf = g_malloc (PEEK_MAX);
  samples = g_array_new (FALSE, FALSE, sizeof (double));
  frame_len = DIODE_MEDIA_PREFIX_SIZE + opt.size;
  frame_buf = g_malloc (frame_len);
  for (gsize i = 0; i < frame_len; i++)
    frame_buf[i] = (guint8) (i * 131 + 7);
  pubs = g_new0 (Conn, opt.publishers);
  for (gint i = 0; i < opt.publishers; i++) {
    pubs[i].fd = -1;
    pubs[i].stream = opt.publishers == 1 ? g_strdup (opt.stream) :
        g_strdup_printf ("%s-%d", opt.stream, i + 1);
  }
  views = g_new0 (Conn, opt.viewers);
  for (gint i = 0; i < opt.viewers; i++) {
    views[i].fd = -1;
    views[i].idx = (guint) i;
  }
  recvc.fd = -1;
  n_cols = (guint) opt.viewers;
  max_frames = (guint) (opt.duration * opt.fps) + 2 * (guint) opt.fps + 16;
  arrivals = g_new (float, (gsize) max_frames * n_cols);
  for (gsize i = 0; i < (gsize) max_frames * n_cols; i++)
    arrivals[i] = NAN;
  {
    struct rlimit rl;
    rlim_t need = (rlim_t) opt.viewers + opt.publishers + 64;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
      rl.rlim_cur = MIN (need, rl.rlim_max);
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  }

  memset (&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  if (inet_pton (AF_INET, opt.host ? opt.host : "127.0.0.1",
          &dst.sin_addr) != 1) {
    fprintf (stderr, "diode-latency: --host must be an IPv4 address\n");
    return 2;
  }
  if (opt.direct) {
    struct sockaddr_in a = { 0 };
    socklen_t l = sizeof a;
    struct epoll_event e = { 0 };
    listen_fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
        0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (listen_fd, (struct sockaddr *) &a, sizeof a) < 0
        || listen (listen_fd, 16) < 0) {
      perror ("diode-latency: listen");
      return 1;
    }
    getsockname (listen_fd, (struct sockaddr *) &a, &l);
    dst.sin_port = a.sin_port;
    listen_tag.kind = C_RECV;
    listen_tag.fd = -2;
    e.events = EPOLLIN;
    e.data.ptr = &listen_tag;
    epoll_ctl (epfd, EPOLL_CTL_ADD, listen_fd, &e);
  } else {
    dst.sin_port = htons (opt.port);
  }
  dst_view = dst;
  if (opt.view_port > 0 && opt.view_port <= 65535)
    dst_view.sin_port = htons (opt.view_port);
  if (opt.kill_pid && opt.kill_at <= 0)
    opt.kill_at = opt.viewer_delay + opt.warmup + 1;

  timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  its.it_interval.tv_sec = 0;
  its.it_interval.tv_nsec = (long) (1e9 / opt.fps);
  its.it_value = its.it_interval;
  timerfd_settime (timer_fd, 0, &its, NULL);
  {
    struct epoll_event e = { 0 };
    timer_tag.fd = -3;
    e.events = EPOLLIN;
    e.data.ptr = &timer_tag;
    epoll_ctl (epfd, EPOLL_CTL_ADD, timer_fd, &e);
  }

  for (gint i = 0; i < opt.publishers; i++)
    start_client (&pubs[i], C_PUB);
  t0 = now_ns ();
  t_view = t0 + (gint64) (opt.viewer_delay * 1e9);

  while (!fatal) {
    gint64 now = now_ns ();
    int n;

    /* the viewers connect at --viewer-ramp per second: a thousand TLS
     * handshakes at once would keep this one thread (and the relay) from
     * the keepalives of those already subscribed */
    while (!opt.direct && next_view < opt.viewers && now >= t_view
        && pubs[0].st == S_ACTIVE && !fatal
        && (opt.viewer_ramp <= 0 || now >= t_view +
            (gint64) (next_view / opt.viewer_ramp * 1e9)))
      start_client (&views[next_view++], C_VIEW);
    if (opt.kill_pid > 0 && !t_kill_ns && now - t0 >= (gint64) (opt.kill_at
            * 1e9)) {
      /* The last frame received so far is the last one before the kill. */
      seq_at_kill = last_seq_seen;
      t_kill_ns = now_ns ();
      if (kill (opt.kill_pid, SIGKILL) < 0) {
        fprintf (stderr, "diode-latency: kill %d: %s\n", opt.kill_pid,
            g_strerror (errno));
        fatal = TRUE;
        break;
      }
    }
    if (t_measure_ns && !t_end_ns)
      t_end_ns = t_measure_ns + (gint64) (opt.duration * 1e9);
    if (t_measure_ns && self_cpu0 < 0 && now >= t_measure_ns)
      self_cpu0 = self_cpu_s ();
    if (t_end_ns && self_cpu1 < 0 && now >= t_end_ns)
      self_cpu1 = self_cpu_s ();
    /* the publisher stops at t_end_ns; 1 s more for the frames in flight */
    if (t_end_ns && now >= t_end_ns + 1000000000)
      break;
    if (now - t0 > (gint64) (opt.viewer_delay + opt.warmup + opt.duration +
            (opt.viewer_ramp > 0 ? opt.viewers / opt.viewer_ramp : 0) +
            30) * 1000000000) {
      fprintf (stderr, "diode-latency: time limit reached\n");
      fatal = TRUE;
      break;
    }
    n = epoll_wait (epfd, evs, G_N_ELEMENTS (evs),
        !opt.direct && next_view < opt.viewers ? 5 : 50);
    for (int k = 0; k < n && !fatal; k++) {
      Conn *c = evs[k].data.ptr;
      if (c == &timer_tag) {
        guint64 exp = 0;
        if (read (timer_fd, &exp, sizeof exp) == sizeof exp)
          while (exp-- > 0)
            for (gint i = 0; i < opt.publishers; i++)
              send_media (&pubs[i]);
        for (gint i = 0; i < opt.publishers; i++)
          keepalive (&pubs[i]);
        for (gint i = 0; i < opt.viewers; i++)
          keepalive (&views[i]);
      } else if (c == &listen_tag) {
        accept_one ();
      } else {
        on_event (c, evs[k].events);
      }
      /* a turn over many busy viewers can be long: keep alive meanwhile */
      if (k % 32 == 31)
        for (gint i = 0; i < opt.viewers; i++)
          keepalive (&views[i]);
    }
  }

  g_array_sort (samples, cmp_dbl);
  {
    GString *s = g_string_new ("{");
    double sum = 0;
    for (guint i = 0; i < samples->len; i++)
      sum += g_array_index (samples, double, i);
    g_string_append_printf (s, "\"mode\":\"%s\",\"ok\":%s,\"frame_bytes\":%d,"
        "\"fps\":%g,\"frames_sent\":%" G_GUINT64_FORMAT ",\"frames_received\":%"
        G_GUINT64_FORMAT ",\"frames_lost\":%" G_GUINT64_FORMAT
        ",\"samples\":%u,\"latency_ms\":{", opt.direct ? "direct" : "relay",
        fatal ? "false" : "true", opt.size, opt.fps, frames_sent, frames_recv,
        frames_lost, samples->len);
    jnum (s, "mean", samples->len ? sum / samples->len : NAN, FALSE);
    jnum (s, "p50", pct (samples, 50), FALSE);
    jnum (s, "p90", pct (samples, 90), FALSE);
    jnum (s, "p99", pct (samples, 99), FALSE);
    jnum (s, "max", samples->len ? g_array_index (samples, double,
            samples->len - 1) : NAN, TRUE);
    g_string_append (s, "}");
    add_positions (s);
    if (opt.kill_pid > 0) {
      g_string_append (s, ",\"failover\":{");
      jnum (s, "gap_ms", t_first_after_kill_ns ?
          (t_first_after_kill_ns - t_kill_ns) / 1e6 : NAN, FALSE);
      g_string_append_printf (s, "\"seq_at_kill\":%" G_GUINT64_FORMAT
          ",\"lost\":%" G_GUINT64_FORMAT "}", seq_at_kill, lost_after_kill);
    }
    g_string_append (s, "}");
    printf ("%s\n", s->str);
    g_string_free (s, TRUE);
  }
  for (gint i = 0; i < opt.publishers; i++)
    if (pubs[i].tls)
      diode_tls_bye (pubs[i].tls);
  for (gint i = 0; i < opt.viewers; i++)
    if (views[i].tls)
      diode_tls_bye (views[i].tls);
  return fatal ? 1 : 0;
}
