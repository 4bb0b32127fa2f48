/* gst-diode — the relay node as a reusable object
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A DiodeRelay accepts TLS connections from publishers and viewers, keeps one
 * ring of chunks per stream and feeds every viewer from it through its own
 * cursor. All of its I/O runs on one thread of its own (an epoll set driven
 * from a GMainContext), so it can be embedded in tests or applications and
 * wrapped by the small diode-relay daemon (relay/main.c).
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define DIODE_DEFAULT_PORT            7878
#define DIODE_RELAY_DEFAULT_LISTEN    "127.0.0.1:7878"
#define DIODE_RELAY_DEFAULT_BUFFER_BYTES    (32 * 1024 * 1024)
#define DIODE_RELAY_DEFAULT_BUFFER_SECONDS  10
#define DIODE_RELAY_DEFAULT_MAX_WAIT_MS     30000   /* SUBSCRIBE wait cap */
#define DIODE_RELAY_DEFAULT_HANDSHAKE_MS    10000   /* TLS + HELLO deadline */
#define DIODE_RELAY_DEFAULT_GRACE_MS        10000   /* publisher gone, no EOS */
#define DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT (2 * 1024 * 1024) /* skip */
#define DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT (8 * 1024 * 1024) /* drop */
#define DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS 5000
#define DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS 10000
#define DIODE_RELAY_DEFAULT_NAME_GRACE_MS   60000
/* 800 ms: a silent peer is declared dead after 2.4 s (three periods), so a
 * dead relay, viewer or publisher is noticed within 3 s. */
#define DIODE_RELAY_DEFAULT_KEEPALIVE_MS    800
/* Resource limits (docs/security.md, "Resource limits"; 0 = no limit).
 * Per address: a few hundred viewers behind one NAT, not one attacker
 * holding every slot; the benchmarks (thousands of viewers from 127.0.0.1)
 * raise them (docs/decisions.md). */
#define DIODE_RELAY_DEFAULT_MAX_CONNECTIONS        8192
#define DIODE_RELAY_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 256
#define DIODE_RELAY_DEFAULT_MAX_PENDING_PER_ADDRESS 32  /* before HELLO */
#define DIODE_RELAY_DEFAULT_MAX_STREAMS            256
#define DIODE_RELAY_DEFAULT_MAX_STREAMS_PER_ADDRESS 16
/* bytes of frames received but not complete yet, per source address and in
 * all: what a peer trickling huge frames can make the relay hold */
#define DIODE_RELAY_DEFAULT_MAX_PARTIAL_PER_ADDRESS (64 * 1024 * 1024)
#define DIODE_RELAY_DEFAULT_MAX_PARTIAL            (512 * 1024 * 1024)
#define DIODE_RELAY_DEFAULT_MAX_REPLY_BYTES        (128 * 1024) /* per conn */
/* Relay networks (docs/architecture.md, "Relay network"). */
#define DIODE_RELAY_DEFAULT_FAILBACK_DELAY_MS      5000
#define DIODE_RELAY_DEFAULT_LINK_LINGER_MS         10000
#define DIODE_RELAY_DEFAULT_MAX_ANNOUNCED          4096
/* Chunks fetched from peers and the upstream kept in memory (--cache-bytes,
 * counted with diode_stored_chunk_cost). */
#define DIODE_RELAY_DEFAULT_CACHE_BYTES    (256 * 1024 * 1024)
/* Recordings (docs/security.md, "Recordings"): what --store keeps. */
#define DIODE_RELAY_DEFAULT_STORE_SECONDS   604800  /* 7 days; 0 = no limit */
#define DIODE_RELAY_DEFAULT_STORE_BYTES     G_GUINT64_CONSTANT (17179869184) /* 16 GiB */
#define DIODE_RELAY_DEFAULT_STORE_QUEUE_BYTES (64 * 1024 * 1024)
/* stored chunks held for replay viewers and FETCH answers, relay-wide */
#define DIODE_RELAY_DEFAULT_REPLAY_BYTES (64 * 1024 * 1024)

