/* gst-diode — fuzzing: the frame codec (gst/protocol/diode-msg*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is one frame, header included (parsed as is, and again with its
 * length field set to the input's size when it differs), read four times:
 * as version 1 (diode_msg_parse()), as a relay link, role RELAY version 2
 * (diode_msg_parse_v(), where LINK, LINK_OK, ANNOUNCE, PULL exist and
 * PUBLISH, SUBSCRIBE, SUBSCRIBE_OK carry appended fields), and at version 3
 * as a viewer's connection and as a relay link (where RANGE, RANGE_OK,
 * FETCH, CHUNK, FETCH_END, STORED exist and PUBLISH, PUBLISH_OK, SUBSCRIBE,
 * SUBSCRIBE_OK may end with a v3 block). Checks:
 *  - diode_msg_check_header() on the first 8 bytes agrees with an
 *    independent reading of the header rules (docs/protocol.md section 3);
 *  - diode_msg_parse() never crashes, and on failure sets an error of the
 *    DIODE_PROTOCOL_ERROR domain with a known code and leaves the message
 *    zeroed; on success msg->frame is the input and every string is valid
 *    UTF-8 within its limit;
 *  - round trip: a parsed message re-encoded with its encoder parses back to
 *    the same fields, and the re-encoded payload is exactly the known-fields
 *    prefix of the input payload (the encoding is canonical; bytes after the
 *    known fields are the extension area and are ignored); on a relay link,
 *    optional trailing fields the input left out are re-encoded with their
 *    defaults, after the input's bytes;
 *  - relay links: every path has at most DIODE_MAX_PATH valid lowercase
 *    addresses and is never NULL where the message has one, owners are
 *    valid addresses, ANNOUNCE.op is 0 or 1, a SUBSCRIBE_OK without policy
 *    fields fails closed (private, empty allowlist);
 *  - version 3: the v3 fields are in range (pubflags, start_mode, snap,
 *    stream_state, store, status, final), spans ordered and at most 256,
 *    chunk headers within their limits; below version 3 every v3 field
 *    keeps its default; the round trip through the version-3 encoders
 *    (diode_msg_encode_*_args, _range_ok, _chunk...) gives the same fields
 *    and agrees with the input on their common prefix;
 *  - version 4 (read as a viewer's, a publisher's connection and a relay
 *    link): SIGNAL and PATH exist for publishers and viewers only; a
 *    parsed SIGNAL has sid != 0, a kind 1..5, a peer NULL or a valid
 *    lower-case address, data within 2048 bytes of UTF-8; PATH a path
 *    0..1; a WELCOME has a stun_port only at its own version >= 4; all
 *    round-trip through their encoders (diode_msg_encode_signal, _path,
 *    _welcome_v) canonically;
 *  - the text encoders (sanitising agent/error text) and the stream-name
 *    check, fed with the input as a C string, produce frames that parse;
 *    the same bytes as SIGNAL data are refused exactly when over 2048
 *    bytes or not UTF-8, as a SIGNAL peer exactly when not an address.
 */
#include "fuzz-common.h"

#include <string.h>

#include "diode-msg.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  return 0;
}

static gboolean
msg_is_zero (const DiodeMsg * msg)
{
  static const DiodeMsg zero;

  return memcmp (msg, &zero, sizeof (zero)) == 0;
}

static gboolean
is_known_error_code (gint code)
{
  return strcmp (diode_error_code_name (code), "UNKNOWN") != 0;
}

static void
check_text (const gchar * s, gsize limit, const gchar * field)
{
  FUZZ_CHECK (s != NULL, "%s is NULL after a successful parse", field);
  FUZZ_CHECK (strlen (s) <= limit, "%s is %zu bytes, limit %zu", field,
      strlen (s), limit);
  FUZZ_CHECK (g_utf8_validate (s, -1, NULL), "%s is not UTF-8", field);
}

/* The connections a frame is read on. */
typedef struct
{
  guint16 version;
  DiodeRole role;
} Dialect;

static const Dialect dialects[] = {
  {1, 0}, {2, DIODE_ROLE_RELAY}, {3, DIODE_ROLE_VIEWER}, {3, DIODE_ROLE_RELAY},
  {4, DIODE_ROLE_VIEWER}, {4, DIODE_ROLE_PUBLISHER}, {4, DIODE_ROLE_RELAY},
};

