/* gst-diode — unit tests: share-link tokens and revocations
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The codec (gst/protocol/diode-link-token.c): round trips, every field's
 * limit, truncations, bad base64, too long, bad version; the signatures
 * (ext/tls/diode-link-sign.c): sign and verify, a wrong key, a flipped bit
 * in the payload and in the signature; and docs/protocol.md's worked
 * example, byte for byte, with the fixed key it names (RFC 8032's first
 * test key).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <string.h>

#include <glib/gstdio.h>

#include "diode-link-sign.h"
#include "diode-link-token.h"
#include "docexample.h"

static gchar *tmp_root;

/* RFC 8032 section 7.1, TEST 1: the example's key. */
static const gchar *EXAMPLE_SEED =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const gchar *EXAMPLE_PUB =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

static void
hex_to_bytes (const gchar * hex, guint8 * out, gsize n)
{
  gsize i;

  for (i = 0; i < n; i++)
    out[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) |
        g_ascii_xdigit_value (hex[2 * i + 1]);
}

/* An identity from a raw Ed25519 seed: PKCS#8 DER is a fixed 16-byte
 * prefix and the seed. */
static DiodeIdentity *
identity_from_seed (const gchar * seed_hex, const gchar * name)
{
  static const guint8 prefix[] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05,
    0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20
  };
  guint8 der[48];
  gchar *b64, *pem, *path;
  DiodeIdentity *id;
  GError *err = NULL;

  memcpy (der, prefix, 16);
  hex_to_bytes (seed_hex, der + 16, 32);
  b64 = g_base64_encode (der, sizeof der);
  pem = g_strdup_printf ("-----BEGIN PRIVATE KEY-----\n%s\n"
      "-----END PRIVATE KEY-----\n", b64);
  path = g_build_filename (tmp_root, name, NULL);
  fail_unless (g_file_set_contents (path, pem, -1, NULL));
  id = diode_identity_load_or_create (path, &err);
  fail_unless (id != NULL, "%s", err ? err->message : "");
  g_free (b64);
  g_free (pem);
  g_free (path);
  return id;
}

static DiodeIdentity *
new_identity (const gchar * name)
{
  gchar *path = g_build_filename (tmp_root, name, NULL);
  GError *err = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (path, &err);

  fail_unless (id != NULL, "%s", err ? err->message : "");
  g_free (path);
  return id;
}

static DiodeLinkToken
sample_token (const gchar * name)
{
  DiodeLinkToken t;
  guint i;

  memset (&t, 0, sizeof t);
  t.scope = DIODE_LINK_SCOPE_LIVE;
  for (i = 0; i < DIODE_LINK_ID_SIZE; i++)
    t.id[i] = i + 1;
  t.issued = 1767225600;
  t.expires = 1767225600 + 86400;
  for (i = 0; i < DIODE_LINK_KEY_SIZE; i++)
    t.owner[i] = 0xa0 + i;
  g_strlcpy (t.stream, name, sizeof t.stream);
  return t;
}

static gboolean
token_equal (const DiodeLinkToken * a, const DiodeLinkToken * b)
{
  return a->scope == b->scope && !memcmp (a->id, b->id, sizeof a->id)
      && a->issued == b->issued && a->expires == b->expires
      && !memcmp (a->owner, b->owner, sizeof a->owner)
      && !strcmp (a->stream, b->stream);
}

static void
expect_parse_error (const guint8 * p, gsize len, gint code)
{
  DiodeLinkToken t;
  GError *err = NULL;

  fail_if (diode_link_token_parse (p, len, &t, &err));
  fail_unless (err && err->domain == DIODE_LINK_ERROR,
      "no link error for a bad payload of %zu bytes", len);
  fail_unless_equals_int (err->code, code);
  g_error_free (err);
}

