/* gst-diode — helpers shared by the direct-path unit tests
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include "diode-direct.h"

G_BEGIN_DECLS

/* A private temporary directory for key files (XDG_CONFIG_HOME too). */
void           dc_setup_tmp (const gchar * name);
void           dc_teardown_tmp (void);
DiodeIdentity *dc_identity (const gchar * name);

/* A CAPS frame and a MEDIA frame of @size payload bytes (pattern made of
 * @seq, so every frame differs). */
GBytes        *dc_caps (void);
GBytes        *dc_media (guint64 seq, gboolean keyframe, gsize size);

/* Waits (bounded by @timeout_ms) for @fd to be readable. */
gboolean       dc_wait_fd (int fd, guint timeout_ms);

/* Next viewer event within @timeout_ms (NONE when none came). */
DiodeDirectEvent dc_viewer_next (DiodeDirectViewer * v, DiodeMsg * msg,
    gchar ** text, guint timeout_ms);
/* Next SIGNAL frame of the server or viewer, parsed, within @timeout_ms;
 * FALSE when none came. */
gboolean       dc_server_signal (DiodeDirectServer * s, DiodeMsg * m,
    guint timeout_ms);
gboolean       dc_viewer_signal (DiodeDirectViewer * v, DiodeMsg * m,
    guint timeout_ms);

/* Admit callbacks: everyone, no one, or the address in user_data. */
gboolean       dc_admit_all (const gchar * viewer, gpointer data);
gboolean       dc_admit_none (const gchar * viewer, gpointer data);

G_END_DECLS
