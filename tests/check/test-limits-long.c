/* gst-diode — resource limits under real attack, measured (long suite)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The measurements, repeated against a diode-relay process with its
 * default options: while one unprivileged identity attacks, an honest
 * publisher and viewer on another stream are measured (frames delivered,
 * seq gaps, longest pause between two frames at the viewer) and so is the
 * relay's resident memory (VmRSS from /proc/PID/status).
 *
 * 1. PING after PING, replies never read, reconnecting when closed
 *    (was: +230 MB RSS, the honest viewer lost frames);
 * 2. 2000 refused PUBLISH with 2048-address allowlists (was: every stream
 *    frozen 4.7 s);
 * 3. a publisher flooding its own stream with 2048-address POLICY frames:
 *    one busy connection must not be served until it runs dry;
 * 4. the log rate limiter's "suppressed" line at the end of a window.
 *
 * Heavy (tens of MB through TLS, up to ~20 s each): suite elements-long.
 * The thresholds are orders of magnitude from the failures they guard
 * against, not tight timings.
 */
#include <gst/check/gstcheck.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "limitsharness.h"


/* ------------------------------------------------------------------------ */
/* 1. replies never read */

GST_START_TEST (test_long_unread_replies)
{
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH, NULL);
  Attacker a = { 0 };
  guint i;

  a.rp = rp;
  a.key = "attacker.pem";
  a.role = DIODE_ROLE_VIEWER;
  a.rcvbuf = 4096;
  a.unit = g_byte_array_new ();
  for (i = 0; i < 4096; i++)
    append_frame (a.unit, diode_msg_encode_ping (i + 1));
  /* 48 MiB at most: enough for +300 MB of queued PONGs without the bound,
   * not enough to take the machine down */
  a.max_units = 48 * 16;
  run_attack (rp, &a, 12, "unread replies", MAX_RSS_GROWTH_KB);
  attacker_free (&a);
  fail_unless (fixture_relay_proc_stop (rp));
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. refused PUBLISH with big allowlists */

GST_START_TEST (test_long_refused_publish_storm)
{
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH, NULL);
  gchar **allow = many_addresses (DIODE_MAX_ALLOW);
  Attacker a = { 0 };

  a.rp = rp;
  a.key = "attacker.pem";
  a.role = DIODE_ROLE_PUBLISHER;
  a.unit = g_byte_array_new ();
  /* the name the honest publisher owns: refused every time */
  append_frame (a.unit, diode_msg_encode_publish_policy ("honest",
          DIODE_ACCESS_PRIVATE, NULL, (const gchar * const *) allow));
  a.max_units = 2000;
  run_attack (rp, &a, 12, "refused PUBLISH storm", MAX_RSS_GROWTH_KB);
  fail_unless (a.reconnects > 1, "the refused publisher was never closed");
  attacker_free (&a);
  g_strfreev (allow);
  fail_unless (fixture_relay_proc_stop (rp));
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. one busy connection: a POLICY flood on the attacker's own stream */

GST_START_TEST (test_long_policy_flood_fairness)
{
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH, NULL);
  gchar **allow = many_addresses (DIODE_MAX_ALLOW);
  Attacker a = { 0 };

  a.rp = rp;
  a.key = "attacker.pem";
  a.role = DIODE_ROLE_PUBLISHER;
  a.setup = diode_msg_encode_publish ("mine");
  a.unit = g_byte_array_new ();
  append_frame (a.unit, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
          (const gchar * const *) allow));
  a.max_units = 4000;
  run_attack (rp, &a, 12, "POLICY flood", MAX_RSS_GROWTH_KB);
  attacker_free (&a);
  g_strfreev (allow);
  fail_unless (fixture_relay_proc_stop (rp));
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. the end of a log window says what it suppressed */

GST_START_TEST (test_long_log_suppressed_line)
{
  gchar *log_path = g_build_filename (fixture_config_dir (), "long.log",
      NULL);
  FixtureRelayProc *rp = fixture_relay_proc_start_full (DIODE_RELAY_PATH,
      NULL, log_path, 0);
  RawClient *c = proc_hello (rp, 0, "talker.pem", DIODE_ROLE_VIEWER);
  gint64 end;
  gchar *text = NULL;
  guint i;

  for (i = 0; i < 200; i++)
    raw_send_frame (c, diode_msg_encode_error (DIODE_ERR_NOT_FOUND,
            "again"));
  /* RELAY_LOG_INTERVAL_MS (10 s) later, at a tick */
  end = deadline_in (15000);
  while (g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };

    if (raw_read (c, &m, 100) == RAW_READ_MSG && m.type == DIODE_MSG_PING)
      raw_send_frame (c, diode_msg_encode_pong (m.token));
    diode_msg_clear (&m);
    g_free (text);
    text = NULL;
    if (g_file_get_contents (log_path, &text, NULL, NULL)
        && strstr (text, "suppressed 180 similar lines (peer errors)"))
      break;
  }
  fail_unless (text && strstr (text, "suppressed 180 similar lines (peer "
          "errors)"), "no 'suppressed' line: %s", text);
  g_free (text);
  raw_free (c, FALSE);
  fail_unless (fixture_relay_proc_stop (rp));
  g_free (log_path);
}

GST_END_TEST;

static Suite *
limits_long_suite (void)
{
  Suite *s = suite_create ("limits-long");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_long_unread_replies);
  tcase_add_test (tc, test_long_refused_publish_storm);
  tcase_add_test (tc, test_long_policy_flood_fairness);
  tcase_add_test (tc, test_long_log_suppressed_line);
  return s;
}

GST_CHECK_MAIN (limits_long);
