/* gst-diode — wire messages: what version 3 adds for recordings (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The frames RANGE, RANGE_OK, FETCH, CHUNK, FETCH_END, STORED and the "v3
 * blocks" appended to PUBLISH, PUBLISH_OK, SUBSCRIBE and SUBSCRIBE_OK on a
 * connection of any role that negotiated version 3 (docs/protocol.md,
 * section 15 "Recordings (version 3)"). Kept apart from diode-msg.c
 * (version 1) and diode-msg-link.c (version 2) so each file reads as one
 * protocol level; all share the Writer and Reader of diode-msg-private.h.
 *
 * A v3 block comes after every field the earlier versions define for that
 * message on that kind of connection, so the encoders below write those
 * optional fields (publisher length 0 for none, the policy) whenever they
 * write a v3 block: otherwise a receiver would read the block as them.
 */
#include "diode-msg-private.h"

#include <string.h>
#include <zlib.h>

gsize
msg_store_max_payload (guint type)
{
  switch (type) {
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
    case DIODE_MSG_CHUNK:
    case DIODE_MSG_FETCH_END:
    case DIODE_MSG_STORED:
      return DIODE_MAX_SMALL_PAYLOAD;
    case DIODE_MSG_RANGE_OK:
      return DIODE_MAX_RANGE_OK_PAYLOAD;
    default:
      return 0;
  }
}

const gchar *
diode_stream_state_name (guint state)
{
  switch (state) {
    case DIODE_STREAM_LIVE:
      return "live";
    case DIODE_STREAM_LIVE_RECORDED:
      return "live-recorded";
    case DIODE_STREAM_RECORDING:
      return "recording";
    default:
      return "unknown";
  }
}

const gchar *
diode_store_state_name (guint state)
{
  switch (state) {
    case DIODE_STORE_NONE:
      return "none";
    case DIODE_STORE_RECORDING:
      return "recording";
    case DIODE_STORE_UNAVAILABLE:
      return "unavailable";
    default:
      return "unknown";
  }
}

guint32
diode_chunk_crc_data (guint32 crc, const guint8 * data, gsize len)
{
  /* crc32_z takes a size_t length: no 4 GiB cut on any target */
  return crc32_z (crc, data, len);
}

guint32
diode_chunk_crc (guint32 crc, GBytes * frame)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  return diode_chunk_crc_data (crc, data, len);
}

/* ------------------------------------------------------------------------ */
/* Validation shared by encoders and parser                                 */

static gboolean
pubflags_valid (guint32 pubflags)
{
  /* an upload is a recording: UPLOAD alone means nothing a relay can do */
  return !(pubflags & DIODE_PUBLISH_UPLOAD) || (pubflags & DIODE_PUBLISH_RECORD);
}

static gboolean
start_valid (guint64 start_seq, guint8 start_mode, guint8 snap)
{
  if (start_mode > DIODE_START_MODE_LAST || snap > DIODE_SNAP_LAST)
    return FALSE;
  /* a resume point and a start mode would contradict each other */
  return start_mode == DIODE_START_LIVE || start_seq == 0;
}

/* NULL: valid, else why not */
static const gchar *
spans_problem (const DiodeSpan * spans, guint n)
{
  guint i;

  if (n > DIODE_MAX_SPANS)
    return "too many spans";
  for (i = 0; i < n; i++) {
    if (spans[i].first_seq > spans[i].last_seq)
      return "a span's first_seq is after its last_seq";
    if (i > 0 && spans[i].first_seq <= spans[i - 1].last_seq)
      return "spans overlap or are not oldest first";
  }
  return NULL;
}

