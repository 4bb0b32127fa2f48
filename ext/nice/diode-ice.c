/* gst-diode — one ICE connection (libnice) as a reliable byte stream on an fd
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One reliable NiceAgent (RFC 5245, trickle), one stream, one component.
 * DIODE_ICE_PSEUDOTCP: ICE-UDP candidates, libnice's pseudo-TCP on the
 * selected pair. DIODE_ICE_TCP: ICE-TCP candidates only; a reliable agent
 * then runs no pseudo-TCP on a TCP pair and, with bytestream-tcp, reads are
 * a plain byte stream.
 *
 * Reading from ICE: through libnice's pollable NiceInputStream
 * (nice_agent_get_io_stream), not nice_agent_attach_recv(). With an
 * attached callback libnice drains the pseudo-TCP receive buffer into the
 * callback whatever we can take, so its window never closes and a reader
 * that stops would make us buffer without bound. With the pollable stream
 * we read only into the free space of a bounded staging buffer (in): when
 * it is full we stop polling, the pseudo-TCP receive buffer fills, its
 * window closes and the peer stops sending (TCP: the kernel's window does
 * the same). The price: while we do not read, libnice does not read its
 * sockets either (STUN, pseudo-TCP ACKs for our own direction) until the
 * caller reads again; the caller of a TLS session always reads.
 *
 * Writing to ICE: nice_agent_send() takes what pseudo-TCP's send buffer
 * holds and returns -1 or a short count when full; we then wait for
 * "reliable-transport-writable" and stop reading the socketpair (out is
 * bounded). On ICE-TCP libnice queues without bound what the kernel does
 * not take, so before each send we ask whether the kernel socket is
 * writable (diode-ice-tcp.c finds it): libnice's queue then holds at most
 * about one send chunk. The pumps are in diode-ice-pump.c.
 */
#include "diode-ice-priv.h"

#include <nice/agent.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

static void ice_unref (DiodeIce * ice);

/* ---- events: queued, delivered from an idle so that the callback never
 * runs inside libnice's signal emission or inside one of our calls; the
 * callback may free the DiodeIce. */

static gboolean
deliver_events (gpointer data)
{
  DiodeIce *ice = data;
  Pending *p;

  ice->ref++;
  g_source_unref (ice->event_src);
  ice->event_src = NULL;
  while (!ice->freed && (p = g_queue_pop_head (&ice->events))) {
    ice->func (p->event, p->text, ice->user_data);
    g_free (p->text);
    g_free (p);
  }
  ice_unref (ice);
  return G_SOURCE_REMOVE;
}

static void
queue_event (DiodeIce * ice, DiodeIceEvent event, gchar * text)
{
  Pending *p = g_new0 (Pending, 1);

  p->event = event;
  p->text = text;
  g_queue_push_tail (&ice->events, p);
  if (!ice->event_src) {
    ice->event_src = g_idle_source_new ();
    g_source_set_callback (ice->event_src, deliver_events, ice, NULL);
    g_source_attach (ice->event_src, ice->ctx);
  }
}

void
diode_ice_drop_source (GSource ** src)
{
  if (*src) {
    g_source_destroy (*src);
    g_source_unref (*src);
    *src = NULL;
  }
}

/* ---- failure: final. Our end is closed so the caller reads EOF. */

static void
close_our_end (DiodeIce * ice)
{
  diode_ice_drop_source (&ice->fd_in_src);
  diode_ice_drop_source (&ice->fd_out_src);
  diode_ice_drop_source (&ice->retry_src);
  diode_ice_drop_source (&ice->nice_in_src);
  diode_ice_drop_source (&ice->timeout_src);
  if (ice->fd >= 0) {
    close (ice->fd);
    ice->fd = -1;
  }
}

void
diode_ice_fail (DiodeIce * ice, const gchar * reason)
{
  if (ice->failed)
    return;
  ice->failed = TRUE;
  close_our_end (ice);
  queue_event (ice, DIODE_ICE_EVENT_FAILED, g_strdup (reason));
}


/* ---- libnice signals */

