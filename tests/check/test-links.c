/* gst-diode — relays linked into a tree: pull up, fail-over, linger
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays on 127.0.0.1 linked by --upstream/--fallback
 * (properties "upstream", "fallbacks"): a stream published at the root is
 * watched at a leaf through ONE pull per stream, with the same seqs and
 * bytes; when the leaf's upstream goes away mid-stream the pull moves to
 * the fallback and the leaf's viewer sees strictly consecutive buffers.
 * Real TLS, real sockets; every wait is bounded.
 *
 * The elements here share one identity (the fixture's config dir), so the
 * viewer is also the stream's owner: it may watch whatever policy reaches
 * the leaf.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <signal.h>
#include <string.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-identity.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define GOP      10
#define WAIT_MS  10000

/* A relay that links to @upstream (and @fallback, may be NULL), each
 * pinned to the relay's address. */
static DiodeRelay *
start_linked (const gchar * key, DiodeRelay * upstream, DiodeRelay * fallback,
    guint linger_ms)
{
  gchar *path = g_build_filename (fixture_config_dir (), key, NULL);
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  gchar *up = NULL;
  gchar *fb[2] = { NULL, NULL };
  GError *err = NULL;

  if (upstream)
    up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (upstream), diode_relay_get_port (upstream));
  if (fallback)
    fb[0] = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (fallback), diode_relay_get_port (fallback));
  g_object_set (r, "upstream", up, "fallbacks", fb, "link-linger", linger_ms,
      NULL);
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (up);
  g_free (fb[0]);
  g_free (path);
  return r;
}

static GstHarness *
publisher (DiodeRelay * relay, const gchar * stream)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_harness_play (h);
  g_free (hp);
  return h;
}

static GstHarness *
viewer (DiodeRelay * relay, const gchar * stream)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "timeout", WAIT_MS, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (h);
  g_free (hp);
  return h;
}

static void
push (GstHarness * pub, guint from, guint n)
{
  guint i;

  for (i = from; i < from + n; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, 500 + i % 700, GOP)), GST_FLOW_OK);
}

/* The next buffer from @view must be buffer @i, byte for byte. */
static void
expect_buffer (GstHarness * view, guint i)
{
  gint64 end = deadline_in (WAIT_MS);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (view))) {
    fail_if (g_get_monotonic_time () > end, "buffer %u did not arrive "
        "within %u ms", i, WAIT_MS);
    g_usleep (2000);
  }
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
  fail_unless (fixture_payload_matches (b, i, 500 + i % 700),
      "payload of buffer %u differs", i);
  gst_buffer_unref (b);
}

/* @r trusts @child with protected and private streams ([relays] trusted):
 * the policy of a stream pulled from an upstream that sends none is
 * private (access control fails closed). */
static void
trust (DiodeRelay * r, DiodeRelay * child)
{
  gchar *path = g_build_filename (fixture_config_dir (), "trust.conf", NULL);
  gchar *text = g_strdup_printf ("[relays]\ntrusted=%s\n",
      diode_relay_get_address (child));
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  g_object_set (r, "config", path, NULL);
  fail_unless (diode_relay_reload_config (r, &err), "%s", err ?
      err->message : "");
  g_free (text);
  g_free (path);
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

/* root <- mid <- leaf (fallback root). The mid relay goes away mid-stream:
 * the leaf's viewer gets every buffer, in order, none missing. */
GST_START_TEST (test_failover_no_gap)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *mid = start_linked ("mid.pem", root, NULL, 500);
  DiodeRelay *leaf = start_linked ("leaf.pem", mid, root, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  guint i;

  /* public: relays need no trust for it (the policy travels with it) */

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  fail_unless (fixture_wait_viewers (mid, "cam", 1, WAIT_MS),
      "the leaf never pulled 'cam' through mid");
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);
  push (pub, GOP, GOP);
  for (i = GOP; i < 2 * GOP; i++)
    expect_buffer (view, i);

  /* mid disappears; the root goes on publishing meanwhile */
  diode_relay_stop (mid);
  push (pub, 2 * GOP, 2 * GOP);
  /* the leaf now pulls from the root: two subscribers there (mid's is
   * gone, so one: the leaf) */
  fail_unless (fixture_wait_viewers (root, "cam", 1, WAIT_MS));
  for (i = 2 * GOP; i < 4 * GOP; i++)
    expect_buffer (view, i);
  push (pub, 4 * GOP, GOP);
  for (i = 4 * GOP; i < 5 * GOP; i++)
    expect_buffer (view, i);
  fail_unless_equals_uint64 (diode_relay_get_last_seq (leaf, "cam"),
      diode_relay_get_last_seq (root, "cam"));

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (mid);
  g_object_unref (root);
}

