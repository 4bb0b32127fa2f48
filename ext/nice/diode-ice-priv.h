/* gst-diode — internals shared by the ICE layer's files (not installed)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "diode-ice.h"

#include <nice/agent.h>

G_BEGIN_DECLS

/* A STUN or TURN server as parsed from its URI (diode-ice-uri.c). */
typedef struct {
  gchar   *host;     /* name or address, as written (no brackets) */
  guint16  port;
  gchar   *user;     /* TURN only, decoded */
  gchar   *pass;     /* TURN only, decoded; wiped on clear */
  gboolean tcp;      /* TURN: ?transport=tcp */
} DiodeIceServer;

gboolean diode_ice_parse_stun (const gchar * uri, DiodeIceServer * out,
    GError ** error);
gboolean diode_ice_parse_turn (const gchar * uri, DiodeIceServer * out,
    GError ** error);
void     diode_ice_server_clear (DiodeIceServer * s);

/* The descriptor of the selected ICE-TCP pair's kernel socket (skipping
 * @skip1, @skip2), or -1 (diode-ice-tcp.c). Only ever polled. */
int      diode_ice_find_tcp_fd (NiceAgent * agent, guint stream_id,
    int skip1, int skip2);

G_END_DECLS