static const gchar *
cand_type (const NiceCandidate * c)
{
  switch (c->type) {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
  }
  return "unknown";
}

static void
on_new_candidate (NiceAgent * agent, NiceCandidate * cand, gpointer data)
{
  DiodeIce *ice = data;
  gchar *sdp;

  if (cand->stream_id != ice->stream_id || ice->failed)
    return;
  sdp = nice_agent_generate_local_candidate_sdp (agent, cand);
  if (!sdp)
    return;
  if (g_str_has_prefix (sdp, "a="))
    memmove (sdp, sdp + 2, strlen (sdp + 2) + 1);
  queue_event (ice, DIODE_ICE_EVENT_CANDIDATE, sdp);
}

static void
on_gathering_done (NiceAgent * agent, guint stream_id, gpointer data)
{
  DiodeIce *ice = data;

  if (stream_id != ice->stream_id || ice->failed)
    return;
  queue_event (ice, DIODE_ICE_EVENT_GATHERED, NULL);
}

static void
on_selected_pair (NiceAgent * agent, guint stream_id, guint component,
    NiceCandidate * local, NiceCandidate * remote, gpointer data)
{
  DiodeIce *ice = data;

  if (stream_id != ice->stream_id)
    return;
  g_free (ice->pair_types);
  ice->pair_types = g_strdup_printf ("%s %s", cand_type (local),
      cand_type (remote));
  ice->sel_tcp = local->transport != NICE_CANDIDATE_TRANSPORT_UDP;
  ice->tcp_fd = -1;
}

/* AUTO. libnice ranks ICE-TCP pairs first in a reliable agent, but its
 * regular nomination stops at the first valid host-host pair, and a UDP
 * check (one round trip) beats a TCP one (connect, then the check) as
 * soon as the round trip is longer than the checks' pacing: measured on a
 * 40 ms RTT link, AUTO then ran pseudo-TCP. So both ends hold the peer's
 * UDP candidates back for DIODE_ICE_TCP_GRACE_MS after the session
 * starts (the remote credentials): no UDP check is made by either end
 * before, an ICE-TCP pair that works is chosen, and when none does
 * (NATs, TCP blocked) the UDP candidates join and pseudo-TCP is used, at
 * the cost of the grace in setup time (the viewer is on the relay path
 * meanwhile). Once connected over TCP they are dropped. */
static void
release_udp (DiodeIce * ice)
{
  GSList *l = NULL;
  guint i;

  if (ice->udp_released)
    return;
  ice->udp_released = TRUE;
  diode_ice_drop_source (&ice->grace_src);
  if (!ice->connected && !ice->failed) {
    for (i = 0; i < ice->held_udp->len; i++)
      l = g_slist_append (l, g_ptr_array_index (ice->held_udp, i));
    if (l)
      nice_agent_set_remote_candidates (ice->agent, ice->stream_id, 1, l);
    g_slist_free (l);
  }
  g_ptr_array_set_size (ice->held_udp, 0);
  if (ice->held_gathered && !ice->failed)
    nice_agent_peer_candidate_gathering_done (ice->agent, ice->stream_id);
}

static gboolean
on_grace (gpointer data)
{
  DiodeIce *ice = data;

  g_source_unref (ice->grace_src);
  ice->grace_src = NULL;
  release_udp (ice);
  return G_SOURCE_REMOVE;
}

static void
on_connected (DiodeIce * ice)
{
  int sv[2];

  if (ice->connected || ice->failed)
    return;
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
          sv) < 0) {
    diode_ice_fail (ice, "socketpair failed");
    return;
  }
  ice->fd = sv[0];
  ice->peer_fd = sv[1];
  ice->connected = TRUE;
  diode_ice_drop_source (&ice->timeout_src);
  if (ice->transport == DIODE_ICE_AUTO)
    release_udp (ice);      /* connected: the held ones are dropped */
  queue_event (ice, DIODE_ICE_EVENT_CONNECTED,
      g_strdup (ice->pair_types ? ice->pair_types : "unknown unknown"));
  diode_ice_watch_fd_in (ice);
  if (ice->in.len > 0 || ice->ice_eof)
    diode_ice_pump_in (ice);        /* what came before CONNECTED */
  else
    diode_ice_watch_nice_in (ice);
}

