/* gst-diode — wire messages: listing streams, appended to version 4 (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * LIST (client -> relay: every stream this identity may watch, from a
 * name on, or one stream) and its answer LISTING (relay -> client: up to
 * DIODE_LIST_MAX_ENTRIES entries and a TRUNCATED flag), docs/protocol.md
 * section 19 "Listing streams". Both exist on connections of role
 * PUBLISHER and VIEWER at version 4 or later (never on relay links). The
 * entries have one fixed layout: a later field needs a later version.
 *
 * Canonical encoding (the fuzzer re-encodes every parsed frame and
 * compares bytes): flags bits the version does not define are refused,
 * the owner is 0 or 20 + its bytes, names are valid stream names.
 */
#include "diode-msg-private.h"

#include <string.h>

gsize
msg_list_max_payload (guint type)
{
  switch (type) {
    case DIODE_MSG_LIST:
      return DIODE_MAX_SMALL_PAYLOAD;
    case DIODE_MSG_LISTING:
      return DIODE_MAX_LISTING_PAYLOAD;
    default:
      return 0;
  }
}

const gchar *
diode_list_state_name (guint state)
{
  switch (state) {
    case DIODE_LIST_LIVE:
      return "live";
    case DIODE_LIST_RECORDING:
      return "recording";
    case DIODE_LIST_ENDED:
      return "ended";
    case DIODE_LIST_STORED:
      return "stored";
    default:
      return "unknown";
  }
}

void
diode_list_entry_clear (DiodeListEntry * e)
{
  g_free (e->name);
  g_free (e->owner);
  g_free (e->codec);
  memset (e, 0, sizeof (*e));
}

/* ------------------------------------------------------------------------ */
/* Encoders                                                                 */

GBytes *
diode_msg_encode_list (guint8 mode, const gchar * name)
{
  Writer w;

  if (mode > DIODE_LIST_MODE_LAST)
    return NULL;
  if (name == NULL)
    name = "";
  /* ONE needs a name; ALL's name (where to start) may be empty */
  if ((mode == DIODE_LIST_ONE || *name)
      && !diode_msg_check_stream_name (name, NULL))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_LIST, 3 + strlen (name));
  msg_put_u8 (&w, mode);
  msg_put_str16 (&w, name);
  return msg_writer_finish (&w);
}

static gboolean
entry_valid (const DiodeListEntry * e)
{
  return diode_msg_check_stream_name (e->name, NULL)
      && e->state <= DIODE_LIST_STATE_LAST
      && e->access <= DIODE_ACCESS_PRIVATE && e->stored <= 1
      && (e->owner == NULL || diode_msg_address_is_valid (e->owner))
      && (e->codec == NULL || (strlen (e->codec) <= DIODE_LIST_MAX_CODEC
              && g_utf8_validate (e->codec, -1, NULL)));
}

GBytes *
diode_msg_encode_listing (guint8 flags, const DiodeListEntry * entries,
    guint n_entries)
{
  Writer w;
  guint i;

  if ((flags & ~DIODE_LISTING_TRUNCATED) || n_entries > DIODE_LIST_MAX_ENTRIES
      || (n_entries && !entries))
    return NULL;
  for (i = 0; i < n_entries; i++)
    if (!entry_valid (&entries[i]))
      return NULL;
  msg_writer_init (&w, DIODE_MSG_LISTING, 3 + n_entries * 128);
  msg_put_u8 (&w, flags);
  msg_put_u16 (&w, n_entries);
  for (i = 0; i < n_entries; i++) {
    const DiodeListEntry *e = &entries[i];

    msg_put_str16 (&w, e->name);
    msg_put_u8 (&w, e->state);
    msg_put_u8 (&w, e->access);
    msg_put_u8 (&w, e->stored);
    if (e->owner) {
      gchar *lower = g_ascii_strdown (e->owner, -1);

      msg_put_owner (&w, lower);
      g_free (lower);
    } else {
      msg_put_owner (&w, NULL);
    }
    msg_put_u32 (&w, e->viewers);
    msg_put_u32 (&w, e->web_viewers);
    msg_put_u64 (&w, e->bitrate_bps);
    msg_put_str16 (&w, e->codec ? e->codec : "");
    msg_put_u16 (&w, e->width);
    msg_put_u16 (&w, e->height);
    msg_put_u32 (&w, e->framerate_milli);
    msg_put_u64 (&w, e->live_seq);
    msg_put_u64 (&w, e->uptime_ms);
    msg_put_u64 (&w, e->bytes_in);
    msg_put_u64 (&w, e->bytes_out);
  }
  return msg_writer_finish (&w);
}

