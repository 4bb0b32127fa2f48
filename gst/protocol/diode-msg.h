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

/* DIODE_PROTOCOL_VERSION: version 1, the base protocol (what a session
 * assumes for a plain diode_session_sent (HELLO): an offer of 1..1).
 * DIODE_PROTOCOL_VERSION_MAX: what relays speak, and what the elements
 * (diodesink, diodesrc) offer: 1..4.
 * Version 2 adds relay links (docs/protocol.md, "Relay links (version 2)"):
 * the frames LINK, LINK_OK, ANNOUNCE, PULL and fields appended to PUBLISH,
 * SUBSCRIBE and SUBSCRIBE_OK, which exist only on a connection of role
 * RELAY that negotiated version 2 or later ("the relay-link dialect", see
 * diode_msg_parse_v()).
 * Version 3 adds recordings (docs/protocol.md, "Recordings (version 3)"),
 * on connections of every role: the frames RANGE, RANGE_OK, FETCH, CHUNK,
 * FETCH_END, STORED and a "v3 block" appended to PUBLISH, PUBLISH_OK,
 * SUBSCRIBE and SUBSCRIBE_OK. Everything else keeps its version-1 meaning.
 * Version 4 adds direct paths (docs/protocol.md section 17, "Direct paths
 * (version 4)") on connections of role PUBLISHER and VIEWER: the frames
 * SIGNAL and PATH, the DIRECT bit of pubflags and a "v4 block" appended to
 * WELCOME (stun_port). Below version 4, and on relay links, SIGNAL and
 * PATH are unknown types (200). */
#define DIODE_PROTOCOL_VERSION       1
#define DIODE_PROTOCOL_VERSION_MAX   4
#define DIODE_PROTOCOL_VERSION_LINK  2   /* the first version with relay links */
#define DIODE_PROTOCOL_VERSION_STORE 3   /* the first version with recordings */
#define DIODE_PROTOCOL_VERSION_DIRECT 4  /* the first version with direct paths
                                           (docs/protocol.md section 17) */
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
  /* version 3, any role (recordings) */
  DIODE_MSG_RANGE        = 0x50, /* client -> relay: what is held of stream N */
  DIODE_MSG_RANGE_OK     = 0x51, /* relay -> client: state, policy, spans */
  DIODE_MSG_FETCH        = 0x52, /* client -> relay: chunks of seqs a..b */
  DIODE_MSG_CHUNK        = 0x53, /* relay -> client: chunk header, then its
                                    n_frames frames */
  DIODE_MSG_FETCH_END    = 0x54, /* relay -> client: the FETCH is answered */
  DIODE_MSG_STORED       = 0x55, /* relay -> publisher: recording progress */
  /* version 4, roles PUBLISHER and VIEWER (direct paths) */
  DIODE_MSG_SIGNAL       = 0x60, /* viewer <-> relay <-> publisher: ICE
                                    signalling of one direct session */
  DIODE_MSG_PATH         = 0x61, /* viewer -> relay: media on the direct
                                    path now / back on the relay path */
  /* appended to version 4, roles PUBLISHER and VIEWER (listing streams,
   * docs/protocol.md section 19) */
  DIODE_MSG_LIST         = 0x62, /* client -> relay: the streams I may
                                    watch (or one of them) */
  DIODE_MSG_LISTING      = 0x63, /* relay -> client: the answer to LIST */
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
  DIODE_ERR_NOT_STORED       = 105, /* nothing of the stream is held in the
                                       asked range / not recorded here (v3) */
  DIODE_ERR_STORE_FAILED     = 106, /* the relay's store cannot serve: read
                                       error, damaged chunk with no other
                                       copy (version 3) */
  DIODE_ERR_RATE_LIMITED     = 107, /* too many requests of this kind on
                                       this connection: try later (LIST,
                                       version 4) */
  DIODE_ERR_PROTOCOL         = 200, /* malformed frame or message out of order */
  DIODE_ERR_VERSION          = 201, /* no common protocol version */
  DIODE_ERR_TOO_LARGE        = 202, /* a length field exceeds its limit */
  DIODE_ERR_TIMEOUT          = 203, /* keepalive or handshake timeout */
  DIODE_ERR_SLOW_VIEWER      = 300, /* viewer could not keep up, disconnected */
  DIODE_ERR_SHUTDOWN         = 301, /* relay is shutting down */
  DIODE_ERR_INTERNAL         = 302, /* relay-side failure */
} DiodeErrorCode;

