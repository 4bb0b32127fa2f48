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

/* New --buffer-bytes / --buffer-seconds: every open stream follows. */
void
relay_apply_buffer_limits (DiodeRelay * r)
{
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    diode_ring_set_limits (((Stream *) v)->ring, r->buffer_bytes,
        (guint64) r->buffer_seconds * G_TIME_SPAN_SECOND * 1000);
}

void
stream_free (Stream * s)
{
  /* what the ring holds open of a recorded stream goes to the store */
  relay_record_detach (s);
  diode_ring_free (s->ring);
  g_ptr_array_unref (s->viewers);
  g_ptr_array_unref (s->waiting);
  g_clear_pointer (&s->caps_parsed, g_bytes_unref);
  g_free (s->owner);
  g_free (s->fleet);
  if (s->allow)
    g_hash_table_unref (s->allow);
  if (s->path)
    g_ptr_array_unref (s->path);
  g_strfreev (s->req_path);
  g_free (s->push_shunned);
  g_free (s->name);
  g_free (s);
}

/* Forget a stream nobody publishes or watches any more. A stream whose
 * publisher vanished without EOS is kept for the grace period so a
 * reconnecting publisher finds its viewers still there. */
/* A new stream counts against the address of the connection that made it,
 * for as long as it lives (docs/security.md section 9). */
static void
stream_charge (Conn * c, Stream * s)
{
  if (s->charged || !c->addr || conn_trusted_relay (c))
    return;
  s->charged = c->addr;
  c->addr->streams++;
}

void
stream_maybe_free (DiodeRelay * r, Stream * s)
{
  gint64 now = g_get_monotonic_time ();

  if ((s->publisher && s->source != SOURCE_PUSHED) || s->viewers->len
      || s->waiting->len || s->pushes)
    return;
  if ((s->pull || (s->source == SOURCE_PUSHED && (s->publisher
                  || s->push_pending))) && !s->eos) {
    /* Nobody left on a pulled stream: its pull stays --link-linger, so a
     * viewer zapping back finds it warm. */
    if (!s->linger_until) {
      s->linger_until = now + (gint64) r->link_linger_ms * 1000;
      g_info ("'%s': no consumer left; its pull closes in %u ms", s->name,
          r->link_linger_ms);
    }
    if (now < s->linger_until)
      return;
  }
  pull_stop (s, "no consumer left");
  if (s->source == SOURCE_PUSHED && s->publisher) {
    /* The parent ends a push it no longer needs by closing it. */
    Conn *p = s->publisher;

    relay_log (r, RELAY_LOG_LINK, "closing the push of '%s' from %s: no "
        "consumer left", s->name, p->address);
    g_mutex_lock (&r->lock);
    s->publisher = NULL;
    g_mutex_unlock (&r->lock);
    p->publishing = FALSE;
    p->stream = NULL;
    conn_close (p, NULL);
  }
  s->push_pending = FALSE;
  if (!s->eos && s->grace_until && now < s->grace_until)
    return;
  /* Keep the name's owner on record through its grace period. */
  if (s->owner && now < s->owner_until)
    return;
  g_debug ("stream '%s' removed", s->name);
  g_mutex_lock (&r->lock);
  g_hash_table_remove (r->streams, s->name);
  g_mutex_unlock (&r->lock);
  relay_addr_unref_stream (r, s->charged);
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

  /* many viewers: the writes spread over the I/O threads */
  if (n && relay_fanout_spread (((Conn *) g_ptr_array_index (s->viewers,
                  0))->relay, s->viewers, start))
    return;
  for (i = 0; i < n; i++) {
    Conn *v = g_ptr_array_index (s->viewers, (start + i) % n);

    /* Viewers blocked on a full socket resume from EPOLLOUT. */
    if (!v->dead && !(v->events & EPOLLOUT))
      conn_flush (v);
  }
}