GST_END_TEST;

/* The same with mid as a diode-relay process that freezes (SIGSTOP): no
 * EOF, no reset, only silence. The leaf notices by keepalive (3 x 800 ms)
 * and moves to the fallback; its viewer gets every buffer, in order. */
GST_START_TEST (test_failover_frozen_upstream)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  gchar *leaf_key = g_build_filename (fixture_config_dir (), "leaf.pem",
      NULL);
  DiodeIdentity *leaf_id = diode_identity_load_or_create (leaf_key, NULL);
  gchar *conf = g_build_filename (fixture_config_dir (), "mid.conf", NULL);
  gchar *text = g_strdup_printf ("[relays]\ntrusted=%s\n",
      diode_identity_get_address (leaf_id));
  gchar *up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
      (root), diode_relay_get_port (root));
  const gchar *args[] = { "--upstream", up, "--config", conf, NULL };
  FixtureRelayProc *mid;
  gchar *mid_ep, *root_ep;
  const gchar *fb[2] = { NULL, NULL };
  DiodeRelay *leaf;
  GstHarness *pub, *view;
  GError *err = NULL;
  gint64 frozen_at, gap_ms;
  guint i, next;

  fail_unless (g_file_set_contents (conf, text, -1, NULL));
  mid = fixture_relay_proc_start (DIODE_RELAY_PATH, args);
  mid_ep = g_strdup_printf ("%s@127.0.0.1:%u", mid->address, mid->port);
  root_ep = up;
  fb[0] = root_ep;
  leaf = diode_relay_new ("127.0.0.1:0", leaf_key);
  g_object_set (leaf, "upstream", mid_ep, "fallbacks", fb, NULL);
  fail_unless (diode_relay_start (leaf, &err));

  pub = publisher (root, "cam");
  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);

  kill (mid->pid, SIGSTOP);
  frozen_at = g_get_monotonic_time ();
  /* a live camera: a buffer every 33 ms while the leaf notices */
  next = GOP;
  for (i = 0; i < 6 * 30; i++) {
    GstBuffer *b;

    push (pub, next++, 1);
    g_usleep (33 * 1000);
    if ((b = gst_harness_try_pull (view))) {
      fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), GOP);
      gst_buffer_unref (b);
      break;
    }
  }
  gap_ms = ms_since (frozen_at);
  GST_INFO ("first buffer through the fallback %" G_GINT64_FORMAT " ms "
      "after the upstream froze", gap_ms);
  g_printerr ("fail-over after a freeze: first buffer via the fallback "
      "after %" G_GINT64_FORMAT " ms\n", gap_ms);
  fail_unless (i < 6 * 30, "no buffer through the fallback within 6 s");
  for (i = GOP + 1; i < next; i++)
    expect_buffer (view, i);

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  fixture_relay_proc_stop (mid);
  g_object_unref (root);
  diode_identity_unref (leaf_id);
  g_free (mid_ep);
  g_free (up);
  g_free (conf);
  g_free (text);
  g_free (leaf_key);
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
  tcase_add_test (tc, test_one_pull_per_stream);
  tcase_add_test (tc, test_failover_no_gap);
  tcase_add_test (tc, test_failover_frozen_upstream);
  tcase_add_test (tc, test_private_needs_trust);
  return s;
}

GST_CHECK_MAIN (links);
