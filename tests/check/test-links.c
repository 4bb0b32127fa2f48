/* gst-diode — relays linked into a tree: pull up, linger, policy, rules
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays on 127.0.0.1 linked by --upstream/--fallback
 * (properties "upstream", "fallbacks"): a stream published at the root is
 * watched at a leaf through ONE pull per stream, with the same seqs and
 * bytes; policy travels down the tree; cycles, bad --upstream text, wrong
 * pins and the relay end's rules for links. Fail-over, fail-back and
 * viewers moving between relays are in test-links-failover.c; the helpers
 * both use are in linksharness.c. Real TLS, real sockets; every wait is
 * bounded.
 *
 * The elements here share one identity (the fixture's config dir), so the
 * viewer is also the stream's owner: it may watch whatever policy reaches
 * the leaf.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#include "linksharness.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-identity.h"

#define UP_LINKED "\"kind\":\"upstream\",\"state\":\"linked\""

/* The next event from @view must be EOS (buffers before it are drained). */
static void
expect_eos (GstHarness * view)
{
  gint64 end = deadline_in (WAIT_MS);

  for (;;) {
    GstEvent *ev = gst_harness_try_pull_event (view);

    if (ev) {
      gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;

      gst_event_unref (ev);
      if (eos)
        return;
      continue;
    }
    fail_if (g_get_monotonic_time () > end, "no EOS within %u ms", WAIT_MS);
    g_usleep (5000);
  }
}

/* ------------------------------------------------------------------------ */

/* Published at the root, watched at the leaf: the leaf pulls it once, the
 * viewer gets every buffer intact, the leaf's seqs are the root's. */
GST_START_TEST (test_pull_up)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  guint i;

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  /* the leaf holds its viewer; the root has one subscriber: the leaf */
  fail_unless (fixture_wait_viewers (root, "cam", 1, WAIT_MS),
      "the leaf never pulled 'cam' from the root");
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);
  push (pub, GOP, 3 * GOP);
  for (i = GOP; i < 4 * GOP; i++)
    expect_buffer (view, i);
  fail_unless_equals_uint64 (diode_relay_get_last_seq (leaf, "cam"),
      diode_relay_get_last_seq (root, "cam"));
  fail_unless (!diode_relay_has_publisher (leaf, "cam"));

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* A viewer that makes the leaf pull a stream joins at the live edge the
 * root knew (docs/protocol.md section 18): the leaf's ring may hold only
 * the keyframe when it answers, so it passes on the root's live_seq. */
GST_START_TEST (test_pull_joins_at_the_roots_live_edge)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  GstStructure *st = NULL;
  guint64 live = 0;
  guint i;

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  /* keyframes at 0 and 10; 14 is live: buffer i is seq i + 1 */
  push (pub, 0, GOP + 5);
  fail_unless (fixture_wait_last_seq (root, "cam", GOP + 5, WAIT_MS));
  view = viewer (leaf, "cam");
  for (i = GOP; i < GOP + 5; i++) {
    GstBuffer *b;
    gint64 end = deadline_in (WAIT_MS);

    while (!(b = gst_harness_try_pull (view))) {
      fail_if (g_get_monotonic_time () > end, "buffer %u did not arrive", i);
      g_usleep (2000);
    }
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
    fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DECODE_ONLY) ==
        (i < GOP + 4), "buffer %u: decode-only is for those before 14", i);
    gst_buffer_unref (b);
  }
  g_object_get (view->element, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "join-live-seq", &live));
  fail_unless_equals_uint64 (live, GOP + 5);
  gst_structure_free (st);

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* Twenty viewers at the leaf are still one subscriber at the root; once
 * they are gone the pull lingers, then closes. */