/* The header rules, written again from the specification. */
static void
check_header_oracle (const guint8 * h, const Dialect * dl)
{
  gsize limit, len = 0;
  gboolean expect, got;
  GError *err = NULL;
  guint32 announced = fuzz_be32 (h + 4);
  gboolean link = dl->role == DIODE_ROLE_RELAY && dl->version >= 2;
  gboolean v3 = dl->version >= 3;
  gboolean v4 = dl->version >= 4 && dl->role != DIODE_ROLE_RELAY;

  switch (h[0]) {
    case DIODE_MSG_SIGNAL:
      limit = v4 ? 4096 : 0;
      break;
    case DIODE_MSG_PATH:
    case DIODE_MSG_LIST:
      limit = v4 ? 1024 : 0;
      break;
    case DIODE_MSG_LISTING:
      limit = v4 ? 512 * 1024 : 0;
      break;
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
    case DIODE_MSG_CHUNK:
    case DIODE_MSG_FETCH_END:
    case DIODE_MSG_STORED:
      limit = v3 ? 1024 : 0;
      break;
    case DIODE_MSG_RANGE_OK:
      limit = v3 ? 64 * 1024 : 0;
      break;
    case DIODE_MSG_LINK:
    case DIODE_MSG_LINK_OK:
    case DIODE_MSG_PULL:
      limit = link ? 1024 : 0;
      break;
    case DIODE_MSG_ANNOUNCE:
      limit = link ? 48 * 1024 : 0;
      break;
    case DIODE_MSG_MEDIA:
      limit = 16 * 1024 * 1024;
      break;
    case DIODE_MSG_CAPS:
      limit = 1024 * 1024;
      break;
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_POLICY:
      limit = 48 * 1024;
      break;
    case DIODE_MSG_HELLO:
    case DIODE_MSG_WELCOME:
    case DIODE_MSG_ERROR:
      limit = 8 * 1024;
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      /* carries the stream's policy to a pulling relay */
      limit = link ? 48 * 1024 : 1024;
      break;
    case DIODE_MSG_PUBLISH_OK:
    case DIODE_MSG_SUBSCRIBE:
    case DIODE_MSG_EOS:
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      limit = 1024;
      break;
    default:
      limit = 0;
  }
  expect = limit != 0 && h[1] == 0 && h[2] == 0 && h[3] == 0
      && announced <= limit;
  got = dl->version > 1 ? diode_msg_check_header_v (h, dl->version, dl->role,
      &len, &err) : diode_msg_check_header (h, &len, &err);
  FUZZ_CHECK (got == expect, "check_header(%02x %02x %02x %02x len %u) = %d, "
      "expected %d", h[0], h[1], h[2], h[3], announced, got, expect);
  FUZZ_CHECK (diode_msg_max_payload_v (h[0], dl->version, dl->role)
      == limit, "max_payload(0x%02x, v%u role %u) = %zu, expected %zu", h[0],
      dl->version, dl->role, diode_msg_max_payload_v (h[0], dl->version,
          dl->role), limit);
  if (got) {
    FUZZ_CHECK (err == NULL, "check_header succeeded with an error set");
    FUZZ_CHECK (len == announced, "payload_len %zu, header says %u", len,
        announced);
  } else {
    guint want = (limit != 0 && h[1] == 0 && h[2] == 0 && h[3] == 0) ?
        DIODE_ERR_TOO_LARGE : DIODE_ERR_PROTOCOL;

    FUZZ_CHECK (err != NULL && err->domain == DIODE_PROTOCOL_ERROR,
        "check_header failed without a protocol error");
    FUZZ_CHECK ((guint) err->code == want, "check_header error %d, expected %u",
        err->code, want);
    g_error_free (err);
  }
  /* NULL payload_len and NULL error are allowed */
  FUZZ_CHECK ((dl->version > 1 ? diode_msg_check_header_v (h, dl->version,
              dl->role, NULL, NULL) : diode_msg_check_header (h, NULL,
              NULL)) == expect,
      "check_header with NULL out-parameters disagrees");
}

static gboolean
strv_equal (gchar ** a, gchar ** b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return g_strv_equal ((const gchar * const *) a, (const gchar * const *) b);
}

static gboolean
str_equal0 (const gchar * a, const gchar * b)
{
  return g_strcmp0 (a, b) == 0;
}

/* Compares every field of two parsed messages except the raw frame (and,
 * for MEDIA, compares the payload bytes). */
static gboolean
msg_fields_equal (const DiodeMsg * a, const DiodeMsg * b)
{
  if (a->type != b->type || a->version_min != b->version_min
      || a->version_max != b->version_max || a->role != b->role
      || a->version != b->version || a->keepalive_ms != b->keepalive_ms
      || !str_equal0 (a->agent, b->agent) || !str_equal0 (a->stream, b->stream)
      || a->access != b->access || !str_equal0 (a->fleet, b->fleet)
      || !strv_equal (a->allow, b->allow) || a->start_seq != b->start_seq
      || a->wait_ms != b->wait_ms || !str_equal0 (a->caps, b->caps)
      || a->seq != b->seq || a->pts != b->pts || a->dts != b->dts
      || a->duration != b->duration || a->offset != b->offset
      || a->offset_end != b->offset_end || a->flags != b->flags
      || a->token != b->token || a->error_code != b->error_code
      || !str_equal0 (a->error_text, b->error_text)
      || a->stun_port != b->stun_port || a->sid != b->sid
      || a->signal_kind != b->signal_kind || !str_equal0 (a->peer, b->peer)
      || !str_equal0 (a->signal_data, b->signal_data)
      || a->path_kind != b->path_kind)
    return FALSE;
  if ((a->payload == NULL) != (b->payload == NULL))
    return FALSE;
  if (a->payload && !g_bytes_equal (a->payload, b->payload))
    return FALSE;
  return TRUE;
}

/* Re-encodes @msg with the encoder of its type. */
static GBytes *
reencode (const DiodeMsg * m)
{
  switch (m->type) {
    case DIODE_MSG_HELLO:
      return diode_msg_encode_hello (m->version_min, m->version_max, m->role,
          m->agent);
    case DIODE_MSG_WELCOME:
      /* a v4 block of 0 and no block read the same: the shorter form */
      if (m->stun_port)
        return diode_msg_encode_welcome_v (m->version, m->keepalive_ms,
            m->agent, m->stun_port);
      return diode_msg_encode_welcome (m->version, m->keepalive_ms, m->agent);
    case DIODE_MSG_SIGNAL:
      return diode_msg_encode_signal (m->sid, m->signal_kind, m->peer,
          m->signal_data);
    case DIODE_MSG_PATH:
      return diode_msg_encode_path (m->path_kind, m->from_seq);
    case DIODE_MSG_PUBLISH:
      return diode_msg_encode_publish_policy (m->stream, m->access, m->fleet,
          (const gchar * const *) m->allow);
    case DIODE_MSG_POLICY:
      return diode_msg_encode_policy (m->access, m->fleet,
          (const gchar * const *) m->allow);
    case DIODE_MSG_PUBLISH_OK:
      return diode_msg_encode_publish_ok (m->stream, m->seq);
    case DIODE_MSG_SUBSCRIBE:
      return diode_msg_encode_subscribe (m->stream, m->start_seq, m->wait_ms);
    case DIODE_MSG_SUBSCRIBE_OK:
      return diode_msg_encode_subscribe_ok (m->stream, m->seq);
    case DIODE_MSG_CAPS:
      return diode_msg_encode_caps (m->caps);
    case DIODE_MSG_MEDIA:{
      gsize n;
      const guint8 *d = g_bytes_get_data (m->payload, &n);

      return diode_msg_encode_media (m->seq, m->pts, m->dts, m->duration,
          m->offset, m->offset_end, m->flags, d, n);
    }
    case DIODE_MSG_EOS:
      return diode_msg_encode_eos (m->seq);
    case DIODE_MSG_PING:
      return diode_msg_encode_ping (m->token);
    case DIODE_MSG_PONG:
      return diode_msg_encode_pong (m->token);
    case DIODE_MSG_ERROR:
      return diode_msg_encode_error (m->error_code, m->error_text);
    default:
      FUZZ_CHECK (FALSE, "parse accepted unknown type 0x%02x", m->type);
      return NULL;
  }
}