GST_START_TEST (test_token_round_trip)
{
  const gchar *names[] = { "cam", "Kitchen camera", "ｃａｍ-東京",
    NULL
  };
  gchar longest[DIODE_LINK_MAX_NAME + 1];
  guint i;

  memset (longest, 'n', DIODE_LINK_MAX_NAME);
  longest[DIODE_LINK_MAX_NAME] = '\0';
  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    const gchar *name = names[i] ? names[i] : longest;
    DiodeLinkToken t = sample_token (name), back;
    guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE],
        p2[DIODE_LINK_MAX_PAYLOAD], sig2[DIODE_LINK_SIG_SIZE];
    gsize len = diode_link_token_serialize (&t, p, NULL), len2 = 0;
    gchar *text;

    fail_unless_equals_int (len, 59 + strlen (name));
    fail_unless (diode_link_token_parse (p, len, &back, NULL));
    fail_unless (token_equal (&t, &back));
    memset (sig, 0x5a, sizeof sig);
    text = diode_link_text_encode (p, len, sig);
    fail_unless (g_str_has_prefix (text, "d1."));
    fail_unless (strlen (text) <= DIODE_LINK_MAX_TEXT, "%zu", strlen (text));
    fail_unless (diode_link_text_decode (text, p2, &len2, sig2, NULL));
    fail_unless_equals_int (len2, len);
    fail_unless (!memcmp (p, p2, len) && !memcmp (sig, sig2, sizeof sig));
    g_free (text);
  }
}

GST_END_TEST;

GST_START_TEST (test_token_field_limits)
{
  DiodeLinkToken t = sample_token ("cam"), back;
  guint8 p[DIODE_LINK_MAX_PAYLOAD];
  gsize len;
  GError *err = NULL;

  len = diode_link_token_serialize (&t, p, NULL);
  /* version */
  p[0] = 2;
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_VERSION);
  p[0] = 0;
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_VERSION);
  p[0] = 1;
  /* scope: 0 and unknown bits */
  p[1] = 0;
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);
  p[1] = 0x04;
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);
  p[1] = DIODE_LINK_SCOPE_ALL;
  fail_unless (diode_link_token_parse (p, len, &back, NULL));
  fail_unless_equals_int (back.scope, DIODE_LINK_SCOPE_ALL);
  p[1] = DIODE_LINK_SCOPE_LIVE;

  /* times: expires after issued, at most 366 days, below MAX_TIME */
  t.expires = t.issued;
  fail_unless_equals_int (diode_link_token_serialize (&t, p, &err), 0);
  fail_unless (err && err->code == DIODE_LINK_ERROR_BAD_FIELD);
  g_clear_error (&err);
  t.expires = t.issued + DIODE_LINK_MAX_LIFETIME + 1;
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
  t.expires = t.issued + DIODE_LINK_MAX_LIFETIME;
  fail_unless (diode_link_token_serialize (&t, p, NULL) > 0);
  t.issued = DIODE_LINK_MAX_TIME;
  t.expires = DIODE_LINK_MAX_TIME + 1;
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
  /* the same limits when reading bytes written by someone else */
  t = sample_token ("cam");
  len = diode_link_token_serialize (&t, p, NULL);
  memset (p + 18, 0, 8);        /* expires = 0 < issued */
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);
  memset (p + 10, 0xff, 16);    /* issued, expires huge */
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);

  /* name: empty, '/', control character, NUL inside, too long */
  t = sample_token ("");
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
  t = sample_token ("a/b");
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
  t = sample_token ("a\tb");
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
  t = sample_token ("cam");
  len = diode_link_token_serialize (&t, p, NULL);
  p[len - 2] = '\0';            /* "c\0m" */
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);
  len = diode_link_token_serialize (&t, p, NULL);
  p[len - 1] = 0xff;            /* not UTF-8 */
  expect_parse_error (p, len, DIODE_LINK_ERROR_BAD_FIELD);
  memset (t.stream, 'x', DIODE_LINK_MAX_NAME + 1);
  fail_unless_equals_int (diode_link_token_serialize (&t, p, NULL), 0);
}

GST_END_TEST;

