/* gst-diode — the client connection shared by diodesink and diodesrc
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Connecting to one relay (GResolver, TCP, TLS, relay verification,
 * HELLO), blocking I/O that unlock() interrupts, keepalive, errors and
 * stats messages. The settings and the URI handler are in
 * gstdiodeclient-settings.c; the relay list, fail-over and reconnect in
 * gstdiodeclient-failover.c.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodeclient.h"
#include "diode-known-relays.h"
#include "diode-keepalive.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

GST_DEBUG_CATEGORY_STATIC (gst_diode_client_debug);
#define GST_CAT_DEFAULT gst_diode_client_debug

#define READ_CHUNK (64 * 1024)
#define CLIENT_AGENT "gst-diode/" VERSION

static GQuark
client_quark (void)
{
  static GQuark q = 0;

  if (!q)
    q = g_quark_from_static_string ("gst-diode-client");
  return q;
}

GstDiodeClient *
gst_diode_client_of (GstElement * element)
{
  return g_object_get_qdata (G_OBJECT (element), client_quark ());
}

GstDiodeClient *
gst_diode_client_new (GstElement * element, DiodeRole role)
{
  GstDiodeClient *c = g_new0 (GstDiodeClient, 1);

  /* lets the shared URI handler find the client of either element */
  g_object_set_qdata (G_OBJECT (element), client_quark (), c);

  GST_DEBUG_CATEGORY_INIT (gst_diode_client_debug, "diodeclient", 0,
      "diode relay connection");
  c->element = element;
  c->role = role;
  c->relay = g_strdup (GST_DIODE_DEFAULT_RELAY);
  c->timeout = GST_DIODE_DEFAULT_TIMEOUT;
  c->reconnect = TRUE;
  c->reconnect_delay = GST_DIODE_DEFAULT_RECONNECT_DELAY;
  c->reconnect_max_delay = GST_DIODE_DEFAULT_RECONNECT_MAX_DELAY;
  c->max_reconnects = GST_DIODE_DEFAULT_MAX_RECONNECTS;
  c->current = c->last_used = -1;
  c->fd = -1;
  c->aux_fd = -1;
  c->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  c->cancellable = g_cancellable_new ();
  c->rbuf = g_malloc (READ_CHUNK);
  return c;
}

void
gst_diode_client_free (GstDiodeClient * c)
{
  if (!c)
    return;
  gst_diode_client_close (c);
  g_clear_pointer (&c->id, diode_identity_unref);
  if (c->wake_fd >= 0)
    close (c->wake_fd);
  g_clear_object (&c->cancellable);
  g_free (c->relay);
  g_free (c->stream);
  g_free (c->identity);
  g_free (c->relay_id);
  g_free (c->stream_name);
  g_free (c->hostport);
  g_clear_pointer (&c->endpoints, g_ptr_array_unref);
  g_clear_pointer (&c->failover, diode_failover_free);
  g_free (c->pin_default);
  g_free (c->current_relay);
  g_free (c->allow);
  g_free (c->fleet);
  g_free (c->start);
  g_free (c->stun_server);
  g_free (c->turn_server);
  g_free (c->relay_host);
  g_free (c->rbuf);
  g_free (c);
}

/* ------------------------------------------------------------------------ */
/* errors */

void
gst_diode_client_post_error (GstDiodeClient * c, const GError * error,
    const gchar * debug)
{
  GQuark domain = error->domain;
  gint code = error->code;

  if (domain != GST_RESOURCE_ERROR) {
    domain = GST_RESOURCE_ERROR;
    code = GST_RESOURCE_ERROR_FAILED;
  }
  gst_element_message_full (c->element, GST_MESSAGE_ERROR, domain, code,
      g_strdup (error->message), g_strdup (debug), __FILE__, GST_FUNCTION,
      __LINE__);
}

