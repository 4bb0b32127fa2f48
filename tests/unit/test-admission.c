/* gst-diode — unit tests: frames admitted from their header (diode-session)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each case brings a session to a role and state, then feeds only the 8
 * header bytes of a frame, announcing a length within its type's limit, and
 * checks the session's verdict before any payload: refused (closed at once,
 * nothing buffered, next() gives 200 PROTOCOL or 202 TOO_LARGE) or admitted
 * (the header waits in the buffer for its payload). The rules are the table
 * "What a receiver admits" in docs/protocol.md section 3.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-session.h"

#define MIB (1024 * 1024)

static void
feed (DiodeSession * s, GBytes * frame)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);

  diode_session_feed (s, d, size);
  g_bytes_unref (frame);
}

static void
next_is (DiodeSession * s, DiodeMsgType type)
{
  DiodeMsg m;
  GError *err = NULL;
  DiodeSessionResult r = diode_session_next (s, &m, &err);

  if (r == DIODE_SESSION_ERROR)
    fail ("expected %s, got error: %s", diode_msg_type_name (type),
        err->message);
  fail_unless_equals_int (r, DIODE_SESSION_MESSAGE);
  fail_unless_equals_int (m.type, type);
  diode_msg_clear (&m);
}

static void
sent (DiodeSession * s, DiodeMsgType type)
{
  fail_unless (diode_session_sent (s, type, 0, NULL));
}

typedef enum
{
  RELAY_AWAIT_HELLO,
  RELAY_READY,
  RELAY_PENDING,                /* READY with the role's request pending */
  RELAY_ACTIVE,                 /* PUBLISHING (publisher), SUBSCRIBED (viewer) */
  CLIENT_NO_HELLO,
  CLIENT_AWAIT_WELCOME,
  CLIENT_READY,
  CLIENT_PUBLISHING,
  CLIENT_SUBSCRIBED,
  /* relay links: role RELAY, version 2 (docs/protocol.md "Relay links") */
  LINK_RELAY_READY,
  LINK_RELAY_PENDING,           /* LINK received, no answer sent */
  LINK_RELAY_LINKED,
  LINK_RELAY_SUBSCRIBED,        /* a pull: the relay serves the stream */
  LINK_RELAY_PUBLISHING,        /* a push: the relay receives it */
  LINK_CLIENT_READY,
  LINK_CLIENT_LINKING,
  LINK_CLIENT_LINKED,
  LINK_CLIENT_SUBSCRIBED,
  LINK_CLIENT_PUBLISHING,
} Where;

static DiodeSession *
link_session_at (Where where)
{
  DiodeSession *s;

  if (where >= LINK_CLIENT_READY) {
    s = diode_session_new (DIODE_SESSION_CLIENT_END);
    fail_unless (diode_session_sent_hello (s, 1, 2, DIODE_ROLE_RELAY, NULL));
    feed (s, diode_msg_encode_welcome (2, 0, "relay"));
    next_is (s, DIODE_MSG_WELCOME);
    fail_unless (diode_session_is_link (s));
    if (where == LINK_CLIENT_LINKING || where == LINK_CLIENT_LINKED) {
      sent (s, DIODE_MSG_LINK);
      if (where == LINK_CLIENT_LINKED) {
        feed (s, diode_msg_encode_link_ok (NULL));
        next_is (s, DIODE_MSG_LINK_OK);
      }
    } else if (where == LINK_CLIENT_SUBSCRIBED) {
      sent (s, DIODE_MSG_SUBSCRIBE);
      feed (s, diode_msg_encode_subscribe_ok_relay ("cam", 1, NULL, 0, NULL,
              NULL, NULL));
      next_is (s, DIODE_MSG_SUBSCRIBE_OK);
    } else if (where == LINK_CLIENT_PUBLISHING) {
      sent (s, DIODE_MSG_PUBLISH);
      feed (s, diode_msg_encode_publish_ok ("cam", 1));
      next_is (s, DIODE_MSG_PUBLISH_OK);
    }
    return s;
  }
  s = diode_session_new (DIODE_SESSION_RELAY_END);
  feed (s, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY, "child"));
  next_is (s, DIODE_MSG_HELLO);
  fail_unless (diode_session_is_link (s));
  sent (s, DIODE_MSG_WELCOME);
  if (where == LINK_RELAY_PENDING || where == LINK_RELAY_LINKED) {
    feed (s, diode_msg_encode_link ());
    next_is (s, DIODE_MSG_LINK);
    if (where == LINK_RELAY_LINKED)
      sent (s, DIODE_MSG_LINK_OK);
  } else if (where == LINK_RELAY_SUBSCRIBED) {
    feed (s, diode_msg_encode_subscribe_relay ("cam", 0, 0, NULL, NULL));
    next_is (s, DIODE_MSG_SUBSCRIBE);
    sent (s, DIODE_MSG_SUBSCRIBE_OK);
  } else if (where == LINK_RELAY_PUBLISHING) {
    feed (s, diode_msg_encode_publish_relay ("cam", 0, NULL, NULL, NULL,
            NULL));
    next_is (s, DIODE_MSG_PUBLISH);
    sent (s, DIODE_MSG_PUBLISH_OK);
  }
  return s;
}