GST_START_TEST (test_token_truncated)
{
  DiodeLinkToken t = sample_token ("camera");
  guint8 p[DIODE_LINK_MAX_PAYLOAD + 1];
  gsize len = diode_link_token_serialize (&t, p, NULL), n;
  DiodeLinkToken back;

  /* every cut ends inside a field */
  for (n = 0; n < len; n++)
    expect_parse_error (p, n, DIODE_LINK_ERROR_TRUNCATED);
  /* a byte more: trailing */
  p[len] = 0;
  expect_parse_error (p, len + 1, DIODE_LINK_ERROR_TRAILING);
  fail_unless (diode_link_token_parse (p, len, &back, NULL));
}

GST_END_TEST;

static void
expect_text_error (const gchar * text, gint code)
{
  guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = 0;
  GError *err = NULL;

  fail_if (diode_link_text_decode (text, p, &len, sig, &err),
      "'%.40s' decoded", text);
  fail_unless (err && err->domain == DIODE_LINK_ERROR);
  fail_unless_equals_int (err->code, code);
  g_error_free (err);
}

GST_START_TEST (test_token_text_errors)
{
  DiodeLinkToken t = sample_token ("cam");
  guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = diode_link_token_serialize (&t, p, NULL);
  gchar *good, *bad, *dot;
  GString *s;

  memset (sig, 7, sizeof sig);
  good = diode_link_text_encode (p, len, sig);
  expect_text_error ("", DIODE_LINK_ERROR_BAD_TEXT);
  expect_text_error ("d2.AAAA.AAAA", DIODE_LINK_ERROR_BAD_TEXT);
  expect_text_error ("d1.", DIODE_LINK_ERROR_BAD_TEXT);
  expect_text_error ("d1.AAAA", DIODE_LINK_ERROR_BAD_TEXT);
  expect_text_error ("d1..AAAA", DIODE_LINK_ERROR_BAD_TEXT);
  expect_text_error ("d1.AAAA.", DIODE_LINK_ERROR_BAD_TEXT);

  /* standard base64's characters, padding, spaces: not base64url */
  bad = g_strdup (good);
  bad[5] = '+';
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  bad[5] = ' ';
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  g_free (bad);
  bad = g_strconcat (good, "=", NULL);
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  g_free (bad);
  /* a signature one character short (4k+1 length, or 63 bytes) */
  bad = g_strndup (good, strlen (good) - 1);
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  g_free (bad);
  bad = g_strndup (good, strlen (good) - 3);
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  g_free (bad);
  /* non-canonical: the unused low bits of the signature's last character
   * set (64 bytes = 85 chars + 4 bits) */
  bad = g_strdup (good);
  dot = bad + strlen (bad) - 1;
  *dot = 'B';
  expect_text_error (bad, DIODE_LINK_ERROR_BAD_BASE64);
  g_free (bad);
  /* a payload longer than any payload (315 bytes), the text still short
   * enough */
  s = g_string_new ("d1.");
  while (s->len < 3 + 420)
    g_string_append (s, "AAAA");
  g_string_append (s, strrchr (good, '.'));
  fail_unless (s->len <= DIODE_LINK_MAX_TEXT);
  expect_text_error (s->str, DIODE_LINK_ERROR_BAD_BASE64);
  g_string_free (s, TRUE);
  /* too long: refused on length alone, whatever follows */
  s = g_string_new (good);
  while (s->len <= DIODE_LINK_MAX_TEXT)
    g_string_append_c (s, 'A');
  expect_text_error (s->str, DIODE_LINK_ERROR_TOO_LONG);
  g_string_truncate (s, 3);
  while (s->len <= 100000)
    g_string_append_c (s, '!');
  expect_text_error (s->str, DIODE_LINK_ERROR_TOO_LONG);
  g_string_free (s, TRUE);
  g_free (good);
}

GST_END_TEST;

