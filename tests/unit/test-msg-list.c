/* gst-diode — unit tests: LIST and LISTING (appended to protocol version 4)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/protocol.md section 19: round trips (a full entry, 1000 entries of
 * the largest size within the LISTING limit), every refusal of the codec
 * (mode, names, flags, count, state/access/stored, codec length and
 * UTF-8, a count the payload cannot hold, truncation anywhere), the types
 * known only at version 4 for publishers and viewers, the session rules
 * (LIST only in READY with nothing pending, LISTING only as its answer,
 * a refusal ends it, the connection stays usable), and the byte examples
 * of the document.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "msgcheck.h"
#include "diode-session.h"
#include "docexample.h"

#define OWNER "0x00112233445566778899aabbccddeeff01234567"

static void
parse_ok (GBytes * frame, DiodeMsg * m)
{
  GError *err = NULL;

  fail_unless (frame != NULL);
  memset (m, 0, sizeof (*m));
  if (!diode_msg_parse_v (frame, 4, DIODE_ROLE_VIEWER, m, &err))
    fail ("parse: %s", err->message);
  g_bytes_unref (frame);
}

static guint
parse_fails (GBytes * frame, guint16 version, DiodeRole role)
{
  GError *err = NULL;
  DiodeMsg m = { 0 };
  guint code;

  fail_unless (frame != NULL);
  fail_if (diode_msg_parse_v (frame, version, role, &m, &err));
  code = err->code;
  g_error_free (err);
  g_bytes_unref (frame);
  return code;
}

static DiodeListEntry
full_entry (const gchar * name)
{
  DiodeListEntry e = { 0 };

  e.name = (gchar *) name;
  e.state = DIODE_LIST_RECORDING;
  e.access = DIODE_ACCESS_PRIVATE;
  e.stored = 1;
  e.owner = (gchar *) OWNER;
  e.viewers = 7;
  e.web_viewers = 3;
  e.bitrate_bps = 4000000;
  e.codec = (gchar *) "h264";
  e.width = 1920;
  e.height = 1080;
  e.framerate_milli = 29970;
  e.live_seq = 123456789012ULL;
  e.uptime_ms = 3600000;
  e.bytes_in = G_MAXUINT64;
  e.bytes_out = 1;
  return e;
}

GST_START_TEST (test_list_round_trip)
{
  DiodeMsg m;

  parse_ok (diode_msg_encode_list (DIODE_LIST_ALL, NULL), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_LIST);
  fail_unless_equals_int (m.list_mode, DIODE_LIST_ALL);
  fail_unless_equals_string (m.stream, "");
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_list (DIODE_LIST_ALL, "cam-7"), &m);
  fail_unless_equals_string (m.stream, "cam-7");
  diode_msg_clear (&m);
  parse_ok (diode_msg_encode_list (DIODE_LIST_ONE, "my cam"), &m);
  fail_unless_equals_int (m.list_mode, DIODE_LIST_ONE);
  fail_unless_equals_string (m.stream, "my cam");
  diode_msg_clear (&m);

  /* refused by the encoder */
  fail_unless (diode_msg_encode_list (DIODE_LIST_ONE, "") == NULL);
  fail_unless (diode_msg_encode_list (DIODE_LIST_ONE, NULL) == NULL);
  fail_unless (diode_msg_encode_list (2, "cam") == NULL);
  fail_unless (diode_msg_encode_list (DIODE_LIST_ALL, "a/b") == NULL);
}

GST_END_TEST;

GST_START_TEST (test_list_refused)
{
  const guint8 bad_mode[] = { 2, 0, 3, 'c', 'a', 'm' };
  const guint8 one_empty[] = { 1, 0, 0 };
  const guint8 slash[] = { 0, 0, 3, 'a', '/', 'b' };
  const guint8 short_name[] = { 1, 0, 5, 'c', 'a' };
  const guint8 no_name[] = { 0 };
  guint8 big[3 + 256];

  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              bad_mode, sizeof (bad_mode)), 4, DIODE_ROLE_VIEWER),
      DIODE_ERR_PROTOCOL);
  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              one_empty, sizeof (one_empty)), 4, DIODE_ROLE_VIEWER),
      DIODE_ERR_BAD_NAME);
  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              slash, sizeof (slash)), 4, DIODE_ROLE_VIEWER),
      DIODE_ERR_BAD_NAME);
  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              short_name, sizeof (short_name)), 4, DIODE_ROLE_VIEWER),
      DIODE_ERR_PROTOCOL);
  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              no_name, sizeof (no_name)), 4, DIODE_ROLE_VIEWER),
      DIODE_ERR_PROTOCOL);
  big[0] = 1;
  big[1] = 1;
  big[2] = 0;
  memset (big + 3, 'a', 256);
  fail_unless_equals_int (parse_fails (msgcheck_frame (DIODE_MSG_LIST,
              big, sizeof (big)), 4, DIODE_ROLE_VIEWER), DIODE_ERR_BAD_NAME);
}