static DiodeSession *
session_at (Where where, DiodeRole role)
{
  DiodeSession *s;

  if (where >= LINK_RELAY_READY)
    return link_session_at (where);
  if (where >= CLIENT_NO_HELLO) {
    s = diode_session_new (DIODE_SESSION_CLIENT_END);
    if (where == CLIENT_NO_HELLO)
      return s;
    sent (s, DIODE_MSG_HELLO);
    if (where == CLIENT_AWAIT_WELCOME)
      return s;
    feed (s, diode_msg_encode_welcome (1, 0, "relay"));
    next_is (s, DIODE_MSG_WELCOME);
    if (where == CLIENT_PUBLISHING) {
      sent (s, DIODE_MSG_PUBLISH);
      feed (s, diode_msg_encode_publish_ok ("cam", 1));
      next_is (s, DIODE_MSG_PUBLISH_OK);
    } else if (where == CLIENT_SUBSCRIBED) {
      sent (s, DIODE_MSG_SUBSCRIBE);
      feed (s, diode_msg_encode_subscribe_ok ("cam", 1));
      next_is (s, DIODE_MSG_SUBSCRIBE_OK);
    }
    return s;
  }

  s = diode_session_new (DIODE_SESSION_RELAY_END);
  if (where == RELAY_AWAIT_HELLO)
    return s;
  feed (s, diode_msg_encode_hello (1, 1, role, "test"));
  next_is (s, DIODE_MSG_HELLO);
  sent (s, DIODE_MSG_WELCOME);
  if (where == RELAY_READY)
    return s;
  if (role == DIODE_ROLE_VIEWER) {
    feed (s, diode_msg_encode_subscribe ("cam", 0, 1000));
    next_is (s, DIODE_MSG_SUBSCRIBE);
    if (where == RELAY_ACTIVE)
      sent (s, DIODE_MSG_SUBSCRIBE_OK);
  } else {
    feed (s, diode_msg_encode_publish ("cam"));
    next_is (s, DIODE_MSG_PUBLISH);
    if (where == RELAY_ACTIVE)
      sent (s, DIODE_MSG_PUBLISH_OK);
  }
  return s;
}

static const gchar *
where_name (Where where)
{
  static const gchar *names[] = { "relay AWAIT_HELLO", "relay READY",
    "relay READY (request pending)", "relay PUBLISHING/SUBSCRIBED",
    "client before HELLO", "client AWAIT_WELCOME", "client READY",
    "client PUBLISHING", "client SUBSCRIBED", "link relay READY",
    "link relay READY (LINK pending)", "link relay LINKED",
    "link relay SUBSCRIBED", "link relay PUBLISHING", "link client READY",
    "link client LINKING", "link client LINKED", "link client SUBSCRIBED",
    "link client PUBLISHING"
  };
  return names[where];
}

