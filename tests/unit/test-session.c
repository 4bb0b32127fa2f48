/* gst-diode — unit tests: session state machines (diode-session)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-session.h"
#include "sessioncheck.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */






static void
expect_fails (DiodeSession * s, guint code)
{
  g_free (next_fails (s, code));
}

static void
expect_fails_with (DiodeSession * s, guint code, const gchar * message)
{
  gchar *text = next_fails (s, code);

  fail_unless_equals_string (text, message);
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

  fail_if (diode_session_sent (s, type, 0, &err), "sending %s accepted",
      diode_msg_type_name (type));
  fail_unless (err != NULL);
  fail_unless_equals_int (err->code, DIODE_ERR_PROTOCOL);
  g_error_free (err);
}

static GBytes *
media (guint64 seq, guint32 flags)
{
  static const guint8 data[] = { 0, 0, 0, 1, 0x65, 0xb8, 0x00, 0x04 };

  return diode_msg_encode_media (seq, seq * 1000, DIODE_TIME_NONE, 1000,
      G_MAXUINT64, G_MAXUINT64, flags, data, sizeof (data));
}

#define ASSERT_STATE(s, st) \
  fail_unless_equals_string (diode_session_state_name ( \
      diode_session_get_state (s)), diode_session_state_name (st))

/* A relay-end session past HELLO/WELCOME with @role. */
static DiodeSession *
relay_ready (DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);

  ASSERT_STATE (s, DIODE_SESSION_AWAIT_HELLO);
  feed (s, diode_msg_encode_hello (1, 1, role, "test"));
  expect_type (s, DIODE_MSG_HELLO);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_ok (s, DIODE_MSG_WELCOME, 0);
  return s;
}

static DiodeSession *
relay_publishing (void)
{
  DiodeSession *s = relay_ready (DIODE_ROLE_PUBLISHER);

  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  return s;
}

static DiodeSession *
relay_subscribed (void)
{
  DiodeSession *s = relay_ready (DIODE_ROLE_VIEWER);

  feed (s, diode_msg_encode_subscribe ("cam", 0, 1000));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_ok (s, DIODE_MSG_SUBSCRIBE_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  return s;
}

/* A client-end session past HELLO/WELCOME. */
static DiodeSession *
client_ready (void)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);

  ASSERT_STATE (s, DIODE_SESSION_AWAIT_WELCOME);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_welcome (1, 5000, "relay"));
  expect_type (s, DIODE_MSG_WELCOME);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  fail_unless_equals_int (diode_session_get_version (s), 1);
  return s;
}

static DiodeSession *
client_subscribed (void)
{
  DiodeSession *s = client_ready ();

  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBING);
  feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
  expect_type (s, DIODE_MSG_SUBSCRIBE_OK);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Framing                                                                  */

GST_START_TEST (test_version_choose)
{
  fail_unless_equals_int (diode_version_choose (1, 1, 1, 1), 1);
  fail_unless_equals_int (diode_version_choose (1, 3, 2, 5), 3);
  fail_unless_equals_int (diode_version_choose (2, 5, 1, 3), 3);
  fail_unless_equals_int (diode_version_choose (1, 1, 2, 5), 0);
  fail_unless_equals_int (diode_version_choose (1, 1, 0, 0), 0);
  fail_unless_equals_int (diode_version_choose (0, 4, 0, 9), 4);
  fail_unless_equals_int (diode_version_choose (1, 4, 3, 2), 0);
}

GST_END_TEST;