/* Fields only relay links have. */
static gboolean
link_fields_equal (const DiodeMsg * a, const DiodeMsg * b)
{
  return a->op == b->op && a->has_policy == b->has_policy
      && str_equal0 (a->owner, b->owner) && strv_equal (a->path, b->path)
      && str_equal0 (a->publisher, b->publisher);
}

/* Re-encodes @m, parsed on a relay link, with the version-2 encoders. */
static GBytes *
reencode_link (const DiodeMsg * m)
{
  const gchar *const *allow = (const gchar * const *) m->allow;
  const gchar *const *path = (const gchar * const *) m->path;

  switch (m->type) {
    case DIODE_MSG_LINK:
      return diode_msg_encode_link ();
    case DIODE_MSG_LINK_OK:
      return diode_msg_encode_link_ok (path);
    case DIODE_MSG_ANNOUNCE:
      return diode_msg_encode_announce (m->op, m->stream, m->owner, m->access,
          m->fleet, allow, path);
    case DIODE_MSG_PULL:
      return diode_msg_encode_pull (m->stream, m->start_seq, path);
    case DIODE_MSG_PUBLISH:
      return diode_msg_encode_publish_relay (m->stream, m->access, m->fleet,
          allow, m->owner, path);
    case DIODE_MSG_SUBSCRIBE:
      return diode_msg_encode_subscribe_relay (m->stream, m->start_seq,
          m->wait_ms, m->publisher, path);
    case DIODE_MSG_SUBSCRIBE_OK:
      /* without policy fields: the version-1 form, which fails closed */
      if (!m->has_policy)
        return diode_msg_encode_subscribe_ok_from (m->stream, m->seq,
            m->publisher);
      return diode_msg_encode_subscribe_ok_relay (m->stream, m->seq,
          m->publisher, m->access, m->fleet, allow, path);
    default:
      return reencode (m);
  }
}

static void
check_path (gchar ** path, const gchar * what)
{
  guint i, k;

  FUZZ_CHECK (path != NULL, "%s: path NULL after parse", what);
  FUZZ_CHECK (g_strv_length (path) <= DIODE_MAX_PATH, "%s: path of %u",
      what, g_strv_length (path));
  for (i = 0; path[i]; i++) {
    FUZZ_CHECK (diode_msg_address_is_valid (path[i]), "%s: path entry '%s'",
        what, path[i]);
    for (k = 0; path[i][k]; k++)
      FUZZ_CHECK (!g_ascii_isupper (path[i][k]), "%s: '%s' not lowercase",
          what, path[i]);
  }
}

/* What a relay link adds to a parsed message. */
static void
check_parsed_link (const DiodeMsg * m)
{
  const gchar *what = diode_msg_type_name (m->type);

  switch (m->type) {
    case DIODE_MSG_LINK:
      FUZZ_CHECK (m->path == NULL && m->stream == NULL, "LINK with fields");
      break;
    case DIODE_MSG_ANNOUNCE:
      FUZZ_CHECK (m->op == DIODE_ANNOUNCE_AVAILABLE
          || m->op == DIODE_ANNOUNCE_WITHDRAWN, "ANNOUNCE op %u", m->op);
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "ANNOUNCE name fails the rules");
      if (m->op == DIODE_ANNOUNCE_AVAILABLE) {
        FUZZ_CHECK (m->fleet != NULL && m->allow != NULL
            && m->access <= DIODE_ACCESS_PRIVATE, "ANNOUNCE policy");
        FUZZ_CHECK (g_strv_length (m->allow) <= DIODE_MAX_ALLOW, "allow");
      } else {
        FUZZ_CHECK (m->owner == NULL && m->allow == NULL, "WITHDRAWN fields");
      }
      check_path (m->path, what);
      break;
    case DIODE_MSG_PULL:
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "PULL name fails the rules");
      check_path (m->path, what);
      break;
    case DIODE_MSG_LINK_OK:
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_SUBSCRIBE:
      check_path (m->path, what);
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      check_path (m->path, what);
      FUZZ_CHECK (m->fleet != NULL && m->allow != NULL, "SUBSCRIBE_OK policy");
      FUZZ_CHECK (m->has_policy || (m->access == DIODE_ACCESS_PRIVATE
              && *m->fleet == '\0' && m->allow[0] == NULL),
          "SUBSCRIBE_OK without policy does not fail closed");
      break;
    case DIODE_MSG_RANGE_OK:
      /* version 3: the owner, checked below; no path */
      FUZZ_CHECK (m->path == NULL, "RANGE_OK with a path");
      break;
    default:
      FUZZ_CHECK (m->path == NULL && m->owner == NULL,
          "%s has relay-link fields", what);
  }
  if (m->owner)
    FUZZ_CHECK (diode_msg_address_is_valid (m->owner), "owner '%s'",
        m->owner);
}

