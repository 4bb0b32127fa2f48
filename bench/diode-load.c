/* gst-diode — diode-load: N viewers in one process, for the benchmarks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-load --tls --port P [--stream NAME] -n 1000 --ramp 250 \
 *              --warmup 3 --duration 20 --expect-bps 4000000 --server-pid PID
 *   diode-load --tcp --port P [--fps 30] -n 1000 ... (tcpserversink anchor)
 *   diode-load --tls --port P --stream rec --streams 100 -n 200 ...
 *              viewer i watches rec-(i mod 100 + 1) (bench/store.sh)
 *   diode-load --ws --port HTTP_PORT [--token T] -n 1000 ...
 *              WebSocket viewers of the relay's web side (bench/web.sh)
 *
 * One thread, one epoll set (level-triggered), every socket non-blocking.
 * This file: options, the timeline, the epoll loop and the JSON report; the
 * modes live in diode-load-tls.c, diode-load-ws.c and diode-load-tcp.c, what
 * they share in diode-load-common.c (see diode-load.h).
 *
 * --tls: each viewer is a real diode client: TCP connect, TLS 1.3, HELLO as
 *   VIEWER, SUBSCRIBE (latest keyframe), frames through a DiodeSession.
 * --ws: each viewer is what the player page is to the relay: HTTP upgrade
 *   on GET /ws/NAME, then one diode frame per binary WebSocket message.
 * --tcp: plain TCP reader (tcpserversink); counts bytes and scans the H.264
 *   byte-stream for access units and the first IDR NAL after an SPS and a
 *   PPS (lag from the picture count against --fps: diode-load-tcp.c).
 *
 * "At full rate" is "full_rate_strict": alive over the whole window,
 * pictures in it, and a lag behind live under --max-lag (1 s) all along;
 * for tls and ws also no MEDIA seq gap in the window (lag from the frames'
 * pts: diode-load-common.c); for tcp, which has neither seqs nor pts, lag
 * from the count of access units against --fps, so a missed picture counts
 * as one frame interval of lag (diode-load-tcp.c). "full_rate_seq" is the
 * same number for tls and ws (older name). "full_rate" (alias
 * "full_rate_bytes") is the older, weaker criterion: >= 95 % of
 * --expect-bps over the window.
 *
 * Timeline: [--pre S: server idle sample] -> connect phase (ramp or spread)
 * -> --warmup S -> measurement window of --duration S -> [--linger S, still
 * connected] -> JSON on stdout.
 *
 * Per viewer "time to first keyframe" runs from its connect() call to its
 * first decodable frame: for diode the first MEDIA with KEYFRAME after a CAPS,
 * for tcp the first IDR NAL after SPS and PPS. "first_frame_age" is how far
 * behind live that frame was when it arrived: its lateness minus live's
 * (the stream's smallest; for tcp the reader's own, see diode-load-tcp.c).
 *
 * With --server-pid the tool samples that process's CPU time
 * (/proc/PID/stat utime+stime) and VmRSS exactly at the window edges, so the
 * scripts need no clock alignment.
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#define MAX_EVENTS      512

typedef enum { PH_PRE, PH_CONNECT, PH_WARMUP, PH_WINDOW, PH_LINGER, PH_DONE } Phase;

/* ------------------------------------------------------------------------ */
/* statistics */

