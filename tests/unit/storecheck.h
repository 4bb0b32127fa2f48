/* gst-diode — helpers shared by the store tests (test-store*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "diode-store-private.h"

G_BEGIN_DECLS

/* A chunk of MEDIA seqs @first..@last (a CAPS prelude frame first), each
 * frame @payload bytes of a pattern derived from its seq; times are
 * seq * 40 ms, @wall_us the receive time. */
DiodeStoredChunk *sc_chunk (guint64 first, guint64 last, gsize payload, guint64 wall_us,
                            gboolean keyframe);
/* TRUE if @a and @b hold the same header and frames, byte for byte. */
gboolean          sc_chunk_equal (const DiodeStoredChunk *a, const DiodeStoredChunk *b);
/* A new empty directory under the test's temp dir; free with sc_rmdir. */
gchar            *sc_tmpdir (void);
void              sc_rmdir (const gchar *dir);
/* The default meta of a test stream. */
void              sc_meta (DiodeStoreMeta *m, const gchar *name);
/* Opens @dir with generous limits, fails the test on error. */
DiodeStore       *sc_open (const gchar *dir);
/* Appends chunks of @per seqs covering @first..@last, then waits idle. */
void              sc_fill (DiodeStore *s, const gchar *key, guint64 first, guint64 last,
                           guint per, gsize payload, guint64 wall0_us);
/* Path of @key's segment file number @n (1-based order on disk). */
gchar            *sc_seg_path (DiodeStore *s, const gchar *key, guint n);

G_END_DECLS

G_BEGIN_DECLS
/* The crash sweep (test-store-crash.c samples it, test-store-long.c runs
 * every offset): a stream of @n_chunks chunks of @payload-byte frames is
 * written and closed; then for every cut length in the last record (every
 * @step-th byte, plus the first and last 80), the segment file is put back
 * cut to that length with the old, now stale index beside it, and the store
 * is opened: it must hold exactly the chunks before the torn one, readable
 * and equal to what was written, the torn one gone (NOT_FOUND), the segment
 * truncated to a whole record, the index rebuilt (one entry per chunk), and
 * every @append_every-th time a new chunk appended and read back. Returns
 * how many cuts were tried. */
guint sc_cut_sweep (guint n_chunks, gsize payload, guint step, guint append_every);
G_END_DECLS
