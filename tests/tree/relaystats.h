/* gst-diode — tree tests: reading a relay's --stats-file
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tree tests judge a relay by its own account, the JSON snapshot it
 * rewrites every --stats-interval (docs/stats.md), rather than by log
 * wording: where a stream came from (its path), who it serves, and which
 * link to another relay is up. Each call reads the file afresh; a file not
 * written yet (or mid-rename) reads as "nothing there".
 */
#ifndef __DIODE_RELAYSTATS_H__
#define __DIODE_RELAYSTATS_H__

#include <glib.h>

G_BEGIN_DECLS

/* @stream's path as "0x…,0x…" (origin first), NULL if the relay does not
 * carry it or the file has none. */
gchar *rstats_path (const gchar * file, const gchar * stream);

/* Subscribers of @stream at the relay (pulling relays count as viewers
 * there), or -1 if it does not carry it. @first: the first one's address;
 * @out_per_in: bytes sent for the stream / bytes received (-1: none). */
gint rstats_viewers (const gchar * file, const gchar * stream, gchar ** first,
    gdouble * out_per_in);

/* The kind ("upstream", "fallback", "probe") of the relay's control link
 * to @peer ("host:port") if that link is up (state ready or linked), else
 * NULL. @failovers (optional): the relay's fail-over count, -1 if absent. */
gchar *rstats_link_kind (const gchar * file, const gchar * peer,
    gint64 * failovers);

G_END_DECLS
#endif
