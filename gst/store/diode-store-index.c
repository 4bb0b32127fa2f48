/* gst-diode — the store's segment and index files: scan at open, entry reads
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * At open every segment of a stream is walked record by record (each record
 * head carries its own CRC, so its lengths are trusted only once they
 * check), its index file is rewritten from what was found, and whatever a
 * crash could have torn is cut off: a record that runs past the end of the
 * file or whose head does not check ends the segment there (the file is
 * truncated). The last segment of a stream, the only one a crash can have
 * been writing, is verified in full: its last record must also pass its
 * frame CRC or it goes too; a record before it that fails its CRC is damage,
 * not a tear: it is kept, logged, and refused by every read. Earlier
 * segments were fsync'd when closed and are checked structurally only.
 */
#include "diode-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <glib/gstdio.h>

gchar *
store_seg_path (StoreStream *st, guint64 number, const gchar *ext)
{
  gchar name[40];

  g_snprintf (name, sizeof name, "%016" G_GINT64_MODIFIER "x.%s", number, ext);
  return g_build_filename (st->dir, name, NULL);
}

static void
put32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, 4);
}

static void
put64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, 8);
}

static guint32
get32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

static guint64
get64 (const guint8 *p)
{
  guint64 v;

  memcpy (&v, p, 8);
  return GUINT64_FROM_BE (v);
}

void
store_seg_header (guint64 number, guint8 out[STORE_SEG_HEADER_SIZE])
{
  memcpy (out, STORE_SEG_MAGIC, 8);
  put32 (out + 8, STORE_SEG_FORMAT);
  put32 (out + 12, STORE_SEG_HEADER_SIZE);
  put64 (out + 16, number);
  put32 (out + 24, 0);
  put32 (out + 28, crc32 (0, out, 28));
}

static gboolean
seg_header_ok (const guint8 in[STORE_SEG_HEADER_SIZE], guint64 number)
{
  return memcmp (in, STORE_SEG_MAGIC, 8) == 0 && get32 (in + 8) == STORE_SEG_FORMAT
      && get32 (in + 12) == STORE_SEG_HEADER_SIZE && get64 (in + 16) == number
      && get32 (in + 28) == crc32 (0, in, 28);
}

void
store_entry_write (const StoreEntry *e, guint8 out[STORE_IDX_ENTRY_SIZE])
{
  put64 (out, e->offset);
  put64 (out + 8, e->first_seq);
  put64 (out + 16, e->last_seq);
  put64 (out + 24, e->time);
  put64 (out + 32, e->end_time);
  put64 (out + 40, e->wall_us);
  put32 (out + 48, e->flags);
  put32 (out + 52, e->size);
  put32 (out + 56, e->n_frames);
  put32 (out + 60, 0);
}

void
store_entry_read (const guint8 in[STORE_IDX_ENTRY_SIZE], StoreEntry *e)
{
  e->offset = get64 (in);
  e->first_seq = get64 (in + 8);
  e->last_seq = get64 (in + 16);
  e->time = get64 (in + 24);
  e->end_time = get64 (in + 32);
  e->wall_us = get64 (in + 40);
  e->flags = get32 (in + 48);
  e->size = get32 (in + 52);
  e->n_frames = get32 (in + 56);
}

guint64
store_entry_wall_end (const StoreEntry *e)
{
  if (e->time != DIODE_TIME_NONE && e->end_time != DIODE_TIME_NONE && e->end_time > e->time
      && (e->end_time - e->time) / 1000 < G_MAXUINT64 - e->wall_us)
    return e->wall_us + (e->end_time - e->time) / 1000;
  return e->wall_us;
}

void
store_segment_add_entry (StoreSegment *seg, const StoreEntry *e)
{
  if (seg->n_chunks == 0) {
    seg->first_seq = e->first_seq;
    seg->first_time = e->time;
    seg->wall_start = e->wall_us;
  } else if (e->first_seq != seg->last_seq + 1) {
    seg->gaps = TRUE;
  }
  seg->last_seq = e->last_seq;
  seg->end_time = e->end_time;
  seg->wall_end = MAX (seg->wall_end, store_entry_wall_end (e));
  seg->n_chunks++;
  if (e->flags & DIODE_CHUNK_KEYFRAME)
    seg->n_keys++;
  seg->size += e->size + STORE_IDX_ENTRY_SIZE;
}

