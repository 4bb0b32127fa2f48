/* gst-diode — fault tests: what every fault test program shares
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The real diode-relay started with the run's key (kept across restarts),
 * publishers and viewers as fault-peer processes (one pipeline each for its
 * whole life), and the checks on what they report: frames decoded, rate,
 * no pipeline restart, the element's stats at exit. Used by test-faults.c
 * (issue 5) and test-recording-faults.c (issue 10), written once here.
 */
#include <glib.h>
#include <glib/gstdio.h>

#include <signal.h>
#include <string.h>

#include "faultlib.h"
#include "diode-identity.h"

#ifndef FAULT_PEER_PATH
#define FAULT_PEER_PATH "fault-peer"
#endif

gchar *relay_key;
gchar *relay_host;
gchar *ns_relay, *ns_pub;

/* ------------------------------------------------------------------------ */
/* the relay (testproc.c starts, watches and stops it) */

/* Start diode-relay on @port (0: any) with the run's key; wait until it
 * listens. @extra: more options, NULL-terminated. */
Proc *
relay_start (const gchar * name, guint port, const gchar * const *extra)
{
  return relay_spawn (name, ns_relay, relay_host, port, relay_key, extra);
}

/* ------------------------------------------------------------------------ */
/* peers */

gchar *
key_path (const gchar * name)
{
  gchar *file = g_strconcat (name, ".pem", NULL);
  gchar *path = g_build_filename (tp_tmp_dir, file, NULL);
  g_free (file);
  return path;
}

/* Make (or load) a key file; returns its address. */
gchar *
make_identity (const gchar * name)
{
  gchar *path = key_path (name);
  GError *err = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (path, &err);
  gchar *addr;

  tp_check (id != NULL, "cannot create identity %s: %s", path,
      err ? err->message : "?");
  addr = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
  g_free (path);
  return addr;
}

/* A fault-peer, started and PLAYING. @role: "pub" or "view". @key: name of
 * its key file in tp_tmp_dir (made if missing), or a full path. @sets:
 * NULL-terminated PROP=VALUE for the diode element. */
Proc *
peer_start_full (const gchar * name, const gchar * role, Proc * relay,
    const gchar * key, const gchar * const *sets, const gchar * ns,
    gboolean expect_ready)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const gchar *bin = g_getenv ("FAULT_PEER");
  Proc *p;
  gint64 t0 = g_get_monotonic_time (), t;

  g_ptr_array_add (argv, g_strdup (bin && *bin ? bin : FAULT_PEER_PATH));
  g_ptr_array_add (argv, g_strdup (role));
  g_ptr_array_add (argv, g_strdup_printf ("--relay=%s:%u", relay_host,
          relay->port));
  g_ptr_array_add (argv, g_strdup_printf ("--relay-id=%s", relay->address));
  g_ptr_array_add (argv, g_strdup ("--stream=" STREAM));
  g_ptr_array_add (argv, g_strdup_printf ("--identity=%s", key));
  /* A viewer waits for the stream as long as a test could want. */
  if (!strcmp (role, "view"))
    g_ptr_array_add (argv, g_strdup ("--set=timeout=30000"));
  for (; sets && *sets; sets++)
    g_ptr_array_add (argv, g_strdup_printf ("--set=%s", *sets));
  p = proc_spawn (name, ns, argv);
  g_ptr_array_unref (argv);
  if (!expect_ready)
    return p;
  /* The first GStreamer process of a run may rebuild the registry. */
  t = proc_wait_line (p, t0, "ready", NULL, 30000);
  tp_check (t >= 0, "%s did not start its pipeline within 30 s", name);
  return p;
}

Proc *
peer_start (const gchar * name, const gchar * role, Proc * relay,
    const gchar * keyname, const gchar * const *sets, const gchar * ns)
{
  gchar *key = key_path (keyname);
  Proc *p = peer_start_full (name, role, relay, key, sets, ns, TRUE);
  g_free (key);
  return p;
}

/* "quit" on stdin: it must stop its pipeline and exit within 5 s (a hang
 * here is a failure: nothing may hang). */
void
peer_quit (Proc * p)
{
  if (p->exited)
    return;
  proc_send (p, "quit");
  if (!proc_wait_exit (p, 5000)) {
    proc_signal (p, SIGKILL);
    proc_wait_exit (p, 2000);
    tp_fail ("%s did not stop within 5 s of being asked to (a pipeline hangs "
        "in set_state(NULL)?)", p->name);
  }
  tp_check (p->status == 0, "%s exited with status %d", p->name, p->status);
}

