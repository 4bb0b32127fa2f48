/* gst-diode — wire messages: frame layout and message codec (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every message travels in one frame:
 *
 *   0      1      2      3      4      5      6      7
 *   +------+------+------+------+------+------+------+------+
 *   | type | flags (0)   | rsv  |  payload length (u32 BE)  |
 *   +------+------+------+------+------+------+------+------+
 *   | payload (length bytes; layout per type, docs/protocol.md) ...
 *
 * All integers are big endian. Strings are u16 length + UTF-8 bytes (no NUL).
 * A payload may carry bytes after the fields a version knows: they are
 * ignored, so later versions can append fields. Nothing here touches a socket.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* DIODE_PROTOCOL_VERSION: what clients (diodesink, diodesrc) offer, 1..1.
 * DIODE_PROTOCOL_VERSION_MAX: what relays speak, 1..2. Version 2 adds relay
 * links (docs/protocol.md, "Relay links (version 2)"): the frames LINK,
 * LINK_OK, ANNOUNCE, PULL and fields appended to PUBLISH, SUBSCRIBE and
 * SUBSCRIBE_OK, which exist only on a connection of role RELAY that
 * negotiated version 2 or later ("the relay-link dialect", see
 * diode_msg_parse_v()). Everything else keeps its version-1 meaning. */
#define DIODE_PROTOCOL_VERSION      1
#define DIODE_PROTOCOL_VERSION_MAX  2
#define DIODE_PROTOCOL_VERSION_LINK 2   /* the first version with relay links */
#define DIODE_FRAME_HEADER_SIZE     8
/* Upper bounds per frame type, enforced from the header before anything is
 * allocated (docs/protocol.md section 3). Each is the largest payload the
 * type's fields can make, rounded up to leave room for appended fields. A
 * session further restricts which types are legal in which state. */
#define DIODE_MAX_SMALL_PAYLOAD     1024                /* PUBLISH_OK, SUBSCRIBE,
                                                           SUBSCRIBE_OK, EOS, PING,
                                                           PONG: <= 269 bytes */
#define DIODE_MAX_TEXT_PAYLOAD      (8 * 1024)          /* HELLO, WELCOME, ERROR:
                                                           one text <= 4096 */
#define DIODE_MAX_POLICY_PAYLOAD    (48 * 1024)         /* PUBLISH, POLICY: 2048
                                                           addresses, <= 41 477 */
#define DIODE_MAX_ANNOUNCE_PAYLOAD  DIODE_MAX_POLICY_PAYLOAD /* ANNOUNCE, and
                                                           SUBSCRIBE_OK on a relay
                                                           link (policy + path) */
#define DIODE_MAX_CONTROL_PAYLOAD   DIODE_MAX_POLICY_PAYLOAD /* largest non-CAPS,
                                                           non-MEDIA limit */
#define DIODE_MAX_CAPS_PAYLOAD      (1024 * 1024)       /* CAPS (codec_data, streamheader) */
#define DIODE_MAX_MEDIA_PAYLOAD     (16 * 1024 * 1024)  /* one MEDIA frame */
#define DIODE_MAX_STREAM_NAME       255                 /* bytes */
#define DIODE_MAX_TEXT              4096                /* error text, agent */
#define DIODE_MAX_PATH              32                  /* relay addresses in a path */

/* Unset timestamps travel as all ones, like GST_CLOCK_TIME_NONE. */
#define DIODE_TIME_NONE             G_MAXUINT64

typedef enum {
  DIODE_MSG_HELLO        = 0x01, /* client -> relay: versions, role, agent */
  DIODE_MSG_WELCOME      = 0x02, /* relay -> client: chosen version, keepalive */
  DIODE_MSG_PUBLISH      = 0x10, /* client -> relay: stream name (+ later: policy) */
  DIODE_MSG_PUBLISH_OK   = 0x11, /* relay -> client */
  DIODE_MSG_SUBSCRIBE    = 0x12, /* client -> relay: stream, start seq, wait */
  DIODE_MSG_SUBSCRIBE_OK = 0x13, /* relay -> client: stream is live, first seq */
  DIODE_MSG_POLICY       = 0x14, /* publisher -> relay: new access policy */
  DIODE_MSG_CAPS         = 0x20, /* both ways: serialized GstCaps */
  DIODE_MSG_MEDIA        = 0x21, /* both ways: one buffer */
  DIODE_MSG_EOS          = 0x22, /* both ways: end of stream */
  DIODE_MSG_PING         = 0x30, /* either side */
  DIODE_MSG_PONG         = 0x31, /* answer to PING, same token */
  /* version 2, role RELAY only (relay links) */
  DIODE_MSG_LINK         = 0x40, /* child relay -> parent: be my control link */
  DIODE_MSG_LINK_OK      = 0x41, /* parent -> child: accepted + parent's path;
                                    again whenever that path changes */
  DIODE_MSG_ANNOUNCE     = 0x42, /* child -> parent: a stream it can provide
                                    (or no longer) */
  DIODE_MSG_PULL         = 0x43, /* parent -> child: push stream N to me */
  DIODE_MSG_ERROR        = 0x7f, /* either side: code + text; fatal codes close */
} DiodeMsgType;

