/* gst-diode — the persistent chunk store: open/close, streams, meta, health
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The API is in diode-store.h, the internals and the lock rules in
 * diode-store-private.h. Layout of @dir:
 *
 *   FORMAT                 "diode-store 1"
 *   lock                   flock()ed while a store has the directory open
 *   streams/<hash>/meta    GKeyFile: key, name, owner, policy, flags
 *   streams/<hash>/<n>.seg segment files (n: 16 hex digits), .idx beside
 *
 * <hash> is the first 32 hex digits of the SHA-256 of the stream's key: a
 * peer's text never becomes a path.
 */
#include "diode-store-private.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define FORMAT_TEXT "diode-store 1\n"

void
diode_store_meta_clear (DiodeStoreMeta *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->name, g_free);
  g_clear_pointer (&m->owner, g_free);
  g_clear_pointer (&m->fleet, g_free);
  g_clear_pointer (&m->allow, g_strfreev);
  memset (m, 0, sizeof *m);
}

void
store_meta_copy (DiodeStoreMeta *dst, const DiodeStoreMeta *src)
{
  dst->name = g_strdup (src->name);
  dst->owner = g_strdup (src->owner);
  dst->access = src->access;
  dst->fleet = g_strdup (src->fleet);
  dst->allow = g_strdupv (src->allow);
  dst->pubflags = src->pubflags;
  dst->finished = src->finished;
}

gchar *
store_key_dirname (const gchar *key)
{
  gchar *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);

  sum[32] = '\0';
  return sum;
}

StoreStream *
store_stream_new (DiodeStore *s, const gchar *key)
{
  StoreStream *st = g_new0 (StoreStream, 1);
  gchar *name = store_key_dirname (key);

  st->key = g_strdup (key);
  st->dir = g_build_filename (s->streams_dir, name, NULL);
  st->segs = g_array_new (FALSE, TRUE, sizeof (StoreSegment));
  st->next_number = 1;
  st->w_seg_fd = -1;
  st->w_idx_fd = -1;
  g_free (name);
  return st;
}

void
store_stream_free (StoreStream *st)
{
  if (st->w_seg_fd >= 0)
    close (st->w_seg_fd);
  if (st->w_idx_fd >= 0)
    close (st->w_idx_fd);
  diode_store_meta_clear (&st->meta);
  g_clear_pointer (&st->damage_marks, g_hash_table_unref);
  g_array_unref (st->segs);
  g_free (st->key);
  g_free (st->dir);
  g_free (st);
}

#define META_GROUP "stream"
#define META_KNOWN_PUBFLAGS (DIODE_PUBLISH_RECORD | DIODE_PUBLISH_UPLOAD)

/* An optional string key: absent → NULL and TRUE; present but not UTF-8
 * (or otherwise unparsable) → FALSE. */
static gboolean
meta_get_opt_string (GKeyFile *kf, const gchar *k, gchar **out,
    const gchar *path, GError **error)
{
  *out = NULL;
  if (!g_key_file_has_key (kf, META_GROUP, k, NULL))
    return TRUE;
  *out = g_key_file_get_string (kf, META_GROUP, k, NULL);
  if (*out == NULL || !g_utf8_validate (*out, -1, NULL)) {
    g_clear_pointer (out, g_free);
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "%s: bad %s", path, k);
    return FALSE;
  }
  return TRUE;
}

/* access: the number the store writes (0 public, 1 protected, 2 private) or,
 * for a hand edit, the name (public, protected, private; ASCII case
 * ignored). Absent → private. Anything else → FALSE: never a default. */
static gboolean
meta_get_access (GKeyFile *kf, guint8 *out, const gchar *path, GError **error)
{
  gchar *v;
  guint64 n;
  gboolean ok = TRUE;

  *out = DIODE_ACCESS_PRIVATE;
  if (!g_key_file_has_key (kf, META_GROUP, "access", NULL))
    return TRUE;
  v = g_key_file_get_string (kf, META_GROUP, "access", NULL);
  if (v != NULL)
    g_strstrip (v);
  if (v == NULL)
    ok = FALSE;
  else if (g_ascii_strcasecmp (v, "public") == 0)
    *out = DIODE_ACCESS_PUBLIC;
  else if (g_ascii_strcasecmp (v, "protected") == 0)
    *out = DIODE_ACCESS_PROTECTED;
  else if (g_ascii_strcasecmp (v, "private") == 0)
    *out = DIODE_ACCESS_PRIVATE;
  else if (g_ascii_string_to_unsigned (v, 10, 0, DIODE_ACCESS_PRIVATE, &n, NULL))
    *out = (guint8) n;
  else
    ok = FALSE;
  if (!ok) {
    *out = DIODE_ACCESS_PRIVATE;
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "%s: access is not 0, 1, 2, public, protected or private", path);
  }
  g_free (v);
  return ok;
}

