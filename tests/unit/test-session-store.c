/* gst-diode — unit tests: session state machines for recordings (version 3)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rows version 3 adds to docs/protocol.md section 3 and section 15:
 * relay end READY -> RANGE/FETCH pending (one request at a time, nothing
 * but PING/PONG/ERROR meanwhile, back to READY on RANGE_OK, FETCH_END or
 * a refusal), refused from publishers and below version 3; client end
 * RANGE -> RANGE_OK, FETCH -> FETCHING with each CHUNK's frames counted
 * (no CHUNK or FETCH_END inside one, no CAPS/MEDIA/EOS outside one, sizes
 * bounded by the CHUNK's bytes, prelude and seq rules), STORED to a
 * publisher; and that clients offering 1..3 negotiate 3.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-session.h"
#include "sessioncheck.h"

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

static DiodeSession *
relay_end (guint16 vmax, DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);

  feed (s, diode_msg_encode_hello (1, vmax, role, "peer"));
  expect_type (s, DIODE_MSG_HELLO);
  sent_ok (s, DIODE_MSG_WELCOME, 0);
  return s;
}

static DiodeSession *
client_end (DiodeRole role, guint16 version)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);

  fail_unless (diode_session_sent_hello (s, 1, DIODE_PROTOCOL_VERSION_MAX,
          role, NULL));
  feed (s, diode_msg_encode_welcome (version, 800, "relay"));
  expect_type (s, DIODE_MSG_WELCOME);
  fail_unless_equals_int (diode_session_get_version (s), version);
  return s;
}

static DiodeChunkHeader
chunk (guint64 first, guint64 last, guint32 n_prelude, guint32 n_frames,
    guint32 bytes)
{
  DiodeChunkHeader h = { first, last, 0, 0, 0, DIODE_CHUNK_KEYFRAME,
    n_prelude, n_frames, bytes, 0
  };
  return h;
}

static GBytes *
media (guint64 seq, guint32 flags, gsize len)
{
  guint8 data[64] = { 0, };

  g_assert (len <= sizeof (data));
  return diode_msg_encode_media (seq, 0, 0, 0, DIODE_TIME_NONE,
      DIODE_TIME_NONE, flags, data, len);
}

#define MEDIA_SIZE(len) (DIODE_MEDIA_PREFIX_SIZE + (len))
#define STREAMHEADER DIODE_MEDIA_STREAMHEADER

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_negotiates_3)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);
  DiodeSession *c = diode_session_new (DIODE_SESSION_CLIENT_END);

  /* what the elements of the recordings release offered (a version-3
   * peer): the relay still chooses 3 for them */
  feed (s, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "diodesrc"));
  expect_type (s, DIODE_MSG_HELLO);
  fail_unless_equals_int (diode_session_get_version (s), 3);
  diode_session_free (s);

  /* a client offering 1..3 accepts an older relay's 1 */
  fail_unless (diode_session_sent_hello (c, 1, 3, DIODE_ROLE_PUBLISHER,
          NULL));
  feed (c, diode_msg_encode_welcome (1, 800, "old"));
  expect_type (c, DIODE_MSG_WELCOME);
  fail_unless_equals_int (diode_session_get_version (c), 1);
  /* ... and then may not send RANGE or FETCH */
  sent_refused (c, DIODE_MSG_RANGE);
  sent_refused (c, DIODE_MSG_FETCH);
  diode_session_free (c);
}

GST_END_TEST;

