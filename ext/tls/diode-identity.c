/* gst-diode — identities: key pairs, self-signed certificates, addresses
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The key file is the only persistent state: an Ed25519 private key in PKCS#8
 * PEM. Everything else (public key, address, certificate, credentials) is
 * derived from it at load time, so a key file written by an older version or
 * by another tool keeps working, as long as it holds an Ed25519 key: only
 * Ed25519 keys are identities (docs/security.md), so an RSA or ECDSA key
 * file is refused here rather than by every relay it would connect to.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "diode-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

/* A PEM private key is a few hundred bytes (an RSA-8192 one ~6 KiB); anything
 * far larger is certainly not a key, and must not be slurped into memory. */
#define MAX_KEY_FILE_SIZE (64 * 1024)

struct _DiodeIdentity
{
  gatomicrefcount ref;
  gchar *path;
  gchar address[DIODE_ADDRESS_LEN + 1];
  gboolean created;
  gnutls_certificate_credentials_t creds;
};

G_DEFINE_QUARK (diode-identity-error-quark, diode_identity_error)

void
diode_gnutls_ensure_init (void)
{
  static gsize done = 0;

  /* GnuTLS >= 3.3 also initialises itself from a library constructor; the
   * explicit call keeps working where that is disabled, and is refcounted. */
  if (g_once_init_enter (&done)) {
    int ret = gnutls_global_init ();
    if (ret < 0)
      g_critical ("gnutls_global_init failed: %s", gnutls_strerror (ret));
    g_once_init_leave (&done, 1);
  }
}

gchar *
diode_identity_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "diode", "identity.pem",
      NULL);
}

/* ---- addresses ---------------------------------------------------------- */

static gchar *
address_from_spki (const guint8 * der, gsize len)
{
  static const gchar hex[] = "0123456789abcdef";
  guint8 digest[32];
  gchar *out;
  guint i;

  /* GnuTLS's own SHA-256 rather than GChecksum: same bytes, and it uses the
   * CPU's SHA extensions where present. */
  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, der, len, digest) < 0)
    return NULL;

  out = g_malloc (DIODE_ADDRESS_LEN + 1);
  out[0] = '0';
  out[1] = 'x';
  for (i = 0; i < 20; i++) {
    out[2 + 2 * i] = hex[digest[i] >> 4];
    out[3 + 2 * i] = hex[digest[i] & 0xf];
  }
  out[DIODE_ADDRESS_LEN] = '\0';
  return out;
}

gchar *
diode_address_from_pubkey (gnutls_pubkey_t key, GError ** error)
{
  gnutls_datum_t der = { NULL, 0 };
  gchar *address;
  int ret;

  g_return_val_if_fail (key != NULL, NULL);

  diode_gnutls_ensure_init ();

  /* DER of a gnutls_pubkey_t is the SubjectPublicKeyInfo structure. */
  ret = gnutls_pubkey_export2 (key, GNUTLS_X509_FMT_DER, &der);
  if (ret < 0) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot export public key: %s", gnutls_strerror (ret));
    return NULL;
  }
  address = address_from_spki (der.data, der.size);
  gnutls_free (der.data);
  if (address == NULL)
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot hash public key");
  return address;
}

const gchar *
diode_pk_algorithm_describe (int algo)
{
  switch (algo) {
    case GNUTLS_PK_RSA:
    case GNUTLS_PK_RSA_PSS:
      return "an RSA key";
    case GNUTLS_PK_ECDSA:
      return "an ECDSA key";
    case GNUTLS_PK_DSA:
      return "a DSA key";
    case GNUTLS_PK_EDDSA_ED25519:
      return "an Ed25519 key";
    case GNUTLS_PK_EDDSA_ED448:
      return "an Ed448 key";
    default:{
      const char *name = gnutls_pk_algorithm_get_name (algo);

      /* static strings only: callers put this into messages as is */
      return name ? name : "a key of unknown type";
    }
  }
}

