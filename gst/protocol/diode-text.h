/* gst-diode — peer text made safe to print
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Text a peer chose (ERROR texts, user agents, codec names, caps) reaches
 * logs and terminals: the relay's log lines (relay/diode-relay-log.c) and
 * the `diode` tool's output. One escaper for both, so a peer can write
 * neither a line break nor a terminal escape sequence into them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @text (may be NULL or not UTF-8) made safe for one line: \n, \r, \t and
 * \\ as such, other C0 controls and DEL as \xNN, bytes that are not UTF-8 as
 * \xNN, C1 controls, format characters (bidi overrides) and line
 * separators as \u{N}; at most @max_chars characters (0: no limit), then
 * "...(N more bytes)". Newly allocated. */
gchar *diode_text_escape (const gchar *text, guint max_chars);

G_END_DECLS
