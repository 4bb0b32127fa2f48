/* gst-diode — WebSocket viewers: a browser's stream as a relay Conn
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * After the 101 (diode-web.c), the connection is taken from libsoup and
 * becomes a Conn with c->web set: it sits in the relay's epoll set like a
 * diode viewer and goes through the same SUBSCRIBE path (a synthesized
 * HELLO and live SUBSCRIBE, version 3), so access checks, the ring cursor,
 * the slow-viewer limits, the write timeout, per-turn budgets, EOS, stats
 * and reaping are the diode viewers' own. What differs is here:
 *
 * - writing: each diode frame goes out as one binary WebSocket message,
 *   its 2..10-byte header and the ring's bytes in one writev (no copy);
 *   our own control frames (ping, pong, close) only between messages;
 * - reading: a browser may send control frames only (ping, pong, close),
 *   masked, unfragmented, at most 125 bytes, at most WS_MAX_CONTROL_PER_S
 *   a second; anything else closes it (1002, 1003, 1008);
 * - closing: after an ERROR frame, close code 4000 + its code with its text
 *   as the reason; after EOS, 1000;
 * - keepalive: WebSocket pings (browsers answer them), a pong counts as
 *   received bytes; the share link's expiry cuts the viewer off.
 * Wire format: docs/protocol.md section 16. Runs on the relay's I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web.h"
#include "diode-web-token.h"

#include <string.h>
#include <sys/epoll.h>

/* What a browser may send: control frames, whole, small. */
#define WS_RX_MAX            256        /* >= 2 + 4 + 125 */
#define WS_CONTROL_MAX       125
#define WS_MAX_CONTROL_PER_S 50         /* more: close 1008 */
/* Our queued control frames (pongs mostly): past this, pings are not
 * answered (a browser that floods pings and reads nothing). */
#define WS_CTL_BYTES_MAX     4096
/* How long the synthesized SUBSCRIBE waits for a stream not published
 * yet (then ERROR 100, close 4100). */
#define WS_WAIT_MS           5000
#define WS_CLOSE_REASON_MAX  123

struct _WebConn {
  GIOStream  *stream;           /* GSocketConnection, or TLS over it */
  GSocketConnection *sock;
  GPollableInputStream *in;
  GPollableOutputStream *out;
  gchar      *token;            /* the URL's t, NULL if none */
  gint64      expires;          /* unix s of the token in use, 0 none */
  guint8      rx[WS_RX_MAX];    /* received bytes not parsed yet */
  gsize       rx_len;
  guint8      hdr[10];          /* header of the message c->out carries */
  guint       hdr_len, hdr_off;
  GQueue      ctl;              /* GBytes*: our whole control frames */
  gsize       ctl_bytes, ctl_off;
  gboolean    close_queued, close_sent;
  guint       ctl_count;        /* control frames received in this second */
  gint64      ctl_window;
  gint64      ping_at;          /* last ping sent (monotonic µs) */
  guint64     ping_count;
};

/* ------------------------------------------------------------------------ */
/* our control frames */

static void
ws_queue_control (Conn * c, guint8 opcode, const guint8 * payload, gsize len)
{
  WebConn *w = c->web;
  guint8 *f = g_malloc (2 + len);

  f[0] = 0x80 | opcode;
  f[1] = len;                   /* never masked from a server, <= 125 */
  if (len)
    memcpy (f + 2, payload, len);
  g_queue_push_tail (&w->ctl, g_bytes_new_take (f, 2 + len));
  w->ctl_bytes += 2 + len;
}

/* The reason of a close frame: at most 123 bytes, cut on a character
 * boundary (the ERROR texts are the relay's own, valid UTF-8). */
static gsize
ws_reason_len (const gchar * text)
{
  gsize len = text ? strlen (text) : 0;
  const gchar *end;

  if (len <= WS_CLOSE_REASON_MAX)
    return g_utf8_validate (text, len, NULL) ? len : 0;
  /* back to the start of the character the cut would split */
  end = g_utf8_find_prev_char (text, text + WS_CLOSE_REASON_MAX + 1);
  len = end ? (gsize) (end - text) : 0;
  return g_utf8_validate (text, len, NULL) ? len : 0;
}