GST_START_TEST (test_one_pull_per_stream)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 300);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *views[20];
  guint i, n = G_N_ELEMENTS (views);

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  for (i = 0; i < n; i++)
    views[i] = viewer (leaf, "cam");
  fail_unless (fixture_wait_viewers (leaf, "cam", n, WAIT_MS),
      "leaf has %u viewers", diode_relay_count_viewers (leaf, "cam"));
  push (pub, GOP, GOP);
  for (i = 0; i < n; i++) {
    GstBuffer *b = gst_harness_pull (views[i]);

    fail_unless (b != NULL);
    gst_buffer_unref (b);
  }
  fail_unless_equals_int (diode_relay_count_viewers (root, "cam"), 1);
  for (i = 0; i < n; i++)
    gst_harness_teardown (views[i]);
  /* linger (300 ms), then the pull closes: the root has no subscriber */
  fail_unless (fixture_wait_viewers (root, "cam", 0, WAIT_MS),
      "the pull did not close after its linger");
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* A private stream goes only to a downstream relay the upstream trusts
 * ([relays] trusted, reloaded like SIGHUP), and the policy travels with
 * it: the leaf serves its owner and refuses another identity. */
GST_START_TEST (test_private_needs_trust)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  gchar *hp = diode_relay_get_hostport (root);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *pub, *view;
  RawClient *bob;
  DiodeMsg m = { 0 };
  guint i;

  g_object_set (e, "relay", hp, "stream", "vault", "access",
      DIODE_ACCESS_PRIVATE, NULL);
  pub = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (pub, CAPS_STR);
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (root, "vault", TRUE, WAIT_MS));
  push (pub, 0, GOP);

  /* untrusted: the root refuses the leaf's pull; nothing reaches it */
  view = viewer (leaf, "vault");
  g_usleep (1500 * 1000);
  fail_unless_equals_int (diode_relay_count_viewers (root, "vault"), 0);
  fail_unless_equals_uint64 (diode_relay_get_last_seq (leaf, "vault"), 0);

  /* trusted: the leaf's next attempt gets it, the owner watches */
  trust (root, leaf);
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);

  /* another identity at the leaf: the policy travelled, it is refused */
  bob = raw_open (leaf, 0, "bob.pem");
  raw_send_frame (bob, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "links-test/0"));
  raw_expect_next (bob, DIODE_MSG_WELCOME, &m, "bob HELLO");
  diode_msg_clear (&m);
  raw_send_frame (bob, diode_msg_encode_subscribe ("vault", 0, 0));
  raw_expect_error_says (bob, DIODE_ERR_NOT_AUTHORIZED, "bob at the leaf",
      "'vault'", "private", NULL);
  raw_free (bob, FALSE);

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
  g_free (hp);
}

GST_END_TEST;

/* Peerstreamer's tree: a camera publishing at john (under harvard) is
 * watched at ben (under mit): announced up to the root, pushed up from
 * john through harvard (PULL), pulled down through mit. The root's stats
 * show every stream of its tree. */
