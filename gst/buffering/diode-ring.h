/* gst-diode — keyframe-aligned chunks, the per-stream ring, viewer cursors
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A chunk is the run of frames from one keyframe to the next. Frames are the
 * raw wire frames (GBytes, header included) exactly as the publisher sent
 * them, so every viewer is fed the very same bytes: one copy per stream, a
 * reference per viewer. Each chunk remembers the CAPS frame and the header
 * frames in force when it started, so a viewer can join at any chunk and
 * decode at once.
 *
 * The ring owns the chunks from oldest to newest and evicts whole chunks,
 * oldest first, past its byte and time limits. What it counts is what it
 * holds: every frame costs its size plus DIODE_RING_FRAME_OVERHEAD, every
 * chunk DIODE_RING_CHUNK_OVERHEAD, so a flood of tiny frames is bounded like
 * the same memory in big ones. A chunk that grows to half the byte limit
 * (half the time limit when there is no byte limit) without a keyframe is
 * closed and the stream goes on in a continuation chunk: the older part
 * then becomes evictable like any chunk, so a stream that never sends
 * another keyframe stays bounded. Joiners never start at a continuation
 * chunk. The stream header set (STREAMHEADER frames) is counted
 * too and capped (DIODE_RING_MAX_HEADERS, DIODE_RING_MAX_HEADER_BYTES): a
 * push past the cap is refused. A viewer is a cursor (chunk + frame index):
 * it never copies. A cursor left on an evicted chunk jumps to the newest
 * keyframe chunk on its next read and reports the skip.
 *
 * Single-threaded: the relay's loop owns its rings.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiodeChunk DiodeChunk;

/* Accounting (docs/architecture.md, "Ring accounting"): what one frame and
 * one chunk cost besides the frame bytes, measured on x86-64 with GLib 2.74
 * (tests/unit/test-ring-limits.c prints the measure) and rounded up: a frame
 * is a GBytes (48-byte block) and its data block (malloc header), a pointer
 * and a seq slot in arrays that grow by doubling; a chunk is its struct,
 * three arrays with their first blocks, a queue link and the refs it holds
 * on the header set (DIODE_RING_HEADER_REF_COST each). */
#define DIODE_RING_FRAME_OVERHEAD   128
#define DIODE_RING_CHUNK_OVERHEAD   1024
#define DIODE_RING_HEADER_REF_COST  16
/* The stream header set: at most this many frames, this many bytes (frame
 * bytes + overhead). Real sets are a few frames of a few KiB. */
#define DIODE_RING_MAX_HEADERS      64
#define DIODE_RING_MAX_HEADER_BYTES (1024 * 1024)

#define DIODE_RING_ERROR (diode_ring_error_quark ())
GQuark diode_ring_error_quark (void);
typedef enum {
  DIODE_RING_ERROR_HEADERS,  /* the stream header set is over its cap */
} DiodeRingError;

struct _DiodeChunk {
  gint        ref_count;
  guint64     first_seq;     /* seq of the first MEDIA frame (0 if none yet) */
  guint64     start_time;    /* DTS (else PTS) of the first frame, or G_MAXUINT64 */
  guint64     end_time;      /* latest DTS/PTS seen in the chunk */
  gboolean    keyframe;      /* starts with a keyframe (a joinable point) */
  gboolean    continuation;  /* continues the previous chunk's run of delta
                                frames (it grew too long): never joined at */
  gboolean    closed;        /* a newer chunk exists */
  gboolean    evicted;       /* no longer in the ring: cursors must move on */
  GBytes     *caps_frame;    /* CAPS frame in force at the start (may be NULL) */
  GPtrArray  *header_frames; /* HEADER MEDIA frames in force at the start */
  GPtrArray  *frames;        /* GBytes*: the frames, in order */
  GArray     *seqs;          /* guint64 per frame: MEDIA seq, 0 for others */
  gsize       bytes;         /* sum of frame sizes */
  gsize       cost;          /* what the ring counts for it: bytes + overheads */
  guint64     start_pos;     /* ring byte position of the first frame */
  guint64     wall_us;       /* wall clock (g_get_real_time, µs since the
                                epoch) when the chunk was started: the
                                relay's receive time of its first frame */
  DiodeChunk *next;          /* following chunk (borrowed: valid while this
                                chunk is not evicted; cursors check first) */
};

DiodeChunk *diode_chunk_ref   (DiodeChunk *c);
void        diode_chunk_unref (DiodeChunk *c);

typedef struct _DiodeRing DiodeRing;

/* @max_bytes: accounted bytes (frames + overheads), 0 = unlimited;
 * @max_time: ns of media kept, 0 = unlimited. With a byte limit the ring
 * holds at most max_bytes + one frame's cost + the header set. */
DiodeRing  *diode_ring_new    (guint64 max_bytes, guint64 max_time);
void        diode_ring_free   (DiodeRing *r);
void        diode_ring_set_limits (DiodeRing *r, guint64 max_bytes, guint64 max_time);

/* A CAPS frame: becomes the caps of chunks started from now on and is
 * appended to the current chunk so viewers in flight see the change. */
void        diode_ring_push_caps   (DiodeRing *r, GBytes *caps_frame);
/* A MEDIA frame. @keyframe starts a new chunk; @header frames (STREAMHEADER
 * flag) replace the header set once a non-header frame has come in between,
 * the way multihandlesink treats streamheaders. @time: DTS else PTS, or
 * G_MAXUINT64. Returns FALSE, sets @error (DIODE_RING_ERROR_HEADERS) and
 * keeps nothing of the frame when a header frame would take the header set
 * past DIODE_RING_MAX_HEADERS or DIODE_RING_MAX_HEADER_BYTES: the relay
 * closes such a publisher with a protocol error. */
