/* gst-diode — the relay's web side: HTTP(S) with libsoup 3
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The HTTP listener is the relay's own (in its epoll set), so the bounds
 * come before any work: connections in total and per source address,
 * counted with the diode connections (AddrCount), and an accept budget per
 * loop turn. An accepted socket becomes a GSocketConnection (HTTPS: a
 * GTlsServerConnection over it, handshaken here) and is handed to
 * libsoup's SoupServer, which runs on the relay's I/O context. What
 * libsoup lacks is added here: a deadline for each request (10 s for its
 * head and body, counted from accept or from its first byte), a deadline
 * for the answer (30 s), idle keep-alive connections closed after 30 s, no
 * request body but POST /api/revoke's (<= 4 KiB). libsoup's own cap on a
 * request head is 64 KiB.
 *
 * Routing: /watch/NAME (the player page, from the GResource, with the
 * stream's name filled in), /static/FILE, /ws/NAME (a WebSocket viewer:
 * diode-web-ws.c takes the connection after the 101), and the pages and
 * API of diode-web-api.c / diode-web-token.c. With --http-domain D a Host
 * NAME.D gets NAME's player at / and its WebSocket at /ws.
 * docs/protocol.md section 16, docs/security.md. I/O thread only, but for
 * start and free.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web.h"
#include "diode-web-api.h"
#include "diode-web-token.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

/* the player's files, compiled in (diode-web-resources.c) */
#include "diode-web-resources.h"

/* A request (head and body) must come within handshake-timeout-ms (the
 * TLS + HELLO deadline of diode connections, 10 s), from accept or from
 * its first byte. */
#define WEB_ANSWER_MS      30000  /* our answer, written */
#define WEB_IDLE_MS        30000  /* keep-alive with no request */
#define WEB_MAX_HTTP       1024   /* HTTP connections (not WebSockets) */
#define WEB_MAX_BODY       4096   /* POST /api/revoke */
#define WEB_MAX_TOKEN      1024   /* the t parameter (tokens are <= 512) */
#define WEB_RES_PREFIX     "/org/diode/web/"

#define WEB_CSP "default-src 'self'; connect-src 'self' ws: wss:; " \
  "img-src 'self' data:; style-src 'self'; script-src 'self'"

/* One HTTP connection (libsoup's), until it closes or becomes a
 * WebSocket viewer. Found from a message by its peer's "ip:port". */
typedef struct {
  RelayWeb   *web;
  gchar      *key;
  GSocketConnection *sock;
  GIOStream  *stream;           /* what libsoup got: sock, or TLS over it */
  AddrCount  *addr;
  gint64      accepted_at;
  gint64      deadline;
  gboolean    handed;           /* libsoup has it (TLS is up) */
  gboolean    cut;              /* shut down past its deadline */
  gboolean    handshaking;      /* TLS: its callback still has it */
  GCancellable *cancel;         /* the TLS handshake */
} WebHttp;

struct _RelayWeb {
  TagKind     tag;              /* TAG_HTTP_LISTENER: the epoll entry */
  DiodeRelay *relay;
  SoupServer *server;
  GSocket    *listen;
  GTlsCertificate *cert;
  gchar      *scheme;
  GHashTable *http;             /* key -> WebHttp* */
  guint       handshakes;       /* TLS handshakes under way */
  gboolean    stopping;
};

/* ------------------------------------------------------------------------ */
/* HTTP connections */

static gchar *
addr_key (GSocketAddress * sa)
{
  gchar *ip, *key;

  if (!G_IS_INET_SOCKET_ADDRESS (sa))
    return g_strdup ("?");
  ip = g_inet_address_to_string (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (sa)));
  key = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port
      (G_INET_SOCKET_ADDRESS (sa)));
  g_free (ip);
  return key;
}

/* Its slot under the caps is free (closed, or now a Conn's: @keep). */
static void
http_release (WebHttp * h, gboolean to_conn)
{
  DiodeRelay *r = h->web->relay;
  AddrCount *a = h->addr;

  if (!a)
    return;
  h->addr = NULL;
  a->pending--;
  if (to_conn)
    return;
  a->open--;
  r->n_open--;
  if (!a->open && !a->streams && !a->partial)
    g_hash_table_remove (r->per_addr, a->host);
}

