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
 *
 * On a version-2 upstream the control link says LINK; the parent answers
 * LINK_OK with its path (itself, then its upstreams to the root), again
 * whenever that path changes. A path that holds this relay means a cycle
 * (A and B naming each other, or a longer ring): the link is refused with
 * 104 LOOP and a clear log line, and the endpoint backs off (doubling to
 * 8 s), so a bad configuration costs no connection storm. Once LINKED the
 * relay ANNOUNCEs every stream it can provide and serves the parent's
 * PULLs (diode-relay-pull.c, push_start).
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
  g_clear_pointer (&r->ep_failovers, g_free);
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
  g_free (r->ep_failovers);
  r->ep_failovers = g_new0 (guint, r->endpoints->len);
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
static void upstream_probe_tick (DiodeRelay * r, gint64 now);

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
  upstream_probe_tick (r, now);
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

static gboolean
control_in_use (Link * l)
{
  return l && link_is_up (l) && (l->state == LINK_LINKED
      || (l->version < DIODE_PROTOCOL_VERSION_LINK && l->state == LINK_READY));
}

static void upstream_set_path (DiodeRelay * r, gchar ** path);

/* The probe to a better endpoint becomes the control link; the old one
 * is closed on purpose (no failover, no backoff); pulled streams move
 * back, each at a keyframe (pull_fail_back). */
static void
upstream_fail_back (DiodeRelay * r, gint64 now, gboolean old_failed)
{
  Link *old = r->control, *p = r->probe;
  gchar *from = old ? link_peer_string (old) : g_strdup ("?");
  gchar *to = link_peer_string (p);
  GHashTableIter it;
  gpointer v;
  gint64 up_ms = p->connected_at ? (now - p->connected_at) / 1000 : 0;

  r->probe = NULL;
  p->probe = FALSE;
  r->control = p;
  if (old) {
    if (!old_failed)
      diode_failover_closed (r->failover, old->ep, now);
    old->closing = TRUE;
    if (old->conn)
      link_close (old, "failing back to a better upstream");
    else
      link_free (old);
  }
  diode_failover_set_active (r->failover, p->ep);
  r->active_ep = p->ep;
  r->failbacks++;
  relay_log (r, RELAY_LOG_LINK, "failing back from %s to %s (%s, linked "
      "for %" G_GINT64_FORMAT " ms)", from, to, p->peer_address, up_ms);
  g_free (from);
  g_free (to);
  upstream_set_path (r, p->link_path);
  p->link_path = NULL;
  directory_announce_all (r);
  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    pull_fail_back (r, v);
}

/* While on a fallback: keep a probe link to the best endpoint before it
 * that answers; once it has been linked for --failback-delay, move. */
static void
upstream_probe_tick (DiodeRelay * r, gint64 now)
{
  gint better = -1, ep;

  if (!control_in_use (r->control) || r->active_ep <= 0) {
    if (r->probe && r->active_ep == 0) {
      r->probe->closing = TRUE;
      if (r->probe->conn)
        link_close (r->probe, "no longer needed");
      else
        link_free (r->probe);
      r->probe = NULL;
    }
    return;
  }
  if (!r->probe) {
    ep = diode_failover_pick (r->failover, now, NULL);
    if (ep >= 0 && ep < r->active_ep) {
      r->probe = link_new (r, LINK_CONTROL, ep);
      r->probe->probe = TRUE;
      link_connect (r->probe);
    }
    return;
  }
  if (control_in_use (r->probe)
      && diode_failover_should_fail_back (r->failover, r->active_ep, now,
          &better) && better == r->probe->ep)
    upstream_fail_back (r, now, FALSE);
}

/* The control link is in use: LINKED (version 2), or READY on an
 * upstream that predates links. Only now does the endpoint's backoff
 * reset: a LINK refused as a cycle keeps doubling it. */
