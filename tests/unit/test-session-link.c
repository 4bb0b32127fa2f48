/* gst-diode — unit tests: session state machines on relay links (version 2)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The states and rows relay links add (docs/protocol.md "Relay links" and
 * section 3): version negotiation for role RELAY, LINK -> LINK_OK (LINKING,
 * LINKED, LINK_OK again), ANNOUNCE and PULL, POLICY to a pulling relay, and
 * the refusals: LINK from a viewer or on a version-1 relay connection,
 * ANNOUNCE before LINK_OK, PULL at a client end that is no relay, a path of
 * 33 relays, ANNOUNCE op 7. test-admission.c holds the header-level table.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-session.h"
#include "sessioncheck.h"

#define A1 "0x1111111111111111111111111111111111111111"
#define A2 "0x2222222222222222222222222222222222222222"





static void
expect_fails (DiodeSession * s, guint code)
{
  g_free (next_fails (s, code));
}

static void
expect_fails_with (DiodeSession * s, guint code, const gchar * needle)
{
  gchar *text = next_fails (s, code);

  fail_unless (strstr (text, needle) != NULL, "'%s' does not say '%s'",
      text, needle);
  g_free (text);
}

static void
sent_ok (DiodeSession * s, DiodeMsgType type, guint16 code)
{
  GError *err = NULL;

  if (!diode_session_sent (s, type, code, &err))
    fail ("sending %s refused: %s", diode_msg_type_name (type), err->message);
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

/* Relay end after HELLO (@vmin..@vmax, @role) and WELCOME. */
static DiodeSession *
relay_end (guint16 vmin, guint16 vmax, DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);

  feed (s, diode_msg_encode_hello (vmin, vmax, role, "peer"));
  expect_type (s, DIODE_MSG_HELLO);
  sent_ok (s, DIODE_MSG_WELCOME, 0);
  return s;
}

/* Client end of role @role that offered @vmin..@vmax, after a WELCOME of
 * @version. */
static DiodeSession *
client_end (guint16 vmin, guint16 vmax, DiodeRole role, guint16 version)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);

  fail_unless (diode_session_sent_hello (s, vmin, vmax, role, NULL));
  feed (s, diode_msg_encode_welcome (version, 800, "relay"));
  expect_type (s, DIODE_MSG_WELCOME);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Versions                                                                 */

GST_START_TEST (test_link_version)
{
  DiodeSession *s;
  GError *err = NULL;
  guint16 lo, hi;

  /* a relay offering 1..2 gets 2: a relay link */
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY, "child"));
  expect_type (s, DIODE_MSG_HELLO);
  fail_unless_equals_int (diode_session_get_version (s), 2);
  fail_unless (diode_session_is_link (s));
  fail_unless (diode_session_check_link_version (s, NULL));
  diode_session_get_offered (s, &lo, &hi);
  fail_unless (lo == 1 && hi == 2);
  diode_session_free (s);

  /* a relay offering 1..1 (an older release) gets 1: the caller refuses
   * it with 201, and sending that ERROR closes the session */
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 1, DIODE_ROLE_RELAY, "old"));
  expect_type (s, DIODE_MSG_HELLO);
  fail_unless_equals_int (diode_session_get_version (s), 1);
  fail_if (diode_session_is_link (s));
  fail_if (diode_session_check_link_version (s, &err));
  fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR, DIODE_ERR_VERSION));
  fail_unless_equals_string (err->message, "relay links need protocol "
      "version 2: the relay offered versions 1..1, this relay speaks 1..4");
  g_clear_error (&err);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_VERSION);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  diode_session_free (s);

  /* viewers and publishers at any version: nothing to refuse */
  s = relay_end (1, 1, DIODE_ROLE_VIEWER);
  fail_unless (diode_session_check_link_version (s, NULL));
  diode_session_free (s);
  s = relay_end (1, 2, DIODE_ROLE_PUBLISHER);
  fail_unless (diode_session_check_link_version (s, NULL));
  fail_if (diode_session_is_link (s));
  diode_session_free (s);

  /* client end: WELCOME must carry a version it offered */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  fail_unless (diode_session_sent_hello (s, 2, 2, DIODE_ROLE_RELAY, NULL));
  fail_unless_equals_int (diode_session_get_role (s), DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_welcome (1, 0, "old relay"));
  expect_fails_with (s, DIODE_ERR_VERSION,
      "relay chose version 1, client speaks 2..2");
  diode_session_free (s);
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  fail_unless (diode_session_sent_hello (s, 1, 2, DIODE_ROLE_RELAY, NULL));
  feed (s, diode_msg_encode_welcome (3, 0, "new relay"));
  expect_fails (s, DIODE_ERR_VERSION);
  diode_session_free (s);
  /* a plain sent (HELLO) is what the elements do: 1..1 */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_welcome (2, 0, "relay"));
  expect_fails_with (s, DIODE_ERR_VERSION,
      "relay chose version 2, client speaks 1..1");
  diode_session_free (s);
  /* sent_hello twice, or at the relay end: refused */
  s = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  fail_if (diode_session_sent_hello (s, 1, 2, DIODE_ROLE_RELAY, NULL));
  fail_unless (diode_session_is_link (s));
  diode_session_free (s);
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  fail_if (diode_session_sent_hello (s, 1, 2, DIODE_ROLE_RELAY, &err));
  fail_unless_equals_int (err->code, DIODE_ERR_PROTOCOL);
  g_clear_error (&err);
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Control link, both ends                                                  */

