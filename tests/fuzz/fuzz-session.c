/* gst-diode — fuzzing: the session state machines (diode-session*.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input: one control byte, then the bytes the peer sends.
 *
 *   control bit 0     0: relay end (input = what a client sends)
 *                     1: client end (input = what a relay sends)
 *   control bits 1-3  how the bytes are cut into diode_session_feed() calls
 *                     (see chunk_size())
 *   control bit 4     client end: PUBLISH (0) or SUBSCRIBE (1) after WELCOME
 *   control bit 5     relay end: refuse the first PUBLISH/SUBSCRIBE (ERROR
 *                     101/100) then accept the next; client end: send the
 *                     request again after a refusal
 *   control bits 6+7  both set, client end: never send HELLO (every frame
 *                     from the relay must then be refused)
 *   control bit 6     alone, client end: a relay (role RELAY) offering
 *                     1..4; a WELCOME of version 1 is refused (201), after
 *                     one of version 2 or 3 (a relay link) it sends LINK
 *                     (bit 4 clear: a control link) or SUBSCRIBE (bit 4
 *                     set: a pull)
 *   bits 6, 7 clear   client end: a publisher or viewer (bit 4) offering
 *                     1..4 as diodesink/diodesrc do; at version 3 or later
 *                     a viewer sends RANGE, then FETCH, then SUBSCRIBE
 *                     (each after the answer or a refusal of the one
 *                     before), a publisher also takes STORED; at version 4
 *                     both take SIGNAL once publishing / subscribed and
 *                     answer it with a SIGNAL, a viewer also with PATH
 *   control bit 7     alone: the end sends a fatal ERROR at the end; a
 *                     client end offers 1..1 (a client of an older release)
 *
 * The relay end behaves like the relay: it chooses the highest version of
 * 1..DIODE_PROTOCOL_VERSION_MAX, refuses a role-RELAY HELLO that gets
 * version 1 with ERROR 201 (diode_session_check_link_version()), answers
 * LINK with LINK_OK (or, with bit 5, first with ERROR 104) and then sends
 * LINK_OK again and PULL. At version 3 it answers RANGE with RANGE_OK and
 * FETCH with CHUNK, its frames and FETCH_END (with bit 5, the first with
 * ERROR 105 NOT_STORED / 106 STORE_FAILED after a CHUNK), and sends STORED
 * to a publisher. At version 4 it takes SIGNAL from a publishing publisher
 * and a subscribed viewer, PATH from the viewer, and answers SIGNAL with a
 * SIGNAL (never PATH); on relay links neither exists.
 *
 * After every feed the harness pulls messages with diode_session_next()
 * until NEED_MORE or ERROR and answers like a relay or client would
 * (diode_session_sent()). Checks:
 *  - each returned frame is exactly the next bytes fed (nothing lost,
 *    duplicated or reordered by the receive buffer), and bytes fed =
 *    bytes returned + diode_session_buffered();
 *  - at NEED_MORE what is buffered is less than one frame: under 8 bytes, or
 *    a valid header whose frame is incomplete, of a type this end admits in
 *    its state and a length within diode_session_frame_limit() (so buffered
 *    stays below 8 + that limit);
 *  - a message is only returned in a state where it is legal for this end
 *    (MEDIA only when publishing/subscribed, PUBLISH not from a viewer...),
 *    and the state follows a model of docs/protocol.md;
 *  - the answers a real peer gives (WELCOME, *_OK, ERROR 1xx, PONG) are
 *    accepted; answering twice is refused;
 *  - MEDIA seq strictly increases, EOS seq never goes back, except once
 *    after the client end sent PATH (the relay resumes at from_seq);
 *  - SIGNAL (version 4): only in those states and roles, never on a relay
 *    link, OFFER only from a viewer and ANSWER only from a publisher;
 *  - FETCHING (client end, version 3): CHUNK and FETCH_END only between
 *    chunks, CAPS/MEDIA/EOS only as a CHUNK's announced frames, each within
 *    the bytes it announced, prelude frames CAPS or STREAMHEADER MEDIA, the
 *    others' seqs in the chunk's range and increasing over the FETCH, EOS
 *    last; RANGE_OK only after RANGE, STORED only to a publisher;
 *  - ERROR is fatal (code >= 200), closes the session, and is sticky: every
 *    later next() returns the same error, feed() buffers nothing, sent()
 *    refuses anything but ERROR;
 *  - no leak (LeakSanitizer), no memory error (ASan), no UB (UBSan).
 */
#include "fuzz-common.h"

#include <string.h>

#include "diode-session.h"

/* FUZZ_TRACE=1 prints each step: to check what a seed exercises. */
static gboolean trace;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  trace = g_getenv ("FUZZ_TRACE") != NULL;
  return 0;
}

typedef struct
{
  DiodeSession *s;
  DiodeSessionEnd end;
  guint8 ctl;

  GByteArray *fed;              /* every byte fed so far */
  gsize consumed;               /* bytes returned as frames */
  gsize last_chunk;             /* size of the latest feed */

  DiodeSessionState model;      /* expected state */
  DiodeMsgType pending;         /* request awaiting an answer (model) */
  gboolean hello_sent;          /* client end */
  gboolean link_mode;           /* client end: role RELAY offering 1..3 */
  guint16 offer_max;            /* client end: highest version offered */
  guint step;                   /* client end, version-3 viewer: 0 RANGE
                                   next, 1 FETCH next, 2 SUBSCRIBE */
  /* client end, FETCHING: the model of the CHUNK being received */
  guint32 chunk_left, prelude_left;
  guint64 bytes_left, chunk_first, chunk_last, fetch_last;
  gboolean refused_once;        /* relay end: refusal done */
  guint64 last_seq;             /* highest MEDIA/EOS seq returned */
  gboolean path_resume;         /* client end: PATH sent, seqs may start
                                   again once (docs/protocol.md 17.4) */
  gboolean closed;
  gint err_code;
  gchar *err_message;
} Fuzz;

