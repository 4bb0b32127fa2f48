/* gst-diode — fuzzing: writes the seed corpus with the real encoders
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   make-corpus OUT_DIR     writes OUT_DIR/frame/, session/ and ring/
 *
 * Built and run by `tests/fuzz/run.sh --make-corpus`; its output is committed
 * in tests/fuzz/corpus/. Frame seeds are single frames (every type, valid,
 * plus a few classic malformations); session seeds are a control byte (see
 * fuzz-session.c) followed by a whole, valid conversation as one end sees it;
 * ring seeds are small programs of ring and cursor operations (fuzz-ring.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diode-msg.h"

static const gchar *out_dir;

static const gchar *const two_addresses[] = {
  "0x00112233445566778899aabbccddeeff00112233",
  "0xAbCdEf0123456789abcdef0123456789ABCDEF01",
  NULL
};

static void
write_file (const gchar * sub, const gchar * name, const guint8 * d, gsize n)
{
  gchar *dir = g_build_filename (out_dir, sub, NULL);
  gchar *path = g_build_filename (dir, name, NULL);
  GError *err = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0) {
    fprintf (stderr, "make-corpus: %s: %s\n", dir, g_strerror (errno));
    exit (1);
  }
  if (!g_file_set_contents (path, (const gchar *) d, n, &err)) {
    fprintf (stderr, "make-corpus: %s\n", err->message);
    exit (1);
  }
  g_free (path);
  g_free (dir);
}

/* Writes @frame (consumed) as a frame seed. */
static void
frame_seed (const gchar * name, GBytes * frame)
{
  gsize n;
  const guint8 *d;

  if (frame == NULL) {
    fprintf (stderr, "make-corpus: encoder refused seed %s\n", name);
    exit (1);
  }
  d = g_bytes_get_data (frame, &n);
  write_file ("frame", name, d, n);
  g_bytes_unref (frame);
}

static GBytes *
raw (guint8 type, guint8 flags, guint16 rsv, guint32 announced,
    const void *payload, gsize len)
{
  guint8 *f = g_malloc (DIODE_FRAME_HEADER_SIZE + len);

  f[0] = type;
  f[1] = flags;
  f[2] = rsv >> 8;
  f[3] = rsv;
  f[4] = announced >> 24;
  f[5] = announced >> 16;
  f[6] = announced >> 8;
  f[7] = announced;
  if (len)
    memcpy (f + DIODE_FRAME_HEADER_SIZE, payload, len);
  return g_bytes_new_take (f, DIODE_FRAME_HEADER_SIZE + len);
}

/* @frame with @extra bytes appended to its payload (a later version's
 * fields). Consumes @frame. */
static GBytes *
with_extension (GBytes * frame, const gchar * extra)
{
  gsize n, e = strlen (extra);
  const guint8 *d = g_bytes_get_data (frame, &n);
  GBytes *out = raw (d[0], 0, 0, n - 8 + e, NULL, 0);
  GByteArray *a = g_bytes_unref_to_array (out);

  g_byte_array_append (a, d + 8, n - 8);
  g_byte_array_append (a, (const guint8 *) extra, e);
  g_bytes_unref (frame);
  return g_byte_array_free_to_bytes (a);
}

/* @frame cut to @keep bytes, header length kept consistent. Consumes. */
static GBytes *
truncated (GBytes * frame, gsize keep)
{
  gsize n;
  const guint8 *d = g_bytes_get_data (frame, &n);
  GBytes *out = raw (d[0], 0, 0, keep - 8, d + 8, keep - 8);

  g_bytes_unref (frame);
  return out;
}

static GBytes *
media (guint64 seq, guint32 flags, gsize len)
{
  guint8 *p = g_malloc (len ? len : 1);
  GBytes *f;
  gsize i;

  for (i = 0; i < len; i++)
    p[i] = (guint8) (i * 7 + seq);
  if (len >= 5) {
    /* looks like an H.264 start code + NAL header */
    p[0] = p[1] = p[2] = 0;
    p[3] = 1;
    p[4] = (flags & DIODE_MEDIA_KEYFRAME) ? 0x65 : 0x41;
  }
  f = diode_msg_encode_media (seq, seq * 33333333, seq * 33333333 - 1000,
      33333333, DIODE_TIME_NONE, DIODE_TIME_NONE, flags, p, len);
  g_free (p);
  return f;
}

#define H264_CAPS "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)640, height=(int)480, " \
  "framerate=(fraction)30/1, profile=(string)constrained-baseline"

