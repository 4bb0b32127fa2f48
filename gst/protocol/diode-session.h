/* gst-diode — session state machine (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A DiodeSession is one end of one connection. Bytes received go in with
 * diode_session_feed(); complete, validated messages come out of
 * diode_session_next(). The session judges each frame from its 8-byte header
 * (type legal for this end's role and state, length within the type's limit)
 * before buffering its payload, so a frame it would refuse costs 8 bytes;
 * then parses, and checks the payload-dependent rules. It never reads or
 * writes a socket: callers own the I/O.
 *
 * States, relay end:   AWAIT_HELLO -> READY -> PUBLISHING | SUBSCRIBED
 *                                         | LINKED (relay links)
 * States, client end:  AWAIT_WELCOME -> READY -> PUBLISHING | SUBSCRIBING -> SUBSCRIBED
 *                                             | LINKING -> LINKED (relay links)
 *                                             | FETCHING -> READY (version 3)
 * Any end: -> CLOSED after a fatal ERROR sent or received, or a protocol error.
 *
 * Relay links (protocol version 2, docs/protocol.md "Relay links"): on a
 * connection of role RELAY that negotiated version 2 ("the relay-link
 * dialect", diode_msg_is_link_dialect()) frames are parsed with
 * diode_msg_parse_v() and these rows are added to the version-1 ones:
 *   relay end,  READY, nothing pending: LINK (then pending until LINK_OK
 *               or a refusal is sent);
 *   relay end,  LINKED: ANNOUNCE, PING, PONG, ERROR; it may send LINK_OK
 *               again and PULL; in SUBSCRIBED it may send POLICY;
 *   client end, LINKING: LINK_OK, PING, PONG, ERROR (a refusal, 104 or
 *               102, returns to READY);
 *   client end, LINKED: LINK_OK (again), PULL, PING, PONG, ERROR; it may
 *               send ANNOUNCE;
 *   client end, SUBSCRIBED: POLICY too (the upstream forwards the
 *               publisher's policy changes).
 *
 * Recordings (protocol version 3, docs/protocol.md section 15), any role:
 *   relay end,  READY, nothing pending, role VIEWER or RELAY: RANGE, FETCH
 *               (then pending until RANGE_OK / FETCH_END / a 1xx ERROR is
 *               sent; meanwhile it sends CHUNK, CAPS, MEDIA, EOS for a
 *               FETCH); PUBLISHING: it may send STORED;
 *   client end, READY, RANGE sent: RANGE_OK (or a refusal) -> READY;
 *   client end, FETCHING (FETCH sent): CHUNK and FETCH_END between chunks;
 *               CAPS, MEDIA, EOS only while a CHUNK's frames are
 *               outstanding (counted; their sizes bounded by its bytes;
 *               prelude frames CAPS or STREAMHEADER MEDIA; the chunk's
 *               MEDIA inside its seq range, increasing over the FETCH; EOS
 *               last); FETCH_END or a refusal -> READY;
 *   client end, PUBLISHING: STORED.
 * The session checks a CHUNK's frame count and bounds its bytes; the
 * exact byte total and the CRC are the receiver's to check
 * (diode_chunk_crc()), since a damaged chunk is dropped, not fatal.
 *
 * Direct paths (protocol version 4, docs/protocol.md section 17), roles
 * PUBLISHER and VIEWER only (on relay links SIGNAL and PATH are unknown
 * types, as they are below version 4: 200 from the header):
 *   relay end,  PUBLISHING (peer role PUBLISHER): SIGNAL; it may send
 *               SIGNAL;
 *   relay end,  SUBSCRIBED (peer role VIEWER): SIGNAL, PATH; it may send
 *               SIGNAL (never PATH). Not in READY, SUBSCRIBING, FETCHING;
 *   client end, PUBLISHING as PUBLISHER / SUBSCRIBED as VIEWER: SIGNAL,
 *               and it may send SIGNAL; a VIEWER may send PATH when
 *               SUBSCRIBED.
 * After parsing, SIGNAL's direction is checked: OFFER only from a viewer
 * (to a publisher), ANSWER only from a publisher (to a viewer); the other
 * way is 200. After a client end sent PATH, the relay may resume the
 * stream at a lower seq (PATH RELAY's from_seq, prelude first): the MEDIA
 * seq check lets the seqs start again once per PATH sent.
 * The client end knows its role and offered versions from
 * diode_session_sent_hello(), the relay end from the HELLO it received.
 */
#pragma once

#include "diode-msg.h"

G_BEGIN_DECLS

typedef enum {
  DIODE_SESSION_RELAY_END,   /* the relay's view of a client connection */
  DIODE_SESSION_CLIENT_END,  /* a publisher's or viewer's view of its relay */
} DiodeSessionEnd;

typedef enum {
  DIODE_SESSION_AWAIT_HELLO,
  DIODE_SESSION_AWAIT_WELCOME,
  DIODE_SESSION_READY,
  DIODE_SESSION_PUBLISHING,
  DIODE_SESSION_SUBSCRIBING,   /* client end: SUBSCRIBE sent, no SUBSCRIBE_OK yet */
  DIODE_SESSION_SUBSCRIBED,
  DIODE_SESSION_CLOSED,
  /* version 2, role RELAY (after CLOSED so the values above stay) */
  DIODE_SESSION_LINKING,       /* client end: LINK sent, no LINK_OK yet */
  DIODE_SESSION_LINKED,        /* a control link between two relays */
  /* version 3 */
  DIODE_SESSION_FETCHING,      /* client end: FETCH sent, no FETCH_END yet */
} DiodeSessionState;

