/* gst-diode — wire messages: what version 2 adds for relay links (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The frames LINK, LINK_OK, ANNOUNCE, PULL and the fields appended to
 * PUBLISH, SUBSCRIBE and SUBSCRIBE_OK on a connection of role RELAY at
 * version 2 (docs/protocol.md, "Relay links (version 2)"). Kept apart from
 * diode-msg.c, the version-1 codec, so that a reader of either sees one
 * protocol level; both share the Writer and Reader of diode-msg-private.h.
 *
 * The common new field is a path: u8 count (0..DIODE_MAX_PATH), then count
 * relay addresses of 20 raw bytes each.
 */
#include "diode-msg-private.h"

#include <string.h>

gsize
msg_link_max_payload (guint type)
{
  switch (type) {
    case DIODE_MSG_LINK:
    case DIODE_MSG_LINK_OK:
    case DIODE_MSG_PULL:
      return DIODE_MAX_SMALL_PAYLOAD;
    case DIODE_MSG_ANNOUNCE:
      return DIODE_MAX_ANNOUNCE_PAYLOAD;
    case DIODE_MSG_SUBSCRIBE_OK:
      /* carries the stream's policy to a pulling relay */
      return DIODE_MAX_ANNOUNCE_PAYLOAD;
    default:
      return 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                    */

guint
diode_msg_path_length (const gchar * const *path)
{
  return path ? g_strv_length ((gchar **) path) : 0;
}

gboolean
diode_msg_path_contains (const gchar * const *path, const gchar * address)
{
  guint i;

  if (path == NULL || address == NULL)
    return FALSE;
  for (i = 0; path[i]; i++)
    if (g_ascii_strcasecmp (path[i], address) == 0)
      return TRUE;
  return FALSE;
}

gchar **
diode_msg_path_append (const gchar * const *path, const gchar * address)
{
  guint n = diode_msg_path_length (path), i;
  gchar **out;

  if (!diode_msg_address_is_valid (address) || n >= DIODE_MAX_PATH)
    return NULL;
  out = g_new0 (gchar *, n + 2);
  for (i = 0; i < n; i++)
    out[i] = g_ascii_strdown (path[i], -1);
  out[n] = g_ascii_strdown (address, -1);
  return out;
}

gboolean
msg_path_is_valid (const gchar * const *path)
{
  guint i;

  if (diode_msg_path_length (path) > DIODE_MAX_PATH)
    return FALSE;
  for (i = 0; path && path[i]; i++)
    if (!diode_msg_address_is_valid (path[i]))
      return FALSE;
  return TRUE;
}

/* Callers checked msg_path_is_valid(). */
void
msg_put_path (Writer * w, const gchar * const *path)
{
  guint n = diode_msg_path_length (path), i;

  msg_put_u8 (w, n);
  for (i = 0; i < n; i++)
    msg_put_address (w, path[i]);
}

/* u8 0 (none) or 20 + bytes, like the publisher field */
void
msg_put_owner (Writer * w, const gchar * owner)
{
  if (owner)
    msg_put_publisher (w, owner);
  else
    msg_put_u8 (w, 0);
}

static gboolean
get_path (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint8 n;
  guint i;

  if (!msg_get_u8 (r, &n, "path count", error))
    return FALSE;
  if (n > DIODE_MAX_PATH) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "%s: path of %u relays, limit is %d", diode_msg_type_name (r->type),
        n, DIODE_MAX_PATH);
    return FALSE;
  }
  if (!msg_need (r, (gsize) n * DIODE_ADDRESS_BYTES, "path", error))
    return FALSE;
  g_strfreev (msg->path);
  msg->path = g_new0 (gchar *, n + 1);
  for (i = 0; i < n; i++) {
    msg->path[i] = msg_address_from_bytes (r->p + r->pos);
    r->pos += DIODE_ADDRESS_BYTES;
  }
  return TRUE;
}