/* The frames a publisher's read pushed go out now, to every viewer at
 * once: the end of conn_process, so no frame waits for the next read. */
void
stream_fanout_due (Conn * c)
{
  if (!c->fanout_due)
    return;
  c->fanout_due = FALSE;
  if (c->stream)
    stream_fanout (c->stream);
}

/* Viewers of an ended stream that have been sent everything up to its EOS
 * let go of it, so the name can be forgotten (docs/protocol.md section 8,
 * "after EOS"). Their connections stay open: nothing more will come. */
void
stream_release_finished_viewers (DiodeRelay * r, Stream * s)
{
  guint i = 0;

  while (i < s->viewers->len) {
    Conn *v = g_ptr_array_index (s->viewers, i);

    if (v->dead || v->out || diode_cursor_backlog (&v->cursor, s->ring)) {
      i++;
      continue;
    }
    g_mutex_lock (&r->lock);
    g_ptr_array_remove_index (s->viewers, i);
    g_mutex_unlock (&r->lock);
    stream_viewer_left (s, v);
    v->viewing = FALSE;
    v->stream = NULL;
    diode_cursor_clear (&v->cursor);
  }
}

/* ------------------------------------------------------------------------ */
/* protocol handling */

/* A SUBSCRIBE resuming past the last seq held, for a stream that is live
 * here (a source attached, not ended): the subscriber is caught up (or
 * ahead of us, after a fail-over), so it joins at the tail rather than at
 * the latest keyframe, which would repeat a GOP (docs/protocol.md section
 * 8). A stream not held yet waits for a keyframe, as any join. */
static gboolean
stream_resumes_at_tail (Stream * s, guint64 start_seq)
{
  guint64 last = diode_ring_get_last_seq (s->ring);
  DiodeChunk *at;
  guint index;

  /* the last frame must still be buffered (a new publisher's session
   * empties the ring but the sequence goes on) */
  return start_seq && last && start_seq > last && !s->eos
      && (s->publisher || s->pull || s->pull_next)
      && diode_ring_find_seq (s->ring, last, &at, &index);
}