gboolean
store_meta_write (const gchar *dir, const gchar *key, const DiodeStoreMeta *m, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  gchar *path = g_build_filename (dir, "meta", NULL);
  gchar *data;
  gsize len;
  gboolean ok;

  g_key_file_set_string (kf, META_GROUP, "key", key);
  if (m->name)
    g_key_file_set_string (kf, META_GROUP, "name", m->name);
  if (m->owner)
    g_key_file_set_string (kf, META_GROUP, "owner", m->owner);
  g_key_file_set_integer (kf, META_GROUP, "access", m->access);
  if (m->fleet)
    g_key_file_set_string (kf, META_GROUP, "fleet", m->fleet);
  if (m->allow)
    g_key_file_set_string_list (kf, META_GROUP, "allow",
        (const gchar * const *) m->allow, g_strv_length (m->allow));
  g_key_file_set_uint64 (kf, META_GROUP, "pubflags", m->pubflags);
  g_key_file_set_boolean (kf, META_GROUP, "finished", m->finished);
  data = g_key_file_to_data (kf, &len, NULL);
  ok = g_file_set_contents_full (path, data, len,
      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error);
  g_free (data);
  g_free (path);
  g_key_file_unref (kf);
  return ok;
}

gboolean
store_meta_read (const gchar *path, gchar **key, DiodeStoreMeta *m, GError **error)
{
  GKeyFile *kf = g_key_file_new ();
  gboolean ok = FALSE;

  memset (m, 0, sizeof *m);
  *key = NULL;
  /* a meta file is a few hundred bytes; an allowlist of 2048 addresses is
   * under 100 KiB: refuse anything absurd before parsing it */
  {
    GStatBuf st;

    if (g_stat (path, &st) == 0 && st.st_size > 1024 * 1024) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
          "%s: %" G_GINT64_FORMAT " bytes, not a meta file", path, (gint64) st.st_size);
      goto out;
    }
  }
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, error))
    goto out;
  *key = g_key_file_get_string (kf, META_GROUP, "key", error);
  if (*key == NULL || !g_utf8_validate (*key, -1, NULL) || **key == '\0') {
    if (error && *error == NULL)
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID, "%s: bad key", path);
    g_clear_pointer (key, g_free);
    goto out;
  }
  /* Every field is parsed strictly and any error makes the whole meta
   * unreadable (the caller quarantines the directory: refused to everyone).
   * A lenient parse would fail open: g_key_file_get_integer() returns 0,
   * which is PUBLIC, for "access=private" or "access=banana". */
  if (!meta_get_opt_string (kf, "name", &m->name, path, error))
    goto out;
  if (m->name == NULL)
    m->name = g_strdup (*key);
  else if (!diode_msg_check_stream_name (m->name, NULL)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "%s: invalid name", path);
    goto out;
  }
  if (!meta_get_opt_string (kf, "owner", &m->owner, path, error))
    goto out;
  if (m->owner && !diode_msg_address_is_valid (m->owner)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "%s: owner is not an address", path);
    goto out;
  }
  if (!meta_get_access (kf, &m->access, path, error))
    goto out;
  if (!meta_get_opt_string (kf, "fleet", &m->fleet, path, error))
    goto out;
  if (m->fleet && *m->fleet && !diode_msg_check_stream_name (m->fleet, NULL)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "%s: invalid fleet name", path);
    goto out;
  }
  if (g_key_file_has_key (kf, META_GROUP, "allow", NULL)) {
    gsize n = 0, i;

    m->allow = g_key_file_get_string_list (kf, META_GROUP, "allow", &n, error);
    if (m->allow == NULL) {
      if (error && *error == NULL)
        g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
            "%s: bad allow list", path);
      goto out;
    }
    if (n > DIODE_MAX_ALLOW) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
          "%s: %" G_GSIZE_FORMAT " allow entries (at most %d)", path, n,
          DIODE_MAX_ALLOW);
      goto out;
    }
    for (i = 0; i < n; i++)
      if (!diode_msg_address_is_valid (m->allow[i])) {
        g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
            "%s: allow entry %" G_GSIZE_FORMAT " is not an address", path, i);
        goto out;
      }
  }
  if (g_key_file_has_key (kf, META_GROUP, "pubflags", NULL)) {
    GError *e = NULL;
    guint64 v = g_key_file_get_uint64 (kf, META_GROUP, "pubflags", &e);

    if (e != NULL || (v & ~(guint64) META_KNOWN_PUBFLAGS) != 0) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
          "%s: bad pubflags", path);
      g_clear_error (&e);
      goto out;
    }
    m->pubflags = (guint32) v;
  }
  if (g_key_file_has_key (kf, META_GROUP, "finished", NULL)) {
    GError *e = NULL;

    m->finished = g_key_file_get_boolean (kf, META_GROUP, "finished", &e);
    if (e != NULL) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
          "%s: bad finished", path);
      g_clear_error (&e);
      goto out;
    }
  }
  ok = TRUE;
