/* gst-diode — the relay's connections: accept, TLS, read, write, close
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything that touches a client socket: the epoll source, accepting,
 * the TLS handshake, reading bytes into the connection's DiodeSession,
 * writing queued control frames and the viewer's cursor, and closing.
 * What the bytes mean is diode-relay-protocol.c's job. Runs on the relay's
 * I/O thread.
 *
 * It also enforces the limits on connections (docs/security.md, "Resource
 * limits"): caps on connections in total and per source address, a bound on
 * the control replies queued for a peer (a peer that does not read its
 * replies is not read either), and a budget of bytes and frames per
 * connection and loop turn, so one busy peer cannot starve the others.
 */
#define _GNU_SOURCE   /* accept4 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-web.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

/* ------------------------------------------------------------------------ */
/* epoll plumbing */

void
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

void
conn_want_write (Conn * c, gboolean want)
{
  /* A closing peer, or one whose replies back up, is not read. */
  guint32 ev = (c->phase == CONN_CLOSING || c->rx_paused
      || c->store_paused) ? 0 : EPOLLIN;
  if (want)
    ev |= EPOLLOUT;
  conn_set_events (c, ev);
}

/* ------------------------------------------------------------------------ */
/* sending */

/* Work is left for the next loop turn (its budget ran out, or reading was
 * resumed while GnuTLS or the session may hold whole records): epoll will
 * not say so, so the io source dispatches again right away. */
void
conn_mark_ready (Conn * c)
{
  DiodeRelay *r = c->relay;

  if (c->ready || c->dead)
    return;
  c->ready = TRUE;
  g_ptr_array_add (r->ready, c);
  g_source_set_ready_time (r->io_source, 0);
}

void
conn_queue (Conn * c, GBytes * frame)
{
  /* Bounded by the caller: replies are only made while the peer is read,
   * and it is not read while this is over max_reply_bytes. */
  c->ctrl_bytes += g_bytes_get_size (frame) + CTRL_FRAME_OVERHEAD;
  g_queue_push_tail (&c->ctrl, frame);
}

/* May conn_process() take one more frame from this peer now? Not while
 * the replies it already asked for back up (it is not read until they
 * drain; relay_tick closes it if they never do), nor past its budget for
 * this loop turn. */
gboolean
conn_take_frame (Conn * c)
{
  DiodeRelay *r = c->relay;

  if (c->dead || c->phase != CONN_OPEN || c->rx_paused || c->store_paused)
    return FALSE;
  if (r->max_reply_bytes && c->ctrl_bytes >= r->max_reply_bytes) {
    c->rx_paused = TRUE;
    g_debug ("%s (%s) reads none of its %" G_GSIZE_FORMAT " bytes of "
        "replies; not reading it until they drain", c->peer, c->address,
        c->ctrl_bytes);
    conn_want_write (c, TRUE);
    return FALSE;
  }
  if (c->frame_budget == 0)
    return FALSE;
  c->frame_budget--;
  return TRUE;
}

/* An upload's publisher is not read while the store's write queue is
 * full (diode-relay-record.c): the store paces it, nothing is dropped. */
void
conn_set_store_paused (Conn * c, gboolean paused)
{
  if (c->store_paused == paused)
    return;
  c->store_paused = paused;
  if (c->dead)
    return;
  conn_want_write (c, (c->events & EPOLLOUT) != 0);
  /* whole frames may wait in GnuTLS or the session: no EPOLLIN for them */
  if (!paused)
    conn_mark_ready (c);
}

/* relay_tick: a peer whose replies stayed backed up for the write timeout
 * is closed. TRUE if it was. */
gboolean
conn_check_replies (Conn * c, gint64 now)
{
  DiodeRelay *r = c->relay;
  gchar *text;

  if (!c->rx_paused || c->dead || c->phase != CONN_OPEN
      || now - c->last_progress <= (gint64) r->write_timeout_ms * 1000)
    return FALSE;
  text = g_strdup_printf ("read none of its replies for %u ms (%"
      G_GSIZE_FORMAT " bytes queued, limit %" G_GUINT64_FORMAT ")",
      r->write_timeout_ms, c->ctrl_bytes, r->max_reply_bytes);
  relay_log (r, RELAY_LOG_SLOW, "closing %s (%s): %s", c->peer,
      c->address ? c->address : "no identity", text);
  /* Queued after the replies it does not read: the CLOSING deadline
   * (CLOSE_FLUSH_MS) closes it if it never gets there. */
  conn_fail (c, DIODE_ERR_SLOW_VIEWER, text);
  g_free (text);
  return TRUE;
}

