/* gst-diode — the relay's side of direct paths: SIGNAL forwarding, PATH
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/protocol.md sections 17.4 and 17.6 are the contract; docs/security.md
 * section 13 says what it promises. The relay introduces a live viewer to
 * the current local publisher of the stream it watches: it forwards the
 * ICE signalling (SIGNAL) between the two, and only between them, with
 * the session id rewritten to each end's own and `peer` set to the
 * sender's proven (TLS) address, so neither end can pass for another.
 *
 * A direct session is a mapping (viewer connection, viewer sid) <->
 * (publisher connection, relay sid). Bounds: 1 open session per viewer
 * connection, 64 per publisher connection, 128 SIGNALs per session, a
 * token bucket of 50 SIGNALs/s per connection; a forwarded SIGNAL waits in
 * the receiver's reply queue like every reply (--max-reply-bytes). What
 * is dropped is counted and never answered (two ends cannot make the
 * relay echo CLOSEs at each other), except the refusals 17.6 lists.
 *
 * PATH DIRECT stops CAPS/MEDIA to the viewer (its cursor is dropped: it
 * never counts as slow), PATH RELAY resumes it from from_seq like a
 * resuming SUBSCRIBE. Runs on the relay's I/O thread.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

/* docs/protocol.md 17.6 */
#define DIRECT_PER_PUBLISHER   64
#define DIRECT_SIGNALS_MAX     128
#define DIRECT_BUCKET_RATE     50.0     /* SIGNALs per second, per conn */
#define DIRECT_BUCKET_BURST    50.0
/* What a session or a connection's state costs beyond its struct: the
 * hash table node that maps it (for direct.memory_bytes). */
#define DIRECT_NODE_OVERHEAD   32

typedef struct _DirectSess DirectSess;

struct _DirectSess {
  Conn       *viewer;
  guint32     viewer_sid;
  Conn       *publisher;
  guint32     relay_sid;
  guint       signals;          /* both directions, CLOSE not counted */
};

/* A connection's direct-path state, made at its first SIGNAL. */
struct _RelayDirect {
  gdouble     tokens;           /* the SIGNAL bucket */
  gint64      refill_at;
  DirectSess *open;             /* viewer: its one open session */
  guint32     told_sid;         /* viewer: last OFFER sid told "too many
                                   signals" (once per sid) */
  GHashTable *sessions;         /* publisher: relay sid -> DirectSess* */
  guint32     next_sid;         /* publisher: the last relay sid given */
};

static RelayDirect *
direct_of (Conn * c)
{
  DiodeRelay *r = c->relay;

  if (!c->direct) {
    c->direct = g_new0 (RelayDirect, 1);
    c->direct->tokens = DIRECT_BUCKET_BURST;
    c->direct->refill_at = g_get_monotonic_time ();
    r->direct_memory += sizeof (RelayDirect) + DIRECT_NODE_OVERHEAD;
  }
  return c->direct;
}

/* conn_free: what is left of its state (its sessions ended at close). */
void
relay_direct_free (Conn * c)
{
  if (!c->direct)
    return;
  if (c->direct->sessions) {
    c->relay->direct_memory -= 4 * DIRECT_NODE_OVERHEAD;
    g_hash_table_unref (c->direct->sessions);
  }
  c->relay->direct_memory -= sizeof (RelayDirect) + DIRECT_NODE_OVERHEAD;
  g_clear_pointer (&c->direct, g_free);
}

/* A token for one more SIGNAL from @c (FALSE: over 50/s). */
static gboolean
direct_take_token (Conn * c)
{
  RelayDirect *d = direct_of (c);
  gint64 now = g_get_monotonic_time ();

  if (now > d->refill_at) {
    d->tokens = MIN (DIRECT_BUCKET_BURST, d->tokens +
        (gdouble) (now - d->refill_at) * DIRECT_BUCKET_RATE / 1e6);
    d->refill_at = now;
  }
  if (d->tokens < 1.0)
    return FALSE;
  d->tokens -= 1.0;
  return TRUE;
}