void
stream_attach_conn (Conn * c, Stream * s)
{
  DiodeRelay *r = c->relay;
  guint64 first = 0;
  GError *err = NULL;

  g_mutex_lock (&r->lock);
  g_ptr_array_remove (s->waiting, c);
  g_ptr_array_add (s->viewers, c);
  g_mutex_unlock (&r->lock);
  stream_viewer_added (s, c);
  c->waiting = FALSE;
  c->viewing = TRUE;
  c->stream = s;

  diode_cursor_init (&c->cursor);
  if (c->start_seq && diode_cursor_seek_seq (&c->cursor, s->ring, c->start_seq)) {
    first = c->start_seq;
  } else if (c->join_tail && diode_cursor_seek_tail (&c->cursor, s->ring)) {
    /* It has everything we hold (a puller or viewer failing over to us):
     * the next frame is its next one, not a GOP again (section 8). */
    first = diode_ring_get_last_seq (s->ring) + 1;
  } else {
    DiodeChunk *join;

    diode_cursor_join (&c->cursor, s->ring);
    join = c->cursor.chunk;
    first = join ? join->first_seq : 0;
  }
  c->join_tail = FALSE;
  /* Naming the publisher lets a pinned viewer check it itself. A relay
   * also learns the policy it must enforce and the path. A push (our own
   * connection to the parent) got PUBLISH_OK: it just starts. */
  if (c->outgoing) {
    g_info ("push of '%s' to %s starts at seq %" G_GUINT64_FORMAT, s->name,
        c->address, first);
    conn_flush (c);
    return;
  } else {
    gchar **path = stream_path_out (r, s);
    gchar **allow = stream_allow_list (s);
    DiodeSubscribeOkArgs a = { 0 };
    DiodeStoreMeta meta;
    gboolean stored = relay_store_meta (r, s->name, &meta);
    DiodeChunk *at = c->cursor.chunk;

    /* the v1/v2 layouts for older peers; v3 adds state and start time
     * (the publisher time of the chunk it starts at, when it starts at
     * one) */
    a.stream = s->name;
    a.first_seq = first;
    a.publisher = s->owner;
    a.access = s->access;
    a.fleet = s->fleet;
    a.allow = (const gchar * const *) allow;
    a.path = (const gchar * const *) path;
    a.stream_state = relay_stream_state (r, s, stored ? &meta : NULL);
    a.start_time = (at && at->first_seq == first) ?
        at->start_time : DIODE_TIME_NONE;
    /* The live edge: the newest frame held now, or for a stream pulled
     * from an upstream that is still sending its first GOP, the upstream's
     * when it answered. A joiner decodes from first_seq up to it without
     * showing those (diodesrc join=live, docs/protocol.md section 18). */
    a.live_seq = s->eos ? 0 : MAX (diode_ring_get_last_seq (s->ring),
        s->upstream_live_seq);
    conn_queue (c, diode_msg_encode_subscribe_ok_args (&a,
            diode_session_get_version (c->session),
            diode_session_get_role (c->session)));
    diode_store_meta_clear (&meta);
    g_free (allow);
    g_strfreev (path);
  }
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

  /* A relay link needs version 2 (its paths, policies, LINK...): an older
   * relay is told so rather than served as a viewer. */
  if (!diode_session_check_link_version (c->session, &err)) {
    relay_log (c->relay, RELAY_LOG_LINK, "refused relay %s (%s): %s",
        c->address, c->peer, err->message);
    conn_send_error (c, DIODE_ERR_VERSION, err->message);
    g_clear_error (&err);
    return;
  }
  /* version 4: the v4 block says where the relay answers STUN (17.1) */
  conn_queue (c, diode_msg_encode_welcome_v (version, c->relay->keepalive_ms,
          RELAY_AGENT, version >= DIODE_PROTOCOL_VERSION_DIRECT ?
          c->relay->stun_port : 0));
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

/* What a subscriber is, for log lines: a viewer or a downstream relay. */
static const gchar *
conn_what (Conn * c)
{
  return diode_session_get_role (c->session) == DIODE_ROLE_RELAY ? "relay" :
      "viewer";
}

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

  relay_log (c->relay, RELAY_LOG_REFUSED, "cutting off viewer %s (%s): %s", c->address, c->peer, why);
  relay_direct_viewer_refused (c);
  g_mutex_lock (&r->lock);
  if (g_ptr_array_remove (s->viewers, c))
    stream_viewer_left (s, c);
  g_ptr_array_remove (s->waiting, c);
  g_mutex_unlock (&r->lock);
  c->viewing = c->waiting = FALSE;
  c->stream = NULL;
  conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, why);
}

