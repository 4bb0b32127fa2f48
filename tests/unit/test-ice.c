/* gst-diode — unit tests: one ICE connection as a byte stream (diode-ice)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Two real libnice agents in one process on loopback (host candidates on
 * 127.0.0.1 only), the test carrying credentials and candidates between
 * them as the relay does with SIGNAL frames. Both transports connect and
 * carry 20 MB each way byte-identical with a clean close; a reader that
 * stops holds the writer back within the bound; wrong credentials fail
 * within the timeout; a STUN server in the test (diode_stun_answer on a
 * real UDP socket) yields a server-reflexive candidate; the URI checks.
 */
#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>

#include "diode-ice.h"
#include "diode-stun.h"

static const gchar *const loopback[] = { "127.0.0.1", NULL };

typedef struct _Pair Pair;

typedef struct {
  Pair *pair;
  DiodeIce *ice;
  gboolean is_a;
  gboolean connected, failed, gathered;
  gchar *pair_types;
  gchar *fail_reason;
  GPtrArray *candidates;
  int fd;
} End;

struct _Pair {
  End a, b;               /* a controls (the viewer), b (the publisher) */
  gboolean spoil_credentials;   /* give a a wrong password of b's */
  gboolean drop_tcp;            /* carry no TCP candidate (a NAT would not) */
  gboolean relay_only;          /* carry only relayed candidates (TURN) */
};

/* for pair_new: a TURN server for both ends, or NULL */
static const gchar *pair_turn_uri;

static void
end_event (DiodeIceEvent ev, const gchar * text, gpointer data)
{
  End *e = data;
  End *other = e->is_a ? &e->pair->b : &e->pair->a;
  GError *err = NULL;

  switch (ev) {
    case DIODE_ICE_EVENT_CREDENTIALS:
      if (e->pair->spoil_credentials && !e->is_a) {
        /* a valid form, the wrong password: the checks cannot succeed */
        gchar **parts = g_strsplit (text, " ", 2);
        gchar *bad = g_strdup_printf ("%s %s", parts[0],
            "WrongPasswordWrongPassword");
        fail_unless (diode_ice_set_remote_credentials (other->ice, bad, &err));
        g_free (bad);
        g_strfreev (parts);
      } else {
        fail_unless (diode_ice_set_remote_credentials (other->ice, text,
                &err), "credentials: %s", err ? err->message : "");
      }
      break;
    case DIODE_ICE_EVENT_CANDIDATE:
      fail_if (g_str_has_prefix (text, "a="));
      g_ptr_array_add (e->candidates, g_strdup (text));
      if (e->pair->drop_tcp && strstr (text, " TCP "))
        break;
      if (e->pair->relay_only && !strstr (text, " typ relay"))
        break;
      fail_unless (diode_ice_add_remote_candidate (other->ice, text, &err),
          "candidate %s: %s", text, err ? err->message : "");
      break;
    case DIODE_ICE_EVENT_GATHERED:
      e->gathered = TRUE;
      diode_ice_remote_gathered (other->ice);
      break;
    case DIODE_ICE_EVENT_CONNECTED:
      GST_INFO ("%s: connected: %s", e->is_a ? "a" : "b", text);
      e->connected = TRUE;
      e->pair_types = g_strdup (text);
      e->fd = diode_ice_take_fd (e->ice);
      fail_unless (e->fd >= 0);
      fail_unless (diode_ice_take_fd (e->ice) == -1);
      break;
    case DIODE_ICE_EVENT_FAILED:
      GST_INFO ("%s: failed: %s", e->is_a ? "a" : "b", text);
      e->failed = TRUE;
      e->fail_reason = g_strdup (text);
      break;
  }
}

static Pair *
pair_new (DiodeIceTransport transport, guint timeout_ms, gboolean spoil)
{
  Pair *p = g_new0 (Pair, 1);
  DiodeIceConfig cfg = { 0 };
  GError *err = NULL;
  End *ends[2] = { &p->a, &p->b };
  guint i;

  p->spoil_credentials = spoil;
  cfg.transport = transport;
  cfg.connect_timeout_ms = timeout_ms;
  cfg.local_addresses = loopback;
  cfg.turn_server = pair_turn_uri;
  for (i = 0; i < 2; i++) {
    ends[i]->pair = p;
    ends[i]->is_a = (i == 0);
    ends[i]->fd = -1;
    ends[i]->candidates = g_ptr_array_new_with_free_func (g_free);
    cfg.controlling = (i == 0);
    ends[i]->ice = diode_ice_new (NULL, &cfg, end_event, ends[i], &err);
    fail_unless (ends[i]->ice != NULL, "new: %s", err ? err->message : "");
    /* nothing is emitted from inside new() */
    fail_if (ends[i]->candidates->len > 0);
  }
  return p;
}

