/* gst-diode — session state machine (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Receive buffering plus the per-end rules of docs/protocol.md ("Connection
 * flow"). Every failure closes the session for good and is remembered, so a
 * caller that keeps calling diode_session_next() keeps getting the same error
 * instead of resynchronising on garbage. This file: the session object,
 * its receive buffer and what it admits and receives; what each end may
 * send is in diode-session-send.c, the state both share in
 * diode-session-private.h.
 */
#include "diode-session.h"
#include "diode-session-private.h"

#include <string.h>

/* Below this, a fresh receive buffer is not worth allocating smaller. */
#define MIN_ALLOC 4096

DiodeSession *
diode_session_new (DiodeSessionEnd end)
{
  DiodeSession *s = g_new0 (DiodeSession, 1);

  s->end = end;
  s->state = end == DIODE_SESSION_RELAY_END ?
      DIODE_SESSION_AWAIT_HELLO : DIODE_SESSION_AWAIT_WELCOME;
  return s;
}

void
diode_session_free (DiodeSession * s)
{
  if (s == NULL)
    return;
  g_free (s->buf);
  g_clear_error (&s->error);
  g_free (s);
}

DiodeSessionState
diode_session_get_state (DiodeSession * s)
{
  return s->state;
}

const gchar *
diode_session_state_name (DiodeSessionState state)
{
  switch (state) {
    case DIODE_SESSION_AWAIT_HELLO:
      return "AWAIT_HELLO";
    case DIODE_SESSION_AWAIT_WELCOME:
      return "AWAIT_WELCOME";
    case DIODE_SESSION_READY:
      return "READY";
    case DIODE_SESSION_PUBLISHING:
      return "PUBLISHING";
    case DIODE_SESSION_SUBSCRIBING:
      return "SUBSCRIBING";
    case DIODE_SESSION_SUBSCRIBED:
      return "SUBSCRIBED";
    case DIODE_SESSION_CLOSED:
      return "CLOSED";
    case DIODE_SESSION_LINKING:
      return "LINKING";
    case DIODE_SESSION_LINKED:
      return "LINKED";
    case DIODE_SESSION_FETCHING:
      return "FETCHING";
    default:
      return "UNKNOWN";
  }
}

DiodeRole
diode_session_get_role (DiodeSession * s)
{
  return s->role;
}

guint16
diode_session_get_version (DiodeSession * s)
{
  return s->version;
}

void
diode_session_get_offered (DiodeSession * s, guint16 * version_min,
    guint16 * version_max)
{
  if (version_min)
    *version_min = s->offer_min;
  if (version_max)
    *version_max = s->offer_max;
}

gboolean
diode_session_is_link (DiodeSession * s)
{
  return diode_msg_is_link_dialect (s->version, s->role);
}

gboolean
diode_session_check_link_version (DiodeSession * s, GError ** error)
{
  g_return_val_if_fail (s != NULL, FALSE);

  if (s->end != DIODE_SESSION_RELAY_END || s->role != DIODE_ROLE_RELAY
      || s->version >= DIODE_PROTOCOL_VERSION_LINK)
    return TRUE;
  g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_VERSION,
      "relay links need protocol version %d: the relay offered versions "
      "%u..%u, this relay speaks 1..%d", DIODE_PROTOCOL_VERSION_LINK,
      s->offer_min, s->offer_max, DIODE_PROTOCOL_VERSION_MAX);
  return FALSE;
}

guint16
diode_version_choose (guint16 our_min, guint16 our_max, guint16 their_min,
    guint16 their_max)
{
  guint16 lo = MAX (our_min, their_min);
  guint16 hi = MIN (our_max, their_max);

  /* version 0 does not exist; an inverted range offers nothing */
  if (hi == 0 || lo > hi)
    return 0;
  return hi;
}

/* ------------------------------------------------------------------------ */
/* Closing                                                                  */

