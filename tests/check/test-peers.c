/* gst-diode — relays that share chunks: --peer, the fetch tiers, the cache
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A relay that lacks a recording serves a viewer (SUBSCRIBE EARLIEST)
 * with chunks fetched from its peers before its upstream (issue 10, item
 * 5). The peers here are fake relays built on rawclient's raw_listen /
 * raw_accept: a TLS server the relay under test links to with --peer
 * (pinned), answering RANGE and FETCH with hand-made chunks, so a test can
 * make one send a chunk with a wrong CRC, more frames than its CHUNK said,
 * an absurd count, nothing at all, or stall. The upstream is an
 * in-process relay that does not have the recording. The viewer is a raw
 * role-VIEWER client speaking version 3 and comparing every MEDIA frame
 * byte for byte with the one the peer served. Real TLS, real sockets on
 * 127.0.0.1; every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>

#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

#define WAIT_MS    10000
#define STREAM     "rec"
#define GOP        5            /* MEDIA frames per chunk */
#define N_CHUNKS   3
#define FRAME_SIZE 1000

/* ------------------------------------------------------------------------ */
/* the recording the fake peers hold: N_CHUNKS chunks of GOP MEDIA frames,
 * each starting with its CAPS frame (the prelude), seqs 1..N_CHUNKS*GOP */

typedef struct {
  DiodeChunkHeader hdr;
  GPtrArray  *frames;           /* GBytes* */
} TChunk;

static GBytes *
media_frame (guint64 seq)
{
  guint8 data[FRAME_SIZE];

  fixture_fill_payload (data, sizeof (data), (guint) seq);
  return diode_msg_encode_media (seq, seq * GST_MSECOND * 40,
      seq * GST_MSECOND * 40, GST_MSECOND * 40, DIODE_TIME_NONE,
      DIODE_TIME_NONE, (seq - 1) % GOP == 0 ? DIODE_MEDIA_KEYFRAME : 0, data,
      sizeof (data));
}

static TChunk *
tchunk_new (guint64 first_seq, gboolean eos)
{
  TChunk *t = g_new0 (TChunk, 1);
  guint64 s;
  guint i;

  t->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_ptr_array_add (t->frames, diode_msg_encode_caps ("video/x-test"));
  for (s = first_seq; s < first_seq + GOP; s++)
    g_ptr_array_add (t->frames, media_frame (s));
  if (eos)
    g_ptr_array_add (t->frames, diode_msg_encode_eos (first_seq + GOP - 1));
  t->hdr.first_seq = first_seq;
  t->hdr.last_seq = first_seq + GOP - 1;
  t->hdr.time = first_seq * GST_MSECOND * 40;
  t->hdr.end_time = (first_seq + GOP) * GST_MSECOND * 40;
  t->hdr.wall_us = 1700000000000000ull + first_seq;
  t->hdr.flags = DIODE_CHUNK_KEYFRAME | (eos ? DIODE_CHUNK_EOS : 0);
  t->hdr.n_prelude = 1;
  t->hdr.n_frames = t->frames->len;
  for (i = 0; i < t->frames->len; i++) {
    GBytes *f = g_ptr_array_index (t->frames, i);

    t->hdr.bytes += g_bytes_get_size (f);
    t->hdr.crc = diode_chunk_crc (t->hdr.crc, f);
  }
  return t;
}

static void
tchunk_free (TChunk * t)
{
  g_ptr_array_unref (t->frames);
  g_free (t);
}

/* ------------------------------------------------------------------------ */
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

static FakePeer *
fake_peer_new (const gchar * key, PeerMode mode, guint64 special)
{
  FakePeer *p = g_new0 (FakePeer, 1);
  guint i;

  p->key = g_strdup (key);
  p->address = raw_key_address (key);
  p->lfd = raw_listen (&p->port);
  p->mode = mode;
  p->special = special;
  p->error_code = -1;
  p->fetched = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (i = 0; i < N_CHUNKS; i++)
    p->chunks[i] = tchunk_new (1 + (guint64) i * GOP, i == N_CHUNKS - 1);
  return p;
}

static void
fake_peer_free (FakePeer * p)
{
  guint i;

  if (p->c)
    raw_free (p->c, FALSE);
  if (p->lfd >= 0)
    close (p->lfd);
  for (i = 0; i < N_CHUNKS; i++)
    tchunk_free (p->chunks[i]);
  g_array_unref (p->fetched);
  g_strfreev (p->allow);
  g_free (p->key);
  g_free (p->address);
  g_free (p);
}

/* "0xADDR@127.0.0.1:PORT": pinned, no trust on first use */
static gchar *
fake_peer_spec (FakePeer * p)
{
  return g_strdup_printf ("%s@127.0.0.1:%u", p->address, p->port);
}

static TChunk *
fake_peer_find (FakePeer * p, guint64 seq)
{
  guint i;

  for (i = 0; i < N_CHUNKS; i++)
    if (seq >= p->chunks[i]->hdr.first_seq
        && seq <= p->chunks[i]->hdr.last_seq)
      return p->chunks[i];
  return NULL;
}