/* ---- version 3: recordings (docs/protocol.md, "Recordings") ---------- */

/* PUBLISH v3 block: u32 pubflags. UPLOAD without RECORD is refused (200);
 * other bits: senders 0, receivers ignore. */
typedef enum {
  DIODE_PUBLISH_RECORD = 1 << 0,  /* relays may store this stream */
  DIODE_PUBLISH_UPLOAD = 1 << 1,  /* a non-live source: store everything,
                                     pace the publisher by the store; a
                                     finished recording at EOS */
  DIODE_PUBLISH_DIRECT = 1 << 2,  /* version 4: the publisher offers direct
                                     paths (SIGNAL is forwarded to it) */
} DiodePublishFlags;

/* PUBLISH_OK v3 block: u8 store */
typedef enum {
  DIODE_STORE_NONE        = 0,  /* not stored (no RECORD, or no store) */
  DIODE_STORE_RECORDING   = 1,
  DIODE_STORE_UNAVAILABLE = 2,  /* a store, but failed (disk full...) */
} DiodeStoreState;

/* SUBSCRIBE v3 block: u8 start_mode, u64 start_value, u8 snap */
typedef enum {
  DIODE_START_LIVE      = 0,  /* version-1 meaning: start_seq decides */
  DIODE_START_EARLIEST  = 1,  /* the oldest stored keyframe chunk */
  DIODE_START_BACK      = 2,  /* start_value ns back from the live edge
                                 (a finished recording: from its end) */
  DIODE_START_WALLCLOCK = 3,  /* start_value µs since the Unix epoch, the
                                 relay's receive time of the chunk */
  DIODE_START_TIME      = 4,  /* start_value = publisher time ns (MEDIA
                                 dts, else pts) */
} DiodeStartMode;
#define DIODE_START_MODE_LAST DIODE_START_TIME

typedef enum {
  DIODE_SNAP_BEFORE  = 0,     /* keyframe chunk at or before the target */
  DIODE_SNAP_AFTER   = 1,     /* at or after */
  DIODE_SNAP_NEAREST = 2,
} DiodeSnap;
#define DIODE_SNAP_LAST DIODE_SNAP_NEAREST

/* SUBSCRIBE_OK and RANGE_OK: u8 stream_state */
typedef enum {
  DIODE_STREAM_LIVE           = 0,  /* live, not recorded here */
  DIODE_STREAM_LIVE_RECORDED  = 1,  /* live and being recorded */
  DIODE_STREAM_RECORDING      = 2,  /* finished: publisher sent EOS, gone */
} DiodeStreamState;
#define DIODE_STREAM_STATE_LAST DIODE_STREAM_RECORDING

/* ---- version 4: direct paths (docs/protocol.md section 17) ---------- */

/* SIGNAL.kind */
typedef enum {
  DIODE_SIGNAL_OFFER     = 1,  /* viewer -> publisher: "ufrag pwd", opens sid */
  DIODE_SIGNAL_ANSWER    = 2,  /* publisher -> viewer: "ufrag pwd" */
  DIODE_SIGNAL_CANDIDATE = 3,  /* either: one ICE candidate (SDP attribute
                                  form without "a=") */
  DIODE_SIGNAL_GATHERED  = 4,  /* either: no more candidates */
  DIODE_SIGNAL_CLOSE     = 5,  /* either, or the relay: sid is over; data =
                                  the reason */
} DiodeSignalKind;
#define DIODE_SIGNAL_KIND_LAST DIODE_SIGNAL_CLOSE

