/* gst-diode — share-link tokens and revocations: the codec
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Layouts in diode-link-token.h and docs/protocol.md section 16. The
 * encoding is canonical (one text per payload and signature): base64url
 * without padding whose unused low bits are zero, no bytes after the last
 * field. GLib's g_base64_decode() is not used: it skips characters it
 * does not know, which would make many texts decode to one token.
 */
#include "diode-link-token.h"
#include "diode-msg.h"

#include <string.h>

G_DEFINE_QUARK (diode-link-error-quark, diode_link_error)

#define PREFIX "d1."

static const gchar b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static gint
b64_value (gchar c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

/* Decodes @len characters of @s into @out (at most @max bytes). */
static gboolean
b64_decode (const gchar * s, gsize len, guint8 * out, gsize max, gsize * n,
    const gchar * what, GError ** error)
{
  gsize i, o = 0;
  guint32 acc = 0;
  guint bits = 0;

  /* 4k+1 characters can never be canonical base64 */
  if (len % 4 == 1 || (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > max) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_BASE64,
        "the %s has a length (%" G_GSIZE_FORMAT " characters) no %s can "
        "have", what, len, what);
    return FALSE;
  }
  for (i = 0; i < len; i++) {
    gint v = b64_value (s[i]);

    if (v < 0) {
      g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_BASE64,
          "the %s holds a character that is not base64url (at %"
          G_GSIZE_FORMAT ")", what, i);
      return FALSE;
    }
    acc = (acc << 6) | (guint32) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  /* the bits left over must be zero: one text per byte string */
  if (bits && (acc & ((1u << bits) - 1))) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_BASE64,
        "the %s's last character is not canonical base64url", what);
    return FALSE;
  }
  *n = o;
  return TRUE;
}

static void
b64_encode (GString * s, const guint8 * d, gsize len)
{
  gsize i;

  for (i = 0; i + 2 < len; i += 3) {
    guint32 v = ((guint32) d[i] << 16) | ((guint32) d[i + 1] << 8) | d[i + 2];

    g_string_append_c (s, b64url[(v >> 18) & 63]);
    g_string_append_c (s, b64url[(v >> 12) & 63]);
    g_string_append_c (s, b64url[(v >> 6) & 63]);
    g_string_append_c (s, b64url[v & 63]);
  }
  if (len - i == 1) {
    guint32 v = (guint32) d[i] << 16;

    g_string_append_c (s, b64url[(v >> 18) & 63]);
    g_string_append_c (s, b64url[(v >> 12) & 63]);
  } else if (len - i == 2) {
    guint32 v = ((guint32) d[i] << 16) | ((guint32) d[i + 1] << 8);

    g_string_append_c (s, b64url[(v >> 18) & 63]);
    g_string_append_c (s, b64url[(v >> 12) & 63]);
    g_string_append_c (s, b64url[(v >> 6) & 63]);
  }
}

gboolean
diode_link_text_decode (const gchar * text, guint8 * payload,
    gsize * payload_len, guint8 sig[DIODE_LINK_SIG_SIZE], GError ** error)
{
  gsize len, n = 0;
  const gchar *dot, *body;

  g_return_val_if_fail (text != NULL, FALSE);

  /* the length first: a huge text costs nothing more than this */
  len = strnlen (text, DIODE_LINK_MAX_TEXT + 1);
  if (len > DIODE_LINK_MAX_TEXT) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_TOO_LONG,
        "longer than %d characters", DIODE_LINK_MAX_TEXT);
    return FALSE;
  }
  if (strncmp (text, PREFIX, strlen (PREFIX)) != 0) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_TEXT,
        "does not begin with '" PREFIX "' (not a version 1 share link)");
    return FALSE;
  }
  body = text + strlen (PREFIX);
  dot = memchr (body, '.', len - strlen (PREFIX));
  if (!dot || dot == body || !dot[1]) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_TEXT,
        "not two parts (payload.signature) after '" PREFIX "'");
    return FALSE;
  }
  if (!b64_decode (body, dot - body, payload, DIODE_LINK_MAX_PAYLOAD,
          payload_len, "payload", error))
    return FALSE;
  if (!b64_decode (dot + 1, text + len - (dot + 1), sig, DIODE_LINK_SIG_SIZE,
          &n, "signature", error))
    return FALSE;
  if (n != DIODE_LINK_SIG_SIZE) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_BASE64,
        "the signature is %" G_GSIZE_FORMAT " bytes, not %d", n,
        DIODE_LINK_SIG_SIZE);
    return FALSE;
  }
  return TRUE;
}

