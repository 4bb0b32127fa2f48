/* gst-diode — what protocol version 4 adds for direct paths: SIGNAL, PATH,
 * the WELCOME v4 block. Placeholder until issue 12's protocol lands:
 * every encoder fails (NULL), so nothing is ever sent.
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-msg.h"

GBytes *
diode_msg_encode_signal (guint32 sid, guint8 kind, const gchar * peer,
    const gchar * data)
{
  return NULL;
}

GBytes *
diode_msg_encode_path (guint8 path, guint64 from_seq)
{
  return NULL;
}

GBytes *
diode_msg_encode_welcome_v (guint16 version, guint32 keepalive_ms,
    const gchar * agent, guint16 stun_port)
{
  return diode_msg_encode_welcome (version, keepalive_ms, agent);
}

const gchar *
diode_signal_kind_name (guint kind)
{
  return "unknown";
}
