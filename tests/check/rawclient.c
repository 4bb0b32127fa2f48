/* gst-diode — test fixture: raw TLS clients that speak hand-made frames
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "rawclient.h"

#include <gst/check/gstcheck.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int
tcp_connect_from (const gchar * src_ip, guint port, int rcvbuf)
{
  struct sockaddr_in sa;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;

  fail_unless (fd >= 0, "socket: %s", g_strerror (errno));
  if (rcvbuf > 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof (rcvbuf));
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  if (src_ip) {
    memset (&sa, 0, sizeof (sa));
    sa.sin_family = AF_INET;
    fail_unless (inet_pton (AF_INET, src_ip, &sa.sin_addr) == 1);
    fail_unless (bind (fd, (struct sockaddr *) &sa, sizeof (sa)) == 0,
        "bind %s: %s", src_ip, g_strerror (errno));
  }
  memset (&sa, 0, sizeof (sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (connect (fd, (struct sockaddr *) &sa, sizeof (sa)) == 0,
      "connect: %s", g_strerror (errno));
  fail_unless (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) == 0);
  return fd;
}

int
tcp_connect (DiodeRelay * relay, int rcvbuf)
{
  return tcp_connect_from (NULL, diode_relay_get_port (relay), rcvbuf);
}

void
tcp_send (int fd, const guint8 * data, gsize len)
{
  gint64 end = deadline_in (RAW_IO_MS);
  gsize off = 0;

  while (off < len && wait_fd (fd, POLLOUT, end)) {
    ssize_t n = send (fd, data + off, len - off, MSG_NOSIGNAL);

    if (n > 0)
      off += n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR)
      return;
  }
}

gint64
tcp_wait_closed (int fd, guint timeout_ms)
{
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = deadline_in (timeout_ms);
  guint8 buf[4096];

  for (;;) {
    ssize_t n;

    if (!wait_fd (fd, POLLIN, end))
      return -1;
    n = recv (fd, buf, sizeof (buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
      return ms_since (t0);
  }
}

RawClient *
raw_open_fd (DiodeRelay * relay, int fd, const gchar * key_name)
{
  return raw_open_fd_addr (diode_relay_get_address (relay), fd, key_name);
}

RawClient *
raw_open_fd_addr (const gchar * relay_address, int fd, const gchar * key_name)
{
  RawClient *c = g_new0 (RawClient, 1);
  gchar *key = g_build_filename (fixture_config_dir (), key_name, NULL);
  gint64 end = deadline_in (5000);
  GError *err = NULL;
  DiodeTlsStatus st;

  c->id = diode_identity_load_or_create (key, &err);
  fail_unless (c->id != NULL, "raw client identity %s: %s", key_name,
      err ? err->message : "?");
  g_free (key);
  c->fd = fd;
  c->tls = diode_tls_new_client (c->fd, c->id, NULL, &err);
  fail_unless (c->tls != NULL, "TLS client: %s", err ? err->message : "?");
  while ((st = diode_tls_handshake (c->tls, &err)) == DIODE_TLS_AGAIN)
    fail_unless (wait_fd (c->fd, diode_tls_wants_write (c->tls) ? POLLOUT :
            POLLIN, end), "TLS handshake with the relay timed out");
  fail_unless (st == DIODE_TLS_OK, "TLS handshake with the relay failed: %s",
      err ? err->message : "connection closed");
  fail_unless_equals_string (diode_tls_get_peer_address (c->tls),
      relay_address);
  c->rx = g_byte_array_new ();
  return c;
}

RawClient *
raw_open (DiodeRelay * relay, int rcvbuf, const gchar * key_name)
{
  return raw_open_fd (relay, tcp_connect (relay, rcvbuf), key_name);
}

void
raw_free (RawClient * c, gboolean reset)
{
  if (reset) {
    struct linger lg = { 1, 0 };
    setsockopt (c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof (lg));
  }
  diode_tls_free (c->tls);
  close (c->fd);
  diode_identity_unref (c->id);
  g_byte_array_unref (c->rx);
  g_free (c);
}

gboolean
raw_send (RawClient * c, const guint8 * data, gsize len)
{
  gint64 end = deadline_in (RAW_IO_MS);
  gsize off = 0;

  while (off < len) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + off, len - off, &n,
        &err);

    if (st == DIODE_TLS_OK) {
      off += n;
    } else if (st == DIODE_TLS_AGAIN) {
      if (!wait_fd (c->fd, diode_tls_wants_write (c->tls) ? POLLOUT : POLLIN,
              end))
        return FALSE;
    } else {
      GST_INFO ("send to relay stopped: %s", err ? err->message : "closed");
      g_clear_error (&err);
      return FALSE;
    }
  }
  return TRUE;
}

void
raw_send_frame (RawClient * c, GBytes * frame)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  fail_unless (raw_send (c, data, len), "relay stopped reading");
  g_bytes_unref (frame);
}

RawReadResult
raw_fill (RawClient * c, gsize want, gint64 end)
{
  while (c->rx->len < want) {
    guint8 buf[16384];
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st;

    if (diode_tls_pending (c->tls) == 0 && !wait_fd (c->fd, POLLIN, end))
      return RAW_READ_TIMEOUT;
    st = diode_tls_recv (c->tls, buf, MIN (sizeof (buf), want - c->rx->len),
        &n, &err);
    if (st == DIODE_TLS_OK) {
      g_byte_array_append (c->rx, buf, n);
    } else if (st != DIODE_TLS_AGAIN) {
      /* a reset counts as a close, like a clean close_notify */
      GST_INFO ("relay closed: %s", err ? err->message : "EOF");
      g_clear_error (&err);
      return RAW_READ_CLOSED;
    }
  }
  return RAW_READ_MSG;
}