/* Per-type checks of a successfully parsed message. */
static void
check_parsed (const DiodeMsg * m, GBytes * frame)
{
  gsize size;
  const guint8 *d = g_bytes_get_data (frame, &size);
  guint i;

  FUZZ_CHECK (m->frame == frame, "msg->frame is not the parsed frame");
  FUZZ_CHECK ((guint) m->type == d[0], "type %u, header says %u", m->type,
      d[0]);
  switch (m->type) {
    case DIODE_MSG_HELLO:
    case DIODE_MSG_WELCOME:
      check_text (m->agent, DIODE_MAX_TEXT, "agent");
      break;
    case DIODE_MSG_ERROR:
      check_text (m->error_text, DIODE_MAX_TEXT, "error text");
      break;
    case DIODE_MSG_SIGNAL:
      FUZZ_CHECK (m->sid != 0, "SIGNAL sid 0 parsed");
      FUZZ_CHECK (m->signal_kind >= DIODE_SIGNAL_OFFER
          && m->signal_kind <= DIODE_SIGNAL_KIND_LAST, "SIGNAL kind %u",
          m->signal_kind);
      check_text (m->signal_data, DIODE_MAX_SIGNAL_DATA, "signal data");
      if (m->peer) {
        FUZZ_CHECK (diode_msg_address_is_valid (m->peer), "peer '%s'",
            m->peer);
        for (i = 0; m->peer[i]; i++)
          FUZZ_CHECK (!g_ascii_isupper (m->peer[i]), "peer '%s' is not "
              "lowercase", m->peer);
      }
      break;
    case DIODE_MSG_PATH:
      FUZZ_CHECK (m->path_kind <= DIODE_PATH_KIND_LAST, "PATH path %u",
          m->path_kind);
      break;
    case DIODE_MSG_CAPS:
      check_text (m->caps, DIODE_MAX_CAPS_PAYLOAD - 4, "caps");
      break;
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_POLICY:
      if (m->type == DIODE_MSG_PUBLISH)
        FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
            "parsed stream name '%s' fails check_stream_name", m->stream);
      FUZZ_CHECK (m->access <= DIODE_ACCESS_PRIVATE, "access %u", m->access);
      FUZZ_CHECK (m->fleet != NULL && m->allow != NULL,
          "fleet/allow NULL after parse");
      FUZZ_CHECK (*m->fleet == '\0'
          || diode_msg_check_stream_name (m->fleet, NULL),
          "parsed fleet fails the name rules");
      FUZZ_CHECK (g_strv_length (m->allow) <= DIODE_MAX_ALLOW,
          "allowlist of %u", g_strv_length (m->allow));
      for (i = 0; m->allow[i]; i++)
        FUZZ_CHECK (diode_msg_address_is_valid (m->allow[i]),
            "parsed address '%s' is invalid", m->allow[i]);
      break;
    case DIODE_MSG_PUBLISH_OK:
    case DIODE_MSG_SUBSCRIBE:
    case DIODE_MSG_SUBSCRIBE_OK:
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "parsed stream name '%s' fails check_stream_name", m->stream);
      break;
    case DIODE_MSG_MEDIA:{
      gsize n;
      const guint8 *p;

      FUZZ_CHECK (m->payload != NULL, "MEDIA without payload");
      p = g_bytes_get_data (m->payload, &n);
      FUZZ_CHECK (n == size - DIODE_MEDIA_PREFIX_SIZE,
          "MEDIA payload %zu bytes in a %zu-byte frame", n, size);
      FUZZ_CHECK (n == 0 || p == d + DIODE_MEDIA_PREFIX_SIZE,
          "MEDIA payload is not a slice of the frame");
      break;
    }
    default:
      break;
  }
  if (m->type != DIODE_MSG_MEDIA)
    FUZZ_CHECK (m->payload == NULL, "payload set on %s",
        diode_msg_type_name (m->type));
  /* the v4 fields belong to their types only */
  FUZZ_CHECK (m->stun_port == 0 || (m->type == DIODE_MSG_WELCOME
          && m->version >= DIODE_PROTOCOL_VERSION_DIRECT),
      "stun_port %u on a %s of version %u", m->stun_port,
      diode_msg_type_name (m->type), m->version);
  if (m->type != DIODE_MSG_SIGNAL)
    FUZZ_CHECK (m->sid == 0 && m->signal_kind == 0 && m->peer == NULL
        && m->signal_data == NULL, "SIGNAL fields set on %s",
        diode_msg_type_name (m->type));
  if (m->type != DIODE_MSG_PATH)
    FUZZ_CHECK (m->path_kind == 0, "PATH field set on %s",
        diode_msg_type_name (m->type));
}

static void
check_lowercase_addresses (const DiodeMsg * m)
{
  guint i, k;

  if (m->allow == NULL)
    return;
  for (i = 0; m->allow[i]; i++)
    for (k = 0; m->allow[i][k]; k++)
      FUZZ_CHECK (!g_ascii_isupper (m->allow[i][k]),
          "address '%s' is not lowercase", m->allow[i]);
}

/* On a relay link: the fields survive re-encoding, and the input and the
 * re-encoding agree on their common prefix (optional trailing fields the
 * input left out come back with their defaults, at the end). */
static void
round_trip_link (const DiodeMsg * m, GBytes * frame)
{
  gsize size, esize, plen, elen;
  const guint8 *d = g_bytes_get_data (frame, &size);
  const guint8 *e;
  GBytes *enc = reencode_link (m);
  DiodeMsg m2;
  GError *err = NULL;

  FUZZ_CHECK (enc != NULL, "encoder refused a %s parsed on a relay link",
      diode_msg_type_name (m->type));
  memset (&m2, 0, sizeof (m2));
  if (!diode_msg_parse_v (enc, 2, DIODE_ROLE_RELAY, &m2, &err))
    FUZZ_CHECK (FALSE, "re-encoded %s does not parse on a relay link: %s",
        diode_msg_type_name (m->type), err->message);
  FUZZ_CHECK (msg_fields_equal (m, &m2) && link_fields_equal (m, &m2),
      "relay-link round trip of %s changed a field",
      diode_msg_type_name (m->type));
  e = g_bytes_get_data (enc, &esize);
  plen = size - DIODE_FRAME_HEADER_SIZE;
  elen = esize - DIODE_FRAME_HEADER_SIZE;
  FUZZ_CHECK (memcmp (e + 8, d + 8, MIN (elen, plen)) == 0,
      "re-encoded %s differs from the input in their common prefix",
      diode_msg_type_name (m->type));
  FUZZ_CHECK (elen <= plen || m->type == DIODE_MSG_PUBLISH
      || m->type == DIODE_MSG_SUBSCRIBE || m->type == DIODE_MSG_SUBSCRIBE_OK,
      "re-encoded %s grew", diode_msg_type_name (m->type));
  diode_msg_clear (&m2);
  g_bytes_unref (enc);
}

