/* gst-diode — assertions on a DiodeSession shared by the session unit tests
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "sessioncheck.h"

void
feed (DiodeSession * s, GBytes * frame)
{
  gsize size;
  const guint8 *d;

  fail_unless (frame != NULL, "encoder refused");
  d = g_bytes_get_data (frame, &size);
  diode_session_feed (s, d, size);
  g_bytes_unref (frame);
}

void
expect_need_more (DiodeSession * s)
{
  DiodeMsg m;
  GError *err = NULL;
  DiodeSessionResult r = diode_session_next (s, &m, &err);

  if (r == DIODE_SESSION_ERROR)
    fail ("expected NEED_MORE, got error: %s", err->message);
  fail_unless_equals_int (r, DIODE_SESSION_NEED_MORE);
  fail_unless (err == NULL);
}

void
expect_msg (DiodeSession * s, DiodeMsgType type, DiodeMsg * m)
{
  GError *err = NULL;
  DiodeSessionResult r = diode_session_next (s, m, &err);

  if (r == DIODE_SESSION_ERROR)
    fail ("expected %s, got error: %s", diode_msg_type_name (type),
        err->message);
  fail_unless_equals_int (r, DIODE_SESSION_MESSAGE);
  fail_unless_equals_string (diode_msg_type_name (m->type),
      diode_msg_type_name (type));
}

void
expect_type (DiodeSession * s, DiodeMsgType type)
{
  DiodeMsg m;

  expect_msg (s, type, &m);
  diode_msg_clear (&m);
}

gchar *
next_fails (DiodeSession * s, guint code)
{
  DiodeMsg m;
  GError *err = NULL;
  DiodeSessionResult r = diode_session_next (s, &m, &err);
  gchar *text;

  fail_unless_equals_int (r, DIODE_SESSION_ERROR);
  fail_unless (err != NULL);
  fail_unless (err->domain == DIODE_PROTOCOL_ERROR);
  fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR, code),
      "code %d, expected %u: %s", err->code, code, err->message);
  fail_unless (m.frame == NULL && m.stream == NULL && m.payload == NULL);
  fail_unless_equals_int (diode_session_get_state (s), DIODE_SESSION_CLOSED);
  text = g_strdup (err->message);
  GST_INFO ("%s", text);
  g_error_free (err);
  return text;
}
