/* gst-diode — diode-load: N viewers in one process, for the benchmarks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-load --tls --port P [--stream NAME] -n 1000 --ramp 250 \
 *              --warmup 3 --duration 20 --expect-bps 4000000 --server-pid PID
 *   diode-load --tcp --port P -n 1000 ...          (tcpserversink anchor)
 *   diode-load --tls --port P --stream rec --streams 100 -n 200 ...
 *              viewer i watches rec-(i mod 100 + 1) (bench/store.sh)
 *
 * One thread, one epoll set (level-triggered), every socket non-blocking.
 *
 * --tls: each viewer is a real diode client: TCP connect, TLS 1.3 (DiodeTls
 *   client, one DiodeIdentity shared by every connection), HELLO as VIEWER,
 *   SUBSCRIBE (start at the latest keyframe, wait for the stream), then it
 *   reads frames through its own DiodeSession (CLIENT_END), counting bytes,
 *   MEDIA frames and keyframes, and answers PING with PONG.
 * --tcp: plain TCP reader (tcpserversink); counts bytes and scans the H.264
 *   byte-stream for the first IDR NAL after an SPS and a PPS.
 *
 * Timeline: [--pre S: server idle sample] -> connect phase (ramp or spread)
 * -> --warmup S -> measurement window of --duration S -> [--linger S, still
 * connected] -> JSON on stdout.
 *
 * Per viewer "time to first keyframe" runs from its connect() call to its
 * first decodable frame: for diode the first MEDIA with KEYFRAME after a CAPS,
 * for tcp the first IDR NAL after SPS and PPS.
 *
 * With --server-pid the tool samples that process's CPU time
 * (/proc/PID/stat utime+stime) and VmRSS exactly at the window edges, so the
 * scripts need no clock alignment.
 */
#define _GNU_SOURCE
#include <glib.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "diode-identity.h"
#include "diode-tls.h"
#include "diode-msg.h"
#include "diode-session.h"

#define RBUF_SIZE       (256 * 1024)
#define MAX_EVENTS      512
#define AGENT           "diode-load/0.1"
#define MAX_LOOP_S      3600          /* hard bound on any run */

typedef enum {
  V_IDLE,            /* not started yet */
  V_CONNECTING,      /* TCP connect in progress */
  V_HANDSHAKE,       /* TLS handshake */
  V_WELCOME,         /* HELLO sent, waiting WELCOME */
  V_SUBSCRIBING,     /* SUBSCRIBE sent */
  V_STREAMING,       /* subscribed (tls) / connected (tcp) */
  V_DEAD,
} VState;

typedef struct {
  int fd;
  guint idx;
  VState st;
  guint32 events;
  gint64 t_start_ns;            /* planned / actual connect() time */
  gint64 t_ready_ns;            /* subscribed (tls) / connected (tcp) */
  gint64 t_key_ns;              /* first decodable frame, 0 = none yet */
  gboolean was_ready;
  gboolean got_caps;
  guint64 bytes;
  guint64 bytes_win0, bytes_win1;
  gboolean win0_alive;
  guint64 media, keyframes;
  /* tls */
  DiodeTls *tls;
  DiodeSession *sess;
  GByteArray *outq;
  gint64 t_ping_ns;             /* last PING we sent (keepalive) */
  guint64 ping_token;
  /* tcp H.264 scan */
  guint zeros;
  gboolean want_nal_header, sps, pps;
  const gchar *why;             /* failure reason (static string) */
} Viewer;

typedef enum { PH_PRE, PH_CONNECT, PH_WARMUP, PH_WINDOW, PH_LINGER, PH_DONE } Phase;

static struct {
  gboolean tls, tcp, quiet;
  gchar *host;
  gint port;
  gchar *stream;
  gint streams;
  gint n;
  gdouble duration, warmup, ramp, spread, pre, connect_timeout, linger;
  gchar *relay_id;
  gchar *identity;
  gdouble expect_bps;
  gint server_pid;
  guint wait_ms;
  guint64 seed;
} opt = {
  .host = NULL, .port = 0, .n = 1, .duration = 10, .warmup = 3, .ramp = 0,
  .spread = 0, .pre = 0, .connect_timeout = 30, .wait_ms = 10000,
};

static int epfd = -1;
static Viewer *viewers;
static DiodeIdentity *identity;
static struct sockaddr_storage dst;
static socklen_t dst_len;
static guint8 *rbuf;
static GHashTable *fail_reasons;   /* reason -> count */
static guint n_started, n_settled; /* settled = ready or dead */

static gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
logf_ (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);
static void
logf_ (const gchar * fmt, ...)
{
  va_list ap;
  if (opt.quiet)
    return;
  va_start (ap, fmt);
  fprintf (stderr, "diode-load: ");
  vfprintf (stderr, fmt, ap);
  fprintf (stderr, "\n");
  va_end (ap);
}

/* ------------------------------------------------------------------------ */
/* /proc sampling of the server */

typedef struct {
  gboolean ok;
  gdouble cpu_s;
  guint64 rss_kb;
} ProcSample;

static ProcSample
sample_proc (int pid)
{
  ProcSample s = { 0 };
  gchar path[64], *txt = NULL, *p;
  gchar **tok;

  if (pid <= 0)
    return s;
  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &txt, NULL, NULL))
    return s;
  p = strrchr (txt, ')');
  if (p) {
    tok = g_strsplit (p + 2, " ", 0);
    /* after ") ": field 3 is tok[0]; utime = field 14, stime = field 15 */
    if (g_strv_length (tok) > 13) {
      double tck = (double) sysconf (_SC_CLK_TCK);
      s.cpu_s = (g_ascii_strtoull (tok[11], NULL, 10) +
          g_ascii_strtoull (tok[12], NULL, 10)) / tck;
      s.ok = TRUE;
    }
    g_strfreev (tok);
  }
  g_free (txt);
  g_snprintf (path, sizeof path, "/proc/%d/status", pid);
  if (g_file_get_contents (path, &txt, NULL, NULL)) {
    p = strstr (txt, "VmRSS:");
    if (p)
      s.rss_kb = g_ascii_strtoull (p + 6, NULL, 10);
    g_free (txt);
  }
  return s;
}

/* CPU seconds spent by the whole machine (every core, every process) so
 * far: the background load during a window is this minus ours. */
static gdouble
machine_cpu_s (void)
{
  gchar *txt = NULL;
  gdouble r = 0;
  if (g_file_get_contents ("/proc/stat", &txt, NULL, NULL)
      && g_str_has_prefix (txt, "cpu ")) {
    guint64 v[8] = { 0 };
    if (sscanf (txt + 4, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
            G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
            G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
            &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
      /* user nice system (idle iowait) irq softirq steal */
      r = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
          (double) sysconf (_SC_CLK_TCK);
  }
  g_free (txt);
  return r;
}

static gdouble
self_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------------ */
/* viewers */

static void
set_events (Viewer * v, guint32 ev)
{
  struct epoll_event e = { 0 };
  if (v->fd < 0 || v->events == ev)
    return;
  e.events = ev;
  e.data.ptr = v;
  if (epoll_ctl (epfd, EPOLL_CTL_MOD, v->fd, &e) == 0)
    v->events = ev;
}

static void
viewer_fail (Viewer * v, const gchar * why)
{
  if (v->st == V_DEAD)
    return;
  if (!v->was_ready)
    n_settled++;
  v->why = why;
  g_hash_table_insert (fail_reasons, (gpointer) why,
      GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (fail_reasons,
                  why)) + 1));
  v->st = V_DEAD;
  if (v->fd >= 0) {
    epoll_ctl (epfd, EPOLL_CTL_DEL, v->fd, NULL);
    close (v->fd);
    v->fd = -1;
  }
  g_clear_pointer (&v->tls, diode_tls_free);
  g_clear_pointer (&v->sess, diode_session_free);
  if (v->outq)
    g_byte_array_set_size (v->outq, 0);
}

static void
viewer_ready (Viewer * v)
{
  v->st = V_STREAMING;
  v->t_ready_ns = now_ns ();
  v->was_ready = TRUE;
  n_settled++;
}

/* TLS mode: push the queued plaintext; returns FALSE if the viewer died. */
static gboolean
tls_flush (Viewer * v)
{
  while (v->outq->len > 0) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (v->tls, v->outq->data, v->outq->len,
        &n, &err);
    if (st == DIODE_TLS_OK) {
      g_byte_array_remove_range (v->outq, 0, n);
      continue;
    }
    g_clear_error (&err);
    if (st == DIODE_TLS_AGAIN) {
      set_events (v, EPOLLIN | EPOLLOUT);
      return TRUE;
    }
    viewer_fail (v, "tls send failed");
    return FALSE;
  }
  set_events (v, EPOLLIN);
  return TRUE;
}