gchar *
diode_address_from_der_cert (const gnutls_datum_t * der, GError ** error)
{
  gnutls_x509_crt_t crt = NULL;
  gnutls_pubkey_t pub = NULL;
  gchar *address = NULL;
  int ret;

  g_return_val_if_fail (der != NULL, NULL);

  diode_gnutls_ensure_init ();

  if ((ret = gnutls_x509_crt_init (&crt)) < 0 ||
      (ret = gnutls_x509_crt_import (crt, der, GNUTLS_X509_FMT_DER)) < 0) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot parse certificate: %s", gnutls_strerror (ret));
    goto out;
  }
  if ((ret = gnutls_pubkey_init (&pub)) < 0 ||
      (ret = gnutls_pubkey_import_x509 (pub, crt, 0)) < 0) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot read the certificate's public key: %s", gnutls_strerror (ret));
    goto out;
  }
  address = diode_address_from_pubkey (pub, error);

out:
  if (pub)
    gnutls_pubkey_deinit (pub);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  return address;
}

gboolean
diode_address_is_valid (const gchar * s)
{
  guint i;

  if (s == NULL || s[0] != '0' || s[1] != 'x')
    return FALSE;
  for (i = 2; i < DIODE_ADDRESS_LEN; i++)
    if (!g_ascii_isxdigit (s[i]))
      return FALSE;
  return s[DIODE_ADDRESS_LEN] == '\0';
}

/* ---- key file ----------------------------------------------------------- */

/* Outcome of reading the key file. */
typedef enum
{
  READ_OK,
  READ_MISSING,
  READ_FAILED,                  /* *error set */
} ReadResult;

static ReadResult
read_key_file (const gchar * path, gchar ** contents, gsize * len,
    GError ** error)
{
  struct stat st;
  gchar *buf;
  gsize got = 0;
  int fd, saved;

  /* O_NONBLOCK: a FIFO put in place of the key must not hang us in open(). */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0) {
    saved = errno;
    if (saved == ENOENT)
      return READ_MISSING;
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot open identity file %s: %s", path, g_strerror (saved));
    return READ_FAILED;
  }
  if (fstat (fd, &st) < 0) {
    saved = errno;
    close (fd);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot read identity file %s: %s", path, g_strerror (saved));
    return READ_FAILED;
  }
  if (!S_ISREG (st.st_mode)) {
    close (fd);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot read identity file %s: %s", path,
        S_ISDIR (st.st_mode) ? g_strerror (EISDIR) : "not a regular file");
    return READ_FAILED;
  }
  if (st.st_size > MAX_KEY_FILE_SIZE) {
    close (fd);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_BAD_KEY,
        "identity file %s is not a private key (%" G_GINT64_FORMAT
        " bytes, far too large)", path, (gint64) st.st_size);
    return READ_FAILED;
  }

  buf = g_malloc (MAX_KEY_FILE_SIZE + 1);
  for (;;) {
    gssize n = read (fd, buf + got, MAX_KEY_FILE_SIZE - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      saved = errno;
      close (fd);
      g_free (buf);
      g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
          "cannot read identity file %s: %s", path, g_strerror (saved));
      return READ_FAILED;
    }
    if (n == 0 || got + n == MAX_KEY_FILE_SIZE) {
      got += n;
      break;
    }
    got += n;
  }
  close (fd);
  buf[got] = '\0';
  *contents = buf;
  *len = got;
  return READ_OK;
}