static gboolean
msg_is_zero (const DiodeMsg * msg)
{
  static const DiodeMsg zero;

  return memcmp (msg, &zero, sizeof (zero)) == 0;
}

static void
expect_state (Fuzz * f, const gchar * when)
{
  DiodeSessionState st = diode_session_get_state (f->s);

  FUZZ_CHECK (st == f->model, "%s: state %s, model says %s", when,
      diode_session_state_name (st), diode_session_state_name (f->model));
}

static void
must_send (Fuzz * f, DiodeMsgType type, guint16 code)
{
  GError *err = NULL;

  if (!diode_session_sent (f->s, type, code, &err))
    FUZZ_CHECK (FALSE, "%s end refused to send %s in state %s: %s",
        f->end == DIODE_SESSION_RELAY_END ? "relay" : "client",
        diode_msg_type_name (type),
        diode_session_state_name (diode_session_get_state (f->s)),
        err->message);
  FUZZ_CHECK (err == NULL, "sent() succeeded with an error set");
}

static void
must_refuse (Fuzz * f, DiodeMsgType type)
{
  GError *err = NULL;
  DiodeSessionState before = diode_session_get_state (f->s);

  FUZZ_CHECK (!diode_session_sent (f->s, type, 0, &err),
      "sending %s accepted in state %s", diode_msg_type_name (type),
      diode_session_state_name (before));
  FUZZ_CHECK (err != NULL && err->domain == DIODE_PROTOCOL_ERROR,
      "refused send without a protocol error");
  g_error_free (err);
  FUZZ_CHECK (diode_session_get_state (f->s) == before,
      "a refused send changed the state");
}

/* The client's request after WELCOME (or again after a refusal). */
static void
client_request (Fuzz * f)
{
  if (f->link_mode && diode_session_is_link (f->s) && !(f->ctl & 0x10)) {
    must_send (f, DIODE_MSG_LINK, 0);
    f->pending = DIODE_MSG_LINK;
    f->model = DIODE_SESSION_LINKING;
    must_refuse (f, DIODE_MSG_LINK);
    must_refuse (f, DIODE_MSG_ANNOUNCE);       /* not before LINK_OK */
  } else if ((f->ctl & 0x10) && !f->link_mode
      && diode_session_get_version (f->s) >= 3 && f->step < 2) {
    /* a version-3 viewer asks what is held, fetches, then subscribes */
    if (f->step == 0) {
      must_send (f, DIODE_MSG_RANGE, 0);
      f->pending = DIODE_MSG_RANGE;
    } else {
      must_send (f, DIODE_MSG_FETCH, 0);
      f->pending = DIODE_MSG_FETCH;
      f->model = DIODE_SESSION_FETCHING;
      f->chunk_left = 0;
      f->fetch_last = 0;
    }
    f->step++;
    must_refuse (f, DIODE_MSG_RANGE);
    must_refuse (f, DIODE_MSG_FETCH);
  } else if (f->ctl & 0x10) {
    must_send (f, DIODE_MSG_SUBSCRIBE, 0);
    f->pending = DIODE_MSG_SUBSCRIBE;
    f->model = DIODE_SESSION_SUBSCRIBING;
  } else {
    must_send (f, DIODE_MSG_PUBLISH, 0);
    f->pending = DIODE_MSG_PUBLISH;
  }
  /* a second request while one is pending is refused */
  must_refuse (f, DIODE_MSG_PUBLISH);
  must_refuse (f, DIODE_MSG_SUBSCRIBE);
}

static void
check_seq (Fuzz * f, const DiodeMsg * m)
{
  if (m->type == DIODE_MSG_MEDIA && f->path_resume && m->seq != 0
      && m->seq <= f->last_seq) {
    FUZZ_CHECK (f->end == DIODE_SESSION_CLIENT_END, "resume at a relay end");
    f->path_resume = FALSE;
    f->last_seq = m->seq;
  } else if (m->type == DIODE_MSG_MEDIA) {
    FUZZ_CHECK (m->seq > f->last_seq, "MEDIA seq %" G_GUINT64_FORMAT
        " returned after %" G_GUINT64_FORMAT, m->seq, f->last_seq);
    f->last_seq = m->seq;
  } else if (m->type == DIODE_MSG_EOS) {
    FUZZ_CHECK (m->seq >= f->last_seq, "EOS seq %" G_GUINT64_FORMAT
        " returned after %" G_GUINT64_FORMAT, m->seq, f->last_seq);
    f->last_seq = m->seq;
  }
}

/* An ERROR message from the peer. */
static void
on_peer_error (Fuzz * f, const DiodeMsg * m)
{
  if (diode_error_code_is_fatal (m->error_code)) {
    f->model = DIODE_SESSION_CLOSED;
    f->pending = 0;
    return;
  }
  if (f->end == DIODE_SESSION_CLIENT_END && f->pending) {
    /* the relay refused our request: we may ask again */
    gboolean store_request = f->pending == DIODE_MSG_RANGE
        || f->pending == DIODE_MSG_FETCH;

    f->pending = 0;
    f->chunk_left = 0;
    if (f->model == DIODE_SESSION_SUBSCRIBING
        || f->model == DIODE_SESSION_LINKING
        || f->model == DIODE_SESSION_FETCHING)
      f->model = DIODE_SESSION_READY;
    expect_state (f, "after a refusal");
    /* a refused RANGE or FETCH: the viewer goes on with its next step */
    if ((f->ctl & 0x20) || store_request)
      client_request (f);
  }
}

