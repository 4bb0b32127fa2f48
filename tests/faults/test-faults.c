/* gst-diode — fault tests: the real relay, real pipelines, real faults
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-faults TEST [--ns-relay NS --ns-pub NS --relay-host IP
 *                     --relay-dev DEV --pub-dev DEV]
 *
 * One test per run (meson registers each name; see meson.build and
 * docs/faults.md). Every test starts the diode-relay binary (DIODE_RELAY or
 * the one built next to it) with a fixed --identity in a temporary
 * XDG_CONFIG_HOME, so a restarted relay keeps its key, and runs publishers
 * and viewers as fault-peer processes (FAULT_PEER), each ONE pipeline for
 * its whole life:
 *
 *   publisher: videotestsrc is-live=true ! x264enc tune=zerolatency
 *              key-int-max=30 speed-preset=ultrafast ! h264parse ! diodesink
 *   viewer:    diodesrc ! h264parse ! avdec_h264 ! fakesink (frames counted)
 *
 * All on 127.0.0.1, except the netns-* tests (run by netns.sh, which makes
 * the namespaces and passes them here). Children die with this process
 * (PR_SET_PDEATHSIG, and end of stdin for the peers). Every wait is bounded.
 * Exit status: 0 pass, 1 fail, 77 skip (meson's code).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gio.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fixture.h"              /* wait_fd() */
#include "testproc.h"             /* Proc, relay_spawn, tp_fail */
#include "diode-identity.h"
#include "diode-msg.h"
#include "diode-session.h"
#include "diode-tls.h"

#include "faultlib.h"

static gchar *relay_dev, *pub_dev;      /* netns-* tests */

/* ------------------------------------------------------------------------ */
/* Run diode-relay with @args to completion (it must exit within 5 s);
 * returns its output, sets *status. */
static gchar *
relay_run_expect_exit (const gchar * const *args, gint * status)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new (NULL);
  Proc *p;
  guint i;

  g_ptr_array_add (argv, g_strdup (relay_bin ()));
  for (; *args; args++)
    g_ptr_array_add (argv, g_strdup (*args));
  p = proc_spawn ("relay", NULL, argv);
  g_ptr_array_unref (argv);
  if (!proc_wait_exit (p, 5000))
    tp_fail ("diode-relay did not exit within 5 s (expected it to refuse to "
        "start)");
  for (i = 0; i < p->lines->len; i++)
    g_string_append_printf (out, "%s\n", ((Line *) p->lines->pdata[i])->text);
  *status = p->status;
  proc_free (p);
  return g_string_free (out, FALSE);
}


/* ------------------------------------------------------------------------ */
/* a raw TLS viewer that subscribes and then never reads */

typedef struct {
  int fd;
  DiodeIdentity *id;
  DiodeTls *tls;
  guint local_port;
} RawViewer;

static void
raw_send (RawViewer * c, GBytes * frame, DiodeSession * s, DiodeMsgType type)
{
  gsize len, off = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  gint64 end = g_get_monotonic_time () + 2 * G_TIME_SPAN_SECOND;

  diode_session_sent (s, type, 0, NULL);
  while (off < len) {
    gsize n = 0;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + off, len - off, &n,
        NULL);

    if (st == DIODE_TLS_OK)
      off += n;
    else if (st == DIODE_TLS_AGAIN)
      tp_check (wait_fd (c->fd, POLLOUT, end), "raw viewer: send timed out");
    else
      tp_fail ("raw viewer: send failed");
  }
  g_bytes_unref (frame);
}

