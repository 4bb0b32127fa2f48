/* gst-diode — frames built by hand for the codec tests (see msgcheck.h)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "msgcheck.h"

#include <string.h>

#include "diode-msg.h"

GBytes *
msgcheck_raw_frame (guint8 type, guint8 flags, guint16 rsv,
    guint32 announced, const void *payload, gsize len)
{
  guint8 *f = g_malloc (DIODE_FRAME_HEADER_SIZE + len);

  f[0] = type;
  f[1] = flags;
  f[2] = rsv >> 8;
  f[3] = rsv & 0xff;
  f[4] = announced >> 24;
  f[5] = announced >> 16;
  f[6] = announced >> 8;
  f[7] = announced;
  if (len)
    memcpy (f + DIODE_FRAME_HEADER_SIZE, payload, len);
  return g_bytes_new_take (f, DIODE_FRAME_HEADER_SIZE + len);
}

GBytes *
msgcheck_frame (guint8 type, const void *payload, gsize len)
{
  return msgcheck_raw_frame (type, 0, 0, len, payload, len);
}
