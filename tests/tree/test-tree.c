/* gst-diode — tree tests: a network of relays as processes on 127.0.0.1
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   test-tree TEST
 *
 * Issue 9, item 8. Peerstreamer's README topology, each node a diode-relay
 * process with its own key, stats file and port:
 *
 *                        source
 *                  mit            harvard
 *             ben     alyssa   john    lawrence
 *
 * mit and harvard name the source as --upstream; ben and alyssa name mit,
 * john and lawrence name harvard, and those four name the source as
 * --fallback. Every link is pinned (0xADDRESS@127.0.0.1:PORT). Publishers and
 * viewers are real pipelines in this process (videotestsrc ! x264enc !
 * h264parse ! diodesink; diodesrc ! h264parse ! avdec_h264 ! appsink): each
 * decoded frame's SHA-1 is compared with what the publisher's own decoder
 * makes of the same stream (tests/common/framesums.c), so "frame-identical,
 * no frame missing, none repeated" is one list comparison. Relays are started,
 * watched and kill -9'd with tests/common/testproc.c.
 *
 * One test per run (meson registers each name, see meson.build and
 * docs/testing.md). Every wait is bounded; the bounds catch hangs and
 * regressions by a wide margin, the figures are printed. A relay without
 * --upstream (before issue 9's relay links) makes every test skip (77).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "framesums.h"
#include "relaystats.h"
#include "testproc.h"

#ifndef DIODE_LOAD_PATH
#define DIODE_LOAD_PATH "diode-load"
#endif
#ifndef DIODE_TOOL_PATH
#define DIODE_TOOL_PATH "diode"
#endif

#define FPS 30
#define GOP 30
#define STREAM "tree"

/* ------------------------------------------------------------------------ */
/* the tree */

enum { SOURCE, MIT, HARVARD, BEN, ALYSSA, JOHN, LAWRENCE, N_NODES };

static const struct {
  const gchar *name;
  gint upstream;                /* index, -1: none */
  gboolean fallback_source;
} seed[N_NODES] = {
  {"source", -1, FALSE},
  {"mit", SOURCE, FALSE},
  {"harvard", SOURCE, FALSE},
  {"ben", MIT, TRUE},
  {"alyssa", MIT, TRUE},
  {"john", HARVARD, TRUE},
  {"lawrence", HARVARD, TRUE},
};

typedef struct {
  const gchar *name;
  Proc *p;
  guint port;                   /* kept across restarts */
  gchar *address;
  gchar *key, *stats, *known;
  gchar *conf;                  /* [relays] children: its children, NULL
                                   for a leaf */
  guint starts;
} Node;

static Node nodes[N_NODES];
/* More options for every relay (NULL-terminated), set by a test. */
static const gchar *const *tree_extra;

static gchar *
tmp_file (const gchar * name, const gchar * suffix)
{
  gchar *file = g_strconcat (name, suffix, NULL);
  gchar *path = g_build_filename (tp_tmp_dir, file, NULL);

  g_free (file);
  return path;
}

static gchar *
pinned (Node * n)
{
  return g_strdup_printf ("%s@127.0.0.1:%u", n->address, n->port);
}

/* The address of key file @key (made if missing), as `diode id` prints
 * it: a parent lists its children before they first start. */
static gchar *
key_address (const gchar * key)
{
  const gchar *argv[] = { DIODE_TOOL_PATH, "id", "--identity", key, NULL };
  gchar *out = NULL;
  gint status = 0;
  GError *err = NULL;

  tp_check (g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, &err),
      "cannot run %s: %s", argv[0], err ? err->message : "?");
  tp_check (g_spawn_check_wait_status (status, NULL), "%s id --identity %s "
      "failed", argv[0], key);
  return g_strstrip (out);
}

/* A relay config for @path accepting @children (NULL-terminated addresses)
 * as child relays: relays link only to parents that list them. */
static void
write_children_conf (const gchar * path, const gchar * const *children)
{
  gchar *list = g_strjoinv (";", (gchar **) children);
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", list);

  tp_check (g_file_set_contents (path, text, -1, NULL), "cannot write %s",
      path);
  g_free (text);
  g_free (list);
}

/* Key, files and address of node @i, and the config of every node that
 * is a parent (upstream or fallback) of another. Once. */
static void
tree_prepare (void)
{
  guint i, j;

  for (i = 0; i < N_NODES; i++) {
    Node *n = &nodes[i];

    if (n->key)
      continue;
    n->name = seed[i].name;
    n->key = tmp_file (n->name, ".pem");
    n->stats = tmp_file (n->name, ".json");
    n->known = tmp_file (n->name, "-known-relays");
    n->address = key_address (n->key);
  }
  for (i = 0; i < N_NODES; i++) {
    GPtrArray *kids = g_ptr_array_new ();

    for (j = 0; j < N_NODES; j++)
      if (seed[j].upstream == (gint) i
          || (i == SOURCE && seed[j].fallback_source))
        g_ptr_array_add (kids, nodes[j].address);
    g_ptr_array_add (kids, NULL);
    if (kids->len > 1 && !nodes[i].conf) {
      nodes[i].conf = tmp_file (nodes[i].name, ".conf");
      write_children_conf (nodes[i].conf, (const gchar * const *)
          kids->pdata);
    }
    g_ptr_array_unref (kids);
  }
}

