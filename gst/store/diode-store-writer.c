/* gst-diode — the store's writer thread: append, segment roll, sync, retention
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Callers queue jobs (a chunk to append, a sync, a meta file to write) and
 * return at once; one thread per store does the file I/O in queue order, so
 * a stream's chunks reach the disk in the order they were appended. The
 * queue is bounded in bytes (DiodeStoreLimits.queue_bytes, counted with
 * diode_stored_chunk_cost()): an append over the bound is refused, never
 * waited for, so the relay's I/O thread never blocks on the disk.
 *
 * A record is written with writev()s of its head and its frames' own
 * buffers (no copy into a buffer first) into the active segment, then its
 * index entry; readers see it only once both are written
 * (the segment's n_chunks is raised under the lock afterwards). A failed
 * write (ENOSPC, EIO…) cuts the partial record off again, logs one warning
 * and marks the store failed: later appends are refused, reads go on.
 *
 * File descriptors are given back: a stream's segment is closed when its
 * recording ends (a sync after a finished meta, diode_store_end), when it
 * was not written for the segment time limit, and when more than
 * STORE_MAX_OPEN_SEGMENTS are open (the least recently written goes; it is
 * reopened where it was on that stream's next append). Running out of
 * descriptors anyway (EMFILE, ENFILE) loses that chunk only, never the
 * store. A new segment never reuses a file: its number comes after every
 * numbered file of the directory and it is created O_EXCL.
 */
#include "diode-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <glib/gstdio.h>

typedef enum { JOB_APPEND, JOB_SYNC, JOB_META, JOB_END } JobType;

typedef struct {
  JobType type;
  StoreStream *st;             /* streams live until the store closes */
  DiodeStoredChunk *chunk;     /* APPEND */
  gsize cost;
  GMainContext *context;       /* SYNC */
  DiodeStoreSyncedFunc cb;
  gpointer user_data;
  GDestroyNotify destroy;
  DiodeStoreMeta meta;         /* META: the meta to write */
} Job;

/* Write buffer: a record's head is built in it (the frames are written
 * from their own GBytes with writev). */
#define WBUF_SIZE DIODE_CHUNKREC_HEAD_SIZE
/* Frames per writev() (well under IOV_MAX, which POSIX puts at >= 16; Linux
 * 1024): 64 video frames of a 4 Mbit/s stream are a megabyte a call. */
#define WRITEV_BATCH 64

static void
job_free (Job *j)
{
  diode_stored_chunk_unref (j->chunk);
  diode_store_meta_clear (&j->meta);
  if (j->context)
    g_main_context_unref (j->context);
  g_free (j);
}

/* Called with the lock held. */
static void
enqueue (DiodeStore *s, Job *j)
{
  g_queue_push_tail (&s->jobs, j);
  s->busy++;
  g_cond_signal (&s->cond);
}

static StoreStream *
stream_lookup_or_new (DiodeStore *s, const gchar *key)
{
  StoreStream *st = g_hash_table_lookup (s->streams, key);

  if (st == NULL) {
    st = store_stream_new (s, key);
    g_hash_table_insert (s->streams, st->key, st);
  }
  return st;
}

