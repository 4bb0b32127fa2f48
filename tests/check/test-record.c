/* gst-diode — the relay's recording side (issue 10, design section 3)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process relays with --store (store-dir) and raw clients speaking
 * protocol version 3 by hand. What the relay wrote is checked by opening
 * the same directory with the store API after the relay stopped: chunks
 * of a RECORD stream are there (closed ring chunks, and the open one at
 * EOS with the EOS flag), a stream without RECORD never is; PUBLISH_OK's
 * store state; STORED progress and final; an upload paced by the store
 * (nothing lost) while a live stream loses chunks from its recording with
 * DISCONT on the next; a stored name's owner and seq across a restart;
 * policy changes in the meta. A store that fails: test-record-failclosed.c;
 * helpers shared in recordharness.[ch].
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

/* A RECORD stream: PUBLISH_OK says RECORDING, every closed ring chunk and
 * the open one at EOS (flagged EOS) reach the store, each starting with
 * its keyframe and the CAPS prelude; STORED progress then STORED final
 * with the last seq; the stored name keeps its owner and the meta says
 * finished. */
GST_START_TEST (test_record_chunks_reach_store)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  guint8 state = 0xff;
  guint64 next, last, final;
  DiodeStore *st;
  DiodeStoreMeta meta = { 0 };
  gchar *owner = raw_key_address ("pub.pem");
  Walk w;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_RECORDING);
  fail_unless_equals_uint64 (next, 1);
  last = send_gops (p, next, 5, 10, 512);
  fail_unless (fixture_wait_last_seq (relay, "cam", last, 5000));
  raw_send_frame (p, diode_msg_encode_eos (last));
  final = wait_stored_final (p, 10000, NULL);
  fail_unless_equals_uint64 (final, last);
  raw_free (p, FALSE);
  relay_free (relay);

  st = store_open (dir);
  store_walk (st, "cam", &w);
  fail_unless_equals_int (w.chunks, 5);
  fail_unless_equals_uint64 (w.first_seq, 1);
  fail_unless_equals_uint64 (w.last_seq, last);
  fail_unless_equals_uint64 (w.media, last);
  fail_unless (w.eos_last, "the last chunk does not carry EOS");
  fail_unless_equals_int (w.eos, 1);
  fail_unless (w.keyframes);
  fail_unless_equals_int (w.discont, 0);
  fail_unless (diode_store_get_meta (st, "cam", &meta));
  fail_unless_equals_string (meta.name, "cam");
  fail_unless (!g_ascii_strcasecmp (meta.owner, owner));
  fail_unless (meta.pubflags & DIODE_PUBLISH_RECORD);
  fail_unless (meta.finished, "an ended recording is not finished");
  diode_store_meta_clear (&meta);
  diode_store_close (st);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

/* No RECORD, no store: the stream is never written, and PUBLISH_OK says
 * NONE; RECORD on a relay without --store is NONE too. */
GST_START_TEST (test_no_record_not_stored)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  DiodeRelay *plain = relay_with (NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  RawClient *q = raw_open (plain, 0, "pub.pem");
  guint8 state = 0xff;
  guint64 next, last;
  DiodeStore *st;
  DiodeSpan spans[4];
  gchar **keys;

  next = publish3 (p, "cam", 0, &state);
  fail_unless_equals_int (state, DIODE_STORE_NONE);
  last = send_gops (p, next, 4, 10, 512);
  raw_send_frame (p, diode_msg_encode_eos (last));
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, 5000));

  publish3 (q, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_NONE);

  raw_free (p, FALSE);
  raw_free (q, FALSE);
  relay_free (relay);
  relay_free (plain);

  st = store_open (dir);
  keys = diode_store_list (st);
  fail_unless_equals_int (g_strv_length (keys), 0);
  fail_unless_equals_int (diode_store_get_spans (st, "cam", spans, 4), 0);
  g_strfreev (keys);
  diode_store_close (st);
  g_free (dir);
}

GST_END_TEST;

/* Polls until @relay's store has nothing queued (its writer took it all). */
static void
wait_queue_empty (DiodeRelay * relay)
{
  gint64 end = deadline_in (10000);

  while (diode_store_queued_bytes (relay->store) > 0) {
    fail_unless (g_get_monotonic_time () < end, "the store queue never "
        "emptied");
    g_usleep (2000);
  }
}

