/* gst-diode — unit tests: the direct session over a connected byte stream
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What runs once ICE is up (docs/protocol.md 17.7): TLS 1.3 with both
 * address checks, the diode protocol with the publisher in the relay's
 * place, the ring and the bounds. DiodeIce hands the direct layer one end
 * of a socketpair; here a socketpair made by the test takes its place
 * (the test hooks of diode-direct-private.h run exactly what
 * DIODE_ICE_EVENT_CONNECTED runs), so these tests need no ICE.
 * test-direct.c runs the same ends over real ICE with the test as relay.
 * Every wait is bounded.
 */
#include <gst/check/gstcheck.h>

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diode-direct.h"
#include "diode-direct-private.h"
#include "diode-session.h"
#include "diode-tls.h"
#include "directcheck.h"

#define WAIT_MS 5000

typedef struct {
  DiodeIdentity *pub_id, *view_id, *other_id;
  DiodeDirectServer *server;
  DiodeDirectViewer *viewer;
  GPtrArray *pushed;            /* GBytes frames pushed, index = seq (0: caps) */
} Fixture;

static void
make_pair (int fds[2])
{
  fail_unless (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  fail_unless (fcntl (fds[0], F_SETFL, O_NONBLOCK) == 0);
  fail_unless (fcntl (fds[1], F_SETFL, O_NONBLOCK) == 0);
}

static void
fixture_init (Fixture * f, guint max_viewers, DiodeDirectAdmitFunc admit)
{
  DiodeDirectServerConfig sc = { 0 };
  GError *err = NULL;

  memset (f, 0, sizeof *f);
  f->pub_id = dc_identity ("pub");
  f->view_id = dc_identity ("view");
  f->other_id = dc_identity ("other");
  sc.identity = f->pub_id;
  sc.stream = "cam";
  sc.max_viewers = max_viewers;
  sc.admit = admit;
  f->server = diode_direct_server_new (&sc, &err);
  fail_unless (f->server != NULL, "server: %s", err ? err->message : "");
  f->pushed = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static DiodeDirectViewer *
make_viewer (Fixture * f, const gchar * publisher, guint64 next_seq,
    gsize queue_bytes)
{
  DiodeDirectViewerConfig vc = { 0 };
  GError *err = NULL;
  DiodeDirectViewer *v;

  vc.identity = f->view_id;
  vc.stream = "cam";
  vc.publisher = publisher;
  vc.queue_bytes = queue_bytes;
  v = diode_direct_viewer_new (&vc, &err);
  fail_unless (v != NULL, "viewer: %s", err ? err->message : "");
  diode_direct_viewer_set_next_seq (v, next_seq);
  return v;
}

static void
fixture_clear (Fixture * f)
{
  diode_direct_viewer_free (f->viewer);
  diode_direct_server_free (f->server);
  g_ptr_array_unref (f->pushed);
  diode_identity_unref (f->pub_id);
  diode_identity_unref (f->view_id);
  diode_identity_unref (f->other_id);
}

/* Pushes CAPS (once) and MEDIA @from..@to, a keyframe every @gop. */
static void
push_range (Fixture * f, guint64 from, guint64 to, guint gop, gsize size)
{
  guint64 seq;

  if (f->pushed->len == 0) {
    GBytes *c = dc_caps ();

    g_ptr_array_add (f->pushed, c);
    diode_direct_server_push_frame (f->server, c);
  }
  for (seq = from; seq <= to; seq++) {
    GBytes *m = dc_media (seq, (seq - 1) % gop == 0, size);

    g_ptr_array_set_size (f->pushed, MAX (f->pushed->len, seq + 1));
    g_ptr_array_index (f->pushed, seq) = m;
    diode_direct_server_push_frame (f->server, m);
  }
}

/* Connects the viewer to the server over a socketpair, the server told
 * that the relay vouched for @vouched. */
static void
connect_pair (Fixture * f, guint32 sid, const gchar * vouched)
{
  int fds[2];

  make_pair (fds);
  direct_server_test_adopt (f->server, sid, vouched, fds[0]);
  direct_viewer_test_adopt (f->viewer, fds[1]);
}

static void
expect_up (DiodeDirectViewer * v)
{
  gchar *text = NULL;
  DiodeDirectEvent e = dc_viewer_next (v, NULL, &text, WAIT_MS);

  fail_unless_equals_int (e, DIODE_DIRECT_UP);
  fail_unless (text != NULL);
  g_free (text);
}

/* The next MSG: must be MEDIA @seq, byte-identical to what was pushed. */
static void
expect_media (Fixture * f, guint64 seq)
{
  DiodeMsg m = { 0 };
  DiodeDirectEvent e = dc_viewer_next (f->viewer, &m, NULL, WAIT_MS);

  fail_unless_equals_int (e, DIODE_DIRECT_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
  fail_unless_equals_uint64 (m.seq, seq);
  fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (f->pushed, seq)),
      "MEDIA %" G_GUINT64_FORMAT " differs from what was pushed", seq);
  diode_msg_clear (&m);
}

static void
expect_caps (Fixture * f)
{
  DiodeMsg m = { 0 };
  DiodeDirectEvent e = dc_viewer_next (f->viewer, &m, NULL, WAIT_MS);

  fail_unless_equals_int (e, DIODE_DIRECT_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  fail_unless (g_bytes_equal (m.frame, g_ptr_array_index (f->pushed, 0)));
  diode_msg_clear (&m);
}

/* The viewer's DOWN, with no MSG before it; its text contains @why. */
static void
expect_down_no_media (DiodeDirectViewer * v, const gchar * why)
{
  DiodeMsg m = { 0 };
  gchar *text = NULL;
  DiodeDirectEvent e = dc_viewer_next (v, &m, &text, WAIT_MS);

  fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
  fail_unless (text && strstr (text, why), "DOWN says '%s', not '%s'",
      text, why);
  g_free (text);
  fail_unless_equals_int (diode_direct_viewer_next (v, &m, &text),
      DIODE_DIRECT_NONE);
}

/* The server's CLOSE for @sid, whose reason contains @why. */
static void
expect_server_close_within (Fixture * f, guint32 sid, const gchar * why,
    guint ms)
{
  DiodeMsg m = { 0 };

  fail_unless (dc_server_signal (f->server, &m, ms), "no CLOSE");
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
  fail_unless_equals_int (m.sid, sid);
  fail_unless (strstr (m.signal_data, why), "CLOSE says '%s', not '%s'",
      m.signal_data, why);
  diode_msg_clear (&m);
}

static void
expect_server_close (Fixture * f, guint32 sid, const gchar * why)
{
  expect_server_close_within (f, sid, why, WAIT_MS);
}

GST_START_TEST (test_frames_identical)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeDirectViewerStats vs;
  guint64 seq;

  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 30, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 7, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  /* no seq asked: the latest keyframe chunk, its caps first */
  expect_caps (&f);
  for (seq = 21; seq <= 30; seq++)
    expect_media (&f, seq);
  /* then live, as pushed */
  push_range (&f, 31, 45, 10, 3000);
  for (seq = 31; seq <= 45; seq++)
    expect_media (&f, seq);

  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_int (ss.viewers, 1);
  fail_unless_equals_uint64 (ss.sessions, 1);
  fail_unless (ss.bytes_sent >= 10 * 1000 + 15 * 3000);
  diode_direct_viewer_get_stats (f.viewer, &vs);
  fail_unless (vs.bytes_received >= 10 * 1000 + 15 * 3000);
  fail_unless_equals_string (vs.pair, "socketpair");
  g_free (vs.pair);

  /* the viewer goes: the server ends the session and tells the relay */
  diode_direct_viewer_free (f.viewer);
  f.viewer = NULL;
  expect_server_close (&f, 7, "closed by the peer");
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_int (ss.viewers, 0);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_start_seq_held)
{
  Fixture f;
  guint64 seq;

  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 30, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 15, 0);
  connect_pair (&f, 3, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  /* the caps of seq 15's chunk, then 15 on: no gap, no duplicate */
  expect_caps (&f);
  for (seq = 15; seq <= 30; seq++)
    expect_media (&f, seq);
  push_range (&f, 31, 33, 10, 1000);
  for (seq = 31; seq <= 33; seq++)
    expect_media (&f, seq);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_start_seq_tail)
{
  Fixture f;

  /* the viewer has everything held: the next frame pushed comes first */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 12, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 13, 0);
  connect_pair (&f, 3, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  expect_caps (&f);
  push_range (&f, 13, 14, 10, 1000);
  expect_media (&f, 13);
  expect_media (&f, 14);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_start_seq_not_held)
{
  Fixture f;
  guint64 seq;

  /* 80 frames of 100 KiB, a chunk of 10 each: the 4 MiB ring has dropped
   * seq 5 long ago; the viewer starts at the latest keyframe chunk */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 80, 10, 100 * 1024);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 5, 0);
  connect_pair (&f, 3, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  expect_caps (&f);
  for (seq = 71; seq <= 80; seq++)
    expect_media (&f, seq);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_wrong_publisher)
{
  Fixture f;
  DiodeMsg m = { 0 };

  /* the viewer pins another publisher: the TLS check refuses this one */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.other_id), 0, 0);
  connect_pair (&f, 9, diode_identity_get_address (f.view_id));
  expect_down_no_media (f.viewer, "not the stream's publisher");
  /* and the viewer CLOSEs its session through the relay */
  fail_unless (dc_viewer_signal (f.viewer, &m, WAIT_MS));
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
  fail_unless_equals_int (m.sid, direct_viewer_test_sid (f.viewer));
  diode_msg_clear (&m);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_relay_lies_in_peer)
{
  Fixture f;
  DiodeDirectServerStats ss;

  /* the relay said the OFFER came from another viewer (one the publisher
   * admits, say): the TLS client proves it is not that one */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 11, diode_identity_get_address (f.other_id));
  expect_server_close (&f, 11, "not the one offered");
  /* the viewer sees the connection end before any media */
  {
    gchar *text = NULL;
    DiodeMsg m = { 0 };

    fail_unless_equals_int (dc_viewer_next (f.viewer, &m, &text, WAIT_MS),
        DIODE_DIRECT_DOWN);
    g_free (text);
  }
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_uint64 (ss.sessions, 0);
  fail_unless_equals_uint64 (ss.bytes_sent, 0);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_admit_refuses_offer)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeMsg offer = { 0 }, m = { 0 };
  GBytes *frame;

  fixture_init (&f, 4, dc_admit_none);
  frame = diode_msg_encode_signal (21, DIODE_SIGNAL_OFFER,
      diode_identity_get_address (f.view_id),
      "abcd 0123456789abcdefghijklmn");
  fail_unless (diode_msg_parse_v (frame, 4, DIODE_ROLE_PUBLISHER, &offer,
          NULL));
  g_bytes_unref (frame);
  diode_direct_server_handle_signal (f.server, &offer);
  diode_msg_clear (&offer);
  fail_unless (dc_server_signal (f.server, &m, WAIT_MS));
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
  fail_unless_equals_int (m.sid, 21);
  fail_unless_equals_string (m.signal_data, "not authorized");
  diode_msg_clear (&m);
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_uint64 (ss.offers, 1);
  fail_unless_equals_uint64 (ss.refused, 1);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_close_never_dropped)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeMsg offer = { 0 }, m = { 0 };
  GBytes *frame;
  guint32 sid;
  guint n = 0, i;
  const guint offers = 1100;    /* past the SIGNAL queue's 1024 */

  /* Refused OFFERs while nothing drains the queue: every one still gets
   * its CLOSE (a dropped CLOSE leaves a viewer waiting for its timeout) */
  fixture_init (&f, 4, dc_admit_none);
  for (sid = 1; sid <= offers; sid++) {
    frame = diode_msg_encode_signal (sid, DIODE_SIGNAL_OFFER,
        diode_identity_get_address (f.view_id),
        "abcd 0123456789abcdefghijklmn");
    fail_unless (diode_msg_parse_v (frame, 4, DIODE_ROLE_PUBLISHER, &offer,
            NULL));
    g_bytes_unref (frame);
    diode_direct_server_handle_signal (f.server, &offer);
    diode_msg_clear (&offer);
  }
  for (i = 0; i < 500; i++) {
    diode_direct_server_get_stats (f.server, &ss);
    if (ss.refused == offers)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless_equals_uint64 (ss.refused, offers);
  while (dc_server_signal (f.server, &m, 200)) {
    fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
    fail_unless_equals_int (m.sid, n + 1);
    diode_msg_clear (&m);
    n++;
  }
  fail_unless_equals_int (n, offers);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_admit_refuses_at_tls)
{
  Fixture f;

  /* the relay vouched for the viewer, but the publisher's own policy
   * (checked again on the proven address) does not admit it */
  fixture_init (&f, 4, dc_admit_none);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 5, diode_identity_get_address (f.view_id));
  expect_server_close (&f, 5, "not authorized");
  {
    gchar *text = NULL;
    DiodeMsg m = { 0 };

    fail_unless_equals_int (dc_viewer_next (f.viewer, &m, &text, WAIT_MS),
        DIODE_DIRECT_DOWN);
    g_free (text);
  }
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_direct_max)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeMsg offer = { 0 }, m = { 0 };
  GBytes *frame;
  DiodeIdentity *id2;

  /* one session is up; direct-max 1 refuses the next OFFER */
  fixture_init (&f, 1, dc_admit_all);
  id2 = dc_identity ("second");
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 1, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);

  frame = diode_msg_encode_signal (2, DIODE_SIGNAL_OFFER,
      diode_identity_get_address (id2), "abcd 0123456789abcdefghijklmn");
  fail_unless (diode_msg_parse_v (frame, 4, DIODE_ROLE_PUBLISHER, &offer,
          NULL));
  g_bytes_unref (frame);
  diode_direct_server_handle_signal (f.server, &offer);
  diode_msg_clear (&offer);
  fail_unless (dc_server_signal (f.server, &m, WAIT_MS));
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
  fail_unless_equals_int (m.sid, 2);
  fail_unless_equals_string (m.signal_data, "too many direct sessions");
  diode_msg_clear (&m);
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_uint64 (ss.refused, 1);
  fail_unless_equals_int (ss.viewers, 1);
  diode_identity_unref (id2);
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_close_from_relay)
{
  Fixture f;
  DiodeMsg close = { 0 };
  GBytes *frame;
  DiodeDirectServerStats ss;
  gchar *text = NULL;
  DiodeMsg m = { 0 };
  DiodeDirectEvent e;
  gint i;

  /* the relay ends an established session ("viewer gone", a policy
   * change): the server closes it without answering */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 4, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  frame = diode_msg_encode_signal (4, DIODE_SIGNAL_CLOSE,
      diode_identity_get_address (f.view_id), "viewer gone");
  fail_unless (diode_msg_parse_v (frame, 4, DIODE_ROLE_PUBLISHER, &close,
          NULL));
  g_bytes_unref (frame);
  diode_direct_server_handle_signal (f.server, &close);
  diode_msg_clear (&close);
  /* the viewer sees the end after its frames */
  for (i = 0; i < 100; i++) {
    e = dc_viewer_next (f.viewer, &m, &text, WAIT_MS);
    diode_msg_clear (&m);
    if (e != DIODE_DIRECT_MSG)
      break;
  }
  fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
  g_free (text);
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_int (ss.viewers, 0);
  /* nothing goes back to the relay for a session it ended */
  fail_if (dc_server_signal (f.server, &m, 300));
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_relay_reset)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeMsg m = { 0 };
  guint64 seq;
  gint i;

  /* the publisher's relay connection is made again: an established
   * session goes on; it has no relay id any more, so its end is CLOSEd
   * through nothing */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 12, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  expect_caps (&f);
  expect_media (&f, 1);
  diode_direct_server_relay_reset (f.server);
  push_range (&f, 11, 25, 10, 1000);
  for (seq = 2; seq <= 25; seq++)
    expect_media (&f, seq);
  diode_direct_viewer_free (f.viewer);
  f.viewer = NULL;
  /* the session ends (stats), and no CLOSE comes out for it */
  for (i = 0; i < 200; i++) {
    diode_direct_server_get_stats (f.server, &ss);
    if (ss.viewers == 0)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless_equals_int (ss.viewers, 0);
  fail_if (dc_server_signal (f.server, &m, 300), "a CLOSE for a reset id");
  fixture_clear (&f);
}

