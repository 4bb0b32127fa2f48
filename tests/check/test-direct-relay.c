/* gst-diode — the relay's side of direct paths (docs/protocol.md 17.4,
 * 17.6, 17.8), with raw version-4 clients against an in-process relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SIGNAL forwarding (sid rewrite, peer filled in with the sender's TLS
 * address), every refusal and its CLOSE reason, the bounds (sessions per
 * publisher, signals per session, the 50/s bucket, receivers that do not
 * read), drops never answered, every end, a policy change; PATH DIRECT
 * stopping media and PATH RELAY resuming from from_seq with no gap (and
 * the tail and not-held cases); the STUN answerer over a real UDP socket
 * (RFC 5389 and classic forms, junk, the rate limit) and WELCOME's
 * stun_port. Suite `elements`.
 */
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stun/stunagent.h>
#include <stun/usages/bind.h>

#include "rawclient.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au"
#define MS GST_MSECOND
#define CRED_V "vfrag vpasswordvpasswordvpassword"
#define CRED_P "pfrag ppasswordppasswordppassword"
#define CAND "candidate:1 1 UDP 2013266431 192.168.1.20 50000 typ host"

/* ------------------------------------------------------------------------ */
/* raw version-4 clients */

/* A relay without keepalive: clients that sit still while the test
 * works on others are not closed as silent. */
static DiodeRelay *
relay_quiet (void)
{
  return relay_with ("keepalive-ms", 0, NULL);
}

static void
hello (RawClient * c, DiodeRole role, guint16 vmax)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, vmax, role, "direct/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.version, vmax);
  c->version = m.version;
  c->role = role;
  diode_msg_clear (&m);
}

static GBytes *
media_frame (guint64 seq, gboolean key)
{
  guint8 data[64];
  guint i;

  for (i = 0; i < sizeof (data); i++)
    data[i] = (guint8) (seq * 7 + i);
  return diode_msg_encode_media (seq, seq * 10 * MS, seq * 10 * MS, 10 * MS,
      seq, seq + 1, key ? DIODE_MEDIA_KEYFRAME : 0, data, sizeof (data));
}

/* Seqs @from..@to, a keyframe every 5 (seq % 5 == 1). */
static void
send_range (RawClient * c, guint64 from, guint64 to)
{
  guint64 s;

  for (s = from; s <= to; s++)
    raw_send_frame (c, media_frame (s, s % 5 == 1));
}

/* A publisher of @name at @vmax with @pubflags and a policy; CAPS sent,
 * then MEDIA 1..@last. */
static RawClient *
publisher (DiodeRelay * relay, const gchar * key, const gchar * name,
    guint16 vmax, guint32 pubflags, DiodeAccess access,
    const gchar * const *allow, guint64 last)
{
  RawClient *c = raw_open (relay, 0, key);
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };

  a.stream = name;
  a.access = access;
  a.fleet = "";
  a.allow = allow;
  a.pubflags = pubflags;
  hello (c, DIODE_ROLE_PUBLISHER, vmax);
  raw_send_frame (c, diode_msg_encode_publish_args (&a, vmax,
          DIODE_ROLE_PUBLISHER));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH_OK");
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  if (last)
    send_range (c, 1, last);
  return c;
}

static RawClient *
pub_direct (DiodeRelay * relay, const gchar * key, const gchar * name,
    guint64 last)
{
  return publisher (relay, key, name, 4, DIODE_PUBLISH_DIRECT,
      DIODE_ACCESS_PUBLIC, NULL, last);
}

/* The next message that is not PING/PONG, CAPS or MEDIA. */
static RawReadResult
next_control (RawClient * c, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * 1000;

  for (;;) {
    gint64 left = (end - g_get_monotonic_time ()) / 1000;
    RawReadResult res;

    if (left <= 0)
      return RAW_READ_TIMEOUT;
    res = raw_next (c, m, left);
    if (res != RAW_READ_MSG)
      return res;
    if (m->type != DIODE_MSG_MEDIA && m->type != DIODE_MSG_CAPS)
      return res;
    diode_msg_clear (m);
  }
}

/* A live viewer of @name at version 4 (SUBSCRIBE_OK read; media that
 * follows is for the caller). */
static RawClient *
viewer (DiodeRelay * relay, const gchar * key, const gchar * name)
{
  RawClient *c = raw_open (relay, 0, key);
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };

  a.stream = name;
  a.wait_ms = 2000;
  hello (c, DIODE_ROLE_VIEWER, 4);
  raw_send_frame (c, diode_msg_encode_subscribe_args (&a, 4,
          DIODE_ROLE_VIEWER));
  raw_expect_next (c, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
  diode_msg_clear (&m);
  return c;
}

static void
sig (RawClient * c, guint32 sid, guint8 kind, const gchar * data)
{
  raw_send_frame (c, diode_msg_encode_signal (sid, kind, NULL, data));
}

/* The next control message must be SIGNAL @kind; its sid is returned and
 * @peer ("": empty, NULL: not checked) and @data (NULL: not checked) must
 * match. */
static guint32
expect_signal (RawClient * c, guint8 kind, const gchar * peer,
    const gchar * data, const gchar * what)
{
  DiodeMsg m = { 0 };
  guint32 sid;

  fail_unless (next_control (c, &m, RAW_IO_MS) == RAW_READ_MSG,
      "%s: no SIGNAL came", what);
  fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
  fail_unless_equals_int (m.signal_kind, kind);
  if (peer && *peer) {
    fail_unless_equals_string (m.peer, peer);
  } else if (peer) {
    fail_unless (m.peer == NULL, "%s: peer '%s', expected empty", what,
        m.peer);
  }
  if (data) {
    fail_unless_equals_string (m.signal_data, data);
  }
  sid = m.sid;
  diode_msg_clear (&m);
  return sid;
}

/* Nothing but PING/PONG, CAPS or MEDIA for @ms. */
static void
expect_quiet (RawClient * c, guint ms, const gchar * what)
{
  DiodeMsg m = { 0 };
  RawReadResult res = next_control (c, &m, ms);

  fail_unless (res == RAW_READ_TIMEOUT, "%s: got %s", what,
      res == RAW_READ_MSG ? diode_msg_type_name (m.type) : "a close");
}

/* A fresh stats snapshot: member @obj (NULL: the root) . @member. */
static gint64
stats_int (DiodeRelay * relay, const gchar * obj, const gchar * member)
{
  JsonParser *p = json_parser_new ();
  gchar *json;
  JsonObject *o;
  gint64 v;

  g_usleep (450 * 1000);        /* stats every 200 ms: a fresh one */
  json = diode_relay_get_stats_json (relay);
  fail_unless (json && json_parser_load_from_data (p, json, -1, NULL));
  o = json_node_get_object (json_parser_get_root (p));
  if (obj)
    o = json_object_get_object_member (o, obj);
  fail_unless (o != NULL, "no member %s in the stats", obj);
  v = json_object_get_int_member (o, member);
  g_object_unref (p);
  g_free (json);
  return v;
}

