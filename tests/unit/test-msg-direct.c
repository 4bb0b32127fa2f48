/* gst-diode — unit tests: the codec of direct paths (protocol version 4)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SIGNAL, PATH and the WELCOME v4 block (docs/protocol.md section 17):
 * round trips, every refusal the section lists (sid 0, kind, peer, data
 * over 2048 or not UTF-8, path out of range: 200/202), bytes appended
 * after the known fields ignored, the limits (SIGNAL 4096, PATH 1024)
 * only at version 4 with roles PUBLISHER/VIEWER (unknown below and on
 * relay links), and the byte examples of the document, read from the file
 * itself so that the document cannot drift from the code.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "msgcheck.h"
#include "docexample.h"

#define PEER "0x00112233445566778899aabbccddeeff01234567"
#define PEER_UP "0x00112233445566778899AABBCCDDEEFF01234567"
#define CAND "candidate:1 1 UDP 2013266431 10.0.0.2 50000 typ host"

/* @frame with @extra bytes appended to its payload; consumes @frame */
static GBytes *
append (GBytes * frame, const void *extra, gsize len)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);
  GByteArray *a = g_byte_array_new ();
  GBytes *out;

  g_byte_array_append (a, d + DIODE_FRAME_HEADER_SIZE,
      size - DIODE_FRAME_HEADER_SIZE);
  g_byte_array_append (a, extra, len);
  out = msgcheck_frame (d[0], a->data, a->len);
  g_byte_array_unref (a);
  g_bytes_unref (frame);
  return out;
}

static void
parse_ok (GBytes * frame, guint16 version, DiodeRole role, DiodeMsg * m)
{
  GError *err = NULL;

  fail_unless (frame != NULL, "encoder refused");
  memset (m, 0, sizeof (*m));
  if (!diode_msg_parse_v (frame, version, role, m, &err))
    fail ("parse failed: %s", err->message);
  g_bytes_unref (frame);
}

static gchar *
parse_fails (GBytes * frame, guint16 version, DiodeRole role, guint code)
{
  DiodeMsg m = { 0, };
  GError *err = NULL;
  gchar *text;

  fail_unless (frame != NULL, "no frame");
  fail_if (diode_msg_parse_v (frame, version, role, &m, &err),
      "parse unexpectedly worked");
  fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR, code),
      "code %d, expected %u: %s", err->code, code, err->message);
  fail_unless (m.peer == NULL && m.signal_data == NULL && m.frame == NULL);
  text = g_strdup (err->message);
  g_error_free (err);
  g_bytes_unref (frame);
  return text;
}

static void
fails_saying (GBytes * frame, guint code, const gchar * needle)
{
  gchar *text = parse_fails (frame, 4, DIODE_ROLE_VIEWER, code);

  fail_unless (strstr (text, needle) != NULL, "'%s' does not say '%s'",
      text, needle);
  g_free (text);
}

/* A SIGNAL payload written by hand: sid, kind, peer bytes, data bytes. */
static GBytes *
raw_signal (guint32 sid, guint8 kind, const gchar * peer, gsize peer_len,
    const gchar * data, gsize data_len)
{
  GByteArray *a = g_byte_array_new ();
  guint8 b[5] = { sid >> 24, sid >> 16, sid >> 8, sid, kind };
  guint8 l[2];
  GBytes *f;

  g_byte_array_append (a, b, 5);
  l[0] = peer_len >> 8;
  l[1] = peer_len;
  g_byte_array_append (a, l, 2);
  g_byte_array_append (a, (const guint8 *) peer, peer_len);
  l[0] = data_len >> 8;
  l[1] = data_len;
  g_byte_array_append (a, l, 2);
  g_byte_array_append (a, (const guint8 *) data, data_len);
  f = msgcheck_frame (DIODE_MSG_SIGNAL, a->data, a->len);
  g_byte_array_unref (a);
  return f;
}

