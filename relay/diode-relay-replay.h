/* gst-diode — the relay serves recordings: replay internals
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The replay cursor, shared by diode-relay-replay.c (the cursor) and
 * diode-relay-replay-start.c (where it starts). I/O thread only.
 */
#pragma once

#include "diode-relay-private.h"

struct _Replay {
  guint       id;               /* key in r->replays: reads hold the id */
  Conn       *conn;
  gchar      *key, *name;
  DiodeStoredChunk *cur;        /* being sent */
  guint       index;            /* next frame of cur */
  gboolean    cur_prelude;      /* send cur's prelude frames */
  DiodeStoredChunk *ahead;      /* read ahead (one at most) */
  gboolean    ahead_prelude;
  gboolean    reading;          /* a read in flight */
  gsize       reserved;         /* its slot under the replay bound */
  gboolean    find;             /* the first read is the SUBSCRIBE's
                                   find (mode, value, snap): waits for the
                                   bound like any read */
  gboolean    queued;           /* in r->replay_waiting (over the bound) */
  gboolean    idle;             /* nothing more stored yet: tick retries */
  gboolean    started;          /* SUBSCRIBE_OK sent */
  guint64     next_seq;         /* first seq to read next */
  guint64     sent_seq;         /* last MEDIA seq handed out */
  guint64     chunks, skipped;
  /* the SUBSCRIBE, for a fallback to the live path */
  guint8      mode, snap;
  guint64     value;
  /* a recording this relay does not hold: RANGE asked of other relays
   * (diode-relay-peers.c), its chunks fetched through relay_chunk_get */
  gboolean    remote;
  GBytes     *subscribe;        /* the SUBSCRIBE frame, to handle it again
                                   when no other relay has it recorded */
  /* a LIVE resume (start_seq) older than the ring: filled from the tiers
   * from start_seq, then the ring; none has it: the live path, as before */
  gboolean    resume;
};

void     replay_maybe_read (Replay * rp);
void     replay_push_find  (DiodeRelay * r, Replay * rp);
void     replay_free       (DiodeRelay * r, Replay * rp);
void     replay_on_chunk   (DiodeRelay * r, DiodeStoredChunk * ch,
                            const GError * error, gpointer user_data);
DiodeChunk *ring_find_start (Stream * s, guint8 mode, guint64 value,
                             guint8 snap);