static int
cmp_u64 (const void *a, const void *b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return x < y ? -1 : x > y;
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
    {"ws", 0, 0, G_OPTION_ARG_NONE, &opt.ws,
        "WebSocket viewers of the relay's web side (--port: its --http port)",
        NULL},
    {"token", 0, 0, G_OPTION_ARG_STRING, &opt.token,
        "Share-link token for --ws (?t=TOKEN)", "TOKEN"},
    {"max-lag", 0, 0, G_OPTION_ARG_DOUBLE, &opt.max_lag,
        "Full rate needs a lag behind live below this (default 1)",
        "SECONDS"},
    {"fps", 0, 0, G_OPTION_ARG_DOUBLE, &opt.fps,
        "tcp: the stream's frame rate, for the lag of a reader (default 30)",
        "FPS"},
    {"host", 'H', 0, G_OPTION_ARG_STRING, &opt.host,
        "Server host (default 127.0.0.1)", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_INT, &opt.port, "Server port", "PORT"},
    {"stream", 's', 0, G_OPTION_ARG_STRING, &opt.stream,
        "Stream name (tls, ws; default bench)", "NAME"},
    {"streams", 0, 0, G_OPTION_ARG_INT, &opt.streams,
        "Spread the viewers over K streams NAME-1 .. NAME-K (tls, ws; 1)", "K"},
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
  GError *tls_err = NULL;
  gdouble self0 = 0, self1 = 0, connect_phase_s = 0, mach0 = 0, mach1 = 0;
  gint64 t_win0 = 0, t_win1 = 0;

  ctx = g_option_context_new ("- open N diode (TLS or WebSocket) or TCP "
      "viewers in one process");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "diode-load: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (opt.tls + opt.tcp + opt.ws != 1 || opt.streams < 0
      || opt.streams > 100000 || !(opt.max_lag > 0) || !(opt.fps > 0)
      || opt.fps > 1000
      || opt.port <= 0 || opt.port > 65535 || opt.n < 1
      || opt.duration < 0 || opt.warmup < 0 || opt.linger < 0
      || opt.linger + opt.duration + opt.warmup +
      opt.spread + opt.pre + opt.connect_timeout > MAX_LOOP_S) {
    fprintf (stderr, "diode-load: need exactly one of --tls/--ws/--tcp, --port, "
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
  opt.mode = opt.tls ? MODE_TLS : opt.ws ? MODE_WS : MODE_TCP;
  raise_nofile ((guint) opt.n + 64);
  if (opt.mode == MODE_TLS && !tls_init (&tls_err)) {
    fprintf (stderr, "diode-load: %s\n", tls_err->message);
    return 1;
  }

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  rbuf = g_malloc (RBUF_SIZE);
  fail_reasons = g_hash_table_new (g_str_hash, g_str_equal);
  viewers = g_new0 (Viewer, opt.n);
  plan = g_new0 (gint64, opt.n);
  late_min = g_new (gint64, MAX (opt.streams, 1));
  for (i = 0; i < (guint) MAX (opt.streams, 1); i++)
    late_min[i] = G_MAXINT64;
  for (i = 0; i < (guint) opt.n; i++) {
    viewers[i].fd = -1;
    viewers[i].idx = i;
    viewers[i].sidx = opt.streams > 1 ? i % (guint) opt.streams : 0;
    viewers[i].newest_pts = DIODE_TIME_NONE;
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
          opt.mode == MODE_TLS ? "TLS" : opt.mode == MODE_WS ? "WebSocket" :
          "TCP", opt.host, opt.port);
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
                viewers[i].st == V_HANDSHAKE ? (opt.mode == MODE_WS ?
                    "timeout: waiting for the 101" :
                    "timeout: in TLS handshake") :
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
      in_window = TRUE;
      phase = PH_WINDOW;
      t_phase = now + (gint64) (opt.duration * 1e9);
      logf_ ("measuring for %.1f s", opt.duration);
    }
    if (phase == PH_WINDOW && now >= t_phase) {
      w1 = sample_proc (opt.server_pid);
      self1 = self_cpu_s ();
      mach1 = machine_cpu_s ();
      t_win1 = now;
      in_window = FALSE;
      load_window_end (now);
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
        tls_keepalive_sweep (&t_sweep);
    }
    tls_keepalive_sweep (&t_sweep);
  }

  /* ---- report ---- */
  {
    guint ready = 0, failed = 0, alive_end = 0, full = 0, nk = 0, nw = 0;
    guint receiving = 0, full_seq = 0, nl = 0, na = 0;
    double *age = g_new0 (double, opt.n);
    guint64 pictures_win = 0;
    guint64 gaps = 0, lost = 0;
    double *lag = g_new0 (double, opt.n);
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
      if (v->t_key_ns && v->key_late_ok && load_live_ref (v) != G_MAXINT64)
        age[na++] = (v->key_late_ns - load_live_ref (v)) / 1e6;
      gaps += v->gaps_win;
      lost += v->lost_win;
      pictures_win += v->media_win;
      if (v->was_ready && v->late_seen && load_live_ref (v) != G_MAXINT64) {
        double l = (v->late_max_win - load_live_ref (v)) / 1e9;
        lag[nl++] = l * 1e3;
        /* the whole window: there at both edges, frames in it, no gap,
         * never more than --max-lag behind live */
        if (v->win0_alive && v->win1_alive && v->media_win > 0
            && v->gaps_win == 0 && l < opt.max_lag)
          full_seq++;
      }
    }
    qsort (lag, nl, sizeof (double), cmp_dbl);
    qsort (wb, nw, sizeof (guint64), cmp_u64);
    qsort (ttfk, nk, sizeof (double), cmp_dbl);
    qsort (age, na, sizeof (double), cmp_dbl);

    g_string_append_printf (s, "\"mode\":\"%s\",\"requested\":%d,"
        "\"connected\":%u,\"receiving\":%u,\"failed\":%u,\"alive_end\":%u,",
        opt.mode == MODE_TLS ? "tls" : opt.mode == MODE_WS ? "ws" : "tcp", opt.n, ready, receiving, failed, alive_end);
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
      g_string_append_printf (s, "\"full_rate\":%u,\"full_rate_bytes\":%u,",
          full, full);
    else
      g_string_append (s, "\"full_rate\":null,\"full_rate_bytes\":null,");
    g_string_append_printf (s, "\"full_rate_strict\":%u,\"strict_basis\":"
        "\"%s\",\"pictures_window\":%" G_GUINT64_FORMAT ",", full_seq,
        opt.mode == MODE_TCP ? "access units vs --fps, lag" : "seq, pts lag",
        pictures_win);
    g_string_append_printf (s, "\"media_frames\":%" G_GUINT64_FORMAT
        ",\"keyframes\":%" G_GUINT64_FORMAT ",", media, keys);
    if (opt.mode == MODE_TCP)
      g_string_append (s, "\"full_rate_seq\":null,");
    else
      g_string_append_printf (s, "\"full_rate_seq\":%u,\"seq_gaps\":%"
          G_GUINT64_FORMAT ",\"frames_lost\":%" G_GUINT64_FORMAT ",",
          full_seq, gaps, lost);
    json_num (s, "max_lag_s", opt.max_lag, FALSE);
    g_string_append_printf (s, "\"lag_ms\":{\"n\":%u,", nl);
    json_num (s, "p50", pct_d (lag, nl, 50), FALSE);
    json_num (s, "p90", pct_d (lag, nl, 90), FALSE);
    json_num (s, "max", nl ? lag[nl - 1] : NAN, TRUE);
    g_string_append (s, "},");
    g_string_append_printf (s, "\"ttfk_ms\":{\"n\":%u,", nk);
    json_num (s, "p50", pct_d (ttfk, nk, 50), FALSE);
    json_num (s, "p90", pct_d (ttfk, nk, 90), FALSE);
    json_num (s, "p99", pct_d (ttfk, nk, 99), FALSE);
    json_num (s, "max", nk ? ttfk[nk - 1] : NAN, TRUE);
    g_string_append (s, "},");
    g_string_append_printf (s, "\"first_frame_age_ms\":{\"n\":%u,", na);
    json_num (s, "p50", pct_d (age, na, 50), FALSE);
    json_num (s, "p90", pct_d (age, na, 90), FALSE);
    json_num (s, "p99", pct_d (age, na, 99), FALSE);
    json_num (s, "max", na ? age[na - 1] : NAN, TRUE);
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
    g_free (lag);
    g_free (age);
  }

  for (i = 0; i < (guint) opt.n; i++)
    viewer_free (&viewers[i]);
  g_free (viewers);
  g_free (plan);
  g_free (rbuf);
  close (epfd);
  g_hash_table_unref (fail_reasons);
  g_free (late_min);
  tls_cleanup ();
  return 0;
}
