/* gst-diode — diode-load: WebSocket viewers of the relay's web side
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a browser tab on /watch/NAME does, without the browser: plain TCP to
 * the relay's --http port, `GET /ws/NAME[?t=TOKEN]` with an RFC 6455
 * upgrade, the 101 and its Sec-WebSocket-Accept checked, then WebSocket
 * frames parsed by hand (docs/protocol.md section 16, "The web side"):
 *
 * - server frames are unmasked; each binary message is exactly one diode
 *   frame (8-byte header + body), never fragmented: SUBSCRIBE_OK, CAPS,
 *   MEDIA, EOS, ERROR. They are parsed with diode_msg_parse_v() as a
 *   version-3 viewer would, and counted by load_count_msg(), as the TLS
 *   viewers count theirs;
 * - a ping is answered with a pong (masked, as every client frame must be:
 *   the relay's keepalive);
 * - a close frame, a text message, a masked or fragmented frame, RSV bits,
 *   an unknown opcode end the viewer with that reason.
 *
 * Bytes counted are the diode frames' (the binary messages' payloads), the
 * same bytes a TLS viewer counts as plaintext, so "Gbit delivered" means the
 * same in both modes. Reading one frame costs no copy when it arrived whole
 * in one read.
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_HEAD  16384      /* the 101's head */
/* the largest diode frame: header + the 16 MiB MEDIA limit */
#define WS_MAX_MSG   (DIODE_FRAME_HEADER_SIZE + 16 * 1024 * 1024)
#define WS_MAX_READS 64         /* reads per event: bounded turn */

static gchar *
ws_accept_for (const gchar * key)
{
  GChecksum *ck = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize dlen = sizeof digest;
  gchar *r;

  g_checksum_update (ck, (const guchar *) key, strlen (key));
  g_checksum_update (ck, (const guchar *) WS_GUID, strlen (WS_GUID));
  g_checksum_get_digest (ck, digest, &dlen);
  g_checksum_free (ck);
  r = g_base64_encode (digest, dlen);
  return r;
}

static gboolean
ws_flush (Viewer * v)
{
  while (v->outq->len > 0) {
    ssize_t w = write (v->fd, v->outq->data, v->outq->len);
    if (w > 0) {
      g_byte_array_remove_range (v->outq, 0, w);
      continue;
    }
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      set_events (v, EPOLLIN | EPOLLOUT);
      return TRUE;
    }
    viewer_fail (v, "ws: write failed");
    return FALSE;
  }
  set_events (v, EPOLLIN);
  return TRUE;
}

/* A client frame: FIN, @opcode, masked (RFC 6455 5.3), @len <= 125. */
static gboolean
ws_send_control (Viewer * v, guint8 opcode, const guint8 * data, gsize len)
{
  guint8 hdr[6];
  guint32 mask = g_random_int ();
  gsize i;

  g_assert (len <= 125);
  hdr[0] = 0x80 | opcode;
  hdr[1] = 0x80 | (guint8) len;
  memcpy (hdr + 2, &mask, 4);
  g_byte_array_append (v->outq, hdr, sizeof hdr);
  for (i = 0; i < len; i++) {
    guint8 b = data[i] ^ hdr[2 + i % 4];
    g_byte_array_append (v->outq, &b, 1);
  }
  return ws_flush (v);
}

void
ws_connected (Viewer * v)
{
  guint8 nonce[16];
  gchar *key, *name, *path, *req;
  guint i;

  for (i = 0; i < sizeof nonce; i++)
    nonce[i] = (guint8) g_random_int_range (0, 256);
  key = g_base64_encode (nonce, sizeof nonce);
  v->ws_accept = ws_accept_for (key);
  name = viewer_stream_name (v);
  path = g_uri_escape_string (name, NULL, FALSE);
  /* What Chromium sends, minus cookies and compression (we offer none). */
  req = g_strdup_printf ("GET /ws/%s%s%s HTTP/1.1\r\n"
      "Host: %s:%d\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: %s\r\n"
      "Sec-WebSocket-Version: 13\r\n"
      "Origin: http://%s:%d\r\n"
      "User-Agent: " AGENT "\r\n\r\n", path,
      opt.token ? "?t=" : "", opt.token ? opt.token : "",
      opt.host, opt.port, key, opt.host, opt.port);
  v->outq = v->outq ? v->outq : g_byte_array_new ();
  v->inq = v->inq ? v->inq : g_byte_array_new ();
  g_byte_array_append (v->outq, (const guint8 *) req, strlen (req));
  g_free (req);
  g_free (path);
  g_free (name);
  g_free (key);
  v->st = V_HANDSHAKE;
  ws_flush (v);
}