static void
upstream_became_active (Link * l)
{
  DiodeRelay *r = l->relay;
  gchar *peer = link_peer_string (l);
  gint64 now = g_get_monotonic_time ();
  gint was = r->active_ep;

  diode_failover_connected (r->failover, l->ep, now);
  diode_failover_set_active (r->failover, l->ep);
  r->active_ep = l->ep;
  /* version 2 says "linked under ..., path ..." instead */
  if (l->version < DIODE_PROTOCOL_VERSION_LINK)
    relay_log (r, RELAY_LOG_LINK, "linked to %s %s (%s)%s",
        link_kind_name (l), peer, l->peer_address, was >= 0 && was != l->ep ?
        " (moved)" : "");
  g_free (peer);
}

void
upstream_link_ready (Link * l)
{
  if (l->version >= DIODE_PROTOCOL_VERSION_LINK) {
    /* a probe links too: the parent's answer is the cycle check */
    link_send (l, diode_msg_encode_link (), DIODE_MSG_LINK);
    l->state = LINK_LINKING;
  } else if (l->probe) {
    diode_failover_connected (l->relay->failover, l->ep,
        g_get_monotonic_time ());
  } else {
    upstream_became_active (l);
  }
}

static gboolean
path_same (gchar ** a, gchar ** b)
{
  guint i;

  for (i = 0; a && b && a[i] && b[i]; i++)
    if (g_strcmp0 (a[i], b[i]))
      return FALSE;
  return (!a || !a[i]) && (!b || !b[i]);
}

static void
upstream_set_path (DiodeRelay * r, gchar ** path)
{
  /* A LINK_OK repeating the path we have changes nothing below. */
  if (path_same (r->upstream_path, path)) {
    g_strfreev (path);
    return;
  }
  g_strfreev (r->upstream_path);
  r->upstream_path = path;
  directory_path_changed (r);
}

/* LINK_OK: the parent's path. Our own address in it is a cycle. */
static void
upstream_link_ok (Link * l, DiodeMsg * m)
{
  DiodeRelay *r = l->relay;
  const gchar *self = diode_relay_get_address (r);
  gchar *peer = link_peer_string (l);
  gchar *chain = m->path ? g_strjoinv (" -> ", m->path) : g_strdup ("");

  if (diode_msg_path_contains ((const gchar * const *) m->path, self)) {
    gchar *why = g_strdup_printf ("linking to %s would close a cycle: this "
        "relay (%s) is in its upstream chain (%s); check --upstream and "
        "--fallback on both", peer, self, chain);

    relay_log (r, RELAY_LOG_LINK, "refused: %s", why);
    conn_send_error (l->conn, DIODE_ERR_LOOP, why);
    if (l->conn && !l->conn->why)
      l->conn->why = g_strdup ("a cycle of relays (104 LOOP)");
    if (l->conn)
      conn_close (l->conn, NULL);
    g_free (why);
  } else if (l->probe) {
    if (l->state != LINK_LINKED) {
      diode_failover_connected (r->failover, l->ep, g_get_monotonic_time ());
      relay_log (r, RELAY_LOG_LINK, "probe link to %s is up; streams move "
          "back to it after %u ms if it stays up", peer,
          r->failback_delay_ms);
    }
    l->state = LINK_LINKED;
    g_strfreev (l->link_path);
    l->link_path = g_strdupv (m->path);
  } else {
    gboolean first = l->state != LINK_LINKED;

    l->state = LINK_LINKED;
    if (first) {
      upstream_became_active (l);
      relay_log (r, RELAY_LOG_LINK, "linked under %s %s (%s), path %s",
          link_kind_name (l), peer, l->peer_address, chain);
    }
    upstream_set_path (r, g_strdupv (m->path));
    if (first)
      directory_announce_all (r);
  }
  g_free (chain);
  g_free (peer);
}