GST_START_TEST (test_too_large_from_header)
{
  static const guint8 header[] = { DIODE_MSG_MEDIA, 0, 0, 0,
    0xff, 0xff, 0xff, 0xff
  };
  DiodeSession *s = relay_publishing ();

  /* only the 8 header bytes: refused before any payload arrives */
  diode_session_feed (s, header, 7);
  expect_need_more (s);
  diode_session_feed (s, header + 7, 1);
  expect_fails_with (s, DIODE_ERR_TOO_LARGE,
      "frame of type MEDIA announces 4294967295 bytes, limit is 16777216");
  fail_unless_equals_int (diode_session_buffered (s), 0);
  diode_session_free (s);

  /* same before the handshake */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  diode_session_feed (s, header, 8);
  expect_fails (s, DIODE_ERR_TOO_LARGE);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_bad_header)
{
  static const guint8 unknown[] = { 0x5f, 0, 0, 0, 0, 0, 0, 0 };
  static const guint8 flags[] = { DIODE_MSG_PING, 1, 0, 0, 0, 0, 0, 8 };
  static const guint8 rsv[] = { DIODE_MSG_PING, 0, 0, 9, 0, 0, 0, 8 };
  DiodeSession *s;

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  diode_session_feed (s, unknown, 8);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "unknown frame type 0x5f");
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_VIEWER);
  diode_session_feed (s, flags, 8);
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_VIEWER);
  diode_session_feed (s, rsv, 8);
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_malformed_payload)
{
  /* PING announcing 4 bytes: a truncated token */
  static const guint8 ping[] = { DIODE_MSG_PING, 0, 0, 0, 0, 0, 0, 4,
    1, 2, 3, 4
  };
  /* PUBLISH with a name containing '/': malformed, so fatal at this level */
  static const guint8 publish[] = { DIODE_MSG_PUBLISH, 0, 0, 0, 0, 0, 0, 5,
    0, 3, 'a', '/', 'b'
  };
  DiodeSession *s;
  gchar *text;

  s = relay_ready (DIODE_ROLE_VIEWER);
  diode_session_feed (s, ping, sizeof (ping));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_PUBLISHER);
  diode_session_feed (s, publish, sizeof (publish));
  text = next_fails (s, DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "'/'") != NULL, "%s", text);
  g_free (text);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_byte_at_a_time)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);
  GByteArray *all = g_byte_array_new ();
  GBytes *frames[8];
  guint8 big[3000];
  const DiodeMsgType expect[] = { DIODE_MSG_HELLO, DIODE_MSG_PUBLISH,
    DIODE_MSG_CAPS, DIODE_MSG_MEDIA, DIODE_MSG_MEDIA, DIODE_MSG_PING,
    DIODE_MSG_MEDIA, DIODE_MSG_EOS
  };
  guint i, got = 0;

  memset (big, 0xab, sizeof (big));
  frames[0] = diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "x");
  frames[1] = diode_msg_encode_publish ("cam");
  frames[2] = diode_msg_encode_caps ("video/x-h264");
  frames[3] = media (1, DIODE_MEDIA_KEYFRAME);
  frames[4] = diode_msg_encode_media (2, 0, 0, 0, 0, 0, 0, big, sizeof (big));
  frames[5] = diode_msg_encode_ping (9);
  frames[6] = media (3, 0);
  frames[7] = diode_msg_encode_eos (3);
  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    gsize size;
    const guint8 *d = g_bytes_get_data (frames[i], &size);

    g_byte_array_append (all, d, size);
    g_bytes_unref (frames[i]);
  }

  for (i = 0; i < all->len; i++) {
    DiodeMsg m;
    GError *err = NULL;
    DiodeSessionResult r;

    diode_session_feed (s, all->data + i, 1);
    r = diode_session_next (s, &m, &err);
    if (r == DIODE_SESSION_ERROR)
      fail ("byte %u: %s", i, err->message);
    if (r == DIODE_SESSION_NEED_MORE)
      continue;
    fail_unless (got < G_N_ELEMENTS (expect));
    fail_unless_equals_int (m.type, expect[got]);
    if (m.type == DIODE_MSG_MEDIA && m.seq == 2) {
      fail_unless_equals_int (g_bytes_get_size (m.payload), sizeof (big));
      fail_unless (memcmp (g_bytes_get_data (m.payload, NULL), big,
              sizeof (big)) == 0);
    }
    if (m.type == DIODE_MSG_HELLO)
      sent_ok (s, DIODE_MSG_WELCOME, 0);
    if (m.type == DIODE_MSG_PUBLISH)
      sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
    diode_msg_clear (&m);
    got++;
    /* one complete frame per byte at most: nothing else is ready */
    expect_need_more (s);
  }
  fail_unless_equals_int (got, G_N_ELEMENTS (expect));
  fail_unless_equals_int (diode_session_buffered (s), 0);
  g_byte_array_unref (all);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_many_frames_one_feed)
{
  DiodeSession *s = relay_publishing ();
  GByteArray *all = g_byte_array_new ();
  guint i, n = 1000;

  for (i = 1; i <= n; i++) {
    GBytes *f = media (i, i % 30 == 1 ? DIODE_MEDIA_KEYFRAME : 0);
    gsize size;
    const guint8 *d = g_bytes_get_data (f, &size);

    g_byte_array_append (all, d, size);
    g_bytes_unref (f);
  }
  diode_session_feed (s, all->data, all->len);
  fail_unless_equals_int (diode_session_buffered (s), all->len);
  for (i = 1; i <= n; i++) {
    DiodeMsg m;

    expect_msg (s, DIODE_MSG_MEDIA, &m);
    fail_unless_equals_uint64 (m.seq, i);
    fail_unless_equals_int (m.flags,
        i % 30 == 1 ? DIODE_MEDIA_KEYFRAME : 0);
    diode_msg_clear (&m);
  }
  expect_need_more (s);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  g_byte_array_unref (all);
  diode_session_free (s);
}

GST_END_TEST;

/* Big frames arriving in pieces, followed by partial next frames: checks the
 * buffer keeps the right bytes whatever path it takes. */
