/* gst-diode — the persistent chunk store (recordings)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A directory of streams, each an append-only series of segment files of
 * chunk records (diode-chunkrec.h) plus a small "meta" key file. Writes go
 * through one writer thread per store, bounded by a byte-counted queue;
 * reads are blocking and may come from any thread. The index of a segment
 * lives in a file beside it (a cache, rebuilt and verified at open), so the
 * memory a store holds grows with its segments, never with its chunks.
 * Retention removes whole segments, oldest first, by age and total size.
 * On-disk layout, crash safety and threads: docs/architecture.md,
 * "On-disk store". GLib + zlib only: no GStreamer, no sockets.
 */
#pragma once

#include <glib.h>

#include "diode-chunkrec.h"

G_BEGIN_DECLS

typedef struct {
  guint64 max_seconds;         /* --store-seconds, 0 = no age limit; default 604800 (7 days) */
  guint64 max_bytes;           /* --store-bytes, 0 = no size limit; default 16 GiB */
  guint64 queue_bytes;         /* writer queue bound per store (default 64 MiB) */
} DiodeStoreLimits;

#define DIODE_STORE_DEFAULT_SECONDS     G_GUINT64_CONSTANT (604800)
#define DIODE_STORE_DEFAULT_BYTES       (G_GUINT64_CONSTANT (16) * 1024 * 1024 * 1024)
#define DIODE_STORE_DEFAULT_QUEUE_BYTES (G_GUINT64_CONSTANT (64) * 1024 * 1024)
/* A segment is closed (fsync'd) and the next one begun at its size or when
 * its chunks span DIODE_STORE_SEGMENT_SECONDS (relay wall clock). Retention
 * removes whole segments, so the size is a small part of max_bytes:
 * max_bytes / DIODE_STORE_SEGMENT_FRACTION, at least
 * DIODE_STORE_SEGMENT_MIN_BYTES, at most DIODE_STORE_SEGMENT_BYTES (also
 * the size without a size limit); see diode_store_segment_bytes(). */
#define DIODE_STORE_SEGMENT_BYTES       (16 * 1024 * 1024)
#define DIODE_STORE_SEGMENT_MIN_BYTES   (64 * 1024)
#define DIODE_STORE_SEGMENT_FRACTION    64
#define DIODE_STORE_SEGMENT_SECONDS     60
/* Below this max_bytes the store holds fewer than 16 segments: retention
 * then removes more than 1/16 of it at once (the relay warns at start). */
#define DIODE_STORE_SMALL_BYTES         (16 * DIODE_STORE_SEGMENT_MIN_BYTES)

/* The segment size of a store bounded to @max_bytes (0 = no size limit). */
guint64 diode_store_segment_bytes (guint64 max_bytes);

typedef struct {               /* what is kept about a stream, beside its chunks (a GKeyFile "meta" per stream) */
  gchar *name;                 /* as first spelled */
  gchar *owner;                /* "0x…" publisher address, or NULL */
  guint8 access; gchar *fleet; gchar **allow;
  guint32 pubflags;
  gboolean finished;           /* publisher sent EOS of an upload / ended: a finished recording */
} DiodeStoreMeta;
void diode_store_meta_clear (DiodeStoreMeta *m);

typedef struct _DiodeStore DiodeStore;
/* Opens (creates) @dir, walks every stream, rebuilds each index from the segment files, verifies what a
   crash could have torn (each stream's last segment fully, checksums included; earlier ones structurally),
   truncates a torn tail. Error (unwritable, not a directory…) → NULL + message. Thread-safe object.
   @limits may be NULL for the defaults. */
DiodeStore *diode_store_open (const gchar *dir, const DiodeStoreLimits *limits, GError **error);
void        diode_store_close (DiodeStore *s);          /* flushes the writer, joins it */
/* Streams are keyed by the normalized name key (diode_name_key(), gst/protocol/diode-name.h). begin: a new
   stream, or a new run of a stored one; refused (DIODE_STORE_ERROR_REFUSED) for a QUARANTINED key, a key whose
   directory exists without a loaded stream (it is quarantined from then on), and a stored stream whose meta
   names another owner (meta->owner differs, case-insensitively, or is NULL): one directory never mixes runs of
   different owners and never has another recording's meta written over. */