gchar *
diode_link_text_encode (const guint8 * payload, gsize payload_len,
    const guint8 sig[DIODE_LINK_SIG_SIZE])
{
  GString *s = g_string_sized_new (DIODE_LINK_MAX_TEXT);

  g_string_append (s, PREFIX);
  b64_encode (s, payload, payload_len);
  g_string_append_c (s, '.');
  b64_encode (s, sig, DIODE_LINK_SIG_SIZE);
  return g_string_free (s, FALSE);
}

/* ---- payloads ----------------------------------------------------------- */

typedef struct {
  const guint8 *p;
  gsize left;
  gboolean short_read;
} Reader;

static const guint8 *
take (Reader * rd, gsize n)
{
  const guint8 *p = rd->p;

  if (rd->short_read || rd->left < n) {
    rd->short_read = TRUE;
    return NULL;
  }
  rd->p += n;
  rd->left -= n;
  return p;
}

static guint8
take_u8 (Reader * rd)
{
  const guint8 *p = take (rd, 1);

  return p ? p[0] : 0;
}

static guint64
take_u64 (Reader * rd)
{
  const guint8 *p = take (rd, 8);
  guint64 v = 0;
  guint i;

  for (i = 0; p && i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

static void
take_bytes (Reader * rd, guint8 * out, gsize n)
{
  const guint8 *p = take (rd, n);

  if (p)
    memcpy (out, p, n);
}

/* u8 length + UTF-8: a valid stream name (diode_msg_check_stream_name). */
static void
take_name (Reader * rd, gchar out[DIODE_LINK_MAX_NAME + 1])
{
  guint8 n = take_u8 (rd);
  const guint8 *p = take (rd, n);

  out[0] = '\0';
  if (!p)
    return;
  memcpy (out, p, n);
  out[n] = '\0';
}

static gboolean
reader_done (Reader * rd, GError ** error)
{
  if (rd->short_read) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_TRUNCATED,
        "the payload ends inside a field");
    return FALSE;
  }
  if (rd->left) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_TRAILING,
        "%" G_GSIZE_FORMAT " bytes after the last field", rd->left);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_name (const gchar * name, gsize declared, GError ** error)
{
  /* a NUL inside the name would make the bytes signed differ from the
   * name compared */
  if (strlen (name) != declared || !diode_msg_check_stream_name (name, NULL)) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
        "the stream name is not a valid stream name");
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_token (const DiodeLinkToken * t, gsize name_len, GError ** error)
{
  if (!t->scope || (t->scope & ~DIODE_LINK_SCOPE_ALL)) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
        "unknown scope 0x%02x", t->scope);
    return FALSE;
  }
  if (t->issued > DIODE_LINK_MAX_TIME || t->expires > DIODE_LINK_MAX_TIME
      || t->expires <= t->issued
      || t->expires - t->issued > (guint64) DIODE_LINK_MAX_LIFETIME) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
        "its times are out of range (issued %" G_GUINT64_FORMAT ", expires %"
        G_GUINT64_FORMAT "; a link lives at most 366 days)", t->issued,
        t->expires);
    return FALSE;
  }
  return check_name (t->stream, name_len, error);
}