/* Until the relay counts @n viewers on a direct path (its PATH read),
 * within 5 s. */
static void
wait_on_direct (DiodeRelay * relay, gint64 n)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (stats_int (relay, "direct", "viewers_on_direct") != n)
    fail_unless (g_get_monotonic_time () < end, "the relay never counted %"
        G_GINT64_FORMAT " viewers on a direct path", n);
}

/* The first stream's @member in a fresh stats snapshot. */
static gint64
stats_stream_int (DiodeRelay * relay, const gchar * member)
{
  JsonParser *p = json_parser_new ();
  gchar *json;
  JsonArray *a;
  gint64 v;

  g_usleep (450 * 1000);
  json = diode_relay_get_stats_json (relay);
  fail_unless (json && json_parser_load_from_data (p, json, -1, NULL));
  a = json_object_get_array_member (json_node_get_object
      (json_parser_get_root (p)), "streams");
  fail_unless (a && json_array_get_length (a) >= 1, "no stream in stats");
  v = json_object_get_int_member (json_array_get_object_element (a, 0),
      member);
  g_object_unref (p);
  g_free (json);
  return v;
}

/* /metrics (built as the web side serves it) holds the sample @line. */
static void
expect_metric (DiodeRelay * relay, const gchar * line)
{
  guint status = 0;
  gchar *type = NULL;
  gchar *body = diode_relay_web_render (relay, "/metrics", &status, &type);
  gchar *want = g_strdup_printf ("\n%s\n", line);

  fail_unless (body != NULL && status == 200);
  fail_unless (strstr (body, want) != NULL, "/metrics has no '%s'", line);
  g_free (want);
  g_free (type);
  g_free (body);
}

/* MEDIA @from..@to in order, no gap, no duplicate (CAPS allowed first). */
static void
expect_media (RawClient * c, guint64 from, guint64 to, const gchar * what)
{
  DiodeMsg m = { 0 };
  guint64 s = from;

  while (s <= to) {
    fail_unless (raw_next (c, &m, RAW_IO_MS) == RAW_READ_MSG,
        "%s: MEDIA %" G_GUINT64_FORMAT " never came", what, s);
    if (m.type == DIODE_MSG_CAPS) {
      diode_msg_clear (&m);
      continue;
    }
    fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
    fail_unless_equals_uint64 (m.seq, s);
    diode_msg_clear (&m);
    s++;
  }
}

/* A viewer and a DIRECT publisher of "cam" with media 1..5 read, and an
 * open session: the viewer's sid @vsid, the relay's sid returned. */
static guint32
open_session (RawClient * p, RawClient * v, guint32 vsid)
{
  gchar *vaddr = raw_key_address ("v.pem");
  guint32 rsid;

  sig (v, vsid, DIODE_SIGNAL_OFFER, CRED_V);
  rsid = expect_signal (p, DIODE_SIGNAL_OFFER, vaddr, CRED_V, "OFFER");
  fail_unless (rsid != 0);
  g_free (vaddr);
  return rsid;
}

/* ------------------------------------------------------------------------ */
/* forwarding */

GST_START_TEST (test_forward_rewrites_sid_and_peer)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 5);
  RawClient *v = viewer (relay, "v.pem", "cam");
  RawClient *w = viewer (relay, "w.pem", "cam");
  gchar *paddr = raw_key_address ("p.pem");
  gchar *vaddr = raw_key_address ("v.pem");
  gchar *waddr = raw_key_address ("w.pem");
  guint32 rsid, rsid2, sid;

  expect_media (v, 1, 5, "viewer joins");
  expect_media (w, 1, 5, "second viewer joins");
  rsid = open_session (p, v, 7);
  /* the answer comes back with the viewer's own sid and the publisher's
   * proven address */
  sig (p, rsid, DIODE_SIGNAL_ANSWER, CRED_P);
  sid = expect_signal (v, DIODE_SIGNAL_ANSWER, paddr, CRED_P, "ANSWER");
  fail_unless_equals_int (sid, 7);
  /* a peer field a client fills in is ignored: the relay writes the
   * sender's address */
  raw_send_frame (v, diode_msg_encode_signal (7, DIODE_SIGNAL_CANDIDATE,
          waddr, CAND));
  sid = expect_signal (p, DIODE_SIGNAL_CANDIDATE, vaddr, CAND, "CANDIDATE");
  fail_unless_equals_int (sid, rsid);
  sig (p, rsid, DIODE_SIGNAL_CANDIDATE, CAND);
  fail_unless_equals_int (expect_signal (v, DIODE_SIGNAL_CANDIDATE, paddr,
          CAND, "CANDIDATE back"), 7);
  sig (v, 7, DIODE_SIGNAL_GATHERED, "");
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_GATHERED, vaddr,
          "", "GATHERED"), rsid);
  /* a second viewer with the same sid: another relay sid, its own peer */
  sig (w, 7, DIODE_SIGNAL_OFFER, CRED_V);
  rsid2 = expect_signal (p, DIODE_SIGNAL_OFFER, waddr, CRED_V, "OFFER 2");
  fail_unless (rsid2 != 0 && rsid2 != rsid);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 2);
  fail_unless_equals_int (stats_int (relay, "direct", "offers"), 2);
  /* CLOSE from an end: forwarded, the session is over */
  sig (v, 7, DIODE_SIGNAL_CLOSE, "ice failed");
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "ice failed", "CLOSE"), rsid);
  /* after it, the viewer's and the publisher's SIGNALs of that session
   * are dropped, counted, and never answered */
  sig (v, 7, DIODE_SIGNAL_CANDIDATE, CAND);
  sig (p, rsid, DIODE_SIGNAL_CANDIDATE, CAND);
  sig (p, 999, DIODE_SIGNAL_CANDIDATE, CAND);
  expect_quiet (v, 400, "viewer after its CLOSE");
  expect_quiet (p, 400, "publisher after the CLOSE");
  fail_unless_equals_int (stats_int (relay, "direct", "signals_dropped"), 3);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 1);
  /* OFFER, ANSWER, CANDIDATE x2, GATHERED, OFFER, CLOSE */
  fail_unless_equals_int (stats_int (relay, "direct", "signals"), 7);
  fail_unless (stats_int (relay, "direct", "memory_bytes") > 0);
  expect_metric (relay, "diode_direct_sessions 1");
  expect_metric (relay, "diode_direct_offers_total 2");
  expect_metric (relay, "diode_direct_signals_total 7");
  expect_metric (relay, "diode_direct_signals_dropped_total 3");

  g_free (paddr);
  g_free (vaddr);
  g_free (waddr);
  raw_free (w, FALSE);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* The refusals of 17.6 rule 1, each a CLOSE with an empty peer to the
 * sender and nothing to the publisher. */
