/* gst-diode — big-endian field access for the store's on-disk layouts
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Record heads, segment heads and index entries are big endian like the
 * wire protocol, read and written through memcpy so that no field needs to
 * be aligned (32-bit ARM faults or is slow on unaligned 64-bit loads).
 * One copy for diode-chunkrec.c and diode-store-index.c.
 */
#pragma once

#include <glib.h>
#include <string.h>

static inline void
store_put32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, 4);
}

static inline void
store_put64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, 8);
}

static inline guint32
store_get32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

static inline guint64
store_get64 (const guint8 *p)
{
  guint64 v;

  memcpy (&v, p, 8);
  return GUINT64_FROM_BE (v);
}
