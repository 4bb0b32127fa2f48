/* gst-diode — what the replay tests share (test-replay*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See replayharness.h.
 */
#define _GNU_SOURCE           /* memmem */
#include "replayharness.h"

#include <glib/gstdio.h>
#include <string.h>
#include <stdio.h>

/* HELLO offering 1..@vmax; the client then parses as that version. */
void
hello_v (RawClient * c, DiodeRole role, guint16 vmax)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, vmax, role, "replay/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.version, vmax);
  c->version = m.version;
  c->role = role;
  diode_msg_clear (&m);
}

/* Payload bytes of every MEDIA (payload_size changes it for a test). */
gsize payload_size = 64;

/* MEDIA @seq: payload_size bytes of a pattern only it has, 10 ms each. */
GBytes *
media_frame (guint64 seq, gboolean key)
{
  guint8 *data = g_malloc (payload_size);
  GBytes *f;
  gsize i;

  for (i = 0; i < payload_size; i++)
    data[i] = (guint8) (seq * 7 + i);
  f = diode_msg_encode_media (seq, seq * 10 * MS, seq * 10 * MS, 10 * MS,
      seq, seq + 1, key ? DIODE_MEDIA_KEYFRAME : 0, data, payload_size);
  g_free (data);
  return f;
}

/* Is @payload what media_frame (@seq) carries? */
gboolean
payload_is (GBytes * payload, guint64 seq)
{
  gsize n, i;
  const guint8 *d = g_bytes_get_data (payload, &n);

  if (n != payload_size)
    return FALSE;
  for (i = 0; i < n; i++)
    if (d[i] != (guint8) (seq * 7 + i))
      return FALSE;
  return TRUE;
}

/* A v1 publisher of @name (its policy given); returns next_seq. */
guint64
publish (RawClient * c, const gchar * name, DiodeAccess access,
    const gchar * const *allow)
{
  DiodeMsg m = { 0 };
  guint64 next;

  hello_v (c, DIODE_ROLE_PUBLISHER, 1);
  raw_send_frame (c, diode_msg_encode_publish_policy (name, access, "",
          allow));
  raw_expect (c, DIODE_MSG_PUBLISH_OK, &m);
  next = m.seq;
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  return next;
}

/* Seqs @from..@to, a keyframe every @gop (seq % gop == 1). */
void
send_range (RawClient * c, guint64 from, guint64 to, guint gop)
{
  guint64 s;

  for (s = from; s <= to; s++)
    raw_send_frame (c, media_frame (s, s % gop == 1 % gop));
}

GBytes *
subscribe_at (const gchar * name, guint8 mode, guint64 value, guint8 snap)
{
  DiodeSubscribeArgs a = { 0 };

  a.stream = name;
  a.wait_ms = 2000;
  a.start_mode = mode;
  a.start_value = value;
  a.snap = snap;
  return diode_msg_encode_subscribe_args (&a, 3, DIODE_ROLE_VIEWER);
}

/* The next message that is not a PING/PONG. */
void
next_msg (RawClient * c, DiodeMsg * m)
{
  fail_unless (raw_next (c, m, RAW_IO_MS) == RAW_READ_MSG,
      "nothing from the relay");
}

/* SUBSCRIBE_OK, then CAPS, then MEDIA @first..@last in order with no gap
 * and no duplicate (STREAMHEADER frames aside: none here). Returns the
 * SUBSCRIBE_OK's start_time. */
guint64
expect_play (RawClient * v, guint64 from, guint64 last, guint8 state)
{
  DiodeMsg m = { 0 };
  guint64 s, start_time;

  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, from);
  fail_unless_equals_int (m.stream_state, state);
  start_time = m.start_time;
  diode_msg_clear (&m);
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  for (s = from; s <= last; s++) {
    next_msg (v, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
    fail_unless_equals_uint64 (m.seq, s);
    fail_unless (payload_is (m.payload, s), "payload of seq %"
        G_GUINT64_FORMAT " differs", s);
    diode_msg_clear (&m);
  }
  return start_time;
}