static gboolean
pread_all (int fd, void *buf, gsize len, guint64 off)
{
  guint8 *p = buf;

  while (len > 0) {
    ssize_t n = pread (fd, p, len, (off_t) off);

    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    p += n;
    len -= n;
    off += n;
  }
  return TRUE;
}

static gboolean
write_all (int fd, const void *buf, gsize len)
{
  const guint8 *p = buf;

  while (len > 0) {
    ssize_t n = write (fd, p, len);

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return FALSE;
    p += n;
    len -= n;
  }
  return TRUE;
}

/* Verifies the frames of the record at @e (CRC and frame structure). */
static gboolean
record_verify (int fd, const StoreEntry *e, GError **error)
{
  guint8 head[DIODE_CHUNKREC_HEAD_SIZE];
  DiodeChunkHeader hdr;
  DiodeStoredChunk *c;
  guint8 *buf;
  GBytes *data;

  if (!pread_all (fd, head, sizeof head, e->offset)
      || !diode_chunkrec_parse_head (head, &hdr, error))
    return FALSE;
  /* hdr.bytes was checked against DIODE_MAX_CHUNK_BYTES by parse_head */
  buf = g_try_malloc (MAX (hdr.bytes, 1));
  if (buf == NULL) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED, "out of memory");
    return FALSE;
  }
  if (!pread_all (fd, buf, hdr.bytes, e->offset + DIODE_CHUNKREC_HEAD_SIZE)) {
    g_free (buf);
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED, "short record");
    return FALSE;
  }
  data = g_bytes_new_take (buf, hdr.bytes);
  c = diode_chunkrec_parse_frames (&hdr, data, error);
  g_bytes_unref (data);
  diode_stored_chunk_unref (c);
  return c != NULL;
}

static void
set_aside (const gchar *path, const gchar *why)
{
  gchar *to = g_strconcat (path, ".damaged", NULL);

  g_warning ("store: %s %s: set aside as %s", path, why, to);
  if (g_rename (path, to) != 0)
    g_warning ("store: cannot rename %s: %s", path, g_strerror (errno));
  g_free (to);
}

static gboolean
idx_same (const gchar *path, const guint8 *buf, gsize n)
{
  gint fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  guint8 *old;
  gboolean same;

  if (fd < 0)
    return FALSE;
  old = g_malloc (n + 1);
  /* one byte more than expected must not be there */
  same = pread_all (fd, old, n, 0) && pread (fd, old + n, 1, n) == 0 && memcmp (old, buf, n) == 0;
  close (fd);
  g_free (old);
  return same;
}

/* Walks segment @number of @st. Returns FALSE when it holds nothing usable
 * (then it has been removed or set aside). *@prev_seq: the last seq of the
 * stream before it, updated. */
