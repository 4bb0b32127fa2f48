/* gst-diode — the relay serves recordings: start modes, RANGE, FETCH
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Issue 10, design section 3 "replay", against in-process relays with raw
 * clients speaking protocol version 3 (real TLS on 127.0.0.1). Without a
 * store the relay starts a SUBSCRIBE in time from its ring; with one
 * (store-dir, filled by the test through the DiodeStore API before the
 * relay starts, so every chunk is known) a replay cursor serves stored
 * chunks and moves onto the ring. RANGE and FETCH are checked frame by
 * frame: counts, CRC, seqs, caps, status.
 */
#define _GNU_SOURCE           /* memmem */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>
#include <stdio.h>
#include <json-glib/json-glib.h>

#include "rawclient.h"
#include "diode-store.h"
#include "diode-ring.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au"
#define MS GST_MSECOND

static DiodeRelay *
relay_with (const gchar * first_prop, ...)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;
  va_list ap;

  va_start (ap, first_prop);
  if (first_prop)
    g_object_set_valist (G_OBJECT (relay), first_prop, ap);
  va_end (ap);
  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (key);
  return relay;
}

static void
relay_free (DiodeRelay * relay)
{
  diode_relay_stop (relay);
  g_object_unref (relay);
}

/* HELLO offering 1..@vmax; the client then parses as that version. */
static void
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
static gsize payload_size = 64;

/* MEDIA @seq: payload_size bytes of a pattern only it has, 10 ms each. */
static GBytes *
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
static gboolean
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
static guint64
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
static void
send_range (RawClient * c, guint64 from, guint64 to, guint gop)
{
  guint64 s;

  for (s = from; s <= to; s++)
    raw_send_frame (c, media_frame (s, s % gop == 1 % gop));
}

static GBytes *
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
static void
next_msg (RawClient * c, DiodeMsg * m)
{
  fail_unless (raw_next (c, m, RAW_IO_MS) == RAW_READ_MSG,
      "nothing from the relay");
}

/* SUBSCRIBE_OK, then CAPS, then MEDIA @first..@last in order with no gap
 * and no duplicate (STREAMHEADER frames aside: none here). Returns the
 * SUBSCRIBE_OK's start_time. */
static guint64
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
static guint64
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

/* ------------------------------------------------------------------------ */
/* without a store: the ring */

/* Every start mode and snap finds its keyframe chunk in the ring (seqs
 * 1..30, keyframes at 1, 6, 11, ... : 10 ms a frame). */
GST_START_TEST (test_ring_start_modes)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  struct
  {
    guint8 mode;
    guint64 value;
    guint8 snap;
    guint64 first;
  } cases[] = {
    {DIODE_START_EARLIEST, 0, DIODE_SNAP_BEFORE, 1},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_BEFORE, 11},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_AFTER, 16},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_NEAREST, 11},
    {DIODE_START_TIME, 140 * MS, DIODE_SNAP_NEAREST, 16},
    {DIODE_START_TIME, 160 * MS, DIODE_SNAP_AFTER, 16},
    {DIODE_START_TIME, 0, DIODE_SNAP_BEFORE, 1},
    /* past the newest keyframe: live (the latest keyframe, 26) */
    {DIODE_START_TIME, 10000 * MS, DIODE_SNAP_AFTER, 26},
    /* an hour back: older than everything, so the oldest */
    {DIODE_START_BACK, 3600 * GST_SECOND, DIODE_SNAP_BEFORE, 1},
    /* a wall clock before the stream: the oldest; after it: live */
    {DIODE_START_WALLCLOCK, 1, DIODE_SNAP_NEAREST, 1},
    {DIODE_START_WALLCLOCK, G_MAXINT64, DIODE_SNAP_AFTER, 26},
  };
  guint i;
  guint64 next;

  next = publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  fail_unless_equals_uint64 (next, 1);
  send_range (p, 1, 30, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 30, 2000));

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");
    guint64 t;

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, subscribe_at ("cam", cases[i].mode, cases[i].value,
            cases[i].snap));
    t = expect_play (v, cases[i].first, 30, DIODE_STREAM_LIVE);
    /* start_time: the publisher time of the keyframe it landed on */
    fail_unless_equals_uint64 (t, cases[i].first * 10 * MS);
    raw_free (v, FALSE);
  }
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A version-1 viewer gets the version-1 SUBSCRIBE_OK (no v3 block: its
 * parser sees no state), a v3 one the block; LIVE keeps today's start. */
