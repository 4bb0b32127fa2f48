/* gst-diode — the viewer's end of a direct path (docs/protocol.md 17.7)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One attempt per object: start() makes the ICE agent (controlling) and
 * queues the OFFER; the answer and candidates come back through
 * handle_signal(); once ICE connects, TLS as the client checks that the
 * other end is the stream's publisher, then HELLO/WELCOME/SUBSCRIBE from the
 * seq the element needs, and frames are queued as events for the element
 * (bounded: a viewer that does not take them is DOWN, "fell behind"). DOWN
 * is final: the element makes a new object for the next attempt. The ICE
 * agent, TLS and the session run on the object's own thread; the queues
 * the element reads are under the lock and signalled by one eventfd.
 */
#define G_LOG_DOMAIN "diode-direct"
#include "diode-direct.h"
#include "diode-direct-private.h"

#include <gio/gio.h>
#include <string.h>

#define VIEWER_QUEUE_DEFAULT  (8 * 1024 * 1024)
#define VIEWER_SETUP_MS       10000
/* the publisher's write queue is bounded; ours only waits for TLS */
#define VIEWER_STALL_MS       10000
#define VIEWER_MAX_SIGNALS    1024
#define VIEWER_AGENT          "gst-diode-direct"

typedef struct {
  DiodeDirectEvent type;
  DiodeMsg msg;                 /* MSG */
  gchar *text;                  /* UP, DOWN */
  gsize size;                   /* MSG: bytes counted in the queue */
} ViewerEvent;

struct _DiodeDirectViewer {
  DirectLoop loop;
  DiodeIdentity *identity;
  gchar *stream;
  gchar *publisher;
  gchar *stun_server, *turn_server;
  DiodeIceTransport transport;
  gsize queue_max;
  guint32 sid;                  /* constant after new() */

  GMutex lock;                  /* everything below up to "thread only" */
  guint64 next_seq;
  GQueue signals;               /* GBytes SIGNAL frames for the relay */
  GQueue events;                /* ViewerEvent* */
  gsize queued;                 /* MSG bytes in events */
  DirectNotify notify;
  gboolean down;                /* DOWN queued: nothing after it */
  guint64 bytes_received;
  gchar *pair;
  guint64 signals_dropped;

  /* thread only */
  gboolean started;
  gboolean offered;             /* the OFFER is queued */
  GPtrArray *early;             /* candidates gathered before the OFFER */
  gboolean closed_sent;         /* no more SIGNAL for this sid */
  DiodeIce *ice;
  DirectConn *conn;
  gboolean subscribed;
  gchar *ice_pair;
};

static void
event_free (ViewerEvent * e)
{
  diode_msg_clear (&e->msg);
  g_free (e->text);
  g_free (e);
}

/* under the lock */
static void
viewer_notify_update (DiodeDirectViewer * v)
{
  if (v->signals.length || v->events.length)
    direct_notify_raise (&v->notify);
  else
    direct_notify_lower (&v->notify);
}

static void
viewer_signal (DiodeDirectViewer * v, guint8 kind, const gchar * data)
{
  GBytes *f;

  if (v->closed_sent)
    return;
  if (kind == DIODE_SIGNAL_CLOSE)
    v->closed_sent = TRUE;
  f = diode_msg_encode_signal (v->sid, kind, NULL, data);
  if (!f)
    return;                     /* not encodable (never from libnice) */
  g_mutex_lock (&v->lock);
  if (v->signals.length >= VIEWER_MAX_SIGNALS) {
    v->signals_dropped++;
    g_bytes_unref (f);
  } else {
    g_queue_push_tail (&v->signals, f);
  }
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
}

/* The attempt is over. @close_reason: CLOSE it through the relay with
 * that (NULL: the other side or the relay ended it). The agent and the
 * conn go in an idle: this may run inside their callbacks. */
static gboolean viewer_release (gpointer data);

static void
viewer_down (DiodeDirectViewer * v, const gchar * close_reason,
    const gchar * why)
{
  ViewerEvent *e;

  if (close_reason)
    viewer_signal (v, DIODE_SIGNAL_CLOSE, close_reason);
  v->closed_sent = TRUE;
  g_mutex_lock (&v->lock);
  if (v->down) {
    g_mutex_unlock (&v->lock);
    return;
  }
  v->down = TRUE;
  e = g_new0 (ViewerEvent, 1);
  e->type = DIODE_DIRECT_DOWN;
  e->text = g_strdup (why);
  g_queue_push_tail (&v->events, e);
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
  g_debug ("direct attempt %u down: %s", v->sid, why);
  direct_loop_invoke (&v->loop, viewer_release, v, NULL);
}

