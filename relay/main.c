/* gst-diode — diode-relay: the relay daemon
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode-relay --listen 0.0.0.0:7878
 *
 * A thin shell around DiodeRelay: options, logging, signals.
 */
#define G_LOG_DOMAIN "diode-relay"

#include "diode-relay.h"
#include "diode-store.h"

#include <glib-unix.h>
#include <errno.h>
#include <locale.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void
drop_log (const gchar * domain, GLogLevelFlags level, const gchar * message,
    gpointer user_data)
{
}

/* systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET, which a Type=notify unit sets
 * (data/systemd/diode-relay.service.in); without it, nothing. */
static void
notify_systemd (const gchar * state)
{
  const gchar *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sa;
  gsize len;
  int fd;

  if (!path || (path[0] != '/' && path[0] != '@'))
    return;
  len = strlen (path);
  if (len >= sizeof (sa.sun_path))
    return;
  memset (&sa, 0, sizeof (sa));
  sa.sun_family = AF_UNIX;
  memcpy (sa.sun_path, path, len);
  if (path[0] == '@')
    sa.sun_path[0] = '\0';       /* abstract namespace */
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (sendto (fd, state, strlen (state), MSG_NOSIGNAL,
          (struct sockaddr *) &sa, offsetof (struct sockaddr_un, sun_path)
          + len) < 0)
    g_message ("cannot notify systemd (%s): %s", path, g_strerror (errno));
  close (fd);
}

static gboolean
on_sighup (gpointer user_data)
{
  DiodeRelay *relay = *(DiodeRelay **) user_data;
  GError *err = NULL;

  if (relay && !diode_relay_reload_config (relay, &err)) {
    g_message ("configuration not reloaded: %s", err->message);
    g_error_free (err);
  }
  return G_SOURCE_CONTINUE;
}

/* Stays installed: a second SIGTERM while shutting down must not fall back
 * to the default action and kill the relay before its viewers heard why. */