GST_START_TEST (test_large_frames_in_pieces)
{
  DiodeSession *s = relay_publishing ();
  GByteArray *all = g_byte_array_new ();
  GRand *rand = g_rand_new_with_seed (7);
  guint i, n = 20, got = 0;
  gsize pos = 0;

  for (i = 1; i <= n; i++) {
    gsize len = g_rand_int_range (rand, 0, 300000);
    guint8 *data = g_malloc (len);
    GBytes *f;
    gsize size;
    const guint8 *d;

    memset (data, i, len);
    f = diode_msg_encode_media (i, 0, 0, 0, 0, 0, 0, data, len);
    d = g_bytes_get_data (f, &size);
    g_byte_array_append (all, d, size);
    g_bytes_unref (f);
    g_free (data);
  }
  while (pos < all->len) {
    /* not inside MIN(): it would draw twice */
    gsize piece = g_rand_int_range (rand, 1, 70000);
    DiodeMsg m;
    GError *err = NULL;
    DiodeSessionResult r;

    piece = MIN (piece, all->len - pos);
    diode_session_feed (s, all->data + pos, piece);
    pos += piece;
    while ((r = diode_session_next (s, &m, &err)) == DIODE_SESSION_MESSAGE) {
      gsize psize;
      const guint8 *p = g_bytes_get_data (m.payload, &psize);
      gsize k;

      got++;
      fail_unless_equals_uint64 (m.seq, got);
      for (k = 0; k < psize; k++)
        if (p[k] != got)
          fail ("frame %u byte %" G_GSIZE_FORMAT " corrupt", got, k);
      diode_msg_clear (&m);
    }
    if (r == DIODE_SESSION_ERROR)
      fail ("%s", err->message);
  }
  fail_unless_equals_int (got, n);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  g_rand_free (rand);
  g_byte_array_unref (all);
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Relay end                                                                */

GST_START_TEST (test_relay_publisher_flow)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);
  DiodeMsg m;

  fail_unless_equals_int (diode_session_get_role (s), 0);
  fail_unless_equals_int (diode_session_get_version (s), 0);
  /* WELCOME may only answer a HELLO */
  sent_refused (s, DIODE_MSG_WELCOME);
  sent_refused (s, DIODE_MSG_PING);

  feed (s, diode_msg_encode_hello (1, 4, DIODE_ROLE_PUBLISHER, "cam"));
  expect_msg (s, DIODE_MSG_HELLO, &m);
  fail_unless_equals_string (m.agent, "cam");
  diode_msg_clear (&m);
  fail_unless_equals_int (diode_session_get_role (s), DIODE_ROLE_PUBLISHER);
  /* relays speak 1..2; version 2 changes nothing for a publisher */
  fail_unless_equals_int (diode_session_get_version (s),
      DIODE_PROTOCOL_VERSION_MAX);
  fail_if (diode_session_is_link (s));
  sent_ok (s, DIODE_MSG_WELCOME, 0);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_WELCOME);
  /* nothing to answer yet */
  sent_refused (s, DIODE_MSG_PUBLISH_OK);
  sent_refused (s, DIODE_MSG_SUBSCRIBE_OK);
  /* a relay end never sends client messages */
  sent_refused (s, DIODE_MSG_HELLO);
  sent_refused (s, DIODE_MSG_PUBLISH);

  feed (s, diode_msg_encode_ping (1));
  expect_type (s, DIODE_MSG_PING);
  sent_ok (s, DIODE_MSG_PONG, 0);

  feed (s, diode_msg_encode_publish ("cam"));
  expect_msg (s, DIODE_MSG_PUBLISH, &m);
  fail_unless_equals_string (m.stream, "cam");
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_SUBSCRIBE_OK);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  /* the relay sends no media to a publisher */
  sent_refused (s, DIODE_MSG_MEDIA);

  feed (s, diode_msg_encode_caps ("video/x-h264"));
  feed (s, media (1, DIODE_MEDIA_HEADER));
  feed (s, media (2, DIODE_MEDIA_KEYFRAME));
  feed (s, diode_msg_encode_pong (1));
  feed (s, media (10, 0));
  feed (s, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "just saying"));
  feed (s, diode_msg_encode_caps ("video/x-h264, width=(int)2"));
  feed (s, diode_msg_encode_eos (10));
  expect_type (s, DIODE_MSG_CAPS);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_PONG);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  expect_type (s, DIODE_MSG_CAPS);
  expect_type (s, DIODE_MSG_EOS);
  expect_need_more (s);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);

  /* a fatal ERROR sent closes */
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_SHUTDOWN);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_SHUTDOWN);
  sent_refused (s, DIODE_MSG_PING);
  feed (s, diode_msg_encode_ping (2));
  fail_unless_equals_int (diode_session_buffered (s), 0);
  expect_fails (s, DIODE_ERR_SHUTDOWN);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_viewer_flow)
{
  DiodeSession *s = relay_ready (DIODE_ROLE_VIEWER);
  DiodeMsg m;

  feed (s, diode_msg_encode_subscribe ("cam", 77, 3000));
  expect_msg (s, DIODE_MSG_SUBSCRIBE, &m);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_uint64 (m.start_seq, 77);
  fail_unless_equals_int (m.wait_ms, 3000);
  diode_msg_clear (&m);
  sent_refused (s, DIODE_MSG_PUBLISH_OK);
  sent_refused (s, DIODE_MSG_CAPS);
  sent_ok (s, DIODE_MSG_SUBSCRIBE_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  sent_ok (s, DIODE_MSG_CAPS, 0);
  sent_ok (s, DIODE_MSG_MEDIA, 0);
  sent_ok (s, DIODE_MSG_PING, 0);
  sent_ok (s, DIODE_MSG_EOS, 0);

  feed (s, diode_msg_encode_pong (5));
  expect_type (s, DIODE_MSG_PONG);
  feed (s, diode_msg_encode_ping (6));
  expect_type (s, DIODE_MSG_PING);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);

  /* a viewer hanging up */
  feed (s, diode_msg_encode_error (DIODE_ERR_SHUTDOWN, "bye"));
  expect_msg (s, DIODE_MSG_ERROR, &m);
  fail_unless_equals_int (m.error_code, DIODE_ERR_SHUTDOWN);
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  expect_fails_with (s, DIODE_ERR_SHUTDOWN,
      "session closed: peer sent ERROR 301 (SHUTDOWN): bye");
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_link_role)
{
  /* a relay link may both subscribe and publish (one at a time) */
  DiodeSession *s = relay_ready (DIODE_ROLE_RELAY);

  fail_unless_equals_int (diode_session_get_role (s), DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_subscribe ("cam", 0, 0));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_NOT_FOUND);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_refusal_keeps_connection)
{
  DiodeSession *s = relay_ready (DIODE_ROLE_PUBLISHER);

  feed (s, diode_msg_encode_publish ("taken"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_NAME_IN_USE);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  /* the refused request is over: no answer left to send */
  sent_refused (s, DIODE_MSG_PUBLISH_OK);
  ASSERT_STATE (s, DIODE_SESSION_READY);

  feed (s, diode_msg_encode_publish ("free"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_expect_hello)
{
  DiodeSession *s;

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "expected HELLO, got PUBLISH");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_ping (1));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "expected HELLO, got PING");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_welcome (1, 0, ""));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* HELLO twice */
  s = relay_ready (DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, ""));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected HELLO from client in state READY");
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_version_and_role)
{
  DiodeSession *s;

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (5, 6, DIODE_ROLE_VIEWER, ""));
  expect_fails_with (s, DIODE_ERR_VERSION,
      "client speaks versions 5..6, relay speaks 1..4");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (0, 0, DIODE_ROLE_VIEWER, ""));
  expect_fails (s, DIODE_ERR_VERSION);
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (4, 1, DIODE_ROLE_VIEWER, ""));
  expect_fails (s, DIODE_ERR_VERSION);
  diode_session_free (s);

  /* a newer client gets the relay's highest, a version-1 client 1 */
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 9, DIODE_ROLE_VIEWER, ""));
  expect_type (s, DIODE_MSG_HELLO);
  fail_unless_equals_int (diode_session_get_version (s), 4);
  diode_session_free (s);
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, ""));
  expect_type (s, DIODE_MSG_HELLO);
  fail_unless_equals_int (diode_session_get_version (s), 1);
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 1, 0, ""));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "HELLO with unknown role 0");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 1, 4, ""));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_illegal_orders)
{
  DiodeSession *s;

  /* MEDIA from a viewer */
  s = relay_subscribed ();
  feed (s, media (1, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected MEDIA from client in state SUBSCRIBED");
  diode_session_free (s);

  /* CAPS before PUBLISH_OK */
  s = relay_ready (DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  feed (s, diode_msg_encode_caps ("x"));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected CAPS from client in state READY");
  diode_session_free (s);

  /* MEDIA in READY */
  s = relay_ready (DIODE_ROLE_PUBLISHER);
  feed (s, media (1, 0));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* PUBLISH while PUBLISHING */
  s = relay_publishing ();
  feed (s, diode_msg_encode_publish ("cam2"));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected PUBLISH from client in state PUBLISHING");
  diode_session_free (s);

  /* SUBSCRIBE while SUBSCRIBED */
  s = relay_subscribed ();
  feed (s, diode_msg_encode_subscribe ("cam2", 0, 0));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* a second request while one is pending */
  s = relay_ready (DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_publish ("a"));
  feed (s, diode_msg_encode_publish ("b"));
  expect_type (s, DIODE_MSG_PUBLISH);
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "PUBLISH while a PUBLISH is pending");
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_subscribe ("a", 0, 0));
  feed (s, diode_msg_encode_publish ("b"));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "PUBLISH while a SUBSCRIBE is pending");
  diode_session_free (s);

  /* roles */
  s = relay_ready (DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_publish ("a"));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "PUBLISH from a client with role VIEWER");
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_subscribe ("a", 0, 0));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* messages only a relay sends */
  s = relay_publishing ();
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  s = relay_ready (DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_seq)
{
  DiodeSession *s;

  s = relay_publishing ();
  feed (s, media (7, DIODE_MEDIA_KEYFRAME));
  feed (s, media (5, 0));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA seq 5 after 7");
  diode_session_free (s);

  s = relay_publishing ();
  feed (s, media (3, 0));
  feed (s, media (3, 0));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA seq 3 after 3");
  diode_session_free (s);

  s = relay_publishing ();
  feed (s, media (0, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "MEDIA seq 0: sequence numbers start at 1");
  diode_session_free (s);

  /* EOS carries the last MEDIA's seq: equal is fine, going back is not;
   * and EOS ends the publish session, whatever comes after */
  s = relay_publishing ();
  feed (s, media (4, 0));
  feed (s, diode_msg_encode_eos (4));
  feed (s, media (5, 0));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_EOS);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA after EOS");
  diode_session_free (s);

  /* once EOS was handed out, the next MEDIA header alone is refused: its
   * 16 MiB are never buffered */
  s = relay_publishing ();
  feed (s, diode_msg_encode_eos (0));
  expect_type (s, DIODE_MSG_EOS);
  {
    guint8 hdr[DIODE_FRAME_HEADER_SIZE] = { DIODE_MSG_MEDIA, 0, 0, 0,
      0x01, 0x00, 0x00, 0x00 };
    diode_session_feed (s, hdr, sizeof (hdr));
  }
  fail_unless_equals_uint64 (diode_session_buffered (s), 0);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA after EOS");
  diode_session_free (s);

  s = relay_publishing ();
  feed (s, media (4, 0));
  feed (s, diode_msg_encode_eos (3));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "EOS seq 3 after 4");
  diode_session_free (s);

  /* EOS before any MEDIA carries 0; a new run needs a new PUBLISH session
   * (docs/protocol.md section 6, EOS), so nothing may follow on this one */
  s = relay_publishing ();
  feed (s, diode_msg_encode_eos (0));
  feed (s, media (1, 0));
  expect_type (s, DIODE_MSG_EOS);
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA after EOS");
  diode_session_free (s);

  /* gaps are fine (a relay skipping for a slow link does that) */
  s = relay_publishing ();
  feed (s, media (1, 0));
  feed (s, media (100, 0));
  feed (s, diode_msg_encode_eos (G_MAXUINT64));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_EOS);
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Client end                                                               */

