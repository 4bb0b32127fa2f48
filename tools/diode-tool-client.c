/* gst-diode — a blocking diode client for the command-line tool
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-text.h"
#include "diode-tool-client.h"

#include <gio/gio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diode-known-relays.h"
#include "diode-session.h"
#include "diode-tls.h"

#define TOOL_AGENT "diode-tool/1"

struct _DiodeToolClient
{
  int fd;
  DiodeTls *tls;
  DiodeSession *session;
  gchar *hostport;
  gchar *relay_address;
  guint16 version;
  gint64 deadline;
  guint timeout_ms;
};

G_DEFINE_QUARK (diode-tool-error-quark, diode_tool_error)

/* 1: ready, 0: deadline, -1: poll error */
static int
wait_fd (int fd, short events, gint64 deadline)
{
  for (;;) {
    struct pollfd p = { fd, events, 0 };
    gint64 left = deadline - g_get_monotonic_time ();
    int n;

    if (left <= 0)
      return 0;
    n = poll (&p, 1, (int) MIN ((left + 999) / 1000, G_MAXINT));
    if (n > 0)
      return 1;
    if (n == 0)
      continue;
    if (errno != EINTR)
      return -1;
  }
}

typedef struct
{
  GList *addrs;
  GError *error;
  gboolean done;
} Lookup;

static void
lookup_done (GObject * source, GAsyncResult * res, gpointer data)
{
  Lookup *l = data;

  l->addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res,
      &l->error);
  l->done = TRUE;
}

static gboolean
lookup_timeout (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

/* The host's addresses within the deadline (GResolver, as the elements
 * resolve; getaddrinfo cannot be bounded). NULL: *error set. */
static GList *
resolve (DiodeToolClient * c, const gchar * host, GError ** error)
{
  GMainContext *ctx = g_main_context_new ();
  GCancellable *cancel = g_cancellable_new ();
  GResolver *resolver = g_resolver_get_default ();
  gint64 left = c->deadline - g_get_monotonic_time ();
  GSource *timer = g_timeout_source_new ((guint) MAX (left / 1000, 1));
  Lookup l = { NULL, NULL, FALSE };

  g_main_context_push_thread_default (ctx);
  g_source_set_callback (timer, lookup_timeout, cancel, NULL);
  g_source_attach (timer, ctx);
  g_resolver_lookup_by_name_async (resolver, host, cancel, lookup_done, &l);
  while (!l.done)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  g_object_unref (resolver);
  if (!l.addrs) {
    if (g_cancellable_is_cancelled (cancel))
      g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
          "cannot reach relay %s: resolving '%s' took more than %u ms",
          c->hostport, host, c->timeout_ms);
    else
      g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
          "cannot reach relay %s: cannot resolve '%s': %s", c->hostport,
          host, l.error ? l.error->message : "no address");
  }
  g_clear_error (&l.error);
  g_object_unref (cancel);
  return l.addrs;
}

static int
connect_any (DiodeToolClient * c, const DiodeEndpoint * ep, GError ** error)
{
  GList *addrs = resolve (c, ep->host, error), *it;
  int connected = -1, last_errno = 0;
  gboolean timed_out = FALSE;

  if (!addrs)
    return -1;
  for (it = addrs; it && connected < 0 && !timed_out; it = it->next) {
    GSocketAddress *sa = g_inet_socket_address_new (it->data, ep->port);
    struct sockaddr_storage ss;
    gssize len = g_socket_address_get_native_size (sa);
    gboolean native = len > 0
        && g_socket_address_to_native (sa, &ss, sizeof (ss), NULL);
    int fd, err = 0;
    socklen_t elen = sizeof (err);

    g_object_unref (sa);
    if (!native)
      continue;
    fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    if (connect (fd, (struct sockaddr *) &ss, (socklen_t) len) == 0) {
      connected = fd;
    } else if (errno == EINPROGRESS) {
      int w = wait_fd (fd, POLLOUT, c->deadline);

      if (w == 1 && getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0
          && err == 0)
        connected = fd;
      else if (w == 0)
        timed_out = TRUE;
      else
        last_errno = w == 1 ? err : errno;
    } else {
      last_errno = errno;
    }
    if (connected < 0)
      close (fd);
  }
  g_resolver_free_addresses (addrs);
  if (connected >= 0)
    return connected;
  if (timed_out)
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
        "cannot reach relay %s: no connection within %u ms", c->hostport,
        c->timeout_ms);
  else
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
        "cannot reach relay %s: %s", c->hostport,
        g_strerror (last_errno ? last_errno : ECONNREFUSED));
  return -1;
}