static void
frame_seeds (void)
{
  static const guint8 bad_utf8_agent[] = {
    0, 1, 0, 1, 2, 0, 3, 'a', 0xc3, 0x28
  };
  static const guint8 slash_name[] = { 0, 3, 'a', '/', 'b' };
  static const guint8 big_caps_len[] = { 0xff, 0xff, 0xff, 0xff, 'x' };

  frame_seed ("hello-publisher",
      diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "diodesink/0.1"));
  frame_seed ("hello-viewer",
      diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "diodesrc/0.1"));
  frame_seed ("hello-relay",
      diode_msg_encode_hello (1, 1, DIODE_ROLE_RELAY, ""));
  frame_seed ("hello-ext",
      with_extension (diode_msg_encode_hello (1, 2, DIODE_ROLE_VIEWER,
              "x"), "future"));
  frame_seed ("welcome",
      diode_msg_encode_welcome (1, 5000, "diode-relay/0.1 \xc3\xa9t\xc3\xa9"));
  frame_seed ("publish-bare", truncated (diode_msg_encode_publish ("pi-taipei"),
          8 + 2 + 9));
  frame_seed ("publish-public", diode_msg_encode_publish ("pi-taipei"));
  frame_seed ("publish-protected",
      diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PROTECTED,
          "my-fleet", NULL));
  frame_seed ("publish-private",
      diode_msg_encode_publish_policy ("\xe5\x8f\xb0\xe5\x8c\x97",
          DIODE_ACCESS_PRIVATE, "", two_addresses));
  frame_seed ("policy-public",
      diode_msg_encode_policy (DIODE_ACCESS_PUBLIC, NULL, NULL));
  frame_seed ("policy-private",
      diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, "f", two_addresses));
  frame_seed ("publish-ok", diode_msg_encode_publish_ok ("pi-taipei", 1));
  frame_seed ("subscribe",
      diode_msg_encode_subscribe ("pi-taipei", 0, 3000));
  frame_seed ("subscribe-resume",
      diode_msg_encode_subscribe ("pi-taipei", 12345, 0));
  frame_seed ("subscribe-ok",
      diode_msg_encode_subscribe_ok ("pi-taipei", 42));
  frame_seed ("caps", diode_msg_encode_caps (H264_CAPS));
  frame_seed ("caps-empty", diode_msg_encode_caps (""));
  frame_seed ("media-key", media (1, DIODE_MEDIA_KEYFRAME, 64));
  frame_seed ("media-delta", media (2, 0, 32));
  frame_seed ("media-header",
      media (3, DIODE_MEDIA_KEYFRAME | DIODE_MEDIA_HEADER |
          DIODE_MEDIA_STREAMHEADER, 16));
  frame_seed ("media-empty", media (4, DIODE_MEDIA_GAP, 0));
  frame_seed ("media-unset",
      diode_msg_encode_media (5, DIODE_TIME_NONE, DIODE_TIME_NONE,
          DIODE_TIME_NONE, 0, 100, 0x7f, (const guint8 *) "x", 1));
  frame_seed ("eos", diode_msg_encode_eos (7));
  frame_seed ("ping", diode_msg_encode_ping (G_GUINT64_CONSTANT (0x0123456789abcdef)));
  frame_seed ("pong", diode_msg_encode_pong (1));
  frame_seed ("error-not-found",
      diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "no stream 'x'"));
  frame_seed ("error-protocol",
      diode_msg_encode_error (DIODE_ERR_PROTOCOL, "unexpected MEDIA"));
  /* text fields at their limit, and a caps string past a 4096-byte
   * boundary (the input doubles as free text for the encoders) */
  {
    gchar *text = g_strnfill (DIODE_MAX_TEXT, 'a');

    memcpy (text + DIODE_MAX_TEXT - 3, "\xe2\x82\xac", 3);    /* ends in U+20AC */
    frame_seed ("hello-max-agent",
        diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, text));
    frame_seed ("error-max-text",
        diode_msg_encode_error (DIODE_ERR_INTERNAL, text));
    g_free (text);
  }
  /* PUBLISH at its largest: 2048 addresses, longest name and fleet (fits
   * the 48 KiB limit of its type) */
  {
    gchar *name = g_strnfill (DIODE_MAX_STREAM_NAME, 'n');
    gchar **allow = g_new0 (gchar *, DIODE_MAX_ALLOW + 1);
    guint i;

    for (i = 0; i < DIODE_MAX_ALLOW; i++)
      allow[i] = g_strdup_printf ("0x%040x", i * 2654435761u);
    frame_seed ("publish-max", diode_msg_encode_publish_policy (name,
            DIODE_ACCESS_PRIVATE, name, (const gchar * const *) allow));
    g_strfreev (allow);
    g_free (name);
  }
  /* malformed */
  frame_seed ("bad-hello-too-large", raw (DIODE_MSG_HELLO, 0, 0,
          DIODE_MAX_TEXT_PAYLOAD + 1, NULL, 0));
  frame_seed ("bad-truncated-hello",
      truncated (diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "agent"),
          12));
  frame_seed ("bad-utf8-agent", raw (DIODE_MSG_HELLO, 0, 0,
          sizeof (bad_utf8_agent), bad_utf8_agent, sizeof (bad_utf8_agent)));
  frame_seed ("bad-slash-name", raw (DIODE_MSG_SUBSCRIBE, 0, 0,
          sizeof (slash_name), slash_name, sizeof (slash_name)));
  frame_seed ("bad-caps-length", raw (DIODE_MSG_CAPS, 0, 0,
          sizeof (big_caps_len), big_caps_len, sizeof (big_caps_len)));
  frame_seed ("bad-too-large", raw (DIODE_MSG_PING, 0, 0, 0x10001, NULL, 0));
  frame_seed ("bad-flags", raw (DIODE_MSG_PING, 1, 0, 0, NULL, 0));
  frame_seed ("bad-type", raw (0x44, 0, 0, 0, NULL, 0));

  /* relay links (version 2; fuzz-frame reads every seed both ways) */
  frame_seed ("link", diode_msg_encode_link ());
  frame_seed ("link-ok", diode_msg_encode_link_ok (two_addresses));
  frame_seed ("link-ok-empty", diode_msg_encode_link_ok (NULL));
  frame_seed ("announce-available",
      diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam",
          two_addresses[0], DIODE_ACCESS_PRIVATE, "fleet", two_addresses,
          two_addresses));
  frame_seed ("announce-withdrawn",
      diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL, 0,
          NULL, NULL, NULL));
  frame_seed ("pull", diode_msg_encode_pull ("cam", 77, two_addresses));
  frame_seed ("publish-relay", diode_msg_encode_publish_relay ("cam",
          DIODE_ACCESS_PROTECTED, "fleet", NULL, two_addresses[1],
          two_addresses));
  frame_seed ("subscribe-relay", diode_msg_encode_subscribe_relay ("cam", 9,
          3000, NULL, two_addresses));
  frame_seed ("subscribe-ok-relay", diode_msg_encode_subscribe_ok_relay ("cam",
          9, two_addresses[0], DIODE_ACCESS_PUBLIC, "", NULL, two_addresses));
  {
    /* a path of 33 (202) and one that ends early (200) */
    guint8 p[1 + 33 * 20];

    memset (p, 0x42, sizeof (p));
    p[0] = 33;
    frame_seed ("bad-path-33", raw (DIODE_MSG_LINK_OK, 0, 0, sizeof (p), p,
            sizeof (p)));
    p[0] = 2;
    frame_seed ("bad-path-short", raw (DIODE_MSG_LINK_OK, 0, 0, 30, p, 30));
  }
  {
    static const guint8 op7[] = { 7, 0, 3, 'c', 'a', 'm' };

    frame_seed ("bad-announce-op", raw (DIODE_MSG_ANNOUNCE, 0, 0,
            sizeof (op7), op7, sizeof (op7)));
  }

  /* recordings (version 3; fuzz-frame reads every seed at versions 1, 2
   * and 3): the v3 blocks, every new frame, and their refusals */
  {
    DiodePublishArgs pa = { "cam", DIODE_ACCESS_PRIVATE, "fleet",
      two_addresses, two_addresses[0], two_addresses,
      DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD
    };
    DiodeSubscribeArgs sa = { "cam", 0, 3000, two_addresses[1], two_addresses,
      DIODE_START_WALLCLOCK, G_GUINT64_CONSTANT (1767225600000000),
      DIODE_SNAP_NEAREST
    };
    DiodeSubscribeOkArgs oa = { "cam", 100, two_addresses[0],
      DIODE_ACCESS_PROTECTED, "fleet", NULL, two_addresses,
      DIODE_STREAM_RECORDING, G_GUINT64_CONSTANT (2000000000)
    };
    DiodeSpan spans[3] = {
      {1, 99, 0, 3300000000, 1767225600000000, 1767225603300000},
      {120, 200, 4000000000, 6700000000, 1767225604000000, 1767225606700000},
      {300, 301, DIODE_TIME_NONE, DIODE_TIME_NONE, 0, 0},
    };
    DiodeChunkHeader ch = { 100, 131, 2000000000, 4000000000,
      1767225600000000, DIODE_CHUNK_KEYFRAME | DIODE_CHUNK_DISCONT, 2, 34,
      200000, 0xcbf43926
    };

    frame_seed ("v3-publish", diode_msg_encode_publish_args (&pa, 3,
            DIODE_ROLE_PUBLISHER));
    frame_seed ("v3-publish-relay", diode_msg_encode_publish_args (&pa, 3,
            DIODE_ROLE_RELAY));
    frame_seed ("v3-publish-ok", diode_msg_encode_publish_ok_v ("cam", 5,
            DIODE_STORE_UNAVAILABLE, 3));
    frame_seed ("v3-subscribe", diode_msg_encode_subscribe_args (&sa, 3,
            DIODE_ROLE_VIEWER));
    frame_seed ("v3-subscribe-relay", diode_msg_encode_subscribe_args (&sa, 3,
            DIODE_ROLE_RELAY));
    frame_seed ("v3-subscribe-ok", diode_msg_encode_subscribe_ok_args (&oa, 3,
            DIODE_ROLE_VIEWER));
    frame_seed ("v3-subscribe-ok-relay",
        diode_msg_encode_subscribe_ok_args (&oa, 3, DIODE_ROLE_RELAY));
    frame_seed ("v3-range", diode_msg_encode_range ("cam", DIODE_RANGE_LOCAL));
    frame_seed ("v3-range-ok", diode_msg_encode_range_ok ("cam",
            DIODE_STREAM_LIVE_RECORDED, two_addresses[0],
            DIODE_ACCESS_PRIVATE, "fleet", two_addresses, spans, 3));
    frame_seed ("v3-range-ok-empty", diode_msg_encode_range_ok ("cam",
            DIODE_STREAM_LIVE, NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, NULL,
            0));
    frame_seed ("v3-fetch", diode_msg_encode_fetch ("cam", 100, 163,
            DIODE_RANGE_LOCAL));
    frame_seed ("v3-chunk", diode_msg_encode_chunk (&ch));
    frame_seed ("v3-fetch-end", diode_msg_encode_fetch_end (164,
            DIODE_FETCH_MORE));
    frame_seed ("v3-stored", diode_msg_encode_stored (163, 1048576, TRUE));
  }
  {
    /* UPLOAD without RECORD; start_mode 5; a span count of 257; a CHUNK
     * of 0 frames; FETCH backwards; STORED final 2 */
    static const guint8 upload_only[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0,
      0, 0, 0, 2
    };
    static const guint8 mode5[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0
    };
    static const guint8 spans257[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0, 0,
      0, 1, 1
    };
    static const guint8 chunk0[60] = { 0, };
    static const guint8 backwards[] = { 0, 3, 'c', 'a', 'm', 0, 0, 0, 0, 0,
      0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 8, 0
    };
    static const guint8 final2[17] = { [16] = 2 };

    frame_seed ("bad-v3-upload-only", raw (DIODE_MSG_PUBLISH, 0, 0,
            sizeof (upload_only), upload_only, sizeof (upload_only)));
    frame_seed ("bad-v3-start-mode", raw (DIODE_MSG_SUBSCRIBE, 0, 0,
            sizeof (mode5), mode5, sizeof (mode5)));
    frame_seed ("bad-v3-spans-257", raw (DIODE_MSG_RANGE_OK, 0, 0,
            sizeof (spans257), spans257, sizeof (spans257)));
    frame_seed ("bad-v3-chunk-0", raw (DIODE_MSG_CHUNK, 0, 0,
            sizeof (chunk0), chunk0, sizeof (chunk0)));
    frame_seed ("bad-v3-fetch-backwards", raw (DIODE_MSG_FETCH, 0, 0,
            sizeof (backwards), backwards, sizeof (backwards)));
    frame_seed ("bad-v3-stored-final", raw (DIODE_MSG_STORED, 0, 0,
            sizeof (final2), final2, sizeof (final2)));
    frame_seed ("bad-v3-range-ok-too-large", raw (DIODE_MSG_RANGE_OK, 0, 0,
            DIODE_MAX_RANGE_OK_PAYLOAD + 1, NULL, 0));
  }

  /* direct paths (version 4; fuzz-frame reads every seed at version 4 as
   * a viewer, a publisher and a relay link too): SIGNAL of each kind,
   * PATH, the WELCOME v4 block, and their refusals */
  {
    gchar *big = g_strnfill (DIODE_MAX_SIGNAL_DATA, 'c');
    static const guint8 sid0[] = { 0, 0, 0, 0, 1, 0, 0, 0, 0 };
    static const guint8 kind6[] = { 0, 0, 0, 1, 6, 0, 0, 0, 0 };
    static const guint8 upper_peer[] = { 0, 0, 0, 1, 3, 0, 42,
      '0', 'x', 'A', 'B', 'C', 'D', 'E', 'F', '0', '1', '2', '3', '4', '5',
      '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f', '0', '1', '2', '3',
      '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 0, 0
    };
    static const guint8 path2[] = { 2, 0, 0, 0, 0, 0, 0, 0, 1 };

    frame_seed ("v4-signal-offer", diode_msg_encode_signal (1,
            DIODE_SIGNAL_OFFER, NULL, "Abcd 0123456789abcdefghijkl"));
    frame_seed ("v4-signal-answer", diode_msg_encode_signal (0x80000001,
            DIODE_SIGNAL_ANSWER, two_addresses[0], "wxyz 0123456789ABCDEFGHIJKL"));
    frame_seed ("v4-signal-candidate", diode_msg_encode_signal (9,
            DIODE_SIGNAL_CANDIDATE, two_addresses[1],
            "candidate:1 1 UDP 2013266431 192.168.1.20 50000 typ host"));
    frame_seed ("v4-signal-gathered", diode_msg_encode_signal (9,
            DIODE_SIGNAL_GATHERED, NULL, ""));
    frame_seed ("v4-signal-close-2048", diode_msg_encode_signal (G_MAXUINT32,
            DIODE_SIGNAL_CLOSE, two_addresses[0], big));
    frame_seed ("v4-path-direct", diode_msg_encode_path (DIODE_PATH_DIRECT,
            12));
    frame_seed ("v4-path-relay", diode_msg_encode_path (DIODE_PATH_RELAY,
            G_MAXUINT64));
    frame_seed ("v4-welcome", diode_msg_encode_welcome_v (4, 2000,
            "diode-relay", 3478));
    frame_seed ("v4-welcome-no-block", diode_msg_encode_welcome (4, 2000,
            "diode-relay"));
    frame_seed ("bad-v4-signal-sid0", raw (DIODE_MSG_SIGNAL, 0, 0,
            sizeof (sid0), sid0, sizeof (sid0)));
    frame_seed ("bad-v4-signal-kind6", raw (DIODE_MSG_SIGNAL, 0, 0,
            sizeof (kind6), kind6, sizeof (kind6)));
    frame_seed ("bad-v4-signal-upper-peer", raw (DIODE_MSG_SIGNAL, 0, 0,
            sizeof (upper_peer), upper_peer, sizeof (upper_peer)));
    frame_seed ("bad-v4-path-2", raw (DIODE_MSG_PATH, 0, 0, sizeof (path2),
            path2, sizeof (path2)));
    frame_seed ("bad-v4-signal-too-large", raw (DIODE_MSG_SIGNAL, 0, 0,
            DIODE_MAX_SIGNAL_PAYLOAD + 1, NULL, 0));
    g_free (big);
  }

  /* listing streams (appended to version 4, section 19): LIST of both
   * modes, LISTING empty, of a full entry, a bare one, a stored one, and their
   * refusals */
  {
    DiodeListEntry e[2] = {
      {(gchar *) "cam", DIODE_LIST_RECORDING, DIODE_ACCESS_PRIVATE, 1,
            (gchar *) "0x00112233445566778899aabbccddeeff01234567", 7, 3,
            4000000, (gchar *) "h264", 1920, 1080, 29970, 12345, 60000,
          G_GUINT64_CONSTANT (1) << 30, G_GUINT64_CONSTANT (1) << 31},
      {(gchar *) "z", 0, 0, 0, NULL, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0},
    };
    static const guint8 mode2[] = { 2, 0, 3, 'c', 'a', 'm' };
    static const guint8 flags2[] = { 2, 0, 0 };
    static const guint8 count1001[] = { 0, 0x03, 0xe9 };

    frame_seed ("v4-list-all", diode_msg_encode_list (DIODE_LIST_ALL, NULL));
    frame_seed ("v4-list-after", diode_msg_encode_list (DIODE_LIST_ALL,
            "cam"));
    frame_seed ("v4-list-one", diode_msg_encode_list (DIODE_LIST_ONE,
            "cam"));
    frame_seed ("v4-listing-empty", diode_msg_encode_listing (0, NULL, 0));
    frame_seed ("v4-listing-two", diode_msg_encode_listing
        (DIODE_LISTING_TRUNCATED, e, 2));
    /* a recording held only in the store (state 3, stored) */
    e[0].state = DIODE_LIST_STORED;
    frame_seed ("v4-listing-stored", diode_msg_encode_listing (0, e, 1));
    e[0].state = DIODE_LIST_RECORDING;
    frame_seed ("bad-v4-list-mode2", raw (DIODE_MSG_LIST, 0, 0,
            sizeof (mode2), mode2, sizeof (mode2)));
    frame_seed ("bad-v4-listing-flags", raw (DIODE_MSG_LISTING, 0, 0,
            sizeof (flags2), flags2, sizeof (flags2)));
    frame_seed ("bad-v4-listing-count", raw (DIODE_MSG_LISTING, 0, 0,
            sizeof (count1001), count1001, sizeof (count1001)));
  }
}

