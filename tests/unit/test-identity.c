/* gst-diode — unit tests: identities and the known-relays file
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything happens under one temporary directory, which is also
 * $XDG_CONFIG_HOME (set before GLib caches it), so the user's real identity
 * is never touched.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/x509.h>

#include "diode-identity.h"
#include "diode-known-relays.h"

static gchar *tmp_root;         /* removed at exit */
static gchar *config_home;      /* $XDG_CONFIG_HOME, inside tmp_root */

#define ADDR_A "0x1111111111111111111111111111111111111111"
#define ADDR_B "0x2222222222222222222222222222222222222222"

static void
rm_rf (const gchar * path)
{
  GDir *dir;
  const gchar *name;

  dir = g_dir_open (path, 0, NULL);
  if (dir != NULL) {
    while ((name = g_dir_read_name (dir)) != NULL) {
      gchar *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
          !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
      g_free (child);
    }
    g_dir_close (dir);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

/* A fresh directory per test (tests run in forked children, but may also run
 * in-process with CK_FORK=no). */
static gchar *
make_test_dir (void)
{
  gchar *tmpl = g_build_filename (tmp_root, "t-XXXXXX", NULL);
  fail_unless (g_mkdtemp (tmpl) != NULL, "mkdtemp: %s", g_strerror (errno));
  return tmpl;
}

static guint
file_mode (const gchar * path)
{
  GStatBuf st;
  fail_unless (g_stat (path, &st) == 0, "stat %s: %s", path,
      g_strerror (errno));
  return st.st_mode & 07777;
}

static guint
count_dir_entries (const gchar * path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  fail_unless (dir != NULL);
  while (g_dir_read_name (dir) != NULL)
    n++;
  g_dir_close (dir);
  return n;
}

/* ---- identities --------------------------------------------------------- */

GST_START_TEST (test_create_modes)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *keydir = g_build_filename (dir, "a", "b", NULL);
  g_autofree gchar *path = g_build_filename (keydir, "id.pem", NULL);
  g_autoptr (GError) error = NULL;
  DiodeIdentity *id;
  mode_t old_umask;

  /* umask 0: a file opened 0644 and chmod'ed later would show up here as
   * world-readable; ours must be 0600 from creation. */
  old_umask = umask (0);
  id = diode_identity_load_or_create (path, &error);
  umask (old_umask);
  fail_unless (id != NULL, "load_or_create: %s", error ? error->message : "");
  fail_unless (diode_identity_was_created (id));
  fail_unless_equals_string (diode_identity_get_path (id), path);
  fail_unless_equals_int (file_mode (path), 0600);
  fail_unless_equals_int (file_mode (keydir), 0700);
  /* The temporary file was renamed/linked away, nothing left behind. */
  fail_unless_equals_int (count_dir_entries (keydir), 1);
  fail_unless (diode_identity_get_credentials (id) != NULL);

  /* The file is a PKCS#8 PEM key. */
  {
    g_autofree gchar *contents = NULL;
    fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
    fail_unless (g_str_has_prefix (contents, "-----BEGIN PRIVATE KEY-----"));
  }
  diode_identity_unref (id);
}

GST_END_TEST;

GST_START_TEST (test_default_path)
{
  g_autofree gchar *expected = g_build_filename (config_home, "diode",
      "identity.pem", NULL);
  g_autofree gchar *expected_dir = g_build_filename (config_home, "diode",
      NULL);
  g_autofree gchar *path = diode_identity_default_path ();
  g_autoptr (GError) error = NULL;
  g_autoptr (DiodeIdentity) id = NULL;
  g_autoptr (DiodeIdentity) id2 = NULL;

  fail_unless_equals_string (path, expected);
  id = diode_identity_load_or_create (NULL, &error);
  fail_unless (id != NULL, "load_or_create: %s", error ? error->message : "");
  fail_unless_equals_string (diode_identity_get_path (id), expected);
  fail_unless_equals_int (file_mode (expected), 0600);
  fail_unless_equals_int (file_mode (expected_dir), 0700);

  id2 = diode_identity_load_or_create (NULL, &error);
  fail_unless (id2 != NULL, "reload: %s", error ? error->message : "");
  fail_unless (!diode_identity_was_created (id2));
  fail_unless_equals_string (diode_identity_get_address (id2),
      diode_identity_get_address (id));
}

GST_END_TEST;

GST_START_TEST (test_reload_same_address)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "id.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiodeIdentity) a = NULL;
  g_autoptr (DiodeIdentity) b = NULL;
  g_autofree gchar *before = NULL, *after = NULL;

  a = diode_identity_load_or_create (path, &error);
  fail_unless (a != NULL, "create: %s", error ? error->message : "");
  fail_unless (g_file_get_contents (path, &before, NULL, NULL));

  b = diode_identity_load_or_create (path, &error);
  fail_unless (b != NULL, "reload: %s", error ? error->message : "");
  fail_unless (!diode_identity_was_created (b));
  fail_unless_equals_string (diode_identity_get_address (a),
      diode_identity_get_address (b));
  /* Loading never rewrites the key. */
  fail_unless (g_file_get_contents (path, &after, NULL, NULL));
  fail_unless_equals_string (before, after);
}

