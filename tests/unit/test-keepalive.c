/* gst-diode — unit tests: the keepalive rule (diode-keepalive)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/protocol.md section 11 on a fake clock: PING after K of quiet,
 * dead after more than 3·K of silence, the next time worth checking, and
 * K = 0 disabling both.
 */
#include <gst/check/gstcheck.h>

#include "diode-keepalive.h"

#define MS 1000                 /* microseconds */
#define T0 ((gint64) 5000000000)        /* any start: not zero on purpose */

GST_START_TEST (test_ping_then_dead)
{
  DiodeKeepalive k;
  gint64 next = 0;

  diode_keepalive_init (&k, 800, T0);
  fail_unless_equals_int (diode_keepalive_check (&k, T0, &next),
      DIODE_KEEPALIVE_NONE);
  fail_unless (next == T0 + 800 * MS);
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 799 * MS, NULL),
      DIODE_KEEPALIVE_NONE);
  /* quiet for K: PING; the next check assumes it is sent now */
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 800 * MS, &next),
      DIODE_KEEPALIVE_PING);
  fail_unless (next == T0 + 1600 * MS);
  diode_keepalive_sent (&k, T0 + 800 * MS);
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 801 * MS, &next),
      DIODE_KEEPALIVE_NONE);
  fail_unless (next == T0 + 1600 * MS);
  diode_keepalive_sent (&k, T0 + 1600 * MS);
  diode_keepalive_sent (&k, T0 + 2400 * MS);
  /* the next check is the death of the peer, not a PING after it */
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 2400 * MS, &next),
      DIODE_KEEPALIVE_NONE);
  fail_unless (next == T0 + 2400 * MS + 1, "%" G_GINT64_FORMAT, next - T0);
  /* exactly 3K of silence is still alive; more is dead */
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 2400 * MS, NULL),
      DIODE_KEEPALIVE_NONE);
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 2400 * MS + 1,
          &next), DIODE_KEEPALIVE_DEAD);
  fail_unless (next == G_MAXINT64);
  fail_unless_equals_int (diode_keepalive_silent_ms (&k, T0 + 2500 * MS),
      2500);
  /* dead wins over PING */
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 9000 * MS, NULL),
      DIODE_KEEPALIVE_DEAD);
}

GST_END_TEST;

GST_START_TEST (test_received_keeps_alive)
{
  DiodeKeepalive k;
  gint64 t, next;

  diode_keepalive_init (&k, 100, T0);
  /* a peer heard every 250 ms (< 3K) with us sending all the time: never
   * a PING, never dead */
  for (t = T0; t < T0 + 10000 * MS; t += 50 * MS) {
    if ((t - T0) % (250 * MS) == 0)
      diode_keepalive_received (&k, t);
    diode_keepalive_sent (&k, t);
    fail_unless_equals_int (diode_keepalive_check (&k, t, &next),
        DIODE_KEEPALIVE_NONE);
    fail_unless (next > t);
  }
  /* reports out of order never move a clock back */
  diode_keepalive_received (&k, T0);
  diode_keepalive_sent (&k, T0);
  fail_unless (k.last_rx > T0 && k.last_tx > T0);
  fail_unless_equals_int (diode_keepalive_silent_ms (&k, T0), 0);
}

GST_END_TEST;

GST_START_TEST (test_disabled)
{
  DiodeKeepalive k;
  gint64 next = 0;

  diode_keepalive_init (&k, 0, T0);
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + G_GINT64_CONSTANT
          (3600000000000), &next), DIODE_KEEPALIVE_NONE);
  fail_unless (next == G_MAXINT64);
}

GST_END_TEST;

/* A period near G_MAXUINT: computed in 64 bits, no wrap on 32-bit ARM. */
GST_START_TEST (test_large_period)
{
  DiodeKeepalive k;
  gint64 next;

  diode_keepalive_init (&k, G_MAXUINT, 0);
  fail_unless_equals_int (diode_keepalive_check (&k, (gint64) G_MAXUINT *
          1000 - 1, &next), DIODE_KEEPALIVE_NONE);
  fail_unless (next == (gint64) G_MAXUINT * 1000);
  fail_unless_equals_int (diode_keepalive_check (&k, (gint64) G_MAXUINT *
          3000 + 1, NULL), DIODE_KEEPALIVE_DEAD);
}

GST_END_TEST;

/* ping_due: quiet towards the peer for K, whatever the peer's silence (a
 * reader with a message in hand must PING even when last_rx is old) */
GST_START_TEST (test_ping_due)
{
  DiodeKeepalive k;

  diode_keepalive_init (&k, 800, T0);
  fail_if (diode_keepalive_ping_due (&k, T0 + 799 * MS));
  fail_unless (diode_keepalive_ping_due (&k, T0 + 800 * MS));
  /* past 3K of silence from the peer: check says DEAD, ping_due still PING */
  fail_unless_equals_int (diode_keepalive_check (&k, T0 + 2401 * MS, NULL),
      DIODE_KEEPALIVE_DEAD);
  fail_unless (diode_keepalive_ping_due (&k, T0 + 2401 * MS));
  diode_keepalive_sent (&k, T0 + 2401 * MS);
  fail_if (diode_keepalive_ping_due (&k, T0 + 3000 * MS));
  /* disabled: never */
  diode_keepalive_init (&k, 0, T0);
  fail_if (diode_keepalive_ping_due (&k, T0 + (gint64) 3600 * G_USEC_PER_SEC));
}

GST_END_TEST;

static Suite *
keepalive_suite (void)
{
  Suite *s = suite_create ("keepalive");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ping_then_dead);
  tcase_add_test (tc, test_received_keeps_alive);
  tcase_add_test (tc, test_disabled);
  tcase_add_test (tc, test_large_period);
  tcase_add_test (tc, test_ping_due);
  return s;
}

GST_CHECK_MAIN (keepalive);
