/* gst-diode — unit tests: session state machines for direct paths
 * (protocol version 4)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rows version 4 adds to docs/protocol.md section 3 and section 17:
 * relay end, SIGNAL from a PUBLISHING publisher and a SUBSCRIBED viewer
 * only, PATH from a SUBSCRIBED viewer only, SIGNAL sent in the same
 * states, PATH never sent; client end, SIGNAL received and sent while
 * PUBLISHING (publisher) or SUBSCRIBED (viewer), PATH sent by a
 * SUBSCRIBED viewer, never received. Each refusal is judged from the
 * 8-byte header before any payload is buffered. OFFER and ANSWER go one
 * way only. A version-3 peer sees exactly the version-3 protocol (the
 * types are unknown, 200), and so do relay links. After PATH the stream
 * may resume once at a lower seq.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-session.h"
#include "sessioncheck.h"

#define PEER "0x00112233445566778899aabbccddeeff01234567"

static void
expect_fails_with (DiodeSession * s, guint code, const gchar * needle)
{
  gchar *text = next_fails (s, code);

  fail_unless (strstr (text, needle) != NULL, "'%s' does not say '%s'",
      text, needle);
  g_free (text);
}

static void
sent_ok (DiodeSession * s, DiodeMsgType type)
{
  GError *err = NULL;

  if (!diode_session_sent (s, type, 0, &err))
    fail ("sending %s refused in %s: %s", diode_msg_type_name (type),
        diode_session_state_name (diode_session_get_state (s)),
        err->message);
}

static void
sent_refused (DiodeSession * s, DiodeMsgType type)
{
  GError *err = NULL;
  DiodeSessionState before = diode_session_get_state (s);

  fail_if (diode_session_sent (s, type, 0, &err), "sending %s accepted in "
      "state %s", diode_msg_type_name (type),
      diode_session_state_name (before));
  fail_unless_equals_int (err->code, DIODE_ERR_PROTOCOL);
  fail_unless_equals_int (diode_session_get_state (s), before);
  g_error_free (err);
}

#define ASSERT_STATE(s, st) \
  fail_unless_equals_string (diode_session_state_name ( \
      diode_session_get_state (s)), diode_session_state_name (st))

/* Feeds only the 8-byte header of a @type frame announcing @len bytes:
 * a refusal must come from it alone, with nothing kept. */
static void
feed_header (DiodeSession * s, guint8 type, guint32 len)
{
  guint8 h[8] = { type, 0, 0, 0, len >> 24, len >> 16, len >> 8, len };

  diode_session_feed (s, h, sizeof (h));
}

static void
refused_from_header (DiodeSession * s, guint8 type, const gchar * needle)
{
  feed_header (s, type, 100);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, needle);
}

static GBytes *
sig (guint8 kind)
{
  return diode_msg_encode_signal (5, kind, NULL, "u p");
}

/* A relay end at the version @vmax gives, the peer of @role, in READY. */
static DiodeSession *
relay_ready (guint16 vmax, DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);

  feed (s, diode_msg_encode_hello (1, vmax, role, "peer"));
  expect_type (s, DIODE_MSG_HELLO);
  sent_ok (s, DIODE_MSG_WELCOME);
  return s;
}

static DiodeSession *
relay_publishing (guint16 vmax)
{
  DiodeSession *s = relay_ready (vmax, DIODE_ROLE_PUBLISHER);

  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_PUBLISH_OK);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  return s;
}

/* a viewer whose SUBSCRIBE is pending (@answer FALSE) or answered */
static DiodeSession *
relay_viewer (guint16 vmax, gboolean answer)
{
  DiodeSession *s = relay_ready (vmax, DIODE_ROLE_VIEWER);

  feed (s, diode_msg_encode_subscribe ("cam", 0, 0));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  if (answer) {
    sent_ok (s, DIODE_MSG_SUBSCRIBE_OK);
    ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  }
  return s;
}

static DiodeSession *
client_ready (DiodeRole role, guint16 vmax, guint16 version)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);

  fail_unless (diode_session_sent_hello (s, 1, vmax, role, NULL));
  feed (s, diode_msg_encode_welcome_v (version, 800, "relay", 3478));
  expect_type (s, DIODE_MSG_WELCOME);
  fail_unless_equals_int (diode_session_get_version (s), version);
  return s;
}