GST_START_TEST (test_across_the_tree)
{
  DiodeRelay *source = fixture_relay_start (0, "source.pem");
  DiodeRelay *mit = start_linked ("mit.pem", source, NULL, 500);
  DiodeRelay *harvard = start_linked ("harvard.pem", source, NULL, 500);
  DiodeRelay *ben = start_linked ("ben.pem", mit, source, 500);
  DiodeRelay *john = start_linked ("john.pem", harvard, source, 500);
  GstHarness *pub, *view;
  gchar *json = NULL;
  gint64 end;
  guint i;

  g_object_set (source, "stats-interval-ms", 200, NULL);
  pub = publisher (john, "john-cam");
  fail_unless (fixture_wait_publisher (john, "john-cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  /* the root learns of it (john -> harvard -> source) */
  end = deadline_in (WAIT_MS);
  for (;;) {
    g_free (json);
    json = diode_relay_get_stats_json (source);
    if (json && strstr (json, "john-cam"))
      break;
    fail_if (g_get_monotonic_time () > end, "the root never learnt of "
        "'john-cam': %s", json ? json : "(no stats)");
    g_usleep (50 * 1000);
  }
  fail_unless (strstr (json, diode_relay_get_address (john)) != NULL,
      "the root's stats do not show the path through john: %s", json);
  g_free (json);

  view = viewer (ben, "john-cam");
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);
  push (pub, GOP, 2 * GOP);
  for (i = GOP; i < 3 * GOP; i++)
    expect_buffer (view, i);
  /* one copy per hop: john pushes once, the root serves mit once */
  fail_unless_equals_int (diode_relay_count_viewers (source, "john-cam"), 1);
  /* ben's stats: the stream came from john, through harvard, source, mit */
  g_object_set (ben, "stats-interval-ms", 100, NULL);
  {
    gchar *want = g_strdup_printf ("\"path\":[\"%s\",\"%s\",\"%s\",\"%s\"]",
        diode_relay_get_address (john), diode_relay_get_address (harvard),
        diode_relay_get_address (source), diode_relay_get_address (mit));

    end = deadline_in (WAIT_MS);
    json = NULL;
    while (!json || !strstr (json, want)) {
      g_free (json);
      fail_if (g_get_monotonic_time () > end, "ben's path is not %s", want);
      g_usleep (50 * 1000);
      json = diode_relay_get_stats_json (ben);
    }
    g_free (json);
    g_free (want);
  }
  fail_unless_equals_uint64 (diode_relay_get_last_seq (ben, "john-cam"),
      diode_relay_get_last_seq (john, "john-cam"));

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (john);
  g_object_unref (ben);
  g_object_unref (harvard);
  g_object_unref (mit);
  g_object_unref (source);
}

GST_END_TEST;

/* A and B name each other as upstream: the second link is refused as a
 * cycle (104 LOOP), with a log line on both sides, and retries back off
 * (no connection storm). */
GST_START_TEST (test_cycle_refused)
{
  DiodeRelay *b = start_linked ("b.pem", NULL, NULL, 500);
  DiodeRelay *a = start_linked ("a.pem", b, NULL, 500);
  gchar *listen = g_strdup_printf ("127.0.0.1:%u", diode_relay_get_port (b));
  gchar *up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address (a),
      diode_relay_get_port (a));
  gchar *ja = NULL, *jb = NULL;
  GError *err = NULL;

  /* B again, on the same port, now naming A (which accepts B as a child:
   * the refusal must be the cycle, not the list) */
  fixture_relay_conf_add (a, "relays", "children", diode_relay_get_address
      (b));
  diode_relay_stop (b);
  g_object_set (b, "listen", listen, "upstream", up, "stats-interval-ms",
      200, NULL);
  g_object_set (a, "stats-interval-ms", 200, NULL);
  fail_unless (diode_relay_start (b, &err), "%s", err ? err->message : "");
  g_usleep (3 * G_USEC_PER_SEC);
  ja = diode_relay_get_stats_json (a);
  jb = diode_relay_get_stats_json (b);
  fail_unless (ja && jb);
  /* exactly one of them is linked under the other */
  fail_unless ((strstr (ja, UP_LINKED) != NULL) !=
      (strstr (jb, UP_LINKED) != NULL),
      "A: %s\nB: %s", ja, jb);
  /* backoff: a handful of connections at most, not hundreds */
  fail_unless (diode_relay_count_connections (a) <= 3);
  fail_unless (diode_relay_count_connections (b) <= 3);
  g_free (ja);
  g_free (jb);
  g_object_unref (a);
  g_object_unref (b);
  g_free (listen);
  g_free (up);
}

GST_END_TEST;

/* Published at a child, watched at its parent: the parent PULLs it, the
 * child pushes it; the publisher's EOS reaches the parent's viewer and
 * ends the push (the parent closes it, the child lets the stream go). */
