/* gst-diode — shared test helpers: child processes and reporting
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What the process-based tests (tests/faults, tests/tree) share: a failure
 * and progress report with timestamps from the start of the test, and child
 * processes (diode-relay, fault-peer, diode-load) whose stdout+stderr is read
 * by a thread into timestamped lines that the test waits for and counts.
 * fault-peer's "tick frames=N discont=D" lines are folded into a frame count
 * with the time of each change (Mark) instead of being kept as lines.
 *
 * Every child gets XDG_CONFIG_HOME = tp_tmp_dir and LC_ALL=C and dies with
 * the test process (PR_SET_PDEATHSIG; peers also see their stdin close).
 */
#ifndef __DIODE_TESTPROC_H__
#define __DIODE_TESTPROC_H__

#include <gio/gio.h>

G_BEGIN_DECLS

extern gint64 tp_t_start;       /* monotonic µs at the start of the test */
extern gchar *tp_tmp_dir;       /* the run's XDG_CONFIG_HOME and key files */
extern const gchar *tp_test_name;

/* Called first by tp_fail with the message. A libcheck test aborts there
 * (ck_abort_msg does not return); if it returns, tp_fail goes on: prints
 * the message, removes tp_tmp_dir and exits (1). */
extern void (*tp_fail_handler) (const gchar * msg);

gdouble tp_secs (gint64 t);
void tp_cleanup_tmp (void);
/* Removes @path and, for a directory, all below it (links not followed). */
void tp_rm_rf (const gchar * path);
void tp_fail (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;
void tp_note (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);
void tp_sleep_ms (guint ms);
#define tp_check(cond, ...) G_STMT_START { if (!(cond)) tp_fail (__VA_ARGS__); } G_STMT_END

typedef struct {
  gint64 t;
  gchar *text;
} Line;

typedef struct {
  gint64 t;
  guint64 frames;
} Mark;

typedef struct {
  gchar *name;
  GSubprocess *proc;
  GOutputStream *in;            /* peers: commands */
  GThread *reader;
  GMutex lock;
  GCond cond;
  GPtrArray *lines;             /* Line*, everything but ticks */
  GArray *marks;                /* Mark: each change of the frame count */
  guint64 frames, discont;
  gboolean eof;
  gboolean exited;
  gint status;                  /* exit status, or 128 + signal */
  /* relay: from --print-id */
  gchar *address;
  guint port;
} Proc;

Proc *proc_spawn (const gchar * name, const gchar * ns, GPtrArray * argv);
gint proc_pid (Proc * p);
void proc_signal (Proc * p, int sig);
void proc_send (Proc * p, const gchar * cmd);
gboolean proc_wait_exit (Proc * p, guint timeout_ms);
void proc_kill9 (Proc * p);
gint64 proc_find (Proc * p, gint64 after, const gchar * a, const gchar * b);
gchar *proc_find_text (Proc * p, gint64 after, const gchar * a,
    const gchar * b);
guint proc_count (Proc * p, gint64 after, const gchar * a, const gchar * b);
gint64 proc_wait_line (Proc * p, gint64 after, const gchar * a,
    const gchar * b, guint timeout_ms);
gboolean proc_wait_count (Proc * p, gint64 after, const gchar * a,
    const gchar * b, guint count, guint timeout_ms);
guint64 proc_frames (Proc * p);
guint64 proc_discont (Proc * p);
guint64 proc_frames_at (Proc * p, gint64 t);
gint64 proc_frames_above (Proc * p, gint64 after, guint64 base);
gint64 proc_wait_frames_above (Proc * p, gint64 after, guint64 base,
    guint timeout_ms);
gint64 proc_max_gap (Proc * p, gint64 from, gint64 to);
void proc_free (Proc * p);

/* diode-relay: $DIODE_RELAY or the one in the build tree. */
const gchar *relay_bin (void);
/* Start diode-relay --listen HOST:PORT (0: any) --identity KEY --print-id -v
 * @extra... (NULL-terminated), in network namespace @ns (NULL: this one);
 * wait (10 s) until it prints its address and port. */
Proc *relay_spawn (const gchar * name, const gchar * ns, const gchar * host,
    guint port, const gchar * key, const gchar * const *extra);
/* SIGTERM; it must exit cleanly within 5 s. */
void relay_stop (Proc * r);

G_END_DECLS
#endif