static gboolean
queue_meta (DiodeStore *s, const gchar *key, const DiodeStoreMeta *meta, gboolean create,
    GError **error)
{
  StoreStream *st;
  Job *j;
  gchar *name = NULL, *path = NULL;
  gboolean on_disk = FALSE, newly = FALSE;

  g_return_val_if_fail (s != NULL && key != NULL && *key != '\0' && meta != NULL, FALSE);
  if (create) {
    GStatBuf sb;

    /* Looked at before the lock (no file I/O under it): a directory there
     * that no loaded stream owns is someone's recording whose meta we
     * could not read, or one put there behind the store's back. Anything
     * but "no such file" (or a parent that is no directory: the write
     * fails then and says so) counts as there (fail closed). */
    name = store_key_dirname (key);
    path = g_build_filename (s->streams_dir, name, NULL);
    on_disk = g_lstat (path, &sb) == 0 || (errno != ENOENT && errno != ENOTDIR);
  }
  g_mutex_lock (&s->lock);
  if (!s->healthy) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED, "%s", s->reason);
    goto refused;
  }
  st = g_hash_table_lookup (s->streams, key);
  if (create && st == NULL && (on_disk || g_hash_table_contains (s->quarantined, name))) {
    if (!g_hash_table_contains (s->quarantined, name)) {
      g_hash_table_add (s->quarantined, g_strdup (name));
      newly = TRUE;
    }
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED,
        "the stored recording's metadata is unreadable: the operator must repair or remove %s",
        path);
    goto refused;
  }
  if (create && st != NULL && st->meta.owner
      && (meta->owner == NULL || g_ascii_strcasecmp (st->meta.owner, meta->owner))) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_REFUSED,
        "the stored stream belongs to %s, not to %s", st->meta.owner,
        meta->owner ? meta->owner : "an unknown owner");
    goto refused;
  }
  if (create && st == NULL)
    st = stream_lookup_or_new (s, key);
  g_clear_pointer (&name, g_free);
  g_clear_pointer (&path, g_free);
  if (st == NULL) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_NOT_FOUND,
        "no stored stream of that name");
    goto refused;
  }
  diode_store_meta_clear (&st->meta);
  store_meta_copy (&st->meta, meta);
  if (st->meta.name == NULL)
    st->meta.name = g_strdup (key);
  j = g_new0 (Job, 1);
  j->type = JOB_META;
  j->st = st;
  store_meta_copy (&j->meta, &st->meta);
  enqueue (s, j);
  g_mutex_unlock (&s->lock);
  return TRUE;

refused:
  g_mutex_unlock (&s->lock);
  if (newly)
    g_warning ("store: %s appeared without a loaded stream: quarantined (neither recorded "
        "nor served until the operator repairs or removes it)", path);
  g_free (name);
  g_free (path);
  return FALSE;
}

gboolean
diode_store_begin (DiodeStore *s, const gchar *key, const DiodeStoreMeta *meta, GError **error)
{
  return queue_meta (s, key, meta, TRUE, error);
}

gboolean
diode_store_set_meta (DiodeStore *s, const gchar *key, const DiodeStoreMeta *meta, GError **error)
{
  return queue_meta (s, key, meta, FALSE, error);
}

gboolean
diode_store_append (DiodeStore *s, const gchar *key, DiodeStoredChunk *chunk)
{
  StoreStream *st;
  gsize cost;
  Job *j;

  g_return_val_if_fail (s != NULL && key != NULL && chunk != NULL, FALSE);
  /* a chunk without MEDIA has no seq to be found by: nothing to store */
  if (chunk->hdr.first_seq == 0)
    return TRUE;
  if (!diode_chunkrec_check_header (&chunk->hdr, NULL) || chunk->frames->len != chunk->hdr.n_frames)
    return FALSE;
  cost = diode_stored_chunk_cost (chunk);
  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  /* refused: failed store, unknown stream (begin first), seqs going back
   * (what is stored is append-only), or the queue over its bound (one
   * chunk is always let in so a chunk bigger than the bound can pass) */
  if (!s->healthy || st == NULL || chunk->hdr.first_seq <= st->queued_seq
      || (s->queued_bytes > 0 && s->queued_bytes + cost > s->limits.queue_bytes)) {
    g_mutex_unlock (&s->lock);
    return FALSE;
  }
  st->queued_seq = chunk->hdr.last_seq;
  j = g_new0 (Job, 1);
  j->type = JOB_APPEND;
  j->st = st;
  j->chunk = diode_stored_chunk_ref (chunk);
  j->cost = cost;
  s->queued_bytes += cost;
  enqueue (s, j);
  g_mutex_unlock (&s->lock);
  return TRUE;
}

guint64
diode_store_queued_bytes (DiodeStore *s)
{
  guint64 b;

  g_mutex_lock (&s->lock);
  b = s->queued_bytes;
  g_mutex_unlock (&s->lock);
  return b;
}