static void
pair_free (Pair * p)
{
  End *ends[2] = { &p->a, &p->b };
  guint i;

  for (i = 0; i < 2; i++) {
    diode_ice_free (ends[i]->ice);
    if (ends[i]->fd >= 0)
      close (ends[i]->fd);
    g_free (ends[i]->pair_types);
    g_free (ends[i]->fail_reason);
    g_ptr_array_unref (ends[i]->candidates);
  }
  g_free (p);
}

/* Iterates the default context until @cond or @ms pass. */
static gboolean
spin_until (gboolean (*cond) (gpointer), gpointer data, guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!cond (data) && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return cond (data);
}

static gboolean
both_connected (gpointer data)
{
  Pair *p = data;
  return (p->a.connected && p->b.connected) || p->a.failed || p->b.failed;
}

static void
connect_pair (Pair * p)
{
  spin_until (both_connected, p, 15000);
  fail_unless (p->a.connected && p->b.connected,
      "not connected: a %s, b %s", p->a.fail_reason ? p->a.fail_reason : "-",
      p->b.fail_reason ? p->b.fail_reason : "-");
  fail_unless (g_str_has_prefix (p->a.pair_types, "host ")
      || g_str_has_prefix (p->a.pair_types, "prflx "), "%s", p->a.pair_types);
}

/* ---- byte-exact transfer, both ways at once, through the fds */

static inline guint8
pattern (guint64 off, guint seed)
{
  guint32 x = (guint32) (off >> 2) * 2654435761u + seed;
  return (guint8) (x >> (8 * (off & 3)));
}

typedef struct {
  int fd;
  guint seed;
  guint64 total;
  guint64 sent, rcvd;
  gboolean shut, eof, bad;
  gboolean half_close;  /* shut writing when all is sent; expect EOF */
} Xfer;

static gboolean
xfer_step (Xfer * x, Xfer * peer_seed_of_input)
{
  guint8 buf[65536];
  gboolean progress = FALSE;
  gssize n;
  guint64 i;

  if (x->sent < x->total) {
    gsize len = MIN (sizeof (buf), x->total - x->sent);
    for (i = 0; i < len; i++)
      buf[i] = pattern (x->sent + i, x->seed);
    n = write (x->fd, buf, len);
    if (n > 0) {
      x->sent += n;
      progress = TRUE;
    } else
      fail_unless (n < 0 && errno == EAGAIN, "write: %s", g_strerror (errno));
  } else if (!x->shut) {
    /* done writing: a caller's half-close must not cut the other way */
    shutdown (x->fd, SHUT_WR);
    x->shut = TRUE;
  }
  while (!x->eof) {
    n = read (x->fd, buf, sizeof (buf));
    if (n < 0) {
      fail_unless (errno == EAGAIN, "read: %s", g_strerror (errno));
      break;
    }
    if (n == 0) {
      x->eof = TRUE;
      break;
    }
    for (i = 0; i < (guint64) n; i++) {
      if (buf[i] != pattern (x->rcvd + i, peer_seed_of_input->seed))
        x->bad = TRUE;
    }
    x->rcvd += n;
    progress = TRUE;
  }
  return progress;
}

static gboolean
xfer_done (Xfer * x)
{
  return x->half_close ? x->eof : x->rcvd >= x->total;
}

/* Each end shuts its writing after the last byte. @half_close: and waits
 * for the peer's EOF (which DiodeIce does not send: FALSE). */
