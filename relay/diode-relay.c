/* gst-diode — the relay node as a reusable object
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threading: one I/O thread per relay runs a GMainContext with a single
 * GSource wrapping an epoll set (so the cost per wakeup does not grow with
 * the number of connections, unlike a poll() over every fd) plus a timer for
 * deadlines. Everything below runs on that thread; only the stream table and
 * counters that other threads may read are guarded by relay->lock.
 *
 * Data path: the publisher's frames are parsed once (DiodeSession), stored
 * once as GBytes in the stream's DiodeRing, and every viewer sends the same
 * GBytes through its own cursor and TLS session. Nothing is copied per viewer
 * except by the TLS encryption itself.
 */
#define _GNU_SOURCE   /* accept4 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

enum {
  PROP_0,
  PROP_LISTEN,
  PROP_IDENTITY,
  PROP_BUFFER_BYTES,
  PROP_BUFFER_SECONDS,
  PROP_MAX_WAIT_MS,
  PROP_HANDSHAKE_TIMEOUT_MS,
  PROP_GRACE_MS,
  PROP_VIEWER_SOFT_LIMIT,
  PROP_VIEWER_HARD_LIMIT,
  PROP_WRITE_TIMEOUT_MS,
  PROP_STATS_INTERVAL_MS,
  PROP_STATS_FILE,
  PROP_NAME_GRACE_MS,
  PROP_CONFIG,
  PROP_KEEPALIVE_MS,
};

G_DEFINE_FINAL_TYPE (DiodeRelay, diode_relay, G_TYPE_OBJECT)

static void conn_flush (Conn * c);
static void conn_close (Conn * c, const gchar * why);
static void conn_on_readable (Conn * c);

/* ------------------------------------------------------------------------ */
/* epoll plumbing */