/* An upload (RECORD | UPLOAD) while the store's writer is held: the relay
 * takes the first chunk, the queue is then at its bound and the relay
 * stops reading the uploader (its last seq stays put however long we
 * wait) rather than dropping chunks; once the writer goes on, every chunk
 * is stored, none DISCONT, STORED final says the last seq. */
GST_START_TEST (test_upload_paced_by_store)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "store-queue-bytes",
      (guint64) 1, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  guint8 state = 0xff;
  guint64 next, last, final, held;
  guint progress = 0;
  DiodeStore *st;
  JsonNode *root;
  JsonObject *so;
  Walk w;

  next = publish3 (p, "movie", DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD,
      &state);
  fail_unless_equals_int (state, DIODE_STORE_RECORDING);
  diode_store_pause_writer (relay->store, TRUE);
  /* 100 one-frame chunks of 2 KiB: far less than the socket buffers
   * take, so the sends complete while the relay does not read */
  last = send_gops (p, next, 100, 1, 2048);
  raw_send_frame (p, diode_msg_encode_eos (last));
  fail_unless (fixture_wait_last_seq (relay, "movie", next + 1, 5000));
  g_usleep (500 * 1000);
  held = diode_relay_get_last_seq (relay, "movie");
  fail_unless (held <= next + 2, "the relay read the uploader up to seq %"
      G_GUINT64_FORMAT " while its store queue was full", held);
  diode_store_pause_writer (relay->store, FALSE);

  final = wait_stored_final (p, 30000, &progress);
  fail_unless_equals_uint64 (final, last);
  so = stats_store (relay, &root);
  fail_unless (json_object_get_boolean_member (so, "healthy"));
  fail_unless (json_object_get_int_member (so, "pauses") > 0);
  fail_unless_equals_int (json_object_get_int_member (so, "dropped"), 0);
  json_node_unref (root);
  raw_free (p, FALSE);
  relay_free (relay);

  st = store_open (dir);
  store_walk (st, "movie", &w);
  fail_unless_equals_int (w.chunks, 100);
  fail_unless_equals_uint64 (w.media, last);
  fail_unless_equals_int (w.discont, 0);
  fail_unless (w.eos_last);
  diode_store_close (st);
  g_free (dir);
}

GST_END_TEST;

/* A live RECORD stream while the store's writer is held: the publisher is
 * never held back (the relay reads all of it), the chunks the full queue
 * refused are missing from the recording, and the first chunk stored
 * after the gap says DISCONT (and only that one). */
GST_START_TEST (test_live_record_drops_with_discont)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "store-queue-bytes",
      (guint64) 1, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  guint8 state = 0xff;
  guint64 next, seq;
  DiodeStore *st;
  JsonNode *root;
  JsonObject *so;
  guint n = 0;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_RECORDING);
  fail_unless_equals_uint64 (next, 1);
  diode_store_pause_writer (relay->store, TRUE);
  /* chunk 1 is queued, 2..9 find the queue full, 10 is still open */
  raw_send_frame (p, diode_msg_encode_caps (CAPS_STR));
  for (seq = 1; seq <= 10; seq++)
    send_media (p, seq, TRUE, 2048);
  fail_unless (fixture_wait_last_seq (relay, "cam", 10, 5000),
      "a live publisher was held back by its recording");
  diode_store_pause_writer (relay->store, FALSE);
  /* from here each chunk finds the queue empty */
  for (seq = 11; seq <= 20; seq++) {
    wait_queue_empty (relay);
    send_media (p, seq, TRUE, 2048);
    fail_unless (fixture_wait_last_seq (relay, "cam", seq, 5000));
  }
  wait_queue_empty (relay);
  raw_send_frame (p, diode_msg_encode_eos (20));
  wait_stored_final (p, 10000, NULL);

  so = stats_store (relay, &root);
  fail_unless_equals_int (json_object_get_int_member (so, "dropped"), 8);
  fail_unless_equals_int (json_object_get_int_member (so, "pauses"), 0);
  json_node_unref (root);
  raw_free (p, FALSE);
  relay_free (relay);

  st = store_open (dir);
  seq = 1;
  for (;;) {
    GError *err = NULL;
    DiodeStoredChunk *c = diode_store_read (st, "cam", seq, &err);

    if (!c) {
      fail_unless (g_error_matches (err, DIODE_STORE_ERROR,
              DIODE_STORE_ERROR_NOT_FOUND), "read at %" G_GUINT64_FORMAT
          ": %s", seq, err->message);
      g_error_free (err);
      break;
    }
    /* 1, then the gap 2..9, then 10..20 */
    fail_unless_equals_uint64 (c->hdr.first_seq, seq == 2 ? 10 : seq);
    if (c->hdr.first_seq == 10)
      fail_unless (c->hdr.flags & DIODE_CHUNK_DISCONT,
          "the chunk after the gap has no DISCONT");
    else
      fail_unless (!(c->hdr.flags & DIODE_CHUNK_DISCONT),
          "chunk %" G_GUINT64_FORMAT " DISCONT without a gap", seq);
    seq = c->hdr.last_seq + 1;
    n++;
    diode_stored_chunk_unref (c);
  }
  fail_unless_equals_int (n, 12);
  diode_store_close (st);
  g_free (dir);
}