static void
fake_peer_send_chunk (FakePeer * p, TChunk * t)
{
  DiodeChunkHeader h = t->hdr;
  gboolean special = t->hdr.first_seq == p->special;
  guint i;

  if (special && p->mode == PEER_DAMAGE)
    h.crc ^= 1;
  if (special && p->mode == PEER_FORGED)
    h.last_seq = G_MAXUINT64;   /* the CRC covers the frames only */
  if (special && p->mode == PEER_HUGE_COUNT) {
    /* the encoder refuses it: the frame by hand (60-byte payload) */
    guint8 buf[DIODE_FRAME_HEADER_SIZE + 60] = { 0 };
    GBytes *ok = diode_msg_encode_chunk (&t->hdr);

    memcpy (buf, g_bytes_get_data (ok, NULL), sizeof (buf));
    g_bytes_unref (ok);
    /* n_frames is at payload offset 48 */
    buf[DIODE_FRAME_HEADER_SIZE + 48] = 0;
    buf[DIODE_FRAME_HEADER_SIZE + 49] = 1;
    buf[DIODE_FRAME_HEADER_SIZE + 50] = 0x11;
    buf[DIODE_FRAME_HEADER_SIZE + 51] = 0x70;      /* 70000 */
    raw_send (p->c, buf, sizeof (buf));
    return;
  }
  raw_send_frame (p->c, diode_msg_encode_chunk (&h));
  for (i = 0; i < t->frames->len; i++) {
    GBytes *f = g_ptr_array_index (t->frames, i);

    raw_send (p->c, g_bytes_get_data (f, NULL), g_bytes_get_size (f));
  }
  if (special && p->mode == PEER_OVERSEND) {
    GBytes *extra = media_frame (t->hdr.last_seq);

    raw_send (p->c, g_bytes_get_data (extra, NULL), g_bytes_get_size (extra));
    g_bytes_unref (extra);
  }
}

/* Serves what the relay asks for @timeout_ms at most (accepting its
 * connection first if needed). */
static void
fake_peer_poll (FakePeer * p, guint timeout_ms)
{
  DiodeMsg m = { 0 };
  RawReadResult res;

  if (!p->c) {
    p->c = raw_accept (p->lfd, p->key, timeout_ms);
    if (!p->c)
      return;
    p->accepts++;
    p->closed = FALSE;
    p->stalled = FALSE;
    raw_expect_next (p->c, DIODE_MSG_HELLO, &m, "the relay's HELLO");
    fail_unless_equals_int (m.role, DIODE_ROLE_RELAY);
    fail_unless (m.version_max >= 3, "a peer link offers version 3");
    diode_msg_clear (&m);
    raw_send_frame (p->c, diode_msg_encode_welcome (3, 0, "fake-peer/0"));
    p->c->version = 3;
    p->c->role = DIODE_ROLE_RELAY;
  }
  res = raw_read (p->c, &m, timeout_ms);
  if (res == RAW_READ_CLOSED) {
    raw_free (p->c, FALSE);
    p->c = NULL;
    p->closed = TRUE;
    return;
  }
  if (res != RAW_READ_MSG)
    return;
  switch (m.type) {
    case DIODE_MSG_PING:
      raw_send_frame (p->c, diode_msg_encode_pong (m.token));
      break;
    case DIODE_MSG_ERROR:
      p->error_code = m.error_code;
      break;
    case DIODE_MSG_RANGE:{
      DiodeSpan span = { 1, N_CHUNKS * GOP, 40 * GST_MSECOND,
        (N_CHUNKS * GOP + 1) * 40 * GST_MSECOND, 1700000000000000ull,
        1700000001000000ull
      };

      p->ranges++;
      fail_unless (m.range_flags & DIODE_RANGE_LOCAL, "RANGE to a peer is "
          "LOCAL");
      raw_send_frame (p->c, diode_msg_encode_range_ok (m.stream,
              DIODE_STREAM_RECORDING, NULL, p->access, "",
              (const gchar * const *) p->allow, &span, 1));
      break;
    }
    case DIODE_MSG_FETCH:{
      /* as a relay answers: the chunk holding from_seq or the first
       * after it, and on while they start at or before to_seq */
      guint i, sent = 0;
      guint64 next = m.from_seq;

      p->fetches++;
      g_array_append_val (p->fetched, m.from_seq);
      fail_unless (m.range_flags & DIODE_RANGE_LOCAL, "FETCH to a peer is "
          "LOCAL");
      for (i = 0; i < N_CHUNKS; i++) {
        TChunk *t = p->chunks[i];
        gboolean special = t->hdr.first_seq == p->special;

        if (t->hdr.last_seq < m.from_seq || t->hdr.first_seq > m.to_seq)
          continue;
        if (special && p->mode == PEER_MISSING)
          continue;
        if (special && p->mode == PEER_SILENT) {
          p->stalled = TRUE;
          diode_msg_clear (&m);
          return;
        }
        fake_peer_send_chunk (p, t);
        sent++;
        next = t->hdr.last_seq + 1;
        if (special && (p->mode == PEER_OVERSEND
                || p->mode == PEER_HUGE_COUNT)) {
          diode_msg_clear (&m);
          return;
        }
      }
      raw_send_frame (p->c, diode_msg_encode_fetch_end (sent ? next :
              m.to_seq, sent ? DIODE_FETCH_DONE : DIODE_FETCH_NONE));
      break;
    }
    default:
      fail ("the fake peer got an unexpected %s",
          diode_msg_type_name (m.type));
  }
  diode_msg_clear (&m);
}

/* ------------------------------------------------------------------------ */
/* relays and viewers */

static DiodeRelay *
start_relay (const gchar * key, DiodeRelay * upstream, FakePeer ** peers,
    guint n_peers, guint64 cache_bytes)
{
  gchar *path = g_build_filename (fixture_config_dir (), key, NULL);
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  gchar **specs = g_new0 (gchar *, n_peers + 1);
  GError *err = NULL;
  guint i;

  for (i = 0; i < n_peers; i++)
    specs[i] = fake_peer_spec (peers[i]);
  g_object_set (r, "peers", specs, "stats-interval-ms", 100, "keepalive-ms",
      0, NULL);
  if (cache_bytes != G_MAXUINT64)
    g_object_set (r, "cache-bytes", cache_bytes, NULL);
  if (upstream) {
    gchar *hp = diode_relay_get_hostport (upstream);
    gchar *up = g_strdup_printf ("%s@%s", diode_relay_get_address (upstream),
        hp);

    g_object_set (r, "upstream", up, NULL);
    g_free (up);
    g_free (hp);
  }
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  g_strfreev (specs);
  g_free (path);
  return r;
}

static DiodeRelay *
start_plain (const gchar * key)
{
  gchar *path = g_build_filename (fixture_config_dir (), key, NULL);
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  GError *err = NULL;

  g_object_set (r, "keepalive-ms", 0, NULL);
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (path);
  return r;
}