/* Feeds the header of a @type frame announcing @len bytes, and checks the
 * verdict: @code 0 = admitted, else refused with @code. */
static void
check (Where where, DiodeRole role, DiodeMsgType type, guint32 len,
    guint code)
{
  DiodeSession *s = session_at (where, role);
  guint8 header[DIODE_FRAME_HEADER_SIZE] = { type, 0, 0, 0 };
  DiodeMsg m;
  GError *err = NULL;
  DiodeSessionResult r;

  GST_WRITE_UINT32_BE (header + 4, len);
  diode_session_feed (s, header, sizeof (header));
  if (code == 0) {
    fail_unless (diode_session_get_state (s) != DIODE_SESSION_CLOSED,
        "%s, role %d: %s of %u bytes refused", where_name (where), role,
        diode_msg_type_name (type), len);
    fail_unless_equals_int (diode_session_buffered (s), 8);
    fail_unless_equals_int (diode_session_next (s, &m, NULL),
        DIODE_SESSION_NEED_MORE);
    fail_unless (diode_session_frame_limit (s, type) >= len);
  } else {
    /* closed by feed() itself: nothing of the frame is kept */
    fail_unless_equals_int (diode_session_get_state (s),
        DIODE_SESSION_CLOSED);
    fail_unless_equals_int (diode_session_buffered (s), 0);
    r = diode_session_next (s, &m, &err);
    fail_unless_equals_int (r, DIODE_SESSION_ERROR);
    fail_unless (err != NULL);
    if ((guint) err->code != code)
      fail ("%s, role %d: %s of %u bytes: error %d (%s), expected %u",
          where_name (where), role, diode_msg_type_name (type), len,
          err->code, err->message, code);
    g_error_free (err);
  }
  diode_session_free (s);
}

/* The case: a viewer trickling a 16 MiB MEDIA frame held 16 MiB per
 * connection. Now 8 bytes: refused from the header, nothing buffered. */
GST_START_TEST (test_viewer_media_refused_from_header)
{
  DiodeSession *s = session_at (RELAY_ACTIVE, DIODE_ROLE_VIEWER);
  guint8 *frame = g_malloc0 (DIODE_FRAME_HEADER_SIZE + 64 * 1024);
  DiodeMsg m;
  GError *err = NULL;

  frame[0] = DIODE_MSG_MEDIA;
  GST_WRITE_UINT32_BE (frame + 4, DIODE_MAX_MEDIA_PAYLOAD);
  diode_session_feed (s, frame, 8);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  fail_unless_equals_int (diode_session_get_state (s), DIODE_SESSION_CLOSED);
  /* the trickle goes on: nothing is kept */
  diode_session_feed (s, frame + 8, 64 * 1024);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  fail_unless_equals_int (diode_session_next (s, &m, &err),
      DIODE_SESSION_ERROR);
  fail_unless_equals_int (err->code, DIODE_ERR_PROTOCOL);
  fail_unless_equals_string (err->message,
      "unexpected MEDIA from client in state SUBSCRIBED");
  g_clear_error (&err);
  diode_session_free (s);

  /* header and a payload piece in one feed: the payload is not kept */
  s = session_at (RELAY_ACTIVE, DIODE_ROLE_VIEWER);
  diode_session_feed (s, frame, DIODE_FRAME_HEADER_SIZE + 64 * 1024);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  diode_session_free (s);

  /* the same bytes from a publisher that is publishing: admitted, and the
   * buffer holds just what came */
  s = session_at (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER);
  diode_session_feed (s, frame, DIODE_FRAME_HEADER_SIZE + 64 * 1024);
  fail_unless_equals_int (diode_session_buffered (s),
      DIODE_FRAME_HEADER_SIZE + 64 * 1024);
  fail_unless_equals_int (diode_session_next (s, &m, NULL),
      DIODE_SESSION_NEED_MORE);
  diode_session_free (s);
  g_free (frame);
}

