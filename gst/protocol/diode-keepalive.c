/* gst-diode — the keepalive rule as a value type (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Pure arithmetic on two timestamps; see diode-keepalive.h. "Dead" is
 * strictly more than 3·K of silence, "PING" at K or more of quiet: the
 * bounds the relay and the elements used before this file existed.
 */
#include "diode-keepalive.h"

void
diode_keepalive_init (DiodeKeepalive * k, guint interval_ms, gint64 now_us)
{
  g_return_if_fail (k != NULL);

  k->interval_ms = interval_ms;
  k->last_rx = k->last_tx = now_us;
}

void
diode_keepalive_received (DiodeKeepalive * k, gint64 now_us)
{
  /* never backwards: callers may report events out of order */
  if (now_us > k->last_rx)
    k->last_rx = now_us;
}

void
diode_keepalive_sent (DiodeKeepalive * k, gint64 now_us)
{
  if (now_us > k->last_tx)
    k->last_tx = now_us;
}

gint64
diode_keepalive_silent_ms (const DiodeKeepalive * k, gint64 now_us)
{
  return now_us > k->last_rx ? (now_us - k->last_rx) / 1000 : 0;
}

DiodeKeepaliveAction
diode_keepalive_check (const DiodeKeepalive * k, gint64 now_us,
    gint64 * next_check_us)
{
  gint64 period, dead_at, ping_at;

  g_return_val_if_fail (k != NULL, DIODE_KEEPALIVE_NONE);

  if (k->interval_ms == 0) {
    if (next_check_us)
      *next_check_us = G_MAXINT64;
    return DIODE_KEEPALIVE_NONE;
  }
  /* gint64 arithmetic: K * 3000 does not overflow 32 bits on any target */
  period = (gint64) k->interval_ms * 1000;
  dead_at = k->last_rx + 3 * period + 1;        /* first instant of "> 3K" */
  if (now_us >= dead_at) {
    if (next_check_us)
      *next_check_us = G_MAXINT64;
    return DIODE_KEEPALIVE_DEAD;
  }
  ping_at = k->last_tx + period;
  if (now_us >= ping_at) {
    if (next_check_us)
      *next_check_us = MIN (now_us + period, dead_at);
    return DIODE_KEEPALIVE_PING;
  }
  if (next_check_us)
    *next_check_us = MIN (ping_at, dead_at);
  return DIODE_KEEPALIVE_NONE;
}

gboolean
diode_keepalive_ping_due (const DiodeKeepalive * k, gint64 now_us)
{
  g_return_val_if_fail (k != NULL, FALSE);

  return k->interval_ms != 0
      && now_us >= k->last_tx + (gint64) k->interval_ms * 1000;
}