GST_START_TEST (test_relay_end_range_fetch)
{
  DiodeSession *s = relay_end (3, DIODE_ROLE_VIEWER);
  DiodeMsg m;

  /* RANGE, then nothing but PING/PONG/ERROR until answered */
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_msg (s, DIODE_MSG_RANGE, &m);
  fail_unless_equals_string (m.stream, "cam");
  diode_msg_clear (&m);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_FETCH), 0);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_PING),
      DIODE_MAX_SMALL_PAYLOAD);
  feed (s, diode_msg_encode_ping (1));
  expect_type (s, DIODE_MSG_PING);
  sent_refused (s, DIODE_MSG_FETCH_END);
  sent_refused (s, DIODE_MSG_CHUNK);
  sent_refused (s, DIODE_MSG_MEDIA);
  sent_ok (s, DIODE_MSG_RANGE_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_RANGE_OK);

  /* FETCH: the relay sends CHUNKs and their frames, then FETCH_END */
  feed (s, diode_msg_encode_fetch ("cam", 1, 10, 0));
  expect_type (s, DIODE_MSG_FETCH);
  sent_ok (s, DIODE_MSG_CHUNK, 0);
  sent_ok (s, DIODE_MSG_CAPS, 0);
  sent_ok (s, DIODE_MSG_MEDIA, 0);
  sent_ok (s, DIODE_MSG_EOS, 0);
  sent_refused (s, DIODE_MSG_RANGE_OK);
  sent_ok (s, DIODE_MSG_FETCH_END, 0);
  ASSERT_STATE (s, DIODE_SESSION_READY);
  sent_refused (s, DIODE_MSG_CHUNK);
  sent_refused (s, DIODE_MSG_MEDIA);

  /* a refusal (1xx) ends the request too */
  feed (s, diode_msg_encode_fetch ("cam", 1, 10, 0));
  expect_type (s, DIODE_MSG_FETCH);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_NOT_STORED);
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_type (s, DIODE_MSG_RANGE);
  sent_ok (s, DIODE_MSG_ERROR, DIODE_ERR_STORE_FAILED);

  /* then a SUBSCRIBE on the same connection */
  feed (s, diode_msg_encode_subscribe ("cam", 0, 0));
  expect_type (s, DIODE_MSG_SUBSCRIBE);
  sent_ok (s, DIODE_MSG_SUBSCRIBE_OK, 0);
  ASSERT_STATE (s, DIODE_SESSION_SUBSCRIBED);
  /* not while subscribed */
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "unexpected RANGE");
  diode_session_free (s);

  /* one request at a time */
  s = relay_end (3, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_type (s, DIODE_MSG_RANGE);
  feed (s, diode_msg_encode_fetch ("cam", 1, 2, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "FETCH while a RANGE is pending");
  diode_session_free (s);
  s = relay_end (3, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_fetch ("cam", 1, 2, 0));
  expect_type (s, DIODE_MSG_FETCH);
  feed (s, diode_msg_encode_subscribe ("cam", 0, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL,
      "SUBSCRIBE while a FETCH is pending");
  diode_session_free (s);

  /* role RELAY may ask too */
  s = relay_end (3, DIODE_ROLE_RELAY);
  fail_unless (diode_session_is_link (s));
  feed (s, diode_msg_encode_fetch ("cam", 1, 2, DIODE_RANGE_LOCAL));
  expect_type (s, DIODE_MSG_FETCH);
  sent_ok (s, DIODE_MSG_FETCH_END, 0);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_end_refusals)
{
  DiodeSession *s;

  /* publishers do not read recordings */
  s = relay_end (3, DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "RANGE from a client with role "
      "PUBLISHER");
  diode_session_free (s);
  s = relay_end (3, DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_fetch ("cam", 1, 1, 0));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* below version 3 the types are unknown, judged from the header */
  s = relay_end (2, DIODE_ROLE_VIEWER);
  fail_unless_equals_int (diode_session_get_version (s), 2);
  fail_unless_equals_int (diode_session_frame_limit (s, DIODE_MSG_RANGE), 0);
  feed (s, diode_msg_encode_range ("cam", 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "only at protocol version 3");
  diode_session_free (s);
  s = relay_end (2, DIODE_ROLE_RELAY);
  feed (s, diode_msg_encode_fetch ("cam", 1, 1, 0));
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "only at protocol version 3");
  diode_session_free (s);

  /* frames only a relay sends */
  s = relay_end (3, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_stored (1, 1, FALSE));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
  s = relay_end (3, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_fetch_end (1, 0));
  expect_fails (s, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* a malformed FETCH is fatal */
  s = relay_end (3, DIODE_ROLE_VIEWER);
  {
    static const guint8 bad[] = { DIODE_MSG_FETCH, 0, 0, 0, 0, 0, 0, 22,
      0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 8, 0
    };
    diode_session_feed (s, bad, sizeof (bad));
  }
  expect_fails_with (s, DIODE_ERR_PROTOCOL, "after to_seq");
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_relay_end_stored)
{
  DiodeSession *s;

  s = relay_end (3, DIODE_ROLE_PUBLISHER);
  sent_refused (s, DIODE_MSG_STORED);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_refused (s, DIODE_MSG_STORED);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  sent_ok (s, DIODE_MSG_STORED, 0);
  feed (s, diode_msg_encode_eos (0));
  expect_type (s, DIODE_MSG_EOS);
  /* the final STORED comes after the publisher's EOS */
  sent_ok (s, DIODE_MSG_STORED, 0);
  diode_session_free (s);

  /* not below version 3 */
  s = relay_end (2, DIODE_ROLE_PUBLISHER);
  feed (s, diode_msg_encode_publish ("cam"));
  expect_type (s, DIODE_MSG_PUBLISH);
  sent_ok (s, DIODE_MSG_PUBLISH_OK, 0);
  sent_refused (s, DIODE_MSG_STORED);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_client_range)
{
  DiodeSession *c = client_end (DIODE_ROLE_VIEWER, 3);
  DiodeMsg m;

  /* RANGE_OK only as an answer */
  feed (c, diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL, NULL,
          0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "without a pending RANGE");
  diode_session_free (c);

  c = client_end (DIODE_ROLE_VIEWER, 3);
  sent_ok (c, DIODE_MSG_RANGE, 0);
  ASSERT_STATE (c, DIODE_SESSION_READY);
  sent_refused (c, DIODE_MSG_FETCH);
  sent_refused (c, DIODE_MSG_SUBSCRIBE);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_RANGE_OK),
      DIODE_MAX_RANGE_OK_PAYLOAD);
  feed (c, diode_msg_encode_range_ok ("cam", DIODE_STREAM_RECORDING, NULL, 0,
          NULL, NULL, NULL, 0));
  expect_msg (c, DIODE_MSG_RANGE_OK, &m);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  diode_msg_clear (&m);
  /* a refusal answers it too */
  sent_ok (c, DIODE_MSG_RANGE, 0);
  feed (c, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "no"));
  expect_type (c, DIODE_MSG_ERROR);
  ASSERT_STATE (c, DIODE_SESSION_READY);
  /* then RANGE, SUBSCRIBE: the usual viewer's order */
  sent_ok (c, DIODE_MSG_RANGE, 0);
  feed (c, diode_msg_encode_range_ok ("cam", 1, NULL, 0, NULL, NULL, NULL,
          0));
  expect_type (c, DIODE_MSG_RANGE_OK);
  sent_ok (c, DIODE_MSG_SUBSCRIBE, 0);
  {
    DiodeSubscribeOkArgs a = { "cam", 5, NULL, 0, NULL, NULL, NULL,
      DIODE_STREAM_LIVE_RECORDED, 77
    };
    feed (c, diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_VIEWER));
  }
  expect_msg (c, DIODE_MSG_SUBSCRIBE_OK, &m);
  fail_unless_equals_int (m.start_time, 77);
  diode_msg_clear (&m);
  ASSERT_STATE (c, DIODE_SESSION_SUBSCRIBED);
  sent_refused (c, DIODE_MSG_RANGE);
  diode_session_free (c);

  /* a publisher does not ask */
  c = client_end (DIODE_ROLE_PUBLISHER, 3);
  sent_refused (c, DIODE_MSG_RANGE);
  diode_session_free (c);
}

