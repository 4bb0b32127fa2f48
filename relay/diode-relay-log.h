/* gst-diode — the relay's log lines about peers: sanitized, rate limited
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Anything a peer can make the relay log over and over (refusals, protocol
 * errors, ERROR frames, failed handshakes, limits, accept() failures) goes
 * through relay_log(): at most a few lines per kind and interval, then one
 * "suppressed K similar lines" line. Text a peer chose (ERROR text, agent)
 * goes through relay_log_text() first, so it can neither forge log lines
 * (newlines, terminal escapes) nor flood the log with one long line.
 * Runs on the relay's I/O thread only.
 */
#pragma once

#include "diode-relay.h"

G_BEGIN_DECLS

typedef enum {
  RELAY_LOG_ACCEPT,             /* accept() failed (EMFILE...) */
  RELAY_LOG_LIMIT,              /* a connection cap refused a peer */
  RELAY_LOG_REFUSED,            /* PUBLISH/SUBSCRIBE refused */
  RELAY_LOG_PROTOCOL,           /* malformed or out-of-order frames */
  RELAY_LOG_PEER_ERROR,         /* ERROR frames a peer sent */
  RELAY_LOG_HANDSHAKE,          /* TLS failures, deadlines, not TLS */
  RELAY_LOG_SLOW,               /* slow viewers, unread replies, skips */
  RELAY_LOG_STREAM,             /* publishes, takeovers, policy changes,
                                   end of stream, publisher gone */
  RELAY_LOG_LINK,               /* links to other relays: up, down,
                                   fail-over, fail-back, loops, pulls */
  RELAY_LOG_STORE,              /* recordings: chunks not recorded (write
                                   queue full), streams not recorded */
  RELAY_LOG_N_KINDS
} RelayLogKind;

#define RELAY_LOG_INTERVAL_MS 10000   /* one rate-limit window */
#define RELAY_LOG_BURST       20      /* lines per kind and window (accept
                                         failures: 1) */
#define RELAY_LOG_TEXT_MAX    200     /* characters of peer text kept */

typedef struct {
  gint64 window_start;          /* monotonic µs */
  guint  lines;                 /* logged in this window */
  guint  suppressed;            /* dropped in this window */
} RelayLogLimit;

/* g_message() unless this kind already logged its share of the window. */
void   relay_log       (DiodeRelay * r, RelayLogKind kind,
                        const gchar * format, ...) G_GNUC_PRINTF (3, 4);
/* Ends the windows that are over: one line per kind that dropped lines.
 * Called from relay_tick. */
void   relay_log_flush (DiodeRelay * r, gint64 now);
/* @text (may be NULL or not UTF-8) made safe for one log line: control
 * characters escaped (\n, \x1b, \u{85}...), at most RELAY_LOG_TEXT_MAX
 * characters, then "...(N more bytes)". Free with g_free. */
gchar *relay_log_text  (const gchar * text);

G_END_DECLS
