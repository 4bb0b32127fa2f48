/* gst-diode — the relay's protocol handling: streams and messages
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What each message a client sends does to the relay's streams: HELLO,
 * PUBLISH, SUBSCRIBE, POLICY, CAPS/MEDIA/EOS, PING and ERROR; the stream
 * table (create, forget) and the fan-out of a new frame to the viewers.
 * Runs on the relay's I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>
#include <sys/epoll.h>

/* ------------------------------------------------------------------------ */
/* streams */

Stream *
stream_lookup (DiodeRelay * r, const gchar * name)
{
  return g_hash_table_lookup (r->streams, name);
}

Stream *
stream_get (DiodeRelay * r, const gchar * name)
{
  Stream *s = stream_lookup (r, name);

  if (s)
    return s;
  s = g_new0 (Stream, 1);
  s->name = g_strdup (name);
  s->ring = diode_ring_new (r->buffer_bytes,
      (guint64) r->buffer_seconds * G_TIME_SPAN_SECOND * 1000);
  s->viewers = g_ptr_array_new ();
  s->waiting = g_ptr_array_new ();
  s->created_at = g_get_monotonic_time ();
  g_mutex_lock (&r->lock);
  g_hash_table_insert (r->streams, s->name, s);
  g_mutex_unlock (&r->lock);
  return s;
}

void
stream_free (Stream * s)
{
  diode_ring_free (s->ring);
  g_ptr_array_unref (s->viewers);
  g_ptr_array_unref (s->waiting);
  g_free (s->owner);
  g_free (s->fleet);
  if (s->allow)
    g_hash_table_unref (s->allow);
  g_free (s->name);
  g_free (s);
}

/* Forget a stream nobody publishes or watches any more. A stream whose
 * publisher vanished without EOS is kept for the grace period so a
 * reconnecting publisher finds its viewers still there. */
void
stream_maybe_free (DiodeRelay * r, Stream * s)
{
  gint64 now = g_get_monotonic_time ();

  if (s->publisher || s->viewers->len || s->waiting->len)
    return;
  if (!s->eos && s->grace_until && now < s->grace_until)
    return;
  /* Keep the name's owner on record through its grace period. */
  if (s->owner && now < s->owner_until)
    return;
  g_debug ("stream '%s' removed", s->name);
  g_mutex_lock (&r->lock);
  g_hash_table_remove (r->streams, s->name);
  g_mutex_unlock (&r->lock);
  stream_free (s);
}

void
stream_fanout (Stream * s)
{
  guint i, n = s->viewers->len;
  /* Start each frame at the next viewer: a frame is encrypted and written
   * viewer after viewer, so a fixed order would always make the same viewer
   * wait for all the others (docs/performance.md). */
  guint start = n ? s->fanout_start++ % n : 0;

  for (i = 0; i < n; i++) {
    Conn *v = g_ptr_array_index (s->viewers, (start + i) % n);

    /* Viewers blocked on a full socket resume from EPOLLOUT. */
    if (!v->dead && !(v->events & EPOLLOUT))
      conn_flush (v);
  }
}

/* ------------------------------------------------------------------------ */
/* protocol handling */

static void
viewer_attach (Conn * c, Stream * s)
{
  DiodeRelay *r = c->relay;
  guint64 first = 0;
  GError *err = NULL;

  g_mutex_lock (&r->lock);
  g_ptr_array_remove (s->waiting, c);
  g_ptr_array_add (s->viewers, c);
  g_mutex_unlock (&r->lock);
  c->waiting = FALSE;
  c->viewing = TRUE;
  c->stream = s;

  diode_cursor_init (&c->cursor);
  if (c->start_seq && diode_cursor_seek_seq (&c->cursor, s->ring, c->start_seq)) {
    first = c->start_seq;
  } else {
    DiodeChunk *join;

    diode_cursor_join (&c->cursor, s->ring);
    join = c->cursor.chunk;
    first = join ? join->first_seq : 0;
  }
  conn_queue (c, diode_msg_encode_subscribe_ok (s->name, first));
  if (!diode_session_sent (c->session, DIODE_MSG_SUBSCRIBE_OK, 0, &err)) {
    g_warning ("session refused SUBSCRIBE_OK: %s", err->message);
    g_clear_error (&err);
  }
  g_info ("viewer %s (%s) joined '%s' at seq %" G_GUINT64_FORMAT,
      c->address, c->peer, s->name, first);
  conn_flush (c);
}

