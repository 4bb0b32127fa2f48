/* gst-diode — flushes and interruptible connects (element correctness)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * 1. FLUSH_START/FLUSH_STOP on diodesink drop its send queue: what was
 *    queued when the flush came never reaches a viewer, and publishing
 *    resumes at the next keyframe, flagged DISCONT. The relay is the real
 *    diode-relay, stopped (SIGSTOP) so that the queue fills.
 * 2. A reconnect stuck resolving the relay's name does not hold up a state
 *    change to NULL, for diodesink and diodesrc. The elements resolve with
 *    the default GResolver; this process installs one (g_resolver_set_default)
 *    that answers "relay.test" with 127.0.0.1 until told to hang, and then
 *    blocks until the lookup is cancelled, like a DNS server that never
 *    answers. Everything else is real: TLS, sockets on 127.0.0.1, an
 *    in-process relay.
 * 3. Relay strings go through g_network_address_parse: bad ports and
 *    brackets are SETTINGS errors, [IPV6]:PORT is accepted.
 *
 * Every wait is bounded; the bounds guard against hangs, not speed.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gio/gio.h>

#include <signal.h>
#include <string.h>

#include "fixture.h"
#include "diode-msg.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define WAIT_MS   10000
#define HANG_MS   30000         /* a hung lookup gives up after this */
#define PROMPT_MS 3000          /* a state change must take less */

static GstHarness *
src_harness (const gchar * hostport, const gchar * stream)
{
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "relay", hostport, "stream", stream, "timeout", WAIT_MS,
      "reconnect-delay", 10, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  return h;
}

static GstHarness *
sink_harness (const gchar * hostport, const gchar * stream)
{
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  fail_unless (e != NULL);
  g_object_set (e, "relay", hostport, "stream", stream, "timeout", WAIT_MS,
      "reconnect-delay", 10, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  return h;
}

static GstBuffer *
pull_within (GstHarness * h, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (h))) {
    if (g_get_monotonic_time () > end)
      return NULL;
    g_usleep (2 * 1000);
  }
  return b;
}

static guint64
stats_u64 (GstElement * e, const gchar * field)
{
  GstStructure *s = NULL;
  guint64 v = 0;

  g_object_get (e, "stats", &s, NULL);
  fail_unless (s != NULL);
  fail_unless (gst_structure_get_uint64 (s, field, &v), "stats lack %s",
      field);
  gst_structure_free (s);
  return v;
}

/* ------------------------------------------------------------------------ */
/* 1. FLUSH drops the send queue */

#define F_SIZE   (256 * 1024)
#define F_GOP    100000         /* one keyframe, then deltas */
#define F_QUEUED (2 * 1024 * 1024)      /* backlog to build before flushing */
#define F_MAX    400            /* pushes at most, to build it */

static const gchar *const f_relay_args[] = { "-q",
  "--viewer-soft-limit", "1073741824",
  "--viewer-hard-limit", "2147483648",
  "--write-timeout", "60000",
  "--buffer-bytes", "268435456", NULL
};