void
diode_store_sync (DiodeStore *s, const gchar *key, GMainContext *context,
    DiodeStoreSyncedFunc cb, gpointer user_data, GDestroyNotify destroy)
{
  StoreStream *st;
  Job *j;

  g_return_if_fail (s != NULL && key != NULL && cb != NULL);
  g_mutex_lock (&s->lock);
  /* an unknown stream: NULL, answered with 0, 0 in queue order */
  st = g_hash_table_lookup (s->streams, key);
  j = g_new0 (Job, 1);
  j->type = JOB_SYNC;
  j->meta.name = g_strdup (key);
  j->st = st;
  j->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  j->cb = cb;
  j->user_data = user_data;
  j->destroy = destroy;
  enqueue (s, j);
  g_mutex_unlock (&s->lock);
}

void
diode_store_end (DiodeStore *s, const gchar *key)
{
  StoreStream *st;
  Job *j;

  g_return_if_fail (s != NULL && key != NULL);
  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  if (st) {
    j = g_new0 (Job, 1);
    j->type = JOB_END;
    j->st = st;
    enqueue (s, j);
  }
  g_mutex_unlock (&s->lock);
}

void
diode_store_set_max_open (DiodeStore *s, guint n)
{
  g_atomic_int_set (&s->max_open, n);
}

/* --- the writer thread --- */

/* EMFILE/ENFILE: the process (or system) is out of descriptors, perhaps
 * because of many connections; that append or meta write is lost, the store
 * stays healthy. One warning a minute. */
static gboolean
fds_out (int e)
{
  return e == EMFILE || e == ENFILE;
}

static void
warn_fds (DiodeStore *s, const gchar *what, const gchar *path)
{
  gint64 now = g_get_monotonic_time ();

  if (s->w_fds_warned != 0 && now - s->w_fds_warned < 60 * G_USEC_PER_SEC)
    return;
  s->w_fds_warned = now;
  g_warning ("store: %s %s: out of file descriptors; not recorded, the store goes on "
      "(such warnings held back for a minute)", what, path);
}

typedef struct {
  gchar *key;
  guint64 last_seq, bytes;
  DiodeStoreSyncedFunc cb;
  gpointer user_data;
  GDestroyNotify destroy;
} Synced;

static gboolean
synced_dispatch (gpointer data)
{
  Synced *y = data;

  y->cb (y->key, y->last_seq, y->bytes, y->user_data);
  return G_SOURCE_REMOVE;
}

static void
synced_free (gpointer data)
{
  Synced *y = data;

  if (y->destroy)
    y->destroy (y->user_data);
  g_free (y->key);
  g_free (y);
}

static gboolean
dir_sync (const gchar *dir)
{
  gint fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  close (fd);
  return ok;
}

static gboolean
make_dir (DiodeStore *s, StoreStream *st)
{
  if (st->w_dir_made)
    return TRUE;
  if (g_mkdir_with_parents (st->dir, 0700) != 0) {
    store_fail (s, "creating", st->dir, g_strerror (errno));
    return FALSE;
  }
  dir_sync (s->streams_dir);
  st->w_dir_made = TRUE;
  return TRUE;
}

/* fsyncs and closes @st's active segment. @resume: only to give back its
 * fds, the stream's next append may go on in it. */
void
store_close_active (DiodeStore *s, StoreStream *st, gboolean resume)
{
  st->w_resume = resume && st->w_seg_fd >= 0;
  if (st->w_seg_fd < 0)
    return;
  g_queue_unlink (&s->w_open, &st->w_link);
  if (st->w_dirty) {
    if (fdatasync (st->w_seg_fd) != 0) {
      int e = errno;
      gchar *p = store_seg_path (st, st->w_number, "seg");

      store_fail (s, "syncing", p, g_strerror (e));
      g_free (p);
    } else {
      g_mutex_lock (&s->lock);
      st->durable_seq = st->last_seq;
      g_mutex_unlock (&s->lock);
    }
  }
  close (st->w_seg_fd);
  close (st->w_idx_fd);
  st->w_seg_fd = st->w_idx_fd = -1;
  st->w_dirty = FALSE;
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
    if (n == 0) {
      errno = ENOSPC;
      return FALSE;
    }
    p += n;
    len -= n;
  }
  return TRUE;
}