GST_START_TEST (test_revocation_round_trip)
{
  DiodeLinkRevocation rv, back;
  guint8 p[DIODE_LINK_MAX_PAYLOAD + 1];
  gsize len, n;
  GError *err = NULL;

  memset (&rv, 0, sizeof rv);
  rv.kind = DIODE_LINK_REVOKE_ONE;
  memset (rv.owner, 0x11, sizeof rv.owner);
  g_strlcpy (rv.stream, "cam", sizeof rv.stream);
  memset (rv.id, 0x22, sizeof rv.id);
  rv.issued = 1767225600;
  rv.expires = 1767312000;
  len = diode_link_revocation_serialize (&rv, p, NULL);
  fail_unless_equals_int (len, 1 + 1 + 32 + 4 + 8 + 8 + 8);
  fail_unless (diode_link_revocation_parse (p, len, &back, NULL));
  fail_unless (!memcmp (&rv, &back, sizeof rv));
  for (n = 0; n < len; n++)
    fail_if (diode_link_revocation_parse (p, n, &back, NULL));
  p[len] = 0;
  fail_if (diode_link_revocation_parse (p, len + 1, &back, &err));
  fail_unless (err->code == DIODE_LINK_ERROR_TRAILING);
  g_clear_error (&err);
  /* a revoked link's issued time of 0 is refused, written and read
   * (a relay stored one and could not read its list back) */
  memset (p + 46, 0, 8);
  fail_if (diode_link_revocation_parse (p, len, &back, &err));
  fail_unless (err->code == DIODE_LINK_ERROR_BAD_FIELD);
  g_clear_error (&err);
  rv.issued = 0;
  fail_unless_equals_int (diode_link_revocation_serialize (&rv, p, NULL), 0);

  memset (&rv, 0, sizeof rv);
  rv.kind = DIODE_LINK_REVOKE_ALL;
  memset (rv.owner, 0x11, sizeof rv.owner);
  g_strlcpy (rv.stream, "cam", sizeof rv.stream);
  rv.before = 1767225600;
  len = diode_link_revocation_serialize (&rv, p, NULL);
  fail_unless_equals_int (len, 1 + 1 + 32 + 4 + 8);
  fail_unless (diode_link_revocation_parse (p, len, &back, NULL));
  fail_unless (!memcmp (&rv, &back, sizeof rv));
  /* unknown kind, version, zero time */
  p[1] = 3;
  fail_if (diode_link_revocation_parse (p, len, &back, &err));
  fail_unless (err->code == DIODE_LINK_ERROR_BAD_FIELD);
  g_clear_error (&err);
  p[1] = DIODE_LINK_REVOKE_ALL;
  p[0] = 9;
  fail_if (diode_link_revocation_parse (p, len, &back, &err));
  fail_unless (err->code == DIODE_LINK_ERROR_BAD_VERSION);
  g_clear_error (&err);
  rv.before = 0;
  fail_unless_equals_int (diode_link_revocation_serialize (&rv, p, NULL), 0);
}

GST_END_TEST;

