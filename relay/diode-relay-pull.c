/* gst-diode — streams this relay pulls from another relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A SUBSCRIBE for a name this relay does not carry, when the directory
 * says "ask the upstream", makes ONE pull per stream, whatever the number
 * of viewers or downstream relays: a link (diode-relay-link.c) to the
 * upstream that says SUBSCRIBE as role RELAY. What the pull receives goes
 * into the local Stream as a publisher's frames would (seq unchanged), so
 * the ring, the latest-keyframe join, resume by seq and the fan-out are the
 * same here as at the origin; frames at or before the stream's last seq
 * are dropped silently (the overlap after a fail-over), as are CAPS equal
 * to the caps in force.
 *
 * When the pull's connection dies while the stream still has consumers
 * the stream keeps them and the pull connects again at once to whatever
 * upstream_pick() says now (the next fallback once the dead endpoint is in
 * backoff), asking for last seq + 1: viewers see nothing but the next
 * frames. A pull with no consumer left lingers --link-linger, then closes.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

/* A pull the upstream refused (1xx: not there after its wait, not
 * authorized) is asked again this long after, doubling, while consumers
 * wait; never faster, so a missing stream costs no storm. */
#define PULL_RETRY_MIN_MS 1000
#define PULL_RETRY_MAX_MS 8000
/* A pull that failed again right after a fail-over: its second retry. */
#define PULL_RETRY_FIRST_MS 250

gboolean
stream_has_consumers (Stream * s)
{
  guint i;

  if (s->waiting->len || s->pushes)
    return TRUE;
  for (i = 0; i < s->viewers->len; i++)
    if (!((Conn *) g_ptr_array_index (s->viewers, i))->dead)
      return TRUE;
  return FALSE;
}

guint64
stream_next_seq (Stream * s)
{
  guint64 last = diode_ring_get_last_seq (s->ring);

  return last ? last + 1 : 0;
}

/* Connect the pull to where the upstream is now. */
static void
pull_connect (Link * l, gint64 now)
{
  DiodeRelay *r = l->relay;
  gint64 retry_at = 0;
  gint ep = upstream_pick (r, now, &retry_at);

  if (ep < 0) {
    l->retry_at = retry_at ? retry_at : now + PULL_RETRY_MIN_MS * 1000;
    return;
  }
  l->ep = ep;
  link_connect (l);
}

void
pull_maybe_start (DiodeRelay * r, Stream * s)
{
  Link *l;
  Conn *child = NULL;

  if (s->pull || s->publisher || s->source == SOURCE_LOCAL || s->eos
      || s->push_pending || r->stopping)
    return;
  switch (directory_locate (r, s->name, &child)) {
    case DIR_CHILD:
      /* Announced below: the child pushes it up (one push per stream). */
      push_request (r, s, child);
      return;
    case DIR_UPSTREAM:
      break;
    default:
      return;
  }
  if (!relay_may_add_link (r, "a pull"))
    return;
  l = link_new (r, LINK_PULL, -1);
  l->stream = s;
  s->pull = l;
  s->source = SOURCE_PULLED;
  relay_log (r, RELAY_LOG_LINK, "pulling '%s' from upstream", s->name);
  pull_connect (l, g_get_monotonic_time ());
}

