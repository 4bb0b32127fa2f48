/* gst-diode — unit tests: the codec of relay links (protocol version 2)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * LINK, LINK_OK, ANNOUNCE, PULL and the fields version 2 appends to
 * PUBLISH, SUBSCRIBE and SUBSCRIBE_OK on a connection of role RELAY
 * (docs/protocol.md, "Relay links (version 2)"): round trips, the exact
 * bytes of the documented examples, the limits (path of 33: 202, a path
 * ending early: 200, op 7: 200), and that none of it exists elsewhere (a
 * version-1 reader ignores the appended bytes and does not know the
 * types).
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "msgcheck.h"

#define A1 "0x1111111111111111111111111111111111111111"
#define A2 "0x2222222222222222222222222222222222222222"
#define A3 "0x3333333333333333333333333333333333333333"
#define OWNER "0x00112233445566778899aabbccddeeff01234567"
#define OWNER_UP "0x00112233445566778899AABBCCDDEEFF01234567"

static const gchar *const path2[] = { A1, A2, NULL };
static const gchar *const path1[] = { A3, NULL };
static const gchar *const allow1[] = { A2, NULL };

/* Parses as a relay link (role RELAY, version 2); consumes @frame. */
static void
link_ok (GBytes * frame, DiodeMsg * m)
{
  GError *err = NULL;

  fail_unless (frame != NULL, "encoder refused");
  memset (m, 0, sizeof (*m));
  if (!diode_msg_parse_v (frame, 2, DIODE_ROLE_RELAY, m, &err))
    fail ("parse failed: %s", err->message);
  g_bytes_unref (frame);
}

static gchar *
link_fails (GBytes * frame, guint16 version, DiodeRole role, guint code)
{
  DiodeMsg m = { 0, };
  GError *err = NULL;
  gchar *text;

  fail_if (diode_msg_parse_v (frame, version, role, &m, &err),
      "parse unexpectedly worked");
  fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR, code),
      "code %d, expected %u: %s", err->code, code, err->message);
  fail_unless (m.path == NULL && m.stream == NULL && m.frame == NULL);
  text = g_strdup (err->message);
  GST_INFO ("%s", text);
  g_error_free (err);
  g_bytes_unref (frame);
  return text;
}

static void
path_is (gchar ** path, const gchar * const *expect)
{
  guint i, n = expect ? g_strv_length ((gchar **) expect) : 0;

  fail_unless (path != NULL, "path is NULL");
  fail_unless_equals_int (g_strv_length (path), n);
  for (i = 0; i < n; i++)
    fail_unless_equals_string (path[i], expect[i]);
}