static void
put_u64 (guint8 * p, guint64 v)
{
  guint i;

  for (i = 0; i < 8; i++)
    p[i] = (v >> (56 - 8 * i)) & 0xff;
}

static gsize
put_name (guint8 * p, const gchar * name)
{
  gsize n = strlen (name);

  p[0] = (guint8) n;
  memcpy (p + 1, name, n);
  return 1 + n;
}

gsize
diode_link_token_serialize (const DiodeLinkToken * t, guint8 * out,
    GError ** error)
{
  gsize o = 0, name_len = strnlen (t->stream, DIODE_LINK_MAX_NAME + 1);

  if (name_len > DIODE_LINK_MAX_NAME || !check_token (t, name_len, error)) {
    if (error && !*error)
      g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
          "the stream name is too long");
    return 0;
  }
  out[o++] = DIODE_LINK_VERSION;
  out[o++] = t->scope;
  memcpy (out + o, t->id, DIODE_LINK_ID_SIZE);
  o += DIODE_LINK_ID_SIZE;
  put_u64 (out + o, t->issued);
  o += 8;
  put_u64 (out + o, t->expires);
  o += 8;
  memcpy (out + o, t->owner, DIODE_LINK_KEY_SIZE);
  o += DIODE_LINK_KEY_SIZE;
  o += put_name (out + o, t->stream);
  return o;
}

static gboolean
check_version (Reader * rd, GError ** error)
{
  guint8 v = take_u8 (rd);

  if (rd->short_read) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_TRUNCATED,
        "empty payload");
    return FALSE;
  }
  if (v != DIODE_LINK_VERSION) {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_VERSION,
        "version %u (this relay reads version %d)", v, DIODE_LINK_VERSION);
    return FALSE;
  }
  return TRUE;
}

gboolean
diode_link_token_parse (const guint8 * payload, gsize len,
    DiodeLinkToken * t, GError ** error)
{
  Reader rd = { payload, len, FALSE };
  gsize name_len;

  memset (t, 0, sizeof (*t));
  if (!check_version (&rd, error))
    return FALSE;
  t->scope = take_u8 (&rd);
  take_bytes (&rd, t->id, DIODE_LINK_ID_SIZE);
  t->issued = take_u64 (&rd);
  t->expires = take_u64 (&rd);
  take_bytes (&rd, t->owner, DIODE_LINK_KEY_SIZE);
  name_len = rd.left ? rd.p[0] : 0;
  take_name (&rd, t->stream);
  if (!reader_done (&rd, error) || !check_token (t, name_len, error)) {
    memset (t, 0, sizeof (*t));
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_revocation (const DiodeLinkRevocation * rv, gsize name_len,
    GError ** error)
{
  if (rv->kind == DIODE_LINK_REVOKE_ONE) {
    /* issued 0 is refused like before 0 below: every time a relay keeps
     * must read back from its revocation list, which takes times >= 1 (a
     * 0 accepted here once made the list unreadable at the next start,
     * and an unreadable list refuses every link: attack finding 1) */
    if (rv->issued > DIODE_LINK_MAX_TIME || rv->expires > DIODE_LINK_MAX_TIME
        || rv->expires == 0 || rv->issued == 0) {
      g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
          "the revoked link's times are out of range");
      return FALSE;
    }
  } else if (rv->kind == DIODE_LINK_REVOKE_ALL) {
    if (rv->before > DIODE_LINK_MAX_TIME || rv->before == 0) {
      g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
          "the revocation's time is out of range");
      return FALSE;
    }
  } else {
    g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
        "unknown revocation kind %u", rv->kind);
    return FALSE;
  }
  return check_name (rv->stream, name_len, error);
}

