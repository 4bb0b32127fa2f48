/* gst-diode — share links: Ed25519 signatures with the identity key
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The private key is taken back from the identity's TLS credentials
 * (gnutls_certificate_get_x509_key returns a copy), so DiodeIdentity
 * keeps no second copy of the secret. Ed25519 signatures are
 * deterministic: the same key and payload always give the same text,
 * which docs/protocol.md's worked example relies on.
 */
#include "diode-link-sign.h"

#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

static gboolean
crypto_failed (GError ** error, const gchar * what, int ret)
{
  g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
      "%s: %s", what, gnutls_strerror (ret));
  return FALSE;
}

static gnutls_privkey_t
identity_privkey (DiodeIdentity * id, GError ** error)
{
  gnutls_x509_privkey_t x = NULL;
  gnutls_privkey_t priv = NULL;
  int ret;

  diode_gnutls_ensure_init ();
  if ((ret = gnutls_certificate_get_x509_key (diode_identity_get_credentials
              (id), 0, &x)) < 0) {
    crypto_failed (error, "cannot read the identity's key", ret);
    return NULL;
  }
  if ((ret = gnutls_privkey_init (&priv)) < 0 ||
      (ret = gnutls_privkey_import_x509 (priv, x,
              GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE)) < 0) {
    if (priv)
      gnutls_privkey_deinit (priv);
    gnutls_x509_privkey_deinit (x);
    crypto_failed (error, "cannot use the identity's key", ret);
    return NULL;
  }
  return priv;
}

gboolean
diode_link_identity_key (DiodeIdentity * id, guint8 key[DIODE_LINK_KEY_SIZE],
    GError ** error)
{
  gnutls_privkey_t priv = identity_privkey (id, error);
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t x = { NULL, 0 };
  gnutls_ecc_curve_t curve;
  gboolean ok = FALSE;
  int ret;

  if (!priv)
    return FALSE;
  if ((ret = gnutls_pubkey_init (&pub)) < 0 ||
      (ret = gnutls_pubkey_import_privkey (pub, priv, 0, 0)) < 0 ||
      (ret = gnutls_pubkey_export_ecc_raw2 (pub, &curve, &x, NULL, 0)) < 0) {
    crypto_failed (error, "cannot read the identity's public key", ret);
  } else if (curve != GNUTLS_ECC_CURVE_ED25519 || x.size != DIODE_LINK_KEY_SIZE) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_BAD_KEY,
        "the identity's key is not an Ed25519 key");
  } else {
    memcpy (key, x.data, DIODE_LINK_KEY_SIZE);
    ok = TRUE;
  }
  gnutls_free (x.data);
  if (pub)
    gnutls_pubkey_deinit (pub);
  gnutls_privkey_deinit (priv);
  return ok;
}

static gnutls_pubkey_t
import_raw (const guint8 key[DIODE_LINK_KEY_SIZE], GError ** error)
{
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t x = { (unsigned char *) key, DIODE_LINK_KEY_SIZE };
  int ret;

  diode_gnutls_ensure_init ();
  if ((ret = gnutls_pubkey_init (&pub)) < 0 ||
      (ret = gnutls_pubkey_import_ecc_raw (pub, GNUTLS_ECC_CURVE_ED25519, &x,
              NULL)) < 0) {
    if (pub)
      gnutls_pubkey_deinit (pub);
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_SIGNATURE,
        "its key is not a usable Ed25519 public key (%s)",
        gnutls_strerror (ret));
    return NULL;
  }
  return pub;
}

gchar *
diode_link_key_address (const guint8 key[DIODE_LINK_KEY_SIZE],
    GError ** error)
{
  gnutls_pubkey_t pub = import_raw (key, error);
  gchar *address;

  if (!pub)
    return NULL;
  address = diode_address_from_pubkey (pub, error);
  gnutls_pubkey_deinit (pub);
  return address;
}