static void
http_free (gpointer data)
{
  WebHttp *h = data;

  http_release (h, FALSE);
  if (h->cancel) {
    g_cancellable_cancel (h->cancel);
    g_object_unref (h->cancel);
  }
  g_clear_object (&h->stream);
  g_clear_object (&h->sock);
  g_free (h->key);
  g_free (h);
}

static WebHttp *
http_for_msg (RelayWeb * w, SoupServerMessage * msg)
{
  GSocketAddress *sa = soup_server_message_get_remote_address (msg);
  gchar *key;
  WebHttp *h;

  if (!sa)
    return NULL;
  key = addr_key (sa);
  h = g_hash_table_lookup (w->http, key);
  g_free (key);
  return h;
}

/* Past its deadline, or the relay stops: libsoup sees its end of file
 * (or TLS its error) and lets go of it; relay_web_tick frees it then. */
static void
http_cut (WebHttp * h)
{
  if (h->cancel)
    g_cancellable_cancel (h->cancel);
  g_socket_shutdown (g_socket_connection_get_socket (h->sock), TRUE, TRUE,
      NULL);
  h->cut = TRUE;
}

/* HTTPS: the TLS connection is made and handshaken on a GTask thread,
 * not on the I/O thread: GIO parses the certificate and key again for
 * every connection (a libtasn1 walk that took seconds under ASan and
 * stalled every stream), and a handshake blocks on its peer. Only this
 * thread touches h->sock until the callback; the I/O thread may shut its
 * socket down (deadline, stop), which ends the handshake at once. */
static void
http_tls_thread (GTask * task, gpointer source, gpointer data,
    GCancellable * cancel)
{
  WebHttp *h = data;
  GError *err = NULL;
  GIOStream *tls = (GIOStream *) g_tls_server_connection_new (G_IO_STREAM
      (h->sock), h->web->cert, &err);

  if (!tls) {
    g_task_return_error (task, err);
    return;
  }
  g_object_set (tls, "require-close-notify", FALSE, NULL);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), cancel, &err)) {
    g_object_unref (tls);
    g_task_return_error (task, err);
    return;
  }
  g_task_return_pointer (task, tls, g_object_unref);
}

static void
http_handshake_done (GObject * source, GAsyncResult * res, gpointer data)
{
  WebHttp *h = data;
  RelayWeb *w = h->web;
  GError *err = NULL;
  GSocketAddress *local, *remote;
  GIOStream *tls = g_task_propagate_pointer (G_TASK (res), &err);

  w->handshakes--;
  h->handshaking = FALSE;
  if (!tls) {
    if (!w->stopping && !h->cut)
      relay_log (w->relay, RELAY_LOG_HANDSHAKE, "HTTPS handshake with %s "
          "failed: %s", h->key, err->message);
    g_clear_error (&err);
    /* freed by relay_web_tick (or at stop) once closed */
    h->stream = g_object_ref (G_IO_STREAM (h->sock));
    g_io_stream_close (h->stream, NULL, NULL);
    return;
  }
  h->stream = tls;
  if (w->stopping) {
    g_io_stream_close (h->stream, NULL, NULL);
    return;
  }
  g_clear_object (&h->cancel);
  local = g_socket_connection_get_local_address (h->sock, NULL);
  remote = g_socket_connection_get_remote_address (h->sock, NULL);
  h->handed = TRUE;
  soup_server_accept_iostream (w->server, h->stream, local, remote, NULL);
  g_clear_object (&local);
  g_clear_object (&remote);
}

