/* gst-diode — the relay's private types, shared by its source files
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diode-relay.c          the object: start/stop, the I/O thread, public API
 * diode-relay-props.c    the object's GObject properties
 * diode-relay-conn.c     connections: epoll source, accept, TLS, read, write, close
 * diode-relay-protocol.c streams and what each client message does to them
 * diode-relay-timers.c   every time-based decision (relay_tick)
 * diode-relay-access.c   who may watch and who may publish (pure checks)
 * diode-relay-stats.c    the stats log line and JSON snapshot
 * diode-relay-log.c      sanitized, rate-limited log lines about peers
 * diode-relay-link.c     outgoing connections to other relays (links)
 * diode-relay-upstream.c the control link: upstream, fallbacks, fail-over
 * diode-relay-directory.c where is stream X: local, announced, upstream
 * diode-relay-pull.c     streams pulled from (or pushed by) other relays
 * diode-relay-peers.c    chunks fetched from sibling relays and the upstream:
 *                        the sources (connections, answers, backoff)
 * diode-relay-peers-req.c  ... the requests (shared, answered in order)
 * diode-relay-tiers.c    relay_chunk_get's remote tiers, LOCAL FETCH from
 *                        the cache, RANGE passed on
 * diode-relay-cache.c    the LRU cache of those chunks (--cache-bytes)
 * diode-relay-record.c   recording RECORD streams into --store
 * diode-relay-replay-start.c  where a SUBSCRIBE with a start begins, store
 *                        reads on the pool, what is held (relay_chunk_get)
 * diode-relay-replay.c   the replay cursor: stored chunks, then the ring
 * diode-relay-direct.c   direct paths: SIGNAL forwarding, PATH (v4)
 * diode-relay-stun.c     the --stun UDP answerer (v4)
 * Everything here runs on the relay's I/O thread unless it says otherwise.
 */
#pragma once

#include "diode-relay.h"
#include "diode-relay-config.h"
#include "diode-relay-log.h"
#include "diode-msg.h"
#include "diode-name.h"
#include "diode-session.h"
#include "diode-ring.h"
#include "diode-tls.h"
#include "diode-endpoint.h"
#include "diode-failover.h"
#include "diode-chunkrec.h"
#include "diode-store.h"
#include "diode-caps-info.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define RELAY_AGENT "diode-relay/" VERSION
#define READ_CHUNK  (64 * 1024)
#define TICK_MS     200
#define CLOSE_FLUSH_MS 2000     /* time a closing peer gets to read our ERROR */
#define LINGER_DISCARD_MAX (256 * 1024) /* a lingering peer that sends more
                                           is not reading: close at once */
/* Fairness: what one connection may make the I/O thread do per loop turn
 * before the others get their turn (docs/security.md, "Resource limits"). */
#define READ_BUDGET_BYTES  (256 * 1024)
#define READ_BUDGET_FRAMES 64
#define ACCEPT_BUDGET      64   /* connections accepted per loop turn */
/* What a queued control frame costs beyond its bytes (GBytes, list node):
 * counted so the reply bound holds for floods of tiny PONGs too. */
#define CTRL_FRAME_OVERHEAD 64
/* Refused PUBLISHes one connection gets before it is closed. */
#define MAX_PUBLISH_REFUSALS 3
/* What children's announcements may make this relay hold (issue 9,
 * docs/security.md section 9): bytes counted like the ring counts frames
 * (each heap block costs its size plus ANNOUNCED_BLOCK_OVERHEAD), a budget
 * of ANNOUNCED_BYTES_PER_ENTRY per --max-announced entry in total (x4,
 * like the entry count), and one link's share of it a fixed
 * 1/ANNOUNCED_LINK_SHARES, so a few links cannot fill it. */
#define ANNOUNCED_BLOCK_OVERHEAD  16
#define ANNOUNCED_BYTES_PER_ENTRY 1024
#define ANNOUNCED_LINK_SHARES     8
/* Changes to an entry already announced (same name, other owner, policy
 * or path), per child link: a token bucket (per second, burst). Unchanged
 * re-announcements cost nothing and are dropped. */
#define ANNOUNCE_CHANGES_PER_S    10
#define ANNOUNCE_CHANGES_BURST    50
/* LINK_OK passed down (our path changed) at most this often; the last
 * path is sent when the interval is over. */
#define PATH_CHANGE_MIN_MS        500
/* Outgoing connections (links of every kind) this relay keeps at most:
 * per stream a pull and fail-back's second pull, or a push to the
 * control link's parent and one to the probe's; the control and probe
 * links. --max-streams 0 (no limit) leaves links unbounded too. */
#define RELAY_MAX_LINKS(r) (4 * (guint64) (r)->max_streams + 16)
/* A child whose PULL did not give a working push is not asked for that
 * stream again for this long (unless it announces it anew). */
#define PUSH_SHUN_MS 30000
/* Replay (issue 10, diode-relay-replay.c): threads reading the store,
 * how often a cursor that found nothing more stored looks again (the
 * relay-wide bound on what they hold is the replay-bytes property). */
#define REPLAY_THREADS     2
#define REPLAY_RETRY_MS    500
/* A read's reservation against the replay bound before its chunk lands
 * (its size is not known yet): at least this, else the biggest chunk the
 * relay held so far (chunks of one relay are alike in size). */
#define REPLAY_SLOT_MIN    (1024 * 1024)
/* accept() failed for lack of descriptors or memory: stop watching the
 * listener this long (relay_tick re-arms it). */
#define ACCEPT_PAUSE_MS 500
/* The join-time histogram (issue 11, /metrics diode_join_seconds): upper
 * bounds of its buckets in ms (cumulative counts are made when it is
 * shown; the last, +Inf, is implicit). */
#define RELAY_JOIN_BUCKETS 9
#define RELAY_JOIN_BUCKET_MS { 50, 100, 250, 500, 1000, 2500, 5000, 7500, 10000 }
/* A stream's bitrate (the web list, /api/streams) is measured over at
 * least this long, by relay_tick. */
#define RELAY_RATE_WINDOW_MS 1000

typedef struct _Stream Stream;
typedef struct _Conn Conn;
/* What one thread writing ring frames to viewers uses: the relay thread's
 * own (r->tx) and each fan-out worker's (diode-relay-fanout.c). */
typedef struct
{
  guint8     *buf;              /* one record's plaintext being gathered
                                   (DIODE_TLS_MAX_RECORD) */
  gboolean    deferred;         /* a share of a spread fan-out: nothing but
                                   the viewer's own state, TLS session and
                                   socket is touched; its logs, join note,
                                   close and epoll change wait in it */
  guint64     records;          /* TLS records of ring frames written */
  guint64     gathered;         /* of which spanned frames (filled from
                                   several, through buf) */
  guint64     blocked;          /* ring records that met a full socket */
} RelayTx;
typedef struct _RelayFanout RelayFanout;
typedef struct _Link Link;
typedef struct _Peer Peer;
typedef struct _Replay Replay;
typedef struct _Fetch Fetch;
/* What the relay knows of one stored stream (diode-relay-record.c). */
typedef struct _RelayRec RelayRec;
/* A connection's direct-path state (diode-relay-direct.c). */
typedef struct _RelayDirect RelayDirect;
/* The --stun answerer (diode-relay-stun.c). */
typedef struct _RelayStun RelayStun;

