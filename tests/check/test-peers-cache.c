/* gst-diode — relays that share chunks: the cache, backoff, policy
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The same set-up as test-peers.c (fake peers, an upstream without the
 * recording, a raw viewer; peersharness.[ch]): a second viewer served from
 * the relay's cache, the cache's LRU bound, a peer that is down skipped
 * with backoff, sibling relays saving upstream bytes, the remote policy
 * enforced on fetched chunks, and a bad --peer option. Real TLS, real
 * sockets on 127.0.0.1; every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

#include "peersharness.h"

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

static Suite *
peers_cache_suite (void)
{
  Suite *s = suite_create ("peers_cache");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bad_peer_option);
  tcase_add_test (tc, test_cache_serves_second_viewer);
  tcase_add_test (tc, test_cache_lru_bound);
  tcase_add_test (tc, test_down_peer_skipped_with_backoff);
  tcase_add_test (tc, test_siblings_save_upstream_bytes);
  tcase_add_test (tc, test_remote_policy_enforced);
  return s;
}

GST_CHECK_MAIN (peers_cache);
