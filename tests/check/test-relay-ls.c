/* gst-diode — LIST against an in-process relay (docs/protocol.md 19)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Raw TLS clients with real identities speak to a real relay on
 * 127.0.0.1: a live stream is listed with its viewer, bitrate, caps and
 * live edge; a private stream is hidden from a stranger and shown to the
 * identity its allowlist names (and to its owner); LIST ONE of a hidden
 * stream is the same bytes as of a missing one; TRUNCATED and paging from
 * the last name; the per-connection rate limit (107, the connection stays
 * usable); a malformed LIST or one while subscribed is a protocol error
 * that closes that connection only, and the relay serves others; below
 * version 4 LIST is an unknown type. The real `diode ls` against a fake
 * relay too old for LIST (version 3; version 4 from before LIST, which
 * answers ERROR 200 unknown type). Recordings held only in the store (a
 * relay restarted on its --store) are listed as `stored`, with the stored
 * policy: hidden from a stranger, LIST ONE works, paging runs across the
 * table and the store, a name in both is listed once. The tool over the relay binary:
 * tests/integration/test-cli-ls.sh.
 */
#include <gio/gio.h>
#include <gst/check/gstcheck.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)640, height=(int)360, " \
  "framerate=(fraction)30/1"

static void
hello (RawClient * c, guint16 vmax, DiodeRole role)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, vmax, role, "test-ls/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  c->version = m.version;
  c->role = role;
  diode_msg_clear (&m);
}

/* A publisher (version 4) through PUBLISH_OK with @access and @allow. */
static RawClient *
publisher (DiodeRelay * relay, const gchar * key, const gchar * name,
    DiodeAccess access, const gchar * allow)
{
  RawClient *c = raw_open (relay, 0, key);
  const gchar *list[] = { allow, NULL };
  DiodeMsg m = { 0 };

  hello (c, 4, DIODE_ROLE_PUBLISHER);
  raw_send_frame (c, diode_msg_encode_publish_policy (name, access, NULL,
          allow ? list : NULL));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH");
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  return c;
}

static void
send_media (RawClient * c, guint64 seq, gsize size)
{
  guint8 *data = g_malloc0 (size);

  raw_send_frame (c, diode_msg_encode_media (seq, seq * GST_MSECOND * 33,
          seq * GST_MSECOND * 33, GST_MSECOND * 33, seq, seq + 1,
          seq % 10 == 1 ? DIODE_MEDIA_KEYFRAME : 0, data, size));
  g_free (data);
}

/* A viewer client (version 4) in READY. */
static RawClient *
lister (DiodeRelay * relay, const gchar * key)
{
  RawClient *c = raw_open (relay, 0, key);

  hello (c, 4, DIODE_ROLE_VIEWER);
  return c;
}

/* LIST, its LISTING in @m (cleared by the caller); returns the frame's
 * bytes (unref) so answers can be compared byte for byte. */
static GBytes *
list (RawClient * c, guint8 mode, const gchar * name, DiodeMsg * m)
{
  raw_send_frame (c, diode_msg_encode_list (mode, name));
  raw_expect_next (c, DIODE_MSG_LISTING, m, "LIST");
  return g_bytes_ref (m->frame);
}

static const DiodeListEntry *
find (const DiodeMsg * m, const gchar * name)
{
  guint i;

  for (i = 0; i < m->n_entries; i++)
    if (!strcmp (m->entries[i].name, name))
      return &m->entries[i];
  return NULL;
}

/* A recorded stream (RECORD, version 4) with @access/@allow: one GOP of
 * 10 frames, EOS, STORED final. Returns its last seq. */
