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
 * oldest first, past its byte and time limits (the newest chunk is never
 * evicted). A viewer is a cursor (chunk + frame index): it never copies. A
 * cursor left on an evicted chunk jumps to the newest keyframe chunk on its
 * next read and reports the skip.
 *
 * Single-threaded: the relay's loop owns its rings.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DiodeChunk DiodeChunk;

struct _DiodeChunk {
  gint        ref_count;
  guint64     first_seq;     /* seq of the first MEDIA frame (0 if none yet) */
  guint64     start_time;    /* DTS (else PTS) of the first frame, or G_MAXUINT64 */
  guint64     end_time;      /* latest DTS/PTS seen in the chunk */
  gboolean    keyframe;      /* starts with a keyframe (a joinable point) */
  gboolean    closed;        /* a newer chunk exists */
  gboolean    evicted;       /* no longer in the ring: cursors must move on */
  GBytes     *caps_frame;    /* CAPS frame in force at the start (may be NULL) */
  GPtrArray  *header_frames; /* HEADER MEDIA frames in force at the start */
  GPtrArray  *frames;        /* GBytes*: the frames, in order */
  GArray     *seqs;          /* guint64 per frame: MEDIA seq, 0 for others */
  gsize       bytes;         /* sum of frame sizes */
  guint64     start_pos;     /* ring byte position of the first frame */
  DiodeChunk *next;          /* following chunk (borrowed: valid while this
                                chunk is not evicted; cursors check first) */
};

DiodeChunk *diode_chunk_ref   (DiodeChunk *c);
void        diode_chunk_unref (DiodeChunk *c);

typedef struct _DiodeRing DiodeRing;

/* @max_bytes: 0 = unlimited; @max_time: ns of media kept, 0 = unlimited. */
DiodeRing  *diode_ring_new    (guint64 max_bytes, guint64 max_time);
void        diode_ring_free   (DiodeRing *r);
void        diode_ring_set_limits (DiodeRing *r, guint64 max_bytes, guint64 max_time);

/* A CAPS frame: becomes the caps of chunks started from now on and is
 * appended to the current chunk so viewers in flight see the change. */
void        diode_ring_push_caps   (DiodeRing *r, GBytes *caps_frame);
/* A MEDIA frame. @keyframe starts a new chunk; @header frames (HEADER flag)
 * replace the header set once a non-header frame has come in between, the
 * way multihandlesink treats streamheaders. @time: DTS else PTS, or
 * G_MAXUINT64. */
void        diode_ring_push_media  (DiodeRing *r, GBytes *frame, guint64 seq,
                                    guint64 time, gboolean keyframe,
                                    gboolean header);
/* Any other frame to deliver in order (EOS). */
void        diode_ring_push_other  (DiodeRing *r, GBytes *frame);
/* Drop every chunk and the caps/headers (a new publisher takes the name):
 * cursors move to whatever comes next. */
void        diode_ring_reset       (DiodeRing *r);

/* Where a new viewer starts: the newest chunk that begins with a keyframe,
 * else the newest chunk, else NULL (nothing yet). Borrowed. */
DiodeChunk *diode_ring_join_chunk  (DiodeRing *r);
/* Chunk and index holding MEDIA @seq, if still buffered. */
gboolean    diode_ring_find_seq    (DiodeRing *r, guint64 seq,
                                    DiodeChunk **chunk, guint *index);

gsize       diode_ring_get_bytes   (DiodeRing *r);
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