GST_START_TEST (test_subscribe_ok_versions)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v1 = raw_open (relay, 0, "viewer.pem");
  RawClient *v3 = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  GBytes *ok;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 12, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 12, 2000));

  hello_v (v1, DIODE_ROLE_VIEWER, 1);
  raw_send_frame (v1, diode_msg_encode_subscribe ("cam", 0, 1000));
  next_msg (v1, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 11);
  /* exactly the version-1 frame */
  ok = diode_msg_encode_subscribe_ok_from ("cam", 11, m.publisher);
  fail_unless (g_bytes_equal (ok, m.frame), "v1 SUBSCRIBE_OK changed");
  g_bytes_unref (ok);
  diode_msg_clear (&m);

  hello_v (v3, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v3, subscribe_at ("cam", DIODE_START_LIVE, 0, 0));
  fail_unless_equals_uint64 (expect_play (v3, 11, 12, DIODE_STREAM_LIVE),
      110 * MS);

  raw_free (v1, FALSE);
  raw_free (v3, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* RANGE_OK of a live stream without a store: one span, the ring's, up to
 * the live edge; state LIVE; owner; the policy without its allowlist for
 * a viewer. */
GST_START_TEST (test_range_ring)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  gchar *viewer = raw_key_address ("viewer.pem");
  gchar *owner = raw_key_address ("pub.pem");
  const gchar *allow[] = { viewer, NULL };
  DiodeMsg m = { 0 };
  gint64 before = g_get_real_time ();

  publish (p, "cam", DIODE_ACCESS_PRIVATE, allow);
  send_range (p, 1, 20, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 20, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE);
  fail_unless_equals_string (m.owner, owner);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless (m.allow == NULL || m.allow[0] == NULL,
      "the allowlist was told to a viewer");
  fail_unless_equals_int (m.n_spans, 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[0].last_seq, 20);
  fail_unless_equals_uint64 (m.spans[0].first_time, 10 * MS);
  fail_unless_equals_uint64 (m.spans[0].end_time, 200 * MS);
  fail_unless (m.spans[0].wall_start_us >= (guint64) before - G_USEC_PER_SEC);
  fail_unless (m.spans[0].wall_end_us >= m.spans[0].wall_start_us);
  diode_msg_clear (&m);

  /* back in READY: SUBSCRIBE on the same connection */
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  expect_play (v, 1, 20, DIODE_STREAM_LIVE);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  g_free (viewer);
  g_free (owner);
  relay_free (relay);
}

GST_END_TEST;

/* Reads a FETCH answer: CHUNKs with their frames (checked: count, bytes,
 * CRC, seqs inside the header's range) until FETCH_END. Returns the chunk
 * headers; *@frames gets every MEDIA seq in order. */
static GArray *
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

/* FETCH from the ring: closed chunks only (the open one is still
 * growing), every MEDIA once, in order; then FETCH_END DONE, next_seq
 * the open chunk's first seq. A range with nothing held: NONE. */