typedef enum {
  DIODE_SESSION_NEED_MORE = 0,  /* no complete frame buffered */
  DIODE_SESSION_MESSAGE   = 1,  /* *msg filled */
  DIODE_SESSION_ERROR     = -1, /* *error set; session is CLOSED; the error's
                                   code is the DiodeErrorCode to send back
                                   (always fatal, >= 200). Sticky: every later
                                   call returns the same error. After the peer
                                   sent a fatal ERROR it carries the peer's
                                   code; nothing is sent back then. */
} DiodeSessionResult;

typedef struct _DiodeSession DiodeSession;

DiodeSession     *diode_session_new        (DiodeSessionEnd end);
void              diode_session_free       (DiodeSession *s);
DiodeSessionState diode_session_get_state  (DiodeSession *s);
const gchar      *diode_session_state_name (DiodeSessionState state);
/* Relay end: the peer's role, from its HELLO. Client end: this end's own
 * role, from diode_session_sent_hello() (0 after a plain
 * diode_session_sent (HELLO)). 0 before. */
DiodeRole         diode_session_get_role   (DiodeSession *s);
/* The negotiated version: relay end, the one it chose from HELLO (the
 * highest both speak, relays speaking 1..DIODE_PROTOCOL_VERSION_MAX), which
 * its WELCOME must carry; client end, the one WELCOME carried. 0 until
 * then. */
guint16           diode_session_get_version(DiodeSession *s);
/* Relay end, after HELLO: the version range the peer offered. */
void              diode_session_get_offered (DiodeSession *s, guint16 *version_min,
                                             guint16 *version_max);
/* TRUE when the connection speaks the relay-link dialect (role RELAY,
 * version 2 or later). */
gboolean          diode_session_is_link    (DiodeSession *s);

/* Relay end, right after next() returned the HELLO and before WELCOME is
 * sent: FALSE for a HELLO of role RELAY that negotiated a version below
 * DIODE_PROTOCOL_VERSION_LINK (a relay of an older release, or one offering
 * 1..1). @error then holds code 201 VERSION and the text to send ("relay
 * links need protocol version 2 ..."): the caller sends that ERROR instead
 * of WELCOME (diode_session_sent (ERROR, 201) closes the session). The
 * session does not refuse such a HELLO itself so that a caller may still
 * choose to serve version-1 relay connections. */
gboolean          diode_session_check_link_version (DiodeSession *s, GError **error);

/* Append received bytes. The header of the frame next() returns next is
 * judged as soon as its 8th byte is in, before any of its payload is kept:
 * a type this end does not admit in its role and state (200 PROTOCOL) or a
 * length over the type's limit (202 TOO_LARGE) closes the session at once,
 * dropping every buffered byte; next() then returns that error.
 * diode_session_frame_limit() gives the rule. */
void               diode_session_feed (DiodeSession *s, const guint8 *data, gsize len);
/* Bytes buffered but not yet returned as messages. Callers drain with next()
 * after every feed; once next() returned NEED_MORE this is below 8, or at
 * most 8 + the admitted length of the frame being received. */
gsize              diode_session_buffered (DiodeSession *s);
/* The payload limit for a frame of @type arriving now: 0 if this end does
 * not admit @type in its current role and state (docs/protocol.md section 3,
 * "What a receiver admits"), else the type's limit. */
gsize              diode_session_frame_limit (DiodeSession *s, guint type);
DiodeSessionResult diode_session_next (DiodeSession *s, DiodeMsg *msg, GError **error);

/* Tell the session about a message this end sent, so state follows
 * (HELLO, PUBLISH, SUBSCRIBE, WELCOME, *_OK, fatal ERROR...). Returns FALSE
 * (and sets @error) if sending @type is illegal in the current state.
 * @error_code matters for ERROR only; sending ERROR is always legal (a no-op
 * once CLOSED), so the error next() returned can always be reported. */
gboolean           diode_session_sent (DiodeSession *s, DiodeMsgType type,
                                       guint16 error_code, GError **error);

/* Client end: the HELLO this end sent offered @version_min..@version_max
 * as @role. The same as diode_session_sent (HELLO) (which assumes 1..
 * DIODE_PROTOCOL_VERSION and no role), and also tells the session which
 * WELCOME versions to accept and, for role RELAY, that the WELCOME makes
 * this a relay link: with role RELAY a WELCOME below version 2 is refused
 * like one outside the range (next() returns error 201, which the caller
 * sends back before closing). */
gboolean           diode_session_sent_hello (DiodeSession *s, guint16 version_min,
                                             guint16 version_max, DiodeRole role,
                                             GError **error);

/* Version negotiation helper: highest version in both ranges, or 0. */
guint16            diode_version_choose (guint16 our_min, guint16 our_max,
                                         guint16 their_min, guint16 their_max);

G_END_DECLS
