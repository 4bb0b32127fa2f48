/* gst-diode — resource limits of the protocol core, at the relay (long)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The attacks whose defence lives in gst/protocol (frame admissibility
 * decided from the header: role, state, size) and gst/buffering (the ring
 * counts and bounds what it really holds), measured at a diode-relay
 * process like test-limits-long.c: an honest publisher and viewer on
 * another stream must get every frame, and the relay's VmRSS must stay
 * within a few times --buffer-bytes.
 *
 * 1. a chunk that never ends: one keyframe, then only delta frames;
 * 2. a STREAMHEADER flood;
 * 3. per-frame overhead: millions of 1-byte frames;
 * 4. big frames before HELLO: 20 connections each announcing a 16 MB MEDIA
 *    frame and sending 15 MB of it.
 *
 * These pass once the protocol-core branch (header admissibility, ring
 * accounting) is merged with the relay-limits branch; they are in suite
 * elements-long (not in scripts/test.sh).
 */
#include <gst/check/gstcheck.h>

#include <string.h>

#include "limitsharness.h"

#define BUFFER_BYTES     "4194304"      /* --buffer-bytes: 4 MiB */
#define MAX_GROWTH_KB    (32 * 1024)    /* 8 x the ring */

typedef struct
{
  gsize size;                   /* payload bytes per frame */
  guint frames;                 /* frames per unit */
  guint gop;                    /* a keyframe every gop frames (0: only the
                                   very first) */
  guint32 extra_flags;
} MediaShape;

/* Unit @i: @shape->frames MEDIA frames, seq from i * frames + 1. */
static void
make_media (GByteArray * unit, guint64 i, gpointer data)
{
  const MediaShape *shape = data;
  guint8 *payload = g_malloc0 (shape->size);
  guint k;

  for (k = 0; k < shape->frames; k++) {
    guint64 n = i * shape->frames + k;
    guint32 flags = shape->extra_flags;

    if (n == 0 || (shape->gop && n % shape->gop == 0))
      flags |= DIODE_MEDIA_KEYFRAME;
    append_frame (unit, diode_msg_encode_media (n + 1, 1000 * GST_SECOND +
            n * GST_MSECOND, DIODE_TIME_NONE, GST_MSECOND, n, n + 1, flags,
            payload, shape->size));
  }
  g_free (payload);
}

static FixtureRelayProc *
relay_proc (void)
{
  const gchar *args[] = { "--buffer-bytes", BUFFER_BYTES, NULL };

  return fixture_relay_proc_start (DIODE_RELAY_PATH, args);
}

static void
media_attack (const MediaShape * shape, guint64 max_units, const gchar * name)
{
  FixtureRelayProc *rp = relay_proc ();
  Attacker a = { 0 };

  a.rp = rp;
  a.key = "attacker.pem";
  a.role = DIODE_ROLE_PUBLISHER;
  /* PUBLISH, then CAPS (a MEDIA before CAPS is refused, protocol.md
   * section 6): the MEDIA units that follow are all the relay must take */
  {
    GByteArray *setup = g_byte_array_new ();

    append_frame (setup, diode_msg_encode_publish ("mine"));
    append_frame (setup, diode_msg_encode_caps ("video/x-test"));
    a.setup = g_byte_array_free_to_bytes (setup);
  }
  a.unit = g_byte_array_new ();
  a.make_unit = make_media;
  a.make_data = (gpointer) shape;
  a.max_units = max_units;
  run_attack (rp, &a, 12, name, MAX_GROWTH_KB);
  attacker_free (&a);
  fail_unless (fixture_relay_proc_stop (rp));
}

GST_START_TEST (test_core_chunk_never_ends)
{
  MediaShape shape = { 64 * 1024, 1, 0, 0 };

  /* 128 MiB of delta frames after one keyframe */
  media_attack (&shape, 2048, "chunk that never ends");
}

GST_END_TEST;

GST_START_TEST (test_core_streamheader_flood)
{
  MediaShape shape = { 16 * 1024, 1, 1, DIODE_MEDIA_STREAMHEADER };

  /* 128 MiB of stream headers */
  media_attack (&shape, 8192, "STREAMHEADER flood");
}

GST_END_TEST;

GST_START_TEST (test_core_per_frame_overhead)
{
  MediaShape shape = { 1, 1000, 100, 0 };

  /* 2 million 1-byte frames */
  media_attack (&shape, 2000, "1-byte frames");
}

GST_END_TEST;

#define BIG_CONNS 20

GST_START_TEST (test_core_big_frame_before_hello)
{
  FixtureRelayProc *rp = relay_proc ();
  Attacker a[BIG_CONNS];
  guint8 prefix[DIODE_MEDIA_PREFIX_SIZE];
  const gsize payload = DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE;
  guint i;

  memset (a, 0, sizeof (a));
  fail_unless (diode_msg_write_media_prefix (prefix, 1, 0, 0, 0, 0, 1,
          DIODE_MEDIA_KEYFRAME, payload));
  for (i = 0; i < BIG_CONNS; i++) {
    a[i].rp = rp;
    a[i].key = "attacker.pem";
    a[i].no_hello = TRUE;
    a[i].unit = g_byte_array_new ();
    g_byte_array_append (a[i].unit, prefix, sizeof (prefix));
    /* 15 MiB of the 16 MiB announced: the frame never completes */
    g_byte_array_set_size (a[i].unit, sizeof (prefix) + 15 * 1024 * 1024);
    a[i].max_units = 1;
    a[i].next = i + 1 < BIG_CONNS ? &a[i + 1] : NULL;
  }
  run_attack (rp, &a[0], 12, "big frames before HELLO", MAX_GROWTH_KB);
  for (i = 0; i < BIG_CONNS; i++)
    attacker_free (&a[i]);
  fail_unless (fixture_relay_proc_stop (rp));
}

GST_END_TEST;

static Suite *
limits_core_suite (void)
{
  Suite *s = suite_create ("limits-core");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_core_chunk_never_ends);
  tcase_add_test (tc, test_core_streamheader_flood);
  tcase_add_test (tc, test_core_per_frame_overhead);
  tcase_add_test (tc, test_core_big_frame_before_hello);
  return s;
}

GST_CHECK_MAIN (limits_core);
