/* gst-diode — one stored chunk and its record layout on disk (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A stored chunk is what the relay's ring closed (a keyframe-aligned run of
 * wire frames), with the CAPS and STREAMHEADER frames in force at its start
 * put first (the prelude) so that it decodes on its own, and a header that
 * says what it holds (DiodeChunkHeader, the same fields as the CHUNK frame
 * of protocol version 3). The store writes it as one record:
 *
 *   record header  12 bytes  u32 magic "DREC", u32 length of what follows
 *                            (60 + hdr.bytes), u32 crc32 over the magic, the
 *                            length and the 60-byte chunk header
 *   chunk header   60 bytes  exactly the CHUNK payload (docs/protocol.md)
 *   frames         hdr.bytes the n_frames wire frames, byte for byte
 *
 * The record header's CRC lets a reader trust the lengths before it
 * allocates anything or skips over the frames; the chunk header's crc32
 * (diode_chunk_crc over the frames) catches damage in the frames. Nothing
 * here touches a file: diode-store-*.c do the I/O. All integers big endian.
 */
#pragma once

#include <glib.h>

#include "diode-msg.h"
#include "diode-ring.h"

G_BEGIN_DECLS

#define DIODE_CHUNKREC_MAGIC        0x44524543u   /* "DREC" */
#define DIODE_CHUNKREC_PREFIX_SIZE  12            /* magic, length, crc */
#define DIODE_CHUNKREC_HEADER_SIZE  DIODE_CHUNK_HEADER_SIZE /* the CHUNK payload, 60 */
#define DIODE_CHUNKREC_HEAD_SIZE    (DIODE_CHUNKREC_PREFIX_SIZE + DIODE_CHUNKREC_HEADER_SIZE)
/* The largest record: head + DIODE_MAX_CHUNK_BYTES of frames. */
#define DIODE_CHUNKREC_MAX_SIZE     ((guint64) DIODE_CHUNKREC_HEAD_SIZE + DIODE_MAX_CHUNK_BYTES)

#define DIODE_STORE_ERROR (diode_store_error_quark ())
GQuark diode_store_error_quark (void);
typedef enum {
  DIODE_STORE_ERROR_DAMAGED,    /* a stored chunk fails its checks */
  DIODE_STORE_ERROR_NOT_FOUND,  /* nothing stored there */
  DIODE_STORE_ERROR_FAILED,     /* the store cannot write (see is_healthy) or
                                   a read or open failed */
  DIODE_STORE_ERROR_INVALID,    /* a record or header that is not one */
  DIODE_STORE_ERROR_REFUSED,    /* begin: the key's directory is quarantined
                                   (its meta unreadable) or holds another
                                   owner's recording */
} DiodeStoreError;

typedef struct {
  gint ref_count;
  DiodeChunkHeader hdr;        /* same fields as the CHUNK frame (gst/protocol/diode-msg.h) */
  GPtrArray *frames;           /* GBytes*, wire frames, prelude first (hdr.n_frames of them) */
} DiodeStoredChunk;

DiodeStoredChunk *diode_stored_chunk_new (const DiodeChunkHeader *hdr, GPtrArray *frames /* transfer full */);
/* from a closed ring chunk: prelude = its caps frame + header frames, then its frames; computes n_*, bytes, crc,
   time/end_time/first_seq/last_seq/flags from the ring chunk; @wall_us given by the caller */
DiodeStoredChunk *diode_stored_chunk_new_from_ring (DiodeChunk *c, guint64 wall_us, gboolean discont);

/* The CRC of a growing ring chunk's frames (its prelude not included), kept
 * up as each frame comes, while it is still in the CPU's cache: computed at
 * chunk close instead, the frames are read back from memory (a recorder's
 * largest CPU cost after the fix of docs/performance.md, Recordings). */