/* PATH.path */
typedef enum {
  DIODE_PATH_RELAY  = 0,       /* send me media again, from from_seq */
  DIODE_PATH_DIRECT = 1,       /* stop sending media: I have it directly */
} DiodePathKind;
#define DIODE_PATH_KIND_LAST DIODE_PATH_DIRECT

#define DIODE_MAX_SIGNAL_DATA       2048            /* SIGNAL data bytes */
#define DIODE_MAX_SIGNAL_PAYLOAD    4096            /* SIGNAL frame payload */

/* ---- appended to version 4: listing streams (section 19) ---------- */

/* LIST.mode */
typedef enum {
  DIODE_LIST_ALL = 0,          /* every stream I may watch whose name sorts
                                  after LIST's name ("" = from the start) */
  DIODE_LIST_ONE = 1,          /* the stream LIST names ("stat") */
} DiodeListMode;
#define DIODE_LIST_MODE_LAST DIODE_LIST_ONE

/* A LISTING entry's state (the names of /api/streams) */
typedef enum {
  DIODE_LIST_LIVE      = 0,    /* a source feeds it here */
  DIODE_LIST_RECORDING = 1,    /* live and being recorded here */
  DIODE_LIST_ENDED     = 2,    /* its source ended or went (stored says
                                  whether a recording of it is held) */
  DIODE_LIST_STORED    = 3,    /* held only in the relay's store (not in
                                  its stream table): replay only */
} DiodeListState;
#define DIODE_LIST_STATE_LAST DIODE_LIST_STORED

#define DIODE_LISTING_TRUNCATED  1      /* LISTING.flags: more streams sort
                                           after the last entry */
#define DIODE_LIST_MAX_ENTRIES   1000   /* entries in one LISTING */
#define DIODE_LIST_MAX_CODEC     64     /* bytes of an entry's codec */
#define DIODE_LIST_MIN_ENTRY     65     /* bytes of the smallest entry */
#define DIODE_MAX_LISTING_PAYLOAD (512 * 1024) /* 1000 entries of <= 403 */

/* One stream of a LISTING (docs/protocol.md section 19). */
typedef struct {
  gchar   *name;
  guint8   state;              /* DiodeListState */
  guint8   access;             /* DiodeAccess */
  guint8   stored;             /* 1: the relay's store holds a recording */
  gchar   *owner;              /* publisher address, lower case, or NULL */
  guint32  viewers;            /* diode viewers now */
  guint32  web_viewers;        /* browser viewers now */
  guint64  bitrate_bps;        /* publisher's bitrate, 0 when not live */
  gchar   *codec;              /* from the caps, "" unknown (<= 64 bytes) */
  guint16  width, height;      /* 0 unknown */
  guint32  framerate_milli;    /* frames per 1000 s, 0 unknown */
  guint64  live_seq;           /* the newest MEDIA seq held, 0 none */
  guint64  uptime_ms;          /* since its first MEDIA here, 0 none */
  guint64  bytes_in;           /* frame bytes received for it */
  guint64  bytes_out;          /* frame bytes sent to its viewers */
} DiodeListEntry;

/* CHUNK flags (DiodeChunkHeader.flags); unknown bits are ignored */
typedef enum {
  DIODE_CHUNK_KEYFRAME     = 1,   /* starts with a keyframe */
  DIODE_CHUNK_CONTINUATION = 2,
  DIODE_CHUNK_DISCONT      = 4,   /* something is missing before it */
  DIODE_CHUNK_EOS          = 8,   /* ends with the stream's EOS frame */
} DiodeChunkFlags;

#define DIODE_RANGE_LOCAL 1          /* RANGE / FETCH flags: answer from what
                                        this relay holds, ask no one else */

/* FETCH_END status */
typedef enum {
  DIODE_FETCH_DONE = 0,   /* everything held in the range was sent */
  DIODE_FETCH_MORE = 1,   /* stopped at the per-FETCH cap: FETCH on from
                             next_seq */
  DIODE_FETCH_NONE = 2,   /* nothing held in the range */
} DiodeFetchStatus;
#define DIODE_FETCH_STATUS_LAST DIODE_FETCH_NONE

