/* gst-diode — fuzzing: the chunk store's record parser and its open/rebuild
 * (gst/store/)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input's first byte picks the target:
 *
 *   even: the rest is one chunk record → diode_chunkrec_parse(). On success
 *         the chunk verifies, and serializing it gives the input back byte
 *         for byte (the layout is canonical).
 *   odd:  the rest is the content of a stream's segment files in a store
 *         directory (bit 1: a valid segment header is put first, so the
 *         fuzzer spends its time on records; bit 2: the input is split in
 *         two segment files at the offset given by the next two bytes; bit 3:
 *         the stream's meta file is the fuzzer's too: the bytes after a 0xff
 *         byte, if any). The store is opened (rebuild + verify + truncate),
 *         its spans, reads and finds are exercised, it is closed and opened
 *         again. Checks: spans are ordered, disjoint, within first <= last;
 *         every chunk a read returns verifies and holds or follows the seq
 *         asked for; a read never returns a damaged chunk; the second open
 *         sees exactly the spans the first left (the rebuild is stable);
 *         get_bytes matches the files on disk; nothing leaks.
 *
 * Allocation: a record head claiming up to 4 GiB must be refused from the
 * head (the store never allocates from an unchecked length): run.sh's
 * -rss_limit_mb=2048 and -malloc_limit_mb make a violation an OOM crash.
 *
 * FUZZ_STORE_MAKE_CORPUS=DIR: write the seeds (valid records and
 * segments, written by the store itself) to DIR and exit.
 */
#include "fuzz-common.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "diode-store-private.h"

static gchar *base_dir;
static gchar *stream_dir;
static gchar *store_dir;
static const DiodeStoreLimits no_retention = { 0, 0, 0 };

static void
store_log_handler (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
  /* the store logs what it finds wrong on disk: expected here
   * (FUZZ_TRACE=1 prints it) */
  if (g_getenv ("FUZZ_TRACE"))
    fprintf (stderr, "%s\n", message);
  if ((level & G_LOG_LEVEL_WARNING) && g_str_has_prefix (message, "store: "))
    return;
  fuzz_log_handler (domain, level, message, user_data);
}

static void
write_file (const gchar * path, const guint8 * data, gsize len)
{
  if (!g_file_set_contents (path, (const gchar *) data, len, NULL)) {
    fprintf (stderr, "fuzz-store: cannot write %s\n", path);
    abort ();
  }
}

static void
clear_dir (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *n;

  while (d && (n = g_dir_read_name (d))) {
    gchar *p = g_build_filename (dir, n, NULL);

    g_unlink (p);
    g_free (p);
  }
  if (d)
    g_dir_close (d);
}

static DiodeStoredChunk *
seed_chunk (guint64 first, guint64 last, gsize payload, gboolean key)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  DiodeChunkHeader h = { 0, };
  guint8 data[64];
  guint64 seq;
  guint i;

  memset (data, 0x5a, sizeof data);
  g_ptr_array_add (frames, diode_msg_encode_caps ("video/x-h264"));
  for (seq = first; seq <= last; seq++)
    g_ptr_array_add (frames, diode_msg_encode_media (seq, seq * 1000, seq * 1000, 1000,
            DIODE_TIME_NONE, DIODE_TIME_NONE, (key && seq == first) ? DIODE_MEDIA_KEYFRAME : 0,
            data, MIN (payload, sizeof data)));
  if (last % 3 == 0)
    g_ptr_array_add (frames, diode_msg_encode_eos (last));
  h.first_seq = first;
  h.last_seq = last;
  h.time = first * 1000;
  h.end_time = (last + 1) * 1000;
  h.wall_us = 1700000000000000 + first * 1000;
  h.flags = (key ? DIODE_CHUNK_KEYFRAME : 0) | ((last % 3 == 0) ? DIODE_CHUNK_EOS : 0);
  h.n_prelude = 1;
  h.n_frames = frames->len;
  for (i = 0; i < frames->len; i++) {
    h.bytes += g_bytes_get_size (g_ptr_array_index (frames, i));
    h.crc = diode_chunk_crc (h.crc, g_ptr_array_index (frames, i));
  }
  return diode_stored_chunk_new (&h, frames);
}

static void
write_seed (const gchar * dir, const gchar * name, guint8 mode, const guint8 * data, gsize len)
{
  gchar *p = g_build_filename (dir, name, NULL);
  guint8 *buf = g_malloc (len + 1);

  buf[0] = mode;
  memcpy (buf + 1, data, len);
  write_file (p, buf, len + 1);
  g_free (buf);
  g_free (p);
}

