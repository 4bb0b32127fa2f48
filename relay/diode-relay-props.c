/* gst-diode — the relay object's GObject properties
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The properties of DiodeRelay (diode-relay.c holds the object, its
 * start/stop and the I/O thread): their specs, and setting/reading them.
 * A setting made while the relay runs is applied on its I/O thread (the
 * loop reads its settings without locking), under the lock so
 * get_property sees a whole value.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay-private.h"

#include <string.h>

enum {
  PROP_0,
  PROP_LISTEN,
  PROP_IDENTITY,
  PROP_BUFFER_BYTES,
  PROP_BUFFER_SECONDS,
  PROP_MAX_WAIT_MS,
  PROP_HANDSHAKE_TIMEOUT_MS,
  PROP_GRACE_MS,
  PROP_VIEWER_SOFT_LIMIT,
  PROP_VIEWER_HARD_LIMIT,
  PROP_WRITE_TIMEOUT_MS,
  PROP_STATS_INTERVAL_MS,
  PROP_STATS_FILE,
  PROP_NAME_GRACE_MS,
  PROP_CONFIG,
  PROP_KEEPALIVE_MS,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_CONNECTIONS_PER_ADDRESS,
  PROP_MAX_PENDING_PER_ADDRESS,
  PROP_MAX_STREAMS,
  PROP_MAX_STREAMS_PER_ADDRESS,
  PROP_MAX_PARTIAL_PER_ADDRESS,
  PROP_MAX_PARTIAL,
  PROP_MAX_REPLY_BYTES,
  PROP_UPSTREAM,
  PROP_FALLBACKS,
  PROP_FAILBACK_DELAY,
  PROP_LINK_LINGER,
  PROP_KNOWN_RELAYS,
  PROP_MAX_ANNOUNCED,
  PROP_PEERS,
  PROP_CACHE_BYTES,
  PROP_STORE_DIR,
  PROP_STORE_SECONDS,
  PROP_STORE_BYTES,
  PROP_STORE_QUEUE_BYTES,
  PROP_REPLAY_BYTES,
  PROP_HTTP_METRICS_PRIVATE,
  PROP_LINK_REVOCATIONS,
  PROP_HTTP_LISTEN,
  PROP_HTTP_CERT,
  PROP_HTTP_KEY,
  PROP_HTTP_DOMAIN,
  PROP_STUN,
  PROP_IO_THREADS,
};

static void relay_read_property (DiodeRelay * r, guint prop_id,
    GValue * value, GParamSpec * pspec);

/* ------------------------------------------------------------------------ */
/* GObject */

/* Stores one setting. While the relay runs this happens on its I/O thread
 * (see diode_relay_set_property), under the lock so get_property sees a
 * whole value: the loop reads its settings without locking. */
