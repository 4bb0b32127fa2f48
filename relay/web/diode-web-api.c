/* gst-diode — the relay's pages and API (placeholder until issue 11's
 * API lands: every route answers 501)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-web-api.h"

static void
not_yet (SoupServerMessage * msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_IMPLEMENTED, NULL);
}

void
relay_web_api_list_page (DiodeRelay * r, SoupServerMessage * msg)
{
  not_yet (msg);
}

void
relay_web_api_streams (DiodeRelay * r, SoupServerMessage * msg)
{
  not_yet (msg);
}

void
relay_web_api_healthz (DiodeRelay * r, SoupServerMessage * msg)
{
  not_yet (msg);
}

void
relay_web_api_metrics (DiodeRelay * r, SoupServerMessage * msg)
{
  not_yet (msg);
}
