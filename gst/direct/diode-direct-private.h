/* gst-diode — what the two ends of direct paths share (internal)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * DirectLoop: the one thread and GMainContext each end runs on.
 * DirectNotify: the eventfd the element polls, readable while something
 * waits for it. DirectConn: one diode session inside TLS on a connected
 * non-blocking fd (the ICE byte stream), with its write queue, keepalive
 * and stall timers; the server and the viewer put their protocol logic on
 * top of it. Everything here except DirectNotify runs on the loop's thread.
 */
#pragma once

#include <glib.h>
#include "diode-msg.h"
#include "diode-session.h"
#include "diode-identity.h"
#include "diode-ice.h"

G_BEGIN_DECLS

/* ---- the thread -------------------------------------------------------- */

typedef struct {
  GMainContext *ctx;
  GMainLoop *loop;
  GThread *thread;
} DirectLoop;

void      direct_loop_start  (DirectLoop * l, const gchar * name);
/* Runs @func(@data) on the loop's thread, always later (never inside this
 * call), then @destroy(@data). */
void      direct_loop_invoke (DirectLoop * l, GSourceFunc func, gpointer data,
    GDestroyNotify destroy);
/* Runs @func on the thread and waits for it (teardown). */
void      direct_loop_call_sync (DirectLoop * l, GSourceFunc func, gpointer data);
/* Quits and joins the thread, frees the context. */
void      direct_loop_stop   (DirectLoop * l);

/* A SIGNAL the element handed over, copied for the loop's thread. */
typedef struct {
  gpointer owner;               /* the DiodeDirectServer or Viewer */
  guint32 sid;
  guint8 kind;
  gchar *peer;
  gchar *data;
} DirectSignalIn;

/* Copies @m (a SIGNAL) and runs @func(the copy) on @l's thread, later;
 * the copy is freed after. */
void      direct_loop_invoke_signal (DirectLoop * l, GSourceFunc func,
    gpointer owner, const DiodeMsg * m);

/* ---- the element's fd ---------------------------------------------------- */

typedef struct {
  int fd;
  gboolean set;
} DirectNotify;

gboolean  direct_notify_init  (DirectNotify * n, GError ** error);
void      direct_notify_clear (DirectNotify * n);
/* Both under the owner's lock. */
void      direct_notify_raise (DirectNotify * n);
void      direct_notify_lower (DirectNotify * n);

/* ---- ICE configuration --------------------------------------------------- */

/* DIODE_ICE_LOCAL_ADDRESSES (comma list), read once per process: the test
 * and benchmark hook that limits host candidates. NULL when unset. */
const gchar *const *direct_env_local_addresses (void);

/* ---- text from peers ----------------------------------------------------- */

/* Peer text (CLOSE reasons, ERROR texts) made safe for logs and events:
 * escaped, at most 200 characters. */
gchar    *direct_escape (const gchar * text);

/* ---- one TLS + diode session over an fd ---------------------------------- */

typedef struct _DirectConn DirectConn;

typedef struct {
  /* TLS is done and the peer's certificate checked: the owner checks the
   * address. FALSE: the connection closes (reason in *reason, owned by
   * the conn after). */
  gboolean (*handshaked) (DirectConn * c, const gchar * peer, gchar ** reason,
      gpointer data);
  /* One message, owned by the callee (diode_msg_clear it). PING is
   * answered and PONG absorbed here, never passed on. */
  void (*message) (DirectConn * c, DiodeMsg * m, gpointer data);
  /* The write queue went below the low-water mark: room for more. */
  void (*drained) (DirectConn * c, gpointer data);
  /* The connection is over (EOF, error, timeout, direct_conn_fail): the
   * owner frees it, here or later; never called again. */
  void (*closed) (DirectConn * c, const gchar * reason, gpointer data);
} DirectConnFuncs;

/* Queued bytes under which drained() is called. */
#define DIRECT_CONN_LOW_WATER (128 * 1024)

/* Takes @fd (closed by free). @server: TLS server (the publisher). */
DirectConn *direct_conn_new (GMainContext * ctx, int fd, gboolean server,
    DiodeIdentity * id, DiodeSessionEnd end, const DirectConnFuncs * funcs,
    gpointer data, GError ** error);
/* No callback is called after or from inside this. */
void      direct_conn_free (DirectConn * c);
DiodeSession *direct_conn_session (DirectConn * c);
/* Appends a whole frame to the write queue (a ref is taken) and tells the
 * session (diode_session_sent); FALSE when the session refuses to send
 * it (the frame is not queued). */
gboolean  direct_conn_send (DirectConn * c, GBytes * frame, DiodeMsgType type);
/* The same without telling the session: for HELLO, which the caller
 * reports with diode_session_sent_hello(). */
void      direct_conn_queue (DirectConn * c, GBytes * frame);
gsize     direct_conn_queued (DirectConn * c);
/* Total plaintext bytes written to TLS. */
guint64   direct_conn_bytes_out (DirectConn * c);
/* The whole setup (TLS, HELLO, SUBSCRIBE) must be over by @ms from now,
 * until clear_deadline. */
void      direct_conn_set_deadline (DirectConn * c, guint ms);
void      direct_conn_clear_deadline (DirectConn * c);
/* Keepalive (section 11) with period @interval_ms. */
void      direct_conn_start_keepalive (DirectConn * c, guint interval_ms);
/* Close when data waits and nothing was written for @ms (0: never). */
void      direct_conn_set_stall_limit (DirectConn * c, guint ms);
/* Ends it: @code (0: none) is sent as ERROR first, best effort; closed()
 * follows from the loop, never from inside this call. */
void      direct_conn_fail (DirectConn * c, guint16 code, const gchar * reason);

/* ---- test hooks ---------------------------------------------------------- */

/* What DIODE_ICE_EVENT_CONNECTED does, with @fd (taken) in place of the
 * ICE stream's: tests of the TLS and protocol part run over a socketpair,
 * as DiodeIce hands one over. Server: as if the relay had vouched for
 * @viewer in an OFFER of session @sid. */
struct _DiodeDirectServer;
struct _DiodeDirectViewer;
void      direct_server_test_adopt (struct _DiodeDirectServer * s, guint32 sid,
    const gchar * viewer, int fd);
void      direct_viewer_test_adopt (struct _DiodeDirectViewer * v, int fd);
guint32   direct_viewer_test_sid (struct _DiodeDirectViewer * v);
/* The viewer stops reading its direct session (as a stuck viewer would):
 * the publisher's bounds must close it. */
void      direct_viewer_test_stop_reading (struct _DiodeDirectViewer * v);
/* The most bytes any one session's write queue held so far. */
gsize     direct_server_test_queue_peak (struct _DiodeDirectServer * s);
void      direct_conn_test_pause (DirectConn * c);
/* A shorter setup deadline (TLS to SUBSCRIBE_OK), before any session. */
void      direct_server_test_set_setup_ms (struct _DiodeDirectServer * s,
    guint ms);

G_END_DECLS