#define DIODE_TYPE_RELAY (diode_relay_get_type ())
G_DECLARE_FINAL_TYPE (DiodeRelay, diode_relay, DIODE, RELAY, GObject)

/* Properties (set before start): "listen" ("HOST:PORT", port 0 = any free
 * port), "identity" (key file path, NULL = default), "buffer-bytes",
 * "buffer-seconds", "max-wait-ms", "handshake-timeout-ms", "grace-ms",
 * "viewer-soft-limit", "viewer-hard-limit", "write-timeout-ms",
 * "stats-interval-ms", "stats-file", "name-grace-ms", "config",
 * "keepalive-ms", "max-connections", "max-connections-per-address",
 * "max-pending-per-address", "max-streams", "max-reply-bytes";
 * links to other relays: "upstream", "fallbacks" (GStrv), "failback-delay",
 * "link-linger", "known-relays", "max-announced";
 * recordings: "store-dir" (NULL: none), "store-seconds", "store-bytes",
 * "store-queue-bytes". */
DiodeRelay  *diode_relay_new        (const gchar *listen, const gchar *identity);
/* Loads the identity, binds, listens and starts the I/O thread. */
gboolean     diode_relay_start      (DiodeRelay *relay, GError **error);
/* Tells every client (ERROR SHUTDOWN), closes, joins the thread. Idempotent. */
void         diode_relay_stop       (DiodeRelay *relay);
/* The bound port (after start) and "HOST:PORT" clients should dial. */
guint16      diode_relay_get_port   (DiodeRelay *relay);
/* The web side's bound port (http-listen, port 0 resolved), 0 when off. */
guint16      diode_relay_get_http_port (DiodeRelay *relay);
/* The --stun UDP port (the `stun` property, port 0 resolved), 0 when off. */
guint16      diode_relay_get_stun_port (DiodeRelay *relay);
gchar       *diode_relay_get_hostport (DiodeRelay *relay);
/* The relay's identity address ("0x..."), after start. */
const gchar *diode_relay_get_address (DiodeRelay *relay);

/* Counters, safe from any thread (for tests and stats). */
guint        diode_relay_count_viewers (DiodeRelay *relay, const gchar *stream);
gboolean     diode_relay_has_publisher (DiodeRelay *relay, const gchar *stream);
/* Viewers holding a SUBSCRIBE until @stream is published. */
guint        diode_relay_count_waiting (DiodeRelay *relay, const gchar *stream);
/* Seq of the last MEDIA the relay received for @stream (0: none). */
guint64      diode_relay_get_last_seq (DiodeRelay *relay, const gchar *stream);
guint        diode_relay_count_connections (DiodeRelay *relay);
/* Connections refused by the connection caps since start. */
guint64      diode_relay_count_refused_connections (DiodeRelay *relay);
/* The latest stats snapshot as JSON (docs/stats.md), NULL before the first
 * interval. Free with g_free. */
gchar       *diode_relay_get_stats_json (DiodeRelay *relay);
/* Re-read the "config" file (SIGHUP in the daemon), from any thread. On a
 * parse error nothing changes. Viewers no longer allowed are cut off. */
gboolean     diode_relay_reload_config (DiodeRelay *relay, GError **error);
/* Test hook (issue 11): the body the web side serves at @path ("/",
 * "/api/streams", "/healthz", "/metrics"), built on the relay's I/O
 * thread without HTTP; *@status the HTTP status, *@content_type (g_free)
 * its type. NULL for another path (status 404) or a relay not started.
 * The body holds no NUL for these paths. g_free it. */
gchar       *diode_relay_web_render (DiodeRelay *relay, const gchar *path,
                                     guint *status, gchar **content_type);
/* Test hook (LIST, docs/protocol.md section 19): at most @max_entries
 * entries per LISTING (0: DIODE_LIST_MAX_ENTRIES, the default) and
 * @visits_per_second streams looked at by all LISTs together (0: the
 * default, 200 000), so the bounds are tested without a thousand
 * publishers. Also while running (read atomically). */
void         diode_relay_set_list_limits (DiodeRelay *relay, guint max_entries,
                                          guint visits_per_second);

G_END_DECLS