static guint64
record_stream (DiodeRelay * relay, const gchar * key, const gchar * name,
    DiodeAccess access, const gchar * allow)
{
  RawClient *c = raw_open (relay, 0, key);
  const gchar *list[] = { allow, NULL };
  DiodePublishArgs a = { 0 };
  DiodeMsg m = { 0 };
  gint64 end = deadline_in (10000);
  guint64 seq, seq0;

  hello (c, 4, DIODE_ROLE_PUBLISHER);
  a.stream = name;
  a.access = access;
  a.allow = allow ? list : NULL;
  a.pubflags = DIODE_PUBLISH_RECORD;
  raw_send_frame (c, diode_msg_encode_publish_args (&a, c->version,
          DIODE_ROLE_PUBLISHER));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH RECORD");
  fail_unless_equals_int (m.store_state, DIODE_STORE_RECORDING);
  seq0 = MAX (m.seq, 1);
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps (CAPS_STR));
  for (seq = seq0; seq < seq0 + 10; seq++)
    raw_send_frame (c, diode_msg_encode_media (seq, seq * GST_MSECOND,
            seq * GST_MSECOND, GST_MSECOND, seq, seq + 1,
            seq == seq0 ? DIODE_MEDIA_KEYFRAME : 0,
            (const guint8 *) "0123456789", 10));
  raw_send_frame (c, diode_msg_encode_eos (seq - 1));
  while (g_get_monotonic_time () < end) {
    if (raw_next (c, &m, 500) == RAW_READ_MSG && m.type == DIODE_MSG_STORED
        && m.final) {
      diode_msg_clear (&m);
      raw_free (c, FALSE);
      return seq - 1;
    }
    diode_msg_clear (&m);
  }
  fail ("no STORED final for %s", name);
  return 0;
}

GST_START_TEST (test_live_stream_listed)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = publisher (relay, "pub.pem", "cam", DIODE_ACCESS_PUBLIC,
      NULL);
  RawClient *v = lister (relay, "viewer.pem");
  RawClient *l = lister (relay, "stranger.pem");
  gchar *owner = raw_key_address ("pub.pem");
  const DiodeListEntry *e = NULL;
  DiodeMsg m = { 0 };
  guint64 seq = 1;
  gint64 end = deadline_in (5000);

  /* a keyframe chunk first: SUBSCRIBE_OK comes with one */
  for (; seq <= 10; seq++)
    send_media (p, seq, 2000);
  fail_unless (fixture_wait_last_seq (relay, "cam", 10, 2000));
  raw_send_frame (v, diode_msg_encode_subscribe ("cam", 0, 2000));
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE");
  diode_msg_clear (&m);
  /* media until the relay's rate window gave a bitrate (bounded) */
  while (g_get_monotonic_time () < end) {
    guint i;

    for (i = 0; i < 10; i++)
      send_media (p, seq++, 2000);
    g_bytes_unref (list (l, DIODE_LIST_ALL, NULL, &m));
    e = find (&m, "cam");
    if (e && e->bitrate_bps > 0 && e->viewers == 1)
      break;
    diode_msg_clear (&m);
    e = NULL;
    g_usleep (300 * 1000);
  }
  fail_unless (e != NULL, "cam never listed with a bitrate and its viewer");
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_int (m.list_flags, 0);
  fail_unless_equals_int (e->state, DIODE_LIST_LIVE);
  fail_unless_equals_int (e->access, DIODE_ACCESS_PUBLIC);
  fail_unless_equals_int (e->stored, 0);
  fail_unless_equals_string (e->owner, owner);
  fail_unless_equals_string (e->codec, "h264");
  fail_unless_equals_int (e->width, 640);
  fail_unless_equals_int (e->height, 360);
  fail_unless_equals_int (e->framerate_milli, 30000);
  fail_unless (e->live_seq > 0 && e->live_seq < seq);
  fail_unless (e->bytes_in >= 2000 * e->live_seq);
  fail_unless (e->uptime_ms < 10000);
  diode_msg_clear (&m);

  /* LIST ONE: the same entry; the connection serves another request */
  g_bytes_unref (list (l, DIODE_LIST_ONE, "cam", &m));
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_string (m.entries[0].name, "cam");
  diode_msg_clear (&m);
  raw_send_frame (l, diode_msg_encode_subscribe ("cam", 0, 2000));
  raw_expect_next (l, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE after LIST");
  diode_msg_clear (&m);

  g_free (owner);
  raw_free (p, FALSE);
  raw_free (v, FALSE);
  raw_free (l, FALSE);
  relay_free (relay);
}

GST_END_TEST;