void
pull_on_ready (Link * l)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  guint64 start;
  gchar *peer;

  if (!s) {
    link_close (l, "stream gone");
    return;
  }
  start = stream_next_seq (s);
  if (!start) {
    /* Nothing held yet: a subscriber resuming (a viewer moving here from
     * another relay) gets its seq from the upstream, not a gap. */
    guint i;

    for (i = 0; i < s->waiting->len; i++) {
      Conn *w = g_ptr_array_index (s->waiting, i);

      if (!w->dead && w->start_seq && (!start || w->start_seq < start))
        start = w->start_seq;
    }
  }
  if (l->version >= DIODE_PROTOCOL_VERSION_LINK) {
    /* The path: who asked (a downstream relay's path, if one did), then
     * this relay. */
    gchar **path = diode_msg_path_append ((const gchar * const *)
        s->req_path, diode_relay_get_address (r));

    if (!path) {
      relay_log (r, RELAY_LOG_LINK, "not pulling '%s': its request "
          "already passed %u relays", s->name, DIODE_MAX_PATH);
      l->refused = TRUE;
      link_close (l, "path too long");
      return;
    }
    link_send (l, diode_msg_encode_subscribe_relay (s->name, start,
            r->max_wait_ms, NULL, (const gchar * const *) path),
        DIODE_MSG_SUBSCRIBE);
    g_strfreev (path);
  } else {
    link_send (l, diode_msg_encode_subscribe (s->name, start,
            r->max_wait_ms), DIODE_MSG_SUBSCRIBE);
  }
  l->state = LINK_SUBSCRIBING;
  peer = link_peer_string (l);
  relay_log (r, RELAY_LOG_LINK, "pull of '%s' from %s (%s): SUBSCRIBE at "
      "seq %" G_GUINT64_FORMAT, s->name, peer, l->peer_address, start);
  g_free (peer);
}

/* SUBSCRIBE_OK: who owns the stream, and its policy. An upstream that
 * sends no policy (protocol version 1) gets the strictest reading: the
 * stream is private with an empty allowlist, only its owner may watch it
 * here (access control fails closed). */
static void
pull_subscribed (Link * l, DiodeMsg * m)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  DiodeMsg policy = { 0 };
  gchar *peer = link_peer_string (l);
  guint i;

  l->state = LINK_SUBSCRIBED;
  l->state_was_subscribed = TRUE;
  l->retry_ms = 0;
  /* This endpoint works: DiodeFailover knows it is in use even before
   * the control link is up (and counts the fail-over if it dies). */
  if (r->failover && l->ep >= 0)
    diode_failover_connected (r->failover, l->ep, g_get_monotonic_time ());
  if (l != s->pull) {
    /* the second pull of a fail-back: it takes over at a keyframe */
    g_strfreev (l->link_path);
    l->link_path = g_strdupv (m->path);
    relay_log (r, RELAY_LOG_LINK, "second pull of '%s' from %s subscribed "
        "at seq %" G_GUINT64_FORMAT "; switching at a caught-up keyframe",
        s->name, peer, m->seq);
    g_free (peer);
    return;
  }
  /* recorded upstream: this relay serves its past too (replay-start.c) */
  s->upstream_state = m->stream_state;
  s->upstream_live_seq = m->live_seq;
  if (m->publisher) {
    g_free (s->owner);
    s->owner = g_strdup (m->publisher);
  }
  if (m->has_policy) {
    stream_set_policy (s, m);
  } else {
    policy.access = DIODE_ACCESS_PRIVATE;
    stream_set_policy (s, &policy);
  }
  if (s->path)
    g_ptr_array_set_size (s->path, 0);
  else
    s->path = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; m->path && m->path[i]; i++)
    g_ptr_array_add (s->path, g_strdup (m->path[i]));
  if (!m->path || !m->path[0])
    g_ptr_array_add (s->path, g_ascii_strdown (l->peer_address, -1));
  relay_log (r, RELAY_LOG_LINK, "pull of '%s' from %s subscribed at seq %"
      G_GUINT64_FORMAT " (owner %s, %s)", s->name, peer, m->seq,
      s->owner ? s->owner : "unknown", diode_access_name (s->access));
  g_free (peer);
  stream_recheck_viewers (r, s);
  stream_forward_policy (r, s);
}