static void conn_linger (Conn * c);
static void conn_drop_partial (Conn * c);

void
conn_send_error (Conn * c, DiodeErrorCode code, const gchar * text)
{
  GError *err = NULL;

  /* Already said goodbye: nothing more can be sent. */
  if (c->dead || c->phase == CONN_LINGER)
    return;
  conn_queue (c, diode_msg_encode_error (code, text));
  if (!diode_session_sent (c->session, DIODE_MSG_ERROR, code, &err))
    g_clear_error (&err);
  if (diode_error_code_is_fatal (code) && c->phase != CONN_CLOSING) {
    /* Stop listening to the peer; give it a moment to read why. */
    c->phase = CONN_CLOSING;
    conn_drop_partial (c);
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
  }
  conn_flush (c);
}

/* Say why, then close, whatever the code (1xx codes alone leave the
 * connection open). */
void
conn_fail (Conn * c, DiodeErrorCode code, const gchar * text)
{
  conn_send_error (c, code, text);
  if (!c->dead && c->phase != CONN_CLOSING && c->phase != CONN_LINGER) {
    c->phase = CONN_CLOSING;
    conn_drop_partial (c);
    c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
    conn_want_write (c, TRUE);
    conn_flush (c);
  }
}

/* The viewer's next ring frame (a new ref), or NULL when it is caught up.
 * Slow viewer: rather than fall further behind, it drops what it has not
 * read and starts again at the latest keyframe; its diodesrc sees the seq
 * gap and flags DISCONT. */
static void
log_behind (Conn * c, guint64 backlog)
{
  relay_log (c->relay, RELAY_LOG_SLOW, "viewer %s (%s) of '%s' was %"
      G_GUINT64_FORMAT " bytes behind; skipped to the latest keyframe",
      c->address, c->peer, c->stream->name, backlog);
}

static void
log_fell_out (Conn * c)
{
  relay_log (c->relay, RELAY_LOG_SLOW, "viewer %s (%s) of '%s' fell out "
      "of the buffer; skipped to the latest keyframe", c->address, c->peer,
      c->stream->name);
}

/* With @tx deferred (a fan-out worker's share, diode-relay-fanout.c) only
 * the viewer's own state changes: its logs and join note wait in it for
 * conn_write_ring_done. */
static GBytes *
conn_ring_next (Conn * c, RelayTx * tx)
{
  DiodeRing *ring = c->stream->ring;
  gboolean skipped = FALSE;
  guint64 backlog = diode_cursor_backlog (&c->cursor, ring);
  GBytes *f;

  if (backlog > c->relay->soft_limit
      && diode_cursor_skip_to_latest (&c->cursor, ring)) {
    c->skips++;
    if (tx->deferred)
      c->tx_behind = backlog;
    else
      log_behind (c, backlog);
  }
  f = diode_cursor_next (&c->cursor, ring, &skipped);
  if (skipped) {
    c->skips++;
    if (tx->deferred)
      c->tx_fell_out = TRUE;
    else
      log_fell_out (c);
  }
  if (!f)
    return NULL;
  if (!c->first_media_at && g_bytes_get_size (f) > DIODE_FRAME_HEADER_SIZE
      && ((const guint8 *) g_bytes_get_data (f, NULL))[0] == DIODE_MSG_MEDIA) {
    if (!tx->deferred)
      relay_note_join (c, g_get_monotonic_time ());
    else if (!c->tx_join_at)
      c->tx_join_at = g_get_monotonic_time ();
  }
  return g_bytes_ref (f);
}

/* Does the viewer have ring frames waiting beyond what it holds? */
static gboolean
conn_ring_waiting (Conn * c)
{
  return c->viewing && c->stream && c->phase == CONN_OPEN && !c->on_direct
      && !c->replay && diode_cursor_backlog (&c->cursor, c->stream->ring) > 0;
}

/* @n plaintext bytes of ring frames were written: c->out, then the frames
 * gathered behind it. */
static void
conn_ring_advance (Conn * c, gsize n)
{
  c->bytes_out += n;
  c->media_bytes_out += n;
  c->last_progress = c->last_tx = g_get_monotonic_time ();
  while (n > 0 && c->out) {
    gsize size = g_bytes_get_size (c->out);
    gsize take = MIN (n, size - c->out_off);

    c->out_off += take;
    n -= take;
    if (c->out_off < size)
      break;
    g_bytes_unref (c->out);
    c->frames_out++;
    c->out = g_queue_pop_head (&c->gather);
    c->out_off = 0;
    c->out_media = c->out != NULL;
  }
  /* A viewer the ring no longer feeds (a direct path took over) finishes
   * the frame it is in, as without gathering; frames gathered behind it
   * and not begun go with the cursor's. */
  if (c->out && c->out_off == 0 && (c->on_direct || !c->viewing)) {
    g_clear_pointer (&c->out, g_bytes_unref);
    g_queue_clear_full (&c->gather, (GDestroyNotify) g_bytes_unref);
    c->out_media = FALSE;
  }
}

