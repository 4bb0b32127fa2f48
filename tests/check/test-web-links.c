/* gst-diode — /metrics of relay links (issue 11, item 4)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A root and a leaf relay linked as in test-links.c (in-process, real TLS),
 * published at the root and watched at the leaf: the leaf's /metrics shows
 * its control link to the root up and linked and its pull subscribed, with
 * bytes; the root's shows the leaf as a child link; both pass the strict
 * readers (promreader.c, promcheck.py) and count the joins (the leaf's
 * viewer at the leaf, the leaf's pull at the root), relay-wide and per
 * stream; the pull's series carry its stream's name (stream="cam").
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <string.h>

#include "linksharness.h"
#include "promreader.h"

static Metrics *
metrics (DiodeRelay * relay)
{
  guint status = 0;
  gchar *type = NULL;
  gchar *text = diode_relay_web_render (relay, "/metrics", &status, &type);
  Metrics *m;

  fail_unless (text != NULL && status == 200);
  g_free (type);
  m = metrics_parse (text);
  python_check (text);
  g_free (text);
  return m;
}

/* The value of the first series of @name whose labels hold every one of
 * the NULL-terminated "k=v" @needles; -1 when none. */
static gdouble
series (Metrics * m, const gchar * name, ...)
{
  GHashTableIter it;
  gpointer k, v;
  gchar *prefix = g_strdup_printf ("%s{", name);
  gdouble out = -1;

  g_hash_table_iter_init (&it, m->samples);
  while (out < 0 && g_hash_table_iter_next (&it, &k, &v)) {
    va_list ap;
    const gchar *needle;
    gboolean all = g_str_has_prefix (k, prefix);

    va_start (ap, name);
    while (all && (needle = va_arg (ap, const gchar *)))
      all = strstr (k, needle) != NULL;
    va_end (ap);
    if (all)
      out = *(gdouble *) v;
  }
  g_free (prefix);
  return out;
}

GST_START_TEST (test_link_metrics)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  DiodeRelay *leaf = start_linked ("leaf.pem", root, NULL, 500);
  GstHarness *pub = publisher (root, "cam");
  GstHarness *view;
  Metrics *m;
  gchar *up_peer = g_strdup_printf ("peer=127.0.0.1:%u",
      diode_relay_get_port (root));
  gint64 end;

  fail_unless (fixture_wait_publisher (root, "cam", TRUE, WAIT_MS));
  push (pub, 0, GOP);
  view = viewer (leaf, "cam");
  fail_unless (fixture_wait_viewers (root, "cam", 1, WAIT_MS));
  expect_buffer (view, 0);

  /* the leaf: its control link linked, its pull subscribed */
  end = deadline_in (WAIT_MS);
  for (;;) {
    m = metrics (leaf);
    if (series (m, "diode_link_state", "kind=upstream", "state=linked",
            up_peer, NULL) == 1)
      break;
    metrics_free (m);
    fail_if (g_get_monotonic_time () > end, "the leaf's upstream link never "
        "showed linked");
    g_usleep (50 * 1000);
  }
  fail_unless (series (m, "diode_link_up", "kind=upstream", up_peer, NULL)
      == 1);
  fail_unless (series (m, "diode_link_bytes_in_total", "kind=upstream",
          NULL) > 0);
  fail_unless (series (m, "diode_link_state", "kind=pull",
          "state=subscribed", NULL) == 1);
  fail_unless (series (m, "diode_link_up", "kind=pull", up_peer, NULL) == 1);
  fail_unless (series (m, "diode_link_bytes_in_total", "kind=pull", NULL)
      > 0);
  fail_unless (series (m, "diode_link_failovers_total", "kind=upstream",
          NULL) == 0);
  /* the pull's fail-overs are its stream's: the link carries its name;
   * a control link carries none */
  fail_unless (series (m, "diode_link_failovers_total", "kind=pull",
          "stream=cam", NULL) == 0);
  fail_unless (series (m, "diode_link_state", "kind=pull", "stream=cam",
          "state=subscribed", NULL) == 1);
  fail_unless (series (m, "diode_link_up", "kind=upstream", "stream=}",
          NULL) == 1);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 1);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 1);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "cam") == 1);
  metrics_free (m);

  /* the root: the leaf as a child, and its pull as a viewer that joined */
  m = metrics (root);
  fail_unless (series (m, "diode_link_up", "kind=child", NULL) == 1);
  fail_unless (series (m, "diode_link_state", "kind=child", "state=linked",
          NULL) == 1);
  fail_unless (mget (m, "diode_stream_viewers", "cam") == 1);
  fail_unless (mget (m, "diode_join_seconds_count", NULL) == 1);
  fail_unless (mget (m, "diode_stream_join_seconds_count", "cam") == 1);
  metrics_free (m);

  gst_harness_teardown (view);
  gst_harness_teardown (pub);
  g_object_unref (leaf);
  g_object_unref (root);
  g_free (up_peer);
}

GST_END_TEST;

static Suite *
web_links_suite (void)
{
  Suite *s = suite_create ("web-links");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_link_metrics);
  return s;
}

GST_CHECK_MAIN (web_links);