static void
round_trip (const DiodeMsg * m, GBytes * frame)
{
  gsize size, esize, plen, elen;
  const guint8 *d = g_bytes_get_data (frame, &size);
  const guint8 *e;
  GBytes *enc = reencode (m);
  DiodeMsg m2;
  GError *err = NULL;

  FUZZ_CHECK (enc != NULL, "encoder refused a parsed %s",
      diode_msg_type_name (m->type));
  memset (&m2, 0, sizeof (m2));
  if (!diode_msg_parse (enc, &m2, &err))
    FUZZ_CHECK (FALSE, "re-encoded %s does not parse: %s",
        diode_msg_type_name (m->type), err->message);
  FUZZ_CHECK (msg_fields_equal (m, &m2), "round trip of %s changed a field",
      diode_msg_type_name (m->type));

  /* Canonical encoding: the re-encoded payload is the input's payload up to
   * the end of the known fields. A PUBLISH without the optional policy is
   * re-encoded with the default one (access 0, fleet "", no addresses). */
  e = g_bytes_get_data (enc, &esize);
  plen = size - DIODE_FRAME_HEADER_SIZE;
  elen = esize - DIODE_FRAME_HEADER_SIZE;
  FUZZ_CHECK (memcmp (e, d, 4) == 0, "re-encoded header differs");
  FUZZ_CHECK (fuzz_be32 (e + 4) == elen, "re-encoded length field wrong");
  if (m->type == DIODE_MSG_PUBLISH && elen == plen + 5) {
    static const guint8 default_policy[5] = { 0, };

    FUZZ_CHECK (*m->fleet == '\0' && m->allow[0] == NULL && m->access == 0,
        "PUBLISH grew on re-encoding but has a policy");
    FUZZ_CHECK (memcmp (e + 8 + plen, default_policy, 5) == 0,
        "default policy encoded wrongly");
    elen = plen;
  }
  FUZZ_CHECK (elen <= plen, "re-encoded %s payload is longer (%zu > %zu)",
      diode_msg_type_name (m->type), elen, plen);
  FUZZ_CHECK (memcmp (e + 8, d + 8, elen) == 0,
      "re-encoded %s payload is not a prefix of the input",
      diode_msg_type_name (m->type));
  if (m->type == DIODE_MSG_MEDIA)
    FUZZ_CHECK (elen == plen, "MEDIA re-encoding lost bytes");

  diode_msg_clear (&m2);
  g_bytes_unref (enc);
}

/* Version 3: the fields are in range; below it they keep their defaults. */
static void
check_parsed_v3 (const DiodeMsg * m, guint16 version)
{
  const gchar *what = diode_msg_type_name (m->type);
  guint i;

  if (version < 3) {
    FUZZ_CHECK (m->pubflags == 0 && m->store_state == 0 && m->start_mode == 0
        && m->start_value == 0 && m->snap == 0 && m->stream_state == 0
        && m->spans == NULL && m->n_spans == 0 && m->range_flags == 0,
        "%s parsed below version 3 has v3 fields", what);
    FUZZ_CHECK (m->start_time == (m->type == DIODE_MSG_SUBSCRIBE_OK ?
            DIODE_TIME_NONE : 0), "%s start_time %" G_GUINT64_FORMAT, what,
        m->start_time);
    return;
  }
  switch (m->type) {
    case DIODE_MSG_PUBLISH:
      FUZZ_CHECK (!(m->pubflags & DIODE_PUBLISH_UPLOAD)
          || (m->pubflags & DIODE_PUBLISH_RECORD), "UPLOAD without RECORD");
      break;
    case DIODE_MSG_PUBLISH_OK:
      FUZZ_CHECK (m->store_state <= 2, "store %u", m->store_state);
      break;
    case DIODE_MSG_SUBSCRIBE:
      FUZZ_CHECK (m->start_mode <= 4 && m->snap <= 2 && (m->start_mode == 0
              || m->start_seq == 0), "SUBSCRIBE start %u/%u/%" G_GUINT64_FORMAT,
          m->start_mode, m->snap, m->start_seq);
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      FUZZ_CHECK (m->stream_state <= 2, "stream_state %u", m->stream_state);
      break;
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "%s name fails the rules", what);
      FUZZ_CHECK (m->from_seq <= m->to_seq, "FETCH %" G_GUINT64_FORMAT "..%"
          G_GUINT64_FORMAT, m->from_seq, m->to_seq);
      break;
    case DIODE_MSG_RANGE_OK:
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "RANGE_OK name fails the rules");
      FUZZ_CHECK (m->stream_state <= 2 && m->fleet != NULL && m->allow != NULL
          && m->access <= DIODE_ACCESS_PRIVATE, "RANGE_OK fields");
      FUZZ_CHECK (m->owner == NULL || diode_msg_address_is_valid (m->owner),
          "RANGE_OK owner");
      FUZZ_CHECK (m->n_spans <= DIODE_MAX_SPANS && (m->n_spans == 0
              || m->spans != NULL), "RANGE_OK %u spans", m->n_spans);
      for (i = 0; i < m->n_spans; i++) {
        FUZZ_CHECK (m->spans[i].first_seq <= m->spans[i].last_seq,
            "span %u inverted", i);
        FUZZ_CHECK (i == 0 || m->spans[i].first_seq > m->spans[i - 1].last_seq,
            "span %u overlaps", i);
      }
      break;
    case DIODE_MSG_CHUNK:
      FUZZ_CHECK (m->chunk.n_frames >= 1 && m->chunk.n_frames <= 65536
          && m->chunk.n_prelude <= m->chunk.n_frames
          && m->chunk.bytes <= 64 * 1024 * 1024
          && (guint64) m->chunk.bytes >= 8 * (guint64) m->chunk.n_frames
          && m->chunk.first_seq <= m->chunk.last_seq, "CHUNK header");
      break;
    case DIODE_MSG_FETCH_END:
      FUZZ_CHECK (m->fetch_status <= 2, "status %u", m->fetch_status);
      break;
    case DIODE_MSG_STORED:
      FUZZ_CHECK (m->final == TRUE || m->final == FALSE, "final %d", m->final);
      break;
    default:
      break;
  }
  if (m->type != DIODE_MSG_RANGE_OK)
    FUZZ_CHECK (m->spans == NULL && m->n_spans == 0, "%s has spans", what);
  if (m->type != DIODE_MSG_SUBSCRIBE_OK)
    FUZZ_CHECK (m->start_time == 0, "%s has a start_time", what);
}

