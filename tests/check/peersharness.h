/* gst-diode — what the peer tests share (test-peers*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The recording the fake peers hold (N_CHUNKS chunks of GOP MEDIA frames
 * with their CAPS prelude), fake peer relays built on rawclient's
 * raw_listen / raw_accept that answer RANGE and FETCH with hand-made
 * chunks (or misbehave as their PeerMode says), relays under test linked
 * to them with --peer, a viewer asking for the start and comparing every
 * MEDIA byte for byte, and the fetch/upstream/peer members of the stats.
 * Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

G_BEGIN_DECLS

#define WAIT_MS    10000
#define STREAM     "rec"
#define GOP        5            /* MEDIA frames per chunk */
#define N_CHUNKS   3
#define FRAME_SIZE 1000

/* the recording the fake peers hold: N_CHUNKS chunks of GOP MEDIA frames,
 * each starting with its CAPS frame (the prelude), seqs 1..N_CHUNKS*GOP */
typedef struct {
  DiodeChunkHeader hdr;
  GPtrArray  *frames;           /* GBytes* */
} TChunk;

GBytes *media_frame (guint64 seq);

TChunk *tchunk_new (guint64 first_seq, gboolean eos);

void tchunk_free (TChunk * t);

/* a fake peer relay */
typedef enum {
  PEER_GOOD,
  PEER_DAMAGE,                  /* chunk @special: CRC off by one */
  PEER_MISSING,                 /* chunk @special: FETCH_END NONE */
  PEER_OVERSEND,                /* chunk @special: one frame more than said */
  PEER_HUGE_COUNT,              /* chunk @special: n_frames 70000 */
  PEER_SILENT,                  /* FETCH of chunk @special: no answer */
  PEER_FORGED,                  /* chunk @special: header seqs up to
                                   G_MAXUINT64, count/bytes/CRC right */
} PeerMode;

typedef struct {
  gchar      *key;
  gchar      *address;
  int         lfd;
  guint16     port;
  RawClient  *c;
  guint       accepts;
  TChunk     *chunks[N_CHUNKS];
  PeerMode    mode;
  guint64     special;          /* first seq of the chunk it misbehaves on */
  guint       ranges, fetches;
  GArray     *fetched;          /* guint64 from_seq of each FETCH */
  gboolean    closed;           /* the relay closed the connection */
  gint        error_code;       /* last ERROR from the relay, -1 none */
  gboolean    stalled;          /* PEER_SILENT: sat on a FETCH */
  DiodeAccess access;           /* the policy its RANGE_OK gives */
  gchar     **allow;
} FakePeer;

FakePeer *fake_peer_new (const gchar * key, PeerMode mode, guint64 special);

void fake_peer_free (FakePeer * p);

/* "0xADDR@127.0.0.1:PORT": pinned, no trust on first use */
gchar *fake_peer_spec (FakePeer * p);

TChunk *fake_peer_find (FakePeer * p, guint64 seq);

void fake_peer_send_chunk (FakePeer * p, TChunk * t);

/* Serves what the relay asks for @timeout_ms at most (accepting its
 * connection first if needed). */
void fake_peer_poll (FakePeer * p, guint timeout_ms);

/* relays and viewers */
DiodeRelay *start_relay (const gchar * key, DiodeRelay * upstream,
    FakePeer ** peers, guint n_peers, guint64 cache_bytes);

DiodeRelay *start_plain (const gchar * key);

void stop_relay (DiodeRelay * r);

/* A viewer: HELLO v1..3, SUBSCRIBE EARLIEST (no wait: nothing is live). */
RawClient *viewer_earliest (DiodeRelay * r, const gchar * key,
    const gchar * stream);

typedef struct {
  GArray     *seqs;             /* guint64: MEDIA seqs, in order */
  gboolean    subscribed;
  gboolean    eos;
  gint        error_code;
  gboolean    closed;
  guint       discont_at;       /* seq of the first MEDIA after a gap */
} Watched;

/* Reads @v while serving @peers, until MEDIA @last_seq (or EOS, an error,
 * the close, WAIT_MS). Every MEDIA must be byte for byte the frame the
 * peers hold for its seq. */
void watch (RawClient * v, FakePeer ** peers, guint n_peers, guint64 last_seq,
    Watched * w);

void watched_clear (Watched * w);

/* A fresh stats snapshot of @r: member @member of its "fetch" object. */
gint64 fetch_stat (DiodeRelay * r, const gchar * member);

/* The relay's control link is up (the stats say "linked"). */
gboolean upstream_linked (DiodeRelay * r);

/* Member @member of the fetch stats' "upstream" source. */
gint64 upstream_stat (DiodeRelay * r, const gchar * member);

/* Member @member of the stats of peer number @i. */
JsonNode *peer_stat (DiodeRelay * r, guint i, const gchar * member);

guint64 recording_bytes (void);

void expect_all (Watched * w);

/* A publisher records STREAM (N_CHUNKS GOPs, CAPS "video/x-test", then
 * EOS) on @p (--store) and waits for STORED final; every MEDIA sent is
 * appended to @sent. */
void publish_recording (DiodeRelay * p, GPtrArray * sent);

G_END_DECLS
