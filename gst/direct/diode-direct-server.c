/* gst-diode — the publisher's end of direct paths (docs/protocol.md 17.7)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread (DirectLoop) runs every direct session of one publisher: its
 * ICE agent (not controlling: the viewer controls), then TLS as the server
 * with the address checks, then the relay's part of the protocol for one
 * viewer. The frames the publisher sends to its relay also go into a ring
 * of a few MiB (gst/buffering, DIRECT_RING_BYTES), from the latest
 * keyframe chunk on, so a viewer that switches over can ask for the seq it
 * needs next; each session is a cursor into that ring, as relay viewers
 * are. The ring, the SIGNAL queue and the stats are under one lock, since
 * the element pushes frames and pops SIGNALs from its own threads.
 */
#define G_LOG_DOMAIN "diode-direct"
#include "diode-direct.h"
#include "diode-direct-private.h"
#include "diode-ring.h"
#include "diode-name.h"

#include <gio/gio.h>
#include <string.h>

/* What the ring keeps: a few chunks of a camera stream (a 4 Mbit/s stream
 * with a 2 s GOP is 1 MiB a chunk), so a viewer switching paths finds the
 * seq it needs. */
#define DIRECT_RING_BYTES      (4 * 1024 * 1024)
/* A session further behind than this (ring backlog + write queue) is
 * closed: the viewer falls back to the relay path (17.7). */
#define DIRECT_BACKLOG_MAX     (2 * 1024 * 1024)
/* No write progress for this long while data waits: closed (17.7). */
#define DIRECT_STALL_MS        3000
/* TLS, HELLO and SUBSCRIBE must be over this long after ICE connected. */
#define DIRECT_SETUP_MS        10000
#define DIRECT_KEEPALIVE_MS    2000
/* What one session's write queue holds before it stops pulling from the
 * ring: the rest stays in the ring, counted as backlog. */
#define DIRECT_PUMP_BYTES      (256 * 1024)
/* SIGNAL frames waiting for the element: a bound, not a working size
 * (a session signals a few dozen frames). */
#define DIRECT_MAX_SIGNALS     1024
/* CLOSEs go in past that bound (a dropped CLOSE leaves the viewer waiting
 * for its ICE timeout and the relay holding the session): at most one per
 * sid waits, and at most this many over the bound, should a relay open
 * sessions faster than the element drains (it allows 64 a publisher). */
#define DIRECT_MAX_CLOSES_OVER 1024
#define DIRECT_AGENT           "gst-diode-direct"

typedef enum {
  PEER_ICE,                     /* signalling, ICE checks */
  PEER_SETUP,                   /* TLS, HELLO, SUBSCRIBE */
  PEER_MEDIA,                   /* SUBSCRIBE_OK sent: frames flow */
} PeerState;

typedef struct {
  DiodeDirectServer *server;
  guint32 sid;                  /* the relay's id; 0 once its signalling is
                                   gone (relay_reset) */
  gchar *viewer;                /* OFFER's peer: who the relay vouched for */
  DiodeIce *ice;
  DirectConn *conn;
  PeerState state;
  DiodeCursor cursor;           /* under the server's lock */
} Peer;

struct _DiodeDirectServer {
  DirectLoop loop;
  DiodeIdentity *identity;
  gchar *stream;
  guint max_viewers;
  gchar *stun_server, *turn_server;
  DiodeIceTransport transport;
  DiodeDirectAdmitFunc admit;
  gpointer admit_data;

  GMutex lock;                  /* everything below up to "thread only" */
  DiodeRing *ring;
  GQueue signals;               /* OutSignal: SIGNAL frames for the relay */
  DirectNotify notify;
  gboolean wake_pending;
  DiodeDirectServerStats stats;
  guint64 signals_dropped;
  gsize queue_peak;             /* test hook: largest write queue seen */
  guint setup_ms;               /* DIRECT_SETUP_MS, or a test's */

  /* thread only */
  GPtrArray *peers;             /* Peer*, at most max_viewers */
};

static gboolean
server_admits (DiodeDirectServer * s, const gchar * viewer)
{
  return s->admit && s->admit (viewer, s->admit_data);
}

/* ---- SIGNAL frames out --------------------------------------------------- */

typedef struct {
  GBytes *frame;
  guint32 sid;
  guint8 kind;
} OutSignal;