GError *
gst_diode_client_error_from_msg (GstDiodeClient * c, const DiodeMsg * m)
{
  GstResourceError code;

  switch (m->error_code) {
    case DIODE_ERR_NOT_FOUND:
      code = GST_RESOURCE_ERROR_NOT_FOUND;
      break;
    case DIODE_ERR_NAME_IN_USE:
      code = GST_RESOURCE_ERROR_BUSY;
      break;
    case DIODE_ERR_NOT_AUTHORIZED:
      code = GST_RESOURCE_ERROR_NOT_AUTHORIZED;
      break;
    case DIODE_ERR_BAD_NAME:
      code = GST_RESOURCE_ERROR_SETTINGS;
      break;
    default:
      code = c->role == DIODE_ROLE_PUBLISHER ? GST_RESOURCE_ERROR_WRITE :
          GST_RESOURCE_ERROR_READ;
      break;
  }
  return g_error_new (GST_RESOURCE_ERROR, code, "Relay %s: %s (error %u, %s)",
      c->hostport ? c->hostport : "?", m->error_text ? m->error_text : "",
      m->error_code, diode_error_code_name (m->error_code));
}

/* ------------------------------------------------------------------------ */
/* waiting */

typedef enum { WAIT_READY, WAIT_TIMEOUT, WAIT_CANCELLED, WAIT_AUX } WaitResult;

/* Wait for @events on the socket, or the wakeup fd, until @deadline
 * (monotonic µs, -1 = forever). With @aux, c->aux_fd (a direct path's
 * eventfd) readable ends the wait too. */
static WaitResult
wait_fd_aux (GstDiodeClient * c, short events, gint64 deadline, gboolean aux)
{
  for (;;) {
    struct pollfd p[3] = {
      {c->fd, events, 0},
      {c->wake_fd, POLLIN, 0},
      {aux ? c->aux_fd : -1, POLLIN, 0},
    };
    int timeout = -1, r;

    if (g_atomic_int_get (&c->flushing))
      return WAIT_CANCELLED;
    if (deadline >= 0) {
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        return WAIT_TIMEOUT;
      timeout = (int) MIN ((left + 999) / 1000, G_MAXINT);
    }
    r = poll (p, 3, timeout);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return WAIT_CANCELLED;
    if (p[1].revents)
      return WAIT_CANCELLED;
    if (p[0].revents)
      return WAIT_READY;
    if (p[2].revents)
      return WAIT_AUX;
  }
}

static WaitResult
wait_fd (GstDiodeClient * c, short events, gint64 deadline)
{
  return wait_fd_aux (c, events, deadline, FALSE);
}

static gint64
deadline_after (guint ms)
{
  return ms ? g_get_monotonic_time () + (gint64) ms * 1000 : -1;
}

gboolean
gst_diode_stats_due (gint64 * posted_at, guint interval_ms)
{
  gint64 now = g_get_monotonic_time ();

  if (!interval_ms || now - *posted_at < (gint64) interval_ms * 1000)
    return FALSE;
  *posted_at = now;
  return TRUE;
}

void
gst_diode_post_stats (GstElement * element, GstStructure * stats)
{
  GstStructure *msg = gst_structure_new_empty ("diode-stats");
  GValue v = G_VALUE_INIT;

  /* take, not copy: the message owns the stats structure */
  g_value_init (&v, GST_TYPE_STRUCTURE);
  g_value_take_boxed (&v, stats);
  gst_structure_take_value (msg, "stats", &v);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT
          (element), msg));
}

void
gst_diode_client_unlock (GstDiodeClient * c)
{
  guint64 one = 1;

  g_atomic_int_set (&c->flushing, TRUE);
  /* A name being resolved: GResolver returns at once. */
  g_cancellable_cancel (c->cancellable);
  if (write (c->wake_fd, &one, sizeof (one)) < 0)
    GST_WARNING ("cannot wake the streaming thread: %s", g_strerror (errno));
}

void
gst_diode_client_unlock_stop (GstDiodeClient * c)
{
  guint64 v;

  while (read (c->wake_fd, &v, sizeof (v)) > 0);
  /* The thread that was woken is out of its lookup by now. */
  g_cancellable_reset (c->cancellable);
  g_atomic_int_set (&c->flushing, FALSE);
}

/* ------------------------------------------------------------------------ */
/* connecting */

/* Resolves @host with the default GResolver, interruptibly: unlock()
 * cancels the lookup (a reconnect stuck in DNS must not hold up a state
 * change), then connects to each address in turn until @deadline. */