gboolean    diode_store_begin (DiodeStore *s, const gchar *key, const DiodeStoreMeta *meta, GError **error);
gboolean    diode_store_set_meta (DiodeStore *s, const gchar *key, const DiodeStoreMeta *meta, GError **error);
gboolean    diode_store_get_meta (DiodeStore *s, const gchar *key, DiodeStoreMeta *out);
gchar     **diode_store_list (DiodeStore *s);            /* keys of stored streams */
/* What the store holds under @key. QUARANTINED: its directory (streams/<hash>) is on disk but no stream of it
   is loaded: its meta could not be read at open (garbage, truncated, not a file, another key's), or it appeared
   after open (seen by a begin). Its owner is unknown, so the name must be neither recorded (begin refuses it)
   nor served, until the operator repairs or removes the directory and restarts. No disk access: the state
   is what open and begin saw. @dir (may be NULL): the directory's full path (g_free). */
typedef enum {
  DIODE_STORE_KEY_ABSENT,      /* nothing of it on disk */
  DIODE_STORE_KEY_STORED,      /* a stream (get_meta answers) */
  DIODE_STORE_KEY_QUARANTINED, /* a directory nobody may use */
} DiodeStoreKeyState;
DiodeStoreKeyState diode_store_key_state (DiodeStore *s, const gchar *key, gchar **dir);
/* Queue a chunk for writing (takes a ref, no copy). FALSE when the store has failed (see status) or the
   queue is over its bound: the caller decides (live stream: the chunk is not recorded and the next stored
   chunk gets DISCONT; upload: stop reading the publisher until diode_store_queued_bytes() drops). */
gboolean    diode_store_append (DiodeStore *s, const gchar *key, DiodeStoredChunk *chunk);
guint64     diode_store_queued_bytes (DiodeStore *s);
/* @cb runs on @context once every chunk of @key queued so far is durable (fsync'd); last_seq/bytes as STORED. */
typedef void (*DiodeStoreSyncedFunc) (const gchar *key, guint64 last_seq, guint64 bytes, gpointer user_data);
void        diode_store_sync (DiodeStore *s, const gchar *key, GMainContext *context,
                              DiodeStoreSyncedFunc cb, gpointer user_data, GDestroyNotify destroy);
/* The recording session of @key ended (without EOS, or for good): its open segment is fsync'd and closed, so
   its file descriptors are given back (queued like an append; an unknown key is ignored). A sync after a meta
   saying finished does the same; an idle segment closes by itself after DIODE_STORE_SEGMENT_SECONDS. */
void        diode_store_end (DiodeStore *s, const gchar *key);
/* Failure state: FALSE + reason once a write failed (ENOSPC, EIO, EACCES…): recording stops for every
   stream; reads of what is on disk go on. Running out of file descriptors (EMFILE, ENFILE) is not a failure of
   the store: the chunk (or meta write, retried later) it hit is lost, one warning a minute says so. */
gboolean    diode_store_is_healthy (DiodeStore *s, gchar **reason);
guint64     diode_store_get_bytes (DiodeStore *s);       /* bytes on disk */
/* Reads: blocking, safe from any thread (the relay calls them from a GThreadPool). */
guint       diode_store_get_spans (DiodeStore *s, const gchar *key, DiodeSpan *spans, guint max); /* count */
/* The stored chunk holding MEDIA @seq, or the first stored chunk after it (a gap), verified (CRC): a damaged
   one → NULL + DIODE_STORE_ERROR_DAMAGED (and it is logged and never returned), missing → NULL + _NOT_FOUND. */
DiodeStoredChunk *diode_store_read (DiodeStore *s, const gchar *key, guint64 seq, GError **error);
/* First seq of the keyframe chunk the target lands on (DiodeStartMode EARLIEST/BACK/WALLCLOCK/TIME, DiodeSnap);
   0 when nothing is stored. BACK is relative to @now_us (or the recording's end when finished). */
guint64     diode_store_find (DiodeStore *s, const gchar *key, guint8 start_mode, guint64 value, guint8 snap,
                              guint64 now_us);

G_END_DECLS