GST_END_TEST;

GST_START_TEST (test_listing_round_trip)
{
  DiodeListEntry e[2];
  DiodeMsg m;

  e[0] = full_entry ("a-cam");
  e[1] = (DiodeListEntry) {
  .name = (gchar *) "b"};
  parse_ok (diode_msg_encode_listing (DIODE_LISTING_TRUNCATED, e, 2), &m);
  fail_unless_equals_int (m.type, DIODE_MSG_LISTING);
  fail_unless_equals_int (m.list_flags, DIODE_LISTING_TRUNCATED);
  fail_unless_equals_int (m.n_entries, 2);
  fail_unless_equals_string (m.entries[0].name, "a-cam");
  fail_unless_equals_int (m.entries[0].state, DIODE_LIST_RECORDING);
  fail_unless_equals_int (m.entries[0].access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_int (m.entries[0].stored, 1);
  fail_unless_equals_string (m.entries[0].owner, OWNER);
  fail_unless_equals_int (m.entries[0].viewers, 7);
  fail_unless_equals_int (m.entries[0].web_viewers, 3);
  fail_unless (m.entries[0].bitrate_bps == 4000000);
  fail_unless_equals_string (m.entries[0].codec, "h264");
  fail_unless_equals_int (m.entries[0].width, 1920);
  fail_unless_equals_int (m.entries[0].height, 1080);
  fail_unless_equals_int (m.entries[0].framerate_milli, 29970);
  fail_unless (m.entries[0].live_seq == 123456789012ULL);
  fail_unless (m.entries[0].uptime_ms == 3600000);
  fail_unless (m.entries[0].bytes_in == G_MAXUINT64);
  fail_unless (m.entries[0].bytes_out == 1);
  fail_unless_equals_string (m.entries[1].name, "b");
  fail_unless (m.entries[1].owner == NULL);
  fail_unless_equals_string (m.entries[1].codec, "");
  fail_unless_equals_int (m.entries[1].state, DIODE_LIST_LIVE);
  diode_msg_clear (&m);

  parse_ok (diode_msg_encode_listing (0, NULL, 0), &m);
  fail_unless_equals_int (m.n_entries, 0);
  fail_unless_equals_int (m.list_flags, 0);
  diode_msg_clear (&m);

  fail_unless_equals_string (diode_list_state_name (DIODE_LIST_LIVE), "live");
  fail_unless_equals_string (diode_list_state_name (DIODE_LIST_RECORDING),
      "recording");
  fail_unless_equals_string (diode_list_state_name (DIODE_LIST_ENDED),
      "ended");
  fail_unless_equals_string (diode_list_state_name (DIODE_LIST_STORED),
      "stored");
  fail_unless_equals_string (diode_list_state_name (4), "unknown");

  /* state 3: held only in the store (appended, no version bump) */
  e[0] = full_entry ("old-cam");
  e[0].state = DIODE_LIST_STORED;
  e[0].viewers = e[0].web_viewers = 0;
  e[0].bitrate_bps = 0;
  parse_ok (diode_msg_encode_listing (0, e, 1), &m);
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_string (m.entries[0].name, "old-cam");
  fail_unless_equals_int (m.entries[0].state, DIODE_LIST_STORED);
  fail_unless_equals_int (m.entries[0].stored, 1);
  fail_unless (m.entries[0].live_seq == 123456789012ULL);
  diode_msg_clear (&m);
}

GST_END_TEST;

/* 1000 entries of the largest size fit the limit; 1001 do not encode */
GST_START_TEST (test_listing_largest)
{
  DiodeListEntry *e = g_new0 (DiodeListEntry, DIODE_LIST_MAX_ENTRIES + 1);
  gchar *codec = g_strnfill (DIODE_LIST_MAX_CODEC, 'c');
  gchar **names = g_new0 (gchar *, DIODE_LIST_MAX_ENTRIES + 2);
  GBytes *f;
  DiodeMsg m;
  guint i;

  for (i = 0; i <= DIODE_LIST_MAX_ENTRIES; i++) {
    gchar *pad = g_strnfill (DIODE_MAX_STREAM_NAME - 4, 'n');

    names[i] = g_strdup_printf ("%04u%s", i, pad);
    g_free (pad);
    e[i] = full_entry (names[i]);
    e[i].codec = codec;
  }
  f = diode_msg_encode_listing (0, e, DIODE_LIST_MAX_ENTRIES);
  fail_unless (f != NULL);
  fail_unless_equals_int (g_bytes_get_size (f), DIODE_FRAME_HEADER_SIZE + 3
      + DIODE_LIST_MAX_ENTRIES * 403);
  fail_unless (g_bytes_get_size (f) - DIODE_FRAME_HEADER_SIZE <=
      DIODE_MAX_LISTING_PAYLOAD);
  parse_ok (f, &m);
  fail_unless_equals_int (m.n_entries, DIODE_LIST_MAX_ENTRIES);
  fail_unless_equals_string (m.entries[999].name, names[999]);
  fail_unless_equals_string (m.entries[999].codec, codec);
  diode_msg_clear (&m);
  fail_unless (diode_msg_encode_listing (0, e, DIODE_LIST_MAX_ENTRIES + 1)
      == NULL);
  g_strfreev (names);
  g_free (codec);
  g_free (e);
}

GST_END_TEST;

GST_START_TEST (test_listing_refused)
{
  DiodeListEntry e = full_entry ("cam");
  gchar *long_codec = g_strnfill (DIODE_LIST_MAX_CODEC + 1, 'c');
  GBytes *good;
  const guint8 *d;
  gsize size, i;
  guint8 *p;

  /* encoder */
  fail_unless (diode_msg_encode_listing (2, &e, 1) == NULL);
  e.state = 4;
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  e = full_entry ("cam");
  e.access = 3;
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  e = full_entry ("cam");
  e.stored = 2;
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  e = full_entry ("cam");
  e.owner = (gchar *) "0x12";
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  e = full_entry ("cam");
  e.codec = long_codec;
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  e = full_entry ("c/m");
  fail_unless (diode_msg_encode_listing (0, &e, 1) == NULL);
  fail_unless (diode_msg_encode_listing (0, NULL, 1) == NULL);

  /* parser: each byte mutation the section names, from a good frame */
  e = full_entry ("cam");
  good = diode_msg_encode_listing (0, &e, 1);
  d = g_bytes_get_data (good, &size);
  p = g_memdup2 (d + 8, size - 8);
#define MUTATE(off, val, expect) G_STMT_START { \
    guint8 keep = p[off]; p[off] = (val); \
    fail_unless_equals_int (parse_fails (msgcheck_frame \
        (DIODE_MSG_LISTING, p, size - 8), 4, DIODE_ROLE_VIEWER), expect); \
    p[off] = keep; } G_STMT_END
  MUTATE (0, 2, DIODE_ERR_PROTOCOL);    /* flags */
  MUTATE (1, 0x04, DIODE_ERR_TOO_LARGE);        /* count 1025 */
  MUTATE (2, 2, DIODE_ERR_PROTOCOL);    /* count 2: the payload lacks it */
  MUTATE (3 + 5, 4, DIODE_ERR_PROTOCOL);        /* state */
  MUTATE (3 + 5, 0xff, DIODE_ERR_PROTOCOL);     /* state */
  MUTATE (3 + 6, 3, DIODE_ERR_PROTOCOL);        /* access */
  MUTATE (3 + 7, 2, DIODE_ERR_PROTOCOL);        /* stored */
  MUTATE (3 + 8, 7, DIODE_ERR_PROTOCOL);        /* owner length */
  /* codec length 65 (after name 5, 3 u8, owner 21, 4+4+8) */
  MUTATE (3 + 5 + 3 + 21 + 16 + 1, 65, DIODE_ERR_TOO_LARGE);
  /* codec not UTF-8 */
  MUTATE (3 + 5 + 3 + 21 + 16 + 2, 0xff, DIODE_ERR_PROTOCOL);
#undef MUTATE
  /* cut anywhere: refused, never read past the end */
  for (i = 0; i < size - 8; i++)
    fail_unless_equals_int (parse_fails (msgcheck_frame
            (DIODE_MSG_LISTING, p, i), 4, DIODE_ROLE_VIEWER),
        DIODE_ERR_PROTOCOL);
  g_free (p);
  g_bytes_unref (good);
  g_free (long_codec);
}