/* Writes one TLS record of ring frames: c->out's next bytes, and when
 * they do not fill a record and more frames wait (a joiner's GOP, a viewer
 * that was blocked, small frames), the next frames too: records filled to
 * the maximum across frame boundaries instead of one or two per frame.
 * Such a record is copied together in tx->buf (one per writing thread); the
 * frames it takes from the cursor wait in c->gather, so nothing is held
 * per connection but references, at most a record's worth. Every record
 * followed by more says MSG_MORE: the kernel sends them as few segments. */
static DiodeTlsStatus
conn_send_ring (Conn * c, RelayTx * tx, GError ** error)
{
  gsize size, n = 0, rec = MIN (diode_tls_max_record (c->tls),
      DIODE_TLS_MAX_RECORD);
  const guint8 *data = g_bytes_get_data (c->out, &size);
  gsize left = size - c->out_off, len;
  gboolean more;
  DiodeTlsStatus st;
  GList *l;

  if (c->tx_again) {
    /* the record GnuTLS holds: its frames are still out + gather */
    st = diode_tls_send_again (c->tls, conn_ring_waiting (c)
        || !g_queue_is_empty (&c->gather), &n, error);
  } else if (left >= rec || (g_queue_is_empty (&c->gather)
          && !conn_ring_waiting (c))) {
    /* from the frame itself: a whole record of it, or all there is */
    more = !g_queue_is_empty (&c->gather) || conn_ring_waiting (c);
    st = diode_tls_send_more (c->tls, data + c->out_off, left, more, &n,
        error);
  } else {
    memcpy (tx->buf, data + c->out_off, left);
    len = left;
    l = c->gather.head;
    /* a control reply queued meanwhile goes before any further frame */
    while (len < rec) {
      GBytes *f;
      gsize fs;
      const guint8 *fd;

      if (l) {
        f = l->data;
        l = l->next;
      } else if (g_queue_is_empty (&c->ctrl) && conn_ring_waiting (c)
          && (f = conn_ring_next (c, tx)) != NULL) {
        g_queue_push_tail (&c->gather, f);
      } else {
        break;
      }
      fd = g_bytes_get_data (f, &fs);
      memcpy (tx->buf + len, fd, MIN (fs, rec - len));
      len += MIN (fs, rec - len);
    }
    /* more after this record: the rest of a frame in it, or another */
    more = l != NULL || len == rec || conn_ring_waiting (c);
    if (len > left)
      tx->gathered++;
    st = diode_tls_send_more (c->tls, tx->buf, len, more, &n, error);
  }
  if (st == DIODE_TLS_AGAIN) {
    if (!c->tx_again)
      tx->blocked++;
    c->tx_again = TRUE;
    return st;
  }
  if (st != DIODE_TLS_OK)
    return st;
  c->tx_again = FALSE;
  tx->records++;
  conn_ring_advance (c, n);
  return DIODE_TLS_OK;
}

gboolean
conn_write_ring_ready (Conn * c)
{
  return !c->dead && c->phase == CONN_OPEN && c->tls && !c->web
      && !c->replay && !c->fetch && c->viewing && c->stream && !c->on_direct
      && !(c->events & EPOLLOUT) && g_queue_is_empty (&c->ctrl)
      && (!c->out || c->out_media);
}

void
conn_write_ring (Conn * c, RelayTx * tx)
{
  DiodeTlsStatus st = DIODE_TLS_OK;

  for (;;) {
    if (!c->out) {
      GBytes *f = conn_ring_next (c, tx);

      if (!f)
        break;
      c->out = f;
      c->out_media = TRUE;
      c->out_off = 0;
    }
    st = conn_send_ring (c, tx, &c->tx_error);
    if (st != DIODE_TLS_OK)
      break;
  }
  if (st == DIODE_TLS_OK) {
    /* caught up: what MSG_MORE kept back goes now */
    diode_tls_push (c->tls);
    c->last_progress = g_get_monotonic_time ();
  }
  c->tx_status = st;
}

