/* gst-diode — the relay's outgoing connections to other relays (links)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One job: get a connection to another relay up and keep it honest. A Link
 * resolves its endpoint (GResolver, asynchronously on the relay's own
 * GMainContext, so the I/O thread never blocks on DNS), connects without
 * blocking (the socket joins the relay's epoll set as a Conn with
 * c->link set), runs the TLS client handshake, checks the relay's identity
 * (the endpoint's pin "0xADDRESS@", else trust on first use in the
 * known-relays file, with the same rules and messages as the elements),
 * says HELLO as role RELAY offering versions 1..2 and waits for WELCOME.
 * From then on the Conn is read and written by diode-relay-conn.c like any
 * other (keepalive included: relay_tick PINGs it and declares it dead after
 * three silent periods); what its messages mean is the job of the link's
 * owner: diode-relay-upstream.c (control links) or diode-relay-pull.c
 * (pulls). A link whose connection dies stays as an object, idle, so its
 * owner decides whether and where to connect again.
 *
 * Outgoing connections are not counted against the caps for accepted
 * connections (they have no AddrCount): the relay opens them itself, one
 * control link and one per pulled stream.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-known-relays.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define LINK_VERSION_MIN 1
/* links need version 2 (the session refuses a WELCOME below it); 3 adds
 * recordings (RANGE, FETCH) when both relays speak it; peer links need 3
 * (diode-relay-peers.c checks) */
#define LINK_VERSION_MAX DIODE_PROTOCOL_VERSION_MAX

const gchar *
link_state_name (LinkState st)
{
  static const gchar *names[] = { "idle", "resolving", "connecting", "ready",
    "linking", "linked", "subscribing", "subscribed", "publishing"
  };
  return st < G_N_ELEMENTS (names) ? names[st] : "?";
}

const gchar *
link_kind_name (Link * l)
{
  switch (l->kind) {
    case LINK_CONTROL:
      if (l->probe)
        return "probe";
      return l->ep <= 0 ? "upstream" : "fallback";
    case LINK_PULL:
      return "pull";
    case LINK_PUSH:
      return "push";
    case LINK_PEER:
      return l->endpoint ? "peer" : "fetch";
  }
  return "?";
}

static DiodeEndpoint *
link_endpoint (Link * l)
{
  DiodeRelay *r = l->relay;

  if (l->endpoint)
    return l->endpoint;
  if (l->ep < 0 || !r->endpoints || (guint) l->ep >= r->endpoints->len)
    return NULL;
  return g_ptr_array_index (r->endpoints, l->ep);
}

/* "host:port" of the link's endpoint (the known-relays key), for logs. */
gchar *
link_peer_string (Link * l)
{
  DiodeEndpoint *e = link_endpoint (l);

  return e ? diode_endpoint_to_string (e) : g_strdup ("?");
}

gboolean
link_is_up (Link * l)
{
  return l->conn && !l->conn->dead && l->state >= LINK_READY;
}

Link *
link_new (DiodeRelay * r, LinkKind kind, gint ep)
{
  Link *l = g_new0 (Link, 1);

  l->relay = r;
  l->kind = kind;
  l->ep = ep;
  l->id = ++r->next_link_id;
  if (l->id == 0)
    l->id = ++r->next_link_id;
  g_hash_table_insert (r->links, GUINT_TO_POINTER (l->id), l);
  return l;
}

gboolean
relay_may_add_link (DiodeRelay * r, const gchar * what)
{
  if (!r->max_streams || g_hash_table_size (r->links) < RELAY_MAX_LINKS (r))
    return TRUE;
  relay_log (r, RELAY_LOG_LIMIT, "not opening %s: this relay already has "
      "%u outgoing links (limit %" G_GUINT64_FORMAT ", from --max-streams)",
      what, g_hash_table_size (r->links), RELAY_MAX_LINKS (r));
  return FALSE;
}

static void
link_clear_addrs (Link * l)
{
  g_list_free_full (l->addrs, g_object_unref);
  l->addrs = l->next_addr = NULL;
}