/* LIST and LISTING (section 19): mode, flags and every entry's field */
static gboolean
list_fields_equal (const DiodeMsg * a, const DiodeMsg * b)
{
  guint i;

  if (a->list_mode != b->list_mode || a->list_flags != b->list_flags
      || a->n_entries != b->n_entries)
    return FALSE;
  for (i = 0; i < a->n_entries; i++) {
    const DiodeListEntry *x = &a->entries[i], *y = &b->entries[i];

    if (strcmp (x->name, y->name) || x->state != y->state
        || x->access != y->access || x->stored != y->stored
        || !str_equal0 (x->owner, y->owner) || x->viewers != y->viewers
        || x->web_viewers != y->web_viewers
        || x->bitrate_bps != y->bitrate_bps || strcmp (x->codec, y->codec)
        || x->width != y->width || x->height != y->height
        || x->framerate_milli != y->framerate_milli
        || x->live_seq != y->live_seq || x->uptime_ms != y->uptime_ms
        || x->bytes_in != y->bytes_in || x->bytes_out != y->bytes_out)
      return FALSE;
  }
  return TRUE;
}

static gboolean
v3_fields_equal (const DiodeMsg * a, const DiodeMsg * b)
{
  return a->pubflags == b->pubflags && a->store_state == b->store_state
      && a->start_mode == b->start_mode && a->start_value == b->start_value
      && a->snap == b->snap && a->stream_state == b->stream_state
      && a->start_time == b->start_time && a->range_flags == b->range_flags
      && a->n_spans == b->n_spans && (a->n_spans == 0
      || memcmp (a->spans, b->spans, a->n_spans * sizeof (DiodeSpan)) == 0)
      && a->from_seq == b->from_seq && a->to_seq == b->to_seq
      && memcmp (&a->chunk, &b->chunk, sizeof (a->chunk)) == 0
      && a->next_seq == b->next_seq && a->fetch_status == b->fetch_status
      && a->stored_seq == b->stored_seq && a->stored_bytes == b->stored_bytes
      && a->final == b->final;
}

/* Re-encodes @m, parsed at version 3 on a connection of @dl, with the
 * version-3 encoders. */
static GBytes *
reencode_v3 (const DiodeMsg * m, const Dialect * dl)
{
  const gchar *const *allow = (const gchar * const *) m->allow;
  const gchar *const *path = (const gchar * const *) m->path;
  gboolean link = diode_msg_is_link_dialect (dl->version, dl->role);

  switch (m->type) {
    case DIODE_MSG_PUBLISH:{
      DiodePublishArgs a = { m->stream, m->access, m->fleet, allow, m->owner,
        path, m->pubflags
      };
      return diode_msg_encode_publish_args (&a, dl->version, dl->role);
    }
    case DIODE_MSG_PUBLISH_OK:
      return diode_msg_encode_publish_ok_v (m->stream, m->seq, m->store_state,
          dl->version);
    case DIODE_MSG_SUBSCRIBE:{
      DiodeSubscribeArgs a = { m->stream, m->start_seq, m->wait_ms,
        m->publisher, path, m->start_mode, m->start_value, m->snap
      };
      return diode_msg_encode_subscribe_args (&a, dl->version, dl->role);
    }
    case DIODE_MSG_SUBSCRIBE_OK:{
      DiodeSubscribeOkArgs a = { m->stream, m->seq, m->publisher, m->access,
        m->fleet, allow, path, m->stream_state, m->start_time, m->live_seq
      };
      /* a relay link's SUBSCRIBE_OK without policy: the version-1 form
       * (which fails closed), and then no v3 block either */
      if (link && !m->has_policy)
        return diode_msg_encode_subscribe_ok_from (m->stream, m->seq,
            m->publisher);
      return diode_msg_encode_subscribe_ok_args (&a, dl->version, dl->role);
    }
    case DIODE_MSG_RANGE:
      return diode_msg_encode_range (m->stream, m->range_flags);
    case DIODE_MSG_RANGE_OK:
      return diode_msg_encode_range_ok (m->stream, m->stream_state, m->owner,
          m->access, m->fleet, allow, m->spans, m->n_spans);
    case DIODE_MSG_FETCH:
      return diode_msg_encode_fetch (m->stream, m->from_seq, m->to_seq,
          m->range_flags);
    case DIODE_MSG_CHUNK:
      return diode_msg_encode_chunk (&m->chunk);
    case DIODE_MSG_FETCH_END:
      return diode_msg_encode_fetch_end (m->next_seq, m->fetch_status);
    case DIODE_MSG_STORED:
      return diode_msg_encode_stored (m->stored_seq, m->stored_bytes,
          m->final);
    case DIODE_MSG_LIST:          /* appended to version 4 (section 19) */
      return diode_msg_encode_list (m->list_mode, m->stream);
    case DIODE_MSG_LISTING:
      return diode_msg_encode_listing (m->list_flags, m->entries,
          m->n_entries);
    default:
      return link ? reencode_link (m) : reencode (m);
  }
}

/* Version 3: the fields survive re-encoding, and the input and the
 * re-encoding agree on their common prefix (a message whose optional
 * fields the input left out comes back with them, at the end). */
