/* gst-diode — relay endpoints: "[0xADDRESS@]HOST[:PORT]" and lists of them
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One parser for every place a relay is named: the elements' relay list
 * (relay=a:7878,b:7878), the relay's --upstream and --fallback options. Each
 * entry may pin the relay identity it expects ("0xADDRESS@host:port");
 * otherwise the caller applies trust on first use, keyed by
 * diode_endpoint_to_string(). Pure string work: nothing is resolved here.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DIODE_ENDPOINT_LIST_MAX  16   /* entries in one list */

typedef struct {
  gchar   *host;   /* as written, without brackets (an IPv6 literal is bare) */
  guint16  port;   /* 1..65535 */
  gchar   *pin;    /* lowercase "0x" + 40 hex digits, or NULL (no pin) */
} DiodeEndpoint;

#define DIODE_ENDPOINT_ERROR (diode_endpoint_error_quark ())
GQuark diode_endpoint_error_quark (void);

typedef enum {
  DIODE_ENDPOINT_ERROR_INVALID,   /* the text is not an endpoint (list) */
} DiodeEndpointError;

/* Parses "[0xADDRESS@]HOST[:PORT]": HOST is a name, an IPv4 address or an
 * IPv6 literal, in brackets when a port follows ("[::1]:7878"; a bare IPv6
 * literal takes @default_port). Leading and trailing spaces are ignored.
 * NULL with @error (DIODE_ENDPOINT_ERROR_INVALID, the message quotes the
 * text and says what is wrong) if it is not one. */
DiodeEndpoint *diode_endpoint_parse     (const gchar *text, guint16 default_port,
                                         GError **error);
/* A comma-separated list of endpoints (spaces around commas allowed), in
 * order. Refused: an empty list or entry, two entries with the same
 * host:port (hosts compare without case), more than DIODE_ENDPOINT_LIST_MAX
 * entries, and any entry diode_endpoint_parse() refuses; the message names
 * the entry. Returns a GPtrArray of DiodeEndpoint (it frees them). */
GPtrArray     *diode_endpoint_list_parse (const gchar *text, guint16 default_port,
                                          GError **error);
/* Canonical "host:port" ("[v6]:port" for IPv6): the key of the known-relays
 * file and the form logs and stats show. Without the pin. */
gchar         *diode_endpoint_to_string (const DiodeEndpoint *e);
/* Same host (without case) and port; the pin is not compared. */
gboolean       diode_endpoint_same_place (const DiodeEndpoint *a,
                                          const DiodeEndpoint *b);
DiodeEndpoint *diode_endpoint_copy      (const DiodeEndpoint *e);
void           diode_endpoint_free      (DiodeEndpoint *e);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiodeEndpoint, diode_endpoint_free)

G_END_DECLS
