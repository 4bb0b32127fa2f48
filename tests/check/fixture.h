/* gst-diode — test fixture: temp config dir and in-process relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "diode-relay.h"

G_BEGIN_DECLS

/* Points XDG_CONFIG_HOME at a fresh temp dir (once per process) so tests
 * never touch the user's identity or known-relays file. Returns the dir. */
const gchar *fixture_config_dir (void);
/* A relay on 127.0.0.1 at @port (0: any free port) with its own key file
 * @key_name inside the temp dir (NULL: "relay.pem"). Started. */
DiodeRelay  *fixture_relay_start (guint16 port, const gchar * key_name);
/* A relay on 127.0.0.1 (any free port, key "relay.pem"), stats every
 * 200 ms (a test waiting for a fresh snapshot needs no 10 s), then the
 * NULL-terminated property list given (which may change those). Started;
 * g_error() when it cannot start. The relay and record/replay tests. */
DiodeRelay  *relay_with (const gchar * first_prop, ...);
/* Stops and unrefs @relay. */
void         relay_free (DiodeRelay * relay);
/* A new empty directory under the config dir, for store-dir. g_free it. */
gchar       *tmp_store (void);
/* The address of the identity in key file @key_name of the config dir
 * (created if missing), to list a relay before it starts. g_free it. */
gchar       *fixture_key_address (const gchar * key_name);
/* Appends @value to @key in @group (";"-separated) of @relay's config file
 * (one per relay, made on first use), and reloads it as SIGHUP would: e.g.
 * ("relays", "children", address) lets that relay link as a child. */
void         fixture_relay_conf_add (DiodeRelay * relay, const gchar * group,
                                     const gchar * key, const gchar * value);
/* Polls @cond-like counters until true or @timeout_ms passes. Viewers:
 * attached, or held until the stream's first keyframe. */
gboolean     fixture_wait_viewers (DiodeRelay * relay, const gchar * stream,
                                   guint n, guint timeout_ms);
gboolean     fixture_wait_waiting (DiodeRelay * relay, const gchar * stream,
                                   guint n, guint timeout_ms);
gboolean     fixture_wait_last_seq (DiodeRelay * relay, const gchar * stream,
                                    guint64 seq, guint timeout_ms);
gboolean     fixture_wait_publisher (DiodeRelay * relay, const gchar * stream,
                                     gboolean present, guint timeout_ms);
/* Sets state and waits for an ERROR on the element's own bus, returns it
 * (or NULL after @timeout_ms). */
GstMessage  *fixture_expect_error (GstElement * element, GstState state,
                                   guint timeout_ms);

/* Time and sockets: the monotonic clock in µs, as g_get_monotonic_time(). */
/* The monotonic time @ms from now. */
gint64       deadline_in (guint ms);
/* Milliseconds since @t0 (a g_get_monotonic_time() value). */
gint64       ms_since (gint64 t0);
/* Waits until @fd is ready for @events (POLLIN, POLLOUT; or has an error or
 * hangup, which the caller then meets). FALSE when @end (monotonic µs)
 * passes first. Needs no gst-check: usable outside GST_START_TEST. */
gboolean     wait_fd (int fd, short events, gint64 end);

/* tx.@key of @relay's stats snapshot (made every stats interval; the
 * viewers' writes, docs/stats.md), 0 if none yet. */
guint64      fixture_stats_tx (DiodeRelay * relay, const gchar * key);

/* Polls until @relay holds exactly @n connections or @timeout_ms passes. */
gboolean     fixture_wait_connections (DiodeRelay * relay, guint n,
                                       guint timeout_ms);

/* Synthetic media: payload bytes derived from the buffer index @i, with @i
 * itself big-endian in the first 4 bytes (recognizable in a hex dump). */
void         fixture_fill_payload (guint8 * data, gsize size, guint i);
/* Buffer @i: @size bytes of fixture_fill_payload(), keyframe every @gop
 * (else DELTA_UNIT), PTS = DTS = 1000 s + @i * 33 ms, 33 ms long,
 * OFFSET @i, OFFSET_END @i + 1. */
GstBuffer   *fixture_make_buffer (guint i, gsize size, guint gop);
/* @b carries exactly the @size byte payload of buffer @i. */
gboolean     fixture_payload_matches (GstBuffer * b, guint i, gsize size);

/* The diode-relay daemon as a child process (it dies with this process:
 * PR_SET_PDEATHSIG). */
typedef struct
{
  GPid pid;
  int out_fd;                   /* its stdout */
  guint port;                   /* what it listens on, on 127.0.0.1 */
  gchar *address;               /* its identity address, "0x..." */
} FixtureRelayProc;

/* Starts $DIODE_RELAY (else @fallback_bin: the build's DIODE_RELAY_PATH)
 * with "--listen 127.0.0.1:0 --identity <temp dir>/relay.pem --print-id"
 * and then @extra_args (NULL-terminated, may be NULL), and waits (10 s at
 * most) for its --print-id line. Test failure if any of that fails. */
FixtureRelayProc *fixture_relay_proc_start (const gchar * fallback_bin,
                                            const gchar * const *extra_args);
/* The same with the relay's stderr (its log) written to @log_path (NULL:
 * inherited) and, if @nofile is not 0, its RLIMIT_NOFILE (soft and hard)
 * set to @nofile. */
FixtureRelayProc *fixture_relay_proc_start_full (const gchar * fallback_bin,
                                                 const gchar * const *extra_args,
                                                 const gchar * log_path,
                                                 guint nofile);
/* A process's resident memory (VmRSS, KiB) and CPU time (user + system,
 * ms), from /proc; 0 if it cannot be read. */
guint64      fixture_proc_rss_kb (GPid pid);
guint64      fixture_proc_cpu_ms (GPid pid);
/* SIGCONT + SIGTERM, a 5 s bounded wait, SIGKILL if needed; frees @r. TRUE
 * if it exited cleanly (status 0) on SIGTERM. */
gboolean     fixture_relay_proc_stop (FixtureRelayProc * r);

G_END_DECLS
