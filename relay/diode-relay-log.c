/* gst-diode — the relay's log lines about peers: sanitized, rate limited
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A peer must not be able to write the relay's log: not its content (a
 * newline in an ERROR text used to start a forged line) and not its volume
 * (one client refused over and over, or accept() failing in a loop, used
 * to write 100 000 lines a second). See diode-relay-log.h.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-text.h"

#include <stdarg.h>
#include <string.h>

static const gchar *const kind_names[] = {
  "accept failures", "connection limit", "refusals", "protocol errors",
  "peer errors", "handshake failures", "slow peers", "stream events",
  "link events", "store events",
};

/* Lines per window: accept() failing is one condition, said once. */
static const guint kind_burst[] = {
  1, RELAY_LOG_BURST, RELAY_LOG_BURST, RELAY_LOG_BURST, RELAY_LOG_BURST,
  RELAY_LOG_BURST, RELAY_LOG_BURST, RELAY_LOG_BURST, RELAY_LOG_BURST,
  RELAY_LOG_BURST,
};
/* One entry per kind in both tables. */
G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == RELAY_LOG_N_KINDS);
G_STATIC_ASSERT (G_N_ELEMENTS (kind_burst) == RELAY_LOG_N_KINDS);

static void
log_suppressed (RelayLogKind kind, RelayLogLimit * l)
{
  if (l->suppressed)
    g_message ("suppressed %u similar lines (%s) in the last %u s",
        l->suppressed, kind_names[kind], RELAY_LOG_INTERVAL_MS / 1000);
}

void
relay_log (DiodeRelay * r, RelayLogKind kind, const gchar * format, ...)
{
  RelayLogLimit *l = &r->log_limits[kind];
  gint64 now = g_get_monotonic_time ();
  va_list ap;
  gchar *line;

  if (now - l->window_start >= (gint64) RELAY_LOG_INTERVAL_MS * 1000) {
    log_suppressed (kind, l);
    l->window_start = now;
    l->lines = l->suppressed = 0;
  }
  if (l->lines >= kind_burst[kind]) {
    l->suppressed++;
    return;
  }
  l->lines++;
  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_message ("%s", line);
  g_free (line);
}

void
relay_log_flush (DiodeRelay * r, gint64 now)
{
  guint k;

  for (k = 0; k < RELAY_LOG_N_KINDS; k++) {
    RelayLogLimit *l = &r->log_limits[k];

    if (l->suppressed
        && now - l->window_start >= (gint64) RELAY_LOG_INTERVAL_MS * 1000) {
      log_suppressed (k, l);
      l->window_start = now;
      l->lines = l->suppressed = 0;
    }
  }
}

gchar *
relay_log_text (const gchar * text)
{
  return diode_text_escape (text, RELAY_LOG_TEXT_MAX);
}