static void
round_trip_v3 (const DiodeMsg * m, GBytes * frame, const Dialect * dl)
{
  gsize size, esize, plen, elen;
  const guint8 *d = g_bytes_get_data (frame, &size);
  const guint8 *e;
  GBytes *enc = reencode_v3 (m, dl);
  DiodeMsg m2;
  GError *err = NULL;

  FUZZ_CHECK (enc != NULL, "encoder refused a %s parsed at version 3, role %u",
      diode_msg_type_name (m->type), dl->role);
  memset (&m2, 0, sizeof (m2));
  if (!diode_msg_parse_v (enc, dl->version, dl->role, &m2, &err))
    FUZZ_CHECK (FALSE, "re-encoded %s does not parse at version 3: %s",
        diode_msg_type_name (m->type), err->message);
  FUZZ_CHECK (msg_fields_equal (m, &m2) && link_fields_equal (m, &m2)
      && v3_fields_equal (m, &m2) && list_fields_equal (m, &m2),
      "version-3 round trip of %s changed a field",
      diode_msg_type_name (m->type));
  /* live_seq (protocol.md section 18) is sent from version 4 on; below,
   * the bytes it would be are ignored trailing bytes */
  FUZZ_CHECK (dl->version < DIODE_PROTOCOL_VERSION_DIRECT
      || m->live_seq == m2.live_seq, "round trip of %s at version %u "
      "changed live_seq", diode_msg_type_name (m->type), dl->version);
  e = g_bytes_get_data (enc, &esize);
  plen = size - DIODE_FRAME_HEADER_SIZE;
  elen = esize - DIODE_FRAME_HEADER_SIZE;
  /* an input with 1 to 7 bytes after start_time has no live_seq (0): the
   * re-encoding's 8 zero bytes stand where the input's ignored ones were */
  if (m->type == DIODE_MSG_SUBSCRIBE_OK && !m->live_seq
      && dl->version >= DIODE_PROTOCOL_VERSION_DIRECT && elen >= 8)
    elen -= 8;
  FUZZ_CHECK (memcmp (e + 8, d + 8, MIN (elen, plen)) == 0,
      "re-encoded %s differs from the input in their common prefix",
      diode_msg_type_name (m->type));
  FUZZ_CHECK (elen <= plen || m->type == DIODE_MSG_PUBLISH
      || m->type == DIODE_MSG_PUBLISH_OK || m->type == DIODE_MSG_SUBSCRIBE
      || m->type == DIODE_MSG_SUBSCRIBE_OK, "re-encoded %s grew",
      diode_msg_type_name (m->type));
  diode_msg_clear (&m2);
  g_bytes_unref (enc);
}

static void
fuzz_parse (const uint8_t * data, size_t size, const Dialect * dl)
{
  GBytes *frame = g_bytes_new (data, size);
  DiodeMsg msg;
  GError *err = NULL;
  gboolean ok;
  gboolean link = diode_msg_is_link_dialect (dl->version, dl->role);

  memset (&msg, 0xa5, sizeof (msg));   /* parse must zero it either way */
  ok = dl->version > 1 ? diode_msg_parse_v (frame, dl->version, dl->role,
      &msg, &err) : diode_msg_parse (frame, &msg, &err);
  if (ok) {
    FUZZ_CHECK (err == NULL, "parse succeeded with an error set");
    FUZZ_CHECK (size >= DIODE_FRAME_HEADER_SIZE
        && diode_msg_check_header_v (data, dl->version, dl->role, NULL, NULL)
        && fuzz_be32 (data + 4) == size - DIODE_FRAME_HEADER_SIZE,
        "parse accepted a frame whose header does not match its size");
    check_parsed (&msg, frame);
    check_lowercase_addresses (&msg);
    check_parsed_v3 (&msg, dl->version);
    if (dl->version >= 3) {
      if (link)
        check_parsed_link (&msg);
      else
        FUZZ_CHECK (msg.path == NULL && !msg.has_policy && (msg.owner == NULL
                || msg.type == DIODE_MSG_RANGE_OK),
            "version-3 viewer parse filled relay-link fields");
      round_trip_v3 (&msg, frame, dl);
    } else if (link) {
      check_parsed_link (&msg);
      round_trip_link (&msg, frame);
    } else {
      FUZZ_CHECK (msg.path == NULL && msg.owner == NULL && !msg.has_policy,
          "version-1 parse filled relay-link fields");
      round_trip (&msg, frame);
    }
    diode_msg_clear (&msg);
    FUZZ_CHECK (msg_is_zero (&msg), "diode_msg_clear left fields set");
  } else {
    FUZZ_CHECK (err != NULL && err->domain == DIODE_PROTOCOL_ERROR,
        "parse failed without a protocol error");
    FUZZ_CHECK (is_known_error_code (err->code), "unknown error code %d",
        err->code);
    FUZZ_CHECK (err->message && g_utf8_validate (err->message, -1, NULL),
        "error message is not UTF-8");
    FUZZ_CHECK (msg_is_zero (&msg), "failed parse left the message dirty");
    g_error_free (err);
  }
  g_bytes_unref (frame);
}

/* The input as a C string through the encoders that take free text or a
 * stream name. */