static void
transfer_both_ways (Pair * p, guint64 bytes, gboolean half_close)
{
  Xfer xa = { p->a.fd, 11, bytes }, xb = { p->b.fd, 97, bytes };
  gint64 start = g_get_monotonic_time ();
  gint64 end = start + 50 * G_USEC_PER_SEC;
  guint64 ao, ai, bo, bi;
  gdouble secs;

  xa.half_close = xb.half_close = half_close;
  while (!(xfer_done (&xa) && xfer_done (&xb))
      && g_get_monotonic_time () < end) {
    gboolean progress = FALSE;
    while (g_main_context_iteration (NULL, FALSE))
      progress = TRUE;
    progress |= xfer_step (&xa, &xb);
    progress |= xfer_step (&xb, &xa);
    if (!progress)
      g_usleep (200);
  }
  secs = (g_get_monotonic_time () - start) / 1e6;
  GST_INFO ("%" G_GUINT64_FORMAT " bytes each way in %.2f s", bytes, secs);
  diode_ice_get_stats (p->a.ice, &ao, &ai);
  diode_ice_get_stats (p->b.ice, &bo, &bi);
  GST_INFO ("a: sent %" G_GUINT64_FORMAT " got %" G_GUINT64_FORMAT
      ", ice out %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT
      "; b: sent %" G_GUINT64_FORMAT " got %" G_GUINT64_FORMAT
      ", ice out %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT,
      xa.sent, xa.rcvd, ao, ai, xb.sent, xb.rcvd, bo, bi);
  fail_unless (xfer_done (&xa) && xfer_done (&xb),
      "not all in time: a got %" G_GUINT64_FORMAT
      ", b got %" G_GUINT64_FORMAT, xa.rcvd, xb.rcvd);
  fail_unless_equals_uint64 (xa.rcvd, bytes);
  fail_unless_equals_uint64 (xb.rcvd, bytes);
  fail_if (xa.bad || xb.bad, "bytes differ");
  diode_ice_get_stats (p->a.ice, &ao, &ai);
  diode_ice_get_stats (p->b.ice, &bo, &bi);
  fail_unless_equals_uint64 (ao, bytes);
  fail_unless_equals_uint64 (ai, bytes);
  fail_unless_equals_uint64 (bo, bytes);
  fail_unless_equals_uint64 (bi, bytes);
}

static void
check_transport (DiodeIceTransport t, gboolean drop_tcp,
    DiodeIceTransport want, guint64 bytes)
{
  Pair *p = pair_new (t, 10000, FALSE);
  gboolean udp = FALSE, tcp = FALSE;
  guint i;

  p->drop_tcp = drop_tcp;
  connect_pair (p);
  /* the candidates are of the transports asked for */
  for (i = 0; i < p->a.candidates->len; i++) {
    const gchar *c = g_ptr_array_index (p->a.candidates, i);
    udp |= strstr (c, " UDP ") != NULL;
    tcp |= strstr (c, " TCP ") != NULL;
  }
  fail_unless (udp == (t != DIODE_ICE_TCP) && tcp == (t != DIODE_ICE_PSEUDOTCP));
  /* and the pair is of the one expected, on both ends */
  fail_unless_equals_int (diode_ice_get_transport (p->a.ice), want);
  fail_unless_equals_int (diode_ice_get_transport (p->b.ice), want);
  fail_unless (p->a.gathered && p->b.gathered);
  /* each end shuts its writing when done: no half-close is sent (libnice
   * cannot), the other direction finishes, nobody fails */
  transfer_both_ways (p, bytes, FALSE);
  fail_if (p->a.failed || p->b.failed);
  pair_free (p);
}

GST_START_TEST (test_pseudotcp_20mb)
{
  check_transport (DIODE_ICE_PSEUDOTCP, FALSE, DIODE_ICE_PSEUDOTCP,
      20 * 1000 * 1000);
}

GST_END_TEST;

GST_START_TEST (test_tcp_20mb)
{
  check_transport (DIODE_ICE_TCP, FALSE, DIODE_ICE_TCP, 20 * 1000 * 1000);
}

GST_END_TEST;

/* AUTO: ICE-TCP when it works; with no TCP candidate carried (TCP blocked,
 * two NATs), pseudo-TCP over UDP */
GST_START_TEST (test_auto)
{
  check_transport (DIODE_ICE_AUTO, FALSE, DIODE_ICE_TCP, 20 * 1000 * 1000);
  check_transport (DIODE_ICE_AUTO, TRUE, DIODE_ICE_PSEUDOTCP,
      4 * 1000 * 1000);
}

GST_END_TEST;

/* ---- flow control: a reader that stops holds the writer back */

/* the last (largest) of a sysctl's three values, tcp_wmem and tcp_rmem */
static guint64
sysctl_max (const gchar * path)
{
  gchar *text = NULL, **f;
  guint64 v = 0;

  if (g_file_get_contents (path, &text, NULL, NULL)) {
    f = g_strsplit_set (g_strstrip (text), " \t", 0);
    if (g_strv_length (f) > 0)
      v = g_ascii_strtoull (f[g_strv_length (f) - 1], NULL, 10);
    g_strfreev (f);
  }
  g_free (text);
  return v;
}

