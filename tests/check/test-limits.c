/* gst-diode — a relay no client can exhaust or stall: resource limits
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The relay-side limits of docs/security.md ("Resource limits"), each
 * attacked by one unprivileged client the way the issue reproduced it:
 *
 * 1. replies that are never read: the relay stops reading the client once
 *    max-reply-bytes of its replies back up, and closes it (ERROR 300)
 *    after write-timeout-ms; a client that reads late loses no reply;
 * 2. connection caps: in total, per source address, before HELLO per
 *    address; a refused connection is closed at once and logged;
 * 3. accept() failing with EMFILE: no busy loop, one log line per interval,
 *    and accepting again once descriptors are free (a diode-relay process
 *    with a low RLIMIT_NOFILE);
 * 4. a refused publisher retrying on one connection is closed;
 * 5. peer text (ERROR) in the log is escaped and the lines rate limited;
 * 6. the per-relay bound on streams.
 *
 * The heavy versions, measuring an honest publisher/viewer pair and the
 * relay's RSS, are in test-limits-long.c (suite elements-long).
 * Real TLS and real sockets on 127.0.0.1. Every wait is bounded.
 */
#include <gst/check/gstcheck.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-tls.h"
#include "diode-relay-log.h"

#define WAIT_MS 5000
/* RELAY_LOG_BURST in relay/diode-relay-log.h: lines per kind and window. */
#define RELAY_LOG_BURST 20

/* ------------------------------------------------------------------------ */
/* helpers */

static GMutex log_lock;
static GString *log_text;

/* The relay logs from its own thread. */
static void
capture_log (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append (log_text, message);
  g_string_append_c (log_text, '\n');
  g_mutex_unlock (&log_lock);
}

static guint
capture_start (void)
{
  log_text = g_string_new (NULL);
  return g_log_set_handler ("diode-relay", G_LOG_LEVEL_MESSAGE, capture_log,
      NULL);
}

static void
capture_stop (guint handler)
{
  g_log_remove_handler ("diode-relay", handler);
  g_string_free (log_text, TRUE);
  log_text = NULL;
}

/* Lines of the captured log that contain @needle. */
static guint
log_count (const gchar * needle)
{
  guint n = 0;
  const gchar *p;

  g_mutex_lock (&log_lock);
  for (p = log_text->str; (p = strstr (p, needle)); p += strlen (needle))
    n++;
  g_mutex_unlock (&log_lock);
  return n;
}

static gboolean
wait_log (const gchar * needle, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  while (log_count (needle) == 0) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

/* An in-process relay on 127.0.0.1:0 with no keepalive PINGs (the raw
 * clients here expect exact replies), the given properties set, started. */
static DiodeRelay *
relay_start (const gchar * first_prop, ...)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;
  va_list ap;

  g_object_set (relay, "keepalive-ms", 0, NULL);
  va_start (ap, first_prop);
  if (first_prop)
    g_object_set_valist (G_OBJECT (relay), first_prop, ap);
  va_end (ap);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  return relay;
}

/* TLS on @fd, HELLO as @role, WELCOME. */
static RawClient *
raw_hello_fd (const gchar * relay_address, int fd, const gchar * key,
    DiodeRole role)
{
  RawClient *c = raw_open_fd_addr (relay_address, fd, key);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 1, role, "test-limits/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m);
  diode_msg_clear (&m);
  return c;
}

static RawClient *
raw_hello (DiodeRelay * relay, int rcvbuf, const gchar * key, DiodeRole role)
{
  return raw_hello_fd (diode_relay_get_address (relay),
      tcp_connect (relay, rcvbuf), key, role);
}

/* @n PING frames, tokens @first.., back to back. */
static GByteArray *
pings (guint64 first, guint n)
{
  GByteArray *a = g_byte_array_new ();
  guint i;

  for (i = 0; i < n; i++) {
    GBytes *f = diode_msg_encode_ping (first + i);
    gsize len;
    const guint8 *d = g_bytes_get_data (f, &len);

    g_byte_array_append (a, d, len);
    g_bytes_unref (f);
  }
  return a;
}

