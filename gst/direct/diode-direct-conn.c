/* gst-diode — direct paths: one diode session inside TLS over an fd
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The fd is the caller's end of the ICE byte stream (ext/nice), or any
 * connected stream socket: the conn neither knows nor cares. One GSource
 * watches the fd (in, and out while frames wait) and carries the timers
 * (setup deadline, keepalive, write stall) as its ready time, so a conn is
 * one source on the owner's context. Callbacks are made from that source's
 * dispatch only, and closed() is the last thing a dispatch does, so the
 * owner may free the conn inside it.
 */
#define G_LOG_DOMAIN "diode-direct"
#include "diode-direct-private.h"
#include "diode-tls.h"
#include "diode-keepalive.h"

#include <gio/gio.h>
#include <string.h>
#include <unistd.h>

#define READ_BUF         (64 * 1024)
/* reads per dispatch: one busy peer cannot starve the other sessions */
#define READS_PER_ROUND  16

typedef enum {
  CONN_HANDSHAKE,
  CONN_OPEN,
  CONN_DEAD,
} ConnState;

struct _DirectConn {
  GSource *source;              /* ours; its callback data is the conn */
  gpointer fd_tag;
  int fd;
  DiodeTls *tls;
  DiodeSession *session;
  ConnState state;
  const DirectConnFuncs *funcs;
  gpointer data;

  GQueue out;                   /* GBytes frames waiting */
  gsize out_off;                /* bytes of the head already written */
  gsize queued;                 /* bytes in out, minus out_off */
  gboolean was_high;            /* queued went over the low-water mark */
  guint64 bytes_out;

  gint64 deadline;              /* setup must be over by then, 0 none */
  gboolean keepalive_on;
  DiodeKeepalive ka;
  guint stall_ms;
  gint64 last_progress;         /* last write that moved bytes, or when the
                                   queue went from empty to non-empty */
  guint64 ping_token;

  gboolean paused;              /* test hook: reads nothing */
  gboolean kick;                /* dispatch again at once (more to read,
                                   TLS just done) */
  gchar *fail_reason;           /* set when it died: closed() carries it */
  gboolean reported;            /* closed() was called */
  guint8 *buf;
};

static gboolean conn_dispatch (GSource * src, GSourceFunc cb, gpointer data);

static GSourceFuncs conn_source_funcs = {
  NULL, NULL, conn_dispatch, NULL, NULL, NULL
};

typedef struct {
  GSource parent;
  DirectConn *conn;
} ConnSource;

static void
conn_die (DirectConn * c, const gchar * reason)
{
  if (c->state == CONN_DEAD)
    return;
  g_debug ("conn %p dies: %s", c, reason);
  c->state = CONN_DEAD;
  c->fail_reason = g_strdup (reason);
  if (c->tls)
    diode_tls_bye (c->tls);
  /* report at the next dispatch, right away */
  g_source_modify_unix_fd (c->source, c->fd_tag, 0);
  g_source_set_ready_time (c->source, 0);
}

static void
conn_update (DirectConn * c)
{
  GIOCondition cond = 0;
  gint64 t = -1;

  if (c->state == CONN_DEAD)
    return;
  if (c->state == CONN_HANDSHAKE)
    cond = diode_tls_wants_write (c->tls) ? G_IO_OUT : G_IO_IN;
  else
    cond = (c->paused ? 0 : G_IO_IN) | (c->out.length ? G_IO_OUT : 0);
  g_source_modify_unix_fd (c->source, c->fd_tag, cond);

  if (c->deadline)
    t = c->deadline;
  if (c->keepalive_on) {
    gint64 next = G_MAXINT64;

    diode_keepalive_check (&c->ka, g_get_monotonic_time (), &next);
    if (next != G_MAXINT64 && (t < 0 || next < t))
      t = next;
  }
  if (c->stall_ms && c->out.length) {
    gint64 s = c->last_progress + (gint64) c->stall_ms * 1000;

    if (t < 0 || s < t)
      t = s;
  }
  if (c->kick)
    t = 0;
  g_source_set_ready_time (c->source, t);
}