static void
out_signal_free (gpointer data)
{
  OutSignal *o = data;

  g_bytes_unref (o->frame);
  g_free (o);
}

/* Whether a CLOSE may join a queue past DIRECT_MAX_SIGNALS (lock held).
 * Below that bound every CLOSE goes in: the relay may have reused the sid
 * of one still queued for a new session. */
static gboolean
server_close_fits_locked (DiodeDirectServer * s, guint32 sid)
{
  GList *l;

  if (s->signals.length >= DIRECT_MAX_SIGNALS + DIRECT_MAX_CLOSES_OVER)
    return FALSE;
  for (l = s->signals.head; l; l = l->next) {
    OutSignal *o = l->data;

    if (o->kind == DIODE_SIGNAL_CLOSE && o->sid == sid)
      return FALSE;             /* one is enough */
  }
  return TRUE;
}

static void
server_signal (DiodeDirectServer * s, guint32 sid, guint8 kind,
    const gchar * data)
{
  GBytes *f;

  if (!sid)
    return;                     /* its signalling is gone */
  f = diode_msg_encode_signal (sid, kind, NULL, data);
  if (!f) {
    /* a candidate over 2048 bytes or not UTF-8: never from libnice */
    g_debug ("SIGNAL %s for session %u not encodable, dropped",
        diode_signal_kind_name (kind), sid);
    return;
  }
  g_mutex_lock (&s->lock);
  if (s->signals.length >= DIRECT_MAX_SIGNALS
      && (kind != DIODE_SIGNAL_CLOSE || !server_close_fits_locked (s, sid))) {
    s->signals_dropped++;
    g_bytes_unref (f);
  } else {
    OutSignal *o = g_new (OutSignal, 1);

    o->frame = f;
    o->sid = sid;
    o->kind = kind;
    g_queue_push_tail (&s->signals, o);
    direct_notify_raise (&s->notify);
  }
  g_mutex_unlock (&s->lock);
}

/* ---- sessions ------------------------------------------------------------ */

static void
peer_free (Peer * p)
{
  DiodeDirectServer *s = p->server;

  g_mutex_lock (&s->lock);
  if (p->state == PEER_MEDIA && --s->stats.viewers == 0)
    direct_notify_raise (&s->notify);   /* the owner says "relay" */
  diode_cursor_clear (&p->cursor);
  g_mutex_unlock (&s->lock);
  direct_conn_free (p->conn);
  if (p->ice)
    diode_ice_free (p->ice);
  g_free (p->viewer);
  g_free (p);
}

/* Ends @p; @reason: CLOSE it through the relay with that reason (NULL: the
 * relay ended it, say nothing). */
static void
peer_end (Peer * p, const gchar * reason)
{
  DiodeDirectServer *s = p->server;
  guint32 sid = p->sid;
  /* it may be the conn's own text, which peer_free frees */
  gchar *why = g_strdup (reason);

  if (why)
    g_debug ("direct session %u with %s ends: %s", sid, p->viewer, why);
  g_ptr_array_remove_fast (s->peers, p);
  /* the stats first: whoever reads the CLOSE sees them */
  peer_free (p);
  if (why)
    server_signal (s, sid, DIODE_SIGNAL_CLOSE, why);
  g_free (why);
}

static Peer *
peer_find (DiodeDirectServer * s, guint32 sid)
{
  guint i;

  for (i = 0; sid && i < s->peers->len; i++) {
    Peer *p = g_ptr_array_index (s->peers, i);

    if (p->sid == sid)
      return p;
  }
  return NULL;
}

/* Moves frames from the ring into @p's write queue while it has room.
 * Closes a session too far behind. FALSE when @p was ended. */
