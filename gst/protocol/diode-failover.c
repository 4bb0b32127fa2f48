/* gst-diode — which relay of an ordered list to use (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Per endpoint: its current backoff, when it leaves it, and whether (and
 * since when) a link to it is up. See diode-failover.h for the rules.
 */
#include "diode-failover.h"

typedef struct
{
  guint backoff_ms;             /* last backoff applied, 0 after a success */
  gint64 retry_at;              /* in backoff until then */
  gboolean connected;
  gint64 since;                 /* connected since */
} Entry;

struct _DiodeFailover
{
  guint n;
  guint retry_min_ms, retry_max_ms, failback_ms;
  gint active;
  guint failovers;
  Entry *e;
};

DiodeFailover *
diode_failover_new (guint n, guint retry_min_ms, guint retry_max_ms,
    guint failback_ms)
{
  DiodeFailover *f;

  g_return_val_if_fail (n >= 1, NULL);

  f = g_new0 (DiodeFailover, 1);
  f->n = n;
  f->retry_min_ms = MAX (retry_min_ms, 1);
  f->retry_max_ms = MAX (retry_max_ms, f->retry_min_ms);
  f->failback_ms = failback_ms;
  f->active = -1;
  f->e = g_new0 (Entry, n);
  return f;
}

void
diode_failover_free (DiodeFailover * f)
{
  if (f == NULL)
    return;
  g_free (f->e);
  g_free (f);
}

guint
diode_failover_get_n (DiodeFailover * f)
{
  return f->n;
}

gint
diode_failover_pick (DiodeFailover * f, gint64 now_us, gint64 * retry_at_us)
{
  gint64 soonest = G_MAXINT64;
  guint i;

  g_return_val_if_fail (f != NULL, -1);

  for (i = 0; i < f->n; i++) {
    if (f->e[i].retry_at <= now_us)
      return i;
    soonest = MIN (soonest, f->e[i].retry_at);
  }
  if (retry_at_us)
    *retry_at_us = soonest;
  return -1;
}

void
diode_failover_connected (DiodeFailover * f, guint i, gint64 now_us)
{
  g_return_if_fail (f != NULL && i < f->n);

  f->e[i].backoff_ms = 0;
  f->e[i].retry_at = 0;
  if (!f->e[i].connected) {
    f->e[i].connected = TRUE;
    f->e[i].since = now_us;
  }
  if (f->active < 0)
    f->active = i;
}

void
diode_failover_failed (DiodeFailover * f, guint i, gint64 now_us)
{
  Entry *e;

  g_return_if_fail (f != NULL && i < f->n);

  e = &f->e[i];
  /* A link that was up starts over from the shortest backoff: it worked a
   * moment ago, so a restart is likely quick. Repeated failures back off
   * further, so a dead endpoint costs little. */
  if (e->connected || e->backoff_ms == 0)
    e->backoff_ms = f->retry_min_ms;
  else
    e->backoff_ms = MIN ((guint64) e->backoff_ms * 2, f->retry_max_ms);
  e->retry_at = now_us + (gint64) e->backoff_ms * 1000;
  e->connected = FALSE;
  if (f->active == (gint) i) {
    f->failovers++;
    f->active = -1;
  }
}

void
diode_failover_closed (DiodeFailover * f, guint i, gint64 now_us)
{
  g_return_if_fail (f != NULL && i < f->n);

  f->e[i].connected = FALSE;
  if (f->active == (gint) i)
    f->active = -1;
}

void
diode_failover_set_active (DiodeFailover * f, gint i)
{
  g_return_if_fail (f != NULL && i < (gint) f->n);

  f->active = i < 0 ? -1 : i;
}

gint
diode_failover_get_active (DiodeFailover * f)
{
  return f->active;
}

gboolean
diode_failover_is_connected (DiodeFailover * f, guint i)
{
  g_return_val_if_fail (f != NULL && i < f->n, FALSE);

  return f->e[i].connected;
}

gboolean
diode_failover_should_fail_back (DiodeFailover * f, gint active_i,
    gint64 now_us, gint * better_i)
{
  gint i;

  g_return_val_if_fail (f != NULL && active_i < (gint) f->n, FALSE);

  f->active = active_i < 0 ? -1 : active_i;
  for (i = 0; i < active_i; i++) {
    const Entry *e = &f->e[i];

    if (e->connected && now_us - e->since >= (gint64) f->failback_ms * 1000) {
      if (better_i)
        *better_i = i;
      return TRUE;
    }
  }
  return FALSE;
}

guint
diode_failover_get_failovers (DiodeFailover * f)
{
  return f->failovers;
}
