/* gst-diode — the client connection shared by diodesink and diodesrc
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Like GstSRTObject behind srtsink/srtsrc: one object holds the settings
 * common to both elements (relay, stream, identity, relay-id, timeout), the
 * URI handling, and the connection: TCP connect, TLS handshake, relay
 * verification (pinned relay-id or trust on first use), HELLO/WELCOME. I/O
 * blocks the calling streaming thread but always with poll() on both the
 * socket and a wakeup fd, so unlock() interrupts it at once.
 *
 * `relay` is an ordered list of relays ("a:7878,b:7878", each entry may pin
 * its relay as "0xADDRESS@host:port"): every connect and reconnect takes the
 * first one not in backoff (diode_failover_pick), so losing a relay moves
 * the element to the next one (docs/decisions.md, "The camera's own relay
 * list").
 */
#pragma once

#include <gst/gst.h>
#include <gio/gio.h>
#include "diode-msg.h"
#include "diode-session.h"
#include "diode-tls.h"
#include "diode-endpoint.h"
#include "diode-failover.h"

G_BEGIN_DECLS

#define GST_DIODE_DEFAULT_RELAY     "127.0.0.1:7878"
#define GST_DIODE_DEFAULT_PORT      7878
#define GST_DIODE_DEFAULT_TIMEOUT   10000   /* ms */
#define GST_DIODE_DEFAULT_RECONNECT_DELAY     100   /* ms, first retry */
#define GST_DIODE_DEFAULT_RECONNECT_MAX_DELAY 2000  /* ms, backoff cap */
#define GST_DIODE_DEFAULT_MAX_RECONNECTS      -1    /* forever */
#define GST_DIODE_RECONNECT_CONNECT_TIMEOUT   3000  /* ms per attempt */

typedef struct _GstDiodeClient GstDiodeClient;

struct _GstDiodeClient {
  GstElement   *element;      /* not reffed: the owner */
  DiodeRole     role;

  /* settings, under GST_OBJECT_LOCK (element) */
  gchar        *relay;        /* [0xADDR@]host[:port], comma-separated */
  gchar        *stream;       /* NULL: the element's name */
  gchar        *identity;     /* key file, NULL: default */
  gchar        *relay_id;     /* pinned relay address, NULL: TOFU */
  guint         timeout;      /* ms: connect, handshake, waiting for stream */
  /* publisher's access policy (diodesink only; set from properties or the
   * URI query: ?access=private&allow=0x..,0x..&fleet=name) */
  DiodeAccess   access;
  gchar        *allow;        /* addresses, or a file of them */
  gchar        *fleet;
  gchar        *start;        /* diodesrc `start`, also ?start= in the URI */
  gboolean      reconnect;    /* after a lost connection, not a refusal */
  guint         reconnect_delay;     /* ms, doubled per failed attempt */
  guint         reconnect_max_delay; /* ms */
  gint          max_reconnects;      /* attempts in a row, -1 = forever */
  guint         connect_timeout;     /* ms override for open(), 0 = timeout */
  /* direct paths (gstdiodeclient-direct.c): "host:port", "stun:host:port"
   * or "none" (NULL: the relay's own STUN answer, if it offers one); TURN
   * "turn://user:pass@host:port[?transport=udp|tcp]" (NULL: none) */
  gchar        *stun_server;
  gchar        *turn_server;

  /* runtime, streaming thread only */
  int           fd;
  int           wake_fd;      /* eventfd: unlock() makes it readable */
  GCancellable *cancellable;  /* unlock() cancels: name resolution */
  gboolean      flushing;
  DiodeIdentity *id;
  DiodeTls     *tls;
  DiodeSession *session;
  gchar        *hostport;     /* what we connected to, for messages */
  /* the relay list, parsed from `relay` at start (streaming thread) */
  GPtrArray    *endpoints;    /* DiodeEndpoint*, in the user's order */
  DiodeFailover *failover;    /* which endpoint next, backoff per entry */
  gint          current;      /* index of the endpoint in use or tried */
  gint          last_used;    /* index of the last one connected, or -1 */
  gchar        *pin_default;  /* relay-id: pin of entries without their own */
  /* what stats and bus messages report, under GST_OBJECT_LOCK */
  gchar        *current_relay;/* host:port of the relay in use, or NULL */
  guint         failovers;    /* moves to another relay of the list */
  gchar        *stream_name;  /* resolved stream name for this session */
  gchar        *relay_address;/* the relay's verified address */
  guint8       *rbuf;
  /* keepalive (docs/protocol.md section 11) */
  guint16       version;      /* negotiated in WELCOME, 0 before */
  guint         keepalive;    /* ms, from WELCOME; 0 = off */
  gint64        last_rx;      /* monotonic µs of the last bytes received */
  gint64        last_tx;      /* ... and sent */
  guint64       ping_token;
  gboolean      lost;         /* the connection died (EOF, I/O error,
                                 keepalive, relay shutdown): worth a
                                 reconnect, unlike a refusal */
  /* version 4 (docs/protocol.md section 17) */
  guint16       stun_port;    /* WELCOME's v4 block: the relay's STUN port */
  gchar        *relay_host;   /* the host of the relay in use (its STUN
                                 answer is there) */
  int           aux_fd;       /* polled by recv() too (a direct path's
                                 eventfd), -1: none */
  gboolean      aux_ready;    /* recv() returned NEED_MORE because aux_fd
                                 became readable */
};