static void
bytes_are (GBytes * f, const guint8 * expect, gsize len)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (f, &size);

  fail_unless_equals_int (size, len);
  fail_unless (memcmp (d, expect, len) == 0, "bytes differ");
}

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_link_and_link_ok)
{
  DiodeMsg m;
  static const gchar *const none[] = { NULL };

  link_ok (diode_msg_encode_link (), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_LINK);
  diode_msg_clear (&m);
  /* later versions may append to LINK */
  link_ok (msgcheck_frame (DIODE_MSG_LINK, "later", 5), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_LINK);
  diode_msg_clear (&m);

  link_ok (diode_msg_encode_link_ok (path2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_LINK_OK);
  path_is (m.path, path2);
  diode_msg_clear (&m);
  link_ok (diode_msg_encode_link_ok (NULL), &m);
  path_is (m.path, NULL);
  diode_msg_clear (&m);
  link_ok (diode_msg_encode_link_ok (none), &m);
  path_is (m.path, NULL);
  diode_msg_clear (&m);
}

GST_END_TEST;

/* The examples of docs/protocol.md, byte for byte. */
GST_START_TEST (test_documented_examples)
{
  GBytes *f;
  guint8 expect[8 + 64];
  guint i;

  f = diode_msg_encode_link ();
  {
    static const guint8 link[] = { 0x40, 0, 0, 0, 0, 0, 0, 0 };
    bytes_are (f, link, sizeof (link));
  }
  g_bytes_unref (f);

  /* LINK_OK, path A1 A2: 41 00 00 00 00 00 00 29 02 11×20 22×20 */
  f = diode_msg_encode_link_ok (path2);
  memset (expect, 0, 8);
  expect[0] = 0x41;
  expect[7] = 0x29;
  expect[8] = 2;
  for (i = 0; i < 20; i++) {
    expect[9 + i] = 0x11;
    expect[29 + i] = 0x22;
  }
  bytes_are (f, expect, 49);
  g_bytes_unref (f);

  /* PULL "cam" from seq 5, path A3:
   * 43 00 00 00 00 00 00 22 | 00 03 63 61 6d | 00 00 00 00 00 00 00 05 |
   * 01 | 33×20 */
  f = diode_msg_encode_pull ("cam", 5, path1);
  {
    static const guint8 head[] = { 0x43, 0, 0, 0, 0, 0, 0, 0x22,
      0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 5, 1
    };
    memcpy (expect, head, sizeof (head));
    memset (expect + sizeof (head), 0x33, 20);
    bytes_are (f, expect, sizeof (head) + 20);
  }
  g_bytes_unref (f);

  /* SUBSCRIBE on a relay link, "cam", 0, 3000 ms, no pin, path A3 */
  f = diode_msg_encode_subscribe_relay ("cam", 0, 3000, NULL, path1);
  {
    static const guint8 head[] = { 0x12, 0, 0, 0, 0, 0, 0, 0x27,
      0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0xb8, 0, 1
    };
    memcpy (expect, head, sizeof (head));
    memset (expect + sizeof (head), 0x33, 20);
    bytes_are (f, expect, sizeof (head) + 20);
  }
  g_bytes_unref (f);

  /* ANNOUNCE WITHDRAWN "cam": 42 00 00 00 00 00 00 06 00 00 03 63 61 6d */
  f = diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL, 0,
      NULL, NULL, NULL);
  {
    static const guint8 w[] = { 0x42, 0, 0, 0, 0, 0, 0, 6, 0, 0, 3, 'c',
      'a', 'm'
    };
    bytes_are (f, w, sizeof (w));
  }
  g_bytes_unref (f);
}

GST_END_TEST;

GST_START_TEST (test_announce)
{
  DiodeMsg m;

  link_ok (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam",
          OWNER_UP, DIODE_ACCESS_PRIVATE, "fleet", allow1, path2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_ANNOUNCE);
  fail_unless_equals_int (m.op, DIODE_ANNOUNCE_AVAILABLE);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_string (m.owner, OWNER);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_string (m.fleet, "fleet");
  path_is (m.allow, allow1);
  path_is (m.path, path2);
  diode_msg_clear (&m);

  /* no owner, public, no path */
  link_ok (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam", NULL,
          DIODE_ACCESS_PUBLIC, NULL, NULL, NULL), &m);
  fail_unless (m.owner == NULL);
  fail_unless_equals_string (m.fleet, "");
  path_is (m.allow, NULL);
  path_is (m.path, NULL);
  diode_msg_clear (&m);

  link_ok (diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam",
          OWNER, DIODE_ACCESS_PRIVATE, "x", allow1, path2), &m);
  fail_unless_equals_int (m.op, DIODE_ANNOUNCE_WITHDRAWN);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless (m.owner == NULL);
  path_is (m.path, NULL);
  diode_msg_clear (&m);

  /* encoder refusals */
  fail_unless (diode_msg_encode_announce (7, "cam", NULL, 0, NULL, NULL,
          NULL) == NULL);
  fail_unless (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "a/b",
          NULL, 0, NULL, NULL, NULL) == NULL);
  fail_unless (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam",
          "0x12", 0, NULL, NULL, NULL) == NULL);
  fail_unless (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam",
          NULL, 9, NULL, NULL, NULL) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_announce_refused)
{
  guint8 p[64];
  gchar *text;

  /* op 7 */
  p[0] = 7;
  p[1] = 0;
  p[2] = 3;
  memcpy (p + 3, "cam", 3);
  text = link_fails (msgcheck_frame (DIODE_MSG_ANNOUNCE, p, 6), 2,
      DIODE_ROLE_RELAY, DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "unknown op 7") != NULL, "%s", text);
  g_free (text);
  /* AVAILABLE ending after the name */
  p[0] = 1;
  g_free (link_fails (msgcheck_frame (DIODE_MSG_ANNOUNCE, p, 6), 2,
          DIODE_ROLE_RELAY, DIODE_ERR_PROTOCOL));
  /* AVAILABLE ending before its path */
  p[6] = 0;                     /* owner: none */
  p[7] = 0;                     /* public */
  p[8] = p[9] = 0;              /* fleet "" */
  p[10] = p[11] = 0;            /* allow 0 */
  text = link_fails (msgcheck_frame (DIODE_MSG_ANNOUNCE, p, 12), 2,
      DIODE_ROLE_RELAY, DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "path count") != NULL, "%s", text);
  g_free (text);
  /* bad name: 103 from the codec (a session makes it 200), as for PUBLISH */
  p[3] = '/';
  g_free (link_fails (msgcheck_frame (DIODE_MSG_ANNOUNCE, p, 6), 2,
          DIODE_ROLE_RELAY, DIODE_ERR_BAD_NAME));
}