/* Start (or restart, same key and port) node @i; its upstream and fallback
 * must be running already (their addresses and ports are needed). */
static void
node_start (guint i)
{
  Node *n = &nodes[i];
  GPtrArray *args = g_ptr_array_new_with_free_func (g_free);
  const gchar *const *e;
  gchar *name;

  tree_prepare ();
  if (n->conf) {
    g_ptr_array_add (args, g_strdup ("--config"));
    g_ptr_array_add (args, g_strdup (n->conf));
  }
  g_ptr_array_add (args, g_strdup ("--stats-interval"));
  g_ptr_array_add (args, g_strdup ("1"));
  g_ptr_array_add (args, g_strdup ("--stats-file"));
  g_ptr_array_add (args, g_strdup (n->stats));
  g_ptr_array_add (args, g_strdup ("--known-relays"));
  g_ptr_array_add (args, g_strdup (n->known));
  /* Fail-back after 1 s of health instead of 5: the test waits less. */
  g_ptr_array_add (args, g_strdup ("--failback-delay"));
  g_ptr_array_add (args, g_strdup ("1000"));
  if (seed[i].upstream >= 0) {
    g_ptr_array_add (args, g_strdup ("--upstream"));
    g_ptr_array_add (args, pinned (&nodes[seed[i].upstream]));
  }
  if (seed[i].fallback_source) {
    g_ptr_array_add (args, g_strdup ("--fallback"));
    g_ptr_array_add (args, pinned (&nodes[SOURCE]));
  }
  for (e = tree_extra; e && *e; e++)
    g_ptr_array_add (args, g_strdup (*e));
  g_ptr_array_add (args, NULL);

  name = n->starts ? g_strdup_printf ("%s#%u", n->name, n->starts + 1) :
      g_strdup (n->name);
  n->p = relay_spawn (name, NULL, "127.0.0.1", n->port, n->key,
      (const gchar * const *) args->pdata);
  g_free (name);
  g_ptr_array_unref (args);
  if (!n->address)
    n->address = g_strdup (n->p->address);
  tp_check (!strcmp (n->address, n->p->address), "%s came back as %s, "
      "not %s", n->name, n->p->address, n->address);
  n->port = n->p->port;
  n->starts++;
}

static void tree_wait_linked (void);

static void
tree_start (void)
{
  guint i;

  for (i = 0; i < N_NODES; i++)
    node_start (i);
  tree_wait_linked ();
  tp_note ("tree up: source :%u, mit :%u, harvard :%u, ben :%u, alyssa :%u, "
      "john :%u, lawrence :%u", nodes[SOURCE].port, nodes[MIT].port,
      nodes[HARVARD].port, nodes[BEN].port, nodes[ALYSSA].port,
      nodes[JOHN].port, nodes[LAWRENCE].port);
}

/* Every relay still running must stop cleanly (leaves first). */
static void
tree_stop (void)
{
  gint i;

  for (i = N_NODES - 1; i >= 0; i--) {
    if (nodes[i].p && !nodes[i].p->exited)
      relay_stop (nodes[i].p);
    if (nodes[i].p)
      proc_free (nodes[i].p);
    nodes[i].p = NULL;
  }
}

static void
node_kill9 (guint i)
{
  tp_note ("kill -9 %s (pid %d)", nodes[i].name, proc_pid (nodes[i].p));
  proc_kill9 (nodes[i].p);
  proc_free (nodes[i].p);
  nodes[i].p = NULL;
}

/* ------------------------------------------------------------------------ */
/* stats files (relaystats.c) */

/* The kind of @n's control link to @up if it is up (NULL if not);
 * @failovers: @n's fail-over count. */
static gchar *
link_kind (Node * n, Node * up, gint64 * failovers)
{
  gchar *peer = g_strdup_printf ("127.0.0.1:%u", up->port);
  gchar *kind = rstats_link_kind (n->stats, peer, failovers);

  g_free (peer);
  return kind;
}

/* Every relay with an upstream has linked to it (stats), so that a
 * SUBSCRIBE at any of them can be pulled at once. */
static void
tree_wait_linked (void)
{
  gint64 end = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  guint i;

  for (i = 0; i < N_NODES; i++) {
    if (seed[i].upstream < 0)
      continue;
    gchar *kind;

    while (!(kind = link_kind (&nodes[i], &nodes[seed[i].upstream], NULL))
        || !strcmp (kind, "probe")) {
      g_free (kind);
      tp_check (g_get_monotonic_time () < end, "%s: no linked upstream "
          "link to %s in its stats within 15 s", nodes[i].name,
          nodes[seed[i].upstream].name);
      tp_sleep_ms (100);
    }
    g_free (kind);
  }
}

/* Wait until @n's path for the stream does (@want) or does not contain
 * @via's address; returns the path seen last. */
