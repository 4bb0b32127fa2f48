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

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-tls.h"

#define PERIOD_MS     20        /* the honest publisher: 50 frames/s */
#define FRAME_SIZE    2000
#define GOP           25
/* Pass marks (the failures were +230 MB and a 4.7 s freeze). */
#define MAX_RSS_GROWTH_KB  (48 * 1024)
#define MAX_GAP_MS         1500

/* ------------------------------------------------------------------------ */
/* raw clients on a relay process */

static RawClient *
proc_hello (FixtureRelayProc * rp, int rcvbuf, const gchar * key,
    DiodeRole role)
{
  RawClient *c = raw_open_fd_addr (rp->address,
      tcp_connect_from (NULL, rp->port, rcvbuf), key);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 1, role, "limits-long/0"));
  /* the relay may PING first */
  do {
    diode_msg_clear (&m);
    fail_unless (raw_read (c, &m, RAW_IO_MS) == RAW_READ_MSG, "no WELCOME");
  } while (m.type == DIODE_MSG_PING);
  fail_unless_equals_int (m.type, DIODE_MSG_WELCOME);
  diode_msg_clear (&m);
  return c;
}

/* Next message that is not a PING (PINGs are answered). */
static void
expect_skip_pings (RawClient * c, DiodeMsgType type, DiodeMsg * m)
{
  for (;;) {
    fail_unless (raw_read (c, m, RAW_IO_MS) == RAW_READ_MSG, "expected %s, "
        "but the relay closed or sent nothing", diode_msg_type_name (type));
    if (m->type != DIODE_MSG_PING)
      break;
    raw_send_frame (c, diode_msg_encode_pong (m->token));
    diode_msg_clear (m);
  }
  fail_unless (m->type == type, "expected %s, got %s (%u: %s)",
      diode_msg_type_name (type), diode_msg_type_name (m->type),
      m->error_code, m->error_text ? m->error_text : "");
}

/* Sends what the socket takes now: bytes taken, -1 if closed. After AGAIN
 * the same data must be offered again (GnuTLS). */
static gssize
try_send (RawClient * c, const guint8 * data, gsize len)
{
  gsize done = 0;

  while (done < len) {
    gsize n = 0;
    GError *err = NULL;
    DiodeTlsStatus st = diode_tls_send (c->tls, data + done, len - done, &n,
        &err);

    if (st == DIODE_TLS_OK) {
      done += n;
    } else if (st == DIODE_TLS_AGAIN) {
      break;
    } else {
      g_clear_error (&err);
      return -1;
    }
  }
  return done;
}

/* ------------------------------------------------------------------------ */
/* the honest pair */

typedef struct
{
  FixtureRelayProc *rp;
  RawClient *pub, *view;
  guint64 next_seq;             /* the publisher's next MEDIA */
  guint64 first_seq, last_seen;
  guint sent, received, gaps;
  gint64 last_rx, max_gap_us;
  guint8 *payload;
} Honest;

static void
honest_start (Honest * h, FixtureRelayProc * rp)
{
  DiodeMsg m = { 0 };

  memset (h, 0, sizeof (*h));
  h->rp = rp;
  h->payload = g_malloc0 (FRAME_SIZE);
  h->view = proc_hello (rp, 0, "honest-view.pem", DIODE_ROLE_VIEWER);
  raw_send_frame (h->view, diode_msg_encode_subscribe ("honest", 0, 10000));
  h->pub = proc_hello (rp, 0, "honest-pub.pem", DIODE_ROLE_PUBLISHER);
  raw_send_frame (h->pub, diode_msg_encode_publish ("honest"));
  expect_skip_pings (h->pub, DIODE_MSG_PUBLISH_OK, &m);
  h->next_seq = h->first_seq = m.seq;
  diode_msg_clear (&m);
  expect_skip_pings (h->view, DIODE_MSG_SUBSCRIBE_OK, &m);
  diode_msg_clear (&m);
  raw_send_frame (h->pub, diode_msg_encode_caps ("video/x-test"));
}