GST_END_TEST;

GST_START_TEST (test_pull)
{
  DiodeMsg m;

  link_ok (diode_msg_encode_pull ("cam", G_MAXUINT64, path2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PULL);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless (m.start_seq == G_MAXUINT64);
  path_is (m.path, path2);
  diode_msg_clear (&m);
  fail_unless (diode_msg_encode_pull ("", 0, NULL) == NULL);
}

GST_END_TEST;

static gchar **
long_path (guint n)
{
  gchar **p = g_new0 (gchar *, n + 1);
  guint i;

  for (i = 0; i < n; i++)
    p[i] = g_strdup_printf ("0x%040x", i + 1);
  return p;
}

/* Path limit: 32 round-trips, 33 is refused by the encoder and, when
 * forged, by the parser with 202; a path that ends early is 200. */
GST_START_TEST (test_path_limits)
{
  gchar **p32 = long_path (32), **p33 = long_path (33);
  GBytes *f;
  DiodeMsg m;
  guint8 raw[1 + 33 * 20];
  gchar *text;

  link_ok (diode_msg_encode_link_ok ((const gchar * const *) p32), &m);
  path_is (m.path, (const gchar * const *) p32);
  diode_msg_clear (&m);
  fail_unless (diode_msg_encode_link_ok ((const gchar * const *) p33) ==
      NULL);
  fail_unless (diode_msg_encode_pull ("c", 0, (const gchar * const *) p33)
      == NULL);
  fail_unless (diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "c",
          NULL, 0, NULL, NULL, (const gchar * const *) p33) == NULL);
  fail_unless (diode_msg_encode_subscribe_relay ("c", 0, 0, NULL,
          (const gchar * const *) p33) == NULL);
  fail_unless (diode_msg_encode_publish_relay ("c", 0, NULL, NULL, NULL,
          (const gchar * const *) p33) == NULL);
  fail_unless (diode_msg_encode_subscribe_ok_relay ("c", 0, NULL, 0, NULL,
          NULL, (const gchar * const *) p33) == NULL);
  {
    const gchar *bad[] = { A1, "0x12", NULL };
    fail_unless (diode_msg_encode_link_ok (bad) == NULL);
  }

  memset (raw, 0x44, sizeof (raw));
  raw[0] = 33;
  text = link_fails (msgcheck_frame (DIODE_MSG_LINK_OK, raw,
          sizeof (raw)), 2, DIODE_ROLE_RELAY, DIODE_ERR_TOO_LARGE);
  fail_unless_equals_string (text, "LINK_OK: path of 33 relays, limit is 32");
  g_free (text);
  raw[0] = 255;
  g_free (link_fails (msgcheck_frame (DIODE_MSG_LINK_OK, raw, 1), 2,
          DIODE_ROLE_RELAY, DIODE_ERR_TOO_LARGE));
  /* two announced, one and a half present */
  raw[0] = 2;
  text = link_fails (msgcheck_frame (DIODE_MSG_LINK_OK, raw, 31), 2,
      DIODE_ROLE_RELAY, DIODE_ERR_PROTOCOL);
  fail_unless (strstr (text, "truncated LINK_OK: field 'path'") != NULL, "%s",
      text);
  g_free (text);
  /* LINK_OK without even the count */
  g_free (link_fails (msgcheck_frame (DIODE_MSG_LINK_OK, raw, 0), 2,
          DIODE_ROLE_RELAY, DIODE_ERR_PROTOCOL));
  /* an appended path on SUBSCRIBE: 33 is 202 too */
  f = diode_msg_encode_subscribe_pinned ("c", 0, 0, OWNER);
  {
    GByteArray *a = g_byte_array_new ();
    gsize size;
    const guint8 *d = g_bytes_get_data (f, &size);
    guint32 len;

    g_byte_array_append (a, d + 8, size - 8);
    g_byte_array_append (a, raw, 1);
    a->data[a->len - 1] = 33;
    g_byte_array_append (a, raw + 1, 33 * 20);
    g_bytes_unref (f);
    /* the header limit (1024) holds it: it is the count that is refused */
    len = a->len;
    fail_unless (len <= DIODE_MAX_SMALL_PAYLOAD);
    g_free (link_fails (msgcheck_frame (DIODE_MSG_SUBSCRIBE, a->data,
                a->len), 2, DIODE_ROLE_RELAY, DIODE_ERR_TOO_LARGE));
    g_byte_array_unref (a);
  }
  g_strfreev (p32);
  g_strfreev (p33);
}

