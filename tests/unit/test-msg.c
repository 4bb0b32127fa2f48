/* gst-diode — unit tests: frame codec (diode-msg)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "msgcheck.h"

/* a publisher address, as the codec gives it back (lowercase) */
#define PIN "0x00112233445566778899aabbccddeeff01234567"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* Payload of an encoded frame (without header), as a new GByteArray. */
static GByteArray *
payload_of (GBytes * frame)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);
  GByteArray *a = g_byte_array_new ();

  fail_unless (size >= DIODE_FRAME_HEADER_SIZE);
  g_byte_array_append (a, d + DIODE_FRAME_HEADER_SIZE,
      size - DIODE_FRAME_HEADER_SIZE);
  return a;
}

static void
parse_ok (GBytes * frame, DiodeMsg * msg)
{
  GError *err = NULL;

  memset (msg, 0, sizeof (*msg));
  if (!diode_msg_parse (frame, msg, &err))
    fail ("parse failed: %s", err->message);
  fail_unless (msg->frame == frame);
}

static gboolean
msg_is_zero (const DiodeMsg * msg)
{
  static const DiodeMsg zero;

  return memcmp (msg, &zero, sizeof (zero)) == 0;
}

/* Parses @frame (consumed), expects failure with @code; returns message. */
static gchar *
parse_fails (GBytes * frame, guint code)
{
  DiodeMsg msg = { 0, };
  GError *err = NULL;
  gchar *text;

  fail_if (diode_msg_parse (frame, &msg, &err), "parse unexpectedly worked");
  fail_unless (err != NULL);
  fail_unless (err->domain == DIODE_PROTOCOL_ERROR);
  fail_unless_equals_int (err->code, code);
  fail_unless (msg_is_zero (&msg), "msg not cleared after failure");
  text = g_strdup (err->message);
  g_error_free (err);
  g_bytes_unref (frame);
  return text;
}