GST_END_TEST;

/* The highest seq @relay's store holds of @key (its index, any thread). */
static guint64
stored_last (DiodeRelay * relay, const gchar * key)
{
  DiodeSpan spans[DIODE_MAX_SPANS];
  guint n = diode_store_get_spans (relay->store, key, spans, DIODE_MAX_SPANS);

  return n ? spans[n - 1].last_seq : 0;
}

/* A publisher that vanishes without EOS: the chunk the ring still had
 * open is stored at once (its session is over), not when the stream is
 * forgotten after the grace. */
GST_START_TEST (test_vanished_publisher_open_chunk_stored)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "grace-ms", 60000,
      NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  guint64 next, last;
  gint64 end;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 3, 10, 256);
  send_media (p, last + 1, TRUE, 256);
  send_media (p, last + 2, FALSE, 256);
  fail_unless (fixture_wait_last_seq (relay, "cam", last + 2, 5000));
  raw_free (p, TRUE);
  end = deadline_in (5000);
  while (stored_last (relay, "cam") != last + 2) {
    fail_unless (g_get_monotonic_time () < end, "the open chunk was not "
        "stored: the store holds up to %" G_GUINT64_FORMAT,
        stored_last (relay, "cam"));
    g_usleep (20 * 1000);
  }
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* A relay restarted on the same directory: the stored name keeps its
 * owner (another identity's PUBLISH is refused, 102), the finished
 * recording is known (relay_record_lookup, for replay), and its owner's
 * new run goes on after the stored last seq. */
GST_START_TEST (test_owner_and_seq_across_restart)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *other;
  DiodePublishArgs a = { 0 };
  DiodeStoreMeta meta = { 0 };
  gchar *owner = raw_key_address ("pub.pem");
  guint8 state = 0xff;
  guint64 next, last;
  Walk w;
  DiodeStore *st;

  next = publish3 (p, "Cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 3, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  relay = relay_with ("store-dir", dir, NULL);
  fail_unless (relay_record_lookup (relay, "cam", &meta));
  fail_unless_equals_string (meta.name, "Cam");
  fail_unless (!g_ascii_strcasecmp (meta.owner, owner));
  fail_unless (meta.finished);
  diode_store_meta_clear (&meta);
  fail_unless (!relay_record_lookup (relay, "dog", NULL));

  other = raw_open (relay, 0, "other.pem");
  hello3 (other, DIODE_ROLE_PUBLISHER);
  a.stream = "cam";
  a.pubflags = DIODE_PUBLISH_RECORD;
  raw_send_frame (other, diode_msg_encode_publish_args (&a,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_PUBLISHER));
  raw_expect_error_says (other, DIODE_ERR_NOT_AUTHORIZED, "other publisher",
      "recording", NULL);
  /* without RECORD it is still someone else's name */
  a.pubflags = 0;
  raw_send_frame (other, diode_msg_encode_publish_args (&a,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_PUBLISHER));
  raw_expect_error_says (other, DIODE_ERR_NOT_AUTHORIZED, "other, no RECORD",
      "recording", NULL);
  raw_free (other, FALSE);

  p = raw_open (relay, 0, "pub.pem");
  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, &state);
  fail_unless_equals_int (state, DIODE_STORE_RECORDING);
  fail_unless_equals_uint64 (next, last + 1);
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  st = store_open (dir);
  fail_unless (diode_store_get_meta (st, "cam", &meta));
  fail_unless_equals_string (meta.name, "Cam");
  fail_unless (meta.finished);
  diode_store_meta_clear (&meta);
  store_walk (st, "cam", &w);
  fail_unless_equals_int (w.chunks, 5);
  fail_unless_equals_uint64 (w.media, last);
  fail_unless_equals_uint64 (w.last_seq, last);
  /* each run ended with EOS; the second starts after a gap in time */
  fail_unless_equals_int (w.eos, 2);
  fail_unless (w.eos_last);
  fail_unless_equals_int (w.discont, 1);
  diode_store_close (st);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

/* The first stats snapshot of @relay that mentions @needle (10 s at most):
 * g_free it. */
static gchar *
stats_with (DiodeRelay * relay, const gchar * needle)
{
  gint64 end = deadline_in (10000);
  gchar *json = NULL;

  for (;;) {
    json = diode_relay_get_stats_json (relay);
    if (json && strstr (json, needle))
      return json;
    fail_if (g_get_monotonic_time () > end, "stats never show '%s': %s",
        needle, json ? json : "(none)");
    g_free (json);
    g_usleep (20 * 1000);
  }
}

/* A listed child relay claiming a stored name for another owner (its
 * ANNOUNCE) is not believed, as a local PUBLISH would be refused; its
 * claim of a free name is. */
GST_START_TEST (test_child_claim_of_stored_name_ignored)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *c;
  gchar *child = raw_key_address ("child.pem");
  const gchar *path[] = { child, NULL };
  DiodeMsg m = { 0 };
  guint64 next, last;
  gchar *json;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  relay = relay_with ("store-dir", dir, NULL);
  fixture_relay_conf_add (relay, "relays", "children", child);
  c = raw_open (relay, 0, "child.pem");
  raw_send_frame (c, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY,
          "record-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "relay HELLO");
  diode_msg_clear (&m);
  c->version = 2;
  c->role = DIODE_ROLE_RELAY;
  raw_send_frame (c, diode_msg_encode_link ());
  raw_expect_next (c, DIODE_MSG_LINK_OK, &m, "LINK");
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "cam", child, DIODE_ACCESS_PUBLIC, NULL, NULL, path));
  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "dog", child, DIODE_ACCESS_PUBLIC, NULL, NULL, path));
  /* the same snapshot (the child is still linked: it announced both) */
  json = stats_with (relay, "\"dog\"");
  fail_unless (strstr (json, "\"cam\"") == NULL, "the claim of a stored "
      "name was believed: %s", json);
  g_free (json);

  raw_free (c, FALSE);
  relay_free (relay);
  g_free (child);
  g_free (dir);
}

