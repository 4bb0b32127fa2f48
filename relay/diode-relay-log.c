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
  GString *out = g_string_new (NULL);
  const gchar *p = text ? text : "";
  const gchar *end = p + strlen (p);
  guint chars = 0;

  while (p < end && chars < RELAY_LOG_TEXT_MAX) {
    gunichar ch = g_utf8_get_char_validated (p, end - p);

    if (ch == (gunichar) - 1 || ch == (gunichar) - 2) {
      /* not UTF-8: show the byte, never pass it on */
      g_string_append_printf (out, "\\x%02x", (guint8) * p);
      p++;
    } else {
      if (ch == '\n')
        g_string_append (out, "\\n");
      else if (ch == '\r')
        g_string_append (out, "\\r");
      else if (ch == '\t')
        g_string_append (out, "\\t");
      else if (ch == '\\')
        g_string_append (out, "\\\\");
      else if (ch < 0x20 || ch == 0x7f)
        g_string_append_printf (out, "\\x%02x", ch);
      else if (g_unichar_iscntrl (ch) || g_unichar_type (ch) ==
          G_UNICODE_FORMAT || ch == 0x2028 || ch == 0x2029)
        /* C1 controls, bidi overrides, line separators */
        g_string_append_printf (out, "\\u{%x}", ch);
      else
        g_string_append_unichar (out, ch);
      p = g_utf8_next_char (p);
    }
    chars++;
  }
  if (p < end)
    g_string_append_printf (out, "...(%" G_GSIZE_FORMAT " more bytes)",
        (gsize) (end - p));
  return g_string_free (out, FALSE);
}