static void
handle_hello (Conn * c, DiodeMsg * m)
{
  GError *err = NULL;
  guint16 version = diode_session_get_version (c->session);
  gchar *agent;

  conn_queue (c, diode_msg_encode_welcome (version, c->relay->keepalive_ms,
          RELAY_AGENT));
  if (!diode_session_sent (c->session, DIODE_MSG_WELCOME, 0, &err)) {
    g_warning ("session refused WELCOME: %s", err->message);
    g_clear_error (&err);
  }
  c->deadline = 0;
  agent = relay_log_text (m->agent ? m->agent : "?");
  g_info ("%s %s from %s (%s, protocol v%u)",
      m->role == DIODE_ROLE_PUBLISHER ? "publisher" :
      m->role == DIODE_ROLE_VIEWER ? "viewer" : "relay",
      c->address, c->peer, agent, version);
  g_free (agent);
  conn_flush (c);
}

/* ------------------------------------------------------------------------ */
/* access policy and name ownership (docs/security.md) */

/* Refuse a request: log it with the address, tell the client why. */
static void
conn_refuse (Conn * c, DiodeErrorCode code, const gchar * what,
    const gchar * why)
{
  relay_log (c->relay, RELAY_LOG_REFUSED, "refused %s %s (%s): %s", what,
      c->address, c->peer, why);
  conn_send_error (c, code, why);
}

/* Cut a viewer off (policy changed): say why, then close. */
static void
viewer_cut_off (Conn * c, const gchar * why)
{
  DiodeRelay *r = c->relay;
  Stream *s = c->stream;

  g_message ("cutting off viewer %s (%s): %s", c->address, c->peer, why);
  g_mutex_lock (&r->lock);
  g_ptr_array_remove (s->viewers, c);
  g_ptr_array_remove (s->waiting, c);
  g_mutex_unlock (&r->lock);
  c->viewing = c->waiting = FALSE;
  c->stream = NULL;
  conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, why);
}

/* Check every viewer of @s again (policy or fleets changed). */
static void
stream_recheck_viewers (DiodeRelay * r, Stream * s)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *who = g_ptr_array_new ();
  guint i;

  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);
    gchar *why = NULL;

    if (!v->dead && !stream_allows (r, s, v->address, &why)) {
      g_ptr_array_add (who, v);
      g_ptr_array_add (out, why);
    }
  }
  for (i = 0; i < who->len; i++)
    viewer_cut_off (who->pdata[i], out->pdata[i]);
  g_ptr_array_unref (who);
  g_ptr_array_unref (out);
}

void
relay_recheck_all (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer v;
  GPtrArray *streams = g_ptr_array_new ();
  guint i;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (streams, v);
  for (i = 0; i < streams->len; i++)
    stream_recheck_viewers (r, streams->pdata[i]);
  g_ptr_array_unref (streams);
}

