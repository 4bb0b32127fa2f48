/* gst-diode — the relay's web side: HTTP(S) with libsoup 3
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the rest of the relay calls (issue 11). Everything here runs on
 * the relay's I/O thread. The server itself is diode-web.c, the
 * WebSocket viewers diode-web-ws.c, the pages and API diode-web-api.c,
 * share links diode-web-token.c.
 */
#pragma once

#include "diode-relay-private.h"

G_BEGIN_DECLS

/* Starts the web side when the relay's http-listen is set (no-op
 * otherwise): called by diode_relay_start on the I/O context. */
gboolean relay_web_start (DiodeRelay * r, GError ** error);
/* Closes its listener and every HTTP connection (WebSocket viewers are
 * Conns and close with the rest). */
void     relay_web_stop  (DiodeRelay * r);
/* Its listener into the relay's epoll set (after relay_web_start). */
void     relay_web_attach (DiodeRelay * r);
/* After the I/O thread ended: handshakes still running finish, the
 * server goes (diode_relay_stop). */
void     relay_web_free  (DiodeRelay * r);
/* The HTTP listener is readable (io_dispatch). */
void     relay_web_accept (DiodeRelay * r);
/* relay_tick: HTTP connections past their deadlines, closed ones. */
void     relay_web_tick  (DiodeRelay * r, gint64 now);

/* diode-web-ws.c: WebSocket viewers (Conns with c->web set). */
Conn    *relay_ws_conn_new (DiodeRelay * r, GIOStream * stream,
                            GSocketConnection * sock, AddrCount * addr,
                            const gchar * peer, const gchar * token,
                            gint64 accepted_at);
void     relay_ws_subscribe (Conn * c, const gchar * name);
void     relay_ws_conn_free (Conn * c);
void     relay_ws_on_readable (Conn * c);
DiodeTlsStatus relay_ws_send (Conn * c, const guint8 * data, gsize size,
                              gsize * n, GError ** error);
DiodeTlsStatus relay_ws_flush_control (Conn * c, GError ** error);
gboolean relay_ws_close_sent (Conn * c);
void     relay_ws_queue_close (Conn * c, guint16 code, const gchar * reason);
gboolean relay_ws_allowed (Conn * c, Stream * s, gchar ** why);
gboolean relay_ws_tick   (Conn * c, gint64 now);

G_END_DECLS
