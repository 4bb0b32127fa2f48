/* gst-diode — one stored chunk and its record layout on disk (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The layout and the rules are in diode-chunkrec.h. Every length is checked
 * against its limit before it is used to allocate or to index.
 */
#include "diode-chunkrec.h"
#include "diode-store-be.h"

#include <string.h>
#include <zlib.h>

G_DEFINE_QUARK (diode-store-error-quark, diode_store_error);

static void
frames_unref (gpointer p)
{
  g_bytes_unref (p);
}

DiodeStoredChunk *
diode_stored_chunk_new (const DiodeChunkHeader *hdr, GPtrArray *frames)
{
  DiodeStoredChunk *c = g_new0 (DiodeStoredChunk, 1);

  c->ref_count = 1;
  c->hdr = *hdr;
  c->frames = frames;
  /* the caller's array may lack a free function: the chunk owns the refs */
  g_ptr_array_set_free_func (c->frames, frames_unref);
  return c;
}

static guint8
frame_type (GBytes *frame)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (frame, &len);

  return len > 0 ? d[0] : 0;
}

void
diode_ring_crc_update (DiodeRingCrc *rcrc, DiodeChunk *c)
{
  /* a ring chunk's frames are only ever appended */
  for (; rcrc->n < c->frames->len; rcrc->n++) {
    GBytes *f = g_ptr_array_index (c->frames, rcrc->n);

    rcrc->crc = diode_chunk_crc (rcrc->crc, f);
    rcrc->len += g_bytes_get_size (f);
  }
}

DiodeStoredChunk *
diode_stored_chunk_new_from_ring (DiodeChunk *rc, guint64 wall_us, gboolean discont)
{
  return diode_stored_chunk_new_from_ring_crc (rc, wall_us, discont, NULL);
}

DiodeStoredChunk *
diode_stored_chunk_new_from_ring_crc (DiodeChunk *rc, guint64 wall_us, gboolean discont,
    const DiodeRingCrc *done)
{
  DiodeChunkHeader hdr = { 0, };
  GPtrArray *frames;
  DiodeRingCrc rest = { 0, };
  guint64 last_seq = 0;
  guint32 crc = 0;
  guint64 bytes = 0;
  guint i, n;

  n = (rc->caps_frame ? 1 : 0) + (rc->header_frames ? rc->header_frames->len : 0)
      + rc->frames->len;
  frames = g_ptr_array_new_full (n, frames_unref);
  if (rc->caps_frame)
    g_ptr_array_add (frames, g_bytes_ref (rc->caps_frame));
  if (rc->header_frames)
    for (i = 0; i < rc->header_frames->len; i++)
      g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (rc->header_frames, i)));
  hdr.n_prelude = frames->len;
  for (i = 0; i < rc->frames->len; i++)
    g_ptr_array_add (frames, g_bytes_ref (g_ptr_array_index (rc->frames, i)));
  for (i = 0; i < rc->seqs->len; i++)
    last_seq = MAX (last_seq, g_array_index (rc->seqs, guint64, i));
  /* prelude, then the frames: the CRC kept over the first of them
   * (@done) joined with crc32_combine, the rest computed now */
  for (i = 0; i < hdr.n_prelude; i++) {
    GBytes *f = g_ptr_array_index (frames, i);

    crc = diode_chunk_crc (crc, f);
    bytes += g_bytes_get_size (f);
  }
  if (done && done->n <= rc->frames->len)
    rest = *done;
  diode_ring_crc_update (&rest, rc);
  crc = rest.len > 0 ? (guint32) crc32_combine (crc, rest.crc, (z_off_t) rest.len) : crc;
  bytes += rest.len;

  hdr.first_seq = rc->first_seq;
  hdr.last_seq = last_seq;
  hdr.time = rc->start_time;
  hdr.end_time = rc->end_time;
  hdr.wall_us = wall_us;
  hdr.flags = (rc->keyframe ? DIODE_CHUNK_KEYFRAME : 0)
      | (rc->continuation ? DIODE_CHUNK_CONTINUATION : 0)
      | (discont ? DIODE_CHUNK_DISCONT : 0);
  if (rc->frames->len > 0
      && frame_type (g_ptr_array_index (rc->frames, rc->frames->len - 1)) == DIODE_MSG_EOS)
    hdr.flags |= DIODE_CHUNK_EOS;
  hdr.n_frames = frames->len;
  /* a ring chunk is bounded far below 4 GiB; saturate rather than wrap so
   * that diode_chunkrec_check_header() refuses an absurd one */
  hdr.bytes = bytes > G_MAXUINT32 ? G_MAXUINT32 : (guint32) bytes;
  hdr.crc = crc;
  return diode_stored_chunk_new (&hdr, frames);
}