typedef enum { OPEN_OK, OPEN_FAILED, OPEN_NO_FDS } OpenResult;

/* *@high: the highest number among the files of @dir named like a
 * segment's ("%016x." then anything: .seg, .idx, .seg.damaged, .idx.tmp),
 * 0 if none. FALSE if @dir cannot be read (out of fds…). */
static gboolean
highest_number (const gchar *dir, guint64 *high)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  *high = 0;
  if (d == NULL)
    return FALSE;
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *end = NULL;
    guint64 n;

    if (strlen (name) < 17 || name[16] != '.' || !g_ascii_isxdigit (name[0]))
      continue;
    n = g_ascii_strtoull (name, &end, 16);
    if (end == name + 16)
      *high = MAX (*high, n);
  }
  g_dir_close (d);
  return TRUE;
}

static void
close_fds (StoreStream *st)
{
  if (st->w_seg_fd >= 0)
    close (st->w_seg_fd);
  if (st->w_idx_fd >= 0)
    close (st->w_idx_fd);
  st->w_seg_fd = st->w_idx_fd = -1;
}

static StoreSegment *find_seg (StoreStream *st, guint64 number);

/* Opens again the segment store_close_active (resume) left: only if the
 * files are exactly as the writer left them. OPEN_FAILED here: begin a new one. */
static OpenResult
reopen_active (DiodeStore *s, StoreStream *st)
{
  gchar *path = store_seg_path (st, st->w_number, "seg");
  gchar *ipath = store_seg_path (st, st->w_number, "idx");
  OpenResult r = OPEN_FAILED;
  struct stat sb, ib;
  guint64 idx_size;
  StoreSegment *seg;

  g_mutex_lock (&s->lock);
  seg = find_seg (st, st->w_number);
  idx_size = seg ? (guint64) seg->n_chunks * STORE_IDX_ENTRY_SIZE : G_MAXUINT64;
  g_mutex_unlock (&s->lock);
  if (idx_size == G_MAXUINT64)
    goto out;
  st->w_seg_fd = g_open (path, O_WRONLY | O_CLOEXEC, 0);
  if (st->w_seg_fd >= 0)
    st->w_idx_fd = g_open (ipath, O_WRONLY | O_CLOEXEC, 0);
  if (st->w_seg_fd < 0 || st->w_idx_fd < 0) {
    if (fds_out (errno))
      r = OPEN_NO_FDS;
    goto out;
  }
  if (fstat (st->w_seg_fd, &sb) != 0 || (guint64) sb.st_size != st->w_offset
      || fstat (st->w_idx_fd, &ib) != 0 || (guint64) ib.st_size != idx_size
      || lseek (st->w_seg_fd, (off_t) st->w_offset, SEEK_SET) < 0
      || lseek (st->w_idx_fd, (off_t) idx_size, SEEK_SET) < 0)
    goto out;
  st->w_dirty = FALSE;
  r = OPEN_OK;
out:
  if (r != OPEN_OK)
    close_fds (st);
  g_free (path);
  g_free (ipath);
  return r;
}

/* Creates the next segment of @st: its number after the highest numbered
 * file of the directory (a stream begun again over files the store did not
 * load, a file left by another run: none is ever opened over), O_EXCL. The
 * directory is read once per stream (the store's lock makes this writer the
 * only one creating files in it afterwards) and again on EEXIST. */