out:
  if (!ok) {
    diode_store_meta_clear (m);
    g_clear_pointer (key, g_free);
  }
  g_key_file_unref (kf);
  return ok;
}

static const gchar *const warn_kind_names[] = {
  "damaged chunks",
};
G_STATIC_ASSERT (G_N_ELEMENTS (warn_kind_names) == STORE_WARN_N_KINDS);

/* Under s->lock: says how many lines of @kind the last window left out and
 * opens a new window. */
static void
store_warn_flush (DiodeStore *s, guint kind, gint64 now)
{
  StoreWarnLimit *l = &s->warn_limits[kind];

  if (l->suppressed)
    g_warning ("store: suppressed %u similar lines (%s) in the last %" G_GINT64_FORMAT " s",
        l->suppressed, warn_kind_names[kind], (now - l->window_start + G_USEC_PER_SEC - 1) /
        G_USEC_PER_SEC);
  l->window_start = now;
  l->lines = l->suppressed = 0;
}

void
store_warn (DiodeStore *s, StoreWarnKind kind, const gchar *format, ...)
{
  StoreWarnLimit *l = &s->warn_limits[kind];
  gint64 now = g_get_monotonic_time ();
  gboolean say;
  va_list ap;
  gchar *line;

  g_mutex_lock (&s->lock);
  if (l->lines == 0 && l->suppressed == 0)
    l->window_start = now;
  else if (now - l->window_start >= STORE_WARN_INTERVAL_US)
    store_warn_flush (s, kind, now);
  say = l->lines < STORE_WARN_BURST;
  if (say)
    l->lines++;
  else
    l->suppressed++;
  g_mutex_unlock (&s->lock);
  if (!say)
    return;
  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_warning ("%s", line);
  g_free (line);
}

void
store_fail (DiodeStore *s, const gchar *what, const gchar *path, const gchar *why)
{
  gchar *reason = g_strdup_printf ("store: %s %s failed: %s; recording stops, reads go on",
      what, path, why);

  g_mutex_lock (&s->lock);
  if (s->healthy) {
    s->healthy = FALSE;
    s->reason = reason;
    reason = NULL;
    g_warning ("%s", s->reason);
  }
  g_mutex_unlock (&s->lock);
  g_free (reason);
}

static gboolean
open_layout (DiodeStore *s, GError **error)
{
  gchar *format = g_build_filename (s->dir, "FORMAT", NULL);
  gchar *lock = g_build_filename (s->dir, "lock", NULL);
  gchar *text = NULL;
  gboolean ok = FALSE;
  int saved;

  if (g_mkdir_with_parents (s->dir, 0700) != 0) {
    saved = errno;
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
        "cannot create store directory %s: %s", s->dir, g_strerror (saved));
    goto out;
  }
  if (!g_file_test (s->dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
        "store %s is not a directory", s->dir);
    goto out;
  }
  s->lock_fd = g_open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0) {
    saved = errno;
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
        "store directory %s is not writable (%s): %s", s->dir, lock, g_strerror (saved));
    goto out;
  }
  if (flock (s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    saved = errno;
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
        "store directory %s is in use by another store (%s)", s->dir, g_strerror (saved));
    goto out;
  }
  if (g_file_get_contents (format, &text, NULL, NULL)) {
    if (!g_str_equal (text, FORMAT_TEXT)) {
      g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
          "%s: not a store of format 1 (this relay's format)", format);
      goto out;
    }
  } else if (!g_file_set_contents_full (format, FORMAT_TEXT, -1,
          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0600, error)) {
    goto out;
  }
  if (g_mkdir_with_parents (s->streams_dir, 0700) != 0) {
    saved = errno;
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_FAILED,
        "cannot create %s: %s", s->streams_dir, g_strerror (saved));
    goto out;
  }
  ok = TRUE;
out:
  g_free (text);
  g_free (format);
  g_free (lock);
  return ok;
}