/* A field of its last "stats" line (at exit), or G_MAXUINT64 if none. */
guint64
peer_stat (Proc * p, const gchar * field)
{
  gchar *text = NULL, *key, *at;
  guint64 v = G_MAXUINT64;
  guint i;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->lines->len; i++) {
    Line *l = p->lines->pdata[i];
    if (g_str_has_prefix (l->text, "stats ")) {
      g_free (text);
      text = g_strdup (l->text);
    }
  }
  g_mutex_unlock (&p->lock);
  if (!text)
    return -1;
  key = g_strdup_printf (" %s=(", field);
  at = strstr (text, key);
  if (at) {
    at = strchr (at, ')');
    if (at)
      v = g_ascii_strtoull (at + 1, NULL, 10);
  }
  g_free (key);
  g_free (text);
  return v;
}

/* Wait until every viewer has decoded at least @n frames. */
void
wait_decoding (Proc ** v, guint nv, guint64 n, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  guint i;

  for (i = 0; i < nv; i++) {
    while (proc_frames (v[i]) < n) {
      tp_check (!v[i]->eof, "%s exited before decoding %" G_GUINT64_FORMAT
          " frames", v[i]->name, n);
      tp_check (g_get_monotonic_time () < end, "%s decoded only %"
          G_GUINT64_FORMAT " frames within %u ms (want %" G_GUINT64_FORMAT
          ")", v[i]->name, proc_frames (v[i]), timeout_ms, n);
      tp_sleep_ms (20);
    }
  }
}

/* The pipeline never left PLAYING after it got there (no restart). */
void
check_no_restart (Proc * p)
{
  guint n = proc_count (p, 0, "^state PLAYING ", NULL);

  tp_check (n == 0, "%s: the pipeline left PLAYING %u times (it must ride "
      "out the fault without a restart)", p->name, n);
  tp_check (!p->eof || p->exited, "%s exited unexpectedly", p->name);
  tp_check (proc_count (p, 0, "^error ", NULL) == 0, "%s posted an error",
      p->name);
}

/* Frames decoded in the next @ms must be at least @min_frac of FPS*ms. */
void
check_rate (Proc ** v, guint nv, guint ms, gdouble min_frac)
{
  guint64 before[16];
  guint i;

  g_assert (nv <= G_N_ELEMENTS (before));
  for (i = 0; i < nv; i++)
    before[i] = proc_frames (v[i]);
  tp_sleep_ms (ms);
  for (i = 0; i < nv; i++) {
    guint64 got = proc_frames (v[i]) - before[i];
    guint64 want = (guint64) (min_frac * FPS * ms / 1000);

    tp_note ("%s: %" G_GUINT64_FORMAT " frames in %u ms", v[i]->name, got, ms);
    tp_check (got >= want, "%s decoded %" G_GUINT64_FORMAT " frames in %u ms, "
        "want at least %" G_GUINT64_FORMAT " (%.0f %% of %d fps)", v[i]->name,
        got, ms, want, min_frac * 100, FPS);
  }
}

/* ------------------------------------------------------------------------ */
/* the program */

gboolean
faults_setup (const gchar * prog)
{
  GError *err = NULL;

  if (!relay_host)
    relay_host = g_strdup ("127.0.0.1");
  signal (SIGPIPE, SIG_IGN);
  tp_t_start = g_get_monotonic_time ();
  tp_tmp_dir = g_dir_make_tmp ("gst-diode-faults-XXXXXX", &err);
  if (!tp_tmp_dir) {
    g_printerr ("%s: %s\n", prog, err->message);
    g_error_free (err);
    return FALSE;
  }
  relay_key = g_build_filename (tp_tmp_dir, "relay.pem", NULL);
  return TRUE;
}

int
faults_run (const gchar * prog, const FaultTest * tests, guint n,
    const gchar * name)
{
  guint i;

  for (i = 0; i < n; i++) {
    if (strcmp (tests[i].name, name))
      continue;
    tp_test_name = tests[i].name;
    g_printerr ("[%7.3f] ==== %s (XDG_CONFIG_HOME=%s)\n", 0.0, tp_test_name,
        tp_tmp_dir);
    tests[i].fn ();
    g_print ("PASS %s (%.1f s)\n", tp_test_name,
        tp_secs (g_get_monotonic_time ()));
    tp_cleanup_tmp ();
    return 0;
  }
  g_printerr ("%s: no test '%s'\n", prog, name);
  tp_cleanup_tmp ();
  return 2;
}