static gchar *
wait_path (Node * n, Node * via, gboolean want, guint timeout_ms,
    Pipe ** pipes, guint np)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gchar *path = NULL;

  for (;;) {
    gboolean has;

    g_free (path);
    path = rstats_path (n->stats, STREAM);
    has = path && strstr (path, via->address);
    if (path && has == want)
      return path;
    tp_check (g_get_monotonic_time () < end, "%s: the stats of '%s' %s %s "
        "in the stream's path within %u ms (path: %s)", n->name, STREAM,
        want ? "never showed" : "still show", via->name, timeout_ms,
        path ? path : "none: no such stream or no 'path' in its stats");
    pipes_check (pipes, np);
    tp_sleep_ms (100);
  }
}

/* ------------------------------------------------------------------------ */
/* pipelines */

static Pipe *
publisher_new (Node * at, gint num_buffers)
{
  gchar *nb = num_buffers > 0 ? g_strdup_printf (" num-buffers=%d",
      num_buffers) : g_strdup ("");
  gchar *desc = g_strdup_printf ("videotestsrc is-live=true pattern=ball%s ! "
      "video/x-raw,width=320,height=240,framerate=%d/1 ! "
      "x264enc tune=zerolatency key-int-max=%d speed-preset=ultrafast ! "
      "h264parse ! tee name=t  "
      "t. ! queue ! diodesink relay=127.0.0.1:%u stream=%s  "
      "t. ! queue ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! "
      "appsink name=ref sync=false", nb, FPS, GOP, at->port, STREAM);
  gchar *name = g_strdup_printf ("publisher at %s", at->name);
  Pipe *p = pipe_new (name, desc, "ref");

  g_free (name);
  g_free (desc);
  g_free (nb);
  return p;
}

static Pipe *
viewer_new (Node * at)
{
  gchar *desc = viewer_desc (at->port, STREAM, "name=src");
  gchar *name = g_strdup_printf ("viewer at %s", at->name);
  Pipe *p = pipe_new (name, desc, "out");

  g_free (name);
  g_free (desc);
  return p;
}

static void
wait_frames (Pipe ** pipes, guint np, Pipe * p, guint n, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (collector_count (&p->col) < n) {
    pipes_check (pipes, np);
    tp_check (!p->eos, "%s: EOS after %u frames (want %u)", p->name,
        collector_count (&p->col), n);
    tp_check (g_get_monotonic_time () < end, "%s: %u frames decoded within "
        "%u ms, want %u", p->name, collector_count (&p->col), timeout_ms, n);
    tp_sleep_ms (10);
  }
}

/* Send EOS into the publisher, wait for it at the publisher and at every
 * viewer (the EOS crosses the tree). */
static void
finish_stream (Pipe * pub, Pipe ** pipes, guint np)
{
  gint64 deadline;
  guint i;

  if (!pub->eos) {
    tp_check (gst_element_send_event (pub->pipeline, gst_event_new_eos ()),
        "cannot send EOS into the publisher");
    pipe_wait_eos (pub, g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND,
        "within 10 s of being sent one");
  }
  deadline = g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND;
  for (i = 0; i < np; i++) {
    if (pipes[i] == pub)
      continue;
    pipe_wait_eos (pipes[i], deadline, "within 20 s of the publisher's");
    pipes_check (pipes, np);
  }
  for (i = 0; i < np; i++)
    pipe_stop (pipes[i]);
}

/* Every frame @v decoded is the reference's, in order, none missing and none
 * repeated from its first frame to the publisher's last one; diodesrc saw
 * consecutive sequence numbers (no gap). With @from_start, its first frame
 * is the reference's first. Returns the reference index it started at. */
static guint
check_identical (Pipe * pub, Pipe * v, gboolean from_start)
{
  GPtrArray *ref = pub->col.sums, *got = v->col.sums;
  guint start, bad;
  guint64 disconts = pipe_element_stat (v, "src", "discont");
  guint64 missed = pipe_element_stat (v, "src", "buffers-missed");

  tp_check (got->len > 0, "%s decoded nothing", v->name);
  start = sums_find (ref, g_ptr_array_index (got, 0));
  tp_check (start != G_MAXUINT, "%s: its first decoded frame (sha1 %s) is "
      "none of the publisher's %u", v->name,
      (gchar *) g_ptr_array_index (got, 0), ref->len);
  tp_check (!from_start || start == 0, "%s: its first frame is the "
      "publisher's frame %u, not the first", v->name, start);
  bad = sums_first_mismatch (ref, start, got);
  tp_check (bad == got->len, "%s: decoded frame %u (sha1 %s) is not the "
      "publisher's frame %u (sha1 %s): a frame %s", v->name, bad,
      bad < got->len ? (gchar *) g_ptr_array_index (got, bad) : "-",
      start + bad, start + bad < ref->len ?
      (gchar *) g_ptr_array_index (ref, start + bad) : "none",
      sums_find (ref, g_ptr_array_index (got, bad)) < start + bad ?
      "repeated or out of order" : "missing or corrupt");
  tp_check (start + got->len == ref->len, "%s decoded the publisher's frames "
      "%u..%u, the publisher made %u: the last %u are missing", v->name,
      start, start + got->len - 1, ref->len, ref->len - start - got->len);
  tp_check (disconts == 0 && missed == 0, "%s: diodesrc saw %"
      G_GUINT64_FORMAT " sequence gaps, %" G_GUINT64_FORMAT " buffers missed",
      v->name, disconts, missed);
  return start;
}