/* CAPS, MEDIA, EOS from the upstream into the local ring. */
static void
pull_feed (Link * l, DiodeMsg * m)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  guint64 t = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;
  gsize size = g_bytes_get_size (m->frame);

  if (l == s->pull_next) {
    guint64 last = diode_ring_get_last_seq (s->ring);

    /* Caught up, at a keyframe: the new pull takes over, the old one
     * closes. Until then it only fills in the very next seq, never a
     * gap. */
    if (m->type == DIODE_MSG_MEDIA && (m->flags & DIODE_MEDIA_KEYFRAME)
        && !(m->flags & DIODE_MEDIA_STREAMHEADER) && m->seq <= last + 1) {
      Link *old = s->pull;
      gchar *peer = link_peer_string (l);
      guint k;

      s->pull = l;
      s->pull_next = NULL;
      if (old) {
        /* the stream's fail-overs stay with its pull */
        l->failovers += old->failovers;
        old->stream = NULL;
        old->closing = TRUE;
        if (old->conn)
          link_close (old, "moved back to a better upstream");
        else
          link_free (old);
      }
      if (s->path && l->link_path) {
        g_ptr_array_set_size (s->path, 0);
        for (k = 0; l->link_path[k]; k++)
          g_ptr_array_add (s->path, g_strdup (l->link_path[k]));
      }
      relay_log (r, RELAY_LOG_LINK, "'%s' moved back to %s at keyframe seq %"
          G_GUINT64_FORMAT " (ring at %" G_GUINT64_FORMAT ")", s->name, peer,
          m->seq, last);
      g_free (peer);
    } else if (m->type != DIODE_MSG_MEDIA || m->seq != last + 1) {
      return;
    }
  }
  if (m->type == DIODE_MSG_CAPS) {
    GBytes *cur = diode_ring_get_caps (s->ring);

    if (cur && g_bytes_equal (cur, m->frame))
      return;
    diode_ring_push_caps (s->ring, m->frame);
  } else if (m->type == DIODE_MSG_MEDIA) {
    GError *err = NULL;

    /* The overlap after a fail-over (or two pulls during a fail-back):
     * what the ring has already is not news. */
    if (m->seq <= diode_ring_get_last_seq (s->ring))
      return;
    if (!diode_ring_push_media (s->ring, m->frame, m->seq, t,
            (m->flags & DIODE_MEDIA_KEYFRAME) != 0,
            (m->flags & DIODE_MEDIA_STREAMHEADER) != 0, &err)) {
      gchar *peer = link_peer_string (l);

      relay_log (r, RELAY_LOG_LINK, "pull of '%s' from %s: %s; closing it",
          s->name, peer, err->message);
      g_free (peer);
      conn_send_error (l->conn, DIODE_ERR_PROTOCOL, err->message);
      g_error_free (err);
      return;
    }
    g_mutex_lock (&r->lock);
    s->last_seq = m->seq;
    g_mutex_unlock (&r->lock);
  } else {
    diode_ring_push_other (s->ring, m->frame);
    s->eos = TRUE;
    relay_log (r, RELAY_LOG_STREAM, "'%s' reached end of stream (pulled)",
        s->name);
  }
  s->bytes_in += size;
  s->frames_in++;
  if (!s->media_since)
    s->media_since = g_get_monotonic_time ();
  if (m->type == DIODE_MSG_MEDIA && (m->flags & DIODE_MEDIA_KEYFRAME)
      && !(m->flags & DIODE_MEDIA_STREAMHEADER))
    stream_attach_waiting (r, s);
  stream_fanout (s);
  if (s->eos) {
    pull_stop (s, "end of stream");
    stream_maybe_free (r, s);
  }
}

void
pull_handle_message (Link * l, DiodeMsg * m)
{
  Stream *s = l->stream;

  if (!s) {
    link_close (l, "stream gone");
    return;
  }
  switch (m->type) {
    case DIODE_MSG_SUBSCRIBE_OK:
      pull_subscribed (l, m);
      return;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      pull_feed (l, m);
      return;
    case DIODE_MSG_POLICY:
      /* The publisher changed it: enforce here, pass it on down. */
      stream_set_policy (s, m);
      relay_log (l->relay, RELAY_LOG_STREAM, "'%s' is now %s (policy "
          "forwarded by the upstream)", s->name, diode_access_name
          (s->access));
      stream_recheck_viewers (l->relay, s);
      stream_forward_policy (l->relay, s);
      return;
    case DIODE_MSG_ERROR:
      /* 1xx: refused (not there after the upstream's wait, not
       * authorized, loop). Ask again later while consumers wait. */
      l->refused = TRUE;
      link_close (l, "refused by the upstream");
      return;
    default:
      conn_send_error (l->conn, DIODE_ERR_PROTOCOL, "unexpected message on "
          "a pull");
      return;
  }
}