GST_START_TEST (test_signal_round_trip)
{
  DiodeMsg m;
  guint kind;
  gchar *big = g_strnfill (DIODE_MAX_SIGNAL_DATA, 'x');
  /* 2046 bytes of ASCII + a 2-byte character: exactly the limit */
  gchar *utf8 = g_strconcat (big + 2, "\xc3\xa9", NULL);

  for (kind = DIODE_SIGNAL_OFFER; kind <= DIODE_SIGNAL_KIND_LAST; kind++) {
    parse_ok (diode_msg_encode_signal (7, kind, NULL, "ufrag pwd"), 4,
        DIODE_ROLE_VIEWER, &m);
    fail_unless_equals_int (m.type, DIODE_MSG_SIGNAL);
    fail_unless_equals_int (m.sid, 7);
    fail_unless_equals_int (m.signal_kind, kind);
    fail_unless (m.peer == NULL);
    fail_unless_equals_string (m.signal_data, "ufrag pwd");
    diode_msg_clear (&m);
  }

  /* the relay fills in the peer; any case in, lower case on the wire */
  parse_ok (diode_msg_encode_signal (G_MAXUINT32, DIODE_SIGNAL_CANDIDATE,
          PEER_UP, CAND), 4, DIODE_ROLE_PUBLISHER, &m);
  fail_unless_equals_int (m.sid, G_MAXUINT32);
  fail_unless_equals_string (m.peer, PEER);
  fail_unless_equals_string (m.signal_data, CAND);
  diode_msg_clear (&m);

  /* empty data (GATHERED), NULL data, "" peer */
  parse_ok (diode_msg_encode_signal (1, DIODE_SIGNAL_GATHERED, "", NULL), 4,
      DIODE_ROLE_VIEWER, &m);
  fail_unless (m.peer == NULL);
  fail_unless_equals_string (m.signal_data, "");
  diode_msg_clear (&m);

  /* data at its limit, ASCII and with a multi-byte character */
  parse_ok (diode_msg_encode_signal (2, DIODE_SIGNAL_CLOSE, PEER, big), 5,
      DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_int (strlen (m.signal_data), DIODE_MAX_SIGNAL_DATA);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_signal (2, DIODE_SIGNAL_CLOSE, PEER, utf8), 4,
      DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_string (m.signal_data, utf8);
  diode_msg_clear (&m);

  /* bytes appended after the known fields: a later version's, ignored */
  parse_ok (append (diode_msg_encode_signal (3, DIODE_SIGNAL_ANSWER, PEER,
              "u p"), "later", 5), 4, DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_string (m.signal_data, "u p");
  fail_unless_equals_string (m.peer, PEER);
  diode_msg_clear (&m);

  g_free (big);
  g_free (utf8);
}

GST_END_TEST;

GST_START_TEST (test_signal_refused)
{
  gchar *big = g_strnfill (DIODE_MAX_SIGNAL_DATA + 1, 'x');

  /* the encoder refuses every invalid field */
  fail_unless (diode_msg_encode_signal (0, DIODE_SIGNAL_OFFER, NULL, "")
      == NULL);
  fail_unless (diode_msg_encode_signal (1, 0, NULL, "") == NULL);
  fail_unless (diode_msg_encode_signal (1, DIODE_SIGNAL_KIND_LAST + 1, NULL,
          "") == NULL);
  fail_unless (diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, "bob", "")
      == NULL);
  fail_unless (diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, PEER "0", "")
      == NULL);
  fail_unless (diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, NULL, big)
      == NULL);
  fail_unless (diode_msg_encode_signal (1, DIODE_SIGNAL_OFFER, NULL,
          "bad \xff") == NULL);

  /* the parser refuses the same, and a peer not in its wire form */
  fails_saying (raw_signal (0, 1, "", 0, "", 0), DIODE_ERR_PROTOCOL,
      "sid 0");
  fails_saying (raw_signal (1, 0, "", 0, "", 0), DIODE_ERR_PROTOCOL,
      "unknown kind 0");
  fails_saying (raw_signal (1, 6, "", 0, "", 0), DIODE_ERR_PROTOCOL,
      "unknown kind 6");
  fails_saying (raw_signal (1, 1, "hello", 5, "", 0), DIODE_ERR_PROTOCOL,
      "peer");
  fails_saying (raw_signal (1, 1, PEER_UP, 42, "", 0), DIODE_ERR_PROTOCOL,
      "peer");
  fails_saying (raw_signal (1, 1, PEER, 41, "", 0), DIODE_ERR_PROTOCOL,
      "peer");
  fails_saying (raw_signal (1, 1, "0y00112233445566778899aabbccddeeff0123456",
          42, "", 0), DIODE_ERR_PROTOCOL, "peer");
  fails_saying (raw_signal (1, 1, "", 0, big, DIODE_MAX_SIGNAL_DATA + 1),
      DIODE_ERR_TOO_LARGE, "limit is 2048");
  fails_saying (raw_signal (1, 1, "", 0, "a\xffz", 3), DIODE_ERR_PROTOCOL,
      "UTF-8");
  fails_saying (raw_signal (1, 1, "", 0, "a\0z", 3), DIODE_ERR_PROTOCOL,
      "UTF-8");
  /* truncated: data length says more than there is, or no data field */
  fails_saying (msgcheck_frame (DIODE_MSG_SIGNAL,
          "\0\0\0\1\1\0\0\0\3ab", 11), DIODE_ERR_PROTOCOL, "truncated");
  fails_saying (msgcheck_frame (DIODE_MSG_SIGNAL, "\0\0\0\1\1\0\0", 7),
      DIODE_ERR_PROTOCOL, "truncated");
  g_free (big);
}

