/* gst-diode — unit tests: non-blocking TLS sessions
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both ends live in one thread on a non-blocking AF_UNIX socketpair and are
 * driven alternately with poll(), the way the relay's event loop drives them.
 * Every loop has a deadline so a bug shows up as a failure, not a hang.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "testproc.h"

#include <gst/check/gstcheck.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <gnutls/x509.h>

#include "diode-tls.h"

#define DEADLINE_US (20 * G_USEC_PER_SEC)
#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:" \
  "+AES-256-GCM:+CHACHA20-POLY1305"

static gchar *tmp_root;

static DiodeIdentity *
new_identity (const gchar * name)
{
  g_autofree gchar *path = g_strdup_printf ("%s/%s-%u.pem", tmp_root, name,
      g_random_int ());
  g_autoptr (GError) error = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (path, &error);

  fail_unless (id != NULL, "identity: %s", error ? error->message : "");
  return id;
}

static void
make_pair (int fds[2])
{
  fail_unless (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  fail_unless (fcntl (fds[0], F_SETFL, O_NONBLOCK) == 0);
  fail_unless (fcntl (fds[1], F_SETFL, O_NONBLOCK) == 0);
}

/* Waits until one of the (up to two) fds is ready in its direction. */
static void
wait_fds (int fd_a, gboolean write_a, int fd_b, gboolean write_b)
{
  struct pollfd p[2];
  nfds_t n = 0;
  int ret;

  if (fd_a >= 0) {
    p[n].fd = fd_a;
    p[n].events = write_a ? POLLOUT : POLLIN;
    p[n].revents = 0;
    n++;
  }
  if (fd_b >= 0) {
    p[n].fd = fd_b;
    p[n].events = write_b ? POLLOUT : POLLIN;
    p[n].revents = 0;
    n++;
  }
  do
    ret = poll (p, n, 1000);
  while (ret < 0 && errno == EINTR);
  fail_unless (ret > 0, "poll: %s", ret == 0 ? "nothing ready for 1 s" :
      g_strerror (errno));
}

/* Runs both handshakes to completion. */
static void
handshake_pair (DiodeTls * c, int cfd, DiodeTls * s, int sfd)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  DiodeTlsStatus cst = DIODE_TLS_AGAIN, sst = DIODE_TLS_AGAIN;

  while (cst != DIODE_TLS_OK || sst != DIODE_TLS_OK) {
    g_autoptr (GError) error = NULL;

    fail_unless (g_get_monotonic_time () < deadline, "handshake hangs");
    if (cst != DIODE_TLS_OK) {
      cst = diode_tls_handshake (c, &error);
      fail_unless (cst != DIODE_TLS_ERROR, "client: %s", error->message);
      fail_unless (cst != DIODE_TLS_CLOSED);
    }
    if (sst != DIODE_TLS_OK) {
      sst = diode_tls_handshake (s, &error);
      fail_unless (sst != DIODE_TLS_ERROR, "server: %s", error->message);
      fail_unless (sst != DIODE_TLS_CLOSED);
    }
    if (cst == DIODE_TLS_AGAIN && sst == DIODE_TLS_AGAIN)
      wait_fds (cfd, diode_tls_wants_write (c), sfd,
          diode_tls_wants_write (s));
  }
}

typedef struct
{
  DiodeIdentity *cid, *sid;
  int fds[2];                   /* [0] client end, [1] server end */
  DiodeTls *c, *s;
} Pair;

static void
pair_setup (Pair * p)
{
  g_autoptr (GError) error = NULL;

  p->cid = new_identity ("client");
  p->sid = new_identity ("server");
  make_pair (p->fds);
  p->c = diode_tls_new_client (p->fds[0], p->cid, "relay.example", &error);
  fail_unless (p->c != NULL, "%s", error ? error->message : "");
  p->s = diode_tls_new_server (p->fds[1], p->sid, &error);
  fail_unless (p->s != NULL, "%s", error ? error->message : "");
  handshake_pair (p->c, p->fds[0], p->s, p->fds[1]);
}

static void
pair_teardown (Pair * p)
{
  diode_tls_free (p->c);
  diode_tls_free (p->s);
  if (p->fds[0] >= 0)
    close (p->fds[0]);
  if (p->fds[1] >= 0)
    close (p->fds[1]);
  diode_identity_unref (p->cid);
  diode_identity_unref (p->sid);
}

