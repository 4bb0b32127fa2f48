/* gst-diode — diodesink's direct paths: the publisher's DiodeDirectServer
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With direct=true the sink sets DIRECT in its PUBLISH (docs/protocol.md
 * section 17) and runs a DiodeDirectServer (gst/direct): viewers the relay
 * admitted send it OFFERs through the relay, ICE finds a path, and the
 * server serves them the same frames the sink sends the relay. The sink's
 * part is glue:
 *  - SIGNALs from the relay go to the server (writer thread, which reads
 *    the relay connection);
 *  - SIGNALs from the server go to the relay through the send queue, ahead
 *    of media (a pump thread waits on the server's eventfd: the writer
 *    waits on a GCond, not on fds);
 *  - every CAPS, MEDIA and EOS frame the writer sent the relay is pushed to
 *    the server, so seqs are the same on both paths;
 *  - the server asks, per viewer, whether the sink's own access policy
 *    admits it (the last policy the relay was told; a closed policy after
 *    a failed change).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodesink-private.h"
#include "gstdiodepolicy.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/eventfd.h>

GST_DEBUG_CATEGORY_EXTERN (gst_diode_sink_debug);
#define GST_CAT_DEFAULT gst_diode_sink_debug

/* The server's thread asks; the sink's policy answers. Public: anyone the
 * relay vouched for; private: the allowlist (and the publisher itself);
 * protected: refused, fleets are the relay's knowledge (section 17.7). */
static gboolean
direct_admit (const gchar * viewer, gpointer user_data)
{
  GstDiodeSink *self = user_data;
  GstDiodePolicy *p;
  gboolean ok = FALSE;
  guint i;

  g_mutex_lock (&self->admit_lock);
  p = self->admit_policy;
  if (p && p->access == DIODE_ACCESS_PUBLIC) {
    ok = TRUE;
  } else if (p && p->access == DIODE_ACCESS_PRIVATE) {
    ok = self->own_address && !g_ascii_strcasecmp (viewer,
        self->own_address);
    for (i = 0; !ok && p->allow[i]; i++)
      ok = !g_ascii_strcasecmp (viewer, p->allow[i]);
  }
  g_mutex_unlock (&self->admit_lock);
  GST_INFO_OBJECT (self, "direct path for viewer %s: %s", viewer,
      ok ? "admitted" : "refused by the access policy");
  return ok;
}

void
gst_diode_sink_direct_note_policy (GstDiodeSink * self, const gpointer policy)
{
  const GstDiodePolicy *p = policy;
  GstDiodePolicy *copy;

  if (p) {
    copy = g_new0 (GstDiodePolicy, 1);
    copy->access = p->access;
    copy->fleet = g_strdup (p->fleet);
    copy->allow = g_strdupv (p->allow);
  } else {
    copy = gst_diode_policy_new_closed ();
  }
  g_mutex_lock (&self->admit_lock);
  gst_diode_policy_free (self->admit_policy);
  self->admit_policy = copy;
  g_mutex_unlock (&self->admit_lock);
  /* Sessions admitted under the old policy are judged again: a revoked
   * viewer (or everyone but this identity, after a policy that could not
   * be applied) loses its direct path now. */
  g_mutex_lock (&self->server_lock);
  if (self->direct_server)
    diode_direct_server_recheck (self->direct_server);
  g_mutex_unlock (&self->server_lock);
}

/* SIGNAL items the send queue holds at most (each at most a header and
 * 2 KiB of candidate). What fills it: the server's own queue (1024 frames,
 * plus at most 1024 CLOSEs past that: diode-direct-server.c), which the
 * pump moves here, and the CLOSE answering each OFFER while not offering.
 * What a relay may ask is bounded by the relay (64 sessions a publisher,
 * 128 SIGNALs a session), but a relay faces the internet and a stalled link
 * stops the writer: past this bound SIGNALs are dropped (a dropped one
 * costs that viewer its direct attempt, never the stream), and a relay
 * reconnect drops them all anyway (they name its sessions). */
#define SINK_MAX_SIGNALS 2048