void
relay_web_accept (DiodeRelay * r)
{
  RelayWeb *w = r->web;
  guint budget;

  for (budget = ACCEPT_BUDGET; budget > 0 && w; budget--) {
    GError *err = NULL;
    GSocket *s = g_socket_accept (w->listen, NULL, &err);
    GSocketAddress *local = NULL, *remote = NULL;
    GInetAddress *ia;
    gchar *host, *key;
    AddrCount *a;
    const gchar *cap = NULL;
    guint limit = 0;
    WebHttp *h;

    if (!s) {
      if (!g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        relay_log (r, RELAY_LOG_ACCEPT, "HTTP accept failed: %s",
            err->message);
      g_clear_error (&err);
      return;
    }
    g_socket_set_blocking (s, FALSE);
    g_socket_set_option (s, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    remote = g_socket_get_remote_address (s, NULL);
    if (!remote) {
      g_socket_close (s, NULL);
      g_object_unref (s);
      continue;
    }
    ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
    host = g_inet_address_to_string (ia);
    key = addr_key (remote);

    /* a closed connection of the same address and port that the next
     * tick would have forgotten: forgotten now */
    h = g_hash_table_lookup (w->http, key);
    if (h && !h->handshaking && g_io_stream_is_closed (h->stream))
      g_hash_table_remove (w->http, key);
    /* the caps, before any work (the diode port's, shared) */
    cap = relay_peer_cap (r, host, "HTTP connections from one address "
        "(--max-pending-per-address)", &limit);
    if (!cap && g_hash_table_size (w->http) >= WEB_MAX_HTTP) {
      cap = "HTTP connections";
      limit = WEB_MAX_HTTP;
    } else if (!cap && g_hash_table_contains (w->http, key)) {
      cap = "connections from that address and port";
      limit = 1;
    }
    if (cap) {
      relay_peer_refused (r, key, "an HTTP connection", cap, limit);
      g_socket_close (s, NULL);
      g_object_unref (s);
      g_object_unref (remote);
      g_free (host);
      g_free (key);
      continue;
    }
    a = relay_admit_peer (r, host);
    g_free (host);

    h = g_new0 (WebHttp, 1);
    h->web = w;
    h->key = key;
    h->addr = a;
    h->accepted_at = g_get_monotonic_time ();
    h->deadline = h->accepted_at + (gint64) r->handshake_ms * 1000;
    h->sock = g_socket_connection_factory_create_connection (s);
    g_object_unref (s);
    g_hash_table_insert (w->http, h->key, h);
    if (w->cert) {
      GTask *task;

      h->cancel = g_cancellable_new ();
      h->handshaking = TRUE;
      w->handshakes++;
      task = g_task_new (NULL, h->cancel, http_handshake_done, h);
      g_task_set_task_data (task, h, NULL);
      g_task_run_in_thread (task, http_tls_thread);
      g_object_unref (task);
    } else {
      h->stream = g_object_ref (G_IO_STREAM (h->sock));
      local = g_socket_connection_get_local_address (h->sock, NULL);
      h->handed = TRUE;
      soup_server_accept_iostream (w->server, h->stream, local, remote,
          NULL);
      g_clear_object (&local);
    }
    g_object_unref (remote);
  }
}

void
relay_web_tick (DiodeRelay * r, gint64 now)
{
  RelayWeb *w = r->web;
  GHashTableIter it;
  gpointer v;

  if (!w)
    return;
  g_hash_table_iter_init (&it, w->http);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    WebHttp *h = v;

    if (h->handshaking) {
      /* its callback still has it */
      if (now > h->deadline && !h->cut) {
        relay_log (r, RELAY_LOG_HANDSHAKE, "%s did not complete the HTTPS "
            "handshake in time", h->key);
        http_cut (h);
      }
      continue;
    }
    if (g_io_stream_is_closed (h->stream)) {
      g_hash_table_iter_remove (&it);
    } else if (now > h->deadline && !h->cut) {
      relay_log (r, RELAY_LOG_SLOW, "closing HTTP connection %s: no "
          "request, or no progress, in time", h->key);
      http_cut (h);
    } else if (h->cut && now > h->deadline + (gint64) CLOSE_FLUSH_MS * 1000) {
      /* libsoup did not notice: closed under it (its reads fail) */
      g_io_stream_close (h->stream, NULL, NULL);
      g_hash_table_iter_remove (&it);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* requests */

static void
on_request_started (SoupServer * server, SoupServerMessage * msg,
    RelayWeb * w)
{
  WebHttp *h = http_for_msg (w, msg);

  /* the first one at accept; the next ones at their first byte */
  if (h && !h->cut)
    h->deadline = g_get_monotonic_time () +
        (gint64) w->relay->handshake_ms * 1000;
}

static void
on_request_read (SoupServer * server, SoupServerMessage * msg, RelayWeb * w)
{
  WebHttp *h = http_for_msg (w, msg);

  if (h && !h->cut)
    h->deadline = g_get_monotonic_time () + (gint64) WEB_ANSWER_MS * 1000;
}

static void
on_request_done (SoupServer * server, SoupServerMessage * msg, RelayWeb * w)
{
  WebHttp *h = http_for_msg (w, msg);

  if (h && !h->cut)
    h->deadline = g_get_monotonic_time () + (gint64) WEB_IDLE_MS * 1000;
}

static void
set_text (SoupServerMessage * msg, guint status, const gchar * text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8",
      SOUP_MEMORY_COPY, text, strlen (text));
}

/* A request body is read by libsoup before any handler runs, and a
 * status set from its head does not stop that: one we will not take is
 * answered here, on the connection taken from libsoup, which is then
 * closed (its body never read). */
static void
reject_raw (RelayWeb * w, SoupServerMessage * msg, guint status,
    const gchar * text)
{
  WebHttp *h = http_for_msg (w, msg);
  GIOStream *soup_stream;
  gchar *resp;

  if (!h)
    return;
  g_object_ref (msg);
  soup_stream = soup_server_message_steal_connection (msg);
  g_object_unref (msg);
  if (soup_stream)
    g_object_unref (soup_stream);
  resp = g_strdup_printf ("HTTP/1.1 %u %s\r\nContent-Type: text/plain; "
      "charset=utf-8\r\nContent-Length: %u\r\nConnection: close\r\n"
      "Content-Security-Policy: " WEB_CSP "\r\nX-Content-Type-Options: "
      "nosniff\r\n\r\n%s", status, soup_status_get_phrase (status),
      (guint) strlen (text), text);
  /* small: the socket takes it whole, or the client does not read */
  g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM
      (g_io_stream_get_output_stream (h->stream)), resp, strlen (resp), NULL,
      NULL);
  g_free (resp);
  g_socket_shutdown (g_socket_connection_get_socket (h->sock), FALSE, TRUE,
      NULL);
  /* closed by relay_web_tick after CLOSE_FLUSH_MS */
  h->cut = TRUE;
  h->deadline = g_get_monotonic_time ();
}

static void
early_handler (SoupServer * server, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer data)
{
  RelayWeb *w = data;
  SoupMessageHeaders *hd = soup_server_message_get_request_headers (msg);
  SoupEncoding enc = soup_message_headers_get_encoding (hd);
  goffset len = enc == SOUP_ENCODING_CONTENT_LENGTH ?
      soup_message_headers_get_content_length (hd) : 0;
  gboolean may = soup_server_message_get_method (msg) == SOUP_METHOD_POST
      && !g_strcmp0 (path, "/api/revoke");

  if (enc == SOUP_ENCODING_NONE || (enc == SOUP_ENCODING_CONTENT_LENGTH
          && len == 0))
    return;
  if (may && enc == SOUP_ENCODING_CONTENT_LENGTH && len <= WEB_MAX_BODY)
    return;
  relay_log (w->relay, RELAY_LOG_PROTOCOL, "HTTP request with a body "
      "refused (%s)", may ? "over 4096 bytes" : "none is taken there");
  if (may)
    reject_raw (w, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
        "request body over 4096 bytes\n");
  else
    reject_raw (w, msg, SOUP_STATUS_BAD_REQUEST,
        "no request body is accepted here\n");
}

/* The t parameter (a share link) as the page and the WebSocket take it:
 * absent, or "d1." then base64url and dots, at most WEB_MAX_TOKEN bytes
 * (the signature is checked when the WebSocket subscribes). Answers 400
 * and returns FALSE otherwise: a page that could only loop "Connection
 * lost" is not served. */
static gboolean
token_ok (SoupServerMessage * msg, GHashTable * query)
{
  const gchar *t = query ? g_hash_table_lookup (query, "t") : NULL;
  gsize n, i;

  if (!t)
    return TRUE;
  n = strlen (t);
  if (n > 3 && n <= WEB_MAX_TOKEN && g_str_has_prefix (t, "d1.")) {
    for (i = 3; i < n; i++)
      if (!g_ascii_isalnum (t[i]) && t[i] != '-' && t[i] != '_'
          && t[i] != '.')
        break;
    if (i == n)
      return TRUE;
  }
  set_text (msg, SOUP_STATUS_BAD_REQUEST, "the share link is not valid\n");
  return FALSE;
}

/* The player page with the stream's name in its diode-stream meta. */
static void
serve_watch (SoupServerMessage * msg, const gchar * name)
{
  GBytes *b = g_resources_lookup_data (WEB_RES_PREFIX "watch.html", 0, NULL);
  const gchar *slot = "<meta name=\"diode-stream\" content=\"\">";
  gchar *html, *esc, *at, *out;

  if (!b) {
    set_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "no player page\n");
    return;
  }
  html = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_bytes_unref (b);
  esc = g_markup_escape_text (name, -1);
  at = strstr (html, slot);
  if (at) {
    *at = '\0';
    out = g_strdup_printf ("%s<meta name=\"diode-stream\" content=\"%s\">%s",
        html, esc, at + strlen (slot));
  } else {
    out = g_strdup_printf ("<meta name=\"diode-stream\" content=\"%s\">\n%s",
        esc, html);
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/html; charset=utf-8",
      SOUP_MEMORY_TAKE, out, strlen (out));
  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Cache-Control", "no-cache");
  g_free (html);
  g_free (esc);
}

static void
serve_static (SoupServerMessage * msg, const gchar * file)
{
  gchar *path;
  GBytes *b;
  const gchar *type = g_str_has_suffix (file, ".js") ?
      "text/javascript; charset=utf-8" : g_str_has_suffix (file, ".css") ?
      "text/css; charset=utf-8" : g_str_has_suffix (file, ".html") ?
      "text/html; charset=utf-8" : "application/octet-stream";

  if (!*file || strchr (file, '/') || strstr (file, "..")) {
    set_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
    return;
  }
  path = g_strconcat (WEB_RES_PREFIX, file, NULL);
  b = g_resources_lookup_data (path, 0, NULL);
  g_free (path);
  if (!b) {
    set_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY,
      g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  soup_message_headers_replace (soup_server_message_get_response_headers
      (msg), "Cache-Control", "no-cache");
  g_bytes_unref (b);
}

/* A stream name from a URL (already decoded by libsoup): a name the
 * relay would take, else 400 and NULL. */
static gboolean
name_ok (SoupServerMessage * msg, const gchar * name)
{
  GError *err = NULL;
  gchar *key = diode_name_key (name, &err);
  gchar *text;

  if (key) {
    g_free (key);
    return TRUE;
  }
  text = g_strdup_printf ("invalid stream name: %s\n", err->message);
  set_text (msg, SOUP_STATUS_BAD_REQUEST, text);
  g_free (text);
  g_error_free (err);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* WebSocket viewers */

typedef struct {
  RelayWeb   *web;
  gchar      *name;
  gchar      *token;
  gint64      asked_at;         /* the upgrade request was read: where a
                                   viewer's join time starts (a keep-alive
                                   connection may be older) */
} WsUpgrade;

static void
ws_upgrade_free (gpointer data, GClosure * closure)
{
  WsUpgrade *u = data;

  g_free (u->name);
  g_free (u->token);
  g_free (u);
}

/* The 101 is out: the connection leaves libsoup for the relay's epoll. */
static void
ws_upgraded (SoupServerMessage * msg, WsUpgrade * u)
{
  RelayWeb *w = u->web;
  DiodeRelay *r = w->relay;
  WebHttp *h = http_for_msg (w, msg);
  GIOStream *soup_stream;
  AddrCount *a;
  Conn *c;

  if (!h || h->cut)
    return;
  g_object_ref (msg);
  /* libsoup's wrapper; ours (h->stream) is under it, left open */
  soup_stream = soup_server_message_steal_connection (msg);
  g_object_unref (msg);
  if (soup_stream)
    g_object_unref (soup_stream);
  /* still counted against its address (open), as a Conn now */
  a = h->addr;
  http_release (h, TRUE);
  c = relay_ws_conn_new (r, h->stream, h->sock, a, h->key, u->token,
      u->asked_at);
  g_hash_table_remove (w->http, h->key);
  g_info ("web viewer %s for '%s'", c->peer, u->name);
  if (!c->dead)
    relay_ws_subscribe (c, u->name);
}

static void
serve_ws (RelayWeb * w, SoupServerMessage * msg, const gchar * name,
    GHashTable * query)
{
  const char *protocols[] = { "diode.v3", NULL };
  const gchar *token = query ? g_hash_table_lookup (query, "t") : NULL;
  WsUpgrade *u;

  if (!name_ok (msg, name) || !token_ok (msg, query))
    return;
  /* any origin: nothing but the URL (its token) authorizes a viewer */
  if (!soup_websocket_server_process_handshake (msg, NULL,
          (char **) protocols, NULL, NULL))
    return;                     /* libsoup set the 400 and why */
  u = g_new0 (WsUpgrade, 1);
  u->web = w;
  u->name = g_strdup (name);
  u->token = g_strdup (token);
  u->asked_at = g_get_monotonic_time ();
  g_signal_connect_data (msg, "wrote-informational", G_CALLBACK (ws_upgraded),
      u, ws_upgrade_free, 0);
}

/* ------------------------------------------------------------------------ */
/* routing */

/* NAME when Host is NAME.DOMAIN (port ignored, any case), else NULL. */
static gchar *
host_stream (DiodeRelay * r, SoupServerMessage * msg)
{
  const gchar *host = soup_message_headers_get_one
      (soup_server_message_get_request_headers (msg), "Host");
  gchar *h, *colon, *name = NULL;
  gsize hl, dl;

  if (!r->http_domain || !*r->http_domain || !host)
    return NULL;
  h = g_ascii_strdown (host, -1);
  colon = strrchr (h, ':');
  if (colon && !strchr (colon, ']'))
    *colon = '\0';
  hl = strlen (h);
  dl = strlen (r->http_domain);
  if (hl > dl + 1 && h[hl - dl - 1] == '.'
      && !g_ascii_strcasecmp (h + hl - dl, r->http_domain))
    name = g_strndup (h, hl - dl - 1);
  g_free (h);
  return name;
}

static void
handler (SoupServer * server, SoupServerMessage * msg, const char *path,
    GHashTable * query, gpointer data)
{
  RelayWeb *w = data;
  DiodeRelay *r = w->relay;
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);
  gboolean get = method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD;
  gchar *hname;

  soup_message_headers_replace (rh, "Content-Security-Policy", WEB_CSP);
  soup_message_headers_replace (rh, "X-Content-Type-Options", "nosniff");
  if (g_str_has_prefix (path, "/api/") || !strcmp (path, "/metrics")
      || !strcmp (path, "/healthz"))
    soup_message_headers_replace (rh, "Cache-Control", "no-store");

  if (!strcmp (path, "/api/revoke")) {
    if (method != SOUP_METHOD_POST) {
      soup_message_headers_replace (rh, "Allow", "POST");
      set_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use POST\n");
      return;
    }
    relay_web_token_revoke (r, msg);
    return;
  }
  if (!get) {
    soup_message_headers_replace (rh, "Allow", "GET, HEAD");
    set_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed\n");
    return;
  }
  hname = host_stream (r, msg);
  if (hname && (!strcmp (path, "/") || !strcmp (path, "/ws"))) {
    if (!strcmp (path, "/ws"))
      serve_ws (w, msg, hname, query);
    else if (name_ok (msg, hname) && token_ok (msg, query))
      serve_watch (msg, hname);
    g_free (hname);
    return;
  }
  g_free (hname);
  if (!strcmp (path, "/"))
    relay_web_api_list_page (r, msg);
  else if (!strcmp (path, "/api/streams"))
    relay_web_api_streams (r, msg);
  else if (!strcmp (path, "/healthz"))
    relay_web_api_healthz (r, msg);
  else if (!strcmp (path, "/metrics"))
    relay_web_api_metrics (r, msg);
  else if (g_str_has_prefix (path, "/watch/")) {
    if (name_ok (msg, path + 7) && token_ok (msg, query))
      serve_watch (msg, path + 7);
  } else if (g_str_has_prefix (path, "/static/"))
    serve_static (msg, path + 8);
  else if (g_str_has_prefix (path, "/ws/"))
    serve_ws (w, msg, path + 4, query);
  else
    set_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

/* ------------------------------------------------------------------------ */
/* start, stop */

gboolean
relay_web_start (DiodeRelay * r, GError ** error)
{
  RelayWeb *w;
  gchar *host = NULL;
  guint16 port = 0;
  guint16 bound = 0;
  GTlsCertificate *cert = NULL;
  GTlsDatabase *db_warm = NULL;

  if (!r->http_listen || !*r->http_listen)
    return TRUE;
  if (!relay_parse_listen (r->http_listen, &host, &port, error)) {
    g_prefix_error (error, "--http: ");
    return FALSE;
  }
  if ((r->http_cert != NULL) != (r->http_key != NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--http-cert and --http-key go together");
    g_free (host);
    return FALSE;
  }
  if (r->http_cert) {
    if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
          "HTTPS needs GLib's TLS backend (install glib-networking)");
      g_free (host);
      return FALSE;
    }
    /* GIO loads the system's CA list on first use, even for a server
     * connection: here, not on the I/O thread at the first visitor */
    g_clear_object (&db_warm);
    db_warm = g_tls_backend_get_default_database (g_tls_backend_get_default
        ());
    g_clear_object (&db_warm);
    cert = g_tls_certificate_new_from_files (r->http_cert, r->http_key,
        error);
    if (!cert) {
      g_prefix_error (error, "--http-cert/--http-key: ");
      g_free (host);
      return FALSE;
    }
  }
  /* share links: the revocation list (diode-web-token.c) */
  if (!relay_web_tokens_init (r, error)) {
    g_free (host);
    g_clear_object (&cert);
    return FALSE;
  }
  w = g_new0 (RelayWeb, 1);
  w->tag = TAG_HTTP_LISTENER;
  w->relay = r;
  w->cert = cert;
  w->scheme = g_strdup (cert ? "https" : "http");
  w->http = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, http_free);
  w->listen = relay_listen_socket (r->http_listen, host, port, 1024,
      "--http", &bound, error);
  if (!w->listen)
    goto fail;
  g_mutex_lock (&r->lock);
  r->http_port = bound;
  g_mutex_unlock (&r->lock);

  w->server = soup_server_new ("server-header", RELAY_AGENT, NULL);
  soup_server_add_early_handler (w->server, NULL, early_handler, w, NULL);
  soup_server_add_handler (w->server, NULL, handler, w, NULL);
  g_signal_connect (w->server, "request-started",
      G_CALLBACK (on_request_started), w);
  g_signal_connect (w->server, "request-read", G_CALLBACK (on_request_read),
      w);
  g_signal_connect (w->server, "request-finished",
      G_CALLBACK (on_request_done), w);
  g_signal_connect (w->server, "request-aborted",
      G_CALLBACK (on_request_done), w);
  /* registered by its own constructor; the reference keeps its object
   * linked in from the static library */
  (void) diode_web_get_resource ();
  r->web = w;
  if (strchr (host, ':'))
    g_message ("web side listening on %s://[%s]:%u", w->scheme, host,
        r->http_port);
  else
    g_message ("web side listening on %s://%s:%u", w->scheme, host,
        r->http_port);
  g_free (host);
  return TRUE;

fail:
  relay_web_tokens_free (r);
  g_clear_object (&w->cert);
  g_hash_table_unref (w->http);
  g_free (w->scheme);
  g_free (w);
  g_free (host);
  return FALSE;
}

/* After the relay's epoll set exists (diode_relay_start). */
void
relay_web_attach (DiodeRelay * r)
{
  struct epoll_event ev = { 0 };

  if (!r->web)
    return;
  ev.events = EPOLLIN;
  ev.data.ptr = &r->web->tag;
  epoll_ctl (r->epfd, EPOLL_CTL_ADD, g_socket_get_fd (r->web->listen), &ev);
}

/* On the I/O thread, at shutdown: every HTTP connection goes (WebSocket
 * viewers are Conns: they close with the others). */
void
relay_web_stop (DiodeRelay * r)
{
  RelayWeb *w = r->web;
  GHashTableIter it;
  gpointer v;

  if (!w)
    return;
  w->stopping = TRUE;
  epoll_ctl (r->epfd, EPOLL_CTL_DEL, g_socket_get_fd (w->listen), NULL);
  g_signal_handlers_disconnect_by_data (w->server, w);
  /* shut down first: closing TLS writes close_notify, which must fail at
   * once on a peer that reads nothing rather than block this thread */
  g_hash_table_iter_init (&it, w->http);
  while (g_hash_table_iter_next (&it, NULL, &v))
    http_cut (v);
  soup_server_disconnect (w->server);
  g_hash_table_iter_init (&it, w->http);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    WebHttp *h = v;

    if (!h->handshaking)
      g_io_stream_close (h->stream, NULL, NULL);
  }
}

void
relay_web_free (DiodeRelay * r)
{
  RelayWeb *w = r->web;
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  if (!w)
    return;
  /* cancelled handshakes call back on the relay's context: let them */
  while (w->handshakes && g_get_monotonic_time () < end)
    g_main_context_iteration (r->context, FALSE);
  g_hash_table_unref (w->http);
  g_clear_object (&w->server);
  relay_web_tokens_free (r);
  g_socket_close (w->listen, NULL);
  g_clear_object (&w->listen);
  g_clear_object (&w->cert);
  g_free (w->scheme);
  g_free (w);
  r->web = NULL;
  g_mutex_lock (&r->lock);
  r->http_port = 0;
  g_mutex_unlock (&r->lock);
}