void
session_close_with (DiodeSession * s, GError * err)
{
  s->state = DIODE_SESSION_CLOSED;
  s->pending = 0;
  s->chunk_left = 0;
  if (s->error == NULL)
    s->error = err;
  else
    g_error_free (err);
  /* Nothing buffered will ever be read again. */
  g_clear_pointer (&s->buf, g_free);
  s->alloc = s->head = s->tail = 0;
  s->have_header = FALSE;
}

static DiodeSessionResult
fail (DiodeSession * s, GError * err, GError ** error)
{
  session_close_with (s, err);
  g_propagate_error (error, g_error_copy (s->error));
  return DIODE_SESSION_ERROR;
}

/* ------------------------------------------------------------------------ */
/* Receive buffer                                                           */

static gboolean admit_header (DiodeSession * s, GError ** error);

gsize
diode_session_buffered (DiodeSession * s)
{
  return s->tail - s->head;
}

/* Appends @len bytes, making room first. */
static void
append_bytes (DiodeSession * s, const guint8 * data, gsize len)
{
  gsize used = s->tail - s->head;

  if (s->alloc - s->tail < len) {
    if (s->head > 0) {
      /* reclaim the consumed space first */
      memmove (s->buf, s->buf + s->head, used);
      s->head = 0;
      s->tail = used;
    }
    if (s->alloc - s->tail < len) {
      gsize want = used + len;
      gsize n = MAX (MAX (s->alloc * 2, MIN_ALLOC), want);

      /* When the frame being received is known, make room for exactly the
       * rest of it: a large MEDIA frame then never reallocates twice. */
      if (s->have_header) {
        gsize frame = DIODE_FRAME_HEADER_SIZE + s->frame_len;

        if (frame > want && frame < n)
          n = frame;
      }
      s->buf = g_realloc (s->buf, n);
      s->alloc = n;
    }
  }
  memcpy (s->buf + s->tail, data, len);
  s->tail += len;
}

void
diode_session_feed (DiodeSession * s, const guint8 * data, gsize len)
{
  gsize used;

  g_return_if_fail (s != NULL);
  g_return_if_fail (data != NULL || len == 0);

  /* A closed session reads nothing more: keeping a misbehaving peer's bytes
   * would only cost memory. */
  if (s->state == DIODE_SESSION_CLOSED || len == 0)
    return;

  /* The frame at head is the next one next() returns, so the state it will
   * be judged in is the current one: judge its header as soon as the 8th
   * byte arrives, before taking a byte of its payload. A refused frame
   * closes the session here and nothing of it stays buffered. */
  used = s->tail - s->head;
  if (!s->have_header && used < DIODE_FRAME_HEADER_SIZE
      && used + len >= DIODE_FRAME_HEADER_SIZE) {
    gsize part = DIODE_FRAME_HEADER_SIZE - used;
    GError *err = NULL;

    append_bytes (s, data, part);
    data += part;
    len -= part;
    if (!admit_header (s, &err)) {
      session_close_with (s, err);
      return;
    }
  }
  if (len > 0)
    append_bytes (s, data, len);
}

/* Takes the complete frame at head out of the buffer. */
static GBytes *
take_frame (DiodeSession * s)
{
  gsize size = DIODE_FRAME_HEADER_SIZE + s->frame_len;
  GBytes *frame;

  if (s->head == 0 && s->tail == size && size >= MIN_ALLOC) {
    /* The buffer holds exactly this frame (the usual case for a large
     * MEDIA frame read in pieces): hand the memory over instead of copying
     * it; the next feed allocates afresh. */
    frame = g_bytes_new_take (g_realloc (s->buf, size), size);
    s->buf = NULL;
    s->alloc = s->head = s->tail = 0;
  } else {
    frame = g_bytes_new (s->buf + s->head, size);
    s->head += size;
    if (s->head == s->tail)
      s->head = s->tail = 0;
  }
  s->have_header = FALSE;
  return frame;
}

/* ------------------------------------------------------------------------ */
/* State rules                                                              */

