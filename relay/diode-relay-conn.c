/* gst-diode — the relay's connections: accept, TLS, read, write, close
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything that touches a client socket: the epoll source, accepting,
 * the TLS handshake, reading bytes into the connection's DiodeSession,
 * writing queued control frames and the viewer's cursor, and closing.
 * What the bytes mean is diode-relay-protocol.c's job. Runs on the relay's
 * I/O thread.
 */
#define _GNU_SOURCE   /* accept4 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

/* ------------------------------------------------------------------------ */
/* epoll plumbing */

void
conn_set_events (Conn * c, guint32 events)
{
  struct epoll_event ev = { 0 };

  if (c->dead || c->events == events)
    return;
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl (c->relay->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
    c->events = events;
}

void
conn_want_write (Conn * c, gboolean want)
{
  guint32 ev = (c->phase == CONN_CLOSING) ? 0 : EPOLLIN;
  if (want)
    ev |= EPOLLOUT;
  conn_set_events (c, ev);
}

/* ------------------------------------------------------------------------ */
/* sending */

void
conn_queue (Conn * c, GBytes * frame)
{
  g_queue_push_tail (&c->ctrl, frame);
}

void
conn_send_error (Conn * c, DiodeErrorCode code, const gchar * text)
{
  GError *err = NULL;

  conn_queue (c, diode_msg_encode_error (code, text));
  if (!diode_session_sent (c->session, DIODE_MSG_ERROR, code, &err))
    g_clear_error (&err);
  if (diode_error_code_is_fatal (code) && c->phase != CONN_CLOSING) {
    /* Stop listening to the peer; give it a moment to read why. */
    c->phase = CONN_CLOSING;
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
  }
  conn_flush (c);
}

/* Say why, then close, whatever the code (1xx codes alone leave the
 * connection open). */
void
conn_fail (Conn * c, DiodeErrorCode code, const gchar * text)
{
  conn_send_error (c, code, text);
  if (!c->dead && c->phase != CONN_CLOSING) {
    c->phase = CONN_CLOSING;
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
    conn_flush (c);
  }
}

void
conn_flush (Conn * c)
{
  if (c->dead || c->phase == CONN_HANDSHAKE)
    return;

  for (;;) {
    const guint8 *data;
    gsize size, n = 0;
    DiodeTlsStatus st;
    GError *err = NULL;

    if (!c->out) {
      GBytes *next = g_queue_pop_head (&c->ctrl);

      if (next) {
        c->out = next;
      } else if (c->viewing && c->stream && c->phase == CONN_OPEN) {
        DiodeRing *ring = c->stream->ring;
        gboolean skipped = FALSE;
        guint64 backlog = diode_cursor_backlog (&c->cursor, ring);
        GBytes *f;

        /* Slow viewer: rather than fall further behind, drop what it has
         * not read and start again at the latest keyframe. Its diodesrc
         * sees the seq gap and flags DISCONT. */
        if (backlog > c->relay->soft_limit
            && diode_cursor_skip_to_latest (&c->cursor, ring)) {
          c->skips++;
          g_message ("viewer %s (%s) of '%s' was %" G_GUINT64_FORMAT " bytes "
              "behind; skipped to the latest keyframe", c->address, c->peer,
              c->stream->name, backlog);
        }
        f = diode_cursor_next (&c->cursor, ring, &skipped);
        if (skipped) {
          c->skips++;
          g_message ("viewer %s (%s) of '%s' fell out of the buffer; skipped "
              "to the latest keyframe", c->address, c->peer, c->stream->name);
        }
        if (!f)
          break;
        if (!c->first_media_at && g_bytes_get_size (f) > DIODE_FRAME_HEADER_SIZE
            && ((const guint8 *) g_bytes_get_data (f, NULL))[0] ==
            DIODE_MSG_MEDIA)
          c->first_media_at = g_get_monotonic_time ();
        c->out = g_bytes_ref (f);
      } else {
        break;
      }
      c->out_off = 0;
    }

    data = g_bytes_get_data (c->out, &size);
    st = diode_tls_send (c->tls, data + c->out_off, size - c->out_off, &n,
        &err);
    if (st == DIODE_TLS_OK) {
      c->out_off += n;
      c->bytes_out += n;
      c->last_progress = c->last_tx = g_get_monotonic_time ();
      if (c->out_off == size) {
        g_clear_pointer (&c->out, g_bytes_unref);
        c->frames_out++;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      conn_want_write (c, TRUE);
      return;
    }
    /* A viewer that vanished mid-chunk ends here: only it is affected. */
    conn_close (c, err ? err->message : "peer closed the connection");
    g_clear_error (&err);
    return;
  }

  if (c->phase == CONN_CLOSING) {
    conn_close (c, NULL);
    return;
  }
  /* Nothing pending: the write timeout only runs while we wait on it. */
  c->last_progress = g_get_monotonic_time ();
  conn_want_write (c, FALSE);
}

/* ------------------------------------------------------------------------ */
/* connection lifecycle */

void
conn_close (Conn * c, const gchar * why)
{
  DiodeRelay *r = c->relay;
  Stream *s = c->stream;

  if (c->dead)
    return;
  c->dead = TRUE;
  if (why)
    g_info ("closing %s (%s): %s", c->peer,
        c->address ? c->address : "no identity", why);

  if (s && c->publishing && s->publisher == c) {
    g_mutex_lock (&r->lock);
    s->publisher = NULL;
    g_mutex_unlock (&r->lock);
    s->owner_until = g_get_monotonic_time () + (gint64) r->name_grace_ms * 1000;
    if (!s->eos) {
      s->grace_until = g_get_monotonic_time () + (gint64) r->grace_ms * 1000;
      g_message ("publisher %s of '%s' disconnected without EOS; keeping "
          "its viewers for %u ms", c->address, s->name, r->grace_ms);
    }
  }
  if (c->tls && c->phase != CONN_HANDSHAKE)
    diode_tls_bye (c->tls);
  epoll_ctl (r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  g_ptr_array_add (r->dead, c);
}

void
conn_free (Conn * c)
{
  g_clear_pointer (&c->tls, diode_tls_free);
  if (c->fd >= 0)
    close (c->fd);
  g_clear_pointer (&c->session, diode_session_free);
  g_queue_clear_full (&c->ctrl, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&c->out, g_bytes_unref);
  diode_cursor_clear (&c->cursor);
  g_free (c->peer);
  g_free (c->address);
  g_free (c);
}

/* Free what closed during this dispatch, now that no loop holds it. */
void
relay_reap (DiodeRelay * r)
{
  guint i;

  for (i = 0; i < r->dead->len; i++) {
    Conn *c = g_ptr_array_index (r->dead, i);
    Stream *s = c->stream;

    g_mutex_lock (&r->lock);
    g_hash_table_remove (r->conns, c);
    g_mutex_unlock (&r->lock);
    if (s) {
      g_mutex_lock (&r->lock);
      g_ptr_array_remove (s->viewers, c);
      g_ptr_array_remove (s->waiting, c);
      g_mutex_unlock (&r->lock);
      c->stream = NULL;
      stream_maybe_free (r, s);
    }
    conn_free (c);
  }
  g_ptr_array_set_size (r->dead, 0);
}


/* TLS 1.3 always starts with a handshake record (0x16). Anything else is
 * refused from its first byte, instead of letting GnuTLS wait for the rest
 * of what it might take for an SSLv2 header. TRUE: go on with TLS. */
static gboolean
conn_check_first_byte (Conn * c)
{
  guint8 b;
  ssize_t n;

  if (c->tls_seen)
    return TRUE;
  n = recv (c->fd, &b, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return FALSE;
  if (n == 1 && b == 0x16) {
    c->tls_seen = TRUE;
    return TRUE;
  }
  if (n == 1)
    g_message ("%s does not speak TLS (first byte 0x%02x); closing", c->peer,
        b);
  conn_close (c, n == 0 ? "closed before the TLS handshake" : NULL);
  return FALSE;
}

void
conn_handshake (Conn * c)
{
  GError *err = NULL;
  DiodeTlsStatus st;

  if (!conn_check_first_byte (c))
    return;
  st = diode_tls_handshake (c->tls, &err);

  if (st == DIODE_TLS_AGAIN) {
    conn_set_events (c, diode_tls_wants_write (c->tls) ? EPOLLOUT : EPOLLIN);
    return;
  }
  if (st != DIODE_TLS_OK) {
    g_message ("TLS handshake with %s failed: %s", c->peer,
        err ? err->message : "connection closed");
    g_clear_error (&err);
    conn_close (c, NULL);
    return;
  }
  c->address = g_strdup (diode_tls_get_peer_address (c->tls));
  c->phase = CONN_OPEN;
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    gchar *why = g_error_matches (err, DIODE_TLS_ERROR,
        DIODE_TLS_ERROR_NOT_ED25519) ? g_strdup_printf ("refused: %s",
        err->message) : g_strdup_printf ("refused: %s; a diode identity's "
        "certificate is regenerated from its key at every start", err->message);

    g_message ("client %s (%s): %s", c->address, c->peer, err->message);
    g_clear_error (&err);
    conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    return;
  }
  /* c->deadline still counts from accept: TLS and HELLO share one budget. */
  g_debug ("TLS with %s is up: %s, peer %s", c->peer,
      diode_tls_describe (c->tls), c->address);
  conn_set_events (c, EPOLLIN);
  /* GnuTLS may already hold the client's first records. */
  conn_on_readable (c);
}

void
conn_on_readable (Conn * c)
{
  DiodeRelay *r = c->relay;

  if (c->phase == CONN_HANDSHAKE) {
    conn_handshake (c);
    return;
  }
  while (!c->dead && c->phase == CONN_OPEN) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (c->tls, r->rbuf, READ_CHUNK, &n, &err);

    if (st == DIODE_TLS_OK) {
      c->last_rx = g_get_monotonic_time ();
      diode_session_feed (c->session, r->rbuf, n);
      conn_process (c);
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    conn_close (c, st == DIODE_TLS_CLOSED ? "peer closed the connection" :
        err->message);
    g_clear_error (&err);
    return;
  }
}

void
relay_accept (DiodeRelay * r)
{
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof (ss);
    char host[INET6_ADDRSTRLEN] = "?";
    guint16 port = 0;
    struct epoll_event ev = { 0 };
    GError *err = NULL;
    Conn *c;
    int one = 1;
    int fd = accept4 (g_socket_get_fd (r->listen_socket),
        (struct sockaddr *) &ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
          && errno != ECONNABORTED)
        g_message ("accept failed: %s", g_strerror (errno));
      return;
    }
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    if (ss.ss_family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *) &ss;
      inet_ntop (AF_INET, &in->sin_addr, host, sizeof (host));
      port = ntohs (in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
      inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof (host));
      port = ntohs (in6->sin6_port);
    }

    c = g_new0 (Conn, 1);
    c->kind = TAG_CONN;
    c->relay = r;
    c->fd = fd;
    c->peer = g_strdup_printf ("%s:%u", host, port);
    g_queue_init (&c->ctrl);
    diode_cursor_init (&c->cursor);
    c->session = diode_session_new (DIODE_SESSION_RELAY_END);
    c->phase = CONN_HANDSHAKE;
    c->accepted_at = c->last_progress = c->last_rx = c->last_tx =
        g_get_monotonic_time ();
    c->deadline = c->accepted_at + (gint64) r->handshake_ms * 1000;
    c->tls = diode_tls_new_server (fd, r->identity, &err);
    if (!c->tls) {
      g_message ("cannot set up TLS for %s: %s", c->peer, err->message);
      g_clear_error (&err);
      conn_free (c);
      continue;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl (r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      conn_free (c);
      continue;
    }
    c->events = EPOLLIN;
    g_mutex_lock (&r->lock);
    g_hash_table_add (r->conns, c);
    g_mutex_unlock (&r->lock);
    g_debug ("connection from %s", c->peer);
  }
}

/* ------------------------------------------------------------------------ */
/* loop sources */

static gboolean
io_dispatch (GSource * source, GSourceFunc cb, gpointer user_data)
{
  DiodeRelay *r = user_data;
  struct epoll_event events[256];
  int n, i;

  n = epoll_wait (r->epfd, events, G_N_ELEMENTS (events), 0);
  for (i = 0; i < n; i++) {
    TagKind *kind = events[i].data.ptr;
    Conn *c;

    if (*kind == TAG_LISTENER) {
      relay_accept (r);
      continue;
    }
    c = (Conn *) kind;
    if (c->dead)
      continue;
    if (c->phase == CONN_HANDSHAKE) {
      conn_handshake (c);
      continue;
    }
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      conn_on_readable (c);
    if (!c->dead && c->phase == CONN_CLOSING
        && (events[i].events & (EPOLLHUP | EPOLLERR))) {
      conn_close (c, NULL);
      continue;
    }
    if (!c->dead && (events[i].events & EPOLLOUT))
      conn_flush (c);
  }
  relay_reap (r);
  return G_SOURCE_CONTINUE;
}

GSourceFuncs relay_io_funcs = { NULL, NULL, io_dispatch, NULL, NULL, NULL };