/* A PING answered with its PONG: the relay is serving @c. */
static void
ping_pong (RawClient * c, guint64 token)
{
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_ping (token));
  raw_expect (c, DIODE_MSG_PONG, &m);
  fail_unless_equals_uint64 (m.token, token);
  diode_msg_clear (&m);
}

/* ------------------------------------------------------------------------ */
/* 1. replies that are never read */

#define FLOOD_LIMIT   (16 * 1024 * 1024)  /* kernel buffers: ~6 MB */
/* a bound against a hang, not a speed requirement (ASan, loaded CI) */
#define FLOOD_WAIT_MS 60000

GST_START_TEST (test_unread_replies_bounded)
{
  guint handler = capture_start ();
  DiodeRelay *relay = relay_start ("write-timeout-ms", 1000, NULL);
  RawClient *flood, *honest;
  GByteArray *burst = pings (1, 4096);  /* 64 KiB */
  gsize sent = 0, off = 0;
  gboolean stalled = FALSE;
  gint64 end, t0, closed;

  flood = raw_hello (relay, 4096, "flood.pem", DIODE_ROLE_VIEWER);
  honest = raw_hello (relay, 0, "honest.pem", DIODE_ROLE_VIEWER);

  /* PING after PING, never reading a PONG, until the relay closes the
   * flooder (log line) or stops taking its bytes. The relay must stop
   * reading it once its replies back up, and close it a write timeout
   * later: it reads a bounded amount (FLOOD_LIMIT), and the line comes
   * however slowly it gets there. Not "until a send blocks for 2 s": a
   * relay slowed down (ASan, a loaded machine) can leave a send blocked
   * that long while still reading, the flood then stopped short of what
   * backs its replies up, the PONGs all fit in the socket buffers and the
   * relay rightly had no reason to close anyone. */
  t0 = g_get_monotonic_time ();
  end = deadline_in (FLOOD_WAIT_MS);
  while (log_count ("read none of its replies") == 0) {
    gssize n = raw_try_send (flood, burst->data + off, burst->len - off);

    fail_if (g_get_monotonic_time () > end, "after %u ms the relay still "
        "neither closed nor logged a client that reads none of its replies "
        "(it took %" G_GSIZE_FORMAT " bytes of PINGs)", FLOOD_WAIT_MS, sent);
    if (n < 0)
      break;                    /* closed: the log line is checked below */
    sent += n;
    off = (off + n) % burst->len;       /* whole PINGs: bursts wrap */
    fail_unless (sent < FLOOD_LIMIT, "the relay read %" G_GSIZE_FORMAT
        " bytes of PINGs from a client that reads none of its PONGs", sent);
    if (n == 0) {
      /* everyone else is served meanwhile */
      if (!stalled)
        ping_pong (honest, 42);
      stalled = TRUE;
      g_usleep (5 * 1000);
    }
  }
  GST_INFO ("the relay took %" G_GSIZE_FORMAT " bytes of PINGs in %"
      G_GINT64_FORMAT " ms", sent, ms_since (t0));
  fail_unless (stalled, "the relay never stopped reading the flooder");

  /* and the flooder is closed for it, with a log line saying why */
  fail_unless (wait_log ("read none of its replies", WAIT_MS),
      "no log line for the client that reads no replies");
  closed = raw_drain_until_closed (flood, 10000);
  fail_unless (closed >= 0, "the relay kept a client that reads no replies");
  ping_pong (honest, 43);

  raw_free (flood, FALSE);
  raw_free (honest, FALSE);
  g_byte_array_unref (burst);
  g_object_unref (relay);
  capture_stop (handler);
}

GST_END_TEST;

/* A client that reads its replies late gets every one of them, in order:
 * not reading it for a while loses nothing (pause and resume, with frames
 * left in the session and in GnuTLS). */
/* 1.6 MB: far more than 16 KiB of replies (PONG + overhead: 80 bytes each)
 * once the 4 KiB window is full */
#define RESUME_N 100000

