/* gst-diode — share-link tokens and revocations: the codec
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A share link (`diode link NAME`) carries a token signed by the stream
 * owner's identity key; the owner revokes links with a revocation signed
 * by the same key (docs/protocol.md section 16, "Share links"). This file
 * only turns them into bytes and back, with every limit checked: no
 * crypto (ext/tls/diode-link-sign.[ch] signs and verifies), no I/O. It
 * reads text from any browser, so it is fuzzed (tests/fuzz/fuzz-token.c).
 *
 * Text form:  "d1." base64url(payload) "." base64url(signature)
 *             (RFC 4648 section 5, no padding, canonical), at most
 *             DIODE_LINK_MAX_TEXT characters.
 * Token payload (big-endian):
 *   version u8 = 1, scope u8, link id (8 bytes), issued u64 (unix s),
 *   expires u64 (unix s), owner Ed25519 public key (32 bytes),
 *   stream name (u8 length + UTF-8)
 * Revocation payload:
 *   version u8 = 1, kind u8 (1 one link, 2 all links), owner key (32),
 *   stream name (u8 length + UTF-8), then
 *     kind 1: link id (8), link issued u64, link expires u64
 *     kind 2: before u64 (links issued before it are revoked)
 * Signatures are Ed25519 over the context string, its NUL included,
 * followed by the payload.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DIODE_LINK_VERSION        1
#define DIODE_LINK_MAX_TEXT       512
#define DIODE_LINK_KEY_SIZE       32
#define DIODE_LINK_SIG_SIZE       64
#define DIODE_LINK_ID_SIZE        8
#define DIODE_LINK_MAX_NAME       255
/* The longest payload: a token with a 255-byte name (revocations are as
 * long at most). */
#define DIODE_LINK_MAX_PAYLOAD    (1 + 1 + 8 + 8 + 8 + 32 + 1 + 255)
/* A link lives at most 366 days (expires - issued). */
#define DIODE_LINK_MAX_LIFETIME   (G_GINT64_CONSTANT (366) * 24 * 3600)
/* Times beyond this (year ~36800) are refused: every time fits a gint64
 * with room for the lifetime added. */
#define DIODE_LINK_MAX_TIME       ((G_GUINT64_CONSTANT (1) << 40) - 1)

#define DIODE_LINK_SCOPE_LIVE      0x01
#define DIODE_LINK_SCOPE_RECORDING 0x02
#define DIODE_LINK_SCOPE_ALL       0x03

#define DIODE_LINK_REVOKE_ONE      1
#define DIODE_LINK_REVOKE_ALL      2

/* Signing contexts; the signed bytes include the terminating NUL. */
#define DIODE_LINK_TOKEN_CONTEXT   "diode-share-link-v1"
#define DIODE_LINK_REVOKE_CONTEXT  "diode-share-link-revoke-v1"

#define DIODE_LINK_ERROR (diode_link_error_quark ())
GQuark diode_link_error_quark (void);
typedef enum {
  DIODE_LINK_ERROR_TOO_LONG,      /* text over DIODE_LINK_MAX_TEXT */
  DIODE_LINK_ERROR_BAD_TEXT,      /* no "d1." prefix, not two parts */
  DIODE_LINK_ERROR_BAD_BASE64,    /* not canonical unpadded base64url */
  DIODE_LINK_ERROR_TRUNCATED,     /* payload ends inside a field */
  DIODE_LINK_ERROR_TRAILING,      /* bytes after the last field */
  DIODE_LINK_ERROR_BAD_VERSION,
  DIODE_LINK_ERROR_BAD_FIELD,     /* scope, kind, name, times */
  DIODE_LINK_ERROR_BAD_SIGNATURE, /* ext/tls/diode-link-sign.c */
} DiodeLinkErrorCode;

typedef struct {
  guint8  scope;                          /* DIODE_LINK_SCOPE_* bits */
  guint8  id[DIODE_LINK_ID_SIZE];
  guint64 issued;
  guint64 expires;
  guint8  owner[DIODE_LINK_KEY_SIZE];
  gchar   stream[DIODE_LINK_MAX_NAME + 1];
} DiodeLinkToken;

typedef struct {
  guint8  kind;                           /* DIODE_LINK_REVOKE_* */
  guint8  owner[DIODE_LINK_KEY_SIZE];
  gchar   stream[DIODE_LINK_MAX_NAME + 1];
  guint8  id[DIODE_LINK_ID_SIZE];         /* ONE */
  guint64 issued;                         /* ONE: the link's (or later) */
  guint64 expires;                        /* ONE: the link's expiry */
  guint64 before;                         /* ALL */
} DiodeLinkRevocation;

/* Text form -> payload (into @payload, DIODE_LINK_MAX_PAYLOAD bytes) and
 * signature. The length is checked before anything is decoded. */
gboolean diode_link_text_decode (const gchar *text, guint8 *payload,
                                 gsize *payload_len,
                                 guint8 sig[DIODE_LINK_SIG_SIZE],
                                 GError **error);
gchar   *diode_link_text_encode (const guint8 *payload, gsize payload_len,
                                 const guint8 sig[DIODE_LINK_SIG_SIZE]);

/* Payloads. serialize returns the length written into @out
 * (DIODE_LINK_MAX_PAYLOAD bytes), 0 with @error when a field is out of
 * its limits (the same checks as parse). */
gsize    diode_link_token_serialize (const DiodeLinkToken *t, guint8 *out,
                                     GError **error);
gboolean diode_link_token_parse (const guint8 *payload, gsize len,
                                 DiodeLinkToken *t, GError **error);
gsize    diode_link_revocation_serialize (const DiodeLinkRevocation *rv,
                                          guint8 *out, GError **error);
gboolean diode_link_revocation_parse (const guint8 *payload, gsize len,
                                      DiodeLinkRevocation *rv,
                                      GError **error);

/* @context (NUL included) followed by @payload: what is signed. */
GBytes  *diode_link_signed_bytes (const gchar *context, const guint8 *payload,
                                  gsize len);

/* Link ids as 16 lowercase hex digits (what `diode link` prints and the
 * relay config's [links] revoked= lists). */
void     diode_link_id_to_hex (const guint8 id[DIODE_LINK_ID_SIZE],
                               gchar out[2 * DIODE_LINK_ID_SIZE + 1]);
gboolean diode_link_id_from_hex (const gchar *hex,
                                 guint8 id[DIODE_LINK_ID_SIZE]);

G_END_DECLS
