/* gst-diode — the relay's pages and API: stream list, JSON, health, metrics
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each handler answers @msg completely (status, headers, body) and runs on
 * the relay's I/O thread, where the stream table may be read without a
 * lock. diode-web.c routes requests here.
 */
#pragma once

#include "diode-relay-private.h"
#include <libsoup/soup.h>

G_BEGIN_DECLS

void relay_web_api_list_page (DiodeRelay * r, SoupServerMessage * msg); /* GET / */
void relay_web_api_streams   (DiodeRelay * r, SoupServerMessage * msg); /* GET /api/streams */
void relay_web_api_healthz   (DiodeRelay * r, SoupServerMessage * msg); /* GET /healthz */
void relay_web_api_metrics   (DiodeRelay * r, SoupServerMessage * msg); /* GET /metrics */

G_END_DECLS