DirectConn *
direct_conn_new (GMainContext * ctx, int fd, gboolean server,
    DiodeIdentity * id, DiodeSessionEnd end, const DirectConnFuncs * funcs,
    gpointer data, GError ** error)
{
  DirectConn *c;
  DiodeTls *tls;

  tls = server ? diode_tls_new_server (fd, id, error)
      : diode_tls_new_client (fd, id, NULL, error);
  if (!tls) {
    close (fd);
    return NULL;
  }
  c = g_new0 (DirectConn, 1);
  c->fd = fd;
  c->tls = tls;
  c->session = diode_session_new (end);
  c->funcs = funcs;
  c->data = data;
  c->state = CONN_HANDSHAKE;
  g_queue_init (&c->out);
  c->buf = g_malloc (READ_BUF);
  c->last_progress = g_get_monotonic_time ();
  c->source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  ((ConnSource *) c->source)->conn = c;
  g_source_set_name (c->source, "diode-direct-conn");
  c->fd_tag = g_source_add_unix_fd (c->source, fd, G_IO_IN);
  g_source_attach (c->source, ctx);
  /* the handshake's first flight: a client writes first */
  c->kick = TRUE;
  conn_update (c);
  return c;
}

void
direct_conn_free (DirectConn * c)
{
  if (!c)
    return;
  if (c->tls && c->state != CONN_DEAD)
    diode_tls_bye (c->tls);
  g_source_destroy (c->source);
  g_source_unref (c->source);
  diode_tls_free (c->tls);
  close (c->fd);
  diode_session_free (c->session);
  g_queue_clear_full (&c->out, (GDestroyNotify) g_bytes_unref);
  g_free (c->fail_reason);
  g_free (c->buf);
  g_free (c);
}

DiodeSession *
direct_conn_session (DirectConn * c)
{
  return c->session;
}

gsize
direct_conn_queued (DirectConn * c)
{
  return c->queued;
}

guint64
direct_conn_bytes_out (DirectConn * c)
{
  return c->bytes_out;
}

void
direct_conn_set_deadline (DirectConn * c, guint ms)
{
  c->deadline = g_get_monotonic_time () + (gint64) ms * 1000;
  conn_update (c);
}

void
direct_conn_start_keepalive (DirectConn * c, guint interval_ms)
{
  c->keepalive_on = TRUE;
  diode_keepalive_init (&c->ka, interval_ms, g_get_monotonic_time ());
  conn_update (c);
}

void
direct_conn_test_pause (DirectConn * c)
{
  c->paused = TRUE;
  conn_update (c);
}

void
direct_conn_clear_deadline (DirectConn * c)
{
  c->deadline = 0;
  conn_update (c);
}

void
direct_conn_set_stall_limit (DirectConn * c, guint ms)
{
  c->stall_ms = ms;
  conn_update (c);
}

static void
queue_frame (DirectConn * c, GBytes * frame)
{
  if (!c->out.length)
    c->last_progress = g_get_monotonic_time ();
  g_queue_push_tail (&c->out, g_bytes_ref (frame));
  c->queued += g_bytes_get_size (frame);
  if (c->queued > DIRECT_CONN_LOW_WATER)
    c->was_high = TRUE;
}

void
direct_conn_queue (DirectConn * c, GBytes * frame)
{
  if (c->state != CONN_OPEN)
    return;
  queue_frame (c, frame);
  conn_update (c);
}

gboolean
direct_conn_send (DirectConn * c, GBytes * frame, DiodeMsgType type)
{
  if (c->state != CONN_OPEN)
    return FALSE;
  if (!diode_session_sent (c->session, type, 0, NULL))
    return FALSE;
  queue_frame (c, frame);
  conn_update (c);
  return TRUE;
}