/* Receive exactly @len bytes (polling), comparing with @expect. */
static void
recv_exact (DiodeTls * t, int fd, const guint8 * expect, gsize len)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  guint8 *buf = g_malloc (len);
  gsize got = 0;

  while (got < len) {
    g_autoptr (GError) error = NULL;
    gsize n = 0;
    DiodeTlsStatus st = diode_tls_recv (t, buf + got, len - got, &n, &error);

    fail_unless (g_get_monotonic_time () < deadline, "recv hangs");
    fail_unless (st != DIODE_TLS_ERROR, "recv: %s", error->message);
    fail_unless (st != DIODE_TLS_CLOSED, "closed after %" G_GSIZE_FORMAT, got);
    if (st == DIODE_TLS_AGAIN)
      wait_fds (fd, diode_tls_wants_write (t), -1, FALSE);
    else
      got += n;
  }
  fail_unless (memcmp (buf, expect, len) == 0, "data corrupted");
  g_free (buf);
}

static void
send_all (DiodeTls * t, int fd, const guint8 * data, gsize len)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  gsize done = 0;

  while (done < len) {
    g_autoptr (GError) error = NULL;
    gsize n = 0;
    DiodeTlsStatus st = diode_tls_send (t, data + done, len - done, &n,
        &error);

    fail_unless (g_get_monotonic_time () < deadline, "send hangs");
    fail_unless (st != DIODE_TLS_ERROR, "send: %s", error->message);
    if (st == DIODE_TLS_AGAIN)
      wait_fds (fd, diode_tls_wants_write (t), -1, FALSE);
    else
      done += n;
  }
}

static guint8 *
pattern (gsize len, guint32 seed)
{
  guint8 *p = g_malloc (len);
  GRand *r = g_rand_new_with_seed (seed);
  gsize i;

  for (i = 0; i < len; i++)
    p[i] = g_rand_int (r) & 0xff;
  g_rand_free (r);
  return p;
}

/* ---- handshake and data ------------------------------------------------- */

GST_START_TEST (test_handshake_addresses)
{
  Pair p;

  pair_setup (&p);
  fail_unless_equals_string (diode_tls_get_peer_address (p.c),
      diode_identity_get_address (p.sid));
  fail_unless_equals_string (diode_tls_get_peer_address (p.s),
      diode_identity_get_address (p.cid));
  fail_unless (strstr (diode_tls_describe (p.c), "TLS1.3") != NULL, "%s",
      diode_tls_describe (p.c));
  fail_unless (strstr (diode_tls_describe (p.s), "TLS1.3") != NULL, "%s",
      diode_tls_describe (p.s));
  GST_INFO ("session: %s", diode_tls_describe (p.c));
  /* A further handshake call is a no-op. */
  fail_unless_equals_int (diode_tls_handshake (p.c, NULL), DIODE_TLS_OK);
  pair_teardown (&p);
}

GST_END_TEST;

GST_START_TEST (test_peer_address_before_handshake)
{
  g_autoptr (DiodeIdentity) id = new_identity ("x");
  int fds[2];
  DiodeTls *t;

  make_pair (fds);
  t = diode_tls_new_client (fds[0], id, NULL, NULL);
  fail_unless (t != NULL);
  fail_unless (diode_tls_get_peer_address (t) == NULL);
  fail_unless (diode_tls_describe (t) != NULL);
  /* Record I/O before the handshake: a clean error (teardown paths do it). */
  {
    g_autoptr (GError) error = NULL;
    guint8 buf[4] = { 0 };
    gsize n = 1;

    fail_unless_equals_int (diode_tls_recv (t, buf, sizeof buf, &n, &error),
        DIODE_TLS_ERROR);
    fail_unless (error != NULL);
    fail_unless_equals_int (n, 0);
    g_clear_error (&error);
    fail_unless_equals_int (diode_tls_send (t, buf, sizeof buf, &n, &error),
        DIODE_TLS_ERROR);
    fail_unless (error != NULL);
  }
  /* Nothing to say goodbye to: must not block nor crash. */
  diode_tls_bye (t);
  diode_tls_free (t);
  close (fds[0]);
  close (fds[1]);
}

GST_END_TEST;

GST_START_TEST (test_small_both_ways)
{
  static const guint8 hello[] = "hello from the client";
  static const guint8 world[] = "and hello from the server";
  Pair p;

  pair_setup (&p);
  send_all (p.c, p.fds[0], hello, sizeof hello);
  recv_exact (p.s, p.fds[1], hello, sizeof hello);
  send_all (p.s, p.fds[1], world, sizeof world);
  recv_exact (p.c, p.fds[0], world, sizeof world);
  pair_teardown (&p);
}