GST_END_TEST;

/* POLICY during a recording reaches the stored meta: the recording is
 * watched under the policy in force. */
GST_START_TEST (test_policy_reaches_meta)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  const gchar *allow[] = { NULL, NULL };
  gchar *friend = raw_key_address ("friend.pem");
  DiodeStoreMeta meta = { 0 };
  DiodeStore *st;
  guint64 next, last;

  allow[0] = friend;
  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
          allow));
  send_media (p, last + 1, TRUE, 256);
  raw_send_frame (p, diode_msg_encode_eos (last + 1));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  relay_free (relay);

  st = store_open (dir);
  fail_unless (diode_store_get_meta (st, "cam", &meta));
  fail_unless_equals_int (meta.access, DIODE_ACCESS_PRIVATE);
  fail_unless (meta.allow && meta.allow[0] && !meta.allow[1]);
  fail_unless (!g_ascii_strcasecmp (meta.allow[0], friend));
  diode_store_meta_clear (&meta);
  diode_store_close (st);
  g_free (friend);
  g_free (dir);
}

GST_END_TEST;

/* The stats: the "store" object and each stream's recording members. */
GST_START_TEST (test_record_stats)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  JsonNode *root;
  JsonObject *so, *s;
  JsonArray *streams;
  guint64 next, last;
  gint64 end = deadline_in (10000);

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 3, 10, 1024);
  /* a keyframe closes the third chunk; STORED says when it is durable */
  send_media (p, last + 1, TRUE, 1024);
  for (;;) {
    DiodeMsg m = { 0 };

    fail_unless (g_get_monotonic_time () < end, "no STORED up to %"
        G_GUINT64_FORMAT, last);
    /* progress goes at most every 5 s (STORED_INTERVAL_US) */
    if (raw_next (p, &m, 1000) != RAW_READ_MSG) {
      diode_msg_clear (&m);
      continue;
    }
    fail_unless_equals_int (m.type, DIODE_MSG_STORED);
    if (m.stored_seq == last) {
      fail_unless (!m.final);
      fail_unless (m.stored_bytes > 3 * 10 * 1024);
      diode_msg_clear (&m);
      break;
    }
    diode_msg_clear (&m);
  }
  so = stats_store (relay, &root);
  fail_unless (json_object_get_boolean_member (so, "healthy"));
  fail_unless_equals_string (json_object_get_string_member (so, "dir"), dir);
  fail_unless (json_object_get_int_member (so, "bytes") > 0);
  fail_unless (json_object_has_member (so, "queued"));
  fail_unless_equals_int (json_object_get_int_member (so, "streams"), 1);
  fail_unless (json_object_get_int_member (so, "chunks") >= 3);
  streams = json_object_get_array_member (json_node_get_object (root),
      "streams");
  s = json_array_get_object_element (streams, 0);
  fail_unless (json_object_get_boolean_member (s, "recording"));
  fail_unless_equals_uint64 (json_object_get_int_member (s, "stored_seq"),
      last);
  fail_unless (json_object_get_int_member (s, "stored_bytes") > 0);
  json_node_unref (root);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* STORED progress is paced: a live recording closing a chunk every
 * 100 ms for 6 s hears STORED (each one an fdatasync on the relay) at
 * once for its first chunk, then at most every 5 s: 2 or 3 in all, not one
 * a second (6 or 7). */