GST_START_TEST (test_push_up_and_eos)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 300);
  GstHarness *pub = publisher (leaf, "up");
  GstHarness *view;
  guint i;

  fail_unless (fixture_wait_publisher (leaf, "up", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (root, "up");
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);
  /* the leaf serves one consumer: the push */
  fail_unless_equals_int (diode_relay_count_viewers (leaf, "up"), 1);
  fail_unless (gst_harness_push_event (pub, gst_event_new_eos ()));
  expect_eos (view);
  fail_unless (fixture_wait_viewers (leaf, "up", 0, WAIT_MS),
      "the push did not end after EOS");
  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* A live policy change travels down the tree (POLICY relay -> relay) and
 * the leaf enforces it for its own viewers: bob, watching at the leaf, is
 * cut off when the stream becomes private. */
GST_START_TEST (test_policy_travels)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  RawClient *bob;
  DiodeMsg m = { 0 };
  gint64 end;
  guint next = GOP, code = 0;

  trust (root, leaf);
  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  bob = raw_open (leaf, 0, "bob.pem");
  raw_send_frame (bob, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "links-test/0"));
  raw_expect_next (bob, DIODE_MSG_WELCOME, &m, "bob HELLO");
  diode_msg_clear (&m);
  raw_send_frame (bob, diode_msg_encode_subscribe ("cam", 0, WAIT_MS));
  raw_expect_next (bob, DIODE_MSG_SUBSCRIBE_OK, &m, "bob at the leaf");
  diode_msg_clear (&m);

  g_object_set (pub->element, "access", DIODE_ACCESS_PRIVATE, NULL);
  end = deadline_in (WAIT_MS);
  while (code == 0) {
    fail_if (g_get_monotonic_time () > end, "bob was not cut off at the leaf");
    push (pub, next++, 1);
    while (raw_next (bob, &m, 50) == RAW_READ_MSG) {
      if (m.type == DIODE_MSG_ERROR) {
        code = m.error_code;
        fail_unless (strstr (m.error_text, "private") != NULL, "%s",
            m.error_text);
        diode_msg_clear (&m);
        break;
      }
      diode_msg_clear (&m);
    }
  }
  fail_unless_equals_int (code, DIODE_ERR_NOT_AUTHORIZED);
  raw_free (bob, FALSE);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* The relay end of relay links, by hand (a raw role-RELAY client): a
 * SUBSCRIBE whose path holds the relay is a loop (104); a PUBLISH no PULL
 * asked for is refused (102); ANNOUNCEs are bounded by --max-announced
 * and one whose path holds the relay is dropped. */
GST_START_TEST (test_relay_end_rules)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  RawClient *c = raw_open (root, 0, "fake-relay.pem");
  const gchar *loop[] = { diode_relay_get_address (root), NULL };
  const gchar *own[] = { NULL, NULL };
  const gchar *own_loop[] = { diode_relay_get_address (root), NULL, NULL };
  gchar *json = NULL;
  gint64 end;
  DiodeMsg m = { 0 };
  DiodeIdentity *id;
  gchar *key = g_build_filename (fixture_config_dir (), "fake-relay.pem",
      NULL);

  id = diode_identity_load_or_create (key, NULL);
  own[0] = diode_identity_get_address (id);
  own_loop[1] = own[0];
  g_object_set (root, "max-announced", 2, "stats-interval-ms", 100, NULL);
  fixture_relay_conf_add (root, "relays", "children", own[0]);
  raw_send_frame (c, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY,
          "links-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "relay HELLO");
  fail_unless_equals_int (m.version, 2);
  diode_msg_clear (&m);

  raw_send_frame (c, diode_msg_encode_subscribe_relay ("x", 0, 0, NULL,
          loop));
  raw_expect_error_says (c, DIODE_ERR_LOOP, "SUBSCRIBE through the relay",
      "cycle", NULL);
  raw_send_frame (c, diode_msg_encode_publish_relay ("y",
          DIODE_ACCESS_PUBLIC, NULL, NULL, NULL, own));
  raw_expect_error_says (c, DIODE_ERR_NOT_AUTHORIZED, "PUBLISH unasked",
      "no PULL", NULL);

  /* a control link (LINK_OK not read: frames are handled in order) */
  raw_send_frame (c, diode_msg_encode_link ());
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "a1", NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, own));
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "looped", NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, own_loop));
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "a2", NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, own));
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "a3", NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, own));
  end = deadline_in (WAIT_MS);
  while (!json || !strstr (json, "\"a2\"")) {
    g_free (json);
    fail_if (g_get_monotonic_time () > end, "announcements never in stats");
    g_usleep (50 * 1000);
    json = diode_relay_get_stats_json (root);
  }
  g_free (json);
  g_usleep (300 * 1000);
  json = diode_relay_get_stats_json (root);
  fail_unless (strstr (json, "\"a1\"") != NULL, "%s", json);
  fail_unless (strstr (json, "\"a3\"") == NULL, "over --max-announced: %s",
      json);
  fail_unless (strstr (json, "\"looped\"") == NULL, "a loop kept: %s", json);
  g_free (json);

  raw_free (c, FALSE);
  diode_identity_unref (id);
  g_free (key);
  g_object_unref (root);
}