GST_START_TEST (test_client_handshake)
{
  DiodeSession *s;
  DiodeMsg m;

  /* before HELLO nothing may be sent but HELLO, nothing received */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_refused (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);
  sent_refused (s, DIODE_MSG_PING);
  sent_refused (s, DIODE_MSG_WELCOME);
  feed (s, diode_msg_encode_welcome (1, 0, ""));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "WELCOME from relay before HELLO was sent");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  sent_refused (s, DIODE_MSG_HELLO);
  sent_refused (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_PING, 0);
  feed (s, diode_msg_encode_welcome (1, 4000, "relay/1"));
  expect_msg (s, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.keepalive_ms, 4000);
  fail_unless_equals_string (m.agent, "relay/1");
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_HELLO);
  feed (s, diode_msg_encode_welcome (1, 4000, ""));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* first message must be WELCOME */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "expected WELCOME, got PUBLISH_OK");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_ping (1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* version out of range */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_welcome (2, 0, ""));
  expect_fails_with (s, DIODE_ERR_VERSION,
      "relay chose version 2, client speaks 1..1");
  diode_session_free (s);

  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_welcome (0, 0, ""));
  expect_fails (s, DIODE_ERR_VERSION);
  diode_session_free (s);

  /* the relay refusing our versions: an ERROR, returned as a message */
  s = diode_session_new (DIODE_SESSION_CLIENT_END);
  sent_ok (s, DIODE_MSG_HELLO, 0);
  feed (s, diode_msg_encode_error (DIODE_ERR_VERSION, "client speaks "
          "versions 2..5, relay speaks 1..1"));
  expect_msg (s, DIODE_MSG_ERROR, &m);
  fail_unless_equals_int (m.error_code, DIODE_ERR_VERSION);
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  expect_fails (s, DIODE_ERR_VERSION);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_client_publish_flow)
{
  DiodeSession *s = client_ready ();
  DiodeMsg m;

  sent_refused (s, DIODE_MSG_CAPS);
  sent_ok (s, DIODE_MSG_PUBLISH, 0);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);
  sent_refused (s, DIODE_MSG_MEDIA);
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_msg (s, DIODE_MSG_PUBLISH_OK, &m);
  fail_unless_equals_string (m.stream, "cam");
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  sent_ok (s, DIODE_MSG_CAPS, 0);
  sent_ok (s, DIODE_MSG_MEDIA, 0);
  sent_ok (s, DIODE_MSG_MEDIA, 0);
  sent_ok (s, DIODE_MSG_EOS, 0);
  sent_ok (s, DIODE_MSG_PONG, 0);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);

  feed (s, diode_msg_encode_ping (3));
  expect_type (s, DIODE_MSG_PING);
  feed (s, diode_msg_encode_pong (3));
  expect_type (s, DIODE_MSG_PONG);
  feed (s, diode_msg_encode_error (DIODE_ERR_NOT_AUTHORIZED, "x"));
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);

  /* the relay sends no media to a publisher */
  feed (s, media (1, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected MEDIA from relay in state PUBLISHING");
  diode_session_free (s);

  s = client_ready ();
  sent_ok (s, DIODE_MSG_PUBLISH, 0);
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_type (s, DIODE_MSG_PUBLISH_OK);
  feed (s, diode_msg_encode_caps ("x"));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* PUBLISH_OK nobody asked for */
  s = client_ready ();
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "PUBLISH_OK in state READY without a pending PUBLISH");
  diode_session_free (s);

  /* PUBLISH_OK answering a SUBSCRIBE */
  s = client_ready ();
  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  feed (s, diode_msg_encode_publish_ok ("cam", 1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_client_subscribe_flow)
{
  DiodeSession *s = client_ready ();
  DiodeMsg m;

  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBING);
  sent_refused (s, DIODE_MSG_SUBSCRIBE);
  sent_refused (s, DIODE_MSG_PUBLISH);
  /* while the relay waits for the stream, keepalives flow */
  feed (s, diode_msg_encode_ping (1));
  expect_type (s, DIODE_MSG_PING);
  sent_ok (s, DIODE_MSG_PONG, 0);
  feed (s, diode_msg_encode_subscribe_ok ("cam", 1000));
  expect_msg (s, DIODE_MSG_SUBSCRIBE_OK, &m);
  fail_unless_equals_uint64 (m.seq, 1000);
  fail_unless_equals_string (m.stream, "cam");
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  sent_refused (s, DIODE_MSG_MEDIA);

  feed (s, diode_msg_encode_caps ("video/x-h264"));
  feed (s, media (1, DIODE_MEDIA_HEADER));
  feed (s, media (1000, DIODE_MEDIA_KEYFRAME));
  feed (s, media (1001, 0));
  feed (s, diode_msg_encode_eos (1001));
  expect_type (s, DIODE_MSG_CAPS);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_EOS);
  expect_need_more (s);

  feed (s, media (1001, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "MEDIA seq 1001 after 1001");
  diode_session_free (s);

  /* media before SUBSCRIBE_OK */
  s = client_ready ();
  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  feed (s, diode_msg_encode_caps ("x"));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "unexpected CAPS from relay in state SUBSCRIBING");
  diode_session_free (s);

  /* SUBSCRIBE_OK twice */
  s = client_subscribed ();
  feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* slow viewer disconnected by the relay */
  s = client_subscribed ();
  feed (s, media (5, 0));
  feed (s, diode_msg_encode_error (DIODE_ERR_SLOW_VIEWER, "too slow"));
  feed (s, media (6, 0));
  expect_type (s, DIODE_MSG_MEDIA);
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  expect_fails (s, DIODE_ERR_SLOW_VIEWER);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_client_refusals)
{
  DiodeSession *s = client_ready ();
  DiodeMsg m;

  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  feed (s, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "no such stream"));
  expect_msg (s, DIODE_MSG_ERROR, &m);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_FOUND);
  fail_unless_equals_string (m.error_text, "no such stream");
  diode_msg_clear (&m);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  /* the answer to the refused request can no longer come */
  feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  s = client_ready ();
  sent_ok (s, DIODE_MSG_PUBLISH, 0);
  feed (s, diode_msg_encode_error (DIODE_ERR_NAME_IN_USE, "taken"));
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  /* try again under another name */
  sent_ok (s, DIODE_MSG_PUBLISH, 0);
  feed (s, diode_msg_encode_publish_ok ("other", 1));
  expect_type (s, DIODE_MSG_PUBLISH_OK);
  ASSERT_STATE (s, DIODE_SESSION_PUBLISHING);
  diode_session_free (s);

  /* a fatal ERROR while pending closes */
  s = client_ready ();
  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  feed (s, diode_msg_encode_error (DIODE_ERR_INTERNAL, "oops"));
  expect_type (s, DIODE_MSG_ERROR);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  expect_fails_with (s, DIODE_ERR_INTERNAL,
      "session closed: peer sent ERROR 302 (INTERNAL): oops");
  diode_session_free (s);

  /* a client sending a fatal ERROR closes too */
  s = client_subscribed ();
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_TIMEOUT);
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  expect_fails (s, DIODE_ERR_TIMEOUT);
  diode_session_free (s);

  /* ... but a non-fatal one does not cancel its own request */
  s = client_ready ();
  sent_ok (s, DIODE_MSG_SUBSCRIBE, 0);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_NOT_FOUND);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBING);
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Errors are sticky                                                        */