#define DIODE_MAX_SPANS             256             /* RANGE_OK spans */
#define DIODE_SPAN_SIZE             48              /* bytes of one span */
#define DIODE_MAX_RANGE_OK_PAYLOAD  (64 * 1024)
#define DIODE_CHUNK_HEADER_SIZE     60              /* CHUNK payload */
#define DIODE_MAX_CHUNK_FRAMES      65536           /* n_frames, prelude incl. */
#define DIODE_MAX_CHUNK_BYTES       (64 * 1024 * 1024) /* frames of one CHUNK */
#define DIODE_FETCH_MAX_CHUNKS      64              /* per FETCH, then MORE */
#define DIODE_FETCH_MAX_BYTES       (32 * 1024 * 1024)

/* One contiguous run of held seqs (RANGE_OK). Times: first_time is the
 * publisher time of the first MEDIA, end_time the end of the last one;
 * wall_*_us the relay's receive times (µs since the epoch). */
typedef struct {
  guint64 first_seq, last_seq, first_time, end_time, wall_start_us, wall_end_us;
} DiodeSpan;

/* The 60-byte CHUNK payload (docs/protocol.md section 15). */
typedef struct {
  guint64 first_seq, last_seq;  /* MEDIA seqs of the chunk proper */
  guint64 time, end_time;       /* publisher time, DIODE_TIME_NONE if none */
  guint64 wall_us;              /* relay receive time of the first frame */
  guint32 flags;                /* DiodeChunkFlags */
  guint32 n_prelude;            /* CAPS + STREAMHEADER frames in force */
  guint32 n_frames;             /* frames that follow, prelude included */
  guint32 bytes;                /* their sizes, frame headers included */
  guint32 crc;                  /* CRC-32/ISO-HDLC over their bytes */
} DiodeChunkHeader;

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

  /* version 3, recordings. When a v3 block is absent (an older peer, a
   * connection below version 3) these hold their defaults: 0, and
   * start_time DIODE_TIME_NONE. */
  guint32 pubflags;            /* PUBLISH: DiodePublishFlags */
  guint8  store_state;         /* PUBLISH_OK: DiodeStoreState */
  guint8  start_mode;          /* SUBSCRIBE: DiodeStartMode */
  guint64 start_value;         /* SUBSCRIBE */
  guint8  snap;                /* SUBSCRIBE: DiodeSnap */
  guint8  stream_state;        /* SUBSCRIBE_OK, RANGE_OK: DiodeStreamState */
  guint64 start_time;          /* SUBSCRIBE_OK: publisher time of the first
                                  MEDIA that follows, DIODE_TIME_NONE if
                                  unknown */
  guint64 live_seq;            /* SUBSCRIBE_OK, appended to version 4: the
                                  newest MEDIA seq the relay held when it
                                  answered (the live edge), 0 if unknown */
  guint8  range_flags;         /* RANGE, FETCH: DIODE_RANGE_LOCAL */
  DiodeSpan *spans;            /* RANGE_OK: n_spans spans, oldest first */
  guint   n_spans;
  guint64 from_seq, to_seq;    /* FETCH, inclusive */
  DiodeChunkHeader chunk;      /* CHUNK */
  guint64 next_seq;            /* FETCH_END */
  guint8  fetch_status;        /* FETCH_END: DiodeFetchStatus */
  guint64 stored_seq;          /* STORED: last_seq */
  guint64 stored_bytes;        /* STORED: bytes */
  gboolean final;              /* STORED */
  /* RANGE_OK also fills stream, owner, access, fleet, allow */

  /* version 4, direct paths */
  guint16 stun_port;           /* WELCOME v4 block: the relay's STUN UDP
                                  port, 0 = none (and below version 4) */
  guint32 sid;                 /* SIGNAL: direct session id (non-zero) */
  guint8  signal_kind;         /* SIGNAL: DiodeSignalKind */
  gchar  *peer;                /* SIGNAL: the other end's address as the
                                  relay filled it in, NULL when empty */
  gchar  *signal_data;         /* SIGNAL: never NULL after parsing one */
  guint8  path_kind;           /* PATH: DiodePathKind; from_seq: PATH too */
  /* appended to version 4: listing (LIST also fills stream: "" or a
   * name) */
  guint8  list_mode;           /* LIST: DiodeListMode */
  guint8  list_flags;          /* LISTING: DIODE_LISTING_TRUNCATED */
  DiodeListEntry *entries;     /* LISTING: n_entries entries */
  guint   n_entries;

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
 * are known, and SUBSCRIBE_OK may carry a policy (49 152). At version 3 or
 * later, whatever the role, RANGE, FETCH, CHUNK, FETCH_END, STORED (1 024)
 * and RANGE_OK (65 536) are known. At version 4 or later with a @role
 * other than RELAY, SIGNAL (4 096) and PATH (1 024) are known. */
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