GST_START_TEST (test_refusals)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p, *v, *r;
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };

  /* a publisher that did not set DIRECT */
  p = publisher (relay, "p.pem", "cam", 4, 0, DIODE_ACCESS_PUBLIC, NULL, 5);
  v = viewer (relay, "v.pem", "cam");
  sig (v, 1, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (v, DIODE_SIGNAL_CLOSE, "", "direct paths not offered",
      "no DIRECT");
  expect_quiet (p, 300, "publisher without DIRECT");
  raw_free (v, FALSE);
  raw_free (p, FALSE);

  /* DIRECT set by a version-3 publisher */
  p = publisher (relay, "p3.pem", "cam3", 3, DIODE_PUBLISH_DIRECT,
      DIODE_ACCESS_PUBLIC, NULL, 5);
  v = viewer (relay, "v.pem", "cam3");
  sig (v, 1, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (v, DIODE_SIGNAL_CLOSE, "", "direct paths not offered",
      "v3 publisher");
  raw_free (v, FALSE);
  raw_free (p, FALSE);

  /* a replay viewer (start EARLIEST, served from the ring) */
  p = pub_direct (relay, "p4.pem", "cam4", 5);
  r = raw_open (relay, 0, "r.pem");
  hello (r, DIODE_ROLE_VIEWER, 4);
  a.stream = "cam4";
  a.wait_ms = 2000;
  a.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (r, diode_msg_encode_subscribe_args (&a, 4,
          DIODE_ROLE_VIEWER));
  raw_expect_next (r, DIODE_MSG_SUBSCRIBE_OK, &m, "replay SUBSCRIBE_OK");
  diode_msg_clear (&m);
  sig (r, 3, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (r, DIODE_SIGNAL_CLOSE, "", "direct paths not offered",
      "replay viewer");
  expect_quiet (p, 300, "publisher of a replay viewer");
  /* its PATH is ignored: media keeps coming */
  raw_send_frame (r, diode_msg_encode_path (DIODE_PATH_DIRECT, 6));
  send_range (p, 6, 8);
  expect_media (r, 6, 8, "replay viewer after PATH DIRECT");
  raw_free (r, FALSE);

  /* no publisher any more (after EOS) */
  v = viewer (relay, "v.pem", "cam4");
  expect_media (v, 6, 8, "viewer of cam4");
  raw_send_frame (p, diode_msg_encode_eos (9));
  fail_unless (next_control (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_EOS);
  diode_msg_clear (&m);
  sig (v, 4, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (v, DIODE_SIGNAL_CLOSE, "", "publisher not on this relay",
      "after EOS");
  fail_unless_equals_int (stats_int (relay, "direct", "offers"), 0);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 0);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A stream pulled from another relay has no publisher here to signal:
 * "publisher not on this relay", and its origin's publisher hears
 * nothing (signalling does not cross relay links). */
GST_START_TEST (test_pulled_stream)
{
  DiodeRelay *root = relay_quiet ();
  gchar *key = g_build_filename (fixture_config_dir (), "leaf.pem", NULL);
  gchar *self = fixture_key_address ("leaf.pem");
  gchar *up = g_strdup_printf ("%s@127.0.0.1:%u",
      diode_relay_get_address (root), diode_relay_get_port (root));
  DiodeRelay *leaf = diode_relay_new ("127.0.0.1:0", key);
  RawClient *p, *v;
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };
  GError *err = NULL;

  fixture_relay_conf_add (root, "relays", "children", self);
  g_object_set (leaf, "upstream", up, "keepalive-ms", 0,
      "stats-interval-ms", 200, NULL);
  fail_unless (diode_relay_start (leaf, &err), "%s", err ? err->message :
      "?");
  p = pub_direct (root, "p.pem", "cam", 5);
  v = raw_open (leaf, 0, "v.pem");
  hello (v, DIODE_ROLE_VIEWER, 4);
  a.stream = "cam";
  a.wait_ms = 10000;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&a, 4,
          DIODE_ROLE_VIEWER));
  fail_unless (next_control (v, &m, 10000) == RAW_READ_MSG,
      "no SUBSCRIBE_OK from the leaf");
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  diode_msg_clear (&m);
  sig (v, 1, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (v, DIODE_SIGNAL_CLOSE, "", "publisher not on this relay",
      "pulled stream");
  expect_quiet (p, 300, "the origin's publisher");
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (leaf);
  relay_free (root);
  g_free (up);
  g_free (self);
  g_free (key);
}

GST_END_TEST;

/* What the session refuses reaches the peer as ERROR, the relay forwarding
 * nothing: SIGNAL below version 4, PATH from a publisher, sid 0, data over
 * 2048 bytes (a SIGNAL frame built by hand: the encoder refuses both). */
static GBytes *
signal_frame_raw (guint32 sid, gsize data_len)
{
  gsize plen = 4 + 1 + 2 + 2 + data_len;
  guint8 *f = g_malloc0 (8 + plen);

  f[0] = DIODE_MSG_SIGNAL;
  f[4] = plen >> 24;
  f[5] = plen >> 16;
  f[6] = plen >> 8;
  f[7] = plen;
  f[8] = sid >> 24;
  f[9] = sid >> 16;
  f[10] = sid >> 8;
  f[11] = sid;
  f[12] = DIODE_SIGNAL_CANDIDATE;
  /* peer: empty (f[13..14] = 0); data */
  f[15] = data_len >> 8;
  f[16] = data_len;
  memset (f + 17, 'a', data_len);
  return g_bytes_new_take (f, 8 + plen);
}

GST_START_TEST (test_bad_frames)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v, *v3;
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };

  /* a version-3 viewer: SIGNAL is an unknown type */
  v3 = raw_open (relay, 0, "v3.pem");
  hello (v3, DIODE_ROLE_VIEWER, 3);
  a.stream = "cam";
  a.wait_ms = 2000;
  raw_send_frame (v3, diode_msg_encode_subscribe_args (&a, 3,
          DIODE_ROLE_VIEWER));
  raw_expect_next (v3, DIODE_MSG_SUBSCRIBE_OK, &m, "v3 SUBSCRIBE_OK");
  diode_msg_clear (&m);
  expect_media (v3, 1, 1, "v3 joins");
  raw_send_frame (v3, diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, NULL,
          CRED_V));
  raw_expect_error_says (v3, DIODE_ERR_PROTOCOL, "SIGNAL below v4",
      "version 4", NULL);
  raw_free (v3, FALSE);

  /* sid 0, then data of 2049 bytes, from a version-4 viewer */
  v = viewer (relay, "v.pem", "cam");
  expect_media (v, 1, 1, "joins");
  raw_send_frame (v, signal_frame_raw (0, 4));
  raw_expect_error_says (v, DIODE_ERR_PROTOCOL, "sid 0", "sid", NULL);
  raw_free (v, FALSE);
  v = viewer (relay, "v.pem", "cam");
  expect_media (v, 1, 1, "joins again");
  raw_send_frame (v, signal_frame_raw (1, 2049));
  raw_expect_error_says (v, DIODE_ERR_TOO_LARGE, "data 2049", "2048", NULL);
  raw_free (v, FALSE);

  /* PATH from a publisher */
  raw_send_frame (p, diode_msg_encode_path (DIODE_PATH_DIRECT, 1));
  raw_expect_error_says (p, DIODE_ERR_PROTOCOL, "PATH from a publisher",
      "PATH", NULL);
  fail_unless_equals_int (stats_int (relay, "direct", "signals"), 0);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* bounds */

