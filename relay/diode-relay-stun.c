/* gst-diode — the relay's STUN answer on one UDP socket (--stun)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * `diode-relay --stun HOST:PORT` (the `stun` property; off by default)
 * answers STUN Binding requests so that each end of a direct path learns
 * its server-reflexive address without a third-party STUN server
 * (docs/protocol.md section 17.8). The bytes are judged and the answer
 * built by gst/protocol/diode-stun.c (a pure function, fuzzed); this file
 * is only the socket: non-blocking, in the relay's epoll set, a bounded
 * number of datagrams per loop turn, and a per-relay token bucket on the
 * answers, so a flood of requests (spoofed sources included) costs the
 * relay little and makes it send at most STUN_RATE answers a second, each
 * no bigger than its request + 32 bytes. Runs on the I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-stun.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Answers per second for the whole relay, and its burst: gathering sends
 * a handful of requests per ICE agent, so this serves dozens of viewers
 * starting at once and caps what a spoofed flood can reflect. */
#define STUN_RATE          200.0
#define STUN_BURST         200.0
/* Datagrams read per loop turn (level-triggered epoll calls again). */
#define STUN_READ_BUDGET   64

struct _RelayStun {
  TagKind     tag;              /* TAG_STUN: what the epoll entry is */
  GSocket    *socket;
  gdouble     tokens;
  gint64      refill_at;
  guint64     answered;
  guint64     dropped;          /* not answered: not a Binding Request we
                                   answer, malformed, or over the rate */
  guint64     rate_limited;     /* of those, for the rate alone */
};

gboolean
relay_stun_start (DiodeRelay * r, GError ** error)
{
  gchar *host = NULL;
  guint16 port = 0;
  GInetAddress *ia;
  GSocketAddress *sa, *bound;
  GSocket *s;
  RelayStun *st;

  if (!r->stun_listen || !*r->stun_listen)
    return TRUE;
  if (!relay_parse_listen (r->stun_listen, &host, &port, error)) {
    g_prefix_error (error, "--stun: ");
    return FALSE;
  }
  ia = g_inet_address_new_from_string (host);
  if (!ia) {
    GResolver *res = g_resolver_get_default ();
    GList *addrs = g_resolver_lookup_by_name (res, host, NULL, error);

    g_object_unref (res);
    if (!addrs) {
      g_prefix_error (error, "cannot resolve --stun host '%s': ", host);
      g_free (host);
      return FALSE;
    }
    ia = g_object_ref (addrs->data);
    g_resolver_free_addresses (addrs);
  }
  g_free (host);
  sa = g_inet_socket_address_new (ia, port);
  s = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_DATAGRAM,
      G_SOCKET_PROTOCOL_UDP, error);
  g_object_unref (ia);
  if (!s) {
    g_object_unref (sa);
    return FALSE;
  }
  g_socket_set_blocking (s, FALSE);
  if (!g_socket_bind (s, sa, TRUE, error)) {
    g_prefix_error (error, "cannot listen on %s (--stun): ", r->stun_listen);
    g_object_unref (sa);
    g_socket_close (s, NULL);
    g_object_unref (s);
    return FALSE;
  }
  g_object_unref (sa);
  bound = g_socket_get_local_address (s, NULL);
  st = g_new0 (RelayStun, 1);
  st->tag = TAG_STUN;
  st->socket = s;
  st->tokens = STUN_BURST;
  st->refill_at = g_get_monotonic_time ();
  r->stun = st;
  g_mutex_lock (&r->lock);
  r->stun_port = bound ?
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : port;
  g_mutex_unlock (&r->lock);
  g_clear_object (&bound);
  g_message ("answering STUN on %s (UDP port %u)", r->stun_listen,
      r->stun_port);
  return TRUE;
}

/* Into the relay's epoll set, once it exists. */
void
relay_stun_attach (DiodeRelay * r)
{
  struct epoll_event ev = { 0 };

  if (!r->stun)
    return;
  ev.events = EPOLLIN;
  ev.data.ptr = &r->stun->tag;
  epoll_ctl (r->epfd, EPOLL_CTL_ADD, g_socket_get_fd (r->stun->socket), &ev);
}