/* ------------------------------------------------------------------------ */
/* Session transcripts                                                      */

typedef struct
{
  GByteArray *a;
} Transcript;

static Transcript *
transcript_new (void)
{
  Transcript *t = g_new0 (Transcript, 1);

  t->a = g_byte_array_new ();
  return t;
}

/* Appends @frame (consumed). */
static void
add (Transcript * t, GBytes * frame)
{
  gsize n;
  const guint8 *d;

  if (frame == NULL) {
    fprintf (stderr, "make-corpus: encoder refused a transcript frame\n");
    exit (1);
  }
  d = g_bytes_get_data (frame, &n);
  g_byte_array_append (t->a, d, n);
  g_bytes_unref (frame);
}

/* Writes the transcript with control byte @ctl; split pattern 7 needs a
 * length byte before each chunk. Frees @t. */
static void
session_seed (const gchar * name, guint8 ctl, Transcript * t)
{
  GByteArray *out = g_byte_array_new ();
  gchar *file = g_strdup_printf ("%s-p%u", name, (ctl >> 1) & 7);

  g_byte_array_append (out, &ctl, 1);
  if (((ctl >> 1) & 7) == 7) {
    gsize pos = 0;
    guint i = 0;

    while (pos < t->a->len) {
      guint8 lenbyte = (guint8) ((i * 37 + 4) % 60);    /* chunks of 5..60 */
      gsize n = MIN ((gsize) lenbyte + 1, t->a->len - pos);

      lenbyte = n - 1;
      g_byte_array_append (out, &lenbyte, 1);
      g_byte_array_append (out, t->a->data + pos, n);
      pos += n;
      i++;
    }
  } else {
    g_byte_array_append (out, t->a->data, t->a->len);
  }
  write_file ("session", file, out->data, out->len);
  g_byte_array_unref (out);
  g_byte_array_unref (t->a);
  g_free (t);
  g_free (file);
}