GST_END_TEST;

/* A name pulled from the network belongs to its owner: another identity
 * publishing it at the leaf is refused. */
GST_START_TEST (test_pulled_name_owned)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  RawClient *mallory;
  DiodeMsg m = { 0 };

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  expect_buffer (view, 0);
  mallory = raw_open (leaf, 0, "mallory.pem");
  raw_send_frame (mallory, diode_msg_encode_hello (1, 1,
          DIODE_ROLE_PUBLISHER, "links-test/0"));
  raw_expect_next (mallory, DIODE_MSG_WELCOME, &m, "mallory HELLO");
  diode_msg_clear (&m);
  raw_send_frame (mallory, diode_msg_encode_publish ("cam"));
  raw_expect_error_says (mallory, DIODE_ERR_NOT_AUTHORIZED, "mallory",
      "owned by", "elsewhere", NULL);
  raw_free (mallory, FALSE);
  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* The owner publishing a pulled name at the leaf takes it over there: the
 * pull closes, the sequence goes on. */
GST_START_TEST (test_owner_takes_over_pulled_name)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view, *pub2;
  guint64 before;

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  expect_buffer (view, 0);
  fail_unless (fixture_wait_last_seq (leaf, "cam", GOP, WAIT_MS));
  before = diode_relay_get_last_seq (leaf, "cam");
  /* same identity (the fixture's): the owner */
  pub2 = publisher (leaf, "cam");
  fail_unless (fixture_wait_publisher (leaf, "cam", TRUE, WAIT_MS));
  fail_unless (fixture_wait_viewers (root, "cam", 0, WAIT_MS),
      "the pull did not close when the owner published at the leaf");
  push (pub2, GOP, GOP);
  fail_unless (fixture_wait_last_seq (leaf, "cam", before + GOP, WAIT_MS),
      "the sequence did not go on (last %" G_GUINT64_FORMAT ")",
      diode_relay_get_last_seq (leaf, "cam"));
  gst_harness_teardown (pub2);
  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* An upstream named by host name (resolved off the I/O thread, every
 * address tried) and without a pin: trusted on first use in the
 * known-relays file; a different relay answering there later is refused
 * with the elements' message. */