typedef enum {
  DIODE_ROLE_PUBLISHER = 1,
  DIODE_ROLE_VIEWER    = 2,
  DIODE_ROLE_RELAY     = 3,   /* relay-to-relay link (version 2) */
} DiodeRole;

/* Who may watch a stream (PUBLISH and POLICY). */
typedef enum {
  DIODE_ACCESS_PUBLIC    = 0,  /* any authenticated identity */
  DIODE_ACCESS_PROTECTED = 1,  /* members of the publisher's fleet */
  DIODE_ACCESS_PRIVATE   = 2,  /* the allowlist (and the publisher) */
} DiodeAccess;
#define DIODE_MAX_ALLOW       2048  /* addresses in one allowlist */
#define DIODE_ADDRESS_BYTES   20    /* an address on the wire */

/* ANNOUNCE.op */
typedef enum {
  DIODE_ANNOUNCE_WITHDRAWN = 0,  /* the stream is gone from the sender */
  DIODE_ANNOUNCE_AVAILABLE = 1,  /* the sender can provide the stream */
} DiodeAnnounceOp;

/* Media flags (MEDIA.flags). Mirrors the GstBuffer flags that matter. */
typedef enum {
  DIODE_MEDIA_KEYFRAME = 1 << 0,  /* no DELTA_UNIT: starts a chunk */
  DIODE_MEDIA_HEADER   = 1 << 1,  /* GST_BUFFER_FLAG_HEADER */
  DIODE_MEDIA_DISCONT  = 1 << 2,  /* GST_BUFFER_FLAG_DISCONT */
  DIODE_MEDIA_GAP      = 1 << 3,  /* GST_BUFFER_FLAG_GAP */
  DIODE_MEDIA_DROPPABLE= 1 << 4,  /* GST_BUFFER_FLAG_DROPPABLE */
  DIODE_MEDIA_MARKER   = 1 << 5,  /* GST_BUFFER_FLAG_MARKER */
  DIODE_MEDIA_STREAMHEADER = 1 << 6, /* one of the caps' streamheader buffers:
                                      relays keep the set and send it to every
                                      joiner before its first chunk */
} DiodeMediaFlags;

/* Error codes (ERROR.code). 1xx: request refused, connection stays usable.
 * 2xx/3xx: fatal, the sender closes after the ERROR frame. */
typedef enum {
  DIODE_ERR_NOT_FOUND        = 100, /* stream not published (after the wait) */
  DIODE_ERR_NAME_IN_USE      = 101, /* stream already has a publisher */
  DIODE_ERR_NOT_AUTHORIZED   = 102, /* access policy refuses this identity */
  DIODE_ERR_BAD_NAME         = 103, /* empty/too long/invalid stream name */
  DIODE_ERR_LOOP             = 104, /* the link or request would close a
                                       cycle of relays (version 2) */
  DIODE_ERR_PROTOCOL         = 200, /* malformed frame or message out of order */
  DIODE_ERR_VERSION          = 201, /* no common protocol version */
  DIODE_ERR_TOO_LARGE        = 202, /* a length field exceeds its limit */
  DIODE_ERR_TIMEOUT          = 203, /* keepalive or handshake timeout */
  DIODE_ERR_SLOW_VIEWER      = 300, /* viewer could not keep up, disconnected */
  DIODE_ERR_SHUTDOWN         = 301, /* relay is shutting down */
  DIODE_ERR_INTERNAL         = 302, /* relay-side failure */
} DiodeErrorCode;

