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
#include <glib/gstdio.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-identity.h"

#include <json-glib/json-glib.h>

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
  gchar *self = fixture_key_address (key);
  GError *err = NULL;

  /* its parents accept it as a child ([relays] children) */
  if (upstream)
    fixture_relay_conf_add (upstream, "relays", "children", self);
  if (fallback)
    fixture_relay_conf_add (fallback, "relays", "children", self);
  g_free (self);
  if (upstream)
    up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (upstream), diode_relay_get_port (upstream));
  if (fallback)
    fb[0] = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (fallback), diode_relay_get_port (fallback));
  g_object_set (r, "upstream", up, "fallbacks", fb, "link-linger", linger_ms,
      "failback-delay", 500, NULL);
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
  fixture_relay_conf_add (r, "relays", "trusted",
      diode_relay_get_address (child));
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
  /* one fail-over in the leaf's stats, whichever of its pull and control
   * link noticed first */
  g_object_set (leaf, "stats-interval-ms", 100, NULL);
  {
    gint64 end = deadline_in (WAIT_MS);
    gchar *json = NULL;

    while (!json || !strstr (json, "\"failovers\":1,")) {
      fail_if (g_get_monotonic_time () > end, "no fail-over counted: %s",
          json ? json : "");
      g_free (json);
      g_usleep (50 * 1000);
      json = diode_relay_get_stats_json (leaf);
    }
    g_free (json);
  }

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
  gchar *text = g_strdup_printf ("[relays]\ntrusted=%s\nchildren=%s\n",
      diode_identity_get_address (leaf_id),
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
  /* mid's address is its process's: the root takes any relay as a child
   * (the leaf too, when it falls back to it) */
  fixture_relay_conf_add (root, "relays", "children", "*");
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

#define UP_LINKED "\"kind\":\"upstream\",\"state\":\"linked\""

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

/* Fail-back: mid goes away, the leaf moves to the root; mid comes back
 * (same port, same identity): after --failback-delay the leaf moves back
 * to it, at a keyframe. The viewer sees every buffer, in order, across
 * both moves. */
GST_START_TEST (test_failback_no_gap)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *mid = start_linked ("mid.pem", root, NULL, 500);
  DiodeRelay *leaf;
  gchar *listen = g_strdup_printf ("127.0.0.1:%u", diode_relay_get_port (mid));
  GstHarness *pub, *view;
  GError *err = NULL;
  guint i, pushed = 0, pulled = 0;
  gint64 end;

  leaf = start_linked ("leaf.pem", mid, root, 500);
  pub = publisher (root, "cam");
  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  pushed = GOP;
  view = viewer (leaf, "cam");
  fail_unless (fixture_wait_viewers (mid, "cam", 1, WAIT_MS));
  for (; pulled < pushed; pulled++)
    expect_buffer (view, pulled);

  diode_relay_stop (mid);
  push (pub, pushed, GOP);
  pushed += GOP;
  for (; pulled < pushed; pulled++)
    expect_buffer (view, pulled);

  /* mid is back; the leaf probes it and moves back after 500 ms */
  g_object_set (mid, "listen", listen, NULL);
  fail_unless (diode_relay_start (mid, &err), "%s", err ? err->message : "");
  end = deadline_in (WAIT_MS);
  while (diode_relay_count_viewers (mid, "cam") < 1
      || diode_relay_count_viewers (root, "cam") != 1) {
    fail_if (g_get_monotonic_time () > end, "the leaf did not move back "
        "(mid %u, root %u subscribers)", diode_relay_count_viewers (mid,
            "cam"), diode_relay_count_viewers (root, "cam"));
    /* a live camera meanwhile, keyframe every GOP */
    push (pub, pushed++, 1);
    g_usleep (33 * 1000);
  }
  for (i = 0; i < GOP; i++)
    push (pub, pushed++, 1);
  for (; pulled < pushed; pulled++)
    expect_buffer (view, pulled);
  fail_unless_equals_uint64 (diode_relay_get_last_seq (leaf, "cam"),
      diode_relay_get_last_seq (root, "cam"));

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (mid);
  g_object_unref (root);
  g_free (listen);
}

GST_END_TEST;

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

/* A viewer moving to a relay that does not carry the stream yet, resuming
 * at seq N: the relay pulls from N, not from the latest keyframe, so the
 * viewer sees no gap. */