GST_START_TEST (test_error_sticky)
{
  DiodeSession *s = relay_publishing ();
  gchar *first_text, *again;
  guint i;

  feed (s, media (2, 0));
  feed (s, media (1, 0));
  feed (s, media (3, 0));
  expect_type (s, DIODE_MSG_MEDIA);
  first_text = next_fails (s, DIODE_ERR_PROTOCOL);
  fail_unless_equals_string (first_text, "MEDIA seq 1 after 2");
  fail_unless_equals_int (diode_session_buffered (s), 0);

  for (i = 0; i < 5; i++) {
    /* valid frames do not revive it, and are not even kept */
    feed (s, media (10 + i, 0));
    fail_unless_equals_int (diode_session_buffered (s), 0);
    again = next_fails (s, DIODE_ERR_PROTOCOL);
    fail_unless_equals_string (again, first_text);
    g_free (again);
  }
  ASSERT_STATE (s, DIODE_SESSION_CLOSED);
  /* reporting the error is still allowed; other sends are not */
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_PROTOCOL);
  sent_refused (s, DIODE_MSG_PUBLISH_OK);
  g_free (first_text);
  diode_session_free (s);

  /* the error survives a caller passing NULL for the GError */
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_ping (1));
  {
    DiodeMsg m;

    fail_unless_equals_int (diode_session_next (s, &m, NULL),
        DIODE_SESSION_ERROR);
  }
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "expected HELLO, got PING");
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Garbage                                                                  */