static int
connect_to (GstDiodeClient * c, const gchar * host, guint16 port,
    gint64 deadline, GError ** error)
{
  GResolver *resolver = g_resolver_get_default ();
  GList *addrs, *l;
  GError *err = NULL;
  int fd = -1, last_errno = ECONNREFUSED;

  addrs = g_resolver_lookup_by_name (resolver, host, c->cancellable, &err);
  g_object_unref (resolver);
  if (!addrs) {
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_propagate_error (error, err);
    else {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "Could not resolve relay host '%s': %s", host, err->message);
      g_error_free (err);
    }
    return -1;
  }
  for (l = addrs; l; l = l->next) {
    GSocketAddress *sa = g_inet_socket_address_new (l->data, port);
    struct sockaddr_storage ss;
    gsize sslen = g_socket_address_get_native_size (sa);
    int so_err = 0, one = 1;
    socklen_t len = sizeof (so_err);
    gboolean native = g_socket_address_to_native (sa, &ss, sizeof (ss),
        NULL);

    g_object_unref (sa);
    if (!native)
      continue;
    fd = socket (ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    c->fd = fd;
    if (connect (fd, (struct sockaddr *) &ss, sslen) < 0) {
      if (errno != EINPROGRESS) {
        last_errno = errno;
        goto next;
      }
      switch (wait_fd (c, POLLOUT, deadline)) {
        case WAIT_READY:
          break;
        case WAIT_TIMEOUT:
          last_errno = ETIMEDOUT;
          goto next;
        case WAIT_CANCELLED:
        case WAIT_AUX:         /* not asked for here */
          last_errno = ECANCELED;
          goto next;
      }
      if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0 || so_err) {
        last_errno = so_err ? so_err : errno;
        goto next;
      }
    }
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    g_resolver_free_addresses (addrs);
    return fd;
  next:
    close (fd);
    c->fd = fd = -1;
    if (last_errno == ECANCELED)
      break;
  }
  g_resolver_free_addresses (addrs);
  g_set_error (error, GST_RESOURCE_ERROR, c->role == DIODE_ROLE_PUBLISHER ?
      GST_RESOURCE_ERROR_OPEN_WRITE : GST_RESOURCE_ERROR_OPEN_READ,
      "Could not connect to relay %s: %s", c->hostport,
      g_strerror (last_errno));
  return -1;
}

