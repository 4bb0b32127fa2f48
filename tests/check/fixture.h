/* gst-diode — test fixture: temp config dir and in-process relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "diode-relay.h"

G_BEGIN_DECLS

/* Points XDG_CONFIG_HOME at a fresh temp dir (once per process) so tests
 * never touch the user's identity or known-relays file. Returns the dir. */
const gchar *fixture_config_dir (void);
/* A relay on 127.0.0.1 at @port (0: any free port) with its own key file
 * @key_name inside the temp dir (NULL: "relay.pem"). Started. */
DiodeRelay  *fixture_relay_start (guint16 port, const gchar * key_name);
/* Polls @cond-like counters until true or @timeout_ms passes. */
gboolean     fixture_wait_viewers (DiodeRelay * relay, const gchar * stream,
                                   guint n, guint timeout_ms);
gboolean     fixture_wait_waiting (DiodeRelay * relay, const gchar * stream,
                                   guint n, guint timeout_ms);
gboolean     fixture_wait_last_seq (DiodeRelay * relay, const gchar * stream,
                                    guint64 seq, guint timeout_ms);
gboolean     fixture_wait_publisher (DiodeRelay * relay, const gchar * stream,
                                     gboolean present, guint timeout_ms);
/* Sets state and waits for an ERROR on the element's own bus, returns it
 * (or NULL after @timeout_ms). */
GstMessage  *fixture_expect_error (GstElement * element, GstState state,
                                   guint timeout_ms);

G_END_DECLS
