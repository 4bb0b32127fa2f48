/* gst-diode — identities: key pairs, self-signed certificates, addresses
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every participant (publisher, viewer, relay) owns one key pair, stored as a
 * PEM private key file (mode 0600) created on first use. Its *address* is
 *   "0x" + lowercase hex of the first 20 bytes of SHA-256(SubjectPublicKeyInfo DER)
 * (docs/protocol.md, "Identity"). The certificate presented in TLS is
 * self-signed and regenerated at load time: only the public key matters.
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

G_BEGIN_DECLS

#define DIODE_ADDRESS_LEN  42   /* "0x" + 40 hex digits */

typedef struct _DiodeIdentity DiodeIdentity;

#define DIODE_IDENTITY_ERROR (diode_identity_error_quark ())
GQuark diode_identity_error_quark (void);
typedef enum {
  DIODE_IDENTITY_ERROR_IO,        /* file unreadable / not writable */
  DIODE_IDENTITY_ERROR_BAD_KEY,   /* file exists but is not a usable key */
  DIODE_IDENTITY_ERROR_CRYPTO,    /* GnuTLS failure */
} DiodeIdentityErrorCode;

/* "$XDG_CONFIG_HOME/diode/identity.pem" (g_get_user_config_dir()). */
gchar         *diode_identity_default_path (void);
/* Loads the key at @path (NULL: default path); creates it (and its directory,
 * 0700) with mode 0600 when missing. */
DiodeIdentity *diode_identity_load_or_create (const gchar *path, GError **error);
DiodeIdentity *diode_identity_ref    (DiodeIdentity *id);
void           diode_identity_unref  (DiodeIdentity *id);
const gchar   *diode_identity_get_address (DiodeIdentity *id);
const gchar   *diode_identity_get_path    (DiodeIdentity *id);
/* TRUE if this load created the key file (first use), e.g. to tell the user. */
gboolean       diode_identity_was_created (DiodeIdentity *id);
/* Credentials holding the certificate + key, for client or server sessions. */
gnutls_certificate_credentials_t diode_identity_get_credentials (DiodeIdentity *id);

/* Address of a public key / of a DER certificate. Returns newly allocated. */
gchar *diode_address_from_pubkey (gnutls_pubkey_t key, GError **error);
gchar *diode_address_from_der_cert (const gnutls_datum_t *der, GError **error);
/* "an RSA key", "an Ed25519 key"...: a gnutls_pk_algorithm_t for messages. */
const gchar *diode_pk_algorithm_describe (int algo);
/* The notAfter of a certificate made at @now: 10 years on, at most what a
 * 32-bit time_t holds (exposed for tests). */
time_t       diode_identity_expiration_time (time_t now);
/* gnutls_global_init() once per process; every entry point here calls it. */
void diode_gnutls_ensure_init (void);
/* TRUE if @s looks like an address ("0x" + 40 hex, any case). */
gboolean diode_address_is_valid (const gchar *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiodeIdentity, diode_identity_unref)

G_END_DECLS
