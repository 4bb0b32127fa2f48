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

G_END_DECLS
