/* gst-diode — the relay's pages and API: stream list, JSON, health, metrics
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each handler answers @msg completely (status, headers, body) and runs on
 * the relay's I/O thread, where the stream table may be read without a
 * lock. diode-web.c routes requests here. The handlers are thin: each
 * body is built by relay_web_api_build(), which needs no HTTP (the tests
 * call it through diode_relay_web_render()).
 */
#pragma once

#include "diode-relay-private.h"
#include <libsoup/soup.h>

G_BEGIN_DECLS

void relay_web_api_list_page (DiodeRelay * r, SoupServerMessage * msg); /* GET / */
void relay_web_api_streams   (DiodeRelay * r, SoupServerMessage * msg); /* GET /api/streams */
void relay_web_api_healthz   (DiodeRelay * r, SoupServerMessage * msg); /* GET /healthz */
void relay_web_api_metrics   (DiodeRelay * r, SoupServerMessage * msg); /* GET /metrics */

/* What relay_web_api_build() makes. */
typedef struct {
  guint        status;          /* HTTP status */
  const gchar *content_type;    /* static */
  GBytes      *body;            /* owned */
  gboolean     no_store;        /* Cache-Control: no-store (the API) */
} RelayWebBody;

/* The body of @path ("/", "/api/streams", "/healthz", "/metrics"; the
 * query is not part of it) at @now (monotonic µs). FALSE: not one of
 * these paths. I/O thread. */
gboolean relay_web_api_build (DiodeRelay * r, const gchar * path, gint64 now,
                              RelayWebBody * out);
void     relay_web_body_clear (RelayWebBody * b);
/* The headers every response of the web side carries (CSP, nosniff). */
void     relay_web_api_security_headers (SoupMessageHeaders * h);

G_END_DECLS
