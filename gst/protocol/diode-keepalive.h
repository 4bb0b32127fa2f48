/* gst-diode — the keepalive rule as a value type (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/protocol.md section 11: with a keepalive period K (WELCOME's
 * keepalive_ms), an end PINGs a peer it has sent nothing to for K, and
 * considers a peer it has heard nothing from for more than 3·K dead. The
 * relay's server connections, its links to other relays and the elements
 * all decide "PING now?" and "is the peer dead?" here, so the rule lives in
 * one place. Times are monotonic microseconds passed in by the caller
 * (g_get_monotonic_time() in production, any clock in tests).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint  interval_ms;   /* K; 0 disables keepalive (never PING, never DEAD) */
  gint64 last_rx;       /* last time anything was received from the peer */
  gint64 last_tx;       /* last time anything was sent to the peer */
} DiodeKeepalive;

typedef enum {
  DIODE_KEEPALIVE_NONE = 0,  /* nothing to do now */
  DIODE_KEEPALIVE_PING,      /* quiet towards the peer for K: send a PING
                                (then call diode_keepalive_sent()) */
  DIODE_KEEPALIVE_DEAD,      /* nothing received for more than 3·K: the
                                peer is dead, frozen or cut off */
} DiodeKeepaliveAction;

/* Starts the clocks at @now_us, as if a frame had just gone each way. */
void diode_keepalive_init     (DiodeKeepalive *k, guint interval_ms, gint64 now_us);
/* Anything (a frame or part of one) arrived from the peer. */
void diode_keepalive_received (DiodeKeepalive *k, gint64 now_us);
/* Anything was written to the peer (data, a PING, a PONG). */
void diode_keepalive_sent     (DiodeKeepalive *k, gint64 now_us);

/* What to do at @now_us: DEAD wins over PING. @next_check_us (may be
 * NULL) receives the earliest time the answer can change if nothing is
 * sent or received meanwhile; after PING, assuming the PING is sent at
 * @now_us; G_MAXINT64 when keepalive is disabled or the peer is DEAD. */
DiodeKeepaliveAction diode_keepalive_check (const DiodeKeepalive *k, gint64 now_us,
                                            gint64 *next_check_us);

/* TRUE when a PING is due at @now_us (quiet towards the peer for K),
 * whatever the peer's silence: for an end that has just read something and
 * so must not judge DEAD from a stale last_rx, but must still PING an end
 * that reads busily and never finds its socket empty. */
gboolean diode_keepalive_ping_due (const DiodeKeepalive *k, gint64 now_us);

/* Milliseconds since the peer was last heard, for log lines. */
gint64 diode_keepalive_silent_ms (const DiodeKeepalive *k, gint64 now_us);

G_END_DECLS
