/* gst-diode — diode-load: diode viewers over TLS
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each viewer is a real diode client: TCP connect, TLS 1.3 (DiodeTls
 * client, one DiodeIdentity shared by every connection), HELLO as VIEWER,
 * SUBSCRIBE (start at the latest keyframe, wait for the stream), then it
 * reads frames through its own DiodeSession (CLIENT_END); what it counts is
 * load_count_msg()'s (diode-load-common.c). It answers PING with PONG and
 * sends its own keepalive PINGs.
 */
#define _GNU_SOURCE
#include "diode-load.h"

#include <sys/epoll.h>

static DiodeIdentity *identity;

gboolean
tls_init (GError ** error)
{
  identity = diode_identity_load_or_create (opt.identity, error);
  return identity != NULL;
}

void
tls_cleanup (void)
{
  g_clear_pointer (&identity, diode_identity_unref);
}

/* TLS mode: push the queued plaintext; returns FALSE if the viewer died. */
static gboolean
tls_flush (Viewer * v)
{
  while (v->outq->len > 0) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (v->tls, v->outq->data, v->outq->len,
        &n, &err);
    if (st == DIODE_TLS_OK) {
      g_byte_array_remove_range (v->outq, 0, n);
      continue;
    }
    g_clear_error (&err);
    if (st == DIODE_TLS_AGAIN) {
      set_events (v, EPOLLIN | EPOLLOUT);
      return TRUE;
    }
    viewer_fail (v, "tls send failed");
    return FALSE;
  }
  set_events (v, EPOLLIN);
  return TRUE;
}

static gboolean
tls_queue (Viewer * v, GBytes * frame, DiodeMsgType type)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);
  diode_session_sent (v->sess, type, 0, NULL);
  g_byte_array_append (v->outq, d, len);
  g_bytes_unref (frame);
  return tls_flush (v);
}

static void
handle_msg (Viewer * v, DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      if (v->st == V_WELCOME) {
        gchar *name = viewer_stream_name (v);
        GBytes *sub = diode_msg_encode_subscribe (name, 0, opt.wait_ms);
        g_free (name);
        v->st = V_SUBSCRIBING;
        tls_queue (v, sub, DIODE_MSG_SUBSCRIBE);
      }
      break;
    case DIODE_MSG_MEDIA:
      /* Keepalive (protocol section 11): a viewer sends something at least
       * every keepalive period; media flowing in is a cheap clock for it. */
      if (now_ns () - v->t_ping_ns > 400 * G_GINT64_CONSTANT (1000000)) {
        v->t_ping_ns = now_ns ();
        if (!tls_queue (v, diode_msg_encode_ping (++v->ping_token),
                DIODE_MSG_PING))
          return;
      }
      load_count_msg (v, m);
      break;
    case DIODE_MSG_PING:
      tls_queue (v, diode_msg_encode_pong (m->token), DIODE_MSG_PONG);
      break;
    default:
      load_count_msg (v, m);
      break;
  }
}

static void
tls_on_handshake_done (Viewer * v)
{
  if (opt.relay_id && g_ascii_strcasecmp (opt.relay_id,
          diode_tls_get_peer_address (v->tls)) != 0) {
    viewer_fail (v, "relay-id mismatch");
    return;
  }
  v->sess = diode_session_new (DIODE_SESSION_CLIENT_END);
  v->st = V_WELCOME;
  tls_queue (v, diode_msg_encode_hello (DIODE_PROTOCOL_VERSION,
          DIODE_PROTOCOL_VERSION, DIODE_ROLE_VIEWER, AGENT), DIODE_MSG_HELLO);
}

static void
tls_handshake_step (Viewer * v)
{
  GError *err = NULL;
  DiodeTlsStatus st = diode_tls_handshake (v->tls, &err);

  if (st == DIODE_TLS_OK) {
    tls_on_handshake_done (v);
  } else if (st == DIODE_TLS_AGAIN) {
    set_events (v, diode_tls_wants_write (v->tls) ? EPOLLOUT : EPOLLIN);
  } else {
    gchar *why = g_strdup_printf ("tls handshake: %s",
        err ? err->message : "failed");
    viewer_fail (v, g_intern_string (why));
    g_free (why);
  }
  g_clear_error (&err);
}

static void
tls_read (Viewer * v)
{
  for (;;) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (v->tls, rbuf, RBUF_SIZE, &n, &err);

    if (st == DIODE_TLS_OK) {
      DiodeMsg m;
      DiodeSessionResult r;

      v->bytes += n;
      diode_session_feed (v->sess, rbuf, n);
      while ((r = diode_session_next (v->sess, &m, &err)) ==
          DIODE_SESSION_MESSAGE) {
        handle_msg (v, &m);
        diode_msg_clear (&m);
        if (v->st == V_DEAD)
          return;
      }
      if (r == DIODE_SESSION_ERROR) {
        gchar *why = g_strdup_printf ("protocol: %s", err->message);
        g_clear_error (&err);
        viewer_fail (v, g_intern_string (why));
        g_free (why);
        return;
      }
      continue;
    }
    if (st == DIODE_TLS_AGAIN)
      return;
    if (st == DIODE_TLS_CLOSED) {
      viewer_fail (v, v->was_ready ? "closed by server" :
          "closed by server before SUBSCRIBE_OK");
    } else {
      gchar *why = g_strdup_printf ("tls receive: %s",
          err ? err->message : "failed");
      viewer_fail (v, g_intern_string (why));
      g_free (why);
    }
    g_clear_error (&err);
    return;
  }
}

void
tls_connected (Viewer * v)
{
  GError *e = NULL;

  v->tls = diode_tls_new_client (v->fd, identity, NULL, &e);
  if (!v->tls) {
    logf_ ("%s", e->message);
    g_clear_error (&e);
    viewer_fail (v, "tls setup failed");
    return;
  }
  v->outq = v->outq ? v->outq : g_byte_array_new ();
  v->st = V_HANDSHAKE;
  tls_handshake_step (v);
}

void
tls_event (Viewer * v, guint32 ev)
{
  switch (v->st) {
    case V_HANDSHAKE:
      tls_handshake_step (v);
      break;
    case V_WELCOME:
    case V_SUBSCRIBING:
    case V_STREAMING:
      if ((ev & EPOLLOUT) && v->outq->len > 0 && !tls_flush (v))
        break;
      if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        tls_read (v);
      break;
    default:
      break;
  }
}

/* Keepalive on a clock, as diodesrc does: a viewer the relay has not served
 * for a while (a crowd joining at once) must still say it is alive, or it is
 * closed as silent after three keepalive periods. At most every 100 ms. */
void
tls_keepalive_sweep (gint64 * t_sweep)
{
  gint64 t = now_ns ();
  guint i;

  if (opt.mode != MODE_TLS || t - *t_sweep < 100 * G_GINT64_CONSTANT (1000000))
    return;
  *t_sweep = t;
  for (i = 0; i < (guint) opt.n; i++) {
    Viewer *v = &viewers[i];

    if ((v->st == V_SUBSCRIBING || v->st == V_STREAMING)
        && t - v->t_ping_ns > 400 * G_GINT64_CONSTANT (1000000)) {
      v->t_ping_ns = t;
      tls_queue (v, diode_msg_encode_ping (++v->ping_token), DIODE_MSG_PING);
    }
  }
}

void
tls_viewer_close (Viewer * v)
{
  if (v->tls)
    diode_tls_bye (v->tls);
}