/* Connections from one source address (r->per_addr). */
typedef struct {
  gchar *host;
  guint  open;                  /* all connections, pending ones included */
  guint  pending;               /* not past HELLO yet */
  guint  streams;               /* streams its connections created (kept
                                   while they live, after the connection) */
  guint64 partial;              /* bytes of unfinished frames buffered */
} AddrCount;

typedef enum {
  CONN_CONNECTING, /* outgoing: non-blocking connect() under way */
  CONN_HANDSHAKE,
  CONN_OPEN,
  CONN_CLOSING,  /* ERROR queued; stop reading, flush, then close */
  CONN_LINGER,   /* all sent, close_notify + FIN out: discard what the peer
                    still sends until it closes (or CLOSE_FLUSH_MS), so our
                    close() does not reset the connection and throw away
                    what it has not read yet, our ERROR included */
} ConnPhase;

/* What an epoll entry points at. */
typedef enum { TAG_LISTENER, TAG_CONN, TAG_HTTP_LISTENER, TAG_STUN } TagKind;

/* A WebSocket viewer's side of its Conn (relay/web/diode-web-ws.c). */
typedef struct _WebConn WebConn;
/* The relay's web side: HTTP(S) server, listener (relay/web/diode-web.c). */
typedef struct _RelayWeb RelayWeb;

struct _Conn {
  TagKind     kind;
  DiodeRelay *relay;
  int         fd;
  guint32     events;           /* current epoll interest */
  gchar      *peer;             /* "ip:port" */
  gchar      *address;          /* identity from TLS, NULL before */
  DiodeTls   *tls;
  DiodeSession *session;
  ConnPhase   phase;
  gboolean    tls_seen;         /* first byte was a TLS handshake record */
  gint64      deadline;         /* monotonic µs: TLS+HELLO from accept, or
                                   closing */
  gboolean    dead;

  Stream     *stream;           /* published or watched stream */
  gboolean    publishing;
  gboolean    viewing;
  gboolean    caps_seen;        /* publisher: CAPS came (it must before MEDIA) */
  gboolean    waiting;          /* SUBSCRIBE held until a publisher appears */
  gboolean    join_tail;        /* SUBSCRIBE past the last seq of a live
                                   stream: attach after it (section 8) */
  guint64     start_seq;
  gchar       pin[DIODE_ADDRESS_LEN + 1]; /* SUBSCRIBE's publisher pin,
                                   lowercase; "" = any publisher */
  gint64      wait_until;
  guint       wait_ms;
  gint64      list_window;      /* LIST rate window start (diode-relay-list.c) */
  guint       list_count;       /* LISTs in that window */

  GQueue      ctrl;             /* GBytes* control frames to send first */
  gsize       ctrl_bytes;       /* what ctrl (and out, if control) holds */
  GBytes     *out;              /* frame being written */
  gsize       out_off;
  gsize       out_ctrl;         /* out is a control frame: its ctrl_bytes */
  gboolean    rx_paused;        /* replies backed up: requests not read */
  gboolean    ready;            /* in r->ready: work left for the next turn */
  guint       frame_budget;     /* frames it may still hand over this turn */
  AddrCount  *addr;             /* its source address's counters */
  gboolean    pending;          /* counted in addr->pending (pre-HELLO) */
  guint       publish_refusals;
  guint64     partial;          /* counted in addr->partial and r->partial */
  gsize       linger_discarded; /* bytes thrown away while lingering */
  DiodeCursor cursor;
  Replay     *replay;           /* a viewer fed from the store (until it
                                   reaches the ring), or NULL */
  gboolean    no_remote;        /* SUBSCRIBE handled again after other
                                   relays had no recording of it */
  guint       range_wait;       /* a RANGE passed on to other relays: its
                                   id in r->range_waits, 0 none */
  Fetch      *fetch;            /* a FETCH being answered, or NULL */

  guint64     bytes_out, frames_out, bytes_in;
  guint64     skips;            /* slow-viewer jumps to the latest keyframe */
  gint64      accepted_at;      /* monotonic µs */
  gint64      first_media_at;   /* first MEDIA frame written, 0 before
                                   (set by relay_note_join) */
  /* its counters when it became a viewer of its stream: what it adds to
   * the stream's totals is the difference (diode-relay-stats.c) */
  guint64     view_bytes0, view_frames0, view_skips0, view_media0;
  gint64      last_progress;    /* last time the socket took bytes */
  gint64      last_rx, last_tx; /* keepalive: last bytes in, last bytes out */
  guint64     ping_token;

  gboolean    outgoing;         /* this relay connected (a link) */
  Link       *link;             /* outgoing connection: the link it
                                   serves (NULL once the link let go) */
  gchar      *why;              /* link: why it closed (for the link's log) */
  gboolean    child_link;       /* a child relay's control link (LINKED) */
  GHashTable *announced;        /* child link: name -> Announced* */
  guint64     announced_bytes;  /* child link: what its entries cost */
  gdouble     announce_tokens;  /* child link: changes it may still make */
  gint64      announce_refill_at;
  GBytes     *link_ok_queued;   /* child link: a LINK_OK still in ctrl
                                   (replaced, never appended, by the next) */
  RelayRec   *rec;              /* publisher of a recorded stream: where
                                   STORED comes from (also after its EOS) */
  gboolean    store_paused;     /* upload publisher not read while the
                                   store's write queue is full */
  WebConn    *web;              /* a browser's WebSocket viewer (no TLS
                                   identity, no DiodeTls: its bytes go
                                   through diode-web-ws.c), else NULL */
  /* version 4, direct paths (diode-relay-direct.c) */
  guint32     pubflags;         /* publisher: its PUBLISH's (DIRECT bit) */
  gboolean    replay_view;      /* viewer: SUBSCRIBE with a start mode
                                   other than LIVE (never signals) */
  gboolean    on_direct;        /* viewer: last PATH was DIRECT (no
                                   CAPS/MEDIA from the ring, no cursor) */
  RelayDirect *direct;          /* its sessions and SIGNAL bucket, NULL
                                   before its first SIGNAL */
  guint64     media_bytes_out;  /* bytes of ring frames (CAPS, headers,
                                   MEDIA, EOS) written: what crossed */
  gboolean    out_media;        /* out is a ring frame */
  GQueue      gather;           /* ring frames after out, taken from the
                                   cursor into the record being written
                                   (at most one record's worth) */
  gboolean    tx_again;         /* a ring record got AGAIN: GnuTLS holds
                                   it, diode_tls_send_again writes it */
  gboolean    fanout_due;       /* publisher: frames pushed this turn, not
                                   fanned out yet (stream_fanout_due) */
  /* a write of ring frames made in a fan-out spread over threads
   * (diode-relay-fanout.c), finished by conn_write_ring_done */
  DiodeTlsStatus tx_status;
  GError     *tx_error;
  guint64     tx_behind;        /* skipped to the latest keyframe, this far
                                   behind: to log */
  gboolean    tx_fell_out;      /* fell out of the buffer: to log */
  gint64      tx_join_at;       /* its first MEDIA went then: to note */
};