static void
relay_apply_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  DiodeRelay *r = DIODE_RELAY (object);

  switch (prop_id) {
    case PROP_LISTEN:
      g_free (r->listen);
      r->listen = g_value_dup_string (value);
      if (!r->listen)
        r->listen = g_strdup (DIODE_RELAY_DEFAULT_LISTEN);
      break;
    case PROP_IDENTITY:
      g_free (r->identity_path);
      r->identity_path = g_value_dup_string (value);
      break;
    case PROP_BUFFER_BYTES:
      r->buffer_bytes = g_value_get_uint64 (value);
      break;
    case PROP_BUFFER_SECONDS:
      r->buffer_seconds = g_value_get_uint (value);
      break;
    case PROP_MAX_WAIT_MS:
      r->max_wait_ms = g_value_get_uint (value);
      break;
    case PROP_HANDSHAKE_TIMEOUT_MS:
      r->handshake_ms = g_value_get_uint (value);
      break;
    case PROP_GRACE_MS:
      r->grace_ms = g_value_get_uint (value);
      break;
    case PROP_VIEWER_SOFT_LIMIT:
      r->soft_limit = g_value_get_uint64 (value);
      break;
    case PROP_VIEWER_HARD_LIMIT:
      r->hard_limit = g_value_get_uint64 (value);
      break;
    case PROP_WRITE_TIMEOUT_MS:
      r->write_timeout_ms = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL_MS:
      r->stats_interval_ms = g_value_get_uint (value);
      break;
    case PROP_STATS_FILE:
      g_free (r->stats_file);
      r->stats_file = g_value_dup_string (value);
      break;
    case PROP_NAME_GRACE_MS:
      r->name_grace_ms = g_value_get_uint (value);
      break;
    case PROP_CONFIG:
      g_free (r->config_path);
      r->config_path = g_value_dup_string (value);
      break;
    case PROP_HTTP_LISTEN:
      g_free (r->http_listen);
      r->http_listen = g_value_dup_string (value);
      break;
    case PROP_STUN:
      g_free (r->stun_listen);
      r->stun_listen = g_value_dup_string (value);
      break;
    case PROP_IO_THREADS:
      r->io_threads = g_value_get_uint (value);
      break;
    case PROP_HTTP_CERT:
      g_free (r->http_cert);
      r->http_cert = g_value_dup_string (value);
      break;
    case PROP_HTTP_KEY:
      g_free (r->http_key);
      r->http_key = g_value_dup_string (value);
      break;
    case PROP_HTTP_DOMAIN:
      g_free (r->http_domain);
      r->http_domain = g_value_dup_string (value);
      break;
    case PROP_KEEPALIVE_MS:
      r->keepalive_ms = g_value_get_uint (value);
      break;
    case PROP_MAX_CONNECTIONS:
      r->max_conns = g_value_get_uint (value);
      break;
    case PROP_MAX_CONNECTIONS_PER_ADDRESS:
      r->max_conns_per_addr = g_value_get_uint (value);
      break;
    case PROP_MAX_PENDING_PER_ADDRESS:
      r->max_pending_per_addr = g_value_get_uint (value);
      break;
    case PROP_MAX_STREAMS:
      r->max_streams = g_value_get_uint (value);
      break;
    case PROP_MAX_STREAMS_PER_ADDRESS:
      r->max_streams_per_addr = g_value_get_uint (value);
      break;
    case PROP_MAX_PARTIAL_PER_ADDRESS:
      r->max_partial_per_addr = g_value_get_uint64 (value);
      break;
    case PROP_MAX_PARTIAL:
      r->max_partial = g_value_get_uint64 (value);
      break;
    case PROP_MAX_REPLY_BYTES:
      r->max_reply_bytes = g_value_get_uint64 (value);
      break;
    case PROP_UPSTREAM:
      g_free (r->upstream);
      r->upstream = g_value_dup_string (value);
      if (r->upstream && !*r->upstream)
        g_clear_pointer (&r->upstream, g_free);
      break;
    case PROP_FALLBACKS:
      g_strfreev (r->fallbacks);
      r->fallbacks = g_value_dup_boxed (value);
      break;
    case PROP_FAILBACK_DELAY:
      r->failback_delay_ms = g_value_get_uint (value);
      break;
    case PROP_LINK_LINGER:
      r->link_linger_ms = g_value_get_uint (value);
      break;
    case PROP_KNOWN_RELAYS:
      g_free (r->known_relays);
      r->known_relays = g_value_dup_string (value);
      break;
    case PROP_MAX_ANNOUNCED:
      r->max_announced = g_value_get_uint (value);
      break;
    case PROP_PEERS:
      g_strfreev (r->peers);
      r->peers = g_value_dup_boxed (value);
      break;
    case PROP_CACHE_BYTES:
      r->cache_bytes = g_value_get_uint64 (value);
      if (r->cache)
        relay_cache_set_max (r->cache, r->cache_bytes);
      break;
    case PROP_STORE_DIR:
      g_free (r->store_dir);
      r->store_dir = g_value_dup_string (value);
      if (r->store_dir && !*r->store_dir)
        g_clear_pointer (&r->store_dir, g_free);
      break;
    case PROP_LINK_REVOCATIONS:
      g_free (r->link_revocations);
      r->link_revocations = g_value_dup_string (value);
      if (r->link_revocations && !*r->link_revocations)
        g_clear_pointer (&r->link_revocations, g_free);
      break;
    case PROP_STORE_SECONDS:
      r->store_seconds = g_value_get_uint64 (value);
      break;
    case PROP_STORE_BYTES:
      r->store_bytes = g_value_get_uint64 (value);
      break;
    case PROP_STORE_QUEUE_BYTES:
      r->store_queue_bytes = g_value_get_uint64 (value);
      break;
    case PROP_REPLAY_BYTES:
      r->replay_max_bytes = g_value_get_uint64 (value);
      break;
    case PROP_HTTP_METRICS_PRIVATE:
      r->http_metrics_private = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

typedef struct {
  DiodeRelay *relay;
  guint       prop_id;
  GParamSpec *pspec;
  GValue      value;
  gboolean    done;
} PropChange;

static gboolean
prop_change_apply_cb (gpointer data)
{
  PropChange *pc = data;
  DiodeRelay *r = pc->relay;

  g_mutex_lock (&r->lock);
  relay_apply_property (G_OBJECT (r), pc->prop_id, &pc->value, pc->pspec);
  g_mutex_unlock (&r->lock);
  /* Streams already open follow new buffer limits at once. */
  if (pc->prop_id == PROP_BUFFER_BYTES || pc->prop_id == PROP_BUFFER_SECONDS)
    relay_apply_buffer_limits (r);
  return G_SOURCE_REMOVE;
}

/* Runs after the change was applied, or when the loop went away first. */
static void
prop_change_done (gpointer data)
{
  PropChange *pc = data;
  DiodeRelay *r = pc->relay;

  g_mutex_lock (&r->lock);
  pc->done = TRUE;
  g_cond_broadcast (&r->prop_cond);
  g_mutex_unlock (&r->lock);
}

/* The I/O thread reads settings without a lock (it is their only user
 * while running), so a running relay's settings are changed on that thread:
 * the caller waits until the change is in, so a set is visible to the next
 * get and to the next thing the loop does, and a string the loop is using
 * (stats-file while it writes the file) is never freed under it. */
static void
diode_relay_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  DiodeRelay *r = DIODE_RELAY (object);
  PropChange pc = { 0 };
  GSource *src;

  if (!r->running || g_main_context_is_owner (r->context)) {
    g_mutex_lock (&r->lock);
    relay_apply_property (object, prop_id, value, pspec);
    g_mutex_unlock (&r->lock);
    return;
  }
  pc.relay = r;
  pc.prop_id = prop_id;
  pc.pspec = pspec;
  g_value_init (&pc.value, G_VALUE_TYPE (value));
  g_value_copy (value, &pc.value);
  src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_HIGH);
  g_source_set_callback (src, prop_change_apply_cb, &pc, prop_change_done);
  g_source_attach (src, r->context);
  g_source_unref (src);
  g_mutex_lock (&r->lock);
  while (!pc.done)
    g_cond_wait (&r->prop_cond, &r->lock);
  g_mutex_unlock (&r->lock);
  g_value_unset (&pc.value);
}