static guint64
sndbuf (int fd)
{
  int v = 0;
  socklen_t l = sizeof (v);

  getsockopt (fd, SOL_SOCKET, SO_SNDBUF, &v, &l);
  return (guint64) v;
}

static void
check_flow_control (DiodeIceTransport t)
{
  Pair *p = pair_new (t, 10000, FALSE);
  Xfer xa, xb;
  gint64 last_progress, end;
  guint64 ao, ai, bo, bi;

  connect_pair (p);
  memset (&xa, 0, sizeof (xa));
  memset (&xb, 0, sizeof (xb));
  xa.fd = p->a.fd;
  xa.seed = 5;
  xa.total = 64 * 1000 * 1000;
  xb.fd = p->b.fd;
  xb.seed = 6;

  /* a writes, b does not read: a's writes must stop */
  last_progress = g_get_monotonic_time ();
  end = last_progress + 20 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end
      && g_get_monotonic_time () - last_progress < G_USEC_PER_SEC) {
    guint64 before = xa.sent;
    guint8 buf[65536];
    gssize n;
    guint i;

    while (g_main_context_iteration (NULL, FALSE));
    for (i = 0; i < sizeof (buf); i++)
      buf[i] = pattern (xa.sent + i, xa.seed);
    n = write (xa.fd, buf, sizeof (buf));
    if (n > 0)
      xa.sent += n;
    if (xa.sent != before)
      last_progress = g_get_monotonic_time ();
    else
      g_usleep (1000);
  }
  diode_ice_get_stats (p->a.ice, &ao, &ai);
  diode_ice_get_stats (p->b.ice, &bo, &bi);
  GST_INFO ("stalled after %" G_GUINT64_FORMAT " bytes (a out %"
      G_GUINT64_FORMAT ", b in %" G_GUINT64_FORMAT ")", xa.sent, ao, bi);
  /* What may be in flight: our two 256 KiB buffers, the socketpairs'
   * kernel buffers, and the transport: pseudo-TCP's windows (small), or,
   * on ICE-TCP, the kernel's TCP buffers (their maxima, autotuned) plus
   * the one chunk libnice may queue. Anything beyond is a buffer of ours
   * or libnice's growing. */
  {
    guint64 kernel_tcp = 0, bound;

    if (t == DIODE_ICE_TCP)
      kernel_tcp = sysctl_max ("/proc/sys/net/ipv4/tcp_wmem")
          + sysctl_max ("/proc/sys/net/ipv4/tcp_rmem");
    bound = 2 * 256 * 1024 + 2 * 2 * sndbuf (p->a.fd) + 1024 * 1024
        + kernel_tcp;
    fail_unless (xa.sent < bound, "writer not held back: %" G_GUINT64_FORMAT
        " bytes, bound %" G_GUINT64_FORMAT, xa.sent, bound);
    fail_unless (bi <= ao);
    fail_unless (ao - bi <= 1024 * 1024 + kernel_tcp, "in the transport: %"
        G_GUINT64_FORMAT, ao - bi);
  }

  /* b reads again: everything arrives, in order, nothing lost */
  xa.total = xa.sent;
  end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (xb.rcvd < xa.sent && g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE));
    if (!xfer_step (&xb, &xa))
      g_usleep (500);
  }
  fail_unless_equals_uint64 (xb.rcvd, xa.sent);
  fail_if (xb.bad);
  pair_free (p);
}

GST_START_TEST (test_flow_control_pseudotcp)
{
  check_flow_control (DIODE_ICE_PSEUDOTCP);
}

GST_END_TEST;

GST_START_TEST (test_flow_control_tcp)
{
  check_flow_control (DIODE_ICE_TCP);
}

GST_END_TEST;

/* ---- wrong credentials: FAILED within the timeout, never CONNECTED */

static gboolean
a_failed (gpointer data)
{
  Pair *p = data;
  return p->a.failed;
}

GST_START_TEST (test_wrong_credentials)
{
  Pair *p = pair_new (DIODE_ICE_PSEUDOTCP, 3000, TRUE);
  gint64 start = g_get_monotonic_time ();

  spin_until (a_failed, p, 6000);
  fail_unless (p->a.failed, "no failure");
  fail_if (p->a.connected || p->b.connected);
  fail_unless ((g_get_monotonic_time () - start) / 1000 <= 4500);
  fail_unless (diode_ice_take_fd (p->a.ice) == -1);
  GST_INFO ("failed: %s", p->a.fail_reason);
  pair_free (p);
}

GST_END_TEST;

/* ---- a peer that disappears: FAILED, and the taken fd reads EOF */