/* Check every viewer of @s again (policy or fleets changed). */
void
stream_recheck_viewers (DiodeRelay * r, Stream * s)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *who = g_ptr_array_new ();
  guint i;

  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);
    gchar *why = NULL;

    if (!v->dead && !conn_allowed (v, s, &why)) {
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

/* A stream can be joined once it holds a keyframe: docs/protocol.md
 * section 8 promises that the first MEDIA after SUBSCRIBE_OK is one. */
static gboolean
stream_joinable (Stream * s)
{
  DiodeChunk *join = diode_ring_join_chunk (s->ring);

  return join && join->keyframe;
}

/* Held subscribers of @s: refuse those the policy does not allow, attach
 * the others if the stream can be joined, leave them waiting otherwise. */
void
stream_attach_waiting (DiodeRelay * r, Stream * s)
{
  GPtrArray *held;
  guint i;

  if (!s->waiting->len)
    return;
  held = g_ptr_array_copy (s->waiting, NULL, NULL);
  for (i = 0; i < held->len; i++) {
    Conn *w = g_ptr_array_index (held, i);
    gchar *why = NULL;

    if (w->dead || !w->waiting)
      continue;
    if (!conn_allowed (w, s, &why)
        || !viewer_pin_allows (w, s, s->owner, &why)) {
      g_mutex_lock (&r->lock);
      g_ptr_array_remove (s->waiting, w);
      g_mutex_unlock (&r->lock);
      w->waiting = FALSE;
      w->stream = NULL;
      conn_refuse (w, DIODE_ERR_NOT_AUTHORIZED, conn_what (w), why);
      g_free (why);
      continue;
    }
    if (stream_joinable (s))
      stream_attach_conn (w, s);
  }
  g_ptr_array_unref (held);
}

/* A start in time that found nothing stored (retention took it since the
 * SUBSCRIBE): the live stream if there is one to join, else NOT_STORED. */
void
relay_subscribe_live (Conn * c, Stream * s, const gchar * name)
{
  gchar *text, *shown;

  if (s && stream_joinable (s)) {
    c->start_seq = 0;
    stream_attach_conn (c, s);
    return;
  }
  /* the name as the viewer asked for it, escaped like every name we echo */
  shown = diode_name_escape (s ? s->name : name);
  text = g_strdup_printf ("nothing of '%s' is stored on this relay any more",
      shown);
  conn_send_error (c, DIODE_ERR_NOT_STORED, text);
  g_free (shown);
  g_free (text);
}

/* A well-formed name the relay refuses (diode-name.h): ERROR 103. */
static gboolean
name_acceptable (Conn * c, const gchar * name, const gchar * what)
{
  GError *err = NULL;
  gchar *key = diode_name_key (name, &err);
  gchar *shown, *why;

  if (key) {
    g_free (key);
    return TRUE;
  }
  shown = diode_name_escape (name);
  why = g_strdup_printf ("stream name '%s' refused: %s", shown, err->message);
  conn_refuse (c, DIODE_ERR_BAD_NAME, what, why);
  g_free (why);
  g_free (shown);
  g_error_free (err);
  return FALSE;
}

static void
handle_publish (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s;
  GError *err = NULL;
  gchar *why = NULL;
  GPtrArray *cut, *cut_why;
  guint i;
  DiodeStoreState store_state;

  if (!name_acceptable (c, m->stream, "publisher"))
    return;
  /* A relay publishes only what it was asked to push; one that keeps
   * pushing what nobody asked for is closed like a refused publisher. */
  if (conn_is_link (c) && push_accept (c, m)) {
    if (!c->publishing && !c->dead
        && ++c->publish_refusals >= MAX_PUBLISH_REFUSALS) {
      relay_log (r, RELAY_LOG_REFUSED, "closing relay %s (%s) after %u "
          "refused PUBLISH", c->address, c->peer, c->publish_refusals);
      conn_fail (c, DIODE_ERR_NOT_AUTHORIZED, "too many refused PUBLISH; "
          "closing the connection");
    }
    return;
  }
  s = stream_lookup (r, m->stream);
  /* Checked before anything costly (the allowlist, viewers rechecked);
   * a connection refused again and again is closed. */
  if (!may_publish (c, s, m->stream, &why)
      || !relay_record_may_publish (c, m->stream, &why)) {
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

    relay_log (r, RELAY_LOG_STREAM, "%s takes over '%s' from its older connection %s",
        c->address, s->name, old->peer);
    g_mutex_lock (&r->lock);
    s->publisher = NULL;
    g_mutex_unlock (&r->lock);
    old->publishing = FALSE;
    old->stream = NULL;
    relay_direct_publisher_end (old, "publisher replaced");
    /* NAME_IN_USE, not SHUTDOWN: the old side must not reconnect and take
     * the name back, or two copies of one camera would fight forever. */
    conn_fail (old, DIODE_ERR_NAME_IN_USE, "replaced by a newer connection "
        "of the same publisher");
  }

  s = stream_get (r, m->stream);
  stream_charge (c, s);
  /* The owner publishes here now: the network's copy is no longer
   * needed (the sequence goes on from what the pull delivered). */
  pull_stop (s, "its owner publishes it on this relay now");
  s->source = SOURCE_LOCAL;
  s->push_pending = FALSE;
  s->push_child = NULL;
  s->linger_until = 0;
  if (s->path)
    g_ptr_array_set_size (s->path, 0);
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
  c->pubflags = m->pubflags;
  store_state = relay_record_publish (r, s, c, m->pubflags);

  /* The sequence goes on where the last publisher of this name left it, so
   * viewers that stay see one increasing sequence; a recorded name goes on
   * after what its store holds (a restarted relay has an empty ring). */
  conn_queue (c, diode_msg_encode_publish_ok_v (m->stream,
          MAX (diode_ring_get_last_seq (s->ring) + 1,
              relay_record_next_seq (r, m->stream)), store_state,
          diode_session_get_version (c->session)));
  if (!diode_session_sent (c->session, DIODE_MSG_PUBLISH_OK, 0, &err)) {
    g_warning ("session refused PUBLISH_OK: %s", err->message);
    g_clear_error (&err);
  }
  relay_log (r, RELAY_LOG_STREAM, "%s publishes '%s' (%s%s%s, from %s%s)", c->address, s->name,
      diode_access_name (s->access), *s->fleet ? ", fleet " : "", s->fleet,
      c->peer, store_state == DIODE_STORE_RECORDING ? ", recorded" :
      store_state == DIODE_STORE_UNAVAILABLE ? ", not recorded: store "
      "unavailable" : "");
  conn_flush (c);
  /* The tree learns where it is (ANNOUNCE to the upstream). */
  directory_local_changed (r, s, TRUE);

  /* Viewers still attached from an earlier run, and subscribers that were
   * waiting for this name: each is checked against the new policy now.
   * Waiting ones are attached at the first keyframe (handle_media). */
  stream_recheck_viewers (r, s);
  /* Viewers that pinned another publisher: the name changed hands after
   * its grace, and they must not be served the newcomer. */
  cut = g_ptr_array_new ();
  cut_why = g_ptr_array_new_with_free_func (g_free);
  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);

    if (!v->dead && !viewer_pin_allows (v, s, s->owner, &why)) {
      g_ptr_array_add (cut, v);
      g_ptr_array_add (cut_why, why);
      why = NULL;
    }
  }
  for (i = 0; i < cut->len; i++)
    viewer_cut_off (cut->pdata[i], cut_why->pdata[i]);
  g_ptr_array_unref (cut);
  g_ptr_array_unref (cut_why);
  stream_attach_waiting (r, s);
  for (i = 0; i < s->viewers->len; i++)
    conn_flush (g_ptr_array_index (s->viewers, i));
}

