/* gst-diode — unit tests: the codec of recordings (protocol version 3)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * RANGE, RANGE_OK, FETCH, CHUNK, FETCH_END, STORED and the v3 blocks of
 * PUBLISH, PUBLISH_OK, SUBSCRIBE and SUBSCRIBE_OK (docs/protocol.md,
 * section 15): round trips on every kind of connection, the byte examples
 * of docs/protocol.md (read from the file itself, so the document cannot
 * drift from the code), every refusal the section lists (200/202), that
 * none of it exists below version 3, and the chunk CRC.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "msgcheck.h"
#include "docexample.h"

#define A1 "0x1111111111111111111111111111111111111111"
#define A2 "0x2222222222222222222222222222222222222222"
#define OWNER "0x00112233445566778899aabbccddeeff01234567"

static const gchar *const path2[] = { A1, A2, NULL };
static const gchar *const allow1[] = { A2, NULL };

/* @frame with @extra bytes appended to its payload; consumes @frame */
static GBytes *
append (GBytes * frame, const void *extra, gsize len)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);
  GBytes *out = msgcheck_frame (d[0], NULL, 0);
  GByteArray *a = g_byte_array_new ();

  g_bytes_unref (out);
  g_byte_array_append (a, d + DIODE_FRAME_HEADER_SIZE,
      size - DIODE_FRAME_HEADER_SIZE);
  g_byte_array_append (a, extra, len);
  out = msgcheck_frame (d[0], a->data, a->len);
  g_byte_array_unref (a);
  g_bytes_unref (frame);
  return out;
}

/* Parses @frame (consumed) as a connection at @version with @role. */
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

static void
v3_ok (GBytes * frame, DiodeMsg * m)
{
  parse_ok (frame, 3, DIODE_ROLE_VIEWER, m);
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
  fail_unless (m.stream == NULL && m.frame == NULL && m.spans == NULL);
  text = g_strdup (err->message);
  GST_INFO ("%s", text);
  g_error_free (err);
  g_bytes_unref (frame);
  return text;
}

static void
v3_fails_with (GBytes * frame, guint code, const gchar * needle)
{
  gchar *text = parse_fails (frame, 3, DIODE_ROLE_VIEWER, code);

  fail_unless (strstr (text, needle) != NULL, "'%s' does not say '%s'",
      text, needle);
  g_free (text);
}

static gboolean
same_bytes (GBytes * a, GBytes * b)
{
  gboolean same = g_bytes_equal (a, b);

  g_bytes_unref (a);
  g_bytes_unref (b);
  return same;
}

/* ------------------------------------------------------------------------ */
/* Appended v3 blocks                                                       */

GST_START_TEST (test_publish_block)
{
  DiodePublishArgs a = { "cam", DIODE_ACCESS_PRIVATE, "fl", allow1, OWNER,
    path2, DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD
  };
  DiodeMsg m;

  /* below version 3: the frames of the earlier encoders, byte for byte */
  fail_unless (same_bytes (diode_msg_encode_publish_args (&a, 1,
              DIODE_ROLE_PUBLISHER), diode_msg_encode_publish_policy ("cam",
              DIODE_ACCESS_PRIVATE, "fl", allow1)));
  fail_unless (same_bytes (diode_msg_encode_publish_args (&a, 2,
              DIODE_ROLE_PUBLISHER), diode_msg_encode_publish_policy ("cam",
              DIODE_ACCESS_PRIVATE, "fl", allow1)));
  fail_unless (same_bytes (diode_msg_encode_publish_args (&a, 2,
              DIODE_ROLE_RELAY), diode_msg_encode_publish_relay ("cam",
              DIODE_ACCESS_PRIVATE, "fl", allow1, OWNER, path2)));

  /* version 3, a publisher: policy then pubflags */
  v3_ok (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_PUBLISHER), &m);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_string (m.allow[0], A2);
  fail_unless_equals_int (m.pubflags, 3);
  fail_unless (m.owner == NULL && m.path == NULL);
  diode_msg_clear (&m);

  /* version 3, a relay's push: policy, owner, path, then pubflags */
  parse_ok (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_RELAY), 3,
      DIODE_ROLE_RELAY, &m);
  fail_unless_equals_string (m.owner, OWNER);
  fail_unless_equals_int (g_strv_length (m.path), 2);
  fail_unless_equals_int (m.pubflags, 3);
  diode_msg_clear (&m);

  /* a v3 frame read at version 2 or 1: the block is ignored */
  parse_ok (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_PUBLISHER), 2,
      DIODE_ROLE_PUBLISHER, &m);
  fail_unless_equals_int (m.pubflags, 0);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_RELAY), 2,
      DIODE_ROLE_RELAY, &m);
  fail_unless_equals_int (m.pubflags, 0);
  fail_unless_equals_string (m.owner, OWNER);
  diode_msg_clear (&m);

  /* absent at version 3: 0, and a public PUBLISH with only its name too */
  v3_ok (diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PUBLIC, NULL,
          NULL), &m);
  fail_unless_equals_int (m.pubflags, 0);
  diode_msg_clear (&m);
  v3_ok (msgcheck_frame (DIODE_MSG_PUBLISH, "\0\3cam", 5), &m);
  fail_unless_equals_int (m.pubflags, 0);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PUBLIC);
  diode_msg_clear (&m);

  /* unknown bits are ignored by receivers */
  a.pubflags = 0xfffffffd;
  fail_unless (diode_msg_encode_publish_args (&a, 3, 0) != NULL);
  a.pubflags = DIODE_PUBLISH_RECORD | 0x80000000;
  v3_ok (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_PUBLISHER), &m);
  fail_unless_equals_int (m.pubflags, a.pubflags);
  diode_msg_clear (&m);

  /* UPLOAD without RECORD: the encoder refuses, the parser says 200 */
  a.pubflags = DIODE_PUBLISH_UPLOAD;
  fail_unless (diode_msg_encode_publish_args (&a, 3, 0) == NULL);
  /* ... but below version 3 the field is not written: no refusal */
  fail_unless (same_bytes (diode_msg_encode_publish_args (&a, 1, 0),
          diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PRIVATE, "fl",
              allow1)));
  v3_fails_with (append (diode_msg_encode_publish ("cam"), "\0\0\0\2", 4),
      DIODE_ERR_PROTOCOL, "UPLOAD without RECORD");
  /* truncated pubflags */
  v3_fails_with (append (diode_msg_encode_publish ("cam"), "\0\0\1", 3),
      DIODE_ERR_PROTOCOL, "pubflags");

  /* invalid fields of earlier versions still refuse */
  a.pubflags = 0;
  a.stream = "a/b";
  fail_unless (diode_msg_encode_publish_args (&a, 3, 0) == NULL);
  a.stream = "cam";
  a.owner = "0x12";
  fail_unless (diode_msg_encode_publish_args (&a, 3, DIODE_ROLE_RELAY) ==
      NULL);
  /* the owner is not written outside relay links: not checked there */
  fail_unless (diode_msg_encode_publish_args (&a, 3, 0) != NULL);
}