GST_END_TEST;

/* The publisher's policy as a test flag: admitted while it is set. */
static gint revocable_ok = 1;

static gboolean
admit_revocable (const gchar * viewer, gpointer data)
{
  return g_atomic_int_get (&revocable_ok) != 0;
}

GST_START_TEST (test_recheck_revoked)
{
  Fixture f;
  DiodeDirectServerStats ss;
  gchar *text = NULL;
  DiodeDirectEvent e;
  DiodeMsg m = { 0 };
  gint i;

  /* Admitted at OFFER and TLS; then the relay connection is made again
   * (the session has no relay id: no relay can close it) and the policy
   * changes to exclude the viewer: recheck ends the session. */
  g_atomic_int_set (&revocable_ok, 1);
  fixture_init (&f, 4, admit_revocable);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 21, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  expect_caps (&f);
  expect_media (&f, 1);
  diode_direct_server_relay_reset (f.server);
  /* still admitted: recheck leaves it alone */
  diode_direct_server_recheck (f.server);
  push_range (&f, 11, 12, 10, 1000);
  for (i = 2; i <= 12; i++)
    expect_media (&f, i);

  g_atomic_int_set (&revocable_ok, 0);
  diode_direct_server_recheck (f.server);
  push_range (&f, 13, 14, 10, 1000);
  /* frames already queued may come first; then DOWN, "not authorized" */
  for (i = 0; i < 10; i++) {
    e = dc_viewer_next (f.viewer, &m, &text, WAIT_MS);
    if (e != DIODE_DIRECT_MSG)
      break;
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
  fail_unless (text && strstr (text, "not authorized"), "DOWN says '%s'",
      text);
  g_free (text);
  for (i = 0; i < 200; i++) {
    diode_direct_server_get_stats (f.server, &ss);
    if (ss.viewers == 0)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless_equals_int (ss.viewers, 0);
  /* its relay id is gone: no CLOSE goes out for it */
  fail_if (dc_server_signal (f.server, &m, 300), "a CLOSE for a reset id");
  fixture_clear (&f);
}

GST_END_TEST;

GST_START_TEST (test_recheck_closes_with_sid)
{
  Fixture f;

  /* the same with its relay id: the relay is told, "not authorized" */
  g_atomic_int_set (&revocable_ok, 1);
  fixture_init (&f, 4, admit_revocable);
  push_range (&f, 1, 10, 10, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0, 0);
  connect_pair (&f, 22, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  expect_caps (&f);
  expect_media (&f, 1);
  g_atomic_int_set (&revocable_ok, 0);
  diode_direct_server_recheck (f.server);
  expect_server_close (&f, 22, "not authorized");
  fixture_clear (&f);
}

GST_END_TEST;

/* ---- the loop's teardown ------------------------------------------------ */

static gboolean
set_flag (gpointer data)
{
  g_atomic_int_set ((gint *) data, 1);
  return G_SOURCE_REMOVE;
}

/* On the loop's thread: what nice_agent_close_async leaves behind (a
 * timer on the context, as TURN deallocation's retransmissions are). */
static gboolean
attach_late_timer (gpointer data)
{
  GSource *t = g_timeout_source_new (300);

  g_source_set_callback (t, set_flag, data, NULL);
  g_source_attach (t, g_main_context_get_thread_default ());
  g_source_unref (t);
  return G_SOURCE_REMOVE;
}

GST_START_TEST (test_loop_stop_drains)
{
  DirectLoop l = { 0 };
  gint fired = 0;
  gint64 t0;

  /* work still attached when the loop stops runs first (bounded) */
  direct_loop_start (&l, "test-drain");
  direct_loop_invoke (&l, attach_late_timer, &fired, NULL);
  t0 = g_get_monotonic_time ();
  direct_loop_stop (&l);
  fail_unless (g_atomic_int_get (&fired), "the timer attached before the "
      "stop never ran: it was left on a context being freed");
  fail_unless (g_get_monotonic_time () - t0 < 1500 * 1000);

  /* nothing attached: the stop does not wait for the bound */
  direct_loop_start (&l, "test-drain");
  t0 = g_get_monotonic_time ();
  direct_loop_stop (&l);
  fail_unless (g_get_monotonic_time () - t0 < 500 * 1000,
      "an idle loop took %" G_GINT64_FORMAT " us to stop",
      g_get_monotonic_time () - t0);
}

GST_END_TEST;

GST_START_TEST (test_viewer_queue_bound)
{
  Fixture f;
  DiodeMsg m = { 0 };
  gchar *text = NULL;
  DiodeDirectEvent e;
  gsize bytes = 0;
  guint i;

  /* the element takes nothing: past 64 KiB the direct path is DOWN */
  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 1, 100, 1000);
  f.viewer = make_viewer (&f, diode_identity_get_address (f.pub_id), 0,
      64 * 1024);
  connect_pair (&f, 6, diode_identity_get_address (f.view_id));
  expect_up (f.viewer);
  push_range (&f, 2, 60, 100, 4000);
  /* the viewer closes its session through the relay... */
  fail_unless (dc_viewer_signal (f.viewer, &m, WAIT_MS));
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_CLOSE);
  diode_msg_clear (&m);
  /* ...and what it queued stayed under the bound, DOWN last */
  for (i = 0; i < 1000; i++) {
    e = dc_viewer_next (f.viewer, &m, &text, WAIT_MS);
    if (e != DIODE_DIRECT_MSG)
      break;
    bytes += g_bytes_get_size (m.frame);
    diode_msg_clear (&m);
  }
  fail_unless_equals_int (e, DIODE_DIRECT_DOWN);
  fail_unless (strstr (text, "fell behind"), "DOWN: %s", text);
  fail_unless (bytes <= 64 * 1024, "%" G_GSIZE_FORMAT " bytes queued", bytes);
  g_free (text);
  fixture_clear (&f);
}

GST_END_TEST;

/* ---- a viewer that stops reading --------------------------------------- */

/* Drives a TLS client on @fd through HELLO/WELCOME/SUBSCRIBE/SUBSCRIBE_OK
 * by hand, then leaves it: nothing more is read. */
static DiodeTls *
raw_viewer_steps (DiodeIdentity * id, int fd, DiodeSession ** out_session,
    guint steps)
{
  GError *err = NULL;
  DiodeTls *t = diode_tls_new_client (fd, id, NULL, &err);
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);
  gint64 end = g_get_monotonic_time () + WAIT_MS * 1000;
  DiodeTlsStatus st;
  GBytes *frames[2];
  guint step = 0;
  guint8 buf[16384];

  fail_unless (t != NULL);
  while ((st = diode_tls_handshake (t, &err)) == DIODE_TLS_AGAIN) {
    struct pollfd p = { fd, diode_tls_wants_write (t) ? POLLOUT : POLLIN };

    fail_unless (g_get_monotonic_time () < end, "handshake timed out");
    poll (&p, 1, 100);
  }
  fail_unless_equals_int (st, DIODE_TLS_OK);
  frames[0] = diode_msg_encode_hello (1, 4, DIODE_ROLE_VIEWER, "raw");
  diode_session_sent_hello (s, 1, 4, DIODE_ROLE_VIEWER, NULL);
  frames[1] = diode_msg_encode_subscribe ("cam", 0, 0);
  while (step < steps) {
    gsize n, off = 0, len;
    const guint8 *d;
    DiodeMsg m = { 0 };

    /* send the frame of this step, then read up to its answer */
    d = g_bytes_get_data (frames[step], &len);
    while (off < len) {
      struct pollfd p = { fd, POLLOUT };

      st = diode_tls_send (t, d + off, len - off, &n, NULL);
      if (st == DIODE_TLS_OK)
        off += n;
      else
        poll (&p, 1, 100);
      fail_unless (g_get_monotonic_time () < end);
    }
    if (step == 1)
      diode_session_sent (s, DIODE_MSG_SUBSCRIBE, 0, NULL);
    for (;;) {
      DiodeSessionResult r = diode_session_next (s, &m, NULL);

      if (r == DIODE_SESSION_MESSAGE) {
        guint type = m.type;

        diode_msg_clear (&m);
        if ((step == 0 && type == DIODE_MSG_WELCOME)
            || (step == 1 && type == DIODE_MSG_SUBSCRIBE_OK))
          break;
        continue;
      }
      fail_unless_equals_int (r, DIODE_SESSION_NEED_MORE);
      st = diode_tls_recv (t, buf, sizeof buf, &n, NULL);
      if (st == DIODE_TLS_OK) {
        diode_session_feed (s, buf, n);
      } else {
        struct pollfd p = { fd, POLLIN };

        fail_unless_equals_int (st, DIODE_TLS_AGAIN);
        poll (&p, 1, 100);
      }
      fail_unless (g_get_monotonic_time () < end, "no answer");
    }
    step++;
  }
  g_bytes_unref (frames[0]);
  g_bytes_unref (frames[1]);
  *out_session = s;
  return t;
}

