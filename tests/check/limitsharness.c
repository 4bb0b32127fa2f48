/* gst-diode — test harness: an honest pair measured while a client attacks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See limitsharness.h.
 */
#include "limitsharness.h"

#include <gst/check/gstcheck.h>

#include <string.h>

#include "diode-tls.h"

/* ------------------------------------------------------------------------ */
/* raw clients on a relay process */

RawClient *
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

/* ------------------------------------------------------------------------ */
/* the honest pair */

/* The publisher's next frame: a keyframe every GOP frames, from frame 0. */
static void
honest_send_frame (Honest * h)
{
  guint i = h->sent;

  fixture_fill_payload (h->payload, FRAME_SIZE, i);
  raw_send_frame (h->pub, diode_msg_encode_media (h->next_seq++,
          1000 * GST_SECOND + i * 20 * GST_MSECOND, DIODE_TIME_NONE,
          20 * GST_MSECOND, i, i + 1, i % GOP ? 0 : DIODE_MEDIA_KEYFRAME,
          h->payload, FRAME_SIZE));
  h->sent++;
}


void
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
  raw_expect_next (h->pub, DIODE_MSG_PUBLISH_OK, &m, "honest publisher");
  h->next_seq = h->first_seq = m.seq;
  diode_msg_clear (&m);
  raw_send_frame (h->pub, diode_msg_encode_caps ("video/x-test"));
  /* The held viewer is answered at the first keyframe (docs/protocol.md
   * section 8): frame 0 is one. */
  honest_send_frame (h);
  raw_expect_next (h->view, DIODE_MSG_SUBSCRIBE_OK, &m, "honest viewer");
  fail_unless_equals_uint64 (m.seq, h->first_seq);
  diode_msg_clear (&m);
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
void
honest_step (Honest * h)
{
  honest_send_frame (h);
  /* both ends send something every keepalive period (800 ms): a viewer
   * only reading media would be closed as silent. By time, not by frame:
   * a step may come late while attackers are served. */
  if (g_get_monotonic_time () - h->last_ping > 300 * 1000) {
    raw_send_frame (h->view, diode_msg_encode_ping (h->sent));
    h->last_ping = g_get_monotonic_time ();
  }
  honest_drain (h, h->pub, FALSE);
  honest_drain (h, h->view, TRUE);
}

/* The last frames arrive, then the verdict. */
void
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


static void
attacker_connect (Attacker * a)
{
  if (a->no_hello)
    a->c = raw_open_fd_addr (a->rp->address,
        tcp_connect_from (NULL, a->rp->port, a->rcvbuf), a->key);
  else
    a->c = proc_hello (a->rp, a->rcvbuf, a->key, a->role);
  if (a->setup) {
    gsize len;
    const guint8 *d = g_bytes_get_data (a->setup, &len);

    fail_unless (raw_send (a->c, d, len));
  }
  a->off = 0;
}

/* Pushes for at most @ms without blocking. */
void
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
    if (a->make_unit && a->made != a->units + 1) {
      g_byte_array_set_size (a->unit, 0);
      a->make_unit (a->unit, a->units, a->make_data);
      a->made = a->units + 1;
    }
    n = raw_try_send (a->c, a->unit->data + a->off, a->unit->len - a->off);
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

void
attacker_free (Attacker * a)
{
  if (a->c)
    raw_free (a->c, FALSE);
  g_byte_array_unref (a->unit);
  if (a->setup)
    g_bytes_unref (a->setup);
}

void
append_frame (GByteArray * a, GBytes * frame)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);

  g_byte_array_append (a, d, len);
  g_bytes_unref (frame);
}

gchar **
many_addresses (guint n)
{
  gchar **v = g_new0 (gchar *, n + 1);
  guint i;

  for (i = 0; i < n; i++)
    v[i] = g_strdup_printf ("0x%040x", i + 1);
  return v;
}

/* Runs the honest pair for @seconds while @a attacks; checks RSS. */
void
run_attack (FixtureRelayProc * rp, Attacker * a, guint seconds,
    const gchar * name, guint64 max_growth_kb)
{
  Honest h;
  guint64 rss0, rss, rss_max = 0;
  gint64 t0, end;
  guint i, n_attackers = 0;
  Attacker *x;

  for (x = a; x; x = x->next)
    n_attackers++;
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

    /* The attackers share half a period, so the honest pair keeps its
     * pace (and its keepalive) however many attackers there are. */
    for (x = a; x; x = x->next)
      attacker_push (x, MAX (1, PERIOD_MS / 2 / n_attackers));
    if (g_get_monotonic_time () >= due)
      honest_step (&h);
    else
      g_usleep (1000);
    rss = fixture_proc_rss_kb (rp->pid);
    rss_max = MAX (rss_max, rss);
  }
  {
    guint64 bytes = 0, units = 0, reconnects = 0;

    for (x = a; x; x = x->next) {
      bytes += x->bytes;
      units += x->units;
      reconnects += x->reconnects;
    }
    g_print ("%s: attackers sent %" G_GUINT64_FORMAT " bytes (%"
        G_GUINT64_FORMAT " units, %" G_GUINT64_FORMAT " reconnections); "
        "relay RSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT
        " KiB at most (+%" G_GINT64_FORMAT " KiB)\n", name, bytes, units,
        reconnects, rss0, rss_max, (gint64) rss_max - (gint64) rss0);
  }
  honest_finish (&h, name);
  fail_unless (rss_max < rss0 + max_growth_kb, "%s: the relay grew by %"
      G_GUINT64_FORMAT " KiB", name, rss_max - rss0);
}
