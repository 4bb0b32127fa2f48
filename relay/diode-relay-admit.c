/* gst-diode — the relay's admission caps: connections and streams
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The caps a peer must pass before the relay spends work on it
 * (docs/security.md, "Resource limits"): connections in total, per source
 * address and pending per address (shared by the relay's port and the web
 * side), and new streams per address and in total. Moved out of
 * diode-relay-conn.c, which keeps the sockets. Runs on the I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

/* The caps an accepted connection from @host must pass before any work is
 * spent on it, shared by the relay's port and the web side (which adds its
 * own): the first it would exceed (its text; its value in @limit), or NULL.
 * @pending_cap names the pending cap as that side counts it. */
const gchar *
relay_peer_cap (DiodeRelay * r, const gchar * host,
    const gchar * pending_cap, guint * limit)
{
  AddrCount *a = g_hash_table_lookup (r->per_addr, host);

  if (r->max_conns && r->n_open >= r->max_conns) {
    *limit = r->max_conns;
    return "connections in total (--max-connections)";
  }
  if (a && r->max_conns_per_addr && a->open >= r->max_conns_per_addr) {
    *limit = r->max_conns_per_addr;
    return "connections from one address (--max-connections-per-address)";
  }
  if (a && r->max_pending_per_addr && a->pending >= r->max_pending_per_addr) {
    *limit = r->max_pending_per_addr;
    return pending_cap;
  }
  return NULL;
}

/* Nothing can be said to a peer refused at accept (before TLS or HTTP):
 * it sees the connection closed; the count and the log say why. */
void
relay_peer_refused (DiodeRelay * r, const gchar * peer, const gchar * what,
    const gchar * cap, guint limit)
{
  g_mutex_lock (&r->lock);
  r->refused_conns++;
  g_mutex_unlock (&r->lock);
  relay_log (r, RELAY_LOG_LIMIT, "refused %s from %s: the relay already "
      "holds its maximum of %u %s", what, peer, limit, cap);
}

/* A connection from @host admitted: counted (open, pending) on its
 * address and in the relay's total; the address's counters returned. */
AddrCount *
relay_admit_peer (DiodeRelay * r, const gchar * host)
{
  AddrCount *a = g_hash_table_lookup (r->per_addr, host);

  if (!a) {
    a = g_new0 (AddrCount, 1);
    a->host = g_strdup (host);
    g_hash_table_insert (r->per_addr, a->host, a);
  }
  a->open++;
  a->pending++;
  r->n_open++;
  return a;
}

/* A new stream may be added to the table (the per-relay bound). If not,
 * @c is told why and FALSE returned. */
gboolean
relay_may_add_stream (Conn * c)
{
  DiodeRelay *r = c->relay;
  gchar *text;

  /* One address's share first, so one peer cannot fill the relay's table
   * and lock every other identity out of new names. */
  if (c->addr && r->max_streams_per_addr && !conn_trusted_relay (c)
      && c->addr->streams >= r->max_streams_per_addr)
    text = g_strdup_printf ("this address (%s) already holds its maximum "
        "of %u streams on this relay (--max-streams-per-address)",
        c->addr->host, r->max_streams_per_addr);
  else if (r->max_streams && g_hash_table_size (r->streams) >= r->max_streams)
    text = g_strdup_printf ("the relay already holds its maximum of %u "
        "streams (--max-streams)", r->max_streams);
  else
    return TRUE;
  relay_log (r, RELAY_LOG_LIMIT, "refused a new stream for %s (%s): %s",
      c->address, c->peer, text);
  conn_send_error (c, DIODE_ERR_INTERNAL, text);
  g_free (text);
  return FALSE;
}