static gboolean
viewer_release (gpointer data)
{
  DiodeDirectViewer *v = data;

  direct_conn_free (v->conn);
  v->conn = NULL;
  if (v->ice)
    diode_ice_free (v->ice);
  v->ice = NULL;
  return G_SOURCE_REMOVE;
}

/* ---- the session over TLS ------------------------------------------------ */

static gboolean
conn_handshaked (DirectConn * c, const gchar * peer, gchar ** reason,
    gpointer data)
{
  DiodeDirectViewer *v = data;
  GBytes *f;

  /* 17.7 (2): only the stream's publisher may serve it; a relay handing
   * over someone else's candidates fails here */
  if (!v->publisher || g_ascii_strcasecmp (peer, v->publisher) != 0) {
    *reason = g_strdup ("the direct peer is not the stream's publisher");
    return FALSE;
  }
  f = diode_msg_encode_hello (1, DIODE_PROTOCOL_VERSION_MAX,
      DIODE_ROLE_VIEWER, VIEWER_AGENT);
  diode_session_sent_hello (direct_conn_session (c), 1,
      DIODE_PROTOCOL_VERSION_MAX, DIODE_ROLE_VIEWER, NULL);
  direct_conn_queue (c, f);
  g_bytes_unref (f);
  return TRUE;
}

static void
viewer_subscribe (DiodeDirectViewer * v, DirectConn * c, DiodeMsg * m)
{
  DiodeSubscribeArgs a = { 0 };
  GBytes *f;

  direct_conn_start_keepalive (c, m->keepalive_ms ? m->keepalive_ms : 2000);
  g_mutex_lock (&v->lock);
  a.start_seq = v->next_seq;
  g_mutex_unlock (&v->lock);
  a.stream = v->stream;
  a.pin = v->publisher;
  a.start_mode = DIODE_START_LIVE;
  f = diode_msg_encode_subscribe_args (&a,
      diode_session_get_version (direct_conn_session (c)), DIODE_ROLE_VIEWER);
  if (!f || !direct_conn_send (c, f, DIODE_MSG_SUBSCRIBE))
    direct_conn_fail (c, DIODE_ERR_INTERNAL, "cannot subscribe");
  if (f)
    g_bytes_unref (f);
}

static void
viewer_up (DiodeDirectViewer * v, DirectConn * c, DiodeMsg * m)
{
  ViewerEvent *e;

  if (m->publisher && g_ascii_strcasecmp (m->publisher, v->publisher) != 0) {
    direct_conn_fail (c, DIODE_ERR_PROTOCOL, "SUBSCRIBE_OK names another "
        "publisher");
    return;
  }
  v->subscribed = TRUE;
  direct_conn_clear_deadline (c);
  e = g_new0 (ViewerEvent, 1);
  e->type = DIODE_DIRECT_UP;
  e->text = g_strdup (v->ice_pair ? v->ice_pair : "");
  g_mutex_lock (&v->lock);
  g_free (v->pair);
  v->pair = g_strdup (e->text);
  g_queue_push_tail (&v->events, e);
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
}

/* CAPS, MEDIA, EOS for the element; FALSE when over the bound */
static gboolean
viewer_queue_msg (DiodeDirectViewer * v, DiodeMsg * m)
{
  ViewerEvent *e;
  gsize size = g_bytes_get_size (m->frame);

  g_mutex_lock (&v->lock);
  if (v->queued + size > v->queue_max) {
    g_mutex_unlock (&v->lock);
    return FALSE;
  }
  e = g_new0 (ViewerEvent, 1);
  e->type = DIODE_DIRECT_MSG;
  e->msg = *m;
  memset (m, 0, sizeof *m);
  e->size = size;
  v->queued += size;
  v->bytes_received += size;
  g_queue_push_tail (&v->events, e);
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
  return TRUE;
}