/* A stream a child relay said it can provide (ANNOUNCE AVAILABLE). */
typedef struct {
  gchar      *name;
  gchar      *owner;
  guint8      access;
  gchar      *fleet;
  /* No allowlist: announced allowlists are not kept (each could hold
   * 2048 addresses); a stream pulled from a child has no policy until its
   * push brings it, and its viewers wait until then (decisions.md). */
  gchar     **path;             /* origin relay first, the child last */
  gsize       cost;             /* bytes it holds (ANNOUNCED_BLOCK_OVERHEAD) */
} Announced;

/* What feeds a stream's ring. */
typedef enum {
  SOURCE_NONE,                  /* nothing yet (subscribers waiting) */
  SOURCE_LOCAL,                 /* a publisher connected to this relay */
  SOURCE_PULLED,                /* a pull connection to another relay */
  SOURCE_PUSHED,                /* a child relay pushes it (PULL) */
} StreamSource;

typedef enum {
  LINK_CONTROL,                 /* to the upstream (or a fallback, probe) */
  LINK_PULL,                    /* SUBSCRIBE from role RELAY: one stream */
  LINK_PUSH,                    /* PUBLISH from role RELAY (after PULL) */
  LINK_PEER,                    /* RANGE/FETCH to a --peer or the upstream
                                   (diode-relay-peers.c) */
} LinkKind;

typedef enum {
  LINK_IDLE,                    /* no connection; retry_at says when */
  LINK_RESOLVING,
  LINK_CONNECTING,              /* TCP, TLS, HELLO sent */
  LINK_READY,                   /* WELCOME received */
  LINK_LINKING,                 /* control: LINK sent */
  LINK_LINKED,                  /* control: LINK_OK received */
  LINK_SUBSCRIBING,             /* pull: SUBSCRIBE sent */
  LINK_SUBSCRIBED,              /* pull: SUBSCRIBE_OK received */
  LINK_PUBLISHING,              /* push: PUBLISH_OK received */
} LinkState;

struct _Link {
  DiodeRelay *relay;
  guint       id;               /* key in r->links (resolver callbacks
                                   hold the id, never the pointer) */
  LinkKind    kind;
  gboolean    probe;            /* control link to a better endpoint */
  gint        ep;               /* index in r->endpoints, -1 none */
  LinkState   state;
  Conn       *conn;             /* NULL while idle or resolving */
  GList      *addrs;            /* GInetAddress*: resolved, to try in turn */
  GList      *next_addr;
  gchar      *peer_address;     /* identity of the relay, once TLS is up */
  guint16     version;          /* negotiated */
  guint32     peer_keepalive_ms;
  gint64      retry_at;         /* IDLE: when to connect again (0: never) */
  guint       retry_ms;         /* current backoff (pulls) */
  gint64      connected_at;     /* READY reached, 0 while not */
  guint64     bytes_in, bytes_out; /* over its closed connections */
  guint       failovers;
  guint       streams;          /* control: streams announced over it
                                   (distinct names, = size of announced) */
  GHashTable *announced;        /* control: names announced AVAILABLE over
                                   it and not withdrawn since */
  Stream     *stream;           /* pull, push */
  gboolean    closing;          /* freed once its connection is gone */
  gboolean    refused;          /* pull: the upstream said 1xx */
  gboolean    was_up;           /* the connection that just went had
                                   reached WELCOME (for the owner's log) */
  guint64     push_start_seq;   /* push: where the parent asked to start */
  gchar     **link_path;        /* probe: its LINK_OK path; second pull:
                                   its SUBSCRIBE_OK path */
  gboolean    state_was_subscribed; /* pull: this connection got
                                   SUBSCRIBE_OK */
  DiodeEndpoint *endpoint;      /* peer: its own endpoint (a --peer), not
                                   one of r->endpoints; owned by the Peer */
  Peer       *peer;             /* peer: the source it serves */
};
struct _Stream {
  gchar      *name;
  Conn       *publisher;
  AddrCount  *charged;          /* the source address that created it */
  gchar      *owner;            /* address of the current/last publisher */
  DiodeRing  *ring;
  GPtrArray  *viewers;          /* Conn* (may contain dead ones until reaped) */
  GPtrArray  *waiting;          /* Conn* holding a SUBSCRIBE */
  gboolean    eos;
  gint64      grace_until;      /* publisher vanished without EOS */
  gint64      created_at;
  gint64      owner_until;      /* name held for owner after it stopped */
  gboolean    has_policy;
  guint8      access;           /* DiodeAccess */
  gchar      *fleet;
  GHashTable *allow;            /* lowercase addresses */
  guint64     bytes_in, frames_in;
  guint64     last_seq;         /* copy for other threads, under lock */
  guint       fanout_start;     /* rotates the fan-out order per frame */
  StreamSource source;
  Link       *pull;             /* the pull feeding it (SOURCE_PULLED) */
  guint8      upstream_state;   /* the state the upstream's SUBSCRIBE_OK
                                   gave the pull (LIVE_RECORDED: it is
                                   recorded upstream; replay-start.c) */
  guint64     upstream_live_seq; /* the upstream's live edge when the pull
                                   was answered (SUBSCRIBE_OK live_seq): a
                                   viewer joining while the pull still
                                   brings its first GOP is told that one */
  Link       *pull_next;        /* fail-back: the second pull catching up */
  gint64      linger_until;     /* pulled, nobody left: closes then */
  GPtrArray  *path;             /* gchar* relay addresses it came through
                                   before this one, origin first (pulled:
                                   SUBSCRIBE_OK's path; local: empty) */
  gchar     **req_path;         /* pulled for a downstream relay: its
                                   SUBSCRIBE's path (loop check upstream) */
  Conn       *push_child;       /* SOURCE_PUSHED: the child control link
                                   asked (PULL) to push it */
  gboolean    push_pending;     /* PULL sent, no push connection yet */
  guint       pushes;           /* push links serving it to the parent */
  gint64      push_asked_at;    /* when the PULL went out */
  guint64     push_frames_at_ask; /* frames_in when the PULL went out: a
                                   push that adds none within the handshake
                                   timeout is not working */
  gchar      *push_shunned;     /* a child whose PULL failed (no push, or
                                   a push of nothing): not asked again
                                   until push_shunned_until or until it
                                   announces the stream differently */
  gint64      push_shunned_until;
  guint64     stats_bytes_in;   /* at the last stats line, for rates */
  guint64     stats_bytes_out;
  /* What viewers gone from it were sent (so the per-stream counters of
   * /metrics never go down while the stream lives), and slow viewers
   * disconnected (hard limit, write timeout). */
  guint64     gone_bytes_out, gone_frames_out, gone_skips;
  guint64     gone_media_out;   /* their media_bytes_out (direct paths) */
  guint64     drops;
  guint64     bitrate_bps;      /* bytes_in over the last rate window */
  gint64      rate_at;          /* start of the current window, 0: none */
  guint64     rate_bytes;       /* bytes_in at rate_at */
  gint64      media_since;      /* first MEDIA received (monotonic µs) */
  GBytes     *caps_parsed;      /* the ring's CAPS frame caps_info is of
                                   (a ref: the pointer stays unique) */
  DiodeCapsInfo caps_info;
  RelayRec   *rec;              /* recorded now (a RECORD publisher) */
  /* its viewers' join times, as the relay-wide join_counts/join_sum_us
   * (diode_stream_join_seconds) */
  guint64     join_counts[RELAY_JOIN_BUCKETS + 1];
  guint64     join_sum_us;
};

struct _DiodeRelay {
  GObject     parent;

