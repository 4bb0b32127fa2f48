/* gst-diode — chunks fetched from other relays: shared internals
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Types shared by diode-relay-peers.c (the sources) and
 * diode-relay-peers-req.c (the requests). I/O thread only.
 */
#pragma once

#include "diode-relay-private.h"


#define PEER_RETRY_MIN_MS 1000
#define PEER_RETRY_MAX_MS 30000
/* A request a source leaves unanswered (no frame of its answer) this long:
 * the connection is closed and the next source asked. */
#define FETCH_TIMEOUT_MS  10000
/* A chunk no source had is not asked for again this soon (a viewer idle at
 * the end of a recording polls). */
#define FETCH_MISS_MS     1000

typedef enum {
  REQ_CHUNK,
  REQ_RANGE,
} ReqKind;

typedef struct {
  RelayPeerChunkFunc chunk_cb;
  RelayRangeFunc range_cb;
  gpointer    user_data;
} Waiter;

typedef struct {
  ReqKind     kind;
  gchar      *key;              /* diode_name_key */
  gchar      *name;             /* as spelled by the viewer */
  guint64     seq;              /* REQ_CHUNK */
  gchar      *hkey;             /* REQ_CHUNK: key in r->fetch_reqs */
  guint       source;           /* next source: peers 0..n-1, then n the
                                   upstream */
  GSList     *waiters;          /* Waiter*, in the order they asked */
  DiodeStoredChunk *chunk;      /* the answer */
  RelayRange *range;            /* the answer */
  gchar      *reason;           /* why the last source had nothing */
  Peer       *on;               /* the source it waits on (queue or cur) */
  gboolean    skip;             /* REQ_CHUNK, second round: nobody holds
                                   seq, so the first chunk after it */
  gboolean    exact;            /* REQ_CHUNK: no second round */
} FetchReq;

struct _Peer {
  DiodeRelay *relay;
  gboolean    upstream;         /* the current upstream (r->up_peer) */
  DiodeEndpoint *ep;            /* a --peer's endpoint (NULL: upstream) */
  gchar      *text;             /* "host:port" for logs */
  Link       *link;
  gint64      retry_at;         /* skipped until then (0: usable) */
  guint       retry_ms;
  FetchReq   *cur;              /* the request on the wire */
  GQueue      queue;            /* FetchReq* waiting for this source */
  gint64      cur_deadline;     /* monotonic µs */
  gint64      idle_since;       /* no request since (monotonic µs) */
  /* the CHUNK being received */
  gboolean    in_chunk;
  DiodeChunkHeader hdr;
  GPtrArray  *frames;
  guint64     got_bytes;
  guint       fetch_chunks;     /* chunks in the current FETCH */
  guint64     fetch_bytes;      /* their bytes */
  guint64     fetch_last_seq;   /* last seq of the FETCH's previous chunk */
  /* bad answers in a row (chunks that do not verify against their own
   * frames, or do not answer what was asked): the backoff they earned,
   * applied when the link goes down (not reset by a new connection) */
  guint       bad_in_row;
  guint       bad_backoff_ms;
  /* stats */
  guint64     bytes, chunks, damaged, requests, failures, bad_answers;
};

void     req_free          (FetchReq * q);
void     req_done          (DiodeRelay * r, FetchReq * q);
void     req_next          (DiodeRelay * r, FetchReq * q);
void     req_set_reason    (FetchReq * q, const gchar * fmt, ...)
    G_GNUC_PRINTF (2, 3);
gboolean peers_fetch_done_cb     (gpointer data);
gboolean peer_usable       (Peer * p, gint64 now);
void     peer_enqueue      (Peer * p, FetchReq * q);
void     peer_kick         (Peer * p);