GST_END_TEST;

GST_START_TEST (test_limits_and_versions)
{
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_LIST, 4,
          DIODE_ROLE_VIEWER), DIODE_MAX_SMALL_PAYLOAD);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_LISTING, 4,
          DIODE_ROLE_PUBLISHER), DIODE_MAX_LISTING_PAYLOAD);
  /* unknown below version 4 and on relay links */
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_LIST, 3,
          DIODE_ROLE_VIEWER), 0);
  fail_unless_equals_int (diode_msg_max_payload_v (DIODE_MSG_LIST, 4,
          DIODE_ROLE_RELAY), 0);
  fail_unless_equals_int (diode_msg_max_payload (DIODE_MSG_LISTING), 0);
  fail_unless_equals_int (parse_fails (diode_msg_encode_list (0, NULL), 3,
          DIODE_ROLE_VIEWER), DIODE_ERR_PROTOCOL);
  fail_unless_equals_int (parse_fails (diode_msg_encode_list (0, NULL), 4,
          DIODE_ROLE_RELAY), DIODE_ERR_PROTOCOL);
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_LIST), "LIST");
  fail_unless_equals_string (diode_msg_type_name (DIODE_MSG_LISTING),
      "LISTING");
  fail_unless_equals_string (diode_error_code_name (DIODE_ERR_RATE_LIMITED),
      "RATE_LIMITED");
  fail_if (diode_error_code_is_fatal (DIODE_ERR_RATE_LIMITED));
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* the session rules (docs/protocol.md 19.3)                                */