/* @n viewers of the stream at @at, all in one diode-load process. */
static Proc *
load_start (Node * at, guint n)
{
  const gchar *bin = g_getenv ("DIODE_LOAD");
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  gchar *name = g_strdup_printf ("load@%s", at->name);
  Proc *p;

  g_ptr_array_add (argv, g_strdup (bin && *bin ? bin : DIODE_LOAD_PATH));
  g_ptr_array_add (argv, g_strdup ("--tls"));
  g_ptr_array_add (argv, g_strdup_printf ("--port=%u", at->port));
  g_ptr_array_add (argv, g_strdup_printf ("--relay-id=%s", at->address));
  g_ptr_array_add (argv, g_strdup ("--stream=" STREAM));
  g_ptr_array_add (argv, g_strdup_printf ("--viewers=%u", n));
  g_ptr_array_add (argv, g_strdup ("--ramp=200"));
  g_ptr_array_add (argv, g_strdup ("--warmup=1"));
  g_ptr_array_add (argv, g_strdup ("--duration=60"));
  g_ptr_array_add (argv, g_strdup ("-q"));
  p = proc_spawn (name, NULL, argv);
  g_ptr_array_unref (argv);
  g_free (name);
  return p;
}

static void
load_stop (Proc * p)
{
  proc_signal (p, SIGTERM);
  if (!proc_wait_exit (p, 5000))
    proc_kill9 (p);
  proc_free (p);
}

/* ------------------------------------------------------------------------ */
/* tests */

/* A stream published at the source, watched at the four leaves: each one
 * pulls it along its branch (the viewers subscribe first, so the pull goes
 * up to the source and waits there), and decodes exactly the publisher's
 * frames, from the first to EOS. */
static void
test_seed (void)
{
  Pipe *pipes[5], *pub;
  const guint leaves[] = { BEN, ALYSSA, JOHN, LAWRENCE };
  guint i;
  gchar *path;

  tree_start ();
  for (i = 0; i < 4; i++) {
    pipes[i + 1] = viewer_new (&nodes[leaves[i]]);
    pipe_play (pipes[i + 1]);
  }
  /* mit and harvard both wait at the source for the name: the viewers'
   * SUBSCRIBEs were pulled up the tree, one per branch. */
  tp_check (proc_wait_count (nodes[SOURCE].p, 0, "waits up to", "'" STREAM
          "'", 2, 15000), "the source did not see two relays waiting for '"
      STREAM "' within 15 s (%u lines 'waits up to')",
      proc_count (nodes[SOURCE].p, 0, "waits up to", NULL));
  pub = pipes[0] = publisher_new (&nodes[SOURCE], 150);
  pipe_play (pub);
  for (i = 1; i < 5; i++)
    wait_frames (pipes, 5, pipes[i], 30, 20000);
  /* Seen from a leaf, the stream came through its branch. */
  path = wait_path (&nodes[BEN], &nodes[MIT], TRUE, 5000, pipes, 5);
  tp_note ("ben: path of '%s' is %s", STREAM, path);
  tp_check (g_str_has_prefix (path, nodes[SOURCE].address), "ben: the path "
      "of '%s' (%s) does not start at the source (%s)", STREAM, path,
      nodes[SOURCE].address);
  g_free (path);
  pipe_wait_eos (pub, g_get_monotonic_time () + 20 * G_TIME_SPAN_SECOND,
      "after its 150 frames");
  finish_stream (pub, pipes, 5);
  for (i = 1; i < 5; i++)
    check_identical (pub, pipes[i], TRUE);
  g_print ("seed: %u frames published at the source, decoded identical at "
      "ben, alyssa, john and lawrence\n", pub->col.sums->len);
  for (i = 0; i < 5; i++)
    pipe_free (pipes[i]);
  tree_stop ();
}

/* Issue 9: a relay notices a dead upstream and its viewers get the first
 * frame through the fallback within 3 s. */
#define FAILOVER_MAX_MS 3000

/* Time (µs after @t) of the first frame @p decoded after @t, waiting up to
 * @timeout_ms. */
static gint64
first_frame_after (Pipe ** pipes, guint np, Pipe * p, guint base, gint64 t,
    guint timeout_ms)
{
  gint64 end = t + (gint64) timeout_ms * 1000;

  while (collector_count (&p->col) <= base) {
    pipes_check (pipes, np);
    tp_check (!p->eos, "%s: EOS after the fault", p->name);
    tp_check (g_get_monotonic_time () < end, "%s: no frame decoded within "
        "%u ms of the fault (stuck at %u)", p->name, timeout_ms, base);
    tp_sleep_ms (2);
  }
  return g_get_monotonic_time () - t;
}

/* kill -9 mit under ben and alyssa, @rounds times: their viewers keep
 * decoding through the source (the fallback), then move back to mit once it
 * is started again (their stats: mit is the upstream link again, no link to
 * the source; the relay's "failovers" counted each round), and over the
 * whole run decode every frame exactly once, no error, no sequence gap. */