/* Reads what @c has for us; PINGs answered, MEDIA counted for the viewer. */
static void
honest_drain (Honest * h, RawClient * c, gboolean viewer)
{
  for (;;) {
    DiodeMsg m = { 0 };
    /* 1 ms: wait_fd() does not poll at all for 0 */
    RawReadResult res = raw_read (c, &m, 1);

    if (res == RAW_READ_TIMEOUT)
      return;
    fail_unless (res == RAW_READ_MSG, "the relay closed the honest %s",
        viewer ? "viewer" : "publisher");
    if (m.type == DIODE_MSG_PING)
      raw_send_frame (c, diode_msg_encode_pong (m.token));
    else if (m.type == DIODE_MSG_ERROR)
      fail ("the honest %s got ERROR %u: %s", viewer ? "viewer" :
          "publisher", m.error_code, m.error_text);
    else if (viewer && m.type == DIODE_MSG_MEDIA) {
      gint64 now = g_get_monotonic_time ();

      if (h->last_seen && m.seq != h->last_seen + 1)
        h->gaps++;
      if (h->last_rx)
        h->max_gap_us = MAX (h->max_gap_us, now - h->last_rx);
      h->last_rx = now;
      h->last_seen = m.seq;
      h->received++;
    }
    diode_msg_clear (&m);
  }
}

/* One period of honest traffic: a frame out, whatever came in. */
static void
honest_step (Honest * h)
{
  guint i = h->sent;

  fixture_fill_payload (h->payload, FRAME_SIZE, i);
  raw_send_frame (h->pub, diode_msg_encode_media (h->next_seq++,
          1000 * GST_SECOND + i * 20 * GST_MSECOND, DIODE_TIME_NONE,
          20 * GST_MSECOND, i, i + 1, i % GOP ? 0 : DIODE_MEDIA_KEYFRAME,
          h->payload, FRAME_SIZE));
  h->sent++;
  /* both ends send something every keepalive period (800 ms): a viewer
   * only reading media would be closed as silent */
  if (h->sent % 20 == 0)
    raw_send_frame (h->view, diode_msg_encode_ping (h->sent));
  honest_drain (h, h->pub, FALSE);
  honest_drain (h, h->view, TRUE);
}

/* The last frames arrive, then the verdict. */
static void
honest_finish (Honest * h, const gchar * attack)
{
  gint64 end = deadline_in (5000);

  while (h->received < h->sent && g_get_monotonic_time () < end) {
    honest_drain (h, h->pub, FALSE);
    honest_drain (h, h->view, TRUE);
    g_usleep (5 * 1000);
  }
  GST_INFO ("%s: honest pair: %u frames sent, %u received, %u seq gaps, "
      "longest pause %" G_GINT64_FORMAT " ms", attack, h->sent, h->received,
      h->gaps, h->max_gap_us / 1000);
  g_print ("%s: honest pair: %u frames sent, %u received, %u seq gaps, "
      "longest pause %" G_GINT64_FORMAT " ms\n", attack, h->sent,
      h->received, h->gaps, h->max_gap_us / 1000);
  fail_unless (h->received == h->sent && h->gaps == 0, "%s: the honest "
      "viewer got %u of %u frames (%u gaps)", attack, h->received, h->sent,
      h->gaps);
  fail_unless (h->max_gap_us / 1000 < MAX_GAP_MS, "%s: the honest viewer "
      "waited %" G_GINT64_FORMAT " ms for a frame", attack,
      h->max_gap_us / 1000);
  raw_free (h->pub, FALSE);
  raw_free (h->view, FALSE);
  g_free (h->payload);
}

/* ------------------------------------------------------------------------ */
/* an attacker: one buffer sent over and over, reconnecting when closed */

typedef struct
{
  FixtureRelayProc *rp;
  const gchar *key;
  DiodeRole role;
  GBytes *setup;                /* sent once after HELLO (may be NULL) */
  GByteArray *unit;             /* then this, again and again */
  RawClient *c;
  gsize off;                    /* into unit */
  guint64 bytes, units, reconnects;
  guint64 max_units;            /* stop after this many (0: never) */
  int rcvbuf;
} Attacker;