static void
stop_relay (DiodeRelay * r)
{
  diode_relay_stop (r);
  g_object_unref (r);
}

/* A viewer: HELLO v1..3, SUBSCRIBE EARLIEST (no wait: nothing is live). */
static RawClient *
viewer_earliest (DiodeRelay * r, const gchar * key, const gchar * stream)
{
  RawClient *c = raw_open (r, 0, key);
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER,
          "peers-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "HELLO");
  fail_unless_equals_int (m.version, 3);
  c->version = 3;
  c->role = DIODE_ROLE_VIEWER;
  diode_msg_clear (&m);
  a.stream = stream;
  a.wait_ms = 2000;
  a.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (c, diode_msg_encode_subscribe_args (&a, 3,
          DIODE_ROLE_VIEWER));
  return c;
}

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
static void
watch (RawClient * v, FakePeer ** peers, guint n_peers, guint64 last_seq,
    Watched * w)
{
  gint64 end = deadline_in (WAIT_MS);
  FakePeer *ref = fake_peer_new ("ref.pem", PEER_GOOD, 0);

  memset (w, 0, sizeof (*w));
  w->seqs = g_array_new (FALSE, FALSE, sizeof (guint64));
  w->error_code = -1;
  while (g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };
    RawReadResult res;
    guint i;

    for (i = 0; i < n_peers; i++)
      fake_peer_poll (peers[i], 20);
    res = raw_read (v, &m, 20);
    if (res == RAW_READ_CLOSED) {
      w->closed = TRUE;
      break;
    }
    if (res != RAW_READ_MSG)
      continue;
    if (m.type == DIODE_MSG_PING) {
      raw_send_frame (v, diode_msg_encode_pong (m.token));
    } else if (m.type == DIODE_MSG_SUBSCRIBE_OK) {
      w->subscribed = TRUE;
    } else if (m.type == DIODE_MSG_MEDIA) {
      TChunk *t = fake_peer_find (ref, m.seq);
      guint k;

      fail_unless (t != NULL, "MEDIA seq %" G_GUINT64_FORMAT " was never "
          "served", m.seq);
      for (k = 1; k < t->frames->len; k++) {
        GBytes *f = g_ptr_array_index (t->frames, k);
        DiodeMsg fm = { 0 };

        fail_unless (diode_msg_parse_v (f, 3, DIODE_ROLE_VIEWER, &fm, NULL));
        if (fm.type == DIODE_MSG_MEDIA && fm.seq == m.seq)
          fail_unless (g_bytes_equal (f, m.frame), "MEDIA seq %"
              G_GUINT64_FORMAT " differs from what the peer served", m.seq);
        diode_msg_clear (&fm);
      }
      if (w->seqs->len && !w->discont_at
          && m.seq != g_array_index (w->seqs, guint64, w->seqs->len - 1) + 1)
        w->discont_at = m.seq;
      g_array_append_val (w->seqs, m.seq);
      if (m.seq >= last_seq) {
        diode_msg_clear (&m);
        break;
      }
    } else if (m.type == DIODE_MSG_EOS) {
      w->eos = TRUE;
      diode_msg_clear (&m);
      break;
    } else if (m.type == DIODE_MSG_ERROR) {
      w->error_code = m.error_code;
      diode_msg_clear (&m);
      break;
    }
    diode_msg_clear (&m);
  }
  fake_peer_free (ref);
}

static void
watched_clear (Watched * w)
{
  g_array_unref (w->seqs);
}

/* A fresh stats snapshot of @r: member @member of its "fetch" object. */
static gint64
fetch_stat (DiodeRelay * r, const gchar * member)
{
  gint64 end = deadline_in (WAIT_MS);
  gchar *before = diode_relay_get_stats_json (r);
  gchar *json = NULL;
  JsonParser *p = json_parser_new ();
  JsonObject *o;
  gint64 v;

  /* the snapshot is rewritten every 100 ms: wait for a new one */
  do {
    g_free (json);
    g_usleep (20 * 1000);
    json = diode_relay_get_stats_json (r);
  } while (g_strcmp0 (json, before) == 0 && g_get_monotonic_time () < end);
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  o = json_object_get_object_member (json_node_get_object
      (json_parser_get_root (p)), "fetch");
  fail_unless (o != NULL, "no fetch stats: %s", json);
  v = json_object_get_int_member (o, member);
  g_object_unref (p);
  g_free (json);
  g_free (before);
  return v;
}

/* The relay's control link is up (the stats say "linked"). */
static gboolean
upstream_linked (DiodeRelay * r)
{
  gint64 end = deadline_in (WAIT_MS);

  while (g_get_monotonic_time () < end) {
    gchar *json = diode_relay_get_stats_json (r);
    gboolean ok = json && strstr (json, "\"linked\"") != NULL;

    g_free (json);
    if (ok)
      return TRUE;
    g_usleep (50 * 1000);
  }
  return FALSE;
}

/* Member @member of the fetch stats' "upstream" source. */
static gint64
upstream_stat (DiodeRelay * r, const gchar * member)
{
  gchar *json;
  JsonParser *p = json_parser_new ();
  JsonObject *o;
  gint64 v;

  g_usleep (150 * 1000);
  json = diode_relay_get_stats_json (r);
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  o = json_object_get_object_member (json_object_get_object_member
      (json_node_get_object (json_parser_get_root (p)), "fetch"), "upstream");
  fail_unless (o != NULL, "no upstream source: %s", json);
  v = json_object_get_int_member (o, member);
  g_object_unref (p);
  g_free (json);
  return v;
}