GST_START_TEST (test_upstream_by_name_tofu)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  gchar *known = g_build_filename (fixture_config_dir (), "leaf-known", NULL);
  gchar *key = g_build_filename (fixture_config_dir (), "leaf.pem", NULL);
  gchar *up = g_strdup_printf ("localhost:%u", diode_relay_get_port (root));
  gchar *listen = g_strdup_printf ("127.0.0.1:%u",
      diode_relay_get_port (root));
  gchar *text = NULL, *root2_key;
  DiodeRelay *leaf = diode_relay_new ("127.0.0.1:0", key);
  GstHarness *pub, *view;
  GError *err = NULL;
  gint64 end;

  g_unlink (known);
  {
    gchar *self = fixture_key_address ("leaf.pem");

    fixture_relay_conf_add (root, "relays", "children", self);
    g_free (self);
  }
  g_object_set (leaf, "upstream", up, "known-relays", known, NULL);
  fail_unless (diode_relay_start (leaf, &err));
  pub = publisher (root, "cam");
  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  expect_buffer (view, 0);
  fail_unless (g_file_get_contents (known, &text, NULL, NULL));
  fail_unless (strstr (text, diode_relay_get_address (root)) != NULL, "%s",
      text);
  g_free (text);
  gst_harness_teardown (view);
  gst_harness_teardown (pub);

  /* another relay on the same host:port: refused, the link never comes up */
  diode_relay_stop (root);
  root2_key = g_build_filename (fixture_config_dir (), "impostor.pem", NULL);
  g_object_set (root, "listen", listen, "identity", root2_key, NULL);
  fail_unless (diode_relay_start (root, &err), "%s", err ? err->message : "");
  g_object_set (leaf, "stats-interval-ms", 100, NULL);
  end = deadline_in (3000);
  while (g_get_monotonic_time () < end) {
    gchar *json = diode_relay_get_stats_json (leaf);

    fail_if (json && strstr (json, "\"state\":\"linked\""),
        "linked to an impostor: %s", json);
    g_free (json);
    g_usleep (100 * 1000);
  }
  g_object_unref (leaf);
  g_object_unref (root);
  g_free (root2_key);
  g_free (listen);
  g_free (up);
  g_free (key);
  g_free (known);
}

GST_END_TEST;

/* A trusted downstream relay's pulls do not use up its address's share of
 * streams (--max-streams-per-address): a child carrying more streams than
 * that still gets them all. */
GST_START_TEST (test_trusted_relay_stream_share)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *va, *vb;

  g_object_set (root, "max-streams-per-address", 1, NULL);
  trust (root, leaf);
  /* nothing published yet: each pull makes the root hold a waiting name */
  va = viewer (leaf, "a");
  vb = viewer (leaf, "b");
  fail_unless (fixture_wait_waiting (root, "a", 1, WAIT_MS));
  fail_unless (fixture_wait_waiting (root, "b", 1, WAIT_MS),
      "the second pull was refused by the per-address share");
  gst_harness_teardown (va);
  gst_harness_teardown (vb);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

/* A pin that does not match: the link is refused, nothing is pulled, and
 * the relay keeps trying at a bounded rate (no storm). */
GST_START_TEST (test_wrong_pin_refused)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  gchar *path = g_build_filename (fixture_config_dir (), "leaf.pem", NULL);
  DiodeRelay *leaf = diode_relay_new ("127.0.0.1:0", path);
  gchar *up = g_strdup_printf ("0x%040d@127.0.0.1:%u", 7,
      diode_relay_get_port (root));
  GError *err = NULL;

  g_object_set (leaf, "upstream", up, NULL);
  fail_unless (diode_relay_start (leaf, &err));
  /* 2 s: at most a handful of attempts (backoff from 500 ms) */
  g_usleep (2 * G_USEC_PER_SEC);
  fail_unless (diode_relay_count_connections (root) <= 1,
      "root holds %u connections", diode_relay_count_connections (root));
  g_object_unref (leaf);
  g_object_unref (root);
  g_free (up);
  g_free (path);
}

GST_END_TEST;

/* Bad --upstream / --fallback text is refused at start, saying why. */
GST_START_TEST (test_bad_upstream)
{
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", NULL);
  const gchar *fb[] = { "x:1", NULL };
  GError *err = NULL;

  g_object_set (r, "upstream", "host:99999", NULL);
  fail_if (diode_relay_start (r, &err));
  fail_unless (err && strstr (err->message, "--upstream"), "%s",
      err ? err->message : "no error");
  g_clear_error (&err);
  g_object_set (r, "upstream", NULL, "fallbacks", fb, NULL);
  fail_if (diode_relay_start (r, &err));
  fail_unless (err && strstr (err->message, "--fallback"));
  g_clear_error (&err);
  g_object_unref (r);
}