gboolean
session_set_error (GError ** error, guint code, const gchar * format, ...)
{
  va_list args;
  gchar *text;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, DIODE_PROTOCOL_ERROR, code, text);
  g_free (text);
  return FALSE;
}

static gboolean
unexpected (DiodeSession * s, guint type, GError ** error)
{
  return session_set_error (error, DIODE_ERR_PROTOCOL,
      "unexpected %s from %s in state %s", diode_msg_type_name (type),
      s->end == DIODE_SESSION_RELAY_END ? "client" : "relay",
      diode_session_state_name (s->state));
}

/* MEDIA seq must strictly increase. EOS carries the seq of the last MEDIA
 * before it (0 if none), so it may repeat that number but not go back. */
static gboolean
check_seq (DiodeSession * s, const DiodeMsg * msg, GError ** error)
{
  gboolean is_eos = msg->type == DIODE_MSG_EOS;

  if (is_eos ? msg->seq < s->last_seq : msg->seq <= s->last_seq) {
    if (!is_eos && msg->seq == 0)
      return session_set_error (error, DIODE_ERR_PROTOCOL,
          "MEDIA seq 0: sequence numbers start at 1");
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "%s seq %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT,
        diode_msg_type_name (msg->type), msg->seq, s->last_seq);
  }
  s->last_seq = msg->seq;
  return TRUE;
}

/* SIGNAL kinds that go one way only: OFFER opens a direct session from the
 * viewer's side, ANSWER is the publisher's reply. The receiver judges the
 * sender's role: relay end, the peer's; client end, its own (so the
 * relay's role is the opposite). */
static gboolean
check_signal_kind (DiodeSession * s, const DiodeMsg * msg, GError ** error)
{
  DiodeRole from;

  if (s->end == DIODE_SESSION_RELAY_END)
    from = s->role;
  else
    from = s->role == DIODE_ROLE_VIEWER ? DIODE_ROLE_PUBLISHER :
        DIODE_ROLE_VIEWER;
  if ((msg->signal_kind == DIODE_SIGNAL_OFFER && from != DIODE_ROLE_VIEWER)
      || (msg->signal_kind == DIODE_SIGNAL_ANSWER
          && from != DIODE_ROLE_PUBLISHER))
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "SIGNAL %s %s a %s (OFFER goes viewer -> publisher, ANSWER "
        "publisher -> viewer)", diode_signal_kind_name (msg->signal_kind),
        s->end == DIODE_SESSION_RELAY_END ? "from" : "to",
        s->role == DIODE_ROLE_VIEWER ? "viewer" : "publisher");
  return TRUE;
}

/* An ERROR from the peer: legal in any state once the handshake began. A
 * fatal one closes. At the client end a refusal (1xx) is the relay's answer
 * to the pending request, which is then over; at the relay end a client's
 * refusal answers nothing. The ERROR itself is returned as a message. */
static void
received_error (DiodeSession * s, const DiodeMsg * msg)
{
  if (diode_error_code_is_fatal (msg->error_code)) {
    GError *err = g_error_new (DIODE_PROTOCOL_ERROR, msg->error_code,
        "session closed: peer sent ERROR %u (%s): %s", msg->error_code,
        diode_error_code_name (msg->error_code), msg->error_text);

    session_close_with (s, err);
    return;
  }
  if (s->end == DIODE_SESSION_CLIENT_END && s->pending != 0) {
    s->pending = 0;
    /* a refusal may come in the middle of a FETCH's chunks: what was
     * outstanding of a chunk will not come */
    s->chunk_left = 0;
    if (s->state == DIODE_SESSION_SUBSCRIBING
        || s->state == DIODE_SESSION_LINKING
        || s->state == DIODE_SESSION_FETCHING)
      s->state = DIODE_SESSION_READY;
  }
}