static gboolean
timed_out (DiodeToolClient * c, const gchar * what, GError ** error)
{
  g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
      "relay %s: %s timed out after %u ms", c->hostport, what, c->timeout_ms);
  return FALSE;
}

static gboolean
verify_relay (DiodeToolClient * c, const gchar * pin, const gchar * source,
    GError ** error)
{
  const gchar *addr = diode_tls_get_peer_address (c->tls);
  GError *err = NULL;

  if (pin && *pin) {
    if (g_ascii_strcasecmp (pin, addr) != 0) {
      g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNPINNED,
          "relay %s presented identity %s, but %s requires %s: refusing "
          "to use it (wrong relay, or someone in between)", c->hostport, addr,
          source, pin);
      return FALSE;
    }
  } else if (!diode_known_relays_check (NULL, c->hostport, addr, &err)) {
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNPINNED, "%s",
        err->message);
    g_error_free (err);
    return FALSE;
  }
  c->relay_address = g_strdup (addr);
  return TRUE;
}

DiodeToolClient *
diode_tool_client_connect (const DiodeEndpoint * ep, const gchar * pin,
    DiodeIdentity * id, DiodeRole role, guint timeout_ms, GError ** error)
{
  DiodeToolClient *c = g_new0 (DiodeToolClient, 1);
  GError *err = NULL;
  GBytes *hello;
  DiodeMsg m = { 0 };

  c->fd = -1;
  c->timeout_ms = timeout_ms;
  c->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  c->hostport = diode_endpoint_to_string (ep);

  c->fd = connect_any (c, ep, error);
  if (c->fd < 0)
    goto fail;
  c->tls = diode_tls_new_client (c->fd, id, ep->host, &err);
  if (!c->tls) {
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
        "cannot set up TLS: %s", err->message);
    goto fail;
  }
  for (;;) {
    DiodeTlsStatus st = diode_tls_handshake (c->tls, &err);
    int w;

    if (st == DIODE_TLS_OK)
      break;
    if (st != DIODE_TLS_AGAIN) {
      g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
          "TLS handshake with relay %s failed: %s", c->hostport,
          err ? err->message : "connection closed (is it a diode relay?)");
      goto fail;
    }
    w = wait_fd (c->fd, diode_tls_wants_write (c->tls) ? POLLOUT : POLLIN,
        c->deadline);
    if (w != 1) {
      timed_out (c, "TLS handshake (is it a diode relay?)", error);
      goto fail;
    }
  }
  /* the certificate first: a key that is not Ed25519 is no diode identity
   * and is never recorded in known-relays */
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNPINNED,
        "relay %s: %s", c->hostport, err->message);
    goto fail;
  }
  if (!verify_relay (c, ep->pin ? ep->pin : pin, ep->pin ?
          "its pin in RELAY" : "--relay-id", error))
    goto fail;

  c->session = diode_session_new (DIODE_SESSION_CLIENT_END);
  hello = diode_msg_encode_hello (1, DIODE_PROTOCOL_VERSION_MAX, role,
      TOOL_AGENT);
  diode_session_sent_hello (c->session, 1, DIODE_PROTOCOL_VERSION_MAX, role,
      NULL);
  if (!diode_tool_client_send (c, hello, 0, error)) {
    g_bytes_unref (hello);
    goto fail;
  }
  g_bytes_unref (hello);
  if (!diode_tool_client_recv (c, &m, error))
    goto fail;
  if (m.type != DIODE_MSG_WELCOME) {
    /* the relay's words: printed escaped, never raw (terminal escapes) */
    g_autofree gchar *text = m.error_text ?
        diode_text_escape (m.error_text, 200) : NULL;

    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_PROTOCOL,
        "relay %s answered HELLO with %s%s%s", c->hostport,
        diode_msg_type_name (m.type), text ? ": " : "", text ? text : "");
    diode_msg_clear (&m);
    goto fail;
  }
  c->version = m.version;
  diode_msg_clear (&m);
  g_clear_error (&err);
  return c;

