/* gst-diode — shared test helpers: child processes and reporting
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Moved here from tests/faults/test-faults.c so that the tree tests
 * (tests/tree) start, watch and kill relays with the same code. See
 * testproc.h.
 */
#include "testproc.h"

#include <glib/gstdio.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#ifndef DIODE_RELAY_PATH
#define DIODE_RELAY_PATH "diode-relay"
#endif

/* ------------------------------------------------------------------------ */
/* reporting */

gint64 tp_t_start;
gchar *tp_tmp_dir;
const gchar *tp_test_name = "test";
void (*tp_fail_handler) (const gchar * msg);

gdouble
tp_secs (gint64 t)
{
  return (t - tp_t_start) / 1e6;
}

void
tp_cleanup_tmp (void)
{
  gchar *argv[] = { (gchar *) "rm", (gchar *) "-rf", tp_tmp_dir, NULL };

  if (tp_tmp_dir && !g_getenv ("FAULTS_KEEP_TMP"))
    g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
        G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
        NULL, NULL, NULL, NULL);
}

void
tp_rm_rf (const gchar * path)
{
  GDir *dir;
  const gchar *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR)
      || g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_unlink (path);
    return;
  }
  dir = g_dir_open (path, 0, NULL);
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    gchar *child = g_build_filename (path, name, NULL);

    tp_rm_rf (child);
    g_free (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

void
tp_fail (const gchar * fmt, ...)
{
  va_list ap;
  gchar *s;

  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (tp_fail_handler)
    tp_fail_handler (s);
  g_printerr ("[%7.3f] FAIL %s: %s\n", tp_secs (g_get_monotonic_time ()),
      tp_test_name, s);
  g_print ("FAIL %s: %s\n", tp_test_name, s);
  g_free (s);
  tp_cleanup_tmp ();
  /* Children go with us: PR_SET_PDEATHSIG, and their stdin closes. */
  exit (1);
}

void
tp_note (const gchar * fmt, ...)
{
  va_list ap;
  gchar *s;

  va_start (ap, fmt);
  s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("[%7.3f] ---- %s\n", tp_secs (g_get_monotonic_time ()), s);
  g_free (s);
}

void
tp_sleep_ms (guint ms)
{
  g_usleep ((gulong) ms * 1000);
}

/* ------------------------------------------------------------------------ */
/* child processes: the relay and fault-peers */


static void
line_free (gpointer p)
{
  Line *l = p;
  g_free (l->text);
  g_free (l);
}

static void
child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () == 1)
    _exit (1);
}

static gpointer
proc_reader (gpointer data)
{
  Proc *p = data;
  GDataInputStream *in =
      g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->proc));
  gchar *text;

  while ((text = g_data_input_stream_read_line_utf8 (in, NULL, NULL, NULL))) {
    gint64 now = g_get_monotonic_time ();
    guint64 f, d;

    g_mutex_lock (&p->lock);
    if (sscanf (text, "tick frames=%" G_GUINT64_FORMAT " discont=%"
            G_GUINT64_FORMAT, &f, &d) == 2) {
      if (f != p->frames) {
        Mark m = { now, f };
        g_array_append_val (p->marks, m);
      }
      p->frames = f;
      p->discont = d;
      g_free (text);
    } else {
      Line *l = g_new (Line, 1);
      gchar **parts;

      g_printerr ("[%7.3f %s] %s\n", tp_secs (now), p->name, text);
      l->t = now;
      l->text = text;
      g_ptr_array_add (p->lines, l);
      parts = g_strsplit (text, " ", -1);
      if (!p->address && g_strv_length (parts) == 2
          && g_str_has_prefix (parts[0], "0x") && strlen (parts[0]) == 42) {
        p->address = g_strdup (parts[0]);
        p->port = (guint) g_ascii_strtoull (parts[1], NULL, 10);
      }
      g_strfreev (parts);
    }
    g_cond_broadcast (&p->cond);
    g_mutex_unlock (&p->lock);
  }
  g_mutex_lock (&p->lock);
  p->eof = TRUE;
  g_cond_broadcast (&p->cond);
  g_mutex_unlock (&p->lock);
  g_object_unref (in);
  return NULL;
}