GST_END_TEST;

/* One direction of a full-duplex transfer. */
typedef struct
{
  DiodeTls *from, *to;
  const guint8 *data;
  gsize len, sent, received, piece;
  guint8 *rbuf;
  gboolean send_blocked, send_wants_write;
  gboolean recv_blocked, recv_wants_write;
  guint send_agains;
} Flow;

static void
flow_step (Flow * f)
{
  g_autoptr (GError) error = NULL;
  DiodeTlsStatus st;
  gsize n;

  if (f->sent < f->len) {
    /* Varying piece sizes, but after AGAIN the very same piece again. */
    gsize piece = MIN (f->piece, f->len - f->sent);
    st = diode_tls_send (f->from, f->data + f->sent, piece, &n, &error);
    fail_unless (st != DIODE_TLS_ERROR, "send: %s", error->message);
    f->send_blocked = (st == DIODE_TLS_AGAIN);
    if (st == DIODE_TLS_AGAIN) {
      f->send_wants_write = diode_tls_wants_write (f->from);
      f->send_agains++;
    } else {
      fail_unless (n > 0 && n <= piece);
      f->sent += n;
      f->piece = 1 + (f->piece * 7919 + 13) % 50000;
    }
  } else {
    f->send_blocked = FALSE;
  }

  if (f->received < f->len) {
    /* Odd receive size, so records get split across reads. */
    st = diode_tls_recv (f->to, f->rbuf + f->received,
        MIN (7001, f->len - f->received), &n, &error);
    fail_unless (st != DIODE_TLS_ERROR, "recv: %s", error->message);
    fail_unless (st != DIODE_TLS_CLOSED);
    f->recv_blocked = (st == DIODE_TLS_AGAIN);
    if (st == DIODE_TLS_AGAIN)
      f->recv_wants_write = diode_tls_wants_write (f->to);
    else
      f->received += n;
  } else {
    f->recv_blocked = FALSE;
  }
}

GST_START_TEST (test_one_mib_both_ways)
{
  const gsize len = 1024 * 1024;
  g_autofree guint8 *up = pattern (len, 1);
  g_autofree guint8 *down = pattern (len, 2);
  gint64 deadline;
  Flow f[2];
  Pair p;
  guint i;

  pair_setup (&p);
  memset (f, 0, sizeof f);
  f[0].from = p.c;
  f[0].to = p.s;
  f[0].data = up;
  f[1].from = p.s;
  f[1].to = p.c;
  f[1].data = down;
  for (i = 0; i < 2; i++) {
    f[i].len = len;
    f[i].piece = 1000;
    f[i].rbuf = g_malloc (len);
  }

  deadline = g_get_monotonic_time () + DEADLINE_US;
  while (f[0].received < len || f[1].received < len) {
    fail_unless (g_get_monotonic_time () < deadline, "transfer hangs");
    flow_step (&f[0]);
    flow_step (&f[1]);
    if (f[0].received == len && f[1].received == len)
      break;
    /* Sleep only if nothing at all could progress. */
    if ((f[0].sent == len || f[0].send_blocked) &&
        (f[1].sent == len || f[1].send_blocked) &&
        (f[0].received == len || f[0].recv_blocked) &&
        (f[1].received == len || f[1].recv_blocked)) {
      struct pollfd pf[2];
      pf[0].fd = p.fds[0];
      pf[1].fd = p.fds[1];
      /* Each end's fd serves its send of one flow and its recv of the other. */
      pf[0].events = POLLIN | (f[0].send_blocked ? POLLOUT : 0) |
          (f[1].recv_blocked && f[1].recv_wants_write ? POLLOUT : 0);
      pf[1].events = POLLIN | (f[1].send_blocked ? POLLOUT : 0) |
          (f[0].recv_blocked && f[0].recv_wants_write ? POLLOUT : 0);
      fail_unless (poll (pf, 2, 1000) > 0, "stalled: nothing ready");
    }
  }
  /* The socket buffers are far smaller than 1 MiB: sends must have blocked
   * and been retried, which is the path under test. */
  fail_unless (f[0].send_agains + f[1].send_agains > 0, "no send blocked");
  GST_INFO ("send AGAINs: %u + %u", f[0].send_agains, f[1].send_agains);
  fail_unless (memcmp (f[0].rbuf, up, len) == 0, "client->server corrupted");
  fail_unless (memcmp (f[1].rbuf, down, len) == 0,
      "server->client corrupted");
  g_free (f[0].rbuf);
  g_free (f[1].rbuf);
  pair_teardown (&p);
}