static gboolean
scan_segment (StoreStream *st, guint64 number, gboolean last, guint64 *prev_seq,
    StoreSegment *seg)
{
  gchar *path = store_seg_path (st, number, "seg");
  gchar *ipath = store_seg_path (st, number, "idx");
  GArray *entries = g_array_new (FALSE, FALSE, sizeof (StoreEntry));
  guint8 sh[STORE_SEG_HEADER_SIZE];
  guint64 size, off;
  gboolean ok = FALSE;
  GError *err = NULL;
  guint64 seg_prev;
  gint fd;
  guint i;

  memset (seg, 0, sizeof *seg);
  seg->number = number;
  seg_prev = *prev_seq;
  fd = g_open (path, O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    g_warning ("store: cannot open %s: %s", path, g_strerror (errno));
    goto out;
  }
  size = lseek (fd, 0, SEEK_END);
  if (size < STORE_SEG_HEADER_SIZE || !pread_all (fd, sh, sizeof sh, 0)
      || !seg_header_ok (sh, number)) {
    if (last) {
      /* a crash right after the file was created: it held no chunk yet */
      g_message ("store: %s: torn segment header, removed", path);
      g_unlink (path);
    } else {
      set_aside (path, "has a bad segment header");
    }
    goto out;
  }

  off = STORE_SEG_HEADER_SIZE;
  while (off < size) {
    guint8 head[DIODE_CHUNKREC_HEAD_SIZE];
    DiodeChunkHeader hdr;
    StoreEntry e;
    guint64 rsize;

    if (size - off < DIODE_CHUNKREC_HEAD_SIZE || entries->len >= STORE_SEGMENT_CHUNKS
        || !pread_all (fd, head, sizeof head, off)
        || !diode_chunkrec_parse_head (head, &hdr, &err))
      break;
    rsize = DIODE_CHUNKREC_HEAD_SIZE + (guint64) hdr.bytes;
    if (rsize > size - off || hdr.first_seq <= *prev_seq)
      break;
    e.offset = off;
    e.first_seq = hdr.first_seq;
    e.last_seq = hdr.last_seq;
    e.time = hdr.time;
    e.end_time = hdr.end_time;
    e.wall_us = hdr.wall_us;
    e.flags = hdr.flags;
    e.size = (guint32) rsize;
    e.n_frames = hdr.n_frames;
    g_array_append_val (entries, e);
    *prev_seq = hdr.last_seq;
    off += rsize;
  }
  g_clear_error (&err);

  /* the last segment: every record's frames too. Records at the end that
   * fail are what a crash tore (the last one; more than one only if damage
   * sits right before it): cut, so the tail always ends on a good record
   * and the next open finds nothing more to cut. A failing record with a
   * good one after it is damage, not a tear: kept, reads refuse it. */
  if (last) {
    while (entries->len > 0) {
      StoreEntry *e = &g_array_index (entries, StoreEntry, entries->len - 1);

      if (record_verify (fd, e, &err))
        break;
      g_message ("store: %s: last chunk (seq %" G_GUINT64_FORMAT ") torn (%s), removed",
          path, e->first_seq, err->message);
      g_clear_error (&err);
      off = e->offset;
      g_array_set_size (entries, entries->len - 1);
      *prev_seq = entries->len > 0
          ? g_array_index (entries, StoreEntry, entries->len - 1).last_seq : seg_prev;
    }
    for (i = 0; i + 1 < entries->len; i++) {
      StoreEntry *e = &g_array_index (entries, StoreEntry, i);

      if (record_verify (fd, e, &err))
        continue;
      g_warning ("store: %s: chunk at seq %" G_GUINT64_FORMAT " is damaged (%s); "
          "kept, reads refuse it", path, e->first_seq, err->message);
      g_clear_error (&err);
    }
  }
  if (off < size) {
    if (last)
      g_message ("store: %s: torn tail of %" G_GUINT64_FORMAT " bytes cut at offset %"
          G_GUINT64_FORMAT, path, size - off, off);
    else
      g_warning ("store: %s: %" G_GUINT64_FORMAT " bytes that are no chunk record cut at "
          "offset %" G_GUINT64_FORMAT, path, size - off, off);
    if (ftruncate (fd, (off_t) off) != 0 || fsync (fd) != 0)
      g_warning ("store: cannot truncate %s: %s", path, g_strerror (errno));
  }
  if (entries->len == 0) {
    /* nothing left: the file goes */
    g_unlink (path);
    g_unlink (ipath);
    goto out;
  }

  /* the index, rewritten from what was found */
  {
    gsize n = (gsize) entries->len * STORE_IDX_ENTRY_SIZE;
    guint8 *buf = g_malloc (n);
    gchar *tmp = g_strconcat (ipath, ".tmp", NULL);
    gint ifd;

    for (i = 0; i < entries->len; i++) {
      store_entry_write (&g_array_index (entries, StoreEntry, i), buf + (gsize) i * STORE_IDX_ENTRY_SIZE);
      store_segment_add_entry (seg, &g_array_index (entries, StoreEntry, i));
    }
    /* an index that already says exactly this is left alone: no write at
     * every open, and a store on a full disk still opens */
    if (idx_same (ipath, buf, n)) {
      g_free (tmp);
      g_free (buf);
      seg->size += STORE_SEG_HEADER_SIZE;
      ok = TRUE;
      goto out;
    }
    ifd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ifd < 0 || !write_all (ifd, buf, n) || close (ifd) != 0 || g_rename (tmp, ipath) != 0) {
      g_warning ("store: cannot write index %s: %s; segment left out", ipath, g_strerror (errno));
      if (ifd >= 0)
        close (ifd);
      g_unlink (tmp);
      g_free (tmp);
      g_free (buf);
      goto out;
    }
    g_free (tmp);
    g_free (buf);
  }
  /* size counts the segment header too */
  seg->size += STORE_SEG_HEADER_SIZE;
  ok = TRUE;