/* 64 sessions per publisher connection; the 65th viewer is refused. */
GST_START_TEST (test_sessions_per_publisher)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v[65];
  guint i;

  for (i = 0; i < 65; i++) {
    v[i] = viewer (relay, "v.pem", "cam");
    sig (v[i], 1, DIODE_SIGNAL_OFFER, CRED_V);
    if (i < 64)
      expect_signal (p, DIODE_SIGNAL_OFFER, NULL, NULL, "OFFER") ;
  }
  expect_signal (v[64], DIODE_SIGNAL_CLOSE, "",
      "too many direct sessions", "65th session");
  expect_quiet (p, 300, "publisher after the 65th OFFER");
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 64);
  /* one ends: a slot is free again */
  sig (v[3], 1, DIODE_SIGNAL_CLOSE, "done");
  expect_signal (p, DIODE_SIGNAL_CLOSE, NULL, "done", "CLOSE");
  sig (v[64], 2, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (p, DIODE_SIGNAL_OFFER, NULL, CRED_V, "OFFER in the slot");
  for (i = 0; i < 65; i++)
    raw_free (v[i], FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* 128 SIGNALs per session (both ways, CLOSE not counted): the 129th is
 * dropped and the session ends, "too many signals" to both ends. */
GST_START_TEST (test_signals_per_session)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v = viewer (relay, "v.pem", "cam");
  gchar *paddr = raw_key_address ("p.pem");
  gchar *vaddr = raw_key_address ("v.pem");
  guint32 rsid;
  guint i;

  rsid = open_session (p, v, 5);          /* 1 */
  /* 49 from the viewer, 50 from the publisher: inside both buckets */
  for (i = 0; i < 49; i++) {
    sig (v, 5, DIODE_SIGNAL_CANDIDATE, CAND);
    sig (p, rsid, DIODE_SIGNAL_CANDIDATE, CAND);
  }
  sig (p, rsid, DIODE_SIGNAL_CANDIDATE, CAND);  /* 100 */
  for (i = 0; i < 49; i++)
    expect_signal (p, DIODE_SIGNAL_CANDIDATE, vaddr, CAND, "to publisher");
  for (i = 0; i < 50; i++)
    expect_signal (v, DIODE_SIGNAL_CANDIDATE, paddr, CAND, "to viewer");
  /* the buckets refill (50/s): 28 more make 128 */
  g_usleep (700 * 1000);
  for (i = 0; i < 28; i++)
    sig (v, 5, DIODE_SIGNAL_CANDIDATE, CAND);
  for (i = 0; i < 28; i++)
    expect_signal (p, DIODE_SIGNAL_CANDIDATE, vaddr, CAND, "to 128");
  sig (v, 5, DIODE_SIGNAL_CANDIDATE, CAND);     /* 129 */
  fail_unless_equals_int (expect_signal (v, DIODE_SIGNAL_CLOSE, paddr,
          "too many signals", "viewer told"), 5);
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "too many signals", "publisher told"), rsid);
  fail_unless_equals_int (stats_int (relay, "direct", "signals_dropped"), 1);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 0);
  g_free (paddr);
  g_free (vaddr);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* The bucket: 50 at once per connection. Over it the frame is dropped;
 * the sender's open session ends ("too many signals" both ways); an OFFER
 * that opens nothing is told once per sid. The connection stays open. */