GST_END_TEST;

GST_START_TEST (test_publish_ok_block)
{
  DiodeMsg m;

  fail_unless (same_bytes (diode_msg_encode_publish_ok_v ("cam", 7,
              DIODE_STORE_RECORDING, 2), diode_msg_encode_publish_ok ("cam",
              7)));
  v3_ok (diode_msg_encode_publish_ok_v ("cam", 7, DIODE_STORE_UNAVAILABLE, 3),
      &m);
  fail_unless_equals_int (m.seq, 7);
  fail_unless_equals_int (m.store_state, DIODE_STORE_UNAVAILABLE);
  diode_msg_clear (&m);
  /* absent: NONE */
  v3_ok (diode_msg_encode_publish_ok ("cam", 7), &m);
  fail_unless_equals_int (m.store_state, DIODE_STORE_NONE);
  diode_msg_clear (&m);
  /* a v3 PUBLISH_OK at version 1: ignored */
  parse_ok (diode_msg_encode_publish_ok_v ("cam", 7, DIODE_STORE_RECORDING,
          3), 1, DIODE_ROLE_PUBLISHER, &m);
  fail_unless_equals_int (m.store_state, DIODE_STORE_NONE);
  diode_msg_clear (&m);

  fail_unless (diode_msg_encode_publish_ok_v ("cam", 7, 3, 3) == NULL);
  v3_fails_with (append (diode_msg_encode_publish_ok ("cam", 7), "\3", 1),
      DIODE_ERR_PROTOCOL, "store state 3");
}

GST_END_TEST;