static gboolean
peer_pump (Peer * p)
{
  DiodeDirectServer *s = p->server;
  gboolean behind = FALSE;

  for (;;) {
    GBytes *f = NULL;
    gboolean skipped = FALSE;

    g_mutex_lock (&s->lock);
    /* judged at every call, also while the write queue is full: that is
     * when a viewer falls behind */
    if (diode_cursor_backlog (&p->cursor, s->ring)
        + direct_conn_queued (p->conn) > DIRECT_BACKLOG_MAX)
      behind = TRUE;
    else if (direct_conn_queued (p->conn) < DIRECT_PUMP_BYTES)
      f = diode_cursor_next (&p->cursor, s->ring, &skipped);
    if (f)
      g_bytes_ref (f);
    if (f && !skipped)
      s->stats.bytes_sent += g_bytes_get_size (f);
    g_mutex_unlock (&s->lock);

    if (behind || skipped) {
      /* the viewer's relay path holds what it misses */
      if (f)
        g_bytes_unref (f);
      direct_conn_fail (p->conn, DIODE_ERR_SLOW_VIEWER,
          "direct viewer fell behind");
      return FALSE;
    }
    if (!f)
      return TRUE;
    if (g_bytes_get_size (f) < DIODE_FRAME_HEADER_SIZE
        || !direct_conn_send (p->conn, f,
            ((const guint8 *) g_bytes_get_data (f, NULL))[0])) {
      g_bytes_unref (f);
      direct_conn_fail (p->conn, DIODE_ERR_INTERNAL, "cannot send a frame");
      return FALSE;
    }
    g_bytes_unref (f);
    g_mutex_lock (&s->lock);
    s->queue_peak = MAX (s->queue_peak, direct_conn_queued (p->conn));
    g_mutex_unlock (&s->lock);
  }
}

static gboolean
server_wake (gpointer data)
{
  DiodeDirectServer *s = data;
  guint i;

  g_mutex_lock (&s->lock);
  s->wake_pending = FALSE;
  g_mutex_unlock (&s->lock);
  for (i = 0; i < s->peers->len; i++) {
    Peer *p = g_ptr_array_index (s->peers, i);

    if (p->state == PEER_MEDIA)
      peer_pump (p);
  }
  return G_SOURCE_REMOVE;
}

/* ---- the session over TLS ------------------------------------------------ */

static gboolean
conn_handshaked (DirectConn * c, const gchar * peer, gchar ** reason,
    gpointer data)
{
  Peer *p = data;

  /* 17.7 (2): the viewer the relay vouched for, and one our own policy
   * admits: a relay lying in `peer` cannot pass both */
  if (g_ascii_strcasecmp (peer, p->viewer) != 0) {
    *reason = g_strdup ("the viewer's address is not the one offered");
    return FALSE;
  }
  if (!server_admits (p->server, peer)) {
    *reason = g_strdup ("not authorized");
    return FALSE;
  }
  p->state = PEER_SETUP;
  return TRUE;
}

static void
peer_subscribe (Peer * p, DiodeMsg * m)
{
  DiodeDirectServer *s = p->server;
  DiodeSubscribeOkArgs a = { 0 };
  guint64 first = 0, last;
  GBytes *f;

  if (!diode_name_same (m->stream, s->stream)) {
    direct_conn_fail (p->conn, DIODE_ERR_NOT_FOUND,
        "no such stream on this direct path");
    return;
  }
  if (m->start_mode != DIODE_START_LIVE) {
    direct_conn_fail (p->conn, DIODE_ERR_PROTOCOL,
        "a direct path serves live streams only");
    return;
  }
  if (m->publisher && g_ascii_strcasecmp (m->publisher,
          diode_identity_get_address (s->identity)) != 0) {
    direct_conn_fail (p->conn, DIODE_ERR_NOT_AUTHORIZED,
        "this publisher is not the one pinned");
    return;
  }

  g_mutex_lock (&s->lock);
  diode_cursor_init (&p->cursor);
  last = diode_ring_get_last_seq (s->ring);
  if (m->start_seq && diode_cursor_seek_seq (&p->cursor, s->ring,
          m->start_seq)) {
    first = m->start_seq;
  } else if (m->start_seq && last && m->start_seq == last + 1
      && diode_cursor_seek_tail (&p->cursor, s->ring)) {
    /* it has everything held: go on with what comes next */
    first = m->start_seq;
  } else {
    diode_cursor_join (&p->cursor, s->ring);
    first = p->cursor.chunk ? p->cursor.chunk->first_seq : 0;
  }
  if (s->stats.viewers++ == 0)
    direct_notify_raise (&s->notify);   /* the owner says "direct" */
  s->stats.sessions++;
  g_mutex_unlock (&s->lock);
  p->state = PEER_MEDIA;
  direct_conn_clear_deadline (p->conn);

  a.stream = m->stream;
  a.first_seq = first;
  a.publisher = diode_identity_get_address (s->identity);
  a.stream_state = DIODE_STREAM_LIVE;
  a.start_time = DIODE_TIME_NONE;
  f = diode_msg_encode_subscribe_ok_args (&a,
      diode_session_get_version (direct_conn_session (p->conn)),
      DIODE_ROLE_VIEWER);
  if (!f || !direct_conn_send (p->conn, f, DIODE_MSG_SUBSCRIBE_OK)) {
    if (f)
      g_bytes_unref (f);
    direct_conn_fail (p->conn, DIODE_ERR_INTERNAL, "cannot answer SUBSCRIBE");
    return;
  }
  g_bytes_unref (f);
  g_debug ("direct session %u: %s from seq %" G_GUINT64_FORMAT, p->sid,
      p->viewer, first);
  peer_pump (p);
}