DiodeStoredChunk *
diode_stored_chunk_ref (DiodeStoredChunk *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  g_atomic_int_inc (&c->ref_count);
  return c;
}

void
diode_stored_chunk_unref (DiodeStoredChunk *c)
{
  if (c == NULL)
    return;
  if (!g_atomic_int_dec_and_test (&c->ref_count))
    return;
  g_ptr_array_unref (c->frames);
  g_free (c);
}

gsize
diode_stored_chunk_cost (const DiodeStoredChunk *c)
{
  gsize cost = DIODE_STORED_CHUNK_OVERHEAD;
  guint i;

  for (i = 0; i < c->frames->len; i++)
    cost += g_bytes_get_size (g_ptr_array_index (c->frames, i)) + DIODE_STORED_FRAME_OVERHEAD;
  return cost;
}

gboolean
diode_chunkrec_check_header (const DiodeChunkHeader *h, GError **error)
{
  const gchar *why = NULL;

  if (h->n_frames < 1 || h->n_frames > DIODE_MAX_CHUNK_FRAMES)
    why = "frame count out of range";
  else if (h->n_prelude > h->n_frames)
    why = "more prelude frames than frames";
  else if (h->bytes > DIODE_MAX_CHUNK_BYTES)
    why = "more bytes than a chunk may hold";
  else if ((guint64) h->n_frames * DIODE_FRAME_HEADER_SIZE > h->bytes)
    why = "fewer bytes than its frames' headers";
  else if (h->first_seq == 0 || h->first_seq > h->last_seq)
    why = "bad sequence range";
  else if (h->last_seq == G_MAXUINT64)
    /* nothing could follow it: a reader's next seq would wrap to 0 */
    why = "last seq at the end of the seq space";
  if (why) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "chunk header: %s (seqs %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
        ", %u frames, %u bytes)", why, h->first_seq, h->last_seq, h->n_frames, h->bytes);
    return FALSE;
  }
  return TRUE;
}

/* The header against the frames it carries (a forged or confused source:
 * correct count, bytes and CRC, but seqs that say something else; a reader
 * going by the header would ask again and again, or wrap): first_seq and
 * last_seq are the first and last MEDIA seq of the chunk proper (the
 * prelude's CAPS and stream headers are older frames, not counted), its
 * MEDIA seqs strictly increase, and its times do not run backwards
 * (end_time G_MAXUINT64: unknown). Refused as INVALID (not DAMAGED: the
 * bytes are what the source meant to send). */
static gboolean
chunk_check_seqs (const DiodeStoredChunk *c, GError **error)
{
  guint64 first = 0, last = 0;
  const gchar *why = NULL;
  guint i;

  for (i = c->hdr.n_prelude; i < c->frames->len && !why; i++) {
    gsize len;
    const guint8 *d = g_bytes_get_data (g_ptr_array_index (c->frames, i), &len);
    guint64 seq;

    if (len < 1 || d[0] != DIODE_MSG_MEDIA)
      continue;
    if (len < DIODE_FRAME_HEADER_SIZE + 8) {
      why = "a MEDIA frame too short to hold its seq";
      break;
    }
    memcpy (&seq, d + DIODE_FRAME_HEADER_SIZE, 8);
    seq = GUINT64_FROM_BE (seq);
    if (seq == 0 || seq <= last)
      why = "MEDIA seqs that do not strictly increase";
    if (!first)
      first = seq;
    last = seq;
  }
  if (!why && !first)
    why = "no MEDIA frame after its prelude";
  else if (!why && (first != c->hdr.first_seq || last != c->hdr.last_seq))
    why = "a seq range that is not its MEDIA frames'";
  else if (!why && c->hdr.end_time != G_MAXUINT64 && c->hdr.end_time < c->hdr.time)
    why = "an end time before its start time";
  if (why) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "chunk header %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ": %s (MEDIA seqs %"
        G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")", c->hdr.first_seq, c->hdr.last_seq, why,
        first, last);
    return FALSE;
  }
  return TRUE;
}