static void
handle_policy (Conn * c, DiodeMsg * m)
{
  Stream *s = c->stream;

  stream_set_policy (s, m);
  relay_log (c->relay, RELAY_LOG_STREAM, "'%s' is now %s%s%s (%u addresses allowed)", s->name,
      diode_access_name (s->access), *s->fleet ? ", fleet " : "", s->fleet,
      g_hash_table_size (s->allow));
  stream_recheck_viewers (c->relay, s);
  stream_forward_policy (c->relay, s);
  /* a recording keeps the policy in force (its meta) */
  relay_record_policy (c->relay, s);
  /* the tree learns the new policy too (ANNOUNCE again) */
  if (s->source == SOURCE_LOCAL)
    directory_local_changed (c->relay, s, TRUE);
}

static void
handle_subscribe (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  Stream *s;
  guint wait = MIN (m->wait_ms, r->max_wait_ms);
  DiodeChunk *at;
  guint index;

  if (!name_acceptable (c, m->stream, conn_what (c)))
    return;
  /* A relay's request that went through this relay already: a cycle. */
  if (conn_is_link (c) && m->path && (diode_msg_path_contains ((const gchar
                  * const *) m->path, diode_relay_get_address (r))
          || diode_msg_path_length ((const gchar * const *) m->path) >=
          DIODE_MAX_PATH)) {
    gchar *joined = g_strjoinv (",", m->path);
    gchar *why = g_strdup_printf ("SUBSCRIBE for '%s' would close a cycle "
        "or pass %u relays: it came through %s, and this relay is %s",
        m->stream, DIODE_MAX_PATH, joined, diode_relay_get_address (r));

    relay_log (r, RELAY_LOG_LINK, "refused relay %s (%s): %s", c->address,
        c->peer, why);
    conn_send_error (c, DIODE_ERR_LOOP, why);
    g_free (why);
    g_free (joined);
    return;
  }
  s = stream_lookup (r, m->stream);
  c->start_seq = m->start_seq;
  c->replay_view = m->start_mode != DIODE_START_LIVE;
  /* the codec gives a lowercase address or NULL */
  g_strlcpy (c->pin, m->publisher ? m->publisher : "", sizeof (c->pin));
  /* Checked on every SUBSCRIBE, before a byte of the stream is sent; a
   * subscriber waiting for an unpublished name is checked when it appears. */
  if (s && s->has_policy) {
    gchar *why = NULL;

    if (!conn_allowed (c, s, &why)) {
      conn_refuse (c, DIODE_ERR_NOT_AUTHORIZED, conn_what (c), why);
      g_free (why);
      return;
    }
  }
  /* A pinned viewer is refused at once when the name is someone else's. */
  if (s && (s->publisher || diode_ring_get_n_chunks (s->ring))) {
    gchar *why = NULL;

    if (!viewer_pin_allows (c, s, s->owner, &why)) {
      conn_refuse (c, DIODE_ERR_NOT_AUTHORIZED, conn_what (c), why);
      g_free (why);
      return;
    }
  }
  /* Version 3: a start in time (or a finished recording) is served from
   * the store by a replay cursor (diode-relay-replay.c); without a store
   * the start is found in the ring and taken as start_seq below. */
  if (replay_subscribe (c, m, s))
    return;
  /* Resume where the viewer left off if that is still held, or after the
   * last seq of a live stream when it has that already, else start at the
   * latest keyframe; with no keyframe yet, wait for one (section 8). The
   * tail is decided here, once: a subscriber held for a stream not carried
   * yet waits for a keyframe and joins there, whatever it asked. */
  c->join_tail = s && stream_resumes_at_tail (s, c->start_seq);
  if (s && (stream_joinable (s) || c->join_tail || (c->start_seq
              && diode_ring_find_seq (s->ring, c->start_seq, &at, &index)))) {
    s->linger_until = 0;
    stream_attach_conn (c, s);
    return;
  }
  if (wait == 0) {
    gchar *text = (s && s->publisher) ?
        g_strdup_printf ("stream '%s' has no keyframe yet", m->stream) :
        g_strdup_printf ("stream '%s' is not published on this relay",
        m->stream);
    conn_send_error (c, DIODE_ERR_NOT_FOUND, text);
    g_free (text);
    return;
  }
  if (!s && !relay_may_add_stream (c))
    return;
  s = stream_get (r, m->stream);
  stream_charge (c, s);
  g_mutex_lock (&r->lock);
  g_ptr_array_add (s->waiting, c);
  g_mutex_unlock (&r->lock);
  c->stream = s;
  c->waiting = TRUE;
  c->wait_until = g_get_monotonic_time () + (gint64) wait * 1000;
  c->wait_ms = wait;
  s->linger_until = 0;
  g_info ("viewer %s waits up to %u ms for '%s'", c->address, wait, s->name);
  /* Not carried here: ask the network (one pull per stream). The first
   * downstream relay's path goes along (the loop check upstream). */
  if (!s->pull && conn_is_link (c) && m->path) {
    g_strfreev (s->req_path);
    s->req_path = g_strdupv (m->path);
  }
  pull_maybe_start (r, s);
}