GST_START_TEST (test_sign_verify)
{
  DiodeIdentity *a = new_identity ("a.pem"), *b = new_identity ("b.pem");
  DiodeLinkToken t = sample_token ("cam"), back;
  guint8 ka[DIODE_LINK_KEY_SIZE], kb[DIODE_LINK_KEY_SIZE];
  guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = 0, bit;
  gchar *text, *address, *forged;
  GError *err = NULL;

  fail_unless (diode_link_identity_key (a, ka, NULL));
  fail_unless (diode_link_identity_key (b, kb, NULL));
  fail_if (!memcmp (ka, kb, sizeof ka));
  /* the raw key's address is the identity's address */
  address = diode_link_key_address (ka, NULL);
  fail_unless_equals_string (address, diode_identity_get_address (a));
  g_free (address);

  text = diode_link_token_sign (a, &t, &err);
  fail_unless (text != NULL, "%s", err ? err->message : "");
  fail_unless (!memcmp (t.owner, ka, sizeof ka));
  fail_unless (diode_link_token_read (text, &back, &err), "%s",
      err ? err->message : "");
  fail_unless (token_equal (&t, &back));
  /* a token is not a revocation: other context */
  fail_unless (diode_link_text_decode (text, p, &len, sig, NULL));
  fail_if (diode_link_verify (ka, DIODE_LINK_REVOKE_CONTEXT, p, len, sig,
          NULL));
  /* the wrong key: B's key put in, signature by A */
  memcpy (p + 26, kb, sizeof kb);
  fail_if (diode_link_verify (kb, DIODE_LINK_TOKEN_CONTEXT, p, len, sig,
          &err));
  fail_unless (err->code == DIODE_LINK_ERROR_BAD_SIGNATURE);
  g_clear_error (&err);
  forged = diode_link_text_encode (p, len, sig);
  fail_if (diode_link_token_read (forged, &back, NULL));
  g_free (forged);
  memcpy (p + 26, ka, sizeof ka);

  /* every bit of the payload and of the signature matters */
  for (bit = 0; bit < 8 * len; bit++) {
    p[bit / 8] ^= 1 << (bit % 8);
    fail_if (diode_link_verify (ka, DIODE_LINK_TOKEN_CONTEXT, p, len, sig,
            NULL), "flipped payload bit %zu verifies", bit);
    p[bit / 8] ^= 1 << (bit % 8);
  }
  for (bit = 0; bit < 8 * DIODE_LINK_SIG_SIZE; bit++) {
    sig[bit / 8] ^= 1 << (bit % 8);
    fail_if (diode_link_verify (ka, DIODE_LINK_TOKEN_CONTEXT, p, len, sig,
            NULL), "flipped signature bit %zu verifies", bit);
    sig[bit / 8] ^= 1 << (bit % 8);
  }
  fail_unless (diode_link_verify (ka, DIODE_LINK_TOKEN_CONTEXT, p, len, sig,
          NULL));
  g_free (text);

  {
    DiodeLinkRevocation rv, rback;

    memset (&rv, 0, sizeof rv);
    rv.kind = DIODE_LINK_REVOKE_ALL;
    g_strlcpy (rv.stream, "cam", sizeof rv.stream);
    rv.before = 1767225600;
    text = diode_link_revocation_sign (b, &rv, NULL);
    fail_unless (text != NULL);
    fail_unless (diode_link_revocation_read (text, &rback, NULL));
    fail_unless (!memcmp (rback.owner, kb, sizeof kb));
    /* a revocation is not a token */
    fail_if (diode_link_token_read (text, &back, NULL));
    g_free (text);
  }
  diode_identity_unref (a);
  diode_identity_unref (b);
}

GST_END_TEST;

static void
fail_unless_bytes (GByteArray * doc, const guint8 * p, gsize len,
    const gchar * id)
{
  gsize i;

  fail_unless_equals_int (doc->len, len);
  for (i = 0; i < len; i++)
    fail_unless (doc->data[i] == p[i], "example '%s': byte %zu is %02x in the "
        "document, %02x from the code", id, i, doc->data[i], p[i]);
}