GST_START_TEST (test_signal_bucket)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v = viewer (relay, "v.pem", "cam");
  RawClient *w = viewer (relay, "w.pem", "cam");
  gchar *paddr = raw_key_address ("p.pem");
  guint32 rsid, last_open = 0;
  guint i, got = 0, told500 = 0, offers = 0, closes = 0, refused = 0;
  gboolean was_refused[100] = { FALSE };
  DiodeMsg m = { 0 };

  rsid = open_session (p, v, 9);
  /* a sid never opened empties the bucket (dropped either way, never
   * answered): whatever refilled while a slow build worked is used up */
  for (i = 0; i < 100; i++)
    sig (v, 55, DIODE_SIGNAL_GATHERED, "");
  for (i = 0; i < 10; i++)
    sig (v, 9, DIODE_SIGNAL_CANDIDATE, CAND);
  /* at most a token or two refilled meanwhile, then the CLOSE */
  while (next_control (p, &m, RAW_IO_MS) == RAW_READ_MSG) {
    fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
    fail_unless_equals_int (m.sid, rsid);
    if (m.signal_kind == DIODE_SIGNAL_CLOSE) {
      fail_unless_equals_string (m.signal_data, "too many signals");
      diode_msg_clear (&m);
      break;
    }
    got++;
    diode_msg_clear (&m);
  }
  fail_unless (got <= 5, "%u forwarded over an empty bucket", got);
  expect_signal (v, DIODE_SIGNAL_CLOSE, paddr, "too many signals",
      "viewer over its bucket");
  expect_quiet (v, 300, "nothing more for the dropped ones");
  fail_unless_equals_int (stats_int (relay, "direct", "signals_dropped"),
      110 - got);

  /* OFFERs over the bucket that open nothing: each refused, told once */
  for (i = 0; i < 100; i++)
    sig (w, 100 + i, DIODE_SIGNAL_OFFER, CRED_V);
  while (next_control (w, &m, 500) == RAW_READ_MSG) {
    fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
    fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
    fail_unless_equals_string (m.signal_data, "too many signals");
    fail_unless (m.peer == NULL);
    fail_unless (m.sid >= 100 && m.sid < 200 && !was_refused[m.sid - 100],
        "CLOSE for sid %u", m.sid);
    was_refused[m.sid - 100] = TRUE;
    refused++;
    diode_msg_clear (&m);
  }
  /* the burst, and what refilled meanwhile (a slow build refills more) */
  fail_unless (refused >= 25 && refused <= 50, "%u refused", refused);
  for (i = 0; i < 100; i++)
    if (!was_refused[i])
      last_open = 100 + i;
  /* those that opened replaced one another at the publisher */
  while (next_control (p, &m, 300) == RAW_READ_MSG) {
    fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
    if (m.signal_kind == DIODE_SIGNAL_OFFER)
      offers++;
    else if (m.signal_kind == DIODE_SIGNAL_CLOSE)
      closes++;
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (offers, 100 - refused);
  fail_unless_equals_int (closes, offers - 1);
  /* the connection stays open: a second later its session signals */
  g_usleep (1000 * 1000);
  sig (w, last_open, DIODE_SIGNAL_GATHERED, "");
  expect_signal (p, DIODE_SIGNAL_GATHERED, NULL, "", "after the refill");

  /* one sid offered again and again over an empty bucket (a sid never
   * opened empties it: dropped either way, unanswered): told once. A
   * token that refills meanwhile may open it, and the next frame over
   * the bucket then ends that session (a CLOSE naming the publisher),
   * but the refusal (empty peer) comes once. */
  for (i = 0; i < 100; i++)
    sig (w, 77, DIODE_SIGNAL_GATHERED, "");
  for (i = 0; i < 30; i++)
    sig (w, 500, DIODE_SIGNAL_OFFER, CRED_V);
  while (next_control (w, &m, 500) == RAW_READ_MSG) {
    fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
    fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
    fail_unless_equals_int (m.sid, 500);
    if (!m.peer)
      told500++;
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (told500, 1);
  g_free (paddr);
  raw_free (w, FALSE);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A viewer that does not read: media fills its socket, then the SIGNALs
 * forwarded to it back up in its reply queue; when that is full the frame
 * is dropped, the session ends and the publisher is told "viewer not
 * reading" (the same rule holds the other way). */
GST_START_TEST (test_receiver_not_reading)
{
  DiodeRelay *relay = relay_with ("max-reply-bytes", (guint64) 8192,
      "keepalive-ms", 0, "write-timeout-ms", 60000,
      "viewer-soft-limit", G_GUINT64_CONSTANT (1) << 40,
      "viewer-hard-limit", G_GUINT64_CONSTANT (1) << 41, NULL);
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v = raw_open (relay, 4096, "v.pem");
  DiodeSubscribeArgs a = { 0 };
  DiodeMsg m = { 0 };
  gchar *big = g_strnfill (2000, 'c');
  guint8 *payload = g_malloc0 (60000);
  gchar *vaddr = raw_key_address ("v.pem");
  guint32 rsid;
  guint i;

  a.stream = "cam";
  a.wait_ms = 2000;
  hello (v, DIODE_ROLE_VIEWER, 4);
  raw_send_frame (v, diode_msg_encode_subscribe_args (&a, 4,
          DIODE_ROLE_VIEWER));
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
  diode_msg_clear (&m);
  sig (v, 1, DIODE_SIGNAL_OFFER, CRED_V);
  rsid = expect_signal (p, DIODE_SIGNAL_OFFER, vaddr, CRED_V, "OFFER");
  /* from here on the viewer reads nothing: 4.8 MB of media fill every
   * buffer between the relay and it */
  for (i = 2; i < 82; i++)
    raw_send_frame (p, diode_msg_encode_media (i, i * 10 * MS, i * 10 * MS,
            10 * MS, i, i + 1, 0, payload, 60000));
  g_usleep (300 * 1000);
  sig (p, rsid, DIODE_SIGNAL_ANSWER, CRED_P);
  for (i = 0; i < 10; i++)
    sig (p, rsid, DIODE_SIGNAL_CANDIDATE, big);
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "viewer not reading", "publisher told"), rsid);
  expect_quiet (p, 300, "the rest dropped, unanswered");
  fail_unless (stats_int (relay, "direct", "signals_dropped") >= 1);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 0);
  g_free (vaddr);
  g_free (payload);
  g_free (big);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* The other way: a publisher that does not read. 60 viewers' SIGNALs
 * (5.5 MB, past what the kernel buffers on loopback) back up in its reply
 * queue; those that do not fit end their sessions, "publisher not
 * reading" to the viewer. */