GST_END_TEST;

GST_START_TEST (test_pending)
{
  g_autofree guint8 *data = pattern (1000, 3);
  guint8 buf[10];
  gsize n = 0;
  Pair p;
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  DiodeTlsStatus st;

  pair_setup (&p);
  send_all (p.c, p.fds[0], data, 1000);
  /* One record of 1000 bytes; read 10: the rest waits inside GnuTLS, where
   * poll() cannot see it. */
  do {
    st = diode_tls_recv (p.s, buf, sizeof buf, &n, NULL);
    if (st == DIODE_TLS_AGAIN)
      wait_fds (p.fds[1], FALSE, -1, FALSE);
    fail_unless (g_get_monotonic_time () < deadline);
  } while (st == DIODE_TLS_AGAIN);
  fail_unless_equals_int (st, DIODE_TLS_OK);
  fail_unless_equals_int (n, 10);
  fail_unless_equals_int (diode_tls_pending (p.s), 990);
  recv_exact (p.s, p.fds[1], data + 10, 990);
  fail_unless_equals_int (diode_tls_pending (p.s), 0);
  pair_teardown (&p);
}

GST_END_TEST;

GST_START_TEST (test_cork_small)
{
  g_autofree guint8 *data = pattern (100 * 100, 4);
  g_autoptr (GError) error = NULL;
  gsize n;
  guint i;
  Pair p;

  pair_setup (&p);
  diode_tls_cork (p.c);
  for (i = 0; i < 100; i++) {
    fail_unless_equals_int (diode_tls_send (p.c, data + i * 100, 100, &n,
            &error), DIODE_TLS_OK);
    fail_unless_equals_int (n, 100);
  }
  fail_unless_equals_int (diode_tls_uncork (p.c, &error), DIODE_TLS_OK);
  recv_exact (p.s, p.fds[1], data, 100 * 100);
  /* Uncorking with nothing corked is fine. */
  fail_unless_equals_int (diode_tls_uncork (p.c, &error), DIODE_TLS_OK);
  pair_teardown (&p);
}

GST_END_TEST;

/* A corked batch larger than the socket buffer: uncork returns AGAIN and
 * must resume where it stopped. */
GST_START_TEST (test_cork_large_resumes)
{
  const gsize len = 1024 * 1024;
  g_autofree guint8 *data = pattern (len, 5);
  g_autofree guint8 *rbuf = g_malloc (len);
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  gboolean flushed = FALSE;
  guint agains = 0;
  gsize got = 0, off, n;
  Pair p;

  pair_setup (&p);
  diode_tls_cork (p.c);
  for (off = 0; off < len; off += 4096) {
    fail_unless_equals_int (diode_tls_send (p.c, data + off, 4096, &n, NULL),
        DIODE_TLS_OK);
    fail_unless_equals_int (n, 4096);
  }

  while (!flushed || got < len) {
    g_autoptr (GError) error = NULL;
    DiodeTlsStatus st;
    gboolean progress = FALSE;

    fail_unless (g_get_monotonic_time () < deadline, "hangs");
    if (!flushed) {
      st = diode_tls_uncork (p.c, &error);
      fail_unless (st == DIODE_TLS_OK || st == DIODE_TLS_AGAIN, "uncork: %s",
          error ? error->message : "?");
      flushed = (st == DIODE_TLS_OK);
      progress |= flushed;
      agains += (st == DIODE_TLS_AGAIN);
    }
    if (got < len) {
      st = diode_tls_recv (p.s, rbuf + got, len - got, &n, &error);
      fail_unless (st == DIODE_TLS_OK || st == DIODE_TLS_AGAIN, "recv: %s",
          error ? error->message : "closed");
      if (st == DIODE_TLS_OK) {
        got += n;
        progress = TRUE;
      }
    }
    if (!progress) {
      struct pollfd pf[2] = {
        {p.fds[0], flushed ? 0 : POLLOUT, 0},
        {p.fds[1], POLLIN, 0},
      };
      fail_unless (poll (pf, 2, 1000) > 0, "stalled");
    }
  }
  fail_unless (agains > 0, "uncork never blocked: test proves nothing");
  fail_unless (memcmp (rbuf, data, len) == 0);
  pair_teardown (&p);
}