/* @argv: the command; prefixed with `ip netns exec NS` when @ns is set. */
Proc *
proc_spawn (const gchar * name, const gchar * ns, GPtrArray * argv)
{
  Proc *p = g_new0 (Proc, 1);
  GSubprocessLauncher *l;
  GError *err = NULL;
  GPtrArray *full = g_ptr_array_new ();
  guint i;

  if (ns) {
    g_ptr_array_add (full, (gpointer) "ip");
    g_ptr_array_add (full, (gpointer) "netns");
    g_ptr_array_add (full, (gpointer) "exec");
    g_ptr_array_add (full, (gpointer) ns);
  }
  for (i = 0; i < argv->len; i++)
    g_ptr_array_add (full, argv->pdata[i]);
  g_ptr_array_add (full, NULL);

  p->name = g_strdup (name);
  g_mutex_init (&p->lock);
  g_cond_init (&p->cond);
  p->lines = g_ptr_array_new_with_free_func (line_free);
  p->marks = g_array_new (FALSE, FALSE, sizeof (Mark));
  l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_setenv (l, "XDG_CONFIG_HOME", tp_tmp_dir, TRUE);
  g_subprocess_launcher_setenv (l, "LC_ALL", "C", TRUE);
  g_subprocess_launcher_set_child_setup (l, child_setup, NULL, NULL);
  p->proc = g_subprocess_launcher_spawnv (l,
      (const gchar * const *) full->pdata, &err);
  g_object_unref (l);
  tp_check (p->proc != NULL, "cannot start %s (%s): %s", name,
      (gchar *) argv->pdata[0], err ? err->message : "?");
  p->in = g_subprocess_get_stdin_pipe (p->proc);
  p->reader = g_thread_new (name, proc_reader, p);
  g_ptr_array_unref (full);
  return p;
}

gint
proc_pid (Proc * p)
{
  const gchar *id = g_subprocess_get_identifier (p->proc);
  return id ? atoi (id) : -1;
}

void
proc_signal (Proc * p, int sig)
{
  g_subprocess_send_signal (p->proc, sig);
}

void
proc_send (Proc * p, const gchar * cmd)
{
  gchar *line = g_strconcat (cmd, "\n", NULL);

  g_output_stream_write_all (p->in, line, strlen (line), NULL, NULL, NULL);
  g_output_stream_flush (p->in, NULL, NULL);
  g_free (line);
}

/* Has it exited (within @timeout_ms)? Sets p->status. */
gboolean
proc_wait_exit (Proc * p, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  /* The reader reaching EOF means the pipe closed: the process (and, for
   * `ip netns exec`, what it exec'd) is gone or closing. Then reap. */
  g_mutex_lock (&p->lock);
  while (!p->eof)
    if (!g_cond_wait_until (&p->cond, &p->lock, end))
      break;
  g_mutex_unlock (&p->lock);
  if (p->exited)
    return TRUE;
  while (g_get_monotonic_time () < end) {
    /* g_subprocess_wait with a cancellable would need a main loop; poll. */
    gchar path[64];
    gchar *stat = NULL;
    gboolean zombie_or_gone;

    g_snprintf (path, sizeof path, "/proc/%d/stat", proc_pid (p));
    zombie_or_gone = !g_file_get_contents (path, &stat, NULL, NULL)
        || strstr (stat, ") Z ") != NULL;
    g_free (stat);
    if (zombie_or_gone)
      break;
    tp_sleep_ms (10);
  }
  if (g_get_monotonic_time () >= end)
    return FALSE;
  g_subprocess_wait (p->proc, NULL, NULL);
  p->exited = TRUE;
  if (g_subprocess_get_if_exited (p->proc))
    p->status = g_subprocess_get_exit_status (p->proc);
  else
    p->status = 128 + g_subprocess_get_term_sig (p->proc);
  g_thread_join (p->reader);
  p->reader = NULL;
  return TRUE;
}

