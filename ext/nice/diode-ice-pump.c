/* gst-diode — DiodeIce's pumps: bytes between the caller's fd and ICE
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both directions bounded (DIODE_ICE_BUF_SIZE each); why libnice is read
 * through its pollable stream and how ICE-TCP is kept from queueing
 * without bound: the head of diode-ice.c.
 */
#include "diode-ice-priv.h"

#include <glib-unix.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static void
buf_compact (Buf * b)
{
  if (b->start > 0) {
    memmove (b->data, b->data + b->start, b->len);
    b->start = 0;
  }
}

/* Both directions closed cleanly (the peer, another implementation
 * perhaps, sent a FIN): the session is over (final event). */
static void
maybe_finish (DiodeIce * ice)
{
  if (ice->ice_eof && ice->in.len == 0 && ice->ice_out_closed)
    diode_ice_fail (ice, "closed");
}

/* ---- fd -> ICE */

static gboolean
on_retry (gpointer data)
{
  DiodeIce *ice = data;

  g_source_unref (ice->retry_src);
  ice->retry_src = NULL;
  ice->ice_blocked = FALSE;
  diode_ice_pump_out (ice);
  return G_SOURCE_REMOVE;
}

static void
wait_writable (DiodeIce * ice)
{
  ice->ice_blocked = TRUE;
  if (!ice->retry_src) {
    ice->retry_src = g_timeout_source_new (DIODE_ICE_RETRY_MS);
    g_source_set_callback (ice->retry_src, on_retry, ice, NULL);
    g_source_attach (ice->retry_src, ice->ctx);
  }
}

static gboolean
on_fd_readable (gint fd, GIOCondition cond, gpointer data)
{
  DiodeIce *ice = data;
  gsize space;
  gssize n;

  buf_compact (&ice->out);
  space = DIODE_ICE_BUF_SIZE - ice->out.len;
  if (space > 0) {
    n = read (ice->fd, ice->out.data + ice->out.len, space);
    if (n > 0) {
      ice->out.len += n;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      ice->fd_eof = TRUE;
    }
  }
  if (ice->fd_eof || ice->out.len == DIODE_ICE_BUF_SIZE) {
    /* full: stop reading until the transport took some */
    g_source_unref (ice->fd_in_src);
    ice->fd_in_src = NULL;
    diode_ice_pump_out (ice);
    return G_SOURCE_REMOVE;
  }
  diode_ice_pump_out (ice);
  return G_SOURCE_CONTINUE;
}

void
diode_ice_watch_fd_in (DiodeIce * ice)
{
  if (ice->fd_in_src || ice->fd < 0 || ice->fd_eof
      || ice->out.len >= DIODE_ICE_BUF_SIZE)
    return;
  ice->fd_in_src = g_unix_fd_source_new (ice->fd, G_IO_IN | G_IO_HUP);
  g_source_set_callback (ice->fd_in_src, G_SOURCE_FUNC (on_fd_readable), ice,
      NULL);
  g_source_attach (ice->fd_in_src, ice->ctx);
}

/* Whether the kernel takes more: what it refuses libnice queues without
 * bound, so we only send when it has room (libnice's queue then holds at
 * most one send chunk). */
static gboolean
tcp_writable (DiodeIce * ice)
{
  struct pollfd pfd;

  if (ice->tcp_fd < 0)
    ice->tcp_fd = diode_ice_find_tcp_fd (ice->agent, ice->stream_id,
        ice->fd, ice->peer_fd);
  if (ice->tcp_fd < 0)
    return FALSE;       /* retried: the pair may be settling */
  pfd.fd = ice->tcp_fd;
  pfd.events = POLLOUT;
  pfd.revents = 0;
  if (poll (&pfd, 1, 0) < 0)
    return FALSE;
  if (pfd.revents & (POLLNVAL | POLLERR | POLLHUP)) {
    ice->tcp_fd = -1;
    return FALSE;
  }
  return (pfd.revents & POLLOUT) != 0;
}

void
diode_ice_pump_out (DiodeIce * ice)
{
  if (!ice->connected || ice->failed)
    return;
  while (ice->out.len > 0 && !ice->ice_blocked) {
    gint n;

    if (ice->sel_tcp && !tcp_writable (ice)) {
      wait_writable (ice);
      break;
    }
    n = nice_agent_send (ice->agent, ice->stream_id, 1,
        MIN (ice->out.len, DIODE_ICE_SEND_CHUNK),
        (const gchar *) ice->out.data + ice->out.start);
    if (n <= 0) {
      wait_writable (ice);
      break;
    }
    ice->out.start += n;
    ice->out.len -= n;
    if (ice->out.len == 0)
      ice->out.start = 0;
    g_mutex_lock (&ice->lock);
    ice->bytes_out += n;
    g_mutex_unlock (&ice->lock);
  }
  if (ice->fd_eof && ice->out.len == 0 && !ice->ice_out_closed) {
    /* The caller is done writing; nothing is sent for it. libnice 0.1.21
     * cannot half-close safely: its pseudo-TCP answers a write shutdown
     * with a RST when received data waits unread (RFC 1122's rule for a
     * full close), and after a FIN it was seen (test-ice, over TURN) to
     * leave the last lost segments unsent; on ICE-TCP a shutdown discards
     * libnice's queue and the peer takes the EOF for a broken path. The
     * TLS layer above has said close_notify; the session ends when a side
     * frees its DiodeIce. */
    ice->ice_out_closed = TRUE;
    maybe_finish (ice);
    if (ice->failed)
      return;
  }
  diode_ice_watch_fd_in (ice);
}