/* MEDIA @from..@last more, in order; returns the last seq read. */
guint64
expect_play_more (RawClient * v, guint64 from, guint64 last)
{
  DiodeMsg m = { 0 };
  guint64 s;

  for (s = from; s <= last; s++) {
    next_msg (v, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
    fail_unless_equals_uint64 (m.seq, s);
    fail_unless (payload_is (m.payload, s));
    diode_msg_clear (&m);
  }
  return last;
}

/* RANGE of @name until RANGE_OK (into @m): a configuration reload reaches
 * the relay's loop asynchronously, so a refusal may still come first. */
void
range_until_ok (RawClient * c, const gchar * name, DiodeMsg * m)
{
  gint64 end = deadline_in (5000);

  for (;;) {
    raw_send_frame (c, diode_msg_encode_range (name, 0));
    next_msg (c, m);
    if (m->type == DIODE_MSG_RANGE_OK)
      return;
    fail_unless_equals_int (m->type, DIODE_MSG_ERROR);
    fail_unless (g_get_monotonic_time () < end, "still refused: %s",
        m->error_text);
    diode_msg_clear (m);
    g_usleep (50 * 1000);
  }
}

/* Reads a FETCH answer: CHUNKs with their frames (checked: count, bytes,
 * CRC, seqs inside the header's range) until FETCH_END. Returns the chunk
 * headers; *@frames gets every MEDIA seq in order. */
GArray *
read_fetch (RawClient * c, GArray * seqs, guint64 * next_seq, guint8 * status)
{
  GArray *hdrs = g_array_new (FALSE, FALSE, sizeof (DiodeChunkHeader));
  DiodeMsg m = { 0 };

  for (;;) {
    DiodeChunkHeader h;
    guint32 crc = 0, bytes = 0;
    guint i;

    next_msg (c, &m);
    if (m.type == DIODE_MSG_FETCH_END) {
      *next_seq = m.next_seq;
      *status = m.fetch_status;
      diode_msg_clear (&m);
      return hdrs;
    }
    fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
    h = m.chunk;
    diode_msg_clear (&m);
    g_array_append_val (hdrs, h);
    for (i = 0; i < h.n_frames; i++) {
      next_msg (c, &m);
      fail_unless (m.type == DIODE_MSG_CAPS || m.type == DIODE_MSG_MEDIA
          || m.type == DIODE_MSG_EOS, "a %s inside a CHUNK",
          diode_msg_type_name (m.type));
      crc = diode_chunk_crc (crc, m.frame);
      bytes += g_bytes_get_size (m.frame);
      if (m.type == DIODE_MSG_MEDIA && i >= h.n_prelude) {
        fail_unless (m.seq >= h.first_seq && m.seq <= h.last_seq);
        g_array_append_val (seqs, m.seq);
      }
      diode_msg_clear (&m);
    }
    fail_unless_equals_int (crc, h.crc);
    fail_unless_equals_int (bytes, h.bytes);
  }
}

/* ------------------------------------------------------------------------ */
/* with a store (store-dir): recorded by the relay itself, then replayed */

/* A v3 publisher of @name with @pubflags and a policy; returns next_seq. */
guint64
publish3_policy (RawClient * c, const gchar * name, guint32 pubflags,
    DiodeAccess access, const gchar * const *allow)
{
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };
  guint64 next;

  a.stream = name;
  a.access = access;
  a.fleet = "";
  a.allow = allow;
  a.pubflags = pubflags;
  hello_v (c, DIODE_ROLE_PUBLISHER, 3);
  raw_send_frame (c, diode_msg_encode_publish_args (&a, 3,
          DIODE_ROLE_PUBLISHER));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH_OK");
  fail_unless_equals_int (m.store_state, DIODE_STORE_RECORDING);
  next = m.seq;
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  return next;
}

guint64
publish3 (RawClient * c, const gchar * name, guint32 pubflags)
{
  return publish3_policy (c, name, pubflags, DIODE_ACCESS_PUBLIC, NULL);
}

/* Reads STORED until one says @seq (or final) is durable. */
void
wait_stored (RawClient * c, guint64 seq, gboolean final)
{
  gint64 end = deadline_in (10000);
  DiodeMsg m = { 0 };

  while (g_get_monotonic_time () < end) {
    if (raw_next (c, &m, 500) != RAW_READ_MSG) {
      diode_msg_clear (&m);
      continue;
    }
    fail_unless_equals_int (m.type, DIODE_MSG_STORED);
    if (m.stored_seq >= seq && (!final || m.final)) {
      diode_msg_clear (&m);
      return;
    }
    diode_msg_clear (&m);
  }
  fail ("seq %" G_GUINT64_FORMAT " not stored in time", seq);
}

/* A finished recording of @name: seqs 1..@last, keyframes every 5, EOS. */
void
record_finished (DiodeRelay * relay, const gchar * name, guint64 last)
{
  RawClient *p = raw_open (relay, 0, "pub.pem");

  fail_unless_equals_uint64 (publish3 (p, name, DIODE_PUBLISH_RECORD
          | DIODE_PUBLISH_UPLOAD), 1);
  send_range (p, 1, last, 5);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored (p, last, TRUE);
  raw_free (p, FALSE);
}

/* The rest of a replay up to EOS: MEDIA @from..@last (in order, each
 * once, its own payload), then EOS. */
void
expect_rest_and_eos (RawClient * v, guint64 from, guint64 last)
{
  DiodeMsg m = { 0 };
  guint64 s;

  for (s = from; s <= last; s++) {
    next_msg (v, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
    fail_unless_equals_uint64 (m.seq, s);
    fail_unless (payload_is (m.payload, s));
    diode_msg_clear (&m);
  }
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_EOS);
  diode_msg_clear (&m);
}

