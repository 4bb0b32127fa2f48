/* gst-diode — what a stream's caps say about its picture, without GStreamer
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay shows each stream's resolution, frame rate and codec (its web
 * list, /api/streams) but does not link GStreamer: a CAPS frame carries
 * gst_caps_to_string() text, and this reads the few fields it needs from
 * the first structure of that text ("video/x-h264, width=(int)1280,
 * height=(int)720, framerate=(fraction)30/1, ..."). Anything it does not
 * understand (a range, a list, a field of another type) is left unknown
 * rather than guessed. Sans-IO, GLib only, bounded by the input's length.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DIODE_CAPS_INFO_MAX_TYPE 63     /* media type bytes kept */
#define DIODE_CAPS_INFO_MAX_DIM  65535  /* larger width/height: unknown */

typedef struct {
  gchar  media_type[DIODE_CAPS_INFO_MAX_TYPE + 1]; /* "video/x-h264", "" */
  gint   width, height;      /* pixels; 0 = unknown */
  gint   fps_n, fps_d;       /* frame rate fps_n/fps_d; fps_d 0 = unknown
                                (0/1 is a variable rate: also unknown) */
  gint   mpegversion;        /* audio/mpeg: 1 (MP3) or 2, 4 (AAC); 0 */
} DiodeCapsInfo;

/* Reads @len bytes of caps text (not NUL-terminated necessarily). FALSE
 * when no media type could be read (@info is zeroed then); TRUE with what
 * could be read of the rest. */
gboolean     diode_caps_info_parse (const gchar *caps, gsize len,
                                    DiodeCapsInfo *info);
/* The codec's short name ("h264", "h265", "vp8", "vp9", "av1", "opus",
 * "aac", "mp3", "jpeg", "raw"...), else the media type itself, "" when
 * unknown. Borrowed from @info or static. */
const gchar *diode_caps_info_codec (const DiodeCapsInfo *info);
/* The frame rate as a double, 0 when unknown. */
gdouble      diode_caps_info_framerate (const DiodeCapsInfo *info);

G_END_DECLS