/* Member @member of the stats of peer number @i. */
static JsonNode *
peer_stat (DiodeRelay * r, guint i, const gchar * member)
{
  gchar *json = NULL;
  JsonParser *p = json_parser_new ();
  JsonArray *a;
  JsonNode *n;

  g_usleep (150 * 1000);
  json = diode_relay_get_stats_json (r);
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  a = json_object_get_array_member (json_node_get_object
      (json_parser_get_root (p)), "peers");
  fail_unless (a && json_array_get_length (a) > i, "no peer %u: %s", i, json);
  n = json_node_copy (json_object_get_member (json_array_get_object_element
          (a, i), member));
  g_object_unref (p);
  g_free (json);
  return n;
}

static guint64
recording_bytes (void)
{
  FakePeer *ref = fake_peer_new ("ref.pem", PEER_GOOD, 0);
  guint64 b = 0;
  guint i;

  for (i = 0; i < N_CHUNKS; i++)
    b += ref->chunks[i]->hdr.bytes;
  fake_peer_free (ref);
  return b;
}

static void
expect_all (Watched * w)
{
  guint i;

  fail_unless (w->subscribed, "no SUBSCRIBE_OK (error %d)", w->error_code);
  fail_unless_equals_int (w->seqs->len, N_CHUNKS * GOP);
  for (i = 0; i < w->seqs->len; i++)
    fail_unless_equals_uint64 (g_array_index (w->seqs, guint64, i), i + 1);
}

/* ------------------------------------------------------------------------ */

/* Issue 10 item 7, "a peer supplying a chunk the upstream does not have":
 * the upstream (a real relay) has never heard of the recording; the peer
 * has it; the viewer gets every frame, fetched from the peer only. */
GST_START_TEST (test_peer_before_upstream)
{
  DiodeRelay *up = start_plain ("up.pem");
  FakePeer *p;
  DiodeRelay *r;
  RawClient *v;
  Watched w;

  /* the upstream takes the relay as its child: it is reachable */
  fixture_relay_conf_add (up, "relays", "children", "*");
  p = fake_peer_new ("peer-a.pem", PEER_GOOD, 0);
  r = start_relay ("r.pem", up, &p, 1, G_MAXUINT64);
  fail_unless (upstream_linked (r), "the relay did not link to its "
      "upstream");
  v = viewer_earliest (r, "viewer.pem", STREAM);

  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  fail_unless (p->ranges >= 1);
  fail_unless_equals_int (p->fetches, N_CHUNKS);
  fail_unless_equals_uint64 (fetch_stat (r, "fetched_from_peers"),
      recording_bytes ());
  fail_unless_equals_uint64 (fetch_stat (r, "fetched_from_upstream"), 0);
  /* the peer answered first: the upstream was never asked */
  fail_unless_equals_int (upstream_stat (r, "requests"), 0);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  stop_relay (up);
  fake_peer_free (p);
}

GST_END_TEST;

/* A peer answering a chunk whose CRC does not match: dropped, never
 * delivered, fetched from the next peer. */
GST_START_TEST (test_damaged_chunk_fetched_elsewhere)
{
  FakePeer *peers[2] = {
    fake_peer_new ("peer-bad.pem", PEER_DAMAGE, 1 + GOP),
    fake_peer_new ("peer-good.pem", PEER_GOOD, 0),
  };
  DiodeRelay *r = start_relay ("r.pem", NULL, peers, 2, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;
  guint i;
  gboolean second_asked = FALSE;

  watch (v, peers, 2, N_CHUNKS * GOP, &w);
  expect_all (&w);
  fail_unless_equals_uint64 (fetch_stat (r, "damaged"), 1);
  /* the damaged chunk (and only what the first peer could not give) came
   * from the second peer */
  for (i = 0; i < peers[1]->fetched->len; i++)
    if (g_array_index (peers[1]->fetched, guint64, i) == 1 + GOP)
      second_asked = TRUE;
  fail_unless (second_asked, "the damaged chunk was not asked elsewhere");
  fail_unless_equals_int (peers[0]->fetches, N_CHUNKS);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (peers[0]);
  fake_peer_free (peers[1]);
}

GST_END_TEST;

/* A peer whose chunk says seqs 1..2^64-1 over frames holding 1..GOP, its
 * count, bytes and CRC right (a forged range): a bad answer. The relay
 * does not loop asking for it again (its next seq would wrap to 0), the
 * viewer gets no MEDIA twice, the peer backs off, the stats count it and
 * the cache keeps nothing of it. */
GST_START_TEST (test_forged_range_bad_answer)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_FORGED, 1);
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  gint64 end = deadline_in (4000);
  GHashTable *seen = g_hash_table_new_full (g_int64_hash, g_int64_equal,
      g_free, NULL);
  guint caps = 0;

  while (g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };
    RawReadResult res;

    fake_peer_poll (p, 20);
    res = raw_read (v, &m, 20);
    if (res == RAW_READ_CLOSED)
      break;
    if (res != RAW_READ_MSG)
      continue;
    if (m.type == DIODE_MSG_PING) {
      raw_send_frame (v, diode_msg_encode_pong (m.token));
    } else if (m.type == DIODE_MSG_CAPS) {
      caps++;
    } else if (m.type == DIODE_MSG_MEDIA) {
      gint64 *k = g_new (gint64, 1);

      *k = (gint64) m.seq;
      fail_if (g_hash_table_contains (seen, k), "MEDIA seq %"
          G_GUINT64_FORMAT " delivered twice", m.seq);
      g_hash_table_add (seen, k);
    }
    diode_msg_clear (&m);
  }
  fail_unless (caps <= 1, "%u CAPS frames", caps);
  fail_unless (p->fetches >= 1, "the peer was never asked");
  fail_unless (p->fetches <= 4, "%u FETCHes in 4 s", p->fetches);
  fail_unless (fetch_stat (r, "bad_answers") >= 1);
  fail_unless_equals_int (fetch_stat (r, "cache_chunks"), 0);
  g_hash_table_unref (seen);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* Nobody has the middle chunk: the viewer gets the next chunk, after a
 * seq gap (its DISCONT). */