static void
conn_message (DirectConn * c, DiodeMsg * m, gpointer data)
{
  Peer *p = data;
  DiodeSession *ss = direct_conn_session (c);

  switch (m->type) {
    case DIODE_MSG_HELLO:{
      GBytes *f;

      if (m->role != DIODE_ROLE_VIEWER) {
        direct_conn_fail (c, DIODE_ERR_PROTOCOL,
            "a direct path serves a viewer only");
        break;
      }
      f = diode_msg_encode_welcome_v (diode_session_get_version (ss),
          DIRECT_KEEPALIVE_MS, DIRECT_AGENT, 0);
      if (!direct_conn_send (c, f, DIODE_MSG_WELCOME))
        direct_conn_fail (c, DIODE_ERR_PROTOCOL, "cannot welcome");
      else
        direct_conn_start_keepalive (c, DIRECT_KEEPALIVE_MS);
      g_bytes_unref (f);
      break;
    }
    case DIODE_MSG_SUBSCRIBE:
      if (p->state != PEER_SETUP)
        direct_conn_fail (c, DIODE_ERR_PROTOCOL, "one SUBSCRIBE only");
      else
        peer_subscribe (p, m);
      break;
    default:
      /* PUBLISH, RANGE, FETCH, SIGNAL, PATH...: not on a direct path */
      direct_conn_fail (c, DIODE_ERR_PROTOCOL,
          "not served on a direct session");
      break;
  }
  diode_msg_clear (m);
}

static void
conn_drained (DirectConn * c, gpointer data)
{
  Peer *p = data;

  if (p->state == PEER_MEDIA)
    peer_pump (p);
}

static void
conn_closed (DirectConn * c, const gchar * reason, gpointer data)
{
  peer_end (data, reason);
}

static const DirectConnFuncs conn_funcs = {
  conn_handshaked, conn_message, conn_drained, conn_closed
};

/* ---- ICE ----------------------------------------------------------------- */

static gboolean server_sweep_idle (gpointer data);

/* ICE is up: TLS as the server over @fd (taken). */
static void
peer_connected (Peer * p, int fd, const gchar * pair)
{
  DiodeDirectServer *s = p->server;
  GError *err = NULL;

  if (fd < 0)
    return;
  g_debug ("direct session %u: connected (%s)", p->sid, pair);
  p->state = PEER_SETUP;
  p->conn = direct_conn_new (s->loop.ctx, fd, TRUE, s->identity,
      DIODE_SESSION_RELAY_END, &conn_funcs, p, &err);
  if (!p->conn) {
    gchar *r = g_strdup_printf ("TLS: %s", err->message);

    g_error_free (err);
    /* not from inside the agent's callback: swept later */
    server_signal (s, p->sid, DIODE_SIGNAL_CLOSE, r);
    p->sid = 0;
    g_free (r);
    direct_loop_invoke (&s->loop, server_sweep_idle, s, NULL);
    return;
  }
  direct_conn_set_deadline (p->conn, s->setup_ms);
  direct_conn_set_stall_limit (p->conn, DIRECT_STALL_MS);
}