enum {
  GST_DIODE_PROP_RELAY = 1,
  GST_DIODE_PROP_STREAM,
  GST_DIODE_PROP_IDENTITY,
  GST_DIODE_PROP_RELAY_ID,
  GST_DIODE_PROP_TIMEOUT,
  GST_DIODE_PROP_URI,
  GST_DIODE_PROP_RECONNECT,
  GST_DIODE_PROP_RECONNECT_DELAY,
  GST_DIODE_PROP_RECONNECT_MAX_DELAY,
  GST_DIODE_PROP_MAX_RECONNECTS,
  GST_DIODE_PROP_STUN_SERVER,
  GST_DIODE_PROP_TURN_SERVER,
  GST_DIODE_PROP_LAST,
};

GstDiodeClient *gst_diode_client_new (GstElement * element, DiodeRole role);
/* The client gst_diode_client_new() attached to @element. */
GstDiodeClient *gst_diode_client_of (GstElement * element);
void            gst_diode_client_free (GstDiodeClient * c);

/* Installs relay, stream, identity, relay-id, timeout. */
void     gst_diode_client_install_properties (GObjectClass * klass, guint timeout_default);

#define GST_TYPE_DIODE_ACCESS (gst_diode_access_get_type ())
GType    gst_diode_access_get_type (void);
gboolean gst_diode_client_set_property (GstDiodeClient * c, guint prop_id, const GValue * value);
gboolean gst_diode_client_get_property (GstDiodeClient * c, guint prop_id, GValue * value);

/* URI handler helpers: diode://host[:port]/stream[?relay-id=0x...] */
gboolean gst_diode_client_set_uri (GstDiodeClient * c, const gchar * uri, GError ** error);
/* Fills get_protocols/get_uri/set_uri of an element whose client was made
 * by gst_diode_client_new(); the element sets get_type. */
void     gst_diode_client_uri_handler_init (GstURIHandlerInterface * iface);
gchar   *gst_diode_client_get_uri (GstDiodeClient * c);

/* At start: parses `relay` (the list) and checks `relay-id`; resets the
 * fail-over state. A GST_RESOURCE_ERROR_SETTINGS error quoting the bad
 * entry otherwise. */
gboolean gst_diode_client_prepare (GstDiodeClient * c, GError ** error);

/* Connect to the endpoint chosen last (c->current), TLS, verify the relay,
 * HELLO/WELCOME. Errors are in the GST_RESOURCE_ERROR domain, ready for
 * gst_diode_client_post_error(). */
gboolean gst_diode_client_open  (GstDiodeClient * c, GError ** error);
void     gst_diode_client_close (GstDiodeClient * c);

/* Send a whole frame (or several parts back to back), blocking with poll. */
gboolean gst_diode_client_send  (GstDiodeClient * c, const guint8 * data, gsize len, GError ** error);
gboolean gst_diode_client_send_bytes (GstDiodeClient * c, GBytes * frame, GError ** error);

/* Next message. @deadline: monotonic µs, or -1 for none; 0 = do not block.
 * Returns MESSAGE, NEED_MORE (deadline passed / would block, or c->aux_fd
 * became readable: then c->aux_ready is TRUE), or ERROR (*error set;
 * GST_RESOURCE_ERROR domain, or G_IO_ERROR_CANCELLED when flushing).
 * Answers PING itself. */
DiodeSessionResult gst_diode_client_recv (GstDiodeClient * c, DiodeMsg * msg,
                                          gint64 deadline, GError ** error);

/* Non-blocking: send a PING if we have been quiet for `keepalive`, and
 * fail (c->lost) if the relay has been silent for three times that. */
gboolean gst_diode_client_keepalive (GstDiodeClient * c, GError ** error);

/* Reconnect support shared by both elements (gstdiodeclient-failover.c). */
/* A "diode-connection" element message: state is "connected",
 * "reconnecting", "resumed" or "gave-up"; fields relay (the relay in use,
 * or the one lost for "reconnecting"), attempt, reason, failovers. */
void     gst_diode_client_post_state (GstDiodeClient * c, const gchar * state,
                                      guint attempt, const gchar * reason);
