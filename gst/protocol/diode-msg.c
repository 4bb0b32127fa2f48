/* gst-diode — wire messages: frame layout and message codec (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Payload layouts are documented in docs/protocol.md; this file is their
 * reference implementation. The decoder trusts nothing: every length is
 * checked against both the bytes present and its limit before anything is
 * allocated, and every string is validated before it becomes a C string.
 * This file: names and limits, the header check and the version-1
 * messages; the field writers and readers they are built from are in
 * diode-msg-field.c, versions 2 and 3 in diode-msg-link.c and
 * diode-msg-store.c, version 4 in diode-msg-direct.c.
 */
#include "diode-msg.h"
#include "diode-msg-private.h"

#include <string.h>

G_DEFINE_QUARK (diode-protocol-error-quark, diode_protocol_error);

/* ------------------------------------------------------------------------ */
/* Names and limits                                                         */

const gchar *
diode_msg_type_name (guint type)
{
  switch (type) {
    case DIODE_MSG_HELLO:
      return "HELLO";
    case DIODE_MSG_WELCOME:
      return "WELCOME";
    case DIODE_MSG_PUBLISH:
      return "PUBLISH";
    case DIODE_MSG_PUBLISH_OK:
      return "PUBLISH_OK";
    case DIODE_MSG_SUBSCRIBE:
      return "SUBSCRIBE";
    case DIODE_MSG_SUBSCRIBE_OK:
      return "SUBSCRIBE_OK";
    case DIODE_MSG_POLICY:
      return "POLICY";
    case DIODE_MSG_CAPS:
      return "CAPS";
    case DIODE_MSG_MEDIA:
      return "MEDIA";
    case DIODE_MSG_EOS:
      return "EOS";
    case DIODE_MSG_PING:
      return "PING";
    case DIODE_MSG_PONG:
      return "PONG";
    case DIODE_MSG_LINK:
      return "LINK";
    case DIODE_MSG_LINK_OK:
      return "LINK_OK";
    case DIODE_MSG_ANNOUNCE:
      return "ANNOUNCE";
    case DIODE_MSG_PULL:
      return "PULL";
    case DIODE_MSG_RANGE:
      return "RANGE";
    case DIODE_MSG_RANGE_OK:
      return "RANGE_OK";
    case DIODE_MSG_FETCH:
      return "FETCH";
    case DIODE_MSG_CHUNK:
      return "CHUNK";
    case DIODE_MSG_FETCH_END:
      return "FETCH_END";
    case DIODE_MSG_STORED:
      return "STORED";
    case DIODE_MSG_SIGNAL:
      return "SIGNAL";
    case DIODE_MSG_PATH:
      return "PATH";
    case DIODE_MSG_LIST:
      return "LIST";
    case DIODE_MSG_LISTING:
      return "LISTING";
    case DIODE_MSG_ERROR:
      return "ERROR";
    default:
      return "UNKNOWN";
  }
}

const gchar *
diode_error_code_name (guint code)
{
  switch (code) {
    case DIODE_ERR_NOT_FOUND:
      return "NOT_FOUND";
    case DIODE_ERR_NAME_IN_USE:
      return "NAME_IN_USE";
    case DIODE_ERR_NOT_AUTHORIZED:
      return "NOT_AUTHORIZED";
    case DIODE_ERR_BAD_NAME:
      return "BAD_NAME";
    case DIODE_ERR_LOOP:
      return "LOOP";
    case DIODE_ERR_NOT_STORED:
      return "NOT_STORED";
    case DIODE_ERR_STORE_FAILED:
      return "STORE_FAILED";
    case DIODE_ERR_RATE_LIMITED:
      return "RATE_LIMITED";
    case DIODE_ERR_PROTOCOL:
      return "PROTOCOL";
    case DIODE_ERR_VERSION:
      return "VERSION";
    case DIODE_ERR_TOO_LARGE:
      return "TOO_LARGE";
    case DIODE_ERR_TIMEOUT:
      return "TIMEOUT";
    case DIODE_ERR_SLOW_VIEWER:
      return "SLOW_VIEWER";
    case DIODE_ERR_SHUTDOWN:
      return "SHUTDOWN";
    case DIODE_ERR_INTERNAL:
      return "INTERNAL";
    default:
      return "UNKNOWN";
  }
}