static void
run_failover (guint rounds)
{
  Pipe *pipes[3], *pub;
  gint64 gap, worst = 0;
  guint r, i;
  gchar *path;

  tree_start ();
  pub = pipes[0] = publisher_new (&nodes[SOURCE], -1);
  pipe_play (pub);
  wait_frames (pipes, 1, pub, 15, 20000);
  pipes[1] = viewer_new (&nodes[BEN]);
  pipes[2] = viewer_new (&nodes[ALYSSA]);
  pipe_play (pipes[1]);
  pipe_play (pipes[2]);
  wait_frames (pipes, 3, pipes[1], 45, 20000);
  wait_frames (pipes, 3, pipes[2], 45, 20000);
  for (i = 1; i < 3; i++) {
    path = wait_path (&nodes[i == 1 ? BEN : ALYSSA], &nodes[MIT], TRUE, 5000,
        pipes, 3);
    g_free (path);
  }

  for (r = 0; r < rounds; r++) {
    guint base[3];
    gint64 t_kill;

    pipes_run_for (pipes, 3, 1000);
    for (i = 1; i < 3; i++)
      base[i] = collector_count (&pipes[i]->col);
    t_kill = g_get_monotonic_time ();
    node_kill9 (MIT);
    /* The bound: the first frame through the fallback at most 3 s
     * after the upstream died. A frame still in flight from mit could
     * arrive first, so the leaf's stats must also show the stream coming
     * through the source (not mit) by 3 s + one stats interval (1 s). */
    for (i = 1; i < 3; i++) {
      gap = first_frame_after (pipes, 3, pipes[i], base[i], t_kill,
          FAILOVER_MAX_MS);
      tp_note ("%s: first frame %.0f ms after the kill (via the fallback)",
          pipes[i]->name, gap / 1e3);
      worst = MAX (worst, gap);
    }
    for (i = 1; i < 3; i++) {
      gint64 left = FAILOVER_MAX_MS + 1000 -
          (g_get_monotonic_time () - t_kill) / 1000;

      path = wait_path (&nodes[i == 1 ? BEN : ALYSSA], &nodes[MIT], FALSE,
          (guint) MAX (left, 1), pipes, 3);
      tp_note ("%s: path now %s", nodes[i == 1 ? BEN : ALYSSA].name, path);
      g_free (path);
    }
    pipes_run_for (pipes, 3, 1500);
    node_start (MIT);
    tp_note ("mit started again on port %u", nodes[MIT].port);
    /* The fail-back: each leaf's stream comes through mit again. */
    for (i = 1; i < 3; i++) {
      path = wait_path (&nodes[i == 1 ? BEN : ALYSSA], &nodes[MIT], TRUE,
          20000, pipes, 3);
      tp_note ("%s: back on mit, path %s", nodes[i == 1 ? BEN : ALYSSA].name,
          path);
      g_free (path);
    }
    /* The relay's own account: the link to mit is its upstream again, to
     * the source none is active, and the fail-over was counted. */
    for (i = 1; i < 3; i++) {
      Node *leaf = &nodes[i == 1 ? BEN : ALYSSA];
      gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
      gint64 failovers = -1;
      gchar *to_mit = NULL, *to_source = NULL;

      for (;;) {
        g_free (to_mit);
        g_free (to_source);
        to_mit = link_kind (leaf, &nodes[MIT], &failovers);
        to_source = link_kind (leaf, &nodes[SOURCE], NULL);
        if (!g_strcmp0 (to_mit, "upstream") && !to_source
            && failovers >= (gint64) r + 1)
          break;
        tp_check (g_get_monotonic_time () < end, "%s: 5 s after its "
            "stream came back through mit, its stats show the link to mit "
            "as %s, to the source as %s, %" G_GINT64_FORMAT " fail-overs "
            "(want upstream, none, %u)", leaf->name, to_mit ? to_mit :
            "absent", to_source ? to_source : "absent", failovers, r + 1);
        pipes_check (pipes, 3);
        tp_sleep_ms (100);
      }
      g_free (to_mit);
      g_free (to_source);
    }
    /* Past the move back, at least one more GOP through mit. */
    for (i = 1; i < 3; i++)
      wait_frames (pipes, 3, pipes[i], collector_count (&pipes[i]->col) +
          2 * GOP, 10000);
  }
  finish_stream (pub, pipes, 3);
  for (i = 1; i < 3; i++)
    check_identical (pub, pipes[i], FALSE);
  g_print ("failover: %u kill -9 of mit; ben and alyssa decoded every "
      "frame once (%u and %u frames, no gap), first frame via the fallback "
      "at most %.0f ms after a kill, and moved back to mit each time\n",
      rounds, pipes[1]->col.sums->len, pipes[2]->col.sums->len, worst / 1e3);
  for (i = 0; i < 3; i++)
    pipe_free (pipes[i]);
  tree_stop ();
}

static void
test_failover (void)
{
  run_failover (1);
}

static void
test_failover_repeat (void)
{
  run_failover (3);
}