static void
on_state (NiceAgent * agent, guint stream_id, guint component, guint state,
    gpointer data)
{
  DiodeIce *ice = data;

  if (stream_id != ice->stream_id)
    return;
  switch (state) {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      on_connected (ice);
      break;
    case NICE_COMPONENT_STATE_FAILED:
      diode_ice_fail (ice, ice->connected ? "ICE connection lost" :
          "ICE failed: no candidate pair worked");
      break;
    default:
      break;
  }
}

static gboolean
on_timeout (gpointer data)
{
  DiodeIce *ice = data;
  gchar *reason;

  g_source_unref (ice->timeout_src);
  ice->timeout_src = NULL;
  if (!ice->connected) {
    reason = g_strdup_printf ("no direct path within %u ms", ice->timeout_ms);
    diode_ice_fail (ice, reason);
    g_free (reason);
  }
  return G_SOURCE_REMOVE;
}

/* ---- gathering, after the servers' names are resolved */

static void
start_gathering (DiodeIce * ice)
{
  if (ice->failed)
    return;
  if (ice->stun_ip) {
    g_object_set (ice->agent, "stun-server", ice->stun_ip,
        "stun-server-port", (guint) ice->stun.port, NULL);
  }
  if (ice->turn_ip) {
    nice_agent_set_relay_info (ice->agent, ice->stream_id, 1, ice->turn_ip,
        ice->turn.port, ice->turn.user, ice->turn.pass,
        ice->turn.tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP);
  }
  if (!nice_agent_gather_candidates (ice->agent, ice->stream_id))
    diode_ice_fail (ice, "gathering candidates failed (no usable local address)");
}

typedef struct {
  DiodeIce *ice;
  gboolean turn;
} Lookup;

static void
on_resolved (GObject * src, GAsyncResult * res, gpointer data)
{
  Lookup *l = data;
  DiodeIce *ice = l->ice;
  GList *addrs;
  GError *err = NULL;

  addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (src), res, &err);
  if (!ice->freed) {
    if (addrs) {
      gchar *ip = g_inet_address_to_string (addrs->data);
      if (l->turn)
        ice->turn_ip = ip;
      else
        ice->stun_ip = ip;
    } else {
      /* go on without it: host candidates may still be enough; the
       * reason is in the debug log, never with the peer's text */
      g_debug ("diode-ice: %s server name not resolved: %s",
          l->turn ? "TURN" : "STUN", err ? err->message : "?");
    }
    if (--ice->resolving == 0)
      start_gathering (ice);
  }
  g_clear_error (&err);
  g_resolver_free_addresses (addrs);
  ice_unref (ice);
  g_free (l);
}

static void
resolve (DiodeIce * ice, const gchar * host, gboolean turn)
{
  GResolver *r;
  Lookup *l;

  if (g_hostname_is_ip_address (host)) {
    if (turn)
      ice->turn_ip = g_strdup (host);
    else
      ice->stun_ip = g_strdup (host);
    return;
  }
  l = g_new0 (Lookup, 1);
  l->ice = ice;
  l->turn = turn;
  ice->ref++;
  ice->resolving++;
  r = g_resolver_get_default ();
  /* the answer is dispatched on the context that is thread-default here */
  g_main_context_push_thread_default (ice->ctx);
  g_resolver_lookup_by_name_async (r, host, ice->cancel, on_resolved, l);
  g_main_context_pop_thread_default (ice->ctx);
  g_object_unref (r);
}

/* ---- public API */