/* ------------------------------------------------------------------------ */
/* Parser                                                                   */

static gboolean
parse_list (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint16 len;

  if (!msg_get_u8 (r, &msg->list_mode, "mode", error))
    return FALSE;
  if (msg->list_mode > DIODE_LIST_MODE_LAST)
    return msg_bad (r, error, "unknown mode %u", msg->list_mode);
  /* ALL may start from the beginning (an empty name) */
  if (msg->list_mode == DIODE_LIST_ALL) {
    gsize save = r->pos;

    if (!msg_get_u16 (r, &len, "stream", error))
      return FALSE;
    if (len == 0) {
      msg->stream = g_strdup ("");
      return TRUE;
    }
    r->pos = save;
  }
  return msg_get_stream (r, &msg->stream, error);
}

static gboolean
parse_entry (Reader * r, DiodeListEntry * e, GError ** error)
{
  guint16 len;

  if (!(msg_get_stream (r, &e->name, error)
          && msg_get_u8 (r, &e->state, "state", error)
          && msg_get_u8 (r, &e->access, "access", error)
          && msg_get_u8 (r, &e->stored, "stored", error)))
    return FALSE;
  if (e->state > DIODE_LIST_STATE_LAST)
    return msg_bad (r, error, "unknown state %u", e->state);
  if (e->access > DIODE_ACCESS_PRIVATE)
    return msg_bad (r, error, "unknown access mode %u", e->access);
  if (e->stored > 1)
    return msg_bad (r, error, "stored is %u (0 or 1)", e->stored);
  if (!msg_need (r, 1, "owner", error)
      || !msg_get_publisher (r, &e->owner, error))
    return FALSE;
  if (!(msg_get_u32 (r, &e->viewers, "viewers", error)
          && msg_get_u32 (r, &e->web_viewers, "web_viewers", error)
          && msg_get_u64 (r, &e->bitrate_bps, "bitrate", error)
          && msg_get_u16 (r, &len, "codec", error)))
    return FALSE;
  if (len > DIODE_LIST_MAX_CODEC) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "LISTING: field 'codec' is %u bytes, limit is %d", len,
        DIODE_LIST_MAX_CODEC);
    return FALSE;
  }
  return msg_get_text_bytes (r, len, &e->codec, "codec", error)
      && msg_get_u16 (r, &e->width, "width", error)
      && msg_get_u16 (r, &e->height, "height", error)
      && msg_get_u32 (r, &e->framerate_milli, "framerate", error)
      && msg_get_u64 (r, &e->live_seq, "live_seq", error)
      && msg_get_u64 (r, &e->uptime_ms, "uptime_ms", error)
      && msg_get_u64 (r, &e->bytes_in, "bytes_in", error)
      && msg_get_u64 (r, &e->bytes_out, "bytes_out", error);
}

static gboolean
parse_listing (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint16 n, i;

  if (!(msg_get_u8 (r, &msg->list_flags, "flags", error)
          && msg_get_u16 (r, &n, "count", error)))
    return FALSE;
  if (msg->list_flags & ~DIODE_LISTING_TRUNCATED)
    return msg_bad (r, error, "unknown flags 0x%02x", msg->list_flags);
  if (n > DIODE_LIST_MAX_ENTRIES) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "LISTING: %u entries, limit is %d", n, DIODE_LIST_MAX_ENTRIES);
    return FALSE;
  }
  /* the smallest entry is DIODE_LIST_MIN_ENTRY (65) bytes: a count the payload cannot hold is
   * refused before anything is allocated for it */
  if (!msg_need (r, (gsize) n * DIODE_LIST_MIN_ENTRY, "entries", error))
    return FALSE;
  msg->entries = g_new0 (DiodeListEntry, MAX (n, 1));
  for (i = 0; i < n; i++) {
    if (!parse_entry (r, &msg->entries[i], error)) {
      msg->n_entries = i + 1;   /* so diode_msg_clear frees what it has */
      return FALSE;
    }
    msg->n_entries = i + 1;
  }
  msg->n_entries = n;
  return TRUE;
}

gboolean
msg_list_parse_payload (Reader * r, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_LIST:
      return parse_list (r, msg, error);
    case DIODE_MSG_LISTING:
      return parse_listing (r, msg, error);
    default:
      g_assert_not_reached ();
      return FALSE;
  }
}