static gboolean
tls_queue (Viewer * v, GBytes * frame, DiodeMsgType type)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);
  diode_session_sent (v->sess, type, 0, NULL);
  g_byte_array_append (v->outq, d, len);
  g_bytes_unref (frame);
  return tls_flush (v);
}

static void
handle_msg (Viewer * v, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      if (v->st == V_WELCOME) {
        /* --streams K: viewer i watches NAME-(i mod K + 1) */
        gchar *name = opt.streams > 1 ? g_strdup_printf ("%s-%u", opt.stream,
            v->idx % (guint) opt.streams + 1) : g_strdup (opt.stream);
        GBytes *sub = diode_msg_encode_subscribe (name, 0, opt.wait_ms);
        g_free (name);
        v->st = V_SUBSCRIBING;
        tls_queue (v, sub, DIODE_MSG_SUBSCRIBE);
      }
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      viewer_ready (v);
      break;
    case DIODE_MSG_CAPS:
      v->got_caps = TRUE;
      break;
    case DIODE_MSG_MEDIA:
      v->media++;
      /* Keepalive (protocol section 11): a viewer sends something at least
       * every keepalive period; media flowing in is a cheap clock for it. */
      if (now_ns () - v->t_ping_ns > 400 * G_GINT64_CONSTANT (1000000)) {
        v->t_ping_ns = now_ns ();
        tls_queue (v, diode_msg_encode_ping (++v->ping_token),
            DIODE_MSG_PING);
      }
      if (m->flags & DIODE_MEDIA_KEYFRAME) {
        v->keyframes++;
        if (v->got_caps && v->t_key_ns == 0)
          v->t_key_ns = now_ns ();
      }
      break;
    case DIODE_MSG_PING:
      tls_queue (v, diode_msg_encode_pong (m->token), DIODE_MSG_PONG);
      break;
    case DIODE_MSG_ERROR:
      viewer_fail (v, m->error_code == DIODE_ERR_SLOW_VIEWER ?
          "relay: ERROR 300 slow viewer" : m->error_code == DIODE_ERR_NOT_FOUND ?
          "relay: ERROR 100 not found" : "relay: ERROR");
      break;
    default:
      break;
  }
}

static void
tls_on_handshake_done (Viewer * v)
{
  if (opt.relay_id && g_ascii_strcasecmp (opt.relay_id,
          diode_tls_get_peer_address (v->tls)) != 0) {
    viewer_fail (v, "relay-id mismatch");
    return;
  }
  v->sess = diode_session_new (DIODE_SESSION_CLIENT_END);
  v->st = V_WELCOME;
  tls_queue (v, diode_msg_encode_hello (DIODE_PROTOCOL_VERSION,
          DIODE_PROTOCOL_VERSION, DIODE_ROLE_VIEWER, AGENT), DIODE_MSG_HELLO);
}

static void
tls_handshake_step (Viewer * v)
{
  GError *err = NULL;
  DiodeTlsStatus st = diode_tls_handshake (v->tls, &err);

  if (st == DIODE_TLS_OK) {
    tls_on_handshake_done (v);
  } else if (st == DIODE_TLS_AGAIN) {
    set_events (v, diode_tls_wants_write (v->tls) ? EPOLLOUT : EPOLLIN);
  } else {
    gchar *why = g_strdup_printf ("tls handshake: %s",
        err ? err->message : "failed");
    viewer_fail (v, g_intern_string (why));
    g_free (why);
  }
  g_clear_error (&err);
}