gboolean
diode_error_code_is_fatal (guint code)
{
  /* Unknown codes of 200 and above are fatal too: a peer that does not know
   * a newer code must still close when the sender will. */
  return code >= 200;
}

gsize
diode_msg_max_payload (guint type)
{
  switch (type) {
    case DIODE_MSG_MEDIA:
      return DIODE_MAX_MEDIA_PAYLOAD;
    case DIODE_MSG_CAPS:
      return DIODE_MAX_CAPS_PAYLOAD;
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_POLICY:
      return DIODE_MAX_POLICY_PAYLOAD;
    case DIODE_MSG_HELLO:
    case DIODE_MSG_WELCOME:
    case DIODE_MSG_ERROR:
      return DIODE_MAX_TEXT_PAYLOAD;
    case DIODE_MSG_PUBLISH_OK:
    case DIODE_MSG_SUBSCRIBE:
    case DIODE_MSG_SUBSCRIBE_OK:
    case DIODE_MSG_EOS:
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      return DIODE_MAX_SMALL_PAYLOAD;
    default:
      return 0;
  }
}

gboolean
diode_msg_is_link_dialect (guint16 version, DiodeRole role)
{
  return role == DIODE_ROLE_RELAY && version >= DIODE_PROTOCOL_VERSION_LINK;
}

gsize
diode_msg_max_payload_v (guint type, guint16 version, DiodeRole role)
{
  if (diode_msg_is_link_dialect (version, role)) {
    gsize limit = msg_link_max_payload (type);

    if (limit)
      return limit;
  }
  if (version >= DIODE_PROTOCOL_VERSION_STORE) {
    gsize limit = msg_store_max_payload (type);

    if (limit)
      return limit;
  }
  /* direct paths are between publishers and viewers, never relay links */
  if (version >= DIODE_PROTOCOL_VERSION_DIRECT && role != DIODE_ROLE_RELAY) {
    gsize limit = msg_direct_max_payload (type);

    if (!limit)
      limit = msg_list_max_payload (type);
    if (limit)
      return limit;
  }
  return diode_msg_max_payload (type);
}

void
diode_msg_clear (DiodeMsg * msg)
{
  if (msg == NULL)
    return;

  g_free (msg->agent);
  g_free (msg->stream);
  g_free (msg->caps);
  g_free (msg->error_text);
  g_free (msg->fleet);
  g_free (msg->publisher);
  g_strfreev (msg->allow);
  g_free (msg->owner);
  g_strfreev (msg->path);
  g_free (msg->spans);
  g_free (msg->peer);
  g_free (msg->signal_data);
  if (msg->entries) {
    guint i;

    for (i = 0; i < msg->n_entries; i++)
      diode_list_entry_clear (&msg->entries[i]);
    g_free (msg->entries);
  }
  if (msg->payload)
    g_bytes_unref (msg->payload);
  if (msg->frame)
    g_bytes_unref (msg->frame);
  memset (msg, 0, sizeof (*msg));
}

/* ------------------------------------------------------------------------ */
/* Validation shared by encoder and decoder                                 */

gboolean
diode_msg_check_header (const guint8 header[DIODE_FRAME_HEADER_SIZE],
    gsize * payload_len, GError ** error)
{
  return diode_msg_check_header_v (header, 1, 0, payload_len, error);
}