GST_END_TEST;

/* ---- closing ------------------------------------------------------------ */

static DiodeTlsStatus
recv_until_not_again (DiodeTls * t, int fd, GError ** error)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  guint8 buf[256];
  gsize n;
  DiodeTlsStatus st;

  for (;;) {
    st = diode_tls_recv (t, buf, sizeof buf, &n, error);
    if (st != DIODE_TLS_AGAIN)
      return st;
    fail_unless (g_get_monotonic_time () < deadline, "recv hangs");
    wait_fds (fd, diode_tls_wants_write (t), -1, FALSE);
  }
}

GST_START_TEST (test_close_with_bye)
{
  static const guint8 last[] = "last words";
  g_autoptr (GError) error = NULL;
  Pair p;

  pair_setup (&p);
  send_all (p.c, p.fds[0], last, sizeof last);
  diode_tls_bye (p.c);
  diode_tls_bye (p.c);          /* idempotent */
  close (p.fds[0]);
  p.fds[0] = -1;
  /* Data sent before the close still arrives, then CLOSED. */
  recv_exact (p.s, p.fds[1], last, sizeof last);
  fail_unless_equals_int (recv_until_not_again (p.s, p.fds[1], &error),
      DIODE_TLS_CLOSED);
  fail_unless (error == NULL);
  pair_teardown (&p);
}

GST_END_TEST;

GST_START_TEST (test_close_without_bye)
{
  g_autoptr (GError) error = NULL;
  Pair p;

  pair_setup (&p);
  close (p.fds[1]);             /* server vanishes, no close_notify */
  p.fds[1] = -1;
  fail_unless_equals_int (recv_until_not_again (p.c, p.fds[0], &error),
      DIODE_TLS_CLOSED);
  pair_teardown (&p);
}

GST_END_TEST;

/* Writing to a closed peer is an error, not a SIGPIPE killing the process. */
GST_START_TEST (test_send_to_closed_peer)
{
  g_autofree guint8 *data = pattern (65536, 6);
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  g_autoptr (GError) error = NULL;
  DiodeTlsStatus st = DIODE_TLS_OK;
  gsize n;
  Pair p;

  pair_setup (&p);
  close (p.fds[1]);
  p.fds[1] = -1;
  while (st == DIODE_TLS_OK || st == DIODE_TLS_AGAIN) {
    fail_unless (g_get_monotonic_time () < deadline, "send never fails");
    st = diode_tls_send (p.c, data, 65536, &n, &error);
  }
  fail_unless_equals_int (st, DIODE_TLS_ERROR);
  fail_unless (g_error_matches (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_IO),
      "%s", error->message);
  GST_INFO ("send error: %s", error->message);
  pair_teardown (&p);
}

GST_END_TEST;

/* ---- refused handshakes ------------------------------------------------- */

/* Drives the server alone until it fails; @peer_step, when set, is called
 * each round to play the other end. */
static GError *
server_until_error (DiodeTls * s, int sfd, gboolean (*peer_step) (gpointer),
    gpointer peer)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  GError *error = NULL;
  DiodeTlsStatus st;

  for (;;) {
    gboolean peer_progress = FALSE;

    fail_unless (g_get_monotonic_time () < deadline, "server handshake hangs");
    st = diode_tls_handshake (s, &error);
    if (st == DIODE_TLS_ERROR)
      break;
    fail_unless_equals_int (st, DIODE_TLS_AGAIN);
    if (peer_step)
      peer_progress = peer_step (peer);
    if (!peer_progress)
      wait_fds (sfd, diode_tls_wants_write (s), -1, FALSE);
  }
  fail_unless (error != NULL);
  fail_unless (error->domain == DIODE_TLS_ERROR);
  GST_INFO ("server error: %s", error->message);
  /* Stays failed. */
  {
    GError *again = NULL;
    fail_unless_equals_int (diode_tls_handshake (s, &again), DIODE_TLS_ERROR);
    g_clear_error (&again);
  }
  fail_unless (diode_tls_get_peer_address (s) == NULL);
  return error;
}

typedef struct
{
  gnutls_session_t session;
  gboolean done;
} RawClient;