static DiodeSession *
client_publishing (guint16 version)
{
  DiodeSession *s = client_ready (DIODE_ROLE_PUBLISHER,
      DIODE_PROTOCOL_VERSION_MAX, version);

  sent_ok (s, DIODE_MSG_PUBLISH);
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_type (s, DIODE_MSG_PUBLISH_OK);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  return s;
}

static DiodeSession *
client_viewer (guint16 version, gboolean answered)
{
  DiodeSession *s = client_ready (DIODE_ROLE_VIEWER,
      DIODE_PROTOCOL_VERSION_MAX, version);

  sent_ok (s, DIODE_MSG_SUBSCRIBE);
  if (answered) {
    feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
    expect_type (s, DIODE_MSG_SUBSCRIBE_OK);
    ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  }
  return s;
}

/* ------------------------------------------------------------------------ */

/* A version-3 peer works exactly as before: the relay chooses 3, and
 * SIGNAL and PATH are then unknown types (200), both ends, in the states
 * where version 4 admits them; sending them is refused too. */
GST_START_TEST (test_version_3_peer)
{
  DiodeSession *s;

  s = relay_publishing (3);
  fail_unless_equals_int (diode_session_get_version (s), 3);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_SIGNAL), 0);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "only at protocol version 4");
  diode_session_free (s);

  s = relay_viewer (3, TRUE);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_PATH, "only at protocol version 4");
  diode_session_free (s);
  s = relay_viewer (3, TRUE);
  refused_from_header (s, DIODE_MSG_SIGNAL, "only at protocol version 4");
  diode_session_free (s);

  /* a client offering 1..4 accepts a version-3 relay's 3 and neither
   * sends nor accepts the new frames */
  s = client_publishing (3);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "only at protocol version 4");
  diode_session_free (s);
  s = client_viewer (3, TRUE);
  sent_refused (s, DIODE_MSG_SIGNAL);
  sent_refused (s, DIODE_MSG_PATH);
  refused_from_header (s, DIODE_MSG_SIGNAL, "only at protocol version 4");
  diode_session_free (s);

  /* and what the elements offer now gets 4 */
  s = relay_ready (DIODE_PROTOCOL_VERSION_MAX, DIODE_ROLE_VIEWER);
  fail_unless_equals_int (diode_session_get_version (s), 4);
  diode_session_free (s);
}

GST_END_TEST;

/* Relay links speak version 4 too, but direct paths are not theirs. */
GST_START_TEST (test_relay_link_unknown)
{
  DiodeSession *s = relay_ready (4, DIODE_ROLE_RELAY);

  fail_unless_equals_int (diode_session_get_version (s), 4);
  fail_unless (diode_session_is_link (s));
  feed (s, diode_msg_encode_link ());
  expect_type (s, DIODE_MSG_LINK);
  sent_ok (s, DIODE_MSG_LINK_OK);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "only at protocol version 4");
  diode_session_free (s);
}

GST_END_TEST;

/* Relay end, publisher: SIGNAL only once PUBLISHING; PATH never. */
GST_START_TEST (test_relay_end_publisher)
{
  DiodeSession *s;
  DiodeMsg m;

  s = relay_ready (4, DIODE_ROLE_PUBLISHER);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_SIGNAL), 0);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  /* PUBLISH pending: still not */
  s = relay_ready (4, DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  s = relay_publishing (4);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_SIGNAL),
      DIODE_MAX_SIGNAL_PAYLOAD);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_PATH), 0);
  feed (s, diode_msg_encode_signal (9, DIODE_SIGNAL_ANSWER, NULL, "u p"));
  expect_msg (s, DIODE_MSG_SIGNAL, &m);
  fail_unless_equals_int (m.sid, 9);
  fail_unless_equals_int (m.signal_kind, DIODE_SIGNAL_ANSWER);
  diode_msg_clear (&m);
  feed (s, sig (DIODE_SIGNAL_CANDIDATE));
  expect_type (s, DIODE_MSG_SIGNAL);
  feed (s, sig (DIODE_SIGNAL_GATHERED));
  expect_type (s, DIODE_MSG_SIGNAL);
  feed (s, sig (DIODE_SIGNAL_CLOSE));
  expect_type (s, DIODE_MSG_SIGNAL);
  sent_ok (s, DIODE_MSG_SIGNAL);
  sent_refused (s, DIODE_MSG_PATH);
  /* after its EOS, signalling may still cross (a CLOSE) */
  feed (s, diode_msg_encode_eos (0));
  expect_type (s, DIODE_MSG_EOS);
  feed (s, sig (DIODE_SIGNAL_CLOSE));
  expect_type (s, DIODE_MSG_SIGNAL);
  /* a publisher never says where it takes media from */
  refused_from_header (s, DIODE_MSG_PATH, "unexpected PATH");
  diode_session_free (s);

  /* OFFER is the viewer's: from a publisher, 200 */
  s = relay_publishing (4);
  feed (s, sig (DIODE_SIGNAL_OFFER));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "SIGNAL OFFER from a publisher");
  diode_session_free (s);
}