GST_END_TEST;

GST_START_TEST (test_publish_relay)
{
  DiodeMsg m;

  link_ok (diode_msg_encode_publish_relay ("cam", DIODE_ACCESS_PROTECTED,
          "fl", allow1, OWNER, path2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_PUBLISH);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_int (m.access, DIODE_ACCESS_PROTECTED);
  fail_unless_equals_string (m.fleet, "fl");
  path_is (m.allow, allow1);
  fail_unless_equals_string (m.owner, OWNER);
  path_is (m.path, path2);
  diode_msg_clear (&m);

  /* a version-1 PUBLISH on a relay link: public, no owner, empty path */
  link_ok (diode_msg_encode_publish ("cam"), &m);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PUBLIC);
  fail_unless (m.owner == NULL);
  path_is (m.path, NULL);
  diode_msg_clear (&m);
  /* policy but no owner/path */
  link_ok (diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PRIVATE,
          NULL, allow1), &m);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless (m.owner == NULL);
  path_is (m.path, NULL);
  diode_msg_clear (&m);

  fail_unless (diode_msg_encode_publish_relay ("cam", 0, NULL, NULL, "0x1",
          NULL) == NULL);
}

GST_END_TEST;

GST_START_TEST (test_subscribe_relay)
{
  DiodeMsg m;

  link_ok (diode_msg_encode_subscribe_relay ("cam", 7, 900, OWNER_UP,
          path1), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE);
  fail_unless (m.start_seq == 7);
  fail_unless_equals_int (m.wait_ms, 900);
  fail_unless_equals_string (m.publisher, OWNER);
  path_is (m.path, path1);
  diode_msg_clear (&m);
  /* without a pin, the path still follows (publisher length 0) */
  link_ok (diode_msg_encode_subscribe_relay ("cam", 0, 0, NULL, path2), &m);
  fail_unless (m.publisher == NULL);
  path_is (m.path, path2);
  diode_msg_clear (&m);
  /* a version-1 SUBSCRIBE: empty path */
  link_ok (diode_msg_encode_subscribe ("cam", 0, 0), &m);
  path_is (m.path, NULL);
  diode_msg_clear (&m);
}

GST_END_TEST;

GST_START_TEST (test_subscribe_ok_relay)
{
  DiodeMsg m;

  link_ok (diode_msg_encode_subscribe_ok_relay ("cam", 12, OWNER,
          DIODE_ACCESS_PUBLIC, "", NULL, path2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_SUBSCRIBE_OK);
  fail_unless (m.seq == 12);
  fail_unless_equals_string (m.publisher, OWNER);
  fail_unless (m.has_policy);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PUBLIC);
  path_is (m.allow, NULL);
  path_is (m.path, path2);
  diode_msg_clear (&m);

  /* an upstream that predates the policy fields: fail closed */
  link_ok (diode_msg_encode_subscribe_ok_from ("cam", 3, OWNER), &m);
  fail_unless (!m.has_policy);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_string (m.fleet, "");
  path_is (m.allow, NULL);
  path_is (m.path, NULL);
  diode_msg_clear (&m);
  link_ok (diode_msg_encode_subscribe_ok ("cam", 3), &m);
  fail_unless (!m.has_policy);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  diode_msg_clear (&m);
}