gboolean
diode_link_verify (const guint8 key[DIODE_LINK_KEY_SIZE],
    const gchar * context, const guint8 * payload, gsize len,
    const guint8 sig[DIODE_LINK_SIG_SIZE], GError ** error)
{
  gnutls_pubkey_t pub = import_raw (key, error);
  GBytes *msg;
  gnutls_datum_t data, s = { (unsigned char *) sig, DIODE_LINK_SIG_SIZE };
  gsize n;
  int ret;

  if (!pub)
    return FALSE;
  msg = diode_link_signed_bytes (context, payload, len);
  data.data = (unsigned char *) g_bytes_get_data (msg, &n);
  data.size = n;
  ret = gnutls_pubkey_verify_data2 (pub, GNUTLS_SIGN_EDDSA_ED25519, 0, &data,
      &s);
  g_bytes_unref (msg);
  gnutls_pubkey_deinit (pub);
  if (ret < 0) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_SIGNATURE,
        "its signature does not verify");
    return FALSE;
  }
  return TRUE;
}

static gchar *
sign_payload (DiodeIdentity * id, const gchar * context,
    const guint8 * payload, gsize len, GError ** error)
{
  gnutls_privkey_t priv = identity_privkey (id, error);
  GBytes *msg;
  gnutls_datum_t data, sig = { NULL, 0 };
  gchar *text = NULL;
  gsize n;
  int ret;

  if (!priv)
    return NULL;
  msg = diode_link_signed_bytes (context, payload, len);
  data.data = (unsigned char *) g_bytes_get_data (msg, &n);
  data.size = n;
  ret = gnutls_privkey_sign_data2 (priv, GNUTLS_SIGN_EDDSA_ED25519, 0, &data,
      &sig);
  g_bytes_unref (msg);
  gnutls_privkey_deinit (priv);
  if (ret < 0)
    crypto_failed (error, "cannot sign", ret);
  else if (sig.size != DIODE_LINK_SIG_SIZE)
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "an Ed25519 signature of %u bytes", sig.size);
  else
    text = diode_link_text_encode (payload, len, sig.data);
  gnutls_free (sig.data);
  return text;
}

gchar *
diode_link_token_sign (DiodeIdentity * id, DiodeLinkToken * t,
    GError ** error)
{
  guint8 payload[DIODE_LINK_MAX_PAYLOAD];
  gsize len;

  if (!diode_link_identity_key (id, t->owner, error))
    return NULL;
  len = diode_link_token_serialize (t, payload, error);
  if (!len)
    return NULL;
  return sign_payload (id, DIODE_LINK_TOKEN_CONTEXT, payload, len, error);
}

gchar *
diode_link_revocation_sign (DiodeIdentity * id, DiodeLinkRevocation * rv,
    GError ** error)
{
  guint8 payload[DIODE_LINK_MAX_PAYLOAD];
  gsize len;

  if (!diode_link_identity_key (id, rv->owner, error))
    return NULL;
  len = diode_link_revocation_serialize (rv, payload, error);
  if (!len)
    return NULL;
  return sign_payload (id, DIODE_LINK_REVOKE_CONTEXT, payload, len, error);
}

gboolean
diode_link_token_read (const gchar * text, DiodeLinkToken * t,
    GError ** error)
{
  guint8 payload[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = 0;

  if (!diode_link_text_decode (text, payload, &len, sig, error)
      || !diode_link_token_parse (payload, len, t, error))
    return FALSE;
  if (!diode_link_verify (t->owner, DIODE_LINK_TOKEN_CONTEXT, payload, len,
          sig, error)) {
    memset (t, 0, sizeof (*t));
    return FALSE;
  }
  return TRUE;
}

gboolean
diode_link_revocation_read (const gchar * text, DiodeLinkRevocation * rv,
    GError ** error)
{
  guint8 payload[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = 0;

  if (!diode_link_text_decode (text, payload, &len, sig, error)
      || !diode_link_revocation_parse (payload, len, rv, error))
    return FALSE;
  if (!diode_link_verify (rv->owner, DIODE_LINK_REVOKE_CONTEXT, payload, len,
          sig, error)) {
    memset (rv, 0, sizeof (*rv));
    return FALSE;
  }
  return TRUE;
}