/* Whether a frame of @type may arrive now, judged from the type alone (the
 * header), for this end, role and state: docs/protocol.md section 3, "What a
 * receiver admits". Everything that can be decided before the payload is
 * here, so a frame that could never be accepted costs its 8 header bytes and
 * no more. The message checks that need the payload (HELLO's versions and
 * role, sequence numbers) come after parsing. */
static gboolean
relay_end_admits (DiodeSession * s, guint type, GError ** error)
{
  if (s->state == DIODE_SESSION_AWAIT_HELLO) {
    /* A client that gives up at once may say why (ERROR); nothing else. */
    if (type != DIODE_MSG_HELLO && type != DIODE_MSG_ERROR)
      return session_set_error (error, DIODE_ERR_PROTOCOL, "expected HELLO, got %s",
          diode_msg_type_name (type));
    return TRUE;
  }

  switch (type) {
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
    case DIODE_MSG_ERROR:
      return TRUE;
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_SUBSCRIBE:
    case DIODE_MSG_LINK:
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
    case DIODE_MSG_LIST:
      if (s->state != DIODE_SESSION_READY)
        return unexpected (s, type, error);
      if (s->pending != 0)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "%s while a %s is pending", diode_msg_type_name (type),
            diode_msg_type_name (s->pending));
      /* the header check let LINK through only in the relay-link dialect */
      if (type == DIODE_MSG_LINK)
        return TRUE;
      /* LIST only at version 4 from a publisher or viewer, the same way
       * (docs/protocol.md section 19): either may ask what it may watch */
      if (type == DIODE_MSG_LIST)
        return TRUE;
      /* and RANGE/FETCH only at version 3; they read what is held, which
       * is watching: viewers and relays, never publishers */
      if ((type == DIODE_MSG_RANGE || type == DIODE_MSG_FETCH)
          && s->role == DIODE_ROLE_PUBLISHER)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "%s from a client with role PUBLISHER",
            diode_msg_type_name (type));
      /* Viewers only watch, publishers only publish; relay links do both. */
      if ((type == DIODE_MSG_PUBLISH && s->role == DIODE_ROLE_VIEWER) ||
          (type == DIODE_MSG_SUBSCRIBE && s->role == DIODE_ROLE_PUBLISHER))
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "%s from a client with role %s", diode_msg_type_name (type),
            s->role == DIODE_ROLE_VIEWER ? "VIEWER" : "PUBLISHER");
      return TRUE;
    case DIODE_MSG_ANNOUNCE:
      if (s->state != DIODE_SESSION_LINKED)
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_SIGNAL:
      /* version 4 (the header check knows the type only there, never on a
       * relay link): between a publisher that is publishing and a viewer
       * that is subscribed, nobody else (docs/protocol.md section 17) */
      if (!(s->state == DIODE_SESSION_PUBLISHING
              && s->role == DIODE_ROLE_PUBLISHER)
          && !(s->state == DIODE_SESSION_SUBSCRIBED
              && s->role == DIODE_ROLE_VIEWER))
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_PATH:
      /* where a subscribed viewer takes its media from */
      if (s->state != DIODE_SESSION_SUBSCRIBED
          || s->role != DIODE_ROLE_VIEWER)
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_POLICY:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      /* only a PUBLISH_OK leads here, and a viewer never gets one */
      if (s->state != DIODE_SESSION_PUBLISHING)
        return unexpected (s, type, error);
      /* EOS ends the publish session: refused from the header, so nothing
       * after it is buffered (docs/protocol.md section 8) */
      if (s->publish_ended)
        return session_set_error (error, DIODE_ERR_PROTOCOL, "%s after EOS",
            diode_msg_type_name (type));
      return TRUE;
    default:
      /* HELLO again, or a message only a relay sends */
      return unexpected (s, type, error);
  }
}