out:
  if (fd >= 0)
    close (fd);
  g_array_unref (entries);
  g_free (path);
  g_free (ipath);
  return ok;
}

static gint
cmp_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;

  return x < y ? -1 : x > y;
}

void
store_scan_stream (DiodeStore *s, StoreStream *st)
{
  GDir *d = g_dir_open (st->dir, 0, NULL);
  GArray *numbers = g_array_new (FALSE, FALSE, sizeof (guint64));
  const gchar *name;
  guint64 prev = 0;
  guint i;

  if (d == NULL)
    goto out;
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *end = NULL;
    guint64 n;

    if (strlen (name) != 20 || !g_str_has_suffix (name, ".seg")
        || !g_ascii_isxdigit (name[0])) {
      /* leftovers of an interrupted index rewrite */
      if (g_str_has_suffix (name, ".idx.tmp")) {
        gchar *p = g_build_filename (st->dir, name, NULL);

        g_unlink (p);
        g_free (p);
      }
      continue;
    }
    n = g_ascii_strtoull (name, &end, 16);
    if (end != name + 16 || n == 0 || n == G_MAXUINT64)
      continue;
    g_array_append_val (numbers, n);
  }
  g_dir_close (d);
  g_array_sort (numbers, cmp_u64);
  for (i = 0; i < numbers->len; i++) {
    guint64 n = g_array_index (numbers, guint64, i);
    StoreSegment seg;

    st->next_number = MAX (st->next_number, n + 1);
    if (scan_segment (st, n, i + 1 == numbers->len, &prev, &seg)) {
      g_array_append_val (st->segs, seg);
      st->bytes += seg.size;
    } else if (i + 1 == numbers->len) {
      /* the last file held nothing: the segment before it is now the
       * stream's last, and is verified in full like one (so that the next
       * open, which will see it last, finds nothing more to cut) */
      while (st->segs->len > 0) {
        StoreSegment *lastseg = &g_array_index (st->segs, StoreSegment, st->segs->len - 1);
        guint64 number = lastseg->number;

        st->bytes -= lastseg->size;
        g_array_set_size (st->segs, st->segs->len - 1);
        prev = st->segs->len > 0
            ? g_array_index (st->segs, StoreSegment, st->segs->len - 1).last_seq : 0;
        if (scan_segment (st, number, TRUE, &prev, &seg)) {
          g_array_append_val (st->segs, seg);
          st->bytes += seg.size;
          break;
        }
      }
    }
  }
  st->last_seq = st->queued_seq = st->durable_seq = prev;
out:
  g_array_unref (numbers);
}

gboolean
store_idx_read (StoreStream *st, guint64 number, guint32 first, guint32 n,
    StoreEntry *out, GError **error)
{
  gchar *path = store_seg_path (st, number, "idx");
  gsize len = (gsize) n * STORE_IDX_ENTRY_SIZE;
  guint8 *buf;
  gboolean ok = FALSE;
  gint fd;
  guint32 i;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
        "%s: %s", path, g_strerror (errno));
    g_free (path);
    return FALSE;
  }
  buf = g_malloc (MAX (len, 1));
  if (!pread_all (fd, buf, len, (guint64) first * STORE_IDX_ENTRY_SIZE)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
        "%s: short index", path);
    goto out;
  }
  for (i = 0; i < n; i++)
    store_entry_read (buf + (gsize) i * STORE_IDX_ENTRY_SIZE, &out[i]);
  ok = TRUE;
out:
  close (fd);
  g_free (buf);
  g_free (path);
  return ok;
}