/* Checks the head of the answer (@head, NUL-terminated, without the blank
 * line): 101, Upgrade: websocket, Connection: upgrade, the right accept. */
static gboolean
ws_check_head (Viewer * v, const gchar * head)
{
  gchar **lines = g_strsplit (head, "\r\n", 0);
  gboolean upgrade = FALSE, connection = FALSE, accept = FALSE;
  guint i;

  if (!lines[0] || !g_str_has_prefix (lines[0], "HTTP/1.1 101")) {
    gchar *st = g_strndup (lines[0] ? lines[0] : "", 40);
    viewer_failf (v, "ws upgrade refused: %s", g_strstrip (st));
    g_free (st);
    g_strfreev (lines);
    return FALSE;
  }
  for (i = 1; lines[i]; i++) {
    gchar *colon = strchr (lines[i], ':');
    gchar *val;

    if (!colon)
      continue;
    *colon = '\0';
    val = g_strstrip (colon + 1);
    g_strstrip (lines[i]);
    if (g_ascii_strcasecmp (lines[i], "Upgrade") == 0)
      upgrade = g_ascii_strcasecmp (val, "websocket") == 0;
    else if (g_ascii_strcasecmp (lines[i], "Connection") == 0) {
      gchar *low = g_ascii_strdown (val, -1);
      connection = strstr (low, "upgrade") != NULL;
      g_free (low);
    } else if (g_ascii_strcasecmp (lines[i], "Sec-WebSocket-Accept") == 0)
      accept = strcmp (val, v->ws_accept) == 0;
  }
  g_strfreev (lines);
  if (!upgrade || !connection || !accept) {
    viewer_fail (v, !accept ? "ws upgrade: wrong Sec-WebSocket-Accept" :
        "ws upgrade: no Upgrade/Connection header");
    return FALSE;
  }
  v->st = V_SUBSCRIBING;
  return TRUE;
}

/* One binary message: exactly one diode frame. */
static void
ws_diode_frame (Viewer * v, const guint8 * p, gsize len)
{
  gsize plen = 0;
  GError *err = NULL;
  GBytes *frame;
  DiodeMsg m = { 0 };

  if (len < DIODE_FRAME_HEADER_SIZE ||
      !diode_msg_check_header_v (p, DIODE_PROTOCOL_VERSION_MAX,
          DIODE_ROLE_VIEWER, &plen, &err)
      || plen + DIODE_FRAME_HEADER_SIZE != len) {
    viewer_failf (v, "ws: a binary message is not one diode frame%s%s",
        err ? ": " : "", err ? err->message : "");
    g_clear_error (&err);
    return;
  }
  v->bytes += len;
  /* parsed and dropped before the buffer moves: no copy needed */
  frame = g_bytes_new_static (p, len);
  if (!diode_msg_parse_v (frame, DIODE_PROTOCOL_VERSION_MAX,
          DIODE_ROLE_VIEWER, &m, &err)) {
    viewer_failf (v, "protocol: %s", err->message);
    g_clear_error (&err);
  } else {
    load_count_msg (v, &m);
    diode_msg_clear (&m);
  }
  g_bytes_unref (frame);
}

/* Parses the complete WebSocket frames at @p; returns the bytes consumed
 * (the rest is an incomplete frame), or -1 when the viewer died. */