GST_END_TEST;

GST_START_TEST (test_two_identities_differ)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *p1 = g_build_filename (dir, "one.pem", NULL);
  g_autofree gchar *p2 = g_build_filename (dir, "two.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiodeIdentity) a = NULL;
  g_autoptr (DiodeIdentity) b = NULL;

  a = diode_identity_load_or_create (p1, &error);
  fail_unless (a != NULL);
  b = diode_identity_load_or_create (p2, &error);
  fail_unless (b != NULL);
  fail_if (g_str_equal (diode_identity_get_address (a),
          diode_identity_get_address (b)));
}

GST_END_TEST;

GST_START_TEST (test_address_format)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "id.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiodeIdentity) id = NULL;
  g_autofree gchar *from_cert = NULL;
  gnutls_datum_t der = { NULL, 0 };
  const gchar *addr;
  guint i;

  id = diode_identity_load_or_create (path, &error);
  fail_unless (id != NULL);
  addr = diode_identity_get_address (id);

  fail_unless_equals_int (strlen (addr), DIODE_ADDRESS_LEN);
  fail_unless (g_str_has_prefix (addr, "0x"));
  for (i = 2; i < DIODE_ADDRESS_LEN; i++)
    fail_unless (g_ascii_isdigit (addr[i]) || (addr[i] >= 'a'
            && addr[i] <= 'f'), "not lowercase hex: %s", addr);
  fail_unless (diode_address_is_valid (addr));

  /* The certificate presented in TLS hashes to the same address. */
  fail_unless (gnutls_certificate_get_crt_raw (diode_identity_get_credentials
          (id), 0, 0, &der) == 0);
  from_cert = diode_address_from_der_cert (&der, &error);
  fail_unless (from_cert != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (from_cert, addr);

  /* Garbage is not a certificate. */
  {
    guint8 junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
    gnutls_datum_t bad = { junk, sizeof junk };
    gchar *none = diode_address_from_der_cert (&bad, &error);
    fail_unless (none == NULL);
    fail_unless (error != NULL);
    g_clear_error (&error);
  }

  fail_unless (diode_address_is_valid (ADDR_A));
  fail_unless (diode_address_is_valid
      ("0xABCDEFabcdef0123456789012345678901234567"));
  fail_if (diode_address_is_valid (NULL));
  fail_if (diode_address_is_valid (""));
  fail_if (diode_address_is_valid ("0x"));
  fail_if (diode_address_is_valid ("1111111111111111111111111111111111111111"));
  fail_if (diode_address_is_valid
      ("0x111111111111111111111111111111111111111"));     /* 39 */
  fail_if (diode_address_is_valid
      ("0x11111111111111111111111111111111111111111"));   /* 41 */
  fail_if (diode_address_is_valid
      ("0x111111111111111111111111111111111111111g"));
  fail_if (diode_address_is_valid
      ("1x1111111111111111111111111111111111111111"));
}