static gboolean
conn_can_take (Conn * c)
{
  return c && !c->dead && c->phase == CONN_OPEN;
}

/* Queue SIGNAL(@sid, @kind, @peer, @data) on @to. @bounded: a forwarded
 * frame, refused (FALSE) when @to's reply queue is full; the relay's own
 * CLOSEs are not (at most one per session, and each session needed an
 * OFFER that fitted). */
static gboolean
direct_send (Conn * to, guint32 sid, guint8 kind, const gchar * peer,
    const gchar * data, gboolean bounded)
{
  DiodeRelay *r = to->relay;
  GError *err = NULL;
  GBytes *f;

  if (!conn_can_take (to))
    return FALSE;
  f = diode_msg_encode_signal (sid, kind, peer, data);
  if (!f)
    return FALSE;
  if (bounded && r->max_reply_bytes && to->ctrl_bytes + g_bytes_get_size (f)
      + CTRL_FRAME_OVERHEAD > r->max_reply_bytes) {
    g_bytes_unref (f);
    return FALSE;
  }
  if (!diode_session_sent (to->session, DIODE_MSG_SIGNAL, 0, &err)) {
    /* not in a state that takes SIGNAL (17.5): nothing to say to it */
    g_clear_error (&err);
    g_bytes_unref (f);
    return FALSE;
  }
  conn_queue (to, f);
  /* written from EPOLLOUT, not from here: a write error would close @to
   * (and end its sessions) in the middle of the caller's work */
  conn_want_write (to, TRUE);
  return TRUE;
}

/* The relay's own CLOSE refusing a SIGNAL: peer empty (17.6 rule 1). */
static void
direct_refuse (Conn * c, guint32 sid, const gchar * reason)
{
  g_debug ("direct: SIGNAL sid %u of %s refused: %s", sid, c->peer, reason);
  direct_send (c, sid, DIODE_SIGNAL_CLOSE, NULL, reason, FALSE);
}

/* Counted, not logged above debug: a flood of them is what the bounds
 * are for, and it must not use up the log budget of real protocol
 * errors. */
static void
direct_drop (Conn * c, const gchar * why)
{
  c->relay->direct_signals_dropped++;
  g_debug ("direct: dropped a SIGNAL from %s (%s): %s", c->peer,
      c->address ? c->address : "?", why);
}

/* Ends @d; CLOSE @to_viewer / @to_publisher (NULL: none) to each end,
 * each carrying the other end's address. */
static void
direct_end (DirectSess * d, const gchar * to_viewer, const gchar * to_pub)
{
  DiodeRelay *r = d->viewer->relay;

  /* unmapped first: nothing below can reach it through either end */
  if (d->viewer->direct && d->viewer->direct->open == d)
    d->viewer->direct->open = NULL;
  if (d->publisher->direct && d->publisher->direct->sessions)
    g_hash_table_remove (d->publisher->direct->sessions,
        GUINT_TO_POINTER (d->relay_sid));
  if (to_viewer)
    direct_send (d->viewer, d->viewer_sid, DIODE_SIGNAL_CLOSE,
        d->publisher->address, to_viewer, FALSE);
  if (to_pub)
    direct_send (d->publisher, d->relay_sid, DIODE_SIGNAL_CLOSE,
        d->viewer->address, to_pub, FALSE);
  r->direct_sessions--;
  r->direct_memory -= sizeof (DirectSess) + DIRECT_NODE_OVERHEAD;
  g_free (d);
}

/* Was @c's SUBSCRIBE a replay (a start mode other than LIVE)? */
static gboolean
direct_is_replay (Conn * c)
{
  return c->replay_view || c->replay != NULL;
}

/* 17.6 rule 1: may @c (a subscribed viewer) signal its stream's
 * publisher? Returns it, or NULL with @why (a CLOSE reason). */