static void
expect_parse_fails (GBytes * frame, guint code)
{
  g_free (parse_fails (frame, code));
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */

GST_START_TEST (test_roundtrip_hello)
{
  GBytes *f = diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "gst-diode 0.1");
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_HELLO);
  fail_unless_equals_int (m.version_min, 1);
  fail_unless_equals_int (m.version_max, 3);
  fail_unless_equals_int (m.role, DIODE_ROLE_VIEWER);
  fail_unless_equals_string (m.agent, "gst-diode 0.1");
  diode_msg_clear (&m);
  fail_unless (msg_is_zero (&m));
  g_bytes_unref (f);

  /* exact bytes: the layout is the contract with other implementations */
  {
    static const guint8 expect[] = { 0x01, 0, 0, 0, 0, 0, 0, 9,
      0x00, 0x01, 0xff, 0xfe, 0x03, 0x00, 0x02, 'h', 'i'
    };
    gsize size;
    const guint8 *d;

    f = diode_msg_encode_hello (1, 0xfffe, DIODE_ROLE_RELAY, "hi");
    d = g_bytes_get_data (f, &size);
    fail_unless_equals_int (size, sizeof (expect));
    fail_unless (memcmp (d, expect, size) == 0);
    g_bytes_unref (f);
  }

  /* NULL agent travels as an empty string */
  f = diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, NULL);
  parse_ok (f, &m);
  fail_unless_equals_string (m.agent, "");
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_welcome)
{
  GBytes *f = diode_msg_encode_welcome (1, 5000, "diode-relay");
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_WELCOME);
  fail_unless_equals_int (m.version, 1);
  fail_unless_equals_int (m.keepalive_ms, 5000);
  fail_unless_equals_string (m.agent, "diode-relay");
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_welcome (0xffff, G_MAXUINT32, "");
  parse_ok (f, &m);
  fail_unless_equals_int (m.version, 0xffff);
  fail_unless_equals_uint64 (m.keepalive_ms, G_MAXUINT32);
  fail_unless_equals_string (m.agent, "");
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_publish)
{
  GBytes *f = diode_msg_encode_publish ("pi-taipei");
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PUBLISH);
  fail_unless_equals_string (m.stream, "pi-taipei");
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_publish_ok ("caméra ☃", 77);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PUBLISH_OK);
  fail_unless_equals_uint64 (m.seq, 77);
  fail_unless_equals_string (m.stream, "caméra ☃");
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_subscribe)
{
  GBytes *f = diode_msg_encode_subscribe ("cam", G_GUINT64_CONSTANT (1) << 40,
      30000);
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_uint64 (m.start_seq, G_GUINT64_CONSTANT (1) << 40);
  fail_unless_equals_int (m.wait_ms, 30000);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_subscribe_ok ("cam", 12345);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_uint64 (m.seq, 12345);
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

/* The publisher pin appended to SUBSCRIBE and the publisher appended to
 * SUBSCRIBE_OK: u8 length (0 or 20) + raw address bytes. Without a pin the
 * frame is byte for byte the one version 1 always sent. */
GST_START_TEST (test_subscribe_publisher)
{
  static const guint8 pinned[] = {
    0x12, 0, 0, 0, 0, 0, 0, 0x26,
    0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0x03, 0xe8,
    20, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
    0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01, 0x23, 0x45, 0x67
  };
  static const guint8 bad_len[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0,
    7, 0, 0, 0x03, 0xe8, 7, 1, 2, 3, 4, 5, 6, 7
  };
  static const guint8 empty[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0,
    7, 0, 0, 0x03, 0xe8, 0
  };
  GBytes *f, *plain;
  DiodeMsg m;
  gchar *text;

  f = diode_msg_encode_subscribe_pinned ("cam", 7, 1000,
      "0x00112233445566778899AABBCCDDEEFF01234567");
  fail_unless (f != NULL);
  fail_unless_equals_int (g_bytes_get_size (f), sizeof pinned);
  fail_unless (memcmp (g_bytes_get_data (f, NULL), pinned, sizeof pinned)
      == 0);
  parse_ok (f, &m);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_uint64 (m.start_seq, 7);
  fail_unless_equals_int (m.wait_ms, 1000);
  fail_unless_equals_string (m.publisher, PIN);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* no pin: the old frame, no publisher */
  f = diode_msg_encode_subscribe_pinned ("cam", 7, 1000, NULL);
  plain = diode_msg_encode_subscribe ("cam", 7, 1000);
  fail_unless (g_bytes_equal (f, plain));
  fail_unless_equals_int (g_bytes_get_size (f), 8 + 17);
  parse_ok (f, &m);
  fail_unless (m.publisher == NULL);
  diode_msg_clear (&m);
  g_bytes_unref (f);
  g_bytes_unref (plain);

  /* a bad address is not encoded */
  fail_unless (diode_msg_encode_subscribe_pinned ("cam", 0, 0, "0x12") ==
      NULL);
  fail_unless (diode_msg_encode_subscribe_ok_from ("cam", 0, "cam") == NULL);

  /* SUBSCRIBE_OK names the publisher */
  f = diode_msg_encode_subscribe_ok_from ("cam", 9, PIN);
  parse_ok (f, &m);
  fail_unless_equals_uint64 (m.seq, 9);
  fail_unless_equals_string (m.publisher, PIN);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* length 0 is "none"; any length but 0 and 20 is malformed */
  f = msgcheck_frame (DIODE_MSG_SUBSCRIBE, empty, sizeof empty);
  parse_ok (f, &m);
  fail_unless (m.publisher == NULL);
  diode_msg_clear (&m);
  g_bytes_unref (f);
  text = parse_fails (msgcheck_frame (DIODE_MSG_SUBSCRIBE, bad_len,
          sizeof bad_len), DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "publisher") != NULL, "%s", text);
  g_free (text);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_caps)
{
  const gchar *caps = "video/x-h264, stream-format=(string)byte-stream, "
      "alignment=(string)au, width=(int)1280, height=(int)720";
  GBytes *f = diode_msg_encode_caps (caps);
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
  fail_unless_equals_string (m.caps, caps);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* caps may exceed 64 KiB (codec_data, streamheader): u32 length */
  {
    gchar *big = g_strnfill (200000, 'x');

    f = diode_msg_encode_caps (big);
    fail_unless (f != NULL);
    parse_ok (f, &m);
    fail_unless_equals_int (strlen (m.caps), 200000);
    diode_msg_clear (&m);
    g_bytes_unref (f);
    g_free (big);
  }
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_media)
{
  guint8 data[1000];
  GBytes *f;
  DiodeMsg m;
  gsize psize, fsize;
  const guint8 *p, *fd;
  guint i;

  for (i = 0; i < sizeof (data); i++)
    data[i] = i * 7;

  f = diode_msg_encode_media (42, 1000, DIODE_TIME_NONE, 33333,
      G_MAXUINT64, G_MAXUINT64, DIODE_MEDIA_KEYFRAME | DIODE_MEDIA_MARKER,
      data, sizeof (data));
  fail_unless_equals_int (g_bytes_get_size (f),
      DIODE_MEDIA_PREFIX_SIZE + sizeof (data));
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_MEDIA);
  fail_unless_equals_uint64 (m.seq, 42);
  fail_unless_equals_uint64 (m.pts, 1000);
  fail_unless_equals_uint64 (m.dts, DIODE_TIME_NONE);
  fail_unless_equals_uint64 (m.duration, 33333);
  fail_unless_equals_uint64 (m.offset, G_MAXUINT64);
  fail_unless_equals_uint64 (m.offset_end, G_MAXUINT64);
  fail_unless_equals_int (m.flags, DIODE_MEDIA_KEYFRAME | DIODE_MEDIA_MARKER);
  p = g_bytes_get_data (m.payload, &psize);
  fail_unless_equals_int (psize, sizeof (data));
  fail_unless (memcmp (p, data, psize) == 0);
  /* the payload is a slice of the frame, not a copy */
  fd = g_bytes_get_data (f, &fsize);
  fail_unless (p == fd + DIODE_MEDIA_PREFIX_SIZE);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* empty payload (e.g. a GAP buffer) */
  f = diode_msg_encode_media (1, 0, 0, 0, 0, 0, DIODE_MEDIA_GAP, NULL, 0);
  parse_ok (f, &m);
  fail_unless_equals_int (g_bytes_get_size (m.payload), 0);
  fail_unless_equals_int (m.flags, DIODE_MEDIA_GAP);
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_media_prefix)
{
  guint8 prefix[DIODE_MEDIA_PREFIX_SIZE];
  const guint8 data[] = { 0, 0, 0, 1, 0x65, 0x88 };
  GBytes *whole;
  gsize size;
  const guint8 *d;

  fail_unless_equals_int (DIODE_MEDIA_FIELDS_SIZE, 52);
  fail_unless (diode_msg_write_media_prefix (prefix, 9, 1, 2, 3, 4, 5,
          DIODE_MEDIA_HEADER, sizeof (data)));
  whole = diode_msg_encode_media (9, 1, 2, 3, 4, 5, DIODE_MEDIA_HEADER,
      data, sizeof (data));
  d = g_bytes_get_data (whole, &size);
  fail_unless_equals_int (size, sizeof (prefix) + sizeof (data));
  fail_unless (memcmp (d, prefix, sizeof (prefix)) == 0);
  fail_unless (memcmp (d + sizeof (prefix), data, sizeof (data)) == 0);
  g_bytes_unref (whole);

  /* the MEDIA limit covers fixed fields + payload */
  fail_unless (diode_msg_write_media_prefix (prefix, 1, 0, 0, 0, 0, 0, 0,
          DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE));
  fail_unless_equals_int (prefix[4] << 24 | prefix[5] << 16 | prefix[6] << 8
      | prefix[7], DIODE_MAX_MEDIA_PAYLOAD);
  fail_if (diode_msg_write_media_prefix (prefix, 1, 0, 0, 0, 0, 0, 0,
          DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE + 1));
  fail_unless (diode_msg_encode_media (1, 0, 0, 0, 0, 0, 0, data,
          DIODE_MAX_MEDIA_PAYLOAD) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_eos_ping_pong)
{
  GBytes *f;
  DiodeMsg m;

  f = diode_msg_encode_eos (G_MAXUINT64 - 1);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_EOS);
  fail_unless_equals_uint64 (m.seq, G_MAXUINT64 - 1);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_ping (0x0102030405060708);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PING);
  fail_unless_equals_uint64 (m.token, 0x0102030405060708);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_pong (77);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PONG);
  fail_unless_equals_uint64 (m.token, 77);
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_error)
{
  GBytes *f = diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "no stream 'x'");
  DiodeMsg m;

  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_FOUND);
  fail_unless_equals_string (m.error_text, "no stream 'x'");
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_error (DIODE_ERR_INTERNAL, NULL);
  parse_ok (f, &m);
  fail_unless_equals_int (m.error_code, DIODE_ERR_INTERNAL);
  fail_unless_equals_string (m.error_text, "");
  diode_msg_clear (&m);
  g_bytes_unref (f);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */

GST_START_TEST (test_limit_stream_name)
{
  gchar *name255 = g_strnfill (255, 'a');
  gchar *name256 = g_strnfill (256, 'a');
  GError *err = NULL;
  GBytes *f;
  guint8 payload[2 + 300];
  gchar *text;

  /* encoders */
  f = diode_msg_encode_publish (name255);
  fail_unless (f != NULL);
  g_bytes_unref (f);
  fail_unless (diode_msg_encode_publish (name256) == NULL);
  fail_unless (diode_msg_encode_publish ("") == NULL);
  fail_unless (diode_msg_encode_publish (NULL) == NULL);
  fail_unless (diode_msg_encode_publish ("a/b") == NULL);
  fail_unless (diode_msg_encode_publish ("a\nb") == NULL);
  fail_unless (diode_msg_encode_publish ("a\x7f") == NULL);
  fail_unless (diode_msg_encode_publish ("a\xc2\x85") == NULL);      /* NEL */
  fail_unless (diode_msg_encode_publish ("\xff\xfe") == NULL);
  fail_unless (diode_msg_encode_publish_ok (name256, 1) == NULL);
  fail_unless (diode_msg_encode_subscribe (name256, 0, 0) == NULL);
  fail_unless (diode_msg_encode_subscribe ("", 0, 0) == NULL);
  fail_unless (diode_msg_encode_subscribe_ok ("x/y", 1) == NULL);

  fail_unless (diode_msg_check_stream_name ("pi-taipei", NULL));
  fail_if (diode_msg_check_stream_name (name256, &err));
  fail_unless_equals_int (err->code, DIODE_ERR_BAD_NAME);
  fail_unless_equals_string (err->message,
      "stream name is 256 bytes, limit is 255");
  g_clear_error (&err);
  fail_if (diode_msg_check_stream_name ("", &err));
  fail_unless_equals_int (err->code, DIODE_ERR_BAD_NAME);
  g_clear_error (&err);

  /* decoder: hand-made frames the encoder would never produce */
  payload[0] = 1;
  payload[1] = 0;               /* 256 */
  memset (payload + 2, 'a', 256);
  text = parse_fails (msgcheck_frame (DIODE_MSG_PUBLISH, payload, 258),
      DIODE_ERR_BAD_NAME);
  fail_unless_equals_string (text,
      "PUBLISH: stream name is 256 bytes, limit is 255");
  g_free (text);

  payload[0] = 0;
  payload[1] = 0;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_SUBSCRIBE, payload, 2 + 12),
      DIODE_ERR_BAD_NAME);

  payload[1] = 3;
  memcpy (payload + 2, "a/b", 3);
  expect_parse_fails (msgcheck_frame (DIODE_MSG_PUBLISH_OK, payload, 5),
      DIODE_ERR_BAD_NAME);
  memcpy (payload + 2, "a\0b", 3);      /* embedded NUL */
  expect_parse_fails (msgcheck_frame (DIODE_MSG_PUBLISH, payload, 5),
      DIODE_ERR_BAD_NAME);
  memcpy (payload + 2, "a\x1b[", 3);    /* terminal escape */
  expect_parse_fails (msgcheck_frame (DIODE_MSG_PUBLISH, payload, 5),
      DIODE_ERR_BAD_NAME);
  memcpy (payload + 2, "a\xc3\x28", 3); /* invalid UTF-8 */
  expect_parse_fails (msgcheck_frame (DIODE_MSG_SUBSCRIBE_OK, payload,
          5 + 8), DIODE_ERR_BAD_NAME);

  g_free (name255);
  g_free (name256);
}