void
diode_ice_on_transport_writable (NiceAgent * agent, guint stream_id, guint component,
    gpointer data)
{
  DiodeIce *ice = data;

  if (stream_id != ice->stream_id)
    return;
  ice->ice_blocked = FALSE;
  diode_ice_drop_source (&ice->retry_src);
  diode_ice_pump_out (ice);
}

/* ---- ICE -> fd */

static gboolean
on_fd_writable (gint fd, GIOCondition cond, gpointer data)
{
  DiodeIce *ice = data;

  g_source_unref (ice->fd_out_src);
  ice->fd_out_src = NULL;
  diode_ice_pump_in (ice);
  return G_SOURCE_REMOVE;
}

/* Writes what `in` holds to the caller; then polls ICE again if there is
 * room. */
void
diode_ice_pump_in (DiodeIce * ice)
{
  while (ice->in.len > 0 && ice->fd >= 0) {
    gssize n = send (ice->fd, ice->in.data + ice->in.start, ice->in.len,
        MSG_NOSIGNAL);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      if (!ice->fd_out_src) {
        ice->fd_out_src = g_unix_fd_source_new (ice->fd, G_IO_OUT);
        g_source_set_callback (ice->fd_out_src, G_SOURCE_FUNC (on_fd_writable),
            ice, NULL);
        g_source_attach (ice->fd_out_src, ice->ctx);
      }
      return;
    }
    if (n <= 0) {
      /* the caller closed its end: nobody left to deliver to */
      diode_ice_fail (ice, "the local end closed");
      return;
    }
    ice->in.start += n;
    ice->in.len -= n;
    g_mutex_lock (&ice->lock);
    ice->bytes_in += n;
    g_mutex_unlock (&ice->lock);
  }
  ice->in.start = 0;
  if (ice->ice_eof) {
    /* the peer is done writing: so are we towards the caller; the other
     * direction goes on until the caller closes too */
    if (!ice->failed && ice->fd >= 0)
      shutdown (ice->fd, SHUT_WR);
    maybe_finish (ice);
    return;
  }
  diode_ice_watch_nice_in (ice);
}

static gboolean
on_nice_readable (GObject * stream, gpointer data)
{
  DiodeIce *ice = data;
  GError *err = NULL;

  /* Before CONNECTED the reads only let libnice process STUN (nothing is
   * delivered); after it, the data land in `in`, never beyond its size. */
  while (ice->in.len < DIODE_ICE_BUF_SIZE) {
    gssize n;

    buf_compact (&ice->in);
    n = g_pollable_input_stream_read_nonblocking (ice->nin,
        ice->in.data + ice->in.len, DIODE_ICE_BUF_SIZE - ice->in.len, NULL,
        &err);
    if (ice->failed) {
      /* a state change libnice emitted inside the read failed us: this
       * source is already destroyed */
      g_clear_error (&err);
      return G_SOURCE_REMOVE;
    }
    if (n > 0) {
      ice->in.len += n;
      continue;
    }
    if (n == 0) {
      ice->ice_eof = TRUE;
      break;
    }
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_clear_error (&err);
      break;
    }
    /* a socket error after the pair is up: the path is gone */
    if (ice->connected) {
      g_debug ("diode-ice %p: read: %s", ice, err->message);
      g_clear_error (&err);
      diode_ice_fail (ice, "ICE connection lost (read error)");
      return G_SOURCE_REMOVE;
    }
    g_clear_error (&err);
    break;
  }
  if (ice->in.len > 0 || ice->ice_eof) {
    if (!ice->connected) {
      /* The peer saw the pair up first and has begun (a TLS ClientHello)
       * before our state changed: keep it for the fd, which exists from
       * CONNECTED on, and keep reading (STUN) while there is room. */
      if (ice->in.len < DIODE_ICE_BUF_SIZE && !ice->ice_eof)
        return G_SOURCE_CONTINUE;
      g_source_unref (ice->nice_in_src);
      ice->nice_in_src = NULL;
      return G_SOURCE_REMOVE;
    }
    /* stop polling ICE while we hold data; diode_ice_pump_in polls again */
    g_source_unref (ice->nice_in_src);
    ice->nice_in_src = NULL;
    diode_ice_pump_in (ice);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

void
diode_ice_watch_nice_in (DiodeIce * ice)
{
  if (ice->nice_in_src || ice->failed || ice->ice_eof
      || ice->in.len >= DIODE_ICE_BUF_SIZE)
    return;
  ice->nice_in_src = g_pollable_input_stream_create_source (ice->nin, NULL);
  g_source_set_callback (ice->nice_in_src, G_SOURCE_FUNC (on_nice_readable),
      ice, NULL);
  g_source_attach (ice->nice_in_src, ice->ctx);
}