void
upstream_announce (DiodeRelay * r, DiodeAnnounceOp op, const gchar * name,
    const gchar * owner, guint8 access, const gchar * fleet,
    const gchar * const *allow, const gchar * const *path)
{
  Link *l = r->control;
  gchar **out;
  GBytes *f;

  if (!l || l->state != LINK_LINKED || !link_is_up (l))
    return;
  if (op == DIODE_ANNOUNCE_WITHDRAWN) {
    f = diode_msg_encode_announce (op, name, NULL, 0, NULL, NULL, NULL);
  } else {
    out = diode_msg_path_append (path, diode_relay_get_address (r));
    if (!out) {
      relay_log (r, RELAY_LOG_LINK, "not announcing '%s' upwards: its path "
          "already holds %u relays", name, DIODE_MAX_PATH);
      return;
    }
    /* the path must not already hold our parent either: it would drop
     * it; that is its check to make */
    f = diode_msg_encode_announce (op, name, owner, access, fleet, allow,
        (const gchar * const *) out);
    g_strfreev (out);
  }
  if (!f)
    return;
  /* `streams` counts names, not messages: a policy change announces a
   * name again. */
  if (!l->announced)
    l->announced = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
        NULL);
  if (op == DIODE_ANNOUNCE_AVAILABLE)
    g_hash_table_add (l->announced, g_strdup (name));
  else
    g_hash_table_remove (l->announced, name);
  l->streams = g_hash_table_size (l->announced);
  link_send (l, f, DIODE_MSG_ANNOUNCE);
}

void
upstream_link_down (Link * l, const gchar * why)
{
  DiodeRelay *r = l->relay;
  gchar *peer = link_peer_string (l);
  gint64 now = g_get_monotonic_time ();
  /* Its own state, not r->active_ep: a pull that noticed the same death
   * first has already marked the endpoint failed (and counted the
   * fail-over in DiodeFailover). */
  gboolean was_active = l->was_up;

  if (l->probe) {
    /* the better endpoint is not back yet: backoff, try again later */
    diode_failover_failed (r->failover, l->ep, now);
    if (!r->stopping)
      relay_log (r, RELAY_LOG_LINK, "probe link to %s down: %s", peer, why);
    g_free (peer);
    if (r->probe == l)
      r->probe = NULL;
    link_free (l);
    return;
  }
  upstream_endpoint_failed (r, l->ep, now);
  /* the parent forgets what a link announced when it closes */
  l->streams = 0;
  if (l->announced)
    g_hash_table_remove_all (l->announced);
  if (r->upstream_path && !r->stopping)
    upstream_set_path (r, NULL);
  if (was_active && !r->stopping) {
    l->failovers++;
    if (r->ep_failovers && l->ep >= 0
        && (guint) l->ep < r->endpoints->len)
      r->ep_failovers[l->ep]++;
  }
  if (!r->stopping)
    relay_log (r, RELAY_LOG_LINK, "%s link to %s %s: %s%s",
        link_kind_name (l), peer, was_active ? "lost" : "not up", why,
        r->endpoints->len > 1 ? "; trying the next endpoint" : "; retrying");
  g_free (peer);
  /* At once (the next dispatch): the endpoint that failed is in backoff,
   * so the next one in order is picked. A probe already linked to a
   * better endpoint takes over at once. */
  l->retry_at = now;
  if (!r->stopping && r->probe && control_in_use (r->probe))
    upstream_fail_back (r, now, TRUE);
}

void
upstream_handle_message (Link * l, DiodeMsg * m)
{
  Conn *c = l->conn;

  if (m->type == DIODE_MSG_LINK_OK) {
    upstream_link_ok (l, m);
    return;
  }
  if (m->type == DIODE_MSG_PULL) {
    push_start (l, m);
    return;
  }
  if (m->type == DIODE_MSG_ERROR) {
    /* LINK refused (104 LOOP, 102): the session is back in READY; this
     * link is no use, and the endpoint backs off. */
    if (l->state == LINK_LINKING) {
      if (c && !c->why)
        c->why = g_strdup_printf ("LINK refused (%u %s)", m->error_code,
            diode_error_code_name (m->error_code));
      if (c)
        conn_close (c, NULL);
    }
    return;
  }
  if (c)
    conn_send_error (c, DIODE_ERR_PROTOCOL, "unexpected message on a "
        "control link");
}
