/* gst-diode — share links: Ed25519 signatures with the identity key
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Tokens and revocations (gst/protocol/diode-link-token.h) are signed by
 * the stream owner's identity (diode-identity.h) and verified against the
 * raw 32-byte public key they carry; the relay then compares that key's
 * address with the stream's owner. GnuTLS does the crypto.
 */
#pragma once

#include "diode-identity.h"
#include "diode-link-token.h"

G_BEGIN_DECLS

/* The identity's raw Ed25519 public key. */
gboolean diode_link_identity_key (DiodeIdentity *id,
                                  guint8 key[DIODE_LINK_KEY_SIZE],
                                  GError **error);
/* The address (diode-identity.h) of a raw Ed25519 public key. */
gchar   *diode_link_key_address (const guint8 key[DIODE_LINK_KEY_SIZE],
                                 GError **error);

/* Sets @t->owner / @rv->owner to @id's key, signs, returns the text form
 * (g_free). */
gchar   *diode_link_token_sign (DiodeIdentity *id, DiodeLinkToken *t,
                                GError **error);
gchar   *diode_link_revocation_sign (DiodeIdentity *id,
                                     DiodeLinkRevocation *rv,
                                     GError **error);

/* Text form -> fields, signature checked against the key inside (error
 * DIODE_LINK_ERROR_BAD_SIGNATURE when it does not verify). Nothing else
 * is judged here: owner, stream, times are the caller's. */
gboolean diode_link_token_read (const gchar *text, DiodeLinkToken *t,
                                GError **error);
gboolean diode_link_revocation_read (const gchar *text,
                                     DiodeLinkRevocation *rv,
                                     GError **error);

/* Ed25519 over @context (NUL included) + @payload with @key. */
gboolean diode_link_verify (const guint8 key[DIODE_LINK_KEY_SIZE],
                            const gchar *context, const guint8 *payload,
                            gsize len, const guint8 sig[DIODE_LINK_SIG_SIZE],
                            GError **error);

G_END_DECLS