static void
attacker_connect (Attacker * a)
{
  a->c = proc_hello (a->rp, a->rcvbuf, a->key, a->role);
  if (a->setup) {
    gsize len;
    const guint8 *d = g_bytes_get_data (a->setup, &len);

    fail_unless (raw_send (a->c, d, len));
  }
  a->off = 0;
}

/* Pushes for at most @ms without blocking. */
static void
attacker_push (Attacker * a, guint ms)
{
  gint64 end = deadline_in (ms);

  while (g_get_monotonic_time () < end) {
    gssize n;

    if (a->max_units && a->units >= a->max_units)
      return;
    if (!a->c) {
      attacker_connect (a);
      a->reconnects++;
    }
    n = try_send (a->c, a->unit->data + a->off, a->unit->len - a->off);
    if (n < 0) {
      /* closed on us: come back */
      raw_free (a->c, FALSE);
      a->c = NULL;
      continue;
    }
    if (n == 0)
      return;                   /* the relay takes nothing more now */
    a->bytes += n;
    a->off += n;
    if (a->off == a->unit->len) {
      a->off = 0;
      a->units++;
    }
  }
}

static void
attacker_free (Attacker * a)
{
  if (a->c)
    raw_free (a->c, FALSE);
  g_byte_array_unref (a->unit);
  if (a->setup)
    g_bytes_unref (a->setup);
}

static void
append_frame (GByteArray * a, GBytes * frame)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);

  g_byte_array_append (a, d, len);
  g_bytes_unref (frame);
}

static gchar **
many_addresses (guint n)
{
  gchar **v = g_new0 (gchar *, n + 1);
  guint i;

  for (i = 0; i < n; i++)
    v[i] = g_strdup_printf ("0x%040x", i + 1);
  return v;
}

/* Runs the honest pair for @seconds while @a attacks; checks RSS. */
static void
run_attack (FixtureRelayProc * rp, Attacker * a, guint seconds,
    const gchar * name)
{
  Honest h;
  guint64 rss0, rss, rss_max = 0;
  gint64 t0, end;
  guint i;

  honest_start (&h, rp);
  /* settle: the honest stream flows before the attack */
  for (i = 0; i < 25; i++) {
    honest_step (&h);
    g_usleep (PERIOD_MS * 1000);
  }
  rss0 = fixture_proc_rss_kb (rp->pid);
  /* the publisher's clock goes on from the settling frames */
  t0 = g_get_monotonic_time () - (gint64) h.sent * PERIOD_MS * 1000;
  end = deadline_in (seconds * 1000);
  while (g_get_monotonic_time () < end) {
    gint64 due = t0 + (gint64) h.sent * PERIOD_MS * 1000;

    attacker_push (a, PERIOD_MS / 2);
    if (g_get_monotonic_time () >= due)
      honest_step (&h);
    else
      g_usleep (1000);
    rss = fixture_proc_rss_kb (rp->pid);
    rss_max = MAX (rss_max, rss);
  }
  g_print ("%s: attacker sent %" G_GUINT64_FORMAT " bytes (%"
      G_GUINT64_FORMAT " units, %" G_GUINT64_FORMAT " reconnections); relay "
      "RSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT " KiB at "
      "most (+%" G_GINT64_FORMAT " KiB)\n", name, a->bytes, a->units,
      a->reconnects, rss0, rss_max, (gint64) rss_max - (gint64) rss0);
  honest_finish (&h, name);
  fail_unless (rss_max < rss0 + MAX_RSS_GROWTH_KB, "%s: the relay grew by %"
      G_GUINT64_FORMAT " KiB", name, rss_max - rss0);
}

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
  run_attack (rp, &a, 12, "unread replies");
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
  run_attack (rp, &a, 12, "refused PUBLISH storm");
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
  run_attack (rp, &a, 12, "POLICY flood");
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