#define CTL(end, pattern, bits) ((guint8) ((end) | ((pattern) << 1) | (bits)))
#define RELAY 0
#define CLIENT 1
#define VIEWER_BIT 0x10
#define REFUSE_BIT 0x20
#define SHUTDOWN_BIT 0x80
#define LINK_BIT 0x40           /* client end, without SHUTDOWN_BIT */

/* What a publisher sends: @n frames in GOPs of 4, starting with seq 1. */
static void
publisher_stream (Transcript * t, guint n, gsize size)
{
  guint i;

  add (t, diode_msg_encode_caps (H264_CAPS));
  add (t, media (1, DIODE_MEDIA_HEADER | DIODE_MEDIA_STREAMHEADER
          | DIODE_MEDIA_KEYFRAME, 12));
  for (i = 2; i < n + 2; i++)
    add (t, media (i, (i % 4 == 2) ? DIODE_MEDIA_KEYFRAME : 0, size));
  add (t, diode_msg_encode_eos (n + 1));
}

static void
session_seeds (void)
{
  Transcript *t;
  guint p;

  /* relay end: a publisher, under every split pattern */
  for (p = 0; p < 8; p++) {
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "diodesink"));
    add (t, diode_msg_encode_publish ("pi-taipei"));
    publisher_stream (t, 6, 40 + p * 10);
    session_seed ("relay-publisher", CTL (RELAY, p, p & 1 ? SHUTDOWN_BIT : 0),
        t);
  }
  /* relay end: publisher with a private policy, then a POLICY change */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 2, DIODE_ROLE_PUBLISHER, "cam"));
  add (t, diode_msg_encode_publish_policy ("cam", DIODE_ACCESS_PRIVATE, "",
          two_addresses));
  add (t, diode_msg_encode_ping (1));
  add (t, diode_msg_encode_policy (DIODE_ACCESS_PROTECTED, "fleet", NULL));
  publisher_stream (t, 3, 20);
  session_seed ("relay-policy", CTL (RELAY, 0, 0), t);
  /* relay end: refused PUBLISH (name in use), retried under another name */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "diodesink"));
  add (t, diode_msg_encode_publish ("taken"));
  add (t, diode_msg_encode_publish ("free"));
  publisher_stream (t, 2, 10);
  session_seed ("relay-refused-publish", CTL (RELAY, 6, REFUSE_BIT), t);
  /* relay end: a viewer */
  for (p = 0; p < 8; p += 3) {
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "diodesrc"));
    add (t, diode_msg_encode_subscribe ("pi-taipei", 0, 3000));
    add (t, diode_msg_encode_ping (7));
    add (t, diode_msg_encode_pong (8));
    add (t, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "client says"));
    session_seed ("relay-viewer", CTL (RELAY, p, p ? REFUSE_BIT : 0), t);
  }
  /* relay end: a version-4 viewer lists (section 19), twice (answered or
   * refused with 107), then subscribes */
  for (p = 0; p < 2; p++) {
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 4, DIODE_ROLE_VIEWER, "diode-tool"));
    add (t, diode_msg_encode_list (DIODE_LIST_ALL, NULL));
    add (t, diode_msg_encode_list (DIODE_LIST_ONE, "pi-taipei"));
    add (t, diode_msg_encode_subscribe ("pi-taipei", 0, 3000));
    session_seed (p ? "relay-viewer-list-refused" : "relay-viewer-list",
        CTL (RELAY, 1, p ? REFUSE_BIT : 0), t);
  }
  /* relay end: another relay pushing a stream (a push connection), then a
   * fatal ERROR */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY, "diode-relay"));
  add (t, diode_msg_encode_publish_relay ("upstream", DIODE_ACCESS_PUBLIC,
          NULL, NULL, two_addresses[0], two_addresses));
  publisher_stream (t, 2, 8);
  add (t, diode_msg_encode_error (DIODE_ERR_SHUTDOWN, "bye"));
  session_seed ("relay-link", CTL (RELAY, 2, 0), t);
  /* relay end: a relay that speaks only version 1 (refused with 201) */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_RELAY, "old-relay"));
  add (t, diode_msg_encode_link ());
  session_seed ("relay-link-v1", CTL (RELAY, 0, 0), t);
  /* relay end: a child's control link: LINK, announcements, keepalive; and
   * the same refused once (104) then accepted */
  for (p = 0; p < 8; p += 7) {
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY, "child"));
    add (t, diode_msg_encode_link ());
    if (p)
      add (t, diode_msg_encode_link ());
    add (t, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, "cam",
            two_addresses[0], DIODE_ACCESS_PUBLIC, NULL, NULL,
            two_addresses));
    add (t, diode_msg_encode_ping (5));
    add (t, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN, "cam", NULL,
            0, NULL, NULL, NULL));
    add (t, diode_msg_encode_error (DIODE_ERR_LOOP, "I am in your path"));
    session_seed ("relay-control-link", CTL (RELAY, p, p ? REFUSE_BIT : 0),
        t);
  }
  /* relay end: a relay pulling a stream */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY, "child"));
  add (t, diode_msg_encode_subscribe_relay ("cam", 12, 2000, NULL,
          two_addresses));
  add (t, diode_msg_encode_pong (1));
  session_seed ("relay-pull", CTL (RELAY, 3, 0), t);

  /* client end of relay links: the control link (LINK_OK, PULL, the path
   * changing), a refused LINK retried, a pull with a POLICY change */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (2, 800, "diode-relay"));
  add (t, diode_msg_encode_link_ok (two_addresses));
  add (t, diode_msg_encode_pull ("cam", 0, two_addresses));
  add (t, diode_msg_encode_ping (2));
  add (t, diode_msg_encode_link_ok (NULL));
  add (t, diode_msg_encode_pull ("cam2", 5, NULL));
  session_seed ("client-control-link", CTL (CLIENT, 0, LINK_BIT), t);
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (2, 800, "diode-relay"));
  add (t, diode_msg_encode_error (DIODE_ERR_LOOP, "cycle"));
  add (t, diode_msg_encode_link_ok (two_addresses));
  add (t, diode_msg_encode_pull ("cam", 0, NULL));
  session_seed ("client-control-link-refused", CTL (CLIENT, 6,
          LINK_BIT | REFUSE_BIT), t);
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (2, 800, "diode-relay"));
  add (t, diode_msg_encode_subscribe_ok_relay ("cam", 1, two_addresses[0],
          DIODE_ACCESS_PROTECTED, "fleet", NULL, two_addresses));
  add (t, diode_msg_encode_caps (H264_CAPS));
  add (t, media (1, DIODE_MEDIA_KEYFRAME, 30));
  add (t, diode_msg_encode_policy (DIODE_ACCESS_PRIVATE, NULL,
          two_addresses));
  add (t, media (2, 0, 20));
  add (t, diode_msg_encode_eos (2));
  session_seed ("client-pull", CTL (CLIENT, 7, LINK_BIT | VIEWER_BIT), t);
  /* a relay that answers a relay with version 1: refused (201) */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (1, 800, "old-relay"));
  add (t, diode_msg_encode_publish_ok ("cam", 1));
  add (t, diode_msg_encode_link_ok (NULL));
  session_seed ("client-link-v1", CTL (CLIENT, 2, LINK_BIT), t);
  /* relay end: one MEDIA frame larger than the first buffer allocation */
  t = transcript_new ();
  add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "big"));
  add (t, diode_msg_encode_publish ("big"));
  add (t, media (1, DIODE_MEDIA_KEYFRAME, 4200));
  add (t, media (2, 0, 100));
  session_seed ("relay-large-media", CTL (RELAY, 5, 0), t);

  /* relay end, refused from the header (docs/protocol.md section 3): a
   * viewer sending a 16 MiB MEDIA, fed in pieces so the payload keeps
   * coming after the refusal */
  {
    static const guint8 payload[200];

    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "diodesrc"));
    add (t, diode_msg_encode_subscribe ("pi-taipei", 0, 3000));
    add (t, raw (DIODE_MSG_MEDIA, 0, 0, DIODE_MAX_MEDIA_PAYLOAD, payload,
            sizeof (payload)));
    session_seed ("relay-viewer-media", CTL (RELAY, 6, 0), t);
    /* a viewer's CAPS before it subscribed */
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "diodesrc"));
    add (t, raw (DIODE_MSG_CAPS, 0, 0, 1024 * 1024, payload,
            sizeof (payload)));
    session_seed ("relay-viewer-caps", CTL (RELAY, 2, 0), t);
    /* an oversized HELLO */
    t = transcript_new ();
    add (t, raw (DIODE_MSG_HELLO, 0, 0, 60000, payload, sizeof (payload)));
    session_seed ("relay-big-hello", CTL (RELAY, 4, 0), t);
    /* media to a publisher */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
    add (t, diode_msg_encode_publish_ok ("pi-taipei", 1));
    add (t, raw (DIODE_MSG_MEDIA, 0, 0, 4096, payload, sizeof (payload)));
    session_seed ("client-publisher-media", CTL (CLIENT, 3, 0), t);
  }
  /* relay end: a client that says why it gives up before HELLO (a 1xx
   * ERROR is legal there), then goes on */
  t = transcript_new ();
  add (t, diode_msg_encode_error (DIODE_ERR_NOT_AUTHORIZED, "pin mismatch"));
  add (t, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER, "diodesink"));
  add (t, diode_msg_encode_publish ("pi-taipei"));
  publisher_stream (t, 2, 10);
  session_seed ("relay-error-before-hello", CTL (RELAY, 0, 0), t);

  /* client end: publisher */
  for (p = 0; p < 8; p += 2) {
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
    add (t, diode_msg_encode_publish_ok ("pi-taipei", 1));
    add (t, diode_msg_encode_ping (3));
    add (t, diode_msg_encode_pong (4));
    session_seed ("client-publisher", CTL (CLIENT, p, 0), t);
  }
  /* client end: publisher refused then accepted */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
  add (t, diode_msg_encode_error (DIODE_ERR_NAME_IN_USE, "taken"));
  add (t, diode_msg_encode_publish_ok ("pi-taipei", 100));
  session_seed ("client-publisher-refused", CTL (CLIENT, 3, REFUSE_BIT), t);
  /* client end: viewer watching a stream, under every split pattern */
  for (p = 0; p < 8; p++) {
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
    add (t, diode_msg_encode_subscribe_ok ("pi-taipei", 1));
    publisher_stream (t, 5, 30 + p * 7);
    session_seed ("client-viewer", CTL (CLIENT, p, VIEWER_BIT
            | (p & 1 ? SHUTDOWN_BIT : 0)), t);
  }
  /* client end: viewer refused (not found), retries, then the relay shuts
   * down */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
  add (t, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "no such stream"));
  add (t, diode_msg_encode_subscribe_ok ("pi-taipei", 9));
  add (t, media (9, DIODE_MEDIA_KEYFRAME, 50));
  add (t, media (10, 0, 20));
  add (t, diode_msg_encode_error (DIODE_ERR_SHUTDOWN, "relay stopping"));
  session_seed ("client-viewer-refused", CTL (CLIENT, 6,
          VIEWER_BIT | REFUSE_BIT), t);
  /* client end: large MEDIA to a viewer */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
  add (t, diode_msg_encode_subscribe_ok ("big", 1));
  add (t, media (1, DIODE_MEDIA_KEYFRAME, 4500));
  session_seed ("client-large-media", CTL (CLIENT, 1, VIEWER_BIT), t);
  /* ---- version 3: recordings ---- */
  {
    DiodePublishArgs pa = { "cam", DIODE_ACCESS_PUBLIC, NULL, NULL, NULL,
      NULL, DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD
    };
    DiodeSubscribeArgs sa = { "cam", 0, 1000, NULL, NULL, DIODE_START_BACK,
      G_GUINT64_CONSTANT (30000000000), DIODE_SNAP_BEFORE
    };
    DiodeSubscribeOkArgs oa = { "cam", 5, NULL, 0, NULL, NULL, NULL,
      DIODE_STREAM_LIVE_RECORDED, 5 * 33333333
    };
    DiodeSpan span = { 1, 9, 33333333, 330000000, 1767225600000000,
      1767225600300000
    };
    GBytes *caps = diode_msg_encode_caps (H264_CAPS);
    GBytes *hdr = media (1, DIODE_MEDIA_HEADER | DIODE_MEDIA_STREAMHEADER
        | DIODE_MEDIA_KEYFRAME, 12);
    GBytes *m2 = media (2, DIODE_MEDIA_KEYFRAME, 30);
    GBytes *m3 = media (3, 0, 20);
    GBytes *m4 = media (4, DIODE_MEDIA_KEYFRAME, 30);
    GBytes *eos = diode_msg_encode_eos (4);
    DiodeChunkHeader c1 = { 2, 3, 2 * 33333333, 4 * 33333333,
      1767225600000000, DIODE_CHUNK_KEYFRAME, 2, 4, 0, 0
    };
    DiodeChunkHeader c2 = { 4, 4, 4 * 33333333, 5 * 33333333,
      1767225600100000, DIODE_CHUNK_KEYFRAME | DIODE_CHUNK_EOS, 1, 3, 0, 0
    };

    c1.bytes = g_bytes_get_size (caps) + g_bytes_get_size (hdr)
        + g_bytes_get_size (m2) + g_bytes_get_size (m3);
    c1.crc = diode_chunk_crc (diode_chunk_crc (diode_chunk_crc
            (diode_chunk_crc (0, caps), hdr), m2), m3);
    c2.bytes = g_bytes_get_size (caps) + g_bytes_get_size (m4)
        + g_bytes_get_size (eos);
    c2.crc = diode_chunk_crc (diode_chunk_crc (diode_chunk_crc (0, caps), m4),
        eos);

    /* relay end: an upload, recorded */
    for (p = 0; p < 8; p += 5) {
      t = transcript_new ();
      add (t, diode_msg_encode_hello (1, 3, DIODE_ROLE_PUBLISHER, "diodesink"));
      add (t, diode_msg_encode_publish_args (&pa, 3, DIODE_ROLE_PUBLISHER));
      publisher_stream (t, 6, 30);
      session_seed ("v3-relay-upload", CTL (RELAY, p, 0), t);
    }
    /* relay end: a viewer asking RANGE, FETCH, then SUBSCRIBE BACK 30 s;
     * and the same refused (105, then 106 after a CHUNK) */
    for (p = 0; p < 8; p += 3) {
      t = transcript_new ();
      add (t, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "diodesrc"));
      add (t, diode_msg_encode_range ("cam", 0));
      add (t, diode_msg_encode_ping (1));
      add (t, diode_msg_encode_fetch ("cam", 1, 9, 0));
      add (t, diode_msg_encode_subscribe_args (&sa, 3, DIODE_ROLE_VIEWER));
      session_seed ("v3-relay-viewer", CTL (RELAY, p, p ? REFUSE_BIT : 0), t);
    }
    /* relay end: a peer relay fetching with LOCAL */
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 3, DIODE_ROLE_RELAY, "peer"));
    add (t, diode_msg_encode_range ("cam", DIODE_RANGE_LOCAL));
    add (t, diode_msg_encode_fetch ("cam", 100, 163, DIODE_RANGE_LOCAL));
    add (t, diode_msg_encode_fetch ("cam", 164, 200, DIODE_RANGE_LOCAL));
    session_seed ("v3-relay-peer", CTL (RELAY, 7, 0), t);
    /* relay end: RANGE from a publisher, and at version 2 (refused) */
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 3, DIODE_ROLE_PUBLISHER, "x"));
    add (t, diode_msg_encode_range ("cam", 0));
    session_seed ("v3-relay-range-publisher", CTL (RELAY, 0, 0), t);
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 2, DIODE_ROLE_VIEWER, "x"));
    add (t, diode_msg_encode_range ("cam", 0));
    session_seed ("v3-relay-range-v2", CTL (RELAY, 1, 0), t);

    /* client end: a version-3 viewer: RANGE_OK, a FETCH of two chunks
     * (prelude CAPS + stream header, then EOS at the end), FETCH_END, then
     * the live subscription */
    for (p = 0; p < 8; p++) {
      t = transcript_new ();
      add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
      add (t, diode_msg_encode_range_ok ("cam", DIODE_STREAM_LIVE_RECORDED,
              NULL, DIODE_ACCESS_PUBLIC, NULL, NULL, &span, 1));
      add (t, diode_msg_encode_chunk (&c1));
      add (t, g_bytes_ref (caps));
      add (t, g_bytes_ref (hdr));
      add (t, diode_msg_encode_ping (9));
      add (t, g_bytes_ref (m2));
      add (t, g_bytes_ref (m3));
      add (t, diode_msg_encode_chunk (&c2));
      add (t, g_bytes_ref (caps));
      add (t, g_bytes_ref (m4));
      add (t, g_bytes_ref (eos));
      add (t, diode_msg_encode_fetch_end (5, DIODE_FETCH_DONE));
      add (t, diode_msg_encode_subscribe_ok_args (&oa, 3, DIODE_ROLE_VIEWER));
      add (t, diode_msg_encode_caps (H264_CAPS));
      add (t, media (5, DIODE_MEDIA_KEYFRAME, 40));
      session_seed ("v3-client-viewer", CTL (CLIENT, p, VIEWER_BIT), t);
    }
    /* client end: refusals: 105 to RANGE, 106 in the middle of a chunk */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
    add (t, diode_msg_encode_error (DIODE_ERR_NOT_STORED, "not recorded"));
    add (t, diode_msg_encode_chunk (&c1));
    add (t, g_bytes_ref (caps));
    add (t, diode_msg_encode_error (DIODE_ERR_STORE_FAILED, "read error"));
    add (t, diode_msg_encode_subscribe_ok ("cam", 5));
    session_seed ("v3-client-viewer-refused", CTL (CLIENT, 6, VIEWER_BIT), t);
    /* client end: a frame larger than its CHUNK announced */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
    add (t, diode_msg_encode_range_ok ("cam", 0, NULL, 0, NULL, NULL, NULL,
            0));
    c2.bytes = 24;
    add (t, diode_msg_encode_chunk (&c2));
    add (t, g_bytes_ref (caps));
    session_seed ("v3-client-chunk-too-large", CTL (CLIENT, 0, VIEWER_BIT), t);
    /* client end: a version-3 publisher uploading: PUBLISH_OK RECORDING,
     * STORED progress, then final */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
    add (t, diode_msg_encode_publish_ok_v ("cam", 1, DIODE_STORE_RECORDING,
            3));
    add (t, diode_msg_encode_stored (10, 40960, FALSE));
    add (t, diode_msg_encode_ping (3));
    add (t, diode_msg_encode_stored (20, 81920, TRUE));
    session_seed ("v3-client-publisher", CTL (CLIENT, 2, 0), t);
    /* client end: a relay link at version 3 (a pull) */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
    {
      DiodeSubscribeOkArgs ra = { "cam", 1, two_addresses[0],
        DIODE_ACCESS_PROTECTED, "fleet", NULL, two_addresses,
        DIODE_STREAM_RECORDING, 0
      };
      add (t, diode_msg_encode_subscribe_ok_args (&ra, 3, DIODE_ROLE_RELAY));
    }
    add (t, diode_msg_encode_caps (H264_CAPS));
    add (t, media (1, DIODE_MEDIA_KEYFRAME, 30));
    session_seed ("v3-client-pull", CTL (CLIENT, 4, LINK_BIT | VIEWER_BIT),
        t);
    /* client end of an older release (1..1, SHUTDOWN_BIT) answered 3 */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (3, 800, "diode-relay"));
    session_seed ("v3-client-v1-offer", CTL (CLIENT, 0, SHUTDOWN_BIT), t);

    g_bytes_unref (caps);
    g_bytes_unref (hdr);
    g_bytes_unref (m2);
    g_bytes_unref (m3);
    g_bytes_unref (m4);
    g_bytes_unref (eos);
  }

  /* ---- version 4: direct paths ---- */
  {
    DiodePublishArgs pa = { "cam", DIODE_ACCESS_PUBLIC, NULL, NULL, NULL,
      NULL, DIODE_PUBLISH_DIRECT
    };

    /* relay end: a publisher offering direct paths, signalling while it
     * streams */
    for (p = 0; p < 8; p += 3) {
      t = transcript_new ();
      add (t, diode_msg_encode_hello (1, 4, DIODE_ROLE_PUBLISHER, "diodesink"));
      add (t, diode_msg_encode_publish_args (&pa, 4, DIODE_ROLE_PUBLISHER));
      add (t, diode_msg_encode_caps (H264_CAPS));
      add (t, media (1, DIODE_MEDIA_KEYFRAME, 30));
      add (t, diode_msg_encode_signal (1, DIODE_SIGNAL_ANSWER, NULL,
              "ufra 0123456789abcdefghijkl"));
      add (t, diode_msg_encode_signal (1, DIODE_SIGNAL_CANDIDATE, NULL,
              "candidate:1 1 UDP 2013266431 10.0.1.2 50000 typ host"));
      add (t, media (2, 0, 20));
      add (t, diode_msg_encode_signal (1, DIODE_SIGNAL_GATHERED, NULL, ""));
      add (t, diode_msg_encode_eos (2));
      add (t, diode_msg_encode_signal (1, DIODE_SIGNAL_CLOSE, NULL, "eos"));
      session_seed ("v4-relay-publisher", CTL (RELAY, p, 0), t);
    }
    /* relay end: a viewer offering, trickling, switching both ways */
    for (p = 0; p < 8; p += 4) {
      t = transcript_new ();
      add (t, diode_msg_encode_hello (1, 4, DIODE_ROLE_VIEWER, "diodesrc"));
      add (t, diode_msg_encode_subscribe ("cam", 0, 1000));
      add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_OFFER, NULL,
              "vwra 0123456789abcdefghijkl"));
      add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_CANDIDATE, NULL,
              "candidate:2 1 UDP 1677724415 203.0.113.9 61000 typ srflx "
              "raddr 10.0.2.2 rport 50000"));
      add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_GATHERED, NULL, ""));
      add (t, diode_msg_encode_path (DIODE_PATH_DIRECT, 40));
      add (t, diode_msg_encode_ping (4));
      add (t, diode_msg_encode_path (DIODE_PATH_RELAY, 90));
      add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_CLOSE, NULL, "down"));
      session_seed ("v4-relay-viewer", CTL (RELAY, p, p ? REFUSE_BIT : 0), t);
    }
    /* relay end: an ANSWER from a viewer (200), PATH from a publisher */
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 4, DIODE_ROLE_VIEWER, "x"));
    add (t, diode_msg_encode_subscribe ("cam", 0, 0));
    add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_ANSWER, NULL, "a b"));
    session_seed ("v4-relay-viewer-answer", CTL (RELAY, 0, 0), t);
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 4, DIODE_ROLE_PUBLISHER, "x"));
    add (t, diode_msg_encode_publish ("cam"));
    add (t, diode_msg_encode_path (DIODE_PATH_DIRECT, 1));
    session_seed ("v4-relay-publisher-path", CTL (RELAY, 1, 0), t);
    /* relay end: a version-3 viewer signalling (unknown type, 200) */
    t = transcript_new ();
    add (t, diode_msg_encode_hello (1, 3, DIODE_ROLE_VIEWER, "x"));
    add (t, diode_msg_encode_subscribe ("cam", 0, 0));
    add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_OFFER, NULL, "a b"));
    session_seed ("v4-relay-v3-viewer-signal", CTL (RELAY, 0, 0), t);

    /* client end: a publisher offered a session through the relay */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome_v (4, 800, "diode-relay", 3478));
    add (t, diode_msg_encode_publish_ok_v ("cam", 1, DIODE_STORE_NONE, 4));
    add (t, diode_msg_encode_signal (3, DIODE_SIGNAL_OFFER, two_addresses[1],
            "vwra 0123456789abcdefghijkl"));
    add (t, diode_msg_encode_signal (3, DIODE_SIGNAL_CANDIDATE,
            two_addresses[1], "candidate:1 1 TCP 1015022079 10.0.2.2 9 typ "
            "host tcptype active"));
    add (t, diode_msg_encode_ping (1));
    add (t, diode_msg_encode_signal (3, DIODE_SIGNAL_CLOSE, NULL,
            "replaced by a new offer"));
    session_seed ("v4-client-publisher", CTL (CLIENT, 5, 0), t);
    /* client end: a viewer (RANGE, FETCH, then SUBSCRIBE as at version 3),
     * answered, switching to the direct path and back: the relay resumes
     * below what was in flight (once) */
    for (p = 0; p < 8; p += 7) {
      t = transcript_new ();
      add (t, diode_msg_encode_welcome_v (4, 800, "diode-relay", 3478));
      add (t, diode_msg_encode_range_ok ("cam", DIODE_STREAM_LIVE, NULL,
              DIODE_ACCESS_PUBLIC, NULL, NULL, NULL, 0));
      add (t, diode_msg_encode_fetch_end (1, DIODE_FETCH_NONE));
      add (t, diode_msg_encode_subscribe_ok_from ("cam", 5,
              two_addresses[0]));
      add (t, diode_msg_encode_caps (H264_CAPS));
      add (t, media (5, DIODE_MEDIA_KEYFRAME, 30));
      add (t, media (6, 0, 10));
      add (t, diode_msg_encode_signal (7, DIODE_SIGNAL_ANSWER,
              two_addresses[0], "pubr 0123456789abcdefghijkl"));
      add (t, media (7, 0, 10));
      add (t, media (8, 0, 10));
      add (t, diode_msg_encode_caps (H264_CAPS));
      add (t, media (7, DIODE_MEDIA_KEYFRAME, 30));
      add (t, media (8, 0, 10));
      add (t, diode_msg_encode_eos (8));
      session_seed ("v4-client-viewer", CTL (CLIENT, p, VIEWER_BIT), t);
    }
    /* client end: a relay link at version 4 gets no SIGNAL */
    t = transcript_new ();
    add (t, diode_msg_encode_welcome (4, 800, "diode-relay"));
    {
      static const gchar *const path1[] = {
        "0x00112233445566778899aabbccddeeff00112233", NULL
      };
      add (t, diode_msg_encode_link_ok (path1));
    }
    add (t, diode_msg_encode_signal (1, DIODE_SIGNAL_CLOSE, NULL, "x"));
    session_seed ("v4-client-link-signal", CTL (CLIENT, 0, LINK_BIT), t);
  }

  /* client end: HELLO never sent (everything must be refused) */
  t = transcript_new ();
  add (t, diode_msg_encode_welcome (1, 5000, "diode-relay"));
  session_seed ("client-no-hello", CTL (CLIENT, 0, 0xc0), t);
}