GST_END_TEST;

GST_START_TEST (test_path)
{
  DiodeMsg m;

  parse_ok (diode_msg_encode_path (DIODE_PATH_DIRECT, 42), 4,
      DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PATH);
  fail_unless_equals_int (m.path_kind, DIODE_PATH_DIRECT);
  fail_unless (m.from_seq == 42);
  diode_msg_clear (&m);
  parse_ok (append (diode_msg_encode_path (DIODE_PATH_RELAY, G_MAXUINT64),
          "x", 1), 4, DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_int (m.path_kind, DIODE_PATH_RELAY);
  fail_unless (m.from_seq == G_MAXUINT64);
  diode_msg_clear (&m);

  fail_unless (diode_msg_encode_path (2, 1) == NULL);
  fails_saying (msgcheck_frame (DIODE_MSG_PATH,
          "\2\0\0\0\0\0\0\0\1", 9), DIODE_ERR_PROTOCOL, "unknown path 2");
  fails_saying (msgcheck_frame (DIODE_MSG_PATH, "\1\0\0\0\0\0\0\0", 8),
      DIODE_ERR_PROTOCOL, "truncated");
}

GST_END_TEST;

/* Below version 4, and on relay links at any version, the types are
 * unknown: 200 from the header, as version 3 did for its frames. */
GST_START_TEST (test_limits_and_versions)
{
  static const guint types[] = { DIODE_MSG_SIGNAL, DIODE_MSG_PATH };
  static const gsize limits[] = { DIODE_MAX_SIGNAL_PAYLOAD,
    DIODE_MAX_SMALL_PAYLOAD
  };
  guint i;

  fail_unless_equals_int (DIODE_MAX_SIGNAL_PAYLOAD, 4096);
  fail_unless_equals_int (DIODE_MAX_SMALL_PAYLOAD, 1024);
  for (i = 0; i < G_N_ELEMENTS (types); i++) {
    guint8 h[8] = { types[i], 0, 0, 0, 0, 0, 0, 0 };
    GError *err = NULL;
    gsize len = 0;
    guint16 v;

    fail_unless_equals_int (diode_msg_max_payload (types[i]), 0);
    fail_unless_equals_int (diode_msg_max_payload_v (types[i], 4,
            DIODE_ROLE_VIEWER), limits[i]);
    fail_unless_equals_int (diode_msg_max_payload_v (types[i], 4,
            DIODE_ROLE_PUBLISHER), limits[i]);
    fail_unless_equals_int (diode_msg_max_payload_v (types[i], 9,
            DIODE_ROLE_PUBLISHER), limits[i]);
    fail_unless_equals_int (diode_msg_max_payload_v (types[i], 4,
            DIODE_ROLE_RELAY), 0);
    for (v = 0; v < 4; v++)
      fail_unless_equals_int (diode_msg_max_payload_v (types[i], v,
              DIODE_ROLE_VIEWER), 0);

    /* at the limit, and one over it */
    h[6] = limits[i] >> 8;
    h[7] = limits[i] & 0xff;
    fail_unless (diode_msg_check_header_v (h, 4, DIODE_ROLE_VIEWER, &len,
            NULL));
    fail_unless_equals_int (len, limits[i]);
    h[7] += 1;
    fail_if (diode_msg_check_header_v (h, 4, DIODE_ROLE_VIEWER, &len, &err));
    fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
            DIODE_ERR_TOO_LARGE));
    g_clear_error (&err);
    /* unknown at version 3, saying why */
    h[6] = h[7] = 0;
    fail_if (diode_msg_check_header_v (h, 3, DIODE_ROLE_VIEWER, &len, &err));
    fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
            DIODE_ERR_PROTOCOL));
    fail_unless (strstr (err->message, "only at protocol version 4") != NULL,
        "%s", err->message);
    g_clear_error (&err);
    fail_if (diode_msg_check_header_v (h, 4, DIODE_ROLE_RELAY, &len, &err));
    fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
            DIODE_ERR_PROTOCOL));
    g_clear_error (&err);
  }

  /* whole frames: parsed at 4, refused at 3, version 1 and on a link */
  {
    DiodeMsg m;

    parse_ok (diode_msg_encode_signal (1, 1, NULL, "u p"), 4,
        DIODE_ROLE_PUBLISHER, &m);
    diode_msg_clear (&m);
    g_free (parse_fails (diode_msg_encode_signal (1, 1, NULL, "u p"), 3,
            DIODE_ROLE_VIEWER, DIODE_ERR_PROTOCOL));
    g_free (parse_fails (diode_msg_encode_path (1, 1), 1, 0,
            DIODE_ERR_PROTOCOL));
    g_free (parse_fails (diode_msg_encode_path (1, 1), 4, DIODE_ROLE_RELAY,
            DIODE_ERR_PROTOCOL));
  }

  /* the limits of the earlier types do not change at version 4 */
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_RANGE_OK, 4,
          DIODE_ROLE_VIEWER), DIODE_MAX_RANGE_OK_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_ANNOUNCE, 4,
          DIODE_ROLE_RELAY), DIODE_MAX_ANNOUNCE_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_WELCOME, 4,
          DIODE_ROLE_VIEWER), DIODE_MAX_TEXT_PAYLOAD);
}