void
proc_kill9 (Proc * p)
{
  proc_signal (p, SIGKILL);
  tp_check (proc_wait_exit (p, 5000), "%s survived SIGKILL for 5 s", p->name);
}

/* Does @text match @a: a substring, or with a leading '^' a prefix. */
static gboolean
matches (const gchar * text, const gchar * a)
{
  return a[0] == '^' ? g_str_has_prefix (text, a + 1) : strstr (text, a) !=
      NULL;
}

/* Time of the first line at or after @after containing @a (and @b). */
static gint64
proc_find_locked (Proc * p, gint64 after, const gchar * a, const gchar * b)
{
  guint i;

  for (i = 0; i < p->lines->len; i++) {
    Line *l = p->lines->pdata[i];
    if (l->t >= after && matches (l->text, a) && (!b || strstr (l->text, b)))
      return l->t;
  }
  return -1;
}

gint64
proc_find (Proc * p, gint64 after, const gchar * a, const gchar * b)
{
  gint64 t;

  g_mutex_lock (&p->lock);
  t = proc_find_locked (p, after, a, b);
  g_mutex_unlock (&p->lock);
  return t;
}

/* The text of that line (a copy), or NULL. */
gchar *
proc_find_text (Proc * p, gint64 after, const gchar * a, const gchar * b)
{
  guint i;
  gchar *r = NULL;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->lines->len && !r; i++) {
    Line *l = p->lines->pdata[i];
    if (l->t >= after && matches (l->text, a) && (!b || strstr (l->text, b)))
      r = g_strdup (l->text);
  }
  g_mutex_unlock (&p->lock);
  return r;
}

static guint
proc_count_locked (Proc * p, gint64 after, const gchar * a, const gchar * b)
{
  guint i, n = 0;

  for (i = 0; i < p->lines->len; i++) {
    Line *l = p->lines->pdata[i];
    if (l->t >= after && matches (l->text, a) && (!b || strstr (l->text, b)))
      n++;
  }
  return n;
}

guint
proc_count (Proc * p, gint64 after, const gchar * a, const gchar * b)
{
  guint n;

  g_mutex_lock (&p->lock);
  n = proc_count_locked (p, after, a, b);
  g_mutex_unlock (&p->lock);
  return n;
}

gint64
proc_wait_line (Proc * p, gint64 after, const gchar * a, const gchar * b,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000, t;

  g_mutex_lock (&p->lock);
  while ((t = proc_find_locked (p, after, a, b)) < 0 && !p->eof)
    if (!g_cond_wait_until (&p->cond, &p->lock, end))
      break;
  t = proc_find_locked (p, after, a, b);
  g_mutex_unlock (&p->lock);
  return t;
}

/* Wait until at least @count lines at or after @after contain @a (and
 * @b); FALSE if they did not within @timeout_ms or the process ended. */
gboolean
proc_wait_count (Proc * p, gint64 after, const gchar * a, const gchar * b,
    guint count, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gboolean ok;

  g_mutex_lock (&p->lock);
  while (!(ok = proc_count_locked (p, after, a, b) >= count) && !p->eof)
    if (!g_cond_wait_until (&p->cond, &p->lock, end))
      break;
  ok = proc_count_locked (p, after, a, b) >= count;
  g_mutex_unlock (&p->lock);
  return ok;
}

guint64
proc_frames (Proc * p)
{
  guint64 n;

  g_mutex_lock (&p->lock);
  n = p->frames;
  g_mutex_unlock (&p->lock);
  return n;
}

guint64
proc_discont (Proc * p)
{
  guint64 n;

  g_mutex_lock (&p->lock);
  n = p->discont;
  g_mutex_unlock (&p->lock);
  return n;
}

/* Frames counted at time @t (from the marks). */
guint64
proc_frames_at (Proc * p, gint64 t)
{
  guint i;
  guint64 n = 0;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->marks->len; i++) {
    Mark *m = &g_array_index (p->marks, Mark, i);
    if (m->t > t)
      break;
    n = m->frames;
  }
  g_mutex_unlock (&p->lock);
  return n;
}