static const gchar *
chunk_problem (const DiodeChunkHeader * h, gint * code)
{
  *code = DIODE_ERR_PROTOCOL;
  if (h->n_frames == 0)
    return "n_frames is 0";
  if (h->n_frames > DIODE_MAX_CHUNK_FRAMES) {
    *code = DIODE_ERR_TOO_LARGE;
    return "n_frames over its limit of 65536";
  }
  if (h->n_prelude > h->n_frames)
    return "n_prelude exceeds n_frames";
  if (h->bytes > DIODE_MAX_CHUNK_BYTES) {
    *code = DIODE_ERR_TOO_LARGE;
    return "bytes over its limit of 67108864";
  }
  /* every frame has its 8-byte header */
  if ((guint64) h->bytes < (guint64) h->n_frames * DIODE_FRAME_HEADER_SIZE)
    return "bytes below 8 per frame";
  if (h->first_seq > h->last_seq)
    return "first_seq is after last_seq";
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Encoders: the messages of versions 1 and 2 with their v3 blocks          */

GBytes *
diode_msg_encode_publish_args (const DiodePublishArgs * a, guint16 version,
    DiodeRole role)
{
  gboolean link = diode_msg_is_link_dialect (version, role);
  gboolean v3 = version >= DIODE_PROTOCOL_VERSION_STORE;
  Writer w;

  g_return_val_if_fail (a != NULL, NULL);

  if (!diode_msg_check_stream_name (a->stream, NULL))
    return NULL;
  if (link && (!msg_path_is_valid (a->path) || (a->owner
              && !diode_msg_address_is_valid (a->owner))))
    return NULL;
  if (v3 && !pubflags_valid (a->pubflags))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PUBLISH, 2 + strlen (a->stream) + 128);
  msg_put_str16 (&w, a->stream);
  /* always written (version 1 does too): a v3 block must follow it */
  if (!msg_put_policy (&w, a->access, a->fleet, a->allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  if (link) {
    msg_put_owner (&w, a->owner);
    msg_put_path (&w, a->path);
  }
  if (v3)
    msg_put_u32 (&w, a->pubflags);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_publish_ok_v (const gchar * stream, guint64 next_seq,
    guint8 store_state, guint16 version)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  if (store_state > DIODE_STORE_UNAVAILABLE)
    return NULL;
  msg_writer_init (&w, DIODE_MSG_PUBLISH_OK, 2 + strlen (stream) + 9);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, next_seq);
  if (version >= DIODE_PROTOCOL_VERSION_STORE)
    msg_put_u8 (&w, store_state);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_args (const DiodeSubscribeArgs * a,
    guint16 version, DiodeRole role)
{
  gboolean link = diode_msg_is_link_dialect (version, role);
  gboolean v3 = version >= DIODE_PROTOCOL_VERSION_STORE;
  Writer w;

  g_return_val_if_fail (a != NULL, NULL);

  if (!diode_msg_check_stream_name (a->stream, NULL))
    return NULL;
  if (a->pin && !diode_msg_address_is_valid (a->pin))
    return NULL;
  if (link && !msg_path_is_valid (a->path))
    return NULL;
  if (v3 && !start_valid (a->start_seq, a->start_mode, a->snap))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE, 2 + strlen (a->stream) + 12 +
      22 + DIODE_ADDRESS_BYTES * diode_msg_path_length (a->path) + 10);
  msg_put_str16 (&w, a->stream);
  msg_put_u64 (&w, a->start_seq);
  msg_put_u32 (&w, a->wait_ms);
  if (link || v3)
    msg_put_owner (&w, a->pin);       /* length 0 without a pin */
  else if (a->pin)
    msg_put_publisher (&w, a->pin);   /* version 1: absent without a pin */
  if (link)
    msg_put_path (&w, a->path);
  if (v3) {
    msg_put_u8 (&w, a->start_mode);
    msg_put_u64 (&w, a->start_value);
    msg_put_u8 (&w, a->snap);
  }
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_subscribe_ok_args (const DiodeSubscribeOkArgs * a,
    guint16 version, DiodeRole role)
{
  gboolean link = diode_msg_is_link_dialect (version, role);
  gboolean v3 = version >= DIODE_PROTOCOL_VERSION_STORE;
  Writer w;

  g_return_val_if_fail (a != NULL, NULL);

  if (!diode_msg_check_stream_name (a->stream, NULL))
    return NULL;
  if (a->publisher && !diode_msg_address_is_valid (a->publisher))
    return NULL;
  if (link && !msg_path_is_valid (a->path))
    return NULL;
  if (v3 && a->stream_state > DIODE_STREAM_STATE_LAST)
    return NULL;
  msg_writer_init (&w, DIODE_MSG_SUBSCRIBE_OK, 2 + strlen (a->stream) + 128);
  msg_put_str16 (&w, a->stream);
  msg_put_u64 (&w, a->first_seq);
  if (link || v3)
    msg_put_owner (&w, a->publisher);
  else if (a->publisher)
    msg_put_publisher (&w, a->publisher);
  if (link) {
    if (!msg_put_policy (&w, a->access, a->fleet, a->allow)) {
      g_byte_array_unref (w.a);
      return NULL;
    }
    msg_put_path (&w, a->path);
  }
  if (v3) {
    msg_put_u8 (&w, a->stream_state);
    msg_put_u64 (&w, a->start_time);
  }
  /* appended to version 4 (docs/protocol.md section 18): where live is */
  if (version >= DIODE_PROTOCOL_VERSION_DIRECT)
    msg_put_u64 (&w, a->live_seq);
  return msg_writer_finish (&w);
}

/* ------------------------------------------------------------------------ */
/* Encoders: the new frames                                                 */

GBytes *
diode_msg_encode_range (const gchar * stream, guint8 flags)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_RANGE, 2 + strlen (stream) + 1);
  msg_put_str16 (&w, stream);
  msg_put_u8 (&w, flags);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_range_ok (const gchar * stream, guint8 stream_state,
    const gchar * owner, DiodeAccess access, const gchar * fleet,
    const gchar * const *allow, const DiodeSpan * spans, guint n_spans)
{
  Writer w;
  guint i;

  if (!diode_msg_check_stream_name (stream, NULL))
    return NULL;
  if (stream_state > DIODE_STREAM_STATE_LAST)
    return NULL;
  if (owner && !diode_msg_address_is_valid (owner))
    return NULL;
  if ((n_spans > 0 && spans == NULL) || spans_problem (spans, n_spans))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_RANGE_OK, 2 + strlen (stream) + 64 +
      DIODE_SPAN_SIZE * n_spans);
  msg_put_str16 (&w, stream);
  msg_put_u8 (&w, stream_state);
  msg_put_owner (&w, owner);
  if (!msg_put_policy (&w, access, fleet, allow)) {
    g_byte_array_unref (w.a);
    return NULL;
  }
  msg_put_u16 (&w, n_spans);
  for (i = 0; i < n_spans; i++) {
    msg_put_u64 (&w, spans[i].first_seq);
    msg_put_u64 (&w, spans[i].last_seq);
    msg_put_u64 (&w, spans[i].first_time);
    msg_put_u64 (&w, spans[i].end_time);
    msg_put_u64 (&w, spans[i].wall_start_us);
    msg_put_u64 (&w, spans[i].wall_end_us);
  }
  /* a full allowlist (41 220 bytes) plus 256 spans still fits the limit */
  g_assert (w.a->len - DIODE_FRAME_HEADER_SIZE <= DIODE_MAX_RANGE_OK_PAYLOAD);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_fetch (const gchar * stream, guint64 from_seq,
    guint64 to_seq, guint8 flags)
{
  Writer w;

  if (!diode_msg_check_stream_name (stream, NULL) || from_seq > to_seq)
    return NULL;
  msg_writer_init (&w, DIODE_MSG_FETCH, 2 + strlen (stream) + 17);
  msg_put_str16 (&w, stream);
  msg_put_u64 (&w, from_seq);
  msg_put_u64 (&w, to_seq);
  msg_put_u8 (&w, flags);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_chunk (const DiodeChunkHeader * h)
{
  Writer w;
  gint code;

  g_return_val_if_fail (h != NULL, NULL);

  if (chunk_problem (h, &code))
    return NULL;
  msg_writer_init (&w, DIODE_MSG_CHUNK, DIODE_CHUNK_HEADER_SIZE);
  msg_put_u64 (&w, h->first_seq);
  msg_put_u64 (&w, h->last_seq);
  msg_put_u64 (&w, h->time);
  msg_put_u64 (&w, h->end_time);
  msg_put_u64 (&w, h->wall_us);
  msg_put_u32 (&w, h->flags);
  msg_put_u32 (&w, h->n_prelude);
  msg_put_u32 (&w, h->n_frames);
  msg_put_u32 (&w, h->bytes);
  msg_put_u32 (&w, h->crc);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_fetch_end (guint64 next_seq, guint8 status)
{
  Writer w;

  if (status > DIODE_FETCH_STATUS_LAST)
    return NULL;
  msg_writer_init (&w, DIODE_MSG_FETCH_END, 9);
  msg_put_u64 (&w, next_seq);
  msg_put_u8 (&w, status);
  return msg_writer_finish (&w);
}

GBytes *
diode_msg_encode_stored (guint64 last_seq, guint64 bytes, gboolean final)
{
  Writer w;

  msg_writer_init (&w, DIODE_MSG_STORED, 17);
  msg_put_u64 (&w, last_seq);
  msg_put_u64 (&w, bytes);
  msg_put_u8 (&w, final ? 1 : 0);
  return msg_writer_finish (&w);
}

/* ------------------------------------------------------------------------ */
/* Decoder                                                                  */

static gboolean
get_spans (Reader * r, DiodeMsg * msg, GError ** error)
{
  guint16 n;
  guint i;
  const gchar *problem;

  if (!msg_get_u16 (r, &n, "span count", error))
    return FALSE;
  if (n > DIODE_MAX_SPANS) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "RANGE_OK: %u spans, limit is %d", n, DIODE_MAX_SPANS);
    return FALSE;
  }
  if (!msg_need (r, (gsize) n * DIODE_SPAN_SIZE, "spans", error))
    return FALSE;
  msg->spans = g_new0 (DiodeSpan, MAX (n, 1));
  msg->n_spans = n;
  for (i = 0; i < n; i++) {
    DiodeSpan *sp = &msg->spans[i];

    msg_get_u64 (r, &sp->first_seq, "first_seq", NULL);
    msg_get_u64 (r, &sp->last_seq, "last_seq", NULL);
    msg_get_u64 (r, &sp->first_time, "first_time", NULL);
    msg_get_u64 (r, &sp->end_time, "end_time", NULL);
    msg_get_u64 (r, &sp->wall_start_us, "wall_start_us", NULL);
    msg_get_u64 (r, &sp->wall_end_us, "wall_end_us", NULL);
  }
  problem = spans_problem (msg->spans, n);
  if (problem)
    return msg_bad (r, error, "%s", problem);
  return TRUE;
}

static gboolean
get_chunk (Reader * r, DiodeMsg * msg, GError ** error)
{
  DiodeChunkHeader *h = &msg->chunk;
  const gchar *problem;
  gint code;

  if (!(msg_get_u64 (r, &h->first_seq, "first_seq", error)
          && msg_get_u64 (r, &h->last_seq, "last_seq", error)
          && msg_get_u64 (r, &h->time, "time", error)
          && msg_get_u64 (r, &h->end_time, "end_time", error)
          && msg_get_u64 (r, &h->wall_us, "wall_us", error)
          && msg_get_u32 (r, &h->flags, "flags", error)
          && msg_get_u32 (r, &h->n_prelude, "n_prelude", error)
          && msg_get_u32 (r, &h->n_frames, "n_frames", error)
          && msg_get_u32 (r, &h->bytes, "bytes", error)
          && msg_get_u32 (r, &h->crc, "crc32", error)))
    return FALSE;
  problem = chunk_problem (h, &code);
  if (problem) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, code, "CHUNK: %s", problem);
    return FALSE;
  }
  return TRUE;
}