static void
relay_end_message (Fuzz * f, const DiodeMsg * m)
{
  DiodeRole role = diode_session_get_role (f->s);

  switch (m->type) {
    case DIODE_MSG_HELLO:
      FUZZ_CHECK (f->model == DIODE_SESSION_AWAIT_HELLO,
          "HELLO accepted in state %s", diode_session_state_name (f->model));
      FUZZ_CHECK (role >= DIODE_ROLE_PUBLISHER && role <= DIODE_ROLE_RELAY
          && role == m->role, "HELLO accepted with role %u", m->role);
      FUZZ_CHECK (diode_session_get_version (f->s) ==
          diode_version_choose (1, DIODE_PROTOCOL_VERSION_MAX,
              m->version_min, m->version_max),
          "negotiated version %u for %u..%u", diode_session_get_version (f->s),
          m->version_min, m->version_max);
      FUZZ_CHECK (m->version_min <= DIODE_PROTOCOL_VERSION_MAX
          && m->version_max >= 1, "HELLO %u..%u accepted", m->version_min,
          m->version_max);
      FUZZ_CHECK (diode_session_is_link (f->s) == (role == DIODE_ROLE_RELAY
              && diode_session_get_version (f->s) >= 2), "is_link wrong");
      f->model = DIODE_SESSION_READY;
      expect_state (f, "after HELLO");
      if (!diode_session_check_link_version (f->s, NULL)) {
        /* what the relay does with a relay that cannot link */
        FUZZ_CHECK (role == DIODE_ROLE_RELAY
            && diode_session_get_version (f->s) < 2,
            "check_link_version refused role %u version %u", role,
            diode_session_get_version (f->s));
        must_send (f, DIODE_MSG_ERROR, DIODE_ERR_VERSION);
        f->model = DIODE_SESSION_CLOSED;
        expect_state (f, "after refusing a version-1 relay");
        break;
      }
      must_send (f, DIODE_MSG_WELCOME, 0);
      must_refuse (f, DIODE_MSG_WELCOME);       /* only once */
      must_refuse (f, DIODE_MSG_LINK_OK);       /* nothing asked */
      break;
    case DIODE_MSG_LINK:
      FUZZ_CHECK (f->model == DIODE_SESSION_READY && f->pending == 0
          && diode_session_is_link (f->s), "LINK accepted in state %s, "
          "role %u, version %u", diode_session_state_name (f->model), role,
          diode_session_get_version (f->s));
      must_refuse (f, DIODE_MSG_PUBLISH_OK);
      must_refuse (f, DIODE_MSG_PULL);
      if ((f->ctl & 0x20) && !f->refused_once) {
        f->refused_once = TRUE;
        must_send (f, DIODE_MSG_ERROR, DIODE_ERR_LOOP);
        expect_state (f, "after refusing LINK");
        must_refuse (f, DIODE_MSG_LINK_OK);
      } else {
        must_send (f, DIODE_MSG_LINK_OK, 0);
        f->model = DIODE_SESSION_LINKED;
        expect_state (f, "after LINK_OK");
        /* again when the path changes, and a PULL */
        must_send (f, DIODE_MSG_LINK_OK, 0);
        must_send (f, DIODE_MSG_PULL, 0);
        must_refuse (f, DIODE_MSG_ANNOUNCE);
        must_refuse (f, DIODE_MSG_MEDIA);
      }
      break;
    case DIODE_MSG_ANNOUNCE:
      FUZZ_CHECK (f->model == DIODE_SESSION_LINKED,
          "ANNOUNCE accepted in state %s",
          diode_session_state_name (f->model));
      FUZZ_CHECK (m->op <= 1 && m->path != NULL, "ANNOUNCE fields");
      break;
    case DIODE_MSG_RANGE:
    case DIODE_MSG_FETCH:{
      gboolean range = m->type == DIODE_MSG_RANGE;

      FUZZ_CHECK (f->model == DIODE_SESSION_READY && f->pending == 0
          && diode_session_get_version (f->s) >= 3
          && role != DIODE_ROLE_PUBLISHER, "%s accepted in state %s, role "
          "%u, version %u", diode_msg_type_name (m->type),
          diode_session_state_name (f->model), role,
          diode_session_get_version (f->s));
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL)
          && m->from_seq <= m->to_seq, "%s fields",
          diode_msg_type_name (m->type));
      /* answering the other request, or a subscription, is refused */
      must_refuse (f, range ? DIODE_MSG_FETCH_END : DIODE_MSG_RANGE_OK);
      must_refuse (f, DIODE_MSG_SUBSCRIBE_OK);
      if (range)
        must_refuse (f, DIODE_MSG_CHUNK);
      if ((f->ctl & 0x20) && !f->refused_once) {
        f->refused_once = TRUE;
        if (!range) {
          /* a store that fails in the middle of the answer */
          must_send (f, DIODE_MSG_CHUNK, 0);
          must_send (f, DIODE_MSG_MEDIA, 0);
        }
        must_send (f, DIODE_MSG_ERROR, range ? DIODE_ERR_NOT_STORED :
            DIODE_ERR_STORE_FAILED);
      } else if (range) {
        must_send (f, DIODE_MSG_RANGE_OK, 0);
      } else {
        must_send (f, DIODE_MSG_CHUNK, 0);
        must_send (f, DIODE_MSG_CAPS, 0);
        must_send (f, DIODE_MSG_MEDIA, 0);
        must_send (f, DIODE_MSG_EOS, 0);
        must_send (f, DIODE_MSG_FETCH_END, 0);
      }
      expect_state (f, "after answering");
      /* answered: nothing more of it */
      must_refuse (f, DIODE_MSG_RANGE_OK);
      must_refuse (f, DIODE_MSG_FETCH_END);
      must_refuse (f, DIODE_MSG_CHUNK);
      must_refuse (f, DIODE_MSG_MEDIA);
      break;
    }
    case DIODE_MSG_PUBLISH:
    case DIODE_MSG_SUBSCRIBE:{
      gboolean publish = m->type == DIODE_MSG_PUBLISH;

      FUZZ_CHECK (f->model == DIODE_SESSION_READY && f->pending == 0,
          "%s accepted in state %s", diode_msg_type_name (m->type),
          diode_session_state_name (f->model));
      FUZZ_CHECK (publish ? role != DIODE_ROLE_VIEWER :
          role != DIODE_ROLE_PUBLISHER, "%s accepted from role %u",
          diode_msg_type_name (m->type), role);
      FUZZ_CHECK (diode_msg_check_stream_name (m->stream, NULL),
          "bad stream name accepted");
      /* answering the other request is refused */
      must_refuse (f, publish ? DIODE_MSG_SUBSCRIBE_OK : DIODE_MSG_PUBLISH_OK);
      if ((f->ctl & 0x20) && !f->refused_once) {
        f->refused_once = TRUE;
        must_send (f, DIODE_MSG_ERROR, publish ? DIODE_ERR_NAME_IN_USE :
            DIODE_ERR_NOT_FOUND);
        expect_state (f, "after a refusal");
        /* the refusal answered it */
        must_refuse (f, publish ? DIODE_MSG_PUBLISH_OK :
            DIODE_MSG_SUBSCRIBE_OK);
      } else {
        must_send (f, publish ? DIODE_MSG_PUBLISH_OK :
            DIODE_MSG_SUBSCRIBE_OK, 0);
        f->model = publish ? DIODE_SESSION_PUBLISHING :
            DIODE_SESSION_SUBSCRIBED;
        expect_state (f, "after answering");
        must_refuse (f, publish ? DIODE_MSG_PUBLISH_OK :
            DIODE_MSG_SUBSCRIBE_OK);
        if (!publish) {
          must_send (f, DIODE_MSG_CAPS, 0);
          must_send (f, DIODE_MSG_MEDIA, 0);
          /* a pulling relay also gets the policy changes */
          if (diode_session_is_link (f->s))
            must_send (f, DIODE_MSG_POLICY, 0);
          else
            must_refuse (f, DIODE_MSG_POLICY);
        } else {
          must_refuse (f, DIODE_MSG_MEDIA);
          /* recording progress, version 3 only */
          if (diode_session_get_version (f->s) >= 3)
            must_send (f, DIODE_MSG_STORED, 0);
          else
            must_refuse (f, DIODE_MSG_STORED);
        }
      }
      break;
    }
    case DIODE_MSG_CAPS:
    case DIODE_MSG_POLICY:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      FUZZ_CHECK (f->model == DIODE_SESSION_PUBLISHING,
          "%s accepted from a client in state %s",
          diode_msg_type_name (m->type), diode_session_state_name (f->model));
      check_seq (f, m);
      break;
    case DIODE_MSG_SIGNAL:
    case DIODE_MSG_PATH:
      FUZZ_CHECK (diode_session_get_version (f->s) >= 4
          && role != DIODE_ROLE_RELAY, "%s accepted at version %u, role %u",
          diode_msg_type_name (m->type), diode_session_get_version (f->s),
          role);
      FUZZ_CHECK ((f->model == DIODE_SESSION_SUBSCRIBED
              && role == DIODE_ROLE_VIEWER)
          || (m->type == DIODE_MSG_SIGNAL
              && f->model == DIODE_SESSION_PUBLISHING
              && role == DIODE_ROLE_PUBLISHER),
          "%s accepted in state %s from role %u",
          diode_msg_type_name (m->type), diode_session_state_name (f->model),
          role);
      if (m->type == DIODE_MSG_SIGNAL) {
        FUZZ_CHECK (m->signal_kind != (role == DIODE_ROLE_VIEWER ?
                DIODE_SIGNAL_ANSWER : DIODE_SIGNAL_OFFER),
            "SIGNAL %s accepted from role %u",
            diode_signal_kind_name (m->signal_kind), role);
        /* the relay's CLOSE, say */
        must_send (f, DIODE_MSG_SIGNAL, 0);
      }
      must_refuse (f, DIODE_MSG_PATH);
      break;
    case DIODE_MSG_LIST:
      /* appended to version 4 (section 19): a publisher or viewer in
       * READY with nothing pending; answered once, by LISTING or 107 */
      FUZZ_CHECK (f->model == DIODE_SESSION_READY
          && diode_session_get_version (f->s) >= 4
          && role != DIODE_ROLE_RELAY, "LIST accepted in state %s, role %u, "
          "version %u", diode_session_state_name (f->model), role,
          diode_session_get_version (f->s));
      FUZZ_CHECK (m->list_mode <= DIODE_LIST_MODE_LAST && m->stream
          && (m->list_mode == DIODE_LIST_ALL || *m->stream), "LIST fields");
      must_refuse (f, DIODE_MSG_SUBSCRIBE_OK);
      must_refuse (f, DIODE_MSG_PUBLISH_OK);
      must_refuse (f, DIODE_MSG_RANGE_OK);
      if (f->ctl & 0x20)
        must_send (f, DIODE_MSG_ERROR, DIODE_ERR_RATE_LIMITED);
      else
        must_send (f, DIODE_MSG_LISTING, 0);
      expect_state (f, "after answering LIST");
      must_refuse (f, DIODE_MSG_LISTING);
      break;
    case DIODE_MSG_PING:
      FUZZ_CHECK (f->model != DIODE_SESSION_AWAIT_HELLO, "PING before HELLO");
      must_send (f, DIODE_MSG_PONG, 0);
      break;
    case DIODE_MSG_PONG:
      FUZZ_CHECK (f->model != DIODE_SESSION_AWAIT_HELLO, "PONG before HELLO");
      break;
    case DIODE_MSG_ERROR:
      /* legal before HELLO too: a client giving up at once says why */
      on_peer_error (f, m);
      break;
    default:
      FUZZ_CHECK (FALSE, "relay end accepted %s from a client",
          diode_msg_type_name (m->type));
  }
}

