/* gst-diode — the recording side when the store fails (issue 10)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays with --store (store-dir) and raw clients speaking
 * protocol version 3 by hand: a store directory unusable from the start or
 * replaced by a file while the relay runs (RECORD publishers hear
 * UNAVAILABLE, stats say unhealthy, live streams go on), and stored names
 * whose meta cannot be read or was edited by hand (the relay fails
 * closed: nobody may publish or watch them as if public). Helpers shared
 * with test-record.c in recordharness.[ch].
 */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "rawclient.h"
#include "diode-relay-private.h"
#include "diode-store.h"
#include "diode-store-private.h"   /* diode_store_pause_writer */

#include "recordharness.h"

/* An unusable store directory (below a regular file: even root cannot
 * create it): the relay starts and says why, a RECORD publisher hears
 * UNAVAILABLE and its viewers get every frame live as always. */
GST_START_TEST (test_store_unusable_live_goes_on)
{
  gchar *file = g_build_filename (fixture_config_dir (), "not-a-dir", NULL);
  gchar *dir = g_build_filename (file, "store", NULL);
  DiodeRelay *relay;
  RawClient *p, *v;
  DiodeMsg m = { 0 };
  guint8 state = 0xff;
  guint64 next, last, seq = 0;
  JsonNode *root;
  JsonObject *so;

  fail_unless (g_file_set_contents (file, "x", 1, NULL));
  relay = relay_with ("store-dir", dir, NULL);
  p = raw_open (relay, 0, "pub.pem");
  v = raw_open (relay, 0, "viewer.pem");
  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_UNAVAILABLE);

  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 5000));
  fail_unless (fixture_wait_waiting (relay, "cam", 1, 2000));
  last = send_gops (p, next, 3, 10, 256);
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
  diode_msg_clear (&m);
  while (seq < last) {
    fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG,
        "live frames stopped after seq %" G_GUINT64_FORMAT, seq);
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless_equals_uint64 (m.seq, seq ? seq + 1 : next);
      seq = m.seq;
    } else {
      fail_unless_equals_int (m.type, DIODE_MSG_CAPS);
    }
    diode_msg_clear (&m);
  }

  so = stats_store (relay, &root);
  fail_unless (so != NULL, "no store in the stats");
  fail_unless (!json_object_get_boolean_member (so, "healthy"));
  fail_unless_equals_string (json_object_get_string_member (so, "dir"), dir);
  fail_unless (json_object_get_string_member (so, "error") != NULL);
  json_node_unref (root);

  raw_free (v, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
  g_unlink (file);
  g_free (dir);
  g_free (file);
}

GST_END_TEST;

static void
rm_tree (const gchar * path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const gchar *n;

  if (d) {
    while ((n = g_dir_read_name (d))) {
      gchar *child = g_build_filename (path, n, NULL);

      rm_tree (child);
      g_free (child);
    }
    g_dir_close (d);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

/* The store fails while the relay runs (its directory replaced by a file:
 * even root cannot create in it): the failure is noticed (stats healthy
 * false with the reason), later RECORD publishers hear UNAVAILABLE, and a
 * stream that was being recorded goes on live for its viewers. */
GST_START_TEST (test_store_fails_later)
{
  gchar *top = tmp_store ();
  gchar *dir = g_build_filename (top, "store", NULL);
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *a = raw_open (relay, 0, "pub.pem");
  RawClient *b = raw_open (relay, 0, "pub.pem");
  RawClient *c = raw_open (relay, 0, "pub.pem");
  RawClient *v = raw_open (relay, 0, "viewer.pem");
  DiodeMsg m = { 0 };
  guint8 state = 0xff;
  guint64 next, last, seq = 0;
  gint64 end;
  JsonNode *root = NULL;
  JsonObject *so;
  GstCheckLogFilter *filter;

  next = publish3 (a, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_RECORDING);
  last = send_gops (a, next, 2, 10, 256);
  fail_unless (fixture_wait_last_seq (relay, "cam", last, 5000));
  /* STORED: what was queued so far (its meta included) is on disk */
  raw_expect_next (a, DIODE_MSG_STORED, &m, "STORED");
  diode_msg_clear (&m);

  rm_tree (dir);
  fail_unless (g_file_set_contents (dir, "not a directory", -1, NULL));
  /* the store's one clear line about it is expected (not a test failure) */
  filter = gst_check_add_log_filter (NULL, G_LOG_LEVEL_WARNING,
      g_regex_new ("^store: .* failed", 0, 0, NULL),
      NULL, NULL, NULL);
  /* a new recording needs a new stream directory: the write fails */
  publish3 (b, "dog", DIODE_PUBLISH_RECORD, &state);
  end = deadline_in (10000);
  for (;;) {
    so = stats_store (relay, &root);
    if (!json_object_get_boolean_member (so, "healthy"))
      break;
    json_node_unref (root);
    fail_unless (g_get_monotonic_time () < end, "the store never failed");
  }
  fail_unless (json_object_get_string_member (so, "error") != NULL);
  json_node_unref (root);
  publish3 (c, "eel", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_UNAVAILABLE);

  /* the recorded stream goes on live */
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 5000));
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
  diode_msg_clear (&m);
  next = last + 1;
  last = send_gops (a, next, 3, 10, 256);
  while (seq < last) {
    fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG,
        "live frames stopped after seq %" G_GUINT64_FORMAT, seq);
    if (m.type == DIODE_MSG_MEDIA)
      seq = m.seq;
    diode_msg_clear (&m);
  }

  raw_free (v, FALSE);
  raw_free (c, FALSE);
  raw_free (b, FALSE);
  raw_free (a, FALSE);
  relay_free (relay);
  gst_check_remove_log_filter (filter);
  rm_tree (top);
  g_free (dir);
  g_free (top);
}