GST_START_TEST (test_missing_chunk_skipped)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_MISSING, 1 + GOP);
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;

  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  fail_unless (w.subscribed);
  fail_unless_equals_int (w.seqs->len, (N_CHUNKS - 1) * GOP);
  fail_unless_equals_int (w.discont_at, 1 + 2 * GOP);
  /* asked for the missing chunk, then for what follows it */
  fail_unless_equals_int (p->fetches, N_CHUNKS);
  fail_unless_equals_uint64 (g_array_index (p->fetched, guint64, 2),
      2 + GOP);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* A second viewer of the same chunks is served from the cache: no FETCH
 * reaches the peer, the cache counts hits. */
GST_START_TEST (test_cache_serves_second_viewer)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_GOOD, 0);
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;
  gint64 requests;

  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  watched_clear (&w);
  raw_free (v, FALSE);
  fail_unless_equals_int (p->fetches, N_CHUNKS);
  requests = fetch_stat (r, "fetch_requests");
  fail_unless (fetch_stat (r, "cache_bytes") > 0);

  v = viewer_earliest (r, "viewer2.pem", STREAM);
  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  fail_unless_equals_int (p->fetches, N_CHUNKS);
  fail_unless_equals_int (fetch_stat (r, "fetch_requests"), requests);
  fail_unless (fetch_stat (r, "cache_hits") >= N_CHUNKS);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* --cache-bytes bounds the cache (least recently used out first): with
 * room for about one chunk, the cache never holds more than its bound,
 * evicts, and a second viewer has to fetch again. */