gboolean
diode_msg_check_header_v (const guint8 header[DIODE_FRAME_HEADER_SIZE],
    guint16 version, DiodeRole role, gsize * payload_len, GError ** error)
{
  guint type = header[0];
  gsize limit = diode_msg_max_payload_v (type, version, role);
  guint32 len;

  /* memcpy: the header may sit at any alignment inside a receive buffer */
  memcpy (&len, header + 4, 4);
  len = GUINT32_FROM_BE (len);

  if (limit == 0) {
    /* Say so precisely for a relay-link frame on another connection: a
     * peer that sends one has probably not negotiated what it thinks. */
    if (msg_link_max_payload (type))
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
          "frame type %s (0x%02x) exists only on relay links (role RELAY, "
          "protocol version %d or later)", diode_msg_type_name (type), type,
          DIODE_PROTOCOL_VERSION_LINK);
    else if (msg_store_max_payload (type))
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
          "frame type %s (0x%02x) exists only at protocol version %d or "
          "later", diode_msg_type_name (type), type,
          DIODE_PROTOCOL_VERSION_STORE);
    else if (msg_direct_max_payload (type) || msg_list_max_payload (type))
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
          "frame type %s (0x%02x) exists only at protocol version %d or "
          "later, roles PUBLISHER and VIEWER", diode_msg_type_name (type),
          type, DIODE_PROTOCOL_VERSION_DIRECT);
    else
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
          "unknown frame type 0x%02x", type);
    return FALSE;
  }
  if (header[1] != 0) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "frame of type %s has flags 0x%02x, version 1 requires 0",
        diode_msg_type_name (type), header[1]);
    return FALSE;
  }
  if (header[2] != 0 || header[3] != 0) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "frame of type %s has reserved bytes 0x%02x%02x, must be 0",
        diode_msg_type_name (type), header[2], header[3]);
    return FALSE;
  }
  if (len > limit) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "frame of type %s announces %u bytes, limit is %" G_GSIZE_FORMAT,
        diode_msg_type_name (type), len, limit);
    return FALSE;
  }
  if (payload_len)
    *payload_len = len;
  return TRUE;
}

/* Text fields (agent, error text) are informational: rather than refuse to
 * report an error because its text is odd, repair it. Returns a new string of
 * valid UTF-8 of at most DIODE_MAX_TEXT bytes. */
static gchar *
sanitize_text (const gchar * text)
{
  gchar *s;
  gsize len;

  if (text == NULL)
    return g_strdup ("");

  if (g_utf8_validate (text, -1, NULL))
    s = g_strdup (text);
  else
    s = g_utf8_make_valid (text, -1);

  len = strlen (s);
  if (len > DIODE_MAX_TEXT) {
    len = DIODE_MAX_TEXT;
    /* back up over continuation bytes so no character is cut in half */
    while (len > 0 && ((guchar) s[len] & 0xc0) == 0x80)
      len--;
    s[len] = '\0';
  }
  return s;
}

/* ------------------------------------------------------------------------ */
/* Encoder                                                                  */

GBytes *
diode_msg_encode_hello (guint16 vmin, guint16 vmax, DiodeRole role,
    const gchar * agent)
{
  Writer w;
  gchar *a = sanitize_text (agent);

  msg_writer_init (&w, DIODE_MSG_HELLO, 5 + 2 + strlen (a));
  msg_put_u16 (&w, vmin);
  msg_put_u16 (&w, vmax);
  msg_put_u8 (&w, role);
  msg_put_str16 (&w, a);
  g_free (a);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_welcome (guint16 version, guint32 keepalive_ms,
    const gchar * agent)
{
  Writer w;
  gchar *a = sanitize_text (agent);

  msg_writer_init (&w, DIODE_MSG_WELCOME, 6 + 2 + strlen (a));
  msg_put_u16 (&w, version);
  msg_put_u32 (&w, keepalive_ms);
  msg_put_str16 (&w, a);
  g_free (a);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_publish (const gchar * stream)
{
  return diode_msg_encode_publish_policy (stream, DIODE_ACCESS_PUBLIC, NULL,
      NULL);
}

gboolean
diode_msg_address_is_valid (const gchar * a)
{
  guint i;

  if (a == NULL || a[0] != '0' || (a[1] != 'x' && a[1] != 'X'))
    return FALSE;
  for (i = 0; i < DIODE_ADDRESS_BYTES * 2; i++)
    if (!g_ascii_isxdigit (a[2 + i]))
      return FALSE;
  return a[2 + DIODE_ADDRESS_BYTES * 2] == '\0';
}

const gchar *
diode_access_name (guint access)
{
  switch (access) {
    case DIODE_ACCESS_PUBLIC:
      return "public";
    case DIODE_ACCESS_PROTECTED:
      return "protected";
    case DIODE_ACCESS_PRIVATE:
      return "private";
    default:
      return "unknown";
  }
}

GBytes *
diode_msg_encode_publish_policy (const gchar * stream, DiodeAccess access,
    const gchar * fleet, const gchar * const *allow)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PUBLISH, 2 + strlen (stream) + 64);
  msg_put_str16 (&w, stream);
  if (!msg_put_policy (&w, access, fleet, allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_policy (DiodeAccess access, const gchar * fleet,
    const gchar * const *allow)
{
  Writer w;

  msg_writer_init (&w, DIODE_MSG_POLICY, 64);
  if (!msg_put_policy (&w, access, fleet, allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_publish_ok (const gchar * stream, guint64 next_seq)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PUBLISH_OK, 2 + strlen (stream) + 8);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, next_seq);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_pinned (const gchar * stream, guint64 start_seq,
    guint32 wait_ms, const gchar * publisher)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  if (publisher && !diode_msg_address_is_valid (publisher))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE, 2 + strlen (stream) + 12 + 21);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, start_seq);
  msg_put_u32 (&w, wait_ms);
  /* without a pin the frame stays what version 1 always sent */
  if (publisher)
    msg_put_publisher (&w, publisher);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe (const gchar * stream, guint64 start_seq,
    guint32 wait_ms)
{
  return diode_msg_encode_subscribe_pinned (stream, start_seq, wait_ms, NULL);
}

GBytes *
diode_msg_encode_subscribe_ok_from (const gchar * stream, guint64 first_seq,
    const gchar * publisher)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  if (publisher && !diode_msg_address_is_valid (publisher))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE_OK, 2 + strlen (stream) + 8 + 21);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, first_seq);
  if (publisher)
    msg_put_publisher (&w, publisher);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_ok (const gchar * stream, guint64 first_seq)
{
  return diode_msg_encode_subscribe_ok_from (stream, first_seq, NULL);
}

