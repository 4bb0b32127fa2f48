/* gst-diode — the relay node as a reusable object
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Threading: one I/O thread per relay runs a GMainContext with a single
 * GSource wrapping an epoll set (so the cost per wakeup does not grow with
 * the number of connections, unlike a poll() over every fd) plus a timer for
 * deadlines. Everything below runs on that thread; only the stream table and
 * counters that other threads may read are guarded by relay->lock.
 *
 * Data path: the publisher's frames are parsed once (DiodeSession), stored
 * once as GBytes in the stream's DiodeRing, and every viewer sends the same
 * GBytes through its own cursor and TLS session. Nothing is copied per viewer
 * except by the TLS encryption itself.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"
#include "diode-web-token.h"
#include "diode-web.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>


G_DEFINE_FINAL_TYPE (DiodeRelay, diode_relay, G_TYPE_OBJECT)

static gpointer
relay_thread (gpointer user_data)
{
  DiodeRelay *r = user_data;

  g_main_context_push_thread_default (r->context);
  g_main_loop_run (r->loop);
  g_main_context_pop_thread_default (r->context);
  return NULL;
}

/* Runs on the relay thread: say goodbye to everyone, then stop the loop. */
static gboolean
relay_shutdown_cb (gpointer user_data)
{
  DiodeRelay *r = user_data;
  GHashTableIter it;
  gpointer key;

  /* No link connects again from here on. */
  r->stopping = TRUE;
  /* HTTP connections go; WebSocket viewers are Conns, closed below */
  relay_web_stop (r);
  /* what waits for a peer is answered while its viewer still exists */
  relay_peers_shutdown (r);
  g_hash_table_iter_init (&it, r->conns);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;

    if (c->dead)
      continue;
    if (c->phase == CONN_OPEN) {
      conn_queue (c, diode_msg_encode_error (DIODE_ERR_SHUTDOWN,
              "the relay is shutting down"));
      conn_flush (c);
    }
    conn_close (c, NULL);
  }
  relay_reap (r);
  g_main_loop_quit (r->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
relay_links_kick_cb (gpointer user_data)
{
  relay_links_kick (user_data, g_get_monotonic_time ());
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* public API */

gboolean
relay_parse_listen (const gchar * listen, gchar ** host, guint16 * port,
    GError ** error)
{
  const gchar *colon = strrchr (listen, ':');
  gchar *end = NULL;
  guint64 p;

  if (!colon || colon == listen) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "listen address '%s' is not HOST:PORT", listen);
    return FALSE;
  }
  p = g_ascii_strtoull (colon + 1, &end, 10);
  if (!end || *end || end == colon + 1 || p > 65535) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "listen address '%s' has an invalid port", listen);
    return FALSE;
  }
  if (listen[0] == '[' && colon[-1] == ']')
    *host = g_strndup (listen + 1, colon - listen - 2);
  else
    *host = g_strndup (listen, colon - listen);
  *port = p;
  return TRUE;
}

/* The listening socket for HOST:PORT (@spec as the user wrote it, for
 * errors; @option names the command-line option, or NULL for the relay's
 * own port): resolved, non-blocking, bound, listening; its port (the one
 * the kernel chose for port 0) in @bound_port. Shared by the relay's port
 * and the web side (--http). */
GSocket *
relay_listen_socket (const gchar * spec, const gchar * host, guint16 port,
    gint backlog, const gchar * option, guint16 * bound_port,
    GError ** error)
{
  GInetAddress *ia = g_inet_address_new_from_string (host);
  GSocketAddress *sa;
  GSocket *s;

  if (!ia) {
    GResolver *res = g_resolver_get_default ();
    GList *addrs = g_resolver_lookup_by_name (res, host, NULL, error);

    g_object_unref (res);
    if (!addrs) {
      g_prefix_error (error, "cannot resolve %s host '%s': ",
          option ? option : "listen", host);
      return NULL;
    }
    ia = g_object_ref (addrs->data);
    g_resolver_free_addresses (addrs);
  }
  sa = g_inet_socket_address_new (ia, port);
  s = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, error);
  g_object_unref (ia);
  if (!s) {
    g_object_unref (sa);
    return NULL;
  }
  g_socket_set_blocking (s, FALSE);
  g_socket_set_listen_backlog (s, backlog);
  if (!g_socket_bind (s, sa, TRUE, error) || !g_socket_listen (s, error)) {
    if (option)
      g_prefix_error (error, "cannot listen on %s (%s): ", spec, option);
    else
      g_prefix_error (error, "cannot listen on %s: ", spec);
    g_object_unref (sa);
    g_socket_close (s, NULL);
    g_object_unref (s);
    return NULL;
  }
  g_object_unref (sa);
  sa = g_socket_get_local_address (s, NULL);
  *bound_port = sa ?
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : port;
  g_clear_object (&sa);
  return s;
}