/* When the count first went above @base at or after @after; -1: not yet. */
static gint64
proc_frames_above_locked (Proc * p, gint64 after, guint64 base)
{
  guint i;

  for (i = 0; i < p->marks->len; i++) {
    Mark *m = &g_array_index (p->marks, Mark, i);
    if (m->t >= after && m->frames > base)
      return m->t;
  }
  return -1;
}

gint64
proc_frames_above (Proc * p, gint64 after, guint64 base)
{
  gint64 t;

  g_mutex_lock (&p->lock);
  t = proc_frames_above_locked (p, after, base);
  g_mutex_unlock (&p->lock);
  return t;
}

gint64
proc_wait_frames_above (Proc * p, gint64 after, guint64 base,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000, t;

  g_mutex_lock (&p->lock);
  while ((t = proc_frames_above_locked (p, after, base)) < 0 && !p->eof)
    if (!g_cond_wait_until (&p->cond, &p->lock, end))
      break;
  t = proc_frames_above_locked (p, after, base);
  g_mutex_unlock (&p->lock);
  return t;
}

/* The largest gap between frames (µs) in [from, to]. */
gint64
proc_max_gap (Proc * p, gint64 from, gint64 to)
{
  guint i;
  gint64 prev = from, gap = 0;

  g_mutex_lock (&p->lock);
  for (i = 0; i < p->marks->len; i++) {
    Mark *m = &g_array_index (p->marks, Mark, i);
    if (m->t < from)
      continue;
    if (m->t > to)
      break;
    gap = MAX (gap, m->t - prev);
    prev = m->t;
  }
  g_mutex_unlock (&p->lock);
  return MAX (gap, to - prev);
}

void
proc_free (Proc * p)
{
  if (!p->exited) {
    proc_signal (p, SIGKILL);
    proc_wait_exit (p, 5000);
  }
  if (p->reader)
    g_thread_join (p->reader);
  g_object_unref (p->proc);
  g_ptr_array_unref (p->lines);
  g_array_unref (p->marks);
  g_mutex_clear (&p->lock);
  g_cond_clear (&p->cond);
  g_free (p->address);
  g_free (p->name);
  g_free (p);
}

/* ------------------------------------------------------------------------ */
/* the relay */

const gchar *
relay_bin (void)
{
  const gchar *bin = g_getenv ("DIODE_RELAY");
  return bin && *bin ? bin : DIODE_RELAY_PATH;
}

Proc *
relay_spawn (const gchar * name, const gchar * ns, const gchar * host,
    guint port, const gchar * key, const gchar * const *extra)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  Proc *p;
  gint64 t;

  g_ptr_array_add (argv, g_strdup (relay_bin ()));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup_printf ("%s:%u", host, port));
  g_ptr_array_add (argv, g_strdup ("--identity"));
  g_ptr_array_add (argv, g_strdup (key));
  g_ptr_array_add (argv, g_strdup ("--print-id"));
  g_ptr_array_add (argv, g_strdup ("-v"));
  for (; extra && *extra; extra++)
    g_ptr_array_add (argv, g_strdup (*extra));
  p = proc_spawn (name, ns, argv);
  g_ptr_array_unref (argv);

  t = g_get_monotonic_time ();
  g_mutex_lock (&p->lock);
  while (!p->address && !p->eof)
    if (!g_cond_wait_until (&p->cond, &p->lock, t + 10 * G_TIME_SPAN_SECOND))
      break;
  g_mutex_unlock (&p->lock);
  tp_check (p->address != NULL, "%s did not print its address within 10 s "
      "(%s)", name, p->eof ? "it exited" : "still running");
  tp_check (port == 0 || p->port == port, "%s listens on port %u, not %u",
      name, p->port, port);
  return p;
}

void
relay_stop (Proc * r)
{
  proc_signal (r, SIGTERM);
  if (!proc_wait_exit (r, 5000)) {
    proc_signal (r, SIGKILL);
    proc_wait_exit (r, 5000);
    tp_fail ("%s did not exit within 5 s of SIGTERM (killed)", r->name);
  }
  tp_check (r->status == 0, "%s exited with status %d after SIGTERM",
      r->name, r->status);
}