GST_END_TEST;

/* Review D4: the control link's `streams` counts the distinct names
 * announced over it, not ANNOUNCE messages: two policy changes (private,
 * public again) announce the one stream again (3 AVAILABLE), and its EOS
 * withdraws it. */
GST_START_TEST (test_control_streams_counts_names)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub;
  gint64 end, n;
  gchar *json = NULL;

  g_object_set (leaf, "stats-interval-ms", 50, NULL);
  g_object_set (root, "stats-interval-ms", 50, NULL);
  trust (root, leaf);
  end = deadline_in (WAIT_MS);
  while (link_stat (leaf, "upstream", NULL, "streams") < 0)
    fail_if (g_get_monotonic_time () > end, "the leaf never linked");
  pub = publisher (leaf, "cam");
  fail_unless (fixture_wait_publisher (leaf, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  g_object_set (pub->element, "access", DIODE_ACCESS_PRIVATE, NULL);
  push (pub, GOP, 1);
  /* the root heard it is private, then public again */
  end = deadline_in (WAIT_MS);
  while (!json || !strstr (json, "\"access\":\"private\"")) {
    fail_if (g_get_monotonic_time () > end, "the root never heard 'cam' is "
        "private: %s", json ? json : "");
    g_free (json);
    g_usleep (20 * 1000);
    json = diode_relay_get_stats_json (root);
  }
  g_object_set (pub->element, "access", DIODE_ACCESS_PUBLIC, NULL);
  push (pub, GOP + 1, 1);
  while (strstr (json, "\"access\":\"private\"")) {
    fail_if (g_get_monotonic_time () > end, "the root never heard 'cam' is "
        "public again: %s", json);
    g_free (json);
    g_usleep (20 * 1000);
    json = diode_relay_get_stats_json (root);
  }
  g_free (json);
  n = link_stat (leaf, "upstream", NULL, "streams");
  fail_unless (n == 1, "the control link counts %" G_GINT64_FORMAT
      " streams for one stream announced 3 times", n);

  /* EOS: withdrawn, no stream left */
  fail_unless (gst_harness_push_event (pub, gst_event_new_eos ()));
  end = deadline_in (WAIT_MS);
  while ((n = link_stat (leaf, "upstream", NULL, "streams")) != 0)
    fail_if (g_get_monotonic_time () > end, "still %" G_GINT64_FORMAT
        " streams after 'cam' ended", n);

  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
}

GST_END_TEST;

static Suite *
links_suite (void)
{
  Suite *s = suite_create ("links");
  TCase *tc = tcase_create ("links");

  fixture_config_dir ();
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_bad_upstream);
  tcase_add_test (tc, test_wrong_pin_refused);
  tcase_add_test (tc, test_pull_up);
  tcase_add_test (tc, test_pull_joins_at_the_roots_live_edge);
  tcase_add_test (tc, test_one_pull_per_stream);
  tcase_add_test (tc, test_private_needs_trust);
  tcase_add_test (tc, test_across_the_tree);
  tcase_add_test (tc, test_control_streams_counts_names);
  tcase_add_test (tc, test_push_up_and_eos);
  tcase_add_test (tc, test_policy_travels);
  tcase_add_test (tc, test_relay_end_rules);
  tcase_add_test (tc, test_pulled_name_owned);
  tcase_add_test (tc, test_owner_takes_over_pulled_name);
  tcase_add_test (tc, test_upstream_by_name_tofu);
  tcase_add_test (tc, test_trusted_relay_stream_share);
  tcase_add_test (tc, test_cycle_refused);
  return s;
}

GST_CHECK_MAIN (links);
