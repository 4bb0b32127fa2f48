/* gst-diode — the store after a crash and on a full disk
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A kill -9 during a write leaves a segment cut anywhere in its last
 * record: the next open must lose that chunk and nothing else, and rebuild
 * the index (sampled offsets here; every offset in test-store-long.c). A
 * crash while a new segment file was being created leaves a torn segment
 * header: the file goes, the chunks before it stay. A full disk (a 1 MiB
 * tmpfs mounted by the test, which needs root) makes the store fail with
 * one clear warning, refuse appends and go on reading.
 */
#define _GNU_SOURCE  /* unshare() */
#include <sched.h>

#include "storecheck.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define WALL0 G_GUINT64_CONSTANT (1700000000000000)

static void
test_cut_last_record_sampled (void)
{
  guint tried = sc_cut_sweep (6, 300, 37, 10);

  g_assert_cmpuint (tried, >, 150);
}

/* A torn second segment (crash right after its creation): removed, and the
 * first segment's chunks all stay. */
static void
test_torn_segment_header (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeStoreMeta m;
  gchar *seg2, *data;
  gsize len, cut;

  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  diode_store_set_segment_limits (s, 0, 0, 3);
  sc_fill (s, "cam", 1, 16, 4, 100, WALL0);          /* 3 + 1 chunks */
  seg2 = sc_seg_path (s, "cam", 2);
  diode_store_close (s);
  g_assert_true (g_file_get_contents (seg2, &data, &len, NULL));
  for (cut = 0; cut < STORE_SEG_HEADER_SIZE + DIODE_CHUNKREC_HEAD_SIZE + 10; cut++) {
    DiodeSpan span;

    g_assert_true (g_file_set_contents (seg2, data, cut, NULL));
    s = sc_open (dir);
    g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
    g_assert_cmpuint (span.first_seq, ==, 1);
    g_assert_cmpuint (span.last_seq, ==, 12);
    g_assert_cmpuint (diode_store_n_segments (s, "cam"), ==, 1);
    diode_store_close (s);
    g_assert_false (g_file_test (seg2, G_FILE_TEST_EXISTS));
  }
  g_free (data);
  g_free (seg2);
  sc_rmdir (dir);
  g_free (dir);
}

/* Garbage after the last record (a crash while the file grew): cut. */
static void
test_garbage_tail (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeStoreMeta m;
  gchar *seg, *data, *junk;
  gsize len;
  DiodeSpan span;

  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  sc_fill (s, "cam", 1, 8, 4, 100, WALL0);
  seg = sc_seg_path (s, "cam", 1);
  diode_store_close (s);
  g_assert_true (g_file_get_contents (seg, &data, &len, NULL));
  junk = g_malloc0 (len + 5000);
  memcpy (junk, data, len);
  g_assert_true (g_file_set_contents (seg, junk, len + 5000, NULL));
  s = sc_open (dir);
  g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
  g_assert_cmpuint (span.last_seq, ==, 8);
  diode_store_close (s);
  g_free (junk);
  g_free (data);
  g_assert_true (g_file_get_contents (seg, &data, NULL, NULL) && TRUE);
  g_free (data);
  {
    GStatBuf st;

    g_assert_cmpint (g_stat (seg, &st), ==, 0);
    g_assert_cmpuint (st.st_size, ==, len);
  }
  g_free (seg);
  sc_rmdir (dir);
  g_free (dir);
}

static void
flip (const gchar *path, gsize off)
{
  gchar *data;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (off, <, len);
  data[off] ^= 0x40;
  g_assert_true (g_file_set_contents (path, data, len, NULL));
  g_free (data);
}

static void
cut_file (const gchar *path, gsize by)
{
  gchar *data;
  gsize len;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_true (g_file_set_contents (path, data, len - by, NULL));
  g_free (data);
}

static guint64
last_stored (const gchar *dir)
{
  DiodeStore *s = sc_open (dir);
  DiodeSpan span[4];
  guint n = diode_store_get_spans (s, "cam", span, 4);

  diode_store_close (s);
  return n ? span[n - 1].last_seq : 0;
}

/* What the open leaves must open the same way again: when the last
 * segment file held nothing, the one before it becomes the last and is
 * verified in full at once (found by fuzz-store); when the record before
 * a torn one is damaged too, both go (the tail ends on a good record). */