static void
diode_relay_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  DiodeRelay *r = DIODE_RELAY (object);

  g_mutex_lock (&r->lock);
  relay_read_property (r, prop_id, value, pspec);
  g_mutex_unlock (&r->lock);
}

static void
relay_read_property (DiodeRelay * r, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GObject *object = G_OBJECT (r);

  switch (prop_id) {
    case PROP_LISTEN:
      g_value_set_string (value, r->listen);
      break;
    case PROP_IDENTITY:
      g_value_set_string (value, r->identity_path);
      break;
    case PROP_BUFFER_BYTES:
      g_value_set_uint64 (value, r->buffer_bytes);
      break;
    case PROP_BUFFER_SECONDS:
      g_value_set_uint (value, r->buffer_seconds);
      break;
    case PROP_MAX_WAIT_MS:
      g_value_set_uint (value, r->max_wait_ms);
      break;
    case PROP_HANDSHAKE_TIMEOUT_MS:
      g_value_set_uint (value, r->handshake_ms);
      break;
    case PROP_GRACE_MS:
      g_value_set_uint (value, r->grace_ms);
      break;
    case PROP_VIEWER_SOFT_LIMIT:
      g_value_set_uint64 (value, r->soft_limit);
      break;
    case PROP_VIEWER_HARD_LIMIT:
      g_value_set_uint64 (value, r->hard_limit);
      break;
    case PROP_WRITE_TIMEOUT_MS:
      g_value_set_uint (value, r->write_timeout_ms);
      break;
    case PROP_STATS_INTERVAL_MS:
      g_value_set_uint (value, r->stats_interval_ms);
      break;
    case PROP_STATS_FILE:
      g_value_set_string (value, r->stats_file);
      break;
    case PROP_NAME_GRACE_MS:
      g_value_set_uint (value, r->name_grace_ms);
      break;
    case PROP_STUN:
      g_value_set_string (value, r->stun_listen);
      break;
    case PROP_IO_THREADS:
      g_value_set_uint (value, r->io_threads);
      break;
    case PROP_HTTP_LISTEN:
      g_value_set_string (value, r->http_listen);
      break;
    case PROP_HTTP_CERT:
      g_value_set_string (value, r->http_cert);
      break;
    case PROP_HTTP_KEY:
      g_value_set_string (value, r->http_key);
      break;
    case PROP_HTTP_DOMAIN:
      g_value_set_string (value, r->http_domain);
      break;
    case PROP_CONFIG:
      g_value_set_string (value, r->config_path);
      break;
    case PROP_KEEPALIVE_MS:
      g_value_set_uint (value, r->keepalive_ms);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, r->max_conns);
      break;
    case PROP_MAX_CONNECTIONS_PER_ADDRESS:
      g_value_set_uint (value, r->max_conns_per_addr);
      break;
    case PROP_MAX_PENDING_PER_ADDRESS:
      g_value_set_uint (value, r->max_pending_per_addr);
      break;
    case PROP_MAX_STREAMS:
      g_value_set_uint (value, r->max_streams);
      break;
    case PROP_MAX_STREAMS_PER_ADDRESS:
      g_value_set_uint (value, r->max_streams_per_addr);
      break;
    case PROP_MAX_PARTIAL_PER_ADDRESS:
      g_value_set_uint64 (value, r->max_partial_per_addr);
      break;
    case PROP_MAX_PARTIAL:
      g_value_set_uint64 (value, r->max_partial);
      break;
    case PROP_MAX_REPLY_BYTES:
      g_value_set_uint64 (value, r->max_reply_bytes);
      break;
    case PROP_UPSTREAM:
      g_value_set_string (value, r->upstream);
      break;
    case PROP_FALLBACKS:
      g_value_set_boxed (value, r->fallbacks);
      break;
    case PROP_FAILBACK_DELAY:
      g_value_set_uint (value, r->failback_delay_ms);
      break;
    case PROP_LINK_LINGER:
      g_value_set_uint (value, r->link_linger_ms);
      break;
    case PROP_KNOWN_RELAYS:
      g_value_set_string (value, r->known_relays);
      break;
    case PROP_MAX_ANNOUNCED:
      g_value_set_uint (value, r->max_announced);
      break;
    case PROP_PEERS:
      g_value_set_boxed (value, r->peers);
      break;
    case PROP_CACHE_BYTES:
      g_value_set_uint64 (value, r->cache_bytes);
      break;
    case PROP_STORE_DIR:
      g_value_set_string (value, r->store_dir);
      break;
    case PROP_LINK_REVOCATIONS:
      g_value_set_string (value, r->link_revocations);
      break;
    case PROP_STORE_SECONDS:
      g_value_set_uint64 (value, r->store_seconds);
      break;
    case PROP_STORE_BYTES:
      g_value_set_uint64 (value, r->store_bytes);
      break;
    case PROP_STORE_QUEUE_BYTES:
      g_value_set_uint64 (value, r->store_queue_bytes);
      break;
    case PROP_REPLAY_BYTES:
      g_value_set_uint64 (value, r->replay_max_bytes);
      break;
    case PROP_HTTP_METRICS_PRIVATE:
      g_value_set_boolean (value, r->http_metrics_private);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}