static void
feed (DiodeSession * s, GBytes * f)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (f, &n);

  diode_session_feed (s, d, n);
  g_bytes_unref (f);
}

static DiodeSessionResult
next (DiodeSession * s, DiodeMsg * m, guint * code)
{
  GError *err = NULL;
  DiodeSessionResult r;

  memset (m, 0, sizeof (*m));
  r = diode_session_next (s, m, &err);
  if (code)
    *code = err ? err->code : 0;
  g_clear_error (&err);
  return r;
}

static DiodeSession *
relay_ready (guint16 vmax, DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_RELAY_END);
  DiodeMsg m;

  feed (s, diode_msg_encode_hello (1, vmax, role, "t"));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  diode_msg_clear (&m);
  fail_unless (diode_session_sent (s, DIODE_MSG_WELCOME, 0, NULL));
  return s;
}

static DiodeSession *
client_ready (guint16 version, DiodeRole role)
{
  DiodeSession *s = diode_session_new (DIODE_SESSION_CLIENT_END);
  DiodeMsg m;

  fail_unless (diode_session_sent_hello (s, 1, 4, role, NULL));
  feed (s, diode_msg_encode_welcome_v (version, 1000, "r", 0));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  diode_msg_clear (&m);
  return s;
}

GST_START_TEST (test_session_relay_end)
{
  DiodeSession *s;
  DiodeMsg m;
  guint code;

  /* a viewer and a publisher in READY: LIST, answered, then again */
  s = relay_ready (4, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_list (0, NULL));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  fail_unless_equals_int (m.type, DIODE_MSG_LIST);
  diode_msg_clear (&m);
  /* a second LIST before the answer: 200 */
  {
    DiodeSession *s2 = relay_ready (4, DIODE_ROLE_PUBLISHER);

    feed (s2, diode_msg_encode_list (1, "cam"));
    fail_unless_equals_int (next (s2, &m, NULL), DIODE_SESSION_MESSAGE);
    diode_msg_clear (&m);
    feed (s2, diode_msg_encode_list (0, NULL));
    fail_unless_equals_int (next (s2, &m, &code), DIODE_SESSION_ERROR);
    fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
    diode_session_free (s2);
  }
  fail_unless (diode_session_sent (s, DIODE_MSG_LISTING, 0, NULL));
  /* LISTING without a LIST pending may not be sent */
  fail_if (diode_session_sent (s, DIODE_MSG_LISTING, 0, NULL));
  diode_session_free (s);

  s = relay_ready (4, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_list (0, NULL));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  diode_msg_clear (&m);
  /* a refusal (107) ends it too: the connection stays usable */
  fail_unless (diode_session_sent (s, DIODE_MSG_ERROR,
          DIODE_ERR_RATE_LIMITED, NULL));
  feed (s, diode_msg_encode_subscribe ("cam", 0, 0));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  diode_msg_clear (&m);
  fail_unless (diode_session_sent (s, DIODE_MSG_SUBSCRIBE_OK, 0, NULL));
  /* SUBSCRIBED: LIST is refused from the header */
  feed (s, diode_msg_encode_list (0, NULL));
  fail_unless_equals_int (next (s, &m, &code), DIODE_SESSION_ERROR);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  /* version 3: an unknown type */
  s = relay_ready (3, DIODE_ROLE_VIEWER);
  feed (s, diode_msg_encode_list (0, NULL));
  fail_unless_equals_int (next (s, &m, &code), DIODE_SESSION_ERROR);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
  diode_session_free (s);
}