static OpenResult
create_active (DiodeStore *s, StoreStream *st)
{
  guint8 sh[STORE_SEG_HEADER_SIZE];
  StoreSegment seg = { 0, };
  gchar *path = NULL, *ipath = NULL;
  OpenResult r = OPEN_FAILED;
  guint attempt;
  int e;

  for (attempt = 0;; attempt++) {
    if (!st->w_numbered || attempt > 0) {
      guint64 high;

      st->w_numbered = highest_number (st->dir, &high);
      st->next_number = MAX (st->next_number, high + 1);
    }
    st->w_number = st->next_number++;
    path = store_seg_path (st, st->w_number, "seg");
    ipath = store_seg_path (st, st->w_number, "idx");
    st->w_seg_fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (st->w_seg_fd >= 0)
      break;
    e = errno;
    if (e == EEXIST && attempt < 3) {
      g_free (path);
      g_free (ipath);
      continue;
    }
    if (fds_out (e)) {
      r = OPEN_NO_FDS;
      warn_fds (s, "creating", path);
    } else {
      store_fail (s, "creating", path, g_strerror (e));
    }
    goto out;
  }
  st->w_idx_fd = g_open (ipath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (st->w_idx_fd < 0) {
    e = errno;
    /* the segment file is ours (O_EXCL): it goes; the index name is not */
    close_fds (st);
    g_unlink (path);
    if (fds_out (e)) {
      r = OPEN_NO_FDS;
      warn_fds (s, "creating", ipath);
    } else {
      store_fail (s, "creating", ipath, g_strerror (e));
    }
    goto out;
  }
  store_seg_header (st->w_number, sh);
  if (!write_all (st->w_seg_fd, sh, sizeof sh)) {
    store_fail (s, "writing", path, g_strerror (errno));
    close_fds (st);
    g_unlink (path);
    g_unlink (ipath);
    goto out;
  }
  /* the new file's name must survive a crash as much as its records */
  dir_sync (st->dir);
  st->w_offset = STORE_SEG_HEADER_SIZE;
  st->w_dirty = TRUE;
  seg.number = st->w_number;
  seg.size = STORE_SEG_HEADER_SIZE;
  g_mutex_lock (&s->lock);
  g_array_append_val (st->segs, seg);
  st->bytes += seg.size;
  s->bytes += seg.size;
  g_mutex_unlock (&s->lock);
  r = OPEN_OK;
out:
  g_free (path);
  g_free (ipath);
  return r;
}

/* At most max_open segments open: the least recently written ones close
 * (to be reopened on their stream's next append). */
static void
make_room (DiodeStore *s, guint room)
{
  guint max = g_atomic_int_get (&s->max_open);

  if (max == 0)
    max = STORE_MAX_OPEN_SEGMENTS;
  while (s->w_open.head != NULL && s->w_open.length + room > max)
    store_close_active (s, s->w_open.head->data, TRUE);
}

static OpenResult
open_active (DiodeStore *s, StoreStream *st)
{
  OpenResult r = OPEN_FAILED;
  guint tries;

  if (!make_dir (s, st))
    return OPEN_FAILED;
  make_room (s, 1);
  for (tries = 0; tries < 2; tries++) {
    if (st->w_resume) {
      r = reopen_active (s, st);
      if (r == OPEN_FAILED)
        st->w_resume = FALSE;
    }
    if (!st->w_resume)
      r = create_active (s, st);
    if (r != OPEN_NO_FDS || s->w_open.head == NULL)
      break;
    /* out of descriptors: give back one of ours and try once more */
    store_close_active (s, s->w_open.head->data, TRUE);
  }
  if (r == OPEN_NO_FDS && st->w_resume) {
    gchar *p = store_seg_path (st, st->w_number, "seg");

    warn_fds (s, "reopening", p);
    g_free (p);
  }
  if (r != OPEN_OK)
    return r;
  st->w_resume = FALSE;
  st->w_used = g_get_monotonic_time ();
  st->w_link.data = st;
  g_queue_push_tail_link (&s->w_open, &st->w_link);
  return OPEN_OK;
}

static StoreSegment *
find_seg (StoreStream *st, guint64 number)
{
  guint i;

  for (i = st->segs->len; i > 0; i--) {
    StoreSegment *seg = &g_array_index (st->segs, StoreSegment, i - 1);

    if (seg->number == number)
      return seg;
  }
  return NULL;
}

/* Writes @iov[0..@n) whole: a short write resumes where it stopped (the
 * array is changed). FALSE with errno set on an error. */
static gboolean
writev_all (int fd, struct iovec *iov, guint n)
{
  while (n > 0) {
    ssize_t w;

    while (n > 0 && iov->iov_len == 0) {
      iov++;
      n--;
    }
    if (n == 0)
      break;
    w = writev (fd, iov, (int) n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return FALSE;
    if (w == 0) {
      errno = ENOSPC;
      return FALSE;
    }
    while (n > 0 && (gsize) w >= iov->iov_len) {
      w -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0 && w > 0) {
      iov->iov_base = (guint8 *) iov->iov_base + w;
      iov->iov_len -= w;
    }
  }
  return TRUE;
}

static void
do_append (DiodeStore *s, StoreStream *st, DiodeStoredChunk *c, guint8 *wbuf)
{
  const DiodeChunkHeader *h = &c->hdr;
  guint64 rsize = DIODE_CHUNKREC_HEAD_SIZE + (guint64) h->bytes;
  guint8 entry[STORE_IDX_ENTRY_SIZE];
  StoreSegment *seg;
  StoreEntry e;
  struct iovec iov[WRITEV_BATCH];
  guint i, n_iov;

  if (st->w_seg_fd >= 0 || st->w_resume) {
    g_mutex_lock (&s->lock);
    seg = find_seg (st, st->w_number);
    /* roll to a new segment: size, time span, chunk count */
    if (seg == NULL || (seg->n_chunks > 0
            && (st->w_offset + rsize > s->seg_bytes || seg->n_chunks >= s->seg_chunks
                || (h->wall_us > seg->wall_start && h->wall_us - seg->wall_start >= s->seg_us)))) {
      g_mutex_unlock (&s->lock);
      store_close_active (s, st, FALSE);
      st->w_resume = FALSE;
    } else {
      g_mutex_unlock (&s->lock);
    }
  }
  if (st->w_seg_fd < 0 && open_active (s, st) != OPEN_OK)
    return;
  /* most recently written last in w_open */
  st->w_used = g_get_monotonic_time ();
  g_queue_unlink (&s->w_open, &st->w_link);
  g_queue_push_tail_link (&s->w_open, &st->w_link);

  /* the record: its head, then the frames' own bytes (writev, no copy) */
  diode_chunkrec_write_head (h, wbuf);
  iov[0].iov_base = wbuf;
  iov[0].iov_len = DIODE_CHUNKREC_HEAD_SIZE;
  n_iov = 1;
  for (i = 0; i < c->frames->len; i++) {
    gsize n;
    const guint8 *d = g_bytes_get_data (g_ptr_array_index (c->frames, i), &n);

    if (n_iov == G_N_ELEMENTS (iov)) {
      if (!writev_all (st->w_seg_fd, iov, n_iov))
        goto failed;
      n_iov = 0;
    }
    iov[n_iov].iov_base = (gpointer) d;
    iov[n_iov].iov_len = n;
    n_iov++;
  }
  if (n_iov > 0 && !writev_all (st->w_seg_fd, iov, n_iov))
    goto failed;

  e.offset = st->w_offset;
  e.first_seq = h->first_seq;
  e.last_seq = h->last_seq;
  e.time = h->time;
  e.end_time = h->end_time;
  e.wall_us = h->wall_us;
  e.flags = h->flags;
  e.size = (guint32) rsize;
  e.n_frames = h->n_frames;
  store_entry_write (&e, entry);
  if (!write_all (st->w_idx_fd, entry, sizeof entry)) {
    int saved = errno;
    gchar *p = store_seg_path (st, st->w_number, "idx");

    store_fail (s, "writing", p, g_strerror (saved));
    g_free (p);
    goto cut;
  }
  st->w_offset += rsize;
  st->w_dirty = TRUE;
  g_mutex_lock (&s->lock);
  seg = find_seg (st, st->w_number);
  if (seg) {
    store_segment_add_entry (seg, &e);
    st->bytes += e.size + STORE_IDX_ENTRY_SIZE;
    s->bytes += e.size + STORE_IDX_ENTRY_SIZE;
  }
  st->last_seq = h->last_seq;
  g_mutex_unlock (&s->lock);
  return;

failed:
  {
    int saved = errno;
    gchar *p = store_seg_path (st, st->w_number, "seg");

    store_fail (s, "writing", p, g_strerror (saved));
    g_free (p);
  }
cut:
  /* leave the segment ending on a whole record (if even this fails, the
   * scan at the next open cuts the torn tail) */
  if (ftruncate (st->w_seg_fd, (off_t) st->w_offset) == 0)
    lseek (st->w_seg_fd, (off_t) st->w_offset, SEEK_SET);
  {
    guint32 n = 0;

    g_mutex_lock (&s->lock);
    seg = find_seg (st, st->w_number);
    if (seg)
      n = seg->n_chunks;
    g_mutex_unlock (&s->lock);
    if (ftruncate (st->w_idx_fd, (off_t) n * STORE_IDX_ENTRY_SIZE) == 0)
      lseek (st->w_idx_fd, (off_t) n * STORE_IDX_ENTRY_SIZE, SEEK_SET);
  }
}

static void
do_sync (DiodeStore *s, Job *j)
{
  StoreStream *st = j->st;
  Synced *y = g_new0 (Synced, 1);
  GSource *src;

  if (st == NULL) {
    y->key = g_strdup (j->meta.name);
  } else if (st->w_seg_fd >= 0 && st->w_dirty) {
    if (fdatasync (st->w_seg_fd) != 0) {
      int e = errno;
      gchar *p = store_seg_path (st, st->w_number, "seg");

      store_fail (s, "syncing", p, g_strerror (e));
      g_free (p);
    } else {
      st->w_dirty = FALSE;
      g_mutex_lock (&s->lock);
      st->durable_seq = st->last_seq;
      g_mutex_unlock (&s->lock);
      /* What is on disk need not stay in the page cache (viewers of a
       * live recording are served from the ring; replay reads it back).
       * Given back, its pages are the ones the next write() fills: a
       * recorder that keeps taking fresh pages instead pays for memory
       * never touched before, 10x the copy itself in a VM guest
       * (docs/performance.md, Recordings). Clean whole pages only: the
       * partly written last page stays. */
      posix_fadvise (st->w_seg_fd, 0, (off_t) st->w_offset, POSIX_FADV_DONTNEED);
    }
  } else if (st->w_seg_fd >= 0) {
    /* nothing written since the last fsync */
    g_mutex_lock (&s->lock);
    st->durable_seq = st->last_seq;
    g_mutex_unlock (&s->lock);
  }
  /* the recording ended (EOS: the relay wrote a finished meta, then asked
   * for this sync): its fds go back now, not at the next roll */
  if (st && st->w_finished)
    store_close_active (s, st, FALSE);
  if (st) {
    g_mutex_lock (&s->lock);
    y->key = g_strdup (st->key);
    y->last_seq = st->durable_seq;
    y->bytes = st->bytes;
    g_mutex_unlock (&s->lock);
  }
  y->cb = j->cb;
  y->user_data = j->user_data;
  y->destroy = j->destroy;
  j->destroy = NULL;
  src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, synced_dispatch, y, synced_free);
  g_source_attach (src, j->context);
  g_source_unref (src);
}

static void
write_meta (DiodeStore *s, StoreStream *st, const DiodeStoreMeta *m)
{
  GError *err = NULL;
  gchar *p;

  if (!make_dir (s, st))
    return;
  if (store_meta_write (st->dir, st->key, m, &err))
    return;
  p = g_build_filename (st->dir, "meta", NULL);
  if (err->domain == G_FILE_ERROR
      && (err->code == G_FILE_ERROR_MFILE || err->code == G_FILE_ERROR_NFILE)) {
    /* written again from the writer's next tick */
    warn_fds (s, "writing", p);
    if (!st->w_meta_retry) {
      st->w_meta_retry = TRUE;
      g_queue_push_tail (&s->w_meta_retry, st);
    }
  } else {
    store_fail (s, "writing", p, err->message);
  }
  g_clear_error (&err);
  g_free (p);
}

static void
do_meta (DiodeStore *s, Job *j)
{
  j->st->w_finished = j->meta.finished;
  /* jobs run in queue order: the last meta queued is the one on disk */
  write_meta (s, j->st, &j->meta);
}

/* Meta writes that ran out of descriptors: the stream's meta as it is now. */
static void
retry_metas (DiodeStore *s)
{
  guint n = s->w_meta_retry.length;

  while (n-- > 0) {
    StoreStream *st = g_queue_pop_head (&s->w_meta_retry);
    DiodeStoreMeta m;

    st->w_meta_retry = FALSE;
    memset (&m, 0, sizeof m);
    g_mutex_lock (&s->lock);
    store_meta_copy (&m, &st->meta);
    g_mutex_unlock (&s->lock);
    write_meta (s, st, &m);
    diode_store_meta_clear (&m);
  }
}

/* Segments not written for @idle_us close (to be reopened if written again). */
static void
close_idle (DiodeStore *s, guint64 idle_us)
{
  gint64 now = g_get_monotonic_time ();

  while (s->w_open.head != NULL) {
    StoreStream *st = s->w_open.head->data;

    if (now - st->w_used < (gint64) idle_us)
      break;
    store_close_active (s, st, TRUE);
  }
}

gpointer
store_writer_main (gpointer data)
{
  DiodeStore *s = data;
  guint8 *wbuf = g_malloc (WBUF_SIZE);

  g_mutex_lock (&s->lock);
  while (TRUE) {
    Job *j;
    gint64 now = g_get_monotonic_time ();

    if (now >= s->retention_at || (s->limits.max_bytes > 0 && s->bytes > s->limits.max_bytes)) {
      guint64 idle_us = s->seg_us;
      gboolean healthy = s->healthy;

      store_retention (s);
      s->retention_at = now + G_USEC_PER_SEC;
      g_mutex_unlock (&s->lock);
      close_idle (s, idle_us);
      if (healthy)
        retry_metas (s);
      g_mutex_lock (&s->lock);
    }
    j = s->paused && !s->quit ? NULL : g_queue_pop_head (&s->jobs);
    if (j == NULL) {
      if (s->quit && g_queue_is_empty (&s->jobs))
        break;
      g_cond_wait_until (&s->cond, &s->lock, s->retention_at);
      continue;
    }
    g_mutex_unlock (&s->lock);
    switch (j->type) {
      case JOB_APPEND:
        if (diode_store_is_healthy (s, NULL))
          do_append (s, j->st, j->chunk, wbuf);
        break;
      case JOB_SYNC:
        do_sync (s, j);
        break;
      case JOB_META:
        if (diode_store_is_healthy (s, NULL))
          do_meta (s, j);
        break;
      case JOB_END:
        store_close_active (s, j->st, FALSE);
        break;
    }
    g_mutex_lock (&s->lock);
    s->queued_bytes -= MIN (s->queued_bytes, j->cost);
    s->busy--;
    g_cond_broadcast (&s->idle_cond);
    g_mutex_unlock (&s->lock);
    job_free (j);
    g_mutex_lock (&s->lock);
  }
  g_mutex_unlock (&s->lock);
  g_free (wbuf);
  return NULL;
}

void
store_writer_close_all (DiodeStore *s)
{
  GHashTableIter it;
  gpointer v;

  if (diode_store_is_healthy (s, NULL))
    retry_metas (s);
  g_queue_clear (&s->w_meta_retry);
  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    store_close_active (s, v, FALSE);
}
