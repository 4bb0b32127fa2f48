/* gst-diode — helpers shared by the store tests (test-store*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "storecheck.h"

#include <stdlib.h>
#include <string.h>

#define MS40 G_GUINT64_CONSTANT (40000000)
#include <glib/gstdio.h>

DiodeStoredChunk *
sc_chunk (guint64 first, guint64 last, gsize payload, guint64 wall_us, gboolean keyframe)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  DiodeChunkHeader h = { 0, };
  guint8 *data = g_malloc (MAX (payload, 1));
  guint64 seq;

  g_ptr_array_add (frames, diode_msg_encode_caps ("video/x-h264, stream-format=byte-stream"));
  for (seq = first; seq <= last; seq++) {
    gsize i;

    for (i = 0; i < payload; i++)
      data[i] = (guint8) (seq * 31 + i);
    g_ptr_array_add (frames, diode_msg_encode_media (seq, seq * MS40,
            seq * MS40, MS40, DIODE_TIME_NONE, DIODE_TIME_NONE,
            (keyframe && seq == first) ? DIODE_MEDIA_KEYFRAME : 0, data, payload));
  }
  g_free (data);
  h.first_seq = first;
  h.last_seq = last;
  h.time = first * MS40;
  h.end_time = (last + 1) * MS40;
  h.wall_us = wall_us;
  h.flags = keyframe ? DIODE_CHUNK_KEYFRAME : 0;
  h.n_prelude = 1;
  h.n_frames = frames->len;
  for (guint i = 0; i < frames->len; i++) {
    h.bytes += g_bytes_get_size (g_ptr_array_index (frames, i));
    h.crc = diode_chunk_crc (h.crc, g_ptr_array_index (frames, i));
  }
  return diode_stored_chunk_new (&h, frames);
}

gboolean
sc_chunk_equal (const DiodeStoredChunk *a, const DiodeStoredChunk *b)
{
  guint i;

  const DiodeChunkHeader *x = &a->hdr, *y = &b->hdr;

  /* field by field: the struct has padding */
  if (x->first_seq != y->first_seq || x->last_seq != y->last_seq || x->time != y->time
      || x->end_time != y->end_time || x->wall_us != y->wall_us || x->flags != y->flags
      || x->n_prelude != y->n_prelude || x->n_frames != y->n_frames || x->bytes != y->bytes
      || x->crc != y->crc || a->frames->len != b->frames->len)
    return FALSE;
  for (i = 0; i < a->frames->len; i++)
    if (!g_bytes_equal (g_ptr_array_index (a->frames, i), g_ptr_array_index (b->frames, i)))
      return FALSE;
  return TRUE;
}

gchar *
sc_tmpdir (void)
{
  GError *err = NULL;
  gchar *d = g_dir_make_tmp ("diode-store-XXXXXX", &err);

  g_assert_no_error (err);
  return d;
}

static void
rm_rf (const gchar *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    GDir *d = g_dir_open (path, 0, NULL);
    const gchar *n;

    while (d && (n = g_dir_read_name (d))) {
      gchar *p = g_build_filename (path, n, NULL);

      rm_rf (p);
      g_free (p);
    }
    if (d)
      g_dir_close (d);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

void
sc_rmdir (const gchar *dir)
{
  rm_rf (dir);
}

void
sc_meta (DiodeStoreMeta *m, const gchar *name)
{
  memset (m, 0, sizeof *m);
  m->name = g_strdup (name);
  m->owner = g_strdup ("0x00112233445566778899aabbccddeeff00112233");
  m->access = 1;
  m->fleet = g_strdup ("0xfleet");
  m->pubflags = 1;
}

DiodeStore *
sc_open (const gchar *dir)
{
  DiodeStoreLimits lim = { 0, 0, 256 * 1024 * 1024 };
  GError *err = NULL;
  DiodeStore *s = diode_store_open (dir, &lim, &err);

  g_assert_no_error (err);
  g_assert_nonnull (s);
  return s;
}

void
sc_fill (DiodeStore *s, const gchar *key, guint64 first, guint64 last, guint per, gsize payload,
    guint64 wall0_us)
{
  guint64 seq;

  for (seq = first; seq <= last; seq += per) {
    guint64 end = MIN (last, seq + per - 1);
    DiodeStoredChunk *c = sc_chunk (seq, end, payload, wall0_us + seq * 40000, TRUE);

    while (!diode_store_append (s, key, c)) {
      g_assert_true (diode_store_is_healthy (s, NULL));
      diode_store_wait_idle (s);
    }
    diode_stored_chunk_unref (c);
  }
  diode_store_wait_idle (s);
}

static gint
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar * const *) a, *(const gchar * const *) b);
}

gchar *
sc_seg_path (DiodeStore *s, const gchar *key, guint n)
{
  gchar *dir = diode_store_stream_dir (s, key);
  GDir *d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const gchar *e;
  gchar *p = NULL;

  while (d && (e = g_dir_read_name (d)))
    if (g_str_has_suffix (e, ".seg"))
      g_ptr_array_add (names, g_strdup (e));
  if (d)
    g_dir_close (d);
  g_ptr_array_sort (names, cmp_names);
  if (n >= 1 && n <= names->len)
    p = g_build_filename (dir, g_ptr_array_index (names, n - 1), NULL);
  g_ptr_array_unref (names);
  g_free (dir);
  return p;
}