/* ---- version 3: recordings (docs/protocol.md, "Recordings") ----------
 * The argument structs gather every field a message may carry on any
 * connection; each encoder writes the fields @version and @role call for:
 * below version 3 exactly the frame of the earlier encoders (v1 layout, or
 * the relay-link one for role RELAY at version >= 2), at version 3 the
 * same plus the v3 block, with every optional field before it present.
 * Fields that @version/@role do not carry are ignored. NULL when a field is
 * invalid (name, address, policy, path, UPLOAD without RECORD, start_mode
 * or snap out of range, start_mode != LIVE with start_seq != 0). */
typedef struct {
  const gchar *stream;
  DiodeAccess access;
  const gchar *fleet;
  const gchar *const *allow;
  const gchar *owner;            /* relay links only */
  const gchar *const *path;      /* relay links only */
  guint32 pubflags;              /* v3 */
} DiodePublishArgs;

typedef struct {
  const gchar *stream;
  guint64 start_seq;
  guint32 wait_ms;
  const gchar *pin;              /* publisher address the viewer pins */
  const gchar *const *path;      /* relay links only */
  guint8 start_mode;             /* v3 */
  guint64 start_value;           /* v3 */
  guint8 snap;                   /* v3 */
} DiodeSubscribeArgs;

typedef struct {
  const gchar *stream;
  guint64 first_seq;
  const gchar *publisher;
  DiodeAccess access;            /* relay links only */
  const gchar *fleet;            /* relay links only */
  const gchar *const *allow;     /* relay links only */
  const gchar *const *path;      /* relay links only */
  guint8 stream_state;           /* v3 */
  guint64 start_time;            /* v3: DIODE_TIME_NONE if unknown */
  guint64 live_seq;              /* v4: the live edge's seq, 0 if unknown */
} DiodeSubscribeOkArgs;

GBytes *diode_msg_encode_publish_args      (const DiodePublishArgs *a,
                                            guint16 version, DiodeRole role);
GBytes *diode_msg_encode_publish_ok_v      (const gchar *stream, guint64 next_seq,
                                            guint8 store_state, guint16 version);
GBytes *diode_msg_encode_subscribe_args    (const DiodeSubscribeArgs *a,
                                            guint16 version, DiodeRole role);
GBytes *diode_msg_encode_subscribe_ok_args (const DiodeSubscribeOkArgs *a,
                                            guint16 version, DiodeRole role);
/* The new frames exist only at version 3; these encoders do not check it
 * (the session refuses to send them below version 3). */
GBytes *diode_msg_encode_range     (const gchar *stream, guint8 flags);
/* @owner: the publisher's address or NULL. The policy as given: a relay
 * passes the full policy to role RELAY, access + fleet with no allowlist
 * to others. @spans: n_spans (<= DIODE_MAX_SPANS) spans, each
 * first_seq <= last_seq, oldest first, not overlapping; NULL otherwise. */
GBytes *diode_msg_encode_range_ok  (const gchar *stream, guint8 stream_state,
                                    const gchar *owner, DiodeAccess access,
                                    const gchar *fleet, const gchar *const *allow,
                                    const DiodeSpan *spans, guint n_spans);