static const guint8 known_types[] = { DIODE_MSG_HELLO, DIODE_MSG_WELCOME,
  DIODE_MSG_PUBLISH, DIODE_MSG_PUBLISH_OK, DIODE_MSG_SUBSCRIBE,
  DIODE_MSG_SUBSCRIBE_OK, DIODE_MSG_CAPS, DIODE_MSG_MEDIA, DIODE_MSG_EOS,
  DIODE_MSG_PING, DIODE_MSG_PONG, DIODE_MSG_ERROR
};

/* Appends one valid frame; MEDIA takes the next sequence number, EOS
 * repeats the last. */
static void
append_valid (GRand * rand, GByteArray * a, guint64 * seq)
{
  GBytes *f;

  switch (g_rand_int_range (rand, 0, 14)) {
    case 0:
      f = diode_msg_encode_hello (1, g_rand_int_range (rand, 0, 3),
          g_rand_int_range (rand, 0, 5), "g");
      break;
    case 1:
      f = diode_msg_encode_welcome (g_rand_int_range (rand, 0, 3), 0, "");
      break;
    case 2:
      f = diode_msg_encode_publish ("g");
      break;
    case 3:
      f = diode_msg_encode_subscribe ("g", 0, 0);
      break;
    case 4:
      f = diode_msg_encode_publish_ok ("g", 1);
      break;
    case 5:
      f = diode_msg_encode_subscribe_ok ("g", 1);
      break;
    case 6:
      f = diode_msg_encode_caps ("video/x-raw");
      break;
    case 7:
      f = diode_msg_encode_eos (*seq);
      break;
    case 8:
      f = diode_msg_encode_ping (*seq);
      break;
    case 9:
      f = diode_msg_encode_pong (*seq);
      break;
    case 10:
      f = diode_msg_encode_error (g_rand_boolean (rand) ? 100 :
          g_rand_int_range (rand, 99, 304), "g");
      break;
    default:
      /* mostly in order, now and then going back */
      if (g_rand_int_range (rand, 0, 20) == 0)
        *seq = g_rand_int_range (rand, 0, 3);
      f = media (++*seq, g_rand_int (rand));
      break;
  }
  g_byte_array_append (a, g_bytes_get_data (f, NULL), g_bytes_get_size (f));
  g_bytes_unref (f);
}