GST_START_TEST (test_stored_progress_paced)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem");
  gint64 end = deadline_in (6000);
  guint64 seq, seq0;
  guint n_stored = 0;

  seq = seq0 = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  while (g_get_monotonic_time () < end) {
    DiodeMsg m = { 0 };

    /* a GOP of 3 frames every 100 ms: a chunk closed each time */
    seq = send_gops (p, seq, 1, 3, 256) + 1;
    while (raw_next (p, &m, 100) == RAW_READ_MSG) {
      fail_unless_equals_int (m.type, DIODE_MSG_STORED);
      fail_unless (!m.final);
      n_stored++;
      diode_msg_clear (&m);
    }
    diode_msg_clear (&m);
  }
  fail_unless (seq - seq0 > 100, "only %" G_GUINT64_FORMAT " frames sent",
      seq - seq0);
  fail_unless (n_stored >= 1, "no STORED progress in 6 s");
  fail_unless (n_stored <= 3, "%u STORED in 6 s: not paced to one per 5 s",
      n_stored);
  raw_free (p, FALSE);
  relay_free (relay);
  g_free (dir);
}

GST_END_TEST;

/* Retention removed every segment of a recording: its meta stays, so the
 * name stays owned by its publisher (another identity's PUBLISH: 102),
 * also across a restart, until the operator removes the directory
 * (docs/security.md). */
