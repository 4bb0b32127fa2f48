/* gst-diode — diodesrc: watch a stream from a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>
#include "gstdiodeclient.h"

G_BEGIN_DECLS

#define GST_TYPE_DIODE_SRC (gst_diode_src_get_type ())
G_DECLARE_FINAL_TYPE (GstDiodeSrc, gst_diode_src, GST, DIODE_SRC, GstPushSrc)

struct _GstDiodeSrc {
  GstPushSrc      parent;

  GstDiodeClient *client;
  /* settings (GST_OBJECT_LOCK) */
  guint           latency;      /* ms */

  /* streaming thread */
  gboolean        subscribed;   /* SUBSCRIBE_OK received */
  gchar          *caps_str;     /* caps in force */
  guint64         last_seq;
  gboolean        have_offset;
  GstClockTimeDiff ts_offset;   /* publisher time -> our running time */
  guint64         buffers_received;
  guint64         bytes_received;
  guint64         discont;
};

GST_ELEMENT_REGISTER_DECLARE (diodesrc);

G_END_DECLS
