/* gst-diode — what the recording tests share (test-record*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays with --store (store-dir), raw clients speaking
 * protocol version 3 by hand (HELLO, PUBLISH with RECORD, MEDIA in GOPs,
 * STORED), and the checks made on what the relay wrote: the store opened
 * after the relay stopped and walked chunk by chunk, the store member of
 * the stats. Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "rawclient.h"
#include "diode-relay-private.h"
#include "diode-store.h"
#include "diode-store-private.h"   /* diode_store_pause_writer */

G_BEGIN_DECLS

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au"

/* HELLO offering 1..3 as @role; the client then parses version 3. */
void hello3 (RawClient * c, DiodeRole role);

/* PUBLISH with @pubflags; PUBLISH_OK's next_seq, its store state in
 * @state. */
guint64 publish3 (RawClient * c, const gchar * name, guint32 pubflags,
    guint8 * state);

/* MEDIA @seq: @size bytes of (guint8) @seq, 1 ms each. */
void send_media (RawClient * c, guint64 seq, gboolean keyframe, gsize size);

/* CAPS, then @gops GOPs of @gop frames from @first. Returns the last seq. */
guint64 send_gops (RawClient * c, guint64 first, guint gops, guint gop,
    gsize size);

/* Reads until STORED final (PINGs answered): its last seq; every STORED on
 * the way counted in @n_progress (may be NULL). */
guint64 wait_stored_final (RawClient * c, guint timeout_ms,
    guint * n_progress);

/* The store at @dir, opened after the relay stopped. */
DiodeStore *store_open (const gchar * dir);

/* Walks the stored chunks of @key from seq 1: how many, the seqs they
 * cover (each MEDIA seq at most once, increasing), the flags seen. */
typedef struct
{
  guint chunks;
  guint64 first_seq, last_seq;
  guint64 media;                /* MEDIA seqs covered */
  guint discont;                /* chunks with DISCONT */
  gboolean eos_last;            /* the last chunk has EOS */
  guint eos;                    /* chunks with EOS (one per ended run) */
  gboolean keyframes;           /* every chunk begins with a keyframe */
} Walk;

void store_walk (DiodeStore * st, const gchar * key, Walk * w);

/* A member of the relay's stats snapshot, after a fresh one came. */
JsonObject *stats_store (DiodeRelay * relay, JsonNode ** root);

G_END_DECLS