GST_END_TEST;

GST_START_TEST (test_relay_end_table)
{
  const guint P = DIODE_ERR_PROTOCOL, T = DIODE_ERR_TOO_LARGE;
  DiodeRole roles[] = { DIODE_ROLE_PUBLISHER, DIODE_ROLE_VIEWER,
    DIODE_ROLE_RELAY
  };
  guint i;

  /* before HELLO: HELLO and ERROR only, both small */
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_MEDIA, 16 * MIB, P);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_CAPS, MIB, P);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_PUBLISH, 40000, P);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_PING, 8, P);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_HELLO, DIODE_MAX_TEXT_PAYLOAD, 0);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_HELLO, DIODE_MAX_TEXT_PAYLOAD + 1,
      T);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_HELLO, 64 * 1024, T);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_ERROR, 100, 0);
  check (RELAY_AWAIT_HELLO, 0, DIODE_MSG_ERROR, 64 * 1024, T);

  for (i = 0; i < G_N_ELEMENTS (roles); i++) {
    DiodeRole role = roles[i];
    gboolean pub = role != DIODE_ROLE_VIEWER, sub = role != DIODE_ROLE_PUBLISHER;

    /* READY: no media of any kind before PUBLISH_OK */
    check (RELAY_READY, role, DIODE_MSG_MEDIA, 16 * MIB, P);
    check (RELAY_READY, role, DIODE_MSG_CAPS, MIB, P);
    check (RELAY_READY, role, DIODE_MSG_POLICY, 40000, P);
    check (RELAY_READY, role, DIODE_MSG_EOS, 8, P);
    check (RELAY_READY, role, DIODE_MSG_HELLO, 100, P);
    check (RELAY_READY, role, DIODE_MSG_WELCOME, 100, P);
    check (RELAY_READY, role, DIODE_MSG_PUBLISH_OK, 100, P);
    check (RELAY_READY, role, DIODE_MSG_PUBLISH, 40000, pub ? 0 : P);
    check (RELAY_READY, role, DIODE_MSG_PUBLISH, DIODE_MAX_POLICY_PAYLOAD + 1,
        T);
    check (RELAY_READY, role, DIODE_MSG_SUBSCRIBE, 300, sub ? 0 : P);
    check (RELAY_READY, role, DIODE_MSG_SUBSCRIBE, 64 * 1024, T);
    check (RELAY_READY, role, DIODE_MSG_PING, 8, 0);
    check (RELAY_READY, role, DIODE_MSG_PING, DIODE_MAX_SMALL_PAYLOAD + 1, T);
    check (RELAY_READY, role, DIODE_MSG_PONG, 8, 0);
    check (RELAY_READY, role, DIODE_MSG_ERROR, 4100, 0);

    /* a request pending: no second one, still no media */
    check (RELAY_PENDING, role, DIODE_MSG_PUBLISH, 100, P);
    check (RELAY_PENDING, role, DIODE_MSG_SUBSCRIBE, 100, P);
    check (RELAY_PENDING, role, DIODE_MSG_MEDIA, 16 * MIB, P);
    check (RELAY_PENDING, role, DIODE_MSG_CAPS, 100, P);
    check (RELAY_PENDING, role, DIODE_MSG_PING, 8, 0);

    /* publishing or subscribed */
    check (RELAY_ACTIVE, role, DIODE_MSG_PUBLISH, 100, P);
    check (RELAY_ACTIVE, role, DIODE_MSG_SUBSCRIBE, 100, P);
    check (RELAY_ACTIVE, role, DIODE_MSG_HELLO, 100, P);
    check (RELAY_ACTIVE, role, DIODE_MSG_SUBSCRIBE_OK, 100, P);
    check (RELAY_ACTIVE, role, DIODE_MSG_PING, 8, 0);
    check (RELAY_ACTIVE, role, DIODE_MSG_ERROR, 100, 0);
  }
  /* a publisher that is publishing sends media up to the type limits */
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_MEDIA,
      DIODE_MAX_MEDIA_PAYLOAD, 0);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_MEDIA,
      DIODE_MAX_MEDIA_PAYLOAD + 1, T);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_CAPS,
      DIODE_MAX_CAPS_PAYLOAD, 0);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_CAPS,
      DIODE_MAX_CAPS_PAYLOAD + 1, T);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_POLICY, 41477, 0);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_EOS, 8, 0);
  check (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER, DIODE_MSG_EOS, 64 * 1024, T);
  /* a viewer never sends media, whatever the length */
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_MEDIA, 100, P);
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_MEDIA, 16 * MIB, P);
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_CAPS, MIB, P);
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_POLICY, 40000, P);
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_EOS, 8, P);
  /* a length over the type's own limit is TOO_LARGE whoever sends it */
  check (RELAY_ACTIVE, DIODE_ROLE_VIEWER, DIODE_MSG_MEDIA, G_MAXUINT32, T);
}

