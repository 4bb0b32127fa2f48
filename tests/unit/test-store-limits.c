/* gst-diode — the store's bounds: retention, writer queue, index memory,
 * sync callbacks
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "storecheck.h"

#include <string.h>
#include <glib/gstdio.h>

static void
begin (DiodeStore *s, const gchar *key)
{
  DiodeStoreMeta m;

  sc_meta (&m, key);
  g_assert_true (diode_store_begin (s, key, &m, NULL));
  diode_store_meta_clear (&m);
}

static guint64
first_stored (DiodeStore *s, const gchar *key)
{
  DiodeSpan span;

  if (diode_store_get_spans (s, key, &span, 1) == 0)
    return 0;
  /* the newest span is returned when there is room for one: ask for all */
  {
    DiodeSpan all[16];
    guint n = diode_store_get_spans (s, key, all, 16);

    return n ? all[0].first_seq : 0;
  }
}

/* Size: whole segments go, oldest first across streams, until the store
 * is within max_bytes; the newest stays readable. */
static void
test_retention_size (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 0, 200 * 1024, 64 * 1024 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  gchar *oldest_seg;
  DiodeStoredChunk *c;
  GError *err = NULL;
  guint64 wall = g_get_real_time ();

  g_assert_nonnull (s);
  diode_store_set_segment_limits (s, 0, 0, 4);   /* 4 chunks a segment */
  begin (s, "a");
  begin (s, "b");
  /* a: older chunks than b */
  sc_fill (s, "a", 1, 80, 4, 1000, wall - 10 * G_USEC_PER_SEC);   /* ~84 KB */
  oldest_seg = sc_seg_path (s, "a", 1);
  g_assert_true (g_file_test (oldest_seg, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (first_stored (s, "a"), ==, 1);
  sc_fill (s, "b", 1, 200, 4, 1000, wall);                          /* ~210 KB */
  g_assert_cmpuint (diode_store_get_bytes (s), <=, lim.max_bytes);
  /* a (older) lost whole segments first: its first seq moved by whole
   * segments (16 seqs), and its files are gone */
  g_assert_false (g_file_test (oldest_seg, G_FILE_TEST_EXISTS));
  /* seq 1 is gone: a read of it answers the first chunk kept after it,
   * a's active segment (65..80), which stays while closed ones are left */
  c = diode_store_read (s, "a", 1, &err);
  g_assert_no_error (err);
  g_assert_nonnull (c);
  g_assert_cmpuint (c->hdr.first_seq, ==, 65);
  diode_stored_chunk_unref (c);
  {
    guint64 fa = first_stored (s, "a"), fb = first_stored (s, "b");

    g_test_message ("after retention: a from %" G_GUINT64_FORMAT ", b from %" G_GUINT64_FORMAT
        ", %" G_GUINT64_FORMAT " bytes", fa, fb, diode_store_get_bytes (s));
    g_assert_true (fa == 0 || (fa - 1) % 16 == 0);
    g_assert_true (fb == 0 || (fb - 1) % 16 == 0);
    /* b's newest is there */
    c = diode_store_read (s, "b", 200, &err);
    g_assert_no_error (err);
    diode_stored_chunk_unref (c);
    /* every closed segment of a is gone before b lost any: a's chunks are
     * older; a's active segment (65..80, a still records) is not removed
     * while closed segments are left */
    if (fb > 1)
      g_assert_cmpuint (fa, ==, 65);
  }
  /* what the store counts is what is on disk */
  {
    guint64 counted = diode_store_get_bytes (s);

    diode_store_close (s);
    s = diode_store_open (dir, &lim, NULL);
    g_assert_cmpuint (diode_store_get_bytes (s), ==, counted);
  }
  diode_store_close (s);
  g_free (oldest_seg);
  sc_rmdir (dir);
  g_free (dir);
}

/* Writes chunks of ~10 KB (4 frames of 2500 bytes) continuously to each
 * of @keys in turn into a store bounded to 400 000 bytes (segments of the
 * default size for it), and checks after each: once the store reached half
 * the bound it never drops below it again (retention removes small
 * segments, never a whole recording), each stream's newest chunk reads
 * back, each stream's oldest chunk only moves forward (oldest go first);
 * at the end every chunk from each stream's oldest to its newest reads. */
static void
retention_continuous (const gchar * const *keys, guint n_keys, guint rounds)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 0, 400000, 64 * 1024 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  guint64 wall = g_get_real_time () - 3600 * (gint64) G_USEC_PER_SEC;
  guint64 *first = g_new0 (guint64, n_keys);
  guint64 low = G_MAXUINT64, high = 0;
  gboolean reached = FALSE;
  guint r, k;

  g_assert_nonnull (s);
  for (k = 0; k < n_keys; k++)
    begin (s, keys[k]);
  for (r = 0; r < rounds; r++) {
    for (k = 0; k < n_keys; k++) {
      guint64 seq = 1 + (guint64) r * 4;
      DiodeStoredChunk *c = sc_chunk (seq, seq + 3, 2500,
          wall + ((guint64) r * n_keys + k) * 40000, TRUE);
      GError *err = NULL;
      guint64 bytes, f;

      while (!diode_store_append (s, keys[k], c))
        diode_store_wait_idle (s);
      diode_stored_chunk_unref (c);
      diode_store_wait_idle (s);
      bytes = diode_store_get_bytes (s);
      /* near the bound: retention has work from now on */
      if (bytes >= lim.max_bytes / 4 * 3)
        reached = TRUE;
      if (reached) {
        low = MIN (low, bytes);
        g_assert_cmpuint (bytes, >=, lim.max_bytes / 2);
      }
      high = MAX (high, bytes);
      /* newest readable */
      c = diode_store_read (s, keys[k], seq + 3, &err);
      g_assert_no_error (err);
      g_assert_nonnull (c);
      diode_stored_chunk_unref (c);
      /* oldest first: the first stored seq only moves forward */
      f = first_stored (s, keys[k]);
      g_assert_cmpuint (f, >=, first[k]);
      g_assert_cmpuint (f, >=, 1);
      first[k] = f;
    }
  }
  g_assert_true (reached);
  g_test_message ("%u stream(s), %u rounds: store between %" G_GUINT64_FORMAT " and %"
      G_GUINT64_FORMAT " bytes once near the bound of %" G_GUINT64_FORMAT, n_keys, rounds,
      low, high, lim.max_bytes);
  for (k = 0; k < n_keys; k++) {
    guint64 last = (guint64) rounds * 4, seq;

    /* retention happened to every stream, and what is left is contiguous */
    g_assert_cmpuint (first[k], >, 1);
    for (seq = first[k]; seq <= last; seq += 4) {
      GError *err = NULL;
      DiodeStoredChunk *c = diode_store_read (s, keys[k], seq, &err);

      g_assert_no_error (err);
      diode_stored_chunk_unref (c);
    }
  }
  diode_store_close (s);
  g_free (first);
  sc_rmdir (dir);
  g_free (dir);
}

/* One stream recording over the size bound: its oldest chunks go, a small
 * part of the store at a time, not the whole recording. */
static void
test_retention_continuous_one (void)
{
  const gchar *keys[] = { "cam" };

  retention_continuous (keys, 1, 150);
}

/* The same with two streams recording at once. */
static void
test_retention_continuous_two (void)
{
  const gchar *keys[] = { "a", "b" };

  retention_continuous (keys, 2, 100);
}

/* Only the segments streams are writing are left over the bound: the one
 * with the oldest chunks is closed and removed, its stream goes on in a new
 * segment. */
static void
test_retention_active_only (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 0, 100 * 1024, 64 * 1024 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  guint64 wall = g_get_real_time () - 3600 * (gint64) G_USEC_PER_SEC;
  DiodeStoredChunk *c;
  GError *err = NULL;

  g_assert_nonnull (s);
  diode_store_set_segment_limits (s, 1024 * 1024, 0, 0);   /* no roll by size */
  begin (s, "a");
  begin (s, "b");
  sc_fill (s, "a", 1, 40, 4, 1000, wall);                     /* ~42 KB, older */
  sc_fill (s, "b", 1, 40, 4, 1000, wall + G_USEC_PER_SEC);    /* ~42 KB */
  g_assert_cmpuint (first_stored (s, "a"), ==, 1);
  /* over the bound with a's active segment (the oldest) and b's */
  sc_fill (s, "b", 41, 80, 4, 1000, wall + 2 * G_USEC_PER_SEC);
  diode_store_wait_idle (s);
  g_assert_cmpuint (first_stored (s, "a"), ==, 0);
  g_assert_cmpuint (first_stored (s, "b"), ==, 1);
  g_assert_cmpuint (diode_store_get_bytes (s), <=, lim.max_bytes);
  /* a goes on recording in a new segment */
  sc_fill (s, "a", 41, 44, 4, 1000, wall + 3 * G_USEC_PER_SEC);
  c = diode_store_read (s, "a", 41, &err);
  g_assert_no_error (err);
  diode_stored_chunk_unref (c);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* Age: a segment goes once its newest chunk is older than max_seconds;
 * a segment holding a recent chunk stays whole. */
static void
test_retention_age (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 100, 0, 64 * 1024 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  gint64 now = g_get_real_time ();
  gint64 deadline;
  guint64 seq;

  /* 4 chunks a segment, no roll by wall time (it would put the old and
   * the new chunks in different segments) */
  diode_store_set_segment_limits (s, 0, 1000000, 4);
  begin (s, "cam");
  /* seqs 1..40 (10 chunks = 3 segments: 4, 4, 2+...) hours old, then
   * recent ones: the third segment mixes old (33..40) and new (41..48) */
  for (seq = 1; seq <= 72; seq += 4) {
    DiodeStoredChunk *c = sc_chunk (seq, seq + 3, 100,
        seq <= 40 ? now - 3600 * (gint64) G_USEC_PER_SEC : now, TRUE);

    g_assert_true (diode_store_append (s, "cam", c));
    diode_stored_chunk_unref (c);
  }
  diode_store_wait_idle (s);
  /* the age check runs on the writer thread about once a second */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (first_stored (s, "cam") != 33 && g_get_monotonic_time () < deadline)
    g_usleep (20000);
  g_assert_cmpuint (first_stored (s, "cam"), ==, 33);
  g_assert_cmpuint (diode_store_n_segments (s, "cam"), ==, 3);
  diode_store_close (s);
  /* and after a restart nothing comes back */
  s = diode_store_open (dir, &lim, NULL);
  g_assert_cmpuint (first_stored (s, "cam"), ==, 33);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* The writer queue: appends over queue_bytes are refused at once (the
 * caller decides), queued_bytes never passes the bound, one chunk bigger
 * than the bound passes when the queue is empty, and everything accepted
 * is written. */
static void
test_queue_bound (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 0, 0, 100 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  DiodeStoredChunk *c;
  guint64 seq, accepted = 0;
  guint refused = 0;
  gsize cost;

  begin (s, "cam");
  diode_store_wait_idle (s);
  diode_store_pause_writer (s, TRUE);
  for (seq = 1; seq <= 200; seq += 4) {
    c = sc_chunk (seq, seq + 3, 5000, 1, TRUE);
    cost = diode_stored_chunk_cost (c);
    if (diode_store_append (s, "cam", c))
      accepted = seq + 3;
    else
      refused++;
    diode_stored_chunk_unref (c);
    g_assert_cmpuint (diode_store_queued_bytes (s), <=, lim.queue_bytes);
  }
  /* 100 KiB / ~20 KB a chunk: four or five accepted, the rest refused */
  g_assert_cmpuint (accepted, >=, 16);
  g_assert_cmpuint (accepted, <=, 20);
  g_assert_cmpuint (refused, ==, 50 - accepted / 4);
  g_assert_cmpuint (diode_store_queued_bytes (s), >, lim.queue_bytes - cost);
  diode_store_pause_writer (s, FALSE);
  diode_store_wait_idle (s);
  g_assert_cmpuint (diode_store_queued_bytes (s), ==, 0);
  {
    DiodeSpan span;

    g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
    g_assert_cmpuint (span.last_seq, ==, accepted);
  }
  /* a chunk bigger than the whole bound: let in when the queue is empty */
  diode_store_pause_writer (s, TRUE);
  c = sc_chunk (accepted + 1, accepted + 40, 5000, 1, TRUE);
  g_assert_cmpuint (diode_stored_chunk_cost (c), >, lim.queue_bytes);
  g_assert_true (diode_store_append (s, "cam", c));
  diode_stored_chunk_unref (c);
  c = sc_chunk (accepted + 41, accepted + 41, 10, 1, TRUE);
  g_assert_false (diode_store_append (s, "cam", c));   /* queue over its bound */
  diode_store_pause_writer (s, FALSE);
  diode_store_wait_idle (s);
  g_assert_true (diode_store_append (s, "cam", c));    /* drained: in again */
  diode_stored_chunk_unref (c);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

/* The in-memory index holds O(segments): thousands of chunks in one
 * segment cost what one chunk does; each new segment costs one
 * StoreSegment, whatever its chunk count. */
static void
test_memory_flat (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  gsize m1, m2, m3;

  begin (s, "cam");
  /* segments close by chunk count only here (not at 60 s of wall time) */
  diode_store_set_segment_limits (s, 0, 1000000, 0);
  sc_fill (s, "cam", 1, 10, 1, 16, 1);
  g_assert_cmpuint (diode_store_n_segments (s, "cam"), ==, 1);
  m1 = diode_store_index_memory (s);
  sc_fill (s, "cam", 11, 4000, 1, 16, 1);
  g_assert_cmpuint (diode_store_n_segments (s, "cam"), ==, 1);
  m2 = diode_store_index_memory (s);
  g_test_message ("index memory: %" G_GSIZE_FORMAT " bytes for 10 chunks, %" G_GSIZE_FORMAT
      " for 4000", m1, m2);
  g_assert_cmpuint (m2, ==, m1);
  /* 4096 chunks close a segment: 20 000 chunks = 5 segments */
  sc_fill (s, "cam", 4001, 20000, 1, 16, 1);
  g_assert_cmpuint (diode_store_n_segments (s, "cam"), ==, 5);
  m3 = diode_store_index_memory (s);
  g_assert_cmpuint (m3, ==, m1 + 4 * sizeof (StoreSegment));
  diode_store_close (s);
  /* after a rebuild at open, the same */
  s = sc_open (dir);
  g_assert_cmpuint (diode_store_index_memory (s), ==, m3);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

typedef struct {
  GThread *thread;
  guint calls, destroyed;
  guint64 last_seq, bytes;
  gchar *key;
} SyncData;

static void
synced (const gchar *key, guint64 last_seq, guint64 bytes, gpointer user_data)
{
  SyncData *d = user_data;

  g_assert_true (g_thread_self () == d->thread);
  d->calls++;
  d->last_seq = last_seq;
  d->bytes = bytes;
  g_free (d->key);
  d->key = g_strdup (key);
}

static void
sync_destroy (gpointer user_data)
{
  ((SyncData *) user_data)->destroyed++;
}

/* diode_store_sync: the callback runs on the given context, after every
 * chunk queued before it is written and fsync'd, with STORED's numbers. */
static void
test_sync_callback (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  GMainContext *ctx = g_main_context_new ();
  SyncData d = { g_thread_self (), 0, 0, 0, 0, NULL };
  gint64 deadline;
  guint64 seq;

  begin (s, "cam");
  diode_store_pause_writer (s, TRUE);
  for (seq = 1; seq <= 40; seq += 4) {
    DiodeStoredChunk *c = sc_chunk (seq, seq + 3, 1000, 1, TRUE);

    g_assert_true (diode_store_append (s, "cam", c));
    diode_stored_chunk_unref (c);
  }
  diode_store_sync (s, "cam", ctx, synced, &d, sync_destroy);
  /* nothing before the writer got there */
  while (g_main_context_iteration (ctx, FALSE));
  g_assert_cmpuint (d.calls, ==, 0);
  diode_store_pause_writer (s, FALSE);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (d.destroyed == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (ctx, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (d.calls, ==, 1);
  g_assert_cmpuint (d.destroyed, ==, 1);
  g_assert_cmpstr (d.key, ==, "cam");
  g_assert_cmpuint (d.last_seq, ==, 40);
  {
    gchar *sdir = diode_store_stream_dir (s, "cam");
    gchar *seg = sc_seg_path (s, "cam", 1);
    GStatBuf st;

    g_assert_cmpint (g_stat (seg, &st), ==, 0);
    /* STORED bytes: the stream's bytes on disk (segment + index) */
    g_assert_cmpuint (d.bytes, ==, st.st_size + 10 * STORE_IDX_ENTRY_SIZE);
    g_free (seg);
    g_free (sdir);
  }
  /* an unknown stream: answered with zeros */
  d.calls = d.destroyed = 0;
  diode_store_sync (s, "nope", ctx, synced, &d, sync_destroy);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (d.destroyed == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (ctx, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (d.calls, ==, 1);
  g_assert_cmpuint (d.last_seq, ==, 0);
  g_assert_cmpstr (d.key, ==, "nope");
  g_free (d.key);
  diode_store_close (s);
  g_main_context_unref (ctx);
  sc_rmdir (dir);
  g_free (dir);
}

/* Two stores on one directory: the second is refused (flock). A file
 * where the directory should be: refused with a message. */
static void
test_open_errors (void)
{
  gchar *dir = sc_tmpdir ();
  gchar *file = g_build_filename (dir, "plain", NULL);
  DiodeStore *s = sc_open (dir), *t;
  GError *err = NULL;

  t = diode_store_open (dir, NULL, &err);
  g_assert_null (t);
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED);
  g_assert_nonnull (strstr (err->message, "in use"));
  g_clear_error (&err);
  diode_store_close (s);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  t = diode_store_open (file, NULL, &err);
  g_assert_null (t);
  g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED);
  g_test_message ("%s", err->message);
  g_clear_error (&err);
  g_free (file);
  sc_rmdir (dir);
  g_free (dir);
}

typedef struct {
  DiodeStore *s;
  volatile gint stop;
  guint reads, damaged;
} Readers;

static gpointer
reader_main (gpointer data)
{
  Readers *r = data;
  GRand *rnd = g_rand_new_with_seed (7);

  while (!g_atomic_int_get (&r->stop)) {
    DiodeSpan spans[8];
    guint n = diode_store_get_spans (r->s, "cam", spans, 8), i;
    GError *err = NULL;
    DiodeStoredChunk *c;
    guint64 seq;

    for (i = 1; i < n; i++)
      g_assert_cmpuint (spans[i].first_seq, >, spans[i - 1].last_seq);
    if (n == 0)
      continue;
    seq = spans[0].first_seq + g_rand_int_range (rnd, 0,
        (gint32) MIN (spans[n - 1].last_seq - spans[0].first_seq + 1, G_MAXINT32));
    c = diode_store_read (r->s, "cam", seq, &err);
    if (c) {
      g_assert_true (diode_stored_chunk_verify (c, NULL));
      g_assert_cmpuint (c->hdr.last_seq, >=, seq);
      diode_stored_chunk_unref (c);
      g_atomic_int_inc ((gint *) &r->reads);
    } else {
      /* removed by retention meanwhile: never damaged */
      g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
      g_clear_error (&err);
    }
    diode_store_find (r->s, "cam", DIODE_START_EARLIEST, 0, 0, 0);
    diode_store_find (r->s, "cam", DIODE_START_TIME, seq * 40000000, DIODE_SNAP_NEAREST, 0);
  }
  g_rand_free (rnd);
  return NULL;
}

/* Reads, spans and finds from two threads while the writer appends, rolls
 * segments and retention removes them (by size), and new streams begin:
 * every chunk read verifies, a chunk gone meanwhile reads as NOT_FOUND
 * (ASan/TSan-style misuse shows up under the ASan build). */
static void
test_concurrent (void)
{
  gchar *dir = sc_tmpdir ();
  DiodeStoreLimits lim = { 0, 300 * 1024, 64 * 1024 * 1024 };
  DiodeStore *s = diode_store_open (dir, &lim, NULL);
  Readers r = { s, 0, 0, 0 };
  GThread *t1, *t2;
  guint64 seq;

  diode_store_set_segment_limits (s, 0, 0, 8);
  begin (s, "cam");
  sc_fill (s, "cam", 1, 40, 4, 1000, 1);
  t1 = g_thread_new ("r1", reader_main, &r);
  t2 = g_thread_new ("r2", reader_main, &r);
  for (seq = 41; seq <= 4000; seq += 4) {
    DiodeStoredChunk *c = sc_chunk (seq, seq + 3, 1000, seq * 40000, TRUE);

    while (!diode_store_append (s, "cam", c))
      g_usleep (1000);
    diode_stored_chunk_unref (c);
    if (seq % 400 == 1) {
      gchar *k = g_strdup_printf ("other-%" G_GUINT64_FORMAT, seq);

      begin (s, k);
      g_free (k);
    }
  }
  diode_store_wait_idle (s);
  g_atomic_int_set (&r.stop, 1);
  g_thread_join (t1);
  g_thread_join (t2);
  g_test_message ("%u chunks read while writing", r.reads);
  g_assert_cmpuint (r.reads, >, 0);
  g_assert_cmpuint (diode_store_get_bytes (s), <=, lim.max_bytes);
  g_assert_cmpuint (diode_store_damaged (s), ==, 0);
  diode_store_close (s);
  sc_rmdir (dir);
  g_free (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/retention/size", test_retention_size);
  g_test_add_func ("/store/retention/continuous-one", test_retention_continuous_one);
  g_test_add_func ("/store/retention/continuous-two", test_retention_continuous_two);
  g_test_add_func ("/store/retention/active-only", test_retention_active_only);
  g_test_add_func ("/store/retention/age", test_retention_age);
  g_test_add_func ("/store/queue-bound", test_queue_bound);
  g_test_add_func ("/store/memory-flat", test_memory_flat);
  g_test_add_func ("/store/sync", test_sync_callback);
  g_test_add_func ("/store/open-errors", test_open_errors);
  g_test_add_func ("/store/concurrent", test_concurrent);
  return g_test_run ();
}