static void
conn_set_events (Conn * c, guint32 events)
{
  struct epoll_event ev = { 0 };

  if (c->dead || c->events == events)
    return;
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl (c->relay->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
    c->events = events;
}

static void
conn_want_write (Conn * c, gboolean want)
{
  guint32 ev = (c->phase == CONN_CLOSING) ? 0 : EPOLLIN;
  if (want)
    ev |= EPOLLOUT;
  conn_set_events (c, ev);
}

/* ------------------------------------------------------------------------ */
/* streams */

static Stream *
stream_lookup (DiodeRelay * r, const gchar * name)
{
  return g_hash_table_lookup (r->streams, name);
}

static Stream *
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

static void
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
static void
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

/* ------------------------------------------------------------------------ */
/* sending */

static void
conn_queue (Conn * c, GBytes * frame)
{
  g_queue_push_tail (&c->ctrl, frame);
}

static void
conn_send_error (Conn * c, DiodeErrorCode code, const gchar * text)
{
  GError *err = NULL;

  conn_queue (c, diode_msg_encode_error (code, text));
  if (!diode_session_sent (c->session, DIODE_MSG_ERROR, code, &err))
    g_clear_error (&err);
  if (diode_error_code_is_fatal (code) && c->phase != CONN_CLOSING) {
    /* Stop listening to the peer; give it a moment to read why. */
    c->phase = CONN_CLOSING;
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
  }
  conn_flush (c);
}

/* Say why, then close, whatever the code (1xx codes alone leave the
 * connection open). */
static void
conn_fail (Conn * c, DiodeErrorCode code, const gchar * text)
{
  conn_send_error (c, code, text);
  if (!c->dead && c->phase != CONN_CLOSING) {
    c->phase = CONN_CLOSING;
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
    conn_flush (c);
  }
}

static void
conn_flush (Conn * c)
{
  if (c->dead || c->phase == CONN_HANDSHAKE)
    return;

  for (;;) {
    const guint8 *data;
    gsize size, n = 0;
    DiodeTlsStatus st;
    GError *err = NULL;

    if (!c->out) {
      GBytes *next = g_queue_pop_head (&c->ctrl);

      if (next) {
        c->out = next;
      } else if (c->viewing && c->stream && c->phase == CONN_OPEN) {
        DiodeRing *ring = c->stream->ring;
        gboolean skipped = FALSE;
        guint64 backlog = diode_cursor_backlog (&c->cursor, ring);
        GBytes *f;

        /* Slow viewer: rather than fall further behind, drop what it has
         * not read and start again at the latest keyframe. Its diodesrc
         * sees the seq gap and flags DISCONT. */
        if (backlog > c->relay->soft_limit
            && diode_cursor_skip_to_latest (&c->cursor, ring)) {
          c->skips++;
          g_message ("viewer %s (%s) of '%s' was %" G_GUINT64_FORMAT " bytes "
              "behind; skipped to the latest keyframe", c->address, c->peer,
              c->stream->name, backlog);
        }
        f = diode_cursor_next (&c->cursor, ring, &skipped);
        if (skipped) {
          c->skips++;
          g_message ("viewer %s (%s) of '%s' fell out of the buffer; skipped "
              "to the latest keyframe", c->address, c->peer, c->stream->name);
        }
        if (!f)
          break;
        if (!c->first_media_at && g_bytes_get_size (f) > DIODE_FRAME_HEADER_SIZE
            && ((const guint8 *) g_bytes_get_data (f, NULL))[0] ==
            DIODE_MSG_MEDIA)
          c->first_media_at = g_get_monotonic_time ();
        c->out = g_bytes_ref (f);
      } else {
        break;
      }
      c->out_off = 0;
    }

    data = g_bytes_get_data (c->out, &size);
    st = diode_tls_send (c->tls, data + c->out_off, size - c->out_off, &n,
        &err);
    if (st == DIODE_TLS_OK) {
      c->out_off += n;
      c->bytes_out += n;
      c->last_progress = c->last_tx = g_get_monotonic_time ();
      if (c->out_off == size) {
        g_clear_pointer (&c->out, g_bytes_unref);
        c->frames_out++;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN) {
      conn_want_write (c, TRUE);
      return;
    }
    /* A viewer that vanished mid-chunk ends here: only it is affected. */
    conn_close (c, err ? err->message : "peer closed the connection");
    g_clear_error (&err);
    return;
  }

  if (c->phase == CONN_CLOSING) {
    conn_close (c, NULL);
    return;
  }
  /* Nothing pending: the write timeout only runs while we wait on it. */
  c->last_progress = g_get_monotonic_time ();
  conn_want_write (c, FALSE);
}

static void
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
/* connection lifecycle */

static void
conn_close (Conn * c, const gchar * why)
{
  DiodeRelay *r = c->relay;
  Stream *s = c->stream;

  if (c->dead)
    return;
  c->dead = TRUE;
  if (why)
    g_info ("closing %s (%s): %s", c->peer,
        c->address ? c->address : "no identity", why);

  if (s && c->publishing && s->publisher == c) {
    g_mutex_lock (&r->lock);
    s->publisher = NULL;
    g_mutex_unlock (&r->lock);
    s->owner_until = g_get_monotonic_time () + (gint64) r->name_grace_ms * 1000;
    if (!s->eos) {
      s->grace_until = g_get_monotonic_time () + (gint64) r->grace_ms * 1000;
      g_message ("publisher %s of '%s' disconnected without EOS; keeping "
          "its viewers for %u ms", c->address, s->name, r->grace_ms);
    }
  }
  if (c->tls && c->phase != CONN_HANDSHAKE)
    diode_tls_bye (c->tls);
  epoll_ctl (r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  g_ptr_array_add (r->dead, c);
}

static void
conn_free (Conn * c)
{
  g_clear_pointer (&c->tls, diode_tls_free);
  if (c->fd >= 0)
    close (c->fd);
  g_clear_pointer (&c->session, diode_session_free);
  g_queue_clear_full (&c->ctrl, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&c->out, g_bytes_unref);
  diode_cursor_clear (&c->cursor);
  g_free (c->peer);
  g_free (c->address);
  g_free (c);
}

/* Free what closed during this dispatch, now that no loop holds it. */
static void
relay_reap (DiodeRelay * r)
{
  guint i;

  for (i = 0; i < r->dead->len; i++) {
    Conn *c = g_ptr_array_index (r->dead, i);
    Stream *s = c->stream;

    g_mutex_lock (&r->lock);
    g_hash_table_remove (r->conns, c);
    g_mutex_unlock (&r->lock);
    if (s) {
      g_mutex_lock (&r->lock);
      g_ptr_array_remove (s->viewers, c);
      g_ptr_array_remove (s->waiting, c);
      g_mutex_unlock (&r->lock);
      c->stream = NULL;
      stream_maybe_free (r, s);
    }
    conn_free (c);
  }
  g_ptr_array_set_size (r->dead, 0);
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

  conn_queue (c, diode_msg_encode_welcome (version, c->relay->keepalive_ms,
          RELAY_AGENT));
  if (!diode_session_sent (c->session, DIODE_MSG_WELCOME, 0, &err)) {
    g_warning ("session refused WELCOME: %s", err->message);
    g_clear_error (&err);
  }
  c->deadline = 0;
  g_info ("%s %s from %s (%s, protocol v%u)",
      m->role == DIODE_ROLE_PUBLISHER ? "publisher" :
      m->role == DIODE_ROLE_VIEWER ? "viewer" : "relay",
      c->address, c->peer, m->agent ? m->agent : "?", version);
  conn_flush (c);
}

/* ------------------------------------------------------------------------ */
/* access policy and name ownership (docs/security.md) */

/* Refuse a request: log it with the address, tell the client why. */
static void
conn_refuse (Conn * c, DiodeErrorCode code, const gchar * what,
    const gchar * why)
{
  g_message ("refused %s %s (%s): %s", what, c->address, c->peer, why);
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

static void
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

  if (!may_publish (c, s, m->stream, &why)) {
    conn_refuse (c, DIODE_ERR_NOT_AUTHORIZED, "publisher", why);
    g_free (why);
    return;
  }
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
    case DIODE_MSG_ERROR:
      g_message ("%s (%s) reported error %u (%s): %s", c->peer, c->address,
          m->error_code, diode_error_code_name (m->error_code),
          m->error_text ? m->error_text : "");
      if (diode_error_code_is_fatal (m->error_code))
        conn_close (c, "peer reported a fatal error");
      break;
    default:
      conn_send_error (c, DIODE_ERR_PROTOCOL, "unexpected message");
      break;
  }
}

static void
conn_process (Conn * c)
{
  while (!c->dead && c->phase == CONN_OPEN) {
    DiodeMsg m = { 0 };
    GError *err = NULL;
    DiodeSessionResult res = diode_session_next (c->session, &m, &err);

    if (res == DIODE_SESSION_NEED_MORE)
      return;
    if (res == DIODE_SESSION_ERROR) {
      g_message ("protocol error from %s (%s): %s", c->peer,
          c->address, err->message);
      conn_send_error (c, err->domain == DIODE_PROTOCOL_ERROR ? err->code :
          DIODE_ERR_PROTOCOL, err->message);
      g_clear_error (&err);
      return;
    }
    handle_message (c, &m);
    diode_msg_clear (&m);
  }
}

/* TLS 1.3 always starts with a handshake record (0x16). Anything else is
 * refused from its first byte, instead of letting GnuTLS wait for the rest
 * of what it might take for an SSLv2 header. TRUE: go on with TLS. */
static gboolean
conn_check_first_byte (Conn * c)
{
  guint8 b;
  ssize_t n;

  if (c->tls_seen)
    return TRUE;
  n = recv (c->fd, &b, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return FALSE;
  if (n == 1 && b == 0x16) {
    c->tls_seen = TRUE;
    return TRUE;
  }
  if (n == 1)
    g_message ("%s does not speak TLS (first byte 0x%02x); closing", c->peer,
        b);
  conn_close (c, n == 0 ? "closed before the TLS handshake" : NULL);
  return FALSE;
}

static void
conn_handshake (Conn * c)
{
  GError *err = NULL;
  DiodeTlsStatus st;

  if (!conn_check_first_byte (c))
    return;
  st = diode_tls_handshake (c->tls, &err);

  if (st == DIODE_TLS_AGAIN) {
    conn_set_events (c, diode_tls_wants_write (c->tls) ? EPOLLOUT : EPOLLIN);
    return;
  }
  if (st != DIODE_TLS_OK) {
    g_message ("TLS handshake with %s failed: %s", c->peer,
        err ? err->message : "connection closed");
    g_clear_error (&err);
    conn_close (c, NULL);
    return;
  }
  c->address = g_strdup (diode_tls_get_peer_address (c->tls));
  c->phase = CONN_OPEN;
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    gchar *why = g_strdup_printf ("refused: %s; a diode identity's "
        "certificate is regenerated from its key at every start", err->message);

    g_message ("client %s (%s): %s", c->address, c->peer, err->message);
    g_clear_error (&err);
    conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, why);
    g_free (why);
    return;
  }
  /* c->deadline still counts from accept: TLS and HELLO share one budget. */
  g_debug ("TLS with %s is up: %s, peer %s", c->peer,
      diode_tls_describe (c->tls), c->address);
  conn_set_events (c, EPOLLIN);
  /* GnuTLS may already hold the client's first records. */
  conn_on_readable (c);
}

static void
conn_on_readable (Conn * c)
{
  DiodeRelay *r = c->relay;

  if (c->phase == CONN_HANDSHAKE) {
    conn_handshake (c);
    return;
  }
  while (!c->dead && c->phase == CONN_OPEN) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (c->tls, r->rbuf, READ_CHUNK, &n, &err);

    if (st == DIODE_TLS_OK) {
      c->last_rx = g_get_monotonic_time ();
      diode_session_feed (c->session, r->rbuf, n);
      conn_process (c);
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    conn_close (c, st == DIODE_TLS_CLOSED ? "peer closed the connection" :
        err->message);
    g_clear_error (&err);
    return;
  }
}

static void
relay_accept (DiodeRelay * r)
{
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof (ss);
    char host[INET6_ADDRSTRLEN] = "?";
    guint16 port = 0;
    struct epoll_event ev = { 0 };
    GError *err = NULL;
    Conn *c;
    int one = 1;
    int fd = accept4 (g_socket_get_fd (r->listen_socket),
        (struct sockaddr *) &ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
          && errno != ECONNABORTED)
        g_message ("accept failed: %s", g_strerror (errno));
      return;
    }
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    if (ss.ss_family == AF_INET) {
      struct sockaddr_in *in = (struct sockaddr_in *) &ss;
      inet_ntop (AF_INET, &in->sin_addr, host, sizeof (host));
      port = ntohs (in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
      inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof (host));
      port = ntohs (in6->sin6_port);
    }

    c = g_new0 (Conn, 1);
    c->kind = TAG_CONN;
    c->relay = r;
    c->fd = fd;
    c->peer = g_strdup_printf ("%s:%u", host, port);
    g_queue_init (&c->ctrl);
    diode_cursor_init (&c->cursor);
    c->session = diode_session_new (DIODE_SESSION_RELAY_END);
    c->phase = CONN_HANDSHAKE;
    c->accepted_at = c->last_progress = c->last_rx = c->last_tx =
        g_get_monotonic_time ();
    c->deadline = c->accepted_at + (gint64) r->handshake_ms * 1000;
    c->tls = diode_tls_new_server (fd, r->identity, &err);
    if (!c->tls) {
      g_message ("cannot set up TLS for %s: %s", c->peer, err->message);
      g_clear_error (&err);
      conn_free (c);
      continue;
    }
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (epoll_ctl (r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      conn_free (c);
      continue;
    }
    c->events = EPOLLIN;
    g_mutex_lock (&r->lock);
    g_hash_table_add (r->conns, c);
    g_mutex_unlock (&r->lock);
    g_debug ("connection from %s", c->peer);
  }
}