/* A decoded message. Which fields are meaningful depends on @type
 * (docs/protocol.md). Strings are owned; @payload is a slice of @frame. */
typedef struct {
  DiodeMsgType type;

  /* HELLO */
  guint16 version_min;
  guint16 version_max;
  guint8  role;                /* DiodeRole */
  /* WELCOME */
  guint16 version;
  guint32 keepalive_ms;        /* WELCOME: peer expects traffic this often */

  gchar  *agent;               /* HELLO, WELCOME: software name */
  gchar  *stream;              /* PUBLISH, SUBSCRIBE, *_OK */
  guint8  access;              /* PUBLISH, POLICY, ANNOUNCE, SUBSCRIBE_OK on
                                  a relay link: DiodeAccess */
  gchar  *fleet;               /* same: fleet name, "" for none */
  gchar **allow;               /* same: NULL-terminated lowercase "0x..."
                                  addresses (never NULL after parsing one of
                                  them, but a WITHDRAWN ANNOUNCE) */
  gboolean has_policy;         /* SUBSCRIBE_OK on a relay link: the policy
                                  fields were present. When absent (an
                                  upstream that predates them) the parser
                                  fails closed: access PRIVATE, fleet "",
                                  allow empty (only the owner may watch) */
  guint64 start_seq;           /* SUBSCRIBE: 0 = latest keyframe, else resume */
  guint32 wait_ms;             /* SUBSCRIBE: how long the relay may wait for
                                  the stream to appear */
  gchar  *publisher;           /* SUBSCRIBE: the publisher the viewer pins,
                                  SUBSCRIBE_OK: the stream's publisher; a
                                  lowercase "0x..." address, NULL = none
                                  (field absent or empty) */
  gchar  *caps;                /* CAPS: gst_caps_to_string() form */

  guint64 seq;                 /* MEDIA, EOS, SUBSCRIBE_OK (first seq sent),
                                  PUBLISH_OK (next seq to use) */
  guint64 pts, dts, duration;  /* MEDIA, DIODE_TIME_NONE when unset */
  guint64 offset, offset_end;  /* MEDIA: buffer offsets (all ones when unset) */
  guint32 flags;               /* MEDIA: DiodeMediaFlags */
  GBytes *payload;             /* MEDIA: the buffer's bytes (slice of frame) */

  guint64 token;               /* PING, PONG */

  /* version 2, relay links */
  guint8  op;                  /* ANNOUNCE: DiodeAnnounceOp */
  gchar  *owner;               /* ANNOUNCE (AVAILABLE), PUBLISH from a relay:
                                  the publisher's address, which owns the
                                  name; lowercase "0x...", NULL = none */
  gchar **path;                /* LINK_OK, ANNOUNCE, PULL, and on a relay
                                  link PUBLISH, SUBSCRIBE, SUBSCRIBE_OK:
                                  NULL-terminated lowercase "0x..." relay
                                  addresses, at most DIODE_MAX_PATH (never
                                  NULL after parsing one of them; empty when
                                  an appended path is absent). Order: see
                                  docs/protocol.md per message */

  guint16 error_code;          /* ERROR: DiodeErrorCode */
  gchar  *error_text;          /* ERROR: human readable */

  GBytes *frame;               /* the whole raw frame as received, header
                                  included; relays forward it unchanged */
} DiodeMsg;

void         diode_msg_clear        (DiodeMsg *msg);
const gchar *diode_msg_type_name    (guint type);
const gchar *diode_error_code_name  (guint code);
gboolean     diode_error_code_is_fatal (guint code);

/* Returns the payload limit for @type, or 0 when @type is unknown, on a
 * version-1 connection (the new types of relay links are unknown there). */
gsize        diode_msg_max_payload  (guint type);
/* The same on a connection that negotiated @version with a peer of @role
 * (version 0 = not negotiated yet: version 1 rules). In the relay-link
 * dialect (diode_msg_is_link_dialect()) LINK, LINK_OK, ANNOUNCE and PULL
 * are known, and SUBSCRIBE_OK may carry a policy (49 152). */
gsize        diode_msg_max_payload_v (guint type, guint16 version, DiodeRole role);
/* TRUE for role RELAY at version >= DIODE_PROTOCOL_VERSION_LINK. */
gboolean     diode_msg_is_link_dialect (guint16 version, DiodeRole role);