gboolean    diode_ring_push_media  (DiodeRing *r, GBytes *frame, guint64 seq,
                                    guint64 time, gboolean keyframe,
                                    gboolean header, GError **error);
/* Any other frame to deliver in order (EOS). */
void        diode_ring_push_other  (DiodeRing *r, GBytes *frame);
/* Drop every chunk and the caps/headers (a new publisher takes the name):
 * cursors move to whatever comes next. */
void        diode_ring_reset       (DiodeRing *r);

/* Where a new viewer starts: the newest chunk that begins with a keyframe,
 * else the newest chunk that is not a continuation (a stream that began
 * without a keyframe), else NULL: nothing joinable yet, the viewer waits for
 * the next keyframe. Borrowed. */
DiodeChunk *diode_ring_join_chunk  (DiodeRing *r);
/* Replay starts without a store (issue 10): the keyframe chunk a target
 * lands on, among the chunks still buffered. Candidates are keyframe
 * chunks holding MEDIA. @snap as DiodeSnap (gst/protocol/diode-msg.h):
 * DIODE_RING_SNAP_BEFORE the last candidate at or before the target (the
 * oldest one when the target is older than all), _AFTER the first at or
 * after it (NULL when the target is newer than all: the caller goes live),
 * _NEAREST the closer of the two (the earlier one on a tie). Borrowed. */
#define DIODE_RING_SNAP_BEFORE  0
#define DIODE_RING_SNAP_AFTER   1
#define DIODE_RING_SNAP_NEAREST 2
/* The oldest keyframe chunk holding MEDIA (start mode EARLIEST), or NULL. */
DiodeChunk *diode_ring_earliest_chunk (DiodeRing *r);
/* By the publisher's time (DTS else PTS) of the chunk's first frame;
 * chunks without a time are not candidates. */
DiodeChunk *diode_ring_find_time   (DiodeRing *r, guint64 time, guint snap);
/* By the chunk's wall_us (start modes WALLCLOCK, and BACK from the wall
 * clock now). */
DiodeChunk *diode_ring_find_wall   (DiodeRing *r, guint64 wall_us, guint snap);
/* The newest chunk (the open one, frames go into it), or NULL. Borrowed.
 * A recorder notices a chunk closed when this changes. */
DiodeChunk *diode_ring_newest_chunk (DiodeRing *r);
/* The oldest chunk, or NULL. Borrowed. */
DiodeChunk *diode_ring_oldest_chunk (DiodeRing *r);

/* Chunk and index holding MEDIA @seq, if still buffered. */
gboolean    diode_ring_find_seq    (DiodeRing *r, guint64 seq,
                                    DiodeChunk **chunk, guint *index);

/* Accounted bytes held: chunk costs + the header set's cost. */
gsize       diode_ring_get_bytes   (DiodeRing *r);
/* What a frame of @size bytes costs in the accounting. */
#define     DIODE_RING_FRAME_COST(size) ((gsize) (size) + DIODE_RING_FRAME_OVERHEAD)
guint       diode_ring_get_n_chunks(DiodeRing *r);
guint64     diode_ring_get_last_seq(DiodeRing *r);
GBytes     *diode_ring_get_caps    (DiodeRing *r);  /* borrowed, may be NULL */

/* A reader's position. Start it with diode_cursor_init(); a cursor with no
 * chunk yet attaches to the join chunk as soon as one exists. */
typedef struct {
  DiodeChunk *chunk;     /* strong ref, or NULL */
  guint       index;     /* next frame in chunk->frames */
  guint       prelude;   /* frames of caps+headers still to send first */
  guint64     last_seq;  /* last MEDIA seq handed out */
  guint64     pos;       /* ring byte position reached (see backlog) */
  guint64     skipped;   /* times the cursor jumped ahead (evicted chunk) */
} DiodeCursor;

void        diode_cursor_init      (DiodeCursor *c);
void        diode_cursor_clear     (DiodeCursor *c);
/* Position @c at the join chunk (with caps + headers first). */
void        diode_cursor_join      (DiodeCursor *c, DiodeRing *r);
/* Position @c at @seq if buffered (caps and headers of its chunk first);
 * FALSE if not, and @c is unchanged. */
gboolean    diode_cursor_seek_seq  (DiodeCursor *c, DiodeRing *r, guint64 seq);
/* Position @c just after the last MEDIA frame buffered (caps and headers
 * of its chunk first, then whatever is pushed next): a subscriber that
 * already has everything joins at the tail. FALSE if no MEDIA is buffered,
 * and @c is unchanged. */
gboolean    diode_cursor_seek_tail (DiodeCursor *c, DiodeRing *r);
/* The next frame to send (borrowed) or NULL when caught up; moves the cursor.
 * Sets *@skipped when the cursor had to jump over evicted chunks. */
GBytes     *diode_cursor_next      (DiodeCursor *c, DiodeRing *r, gboolean *skipped);
/* Bytes from the cursor to the newest frame: its backlog. O(1): the ring
 * counts every byte ever pushed, the cursor where it is in that count. A
 * cursor that has not joined yet has no backlog. */
guint64     diode_cursor_backlog   (DiodeCursor *c, DiodeRing *r);
/* Jump to the join chunk if it is newer than where @c is (the slow-viewer
 * skip). Returns TRUE if it moved. */
gboolean    diode_cursor_skip_to_latest (DiodeCursor *c, DiodeRing *r);
/* Bytes ever pushed through the ring (its write position). */
guint64     diode_ring_get_position (DiodeRing *r);

G_END_DECLS