/* An appended path that is absent (the frame ends before it) is empty. */
static gboolean
get_path_optional (Reader * r, DiodeMsg * msg, GError ** error)
{
  if (r->pos == r->len) {
    msg->path = g_new0 (gchar *, 1);
    return TRUE;
  }
  return get_path (r, msg, error);
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                 */

GBytes *
diode_msg_encode_link (void)
{
  Writer w;

  msg_writer_init (&w, DIODE_MSG_LINK, 0);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_link_ok (const gchar * const *path)
{
  Writer w;

  if (!msg_path_is_valid (path))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_LINK_OK, 1 + DIODE_MAX_PATH *
      DIODE_ADDRESS_BYTES);
  msg_put_path (&w, path);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_announce (DiodeAnnounceOp op, const gchar * stream,
    const gchar * owner, DiodeAccess access, const gchar * fleet,
    const gchar * const *allow, const gchar * const *path)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  if (op != DIODE_ANNOUNCE_AVAILABLE && op != DIODE_ANNOUNCE_WITHDRAWN)
    return NULL;
  if (op == DIODE_ANNOUNCE_AVAILABLE && ((owner
              && !diode_msg_address_is_valid (owner)) || !msg_path_is_valid (path)))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_ANNOUNCE, 3 + strlen (stream) + 128);
  msg_put_u8 (&w, op);
  msg_put_str16 (&w, stream);
  if (op == DIODE_ANNOUNCE_AVAILABLE) {
    msg_put_owner (&w, owner);
    if (!msg_put_policy (&w, access, fleet, allow)) {
      g_byte_array_unref (w.a);
      return NULL;
    }
    msg_put_path (&w, path);
  }
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_pull (const gchar * stream, guint64 start_seq,
    const gchar * const *path)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL) || !msg_path_is_valid (path))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PULL, 2 + strlen (stream) + 9 +
      DIODE_ADDRESS_BYTES * diode_msg_path_length (path));
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, start_seq);
  msg_put_path (&w, path);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_publish_relay (const gchar * stream, DiodeAccess access,
    const gchar * fleet, const gchar * const *allow, const gchar * owner,
    const gchar * const *path)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL) || !msg_path_is_valid (path))
    return NULL;
  if (owner && !diode_msg_address_is_valid (owner))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PUBLISH, 2 + strlen (stream) + 128);
  msg_put_str16 (&w, stream);
  if (!msg_put_policy (&w, access, fleet, allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  msg_put_owner (&w, owner);
  msg_put_path (&w, path);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_relay (const gchar * stream, guint64 start_seq,
    guint32 wait_ms, const gchar * pin, const gchar * const *path)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL) || !msg_path_is_valid (path))
    return NULL;
  if (pin && !diode_msg_address_is_valid (pin))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE, 2 + strlen (stream) + 12 + 22 +
      DIODE_ADDRESS_BYTES * diode_msg_path_length (path));
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, start_seq);
  msg_put_u32 (&w, wait_ms);
  /* the publisher field is optional in version 1; here it is always
   * written (length 0 without a pin) so the path can follow it */
  msg_put_owner (&w, pin);
  msg_put_path (&w, path);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_ok_relay (const gchar * stream, guint64 first_seq,
    const gchar * publisher, DiodeAccess access, const gchar * fleet,
    const gchar * const *allow, const gchar * const *path)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL) || !msg_path_is_valid (path))
    return NULL;
  if (publisher && !diode_msg_address_is_valid (publisher))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE_OK, 2 + strlen (stream) + 128);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, first_seq);
  msg_put_owner (&w, publisher);
  if (!msg_put_policy (&w, access, fleet, allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  msg_put_path (&w, path);
  return msg_writer_finish (&w);
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */

gboolean
msg_link_parse_payload (Reader * r, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_LINK:
      /* nothing defined yet: later versions may append */
      return TRUE;
    case DIODE_MSG_LINK_OK:
      return get_path (r, msg, error);
    case DIODE_MSG_ANNOUNCE:
      if (!msg_get_u8 (r, &msg->op, "op", error))
        return FALSE;
      if (msg->op != DIODE_ANNOUNCE_AVAILABLE
          && msg->op != DIODE_ANNOUNCE_WITHDRAWN) {
        g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_PROTOCOL,
            "ANNOUNCE: unknown op %u (1 AVAILABLE, 0 WITHDRAWN)", msg->op);
        return FALSE;
      }
      if (!msg_get_stream (r, &msg->stream, error))
        return FALSE;
      if (msg->op == DIODE_ANNOUNCE_WITHDRAWN) {
        /* nothing more is defined; the path is there, empty */
        msg->path = g_new0 (gchar *, 1);
        return TRUE;
      }
      return msg_get_publisher (r, &msg->owner, error)
          && msg_get_policy (r, msg, error)
          && get_path (r, msg, error);
    case DIODE_MSG_PULL:
      return msg_get_stream (r, &msg->stream, error)
          && msg_get_u64 (r, &msg->start_seq, "start_seq", error)
          && get_path (r, msg, error);
    default:
      g_assert_not_reached ();
      return FALSE;
  }
}

gboolean
msg_link_parse_appended (Reader * r, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_PUBLISH:
      /* [policy] [owner [path]]: diode-msg.c read the policy, if any */
      if (r->pos < r->len && !msg_get_publisher (r, &msg->owner, error))
        return FALSE;
      return get_path_optional (r, msg, error);
    case DIODE_MSG_SUBSCRIBE:
      /* [publisher [path]] */
      return get_path_optional (r, msg, error);
    case DIODE_MSG_SUBSCRIBE_OK:
      /* [publisher [policy [path]]] */
      if (r->pos < r->len) {
        if (!msg_get_policy (r, msg, error))
          return FALSE;
        msg->has_policy = TRUE;
      } else {
        /* An upstream that predates the policy fields: fail closed, only
         * the owner may watch (docs/protocol.md, "Relay links"). */
        msg->access = DIODE_ACCESS_PRIVATE;
        msg->fleet = g_strdup ("");
        msg->allow = g_new0 (gchar *, 1);
        msg->has_policy = FALSE;
      }
      return get_path_optional (r, msg, error);
    default:
      return TRUE;
  }
}
