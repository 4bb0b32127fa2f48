/* gst-diode — session state machine: sending (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What each end may send in each state, and what sending changes
 * (docs/protocol.md, "Connection flow"): the caller reports every frame it
 * sends with diode_session_sent(), so that the receive rules of
 * diode-session.c judge the peer's answers against the right state.
 */
#include "diode-session.h"
#include "diode-session-private.h"

static gboolean
illegal_send (DiodeSession * s, DiodeMsgType type, GError ** error)
{
  return session_set_error (error, DIODE_ERR_PROTOCOL,
      "%s end may not send %s in state %s",
      s->end == DIODE_SESSION_RELAY_END ? "relay" : "client",
      diode_msg_type_name (type), diode_session_state_name (s->state));
}

/* Version 4, not a relay link: SIGNAL travels on a publisher's connection
 * while it publishes and on a viewer's while it is subscribed, either
 * way. (Relay end: the peer's role; client end: its own; the same test.) */
static gboolean
direct_signal_state (DiodeSession * s)
{
  if (s->version < DIODE_PROTOCOL_VERSION_DIRECT)
    return FALSE;
  return (s->state == DIODE_SESSION_PUBLISHING
      && s->role == DIODE_ROLE_PUBLISHER)
      || (s->state == DIODE_SESSION_SUBSCRIBED
      && s->role == DIODE_ROLE_VIEWER);
}

static gboolean
relay_end_sent (DiodeSession * s, DiodeMsgType type, GError ** error)
{
  switch (type) {
    case DIODE_MSG_WELCOME:
      if (s->state != DIODE_SESSION_READY || s->welcome_sent)
        return illegal_send (s, type, error);
      s->welcome_sent = TRUE;
      return TRUE;
    case DIODE_MSG_PUBLISH_OK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_PUBLISH)
        return illegal_send (s, type, error);
      s->pending = 0;
      s->state = DIODE_SESSION_PUBLISHING;
      return TRUE;
    case DIODE_MSG_SUBSCRIBE_OK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_SUBSCRIBE)
        return illegal_send (s, type, error);
      s->pending = 0;
      s->state = DIODE_SESSION_SUBSCRIBED;
      return TRUE;
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      if (!s->hello_done)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      /* to a viewer, or the frames of a CHUNK answering FETCH */
      if (s->state != DIODE_SESSION_SUBSCRIBED
          && !(s->state == DIODE_SESSION_READY
              && s->pending == DIODE_MSG_FETCH))
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_RANGE_OK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_RANGE)
        return illegal_send (s, type, error);
      s->pending = 0;
      return TRUE;
    case DIODE_MSG_LISTING:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_LIST)
        return illegal_send (s, type, error);
      s->pending = 0;
      return TRUE;
    case DIODE_MSG_CHUNK:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_FETCH)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_FETCH_END:
      if (s->state != DIODE_SESSION_READY || s->pending != DIODE_MSG_FETCH)
        return illegal_send (s, type, error);
      s->pending = 0;
      return TRUE;
    case DIODE_MSG_STORED:
      if (s->state != DIODE_SESSION_PUBLISHING
          || s->version < DIODE_PROTOCOL_VERSION_STORE)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_POLICY:
      /* forwarding a policy change to a pulling relay */
      if (s->state != DIODE_SESSION_SUBSCRIBED || !diode_session_is_link (s))
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_LINK_OK:
      /* the answer to LINK, or the parent's new path later */
      if (!diode_session_is_link (s) || !((s->state == DIODE_SESSION_READY
                  && s->pending == DIODE_MSG_LINK)
              || s->state == DIODE_SESSION_LINKED))
        return illegal_send (s, type, error);
      s->pending = 0;
      s->state = DIODE_SESSION_LINKED;
      return TRUE;
    case DIODE_MSG_PULL:
      if (s->state != DIODE_SESSION_LINKED)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_SIGNAL:
      if (!direct_signal_state (s))
        return illegal_send (s, type, error);
      return TRUE;
    default:
      /* PATH among them: the relay never sends it */
      return illegal_send (s, type, error);
  }
}