static void
ice_event (DiodeIceEvent event, const gchar * text, gpointer data)
{
  Peer *p = data;
  DiodeDirectServer *s = p->server;

  switch (event) {
    case DIODE_ICE_EVENT_CREDENTIALS:
      server_signal (s, p->sid, DIODE_SIGNAL_ANSWER, text);
      break;
    case DIODE_ICE_EVENT_CANDIDATE:
      server_signal (s, p->sid, DIODE_SIGNAL_CANDIDATE, text);
      break;
    case DIODE_ICE_EVENT_GATHERED:
      server_signal (s, p->sid, DIODE_SIGNAL_GATHERED, "");
      break;
    case DIODE_ICE_EVENT_CONNECTED:
      if (p->state == PEER_ICE)
        peer_connected (p, diode_ice_take_fd (p->ice), text);
      break;
    case DIODE_ICE_EVENT_FAILED:
      /* once connected, the conn sees the fd's EOF and ends the session */
      if (p->state == PEER_ICE) {
        gchar *r = g_strdup_printf ("ICE failed: %s", text ? text : "");

        server_signal (s, p->sid, DIODE_SIGNAL_CLOSE, r);
        g_free (r);
        p->sid = 0;
        p->state = PEER_SETUP;
        direct_loop_invoke (&s->loop, server_sweep_idle, s, NULL);
      }
      break;
  }
}

/* Peers whose ICE ended without a conn are swept here, outside the
 * agent's callbacks. */
static void
server_sweep (DiodeDirectServer * s)
{
  guint i = 0;

  while (i < s->peers->len) {
    Peer *p = g_ptr_array_index (s->peers, i);

    if (p->state != PEER_ICE && !p->conn) {
      g_ptr_array_remove_index_fast (s->peers, i);
      peer_free (p);
    } else {
      i++;
    }
  }
}

static gboolean
server_sweep_idle (gpointer data)
{
  server_sweep (data);
  return G_SOURCE_REMOVE;
}

/* ---- SIGNALs from the relay ---------------------------------------------- */

/* Counted before the CLOSE is queued: whoever reads the CLOSE sees the
 * stats that go with it. */
static void
server_refuse (DiodeDirectServer * s, guint32 sid, const gchar * reason)
{
  g_mutex_lock (&s->lock);
  s->stats.refused++;
  g_mutex_unlock (&s->lock);
  server_signal (s, sid, DIODE_SIGNAL_CLOSE, reason);
}

static void
server_offer (DiodeDirectServer * s, DirectSignalIn * in)
{
  DiodeIceConfig ic = { 0 };
  GError *err = NULL;
  Peer *p, *old = peer_find (s, in->sid);

  if (old)                      /* the relay reuses only closed ids */
    peer_end (old, NULL);
  g_mutex_lock (&s->lock);
  s->stats.offers++;
  g_mutex_unlock (&s->lock);

  if (!in->peer || !diode_msg_address_is_valid (in->peer)
      || !server_admits (s, in->peer)) {
    server_refuse (s, in->sid, "not authorized");
    return;
  }
  if (s->peers->len >= s->max_viewers) {
    server_refuse (s, in->sid, "too many direct sessions");
    return;
  }

  p = g_new0 (Peer, 1);
  p->server = s;
  p->sid = in->sid;
  p->viewer = g_ascii_strdown (in->peer, -1);
  p->state = PEER_ICE;
  diode_cursor_init (&p->cursor);
  ic.transport = s->transport;
  ic.controlling = FALSE;
  ic.stun_server = s->stun_server;
  ic.turn_server = s->turn_server;
  ic.local_addresses = direct_env_local_addresses ();
  p->ice = diode_ice_new (s->loop.ctx, &ic, ice_event, p, &err);
  if (!p->ice || !diode_ice_set_remote_credentials (p->ice, in->data, &err)) {
    gchar *r = g_strdup_printf ("ICE: %s", err->message);

    g_error_free (err);
    peer_free (p);
    server_refuse (s, in->sid, r);
    g_free (r);
    return;
  }
  g_ptr_array_add (s->peers, p);
}

static gboolean
server_on_signal (gpointer data)
{
  DirectSignalIn *in = data;
  DiodeDirectServer *s = in->owner;
  Peer *p;

  if (in->kind == DIODE_SIGNAL_OFFER) {
    server_offer (s, in);
    server_sweep (s);
    return G_SOURCE_REMOVE;
  }
  p = peer_find (s, in->sid);
  if (!p)
    return G_SOURCE_REMOVE;     /* it may cross a CLOSE: ignored (17.2) */
  switch (in->kind) {
    case DIODE_SIGNAL_CANDIDATE:
      if (p->state == PEER_ICE
          && !diode_ice_add_remote_candidate (p->ice, in->data, NULL))
        g_debug ("session %u: a candidate we cannot parse, ignored", p->sid);
      break;
    case DIODE_SIGNAL_GATHERED:
      if (p->state == PEER_ICE)
        diode_ice_remote_gathered (p->ice);
      break;
    case DIODE_SIGNAL_CLOSE:
      /* the viewer or the relay ended it: so do we, media or not */
      peer_end (p, NULL);
      break;
    default:
      break;                    /* ANSWER to a publisher: the session refused it */
  }
  server_sweep (s);
  return G_SOURCE_REMOVE;
}