DiodeIce *
diode_ice_new (GMainContext * context, const DiodeIceConfig * config,
    DiodeIceFunc func, gpointer user_data, GError ** error)
{
  DiodeIce *ice;
  NiceAgentOption opts = NICE_AGENT_OPTION_RELIABLE |
      NICE_AGENT_OPTION_ICE_TRICKLE;
  gchar *ufrag = NULL, *pwd = NULL;
  guint i;

  g_return_val_if_fail (config != NULL && func != NULL, NULL);

  if (config->transport != DIODE_ICE_PSEUDOTCP
      && config->transport != DIODE_ICE_TCP
      && config->transport != DIODE_ICE_AUTO) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "unknown ICE transport %d", (int) config->transport);
    return NULL;
  }
  ice = g_new0 (DiodeIce, 1);
  ice->ref = 1;
  ice->fd = ice->peer_fd = ice->tcp_fd = -1;
  ice->ctx = g_main_context_ref (context ? context :
      g_main_context_default ());
  ice->func = func;
  ice->user_data = user_data;
  ice->transport = config->transport;
  ice->timeout_ms = config->connect_timeout_ms ? config->connect_timeout_ms :
      DIODE_ICE_DEFAULT_TIMEOUT_MS;
  ice->cancel = g_cancellable_new ();
  g_mutex_init (&ice->lock);
  g_queue_init (&ice->events);
  ice->held_udp = g_ptr_array_new_with_free_func ((GDestroyNotify)
      nice_candidate_free);
  ice->udp_released = config->transport != DIODE_ICE_AUTO;
  ice->out.data = g_malloc (DIODE_ICE_BUF_SIZE);
  ice->in.data = g_malloc (DIODE_ICE_BUF_SIZE);

  if ((config->stun_server
          && !diode_ice_parse_stun (config->stun_server, &ice->stun, error))
      || (config->turn_server
          && !diode_ice_parse_turn (config->turn_server, &ice->turn,
              error))) {
    diode_ice_free (ice);
    return NULL;
  }

  if (config->transport != DIODE_ICE_PSEUDOTCP)
    opts |= NICE_AGENT_OPTION_BYTESTREAM_TCP;
  /* AUTO: both kinds of candidates in one reliable agent, which ranks
   * UDP ones at half their type preference (libnice's candidate.c): an
   * ICE-TCP pair wins when one works, pseudo-TCP over UDP otherwise.
   * Regular nomination: the viewer nominates once the checks have run,
   * so the pair (and with it the transport) is chosen once and never
   * switched under a running stream, as aggressive nomination may. */
  if (config->transport == DIODE_ICE_AUTO)
    opts |= NICE_AGENT_OPTION_REGULAR_NOMINATION;
  ice->agent = nice_agent_new_full (ice->ctx, NICE_COMPATIBILITY_RFC5245,
      opts);
  g_object_set (ice->agent,
      "controlling-mode", config->controlling,
      "ice-udp", config->transport != DIODE_ICE_TCP,
      "ice-tcp", config->transport != DIODE_ICE_PSEUDOTCP, NULL);
  /* no UPnP port mappings behind the user's back (and no multicast
   * discovery delaying gathering) */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice->agent), "upnp"))
    g_object_set (ice->agent, "upnp", FALSE, NULL);

  for (i = 0; config->local_addresses && config->local_addresses[i]; i++) {
    NiceAddress a;

    nice_address_init (&a);
    if (!nice_address_set_from_string (&a, config->local_addresses[i])) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "local address %u is not an IP address", i);
      diode_ice_free (ice);
      return NULL;
    }
    nice_agent_add_local_address (ice->agent, &a);
  }

  ice->stream_id = nice_agent_add_stream (ice->agent, 1);
  if (ice->stream_id == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "libnice refused a stream");
    diode_ice_free (ice);
    return NULL;
  }
  ice->io = nice_agent_get_io_stream (ice->agent, ice->stream_id, 1);
  ice->nin = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (ice->io));
  ice->nout =
      G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (ice->io));

  g_signal_connect (ice->agent, "new-candidate-full",
      G_CALLBACK (on_new_candidate), ice);
  g_signal_connect (ice->agent, "candidate-gathering-done",
      G_CALLBACK (on_gathering_done), ice);
  g_signal_connect (ice->agent, "component-state-changed",
      G_CALLBACK (on_state), ice);
  g_signal_connect (ice->agent, "new-selected-pair-full",
      G_CALLBACK (on_selected_pair), ice);
  g_signal_connect (ice->agent, "reliable-transport-writable",
      G_CALLBACK (diode_ice_on_transport_writable), ice);

  if (!nice_agent_get_local_credentials (ice->agent, ice->stream_id, &ufrag,
          &pwd)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "libnice gave no credentials");
    diode_ice_free (ice);
    return NULL;
  }
  /* first in the queue, so before any candidate */
  queue_event (ice, DIODE_ICE_EVENT_CREDENTIALS,
      g_strdup_printf ("%s %s", ufrag, pwd));
  g_free (ufrag);
  g_free (pwd);

  /* STUN has to be read for the checks to progress: poll from the start */
  diode_ice_watch_nice_in (ice);
  ice->timeout_src = g_timeout_source_new (ice->timeout_ms);
  g_source_set_callback (ice->timeout_src, on_timeout, ice, NULL);
  g_source_attach (ice->timeout_src, ice->ctx);

  if (ice->stun.host)
    resolve (ice, ice->stun.host, FALSE);
  if (ice->turn.host)
    resolve (ice, ice->turn.host, TRUE);
  if (ice->resolving == 0)
    start_gathering (ice);
  return ice;
}