static void
client_end_message (Fuzz * f, const DiodeMsg * m)
{
  FUZZ_CHECK (f->hello_sent, "%s accepted before HELLO was sent",
      diode_msg_type_name (m->type));
  switch (m->type) {
    case DIODE_MSG_WELCOME:
      FUZZ_CHECK (f->model == DIODE_SESSION_AWAIT_WELCOME,
          "WELCOME accepted in state %s", diode_session_state_name (f->model));
      FUZZ_CHECK (m->version >= (f->link_mode ? 2 : 1)
          && m->version <= f->offer_max
          && diode_session_get_version (f->s) == m->version,
          "WELCOME version %u accepted", m->version);
      f->model = DIODE_SESSION_READY;
      expect_state (f, "after WELCOME");
      /* the recording requests need version 3, and are a viewer's */
      if (m->version < 3 || (!(f->ctl & 0x10) && !f->link_mode)) {
        must_refuse (f, DIODE_MSG_RANGE);
        must_refuse (f, DIODE_MSG_FETCH);
      }
      client_request (f);
      break;
    case DIODE_MSG_PUBLISH_OK:
      FUZZ_CHECK (f->model == DIODE_SESSION_READY
          && f->pending == DIODE_MSG_PUBLISH,
          "PUBLISH_OK accepted without a pending PUBLISH");
      f->pending = 0;
      f->model = DIODE_SESSION_PUBLISHING;
      expect_state (f, "after PUBLISH_OK");
      must_send (f, DIODE_MSG_CAPS, 0);
      must_send (f, DIODE_MSG_MEDIA, 0);
      must_send (f, DIODE_MSG_POLICY, 0);
      must_refuse (f, DIODE_MSG_RANGE);
      break;
    case DIODE_MSG_STORED:
      FUZZ_CHECK (f->model == DIODE_SESSION_PUBLISHING
          && diode_session_get_version (f->s) >= 3,
          "STORED accepted in state %s, version %u",
          diode_session_state_name (f->model),
          diode_session_get_version (f->s));
      break;
    case DIODE_MSG_RANGE_OK:
      FUZZ_CHECK (f->model == DIODE_SESSION_READY
          && f->pending == DIODE_MSG_RANGE,
          "RANGE_OK accepted without a pending RANGE");
      FUZZ_CHECK (m->n_spans <= DIODE_MAX_SPANS, "RANGE_OK spans");
      f->pending = 0;
      expect_state (f, "after RANGE_OK");
      client_request (f);
      break;
    case DIODE_MSG_CHUNK:
      FUZZ_CHECK (f->model == DIODE_SESSION_FETCHING && f->chunk_left == 0,
          "CHUNK accepted in state %s with %u frames outstanding",
          diode_session_state_name (f->model), f->chunk_left);
      FUZZ_CHECK (m->chunk.n_frames >= 1 && m->chunk.n_prelude <=
          m->chunk.n_frames && (guint64) m->chunk.bytes >=
          8 * (guint64) m->chunk.n_frames, "CHUNK header accepted");
      f->chunk_left = m->chunk.n_frames;
      f->prelude_left = m->chunk.n_prelude;
      f->bytes_left = m->chunk.bytes;
      f->chunk_first = m->chunk.first_seq;
      f->chunk_last = m->chunk.last_seq;
      must_refuse (f, DIODE_MSG_FETCH);
      break;
    case DIODE_MSG_FETCH_END:
      FUZZ_CHECK (f->model == DIODE_SESSION_FETCHING && f->chunk_left == 0,
          "FETCH_END accepted in state %s with %u frames outstanding",
          diode_session_state_name (f->model), f->chunk_left);
      f->pending = 0;
      f->model = DIODE_SESSION_READY;
      expect_state (f, "after FETCH_END");
      client_request (f);
      break;
    case DIODE_MSG_SUBSCRIBE_OK:
      FUZZ_CHECK (f->model == DIODE_SESSION_SUBSCRIBING
          && f->pending == DIODE_MSG_SUBSCRIBE,
          "SUBSCRIBE_OK accepted without a pending SUBSCRIBE");
      f->pending = 0;
      f->model = DIODE_SESSION_SUBSCRIBED;
      expect_state (f, "after SUBSCRIBE_OK");
      must_refuse (f, DIODE_MSG_MEDIA);         /* viewers do not publish */
      break;
    case DIODE_MSG_CAPS:
    case DIODE_MSG_MEDIA:
    case DIODE_MSG_EOS:
      if (f->model == DIODE_SESSION_FETCHING) {
        gsize size = g_bytes_get_size (m->frame);
        gboolean prelude = f->prelude_left > 0;

        FUZZ_CHECK (f->chunk_left > 0, "%s accepted outside a CHUNK",
            diode_msg_type_name (m->type));
        FUZZ_CHECK (size + 8 * (guint64) (f->chunk_left - 1) <= f->bytes_left,
            "%s of %zu bytes accepted with %" G_GUINT64_FORMAT " left for %u "
            "frames", diode_msg_type_name (m->type), size, f->bytes_left,
            f->chunk_left);
        f->bytes_left -= size;
        f->chunk_left--;
        if (prelude)
          f->prelude_left--;
        if (m->type == DIODE_MSG_CAPS)
          break;
        FUZZ_CHECK (m->type != DIODE_MSG_EOS || (!prelude
                && f->chunk_left == 0), "EOS accepted inside a chunk");
        if (prelude) {
          FUZZ_CHECK (m->flags & DIODE_MEDIA_STREAMHEADER,
              "prelude MEDIA without STREAMHEADER accepted");
          break;
        }
        FUZZ_CHECK (m->seq >= f->chunk_first && m->seq <= f->chunk_last
            && (m->type == DIODE_MSG_EOS ? m->seq >= f->fetch_last :
                m->seq > f->fetch_last), "%s seq %" G_GUINT64_FORMAT
            " accepted in chunk %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
            " after %" G_GUINT64_FORMAT, diode_msg_type_name (m->type),
            m->seq, f->chunk_first, f->chunk_last, f->fetch_last);
        f->fetch_last = m->seq;
        break;
      }
      FUZZ_CHECK (f->model == DIODE_SESSION_SUBSCRIBED,
          "%s accepted from the relay in state %s",
          diode_msg_type_name (m->type), diode_session_state_name (f->model));
      check_seq (f, m);
      break;
    case DIODE_MSG_POLICY:
      FUZZ_CHECK (f->model == DIODE_SESSION_SUBSCRIBED
          && diode_session_is_link (f->s),
          "POLICY accepted from the relay in state %s (link %d)",
          diode_session_state_name (f->model), diode_session_is_link (f->s));
      break;
    case DIODE_MSG_LINK_OK:
      FUZZ_CHECK ((f->model == DIODE_SESSION_LINKING
              && f->pending == DIODE_MSG_LINK)
          || f->model == DIODE_SESSION_LINKED,
          "LINK_OK accepted in state %s", diode_session_state_name (f->model));
      FUZZ_CHECK (m->path != NULL, "LINK_OK without a path");
      f->pending = 0;
      f->model = DIODE_SESSION_LINKED;
      expect_state (f, "after LINK_OK");
      must_send (f, DIODE_MSG_ANNOUNCE, 0);
      must_refuse (f, DIODE_MSG_SUBSCRIBE);
      must_refuse (f, DIODE_MSG_LINK);
      break;
    case DIODE_MSG_PULL:
      FUZZ_CHECK (f->model == DIODE_SESSION_LINKED,
          "PULL accepted in state %s", diode_session_state_name (f->model));
      FUZZ_CHECK (m->path != NULL && diode_msg_check_stream_name (m->stream,
              NULL), "PULL fields");
      break;
    case DIODE_MSG_PING:
      FUZZ_CHECK (f->model != DIODE_SESSION_AWAIT_WELCOME,
          "PING before WELCOME");
      must_send (f, DIODE_MSG_PONG, 0);
      break;
    case DIODE_MSG_PONG:
      FUZZ_CHECK (f->model != DIODE_SESSION_AWAIT_WELCOME,
          "PONG before WELCOME");
      break;
    case DIODE_MSG_SIGNAL:{
      DiodeRole own = diode_session_get_role (f->s);

      FUZZ_CHECK (diode_session_get_version (f->s) >= 4 && !f->link_mode,
          "SIGNAL accepted at version %u (link %d)",
          diode_session_get_version (f->s), f->link_mode);
      FUZZ_CHECK ((f->model == DIODE_SESSION_SUBSCRIBED
              && own == DIODE_ROLE_VIEWER)
          || (f->model == DIODE_SESSION_PUBLISHING
              && own == DIODE_ROLE_PUBLISHER),
          "SIGNAL accepted in state %s as role %u",
          diode_session_state_name (f->model), own);
      FUZZ_CHECK (m->signal_kind != (own == DIODE_ROLE_VIEWER ?
              DIODE_SIGNAL_OFFER : DIODE_SIGNAL_ANSWER),
          "SIGNAL %s accepted as role %u",
          diode_signal_kind_name (m->signal_kind), own);
      must_send (f, DIODE_MSG_SIGNAL, 0);
      if (own == DIODE_ROLE_VIEWER) {
        /* as a viewer switching paths: the relay may resume lower once */
        must_send (f, DIODE_MSG_PATH, 0);
        f->path_resume = TRUE;
      } else {
        must_refuse (f, DIODE_MSG_PATH);
      }
      break;
    }
    case DIODE_MSG_ERROR:
      on_peer_error (f, m);
      break;
    default:
      FUZZ_CHECK (FALSE, "client end accepted %s from a relay",
          diode_msg_type_name (m->type));
  }
}