static RawViewer *
raw_viewer_open (Proc * relay, const gchar * keyname)
{
  RawViewer *c = g_new0 (RawViewer, 1);
  gchar *key = key_path (keyname);
  struct sockaddr_in sa = { 0 };
  socklen_t sl = sizeof sa;
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  DiodeSession *s;
  GError *err = NULL;
  DiodeTlsStatus st;
  guint8 buf[16384];
  gboolean ok = FALSE;
  int rcv = 32768;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  tp_check (c->fd >= 0, "socket: %s", g_strerror (errno));
  /* A small window: the relay's sends to it stall soon. */
  setsockopt (c->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (relay->port);
  inet_pton (AF_INET, relay_host, &sa.sin_addr);
  tp_check (connect (c->fd, (struct sockaddr *) &sa, sizeof sa) == 0,
      "raw viewer: connect: %s", g_strerror (errno));
  getsockname (c->fd, (struct sockaddr *) &sa, &sl);
  c->local_port = ntohs (sa.sin_port);
  g_unix_set_fd_nonblocking (c->fd, TRUE, NULL);
  c->id = diode_identity_load_or_create (key, &err);
  tp_check (c->id != NULL, "raw viewer identity: %s", err ? err->message : "?");
  g_free (key);
  c->tls = diode_tls_new_client (c->fd, c->id, NULL, &err);
  tp_check (c->tls != NULL, "raw viewer TLS: %s", err ? err->message : "?");
  while ((st = diode_tls_handshake (c->tls, &err)) == DIODE_TLS_AGAIN)
    tp_check (wait_fd (c->fd, diode_tls_wants_write (c->tls) ? POLLOUT : POLLIN,
            end), "raw viewer: TLS handshake timed out");
  tp_check (st == DIODE_TLS_OK, "raw viewer: TLS handshake failed: %s",
      err ? err->message : "closed");
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  raw_send (c, diode_msg_encode_hello (DIODE_PROTOCOL_VERSION,
          DIODE_PROTOCOL_VERSION, DIODE_ROLE_VIEWER, "test-faults"), s,
      DIODE_MSG_HELLO);
  /* WELCOME, then SUBSCRIBE, then SUBSCRIBE_OK (and whatever came with
   * it); after that it never reads again. */
  while (!ok) {
    gsize n = 0;
    DiodeMsg m;
    DiodeSessionResult r;

    st = diode_tls_recv (c->tls, buf, sizeof buf, &n, &err);
    if (st == DIODE_TLS_AGAIN) {
      tp_check (wait_fd (c->fd, POLLIN, end), "raw viewer: no SUBSCRIBE_OK "
          "within 10 s");
      continue;
    }
    tp_check (st == DIODE_TLS_OK, "raw viewer: receive failed");
    diode_session_feed (s, buf, n);
    while ((r = diode_session_next (s, &m, &err)) == DIODE_SESSION_MESSAGE) {
      if (m.type == DIODE_MSG_WELCOME)
        raw_send (c, diode_msg_encode_subscribe (STREAM, 0, 5000), s,
            DIODE_MSG_SUBSCRIBE);
      if (m.type == DIODE_MSG_SUBSCRIBE_OK)
        ok = TRUE;
      tp_check (m.type != DIODE_MSG_ERROR, "raw viewer: relay refused it: %s",
          m.error_text);
      diode_msg_clear (&m);
    }
    tp_check (r != DIODE_SESSION_ERROR, "raw viewer: %s", err->message);
  }
  diode_session_free (s);
  return c;
}

/* Read (and drop) everything until the relay's FIN or RST: when was it? */
static gint64
raw_viewer_wait_closed (RawViewer * c, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint8 buf[65536];

  for (;;) {
    ssize_t r = read (c->fd, buf, sizeof buf);

    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
      return g_get_monotonic_time ();
    if (r < 0 && !wait_fd (c->fd, POLLIN, end))
      return -1;
  }
}

static void
raw_viewer_free (RawViewer * c)
{
  diode_tls_free (c->tls);
  close (c->fd);
  diode_identity_unref (c->id);
  g_free (c);
}

/* ------------------------------------------------------------------------ */
/* the common scene: a relay, a publisher and some viewers, all decoding */

typedef struct {
  Proc *relay;
  Proc *pub;
  Proc *v[8];
  guint nv;
  gchar *vaddr[8];              /* viewers' identity addresses */
  gchar *pub_addr;
} Scene;

static void
scene_start (Scene * s, guint nviewers, const gchar * const *relay_extra,
    const gchar * const *pub_sets, const gchar * const *view_sets)
{
  guint i;

  memset (s, 0, sizeof *s);
  s->relay = relay_start ("relay", 0, relay_extra);
  s->pub_addr = make_identity ("pub");
  s->pub = peer_start ("pub", "pub", s->relay, "pub", pub_sets, ns_pub);
  s->nv = nviewers;
  for (i = 0; i < nviewers; i++) {
    gchar *n = g_strdup_printf ("viewer%u", i + 1);
    s->vaddr[i] = make_identity (n);
    s->v[i] = peer_start (n, "view", s->relay, n, view_sets, ns_relay);
    g_free (n);
  }
  wait_decoding (s->v, s->nv, 30, 20000);
  tp_note ("all %u viewers decoding", nviewers);
}

static void
scene_stop (Scene * s)
{
  guint i;

  for (i = 0; i < s->nv; i++)
    peer_quit (s->v[i]);
  if (s->pub)
    peer_quit (s->pub);
  if (s->relay && !s->relay->exited)
    relay_stop (s->relay);
}

static void
scene_free (Scene * s)
{
  guint i;

  for (i = 0; i < s->nv; i++) {
    proc_free (s->v[i]);
    g_free (s->vaddr[i]);
  }
  if (s->pub)
    proc_free (s->pub);
  if (s->relay)
    proc_free (s->relay);
  g_free (s->pub_addr);
}

/* Each of @v decodes again after @t (within @limit_ms): returns the worst
 * delay and checks every one. */
static gint64
check_resume (Proc ** v, guint nv, gint64 t, guint limit_ms, const gchar * what)
{
  gint64 worst = 0;
  guint i;

  for (i = 0; i < nv; i++) {
    guint64 base = proc_frames_at (v[i], t);
    gint64 r = proc_wait_frames_above (v[i], t, base, limit_ms);

    tp_check (r >= 0, "%s: no frame decoded within %u ms of %s (stuck at %"
        G_GUINT64_FORMAT ")", v[i]->name, limit_ms, what, proc_frames (v[i]));
    tp_note ("%s decodes again %.0f ms after %s", v[i]->name, (r - t) / 1e3,
        what);
    worst = MAX (worst, r - t);
  }
  return worst;
}

/* "conn reconnecting" then "conn resumed" after @t; returns when it noticed
 * (µs after @t). */
static gint64
check_reconnected (Proc * p, gint64 t, guint notice_ms, guint resume_ms)
{
  gint64 rec = proc_wait_line (p, t, "^conn reconnecting", NULL, notice_ms);
  gint64 res;

  tp_check (rec >= 0, "%s: no diode-connection 'reconnecting' within %u ms",
      p->name, notice_ms);
  res = proc_wait_line (p, rec, "^conn resumed", NULL, resume_ms);
  tp_check (res >= 0, "%s: 'reconnecting' at +%.0f ms but no 'resumed' within "
      "%u ms", p->name, (rec - t) / 1e3, resume_ms);
  return rec - t;
}

/* ------------------------------------------------------------------------ */
/* a. kill -9 the relay, start it again on the same port */

static void
test_relay_kill (void)
{
  Scene s;
  Proc *relay2, *all[4];
  guint port, i;
  gint64 t_kill, t_restart, worst;

  scene_start (&s, 3, NULL, NULL, NULL);
  port = s.relay->port;

  t_kill = g_get_monotonic_time ();
  tp_note ("kill -9 the relay (pid %d)", proc_pid (s.relay));
  proc_kill9 (s.relay);
  tp_sleep_ms (500);
  relay2 = relay_start ("relay2", port, NULL);
  t_restart = g_get_monotonic_time ();
  tp_note ("relay restarted on port %u, same key", port);

  worst = check_resume (s.v, s.nv, t_restart, 5000, "the restart");
  all[0] = s.pub;
  for (i = 0; i < 3; i++)
    all[i + 1] = s.v[i];
  for (i = 0; i < 4; i++)
    check_reconnected (all[i], t_kill, 1000, 5000);
  check_rate (s.v, s.nv, 2000, 0.75);
  for (i = 0; i < 4; i++)
    check_no_restart (all[i]);

  for (i = 0; i < s.nv; i++)
    peer_quit (s.v[i]);
  peer_quit (s.pub);
  for (i = 0; i < s.nv; i++) {
    guint64 missed = peer_stat (s.v[i], "buffers-missed");
    tp_check (peer_stat (s.v[i], "reconnects") == 1, "%s: stats say %"
        G_GUINT64_FORMAT " reconnects, want 1", s.v[i]->name,
        peer_stat (s.v[i], "reconnects"));
    /* A relay that restarted numbers from 1 again: that is a new run, not
     * billions of lost buffers. */
    tp_check (missed < 10000, "%s: stats say buffers-missed=%" G_GUINT64_FORMAT
        " after the relay restart (the new relay numbers from 1 again: "
        "diodesrc computes the gap as new seq - last seq - 1, which wraps)",
        s.v[i]->name, missed);
  }
  tp_check (peer_stat (s.pub, "reconnects") == 1, "publisher: stats say %"
      G_GUINT64_FORMAT " reconnects, want 1", peer_stat (s.pub, "reconnects"));
  relay_stop (relay2);
  g_print ("relay-kill: every viewer decoded again at most %.0f ms after the "
      "relay restarted (limit 5000)\n", worst / 1e3);
  proc_free (relay2);
  s.relay->exited = TRUE;
  scene_free (&s);
}

/* ------------------------------------------------------------------------ */
/* b. SIGSTOP the relay for 4 s (a frozen peer), then SIGCONT */

static void
test_relay_stop (void)
{
  Scene s;
  Proc *all[4];
  gint64 t_stop, t_cont, worst_notice = 0, worst;
  guint i;

  scene_start (&s, 3, NULL, NULL, NULL);
  all[0] = s.pub;
  for (i = 0; i < 3; i++)
    all[i + 1] = s.v[i];

  t_stop = g_get_monotonic_time ();
  tp_note ("SIGSTOP the relay for 4 s");
  proc_signal (s.relay, SIGSTOP);
  tp_sleep_ms (4000);
  t_cont = g_get_monotonic_time ();
  proc_signal (s.relay, SIGCONT);
  tp_note ("SIGCONT");

  for (i = 0; i < 4; i++) {
    gint64 rec = proc_find (all[i], t_stop, "^conn reconnecting", NULL);

    tp_check (rec >= 0 && rec < t_cont, "%s did not notice the frozen relay "
        "within the 4 s it was stopped (keepalive: 3 x 800 ms)",
        all[i]->name);
    if (i > 0) {
      guint64 last = proc_frames_at (all[i], rec);
      gint64 t_last = proc_frames_above (all[i], 0, last - 1);

      tp_note ("%s posted 'reconnecting' %.0f ms after SIGSTOP (last frame "
          "counted at %+.0f ms, 100 ms ticks)", all[i]->name,
          (rec - t_stop) / 1e3, (t_last - t_stop) / 1e3);
    } else {
      tp_note ("%s posted 'reconnecting' %.0f ms after SIGSTOP", all[i]->name,
          (rec - t_stop) / 1e3);
    }
    tp_check (rec - t_stop <= 3500 * 1000, "%s noticed the frozen relay after "
        "%.0f ms, want about 3 s at most (3 x 800 ms keepalive)",
        all[i]->name, (rec - t_stop) / 1e3);
    worst_notice = MAX (worst_notice, rec - t_stop);
  }
  worst = check_resume (s.v, s.nv, t_cont, 5000, "SIGCONT");
  for (i = 0; i < 4; i++)
    tp_check (proc_wait_line (all[i], t_stop, "^conn resumed", NULL, 5000) >= 0,
        "%s did not post 'resumed' after SIGCONT", all[i]->name);
  check_rate (s.v, s.nv, 2000, 0.75);
  for (i = 0; i < 4; i++)
    check_no_restart (all[i]);
  scene_stop (&s);
  g_print ("relay-stop: every element noticed the frozen relay within %.0f ms "
      "(limit 3500); every viewer decoded again at most %.0f ms after "
      "SIGCONT (limit 5000); nothing hung\n", worst_notice / 1e3, worst / 1e3);
  scene_free (&s);
}

/* ------------------------------------------------------------------------ */
/* c. a viewer that stops reading */

#define BLOCK_MS 6000

static void
test_slow_viewer (void)
{
  Scene s;
  RawViewer *raw;
  gchar *raw_addr, *pattern;
  Proc *healthy[2];
  guint64 before[2];
  gint64 t_block, t_raw, t_drop, t_rawdrop, t_closed, t_unblock;
  guint i;

  scene_start (&s, 3, NULL, NULL, NULL);
  healthy[0] = s.v[0];
  healthy[1] = s.v[1];
  raw_addr = make_identity ("raw");
  raw = raw_viewer_open (s.relay, "raw");
  t_raw = g_get_monotonic_time ();
  tp_note ("raw TLS viewer (port %u) subscribed and reads no more",
      raw->local_port);
  proc_send (s.v[2], "block " G_STRINGIFY (BLOCK_MS));
  t_block = g_get_monotonic_time ();
  for (i = 0; i < 2; i++)
    before[i] = proc_frames (healthy[i]);
  tp_sleep_ms (BLOCK_MS);
  t_unblock = g_get_monotonic_time ();

  /* The others did not notice. */
  for (i = 0; i < 2; i++) {
    guint64 got = proc_frames (healthy[i]) - before[i];
    gint64 gap = proc_max_gap (healthy[i], t_block, t_unblock);

    tp_note ("%s: %" G_GUINT64_FORMAT " frames while viewer3 was blocked, "
        "longest gap %.0f ms", healthy[i]->name, got, gap / 1e3);
    tp_check (got >= 0.8 * FPS * BLOCK_MS / 1000, "%s decoded only %"
        G_GUINT64_FORMAT " frames in %d ms beside a blocked viewer",
        healthy[i]->name, got, BLOCK_MS);
    tp_check (gap < 500 * 1000, "%s stalled %.0f ms beside a blocked viewer",
        healthy[i]->name, gap / 1e3);
    tp_check (proc_count (healthy[i], 0, "^conn reconnecting", NULL) == 0,
        "%s reconnected (it should not have noticed anything)",
        healthy[i]->name);
  }
  /* The relay dropped both non-readers. */
  t_drop = proc_find (s.relay, t_block, s.vaddr[2], "closing");
  if (t_drop < 0)
    t_drop = proc_find (s.relay, t_block, s.vaddr[2], "slow viewer");
  tp_check (t_drop >= 0, "the relay did not drop the blocked viewer (%s) "
      "within %d ms", s.vaddr[2], BLOCK_MS);
  tp_note ("relay dropped the blocked viewer after %.0f ms",
      (t_drop - t_block) / 1e3);
  tp_check (t_drop - t_block < 4000 * 1000, "the relay dropped the blocked "
      "viewer only after %.0f ms (keepalive: 3 x 800 ms)",
      (t_drop - t_block) / 1e3);
  pattern = g_strdup_printf ("127.0.0.1:%u", raw->local_port);
  t_rawdrop = proc_find (s.relay, t_raw, raw_addr, "closing");
  if (t_rawdrop < 0)
    t_rawdrop = proc_find (s.relay, t_raw, raw_addr, "slow viewer");
  tp_check (t_rawdrop >= 0, "the relay did not drop the raw viewer that never "
      "reads (%s, %s) within %d ms", raw_addr, pattern, BLOCK_MS);
  tp_note ("relay dropped the raw viewer after %.0f ms",
      (t_rawdrop - t_raw) / 1e3);
  t_closed = raw_viewer_wait_closed (raw, 5000);
  tp_check (t_closed >= 0, "the raw viewer's connection was not closed by the "
      "relay (no FIN/RST within 5 s of reading again)");
  g_free (pattern);

  /* The blocked viewer comes back by itself. */
  check_reconnected (s.v[2], t_block, BLOCK_MS + 2000, 5000);
  check_resume (&s.v[2], 1, t_unblock, 5000, "it was unblocked");
  for (i = 0; i < 3; i++)
    check_no_restart (s.v[i]);
  check_no_restart (s.pub);
  scene_stop (&s);
  g_print ("slow-viewer: healthy viewers unaffected; relay dropped the "
      "blocked diodesrc after %.0f ms and the raw TLS non-reader after %.0f "
      "ms; the diodesrc resumed by itself\n", (t_drop - t_block) / 1e3,
      (t_rawdrop - t_raw) / 1e3);
  raw_viewer_free (raw);
  g_free (raw_addr);
  scene_free (&s);
}

/* ------------------------------------------------------------------------ */
/* d. the publisher dies and a new one (same identity) takes over */

static void
test_publisher_restart (void)
{
  Scene s;
  const gchar *relay_opts[] = { "--grace", "10000", NULL };
  guint64 disc[8];
  gint64 t_kill, t_new, worst;
  guint i;

  scene_start (&s, 3, relay_opts, NULL, NULL);
  for (i = 0; i < s.nv; i++)
    disc[i] = proc_discont (s.v[i]);
  t_kill = g_get_monotonic_time ();
  tp_note ("kill -9 the publisher");
  proc_kill9 (s.pub);
  proc_free (s.pub);
  tp_check (proc_wait_line (s.relay, t_kill, "without EOS", NULL, 3000) >= 0,
      "the relay did not notice the publisher's death within 3 s");
  tp_sleep_ms (1000);
  s.pub = peer_start ("pub2", "pub", s.relay, "pub", NULL, ns_pub);
  t_new = g_get_monotonic_time ();
  tp_note ("new publisher, same identity, PLAYING");
  worst = check_resume (s.v, s.nv, t_new, 5000, "the new publisher started");
  check_rate (s.v, s.nv, 2000, 0.75);
  for (i = 0; i < s.nv; i++) {
    tp_check (proc_discont (s.v[i]) > disc[i], "%s: no DISCONT buffer after the "
        "publisher changed", s.v[i]->name);
    tp_check (proc_count (s.v[i], t_kill, "^conn ", NULL) == 0, "%s changed its "
        "connection (the relay keeps viewers through the grace period)",
        s.v[i]->name);
    check_no_restart (s.v[i]);
  }
  scene_stop (&s);
  g_print ("publisher-restart: viewers decoded the new publisher at most "
      "%.0f ms after it started (limit 5000), DISCONT seen, same viewer "
      "connections\n", worst / 1e3);
  scene_free (&s);
}

/* ------------------------------------------------------------------------ */
/* d2. the camera's own relay list (issue 9): publisher and viewers given
 * relay=A,B; kill -9 A mid-stream (@frozen: SIGSTOP it instead, so only
 * the keepalive, 3 x 800 ms of silence, tells): every one moves to B by
 * itself, with no pipeline error and no restart. Both relays run with the
 * run's key, so the peers' relay-id pins both entries. */

static void
relay_failover (gboolean frozen)
{
  /* Killed: the kernel closes A's sockets at once. Frozen: the keepalive
   * notices after 2.4 s of silence. */
  guint notice_ms = frozen ? 4000 : 1000;
  Proc *a, *b, *pub, *v[2], *all[3];
  gchar *set_list, *want_b;
  const gchar *sets[2];
  guint64 disc[2];
  gint64 t_kill, worst = 0;
  guint i;

  a = relay_start ("relayA", 0, NULL);
  b = relay_start ("relayB", 0, NULL);
  set_list = g_strdup_printf ("relay=%s:%u,%s:%u", relay_host, a->port,
      relay_host, b->port);
  want_b = g_strdup_printf ("relay=%s:%u", relay_host, b->port);
  sets[0] = set_list;
  sets[1] = NULL;
  g_free (make_identity ("pub"));
  pub = peer_start ("pub", "pub", a, "pub", sets, ns_pub);
  for (i = 0; i < 2; i++) {
    gchar *n = g_strdup_printf ("viewer%u", i + 1);

    g_free (make_identity (n));
    v[i] = peer_start (n, "view", a, n, sets, ns_relay);
    g_free (n);
  }
  wait_decoding (v, 2, 30, 20000);
  tp_check (proc_find (a, 0, "publishes", NULL) >= 0, "the publisher is not on "
      "relay A, the first of its list");
  tp_check (proc_find (b, 0, "publishes", NULL) < 0, "the publisher went to "
      "relay B before A failed");
  tp_note ("publisher and 2 viewers decoding through relay A");

  for (i = 0; i < 2; i++)
    disc[i] = proc_discont (v[i]);
  t_kill = g_get_monotonic_time ();
  tp_note ("%s relay A (pid %d); relay B stays", frozen ? "SIGSTOP" : "kill -9",
      proc_pid (a));
  if (frozen)
    proc_signal (a, SIGSTOP);
  else
    proc_kill9 (a);
  /* The first buffer through B is flagged DISCONT (the publisher restarts
   * at a keyframe there): when a viewer's DISCONT count moves, B's frames
   * reach it (to the 100 ms tick). Frames decoded before that may be the
   * tail of what came through A. */
  for (i = 0; i < 2; i++) {
    gint64 end = t_kill + (gint64) (notice_ms + 4000) * 1000;

    while (proc_discont (v[i]) == disc[i]) {
      tp_check (g_get_monotonic_time () < end, "%s: no buffer through relay B "
          "within %u ms of relay A's %s", v[i]->name, notice_ms + 4000,
          frozen ? "freeze" : "death");
      tp_sleep_ms (10);
    }
    tp_note ("%s gets relay B's frames %.0f ms after relay A's %s", v[i]->name,
        (g_get_monotonic_time () - t_kill) / 1e3, frozen ? "freeze" :
        "death");
    worst = MAX (worst, g_get_monotonic_time () - t_kill);
  }
  all[0] = pub;
  all[1] = v[0];
  all[2] = v[1];
  for (i = 0; i < 3; i++) {
    check_reconnected (all[i], t_kill, notice_ms, 5000);
    tp_check (proc_find (all[i], t_kill, "^conn resumed", want_b) >= 0,
        "%s did not resume on relay B (%s)", all[i]->name, want_b);
  }
  tp_check (proc_wait_line (b, t_kill, "publishes", NULL, 5000) >= 0,
      "relay B never saw the publisher");
  /* The publisher resumes on B at its next keyframe (GOP 1 s): what the
   * viewers decoded until then may be the tail of what came through A.
   * Measure the rate once B's frames flow. */
  for (i = 0; i < 2; i++)
    wait_decoding (&v[i], 1, proc_frames (v[i]) + 15, 5000);
  check_rate (v, 2, 2000, 0.75);
  for (i = 0; i < 3; i++)
    check_no_restart (all[i]);

  for (i = 0; i < 2; i++)
    peer_quit (v[i]);
  peer_quit (pub);
  for (i = 0; i < 3; i++) {
    tp_check (peer_stat (all[i], "failovers") == 1, "%s: stats say %"
        G_GUINT64_FORMAT " failovers, want 1", all[i]->name,
        peer_stat (all[i], "failovers"));
    tp_note ("%s: reconnects=%" G_GUINT64_FORMAT, all[i]->name,
        peer_stat (all[i], "reconnects"));
  }
  for (i = 0; i < 2; i++)
    tp_note ("%s: buffers-missed=%" G_GUINT64_FORMAT " discont=%"
        G_GUINT64_FORMAT, v[i]->name, peer_stat (v[i], "buffers-missed"),
        peer_stat (v[i], "discont"));
  relay_stop (b);
  g_print ("%s: every viewer got relay B's frames at most %.0f ms after "
      "relay A was %s (limit %u)\n", tp_test_name, worst / 1e3,
      frozen ? "frozen" : "killed", notice_ms + 4000);
  for (i = 0; i < 3; i++)
    proc_free (all[i]);
  if (frozen) {
    proc_signal (a, SIGCONT);
    relay_stop (a);
  }
  a->exited = TRUE;
  proc_free (a);
  proc_free (b);
  g_free (set_list);
  g_free (want_b);
}

static void
test_relay_failover (void)
{
  relay_failover (FALSE);
}

static void
test_relay_failover_frozen (void)
{
  relay_failover (TRUE);
}

/* ------------------------------------------------------------------------ */
/* e. the listening port is taken */

static void
test_port_taken (void)
{
  struct sockaddr_in sa = { 0 };
  socklen_t sl = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gchar *addr, *out;
  gint status;
  const gchar *args[8];

  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  tp_check (fd >= 0 && bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0
      && listen (fd, 1) == 0, "cannot take a port: %s", g_strerror (errno));
  getsockname (fd, (struct sockaddr *) &sa, &sl);
  addr = g_strdup_printf ("127.0.0.1:%u", ntohs (sa.sin_port));

  args[0] = "--listen";
  args[1] = addr;
  args[2] = "--identity";
  args[3] = relay_key;
  args[4] = "--print-id";
  args[5] = NULL;
  out = relay_run_expect_exit (args, &status);
  tp_check (status != 0, "diode-relay exited with status 0 although %s is taken",
      addr);
  tp_check (strstr (out, addr) != NULL, "diode-relay's message does not name "
      "the address %s:\n%s", addr, out);
  tp_check (strstr (out, "in use") != NULL, "diode-relay's message does not say "
      "the address is in use:\n%s", out);
  tp_check (strstr (out, "listening") == NULL, "diode-relay says it listens "
      "although it cannot:\n%s", out);
  g_print ("port-taken: exit status %d, \"%s\"\n", status, g_strstrip (out));
  g_free (out);
  g_free (addr);
  close (fd);
}

/* ------------------------------------------------------------------------ */
/* f. an identity file (or the disk) that cannot be read */

static void
expect_relay_refuses_key (const gchar * what, const gchar * path)
{
  const gchar *args[] = { "--listen", "127.0.0.1:0", "--identity", path,
    "--print-id", NULL
  };
  gint status;
  gchar *out = relay_run_expect_exit (args, &status);

  tp_check (status != 0, "diode-relay started with %s as its key (%s)", what,
      path);
  tp_check (strstr (out, path) != NULL, "diode-relay refused %s but its "
      "message does not name %s:\n%s", what, path, out);
  g_print ("identity-bad: relay, %s: exit status %d, \"%s\"\n", what, status,
      g_strstrip (out));
  g_free (out);
}

static void
expect_peer_refuses_key (Proc * relay, const gchar * role,
    const gchar * what, const gchar * path)
{
  gchar *name = g_strdup_printf ("%s-badkey", role);
  Proc *p = peer_start_full (name, role, relay, path, NULL, NULL, FALSE);
  gchar *err;

  tp_check (proc_wait_exit (p, 15000), "%s with %s as its key neither failed "
      "nor exited within 15 s", name, what);
  err = proc_find_text (p, 0, "^error ", NULL);
  tp_check (err != NULL, "%s: no error message with %s as its key", name, what);
  tp_check (g_str_has_prefix (err, "error gst-resource-error-quark "),
      "%s: the error is not a GST_RESOURCE_ERROR: %s", name, err);
  tp_check (strstr (err, path) != NULL, "%s: the error does not name %s: %s",
      name, path, err);
  tp_check (proc_find (p, 0, "start failed", NULL) >= 0 && p->status == 4,
      "%s: the pipeline did not fail to start (status %d)", name, p->status);
  tp_check (proc_find (p, 0, "ready", NULL) < 0, "%s reached PLAYING", name);
  g_print ("identity-bad: %s, %s: %s\n", role, what, err);
  g_free (err);
  g_free (name);
  proc_free (p);
}

static void
test_identity_bad (void)
{
  gchar *dir = g_build_filename (tp_tmp_dir, "key-is-a-dir", NULL);
  gchar *garbage = g_build_filename (tp_tmp_dir, "garbage.pem", NULL);
  gchar *plain = g_build_filename (tp_tmp_dir, "plain-file", NULL);
  gchar *under = g_build_filename (plain, "identity.pem", NULL);
  gchar *nodir = g_build_filename (tp_tmp_dir, "no-such-dir", "stats.json",
      NULL);
  const gchar *junk = "this is not a key\n";
  const gchar *relay_opts[] = { "--stats-file", nodir, "--stats-interval",
    "1", NULL
  };
  gchar *contents = NULL;
  Scene s;
  gint64 t;

  tp_check (g_mkdir (dir, 0700) == 0, "mkdir %s", dir);
  tp_check (g_file_set_contents (garbage, junk, -1, NULL), "write %s", garbage);
  tp_check (g_file_set_contents (plain, "x", -1, NULL), "write %s", plain);

  expect_relay_refuses_key ("a directory", dir);
  expect_relay_refuses_key ("a file of garbage", garbage);
  tp_check (g_file_get_contents (garbage, &contents, NULL, NULL)
      && !strcmp (contents, junk), "diode-relay changed %s", garbage);
  g_free (contents);
  expect_relay_refuses_key ("a path that cannot be created", under);
  if (geteuid () != 0) {
    gchar *locked = g_build_filename (tp_tmp_dir, "locked.pem", NULL);
    gchar *a = NULL;

    a = make_identity ("locked");
    g_free (a);
    g_chmod (locked, 0);
    expect_relay_refuses_key ("an unreadable file (mode 000)", locked);
    g_free (locked);
  } else {
    g_print ("identity-bad: unreadable-file (mode 000) case not run: root "
        "reads any file\n");
  }

  /* A good relay whose stats file cannot be written keeps relaying. */
  scene_start (&s, 1, relay_opts, NULL, NULL);
  t = proc_wait_line (s.relay, 0, "cannot write stats to", nodir, 3000);
  tp_check (t >= 0, "the relay did not say it cannot write %s", nodir);
  check_rate (s.v, 1, 1500, 0.75);

  expect_peer_refuses_key (s.relay, "pub", "a file of garbage", garbage);
  expect_peer_refuses_key (s.relay, "view", "a directory", dir);
  expect_peer_refuses_key (s.relay, "pub", "a path that cannot be created",
      under);
  check_no_restart (s.v[0]);
  scene_stop (&s);
  scene_free (&s);
  g_free (dir);
  g_free (garbage);
  g_free (plain);
  g_free (under);
  g_free (nodir);
}

/* ------------------------------------------------------------------------ */
/* g. max-reconnects=2 and the relay gone for good */

static void
check_gave_up (Proc * p, gint64 t, guint limit_ms, gint64 * took)
{
  gint64 g, e;
  gchar *err;

  tp_check (proc_wait_exit (p, limit_ms + 2000), "%s still runs %u ms after "
      "the relay went away (max-reconnects=2)", p->name, limit_ms + 2000);
  g = proc_find (p, t, "^conn gave-up", "attempt=2");
  tp_check (g >= 0, "%s: no diode-connection 'gave-up' with attempt=2", p->name);
  tp_check (proc_find (p, t, "^conn reconnecting", NULL) >= 0
      && proc_find (p, t, "^conn reconnecting", NULL) <= g,
      "%s: 'gave-up' without 'reconnecting' first", p->name);
  e = proc_find (p, g, "^error ", NULL);
  err = proc_find_text (p, g, "^error ", NULL);
  tp_check (e >= 0 && err, "%s: 'gave-up' but no error message", p->name);
  tp_check (strstr (err, "Gave up reconnecting") && strstr (err, "2 attempts")
      && strstr (err, "gst-resource-error-quark"), "%s: unclear error: %s",
      p->name, err);
  tp_check (p->status == 3, "%s exited with %d, want 3 (error)", p->name,
      p->status);
  tp_check (e - t <= (gint64) limit_ms * 1000, "%s gave up after %.0f ms, "
      "want at most %u", p->name, (e - t) / 1e3, limit_ms);
  tp_note ("%s: error %.0f ms after the relay went: %s", p->name, (e - t) / 1e3,
      err);
  *took = e - t;
  g_free (err);
}

static void
run_give_up (gboolean frozen)
{
  Scene s;
  const gchar *sets[] = { "max-reconnects=2", NULL };
  gint64 t, tv, tp;
  /* Killed: refused at once, 100 + 200 ms of backoff: ~0.3 s. Frozen:
   * noticed after 3 x 800 ms, then two attempts whose TLS handshake times
   * out (3 s each, GST_DIODE_RECONNECT_CONNECT_TIMEOUT) after 100 and
   * 200 ms of backoff, each close waiting up to 500 ms for the relay's
   * goodbye: ~10.2 s. */
  guint limit = frozen ? 12000 : 3000;

  scene_start (&s, 1, NULL, sets, sets);
  t = g_get_monotonic_time ();
  if (frozen) {
    tp_note ("SIGSTOP the relay, for good");
    proc_signal (s.relay, SIGSTOP);
  } else {
    tp_note ("kill -9 the relay, for good");
    proc_kill9 (s.relay);
  }
  check_gave_up (s.v[0], t, limit, &tv);
  check_gave_up (s.pub, t, limit, &tp);
  g_print ("%s: with max-reconnects=2, diodesrc failed %.0f ms and "
      "diodesink %.0f ms after the relay %s (limit %u ms)\n", tp_test_name,
      tv / 1e3, tp / 1e3, frozen ? "froze" : "died", limit);
  if (frozen) {
    proc_signal (s.relay, SIGCONT);
    relay_stop (s.relay);
  }
  s.relay->exited = TRUE;
  scene_free (&s);
}

static void
test_give_up (void)
{
  run_give_up (FALSE);
}

static void
test_give_up_frozen (void)
{
  run_give_up (TRUE);
}

/* ------------------------------------------------------------------------ */
/* h. a real network path between the publisher and the relay */

static void
tc (const gchar * ns, const gchar * cmd)
{
  gchar *line = g_strdup_printf ("tc -n %s %s", ns, cmd);
  gchar **argv = g_strsplit (line, " ", -1);
  gchar *err = NULL;
  gint status = -1;

  tp_note ("%s", line);
  tp_check (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
          NULL, &err, &status, NULL) && g_spawn_check_wait_status (status,
          NULL), "'%s' failed: %s", line, err ? err : "");
  g_strfreev (argv);
  g_free (err);
  g_free (line);
}