gboolean
diode_relay_start (DiodeRelay * r, GError ** error)
{
  gchar *host = NULL;
  guint16 port = 0;
  struct epoll_event ev = { 0 };

  g_return_val_if_fail (DIODE_IS_RELAY (r), FALSE);
  g_return_val_if_fail (!r->running, FALSE);

  if (!relay_parse_listen (r->listen, &host, &port, error))
    return FALSE;
  if (r->config_path) {
    DiodeRelayConfig *cfg = diode_relay_config_load (r->config_path, error);

    if (!cfg) {
      g_free (host);
      return FALSE;
    }
    diode_relay_config_unref (r->config);
    r->config = cfg;
  }
  if (!relay_upstream_init (r, error) || !relay_peers_init (r, error)) {
    g_free (host);
    return FALSE;
  }
  /* A relay started again after a stop (or a failed start) loads its key
   * again: the file may have changed. */
  g_clear_pointer (&r->identity, diode_identity_unref);
  r->identity = diode_identity_load_or_create (r->identity_path, error);
  if (!r->identity) {
    g_free (host);
    return FALSE;
  }
  /* share links' revocations (an unreadable list fails closed, logged) */
  if (!relay_web_tokens_init (r, error)) {
    g_free (host);
    return FALSE;
  }

  /* A crowd of viewers joining at once must not stall in the backlog. */
  r->listen_socket = relay_listen_socket (r->listen, host, port, 4096, NULL,
      &r->port, error);
  if (!r->listen_socket)
    goto fail;
  g_free (r->bound_host);
  r->bound_host = host;
  host = NULL;
  /* the web side (--http): its listener, certificate, server */
  if (!relay_web_start (r, error))
    goto fail;
  /* --stun: the UDP answerer (docs/protocol.md 17.8) */
  if (!relay_stun_start (r, error))
    goto fail;

  r->epfd = epoll_create1 (EPOLL_CLOEXEC);
  r->listener_tag.kind = TAG_LISTENER;
  ev.events = EPOLLIN;
  ev.data.ptr = &r->listener_tag;
  epoll_ctl (r->epfd, EPOLL_CTL_ADD, g_socket_get_fd (r->listen_socket), &ev);
  relay_web_attach (r);
  relay_stun_attach (r);

  r->context = g_main_context_new ();
  r->loop = g_main_loop_new (r->context, FALSE);
  r->io_source = g_source_new (&relay_io_funcs, sizeof (GSource));
  g_source_set_callback (r->io_source, NULL, r, NULL);
  g_source_add_unix_fd (r->io_source, r->epfd, G_IO_IN);
  g_source_set_name (r->io_source, "diode-relay-io");
  g_source_attach (r->io_source, r->context);
  r->tick_source = g_timeout_source_new (TICK_MS);
  g_source_set_callback (r->tick_source, relay_tick, r, NULL);
  g_source_attach (r->tick_source, r->context);

  /* The control link connects at once, not at the first tick. */
  if (r->failover) {
    GSource *kick = g_idle_source_new ();

    g_source_set_callback (kick, relay_links_kick_cb, r, NULL);
    g_source_attach (kick, r->context);
    g_source_unref (kick);
  }
  /* A store that cannot be used is logged; the relay runs without it. */
  relay_record_start (r);
  r->running = TRUE;
  r->stopping = FALSE;
  r->started_at = r->stats_at = g_get_monotonic_time ();
  relay_fanout_start (r);
  r->thread = g_thread_new ("diode-relay", relay_thread, r);
  g_message ("relay %s listening on %s:%u", diode_identity_get_address
      (r->identity), r->bound_host, r->port);
  return TRUE;

fail:
  relay_stun_stop (r);
  relay_web_tokens_free (r);
  g_clear_object (&r->listen_socket);
  g_free (host);
  return FALSE;
}