GST_START_TEST (test_subscribe_block)
{
  DiodeSubscribeArgs a = { "cam", 0, 500, NULL, NULL, DIODE_START_BACK,
    G_GUINT64_CONSTANT (30000000000), DIODE_SNAP_NEAREST
  };
  DiodeMsg m;

  /* below version 3: the earlier frames */
  fail_unless (same_bytes (diode_msg_encode_subscribe_args (&a, 1,
              DIODE_ROLE_VIEWER), diode_msg_encode_subscribe ("cam", 0,
              500)));
  a.pin = OWNER;
  fail_unless (same_bytes (diode_msg_encode_subscribe_args (&a, 2,
              DIODE_ROLE_VIEWER), diode_msg_encode_subscribe_pinned ("cam",
              0, 500, OWNER)));
  a.path = path2;
  fail_unless (same_bytes (diode_msg_encode_subscribe_args (&a, 2,
              DIODE_ROLE_RELAY), diode_msg_encode_subscribe_relay ("cam", 0,
              500, OWNER, path2)));

  /* version 3, a viewer, with a pin */
  v3_ok (diode_msg_encode_subscribe_args (&a, 3, DIODE_ROLE_VIEWER), &m);
  fail_unless_equals_string (m.publisher, OWNER);
  fail_unless_equals_int (m.wait_ms, 500);
  fail_unless_equals_int (m.start_mode, DIODE_START_BACK);
  fail_unless (m.start_value == G_GUINT64_CONSTANT (30000000000));
  fail_unless_equals_int (m.snap, DIODE_SNAP_NEAREST);
  diode_msg_clear (&m);
  /* without a pin: publisher length 0 keeps the block's place */
  a.pin = NULL;
  v3_ok (diode_msg_encode_subscribe_args (&a, 3, DIODE_ROLE_VIEWER), &m);
  fail_unless (m.publisher == NULL);
  fail_unless_equals_int (m.start_mode, DIODE_START_BACK);
  diode_msg_clear (&m);
  /* version 3 on a relay link: publisher, path, block */
  parse_ok (diode_msg_encode_subscribe_args (&a, 3, DIODE_ROLE_RELAY), 3,
      DIODE_ROLE_RELAY, &m);
  fail_unless_equals_int (g_strv_length (m.path), 2);
  fail_unless_equals_string (m.path[1], A2);
  fail_unless_equals_int (m.start_mode, DIODE_START_BACK);
  fail_unless_equals_int (m.snap, DIODE_SNAP_NEAREST);
  diode_msg_clear (&m);
  /* read at version 2: ignored */
  parse_ok (diode_msg_encode_subscribe_args (&a, 3, DIODE_ROLE_RELAY), 2,
      DIODE_ROLE_RELAY, &m);
  fail_unless_equals_int (m.start_mode, 0);
  fail_unless_equals_int (g_strv_length (m.path), 2);
  diode_msg_clear (&m);

  /* absent: LIVE, BEFORE */
  v3_ok (diode_msg_encode_subscribe ("cam", 9, 0), &m);
  fail_unless_equals_int (m.start_mode, DIODE_START_LIVE);
  fail_unless_equals_int (m.snap, DIODE_SNAP_BEFORE);
  fail_unless_equals_int (m.start_seq, 9);
  diode_msg_clear (&m);

  /* refusals: encoder NULL, parser 200 */
  a.start_mode = 5;
  fail_unless (diode_msg_encode_subscribe_args (&a, 3, 0) == NULL);
  a.start_mode = DIODE_START_TIME;
  a.snap = 3;
  fail_unless (diode_msg_encode_subscribe_args (&a, 3, 0) == NULL);
  a.snap = DIODE_SNAP_AFTER;
  a.start_seq = 5;
  fail_unless (diode_msg_encode_subscribe_args (&a, 3, 0) == NULL);
  /* LIVE with a resume point is version 1's meaning */
  a.start_mode = DIODE_START_LIVE;
  fail_unless (diode_msg_encode_subscribe_args (&a, 3, 0) != NULL);
  {
    static const guint8 mode5[] = { 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    static const guint8 snap3[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3 };
    static const guint8 earliest[] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

    v3_fails_with (append (diode_msg_encode_subscribe ("cam", 0, 0), mode5,
            sizeof (mode5)), DIODE_ERR_PROTOCOL, "start_mode 5");
    v3_fails_with (append (diode_msg_encode_subscribe ("cam", 0, 0), snap3,
            sizeof (snap3)), DIODE_ERR_PROTOCOL, "snap 3");
    v3_fails_with (append (diode_msg_encode_subscribe ("cam", 4, 0),
            earliest, sizeof (earliest)), DIODE_ERR_PROTOCOL, "start_seq 4");
    v3_ok (append (diode_msg_encode_subscribe ("cam", 0, 0), earliest,
            sizeof (earliest)), &m);
    fail_unless_equals_int (m.start_mode, DIODE_START_EARLIEST);
    diode_msg_clear (&m);
    /* a block cut short */
    v3_fails_with (append (diode_msg_encode_subscribe ("cam", 0, 0), earliest,
            5), DIODE_ERR_PROTOCOL, "start_value");
  }
}

GST_END_TEST;

GST_START_TEST (test_subscribe_ok_block)
{
  DiodeSubscribeOkArgs a = { "cam", 40, OWNER, DIODE_ACCESS_PROTECTED, "fl",
    NULL, path2, DIODE_STREAM_RECORDING, G_GUINT64_CONSTANT (2000000000)
  };
  DiodeMsg m;

  fail_unless (same_bytes (diode_msg_encode_subscribe_ok_args (&a, 1,
              DIODE_ROLE_VIEWER), diode_msg_encode_subscribe_ok_from ("cam",
              40, OWNER)));
  fail_unless (same_bytes (diode_msg_encode_subscribe_ok_args (&a, 2,
              DIODE_ROLE_RELAY), diode_msg_encode_subscribe_ok_relay ("cam",
              40, OWNER, DIODE_ACCESS_PROTECTED, "fl", NULL, path2)));

  v3_ok (diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_VIEWER), &m);
  fail_unless_equals_string (m.publisher, OWNER);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  fail_unless (m.start_time == G_GUINT64_CONSTANT (2000000000));
  diode_msg_clear (&m);
  a.publisher = NULL;
  v3_ok (diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_VIEWER), &m);
  fail_unless (m.publisher == NULL);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_RELAY), 3,
      DIODE_ROLE_RELAY, &m);
  fail_unless (m.has_policy);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PROTECTED);
  fail_unless_equals_string (m.fleet, "fl");
  fail_unless_equals_int (g_strv_length (m.path), 2);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  fail_unless (m.start_time == G_GUINT64_CONSTANT (2000000000));
  diode_msg_clear (&m);

  /* absent: LIVE, start_time unknown (at every version) */
  v3_ok (diode_msg_encode_subscribe_ok ("cam", 40), &m);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE);
  fail_unless (m.start_time == DIODE_TIME_NONE);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_subscribe_ok ("cam", 40), 1, 0, &m);
  fail_unless (m.start_time == DIODE_TIME_NONE);
  diode_msg_clear (&m);

  /* live_seq: appended at version 4 (docs/protocol.md section 18), 0
   * (unknown) when absent, and ignored bytes after it */
  a.live_seq = 77;
  parse_ok (diode_msg_encode_subscribe_ok_args (&a, 4, DIODE_ROLE_VIEWER), 4,
      DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_uint64 (m.live_seq, 77);
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_RECORDING);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_subscribe_ok_args (&a, 4, DIODE_ROLE_RELAY), 4,
      DIODE_ROLE_RELAY, &m);
  fail_unless_equals_uint64 (m.live_seq, 77);
  fail_unless_equals_int (g_strv_length (m.path), 2);
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_VIEWER), 4,
      DIODE_ROLE_VIEWER, &m);
  fail_unless_equals_uint64 (m.live_seq, 0);
  diode_msg_clear (&m);
  {
    static const guint8 tail[] = { 0, 0, 0, 0, 0, 0, 0, 9, 0xee, 0xee };
    static const guint8 short_tail[] = { 0, 0, 0, 9 };

    parse_ok (append (diode_msg_encode_subscribe_ok_args (&a, 3,
                DIODE_ROLE_VIEWER), tail, sizeof (tail)), 4, DIODE_ROLE_VIEWER,
        &m);
    fail_unless_equals_uint64 (m.live_seq, 9);
    diode_msg_clear (&m);
    parse_ok (append (diode_msg_encode_subscribe_ok_args (&a, 3,
                DIODE_ROLE_VIEWER), short_tail, sizeof (short_tail)), 4,
        DIODE_ROLE_VIEWER, &m);
    fail_unless_equals_uint64 (m.live_seq, 0);
    diode_msg_clear (&m);
  }
  a.live_seq = 0;

  a.stream_state = 3;
  fail_unless (diode_msg_encode_subscribe_ok_args (&a, 3, 0) == NULL);
  {
    static const guint8 state3[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0 };

    v3_fails_with (append (diode_msg_encode_subscribe_ok ("cam", 1), state3,
            sizeof (state3)), DIODE_ERR_PROTOCOL, "stream_state 3");
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* New frames                                                               */

static DiodeSpan
span (guint64 first, guint64 last)
{
  DiodeSpan sp = { first, last, first * 1000, (last + 1) * 1000,
    1700000000000000 + first, 1700000000000000 + last
  };
  return sp;
}

GST_START_TEST (test_range)
{
  DiodeMsg m;

  v3_ok (diode_msg_encode_range ("cam", DIODE_RANGE_LOCAL), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_int (m.range_flags, DIODE_RANGE_LOCAL);
  diode_msg_clear (&m);
  /* later versions may append */
  v3_ok (append (diode_msg_encode_range ("cam", 0), "xyz", 3), &m);
  fail_unless_equals_int (m.range_flags, 0);
  diode_msg_clear (&m);
  fail_unless (diode_msg_encode_range ("", 0) == NULL);
  v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE, "\0\3cam", 5),
      DIODE_ERR_PROTOCOL, "flags");
  {
    GBytes *f = msgcheck_frame (DIODE_MSG_RANGE, "\0\3a/b\0", 6);

    g_free (parse_fails (f, 3, DIODE_ROLE_VIEWER, DIODE_ERR_BAD_NAME));
  }
}