/* Writes what it can. FALSE when the conn died. */
static gboolean
conn_flush (DirectConn * c)
{
  gint64 now = g_get_monotonic_time ();

  while (c->out.length) {
    GBytes *head = g_queue_peek_head (&c->out);
    gsize size, n = 0;
    const guint8 *p = g_bytes_get_data (head, &size);
    GError *err = NULL;
    DiodeTlsStatus st;

    st = diode_tls_send (c->tls, p + c->out_off, size - c->out_off, &n, &err);
    if (st == DIODE_TLS_AGAIN)
      break;
    if (st != DIODE_TLS_OK) {
      gchar *r = g_strdup_printf ("write: %s",
          err ? err->message : "connection closed");

      g_clear_error (&err);
      conn_die (c, r);
      g_free (r);
      return FALSE;
    }
    c->last_progress = now;
    c->bytes_out += n;
    c->out_off += n;
    c->queued -= n;
    if (c->keepalive_on)
      diode_keepalive_sent (&c->ka, now);
    if (c->out_off == size) {
      g_bytes_unref (g_queue_pop_head (&c->out));
      c->out_off = 0;
    }
  }
  return TRUE;
}

/* The keepalive PING (PONGs are queued like any frame). */
static void
conn_send_ping (DirectConn * c)
{
  GBytes *f = diode_msg_encode_ping (++c->ping_token);

  if (diode_session_sent (c->session, DIODE_MSG_PING, 0, NULL))
    queue_frame (c, f);
  g_bytes_unref (f);
}

static void
conn_session_error (DirectConn * c, GError * err)
{
  gchar *r;

  /* the peer's own fatal ERROR came as a message first (handled there);
   * an error of ours is reported to the peer before closing */
  if (err->domain == DIODE_PROTOCOL_ERROR && err->code >= 200) {
    GBytes *f = diode_msg_encode_error (err->code, err->message);

    diode_session_sent (c->session, DIODE_MSG_ERROR, err->code, NULL);
    queue_frame (c, f);
    g_bytes_unref (f);
    conn_flush (c);
  }
  r = g_strdup_printf ("protocol error: %s", err->message);
  conn_die (c, r);
  g_free (r);
}

/* One message out of the session. FALSE when the conn died. */
static gboolean
conn_handle (DirectConn * c, DiodeMsg * m)
{
  if (m->type == DIODE_MSG_PING) {
    GBytes *f = diode_msg_encode_pong (m->token);

    if (diode_session_sent (c->session, DIODE_MSG_PONG, 0, NULL))
      queue_frame (c, f);
    g_bytes_unref (f);
    diode_msg_clear (m);
    return TRUE;
  }
  if (m->type == DIODE_MSG_PONG) {
    diode_msg_clear (m);
    return TRUE;
  }
  if (m->type == DIODE_MSG_ERROR && diode_error_code_is_fatal (m->error_code)) {
    gchar *t = direct_escape (m->error_text);
    gchar *r = g_strdup_printf ("peer sent ERROR %u: %s", m->error_code, t);

    conn_die (c, r);
    g_free (r);
    g_free (t);
    diode_msg_clear (m);
    return FALSE;
  }
  c->funcs->message (c, m, c->data);
  return c->state != CONN_DEAD;
}

/* Reads and hands out messages. FALSE when the conn died. */
static gboolean
conn_read (DirectConn * c)
{
  guint round;

  for (round = 0; round < READS_PER_ROUND; round++) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_recv (c->tls, c->buf, READ_BUF, &n, &err);
    DiodeMsg m = { 0 };
    DiodeSessionResult res;

    if (st == DIODE_TLS_AGAIN)
      return TRUE;
    if (st == DIODE_TLS_CLOSED) {
      conn_die (c, "closed by the peer");
      return FALSE;
    }
    if (st == DIODE_TLS_ERROR) {
      gchar *r = g_strdup_printf ("read: %s", err->message);

      g_error_free (err);
      conn_die (c, r);
      g_free (r);
      return FALSE;
    }
    if (c->keepalive_on)
      diode_keepalive_received (&c->ka, g_get_monotonic_time ());
    diode_session_feed (c->session, c->buf, n);
    while ((res = diode_session_next (c->session, &m, &err))
        == DIODE_SESSION_MESSAGE) {
      if (!conn_handle (c, &m))
        return FALSE;
      memset (&m, 0, sizeof m);
    }
    if (res == DIODE_SESSION_ERROR) {
      conn_session_error (c, err);
      g_error_free (err);
      return FALSE;
    }
  }
  /* more may wait: come back after the other sources had their turn */
  c->kick = TRUE;
  return TRUE;
}

