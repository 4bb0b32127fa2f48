/* gst-diode — benchmark: a paced stream over one DiodeIce connection
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   ice-throughput --transport pseudotcp|tcp|auto [--seconds 30]
 *       [--rate-bps 4000000] [--fps 25]
 *       [--ns-pub NAME --addr-pub IP --ns-view NAME --addr-view IP]
 *
 * Forks: the publisher (controlled) and the viewer (controlling) each run
 * one DiodeIce, in their own network namespace when given (setns before
 * any socket), with host candidates on the one address given (default
 * 127.0.0.1). Credentials and candidates cross a socketpair made before
 * the fork, line by line, as the relay would carry them. Once connected,
 * the publisher writes rate/8/fps-byte frames at fps frames per second for
 * --seconds; each frame starts with its send time (CLOCK_MONOTONIC: the
 * same clock in both processes). The viewer takes the time at each
 * frame's last byte: one-way latency, application to application,
 * including any backlog. The viewer prints one line:
 *
 *   transport=... connect_ms=... frames=... bytes=... mbps=...
 *   p50_ms=... p99_ms=... max_ms=... pair="local remote"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <glib.h>
#include <glib-unix.h>

#include "diode-ice.h"

#define HDR 16                  /* magic 4, seq 4, send time 8 */
#define MAGIC 0x44494345u       /* "DICE" */

typedef struct {
  gboolean publisher;
  DiodeIce *ice;
  GIOChannel *sig;
  int sig_fd;
  int fd;
  GMainLoop *loop;
  gint64 t_start, t_connected;
  gchar *pair;
  /* publisher */
  guint frame_size, fps, seconds;
  guint32 seq;
  guint frames_total;
  GByteArray *backlog;
  GSource *out_src;
  /* viewer */
  guint8 *frame;
  gsize have;
  guint32 want_size;
  GArray *lat_us;
  guint64 bytes;
  gint64 first_rx, last_rx;
  gboolean failed;
} Side;