GST_END_TEST;

GST_START_TEST (test_range_ok)
{
  DiodeSpan spans[DIODE_MAX_SPANS + 1];
  gchar **allow;
  DiodeMsg m;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (spans); i++)
    spans[i] = span (10 * i + 1, 10 * i + 5);

  v3_ok (diode_msg_encode_range_ok ("Cam", DIODE_STREAM_LIVE_RECORDED, OWNER,
          DIODE_ACCESS_PRIVATE, "fl", allow1, spans, 3), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_RANGE_OK);
  fail_unless_equals_string (m.stream, "Cam");
  fail_unless_equals_int (m.stream_state, DIODE_STREAM_LIVE_RECORDED);
  fail_unless_equals_string (m.owner, OWNER);
  fail_unless_equals_int (m.access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_string (m.fleet, "fl");
  fail_unless_equals_string (m.allow[0], A2);
  fail_unless_equals_int (m.n_spans, 3);
  for (i = 0; i < 3; i++)
    fail_unless (memcmp (&m.spans[i], &spans[i], sizeof (DiodeSpan)) == 0);
  diode_msg_clear (&m);

  /* nothing held: no owner, no spans */
  v3_ok (diode_msg_encode_range_ok ("cam", DIODE_STREAM_LIVE, NULL,
          DIODE_ACCESS_PUBLIC, NULL, NULL, NULL, 0), &m);
  fail_unless (m.owner == NULL);
  fail_unless_equals_int (m.n_spans, 0);
  diode_msg_clear (&m);

  /* the most it can carry: 256 spans and a full allowlist fit its limit */
  allow = g_new0 (gchar *, DIODE_MAX_ALLOW + 1);
  for (i = 0; i < DIODE_MAX_ALLOW; i++)
    allow[i] = g_strdup_printf ("0x%040x", i);
  {
    gchar *name = g_strnfill (255, 'n');
    GBytes *f = diode_msg_encode_range_ok (name,
        DIODE_STREAM_RECORDING, OWNER, DIODE_ACCESS_PRIVATE,
        "a-fleet-name-that-is-long", (const gchar * const *) allow, spans,
        DIODE_MAX_SPANS);

    fail_unless (f != NULL);
    fail_unless (g_bytes_get_size (f) - 8 <= DIODE_MAX_RANGE_OK_PAYLOAD);
    GST_INFO ("largest RANGE_OK: %" G_GSIZE_FORMAT " bytes",
        g_bytes_get_size (f) - 8);
    v3_ok (f, &m);
    fail_unless_equals_int (m.n_spans, DIODE_MAX_SPANS);
    fail_unless_equals_int (g_strv_length (m.allow), DIODE_MAX_ALLOW);
    diode_msg_clear (&m);
    g_free (name);
  }
  g_strfreev (allow);

  /* refusals */
  fail_unless (diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL,
          spans, DIODE_MAX_SPANS + 1) == NULL);
  fail_unless (diode_msg_encode_range_ok ("cam", 3, NULL, 0, NULL, NULL,
          spans, 1) == NULL);
  fail_unless (diode_msg_encode_range_ok ("cam", 0, "0x1", 0, NULL, NULL,
          spans, 1) == NULL);
  fail_unless (diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL,
          NULL, 1) == NULL);
  {
    DiodeSpan bad[2] = { span (5, 9), span (9, 12) };

    fail_unless (diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL,
            bad, 2) == NULL);
    bad[1] = span (3, 4);
    fail_unless (diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL,
            bad, 2) == NULL);
    bad[0].first_seq = 10;
    fail_unless (diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL,
            bad, 1) == NULL);
  }
  {
    /* hand-made: "cam", state 0, owner none, public, no allow, then a
     * span count */
    static const guint8 head[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0 };
    GByteArray *a = g_byte_array_new ();
    guint8 cnt[2] = { 1, 1 };   /* 257 */
    guint8 zero[49] = { 0, };

    g_byte_array_append (a, head, sizeof (head));
    g_byte_array_append (a, cnt, 2);
    v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE_OK, a->data, a->len),
        DIODE_ERR_TOO_LARGE, "257 spans");
    /* one span announced, 47 bytes of it present */
    a->data[sizeof (head)] = 0;
    a->data[sizeof (head) + 1] = 1;
    g_byte_array_append (a, zero, 47);
    v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE_OK, a->data, a->len),
        DIODE_ERR_PROTOCOL, "truncated");
    /* two spans, the second overlapping the first (both 0..0) */
    g_byte_array_append (a, zero, 1 + 48);
    a->data[sizeof (head) + 1] = 2;
    v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE_OK, a->data, a->len),
        DIODE_ERR_PROTOCOL, "overlap");
    /* stream_state 3 */
    a->data[5] = 3;
    v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE_OK, a->data, a->len),
        DIODE_ERR_PROTOCOL, "stream_state 3");
    g_byte_array_unref (a);
  }
  /* ends before the owner and policy: they are not optional here */
  v3_fails_with (msgcheck_frame (DIODE_MSG_RANGE_OK, "\0\3cam\0", 6),
      DIODE_ERR_PROTOCOL, "truncated");
}