static void
conn_message (DirectConn * c, DiodeMsg * m, gpointer data)
{
  DiodeDirectViewer *v = data;

  if (v->down) {
    /* DOWN is final: the conn is released in a moment */
    diode_msg_clear (m);
    return;
  }
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      viewer_subscribe (v, c, m);
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      viewer_up (v, c, m);
      break;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (!v->subscribed)
        direct_conn_fail (c, DIODE_ERR_PROTOCOL, "media before SUBSCRIBE_OK");
      else if (!viewer_queue_msg (v, m))
        direct_conn_fail (c, 0, "fell behind: the direct queue is full");
      break;
    case DIODE_MSG_ERROR:{
      gchar *t = direct_escape (m->error_text);
      gchar *r = g_strdup_printf ("refused by the publisher: %s", t);

      direct_conn_fail (c, 0, r);
      g_free (r);
      g_free (t);
      break;
    }
    default:
      /* SIGNAL, POLICY...: no such thing on a direct session */
      direct_conn_fail (c, DIODE_ERR_PROTOCOL,
          "not allowed on a direct session");
      break;
  }
  diode_msg_clear (m);
}

static void
conn_drained (DirectConn * c, gpointer data)
{
}

static void
conn_closed (DirectConn * c, const gchar * reason, gpointer data)
{
  DiodeDirectViewer *v = data;

  viewer_down (v, reason, reason);
}

static const DirectConnFuncs conn_funcs = {
  conn_handshaked, conn_message, conn_drained, conn_closed
};

/* ICE is up: TLS as the client over @fd (taken). */
static void
viewer_connected (DiodeDirectViewer * v, int fd, const gchar * pair)
{
  GError *err = NULL;

  if (fd < 0 || v->conn || v->down)
    return;
  g_free (v->ice_pair);
  v->ice_pair = g_strdup (pair);
  v->conn = direct_conn_new (v->loop.ctx, fd, FALSE, v->identity,
      DIODE_SESSION_CLIENT_END, &conn_funcs, v, &err);
  if (!v->conn) {
    gchar *r = g_strdup_printf ("TLS: %s", err->message);

    g_error_free (err);
    viewer_down (v, r, r);
    g_free (r);
    return;
  }
  direct_conn_set_deadline (v->conn, VIEWER_SETUP_MS);
  direct_conn_set_stall_limit (v->conn, VIEWER_STALL_MS);
}

/* ---- ICE and signalling -------------------------------------------------- */

static void
ice_event (DiodeIceEvent event, const gchar * text, gpointer data)
{
  DiodeDirectViewer *v = data;
  guint i;

  if (v->down)
    return;
  switch (event) {
    case DIODE_ICE_EVENT_CREDENTIALS:
      viewer_signal (v, DIODE_SIGNAL_OFFER, text);
      v->offered = TRUE;
      for (i = 0; v->early && i < v->early->len; i++)
        viewer_signal (v, DIODE_SIGNAL_CANDIDATE,
            g_ptr_array_index (v->early, i));
      g_clear_pointer (&v->early, g_ptr_array_unref);
      break;
    case DIODE_ICE_EVENT_CANDIDATE:
      if (v->offered) {
        viewer_signal (v, DIODE_SIGNAL_CANDIDATE, text);
      } else {
        if (!v->early)
          v->early = g_ptr_array_new_with_free_func (g_free);
        if (v->early->len < 64)
          g_ptr_array_add (v->early, g_strdup (text));
      }
      break;
    case DIODE_ICE_EVENT_GATHERED:
      viewer_signal (v, DIODE_SIGNAL_GATHERED, "");
      break;
    case DIODE_ICE_EVENT_CONNECTED:
      viewer_connected (v, diode_ice_take_fd (v->ice), text);
      break;
    case DIODE_ICE_EVENT_FAILED:{
      gchar *r = g_strdup_printf ("ICE failed: %s", text ? text : "");

      /* after CONNECTED the conn reads EOF and says why itself */
      if (!v->conn)
        viewer_down (v, r, r);
      g_free (r);
      break;
    }
  }
}