/* diode_relay_class_init: every property, and who sets and reads them. */
void
relay_install_properties (GObjectClass * oc)
{
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  oc->set_property = diode_relay_set_property;
  oc->get_property = diode_relay_get_property;

  g_object_class_install_property (oc, PROP_LISTEN,
      g_param_spec_string ("listen", "Listen", "HOST:PORT to listen on "
          "(port 0: any free port)", DIODE_RELAY_DEFAULT_LISTEN,
          f | G_PARAM_CONSTRUCT));
  g_object_class_install_property (oc, PROP_IDENTITY,
      g_param_spec_string ("identity", "Identity", "Key file (NULL: "
          "$XDG_CONFIG_HOME/diode/identity.pem)", NULL, f | G_PARAM_CONSTRUCT));
  g_object_class_install_property (oc, PROP_BUFFER_BYTES,
      g_param_spec_uint64 ("buffer-bytes", "Buffer bytes",
          "Most bytes of media kept per stream (whole chunks, 0 = no limit)",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_BUFFER_BYTES, f));
  g_object_class_install_property (oc, PROP_BUFFER_SECONDS,
      g_param_spec_uint ("buffer-seconds", "Buffer seconds",
          "Most seconds of media kept per stream (whole chunks, 0 = no limit)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_BUFFER_SECONDS, f));
  g_object_class_install_property (oc, PROP_MAX_WAIT_MS,
      g_param_spec_uint ("max-wait-ms", "Max wait",
          "Longest a SUBSCRIBE to an unpublished stream is held (ms)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_MAX_WAIT_MS, f));
  g_object_class_install_property (oc, PROP_HANDSHAKE_TIMEOUT_MS,
      g_param_spec_uint ("handshake-timeout-ms", "Handshake timeout",
          "Time a new connection has for TLS and HELLO (ms)",
          1, G_MAXUINT, DIODE_RELAY_DEFAULT_HANDSHAKE_MS, f));
  g_object_class_install_property (oc, PROP_GRACE_MS,
      g_param_spec_uint ("grace-ms", "Grace",
          "How long viewers wait for a publisher that dropped without EOS (ms)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_GRACE_MS, f));
  g_object_class_install_property (oc, PROP_VIEWER_SOFT_LIMIT,
      g_param_spec_uint64 ("viewer-soft-limit", "Viewer soft limit",
          "Backlog (bytes) past which a viewer skips to the latest keyframe",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT, f));
  g_object_class_install_property (oc, PROP_VIEWER_HARD_LIMIT,
      g_param_spec_uint64 ("viewer-hard-limit", "Viewer hard limit",
          "Backlog (bytes) past which a viewer is disconnected",
          0, G_MAXUINT64, DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT, f));
  g_object_class_install_property (oc, PROP_WRITE_TIMEOUT_MS,
      g_param_spec_uint ("write-timeout-ms", "Write timeout",
          "A viewer whose socket accepts nothing this long is disconnected",
          1, G_MAXUINT, DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS, f));
  g_object_class_install_property (oc, PROP_STATS_INTERVAL_MS,
      g_param_spec_uint ("stats-interval-ms", "Stats interval",
          "How often stats are logged and snapshot (ms, 0 = never)",
          0, G_MAXUINT, DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS, f));
  g_object_class_install_property (oc, PROP_STATS_FILE,
      g_param_spec_string ("stats-file", "Stats file",
          "JSON file rewritten with every snapshot (NULL: none)", NULL, f));
  g_object_class_install_property (oc, PROP_NAME_GRACE_MS,
      g_param_spec_uint ("name-grace-ms", "Name grace",
          "How long a stream name stays reserved for its publisher after it "
          "stops (ms)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_NAME_GRACE_MS, f));
  g_object_class_install_property (oc, PROP_KEEPALIVE_MS,
      g_param_spec_uint ("keepalive-ms", "Keepalive",
          "Both ends send something at least this often; silence for three "
          "times this closes the connection (ms, 0 = off)", 0, 60000,
          DIODE_RELAY_DEFAULT_KEEPALIVE_MS, f));
  g_object_class_install_property (oc, PROP_MAX_CONNECTIONS,
      g_param_spec_uint ("max-connections", "Max connections",
          "Most connections open at once; more are closed at accept "
          "(0 = no limit)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_MAX_CONNECTIONS,
          f));
  g_object_class_install_property (oc, PROP_MAX_CONNECTIONS_PER_ADDRESS,
      g_param_spec_uint ("max-connections-per-address",
          "Max connections per address", "Most connections open at once "
          "from one source IP address (0 = no limit)", 0, G_MAXUINT,
          DIODE_RELAY_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, f));
  g_object_class_install_property (oc, PROP_MAX_PENDING_PER_ADDRESS,
      g_param_spec_uint ("max-pending-per-address",
          "Max pending per address", "Most connections from one source IP "
          "address that have not sent HELLO yet (0 = no limit)", 0, G_MAXUINT,
          DIODE_RELAY_DEFAULT_MAX_PENDING_PER_ADDRESS, f));
  g_object_class_install_property (oc, PROP_MAX_STREAMS,
      g_param_spec_uint ("max-streams", "Max streams",
          "Most streams (published, kept or waited for) at once (0 = no "
          "limit)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_MAX_STREAMS, f));
  g_object_class_install_property (oc, PROP_MAX_STREAMS_PER_ADDRESS,
      g_param_spec_uint ("max-streams-per-address", "Max streams per address",
          "Most streams the connections of one source IP address may create "
          "(published or waited for; 0 = no limit)", 0, G_MAXUINT,
          DIODE_RELAY_DEFAULT_MAX_STREAMS_PER_ADDRESS, f));
  g_object_class_install_property (oc, PROP_MAX_PARTIAL_PER_ADDRESS,
      g_param_spec_uint64 ("max-partial-per-address",
          "Max partial bytes per address", "Bytes of frames received but not "
          "complete yet that one source IP address may have the relay hold; "
          "the connection past it is closed (0 = no limit)", 0, G_MAXUINT64,
          DIODE_RELAY_DEFAULT_MAX_PARTIAL_PER_ADDRESS, f));
  g_object_class_install_property (oc, PROP_MAX_PARTIAL,
      g_param_spec_uint64 ("max-partial", "Max partial bytes",
          "Bytes of frames received but not complete yet, all connections "
          "together; the connection past it is closed (0 = no limit)", 0,
          G_MAXUINT64, DIODE_RELAY_DEFAULT_MAX_PARTIAL, f));
  g_object_class_install_property (oc, PROP_MAX_REPLY_BYTES,
      g_param_spec_uint64 ("max-reply-bytes", "Max reply bytes",
          "Control replies (bytes) queued for one connection past which its "
          "requests are not read; stuck for write-timeout-ms, it is closed "
          "(0 = no limit)", 0, G_MAXUINT64,
          DIODE_RELAY_DEFAULT_MAX_REPLY_BYTES, f));
  g_object_class_install_property (oc, PROP_UPSTREAM,
      g_param_spec_string ("upstream", "Upstream",
          "Parent relay, [0xADDRESS@]HOST[:PORT] (NULL: none); streams this "
          "relay does not carry are pulled from it (set before start)", NULL,
          f));
  g_object_class_install_property (oc, PROP_FALLBACKS,
      g_param_spec_boxed ("fallbacks", "Fallbacks",
          "Relays tried in order when the upstream is unreachable, each "
          "[0xADDRESS@]HOST[:PORT] (set before start)", G_TYPE_STRV, f));
  g_object_class_install_property (oc, PROP_FAILBACK_DELAY,
      g_param_spec_uint ("failback-delay", "Fail-back delay",
          "A better upstream must stay linked this long before streams move "
          "back to it (ms)", 0, G_MAXUINT,
          DIODE_RELAY_DEFAULT_FAILBACK_DELAY_MS, f));
  g_object_class_install_property (oc, PROP_LINK_LINGER,
      g_param_spec_uint ("link-linger", "Link linger",
          "A pulled stream's link closes this long after its last consumer "
          "left (ms)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_LINK_LINGER_MS, f));
  g_object_class_install_property (oc, PROP_KNOWN_RELAYS,
      g_param_spec_string ("known-relays", "Known relays",
          "Trust-on-first-use file for upstreams without a pin (NULL: "
          "$XDG_CONFIG_HOME/diode/known-relays)", NULL, f));
  g_object_class_install_property (oc, PROP_MAX_ANNOUNCED,
      g_param_spec_uint ("max-announced", "Max announced",
          "Streams announced by child relays kept per link (and four times "
          "this in total)", 0, G_MAXUINT, DIODE_RELAY_DEFAULT_MAX_ANNOUNCED,
          f));
  g_object_class_install_property (oc, PROP_PEERS,
      g_param_spec_boxed ("peers", "Peers",
          "Sibling relays asked first for chunks of recordings this relay "
          "lacks, in order, each [0xADDRESS@]HOST[:PORT] (set before start)",
          G_TYPE_STRV, f));
  g_object_class_install_property (oc, PROP_CACHE_BYTES,
      g_param_spec_uint64 ("cache-bytes", "Cache bytes",
          "Most bytes of chunks fetched from peers or the upstream kept in "
          "memory, least recently used dropped first (0 = no cache)", 0,
          G_MAXUINT64, DIODE_RELAY_DEFAULT_CACHE_BYTES, f));
  g_object_class_install_property (oc, PROP_STORE_DIR,
      g_param_spec_string ("store-dir", "Store directory",
          "Directory recordings are kept in: streams whose publisher allows "
          "it (record) are written there (NULL: nothing is recorded; set "
          "before start)", NULL, f));
  g_object_class_install_property (oc, PROP_LINK_REVOCATIONS,
      g_param_spec_string ("link-revocations", "Link revocations",
          "File keeping the share links their owners revoked (NULL: "
          "beside the identity, IDENTITY-without-.pem.link-revocations; "
          "read at start, fails closed when unreadable; set before start)",
          NULL, f));
  g_object_class_install_property (oc, PROP_STORE_SECONDS,
      g_param_spec_uint64 ("store-seconds", "Store seconds",
          "Recordings older than this are removed, oldest whole segments "
          "first (s, 0 = no age limit; set before start)", 0, G_MAXUINT64,
          DIODE_RELAY_DEFAULT_STORE_SECONDS, f));
  g_object_class_install_property (oc, PROP_STORE_BYTES,
      g_param_spec_uint64 ("store-bytes", "Store bytes",
          "Most bytes the store keeps, oldest whole segments removed first "
          "(0 = no size limit; set before start)", 0, G_MAXUINT64,
          DIODE_RELAY_DEFAULT_STORE_BYTES, f));
  g_object_class_install_property (oc, PROP_STORE_QUEUE_BYTES,
      g_param_spec_uint64 ("store-queue-bytes", "Store queue bytes",
          "Chunk bytes waiting for the store's writer past which a live "
          "recording loses chunks and an upload is not read (set before "
          "start)", 1, G_MAXUINT64, DIODE_RELAY_DEFAULT_STORE_QUEUE_BYTES,
          f));
  g_object_class_install_property (oc, PROP_REPLAY_BYTES,
      g_param_spec_uint64 ("replay-bytes", "Replay bytes",
          "Stored chunks held in memory for replay viewers and FETCH "
          "answers, in total, past which new store reads wait (counted "
          "with diode_stored_chunk_cost; set before start)", 1, G_MAXUINT64,
          DIODE_RELAY_DEFAULT_REPLAY_BYTES, f));
  g_object_class_install_property (oc, PROP_HTTP_METRICS_PRIVATE,
      g_param_spec_boolean ("http-metrics-private", "HTTP metrics private",
          "/metrics names protected and private streams too (default: "
          "only public streams are named, the others are summed in one "
          "series with an empty stream label)", FALSE, f));
  g_object_class_install_property (oc, PROP_HTTP_LISTEN,
      g_param_spec_string ("http-listen", "HTTP listen",
          "HOST:PORT of the web side (player pages, stream list, API, "
          "WebSocket viewers; port 0: any free one, "
          "diode_relay_get_http_port); NULL: no web side (set before start)",
          NULL, f));
  g_object_class_install_property (oc, PROP_STUN,
      g_param_spec_string ("stun", "STUN",
          "HOST:PORT of a UDP socket answering STUN Binding requests (RFC "
          "5389 and classic RFC 3489) for direct paths, announced in "
          "WELCOME (port 0: any free one, diode_relay_get_stun_port); "
          "NULL: off (set before start)", NULL, f));
  g_object_class_install_property (oc, PROP_IO_THREADS,
      g_param_spec_uint ("io-threads", "I/O threads",
          "Threads that write a stream's frames to its viewers when many "
          "wait at once (the relay thread and io-threads - 1 workers; 1: "
          "the relay thread alone). Default: 2 with two cores or more, else "
          "1 (set before start)", 1, 8, 2, f));
  g_object_class_install_property (oc, PROP_HTTP_CERT,
      g_param_spec_string ("http-cert", "HTTP certificate",
          "PEM certificate (chain) file: the web side speaks HTTPS (with "
          "http-key; set before start)", NULL, f));
  g_object_class_install_property (oc, PROP_HTTP_KEY,
      g_param_spec_string ("http-key", "HTTP key",
          "PEM private key file of http-cert (set before start)", NULL, f));
  g_object_class_install_property (oc, PROP_HTTP_DOMAIN,
      g_param_spec_string ("http-domain", "HTTP domain",
          "A request whose Host is NAME.DOMAIN gets NAME's player at / and "
          "its WebSocket at /ws (NULL: none)", NULL, f));
  g_object_class_install_property (oc, PROP_CONFIG,
      g_param_spec_string ("config", "Config",
          "Operator configuration file: fleets, reserved names, publisher "
          "list (NULL: none)", NULL, f));
}
