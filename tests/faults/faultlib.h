/* gst-diode — fault tests: what every fault test program shares
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See faultlib.c. Publishers run "videotestsrc is-live=true ! x264enc
 * key-int-max=30 ! diodesink" at FPS (a keyframe every second), viewers
 * "diodesrc ! h264parse ! avdec_h264 ! fakesink" (frames counted), both on
 * stream STREAM; --set PROP=VALUE sets more properties of the diode element.
 */
#ifndef __DIODE_FAULTLIB_H__
#define __DIODE_FAULTLIB_H__

#include "testproc.h"

G_BEGIN_DECLS

#define FPS 30
#define STREAM "faults"

extern gchar *relay_key;        /* the relay's key: kept across restarts */
extern gchar *relay_host;       /* what the relay listens on */
extern gchar *ns_relay, *ns_pub;        /* netns-* tests: NULL otherwise */

Proc *relay_start (const gchar * name, guint port, const gchar * const *extra);

gchar *key_path (const gchar * name);
gchar *make_identity (const gchar * name);
Proc *peer_start_full (const gchar * name, const gchar * role, Proc * relay,
    const gchar * key, const gchar * const *sets, const gchar * ns,
    gboolean expect_ready);
Proc *peer_start (const gchar * name, const gchar * role, Proc * relay,
    const gchar * keyname, const gchar * const *sets, const gchar * ns);
void peer_quit (Proc * p);
guint64 peer_stat (Proc * p, const gchar * field);
void wait_decoding (Proc ** v, guint nv, guint64 n, guint timeout_ms);
void check_no_restart (Proc * p);
void check_rate (Proc ** v, guint nv, guint ms, gdouble min_frac);

typedef struct {
  const gchar *name;
  void (*fn) (void);
} FaultTest;

/* Scratch XDG_CONFIG_HOME (tp_tmp_dir), the relay's key path, SIGPIPE
 * ignored, 127.0.0.1 unless relay_host was set. */
gboolean faults_setup (const gchar * prog);
/* Runs the test called @name; 0 pass (a failure exits in tp_fail), 2 no
 * such test. */
int faults_run (const gchar * prog, const FaultTest * tests, guint n,
    const gchar * name);

G_END_DECLS
#endif