gsize
diode_link_revocation_serialize (const DiodeLinkRevocation * rv,
    guint8 * out, GError ** error)
{
  gsize o = 0, name_len = strnlen (rv->stream, DIODE_LINK_MAX_NAME + 1);

  if (name_len > DIODE_LINK_MAX_NAME || !check_revocation (rv, name_len,
          error)) {
    if (error && !*error)
      g_set_error (error, DIODE_LINK_ERROR, DIODE_LINK_ERROR_BAD_FIELD,
          "the stream name is too long");
    return 0;
  }
  out[o++] = DIODE_LINK_VERSION;
  out[o++] = rv->kind;
  memcpy (out + o, rv->owner, DIODE_LINK_KEY_SIZE);
  o += DIODE_LINK_KEY_SIZE;
  o += put_name (out + o, rv->stream);
  if (rv->kind == DIODE_LINK_REVOKE_ONE) {
    memcpy (out + o, rv->id, DIODE_LINK_ID_SIZE);
    o += DIODE_LINK_ID_SIZE;
    put_u64 (out + o, rv->issued);
    o += 8;
    put_u64 (out + o, rv->expires);
    o += 8;
  } else {
    put_u64 (out + o, rv->before);
    o += 8;
  }
  return o;
}

gboolean
diode_link_revocation_parse (const guint8 * payload, gsize len,
    DiodeLinkRevocation * rv, GError ** error)
{
  Reader rd = { payload, len, FALSE };
  gsize name_len;

  memset (rv, 0, sizeof (*rv));
  if (!check_version (&rd, error))
    return FALSE;
  rv->kind = take_u8 (&rd);
  take_bytes (&rd, rv->owner, DIODE_LINK_KEY_SIZE);
  name_len = rd.left ? rd.p[0] : 0;
  take_name (&rd, rv->stream);
  if (rv->kind == DIODE_LINK_REVOKE_ONE) {
    take_bytes (&rd, rv->id, DIODE_LINK_ID_SIZE);
    rv->issued = take_u64 (&rd);
    rv->expires = take_u64 (&rd);
  } else if (rv->kind == DIODE_LINK_REVOKE_ALL) {
    rv->before = take_u64 (&rd);
  }
  if ((rv->kind == DIODE_LINK_REVOKE_ONE || rv->kind == DIODE_LINK_REVOKE_ALL)
      && !reader_done (&rd, error)) {
    memset (rv, 0, sizeof (*rv));
    return FALSE;
  }
  if (!check_revocation (rv, name_len, error)) {
    memset (rv, 0, sizeof (*rv));
    return FALSE;
  }
  return TRUE;
}

GBytes *
diode_link_signed_bytes (const gchar * context, const guint8 * payload,
    gsize len)
{
  gsize clen = strlen (context) + 1;
  guint8 *b = g_malloc (clen + len);

  memcpy (b, context, clen);
  memcpy (b + clen, payload, len);
  return g_bytes_new_take (b, clen + len);
}

void
diode_link_id_to_hex (const guint8 id[DIODE_LINK_ID_SIZE],
    gchar out[2 * DIODE_LINK_ID_SIZE + 1])
{
  static const gchar hex[] = "0123456789abcdef";
  guint i;

  for (i = 0; i < DIODE_LINK_ID_SIZE; i++) {
    out[2 * i] = hex[id[i] >> 4];
    out[2 * i + 1] = hex[id[i] & 15];
  }
  out[2 * DIODE_LINK_ID_SIZE] = '\0';
}

gboolean
diode_link_id_from_hex (const gchar * hex, guint8 id[DIODE_LINK_ID_SIZE])
{
  guint i;

  if (!hex || strlen (hex) != 2 * DIODE_LINK_ID_SIZE)
    return FALSE;
  for (i = 0; i < 2 * DIODE_LINK_ID_SIZE; i++)
    if (!g_ascii_isxdigit (hex[i]))
      return FALSE;
  for (i = 0; i < DIODE_LINK_ID_SIZE; i++)
    id[i] = (g_ascii_xdigit_value (hex[2 * i]) << 4) |
        g_ascii_xdigit_value (hex[2 * i + 1]);
  return TRUE;
}