GST_START_TEST (test_publisher_not_reading)
{
  DiodeRelay *relay = relay_with ("max-reply-bytes", (guint64) 8192,
      "keepalive-ms", 0, "max-connections-per-address", 128, NULL);
  RawClient *p = raw_open (relay, 4096, "p.pem");
  RawClient *v[60];
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };
  gchar *big = g_strnfill (2000, 'c');
  guint i, k, told = 0;

  a.stream = "cam";
  a.access = DIODE_ACCESS_PUBLIC;
  a.fleet = "";
  a.pubflags = DIODE_PUBLISH_DIRECT;
  hello (p, DIODE_ROLE_PUBLISHER, 4);
  raw_send_frame (p, diode_msg_encode_publish_args (&a, 4,
          DIODE_ROLE_PUBLISHER));
  raw_expect_next (p, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH_OK");
  diode_msg_clear (&m);
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  send_range (p, 1, 1);
  /* the publisher reads nothing from here on */
  for (i = 0; i < G_N_ELEMENTS (v); i++) {
    v[i] = viewer (relay, "v.pem", "cam");
    sig (v[i], 1, DIODE_SIGNAL_OFFER, CRED_V);
  }
  for (k = 0; k < 45; k++)
    for (i = 0; i < G_N_ELEMENTS (v); i++)
      sig (v[i], 1, DIODE_SIGNAL_CANDIDATE, big);
  g_usleep (1000 * 1000);       /* every CLOSE on its way */
  for (i = 0; i < G_N_ELEMENTS (v); i++) {
    while (next_control (v[i], &m, 200) == RAW_READ_MSG) {
      fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
      fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
      fail_unless_equals_string (m.signal_data, "publisher not reading");
      fail_unless_equals_int (m.sid, 1);
      told++;
      diode_msg_clear (&m);
    }
  }
  fail_unless (told >= 1, "no viewer was told the publisher does not read");
  fail_unless (stats_int (relay, "direct", "signals_dropped") >= told);
  /* each told viewer's session is over (a CLOSE still on its way under a
   * loaded machine is not counted in told) */
  fail_unless (stats_int (relay, "direct", "sessions") <=
      (gint64) (G_N_ELEMENTS (v) - told));
  for (i = 0; i < G_N_ELEMENTS (v); i++)
    raw_free (v[i], FALSE);
  g_free (big);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* ends */

GST_START_TEST (test_ends)
{
  DiodeRelay *relay = relay_quiet ();
  RawClient *p = pub_direct (relay, "p.pem", "cam", 1);
  RawClient *v = viewer (relay, "v.pem", "cam");
  RawClient *w, *p2;
  gchar *paddr = raw_key_address ("p.pem");
  gchar *vaddr = raw_key_address ("v.pem");
  guint32 rsid, rsid2;
  DiodeMsg m = { 0 };

  /* a new OFFER replaces the viewer's open session */
  rsid = open_session (p, v, 1);
  sig (v, 2, DIODE_SIGNAL_OFFER, CRED_V);
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "replaced by a new offer", "replaced"), rsid);
  rsid2 = expect_signal (p, DIODE_SIGNAL_OFFER, vaddr, CRED_V, "new OFFER");
  /* the viewer goes */
  raw_free (v, TRUE);
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "viewer gone", "viewer gone"), rsid2);

  /* the publisher goes (no EOS) */
  v = viewer (relay, "v.pem", "cam");
  open_session (p, v, 3);
  raw_free (p, TRUE);
  fail_unless_equals_int (expect_signal (v, DIODE_SIGNAL_CLOSE, paddr,
          "publisher gone", "publisher gone"), 3);

  /* a new connection of the publisher takes the name over */
  p = pub_direct (relay, "p.pem", "cam", 0);
  send_range (p, 2, 2);
  open_session (p, v, 4);
  p2 = pub_direct (relay, "p.pem", "cam", 0);
  fail_unless_equals_int (expect_signal (v, DIODE_SIGNAL_CLOSE, paddr,
          "publisher replaced", "publisher replaced"), 4);
  raw_free (p, FALSE);

  /* end of stream */
  raw_send_frame (p2, media_frame (3, TRUE));
  w = viewer (relay, "w.pem", "cam");
  sig (w, 5, DIODE_SIGNAL_OFFER, CRED_V);
  expect_signal (p2, DIODE_SIGNAL_OFFER, NULL, CRED_V, "OFFER of w");
  raw_send_frame (p2, diode_msg_encode_eos (4));
  fail_unless_equals_int (expect_signal (w, DIODE_SIGNAL_CLOSE, paddr,
          "end of stream", "end of stream"), 5);
  fail_unless (next_control (w, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_EOS);
  diode_msg_clear (&m);
  fail_unless_equals_int (stats_int (relay, "direct", "sessions"), 0);

  g_free (paddr);
  g_free (vaddr);
  raw_free (w, FALSE);
  raw_free (v, FALSE);
  raw_free (p2, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A POLICY that no longer admits the viewer: CLOSE "not authorized" to
 * both ends, then the viewer's ERROR 102. */
GST_START_TEST (test_policy_change)
{
  DiodeRelay *relay = relay_quiet ();
  gchar *vaddr = raw_key_address ("v.pem");
  gchar *paddr = raw_key_address ("p.pem");
  const gchar *allow[] = { vaddr, NULL };
  const gchar *none[] = { paddr, NULL };
  RawClient *p = publisher (relay, "p.pem", "cam", 4, DIODE_PUBLISH_DIRECT,
      DIODE_ACCESS_PRIVATE, allow, 1);
  RawClient *v = viewer (relay, "v.pem", "cam");
  guint32 rsid;
  DiodeMsg m = { 0 };

  rsid = open_session (p, v, 1);
  /* on a direct path: the policy still reaches it (17.4) */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 2));
  wait_on_direct (relay, 1);
  raw_send_frame (p, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, "",
          none));
  fail_unless_equals_int (expect_signal (v, DIODE_SIGNAL_CLOSE, paddr,
          "not authorized", "viewer"), 1);
  fail_unless (next_control (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_AUTHORIZED);
  diode_msg_clear (&m);
  fail_unless_equals_int (expect_signal (p, DIODE_SIGNAL_CLOSE, vaddr,
          "not authorized", "publisher"), rsid);
  g_free (vaddr);
  g_free (paddr);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* PATH */

/* DIRECT stops CAPS/MEDIA (no media bytes counted, the viewer on direct
 * in the stats), keeps keepalive and SIGNAL; RELAY resumes from from_seq
 * with no gap; from the tail; not held: the latest keyframe. */
GST_START_TEST (test_path)
{
  DiodeRelay *relay = relay_with ("buffer-bytes", (guint64) 4096,
      "keepalive-ms", 0, NULL);
  RawClient *p = pub_direct (relay, "p.pem", "cam", 0);
  RawClient *v;
  DiodeMsg m = { 0 };
  gint64 media0, bytes0;

  send_range (p, 1, 1);
  v = viewer (relay, "v.pem", "cam");
  expect_media (v, 1, 1, "join");
  send_range (p, 2, 10);
  expect_media (v, 2, 10, "relay path");
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 11));
  wait_on_direct (relay, 1);
  fail_unless_equals_int (stats_stream_int (relay, "direct_viewers"), 1);
  expect_metric (relay, "diode_stream_direct_viewers{stream=\"cam\"} 1");
  expect_metric (relay, "diode_direct_viewers 1");
  media0 = stats_stream_int (relay, "media_bytes_out");
  send_range (p, 11, 15);
  /* nothing for 1.5 s */
  fail_unless (raw_next (v, &m, 1500) == RAW_READ_TIMEOUT,
      "media on the direct path still came from the relay");
  fail_unless_equals_int (stats_stream_int (relay, "media_bytes_out"),
      media0);
  bytes0 = stats_stream_int (relay, "bytes_out");
  /* SIGNAL still works on the direct path */
  open_session (p, v, 1);
  /* DIRECT again changes nothing */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 16));
  /* back from 13: CAPS, then 13.. in order, no gap */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_RELAY, 13));
  fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  expect_media (v, 13, 15, "PATH RELAY from 13");
  send_range (p, 16, 17);
  expect_media (v, 16, 17, "live again");
  fail_unless (stats_stream_int (relay, "media_bytes_out") > media0);
  fail_unless (stats_stream_int (relay, "bytes_out") > bytes0);
  fail_unless_equals_int (stats_int (relay, "direct", "viewers_on_direct"),
      0);
  /* RELAY on the relay path: from_seq ignored */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_RELAY, 2));
  send_range (p, 18, 18);
  expect_media (v, 18, 18, "RELAY on the relay path");

  /* from the tail: the seq right after the last one held */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 19));
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_RELAY, 19));
  fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  fail_unless (raw_next (v, &m, 300) == RAW_READ_TIMEOUT, "the tail sent "
      "old media");
  send_range (p, 19, 20);
  expect_media (v, 19, 20, "from the tail");

  /* not held any more: the latest keyframe chunk (a gap the viewer sees) */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 21));
  wait_on_direct (relay, 1);    /* read before the media that follows */
  send_range (p, 21, 100);
  fail_unless (fixture_wait_last_seq (relay, "cam", 100, 2000));
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_RELAY, 2));
  fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  diode_msg_clear (&m);
  expect_media (v, 96, 100, "not held: latest keyframe");

  /* EOS still reaches a viewer on DIRECT */
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 101));
  wait_on_direct (relay, 1);
  send_range (p, 101, 102);
  raw_send_frame (p, diode_msg_encode_eos (103));
  fail_unless (next_control (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);    /* end of stream */
  diode_msg_clear (&m);
  fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_EOS);
  diode_msg_clear (&m);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* A viewer on a direct path keeps its keepalive: the relay PINGs it while
 * it sends it no media, and it is not closed as slow or silent while it
 * answers. */