fail:
  g_clear_error (&err);
  diode_tool_client_free (c);
  return NULL;
}

guint16
diode_tool_client_version (DiodeToolClient * c)
{
  return c->version;
}

const gchar *
diode_tool_client_relay_address (DiodeToolClient * c)
{
  return c->relay_address;
}

const gchar *
diode_tool_client_hostport (DiodeToolClient * c)
{
  return c->hostport;
}

static gboolean
send_raw (DiodeToolClient * c, const guint8 * data, gsize len, GError ** error)
{
  gsize off = 0;

  while (off < len) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + off, len - off, &n,
        &err);

    if (st == DIODE_TLS_OK) {
      off += n;
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      if (wait_fd (c->fd, POLLOUT, c->deadline) != 1)
        return timed_out (c, "sending", error);
      continue;
    }
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
        "relay %s closed the connection%s%s", c->hostport,
        err ? ": " : "", err ? err->message : "");
    g_clear_error (&err);
    return FALSE;
  }
  return TRUE;
}

gboolean
diode_tool_client_send (DiodeToolClient * c, GBytes * frame,
    DiodeMsgType type, GError ** error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  GError *err = NULL;

  /* HELLO is reported by connect (diode_session_sent_hello) */
  if (type && !diode_session_sent (c->session, type, 0, &err)) {
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_PROTOCOL,
        "cannot send %s: %s", diode_msg_type_name (type), err->message);
    g_error_free (err);
    return FALSE;
  }
  return send_raw (c, data, len, error);
}

gboolean
diode_tool_client_recv (DiodeToolClient * c, DiodeMsg * msg, GError ** error)
{
  guint8 buf[16384];

  for (;;) {
    GError *err = NULL;
    DiodeSessionResult res = diode_session_next (c->session, msg, &err);
    DiodeTlsStatus st;
    gsize n = 0;

    if (res == DIODE_SESSION_ERROR) {
      g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_PROTOCOL,
          "relay %s: %s", c->hostport, err->message);
      g_error_free (err);
      return FALSE;
    }
    if (res == DIODE_SESSION_MESSAGE) {
      if (msg->type == DIODE_MSG_PING) {
        GBytes *pong = diode_msg_encode_pong (msg->token);
        gboolean ok = diode_tool_client_send (c, pong, DIODE_MSG_PONG, error);

        g_bytes_unref (pong);
        diode_msg_clear (msg);
        if (!ok)
          return FALSE;
        continue;
      }
      if (msg->type == DIODE_MSG_PONG) {
        diode_msg_clear (msg);
        continue;
      }
      return TRUE;
    }
    st = diode_tls_recv (c->tls, buf, sizeof (buf), &n, &err);
    if (st == DIODE_TLS_OK) {
      diode_session_feed (c->session, buf, n);
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      if (wait_fd (c->fd, POLLIN, c->deadline) != 1)
        return timed_out (c, "waiting for an answer", error);
      continue;
    }
    g_set_error (error, DIODE_TOOL_ERROR, DIODE_TOOL_ERROR_UNREACHABLE,
        "relay %s closed the connection%s%s", c->hostport, err ? ": " : "",
        err ? err->message : "");
    g_clear_error (&err);
    return FALSE;
  }
}

void
diode_tool_client_free (DiodeToolClient * c)
{
  if (!c)
    return;
  if (c->tls) {
    diode_tls_bye (c->tls);
    diode_tls_free (c->tls);
  }
  if (c->fd >= 0)
    close (c->fd);
  if (c->session)
    diode_session_free (c->session);
  g_free (c->hostport);
  g_free (c->relay_address);
  g_free (c);
}
