/* gst-diode — the store's internals shared by its files (not installed)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * diode-store.c        open/close, streams, meta, health, test hooks
 * diode-store-index.c  segment files and their index files: the scan at
 *                      open (rebuild + verify + truncate a torn tail) and
 *                      index entry reads
 * diode-store-writer.c the writer thread: append, segment roll, sync,
 *                      retention, failure, the bound on open segment fds
 * diode-store-read.c   read, find, spans (any thread)
 *
 * Locking: one mutex (DiodeStore.lock) guards the stream table, every
 * stream's segment array and counters, the queue and the health state. File
 * I/O never happens under it. The writer thread alone writes segment and
 * index files and owns each stream's open descriptors (the w_* fields).
 */
#pragma once

#include "diode-store.h"

G_BEGIN_DECLS

/* Segment file header (32 bytes): "DIODESEG", u32 format (1), u32 header
 * size (32), u64 segment number, u32 reserved (0), u32 crc32 of the first
 * 28 bytes. */
#define STORE_SEG_MAGIC        "DIODESEG"
#define STORE_SEG_FORMAT       1
#define STORE_SEG_HEADER_SIZE  32
/* Index entry (64 bytes, big endian): u64 offset, u64 first_seq,
 * u64 last_seq, u64 time, u64 end_time, u64 wall_us, u32 flags,
 * u32 record size, u32 n_frames, u32 reserved. */
#define STORE_IDX_ENTRY_SIZE   64
/* A segment also closes at this many chunks: its index stays <= 256 KiB
 * however small the chunks are. */
#define STORE_SEGMENT_CHUNKS   4096

typedef struct {
  guint64 offset, first_seq, last_seq, time, end_time, wall_us;
  guint32 flags, size, n_frames;
} StoreEntry;

/* What memory holds about one segment: O(1), whatever its chunk count. */
typedef struct {
  guint64 number;              /* file name: %016" G_GINT64_MODIFIER "x.seg */
  guint64 first_seq, last_seq; /* of its first and last chunk */
  guint64 first_time, end_time;/* time of its first chunk, end_time of its last */
  guint64 wall_start, wall_end;/* wall_us of its first chunk, end of its last */
  guint64 size;                /* segment file + index file bytes */
  guint32 n_chunks;            /* records (and index entries) readers may use */
  guint32 n_keys;              /* KEYFRAME chunks among them */
  gboolean gaps;               /* a seq gap between two of its chunks */
} StoreSegment;

/* Store warnings a peer's requests can cause again and again (a damaged
 * chunk met by reads): at most STORE_WARN_BURST lines per kind per
 * STORE_WARN_INTERVAL_US, then one line with the count left out (the idea
 * of relay/diode-relay-log.c, which the store cannot reach). */
typedef enum {
  STORE_WARN_DAMAGED = 0,      /* a chunk found damaged by a read */
  STORE_WARN_N_KINDS
} StoreWarnKind;
#define STORE_WARN_BURST        5
#define STORE_WARN_INTERVAL_US  G_USEC_PER_SEC

typedef struct {
  gint64 window_start;         /* monotonic µs */
  guint lines, suppressed;
} StoreWarnLimit;

/* A chunk a read found damaged: its segment and record offset. Reads of it
 * answer DAMAGED from this mark, without reading or logging again. */
typedef struct {
  guint64 number, offset;
} StoreDamageMark;

typedef struct {
  gchar *key;
  gchar *dir;                  /* full path of the stream's directory */
  GHashTable *damage_marks;    /* StoreDamageMark set (under the store lock),
                                  NULL until a read finds one; kept until
                                  close (segment numbers are never reused) */
  DiodeStoreMeta meta;
  GArray *segs;                /* StoreSegment, oldest first */
  guint64 bytes;               /* on disk */
  guint64 last_seq;            /* highest seq written */
  guint64 queued_seq;          /* highest seq accepted by append */
  guint64 durable_seq;         /* highest seq fsync'd */
  guint64 next_number;         /* next segment file number */
  /* writer thread only */
  gint w_seg_fd, w_idx_fd;     /* the active segment, or -1 */
  guint64 w_number;
  guint64 w_offset;            /* its size */
  gboolean w_dirty;            /* written since the last fsync */
  gboolean w_dir_made;         /* directory exists on disk */
  gboolean w_resume;           /* w_number/w_offset: a segment closed only to
                                * give back its fds (LRU, idle): the next
                                * append may reopen it (diode-store-writer.c) */
  gboolean w_finished;         /* the last meta written says finished */
  gboolean w_numbered;         /* next_number is past every numbered file of dir */
  gboolean w_meta_retry;       /* in DiodeStore.w_meta_retry */
  gint64 w_used;               /* monotonic time of the last write */
  GList w_link;                /* in DiodeStore.w_open while its fds are open */
} StoreStream;