GST_END_TEST;

/* A FETCH answered with two chunks (prelude CAPS + STREAMHEADER, then the
 * chunk proper), then FETCH_END. */
GST_START_TEST (test_client_fetch_flow)
{
  DiodeSession *c = client_end (DIODE_ROLE_VIEWER, 3);
  GBytes *caps = diode_msg_encode_caps ("video/x-h264");
  gsize caps_size = g_bytes_get_size (caps);
  DiodeChunkHeader h;
  DiodeMsg m;

  g_bytes_unref (caps);
  sent_ok (c, DIODE_MSG_FETCH, 0);
  ASSERT_STATE (c, DIODE_SESSION_FETCHING);
  sent_refused (c, DIODE_MSG_RANGE);
  sent_refused (c, DIODE_MSG_FETCH);

  /* between chunks: CHUNK, FETCH_END; no media */
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_MEDIA), 0);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_CHUNK),
      DIODE_MAX_SMALL_PAYLOAD);

  h = chunk (10, 12, 2, 5, caps_size + 4 * MEDIA_SIZE (10));
  feed (c, diode_msg_encode_chunk (&h));
  expect_msg (c, DIODE_MSG_CHUNK, &m);
  fail_unless_equals_int (m.chunk.n_frames, 5);
  diode_msg_clear (&m);
  /* inside: media yes, bounded by what is left; CHUNK/FETCH_END no */
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_CHUNK), 0);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_FETCH_END),
      0);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_MEDIA),
      caps_size + 4 * MEDIA_SIZE (10) - 8 - 4 * 8);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_PING),
      DIODE_MAX_SMALL_PAYLOAD);
  feed (c, diode_msg_encode_caps ("video/x-h264"));
  expect_type (c, DIODE_MSG_CAPS);
  /* a stream header published long before: a low seq is fine here */
  feed (c, media (2, STREAMHEADER, 10));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, diode_msg_encode_ping (5));
  expect_type (c, DIODE_MSG_PING);
  feed (c, media (10, DIODE_MEDIA_KEYFRAME, 10));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, media (11, 0, 10));
  expect_type (c, DIODE_MSG_MEDIA);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_MEDIA),
      MEDIA_SIZE (10) - 8);
  feed (c, media (12, 0, 10));
  expect_type (c, DIODE_MSG_MEDIA);

  /* the next chunk (DIODE_CHUNK_EOS: the last frame is EOS) */
  h = chunk (13, 14, 0, 3, 2 * MEDIA_SIZE (0) + 16);
  h.flags |= DIODE_CHUNK_EOS;
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (13, DIODE_MEDIA_KEYFRAME, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, media (14, 0, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, diode_msg_encode_eos (14));
  expect_type (c, DIODE_MSG_EOS);

  feed (c, diode_msg_encode_fetch_end (15, DIODE_FETCH_DONE));
  expect_msg (c, DIODE_MSG_FETCH_END, &m);
  fail_unless_equals_int (m.next_seq, 15);
  diode_msg_clear (&m);
  ASSERT_STATE (c, DIODE_SESSION_READY);

  /* a new FETCH starts its seq check afresh (the same chunks again) */
  sent_ok (c, DIODE_MSG_FETCH, 0);
  h = chunk (13, 14, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (13, DIODE_MEDIA_KEYFRAME, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  /* a refusal in the middle (the store failed): READY again */
  feed (c, diode_msg_encode_error (DIODE_ERR_STORE_FAILED, "read error"));
  expect_type (c, DIODE_MSG_ERROR);
  ASSERT_STATE (c, DIODE_SESSION_READY);
  sent_ok (c, DIODE_MSG_FETCH, 0);
  h = chunk (20, 20, 0, 2, MEDIA_SIZE (0) + 8);
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (20, DIODE_MEDIA_KEYFRAME, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  /* ... even with frames outstanding */
  feed (c, diode_msg_encode_error (DIODE_ERR_NOT_STORED, "gone"));
  expect_type (c, DIODE_MSG_ERROR);
  ASSERT_STATE (c, DIODE_SESSION_READY);
  fail_unless_equals_int (diode_session_frame_limit (c, DIODE_MSG_MEDIA), 0);
  /* and then a SUBSCRIBE */
  sent_ok (c, DIODE_MSG_SUBSCRIBE, 0);
  diode_session_free (c);
}

GST_END_TEST;

/* Each rule a FETCH's frames break, one session each. */
GST_START_TEST (test_client_fetch_refusals)
{
  DiodeSession *c;
  DiodeChunkHeader h;

#define FETCHING() G_STMT_START { \
    c = client_end (DIODE_ROLE_VIEWER, 3); \
    sent_ok (c, DIODE_MSG_FETCH, 0); } G_STMT_END

  /* CHUNK/FETCH_END without a FETCH */
  c = client_end (DIODE_ROLE_VIEWER, 3);
  feed (c, diode_msg_encode_fetch_end (1, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "without a pending FETCH");
  diode_session_free (c);
  c = client_end (DIODE_ROLE_VIEWER, 3);
  h = chunk (1, 1, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_fails (c, DIODE_ERR_PROTOCOL);
  diode_session_free (c);

  /* media outside a chunk */
  FETCHING ();
  feed (c, media (1, 0, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "outside a CHUNK");
  diode_session_free (c);

  /* FETCH_END / CHUNK with frames outstanding */
  FETCHING ();
  h = chunk (1, 1, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, diode_msg_encode_fetch_end (2, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "1 frames of a CHUNK are still");
  diode_session_free (c);
  FETCHING ();
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, diode_msg_encode_chunk (&h));
  expect_fails (c, DIODE_ERR_PROTOCOL);
  diode_session_free (c);

  /* a frame bigger than the chunk announced: refused from its header,
   * before its payload is kept */
  FETCHING ();
  h = chunk (1, 2, 0, 2, MEDIA_SIZE (0) + MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  {
    GBytes *f = media (1, DIODE_MEDIA_KEYFRAME, 60);

    diode_session_feed (c, g_bytes_get_data (f, NULL), 8);
    g_bytes_unref (f);
  }
  fail_unless_equals_int (diode_session_buffered (c), 0);
  expect_fails_with (c, DIODE_ERR_TOO_LARGE, "exceeds what its CHUNK");
  diode_session_free (c);
  /* ... or one that leaves less than 8 bytes per frame still to come */
  FETCHING ();
  h = chunk (1, 2, 0, 2, MEDIA_SIZE (10) + 8);
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (1, DIODE_MEDIA_KEYFRAME, 10));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, media (2, 0, 1));
  expect_fails (c, DIODE_ERR_TOO_LARGE);
  diode_session_free (c);

  /* prelude MEDIA without STREAMHEADER */
  FETCHING ();
  h = chunk (5, 5, 1, 2, 2 * MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (1, 0, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "without the STREAMHEADER");
  diode_session_free (c);

  /* EOS in the prelude, EOS not last */
  FETCHING ();
  h = chunk (5, 5, 1, 2, 2 * MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, diode_msg_encode_eos (5));
  expect_fails (c, DIODE_ERR_PROTOCOL);
  diode_session_free (c);
  FETCHING ();
  h = chunk (5, 5, 0, 2, 2 * MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, diode_msg_encode_eos (5));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "EOS ends a chunk");
  diode_session_free (c);

  /* seq outside the chunk's range, and going back within the FETCH */
  FETCHING ();
  h = chunk (5, 6, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (7, DIODE_MEDIA_KEYFRAME, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "outside its CHUNK's 5..6");
  diode_session_free (c);
  FETCHING ();
  h = chunk (5, 6, 0, 2, 2 * MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (6, DIODE_MEDIA_KEYFRAME, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  feed (c, media (5, 0, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "in one FETCH");
  diode_session_free (c);
  FETCHING ();
  h = chunk (5, 6, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (6, DIODE_MEDIA_KEYFRAME, 0));
  expect_type (c, DIODE_MSG_MEDIA);
  h = chunk (6, 8, 0, 1, MEDIA_SIZE (0));
  feed (c, diode_msg_encode_chunk (&h));
  expect_type (c, DIODE_MSG_CHUNK);
  feed (c, media (6, DIODE_MEDIA_KEYFRAME, 0));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "MEDIA seq 6 after 6");
  diode_session_free (c);

  /* STORED is for publishers */
  c = client_end (DIODE_ROLE_VIEWER, 3);
  feed (c, diode_msg_encode_stored (1, 1, TRUE));
  expect_fails (c, DIODE_ERR_PROTOCOL);
  diode_session_free (c);
#undef FETCHING
}

GST_END_TEST;

GST_START_TEST (test_client_stored)
{
  DiodeSession *c = client_end (DIODE_ROLE_PUBLISHER, 3);
  DiodeMsg m;

  sent_ok (c, DIODE_MSG_PUBLISH, 0);
  feed (c, diode_msg_encode_stored (1, 1, FALSE));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "unexpected STORED");
  diode_session_free (c);

  c = client_end (DIODE_ROLE_PUBLISHER, 3);
  sent_ok (c, DIODE_MSG_PUBLISH, 0);
  feed (c, diode_msg_encode_publish_ok_v ("cam", 1, DIODE_STORE_RECORDING,
          3));
  expect_msg (c, DIODE_MSG_PUBLISH_OK, &m);
  fail_unless_equals_int (m.store_state, DIODE_STORE_RECORDING);
  diode_msg_clear (&m);
  feed (c, diode_msg_encode_stored (10, 4096, FALSE));
  expect_msg (c, DIODE_MSG_STORED, &m);
  fail_unless_equals_int (m.stored_seq, 10);
  fail_unless_equals_int (m.stored_bytes, 4096);
  diode_msg_clear (&m);
  sent_ok (c, DIODE_MSG_EOS, 0);
  feed (c, diode_msg_encode_stored (20, 8192, TRUE));
  expect_msg (c, DIODE_MSG_STORED, &m);
  fail_unless (m.final);
  diode_msg_clear (&m);
  diode_session_free (c);

  /* at version 2 STORED is an unknown type */
  c = client_end (DIODE_ROLE_PUBLISHER, 2);
  sent_ok (c, DIODE_MSG_PUBLISH, 0);
  feed (c, diode_msg_encode_publish_ok ("cam", 1));
  expect_type (c, DIODE_MSG_PUBLISH_OK);
  feed (c, diode_msg_encode_stored (1, 1, FALSE));
  expect_fails_with (c, DIODE_ERR_PROTOCOL, "only at protocol version 3");
  diode_session_free (c);
}

GST_END_TEST;

static Suite *
session_store_suite (void)
{
  Suite *s = suite_create ("session-store");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_negotiates_3);
  tcase_add_test (tc, test_relay_end_range_fetch);
  tcase_add_test (tc, test_relay_end_refusals);
  tcase_add_test (tc, test_relay_end_stored);
  tcase_add_test (tc, test_client_range);
  tcase_add_test (tc, test_client_fetch_flow);
  tcase_add_test (tc, test_client_fetch_refusals);
  tcase_add_test (tc, test_client_stored);
  return s;
}

GST_CHECK_MAIN (session_store);