GST_END_TEST;

GST_START_TEST (test_welcome_v4)
{
  DiodeMsg m;
  GBytes *a, *b;

  /* below version 4 the frame of diode_msg_encode_welcome(), byte for
   * byte (the port is not sent) */
  a = diode_msg_encode_welcome_v (3, 2000, "relay", 3478);
  b = diode_msg_encode_welcome (3, 2000, "relay");
  fail_unless (g_bytes_equal (a, b));
  g_bytes_unref (b);
  parse_ok (a, 0, 0, &m);
  fail_unless_equals_int (m.stun_port, 0);
  diode_msg_clear (&m);

  /* at 4: two more bytes, read by a client before it knows the version
   * (version 0: the WELCOME sets it), and by the version-1 parser too */
  a = diode_msg_encode_welcome_v (4, 2000, "relay", 3478);
  b = diode_msg_encode_welcome (4, 2000, "relay");
  fail_unless_equals_int (g_bytes_get_size (a), g_bytes_get_size (b) + 2);
  g_bytes_unref (b);
  g_bytes_ref (a);
  parse_ok (a, 0, 0, &m);
  fail_unless_equals_int (m.version, 4);
  fail_unless_equals_int (m.keepalive_ms, 2000);
  fail_unless_equals_string (m.agent, "relay");
  fail_unless_equals_int (m.stun_port, 3478);
  diode_msg_clear (&m);
  fail_unless (diode_msg_parse (a, &m, NULL));
  fail_unless_equals_int (m.stun_port, 3478);
  diode_msg_clear (&m);

  /* a v4 WELCOME without the block (a relay without --stun may send
   * either): 0; with bytes after the block: ignored */
  parse_ok (diode_msg_encode_welcome (4, 10, "r"), 0, 0, &m);
  fail_unless_equals_int (m.stun_port, 0);
  diode_msg_clear (&m);
  parse_ok (append (diode_msg_encode_welcome_v (5, 10, "r", 65535), "zz", 2),
      0, 0, &m);
  fail_unless_equals_int (m.stun_port, 65535);
  diode_msg_clear (&m);
  /* a version-3 WELCOME's appended bytes are not a port */
  parse_ok (append (diode_msg_encode_welcome (3, 10, "r"), "\x0d\x96", 2), 0,
      0, &m);
  fail_unless_equals_int (m.stun_port, 0);
  diode_msg_clear (&m);
  /* one byte of a block: truncated */
  g_free (parse_fails (append (diode_msg_encode_welcome (4, 10, "r"), "\x0d",
              1), 0, 0, DIODE_ERR_PROTOCOL));
}