struct _DiodeStore {
  gchar *dir;
  gchar *streams_dir;
  DiodeStoreLimits limits;
  guint64 seg_bytes, seg_us, seg_chunks;   /* segment roll limits */
  gint lock_fd;

  GMutex lock;
  GCond cond;                  /* the writer waits for jobs */
  GCond idle_cond;             /* a job finished (wait_idle) */
  GHashTable *streams;         /* key -> StoreStream* (never removed before close) */
  GHashTable *quarantined;     /* directory names (streams/<name>) on disk
                                  without a loaded stream: unusable */
  GQueue jobs;
  guint64 queued_bytes;
  guint busy;                  /* jobs queued or being processed */
  gboolean quit;
  gboolean paused;             /* test hook: the writer holds off */
  gboolean healthy;
  gchar *reason;
  guint64 bytes;               /* on disk, every stream */
  guint64 damaged;             /* distinct damaged chunks met by reads */
  StoreWarnLimit warn_limits[STORE_WARN_N_KINDS];  /* under lock */
  gint64 retention_at;         /* next age check (monotonic µs) */
  GThread *writer;
  /* writer thread only (zero at open is right for all of them) */
  GQueue w_open;               /* streams with open segment fds, least recently used first */
  guint max_open;              /* bound on w_open, 0 = STORE_MAX_OPEN_SEGMENTS (test hook) */
  GQueue w_meta_retry;         /* streams whose meta write ran out of fds */
  gint64 w_fds_warned;         /* last "out of file descriptors" warning (monotonic) */
};

/* At most this many segments are open at once (two fds each: segment and
 * index); opening one more closes the least recently written one first. */
#define STORE_MAX_OPEN_SEGMENTS 128

/* diode-store.c */
gchar       *store_key_dirname (const gchar *key);
StoreStream *store_stream_new (DiodeStore *s, const gchar *key);
void         store_stream_free (StoreStream *st);
void         store_meta_copy (DiodeStoreMeta *dst, const DiodeStoreMeta *src);
gboolean     store_meta_write (const gchar *dir, const gchar *key, const DiodeStoreMeta *m,
                               GError **error);
gboolean     store_meta_read (const gchar *path, gchar **key, DiodeStoreMeta *meta, GError **error);
/* g_warning() rate limited per @kind (see StoreWarnKind). Takes the lock:
 * callers must not hold it. */
void         store_warn (DiodeStore *s, StoreWarnKind kind, const gchar *format, ...)
                         G_GNUC_PRINTF (3, 4);
/* Marks @s failed (once: one g_warning with @what, @path and @why). */
void         store_fail (DiodeStore *s, const gchar *what, const gchar *path, const gchar *why);

/* diode-store-index.c */
gchar   *store_seg_path (StoreStream *st, guint64 number, const gchar *ext);
void     store_seg_header (guint64 number, guint8 out[STORE_SEG_HEADER_SIZE]);
void     store_entry_write (const StoreEntry *e, guint8 out[STORE_IDX_ENTRY_SIZE]);
void     store_entry_read (const guint8 in[STORE_IDX_ENTRY_SIZE], StoreEntry *e);
guint64  store_entry_wall_end (const StoreEntry *e);
void     store_segment_add_entry (StoreSegment *seg, const StoreEntry *e);
/* Rebuilds every segment of @st from its files (at open). */
void     store_scan_stream (DiodeStore *s, StoreStream *st);
/* Reads entries [@first, @first + @n) of segment @number's index. */
gboolean store_idx_read (StoreStream *st, guint64 number, guint32 first, guint32 n,
                         StoreEntry *out, GError **error);

/* diode-store-writer.c */
gpointer store_writer_main (gpointer data);
void     store_writer_close_all (DiodeStore *s);
/* diode-store-writer.c: fsyncs and closes @st's active segment (@resume:
 * only to give back its fds; its next append goes on in it). Writer thread. */
G_GNUC_INTERNAL void store_close_active (DiodeStore *s, StoreStream *st, gboolean resume);
/* diode-store-retention.c: removes whole segments past the age and size
 * bounds, oldest first. Writer thread, lock held (dropped and taken again). */
G_GNUC_INTERNAL void store_retention (DiodeStore *s);

/* Test hooks (tests/unit/test-store*.c) */
void     diode_store_set_segment_limits (DiodeStore *s, guint64 bytes, guint64 seconds, guint chunks);
void     diode_store_set_max_open (DiodeStore *s, guint n);   /* 0 = default */
void     diode_store_wait_idle (DiodeStore *s);   /* every queued job done */
void     diode_store_pause_writer (DiodeStore *s, gboolean paused);
gsize    diode_store_index_memory (DiodeStore *s);/* bytes the in-memory index holds */
guint    diode_store_n_segments (DiodeStore *s, const gchar *key);
gchar   *diode_store_stream_dir (DiodeStore *s, const gchar *key);
guint64  diode_store_damaged (DiodeStore *s);     /* distinct damaged chunks met */

G_END_DECLS