RawReadResult
raw_read (RawClient * c, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  RawReadResult res;
  gsize plen = 0;
  GError *err = NULL;
  GBytes *frame;
  gboolean ok;

  res = raw_fill (c, DIODE_FRAME_HEADER_SIZE, end);
  if (res != RAW_READ_MSG)
    return res;
  fail_unless (diode_msg_check_header_v (c->rx->data, c->version, c->role,
          &plen, &err),
      "relay sent a bad frame header: %s", err ? err->message : "?");
  res = raw_fill (c, DIODE_FRAME_HEADER_SIZE + plen, end);
  if (res != RAW_READ_MSG)
    return res;
  frame = g_bytes_new (c->rx->data, DIODE_FRAME_HEADER_SIZE + plen);
  g_byte_array_remove_range (c->rx, 0, DIODE_FRAME_HEADER_SIZE + plen);
  ok = diode_msg_parse_v (frame, c->version, c->role, m, &err);
  g_bytes_unref (frame);
  fail_unless (ok, "relay sent a malformed frame: %s",
      err ? err->message : "?");
  return RAW_READ_MSG;
}

void
raw_expect (RawClient * c, DiodeMsgType type, DiodeMsg * m)
{
  RawReadResult res = raw_read (c, m, RAW_IO_MS);

  fail_unless (res == RAW_READ_MSG, "expected %s, but the relay %s",
      diode_msg_type_name (type), res == RAW_READ_CLOSED ? "closed" :
      "sent nothing in time");
  fail_unless (m->type == type, "expected %s, got %s (error %u: %s)",
      diode_msg_type_name (type), diode_msg_type_name (m->type),
      m->error_code, m->error_text ? m->error_text : "");
}

/* Sends what the socket takes now, without waiting: returns the bytes
 * taken (GnuTLS rule: after AGAIN, call again with the same data), -1 if
 * the relay closed. */
gssize
raw_try_send (RawClient * c, const guint8 * data, gsize len)
{
  gsize done = 0;

  while (done < len) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + done, len - done, &n,
        &err);

    if (st == DIODE_TLS_OK) {
      done += n;
    } else if (st == DIODE_TLS_AGAIN) {
      break;
    } else {
      g_clear_error (&err);
      return -1;
    }
  }
  return done;
}

RawReadResult
raw_next (RawClient * c, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  for (;;) {
    gint64 left = (end - g_get_monotonic_time ()) / 1000;
    RawReadResult res;

    if (left <= 0)
      return RAW_READ_TIMEOUT;
    res = raw_read (c, m, (guint) left);
    if (res != RAW_READ_MSG)
      return res;
    if (m->type == DIODE_MSG_PING)
      raw_send_frame (c, diode_msg_encode_pong (m->token));
    else if (m->type != DIODE_MSG_PONG)
      return res;
    diode_msg_clear (m);
  }
}

void
raw_expect_next (RawClient * c, DiodeMsgType type, DiodeMsg * m,
    const gchar * what)
{
  RawReadResult res = raw_next (c, m, RAW_IO_MS);

  fail_unless (res == RAW_READ_MSG, "%s: expected %s, but the relay %s",
      what, diode_msg_type_name (type), res == RAW_READ_CLOSED ? "closed" :
      "sent nothing");
  fail_unless (m->type == type, "%s: expected %s, got %s (%u %s)", what,
      diode_msg_type_name (type), diode_msg_type_name (m->type),
      m->error_code, m->error_text ? m->error_text : "");
}

void
raw_expect_error_says (RawClient * c, guint code, const gchar * what, ...)
{
  DiodeMsg m = { 0 };
  const gchar *n;
  va_list ap;

  raw_expect_next (c, DIODE_MSG_ERROR, &m, what);
  GST_INFO ("%s: ERROR %u: %s", what, m.error_code, m.error_text);
  fail_unless_equals_int (m.error_code, code);
  va_start (ap, what);
  while ((n = va_arg (ap, const gchar *)))
    fail_unless (strstr (m.error_text, n) != NULL, "%s: '%s' does not say "
        "'%s'", what, m.error_text, n);
  va_end (ap);
  diode_msg_clear (&m);
}