  /* settings */
  gchar      *listen;
  gchar      *identity_path;
  guint64     buffer_bytes;
  guint       buffer_seconds;
  guint       max_wait_ms;
  guint       handshake_ms;
  guint       grace_ms;
  guint64     soft_limit;       /* viewer backlog that triggers a skip */
  guint64     hard_limit;       /* viewer backlog that disconnects */
  guint       write_timeout_ms; /* a viewer's socket takes nothing this long */
  guint       stats_interval_ms;
  gchar      *stats_file;
  guint       name_grace_ms;
  gchar      *config_path;
  guint       keepalive_ms;     /* WELCOME.keepalive_ms; 0 = off */
  guint       max_conns;        /* open connections, in total */
  guint       max_conns_per_addr;
  guint       max_pending_per_addr;     /* before HELLO, per address */
  guint       max_streams;
  guint       max_streams_per_addr;
  guint64     max_partial_per_addr;
  guint64     max_partial;
  guint64     partial;          /* unfinished frame bytes, all connections */
  guint64     max_reply_bytes;  /* queued control replies per connection */
  gchar      *upstream;         /* [0xADDR@]HOST[:PORT] or NULL */
  gchar     **fallbacks;
  guint       failback_delay_ms;
  guint       link_linger_ms;
  gchar      *known_relays;     /* NULL: default file */
  guint       max_announced;
  gchar      *store_dir;        /* --store: NULL = no recordings */
  guint64     store_seconds;
  guint64     store_bytes;
  guint64     store_queue_bytes;
  gchar      *link_revocations; /* --link-revocations: NULL = beside the
                                   identity (diode-web-token.c) */
  gchar      *http_listen;      /* --http HOST:PORT, NULL: no web side */
  gchar      *http_cert;        /* --http-cert/--http-key: HTTPS */
  gchar      *http_key;
  gchar      *http_domain;      /* --http-domain: NAME.DOMAIN hosts */

  /* runtime */
  struct {
    TagKind kind;
  } listener_tag;
  DiodeIdentity *identity;
  GSocket    *listen_socket;
  guint16     port;
  gchar      *bound_host;
  int         epfd;
  GMainContext *context;
  GMainLoop  *loop;
  GThread    *thread;
  GSource    *io_source;
  GSource    *tick_source;
  gboolean    running;

  GHashTable *conns;            /* Conn* set */
  GPtrArray  *dead;             /* closed, freed after the dispatch */
  GHashTable *streams;          /* name -> Stream*; guarded by lock */
  GMutex      lock;
  GCond       prop_cond;        /* a property change reached the loop */
  guint8     *rbuf;
  gint64      started_at;
  gint64      stats_at;         /* last stats line */
  DiodeRelayConfig *config;     /* loop thread's snapshot (never NULL) */
  gchar      *stats_json;       /* last snapshot, guarded by lock */
  GHashTable *per_addr;         /* host -> AddrCount* */
  guint       n_open;           /* connections not closed yet */
  GPtrArray  *ready;            /* Conn* with work left (budget ran out) */
  gboolean    accept_paused;    /* listener out of epoll after EMFILE */
  gint64      accept_resume_at;
  guint64     refused_conns;    /* by the connection caps */
  RelayLogLimit log_limits[RELAY_LOG_N_KINDS];

  /* links (diode-relay-link.c, -upstream.c, -pull.c) */
  GHashTable *links;            /* id -> Link* */
  guint       next_link_id;
  GPtrArray  *endpoints;        /* DiodeEndpoint*: upstream, fallbacks */
  DiodeFailover *failover;
  Link       *control;          /* the control link (NULL: no upstream) */
  Link       *probe;            /* on a fallback: link to a better one */
  gint        active_ep;        /* endpoint the control link is up to */
  gboolean    stopping;
  gboolean    links_kick;       /* a link went down: reconnect after this
                                   dispatch */
  guint       failbacks;        /* moves back to a better one */
  guint      *ep_failovers;     /* per endpoint: moves away from it while
                                   it was the control link's (kept across
                                   the Links that come and go: fail-back) */
  GPtrArray  *children;         /* Conn*: child relays' control links */
  gchar     **upstream_path;    /* LINK_OK's path: parent first, to root */
  guint       n_announced;      /* entries over every child link */
  guint64     announced_bytes;  /* what those entries cost, in total */
  gint64      path_sent_at;     /* LINK_OK last passed down (rate limit) */
  gboolean    path_pending;     /* a newer path waits for the interval */

  /* peers and the fetch cache (diode-relay-peers.c, -cache.c) */
  gchar     **peers;            /* --peer: [0xADDR@]HOST[:PORT] each */
  guint64     cache_bytes;      /* --cache-bytes */
  GPtrArray  *peer_list;        /* Peer*: the --peers in order */
  Peer       *up_peer;          /* fetches from the current upstream */
  struct _RelayCache *cache;
  GHashTable *fetch_reqs;       /* "key\nseq" -> FetchReq in flight */
  GHashTable *fetch_misses;     /* same key -> gint64* until: nobody had
                                   it a moment ago */
  GHashTable *remote_meta;      /* key -> RelayRange*: the last RANGE_OK
                                   from another relay (policy, spans) */
  GHashTable *range_waits;      /* id -> Conn*: RANGEs passed on */
  GHashTable *tier_pending;     /* tier requests waiting for a store read
                                   -> their GDestroyNotify */
  guint       next_range_wait;
  GQueue      fetch_done;       /* FetchReq* whose callbacks are due */
  GSource    *fetch_done_source;
  guint64     fetched_bytes;    /* verified chunk bytes, every source */
  guint64     fetched_from_peers;     /* of those, from --peers */
  guint64     fetched_from_upstream;  /* of those, from the upstream */
  guint64     fetched_chunks;
  guint64     fetch_damaged;    /* chunks dropped: count, bytes or CRC */
  guint64     fetch_bad;        /* bad answers: forged or mismatching
                                   chunks (the source backs off) */
  guint64     fetch_requests;   /* FETCHes sent, every source */
  guint64     fetch_failed;     /* chunks no source had */
  guint64     range_requests;   /* RANGEs sent, every source */
  guint64     served_from_cache;      /* chunks LOCAL FETCHes got from the
                                   cache (siblings sharing a fetch) */
  /* replay (diode-relay-replay.c) */
  GThreadPool *replay_pool;     /* store reads, created on first use */
  GHashTable *replays;          /* id -> Replay* */
  GHashTable *fetches;          /* id -> Fetch* */
  guint       next_replay_id;
  GQueue      replay_waiting;   /* Replay ids waiting for replay bytes */
  guint64     replay_bytes;     /* stored chunks held for replay/FETCH */
  guint64     replay_max_bytes; /* bound on replay_bytes */
  guint64     replay_reserved;  /* reads in flight: their slots */
  gsize       replay_slot;      /* a read's slot: the biggest chunk held
                                   so far, at least REPLAY_SLOT_MIN */
  gboolean    replay_draining;  /* replay_drain is running */
  gint64      replay_tick_at;
  guint64     replay_damaged;   /* damaged chunks skipped */
  /* recordings (diode-relay-record.c) */
  DiodeStore *store;            /* NULL: no --store, or it failed to open */
  gchar      *store_error;      /* why it failed to open */
  GHashTable *recordings;       /* name key -> RelayRec* (stored streams) */
  GSource    *rec_retry_source; /* paused uploads looked at again */
  gboolean    store_failed_logged;
  guint64     store_chunks;     /* chunks handed to the store */
  guint64     store_dropped;    /* chunks live recordings lost (queue full) */
  guint64     store_pauses;     /* times an upload was paused */
  /* issue 11: metrics (diode-relay-stats.c, web/diode-web-api.c) */
  gboolean    http_metrics_private; /* /metrics names every stream */
  guint64     join_counts[RELAY_JOIN_BUCKETS + 1]; /* per bucket, not
                                   cumulative; the last is over 10 s */
  guint64     join_sum_us;      /* sum of the join times counted */
  guint64     viewer_drops;     /* slow viewers disconnected, every stream */
  guint64     accepted_conns;   /* connections accepted since start */
  /* issue 13: viewers' writes (diode-relay-conn.c; I/O thread): its own,
   * and the workers' counters added after each spread fan-out */
  RelayTx     tx;
  guint       io_threads;       /* threads that write a fan-out (setting,
                                   read at start) */
  RelayFanout *fanout;          /* their workers, NULL: one thread */
  guint64     fanout_spread;    /* fan-outs spread over the threads */
  /* share links: revocations (relay/web/diode-web-token.c) */
  struct _RelayTokens *tokens;
  /* the web side (relay/web/diode-web.c), NULL when off */
  RelayWeb   *web;
  guint16     http_port;        /* bound HTTP port, under lock */
  /* direct paths (diode-relay-direct.c; I/O thread) */
  guint       direct_sessions;  /* open now */
  guint       direct_viewers_on_direct;
  guint64     direct_offers, direct_signals, direct_signals_dropped;
  guint64     direct_memory;    /* what the sessions' state holds */
  /* --stun (diode-relay-stun.c) */
  gchar      *stun_listen;      /* HOST:PORT, NULL: off */
  RelayStun  *stun;             /* the socket, NULL when off */
  guint16     stun_port;        /* bound UDP port (WELCOME), 0 off; lock */
  guint       list_max;         /* LISTING entries, 0: DIODE_LIST_MAX_ENTRIES
                                   (a test hook lowers it) */
  guint       list_visits;      /* streams LISTs may look at per second, 0:
                                   the default (diode-relay-list.c) */
  gint64      list_visit_window; /* start of the current second */
  guint64     list_visits_used; /* streams looked at in it */
};

