/* gst-diode — test fixture: temp config dir and in-process relays
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"
#include "diode-identity.h"

#include <gst/check/gstcheck.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

const gchar *
fixture_config_dir (void)
{
  static gchar *dir = NULL;

  if (!dir) {
    dir = g_dir_make_tmp ("diode-test-XXXXXX", NULL);
    g_assert_nonnull (dir);
    g_setenv ("XDG_CONFIG_HOME", dir, TRUE);
  }
  return dir;
}

DiodeRelay *
fixture_relay_start (guint16 port, const gchar * key_name)
{
  gchar *listen = g_strdup_printf ("127.0.0.1:%u", port);
  gchar *key = g_build_filename (fixture_config_dir (),
      key_name ? key_name : "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new (listen, key);
  GError *err = NULL;

  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (listen);
  g_free (key);
  return relay;
}

DiodeRelay *
relay_with (const gchar * first_prop, ...)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;
  va_list ap;

  g_object_set (relay, "stats-interval-ms", 200, NULL);
  va_start (ap, first_prop);
  if (first_prop)
    g_object_set_valist (G_OBJECT (relay), first_prop, ap);
  va_end (ap);
  if (!diode_relay_start (relay, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (key);
  return relay;
}

void
relay_free (DiodeRelay * relay)
{
  diode_relay_stop (relay);
  g_object_unref (relay);
}

gchar *
tmp_store (void)
{
  gchar *dir = g_build_filename (fixture_config_dir (), "storeXXXXXX", NULL);

  fail_unless (g_mkdtemp (dir) != NULL);
  return dir;
}

gchar *
fixture_key_address (const gchar * key_name)
{
  gchar *key = g_build_filename (fixture_config_dir (), key_name, NULL);
  GError *err = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (key, &err);
  gchar *address;

  if (!id)
    g_error ("cannot load identity %s: %s", key, err->message);
  address = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
  g_free (key);
  return address;
}

void
fixture_relay_conf_add (DiodeRelay * relay, const gchar * group,
    const gchar * key, const gchar * value)
{
  gchar *path = NULL, *old, *now;
  GKeyFile *kf = g_key_file_new ();
  GError *err = NULL;

  g_object_get (relay, "config", &path, NULL);
  if (path)
    g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL);
  else
    path = g_strdup_printf ("%s/relay-%u.conf", fixture_config_dir (),
        diode_relay_get_port (relay));
  old = g_key_file_get_string (kf, group, key, NULL);
  now = old && *old ? g_strdup_printf ("%s;%s", old, value) :
      g_strdup (value);
  g_key_file_set_string (kf, group, key, now);
  if (!g_key_file_save_to_file (kf, path, &err))
    g_error ("cannot write %s: %s", path, err->message);
  g_object_set (relay, "config", path, NULL);
  if (!diode_relay_reload_config (relay, &err))
    g_error ("cannot reload %s: %s", path, err->message);
  g_free (old);
  g_free (now);
  g_free (path);
  g_key_file_unref (kf);
}

gboolean
fixture_wait_viewers (DiodeRelay * relay, const gchar * stream, guint n,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  /* A subscriber held for the stream's first keyframe counts: it gets that
   * keyframe first thing (docs/protocol.md section 8). */
  while (diode_relay_count_viewers (relay, stream)
      + diode_relay_count_waiting (relay, stream) != n) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_waiting (DiodeRelay * relay, const gchar * stream, guint n,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_count_waiting (relay, stream) != n) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_last_seq (DiodeRelay * relay, const gchar * stream, guint64 seq,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_get_last_seq (relay, stream) < seq) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (5 * 1000);
  }
  return TRUE;
}

gboolean
fixture_wait_publisher (DiodeRelay * relay, const gchar * stream,
    gboolean present, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (diode_relay_has_publisher (relay, stream) != present) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (10 * 1000);
  }
  return TRUE;
}

GstMessage *
fixture_expect_error (GstElement * element, GstState state, guint timeout_ms)
{
  GstBus *bus = gst_element_get_bus (element);
  GstMessage *msg;

  if (!bus) {
    bus = gst_bus_new ();
    gst_element_set_bus (element, bus);
  }
  gst_element_set_state (element, state);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime) timeout_ms *
      GST_MSECOND, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  return msg;
}

