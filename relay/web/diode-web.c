/* gst-diode — the relay's web side (placeholder until issue 11's server
 * lands: --http is refused)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web.h"

gboolean
relay_web_start (DiodeRelay * r, GError ** error)
{
  return TRUE;
}

void
relay_web_stop (DiodeRelay * r)
{
}