GST_START_TEST (test_cache_lru_bound)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_GOOD, 0);
  guint64 limit = p->chunks[0]->hdr.bytes * 3 / 2 + 4096;
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, limit);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;

  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  watched_clear (&w);
  raw_free (v, FALSE);
  fail_unless (fetch_stat (r, "cache_bytes") <= (gint64) limit);
  fail_unless (fetch_stat (r, "cache_evictions") >= 1);
  fail_unless (fetch_stat (r, "cache_chunks") >= 1);

  v = viewer_earliest (r, "viewer2.pem", STREAM);
  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  /* the first chunk was evicted: asked again */
  fail_unless (p->fetches > N_CHUNKS);
  fail_unless (fetch_stat (r, "cache_bytes") <= (gint64) limit);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* A peer sending more frames than its CHUNK said is closed (from the
 * frame's header: the session counts them); the chunk comes from the
 * next peer, intact. */
GST_START_TEST (test_oversending_peer_closed)
{
  FakePeer *peers[2] = {
    fake_peer_new ("peer-bad.pem", PEER_OVERSEND, 1),
    fake_peer_new ("peer-good.pem", PEER_GOOD, 0),
  };
  DiodeRelay *r = start_relay ("r.pem", NULL, peers, 2, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;

  watch (v, peers, 2, N_CHUNKS * GOP, &w);
  expect_all (&w);
  fail_unless (peers[0]->closed, "the relay kept the over-sending peer");
  fail_unless (peers[0]->error_code >= 200, "no fatal ERROR (%d)",
      peers[0]->error_code);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (peers[0]);
  fake_peer_free (peers[1]);
}

GST_END_TEST;

/* A CHUNK header with 70000 frames (limit 65536) is refused from its
 * header: ERROR 202, closed; the next peer serves. */
GST_START_TEST (test_huge_chunk_count_closed)
{
  FakePeer *peers[2] = {
    fake_peer_new ("peer-bad.pem", PEER_HUGE_COUNT, 1),
    fake_peer_new ("peer-good.pem", PEER_GOOD, 0),
  };
  DiodeRelay *r = start_relay ("r.pem", NULL, peers, 2, G_MAXUINT64);
  RawClient *v = viewer_earliest (r, "viewer.pem", STREAM);
  Watched w;

  watch (v, peers, 2, N_CHUNKS * GOP, &w);
  expect_all (&w);
  fail_unless (peers[0]->closed, "the relay kept the peer");
  fail_unless (peers[0]->error_code == DIODE_ERR_TOO_LARGE
      || peers[0]->error_code == DIODE_ERR_PROTOCOL, "error %d",
      peers[0]->error_code);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (peers[0]);
  fake_peer_free (peers[1]);
}

GST_END_TEST;

/* One request at a time per peer connection: two viewers of two
 * recordings; while the peer sits on the first FETCH, no second request
 * reaches it on that connection. */
GST_START_TEST (test_one_request_per_connection)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_SILENT, 1);
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);
  RawClient *v1 = viewer_earliest (r, "viewer.pem", STREAM);
  RawClient *v2 = viewer_earliest (r, "viewer2.pem", "rec2");
  gint64 end = deadline_in (WAIT_MS);
  guint before;

  /* serve until the peer holds a FETCH it does not answer */
  while (!p->stalled && g_get_monotonic_time () < end)
    fake_peer_poll (p, 50);
  fail_unless (p->stalled, "no FETCH reached the peer");
  before = p->ranges + p->fetches;
  /* the other viewer's RANGE must wait behind it */
  end = deadline_in (1000);
  while (g_get_monotonic_time () < end)
    fake_peer_poll (p, 50);
  fail_unless_equals_int (p->ranges + p->fetches, before);
  /* and on one connection that never broke (a second request on it would
   * have been answered out of turn: a protocol error) */
  fail_unless (!p->closed);
  fail_unless_equals_int (p->accepts, 1);
  raw_free (v1, FALSE);
  raw_free (v2, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* A peer that is down (nothing listens on its port) is skipped, and not
 * tried again before its backoff is over: of the first viewer's four
 * requests (RANGE, three FETCHes) only the first tries it; after the
 * backoff (1 s) it is tried again, once. */
static gint64
peer_failures (DiodeRelay * r, guint i)
{
  JsonNode *n = peer_stat (r, i, "failures");
  gint64 v = json_node_get_int (n);

  json_node_unref (n);
  return v;
}

GST_START_TEST (test_down_peer_skipped_with_backoff)
{
  FakePeer *peers[2] = {
    fake_peer_new ("peer-down.pem", PEER_GOOD, 0),
    fake_peer_new ("peer-good.pem", PEER_GOOD, 0),
  };
  DiodeRelay *r;
  RawClient *v;
  Watched w;
  JsonNode *down;
  gint64 f1, f2;

  /* nothing listens there any more: connection refused at once */
  close (peers[0]->lfd);
  peers[0]->lfd = -1;
  r = start_relay ("r.pem", NULL, peers, 2, 0);
  v = viewer_earliest (r, "viewer.pem", STREAM);
  watch (v, &peers[1], 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  watched_clear (&w);
  raw_free (v, FALSE);
  down = peer_stat (r, 0, "down");
  fail_unless (json_node_get_boolean (down), "the peer is not marked down");
  json_node_unref (down);
  f1 = peer_failures (r, 0);
  /* without the backoff every one of the four requests would try it */
  fail_unless (f1 >= 1 && f1 < 1 + N_CHUNKS, "%" G_GINT64_FORMAT
      " connection failures", f1);
  fail_unless_equals_int (peers[1]->fetches, N_CHUNKS);

  /* after the backoff (1 s doubling: at most 4 s after three failures) it
   * is tried again, and fails again */
  {
    gint64 end = deadline_in (WAIT_MS);
    gboolean is_down = TRUE;

    while (is_down && g_get_monotonic_time () < end) {
      down = peer_stat (r, 0, "down");
      is_down = json_node_get_boolean (down);
      json_node_unref (down);
    }
    fail_if (is_down, "the peer's backoff never ended");
  }
  v = viewer_earliest (r, "viewer2.pem", STREAM);
  watch (v, &peers[1], 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  watched_clear (&w);
  raw_free (v, FALSE);
  f2 = peer_failures (r, 0);
  fail_unless (f2 > f1 && f2 < f1 + 1 + N_CHUNKS, "%" G_GINT64_FORMAT
      " then %" G_GINT64_FORMAT " connection failures", f1, f2);
  stop_relay (r);
  fake_peer_free (peers[0]);
  fake_peer_free (peers[1]);
}

GST_END_TEST;

/* A viewer's RANGE (not LOCAL) for a recording only a peer holds is
 * passed on: RANGE_OK with the peer's span and policy; then a FETCH on
 * the same connection gets the chunk through the tiers, byte for byte. */
GST_START_TEST (test_range_and_fetch_passed_on)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_GOOD, 0);
  DiodeRelay *r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);
  RawClient *v = raw_open (r, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  gint64 end;
  guint frames = 0, i;
  gboolean got_end = FALSE;

  raw_send_frame (v, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER,
          "peers-test/0"));
  raw_expect_next (v, DIODE_MSG_WELCOME, &m, "HELLO");
  v->version = 3;
  v->role = DIODE_ROLE_VIEWER;
  diode_msg_clear (&m);
  raw_send_frame (v, diode_msg_encode_range (STREAM, 0));
  end = deadline_in (WAIT_MS);
  while (g_get_monotonic_time () < end) {
    fake_peer_poll (p, 20);
    if (raw_read (v, &m, 20) == RAW_READ_MSG && m.type != DIODE_MSG_PING)
      break;
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_int (m.n_spans, 1);
  fail_unless_equals_uint64 (m.spans[0].first_seq, 1);
  fail_unless_equals_uint64 (m.spans[0].last_seq, N_CHUNKS * GOP);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  diode_msg_clear (&m);

  raw_send_frame (v, diode_msg_encode_fetch (STREAM, 1 + GOP, 1 + GOP, 0));
  end = deadline_in (WAIT_MS);
  while (!got_end && g_get_monotonic_time () < end) {
    fake_peer_poll (p, 20);
    if (raw_read (v, &m, 20) != RAW_READ_MSG)
      continue;
    if (m.type == DIODE_MSG_CHUNK) {
      fail_unless_equals_uint64 (m.chunk.first_seq, 1 + GOP);
      fail_unless_equals_int (m.chunk.crc, p->chunks[1]->hdr.crc);
    } else if (m.type == DIODE_MSG_FETCH_END) {
      got_end = TRUE;
    } else if (m.type != DIODE_MSG_PING) {
      fail_unless (frames < p->chunks[1]->frames->len);
      fail_unless (g_bytes_equal (m.frame,
              g_ptr_array_index (p->chunks[1]->frames, frames)));
      frames++;
    }
    diode_msg_clear (&m);
  }
  fail_unless (got_end, "no FETCH_END");
  fail_unless_equals_int (frames, p->chunks[1]->frames->len);
  for (i = 0; i < p->fetched->len; i++)
    fail_unless_equals_uint64 (g_array_index (p->fetched, guint64, i),
        1 + GOP);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* The same with real relays (issue 10 item 7, "a peer supplying a chunk
 * the upstream does not have"): a publisher records a stream on relay P
 * (--store) and ends it; relay R names P with --peer and has an upstream U
 * that never carried the stream. A viewer at R asking for the start gets
 * every frame P stored, byte for byte, then EOS; only P was asked. */
static void
publish_recording (DiodeRelay * p, GPtrArray * sent)
{
  RawClient *c = raw_open (p, 0, "publisher.pem");
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };
  gint64 end;
  guint64 seq;

  raw_send_frame (c, diode_msg_encode_hello (1, 3, DIODE_ROLE_PUBLISHER,
          "peers-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "HELLO");
  c->version = 3;
  diode_msg_clear (&m);
  a.stream = STREAM;
  a.access = DIODE_ACCESS_PUBLIC;
  a.pubflags = DIODE_PUBLISH_RECORD;
  raw_send_frame (c, diode_msg_encode_publish_args (&a, 3,
          DIODE_ROLE_PUBLISHER));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH_OK");
  fail_unless_equals_int (m.store_state, DIODE_STORE_RECORDING);
  fail_unless_equals_uint64 (m.seq, 1);
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps ("video/x-test"));
  for (seq = 1; seq <= N_CHUNKS * GOP; seq++) {
    GBytes *f = media_frame (seq);

    g_ptr_array_add (sent, g_bytes_ref (f));
    raw_send_frame (c, f);
  }
  raw_send_frame (c, diode_msg_encode_eos (N_CHUNKS * GOP));
  end = deadline_in (WAIT_MS);
  while (g_get_monotonic_time () < end) {
    if (raw_next (c, &m, 200) == RAW_READ_MSG && m.type == DIODE_MSG_STORED
        && m.final) {
      diode_msg_clear (&m);
      break;
    }
    diode_msg_clear (&m);
  }
  fail_unless (g_get_monotonic_time () < end, "no STORED final");
  raw_free (c, FALSE);
}

GST_START_TEST (test_real_peer_has_what_upstream_lacks)
{
  gchar *dir = g_build_filename (fixture_config_dir (), "storeXXXXXX", NULL);
  gchar *key = g_build_filename (fixture_config_dir (), "peer-p.pem", NULL);
  DiodeRelay *up = start_plain ("up.pem");
  DiodeRelay *p = diode_relay_new ("127.0.0.1:0", key);
  DiodeRelay *r;
  GPtrArray *sent = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  GError *err = NULL;
  gchar *hp, *spec[2] = { NULL, NULL };
  RawClient *v;
  gint64 end;
  guint got = 0;
  gboolean eos = FALSE;

  fail_unless (g_mkdtemp (dir) != NULL);
  fixture_relay_conf_add (up, "relays", "children", "*");
  g_object_set (p, "store-dir", dir, "keepalive-ms", 0, NULL);
  if (!diode_relay_start (p, &err))
    g_error ("cannot start relay: %s", err->message);
  publish_recording (p, sent);

  hp = diode_relay_get_hostport (p);
  spec[0] = g_strdup_printf ("%s@%s", diode_relay_get_address (p), hp);
  r = start_relay ("r.pem", up, NULL, 0, G_MAXUINT64);
  diode_relay_stop (r);
  g_object_set (r, "peers", spec, NULL);
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  fail_unless (upstream_linked (r), "the relay did not link to its "
      "upstream");

  v = viewer_earliest (r, "viewer.pem", STREAM);
  end = deadline_in (WAIT_MS);
  while (!eos && g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };

    if (raw_next (v, &m, 200) != RAW_READ_MSG)
      continue;
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless (got < sent->len, "more MEDIA than published");
      fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (sent, got)),
          "MEDIA %u differs from what was published", got);
      got++;
    } else if (m.type == DIODE_MSG_EOS) {
      eos = TRUE;
    } else {
      fail_unless (m.type == DIODE_MSG_SUBSCRIBE_OK
          || m.type == DIODE_MSG_CAPS, "unexpected %s",
          diode_msg_type_name (m.type));
    }
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (got, sent->len);
  fail_unless (eos, "no EOS at the end of the recording");
  fail_unless (fetch_stat (r, "fetched_from_peers") > 0);
  fail_unless_equals_uint64 (fetch_stat (r, "fetched_from_upstream"), 0);
  fail_unless_equals_int (upstream_stat (r, "requests"), 0);

  raw_free (v, FALSE);
  stop_relay (r);
  stop_relay (p);
  stop_relay (up);
  g_ptr_array_unref (sent);
  g_free (spec[0]);
  g_free (hp);
  g_free (key);
  g_free (dir);
}