static gboolean
raw_client_step (gpointer data)
{
  RawClient *rc = data;
  int ret;

  if (rc->done)
    return FALSE;
  ret = gnutls_handshake (rc->session);
  if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
    return FALSE;
  /* Success (a TLS 1.3 client finishes before the server has checked its
   * certificate) or failure: either way the client is done. */
  rc->done = TRUE;
  return TRUE;
}

GST_START_TEST (test_client_without_certificate)
{
  g_autoptr (DiodeIdentity) sid = new_identity ("server");
  gnutls_certificate_credentials_t empty;
  RawClient rc = { NULL, FALSE };
  GError *error;
  DiodeTls *s;
  int fds[2];

  make_pair (fds);
  s = diode_tls_new_server (fds[1], sid, NULL);
  fail_unless (s != NULL);

  /* A plain GnuTLS client with certificate credentials but no certificate. */
  fail_unless (gnutls_certificate_allocate_credentials (&empty) == 0);
  fail_unless (gnutls_init (&rc.session, GNUTLS_CLIENT | GNUTLS_NONBLOCK) ==
      0);
  fail_unless (gnutls_priority_set_direct (rc.session, PRIORITY, NULL) == 0);
  fail_unless (gnutls_credentials_set (rc.session, GNUTLS_CRD_CERTIFICATE,
          empty) == 0);
  gnutls_transport_set_int (rc.session, fds[0]);

  error = server_until_error (s, fds[1], raw_client_step, &rc);
  fail_unless (error->code == DIODE_TLS_ERROR_NO_CERT ||
      error->code == DIODE_TLS_ERROR_HANDSHAKE, "%s", error->message);
  fail_unless (strstr (error->message, "certificate") != NULL, "%s",
      error->message);
  g_error_free (error);

  gnutls_deinit (rc.session);
  gnutls_certificate_free_credentials (empty);
  diode_tls_free (s);
  close (fds[0]);
  close (fds[1]);
}

GST_END_TEST;

static void
garbage_case (const guint8 * junk, gsize len, gboolean close_after,
    const gchar * expect_in_message)
{
  g_autoptr (DiodeIdentity) sid = new_identity ("server");
  GError *error;
  DiodeTls *s;
  int fds[2];

  make_pair (fds);
  s = diode_tls_new_server (fds[1], sid, NULL);
  fail_unless (s != NULL);
  if (len > 0)
    fail_unless (write (fds[0], junk, len) == (gssize) len);
  if (close_after)
    shutdown (fds[0], SHUT_WR);

  error = server_until_error (s, fds[1], NULL, NULL);
  fail_unless_equals_int (error->code, DIODE_TLS_ERROR_HANDSHAKE);
  fail_unless (g_str_has_prefix (error->message, "TLS handshake failed: "),
      "%s", error->message);
  if (expect_in_message)
    fail_unless (strstr (error->message, expect_in_message) != NULL,
        "'%s' not in '%s'", expect_in_message, error->message);
  g_error_free (error);

  diode_tls_free (s);
  close (fds[0]);
  close (fds[1]);
}

/* An HTTP request (someone pointed a browser at the port): refused at once,
 * without the peer having to close. */
GST_START_TEST (test_garbage_http)
{
  static const gchar req[] = "GET / HTTP/1.1\r\nHost: relay\r\n\r\n";

  garbage_case ((const guint8 *) req, sizeof req - 1, FALSE,
      "not speaking TLS");
}

GST_END_TEST;

GST_START_TEST (test_garbage_random)
{
  g_autofree guint8 *junk = pattern (4096, 7);

  garbage_case (junk, 4096, TRUE, NULL);
}

GST_END_TEST;

/* Looks like a TLS handshake record header announcing a huge record. */
GST_START_TEST (test_garbage_record_header)
{
  static const guint8 hdr[] = { 0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00 };

  garbage_case (hdr, sizeof hdr, TRUE, NULL);
}

GST_END_TEST;

GST_START_TEST (test_peer_closes_during_handshake)
{
  garbage_case (NULL, 0, TRUE, NULL);
}

GST_END_TEST;

/* ---- only Ed25519 keys are identities ----------------------------------- */

/* Credentials for a fresh key of @algo with a self-signed certificate, the
 * way another TLS tool would make them. */