/* ------------------------------------------------------------------------ */
/* loop sources */

static gboolean
io_dispatch (GSource * source, GSourceFunc cb, gpointer user_data)
{
  DiodeRelay *r = user_data;
  struct epoll_event events[256];
  int n, i;

  n = epoll_wait (r->epfd, events, G_N_ELEMENTS (events), 0);
  for (i = 0; i < n; i++) {
    TagKind *kind = events[i].data.ptr;
    Conn *c;

    if (*kind == TAG_LISTENER) {
      relay_accept (r);
      continue;
    }
    c = (Conn *) kind;
    if (c->dead)
      continue;
    if (c->phase == CONN_HANDSHAKE) {
      conn_handshake (c);
      continue;
    }
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      conn_on_readable (c);
    if (!c->dead && c->phase == CONN_CLOSING
        && (events[i].events & (EPOLLHUP | EPOLLERR))) {
      conn_close (c, NULL);
      continue;
    }
    if (!c->dead && (events[i].events & EPOLLOUT))
      conn_flush (c);
  }
  relay_reap (r);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs io_funcs = { NULL, NULL, io_dispatch, NULL, NULL, NULL };

static gboolean
relay_tick (gpointer user_data)
{
  DiodeRelay *r = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer key;
  GPtrArray *expired = g_ptr_array_new ();
  guint i;

  g_hash_table_iter_init (&it, r->conns);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;

    if (c->dead)
      continue;
    if (c->deadline && now > c->deadline) {
      if (c->phase == CONN_HANDSHAKE) {
        g_message ("%s did not complete the TLS handshake in time", c->peer);
      } else if (c->phase == CONN_OPEN) {
        g_message ("%s (%s) sent no HELLO in time", c->peer, c->address);
        /* Tell it why; the CLOSING deadline bounds how long we wait. */
        conn_send_error (c, DIODE_ERR_TIMEOUT, "no HELLO in time");
        continue;
      }
      conn_close (c, NULL);
    } else if (r->keepalive_ms && c->phase == CONN_OPEN
        && diode_session_get_state (c->session) != DIODE_SESSION_AWAIT_HELLO
        && now - c->last_rx > (gint64) r->keepalive_ms * 3000) {
      /* Silent for three keepalive periods: dead, frozen or cut off. */
      gchar *text = g_strdup_printf ("nothing received for %" G_GINT64_FORMAT
          " ms (keepalive %u ms)", (now - c->last_rx) / 1000, r->keepalive_ms);

      g_message ("%s (%s): %s; closing", c->peer, c->address, text);
      conn_send_error (c, DIODE_ERR_TIMEOUT, text);
      conn_close (c, NULL);
      g_free (text);
    } else if (c->waiting && now > c->wait_until) {
      g_ptr_array_add (expired, c);
    } else if (c->viewing && c->stream && c->phase == CONN_OPEN) {
      guint64 backlog = diode_cursor_backlog (&c->cursor, c->stream->ring);
      gchar *text = NULL;

      if (backlog > r->hard_limit)
        text = g_strdup_printf ("viewer fell %" G_GUINT64_FORMAT " bytes "
            "behind '%s' (limit %" G_GUINT64_FORMAT "); disconnected",
            backlog, c->stream->name, r->hard_limit);
      else if (c->out && now - c->last_progress >
          (gint64) r->write_timeout_ms * 1000)
        text = g_strdup_printf ("viewer accepted no data for %u ms; "
            "disconnected", r->write_timeout_ms);
      if (text) {
        g_message ("slow viewer %s (%s): %s", c->address, c->peer, text);
        conn_send_error (c, DIODE_ERR_SLOW_VIEWER, text);
        g_free (text);
      }
    }
    /* Quiet towards this peer for a keepalive period: PING it. */
    if (!c->dead && r->keepalive_ms && c->phase == CONN_OPEN
        && diode_session_get_state (c->session) != DIODE_SESSION_AWAIT_HELLO
        && !c->out && g_queue_is_empty (&c->ctrl)
        && now - c->last_tx >= (gint64) r->keepalive_ms * 1000) {
      conn_queue (c, diode_msg_encode_ping (++c->ping_token));
      conn_flush (c);
    }
  }
  for (i = 0; i < expired->len; i++) {
    Conn *c = expired->pdata[i];
    Stream *s = c->stream;
    gchar *text = g_strdup_printf ("stream '%s' is not published on this "
        "relay (waited %u ms)", s->name, c->wait_ms);

    g_mutex_lock (&r->lock);
    g_ptr_array_remove (s->waiting, c);
    g_mutex_unlock (&r->lock);
    c->waiting = FALSE;
    c->stream = NULL;
    conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
    g_free (text);
    stream_maybe_free (r, s);
  }
  g_ptr_array_unref (expired);

  /* Publishers that vanished and did not come back: tell their viewers. */
  {
    GHashTableIter sit;
    gpointer v;
    GPtrArray *gone = g_ptr_array_new ();

    g_hash_table_iter_init (&sit, r->streams);
    while (g_hash_table_iter_next (&sit, NULL, &v)) {
      Stream *s = v;
      if (!s->publisher && !s->eos && s->grace_until && now > s->grace_until)
        g_ptr_array_add (gone, s);
    }
    for (i = 0; i < gone->len; i++) {
      Stream *s = gone->pdata[i];
      gchar *text = g_strdup_printf ("the publisher of '%s' disconnected and "
          "did not come back", s->name);
      guint j;

      for (j = 0; j < s->viewers->len; j++)
        conn_send_error (g_ptr_array_index (s->viewers, j),
            DIODE_ERR_NOT_FOUND, text);
      g_free (text);
      s->eos = TRUE;   /* lets stream_maybe_free drop it once viewers go */
      stream_maybe_free (r, s);
    }
    g_ptr_array_unref (gone);
  }
  /* Names whose ownership grace ran out, with nobody left on them. */
  {
    GHashTableIter sit;
    gpointer v;
    GPtrArray *idle = g_ptr_array_new ();

    g_hash_table_iter_init (&sit, r->streams);
    while (g_hash_table_iter_next (&sit, NULL, &v)) {
      Stream *s = v;
      if (!s->publisher && s->owner_until && now >= s->owner_until)
        g_ptr_array_add (idle, s);
    }
    for (i = 0; i < idle->len; i++)
      stream_maybe_free (r, idle->pdata[i]);
    g_ptr_array_unref (idle);
  }
  relay_reap (r);
  if (r->stats_interval_ms
      && now - r->stats_at >= (gint64) r->stats_interval_ms * 1000) {
    if (g_hash_table_size (r->streams))
      relay_stats_log (r, now);
    relay_stats (r, now);
    r->stats_at = now;
  }
  return G_SOURCE_CONTINUE;
}