GST_END_TEST;

/* Counts the store's quarantine warnings (gst-check makes warnings
 * fatal); any other warning is still a failure. */
static void
count_quarantine (const gchar * domain, GLogLevelFlags level,
    const gchar * msg, gpointer user_data)
{
  fail_unless (strstr (msg, "quarantined") != NULL, "unexpected warning: %s",
      msg);
  (*(gint *) user_data)++;
}

/* streams/<hash> of @name in the store at @dir. */
static gchar *
stream_dir (const gchar * dir, const gchar * name)
{
  gchar *key = diode_name_key (name, NULL);
  gchar *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  gchar *path;

  sum[32] = '\0';
  path = g_build_filename (dir, "streams", sum, NULL);
  g_free (sum);
  g_free (key);
  return path;
}

/* A v3 PUBLISH of @name by @key_name with @pubflags: refused, 102, the
 * text naming the unreadable meta and the directory to repair. */
static void
publish_refused_unreadable (DiodeRelay * relay, const gchar * key_name,
    const gchar * name, guint32 pubflags, const gchar * sdir)
{
  RawClient *c = raw_open (relay, 0, key_name);
  DiodePublishArgs a = { 0 };

  hello3 (c, DIODE_ROLE_PUBLISHER);
  a.stream = name;
  a.pubflags = pubflags;
  raw_send_frame (c, diode_msg_encode_publish_args (&a,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_PUBLISHER));
  raw_expect_error_says (c, DIODE_ERR_NOT_AUTHORIZED, key_name,
      "metadata is unreadable", "repair or remove", sdir, NULL);
  raw_free (c, FALSE);
}

/* A recording whose meta became unreadable (garbage) while the relay was
 * down: after the restart its name is owned by nobody, so nobody may
 * publish it (another identity, its earlier owner, with or without
 * RECORD): 102 saying the operator must repair or remove the directory;
 * nor is it served: SUBSCRIBE with a start, RANGE, FETCH get 102 (not
 * "not found", which would send viewers elsewhere). The stored chunks and
 * the meta on disk are left as they were. */
GST_START_TEST (test_unreadable_meta_fails_closed)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *v;
  gchar *sdir = stream_dir (dir, "cam"), *meta, *text = NULL;
  /* what the peer is told: the directory relative to the store, never the
   * store's place on the relay's disk */
  gchar *sbase = g_path_get_basename (sdir);
  gchar *rel = g_strdup_printf ("streams/%s in the relay's store directory",
      sbase);
  DiodeSubscribeArgs sa = { 0 };
  guint64 next, last;
  gint warned = 0;
  DiodeStore *st;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  meta = g_build_filename (sdir, "meta", NULL);
  fail_unless (g_file_test (meta, G_FILE_TEST_IS_REGULAR), "no %s", meta);
  fail_unless (g_file_set_contents (meta, "\x01garbage [not a key file",
          -1, NULL));

  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_handler (NULL, G_LOG_LEVEL_WARNING, count_quarantine, &warned);
  relay = relay_with ("store-dir", dir, NULL);
  fail_unless_equals_int (warned, 1);

  publish_refused_unreadable (relay, "other.pem", "cam",
      DIODE_PUBLISH_RECORD, rel);
  publish_refused_unreadable (relay, "other.pem", "CAM", 0, rel);
  publish_refused_unreadable (relay, "pub.pem", "cam", DIODE_PUBLISH_RECORD,
      rel);
  fail_unless (stream_lookup (relay, "cam") == NULL ||
      stream_lookup (relay, "cam")->publisher == NULL);

  /* SUBSCRIBE from the start of the recording */
  v = raw_open (relay, 0, "viewer.pem");
  hello3 (v, DIODE_ROLE_VIEWER);
  sa.stream = "cam";
  sa.wait_ms = 2000;
  sa.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&sa,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_VIEWER));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE EARLIEST",
      "metadata is unreadable", rel, NULL);
  raw_free (v, FALSE);
  /* RANGE */
  v = raw_open (relay, 0, "viewer.pem");
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE",
      "metadata is unreadable", rel, NULL);
  raw_free (v, FALSE);
  /* FETCH, by its earlier owner too */
  v = raw_open (relay, 0, "pub.pem");
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, last, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH",
      "metadata is unreadable", rel, NULL);
  raw_free (v, FALSE);
  relay_free (relay);

  /* nothing written over */
  fail_unless (g_file_get_contents (meta, &text, NULL, NULL));
  fail_unless_equals_string (text, "\x01garbage [not a key file");
  g_free (text);
  st = store_open (dir);
  fail_unless_equals_int (diode_store_key_state (st, "cam", NULL),
      DIODE_STORE_KEY_QUARANTINED);
  diode_store_close (st);
  g_free (meta);
  g_free (rel);
  g_free (sbase);
  g_free (sdir);
  g_free (dir);
}