GST_END_TEST;

/* Issue 10 item 8's sibling set, as a test: four relays with the same
 * upstream, each naming the three others with --peer, watch one recording
 * stored at the upstream, one after the other. The first fetches it from
 * the upstream; the three others get every chunk from the first one's
 * cache (LOCAL FETCH) and nothing from the upstream. Prints the upstream
 * bytes the peers saved (75 % here: 3 of 4 copies). */
#define N_SIBLINGS 4

static void
watch_to_eos (DiodeRelay * r, const gchar * key, GPtrArray * sent)
{
  RawClient *v = viewer_earliest (r, key, STREAM);
  gint64 end = deadline_in (WAIT_MS);
  guint got = 0;
  gboolean eos = FALSE;

  while (!eos && g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };

    if (raw_next (v, &m, 200) != RAW_READ_MSG)
      continue;
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless (got < sent->len, "more MEDIA than published");
      fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (sent, got)),
          "MEDIA %u differs from what was published", got);
      got++;
    } else if (m.type == DIODE_MSG_EOS) {
      eos = TRUE;
    }
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (got, sent->len);
  fail_unless (eos, "no EOS");
  raw_free (v, FALSE);
}

GST_START_TEST (test_siblings_save_upstream_bytes)
{
  gchar *dir = g_build_filename (fixture_config_dir (), "storeXXXXXX", NULL);
  gchar *ukey = g_build_filename (fixture_config_dir (), "up-store.pem",
      NULL);
  DiodeRelay *up = diode_relay_new ("127.0.0.1:0", ukey);
  DiodeRelay *sib[N_SIBLINGS];
  gchar *addr[N_SIBLINGS], *keyname[N_SIBLINGS];
  guint16 port[N_SIBLINGS];
  GPtrArray *sent = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_bytes_unref);
  GError *err = NULL;
  gchar *uhp, *uspec;
  guint64 from_up = 0, from_peers = 0;
  guint i, j;

  fail_unless (g_mkdtemp (dir) != NULL);
  g_object_set (up, "store-dir", dir, "keepalive-ms", 0, NULL);
  if (!diode_relay_start (up, &err))
    g_error ("cannot start relay: %s", err->message);
  fixture_relay_conf_add (up, "relays", "children", "*");
  publish_recording (up, sent);
  uhp = diode_relay_get_hostport (up);
  uspec = g_strdup_printf ("%s@%s", diode_relay_get_address (up), uhp);

  for (i = 0; i < N_SIBLINGS; i++) {
    int fd;

    keyname[i] = g_strdup_printf ("sib%u.pem", i);
    addr[i] = raw_key_address (keyname[i]);
    fd = raw_listen (&port[i]);         /* a free port, released */
    close (fd);
  }
  for (i = 0; i < N_SIBLINGS; i++) {
    gchar *path = g_build_filename (fixture_config_dir (), keyname[i], NULL);
    gchar *listen = g_strdup_printf ("127.0.0.1:%u", port[i]);
    gchar **peers = g_new0 (gchar *, N_SIBLINGS);
    guint n = 0;

    for (j = 0; j < N_SIBLINGS; j++)
      if (j != i)
        peers[n++] = g_strdup_printf ("%s@127.0.0.1:%u", addr[j], port[j]);
    sib[i] = diode_relay_new (listen, path);
    g_object_set (sib[i], "upstream", uspec, "peers", peers,
        "stats-interval-ms", 100, "keepalive-ms", 0, NULL);
    if (!diode_relay_start (sib[i], &err))
      g_error ("cannot start relay: %s", err->message);
    g_strfreev (peers);
    g_free (listen);
    g_free (path);
  }
  for (i = 0; i < N_SIBLINGS; i++)
    watch_to_eos (sib[i], "viewer.pem", sent);
  for (i = 0; i < N_SIBLINGS; i++) {
    gint64 u = fetch_stat (sib[i], "fetched_from_upstream");
    gint64 p = fetch_stat (sib[i], "fetched_from_peers");

    if (i == 0) {
      fail_unless (u > 0, "the first sibling fetched nothing upstream");
      fail_unless_equals_uint64 (p, 0);
    } else {
      fail_unless_equals_uint64 (u, 0);
      fail_unless (p > 0);
    }
    from_up += u;
    from_peers += p;
  }
  g_print ("sibling set of %u relays watching one recording: %"
      G_GUINT64_FORMAT " bytes from the upstream, %" G_GUINT64_FORMAT
      " from peers: %.0f %% of the upstream bytes saved\n", N_SIBLINGS,
      from_up, from_peers, 100.0 * from_peers / (from_up + from_peers));
  fail_unless_equals_uint64 (from_peers, (N_SIBLINGS - 1) * from_up);

  for (i = 0; i < N_SIBLINGS; i++) {
    stop_relay (sib[i]);
    g_free (addr[i]);
    g_free (keyname[i]);
  }
  stop_relay (up);
  g_ptr_array_unref (sent);
  g_free (uspec);
  g_free (uhp);
  g_free (ukey);
  g_free (dir);
}