GST_END_TEST;

GST_START_TEST (test_limit_text)
{
  gchar *long_text = g_strnfill (DIODE_MAX_TEXT + 100, 'e');
  gchar *snowmen;
  GString *s;
  GBytes *f;
  DiodeMsg m;
  guint8 *payload;
  gchar *text;
  guint i;

  /* encoders cut over-long text rather than fail to report an error */
  f = diode_msg_encode_error (DIODE_ERR_INTERNAL, long_text);
  parse_ok (f, &m);
  fail_unless_equals_int (strlen (m.error_text), DIODE_MAX_TEXT);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* ... at a character boundary: 3-byte snowmen do not divide 4096 */
  s = g_string_new (NULL);
  for (i = 0; i < 2000; i++)
    g_string_append (s, "☃");
  snowmen = g_string_free (s, FALSE);
  f = diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, snowmen);
  parse_ok (f, &m);
  fail_unless_equals_int (strlen (m.agent), 4095);
  fail_unless (g_utf8_validate (m.agent, -1, NULL));
  diode_msg_clear (&m);
  g_bytes_unref (f);
  g_free (snowmen);

  /* ... and repair invalid UTF-8 */
  f = diode_msg_encode_welcome (1, 0, "bad \xff byte");
  parse_ok (f, &m);
  fail_unless (g_utf8_validate (m.agent, -1, NULL));
  fail_unless (g_str_has_prefix (m.agent, "bad "));
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* decoder: text of 4097 bytes is refused */
  payload = g_malloc0 (4 + DIODE_MAX_TEXT + 1);
  payload[0] = 0;
  payload[1] = 100;
  payload[2] = (DIODE_MAX_TEXT + 1) >> 8;
  payload[3] = (DIODE_MAX_TEXT + 1) & 0xff;
  memset (payload + 4, 'x', DIODE_MAX_TEXT + 1);
  text = parse_fails (msgcheck_frame (DIODE_MSG_ERROR, payload,
          4 + DIODE_MAX_TEXT + 1), DIODE_ERR_TOO_LARGE);
  fail_unless_equals_string (text,
      "ERROR: field 'text' is 4097 bytes, limit is 4096");
  g_free (text);
  /* ... but 4096 is fine */
  payload[3] = DIODE_MAX_TEXT & 0xff;
  payload[2] = DIODE_MAX_TEXT >> 8;
  f = msgcheck_frame (DIODE_MSG_ERROR, payload, 4 + DIODE_MAX_TEXT);
  parse_ok (f, &m);
  fail_unless_equals_int (strlen (m.error_text), DIODE_MAX_TEXT);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* agent in HELLO (offset 5) and WELCOME (offset 6) */
  payload[5] = 0xff;
  payload[6] = 0xff;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_HELLO, payload, 7),
      DIODE_ERR_TOO_LARGE);
  payload[7] = 0xff;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_WELCOME, payload, 8),
      DIODE_ERR_TOO_LARGE);

  /* invalid UTF-8 on the wire is malformed, not repaired */
  payload[2] = 0;
  payload[3] = 2;
  payload[4] = 0xc3;
  payload[5] = 0x28;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_ERROR, payload, 6),
      DIODE_ERR_PROTOCOL);

  g_free (payload);
  g_free (long_text);
}

GST_END_TEST;