/* A camera publishing at john (under harvard) is watched at ben (under mit):
 * john announces it up to the root, ben's SUBSCRIBE goes up through mit and
 * the source pulls it down from harvard and john. */
static void
test_across (void)
{
  Pipe *pipes[2], *pub;
  gchar *path;

  tree_start ();
  pub = pipes[0] = publisher_new (&nodes[JOHN], -1);
  pipe_play (pub);
  wait_frames (pipes, 1, pub, 30, 20000);
  pipes[1] = viewer_new (&nodes[BEN]);
  pipe_play (pipes[1]);
  wait_frames (pipes, 2, pipes[1], 60, 20000);
  path = wait_path (&nodes[BEN], &nodes[JOHN], TRUE, 5000, pipes, 2);
  tp_note ("ben: path of '%s' is %s", STREAM, path);
  tp_check (g_str_has_prefix (path, nodes[JOHN].address), "ben: the path of "
      "'%s' (%s) does not start at john (%s), where it is published", STREAM,
      path, nodes[JOHN].address);
  g_free (path);
  finish_stream (pub, pipes, 2);
  check_identical (pub, pipes[1], FALSE);
  g_print ("across: published at john, %u frames decoded identical at ben\n",
      pipes[1]->col.sums->len);
  pipe_free (pipes[1]);
  pipe_free (pub);
  tree_stop ();
}

static guint
free_port (void)
{
  struct sockaddr_in sa = { 0 };
  socklen_t len = sizeof sa;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint port;

  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  tp_check (fd >= 0 && bind (fd, (struct sockaddr *) &sa, sizeof sa) == 0
      && getsockname (fd, (struct sockaddr *) &sa, &len) == 0,
      "cannot find a free port");
  port = ntohs (sa.sin_port);
  close (fd);
  return port;
}

/* The first log line of @p about a loop or a cycle (a copy), or NULL. */
static gchar *
refusal_line (Proc * p)
{
  gchar *line = proc_find_text (p, 0, "loop", NULL);

  return line ? line : proc_find_text (p, 0, "cycle", NULL);
}

#define CYCLE_WATCH_MS 10000
#define CYCLE_MAX_CLOSES 40

/* Relays A and B name each other as upstream: the link that would close the
 * cycle is refused with a log line saying so, and neither hammers the other
 * (connections bounded), and both keep serving. */
static void
test_cycle (void)
{
  guint port_b = free_port ();
  gchar *key_a = tmp_file ("a", ".pem"), *key_b = tmp_file ("b", ".pem");
  gchar *up_b = g_strdup_printf ("127.0.0.1:%u", port_b), *up_a;
  gchar *conf_a = tmp_file ("a", ".conf"), *conf_b = tmp_file ("b", ".conf");
  gchar *addr_a = key_address (key_a), *addr_b = key_address (key_b);
  const gchar *kid_a[] = { addr_b, NULL }, *kid_b[] = { addr_a, NULL };
  const gchar *args_a[] = { "--upstream", up_b, "--config", conf_a, NULL };
  const gchar *args_b[] = { "--upstream", NULL, "--config", conf_b, NULL };
  Proc *a, *b;
  gint64 t_loop, end;
  gchar *line;
  guint closes;

  /* each accepts the other as a child: what refuses the second link must
   * be the cycle, not the list */
  write_children_conf (conf_a, kid_a);
  write_children_conf (conf_b, kid_b);
  a = relay_spawn ("A", NULL, "127.0.0.1", 0, key_a, args_a);
  up_a = g_strdup_printf ("127.0.0.1:%u", a->port);
  args_b[1] = up_a;
  b = relay_spawn ("B", NULL, "127.0.0.1", port_b, key_b, args_b);

  /* The refusal's log line names the loop (ERROR 104 LOOP) or the cycle. */
  end = g_get_monotonic_time () + 15 * G_TIME_SPAN_SECOND;
  while (!(line = refusal_line (a)) && !(line = refusal_line (b))) {
    tp_check (g_get_monotonic_time () < end, "neither A nor B logged a "
        "refused link ('loop' or 'cycle') within 15 s of naming each other "
        "as upstream");
    tp_check (!a->eof && !b->eof, "a relay of the cycle exited");
    tp_sleep_ms (50);
  }
  tp_note ("refused: %s", line);
  g_free (line);
  /* Bounded: count the connections each side closes meanwhile. */
  t_loop = g_get_monotonic_time ();
  tp_sleep_ms (CYCLE_WATCH_MS);
  closes = proc_count (a, t_loop, "closing ", NULL) + proc_count (b, t_loop,
      "closing ", NULL);
  tp_note ("%u connections closed by A and B in %u ms after the refusal",
      closes, CYCLE_WATCH_MS);
  tp_check (closes <= CYCLE_MAX_CLOSES, "A and B closed %u connections in "
      "%u ms after refusing the cycle (at most %u: retries must back off)",
      closes, CYCLE_WATCH_MS, CYCLE_MAX_CLOSES);
  tp_check (!a->eof && !b->eof, "a relay of the cycle exited");
  relay_stop (a);
  relay_stop (b);
  g_print ("cycle: refused; %u connections closed in the %u ms after\n",
      closes, CYCLE_WATCH_MS);
  proc_free (a);
  proc_free (b);
  g_free (up_a);
  g_free (up_b);
  g_free (conf_a);
  g_free (conf_b);
  g_free (addr_a);
  g_free (addr_b);
  g_free (key_a);
  g_free (key_b);
}