/* What must hold once next() said NEED_MORE: less than one whole frame is
 * buffered, and it is the unread tail of what was fed. */
static void
check_buffer (Fuzz * f)
{
  gsize b = diode_session_buffered (f->s);
  gsize len;

  FUZZ_CHECK (f->consumed + b == f->fed->len, "fed %u bytes, returned %zu, "
      "buffered %zu", f->fed->len, f->consumed, b);
  if (b >= DIODE_FRAME_HEADER_SIZE) {
    const guint8 *h = f->fed->data + f->consumed;

    FUZZ_CHECK (diode_msg_check_header_v (h, diode_session_get_version (f->s),
            diode_session_get_role (f->s), &len, NULL),
        "NEED_MORE with an invalid header buffered");
    FUZZ_CHECK (b < DIODE_FRAME_HEADER_SIZE + len,
        "NEED_MORE with a whole frame buffered (%zu of %zu)", b,
        DIODE_FRAME_HEADER_SIZE + len);
    /* the frame being received was admitted from its header: this end
     * takes its type now, and its length is within the limit for it */
    FUZZ_CHECK (len <= diode_session_frame_limit (f->s, h[0])
        && diode_session_frame_limit (f->s, h[0]) > 0,
        "NEED_MORE holding a %s of %zu bytes the %s end does not admit in "
        "state %s (limit %zu)", diode_msg_type_name (h[0]), len,
        f->end == DIODE_SESSION_RELAY_END ? "relay" : "client",
        diode_session_state_name (diode_session_get_state (f->s)),
        diode_session_frame_limit (f->s, h[0]));
  }
  FUZZ_CHECK (b <= DIODE_FRAME_HEADER_SIZE + DIODE_MAX_MEDIA_PAYLOAD
      + f->last_chunk, "buffered %zu", b);
}