/* Appends something frame-like: a valid frame, noise, or a plausible header
 * (known type, small length) over random payload, so the parser and the
 * state machine are reached, not only the header check. */
static void
append_garbage (GRand * rand, GByteArray * a, guint64 * seq)
{
  guint kind = g_rand_int_range (rand, 0, 20);
  guint8 buf[600];
  guint len = g_rand_int_range (rand, 0, 120), i;

  if (kind < 14) {
    append_valid (rand, a, seq);
    return;
  }

  for (i = 0; i < sizeof (buf); i++)
    buf[i] = g_rand_int_range (rand, 0, 256);
  if (kind == 14) {
    /* pure noise */
    g_byte_array_append (a, buf, g_rand_int_range (rand, 1, 64));
    return;
  }

  buf[0] = known_types[g_rand_int_range (rand, 0, G_N_ELEMENTS (known_types))];
  if (kind > 15)
    buf[1] = buf[2] = buf[3] = 0;
  if (kind == 16) {
    /* an absurd length */
    buf[4] = g_rand_int_range (rand, 0, 256);
  } else {
    buf[4] = buf[5] = 0;
    buf[6] = len >> 8;
    buf[7] = len;
  }
  /* small leading u16, so strings are sometimes complete */
  if (kind >= 18) {
    buf[8] = 0;
    buf[9] = g_rand_int_range (rand, 0, 12);
  }
  g_byte_array_append (a, buf, DIODE_FRAME_HEADER_SIZE + len);
}

/* Answers a message the way a real peer would, or (1 in 8) at random,
 * legal or not: neither may break anything. */
static void
answer (GRand * rand, DiodeSession * s, DiodeMsgType type)
{
  static const DiodeMsgType any[] = { DIODE_MSG_WELCOME,
    DIODE_MSG_PUBLISH_OK, DIODE_MSG_SUBSCRIBE_OK, DIODE_MSG_ERROR,
    DIODE_MSG_PUBLISH, DIODE_MSG_SUBSCRIBE, DIODE_MSG_PING, DIODE_MSG_MEDIA
  };

  if (g_rand_int_range (rand, 0, 8) == 0) {
    diode_session_sent (s, any[g_rand_int_range (rand, 0, G_N_ELEMENTS (any))],
        g_rand_int_range (rand, 99, 304), NULL);
    return;
  }
  switch (type) {
    case DIODE_MSG_HELLO:
      diode_session_sent (s, DIODE_MSG_WELCOME, 0, NULL);
      break;
    case DIODE_MSG_PUBLISH:
      diode_session_sent (s, DIODE_MSG_PUBLISH_OK, 0, NULL);
      break;
    case DIODE_MSG_SUBSCRIBE:
      diode_session_sent (s, DIODE_MSG_SUBSCRIBE_OK, 0, NULL);
      break;
    case DIODE_MSG_WELCOME:
      diode_session_sent (s, g_rand_boolean (rand) ? DIODE_MSG_PUBLISH :
          DIODE_MSG_SUBSCRIBE, 0, NULL);
      break;
    case DIODE_MSG_PING:
      diode_session_sent (s, DIODE_MSG_PONG, 0, NULL);
      break;
    default:
      break;
  }
}

/* A prelude that brings the session to READY, PUBLISHING or SUBSCRIBED
 * (or leaves it at the start), so garbage hits every state. */
static void
append_prelude (GRand * rand, DiodeSessionEnd end, GByteArray * a)
{
  guint which = g_rand_int_range (rand, 0, 4);
  GBytes *f[2] = { NULL, NULL };
  guint i;

  if (which == 0)
    return;
  if (end == DIODE_SESSION_RELAY_END) {
    f[0] = diode_msg_encode_hello (1, 1, which == 3 ? DIODE_ROLE_VIEWER :
        DIODE_ROLE_PUBLISHER, "p");
    if (which == 2)
      f[1] = diode_msg_encode_publish ("p");
    else if (which == 3)
      f[1] = diode_msg_encode_subscribe ("p", 0, 0);
  } else {
    f[0] = diode_msg_encode_welcome (1, 0, "p");
    if (which >= 2)
      f[1] = diode_msg_encode_subscribe_ok ("p", 1);
  }
  for (i = 0; i < 2; i++) {
    if (f[i] == NULL)
      continue;
    g_byte_array_append (a, g_bytes_get_data (f[i], NULL),
        g_bytes_get_size (f[i]));
    g_bytes_unref (f[i]);
  }
}