/* Into the send queue after the POLICY and SIGNAL items already at its
 * head, so SIGNALs keep their order (ANSWER before its CANDIDATEs) and do
 * not wait behind seconds of media. qlock held. Takes @frame. */
static void
enqueue_signal_locked (GstDiodeSink * self, GBytes * frame)
{
  QItem *it;
  GList *l = self->queue.head;
  guint n = 0;

  /* SIGNALs only ever sit in that run at the head: counting it counts
   * them all */
  while (l && (((QItem *) l->data)->kind == ITEM_POLICY
          || ((QItem *) l->data)->kind == ITEM_SIGNAL)) {
    n += ((QItem *) l->data)->kind == ITEM_SIGNAL;
    l = l->next;
  }
  if (n >= SINK_MAX_SIGNALS) {
    GST_DEBUG_OBJECT (self, "%u SIGNALs wait for the relay: one dropped", n);
    g_bytes_unref (frame);
    return;
  }
  it = g_new0 (QItem, 1);
  it->kind = ITEM_SIGNAL;
  it->frame = frame;
  it->size = g_bytes_get_size (frame);
  if (l)
    g_queue_insert_before (&self->queue, l, it);
  else
    g_queue_push_tail (&self->queue, it);
  self->queue_bytes += it->size;
  g_cond_signal (&self->qcond);
}

typedef struct {
  guint viewers;
  const gchar *reason;          /* static */
} PathPost;

static void
post_path_now (GstElement * element, gpointer data)
{
  PathPost *pp = data;

  gst_diode_post_path (element, pp->viewers ? "direct" : "relay", "", 0,
      pp->reason, (gint) MIN (pp->viewers, G_MAXINT));
}

/* Posted from a GStreamer pool thread, not the pump's: a bus sync handler
 * that sets direct=false on it would have stop() join the very thread it
 * runs on. gst_element_call_async holds a ref on the sink meanwhile. */
static void
post_path_async (GstDiodeSink * self, guint viewers, const gchar * reason)
{
  PathPost *pp = g_new (PathPost, 1);

  pp->viewers = viewers;
  pp->reason = reason;
  gst_element_call_async (GST_ELEMENT (self), post_path_now, pp, g_free);
}

/* Deliver 4: the path in use is also a `diode-path` message on the sink,
 * posted when some viewer takes the stream straight from here (the count
 * of direct viewers leaves 0) and when none does any more (it reaches 0),
 * with the same fields as diodesrc's (pair "" and from-seq 0: one sink
 * serves many pairs and seqs) plus viewers. Returns the count posted. */
static guint
post_path_change (GstDiodeSink * self, DiodeDirectServer * server,
    guint posted)
{
  DiodeDirectServerStats st;

  diode_direct_server_get_stats (server, &st);
  if ((st.viewers > 0) == (posted > 0))
    return posted;
  GST_INFO_OBJECT (self, "%u viewers on direct paths", st.viewers);
  post_path_async (self, st.viewers, st.viewers ?
      "a viewer took a direct path" : "no viewer on a direct path");
  return st.viewers;
}