/* The session returned ERROR once: it must stay that way. */
static void
check_closed_for_good (Fuzz * f)
{
  static const guint8 junk[16] = { DIODE_MSG_PING, 0, 0, 0, 0, 0, 0, 8, };
  DiodeMsg m;
  GError *err = NULL;
  guint i;

  FUZZ_CHECK (diode_session_get_state (f->s) == DIODE_SESSION_CLOSED,
      "state %s after ERROR",
      diode_session_state_name (diode_session_get_state (f->s)));
  FUZZ_CHECK (diode_session_buffered (f->s) == 0,
      "%zu bytes still buffered after ERROR", diode_session_buffered (f->s));
  diode_session_feed (f->s, junk, sizeof (junk));
  FUZZ_CHECK (diode_session_buffered (f->s) == 0, "closed session buffers");
  for (i = 0; i < 2; i++) {
    FUZZ_CHECK (diode_session_next (f->s, &m, &err) == DIODE_SESSION_ERROR,
        "closed session returned something else than ERROR");
    FUZZ_CHECK (msg_is_zero (&m), "ERROR with a message filled");
    FUZZ_CHECK (err != NULL && err->code == f->err_code
        && strcmp (err->message, f->err_message) == 0,
        "sticky error changed: %d '%s' then %d '%s'", f->err_code,
        f->err_message, err ? err->code : -1, err ? err->message : "(null)");
    g_clear_error (&err);
  }
  /* reporting the error is always legal; anything else is refused */
  must_send (f, DIODE_MSG_ERROR, f->err_code);
  must_refuse (f, DIODE_MSG_PING);
  must_refuse (f, f->end == DIODE_SESSION_RELAY_END ? DIODE_MSG_WELCOME :
      DIODE_MSG_HELLO);
}