/* Forget the link. Its connection, if any, is closed first (the Conn no
 * longer points at it). */
void
link_free (Link * l)
{
  DiodeRelay *r = l->relay;

  if (l->conn) {
    l->conn->link = NULL;
    conn_close (l->conn, NULL);
    l->conn = NULL;
  }
  g_hash_table_remove (r->links, GUINT_TO_POINTER (l->id));
  link_clear_addrs (l);
  g_free (l->peer_address);
  g_strfreev (l->link_path);
  g_clear_pointer (&l->announced, g_hash_table_unref);
  g_free (l);
}

/* Close the link's connection (its owner hears of it from
 * link_conn_gone once the connection is reaped). */
void
link_close (Link * l, const gchar * why)
{
  Conn *c = l->conn;

  if (!c || c->dead)
    return;
  if (!c->why && why)
    c->why = g_strdup (why);
  /* close_notify, then close: the other relay sees a clean end (a relay
   * ends a pull or push it no longer needs by closing it, protocol.md). */
  conn_close (c, NULL);
}

/* Sends one frame on the link (the session is told, so its state
 * follows). */
void
link_send (Link * l, GBytes * frame, DiodeMsgType type)
{
  Conn *c = l->conn;
  GError *err = NULL;

  if (!c || c->dead || !frame) {
    if (frame)
      g_bytes_unref (frame);
    return;
  }
  if (!diode_session_sent (c->session, type, 0, &err)) {
    g_warning ("link: session refused %s: %s", diode_msg_type_name (type),
        err->message);
    g_clear_error (&err);
  }
  conn_queue (c, frame);
  conn_flush (c);
}

/* ------------------------------------------------------------------------ */
/* connecting */

static void link_try_next_addr (Link * l);

/* Nothing more to try: the owner decides what next. */
/* The link's connection failed or went: its owner (by kind) decides what
 * next. */
static void
link_down (Link * l, const gchar * why)
{
  if (l->kind == LINK_CONTROL)
    upstream_link_down (l, why);
  else if (l->kind == LINK_PULL)
    pull_link_down (l, why);
  else if (l->kind == LINK_PEER)
    peer_link_down (l, why);
  else
    push_link_down (l, why);
}

static void
link_connect_failed (Link * l, const gchar * why)
{
  gchar *peer = link_peer_string (l);

  /* the owner's log line says it (and what happens next) */
  g_info ("%s link to %s failed: %s", link_kind_name (l), peer, why);
  g_free (peer);
  link_clear_addrs (l);
  l->was_up = FALSE;
  l->state = LINK_IDLE;
  l->relay->links_kick = TRUE;
  link_down (l, why);
}

typedef struct {
  DiodeRelay *relay;
  guint       id;
} ResolveReq;

static void
resolve_cb (GObject * source, GAsyncResult * res, gpointer data)
{
  ResolveReq *req = data;
  DiodeRelay *r = req->relay;
  GError *err = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res,
      &err);
  Link *l = r->links ? g_hash_table_lookup (r->links,
      GUINT_TO_POINTER (req->id)) : NULL;

  g_free (req);
  if (!l || l->state != LINK_RESOLVING || r->stopping) {
    g_resolver_free_addresses (addrs);
    g_clear_error (&err);
    return;
  }
  if (!addrs) {
    gchar *why = g_strdup_printf ("cannot resolve: %s", err->message);

    g_clear_error (&err);
    link_connect_failed (l, why);
    g_free (why);
    relay_reap (r);
    return;
  }
  l->addrs = addrs;
  l->next_addr = addrs;
  link_try_next_addr (l);
  relay_reap (r);
}

/* Connect to the link's endpoint: numeric hosts at once, names through
 * the resolver (the callback runs on this thread, in this context). */