void
conn_write_ring_done (Conn * c)
{
  if (c->tx_behind) {
    log_behind (c, c->tx_behind);
    c->tx_behind = 0;
  }
  if (c->tx_fell_out) {
    log_fell_out (c);
    c->tx_fell_out = FALSE;
  }
  if (c->tx_join_at) {
    relay_note_join (c, c->tx_join_at);
    c->tx_join_at = 0;
  }
  if (c->tx_status == DIODE_TLS_OK)
    conn_want_write (c, FALSE);
  else if (c->tx_status == DIODE_TLS_AGAIN)
    conn_want_write (c, TRUE);
  else
    conn_close (c, c->tx_error ? c->tx_error->message :
        "peer closed the connection");
  g_clear_error (&c->tx_error);
  c->tx_status = DIODE_TLS_OK;
}

void
conn_flush (Conn * c)
{
  if (c->dead || c->phase == CONN_HANDSHAKE || c->phase == CONN_LINGER
      || c->phase == CONN_CONNECTING)
    return;

  for (;;) {
    const guint8 *data;
    gsize size, n = 0;
    DiodeTlsStatus st;
    GError *err = NULL;

    if (!c->out && c->web) {
      /* a WebSocket's own control frames go between messages; after its
       * close frame nothing more */
      st = relay_ws_flush_control (c, &err);
      if (st == DIODE_TLS_AGAIN) {
        conn_want_write (c, TRUE);
        return;
      }
      if (st != DIODE_TLS_OK) {
        conn_close (c, err ? err->message : "peer closed the connection");
        g_clear_error (&err);
        return;
      }
      if (relay_ws_close_sent (c))
        break;
    }
    if (!c->out) {
      GBytes *next = g_queue_pop_head (&c->ctrl);

      if (next) {
        if (next == c->link_ok_queued)
          c->link_ok_queued = NULL;     /* being sent: no longer replaced */
        c->out = next;
        c->out_ctrl = g_bytes_get_size (next) + CTRL_FRAME_OVERHEAD;
      } else if (c->replay && c->phase == CONN_OPEN) {
        /* a replay viewer: stored chunks until it reaches the ring */
        GBytes *f = replay_next_frame (c);

        if (!f) {
          if (!c->replay && c->viewing && c->stream)
            continue;           /* moved onto the ring: go on from there */
          break;
        }
        c->out = f;
      } else if (c->fetch && c->phase == CONN_OPEN) {
        GBytes *f = fetch_next_frame (c);

        if (!f)
          break;
        c->out = f;
      } else if (c->viewing && c->stream && c->phase == CONN_OPEN
          && !c->on_direct) {
        /* (a viewer on a direct path gets nothing from the ring) */
        GBytes *f = conn_ring_next (c, &c->relay->tx);

        if (!f)
          break;
        c->out = f;
        c->out_media = TRUE;
      } else {
        break;
      }
      c->out_off = 0;
    }

    if (c->out_media && !c->web) {
      /* ring frames: records filled across frames (conn_send_ring) */
      st = conn_send_ring (c, &c->relay->tx, &err);
      if (st == DIODE_TLS_OK)
        continue;
    } else {
      data = g_bytes_get_data (c->out, &size);
      st = c->web ? relay_ws_send (c, data, size, &n, &err) :
          diode_tls_send (c->tls, data + c->out_off, size - c->out_off, &n,
          &err);
    }
    if (st == DIODE_TLS_OK) {
      c->out_off += n;
      c->bytes_out += n;
      if (c->out_media)
        c->media_bytes_out += n;
      c->last_progress = c->last_tx = g_get_monotonic_time ();
      if (c->out_off == size) {
        g_clear_pointer (&c->out, g_bytes_unref);
        c->out_media = FALSE;
        c->frames_out++;
        c->ctrl_bytes -= c->out_ctrl;
        c->out_ctrl = 0;
        /* Replies drained to half the bound: read the peer again. */
        if (c->rx_paused && c->ctrl_bytes <= c->relay->max_reply_bytes / 2) {
          c->rx_paused = FALSE;
          conn_mark_ready (c);
        }
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
    if (c->web && !relay_ws_close_sent (c)) {
      /* closed by the relay (its ERROR went, or none could): the close
       * frame still has to */
      relay_ws_queue_close (c, 1011, NULL);
      if (!relay_ws_close_sent (c)) {
        conn_flush (c);
        return;
      }
    }
    conn_linger (c);
    return;
  }
  /* Nothing pending: the write timeout only runs while we wait on it. */
  if (c->tls)
    diode_tls_push (c->tls);
  c->last_progress = g_get_monotonic_time ();
  conn_want_write (c, FALSE);
}

/* ------------------------------------------------------------------------ */
/* connection lifecycle */

/* An address nothing is counted against any more is forgotten. */
static void
addr_maybe_forget (DiodeRelay * r, AddrCount * a)
{
  if (!a->open && !a->streams && !a->partial)
    g_hash_table_remove (r->per_addr, a->host);
}

void
relay_addr_unref_stream (DiodeRelay * r, AddrCount * a)
{
  if (!a)
    return;
  a->streams--;
  addr_maybe_forget (r, a);
}

/* A closing connection's unfinished frames will never be used: they stop
 * counting at once, not when the socket is finally closed. */
static void
conn_drop_partial (Conn * c)
{
  if (!c->addr)
    return;
  c->addr->partial -= c->partial;
  c->relay->partial -= c->partial;
  c->partial = 0;
}

/* Bytes of frames the session holds but has not handed out yet (the one
 * being received, and whole ones left for the next turn) count against
 * the peer's address and the relay: a peer trickling huge frames could
 * otherwise make the relay hold 16 MiB per connection for as long as it
 * likes. Past a bound the connection that crossed it is closed. */
static void
conn_account_partial (Conn * c)
{
  DiodeRelay *r = c->relay;
  guint64 now = diode_session_buffered (c->session);
  AddrCount *a = c->addr;
  gchar *text = NULL;

  if (!a || now == c->partial || c->phase != CONN_OPEN)
    return;
  a->partial = a->partial - c->partial + now;
  r->partial = r->partial - c->partial + now;
  c->partial = now;
  if (r->max_partial_per_addr && a->partial > r->max_partial_per_addr)
    text = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes of unfinished "
        "frames from %s (limit %" G_GUINT64_FORMAT ", "
        "--max-partial-per-address)", a->partial, a->host,
        r->max_partial_per_addr);
  else if (r->max_partial && r->partial > r->max_partial)
    text = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes of unfinished "
        "frames on this relay (limit %" G_GUINT64_FORMAT ", --max-partial)",
        r->partial, r->max_partial);
  if (!text)
    return;
  relay_log (r, RELAY_LOG_LIMIT, "closing %s (%s): %s", c->peer,
      c->address ? c->address : "no identity", text);
  conn_send_error (c, DIODE_ERR_TOO_LARGE, text);
  g_free (text);
}