GST_END_TEST;

GST_START_TEST (test_garbage_file_is_bad_key)
{
  static const gchar *const contents[] = {
    "this is not a key\n",
    "",
    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  };
  g_autofree gchar *dir = make_test_dir ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (contents); i++) {
    g_autofree gchar *path = g_strdup_printf ("%s/bad%u.pem", dir, i);
    g_autoptr (GError) error = NULL;
    DiodeIdentity *id;

    fail_unless (g_file_set_contents (path, contents[i], -1, NULL));
    id = diode_identity_load_or_create (path, &error);
    fail_unless (id == NULL, "garbage #%u accepted", i);
    fail_unless (g_error_matches (error, DIODE_IDENTITY_ERROR,
            DIODE_IDENTITY_ERROR_BAD_KEY), "garbage #%u: %s", i,
        error ? error->message : "no error");
    fail_unless (strstr (error->message, path) != NULL,
        "message does not name the file: %s", error->message);
    /* The bad file is left alone for the user to inspect. */
    fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  }
}

GST_END_TEST;

/* Only Ed25519 keys are identities: a key file holding an RSA or ECDSA key
 * (written by another tool) is refused at load, naming the key type, and
 * left alone. */
GST_START_TEST (test_non_ed25519_key_file_refused)
{
  static const struct
  {
    gnutls_pk_algorithm_t algo;
    guint bits;
    const gchar *says;
  } keys[] = {
    {GNUTLS_PK_RSA, 2048, "an RSA key"},
    {GNUTLS_PK_ECDSA, 256, "an ECDSA key"},
  };
  g_autofree gchar *dir = make_test_dir ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (keys); i++) {
    g_autofree gchar *path = g_strdup_printf ("%s/other%u.pem", dir, i);
    g_autoptr (GError) error = NULL;
    gnutls_x509_privkey_t key;
    gnutls_datum_t pem = { NULL, 0 };
    DiodeIdentity *id;

    fail_unless (gnutls_x509_privkey_init (&key) == 0);
    fail_unless (gnutls_x509_privkey_generate (key, keys[i].algo,
            keys[i].bits, 0) == 0);
    fail_unless (gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM,
            NULL, GNUTLS_PKCS_PLAIN, &pem) == 0);
    fail_unless (g_file_set_contents (path, (const gchar *) pem.data,
            pem.size, NULL));
    gnutls_free (pem.data);
    gnutls_x509_privkey_deinit (key);

    id = diode_identity_load_or_create (path, &error);
    fail_unless (id == NULL, "%s accepted as an identity", keys[i].says);
    fail_unless (g_error_matches (error, DIODE_IDENTITY_ERROR,
            DIODE_IDENTITY_ERROR_BAD_KEY), "%s: %s", keys[i].says,
        error ? error->message : "no error");
    fail_unless (strstr (error->message, keys[i].says) != NULL &&
        strstr (error->message, "Ed25519") != NULL &&
        strstr (error->message, path) != NULL, "%s", error->message);
    fail_unless (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  }
}

GST_END_TEST;

GST_START_TEST (test_unreadable_is_io)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "id.pem", NULL);
  g_autofree gchar *file = g_build_filename (dir, "plain", NULL);
  g_autofree gchar *under_file = g_build_filename (file, "id.pem", NULL);
  g_autoptr (GError) error = NULL;
  DiodeIdentity *id;

  /* A directory where the key should be: unreadable even for root (chmod
   * 000 would not stop root). */
  fail_unless (g_mkdir (path, 0700) == 0);
  id = diode_identity_load_or_create (path, &error);
  fail_unless (id == NULL);
  fail_unless (g_error_matches (error, DIODE_IDENTITY_ERROR,
          DIODE_IDENTITY_ERROR_IO), "%s", error ? error->message : "");
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, g_strerror (EISDIR)) != NULL, "%s",
      error->message);
  g_clear_error (&error);

  /* Cannot create: the parent "directory" is a regular file. */
  fail_unless (g_file_set_contents (file, "x", -1, NULL));
  id = diode_identity_load_or_create (under_file, &error);
  fail_unless (id == NULL);
  fail_unless (g_error_matches (error, DIODE_IDENTITY_ERROR,
          DIODE_IDENTITY_ERROR_IO), "%s", error ? error->message : "");
  fail_unless (strstr (error->message, file) != NULL, "%s", error->message);
}