static void
handle_media (Conn * c, DiodeMsg * m)
{
  Stream *s = c->stream;
  guint64 t = m->dts != DIODE_TIME_NONE ? m->dts : m->pts;

  c->bytes_in += g_bytes_get_size (m->frame);
  s->bytes_in += g_bytes_get_size (m->frame);
  s->frames_in++;
  if (!s->media_since)
    s->media_since = g_get_monotonic_time ();
  /* A child's push may start before what we hold (its latest keyframe):
   * the overlap is not news, and not an error. */
  if (conn_is_link (c) && ((m->type == DIODE_MSG_MEDIA
              && m->seq <= diode_ring_get_last_seq (s->ring))
          || (m->type == DIODE_MSG_CAPS && diode_ring_get_caps (s->ring)
              && g_bytes_equal (diode_ring_get_caps (s->ring), m->frame)))) {
    if (m->type == DIODE_MSG_CAPS)
      c->caps_seen = TRUE;
    return;
  }
  if (m->type == DIODE_MSG_MEDIA && m->seq <= diode_ring_get_last_seq (s->ring)) {
    gchar *text = g_strdup_printf ("MEDIA seq %" G_GUINT64_FORMAT " is not "
        "after the stream's last seq %" G_GUINT64_FORMAT " (PUBLISH_OK gave "
        "the next one)", m->seq, diode_ring_get_last_seq (s->ring));
    conn_send_error (c, DIODE_ERR_PROTOCOL, text);
    g_free (text);
    return;
  }
  if (m->type == DIODE_MSG_MEDIA && !c->caps_seen) {
    /* Section 6: CAPS comes before the first MEDIA of a publish session,
     * or joiners would get buffers they cannot interpret. */
    conn_send_error (c, DIODE_ERR_PROTOCOL, "MEDIA before CAPS");
    return;
  }
  if (m->type == DIODE_MSG_CAPS) {
    c->caps_seen = TRUE;
    diode_ring_push_caps (s->ring, m->frame);
  } else if (m->type == DIODE_MSG_MEDIA) {
    GError *err = NULL;

    /* the ring refuses a stream header set past its cap */
    if (!diode_ring_push_media (s->ring, m->frame, m->seq, t,
            (m->flags & DIODE_MEDIA_KEYFRAME) != 0,
            (m->flags & DIODE_MEDIA_STREAMHEADER) != 0, &err)) {
      conn_send_error (c, DIODE_ERR_PROTOCOL, err->message);
      g_error_free (err);
      return;
    }
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
    relay_log (c->relay, RELAY_LOG_STREAM, "'%s' reached end of stream", s->name);
    relay_direct_publisher_end (c, "end of stream");
    relay_direct_stream_eos (s, m->frame);
    if (s->source == SOURCE_LOCAL)
      directory_local_changed (c->relay, s, FALSE);
    /* a child's push is over: the parent ends it by closing */
    if (s->source == SOURCE_PUSHED && c->outgoing == FALSE
        && conn_is_link (c))
      conn_close (c, "push reached end of stream");
  }
  /* a chunk the ring closed goes to the store (and at EOS the open one) */
  if (s->rec)
    relay_record_frame (c->relay, s, m->type == DIODE_MSG_EOS);
  if (m->type == DIODE_MSG_MEDIA && (m->flags & DIODE_MEDIA_KEYFRAME)
      && !(m->flags & DIODE_MEDIA_STREAMHEADER))
    stream_attach_waiting (c->relay, s);
  if (!s->eos) {
    /* once at the end of this read (conn_process): a viewer gets the
     * frames of one read in one write, not one wakeup each */
    c->fanout_due = TRUE;
    return;
  }
  c->fanout_due = FALSE;
  stream_fanout (s);
  stream_maybe_free (c->relay, s);
}