gboolean
msg_store_parse_payload (Reader * r, DiodeMsg * msg, GError ** error)
{
  switch (r->type) {
    case DIODE_MSG_RANGE:
      return msg_get_stream (r, &msg->stream, error)
          && msg_get_u8 (r, &msg->range_flags, "flags", error);
    case DIODE_MSG_RANGE_OK:
      if (!(msg_get_stream (r, &msg->stream, error)
              && msg_get_u8 (r, &msg->stream_state, "stream_state", error)))
        return FALSE;
      if (msg->stream_state > DIODE_STREAM_STATE_LAST)
        return msg_bad (r, error, "unknown stream_state %u", msg->stream_state);
      /* owner and policy are not optional here: a frame that ends before
       * them fails in msg_get_policy() */
      return msg_get_publisher (r, &msg->owner, error)
          && msg_get_policy (r, msg, error)
          && get_spans (r, msg, error);
    case DIODE_MSG_FETCH:
      if (!(msg_get_stream (r, &msg->stream, error)
              && msg_get_u64 (r, &msg->from_seq, "from_seq", error)
              && msg_get_u64 (r, &msg->to_seq, "to_seq", error)
              && msg_get_u8 (r, &msg->range_flags, "flags", error)))
        return FALSE;
      if (msg->from_seq > msg->to_seq)
        return msg_bad (r, error, "from_seq %" G_GUINT64_FORMAT " after to_seq %"
            G_GUINT64_FORMAT, msg->from_seq, msg->to_seq);
      return TRUE;
    case DIODE_MSG_CHUNK:
      return get_chunk (r, msg, error);
    case DIODE_MSG_FETCH_END:
      if (!(msg_get_u64 (r, &msg->next_seq, "next_seq", error)
              && msg_get_u8 (r, &msg->fetch_status, "status", error)))
        return FALSE;
      if (msg->fetch_status > DIODE_FETCH_STATUS_LAST)
        return msg_bad (r, error, "unknown status %u", msg->fetch_status);
      return TRUE;
    case DIODE_MSG_STORED:{
      guint8 final;

      if (!(msg_get_u64 (r, &msg->stored_seq, "last_seq", error)
              && msg_get_u64 (r, &msg->stored_bytes, "bytes", error)
              && msg_get_u8 (r, &final, "final", error)))
        return FALSE;
      if (final > 1)
        return msg_bad (r, error, "final is %u (0 or 1)", final);
      msg->final = final;
      return TRUE;
    }
    default:
      g_assert_not_reached ();
      return FALSE;
  }
}

