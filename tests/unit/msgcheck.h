/* gst-diode — frames built by hand for the codec tests (test-msg*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* A frame as the wire carries it, header and payload written byte by byte,
 * so a test can say what the encoders refuse to: any type, flags, reserved
 * bits, and an announced length other than the payload's. */
GBytes *msgcheck_raw_frame (guint8 type, guint8 flags, guint16 rsv,
    guint32 announced, const void *payload, gsize len);
/* The same with flags 0 and the payload's own length. */
GBytes *msgcheck_frame (guint8 type, const void *payload, gsize len);