gint64
raw_wait_closed (RawClient * c, guint timeout_ms, gint * code, gchar ** text)
{
  gint64 t0 = g_get_monotonic_time ();

  *code = -1;
  if (text)
    *text = NULL;
  for (;;) {
    DiodeMsg m = { 0 };
    gint64 left = timeout_ms - ms_since (t0);
    RawReadResult res;

    if (left <= 0)
      return -1;
    res = raw_read (c, &m, (guint) left);
    if (res == RAW_READ_CLOSED)
      return ms_since (t0);
    if (res == RAW_READ_TIMEOUT)
      return -1;
    fail_unless (m.type == DIODE_MSG_ERROR,
        "relay sent %s to a client it should drop",
        diode_msg_type_name (m.type));
    GST_INFO ("relay: ERROR %u (%s): %s", m.error_code,
        diode_error_code_name (m.error_code), m.error_text);
    *code = m.error_code;
    if (text) {
      g_free (*text);
      *text = g_strdup (m.error_text);
    }
    diode_msg_clear (&m);
  }
}

gint64
raw_drain_until_closed (RawClient * c, guint timeout_ms)
{
  gint64 t0 = g_get_monotonic_time ();
  gint64 end = deadline_in (timeout_ms);

  for (;;) {
    guint8 buf[65536];
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st;

    if (diode_tls_pending (c->tls) == 0 && !wait_fd (c->fd, POLLIN, end))
      return -1;
    st = diode_tls_recv (c->tls, buf, sizeof (buf), &n, &err);
    if (st != DIODE_TLS_OK && st != DIODE_TLS_AGAIN) {
      GST_INFO ("raw client: relay closed (%s)", err ? err->message : "EOF");
      g_clear_error (&err);
      return ms_since (t0);
    }
  }
}

int
raw_listen (guint16 * port)
{
  struct sockaddr_in sa;
  socklen_t len = sizeof (sa);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  fail_unless (fd >= 0, "socket: %s", g_strerror (errno));
  memset (&sa, 0, sizeof (sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *) &sa, sizeof (sa)) == 0,
      "bind: %s", g_strerror (errno));
  fail_unless (listen (fd, 128) == 0, "listen: %s", g_strerror (errno));
  fail_unless (getsockname (fd, (struct sockaddr *) &sa, &len) == 0);
  fail_unless (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) == 0);
  *port = ntohs (sa.sin_port);
  return fd;
}

static int
accept_within (int lfd, gint64 end)
{
  for (;;) {
    int fd = accept (lfd, NULL, NULL);

    if (fd >= 0) {
      fail_unless (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK) == 0);
      fcntl (fd, F_SETFD, FD_CLOEXEC);
      return fd;
    }
    fail_unless (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR,
        "accept: %s", g_strerror (errno));
    if (!wait_fd (lfd, POLLIN, end))
      return -1;
  }
}

RawClient *
raw_accept (int lfd, const gchar * key_name, guint timeout_ms)
{
  gchar *key = g_build_filename (fixture_config_dir (), key_name, NULL);
  gint64 end = deadline_in (timeout_ms);
  GError *err = NULL;
  DiodeTlsStatus st;
  RawClient *c;
  int fd = accept_within (lfd, end), one = 1;

  if (fd < 0) {
    g_free (key);
    return NULL;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  c = g_new0 (RawClient, 1);
  c->fd = fd;
  c->id = diode_identity_load_or_create (key, &err);
  fail_unless (c->id != NULL, "raw server identity %s: %s", key_name,
      err ? err->message : "?");
  g_free (key);
  c->tls = diode_tls_new_server (c->fd, c->id, &err);
  fail_unless (c->tls != NULL, "TLS server: %s", err ? err->message : "?");
  end = deadline_in (5000);
  while ((st = diode_tls_handshake (c->tls, &err)) == DIODE_TLS_AGAIN)
    fail_unless (wait_fd (c->fd, diode_tls_wants_write (c->tls) ? POLLOUT :
            POLLIN, end), "TLS handshake with the relay timed out");
  fail_unless (st == DIODE_TLS_OK, "TLS handshake with the relay failed: %s",
      err ? err->message : "connection closed");
  c->rx = g_byte_array_new ();
  c->version = DIODE_PROTOCOL_VERSION_LINK;  /* only relays link to it */
  c->role = DIODE_ROLE_RELAY;
  return c;
}

guint
tcp_count_accepts (int lfd, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  guint n = 0;
  int fd;

  while ((fd = accept_within (lfd, end)) >= 0) {
    close (fd);
    n++;
  }
  return n;
}

gchar *
raw_key_address (const gchar * key_name)
{
  gchar *key = g_build_filename (fixture_config_dir (), key_name, NULL);
  DiodeIdentity *id = diode_identity_load_or_create (key, NULL);
  gchar *address;

  fail_unless (id != NULL, "identity %s", key_name);
  address = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
  g_free (key);
  return address;
}