static DiodeTls *
raw_viewer (DiodeIdentity * id, int fd, DiodeSession ** out_session)
{
  return raw_viewer_steps (id, fd, out_session, 2);
}

static void
stuck_viewer (guint64 push_bytes, const gchar * why)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeSession *session;
  DiodeTls *t;
  int fds[2];
  guint64 seq, n = push_bytes / (32 * 1024);

  fixture_init (&f, 4, dc_admit_all);
  push_range (&f, 1, 1, 10, 1000);
  make_pair (fds);
  direct_server_test_adopt (f.server, 8,
      diode_identity_get_address (f.view_id), fds[0]);
  t = raw_viewer (f.view_id, fds[1], &session);
  /* 32 KiB frames, a chunk every 10, at most push_bytes */
  for (seq = 2; seq <= n; seq++) {
    GBytes *m = dc_media (seq, (seq - 1) % 10 == 0, 32 * 1024);

    diode_direct_server_push_frame (f.server, m);
    g_bytes_unref (m);
  }
  /* the stall bound takes 3 s: room for a loaded machine */
  expect_server_close_within (&f, 8, why, 4 * WAIT_MS);
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_int (ss.viewers, 0);
  /* what the session itself held: its write queue, under 256 KiB + one
   * frame (the rest was the ring's, shared and bounded) */
  fail_unless (direct_server_test_queue_peak (f.server)
      <= 256 * 1024 + 32 * 1024 + 64, "write queue reached %" G_GSIZE_FORMAT,
      direct_server_test_queue_peak (f.server));
  diode_tls_free (t);
  diode_session_free (session);
  close (fds[1]);
  fixture_clear (&f);
}

