/* gst-diode — diode-load: the parts every mode shares
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The clock, the /proc sampling of the server, the viewer life cycle
 * (socket, non-blocking connect, failure with a reason, readiness) and the
 * accounting of the diode frames a viewer receives, which the TLS and the
 * WebSocket viewers share so that their figures mean the same thing:
 *
 * - every MEDIA (not the STREAMHEADER ones, which carry older seqs) must
 *   follow the previous one's seq by exactly 1: anything more is a gap (the
 *   relay skipped frames for this viewer);
 * - lateness = arrival time (CLOCK_MONOTONIC) - the MEDIA's pts. The
 *   publisher paces the clip in real time (identity sync=true), so pts runs
 *   at the wall clock's speed plus a constant; the smallest lateness any
 *   viewer of the stream saw during the run stands for "delivered at once",
 *   and a viewer's lag behind live is its lateness minus that minimum.
 *   A viewer that receives nothing also lags: at the end of the window its
 *   lag is counted from its newest frame's pts to that moment.
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>

LoadOptions opt = {
  .host = NULL, .port = 0, .n = 1, .duration = 10, .warmup = 3, .ramp = 0,
  .spread = 0, .pre = 0, .connect_timeout = 30, .wait_ms = 10000,
  .max_lag = 1.0, .fps = 30,
};

int epfd = -1;
Viewer *viewers;
struct sockaddr_storage dst;
socklen_t dst_len;
guint8 *rbuf;
GHashTable *fail_reasons;
guint n_started, n_settled;
gboolean in_window;
gint64 *late_min;

gint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
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

ProcSample
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
gdouble
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

gdouble
self_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ------------------------------------------------------------------------ */
/* viewers */

/* --streams K: viewer i watches NAME-(i mod K + 1) */
gchar *
viewer_stream_name (Viewer * v)
{
  return opt.streams > 1 ? g_strdup_printf ("%s-%u", opt.stream,
      v->sidx + 1) : g_strdup (opt.stream);
}

void
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

void
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
  if (v->inq)
    g_byte_array_set_size (v->inq, 0);
}

void
viewer_failf (Viewer * v, const gchar * fmt, ...)
{
  va_list ap;
  gchar *why;

  va_start (ap, fmt);
  why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  viewer_fail (v, g_intern_string (why));
  g_free (why);
}

void
viewer_ready (Viewer * v)
{
  v->st = V_STREAMING;
  v->t_ready_ns = now_ns ();
  v->was_ready = TRUE;
  n_settled++;
}

void
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


void
viewer_event (Viewer * v, guint32 ev)
{
  if (v->st == V_CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;

    getsockopt (v->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0) {
      viewer_fail (v, err == ECONNREFUSED ? "connection refused" :
          "connect failed");
      return;
    }
    switch (opt.mode) {
      case MODE_TLS:
        tls_connected (v);
        break;
      case MODE_WS:
        ws_connected (v);
        break;
      case MODE_TCP:
        tcp_connected (v);
        break;
    }
    return;
  }
  switch (opt.mode) {
    case MODE_TLS:
      tls_event (v, ev);
      break;
    case MODE_WS:
      ws_event (v, ev);
      break;
    case MODE_TCP:
      tcp_event (v, ev);
      break;
  }
}

/* Closes what is left of a viewer at the end of the run. */
void
viewer_free (Viewer * v)
{
  if (v->st == V_STREAMING) {
    if (opt.mode == MODE_TLS)
      tls_viewer_close (v);
    else if (opt.mode == MODE_WS)
      ws_viewer_close (v);
  }
  if (v->fd >= 0)
    close (v->fd);
  v->fd = -1;
  g_clear_pointer (&v->tls, diode_tls_free);
  g_clear_pointer (&v->sess, diode_session_free);
  if (v->outq)
    g_byte_array_unref (v->outq);
  if (v->inq)
    g_byte_array_unref (v->inq);
  v->outq = v->inq = NULL;
  g_clear_pointer (&v->ws_accept, g_free);
}

/* ------------------------------------------------------------------------ */
/* what a diode viewer counts (tls and ws alike) */

static void
count_media (Viewer * v, DiodeMsg * m)
{
  gint64 t = now_ns ();

  v->media++;
  if (m->flags & DIODE_MEDIA_KEYFRAME) {
    v->keyframes++;
    if (v->got_caps && v->t_key_ns == 0) {
      v->t_key_ns = t;
      /* its age when it arrived: the report subtracts the stream's
       * smallest lateness (live), known only at the end */
      if (m->pts != DIODE_TIME_NONE && m->pts < G_MAXINT64) {
        v->key_late_ns = t - (gint64) m->pts;
        v->key_late_ok = TRUE;
      }
    }
  }
  /* stream headers carry the seqs they were published with: older ones */
  if (m->flags & DIODE_MEDIA_STREAMHEADER)
    return;
  if (in_window) {
    v->media_win++;
    if (v->last_seq != 0 && m->seq > v->last_seq + 1) {
      v->gaps_win++;
      v->lost_win += m->seq - v->last_seq - 1;
    }
  }
  v->last_seq = m->seq;
  if (m->pts != DIODE_TIME_NONE && m->pts < G_MAXINT64) {
    gint64 late = t - (gint64) m->pts;

    v->newest_pts = m->pts;
    if (late < late_min[v->sidx])
      late_min[v->sidx] = late;
    if (in_window && (!v->late_seen || late > v->late_max_win)) {
      v->late_max_win = late;
      v->late_seen = TRUE;
    }
  }
}

/* The frames of a subscription as a viewer receives them after SUBSCRIBE:
 * SUBSCRIBE_OK, CAPS, MEDIA, EOS, ERROR. The caller handles the rest. */
void
load_count_msg (Viewer * v, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_SUBSCRIBE_OK:
      if (v->st == V_SUBSCRIBING)
        viewer_ready (v);
      break;
    case DIODE_MSG_CAPS:
      v->got_caps = TRUE;
      break;
    case DIODE_MSG_MEDIA:
      count_media (v, m);
      break;
    case DIODE_MSG_ERROR:
      viewer_failf (v, "relay: ERROR %u%s", m->error_code,
          m->error_code == DIODE_ERR_SLOW_VIEWER ? " slow viewer" :
          m->error_code == DIODE_ERR_NOT_FOUND ? " not found" :
          m->error_code == DIODE_ERR_NOT_AUTHORIZED ? " not authorized" : "");
      break;
    default:
      break;
  }
}

/* What "delivered at once" is for @v: the smallest lateness seen by any
 * viewer of its stream (diode frames carry the publisher's pts), or for a
 * tcp reader its own (see diode-load-tcp.c); G_MAXINT64 = not known. */
gint64
load_live_ref (Viewer * v)
{
  return opt.mode == MODE_TCP ? v->own_late_min : late_min[v->sidx];
}

/* The window closes at @t: a viewer that got nothing lately lags from its
 * newest frame's pts to @t. */
void
load_window_end (gint64 t)
{
  guint i;

  for (i = 0; i < (guint) opt.n; i++) {
    Viewer *v = &viewers[i];
    gint64 late;

    v->win1_alive = v->st == V_STREAMING;
    v->bytes_win1 = v->bytes;
    if (!v->late_seen)
      continue;
    if (opt.mode == MODE_TCP)
      /* the newest picture stands for pts (pictures - 1) / fps */
      late = t - (gint64) ((v->pictures - 1) * (1e9 / opt.fps));
    else if (v->newest_pts != DIODE_TIME_NONE)
      late = t - (gint64) v->newest_pts;
    else
      continue;
    if (late > v->late_max_win)
      v->late_max_win = late;
  }
}