GBytes *
diode_msg_encode_caps (const gchar * caps)
{
  Writer w;
  gsize len;

  if (caps == NULL)
    return NULL;
  len = strlen (caps);
  if (len > DIODE_MAX_CAPS_PAYLOAD - 4 || !g_utf8_validate (caps, len, NULL))
    return NULL;

  msg_writer_init (&w, DIODE_MSG_CAPS, 4 + len);
  msg_put_u32 (&w, len);
  g_byte_array_append (w.a, (const guint8 *) caps, len);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_eos (guint64 seq)
{
  Writer w;

  msg_writer_init (&w, DIODE_MSG_EOS, 8);
  msg_put_u64 (&w, seq);
  return msg_writer_finish (&w);
}

static GBytes *
encode_token (DiodeMsgType type, guint64 token)
{
  Writer w;

  msg_writer_init (&w, type, 8);
  msg_put_u64 (&w, token);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_ping (guint64 token)
{
  return encode_token (DIODE_MSG_PING, token);
}

GBytes *
diode_msg_encode_pong (guint64 token)
{
  return encode_token (DIODE_MSG_PONG, token);
}

GBytes *
diode_msg_encode_error (DiodeErrorCode code, const gchar * text)
{
  Writer w;
  gchar *t = sanitize_text (text);

  msg_writer_init (&w, DIODE_MSG_ERROR, 2 + 2 + strlen (t));
  msg_put_u16 (&w, code);
  msg_put_str16 (&w, t);
  g_free (t);
  return msg_writer_finish (&w);
}

static inline void
write_be64 (guint8 * p, guint64 v)
{
  guint64 be = GUINT64_TO_BE (v);

  memcpy (p, &be, 8);
}

static inline void
write_be32 (guint8 * p, guint32 v)
{
  guint32 be = GUINT32_TO_BE (v);

  memcpy (p, &be, 4);
}

gboolean
diode_msg_write_media_prefix (guint8 out[DIODE_MEDIA_PREFIX_SIZE],
    guint64 seq, guint64 pts, guint64 dts, guint64 duration, guint64 offset,
    guint64 offset_end, guint32 flags, gsize payload_len)
{
  /* The limit covers the whole frame payload, fixed fields included. */
  if (payload_len > DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE)
    return FALSE;

  out[0] = DIODE_MSG_MEDIA;
  out[1] = out[2] = out[3] = 0;
  write_be32 (out + 4, DIODE_MEDIA_FIELDS_SIZE + payload_len);
  write_be64 (out + 8, seq);
  write_be64 (out + 16, pts);
  write_be64 (out + 24, dts);
  write_be64 (out + 32, duration);
  write_be64 (out + 40, offset);
  write_be64 (out + 48, offset_end);
  write_be32 (out + 56, flags);
  return TRUE;
}

GBytes *
diode_msg_encode_media (guint64 seq, guint64 pts, guint64 dts,
    guint64 duration, guint64 offset, guint64 offset_end, guint32 flags,
    const guint8 * data, gsize len)
{
  guint8 *frame;

  if (len > 0 && data == NULL)
    return NULL;
  if (len > DIODE_MAX_MEDIA_PAYLOAD - DIODE_MEDIA_FIELDS_SIZE)
    return NULL;

  frame = g_malloc (DIODE_MEDIA_PREFIX_SIZE + len);
  diode_msg_write_media_prefix (frame, seq, pts, dts, duration, offset,
      offset_end, flags, len);
  if (len > 0)
    memcpy (frame + DIODE_MEDIA_PREFIX_SIZE, data, len);
  return g_bytes_new_take (frame, DIODE_MEDIA_PREFIX_SIZE + len);
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */

static gboolean
parse_payload (Reader * r, GBytes * frame, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_LINK:
    case DIODE_MSG_LINK_OK:
    case DIODE_MSG_ANNOUNCE:
    case DIODE_MSG_PULL:
      /* only reached in the relay-link dialect: check_header_v() refused
       * them elsewhere */
      return msg_link_parse_payload (r, msg, error);
    case DIODE_MSG_RANGE:
    case DIODE_MSG_RANGE_OK:
    case DIODE_MSG_FETCH:
    case DIODE_MSG_CHUNK:
    case DIODE_MSG_FETCH_END:
    case DIODE_MSG_STORED:
      /* only reached at version 3 or later, as above */
      return msg_store_parse_payload (r, msg, error);
    case DIODE_MSG_SIGNAL:
    case DIODE_MSG_PATH:
      /* only reached at version 4 or later, roles PUBLISHER and VIEWER */
      return msg_direct_parse_payload (r, msg, error);
    case DIODE_MSG_LIST:
    case DIODE_MSG_LISTING:
      /* the same (docs/protocol.md section 19) */
      return msg_list_parse_payload (r, msg, error);
    case DIODE_MSG_HELLO:
      return msg_get_u16 (r, &msg->version_min, "version_min", error)
          && msg_get_u16 (r, &msg->version_max, "version_max", error)
          && msg_get_u8 (r, &msg->role, "role", error)
          && msg_get_text (r, &msg->agent, "agent", error);
    case DIODE_MSG_WELCOME:
      return msg_get_u16 (r, &msg->version, "version", error)
          && msg_get_u32 (r, &msg->keepalive_ms, "keepalive_ms", error)
          && msg_get_text (r, &msg->agent, "agent", error);
    case DIODE_MSG_PUBLISH:
      if (!msg_get_stream (r, &msg->stream, error))
        return FALSE;
      /* The policy is optional: a PUBLISH that ends here is public. */
      if (r->pos == r->len) {
        msg->fleet = g_strdup ("");
        msg->allow = g_new0 (gchar *, 1);
        return TRUE;
      }
      return msg_get_policy (r, msg, error);
    case DIODE_MSG_POLICY:
      return msg_get_policy (r, msg, error);
    case DIODE_MSG_PUBLISH_OK:
      return msg_get_stream (r, &msg->stream, error)
          && msg_get_u64 (r, &msg->seq, "next_seq", error);
    case DIODE_MSG_SUBSCRIBE:
      return msg_get_stream (r, &msg->stream, error)
          && msg_get_u64 (r, &msg->start_seq, "start_seq", error)
          && msg_get_u32 (r, &msg->wait_ms, "wait_ms", error)
          && msg_get_publisher (r, &msg->publisher, error);
    case DIODE_MSG_SUBSCRIBE_OK:
      /* unknown unless a v3 block says otherwise */
      msg->start_time = DIODE_TIME_NONE;
      return msg_get_stream (r, &msg->stream, error)
          && msg_get_u64 (r, &msg->seq, "first_seq", error)
          && msg_get_publisher (r, &msg->publisher, error);
    case DIODE_MSG_CAPS:{
      guint32 len;

      if (!msg_get_u32 (r, &len, "caps", error))
        return FALSE;
      /* the frame limit already bounds it; say so precisely if it lies */
      if (len > DIODE_MAX_CAPS_PAYLOAD - 4) {
        g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
            "CAPS: caps string announces %u bytes, limit is %d", len,
            DIODE_MAX_CAPS_PAYLOAD - 4);
        return FALSE;
      }
      return msg_get_text_bytes (r, len, &msg->caps, "caps", error);
    }
    case DIODE_MSG_MEDIA:
      if (!(msg_get_u64 (r, &msg->seq, "seq", error)
              && msg_get_u64 (r, &msg->pts, "pts", error)
              && msg_get_u64 (r, &msg->dts, "dts", error)
              && msg_get_u64 (r, &msg->duration, "duration", error)
              && msg_get_u64 (r, &msg->offset, "offset", error)
              && msg_get_u64 (r, &msg->offset_end, "offset_end", error)
              && msg_get_u32 (r, &msg->flags, "flags", error)))
        return FALSE;
      /* The rest of the frame is the buffer: a slice, never a copy. */
      msg->payload = g_bytes_new_from_bytes (frame,
          DIODE_FRAME_HEADER_SIZE + r->pos, r->len - r->pos);
      r->pos = r->len;
      return TRUE;
    case DIODE_MSG_EOS:
      return msg_get_u64 (r, &msg->seq, "seq", error);
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      return msg_get_u64 (r, &msg->token, "token", error);
    case DIODE_MSG_ERROR:
      return msg_get_u16 (r, &msg->error_code, "code", error)
          && msg_get_text (r, &msg->error_text, "text", error);
    default:
      /* diode_msg_check_header() refused it already */
      g_assert_not_reached ();
      return FALSE;
  }
}

gboolean
diode_msg_parse (GBytes * frame, DiodeMsg * msg, GError ** error)
{
  return diode_msg_parse_v (frame, 1, 0, msg, error);
}

gboolean
diode_msg_parse_v (GBytes * frame, guint16 version, DiodeRole role,
    DiodeMsg * msg, GError ** error)
{
  const guint8 *data;
  gsize size, len;
  Reader r;

  g_return_val_if_fail (frame != NULL, FALSE);
  g_return_val_if_fail (msg != NULL, FALSE);

  memset (msg, 0, sizeof (*msg));
  data = g_bytes_get_data (frame, &size);

  if (size < DIODE_FRAME_HEADER_SIZE) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "frame is %" G_GSIZE_FORMAT " bytes, shorter than its %d-byte header",
        size, DIODE_FRAME_HEADER_SIZE);
    return FALSE;
  }
  if (!diode_msg_check_header_v (data, version, role, &len, error))
    return FALSE;
  if (len != size - DIODE_FRAME_HEADER_SIZE) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
        "frame of type %s announces %" G_GSIZE_FORMAT " payload bytes but "
        "holds %" G_GSIZE_FORMAT, diode_msg_type_name (data[0]), len,
        size - DIODE_FRAME_HEADER_SIZE);
    return FALSE;
  }

  r.type = data[0];
  r.p = data + DIODE_FRAME_HEADER_SIZE;
  r.len = len;
  r.pos = 0;
  msg->type = r.type;

  if (!parse_payload (&r, frame, msg, error)
      || (diode_msg_is_link_dialect (version, role)
          && (r.type == DIODE_MSG_PUBLISH || r.type == DIODE_MSG_SUBSCRIBE
              || r.type == DIODE_MSG_SUBSCRIBE_OK)
          && !msg_link_parse_appended (&r, msg, error))
      || (version >= DIODE_PROTOCOL_VERSION_STORE
          && (r.type == DIODE_MSG_PUBLISH || r.type == DIODE_MSG_PUBLISH_OK
              || r.type == DIODE_MSG_SUBSCRIBE
              || r.type == DIODE_MSG_SUBSCRIBE_OK)
          && !msg_store_parse_appended (&r, msg, error))
      || (r.type == DIODE_MSG_WELCOME
          && !msg_direct_parse_appended (&r, msg, error))) {
    diode_msg_clear (msg);
    return FALSE;
  }
  /* Bytes after the known fields (r.pos < r.len) are fields of a later
   * version: ignored on purpose. */
  msg->frame = g_bytes_ref (frame);
  return TRUE;
}