/* diode-relay-conn.c */
extern GSourceFuncs relay_io_funcs;   /* the epoll GSource */
void     conn_set_events   (Conn * c, guint32 events);
void     conn_want_write   (Conn * c, gboolean want);
void     conn_queue        (Conn * c, GBytes * frame);
void     conn_send_error   (Conn * c, DiodeErrorCode code, const gchar * text);
void     conn_fail         (Conn * c, DiodeErrorCode code, const gchar * text);
void     conn_flush        (Conn * c);
void     conn_close        (Conn * c, const gchar * why);
void     conn_free         (Conn * c);
void     conn_handshake    (Conn * c);
void     conn_on_readable  (Conn * c);
void     relay_accept      (DiodeRelay * r);
void     relay_accept_resume (DiodeRelay * r, gint64 now);
void     relay_reap        (DiodeRelay * r);
void     relay_addr_unref_stream (DiodeRelay * r, AddrCount * a);
gboolean conn_take_frame   (Conn * c);
gboolean conn_check_replies (Conn * c, gint64 now);
gboolean relay_may_add_stream (Conn * c);
/* Work left for the next loop turn (budget ran out, bytes buffered below
 * epoll's sight). */
void     conn_mark_ready   (Conn * c);
/* A non-blocking listening socket on HOST:PORT, its port in @bound_port
 * (diode-relay.c; the relay's port and --http). */
GSocket *relay_listen_socket (const gchar * spec, const gchar * host,
    guint16 port, gint backlog, const gchar * option, guint16 * bound_port,
    GError ** error);
/* Admission of an accepted connection (diode-relay-conn.c; the relay's
 * port and --http share the caps): the cap it would pass (NULL if none),
 * refusing it (counted and logged), admitting it (counted on its address,
 * returned). */
const gchar *relay_peer_cap (DiodeRelay * r, const gchar * host,
    const gchar * pending_cap, guint * limit);
void     relay_peer_refused (DiodeRelay * r, const gchar * peer,
    const gchar * what, const gchar * cap, guint limit);
AddrCount *relay_admit_peer (DiodeRelay * r, const gchar * host);
/* "HOST:PORT" or "[V6]:PORT" -> host, port (diode-relay.c). */
gboolean relay_parse_listen (const gchar * listen, gchar ** host,
                             guint16 * port, GError ** error);
/* Stop (TRUE) or resume reading an upload publisher (the store paces it). */
void     conn_set_store_paused (Conn * c, gboolean paused);

/* diode-relay-protocol.c */
Stream  *stream_lookup     (DiodeRelay * r, const gchar * name);
Stream  *stream_get        (DiodeRelay * r, const gchar * name);
void     stream_free       (Stream * s);
void     stream_maybe_free (DiodeRelay * r, Stream * s);
void     stream_fanout     (Stream * s);
void     stream_fanout_due (Conn * c);
/* diode-relay-conn.c: the part of conn_flush a fan-out worker may run for a
 * viewer that only needs ring frames written (ready: no reply queued, no
 * WebSocket, replay or fetch, socket not full); done: the rest, on the
 * relay thread. */
gboolean conn_write_ring_ready (Conn * c);
void     conn_write_ring   (Conn * c, RelayTx * tx);
void     conn_write_ring_done (Conn * c);
/* diode-relay-fanout.c: workers from r->io_threads (start, stop), and a
 * stream's fan-out to @viewers from @start spread over them: FALSE when it
 * is one thread's (no workers, too few viewers). */
void     relay_fanout_start (DiodeRelay * r);
void     relay_fanout_stop  (DiodeRelay * r);
gboolean relay_fanout_spread (DiodeRelay * r, GPtrArray * viewers,
                              guint start);
void     stream_release_finished_viewers (DiodeRelay * r, Stream * s);
void     conn_process      (Conn * c);
void     stream_attach_waiting (DiodeRelay * r, Stream * s);
/* Serve @s to @c from its start_seq or the latest keyframe (a viewer: with
 * SUBSCRIBE_OK; a push connection: without). */
void     stream_attach_conn (Conn * c, Stream * s);
void     stream_recheck_viewers (DiodeRelay * r, Stream * s);
void     relay_recheck_all (DiodeRelay * r);
void     relay_apply_buffer_limits (DiodeRelay * r);

/* diode-relay-link.c */
Link    *link_new          (DiodeRelay * r, LinkKind kind, gint ep);
void     link_connect      (Link * l);
void     link_close        (Link * l, const gchar * why);
void     link_free         (Link * l);
void     link_send         (Link * l, GBytes * frame, DiodeMsgType type);
void     link_on_connect   (Conn * c);
void     link_on_tls_up    (Conn * c);
void     link_handle_message (Conn * c, DiodeMsg * m);
void     link_conn_gone    (Conn * c);
gboolean link_is_up        (Link * l);
/* May another outgoing link be opened (RELAY_MAX_LINKS)? Logs if not. */
gboolean relay_may_add_link (DiodeRelay * r, const gchar * what);
const gchar *link_kind_name (Link * l);
const gchar *link_state_name (LinkState st);
gchar   *link_peer_string  (Link * l);
void     relay_links_stop  (DiodeRelay * r);
void     relay_links_kick  (DiodeRelay * r, gint64 now);