void
link_connect (Link * l)
{
  DiodeRelay *r = l->relay;
  DiodeEndpoint *e = link_endpoint (l);
  GInetAddress *ia;

  if (r->stopping || !e || l->conn || l->state == LINK_RESOLVING)
    return;
  l->retry_at = 0;
  link_clear_addrs (l);
  ia = g_inet_address_new_from_string (e->host);
  if (ia) {
    l->addrs = g_list_append (NULL, ia);
    l->next_addr = l->addrs;
    link_try_next_addr (l);
    return;
  }
  {
    GResolver *res = g_resolver_get_default ();
    ResolveReq *req = g_new0 (ResolveReq, 1);

    req->relay = r;
    req->id = l->id;
    l->state = LINK_RESOLVING;
    /* r->context is this thread's default context: the callback comes
     * back here. */
    g_resolver_lookup_by_name_async (res, e->host, NULL, resolve_cb, req);
    g_object_unref (res);
  }
}

static void
link_try_next_addr (Link * l)
{
  DiodeRelay *r = l->relay;
  DiodeEndpoint *e = link_endpoint (l);
  GInetAddress *ia;
  GSocketAddress *sa;
  struct sockaddr_storage ss;
  struct epoll_event ev = { 0 };
  Conn *c;
  int fd, one = 1;
  gchar *ip;

  if (!l->next_addr) {
    link_connect_failed (l, "no address to connect to");
    return;
  }
  ia = l->next_addr->data;
  l->next_addr = l->next_addr->next;
  sa = g_inet_socket_address_new (ia, e->port);
  memset (&ss, 0, sizeof (ss));
  if (!g_socket_address_to_native (sa, &ss, sizeof (ss), NULL)) {
    g_object_unref (sa);
    link_try_next_addr (l);
    return;
  }
  fd = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    gchar *why = g_strdup_printf ("socket: %s", g_strerror (errno));

    g_object_unref (sa);
    link_connect_failed (l, why);
    g_free (why);
    return;
  }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  if (connect (fd, (struct sockaddr *) &ss,
          g_socket_address_get_native_size (sa)) < 0
      && errno != EINPROGRESS) {
    gchar *why = g_strdup_printf ("connect: %s", g_strerror (errno));

    close (fd);
    g_object_unref (sa);
    if (l->next_addr) {
      link_try_next_addr (l);
    } else {
      link_connect_failed (l, why);
    }
    g_free (why);
    return;
  }
  g_object_unref (sa);

  c = g_new0 (Conn, 1);
  c->kind = TAG_CONN;
  c->relay = r;
  c->fd = fd;
  c->outgoing = TRUE;
  c->link = l;
  ip = g_inet_address_to_string (ia);
  c->peer = g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV6 ?
      g_strdup_printf ("[%s]:%u", ip, e->port) :
      g_strdup_printf ("%s:%u", ip, e->port);
  g_free (ip);
  g_queue_init (&c->ctrl);
  diode_cursor_init (&c->cursor);
  c->session = diode_session_new (DIODE_SESSION_CLIENT_END);
  c->phase = CONN_CONNECTING;
  c->tls_seen = TRUE;           /* we speak first: no first-byte check */
  c->accepted_at = c->last_progress = c->last_rx = c->last_tx =
      g_get_monotonic_time ();
  /* TCP, TLS and WELCOME share the handshake budget, as for clients. */
  c->deadline = c->accepted_at + (gint64) r->handshake_ms * 1000;
  ev.events = EPOLLOUT;
  ev.data.ptr = c;
  if (epoll_ctl (r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    c->link = NULL;
    conn_free (c);
    link_connect_failed (l, "cannot watch the socket");
    return;
  }
  c->events = EPOLLOUT;
  g_mutex_lock (&r->lock);
  g_hash_table_add (r->conns, c);
  g_mutex_unlock (&r->lock);
  l->conn = c;
  l->state = LINK_CONNECTING;
  g_debug ("%s link: connecting to %s", link_kind_name (l), c->peer);
}