static Conn *
direct_publisher_for (Conn * c, const gchar ** why, gchar ** detail)
{
  Stream *s = c->stream;
  Conn *p;

  if (direct_is_replay (c)) {
    *why = "direct paths not offered";
    return NULL;
  }
  if (!c->viewing || !s || !s->publisher || s->source != SOURCE_LOCAL
      || s->eos) {
    *why = "publisher not on this relay";
    return NULL;
  }
  p = s->publisher;
  if (!(p->pubflags & DIODE_PUBLISH_DIRECT)
      || diode_session_get_version (p->session) <
      DIODE_PROTOCOL_VERSION_DIRECT) {
    *why = "direct paths not offered";
    return NULL;
  }
  if (!conn_allowed (c, s, detail) || !viewer_pin_allows (c, s, s->owner,
          detail)) {
    *why = "not authorized";
    return NULL;
  }
  if (!conn_can_take (p)) {
    *why = "publisher not on this relay";
    return NULL;
  }
  return p;
}

static void
direct_offer (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;
  RelayDirect *vd = direct_of (c), *pd;
  const gchar *why = NULL;
  gchar *detail = NULL;
  Conn *p = direct_publisher_for (c, &why, &detail);
  DirectSess *d;

  if (!p) {
    if (detail) {
      relay_log (r, RELAY_LOG_REFUSED, "refused a direct path to viewer %s "
          "(%s): %s", c->address, c->peer, detail);
      g_free (detail);
    }
    direct_refuse (c, m->sid, why);
    return;
  }
  /* rule 3: one open session per viewer connection */
  if (vd->open)
    direct_end (vd->open, NULL, "replaced by a new offer");
  pd = direct_of (p);
  if (!pd->sessions) {
    pd->sessions = g_hash_table_new (NULL, NULL);
    r->direct_memory += 4 * DIRECT_NODE_OVERHEAD;
  }
  /* rule 4 */
  if (g_hash_table_size (pd->sessions) >= DIRECT_PER_PUBLISHER) {
    direct_refuse (c, m->sid, "too many direct sessions");
    return;
  }
  d = g_new0 (DirectSess, 1);
  d->viewer = c;
  d->viewer_sid = m->sid;
  d->publisher = p;
  /* non-zero and unique among the publisher connection's open sessions */
  do {
    if (++pd->next_sid == 0)
      pd->next_sid = 1;
  } while (g_hash_table_contains (pd->sessions,
          GUINT_TO_POINTER (pd->next_sid)));
  d->relay_sid = pd->next_sid;
  d->signals = 1;
  g_hash_table_insert (pd->sessions, GUINT_TO_POINTER (d->relay_sid), d);
  vd->open = d;
  r->direct_sessions++;
  r->direct_memory += sizeof (DirectSess) + DIRECT_NODE_OVERHEAD;
  if (!direct_send (p, d->relay_sid, DIODE_SIGNAL_OFFER, c->address,
          m->signal_data, TRUE)) {
    r->direct_signals_dropped++;
    direct_end (d, "publisher not reading", NULL);
    return;
  }
  r->direct_offers++;
  r->direct_signals++;
  g_debug ("direct: viewer %s sid %u <-> publisher %s sid %u", c->address,
      d->viewer_sid, p->address, d->relay_sid);
}

/* A SIGNAL of session @d from one of its ends (@from_viewer says which). */
static void
direct_forward (DirectSess * d, gboolean from_viewer, DiodeMsg * m)
{
  DiodeRelay *r = d->viewer->relay;
  Conn *from = from_viewer ? d->viewer : d->publisher;
  Conn *to = from_viewer ? d->publisher : d->viewer;
  guint32 sid = from_viewer ? d->relay_sid : d->viewer_sid;

  if (m->signal_kind == DIODE_SIGNAL_CLOSE) {
    /* rule 7: forwarded (if there is room) and the session is over */
    if (direct_send (to, sid, DIODE_SIGNAL_CLOSE, from->address,
            m->signal_data, TRUE))
      r->direct_signals++;
    else
      r->direct_signals_dropped++;
    direct_end (d, NULL, NULL);
    return;
  }
  /* rule 5: the session's own bound */
  if (++d->signals > DIRECT_SIGNALS_MAX) {
    direct_drop (from, "too many signals in its direct session");
    direct_end (d, "too many signals", "too many signals");
    return;
  }
  if (!direct_send (to, sid, m->signal_kind, from->address, m->signal_data,
          TRUE)) {
    /* rule 6: the receiver does not read; or it is closing (its ERROR
     * queued), which rule 7 calls gone */
    gboolean gone = !conn_can_take (to);

    r->direct_signals_dropped++;
    if (from_viewer)
      direct_end (d, gone ? "publisher gone" : "publisher not reading", NULL);
    else
      direct_end (d, NULL, gone ? "viewer gone" : "viewer not reading");
    return;
  }
  r->direct_signals++;
}