void
relay_ws_queue_close (Conn * c, guint16 code, const gchar * reason)
{
  WebConn *w = c->web;
  guint8 p[2 + WS_CLOSE_REASON_MAX];
  gsize rlen = ws_reason_len (reason);

  if (w->close_queued)
    return;
  p[0] = code >> 8;
  p[1] = code & 0xff;
  if (rlen)
    memcpy (p + 2, reason, rlen);
  ws_queue_control (c, 0x8, p, 2 + rlen);
  w->close_queued = TRUE;
  if (c->phase == CONN_OPEN) {
    /* nothing more is read or sent after it but what is under way */
    c->phase = CONN_CLOSING;
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
  }
  conn_want_write (c, TRUE);
}

/* Writes our control frames while no message is under way. */
DiodeTlsStatus
relay_ws_flush_control (Conn * c, GError ** error)
{
  WebConn *w = c->web;

  while (!w->close_sent && !g_queue_is_empty (&w->ctl)) {
    GBytes *f = g_queue_peek_head (&w->ctl);
    gsize size;
    const guint8 *data = g_bytes_get_data (f, &size);
    gssize n = g_pollable_output_stream_write_nonblocking (w->out,
        data + w->ctl_off, size - w->ctl_off, NULL, error);

    if (n < 0) {
      if (g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
        g_clear_error (error);
        return DIODE_TLS_AGAIN;
      }
      return DIODE_TLS_ERROR;
    }
    c->last_progress = c->last_tx = g_get_monotonic_time ();
    w->ctl_off += n;
    if (w->ctl_off < size)
      continue;
    w->ctl_off = 0;
    w->ctl_bytes -= size;
    if ((data[0] & 0x0f) == 0x8)
      w->close_sent = TRUE;
    g_bytes_unref (g_queue_pop_head (&w->ctl));
  }
  return DIODE_TLS_OK;
}

gboolean
relay_ws_close_sent (Conn * c)
{
  return c->web->close_sent;
}

/* ------------------------------------------------------------------------ */
/* messages: one diode frame each */

/* A frame written whole: an ERROR or EOS ends the WebSocket. */
static void
ws_frame_done (Conn * c, const guint8 * data, gsize size)
{
  if (data[0] == DIODE_MSG_ERROR && size >= DIODE_FRAME_HEADER_SIZE + 4) {
    const guint8 *p = data + DIODE_FRAME_HEADER_SIZE;
    guint16 code = (p[0] << 8) | p[1];
    gsize tlen = (p[2] << 8) | p[3];
    gchar *text;

    tlen = MIN (tlen, size - DIODE_FRAME_HEADER_SIZE - 4);
    text = g_strndup ((const gchar *) p + 4, tlen);
    relay_ws_queue_close (c, 4000 + MIN (code, 999), text);
    g_free (text);
  } else if (data[0] == DIODE_MSG_EOS) {
    relay_ws_queue_close (c, 1000, "end of stream");
  }
}

/* conn_flush's send for a web conn: @data/@size is the whole frame, of
 * which c->out_off bytes went already; *@n gets how many more did. */