static gboolean
viewer_on_start (gpointer data)
{
  DiodeDirectViewer *v = data;
  DiodeIceConfig ic = { 0 };
  GError *err = NULL;

  if (v->started || v->down)
    return G_SOURCE_REMOVE;
  v->started = TRUE;
  ic.transport = v->transport;
  ic.controlling = TRUE;
  ic.stun_server = v->stun_server;
  ic.turn_server = v->turn_server;
  ic.local_addresses = direct_env_local_addresses ();
  v->ice = diode_ice_new (v->loop.ctx, &ic, ice_event, v, &err);
  if (!v->ice) {
    gchar *r = g_strdup_printf ("ICE: %s", err->message);

    g_error_free (err);
    /* nothing was offered: nothing to close */
    v->closed_sent = TRUE;
    viewer_down (v, NULL, r);
    g_free (r);
  }
  return G_SOURCE_REMOVE;
}

static gboolean
viewer_on_signal (gpointer data)
{
  DirectSignalIn *in = data;
  DiodeDirectViewer *v = in->owner;
  GError *err = NULL;

  if (v->down || !v->ice)
    return G_SOURCE_REMOVE;
  switch (in->kind) {
    case DIODE_SIGNAL_ANSWER:
      /* the relay names who answers: not proof (TLS is), but a relay
       * that says it is someone else need not be tried */
      if (in->peer && g_ascii_strcasecmp (in->peer, v->publisher) != 0) {
        viewer_down (v, "answered by another publisher",
            "answered by another publisher");
      } else if (!diode_ice_set_remote_credentials (v->ice, in->data, &err)) {
        gchar *r = g_strdup_printf ("bad credentials: %s", err->message);

        g_error_free (err);
        viewer_down (v, r, r);
        g_free (r);
      }
      break;
    case DIODE_SIGNAL_CANDIDATE:
      if (!diode_ice_add_remote_candidate (v->ice, in->data, NULL))
        g_debug ("attempt %u: a candidate we cannot parse, ignored", v->sid);
      break;
    case DIODE_SIGNAL_GATHERED:
      diode_ice_remote_gathered (v->ice);
      break;
    case DIODE_SIGNAL_CLOSE:{
      gchar *t = direct_escape (in->data);
      gchar *r = g_strdup_printf ("closed through the relay: %s", t);

      v->closed_sent = TRUE;
      viewer_down (v, NULL, r);
      g_free (r);
      g_free (t);
      break;
    }
    default:
      break;                    /* OFFER to a viewer: the session refused it */
  }
  return G_SOURCE_REMOVE;
}

/* ---- test hook ----------------------------------------------------------- */

typedef struct {
  DiodeDirectViewer *v;
  int fd;
} Adopt;

static gboolean
viewer_on_adopt (gpointer data)
{
  Adopt *a = data;

  a->v->started = TRUE;
  viewer_connected (a->v, a->fd, "socketpair");
  g_free (a);
  return G_SOURCE_REMOVE;
}

void
direct_viewer_test_adopt (DiodeDirectViewer * v, int fd)
{
  Adopt *a = g_new0 (Adopt, 1);

  a->v = v;
  a->fd = fd;
  direct_loop_invoke (&v->loop, viewer_on_adopt, a, NULL);
}

guint32
direct_viewer_test_sid (DiodeDirectViewer * v)
{
  return v->sid;
}

static gboolean
viewer_on_stop_reading (gpointer data)
{
  DiodeDirectViewer *v = data;

  if (v->conn)
    direct_conn_test_pause (v->conn);
  return G_SOURCE_REMOVE;
}

void
direct_viewer_test_stop_reading (DiodeDirectViewer * v)
{
  direct_loop_invoke (&v->loop, viewer_on_stop_reading, v, NULL);
}

/* ---- public API ---------------------------------------------------------- */

DiodeDirectViewer *
diode_direct_viewer_new (const DiodeDirectViewerConfig * cfg, GError ** error)
{
  DiodeDirectViewer *v;

  g_return_val_if_fail (cfg && cfg->identity && cfg->stream, NULL);
  if (!cfg->publisher || !diode_msg_address_is_valid (cfg->publisher)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "a direct path needs the publisher's address to check");
    return NULL;
  }
  v = g_new0 (DiodeDirectViewer, 1);
  if (!direct_notify_init (&v->notify, error)) {
    g_free (v);
    return NULL;
  }
  v->identity = diode_identity_ref (cfg->identity);
  v->stream = g_strdup (cfg->stream);
  v->publisher = g_ascii_strdown (cfg->publisher, -1);
  v->stun_server = g_strdup (cfg->stun_server);
  v->turn_server = g_strdup (cfg->turn_server);
  v->transport = cfg->transport;
  v->queue_max = cfg->queue_bytes ? cfg->queue_bytes : VIEWER_QUEUE_DEFAULT;
  /* new for each attempt, non-zero, unguessable to the relay's other
   * clients (they never see it anyway) */
  v->sid = g_random_int_range (1, G_MAXINT32);
  g_mutex_init (&v->lock);
  g_queue_init (&v->signals);
  g_queue_init (&v->events);
  direct_loop_start (&v->loop, "diode-direct-view");
  return v;
}