static gpointer
relay_thread (gpointer user_data)
{
  DiodeRelay *r = user_data;

  g_main_context_push_thread_default (r->context);
  g_main_loop_run (r->loop);
  g_main_context_pop_thread_default (r->context);
  return NULL;
}

/* Runs on the relay thread: say goodbye to everyone, then stop the loop. */
static gboolean
relay_shutdown_cb (gpointer user_data)
{
  DiodeRelay *r = user_data;
  GHashTableIter it;
  gpointer key;

  g_hash_table_iter_init (&it, r->conns);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;

    if (c->dead)
      continue;
    if (c->phase == CONN_OPEN) {
      conn_queue (c, diode_msg_encode_error (DIODE_ERR_SHUTDOWN,
              "the relay is shutting down"));
      conn_flush (c);
    }
    conn_close (c, NULL);
  }
  relay_reap (r);
  g_main_loop_quit (r->loop);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* public API */

static gboolean
parse_listen (const gchar * listen, gchar ** host, guint16 * port,
    GError ** error)
{
  const gchar *colon = strrchr (listen, ':');
  gchar *end = NULL;
  guint64 p;

  if (!colon || colon == listen) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "listen address '%s' is not HOST:PORT", listen);
    return FALSE;
  }
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (!end || *end || end == colon + 1 || p > 65535) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "listen address '%s' has an invalid port", listen);
    return FALSE;
  }
  if (listen[0] == '[' && colon[-1] == ']')
    *host = g_strndup (listen + 1, colon - listen - 2);
  else
    *host = g_strndup (listen, colon - listen);
  *port = p;
  return TRUE;
}

