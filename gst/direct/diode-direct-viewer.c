/* gst-diode — the viewer's end of direct paths: placeholder until issue 12's direct layer lands.
 * Fails closed: nothing is ever offered or connected.
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-direct.h"

#include <gio/gio.h>
#include <string.h>

DiodeDirectViewer *
diode_direct_viewer_new (const DiodeDirectViewerConfig * cfg, GError ** error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
      "direct paths are not built yet");
  return NULL;
}

void
diode_direct_viewer_free (DiodeDirectViewer * v)
{
}

void
diode_direct_viewer_start (DiodeDirectViewer * v)
{
}

void
diode_direct_viewer_set_next_seq (DiodeDirectViewer * v, guint64 seq)
{
}

void
diode_direct_viewer_handle_signal (DiodeDirectViewer * v, const DiodeMsg * m)
{
}

int
diode_direct_viewer_get_fd (DiodeDirectViewer * v)
{
  return -1;
}

GBytes  *
diode_direct_viewer_next_signal (DiodeDirectViewer * v)
{
  return NULL;
}

DiodeDirectEvent
diode_direct_viewer_next (DiodeDirectViewer * v, DiodeMsg * msg, gchar ** text)
{
  return DIODE_DIRECT_NONE;
}

guint64
diode_direct_viewer_peek_seq (DiodeDirectViewer * v)
{
  return 0;
}

void
diode_direct_viewer_get_stats (DiodeDirectViewer * v, DiodeDirectViewerStats * stats)
{
  memset (stats, 0, sizeof (*stats));
}