static gboolean
client_end_admits (DiodeSession * s, guint type, GError ** error)
{
  if (!s->hello_done)
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "%s from relay before HELLO was sent", diode_msg_type_name (type));

  if (type == DIODE_MSG_ERROR)
    return TRUE;

  if (s->state == DIODE_SESSION_AWAIT_WELCOME) {
    if (type != DIODE_MSG_WELCOME)
      return session_set_error (error, DIODE_ERR_PROTOCOL,
          "expected WELCOME, got %s", diode_msg_type_name (type));
    return TRUE;
  }

  switch (type) {
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      return TRUE;
    case DIODE_MSG_PUBLISH_OK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_PUBLISH)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "PUBLISH_OK in state %s without a pending PUBLISH",
            diode_session_state_name (s->state));
      return TRUE;
    case DIODE_MSG_SUBSCRIBE_OK:
      if (s->state != DIODE_SESSION_SUBSCRIBING)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "SUBSCRIBE_OK in state %s without a pending SUBSCRIBE",
            diode_session_state_name (s->state));
      return TRUE;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (s->state == DIODE_SESSION_FETCHING) {
        /* a CHUNK's frames, and nothing of the kind outside one */
        if (s->chunk_left == 0)
          return session_set_error (error, DIODE_ERR_PROTOCOL,
              "%s in state FETCHING outside a CHUNK",
              diode_msg_type_name (type));
        if (type == DIODE_MSG_EOS && s->chunk_left != 1)
          return session_set_error (error, DIODE_ERR_PROTOCOL,
              "EOS in a CHUNK with %u frames still to come (EOS ends a "
              "chunk)", s->chunk_left - 1);
        if (type == DIODE_MSG_EOS && s->chunk_prelude_left > 0)
          return session_set_error (error, DIODE_ERR_PROTOCOL,
              "EOS among a CHUNK's prelude frames");
        return TRUE;
      }
      if (s->state != DIODE_SESSION_SUBSCRIBED)
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_RANGE_OK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_RANGE)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "RANGE_OK in state %s without a pending RANGE",
            diode_session_state_name (s->state));
      return TRUE;
    case DIODE_MSG_LISTING:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_LIST)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "LISTING in state %s without a pending LIST",
            diode_session_state_name (s->state));
      return TRUE;
    case DIODE_MSG_CHUNK:
    case DIODE_MSG_FETCH_END:
      if (s->state != DIODE_SESSION_FETCHING)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "%s in state %s without a pending FETCH",
            diode_msg_type_name (type), diode_session_state_name (s->state));
      if (s->chunk_left > 0)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "%s while %u frames of a CHUNK are still to come",
            diode_msg_type_name (type), s->chunk_left);
      return TRUE;
    case DIODE_MSG_STORED:
      /* the relay's recording progress, also after this end sent EOS */
      if (s->state != DIODE_SESSION_PUBLISHING)
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_POLICY:
      /* an upstream forwards policy changes to a pulling relay */
      if (s->state != DIODE_SESSION_SUBSCRIBED || !diode_session_is_link (s))
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_LINK_OK:
      /* the answer to LINK, and again whenever the parent's path changes
       * (the header check admits the type only on relay links) */
      if (s->state != DIODE_SESSION_LINKING
          && s->state != DIODE_SESSION_LINKED)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "LINK_OK in state %s without a LINK sent",
            diode_session_state_name (s->state));
      return TRUE;
    case DIODE_MSG_PULL:
      if (s->state != DIODE_SESSION_LINKED)
        return unexpected (s, type, error);
      return TRUE;
    case DIODE_MSG_SIGNAL:
      /* version 4: the relay forwards signalling to a publishing
       * publisher and a subscribed viewer (never during a FETCH) */
      if (!(s->state == DIODE_SESSION_PUBLISHING
              && s->role == DIODE_ROLE_PUBLISHER)
          && !(s->state == DIODE_SESSION_SUBSCRIBED
              && s->role == DIODE_ROLE_VIEWER))
        return unexpected (s, type, error);
      return TRUE;
    default:
      /* PATH among them: only a viewer sends it */
      return unexpected (s, type, error);
  }
}