/* The pull's connection is gone (or never came up). */
void
pull_link_down (Link * l, const gchar * why)
{
  DiodeRelay *r = l->relay;
  Stream *s = l->stream;
  gint64 now = g_get_monotonic_time ();
  gchar *peer;

  if (s && l == s->pull_next) {
    /* the second pull of a fail-back failed: the first one goes on */
    s->pull_next = NULL;
    l->stream = NULL;
    link_free (l);
    return;
  }
  if (s && s->pull_next && !r->stopping) {
    /* the old pull died during a fail-back: the new one takes over, and
     * carries the stream's fail-overs (this one counted) */
    s->pull = s->pull_next;
    s->pull_next = NULL;
    s->pull->failovers += l->failovers + (l->state_was_subscribed ? 1 : 0);
    l->stream = NULL;
    link_free (l);
    return;
  }
  if (!s || r->stopping) {
    if (s) {
      s->pull = NULL;
      l->stream = NULL;
    }
    link_free (l);
    return;
  }
  if (s->eos || !stream_has_consumers (s)) {
    s->pull = NULL;
    l->stream = NULL;
    link_free (l);
    stream_maybe_free (r, s);
    return;
  }
  peer = link_peer_string (l);
  if (l->refused) {
    /* refused: the endpoint is fine, the stream is not there */
    l->refused = FALSE;
    l->retry_ms = MAX (l->retry_ms ? MIN (l->retry_ms * 2, PULL_RETRY_MAX_MS)
        : PULL_RETRY_MIN_MS, PULL_RETRY_MIN_MS);
    l->retry_at = now + (gint64) l->retry_ms * 1000;
    relay_log (r, RELAY_LOG_LINK, "pull of '%s' from %s refused; asking "
        "again in %u ms", s->name, peer, l->retry_ms);
  } else {
    /* The first retry after a pull that worked goes at once (that is the
     * fail-over); further ones back off, so an upstream that keeps
     * failing us costs no storm. */
    upstream_endpoint_failed (r, l->ep, now);
    if (l->state_was_subscribed)
      l->failovers++;
    l->retry_at = now + (gint64) l->retry_ms * 1000;
    l->retry_ms = l->retry_ms ? MIN (l->retry_ms * 2, PULL_RETRY_MAX_MS) :
        PULL_RETRY_FIRST_MS;
    relay_log (r, RELAY_LOG_LINK, "pull of '%s' from %s lost (%s); "
        "re-locating at seq %" G_GUINT64_FORMAT, s->name, peer, why,
        stream_next_seq (s));
  }
  l->state_was_subscribed = FALSE;
  g_free (peer);
}

/* The active upstream changed (fail-back): a second pull there. */
void
pull_fail_back (DiodeRelay * r, Stream * s)
{
  Link *n;
  gchar *peer;

  if (!s->pull || s->pull_next || s->pull->ep == r->active_ep
      || r->active_ep < 0 || s->eos)
    return;
  n = link_new (r, LINK_PULL, r->active_ep);
  n->stream = s;
  s->pull_next = n;
  peer = link_peer_string (n);
  relay_log (r, RELAY_LOG_LINK, "moving '%s' back to %s: second pull from "
      "seq %" G_GUINT64_FORMAT, s->name, peer, stream_next_seq (s));
  g_free (peer);
  link_connect (n);
}

/* The stream no longer needs its pull (freed, EOS, a local publisher took
 * over). */
void
pull_stop (Stream * s, const gchar * why)
{
  Link *l = s->pull;

  if (s->pull_next) {
    Link *n = s->pull_next;

    s->pull_next = NULL;
    n->stream = NULL;
    n->closing = TRUE;
    if (n->conn)
      link_close (n, why);
    else
      link_free (n);
  }

  if (!l)
    return;
  s->pull = NULL;
  l->stream = NULL;
  if (l->conn) {
    gchar *peer = link_peer_string (l);

    relay_log (l->relay, RELAY_LOG_LINK, "closing the pull of '%s' from "
        "%s: %s", s->name, peer, why);
    g_free (peer);
    l->closing = TRUE;
    link_close (l, why);
  } else {
    link_free (l);
  }
}

