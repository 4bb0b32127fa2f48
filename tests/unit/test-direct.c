/* gst-diode — unit tests: direct paths over real ICE, the test as the relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A DiodeDirectServer (the publisher's end) and DiodeDirectViewers in one
 * process, on loopback, with real libnice agents (ext/nice), real TLS and
 * the diode protocol. The test plays the relay of docs/protocol.md 17.6:
 * it carries SIGNAL frames between the ends, mapping the viewer's sid to
 * an id of its own for the publisher and filling `peer` with the address
 * of the end a frame came from, and rewrites nothing else; or, in the
 * cases that say so, it lies in `peer` the way a hostile relay could.
 * Host candidates only (DIODE_ICE_LOCAL_ADDRESSES=127.0.0.1). Every wait
 * is bounded.
 */
#include <gst/check/gstcheck.h>

#include <gio/gio.h>
#include <string.h>

#include "diode-direct.h"
#include "diode-direct-private.h"
#include "directcheck.h"

#define CONNECT_MS 20000
#define MAX_VIEWERS 4

typedef struct {
  DiodeIdentity *pub_id, *other_id;
  DiodeIdentity *view_id[MAX_VIEWERS];
  DiodeDirectServer *server;
  DiodeDirectViewer *viewer[MAX_VIEWERS];
  guint32 viewer_sid[MAX_VIEWERS];   /* learnt from the OFFER */
  guint32 relay_sid[MAX_VIEWERS];    /* ours, towards the publisher */
  const gchar *lie_viewer;           /* peer put in what the publisher gets */
  const gchar *lie_publisher;        /* peer put in what viewers get */
  guint forwarded;
  GPtrArray *pushed;
  DiodeIceTransport transport;       /* both ends' */
} Relay;

static DiodeMsg
reencode (const DiodeMsg * in, guint32 sid, const gchar * peer)
{
  DiodeMsg out = { 0 };
  GBytes *f = diode_msg_encode_signal (sid, in->signal_kind, peer,
      in->signal_data);

  fail_unless (f != NULL);
  fail_unless (diode_msg_parse_v (f, 4, DIODE_ROLE_VIEWER, &out, NULL));
  g_bytes_unref (f);
  return out;
}

static gboolean
parse (GBytes * f, DiodeMsg * m)
{
  GError *err = NULL;
  gboolean ok = diode_msg_parse_v (f, 4, DIODE_ROLE_VIEWER, m, &err);

  fail_unless (ok, "a SIGNAL the ends sent does not parse: %s",
      err ? err->message : "");
  fail_unless (m->peer == NULL, "a client sent a non-empty peer");
  g_bytes_unref (f);
  return ok;
}

/* One pass of the relay: every SIGNAL waiting on either side, forwarded. */
static void
relay_pump (Relay * r)
{
  guint i;
  GBytes *f;

  for (i = 0; i < MAX_VIEWERS; i++) {
    if (!r->viewer[i])
      continue;
    while ((f = diode_direct_viewer_next_signal (r->viewer[i]))) {
      DiodeMsg m = { 0 }, out;

      parse (f, &m);
      if (m.signal_kind == DIODE_SIGNAL_OFFER) {
        r->viewer_sid[i] = m.sid;
        r->relay_sid[i] = 40 + i;
      }
      if (m.sid == r->viewer_sid[i] && r->relay_sid[i]) {
        out = reencode (&m, r->relay_sid[i], r->lie_viewer ? r->lie_viewer
            : diode_identity_get_address (r->view_id[i]));
        diode_direct_server_handle_signal (r->server, &out);
        diode_msg_clear (&out);
        r->forwarded++;
      }
      diode_msg_clear (&m);
    }
  }
  while ((f = diode_direct_server_next_signal (r->server))) {
    DiodeMsg m = { 0 }, out;

    parse (f, &m);
    for (i = 0; i < MAX_VIEWERS; i++) {
      if (r->viewer[i] && r->relay_sid[i] == m.sid) {
        out = reencode (&m, r->viewer_sid[i], r->lie_publisher
            ? r->lie_publisher : diode_identity_get_address (r->pub_id));
        diode_direct_viewer_handle_signal (r->viewer[i], &out);
        diode_msg_clear (&out);
        r->forwarded++;
      }
    }
    diode_msg_clear (&m);
  }
}

