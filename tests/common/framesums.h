/* gst-diode — shared test helpers: pipelines and decoded frame checksums
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * In-process GStreamer pipelines whose appsink records the SHA-1 of each
 * decoded frame's visible pixels, so that a test can say "this viewer decoded
 * exactly the publisher's frames, none missing, none repeated" by comparing
 * the lists (tests/integration/test-e2e.c, tests/tree/test-tree.c). Failures
 * go through tp_fail (testproc.h).
 */
#ifndef __DIODE_FRAMESUMS_H__
#define __DIODE_FRAMESUMS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

/* SHA-1 of each decoded frame's visible pixels, in arrival order. */
typedef struct
{
  GMutex lock;
  GPtrArray *sums;
  gint64 first_us;              /* monotonic time of the first frame, or 0 */
} Collector;

typedef struct
{
  gchar *name;
  GstElement *pipeline;
  GstBus *bus;
  gboolean eos;
  Collector col;
} Pipe;

void collector_attach (Collector * col, GstElement * pipeline,
    const gchar * name);
guint collector_count (Collector * col);

/* @desc: gst_parse_launch text; @appsink: the name of its appsink whose
 * frames are summed (NULL: none). */
Pipe *pipe_new (const gchar * name, const gchar * desc, const gchar * appsink);
void pipe_play (Pipe * p);
void pipe_stop (Pipe * p);
void pipe_free (Pipe * p);
/* Bus messages for up to @timeout: an ERROR fails the test, EOS is kept. */
void pipe_poll (Pipe * p, GstClockTime timeout);
void pipes_check (Pipe ** pipes, guint n);
void pipe_wait_eos (Pipe * p, gint64 deadline_us, const gchar * why);
void pipes_run_for (Pipe ** pipes, guint n, guint ms);
/* A guint64 field of the "stats" structure of element @element. */
guint64 pipe_element_stat (Pipe * p, const gchar * element,
    const gchar * field);

/* "diodesrc relay=127.0.0.1:PORT stream=S timeout=20000 EXTRA ! h264parse !
 * avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! appsink name=out". */
gchar *viewer_desc (guint port, const gchar * stream, const gchar * extra);

/* Compare @got with @ref from @ref_start on: the index in @got of the first
 * frame that differs (or that @ref does not have), or got->len when all of
 * @got is @ref[ref_start..ref_start + got->len). */
guint sums_first_mismatch (GPtrArray * ref, guint ref_start, GPtrArray * got);
/* Index in @ref of the first frame equal to @sum, or G_MAXUINT. */
guint sums_find (GPtrArray * ref, const gchar * sum);

G_END_DECLS
#endif