/* The segment file holding MEDIA @seq's payload (its unique pattern). */
gboolean
flip_payload_byte (const gchar * dir, guint64 seq)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *n;
  gboolean done = FALSE;
  guint8 pat[64];               /* a whole payload: unique below seq 256 */
  guint i;

  for (i = 0; i < sizeof (pat); i++)
    pat[i] = (guint8) (seq * 7 + i);
  while (d && !done && (n = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, n, NULL);
    gchar *data = NULL;
    gsize len = 0;

    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      done = flip_payload_byte (path, seq);
    } else if (g_file_get_contents (path, &data, &len, NULL)) {
      guint8 *at = memmem (data, len, pat, sizeof (pat));

      if (at) {
        FILE *f = fopen (path, "r+b");

        fail_unless (f != NULL);
        fseek (f, (at - (guint8 *) data) + 8, SEEK_SET);
        fputc (at[8] ^ 0x40, f);
        fclose (f);
        done = TRUE;
      }
      g_free (data);
    }
    g_free (path);
  }
  if (d)
    g_dir_close (d);
  return done;
}

/* The store says so when it finds a damaged chunk (a warning, which
 * gst-check makes fatal): counted here instead. */
void
count_damaged (const gchar * domain, GLogLevelFlags level, const gchar * msg,
    gpointer user_data)
{
  if (strstr (msg, "damaged"))
    g_atomic_int_inc ((gint *) user_data);
  else
    g_printerr ("unexpected warning: %s\n", msg);
}

/* The replay member of a fresh stats snapshot. */
gint64
stats_replay (DiodeRelay * relay, const gchar * member)
{
  gchar *json = NULL;
  JsonParser *p = json_parser_new ();
  JsonObject *o;
  gint64 v;

  g_usleep (300 * 1000);        /* stats-interval-ms 100: a fresh one */
  json = diode_relay_get_stats_json (relay);
  fail_unless (json != NULL, "no stats snapshot");
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  o = json_object_get_object_member (json_node_get_object
      (json_parser_get_root (p)), "replay");
  fail_unless (o != NULL, "no replay member in the stats");
  v = json_object_get_int_member (o, member);
  g_object_unref (p);
  g_free (json);
  return v;
}

/* WALLCLOCK and BACK against the relay's receive times: four GOPs 200 ms
 * apart (keyframes at 1, 6, 11, 16), their chunks' wall_us read from FETCH
 * (the ring's, or the store's); then targets just after the third chunk's
 * time land on it (BEFORE), on the fourth (AFTER), and BACK from now to
 * the same instant lands on it too. @stored: with a store (a live
 * recording), else the ring. */
void
check_wall_starts (gboolean stored)
{
  gchar *dir = stored ? tmp_store () : NULL;
  DiodeRelay *relay = stored ? relay_with ("store-dir", dir, NULL) :
      relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next, wall3, target;
  guint8 status;
  guint g;

  if (stored) {
    fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  } else {
    publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  }
  for (g = 0; g < 4; g++) {
    send_range (p, 1 + 5 * g, 5 + 5 * g, 5);
    g_usleep (200 * 1000);
  }
  send_range (p, 21, 21, 5);    /* closes the fourth chunk */
  if (stored)
    wait_stored (p, 20, FALSE);
  else
    fail_unless (fixture_wait_last_seq (relay, "cam", 21, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, 20, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (hdrs->len, 4);
  wall3 = g_array_index (hdrs, DiodeChunkHeader, 2).wall_us;
  fail_unless (wall3 > g_array_index (hdrs, DiodeChunkHeader, 1).wall_us
      + 100000, "chunks not 200 ms apart");
  fail_unless (g_array_index (hdrs, DiodeChunkHeader, 3).wall_us > wall3
      + 100000);
  g_array_unref (hdrs);
  raw_free (v, FALSE);

  target = wall3 + 50000;       /* 50 ms into the third GOP */
  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_WALLCLOCK, target,
          DIODE_SNAP_BEFORE));
  expect_play (v, 11, 21, stored ? DIODE_STREAM_LIVE_RECORDED :
      DIODE_STREAM_LIVE);
  raw_free (v, FALSE);
  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_WALLCLOCK, target,
          DIODE_SNAP_AFTER));
  expect_play (v, 16, 21, stored ? DIODE_STREAM_LIVE_RECORDED :
      DIODE_STREAM_LIVE);
  raw_free (v, FALSE);
  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  /* BACK: ns from the relay's now back to the same instant (the few ms
   * between this line and the relay's clock move it later, still inside
   * the third GOP's 200 ms) */
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_BACK,
          ((guint64) g_get_real_time () - target) * 1000,
          DIODE_SNAP_BEFORE));
  expect_play (v, 11, 21, stored ? DIODE_STREAM_LIVE_RECORDED :
      DIODE_STREAM_LIVE);
  raw_free (v, FALSE);

  g_array_unref (seqs);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}