/* diode-relay-upstream.c */
gboolean relay_upstream_init (DiodeRelay * r, GError ** error);
void     relay_upstream_tick (DiodeRelay * r, gint64 now);
void     upstream_link_ready (Link * l);
void     upstream_link_down  (Link * l, const gchar * why);
void     upstream_endpoint_failed (DiodeRelay * r, gint ep, gint64 now);
gint     upstream_pick       (DiodeRelay * r, gint64 now, gint64 * retry_at);
void     upstream_handle_message (Link * l, DiodeMsg * m);

/* diode-relay-directory.c */
typedef enum {
  DIR_NONE,                     /* nobody known carries it */
  DIR_LOCAL,                    /* published here */
  DIR_CHILD,                    /* a child relay announced it: PULL */
  DIR_UPSTREAM,                 /* ask the upstream */
} DirWhere;
/* Where is @name? For DIR_CHILD, *child (may be NULL) gets the child's
 * control link. */
DirWhere directory_locate  (DiodeRelay * r, const gchar * name, Conn ** child);
/* What a child announced for @name (the first linked child), or NULL. */
Announced *directory_announced (DiodeRelay * r, const gchar * name);
void     directory_handle_link (Conn * c);
void     directory_handle_announce (Conn * c, DiodeMsg * m);
void     directory_child_gone (Conn * c);
/* The configuration changed: unlink children no longer listed ([relays]
 * children), closing their control links and pushes. */
void     directory_recheck_children (DiodeRelay * r);
/* A PULL to @child for @s failed: look elsewhere for a while. */
void     directory_shun_child (DiodeRelay * r, Stream * s, Conn * child,
                               const gchar * why);
/* The control link is LINKED: tell the parent every stream we provide. */
void     directory_announce_all (DiodeRelay * r);
/* Our upstream path changed: tell the children (LINK_OK again). */
void     directory_path_changed (DiodeRelay * r);
/* relay_tick: pass down a path change held back by PATH_CHANGE_MIN_MS. */
void     directory_tick    (DiodeRelay * r, gint64 now);
/* A local stream appeared (a publisher) or went away. */
void     directory_local_changed (DiodeRelay * r, Stream * s,
                                  gboolean available);
/* Send ANNOUNCE on the control link, if LINKED. @path: before us. */
void     upstream_announce (DiodeRelay * r, DiodeAnnounceOp op,
                            const gchar * name, const gchar * owner,
                            guint8 access, const gchar * fleet,
                            const gchar * const *allow,
                            const gchar * const *path);

/* diode-relay-pull.c */
void     pull_maybe_start  (DiodeRelay * r, Stream * s);
void     pull_on_ready     (Link * l);
void     pull_handle_message (Link * l, DiodeMsg * m);
void     pull_link_down    (Link * l, const gchar * why);
void     pull_stop         (Stream * s, const gchar * why);
/* The active upstream changed back: a second pull there, switching at a
 * caught-up keyframe. */
void     pull_fail_back    (DiodeRelay * r, Stream * s);
/* A child's push: ask it (PULL on its control link). */
gboolean push_request      (DiodeRelay * r, Stream * s, Conn * child);
/* The parent asked us (PULL): open a push connection for it. */
void     push_start        (Link * control, DiodeMsg * m);
void     push_on_ready     (Link * l);
void     push_handle_message (Link * l, DiodeMsg * m);
void     push_link_down    (Link * l, const gchar * why);
/* PUBLISH on a relay link: a child's push we asked for? */
gboolean push_accept       (Conn * c, DiodeMsg * m);
void     relay_pulls_tick  (DiodeRelay * r, gint64 now);
gboolean stream_has_consumers (Stream * s);
/* The seq a pull or push should start at: the ring's last + 1, or 0 (the
 * latest keyframe) when it holds nothing yet. */
guint64  stream_next_seq   (Stream * s);

/* A relay connection speaking version 2 (the relay-link dialect). */
gboolean conn_is_link      (Conn * c);
/* @s->path + this relay: what a downstream relay is told. NULL-terminated,
 * free with g_strfreev. */
gchar  **stream_path_out   (DiodeRelay * r, Stream * s);
/* Forward the policy in force to the relays subscribed to @s. */
void     stream_forward_policy (DiodeRelay * r, Stream * s);

/* diode-relay-cache.c: chunks fetched from other relays, LRU, bounded by
 * --cache-bytes (diode_stored_chunk_cost). I/O thread only. */
typedef struct _RelayCache RelayCache;
RelayCache *relay_cache_new      (guint64 max_bytes);
void     relay_cache_free        (RelayCache * c);
void     relay_cache_set_max     (RelayCache * c, guint64 max_bytes);
DiodeStoredChunk *relay_cache_get (RelayCache * c, const gchar * key,
                                   guint64 seq);
void     relay_cache_put         (RelayCache * c, const gchar * key,
                                  DiodeStoredChunk * chunk);
guint64  relay_cache_get_bytes   (RelayCache * c);
guint    relay_cache_get_count   (RelayCache * c);
void     relay_cache_get_counters (RelayCache * c, guint64 * hits,
                                   guint64 * misses, guint64 * evictions);

/* diode-relay-peers.c: the remote tiers of relay_chunk_get and RANGE for
 * streams not held here. */
/* What a peer or the upstream said a stream holds (RANGE_OK). The policy
 * is the one the fetching relay enforces: absent or unknown → private. */
typedef struct {
  gchar      *name;
  guint8      stream_state;     /* DiodeStreamState */
  gchar      *owner;
  guint8      access;
  gchar      *fleet;
  gchar     **allow;
  DiodeSpan  *spans;
  guint       n_spans;
  gboolean    from_upstream;
} RelayRange;
void     relay_range_free        (RelayRange * rr);
RelayRange *relay_range_copy     (const RelayRange * rr);
const RelayRange *relay_peers_remote (DiodeRelay * r, const gchar * key);
/* @range NULL: nobody holds it (@reason says why); the callback owns
 * neither. Runs on the I/O thread, never from inside the call. */
typedef void (*RelayRangeFunc) (DiodeRelay * relay, const RelayRange * range,
                                const gchar * reason, gpointer user_data);
gboolean relay_peers_init        (DiodeRelay * r, GError ** error);
/* I/O thread at shutdown: waiting callbacks run (no answer). */
void     relay_peers_shutdown    (DiodeRelay * r);
/* After the I/O thread ended, before relay_links_stop. */
void     relay_peers_stop        (DiodeRelay * r);
struct _JsonBuilder;
void     relay_peers_stats       (DiodeRelay * r, struct _JsonBuilder * b,
                                  gint64 now);
void     relay_peers_tick        (DiodeRelay * r, gint64 now);
gboolean relay_peers_configured  (DiodeRelay * r);
/* The remote tiers: cache, peers in order (LOCAL), the upstream; @cb gets
 * (transfer full) a verified chunk holding @seq or, when nobody has it,
 * the first one after it with DISCONT set; else NULL + an error
 * DIODE_STORE_ERROR_NOT_FOUND saying why. */
