/* gst-diode — fuzzing: share-link tokens and revocations
 * (gst/protocol/diode-link-token.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a browser puts in `?t=` and what anyone POSTs to /api/revoke goes
 * through this codec before any signature is checked. The input is read
 * twice: as text (a C string: the bytes up to the first NUL) through
 * diode_link_text_decode(), and as a raw payload through the token and
 * revocation parsers. Checks:
 *  - nothing crashes, leaks or reads out of bounds; a failure sets an
 *    error of DIODE_LINK_ERROR with a known code and leaves the output
 *    zeroed (parsers);
 *  - a text longer than 512 characters is TOO_LONG, whatever it holds;
 *  - a decoded text re-encodes to exactly the input (one text per
 *    payload and signature), its payload at most DIODE_LINK_MAX_PAYLOAD;
 *  - a parsed token or revocation is within every limit (scope bits,
 *    times, 366 days, a valid stream name without NUL) and serializes
 *    back to exactly the bytes it was parsed from (canonical, no
 *    trailing bytes).
 */
#include "fuzz-common.h"

#include "diode-link-token.h"
#include "diode-msg.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  return 0;
}

static void
check_error (GError * err, const gchar * what)
{
  FUZZ_CHECK (err != NULL, "%s failed without an error", what);
  FUZZ_CHECK (err->domain == DIODE_LINK_ERROR, "%s: error domain %s", what,
      g_quark_to_string (err->domain));
  FUZZ_CHECK (err->code >= DIODE_LINK_ERROR_TOO_LONG
      && err->code <= DIODE_LINK_ERROR_BAD_SIGNATURE, "%s: code %d", what,
      err->code);
  FUZZ_CHECK (g_utf8_validate (err->message, -1, NULL), "%s: message is "
      "not UTF-8", what);
}

static gboolean
all_zero (const void *p, gsize n)
{
  const guint8 *b = p;
  gsize i;

  for (i = 0; i < n; i++)
    if (b[i])
      return FALSE;
  return TRUE;
}

static void
check_name (const gchar * name)
{
  gsize n = strnlen (name, DIODE_LINK_MAX_NAME + 1);

  FUZZ_CHECK (n >= 1 && n <= DIODE_LINK_MAX_NAME, "name of %zu bytes", n);
  FUZZ_CHECK (diode_msg_check_stream_name (name, NULL), "invalid name");
}

static void
payload_round_trip (const guint8 * data, gsize size)
{
  DiodeLinkToken t;
  DiodeLinkRevocation rv;
  guint8 out[DIODE_LINK_MAX_PAYLOAD];
  GError *err = NULL;
  gsize n;

  if (diode_link_token_parse (data, size, &t, &err)) {
    FUZZ_CHECK (t.scope && !(t.scope & ~DIODE_LINK_SCOPE_ALL), "scope %u",
        t.scope);
    FUZZ_CHECK (t.expires > t.issued && t.expires <= DIODE_LINK_MAX_TIME
        && t.expires - t.issued <= (guint64) DIODE_LINK_MAX_LIFETIME,
        "times %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, t.issued,
        t.expires);
    check_name (t.stream);
    n = diode_link_token_serialize (&t, out, &err);
    FUZZ_CHECK (n == size && !memcmp (out, data, size), "token re-encodes "
        "to %zu bytes, parsed from %zu (%s)", n, size,
        err ? err->message : "differ");
  } else {
    check_error (err, "token parse");
    FUZZ_CHECK (all_zero (&t, sizeof t), "token not zeroed on failure");
    g_clear_error (&err);
  }

  if (diode_link_revocation_parse (data, size, &rv, &err)) {
    FUZZ_CHECK (rv.kind == DIODE_LINK_REVOKE_ONE
        || rv.kind == DIODE_LINK_REVOKE_ALL, "kind %u", rv.kind);
    check_name (rv.stream);
    n = diode_link_revocation_serialize (&rv, out, &err);
    FUZZ_CHECK (n == size && !memcmp (out, data, size), "revocation "
        "re-encodes to %zu bytes, parsed from %zu (%s)", n, size,
        err ? err->message : "differ");
  } else {
    check_error (err, "revocation parse");
    FUZZ_CHECK (all_zero (&rv, sizeof rv), "revocation not zeroed");
    g_clear_error (&err);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gchar *text = g_strndup ((const gchar *) data, size);
  guint8 payload[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gsize len = 0;
  GError *err = NULL;

  if (diode_link_text_decode (text, payload, &len, sig, &err)) {
    gchar *again = diode_link_text_encode (payload, len, sig);

    FUZZ_CHECK (strlen (text) <= DIODE_LINK_MAX_TEXT, "%zu characters "
        "decoded", strlen (text));
    FUZZ_CHECK (len <= DIODE_LINK_MAX_PAYLOAD, "payload of %zu", len);
    FUZZ_CHECK (!strcmp (again, text), "decoded text re-encodes "
        "differently:\n  %s\n  %s", text, again);
    g_free (again);
    payload_round_trip (payload, len);
  } else {
    check_error (err, "text decode");
    if (strlen (text) > DIODE_LINK_MAX_TEXT)
      FUZZ_CHECK (err->code == DIODE_LINK_ERROR_TOO_LONG, "a text of %zu "
          "characters refused with code %d", strlen (text), err->code);
    g_clear_error (&err);
  }
  g_free (text);

  payload_round_trip (data, size);
  return 0;
}