/* ---- test hook ----------------------------------------------------------- */

typedef struct {
  DiodeDirectServer *s;
  guint32 sid;
  gchar *viewer;
  int fd;
} Adopt;

static gboolean
server_on_adopt (gpointer data)
{
  Adopt *a = data;
  Peer *p = g_new0 (Peer, 1);

  p->server = a->s;
  p->sid = a->sid;
  p->viewer = g_ascii_strdown (a->viewer, -1);
  p->state = PEER_ICE;
  diode_cursor_init (&p->cursor);
  g_ptr_array_add (a->s->peers, p);
  peer_connected (p, a->fd, "socketpair");
  g_free (a->viewer);
  g_free (a);
  return G_SOURCE_REMOVE;
}

void
direct_server_test_adopt (DiodeDirectServer * s, guint32 sid,
    const gchar * viewer, int fd)
{
  Adopt *a = g_new0 (Adopt, 1);

  a->s = s;
  a->sid = sid;
  a->viewer = g_strdup (viewer);
  a->fd = fd;
  direct_loop_invoke (&s->loop, server_on_adopt, a, NULL);
}

void
direct_server_test_set_setup_ms (DiodeDirectServer * s, guint ms)
{
  s->setup_ms = ms;             /* before any session: no lock needed */
}

gsize
direct_server_test_queue_peak (DiodeDirectServer * s)
{
  gsize peak;

  g_mutex_lock (&s->lock);
  peak = s->queue_peak;
  g_mutex_unlock (&s->lock);
  return peak;
}

/* ---- public API ---------------------------------------------------------- */

DiodeDirectServer *
diode_direct_server_new (const DiodeDirectServerConfig * cfg, GError ** error)
{
  DiodeDirectServer *s;

  g_return_val_if_fail (cfg && cfg->identity && cfg->stream, NULL);
  s = g_new0 (DiodeDirectServer, 1);
  if (!direct_notify_init (&s->notify, error)) {
    g_free (s);
    return NULL;
  }
  s->identity = diode_identity_ref (cfg->identity);
  s->stream = g_strdup (cfg->stream);
  s->max_viewers = cfg->max_viewers;
  s->stun_server = g_strdup (cfg->stun_server);
  s->turn_server = g_strdup (cfg->turn_server);
  s->transport = cfg->transport;
  s->admit = cfg->admit;
  s->admit_data = cfg->admit_data;
  g_mutex_init (&s->lock);
  g_queue_init (&s->signals);
  s->ring = diode_ring_new (DIRECT_RING_BYTES, 0);
  s->peers = g_ptr_array_new ();
  s->setup_ms = DIRECT_SETUP_MS;
  direct_loop_start (&s->loop, "diode-direct-srv");
  return s;
}

static gboolean
server_teardown (gpointer data)
{
  DiodeDirectServer *s = data;

  while (s->peers->len) {
    Peer *p = g_ptr_array_steal_index_fast (s->peers, s->peers->len - 1);

    peer_free (p);
  }
  return G_SOURCE_REMOVE;
}

void
diode_direct_server_free (DiodeDirectServer * s)
{
  if (!s)
    return;
  direct_loop_call_sync (&s->loop, server_teardown, s);
  direct_loop_stop (&s->loop);
  g_ptr_array_unref (s->peers);
  diode_ring_free (s->ring);
  g_queue_clear_full (&s->signals, out_signal_free);
  direct_notify_clear (&s->notify);
  g_mutex_clear (&s->lock);
  diode_identity_unref (s->identity);
  g_free (s->stream);
  g_free (s->stun_server);
  g_free (s->turn_server);
  g_free (s);
}