static void
partition (gboolean on)
{
  gchar *a, *b;

  if (on) {
    /* A queue of length 0 drops every packet, silently, both ways: the
     * TCP connections stay half-open, nothing tells either end. */
    a = g_strdup_printf ("qdisc replace dev %s root pfifo limit 0", pub_dev);
    b = g_strdup_printf ("qdisc replace dev %s root pfifo limit 0", relay_dev);
  } else {
    a = g_strdup_printf ("qdisc del dev %s root", pub_dev);
    b = g_strdup_printf ("qdisc del dev %s root", relay_dev);
  }
  tc (ns_pub, a);
  tc (ns_relay, b);
  g_free (a);
  g_free (b);
}

#define PARTITION_MS 6000

/* Partition then heal; the publisher must notice, and viewers (beside the
 * relay) resume after the heal. */
static void
partition_and_heal (Scene * s, gboolean netem)
{
  gint64 t_part, t_heal, rec, worst;
  gchar *a = NULL, *b = NULL;
  guint i;

  t_part = g_get_monotonic_time ();
  if (netem) {
    a = g_strdup_printf ("qdisc change dev %s root netem loss 100%%", pub_dev);
    b = g_strdup_printf ("qdisc change dev %s root netem loss 100%%",
        relay_dev);
    tc (ns_pub, a);
    tc (ns_relay, b);
  } else {
    partition (TRUE);
  }
  tp_sleep_ms (PARTITION_MS);
  t_heal = g_get_monotonic_time ();
  if (netem) {
    g_free (a);
    g_free (b);
    a = g_strdup_printf ("qdisc change dev %s root netem delay 40ms 10ms "
        "loss 1%%", pub_dev);
    b = g_strdup_printf ("qdisc change dev %s root netem delay 40ms 10ms",
        relay_dev);
    tc (ns_pub, a);
    tc (ns_relay, b);
  } else {
    partition (FALSE);
  }
  g_free (a);
  g_free (b);

  rec = proc_find (s->pub, t_part, "^conn reconnecting", NULL);
  tp_check (rec >= 0 && rec - t_part <= 3500 * 1000, "the publisher did not "
      "notice the partition within 3.5 s (%s)", rec < 0 ? "never" : "late");
  tp_note ("publisher noticed the partition after %.0f ms", (rec - t_part) / 1e3);
  tp_check (proc_find (s->relay, t_part, s->pub_addr, "closing") >= 0,
      "the relay did not close the silent publisher during the %d ms "
      "partition", PARTITION_MS);
  for (i = 0; i < s->nv; i++)
    tp_check (proc_count (s->v[i], t_part, "^conn ", NULL) == 0, "%s lost its "
        "connection although only the publisher's path failed",
        s->v[i]->name);
  /* A SYN lost in the partition is sent again 1 s later, then 2 s; plus a
   * keyframe every second. */
  worst = check_resume (s->v, s->nv, t_heal, 8000, "the heal");
  tp_check (proc_wait_line (s->pub, t_heal - PARTITION_MS * 1000,
          "^conn resumed", NULL, 1000) >= 0, "the publisher did not post "
      "'resumed'");
  check_rate (s->v, s->nv, 2000, 0.6);
  g_print ("%s: publisher noticed the partition after %.0f ms; viewers "
      "decoded again at most %.0f ms after the heal (limit 8000)\n",
      tp_test_name, (rec - t_part) / 1e3, worst / 1e3);
}