GST_START_TEST (test_private_visibility)
{
  DiodeRelay *relay = relay_with (NULL);
  gchar *friend = raw_key_address ("friend.pem");
  RawClient *pp = publisher (relay, "pub.pem", "secret", DIODE_ACCESS_PRIVATE,
      friend);
  RawClient *pq = publisher (relay, "pub2.pem", "open", DIODE_ACCESS_PUBLIC,
      NULL);
  RawClient *stranger, *allowed, *owner;
  GBytes *hidden, *missing;
  DiodeMsg m = { 0 };

  send_media (pp, 1, 100);
  send_media (pq, 1, 100);
  fail_unless (fixture_wait_last_seq (relay, "secret", 1, 2000));
  fail_unless (fixture_wait_last_seq (relay, "open", 1, 2000));

  stranger = lister (relay, "stranger.pem");
  g_bytes_unref (list (stranger, DIODE_LIST_ALL, NULL, &m));
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_string (m.entries[0].name, "open");
  diode_msg_clear (&m);
  /* stat of the hidden stream: byte for byte what a missing name gets */
  hidden = list (stranger, DIODE_LIST_ONE, "secret", &m);
  fail_unless_equals_int (m.n_entries, 0);
  diode_msg_clear (&m);
  missing = list (stranger, DIODE_LIST_ONE, "nothing", &m);
  diode_msg_clear (&m);
  fail_unless (g_bytes_equal (hidden, missing));
  g_bytes_unref (hidden);
  g_bytes_unref (missing);

  allowed = lister (relay, "friend.pem");
  g_bytes_unref (list (allowed, DIODE_LIST_ALL, NULL, &m));
  fail_unless_equals_int (m.n_entries, 2);
  /* sorted by name */
  fail_unless_equals_string (m.entries[0].name, "open");
  fail_unless_equals_string (m.entries[1].name, "secret");
  fail_unless_equals_int (m.entries[1].access, DIODE_ACCESS_PRIVATE);
  diode_msg_clear (&m);
  g_bytes_unref (list (allowed, DIODE_LIST_ONE, "SECRET", &m));
  /* names compare as the relay compares them (case folded: the same
   * name), and the entry says the name as it was published */
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_string (m.entries[0].name, "secret");
  diode_msg_clear (&m);

  /* the owner sees its own private stream (publisher role, READY) */
  owner = raw_open (relay, 0, "pub.pem");
  hello (owner, 4, DIODE_ROLE_PUBLISHER);
  g_bytes_unref (list (owner, DIODE_LIST_ONE, "secret", &m));
  fail_unless_equals_int (m.n_entries, 1);
  diode_msg_clear (&m);

  /* a policy change reaches the next LIST: the stranger is let in */
  {
    const gchar *two[] = { friend, NULL, NULL };
    gchar *s = raw_key_address ("stranger.pem");

    two[1] = s;
    raw_send_frame (pp, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
            two));
    send_media (pp, 2, 100);
    fail_unless (fixture_wait_last_seq (relay, "secret", 2, 2000));
    g_bytes_unref (list (stranger, DIODE_LIST_ONE, "secret", &m));
    fail_unless_equals_int (m.n_entries, 1);
    diode_msg_clear (&m);
    g_free (s);
  }

  g_free (friend);
  raw_free (pp, FALSE);
  raw_free (pq, FALSE);
  raw_free (stranger, FALSE);
  raw_free (allowed, FALSE);
  raw_free (owner, FALSE);
  relay_free (relay);
}

GST_END_TEST;