/* SIGNAL from a subscribed viewer or a publishing publisher (the session
 * checked state, role and direction: 17.5, 17.2). */
void
relay_direct_signal (Conn * c, DiodeMsg * m)
{
  gboolean viewer = diode_session_get_role (c->session) == DIODE_ROLE_VIEWER;
  RelayDirect *cd = direct_of (c);
  DirectSess *d = NULL;

  if (viewer) {
    if (cd->open && cd->open->viewer_sid == m->sid)
      d = cd->open;
  } else if (cd->sessions) {
    d = g_hash_table_lookup (cd->sessions, GUINT_TO_POINTER (m->sid));
  }
  /* rule 5: the connection's bucket */
  if (!direct_take_token (c)) {
    direct_drop (c, "over 50 SIGNALs per second");
    if (d)
      direct_end (d, "too many signals", "too many signals");
    else if (viewer && m->signal_kind == DIODE_SIGNAL_OFFER
        && cd->told_sid != m->sid) {
      cd->told_sid = m->sid;
      direct_refuse (c, m->sid, "too many signals");
    }
    return;
  }
  if (viewer && m->signal_kind == DIODE_SIGNAL_OFFER) {
    direct_offer (c, m);
    return;
  }
  if (!d) {
    /* rule 2: a sid it was not given, or a session that is over */
    direct_drop (c, "no open direct session with that sid");
    return;
  }
  direct_forward (d, viewer, m);
}

/* Ends every session of @c, as its publisher (@pub_reason to each viewer)
 * and as a viewer (@viewer_reason to the publisher). */
static void
direct_end_all (Conn * c, const gchar * pub_reason,
    const gchar * viewer_reason)
{
  RelayDirect *cd = c->direct;

  if (!cd)
    return;
  if (cd->open)
    direct_end (cd->open, NULL, viewer_reason);
  /* one at a time, looked up again each turn (each end unmaps it) */
  while (cd->sessions && g_hash_table_size (cd->sessions)) {
    GHashTableIter it;
    gpointer v;

    g_hash_table_iter_init (&it, cd->sessions);
    if (!g_hash_table_iter_next (&it, NULL, &v))
      break;
    direct_end (v, pub_reason, NULL);
  }
}

/* conn_close, conn_linger: the connection is going (17.6 rule 7). */
void
relay_direct_conn_gone (Conn * c)
{
  direct_end_all (c, "publisher gone", "viewer gone");
  relay_direct_viewer_left (c);
}

/* @c stops viewing its stream (left, finished, cut off, closed): it is on
 * no path of it any more, so it no longer counts as a viewer on DIRECT. */
void
relay_direct_viewer_left (Conn * c)
{
  if (c->on_direct) {
    c->on_direct = FALSE;
    c->relay->direct_viewers_on_direct--;
  }
}

/* Its EOS ("end of stream") or a takeover ("publisher replaced"). */
void
relay_direct_publisher_end (Conn * c, const gchar * reason)
{
  direct_end_all (c, reason, NULL);
}

/* A policy change no longer admits viewer @c: CLOSE "not authorized" to
 * both ends, before the viewer's ERROR 102 (17.6 rule 7). */
void
relay_direct_viewer_refused (Conn * c)
{
  if (c->direct && c->direct->open)
    direct_end (c->direct->open, "not authorized", "not authorized");
}