GST_START_TEST (test_flush_drops_send_queue)
{
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH,
      f_relay_args);
  gchar *hp = g_strdup_printf ("127.0.0.1:%u", rp->port);
  GstHarness *view = src_harness (hp, "flush");
  GstHarness *pub = sink_harness (hp, "flush");
  guint64 dropped, backlog;
  GstSegment seg;
  GstBuffer *b;
  guint i, last_queued, resumed;
  gboolean seen_resumed = FALSE;

  g_object_set (pub->element, "backlog-limit", (guint64) 0, NULL);
  gst_harness_play (view);
  gst_harness_play (pub);
  fail_unless_equals_int (gst_harness_push (pub,
          fixture_make_buffer (0, F_SIZE, F_GOP)), GST_FLOW_OK);
  b = pull_within (view, WAIT_MS);
  fail_unless (b != NULL, "the viewer did not get buffer 0");
  gst_buffer_unref (b);

  /* the relay stops reading: the sink's queue fills. Until the kernel's
   * buffers are full the writer keeps taking buffers, so push until the
   * backlog stays above F_QUEUED for a while. */
  fail_unless (kill (rp->pid, SIGSTOP) == 0);
  for (i = 1; i < F_MAX; i++) {
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, F_SIZE, F_GOP)), GST_FLOW_OK);
    if (stats_u64 (pub->element, "backlog-bytes") < F_QUEUED)
      continue;
    g_usleep (200 * 1000);
    if (stats_u64 (pub->element, "backlog-bytes") >= F_QUEUED)
      break;
  }
  last_queued = i;
  backlog = stats_u64 (pub->element, "backlog-bytes");
  fail_unless (backlog >= F_QUEUED, "only %" G_GUINT64_FORMAT " bytes "
      "queued after %u buffers", backlog, i);
  dropped = stats_u64 (pub->element, "buffers-dropped");

  fail_unless (gst_harness_push_event (pub, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (pub, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  fail_unless (gst_harness_push_event (pub, gst_event_new_segment (&seg)));
  /* what is left is at most the one buffer the writer has in hand */
  backlog = stats_u64 (pub->element, "backlog-bytes");
  GST_INFO ("after the flush: %" G_GUINT64_FORMAT " bytes queued, %"
      G_GUINT64_FORMAT " buffers dropped", backlog,
      stats_u64 (pub->element, "buffers-dropped"));
  fail_unless (backlog <= DIODE_MEDIA_PREFIX_SIZE + F_SIZE, "%"
      G_GUINT64_FORMAT " bytes still queued after FLUSH", backlog);
  fail_unless (stats_u64 (pub->element, "buffers-dropped") > dropped);
  /* a delta first: not sent (the viewer would need the keyframe before) */
  fail_unless_equals_int (gst_harness_push (pub,
          fixture_make_buffer (last_queued + 1, F_SIZE, F_GOP)), GST_FLOW_OK);
  resumed = last_queued + 2;
  fail_unless_equals_int (gst_harness_push (pub,
          fixture_make_buffer (resumed, F_SIZE, 1)), GST_FLOW_OK);

  fail_unless (kill (rp->pid, SIGCONT) == 0);
  /* the viewer gets what had already left the sink, then the keyframe */
  while (!seen_resumed && (b = pull_within (view, WAIT_MS))) {
    guint64 off = GST_BUFFER_OFFSET (b);

    fail_if (off == last_queued || off == last_queued + 1, "buffer %"
        G_GUINT64_FORMAT " was queued or pushed after a keyframe-less "
        "flush, yet it was sent", off);
    if (off == resumed) {
      seen_resumed = TRUE;
      fail_unless (GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT),
          "the keyframe after the flush is not DISCONT");
    }
    gst_buffer_unref (b);
  }
  fail_unless (seen_resumed, "the keyframe after the flush never came");

  gst_harness_teardown (pub);
  gst_harness_teardown (view);
  fail_unless (fixture_relay_proc_stop (rp));
  g_free (hp);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. a reconnect stuck in name resolution is interruptible */

/* A GResolver that knows one name. "Hanging" models a DNS server that never
 * answers: the lookup returns only when cancelled (or after HANG_MS). */
typedef struct
{
  GResolver parent;
} TestResolver;

typedef struct
{
  GResolverClass parent_class;
} TestResolverClass;

static GType test_resolver_get_type (void);
G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER);

static gint resolver_hangs;     /* atomic: hang from now on */
static gint resolver_hanging;   /* atomic: lookups hanging now */

static GList *
test_resolver_lookup_by_name (GResolver * resolver, const gchar * hostname,
    GCancellable * cancellable, GError ** error)
{
  gint64 end = deadline_in (HANG_MS);

  if (g_strcmp0 (hostname, "relay.test") != 0) {
    g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
        "no such name: %s", hostname);
    return NULL;
  }
  if (!g_atomic_int_get (&resolver_hangs))
    return g_list_append (NULL, g_inet_address_new_loopback
        (G_SOCKET_FAMILY_IPV4));
  g_atomic_int_inc (&resolver_hanging);
  while (!g_cancellable_is_cancelled (cancellable)
      && g_get_monotonic_time () < end)
    g_usleep (5 * 1000);
  g_atomic_int_add (&resolver_hanging, -1);
  if (!g_cancellable_set_error_if_cancelled (cancellable, error))
    g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE,
        "the test resolver hung for %d ms", HANG_MS);
  return NULL;
}

static void
test_resolver_class_init (TestResolverClass * klass)
{
  G_RESOLVER_CLASS (klass)->lookup_by_name = test_resolver_lookup_by_name;
}