static void
tls_read (Viewer * v)
{
  for (;;) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (v->tls, rbuf, RBUF_SIZE, &n, &err);

    if (st == DIODE_TLS_OK) {
      DiodeMsg m;
      DiodeSessionResult r;

      v->bytes += n;
      diode_session_feed (v->sess, rbuf, n);
      while ((r = diode_session_next (v->sess, &m, &err)) ==
          DIODE_SESSION_MESSAGE) {
        handle_msg (v, &m);
        diode_msg_clear (&m);
        if (v->st == V_DEAD)
          return;
      }
      if (r == DIODE_SESSION_ERROR) {
        gchar *why = g_strdup_printf ("protocol: %s", err->message);
        g_clear_error (&err);
        viewer_fail (v, g_intern_string (why));
        g_free (why);
        return;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    if (st == DIODE_TLS_CLOSED) {
      viewer_fail (v, v->was_ready ? "closed by server" :
          "closed by server before SUBSCRIBE_OK");
    } else {
      gchar *why = g_strdup_printf ("tls receive: %s",
          err ? err->message : "failed");
      viewer_fail (v, g_intern_string (why));
      g_free (why);
    }
    g_clear_error (&err);
    return;
  }
}

/* Annex B scan: first IDR (type 5) after SPS (7) and PPS (8). */
static void
scan_h264 (Viewer * v, const guint8 * p, gsize n)
{
  gsize i;
  for (i = 0; i < n && v->t_key_ns == 0; i++) {
    guint8 b = p[i];
    if (v->want_nal_header) {
      guint t = b & 0x1f;
      v->want_nal_header = FALSE;
      if (t == 7)
        v->sps = TRUE;
      else if (t == 8)
        v->pps = TRUE;
      else if (t == 5 && v->sps && v->pps)
        v->t_key_ns = now_ns ();
    }
    if (b == 0) {
      v->zeros++;
    } else {
      if (b == 1 && v->zeros >= 2)
        v->want_nal_header = TRUE;
      v->zeros = 0;
    }
  }
}

static void
tcp_read (Viewer * v)
{
  for (;;) {
    ssize_t r = read (v->fd, rbuf, RBUF_SIZE);
    if (r > 0) {
      v->bytes += r;
      if (v->t_key_ns == 0)
        scan_h264 (v, rbuf, r);
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    viewer_fail (v, r == 0 ? "closed by server" : "read failed");
    return;
  }
}

static void
viewer_start (Viewer * v)
{
  struct epoll_event e = { 0 };
  int one = 1;
  int fd = socket (dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
      0);

  n_started++;
  v->t_start_ns = now_ns ();
  if (fd < 0) {
    viewer_fail (v, "socket() failed (fd limit?)");
    return;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  v->fd = fd;
  if (connect (fd, (struct sockaddr *) &dst, dst_len) < 0
      && errno != EINPROGRESS) {
    viewer_fail (v, "connect failed");
    return;
  }
  v->st = V_CONNECTING;
  e.events = EPOLLOUT;
  e.data.ptr = v;
  if (epoll_ctl (epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
    viewer_fail (v, "epoll_ctl failed");
    return;
  }
  v->events = EPOLLOUT;
}

static void
viewer_connected (Viewer * v)
{
  int err = 0;
  socklen_t l = sizeof err;

  getsockopt (v->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err != 0) {
    viewer_fail (v, err == ECONNREFUSED ? "connection refused" :
        "connect failed");
    return;
  }
  if (opt.tcp) {
    viewer_ready (v);
    set_events (v, EPOLLIN);
    return;
  }
  {
    GError *e = NULL;
    v->tls = diode_tls_new_client (v->fd, identity, NULL, &e);
    if (!v->tls) {
      logf_ ("%s", e->message);
      g_clear_error (&e);
      viewer_fail (v, "tls setup failed");
      return;
    }
  }
  v->outq = v->outq ? v->outq : g_byte_array_new ();
  v->st = V_HANDSHAKE;
  tls_handshake_step (v);
}

static void
viewer_event (Viewer * v, guint32 ev)
{
  switch (v->st) {
    case V_CONNECTING:
      viewer_connected (v);
      break;
    case V_HANDSHAKE:
      tls_handshake_step (v);
      break;
    case V_WELCOME:
    case V_SUBSCRIBING:
    case V_STREAMING:
      if (opt.tcp) {
        tcp_read (v);
        break;
      }
      if ((ev & EPOLLOUT) && v->outq->len > 0 && !tls_flush (v))
        break;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        tls_read (v);
      break;
    default:
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* statistics */

static int
cmp_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
}

/* Keepalive on a clock, as diodesrc does: a viewer the relay has not served
 * for a while (a crowd joining at once) must still say it is alive, or it is
 * closed as silent after three keepalive periods. At most every 100 ms. */
static void
keepalive_sweep (gint64 * t_sweep)
{
  gint64 t = now_ns ();
  guint i;

  if (!opt.tls || t - *t_sweep < 100 * G_GINT64_CONSTANT (1000000))
    return;
  *t_sweep = t;
  for (i = 0; i < (guint) opt.n; i++) {
    Viewer *v = &viewers[i];

    if ((v->st == V_SUBSCRIBING || v->st == V_STREAMING)
        && t - v->t_ping_ns > 400 * G_GINT64_CONSTANT (1000000)) {
      v->t_ping_ns = t;
      tls_queue (v, diode_msg_encode_ping (++v->ping_token), DIODE_MSG_PING);
    }
  }
}

static int
cmp_dbl (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* nearest-rank percentile of a sorted array */
static double
pct_d (const double *a, guint n, double p)
{
  guint k;
  if (n == 0)
    return NAN;
  k = (guint) ceil (p / 100.0 * n);
  if (k < 1)
    k = 1;
  return a[k - 1];
}

static void
json_num (GString * s, const gchar * key, double v, gboolean last)
{
  if (isnan (v))
    g_string_append_printf (s, "\"%s\":null%s", key, last ? "" : ",");
  else
    g_string_append_printf (s, "\"%s\":%.6g%s", key, v, last ? "" : ",");
}

/* ------------------------------------------------------------------------ */

static gboolean
resolve (void)
{
  struct addrinfo hints = { 0 }, *res = NULL;
  gchar port[16];
  hints.ai_socktype = SOCK_STREAM;
  g_snprintf (port, sizeof port, "%d", opt.port);
  if (getaddrinfo (opt.host, port, &hints, &res) != 0 || !res)
    return FALSE;
  memcpy (&dst, res->ai_addr, res->ai_addrlen);
  dst_len = res->ai_addrlen;
  freeaddrinfo (res);
  return TRUE;
}

static void
raise_nofile (guint need)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur >= need)
    return;
  rl.rlim_cur = MIN ((rlim_t) need, rl.rlim_max);
  if (setrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
    logf_ ("warning: RLIMIT_NOFILE is %lu, %u wanted: some viewers will fail",
        (unsigned long) rl.rlim_cur, need);
}

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"tls", 0, 0, G_OPTION_ARG_NONE, &opt.tls, "Diode viewers (TLS)", NULL},
    {"tcp", 0, 0, G_OPTION_ARG_NONE, &opt.tcp,
        "Plain TCP readers (tcpserversink)", NULL},
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opt.host,
        "Server host (default 127.0.0.1)", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_INT, &opt.port, "Server port", "PORT"},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &opt.stream,
        "Stream name (tls; default bench)", "NAME"},
    {"streams", 0, 0, G_OPTION_ARG_INT, &opt.streams,
        "Spread the viewers over K streams NAME-1 .. NAME-K (tls; 1)", "K"},
    {"viewers", 'n', 0, G_OPTION_ARG_INT, &opt.n, "Number of viewers", "N"},
    {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt.duration,
        "Measurement window (default 10)", "SECONDS"},
    {"warmup", 'w', 0, G_OPTION_ARG_DOUBLE, &opt.warmup,
        "Time between the end of the connect phase and the window (default 3)",
        "SECONDS"},
    {"ramp", 'r', 0, G_OPTION_ARG_DOUBLE, &opt.ramp,
        "Connections started per second (0: all at once)", "PER_SECOND"},
    {"spread", 0, 0, G_OPTION_ARG_DOUBLE, &opt.spread,
        "Start each viewer at a uniformly random moment in [0, SECONDS) "
          "(join measurement; overrides --ramp)", "SECONDS"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &opt.seed, "Random seed for --spread",
        "N"},
    {"connect-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt.connect_timeout,
        "Give up on viewers not connected this long after the last start "
          "(default 30)", "SECONDS"},
    {"linger", 0, 0, G_OPTION_ARG_DOUBLE, &opt.linger,
        "Keep the viewers connected this long after the window",
        "SECONDS"},
    {"pre", 0, 0, G_OPTION_ARG_DOUBLE, &opt.pre,
        "Sample the server's idle CPU for this long before connecting",
        "SECONDS"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &opt.relay_id,
        "Expected relay address (tls)", "0xADDR"},
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &opt.identity,
        "Key file shared by all viewers (default: XDG_CONFIG_HOME)", "FILE"},
    {"expect-bps", 'e', 0, G_OPTION_ARG_DOUBLE, &opt.expect_bps,
        "Stream bitrate: a viewer is at full rate if it got >= 95% of it "
          "over the window", "BITS_PER_S"},
    {"server-pid", 0, 0, G_OPTION_ARG_INT, &opt.server_pid,
        "Sample this process's CPU and RSS at the window edges", "PID"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &opt.quiet, "No progress on stderr",
        NULL},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  struct epoll_event evs[MAX_EVENTS];
  gint64 t0, t_phase, t_last_start = 0, t_sweep, *plan;
  Phase phase;
  guint next_start = 0, i;
  ProcSample pre0 = { 0 }, pre1 = { 0 }, w0 = { 0 }, w1 = { 0 };
  gdouble self0 = 0, self1 = 0, connect_phase_s = 0, mach0 = 0, mach1 = 0;
  gint64 t_win0 = 0, t_win1 = 0;

  ctx = g_option_context_new ("- open N diode (or TCP) viewers in one process");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "diode-load: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (opt.tls == opt.tcp || opt.streams < 0 || opt.streams > 100000
      || opt.port <= 0 || opt.port > 65535 || opt.n < 1
      || opt.duration < 0 || opt.warmup < 0 || opt.linger < 0
      || opt.linger + opt.duration + opt.warmup +
      opt.spread + opt.pre + opt.connect_timeout > MAX_LOOP_S) {
    fprintf (stderr, "diode-load: need exactly one of --tls/--tcp, --port, "
        "-n >= 1 and bounded times (see --help)\n");
    return 2;
  }
  if (!opt.host)
    opt.host = g_strdup ("127.0.0.1");
  if (!opt.stream)
    opt.stream = g_strdup ("bench");
  if (!resolve ()) {
    fprintf (stderr, "diode-load: cannot resolve %s\n", opt.host);
    return 2;
  }
  raise_nofile ((guint) opt.n + 64);
  if (opt.tls) {
    identity = diode_identity_load_or_create (opt.identity, &err);
    if (!identity) {
      fprintf (stderr, "diode-load: %s\n", err->message);
      return 1;
    }
  }

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  rbuf = g_malloc (RBUF_SIZE);
  fail_reasons = g_hash_table_new (g_str_hash, g_str_equal);
  viewers = g_new0 (Viewer, opt.n);
  plan = g_new0 (gint64, opt.n);
  for (i = 0; i < (guint) opt.n; i++) {
    viewers[i].fd = -1;
    viewers[i].idx = i;
  }

  t0 = now_ns ();
  t_sweep = t0;
  phase = PH_PRE;
  if (opt.pre > 0) {
    pre0 = sample_proc (opt.server_pid);
    logf_ ("sampling the idle server for %.1f s", opt.pre);
  }
  t_phase = t0 + (gint64) (opt.pre * 1e9);

  for (;;) {
    gint64 now = now_ns (), deadline;
    int n, timeout_ms;

    /* phase transitions */
    if (phase == PH_PRE && now >= t_phase) {
      GRand *rnd = g_rand_new_with_seed ((guint32) (opt.seed ? opt.seed :
              (guint64) now));
      pre1 = sample_proc (opt.server_pid);
      phase = PH_CONNECT;
      t_phase = now;
      for (i = 0; i < (guint) opt.n; i++) {
        if (opt.spread > 0)
          plan[i] = now + (gint64) (g_rand_double (rnd) * opt.spread * 1e9);
        else if (opt.ramp > 0)
          plan[i] = now + (gint64) (i / opt.ramp * 1e9);
        else
          plan[i] = now;
      }
      if (opt.spread > 0)
        qsort (plan, opt.n, sizeof (gint64), cmp_u64);
      g_rand_free (rnd);
      logf_ ("connecting %d %s viewers to %s:%d", opt.n,
          opt.tls ? "TLS" : "TCP", opt.host, opt.port);
    }
    if (phase == PH_CONNECT) {
      while (next_start < (guint) opt.n && plan[next_start] <= now) {
        viewer_start (&viewers[next_start]);
        next_start++;
        t_last_start = now;
      }
      if (next_start == (guint) opt.n && (n_settled >= (guint) opt.n ||
              now - t_last_start > (gint64) (opt.connect_timeout * 1e9))) {
        for (i = 0; i < (guint) opt.n; i++)
          if (!viewers[i].was_ready && viewers[i].st != V_DEAD)
            viewer_fail (&viewers[i],
                viewers[i].st == V_CONNECTING ? "timeout: in TCP connect" :
                viewers[i].st == V_HANDSHAKE ? "timeout: in TLS handshake" :
                viewers[i].st == V_WELCOME ? "timeout: waiting for WELCOME" :
                "timeout: waiting for SUBSCRIBE_OK");
        connect_phase_s = (now - t_phase) / 1e9;
        {
          guint nr = 0;
          for (i = 0; i < (guint) opt.n; i++)
            nr += viewers[i].was_ready;
          logf_ ("connect phase done in %.2f s: %u of %d ready",
              connect_phase_s, nr, opt.n);
        }
        phase = PH_WARMUP;
        t_phase = now + (gint64) (opt.warmup * 1e9);
      }
    }
    if (phase == PH_WARMUP && now >= t_phase) {
      for (i = 0; i < (guint) opt.n; i++) {
        viewers[i].bytes_win0 = viewers[i].bytes;
        viewers[i].win0_alive = viewers[i].st == V_STREAMING;
      }
      w0 = sample_proc (opt.server_pid);
      self0 = self_cpu_s ();
      mach0 = machine_cpu_s ();
      t_win0 = now;
      phase = PH_WINDOW;
      t_phase = now + (gint64) (opt.duration * 1e9);
      logf_ ("measuring for %.1f s", opt.duration);
    }
    if (phase == PH_WINDOW && now >= t_phase) {
      w1 = sample_proc (opt.server_pid);
      self1 = self_cpu_s ();
      mach1 = machine_cpu_s ();
      t_win1 = now;
      for (i = 0; i < (guint) opt.n; i++)
        viewers[i].bytes_win1 = viewers[i].bytes;
      phase = PH_LINGER;
      t_phase = now + (gint64) (opt.linger * 1e9);
    }
    if (phase == PH_LINGER && now >= t_phase)
      phase = PH_DONE;
    if (phase == PH_DONE)
      break;
    if (now - t0 > (gint64) MAX_LOOP_S * 1000000000) {
      logf_ ("hard time limit reached");
      break;
    }

    deadline = t_phase;
    if (phase == PH_CONNECT) {
      deadline = now + 100000000;
      if (next_start < (guint) opt.n && plan[next_start] < deadline)
        deadline = plan[next_start];
    }
    timeout_ms = deadline > now ? (int) ((deadline - now + 999999) / 1000000)
        : 0;
    if (timeout_ms > 100)
      timeout_ms = 100;
    n = epoll_wait (epfd, evs, MAX_EVENTS, timeout_ms);
    for (int k = 0; k < n; k++) {
      Viewer *v = evs[k].data.ptr;
      if (v->st != V_DEAD)
        viewer_event (v, evs[k].events);
      /* one turn over many busy viewers can take seconds: keep alive
       * between events too */
      if (k % 32 == 31)
        keepalive_sweep (&t_sweep);
    }
    keepalive_sweep (&t_sweep);
  }

  /* ---- report ---- */
  {
    guint ready = 0, failed = 0, alive_end = 0, full = 0, nk = 0, nw = 0;
    guint receiving = 0;
    guint64 *wb = g_new0 (guint64, opt.n), total_win = 0, total = 0;
    guint64 media = 0, keys = 0;
    double *ttfk = g_new0 (double, opt.n);
    double win_s = (t_win1 - t_win0) / 1e9;
    double need = opt.expect_bps > 0 ? 0.95 * opt.expect_bps / 8.0 * win_s : 0;
    GString *s = g_string_new ("{");
    GHashTableIter it;
    gpointer k, val;
    gboolean first = TRUE;

    for (i = 0; i < (guint) opt.n; i++) {
      Viewer *v = &viewers[i];
      guint64 b = v->win0_alive ? v->bytes_win1 - v->bytes_win0 : 0;
      if (v->was_ready)
        ready++;
      else
        failed++;
      if (v->st == V_STREAMING)
        alive_end++;
      if (v->was_ready && v->bytes > 0)
        receiving++;
      total += v->bytes;
      media += v->media;
      keys += v->keyframes;
      if (v->was_ready) {
        wb[nw++] = b;
        total_win += b;
        if (need > 0 && b >= need)
          full++;
      }
      if (v->t_key_ns)
        ttfk[nk++] = (v->t_key_ns - v->t_start_ns) / 1e6;
    }
    qsort (wb, nw, sizeof (guint64), cmp_u64);
    qsort (ttfk, nk, sizeof (double), cmp_dbl);

    g_string_append_printf (s, "\"mode\":\"%s\",\"requested\":%d,"
        "\"connected\":%u,\"receiving\":%u,\"failed\":%u,\"alive_end\":%u,",
        opt.tls ? "tls" : "tcp", opt.n, ready, receiving, failed, alive_end);
    json_num (s, "ramp_per_s", opt.ramp, FALSE);
    json_num (s, "spread_s", opt.spread, FALSE);
    json_num (s, "connect_phase_s", connect_phase_s, FALSE);
    json_num (s, "window_s", win_s, FALSE);
    g_string_append_printf (s, "\"bytes_window\":{\"min\":%" G_GUINT64_FORMAT
        ",\"median\":%" G_GUINT64_FORMAT ",\"max\":%" G_GUINT64_FORMAT
        ",\"total\":%" G_GUINT64_FORMAT "},\"bytes_total\":%" G_GUINT64_FORMAT
        ",", nw ? wb[0] : 0, nw ? wb[nw / 2] : 0, nw ? wb[nw - 1] : 0,
        total_win, total);
    json_num (s, "delivered_gbit", total_win * 8 / 1e9, FALSE);
    json_num (s, "expect_bps", opt.expect_bps > 0 ? opt.expect_bps : NAN,
        FALSE);
    if (opt.expect_bps > 0)
      g_string_append_printf (s, "\"full_rate\":%u,", full);
    else
      g_string_append (s, "\"full_rate\":null,");
    g_string_append_printf (s, "\"media_frames\":%" G_GUINT64_FORMAT
        ",\"keyframes\":%" G_GUINT64_FORMAT ",", media, keys);
    g_string_append_printf (s, "\"ttfk_ms\":{\"n\":%u,", nk);
    json_num (s, "p50", pct_d (ttfk, nk, 50), FALSE);
    json_num (s, "p90", pct_d (ttfk, nk, 90), FALSE);
    json_num (s, "p99", pct_d (ttfk, nk, 99), FALSE);
    json_num (s, "max", nk ? ttfk[nk - 1] : NAN, TRUE);
    g_string_append (s, "},");
    if (opt.server_pid > 0) {
      g_string_append_printf (s, "\"server\":{\"pid\":%d,", opt.server_pid);
      json_num (s, "idle_cpu_s", opt.pre > 0 && pre0.ok && pre1.ok ?
          pre1.cpu_s - pre0.cpu_s : NAN, FALSE);
      json_num (s, "idle_s", opt.pre > 0 ? opt.pre : NAN, FALSE);
      json_num (s, "rss_before_kb", pre1.ok ? (double) pre1.rss_kb : NAN,
          FALSE);
      json_num (s, "cpu_s", w0.ok && w1.ok ? w1.cpu_s - w0.cpu_s : NAN, FALSE);
      json_num (s, "rss_steady_kb", w1.ok ? (double) w1.rss_kb : NAN, TRUE);
      g_string_append (s, "},");
    }
    json_num (s, "loader_cpu_s", self1 - self0, FALSE);
    json_num (s, "machine_cpu_s", mach1 - mach0, FALSE);
    g_string_append (s, "\"failures\":{");
    g_hash_table_iter_init (&it, fail_reasons);
    while (g_hash_table_iter_next (&it, &k, &val)) {
      const gchar *c;
      g_string_append (s, first ? "\"" : ",\"");
      for (c = k; *c; c++) {
        if (*c == '"' || *c == '\\')
          g_string_append_c (s, '\\');
        if ((guchar) * c >= 0x20)
          g_string_append_c (s, *c);
      }
      g_string_append_printf (s, "\":%u", GPOINTER_TO_UINT (val));
      first = FALSE;
    }
    g_string_append (s, "}}");
    printf ("%s\n", s->str);
    fflush (stdout);
    g_string_free (s, TRUE);
    g_free (wb);
    g_free (ttfk);
  }

  for (i = 0; i < (guint) opt.n; i++) {
    Viewer *v = &viewers[i];
    if (v->tls && v->st == V_STREAMING)
      diode_tls_bye (v->tls);
    if (v->fd >= 0)
      close (v->fd);
    g_clear_pointer (&v->tls, diode_tls_free);
    g_clear_pointer (&v->sess, diode_session_free);
    if (v->outq)
      g_byte_array_unref (v->outq);
  }
  g_free (viewers);
  g_free (plan);
  g_free (rbuf);
  close (epfd);
  g_hash_table_unref (fail_reasons);
  if (identity)
    diode_identity_unref (identity);
  return 0;
}