GST_END_TEST;

/* Relay end, viewer: SIGNAL and PATH only once SUBSCRIBED (not while the
 * SUBSCRIBE is pending). */
GST_START_TEST (test_relay_end_viewer)
{
  DiodeSession *s;
  DiodeMsg m;

  s = relay_ready (4, DIODE_ROLE_VIEWER);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);
  s = relay_ready (4, DIODE_ROLE_VIEWER);
  refused_from_header (s, DIODE_MSG_PATH, "unexpected PATH");
  diode_session_free (s);

  s = relay_viewer (4, FALSE);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);
  s = relay_viewer (4, FALSE);
  refused_from_header (s, DIODE_MSG_PATH, "unexpected PATH");
  diode_session_free (s);

  s = relay_viewer (4, TRUE);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_SIGNAL),
      DIODE_MAX_SIGNAL_PAYLOAD);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_PATH),
      DIODE_MAX_SMALL_PAYLOAD);
  feed (s, diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, NULL, "uf pw"));
  expect_msg (s, DIODE_MSG_SIGNAL, &m);
  fail_unless_equals_string (m.signal_data, "uf pw");
  diode_msg_clear (&m);
  feed (s, sig (DIODE_SIGNAL_CANDIDATE));
  expect_type (s, DIODE_MSG_SIGNAL);
  feed (s, diode_msg_encode_path (DIODE_PATH_DIRECT, 17));
  expect_msg (s, DIODE_MSG_PATH, &m);
  fail_unless_equals_int (m.path_kind, DIODE_PATH_DIRECT);
  fail_unless (m.from_seq == 17);
  diode_msg_clear (&m);
  feed (s, diode_msg_encode_path (DIODE_PATH_RELAY, 30));
  expect_type (s, DIODE_MSG_PATH);
  sent_ok (s, DIODE_MSG_SIGNAL);
  /* the relay never sends PATH */
  sent_refused (s, DIODE_MSG_PATH);
  /* a viewer never publishes media, PATH or not */
  refused_from_header (s, DIODE_MSG_MEDIA, "unexpected MEDIA");
  diode_session_free (s);

  /* ANSWER is the publisher's */
  s = relay_viewer (4, TRUE);
  feed (s, sig (DIODE_SIGNAL_ANSWER));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "SIGNAL ANSWER from a viewer");
  diode_session_free (s);

  /* over the limits, from the header: 202 */
  s = relay_viewer (4, TRUE);
  feed_header (s, DIODE_MSG_SIGNAL, DIODE_MAX_SIGNAL_PAYLOAD + 1);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  g_free (next_fails (s, DIODE_ERR_TOO_LARGE));
  diode_session_free (s);
  s = relay_viewer (4, TRUE);
  feed_header (s, DIODE_MSG_PATH, DIODE_MAX_SMALL_PAYLOAD + 1);
  g_free (next_fails (s, DIODE_ERR_TOO_LARGE));
  diode_session_free (s);
}

GST_END_TEST;

/* Client end, publisher: SIGNAL in PUBLISHING both ways; PATH never. */
GST_START_TEST (test_client_end_publisher)
{
  DiodeSession *s;
  DiodeMsg m;

  s = client_ready (DIODE_ROLE_PUBLISHER, 4, 4);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  /* PUBLISH pending */
  s = client_ready (DIODE_ROLE_PUBLISHER, 4, 4);
  sent_ok (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_SIGNAL);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  s = client_publishing (4);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_SIGNAL),
      DIODE_MAX_SIGNAL_PAYLOAD);
  feed (s, diode_msg_encode_signal (3, DIODE_SIGNAL_OFFER, PEER, "u p"));
  expect_msg (s, DIODE_MSG_SIGNAL, &m);
  fail_unless_equals_string (m.peer, PEER);
  diode_msg_clear (&m);
  feed (s, diode_msg_encode_signal (3, DIODE_SIGNAL_CLOSE, NULL,
          "publisher not on this relay"));
  expect_type (s, DIODE_MSG_SIGNAL);
  sent_ok (s, DIODE_MSG_SIGNAL);
  sent_refused (s, DIODE_MSG_PATH);
  refused_from_header (s, DIODE_MSG_PATH, "unexpected PATH");
  diode_session_free (s);

  /* an ANSWER sent to a publisher */
  s = client_publishing (4);
  feed (s, sig (DIODE_SIGNAL_ANSWER));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "SIGNAL ANSWER to a publisher");
  diode_session_free (s);
}