gboolean
diode_relay_start (DiodeRelay * r, GError ** error)
{
  gchar *host = NULL;
  guint16 port = 0;
  GInetAddress *ia;
  GSocketAddress *sa;
  struct epoll_event ev = { 0 };

  g_return_val_if_fail (DIODE_IS_RELAY (r), FALSE);
  g_return_val_if_fail (!r->running, FALSE);

  if (!parse_listen (r->listen, &host, &port, error))
    return FALSE;
  if (r->config_path) {
    DiodeRelayConfig *cfg = diode_relay_config_load (r->config_path, error);

    if (!cfg) {
      g_free (host);
      return FALSE;
    }
    diode_relay_config_unref (r->config);
    r->config = cfg;
  }
  r->identity = diode_identity_load_or_create (r->identity_path, error);
  if (!r->identity) {
    g_free (host);
    return FALSE;
  }

  ia = g_inet_address_new_from_string (host);
  if (!ia) {
    GResolver *res = g_resolver_get_default ();
    GList *addrs = g_resolver_lookup_by_name (res, host, NULL, error);
    g_object_unref (res);
    if (!addrs) {
      g_prefix_error (error, "cannot resolve listen host '%s': ", host);
      g_free (host);
      return FALSE;
    }
    ia = g_object_ref (addrs->data);
    g_resolver_free_addresses (addrs);
  }
  sa = g_inet_socket_address_new (ia, port);
  r->listen_socket = g_socket_new (g_inet_address_get_family (ia),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  g_object_unref (ia);
  if (!r->listen_socket)
    goto fail;
  g_socket_set_blocking (r->listen_socket, FALSE);
  /* A crowd of viewers joining at once must not stall in the backlog. */
  g_socket_set_listen_backlog (r->listen_socket, 4096);
  if (!g_socket_bind (r->listen_socket, sa, TRUE, error)
      || !g_socket_listen (r->listen_socket, error)) {
    g_prefix_error (error, "cannot listen on %s: ", r->listen);
    goto fail;
  }
  g_object_unref (sa);
  sa = g_socket_get_local_address (r->listen_socket, NULL);
  r->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa));
  g_object_unref (sa);
  sa = NULL;
  r->bound_host = host;
  host = NULL;

  r->epfd = epoll_create1 (EPOLL_CLOEXEC);
  r->listener_tag.kind = TAG_LISTENER;
  ev.events = EPOLLIN;
  ev.data.ptr = &r->listener_tag;
  epoll_ctl (r->epfd, EPOLL_CTL_ADD, g_socket_get_fd (r->listen_socket), &ev);

  r->context = g_main_context_new ();
  r->loop = g_main_loop_new (r->context, FALSE);
  r->io_source = g_source_new (&io_funcs, sizeof (GSource));
  g_source_set_callback (r->io_source, NULL, r, NULL);
  g_source_add_unix_fd (r->io_source, r->epfd, G_IO_IN);
  g_source_set_name (r->io_source, "diode-relay-io");
  g_source_attach (r->io_source, r->context);
  r->tick_source = g_timeout_source_new (TICK_MS);
  g_source_set_callback (r->tick_source, relay_tick, r, NULL);
  g_source_attach (r->tick_source, r->context);

  r->running = TRUE;
  r->started_at = r->stats_at = g_get_monotonic_time ();
  r->thread = g_thread_new ("diode-relay", relay_thread, r);
  g_message ("relay %s listening on %s:%u", diode_identity_get_address
      (r->identity), r->bound_host, r->port);
  return TRUE;