/* relay_tick and each dispatch: pulls waiting to connect again, and
 * pulled streams whose linger ran out. */
void
relay_pulls_tick (DiodeRelay * r, gint64 now)
{
  GHashTableIter it;
  gpointer v;
  GPtrArray *todo = g_ptr_array_new ();
  guint i;

  if (r->stopping) {
    g_ptr_array_unref (todo);
    return;
  }
  g_hash_table_iter_init (&it, r->links);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Link *l = v;

    if (l->kind == LINK_PULL && l->state == LINK_IDLE && !l->conn
        && l->retry_at && now >= l->retry_at)
      g_ptr_array_add (todo, l);
  }
  for (i = 0; i < todo->len; i++) {
    Link *l = todo->pdata[i];

    l->retry_at = 0;
    if (l->stream && stream_has_consumers (l->stream)
        && l->stream->pull == l && directory_locate (r, l->stream->name,
            NULL) == DIR_CHILD) {
      /* a child announces it now: it pushes it up instead */
      Stream *st = l->stream;

      st->pull = NULL;
      st->source = SOURCE_NONE;
      l->stream = NULL;
      link_free (l);
      pull_maybe_start (r, st);
    } else if (l->stream && stream_has_consumers (l->stream))
      pull_connect (l, now);
    else if (l->stream)
      pull_stop (l->stream, "no consumer left");
    else
      link_free (l);
  }
  g_ptr_array_set_size (todo, 0);
  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;

    if (s->pull && s->linger_until && now >= s->linger_until)
      g_ptr_array_add (todo, s);
  }
  for (i = 0; i < todo->len; i++)
    stream_maybe_free (r, todo->pdata[i]);
  /* Pushed streams whose push ended or whose child went: look again
   * (another child, the upstream), while someone watches. */
  g_ptr_array_set_size (todo, 0);
  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    Stream *s = v;

    /* a PULL the child never answered (its push could not connect):
     * asked again, at most once per handshake timeout */
    if (s->source == SOURCE_PUSHED && s->push_pending
        && now - s->push_asked_at > (gint64) r->handshake_ms * 1000) {
      relay_log (r, RELAY_LOG_LINK, "child relay %s did not push '%s' "
          "within %u ms", s->push_child ? s->push_child->address : "?",
          s->name, r->handshake_ms);
      /* not the same child again at once: the upstream (or another
       * child) may well have it */
      directory_shun_child (r, s, s->push_child, "did not push");
      s->push_pending = FALSE;
      s->push_child = NULL;
    }
    /* a push that delivers nothing is no better than none */
    if (s->source == SOURCE_PUSHED && s->publisher && !s->push_pending
        && s->frames_in == s->push_frames_at_ask
        && now - s->push_asked_at > (gint64) r->handshake_ms * 1000
        && !s->publisher->dead && s->publisher->phase == CONN_OPEN) {
      directory_shun_child (r, s, s->push_child, "pushed no frame within "
          "the handshake timeout");
      conn_fail (s->publisher, DIODE_ERR_TIMEOUT, "the push delivered no "
          "frame within the handshake timeout");
    }
    if (s->source == SOURCE_PUSHED && !s->publisher && !s->push_pending
        && !s->eos) {
      /* a push that ended (closed as silent by the keepalive, reset)
       * before its first frame is no better than one that never came:
       * asked again at once, a child whose pushes stall would keep its
       * parent from the upstream's copy for good */
      if (s->push_child && s->frames_in == s->push_frames_at_ask)
        directory_shun_child (r, s, s->push_child, "ended its push before "
            "any frame");
      s->push_child = NULL;
      g_ptr_array_add (todo, s);
    }
  }
  for (i = 0; i < todo->len; i++) {
    Stream *s = todo->pdata[i];

    if (stream_has_consumers (s)) {
      s->source = SOURCE_NONE;
      pull_maybe_start (r, s);
    } else {
      stream_maybe_free (r, s);
    }
  }
  g_ptr_array_unref (todo);
}