/* Validates a stream name: non-empty, at most DIODE_MAX_STREAM_NAME bytes,
 * UTF-8, no control characters, no '/'. Error code DIODE_ERR_BAD_NAME. */
gboolean     diode_msg_check_stream_name (const gchar *name, GError **error);
/* "0x" + 40 hex digits, any case. */
gboolean     diode_msg_address_is_valid (const gchar *address);
const gchar *diode_access_name (guint access);

/* Checks a frame header (type known, flags and reserved zero, length within
 * diode_msg_max_payload()) and returns the payload length in @payload_len.
 * Lets a reader reject a frame before buffering its payload. */
gboolean     diode_msg_check_header (const guint8 header[DIODE_FRAME_HEADER_SIZE],
                                     gsize *payload_len, GError **error);
/* The same for a connection at @version with a peer of @role. */
gboolean     diode_msg_check_header_v (const guint8 header[DIODE_FRAME_HEADER_SIZE],
                                       guint16 version, DiodeRole role,
                                       gsize *payload_len, GError **error);

/* Encoders: return a complete frame (header + payload), or NULL when a stream
 * name fails diode_msg_check_stream_name() or CAPS would exceed its limit.
 * Agent and error text never fail: invalid UTF-8 is repaired and text longer
 * than DIODE_MAX_TEXT is cut at a character boundary. */
GBytes *diode_msg_encode_hello        (guint16 vmin, guint16 vmax, DiodeRole role, const gchar *agent);
GBytes *diode_msg_encode_welcome      (guint16 version, guint32 keepalive_ms, const gchar *agent);
GBytes *diode_msg_encode_publish      (const gchar *stream);
/* PUBLISH with an access policy. @fleet may be NULL, @allow NULL or a
 * NULL-terminated list of addresses ("0x" + 40 hex digits). NULL if a field
 * is invalid (bad name, bad address, too many). */
GBytes *diode_msg_encode_publish_policy (const gchar *stream, DiodeAccess access,
                                         const gchar *fleet,
                                         const gchar *const *allow);
GBytes *diode_msg_encode_policy       (DiodeAccess access, const gchar *fleet,
                                       const gchar *const *allow);
/* @next_seq: the seq the publisher must give its first MEDIA, so a stream
 * that changes publisher keeps one increasing sequence for its viewers. */
GBytes *diode_msg_encode_publish_ok   (const gchar *stream, guint64 next_seq);
GBytes *diode_msg_encode_subscribe    (const gchar *stream, guint64 start_seq, guint32 wait_ms);
GBytes *diode_msg_encode_subscribe_ok (const gchar *stream, guint64 first_seq);
/* SUBSCRIBE pinned to the publisher address @publisher ("0x" + 40 hex
 * digits): the relay refuses it unless that identity publishes the stream.
 * NULL: no pin, the same frame as diode_msg_encode_subscribe(). NULL if
 * @publisher is not an address. */
GBytes *diode_msg_encode_subscribe_pinned (const gchar *stream, guint64 start_seq,
                                           guint32 wait_ms, const gchar *publisher);
/* SUBSCRIBE_OK naming the stream's current publisher (NULL: none known). */
GBytes *diode_msg_encode_subscribe_ok_from (const gchar *stream, guint64 first_seq,
                                            const gchar *publisher);
GBytes *diode_msg_encode_caps         (const gchar *caps);
GBytes *diode_msg_encode_eos          (guint64 seq);
GBytes *diode_msg_encode_ping         (guint64 token);
GBytes *diode_msg_encode_pong         (guint64 token);
GBytes *diode_msg_encode_error        (DiodeErrorCode code, const gchar *text);

/* MEDIA without copying the payload: writes the frame header plus the fixed
 * MEDIA fields into @out (DIODE_MEDIA_PREFIX_SIZE bytes); the caller sends
 * the payload bytes right after it. Returns FALSE when @payload_len exceeds
 * DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE (encode_media: NULL). */
#define DIODE_MEDIA_FIELDS_SIZE  (8 * 6 + 4)
#define DIODE_MEDIA_PREFIX_SIZE  (DIODE_FRAME_HEADER_SIZE + DIODE_MEDIA_FIELDS_SIZE)
gboolean diode_msg_write_media_prefix (guint8 out[DIODE_MEDIA_PREFIX_SIZE],
                                       guint64 seq, guint64 pts, guint64 dts,
                                       guint64 duration, guint64 offset,
                                       guint64 offset_end, guint32 flags,
                                       gsize payload_len);