static void
write_file (const gchar *path, const gchar *data, gsize len)
{
  GError *err = NULL;

  g_assert_true (g_file_set_contents (path, data, len, &err));
  g_assert_no_error (err);
}

guint
sc_cut_sweep (guint n_chunks, gsize payload, guint step, guint append_every)
{
  gchar *dir = sc_tmpdir ();
  DiodeStore *s = sc_open (dir);
  DiodeStoreMeta m;
  gchar *seg, *idx, *sdata, *idata;
  gsize slen, ilen, last_start, cut;
  guint64 last_first = 0, per = 4, keep_last;
  guint tried = 0;

  sc_meta (&m, "cam");
  g_assert_true (diode_store_begin (s, "cam", &m, NULL));
  diode_store_meta_clear (&m);
  sc_fill (s, "cam", 1, n_chunks * per, per, payload, 1700000000000000);
  seg = sc_seg_path (s, "cam", 1);
  idx = g_strndup (seg, strlen (seg) - 3);
  {
    gchar *t = g_strconcat (idx, "idx", NULL);

    g_free (idx);
    idx = t;
  }
  diode_store_close (s);
  g_assert_true (g_file_get_contents (seg, &sdata, &slen, NULL));
  g_assert_true (g_file_get_contents (idx, &idata, &ilen, NULL));
  g_assert_cmpuint (ilen, ==, n_chunks * STORE_IDX_ENTRY_SIZE);
  /* the last record's offset, from the index's last entry */
  {
    StoreEntry e;

    store_entry_read ((const guint8 *) idata + ilen - STORE_IDX_ENTRY_SIZE, &e);
    last_start = e.offset;
    last_first = e.first_seq;
    g_assert_cmpuint (last_start + e.size, ==, slen);
  }
  keep_last = last_first - 1;

  for (cut = last_start; cut < slen; cut++) {
    GError *err = NULL;
    DiodeStoredChunk *c;
    DiodeSpan span;
    gchar *ndata;
    gsize nlen;

    if (!((cut - last_start) % step == 0 || cut - last_start < 80 || slen - cut <= 80))
      continue;
    tried++;
    /* the state a kill -9 leaves: the record cut at @cut, the index
     * already holding (or not) its entry; any .idx.tmp left over */
    write_file (seg, sdata, cut);
    write_file (idx, idata, (tried % 2) ? ilen : ilen - STORE_IDX_ENTRY_SIZE);
    s = sc_open (dir);
    g_assert_cmpuint (diode_store_get_spans (s, "cam", &span, 1), ==, 1);
    g_assert_cmpuint (span.first_seq, ==, 1);
    g_assert_cmpuint (span.last_seq, ==, keep_last);
    c = diode_store_read (s, "cam", keep_last, &err);
    g_assert_no_error (err);
    {
      DiodeStoredChunk *ref = sc_chunk (keep_last - per + 1, keep_last, payload,
          1700000000000000 + (keep_last - per + 1) * 40000, TRUE);

      g_assert_true (sc_chunk_equal (c, ref));
      diode_stored_chunk_unref (ref);
    }
    diode_stored_chunk_unref (c);
    g_assert_null (diode_store_read (s, "cam", last_first, &err));
    g_assert_error (err, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND);
    g_clear_error (&err);
    /* the segment ends on a whole record, the index was rebuilt */
    g_assert_true (g_file_get_contents (seg, &ndata, &nlen, NULL));
    g_assert_cmpuint (nlen, ==, last_start);
    g_free (ndata);
    g_assert_true (g_file_get_contents (idx, &ndata, &nlen, NULL));
    g_assert_cmpuint (nlen, ==, ilen - STORE_IDX_ENTRY_SIZE);
    g_assert_cmpmem (ndata, nlen, idata, ilen - STORE_IDX_ENTRY_SIZE);
    g_free (ndata);
    if (append_every && tried % append_every == 0) {
      /* recording goes on after the restart, in a new segment */
      gchar *seg2, *idx2;

      sc_fill (s, "cam", last_first, last_first + per - 1, per, payload, 1700000000000000);
      seg2 = sc_seg_path (s, "cam", 2);
      g_assert_nonnull (seg2);
      diode_store_close (s);
      s = sc_open (dir);
      c = diode_store_read (s, "cam", last_first, &err);
      g_assert_no_error (err);
      g_assert_cmpuint (c->hdr.last_seq, ==, last_first + per - 1);
      diode_stored_chunk_unref (c);
      diode_store_close (s);
      /* back to one segment for the next cut */
      idx2 = g_strdup (seg2);
      memcpy (idx2 + strlen (idx2) - 3, "idx", 3);
      g_unlink (seg2);
      g_unlink (idx2);
      g_free (seg2);
      g_free (idx2);
    } else {
      diode_store_close (s);
    }
  }
  g_free (sdata);
  g_free (idata);
  g_free (seg);
  g_free (idx);
  sc_rmdir (dir);
  g_free (dir);
  return tried;
}
