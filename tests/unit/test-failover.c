/* gst-diode — unit tests: choosing a relay of an ordered list (diode-failover)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * On a fake clock: order of preference, backoff doubling and reset,
 * fail-back only after continuous connection, and the failover count the
 * stats show.
 */
#include <gst/check/gstcheck.h>

#include "diode-failover.h"

#define MS 1000
#define T0 ((gint64) 1000000000)

GST_START_TEST (test_pick_in_order)
{
  DiodeFailover *f = diode_failover_new (3, 100, 1000, 5000);
  gint64 at = 0;

  fail_unless_equals_int (diode_failover_get_n (f), 3);
  fail_unless_equals_int (diode_failover_pick (f, T0, &at), 0);
  diode_failover_failed (f, 0, T0);
  fail_unless_equals_int (diode_failover_pick (f, T0, NULL), 1);
  diode_failover_failed (f, 1, T0);
  fail_unless_equals_int (diode_failover_pick (f, T0, NULL), 2);
  diode_failover_failed (f, 2, T0 + 50 * MS);
  /* all in backoff: when to try again */
  fail_unless_equals_int (diode_failover_pick (f, T0 + 60 * MS, &at), -1);
  fail_unless (at == T0 + 100 * MS);
  /* the first to leave backoff is the preferred one */
  fail_unless_equals_int (diode_failover_pick (f, T0 + 100 * MS, NULL), 0);
  /* none of these was in use: no failover */
  fail_unless_equals_int (diode_failover_get_failovers (f), 0);
  fail_unless_equals_int (diode_failover_get_active (f), -1);
  diode_failover_free (f);
}

GST_END_TEST;

GST_START_TEST (test_backoff_doubles_and_resets)
{
  DiodeFailover *f = diode_failover_new (1, 100, 1000, 5000);
  gint64 t = T0, at;
  static const guint expect[] = { 100, 200, 400, 800, 1000, 1000 };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (expect); i++) {
    fail_unless_equals_int (diode_failover_pick (f, t, NULL), 0);
    diode_failover_failed (f, 0, t);
    fail_unless_equals_int (diode_failover_pick (f, t, &at), -1);
    fail_unless (at == t + expect[i] * MS, "failure %u: backoff %"
        G_GINT64_FORMAT " ms", i, (at - t) / MS);
    fail_unless_equals_int (diode_failover_pick (f, at - 1, NULL), -1);
    t = at;
  }
  /* success resets; a link that was up and dies starts over at the
   * minimum */
  diode_failover_connected (f, 0, t);
  fail_unless (diode_failover_is_connected (f, 0));
  fail_unless_equals_int (diode_failover_get_active (f), 0);
  diode_failover_failed (f, 0, t + 10 * MS);
  fail_unless (!diode_failover_is_connected (f, 0));
  fail_unless_equals_int (diode_failover_pick (f, t + 10 * MS, &at), -1);
  fail_unless (at == t + 110 * MS);
  fail_unless_equals_int (diode_failover_get_failovers (f), 1);
  diode_failover_free (f);
}

GST_END_TEST;

/* The relay's case: upstream dies, the fallback takes over, a probe to
 * the upstream must stay up for failback_ms before streams move back. */
GST_START_TEST (test_fail_over_and_back)
{
  DiodeFailover *f = diode_failover_new (3, 100, 1000, 5000);
  gint better = -1;

  diode_failover_connected (f, 0, T0);
  fail_unless (!diode_failover_should_fail_back (f, 0, T0 + 60000 * MS,
          &better));
  /* upstream dies: failover to 1 */
  diode_failover_failed (f, 0, T0 + 1000 * MS);
  fail_unless_equals_int (diode_failover_get_failovers (f), 1);
  fail_unless_equals_int (diode_failover_pick (f, T0 + 1000 * MS, NULL), 1);
  diode_failover_connected (f, 1, T0 + 1010 * MS);
  fail_unless_equals_int (diode_failover_get_active (f), 1);
  /* probe to 0 once out of backoff; it fails, comes up, drops, comes up */
  fail_unless_equals_int (diode_failover_pick (f, T0 + 1100 * MS, NULL), 0);
  diode_failover_failed (f, 0, T0 + 1100 * MS);
  /* a failing probe is not a failover: 1 is the one in use */
  fail_unless_equals_int (diode_failover_get_failovers (f), 1);
  diode_failover_connected (f, 0, T0 + 2000 * MS);
  fail_unless_equals_int (diode_failover_get_active (f), 1);
  fail_unless (!diode_failover_should_fail_back (f, 1, T0 + 6999 * MS,
          &better));
  diode_failover_failed (f, 0, T0 + 6000 * MS);
  diode_failover_connected (f, 0, T0 + 6500 * MS);
  /* continuously connected since 6500 ms: not at 7000, at 11500 */
  fail_unless (!diode_failover_should_fail_back (f, 1, T0 + 7000 * MS,
          &better));
  fail_unless (!diode_failover_should_fail_back (f, 1, T0 + 11499 * MS,
          &better));
  fail_unless (diode_failover_should_fail_back (f, 1, T0 + 11500 * MS,
          &better));
  fail_unless_equals_int (better, 0);
  /* the caller moves back and closes the fallback on purpose */
  diode_failover_set_active (f, 0);
  diode_failover_closed (f, 1, T0 + 11600 * MS);
  fail_unless (!diode_failover_is_connected (f, 1));
  fail_unless_equals_int (diode_failover_pick (f, T0 + 11600 * MS, NULL), 0);
  /* not a failure: 1 is not in backoff */
  diode_failover_failed (f, 0, T0 + 12000 * MS);
  fail_unless_equals_int (diode_failover_get_failovers (f), 2);
  fail_unless_equals_int (diode_failover_pick (f, T0 + 12000 * MS, NULL), 1);
  diode_failover_free (f);
}

GST_END_TEST;

/* should_fail_back names the earliest qualifying endpoint and never one
 * after the active one; it records the active one. */
GST_START_TEST (test_fail_back_prefers_earliest)
{
  DiodeFailover *f = diode_failover_new (4, 100, 1000, 0);
  gint better = -1;

  diode_failover_connected (f, 3, T0);
  diode_failover_connected (f, 2, T0);
  diode_failover_connected (f, 1, T0);
  fail_unless_equals_int (diode_failover_get_active (f), 3);
  fail_unless (diode_failover_should_fail_back (f, 3, T0, &better));
  fail_unless_equals_int (better, 1);
  fail_unless (!diode_failover_should_fail_back (f, 1, T0, &better));
  fail_unless_equals_int (diode_failover_get_active (f), 1);
  /* an active that dies after being named counts */
  diode_failover_failed (f, 1, T0);
  fail_unless_equals_int (diode_failover_get_failovers (f), 1);
  fail_unless (!diode_failover_should_fail_back (f, -1, T0, &better));
  /* a probe closed on purpose is no failover either */
  diode_failover_closed (f, 2, T0);
  fail_unless_equals_int (diode_failover_get_failovers (f), 1);
  diode_failover_free (f);
}

GST_END_TEST;

static Suite *
failover_suite (void)
{
  Suite *s = suite_create ("failover");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_pick_in_order);
  tcase_add_test (tc, test_backoff_doubles_and_resets);
  tcase_add_test (tc, test_fail_over_and_back);
  tcase_add_test (tc, test_fail_back_prefers_earliest);
  return s;
}

GST_CHECK_MAIN (failover);