/* epoll says the connecting socket is writable (or failed). */
void
link_on_connect (Conn * c)
{
  Link *l = c->link;
  DiodeRelay *r = c->relay;
  DiodeEndpoint *e;
  GError *err = NULL;
  int soerr = 0;
  socklen_t len = sizeof (soerr);

  if (!l) {
    conn_close (c, NULL);
    return;
  }
  e = link_endpoint (l);
  if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
    soerr = errno;
  if (soerr == EINPROGRESS || soerr == EALREADY)
    return;
  if (soerr) {
    gchar *why = g_strdup_printf ("connect to %s: %s", c->peer,
        g_strerror (soerr));

    /* This address failed: the next one, or the link failed. The Conn is
     * dropped quietly (no owner callback): the link goes on. */
    c->link = NULL;
    l->conn = NULL;
    conn_close (c, NULL);
    if (l->next_addr)
      link_try_next_addr (l);
    else
      link_connect_failed (l, why);
    g_free (why);
    return;
  }
  c->tls = diode_tls_new_client (c->fd, r->identity, e ? e->host : NULL,
      &err);
  if (!c->tls) {
    gchar *why = g_strdup_printf ("cannot set up TLS: %s", err->message);

    g_clear_error (&err);
    c->link = NULL;
    l->conn = NULL;
    conn_close (c, NULL);
    link_connect_failed (l, why);
    g_free (why);
    return;
  }
  c->phase = CONN_HANDSHAKE;
  conn_handshake (c);
}

/* Is the relay at the other end the one we mean? The endpoint's pin, else
 * trust on first use (the elements' rule, docs/security.md). */
static gboolean
link_verify_peer (Link * l, const gchar * addr, gchar ** why)
{
  DiodeRelay *r = l->relay;
  DiodeEndpoint *e = link_endpoint (l);
  gchar *hostport = link_peer_string (l);
  GError *err = NULL;
  gboolean ok = TRUE;

  if (!g_ascii_strcasecmp (addr, diode_relay_get_address (r))) {
    *why = g_strdup_printf ("relay %s is this relay itself (%s): a relay "
        "cannot be its own upstream", hostport, addr);
    ok = FALSE;
  } else if (e && e->pin) {
    if (g_ascii_strcasecmp (e->pin, addr)) {
      *why = g_strdup_printf ("relay %s presented identity %s, but its pin "
          "requires %s: refusing to use it (wrong relay, or someone in "
          "between)", hostport, addr, e->pin);
      ok = FALSE;
    }
  } else if (!diode_known_relays_check (r->known_relays, hostport, addr,
          &err)) {
    *why = g_strdup (err->message);
    g_error_free (err);
    ok = FALSE;
  }
  g_free (hostport);
  return ok;
}

/* The TLS handshake of an outgoing connection is done: check who answered,
 * then HELLO. */
void
link_on_tls_up (Conn * c)
{
  Link *l = c->link;
  GError *err = NULL;
  gchar *why = NULL;
  GBytes *hello;

  c->address = g_strdup (diode_tls_get_peer_address (c->tls));
  c->phase = CONN_OPEN;
  if (!l) {
    conn_close (c, NULL);
    return;
  }
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    why = g_strdup_printf ("certificate refused: %s", err->message);
    g_clear_error (&err);
  } else if (!link_verify_peer (l, c->address, &why)) {
    /* why set */
  }
  if (why) {
    c->link = NULL;
    l->conn = NULL;
    conn_close (c, NULL);
    link_connect_failed (l, why);
    g_free (why);
    return;
  }
  g_free (l->peer_address);
  l->peer_address = g_strdup (c->address);
  hello = diode_msg_encode_hello (LINK_VERSION_MIN, LINK_VERSION_MAX,
      DIODE_ROLE_RELAY, RELAY_AGENT);
  conn_set_events (c, EPOLLIN);
  /* The session learns our role and offer: a WELCOME of version 2 makes
   * this a relay link (LINK, PULL, the appended fields). */
  if (!diode_session_sent_hello (c->session, LINK_VERSION_MIN,
          LINK_VERSION_MAX, DIODE_ROLE_RELAY, &err)) {
    g_warning ("link: session refused HELLO: %s", err->message);
    g_clear_error (&err);
  }
  conn_queue (c, hello);
  conn_flush (c);
  /* The relay may have answered already. */
  conn_on_readable (c);
}