static void
handle_publish (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, m->stream);
  GError *err = NULL;
  gchar *why = NULL;
  guint i;

  /* Checked before anything costly (the allowlist, viewers rechecked);
   * a connection refused again and again is closed. */
  if (!may_publish (c, s, m->stream, &why)) {
    if (++c->publish_refusals >= MAX_PUBLISH_REFUSALS) {
      gchar *text = g_strdup_printf ("%s; closing the connection after %u "
          "refused PUBLISH", why, c->publish_refusals);

      relay_log (r, RELAY_LOG_REFUSED, "refused publisher %s (%s): %s",
          c->address, c->peer, text);
      conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, text);
      g_free (text);
    } else {
      conn_refuse (c, DIODE_ERR_NOT_AUTHORIZED, "publisher", why);
    }
    g_free (why);
    return;
  }
  if (!s && !relay_may_add_stream (c))
    return;
  if (s && s->publisher) {
    /* The same identity again: its camera restarted while the old
     * connection still looks alive. The newer connection wins. */
    Conn *old = s->publisher;

    g_message ("%s takes over '%s' from its older connection %s",
        c->address, s->name, old->peer);
    g_mutex_lock (&r->lock);
    s->publisher = NULL;
    g_mutex_unlock (&r->lock);
    old->publishing = FALSE;
    old->stream = NULL;
    /* NAME_IN_USE, not SHUTDOWN: the old side must not reconnect and take
     * the name back, or two copies of one camera would fight forever. */
    conn_fail (old, DIODE_ERR_NAME_IN_USE, "replaced by a newer connection "
        "of the same publisher");
  }

  s = stream_get (r, m->stream);
  if (diode_ring_get_n_chunks (s->ring) || diode_ring_get_caps (s->ring))
    diode_ring_reset (s->ring);  /* a new session starts a new sequence */
  g_mutex_lock (&r->lock);
  s->publisher = c;
  g_mutex_unlock (&r->lock);
  g_free (s->owner);
  s->owner = g_strdup (c->address);
  s->owner_until = 0;
  s->eos = FALSE;
  s->grace_until = 0;
  stream_set_policy (s, m);
  c->stream = s;
  c->publishing = TRUE;

  /* The sequence goes on where the last publisher of this name left it, so
   * viewers that stay see one increasing sequence. */
  conn_queue (c, diode_msg_encode_publish_ok (m->stream,
          diode_ring_get_last_seq (s->ring) + 1));
  if (!diode_session_sent (c->session, DIODE_MSG_PUBLISH_OK, 0, &err)) {
    g_warning ("session refused PUBLISH_OK: %s", err->message);
    g_clear_error (&err);
  }
  g_message ("%s publishes '%s' (%s%s%s, from %s)", c->address, s->name,
      diode_access_name (s->access), *s->fleet ? ", fleet " : "", s->fleet,
      c->peer);
  conn_flush (c);

  /* Viewers still attached from an earlier run, and subscribers that were
   * waiting for this name: each is checked against the new policy. */
  stream_recheck_viewers (r, s);
  while (s->waiting->len) {
    Conn *w = g_ptr_array_index (s->waiting, 0);

    if (w->dead) {
      g_ptr_array_remove_index (s->waiting, 0);
      continue;
    }
    if (!stream_allows (r, s, w->address, &why)) {
      g_mutex_lock (&r->lock);
      g_ptr_array_remove_index (s->waiting, 0);
      g_mutex_unlock (&r->lock);
      w->waiting = FALSE;
      w->stream = NULL;
      conn_refuse (w, DIODE_ERR_NOT_AUTHORIZED, "viewer", why);
      g_clear_pointer (&why, g_free);
      continue;
    }
    viewer_attach (w, s);
  }
  for (i = 0; i < s->viewers->len; i++)
    conn_flush (g_ptr_array_index (s->viewers, i));
}

static void
handle_policy (Conn * c, DiodeMsg * m)
{
  Stream *s = c->stream;

  stream_set_policy (s, m);
  g_message ("'%s' is now %s%s%s (%u addresses allowed)", s->name,
      diode_access_name (s->access), *s->fleet ? ", fleet " : "", s->fleet,
      g_hash_table_size (s->allow));
  stream_recheck_viewers (c->relay, s);
}

static void
handle_subscribe (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s = stream_lookup (r, m->stream);
  guint wait = MIN (m->wait_ms, r->max_wait_ms);

  c->start_seq = m->start_seq;
  /* Checked on every SUBSCRIBE, before a byte of the stream is sent; a
   * subscriber waiting for an unpublished name is checked when it appears. */
  if (s && s->has_policy) {
    gchar *why = NULL;

    if (!stream_allows (r, s, c->address, &why)) {
      conn_refuse (c, DIODE_ERR_NOT_AUTHORIZED, "viewer", why);
      g_free (why);
      return;
    }
  }
  if (s && (s->publisher || diode_ring_get_n_chunks (s->ring))) {
    viewer_attach (c, s);
    return;
  }
  if (wait == 0) {
    gchar *text = g_strdup_printf ("stream '%s' is not published on this relay",
        m->stream);
    conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
    g_free (text);
    return;
  }
  if (!s && !relay_may_add_stream (c))
    return;
  s = stream_get (r, m->stream);
  g_mutex_lock (&r->lock);
  g_ptr_array_add (s->waiting, c);
  g_mutex_unlock (&r->lock);
  c->stream = s;
  c->waiting = TRUE;
  c->wait_until = g_get_monotonic_time () + (gint64) wait * 1000;
  c->wait_ms = wait;
  g_info ("viewer %s waits up to %u ms for '%s'", c->address, wait, s->name);
}