GST_END_TEST;

/* SUBSCRIBE EARLIEST, RANGE and FETCH of "cam" by @key_name: 102 each,
 * the text saying @says. */
static void
stranger_refused (DiodeRelay * relay, const gchar * key_name, guint64 last,
    const gchar * says)
{
  DiodeSubscribeArgs sa = { 0 };
  RawClient *v;

  v = raw_open (relay, 0, key_name);
  hello3 (v, DIODE_ROLE_VIEWER);
  sa.stream = "cam";
  sa.wait_ms = 2000;
  sa.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&sa,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_VIEWER));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "SUBSCRIBE EARLIEST",
      says, NULL);
  raw_free (v, FALSE);
  v = raw_open (relay, 0, key_name);
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "RANGE", says, NULL);
  raw_free (v, FALSE);
  v = raw_open (relay, 0, key_name);
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_fetch ("cam", 1, last, 0));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "FETCH", says, NULL);
  raw_free (v, FALSE);
}

/* A private recording whose meta an operator edited by hand: a value of
 * access that does not parse ("banana") used to read as 0, PUBLIC, and the
 * recording was served to anyone. Now the meta is unreadable: quarantined,
 * refused to everyone (102). The names are accepted: "access=private"
 * keeps it private (a stranger 102, the allowed friend served). */
GST_START_TEST (test_hand_edited_access_fails_closed)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *v;
  const gchar *allow[] = { NULL, NULL };
  gchar *friend = raw_key_address ("friend.pem");
  gchar *sdir = stream_dir (dir, "cam"), *meta, *text = NULL, *edited;
  GRegex *re;
  DiodeMsg m = { 0 };
  guint64 next, last;
  gint warned = 0;

  allow[0] = friend;
  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  raw_send_frame (p, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
          allow));
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  meta = g_build_filename (sdir, "meta", NULL);
  fail_unless (g_file_get_contents (meta, &text, NULL, NULL));
  fail_unless (strstr (text, "\naccess=2\n") != NULL, "meta: %s", text);
  re = g_regex_new ("^access=2$", G_REGEX_MULTILINE, 0, NULL);

  /* access=banana: quarantined, refused to a stranger and to the friend */
  edited = g_regex_replace_literal (re, text, -1, 0, "access=banana", 0,
      NULL);
  fail_unless (g_file_set_contents (meta, edited, -1, NULL));
  g_free (edited);
  g_log_set_always_fatal (G_LOG_FATAL_MASK);
  g_log_set_handler (NULL, G_LOG_LEVEL_WARNING, count_quarantine, &warned);
  relay = relay_with ("store-dir", dir, NULL);
  stranger_refused (relay, "viewer.pem", last, "metadata is unreadable");
  stranger_refused (relay, "friend.pem", last, "metadata is unreadable");
  fail_unless_equals_int (warned, 1);
  relay_free (relay);

  /* access=private: read as private */
  edited = g_regex_replace_literal (re, text, -1, 0, "access=private", 0,
      NULL);
  fail_unless (g_file_set_contents (meta, edited, -1, NULL));
  g_free (edited);
  relay = relay_with ("store-dir", dir, NULL);
  fail_unless_equals_int (warned, 1);
  stranger_refused (relay, "viewer.pem", last, "cam");
  v = raw_open (relay, 0, "friend.pem");
  hello3 (v, DIODE_ROLE_VIEWER);
  raw_send_frame (v, diode_msg_encode_range ("cam", 0));
  raw_expect_next (v, DIODE_MSG_RANGE_OK, &m, "RANGE by the friend");
  diode_msg_clear (&m);
  raw_free (v, FALSE);
  relay_free (relay);

  g_regex_unref (re);
  g_free (text);
  g_free (meta);
  g_free (sdir);
  g_free (friend);
  g_free (dir);
}

GST_END_TEST;

static Suite *
record_failclosed_suite (void)
{
  Suite *s = suite_create ("record_failclosed");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_store_unusable_live_goes_on);
  tcase_add_test (tc, test_store_fails_later);
  tcase_add_test (tc, test_unreadable_meta_fails_closed);
  tcase_add_test (tc, test_hand_edited_access_fails_closed);
  return s;
}

GST_CHECK_MAIN (record_failclosed);
