/* gst-diode — wire messages: what version 4 adds for direct paths (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The frames SIGNAL (ICE signalling of one direct session, relayed between
 * a viewer and the stream's publisher) and PATH (a viewer tells its relay
 * whether it takes the media from the direct path or the relay), and the
 * WELCOME v4 block (the relay's STUN port), docs/protocol.md section 17
 * "Direct paths (version 4)". The new frames exist on a connection that
 * negotiated version 4 or later with a peer of role PUBLISHER or VIEWER,
 * never on relay links. Kept apart from the earlier versions' files so
 * each reads as one protocol level; all share the Writer and Reader of
 * diode-msg-private.h.
 *
 * Canonical encoding (the fuzzer re-encodes every parsed frame and
 * compares bytes): the peer address travels as the 42 characters
 * "0x" + 40 lower-case hex digits, so the parser refuses upper case
 * rather than rewrite it.
 */
#include "diode-msg-private.h"

#include <string.h>

gsize
msg_direct_max_payload (guint type)
{
  switch (type) {
    case DIODE_MSG_SIGNAL:
      return DIODE_MAX_SIGNAL_PAYLOAD;
    case DIODE_MSG_PATH:
      return DIODE_MAX_SMALL_PAYLOAD;
    default:
      return 0;
  }
}

const gchar *
diode_signal_kind_name (guint kind)
{
  switch (kind) {
    case DIODE_SIGNAL_OFFER:
      return "OFFER";
    case DIODE_SIGNAL_ANSWER:
      return "ANSWER";
    case DIODE_SIGNAL_CANDIDATE:
      return "CANDIDATE";
    case DIODE_SIGNAL_GATHERED:
      return "GATHERED";
    case DIODE_SIGNAL_CLOSE:
      return "CLOSE";
    default:
      return "unknown";
  }
}

/* ------------------------------------------------------------------------ */
/* Validation shared by encoders and parser                                 */

static gboolean
kind_valid (guint kind)
{
  return kind >= DIODE_SIGNAL_OFFER && kind <= DIODE_SIGNAL_KIND_LAST;
}

/* The wire form of a peer address: exactly "0x" + 40 lower-case hex. */
static gboolean
peer_is_canonical (const gchar * p, gsize len)
{
  gsize i;

  if (len != 2 + DIODE_ADDRESS_BYTES * 2 || p[0] != '0' || p[1] != 'x')
    return FALSE;
  for (i = 2; i < len; i++)
    if (!g_ascii_isdigit (p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                 */

GBytes *
diode_msg_encode_signal (guint32 sid, guint8 kind, const gchar * peer,
    const gchar * data)
{
  Writer w;
  gchar *p = NULL;
  gsize dlen;

  if (sid == 0 || !kind_valid (kind))
    return NULL;
  if (peer && *peer) {
    if (!diode_msg_address_is_valid (peer))
      return NULL;
    p = g_ascii_strdown (peer, -1);
  }
  if (data == NULL)
    data = "";
  dlen = strlen (data);
  if (dlen > DIODE_MAX_SIGNAL_DATA || !g_utf8_validate (data, dlen, NULL)) {
    g_free (p);
    return NULL;
  }

  msg_writer_init (&w, DIODE_MSG_SIGNAL, 4 + 1 + 2 + 42 + 2 + dlen);
  msg_put_u32 (&w, sid);
  msg_put_u8 (&w, kind);
  msg_put_str16 (&w, p ? p : "");
  msg_put_str16 (&w, data);
  g_free (p);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_path (guint8 path, guint64 from_seq)
{
  Writer w;

  if (path > DIODE_PATH_KIND_LAST)
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PATH, 9);
  msg_put_u8 (&w, path);
  msg_put_u64 (&w, from_seq);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_welcome_v (guint16 version, guint32 keepalive_ms,
    const gchar * agent, guint16 stun_port)
{
  GBytes *v1 = diode_msg_encode_welcome (version, keepalive_ms, agent);
  Writer w;
  gsize size;
  const guint8 *data;

  if (version < DIODE_PROTOCOL_VERSION_DIRECT)
    return v1;
  /* the version-1 fields, then the v4 block */
  data = g_bytes_get_data (v1, &size);
  msg_writer_init (&w, DIODE_MSG_WELCOME, size + 2);
  g_byte_array_append (w.a, data + DIODE_FRAME_HEADER_SIZE,
      size - DIODE_FRAME_HEADER_SIZE);
  g_bytes_unref (v1);
  msg_put_u16 (&w, stun_port);
  return msg_writer_finish (&w);
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */

static gboolean
parse_signal (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint16 len;

  if (!(msg_get_u32 (r, &msg->sid, "sid", error)
          && msg_get_u8 (r, &msg->signal_kind, "kind", error)))
    return FALSE;
  if (msg->sid == 0)
    return msg_bad (r, error, "sid 0 (direct session ids are non-zero)");
  if (!kind_valid (msg->signal_kind))
    return msg_bad (r, error, "unknown kind %u", msg->signal_kind);

  /* peer: empty, or the 42-character address */
  if (!msg_get_u16 (r, &len, "peer", error) || !msg_need (r, len, "peer",
          error))
    return FALSE;
  if (len > 0) {
    if (!peer_is_canonical ((const gchar *) r->p + r->pos, len))
      return msg_bad (r, error, "peer is neither empty nor an address "
          "(\"0x\" + 40 lower-case hex digits)");
    msg->peer = g_strndup ((const gchar *) r->p + r->pos, len);
    r->pos += len;
  }

  if (!msg_get_u16 (r, &len, "data", error))
    return FALSE;
  if (len > DIODE_MAX_SIGNAL_DATA) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "SIGNAL: field 'data' is %u bytes, limit is %d", len,
        DIODE_MAX_SIGNAL_DATA);
    return FALSE;
  }
  return msg_get_text_bytes (r, len, &msg->signal_data, "data", error);
}

gboolean
msg_direct_parse_payload (Reader * r, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_SIGNAL:
      return parse_signal (r, msg, error);
    case DIODE_MSG_PATH:
      if (!(msg_get_u8 (r, &msg->path_kind, "path", error)
              && msg_get_u64 (r, &msg->from_seq, "from_seq", error)))
        return FALSE;
      if (msg->path_kind > DIODE_PATH_KIND_LAST)
        return msg_bad (r, error, "unknown path %u", msg->path_kind);
      return TRUE;
    default:
      g_assert_not_reached ();
      return FALSE;
  }
}

gboolean
msg_direct_parse_appended (Reader * r, DiodeMsg * msg, GError ** error)
{
  /* The WELCOME's own version says whether the block is there: a client
   * reads WELCOME before any version is negotiated. Absent: 0 (no STUN). */
  if (r->type != DIODE_MSG_WELCOME
      || msg->version < DIODE_PROTOCOL_VERSION_DIRECT || r->pos == r->len)
    return TRUE;
  return msg_get_u16 (r, &msg->stun_port, "stun_port", error);
}