GST_START_TEST (test_late_reader_loses_no_reply)
{
  /* a write timeout far above phase 1: the relay's patience is not what is
   * tested here (under ASan, phase 1 takes seconds) */
  DiodeRelay *relay = relay_start ("max-reply-bytes", (guint64) 16 * 1024,
      "write-timeout-ms", 60000, NULL);
  RawClient *c = raw_hello (relay, 4096, "late.pem", DIODE_ROLE_VIEWER);
  GByteArray *all = pings (1, RESUME_N);
  gsize off = 0;
  guint64 next = 1;
  gint64 end, idle_since;
  gssize n;

  /* phase 1: send without reading until the relay stops taking any */
  idle_since = g_get_monotonic_time ();
  while (off < all->len && ms_since (idle_since) < 1000) {
    n = raw_try_send (c, all->data + off, all->len - off);
    fail_unless (n >= 0, "the relay closed the connection");
    if (n > 0) {
      off += n;
      idle_since = g_get_monotonic_time ();
    } else {
      g_usleep (5 * 1000);
    }
  }
  GST_INFO ("sent %" G_GSIZE_FORMAT " of %u bytes before reading", off,
      all->len);

  /* phase 2: read every PONG, sending the rest on the way */
  end = deadline_in (120000);
  while (next <= RESUME_N) {
    DiodeMsg m = { 0 };
    RawReadResult res;

    fail_unless (g_get_monotonic_time () < end, "PONG %" G_GUINT64_FORMAT
        " did not come within 120 s", next);
    if (off < all->len) {
      n = raw_try_send (c, all->data + off, all->len - off);
      fail_unless (n >= 0, "the relay closed the connection");
      off += n;
    }
    res = raw_read (c, &m, 50);
    fail_unless (res != RAW_READ_CLOSED, "the relay closed the connection "
        "at PONG %" G_GUINT64_FORMAT, next);
    if (res == RAW_READ_TIMEOUT)
      continue;
    fail_unless_equals_int (m.type, DIODE_MSG_PONG);
    fail_unless_equals_uint64 (m.token, next);
    next++;
    diode_msg_clear (&m);
  }

  raw_free (c, FALSE);
  g_byte_array_unref (all);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. connection caps */

GST_START_TEST (test_connection_caps)
{
  guint handler = capture_start ();
  DiodeRelay *relay = relay_start ("max-connections", 6,
      "max-connections-per-address", 4, "max-pending-per-address", 2,
      "handshake-timeout-ms", 30000, NULL);
  guint port = diode_relay_get_port (relay);
  const gchar *addr = diode_relay_get_address (relay);
  RawClient *a[4], *b[2], *again;
  int p1, p2, p3, x, y;
  guint i;

  /* before HELLO (here: before TLS): two per address */
  p1 = tcp_connect_from (NULL, port, 0);
  p2 = tcp_connect_from (NULL, port, 0);
  fail_unless (fixture_wait_connections (relay, 2, WAIT_MS));
  p3 = tcp_connect_from (NULL, port, 0);
  fail_unless (tcp_wait_closed (p3, WAIT_MS) >= 0, "a third connection "
      "before HELLO from one address was not refused");
  fail_unless (tcp_wait_closed (p1, 200) < 0, "the first one was closed");
  close (p1);
  close (p2);
  close (p3);
  fail_unless (fixture_wait_connections (relay, 0, WAIT_MS));

  /* past HELLO: four per address */
  for (i = 0; i < 4; i++)
    a[i] = raw_hello (relay, 0, "cap.pem", DIODE_ROLE_VIEWER);
  x = tcp_connect_from (NULL, port, 0);
  fail_unless (tcp_wait_closed (x, WAIT_MS) >= 0, "a fifth connection from "
      "one address was not refused");
  close (x);

  /* six in total: two more from another address, then no more */
  for (i = 0; i < 2; i++)
    b[i] = raw_hello_fd (addr, tcp_connect_from ("127.0.0.2", port, 0),
        "cap.pem", DIODE_ROLE_VIEWER);
  fail_unless (fixture_wait_connections (relay, 6, WAIT_MS));
  y = tcp_connect_from ("127.0.0.2", port, 0);
  fail_unless (tcp_wait_closed (y, WAIT_MS) >= 0, "a seventh connection "
      "was not refused");
  close (y);

  fail_unless_equals_uint64 (diode_relay_count_refused_connections (relay),
      3);
  fail_unless (log_count ("refused a connection from 127.0.0.1") == 2);
  fail_unless (log_count ("--max-connections)") == 1);
  /* those it holds are served all along */
  ping_pong (a[0], 1);
  ping_pong (b[1], 2);

  /* a slot freed is a slot taken */
  raw_free (a[0], FALSE);
  fail_unless (fixture_wait_connections (relay, 5, WAIT_MS));
  again = raw_hello (relay, 0, "cap.pem", DIODE_ROLE_VIEWER);
  ping_pong (again, 3);

  raw_free (again, FALSE);
  for (i = 1; i < 4; i++)
    raw_free (a[i], FALSE);
  for (i = 0; i < 2; i++)
    raw_free (b[i], FALSE);
  g_object_unref (relay);
  capture_stop (handler);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. accept() failing with EMFILE (a diode-relay process) */

#define EMFILE_NOFILE   24
#define EMFILE_CONNS    60
#define EMFILE_WATCH_MS 3000

static guint
file_count_lines (const gchar * path, const gchar * needle)
{
  gchar *text = NULL;
  guint n = 0;
  const gchar *p;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  for (p = text; (p = strstr (p, needle)); p += strlen (needle))
    n++;
  g_free (text);
  return n;
}

GST_START_TEST (test_accept_emfile_no_spin)
{
  gchar *log_path = g_build_filename (fixture_config_dir (), "emfile.log",
      NULL);
  const gchar *args[] = { "--keepalive", "0", NULL };
  FixtureRelayProc *rp = fixture_relay_proc_start_full (DIODE_RELAY_PATH,
      args, log_path, EMFILE_NOFILE);
  int fds[EMFILE_CONNS];
  guint64 cpu0, cpu_ms, lines;
  RawClient *c;
  guint i;

  /* more connections than it has descriptors for */
  for (i = 0; i < EMFILE_CONNS; i++)
    fds[i] = tcp_connect_from (NULL, rp->port, 0);
  g_usleep (200 * 1000);
  cpu0 = fixture_proc_cpu_ms (rp->pid);
  g_usleep (EMFILE_WATCH_MS * 1000);
  cpu_ms = fixture_proc_cpu_ms (rp->pid) - cpu0;
  lines = file_count_lines (log_path, "accept failed");
  GST_INFO ("relay out of descriptors for %u ms: %" G_GUINT64_FORMAT " ms "
      "CPU, %" G_GUINT64_FORMAT " 'accept failed' lines", EMFILE_WATCH_MS,
      cpu_ms, lines);
  fail_unless (lines >= 1, "the relay did not say that accept() fails");
  fail_unless (lines <= 2, "%" G_GUINT64_FORMAT " 'accept failed' lines in "
      "%u ms", lines, EMFILE_WATCH_MS);
  fail_unless (cpu_ms < EMFILE_WATCH_MS / 3, "the relay used %"
      G_GUINT64_FORMAT " ms of CPU in %u ms doing nothing but failing to "
      "accept", cpu_ms, EMFILE_WATCH_MS);

  /* descriptors free again: it accepts again */
  for (i = 0; i < EMFILE_CONNS; i++)
    close (fds[i]);
  c = raw_hello_fd (rp->address, tcp_connect_from (NULL, rp->port, 0),
      "after-emfile.pem", DIODE_ROLE_VIEWER);
  ping_pong (c, 7);
  raw_free (c, FALSE);

  fail_unless (fixture_relay_proc_stop (rp));
  g_free (log_path);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. a refused publisher retrying on one connection */

static gchar **
many_addresses (guint n)
{
  gchar **v = g_new0 (gchar *, n + 1);
  guint i;

  for (i = 0; i < n; i++)
    v[i] = g_strdup_printf ("0x%040x", i + 1);
  return v;
}

GST_START_TEST (test_refused_publisher_closed)
{
  DiodeRelay *relay = relay_start (NULL);
  RawClient *alice, *bob;
  gchar **allow = many_addresses (DIODE_MAX_ALLOW);
  DiodeMsg m = { 0 };
  gchar *text = NULL;
  gint code;
  guint i;

  alice = raw_hello (relay, 0, "alice.pem", DIODE_ROLE_PUBLISHER);
  raw_send_frame (alice, diode_msg_encode_publish ("cam"));
  raw_expect (alice, DIODE_MSG_PUBLISH_OK, &m);
  diode_msg_clear (&m);

  /* bob may not take alice's name: refused, refused, then closed */
  bob = raw_hello (relay, 0, "bob.pem", DIODE_ROLE_PUBLISHER);
  for (i = 0; i < 2; i++) {
    raw_send_frame (bob, diode_msg_encode_publish_policy ("cam",
            DIODE_ACCESS_PRIVATE, NULL, (const gchar * const *) allow));
    raw_expect (bob, DIODE_MSG_ERROR, &m);
    fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_AUTHORIZED);
    diode_msg_clear (&m);
  }
  raw_send_frame (bob, diode_msg_encode_publish_policy ("cam",
          DIODE_ACCESS_PRIVATE, NULL, (const gchar * const *) allow));
  fail_unless (raw_wait_closed (bob, WAIT_MS, &code, &text) >= 0,
      "a publisher refused three times on one connection was not closed");
  fail_unless_equals_int (code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (strstr (text, "after 3 refused PUBLISH") != NULL, "%s", text);
  ping_pong (alice, 1);

  g_free (text);
  raw_free (bob, FALSE);
  raw_free (alice, FALSE);
  g_strfreev (allow);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 5. peer text in the log */

GST_START_TEST (test_peer_error_text_escaped_and_limited)
{
  guint handler = capture_start ();
  DiodeRelay *relay = relay_start (NULL);
  RawClient *c = raw_hello (relay, 0, "talker.pem", DIODE_ROLE_VIEWER);
  guint i, n;

  raw_send_frame (c, diode_msg_encode_error (DIODE_ERR_NOT_FOUND,
          "camera gone\n** Message: 12:00:00.000: forged line\x1b[2J"));
  fail_unless (wait_log ("reported error 100", WAIT_MS));
  g_mutex_lock (&log_lock);
  fail_unless (strstr (log_text->str, "camera gone\\n** Message: 12:00:00"
          ".000: forged line\\x1b[2J\n") != NULL, "peer text not escaped: %s",
      log_text->str);
  fail_if (strstr (log_text->str, "\n** Message: 12:00") != NULL,
      "a peer forged a log line: %s", log_text->str);
  fail_if (strchr (log_text->str, 0x1b) != NULL, "a peer's terminal escape "
      "reached the log");
  g_mutex_unlock (&log_lock);

  /* a hundred more: a few lines, not a hundred */
  for (i = 0; i < 100; i++)
    raw_send_frame (c, diode_msg_encode_error (DIODE_ERR_NOT_FOUND, "again"));
  ping_pong (c, 1);             /* all of them handled */
  n = log_count ("reported error 100");
  GST_INFO ("%u lines for 101 ERROR frames", n);
  fail_unless (n <= RELAY_LOG_BURST, "%u log lines for 101 ERROR frames", n);

  raw_free (c, FALSE);
  g_object_unref (relay);
  capture_stop (handler);
}

GST_END_TEST;

/* The escaping itself, on what a peer might send. */
GST_START_TEST (test_log_text_escaping)
{
  static const struct
  {
    const gchar *in, *out;
  } cases[] = {
    {"plain text", "plain text"},
    {"a\nb\rc\td", "a\\nb\\rc\\td"},
    {"esc \x1b[31m red", "esc \\x1b[31m red"},
    {"back\\slash", "back\\\\slash"},
    {"del \x7f", "del \\x7f"},
    {"nel \xc2\x85 here", "nel \\u{85} here"},
    {"rlo \xe2\x80\xae txt", "rlo \\u{202e} txt"},
    {"ls \xe2\x80\xa8", "ls \\u{2028}"},
    {"bad \xff\xfe utf8", "bad \\xff\\xfe utf8"},
    {"caf\xc3\xa9", "caf\xc3\xa9"},
    {"", ""},
  };
  gchar *long_text = g_strnfill (1000, 'x');
  gchar *out;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    out = relay_log_text (cases[i].in);
    fail_unless_equals_string (out, cases[i].out);
    g_free (out);
  }
  out = relay_log_text (NULL);
  fail_unless_equals_string (out, "");
  g_free (out);
  out = relay_log_text (long_text);
  fail_unless (g_str_has_suffix (out, "...(800 more bytes)"), "%s", out);
  fail_unless (strlen (out) < 250);
  g_free (out);
  g_free (long_text);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 6. streams per relay */

GST_START_TEST (test_max_streams)
{
  DiodeRelay *relay = relay_start ("max-streams", 2, NULL);
  RawClient *v[3];
  gchar *text = NULL;
  gint code;
  guint i;

  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("s%u", i);

    v[i] = raw_hello (relay, 0, "waiter.pem", DIODE_ROLE_VIEWER);
    raw_send_frame (v[i], diode_msg_encode_subscribe (name, 0, 20000));
    if (i < 2)
      fail_unless (fixture_wait_waiting (relay, name, 1, WAIT_MS));
    g_free (name);
  }
  fail_unless (raw_wait_closed (v[2], WAIT_MS, &code, &text) >= 0,
      "a third stream was accepted with max-streams 2");
  fail_unless_equals_int (code, DIODE_ERR_INTERNAL);
  fail_unless (strstr (text, "maximum of 2 streams") != NULL, "%s", text);
  fail_unless_equals_int (diode_relay_count_waiting (relay, "s0"), 1);

  g_free (text);
  for (i = 0; i < 3; i++)
    raw_free (v[i], FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

/* A publisher from @src_ip (a 127.0.0.0/8 address) through PUBLISH_OK and
 * CAPS. */
static RawClient *
publisher_from (DiodeRelay * relay, const gchar * src_ip, const gchar * key,
    const gchar * name)
{
  RawClient *c = raw_hello_fd (diode_relay_get_address (relay),
      tcp_connect_from (src_ip, diode_relay_get_port (relay), 0), key,
      DIODE_ROLE_PUBLISHER);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_publish (name));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, name);
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_caps ("video/x-test"));
  return c;
}

/* One address cannot fill the relay's stream table and lock everybody else
 * out of new names: it has its own share (max-streams-per-address). */
GST_START_TEST (test_streams_per_address)
{
  DiodeRelay *relay = relay_start ("max-streams", 8,
      "max-streams-per-address", 3, NULL);
  RawClient *c, *alice;
  gchar *text = NULL;
  gint code;
  guint i;

  /* three ended streams still hold their names for the name grace */
  for (i = 0; i < 3; i++) {
    gchar *name = g_strdup_printf ("junk%u", i);

    c = publisher_from (relay, "127.0.0.1", "mallory.pem", name);
    raw_send_frame (c, diode_msg_encode_eos (0));
    fail_unless (fixture_wait_publisher (relay, name, FALSE, WAIT_MS));
    raw_free (c, FALSE);
    g_free (name);
  }
  c = raw_hello_fd (diode_relay_get_address (relay),
      tcp_connect_from ("127.0.0.1", diode_relay_get_port (relay), 0),
      "mallory.pem", DIODE_ROLE_PUBLISHER);
  raw_send_frame (c, diode_msg_encode_publish ("junk3"));
  fail_unless (raw_wait_closed (c, WAIT_MS, &code, &text) >= 0,
      "a fourth stream from one address was accepted");
  fail_unless_equals_int (code, DIODE_ERR_INTERNAL);
  fail_unless (strstr (text, "this address") != NULL, "%s", text);
  raw_free (c, FALSE);
  /* another address still gets a new name */
  alice = publisher_from (relay, "127.0.0.2", "alice.pem", "alice-cam");
  raw_free (alice, FALSE);
  g_free (text);
  diode_relay_stop (relay);
  g_object_unref (relay);
}

GST_END_TEST;

/* Unfinished frames count against their address: a publisher trickling a
 * huge frame cannot make the relay hold 16 MiB per connection without end.
 * The connection that crosses max-partial-per-address is closed with 202;
 * the others, and other addresses, are not touched. */
GST_START_TEST (test_partial_frames_per_address)
{
  DiodeRelay *relay = relay_start ("max-partial-per-address",
      (guint64) 4 * 1024 * 1024, NULL);
  RawClient *a1 = publisher_from (relay, "127.0.0.1", "pa.pem", "pa1");
  RawClient *a2 = publisher_from (relay, "127.0.0.1", "pa.pem", "pa2");
  RawClient *b = publisher_from (relay, "127.0.0.2", "pb.pem", "pb1");
  guint8 prefix[DIODE_MEDIA_PREFIX_SIZE];
  guint8 *chunk = g_malloc0 (2560 * 1024);
  gchar *text = NULL;
  gint code = -1;
  DiodeMsg m = { 0 };
  RawClient *closed = NULL, *kept = NULL;

  /* each announces 3 MiB and sends 2.5 MiB of it */
  fail_unless (diode_msg_write_media_prefix (prefix, 1, 0, 0, 0, 0, 1,
          DIODE_MEDIA_KEYFRAME, 3 * 1024 * 1024));
  fail_unless (raw_send (a1, prefix, sizeof (prefix)));
  fail_unless (raw_send (a1, chunk, 2560 * 1024));
  fail_unless (raw_send (b, prefix, sizeof (prefix)));
  fail_unless (raw_send (b, chunk, 2560 * 1024));
  /* the second from the same address brings it over 4 MiB: whichever of
   * the two the relay reads last crosses the bound and is closed (the
   * kernel may hand it a1's bytes after a2's) */
  fail_unless (raw_send (a2, prefix, sizeof (prefix)));
  raw_send (a2, chunk, 2560 * 1024);
  {
    gint64 end = deadline_in (WAIT_MS);

    RawClient *pair[2] = { a2, a1 };
    guint k;

    while (!closed && g_get_monotonic_time () < end) {
      for (k = 0; k < 2 && !closed; k++) {
        RawReadResult res = raw_read (pair[k], &m, 50);

        fail_if (res == RAW_READ_CLOSED, "closed without an ERROR");
        if (res == RAW_READ_MSG) {
          fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
          closed = pair[k];
          kept = pair[1 - k];
          code = m.error_code;
          text = g_strdup (m.error_text);
          diode_msg_clear (&m);
        }
      }
    }
  }
  fail_unless (closed != NULL,
      "the relay kept 5 MiB of unfinished frames from one address");
  {
    gint code2;

    fail_unless (raw_wait_closed (closed, WAIT_MS, &code2, NULL) >= 0,
        "the connection over the bound stayed open");
  }
  fail_unless_equals_int (code, DIODE_ERR_TOO_LARGE);
  fail_unless (strstr (text, "unfinished frames") != NULL, "%s", text);
  /* the other one and the other address finish their frames and are
   * still served */
  fail_unless (raw_send (kept, chunk, 512 * 1024));
  fail_unless (raw_send (b, chunk, 512 * 1024));
  fail_unless (fixture_wait_last_seq (relay, kept == a1 ? "pa1" : "pa2", 1,
          WAIT_MS));
  fail_unless (fixture_wait_last_seq (relay, "pb1", 1, WAIT_MS));
  raw_send_frame (kept, diode_msg_encode_ping (7));
  raw_send_frame (b, diode_msg_encode_ping (8));
  raw_expect (kept, DIODE_MSG_PONG, &m);
  diode_msg_clear (&m);
  raw_expect (b, DIODE_MSG_PONG, &m);
  diode_msg_clear (&m);
  g_free (text);
  g_free (chunk);
  raw_free (a1, FALSE);
  raw_free (a2, FALSE);
  raw_free (b, FALSE);
  diode_relay_stop (relay);
  g_object_unref (relay);
}

GST_END_TEST;

static Suite *
limits_suite (void)
{
  Suite *s = suite_create ("limits");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 90);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_unread_replies_bounded);
  tcase_add_test (tc, test_late_reader_loses_no_reply);
  tcase_add_test (tc, test_connection_caps);
  tcase_add_test (tc, test_accept_emfile_no_spin);
  tcase_add_test (tc, test_refused_publisher_closed);
  tcase_add_test (tc, test_peer_error_text_escaped_and_limited);
  tcase_add_test (tc, test_log_text_escaping);
  tcase_add_test (tc, test_max_streams);
  tcase_add_test (tc, test_streams_per_address);
  tcase_add_test (tc, test_partial_frames_per_address);
  return s;
}

GST_CHECK_MAIN (limits);