/* ------------------------------------------------------------------------ */
/* Ring programs (see fuzz-ring.c for the operation bytes)                  */

enum
{
  R_CAPS = 0, R_DELTA = 1, R_KEY = 2, R_HEADER = 3, R_OTHER = 4, R_RESET = 5,
  R_LIMITS = 6, R_JOIN = 7, R_NEXT = 8, R_SKIP = 9, R_SEEK = 10, R_CLEAR = 11,
  R_DRAIN = 12,
};

/* next() on cursor @c, @n times (1..16) */
#define NEXT(c, n) R_NEXT, (guint8) ((c) | (((n) - 1) << 2))

static void
ring_seed (const gchar * name, const guint8 * prog, gsize n)
{
  write_file ("ring", name, prog, n);
}

static void
ring_seeds (void)
{
  /* caps + headers, two GOPs, a viewer joining each: prelude then frames */
  static const guint8 join[] = {
    0, 0,
    R_CAPS, 10, 0, R_HEADER, 3, 1, R_KEY, 20, 2, R_DELTA, 20, 2,
    R_DELTA, 20, 2, R_JOIN, 0, NEXT (0, 8),
    R_KEY, 25, 2, R_DELTA, 5, 2, R_OTHER, 1, 0, R_JOIN, 1, R_DRAIN,
  };
  /* a 1 KiB ring, a viewer that never reads: its chunk is evicted, it
   * jumps to the newest keyframe; another skips to the latest */
  static const guint8 evict[] = {
    2, 0,
    R_CAPS, 4, 0, R_KEY, 60, 2, R_JOIN, 0, R_JOIN, 1, NEXT (1, 2),
    R_DELTA, 60, 2, R_DELTA, 60, 2, R_KEY, 60, 2, R_DELTA, 60, 2,
    R_KEY, 60, 2, R_DELTA, 60, 2, R_KEY, 60, 2,
    NEXT (0, 4), R_SKIP, 1, NEXT (1, 16), R_DRAIN,
  };
  /* a 40 ms ring: time eviction, one unset timestamp */
  static const guint8 timed[] = {
    0, 2,
    R_KEY, 8, 20, R_DELTA, 8, 20, R_KEY, 8, 20, R_DELTA, 8, 0xff,
    R_JOIN, 2, R_KEY, 8, 60, R_DELTA, 8, 20, R_KEY, 8, 20, R_DRAIN,
  };
  /* resume by seq, including a seq already evicted */
  static const guint8 seek[] = {
    4, 0,
    R_KEY, 30, 2, R_DELTA, 30, 2, R_DELTA, 30, 2, R_KEY, 30, 2,
    R_DELTA, 30, 2, R_SEEK, 2, 3, NEXT (2, 4), R_SEEK, 3, 200, NEXT (3, 2),
    R_LIMITS, 1, 0, R_SEEK, 2, 4, R_DRAIN,
  };
  /* a new publisher takes the name: reset under two viewers */
  static const guint8 reset[] = {
    0, 0,
    R_CAPS, 4, 0, R_KEY, 10, 2, R_DELTA, 10, 2, R_JOIN, 0, NEXT (0, 1),
    R_JOIN, 3, R_RESET, NEXT (0, 2), R_CAPS, 6, 0, R_HEADER, 2, 0,
    R_KEY, 10, 2, NEXT (0, 4), NEXT (3, 4), R_CLEAR, 3, R_JOIN, 3, R_DRAIN,
  };
  /* viewers that join before anything is published */
  static const guint8 early[] = {
    0, 0,
    R_JOIN, 0, NEXT (1, 1), R_OTHER, 2, 0, R_DELTA, 4, 2, NEXT (0, 3),
    R_KEY, 4, 2, R_HEADER, 2, 0, R_DELTA, 4, 2, R_HEADER, 2, 0,
    R_KEY, 4, 2, R_JOIN, 2, R_DRAIN,
  };

  /* a 8 KiB ring and a stream that never sends a second keyframe: the long
   * chunk continues, its beginning is evicted, the reader falls out and
   * waits for the keyframe that finally comes */
  {
    guint8 prog[2 + 3 * 3 + 40 * 3 + 8];
    gsize n = 0;
    guint i;

    prog[n++] = 16;
    prog[n++] = 0;
    prog[n++] = R_KEY;
    prog[n++] = 100;
    prog[n++] = 2;
    prog[n++] = R_JOIN;
    prog[n++] = 0;
    prog[n++] = R_NEXT;
    prog[n++] = 0;
    for (i = 0; i < 40; i++) {
      prog[n++] = R_DELTA;
      prog[n++] = 100;
      prog[n++] = 2;
    }
    prog[n++] = R_JOIN;
    prog[n++] = 1;
    prog[n++] = R_NEXT;
    prog[n++] = (guint8) (0 | ((16 - 1) << 2));
    prog[n++] = R_KEY;
    prog[n++] = 10;
    prog[n++] = 2;
    prog[n++] = R_DRAIN;
    ring_seed ("no-keyframe", prog, n);
  }
  /* a stream header flood: refused past DIODE_RING_MAX_HEADERS, then a
   * media frame closes the set and a new one starts */
  {
    guint8 prog[2 + 70 * 3 + 9];
    gsize n = 0;
    guint i;

    prog[n++] = 0;
    prog[n++] = 0;
    for (i = 0; i < 70; i++) {
      prog[n++] = R_HEADER;
      prog[n++] = (guint8) (i * 3);
      prog[n++] = 0;
    }
    prog[n++] = R_KEY;
    prog[n++] = 4;
    prog[n++] = 2;
    prog[n++] = R_HEADER;
    prog[n++] = 4;
    prog[n++] = 0;
    prog[n++] = R_JOIN;
    prog[n++] = 0;
    prog[n++] = R_DRAIN;
    ring_seed ("header-flood", prog, n);
  }
  ring_seed ("join", join, sizeof (join));
  ring_seed ("evict", evict, sizeof (evict));
  ring_seed ("timed", timed, sizeof (timed));
  ring_seed ("seek", seek, sizeof (seek));
  ring_seed ("reset", reset, sizeof (reset));
  ring_seed ("early", early, sizeof (early));
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  frame_seeds ();
  session_seeds ();
  ring_seeds ();
  return 0;
}