static void
test_netns_partition (void)
{
  Scene s;
  const gchar *relay_opts[] = { "--grace", "30000", NULL };
  guint i;

  tp_check (ns_relay && ns_pub && relay_dev && pub_dev, "netns-* tests need "
      "--ns-relay, --ns-pub, --relay-dev, --pub-dev (run through netns.sh)");
  scene_start (&s, 2, relay_opts, NULL, NULL);
  partition_and_heal (&s, FALSE);
  for (i = 0; i < s.nv; i++)
    check_no_restart (s.v[i]);
  check_no_restart (s.pub);
  scene_stop (&s);
  scene_free (&s);
}

static void
test_netns_netem (void)
{
  Scene s;
  const gchar *relay_opts[] = { "--grace", "30000", NULL };
  gchar *a, *b;
  gint64 t0;
  guint i;

  tp_check (ns_relay && ns_pub && relay_dev && pub_dev, "netns-* tests need "
      "--ns-relay, --ns-pub, --relay-dev, --pub-dev (run through netns.sh)");
  /* 80-100 ms round trip, 1 % loss from the publisher. */
  a = g_strdup_printf ("qdisc replace dev %s root netem delay 40ms 10ms "
      "loss 1%%", pub_dev);
  b = g_strdup_printf ("qdisc replace dev %s root netem delay 40ms 10ms",
      relay_dev);
  tc (ns_pub, a);
  tc (ns_relay, b);
  g_free (a);
  g_free (b);
  scene_start (&s, 2, relay_opts, NULL, NULL);
  t0 = g_get_monotonic_time ();
  /* A slow, lossy path is not a dead one: no false keepalive alarm. */
  check_rate (s.v, s.nv, 10000, 0.7);
  tp_check (proc_count (s.pub, t0, "^conn ", NULL) == 0, "the publisher "
      "reconnected over a slow but live path (keepalive false alarm)");
  partition_and_heal (&s, TRUE);
  for (i = 0; i < s.nv; i++)
    check_no_restart (s.v[i]);
  check_no_restart (s.pub);
  scene_stop (&s);
  scene_free (&s);
}

