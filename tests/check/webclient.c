/* gst-diode — test fixture: a raw HTTP and WebSocket client
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE                 /* memmem */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "webclient.h"
#include "rawclient.h"

static gboolean
accept_any (GTlsConnection * conn, GTlsCertificate * cert,
    GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;                  /* the test's own self-signed certificate */
}

WebClient *
web_connect (guint port, gboolean tls, int rcvbuf)
{
  int fd = tcp_connect_from (NULL, port, rcvbuf);
  GSocket *s;
  WebClient *w = g_new0 (WebClient, 1);
  GError *err = NULL;

  fail_unless (fd >= 0);
  s = g_socket_new_from_fd (fd, &err);
  fail_unless (s != NULL, "socket: %s", err ? err->message : "?");
  g_socket_set_blocking (s, TRUE);
  g_socket_set_timeout (s, 1);
  w->sc = g_socket_connection_factory_create_connection (s);
  g_object_unref (s);
  w->rx = g_byte_array_new ();
  if (!tls) {
    w->io = g_object_ref (G_IO_STREAM (w->sc));
    return w;
  }
  w->io = G_IO_STREAM (g_tls_client_connection_new (G_IO_STREAM (w->sc),
          NULL, &err));
  fail_unless (w->io != NULL, "TLS: %s", err ? err->message : "?");
  g_signal_connect (w->io, "accept-certificate", G_CALLBACK (accept_any),
      NULL);
  /* a handshake may take a while on a loaded machine (or under ASan) */
  g_socket_set_timeout (g_socket_connection_get_socket (w->sc), 20);
  fail_unless (g_tls_connection_handshake (G_TLS_CONNECTION (w->io), NULL,
          &err), "TLS handshake: %s", err ? err->message : "?");
  g_socket_set_timeout (g_socket_connection_get_socket (w->sc), 1);
  return w;
}

void
web_free (WebClient * w)
{
  if (!w)
    return;
  g_io_stream_close (w->io, NULL, NULL);
  g_object_unref (w->io);
  g_object_unref (w->sc);
  g_byte_array_unref (w->rx);
  g_free (w);
}

gboolean
web_send (WebClient * w, const void *data, gsize len)
{
  return g_output_stream_write_all (g_io_stream_get_output_stream (w->io),
      data, len, NULL, NULL, NULL);
}

gboolean
web_read_some (WebClient * w, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  guint8 buf[16384];

  if (w->closed)
    return FALSE;
  while (g_get_monotonic_time () < end) {
    GError *err = NULL;
    gssize n = g_input_stream_read (g_io_stream_get_input_stream (w->io),
        buf, sizeof (buf), NULL, &err);

    if (n > 0) {
      g_byte_array_append (w->rx, buf, n);
      return TRUE;
    }
    if (n < 0 && g_error_matches (err, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
      g_clear_error (&err);
      continue;
    }
    g_clear_error (&err);
    w->closed = TRUE;
    return FALSE;
  }
  return FALSE;
}

static guint
status_of (const gchar * answer)
{
  if (!answer || !g_str_has_prefix (answer, "HTTP/1."))
    return 0;
  return atoi (answer + 9);
}

guint
http_raw (guint port, gboolean tls, const gchar * request, gchar ** answer)
{
  WebClient *w = web_connect (port, tls, 0);
  gint64 end = deadline_in (10000);
  guint status;

  web_send (w, request, strlen (request));
  while (!w->closed && g_get_monotonic_time () < end)
    web_read_some (w, 500);
  g_byte_array_append (w->rx, (const guint8 *) "", 1);
  status = status_of ((const gchar *) w->rx->data);
  if (answer)
    *answer = g_strdup ((const gchar *) w->rx->data);
  web_free (w);
  return status;
}

guint
http_get (guint port, gboolean tls, const gchar * path, const gchar * host,
    gchar ** answer)
{
  gchar *h = host ? g_strdup (host) : g_strdup_printf ("127.0.0.1:%u", port);
  gchar *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: %s\r\n"
      "Connection: close\r\n\r\n", path, h);
  guint st = http_raw (port, tls, req, answer);

  g_free (req);
  g_free (h);
  return st;
}