gboolean
diode_stored_chunk_verify (const DiodeStoredChunk *c, GError **error)
{
  guint64 bytes = 0;
  guint32 crc = 0;
  guint i;

  if (!diode_chunkrec_check_header (&c->hdr, error))
    return FALSE;
  if (c->frames->len != c->hdr.n_frames) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
        "chunk %" G_GUINT64_FORMAT ": %u frames, header says %u",
        c->hdr.first_seq, c->frames->len, c->hdr.n_frames);
    return FALSE;
  }
  for (i = 0; i < c->frames->len; i++) {
    GBytes *f = g_ptr_array_index (c->frames, i);

    bytes += g_bytes_get_size (f);
    crc = diode_chunk_crc (crc, f);
  }
  if (bytes != c->hdr.bytes) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
        "chunk %" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT " bytes, header says %u",
        c->hdr.first_seq, bytes, c->hdr.bytes);
    return FALSE;
  }
  if (crc != c->hdr.crc) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
        "chunk %" G_GUINT64_FORMAT ": checksum mismatch (%08x, header says %08x)",
        c->hdr.first_seq, crc, c->hdr.crc);
    return FALSE;
  }
  return chunk_check_seqs (c, error);
}

void
diode_chunkrec_write_header (const DiodeChunkHeader *h, guint8 out[DIODE_CHUNKREC_HEADER_SIZE])
{
  store_put64 (out, h->first_seq);
  store_put64 (out + 8, h->last_seq);
  store_put64 (out + 16, h->time);
  store_put64 (out + 24, h->end_time);
  store_put64 (out + 32, h->wall_us);
  store_put32 (out + 40, h->flags);
  store_put32 (out + 44, h->n_prelude);
  store_put32 (out + 48, h->n_frames);
  store_put32 (out + 52, h->bytes);
  store_put32 (out + 56, h->crc);
}

void
diode_chunkrec_read_header (const guint8 in[DIODE_CHUNKREC_HEADER_SIZE], DiodeChunkHeader *h)
{
  h->first_seq = store_get64 (in);
  h->last_seq = store_get64 (in + 8);
  h->time = store_get64 (in + 16);
  h->end_time = store_get64 (in + 24);
  h->wall_us = store_get64 (in + 32);
  h->flags = store_get32 (in + 40);
  h->n_prelude = store_get32 (in + 44);
  h->n_frames = store_get32 (in + 48);
  h->bytes = store_get32 (in + 52);
  h->crc = store_get32 (in + 56);
}

void
diode_chunkrec_write_head (const DiodeChunkHeader *h, guint8 out[DIODE_CHUNKREC_HEAD_SIZE])
{
  store_put32 (out, DIODE_CHUNKREC_MAGIC);
  store_put32 (out + 4, DIODE_CHUNKREC_HEADER_SIZE + h->bytes);
  diode_chunkrec_write_header (h, out + DIODE_CHUNKREC_PREFIX_SIZE);
  /* the CRC covers magic + length + chunk header: computed with the CRC
   * field itself left out */
  store_put32 (out + 8, 0);
  {
    guint32 crc = crc32 (0, out, 8);

    crc = crc32 (crc, out + DIODE_CHUNKREC_PREFIX_SIZE, DIODE_CHUNKREC_HEADER_SIZE);
    store_put32 (out + 8, crc);
  }
}

gboolean
diode_chunkrec_parse_head (const guint8 in[DIODE_CHUNKREC_HEAD_SIZE], DiodeChunkHeader *hdr,
    GError **error)
{
  guint32 crc;

  if (store_get32 (in) != DIODE_CHUNKREC_MAGIC) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID, "no record magic");
    return FALSE;
  }
  crc = crc32 (0, in, 8);
  crc = crc32 (crc, in + DIODE_CHUNKREC_PREFIX_SIZE, DIODE_CHUNKREC_HEADER_SIZE);
  if (crc != store_get32 (in + 8)) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "record header checksum mismatch");
    return FALSE;
  }
  diode_chunkrec_read_header (in + DIODE_CHUNKREC_PREFIX_SIZE, hdr);
  if (!diode_chunkrec_check_header (hdr, error))
    return FALSE;
  if (store_get32 (in + 4) != (guint64) DIODE_CHUNKREC_HEADER_SIZE + hdr->bytes) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "record length %u does not match its %u frame bytes", store_get32 (in + 4), hdr->bytes);
    return FALSE;
  }
  return TRUE;
}