static void
test_rebuild_is_stable (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeStoreMeta m;
  gchar *seg1, *seg2;
  gsize len1;

  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  diode_store_set_segment_limits (s, 0, 0, 4);
  sc_fill (s, "cam", 1, 24, 4, 100, WALL0);     /* seg 1: 1..16, seg 2: 17..24 */
  seg1 = sc_seg_path (s, "cam", 1);
  seg2 = sc_seg_path (s, "cam", 2);
  diode_store_close (s);
  {
    gchar *d;

    g_assert_true (g_file_get_contents (seg1, &d, &len1, NULL));
    g_free (d);
  }
  /* seg 1's last record damaged (a frame byte), seg 2 torn to its header */
  flip (seg1, len1 - 10);
  g_assert_true (g_file_set_contents (seg2, "DIODESEG", 8, NULL));
  g_assert_cmpuint (last_stored (dir), ==, 12);
  g_assert_cmpuint (last_stored (dir), ==, 12);
  g_assert_cmpuint (last_stored (dir), ==, 12);

  /* seg 1 now 1..12: damage 9..12 and tear... append 13..16 first */
  s = sc_open (dir);
  sc_fill (s, "cam", 13, 24, 4, 100, WALL0);
  diode_store_close (s);
  g_free (seg2);
  s = sc_open (dir);
  seg2 = sc_seg_path (s, "cam", 2);
  diode_store_close (s);
  {
    gchar *d;
    gsize len2;

    g_assert_true (g_file_get_contents (seg2, &d, &len2, NULL));
    g_free (d);
    /* 3 records of equal size: damage the second's frames, tear the third */
    flip (seg2, STORE_SEG_HEADER_SIZE + (len2 - STORE_SEG_HEADER_SIZE) / 3 + 100);
    cut_file (seg2, 5);
  }
  g_assert_cmpuint (last_stored (dir), ==, 16);
  g_assert_cmpuint (last_stored (dir), ==, 16);
  g_free (seg1);
  g_free (seg2);
  sc_rmdir (dir);
  g_free (dir);
}