static void
ice_unref (DiodeIce * ice)
{
  Pending *p;

  if (--ice->ref > 0)
    return;
  while ((p = g_queue_pop_head (&ice->events))) {
    g_free (p->text);
    g_free (p);
  }
  diode_ice_server_clear (&ice->stun);
  diode_ice_server_clear (&ice->turn);
  g_free (ice->stun_ip);
  g_free (ice->turn_ip);
  g_free (ice->pair_types);
  g_ptr_array_unref (ice->held_udp);
  g_free (ice->out.data);
  g_free (ice->in.data);
  g_mutex_clear (&ice->lock);
  g_main_context_unref (ice->ctx);
  g_free (ice);
}

static void
on_agent_closed (GObject * src, GAsyncResult * res, gpointer agent)
{
  g_object_unref (agent);
}

void
diode_ice_free (DiodeIce * ice)
{
  if (!ice || ice->freed)
    return;
  ice->freed = TRUE;
  g_cancellable_cancel (ice->cancel);
  g_clear_object (&ice->cancel);
  diode_ice_drop_source (&ice->event_src);
  diode_ice_drop_source (&ice->grace_src);
  close_our_end (ice);
  if (ice->peer_fd >= 0) {
    close (ice->peer_fd);
    ice->peer_fd = -1;
  }
  if (ice->agent) {
    g_signal_handlers_disconnect_by_data (ice->agent, ice);
    g_clear_object (&ice->io);
    if (ice->turn.host) {
      /* Release the TURN allocations now rather than leave them on the
       * server for their lifetime (coturn's per-user quota would refuse
       * the next sessions): the agent lives on until the server answered
       * (or libnice gave up), on this context, which must go on being
       * iterated for that; our reference goes to the callback. */
      g_main_context_push_thread_default (ice->ctx);
      nice_agent_close_async (ice->agent, on_agent_closed, ice->agent);
      g_main_context_pop_thread_default (ice->ctx);
    } else {
      g_object_unref (ice->agent);
    }
    ice->agent = NULL;
  }
  ice_unref (ice);
}

/* RFC 8839 section 5.4: ice-char is ALPHA / DIGIT / "+" / "/" */
static gboolean
ice_chars (const gchar * s, gsize len, gsize min, gsize max)
{
  gsize i;

  if (len < min || len > max)
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isalnum (s[i]) && s[i] != '+' && s[i] != '/')
      return FALSE;
  }
  return TRUE;
}