static gboolean
viewer_teardown (gpointer data)
{
  DiodeDirectViewer *v = data;

  viewer_release (v);
  g_clear_pointer (&v->early, g_ptr_array_unref);
  return G_SOURCE_REMOVE;
}

void
diode_direct_viewer_free (DiodeDirectViewer * v)
{
  if (!v)
    return;
  direct_loop_call_sync (&v->loop, viewer_teardown, v);
  direct_loop_stop (&v->loop);
  g_queue_clear_full (&v->signals, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&v->events, (GDestroyNotify) event_free);
  direct_notify_clear (&v->notify);
  g_mutex_clear (&v->lock);
  diode_identity_unref (v->identity);
  g_free (v->stream);
  g_free (v->publisher);
  g_free (v->stun_server);
  g_free (v->turn_server);
  g_free (v->pair);
  g_free (v->ice_pair);
  g_free (v);
}

void
diode_direct_viewer_start (DiodeDirectViewer * v)
{
  direct_loop_invoke (&v->loop, viewer_on_start, v, NULL);
}

void
diode_direct_viewer_set_next_seq (DiodeDirectViewer * v, guint64 seq)
{
  g_mutex_lock (&v->lock);
  v->next_seq = seq;
  g_mutex_unlock (&v->lock);
}

void
diode_direct_viewer_handle_signal (DiodeDirectViewer * v, const DiodeMsg * m)
{
  /* another attempt's, or one that crossed our CLOSE: ignored (17.2) */
  if (m->type != DIODE_MSG_SIGNAL || m->sid != v->sid)
    return;
  direct_loop_invoke_signal (&v->loop, viewer_on_signal, v, m);
}

int
diode_direct_viewer_get_fd (DiodeDirectViewer * v)
{
  return v->notify.fd;
}

GBytes *
diode_direct_viewer_next_signal (DiodeDirectViewer * v)
{
  GBytes *f;

  g_mutex_lock (&v->lock);
  f = g_queue_pop_head (&v->signals);
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
  return f;
}

DiodeDirectEvent
diode_direct_viewer_next (DiodeDirectViewer * v, DiodeMsg * msg, gchar ** text)
{
  ViewerEvent *e;
  DiodeDirectEvent type;

  g_mutex_lock (&v->lock);
  e = g_queue_pop_head (&v->events);
  if (e && e->type == DIODE_DIRECT_MSG)
    v->queued -= e->size;
  viewer_notify_update (v);
  g_mutex_unlock (&v->lock);
  if (!e)
    return DIODE_DIRECT_NONE;
  type = e->type;
  if (type == DIODE_DIRECT_MSG && msg) {
    *msg = e->msg;
    memset (&e->msg, 0, sizeof e->msg);
  } else if (text) {
    *text = e->text;
    e->text = NULL;
  }
  event_free (e);
  return type;
}

guint64
diode_direct_viewer_peek_seq (DiodeDirectViewer * v)
{
  guint64 seq = 0;
  GList *l;

  g_mutex_lock (&v->lock);
  for (l = v->events.head; l; l = l->next) {
    ViewerEvent *e = l->data;

    if (e->type == DIODE_DIRECT_MSG && e->msg.type == DIODE_MSG_MEDIA) {
      seq = e->msg.seq;
      break;
    }
  }
  g_mutex_unlock (&v->lock);
  return seq;
}

void
diode_direct_viewer_get_stats (DiodeDirectViewer * v,
    DiodeDirectViewerStats * stats)
{
  g_mutex_lock (&v->lock);
  stats->bytes_received = v->bytes_received;
  stats->pair = g_strdup (v->pair);
  g_mutex_unlock (&v->lock);
}
