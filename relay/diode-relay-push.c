/* gst-diode — streams pushed up the tree (PULL and push connections)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Down the tree a relay pulls (diode-relay-pull.c); up the tree it asks:
 * when the directory says a child relay announced a stream, the parent
 * sends PULL on that child's control link, and the child opens a push
 * connection to the same parent endpoint (HELLO role RELAY, PUBLISH with
 * the stream's owner, policy and path) and serves the stream on it from
 * its ring exactly as it would serve a viewer (cursor, CAPS, stream
 * headers, latest keyframe or resume by seq, slow-viewer rules). The
 * parent accepts a role-RELAY PUBLISH only for a PULL it sent to that same
 * relay identity and is waiting for (else 102), feeds its Stream from it
 * like a publisher's (seq unchanged, the owner is the publisher named in
 * PUBLISH, not the pushing relay) and ends a push it no longer needs by
 * closing that connection, --link-linger after its last consumer left.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

/* ------------------------------------------------------------------------ */
/* parent side */

gboolean
push_request (DiodeRelay * r, Stream * s, Conn * child)
{
  gchar **path = diode_msg_path_append ((const gchar * const *) s->req_path,
      diode_relay_get_address (r));
  GError *err = NULL;
  GBytes *f;

  if (!path) {
    relay_log (r, RELAY_LOG_LINK, "not asking for '%s': its request already "
        "passed %u relays", s->name, DIODE_MAX_PATH);
    return FALSE;
  }
  f = diode_msg_encode_pull (s->name, stream_next_seq (s),
      (const gchar * const *) path);
  g_strfreev (path);
  if (!f || !diode_session_sent (child->session, DIODE_MSG_PULL, 0, &err)) {
    g_clear_error (&err);
    if (f)
      g_bytes_unref (f);
    return FALSE;
  }
  conn_queue (child, f);
  conn_flush (child);
  /* Until the push says so itself: the owner, policy and path announced
   * (a relay pushing it on before the push arrives names them). */
  if (!s->path || !s->path->len) {
    Announced *a = directory_announced (r, s->name);
    guint i;

    if (!s->path)
      s->path = g_ptr_array_new_with_free_func (g_free);
    for (i = 0; a && a->path && a->path[i]; i++)
      g_ptr_array_add (s->path, g_strdup (a->path[i]));
  }
  /* The owner announced, until the push names it; no policy: announced
   * allowlists are not kept (docs/decisions.md), so the stream has none
   * until the push brings it, and its subscribers wait until then. */
  if (!s->owner) {
    Announced *a = directory_announced (r, s->name);

    if (a)
      s->owner = g_strdup (a->owner);
  }
  s->source = SOURCE_PUSHED;
  s->push_child = child;
  s->push_pending = TRUE;
  s->push_asked_at = g_get_monotonic_time ();
  s->push_frames_at_ask = s->frames_in;
  relay_log (r, RELAY_LOG_LINK, "asked child relay %s to push '%s' from seq "
      "%" G_GUINT64_FORMAT, child->address, s->name, stream_next_seq (s));
  return TRUE;
}

/* PUBLISH on a relay link: accepted only as the push of a PULL this relay
 * sent to that relay and waits for. TRUE if handled (accepted or
 * refused). */
gboolean
push_accept (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, m->stream);
  GError *err = NULL;
  guint i;

  if (!s || s->source != SOURCE_PUSHED || !s->push_pending || !s->push_child
      || g_ascii_strcasecmp (s->push_child->address, c->address)) {
    gchar *why = g_strdup_printf ("relay %s may not publish '%s' here: no "
        "PULL for it is waiting for that relay", c->address, m->stream);

    relay_log (r, RELAY_LOG_REFUSED, "refused push from %s (%s): %s",
        c->address, c->peer, why);
    conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    return TRUE;
  }
  /* The owner it claims: what it announced, and allowed by this relay's
   * own rules ([names], [publishers], names held for another owner). */
  {
    Announced *a = s->push_child->announced ?
        g_hash_table_lookup (s->push_child->announced, m->stream) : NULL;
    gchar *why = NULL;

    if (a && g_strcmp0 (a->owner, m->owner))
      why = g_strdup_printf ("its push of '%s' names owner %s, but it "
          "announced owner %s", m->stream, m->owner ? m->owner : "unknown",
          a->owner ? a->owner : "unknown");
    else
      child_claim_allowed (r, s->push_child, m->stream, m->owner, &why);
    if (why) {
      Conn *child = s->push_child;

      relay_log (r, RELAY_LOG_REFUSED, "refused push from %s (%s): %s",
          c->address, c->peer, why);
      conn_send_error (c, DIODE_ERR_NOT_AUTHORIZED, why);
      s->push_pending = FALSE;
      s->push_child = NULL;
      directory_shun_child (r, s, child, "pushed an owner it may not claim");
      r->links_kick = TRUE;
      g_free (why);
      return TRUE;
    }
  }
  g_mutex_lock (&r->lock);
  s->publisher = c;
  g_mutex_unlock (&r->lock);
  s->push_pending = FALSE;
  s->linger_until = 0;
  s->eos = FALSE;
  c->stream = s;
  c->publishing = TRUE;
  c->caps_seen = diode_ring_get_caps (s->ring) != NULL;
  g_free (s->owner);
  s->owner = g_strdup (m->owner);
  stream_set_policy (s, m);
  if (s->path)
    g_ptr_array_set_size (s->path, 0);
  else
    s->path = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; m->path && m->path[i]; i++)
    g_ptr_array_add (s->path, g_strdup (m->path[i]));
  conn_queue (c, diode_msg_encode_publish_ok (m->stream,
          stream_next_seq (s) ? stream_next_seq (s) : 1));
  if (!diode_session_sent (c->session, DIODE_MSG_PUBLISH_OK, 0, &err)) {
    g_warning ("session refused PUBLISH_OK: %s", err->message);
    g_clear_error (&err);
  }
  conn_flush (c);
  relay_log (r, RELAY_LOG_LINK, "child relay %s pushes '%s' (owner %s, %s)",
      c->address, s->name, s->owner ? s->owner : "unknown",
      diode_access_name (s->access));
  stream_recheck_viewers (r, s);
  stream_forward_policy (r, s);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* child side */