static void
handle_message (Conn * c, DiodeMsg * m)
{
  if (c->outgoing) {
    link_handle_message (c, m);
    return;
  }
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
    case DIODE_MSG_RANGE:
      if (name_acceptable (c, m->stream, conn_what (c)))
        handle_range (c, m);
      break;
    case DIODE_MSG_FETCH:
      if (name_acceptable (c, m->stream, conn_what (c)))
        handle_fetch (c, m);
      break;
    case DIODE_MSG_LIST:          /* appended to version 4 */
      handle_list (c, m);
      break;
    case DIODE_MSG_LINK:
      directory_handle_link (c);
      break;
    case DIODE_MSG_ANNOUNCE:
      directory_handle_announce (c, m);
      break;
    case DIODE_MSG_SIGNAL:        /* version 4: direct paths */
      relay_direct_signal (c, m);
      break;
    case DIODE_MSG_PATH:
      relay_direct_path (c, m);
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
      break;
    if (res == DIODE_SESSION_ERROR) {
      gchar *text = relay_log_text (err->message);

      relay_log (c->relay, RELAY_LOG_PROTOCOL, "protocol error from %s (%s): "
          "%s", c->peer, c->address, text);
      g_free (text);
      conn_send_error (c, err->domain == DIODE_PROTOCOL_ERROR ? err->code :
          DIODE_ERR_PROTOCOL, err->message);
      g_clear_error (&err);
      break;
    }
    handle_message (c, &m);
    diode_msg_clear (&m);
  }
  stream_fanout_due (c);
}