typedef void (*RelayPeerChunkFunc) (DiodeRelay * relay,
                                    DiodeStoredChunk * chunk,
                                    const GError * error, gpointer user_data);
void     relay_peers_chunk_get   (DiodeRelay * r, const gchar * key,
                                  const gchar * name, guint64 seq,
                                  gboolean exact, RelayPeerChunkFunc cb,
                                  gpointer user_data);
/* The whole of relay_chunk_get: the local store, then the remote tiers
 * when they can help (the stream is not live here, or @seq is behind its
 * ring). */
void     relay_chunk_get_tiers   (DiodeRelay * r, const gchar * key,
                                  const gchar * name, guint64 seq,
                                  RelayPeerChunkFunc cb, gpointer user_data);
gboolean relay_peers_remote_meta (DiodeRelay * r, const gchar * key,
                                  DiodeStoreMeta * meta);
/* A client's RANGE (not LOCAL) for a stream not held here: asked of the
 * peers and the upstream; RANGE_OK (the policy checked as for SUBSCRIBE)
 * or ERROR 100 goes to @c when they answer. */
void     relay_peers_range_for   (Conn * c, const gchar * name);
void     relay_range_pulled_for  (Conn * c, const gchar * name);
/* A LOCAL FETCH's read: this relay's store, then its cache (no network). */
void     relay_chunk_get_held    (DiodeRelay * r, const gchar * key,
                                  guint64 seq, RelayPeerChunkFunc cb,
                                  gpointer user_data);
void     relay_peers_conn_gone   (Conn * c);
/* After the I/O thread ended: tier requests whose store read never came
 * back are freed. */
void     relay_tiers_stop        (DiodeRelay * r);
guint64  relay_range_find_start  (const RelayRange * rr, guint8 mode,
                                  guint64 value, guint64 now_us);
void     relay_peers_range       (DiodeRelay * r, const gchar * key,
                                  const gchar * name, RelayRangeFunc cb,
                                  gpointer user_data);
void     peer_on_ready           (Link * l);
void     peer_handle_message     (Link * l, DiodeMsg * m);
void     peer_link_down          (Link * l, const gchar * why);
/* diode-relay-replay.c */
/* A chunk for a reader, on the I/O thread: @chunk (transfer full,
 * verified) or NULL and @error (DIODE_STORE_ERROR: NOT_FOUND nothing held
 * at or after the seq, DAMAGED every copy was damaged, FAILED). */
typedef void (*RelayChunkFunc) (DiodeRelay * relay, DiodeStoredChunk * chunk,
    const GError * error, gpointer user_data);
/* The stored chunk holding MEDIA @seq, or the first one after it: the
 * local store (on the pool), then (peers helper) peers and the upstream.
 * @cb always runs, later, on the I/O thread. */
void     relay_chunk_get   (DiodeRelay * relay, const gchar * key,
                            const gchar * name, guint64 seq,
                            RelayChunkFunc cb, gpointer user_data);
/* The same from this relay's store only (FETCH with DIODE_RANGE_LOCAL). */
void     relay_chunk_get_local (DiodeRelay * relay, const gchar * key,
                                guint64 seq, RelayChunkFunc cb,
                                gpointer user_data);
/* The chunk at @seq is damaged everywhere: the first good one after it
 * in the local store, with DIODE_CHUNK_DISCONT set. */
void     relay_chunk_skip_damaged (DiodeRelay * relay, const gchar * key,
                                   guint64 seq, RelayChunkFunc cb,
                                   gpointer user_data);
/* The stored meta of @name (FALSE: not stored, @meta zeroed; clear it
 * either way with diode_store_meta_clear). */
gboolean relay_store_meta  (DiodeRelay * r, const gchar * name,
                            DiodeStoreMeta * meta);
guint8   relay_stream_state (DiodeRelay * r, Stream * s,
                             const DiodeStoreMeta * meta);
/* Access for SUBSCRIBE-with-start, RANGE, FETCH: as SUBSCRIBE, with the
 * live stream's policy, else the stored meta's. */
gboolean relay_replay_allowed (Conn * c, Stream * s,
                               const DiodeStoreMeta * meta, gchar ** why);
/* A stream here with a source (publisher or pull) that has not ended. */
gboolean stream_live_here  (Stream * s);
/* @tmp: a Stream carrying @meta's name, owner and policy for the access
 * checks (unref tmp->allow after). */
void     meta_policy_stream (Stream * tmp, const DiodeStoreMeta * meta);
/* The relay-wide replay bound: a stored chunk held / let go (waiting
 * reads start as bytes free up). */
void     replay_hold       (DiodeRelay * r, DiodeStoredChunk * ch);
gboolean replay_admit      (DiodeRelay * r, guint id, gsize * reserved,
                            gboolean * queued);
void     replay_unreserve  (DiodeRelay * r, gsize * reserved);
void     replay_release    (DiodeRelay * r, DiodeStoredChunk * ch);
/* SUBSCRIBE: TRUE when it is served by a replay cursor (or refused);
 * FALSE: the live path goes on (c->start_seq may have been set to the
 * ring chunk a start landed on). */
gboolean replay_subscribe  (Conn * c, DiodeMsg * m, Stream * s);
/* conn_flush: the next frame to write (a new ref), NULL when none yet. */
GBytes  *replay_next_frame (Conn * c);
void     replay_conn_gone  (Conn * c);
void     relay_replay_tick (DiodeRelay * r, gint64 now);
void     relay_replay_init (DiodeRelay * r);
void     relay_replay_stop (DiodeRelay * r);
void     relay_replay_stats (JsonBuilder * b, DiodeRelay * r);

/* diode-relay-props.c: the object's properties (diode_relay_class_init) */
void     relay_install_properties (GObjectClass * oc);
/* The SUBSCRIBE's live path (a start that found nothing stored). */
void     relay_subscribe_live (Conn * c, Stream * s, const gchar * name);
void     relay_subscribe_retry (Conn * c, GBytes * frame);
/* diode-relay-list.c: LIST (docs/protocol.md section 19) */
void     handle_list       (Conn * c, DiodeMsg * m);
/* DiodeListState of @s: what /api/streams and LISTING show */
/* a stream and not only a name: fed at some point, with a policy (LIST;
 * the web list shows the public ones) */
gboolean stream_shown (Stream * s);
guint8   stream_list_state (Stream * s);
/* diode-relay-fetch.c */
/* A FETCH whose read waited for replay bytes: its turn. */
void     fetch_resume      (Fetch * f);
void     handle_range      (Conn * c, DiodeMsg * m);
void     handle_fetch      (Conn * c, DiodeMsg * m);
/* conn_flush: the next frame of a FETCH answer (a new ref), NULL when
 * none yet. */
GBytes  *fetch_next_frame  (Conn * c);
void     fetch_conn_gone   (Conn * c);
/* Spans held (store + ring), merged, oldest first: count (<= 256). */
guint    relay_spans       (DiodeRelay * r, Stream * s, const gchar * key,
                            DiodeSpan * out);
/* diode-relay-record.c */
void     relay_record_start (DiodeRelay * r);
void     relay_record_stop (DiodeRelay * r);
void     relay_record_tick (DiodeRelay * r, gint64 now);
/* What the relay knows of the stored stream @key (diode_name_key()): its
 * name as first spelled, owner, policy, pubflags, finished. FALSE when
 * nothing is stored under @key. A stored stream whose meta is unreadable
 * (DIODE_STORE_KEY_QUARANTINED) is TRUE with access
 * RELAY_ACCESS_UNREADABLE and no owner: every access check refuses it
 * (conn_allowed, 102), so it is never served. @out may be NULL; else it
 * is filled with copies: diode_store_meta_clear() it. */