static gpointer
direct_pump (gpointer user_data)
{
  GstDiodeSink *self = user_data;
  /* the server outlives this thread: stop() joins it before freeing */
  DiodeDirectServer *server = self->direct_pump_server;
  int fd = diode_direct_server_get_fd (server);
  /* what the last diode-path said: 0 "relay", else "direct" */
  guint posted = 0;

  for (;;) {
    struct pollfd p[2] = {
      {fd, POLLIN, 0},
      {self->direct_stop_fd, POLLIN, 0},
    };
    GBytes *frame;

    if (poll (p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      GST_ERROR_OBJECT (self, "direct pump: poll: %s", g_strerror (errno));
      break;
    }
    if (p[1].revents)
      break;
    while ((frame = diode_direct_server_next_signal (server))) {
      g_mutex_lock (&self->qlock);
      if (self->failed || self->writer_done)
        g_bytes_unref (frame);
      else
        enqueue_signal_locked (self, frame);
      g_mutex_unlock (&self->qlock);
    }
    /* the server raises the fd when its direct viewers go from 0 or to 0 */
    posted = post_path_change (self, server, posted);
  }
  /* direct paths closed (direct=false, stop): none is left */
  if (posted)
    post_path_async (self, 0, "direct paths closed");
  return NULL;
}

void
gst_diode_sink_direct_start (GstDiodeSink * self)
{
  GstDiodeClient *c = self->client;
  DiodeDirectServerConfig cfg = { 0 };
  DiodeIdentity *id;
  DiodeDirectServer *server;
  GError *err = NULL;
  gboolean direct;
  guint max;
  gchar *stream, *stun, *turn;

  /* the name open() resolved for this session */
  stream = g_strdup (c->stream_name);
  /* Held to the end: a direct=false meanwhile (set_property's stop(), on
   * another thread) waits for the server and pump made here, then frees
   * them, rather than free them under us or miss them. */
  g_mutex_lock (&self->direct_stop_lock);
  /* read under the lock: a direct=false before it is seen here, one after
   * it stops what this makes */
  GST_OBJECT_LOCK (self);
  direct = self->direct;
  max = self->direct_max;
  GST_OBJECT_UNLOCK (self);
  /* Once per start: at the first connection, whose WELCOME says where the
   * relay answers STUN. */
  if (!direct || self->direct_tried)
    goto out_unlock;
  self->direct_tried = TRUE;

  if (c->version < DIODE_PROTOCOL_VERSION_DIRECT) {
    g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "relay %s speaks protocol version %u, direct paths need %u",
        c->hostport, c->version, DIODE_PROTOCOL_VERSION_DIRECT);
    goto out_unlock;
  }
  id = gst_diode_client_identity (c, &err);
  if (!id)
    goto out_unlock;
  g_mutex_lock (&self->admit_lock);
  g_free (self->own_address);
  self->own_address = g_strdup (diode_identity_get_address (id));
  g_mutex_unlock (&self->admit_lock);
  /* stun-server, else the relay just connected (its WELCOME's stun_port)
   * when it answers STUN. */
  stun = gst_diode_client_stun_server (c);
  turn = gst_diode_client_turn_server (c);
  cfg.identity = id;
  cfg.stream = stream;
  cfg.max_viewers = max;
  cfg.stun_server = stun;
  cfg.turn_server = turn;
  cfg.transport = DIODE_ICE_DEFAULT_TRANSPORT;
  cfg.admit = direct_admit;
  cfg.admit_data = self;
  server = diode_direct_server_new (&cfg, &err);
  if (!server) {
    g_free (stun);
    g_free (turn);
    goto out_unlock;
  }
  g_mutex_lock (&self->server_lock);
  self->direct_server = server;
  g_mutex_unlock (&self->server_lock);
  self->direct_pump_server = server;
  self->direct_stop_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  self->direct_pump = g_thread_new ("diodesink-direct",
      direct_pump, self);
  GST_INFO_OBJECT (self, "offering direct paths to %u viewers at most (STUN "
      "%s)", max, cfg.stun_server ? cfg.stun_server : "none");
  g_free (stun);
  g_free (turn);

out_unlock:
  g_mutex_unlock (&self->direct_stop_lock);
  /* after the lock: a bus sync handler may set direct=false */
  if (err) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("Direct paths are not "
            "offered: %s. Viewers watch through the relay.", err->message),
        (NULL));
    g_clear_error (&err);
  }
  g_free (stream);
}