static gboolean
verify_relay (GstDiodeClient * c, const gchar * pinned,
    const gchar * pin_source, GError ** error)
{
  const gchar *addr = diode_tls_get_peer_address (c->tls);
  GError *err = NULL;

  if (pinned && *pinned) {
    if (g_ascii_strcasecmp (pinned, addr) != 0) {
      g_set_error (error, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED,
          "Relay %s presented identity %s, but %s requires %s: refusing "
          "to use it (wrong relay, or someone in between)", c->hostport, addr,
          pin_source, pinned);
      return FALSE;
    }
  } else if (!diode_known_relays_check (NULL, c->hostport, addr, &err)) {
    g_set_error (error, GST_RESOURCE_ERROR,
        GST_RESOURCE_ERROR_NOT_AUTHORIZED, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  c->relay_address = g_strdup (addr);
  return TRUE;
}

gboolean
gst_diode_client_open (GstDiodeClient * c, GError ** error)
{
  const gchar *host, *pinned;
  const DiodeEndpoint *ep;
  guint16 port;
  guint timeout;
  gint64 deadline;
  GError *err = NULL;
  DiodeMsg m = { 0 };
  GBytes *hello;
  gboolean ok = FALSE;

  g_return_val_if_fail (c->endpoints && c->current >= 0 &&
      (guint) c->current < c->endpoints->len, FALSE);
  ep = g_ptr_array_index (c->endpoints, c->current);
  host = ep->host;
  port = ep->port;
  /* An entry's own pin, else relay-id, else trust on first use. */
  pinned = ep->pin ? ep->pin : c->pin_default;

  GST_OBJECT_LOCK (c->element);
  timeout = c->timeout;
  if (c->connect_timeout && (!timeout || c->connect_timeout < timeout))
    timeout = c->connect_timeout;
  g_free (c->stream_name);
  c->stream_name = g_strdup (c->stream ? c->stream :
      GST_OBJECT_NAME (c->element));
  GST_OBJECT_UNLOCK (c->element);
  deadline = deadline_after (timeout);

  g_free (c->hostport);
  c->hostport = diode_endpoint_to_string (ep);

  if (!gst_diode_client_identity (c, error))
    goto out;

  if (connect_to (c, host, port, deadline, error) < 0)
    goto out;
  c->tls = diode_tls_new_client (c->fd, c->id, host, &err);
  if (!c->tls) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED,
        "Cannot set up TLS: %s", err->message);
    goto out;
  }
  for (;;) {
    DiodeTlsStatus st = diode_tls_handshake (c->tls, &err);
    WaitResult w;

    if (st == DIODE_TLS_OK)
      break;
    if (st != DIODE_TLS_AGAIN) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
          "TLS handshake with relay %s failed: %s", c->hostport,
          err ? err->message : "connection closed (is it a diode relay?)");
      goto out;
    }
    w = wait_fd (c, diode_tls_wants_write (c->tls) ? POLLOUT : POLLIN,
        deadline);
    if (w != WAIT_READY) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ_WRITE,
          "TLS handshake with relay %s %s", c->hostport,
          w == WAIT_TIMEOUT ? "timed out (is it a diode relay?)" :
          "was interrupted");
      goto out;
    }
  }
  /* The certificate first: a relay whose key is not Ed25519 is no diode
   * identity and must not be recorded in known-relays. */
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
        "Relay %s: %s", c->hostport, err->message);
    goto out;
  }
  if (!verify_relay (c, pinned, ep->pin ? "its pin in the relay list" :
          "relay-id", error))
    goto out;
  GST_INFO_OBJECT (c->element, "TLS to relay %s (%s) up: %s", c->hostport,
      c->relay_address, diode_tls_describe (c->tls));

  c->session = diode_session_new (DIODE_SESSION_CLIENT_END);
  c->keepalive = 0;
  c->version = 0;
  c->stun_port = 0;
  c->lost = FALSE;
  c->last_rx = c->last_tx = g_get_monotonic_time ();
  /* 1..3: a relay of an older release answers 1 or 2, and the session
   * then knows which frames and fields exist on this connection */
  hello = diode_msg_encode_hello (1, DIODE_PROTOCOL_VERSION_MAX, c->role,
      CLIENT_AGENT);
  diode_session_sent_hello (c->session, 1, DIODE_PROTOCOL_VERSION_MAX,
      c->role, NULL);
  if (!gst_diode_client_send_bytes (c, hello, error)) {
    g_bytes_unref (hello);
    goto out;
  }
  g_bytes_unref (hello);

  switch (gst_diode_client_recv (c, &m, deadline, error)) {
    case DIODE_SESSION_MESSAGE:
      if (m.type == DIODE_MSG_WELCOME) {
        GST_DEBUG_OBJECT (c->element, "relay speaks v%u (%s), keepalive %u ms",
            m.version, m.agent, m.keepalive_ms);
        c->keepalive = m.keepalive_ms;
        c->version = m.version;
        /* version 4: where the relay answers STUN (0: it does not) */
        c->stun_port = m.stun_port;
        g_free (c->relay_host);
        c->relay_host = g_strdup (host);
        ok = TRUE;
      } else if (m.type == DIODE_MSG_ERROR) {
        g_propagate_error (error, gst_diode_client_error_from_msg (c, &m));
      } else {
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
            "Relay %s answered HELLO with %s", c->hostport,
            diode_msg_type_name (m.type));
      }
      diode_msg_clear (&m);
      break;
    case DIODE_SESSION_NEED_MORE:
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "Relay %s did not answer within %u ms", c->hostport, timeout);
      break;
    case DIODE_SESSION_ERROR:
      break;
  }

out:
  if (!ok)
    gst_diode_client_close (c);
  g_clear_error (&err);
  return ok;
}