void
diode_direct_server_push_frame (DiodeDirectServer * s, GBytes * frame)
{
  DiodeMsg m = { 0 };
  gboolean wake = FALSE;

  if (!diode_msg_parse (frame, &m, NULL))
    return;
  g_mutex_lock (&s->lock);
  if (m.type == DIODE_MSG_CAPS) {
    diode_ring_push_caps (s->ring, frame);
  } else if (m.type == DIODE_MSG_MEDIA) {
    guint64 t = m.dts != DIODE_TIME_NONE ? m.dts : m.pts;

    /* over the header cap: the relay refuses the publisher anyway */
    diode_ring_push_media (s->ring, frame, m.seq, t,
        (m.flags & DIODE_MEDIA_KEYFRAME) != 0,
        (m.flags & DIODE_MEDIA_STREAMHEADER) != 0, NULL);
  } else if (m.type == DIODE_MSG_EOS) {
    diode_ring_push_other (s->ring, frame);
  } else {
    g_mutex_unlock (&s->lock);
    diode_msg_clear (&m);
    return;
  }
  if (!s->wake_pending) {
    s->wake_pending = TRUE;
    wake = TRUE;
  }
  g_mutex_unlock (&s->lock);
  diode_msg_clear (&m);
  if (wake)
    direct_loop_invoke (&s->loop, server_wake, s, NULL);
}

void
diode_direct_server_handle_signal (DiodeDirectServer * s, const DiodeMsg * m)
{
  if (m->type != DIODE_MSG_SIGNAL || !m->sid)
    return;
  direct_loop_invoke_signal (&s->loop, server_on_signal, s, m);
}

static gboolean
server_on_reset (gpointer data)
{
  DiodeDirectServer *s = data;
  guint i = 0;

  /* sessions still signalling cannot finish; the others go on without a
   * relay id (nothing to CLOSE through a connection that is gone) */
  while (i < s->peers->len) {
    Peer *p = g_ptr_array_index (s->peers, i);

    if (p->state == PEER_ICE) {
      g_ptr_array_remove_index_fast (s->peers, i);
      peer_free (p);
    } else {
      p->sid = 0;
      i++;
    }
  }
  return G_SOURCE_REMOVE;
}

void
diode_direct_server_relay_reset (DiodeDirectServer * s)
{
  g_mutex_lock (&s->lock);
  g_queue_clear_full (&s->signals, out_signal_free);
  g_queue_init (&s->signals);
  direct_notify_lower (&s->notify);
  g_mutex_unlock (&s->lock);
  direct_loop_invoke (&s->loop, server_on_reset, s, NULL);
}

static gboolean
server_on_recheck (gpointer data)
{
  DiodeDirectServer *s = data;
  guint i = 0;

  /* The check at OFFER and at TLS saw the old policy; after a relay
   * reconnect (sid 0) no relay can close these sessions either: only
   * this re-check ends a viewer whose access was revoked. */
  while (i < s->peers->len) {
    Peer *p = g_ptr_array_index (s->peers, i);

    if (server_admits (s, p->viewer)) {
      i++;
    } else if (p->conn) {
      /* closed() follows from the loop and ends the peer (CLOSE with
       * this reason when it still has a relay id) */
      direct_conn_fail (p->conn, DIODE_ERR_NOT_AUTHORIZED, "not authorized");
      i++;
    } else if (p->state == PEER_ICE) {
      peer_end (p, "not authorized");   /* removes index i */
    } else {
      i++;                      /* ICE over without a conn: swept */
    }
  }
  server_sweep (s);
  return G_SOURCE_REMOVE;
}

void
diode_direct_server_recheck (DiodeDirectServer * s)
{
  direct_loop_invoke (&s->loop, server_on_recheck, s, NULL);
}

int
diode_direct_server_get_fd (DiodeDirectServer * s)
{
  return s->notify.fd;
}

GBytes *
diode_direct_server_next_signal (DiodeDirectServer * s)
{
  OutSignal *o;
  GBytes *f = NULL;

  g_mutex_lock (&s->lock);
  o = g_queue_pop_head (&s->signals);
  if (!s->signals.length)
    direct_notify_lower (&s->notify);
  g_mutex_unlock (&s->lock);
  if (o) {
    f = o->frame;
    g_free (o);
  }
  return f;
}

void
diode_direct_server_get_stats (DiodeDirectServer * s,
    DiodeDirectServerStats * stats)
{
  g_mutex_lock (&s->lock);
  *stats = s->stats;
  g_mutex_unlock (&s->lock);
}