GST_START_TEST (test_link_flow_relay_end)
{
  DiodeSession *s = relay_end (1, 2, DIODE_ROLE_RELAY);
  DiodeMsg m;
  const gchar *path[] = { A1, A2, NULL };

  /* nothing of a link before LINK */
  sent_refused (s, DIODE_MSG_LINK_OK);
  sent_refused (s, DIODE_MSG_PULL);
  feed (s, diode_msg_encode_link ());
  expect_type (s, DIODE_MSG_LINK);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_PULL);
  sent_ok (s, DIODE_MSG_LINK_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_LINKED);
  /* LINK_OK again when the parent's path changes; PULL */
  sent_ok (s, DIODE_MSG_LINK_OK, 0);
  sent_ok (s, DIODE_MSG_PULL, 0);
  sent_ok (s, DIODE_MSG_PING, 0);
  sent_refused (s, DIODE_MSG_SUBSCRIBE_OK);
  sent_refused (s, DIODE_MSG_MEDIA);
  /* the child announces */
  feed (s, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam", A1,
          DIODE_ACCESS_PUBLIC, NULL, NULL, path));
  expect_msg (s, DIODE_MSG_ANNOUNCE, &m);
  fail_unless_equals_string (m.owner, A1);
  fail_unless_equals_int (g_strv_length (m.path), 2);
  diode_msg_clear (&m);
  feed (s, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL,
          0, NULL, NULL, NULL));
  expect_msg (s, DIODE_MSG_ANNOUNCE, &m);
  fail_unless_equals_int (m.op, DIODE_ANNOUNCE_WITHDRAWN);
  diode_msg_clear (&m);
  /* a child's 104 (it found itself in our path) is a message; it closes */
  feed (s, diode_msg_encode_error (DIODE_ERR_LOOP, "loop"));
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_LINKED);
  feed (s, diode_msg_encode_ping (1));
  expect_type (s, DIODE_MSG_PING);
  /* a second LINK is not a thing */
  feed (s, diode_msg_encode_link ());
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected LINK from client in state LINKED");
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_link_refused_relay_end)
{
  DiodeSession *s = relay_end (1, 2, DIODE_ROLE_RELAY);

  /* the parent refuses: 104 LOOP (or 102); READY again, may LINK again
   * or do something else */
  feed (s, diode_msg_encode_link ());
  expect_type (s, DIODE_MSG_LINK);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_LOOP);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_LINK_OK);
  feed (s, diode_msg_encode_link ());
  expect_type (s, DIODE_MSG_LINK);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_NOT_AUTHORIZED);
  feed (s, diode_msg_encode_subscribe_relay ("cam", 0, 0, NULL, NULL));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  diode_session_free (s);

  /* a LINK while a SUBSCRIBE is pending */
  s = relay_end (1, 2, DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_subscribe_relay ("cam", 0, 0, NULL, NULL));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  feed (s, diode_msg_encode_link ());
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "LINK while a SUBSCRIBE is pending");
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_link_flow_client_end)
{
  DiodeSession *s = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  DiodeMsg m;
  const gchar *path[] = { A1, NULL };

  fail_unless (diode_session_is_link (s));
  sent_refused (s, DIODE_MSG_ANNOUNCE);
  sent_ok (s, DIODE_MSG_LINK, 0);
  ASSERT_STATE (s, DIODE_SESSION_LINKING);
  /* ANNOUNCE only after LINK_OK; no other request meanwhile */
  sent_refused (s, DIODE_MSG_ANNOUNCE);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);
  sent_refused (s, DIODE_MSG_LINK);
  feed (s, diode_msg_encode_link_ok (path));
  expect_msg (s, DIODE_MSG_LINK_OK, &m);
  fail_unless_equals_string (m.path[0], A1);
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_LINKED);
  sent_ok (s, DIODE_MSG_ANNOUNCE, 0);
  sent_ok (s, DIODE_MSG_ANNOUNCE, 0);
  sent_ok (s, DIODE_MSG_PONG, 0);
  sent_refused (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);
  sent_refused (s, DIODE_MSG_MEDIA);
  /* the parent's path changed */
  feed (s, diode_msg_encode_link_ok (NULL));
  expect_msg (s, DIODE_MSG_LINK_OK, &m);
  fail_unless (m.path != NULL && m.path[0] == NULL);
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_LINKED);
  feed (s, diode_msg_encode_pull ("cam", 42, path));
  expect_msg (s, DIODE_MSG_PULL, &m);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless (m.start_seq == 42);
  diode_msg_clear (&m);
  /* the child found itself in the path: it says 104 and closes the link
   * itself; sending it is legal and leaves the state alone */
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_LOOP);
  ASSERT_STATE (s, DIODE_SESSION_LINKED);
  /* a parent may not send what a child sends */
  feed (s, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL,
          0, NULL, NULL, NULL));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected ANNOUNCE from relay in state LINKED");
  diode_session_free (s);

  /* refused: 104 from the parent ends LINKING; READY again */
  s = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  sent_ok (s, DIODE_MSG_LINK, 0);
  feed (s, diode_msg_encode_error (DIODE_ERR_LOOP, "cycle: a -> b -> a"));
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  feed (s, diode_msg_encode_link_ok (NULL));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "LINK_OK in state READY without a LINK sent");
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Pull and push connections                                                */