void
gst_diode_client_close (GstDiodeClient * c)
{
  if (c->tls) {
    diode_tls_bye (c->tls);
    /* A connection known dead gets no grace: it would only delay the
     * reconnect. */
    if (c->fd >= 0 && !c->lost && c->session) {
      /* Give the relay our last frames before the socket goes: shut the
       * write side and read until it closes, briefly, so a close with
       * unread data cannot turn into a reset that discards them. */
      gint64 deadline = g_get_monotonic_time () + 500 * 1000;
      shutdown (c->fd, SHUT_WR);
      while (wait_fd (c, POLLIN, deadline) == WAIT_READY) {
        gsize n;
        DiodeTlsStatus st = diode_tls_recv (c->tls, c->rbuf, READ_CHUNK, &n,
            NULL);
        if (st != DIODE_TLS_OK && st != DIODE_TLS_AGAIN)
          break;
      }
    }
  }
  g_clear_pointer (&c->tls, diode_tls_free);
  if (c->fd >= 0)
    close (c->fd);
  c->fd = -1;
  g_clear_pointer (&c->session, diode_session_free);
  g_clear_pointer (&c->relay_address, g_free);
}

/* ------------------------------------------------------------------------ */
/* I/O */

gboolean
gst_diode_client_send (GstDiodeClient * c, const guint8 * data, gsize len,
    GError ** error)
{
  gsize off = 0;
  guint timeout;
  gint64 deadline;

  GST_OBJECT_LOCK (c->element);
  timeout = c->timeout;
  GST_OBJECT_UNLOCK (c->element);
  deadline = deadline_after (timeout);

  if (!c->tls) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "Not connected to a relay");
    return FALSE;
  }
  while (off < len) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + off, len - off, &n,
        &err);

    if (st == DIODE_TLS_OK) {
      off += n;
      c->last_tx = g_get_monotonic_time ();
      deadline = deadline_after (timeout);
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      /* A link that still takes bytes is alive, however slow; one that takes
       * nothing for three keepalive periods is dead or frozen. */
      gint64 stuck = c->keepalive ? c->last_tx + (gint64) c->keepalive *
          3000 : -1;
      gint64 until = deadline < 0 ? stuck : (stuck < 0 ? deadline :
          MIN (deadline, stuck));
      WaitResult w = wait_fd (c, diode_tls_wants_write (c->tls) ? POLLOUT :
          POLLIN, until);
      if (w == WAIT_READY)
        continue;
      if (w == WAIT_CANCELLED) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "flushing");
      } else {
        g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
            "Relay %s accepted no data for %u ms", c->hostport,
            (guint) ((g_get_monotonic_time () - c->last_tx) / 1000));
        c->lost = TRUE;
      }
      /* A frame cut in half cannot be resumed: drop the connection. */
      gst_diode_client_close (c);
      return FALSE;
    }
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "Lost the connection to relay %s: %s", c->hostport,
        err ? err->message : "closed by the relay");
    g_clear_error (&err);
    c->lost = TRUE;
    gst_diode_client_close (c);
    return FALSE;
  }
  return TRUE;
}

gboolean
gst_diode_client_send_bytes (GstDiodeClient * c, GBytes * frame,
    GError ** error)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame, &size);

  return gst_diode_client_send (c, data, size, error);
}

gboolean
gst_diode_client_keepalive (GstDiodeClient * c, GError ** error)
{
  gint64 now = g_get_monotonic_time ();
  /* the rule of protocol.md section 11 lives in the protocol core, shared
   * with the relay */
  DiodeKeepalive ka = { c->keepalive, c->last_rx, c->last_tx };
  GBytes *ping;
  gboolean ok;

  if (!c->tls)
    return TRUE;
  switch (diode_keepalive_check (&ka, now, NULL)) {
    case DIODE_KEEPALIVE_NONE:
      return TRUE;
    case DIODE_KEEPALIVE_DEAD:
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "Relay %s sent nothing for %u ms: it is dead, frozen or "
          "unreachable", c->hostport,
          (guint) diode_keepalive_silent_ms (&ka, now));
      c->lost = TRUE;
      return FALSE;
    case DIODE_KEEPALIVE_PING:
      break;
  }
  ping = diode_msg_encode_ping (++c->ping_token);
  ok = gst_diode_client_send_bytes (c, ping, error);
  g_bytes_unref (ping);
  return ok;
}

/* A PING if one is due, after a successful read or with a message in hand.
 * A reader that never finds its socket empty (a viewer whose downstream
 * syncs to the clock holds the streaming thread between reads, so data is
 * always waiting) would otherwise never reach the keepalive below and the
 * relay, hearing nothing from it for 3·K, drops it (ERROR 203). No DEAD
 * judgement here: the peer has just been heard. */