GST_END_TEST;

/* The fetching relay enforces the policy the peer's RANGE_OK gave: a
 * private recording (allowlist: one viewer) is refused (102) to anyone
 * else at this relay, before any chunk is fetched, and served to the
 * listed viewer. */
GST_START_TEST (test_remote_policy_enforced)
{
  FakePeer *p = fake_peer_new ("peer-a.pem", PEER_GOOD, 0);
  DiodeRelay *r;
  RawClient *v;
  Watched w;

  p->access = DIODE_ACCESS_PRIVATE;
  p->allow = g_new0 (gchar *, 2);
  {
    gchar *friend = raw_key_address ("friend.pem");

    p->allow[0] = g_ascii_strdown (friend, -1);
    g_free (friend);
  }
  r = start_relay ("r.pem", NULL, &p, 1, G_MAXUINT64);

  v = viewer_earliest (r, "stranger.pem", STREAM);
  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  fail_unless_equals_int (w.error_code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless_equals_int (w.seqs->len, 0);
  fail_unless_equals_int (p->fetches, 0);
  watched_clear (&w);
  raw_free (v, FALSE);

  v = viewer_earliest (r, "friend.pem", STREAM);
  watch (v, &p, 1, N_CHUNKS * GOP, &w);
  expect_all (&w);
  watched_clear (&w);
  raw_free (v, FALSE);
  stop_relay (r);
  fake_peer_free (p);
}

GST_END_TEST;

/* --peer is parsed like --upstream: a bad one fails the start. */
GST_START_TEST (test_bad_peer_option)
{
  gchar *path = g_build_filename (fixture_config_dir (), "r.pem", NULL);
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  const gchar *bad[] = { "127.0.0.1:99999", NULL };
  const gchar *twice[] = { "127.0.0.1:7000", "127.0.0.1:7000", NULL };
  GError *err = NULL;
  guint64 cache = 0;

  g_object_get (r, "cache-bytes", &cache, NULL);
  fail_unless_equals_uint64 (cache, 256 * 1024 * 1024);
  g_object_set (r, "peers", bad, NULL);
  fail_if (diode_relay_start (r, &err));
  fail_unless (strstr (err->message, "--peer") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_object_set (r, "peers", twice, NULL);
  fail_if (diode_relay_start (r, &err));
  fail_unless (strstr (err->message, "twice") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_object_unref (r);
  g_free (path);
}

GST_END_TEST;

static Suite *
peers_suite (void)
{
  Suite *s = suite_create ("peers");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bad_peer_option);
  tcase_add_test (tc, test_peer_before_upstream);
  tcase_add_test (tc, test_damaged_chunk_fetched_elsewhere);
  tcase_add_test (tc, test_missing_chunk_skipped);
  tcase_add_test (tc, test_forged_range_bad_answer);
  tcase_add_test (tc, test_cache_serves_second_viewer);
  tcase_add_test (tc, test_cache_lru_bound);
  tcase_add_test (tc, test_oversending_peer_closed);
  tcase_add_test (tc, test_huge_chunk_count_closed);
  tcase_add_test (tc, test_one_request_per_connection);
  tcase_add_test (tc, test_down_peer_skipped_with_backoff);
  tcase_add_test (tc, test_range_and_fetch_passed_on);
  tcase_add_test (tc, test_real_peer_has_what_upstream_lacks);
  tcase_add_test (tc, test_siblings_save_upstream_bytes);
  tcase_add_test (tc, test_remote_policy_enforced);
  return s;
}

GST_CHECK_MAIN (peers);