GST_START_TEST (test_pull_connection)
{
  DiodeSession *c = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  DiodeSession *r = relay_end (1, 2, DIODE_ROLE_RELAY);
  DiodeMsg m;
  const gchar *path[] = { A1, NULL };
  static const guint8 data[] = { 1, 2, 3 };

  /* puller */
  sent_ok (c, DIODE_MSG_SUBSCRIBE, 0);
  feed (c, diode_msg_encode_subscribe_ok_relay ("cam", 5, A2,
          DIODE_ACCESS_PROTECTED, "fleet", NULL, path));
  expect_msg (c, DIODE_MSG_SUBSCRIBE_OK, &m);
  fail_unless (m.has_policy);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PROTECTED);
  fail_unless_equals_string (m.path[0], A1);
  diode_msg_clear (&m);
  feed (c, diode_msg_encode_media (5, 0, 0, 0, 0, 0, DIODE_MEDIA_KEYFRAME,
          data, 3));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL, NULL));
  expect_msg (c, DIODE_MSG_POLICY, &m);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  diode_msg_clear (&m);
  feed (c, diode_msg_encode_eos (5));
  expect_type (c, DIODE_MSG_EOS);
  diode_session_free (c);

  /* served: the relay end of a pull may send POLICY */
  feed (r, diode_msg_encode_subscribe_relay ("cam", 0, 100, NULL, path));
  expect_msg (r, DIODE_MSG_SUBSCRIBE, &m);
  fail_unless_equals_string (m.path[0], A1);
  diode_msg_clear (&m);
  sent_refused (r, DIODE_MSG_POLICY);
  sent_ok (r, DIODE_MSG_SUBSCRIBE_OK, 0);
  sent_ok (r, DIODE_MSG_CAPS, 0);
  sent_ok (r, DIODE_MSG_POLICY, 0);
  sent_ok (r, DIODE_MSG_MEDIA, 0);
  diode_session_free (r);

  /* a viewer gets no POLICY, and a relay never sends it one */
  c = client_end (1, 1, DIODE_ROLE_VIEWER, 1);
  sent_ok (c, DIODE_MSG_SUBSCRIBE, 0);
  feed (c, diode_msg_encode_subscribe_ok ("cam", 1));
  expect_type (c, DIODE_MSG_SUBSCRIBE_OK);
  feed (c, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL, NULL));
  expect_fails_with (c, DIODE_ERR_PROTOCOL,
      "unexpected POLICY from relay in state SUBSCRIBED");
  diode_session_free (c);
  r = relay_end (1, 2, DIODE_ROLE_VIEWER);
  feed (r, diode_msg_encode_subscribe ("cam", 0, 100));
  expect_type (r, DIODE_MSG_SUBSCRIBE);
  sent_ok (r, DIODE_MSG_SUBSCRIBE_OK, 0);
  sent_refused (r, DIODE_MSG_POLICY);
  diode_session_free (r);
}

