/* gst-diode — diodesink: publish a stream to a diode relay
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include "gstdiodeclient.h"

G_BEGIN_DECLS

#define GST_TYPE_DIODE_SINK (gst_diode_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstDiodeSink, gst_diode_sink, GST, DIODE_SINK, GstBaseSink)

struct _GstDiodeSink {
  GstBaseSink     parent;

  GstDiodeClient *client;
  guint64         seq;          /* last MEDIA seq sent */
  gboolean        published;    /* PUBLISH_OK received */
  gboolean        first;        /* next buffer is the session's first */
  GByteArray     *scratch;      /* frame assembly, reused */
  gchar          *caps_sent;    /* last CAPS string sent */
  gboolean        has_streamheader; /* caps carry streamheader buffers */
  guint64         bytes_sent;
  guint64         buffers_sent;
};

GST_ELEMENT_REGISTER_DECLARE (diodesink);

G_END_DECLS