gint64
deadline_in (guint ms)
{
  return g_get_monotonic_time () + (gint64) ms *1000;
}

gint64
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000;
}

gboolean
wait_fd (int fd, short events, gint64 end)
{
  for (;;) {
    struct pollfd p = { fd, events, 0 };
    gint64 left = end - g_get_monotonic_time ();
    int r;

    if (left <= 0)
      return FALSE;
    r = poll (&p, 1, (int) ((left + 999) / 1000));
    if (r > 0)
      return TRUE;
    if (r < 0 && errno != EINTR)
      return TRUE;              /* let the caller meet the error */
  }
}

gboolean
fixture_wait_connections (DiodeRelay * relay, guint n, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  while (diode_relay_count_connections (relay) != n) {
    if (g_get_monotonic_time () > end)
      return FALSE;
    g_usleep (5 * 1000);
  }
  return TRUE;
}

void
fixture_fill_payload (guint8 * data, gsize size, guint i)
{
  gsize k;

  for (k = 0; k < size; k++)
    data[k] = (guint8) (i * 31 + k * 7 + (k >> 8));
  if (size >= 4)
    GST_WRITE_UINT32_BE (data, i);
}

GstBuffer *
fixture_make_buffer (guint i, gsize size, guint gop)
{
  guint8 *data = g_malloc (size);
  GstBuffer *buf;

  fixture_fill_payload (data, size, i);
  buf = gst_buffer_new_wrapped (data, size);
  GST_BUFFER_PTS (buf) = 1000 * GST_SECOND + i * 33 * GST_MSECOND;
  GST_BUFFER_DTS (buf) = GST_BUFFER_PTS (buf);
  GST_BUFFER_DURATION (buf) = 33 * GST_MSECOND;
  GST_BUFFER_OFFSET (buf) = i;
  GST_BUFFER_OFFSET_END (buf) = i + 1;
  if (i % gop != 0)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  return buf;
}

gboolean
fixture_payload_matches (GstBuffer * b, guint i, gsize size)
{
  GstMapInfo map;
  guint8 *expect;
  gboolean ok;

  if (!gst_buffer_map (b, &map, GST_MAP_READ))
    return FALSE;
  expect = g_malloc (size);
  fixture_fill_payload (expect, size, i);
  ok = map.size == size && memcmp (map.data, expect, size) == 0;
  g_free (expect);
  gst_buffer_unmap (b, &map);
  return ok;
}

typedef struct
{
  const gchar *log_path;
  guint nofile;
} ChildSetup;

static void
relay_child_setup (gpointer user_data)
{
  const ChildSetup *cs = user_data;
  const gchar *log_path = cs ? cs->log_path : NULL;

  /* if this test process dies, the relay (perhaps stopped) goes with it */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () == 1)
    _exit (1);
  if (log_path) {
    /* open() and dup2() are async-signal-safe: fine after fork */
    int fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || dup2 (fd, 2) < 0)
      _exit (1);
  }
  if (cs && cs->nofile) {
    struct rlimit rl;

    /* both limits: the daemon raises its soft limit up to the hard one */
    rl.rlim_cur = rl.rlim_max = cs->nofile;
    if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
      _exit (1);
  }
}

FixtureRelayProc *
fixture_relay_proc_start (const gchar * fallback_bin,
    const gchar * const *extra_args)
{
  return fixture_relay_proc_start_full (fallback_bin, extra_args, NULL, 0);
}

