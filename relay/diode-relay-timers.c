/* gst-diode — the relay's timers: deadlines, keepalive, waits, grace
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * relay_tick() runs every TICK_MS on the relay's I/O thread and makes every
 * time-based decision: handshake and HELLO deadlines, keepalive PINGs and
 * silent peers, held SUBSCRIBEs running out, slow viewers, publishers that
 * did not come back, names whose grace ended, peers that read none of
 * their replies, the listener paused after accept() failed, the end of
 * log rate-limit windows, and the stats line.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-keepalive.h"
#include "diode-web.h"

/* Past HELLO (accepted connections) or WELCOME (links): keepalive runs. */
static gboolean
conn_established (Conn * c)
{
  if (c->outgoing)
    return c->link && c->link->state >= LINK_READY;
  return diode_session_get_state (c->session) != DIODE_SESSION_AWAIT_HELLO;
}

gboolean
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
    /* The keepalive rule lives in the protocol core (diode-keepalive.h),
     * shared with the elements: PING after K quiet, dead after 3K. */
    DiodeKeepalive ka = { r->keepalive_ms, c->last_rx, c->last_tx };
    DiodeKeepaliveAction act = diode_keepalive_check (&ka, now, NULL);

    if (c->dead || conn_check_replies (c, now))
      continue;
    /* a browser: WebSocket pings, its share link's expiry */
    if (c->web && relay_ws_tick (c, now))
      continue;
    if (c->deadline && now > c->deadline && c->outgoing
        && c->phase != CONN_CLOSING && c->phase != CONN_LINGER) {
      /* A link whose relay did not answer (TCP, TLS, WELCOME) in time. */
      conn_close (c, "no answer in time");
      continue;
    }
    if (c->deadline && now > c->deadline) {
      if (c->phase == CONN_HANDSHAKE || c->phase == CONN_CONNECTING) {
        relay_log (r, RELAY_LOG_HANDSHAKE, "%s did not complete the TLS "
            "handshake in time", c->peer);
      } else if (c->phase == CONN_OPEN) {
        relay_log (r, RELAY_LOG_HANDSHAKE, "%s (%s) sent no HELLO in time",
            c->peer, c->address);
        /* Tell it why; the CLOSING deadline bounds how long we wait. */
        conn_send_error (c, DIODE_ERR_TIMEOUT, "no HELLO in time");
        continue;
      }
      conn_close (c, NULL);
    } else if (act == DIODE_KEEPALIVE_DEAD && !c->web && c->phase == CONN_OPEN
        && !c->rx_paused && !c->store_paused && conn_established (c)) {
      /* Silent for three keepalive periods: dead, frozen or cut off. */
      gchar *text = g_strdup_printf ("nothing received for %" G_GINT64_FORMAT
          " ms (keepalive %u ms)", (now - c->last_rx) / 1000, r->keepalive_ms);

      if (c->outgoing) {
        /* A link to a relay that froze: no lingering, its streams move
         * to the next endpoint now (within 3 s of the last sign of
         * life). */
        conn_queue (c, diode_msg_encode_error (DIODE_ERR_TIMEOUT, text));
        conn_flush (c);
        conn_close (c, text);
        g_free (text);
        continue;
      }

      relay_log (r, RELAY_LOG_SLOW, "%s (%s): %s; closing", c->peer,
          c->address, text);
      /* Closed through CLOSING and LINGER like any fatal ERROR, so a peer
       * that was only slow still reads why. */
      conn_send_error (c, DIODE_ERR_TIMEOUT, text);
      g_free (text);
    } else if (c->waiting && now > c->wait_until) {
      g_ptr_array_add (expired, c);
    } else if (((c->viewing && c->stream) || c->replay || c->fetch)
        && c->phase == CONN_OPEN) {
      /* a replay viewer or a FETCH has no ring backlog, only the write
       * timeout */
      guint64 backlog = c->stream ? diode_cursor_backlog (&c->cursor,
          c->stream->ring) : 0;
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
        relay_log (r, RELAY_LOG_SLOW, "slow viewer %s (%s): %s", c->address,
            c->peer, text);
        r->viewer_drops++;
        if (c->stream)
          c->stream->drops++;
        conn_send_error (c, DIODE_ERR_SLOW_VIEWER, text);
        g_free (text);
      }
    }
    /* Quiet towards this peer for a keepalive period: PING it. */
    if (!c->dead && !c->web && act != DIODE_KEEPALIVE_NONE
        && c->phase == CONN_OPEN
        && conn_established (c) && !c->out && g_queue_is_empty (&c->ctrl)
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
    for (i = 0; i < idle->len; i++) {
      Stream *s = idle->pdata[i];

      /* An ended stream is forgotten once its viewers have read it all. */
      if (s->eos)
        stream_release_finished_viewers (r, s);
      stream_maybe_free (r, s);
    }
    g_ptr_array_unref (idle);
  }
  relay_record_tick (r, now);
  relay_web_tick (r, now);
  relay_reap (r);
  relay_rates_tick (r, now);
  directory_tick (r, now);
  relay_replay_tick (r, now);
  relay_links_kick (r, now);
  relay_accept_resume (r, now);
  relay_log_flush (r, now);
  if (r->stats_interval_ms
      && now - r->stats_at >= (gint64) r->stats_interval_ms * 1000) {
    if (g_hash_table_size (r->streams))
      relay_stats_log (r, now);
    relay_stats_log_links (r, now);
    relay_stats (r, now);
    r->stats_at = now;
  }
  return G_SOURCE_CONTINUE;
}