static void
handle_media (Conn * c, DiodeMsg * m)
{
  Stream *s = c->stream;
  guint64 t = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;

  c->bytes_in += g_bytes_get_size (m->frame);
  s->bytes_in += g_bytes_get_size (m->frame);
  s->frames_in++;
  if (m->type == DIODE_MSG_MEDIA && m->seq <= diode_ring_get_last_seq (s->ring)) {
    gchar *text = g_strdup_printf ("MEDIA seq %" G_GUINT64_FORMAT " is not "
        "after the stream's last seq %" G_GUINT64_FORMAT " (PUBLISH_OK gave "
        "the next one)", m->seq, diode_ring_get_last_seq (s->ring));
    conn_send_error (c, DIODE_ERR_PROTOCOL, text);
    g_free (text);
    return;
  }
  if (m->type == DIODE_MSG_CAPS) {
    diode_ring_push_caps (s->ring, m->frame);
  } else if (m->type == DIODE_MSG_MEDIA) {
    diode_ring_push_media (s->ring, m->frame, m->seq, t,
        (m->flags & DIODE_MEDIA_KEYFRAME) != 0,
        (m->flags & DIODE_MEDIA_STREAMHEADER) != 0);
    g_mutex_lock (&c->relay->lock);
    s->last_seq = m->seq;
    g_mutex_unlock (&c->relay->lock);
  } else {
    diode_ring_push_other (s->ring, m->frame);
    s->eos = TRUE;
    s->owner_until = g_get_monotonic_time () +
        (gint64) c->relay->name_grace_ms * 1000;
    g_mutex_lock (&c->relay->lock);
    s->publisher = NULL;
    g_mutex_unlock (&c->relay->lock);
    c->publishing = FALSE;
    c->stream = NULL;
    g_message ("'%s' reached end of stream", s->name);
  }
  stream_fanout (s);
  if (s->eos)
    stream_maybe_free (c->relay, s);
}

static void
handle_message (Conn * c, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_HELLO:
      handle_hello (c, m);
      break;
    case DIODE_MSG_PUBLISH:
      handle_publish (c, m);
      break;
    case DIODE_MSG_SUBSCRIBE:
      handle_subscribe (c, m);
      break;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (!c->publishing || !c->stream) {
        conn_send_error (c, DIODE_ERR_PROTOCOL,
            "media after end of stream");
        return;
      }
      handle_media (c, m);
      break;
    case DIODE_MSG_POLICY:
      if (!c->publishing || !c->stream) {
        conn_send_error (c, DIODE_ERR_PROTOCOL, "POLICY after end of stream");
        return;
      }
      handle_policy (c, m);
      break;
    case DIODE_MSG_PING:
      conn_queue (c, diode_msg_encode_pong (m->token));
      conn_flush (c);
      break;
    case DIODE_MSG_PONG:
      break;
    case DIODE_MSG_ERROR:{
      /* Peer text: escaped (no forged log lines) and rate limited. */
      gchar *text = relay_log_text (m->error_text);

      relay_log (c->relay, RELAY_LOG_PEER_ERROR, "%s (%s) reported error %u "
          "(%s): %s", c->peer, c->address, m->error_code,
          diode_error_code_name (m->error_code), text);
      g_free (text);
      if (diode_error_code_is_fatal (m->error_code))
        conn_close (c, "peer reported a fatal error");
      break;
    }
    default:
      conn_send_error (c, DIODE_ERR_PROTOCOL, "unexpected message");
      break;
  }
}

void
conn_process (Conn * c)
{
  /* One frame at a time, within the peer's budget (conn_take_frame). */
  while (conn_take_frame (c)) {
    DiodeMsg m = { 0 };
    GError *err = NULL;
    DiodeSessionResult res = diode_session_next (c->session, &m, &err);

    if (res == DIODE_SESSION_NEED_MORE)
      return;
    if (res == DIODE_SESSION_ERROR) {
      gchar *text = relay_log_text (err->message);

      relay_log (c->relay, RELAY_LOG_PROTOCOL, "protocol error from %s (%s): "
          "%s", c->peer, c->address, text);
      g_free (text);
      conn_send_error (c, err->domain == DIODE_PROTOCOL_ERROR ? err->code :
          DIODE_ERR_PROTOCOL, err->message);
      g_clear_error (&err);
      return;
    }
    handle_message (c, &m);
    diode_msg_clear (&m);
  }
}