GST_END_TEST;

GST_START_TEST (test_fetch)
{
  DiodeMsg m;

  v3_ok (diode_msg_encode_fetch ("cam", 100, 163, DIODE_RANGE_LOCAL), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_FETCH);
  fail_unless_equals_string (m.stream, "cam");
  fail_unless_equals_int (m.from_seq, 100);
  fail_unless_equals_int (m.to_seq, 163);
  fail_unless_equals_int (m.range_flags, DIODE_RANGE_LOCAL);
  diode_msg_clear (&m);
  v3_ok (diode_msg_encode_fetch ("cam", 7, 7, 0), &m);
  fail_unless (m.from_seq == 7 && m.to_seq == 7);
  diode_msg_clear (&m);
  v3_ok (diode_msg_encode_fetch ("cam", 0, G_MAXUINT64, 0), &m);
  fail_unless (m.to_seq == G_MAXUINT64);
  diode_msg_clear (&m);

  fail_unless (diode_msg_encode_fetch ("cam", 8, 7, 0) == NULL);
  {
    static const guint8 p[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0, 8,
      0, 0, 0, 0, 0, 0, 0, 7, 0
    };
    v3_fails_with (msgcheck_frame (DIODE_MSG_FETCH, p, sizeof (p)),
        DIODE_ERR_PROTOCOL, "from_seq 8 after to_seq 7");
    v3_fails_with (msgcheck_frame (DIODE_MSG_FETCH, p, sizeof (p) - 1),
        DIODE_ERR_PROTOCOL, "flags");
  }
}

GST_END_TEST;

static DiodeChunkHeader
chunk_header (void)
{
  DiodeChunkHeader h = { 100, 159, 2000000000, 4000000000,
    G_GUINT64_CONSTANT (1767225600000000), DIODE_CHUNK_KEYFRAME, 2, 63,
    123456, 0xcbf43926
  };
  return h;
}

