/* gst-diode — share links on the relay: checking tokens, revocations
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A share link (`diode link NAME`) carries a token signed with the
 * stream owner's key. The relay checks it on every web connection to a
 * protected or private stream (diode-web-ws.c via the access check) and
 * keeps the owners' revocations. Runs on the relay's I/O thread.
 */
#pragma once

#include "diode-relay-private.h"
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef enum {
  RELAY_TOKEN_OK,
  RELAY_TOKEN_MISSING,          /* no token: the stream needs a share link */
  RELAY_TOKEN_MALFORMED,        /* not a token, or its signature is wrong */
  RELAY_TOKEN_WRONG_STREAM,     /* made for another stream */
  RELAY_TOKEN_WRONG_OWNER,      /* not signed by the stream's owner */
  RELAY_TOKEN_EXPIRED,
  RELAY_TOKEN_REVOKED,
  RELAY_TOKEN_WRONG_SCOPE,      /* does not allow what is asked */
  RELAY_TOKEN_UNAVAILABLE,      /* the relay cannot check links now (e.g.
                                   its revocation list is unreadable):
                                   fails closed */
  RELAY_TOKEN_NOT_YET_VALID,    /* issued more than 300 s in the future */
} RelayTokenResult;

/* Clock skew allowed on a token's issued time (s). */
#define RELAY_TOKEN_SKEW_S          300
/* Revocation list bounds (docs/protocol.md section 16, docs/security.md):
 * revocations by the owner of a stream this relay holds (live or stored),
 * never evicted... */
#define RELAY_REVOKED_PER_OWNER     256
#define RELAY_REVOKED_MAX           4096
/* ...and the pool of revocations for streams it does not hold (an edge
 * relay that pulls on demand), oldest evicted first when full. */
#define RELAY_REVOKED_POOL_PER_OWNER 64
#define RELAY_REVOKED_POOL_MAX       1024

/* Scope bits a token grants (and a connection needs). */
#define RELAY_TOKEN_SCOPE_LIVE      0x01
#define RELAY_TOKEN_SCOPE_RECORDING 0x02

/* Sets up / frees the relay's revocation list (relay start and stop). */
gboolean relay_web_tokens_init (DiodeRelay * r, GError ** error);
void     relay_web_tokens_free (DiodeRelay * r);

/* Checks @token (the URL's `t` parameter, NULL when absent) for a
 * connection to @stream owned by @owner (an address) that needs @scope,
 * at @now_unix (seconds). On OK, *@expires_unix is the token's expiry. */
RelayTokenResult relay_web_token_check (DiodeRelay * r, const gchar * token,
    const gchar * stream, const gchar * owner, guint scope,
    gint64 now_unix, gint64 * expires_unix);
/* What the page shows for @res (a constant English sentence). */
const gchar *relay_web_token_result_text (RelayTokenResult res);

/* POST /api/revoke: an owner's signed revocation. */
void     relay_web_token_revoke (DiodeRelay * r, SoupServerMessage * msg);
/* Its work without HTTP (I/O thread): @text a signed revocation, @now_unix
 * the time. Returns the HTTP status, *@message what to answer (g_free). */
guint    relay_web_token_revoke_text (DiodeRelay * r, const gchar * text,
    gint64 now_unix, gchar ** message);

/* Test hooks: the same on the running relay's I/O thread (directly when
 * it is not running), waiting for the answer. */
RelayTokenResult diode_relay_web_token_check_sync (DiodeRelay * r,
    const gchar * token, const gchar * stream, const gchar * owner,
    guint scope, gint64 now_unix, gint64 * expires_unix);
guint    diode_relay_web_revoke_sync (DiodeRelay * r, const gchar * text,
    gint64 now_unix, gchar ** message);
/* The stream's owner as the revocation check sees it (live or stored),
 * NULL when unknown. g_free. */
gchar   *relay_web_stream_owner (DiodeRelay * r, const gchar * name);

G_END_DECLS