static gint64
mono_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
send_line (Side * s, char kind, const gchar * text)
{
  gchar *line = g_strdup_printf ("%c %s\n", kind, text ? text : "");
  gsize len = strlen (line), off = 0;

  /* small and rare: a blocking write on the signalling socket is fine */
  while (off < len) {
    gssize n = write (s->sig_fd, line + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    off += n;
  }
  g_free (line);
}

static gboolean flush_backlog (Side * s);

static gboolean
on_out_ready (gint fd, GIOCondition c, gpointer data)
{
  Side *s = data;

  g_source_unref (s->out_src);
  s->out_src = NULL;
  flush_backlog (s);
  return G_SOURCE_REMOVE;
}

static gboolean
flush_backlog (Side * s)
{
  while (s->backlog->len > 0) {
    gssize n = write (s->fd, s->backlog->data, s->backlog->len);
    if (n < 0 && errno == EAGAIN) {
      if (!s->out_src) {
        s->out_src = g_unix_fd_source_new (s->fd, G_IO_OUT);
        g_source_set_callback (s->out_src, G_SOURCE_FUNC (on_out_ready), s,
            NULL);
        g_source_attach (s->out_src, NULL);
      }
      return FALSE;
    }
    if (n <= 0)
      return FALSE;
    g_byte_array_remove_range (s->backlog, 0, n);
  }
  return TRUE;
}

static gboolean
on_tick (gpointer data)
{
  Side *s = data;
  guint8 *f;
  gint64 t;

  if (s->seq >= s->frames_total) {
    /* done: the viewer stops when it has them all */
    return G_SOURCE_REMOVE;
  }
  f = g_malloc0 (s->frame_size);
  t = mono_ns ();
  {
    guint32 magic = GUINT32_TO_BE (MAGIC), seq = GUINT32_TO_BE (s->seq);
    guint64 sent = GUINT64_TO_BE ((guint64) t);
    memcpy (f, &magic, 4);
    memcpy (f + 4, &seq, 4);
    memcpy (f + 8, &sent, 8);
  }
  s->seq++;
  g_byte_array_append (s->backlog, f, s->frame_size);
  g_free (f);
  flush_backlog (s);
  return G_SOURCE_CONTINUE;
}

static gint
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gboolean
on_in (gint fd, GIOCondition c, gpointer data)
{
  Side *s = data;
  guint8 buf[65536];
  gssize n;

  while ((n = read (s->fd, buf, sizeof (buf))) > 0) {
    gssize i = 0;
    gint64 now = mono_ns ();

    if (!s->first_rx)
      s->first_rx = now;
    s->last_rx = now;
    s->bytes += n;
    while (i < n) {
      gsize take = MIN ((gsize) (n - i), s->want_size - s->have);
      memcpy (s->frame + s->have, buf + i, take);
      s->have += take;
      i += take;
      if (s->have == s->want_size) {
        guint64 sent_be;
        guint32 magic_be;
        gint64 lat;

        memcpy (&sent_be, s->frame + 8, 8);
        memcpy (&magic_be, s->frame, 4);
        lat = ((gint64) now - (gint64) GUINT64_FROM_BE (sent_be)) / 1000;
        if (GUINT32_FROM_BE (magic_be) != MAGIC) {
          g_printerr ("ice-throughput: stream corrupted\n");
          exit (1);
        }
        g_array_append_val (s->lat_us, lat);
        s->have = 0;
        if (s->lat_us->len == s->frames_total)
          g_main_loop_quit (s->loop);
      }
    }
  }
  if (n == 0) {
    g_main_loop_quit (s->loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
on_event (DiodeIceEvent ev, const gchar * text, gpointer data)
{
  Side *s = data;

  switch (ev) {
    case DIODE_ICE_EVENT_CREDENTIALS:
      send_line (s, 'C', text);
      break;
    case DIODE_ICE_EVENT_CANDIDATE:
      send_line (s, 'A', text);
      break;
    case DIODE_ICE_EVENT_GATHERED:
      send_line (s, 'G', NULL);
      break;
    case DIODE_ICE_EVENT_CONNECTED:{
      GSource *src;
      s->t_connected = mono_ns ();
      s->pair = g_strdup_printf ("%s %s", text,
          diode_ice_get_transport (s->ice) == DIODE_ICE_TCP ? "tcp" : "udp");
      s->fd = diode_ice_take_fd (s->ice);
      if (s->publisher) {
        g_timeout_add (1000 / s->fps, on_tick, s);
      } else {
        src = g_unix_fd_source_new (s->fd, G_IO_IN | G_IO_HUP);
        g_source_set_callback (src, G_SOURCE_FUNC (on_in), s, NULL);
        g_source_attach (src, NULL);
        g_source_unref (src);
      }
      break;
    }
    case DIODE_ICE_EVENT_FAILED:
      if (!s->publisher || !s->t_connected)
        g_printerr ("ice-throughput: %s failed: %s\n",
            s->publisher ? "publisher" : "viewer", text);
      s->failed = TRUE;
      g_main_loop_quit (s->loop);
      break;
  }
}

static gboolean
on_signal_line (GIOChannel * ch, GIOCondition c, gpointer data)
{
  Side *s = data;
  gchar *line = NULL;
  gsize len = 0;
  GError *err = NULL;
  GIOStatus st;

  while ((st = g_io_channel_read_line (ch, &line, &len, NULL, &err))
      == G_IO_STATUS_NORMAL) {
    g_strchomp (line);
    if (line[0] == 'C')
      diode_ice_set_remote_credentials (s->ice, line + 2, NULL);
    else if (line[0] == 'A')
      diode_ice_add_remote_candidate (s->ice, line + 2, NULL);
    else if (line[0] == 'G')
      diode_ice_remote_gathered (s->ice);
    g_free (line);
    line = NULL;
  }
  g_clear_error (&err);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    /* the other process is gone */
    if (s->publisher)
      g_main_loop_quit (s->loop);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
enter_ns (const gchar * ns)
{
  gchar *path;
  int fd;

  if (!ns)
    return;
  path = g_strdup_printf ("/run/netns/%s", ns);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns (fd, CLONE_NEWNET) < 0) {
    g_printerr ("ice-throughput: namespace %s: %s\n", ns, g_strerror (errno));
    exit (1);
  }
  close (fd);
  g_free (path);
}

static gboolean
on_deadline (gpointer data)
{
  Side *s = data;
  g_printerr ("ice-throughput: %s: deadline passed\n",
      s->publisher ? "publisher" : "viewer");
  s->failed = TRUE;
  g_main_loop_quit (s->loop);
  return G_SOURCE_REMOVE;
}

static int
run_side (Side * s, DiodeIceTransport t, const gchar * addr, int sig_fd)
{
  const gchar *addrs[2] = { addr, NULL };
  DiodeIceConfig cfg = { 0 };
  GError *err = NULL;

  s->loop = g_main_loop_new (NULL, FALSE);
  s->sig_fd = sig_fd;
  s->fd = -1;
  s->sig = g_io_channel_unix_new (sig_fd);
  g_io_channel_set_flags (s->sig, G_IO_FLAG_NONBLOCK, NULL);
  g_io_add_watch (s->sig, G_IO_IN | G_IO_HUP, on_signal_line, s);
  cfg.transport = t;
  cfg.controlling = !s->publisher;
  cfg.connect_timeout_ms = 15000;
  cfg.local_addresses = addrs;
  s->t_start = mono_ns ();
  s->ice = diode_ice_new (NULL, &cfg, on_event, s, &err);
  if (!s->ice) {
    g_printerr ("ice-throughput: %s\n", err->message);
    return 1;
  }
  /* a hard bound: connect + the stream + drain */
  g_timeout_add_seconds (15 + s->seconds + 20, on_deadline, s);
  g_main_loop_run (s->loop);
  return s->failed ? 1 : 0;
}

int
main (int argc, char **argv)
{
  gchar *transport = NULL, *ns_pub = NULL, *ns_view = NULL;
  gchar *addr_pub = NULL, *addr_view = NULL;
  gint seconds = 30, rate = 4000000, fps = 25;
  GOptionEntry entries[] = {
    {"transport", 0, 0, G_OPTION_ARG_STRING, &transport,
          "pseudotcp|tcp|auto",
        NULL},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "stream length", NULL},
    {"rate-bps", 0, 0, G_OPTION_ARG_INT, &rate, "bits per second", NULL},
    {"fps", 0, 0, G_OPTION_ARG_INT, &fps, "frames per second", NULL},
    {"ns-pub", 0, 0, G_OPTION_ARG_STRING, &ns_pub, "publisher netns", NULL},
    {"ns-view", 0, 0, G_OPTION_ARG_STRING, &ns_view, "viewer netns", NULL},
    {"addr-pub", 0, 0, G_OPTION_ARG_STRING, &addr_pub, "publisher IP", NULL},
    {"addr-view", 0, 0, G_OPTION_ARG_STRING, &addr_view, "viewer IP", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- DiodeIce paced stream");
  GError *err = NULL;
  DiodeIceTransport t;
  int sv[2], status = 0;
  pid_t pid;
  Side s = { 0 };

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("ice-throughput: %s\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!transport || (strcmp (transport, "pseudotcp") && strcmp (transport,
              "tcp") && strcmp (transport, "auto")) || seconds < 1 || seconds > 600 || fps < 1 || fps > 200
      || rate < 8 * fps * (HDR + 1) || rate > 1000000000) {
    g_printerr ("ice-throughput: --transport pseudotcp|tcp|auto, --seconds 1..600,"
        " --fps 1..200, a --rate-bps that fits\n");
    return 2;
  }
  t = strcmp (transport, "tcp") == 0 ? DIODE_ICE_TCP :
      strcmp (transport, "auto") == 0 ? DIODE_ICE_AUTO : DIODE_ICE_PSEUDOTCP;
  s.seconds = seconds;
  s.fps = fps;
  s.frame_size = rate / 8 / fps;
  s.frames_total = seconds * fps;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return 1;
  pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0) {
    /* the publisher */
    close (sv[0]);
    enter_ns (ns_pub);
    s.publisher = TRUE;
    s.backlog = g_byte_array_new ();
    /* exits when the viewer, done, closes the signalling socket */
    _exit (run_side (&s, t, addr_pub ? addr_pub : "127.0.0.1", sv[1]));
  }
  close (sv[1]);
  enter_ns (ns_view);
  s.publisher = FALSE;
  s.frame = g_malloc (s.frame_size);
  s.want_size = s.frame_size;
  s.lat_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  status = run_side (&s, t, addr_view ? addr_view : "127.0.0.1", sv[0]);
  close (sv[0]);
  diode_ice_free (s.ice);
  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  if (s.lat_us->len > 0) {
    gint64 *v = (gint64 *) s.lat_us->data;
    guint n = s.lat_us->len;
    gdouble secs = (s.last_rx - s.first_rx) / 1e9;

    g_array_sort (s.lat_us, cmp_i64);
    printf ("transport=%s connect_ms=%.0f frames=%u/%u bytes=%" G_GUINT64_FORMAT
        " mbps=%.3f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f pair=\"%s\"\n",
        transport, (s.t_connected - s.t_start) / 1e6, n, s.frames_total,
        s.bytes, secs > 0 ? s.bytes * 8 / secs / 1e6 : 0.0,
        v[n / 2] / 1000.0, v[MIN (n - 1, (n * 99) / 100)] / 1000.0,
        v[n - 1] / 1000.0, s.pair ? s.pair : "?");
  } else {
    printf ("transport=%s failed\n", transport);
    status = 1;
  }
  return status;
}