GST_END_TEST;

GST_START_TEST (test_client_end_table)
{
  const guint P = DIODE_ERR_PROTOCOL, T = DIODE_ERR_TOO_LARGE;

  /* nothing may come before our HELLO */
  check (CLIENT_NO_HELLO, 0, DIODE_MSG_WELCOME, 100, P);
  check (CLIENT_NO_HELLO, 0, DIODE_MSG_MEDIA, 16 * MIB, P);
  /* WELCOME or ERROR, small */
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_WELCOME, 100, 0);
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_WELCOME,
      DIODE_MAX_TEXT_PAYLOAD + 1, T);
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_ERROR, 100, 0);
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_MEDIA, 16 * MIB, P);
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_CAPS, MIB, P);
  check (CLIENT_AWAIT_WELCOME, 0, DIODE_MSG_PING, 8, P);
  /* READY, nothing asked: no answers, no media */
  check (CLIENT_READY, 0, DIODE_MSG_PUBLISH_OK, 100, P);
  check (CLIENT_READY, 0, DIODE_MSG_SUBSCRIBE_OK, 100, P);
  check (CLIENT_READY, 0, DIODE_MSG_MEDIA, 16 * MIB, P);
  check (CLIENT_READY, 0, DIODE_MSG_CAPS, MIB, P);
  check (CLIENT_READY, 0, DIODE_MSG_PING, 8, 0);
  check (CLIENT_READY, 0, DIODE_MSG_HELLO, 100, P);
  /* a publisher receives no media */
  check (CLIENT_PUBLISHING, 0, DIODE_MSG_MEDIA, 16 * MIB, P);
  check (CLIENT_PUBLISHING, 0, DIODE_MSG_CAPS, MIB, P);
  check (CLIENT_PUBLISHING, 0, DIODE_MSG_EOS, 8, P);
  check (CLIENT_PUBLISHING, 0, DIODE_MSG_PONG, 8, 0);
  /* a viewer does, up to the type limits */
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_MEDIA, DIODE_MAX_MEDIA_PAYLOAD, 0);
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_MEDIA, DIODE_MAX_MEDIA_PAYLOAD + 1,
      T);
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_CAPS, DIODE_MAX_CAPS_PAYLOAD, 0);
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_EOS, 8, 0);
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_SUBSCRIBE_OK, 100, P);
  check (CLIENT_SUBSCRIBED, 0, DIODE_MSG_POLICY, 100, P);
}

GST_END_TEST;

/* The rows relay links add (role RELAY, version 2), and that none of them
 * exists on a version-1 relay connection or for another role. */