static glong
max_rss_kb (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Record heads on disk that claim absurd sizes, with a valid head CRC (so
 * only the limits stop them): 4 GiB of frames, 65 537 frames, 64 MiB in a
 * file that holds a few bytes. Each is cut at open from its head alone: the
 * process does not grow by what they claim. */
static void
test_absurd_record_on_disk (void)
{
  DiodeChunkHeader claims[3] = {
    { 9, 9, 0, 0, 0, 0, 0, 1, G_MAXUINT32, 0 },
    { 9, 9, 0, 0, 0, 0, 0, DIODE_MAX_CHUNK_FRAMES + 1, DIODE_MAX_CHUNK_BYTES, 0 },
    { 9, 9, 0, 0, 0, 0, 0, 1, DIODE_MAX_CHUNK_BYTES, 0 },
  };
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeStoreMeta m;
  gchar *seg, *data;
  gsize len;
  guint i;
  glong rss0;

  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  sc_fill (s, "cam", 1, 8, 4, 100, WALL0);
  seg = sc_seg_path (s, "cam", 1);
  diode_store_close (s);
  g_assert_true (g_file_get_contents (seg, &data, &len, NULL));
  rss0 = max_rss_kb ();
  for (i = 0; i < G_N_ELEMENTS (claims); i++) {
    guint8 *bad = g_malloc (len + DIODE_CHUNKREC_HEAD_SIZE + 100);
    DiodeSpan span;
    GStatBuf st;

    memcpy (bad, data, len);
    diode_chunkrec_write_head (&claims[i], bad + len);
    memset (bad + len + DIODE_CHUNKREC_HEAD_SIZE, 0x21, 100);
    g_assert_true (g_file_set_contents (seg, (gchar *) bad, len + DIODE_CHUNKREC_HEAD_SIZE + 100, NULL));
    g_free (bad);
    s = sc_open (dir);
    g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
    g_assert_cmpuint (span.last_seq, ==, 8);
    diode_store_close (s);
    g_assert_cmpint (g_stat (seg, &st), ==, 0);
    g_assert_cmpuint (st.st_size, ==, len);
  }
  g_test_message ("max RSS grew by %ld KiB", max_rss_kb () - rss0);
  g_assert_cmpint (max_rss_kb () - rss0, <, 16 * 1024);
  g_free (data);
  g_free (seg);
  sc_rmdir (dir);
  g_free (dir);
}

static void
test_disk_full (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s;
  DiodeStoreMeta m;
  DiodeStoredChunk *c;
  gchar *reason = NULL;
  GError *err = NULL;
  guint64 seq, stored = 0;

  if (getuid () != 0) {
    g_test_skip ("disk full needs a tmpfs mounted by the test: not root");
    goto out;
  }
  /* in a mount namespace of this process alone: a test that fails half
   * way leaves no tmpfs mounted behind it */
  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    gchar *why = g_strdup_printf ("cannot make a private mount namespace: %s", g_strerror (errno));

    g_test_skip (why);
    g_free (why);
    goto out;
  }
  if (mount ("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0) {
    gchar *why = g_strdup_printf ("cannot mount a tmpfs on %s: %s", dir, g_strerror (errno));

    g_test_skip (why);
    g_free (why);
    goto out;
  }
  s = sc_open (dir);
  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING,
      "store: writing */streams/*.seg failed: No space left on device; recording stops*");
  for (seq = 1; seq < 400 && diode_store_is_healthy (s, NULL); seq += 4) {
    c = sc_chunk (seq, seq + 3, 5000, WALL0 + seq * 40000, TRUE);
    g_assert_true (diode_store_append (s, "cam", c));
    diode_stored_chunk_unref (c);
    diode_store_wait_idle (s);
    if (diode_store_is_healthy (s, NULL))
      stored = seq + 3;
  }
  g_test_assert_expected_messages ();
  g_assert_false (diode_store_is_healthy (s, &reason));
  g_assert_nonnull (strstr (reason, "No space left on device"));
  g_free (reason);
  g_assert_cmpuint (stored, >, 8);
  /* appends and new streams refused, without another warning */
  c = sc_chunk (seq, seq + 3, 10, WALL0, TRUE);
  g_assert_false (diode_store_append (s, "cam", c));
  diode_stored_chunk_unref (c);
  sc_meta (&m, "other");
  g_assert_false (diode_store_begin (s, "other", &m, &err));
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED);
  g_clear_error (&err);
  diode_store_meta_clear (&m);
  /* the writer cut its partial record off again: the files hold exactly
   * what the store counts (whole records and their index entries) */
  {
    gchar *seg = sc_seg_path (s, "cam", 1), *idx = g_strdup (seg);
    GStatBuf a, b;

    g_assert_null (sc_seg_path (s, "cam", 2));
    memcpy (idx + strlen (idx) - 3, "idx", 3);
    g_assert_cmpint (g_stat (seg, &a), ==, 0);
    g_assert_cmpint (g_stat (idx, &b), ==, 0);
    g_assert_cmpuint (a.st_size + b.st_size, ==, diode_store_get_bytes (s));
    g_free (seg);
    g_free (idx);
  }
  /* reads go on: everything stored before the failure */
  for (seq = 1; seq <= stored; seq += 4) {
    c = diode_store_read (s, "cam", seq, &err);
    g_assert_no_error (err);
    g_assert_cmpuint (c->hdr.first_seq, ==, seq);
    diode_stored_chunk_unref (c);
  }
  diode_store_close (s);
  /* a restart on the still full disk: everything stored is there */
  s = sc_open (dir);
  {
    DiodeSpan span;

    g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
    g_assert_cmpuint (span.last_seq, ==, stored);
  }
  diode_store_close (s);
  sc_rmdir (dir);
  g_assert_cmpint (umount2 (dir, MNT_DETACH), ==, 0);
out:
  sc_rmdir (dir);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/crash/cut-last-record", test_cut_last_record_sampled);
  g_test_add_func ("/store/crash/torn-segment-header", test_torn_segment_header);
  g_test_add_func ("/store/crash/garbage-tail", test_garbage_tail);
  g_test_add_func ("/store/crash/rebuild-is-stable", test_rebuild_is_stable);
  g_test_add_func ("/store/crash/absurd-record-on-disk", test_absurd_record_on_disk);
  g_test_add_func ("/store/disk-full", test_disk_full);
  return g_test_run ();
}