/* NULL when @from_seq > @to_seq */
GBytes *diode_msg_encode_fetch     (const gchar *stream, guint64 from_seq,
                                    guint64 to_seq, guint8 flags);
/* NULL when the header breaks a rule the parser checks (n_frames 0 or over
 * DIODE_MAX_CHUNK_FRAMES, n_prelude > n_frames, bytes over
 * DIODE_MAX_CHUNK_BYTES or below 8 per frame, first_seq > last_seq) */
GBytes *diode_msg_encode_chunk     (const DiodeChunkHeader *h);
GBytes *diode_msg_encode_fetch_end (guint64 next_seq, guint8 status);
GBytes *diode_msg_encode_stored    (guint64 last_seq, guint64 bytes, gboolean final);
/* Running CRC-32/ISO-HDLC (zlib crc32()) over a chunk's frames: start with
 * 0, feed each frame's bytes (header included) in order. */
guint32 diode_chunk_crc (guint32 crc, GBytes *frame);
guint32 diode_chunk_crc_data (guint32 crc, const guint8 *data, gsize len);
const gchar *diode_stream_state_name (guint state);
const gchar *diode_store_state_name  (guint state);

/* ---- version 4: direct paths (gst/protocol/diode-msg-direct.c) -------
 * The new frames exist only at version 4 (the session refuses to send
 * them below). NULL when a field is invalid: @sid 0, @kind out of range,
 * @peer neither NULL/"" nor an address (any case; sent lower-case),
 * @data over DIODE_MAX_SIGNAL_DATA or not UTF-8 (NULL: ""); @path out of
 * range. The parser refuses the same (data over 2048: 202, the rest 200)
 * and a peer that is not the lower-case wire form; msg->peer is NULL for
 * an empty peer, msg->signal_data never NULL. A WELCOME whose version is
 * 4 or later has its v4 block read when present (msg->stun_port, else 0)
 * by every parse function: the WELCOME itself sets the version. */
GBytes *diode_msg_encode_signal  (guint32 sid, guint8 kind, const gchar *peer,
                                  const gchar *data);
GBytes *diode_msg_encode_path    (guint8 path, guint64 from_seq);
/* WELCOME; at @version >= 4 with the v4 block (@stun_port). */
GBytes *diode_msg_encode_welcome_v (guint16 version, guint32 keepalive_ms,
                                    const gchar *agent, guint16 stun_port);
const gchar *diode_signal_kind_name (guint kind);

/* ---- appended to version 4: listing streams (diode-msg-list.c) -------
 * LIST and LISTING exist at version 4 or later on connections of role
 * PUBLISHER and VIEWER. NULL when a field is invalid: @mode out of range,
 * @name not a stream name (ALL also takes NULL or ""); LISTING: @flags
 * other than TRUNCATED, over DIODE_LIST_MAX_ENTRIES entries, an entry
 * with a bad name, state, access, stored, owner or codec (over 64 bytes,
 * not UTF-8). The parser refuses the same (too many entries, a codec too
 * long: 202; the rest 200). */
GBytes *diode_msg_encode_list    (guint8 mode, const gchar *name);
GBytes *diode_msg_encode_listing (guint8 flags, const DiodeListEntry *entries,
                                  guint n_entries);
void         diode_list_entry_clear (DiodeListEntry *e);
const gchar *diode_list_state_name  (guint state);

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
 * negotiated version and role. At version 3 or later (any role) the
 * recording frames are known and the v3 blocks appended to PUBLISH,
 * PUBLISH_OK, SUBSCRIBE and SUBSCRIBE_OK are parsed when present. */
gboolean diode_msg_parse   (GBytes *frame, DiodeMsg *msg, GError **error);
gboolean diode_msg_parse_v (GBytes *frame, guint16 version, DiodeRole role,
                            DiodeMsg *msg, GError **error);

#define DIODE_PROTOCOL_ERROR (diode_protocol_error_quark ())
GQuark diode_protocol_error_quark (void);

G_END_DECLS