GST_START_TEST (test_link_tables)
{
  const guint P = DIODE_ERR_PROTOCOL, T = DIODE_ERR_TOO_LARGE;
  const DiodeMsgType link_types[] = { DIODE_MSG_LINK, DIODE_MSG_LINK_OK,
    DIODE_MSG_ANNOUNCE, DIODE_MSG_PULL
  };
  guint i;

  /* not a relay link: every new type is refused from the header */
  for (i = 0; i < G_N_ELEMENTS (link_types); i++) {
    check (RELAY_READY, DIODE_ROLE_RELAY, link_types[i], 0, P);  /* v1 */
    check (RELAY_READY, DIODE_ROLE_VIEWER, link_types[i], 0, P);
    check (RELAY_READY, DIODE_ROLE_PUBLISHER, link_types[i], 0, P);
    check (CLIENT_READY, 0, link_types[i], 0, P);
    check (CLIENT_SUBSCRIBED, 0, link_types[i], 0, P);
  }

  /* relay end, READY: PUBLISH, SUBSCRIBE, LINK, PING, PONG, ERROR */
  check (LINK_RELAY_READY, 0, DIODE_MSG_LINK, 1, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_LINK, DIODE_MAX_SMALL_PAYLOAD, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_LINK, DIODE_MAX_SMALL_PAYLOAD + 1, T);
  check (LINK_RELAY_READY, 0, DIODE_MSG_PUBLISH, 40000, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_SUBSCRIBE, 900, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_PING, 8, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_ERROR, 100, 0);
  check (LINK_RELAY_READY, 0, DIODE_MSG_ANNOUNCE, 100, P);
  check (LINK_RELAY_READY, 0, DIODE_MSG_LINK_OK, 100, P);
  check (LINK_RELAY_READY, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_RELAY_READY, 0, DIODE_MSG_MEDIA, 100, P);
  /* LINK pending: nothing new; ANNOUNCE only once LINK_OK was sent */
  check (LINK_RELAY_PENDING, 0, DIODE_MSG_ANNOUNCE, 100, P);
  check (LINK_RELAY_PENDING, 0, DIODE_MSG_LINK, 0, P);
  check (LINK_RELAY_PENDING, 0, DIODE_MSG_PUBLISH, 100, P);
  check (LINK_RELAY_PENDING, 0, DIODE_MSG_PING, 8, 0);
  /* LINKED: ANNOUNCE, PING, PONG, ERROR */
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_ANNOUNCE, DIODE_MAX_ANNOUNCE_PAYLOAD,
      0);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_ANNOUNCE,
      DIODE_MAX_ANNOUNCE_PAYLOAD + 1, T);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_PING, 8, 0);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_PONG, 8, 0);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_ERROR, 100, 0);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_LINK, 0, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_PUBLISH, 100, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_SUBSCRIBE, 100, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_LINK_OK, 100, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_MEDIA, 100, P);
  check (LINK_RELAY_LINKED, 0, DIODE_MSG_POLICY, 100, P);
  /* a pull served: nothing comes up but keepalive and errors */
  check (LINK_RELAY_SUBSCRIBED, 0, DIODE_MSG_MEDIA, 100, P);
  check (LINK_RELAY_SUBSCRIBED, 0, DIODE_MSG_ANNOUNCE, 100, P);
  check (LINK_RELAY_SUBSCRIBED, 0, DIODE_MSG_PING, 8, 0);
  /* a push received: as from a publisher */
  check (LINK_RELAY_PUBLISHING, 0, DIODE_MSG_MEDIA, DIODE_MAX_MEDIA_PAYLOAD,
      0);
  check (LINK_RELAY_PUBLISHING, 0, DIODE_MSG_CAPS, DIODE_MAX_CAPS_PAYLOAD, 0);
  check (LINK_RELAY_PUBLISHING, 0, DIODE_MSG_POLICY, 41477, 0);
  check (LINK_RELAY_PUBLISHING, 0, DIODE_MSG_EOS, 8, 0);
  check (LINK_RELAY_PUBLISHING, 0, DIODE_MSG_ANNOUNCE, 100, P);

  /* client end, READY: nothing new before LINK */
  check (LINK_CLIENT_READY, 0, DIODE_MSG_LINK_OK, 100, P);
  check (LINK_CLIENT_READY, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_CLIENT_READY, 0, DIODE_MSG_PING, 8, 0);
  /* LINKING: LINK_OK, PING, PONG, ERROR */
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_LINK_OK, DIODE_MAX_SMALL_PAYLOAD,
      0);
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_LINK_OK,
      DIODE_MAX_SMALL_PAYLOAD + 1, T);
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_ERROR, 100, 0);
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_PONG, 8, 0);
  check (LINK_CLIENT_LINKING, 0, DIODE_MSG_ANNOUNCE, 100, P);
  /* LINKED: LINK_OK, PULL, PING, PONG, ERROR */
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_LINK_OK, 100, 0);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_PULL, DIODE_MAX_SMALL_PAYLOAD, 0);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_PULL, DIODE_MAX_SMALL_PAYLOAD + 1,
      T);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_PING, 8, 0);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_ERROR, 100, 0);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_ANNOUNCE, 100, P);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_LINK, 100, P);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_MEDIA, 100, P);
  check (LINK_CLIENT_LINKED, 0, DIODE_MSG_SUBSCRIBE_OK, 100, P);
  /* SUBSCRIBED (a pull): CAPS, MEDIA, EOS, POLICY, PING, PONG, ERROR */
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_POLICY, 41477, 0);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_POLICY,
      DIODE_MAX_POLICY_PAYLOAD + 1, T);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_MEDIA, DIODE_MAX_MEDIA_PAYLOAD,
      0);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_CAPS, 100, 0);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_EOS, 8, 0);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_CLIENT_SUBSCRIBED, 0, DIODE_MSG_LINK_OK, 100, P);
  /* PUBLISHING (a push): as a publisher */
  check (LINK_CLIENT_PUBLISHING, 0, DIODE_MSG_MEDIA, 100, P);
  check (LINK_CLIENT_PUBLISHING, 0, DIODE_MSG_POLICY, 100, P);
  check (LINK_CLIENT_PUBLISHING, 0, DIODE_MSG_PULL, 100, P);
  check (LINK_CLIENT_PUBLISHING, 0, DIODE_MSG_PING, 8, 0);
}