gboolean gst_diode_client_get_reconnect (GstDiodeClient * c);

/* One (re)connect attempt to the endpoint c->current: open, then
 * subscribe/publish. */
typedef gboolean (*GstDiodeAttemptFunc) (gpointer user_data, GError ** error);
/* The first connection, at start: each relay of the list once, in order,
 * until @attempt succeeds (TRUE). FALSE with *error: the only relay's
 * error, or one naming every relay's failure; G_IO_ERROR_CANCELLED when
 * stopping. No backoff: a wrong list is a setup error, reported at once. */
gboolean gst_diode_client_connect_first (GstDiodeClient * c,
                                         GstDiodeAttemptFunc attempt,
                                         gpointer user_data, GError ** error);
/* The reconnect loop both elements share: close, count the relay in use as
 * failed, post "reconnecting", then call @attempt on the endpoint
 * diode_failover_pick() gives (waiting, interruptibly, while every one is
 * in backoff) until it succeeds (post "resumed", TRUE). FALSE with *error:
 * G_IO_ERROR_CANCELLED when stopping, a GST_RESOURCE_ERROR when every relay
 * of the list refused us (not authorized, bad settings: a refusal moves to
 * the next relay, it is never retried on a single one) or after
 * max-reconnects failed attempts (post "gave-up"). */
gboolean gst_diode_client_reconnect (GstDiodeClient * c, const gchar * reason,
                                     GstDiodeAttemptFunc attempt,
                                     gpointer user_data, GError ** error);

/* Periodic "diode-stats" element messages: TRUE (and *posted_at updated)
 * when @interval_ms has passed; post takes ownership of @stats. */
gboolean gst_diode_stats_due  (gint64 * posted_at, guint interval_ms);
/* Adds "relay" (the relay in use, "" before the first connection) and
 * "failovers" to an element's stats. Any thread. */
void     gst_diode_client_add_stats (GstDiodeClient * c, GstStructure * s);
void     gst_diode_post_stats (GstElement * element, GstStructure * stats);

void     gst_diode_client_unlock      (GstDiodeClient * c);
void     gst_diode_client_unlock_stop (GstDiodeClient * c);

/* Post @error as a GST_MESSAGE_ERROR from the element. */
void     gst_diode_client_post_error (GstDiodeClient * c, const GError * error,
                                      const gchar * debug);
/* Translate a relay ERROR message into a GError a user can act on. */
GError  *gst_diode_client_error_from_msg (GstDiodeClient * c, const DiodeMsg * msg);

/* ---- direct paths (gstdiodeclient-direct.c) ---------------------------- */

/* diodesrc `direct` */
typedef enum {
  GST_DIODE_DIRECT_NEVER = 0,   /* always the relay path */
  GST_DIODE_DIRECT_AUTO  = 1,   /* a direct path when offered and it connects */
} GstDiodeDirectMode;
#define GST_TYPE_DIODE_DIRECT_MODE (gst_diode_direct_mode_get_type ())
GType    gst_diode_direct_mode_get_type (void);

/* stun-server, turn-server (both elements; installed by
 * gst_diode_client_install_properties). */
void     gst_diode_client_install_direct_properties (GObjectClass * klass);
gboolean gst_diode_client_set_direct_property (GstDiodeClient * c,
                                               guint prop_id,
                                               const GValue * value);
gboolean gst_diode_client_get_direct_property (GstDiodeClient * c,
                                               guint prop_id, GValue * value);
/* At start (from gst_diode_client_prepare): stun-server and turn-server
 * parse. A GST_RESOURCE_ERROR_SETTINGS error naming the property and the
 * accepted forms otherwise. */
gboolean gst_diode_client_check_direct (GstDiodeClient * c, GError ** error);
/* The STUN server a direct path uses now: stun-server when set (NULL for
 * "none"), else the relay in use at WELCOME's stun_port, else NULL. */
gchar   *gst_diode_client_stun_server (GstDiodeClient * c);
gchar   *gst_diode_client_turn_server (GstDiodeClient * c);
/* The identity (loaded now if it was not yet): NULL and @error when the
 * key file cannot be read or made. */
DiodeIdentity *gst_diode_client_identity (GstDiodeClient * c, GError ** error);
/* A "diode-path" element message: path "relay" or "direct", pair (the ICE
 * pair type, "" on the relay path), from-seq (the first seq taken from
 * that path), reason (why, "" when none); @viewers >= 0 adds "viewers"
 * (diodesink: viewers on direct paths now), -1 leaves it out. */
void     gst_diode_post_path (GstElement * element, const gchar * path,
                              const gchar * pair, guint64 from_seq,
                              const gchar * reason, gint viewers);

G_END_DECLS