void
diode_relay_stop (DiodeRelay * r)
{
  GSource *idle;
  GHashTableIter it;
  gpointer v;

  g_return_if_fail (DIODE_IS_RELAY (r));
  if (!r->running)
    return;
  idle = g_idle_source_new ();
  g_source_set_callback (idle, relay_shutdown_cb, r, NULL);
  g_source_attach (idle, r->context);
  g_source_unref (idle);
  g_thread_join (r->thread);
  r->thread = NULL;
  relay_fanout_stop (r);
  r->running = FALSE;
  relay_peers_stop (r);
  /* store reads under way end before the store and the context go */
  relay_replay_stop (r);
  /* after the reads ended: their answers are dropped with the context */
  relay_tiers_stop (r);
  relay_links_stop (r);
  g_clear_pointer (&r->failover, diode_failover_free);
  g_clear_pointer (&r->ep_failovers, g_free);
  g_clear_pointer (&r->endpoints, g_ptr_array_unref);
  /* What recorded streams hold goes to the store, which closes; before the
   * context goes (sync callbacks may still be posted to it). */
  relay_record_stop (r);
  /* the web side's TLS handshakes end on the context, then it goes */
  relay_web_free (r);
  relay_web_tokens_free (r);

  g_source_destroy (r->io_source);
  g_clear_pointer (&r->io_source, g_source_unref);
  g_source_destroy (r->tick_source);
  g_clear_pointer (&r->tick_source, g_source_unref);
  g_clear_pointer (&r->loop, g_main_loop_unref);
  g_clear_pointer (&r->context, g_main_context_unref);
  relay_stun_stop (r);
  close (r->epfd);
  r->epfd = -1;
  g_socket_close (r->listen_socket, NULL);
  g_clear_object (&r->listen_socket);

  g_hash_table_iter_init (&it, r->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    relay_addr_unref_stream (r, ((Stream *) v)->charged);
    stream_free (v);
    g_hash_table_iter_remove (&it);
  }
  g_message ("relay stopped");
}

guint16
diode_relay_get_port (DiodeRelay * r)
{
  return r->port;
}

guint16
diode_relay_get_stun_port (DiodeRelay * r)
{
  guint16 p;

  g_mutex_lock (&r->lock);
  p = r->stun_port;
  g_mutex_unlock (&r->lock);
  return p;
}

guint16
diode_relay_get_http_port (DiodeRelay * r)
{
  guint16 p;

  g_mutex_lock (&r->lock);
  p = r->http_port;
  g_mutex_unlock (&r->lock);
  return p;
}

gchar *
diode_relay_get_hostport (DiodeRelay * r)
{
  const gchar *h = r->bound_host;

  if (!h || !g_strcmp0 (h, "0.0.0.0"))
    h = "127.0.0.1";
  else if (!g_strcmp0 (h, "::"))
    h = "::1";
  if (strchr (h, ':'))
    return g_strdup_printf ("[%s]:%u", h, r->port);
  return g_strdup_printf ("%s:%u", h, r->port);
}

const gchar *
diode_relay_get_address (DiodeRelay * r)
{
  return r->identity ? diode_identity_get_address (r->identity) : NULL;
}

guint
diode_relay_count_viewers (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint n = 0, i;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  if (s)
    for (i = 0; i < s->viewers->len; i++)
      n += ((Conn *) g_ptr_array_index (s->viewers, i))->dead ? 0 : 1;
  g_mutex_unlock (&r->lock);
  return n;
}

typedef struct {
  DiodeRelay *relay;
  DiodeRelayConfig *config;
} ConfigSwap;

