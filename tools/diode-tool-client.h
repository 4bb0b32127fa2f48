/* gst-diode — a blocking diode client for the command-line tool
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * connect (every resolved address in turn, within the deadline), TLS 1.3
 * with the user's identity, the relay verified exactly as the elements do
 * (the endpoint's pin, else --relay-id, else the known-relays file:
 * ext/tls/diode-known-relays.c), HELLO 1..DIODE_PROTOCOL_VERSION_MAX and
 * WELCOME through a DiodeSession; then one frame out, the answer in. Every
 * wait is bounded by the deadline given at connect.
 */
#pragma once

#include <glib.h>

#include "diode-endpoint.h"
#include "diode-identity.h"
#include "diode-msg.h"

G_BEGIN_DECLS

#define DIODE_TOOL_ERROR (diode_tool_error_quark ())
GQuark diode_tool_error_quark (void);
typedef enum {
  DIODE_TOOL_ERROR_UNREACHABLE,  /* resolve, connect, TLS, timeout, closed */
  DIODE_TOOL_ERROR_UNPINNED,     /* the relay's address is not the one
                                    pinned or recorded in known-relays */
  DIODE_TOOL_ERROR_PROTOCOL,     /* the relay broke the protocol, or
                                    refused us (ERROR) */
} DiodeToolError;

typedef struct _DiodeToolClient DiodeToolClient;

/* @pin: the address required when @ep has none (NULL: known-relays). */
DiodeToolClient *diode_tool_client_connect (const DiodeEndpoint *ep,
                                            const gchar *pin,
                                            DiodeIdentity *id, DiodeRole role,
                                            guint timeout_ms, GError **error);
guint16      diode_tool_client_version (DiodeToolClient *c);
const gchar *diode_tool_client_relay_address (DiodeToolClient *c);
/* "host:port" as the known-relays file keys it */
const gchar *diode_tool_client_hostport (DiodeToolClient *c);
/* Sends @frame (a message of @type, reported to the session). */
gboolean     diode_tool_client_send (DiodeToolClient *c, GBytes *frame,
                                     DiodeMsgType type, GError **error);
/* The next message other than PING/PONG (a PING is answered), before the
 * deadline. An ERROR from the relay is returned as a message. */
gboolean     diode_tool_client_recv (DiodeToolClient *c, DiodeMsg *msg,
                                     GError **error);
void         diode_tool_client_free (DiodeToolClient *c);

G_END_DECLS