/* ------------------------------------------------------------------------ */
/* PATH (17.4) */

/* Where a viewer coming back to the relay path starts: from_seq if held,
 * the tail when from_seq is the seq right after the last one held, else
 * the latest keyframe chunk (the viewer sees the gap). */
static void
direct_resume (Conn * c, Stream * s, guint64 from_seq)
{
  DiodeRing *ring = s->ring;
  guint64 last = diode_ring_get_last_seq (ring);
  const gchar *how;

  diode_cursor_clear (&c->cursor);
  diode_cursor_init (&c->cursor);
  if (from_seq && diode_cursor_seek_seq (&c->cursor, ring, from_seq))
    how = "at its seq";
  else if (from_seq && last && from_seq == last + 1
      && diode_cursor_seek_tail (&c->cursor, ring))
    how = "at the tail";
  else {
    diode_cursor_join (&c->cursor, ring);
    how = "at the latest keyframe (not held)";
  }
  /* debug, not info: nothing bounds how often a viewer sends PATH, and a
   * line per frame would let one viewer flood the log */
  g_debug ("viewer %s of '%s' back on the relay path from seq %"
      G_GUINT64_FORMAT " (%s)", c->address, s->name, from_seq, how);
  conn_flush (c);
}

void
relay_direct_path (Conn * c, DiodeMsg * m)
{
  DiodeRelay *r = c->relay;

  /* rule 8: a replay viewer's PATH is ignored */
  if (direct_is_replay (c))
    return;
  if (m->path_kind == DIODE_PATH_DIRECT) {
    if (c->on_direct)
      return;
    c->on_direct = TRUE;
    r->direct_viewers_on_direct++;
    /* No more CAPS/MEDIA from the ring: the cursor goes, with what it
     * held, and an empty cursor has no backlog (never a slow viewer). A
     * frame half written is finished by conn_flush. */
    diode_cursor_clear (&c->cursor);
    diode_cursor_init (&c->cursor);
    g_debug ("viewer %s takes '%s' over a direct path from seq %"
        G_GUINT64_FORMAT, c->address, c->stream ? c->stream->name : "?",
        m->from_seq);
    return;
  }
  if (!c->on_direct)
    return;                     /* already on the relay path */
  c->on_direct = FALSE;
  r->direct_viewers_on_direct--;
  if (c->viewing && c->stream)
    direct_resume (c, c->stream, m->from_seq);
}

/* The stream's EOS reaches viewers on a direct path too (their cursor is
 * gone; 17.4: EOS still comes). */
void
relay_direct_stream_eos (Stream * s, GBytes * eos)
{
  guint i;

  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);

    if (v->on_direct && conn_can_take (v))
      conn_queue (v, g_bytes_ref (eos));
  }
}

/* ------------------------------------------------------------------------ */
/* stats (docs/stats.md) */

guint
relay_direct_stream_viewers (Stream * s)
{
  guint i, n = 0;

  for (i = 0; i < s->viewers->len; i++) {
    Conn *v = g_ptr_array_index (s->viewers, i);

    if (!v->dead && v->on_direct)
      n++;
  }
  return n;
}

void
relay_direct_stats (JsonBuilder * b, DiodeRelay * r)
{
  json_builder_set_member_name (b, "direct");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "sessions");
  json_builder_add_int_value (b, r->direct_sessions);
  json_builder_set_member_name (b, "offers");
  json_builder_add_int_value (b, r->direct_offers);
  json_builder_set_member_name (b, "signals");
  json_builder_add_int_value (b, r->direct_signals);
  json_builder_set_member_name (b, "signals_dropped");
  json_builder_add_int_value (b, r->direct_signals_dropped);
  json_builder_set_member_name (b, "viewers_on_direct");
  json_builder_add_int_value (b, r->direct_viewers_on_direct);
  json_builder_set_member_name (b, "memory_bytes");
  json_builder_add_int_value (b, r->direct_memory);
  json_builder_end_object (b);
}