static void
test_resolver_init (TestResolver * self)
{
}

static void
install_resolver (void)
{
  GResolver *r = g_object_new (test_resolver_get_type (), NULL);

  g_atomic_int_set (&resolver_hangs, FALSE);
  g_resolver_set_default (r);
  g_object_unref (r);
}

/* Waits until a lookup is hanging, then times setting @e to NULL. */
static void
null_while_resolving (DiodeRelay * relay, GstElement * e, const gchar * what)
{
  gint64 end = deadline_in (WAIT_MS), t0;

  g_atomic_int_set (&resolver_hangs, TRUE);
  /* the relay goes away: the element reconnects, and resolves again */
  diode_relay_stop (relay);
  while (!g_atomic_int_get (&resolver_hanging))
    fail_if (g_get_monotonic_time () > end, "%s never resolved the relay "
        "again", what);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  GST_INFO ("%s: NULL in %" G_GINT64_FORMAT " ms", what, ms_since (t0));
  fail_unless (ms_since (t0) < PROMPT_MS, "%s took %" G_GINT64_FORMAT " ms "
      "to stop while resolving", what, ms_since (t0));
  fail_unless_equals_int (g_atomic_int_get (&resolver_hanging), 0);
}

GST_START_TEST (test_sink_reconnect_resolving_is_interruptible)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  gchar *hp;
  GstHarness *pub;

  install_resolver ();
  hp = g_strdup_printf ("relay.test:%u", diode_relay_get_port (relay));
  pub = sink_harness (hp, "dns-sink");
  gst_harness_play (pub);
  fail_unless (fixture_wait_publisher (relay, "dns-sink", TRUE, WAIT_MS),
      "not published through relay.test");
  null_while_resolving (relay, pub->element, "diodesink");

  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (hp);
}

GST_END_TEST;

GST_START_TEST (test_src_reconnect_resolving_is_interruptible)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  gchar *hp;
  GstHarness *view;

  install_resolver ();
  hp = g_strdup_printf ("relay.test:%u", diode_relay_get_port (relay));
  view = src_harness (hp, "dns-src");
  gst_harness_play (view);
  fail_unless (fixture_wait_waiting (relay, "dns-src", 1, WAIT_MS),
      "not subscribed through relay.test");
  null_while_resolving (relay, view->element, "diodesrc");

  gst_harness_teardown (view);
  g_object_unref (relay);
  g_free (hp);
}

GST_END_TEST;

/* Relay strings are parsed by GLib (g_network_address_parse): a bad port
 * or bracket is a SETTINGS error naming the string, a bracketed IPv6
 * literal is accepted (nothing listens there: an OPEN_WRITE error). A
 * regression guard for the parser switch, not a fix. */
static void
relay_string_fails (const gchar * relay, gint code)
{
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (e, "relay", relay, "timeout", WAIT_MS, NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS);
  fail_unless (msg != NULL, "relay=%s: no error", relay);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR, code), "relay=%s: "
      "%s (code %d, expected %d)", relay, err->message, err->code, code);
  if (code == GST_RESOURCE_ERROR_SETTINGS)
    fail_unless (strstr (err->message, relay) != NULL, "'%s' does not name "
        "%s", err->message, relay);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

GST_START_TEST (test_relay_strings)
{
  relay_string_fails ("127.0.0.1:99999", GST_RESOURCE_ERROR_SETTINGS);
  relay_string_fails ("127.0.0.1:0", GST_RESOURCE_ERROR_SETTINGS);
  relay_string_fails ("[::1", GST_RESOURCE_ERROR_SETTINGS);
  relay_string_fails ("127.0.0.1:", GST_RESOURCE_ERROR_SETTINGS);
  relay_string_fails ("[::1]:1", GST_RESOURCE_ERROR_OPEN_WRITE);
}

GST_END_TEST;

static Suite *
lifecycle_suite (void)
{
  Suite *s = suite_create ("lifecycle");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_flush_drops_send_queue);
  tcase_add_test (tc, test_sink_reconnect_resolving_is_interruptible);
  tcase_add_test (tc, test_src_reconnect_resolving_is_interruptible);
  tcase_add_test (tc, test_relay_strings);
  return s;
}

GST_CHECK_MAIN (lifecycle);