static gboolean
a_eof_or_failed (gpointer data)
{
  Pair *p = data;
  return p->a.failed;
}

GST_START_TEST (test_peer_gone)
{
  Pair *p = pair_new (DIODE_ICE_TCP, 5000, FALSE);
  guint8 c;

  connect_pair (p);
  /* b's agent goes away: its TCP connection closes */
  diode_ice_free (p->b.ice);
  p->b.ice = NULL;
  spin_until (a_eof_or_failed, p, 10000);
  fail_unless (p->a.failed);
  fail_unless (read (p->a.fd, &c, 1) == 0);
  pair_free (p);
}

GST_END_TEST;

/* ---- a STUN server in the test: a srflx candidate */

typedef struct {
  int fd;
  guint answered;
} Stun;

static gboolean
stun_readable (gint fd, GIOCondition cond, gpointer data)
{
  Stun *s = data;
  guint8 req[DIODE_STUN_MAX_REQUEST + 1], out[DIODE_STUN_MAX_ANSWER];
  struct sockaddr_in from;
  socklen_t fl = sizeof (from);
  gssize n;
  gsize an;
  DiodeStunAddr mapped = { DIODE_STUN_FAMILY_IPV4 };

  n = recvfrom (fd, req, sizeof (req), 0, (struct sockaddr *) &from, &fl);
  if (n <= 0)
    return G_SOURCE_CONTINUE;
  /* On loopback the observed source equals the host candidate, and libnice
   * drops a srflx identical to a host candidate; a NAT would have mapped
   * it, so answer as a NAT in front of 127.0.0.1 would: 127.0.0.2, the
   * port seen + 1000. The answer itself is diode_stun_answer's. */
  memcpy (mapped.addr, (guint8[]) {
      127, 0, 0, 2}, 4);
  mapped.port = ntohs (from.sin_port) + 1000;
  an = diode_stun_answer (req, n, &mapped, out, sizeof (out));
  if (an > 0) {
    sendto (fd, out, an, 0, (struct sockaddr *) &from, fl);
    s->answered++;
  }
  return G_SOURCE_CONTINUE;
}

typedef struct {
  End e;
  gboolean creds;
} Solo;

static void
solo_event (DiodeIceEvent ev, const gchar * text, gpointer data)
{
  Solo *s = data;

  if (ev == DIODE_ICE_EVENT_CREDENTIALS) {
    /* first, before any candidate */
    fail_unless (s->e.candidates->len == 0);
    s->creds = TRUE;
  } else if (ev == DIODE_ICE_EVENT_CANDIDATE) {
    fail_unless (s->creds);
    g_ptr_array_add (s->e.candidates, g_strdup (text));
  } else if (ev == DIODE_ICE_EVENT_GATHERED) {
    s->e.gathered = TRUE;
  }
}

static gboolean
solo_gathered (gpointer data)
{
  Solo *s = data;
  return s->e.gathered;
}

GST_START_TEST (test_stun_srflx)
{
  Stun stun = { -1, 0 };
  struct sockaddr_in sin = { 0 };
  socklen_t sl = sizeof (sin);
  GSource *src;
  DiodeIceConfig cfg = { 0 };
  Solo solo = { {0} };
  gchar *uri, *want;
  GError *err = NULL;
  gboolean found = FALSE;
  guint i;

  stun.fd = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  fail_unless (stun.fd >= 0);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (stun.fd, (struct sockaddr *) &sin, sizeof (sin)) == 0);
  fail_unless (getsockname (stun.fd, (struct sockaddr *) &sin, &sl) == 0);
  src = g_unix_fd_source_new (stun.fd, G_IO_IN);
  g_source_set_callback (src, G_SOURCE_FUNC (stun_readable), &stun, NULL);
  g_source_attach (src, NULL);

  uri = g_strdup_printf ("stun:127.0.0.1:%u", ntohs (sin.sin_port));
  cfg.transport = DIODE_ICE_PSEUDOTCP;
  cfg.stun_server = uri;
  cfg.local_addresses = loopback;
  solo.e.candidates = g_ptr_array_new_with_free_func (g_free);
  solo.e.ice = diode_ice_new (NULL, &cfg, solo_event, &solo, &err);
  fail_unless (solo.e.ice != NULL);
  spin_until (solo_gathered, &solo, 10000);
  fail_unless (solo.e.gathered);
  fail_unless (stun.answered > 0);
  for (i = 0; i < solo.e.candidates->len; i++) {
    const gchar *c = g_ptr_array_index (solo.e.candidates, i);
    GST_INFO ("candidate %s", c);
    if (strstr (c, " typ srflx ") && strstr (c, " 127.0.0.2 ")
        && strstr (c, "raddr 127.0.0.1 "))
      found = TRUE;
  }
  fail_unless (found, "no srflx candidate");
  /* its port is the mapped one: the host candidate's + 1000 */
  for (i = 0; i < solo.e.candidates->len; i++) {
    const gchar *c = g_ptr_array_index (solo.e.candidates, i);
    gchar **f = g_strsplit (c, " ", 0);
    if (g_strv_length (f) >= 8 && strcmp (f[7], "host") == 0) {
      want = g_strdup_printf (" 127.0.0.2 %u typ srflx",
          (guint) atoi (f[5]) + 1000);
      found = FALSE;
      for (guint j = 0; j < solo.e.candidates->len; j++)
        if (strstr (g_ptr_array_index (solo.e.candidates, j), want))
          found = TRUE;
      fail_unless (found, "no %s", want);
      g_free (want);
    }
    g_strfreev (f);
  }
  diode_ice_free (solo.e.ice);
  g_ptr_array_unref (solo.e.candidates);
  g_source_destroy (src);
  g_source_unref (src);
  close (stun.fd);
  g_free (uri);
}