static GBytes *
chunk_frame (const DiodeChunkHeader * h)
{
  guint8 p[60];
  guint64 q[5] = { h->first_seq, h->last_seq, h->time, h->end_time,
    h->wall_us
  };
  guint32 d[5] = { h->flags, h->n_prelude, h->n_frames, h->bytes, h->crc };
  guint i;

  /* written by hand here, not by the encoder under test */
  for (i = 0; i < 5; i++) {
    guint64 be = GUINT64_TO_BE (q[i]);
    memcpy (p + 8 * i, &be, 8);
  }
  for (i = 0; i < 5; i++) {
    guint32 be = GUINT32_TO_BE (d[i]);
    memcpy (p + 40 + 4 * i, &be, 4);
  }
  return msgcheck_frame (DIODE_MSG_CHUNK, p, sizeof (p));
}

/* field by field: the struct has tail padding */
static void
chunk_equal (const DiodeChunkHeader * a, const DiodeChunkHeader * b)
{
  fail_unless (a->first_seq == b->first_seq && a->last_seq == b->last_seq
      && a->time == b->time && a->end_time == b->end_time
      && a->wall_us == b->wall_us && a->flags == b->flags
      && a->n_prelude == b->n_prelude && a->n_frames == b->n_frames
      && a->bytes == b->bytes && a->crc == b->crc, "chunk headers differ");
}

GST_START_TEST (test_chunk)
{
  DiodeChunkHeader h = chunk_header (), b;
  DiodeMsg m;
  GBytes *f;

  f = diode_msg_encode_chunk (&h);
  fail_unless_equals_int (g_bytes_get_size (f), 8 + DIODE_CHUNK_HEADER_SIZE);
  {
    GBytes *hand = chunk_frame (&h);

    fail_unless (g_bytes_equal (f, hand));
    g_bytes_unref (hand);
  }
  v3_ok (f, &m);
  fail_unless_equals_int (m.type, DIODE_MSG_CHUNK);
  chunk_equal (&m.chunk, &h);
  diode_msg_clear (&m);

  /* the limits, at their edges */
  b = h;
  b.n_frames = DIODE_MAX_CHUNK_FRAMES;
  b.n_prelude = 0;
  b.bytes = DIODE_MAX_CHUNK_BYTES;
  b.first_seq = b.last_seq = 5;
  v3_ok (diode_msg_encode_chunk (&b), &m);
  diode_msg_clear (&m);
  b = h;
  b.n_frames = b.n_prelude = 1;
  b.bytes = 8;
  v3_ok (diode_msg_encode_chunk (&b), &m);
  diode_msg_clear (&m);

#define REFUSED(field, value, code, needle) G_STMT_START { \
    b = h; b.field = value; \
    fail_unless (diode_msg_encode_chunk (&b) == NULL); \
    v3_fails_with (chunk_frame (&b), code, needle); \
  } G_STMT_END
  REFUSED (n_frames, 0, DIODE_ERR_PROTOCOL, "n_frames is 0");
  REFUSED (n_frames, DIODE_MAX_CHUNK_FRAMES + 1, DIODE_ERR_TOO_LARGE,
      "n_frames over");
  REFUSED (n_prelude, 64, DIODE_ERR_PROTOCOL, "n_prelude exceeds");
  REFUSED (bytes, DIODE_MAX_CHUNK_BYTES + 1, DIODE_ERR_TOO_LARGE,
      "bytes over");
  REFUSED (bytes, 63 * 8 - 1, DIODE_ERR_PROTOCOL, "below 8 per frame");
  REFUSED (first_seq, 160, DIODE_ERR_PROTOCOL, "first_seq is after");
#undef REFUSED
  {
    guint8 p[59] = { 0, };

    v3_fails_with (msgcheck_frame (DIODE_MSG_CHUNK, p, sizeof (p)),
        DIODE_ERR_PROTOCOL, "crc32");
  }
}

GST_END_TEST;