/* Client end: a frame of @type would be one of a CHUNK's outstanding
 * frames, bounded by its bytes (PING, PONG and ERROR may come between them
 * and are not counted). The CHUNK's own check guarantees 8 bytes per
 * outstanding frame, so chunk_bytes_left >= 8. */
static gboolean
in_chunk (DiodeSession * s, guint type)
{
  return s->state == DIODE_SESSION_FETCHING && s->chunk_left > 0
      && type != DIODE_MSG_PING && type != DIODE_MSG_PONG
      && type != DIODE_MSG_ERROR;
}

/* relay_end_admits() or client_end_admits(), for this session's end */
static gboolean
end_admits (DiodeSession * s, guint type, GError ** error)
{
  if (s->end == DIODE_SESSION_RELAY_END)
    return relay_end_admits (s, type, error);
  return client_end_admits (s, type, error);
}

gsize
diode_session_frame_limit (DiodeSession * s, guint type)
{
  gsize limit;

  g_return_val_if_fail (s != NULL, 0);

  if (s->state == DIODE_SESSION_CLOSED)
    return 0;
  if (!end_admits (s, type, NULL))
    return 0;
  limit = diode_msg_max_payload_v (type, s->version, s->role);
  if (in_chunk (s, type)) {
    /* this frame's header and 8 bytes for each frame after it */
    guint64 room = s->chunk_bytes_left -
        (guint64) s->chunk_left * DIODE_FRAME_HEADER_SIZE;

    if (room < limit)
      limit = room;
  }
  return limit;
}

/* Judges the header at head: the type's own rules first (unknown type,
 * flags, length over the type's limit: so an absurd length is TOO_LARGE
 * whoever sends it), then whether this end admits the type now. */
static gboolean
admit_header (DiodeSession * s, GError ** error)
{
  const guint8 *h = s->buf + s->head;

  if (!diode_msg_check_header_v (h, s->version, s->role, &s->frame_len,
          error))
    return FALSE;
  if (!end_admits (s, h[0], error))
    return FALSE;
  /* the frames of a CHUNK must fit its announced bytes, leaving 8 for
   * each frame still to come after this one */
  if (in_chunk (s, h[0])
      && (guint64) DIODE_FRAME_HEADER_SIZE + s->frame_len +
      (guint64) (s->chunk_left - 1) * DIODE_FRAME_HEADER_SIZE >
      s->chunk_bytes_left) {
    g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_TOO_LARGE,
        "%s of %" G_GSIZE_FORMAT " bytes exceeds what its CHUNK announced (%"
        G_GUINT64_FORMAT " bytes left for %u frames)",
        diode_msg_type_name (h[0]), DIODE_FRAME_HEADER_SIZE + s->frame_len,
        s->chunk_bytes_left, s->chunk_left);
    return FALSE;
  }
  s->have_header = TRUE;
  return TRUE;
}

/* After parsing: the payload-dependent rules and the state changes. The
 * type was admitted from the header already; it is judged again in case a
 * sent() changed the state between the header and the payload. */
static gboolean
relay_end_received (DiodeSession * s, const DiodeMsg * msg, GError ** error)
{
  guint type = msg->type;

  if (!relay_end_admits (s, type, error))
    return FALSE;

  switch (type) {
    case DIODE_MSG_HELLO:{
      guint16 v = diode_version_choose (1, DIODE_PROTOCOL_VERSION_MAX,
          msg->version_min, msg->version_max);

      s->offer_min = msg->version_min;
      s->offer_max = msg->version_max;
      if (v == 0)
        return session_set_error (error, DIODE_ERR_VERSION,
            "client speaks versions %u..%u, relay speaks 1..%u",
            msg->version_min, msg->version_max, DIODE_PROTOCOL_VERSION_MAX);
      if (msg->role < DIODE_ROLE_PUBLISHER || msg->role > DIODE_ROLE_RELAY)
        return session_set_error (error, DIODE_ERR_PROTOCOL,
            "HELLO with unknown role %u", msg->role);
      s->version = v;
      s->role = msg->role;
      s->hello_done = TRUE;
      s->state = DIODE_SESSION_READY;
      return TRUE;
    }
    case DIODE_MSG_ERROR:
      received_error (s, msg);
      return TRUE;
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_SUBSCRIBE:
    case DIODE_MSG_LINK:
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
    case DIODE_MSG_LIST:
      s->pending = type;
      return TRUE;
    case DIODE_MSG_MEDIA:
      return check_seq (s, msg, error);
    case DIODE_MSG_EOS:
      if (!check_seq (s, msg, error))
        return FALSE;
      s->publish_ended = TRUE;
      return TRUE;
    case DIODE_MSG_SIGNAL:
      return check_signal_kind (s, msg, error);
    default:
      return TRUE;
  }
}