static gboolean
ping_if_due (GstDiodeClient * c, GError ** error)
{
  DiodeKeepalive ka = { c->keepalive, c->last_rx, c->last_tx };
  GBytes *ping;
  gboolean ok;

  if (!c->tls || !diode_keepalive_ping_due (&ka, g_get_monotonic_time ()))
    return TRUE;
  ping = diode_msg_encode_ping (++c->ping_token);
  ok = gst_diode_client_send_bytes (c, ping, error);
  g_bytes_unref (ping);
  return ok;
}

DiodeSessionResult
gst_diode_client_recv (GstDiodeClient * c, DiodeMsg * msg, gint64 deadline,
    GError ** error)
{
  if (!c->tls || !c->session) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "Not connected to a relay");
    return DIODE_SESSION_ERROR;
  }
  c->aux_ready = FALSE;
  for (;;) {
    GError *err = NULL;
    DiodeSessionResult res = diode_session_next (c->session, msg, &err);
    DiodeTlsStatus st;
    gsize n = 0;

    if (res == DIODE_SESSION_MESSAGE) {
      if (msg->type == DIODE_MSG_PING) {
        GBytes *pong = diode_msg_encode_pong (msg->token);
        gboolean ok = gst_diode_client_send_bytes (c, pong, error);
        g_bytes_unref (pong);
        diode_msg_clear (msg);
        if (!ok)
          return DIODE_SESSION_ERROR;
        continue;
      }
      if (msg->type == DIODE_MSG_PONG) {
        diode_msg_clear (msg);
        continue;
      }
      if (msg->type == DIODE_MSG_ERROR && (msg->error_code ==
              DIODE_ERR_SHUTDOWN || msg->error_code == DIODE_ERR_TIMEOUT
              || msg->error_code == DIODE_ERR_SLOW_VIEWER))
        c->lost = TRUE;         /* the relay went away: try again later */
      else if (!ping_if_due (c, error)) {
        diode_msg_clear (msg);
        return DIODE_SESSION_ERROR;
      }
      return res;
    }
    if (res == DIODE_SESSION_ERROR) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
          "Protocol error from relay %s: %s", c->hostport, err->message);
      g_error_free (err);
      return res;
    }

    st = diode_tls_recv (c->tls, c->rbuf, READ_CHUNK, &n, &err);
    if (st == DIODE_TLS_OK) {
      c->last_rx = g_get_monotonic_time ();
      diode_session_feed (c->session, c->rbuf, n);
      if (!ping_if_due (c, error))
        return DIODE_SESSION_ERROR;
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      WaitResult w;
      gint64 until = deadline;

      if (!gst_diode_client_keepalive (c, error))
        return DIODE_SESSION_ERROR;
      if (deadline == 0)
        return DIODE_SESSION_NEED_MORE;
      /* Wake for our next PING and for the relay's silence limit too. */
      {
        DiodeKeepalive ka = { c->keepalive, c->last_rx, c->last_tx };
        gint64 next;

        diode_keepalive_check (&ka, g_get_monotonic_time (), &next);
        if (next != G_MAXINT64)
          until = deadline < 0 ? next : MIN (deadline, next);
      }
      c->aux_ready = FALSE;
      w = wait_fd_aux (c, diode_tls_wants_write (c->tls) ? POLLOUT : POLLIN,
          until, c->aux_fd >= 0);
      if (w == WAIT_READY)
        continue;
      if (w == WAIT_AUX) {
        c->aux_ready = TRUE;
        return DIODE_SESSION_NEED_MORE;
      }
      if (w == WAIT_TIMEOUT) {
        if (deadline >= 0 && g_get_monotonic_time () >= deadline)
          return DIODE_SESSION_NEED_MORE;
        continue;               /* keepalive work, at the top of the loop */
      }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "flushing");
      return DIODE_SESSION_ERROR;
    }
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ,
        "Lost the connection to relay %s: %s", c->hostport,
        err ? err->message : "closed by the relay");
    g_clear_error (&err);
    c->lost = TRUE;
    return DIODE_SESSION_ERROR;
  }
}