fail:
  g_clear_object (&sa);
  g_clear_object (&r->listen_socket);
  g_free (host);
  return FALSE;
}

void
diode_relay_stop (DiodeRelay * r)
{
  GSource *idle;
  GHashTableIter it;
  gpointer v;

  g_return_if_fail (DIODE_IS_RELAY (r));
  if (!r->running)
    return;
  idle = g_idle_source_new ();
  g_source_set_callback (idle, relay_shutdown_cb, r, NULL);
  g_source_attach (idle, r->context);
  g_source_unref (idle);
  g_thread_join (r->thread);
  r->thread = NULL;
  r->running = FALSE;

  g_source_destroy (r->io_source);
  g_clear_pointer (&r->io_source, g_source_unref);
  g_source_destroy (r->tick_source);
  g_clear_pointer (&r->tick_source, g_source_unref);
  g_clear_pointer (&r->loop, g_main_loop_unref);
  g_clear_pointer (&r->context, g_main_context_unref);
  close (r->epfd);
  r->epfd = -1;
  g_socket_close (r->listen_socket, NULL);
  g_clear_object (&r->listen_socket);

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    stream_free (v);
    g_hash_table_iter_remove (&it);
  }
  g_message ("relay stopped");
}

guint16
diode_relay_get_port (DiodeRelay * r)
{
  return r->port;
}

gchar *
diode_relay_get_hostport (DiodeRelay * r)
{
  const gchar *h = r->bound_host;

  if (!h || !g_strcmp0 (h, "0.0.0.0"))
    h = "127.0.0.1";
  else if (!g_strcmp0 (h, "::"))
    h = "::1";
  if (strchr (h, ':'))
    return g_strdup_printf ("[%s]:%u", h, r->port);
  return g_strdup_printf ("%s:%u", h, r->port);
}

const gchar *
diode_relay_get_address (DiodeRelay * r)
{
  return r->identity ? diode_identity_get_address (r->identity) : NULL;
}

guint
diode_relay_count_viewers (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint n = 0, i;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  if (s)
    for (i = 0; i < s->viewers->len; i++)
      n += ((Conn *) g_ptr_array_index (s->viewers, i))->dead ? 0 : 1;
  g_mutex_unlock (&r->lock);
  return n;
}

typedef struct {
  DiodeRelay *relay;
  DiodeRelayConfig *config;
} ConfigSwap;

static gboolean
config_swap_cb (gpointer data)
{
  ConfigSwap *sw = data;
  DiodeRelay *r = sw->relay;

  diode_relay_config_unref (r->config);
  r->config = sw->config;
  g_message ("configuration reloaded from %s (%u fleets)", r->config_path,
      diode_relay_config_n_fleets (r->config));
  /* Fleets may have lost members: check every viewer again. */
  relay_recheck_all (r);
  relay_reap (r);
  g_free (sw);
  return G_SOURCE_REMOVE;
}

gboolean
diode_relay_reload_config (DiodeRelay * r, GError ** error)
{
  DiodeRelayConfig *cfg;
  ConfigSwap *sw;

  g_return_val_if_fail (DIODE_IS_RELAY (r), FALSE);
  if (!r->config_path) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
        "the relay was started without a configuration file (--config)");
    return FALSE;
  }
  /* Parse here, in the caller's thread; a bad file changes nothing. */
  cfg = diode_relay_config_load (r->config_path, error);
  if (!cfg)
    return FALSE;
  if (!r->running) {
    diode_relay_config_unref (r->config);
    r->config = cfg;
    return TRUE;
  }
  sw = g_new0 (ConfigSwap, 1);
  sw->relay = r;
  sw->config = cfg;
  g_main_context_invoke (r->context, config_swap_cb, sw);
  return TRUE;
}

gchar *
diode_relay_get_stats_json (DiodeRelay * r)
{
  gchar *s;

  g_mutex_lock (&r->lock);
  s = g_strdup (r->stats_json);
  g_mutex_unlock (&r->lock);
  return s;
}

guint64
diode_relay_get_last_seq (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint64 seq;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  seq = s ? s->last_seq : 0;
  g_mutex_unlock (&r->lock);
  return seq;
}

