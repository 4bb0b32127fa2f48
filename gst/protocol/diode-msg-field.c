/* gst-diode — wire messages: the field writers and readers (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The Writer that builds a frame and the Reader that takes a payload
 * apart, field by field, shared by the codec of every version
 * (diode-msg.c, diode-msg-link.c, diode-msg-store.c; declared in
 * diode-msg-private.h), with the field checks they need (stream names).
 * Kept apart from the messages so that the message files read as their
 * layouts in docs/protocol.md. Every reader checks the bytes present
 * before it reads, and its limit before it allocates.
 */
#include "diode-msg.h"
#include "diode-msg-private.h"

#include <stdarg.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Stream names                                                             */

static gboolean
check_stream_name_len (const gchar * name, gsize len, GError ** error)
{
  const gchar *p, *end;

  if (len == 0) {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name is empty");
    return FALSE;
  }
  if (len > DIODE_MAX_STREAM_NAME) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name is %" G_GSIZE_FORMAT " bytes, limit is %d", len,
        DIODE_MAX_STREAM_NAME);
    return FALSE;
  }
  /* g_utf8_validate() with an explicit length also refuses embedded NULs,
   * which would otherwise silently shorten the name once it is a C string. */
  if (!g_utf8_validate (name, len, NULL)) {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name is not valid UTF-8");
    return FALSE;
  }
  end = name + len;
  for (p = name; p < end; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    /* Names end up in URIs (diode://relay/name), log lines and file names
     * of the chunk store: no separators, no terminal control sequences. */
    if (c == '/') {
      g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
          "stream name contains '/'");
      return FALSE;
    }
    if (g_unichar_iscntrl (c)) {
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
          "stream name contains control character U+%04X", c);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
diode_msg_check_stream_name (const gchar * name, GError ** error)
{
  if (name == NULL) {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name is missing");
    return FALSE;
  }
  return check_stream_name_len (name, strlen (name), error);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */

void
msg_writer_init (Writer * w, DiodeMsgType type, gsize reserve)
{
  static const guint8 header[DIODE_FRAME_HEADER_SIZE] = { 0, };

  w->a = g_byte_array_sized_new (DIODE_FRAME_HEADER_SIZE + reserve);
  g_byte_array_append (w->a, header, sizeof (header));
  w->a->data[0] = type;
}

void
msg_put_u8 (Writer * w, guint8 v)
{
  g_byte_array_append (w->a, &v, 1);
}

void
msg_put_u16 (Writer * w, guint16 v)
{
  guint8 b[2];

  b[0] = v >> 8;
  b[1] = v;
  g_byte_array_append (w->a, b, 2);
}

void
msg_put_u32 (Writer * w, guint32 v)
{
  guint32 be = GUINT32_TO_BE (v);

  g_byte_array_append (w->a, (const guint8 *) &be, 4);
}

void
msg_put_u64 (Writer * w, guint64 v)
{
  guint64 be = GUINT64_TO_BE (v);

  g_byte_array_append (w->a, (const guint8 *) &be, 8);
}

/* Callers have checked that @s fits a u16 length. */
void
msg_put_str16 (Writer * w, const gchar * s)
{
  gsize len = strlen (s);

  g_assert (len <= G_MAXUINT16);
  msg_put_u16 (w, len);
  g_byte_array_append (w->a, (const guint8 *) s, len);
}

GBytes *
msg_writer_finish (Writer * w)
{
  guint32 be = GUINT32_TO_BE (w->a->len - DIODE_FRAME_HEADER_SIZE);

  memcpy (w->a->data + 4, &be, 4);
  return g_byte_array_free_to_bytes (w->a);
}

/* The 20 raw bytes of @address, which must be valid. */
void
msg_put_address (Writer * w, const gchar * address)
{
  guint8 b[DIODE_ADDRESS_BYTES];
  guint k;

  for (k = 0; k < DIODE_ADDRESS_BYTES; k++)
    b[k] = (g_ascii_xdigit_value (address[2 + 2 * k]) << 4) |
        g_ascii_xdigit_value (address[3 + 2 * k]);
  g_byte_array_append (w->a, b, sizeof (b));
}

/* access u8, fleet str16, count u16, count x 20-byte addresses */
gboolean
msg_put_policy (Writer * w, DiodeAccess access, const gchar * fleet,
    const gchar * const *allow)
{
  guint n = allow ? g_strv_length ((gchar **) allow) : 0, i;

  if (access > DIODE_ACCESS_PRIVATE || n > DIODE_MAX_ALLOW)
    return FALSE;
  if (fleet && *fleet && !diode_msg_check_stream_name (fleet, NULL))
    return FALSE;
  for (i = 0; i < n; i++)
    if (!diode_msg_address_is_valid (allow[i]))
      return FALSE;
  msg_put_u8 (w, access);
  msg_put_str16 (w, fleet ? fleet : "");
  msg_put_u16 (w, n);
  for (i = 0; i < n; i++)
    msg_put_address (w, allow[i]);
  return TRUE;
}

/* The optional publisher field appended to SUBSCRIBE and SUBSCRIBE_OK:
 * u8 length (0 or 20), then the address's 20 raw bytes. A length byte
 * rather than bare bytes, so that fields appended after it by a later
 * version stay parseable when there is no address. */
void
msg_put_publisher (Writer * w, const gchar * address)
{
  msg_put_u8 (w, DIODE_ADDRESS_BYTES);
  msg_put_address (w, address);
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */

gboolean
msg_need (Reader * r, gsize n, const gchar * field, GError ** error)
{
  if (r->len - r->pos >= n)
    return TRUE;
  g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
      "truncated %s: field '%s' needs %" G_GSIZE_FORMAT " bytes at offset %"
      G_GSIZE_FORMAT ", payload has %" G_GSIZE_FORMAT,
      diode_msg_type_name (r->type), field, n, r->pos, r->len);
  return FALSE;
}

gboolean
msg_bad (Reader * r, GError ** error, const gchar * format, ...)
{
  va_list args;
  gchar *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL, "%s: %s",
      diode_msg_type_name (r->type), text);
  g_free (text);
  return FALSE;
}

