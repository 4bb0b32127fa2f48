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
