/* gst-diode — the relay's control link: upstream, fallbacks, fail-over
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A relay started with --upstream (and --fallback...) keeps one control
 * link to the first reachable endpoint of [upstream, fallbacks...], in
 * order (DiodeFailover, gst/protocol: the same rule as the elements' relay
 * list). When that link dies (EOF, reset, or silent for three keepalive
 * periods: relay_tick) the endpoint goes into backoff and the next one is
 * tried at once; pulled streams follow on their own (diode-relay-pull.c
 * asks upstream_pick() where to go). Every step is a log line.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

/* Backoff of an endpoint that failed: from this, doubling, to the max. */
#define UPSTREAM_RETRY_MIN_MS 500
#define UPSTREAM_RETRY_MAX_MS 8000

gboolean
relay_upstream_init (DiodeRelay * r, GError ** error)
{
  guint i;

  if (r->endpoints)
    g_ptr_array_unref (r->endpoints);
  r->endpoints = g_ptr_array_new_with_free_func ((GDestroyNotify)
      diode_endpoint_free);
  g_clear_pointer (&r->failover, diode_failover_free);
  r->active_ep = -1;
  if (!r->upstream && r->fallbacks && r->fallbacks[0]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--fallback needs --upstream (the fallbacks are tried when the "
        "upstream is unreachable)");
    return FALSE;
  }
  if (!r->upstream)
    return TRUE;
  for (i = 0; i == 0 || (r->fallbacks && r->fallbacks[i - 1]); i++) {
    const gchar *text = i == 0 ? r->upstream : r->fallbacks[i - 1];
    GError *err = NULL;
    DiodeEndpoint *e = diode_endpoint_parse (text, DIODE_DEFAULT_PORT, &err);
    guint j;

    if (!e) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "%s: %s", i == 0 ? "--upstream" : "--fallback", err->message);
      g_error_free (err);
      return FALSE;
    }
    for (j = 0; j < r->endpoints->len; j++) {
      if (diode_endpoint_same_place (e, g_ptr_array_index (r->endpoints,
                  j))) {
        gchar *where = diode_endpoint_to_string (e);

        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
            "%s is named twice in --upstream/--fallback", where);
        g_free (where);
        diode_endpoint_free (e);
        return FALSE;
      }
    }
    g_ptr_array_add (r->endpoints, e);
  }
  r->failover = diode_failover_new (r->endpoints->len, UPSTREAM_RETRY_MIN_MS,
      UPSTREAM_RETRY_MAX_MS, r->failback_delay_ms);
  return TRUE;
}

/* Where a pull should go now: the endpoint the control link is up to,
 * else the first one not in backoff (-1 and *retry_at: none now). */
gint
upstream_pick (DiodeRelay * r, gint64 now, gint64 * retry_at)
{
  if (!r->failover)
    return -1;
  if (r->active_ep >= 0)
    return r->active_ep;
  return diode_failover_pick (r->failover, now, retry_at);
}

void
upstream_endpoint_failed (DiodeRelay * r, gint ep, gint64 now)
{
  if (!r->failover || ep < 0)
    return;
  diode_failover_failed (r->failover, ep, now);
  if (r->active_ep == ep)
    r->active_ep = -1;
}

/* relay_tick and the end of every dispatch: a control link that is idle
 * connects to the best endpoint not in backoff. */
void
relay_upstream_tick (DiodeRelay * r, gint64 now)
{
  Link *l;
  gint64 retry_at = 0;
  gint ep;

  if (r->stopping || !r->failover)
    return;
  if (!r->control)
    r->control = link_new (r, LINK_CONTROL, -1);
  l = r->control;
  if (l->conn || l->state != LINK_IDLE || (l->retry_at && now < l->retry_at))
    return;
  ep = diode_failover_pick (r->failover, now, &retry_at);
  if (ep < 0) {
    l->retry_at = retry_at;
    return;
  }
  l->ep = ep;
  link_connect (l);
}

void
upstream_link_ready (Link * l)
{
  DiodeRelay *r = l->relay;
  gchar *peer = link_peer_string (l);
  gint64 now = g_get_monotonic_time ();
  gint was = r->active_ep;

  diode_failover_connected (r->failover, l->ep, now);
  diode_failover_set_active (r->failover, l->ep);
  r->active_ep = l->ep;
  relay_log (r, RELAY_LOG_LINK, "linked to %s %s (%s)%s", link_kind_name (l),
      peer, l->peer_address, was >= 0 && was != l->ep ? " (moved)" : "");
  g_free (peer);
}

void
upstream_link_down (Link * l, const gchar * why)
{
  DiodeRelay *r = l->relay;
  gchar *peer = link_peer_string (l);
  gint64 now = g_get_monotonic_time ();
  gboolean was_active = r->active_ep == l->ep;
  guint before = diode_failover_get_failovers (r->failover);

  upstream_endpoint_failed (r, l->ep, now);
  if (diode_failover_get_failovers (r->failover) != before) {
    l->failovers++;
    r->failovers++;
  }
  if (!r->stopping)
    relay_log (r, RELAY_LOG_LINK, "%s link to %s %s: %s%s",
        link_kind_name (l), peer, was_active ? "lost" : "not up", why,
        r->endpoints->len > 1 ? "; trying the next endpoint" : "; retrying");
  g_free (peer);
  /* At once (the next dispatch): the endpoint that failed is in backoff,
   * so the next one in order is picked. */
  l->retry_at = now;
}

void
upstream_handle_message (Link * l, DiodeMsg * m)
{
  Conn *c = l->conn;

  if (m->type == DIODE_MSG_ERROR)
    return;
  if (c)
    conn_send_error (c, DIODE_ERR_PROTOCOL, "unexpected message on a "
        "control link");
}