gboolean
msg_get_u8 (Reader * r, guint8 * v, const gchar * field, GError ** error)
{
  if (!msg_need (r, 1, field, error))
    return FALSE;
  *v = r->p[r->pos];
  r->pos += 1;
  return TRUE;
}

gboolean
msg_get_u16 (Reader * r, guint16 * v, const gchar * field, GError ** error)
{
  if (!msg_need (r, 2, field, error))
    return FALSE;
  *v = ((guint16) r->p[r->pos] << 8) | r->p[r->pos + 1];
  r->pos += 2;
  return TRUE;
}

gboolean
msg_get_u32 (Reader * r, guint32 * v, const gchar * field, GError ** error)
{
  guint32 be;

  if (!msg_need (r, 4, field, error))
    return FALSE;
  memcpy (&be, r->p + r->pos, 4);
  *v = GUINT32_FROM_BE (be);
  r->pos += 4;
  return TRUE;
}

gboolean
msg_get_u64 (Reader * r, guint64 * v, const gchar * field, GError ** error)
{
  guint64 be;

  if (!msg_need (r, 8, field, error))
    return FALSE;
  memcpy (&be, r->p + r->pos, 8);
  *v = GUINT64_FROM_BE (be);
  r->pos += 8;
  return TRUE;
}

/* Reads @len bytes of text as a new C string: must be valid UTF-8 without
 * NULs. The length was already checked against its limit. */
gboolean
msg_get_text_bytes (Reader * r, gsize len, gchar ** out, const gchar * field,
    GError ** error)
{
  const gchar *s;

  if (!msg_need (r, len, field, error))
    return FALSE;
  s = (const gchar *) r->p + r->pos;
  if (!g_utf8_validate (s, len, NULL)) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "%s: field '%s' is not valid UTF-8", diode_msg_type_name (r->type),
        field);
    return FALSE;
  }
  *out = g_strndup (s, len);
  r->pos += len;
  return TRUE;
}