DiodeTlsStatus
relay_ws_send (Conn * c, const guint8 * data, gsize size, gsize * n,
    GError ** error)
{
  WebConn *w = c->web;
  GOutputVector v[2];
  guint nv = 0;
  gsize written = 0, hdr_left;
  GPollableReturn ret;

  *n = 0;
  if (c->out_off == 0 && w->hdr_len == 0) {
    /* Frames a browser never gets: the relay's own keepalive and hello
     * (it pings with WebSocket pings). */
    if (data[0] == DIODE_MSG_PING || data[0] == DIODE_MSG_PONG
        || data[0] == DIODE_MSG_WELCOME) {
      *n = size;
      return DIODE_TLS_OK;
    }
    w->hdr[0] = 0x82;           /* FIN, binary */
    if (size < 126) {
      w->hdr[1] = size;
      w->hdr_len = 2;
    } else if (size < 65536) {
      w->hdr[1] = 126;
      w->hdr[2] = size >> 8;
      w->hdr[3] = size & 0xff;
      w->hdr_len = 4;
    } else {
      guint64 s = size;
      guint i;

      w->hdr[1] = 127;
      for (i = 0; i < 8; i++)
        w->hdr[2 + i] = (s >> (56 - 8 * i)) & 0xff;
      w->hdr_len = 10;
    }
    w->hdr_off = 0;
  }
  hdr_left = w->hdr_len - w->hdr_off;
  if (hdr_left) {
    v[nv].buffer = w->hdr + w->hdr_off;
    v[nv].size = hdr_left;
    nv++;
  }
  if (size > c->out_off) {
    v[nv].buffer = data + c->out_off;
    v[nv].size = size - c->out_off;
    nv++;
  }
  ret = g_pollable_output_stream_writev_nonblocking (w->out, v, nv, &written,
      NULL, error);
  if (ret == G_POLLABLE_RETURN_WOULD_BLOCK)
    return DIODE_TLS_AGAIN;
  if (ret != G_POLLABLE_RETURN_OK)
    return DIODE_TLS_ERROR;
  if (written < hdr_left) {
    w->hdr_off += written;
    return DIODE_TLS_OK;
  }
  w->hdr_off = w->hdr_len;
  *n = written - hdr_left;
  if (c->out_off + *n == size) {
    w->hdr_len = w->hdr_off = 0;
    ws_frame_done (c, data, size);
  }
  return DIODE_TLS_OK;
}

/* ------------------------------------------------------------------------ */
/* reading: control frames only */

static void
ws_refuse (Conn * c, guint16 code, const gchar * why)
{
  relay_log (c->relay, RELAY_LOG_PROTOCOL, "WebSocket viewer %s: %s; "
      "closing (%u)", c->peer, why, code);
  relay_ws_queue_close (c, code, why);
}

/* One frame out of w->rx: TRUE if one was handled (or the connection is
 * closing), FALSE when more bytes are needed. */
static gboolean
ws_parse_one (Conn * c)
{
  WebConn *w = c->web;
  guint8 b0, b1, op, len, *mask, *p;
  gsize need, i;
  gint64 now;

  if (w->rx_len < 2)
    return FALSE;
  b0 = w->rx[0];
  b1 = w->rx[1];
  op = b0 & 0x0f;
  len = b1 & 0x7f;
  if (b0 & 0x70) {
    ws_refuse (c, 1002, "reserved bits set (no extension was agreed)");
    return TRUE;
  }
  if (op == 0x1 || op == 0x2) {
    ws_refuse (c, 1003, "this relay accepts no messages, only ping, pong "
        "and close");
    return TRUE;
  }
  if (op != 0x8 && op != 0x9 && op != 0xa) {
    ws_refuse (c, 1002, op ? "unknown opcode" : "continuation frame "
        "outside a message");
    return TRUE;
  }
  if (!(b0 & 0x80)) {
    ws_refuse (c, 1002, "fragmented control frame");
    return TRUE;
  }
  if (len > WS_CONTROL_MAX) {
    ws_refuse (c, 1002, "control frame over 125 bytes");
    return TRUE;
  }
  if (!(b1 & 0x80)) {
    ws_refuse (c, 1002, "unmasked frame from a client");
    return TRUE;
  }
  need = 2 + 4 + len;
  if (w->rx_len < need)
    return FALSE;
  now = g_get_monotonic_time ();
  if (now - w->ctl_window >= G_USEC_PER_SEC) {
    w->ctl_window = now;
    w->ctl_count = 0;
  }
  if (++w->ctl_count > WS_MAX_CONTROL_PER_S) {
    ws_refuse (c, 1008, "more than 50 control frames in a second");
    return TRUE;
  }
  mask = w->rx + 2;
  p = w->rx + 6;
  for (i = 0; i < len; i++)
    p[i] ^= mask[i & 3];
  if (op == 0x9) {
    /* answered unless its pongs back up (only the last must be) */
    if (w->ctl_bytes + 2 + len <= WS_CTL_BYTES_MAX)
      ws_queue_control (c, 0xa, p, len);
  } else if (op == 0x8) {
    guint16 code = len >= 2 ? (p[0] << 8) | p[1] : 1000;

    if (len == 1) {
      ws_refuse (c, 1002, "close frame of 1 byte");
      return TRUE;
    }
    g_info ("WebSocket viewer %s closed (%u)", c->peer, code);
    /* answer with its code, then the usual lingering close */
    relay_ws_queue_close (c, code >= 1000 && code < 5000 && code != 1005
        && code != 1006 && code != 1015 ? code : 1000, NULL);
  }
  memmove (w->rx, w->rx + need, w->rx_len - need);
  w->rx_len -= need;
  return TRUE;
}