/* The next event of viewer @i, relaying meanwhile. */
static DiodeDirectEvent
relay_until_event (Relay * r, guint i, DiodeMsg * msg, gchar ** text,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    DiodeDirectEvent e;

    relay_pump (r);
    e = diode_direct_viewer_next (r->viewer[i], msg, text);
    if (e != DIODE_DIRECT_NONE || g_get_monotonic_time () >= end)
      return e;
    g_usleep (2000);
  }
}

static void
relay_init_transport (Relay * r, guint max_viewers,
    DiodeDirectAdmitFunc admit, DiodeIceTransport transport)
{
  DiodeDirectServerConfig sc = { 0 };
  GError *err = NULL;
  guint i;

  memset (r, 0, sizeof *r);
  r->pub_id = dc_identity ("pub");
  r->other_id = dc_identity ("other");
  for (i = 0; i < MAX_VIEWERS; i++)
    r->view_id[i] = dc_identity ("view");
  sc.identity = r->pub_id;
  sc.stream = "cam";
  sc.max_viewers = max_viewers;
  sc.admit = admit;
  sc.transport = transport;
  r->transport = transport;
  r->server = diode_direct_server_new (&sc, &err);
  fail_unless (r->server != NULL, "server: %s", err ? err->message : "");
  r->pushed = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
relay_init (Relay * r, guint max_viewers, DiodeDirectAdmitFunc admit)
{
  relay_init_transport (r, max_viewers, admit, DIODE_ICE_PSEUDOTCP);
}

static void
relay_clear (Relay * r)
{
  guint i;

  for (i = 0; i < MAX_VIEWERS; i++) {
    diode_direct_viewer_free (r->viewer[i]);
    diode_identity_unref (r->view_id[i]);
  }
  diode_direct_server_free (r->server);
  diode_identity_unref (r->pub_id);
  diode_identity_unref (r->other_id);
  g_ptr_array_unref (r->pushed);
}

static void
start_viewer (Relay * r, guint i, const gchar * publisher, guint64 next_seq,
    gsize queue_bytes)
{
  DiodeDirectViewerConfig vc = { 0 };
  GError *err = NULL;

  vc.identity = r->view_id[i];
  vc.stream = "cam";
  vc.publisher = publisher;
  vc.transport = r->transport;
  vc.queue_bytes = queue_bytes;
  r->viewer[i] = diode_direct_viewer_new (&vc, &err);
  fail_unless (r->viewer[i] != NULL, "viewer: %s", err ? err->message : "");
  diode_direct_viewer_set_next_seq (r->viewer[i], next_seq);
  diode_direct_viewer_start (r->viewer[i]);
}

static void
push_range (Relay * r, guint64 from, guint64 to, guint gop, gsize size)
{
  guint64 seq;

  if (r->pushed->len == 0) {
    GBytes *c = dc_caps ();

    g_ptr_array_add (r->pushed, c);
    diode_direct_server_push_frame (r->server, c);
  }
  for (seq = from; seq <= to; seq++) {
    GBytes *m = dc_media (seq, (seq - 1) % gop == 0, size);

    g_ptr_array_set_size (r->pushed, MAX (r->pushed->len, seq + 1));
    g_ptr_array_index (r->pushed, seq) = m;
    diode_direct_server_push_frame (r->server, m);
  }
}

static void
expect_up (Relay * r, guint i)
{
  gchar *text = NULL;
  DiodeDirectEvent e = relay_until_event (r, i, NULL, &text, CONNECT_MS);

  fail_unless_equals_int (e, DIODE_DIRECT_UP);
  /* the pair ICE selected: loopback host candidates */
  fail_unless (text && strstr (text, "host"), "pair '%s'", text);
  g_free (text);
}

static void
expect_msg (Relay * r, guint i, guint type, guint64 seq)
{
  DiodeMsg m = { 0 };
  DiodeDirectEvent e = relay_until_event (r, i, &m, NULL, 10000);

  fail_unless_equals_int (e, DIODE_DIRECT_MSG);
  fail_unless_equals_int (m.type, type);
  if (type == DIODE_MSG_MEDIA)
    fail_unless_equals_uint64 (m.seq, seq);
  fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (r->pushed,
              type == DIODE_MSG_CAPS ? 0 : seq)), "frame %" G_GUINT64_FORMAT
      " is not the one pushed", seq);
  diode_msg_clear (&m);
}