static gnutls_certificate_credentials_t
foreign_credentials (gnutls_pk_algorithm_t algo, guint bits)
{
  gnutls_x509_privkey_t key;
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  gnutls_x509_crt_t crt;
  gnutls_certificate_credentials_t cred;
  gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
  guint8 serial[8] = { 0x12, 2, 3, 4, 5, 6, 7, 8 };
  time_t now = time (NULL);

  fail_unless (gnutls_x509_privkey_init (&key) == 0);
  fail_unless (gnutls_x509_privkey_generate (key, algo, bits, 0) == 0);
  fail_unless (gnutls_privkey_init (&priv) == 0);
  fail_unless (gnutls_privkey_import_x509 (priv, key, 0) == 0);
  fail_unless (gnutls_pubkey_init (&pub) == 0);
  fail_unless (gnutls_pubkey_import_privkey (pub, priv, 0, 0) == 0);
  fail_unless (gnutls_x509_crt_init (&crt) == 0);
  fail_unless (gnutls_x509_crt_set_version (crt, 3) == 0);
  fail_unless (gnutls_x509_crt_set_dn_by_oid (crt,
          GNUTLS_OID_X520_COMMON_NAME, 0, "foreign", 7) == 0);
  fail_unless (gnutls_x509_crt_set_key (crt, key) == 0);
  fail_unless (gnutls_x509_crt_set_serial (crt, serial, sizeof serial) == 0);
  fail_unless (gnutls_x509_crt_set_activation_time (crt, now - 3600) == 0);
  fail_unless (gnutls_x509_crt_set_expiration_time (crt, now + 86400) == 0);
  fail_unless (gnutls_x509_crt_set_key_usage (crt,
          GNUTLS_KEY_DIGITAL_SIGNATURE) == 0);
  fail_unless (gnutls_pubkey_get_preferred_hash_algorithm (pub, &dig,
          NULL) >= 0);
  fail_unless (gnutls_x509_crt_privkey_sign (crt, crt, priv, dig, 0) == 0);
  fail_unless (gnutls_certificate_allocate_credentials (&cred) == 0);
  fail_unless (gnutls_certificate_set_x509_key (cred, &crt, 1, key) == 0);
  gnutls_x509_crt_deinit (crt);
  gnutls_pubkey_deinit (pub);
  gnutls_privkey_deinit (priv);
  gnutls_x509_privkey_deinit (key);
  return cred;
}

/* Runs a DiodeTls end and a plain GnuTLS end to a completed handshake. */
static void
handshake_with_raw (DiodeTls * t, int tfd, gnutls_session_t raw, int rfd)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_US;
  DiodeTlsStatus st = DIODE_TLS_AGAIN;
  int ret = GNUTLS_E_AGAIN;

  while (st != DIODE_TLS_OK || ret != 0) {
    g_autoptr (GError) error = NULL;

    fail_unless (g_get_monotonic_time () < deadline, "handshake hangs");
    if (st != DIODE_TLS_OK) {
      st = diode_tls_handshake (t, &error);
      fail_unless (st == DIODE_TLS_OK || st == DIODE_TLS_AGAIN,
          "diode end: %s", error ? error->message : "closed");
    }
    if (ret != 0) {
      ret = gnutls_handshake (raw);
      fail_unless (ret == 0 || !gnutls_error_is_fatal (ret), "raw end: %s",
          gnutls_strerror (ret));
    }
    if (st == DIODE_TLS_AGAIN && ret != 0)
      wait_fds (tfd, diode_tls_wants_write (t), rfd,
          gnutls_record_get_direction (raw) == 1);
  }
}

/* @server: the diode end is the relay (the raw end a client with a foreign
 * key), else the diode end is the client of a relay with a foreign key.
 * The handshake completes, then the certificate check refuses the peer,
 * naming its key type. */