GST_START_TEST (test_fetch_ring)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next, s;
  guint8 status;
  guint i;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 23, 5);     /* chunks 1, 6, 11, 16 closed; 21 open */
  fail_unless (fixture_wait_last_seq (relay, "cam", 23, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 3, 100, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_uint64 (next, 21);
  fail_unless_equals_int (hdrs->len, 4);
  for (i = 0; i < hdrs->len; i++) {
    DiodeChunkHeader *h = &g_array_index (hdrs, DiodeChunkHeader, i);

    fail_unless_equals_uint64 (h->first_seq, 1 + 5 * i);
    fail_unless_equals_uint64 (h->last_seq, 5 + 5 * i);
    fail_unless_equals_uint64 (h->time, (1 + 5 * i) * 10 * MS);
    fail_unless (h->flags & DIODE_CHUNK_KEYFRAME);
    fail_unless_equals_int (h->n_prelude, 1);   /* the CAPS */
  }
  for (s = 1; s <= 20; s++)
    fail_unless_equals_uint64 (g_array_index (seqs, guint64, s - 1), s);
  g_array_unref (hdrs);

  /* nothing held there */
  g_array_set_size (seqs, 0);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1000, 2000, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_NONE);
  fail_unless_equals_int (hdrs->len, 0);
  g_array_unref (hdrs);

  g_array_unref (seqs);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Per FETCH at most 64 chunks: 70 closed chunks come as 64 + MORE, then
 * the rest + DONE from next_seq. */
GST_START_TEST (test_fetch_cap_more)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next;
  guint8 status;

  publish (p, "cam", DIODE_ACCESS_PUBLIC, NULL);
  send_range (p, 1, 71, 1);     /* every frame a keyframe: 70 closed */
  fail_unless (fixture_wait_last_seq (relay, "cam", 71, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, 70, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (hdrs->len, DIODE_FETCH_MAX_CHUNKS);
  fail_unless_equals_int (status, DIODE_FETCH_MORE);
  fail_unless_equals_uint64 (next, 65);
  g_array_unref (hdrs);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", next, 70, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (hdrs->len, 6);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_uint64 (next, 71);
  fail_unless_equals_int (seqs->len, 70);
  g_array_unref (hdrs);

  g_array_unref (seqs);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Errors and access, exactly as SUBSCRIBE: 100 for a name nobody has, 103
 * for a bad name, 102 for a private stream the viewer is not allowed
 * (RANGE, FETCH, SUBSCRIBE with a start), and for an untrusted relay; a
 * trusted relay gets the full allowlist in RANGE_OK. The connection stays
 * usable after each refusal. */
GST_START_TEST (test_errors_and_access)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "stranger.pem");
  RawClient *rl = raw_open (relay, 0, "relay2.pem");
  gchar *friend = raw_key_address ("friend.pem");
  gchar *relay2 = raw_key_address ("relay2.pem");
  const gchar *allow[] = { friend, NULL };
  DiodeMsg m = { 0 };

  publish (p, "cam", DIODE_ACCESS_PRIVATE, allow);
  send_range (p, 1, 10, 5);
  fail_unless (fixture_wait_last_seq (relay, "cam", 10, 2000));

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("nobody", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_FOUND, "RANGE unknown", "nobody",
      NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("nobody", 1, 5, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_FOUND, "FETCH unknown", NULL);
  raw_send_frame (v, diode_msg_encode_range (" cam", 0));
  raw_expect_error_says (v, DIODE_ERR_BAD_NAME, "RANGE bad name", NULL);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE private", NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, 5, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH private", NULL);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE private",
      NULL);

  /* a relay: refused while untrusted, then told everything */
  hello_v (rl, DIODE_ROLE_RELAY, 3);
  raw_send_frame (rl, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (rl, DIODE_ERR_NOT_AUTHORIZED, "untrusted relay",
      "trusted", NULL);
  fixture_relay_conf_add (relay, "relays", "trusted", relay2);
  raw_send_frame (rl, diode_msg_encode_range ("cam", 0));
  next_msg (rl, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless (m.allow && m.allow[0]);
  fail_unless_equals_string (m.allow[0], friend);
  fail_unless (m.allow[1] == NULL);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (rl, FALSE);
  raw_free (p, FALSE);
  g_free (friend);
  g_free (relay2);
  relay_free (relay);
}

GST_END_TEST;


/* ------------------------------------------------------------------------ */
/* with a store (store-dir): recorded by the relay itself, then replayed */

static gchar *
tmp_store (void)
{
  gchar *dir = g_build_filename (fixture_config_dir (), "replayXXXXXX", NULL);

  fail_unless (g_mkdtemp (dir) != NULL);
  return dir;
}

/* A v3 publisher of @name with @pubflags and a policy; returns next_seq. */
static guint64
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

static guint64
publish3 (RawClient * c, const gchar * name, guint32 pubflags)
{
  return publish3_policy (c, name, pubflags, DIODE_ACCESS_PUBLIC, NULL);
}

/* Reads STORED until one says @seq (or final) is durable. */
static void
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
static void
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
static void
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

/* A finished recording subscribed LIVE plays from its start (state
 * RECORDING) to its EOS, by v3 and by v1 viewers, and again after a
 * restart on the same directory. RANGE_OK: one span, state, owner. */
GST_START_TEST (test_store_finished_from_start)
{
  gchar *dir = tmp_store ();
  gchar *owner = raw_key_address ("pub.pem");
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  DiodeMsg m = { 0 };
  guint round;

  record_finished (relay, "film", 40);
  for (round = 0; round < 2; round++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");
    RawClient *v1 = raw_open (relay, 0, "viewer.pem");

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, diode_msg_encode_range ("film", 0));
    next_msg (v, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
    fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
    fail_unless (!g_ascii_strcasecmp (m.owner, owner));
    fail_unless_equals_int (m.n_spans, 1);
    fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
    fail_unless_equals_uint64 (m.spans[0].last_seq, 40);
    fail_unless_equals_uint64 (m.spans[0].first_time, 10 * MS);
    diode_msg_clear (&m);
    raw_send_frame (v, subscribe_at ("film", DIODE_START_LIVE, 0, 0));
    fail_unless_equals_uint64 (expect_play (v, 1, 1, DIODE_STREAM_RECORDING),
        10 * MS);
    expect_rest_and_eos (v, 2, 40);

    /* a version-1 viewer too: from the start, to EOS */
    hello_v (v1, DIODE_ROLE_VIEWER, 1);
    raw_send_frame (v1, diode_msg_encode_subscribe ("film", 0, 1000));
    next_msg (v1, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
    fail_unless_equals_uint64 (m.seq, 1);
    diode_msg_clear (&m);
    next_msg (v1, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
    diode_msg_clear (&m);
    expect_rest_and_eos (v1, 1, 40);
    raw_free (v, FALSE);
    raw_free (v1, FALSE);
    /* the same after a restart: finished recordings are known */
    relay_free (relay);
    relay = relay_with ("store-dir", dir, NULL);
  }
  relay_free (relay);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

/* Every start mode and snap in the store of a finished recording (1..40,
 * keyframes at 1, 6, ... 36, 10 ms a frame); each plays on to EOS. */
GST_START_TEST (test_store_start_modes)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  struct
  {
    guint8 mode;
    guint64 value;
    guint8 snap;
    guint64 first;
  } cases[] = {
    {DIODE_START_EARLIEST, 0, DIODE_SNAP_BEFORE, 1},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_BEFORE, 11},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_AFTER, 16},
    {DIODE_START_TIME, 130 * MS, DIODE_SNAP_NEAREST, 11},
    {DIODE_START_TIME, 140 * MS, DIODE_SNAP_NEAREST, 16},
    {DIODE_START_TIME, 0, DIODE_SNAP_AFTER, 1},
    /* past the end of a finished recording: its last keyframe chunk */
    {DIODE_START_TIME, 10000 * MS, DIODE_SNAP_BEFORE, 36},
    {DIODE_START_BACK, 3600 * GST_SECOND, DIODE_SNAP_BEFORE, 1},
    {DIODE_START_WALLCLOCK, 1, DIODE_SNAP_BEFORE, 1},
  };
  guint i;

  record_finished (relay, "film", 40);
  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    RawClient *v = raw_open (relay, 0, "viewer.pem");

    hello_v (v, DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v, subscribe_at ("film", cases[i].mode, cases[i].value,
            cases[i].snap));
    fail_unless_equals_uint64 (expect_play (v, cases[i].first,
            cases[i].first, DIODE_STREAM_RECORDING),
        cases[i].first * 10 * MS);
    expect_rest_and_eos (v, cases[i].first + 1, 40);
    raw_free (v, FALSE);
  }
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A live recording whose early chunks left the ring (a ring of a few
 * chunks): EARLIEST walks the stored chunks, then moves onto the ring and
 * on to live: every seq once, in order, then new frames as they come. */
GST_START_TEST (test_store_to_ring_no_gap)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "buffer-bytes",
      (guint64) 8000, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  gchar *json;

  fail_unless_equals_uint64 (publish3 (p, "cam", DIODE_PUBLISH_RECORD), 1);
  send_range (p, 1, 60, 5);
  wait_stored (p, 55, FALSE);   /* chunks up to 51..55 are durable */

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  /* the stored spans and the ring's overlap: one span, to the live edge */
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  fail_unless_equals_int (m.n_spans, 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[0].last_seq, 60);
  fail_unless_equals_uint64 (m.spans[0].end_time, 600 * MS);
  diode_msg_clear (&m);
  raw_send_frame (v, subscribe_at ("cam", DIODE_START_EARLIEST, 0, 0));
  fail_unless_equals_uint64 (expect_play (v, 1, 60,
          DIODE_STREAM_LIVE_RECORDED), 10 * MS);
  /* it is a live viewer now: new frames reach it */
  send_range (p, 61, 70, 5);
  fail_unless_equals_uint64 (expect_play_more (v, 61, 70), 70);
  /* and it left the replay cursors */
  json = diode_relay_get_stats_json (relay);
  (void) json;
  g_free (json);
  fail_unless (fixture_wait_viewers (relay, "cam", 1, 2000));

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

static gint64 stats_replay (DiodeRelay * relay, const gchar * member);

/* The segment file holding MEDIA @seq's payload (its unique pattern). */
static gboolean
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
static void
count_damaged (const gchar * domain, GLogLevelFlags level, const gchar * msg,
    gpointer user_data)
{
  if (strstr (msg, "damaged"))
    g_atomic_int_inc ((gint *) user_data);
  else
    g_printerr ("unexpected warning: %s\n", msg);
}

/* A byte flipped on disk in the chunk of seqs 11..15: never served. The
 * replay viewer gets 1..10, then (caps again) 16..40 and EOS: a gap in
 * its seqs; FETCH skips it too, the next CHUNK flagged DISCONT; the stats
 * count it. */
GST_START_TEST (test_store_damaged_chunk_skipped)
{
  gchar *dir = tmp_store ();
  /* name-grace-ms 1: the ended stream (and its ring) is forgotten at once,
   * so everything comes from the store */
  DiodeRelay *relay = relay_with ("store-dir", dir, "stats-interval-ms", 100,
      "name-grace-ms", 1, NULL);
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  DiodeMsg m = { 0 };
  guint64 next;
  guint8 status;
  guint i;
  gint damaged = 0;

  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_handler (NULL, G_LOG_LEVEL_WARNING, count_damaged, &damaged);
  record_finished (relay, "film", 40);
  fail_unless (flip_payload_byte (dir, 13), "seq 13 not found on disk");

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  expect_play (v, 1, 10, DIODE_STREAM_RECORDING);
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);      /* after the skip */
  diode_msg_clear (&m);
  expect_rest_and_eos (v, 16, 40);
  raw_free (v, FALSE);

  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("film", 1, 40, DIODE_RANGE_LOCAL));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_int (hdrs->len, 7);
  for (i = 0; i < hdrs->len; i++) {
    DiodeChunkHeader *h = &g_array_index (hdrs, DiodeChunkHeader, i);

    fail_unless (h->first_seq != 11, "the damaged chunk was sent");
    fail_unless_equals_int (! !(h->flags & DIODE_CHUNK_DISCONT),
        h->first_seq == 16);
  }
  fail_unless (g_array_index (hdrs, DiodeChunkHeader, 6).flags &
      DIODE_CHUNK_EOS);
  fail_unless_equals_int (seqs->len, 35);
  /* a FETCH of the damaged chunk alone: 106, the connection usable */
  raw_send_frame (v, diode_msg_encode_fetch ("film", 11, 15, 0));
  raw_expect_error_says (v, DIODE_ERR_STORE_FAILED, "FETCH damaged",
      "damaged", NULL);
  raw_send_frame (v, diode_msg_encode_range ("film", 0));
  raw_expect_next (v, DIODE_MSG_RANGE_OK, &m, "RANGE after 106");
  diode_msg_clear (&m);
  fail_unless (g_atomic_int_get (&damaged) > 0);
  fail_unless_equals_int (stats_replay (relay, "damaged"), 3);
  g_array_unref (hdrs);
  g_array_unref (seqs);
  raw_free (v, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* The replay member of a fresh stats snapshot. */
static gint64
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

/* Memory flat: a viewer that stops reading a long recording makes the
 * relay hold at most its chunk and one read ahead (not the recording);
 * with the relay-wide bound at one byte, three viewers at once still get
 * everything (reads wait their turn). */
GST_START_TEST (test_store_memory_bounded)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  RawClient *slow, *v[3];
  DiodeMsg m = { 0 };
  const guint64 last = 400;
  gint64 held, chunk_cost;
  guint i;

  payload_size = 16 * 1024;
  relay = relay_with ("store-dir", dir, "stats-interval-ms", 100, NULL);
  record_finished (relay, "film", last);        /* 80 chunks, 6.4 MiB */
  chunk_cost = 5 * (payload_size + 1024) + 4096;

  slow = raw_open (relay, 4096, "viewer.pem");
  hello_v (slow, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (slow, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  next_msg (slow, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  diode_msg_clear (&m);
  /* it reads nothing more: the socket fills, the relay waits */
  g_usleep (500 * 1000);
  held = stats_replay (relay, "bytes");
  fail_unless (held > 0 && held <= 2 * chunk_cost, "a stalled replay "
      "viewer holds %" G_GINT64_FORMAT " bytes (2 chunks: %" G_GINT64_FORMAT
      ")", held, 2 * chunk_cost);
  fail_unless_equals_int (stats_replay (relay, "viewers"), 1);
  raw_free (slow, FALSE);
  fail_unless_equals_int (stats_replay (relay, "bytes"), 0);
  relay_free (relay);

  relay = relay_with ("store-dir", dir, "replay-bytes", (guint64) 1, NULL);
  /* a stalled viewer holds the whole (one-byte) bound: a FETCH waits for
   * it, and is answered once the viewer is gone */
  slow = raw_open (relay, 4096, "viewer.pem");
  hello_v (slow, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (slow, subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  next_msg (slow, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  diode_msg_clear (&m);
  g_usleep (300 * 1000);
  v[0] = raw_open (relay, 0, "viewer.pem");
  hello_v (v[0], DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v[0], diode_msg_encode_fetch ("film", 1, 5, 0));
  fail_unless (raw_next (v[0], &m, 500) != RAW_READ_MSG,
      "FETCH answered over the replay bound (%s)",
      diode_msg_type_name (m.type));
  diode_msg_clear (&m);
  raw_free (slow, FALSE);
  next_msg (v[0], &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
  diode_msg_clear (&m);
  raw_free (v[0], FALSE);
  for (i = 0; i < 3; i++) {
    v[i] = raw_open (relay, 0, "viewer.pem");
    hello_v (v[i], DIODE_ROLE_VIEWER, 3);
    raw_send_frame (v[i], subscribe_at ("film", DIODE_START_EARLIEST, 0, 0));
  }
  /* read all three at once (one that is not read holds its chunk, and
   * the others wait for it: that is the bound) */
  {
    guint64 want[3] = { 0, 0, 0 };      /* 0: SUBSCRIBE_OK, 1: CAPS, ... */
    guint done = 0;
    gint64 end = deadline_in (30000);

    while (done < 3 && g_get_monotonic_time () < end) {
      for (i = 0; i < 3; i++) {
        if (want[i] > last + 2)
          continue;
        if (raw_next (v[i], &m, 20) != RAW_READ_MSG) {
          diode_msg_clear (&m);
          continue;
        }
        if (want[i] == 0) {
          fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
        } else if (want[i] == 1) {
          fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
        } else if (want[i] <= last + 1) {
          fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
          fail_unless_equals_uint64 (m.seq, want[i] - 1);
          fail_unless (payload_is (m.payload, m.seq));
        } else {
          fail_unless_equals_int (m.type, DIODE_MSG_EOS);
          done++;
        }
        want[i]++;
        diode_msg_clear (&m);
      }
    }
    fail_unless_equals_int (done, 3);
  }
  for (i = 0; i < 3; i++)
    raw_free (v[i], FALSE);
  relay_free (relay);
  payload_size = 64;
  g_free (dir);
}

GST_END_TEST;

/* A finished private recording, its publisher gone: the stored meta's
 * policy decides, exactly as SUBSCRIBE would (after a restart too): a
 * stranger gets 102 for RANGE, FETCH and SUBSCRIBE (with a start or LIVE);
 * the allowed viewer plays it and is not told the allowlist; an untrusted
 * relay gets 102, a trusted one the full allowlist. */
GST_START_TEST (test_store_policy)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  gchar *friend = raw_key_address ("friend.pem");
  gchar *relay2 = raw_key_address ("relay2.pem");
  const gchar *allow[] = { friend, NULL };
  RawClient *v, *ok, *rl;
  DiodeMsg m = { 0 };

  fail_unless_equals_uint64 (publish3_policy (p, "secret",
          DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD, DIODE_ACCESS_PRIVATE,
          allow), 1);
  send_range (p, 1, 10, 5);
  raw_send_frame (p, diode_msg_encode_eos (10));
  wait_stored (p, 10, TRUE);
  raw_free (p, FALSE);
  relay_free (relay);
  relay = relay_with ("store-dir", dir, NULL);

  v = raw_open (relay, 0, "stranger.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_range ("secret", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE", NULL);
  raw_send_frame (v, diode_msg_encode_fetch ("secret", 1, 10, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH", NULL);
  raw_send_frame (v, subscribe_at ("secret", DIODE_START_EARLIEST, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE start",
      NULL);
  raw_send_frame (v, subscribe_at ("secret", DIODE_START_LIVE, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE live",
      NULL);
  raw_free (v, FALSE);

  ok = raw_open (relay, 0, "friend.pem");
  hello_v (ok, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (ok, diode_msg_encode_range ("secret", 0));
  next_msg (ok, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless (m.allow == NULL || m.allow[0] == NULL);
  diode_msg_clear (&m);
  raw_send_frame (ok, subscribe_at ("secret", DIODE_START_LIVE, 0, 0));
  expect_play (ok, 1, 1, DIODE_STREAM_RECORDING);
  expect_rest_and_eos (ok, 2, 10);
  raw_free (ok, FALSE);

  rl = raw_open (relay, 0, "relay2.pem");
  hello_v (rl, DIODE_ROLE_RELAY, 3);
  raw_send_frame (rl, diode_msg_encode_range ("secret", 0));
  raw_expect_error_says (rl, DIODE_ERR_NOT_AUTHORIZED, "untrusted relay",
      "trusted", NULL);
  fixture_relay_conf_add (relay, "relays", "trusted", relay2);
  raw_send_frame (rl, diode_msg_encode_range ("secret", 0));
  next_msg (rl, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless (m.allow && m.allow[0] && !m.allow[1]);
  fail_unless_equals_string (m.allow[0], friend);
  diode_msg_clear (&m);
  raw_free (rl, FALSE);

  relay_free (relay);
  g_free (friend);
  g_free (relay2);
  g_free (dir);
}

GST_END_TEST;

/* Stream headers: a recording that starts with two STREAMHEADER frames.
 * A replay from its second chunk gets CAPS, both header frames, then the
 * chunk: byte for byte the frames FETCH returns for that stored chunk. */
GST_START_TEST (test_store_prelude_exact)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  RawClient *f = raw_open (relay, 0, "viewer.pem");
  GPtrArray *fetched = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  DiodeMsg m = { 0 };
  guint64 s;
  guint i, n_frames = 0;

  fail_unless_equals_uint64 (publish3 (p, "hdr", DIODE_PUBLISH_RECORD
          | DIODE_PUBLISH_UPLOAD), 1);
  for (s = 1; s <= 2; s++)
    raw_send_frame (p, diode_msg_encode_media (s, DIODE_TIME_NONE,
            DIODE_TIME_NONE, DIODE_TIME_NONE, 0, 0,
            DIODE_MEDIA_STREAMHEADER, (const guint8 *) "header", 6));
  for (s = 3; s <= 22; s++)     /* keyframes at 3, 8, 13, 18 */
    raw_send_frame (p, media_frame (s, (s - 3) % 5 == 0));
  raw_send_frame (p, diode_msg_encode_eos (22));
  wait_stored (p, 22, TRUE);
  raw_free (p, FALSE);

  /* the stored chunk of seqs 8..12, as FETCH gives it */
  hello_v (f, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (f, diode_msg_encode_fetch ("hdr", 8, 12, 0));
  next_msg (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
  fail_unless_equals_uint64 (m.chunk.first_seq, 8);
  fail_unless_equals_int (m.chunk.n_prelude, 3);        /* CAPS + 2 headers */
  n_frames = m.chunk.n_frames;
  diode_msg_clear (&m);
  for (i = 0; i < n_frames; i++) {
    next_msg (f, &m);
    g_ptr_array_add (fetched, g_bytes_ref (m.frame));
    diode_msg_clear (&m);
  }
  raw_expect_next (f, DIODE_MSG_FETCH_END, &m, "FETCH_END");
  diode_msg_clear (&m);

  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, subscribe_at ("hdr", DIODE_START_TIME, 80 * MS,
          DIODE_SNAP_BEFORE));
  next_msg (v, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_uint64 (m.seq, 8);
  fail_unless_equals_uint64 (m.start_time, 80 * MS);
  diode_msg_clear (&m);
  for (i = 0; i < fetched->len; i++) {
    next_msg (v, &m);
    fail_unless (g_bytes_equal (m.frame, fetched->pdata[i]),
        "frame %u of the replay differs from the stored chunk", i);
    diode_msg_clear (&m);
  }
  /* the next chunk without its prelude */
  expect_rest_and_eos (v, 13, 22);

  g_ptr_array_unref (fetched);
  raw_free (v, FALSE);
  raw_free (f, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* Per FETCH at most 32 MiB of frames: chunks of one 1 MiB frame each come
 * as 31 (32 would pass the cap) then FETCH_END MORE; the rest after. */
GST_START_TEST (test_fetch_byte_cap)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay;
  RawClient *v;
  GArray *seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  GArray *hdrs;
  guint64 next, total = 0;
  guint8 status;
  guint i;

  payload_size = 1024 * 1024;
  relay = relay_with ("store-dir", dir, NULL);
  {
    RawClient *p = raw_open (relay, 0, "pub.pem");

    fail_unless_equals_uint64 (publish3 (p, "big", DIODE_PUBLISH_RECORD
            | DIODE_PUBLISH_UPLOAD), 1);
    send_range (p, 1, 34, 1);
    raw_send_frame (p, diode_msg_encode_eos (34));
    wait_stored (p, 34, TRUE);
    raw_free (p, FALSE);
  }
  v = raw_open (relay, 0, "viewer.pem");
  hello_v (v, DIODE_ROLE_VIEWER, 3);
  raw_send_frame (v, diode_msg_encode_fetch ("big", 1, 34, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_MORE);
  fail_unless_equals_int (hdrs->len, 31);
  for (i = 0; i < hdrs->len; i++)
    total += g_array_index (hdrs, DiodeChunkHeader, i).bytes;
  fail_unless (total <= DIODE_FETCH_MAX_BYTES);
  fail_unless_equals_uint64 (next, 32);
  g_array_unref (hdrs);
  raw_send_frame (v, diode_msg_encode_fetch ("big", next, 34, 0));
  hdrs = read_fetch (v, seqs, &next, &status);
  fail_unless_equals_int (status, DIODE_FETCH_DONE);
  fail_unless_equals_int (hdrs->len, 3);
  fail_unless_equals_int (seqs->len, 34);
  g_array_unref (hdrs);
  g_array_unref (seqs);
  raw_free (v, FALSE);
  relay_free (relay);
  payload_size = 64;
  g_free (dir);
}

GST_END_TEST;

/* WALLCLOCK and BACK against the relay's receive times: four GOPs 200 ms
 * apart (keyframes at 1, 6, 11, 16), their chunks' wall_us read from FETCH
 * (the ring's, or the store's); then targets just after the third chunk's
 * time land on it (BEFORE), on the fourth (AFTER), and BACK from now to
 * the same instant lands on it too. @stored: with a store (a live
 * recording), else the ring. */
static void
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

GST_START_TEST (test_ring_wall_starts)
{
  check_wall_starts (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_store_wall_starts)
{
  check_wall_starts (TRUE);
}

GST_END_TEST;

static Suite *
replay_suite (void)
{
  Suite *s = suite_create ("replay");
  TCase *tc = tcase_create ("ring");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_ring_start_modes);
  tcase_add_test (tc, test_subscribe_ok_versions);
  tcase_add_test (tc, test_range_ring);
  tcase_add_test (tc, test_fetch_ring);
  tcase_add_test (tc, test_fetch_cap_more);
  tcase_add_test (tc, test_errors_and_access);
  tcase_add_test (tc, test_ring_wall_starts);
  tc = tcase_create ("store");
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_store_finished_from_start);
  tcase_add_test (tc, test_store_start_modes);
  tcase_add_test (tc, test_store_to_ring_no_gap);
  tcase_add_test (tc, test_store_damaged_chunk_skipped);
  tcase_add_test (tc, test_store_memory_bounded);
  tcase_add_test (tc, test_store_policy);
  tcase_add_test (tc, test_store_prelude_exact);
  tcase_add_test (tc, test_fetch_byte_cap);
  tcase_add_test (tc, test_store_wall_starts);
  return s;
}

GST_CHECK_MAIN (replay);