GST_END_TEST;

/* A full allowlist travels in SUBSCRIBE_OK to a relay: its limit there is
 * ANNOUNCE's, 1 024 elsewhere. */
GST_START_TEST (test_large_policy_limits)
{
  gchar **allow = long_path (DIODE_MAX_ALLOW);
  gchar **p32 = long_path (32);
  gchar *name = g_strnfill (DIODE_MAX_STREAM_NAME, 'n');
  gchar *fleet = g_strnfill (DIODE_MAX_STREAM_NAME, 'f');
  GBytes *f;
  DiodeMsg m;
  gsize size;

  f = diode_msg_encode_subscribe_ok_relay (name, 1, OWNER,
      DIODE_ACCESS_PRIVATE, fleet, (const gchar * const *) allow,
      (const gchar * const *) p32);
  size = g_bytes_get_size (f) - DIODE_FRAME_HEADER_SIZE;
  fail_unless (size <= DIODE_MAX_ANNOUNCE_PAYLOAD, "%zu", size);
  fail_unless (diode_msg_check_header_v (g_bytes_get_data (f, NULL), 2,
          DIODE_ROLE_RELAY, NULL, NULL));
  fail_if (diode_msg_check_header (g_bytes_get_data (f, NULL), NULL, NULL));
  fail_if (diode_msg_check_header_v (g_bytes_get_data (f, NULL), 2,
          DIODE_ROLE_VIEWER, NULL, NULL));
  link_ok (f, &m);
  fail_unless_equals_int (g_strv_length (m.allow), DIODE_MAX_ALLOW);
  diode_msg_clear (&m);

  f = diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, name, OWNER,
      DIODE_ACCESS_PRIVATE, fleet, (const gchar * const *) allow,
      (const gchar * const *) p32);
  fail_unless (g_bytes_get_size (f) - 8 <= DIODE_MAX_ANNOUNCE_PAYLOAD);
  link_ok (f, &m);
  diode_msg_clear (&m);
  f = diode_msg_encode_publish_relay (name, DIODE_ACCESS_PRIVATE, fleet,
      (const gchar * const *) allow, OWNER, (const gchar * const *) p32);
  fail_unless (g_bytes_get_size (f) - 8 <= DIODE_MAX_POLICY_PAYLOAD);
  link_ok (f, &m);
  diode_msg_clear (&m);
  /* the largest PULL and SUBSCRIBE fit the small limit */
  f = diode_msg_encode_pull (name, 1, (const gchar * const *) p32);
  fail_unless (g_bytes_get_size (f) - 8 <= DIODE_MAX_SMALL_PAYLOAD);
  g_bytes_unref (f);
  f = diode_msg_encode_subscribe_relay (name, 1, 1, OWNER,
      (const gchar * const *) p32);
  fail_unless (g_bytes_get_size (f) - 8 <= DIODE_MAX_SMALL_PAYLOAD);
  g_bytes_unref (f);

  g_strfreev (allow);
  g_strfreev (p32);
  g_free (name);
  g_free (fleet);
}

GST_END_TEST;

/* None of it exists outside the relay-link dialect: the new types are
 * refused from the header, appended bytes are ignored as in version 1. */