static void
foreign_peer_refused (gboolean server, gnutls_pk_algorithm_t algo,
    guint bits, const gchar * says)
{
  g_autoptr (DiodeIdentity) id = new_identity ("diode");
  gnutls_certificate_credentials_t cred = foreign_credentials (algo, bits);
  gnutls_session_t raw;
  g_autoptr (GError) error = NULL;
  DiodeTls *t;
  int fds[2];                   /* [0] diode end, [1] raw end */

  make_pair (fds);
  t = server ? diode_tls_new_server (fds[0], id, NULL) :
      diode_tls_new_client (fds[0], id, NULL, NULL);
  fail_unless (t != NULL);
  fail_unless (gnutls_init (&raw, (server ? GNUTLS_CLIENT : GNUTLS_SERVER) |
          GNUTLS_NONBLOCK) == 0);
  fail_unless (gnutls_priority_set_direct (raw, PRIORITY, NULL) == 0);
  fail_unless (gnutls_credentials_set (raw, GNUTLS_CRD_CERTIFICATE,
          cred) == 0);
  if (!server)
    gnutls_certificate_server_set_request (raw, GNUTLS_CERT_REQUEST);
  gnutls_transport_set_int (raw, fds[1]);

  handshake_with_raw (t, fds[0], raw, fds[1]);
  fail_unless (diode_tls_get_peer_address (t) != NULL);
  fail_if (diode_tls_check_peer_certificate (t, &error),
      "%s peer with %s accepted", server ? "client" : "relay", says);
  fail_unless (g_error_matches (error, DIODE_TLS_ERROR,
          DIODE_TLS_ERROR_NOT_ED25519), "%s", error->message);
  fail_unless (strstr (error->message, says) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "Ed25519") != NULL, "%s",
      error->message);
  fail_unless (strstr (error->message, diode_tls_get_peer_address (t)) !=
      NULL, "%s", error->message);
  GST_INFO ("%s", error->message);

  diode_tls_free (t);
  gnutls_deinit (raw);
  gnutls_certificate_free_credentials (cred);
  close (fds[0]);
  close (fds[1]);
}

GST_START_TEST (test_rsa_client_refused)
{
  foreign_peer_refused (TRUE, GNUTLS_PK_RSA, 2048, "an RSA key");
}

GST_END_TEST;

GST_START_TEST (test_ecdsa_client_refused)
{
  foreign_peer_refused (TRUE, GNUTLS_PK_ECDSA, 256, "an ECDSA key");
}

GST_END_TEST;

GST_START_TEST (test_rsa_relay_refused)
{
  foreign_peer_refused (FALSE, GNUTLS_PK_RSA, 2048, "an RSA key");
}

GST_END_TEST;

GST_START_TEST (test_ecdsa_relay_refused)
{
  foreign_peer_refused (FALSE, GNUTLS_PK_ECDSA, 256, "an ECDSA key");
}

GST_END_TEST;

/* The control: an Ed25519 peer passes the same check. */
GST_START_TEST (test_ed25519_peer_accepted)
{
  Pair p;
  g_autoptr (GError) error = NULL;

  pair_setup (&p);
  fail_unless (diode_tls_check_peer_certificate (p.s, &error), "%s",
      error ? error->message : "");
  fail_unless (diode_tls_check_peer_certificate (p.c, &error), "%s",
      error ? error->message : "");
  pair_teardown (&p);
}

GST_END_TEST;

static Suite *
tls_suite (void)
{
  Suite *s = suite_create ("tls");
  TCase *tc = tcase_create ("tls");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_handshake_addresses);
  tcase_add_test (tc, test_peer_address_before_handshake);
  tcase_add_test (tc, test_small_both_ways);
  tcase_add_test (tc, test_one_mib_both_ways);
  tcase_add_test (tc, test_pending);
  tcase_add_test (tc, test_cork_small);
  tcase_add_test (tc, test_cork_large_resumes);
  tcase_add_test (tc, test_close_with_bye);
  tcase_add_test (tc, test_close_without_bye);
  tcase_add_test (tc, test_send_to_closed_peer);
  tcase_add_test (tc, test_client_without_certificate);
  tcase_add_test (tc, test_garbage_http);
  tcase_add_test (tc, test_garbage_random);
  tcase_add_test (tc, test_garbage_record_header);
  tcase_add_test (tc, test_peer_closes_during_handshake);
  tcase_add_test (tc, test_rsa_client_refused);
  tcase_add_test (tc, test_ecdsa_client_refused);
  tcase_add_test (tc, test_rsa_relay_refused);
  tcase_add_test (tc, test_ecdsa_relay_refused);
  tcase_add_test (tc, test_ed25519_peer_accepted);
  return s;
}

/* GST_CHECK_MAIN plus a private temporary directory for the key files. */
int
main (int argc, char **argv)
{
  int ret;

  tmp_root = g_dir_make_tmp ("diode-test-tls-XXXXXX", NULL);
  g_assert (tmp_root != NULL);
  /* Nothing here should use the default paths; make sure it could not
   * touch the user's files if it did. */
  g_setenv ("XDG_CONFIG_HOME", tmp_root, TRUE);

  gst_check_init (&argc, &argv);
  ret = gst_check_run_suite (tls_suite (), "tls", __FILE__);

  tp_rm_rf (tmp_root);
  g_free (tmp_root);
  return ret;
}