static void
open_streams (DiodeStore *s)
{
  GDir *d = g_dir_open (s->streams_dir, 0, NULL);
  const gchar *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL) {
    gchar *path = g_build_filename (s->streams_dir, name, "meta", NULL);
    GError *err = NULL;
    gchar *key = NULL, *expect;
    DiodeStoreMeta meta;
    StoreStream *st;

    /* A directory whose meta cannot be read (or names another key) is
     * quarantined, not skipped: its owner is unknown, so the name it holds
     * must not become free to publish (another identity would record
     * into, or beside, the earlier owner's chunks) nor be served. */
    if (!store_meta_read (path, &key, &meta, &err)) {
      g_warning ("store: %s/%s is quarantined, its meta cannot be read (%s): the stream stored "
          "there is neither recorded nor served until the operator repairs or removes that "
          "directory", s->streams_dir, name, err->message);
      g_hash_table_add (s->quarantined, g_strdup (name));
      g_clear_error (&err);
      g_free (path);
      continue;
    }
    expect = store_key_dirname (key);
    if (!g_str_equal (expect, name) || g_hash_table_contains (s->streams, key)) {
      g_warning ("store: %s/%s is quarantined: its meta names another stream; it is neither "
          "recorded nor served until the operator repairs or removes that directory",
          s->streams_dir, name);
      g_hash_table_add (s->quarantined, g_strdup (name));
      diode_store_meta_clear (&meta);
    } else {
      st = store_stream_new (s, key);
      st->meta = meta;
      st->w_dir_made = TRUE;
      store_scan_stream (s, st);
      s->bytes += st->bytes;
      g_hash_table_insert (s->streams, st->key, st);
    }
    g_free (expect);
    g_free (key);
    g_free (path);
  }
  g_dir_close (d);
}

guint64
diode_store_segment_bytes (guint64 max_bytes)
{
  if (max_bytes == 0)
    return DIODE_STORE_SEGMENT_BYTES;
  return CLAMP (max_bytes / DIODE_STORE_SEGMENT_FRACTION,
      (guint64) DIODE_STORE_SEGMENT_MIN_BYTES, (guint64) DIODE_STORE_SEGMENT_BYTES);
}

DiodeStore *
diode_store_open (const gchar *dir, const DiodeStoreLimits *limits, GError **error)
{
  DiodeStore *s;

  g_return_val_if_fail (dir != NULL, NULL);
  s = g_new0 (DiodeStore, 1);
  s->dir = g_strdup (dir);
  s->streams_dir = g_build_filename (dir, "streams", NULL);
  s->lock_fd = -1;
  if (limits) {
    s->limits = *limits;
  } else {
    s->limits.max_seconds = DIODE_STORE_DEFAULT_SECONDS;
    s->limits.max_bytes = DIODE_STORE_DEFAULT_BYTES;
    s->limits.queue_bytes = DIODE_STORE_DEFAULT_QUEUE_BYTES;
  }
  if (s->limits.queue_bytes == 0)
    s->limits.queue_bytes = DIODE_STORE_DEFAULT_QUEUE_BYTES;
  s->seg_bytes = diode_store_segment_bytes (s->limits.max_bytes);
  s->seg_us = (guint64) DIODE_STORE_SEGMENT_SECONDS * G_USEC_PER_SEC;
  s->seg_chunks = STORE_SEGMENT_CHUNKS;
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  g_cond_init (&s->idle_cond);
  s->streams = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) store_stream_free);
  s->quarantined = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  s->healthy = TRUE;

  if (!open_layout (s, error)) {
    if (s->lock_fd >= 0)
      close (s->lock_fd);
    s->lock_fd = -1;
    g_hash_table_unref (s->streams);
    g_hash_table_unref (s->quarantined);
    g_mutex_clear (&s->lock);
    g_cond_clear (&s->cond);
    g_cond_clear (&s->idle_cond);
    g_free (s->streams_dir);
    g_free (s->dir);
    g_free (s);
    return NULL;
  }
  open_streams (s);
  s->writer = g_thread_new ("diode-store", store_writer_main, s);
  return s;
}

void
diode_store_close (DiodeStore *s)
{
  if (s == NULL)
    return;
  g_mutex_lock (&s->lock);
  s->quit = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  g_thread_join (s->writer);
  store_writer_close_all (s);
  {
    guint k;

    for (k = 0; k < STORE_WARN_N_KINDS; k++)
      if (s->warn_limits[k].suppressed)
        store_warn_flush (s, k, g_get_monotonic_time ());
  }
  g_hash_table_unref (s->streams);
  g_hash_table_unref (s->quarantined);
  if (s->lock_fd >= 0)
    close (s->lock_fd);   /* releases the flock */
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_cond_clear (&s->idle_cond);
  g_free (s->reason);
  g_free (s->streams_dir);
  g_free (s->dir);
  g_free (s);
}