GST_END_TEST;

GST_START_TEST (test_push_connection)
{
  DiodeSession *r = relay_end (1, 2, DIODE_ROLE_RELAY);
  DiodeSession *c = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  DiodeMsg m;
  const gchar *path[] = { A1, A2, NULL };

  feed (r, diode_msg_encode_publish_relay ("cam", DIODE_ACCESS_PUBLIC, NULL,
          NULL, A1, path));
  expect_msg (r, DIODE_MSG_PUBLISH, &m);
  fail_unless_equals_string (m.owner, A1);
  fail_unless_equals_string (m.path[1], A2);
  diode_msg_clear (&m);
  sent_ok (r, DIODE_MSG_PUBLISH_OK, 0);
  ASSERT_STATE (r, DIODE_SESSION_PUBLISHING);
  feed (r, diode_msg_encode_policy (DIODE_ACCESS_PUBLIC, NULL, NULL));
  expect_type (r, DIODE_MSG_POLICY);
  diode_session_free (r);

  sent_ok (c, DIODE_MSG_PUBLISH, 0);
  feed (c, diode_msg_encode_publish_ok ("cam", 1));
  expect_type (c, DIODE_MSG_PUBLISH_OK);
  ASSERT_STATE (c, DIODE_SESSION_PUBLISHING);
  sent_ok (c, DIODE_MSG_POLICY, 0);
  sent_refused (c, DIODE_MSG_ANNOUNCE);
  diode_session_free (c);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Refusals the issue names                                                 */

GST_START_TEST (test_refusals)
{
  DiodeSession *s;
  guint8 frame[8 + 1 + 33 * 20];
  gsize size;

  /* LINK from a VIEWER, even at version 2 */
  s = relay_end (1, 2, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_link ());
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "frame type LINK (0x40) exists only on relay links");
  diode_session_free (s);
  /* LINK on a version-1 relay connection (a caller that did not refuse
   * it with 201) */
  s = relay_end (1, 1, DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_link ());
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "exists only on relay links");
  diode_session_free (s);
  /* ANNOUNCE before LINK_OK: LINK pending, and without any LINK */
  s = relay_end (1, 2, DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_link ());
  expect_type (s, DIODE_MSG_LINK);
  feed (s, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL,
          0, NULL, NULL, NULL));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected ANNOUNCE from client in state READY");
  diode_session_free (s);
  s = relay_end (1, 2, DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL,
          0, NULL, NULL, NULL));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
  /* PULL at a client end that is no relay */
  s = client_end (1, 1, DIODE_ROLE_VIEWER, 1);
  feed (s, diode_msg_encode_pull ("cam", 0, NULL));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "frame type PULL (0x43) exists only on relay links");
  diode_session_free (s);
  /* ... nor at a relay client end that is not linked */
  s = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  feed (s, diode_msg_encode_pull ("cam", 0, NULL));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected PULL from relay in state READY");
  diode_session_free (s);
  /* a role-RELAY client end that gets version 1 (an older relay) refuses
   * it: links need 2 */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  fail_unless (diode_session_sent_hello (s, 1, 2, DIODE_ROLE_RELAY, NULL));
  feed (s, diode_msg_encode_welcome (1, 800, "old relay"));
  expect_fails_with (s, DIODE_ERR_VERSION,
      "relay links need protocol version 2: the relay chose version 1");
  fail_if (diode_session_is_link (s));
  sent_refused (s, DIODE_MSG_LINK);
  diode_session_free (s);

  /* path of 33 relays: 202, fatal */
  memset (frame, 0x5a, sizeof (frame));
  frame[0] = DIODE_MSG_LINK_OK;
  frame[1] = frame[2] = frame[3] = 0;
  size = 1 + 33 * 20;
  frame[4] = 0;
  frame[5] = 0;
  frame[6] = size >> 8;
  frame[7] = size & 0xff;
  frame[8] = 33;
  s = client_end (1, 2, DIODE_ROLE_RELAY, 2);
  sent_ok (s, DIODE_MSG_LINK, 0);
  diode_session_feed (s, frame, 8 + size);
  expect_fails_with (s, DIODE_ERR_TOO_LARGE,
      "LINK_OK: path of 33 relays, limit is 32");
  diode_session_free (s);
  /* ANNOUNCE op 7: 200 */
  {
    static const guint8 op7[] = { DIODE_MSG_ANNOUNCE, 0, 0, 0, 0, 0, 0, 6,
      7, 0, 3, 'c', 'a', 'm'
    };
    s = relay_end (1, 2, DIODE_ROLE_RELAY);
    feed (s, diode_msg_encode_link ());
    expect_type (s, DIODE_MSG_LINK);
    sent_ok (s, DIODE_MSG_LINK_OK, 0);
    diode_session_feed (s, op7, sizeof (op7));
    expect_fails_with (s, DIODE_ERR_PROTOCOL, "ANNOUNCE: unknown op 7");
    diode_session_free (s);
  }
  /* a bad name in ANNOUNCE: malformed, 200 as for PUBLISH */
  {
    static const guint8 bad[] = { DIODE_MSG_ANNOUNCE, 0, 0, 0, 0, 0, 0, 6,
      0, 0, 3, 'a', '/', 'b'
    };
    s = relay_end (1, 2, DIODE_ROLE_RELAY);
    feed (s, diode_msg_encode_link ());
    expect_type (s, DIODE_MSG_LINK);
    sent_ok (s, DIODE_MSG_LINK_OK, 0);
    diode_session_feed (s, bad, sizeof (bad));
    expect_fails_with (s, DIODE_ERR_PROTOCOL, "contains '/'");
    diode_session_free (s);
  }
  /* a version-1 SUBSCRIBE with trailing bytes: still ignored */
  {
    DiodeMsg m;
    const gchar *path[] = { A1, NULL };

    s = relay_end (1, 1, DIODE_ROLE_VIEWER);
    feed (s, diode_msg_encode_subscribe_relay ("cam", 0, 0, NULL, path));
    expect_msg (s, DIODE_MSG_SUBSCRIBE, &m);
    fail_unless (m.path == NULL);
    diode_msg_clear (&m);
    diode_session_free (s);
  }
}

GST_END_TEST;

static Suite *
session_link_suite (void)
{
  Suite *s = suite_create ("session-link");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_link_version);
  tcase_add_test (tc, test_link_flow_relay_end);
  tcase_add_test (tc, test_link_refused_relay_end);
  tcase_add_test (tc, test_link_flow_client_end);
  tcase_add_test (tc, test_pull_connection);
  tcase_add_test (tc, test_push_connection);
  tcase_add_test (tc, test_refusals);
  return s;
}

GST_CHECK_MAIN (session_link);
