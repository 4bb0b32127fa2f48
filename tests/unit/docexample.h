/* gst-diode — test helper: the worked examples of docs/protocol.md
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The document marks each example with a line "<!-- example: ID -->"
 * before a fenced block. test-msg-store.c (section 15's frames) and
 * test-link-token.c (section 16.5's share links) read them with the same
 * reader, here once, so the document and the code cannot drift apart
 * unnoticed. Failures are gst-check failures.
 */
#pragma once

#include <gst/check/gstcheck.h>

#include "diode-msg.h"

G_BEGIN_DECLS

/* The bytes of the example @id of @doc: the hex pairs of the fenced block
 * after its marker ('#' starts a comment). Fails if the marker is missing
 * or there twice, a token is not a byte, or the block holds none. */
GByteArray *doc_example_bytes (const gchar * doc, const gchar * id);
/* The frame example @id of @doc against @frame (an encoder's output, taken):
 * byte for byte, the first difference named; then the documented bytes
 * must parse at @version for @role. */
void        doc_example_frame (const gchar * doc, const gchar * id,
                               GBytes * frame, guint16 version,
                               DiodeRole role);
/* The first line of the fenced block after the marker of @id (g_free). */
gchar      *doc_example_text  (const gchar * doc, const gchar * id);

/* What GitHub's renderer needs of @doc's tables: a table row is followed
 * by another row or a blank line (a text line after it would be read as
 * one more row); and the subsections of section @section are numbered
 * @section.1, .2, ... in order, never "@section.x", nor referred to so. */
void        doc_check_format  (const gchar * doc, guint section);

G_END_DECLS
