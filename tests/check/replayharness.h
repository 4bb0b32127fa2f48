/* gst-diode — what the replay tests share (test-replay*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays (with or without store-dir), raw clients speaking
 * protocol version 3, and the checks the replay tests make on what they
 * read: SUBSCRIBE_OK, CAPS and MEDIA in order with their own payloads,
 * FETCH answers (counts, bytes, CRC), recordings made by the relay itself.
 * Failures are gst-check failures: use from GST_START_TEST.
 */
#pragma once

#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>

#include "rawclient.h"
#include "diode-store.h"
#include "diode-ring.h"

G_BEGIN_DECLS

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au"
#define MS GST_MSECOND

/* HELLO offering 1..@vmax; the client then parses as that version. */
void hello_v (RawClient * c, DiodeRole role, guint16 vmax);

/* Payload bytes of every MEDIA media_frame() makes (64; a test may
 * change it and must put it back). */
extern gsize payload_size;

/* MEDIA @seq: payload_size bytes of a pattern only it has, 10 ms each. */
GBytes *media_frame (guint64 seq, gboolean key);

/* Is @payload what media_frame (@seq) carries? */
gboolean payload_is (GBytes * payload, guint64 seq);

/* A v1 publisher of @name (its policy given); returns next_seq. */
guint64 publish (RawClient * c, const gchar * name, DiodeAccess access,
                 const gchar * const *allow);

/* Seqs @from..@to, a keyframe every @gop (seq % gop == 1). */
void send_range (RawClient * c, guint64 from, guint64 to, guint gop);

GBytes *subscribe_at (const gchar * name, guint8 mode, guint64 value,
                      guint8 snap);

/* The next message that is not a PING/PONG. */
void next_msg (RawClient * c, DiodeMsg * m);

/* SUBSCRIBE_OK, then CAPS, then MEDIA @first..@last in order with no gap
 * and no duplicate (STREAMHEADER frames aside: none here). Returns the
 * SUBSCRIBE_OK's start_time. */
guint64 expect_play (RawClient * v, guint64 from, guint64 last, guint8 state);

/* MEDIA @from..@last more, in order; returns the last seq read. */
guint64 expect_play_more (RawClient * v, guint64 from, guint64 last);

/* RANGE of @name until RANGE_OK (into @m): a configuration reload reaches
 * the relay's loop asynchronously, so a refusal may still come first. */
void range_until_ok (RawClient * c, const gchar * name, DiodeMsg * m);

/* Reads a FETCH answer: CHUNKs with their frames (checked: count, bytes,
 * CRC, seqs inside the header's range) until FETCH_END. Returns the chunk
 * headers; *@frames gets every MEDIA seq in order. */
GArray *read_fetch (RawClient * c, GArray * seqs, guint64 * next_seq,
                    guint8 * status);

/* A v3 publisher of @name with @pubflags and a policy; returns next_seq. */
guint64 publish3_policy (RawClient * c, const gchar * name, guint32 pubflags,
                         DiodeAccess access, const gchar * const *allow);

guint64 publish3 (RawClient * c, const gchar * name, guint32 pubflags);

/* Reads STORED until one says @seq (or final) is durable. */
void wait_stored (RawClient * c, guint64 seq, gboolean final);

/* A finished recording of @name: seqs 1..@last, keyframes every 5, EOS. */
void record_finished (DiodeRelay * relay, const gchar * name, guint64 last);

/* The rest of a replay up to EOS: MEDIA @from..@last (in order, each
 * once, its own payload), then EOS. */
void expect_rest_and_eos (RawClient * v, guint64 from, guint64 last);

/* The segment file holding MEDIA @seq's payload (its unique pattern). */
gboolean flip_payload_byte (const gchar * dir, guint64 seq);

/* The store says so when it finds a damaged chunk (a warning, which
 * gst-check makes fatal): counted here instead. */
void count_damaged (const gchar * domain, GLogLevelFlags level,
                    const gchar * msg, gpointer user_data);

/* The replay member of a fresh stats snapshot. */
gint64 stats_replay (DiodeRelay * relay, const gchar * member);

/* WALLCLOCK and BACK against the relay's receive times: four GOPs 200 ms
 * apart (keyframes at 1, 6, 11, 16), their chunks' wall_us read from FETCH
 * (the ring's, or the store's); then targets just after the third chunk's
 * time land on it (BEFORE), on the fourth (AFTER), and BACK from now to
 * the same instant lands on it too. @stored: with a store (a live
 * recording), else the ring. */
void check_wall_starts (gboolean stored);

G_END_DECLS