guint
diode_relay_count_waiting (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint n;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  n = s ? s->waiting->len : 0;
  g_mutex_unlock (&r->lock);
  return n;
}

gboolean
diode_relay_has_publisher (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  gboolean ret;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  ret = s && s->publisher;
  g_mutex_unlock (&r->lock);
  return ret;
}

guint
diode_relay_count_connections (DiodeRelay * r)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->conns ? g_hash_table_size (r->conns) : 0;
  g_mutex_unlock (&r->lock);
  return n;
}

DiodeRelay *
diode_relay_new (const gchar * listen, const gchar * identity)
{
  return g_object_new (DIODE_TYPE_RELAY, "listen", listen,
      "identity", identity, NULL);
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
diode_relay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  DiodeRelay *r = DIODE_RELAY (object);

  switch (prop_id) {
    case PROP_LISTEN:
      g_free (r->listen);
      r->listen = g_value_dup_string (value);
      if (!r->listen)
        r->listen = g_strdup (DIODE_RELAY_DEFAULT_LISTEN);
      break;
    case PROP_IDENTITY:
      g_free (r->identity_path);
      r->identity_path = g_value_dup_string (value);
      break;
    case PROP_BUFFER_BYTES:
      r->buffer_bytes = g_value_get_uint64 (value);
      break;
    case PROP_BUFFER_SECONDS:
      r->buffer_seconds = g_value_get_uint (value);
      break;
    case PROP_MAX_WAIT_MS:
      r->max_wait_ms = g_value_get_uint (value);
      break;
    case PROP_HANDSHAKE_TIMEOUT_MS:
      r->handshake_ms = g_value_get_uint (value);
      break;
    case PROP_GRACE_MS:
      r->grace_ms = g_value_get_uint (value);
      break;
    case PROP_VIEWER_SOFT_LIMIT:
      r->soft_limit = g_value_get_uint64 (value);
      break;
    case PROP_VIEWER_HARD_LIMIT:
      r->hard_limit = g_value_get_uint64 (value);
      break;
    case PROP_WRITE_TIMEOUT_MS:
      r->write_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL_MS:
      r->stats_interval_ms = g_value_get_uint (value);
      break;
    case PROP_STATS_FILE:
      g_free (r->stats_file);
      r->stats_file = g_value_dup_string (value);
      break;
    case PROP_NAME_GRACE_MS:
      r->name_grace_ms = g_value_get_uint (value);
      break;
    case PROP_CONFIG:
      g_free (r->config_path);
      r->config_path = g_value_dup_string (value);
      break;
    case PROP_KEEPALIVE_MS:
      r->keepalive_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
diode_relay_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  DiodeRelay *r = DIODE_RELAY (object);

  switch (prop_id) {
    case PROP_LISTEN:
      g_value_set_string (value, r->listen);
      break;
    case PROP_IDENTITY:
      g_value_set_string (value, r->identity_path);
      break;
    case PROP_BUFFER_BYTES:
      g_value_set_uint64 (value, r->buffer_bytes);
      break;
    case PROP_BUFFER_SECONDS:
      g_value_set_uint (value, r->buffer_seconds);
      break;
    case PROP_MAX_WAIT_MS:
      g_value_set_uint (value, r->max_wait_ms);
      break;
    case PROP_HANDSHAKE_TIMEOUT_MS:
      g_value_set_uint (value, r->handshake_ms);
      break;
    case PROP_GRACE_MS:
      g_value_set_uint (value, r->grace_ms);
      break;
    case PROP_VIEWER_SOFT_LIMIT:
      g_value_set_uint64 (value, r->soft_limit);
      break;
    case PROP_VIEWER_HARD_LIMIT:
      g_value_set_uint64 (value, r->hard_limit);
      break;
    case PROP_WRITE_TIMEOUT_MS:
      g_value_set_uint (value, r->write_timeout_ms);
      break;
    case PROP_STATS_INTERVAL_MS:
      g_value_set_uint (value, r->stats_interval_ms);
      break;
    case PROP_STATS_FILE:
      g_value_set_string (value, r->stats_file);
      break;
    case PROP_NAME_GRACE_MS:
      g_value_set_uint (value, r->name_grace_ms);
      break;
    case PROP_CONFIG:
      g_value_set_string (value, r->config_path);
      break;
    case PROP_KEEPALIVE_MS:
      g_value_set_uint (value, r->keepalive_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
diode_relay_finalize (GObject * object)
{
  DiodeRelay *r = DIODE_RELAY (object);

  diode_relay_stop (r);
  g_hash_table_unref (r->conns);
  g_hash_table_unref (r->streams);
  g_ptr_array_unref (r->dead);
  g_clear_pointer (&r->identity, diode_identity_unref);
  g_free (r->bound_host);
  g_free (r->listen);
  g_free (r->identity_path);
  g_free (r->stats_file);
  g_free (r->stats_json);
  g_free (r->config_path);
  diode_relay_config_unref (r->config);
  g_free (r->rbuf);
  g_mutex_clear (&r->lock);
  G_OBJECT_CLASS (diode_relay_parent_class)->finalize (object);
}

static void
diode_relay_init (DiodeRelay * r)
{
  r->listen = g_strdup (DIODE_RELAY_DEFAULT_LISTEN);
  r->buffer_bytes = DIODE_RELAY_DEFAULT_BUFFER_BYTES;
  r->buffer_seconds = DIODE_RELAY_DEFAULT_BUFFER_SECONDS;
  r->max_wait_ms = DIODE_RELAY_DEFAULT_MAX_WAIT_MS;
  r->handshake_ms = DIODE_RELAY_DEFAULT_HANDSHAKE_MS;
  r->grace_ms = DIODE_RELAY_DEFAULT_GRACE_MS;
  r->soft_limit = DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT;
  r->hard_limit = DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT;
  r->write_timeout_ms = DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS;
  r->stats_interval_ms = DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS;
  r->name_grace_ms = DIODE_RELAY_DEFAULT_NAME_GRACE_MS;
  r->keepalive_ms = DIODE_RELAY_DEFAULT_KEEPALIVE_MS;
  r->config = diode_relay_config_new_empty ();
  r->epfd = -1;
  r->conns = g_hash_table_new (NULL, NULL);
  r->streams = g_hash_table_new (g_str_hash, g_str_equal);
  r->dead = g_ptr_array_new ();
  r->rbuf = g_malloc (READ_CHUNK);
  g_mutex_init (&r->lock);
}

static void
diode_relay_class_init (DiodeRelayClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  oc->set_property = diode_relay_set_property;
  oc->get_property = diode_relay_get_property;
  oc->finalize = diode_relay_finalize;

  g_object_class_install_property (oc, PROP_LISTEN,
      g_param_spec_string ("listen", "Listen", "HOST:PORT to listen on "
          "(port 0: any free port)", DIODE_RELAY_DEFAULT_LISTEN,
          f | G_PARAM_CONSTRUCT));
  g_object_class_install_property (oc, PROP_IDENTITY,
      g_param_spec_string ("identity", "Identity", "Key file (NULL: "
          "$XDG_CONFIG_HOME/diode/identity.pem)", NULL, f | G_PARAM_CONSTRUCT));
  g_object_class_install_property (oc, PROP_BUFFER_BYTES,
      g_param_spec_uint64 ("buffer-bytes", "Buffer bytes",
          "Most bytes of media kept per stream (whole chunks, 0 = no limit)",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_BUFFER_BYTES, f));
  g_object_class_install_property (oc, PROP_BUFFER_SECONDS,
      g_param_spec_uint ("buffer-seconds", "Buffer seconds",
          "Most seconds of media kept per stream (whole chunks, 0 = no limit)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_BUFFER_SECONDS, f));
  g_object_class_install_property (oc, PROP_MAX_WAIT_MS,
      g_param_spec_uint ("max-wait-ms", "Max wait",
          "Longest a SUBSCRIBE to an unpublished stream is held (ms)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_MAX_WAIT_MS, f));
  g_object_class_install_property (oc, PROP_HANDSHAKE_TIMEOUT_MS,
      g_param_spec_uint ("handshake-timeout-ms", "Handshake timeout",
          "Time a new connection has for TLS and HELLO (ms)",
          1, G_MAXUINT, DIODE_RELAY_DEFAULT_HANDSHAKE_MS, f));
  g_object_class_install_property (oc, PROP_GRACE_MS,
      g_param_spec_uint ("grace-ms", "Grace",
          "How long viewers wait for a publisher that dropped without EOS (ms)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_GRACE_MS, f));
  g_object_class_install_property (oc, PROP_VIEWER_SOFT_LIMIT,
      g_param_spec_uint64 ("viewer-soft-limit", "Viewer soft limit",
          "Backlog (bytes) past which a viewer skips to the latest keyframe",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT, f));
  g_object_class_install_property (oc, PROP_VIEWER_HARD_LIMIT,
      g_param_spec_uint64 ("viewer-hard-limit", "Viewer hard limit",
          "Backlog (bytes) past which a viewer is disconnected",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT, f));
  g_object_class_install_property (oc, PROP_WRITE_TIMEOUT_MS,
      g_param_spec_uint ("write-timeout-ms", "Write timeout",
          "A viewer whose socket accepts nothing this long is disconnected",
          1, G_MAXUINT, DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS, f));
  g_object_class_install_property (oc, PROP_STATS_INTERVAL_MS,
      g_param_spec_uint ("stats-interval-ms", "Stats interval",
          "How often stats are logged and snapshot (ms, 0 = never)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS, f));
  g_object_class_install_property (oc, PROP_STATS_FILE,
      g_param_spec_string ("stats-file", "Stats file",
          "JSON file rewritten with every snapshot (NULL: none)", NULL, f));
  g_object_class_install_property (oc, PROP_NAME_GRACE_MS,
      g_param_spec_uint ("name-grace-ms", "Name grace",
          "How long a stream name stays reserved for its publisher after it "
          "stops (ms)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_NAME_GRACE_MS, f));
  g_object_class_install_property (oc, PROP_KEEPALIVE_MS,
      g_param_spec_uint ("keepalive-ms", "Keepalive",
          "Both ends send something at least this often; silence for three "
          "times this closes the connection (ms, 0 = off)", 0, 60000,
          DIODE_RELAY_DEFAULT_KEEPALIVE_MS, f));
  g_object_class_install_property (oc, PROP_CONFIG,
      g_param_spec_string ("config", "Config",
          "Operator configuration file: fleets, reserved names, publisher "
          "list (NULL: none)", NULL, f));
}