GST_END_TEST;

GST_START_TEST (test_session_client_end)
{
  DiodeSession *s;
  DiodeMsg m;
  guint code;

  s = client_ready (4, DIODE_ROLE_VIEWER);
  /* LISTING unasked: 200 */
  feed (s, diode_msg_encode_listing (0, NULL, 0));
  fail_unless_equals_int (next (s, &m, &code), DIODE_SESSION_ERROR);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);
  diode_session_free (s);

  s = client_ready (4, DIODE_ROLE_VIEWER);
  fail_unless (diode_session_sent (s, DIODE_MSG_LIST, 0, NULL));
  fail_if (diode_session_sent (s, DIODE_MSG_LIST, 0, NULL));
  feed (s, diode_msg_encode_listing (0, NULL, 0));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  fail_unless_equals_int (m.type, DIODE_MSG_LISTING);
  diode_msg_clear (&m);
  /* answered: another LIST may go, and the answer may be a refusal */
  fail_unless (diode_session_sent (s, DIODE_MSG_LIST, 0, NULL));
  feed (s, diode_msg_encode_error (DIODE_ERR_RATE_LIMITED, "later"));
  fail_unless_equals_int (next (s, &m, NULL), DIODE_SESSION_MESSAGE);
  diode_msg_clear (&m);
  fail_unless (diode_session_sent (s, DIODE_MSG_SUBSCRIBE, 0, NULL));
  diode_session_free (s);

  /* below version 4 LIST may not be sent */
  s = client_ready (3, DIODE_ROLE_VIEWER);
  fail_if (diode_session_sent (s, DIODE_MSG_LIST, 0, NULL));
  diode_session_free (s);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */

GST_START_TEST (test_documented_examples)
{
  gchar *doc = NULL;
  GError *err = NULL;

  if (!g_file_get_contents (DOCS_PROTOCOL_MD, &doc, NULL, &err))
    fail ("%s", err->message);
  doc_example_frame (doc, "list-one", diode_msg_encode_list (DIODE_LIST_ONE,
          "cam"), 4, DIODE_ROLE_VIEWER);
  doc_example_frame (doc, "listing-empty", diode_msg_encode_listing (0, NULL, 0), 4, DIODE_ROLE_VIEWER);
  doc_check_format (doc, 19);
  g_free (doc);
}

GST_END_TEST;

static Suite *
msg_list_suite (void)
{
  Suite *s = suite_create ("msg-list");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_list_round_trip);
  tcase_add_test (tc, test_list_refused);
  tcase_add_test (tc, test_listing_round_trip);
  tcase_add_test (tc, test_listing_largest);
  tcase_add_test (tc, test_listing_refused);
  tcase_add_test (tc, test_limits_and_versions);
  tcase_add_test (tc, test_session_relay_end);
  tcase_add_test (tc, test_session_client_end);
  tcase_add_test (tc, test_documented_examples);
  return s;
}

GST_CHECK_MAIN (msg_list);