GST_END_TEST;

GST_START_TEST (test_names)
{
  guint k;

  fail_unless_equals_int (DIODE_PROTOCOL_VERSION_MAX, 4);
  fail_unless_equals_int (DIODE_PROTOCOL_VERSION_DIRECT, 4);
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_SIGNAL),
      "SIGNAL");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_PATH), "PATH");
  fail_unless_equals_string (diode_signal_kind_name (DIODE_SIGNAL_OFFER),
      "OFFER");
  fail_unless_equals_string (diode_signal_kind_name (DIODE_SIGNAL_CLOSE),
      "CLOSE");
  fail_unless_equals_string (diode_signal_kind_name (0), "unknown");
  fail_unless_equals_string (diode_signal_kind_name (6), "unknown");
  for (k = DIODE_SIGNAL_OFFER; k <= DIODE_SIGNAL_KIND_LAST; k++)
    fail_if (strcmp (diode_signal_kind_name (k), "unknown") == 0);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* docs/protocol.md section 17: its byte examples, read from the document   */

GST_START_TEST (test_documented_examples)
{
  gchar *doc = NULL;
  GError *err = NULL;

  if (!g_file_get_contents (DOCS_PROTOCOL_MD, &doc, NULL, &err))
    fail ("%s", err->message);
  doc_example_frame (doc, "signal-candidate",
      diode_msg_encode_signal (9, DIODE_SIGNAL_CANDIDATE,
          "0x5f3c9a0e7b21d4c86e0f1a2b3c4d5e6f70819203",
          "candidate:1 1 UDP 2013266431 192.168.1.20 50000 typ host"), 4, DIODE_ROLE_PUBLISHER);
  doc_example_frame (doc, "path-relay", diode_msg_encode_path (DIODE_PATH_RELAY,
          1234), 4, DIODE_ROLE_PUBLISHER);
  doc_example_frame (doc, "welcome-v4", diode_msg_encode_welcome_v (4, 2000,
          "diode-relay", 3478), 4, DIODE_ROLE_PUBLISHER);
  doc_check_format (doc, 17);
  g_free (doc);
}

GST_END_TEST;

static Suite *
msg_direct_suite (void)
{
  Suite *s = suite_create ("msg-direct");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_signal_round_trip);
  tcase_add_test (tc, test_signal_refused);
  tcase_add_test (tc, test_path);
  tcase_add_test (tc, test_limits_and_versions);
  tcase_add_test (tc, test_welcome_v4);
  tcase_add_test (tc, test_names);
  tcase_add_test (tc, test_documented_examples);
  return s;
}

GST_CHECK_MAIN (msg_direct);