static gboolean
on_signal (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *listen = NULL, *identity = NULL;
  gint64 buffer_bytes = DIODE_RELAY_DEFAULT_BUFFER_BYTES;
  gint buffer_seconds = DIODE_RELAY_DEFAULT_BUFFER_SECONDS;
  gint max_wait_ms = DIODE_RELAY_DEFAULT_MAX_WAIT_MS;
  gint grace_ms = DIODE_RELAY_DEFAULT_GRACE_MS;
  gint64 soft_limit = DIODE_RELAY_DEFAULT_VIEWER_SOFT_LIMIT;
  gint64 hard_limit = DIODE_RELAY_DEFAULT_VIEWER_HARD_LIMIT;
  gint write_timeout = DIODE_RELAY_DEFAULT_WRITE_TIMEOUT_MS;
  gint stats_interval = DIODE_RELAY_DEFAULT_STATS_INTERVAL_MS / 1000;
  gchar *stats_file = NULL, *config = NULL;
  gint name_grace = DIODE_RELAY_DEFAULT_NAME_GRACE_MS;
  gint keepalive = DIODE_RELAY_DEFAULT_KEEPALIVE_MS;
  gint max_conns = DIODE_RELAY_DEFAULT_MAX_CONNECTIONS;
  gint max_per_addr = DIODE_RELAY_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  gint max_pending = DIODE_RELAY_DEFAULT_MAX_PENDING_PER_ADDRESS;
  gint max_streams = DIODE_RELAY_DEFAULT_MAX_STREAMS;
  gint max_streams_per_addr = DIODE_RELAY_DEFAULT_MAX_STREAMS_PER_ADDRESS;
  gint64 max_partial_per_addr = DIODE_RELAY_DEFAULT_MAX_PARTIAL_PER_ADDRESS;
  gint64 max_partial = DIODE_RELAY_DEFAULT_MAX_PARTIAL;
  gint64 max_reply = DIODE_RELAY_DEFAULT_MAX_REPLY_BYTES;
  gchar *upstream = NULL, *known_relays = NULL;
  gchar **fallbacks = NULL, **peers = NULL;
  gint64 cache_bytes = DIODE_RELAY_DEFAULT_CACHE_BYTES;
  gint failback_delay = DIODE_RELAY_DEFAULT_FAILBACK_DELAY_MS;
  gint link_linger = DIODE_RELAY_DEFAULT_LINK_LINGER_MS;
  gint max_announced = DIODE_RELAY_DEFAULT_MAX_ANNOUNCED;
  gchar *store_dir = NULL;
  gchar *link_revocations = NULL;
  gchar *http = NULL, *http_cert = NULL, *http_key = NULL, *http_domain = NULL;
  gchar *stun = NULL;
  gint io_threads = 0;
  gint64 store_seconds = DIODE_RELAY_DEFAULT_STORE_SECONDS;
  gint64 store_bytes = DIODE_RELAY_DEFAULT_STORE_BYTES;
  gint64 replay_bytes = DIODE_RELAY_DEFAULT_REPLAY_BYTES;
  struct rlimit nofile;
  gboolean verbose = FALSE, debug = FALSE, quiet = FALSE, version = FALSE;
  gboolean print_id = FALSE, metrics_private = FALSE;
  GOptionEntry entries[] = {
    {"listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
        "Address to listen on (default " DIODE_RELAY_DEFAULT_LISTEN
          "; 0.0.0.0:PORT for every interface, port 0 for any free port)",
        "HOST:PORT"},
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity,
        "Relay key file, created 0600 if missing (default "
          "$XDG_CONFIG_HOME/diode/identity.pem)", "FILE"},
    {"buffer-bytes", 0, 0, G_OPTION_ARG_INT64, &buffer_bytes,
        "Most bytes of media kept per stream, whole chunks (default 33554432)",
        "BYTES"},
    {"buffer-seconds", 0, 0, G_OPTION_ARG_INT, &buffer_seconds,
        "Most seconds of media kept per stream, whole chunks (default 10)",
        "SECONDS"},
    {"max-wait", 0, 0, G_OPTION_ARG_INT, &max_wait_ms,
        "Longest a viewer may wait for a stream to be published (default 30000)",
        "MS"},
    {"grace", 0, 0, G_OPTION_ARG_INT, &grace_ms,
        "How long viewers wait for a publisher that dropped without EOS "
          "(default 10000)", "MS"},
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config,
        "Operator configuration: fleets, reserved names, who may publish "
          "(GKeyFile, docs/security.md); SIGHUP reloads it", "FILE"},
    {"link-revocations", 0, 0, G_OPTION_ARG_FILENAME, &link_revocations,
        "Where the share links their owners revoked are kept (default: "
          "beside the identity, IDENTITY.link-revocations); unreadable: "
          "every share link is refused", "FILE"},
    {"name-grace", 0, 0, G_OPTION_ARG_INT, &name_grace,
        "How long a stream name stays its publisher's after it stops "
          "(default 60000)", "MS"},
    {"keepalive", 'k', 0, G_OPTION_ARG_INT, &keepalive,
        "Keepalive period: both ends send something this often, and a peer "
          "silent for three periods is closed; 0 = off (default 800)", "MS"},
    {"viewer-soft-limit", 0, 0, G_OPTION_ARG_INT64, &soft_limit,
        "Viewer backlog past which it skips to the latest keyframe "
          "(default 2097152)", "BYTES"},
    {"viewer-hard-limit", 0, 0, G_OPTION_ARG_INT64, &hard_limit,
        "Viewer backlog past which it is disconnected (default 8388608)",
        "BYTES"},
    {"write-timeout", 0, 0, G_OPTION_ARG_INT, &write_timeout,
        "Disconnect a viewer whose socket accepts nothing this long "
          "(default 5000)", "MS"},
    {"max-connections", 0, 0, G_OPTION_ARG_INT, &max_conns,
        "Most connections open at once; more are closed at once, 0 = no "
          "limit (default 8192)", "N"},
    {"max-connections-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_addr,
        "Most connections open at once from one IP address, 0 = no limit "
          "(default 256)", "N"},
    {"max-pending-per-address", 0, 0, G_OPTION_ARG_INT, &max_pending,
        "Most connections from one IP address that have not sent HELLO yet, "
          "0 = no limit (default 32)", "N"},
    {"max-streams", 0, 0, G_OPTION_ARG_INT, &max_streams,
        "Most streams at once (published, kept or waited for), 0 = no limit "
          "(default 256)", "N"},
    {"max-streams-per-address", 0, 0, G_OPTION_ARG_INT, &max_streams_per_addr,
        "Most streams the connections of one IP address may create, 0 = no "
          "limit (default 16)", "N"},
    {"max-partial-per-address", 0, 0, G_OPTION_ARG_INT64,
          &max_partial_per_addr,
        "Bytes of unfinished frames one IP address may have the relay hold, "
          "0 = no limit (default 67108864)", "BYTES"},
    {"max-partial", 0, 0, G_OPTION_ARG_INT64, &max_partial,
        "Bytes of unfinished frames held for all clients together, 0 = no "
          "limit (default 536870912)", "BYTES"},
    {"max-reply-bytes", 0, 0, G_OPTION_ARG_INT64, &max_reply,
        "Control replies queued for one client past which its requests are "
          "not read; still stuck after --write-timeout it is closed, 0 = no "
          "limit (default 131072)", "BYTES"},
    {"upstream", 'u', 0, G_OPTION_ARG_STRING, &upstream,
        "Parent relay: streams not carried here are pulled from it "
          "(0xADDRESS@ pins its identity; else trust on first use)",
        "[0xADDRESS@]HOST[:PORT]"},
    {"fallback", 0, 0, G_OPTION_ARG_STRING_ARRAY, &fallbacks,
        "Relay to use when the upstream is unreachable (repeatable, tried "
          "in order)", "[0xADDRESS@]HOST[:PORT]"},
    {"failback-delay", 0, 0, G_OPTION_ARG_INT, &failback_delay,
        "A better upstream must stay linked this long before streams move "
          "back to it (default 5000)", "MS"},
    {"link-linger", 0, 0, G_OPTION_ARG_INT, &link_linger,
        "A pulled stream's link closes this long after its last consumer "
          "left (default 10000)", "MS"},
    {"peer", 0, 0, G_OPTION_ARG_STRING_ARRAY, &peers,
        "Sibling relay asked first for chunks of recordings this relay "
          "lacks (repeatable, asked in order, then the upstream)",
        "[0xADDRESS@]HOST[:PORT]"},
    {"cache-bytes", 0, 0, G_OPTION_ARG_INT64, &cache_bytes,
        "Most bytes of chunks fetched from peers or the upstream kept in "
          "memory, least recently used dropped first; 0 = no cache "
          "(default 268435456)", "BYTES"},
    {"known-relays", 0, 0, G_OPTION_ARG_FILENAME, &known_relays,
        "Trust-on-first-use file for upstreams without a pin (default "
          "$XDG_CONFIG_HOME/diode/known-relays)", "FILE"},
    {"max-announced", 0, 0, G_OPTION_ARG_INT, &max_announced,
        "Streams announced by child relays kept per link, and four times "
          "this in total (default 4096)", "N"},
    {"store", 0, 0, G_OPTION_ARG_FILENAME, &store_dir,
        "Record streams whose publisher allows it (diodesink record=true) "
          "into this directory (created 0700; docs/security.md, "
          "\"Recordings\"); unusable: logged, live streams go on",
        "DIR"},
    {"store-seconds", 0, 0, G_OPTION_ARG_INT64, &store_seconds,
        "Remove recorded chunks older than this, oldest first, 0 = no age "
          "limit (default 604800: 7 days)", "SECONDS"},
    {"store-bytes", 0, 0, G_OPTION_ARG_INT64, &store_bytes,
        "Most bytes the store keeps, oldest chunks removed first in "
          "segments of 1/64 of it (64 KiB to 16 MiB), 0 = no size limit "
          "(default 17179869184: 16 GiB)", "BYTES"},
    {"replay-bytes", 0, 0, G_OPTION_ARG_INT64, &replay_bytes,
        "Stored chunks held in memory for viewers watching recordings and "
          "for FETCH answers, in total; over it new reads wait (default "
          "67108864: 64 MiB)", "BYTES"},
    {"io-threads", 0, 0, G_OPTION_ARG_INT, &io_threads,
        "Threads that write a stream's frames to its viewers, 1 to 8 "
          "(default: 2 with two cores or more, else 1)", "N"},
    {"stun", 0, 0, G_OPTION_ARG_STRING, &stun,
        "Answer STUN Binding requests (RFC 5389 and classic RFC 3489) on "
          "this UDP address, announced to version-4 clients so direct paths "
          "need no third-party STUN server (off by default; port 0: any "
          "free one)", "HOST:PORT"},
    {"http", 0, 0, G_OPTION_ARG_STRING, &http,
        "Serve the web side on this address: players at /watch/NAME, the "
          "stream list at /, /api/streams, /healthz, /metrics, WebSocket "
          "viewers at /ws/NAME (off by default; port 0: any free one)",
        "HOST:PORT"},
    {"http-cert", 0, 0, G_OPTION_ARG_FILENAME, &http_cert,
        "HTTPS: the operator's PEM certificate (chain), e.g. Let's "
          "Encrypt's fullchain.pem (with --http-key)", "FILE"},
    {"http-key", 0, 0, G_OPTION_ARG_FILENAME, &http_key,
        "HTTPS: the certificate's PEM private key", "FILE"},
    {"http-domain", 0, 0, G_OPTION_ARG_STRING, &http_domain,
        "A request for NAME.DOMAIN (Host header) gets NAME's player at / "
          "(e.g. diode.link: http://cam.diode.link/)", "DOMAIN"},
    {"stats-interval", 0, 0, G_OPTION_ARG_INT, &stats_interval,
        "Log a stats line per stream and refresh --stats-file this often, "
          "0 = never (default 10)", "SECONDS"},
    {"stats-file", 0, 0, G_OPTION_ARG_FILENAME, &stats_file,
        "Rewrite this JSON file with every stats snapshot (docs/stats.md)",
        "FILE"},
    {"print-id", 0, 0, G_OPTION_ARG_NONE, &print_id,
        "Print the relay's address on stdout once listening", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
        "Log every connection", NULL},
    {"debug", 'd', 0, G_OPTION_ARG_NONE, &debug, "Log everything", NULL},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Log only warnings", NULL},
    {"http-metrics-private", 0, 0, G_OPTION_ARG_NONE, &metrics_private,
        "Name protected and private streams in /metrics too (default: "
          "only public ones are named, the others summed; docs/stats.md)",
        NULL},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL},
    {NULL}
  };
  GOptionContext *ctx;
  GError *err = NULL;
  DiodeRelay *relay = NULL;
  GMainLoop *loop;
  /* SIGHUP may come before the relay exists: the handler checks. */

  setlocale (LC_ALL, "");
  ctx = g_option_context_new ("- relay live diode streams over TLS");
  g_option_context_set_summary (ctx,
      "Accepts publishers (diodesink) and viewers (diodesrc) and fans each "
      "stream out to every viewer.\nStop with SIGINT or SIGTERM.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "diode-relay: %s\n(try --help)\n", err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (version) {
    printf ("diode-relay %s\n", VERSION);
    return 0;
  }
  if (buffer_bytes < 0 || buffer_seconds < 0 || max_wait_ms < 0
      || grace_ms < 0 || soft_limit < 0 || hard_limit < 0
      || write_timeout <= 0 || stats_interval < 0 || name_grace < 0
      || keepalive < 0 || keepalive > 60000 || max_conns < 0
      || max_per_addr < 0 || max_pending < 0 || max_streams < 0
      || max_reply < 0 || max_streams_per_addr < 0
      || max_partial_per_addr < 0 || max_partial < 0 || failback_delay < 0
      || link_linger < 0 || max_announced < 0 || store_seconds < 0
      || store_bytes < 0 || cache_bytes < 0 || replay_bytes < 0) {
    fprintf (stderr, "diode-relay: sizes and times must not be negative\n");
    return 2;
  }
  if (replay_bytes == 0) {
    fprintf (stderr, "diode-relay: --replay-bytes must be at least 1\n");
    return 2;
  }
  /* Logs go to stderr, all levels; stdout carries only --print-id. */
  g_log_writer_default_set_use_stderr (TRUE);
  if (debug)
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  else if (verbose)
    g_setenv ("G_MESSAGES_DEBUG", G_LOG_DOMAIN, TRUE);
  if (quiet)
    g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO
        | G_LOG_LEVEL_DEBUG, drop_log, NULL);

  /* Retention removes whole segments (diode_store_segment_bytes(): at
   * least 64 KiB each): under DIODE_STORE_SMALL_BYTES a removal takes a
   * big part of the store at once. */
  if (store_dir && store_bytes > 0 && (guint64) store_bytes < DIODE_STORE_SMALL_BYTES)
    g_warning ("--store-bytes %" G_GINT64_FORMAT " is small: the store removes "
        "%" G_GUINT64_FORMAT "-byte segments at a time, fewer than 16 fit; "
        "use at least %u", store_bytes,
        diode_store_segment_bytes ((guint64) store_bytes),
        (guint) DIODE_STORE_SMALL_BYTES);

  /* Handlers first: a SIGTERM during start-up still shuts down cleanly. */
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_unix_signal_add (SIGHUP, on_sighup, &relay);

  if (!http && (http_cert || http_key || http_domain)) {
    g_printerr ("diode-relay: --http-cert, --http-key and --http-domain "
        "need --http HOST:PORT\n");
    return 1;
  }
  relay = diode_relay_new (listen ? listen : DIODE_RELAY_DEFAULT_LISTEN,
      identity);
  g_object_set (relay, "buffer-bytes", (guint64) buffer_bytes,
      "buffer-seconds", (guint) buffer_seconds, "max-wait-ms",
      (guint) max_wait_ms, "grace-ms", (guint) grace_ms,
      "viewer-soft-limit", (guint64) soft_limit, "viewer-hard-limit",
      (guint64) hard_limit, "write-timeout-ms", (guint) write_timeout,
      "stats-interval-ms", (guint) stats_interval * 1000, "stats-file",
      stats_file, "name-grace-ms", (guint) name_grace, "config", config,
      "keepalive-ms", (guint) keepalive, "max-connections", (guint) max_conns,
      "max-connections-per-address", (guint) max_per_addr,
      "max-pending-per-address", (guint) max_pending, "max-streams",
      (guint) max_streams, "max-reply-bytes", (guint64) max_reply,
      "max-streams-per-address", (guint) max_streams_per_addr,
      "max-partial-per-address", (guint64) max_partial_per_addr,
      "max-partial", (guint64) max_partial, "upstream", upstream,
      "fallbacks", fallbacks, "failback-delay", (guint) failback_delay,
      "link-linger", (guint) link_linger, "known-relays", known_relays,
      "max-announced", (guint) max_announced, "peers", peers,
      "cache-bytes", (guint64) cache_bytes, "store-dir", store_dir,
      "store-seconds", (guint64) store_seconds, "store-bytes",
      (guint64) store_bytes, NULL);
  g_object_set (relay, "replay-bytes", (guint64) replay_bytes,
      "http-metrics-private", metrics_private,
      "link-revocations", link_revocations, NULL);
  g_object_set (relay, "stun", stun, NULL);
  if (io_threads != 0) {
    if (io_threads < 1 || io_threads > 8) {
      g_printerr ("diode-relay: --io-threads must be 1 to 8\n");
      return 2;
    }
    g_object_set (relay, "io-threads", (guint) io_threads, NULL);
  }
  g_object_set (relay, "http-listen", http, "http-cert", http_cert,
      "http-key", http_key, "http-domain", http_domain, NULL);
  /* Past the descriptor limit accept() fails (the relay then pauses it);
   * a cap below it refuses cleanly instead. Raise the soft limit as far as
   * the hard one allows (often 1024 of 500 000), and say so if that is
   * still too low. */
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0
      && nofile.rlim_cur != RLIM_INFINITY) {
    rlim_t want = max_conns ? (rlim_t) max_conns + 64 : nofile.rlim_max;

    if (want > nofile.rlim_cur) {
      nofile.rlim_cur = MIN (want, nofile.rlim_max);
      setrlimit (RLIMIT_NOFILE, &nofile);
      getrlimit (RLIMIT_NOFILE, &nofile);
    }
    if (max_conns == 0 || (rlim_t) max_conns + 64 > nofile.rlim_cur)
      g_message ("the descriptor limit (%lu) is below --max-connections (%d) "
          "plus some spare: past it new connections wait (ulimit -n)",
          (unsigned long) nofile.rlim_cur, max_conns);
  }
  if (!diode_relay_start (relay, &err)) {
    fprintf (stderr, "diode-relay: %s\n", err->message);
    g_object_unref (relay);
    g_main_loop_unref (loop);
    return 1;
  }
  if (print_id) {
    printf ("%s %u\n", diode_relay_get_address (relay),
        diode_relay_get_port (relay));
    fflush (stdout);
  }
  notify_systemd ("READY=1");

  g_main_loop_run (loop);
  notify_systemd ("STOPPING=1");
  g_message ("shutting down");
  diode_relay_stop (relay);
  g_object_unref (relay);
  g_main_loop_unref (loop);
  g_free (listen);
  g_free (identity);
  g_free (stats_file);
  g_free (config);
  g_free (upstream);
  g_free (known_relays);
  g_free (store_dir);
  g_free (link_revocations);
  g_free (http);
  g_free (stun);
  g_free (http_cert);
  g_free (http_key);
  g_free (http_domain);
  g_strfreev (fallbacks);
  g_strfreev (peers);
  return 0;
}
