/* gst-diode — one ICE connection (libnice) as a reliable byte stream on an fd
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A DiodeIce wraps one NiceAgent with one stream of one component. It knows
 * nothing of the diode protocol: credentials and candidates go out through
 * a callback as strings (the direct layer carries them in SIGNAL frames),
 * the remote ones come in by function, and once ICE has selected a pair and
 * the reliable transport is up, the caller gets a connected non-blocking fd
 * (one end of a socketpair) carrying the byte stream both ways, on which it
 * runs TLS as on a TCP socket. Everything runs on the GMainContext given at
 * creation (the caller's thread iterates it); every function must be called
 * from that thread.
 *
 * Transports (docs/decisions.md, "Direct paths: which reliable transport"):
 * DIODE_ICE_PSEUDOTCP is libnice's reliable mode (RFC 5245 ICE-UDP with
 * pseudo-TCP on top); DIODE_ICE_TCP uses ICE-TCP candidates only (RFC 6544),
 * where TCP itself is the reliable stream; DIODE_ICE_AUTO gathers both and
 * ICE picks: an ICE-TCP pair when one works (same LAN, a reachable
 * publisher), pseudo-TCP over UDP otherwise (through NATs, TURN).
 * (ICE-TCP gets a 1 s head start before UDP candidates are used.)
 * DIODE_ICE_DEFAULT_TRANSPORT is what the elements use. AUTO works with a
 * peer of any setting; PSEUDOTCP and TCP do not work with each other.
 *
 * Closing: the caller shutting (or closing) its end stops our reading of
 * it, and nothing is sent for it: libnice 0.1.21 cannot half-close
 * either transport safely (docs/decisions.md). A session ends when a side
 * frees its DiodeIce (after TLS close_notify); the other side learns it
 * from TLS, its keepalive, or FAILED once the transport notices.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  DIODE_ICE_PSEUDOTCP = 0,
  DIODE_ICE_TCP       = 1,
  DIODE_ICE_AUTO      = 2,
} DiodeIceTransport;

/* The pick of docs/decisions.md ("Direct paths: which reliable
 * transport"): ICE-TCP where it connects, pseudo-TCP where only UDP does. */
#define DIODE_ICE_DEFAULT_TRANSPORT DIODE_ICE_AUTO

typedef struct {
  DiodeIceTransport transport;
  gboolean controlling;        /* the viewer controls, the publisher not */
  const gchar *stun_server;    /* "host:port" or "stun:host:port"; NULL none */
  const gchar *turn_server;    /* "turn://user:pass@host:port[?transport=udp|tcp]";
                                  NULL none ("turns://" is refused: libnice
                                  0.1.21 would not use TLS) */
  guint connect_timeout_ms;    /* no selected pair by then: FAILED; 0: 15000 */
  /* Test and benchmark hook: only gather host candidates on interfaces
   * with these addresses (NULL: all). */
  const gchar *const *local_addresses;
} DiodeIceConfig;

typedef enum {
  DIODE_ICE_EVENT_CREDENTIALS,  /* text = "ufrag pwd" (once, at start) */
  DIODE_ICE_EVENT_CANDIDATE,    /* text = one local candidate, SDP attribute
                                   form without "a=" */
  DIODE_ICE_EVENT_GATHERED,     /* all local candidates given */
  DIODE_ICE_EVENT_CONNECTED,    /* the fd is ready: diode_ice_take_fd();
                                   text = "local-type remote-type" of the
                                   selected pair, e.g. "host srflx" */
  DIODE_ICE_EVENT_FAILED,       /* text = reason; final: the fd (if taken)
                                   reads EOF */
} DiodeIceEvent;

typedef void (*DiodeIceFunc) (DiodeIceEvent event, const gchar * text,
    gpointer user_data);

typedef struct _DiodeIce DiodeIce;

/* NULL and @error on a bad configuration (unparsable STUN/TURN URI: the
 * message names it). Gathering starts at once; the CREDENTIALS event is
 * emitted from an idle on @context, never from inside this call. */
DiodeIce *diode_ice_new (GMainContext * context, const DiodeIceConfig * config,
    DiodeIceFunc func, gpointer user_data, GError ** error);
/* With a TURN server, the allocations are released after this returns:
 * keep iterating @context a moment (a round trip to the server) or the
 * agent stays until it is. */
void      diode_ice_free (DiodeIce * ice);

/* The peer's "ufrag pwd". FALSE and @error when malformed. */
gboolean  diode_ice_set_remote_credentials (DiodeIce * ice, const gchar * text,
    GError ** error);
/* One remote candidate (as DIODE_ICE_EVENT_CANDIDATE gives them); FALSE and
 * @error when unparsable (ignored candidates of another transport: TRUE). */
gboolean  diode_ice_add_remote_candidate (DiodeIce * ice, const gchar * text,
    GError ** error);
void      diode_ice_remote_gathered (DiodeIce * ice);

/* After CONNECTED: the caller's end of the socketpair (non-blocking,
 * close-on-exec), now owned by the caller; -1 before or when taken. */
int       diode_ice_take_fd (DiodeIce * ice);

/* After CONNECTED: the transport of the selected pair (DIODE_ICE_TCP or
 * DIODE_ICE_PSEUDOTCP, also under DIODE_ICE_AUTO); before: as configured. */
DiodeIceTransport diode_ice_get_transport (DiodeIce * ice);

/* Counters: bytes moved from the fd to the peer and back. */
void      diode_ice_get_stats (DiodeIce * ice, guint64 * bytes_out,
    guint64 * bytes_in);

/* Parse helpers shared by the elements' property checks. */
gboolean  diode_ice_check_stun_uri (const gchar * uri, GError ** error);
gboolean  diode_ice_check_turn_uri (const gchar * uri, GError ** error);

G_END_DECLS