/* Tell the parent we cannot serve @name after all. */
static void
push_withdraw (Link * control, const gchar * name, const gchar * why)
{
  DiodeRelay *r = control->relay;

  relay_log (r, RELAY_LOG_LINK, "cannot push '%s' to the parent: %s", name,
      why);
  link_send (control, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN,
          name, NULL, 0, NULL, NULL, NULL), DIODE_MSG_ANNOUNCE);
}

/* The push of @s to the endpoint of @control still open, or NULL. */
static Link *
push_find (DiodeRelay * r, Stream * s, Link * control)
{
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Link *l = v;

    if (l->kind == LINK_PUSH && l->stream == s && l->ep == control->ep
        && !l->closing && (!l->conn || !l->conn->dead))
      return l;
  }
  return NULL;
}

void
push_start (Link * control, DiodeMsg * m)
{
  DiodeRelay *r = control->relay;
  Stream *s;
  Link *p;

  if (diode_msg_path_contains ((const gchar * const *) m->path,
          diode_relay_get_address (r))) {
    push_withdraw (control, m->stream, "the PULL came through this relay "
        "already (a loop)");
    return;
  }
  s = stream_lookup (r, m->stream);
  if (!s || (s->source != SOURCE_LOCAL && !s->pull && !s->publisher
          && !s->push_pending)) {
    Conn *child = NULL;

    if (directory_locate (r, m->stream, &child) != DIR_CHILD) {
      push_withdraw (control, m->stream, "not published here any more");
      return;
    }
    if (!s && g_hash_table_size (r->streams) >= r->max_streams
        && r->max_streams) {
      push_withdraw (control, m->stream, "this relay holds its maximum of "
          "streams (--max-streams)");
      return;
    }
    s = stream_get (r, m->stream);
    g_strfreev (s->req_path);
    s->req_path = g_strdupv (m->path);
    if (!push_request (r, s, child)) {
      push_withdraw (control, m->stream, "its path is too long");
      stream_maybe_free (r, s);
      return;
    }
  }
  /* One push per (stream, parent): a PULL repeated while the push it
   * asked for is still under way or serving restarts nothing (a parent
   * that no longer needs a push closes it, and only then asks again). */
  if ((p = push_find (r, s, control))) {
    relay_log (r, RELAY_LOG_LIMIT, "ignored PULL of '%s' from the parent "
        "%s: it is already pushed there (%s)", s->name,
        control->peer_address ? control->peer_address : "?",
        link_state_name (p->state));
    return;
  }
  if (!relay_may_add_link (r, "a push")) {
    push_withdraw (control, m->stream, "this relay holds its maximum of "
        "outgoing links");
    stream_maybe_free (r, s);
    return;
  }
  p = link_new (r, LINK_PUSH, control->ep);
  p->stream = s;
  p->push_start_seq = m->start_seq;
  s->pushes++;
  s->linger_until = 0;
  link_connect (p);
}

void
push_on_ready (Link * l)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  gchar **path, **allow;

  if (!s) {
    link_close (l, "stream gone");
    return;
  }
  path = stream_path_out (r, s);
  allow = stream_allow_list (s);
  link_send (l, diode_msg_encode_publish_relay (s->name, s->access, s->fleet,
          (const gchar * const *) allow, s->owner, (const gchar * const *)
          path), DIODE_MSG_PUBLISH);
  g_free (allow);
  g_strfreev (path);
}

void
push_handle_message (Link * l, DiodeMsg * m)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  Conn *c = l->conn;
  guint index;
  DiodeChunk *at;

  if (!s) {
    link_close (l, "stream gone");
    return;
  }
  switch (m->type) {
    case DIODE_MSG_PUBLISH_OK:
      l->state = LINK_PUBLISHING;
      c->stream = s;
      c->start_seq = l->push_start_seq;
      relay_log (r, RELAY_LOG_LINK, "pushing '%s' to the parent %s",
          s->name, c->address);
      /* Served like a viewer from here on: from start_seq if the ring
       * still holds it, else from the latest keyframe. */
      if (diode_ring_join_chunk (s->ring)
          || (c->start_seq && diode_ring_find_seq (s->ring, c->start_seq,
                  &at, &index))) {
        stream_attach_conn (c, s);
      } else {
        g_mutex_lock (&r->lock);
        g_ptr_array_add (s->waiting, c);
        g_mutex_unlock (&r->lock);
        c->waiting = TRUE;
        c->wait_until = G_MAXINT64;
      }
      return;
    case DIODE_MSG_ERROR:
      link_close (l, "push refused by the parent");
      return;
    default:
      conn_send_error (c, DIODE_ERR_PROTOCOL, "unexpected message on a push");
      return;
  }
}

void
push_link_down (Link * l, const gchar * why)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;

  if (s) {
    relay_log (r, RELAY_LOG_LINK, "push of '%s' to the parent ended: %s",
        s->name, why);
    s->pushes--;
    l->stream = NULL;
  }
  link_free (l);
  if (s)
    stream_maybe_free (r, s);
}