/* A publisher going away: its stream keeps its viewers for the grace
 * period and its name for the name grace. Once per connection. */
static void
conn_release_publisher (Conn * c)
{
  DiodeRelay *r = c->relay;
  Stream *s = c->stream;

  if (!s || !c->publishing || s->publisher != c)
    return;
  /* what it pushed in its last read reaches the viewers first */
  stream_fanout_due (c);
  g_mutex_lock (&r->lock);
  s->publisher = NULL;
  g_mutex_unlock (&r->lock);
  if (s->source == SOURCE_PUSHED) {
    /* A child's push ended: relay_pulls_tick asks again if someone still
     * watches (or frees the stream: so this connection, lingering on,
     * lets go of it now); no publisher grace for it. */
    c->publishing = FALSE;
    c->stream = NULL;
    r->links_kick = TRUE;
    return;
  }
  directory_local_changed (r, s, FALSE);
  /* its recording's session is over (a return starts a new one): what
   * the ring holds open goes to the store now, not at the grace's end */
  relay_record_detach (s);
  s->owner_until = g_get_monotonic_time () + (gint64) r->name_grace_ms * 1000;
  if (!s->eos) {
    s->grace_until = g_get_monotonic_time () + (gint64) r->grace_ms * 1000;
    relay_log (r, RELAY_LOG_STREAM, "publisher %s of '%s' disconnected without EOS; keeping "
        "its viewers for %u ms", c->address, s->name, r->grace_ms);
  }
}

/* Everything for a closing peer is written: say goodbye (close_notify, then
 * FIN) but keep the socket until the peer closes too. Closing a socket with
 * unread input makes the kernel send RST, and a peer that gets RST loses
 * what it had not read yet, which is where our ERROR is. */
static void
conn_linger (Conn * c)
{
  /* What it published is over now, not when it hangs up. */
  conn_release_publisher (c);
  relay_direct_conn_gone (c);
  if (c->tls)
    diode_tls_bye (c->tls);
  shutdown (c->fd, SHUT_WR);
  c->phase = CONN_LINGER;
  c->deadline = g_get_monotonic_time () + CLOSE_FLUSH_MS * 1000;
  conn_set_events (c, EPOLLIN);
}