typedef struct {
  guint   n;                   /* frames of c->frames in @crc */
  guint32 crc;                 /* diode_chunk_crc over them, from 0 */
  guint64 len;                 /* their bytes */
} DiodeRingCrc;

void              diode_ring_crc_update (DiodeRingCrc *rcrc, DiodeChunk *c);   /* adds c's newer frames */
/* as diode_stored_chunk_new_from_ring, with @done (may be NULL) kept over @c's frames: the rest is
   computed here, the whole CRC is the same */
DiodeStoredChunk *diode_stored_chunk_new_from_ring_crc (DiodeChunk *c, guint64 wall_us, gboolean discont,
                                                        const DiodeRingCrc *done);
DiodeStoredChunk *diode_stored_chunk_ref (DiodeStoredChunk *c);
void              diode_stored_chunk_unref (DiodeStoredChunk *c);
/* count, bytes, crc (else DAMAGED); the header's seqs and times against its frames: first_seq and
 * last_seq are the first and last MEDIA seq after the prelude, MEDIA seqs strictly increase,
 * end_time >= time unless G_MAXUINT64 (else INVALID) */
gboolean          diode_stored_chunk_verify (const DiodeStoredChunk *c, GError **error);
gsize             diode_stored_chunk_cost (const DiodeStoredChunk *c);   /* bytes held in memory, for bounds */

/* What one frame costs in diode_stored_chunk_cost() besides its bytes (a
 * GBytes, its data block and a pointer slot), and one chunk. */
#define DIODE_STORED_FRAME_OVERHEAD 96
#define DIODE_STORED_CHUNK_OVERHEAD 128

/* --- record layout (used by the store and the fuzz harness) --- */

/* Checks the header fields alone: 1 <= n_frames <= DIODE_MAX_CHUNK_FRAMES,
 * n_prelude <= n_frames, 8 * n_frames <= bytes <= DIODE_MAX_CHUNK_BYTES,
 * 1 <= first_seq <= last_seq < G_MAXUINT64. Unknown flag bits are ignored (as in CHUNK). */
gboolean diode_chunkrec_check_header (const DiodeChunkHeader *hdr, GError **error);
/* The 60-byte chunk header (CHUNK payload layout) to and from bytes. */
void     diode_chunkrec_write_header (const DiodeChunkHeader *hdr, guint8 out[DIODE_CHUNKREC_HEADER_SIZE]);
void     diode_chunkrec_read_header  (const guint8 in[DIODE_CHUNKREC_HEADER_SIZE], DiodeChunkHeader *hdr);
/* The 72-byte head of @hdr's record (prefix + chunk header). */
void     diode_chunkrec_write_head   (const DiodeChunkHeader *hdr, guint8 out[DIODE_CHUNKREC_HEAD_SIZE]);
/* Parses a record head: magic, prefix CRC, length == 60 + bytes, header
 * checks. On success *@hdr is filled and the record's total size is
 * DIODE_CHUNKREC_HEAD_SIZE + hdr->bytes. */
gboolean diode_chunkrec_parse_head   (const guint8 in[DIODE_CHUNKREC_HEAD_SIZE], DiodeChunkHeader *hdr,
                                      GError **error);
/* Splits @data (the hdr->bytes frame bytes of a record, owned by the result)
 * into frames and checks them against @hdr (count, each frame's header and
 * its type: CAPS, MEDIA or EOS within their payload limits, total bytes,
 * CRC). Returns a new chunk or NULL + DIODE_STORE_ERROR_DAMAGED. */
DiodeStoredChunk *diode_chunkrec_parse_frames (const DiodeChunkHeader *hdr, GBytes *data, GError **error);
/* Parses a whole record (head + frames) held in memory. */
DiodeStoredChunk *diode_chunkrec_parse (const guint8 *data, gsize len, GError **error);
/* The whole record of @c (head + frames) as one new buffer (tests, fuzz). */
GBytes  *diode_chunkrec_serialize (const DiodeStoredChunk *c);

G_END_DECLS