GST_START_TEST (test_limit_caps)
{
  gsize max = DIODE_MAX_CAPS_PAYLOAD - 4;
  gchar *caps = g_strnfill (max + 1, 'c');
  GBytes *f;
  DiodeMsg m;
  guint8 payload[8];
  gchar *text;

  fail_unless (diode_msg_encode_caps (caps) == NULL);
  caps[max] = '\0';
  f = diode_msg_encode_caps (caps);
  fail_unless (f != NULL);
  fail_unless_equals_int (g_bytes_get_size (f),
      DIODE_FRAME_HEADER_SIZE + DIODE_MAX_CAPS_PAYLOAD);
  parse_ok (f, &m);
  fail_unless_equals_int (strlen (m.caps), max);
  diode_msg_clear (&m);
  g_bytes_unref (f);
  g_free (caps);

  fail_unless (diode_msg_encode_caps (NULL) == NULL);
  fail_unless (diode_msg_encode_caps ("\xff") == NULL);

  /* a CAPS frame announcing 1 MiB + 1 is refused from the header */
  text = parse_fails (msgcheck_raw_frame (DIODE_MSG_CAPS, 0, 0,
          DIODE_MAX_CAPS_PAYLOAD + 1, NULL, 0), DIODE_ERR_TOO_LARGE);
  fail_unless_equals_string (text,
      "frame of type CAPS announces 1048577 bytes, limit is 1048576");
  g_free (text);

  /* a caps length field that lies beyond the limit */
  payload[0] = payload[1] = payload[2] = payload[3] = 0xff;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_CAPS, payload, 8),
      DIODE_ERR_TOO_LARGE);
  /* ... or merely beyond the frame */
  payload[0] = payload[1] = payload[2] = 0;
  payload[3] = 5;
  expect_parse_fails (msgcheck_frame (DIODE_MSG_CAPS, payload, 8),
      DIODE_ERR_PROTOCOL);
}

GST_END_TEST;

GST_START_TEST (test_limit_header_length)
{
  guint8 header[DIODE_FRAME_HEADER_SIZE] = { DIODE_MSG_MEDIA, 0, 0, 0,
    0xff, 0xff, 0xff, 0xff
  };
  GError *err = NULL;
  gsize len = 1;
  gchar *text;

  fail_if (diode_msg_check_header (header, &len, &err));
  fail_unless_equals_int (err->code, DIODE_ERR_TOO_LARGE);
  fail_unless_equals_string (err->message,
      "frame of type MEDIA announces 4294967295 bytes, limit is 16777216");
  g_clear_error (&err);

  /* exactly at the limit passes the header check */
  header[4] = 0x01;
  header[5] = header[6] = header[7] = 0;
  fail_unless (diode_msg_check_header (header, &len, NULL));
  fail_unless_equals_int (len, DIODE_MAX_MEDIA_PAYLOAD);
  header[7] = 1;
  fail_if (diode_msg_check_header (header, &len, NULL));

  /* control frames: a limit per type, from what its fields can hold */
  text = parse_fails (msgcheck_raw_frame (DIODE_MSG_PING, 0, 0,
          DIODE_MAX_SMALL_PAYLOAD + 1, NULL, 0), DIODE_ERR_TOO_LARGE);
  fail_unless_equals_string (text,
      "frame of type PING announces 1025 bytes, limit is 1024");
  g_free (text);
  expect_parse_fails (msgcheck_raw_frame (DIODE_MSG_HELLO, 0, 0, G_MAXUINT32, NULL, 0),
      DIODE_ERR_TOO_LARGE);
  expect_parse_fails (msgcheck_raw_frame (DIODE_MSG_HELLO, 0, 0,
          DIODE_MAX_TEXT_PAYLOAD + 1, NULL, 0), DIODE_ERR_TOO_LARGE);
  expect_parse_fails (msgcheck_raw_frame (DIODE_MSG_PUBLISH, 0, 0,
          DIODE_MAX_POLICY_PAYLOAD + 1, NULL, 0), DIODE_ERR_TOO_LARGE);

  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_MEDIA),
      DIODE_MAX_MEDIA_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_CAPS),
      DIODE_MAX_CAPS_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_HELLO),
      DIODE_MAX_TEXT_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_WELCOME),
      DIODE_MAX_TEXT_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_ERROR),
      DIODE_MAX_TEXT_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_PUBLISH),
      DIODE_MAX_POLICY_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_POLICY),
      DIODE_MAX_POLICY_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_SUBSCRIBE),
      DIODE_MAX_SMALL_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_EOS),
      DIODE_MAX_SMALL_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_PONG),
      DIODE_MAX_SMALL_PAYLOAD);
  fail_unless (DIODE_MAX_CONTROL_PAYLOAD >= DIODE_MAX_POLICY_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload (0), 0);
  fail_unless_equals_int (diode_msg_max_payload (0x42), 0);
  fail_unless_equals_int (diode_msg_max_payload (0x1ff), 0);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Malformed frames                                                         */

/* One valid frame of every type, with the size of its known fields. */
static GBytes *
sample_frame (guint i, gsize * fields)
{
  switch (i) {
    case 0:
      *fields = 5 + 2 + 5;
      return diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "agent");
    case 1:
      *fields = 6 + 2 + 5;
      return diode_msg_encode_welcome (1, 1000, "relay");
    case 2:
      *fields = 2 + 3;
      return diode_msg_encode_publish ("cam");
    case 3:
      *fields = 2 + 3;
      return diode_msg_encode_publish_ok ("cam", 1);
    case 4:
      *fields = 2 + 3 + 12 + 1 + DIODE_ADDRESS_BYTES;
      return diode_msg_encode_subscribe_pinned ("cam", 5, 100, PIN);
    case 5:
      *fields = 2 + 3 + 8 + 1 + DIODE_ADDRESS_BYTES;
      return diode_msg_encode_subscribe_ok_from ("cam", 5, PIN);
    case 6:
      *fields = 4 + 10;
      return diode_msg_encode_caps ("video/x-h2");
    case 7:
      *fields = DIODE_MEDIA_FIELDS_SIZE;
      return diode_msg_encode_media (1, 2, 3, 4, 5, 6, 0, (const guint8 *)
          "abc", 3);
    case 8:
      *fields = 8;
      return diode_msg_encode_eos (3);
    case 9:
      *fields = 8;
      return diode_msg_encode_ping (3);
    case 10:
      *fields = 8;
      return diode_msg_encode_pong (3);
    case 11:
      *fields = 2 + 2 + 4;
      return diode_msg_encode_error (DIODE_ERR_SHUTDOWN, "down");
    default:
      return NULL;
  }
}