/* @n viewers (diode-load, one process) of the stream at each of @leaves;
 * the source must serve one copy per pulling child, the leaves' parents one
 * per leaf. */
static void
run_one_copy (const guint * leaves, guint nleaves, guint n)
{
  /* Many viewers from 127.0.0.1 at once: lift the per-address caps meant
   * for one attacker (as bench/lib.sh does). */
  const gchar *extra[] = { "--max-pending-per-address", "1000",
    "--max-connections-per-address", "1000", NULL
  };
  Pipe *pipes[1], *pub;
  Proc *load[4];
  gint64 end;
  guint i, parents = 0, want_parents[2] = { 0, 0 };
  gdouble ratio = -1;
  gint root_viewers;

  tree_extra = extra;
  tree_start ();
  pub = pipes[0] = publisher_new (&nodes[SOURCE], -1);
  pipe_play (pub);
  wait_frames (pipes, 1, pub, 15, 20000);
  for (i = 0; i < nleaves; i++) {
    load[i] = load_start (&nodes[leaves[i]], n);
    if (seed[leaves[i]].upstream == MIT)
      want_parents[0] = 1;
    else
      want_parents[1] = 1;
  }
  parents = want_parents[0] + want_parents[1];
  /* Every viewer attached at its leaf. */
  end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  for (i = 0; i < nleaves; i++) {
    gint got;

    while ((got = rstats_viewers (nodes[leaves[i]].stats, STREAM, NULL, NULL))
        < (gint) n) {
      pipes_check (pipes, 1);
      tp_check (!load[i]->eof, "diode-load at %s exited",
          nodes[leaves[i]].name);
      tp_check (g_get_monotonic_time () < end, "%s: %d viewers of '%s' in "
          "its stats after 30 s, want %u", nodes[leaves[i]].name, got,
          STREAM, n);
      tp_sleep_ms (200);
    }
  }
  /* Two stats periods more: what the source serves now is steady. */
  pipes_run_for (pipes, 1, 2500);
  {
    gchar *first = NULL;

    root_viewers = rstats_viewers (nodes[SOURCE].stats, STREAM, &first, &ratio);
    tp_note ("source: %d subscribers of '%s' (first %s), bytes out / in "
        "%.2f", root_viewers, STREAM, first ? first : "-", ratio);
    tp_check (root_viewers == (gint) parents, "the source serves '%s' to %d "
        "subscribers with %u viewers at each of %u leaves; want %u (one per "
        "pulling child relay)", STREAM, root_viewers, n, nleaves, parents);
    if (parents == 1)
      tp_check (!g_strcmp0 (first, nodes[MIT].address), "the source's one "
          "subscriber is %s, not mit (%s)", first, nodes[MIT].address);
    g_free (first);
  }
  tp_check (ratio > 0 && ratio < parents + 0.5, "the source sent %.2f times "
      "the bytes it received for '%s' (want about %u)", ratio, STREAM,
      parents);
  for (i = MIT; i <= HARVARD; i++) {
    gint v = rstats_viewers (nodes[i].stats, STREAM, NULL, NULL);
    guint want = 0, j;

    for (j = 0; j < nleaves; j++)
      if (seed[leaves[j]].upstream == (gint) i)
        want++;
    tp_check (v == (gint) want || (want == 0 && v <= 0), "%s serves '%s' to "
        "%d subscribers, want %u (one per leaf below it that pulls)",
        nodes[i].name, STREAM, v, want);
  }
  g_print ("one-copy: %u viewers at each of %u leaves; the source serves %d "
      "subscriber(s), bytes out / in = %.2f\n", n, nleaves, root_viewers,
      ratio);
  for (i = 0; i < nleaves; i++)
    load_stop (load[i]);
  pipe_free (pub);
  tree_stop ();
  tree_extra = NULL;
}

static void
test_one_copy (void)
{
  const guint leaves[] = { BEN };
  run_one_copy (leaves, 1, 100);
}

static void
test_one_copy_all (void)
{
  const guint leaves[] = { BEN, ALYSSA, JOHN, LAWRENCE };
  run_one_copy (leaves, 4, 100);
}

/* Waits until @at's stats count @n viewers of the stream. */
static void
wait_leaf_viewers (guint at, guint n, Proc * load, Pipe ** pipes, guint np)
{
  gint64 end = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;
  gint got;

  while ((got = rstats_viewers (nodes[at].stats, STREAM, NULL, NULL))
      < (gint) n) {
    pipes_check (pipes, np);
    tp_check (!load->eof, "diode-load at %s exited", nodes[at].name);
    tp_check (g_get_monotonic_time () < end, "%s: %d viewers of '%s' in its "
        "stats after 30 s, want %u", nodes[at].name, got, STREAM, n);
    tp_sleep_ms (200);
  }
}