/* Discards what a lingering peer sends, at most 64 KiB a turn; its end of
 * file (or an error) ends the connection. A peer that goes on sending a lot
 * is not reading our ERROR anyway: past LINGER_DISCARD_MAX it is closed at
 * once, so lingering never becomes a free sink for a flood. */
static void
conn_linger_drain (Conn * c)
{
  guint8 *buf = c->relay->rbuf;
  gsize total = 0;

  while (total < READ_CHUNK) {
    ssize_t n = recv (c->fd, buf, READ_CHUNK, MSG_DONTWAIT);

    if (n > 0) {
      total += n;
      c->linger_discarded += n;
      if (c->linger_discarded > LINGER_DISCARD_MAX) {
        conn_close (c, "kept sending while being closed");
        return;
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    conn_close (c, NULL);
    return;
  }
}

void
conn_close (Conn * c, const gchar * why)
{
  DiodeRelay *r = c->relay;

  if (c->dead)
    return;
  c->dead = TRUE;
  if (c->link && why && !c->why)
    c->why = g_strdup (why);
  if (why)
    g_info ("closing %s (%s): %s", c->peer,
        c->address ? c->address : "no identity", why);
  if (c->addr) {
    /* Its slot under the caps is free from now on. */
    AddrCount *a = c->addr;

    a->open--;
    if (c->pending)
      a->pending--;
    conn_drop_partial (c);
    c->addr = NULL;
    addr_maybe_forget (r, a);
    r->n_open--;
  }

  conn_release_publisher (c);
  relay_direct_conn_gone (c);
  /* what it held of the store is free for other readers now */
  replay_conn_gone (c);
  fetch_conn_gone (c);
  relay_peers_conn_gone (c);
  if (c->tls && c->phase != CONN_HANDSHAKE && c->phase != CONN_LINGER)
    diode_tls_bye (c->tls);
  epoll_ctl (r->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  g_ptr_array_add (r->dead, c);
}

void
conn_free (Conn * c)
{
  relay_ws_conn_free (c);
  relay_direct_free (c);
  if (c->rec)
    relay_record_conn_gone (c);
  g_clear_pointer (&c->tls, diode_tls_free);
  if (c->fd >= 0)
    close (c->fd);
  g_clear_pointer (&c->session, diode_session_free);
  g_queue_clear_full (&c->ctrl, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&c->out, g_bytes_unref);
  g_queue_clear_full (&c->gather, (GDestroyNotify) g_bytes_unref);
  g_clear_error (&c->tx_error);
  diode_cursor_clear (&c->cursor);
  g_free (c->peer);
  g_free (c->address);
  g_free (c->why);
  g_free (c);
}

/* Free what closed during this dispatch, now that no loop holds it. */
void
relay_reap (DiodeRelay * r)
{
  guint done = 0;

  /* In rounds: judging a stream may close more connections (a push nobody
   * needs any more); they join r->dead and go in the next round. */
  while (done < r->dead->len) {
    guint end = r->dead->len, i;
    GPtrArray *streams = g_ptr_array_new ();

    /* Every dead connection lets go of its stream before any stream is
     * judged: a stream freed for its last viewer while a push closing in
     * the same turn still pointed at it was used after free. */
    for (i = done; i < end; i++) {
      Conn *c = g_ptr_array_index (r->dead, i);
      Stream *s = c->stream;

      g_mutex_lock (&r->lock);
      g_hash_table_remove (r->conns, c);
      if (s) {
        if (g_ptr_array_remove (s->viewers, c))
          stream_viewer_left (s, c);
        g_ptr_array_remove (s->waiting, c);
      }
      g_mutex_unlock (&r->lock);
      if (c->ready)
        g_ptr_array_remove_fast (r->ready, c);
      c->stream = NULL;
      if (s && !g_ptr_array_find (streams, s, NULL))
        g_ptr_array_add (streams, s);
    }
    for (i = 0; i < streams->len; i++)
      stream_maybe_free (r, g_ptr_array_index (streams, i));
    g_ptr_array_unref (streams);
    for (i = done; i < end; i++) {
      Conn *c = g_ptr_array_index (r->dead, i);

      /* An outgoing connection's owner decides what next (may connect
       * again: new Conns go to r->conns, never to this array's past). */
      link_conn_gone (c);
      directory_child_gone (c);
      conn_free (c);
    }
    done = end;
  }
  g_ptr_array_set_size (r->dead, 0);
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
    relay_log (c->relay, RELAY_LOG_HANDSHAKE, "%s does not speak TLS (first "
        "byte 0x%02x); closing", c->peer, b);
  conn_close (c, n == 0 ? "closed before the TLS handshake" : NULL);
  return FALSE;
}

void
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
    relay_log (c->relay, RELAY_LOG_HANDSHAKE, "TLS handshake with %s "
        "failed: %s", c->peer, err ? err->message : "connection closed");
    if (c->link && !c->why)
      c->why = g_strdup_printf ("TLS handshake failed: %s", err ?
          err->message : "connection closed");
    g_clear_error (&err);
    conn_close (c, NULL);
    return;
  }
  if (c->outgoing) {
    link_on_tls_up (c);
    return;
  }
  c->address = g_strdup (diode_tls_get_peer_address (c->tls));
  c->phase = CONN_OPEN;
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    gchar *why = g_error_matches (err, DIODE_TLS_ERROR,
        DIODE_TLS_ERROR_NOT_ED25519) ? g_strdup_printf ("refused: %s",
        err->message) : g_strdup_printf ("refused: %s; a diode identity's "
        "certificate is regenerated from its key at every start", err->message);

    relay_log (c->relay, RELAY_LOG_HANDSHAKE, "client %s (%s): %s",
        c->address, c->peer, err->message);
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

/* Past HELLO: no longer counted against the pending cap of its address. */
static void
conn_check_hello_done (Conn * c)
{
  if (c->pending && c->addr
      && diode_session_get_state (c->session) != DIODE_SESSION_AWAIT_HELLO) {
    c->pending = FALSE;
    c->addr->pending--;
  }
}

/* Reads and handles what the peer sent, within this turn's budget: at most
 * READ_BUDGET_BYTES read and READ_BUDGET_FRAMES frames handled. What is
 * left (in the socket, in GnuTLS, in the session) waits for the next turn,
 * after every other connection had its turn. */
void
conn_on_readable (Conn * c)
{
  DiodeRelay *r = c->relay;
  gsize budget = READ_BUDGET_BYTES;

  if (c->phase == CONN_HANDSHAKE) {
    conn_handshake (c);
    return;
  }
  if (c->web) {
    relay_ws_on_readable (c);
    return;
  }
  c->frame_budget = READ_BUDGET_FRAMES;
  while (!c->dead && c->phase == CONN_OPEN) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st;

    /* Frames already buffered first: nothing more is read while whole
     * ones wait, so the session holds at most one read's worth. */
    conn_process (c);
    conn_check_hello_done (c);
    if (!c->dead)
      conn_account_partial (c);
    if (c->dead || c->phase != CONN_OPEN || c->rx_paused || c->store_paused)
      return;
    if (c->frame_budget == 0 || budget == 0) {
      conn_mark_ready (c);
      return;
    }
    st = diode_tls_recv (c->tls, r->rbuf, MIN (READ_CHUNK, budget), &n, &err);
    if (st == DIODE_TLS_OK) {
      c->last_rx = g_get_monotonic_time ();
      if (c->outgoing || c->child_link)
        c->bytes_in += n;
      budget -= MIN (n, budget);
      diode_session_feed (c->session, r->rbuf, n);
      conn_account_partial (c);
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

void
relay_accept (DiodeRelay * r)
{
  guint budget;

  /* A crowd at the door waits for the next turn (the listener is level
   * triggered) rather than keep the open connections waiting. */
  for (budget = ACCEPT_BUDGET; budget > 0; budget--) {
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
    const gchar *cap;
    guint limit = 0;

    if (fd < 0) {
      int e = errno;

      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        /* The connection stays in the backlog and the listener stays
         * readable: retrying now would spin. Stop watching it for a
         * moment; relay_tick re-arms it. */
        struct epoll_event off = { 0 };

        epoll_ctl (r->epfd, EPOLL_CTL_MOD, g_socket_get_fd (r->listen_socket),
            &off);
        r->accept_paused = TRUE;
        r->accept_resume_at = g_get_monotonic_time () +
            (gint64) ACCEPT_PAUSE_MS * 1000;
        relay_log (r, RELAY_LOG_ACCEPT, "accept failed: %s (%u connections "
            "open); not accepting for %u ms", g_strerror (e), r->n_open,
            ACCEPT_PAUSE_MS);
      } else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR
          && e != ECONNABORTED) {
        relay_log (r, RELAY_LOG_ACCEPT, "accept failed: %s", g_strerror (e));
      }
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

    /* The caps, before any work is spent on it. Nothing can be said to a
     * peer before TLS: it sees the connection closed, the log says why. */
    cap = relay_peer_cap (r, host, "connections before HELLO from one "
        "address (--max-pending-per-address)", &limit);
    if (cap) {
      gchar *peer = g_strdup_printf ("%s:%u", host, port);

      relay_peer_refused (r, peer, "a connection", cap, limit);
      g_free (peer);
      close (fd);
      continue;
    }

    c = g_new0 (Conn, 1);
    c->kind = TAG_CONN;
    c->relay = r;
    c->fd = fd;
    c->peer = g_strdup_printf ("%s:%u", host, port);
    g_queue_init (&c->ctrl);
    g_queue_init (&c->gather);
    diode_cursor_init (&c->cursor);
    c->session = diode_session_new (DIODE_SESSION_RELAY_END);
    c->phase = CONN_HANDSHAKE;
    c->accepted_at = c->last_progress = c->last_rx = c->last_tx =
        g_get_monotonic_time ();
    r->accepted_conns++;
    c->deadline = c->accepted_at + (gint64) r->handshake_ms * 1000;
    c->tls = diode_tls_new_server (fd, r->identity, &err);
    if (!c->tls) {
      relay_log (r, RELAY_LOG_HANDSHAKE, "cannot set up TLS for %s: %s", c->peer, err->message);
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
    c->addr = relay_admit_peer (r, host);
    c->pending = TRUE;
    g_mutex_lock (&r->lock);
    g_hash_table_add (r->conns, c);
    g_mutex_unlock (&r->lock);
    g_debug ("connection from %s", c->peer);
  }
}

/* relay_tick: watch the listener again after an accept() pause. */
void
relay_accept_resume (DiodeRelay * r, gint64 now)
{
  struct epoll_event ev = { 0 };

  if (!r->accept_paused || now < r->accept_resume_at)
    return;
  ev.events = EPOLLIN;
  ev.data.ptr = &r->listener_tag;
  epoll_ctl (r->epfd, EPOLL_CTL_MOD, g_socket_get_fd (r->listen_socket), &ev);
  r->accept_paused = FALSE;
}

/* ------------------------------------------------------------------------ */
/* loop sources */

static gboolean
io_dispatch (GSource * source, GSourceFunc cb, gpointer user_data)
{
  DiodeRelay *r = user_data;
  struct epoll_event events[256];
  int n, i;

  /* Connections whose budget ran out last turn, before any new event. */
  g_source_set_ready_time (source, -1);
  if (r->ready->len) {
    GPtrArray *ready = r->ready;

    r->ready = g_ptr_array_new ();
    for (i = 0; i < (int) ready->len; i++) {
      Conn *c = g_ptr_array_index (ready, i);

      c->ready = FALSE;
      if (!c->dead && !c->rx_paused && !c->store_paused
          && c->phase == CONN_OPEN)
        conn_on_readable (c);
    }
    g_ptr_array_unref (ready);
  }

  n = epoll_wait (r->epfd, events, G_N_ELEMENTS (events), 0);
  for (i = 0; i < n; i++) {
    TagKind *kind = events[i].data.ptr;
    Conn *c;

    if (*kind == TAG_LISTENER) {
      relay_accept (r);
      continue;
    }
    if (*kind == TAG_HTTP_LISTENER) {
      relay_web_accept (r);
      continue;
    }
    if (*kind == TAG_STUN) {
      relay_stun_readable (r);
      continue;
    }
    c = (Conn *) kind;
    if (c->dead)
      continue;
    if (c->phase == CONN_CONNECTING) {
      link_on_connect (c);
      continue;
    }
    if (c->phase == CONN_HANDSHAKE) {
      conn_handshake (c);
      continue;
    }
    if (c->phase == CONN_LINGER) {
      conn_linger_drain (c);
      continue;
    }
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
      conn_on_readable (c);
    /* Gone while we do not read it: no EPOLLIN would ever say so. */
    if (!c->dead && (c->phase == CONN_CLOSING || c->rx_paused
            || c->store_paused)
        && (events[i].events & (EPOLLHUP | EPOLLERR))) {
      conn_close (c, NULL);
      continue;
    }
    if (!c->dead && (events[i].events & EPOLLOUT))
      conn_flush (c);
  }
  relay_reap (r);
  /* Links that went down in this turn connect again now, not at the
   * next tick: that is the fail-over. */
  if (r->links_kick)
    relay_links_kick (r, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

GSourceFuncs relay_io_funcs = { NULL, NULL, io_dispatch, NULL, NULL, NULL };