static void
fuzz_encoders (const uint8_t * data, size_t size)
{
  gchar *s = g_strndup ((const gchar *) data, MIN (size, 8192));
  GBytes *f;
  DiodeMsg m;
  GError *err = NULL;
  gboolean name_ok = diode_msg_check_stream_name (s, NULL);

  /* free text: never refused, repaired and cut, parses back */
  f = diode_msg_encode_error (DIODE_ERR_PROTOCOL, s);
  FUZZ_CHECK (f != NULL, "encode_error refused text");
  if (!diode_msg_parse (f, &m, &err))
    FUZZ_CHECK (FALSE, "encoded ERROR does not parse: %s", err->message);
  check_text (m.error_text, DIODE_MAX_TEXT, "error text");
  if (g_utf8_validate (s, -1, NULL) && strlen (s) <= DIODE_MAX_TEXT)
    FUZZ_CHECK (strcmp (m.error_text, s) == 0, "valid text was changed");
  diode_msg_clear (&m);
  g_bytes_unref (f);

  f = diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, s);
  FUZZ_CHECK (f != NULL, "encode_hello refused text");
  if (!diode_msg_parse (f, &m, &err))
    FUZZ_CHECK (FALSE, "encoded HELLO does not parse: %s", err->message);
  check_text (m.agent, DIODE_MAX_TEXT, "agent");
  diode_msg_clear (&m);
  g_bytes_unref (f);

  /* a stream name: the encoder accepts exactly what the check accepts, and
   * the parser accepts what the encoder produced */
  f = diode_msg_encode_subscribe (s, 0, 0);
  FUZZ_CHECK ((f != NULL) == name_ok, "encode_subscribe and "
      "check_stream_name disagree on '%s'", s);
  if (f) {
    if (!diode_msg_parse (f, &m, &err))
      FUZZ_CHECK (FALSE, "encoded SUBSCRIBE does not parse: %s",
          err->message);
    FUZZ_CHECK (strcmp (m.stream, s) == 0, "stream name changed");
    diode_msg_clear (&m);
    g_bytes_unref (f);
  }

  /* the same bytes as caps: refused only when not UTF-8 */
  f = diode_msg_encode_caps (s);
  FUZZ_CHECK ((f != NULL) == g_utf8_validate (s, -1, NULL),
      "encode_caps refusal does not match UTF-8 validity");
  if (f) {
    if (!diode_msg_parse (f, &m, &err))
      FUZZ_CHECK (FALSE, "encoded CAPS does not parse: %s", err->message);
    FUZZ_CHECK (strcmp (m.caps, s) == 0, "caps changed");
    diode_msg_clear (&m);
    g_bytes_unref (f);
  }

  /* relay links: a name in ANNOUNCE and PULL follows the same rule; an
   * address joins a path exactly when it is valid */
  f = diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE, s, NULL,
      DIODE_ACCESS_PUBLIC, NULL, NULL, NULL);
  FUZZ_CHECK ((f != NULL) == name_ok, "encode_announce and "
      "check_stream_name disagree");
  if (f) {
    if (!diode_msg_parse_v (f, 2, DIODE_ROLE_RELAY, &m, &err))
      FUZZ_CHECK (FALSE, "encoded ANNOUNCE does not parse: %s", err->message);
    FUZZ_CHECK (strcmp (m.stream, s) == 0, "stream name changed");
    diode_msg_clear (&m);
    g_bytes_unref (f);
  }
  {
    gchar **p = diode_msg_path_append (NULL, s);

    FUZZ_CHECK ((p != NULL) == diode_msg_address_is_valid (s),
        "path_append and address_is_valid disagree");
    if (p)
      FUZZ_CHECK (diode_msg_path_contains ((const gchar * const *) p, s),
          "appended address not found");
    g_strfreev (p);
  }

  /* version 3: RANGE and FETCH take a name by the same rule */
  f = diode_msg_encode_range (s, DIODE_RANGE_LOCAL);
  FUZZ_CHECK ((f != NULL) == name_ok, "encode_range and check_stream_name "
      "disagree");
  if (f) {
    if (!diode_msg_parse_v (f, 3, DIODE_ROLE_VIEWER, &m, &err))
      FUZZ_CHECK (FALSE, "encoded RANGE does not parse: %s", err->message);
    FUZZ_CHECK (strcmp (m.stream, s) == 0, "stream name changed");
    diode_msg_clear (&m);
    g_bytes_unref (f);
  }
  f = diode_msg_encode_fetch (s, 1, 2, 0);
  FUZZ_CHECK ((f != NULL) == name_ok, "encode_fetch and check_stream_name "
      "disagree");
  if (f)
    g_bytes_unref (f);

  /* version 4: SIGNAL data refused exactly when over 2048 bytes or not
   * UTF-8, a peer exactly when not an address; both parse back */
  {
    gboolean data_ok = strlen (s) <= DIODE_MAX_SIGNAL_DATA
        && g_utf8_validate (s, -1, NULL);
    gboolean peer_ok = *s == '\0' || diode_msg_address_is_valid (s);

    f = diode_msg_encode_signal (7, DIODE_SIGNAL_CANDIDATE, NULL, s);
    FUZZ_CHECK ((f != NULL) == data_ok, "encode_signal data refusal wrong");
    if (f) {
      if (!diode_msg_parse_v (f, 4, DIODE_ROLE_VIEWER, &m, &err))
        FUZZ_CHECK (FALSE, "encoded SIGNAL does not parse: %s",
            err->message);
      FUZZ_CHECK (strcmp (m.signal_data, s) == 0, "signal data changed");
      diode_msg_clear (&m);
      g_bytes_unref (f);
    }
    f = diode_msg_encode_signal (7, DIODE_SIGNAL_CLOSE, s, "");
    FUZZ_CHECK ((f != NULL) == peer_ok, "encode_signal peer refusal wrong");
    if (f) {
      if (!diode_msg_parse_v (f, 4, DIODE_ROLE_PUBLISHER, &m, &err))
        FUZZ_CHECK (FALSE, "encoded SIGNAL does not parse: %s",
            err->message);
      FUZZ_CHECK (*s ? g_ascii_strcasecmp (m.peer, s) == 0 : m.peer == NULL,
          "peer changed");
      diode_msg_clear (&m);
      g_bytes_unref (f);
    }
  }

  /* an address check never reads past the string */
  (void) diode_msg_address_is_valid (s);
  g_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  guint i;

  if (size >= DIODE_FRAME_HEADER_SIZE)
    for (i = 0; i < G_N_ELEMENTS (dialects); i++)
      check_header_oracle (data, &dialects[i]);
  for (i = 0; i < G_N_ELEMENTS (dialects); i++)
    fuzz_parse (data, size, &dialects[i]);
  /* Most mutations change the size without the header's length field, and
   * the parser rightly stops there. Parse a copy with the length fixed too,
   * so mutations reach the payload fields. */
  if (size >= DIODE_FRAME_HEADER_SIZE
      && fuzz_be32 (data + 4) != size - DIODE_FRAME_HEADER_SIZE
      && size - DIODE_FRAME_HEADER_SIZE <= G_MAXUINT32) {
    guint8 *copy = g_memdup2 (data, size);
    gsize len = size - DIODE_FRAME_HEADER_SIZE;

    copy[4] = len >> 24;
    copy[5] = len >> 16;
    copy[6] = len >> 8;
    copy[7] = len;
    for (i = 0; i < G_N_ELEMENTS (dialects); i++)
      fuzz_parse (copy, size, &dialects[i]);
    g_free (copy);
  }
  fuzz_encoders (data, size);
  return 0;
}
