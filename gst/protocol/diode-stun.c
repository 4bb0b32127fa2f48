/* gst-diode — the relay's STUN answer (sans-IO). Placeholder until the
 * codec lands: answers nothing (fail closed).
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-stun.h"

gsize
diode_stun_answer (const guint8 * req, gsize len, const DiodeStunAddr * from,
    guint8 * out, gsize out_size)
{
  return 0;
}