GST_END_TEST;

GST_START_TEST (test_refcount)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "id.pem", NULL);
  DiodeIdentity *id;

  id = diode_identity_load_or_create (path, NULL);
  fail_unless (id != NULL);
  fail_unless (diode_identity_ref (id) == id);
  diode_identity_unref (id);
  /* Still alive after one unref of two. */
  fail_unless (diode_address_is_valid (diode_identity_get_address (id)));
  diode_identity_unref (id);
}

GST_END_TEST;

#define N_RACERS 8

static gpointer
racer (gpointer path)
{
  return diode_identity_load_or_create (path, NULL);
}

/* Processes starting together on first use must end up with one key. */
GST_START_TEST (test_concurrent_create)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "id.pem", NULL);
  GThread *threads[N_RACERS];
  DiodeIdentity *ids[N_RACERS];
  guint i, created = 0;

  for (i = 0; i < N_RACERS; i++)
    threads[i] = g_thread_new ("racer", racer, path);
  for (i = 0; i < N_RACERS; i++) {
    ids[i] = g_thread_join (threads[i]);
    fail_unless (ids[i] != NULL);
    created += diode_identity_was_created (ids[i]);
  }
  fail_unless_equals_int (created, 1);
  for (i = 1; i < N_RACERS; i++)
    fail_unless_equals_string (diode_identity_get_address (ids[i]),
        diode_identity_get_address (ids[0]));
  for (i = 0; i < N_RACERS; i++)
    diode_identity_unref (ids[i]);
  fail_unless_equals_int (count_dir_entries (dir), 1);
}

GST_END_TEST;

/* ---- known relays ------------------------------------------------------- */

GST_START_TEST (test_known_relays_first_use)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *subdir = g_build_filename (dir, "sub", NULL);
  g_autofree gchar *path = g_build_filename (subdir, "known-relays", NULL);
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) error = NULL;

  fail_unless (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_A,
          &error), "%s", error ? error->message : "");
  fail_unless_equals_int (file_mode (path), 0600);
  fail_unless_equals_int (file_mode (subdir), 0700);
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless (strstr (contents, "127.0.0.1:7878 " ADDR_A "\n") != NULL,
      "recorded: %s", contents);

  /* Same address again: accepted, nothing appended. */
  fail_unless (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_A,
          &error), "%s", error ? error->message : "");
  {
    g_autofree gchar *again = NULL;
    fail_unless (g_file_get_contents (path, &again, NULL, NULL));
    fail_unless_equals_string (again, contents);
  }

  /* Another relay is another entry. */
  fail_unless (diode_known_relays_check (path, "[::1]:7878", ADDR_B, &error),
      "%s", error ? error->message : "");
  fail_unless (diode_known_relays_check (path, "[::1]:7878", ADDR_B, &error));
  fail_unless (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_A,
          &error));
}

GST_END_TEST;

GST_START_TEST (test_known_relays_case_insensitive)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "known-relays", NULL);
  g_autoptr (GError) error = NULL;
  const gchar *mixed = "0xAbCdEf0123456789aBcDeF0123456789ABCDEF01";
  g_autofree gchar *lower = g_ascii_strdown (mixed, -1);
  g_autofree gchar *upper = g_ascii_strup (mixed, -1);

  upper[1] = 'x';
  fail_unless (diode_known_relays_check (path, "relay.example:7878", mixed,
          &error));
  fail_unless (diode_known_relays_check (path, "relay.example:7878", lower,
          &error), "%s", error ? error->message : "");
  fail_unless (diode_known_relays_check (path, "relay.example:7878", upper,
          &error), "%s", error ? error->message : "");
  /* Host names are case-insensitive too. */
  fail_unless (diode_known_relays_check (path, "RELAY.example:7878", lower,
          &error), "%s", error ? error->message : "");
}