/* Pulls messages until NEED_MORE or ERROR. */
static void
drain (Fuzz * f)
{
  for (;;) {
    DiodeMsg m;
    GError *err = NULL;
    DiodeSessionResult r;

    memset (&m, 0x5a, sizeof (m));      /* next() must zero it */
    r = diode_session_next (f->s, &m, &err);

    if (r == DIODE_SESSION_NEED_MORE) {
      FUZZ_CHECK (err == NULL, "NEED_MORE with an error set");
      FUZZ_CHECK (msg_is_zero (&m), "NEED_MORE with a message filled");
      FUZZ_CHECK (f->model != DIODE_SESSION_CLOSED,
          "NEED_MORE from a session that should be closed");
      expect_state (f, "at NEED_MORE");
      check_buffer (f);
      return;
    }
    if (r == DIODE_SESSION_ERROR) {
      FUZZ_CHECK (err != NULL && err->domain == DIODE_PROTOCOL_ERROR,
          "ERROR without a protocol error");
      FUZZ_CHECK (diode_error_code_is_fatal (err->code),
          "ERROR with non-fatal code %d", err->code);
      FUZZ_CHECK (msg_is_zero (&m), "ERROR with a message filled");
      f->closed = TRUE;
      f->model = DIODE_SESSION_CLOSED;
      f->err_code = err->code;
      f->err_message = g_strdup (err->message);
      if (trace)
        fprintf (stderr, "  ERROR %d: %s\n", err->code, err->message);
      g_error_free (err);
      check_closed_for_good (f);
      return;
    }

    FUZZ_CHECK (r == DIODE_SESSION_MESSAGE, "next() returned %d", r);
    FUZZ_CHECK (err == NULL, "MESSAGE with an error set");
    FUZZ_CHECK (f->model != DIODE_SESSION_CLOSED,
        "message returned by a session that should be closed");
    {
      gsize size;
      const guint8 *d;

      FUZZ_CHECK (m.frame != NULL, "message without its frame");
      d = g_bytes_get_data (m.frame, &size);
      FUZZ_CHECK (size >= DIODE_FRAME_HEADER_SIZE
          && f->consumed + size <= f->fed->len
          && memcmp (d, f->fed->data + f->consumed, size) == 0,
          "returned frame (%zu bytes) is not the next bytes fed", size);
      FUZZ_CHECK ((guint) m.type == d[0], "type differs from the header");
      f->consumed += size;
    }
    if (trace)
      fprintf (stderr, "  %s (state %s)\n", diode_msg_type_name (m.type),
          diode_session_state_name (diode_session_get_state (f->s)));
    if (f->end == DIODE_SESSION_RELAY_END)
      relay_end_message (f, &m);
    else
      client_end_message (f, &m);
    expect_state (f, diode_msg_type_name (m.type));
    diode_msg_clear (&m);
  }
}

static void
feed (Fuzz * f, const guint8 * d, gsize n)
{
  gsize before = diode_session_buffered (f->s);
  gsize limit_before = 0;

  if (n == 0)
    return;
  /* what this end admits for the type of the frame at head, as it stands
   * before the feed (the state feed() judges its header in) */
  if (f->consumed < f->fed->len)
    limit_before = diode_session_frame_limit (f->s, f->fed->data[f->consumed]);
  else
    limit_before = diode_session_frame_limit (f->s, d[0]);
  g_byte_array_append (f->fed, d, n);
  f->last_chunk = n;
  diode_session_feed (f->s, d, n);
  if (diode_session_get_state (f->s) == DIODE_SESSION_CLOSED) {
    /* feed() judged the header of the frame at head and refused it: the
     * frame had to be refusable from those 8 bytes, and nothing is kept */
    const guint8 *h = f->fed->data + f->consumed;
    gsize len = 0;

    FUZZ_CHECK (f->fed->len - f->consumed >= DIODE_FRAME_HEADER_SIZE,
        "feed() closed the session without a whole header at head");
    FUZZ_CHECK (!diode_msg_check_header_v (h, diode_session_get_version (f->s),
            diode_session_get_role (f->s), &len, NULL) || limit_before == 0
        || len > limit_before,
        "feed() refused a %s of %zu bytes, limit %zu in that state",
        diode_msg_type_name (h[0]), len, limit_before);
    FUZZ_CHECK (diode_session_buffered (f->s) == 0,
        "feed() refused a frame but keeps %zu bytes",
        diode_session_buffered (f->s));
  } else {
    FUZZ_CHECK (diode_session_buffered (f->s) == before + n,
        "feed of %zu: buffered %zu -> %zu", n, before,
        diode_session_buffered (f->s));
  }
  drain (f);
}