static void
make_corpus (const gchar * dir)
{
  gchar *sdir = g_build_filename (base_dir, "seed-store", NULL);
  DiodeStoreMeta m = { 0, };
  DiodeStore *s;
  gchar *seg, *data;
  gsize len;
  guint i;

  g_mkdir_with_parents (dir, 0755);
  for (i = 0; i < 3; i++) {
    DiodeStoredChunk *c = seed_chunk (1 + i * 5, 3 + i * 7, 10 + i * 20, i != 1);
    GBytes *rec = diode_chunkrec_serialize (c);
    gchar *name = g_strdup_printf ("record-%u", i);

    write_seed (dir, name, 0, g_bytes_get_data (rec, NULL), g_bytes_get_size (rec));
    g_free (name);
    g_bytes_unref (rec);
    diode_stored_chunk_unref (c);
  }
  s = diode_store_open (sdir, NULL, NULL);
  m.name = (gchar *) "cam";
  diode_store_begin (s, "cam", &m, NULL);
  for (i = 0; i < 6; i++) {
    DiodeStoredChunk *c = seed_chunk (1 + i * 4, 4 + i * 4, 16, i % 2 == 0);

    diode_store_append (s, "cam", c);
    diode_stored_chunk_unref (c);
  }
  diode_store_wait_idle (s);
  {
    gchar *sd = diode_store_stream_dir (s, "cam");

    seg = g_build_filename (sd, "0000000000000001.seg", NULL);
    g_free (sd);
  }
  diode_store_close (s);
  if (!g_file_get_contents (seg, &data, &len, NULL))
    abort ();
  /* the whole segment, with and without its header from the harness, and
   * cut in the last record */
  write_seed (dir, "segment-whole", 1, (guint8 *) data, len);
  write_seed (dir, "segment-records", 3, (guint8 *) data + STORE_SEG_HEADER_SIZE,
      len - STORE_SEG_HEADER_SIZE);
  write_seed (dir, "segment-torn", 1, (guint8 *) data, len - 17);
  {
    /* split in two segment files after the third record */
    guint8 *two = g_malloc (len + 2);
    gsize at = len / 2;

    two[0] = (at >> 8) & 0xff;
    two[1] = at & 0xff;
    memcpy (two + 2, data, len);
    write_seed (dir, "segment-split", 5, two, len + 2);
    g_free (two);
  }
  g_free (data);
  g_free (seg);
  g_free (sdir);
}

