/* gst-diode — what the peer tests share (test-peers*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See peersharness.h.
 */
#include "peersharness.h"

GBytes *
media_frame (guint64 seq)
{
  guint8 data[FRAME_SIZE];

  fixture_fill_payload (data, sizeof (data), (guint) seq);
  return diode_msg_encode_media (seq, seq * GST_MSECOND * 40,
      seq * GST_MSECOND * 40, GST_MSECOND * 40, DIODE_TIME_NONE,
      DIODE_TIME_NONE, (seq - 1) % GOP == 0 ? DIODE_MEDIA_KEYFRAME : 0, data,
      sizeof (data));
}

TChunk *
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

void
tchunk_free (TChunk * t)
{
  g_ptr_array_unref (t->frames);
  g_free (t);
}

FakePeer *
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

void
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
gchar *
fake_peer_spec (FakePeer * p)
{
  return g_strdup_printf ("%s@127.0.0.1:%u", p->address, p->port);
}

TChunk *
fake_peer_find (FakePeer * p, guint64 seq)
{
  guint i;

  for (i = 0; i < N_CHUNKS; i++)
    if (seq >= p->chunks[i]->hdr.first_seq
        && seq <= p->chunks[i]->hdr.last_seq)
      return p->chunks[i];
  return NULL;
}

void
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
void
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

/* relays and viewers */
DiodeRelay *
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

DiodeRelay *
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

void
stop_relay (DiodeRelay * r)
{
  diode_relay_stop (r);
  g_object_unref (r);
}

/* A viewer: HELLO v1..3, SUBSCRIBE EARLIEST (no wait: nothing is live). */
RawClient *
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

/* Reads @v while serving @peers, until MEDIA @last_seq (or EOS, an error,
 * the close, WAIT_MS). Every MEDIA must be byte for byte the frame the
 * peers hold for its seq. */
void
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

void
watched_clear (Watched * w)
{
  g_array_unref (w->seqs);
}

/* A fresh stats snapshot of @r: member @member of its "fetch" object. */
gint64
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
gboolean
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
gint64
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
JsonNode *
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

guint64
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

void
expect_all (Watched * w)
{
  guint i;

  fail_unless (w->subscribed, "no SUBSCRIBE_OK (error %d)", w->error_code);
  fail_unless_equals_int (w->seqs->len, N_CHUNKS * GOP);
  for (i = 0; i < w->seqs->len; i++)
    fail_unless_equals_uint64 (g_array_index (w->seqs, guint64, i), i + 1);
}

/* A publisher records STREAM (N_CHUNKS GOPs, CAPS "video/x-test", then
 * EOS) on @p (--store) and waits for STORED final; every MEDIA sent is
 * appended to @sent. */
void
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