/* Feed sizes for each split pattern. */
static gsize
chunk_size (guint pattern, guint i, gsize left)
{
  static const gsize cycle[] = { 1, 8, 64, 5, 4097, 2, 9, 300 };
  gsize n;

  switch (pattern) {
    case 0:
      n = left;                 /* all at once */
      break;
    case 1:
      n = 1;
      break;
    case 2:
      n = 3;
      break;
    case 3:
      n = 7;
      break;
    case 4:
      n = 8;
      break;
    case 5:
      n = 4093;                 /* crosses the 4096-byte first allocation */
      break;
    case 6:
    default:
      n = cycle[i % G_N_ELEMENTS (cycle)];
      break;
  }
  return MIN (n, left);
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  Fuzz f;
  guint pattern, i;
  gsize pos;

  if (size < 1)
    return 0;

  memset (&f, 0, sizeof (f));
  f.ctl = data[0];
  f.end = (f.ctl & 1) ? DIODE_SESSION_CLIENT_END : DIODE_SESSION_RELAY_END;
  f.s = diode_session_new (f.end);
  f.fed = g_byte_array_new ();
  pattern = (f.ctl >> 1) & 7;

  if (f.end == DIODE_SESSION_RELAY_END) {
    f.model = DIODE_SESSION_AWAIT_HELLO;
    expect_state (&f, "new");
    /* nothing but ERROR may be sent before HELLO */
    must_refuse (&f, DIODE_MSG_WELCOME);
    must_refuse (&f, DIODE_MSG_PING);
  } else {
    f.model = DIODE_SESSION_AWAIT_WELCOME;
    expect_state (&f, "new");
    must_refuse (&f, DIODE_MSG_PUBLISH);
    if ((f.ctl & 0xc0) == 0x40) {
      GError *err = NULL;

      f.link_mode = TRUE;
      f.offer_max = DIODE_PROTOCOL_VERSION_MAX;
      if (!diode_session_sent_hello (f.s, 1, f.offer_max, DIODE_ROLE_RELAY,
              &err))
        FUZZ_CHECK (FALSE, "sent_hello refused: %s", err->message);
      FUZZ_CHECK (diode_session_get_role (f.s) == DIODE_ROLE_RELAY,
          "client end role");
      f.hello_sent = TRUE;
      must_refuse (&f, DIODE_MSG_HELLO);        /* only once */
    } else if ((f.ctl & 0xc0) == 0x80) {
      /* a client of an older release: a plain HELLO offers 1..1 */
      must_send (&f, DIODE_MSG_HELLO, 0);
      f.offer_max = DIODE_PROTOCOL_VERSION;
      f.hello_sent = TRUE;
      must_refuse (&f, DIODE_MSG_HELLO);        /* only once */
    } else if ((f.ctl & 0xc0) == 0) {
      /* diodesink / diodesrc: 1..3 */
      GError *err = NULL;
      DiodeRole role = (f.ctl & 0x10) ? DIODE_ROLE_VIEWER :
          DIODE_ROLE_PUBLISHER;

      f.offer_max = DIODE_PROTOCOL_VERSION_MAX;
      if (!diode_session_sent_hello (f.s, 1, f.offer_max, role, &err))
        FUZZ_CHECK (FALSE, "sent_hello refused: %s", err->message);
      f.hello_sent = TRUE;
      must_refuse (&f, DIODE_MSG_HELLO);        /* only once */
    }
  }

  data++;
  size--;
  pos = 0;
  for (i = 0; pos < size && !f.closed; i++) {
    gsize n;

    if (pattern == 7) {
      /* the input chooses: a length byte (1..256) before each chunk */
      n = MIN ((gsize) data[pos] + 1, size - pos - 1);
      pos++;
    } else {
      n = chunk_size (pattern, i, size - pos);
    }
    feed (&f, data + pos, n);
    pos += n;
  }
  if (!f.closed)
    drain (&f);
  if (trace)
    fprintf (stderr, "  end: state %s, %zu bytes buffered\n",
        diode_session_state_name (diode_session_get_state (f.s)),
        diode_session_buffered (f.s));

  /* Tearing down: a relay shutting down sends a fatal ERROR, which closes. */
  if (!f.closed && (f.ctl & 0x80)) {
    must_send (&f, DIODE_MSG_ERROR, DIODE_ERR_SHUTDOWN);
    FUZZ_CHECK (diode_session_get_state (f.s) == DIODE_SESSION_CLOSED,
        "sending a fatal ERROR did not close the session");
    {
      DiodeMsg m;
      GError *err = NULL;

      FUZZ_CHECK (diode_session_next (f.s, &m, &err) == DIODE_SESSION_ERROR
          && err != NULL && err->code == DIODE_ERR_SHUTDOWN,
          "closed by a sent ERROR, next() does not say so");
      g_error_free (err);
    }
  }

  g_free (f.err_message);
  g_byte_array_unref (f.fed);
  diode_session_free (f.s);
  return 0;
}