#define N_SAMPLES 12

GST_START_TEST (test_truncated)
{
  guint i;

  for (i = 0; i < N_SAMPLES; i++) {
    gsize fields, cut;
    GBytes *f = sample_frame (i, &fields);
    GByteArray *p = payload_of (f);
    guint8 type = ((const guint8 *) g_bytes_get_data (f, NULL))[0];

    fail_unless (p->len >= fields);
    /* every prefix of the known fields is malformed */
    for (cut = 0; cut < fields; cut++) {
      gchar *text;

      /* except SUBSCRIBE(_OK) ending before its optional publisher field */
      if ((type == DIODE_MSG_SUBSCRIBE || type == DIODE_MSG_SUBSCRIBE_OK) &&
          cut == fields - 1 - DIODE_ADDRESS_BYTES) {
        DiodeMsg m;
        GBytes *shorter = msgcheck_frame (type, p->data, cut);

        parse_ok (shorter, &m);
        fail_unless (m.publisher == NULL);
        diode_msg_clear (&m);
        g_bytes_unref (shorter);
        continue;
      }
      text = parse_fails (msgcheck_frame (type, p->data, cut),
          DIODE_ERR_PROTOCOL);

      fail_unless (strstr (text, "truncated") != NULL, "%s", text);
      g_free (text);
    }
    g_byte_array_unref (p);
    g_bytes_unref (f);
  }
}

GST_END_TEST;

GST_START_TEST (test_frame_size_mismatch)
{
  GBytes *f = diode_msg_encode_ping (1);
  gsize size;
  const guint8 *d = g_bytes_get_data (f, &size);
  GByteArray *more;

  /* shorter than a header */
  expect_parse_fails (g_bytes_new (d, 7), DIODE_ERR_PROTOCOL);
  expect_parse_fails (g_bytes_new (d, 0), DIODE_ERR_PROTOCOL);
  /* header announces more than the frame holds */
  expect_parse_fails (g_bytes_new (d, size - 1), DIODE_ERR_PROTOCOL);
  /* ... or less */
  more = g_byte_array_new ();
  g_byte_array_append (more, d, size);
  g_byte_array_append (more, (const guint8 *) "x", 1);
  expect_parse_fails (g_byte_array_free_to_bytes (more), DIODE_ERR_PROTOCOL);
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_trailing_ignored)
{
  static const guint8 junk[] = { 0xde, 0xad, 0xbe, 0xef, 0, 0, 0xff };
  guint i;

  for (i = 0; i < N_SAMPLES; i++) {
    gsize fields;
    GBytes *f = sample_frame (i, &fields);
    GByteArray *p = payload_of (f);
    guint8 type = ((const guint8 *) g_bytes_get_data (f, NULL))[0];
    GBytes *longer;
    DiodeMsg a, b;

    g_byte_array_append (p, junk, sizeof (junk));
    longer = msgcheck_frame (type, p->data, p->len);
    parse_ok (f, &a);
    parse_ok (longer, &b);
    fail_unless_equals_int (a.type, b.type);
    fail_unless_equals_int (a.version_min, b.version_min);
    fail_unless_equals_int (a.version_max, b.version_max);
    fail_unless_equals_int (a.role, b.role);
    fail_unless_equals_int (a.version, b.version);
    fail_unless_equals_int (a.keepalive_ms, b.keepalive_ms);
    fail_unless_equals_string (a.agent, b.agent);
    fail_unless_equals_string (a.stream, b.stream);
    fail_unless_equals_uint64 (a.start_seq, b.start_seq);
    fail_unless_equals_int (a.wait_ms, b.wait_ms);
    fail_unless_equals_string (a.publisher, b.publisher);
    fail_unless_equals_string (a.caps, b.caps);
    fail_unless_equals_uint64 (a.seq, b.seq);
    fail_unless_equals_uint64 (a.pts, b.pts);
    fail_unless_equals_uint64 (a.offset_end, b.offset_end);
    fail_unless_equals_uint64 (a.token, b.token);
    fail_unless_equals_int (a.error_code, b.error_code);
    fail_unless_equals_string (a.error_text, b.error_text);
    if (type == DIODE_MSG_MEDIA) {
      /* for MEDIA, everything after the fields is the buffer */
      fail_unless_equals_int (g_bytes_get_size (b.payload),
          3 + sizeof (junk));
      fail_unless (memcmp ((const guint8 *) g_bytes_get_data (b.payload,
                  NULL) + 3, junk, sizeof (junk)) == 0);
    } else {
      fail_unless (b.payload == NULL);
    }
    diode_msg_clear (&a);
    diode_msg_clear (&b);
    g_bytes_unref (longer);
    g_bytes_unref (f);
    g_byte_array_unref (p);
  }
}