static void
conn_handshake (DirectConn * c)
{
  GError *err = NULL;
  DiodeTlsStatus st = diode_tls_handshake (c->tls, &err);
  gchar *reason = NULL;

  if (st == DIODE_TLS_AGAIN)
    return;
  if (st != DIODE_TLS_OK) {
    gchar *r = g_strdup_printf ("TLS handshake: %s",
        err ? err->message : "connection closed");

    g_clear_error (&err);
    conn_die (c, r);
    g_free (r);
    return;
  }
  if (!diode_tls_check_peer_certificate (c->tls, &err)) {
    gchar *r = g_strdup_printf ("peer certificate: %s", err->message);

    g_error_free (err);
    conn_die (c, r);
    g_free (r);
    return;
  }
  c->state = CONN_OPEN;
  if (!c->funcs->handshaked (c, diode_tls_get_peer_address (c->tls),
          &reason, c->data)) {
    conn_die (c, reason ? reason : "refused");
    g_free (reason);
    return;
  }
  /* the peer's first frames may already sit decrypted inside GnuTLS */
  c->kick = TRUE;
}

static gboolean
conn_dispatch (GSource * src, GSourceFunc cb, gpointer data)
{
  DirectConn *c = ((ConnSource *) src)->conn;
  GIOCondition rev = g_source_query_unix_fd (src, c->fd_tag);
  gint64 now = g_get_monotonic_time ();

  c->kick = FALSE;
  g_source_set_ready_time (src, -1);
  if (c->state == CONN_HANDSHAKE)
    conn_handshake (c);

  if (c->state == CONN_OPEN && !c->paused
      && ((rev & (G_IO_IN | G_IO_HUP | G_IO_ERR))
          || diode_tls_pending (c->tls) > 0))
    conn_read (c);
  if (c->state == CONN_OPEN && c->out.length)
    conn_flush (c);

  if (c->state != CONN_DEAD) {
    if (c->deadline && now >= c->deadline)
      conn_die (c, "setup timed out");
    else if (c->keepalive_on) {
      DiodeKeepaliveAction a = diode_keepalive_check (&c->ka, now, NULL);

      if (a == DIODE_KEEPALIVE_DEAD)
        conn_die (c, "keepalive timeout: the peer went silent");
      else if (a == DIODE_KEEPALIVE_PING && c->state == CONN_OPEN) {
        conn_send_ping (c);
        conn_flush (c);
      }
    }
  }
  if (c->state == CONN_OPEN && c->stall_ms && c->out.length
      && now - c->last_progress > (gint64) c->stall_ms * 1000) {
    gchar *r = g_strdup_printf ("no write progress for %u ms", c->stall_ms);

    conn_die (c, r);
    g_free (r);
  }

  if (c->state == CONN_OPEN && c->was_high
      && c->queued < DIRECT_CONN_LOW_WATER) {
    c->was_high = FALSE;
    c->funcs->drained (c, c->data);
    if (c->state == CONN_OPEN && c->out.length)
      conn_flush (c);
  }

  if (c->state == CONN_DEAD) {
    if (!c->reported) {
      c->reported = TRUE;
      /* the last thing: the owner may free c in it */
      c->funcs->closed (c, c->fail_reason, c->data);
    }
    return G_SOURCE_CONTINUE;
  }
  conn_update (c);
  return G_SOURCE_CONTINUE;
}

void
direct_conn_fail (DirectConn * c, guint16 code, const gchar * reason)
{
  if (c->state == CONN_DEAD)
    return;
  if (code && c->state == CONN_OPEN) {
    GBytes *f = diode_msg_encode_error (code, reason);

    diode_session_sent (c->session, DIODE_MSG_ERROR, code, NULL);
    queue_frame (c, f);
    g_bytes_unref (f);
    conn_flush (c);
  }
  conn_die (c, reason);
}