GST_START_TEST (test_resume_at_a_new_relay)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  RawClient *v;
  DiodeMsg m = { 0 };

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, 2 * GOP);
  fail_unless (fixture_wait_last_seq (root, "cam", 2 * GOP, WAIT_MS));
  v = raw_open (leaf, 0, "mover.pem");
  raw_send_frame (v, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "links-test/0"));
  raw_expect_next (v, DIODE_MSG_WELCOME, &m, "HELLO");
  diode_msg_clear (&m);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 3, WAIT_MS));
  /* attached once a keyframe reaches the leaf */
  push (pub, 2 * GOP, GOP);
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "resume at the leaf");
  fail_unless_equals_uint64 (m.seq, 3);
  diode_msg_clear (&m);
  do {
    diode_msg_clear (&m);
    fail_unless (raw_next (v, &m, WAIT_MS) == RAW_READ_MSG);
  } while (m.type == DIODE_MSG_CAPS);
  fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
  fail_unless_equals_uint64 (m.seq, 3);
  diode_msg_clear (&m);
  raw_free (v, FALSE);
  gst_harness_teardown (pub);
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

/* Issue 9 item 2 (review D3): a caught-up viewer with relay=A,B moving
 * from A to B, both pulling the stream from the root, resumes at the next
 * seq: B, which holds every frame the viewer had, attaches it at the tail
 * (not at its latest keyframe, a repeated GOP). Strictly consecutive
 * offsets, no duplicate, no gap. */
GST_START_TEST (test_viewer_moves_between_relays)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *a = start_linked ("a.pem", root, NULL, 500);
  DiodeRelay *b = start_linked ("b.pem", root, NULL, 500);
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  gchar *list = g_strdup_printf ("%s,%s", ha, hb);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *other, *mover;
  GstElement *e;
  GstStructure *st = NULL;
  guint64 dups = G_MAXUINT64;
  guint i, n = 2 * GOP;

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, n);
  fail_unless (fixture_wait_last_seq (root, "cam", n, WAIT_MS));
  /* B carries the stream for a viewer of its own */
  other = viewer (b, "cam");
  e = gst_element_factory_make ("diodesrc", NULL);
  g_object_set (e, "relay", list, "stream", "cam", "timeout", WAIT_MS, NULL);
  mover = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (mover);
  fail_unless (fixture_wait_viewers (a, "cam", 1, WAIT_MS));
  fail_unless (fixture_wait_viewers (b, "cam", 1, WAIT_MS));
  /* both joined at the latest keyframe */
  for (i = GOP; i < n; i++) {
    expect_buffer (mover, i);
    expect_buffer (other, i);
  }
  push (pub, n, 5);
  for (i = n; i < n + 5; i++) {
    expect_buffer (mover, i);
    expect_buffer (other, i);
  }
  n += 5;
  fail_unless (fixture_wait_last_seq (b, "cam", n, WAIT_MS));

  /* A goes: the viewer, caught up, resumes at B at seq n + 1, which B does
   * not hold yet (n frames published, seqs 1..n) */
  diode_relay_stop (a);
  fail_unless (fixture_wait_viewers (b, "cam", 2, WAIT_MS),
      "the viewer did not move to B");
  push (pub, n, 2 * GOP);
  for (i = n; i < n + 2 * GOP; i++)
    expect_buffer (mover, i);
  fail_unless (gst_harness_try_pull (mover) == NULL);
  g_object_get (mover->element, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "duplicates", &dups));
  fail_unless_equals_uint64 (dups, 0);
  gst_structure_free (st);

  gst_harness_teardown (mover);
  gst_harness_teardown (other);
  gst_harness_teardown (pub);
  g_object_unref (a);
  g_object_unref (b);
  g_object_unref (root);
  g_free (list);
  g_free (ha);
  g_free (hb);
}

GST_END_TEST;

/* A fresh stats snapshot of @r (stats-interval-ms set): the JSON root. */
static JsonNode *
fresh_stats (DiodeRelay * r)
{
  gchar *old = diode_relay_get_stats_json (r), *json = NULL;
  gint64 end = deadline_in (WAIT_MS);
  JsonNode *root;

  while (!(json = diode_relay_get_stats_json (r))
      || g_strcmp0 (json, old) == 0) {
    fail_if (g_get_monotonic_time () > end, "no new stats snapshot");
    g_free (json);
    g_usleep (20 * 1000);
  }
  g_free (old);
  root = json_from_string (json, NULL);
  fail_unless (root != NULL);
  g_free (json);
  return root;
}

/* Bytes the relay sent on its (only) subscriber connection for @stream,
 * from a stats snapshot taken after this call (stats-interval-ms set);
 * -1 if none. */
