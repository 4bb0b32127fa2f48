/* gst-diode — what the recording tests share (test-record*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See recordharness.h.
 */
#include "recordharness.h"

/* HELLO offering 1..3 as @role; the client then parses version 3. */
void
hello3 (RawClient * c, DiodeRole role)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, DIODE_PROTOCOL_VERSION_STORE,
          role, "record-test/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  fail_unless_equals_int (m.version, DIODE_PROTOCOL_VERSION_STORE);
  c->version = m.version;
  diode_msg_clear (&m);
}

/* PUBLISH with @pubflags; PUBLISH_OK's next_seq, its store state in
 * @state. */
guint64
publish3 (RawClient * c, const gchar * name, guint32 pubflags, guint8 * state)
{
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };
  guint64 next;

  a.stream = name;
  a.access = DIODE_ACCESS_PUBLIC;
  a.pubflags = pubflags;
  hello3 (c, DIODE_ROLE_PUBLISHER);
  raw_send_frame (c, diode_msg_encode_publish_args (&a,
          DIODE_PROTOCOL_VERSION_STORE, DIODE_ROLE_PUBLISHER));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH_OK");
  next = m.seq;
  if (state)
    *state = m.store_state;
  diode_msg_clear (&m);
  return next;
}

void
send_media (RawClient * c, guint64 seq, gboolean keyframe, gsize size)
{
  guint8 *data = g_malloc (size);

  memset (data, (guint8) seq, size);
  raw_send_frame (c, diode_msg_encode_media (seq, seq * GST_MSECOND,
          seq * GST_MSECOND, GST_MSECOND, seq, seq + 1,
          keyframe ? DIODE_MEDIA_KEYFRAME : 0, data, size));
  g_free (data);
}

/* CAPS, then @gops GOPs of @gop frames from @first. Returns the last seq. */
guint64
send_gops (RawClient * c, guint64 first, guint gops, guint gop, gsize size)
{
  guint64 seq = first;
  guint i;

  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  for (i = 0; i < gops * gop; i++, seq++)
    send_media (c, seq, i % gop == 0, size);
  return seq - 1;
}

/* Reads until STORED final (PINGs answered): its last seq; every STORED on
 * the way counted in @n_progress (may be NULL). */
guint64
wait_stored_final (RawClient * c, guint timeout_ms, guint * n_progress)
{
  gint64 end = deadline_in (timeout_ms);
  DiodeMsg m = { 0 };
  guint64 last = 0, prev = 0;

  while (g_get_monotonic_time () < end) {
    if (raw_next (c, &m, 500) != RAW_READ_MSG) {
      diode_msg_clear (&m);
      continue;
    }
    fail_unless_equals_int (m.type, DIODE_MSG_STORED);
    fail_unless (m.stored_seq >= prev, "STORED went back: %" G_GUINT64_FORMAT
        " after %" G_GUINT64_FORMAT, m.stored_seq, prev);
    prev = m.stored_seq;
    if (m.final) {
      last = m.stored_seq;
      diode_msg_clear (&m);
      return last;
    }
    if (n_progress)
      (*n_progress)++;
    diode_msg_clear (&m);
  }
  fail ("no STORED final within %u ms", timeout_ms);
  return 0;
}

/* The store at @dir, opened after the relay stopped. */
DiodeStore *
store_open (const gchar * dir)
{
  DiodeStoreLimits limits = { 0, 0, 0 };
  GError *err = NULL;
  DiodeStore *st = diode_store_open (dir, &limits, &err);

  fail_unless (st != NULL, "store %s: %s", dir, err ? err->message : "?");
  return st;
}

void
store_walk (DiodeStore * st, const gchar * key, Walk * w)
{
  guint64 seq = 1;

  memset (w, 0, sizeof (*w));
  w->keyframes = TRUE;
  for (;;) {
    GError *err = NULL;
    DiodeStoredChunk *c = diode_store_read (st, key, seq, &err);

    if (!c) {
      fail_unless (g_error_matches (err, DIODE_STORE_ERROR,
              DIODE_STORE_ERROR_NOT_FOUND), "read at %" G_GUINT64_FORMAT
          ": %s", seq, err->message);
      g_error_free (err);
      break;
    }
    fail_unless (diode_stored_chunk_verify (c, NULL));
    fail_unless (c->hdr.first_seq >= seq);
    if (!w->chunks)
      w->first_seq = c->hdr.first_seq;
    w->last_seq = c->hdr.last_seq;
    w->media += c->hdr.last_seq - c->hdr.first_seq + 1;
    w->chunks++;
    if (c->hdr.flags & DIODE_CHUNK_DISCONT)
      w->discont++;
    if (!(c->hdr.flags & DIODE_CHUNK_KEYFRAME))
      w->keyframes = FALSE;
    w->eos_last = (c->hdr.flags & DIODE_CHUNK_EOS) != 0;
    if (w->eos_last)
      w->eos++;
    /* the prelude: the CAPS frame in force comes first */
    fail_unless (c->hdr.n_prelude >= 1);
    fail_unless (g_bytes_get_size (c->frames->pdata[0]) > 0);
    seq = c->hdr.last_seq + 1;
    diode_stored_chunk_unref (c);
  }
}

/* A member of the relay's stats snapshot, after a fresh one came. */
JsonObject *
stats_store (DiodeRelay * relay, JsonNode ** root)
{
  gchar *old = diode_relay_get_stats_json (relay), *json = NULL;
  gint64 end = deadline_in (5000);
  JsonParser *p = json_parser_new ();
  JsonObject *o;

  while (g_get_monotonic_time () < end) {
    json = diode_relay_get_stats_json (relay);
    if (json && g_strcmp0 (json, old))
      break;
    g_clear_pointer (&json, g_free);
    g_usleep (50 * 1000);
  }
  fail_unless (json != NULL, "no stats snapshot");
  fail_unless (json_parser_load_from_data (p, json, -1, NULL));
  *root = json_node_ref (json_parser_get_root (p));
  o = json_object_get_object_member (json_node_get_object (*root), "store");
  g_object_unref (p);
  g_free (json);
  g_free (old);
  return o;
}