GST_START_TEST (test_backlog_bound)
{
  /* 3 MiB for a viewer that reads nothing: past 2 MiB behind it is
   * closed at once (the write queue holds 256 KiB at most, the rest is the
   * ring's, shared) */
  stuck_viewer (3 * 1024 * 1024, "fell behind");
}

GST_END_TEST;

GST_START_TEST (test_stall_bound)
{
  /* 1 MiB: under the backlog bound, but nothing moves for 3 s */
  stuck_viewer (1024 * 1024, "no write progress");
}

GST_END_TEST;

GST_START_TEST (test_setup_deadline)
{
  Fixture f;
  DiodeDirectServerStats ss;
  DiodeSession *session;
  DiodeTls *t;
  int fds[2];

  /* TLS and HELLO, then nothing: the session never got to media and is
   * closed at the setup deadline (10 s; 500 ms here), keepalives or not */
  fixture_init (&f, 4, dc_admit_all);
  direct_server_test_set_setup_ms (f.server, 500);
  push_range (&f, 1, 1, 10, 1000);
  make_pair (fds);
  direct_server_test_adopt (f.server, 13,
      diode_identity_get_address (f.view_id), fds[0]);
  t = raw_viewer_steps (f.view_id, fds[1], &session, 1);
  expect_server_close (&f, 13, "setup timed out");
  diode_direct_server_get_stats (f.server, &ss);
  fail_unless_equals_uint64 (ss.sessions, 0);
  diode_tls_free (t);
  diode_session_free (session);
  close (fds[1]);
  fixture_clear (&f);
}