gboolean
diode_store_get_meta (DiodeStore *s, const gchar *key, DiodeStoreMeta *out)
{
  StoreStream *st;
  gboolean found = FALSE;

  g_return_val_if_fail (s != NULL && key != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  if (st) {
    store_meta_copy (out, &st->meta);
    found = TRUE;
  }
  g_mutex_unlock (&s->lock);
  return found;
}

DiodeStoreKeyState
diode_store_key_state (DiodeStore *s, const gchar *key, gchar **dir)
{
  gchar *name;
  DiodeStoreKeyState state = DIODE_STORE_KEY_ABSENT;

  g_return_val_if_fail (s != NULL && key != NULL, DIODE_STORE_KEY_ABSENT);
  name = store_key_dirname (key);
  g_mutex_lock (&s->lock);
  if (g_hash_table_contains (s->streams, key))
    state = DIODE_STORE_KEY_STORED;
  else if (g_hash_table_contains (s->quarantined, name))
    state = DIODE_STORE_KEY_QUARANTINED;
  g_mutex_unlock (&s->lock);
  if (dir)
    *dir = g_build_filename (s->streams_dir, name, NULL);
  g_free (name);
  return state;
}

gchar **
diode_store_list (DiodeStore *s)
{
  GPtrArray *a = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k;

  g_mutex_lock (&s->lock);
  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (a, g_strdup (k));
  g_mutex_unlock (&s->lock);
  g_ptr_array_sort (a, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (a, NULL);
  return (gchar **) g_ptr_array_free (a, FALSE);
}

gboolean
diode_store_is_healthy (DiodeStore *s, gchar **reason)
{
  gboolean ok;

  g_mutex_lock (&s->lock);
  ok = s->healthy;
  if (reason)
    *reason = ok ? NULL : g_strdup (s->reason);
  g_mutex_unlock (&s->lock);
  return ok;
}

guint64
diode_store_get_bytes (DiodeStore *s)
{
  guint64 b;

  g_mutex_lock (&s->lock);
  b = s->bytes;
  g_mutex_unlock (&s->lock);
  return b;
}

/* --- test hooks --- */

void
diode_store_set_segment_limits (DiodeStore *s, guint64 bytes, guint64 seconds, guint chunks)
{
  g_mutex_lock (&s->lock);
  s->seg_bytes = bytes ? bytes : diode_store_segment_bytes (s->limits.max_bytes);
  s->seg_us = (seconds ? seconds : DIODE_STORE_SEGMENT_SECONDS) * G_USEC_PER_SEC;
  s->seg_chunks = chunks ? MIN (chunks, STORE_SEGMENT_CHUNKS) : STORE_SEGMENT_CHUNKS;
  g_mutex_unlock (&s->lock);
}

void
diode_store_pause_writer (DiodeStore *s, gboolean paused)
{
  g_mutex_lock (&s->lock);
  s->paused = paused;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

void
diode_store_wait_idle (DiodeStore *s)
{
  g_mutex_lock (&s->lock);
  while (s->busy > 0)
    g_cond_wait (&s->idle_cond, &s->lock);
  g_mutex_unlock (&s->lock);
}

gsize
diode_store_index_memory (DiodeStore *s)
{
  GHashTableIter it;
  gpointer v;
  gsize n = 0;

  g_mutex_lock (&s->lock);
  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    StoreStream *st = v;

    n += sizeof (StoreStream) + strlen (st->key) + strlen (st->dir)
        + (gsize) st->segs->len * sizeof (StoreSegment);
  }
  g_mutex_unlock (&s->lock);
  return n;
}

guint
diode_store_n_segments (DiodeStore *s, const gchar *key)
{
  StoreStream *st;
  guint n = 0;

  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  if (st)
    n = st->segs->len;
  g_mutex_unlock (&s->lock);
  return n;
}

gchar *
diode_store_stream_dir (DiodeStore *s, const gchar *key)
{
  StoreStream *st;
  gchar *d = NULL;

  g_mutex_lock (&s->lock);
  st = g_hash_table_lookup (s->streams, key);
  if (st)
    d = g_strdup (st->dir);
  g_mutex_unlock (&s->lock);
  return d;
}

guint64
diode_store_damaged (DiodeStore *s)
{
  guint64 n;

  g_mutex_lock (&s->lock);
  n = s->damaged;
  g_mutex_unlock (&s->lock);
  return n;
}