static gboolean
config_swap_cb (gpointer data)
{
  ConfigSwap *sw = data;
  DiodeRelay *r = sw->relay;

  diode_relay_config_unref (r->config);
  r->config = sw->config;
  g_message ("configuration reloaded from %s (%u fleets)", r->config_path,
      diode_relay_config_n_fleets (r->config));
  /* Fleets may have lost members: check every viewer again. */
  relay_recheck_all (r);
  /* Children may have been taken off [relays] children. */
  directory_recheck_children (r);
  relay_reap (r);
  g_free (sw);
  return G_SOURCE_REMOVE;
}

gboolean
diode_relay_reload_config (DiodeRelay * r, GError ** error)
{
  DiodeRelayConfig *cfg;
  ConfigSwap *sw;

  g_return_val_if_fail (DIODE_IS_RELAY (r), FALSE);
  if (!r->config_path) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
        "the relay was started without a configuration file (--config)");
    return FALSE;
  }
  /* Parse here, in the caller's thread; a bad file changes nothing. */
  cfg = diode_relay_config_load (r->config_path, error);
  if (!cfg)
    return FALSE;
  if (!r->running) {
    diode_relay_config_unref (r->config);
    r->config = cfg;
    return TRUE;
  }
  sw = g_new0 (ConfigSwap, 1);
  sw->relay = r;
  sw->config = cfg;
  g_main_context_invoke (r->context, config_swap_cb, sw);
  return TRUE;
}

gchar *
diode_relay_get_stats_json (DiodeRelay * r)
{
  gchar *s;

  g_mutex_lock (&r->lock);
  s = g_strdup (r->stats_json);
  g_mutex_unlock (&r->lock);
  return s;
}

guint64
diode_relay_get_last_seq (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint64 seq;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  seq = s ? s->last_seq : 0;
  g_mutex_unlock (&r->lock);
  return seq;
}

guint
diode_relay_count_waiting (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  guint n;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  n = s ? s->waiting->len : 0;
  g_mutex_unlock (&r->lock);
  return n;
}

gboolean
diode_relay_has_publisher (DiodeRelay * r, const gchar * name)
{
  Stream *s;
  gboolean ret;

  g_mutex_lock (&r->lock);
  s = g_hash_table_lookup (r->streams, name);
  ret = s && s->publisher;
  g_mutex_unlock (&r->lock);
  return ret;
}

guint64
diode_relay_count_refused_connections (DiodeRelay * r)
{
  guint64 n;

  /* Written by the I/O thread; read under the lock: a 64-bit value is not
   * read atomically on 32-bit ARM. */
  g_mutex_lock (&r->lock);
  n = r->refused_conns;
  g_mutex_unlock (&r->lock);
  return n;
}

guint
diode_relay_count_connections (DiodeRelay * r)
{
  guint n;

  g_mutex_lock (&r->lock);
  n = r->conns ? g_hash_table_size (r->conns) : 0;
  g_mutex_unlock (&r->lock);
  return n;
}

DiodeRelay *
diode_relay_new (const gchar * listen, const gchar * identity)
{
  return g_object_new (DIODE_TYPE_RELAY, "listen", listen,
      "identity", identity, NULL);
}

static void
diode_relay_finalize (GObject * object)
{
  DiodeRelay *r = DIODE_RELAY (object);

  diode_relay_stop (r);
  g_hash_table_unref (r->conns);
  g_hash_table_unref (r->streams);
  g_ptr_array_unref (r->dead);
  g_ptr_array_unref (r->ready);
  g_hash_table_unref (r->per_addr);
  g_clear_pointer (&r->identity, diode_identity_unref);
  g_free (r->bound_host);
  g_free (r->listen);
  g_free (r->identity_path);
  g_free (r->stats_file);
  g_free (r->stats_json);
  g_free (r->config_path);
  g_free (r->upstream);
  g_strfreev (r->fallbacks);
  g_strfreev (r->peers);
  g_free (r->known_relays);
  g_free (r->store_dir);
  g_free (r->store_error);
  g_free (r->link_revocations);
  g_free (r->http_listen);
  g_free (r->stun_listen);
  g_free (r->http_cert);
  g_free (r->http_key);
  g_free (r->http_domain);
  g_hash_table_unref (r->links);
  g_hash_table_unref (r->replays);
  g_hash_table_unref (r->fetches);
  g_ptr_array_unref (r->children);
  g_strfreev (r->upstream_path);
  diode_relay_config_unref (r->config);
  g_free (r->rbuf);
  g_free (r->tx.buf);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->prop_cond);
  G_OBJECT_CLASS (diode_relay_parent_class)->finalize (object);
}

