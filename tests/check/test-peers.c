/* gst-diode — relays that share chunks: --peer and the fetch tiers
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A relay that lacks a recording serves a viewer (SUBSCRIBE EARLIEST)
 * with chunks fetched from its peers before its upstream (issue 10, item
 * 5). The peers here are fake relays (peersharness.[ch]): a TLS server the
 * relay under test links to with --peer (pinned), answering RANGE and
 * FETCH with hand-made chunks, so a test can make one send a chunk with a
 * wrong CRC, more frames than its CHUNK said, an absurd count, nothing at
 * all, or stall. The upstream is an in-process relay that does not have
 * the recording. The viewer is a raw role-VIEWER client speaking version
 * 3 and comparing every MEDIA frame byte for byte with the one the peer
 * served. This file: fetching and checking what peers send; the cache,
 * backoff and policy are in test-peers-cache.c. Real TLS, real sockets on
 * 127.0.0.1; every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

#include "peersharness.h"

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

static Suite *
peers_suite (void)
{
  Suite *s = suite_create ("peers");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_peer_before_upstream);
  tcase_add_test (tc, test_damaged_chunk_fetched_elsewhere);
  tcase_add_test (tc, test_missing_chunk_skipped);
  tcase_add_test (tc, test_forged_range_bad_answer);
  tcase_add_test (tc, test_oversending_peer_closed);
  tcase_add_test (tc, test_huge_chunk_count_closed);
  tcase_add_test (tc, test_one_request_per_connection);
  tcase_add_test (tc, test_range_and_fetch_passed_on);
  tcase_add_test (tc, test_real_peer_has_what_upstream_lacks);
  return s;
}

GST_CHECK_MAIN (peers);