static gssize
ws_parse (Viewer * v, const guint8 * p, gsize n)
{
  gsize off = 0;

  while (v->st != V_DEAD) {
    const guint8 *f = p + off;
    gsize avail = n - off, hlen = 2;
    guint64 len;
    guint8 op;

    if (avail < 2)
      break;
    if (f[0] & 0x70) {
      viewer_fail (v, "ws: RSV bits set");
      return -1;
    }
    if (f[1] & 0x80) {
      viewer_fail (v, "ws: masked server frame");
      return -1;
    }
    len = f[1] & 0x7f;
    if (len == 126) {
      hlen = 4;
      if (avail < hlen)
        break;
      len = ((guint64) f[2] << 8) | f[3];
    } else if (len == 127) {
      guint i;
      hlen = 10;
      if (avail < hlen)
        break;
      for (len = 0, i = 2; i < 10; i++)
        len = (len << 8) | f[i];
    }
    if (len > WS_MAX_MSG) {
      viewer_fail (v, "ws: frame over the diode frame limit");
      return -1;
    }
    if (avail - hlen < len)
      break;
    op = f[0] & 0x0f;
    if (!(f[0] & 0x80) || op == 0x0) {
      viewer_fail (v, "ws: fragmented message");
      return -1;
    }
    switch (op) {
      case 0x2:
        ws_diode_frame (v, f + hlen, len);
        break;
      case 0x1:
        viewer_fail (v, "ws: text message");
        return -1;
      case 0x8:{
        guint code = len >= 2 ? ((guint) f[hlen] << 8) | f[hlen + 1] : 1005;
        gchar *reason = len > 2 ? g_utf8_make_valid ((const gchar *) f + hlen
            + 2, len - 2) : g_strdup ("");
        viewer_failf (v, "ws close %u%s%s", code, *reason ? ": " : "",
            reason);
        g_free (reason);
        return -1;
      }
      case 0x9:
        if (len > 125) {
          viewer_fail (v, "ws: ping over 125 bytes");
          return -1;
        }
        if (!ws_send_control (v, 0xA, f + hlen, len))
          return -1;
        break;
      case 0xA:
        break;
      default:
        viewer_failf (v, "ws: opcode %u", op);
        return -1;
    }
    off += hlen + len;
  }
  return v->st == V_DEAD ? -1 : (gssize) off;
}

/* Bytes just read into rbuf: the 101's head, then frames. */
static void
ws_received (Viewer * v, const guint8 * p, gsize n)
{
  gssize used;

  if (v->st == V_HANDSHAKE) {
    guint8 *end;
    gsize head_len;

    g_byte_array_append (v->inq, p, n);
    end = memmem (v->inq->data, v->inq->len, "\r\n\r\n", 4);
    if (!end) {
      if (v->inq->len > WS_MAX_HEAD)
        viewer_fail (v, "ws upgrade: answer head too large");
      return;
    }
    head_len = end - v->inq->data;
    *end = '\0';
    if (!ws_check_head (v, (const gchar *) v->inq->data))
      return;
    g_byte_array_remove_range (v->inq, 0, head_len + 4);
    p = NULL;
    n = 0;
  }
  if (v->inq->len == 0 && n > 0) {
    /* the common case: frames straight from rbuf, the tail kept */
    used = ws_parse (v, p, n);
    if (used >= 0 && (gsize) used < n)
      g_byte_array_append (v->inq, p + used, n - used);
    return;
  }
  if (n > 0)
    g_byte_array_append (v->inq, p, n);
  used = ws_parse (v, v->inq->data, v->inq->len);
  if (used > 0)
    g_byte_array_remove_range (v->inq, 0, used);
}

static void
ws_read (Viewer * v)
{
  guint i;

  for (i = 0; i < WS_MAX_READS && v->st != V_DEAD; i++) {
    ssize_t r = read (v->fd, rbuf, RBUF_SIZE);
    if (r > 0) {
      ws_received (v, rbuf, r);
      continue;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return;
    if (r == 0)
      viewer_fail (v, v->was_ready ? "closed by server" :
          v->st == V_HANDSHAKE ? "closed by server before the 101" :
          "closed by server before SUBSCRIBE_OK");
    else
      viewer_fail (v, "read failed");
    return;
  }
}

void
ws_event (Viewer * v, guint32 ev)
{
  if (v->st < V_HANDSHAKE || v->st == V_DEAD)
    return;
  if ((ev & EPOLLOUT) && v->outq->len > 0 && !ws_flush (v))
    return;
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
    ws_read (v);
}

/* Close 1001 "going away", as a tab being closed does. */
void
ws_viewer_close (Viewer * v)
{
  static const guint8 going_away[] = { 0x03, 0xe9 };

  if (v->outq && v->fd >= 0)
    ws_send_control (v, 0x8, going_away, sizeof going_away);
}