/* ------------------------------------------------------------------------ */

static const FaultTest tests[] = {
  {"relay-kill", test_relay_kill},
  {"relay-stop", test_relay_stop},
  {"slow-viewer", test_slow_viewer},
  {"publisher-restart", test_publisher_restart},
  {"relay-failover", test_relay_failover},
  {"relay-failover-frozen", test_relay_failover_frozen},
  {"port-taken", test_port_taken},
  {"identity-bad", test_identity_bad},
  {"give-up", test_give_up},
  {"give-up-frozen", test_give_up_frozen},
  {"netns-partition", test_netns_partition},
  {"netns-netem", test_netns_netem},
};

int
main (int argc, char **argv)
{
  GOptionEntry entries[] = {
    {"ns-relay", 0, 0, G_OPTION_ARG_STRING, &ns_relay,
        "Network namespace of the relay and the viewers", "NS"},
    {"ns-pub", 0, 0, G_OPTION_ARG_STRING, &ns_pub,
        "Network namespace of the publisher", "NS"},
    {"relay-host", 0, 0, G_OPTION_ARG_STRING, &relay_host,
        "Address the relay listens on (default 127.0.0.1)", "IP"},
    {"relay-dev", 0, 0, G_OPTION_ARG_STRING, &relay_dev,
        "The relay namespace's end of the link", "DEV"},
    {"pub-dev", 0, 0, G_OPTION_ARG_STRING, &pub_dev,
        "The publisher namespace's end of the link", "DEV"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("TEST - gst-diode fault tests");
  GError *err = NULL;
  guint i;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err) || argc != 2) {
    g_printerr ("test-faults: %s\ntests:", err ? err->message :
        "name one test");
    for (i = 0; i < G_N_ELEMENTS (tests); i++)
      g_printerr (" %s", tests[i].name);
    g_printerr ("\n");
    return 2;
  }
  g_option_context_free (ctx);
  if (!faults_setup ("test-faults"))
    return 1;
  return faults_run ("test-faults", tests, G_N_ELEMENTS (tests), argv[1]);
}