GST_END_TEST;

/* ---- TURN: a real coturn on loopback gives relayed candidates, over UDP
 * and over TCP to the server (turnserver from package coturn) */

static guint16
free_port (void)
{
  struct sockaddr_in sin = { 0 };
  socklen_t sl = sizeof (sin);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  guint16 port;

  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *) &sin, sizeof (sin)) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &sin, &sl) == 0);
  port = ntohs (sin.sin_port);
  close (fd);
  return port;
}

static gboolean
gather_with_turn (const gchar * uri, gchar ** relay_cand)
{
  DiodeIceConfig cfg = { 0 };
  Solo solo = { {0} };
  GError *err = NULL;
  guint i;

  cfg.transport = DIODE_ICE_PSEUDOTCP;
  cfg.turn_server = uri;
  cfg.local_addresses = loopback;
  solo.e.candidates = g_ptr_array_new_with_free_func (g_free);
  solo.e.ice = diode_ice_new (NULL, &cfg, solo_event, &solo, &err);
  fail_unless (solo.e.ice != NULL, "%s", err ? err->message : "");
  spin_until (solo_gathered, &solo, 10000);
  *relay_cand = NULL;
  for (i = 0; i < solo.e.candidates->len; i++) {
    const gchar *c = g_ptr_array_index (solo.e.candidates, i);
    if (strstr (c, " typ relay ") && !*relay_cand)
      *relay_cand = g_strdup (c);
  }
  diode_ice_free (solo.e.ice);
  g_ptr_array_unref (solo.e.candidates);
  /* the TURN allocation is released (nice_agent_close_async) while the
   * context runs: let it */
  {
    gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
    while (g_get_monotonic_time () < until)
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
  }
  return solo.e.gathered;
}