GST_START_TEST (test_doc_example)
{
  DiodeIdentity *id = identity_from_seed (EXAMPLE_SEED, "example.pem");
  guint8 key[DIODE_LINK_KEY_SIZE], pub[DIODE_LINK_KEY_SIZE];
  guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  DiodeLinkToken t = sample_token ("cam");
  DiodeLinkRevocation rv;
  gchar *doc = NULL, *text, *dtext, *address;
  GByteArray *a;
  gsize len;
  GError *err = NULL;

  fail_unless (g_file_get_contents (DOCS_PROTOCOL_MD, &doc, NULL, &err));
  /* the document's key is RFC 8032's */
  fail_unless (diode_link_identity_key (id, key, NULL));
  hex_to_bytes (EXAMPLE_PUB, pub, 32);
  fail_unless (!memcmp (key, pub, 32));
  fail_unless (strstr (doc, EXAMPLE_SEED) != NULL);
  address = diode_link_key_address (key, NULL);
  fail_unless (strstr (doc, address) != NULL, "the document does not name "
      "the example owner's address %s", address);
  g_free (address);

  /* token: scope live, id 01..08, 2026-01-01T00:00Z for a day, "cam" */
  text = diode_link_token_sign (id, &t, NULL);
  fail_unless (text != NULL);
  len = diode_link_token_serialize (&t, p, NULL);
  a = doc_example_bytes (doc, "link-token-payload");
  fail_unless_bytes (a, p, len, "link-token-payload");
  g_byte_array_unref (a);
  fail_unless (diode_link_text_decode (text, p, &len, sig, NULL));
  a = doc_example_bytes (doc, "link-token-signature");
  fail_unless_bytes (a, sig, sizeof sig, "link-token-signature");
  g_byte_array_unref (a);
  dtext = doc_example_text (doc, "link-token-text");
  fail_unless_equals_string (dtext, text);
  g_free (dtext);
  g_free (text);

  /* revocation of that link */
  memset (&rv, 0, sizeof rv);
  rv.kind = DIODE_LINK_REVOKE_ONE;
  g_strlcpy (rv.stream, "cam", sizeof rv.stream);
  memcpy (rv.id, t.id, sizeof rv.id);
  rv.issued = t.issued;
  rv.expires = t.expires;
  text = diode_link_revocation_sign (id, &rv, NULL);
  fail_unless (text != NULL);
  len = diode_link_revocation_serialize (&rv, p, NULL);
  a = doc_example_bytes (doc, "link-revoke-payload");
  fail_unless_bytes (a, p, len, "link-revoke-payload");
  g_byte_array_unref (a);
  dtext = doc_example_text (doc, "link-revoke-text");
  fail_unless_equals_string (dtext, text);
  g_free (dtext);
  g_free (text);
  g_free (doc);
  diode_identity_unref (id);
}

GST_END_TEST;

/* Section 16 reads right on GitHub: its share-link subsection is 16.5
 * (not "16.x"), and no paragraph is glued to a table. */
GST_START_TEST (test_doc_format)
{
  gchar *doc = NULL;
  GError *err = NULL;

  fail_unless (g_file_get_contents (DOCS_PROTOCOL_MD, &doc, NULL, &err));
  doc_check_format (doc, 16);
  fail_unless (strstr (doc, "### 16.5 Share links") != NULL);
  g_free (doc);
}

GST_END_TEST;

static Suite *
link_token_suite (void)
{
  Suite *s = suite_create ("link-token");
  TCase *tc = tcase_create ("codec");
  TCase *ts = tcase_create ("sign");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_token_round_trip);
  tcase_add_test (tc, test_token_field_limits);
  tcase_add_test (tc, test_token_truncated);
  tcase_add_test (tc, test_token_text_errors);
  tcase_add_test (tc, test_revocation_round_trip);
  suite_add_tcase (s, ts);
  tcase_add_test (ts, test_sign_verify);
  tcase_add_test (ts, test_doc_example);
  tcase_add_test (ts, test_doc_format);
  return s;
}

int
main (int argc, char **argv)
{
  int ret;

  tmp_root = g_dir_make_tmp ("diode-test-link-XXXXXX", NULL);
  g_assert (tmp_root != NULL);
  g_setenv ("XDG_CONFIG_HOME", tmp_root, TRUE);
  gst_check_init (&argc, &argv);
  ret = gst_check_run_suite (link_token_suite (), "link-token", __FILE__);
  {
    GDir *d = g_dir_open (tmp_root, 0, NULL);
    const gchar *n;

    while (d && (n = g_dir_read_name (d))) {
      gchar *f = g_build_filename (tmp_root, n, NULL);

      g_unlink (f);
      g_free (f);
    }
    if (d)
      g_dir_close (d);
    g_rmdir (tmp_root);
  }
  g_free (tmp_root);
  return ret;
}