GST_END_TEST;

/* A header split over two feeds is judged when its 8th byte arrives; the
 * refusal drops the 7 bytes already kept. */
GST_START_TEST (test_header_in_pieces)
{
  static const guint8 header[] = { DIODE_MSG_CAPS, 0, 0, 0, 0, 0x10, 0, 0 };
  DiodeSession *s = session_at (RELAY_READY, DIODE_ROLE_PUBLISHER);

  diode_session_feed (s, header, 7);
  fail_unless_equals_int (diode_session_buffered (s), 7);
  diode_session_feed (s, header + 7, 1);
  fail_unless_equals_int (diode_session_get_state (s), DIODE_SESSION_CLOSED);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  diode_session_free (s);
}

GST_END_TEST;

/* Whatever the feeding pattern, once next() says NEED_MORE the buffer holds
 * at most the frame being received (header + admitted length). */
GST_START_TEST (test_buffered_bounded_by_admitted_frame)
{
  DiodeSession *s = session_at (RELAY_ACTIVE, DIODE_ROLE_PUBLISHER);
  GByteArray *stream = g_byte_array_new ();
  GRand *rand = g_rand_new_with_seed (42);
  guint8 *data = g_malloc0 (300 * 1024);
  gsize off = 0, sizes[] = { 0, 10, 4000, 70000, 300 * 1024 };
  guint64 seq;
  guint messages = 0;

  for (seq = 1; seq <= 200; seq++) {
    gsize len = sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (sizes))];
    GBytes *f = diode_msg_encode_media (seq, 0, 0, 0, 0, 0, 0, data, len);

    g_byte_array_append (stream, g_bytes_get_data (f, NULL),
        g_bytes_get_size (f));
    g_bytes_unref (f);
  }
  while (off < stream->len) {
    gsize n = MIN (stream->len - off, (gsize) g_rand_int_range (rand, 1,
            70000));
    DiodeMsg m;
    DiodeSessionResult r;

    diode_session_feed (s, stream->data + off, n);
    off += n;
    while ((r = diode_session_next (s, &m, NULL)) == DIODE_SESSION_MESSAGE) {
      diode_msg_clear (&m);
      messages++;
    }
    fail_unless_equals_int (r, DIODE_SESSION_NEED_MORE);
    if (diode_session_buffered (s) >= DIODE_FRAME_HEADER_SIZE) {
      const guint8 *h = stream->data + off - diode_session_buffered (s);

      /* byte by byte: the header sits at any alignment */
      guint32 len = (guint32) h[4] << 24 | (guint32) h[5] << 16
          | (guint32) h[6] << 8 | h[7];

      fail_unless (diode_session_buffered (s) <= DIODE_FRAME_HEADER_SIZE
          + len);
    }
  }
  fail_unless_equals_int (messages, 200);
  fail_unless_equals_int (diode_session_buffered (s), 0);
  g_free (data);
  g_rand_free (rand);
  g_byte_array_unref (stream);
  diode_session_free (s);
}