void
relay_ws_on_readable (Conn * c)
{
  WebConn *w = c->web;
  gsize budget = READ_BUDGET_BYTES;
  guint frames = READ_BUDGET_FRAMES;

  while (!c->dead && c->phase == CONN_OPEN) {
    GError *err = NULL;
    gssize n;

    while (c->phase == CONN_OPEN && ws_parse_one (c)) {
      if (--frames == 0) {
        conn_mark_ready (c);
        goto out;
      }
    }
    if (c->phase != CONN_OPEN)
      break;
    if (budget == 0) {
      conn_mark_ready (c);
      break;
    }
    n = g_pollable_input_stream_read_nonblocking (w->in, w->rx + w->rx_len,
        MIN (sizeof (w->rx) - w->rx_len, budget), NULL, &err);
    if (n > 0) {
      c->last_rx = g_get_monotonic_time ();
      w->rx_len += n;
      budget -= MIN ((gsize) n, budget);
      continue;
    }
    if (n < 0 && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      g_clear_error (&err);
      return;
    }
    conn_close (c, n == 0 ? "peer closed the connection" : err->message);
    g_clear_error (&err);
    return;
  }
out:
  if (!c->dead && c->phase == CONN_CLOSING)
    conn_flush (c);
}

/* ------------------------------------------------------------------------ */
/* life */

Conn *
relay_ws_conn_new (DiodeRelay * r, GIOStream * stream,
    GSocketConnection * sock, AddrCount * addr, const gchar * peer,
    const gchar * token, gint64 accepted_at)
{
  Conn *c = g_new0 (Conn, 1);
  WebConn *w = g_new0 (WebConn, 1);
  struct epoll_event ev = { 0 };

  c->kind = TAG_CONN;
  c->relay = r;
  c->web = w;
  w->stream = g_object_ref (stream);
  w->sock = g_object_ref (sock);
  w->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream));
  w->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
  w->token = g_strdup (token);
  g_queue_init (&w->ctl);
  c->fd = g_socket_get_fd (g_socket_connection_get_socket (sock));
  c->peer = g_strdup (peer);
  /* no identity: the access checks look at c->web first, never at this
   * (it names the kind of viewer in the log lines) */
  c->address = g_strdup ("web");
  g_queue_init (&c->ctrl);
  diode_cursor_init (&c->cursor);
  c->session = diode_session_new (DIODE_SESSION_RELAY_END);
  c->phase = CONN_OPEN;
  c->accepted_at = accepted_at;
  c->last_progress = c->last_rx = c->last_tx = w->ping_at =
      g_get_monotonic_time ();
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  c->addr = addr;
  g_mutex_lock (&r->lock);
  g_hash_table_add (r->conns, c);
  g_mutex_unlock (&r->lock);
  if (epoll_ctl (r->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
    conn_close (c, "cannot watch its socket");
    return c;
  }
  c->events = EPOLLIN;
  return c;
}

/* The synthesized HELLO (version 3, role VIEWER) and live SUBSCRIBE: from
 * here the Conn is a diode viewer. */
void
relay_ws_subscribe (Conn * c, const gchar * name)
{
  GBytes *f;
  DiodeMsg m = { 0 };
  GError *err = NULL;
  DiodeSubscribeArgs a = { 0 };
  gsize size;
  const guint8 *data;

  f = diode_msg_encode_hello (DIODE_PROTOCOL_VERSION_MAX,
      DIODE_PROTOCOL_VERSION_MAX, DIODE_ROLE_VIEWER, "browser");
  data = g_bytes_get_data (f, &size);
  diode_session_feed (c->session, data, size);
  g_bytes_unref (f);
  if (diode_session_next (c->session, &m, &err) != DIODE_SESSION_MESSAGE
      || !diode_session_sent (c->session, DIODE_MSG_WELCOME, 0, &err)) {
    conn_fail (c, DIODE_ERR_INTERNAL, err ? err->message : "no HELLO");
    g_clear_error (&err);
    diode_msg_clear (&m);
    return;
  }
  diode_msg_clear (&m);
  a.stream = name;
  a.wait_ms = WS_WAIT_MS;
  a.start_mode = DIODE_START_LIVE;
  f = diode_msg_encode_subscribe_args (&a, DIODE_PROTOCOL_VERSION_MAX,
      DIODE_ROLE_VIEWER);
  if (!f) {
    conn_fail (c, DIODE_ERR_BAD_NAME, "invalid stream name");
    return;
  }
  data = g_bytes_get_data (f, &size);
  diode_session_feed (c->session, data, size);
  g_bytes_unref (f);
  c->frame_budget = 1;
  conn_process (c);
  /* bytes the browser sent with the upgrade may wait in the streams */
  conn_mark_ready (c);
}