/* One frame of the CHUNK being received (admitted from its header, which
 * also bounded its size). Prelude frames are CAPS or stream headers,
 * carrying the seqs they were published with (lower than the chunk's);
 * the chunk proper's MEDIA lie in the CHUNK's range and strictly increase
 * over the whole FETCH; EOS carries the seq of the last MEDIA before it. */
static gboolean
chunk_frame_received (DiodeSession * s, const DiodeMsg * msg, GError ** error)
{
  gboolean prelude = s->chunk_prelude_left > 0;

  s->chunk_bytes_left -= g_bytes_get_size (msg->frame);
  s->chunk_left--;
  if (prelude)
    s->chunk_prelude_left--;

  if (msg->type == DIODE_MSG_CAPS)
    return TRUE;
  if (prelude) {
    if (!(msg->flags & DIODE_MEDIA_STREAMHEADER))
      return session_set_error (error, DIODE_ERR_PROTOCOL,
          "MEDIA seq %" G_GUINT64_FORMAT " among a CHUNK's prelude frames "
          "without the STREAMHEADER flag", msg->seq);
    return TRUE;
  }
  if (msg->seq < s->chunk_first || msg->seq > s->chunk_last)
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "%s seq %" G_GUINT64_FORMAT " outside its CHUNK's %" G_GUINT64_FORMAT
        "..%" G_GUINT64_FORMAT, diode_msg_type_name (msg->type), msg->seq,
        s->chunk_first, s->chunk_last);
  if (msg->type == DIODE_MSG_EOS ? msg->seq < s->fetch_last_seq
      : msg->seq <= s->fetch_last_seq)
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "%s seq %" G_GUINT64_FORMAT " after %" G_GUINT64_FORMAT " in one "
        "FETCH", diode_msg_type_name (msg->type), msg->seq,
        s->fetch_last_seq);
  s->fetch_last_seq = msg->seq;
  return TRUE;
}