static void
rm_rf (const gchar * path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const gchar *n;

  while (d && (n = g_dir_read_name (d))) {
    gchar *p = g_build_filename (path, n, NULL);

    if (g_file_test (p, G_FILE_TEST_IS_DIR))
      rm_rf (p);
    else
      g_unlink (p);
    g_free (p);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (path);
}

static void
cleanup (void)
{
  rm_rf (base_dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const gchar *corpus = g_getenv ("FUZZ_STORE_MAKE_CORPUS");

  fuzz_glib_setup (argc, argv);
  g_log_set_default_handler (store_log_handler, NULL);
  /* warnings go through store_log_handler, which aborts on any but the
   * store's own reports of what it found on disk */
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
  base_dir = g_dir_make_tmp ("fuzz-store-XXXXXX", NULL);
  if (base_dir == NULL)
    abort ();
  atexit (cleanup);
  if (corpus) {
    make_corpus (corpus);
    exit (0);
  }
  store_dir = g_build_filename (base_dir, "store", NULL);
  /* the stream "cam" lives in the directory named by its key's hash */
  {
    gchar *h = store_key_dirname ("cam");

    stream_dir = g_build_filename (store_dir, "streams", h, NULL);
    g_free (h);
  }
  g_mkdir_with_parents (stream_dir, 0700);
  return 0;
}

static void
fuzz_record (const uint8_t * data, size_t size)
{
  GError *err = NULL;
  DiodeStoredChunk *c = diode_chunkrec_parse (data, size, &err);

  if (c == NULL) {
    FUZZ_CHECK (err != NULL && err->domain == DIODE_STORE_ERROR, "no error set");
    g_error_free (err);
    return;
  }
  /* a parsed record is intact (count, bytes, CRC); its header may still
   * claim seqs its frames do not hold: verify refuses that as INVALID */
  {
    GError *verr = NULL;

    FUZZ_CHECK (diode_stored_chunk_verify (c, &verr)
        || g_error_matches (verr, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID),
        "a parsed chunk is damaged");
    g_clear_error (&verr);
  }
  {
    GBytes *again = diode_chunkrec_serialize (c);

    FUZZ_CHECK (g_bytes_get_size (again) == size
        && memcmp (g_bytes_get_data (again, NULL), data, size) == 0,
        "re-serialized record differs");
    g_bytes_unref (again);
  }
  diode_stored_chunk_unref (c);
}

static guint
spans_checked (DiodeStore * s, DiodeSpan * spans)
{
  guint n = diode_store_get_spans (s, "cam", spans, 64), i;

  for (i = 0; i < n; i++) {
    FUZZ_CHECK (spans[i].first_seq >= 1 && spans[i].first_seq <= spans[i].last_seq,
        "span %u: %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, i, spans[i].first_seq,
        spans[i].last_seq);
    if (i > 0)
      FUZZ_CHECK (spans[i].first_seq > spans[i - 1].last_seq + 1, "spans overlap or touch");
  }
  return n;
}

static guint64
files_bytes (void)
{
  GDir *d = g_dir_open (stream_dir, 0, NULL);
  const gchar *n;
  guint64 total = 0;

  while (d && (n = g_dir_read_name (d))) {
    gchar *p = g_build_filename (stream_dir, n, NULL);
    GStatBuf st;

    if ((g_str_has_suffix (n, ".seg") || g_str_has_suffix (n, ".idx")) && g_stat (p, &st) == 0)
      total += st.st_size;
    g_free (p);
  }
  if (d)
    g_dir_close (d);
  return total;
}

static void
fuzz_open (guint8 mode, const uint8_t * data, size_t size)
{
  DiodeSpan spans[64], again[64];
  const guint8 *meta = NULL;
  gsize meta_len = 0, split;
  guint n, n2, i;
  DiodeStore *s;

  clear_dir (stream_dir);
  if (mode & 8) {
    const guint8 *ff = memchr (data, 0xff, size);

    if (ff) {
      meta = ff + 1;
      meta_len = size - (ff + 1 - data);
      size = ff - data;
    }
  }
  split = size;
  if (mode & 4 && size >= 2) {
    split = MIN ((gsize) ((data[0] << 8) | data[1]), size - 2);
    data += 2;
    size -= 2;
  }
  {
    gchar *metap = g_build_filename (stream_dir, "meta", NULL);

    if (meta)
      write_file (metap, meta, meta_len);
    else
      write_file (metap, (const guint8 *) "[stream]\nkey=cam\nname=cam\naccess=0\n", 35);
    g_free (metap);
  }
  for (i = 0; i < 2; i++) {
    const guint8 *part = i == 0 ? data : data + split;
    gsize plen = i == 0 ? split : size - split;
    gchar *p = g_strdup_printf ("%s/%016x.seg", stream_dir, i + 1);

    if (i == 1 && split == size) {
      g_free (p);
      break;
    }
    if (mode & 2) {
      guint8 *buf = g_malloc (plen + STORE_SEG_HEADER_SIZE);

      store_seg_header (i + 1, buf);
      memcpy (buf + STORE_SEG_HEADER_SIZE, part, plen);
      write_file (p, buf, plen + STORE_SEG_HEADER_SIZE);
      g_free (buf);
    } else {
      write_file (p, part, plen);
    }
    g_free (p);
  }

  /* no retention: the fuzzer's wall times are anything */
  s = diode_store_open (store_dir, &no_retention, NULL);
  FUZZ_CHECK (s != NULL, "the store did not open");
  n = spans_checked (s, spans);
  {
    /* a stream whose meta does not load is left alone, not counted */
    gchar **keys = diode_store_list (s);
    guint64 on_disk = keys[0] ? files_bytes () : 0;

    FUZZ_CHECK (diode_store_get_bytes (s) == on_disk, "bytes %" G_GUINT64_FORMAT
        " counted, %" G_GUINT64_FORMAT " on disk", diode_store_get_bytes (s), on_disk);
    g_strfreev (keys);
  }
  for (i = 0; i < n; i++) {
    guint64 seq = spans[i].first_seq;
    guint reads = 0;

    while (seq <= spans[i].last_seq && reads++ < 32) {
      GError *err = NULL;
      DiodeStoredChunk *c = diode_store_read (s, "cam", seq, &err);

      if (c == NULL) {
        FUZZ_CHECK (err != NULL, "NULL without an error");
        g_error_free (err);
        break;
      }
      {
        GError *verr = NULL;

        FUZZ_CHECK (diode_stored_chunk_verify (c, &verr)
            || g_error_matches (verr, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID),
            "a read returned a damaged chunk");
        g_clear_error (&verr);
      }
      FUZZ_CHECK (c->hdr.last_seq >= seq, "read %" G_GUINT64_FORMAT " returned %"
          G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, seq, c->hdr.first_seq, c->hdr.last_seq);
      seq = c->hdr.last_seq + 1;
      diode_stored_chunk_unref (c);
      if (seq == 0)
        break;
    }
  }
  for (i = 1; i <= 4; i++) {
    guint64 f = diode_store_find (s, "cam", i, i == 3 ? 1700000000000000 : 5000, i % 3,
        1700000000000000);

    FUZZ_CHECK (f == 0 || n > 0, "find in an empty stream");
  }
  diode_store_close (s);

  s = diode_store_open (store_dir, &no_retention, NULL);
  FUZZ_CHECK (s != NULL, "the store did not open again");
  n2 = spans_checked (s, again);
  FUZZ_CHECK (n2 == n && memcmp (spans, again, n * sizeof (DiodeSpan)) == 0,
      "the second open sees other spans (%u, then %u)", n, n2);
  diode_store_close (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  if (size < 1)
    return 0;
  if (data[0] & 1)
    fuzz_open (data[0], data + 1, size - 1);
  else
    fuzz_record (data + 1, size - 1);
  return 0;
}