GST_END_TEST;

GST_START_TEST (test_unknown_type)
{
  static const guint8 bad[] = { 0x00, 0x03, 0x15, 0x23, 0x32, 0x7e, 0x80,
    0xff
  };
  guint8 payload[8] = { 0, };
  guint i;
  gchar *text;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_parse_fails (msgcheck_frame (bad[i], payload, 8),
        DIODE_ERR_PROTOCOL);
  text = parse_fails (msgcheck_frame (0x44, NULL, 0), DIODE_ERR_PROTOCOL);
  fail_unless_equals_string (text, "unknown frame type 0x44");
  g_free (text);
  /* a relay-link frame outside a relay link (test-msg-link.c: inside) */
  text = parse_fails (msgcheck_frame (0x42, NULL, 0), DIODE_ERR_PROTOCOL);
  fail_unless_equals_string (text, "frame type ANNOUNCE (0x42) exists only "
      "on relay links (role RELAY, protocol version 2 or later)");
  g_free (text);
}

GST_END_TEST;

GST_START_TEST (test_flags_reserved)
{
  guint8 payload[8] = { 0, };
  gchar *text;

  text = parse_fails (msgcheck_raw_frame (DIODE_MSG_PING, 0x01, 0, 8, payload, 8),
      DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "flags") != NULL);
  g_free (text);
  expect_parse_fails (msgcheck_raw_frame (DIODE_MSG_PING, 0x80, 0, 8, payload, 8),
      DIODE_ERR_PROTOCOL);
  text = parse_fails (msgcheck_raw_frame (DIODE_MSG_PING, 0, 0x0100, 8, payload, 8),
      DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "reserved") != NULL);
  g_free (text);
  expect_parse_fails (msgcheck_raw_frame (DIODE_MSG_MEDIA, 0, 0x0001, 8, payload, 8),
      DIODE_ERR_PROTOCOL);
}

GST_END_TEST;

GST_START_TEST (test_names)
{
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_HELLO), "HELLO");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_SUBSCRIBE_OK),
      "SUBSCRIBE_OK");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_ERROR), "ERROR");
  fail_unless_equals_string (diode_msg_type_name (0x99), "UNKNOWN");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_SLOW_VIEWER),
      "SLOW_VIEWER");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_BAD_NAME),
      "BAD_NAME");
  fail_unless_equals_string (diode_error_code_name (7), "UNKNOWN");

  fail_if (diode_error_code_is_fatal (DIODE_ERR_NOT_FOUND));
  fail_if (diode_error_code_is_fatal (DIODE_ERR_BAD_NAME));
  fail_if (diode_error_code_is_fatal (199));
  fail_unless (diode_error_code_is_fatal (DIODE_ERR_PROTOCOL));
  fail_unless (diode_error_code_is_fatal (DIODE_ERR_TIMEOUT));
  fail_unless (diode_error_code_is_fatal (DIODE_ERR_INTERNAL));
  fail_unless (diode_error_code_is_fatal (999));

  fail_unless (DIODE_PROTOCOL_ERROR != 0);
  fail_unless_equals_string (g_quark_to_string (DIODE_PROTOCOL_ERROR),
      "diode-protocol-error-quark");
}

GST_END_TEST;

GST_START_TEST (test_roundtrip_policy)
{
  const gchar *allow[] = { "0x00112233445566778899AABBCCDDEEFF00112233",
    "0xffeeddccbbaa99887766554433221100ffeeddcc", NULL
  };
  GBytes *f;
  DiodeMsg m;

  /* PUBLISH with a policy */
  f = diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PRIVATE, "office",
      allow);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PUBLISH);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_string (m.fleet, "office");
  fail_unless_equals_int (g_strv_length (m.allow), 2);
  /* addresses come back in lowercase */
  fail_unless_equals_string (m.allow[0],
      "0x00112233445566778899aabbccddeeff00112233");
  fail_unless_equals_string (m.allow[1], allow[1]);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* a PUBLISH without one is public, no fleet, empty list */
  f = diode_msg_encode_publish ("cam");
  parse_ok (f, &m);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PUBLIC);
  fail_unless_equals_string (m.fleet, "");
  fail_unless (m.allow != NULL && m.allow[0] == NULL);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* POLICY */
  f = diode_msg_encode_policy (DIODE_ACCESS_PROTECTED, "fleet-1", NULL);
  parse_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_POLICY);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PROTECTED);
  fail_unless_equals_string (m.fleet, "fleet-1");
  fail_unless (m.allow[0] == NULL);
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* refused by the encoder: bad address, bad access, bad fleet */
  {
    const gchar *bad[] = { "0x1234", NULL };
    fail_unless (diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
            bad) == NULL);
    fail_unless (diode_msg_encode_policy (7, NULL, NULL) == NULL);
    fail_unless (diode_msg_encode_policy (DIODE_ACCESS_PUBLIC, "a/b",
            NULL) == NULL);
  }
  fail_unless (diode_msg_address_is_valid (allow[0]));
  fail_if (diode_msg_address_is_valid ("0x0011"));
  fail_if (diode_msg_address_is_valid ("1x00112233445566778899aabbccddeeff00112233"));
}