GST_START_TEST (test_path_keepalive)
{
  DiodeRelay *relay = relay_with ("keepalive-ms", 300, NULL);
  RawClient *p = pub_direct (relay, "p.pem", "cam", 0);
  RawClient *v;
  DiodeMsg m = { 0 };
  guint pings = 0;
  gint64 end;

  send_range (p, 1, 1);
  v = viewer (relay, "v.pem", "cam");
  expect_media (v, 1, 1, "join");
  raw_send_frame (v, diode_msg_encode_path (DIODE_PATH_DIRECT, 2));
  end = g_get_monotonic_time () + 1500 * 1000;
  while (g_get_monotonic_time () < end) {
    /* raw_read: PINGs too, answered here by hand */
    if (raw_read (v, &m, 100) == RAW_READ_MSG) {
      fail_unless (m.type == DIODE_MSG_PING, "a %s on the direct path",
          diode_msg_type_name (m.type));
      raw_send_frame (v, diode_msg_encode_pong (m.token));
      pings++;
      diode_msg_clear (&m);
    }
    /* the publisher is not silent either (its PONGs are not read) */
    raw_send_frame (p, diode_msg_encode_ping (1));
  }
  fail_unless (pings >= 2, "%u PINGs in 1.5 s on the direct path", pings);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "cam"), 1);
  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* STUN */

static int
udp_to (guint16 port, guint16 * local_port)
{
  int fd = socket (AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = { 0 };
  socklen_t sl = sizeof (a);

  a.sin_family = AF_INET;
  a.sin_port = htons (port);
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (fd >= 0);
  fail_unless (connect (fd, (struct sockaddr *) &a, sizeof (a)) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &a, &sl) == 0);
  *local_port = ntohs (a.sin_port);
  return fd;
}

/* A Binding Request: RFC 5389 (@cookie) or classic RFC 3489. */
static gsize
binding_request (guint8 * buf, gboolean cookie, guint8 tid_seed)
{
  guint i;

  memset (buf, 0, 20);
  buf[1] = 0x01;
  if (cookie) {
    buf[4] = 0x21;
    buf[5] = 0x12;
    buf[6] = 0xa4;
    buf[7] = 0x42;
  } else {
    for (i = 4; i < 8; i++)
      buf[i] = tid_seed + i;
  }
  for (i = 8; i < 20; i++)
    buf[i] = tid_seed + i;
  return 20;
}

static gssize
udp_recv (int fd, guint8 * buf, gsize size, guint timeout_ms)
{
  if (!wait_fd (fd, POLLIN, deadline_in (timeout_ms)))
    return -1;
  return recv (fd, buf, size, MSG_DONTWAIT);
}