guint
ws_open (WebClient * w, guint port, const gchar * path, const gchar * host)
{
  gchar *h = host ? g_strdup (host) : g_strdup_printf ("127.0.0.1:%u", port);
  gchar *req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: %s\r\n"
      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", path, h);
  gint64 end = deadline_in (5000);
  guint8 *eoh = NULL;
  guint status;
  gsize hl;

  web_send (w, req, strlen (req));
  g_free (req);
  g_free (h);
  while (g_get_monotonic_time () < end) {
    if (w->rx->len >= 4 && (eoh = memmem (w->rx->data, w->rx->len,
                "\r\n\r\n", 4)))
      break;
    if (!web_read_some (w, 500) && w->closed)
      break;
  }
  if (!eoh)
    return 0;
  hl = eoh + 4 - w->rx->data;
  {
    gchar *head = g_strndup ((const gchar *) w->rx->data, hl);

    status = status_of (head);
    g_free (head);
  }
  g_byte_array_remove_range (w->rx, 0, hl);
  return status;
}

gboolean
ws_send_frame (WebClient * w, guint8 b0, const guint8 * payload, gsize len,
    gboolean masked)
{
  static const guint8 key[4] = { 0x12, 0x34, 0x56, 0x78 };
  GByteArray *f = g_byte_array_new ();
  guint8 h[2] = { b0, (masked ? 0x80 : 0) };
  gsize i;
  gboolean ok;

  if (len < 126) {
    h[1] |= len;
    g_byte_array_append (f, h, 2);
  } else {
    guint8 ext[2] = { len >> 8, len & 0xff };

    h[1] |= 126;
    g_byte_array_append (f, h, 2);
    g_byte_array_append (f, ext, 2);
  }
  if (masked)
    g_byte_array_append (f, key, 4);
  for (i = 0; i < len; i++) {
    guint8 b = payload[i] ^ (masked ? key[i & 3] : 0);

    g_byte_array_append (f, &b, 1);
  }
  ok = web_send (w, f->data, f->len);
  g_byte_array_unref (f);
  return ok;
}

gboolean
ws_next (WebClient * w, guint8 * opcode, GBytes ** payload, guint timeout_ms,
    gboolean answer_pings)
{
  gint64 end = deadline_in (timeout_ms);

  for (;;) {
    gsize off = 2;
    guint64 len;

    if (w->rx->len >= 2) {
      len = w->rx->data[1] & 0x7f;
      if (len == 126 && w->rx->len >= 4) {
        len = (w->rx->data[2] << 8) | w->rx->data[3];
        off = 4;
      } else if (len == 127 && w->rx->len >= 10) {
        guint i;

        for (i = 0, len = 0; i < 8; i++)
          len = (len << 8) | w->rx->data[2 + i];
        off = 10;
      } else if (len >= 126) {
        goto more;
      }
      fail_if (w->rx->data[1] & 0x80, "the relay masked a frame");
      if (w->rx->len >= off + len) {
        guint8 op = w->rx->data[0] & 0x0f;
        GBytes *p = g_bytes_new (w->rx->data + off, len);

        fail_unless (w->rx->data[0] & 0x80, "the relay fragmented a frame");
        g_byte_array_remove_range (w->rx, 0, off + len);
        if (op == 0x9 && answer_pings) {
          ws_send_frame (w, 0x8a, g_bytes_get_data (p, NULL),
              g_bytes_get_size (p), TRUE);
          g_bytes_unref (p);
          continue;
        }
        *opcode = op;
        *payload = p;
        return TRUE;
      }
    }
  more:
    if (g_get_monotonic_time () > end)
      return FALSE;
    if (!web_read_some (w, 200) && w->closed)
      return FALSE;
  }
}

gint
ws_wait_close (WebClient * w, guint timeout_ms, gchar ** reason)
{
  gint64 end = deadline_in (timeout_ms);

  while (g_get_monotonic_time () < end) {
    guint8 op;
    GBytes *p = NULL;

    if (!ws_next (w, &op, &p, 500, TRUE)) {
      if (w->closed)
        return -1;
      continue;
    }
    if (op == 0x8) {
      gsize n;
      const guint8 *d = g_bytes_get_data (p, &n);
      gint code = n >= 2 ? (d[0] << 8) | d[1] : 1005;

      if (reason)
        *reason = g_strndup ((const gchar *) d + MIN (n, 2), n > 2 ? n - 2 :
            0);
      g_bytes_unref (p);
      return code;
    }
    g_bytes_unref (p);
  }
  return -2;
}
