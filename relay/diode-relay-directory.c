/* gst-diode — where is stream X: the relay's directory
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One question, one place: a SUBSCRIBE for a name this relay does not
 * carry asks directory_locate() where the stream can be had. Today the
 * answer is "published here", "ask the upstream" (the tree's parent, which
 * asks its own, up to the root) or "nowhere known". Keeping the decision
 * behind this one function is what lets a later directory (streams
 * announced by child relays, or a DHT over thousands of independent
 * relays) replace it without touching the code that opens pulls.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

DirWhere
directory_locate (DiodeRelay * r, const gchar * name)
{
  Stream *s = stream_lookup (r, name);

  if (s && (s->publisher || s->source == SOURCE_LOCAL))
    return DIR_LOCAL;
  if (r->endpoints && r->endpoints->len)
    return DIR_UPSTREAM;
  return DIR_NONE;
}