gboolean
msg_store_parse_appended (Reader * r, DiodeMsg * msg, GError ** error)
{
  /* absent: the defaults (0, start_time set by the version-1 parser) */
  if (r->pos == r->len)
    return TRUE;
  switch (r->type) {
    case DIODE_MSG_PUBLISH:
      if (!msg_get_u32 (r, &msg->pubflags, "pubflags", error))
        return FALSE;
      if (!pubflags_valid (msg->pubflags))
        return msg_bad (r, error, "pubflags 0x%x: UPLOAD without RECORD",
            msg->pubflags);
      return TRUE;
    case DIODE_MSG_PUBLISH_OK:
      if (!msg_get_u8 (r, &msg->store_state, "store", error))
        return FALSE;
      if (msg->store_state > DIODE_STORE_UNAVAILABLE)
        return msg_bad (r, error, "unknown store state %u", msg->store_state);
      return TRUE;
    case DIODE_MSG_SUBSCRIBE:
      if (!(msg_get_u8 (r, &msg->start_mode, "start_mode", error)
              && msg_get_u64 (r, &msg->start_value, "start_value", error)
              && msg_get_u8 (r, &msg->snap, "snap", error)))
        return FALSE;
      if (msg->start_mode > DIODE_START_MODE_LAST)
        return msg_bad (r, error, "unknown start_mode %u", msg->start_mode);
      if (msg->snap > DIODE_SNAP_LAST)
        return msg_bad (r, error, "unknown snap %u", msg->snap);
      if (msg->start_mode != DIODE_START_LIVE && msg->start_seq != 0)
        return msg_bad (r, error, "start_mode %u with start_seq %"
            G_GUINT64_FORMAT " (one or the other)", msg->start_mode,
            msg->start_seq);
      return TRUE;
    case DIODE_MSG_SUBSCRIBE_OK:
      if (!(msg_get_u8 (r, &msg->stream_state, "stream_state", error)
              && msg_get_u64 (r, &msg->start_time, "start_time", error)))
        return FALSE;
      if (msg->stream_state > DIODE_STREAM_STATE_LAST)
        return msg_bad (r, error, "unknown stream_state %u", msg->stream_state);
      /* live_seq, appended to version 4: absent (0, unknown) when fewer
       * than 8 bytes follow; bytes after it are ignored (section 3) */
      if (r->len - r->pos >= 8
          && !msg_get_u64 (r, &msg->live_seq, "live_seq", error))
        return FALSE;
      return TRUE;
    default:
      return TRUE;
  }
}