GST_END_TEST;

/* The client end still works through a whole subscription fed in odd
 * pieces, with large frames: the elements use this end. */
GST_START_TEST (test_client_end_still_flows)
{
  DiodeSession *s = session_at (CLIENT_SUBSCRIBED, 0);
  guint8 *data = g_malloc0 (1024 * 1024);
  GByteArray *stream = g_byte_array_new ();
  GBytes *f;
  gsize off = 0;
  guint n = 0;

  f = diode_msg_encode_caps ("video/x-h264");
  g_byte_array_append (stream, g_bytes_get_data (f, NULL),
      g_bytes_get_size (f));
  g_bytes_unref (f);
  f = diode_msg_encode_media (1, 0, 0, 0, 0, 0, DIODE_MEDIA_KEYFRAME, data,
      1024 * 1024);
  g_byte_array_append (stream, g_bytes_get_data (f, NULL),
      g_bytes_get_size (f));
  g_bytes_unref (f);
  f = diode_msg_encode_eos (1);
  g_byte_array_append (stream, g_bytes_get_data (f, NULL),
      g_bytes_get_size (f));
  g_bytes_unref (f);
  while (off < stream->len) {
    gsize len = MIN (stream->len - off, 5);
    DiodeMsg m;

    diode_session_feed (s, stream->data + off, len);
    off += len;
    while (diode_session_next (s, &m, NULL) == DIODE_SESSION_MESSAGE) {
      n++;
      diode_msg_clear (&m);
    }
    fail_if (diode_session_get_state (s) == DIODE_SESSION_CLOSED);
    /* the buffer never holds more than the frame being received */
    fail_unless (diode_session_buffered (s) <= DIODE_FRAME_HEADER_SIZE
        + DIODE_MEDIA_FIELDS_SIZE + 1024 * 1024);
    /* stop early: a 5-byte feed pattern over 1 MiB is slow enough */
    if (off > 64 * 1024 && off < stream->len - 64 * 1024) {
      gsize jump = stream->len - 64 * 1024 - off;

      diode_session_feed (s, stream->data + off, jump);
      off += jump;
    }
  }
  fail_unless_equals_int (n, 3);
  g_free (data);
  g_byte_array_unref (stream);
  diode_session_free (s);
}

GST_END_TEST;

static Suite *
admission_suite (void)
{
  Suite *s = suite_create ("diode-admission");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_viewer_media_refused_from_header);
  tcase_add_test (tc, test_relay_end_table);
  tcase_add_test (tc, test_client_end_table);
  tcase_add_test (tc, test_link_tables);
  tcase_add_test (tc, test_header_in_pieces);
  tcase_add_test (tc, test_buffered_bounded_by_admitted_frame);
  tcase_add_test (tc, test_client_end_still_flows);
  return s;
}

GST_CHECK_MAIN (admission);