GST_START_TEST (test_truncated_and_paging)
{
  DiodeRelay *relay = relay_with (NULL);
  const gchar *names[] = { "d", "a", "e", "c", "b" };
  RawClient *p[5], *l;
  DiodeMsg m = { 0 };
  guint i;

  /* before any client: the hook's contract */
  diode_relay_set_list_limits (relay, 2, 0);
  for (i = 0; i < 5; i++) {
    gchar *key = g_strdup_printf ("pub%u.pem", i);

    p[i] = publisher (relay, key, names[i], DIODE_ACCESS_PUBLIC, NULL);
    send_media (p[i], 1, 50);
    fail_unless (fixture_wait_last_seq (relay, names[i], 1, 2000));
    g_free (key);
  }
  l = lister (relay, "viewer.pem");
  g_bytes_unref (list (l, DIODE_LIST_ALL, "", &m));
  fail_unless_equals_int (m.list_flags, DIODE_LISTING_TRUNCATED);
  fail_unless_equals_int (m.n_entries, 2);
  fail_unless_equals_string (m.entries[0].name, "a");
  fail_unless_equals_string (m.entries[1].name, "b");
  diode_msg_clear (&m);
  g_bytes_unref (list (l, DIODE_LIST_ALL, "b", &m));
  fail_unless_equals_int (m.list_flags, DIODE_LISTING_TRUNCATED);
  fail_unless_equals_string (m.entries[0].name, "c");
  fail_unless_equals_string (m.entries[1].name, "d");
  diode_msg_clear (&m);
  g_bytes_unref (list (l, DIODE_LIST_ALL, "d", &m));
  fail_unless_equals_int (m.list_flags, 0);
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_string (m.entries[0].name, "e");
  diode_msg_clear (&m);
  g_bytes_unref (list (l, DIODE_LIST_ALL, "e", &m));
  fail_unless_equals_int (m.list_flags, 0);
  fail_unless_equals_int (m.n_entries, 0);
  diode_msg_clear (&m);

  for (i = 0; i < 5; i++)
    raw_free (p[i], FALSE);
  raw_free (l, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* Recordings held only in the store: a relay restarted on its --store
 * has none of them in its table. */
GST_START_TEST (test_stored_listed)
{
  gchar *dir = tmp_store ();
  DiodeRelay *relay = relay_with ("store-dir", dir, NULL);
  gchar *viewer = raw_key_address ("viewer.pem");
  gchar *owner = raw_key_address ("pub.pem");
  RawClient *live, *again, *v, *s;
  DiodeMsg m = { 0 };
  DiodeSubscribeArgs sa = { 0 };
  GBytes *hidden, *missing;
  guint64 last_b;

  last_b = record_stream (relay, "pub.pem", "b-old", DIODE_ACCESS_PRIVATE,
      viewer);
  record_stream (relay, "pub.pem", "d-pub", DIODE_ACCESS_PUBLIC, NULL);
  record_stream (relay, "pub.pem", "e-both", DIODE_ACCESS_PUBLIC, NULL);
  relay_free (relay);

  relay = relay_with ("store-dir", dir, NULL);
  diode_relay_set_list_limits (relay, 2, 0);
  live = publisher (relay, "pub2.pem", "c-live", DIODE_ACCESS_PUBLIC, NULL);
  send_media (live, 1, 50);
  fail_unless (fixture_wait_last_seq (relay, "c-live", 1, 2000));
  /* in the table and in the store: listed once, the table's entry */
  again = publisher (relay, "pub.pem", "e-both", DIODE_ACCESS_PUBLIC, NULL);
  send_media (again, 1000, 50);
  fail_unless (fixture_wait_last_seq (relay, "e-both", 1000, 2000));

  /* the identity the private recording allows: pages across both */
  v = lister (relay, "viewer.pem");
  g_bytes_unref (list (v, DIODE_LIST_ALL, "", &m));
  fail_unless_equals_int (m.list_flags, DIODE_LISTING_TRUNCATED);
  fail_unless_equals_int (m.n_entries, 2);
  fail_unless_equals_string (m.entries[0].name, "b-old");
  fail_unless_equals_int (m.entries[0].state, DIODE_LIST_STORED);
  fail_unless_equals_int (m.entries[0].access, DIODE_ACCESS_PRIVATE);
  fail_unless_equals_int (m.entries[0].stored, 1);
  fail_unless_equals_string (m.entries[0].owner, owner);
  fail_unless_equals_int (m.entries[0].viewers, 0);
  fail_unless (m.entries[0].bitrate_bps == 0);
  fail_unless_equals_uint64 (m.entries[0].live_seq, last_b);
  fail_unless_equals_string (m.entries[1].name, "c-live");
  fail_unless_equals_int (m.entries[1].state, DIODE_LIST_LIVE);
  fail_unless_equals_int (m.entries[1].stored, 0);
  diode_msg_clear (&m);
  g_bytes_unref (list (v, DIODE_LIST_ALL, "c-live", &m));
  fail_unless_equals_int (m.list_flags, 0);
  fail_unless_equals_int (m.n_entries, 2);
  fail_unless_equals_string (m.entries[0].name, "d-pub");
  fail_unless_equals_int (m.entries[0].state, DIODE_LIST_STORED);
  fail_unless_equals_int (m.entries[0].access, DIODE_ACCESS_PUBLIC);
  fail_unless_equals_string (m.entries[1].name, "e-both");
  fail_unless_equals_int (m.entries[1].state, DIODE_LIST_LIVE);
  fail_unless_equals_int (m.entries[1].stored, 1);
  diode_msg_clear (&m);
  /* stat of a stored-only name */
  g_bytes_unref (list (v, DIODE_LIST_ONE, "b-old", &m));
  fail_unless_equals_int (m.n_entries, 1);
  fail_unless_equals_int (m.entries[0].state, DIODE_LIST_STORED);
  fail_unless_equals_uint64 (m.entries[0].live_seq, last_b);
  diode_msg_clear (&m);
  /* what it lists it may replay */
  sa.stream = "b-old";
  sa.wait_ms = 2000;
  sa.start_mode = DIODE_START_EARLIEST;
  raw_send_frame (v, diode_msg_encode_subscribe_args (&sa, v->version,
          DIODE_ROLE_VIEWER));
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "replay of a listed one");
  diode_msg_clear (&m);

  /* a stranger: not the private one, not even by name */
  s = lister (relay, "stranger.pem");
  g_bytes_unref (list (s, DIODE_LIST_ALL, "", &m));
  fail_unless_equals_int (m.n_entries, 2);
  fail_unless_equals_string (m.entries[0].name, "c-live");
  fail_unless_equals_string (m.entries[1].name, "d-pub");
  diode_msg_clear (&m);
  hidden = list (s, DIODE_LIST_ONE, "b-old", &m);
  fail_unless_equals_int (m.n_entries, 0);
  diode_msg_clear (&m);
  missing = list (s, DIODE_LIST_ONE, "nope", &m);
  diode_msg_clear (&m);
  fail_unless (g_bytes_equal (hidden, missing));
  g_bytes_unref (hidden);
  g_bytes_unref (missing);

  raw_free (live, FALSE);
  raw_free (again, FALSE);
  raw_free (v, FALSE);
  raw_free (s, FALSE);
  relay_free (relay);
  g_free (viewer);
  g_free (owner);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_rate_limit)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *l = lister (relay, "viewer.pem");
  DiodeMsg m = { 0 };
  guint i;

  /* 20 answered, the 21st refused with 107 (not fatal) */
  for (i = 0; i < 20; i++) {
    g_bytes_unref (list (l, DIODE_LIST_ALL, NULL, &m));
    diode_msg_clear (&m);
  }
  raw_send_frame (l, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
  raw_expect_error_says (l, DIODE_ERR_RATE_LIMITED, "21st LIST", "LIST",
      NULL);
  /* still usable: a PING is answered */
  raw_send_frame (l, diode_msg_encode_ping (77));
  raw_expect (l, DIODE_MSG_PONG, &m);
  fail_unless (m.token == 77);
  diode_msg_clear (&m);
  raw_free (l, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* All LISTs together look at a bounded number of streams per second:
 * over it, 107 on any connection, and the next second it answers again. */
GST_START_TEST (test_relay_wide_budget)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p[5], *a, *b;
  DiodeMsg m = { 0 };
  guint i, answered = 0, refused = 0;
  gint64 end;

  /* 5 streams, 12 visits a second: two LIST ALL fit, not a third */
  diode_relay_set_list_limits (relay, 0, 12);
  for (i = 0; i < 5; i++) {
    gchar *key = g_strdup_printf ("pub%u.pem", i);
    gchar *name = g_strdup_printf ("s%u", i);

    p[i] = publisher (relay, key, name, DIODE_ACCESS_PUBLIC, NULL);
    send_media (p[i], 1, 50);
    fail_unless (fixture_wait_last_seq (relay, name, 1, 2000));
    g_free (key);
    g_free (name);
  }
  a = lister (relay, "a.pem");
  b = lister (relay, "b.pem");
  /* within one second (a window may start between the two: then both
   * may pass; the loop only needs one refusal, bounded) */
  end = deadline_in (5000);
  while (refused == 0 && g_get_monotonic_time () < end && answered < 18) {
    RawClient *c = answered % 2 ? b : a;

    raw_send_frame (c, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
    fail_unless (raw_next (c, &m, RAW_IO_MS) == RAW_READ_MSG);
    if (m.type == DIODE_MSG_LISTING) {
      fail_unless_equals_int (m.n_entries, 5);
      answered++;
    } else {
      fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
      fail_unless_equals_int (m.error_code, DIODE_ERR_RATE_LIMITED);
      refused++;
    }
    diode_msg_clear (&m);
  }
  fail_unless (refused == 1, "no LIST refused after %u answered", answered);
  /* the next second answers an ALL again */
  g_usleep (1100 * 1000);
  g_bytes_unref (list (b, DIODE_LIST_ALL, NULL, &m));
  fail_unless_equals_int (m.n_entries, 5);
  diode_msg_clear (&m);

  /* A table larger than the whole budget (5 streams, 3 visits a second):
   * one LIST ALL still gets its second alone, the next in it is refused. */
  diode_relay_set_list_limits (relay, 0, 3);
  g_usleep (1100 * 1000);
  g_bytes_unref (list (a, DIODE_LIST_ALL, NULL, &m));
  fail_unless_equals_int (m.type, DIODE_MSG_LISTING);
  fail_unless_equals_int (m.n_entries, 5);
  diode_msg_clear (&m);
  raw_send_frame (b, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
  fail_unless (raw_next (b, &m, RAW_IO_MS) == RAW_READ_MSG);
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_RATE_LIMITED);
  diode_msg_clear (&m);

  for (i = 0; i < 5; i++)
    raw_free (p[i], FALSE);
  raw_free (a, FALSE);
  raw_free (b, FALSE);
  relay_free (relay);
}

GST_END_TEST;

GST_START_TEST (test_bad_list)
{
  DiodeRelay *relay = relay_with (NULL);
  RawClient *p = publisher (relay, "pub.pem", "cam", DIODE_ACCESS_PUBLIC,
      NULL);
  RawClient *bad, *sub, *old, *good;
  const guint8 bad_mode[] = { 9, 0, 0 };
  DiodeMsg m = { 0 };
  GBytes *f;
  gint code = 0;

  send_media (p, 1, 50);
  fail_unless (fixture_wait_last_seq (relay, "cam", 1, 2000));

  /* an unknown mode: ERROR 200 and the connection closes */
  bad = lister (relay, "bad.pem");
  f = diode_msg_encode_list (0, NULL);
  {
    gsize n;
    const guint8 *src = g_bytes_get_data (f, &n);
    guint8 *d = g_memdup2 (src, n);

    d[7] = sizeof (bad_mode);
    memcpy (d + 8, bad_mode, sizeof (bad_mode));
    raw_send (bad, d, 8 + sizeof (bad_mode));
    g_free (d);
  }
  g_bytes_unref (f);
  fail_unless (raw_wait_closed (bad, 2000, &code, NULL) >= 0);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);

  /* LIST while subscribed: 200 */
  sub = lister (relay, "sub.pem");
  raw_send_frame (sub, diode_msg_encode_subscribe ("cam", 0, 2000));
  raw_expect_next (sub, DIODE_MSG_SUBSCRIBE_OK, &m, "SUBSCRIBE");
  diode_msg_clear (&m);
  raw_send_frame (sub, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
  {
    /* the stream's frames may come first (bounded), then ERROR 200 */
    guint i;

    for (i = 0; i < 100; i++) {
      fail_unless (raw_next (sub, &m, RAW_IO_MS) == RAW_READ_MSG,
          "no ERROR after LIST while subscribed");
      if (m.type == DIODE_MSG_ERROR)
        break;
      fail_unless (m.type == DIODE_MSG_CAPS || m.type == DIODE_MSG_MEDIA);
      diode_msg_clear (&m);
    }
    fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
    fail_unless_equals_int (m.error_code, DIODE_ERR_PROTOCOL);
    diode_msg_clear (&m);
    fail_unless (raw_drain_until_closed (sub, 2000) >= 0);
  }

  /* version 3: an unknown type */
  old = raw_open (relay, 0, "old.pem");
  hello (old, 3, DIODE_ROLE_VIEWER);
  raw_send_frame (old, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
  fail_unless (raw_wait_closed (old, 2000, &code, NULL) >= 0);
  fail_unless_equals_int (code, DIODE_ERR_PROTOCOL);

  /* and the relay serves the others: the publisher goes on, a new client
   * lists */
  send_media (p, 2, 50);
  fail_unless (fixture_wait_last_seq (relay, "cam", 2, 2000));
  good = lister (relay, "good.pem");
  g_bytes_unref (list (good, DIODE_LIST_ALL, NULL, &m));
  fail_unless_equals_int (m.n_entries, 1);
  diode_msg_clear (&m);

  raw_free (bad, FALSE);
  raw_free (sub, FALSE);
  raw_free (old, FALSE);
  raw_free (good, FALSE);
  raw_free (p, FALSE);
  relay_free (relay);
}

GST_END_TEST;

/* `diode ls` against a fake relay on 127.0.0.1 that answers HELLO with
 * WELCOME @version and, at version 4, a LIST with ERROR 200 as a relay
 * that predates LIST does. The tool must say "does not support listing"
 * on one line and exit 1. */
static void
old_relay (guint16 version)
{
  guint16 port;
  int lfd = raw_listen (&port);
  gchar *target = g_strdup_printf ("127.0.0.1:%u", port);
  const gchar *argv[] = { DIODE_TOOL_PATH, "ls", target, "--timeout", "5",
    NULL
  };
  GError *err = NULL;
  GSubprocess *p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_PIPE, &err);
  RawClient *srv;
  DiodeMsg m = { 0 };
  gchar *out = NULL, *errtext = NULL;

  fail_unless (p != NULL, "spawn %s: %s", DIODE_TOOL_PATH,
      err ? err->message : "?");
  srv = raw_accept (lfd, "old-relay.pem", 5000);
  fail_unless (srv != NULL, "the tool did not connect");
  srv->version = 0;
  srv->role = 0;
  raw_expect (srv, DIODE_MSG_HELLO, &m);
  fail_unless_equals_int (m.version_max, DIODE_PROTOCOL_VERSION_MAX);
  diode_msg_clear (&m);
  raw_send_frame (srv, diode_msg_encode_welcome_v (version, 0, "old-relay",
          0));
  if (version >= 4) {
    /* the LIST header: a type this old relay does not know */
    fail_unless (raw_fill (srv, DIODE_FRAME_HEADER_SIZE, deadline_in (5000))
        == RAW_READ_MSG, "no LIST from the tool");
    fail_unless_equals_int (srv->rx->data[0], DIODE_MSG_LIST);
    raw_send_frame (srv, diode_msg_encode_error (DIODE_ERR_PROTOCOL,
            "unknown frame type 0x62"));
  }
  fail_unless (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &errtext,
          &err), "%s", err ? err->message : "?");
  fail_unless_equals_int (g_subprocess_get_exit_status (p), 1);
  fail_unless (strstr (errtext, "does not support listing") != NULL,
      "stderr: %s", errtext);
  fail_unless (strstr (errtext, target) != NULL, "stderr: %s", errtext);
  fail_unless (strchr (errtext, '\n') == errtext + strlen (errtext) - 1,
      "more than one line: %s", errtext);
  fail_unless_equals_string (out, "");
  g_free (out);
  g_free (errtext);
  g_object_unref (p);
  raw_free (srv, FALSE);
  close (lfd);
  g_free (target);
}

GST_START_TEST (test_relay_too_old)
{
  old_relay (3);
  old_relay (4);
}

GST_END_TEST;

static Suite *
relay_ls_suite (void)
{
  Suite *s = suite_create ("relay-ls");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_live_stream_listed);
  tcase_add_test (tc, test_private_visibility);
  tcase_add_test (tc, test_truncated_and_paging);
  tcase_add_test (tc, test_stored_listed);
  tcase_add_test (tc, test_rate_limit);
  tcase_add_test (tc, test_relay_wide_budget);
  tcase_add_test (tc, test_bad_list);
  tcase_add_test (tc, test_relay_too_old);
  return s;
}

GST_CHECK_MAIN (relay_ls);