gboolean
msg_get_text (Reader * r, gchar ** out, const gchar * field, GError ** error)
{
  guint16 len;

  if (!msg_get_u16 (r, &len, field, error))
    return FALSE;
  if (len > DIODE_MAX_TEXT) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "%s: field '%s' is %u bytes, limit is %d",
        diode_msg_type_name (r->type), field, len, DIODE_MAX_TEXT);
    return FALSE;
  }
  return msg_get_text_bytes (r, len, out, field, error);
}

gboolean
msg_get_stream (Reader * r, gchar ** out, GError ** error)
{
  guint16 len;
  GError *err = NULL;

  if (!msg_get_u16 (r, &len, "stream", error))
    return FALSE;
  if (!msg_need (r, len, "stream", error))
    return FALSE;
  if (!check_stream_name_len ((const gchar *) r->p + r->pos, len, &err)) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, err->code, "%s: %s",
        diode_msg_type_name (r->type), err->message);
    g_error_free (err);
    return FALSE;
  }
  *out = g_strndup ((const gchar *) r->p + r->pos, len);
  r->pos += len;
  return TRUE;
}

/* "0x" + 40 lower-case hex digits for the 20 bytes at @b */
gchar *
msg_address_from_bytes (const guint8 * b)
{
  gchar *a = g_malloc (3 + DIODE_ADDRESS_BYTES * 2);
  guint k;

  a[0] = '0';
  a[1] = 'x';
  for (k = 0; k < DIODE_ADDRESS_BYTES; k++)
    g_snprintf (a + 2 + 2 * k, 3, "%02x", b[k]);
  return a;
}

gboolean
msg_get_policy (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint16 n, i;

  if (!msg_get_u8 (r, &msg->access, "access", error))
    return FALSE;
  if (msg->access > DIODE_ACCESS_PRIVATE) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "%s: unknown access mode %u", diode_msg_type_name (r->type),
        msg->access);
    return FALSE;
  }
  if (!msg_get_text (r, &msg->fleet, "fleet", error))
    return FALSE;
  if (*msg->fleet && !diode_msg_check_stream_name (msg->fleet, NULL)) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "%s: invalid fleet name", diode_msg_type_name (r->type));
    return FALSE;
  }
  if (!msg_get_u16 (r, &n, "allow count", error))
    return FALSE;
  if (n > DIODE_MAX_ALLOW) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "%s: allowlist of %u addresses, limit is %d",
        diode_msg_type_name (r->type), n, DIODE_MAX_ALLOW);
    return FALSE;
  }
  if (!msg_need (r, (gsize) n * DIODE_ADDRESS_BYTES, "allow", error))
    return FALSE;
  g_strfreev (msg->allow);
  msg->allow = g_new0 (gchar *, n + 1);
  for (i = 0; i < n; i++) {
    msg->allow[i] = msg_address_from_bytes (r->p + r->pos);
    r->pos += DIODE_ADDRESS_BYTES;
  }
  return TRUE;
}

/* The optional publisher field (see msg_put_publisher()): absent, or length 0,
 * leaves *out NULL. */
gboolean
msg_get_publisher (Reader * r, gchar ** out, GError ** error)
{
  guint8 n;

  if (r->pos == r->len)
    return TRUE;
  if (!msg_get_u8 (r, &n, "publisher", error))
    return FALSE;
  if (n == 0)
    return TRUE;
  if (n != DIODE_ADDRESS_BYTES) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "%s: publisher address of %u bytes (0 or %d)",
        diode_msg_type_name (r->type), n, DIODE_ADDRESS_BYTES);
    return FALSE;
  }
  if (!msg_need (r, DIODE_ADDRESS_BYTES, "publisher", error))
    return FALSE;
  *out = msg_address_from_bytes (r->p + r->pos);
  r->pos += DIODE_ADDRESS_BYTES;
  return TRUE;
}