gboolean
conn_is_link (Conn * c)
{
  return diode_msg_is_link_dialect (diode_session_get_version (c->session),
      diode_session_get_role (c->session));
}

gchar **
stream_path_out (DiodeRelay * r, Stream * s)
{
  GPtrArray *out = g_ptr_array_new ();
  guint i;

  for (i = 0; s->path && i < s->path->len; i++)
    g_ptr_array_add (out, g_strdup (g_ptr_array_index (s->path, i)));
  if (out->len < DIODE_MAX_PATH)
    g_ptr_array_add (out, g_ascii_strdown (diode_relay_get_address (r), -1));
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

void
stream_forward_policy (DiodeRelay * r, Stream * s)
{
  gchar **allow = stream_allow_list (s);
  guint i;

  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);
    GBytes *f;
    GError *err = NULL;

    if (v->dead || !conn_is_link (v))
      continue;
    f = diode_msg_encode_policy (s->access, s->fleet,
        (const gchar * const *) allow);
    if (!f)
      continue;
    if (!diode_session_sent (v->session, DIODE_MSG_POLICY, 0, &err)) {
      g_clear_error (&err);
      g_bytes_unref (f);
      continue;
    }
    conn_queue (v, f);
    conn_flush (v);
  }
  g_free (allow);
}

/* A SUBSCRIBE handled again (@frame as received): other relays had no
 * recording of it, so the live path decides (diode-relay-replay.c). */
void
relay_subscribe_retry (Conn * c, GBytes * frame)
{
  DiodeMsg m = { 0 };
  GError *err = NULL;

  if (c->dead)
    return;
  if (!diode_msg_parse_v (frame, diode_session_get_version (c->session),
          diode_session_get_role (c->session), &m, &err)) {
    conn_fail (c, DIODE_ERR_INTERNAL, err->message);
    g_clear_error (&err);
    return;
  }
  c->no_remote = TRUE;
  handle_subscribe (c, &m);
  /* for this SUBSCRIBE only: a later one may look elsewhere again */
  c->no_remote = FALSE;
  diode_msg_clear (&m);
}
