/* gst-diode — the relay applies the protocol core's limits: frames refused
 * from their header, the stream header set capped
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The sans-IO rules are tested in tests/unit (test-admission.c,
 * test-ring-limits.c); these check that the relay, over real TLS on
 * 127.0.0.1, turns them into what a peer sees: an ERROR with the right code
 * and a close, without waiting for payload that will never be accepted.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-ring.h"

#define CLOSE_MS 3000
#define KEY      "limits.pem"

static void
hello (RawClient * c, DiodeRole role)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 1, role, "limits/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  diode_msg_clear (&m);
}

/* The relay sends ERROR @code and closes; returns the ERROR text. */
static gchar *
expect_fatal (RawClient * c, guint code, const gchar * what)
{
  gint got = -1;
  gchar *text = NULL;
  gint64 ms = raw_wait_closed (c, CLOSE_MS, &got, &text);

  fail_unless (got == (gint) code, "%s: expected ERROR %u, got %d", what,
      code, got);
  fail_unless (ms >= 0, "%s: not closed within %u ms", what, CLOSE_MS);
  GST_INFO ("%s: ERROR %u '%s' after %" G_GINT64_FORMAT " ms", what, code,
      text, ms);
  return text;
}

/* The issue: "20 viewer connections each trickling a 16 MiB MEDIA frame
 * hold 320 MB". A viewer's MEDIA header alone is answered: the relay does
 * not wait for a payload it would refuse. */
GST_START_TEST (test_viewer_media_refused_from_header)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  guint8 header[DIODE_FRAME_HEADER_SIZE] = { DIODE_MSG_MEDIA, 0, 0, 0 };
  RawClient *c[4];
  guint i;

  GST_WRITE_UINT32_BE (header + 4, DIODE_MAX_MEDIA_PAYLOAD);
  for (i = 0; i < G_N_ELEMENTS (c); i++) {
    c[i] = raw_open (relay, 0, KEY);
    hello (c[i], DIODE_ROLE_VIEWER);
    if (i % 2)
      raw_send_frame (c[i], diode_msg_encode_subscribe ("cam", 0, 5000));
    /* 8 bytes and a little payload: nothing more will ever come */
    fail_unless (raw_send (c[i], header, sizeof (header)));
    fail_unless (raw_send (c[i], header, sizeof (header)));
  }
  for (i = 0; i < G_N_ELEMENTS (c); i++) {
    gchar *text = expect_fatal (c[i], DIODE_ERR_PROTOCOL, "viewer MEDIA");

    fail_unless (strstr (text, "MEDIA") != NULL, "%s", text);
    g_free (text);
    raw_free (c[i], FALSE);
  }
  fail_unless (fixture_wait_connections (relay, 0, CLOSE_MS));
  g_object_unref (relay);
}

GST_END_TEST;

/* A HELLO announcing more than a HELLO can hold is refused from its header
 * (202), before authorization. */
GST_START_TEST (test_big_hello_refused_from_header)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  guint8 header[DIODE_FRAME_HEADER_SIZE] = { DIODE_MSG_HELLO, 0, 0, 0 };
  RawClient *c = raw_open (relay, 0, KEY);

  GST_WRITE_UINT32_BE (header + 4, 60000);
  fail_unless (raw_send (c, header, sizeof (header)));
  g_free (expect_fatal (c, DIODE_ERR_TOO_LARGE, "60000-byte HELLO"));
  raw_free (c, FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

/* The issue: "STREAMHEADER frames are neither evicted nor counted". A
 * publisher that sends stream headers without end is closed with ERROR 200
 * once the set passes its cap. */
GST_START_TEST (test_streamheader_flood_closed)
{
  DiodeRelay *relay = fixture_relay_start (0, NULL);
  RawClient *c = raw_open (relay, 0, KEY);
  guint8 data[1000] = { 0 };
  DiodeMsg m = { 0 };
  guint64 seq;
  gchar *text;
  guint i;

  hello (c, DIODE_ROLE_PUBLISHER);
  raw_send_frame (c, diode_msg_encode_publish ("flood"));
  raw_expect (c, DIODE_MSG_PUBLISH_OK, &m);
  seq = m.seq;
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps ("application/x-test"));
  for (i = 0; i <= DIODE_RING_MAX_HEADERS; i++, seq++) {
    GBytes *f = diode_msg_encode_media (seq, 0, 0, 0, 0, 0,
        DIODE_MEDIA_HEADER | DIODE_MEDIA_STREAMHEADER, data, sizeof (data));
    gboolean sent = raw_send (c, g_bytes_get_data (f, NULL),
        g_bytes_get_size (f));

    g_bytes_unref (f);
    if (!sent)
      break;
  }
  text = expect_fatal (c, DIODE_ERR_PROTOCOL, "stream header flood");
  fail_unless (strstr (text, "header") != NULL, "%s", text);
  g_free (text);
  raw_free (c, FALSE);
  fail_unless (fixture_wait_publisher (relay, "flood", FALSE, CLOSE_MS));
  g_object_unref (relay);
}

GST_END_TEST;

static Suite *
limits_core_suite (void)
{
  Suite *s = suite_create ("limits-core");
  TCase *tc = tcase_create ("relay");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_viewer_media_refused_from_header);
  tcase_add_test (tc, test_big_hello_refused_from_header);
  tcase_add_test (tc, test_streamheader_flood_closed);
  return s;
}

GST_CHECK_MAIN (limits_core);