/* The payload limit of a frame type that may appear in a chunk, or 0. */
static guint32
chunk_frame_limit (guint8 type)
{
  switch (type) {
    case DIODE_MSG_CAPS:
      return DIODE_MAX_CAPS_PAYLOAD;
    case DIODE_MSG_MEDIA:
      return DIODE_MAX_MEDIA_PAYLOAD;
    case DIODE_MSG_EOS:
      return DIODE_MAX_SMALL_PAYLOAD;
    default:
      return 0;
  }
}

DiodeStoredChunk *
diode_chunkrec_parse_frames (const DiodeChunkHeader *hdr, GBytes *data, GError **error)
{
  gsize len, off = 0;
  const guint8 *d = g_bytes_get_data (data, &len);
  GPtrArray *frames;
  guint32 crc = 0;
  guint i;
  DiodeStoredChunk *c;

  if (!diode_chunkrec_check_header (hdr, error))
    return NULL;
  if (len != hdr->bytes) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
        "chunk %" G_GUINT64_FORMAT ": %" G_GSIZE_FORMAT " frame bytes, header says %u",
        hdr->first_seq, len, hdr->bytes);
    return NULL;
  }
  /* the checksum first: a damaged chunk is refused before any frame of it
   * is looked at */
  crc = crc32 (0, d, len);
  if (crc != hdr->crc) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
        "chunk %" G_GUINT64_FORMAT ": checksum mismatch (%08x, header says %08x)",
        hdr->first_seq, crc, hdr->crc);
    return NULL;
  }
  frames = g_ptr_array_new_full (hdr->n_frames, frames_unref);
  for (i = 0; i < hdr->n_frames; i++) {
    guint32 plen, limit;

    if (len - off < DIODE_FRAME_HEADER_SIZE)
      goto bad;
    plen = store_get32 (d + off + 4);
    limit = chunk_frame_limit (d[off]);
    if (limit == 0 || plen > limit || d[off + 1] != 0 || d[off + 2] != 0 || d[off + 3] != 0
        || plen > len - off - DIODE_FRAME_HEADER_SIZE)
      goto bad;
    g_ptr_array_add (frames, g_bytes_new_from_bytes (data, off, DIODE_FRAME_HEADER_SIZE + plen));
    off += DIODE_FRAME_HEADER_SIZE + plen;
  }
  if (off != len)
    goto bad;
  c = diode_stored_chunk_new (hdr, frames);
  return c;

bad:
  g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_DAMAGED,
      "chunk %" G_GUINT64_FORMAT ": frame %u of %u is not a well-formed CAPS, MEDIA or EOS frame"
      " within the chunk's bytes", hdr->first_seq, i, hdr->n_frames);
  g_ptr_array_unref (frames);
  return NULL;
}

DiodeStoredChunk *
diode_chunkrec_parse (const guint8 *data, gsize len, GError **error)
{
  DiodeChunkHeader hdr;
  GBytes *frames;
  DiodeStoredChunk *c;

  if (len < DIODE_CHUNKREC_HEAD_SIZE) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID, "record too short");
    return NULL;
  }
  if (!diode_chunkrec_parse_head (data, &hdr, error))
    return NULL;
  if (len - DIODE_CHUNKREC_HEAD_SIZE != hdr.bytes) {
    g_set_error (error, DIODE_STORE_ERROR, DIODE_STORE_ERROR_INVALID,
        "record holds %" G_GSIZE_FORMAT " frame bytes, header says %u",
        len - DIODE_CHUNKREC_HEAD_SIZE, hdr.bytes);
    return NULL;
  }
  frames = g_bytes_new (data + DIODE_CHUNKREC_HEAD_SIZE, hdr.bytes);
  c = diode_chunkrec_parse_frames (&hdr, frames, error);
  g_bytes_unref (frames);
  return c;
}

GBytes *
diode_chunkrec_serialize (const DiodeStoredChunk *c)
{
  GByteArray *a = g_byte_array_sized_new (DIODE_CHUNKREC_HEAD_SIZE + c->hdr.bytes);
  guint8 head[DIODE_CHUNKREC_HEAD_SIZE];
  guint i;

  diode_chunkrec_write_head (&c->hdr, head);
  g_byte_array_append (a, head, sizeof head);
  for (i = 0; i < c->frames->len; i++) {
    gsize n;
    const guint8 *d = g_bytes_get_data (g_ptr_array_index (c->frames, i), &n);

    g_byte_array_append (a, d, n);
  }
  return g_byte_array_free_to_bytes (a);
}