gboolean relay_record_lookup (DiodeRelay * r, const gchar * key,
                              DiodeStoreMeta * out);
/* The access value (not a DiodeAccess: never on the wire) of a stored
 * stream whose meta cannot be read: nobody may see it. */
#define RELAY_ACCESS_UNREADABLE 0xff
/* Why a stored name whose meta is unreadable is refused (for the peer and
 * the log, no peer text): NULL when @name is not such a name. g_free. */
gchar   *relay_record_unreadable_why (DiodeRelay * r, const gchar * name);
/* LIST: @func for the name (borrowed, as first spelled) of each stored
 * stream with a readable meta; returns how many stored streams it looked
 * at (readable or not). */
typedef void (*RelayRecNameFunc) (const gchar * name, gpointer user_data);
guint    relay_record_foreach_name (DiodeRelay * r, RelayRecNameFunc func,
                                    gpointer user_data);
/* NONE or RECORDING: is @s being recorded now? */
DiodeStoreState relay_record_state (Stream * s);
/* A stored name keeps its owner: may @c publish @name? */
gboolean relay_record_may_publish (Conn * c, const gchar * name,
                                   gchar ** why);
/* The same for any claimed @owner (a child relay's ANNOUNCE or push). */
gboolean relay_record_owner_allows (DiodeRelay * r, const gchar * name,
                                    const gchar * owner, gchar ** why);
/* The seq after the highest stored or queued for @name (0: none). */
guint64  relay_record_next_seq (DiodeRelay * r, const gchar * name);
/* PUBLISH accepted (policy set): record @s if @pubflags ask and the store
 * can; the state for PUBLISH_OK. */
DiodeStoreState relay_record_publish (DiodeRelay * r, Stream * s, Conn * c,
                                      guint32 pubflags);
/* After each frame of a recorded stream (s->rec set): closed chunks go to
 * the store; @eos: the stream ended, the open chunk too. */
void     relay_record_frame (DiodeRelay * r, Stream * s, gboolean eos);
void     relay_record_policy (DiodeRelay * r, Stream * s);
/* The stream's recording session ends (new publisher, freed, stop). */
void     relay_record_detach (Stream * s);
void     relay_record_conn_gone (Conn * c);
/* stats (docs/stats.md): the "store" member; a stream's recording members */
void     relay_record_stats (JsonBuilder * b, DiodeRelay * r);
void     relay_record_stats_stream (JsonBuilder * b, Stream * s);
/* For the stats log line: ", recorded: ..." or "" (g_free it). */
gchar   *relay_record_stats_text (Stream * s);

/* diode-relay-timers.c */
gboolean relay_tick        (gpointer user_data);

/* diode-relay-direct.c: direct paths (docs/protocol.md 17.4, 17.6) */
void     relay_direct_signal (Conn * c, DiodeMsg * m);
void     relay_direct_path (Conn * c, DiodeMsg * m);
/* The connection is going (close, linger): its sessions end ("viewer
 * gone" / "publisher gone"), it leaves the direct path. */
void     relay_direct_conn_gone (Conn * c);
void     relay_direct_viewer_left (Conn * c);
void     relay_direct_free (Conn * c);
/* Publisher @c's sessions end: "end of stream", "publisher replaced". */
void     relay_direct_publisher_end (Conn * c, const gchar * reason);
/* The policy no longer admits viewer @c (before its ERROR 102). */
void     relay_direct_viewer_refused (Conn * c);
/* EOS of @s to its viewers on a direct path (they have no cursor). */
void     relay_direct_stream_eos (Stream * s, GBytes * eos);
guint    relay_direct_stream_viewers (Stream * s);
void     relay_direct_stats (JsonBuilder * b, DiodeRelay * r);

/* diode-relay-stun.c: the --stun UDP answerer (docs/protocol.md 17.8) */
/* Binds the socket (nothing when stun_listen is NULL), then attach adds
 * it to the epoll set; stop closes it (after the I/O thread ended). */
gboolean relay_stun_start (DiodeRelay * r, GError ** error);
void     relay_stun_attach (DiodeRelay * r);
void     relay_stun_stop (DiodeRelay * r);
void     relay_stun_readable (DiodeRelay * r);
void     relay_stun_stats (JsonBuilder * b, DiodeRelay * r);
/* answered, dropped (0 when off) */
void     relay_stun_counters (DiodeRelay * r, guint64 * answered,
                              guint64 * dropped);

/* diode-relay-access.c */
gboolean stream_allows     (DiodeRelay * r, Stream * s, const gchar * address,
                            gchar ** why);
void     stream_set_policy (Stream * s, const DiodeMsg * m);
gboolean may_publish       (Conn * c, Stream * s, const gchar * name,
                            gchar ** why);
gboolean viewer_pin_allows (Conn * c, Stream * s, const gchar * publisher,
                            gchar ** why);
/* May the child relay (control link @from) claim that @owner publishes
 * @name? [names], [publishers], and names held here for another owner. */
gboolean child_claim_allowed (DiodeRelay * r, Conn * from, const gchar * name,
                              const gchar * owner, gchar ** why);
/* stream_allows for a connection: a relay (role RELAY) gets public streams,
 * and protected or private ones only when [relays] trusted names it. */
gboolean conn_allowed      (Conn * c, Stream * s, gchar ** why);
gboolean conn_trusted_relay (Conn * c);
/* The allowlist as a NULL-terminated array of borrowed strings: free the
 * array with g_free, not its strings. Leaks if passed to g_strfreev. */
gchar  **stream_allow_list (Stream * s);

/* diode-relay-stats.c */
/* @c wrote its first MEDIA frame at @now: first_media_at, and its join
 * time (accept -> first MEDIA) counted in the histograms, the relay's and
 * its stream's (viewers only: not pushes to another relay). Web viewers
 * call it too. */
void     relay_note_join   (Conn * c, gint64 now);
/* @c was added to / removed from @s->viewers: the stream's totals follow
 * (call each once per add/remove). */
void     stream_viewer_added (Stream * s, Conn * c);
void     stream_viewer_left (Stream * s, Conn * c);
/* Totals of @s over its viewers, present and gone (never going down
 * while @s lives). */
typedef struct {
  guint64 bytes_out, frames_out, skips;
  guint64 media_out;            /* ring frames only (media_bytes_out) */
  guint   viewers, web_viewers;  /* current, dead ones excluded */
  guint64 max_backlog;
} StreamTotals;
void     stream_totals     (Stream * s, StreamTotals * t);
/* relay_tick: each stream's bitrate over RELAY_RATE_WINDOW_MS. */
void     relay_rates_tick  (DiodeRelay * r, gint64 now);
/* The caps of @s read for display (cached per CAPS frame). */
const DiodeCapsInfo *stream_caps_info (Stream * s);
void     relay_stats_log   (DiodeRelay * r, gint64 now);
void     relay_stats       (DiodeRelay * r, gint64 now);
void     relay_stats_log_links (DiodeRelay * r, gint64 now);

G_END_DECLS