static gboolean
write_all (int fd, const guint8 * data, gsize len)
{
  while (len > 0) {
    gssize n = write (fd, data, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return FALSE;
    data += n;
    len -= n;
  }
  return TRUE;
}

/* Write @pem to @path, which must not exist. Returns TRUE on success, FALSE
 * with *lost_race when another process created @path meanwhile (the caller
 * then loads that one), FALSE with *error otherwise.
 *
 * The key goes to a temporary file created 0600 (so it is never readable by
 * others, whatever the umask), is synced, then hard-linked into place: link()
 * never replaces an existing file and the final name only ever shows a
 * complete key. */
static gboolean
write_key_file (const gchar * path, const gnutls_datum_t * pem,
    gboolean * lost_race, GError ** error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *tmp = NULL;
  int fd, saved;

  *lost_race = FALSE;

  if (g_mkdir_with_parents (dir, 0700) < 0) {
    saved = errno;
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot create directory %s for the identity: %s", dir,
        g_strerror (saved));
    return FALSE;
  }

  tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    saved = errno;
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot create identity file in %s: %s", dir, g_strerror (saved));
    return FALSE;
  }
  if (!write_all (fd, pem->data, pem->size) || fsync (fd) < 0) {
    saved = errno;
    close (fd);
    g_unlink (tmp);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot write identity file %s: %s", tmp, g_strerror (saved));
    return FALSE;
  }
  if (close (fd) < 0) {
    saved = errno;
    g_unlink (tmp);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
        "cannot write identity file %s: %s", tmp, g_strerror (saved));
    return FALSE;
  }

  if (link (tmp, path) == 0) {
    g_unlink (tmp);
    return TRUE;
  }
  saved = errno;
  if (saved == EEXIST) {
    g_unlink (tmp);
    *lost_race = TRUE;
    return FALSE;
  }
  /* Some filesystems (FAT, some FUSE) have no hard links: fall back to
   * rename(), which is still atomic but could replace a key created in the
   * last microseconds by a concurrent process — acceptable there. */
  if (rename (tmp, path) == 0)
    return TRUE;
  saved = errno;
  g_unlink (tmp);
  g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
      "cannot create identity file %s: %s", path, g_strerror (saved));
  return FALSE;
}

/* ---- building an identity from its key ---------------------------------- */

static gboolean
set_random_serial (gnutls_x509_crt_t crt)
{
  guint8 serial[16];

  if (gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial) < 0)
    return FALSE;
  /* DER INTEGERs are signed: keep it positive, and non-zero. */
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  return gnutls_x509_crt_set_serial (crt, serial, sizeof serial) >= 0;
}

time_t
diode_identity_expiration_time (time_t now)
{
  gint64 exp = (gint64) now + (gint64) 10 * 365 * 24 * 3600;

  /* Where time_t is 32 bits (Debian 12 armel and armhf: the camera), now +
   * 10 years wraps from 2028 on. Not GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION
   * there: that is (time_t) 4294197631, negative in 32 bits, and GnuTLS
   * writes notAfter 1969 (every peer then refuses the certificate as
   * expired). The last second a 32-bit time_t holds (2038-01-19) instead:
   * that device's clock ends there too. */
  if (sizeof (time_t) < 8 && exp > G_MAXINT32)
    return (time_t) G_MAXINT32;
  return (time_t) exp;
}