GST_START_TEST (test_turn_relay)
{
  gchar *turnserver = g_find_program_in_path ("turnserver");
  gchar *dir, *log, *cmd, *uri, *cand = NULL, *text = NULL;
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", NULL, NULL };
  GPid pid;
  guint16 port;
  gint64 end;
  GError *err = NULL;

  /* scripts/setup.sh installs coturn: a missing turnserver is a broken
   * setup, not a reason to pass without testing TURN */
  fail_unless (turnserver != NULL, "no turnserver in PATH (package coturn)");
  dir = g_dir_make_tmp ("test-ice-turn-XXXXXX", NULL);
  log = g_build_filename (dir, "turn.log", NULL);
  port = free_port ();
  cmd = g_strdup_printf ("exec '%s' -n --listening-ip=127.0.0.1 "
      "--listening-port=%u --relay-ip=127.0.0.1 --allow-loopback-peers "
      "--min-port=49152 --max-port=49452 --lt-cred-mech "
      "--user=diode:secret --realm=diode.test --userdb='%s/turndb' "
      "--pidfile='%s/turn.pid' --no-tls --no-dtls --no-cli "
      "--log-file=stdout --simple-log > '%s' 2>&1", turnserver, port, dir,
      dir, log);
  argv[2] = cmd;
  fail_unless (g_spawn_async (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
          &pid, &err), "%s", err ? err->message : "");
  /* coturn logs its listeners once they are bound */
  end = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end) {
    g_free (text);
    text = NULL;
    if (g_file_get_contents (log, &text, NULL, NULL)
        && (strstr (text, "istener opened on")
            || strstr (text, "Total General servers")))
      break;
    g_usleep (100 * 1000);
  }
  fail_unless (text && (strstr (text, "istener opened on")
          || strstr (text, "Total General servers")), "coturn did not start");

  uri = g_strdup_printf ("turn://diode:secret@127.0.0.1:%u", port);
  fail_unless (gather_with_turn (uri, &cand));
  fail_unless (cand != NULL, "no relayed candidate over TURN/UDP");
  GST_INFO ("TURN/UDP: %s", cand);
  fail_unless (strstr (cand, " UDP ") != NULL);
  g_clear_pointer (&cand, g_free);
  g_free (uri);

  uri = g_strdup_printf ("turn://diode:secret@127.0.0.1:%u?transport=tcp",
      port);
  fail_unless (gather_with_turn (uri, &cand));
  fail_unless (cand != NULL, "no relayed candidate over TURN/TCP");
  GST_INFO ("TURN/TCP: %s", cand);
  g_clear_pointer (&cand, g_free);
  g_free (uri);

  /* two ends that see each other's relayed candidates only: ICE connects
   * through coturn and carries the stream (pseudo-TCP over TURN/UDP) */
  {
    Pair *p;
    guint64 ao, ai;

    uri = g_strdup_printf ("turn://diode:secret@127.0.0.1:%u", port);
    pair_turn_uri = uri;
    p = pair_new (DIODE_ICE_PSEUDOTCP, 10000, FALSE);
    pair_turn_uri = NULL;
    p->relay_only = TRUE;
    spin_until (both_connected, p, 15000);
    fail_unless (p->a.connected && p->b.connected,
        "not connected through TURN: a %s, b %s",
        p->a.fail_reason ? p->a.fail_reason : "-",
        p->b.fail_reason ? p->b.fail_reason : "-");
    GST_INFO ("through TURN: a %s, b %s", p->a.pair_types, p->b.pair_types);
    fail_unless (strstr (p->a.pair_types, "relay") != NULL);
    transfer_both_ways (p, 2 * 1000 * 1000, FALSE);
    diode_ice_get_stats (p->a.ice, &ao, &ai);
    fail_unless_equals_uint64 (ai, 2 * 1000 * 1000);
    pair_free (p);
    {
      gint64 until = g_get_monotonic_time () + G_USEC_PER_SEC;
      while (g_get_monotonic_time () < until)
        if (!g_main_context_iteration (NULL, FALSE))
          g_usleep (1000);
    }
    g_free (uri);
  }

  /* a wrong password: gathering ends without a relayed candidate */
  uri = g_strdup_printf ("turn://diode:wrong@127.0.0.1:%u", port);
  fail_unless (gather_with_turn (uri, &cand));
  fail_unless (cand == NULL, "relayed with a wrong password: %s", cand);
  g_free (uri);

  kill (pid, SIGTERM);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  g_free (text);
  g_free (cmd);
  g_free (log);
  /* coturn's files */
  {
    gchar *rm = g_strdup_printf ("rm -rf '%s'", dir);
    fail_unless (system (rm) == 0);
    g_free (rm);
  }
  g_free (dir);
  g_free (turnserver);
}

GST_END_TEST;

/* ---- the remote side's input is judged */

GST_START_TEST (test_remote_input)
{
  Pair *p = pair_new (DIODE_ICE_PSEUDOTCP, 3000, FALSE);
  GError *err = NULL;
  static const gchar *bad_creds[] = {
    "", "abcd", "abc 0123456789012345678901", "abcd 0123456789",
    "abcd 012345678901234567890!", "ab\ncd 0123456789012345678901",
    "abcd  0123456789012345678901", NULL
  };
  guint i;

  for (i = 0; bad_creds[i]; i++) {
    fail_if (diode_ice_set_remote_credentials (p->a.ice, bad_creds[i], &err),
        "accepted %s", bad_creds[i]);
    g_clear_error (&err);
  }
  fail_unless (diode_ice_set_remote_credentials (p->a.ice,
          "abcd 0123456789012345678901", NULL));
  fail_if (diode_ice_add_remote_candidate (p->a.ice, "garbage", &err));
  g_clear_error (&err);
  fail_if (diode_ice_add_remote_candidate (p->a.ice,
          "candidate:1 1 UDP 1 10.0.0.1 5000 typ host\x01", &err));
  g_clear_error (&err);
  /* another transport: ignored, not an error */
  fail_unless (diode_ice_add_remote_candidate (p->a.ice,
          "candidate:1 1 TCP 2128609279 10.0.0.1 9 typ host tcptype active",
          &err), "%s", err ? err->message : "");
  fail_unless (diode_ice_add_remote_candidate (p->a.ice,
          "candidate:1 1 UDP 2013266431 10.0.0.1 50000 typ host", NULL));
  pair_free (p);
}