GST_START_TEST (test_fetch_end_and_stored)
{
  DiodeMsg m;

  v3_ok (diode_msg_encode_fetch_end (164, DIODE_FETCH_MORE), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_FETCH_END);
  fail_unless_equals_int (m.next_seq, 164);
  fail_unless_equals_int (m.fetch_status, DIODE_FETCH_MORE);
  diode_msg_clear (&m);
  fail_unless (diode_msg_encode_fetch_end (1, 3) == NULL);
  v3_fails_with (msgcheck_frame (DIODE_MSG_FETCH_END,
          "\0\0\0\0\0\0\0\1\3", 9), DIODE_ERR_PROTOCOL, "status 3");

  v3_ok (diode_msg_encode_stored (163, 1048576, TRUE), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_STORED);
  fail_unless_equals_int (m.stored_seq, 163);
  fail_unless_equals_int (m.stored_bytes, 1048576);
  fail_unless (m.final);
  diode_msg_clear (&m);
  v3_ok (diode_msg_encode_stored (0, 0, FALSE), &m);
  fail_if (m.final);
  diode_msg_clear (&m);
  v3_fails_with (msgcheck_frame (DIODE_MSG_STORED,
          "\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\1\2", 17), DIODE_ERR_PROTOCOL,
      "final is 2");
  v3_fails_with (msgcheck_frame (DIODE_MSG_STORED,
          "\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\1", 16), DIODE_ERR_PROTOCOL,
      "final");
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Versions, limits, names, CRC                                             */

GST_START_TEST (test_only_at_version_3)
{
  static const guint types[] = { DIODE_MSG_RANGE, DIODE_MSG_RANGE_OK,
    DIODE_MSG_FETCH, DIODE_MSG_CHUNK, DIODE_MSG_FETCH_END, DIODE_MSG_STORED
  };
  static const struct
  {
    guint16 version;
    DiodeRole role;
  } below[] = {
    {0, 0}, {1, DIODE_ROLE_VIEWER}, {2, DIODE_ROLE_VIEWER},
    {2, DIODE_ROLE_RELAY}, {2, DIODE_ROLE_PUBLISHER}, {1, DIODE_ROLE_RELAY},
  };
  static const DiodeRole roles[] = { DIODE_ROLE_PUBLISHER, DIODE_ROLE_VIEWER,
    DIODE_ROLE_RELAY
  };
  guint i, j;

  for (i = 0; i < G_N_ELEMENTS (types); i++) {
    gsize limit = types[i] == DIODE_MSG_RANGE_OK ?
        DIODE_MAX_RANGE_OK_PAYLOAD : DIODE_MAX_SMALL_PAYLOAD;

    fail_unless_equals_int (diode_msg_max_payload (types[i]), 0);
    for (j = 0; j < G_N_ELEMENTS (below); j++) {
      guint8 h[8] = { types[i], 0, 0, 0, 0, 0, 0, 1 };
      GError *err = NULL;

      fail_unless_equals_int (diode_msg_max_payload_v (types[i],
              below[j].version, below[j].role), 0);
      fail_if (diode_msg_check_header_v (h, below[j].version, below[j].role,
              NULL, &err));
      fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
              DIODE_ERR_PROTOCOL));
      fail_unless (strstr (err->message, "only at protocol version 3") !=
          NULL, "%s", err->message);
      g_error_free (err);
    }
    for (j = 0; j < G_N_ELEMENTS (roles); j++) {
      fail_unless_equals_int (diode_msg_max_payload_v (types[i], 3,
              roles[j]), limit);
      fail_unless_equals_int (diode_msg_max_payload_v (types[i], 4,
              roles[j]), limit);
    }
  }
  /* the limits of the earlier types do not change at version 3 */
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_SUBSCRIBE_OK, 3,
          DIODE_ROLE_VIEWER), DIODE_MAX_SMALL_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_SUBSCRIBE_OK, 3,
          DIODE_ROLE_RELAY), DIODE_MAX_ANNOUNCE_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_PULL, 3,
          DIODE_ROLE_VIEWER), 0);
  {
    guint8 h[8] = { DIODE_MSG_RANGE_OK, 0, 0, 0, 0, 1, 0, 1 };
    GError *err = NULL;

    fail_if (diode_msg_check_header_v (h, 3, DIODE_ROLE_VIEWER, NULL, &err));
    fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
            DIODE_ERR_TOO_LARGE));
    g_error_free (err);
  }
  /* diode_msg_parse() is the version-1 reader */
  {
    DiodeMsg m = { 0, };
    GBytes *f = diode_msg_encode_stored (1, 1, FALSE);

    fail_if (diode_msg_parse (f, &m, NULL));
    g_bytes_unref (f);
  }
}

GST_END_TEST;

GST_START_TEST (test_names_and_codes)
{
  fail_unless_equals_int (DIODE_PROTOCOL_VERSION_MAX, 4);
  fail_unless_equals_int (DIODE_PROTOCOL_VERSION_STORE, 3);
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_RANGE), "RANGE");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_RANGE_OK),
      "RANGE_OK");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_FETCH), "FETCH");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_CHUNK), "CHUNK");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_FETCH_END),
      "FETCH_END");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_STORED),
      "STORED");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_NOT_STORED),
      "NOT_STORED");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_STORE_FAILED),
      "STORE_FAILED");
  /* refusals: the connection stays usable */
  fail_if (diode_error_code_is_fatal (DIODE_ERR_NOT_STORED));
  fail_if (diode_error_code_is_fatal (DIODE_ERR_STORE_FAILED));
  fail_unless_equals_string (diode_stream_state_name (2), "recording");
  fail_unless_equals_string (diode_store_state_name (2), "unavailable");
  fail_unless_equals_string (diode_store_state_name (9), "unknown");
}

GST_END_TEST;