GST_END_TEST;

/* Client end, viewer: SIGNAL and PATH only once SUBSCRIBED. */
GST_START_TEST (test_client_end_viewer)
{
  DiodeSession *s;

  s = client_ready (DIODE_ROLE_VIEWER, 4, 4);
  sent_refused (s, DIODE_MSG_SIGNAL);
  sent_refused (s, DIODE_MSG_PATH);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  s = client_viewer (4, FALSE);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBING);
  sent_refused (s, DIODE_MSG_SIGNAL);
  sent_refused (s, DIODE_MSG_PATH);
  refused_from_header (s, DIODE_MSG_SIGNAL, "unexpected SIGNAL");
  diode_session_free (s);

  s = client_viewer (4, TRUE);
  feed (s, sig (DIODE_SIGNAL_ANSWER));
  expect_type (s, DIODE_MSG_SIGNAL);
  feed (s, sig (DIODE_SIGNAL_CANDIDATE));
  expect_type (s, DIODE_MSG_SIGNAL);
  sent_ok (s, DIODE_MSG_SIGNAL);
  sent_ok (s, DIODE_MSG_PATH);
  /* a relay never sends PATH */
  refused_from_header (s, DIODE_MSG_PATH, "unexpected PATH");
  diode_session_free (s);

  s = client_viewer (4, TRUE);
  feed (s, sig (DIODE_SIGNAL_OFFER));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "SIGNAL OFFER to a viewer");
  diode_session_free (s);
}

GST_END_TEST;

static GBytes *
media (guint64 seq)
{
  return diode_msg_encode_media (seq, 0, 0, 0, DIODE_TIME_NONE,
      DIODE_TIME_NONE, 0, (const guint8 *) "x", 1);
}

/* After PATH RELAY the relay resumes at from_seq, which may lie below
 * what it sent before it read an earlier PATH DIRECT (those frames were
 * in flight): the client end lets the seqs start again once per PATH. */
GST_START_TEST (test_resume_after_path)
{
  DiodeSession *s = client_viewer (4, TRUE);
  guint64 seq;

  for (seq = 1; seq <= 10; seq++) {
    feed (s, media (seq));
    expect_type (s, DIODE_MSG_MEDIA);
  }
  /* viewer took 1..5 from the relay, 6..7 directly; PATH DIRECT went out
   * at 5, the relay's 6..10 were in flight; the direct path broke and
   * PATH RELAY from 8 went out */
  sent_ok (s, DIODE_MSG_PATH);
  sent_ok (s, DIODE_MSG_PATH);
  feed (s, diode_msg_encode_caps ("video/x-h264"));
  expect_type (s, DIODE_MSG_CAPS);
  feed (s, media (8));
  expect_type (s, DIODE_MSG_MEDIA);
  feed (s, media (9));
  expect_type (s, DIODE_MSG_MEDIA);
  /* once only: going back again is the old error */
  feed (s, media (9));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA seq 9 after 9");
  diode_session_free (s);

  /* without a PATH sent, nothing changes */
  s = client_viewer (4, TRUE);
  feed (s, media (5));
  expect_type (s, DIODE_MSG_MEDIA);
  feed (s, media (4));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA seq 4 after 5");
  diode_session_free (s);
}

GST_END_TEST;

static Suite *
session_direct_suite (void)
{
  Suite *s = suite_create ("session-direct");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_version_3_peer);
  tcase_add_test (tc, test_relay_link_unknown);
  tcase_add_test (tc, test_relay_end_publisher);
  tcase_add_test (tc, test_relay_end_viewer);
  tcase_add_test (tc, test_client_end_publisher);
  tcase_add_test (tc, test_client_end_viewer);
  tcase_add_test (tc, test_resume_after_path);
  return s;
}

GST_CHECK_MAIN (session_direct);