GST_END_TEST;

GST_START_TEST (test_policy_limits)
{
  /* An allowlist count larger than the payload, or over the limit, is
   * refused without reading past the frame. */
  guint8 frame[8 + 1 + 2 + 2] = { DIODE_MSG_POLICY, 0, 0, 0, 0, 0, 0, 5,
    DIODE_ACCESS_PRIVATE, 0, 0, 0x00, 0x03
  };
  GBytes *b = g_bytes_new (frame, sizeof (frame));
  DiodeMsg m = { 0 };
  GError *err = NULL;

  fail_if (diode_msg_parse (b, &m, &err));
  fail_unless (err != NULL);
  g_clear_error (&err);
  g_bytes_unref (b);

  frame[11] = 0xff;
  frame[12] = 0xff;
  b = g_bytes_new (frame, sizeof (frame));
  fail_if (diode_msg_parse (b, &m, &err));
  fail_unless_equals_int (err->code, DIODE_ERR_TOO_LARGE);
  g_clear_error (&err);
  g_bytes_unref (b);

  /* unknown access mode */
  frame[8] = 9;
  frame[11] = 0;
  frame[12] = 0;
  b = g_bytes_new (frame, sizeof (frame));
  fail_if (diode_msg_parse (b, &m, &err));
  fail_unless_equals_int (err->code, DIODE_ERR_PROTOCOL);
  g_clear_error (&err);
  g_bytes_unref (b);
}

GST_END_TEST;

/* The per-type limits leave room for the largest message each type can
 * carry: every encoder's maximum passes the header check of its type. */
GST_START_TEST (test_largest_fit)
{
  gchar *name = g_strnfill (DIODE_MAX_STREAM_NAME, 'n');
  gchar *fleet = g_strnfill (DIODE_MAX_STREAM_NAME, 'f');
  gchar *text = g_strnfill (DIODE_MAX_TEXT, 't');
  gchar **allow = g_new0 (gchar *, DIODE_MAX_ALLOW + 1);
  GBytes *frames[7];
  DiodeMsg m;
  guint i;

  for (i = 0; i < DIODE_MAX_ALLOW; i++)
    allow[i] = g_strdup_printf ("0x%040x", i);
  frames[0] = diode_msg_encode_publish_policy (name, DIODE_ACCESS_PRIVATE,
      fleet, (const gchar * const *) allow);
  frames[1] = diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, fleet,
      (const gchar * const *) allow);
  frames[2] = diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, text);
  frames[3] = diode_msg_encode_welcome (1, G_MAXUINT32, text);
  frames[4] = diode_msg_encode_error (DIODE_ERR_INTERNAL, text);
  frames[5] = diode_msg_encode_subscribe (name, G_MAXUINT64, G_MAXUINT32);
  frames[6] = diode_msg_encode_publish_ok (name, G_MAXUINT64);
  for (i = 0; i < G_N_ELEMENTS (frames); i++) {
    fail_unless (frames[i] != NULL, "frame %u not encoded", i);
    fail_unless (diode_msg_check_header (g_bytes_get_data (frames[i], NULL),
            NULL, NULL), "frame %u (%" G_GSIZE_FORMAT " bytes) over its "
        "limit", i, g_bytes_get_size (frames[i]));
    parse_ok (frames[i], &m);
    diode_msg_clear (&m);
    g_bytes_unref (frames[i]);
  }
  g_strfreev (allow);
  g_free (name);
  g_free (fleet);
  g_free (text);
}

GST_END_TEST;

static Suite *
msg_suite (void)
{
  Suite *s = suite_create ("diode-msg");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_roundtrip_hello);
  tcase_add_test (tc, test_roundtrip_welcome);
  tcase_add_test (tc, test_roundtrip_publish);
  tcase_add_test (tc, test_roundtrip_subscribe);
  tcase_add_test (tc, test_subscribe_publisher);
  tcase_add_test (tc, test_roundtrip_policy);
  tcase_add_test (tc, test_policy_limits);
  tcase_add_test (tc, test_roundtrip_caps);
  tcase_add_test (tc, test_roundtrip_media);
  tcase_add_test (tc, test_media_prefix);
  tcase_add_test (tc, test_roundtrip_eos_ping_pong);
  tcase_add_test (tc, test_roundtrip_error);
  tcase_add_test (tc, test_limit_stream_name);
  tcase_add_test (tc, test_limit_text);
  tcase_add_test (tc, test_limit_caps);
  tcase_add_test (tc, test_limit_header_length);
  tcase_add_test (tc, test_largest_fit);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_frame_size_mismatch);
  tcase_add_test (tc, test_trailing_ignored);
  tcase_add_test (tc, test_unknown_type);
  tcase_add_test (tc, test_flags_reserved);
  tcase_add_test (tc, test_names);
  return s;
}

GST_CHECK_MAIN (msg);