GST_START_TEST (test_other_dialects)
{
  static const struct
  {
    guint16 version;
    DiodeRole role;
  } others[] = {
    {1, DIODE_ROLE_RELAY}, {0, DIODE_ROLE_RELAY}, {2, DIODE_ROLE_VIEWER},
    {2, DIODE_ROLE_PUBLISHER}, {3, DIODE_ROLE_VIEWER}, {1, 0},
  };
  guint i;

  fail_unless (diode_msg_is_link_dialect (2, DIODE_ROLE_RELAY));
  fail_unless (diode_msg_is_link_dialect (3, DIODE_ROLE_RELAY));
  for (i = 0; i < G_N_ELEMENTS (others); i++) {
    DiodeMsg m = { 0, };
    gchar *text;
    GBytes *f;

    fail_if (diode_msg_is_link_dialect (others[i].version, others[i].role));
    fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_PULL,
            others[i].version, others[i].role), 0);
    fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_SUBSCRIBE_OK,
            others[i].version, others[i].role), DIODE_MAX_SMALL_PAYLOAD);
    text = link_fails (diode_msg_encode_link (), others[i].version,
        others[i].role, DIODE_ERR_PROTOCOL);
    fail_unless (strstr (text, "only on relay links") != NULL, "%s", text);
    g_free (text);
    g_free (link_fails (diode_msg_encode_pull ("c", 0, NULL),
            others[i].version, others[i].role, DIODE_ERR_PROTOCOL));

    /* at version 3 appended bytes are the v3 block (test-msg-store.c) */
    if (others[i].version >= DIODE_PROTOCOL_VERSION_STORE)
      continue;
    /* a version-1 SUBSCRIBE with trailing bytes: ignored */
    f = diode_msg_encode_subscribe_relay ("cam", 4, 5, OWNER, path2);
    fail_unless (diode_msg_parse_v (f, others[i].version, others[i].role,
            &m, NULL));
    fail_unless_equals_string (m.publisher, OWNER);
    fail_unless (m.path == NULL);
    diode_msg_clear (&m);
    g_bytes_unref (f);
    f = diode_msg_encode_subscribe_ok_relay ("cam", 4, OWNER,
        DIODE_ACCESS_PUBLIC, NULL, NULL, path2);
    fail_unless (diode_msg_parse_v (f, others[i].version, others[i].role,
            &m, NULL));
    fail_unless (!m.has_policy && m.allow == NULL && m.path == NULL);
    diode_msg_clear (&m);
    g_bytes_unref (f);
    f = diode_msg_encode_publish_relay ("cam", DIODE_ACCESS_PUBLIC, NULL,
        NULL, OWNER, path2);
    fail_unless (diode_msg_parse_v (f, others[i].version, others[i].role,
            &m, NULL));
    fail_unless (m.owner == NULL && m.path == NULL);
    diode_msg_clear (&m);
    g_bytes_unref (f);
  }
  /* diode_msg_parse() is the version-1 reader */
  {
    DiodeMsg m = { 0, };
    GBytes *f = diode_msg_encode_link ();

    fail_if (diode_msg_parse (f, &m, NULL));
    g_bytes_unref (f);
  }
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_ANNOUNCE),
      "ANNOUNCE");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_LOOP), "LOOP");
  fail_if (diode_error_code_is_fatal (DIODE_ERR_LOOP));
}

GST_END_TEST;

GST_START_TEST (test_path_helpers)
{
  gchar **p, **q;
  gchar **p32 = long_path (32);

  fail_unless (diode_msg_path_contains (path2, A2));
  fail_unless (diode_msg_path_contains (path2,
          "0X2222222222222222222222222222222222222222"));
  fail_if (diode_msg_path_contains (path2, A3));
  fail_if (diode_msg_path_contains (NULL, A3));
  fail_unless_equals_int (diode_msg_path_length (NULL), 0);
  p = diode_msg_path_append (NULL, OWNER_UP);
  path_is (p, (const gchar *[]) {
      OWNER, NULL});
  q = diode_msg_path_append ((const gchar * const *) p, A1);
  path_is (q, (const gchar *[]) {
      OWNER, A1, NULL});
  fail_unless (diode_msg_path_append ((const gchar * const *) p, "x") ==
      NULL);
  fail_unless (diode_msg_path_append ((const gchar * const *) p32, A1) ==
      NULL);
  g_strfreev (p);
  g_strfreev (q);
  g_strfreev (p32);
}

GST_END_TEST;

static Suite *
msg_link_suite (void)
{
  Suite *s = suite_create ("msg-link");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_link_and_link_ok);
  tcase_add_test (tc, test_documented_examples);
  tcase_add_test (tc, test_announce);
  tcase_add_test (tc, test_announce_refused);
  tcase_add_test (tc, test_pull);
  tcase_add_test (tc, test_path_limits);
  tcase_add_test (tc, test_publish_relay);
  tcase_add_test (tc, test_subscribe_relay);
  tcase_add_test (tc, test_subscribe_ok_relay);
  tcase_add_test (tc, test_large_policy_limits);
  tcase_add_test (tc, test_other_dialects);
  tcase_add_test (tc, test_path_helpers);
  return s;
}

GST_CHECK_MAIN (msg_link);