static DiodeIdentity *
identity_from_key (const gchar * path, gnutls_x509_privkey_t key,
    gboolean created, GError ** error)
{
  gnutls_privkey_t priv = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_x509_crt_t crt = NULL;
  gnutls_certificate_credentials_t creds = NULL;
  gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
  DiodeIdentity *id = NULL;
  gchar *address = NULL;
  const gchar *what;
  time_t now;
  int ret, algo;

  /* Only Ed25519 keys are identities: peers refuse any other certificate,
   * so say it here, where the user can act on it. */
  algo = gnutls_x509_privkey_get_pk_algorithm (key);
  if (algo != GNUTLS_PK_EDDSA_ED25519) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_BAD_KEY,
        "identity file %s holds %s, but diode identities are Ed25519 keys "
        "only; move it away to create a new identity", path,
        diode_pk_algorithm_describe (algo));
    return NULL;
  }

  what = "cannot use the key";
  if ((ret = gnutls_privkey_init (&priv)) < 0 ||
      (ret = gnutls_privkey_import_x509 (priv, key, 0)) < 0 ||
      (ret = gnutls_pubkey_init (&pub)) < 0 ||
      (ret = gnutls_pubkey_import_privkey (pub, priv, 0, 0)) < 0)
    goto crypto_error;

  address = diode_address_from_pubkey (pub, error);
  if (address == NULL)
    goto out;

  /* The certificate only carries the public key to the peer, which checks
   * nothing but that key's hash; the fields are just the minimum a TLS stack
   * expects. CN = address makes dumps (gnutls-cli, wireshark) readable. */
  now = time (NULL);
  what = "cannot build the certificate";
  if ((ret = gnutls_x509_crt_init (&crt)) < 0 ||
      (ret = gnutls_x509_crt_set_version (crt, 3)) < 0 ||
      (ret = gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME,
              0, address, strlen (address))) < 0 ||
      (ret = gnutls_x509_crt_set_key (crt, key)) < 0 ||
      (ret = gnutls_x509_crt_set_activation_time (crt, now - 24 * 3600)) < 0 ||
      (ret = gnutls_x509_crt_set_expiration_time (crt,
              diode_identity_expiration_time (now))) < 0 ||
      (ret = gnutls_x509_crt_set_basic_constraints (crt, 0, -1)) < 0 ||
      (ret = gnutls_x509_crt_set_key_usage (crt,
              GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0)
    goto crypto_error;
  if (!set_random_serial (crt)) {
    ret = GNUTLS_E_RANDOM_FAILED;
    goto crypto_error;
  }

  /* Ed25519 signs with its built-in hash (SHA-512): ask the key rather than
   * hard-coding a digest, so other key types work too. */
  what = "cannot sign the certificate";
  if ((ret = gnutls_pubkey_get_preferred_hash_algorithm (pub, &dig,
              NULL)) < 0 ||
      (ret = gnutls_x509_crt_privkey_sign (crt, crt, priv, dig, 0)) < 0)
    goto crypto_error;

  what = "cannot set up TLS credentials";
  if ((ret = gnutls_certificate_allocate_credentials (&creds)) < 0 ||
      (ret = gnutls_certificate_set_x509_key (creds, &crt, 1, key)) < 0)
    goto crypto_error;

  id = g_new0 (DiodeIdentity, 1);
  g_atomic_ref_count_init (&id->ref);
  id->path = g_strdup (path);
  memcpy (id->address, address, DIODE_ADDRESS_LEN + 1);
  id->created = created;
  id->creds = creds;
  creds = NULL;
  goto out;

crypto_error:
  g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
      "identity %s: %s: %s", path, what, gnutls_strerror (ret));

out:
  g_free (address);
  if (creds)
    gnutls_certificate_free_credentials (creds);
  if (crt)
    gnutls_x509_crt_deinit (crt);
  if (pub)
    gnutls_pubkey_deinit (pub);
  if (priv)
    gnutls_privkey_deinit (priv);
  return id;
}

static gnutls_x509_privkey_t
import_key (const gchar * path, const gchar * contents, gsize len,
    GError ** error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_datum_t data = { (unsigned char *) contents, (unsigned int) len };
  int ret;

  if ((ret = gnutls_x509_privkey_init (&key)) < 0) {
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot load identity %s: %s", path, gnutls_strerror (ret));
    return NULL;
  }
  /* import2 accepts PKCS#8 and the legacy per-algorithm PEM forms. An
   * encrypted key has no password here and fails as a bad key, which is the
   * right message: we cannot use it unattended. */
  ret = gnutls_x509_privkey_import2 (key, &data, GNUTLS_X509_FMT_PEM, NULL,
      GNUTLS_PKCS_PLAIN);
  if (ret < 0) {
    /* GnuTLS says "The requested data were not available." when there is no
     * PEM block at all: say it in words. */
    const gchar *why = (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE ||
        ret == GNUTLS_E_BASE64_UNEXPECTED_HEADER_ERROR) ?
        "no PEM private key in it" : gnutls_strerror (ret);
    gnutls_x509_privkey_deinit (key);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_BAD_KEY,
        "identity file %s is not a usable private key (%s); move it away to "
        "create a new identity", path, why);
    return NULL;
  }
  return key;
}