static void
run_garbage (DiodeSessionEnd end, guint32 seed, guint iterations)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint it, messages = 0, errors = 0, media_msgs = 0;

  for (it = 0; it < iterations; it++) {
    DiodeSession *s = diode_session_new (end);
    GByteArray *a = g_byte_array_new ();
    guint frames = g_rand_int_range (rand, 1, 12), i;
    guint64 seq = 0;
    gsize pos = 0;
    DiodeSessionResult r = DIODE_SESSION_NEED_MORE;

    if (end == DIODE_SESSION_CLIENT_END)
      diode_session_sent (s, DIODE_MSG_HELLO, 0, NULL);
    append_prelude (rand, end, a);
    for (i = 0; i < frames; i++)
      append_garbage (rand, a, &seq);

    /* feed in random pieces; drain after each */
    while (pos < a->len) {
      gsize piece = g_rand_int_range (rand, 1, 200);
      DiodeMsg m;
      GError *err = NULL;

      piece = MIN (piece, a->len - pos);
      diode_session_feed (s, a->data + pos, piece);
      pos += piece;
      while ((r = diode_session_next (s, &m, &err)) == DIODE_SESSION_MESSAGE) {
        DiodeMsgType type = m.type;

        messages++;
        if (type == DIODE_MSG_MEDIA)
          media_msgs++;
        fail_unless (m.frame != NULL);
        diode_msg_clear (&m);
        answer (rand, s, type);
      }
      if (r == DIODE_SESSION_ERROR) {
        fail_unless (err != NULL);
        fail_unless (diode_error_code_is_fatal (err->code));
        g_error_free (err);
        errors++;
        break;
      }
      fail_unless (err == NULL);
    }
    fail_unless (r == DIODE_SESSION_NEED_MORE || r == DIODE_SESSION_ERROR);
    g_byte_array_unref (a);
    diode_session_free (s);
  }
  GST_INFO ("%u iterations: %u messages (%u MEDIA), %u errors", iterations,
      messages, media_msgs, errors);
  /* the generator must actually reach the parser and state machine */
  fail_unless (messages > iterations);
  fail_unless (media_msgs > iterations / 20);
  g_rand_free (rand);
}

GST_START_TEST (test_garbage_relay_end)
{
  run_garbage (DIODE_SESSION_RELAY_END, 0xd10de, 20000);
}

GST_END_TEST;

GST_START_TEST (test_garbage_client_end)
{
  run_garbage (DIODE_SESSION_CLIENT_END, 0xc11e47, 10000);
}

GST_END_TEST;

/* Pure random bytes, the dumbest fuzzer: must end in NEED_MORE or ERROR. */
GST_START_TEST (test_garbage_raw_bytes)
{
  GRand *rand = g_rand_new_with_seed (1234);
  guint it;

  for (it = 0; it < 20000; it++) {
    DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);
    guint8 buf[256];
    guint len = g_rand_int_range (rand, 0, sizeof (buf)), i;
    DiodeMsg m;
    DiodeSessionResult r;

    for (i = 0; i < len; i++)
      buf[i] = g_rand_int_range (rand, 0, 256);
    /* now and then a correct first byte, to get past the type check */
    if (len > 0 && g_rand_boolean (rand))
      buf[0] = known_types[g_rand_int_range (rand, 0,
              G_N_ELEMENTS (known_types))];
    diode_session_feed (s, buf, len);
    while ((r = diode_session_next (s, &m, NULL)) == DIODE_SESSION_MESSAGE)
      diode_msg_clear (&m);
    fail_unless (r == DIODE_SESSION_NEED_MORE || r == DIODE_SESSION_ERROR);
    diode_session_free (s);
  }
  g_rand_free (rand);
}

GST_END_TEST;

static Suite *
session_suite (void)
{
  Suite *s = suite_create ("diode-session");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_version_choose);
  tcase_add_test (tc, test_too_large_from_header);
  tcase_add_test (tc, test_bad_header);
  tcase_add_test (tc, test_malformed_payload);
  tcase_add_test (tc, test_byte_at_a_time);
  tcase_add_test (tc, test_many_frames_one_feed);
  tcase_add_test (tc, test_large_frames_in_pieces);
  tcase_add_test (tc, test_relay_publisher_flow);
  tcase_add_test (tc, test_relay_viewer_flow);
  tcase_add_test (tc, test_relay_link_role);
  tcase_add_test (tc, test_relay_refusal_keeps_connection);
  tcase_add_test (tc, test_relay_expect_hello);
  tcase_add_test (tc, test_relay_version_and_role);
  tcase_add_test (tc, test_relay_illegal_orders);
  tcase_add_test (tc, test_relay_seq);
  tcase_add_test (tc, test_client_handshake);
  tcase_add_test (tc, test_client_publish_flow);
  tcase_add_test (tc, test_client_subscribe_flow);
  tcase_add_test (tc, test_client_refusals);
  tcase_add_test (tc, test_error_sticky);
  tcase_add_test (tc, test_garbage_relay_end);
  tcase_add_test (tc, test_garbage_client_end);
  tcase_add_test (tc, test_garbage_raw_bytes);
  return s;
}

GST_CHECK_MAIN (session);