GST_END_TEST;

static Suite *
direct_session_suite (void)
{
  Suite *s = suite_create ("direct-session");
  TCase *tc = tcase_create ("direct-session");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_frames_identical);
  tcase_add_test (tc, test_start_seq_held);
  tcase_add_test (tc, test_start_seq_tail);
  tcase_add_test (tc, test_start_seq_not_held);
  tcase_add_test (tc, test_wrong_publisher);
  tcase_add_test (tc, test_relay_lies_in_peer);
  tcase_add_test (tc, test_admit_refuses_offer);
  tcase_add_test (tc, test_admit_refuses_at_tls);
  tcase_add_test (tc, test_direct_max);
  tcase_add_test (tc, test_close_from_relay);
  tcase_add_test (tc, test_relay_reset);
  tcase_add_test (tc, test_viewer_queue_bound);
  tcase_add_test (tc, test_setup_deadline);
  tcase_add_test (tc, test_backlog_bound);
  tcase_add_test (tc, test_stall_bound);
  tcase_add_test (tc, test_recheck_revoked);
  tcase_add_test (tc, test_recheck_closes_with_sid);
  tcase_add_test (tc, test_loop_stop_drains);
  tcase_add_test (tc, test_close_never_dropped);
  return s;
}

int
main (int argc, char **argv)
{
  int ret;

  dc_setup_tmp ("direct-session");
  gst_check_init (&argc, &argv);
  ret = gst_check_run_suite (direct_session_suite (), "direct-session",
      __FILE__);
  dc_teardown_tmp ();
  return ret;
}