/* Convenience: whole MEDIA frame in one allocation (copies @data). */
GBytes *diode_msg_encode_media (guint64 seq, guint64 pts, guint64 dts, guint64 duration,
                                guint64 offset, guint64 offset_end, guint32 flags,
                                const guint8 *data, gsize len);

/* ---- version 2: relay links (docs/protocol.md, "Relay links") ----------
 * A path is a NULL-terminated list of relay addresses ("0x" + 40 hex
 * digits, any case; NULL = empty), at most DIODE_MAX_PATH. The encoders
 * return NULL when a name, an address, the policy or the path is invalid. */
GBytes *diode_msg_encode_link         (void);
/* @path: the parent's own address first, then its upstream's, up to the
 * root. */
GBytes *diode_msg_encode_link_ok      (const gchar *const *path);
/* WITHDRAWN: only @op and @stream are sent, the rest is ignored.
 * AVAILABLE: @owner (the publisher's address, NULL = none), the policy,
 * @path (origin relay first, the sender last). */
GBytes *diode_msg_encode_announce     (DiodeAnnounceOp op, const gchar *stream,
                                       const gchar *owner, DiodeAccess access,
                                       const gchar *fleet,
                                       const gchar *const *allow,
                                       const gchar *const *path);
/* @path: the relays that asked, the first requester first, the sender
 * (the parent) last. */
GBytes *diode_msg_encode_pull         (const gchar *stream, guint64 start_seq,
                                       const gchar *const *path);
/* PUBLISH of a push connection: the policy, @owner (the publisher's
 * address), @path (origin first, the pushing relay last). */
GBytes *diode_msg_encode_publish_relay (const gchar *stream, DiodeAccess access,
                                        const gchar *fleet,
                                        const gchar *const *allow,
                                        const gchar *owner,
                                        const gchar *const *path);
/* SUBSCRIBE of a pull connection: @pin (publisher the puller expects,
 * NULL = none), @path (the first requester first, the sender last). */
GBytes *diode_msg_encode_subscribe_relay (const gchar *stream, guint64 start_seq,
                                          guint32 wait_ms, const gchar *pin,
                                          const gchar *const *path);
/* SUBSCRIBE_OK to a pulling relay: @publisher, the stream's policy, @path
 * (origin first, the answering relay last). */
GBytes *diode_msg_encode_subscribe_ok_relay (const gchar *stream, guint64 first_seq,
                                             const gchar *publisher,
                                             DiodeAccess access,
                                             const gchar *fleet,
                                             const gchar *const *allow,
                                             const gchar *const *path);

/* Path helpers. contains: @address (any case) is in @path (NULL: empty).
 * append: a new list, @path then @address (lowercased); NULL when @address
 * is invalid or the result would exceed DIODE_MAX_PATH. length: entries. */
gboolean diode_msg_path_contains (const gchar *const *path, const gchar *address);
gchar  **diode_msg_path_append   (const gchar *const *path, const gchar *address);
guint    diode_msg_path_length   (const gchar *const *path);

/* Parse the payload of a complete frame (@frame holds header + payload).
 * On success fills @msg (which must be zeroed or cleared) and takes a ref on
 * @frame into msg->frame. On failure sets @error (DIODE_PROTOCOL_ERROR domain,
 * code = DiodeErrorCode) and leaves @msg cleared.
 *
 * diode_msg_parse() reads a frame as version 1 defines it: the relay-link
 * types are unknown (200) and bytes appended to PUBLISH, SUBSCRIBE,
 * SUBSCRIBE_OK after the version-1 fields are ignored.
 * diode_msg_parse_v() reads it as a connection at @version with a peer of
 * @role does: in the relay-link dialect the new types and the appended
 * fields are parsed (a path over DIODE_MAX_PATH: 202; ending early: 200);
 * otherwise it is diode_msg_parse(). Sessions call it with their
 * negotiated version and role. */
gboolean diode_msg_parse   (GBytes *frame, DiodeMsg *msg, GError **error);
gboolean diode_msg_parse_v (GBytes *frame, guint16 version, DiodeRole role,
                            DiodeMsg *msg, GError **error);

#define DIODE_PROTOCOL_ERROR (diode_protocol_error_quark ())
GQuark diode_protocol_error_quark (void);

G_END_DECLS