GST_END_TEST;

/* ---- URI checks */

GST_START_TEST (test_uris)
{
  static const gchar *good_stun[] = {
    "127.0.0.1:3478", "stun:127.0.0.1:3478", "stun.example.org:19302",
    "stun:stun.example.org", "[2001:db8::1]:3478", "stun:[::1]:3478", NULL
  };
  static const gchar *bad_stun[] = {
    "", "stun:", "stun://1.2.3.4:3478", "1.2.3.4:0", "1.2.3.4:99999",
    "stuns:1.2.3.4:5349", "user@1.2.3.4:3478", "1.2.3.4:3478/x",
    "bad host:3478", "1.2.3.4:abc", NULL
  };
  static const gchar *good_turn[] = {
    "turn://u:p@127.0.0.1:3478", "turn://user:pa%20ss@turn.example.org:3478",
    "turn://u:p@[2001:db8::1]:3478?transport=tcp",
    "turn://u:p@10.0.0.1:3478?transport=udp", NULL
  };
  static const gchar *bad_turn[] = {
    "", "turn:u:p@1.2.3.4:3478", "turns://u:p@1.2.3.4:5349",
    "turn://1.2.3.4:3478", "turn://u@1.2.3.4:3478", "turn://u:p@1.2.3.4",
    "turn://u:p@1.2.3.4:3478?transport=sctp", "turn://u:p@1.2.3.4:3478/path",
    "stun:1.2.3.4:3478", "turn://u:p@:3478", NULL
  };
  GError *err = NULL;
  guint i;

  for (i = 0; good_stun[i]; i++)
    fail_unless (diode_ice_check_stun_uri (good_stun[i], &err), "%s: %s",
        good_stun[i], err ? err->message : "");
  for (i = 0; bad_stun[i]; i++) {
    fail_if (diode_ice_check_stun_uri (bad_stun[i], &err), "%s", bad_stun[i]);
    fail_unless (err && g_str_has_prefix (err->message, "STUN server: "));
    GST_INFO ("%s -> %s", bad_stun[i], err->message);
    g_clear_error (&err);
  }
  for (i = 0; good_turn[i]; i++)
    fail_unless (diode_ice_check_turn_uri (good_turn[i], &err), "%s: %s",
        good_turn[i], err ? err->message : "");
  for (i = 0; bad_turn[i]; i++) {
    fail_if (diode_ice_check_turn_uri (bad_turn[i], &err), "%s", bad_turn[i]);
    fail_unless (err && g_str_has_prefix (err->message, "TURN server: "));
    GST_INFO ("%s -> %s", bad_turn[i], err->message);
    g_clear_error (&err);
  }
  fail_if (diode_ice_check_turn_uri ("turns://u:p@1.2.3.4:5349", &err));
  fail_unless (strstr (err->message, "TLS") != NULL);
  g_clear_error (&err);
  /* the password never appears in a message */
  fail_if (diode_ice_check_turn_uri ("turn://u:secretpw@1.2.3.4", &err));
  fail_unless (strstr (err->message, "secretpw") == NULL);
  g_clear_error (&err);
  {
    DiodeIceConfig cfg = { 0 };
    cfg.stun_server = "stun://x";
    fail_unless (diode_ice_new (NULL, &cfg, end_event, NULL, &err) == NULL);
    fail_unless (err != NULL);
    g_clear_error (&err);
  }
}

GST_END_TEST;

static Suite *
ice_suite (void)
{
  Suite *s = suite_create ("ice");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_uris);
  tcase_add_test (tc, test_remote_input);
  tcase_add_test (tc, test_stun_srflx);
  tcase_add_test (tc, test_turn_relay);
  tcase_add_test (tc, test_wrong_credentials);
  tcase_add_test (tc, test_pseudotcp_20mb);
  tcase_add_test (tc, test_tcp_20mb);
  tcase_add_test (tc, test_auto);
  tcase_add_test (tc, test_flow_control_pseudotcp);
  tcase_add_test (tc, test_flow_control_tcp);
  tcase_add_test (tc, test_peer_gone);
  return s;
}

GST_CHECK_MAIN (ice);