static gint64
subscriber_bytes (DiodeRelay * r, const gchar * stream)
{
  JsonNode *root = fresh_stats (r);
  JsonArray *streams;
  gint64 bytes = -1;
  guint i;

  streams = json_object_get_array_member (json_node_get_object (root),
      "streams");
  for (i = 0; i < json_array_get_length (streams); i++) {
    JsonObject *o = json_array_get_object_element (streams, i);
    JsonArray *v = json_object_get_array_member (o, "viewers");

    if (g_strcmp0 (json_object_get_string_member (o, "name"), stream) == 0
        && json_array_get_length (v) == 1)
      bytes = json_object_get_int_member (json_array_get_object_element (v,
              0), "bytes");
  }
  json_node_unref (root);
  return bytes;
}

/* Review D3: a pull that fails over resumes at last + 1 without fetching
 * a GOP again. mid dies between frames; the leaf, caught up at seq 2 x GOP
 * (keyframes 1 and GOP + 1), subscribes at the root with start_seq
 * 2 x GOP + 1: the root attaches it at the tail and sends it CAPS and the
 * next frame only, not the GOP from its latest keyframe (~5 KB here). */
GST_START_TEST (test_failover_pull_no_refetch)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *mid = start_linked ("mid.pem", root, NULL, 500);
  DiodeRelay *leaf = start_linked ("leaf.pem", mid, root, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  gint64 bytes;
  guint i;

  g_object_set (root, "stats-interval-ms", 100, NULL);
  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  fail_unless (fixture_wait_viewers (mid, "cam", 1, WAIT_MS));
  for (i = 0; i < GOP; i++)
    expect_buffer (view, i);
  push (pub, GOP, GOP);
  for (i = GOP; i < 2 * GOP; i++)
    expect_buffer (view, i);
  fail_unless (fixture_wait_last_seq (leaf, "cam", 2 * GOP, WAIT_MS));

  diode_relay_stop (mid);
  fail_unless (fixture_wait_viewers (root, "cam", 1, WAIT_MS));
  push (pub, 2 * GOP, 1);
  expect_buffer (view, 2 * GOP);
  /* everything before that frame went out on the new pull already */
  bytes = subscriber_bytes (root, "cam");
  fail_unless (bytes > 0, "no subscriber at the root");
  fail_unless (bytes < 3000, "the root sent %" G_GINT64_FORMAT " bytes to "
      "the leaf's new pull for one new frame: it fetched a GOP again",
      bytes);
  fail_unless (gst_harness_try_pull (view) == NULL);

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (mid);
  g_object_unref (root);
}

GST_END_TEST;

/* Review D3 (c): a viewer resuming at a relay that is behind it gets
 * first_seq below its start_seq (docs/protocol.md section 8) and the
 * frames it had already: diodesrc drops them (counted in `duplicates`)
 * instead of taking them for a new run. Two unlinked relays each fed the
 * same frames by a publisher of their own, B a few frames behind A. */
GST_START_TEST (test_viewer_drops_overlap_from_relay_behind)
{
  DiodeRelay *a = fixture_relay_start (0, "a.pem");
  DiodeRelay *b = fixture_relay_start (0, "b.pem");
  gchar *ha = diode_relay_get_hostport (a), *hb = diode_relay_get_hostport (b);
  gchar *list = g_strdup_printf ("%s,%s", ha, hb);
  GstHarness *pa = publisher (a, "cam"), *pb = publisher (b, "cam");
  GstHarness *mover;
  GstElement *e;
  GstStructure *st = NULL;
  guint64 dups = 0;
  guint i, n = 3 * GOP;

  fail_unless (fixture_wait_publisher (a, "cam", TRUE, WAIT_MS));
  fail_unless (fixture_wait_publisher (b, "cam", TRUE, WAIT_MS));
  push (pa, 0, n);
  push (pb, 0, n - 5);
  fail_unless (fixture_wait_last_seq (a, "cam", n, WAIT_MS));
  fail_unless (fixture_wait_last_seq (b, "cam", n - 5, WAIT_MS));
  e = gst_element_factory_make ("diodesrc", NULL);
  g_object_set (e, "relay", list, "stream", "cam", "timeout", WAIT_MS, NULL);
  mover = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (mover);
  for (i = 2 * GOP; i < n; i++)
    expect_buffer (mover, i);

  /* A goes: the viewer asks B for seq n + 1; B is at n - 5, live: it
   * starts at n - 4, and the viewer drops the 5 it had */
  diode_relay_stop (a);
  fail_unless (fixture_wait_viewers (b, "cam", 1, WAIT_MS),
      "the viewer did not move to B");
  push (pb, n - 5, 5 + GOP);
  for (i = n; i < n + GOP; i++)
    expect_buffer (mover, i);
  fail_unless (gst_harness_try_pull (mover) == NULL);
  g_object_get (mover->element, "stats", &st, NULL);
  fail_unless (gst_structure_get_uint64 (st, "duplicates", &dups));
  fail_unless_equals_uint64 (dups, 5);
  gst_structure_free (st);

  gst_harness_teardown (mover);
  gst_harness_teardown (pa);
  gst_harness_teardown (pb);
  g_object_unref (a);
  g_object_unref (b);
  g_free (list);
  g_free (ha);
  g_free (hb);
}