void
relay_ws_conn_free (Conn * c)
{
  WebConn *w = c->web;

  if (!w)
    return;
  /* the GSocket owns the fd: closed with it, not by conn_free */
  c->fd = -1;
  /* a TLS close would write close_notify, blocking the I/O thread on a
   * peer that reads nothing: the socket is shut down first, so it fails
   * at once */
  g_socket_shutdown (g_socket_connection_get_socket (w->sock), TRUE, TRUE,
      NULL);
  g_io_stream_close (w->stream, NULL, NULL);
  g_object_unref (w->stream);
  g_object_unref (w->sock);
  g_queue_clear_full (&w->ctl, (GDestroyNotify) g_bytes_unref);
  g_free (w->token);
  g_free (w);
  c->web = NULL;
}

/* Access for a web conn (conn_allowed): public streams for anyone, the
 * others with a share link of their owner's. */
gboolean
relay_ws_allowed (Conn * c, Stream * s, gchar ** why)
{
  RelayTokenResult res;
  gint64 expires = 0;

  if (s->access == DIODE_ACCESS_PUBLIC)
    return TRUE;
  res = relay_web_token_check (c->relay, c->web->token, s->name, s->owner,
      RELAY_TOKEN_SCOPE_LIVE, g_get_real_time () / G_USEC_PER_SEC, &expires);
  if (res == RELAY_TOKEN_OK) {
    c->web->expires = expires;
    return TRUE;
  }
  *why = g_strdup (relay_web_token_result_text (res));
  return FALSE;
}

/* relay_tick for a web conn: pings, silence, the share link's expiry. TRUE
 * when it closed the connection (nothing more to judge this turn). */
gboolean
relay_ws_tick (Conn * c, gint64 now)
{
  DiodeRelay *r = c->relay;
  WebConn *w = c->web;
  /* browsers answer pings within a round trip; not faster than every 2 s
   * so a busy tab is not judged on the diode keepalive's 800 ms */
  gint64 every = r->keepalive_ms ? (gint64) MAX (r->keepalive_ms, 2000) *
      1000 : 0;

  if (c->phase != CONN_OPEN)
    return FALSE;
  if (w->expires && g_get_real_time () / G_USEC_PER_SEC >= w->expires) {
    relay_log (r, RELAY_LOG_REFUSED, "cutting off web viewer %s: its share "
        "link expired", c->peer);
    conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, "the share link has expired");
    return TRUE;
  }
  if (!every)
    return FALSE;
  if (now - c->last_rx > 4 * every) {
    gchar *text = g_strdup_printf ("no answer to pings for %" G_GINT64_FORMAT
        " ms", (now - c->last_rx) / 1000);

    relay_log (r, RELAY_LOG_SLOW, "web viewer %s: %s; closing", c->peer,
        text);
    conn_send_error (c, DIODE_ERR_TIMEOUT, text);
    g_free (text);
    return TRUE;
  }
  if (now - w->ping_at >= every) {
    guint8 p[8];
    guint i;

    w->ping_count++;
    for (i = 0; i < 8; i++)
      p[i] = (w->ping_count >> (56 - 8 * i)) & 0xff;
    w->ping_at = now;
    if (w->ctl_bytes < WS_CTL_BYTES_MAX)
      ws_queue_control (c, 0x9, p, sizeof (p));
    if (!c->out)
      conn_flush (c);
  }
  return FALSE;
}