void
gst_diode_sink_direct_stop (GstDiodeSink * self)
{
  DiodeDirectServer *server;

  /* stop() and a direct=false while playing may meet */
  g_mutex_lock (&self->direct_stop_lock);
  self->direct_tried = FALSE;
  if (self->direct_pump) {
    guint64 one = 1;

    if (write (self->direct_stop_fd, &one, sizeof (one)) < 0)
      GST_WARNING_OBJECT (self, "cannot stop the direct pump: %s",
          g_strerror (errno));
    g_thread_join (self->direct_pump);
    self->direct_pump = NULL;
  }
  if (self->direct_stop_fd >= 0)
    close (self->direct_stop_fd);
  self->direct_stop_fd = -1;
  /* the writer or stats may be using it on another thread */
  g_mutex_lock (&self->server_lock);
  server = self->direct_server;
  self->direct_server = NULL;
  g_mutex_unlock (&self->server_lock);
  self->direct_pump_server = NULL;
  if (server) {
    GST_INFO_OBJECT (self, "direct paths closed");
    diode_direct_server_free (server);
  }
  g_mutex_unlock (&self->direct_stop_lock);
}

guint32
gst_diode_sink_direct_pubflags (GstDiodeSink * self)
{
  guint32 flags = 0;

  /* "other bits: senders 0" below version 4 (docs/protocol.md 17.1) */
  g_mutex_lock (&self->server_lock);
  if (self->direct_server
      && self->client->version >= DIODE_PROTOCOL_VERSION_DIRECT)
    flags = DIODE_PUBLISH_DIRECT;
  g_mutex_unlock (&self->server_lock);
  return flags;
}

void
gst_diode_sink_direct_signal (GstDiodeSink * self, const DiodeMsg * m)
{
  gboolean offering;

  g_mutex_lock (&self->server_lock);
  offering = self->direct_server != NULL;
  if (offering)
    diode_direct_server_handle_signal (self->direct_server, m);
  g_mutex_unlock (&self->server_lock);
  /* direct=false since the PUBLISH: say so rather than let the viewer
   * wait for its ICE timeout */
  if (!offering && m->signal_kind == DIODE_SIGNAL_OFFER) {
    GBytes *close = diode_msg_encode_signal (m->sid, DIODE_SIGNAL_CLOSE,
        NULL, "direct paths not offered");

    g_mutex_lock (&self->qlock);
    if (close)
      enqueue_signal_locked (self, close);
    g_mutex_unlock (&self->qlock);
  }
}

void
gst_diode_sink_direct_push (GstDiodeSink * self, GBytes * frame)
{
  g_mutex_lock (&self->server_lock);
  if (self->direct_server)
    diode_direct_server_push_frame (self->direct_server, frame);
  g_mutex_unlock (&self->server_lock);
}

void
gst_diode_sink_direct_relay_reset (GstDiodeSink * self)
{
  g_mutex_lock (&self->server_lock);
  if (!self->direct_server) {
    g_mutex_unlock (&self->server_lock);
    return;
  }
  diode_direct_server_relay_reset (self->direct_server);
  g_mutex_unlock (&self->server_lock);
  /* Queued SIGNALs name the old connection's sessions. */
  g_mutex_lock (&self->qlock);
  gst_diode_sink_drop_queued_locked (self, 1u << ITEM_SIGNAL);
  g_mutex_unlock (&self->qlock);
}

void
gst_diode_sink_direct_add_stats (GstDiodeSink * self, GstStructure * s)
{
  DiodeDirectServerStats st = { 0 };
  gboolean offering;

  /* The server's counters are read under its own lock (64-bit values on a
   * 32-bit camera); server_lock keeps stop() from freeing it meanwhile. */
  g_mutex_lock (&self->server_lock);
  offering = self->direct_server != NULL;
  if (offering)
    diode_direct_server_get_stats (self->direct_server, &st);
  g_mutex_unlock (&self->server_lock);
  /* the relay always gets the stream; "direct": some viewer takes it
   * straight from here now */
  gst_structure_set (s, "path", G_TYPE_STRING, st.viewers ? "direct" :
      "relay", "direct", G_TYPE_BOOLEAN, offering,
      "direct-viewers", G_TYPE_UINT, st.viewers,
      "direct-sessions", G_TYPE_UINT64, st.sessions,
      "direct-offers", G_TYPE_UINT64, st.offers,
      "direct-refused", G_TYPE_UINT64, st.refused,
      "direct-bytes-sent", G_TYPE_UINT64, st.bytes_sent, NULL);
}
