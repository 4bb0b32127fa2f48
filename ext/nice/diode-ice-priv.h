/* gst-diode — internals shared by the ICE layer's files (not installed)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "diode-ice.h"

#include <nice/agent.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* A STUN or TURN server as parsed from its URI (diode-ice-uri.c). */
typedef struct {
  gchar   *host;     /* name or address, as written (no brackets) */
  guint16  port;
  gchar   *user;     /* TURN only, decoded */
  gchar   *pass;     /* TURN only, decoded; wiped on clear */
  gboolean tcp;      /* TURN: ?transport=tcp */
} DiodeIceServer;

gboolean diode_ice_parse_stun (const gchar * uri, DiodeIceServer * out,
    GError ** error);
gboolean diode_ice_parse_turn (const gchar * uri, DiodeIceServer * out,
    GError ** error);
void     diode_ice_server_clear (DiodeIceServer * s);

/* The descriptor of the selected ICE-TCP pair's kernel socket (skipping
 * @skip1, @skip2), or -1 (diode-ice-tcp.c). Only ever polled. */
int      diode_ice_find_tcp_fd (NiceAgent * agent, guint stream_id,
    int skip1, int skip2);

/* ---- the DiodeIce object, shared by diode-ice.c (agent, signalling,
 * events) and diode-ice-pump.c (the bytes between fd and ICE) */

/* Each way, what we hold ourselves on top of the kernel's socketpair
 * buffers and the transport's window: enough for 4 Mbit/s with room. */
#define DIODE_ICE_BUF_SIZE   (256 * 1024)
/* One nice_agent_send(): bounds what libnice queues on ICE-TCP. */
#define DIODE_ICE_SEND_CHUNK (16 * 1024)
#define DIODE_ICE_DEFAULT_TIMEOUT_MS 15000
/* While the transport is full, look again this often in case no
 * writable signal comes (the kernel buffer filled exactly: nothing queued
 * in libnice, so nothing to signal the drain of). */
#define DIODE_ICE_RETRY_MS   10
/* AUTO: how long ICE-TCP has before UDP candidates join (release_udp):
 * a TCP check takes two round trips plus the checks' pacing; 1 s covers
 * round trips up to ~300 ms. */
#define DIODE_ICE_TCP_GRACE_MS 1000
/* AUTO: most peer UDP candidates kept meanwhile (the relay forwards at
 * most 128 signals per session) */
#define DIODE_ICE_MAX_HELD   128

typedef struct {
  guint8 *data;
  gsize start, len;
} Buf;

typedef struct {
  DiodeIceEvent event;
  gchar *text;
} Pending;

struct _DiodeIce {
  gint ref;
  gboolean freed;
  GMainContext *ctx;
  DiodeIceFunc func;
  gpointer user_data;
  DiodeIceTransport transport;
  guint timeout_ms;

  NiceAgent *agent;
  guint stream_id;
  GIOStream *io;
  GPollableInputStream *nin;
  GPollableOutputStream *nout;

  DiodeIceServer stun, turn;
  gchar *stun_ip, *turn_ip;
  guint resolving;
  GCancellable *cancel;

  GQueue events;
  GSource *event_src;
  GSource *timeout_src;
  GSource *nice_in_src;
  GSource *fd_in_src;
  GSource *fd_out_src;
  GSource *retry_src;

  int fd;           /* our end of the socketpair */
  int peer_fd;      /* the caller's end until taken */
  gboolean connected, failed;
  gboolean fd_eof;          /* the caller closed (or shut) its writing */
  gboolean ice_out_closed;  /* we shut ICE's write side after fd_eof */
  gboolean ice_blocked;     /* the transport took no more: wait */
  gboolean ice_eof;         /* the peer closed its side */
  gchar *pair_types;
  gboolean sel_tcp;         /* the selected pair is ICE-TCP (else pseudo-TCP) */
  /* AUTO: the peer's UDP candidates (and its GATHERED) wait until ICE-TCP
   * had its chance (see hold_udp) */
  GPtrArray *held_udp;
  gboolean held_gathered;
  gboolean udp_released;
  GSource *grace_src;
  int tcp_fd;               /* ICE-TCP: the selected pair's socket, or -1 */

  Buf out;          /* fd -> ICE */
  Buf in;           /* ICE -> fd */

  GMutex lock;      /* the counters: 64-bit, read from other threads */
  guint64 bytes_out, bytes_in;
};

void diode_ice_fail (DiodeIce * ice, const gchar * reason);
void diode_ice_drop_source (GSource ** src);
/* fd -> ICE, ICE -> fd (diode-ice-pump.c) */
void diode_ice_pump_out (DiodeIce * ice);
void diode_ice_pump_in (DiodeIce * ice);
void diode_ice_watch_fd_in (DiodeIce * ice);
void diode_ice_watch_nice_in (DiodeIce * ice);
void diode_ice_on_transport_writable (NiceAgent * agent, guint stream_id,
    guint component, gpointer data);

G_END_DECLS