static gboolean
client_end_received (DiodeSession * s, const DiodeMsg * msg, GError ** error)
{
  guint type = msg->type;

  if (!client_end_admits (s, type, error))
    return FALSE;

  switch (type) {
    case DIODE_MSG_ERROR:
      received_error (s, msg);
      return TRUE;
    case DIODE_MSG_WELCOME:
      if (msg->version < MAX (s->offer_min, 1)
          || msg->version > s->offer_max)
        return session_set_error (error, DIODE_ERR_VERSION,
            "relay chose version %u, client speaks %u..%u", msg->version,
            s->offer_min, s->offer_max);
      /* a relay offers 1..2 so an older relay can say "1" rather than
       * "no common version"; but links need 2 (docs/protocol.md section 5) */
      if (s->role == DIODE_ROLE_RELAY
          && msg->version < DIODE_PROTOCOL_VERSION_LINK)
        return session_set_error (error, DIODE_ERR_VERSION,
            "relay links need protocol version %d: the relay chose version "
            "%u", DIODE_PROTOCOL_VERSION_LINK, msg->version);
      s->version = msg->version;
      s->state = DIODE_SESSION_READY;
      return TRUE;
    case DIODE_MSG_LINK_OK:
      s->pending = 0;
      s->state = DIODE_SESSION_LINKED;
      return TRUE;
    case DIODE_MSG_PUBLISH_OK:
      s->pending = 0;
      s->state = DIODE_SESSION_PUBLISHING;
      return TRUE;
    case DIODE_MSG_SUBSCRIBE_OK:
      s->pending = 0;
      s->state = DIODE_SESSION_SUBSCRIBED;
      return TRUE;
    case DIODE_MSG_RANGE_OK:
    case DIODE_MSG_LISTING:
      s->pending = 0;
      return TRUE;
    case DIODE_MSG_CHUNK:
      s->chunk_left = msg->chunk.n_frames;
      s->chunk_prelude_left = msg->chunk.n_prelude;
      s->chunk_bytes_left = msg->chunk.bytes;
      s->chunk_first = msg->chunk.first_seq;
      s->chunk_last = msg->chunk.last_seq;
      return TRUE;
    case DIODE_MSG_FETCH_END:
      s->pending = 0;
      s->state = DIODE_SESSION_READY;
      return TRUE;
    case DIODE_MSG_SIGNAL:
      return check_signal_kind (s, msg, error);
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (s->state == DIODE_SESSION_FETCHING)
        return chunk_frame_received (s, msg, error);
      if (type == DIODE_MSG_CAPS)
        return TRUE;
      if (s->path_resume && type == DIODE_MSG_MEDIA && msg->seq != 0
          && msg->seq <= s->last_seq) {
        /* the relay resumed the stream at the PATH RELAY's from_seq (its
         * prelude first): seqs start again lower, once per PATH sent */
        s->path_resume = FALSE;
        s->last_seq = msg->seq;
        return TRUE;
      }
      return check_seq (s, msg, error);
    default:
      return TRUE;
  }
}

DiodeSessionResult
diode_session_next (DiodeSession * s, DiodeMsg * msg, GError ** error)
{
  GBytes *frame;
  GError *err = NULL;
  gboolean ok;

  g_return_val_if_fail (s != NULL, DIODE_SESSION_ERROR);
  g_return_val_if_fail (msg != NULL, DIODE_SESSION_ERROR);

  memset (msg, 0, sizeof (*msg));

  if (s->state == DIODE_SESSION_CLOSED) {
    if (s->error == NULL)
      s->error = g_error_new_literal (DIODE_PROTOCOL_ERROR,
          DIODE_ERR_PROTOCOL, "session is closed");
    g_propagate_error (error, g_error_copy (s->error));
    return DIODE_SESSION_ERROR;
  }

  if (s->tail - s->head < DIODE_FRAME_HEADER_SIZE)
    return DIODE_SESSION_NEED_MORE;

  /* Judge the header before waiting for the payload, so a peer announcing
   * 4 GiB, or a frame its role may not send, is refused after 8 bytes. (feed()
   * judged it already when the header completed there.) */
  if (!s->have_header && !admit_header (s, &err))
    return fail (s, err, error);
  if (s->tail - s->head < DIODE_FRAME_HEADER_SIZE + s->frame_len)
    return DIODE_SESSION_NEED_MORE;

  frame = take_frame (s);
  /* with the version and role negotiated so far: the relay-link frames
   * and fields exist only on relay links */
  ok = diode_msg_parse_v (frame, s->version, s->role, msg, &err);
  g_bytes_unref (frame);
  if (!ok) {
    /* Any malformed frame ends the session, so report a fatal code even
     * when the parser's diagnosis is a refusal (a bad stream name). */
    if (!diode_error_code_is_fatal (err->code))
      err->code = DIODE_ERR_PROTOCOL;
    return fail (s, err, error);
  }

  if (s->end == DIODE_SESSION_RELAY_END)
    ok = relay_end_received (s, msg, &err);
  else
    ok = client_end_received (s, msg, &err);
  if (!ok) {
    diode_msg_clear (msg);
    return fail (s, err, error);
  }
  return DIODE_SESSION_MESSAGE;
}