static void
addr_count_free (gpointer data)
{
  AddrCount *a = data;

  g_free (a->host);
  g_free (a);
}

static void
diode_relay_init (DiodeRelay * r)
{
  r->listen = g_strdup (DIODE_RELAY_DEFAULT_LISTEN);
  r->buffer_bytes = DIODE_RELAY_DEFAULT_BUFFER_BYTES;
  r->buffer_seconds = DIODE_RELAY_DEFAULT_BUFFER_SECONDS;
  r->max_wait_ms = DIODE_RELAY_DEFAULT_MAX_WAIT_MS;
  r->handshake_ms = DIODE_RELAY_DEFAULT_HANDSHAKE_MS;
  r->grace_ms = DIODE_RELAY_DEFAULT_GRACE_MS;
  r->soft_limit = DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT;
  r->hard_limit = DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT;
  r->write_timeout_ms = DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS;
  r->stats_interval_ms = DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS;
  r->name_grace_ms = DIODE_RELAY_DEFAULT_NAME_GRACE_MS;
  r->keepalive_ms = DIODE_RELAY_DEFAULT_KEEPALIVE_MS;
  r->max_conns = DIODE_RELAY_DEFAULT_MAX_CONNECTIONS;
  r->max_conns_per_addr = DIODE_RELAY_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  r->max_pending_per_addr = DIODE_RELAY_DEFAULT_MAX_PENDING_PER_ADDRESS;
  r->max_streams = DIODE_RELAY_DEFAULT_MAX_STREAMS;
  r->max_streams_per_addr = DIODE_RELAY_DEFAULT_MAX_STREAMS_PER_ADDRESS;
  r->max_partial_per_addr = DIODE_RELAY_DEFAULT_MAX_PARTIAL_PER_ADDRESS;
  r->max_partial = DIODE_RELAY_DEFAULT_MAX_PARTIAL;
  r->max_reply_bytes = DIODE_RELAY_DEFAULT_MAX_REPLY_BYTES;
  r->failback_delay_ms = DIODE_RELAY_DEFAULT_FAILBACK_DELAY_MS;
  r->link_linger_ms = DIODE_RELAY_DEFAULT_LINK_LINGER_MS;
  r->max_announced = DIODE_RELAY_DEFAULT_MAX_ANNOUNCED;
  r->cache_bytes = DIODE_RELAY_DEFAULT_CACHE_BYTES;
  r->store_seconds = DIODE_RELAY_DEFAULT_STORE_SECONDS;
  r->store_bytes = DIODE_RELAY_DEFAULT_STORE_BYTES;
  r->store_queue_bytes = DIODE_RELAY_DEFAULT_STORE_QUEUE_BYTES;
  r->links = g_hash_table_new (NULL, NULL);
  r->children = g_ptr_array_new ();
  r->active_ep = -1;
  r->per_addr = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      addr_count_free);
  r->ready = g_ptr_array_new ();
  r->config = diode_relay_config_new_empty ();
  r->epfd = -1;
  r->conns = g_hash_table_new (NULL, NULL);
  /* Keyed by the normalized name (diode-name.h): "Cam" and "ｃａｍ" are the
   * stream "cam", with one owner. */
  r->streams = g_hash_table_new (diode_name_hash, diode_name_equal);
  relay_replay_init (r);
  r->dead = g_ptr_array_new ();
  r->rbuf = g_malloc (READ_CHUNK);
  r->tx.buf = g_malloc (DIODE_TLS_MAX_RECORD);
  r->io_threads = MIN (g_get_num_processors (), 2);
  g_mutex_init (&r->lock);
  g_cond_init (&r->prop_cond);
}

static void
diode_relay_class_init (DiodeRelayClass * klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->finalize = diode_relay_finalize;
  relay_install_properties (oc);
}