/* Issue 9 item 5: a relay restarting under a crowd does not make its
 * upstream open a link per viewer. ben is killed with 100 viewers and
 * started again, and 100 viewers join it at once (one diode-load, all
 * within 200 ms): ben opens one pull of the stream and mit serves it once. */
static void
test_restart_crowd (void)
{
  const gchar *extra[] = { "--max-pending-per-address", "1000",
    "--max-connections-per-address", "1000", NULL
  };
  Pipe *pipes[1], *pub;
  Proc *load;
  guint pulls;
  gint at_mit;

  tree_extra = extra;
  tree_start ();
  pub = pipes[0] = publisher_new (&nodes[SOURCE], -1);
  pipe_play (pub);
  wait_frames (pipes, 1, pub, 15, 20000);
  load = load_start (&nodes[BEN], 100);
  wait_leaf_viewers (BEN, 100, load, pipes, 1);
  node_kill9 (BEN);
  load_stop (load);
  g_unlink (nodes[BEN].stats);  /* the dead relay's last numbers */
  node_start (BEN);
  tp_note ("ben started again; 100 viewers join it at once");
  load = load_start (&nodes[BEN], 100);
  wait_leaf_viewers (BEN, 100, load, pipes, 1);
  pipes_run_for (pipes, 1, 2500);
  pulls = proc_count (nodes[BEN].p, 0, "pulling '" STREAM "' from upstream",
      NULL);
  at_mit = rstats_viewers (nodes[MIT].stats, STREAM, NULL, NULL);
  tp_check (pulls == 1, "ben opened %u pulls of '%s' for 100 viewers joining "
      "at once after its restart; want 1", pulls, STREAM);
  tp_check (at_mit == 1, "mit serves '%s' to %d subscribers after ben's "
      "restart; want 1 (ben's one pull)", STREAM, at_mit);
  g_print ("restart-crowd: ben restarted under 100 viewers: 1 pull, mit "
      "serves 1 subscriber\n");
  load_stop (load);
  pipe_free (pub);
  tree_stop ();
  tree_extra = NULL;
}

/* ------------------------------------------------------------------------ */

static const struct {
  const gchar *name;
  void (*fn) (void);
} tests[] = {
  {"tree-seed", test_seed},
  {"tree-failover", test_failover},
  {"tree-across", test_across},
  {"tree-cycle", test_cycle},
  {"tree-one-copy", test_one_copy},
  {"tree-restart-crowd", test_restart_crowd},
  {"tree-failover-repeat", test_failover_repeat},
  {"tree-one-copy-all", test_one_copy_all},
};

/* Does this diode-relay have relay links at all? */
static gboolean
relay_has_links (void)
{
  gchar *out = NULL;
  const gchar *argv[] = { relay_bin (), "--help", NULL };
  gboolean yes;

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL,
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, NULL, NULL))
    return FALSE;
  yes = out && strstr (out, "--upstream") != NULL;
  g_free (out);
  return yes;
}

/* Before the FAIL line: which relay was which (their logs are above, each
 * line prefixed with its name); they die with us (PR_SET_PDEATHSIG). */
static void
fail_note_pids (const gchar * msg)
{
  guint i;

  for (i = 0; i < N_NODES; i++)
    if (nodes[i].p)
      g_printerr ("(%s: pid %d)\n", nodes[i].name, proc_pid (nodes[i].p));
}

int
main (int argc, char **argv)
{
  GError *err = NULL;
  guint i;

  if (argc != 2) {
    g_printerr ("usage: test-tree TEST\ntests:");
    for (i = 0; i < G_N_ELEMENTS (tests); i++)
      g_printerr (" %s", tests[i].name);
    g_printerr ("\n");
    return 2;
  }
  signal (SIGPIPE, SIG_IGN);
  tp_t_start = g_get_monotonic_time ();
  for (i = 0; i < G_N_ELEMENTS (tests); i++) {
    if (strcmp (tests[i].name, argv[1]))
      continue;
    tp_test_name = tests[i].name;
    if (!relay_has_links ()) {
      g_print ("SKIP %s: %s has no --upstream (relay links not built)\n",
          tp_test_name, relay_bin ());
      return 77;
    }
    tp_tmp_dir = g_dir_make_tmp ("gst-diode-tree-XXXXXX", &err);
    if (!tp_tmp_dir) {
      g_printerr ("test-tree: %s\n", err->message);
      return 1;
    }
    /* The in-process pipelines keep their identity and known relays here
     * too: set before GLib reads XDG_CONFIG_HOME (once per process). */
    g_setenv ("XDG_CONFIG_HOME", tp_tmp_dir, TRUE);
    gst_init (&argc, &argv);
    tp_fail_handler = fail_note_pids;
    g_printerr ("[%7.3f] ==== %s (XDG_CONFIG_HOME=%s)\n", 0.0, tp_test_name,
        tp_tmp_dir);
    tests[i].fn ();
    g_print ("PASS %s (%.1f s)\n", tp_test_name,
        tp_secs (g_get_monotonic_time ()));
    tp_cleanup_tmp ();
    return 0;
  }
  g_printerr ("test-tree: no test '%s'\n", argv[1]);
  return 2;
}