static gboolean
client_end_sent (DiodeSession * s, DiodeMsgType type, GError ** error)
{
  switch (type) {
    case DIODE_MSG_HELLO:
      if (s->state != DIODE_SESSION_AWAIT_WELCOME || s->hello_done)
        return illegal_send (s, type, error);
      s->hello_done = TRUE;
      s->offer_min = 1;
      s->offer_max = DIODE_PROTOCOL_VERSION;
      return TRUE;
    case DIODE_MSG_LINK:
      if (s->state != DIODE_SESSION_READY || s->pending != 0
          || !diode_session_is_link (s))
        return illegal_send (s, type, error);
      s->pending = DIODE_MSG_LINK;
      s->state = DIODE_SESSION_LINKING;
      return TRUE;
    case DIODE_MSG_ANNOUNCE:
      if (s->state != DIODE_SESSION_LINKED)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_PUBLISH:
      if (s->state != DIODE_SESSION_READY || s->pending != 0)
        return illegal_send (s, type, error);
      s->pending = DIODE_MSG_PUBLISH;
      return TRUE;
    case DIODE_MSG_SUBSCRIBE:
      if (s->state != DIODE_SESSION_READY || s->pending != 0)
        return illegal_send (s, type, error);
      s->pending = DIODE_MSG_SUBSCRIBE;
      s->state = DIODE_SESSION_SUBSCRIBING;
      return TRUE;
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:
      if (s->state != DIODE_SESSION_READY || s->pending != 0
          || s->version < DIODE_PROTOCOL_VERSION_STORE
          || s->role == DIODE_ROLE_PUBLISHER)
        return illegal_send (s, type, error);
      s->pending = type;
      if (type == DIODE_MSG_FETCH) {
        s->state = DIODE_SESSION_FETCHING;
        s->chunk_left = 0;
        s->fetch_last_seq = 0;
      }
      return TRUE;
    case DIODE_MSG_LIST:
      /* appended to version 4: a publisher or viewer with nothing
       * pending (docs/protocol.md section 19) */
      if (s->state != DIODE_SESSION_READY || s->pending != 0
          || s->version < DIODE_PROTOCOL_VERSION_DIRECT
          || s->role == DIODE_ROLE_RELAY)
        return illegal_send (s, type, error);
      s->pending = DIODE_MSG_LIST;
      return TRUE;
    case DIODE_MSG_PING:
    case DIODE_MSG_PONG:
      if (!s->hello_done)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_POLICY:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (s->state != DIODE_SESSION_PUBLISHING)
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_SIGNAL:
      if (!direct_signal_state (s))
        return illegal_send (s, type, error);
      return TRUE;
    case DIODE_MSG_PATH:
      if (!direct_signal_state (s) || s->role != DIODE_ROLE_VIEWER)
        return illegal_send (s, type, error);
      /* a PATH RELAY makes the relay resume at from_seq, which may be
       * below what it sent before it read the PATH: the seq check lets
       * the stream start again once (client_end_received()) */
      s->path_resume = TRUE;
      return TRUE;
    default:
      return illegal_send (s, type, error);
  }
}

gboolean
diode_session_sent (DiodeSession * s, DiodeMsgType type, guint16 error_code,
    GError ** error)
{
  g_return_val_if_fail (s != NULL, FALSE);

  /* Sending ERROR is always legal: it is how a caller reports the error
   * diode_session_next() just returned, in whatever state that left. */
  if (type == DIODE_MSG_ERROR) {
    if (s->state == DIODE_SESSION_CLOSED)
      return TRUE;
    if (diode_error_code_is_fatal (error_code)) {
      session_close_with (s, g_error_new (DIODE_PROTOCOL_ERROR, error_code,
              "session closed: sent ERROR %u (%s)", error_code,
              diode_error_code_name (error_code)));
    } else if (s->end == DIODE_SESSION_RELAY_END && s->pending != 0) {
      /* the relay refused the pending PUBLISH/SUBSCRIBE: the client may
       * try again (another name, later) on the same connection */
      s->pending = 0;
    }
    return TRUE;
  }

  if (s->state == DIODE_SESSION_CLOSED)
    return session_set_error (error, DIODE_ERR_PROTOCOL,
        "cannot send %s: session is closed", diode_msg_type_name (type));

  if (s->end == DIODE_SESSION_RELAY_END)
    return relay_end_sent (s, type, error);
  return client_end_sent (s, type, error);
}

gboolean
diode_session_sent_hello (DiodeSession * s, guint16 version_min,
    guint16 version_max, DiodeRole role, GError ** error)
{
  g_return_val_if_fail (s != NULL, FALSE);

  if (s->end != DIODE_SESSION_CLIENT_END || s->state == DIODE_SESSION_CLOSED)
    return illegal_send (s, DIODE_MSG_HELLO, error);
  if (!diode_session_sent (s, DIODE_MSG_HELLO, 0, error))
    return FALSE;
  s->offer_min = version_min;
  s->offer_max = version_max;
  s->role = role;
  return TRUE;
}