gboolean
diode_ice_set_remote_credentials (DiodeIce * ice, const gchar * text,
    GError ** error)
{
  const gchar *sp;
  gchar *ufrag, *pwd;
  gboolean ok;

  sp = text ? strchr (text, ' ') : NULL;
  if (!sp || !ice_chars (text, sp - text, 4, 256)
      || !ice_chars (sp + 1, strlen (sp + 1), 22, 256)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "ICE credentials: want \"ufrag pwd\" (ufrag 4..256, pwd 22..256 "
        "characters of ALPHA / DIGIT / + /)");
    return FALSE;
  }
  if (ice->failed) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "ICE already failed");
    return FALSE;
  }
  ufrag = g_strndup (text, sp - text);
  pwd = g_strdup (sp + 1);
  ok = nice_agent_set_remote_credentials (ice->agent, ice->stream_id, ufrag,
      pwd);
  g_free (ufrag);
  g_free (pwd);
  if (!ok) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "libnice refused the remote credentials");
    return FALSE;
  }
  if (!ice->udp_released && !ice->grace_src) {
    ice->grace_src = g_timeout_source_new (DIODE_ICE_TCP_GRACE_MS);
    g_source_set_callback (ice->grace_src, on_grace, ice, NULL);
    g_source_attach (ice->grace_src, ice->ctx);
  }
  return TRUE;
}

gboolean
diode_ice_add_remote_candidate (DiodeIce * ice, const gchar * text,
    GError ** error)
{
  NiceCandidate *c;
  gchar *sdp;

  gboolean is_tcp;
  GSList *l;
  gint n;
  const gchar *p;

  if (!text || strlen (text) > 2048) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "ICE candidate: missing or too long");
    return FALSE;
  }
  for (p = text; *p; p++) {
    if ((guchar) * p < 0x20 || (guchar) * p >= 0x7f) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
          "ICE candidate: not printable ASCII");
      return FALSE;
    }
  }
  if (ice->failed)
    return TRUE;        /* nothing to use it for any more */
  sdp = g_strconcat ("a=", text, NULL);
  c = nice_agent_parse_remote_candidate_sdp (ice->agent, ice->stream_id, sdp);
  g_free (sdp);
  if (!c) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
        "ICE candidate: libnice cannot parse it");
    return FALSE;
  }
  is_tcp = c->transport != NICE_CANDIDATE_TRANSPORT_UDP;
  if ((ice->transport == DIODE_ICE_TCP && !is_tcp)
      || (ice->transport == DIODE_ICE_PSEUDOTCP && is_tcp)
      || c->component_id != 1) {
    /* another transport (or a component we do not have): not ours to
     * use, not an error (docs/protocol.md 17.3) */
    nice_candidate_free (c);
    return TRUE;
  }
  if (!is_tcp && !ice->udp_released) {
    /* AUTO: kept until ICE-TCP had its chance (release_udp); bounded as
     * the relay bounds a session's signals */
    if (ice->held_udp->len < DIODE_ICE_MAX_HELD)
      g_ptr_array_add (ice->held_udp, c);
    else
      nice_candidate_free (c);
    return TRUE;
  }
  l = g_slist_append (NULL, c);
  n = nice_agent_set_remote_candidates (ice->agent, ice->stream_id, 1, l);
  g_slist_free_full (l, (GDestroyNotify) nice_candidate_free);
  /* 0: libnice found no local candidate of the family to pair it with
   * (an IPv6 candidate on an IPv4-only host, say): ignored, as 17.3 says */
  if (n < 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
        "ICE candidate: libnice refused it");
    return FALSE;
  }
  return TRUE;
}

void
diode_ice_remote_gathered (DiodeIce * ice)
{
  if (!ice->udp_released) {
    ice->held_gathered = TRUE;      /* passed on with the UDP candidates */
    return;
  }
  if (ice->agent && !ice->failed)
    nice_agent_peer_candidate_gathering_done (ice->agent, ice->stream_id);
}

int
diode_ice_take_fd (DiodeIce * ice)
{
  int fd;

  if (!ice->connected)
    return -1;
  fd = ice->peer_fd;
  ice->peer_fd = -1;
  return fd;
}

DiodeIceTransport
diode_ice_get_transport (DiodeIce * ice)
{
  if (!ice->connected)
    return ice->transport;
  return ice->sel_tcp ? DIODE_ICE_TCP : DIODE_ICE_PSEUDOTCP;
}

void
diode_ice_get_stats (DiodeIce * ice, guint64 * bytes_out, guint64 * bytes_in)
{
  g_mutex_lock (&ice->lock);
  *bytes_out = ice->bytes_out;
  *bytes_in = ice->bytes_in;
  g_mutex_unlock (&ice->lock);
}
