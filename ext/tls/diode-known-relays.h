/* gst-diode — trust-on-first-use record of relay identities
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * File format (one relay per line, '#' comments):   host:port 0xADDRESS
 * Default file: $XDG_CONFIG_HOME/diode/known-relays (created 0600).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DIODE_KNOWN_RELAYS_ERROR (diode_known_relays_error_quark ())
GQuark diode_known_relays_error_quark (void);
typedef enum {
  DIODE_KNOWN_RELAYS_ERROR_IO,
  DIODE_KNOWN_RELAYS_ERROR_KEY_CHANGED,  /* recorded address differs */
} DiodeKnownRelaysErrorCode;

gchar   *diode_known_relays_default_path (void);
/* Verify @address for @hostport against @path (NULL: default). Unknown relay:
 * records it and returns TRUE (trust on first use). Known with the same
 * address: TRUE. Known with another: FALSE with KEY_CHANGED and a message that
 * names both addresses, the file and the line to remove. */
gboolean diode_known_relays_check (const gchar *path, const gchar *hostport,
                                   const gchar *address, GError **error);

G_END_DECLS