GST_END_TEST;

GST_START_TEST (test_known_relays_key_changed)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "known-relays", NULL);
  g_autofree gchar *before = NULL, *after = NULL;
  g_autoptr (GError) error = NULL;

  fail_unless (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_A,
          &error));
  fail_unless (g_file_get_contents (path, &before, NULL, NULL));

  fail_if (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_B,
          &error));
  fail_unless (g_error_matches (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_KEY_CHANGED), "%s",
      error ? error->message : "no error");
  GST_INFO ("message: %s", error->message);
  fail_unless (strstr (error->message, ADDR_A) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, ADDR_B) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "127.0.0.1:7878") != NULL, "%s",
      error->message);
  fail_unless (strstr (error->message, "delete that line") != NULL, "%s",
      error->message);

  /* The refused address was not recorded, and keeps being refused. */
  fail_unless (g_file_get_contents (path, &after, NULL, NULL));
  fail_unless_equals_string (after, before);
  g_clear_error (&error);
  fail_if (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_B,
          &error));
  fail_unless (g_error_matches (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_KEY_CHANGED));
}

GST_END_TEST;

GST_START_TEST (test_known_relays_comments)
{
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *path = g_build_filename (dir, "known-relays", NULL);
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) error = NULL;

  /* Hand-edited: comments (one looking like an entry), blank lines, tabs,
   * a malformed line, and no final newline. */
  fail_unless (g_file_set_contents (path,
          "# my relays\n"
          "#127.0.0.1:7878 " ADDR_B "\n"
          "  # 127.0.0.1:7878 " ADDR_B "\n"
          "\n"
          "127.0.0.1:7878\n"
          "other:1\t\t" ADDR_B "   \n" "last:2 " ADDR_B, -1, NULL));

  fail_unless (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_A,
          &error), "%s", error ? error->message : "");
  fail_unless (diode_known_relays_check (path, "other:1", ADDR_B, &error),
      "%s", error ? error->message : "");
  fail_unless (diode_known_relays_check (path, "last:2", ADDR_B, &error),
      "%s", error ? error->message : "");
  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  /* The new entry went on a line of its own. */
  fail_unless (strstr (contents, "last:2 " ADDR_B "\n127.0.0.1:7878 " ADDR_A
          "\n") != NULL, "file: %s", contents);
  /* And is honoured. */
  fail_if (diode_known_relays_check (path, "127.0.0.1:7878", ADDR_B, NULL));
}

GST_END_TEST;