/* ------------------------------------------------------------------------ */
/* messages and the end of a connection */

void
link_handle_message (Conn * c, DiodeMsg * m)
{
  Link *l = c->link;
  DiodeRelay *r = c->relay;

  if (!l) {
    conn_close (c, NULL);
    return;
  }
  switch (m->type) {
    case DIODE_MSG_WELCOME:{
      gchar *peer = link_peer_string (l);

      l->version = m->version;
      l->peer_keepalive_ms = m->keepalive_ms;
      l->state = LINK_READY;
      l->connected_at = g_get_monotonic_time ();
      c->deadline = 0;
      g_info ("%s link to %s (%s) is up, protocol v%u", link_kind_name (l),
          peer, c->address, m->version);
      g_free (peer);
      if (l->kind == LINK_CONTROL)
        upstream_link_ready (l);
      else if (l->kind == LINK_PULL)
        pull_on_ready (l);
      else if (l->kind == LINK_PEER)
        peer_on_ready (l);
      else
        push_on_ready (l);
      return;
    }
    case DIODE_MSG_PING:
      conn_queue (c, diode_msg_encode_pong (m->token));
      conn_flush (c);
      return;
    case DIODE_MSG_PONG:
      return;
    case DIODE_MSG_ERROR:{
      gchar *text = relay_log_text (m->error_text);
      gchar *peer = link_peer_string (l);

      relay_log (r, RELAY_LOG_LINK, "%s link to %s (%s) got error %u (%s): "
          "%s", link_kind_name (l), peer, c->address, m->error_code,
          diode_error_code_name (m->error_code), text);
      g_free (peer);
      if (diode_error_code_is_fatal (m->error_code)) {
        if (!c->why)
          c->why = g_strdup_printf ("error %u (%s): %s", m->error_code,
              diode_error_code_name (m->error_code), text);
        g_free (text);
        conn_close (c, NULL);
        return;
      }
      g_free (text);
      break;
    }
    default:
      break;
  }
  if (l->kind == LINK_CONTROL)
    upstream_handle_message (l, m);
  else if (l->kind == LINK_PULL)
    pull_handle_message (l, m);
  else if (l->kind == LINK_PEER)
    peer_handle_message (l, m);
  else
    push_handle_message (l, m);
}

/* relay_reap: a link's connection is gone. The link stays (idle); its
 * owner decides what next. */
void
link_conn_gone (Conn * c)
{
  Link *l = c->link;
  gchar *why;

  if (!l)
    return;
  c->link = NULL;
  if (l->conn != c)
    return;
  l->conn = NULL;
  l->bytes_in += c->bytes_in;
  l->bytes_out += c->bytes_out;
  l->was_up = l->state >= LINK_READY;
  l->state = LINK_IDLE;
  l->connected_at = 0;
  why = g_strdup (c->why ? c->why : "connection closed");
  link_clear_addrs (l);
  if (l->closing) {
    g_free (why);
    link_free (l);
    return;
  }
  l->relay->links_kick = TRUE;
  link_down (l, why);
  g_free (why);
}

/* Links waiting to connect again whose time has come. */
void
relay_links_kick (DiodeRelay * r, gint64 now)
{
  /* Now, not the caller's tick time: a link that went down during this
   * tick asked for "now" after it began. */
  now = MAX (now, g_get_monotonic_time ());
  r->links_kick = FALSE;
  relay_upstream_tick (r, now);
  relay_pulls_tick (r, now);
  relay_peers_tick (r, now);
  relay_reap (r);
}

/* diode_relay_stop: every link goes (their connections were closed with
 * the rest). */
void
relay_links_stop (DiodeRelay * r)
{
  GList *all = g_hash_table_get_values (r->links), *it;

  for (it = all; it; it = it->next)
    link_free (it->data);
  g_list_free (all);
  r->control = NULL;
  r->probe = NULL;
  /* a relay started again links afresh */
  g_clear_pointer (&r->upstream_path, g_strfreev);
}