GST_START_TEST (test_owner_survives_full_retention)
{
  gchar *dir = tmp_store ();
  /* 1 byte: retention removes every segment it can */
  DiodeRelay *relay = relay_with ("store-dir", dir, "store-bytes",
      (guint64) 1, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *other;
  DiodePublishArgs a = { 0 };
  DiodeStoreMeta meta = { 0 };
  DiodeSpan spans[4];
  gchar *owner = raw_key_address ("pub.pem");
  guint64 next, last;
  gint pass;
  gint64 end;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 2, 10, 256);
  raw_send_frame (p, diode_msg_encode_eos (last));
  wait_stored_final (p, 10000, NULL);
  raw_free (p, FALSE);
  end = deadline_in (10000);
  while (diode_store_get_spans (relay->store, "cam", spans, 4) > 0) {
    fail_unless (g_get_monotonic_time () < end, "retention kept chunks");
    g_usleep (20 * 1000);
  }
  for (pass = 0; pass < 2; pass++) {
    fail_unless_equals_int (diode_store_get_spans (relay->store, "cam",
            spans, 4), 0);
    fail_unless (relay_record_lookup (relay, "cam", &meta));
    fail_unless (!g_ascii_strcasecmp (meta.owner, owner));
    diode_store_meta_clear (&meta);
    other = raw_open (relay, 0, "other.pem");
    hello3 (other, DIODE_ROLE_PUBLISHER);
    a.stream = "cam";
    a.pubflags = DIODE_PUBLISH_RECORD;
    raw_send_frame (other, diode_msg_encode_publish_args (&a,
            DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_PUBLISHER));
    /* first in its name grace, then (restarted) as a stored name */
    raw_expect_error_says (other, DIODE_ERR_NOT_AUTHORIZED, "other publisher",
        pass ? "recording stored on this relay" : "owned by", owner, NULL);
    raw_free (other, FALSE);
    relay_free (relay);
    relay = relay_with ("store-dir", dir, "store-bytes", (guint64) 1, NULL);
  }
  relay_free (relay);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

/* The EOS frame lands in a chunk of its own without MEDIA (the ring began
 * a continuation: the chunk before was over half the ring's byte limit):
 * that chunk is not stored on its own, the EOS goes at the end of the
 * last stored chunk, which carries the EOS flag; a viewer of the finished
 * recording gets every MEDIA, then EOS, from the store. */
GST_START_TEST (test_eos_in_continuation_chunk_stored)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, "buffer-bytes",
      (guint64) 64 * 1024, NULL);
  RawClient *p = raw_open (relay, 0, "pub.pem"), *v;
  DiodeSubscribeArgs sa = { 0 };
  DiodeStoredChunk *c;
  DiodeStore *st;
  DiodeMsg m = { 0 };
  guint64 next, last, seq = 0;
  gboolean eos = FALSE;
  Walk w;

  next = publish3 (p, "cam", DIODE_PUBLISH_RECORD, NULL);
  last = send_gops (p, next, 1, 10, 256);
  /* one keyframe over half the ring's limit: the EOS after it begins a
   * continuation chunk */
  send_media (p, ++last, TRUE, 40 * 1024);
  fail_unless (fixture_wait_last_seq (relay, "cam", last, 5000));
  raw_send_frame (p, diode_msg_encode_eos (last));
  fail_unless_equals_uint64 (wait_stored_final (p, 10000, NULL), last);
  raw_free (p, FALSE);

  /* the finished recording, from the store: MEDIA 1..last, then EOS */
  v = raw_open (relay, 0, "viewer.pem");
  hello3 (v, DIODE_ROLE_VIEWER);
  sa.stream = "cam";
  sa.wait_ms = 2000;
  sa.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&sa,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_VIEWER));
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE_OK");
  diode_msg_clear (&m);
  while (!eos) {
    fail_unless (raw_next (v, &m, RAW_IO_MS) == RAW_READ_MSG,
        "no EOS after seq %" G_GUINT64_FORMAT, seq);
    if (m.type == DIODE_MSG_MEDIA) {
      fail_unless_equals_uint64 (m.seq, seq + 1);
      seq = m.seq;
    } else if (m.type == DIODE_MSG_EOS) {
      eos = TRUE;
    }
    diode_msg_clear (&m);
  }
  fail_unless_equals_uint64 (seq, last);
  raw_free (v, FALSE);
  relay_free (relay);

  st = store_open (dir);
  store_walk (st, "cam", &w);
  fail_unless_equals_uint64 (w.last_seq, last);
  fail_unless_equals_uint64 (w.media, last);
  fail_unless (w.eos_last, "the last stored chunk does not carry EOS");
  fail_unless_equals_int (w.eos, 1);
  c = diode_store_read (st, "cam", last, NULL);
  fail_unless (c != NULL);
  fail_unless (diode_stored_chunk_verify (c, NULL));
  {
    GBytes *f = c->frames->pdata[c->frames->len - 1];

    fail_unless_equals_int (((const guint8 *) g_bytes_get_data (f,
                NULL))[0], DIODE_MSG_EOS);
  }
  diode_stored_chunk_unref (c);
  diode_store_close (st);
  g_free (dir);
}

GST_END_TEST;

static Suite *
record_suite (void)
{
  Suite *s = suite_create ("record");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_record_chunks_reach_store);
  tcase_add_test (tc, test_no_record_not_stored);
  tcase_add_test (tc, test_upload_paced_by_store);
  tcase_add_test (tc, test_live_record_drops_with_discont);
  tcase_add_test (tc, test_vanished_publisher_open_chunk_stored);
  tcase_add_test (tc, test_owner_and_seq_across_restart);
  tcase_add_test (tc, test_child_claim_of_stored_name_ignored);
  tcase_add_test (tc, test_policy_reaches_meta);
  tcase_add_test (tc, test_record_stats);
  tcase_add_test (tc, test_stored_progress_paced);
  tcase_add_test (tc, test_owner_survives_full_retention);
  tcase_add_test (tc, test_eos_in_continuation_chunk_stored);
  return s;
}

GST_CHECK_MAIN (record);