/* After the I/O thread ended (or a failed start). */
void
relay_stun_stop (DiodeRelay * r)
{
  RelayStun *st = r->stun;

  if (!st)
    return;
  if (r->epfd >= 0)
    epoll_ctl (r->epfd, EPOLL_CTL_DEL, g_socket_get_fd (st->socket), NULL);
  g_socket_close (st->socket, NULL);
  g_object_unref (st->socket);
  g_free (st);
  r->stun = NULL;
  g_mutex_lock (&r->lock);
  r->stun_port = 0;
  g_mutex_unlock (&r->lock);
}

static gboolean
stun_take_token (RelayStun * st)
{
  gint64 now = g_get_monotonic_time ();

  if (now > st->refill_at) {
    st->tokens = MIN (STUN_BURST, st->tokens +
        (gdouble) (now - st->refill_at) * STUN_RATE / 1e6);
    st->refill_at = now;
  }
  if (st->tokens < 1.0)
    return FALSE;
  st->tokens -= 1.0;
  return TRUE;
}

/* The source of a datagram as diode_stun_answer wants it. */
static gboolean
stun_from (const struct sockaddr_storage *ss, DiodeStunAddr * from)
{
  memset (from, 0, sizeof (*from));
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

    from->family = DIODE_STUN_FAMILY_IPV4;
    memcpy (from->addr, &in->sin_addr, 4);
    from->port = g_ntohs (in->sin_port);
    return TRUE;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;

    from->family = DIODE_STUN_FAMILY_IPV6;
    memcpy (from->addr, &in6->sin6_addr, 16);
    from->port = g_ntohs (in6->sin6_port);
    return TRUE;
  }
  return FALSE;
}

void
relay_stun_readable (DiodeRelay * r)
{
  RelayStun *st = r->stun;
  /* one byte more than the biggest request answered: bigger is refused */
  guint8 buf[DIODE_STUN_MAX_REQUEST + 1], out[DIODE_STUN_MAX_ANSWER];
  guint i;

  if (!st)
    return;
  for (i = 0; i < STUN_READ_BUDGET; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof (ss);
    DiodeStunAddr from;
    gsize n;
    ssize_t got = recvfrom (g_socket_get_fd (st->socket), buf, sizeof (buf),
        MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *) &ss, &sl);

    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        g_debug ("STUN socket: %s", g_strerror (errno));
      return;
    }
    /* MSG_TRUNC: got is the datagram's real size, so an oversized one is
     * seen as such (and not answered), not judged on its first bytes */
    if ((gsize) got > DIODE_STUN_MAX_REQUEST || !stun_from (&ss, &from)
        || !(n = diode_stun_answer (buf, got, &from, out, sizeof (out)))) {
      st->dropped++;
      continue;
    }
    if (!stun_take_token (st)) {
      st->dropped++;
      st->rate_limited++;
      continue;
    }
    /* UDP: a full socket buffer loses the answer; the client retries */
    if (sendto (g_socket_get_fd (st->socket), out, n, MSG_DONTWAIT,
            (struct sockaddr *) &ss, sl) == (ssize_t) n)
      st->answered++;
    else
      st->dropped++;
  }
}

void
relay_stun_counters (DiodeRelay * r, guint64 * answered, guint64 * dropped)
{
  *answered = r->stun ? r->stun->answered : 0;
  *dropped = r->stun ? r->stun->dropped : 0;
}

void
relay_stun_stats (JsonBuilder * b, DiodeRelay * r)
{
  RelayStun *st = r->stun;

  json_builder_set_member_name (b, "stun");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, r->stun_port);
  json_builder_set_member_name (b, "answered");
  json_builder_add_int_value (b, st ? st->answered : 0);
  json_builder_set_member_name (b, "dropped");
  json_builder_add_int_value (b, st ? st->dropped : 0);
  json_builder_set_member_name (b, "rate_limited");
  json_builder_add_int_value (b, st ? st->rate_limited : 0);
  json_builder_end_object (b);
}