GST_START_TEST (test_crc)
{
  GBytes *frames[3];
  GByteArray *all = g_byte_array_new ();
  guint32 crc = 0;
  guint i;

  /* the CRC-32/ISO-HDLC check value */
  fail_unless_equals_int (diode_chunk_crc_data (0, (const guint8 *)
          "123456789", 9), 0xcbf43926);
  fail_unless_equals_int (diode_chunk_crc_data (0, NULL, 0), 0);

  /* running over frames == over their concatenation */
  frames[0] = diode_msg_encode_caps ("video/x-h264");
  frames[1] = diode_msg_encode_media (100, 0, 0, 1, DIODE_TIME_NONE,
      DIODE_TIME_NONE, DIODE_MEDIA_KEYFRAME, (const guint8 *) "abc", 3);
  frames[2] = diode_msg_encode_eos (100);
  for (i = 0; i < 3; i++) {
    crc = diode_chunk_crc (crc, frames[i]);
    g_byte_array_append (all, g_bytes_get_data (frames[i], NULL),
        g_bytes_get_size (frames[i]));
    g_bytes_unref (frames[i]);
  }
  fail_unless_equals_int (crc, diode_chunk_crc_data (0, all->data,
          all->len));
  /* a flipped bit changes it */
  all->data[20] ^= 1;
  fail_if (crc == diode_chunk_crc_data (0, all->data, all->len));
  g_byte_array_unref (all);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* docs/protocol.md section 15: its byte examples, read from the document   */

GST_START_TEST (test_documented_examples)
{
  gchar *doc = NULL;
  GError *err = NULL;

  if (!g_file_get_contents (DOCS_PROTOCOL_MD, &doc, NULL, &err))
    fail ("%s", err->message);
  {
    DiodePublishArgs a = { "cam", DIODE_ACCESS_PUBLIC, NULL, NULL, NULL,
      NULL, DIODE_PUBLISH_RECORD
    };
    doc_example_frame (doc, "publish-v3", diode_msg_encode_publish_args (&a, 3,
            DIODE_ROLE_PUBLISHER), 3, DIODE_ROLE_VIEWER);
  }
  doc_example_frame (doc, "publish-ok-v3", diode_msg_encode_publish_ok_v ("cam", 1,
          DIODE_STORE_RECORDING, 3), 3, DIODE_ROLE_VIEWER);
  {
    DiodeSubscribeArgs a = { "cam", 0, 0, NULL, NULL, DIODE_START_BACK,
      G_GUINT64_CONSTANT (30000000000), DIODE_SNAP_BEFORE
    };
    doc_example_frame (doc, "subscribe-v3", diode_msg_encode_subscribe_args (&a, 3,
            DIODE_ROLE_VIEWER), 3, DIODE_ROLE_VIEWER);
  }
  {
    DiodeSubscribeOkArgs a = { "cam", 100, NULL, 0, NULL, NULL, NULL,
      DIODE_STREAM_LIVE_RECORDED, G_GUINT64_CONSTANT (2000000000)
    };
    doc_example_frame (doc, "subscribe-ok-v3",
        diode_msg_encode_subscribe_ok_args (&a, 3, DIODE_ROLE_VIEWER), 3, DIODE_ROLE_VIEWER);
    a.live_seq = 145;
    doc_example_frame (doc, "subscribe-ok-v4",
        diode_msg_encode_subscribe_ok_args (&a, 4, DIODE_ROLE_VIEWER), 3, DIODE_ROLE_VIEWER);
  }
  doc_example_frame (doc, "range", diode_msg_encode_range ("cam", 0), 3, DIODE_ROLE_VIEWER);
  {
    DiodeSpan sp = { 100, 163, G_GUINT64_CONSTANT (2000000000),
      G_GUINT64_CONSTANT (6000000000), G_GUINT64_CONSTANT (1767225600000000),
      G_GUINT64_CONSTANT (1767225604000000)
    };
    doc_example_frame (doc, "range-ok", diode_msg_encode_range_ok ("cam",
            DIODE_STREAM_LIVE_RECORDED, NULL, DIODE_ACCESS_PUBLIC, NULL, NULL,
            &sp, 1), 3, DIODE_ROLE_VIEWER);
  }
  doc_example_frame (doc, "fetch", diode_msg_encode_fetch ("cam", 100, 163,
          DIODE_RANGE_LOCAL), 3, DIODE_ROLE_VIEWER);
  {
    DiodeChunkHeader h = { 100, 131, G_GUINT64_CONSTANT (2000000000),
      G_GUINT64_CONSTANT (4000000000), G_GUINT64_CONSTANT (1767225600000000),
      DIODE_CHUNK_KEYFRAME, 1, 33, 0x0001e240, 0x12345678
    };
    doc_example_frame (doc, "chunk", diode_msg_encode_chunk (&h), 3, DIODE_ROLE_VIEWER);
  }
  doc_example_frame (doc, "fetch-end", diode_msg_encode_fetch_end (164,
          DIODE_FETCH_DONE), 3, DIODE_ROLE_VIEWER);
  doc_example_frame (doc, "stored", diode_msg_encode_stored (163, 1048576, TRUE), 3, DIODE_ROLE_VIEWER);
  g_free (doc);
}

GST_END_TEST;

static Suite *
msg_store_suite (void)
{
  Suite *s = suite_create ("msg-store");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_publish_block);
  tcase_add_test (tc, test_publish_ok_block);
  tcase_add_test (tc, test_subscribe_block);
  tcase_add_test (tc, test_subscribe_ok_block);
  tcase_add_test (tc, test_range);
  tcase_add_test (tc, test_range_ok);
  tcase_add_test (tc, test_fetch);
  tcase_add_test (tc, test_chunk);
  tcase_add_test (tc, test_fetch_end_and_stored);
  tcase_add_test (tc, test_only_at_version_3);
  tcase_add_test (tc, test_names_and_codes);
  tcase_add_test (tc, test_crc);
  tcase_add_test (tc, test_documented_examples);
  return s;
}

GST_CHECK_MAIN (msg_store);
