/* gst-diode — share links on the relay (placeholder until issue 11's
 * tokens land: every token is refused, so protected and private streams
 * stay closed to browsers)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web-token.h"

gboolean
relay_web_tokens_init (DiodeRelay * r, GError ** error)
{
  return TRUE;
}

void
relay_web_tokens_free (DiodeRelay * r)
{
}

RelayTokenResult
relay_web_token_check (DiodeRelay * r, const gchar * token,
    const gchar * stream, const gchar * owner, guint scope,
    gint64 now_unix, gint64 * expires_unix)
{
  return token ? RELAY_TOKEN_UNAVAILABLE : RELAY_TOKEN_MISSING;
}

const gchar *
relay_web_token_result_text (RelayTokenResult res)
{
  return res == RELAY_TOKEN_MISSING ? "this stream needs a share link"
      : "share links cannot be checked on this relay";
}

void
relay_web_token_revoke (DiodeRelay * r, SoupServerMessage * msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_IMPLEMENTED, NULL);
}