FixtureRelayProc *
fixture_relay_proc_start_full (const gchar * fallback_bin,
    const gchar * const *extra_args, const gchar * log_path, guint nofile)
{
  ChildSetup cs = { log_path, nofile };
  FixtureRelayProc *r = g_new0 (FixtureRelayProc, 1);
  const gchar *bin = g_getenv ("DIODE_RELAY");
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  GPtrArray *argv = g_ptr_array_new ();
  GString *line = g_string_new (NULL);
  gint64 end = deadline_in (10000);
  GError *err = NULL;
  gchar **parts;
  guint64 port = 0;

  if (!bin || !*bin)
    bin = fallback_bin;
  g_ptr_array_add (argv, (gpointer) bin);
  g_ptr_array_add (argv, (gpointer) "--listen");
  g_ptr_array_add (argv, (gpointer) "127.0.0.1:0");
  g_ptr_array_add (argv, (gpointer) "--identity");
  g_ptr_array_add (argv, key);
  g_ptr_array_add (argv, (gpointer) "--print-id");
  for (; extra_args && *extra_args; extra_args++)
    g_ptr_array_add (argv, (gpointer) * extra_args);
  g_ptr_array_add (argv, NULL);
  fail_unless (g_spawn_async_with_pipes (NULL, (gchar **) argv->pdata, NULL,
          G_SPAWN_DO_NOT_REAP_CHILD, relay_child_setup, &cs,
          &r->pid, NULL,
          &r->out_fd, NULL, &err), "cannot start %s: %s", bin,
      err ? err->message : "?");
  g_ptr_array_unref (argv);
  g_free (key);

  /* --print-id: "0xADDRESS PORT\n" once listening */
  while (!strchr (line->str, '\n')) {
    gchar c[256];
    ssize_t n;

    fail_unless (wait_fd (r->out_fd, POLLIN, end), "%s printed no address "
        "within 10 s", bin);
    n = read (r->out_fd, c, sizeof (c));
    fail_unless (n > 0, "%s exited before printing its address", bin);
    g_string_append_len (line, c, n);
  }
  g_strchomp (line->str);
  parts = g_strsplit (line->str, " ", -1);
  fail_unless (g_strv_length (parts) == 2 && g_str_has_prefix (parts[0], "0x")
      && g_ascii_string_to_unsigned (parts[1], 10, 1, 65535, &port, NULL),
      "unexpected --print-id line '%s'", line->str);
  r->address = g_strdup (parts[0]);
  r->port = (guint) port;
  g_strfreev (parts);
  g_string_free (line, TRUE);
  return r;
}

gboolean
fixture_relay_proc_stop (FixtureRelayProc * r)
{
  gint64 end = deadline_in (5000);
  int status = 0;
  pid_t got = 0;
  gboolean clean = FALSE;

  kill (r->pid, SIGCONT);
  kill (r->pid, SIGTERM);
  while ((got = waitpid (r->pid, &status, WNOHANG)) == 0
      && g_get_monotonic_time () < end)
    g_usleep (10 * 1000);
  if (got == r->pid) {
    clean = WIFEXITED (status) && WEXITSTATUS (status) == 0;
  } else {
    kill (r->pid, SIGKILL);
    waitpid (r->pid, &status, 0);
  }
  g_spawn_close_pid (r->pid);
  close (r->out_fd);
  g_free (r->address);
  g_free (r);
  return clean;
}

guint64
fixture_proc_rss_kb (GPid pid)
{
  gchar *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  gchar *text = NULL, *line;
  guint64 kb = 0;

  if (g_file_get_contents (path, &text, NULL, NULL)
      && (line = strstr (text, "\nVmRSS:")))
    kb = g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
  g_free (text);
  g_free (path);
  return kb;
}

guint64
fixture_proc_cpu_ms (GPid pid)
{
  gchar *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  gchar *text = NULL, *p;
  guint64 ticks = 0;

  /* fields 14 and 15 (utime, stime) come after the ")" that ends comm */
  if (g_file_get_contents (path, &text, NULL, NULL)
      && (p = strrchr (text, ')'))) {
    gchar **f = g_strsplit (p + 2, " ", 0);

    if (g_strv_length (f) > 12)
      ticks = g_ascii_strtoull (f[11], NULL, 10) +
          g_ascii_strtoull (f[12], NULL, 10);
    g_strfreev (f);
  }
  g_free (text);
  g_free (path);
  return ticks * 1000 / sysconf (_SC_CLK_TCK);
}

guint64
fixture_stats_tx (DiodeRelay * relay, const gchar * key)
{
  gchar *json = diode_relay_get_stats_json (relay);
  gchar *needle = g_strdup_printf ("\"%s\":", key);
  const gchar *tx = json ? strstr (json, "\"tx\":") : NULL;
  const gchar *at = tx ? strstr (tx, needle) : NULL;
  guint64 v = at ? g_ascii_strtoull (at + strlen (needle), NULL, 10) : 0;

  g_free (needle);
  g_free (json);
  return v;
}