GST_START_TEST (test_stun)
{
  DiodeRelay *relay = relay_with ("stun", "127.0.0.1:0", NULL);
  guint16 port = diode_relay_get_stun_port (relay), local;
  int fd = udp_to (port, &local);
  guint8 req[64], ans[128];
  gssize n;
  RawClient *c;
  DiodeMsg m = { 0 };
  guint i, answered = 0;
  gint64 t0;
  gdouble secs;

  fail_unless (port != 0);
  /* WELCOME v4 announces it; a version-3 WELCOME has no block */
  c = raw_open (relay, 0, "c.pem");
  raw_send_frame (c, diode_msg_encode_hello (1, 4, DIODE_ROLE_VIEWER, "t"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.version, 4);
  fail_unless_equals_int (m.stun_port, port);
  diode_msg_clear (&m);
  raw_free (c, FALSE);
  c = raw_open (relay, 0, "c.pem");
  raw_send_frame (c, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "t"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.version, 3);
  fail_unless_equals_int (g_bytes_get_size (m.frame), 8 + 2 + 4 + 2 +
      strlen (m.agent));
  fail_unless_equals_int (m.stun_port, 0);
  diode_msg_clear (&m);
  raw_free (c, FALSE);

  /* RFC 5389: success response, same transaction id, XOR-MAPPED-ADDRESS
   * of our own address and port */
  send (fd, req, binding_request (req, TRUE, 1), 0);
  n = udp_recv (fd, ans, sizeof (ans), 2000);
  fail_unless (n >= 20 + 12, "no RFC 5389 answer");
  fail_unless (ans[0] == 0x01 && ans[1] == 0x01);
  fail_unless (memcmp (ans + 4, req + 4, 16) == 0);
  fail_unless (ans[20] == 0x00 && ans[21] == 0x20, "XOR-MAPPED-ADDRESS "
      "first");
  fail_unless_equals_int (((ans[26] << 8) | ans[27]) ^ 0x2112, local);
  fail_unless_equals_int (ans[28] ^ 0x21, 127);
  fail_unless_equals_int (ans[31] ^ 0x42, 1);

  /* classic RFC 3489: MAPPED-ADDRESS in the clear */
  send (fd, req, binding_request (req, FALSE, 9), 0);
  n = udp_recv (fd, ans, sizeof (ans), 2000);
  fail_unless (n >= 20 + 12, "no classic answer");
  fail_unless (ans[0] == 0x01 && ans[1] == 0x01);
  fail_unless (memcmp (ans + 4, req + 4, 16) == 0);
  fail_unless (ans[20] == 0x00 && ans[21] == 0x01, "MAPPED-ADDRESS");
  fail_unless_equals_int ((ans[26] << 8) | ans[27], local);
  fail_unless (ans[28] == 127 && ans[31] == 1);

  /* junk and responses: no answer */
  send (fd, "hello, relay", 12, 0);
  binding_request (req, TRUE, 3);
  req[1] = 0x01;
  req[0] = 0x01;                /* a response */
  send (fd, req, 20, 0);
  fail_unless (udp_recv (fd, ans, sizeof (ans), 300) < 0,
      "junk was answered");
  fail_unless_equals_int (stats_int (relay, "stun", "answered"), 2);
  fail_unless_equals_int (stats_int (relay, "stun", "dropped"), 2);
  expect_metric (relay, "diode_stun_answered_total 2");
  expect_metric (relay, "diode_stun_dropped_total 2");

  /* the rate limit: 400 at once, at most the burst (200) answered, and
   * what refills while they are read (200/s: a loaded machine is slow) */
  g_usleep (1100 * 1000);       /* a full bucket */
  t0 = g_get_monotonic_time ();
  for (i = 0; i < 400; i++) {
    send (fd, req, binding_request (req, TRUE, (guint8) i), 0);
    if (i % 50 == 49) {
      g_usleep (2000);          /* within the relay's socket buffer */
      while (udp_recv (fd, ans, sizeof (ans), 0) > 0)
        answered++;
    }
  }
  while (udp_recv (fd, ans, sizeof (ans), 300) > 0)
    answered++;
  /* the last 300 ms were only waiting for stragglers */
  secs = (g_get_monotonic_time () - t0) / 1e6 - 0.3;
  fail_unless (answered >= 150 && answered <= 205 + 200 * secs,
      "%u answered in %.2f s", answered, secs);
  fail_unless (stats_int (relay, "stun", "rate_limited") >=
      (gint64) 400 - answered - 100, "few rate-limited");
  close (fd);
  relay_free (relay);
}

GST_END_TEST;

/* libnice's own STUN client (what its ICE agent sends: RFC 5389 with
 * FINGERPRINT, and its RFC 3489 compatibility mode) against the relay's
 * socket: the mapped address it reads is our own. */
static void
libnice_bind (int fd, guint16 local, StunCompatibility compat,
    StunAgentUsageFlags flags)
{
  static const uint16_t known[] = {
    STUN_ATTRIBUTE_MAPPED_ADDRESS, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_FINGERPRINT, 0
  };
  StunAgent agent;
  StunMessage req, resp;
  guint8 buf[STUN_MAX_MESSAGE_SIZE], ans[STUN_MAX_MESSAGE_SIZE];
  struct sockaddr_storage mapped, alt;
  socklen_t mapped_len = sizeof (mapped), alt_len = sizeof (alt);
  struct sockaddr_in *sin = (struct sockaddr_in *) &mapped;
  gsize len;
  gssize n;

  stun_agent_init (&agent, known, compat, flags);
  len = stun_usage_bind_create (&agent, &req, buf, sizeof (buf));
  fail_unless (len >= 20);
  fail_unless (send (fd, buf, len, 0) == (gssize) len);
  n = udp_recv (fd, ans, sizeof (ans), 2000);
  fail_unless (n > 0, "libnice's request was not answered");
  fail_unless (n <= (gssize) len + 32, "amplification");
  fail_unless_equals_int (stun_agent_validate (&agent, &resp, ans, n, NULL,
          NULL), STUN_VALIDATION_SUCCESS);
  fail_unless_equals_int (stun_usage_bind_process (&resp,
          (struct sockaddr *) &mapped, &mapped_len,
          (struct sockaddr *) &alt, &alt_len), STUN_USAGE_BIND_RETURN_SUCCESS);
  fail_unless_equals_int (sin->sin_family, AF_INET);
  fail_unless_equals_int (ntohs (sin->sin_port), local);
  fail_unless_equals_int (ntohl (sin->sin_addr.s_addr), INADDR_LOOPBACK);
}

GST_START_TEST (test_stun_libnice)
{
  DiodeRelay *relay = relay_with ("stun", "127.0.0.1:0", NULL);
  guint16 local;
  int fd = udp_to (diode_relay_get_stun_port (relay), &local);
  int probe = socket (AF_INET6, SOCK_DGRAM, 0);
  struct sockaddr_in6 any6 = { 0 };

  libnice_bind (fd, local, STUN_COMPATIBILITY_RFC5389,
      STUN_AGENT_USAGE_USE_FINGERPRINT);
  libnice_bind (fd, local, STUN_COMPATIBILITY_RFC5389, 0);
  libnice_bind (fd, local, STUN_COMPATIBILITY_RFC3489, 0);
  fail_unless_equals_int (stats_int (relay, "stun", "answered"), 3);
  close (fd);
  relay_free (relay);

  /* a dual-stack socket ([::]) sees IPv4 clients as ::ffff:a.b.c.d and
   * answers them as IPv4 (where the machine has IPv6 at all) */
  any6.sin6_family = AF_INET6;
  if (probe >= 0 && bind (probe, (struct sockaddr *) &any6,
          sizeof (any6)) == 0) {
    close (probe);
    relay = relay_with ("stun", "[::]:0", NULL);
    fd = udp_to (diode_relay_get_stun_port (relay), &local);
    libnice_bind (fd, local, STUN_COMPATIBILITY_RFC5389,
        STUN_AGENT_USAGE_USE_FINGERPRINT);
    libnice_bind (fd, local, STUN_COMPATIBILITY_RFC3489, 0);
    close (fd);
    relay_free (relay);
  } else {
    GST_INFO ("no IPv6 here: dual-stack case not run");
    if (probe >= 0)
      close (probe);
  }
}

GST_END_TEST;

static Suite *
direct_relay_suite (void)
{
  Suite *s = suite_create ("direct-relay");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_forward_rewrites_sid_and_peer);
  tcase_add_test (tc, test_refusals);
  tcase_add_test (tc, test_pulled_stream);
  tcase_add_test (tc, test_bad_frames);
  tcase_add_test (tc, test_sessions_per_publisher);
  tcase_add_test (tc, test_signals_per_session);
  tcase_add_test (tc, test_signal_bucket);
  tcase_add_test (tc, test_receiver_not_reading);
  tcase_add_test (tc, test_publisher_not_reading);
  tcase_add_test (tc, test_ends);
  tcase_add_test (tc, test_policy_change);
  tcase_add_test (tc, test_path);
  tcase_add_test (tc, test_path_keepalive);
  tcase_add_test (tc, test_stun);
  tcase_add_test (tc, test_stun_libnice);
  return s;
}

GST_CHECK_MAIN (direct_relay);
