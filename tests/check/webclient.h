/* gst-diode — test fixture: a raw HTTP and WebSocket client
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * For the relay's web side (tests/check/test-web.c): plain TCP or TLS
 * (GIO's, any certificate accepted) to 127.0.0.1, requests written by hand
 * so they can be wrong, WebSocket frames built and read by hand (masked or
 * not, any opcode) so garbage can be sent. Every read is bounded in time.
 * Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include <gio/gio.h>
#include "fixture.h"

G_BEGIN_DECLS

typedef struct
{
  GSocketConnection *sc;
  GIOStream *io;                /* sc, or TLS over it */
  GByteArray *rx;               /* received, not consumed */
  gboolean closed;              /* EOF or error seen */
} WebClient;

/* Connected to 127.0.0.1:@port (HTTPS when @tls); @rcvbuf > 0: a small
 * receive window from the start. */
WebClient *web_connect (guint port, gboolean tls, int rcvbuf);
void       web_free (WebClient * w);
/* Best effort: FALSE if the relay closed or the write failed. */
gboolean   web_send (WebClient * w, const void *data, gsize len);
/* Reads what comes within @timeout_ms into w->rx: FALSE on EOF/error (or
 * nothing at all in time: then w->closed stays FALSE). */
gboolean   web_read_some (WebClient * w, guint timeout_ms);

/* One HTTP request (raw text, sent as is), the answer read to EOF (send
 * "Connection: close"). Returns the status (0: closed without one), the
 * whole answer in @answer if not NULL (g_free). */
guint      http_raw (guint port, gboolean tls, const gchar * request,
                     gchar ** answer);
/* GET @path with Host @host (NULL: 127.0.0.1:port). */
guint      http_get (guint port, gboolean tls, const gchar * path,
                     const gchar * host, gchar ** answer);

/* The upgrade: GET @path (Host @host, or 127.0.0.1:port), the answer's
 * status (101 on success). */
guint      ws_open (WebClient * w, guint port, const gchar * path,
                    const gchar * host);
/* A frame as given (masked with a fixed key when @masked). */
gboolean   ws_send_frame (WebClient * w, guint8 b0, const guint8 * payload,
                          gsize len, gboolean masked);
/* The next frame within @timeout_ms: its opcode and payload (g_bytes_unref),
 * FALSE on close of the socket or time out. Pings are answered (a pong)
 * and skipped when @answer_pings. */
gboolean   ws_next (WebClient * w, guint8 * opcode, GBytes ** payload,
                    guint timeout_ms, gboolean answer_pings);
/* Reads until the relay's close frame (skipping messages) within
 * @timeout_ms: its code (-1: the socket closed without one, -2: time
 * out) and reason (g_free). */
gint       ws_wait_close (WebClient * w, guint timeout_ms, gchar ** reason);

G_END_DECLS