static gnutls_x509_privkey_t
generate_key (GError ** error)
{
  gnutls_x509_privkey_t key = NULL;
  int ret;

  if ((ret = gnutls_x509_privkey_init (&key)) < 0 ||
      (ret = gnutls_x509_privkey_generate (key, GNUTLS_PK_EDDSA_ED25519,
              256, 0)) < 0) {
    if (key)
      gnutls_x509_privkey_deinit (key);
    g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
        "cannot generate an Ed25519 key: %s", gnutls_strerror (ret));
    return NULL;
  }
  return key;
}

DiodeIdentity *
diode_identity_load_or_create (const gchar * path, GError ** error)
{
  g_autofree gchar *default_path = NULL;
  guint attempt;

  diode_gnutls_ensure_init ();

  if (path == NULL)
    path = default_path = diode_identity_default_path ();

  /* Two rounds at most: if another process creates the file between our
   * failed open and our link(), we load its key on the second round. */
  for (attempt = 0; attempt < 2; attempt++) {
    gchar *contents = NULL;
    gsize len = 0;
    gnutls_x509_privkey_t key;
    gnutls_datum_t pem = { NULL, 0 };
    gboolean lost_race = FALSE, written;
    DiodeIdentity *id;
    int ret;

    switch (read_key_file (path, &contents, &len, error)) {
      case READ_FAILED:
        return NULL;
      case READ_OK:
        key = import_key (path, contents, len, error);
        /* The buffer held the secret key: wipe before freeing. */
        memset (contents, 0, len);
        g_free (contents);
        if (key == NULL)
          return NULL;
        id = identity_from_key (path, key, FALSE, error);
        gnutls_x509_privkey_deinit (key);
        return id;
      case READ_MISSING:
        break;
    }

    key = generate_key (error);
    if (key == NULL)
      return NULL;
    /* PKCS#8 PEM ("BEGIN PRIVATE KEY"): what openssl and certtool read. */
    ret = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL,
        GNUTLS_PKCS_PLAIN, &pem);
    if (ret < 0) {
      gnutls_x509_privkey_deinit (key);
      g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_CRYPTO,
          "cannot encode the new key: %s", gnutls_strerror (ret));
      return NULL;
    }
    written = write_key_file (path, &pem, &lost_race, error);
    gnutls_memset (pem.data, 0, pem.size);
    gnutls_free (pem.data);
    if (written) {
      id = identity_from_key (path, key, TRUE, error);
      gnutls_x509_privkey_deinit (key);
      return id;
    }
    gnutls_x509_privkey_deinit (key);
    if (!lost_race)
      return NULL;
  }

  g_set_error (error, DIODE_IDENTITY_ERROR, DIODE_IDENTITY_ERROR_IO,
      "identity file %s keeps appearing and disappearing", path);
  return NULL;
}

DiodeIdentity *
diode_identity_ref (DiodeIdentity * id)
{
  g_return_val_if_fail (id != NULL, NULL);
  g_atomic_ref_count_inc (&id->ref);
  return id;
}

void
diode_identity_unref (DiodeIdentity * id)
{
  g_return_if_fail (id != NULL);
  if (!g_atomic_ref_count_dec (&id->ref))
    return;
  gnutls_certificate_free_credentials (id->creds);
  g_free (id->path);
  g_free (id);
}

const gchar *
diode_identity_get_address (DiodeIdentity * id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->address;
}

const gchar *
diode_identity_get_path (DiodeIdentity * id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->path;
}

gboolean
diode_identity_was_created (DiodeIdentity * id)
{
  g_return_val_if_fail (id != NULL, FALSE);
  return id->created;
}

gnutls_certificate_credentials_t
diode_identity_get_credentials (DiodeIdentity * id)
{
  g_return_val_if_fail (id != NULL, NULL);
  return id->creds;
}
