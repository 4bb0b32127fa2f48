/* gst-diode — the store's writer and its files: no segment reused, fds given back
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A new segment never opens over a file already there (a stream begun again
 * over a directory the store did not load, a stray numbered file): the old
 * file keeps every byte. A recording that ended (EOS sync, diode_store_end)
 * gives its two descriptors back at once, an idle one after the segment time
 * limit, and no more than max_open segments are ever open however many
 * streams are live (the least recently written is closed, then reopened
 * where it was). Running out of descriptors (RLIMIT_NOFILE, in a
 * subprocess) loses that chunk only: the store stays healthy and the next
 * append is stored. Descriptors are counted in /proc/self/fd.
 */
#include "storecheck.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define WALL0 G_GUINT64_CONSTANT (1700000000000000)

static guint
count_fds (void)
{
  GDir *d = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

static void
begin (DiodeStore *s, const gchar *key)
{
  DiodeStoreMeta m;

  sc_meta (&m, key);
  g_assert_true (diode_store_begin (s, key, &m, NULL));
  diode_store_meta_clear (&m);
}

static void
append (DiodeStore *s, const gchar *key, guint64 first, guint64 last)
{
  DiodeStoredChunk *c = sc_chunk (first, last, 100, WALL0 + first * 40000, TRUE);

  g_assert_true (diode_store_append (s, key, c));
  diode_stored_chunk_unref (c);
}

static gchar *
file_contents (const gchar *path, gsize *len)
{
  gchar *data = NULL;

  g_assert_true (g_file_get_contents (path, &data, len, NULL));
  return data;
}

static void
assert_first_seq (DiodeStore *s, const gchar *key, guint64 seq, guint64 expect)
{
  GError *err = NULL;
  DiodeStoredChunk *c = diode_store_read (s, key, seq, &err);

  g_assert_no_error (err);
  g_assert_nonnull (c);
  g_assert_cmpuint (c->hdr.first_seq, ==, expect);
  diode_stored_chunk_unref (c);
}

/* A numbered file the store did not write, after the stream's last segment:
 * the next segment goes after it, and it keeps its bytes. */
static void
test_stray_file_kept (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *sdir, *stray, *seg1, *before, *after, *data;
  gsize len1, len;

  begin (s, "a");
  sc_fill (s, "a", 1, 8, 4, 100, WALL0);
  diode_store_close (s);

  s = sc_open (dir);
  sdir = diode_store_stream_dir (s, "a");
  seg1 = sc_seg_path (s, "a", 1);
  before = file_contents (seg1, &len1);
  stray = g_build_filename (sdir, "0000000000000002.seg", NULL);
  g_assert_true (g_file_set_contents (stray, "not the store's", -1, NULL));
  append (s, "a", 9, 12);
  diode_store_wait_idle (s);
  g_assert_true (diode_store_is_healthy (s, NULL));
  data = file_contents (stray, &len);
  g_assert_cmpstr (data, ==, "not the store's");
  g_free (data);
  after = file_contents (seg1, &len);
  g_assert_cmpuint (len, ==, len1);
  g_assert_true (memcmp (before, after, len) == 0);
  assert_first_seq (s, "a", 9, 9);
  assert_first_seq (s, "a", 1, 1);
  diode_store_close (s);

  g_free (before);
  g_free (after);
  g_free (seg1);
  g_free (stray);
  g_free (sdir);
  sc_rmdir (dir);
  g_free (dir);
}

/* A stream directory whose meta is gone is not loaded; begun again (if begin
 * lets it), its new run must not cut the old segment files. */
static void
test_unloaded_dir_not_truncated (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gchar *sdir, *meta, *seg1, *before, *after;
  gsize len1, len;
  DiodeStoreMeta m;

  begin (s, "b");
  sc_fill (s, "b", 1, 40, 4, 1000, WALL0);
  sdir = diode_store_stream_dir (s, "b");
  seg1 = sc_seg_path (s, "b", 1);
  diode_store_close (s);
  before = file_contents (seg1, &len1);
  g_assert_cmpuint (len1, >, 10 * 4000);
  meta = g_build_filename (sdir, "meta", NULL);
  g_assert_cmpint (g_unlink (meta), ==, 0);

  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*meta cannot be read*");
  s = sc_open (dir);
  g_test_assert_expected_messages ();
  sc_meta (&m, "b");
  if (diode_store_begin (s, "b", &m, NULL)) {
    append (s, "b", 1, 4);
    diode_store_wait_idle (s);
  }
  diode_store_meta_clear (&m);
  diode_store_close (s);
  after = file_contents (seg1, &len);
  g_assert_cmpuint (len, ==, len1);
  g_assert_true (memcmp (before, after, len) == 0);

  g_free (before);
  g_free (after);
  g_free (meta);
  g_free (seg1);
  g_free (sdir);
  sc_rmdir (dir);
  g_free (dir);
}

static void
synced_cb (const gchar *key, guint64 last_seq, guint64 bytes, gpointer user_data)
{
  (*(guint *) user_data)++;
}

#define N_ENDED 30

/* 30 short recordings, half ended with EOS (finished meta + sync, as the
 * relay does), half with diode_store_end: the fds go back to the baseline. */
static void
test_ended_streams_give_back (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  GMainContext *ctx = g_main_context_new ();
  guint base, i, synced = 0;
  gint64 until;

  base = count_fds ();
  for (i = 0; i < N_ENDED; i++) {
    gchar *key = g_strdup_printf ("short%u", i);

    begin (s, key);
    append (s, key, 1, 4);
    g_free (key);
  }
  diode_store_wait_idle (s);
  /* they are open while they record */
  g_assert_cmpuint (count_fds (), ==, base + 2 * N_ENDED);
  for (i = 0; i < N_ENDED; i++) {
    gchar *key = g_strdup_printf ("short%u", i);

    if (i % 2 == 0) {
      DiodeStoreMeta m;

      sc_meta (&m, key);
      m.finished = TRUE;
      g_assert_true (diode_store_set_meta (s, key, &m, NULL));
      diode_store_meta_clear (&m);
      diode_store_sync (s, key, ctx, synced_cb, &synced, NULL);
    } else {
      diode_store_end (s, key);
    }
    g_free (key);
  }
  diode_store_wait_idle (s);
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (synced < N_ENDED / 2 && g_get_monotonic_time () < until)
    g_main_context_iteration (ctx, FALSE);
  g_assert_cmpuint (synced, ==, N_ENDED / 2);
  g_assert_cmpuint (count_fds (), ==, base);
  /* nothing was lost by closing */
  for (i = 0; i < N_ENDED; i++) {
    gchar *key = g_strdup_printf ("short%u", i);

    assert_first_seq (s, key, 1, 1);
    g_free (key);
  }
  diode_store_close (s);
  g_main_context_unref (ctx);
  sc_rmdir (dir);
  g_free (dir);
}

#define N_LIVE 20
#define MAX_OPEN 8

/* More live streams than the bound: never more than 2 * MAX_OPEN fds, and a
 * closed segment is reopened where it was (one segment per stream). */
static void
test_open_bound (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  guint base, i, round;

  diode_store_set_max_open (s, MAX_OPEN);
  base = count_fds ();
  for (i = 0; i < N_LIVE; i++) {
    gchar *key = g_strdup_printf ("live%u", i);

    begin (s, key);
    g_free (key);
  }
  for (round = 0; round < 3; round++) {
    for (i = 0; i < N_LIVE; i++) {
      gchar *key = g_strdup_printf ("live%u", i);

      append (s, key, round * 4 + 1, round * 4 + 4);
      g_free (key);
    }
    diode_store_wait_idle (s);
    g_assert_cmpuint (count_fds (), <=, base + 2 * MAX_OPEN);
  }
  g_assert_true (diode_store_is_healthy (s, NULL));
  for (i = 0; i < N_LIVE; i++) {
    gchar *key = g_strdup_printf ("live%u", i);

    for (round = 0; round < 3; round++)
      assert_first_seq (s, key, round * 4 + 1, round * 4 + 1);
    g_assert_cmpuint (diode_store_n_segments (s, key), ==, 1);
    g_free (key);
  }
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* A stream nobody ends (its publisher vanished, no EOS, no detach) closes
 * its segment once it was not written for the segment time limit. */
static void
test_idle_closes (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  guint base;
  gint64 until;

  diode_store_set_segment_limits (s, 0, 1, 0);
  base = count_fds ();
  begin (s, "idle");
  append (s, "idle", 1, 4);
  diode_store_wait_idle (s);
  g_assert_cmpuint (count_fds (), ==, base + 2);
  /* 1 s limit, checked every second: generous bound against a hang only */
  until = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (count_fds () != base && g_get_monotonic_time () < until)
    g_usleep (50000);
  g_assert_cmpuint (count_fds (), ==, base);
  append (s, "idle", 5, 8);
  diode_store_wait_idle (s);
  assert_first_seq (s, "idle", 1, 1);
  assert_first_seq (s, "idle", 5, 5);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* Runs in a subprocess: RLIMIT_NOFILE lowered and every fd taken. */
static void
test_emfile_child (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  struct rlimit old, rl;
  GArray *held = g_array_new (FALSE, FALSE, sizeof (int));
  DiodeStoreMeta m;
  gchar *reason = NULL;
  GError *err = NULL;
  DiodeStoredChunk *c;
  guint i;

  begin (s, "a");
  append (s, "a", 1, 4);
  diode_store_end (s, "a");
  diode_store_wait_idle (s);

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &old), ==, 0);
  rl = old;
  rl.rlim_cur = MIN (old.rlim_max, (rlim_t) count_fds () + 16);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  while (TRUE) {
    int fd = dup (0);

    if (fd < 0) {
      g_assert_cmpint (errno, ==, EMFILE);
      break;
    }
    g_array_append_val (held, fd);
  }
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*out of file descriptors*");
  append (s, "a", 5, 8);
  diode_store_wait_idle (s);
  sc_meta (&m, "a");
  g_free (m.fleet);
  m.fleet = g_strdup ("after-emfile");
  g_assert_true (diode_store_set_meta (s, "a", &m, NULL));
  diode_store_meta_clear (&m);
  diode_store_wait_idle (s);
  g_assert_true (diode_store_is_healthy (s, &reason));
  g_test_assert_expected_messages ();

  for (i = 0; i < held->len; i++)
    close (g_array_index (held, int, i));
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &old), ==, 0);
  append (s, "a", 9, 12);
  diode_store_wait_idle (s);
  g_assert_true (diode_store_is_healthy (s, NULL));
  assert_first_seq (s, "a", 1, 1);
  /* 5..8 was lost (a gap): the first chunk after it is 9 */
  assert_first_seq (s, "a", 5, 9);
  c = diode_store_read (s, "a", 9, &err);
  g_assert_no_error (err);
  diode_stored_chunk_unref (c);
  diode_store_close (s);
  /* the meta refused for want of fds was written later */
  s = sc_open (dir);
  g_assert_true (diode_store_get_meta (s, "a", &m));
  g_assert_cmpstr (m.fleet, ==, "after-emfile");
  diode_store_meta_clear (&m);
  diode_store_close (s);
  g_array_unref (held);
  sc_rmdir (dir);
  g_free (dir);
}

static void
test_emfile (void)
{
  /* The subprocess is this program exec'd again: a cross build's binary
   * run by qemu-user (meson's exe_wrapper; scripts/cross-armel.sh) cannot
   * exec itself without binfmt_misc, which CI's chroot does not have. */
  if (g_getenv ("MESON_EXE_WRAPPER")) {
    g_test_skip ("re-exec under an exe_wrapper (qemu-user) is not possible");
    return;
  }
  g_test_trap_subprocess ("/store/fds/emfile/subprocess", 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/segments/stray-file-kept", test_stray_file_kept);
  g_test_add_func ("/store/segments/unloaded-dir-not-truncated", test_unloaded_dir_not_truncated);
  g_test_add_func ("/store/fds/ended-streams-give-back", test_ended_streams_give_back);
  g_test_add_func ("/store/fds/open-bound", test_open_bound);
  g_test_add_func ("/store/fds/idle-closes", test_idle_closes);
  g_test_add_func ("/store/fds/emfile", test_emfile);
  g_test_add_func ("/store/fds/emfile/subprocess", test_emfile_child);
  return g_test_run ();
}