GST_START_TEST (test_known_relays_default_path_and_io)
{
  g_autofree gchar *expected = g_build_filename (config_home, "diode",
      "known-relays", NULL);
  g_autofree gchar *path = diode_known_relays_default_path ();
  g_autofree gchar *dir = make_test_dir ();
  g_autofree gchar *as_dir = g_build_filename (dir, "known-relays", NULL);
  g_autoptr (GError) error = NULL;

  fail_unless_equals_string (path, expected);
  fail_unless (diode_known_relays_check (NULL, "h:1", ADDR_A, &error), "%s",
      error ? error->message : "");
  fail_unless (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  fail_unless_equals_int (file_mode (expected), 0600);

  fail_unless (g_mkdir (as_dir, 0700) == 0);
  fail_if (diode_known_relays_check (as_dir, "h:1", ADDR_A, &error));
  fail_unless (g_error_matches (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_IO), "%s", error ? error->message : "");
  fail_unless (strstr (error->message, as_dir) != NULL, "%s",
      error->message);
}

GST_END_TEST;

/* A certificate made in 2030 must not have expired when made: on a 32-bit
 * time_t (the armel build under qemu) now + 10 years does not fit, and the
 * value used instead must survive GnuTLS's writing and reading. */
GST_START_TEST (test_expiration_after_2028)
{
  const time_t now = (time_t) 1893456000;       /* 2030-01-01 */
  time_t exp = diode_identity_expiration_time (now);
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt, back;
  guint8 der[4096], serial[1] = { 1 };
  size_t n = sizeof der;
  gnutls_datum_t d;

  fail_unless ((gint64) exp > (gint64) now);
  if (sizeof (time_t) >= 8) {
    fail_unless_equals_int64 ((gint64) exp, (gint64) now + 315360000);
  } else {
    fail_unless_equals_int64 ((gint64) exp, G_MAXINT32);
  }
  fail_unless (gnutls_x509_privkey_init (&key) == 0);
  fail_unless (gnutls_x509_privkey_generate (key, GNUTLS_PK_EDDSA_ED25519,
          256, 0) == 0);
  fail_unless (gnutls_x509_crt_init (&crt) == 0);
  fail_unless (gnutls_x509_crt_set_key (crt, key) == 0);
  fail_unless (gnutls_x509_crt_set_version (crt, 3) == 0);
  fail_unless (gnutls_x509_crt_set_serial (crt, serial, 1) == 0);
  fail_unless (gnutls_x509_crt_set_activation_time (crt, now - 86400) == 0);
  fail_unless (gnutls_x509_crt_set_expiration_time (crt, exp) == 0);
  fail_unless (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_UNKNOWN,
          0) == 0);
  fail_unless (gnutls_x509_crt_export (crt, GNUTLS_X509_FMT_DER, der,
          &n) == 0);
  d.data = der;
  d.size = n;
  fail_unless (gnutls_x509_crt_init (&back) == 0);
  fail_unless (gnutls_x509_crt_import (back, &d, GNUTLS_X509_FMT_DER) == 0);
  fail_unless ((gint64) gnutls_x509_crt_get_expiration_time (back) >
      (gint64) now, "notAfter %" G_GINT64_FORMAT " is before %"
      G_GINT64_FORMAT, (gint64) gnutls_x509_crt_get_expiration_time (back),
      (gint64) now);
  gnutls_x509_crt_deinit (back);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
}

GST_END_TEST;

static Suite *
identity_suite (void)
{
  Suite *s = suite_create ("identity");
  TCase *tc = tcase_create ("identity");
  TCase *tk = tcase_create ("known-relays");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_create_modes);
  tcase_add_test (tc, test_default_path);
  tcase_add_test (tc, test_reload_same_address);
  tcase_add_test (tc, test_two_identities_differ);
  tcase_add_test (tc, test_address_format);
  tcase_add_test (tc, test_garbage_file_is_bad_key);
  tcase_add_test (tc, test_non_ed25519_key_file_refused);
  tcase_add_test (tc, test_unreadable_is_io);
  tcase_add_test (tc, test_refcount);
  tcase_add_test (tc, test_concurrent_create);
  tcase_add_test (tc, test_expiration_after_2028);

  suite_add_tcase (s, tk);
  tcase_add_test (tk, test_known_relays_first_use);
  tcase_add_test (tk, test_known_relays_case_insensitive);
  tcase_add_test (tk, test_known_relays_key_changed);
  tcase_add_test (tk, test_known_relays_comments);
  tcase_add_test (tk, test_known_relays_default_path_and_io);
  return s;
}

/* GST_CHECK_MAIN, plus a private $XDG_CONFIG_HOME set before anything (GLib
 * caches the config dir on first use, gst_init may be that first use). */
int
main (int argc, char **argv)
{
  int ret;

  tmp_root = g_dir_make_tmp ("diode-test-identity-XXXXXX", NULL);
  g_assert (tmp_root != NULL);
  config_home = g_build_filename (tmp_root, "config", NULL);
  g_setenv ("XDG_CONFIG_HOME", config_home, TRUE);

  gst_check_init (&argc, &argv);
  g_assert_cmpstr (g_get_user_config_dir (), ==, config_home);
  ret = gst_check_run_suite (identity_suite (), "identity", __FILE__);

  rm_rf (tmp_root);
  g_free (config_home);
  g_free (tmp_root);
  return ret;
}