GST_END_TEST;

/* Member @member of @r's link of kind @kind (to @peer if not NULL), from
 * a fresh snapshot; -1 if there is no such link. */
static gint64
link_stat (DiodeRelay * r, const gchar * kind, const gchar * peer,
    const gchar * member)
{
  JsonNode *root = fresh_stats (r);
  JsonArray *links = json_object_get_array_member (json_node_get_object
      (root), "links");
  gint64 v = -1;
  guint i;

  for (i = 0; i < json_array_get_length (links); i++) {
    JsonObject *o = json_array_get_object_element (links, i);

    if (!g_strcmp0 (json_object_get_string_member (o, "kind"), kind)
        && (!peer || !g_strcmp0 (json_object_get_string_member (o, "peer"),
                peer)))
      v = json_object_get_int_member (o, member);
  }
  json_node_unref (root);
  return v;
}

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

/* Review D5: fail-over counts are kept per endpoint: the leaf fails over
 * from mid to the root, then back to mid (its probe is promoted to be the
 * control link): the link to mid still shows that fail-over. */
GST_START_TEST (test_failover_count_survives_failback)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *mid = start_linked ("mid.pem", root, NULL, 500);
  DiodeRelay *leaf = start_linked ("leaf.pem", mid, root, 500);
  gchar *hm = diode_relay_get_hostport (mid);
  gchar *listen = g_strdup_printf ("127.0.0.1:%u", diode_relay_get_port (mid));
  GError *err = NULL;
  gint64 end, n = -1;

  g_object_set (leaf, "stats-interval-ms", 50, NULL);
  end = deadline_in (WAIT_MS);
  while (link_stat (leaf, "upstream", hm, "failovers") != 0)
    fail_if (g_get_monotonic_time () > end, "the leaf never linked to mid");
  diode_relay_stop (mid);
  end = deadline_in (WAIT_MS);
  while (link_stat (leaf, "fallback", NULL, "streams") < 0)
    fail_if (g_get_monotonic_time () > end, "no fail-over to the root");
  g_object_set (mid, "listen", listen, NULL);
  fail_unless (diode_relay_start (mid, &err), "%s", err ? err->message : "");
  /* fail-back after 500 ms linked; the count of the move away from mid
   * is mid's */
  end = deadline_in (WAIT_MS);
  while ((n = link_stat (leaf, "upstream", hm, "failovers")) != 1
      || link_stat (leaf, "fallback", NULL, "failovers") != -1)
    fail_if (g_get_monotonic_time () > end, "after the fail-back the link "
        "to mid shows %" G_GINT64_FORMAT " fail-overs (want 1)", n);

  g_object_unref (leaf);
  g_object_unref (mid);
  g_object_unref (root);
  g_free (listen);
  g_free (hm);
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
  tcase_add_test (tc, test_across_the_tree);
  tcase_add_test (tc, test_failback_no_gap);
  tcase_add_test (tc, test_viewer_moves_between_relays);
  tcase_add_test (tc, test_failover_pull_no_refetch);
  tcase_add_test (tc, test_viewer_drops_overlap_from_relay_behind);
  tcase_add_test (tc, test_control_streams_counts_names);
  tcase_add_test (tc, test_failover_count_survives_failback);
  tcase_add_test (tc, test_push_up_and_eos);
  tcase_add_test (tc, test_policy_travels);
  tcase_add_test (tc, test_relay_end_rules);
  tcase_add_test (tc, test_pulled_name_owned);
  tcase_add_test (tc, test_resume_at_a_new_relay);
  tcase_add_test (tc, test_owner_takes_over_pulled_name);
  tcase_add_test (tc, test_upstream_by_name_tofu);
  tcase_add_test (tc, test_trusted_relay_stream_share);
  tcase_add_test (tc, test_cycle_refused);
  return s;
}

GST_CHECK_MAIN (links);