static void
expect_down (Relay * r, guint i, const gchar * why)
{
  gchar *text = NULL;
  DiodeMsg m = { 0 };
  DiodeDirectEvent e = relay_until_event (r, i, &m, &text, CONNECT_MS);

  fail_unless (e == DIODE_DIRECT_DOWN, "event %d (MSG %s) before DOWN", e,
      e == DIODE_DIRECT_MSG ? diode_msg_type_name (m.type) : "-");
  fail_unless (text && strstr (text, why), "DOWN says '%s', not '%s'", text,
      why);
  g_free (text);
}

GST_START_TEST (test_direct_frames)
{
  Relay r;
  guint64 seq;
  DiodeDirectServerStats ss;
  DiodeDirectViewerStats vs;

  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 20, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 15, 0);
  expect_up (&r, 0);
  /* held: from 15, its chunk's caps first; same bytes, same seqs */
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  for (seq = 15; seq <= 20; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
  /* live: 1 MiB through pseudo-TCP */
  push_range (&r, 21, 52, 10, 32 * 1024);
  for (seq = 21; seq <= 52; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);

  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_int (ss.viewers, 1);
  fail_unless_equals_uint64 (ss.offers, 1);
  fail_unless_equals_uint64 (ss.sessions, 1);
  diode_direct_viewer_get_stats (r.viewer[0], &vs);
  fail_unless (vs.bytes_received > 32 * 32 * 1024);
  fail_unless (vs.pair != NULL);
  g_free (vs.pair);
  fail_unless (r.forwarded >= 4, "only %u SIGNALs went through", r.forwarded);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_two_viewers)
{
  Relay r;
  guint64 seq;
  DiodeDirectServerStats ss;

  /* two direct sessions at once, one ring: each its own start, both the
   * same bytes */
  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 20, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  start_viewer (&r, 1, diode_identity_get_address (r.pub_id), 17, 0);
  expect_up (&r, 0);
  expect_up (&r, 1);
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  expect_msg (&r, 1, DIODE_MSG_CAPS, 0);
  for (seq = 11; seq <= 20; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
  for (seq = 17; seq <= 20; seq++)
    expect_msg (&r, 1, DIODE_MSG_MEDIA, seq);
  push_range (&r, 21, 40, 10, 16 * 1024);
  for (seq = 21; seq <= 40; seq++) {
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
    expect_msg (&r, 1, DIODE_MSG_MEDIA, seq);
  }
  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_int (ss.viewers, 2);
  fail_unless_equals_uint64 (ss.sessions, 2);
  fail_unless_equals_uint64 (ss.offers, 2);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_frames_ice_tcp)
{
  Relay r;
  guint64 seq;

  /* the other transport: ICE-TCP candidates only, TCP as the stream */
  relay_init_transport (&r, 4, dc_admit_all, DIODE_ICE_TCP);
  push_range (&r, 1, 12, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 5, 0);
  expect_up (&r, 0);
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  for (seq = 5; seq <= 12; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
  push_range (&r, 13, 44, 10, 32 * 1024);
  for (seq = 13; seq <= 44; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_not_held)
{
  Relay r;
  guint64 seq;

  /* seq 0 (a viewer that has nothing yet): the latest keyframe chunk */
  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 25, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_up (&r, 0);
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  for (seq = 21; seq <= 25; seq++)
    expect_msg (&r, 0, DIODE_MSG_MEDIA, seq);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_relay_lies_about_viewer)
{
  Relay r;
  DiodeDirectServerStats ss;

  /* the relay says the OFFER comes from `other` (whom the publisher
   * admits): ICE connects, TLS proves who the viewer is, the server
   * refuses it and CLOSEs; the viewer gets no media */
  relay_init (&r, 4, dc_admit_all);
  r.lie_viewer = diode_identity_get_address (r.other_id);
  push_range (&r, 1, 10, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_down (&r, 0, "");
  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_uint64 (ss.sessions, 0);
  fail_unless_equals_uint64 (ss.bytes_sent, 0);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_relay_lies_about_publisher)
{
  Relay r;

  /* the viewer pins `other`; the relay hands it this publisher's
   * candidates and says they are `other`'s: TLS shows the truth */
  relay_init (&r, 4, dc_admit_all);
  r.lie_publisher = diode_identity_get_address (r.other_id);
  push_range (&r, 1, 10, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.other_id), 0, 0);
  expect_down (&r, 0, "not the stream's publisher");
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_wrong_publisher_answers)
{
  Relay r;

  /* an honest relay: the ANSWER comes from a publisher that is not the one
   * the viewer pinned; no need to try */
  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 10, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.other_id), 0, 0);
  expect_down (&r, 0, "another publisher");
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_admit_refuses)
{
  Relay r;
  DiodeDirectServerStats ss;

  relay_init (&r, 4, dc_admit_none);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_down (&r, 0, "not authorized");
  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_uint64 (ss.refused, 1);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_max)
{
  Relay r;
  DiodeDirectServerStats ss;

  relay_init (&r, 1, dc_admit_all);
  push_range (&r, 1, 10, 10, 2000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_up (&r, 0);
  start_viewer (&r, 1, diode_identity_get_address (r.pub_id), 0, 0);
  expect_down (&r, 1, "too many direct sessions");
  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_int (ss.viewers, 1);
  fail_unless_equals_uint64 (ss.refused, 1);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_queue_bound)
{
  Relay r;
  gchar *text = NULL;
  DiodeMsg m = { 0 };
  DiodeDirectEvent e;
  gsize bytes = 0;
  guint n;

  /* the element takes nothing after UP: past 256 KiB the viewer is DOWN,
   * what it queued within the bound */
  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 1, 100, 1000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 256 * 1024);
  expect_up (&r, 0);
  push_range (&r, 2, 40, 100, 16 * 1024);
  /* its CLOSE goes through the relay: the server ends the session */
  for (n = 0; n < 500; n++) {
    DiodeDirectServerStats ss;

    relay_pump (&r);
    diode_direct_server_get_stats (r.server, &ss);
    if (ss.viewers == 0)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless (n < 500, "the server kept the session");
  for (n = 0; n < 1000; n++) {
    e = diode_direct_viewer_next (r.viewer[0], &m, &text);
    if (e != DIODE_DIRECT_MSG)
      break;
    bytes += g_bytes_get_size (m.frame);
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
  fail_unless (strstr (text, "fell behind"), "DOWN: %s", text);
  fail_unless (bytes <= 256 * 1024);
  g_free (text);
  relay_clear (&r);
}

GST_END_TEST;

GST_START_TEST (test_direct_backlog_bound)
{
  Relay r;
  DiodeDirectServerStats ss;
  guint64 seq;

  /* a viewer that stops reading its direct session: the publisher closes
   * it when it is 2 MiB behind (or after 3 s without progress), and its
   * write queue never held more than 256 KiB + a frame */
  relay_init (&r, 4, dc_admit_all);
  push_range (&r, 1, 1, 10, 1000);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_up (&r, 0);
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  expect_msg (&r, 0, DIODE_MSG_MEDIA, 1);
  direct_viewer_test_stop_reading (r.viewer[0]);
  g_usleep (100 * 1000);
  for (seq = 2; seq <= 97; seq++) {
    GBytes *m = dc_media (seq, (seq - 1) % 10 == 0, 32 * 1024);

    diode_direct_server_push_frame (r.server, m);
    g_bytes_unref (m);
  }
  /* the CLOSE reaches the viewer through the relay: DOWN, its reason */
  {
    gchar *text = NULL;
    DiodeMsg m = { 0 };
    DiodeDirectEvent e;
    guint n;

    for (n = 0; n < 100; n++) {
      e = relay_until_event (&r, 0, &m, &text, 10000);
      diode_msg_clear (&m);
      if (e != DIODE_DIRECT_MSG)
        break;
    }
    fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
    fail_unless (text && (strstr (text, "fell behind")
            || strstr (text, "no write progress")), "DOWN: %s", text);
    g_free (text);
  }
  diode_direct_server_get_stats (r.server, &ss);
  fail_unless_equals_int (ss.viewers, 0);
  fail_unless (direct_server_test_queue_peak (r.server)
      <= 256 * 1024 + 32 * 1024 + 64, "write queue reached %" G_GSIZE_FORMAT,
      direct_server_test_queue_peak (r.server));
  relay_clear (&r);
}

GST_END_TEST;

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
rate_run (DiodeIceTransport transport, const gchar * name)
{
  Relay r;
  const guint fps = 30, seconds = 3, n = fps * seconds;
  const gsize size = 4000000 / 8 / fps;        /* 4 Mbit/s */
  gint64 *pushed_at = g_new0 (gint64, n + 2);
  GArray *lat = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 start, end;
  guint64 next = 2, got = 1;
  gint64 p50, p99;

  /* a paced 4 Mbit/s stream over pseudo-TCP on loopback: every frame
   * arrives, in order, identical; the latency the direct layer adds
   * (push to event, both ends in this process) is printed */
  relay_init_transport (&r, 4, dc_admit_all, transport);
  push_range (&r, 1, 1, 30, size);
  start_viewer (&r, 0, diode_identity_get_address (r.pub_id), 0, 0);
  expect_up (&r, 0);
  expect_msg (&r, 0, DIODE_MSG_CAPS, 0);
  expect_msg (&r, 0, DIODE_MSG_MEDIA, 1);
  start = g_get_monotonic_time ();
  end = start + (gint64) (seconds + 10) * G_USEC_PER_SEC;
  while (got < n + 1 && g_get_monotonic_time () < end) {
    gint64 now = g_get_monotonic_time ();
    DiodeMsg m = { 0 };
    gchar *text = NULL;
    DiodeDirectEvent e;

    if (next <= n + 1 && now >= start + (gint64) (next - 2) * G_USEC_PER_SEC
        / fps) {
      GBytes *f = dc_media (next, (next - 1) % fps == 0, size);

      g_ptr_array_set_size (r.pushed, MAX (r.pushed->len, next + 1));
      g_ptr_array_index (r.pushed, next) = f;
      pushed_at[next] = g_get_monotonic_time ();
      diode_direct_server_push_frame (r.server, f);
      next++;
    }
    relay_pump (&r);
    while ((e = diode_direct_viewer_next (r.viewer[0], &m, &text))
        == DIODE_DIRECT_MSG) {
      gint64 l = g_get_monotonic_time () - pushed_at[m.seq];

      fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
      fail_unless_equals_uint64 (m.seq, got + 1);
      fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (r.pushed,
                  m.seq)));
      g_array_append_val (lat, l);
      got = m.seq;
      diode_msg_clear (&m);
    }
    fail_unless (e == DIODE_DIRECT_NONE, "DOWN: %s", text);
    g_usleep (500);
  }
  fail_unless_equals_uint64 (got, n + 1);
  g_array_sort (lat, cmp_i64);
  p50 = g_array_index (lat, gint64, lat->len / 2);
  p99 = g_array_index (lat, gint64, lat->len * 99 / 100);
  g_printerr ("direct path, 4 Mbit/s (%u frames of %" G_GSIZE_FORMAT
      " bytes at %u fps) over %s on loopback: latency p50 %"
      G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT " us\n", n, size, fps,
      name, p50, p99);
  /* not a benchmark (bench/ has those): a bound that only a stuck path
   * (frames waiting for a keepalive or a retransmission timeout) breaks,
   * with room for ASan and a loaded shared machine */
  fail_unless (p99 < G_USEC_PER_SEC, "p99 %" G_GINT64_FORMAT " us", p99);
  g_array_unref (lat);
  g_free (pushed_at);
  relay_clear (&r);
}

GST_START_TEST (test_direct_rate)
{
  rate_run (DIODE_ICE_PSEUDOTCP, "ICE pseudo-TCP");
}

GST_END_TEST;

GST_START_TEST (test_direct_rate_ice_tcp)
{
  rate_run (DIODE_ICE_TCP, "ICE-TCP");
}

GST_END_TEST;

static Suite *
direct_suite (void)
{
  Suite *s = suite_create ("direct");
  TCase *tc = tcase_create ("direct");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 90);
  tcase_add_test (tc, test_direct_frames);
  tcase_add_test (tc, test_direct_two_viewers);
  tcase_add_test (tc, test_direct_frames_ice_tcp);
  tcase_add_test (tc, test_direct_not_held);
  tcase_add_test (tc, test_direct_relay_lies_about_viewer);
  tcase_add_test (tc, test_direct_relay_lies_about_publisher);
  tcase_add_test (tc, test_direct_wrong_publisher_answers);
  tcase_add_test (tc, test_direct_admit_refuses);
  tcase_add_test (tc, test_direct_max);
  tcase_add_test (tc, test_direct_queue_bound);
  tcase_add_test (tc, test_direct_backlog_bound);
  tcase_add_test (tc, test_direct_rate);
  tcase_add_test (tc, test_direct_rate_ice_tcp);
  return s;
}

int
main (int argc, char **argv)
{
  int ret;

  dc_setup_tmp ("direct");
  /* host candidates on loopback only: no STUN, no other interfaces */
  g_setenv ("DIODE_ICE_LOCAL_ADDRESSES", "127.0.0.1", TRUE);
  gst_check_init (&argc, &argv);
  ret = gst_check_run_suite (direct_suite (), "direct", __FILE__);
  dc_teardown_tmp ();
  return ret;
}
