/* gst-diode — a stream's fan-out spread over I/O threads
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * At a few hundred viewers the relay's one I/O thread spends nearly all its
 * time encrypting and writing the same frames to viewer after viewer (the
 * kernel's TCP path and AES-GCM: docs/performance.md), and the last viewer
 * served waits for all the others. The relay thread still owns everything;
 * what it hands out is only that write: when a stream's frames are fanned
 * out to many viewers, the viewers that only need ring frames written
 * (no reply queued, no WebSocket, no replay, socket not full) are split in
 * shares, one per worker thread and one for the relay thread, and each
 * thread runs conn_write_ring on its share, touching nothing but those
 * viewers' own cursor, TLS session and socket; the ring is only read (the
 * relay thread, which alone pushes into it, is busy with its own share),
 * and its chunks are shared by atomic reference counts. The relay thread
 * waits for the workers, then finishes every viewer of the fan-out (the
 * logs, join notes, closes and epoll changes the writes called for) as if
 * it had written them itself.
 *
 * `io-threads` (diode-relay --io-threads) says how many threads write:
 * 1 is the single-threaded relay, the default is 2 on a machine with two
 * cores or more.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/epoll.h>

#include "diode-relay-private.h"

/* Below this many viewers to write at once, one thread does it: waking a
 * worker costs more than it saves. */
#define FANOUT_MIN_SPREAD 32

typedef struct
{
  RelayFanout *fo;
  GThread *thread;
  RelayTx tx;
  Conn **conns;                 /* its share: set by the relay thread */
  guint n;
  gboolean go;                  /* under fo->lock */
} Worker;

struct _RelayFanout
{
  GMutex lock;
  GCond go_cond;                /* a share for a worker, or quit */
  GCond done_cond;              /* a worker finished its share */
  guint busy;                   /* workers still writing */
  gboolean quit;
  Worker *workers;
  guint n_workers;
  GPtrArray *spread;            /* Conn*: this fan-out's spread viewers */
  GPtrArray *serial;            /* Conn*: the rest, written as always */
};

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  RelayFanout *fo = w->fo;

  g_mutex_lock (&fo->lock);
  for (;;) {
    guint i;

    while (!w->go && !fo->quit)
      g_cond_wait (&fo->go_cond, &fo->lock);
    if (fo->quit)
      break;
    g_mutex_unlock (&fo->lock);
    for (i = 0; i < w->n; i++)
      conn_write_ring (w->conns[i], &w->tx);
    g_mutex_lock (&fo->lock);
    w->go = FALSE;
    if (--fo->busy == 0)
      g_cond_signal (&fo->done_cond);
  }
  g_mutex_unlock (&fo->lock);
  return NULL;
}

void
relay_fanout_start (DiodeRelay * r)
{
  RelayFanout *fo;
  guint i;

  if (r->io_threads <= 1 || r->fanout)
    return;
  fo = g_new0 (RelayFanout, 1);
  g_mutex_init (&fo->lock);
  g_cond_init (&fo->go_cond);
  g_cond_init (&fo->done_cond);
  fo->spread = g_ptr_array_new ();
  fo->serial = g_ptr_array_new ();
  fo->n_workers = r->io_threads - 1;
  fo->workers = g_new0 (Worker, fo->n_workers);
  for (i = 0; i < fo->n_workers; i++) {
    Worker *w = &fo->workers[i];

    w->fo = fo;
    w->tx.buf = g_malloc (DIODE_TLS_MAX_RECORD);
    w->tx.deferred = TRUE;
    w->thread = g_thread_new ("diode-relay-tx", worker_main, w);
  }
  r->fanout = fo;
}

void
relay_fanout_stop (DiodeRelay * r)
{
  RelayFanout *fo = r->fanout;
  guint i;

  if (!fo)
    return;
  g_mutex_lock (&fo->lock);
  fo->quit = TRUE;
  g_cond_broadcast (&fo->go_cond);
  g_mutex_unlock (&fo->lock);
  for (i = 0; i < fo->n_workers; i++) {
    g_thread_join (fo->workers[i].thread);
    g_free (fo->workers[i].tx.buf);
  }
  g_free (fo->workers);
  g_ptr_array_unref (fo->spread);
  g_ptr_array_unref (fo->serial);
  g_cond_clear (&fo->go_cond);
  g_cond_clear (&fo->done_cond);
  g_mutex_clear (&fo->lock);
  g_free (fo);
  r->fanout = NULL;
}

/* The workers' counters into the relay's (stats read those). */
static void
fanout_collect (DiodeRelay * r, Worker * w)
{
  r->tx.records += w->tx.records;
  r->tx.gathered += w->tx.gathered;
  r->tx.blocked += w->tx.blocked;
  w->tx.records = w->tx.gathered = w->tx.blocked = 0;
}

gboolean
relay_fanout_spread (DiodeRelay * r, GPtrArray * viewers, guint start)
{
  RelayFanout *fo = r->fanout;
  guint i, n = viewers->len, shares, per, at;
  gboolean deferred;

  if (!fo || n < FANOUT_MIN_SPREAD)
    return FALSE;
  g_ptr_array_set_size (fo->spread, 0);
  g_ptr_array_set_size (fo->serial, 0);
  for (i = 0; i < n; i++) {
    Conn *v = g_ptr_array_index (viewers, (start + i) % n);

    /* Viewers blocked on a full socket resume from EPOLLOUT. */
    if (v->dead || (v->events & EPOLLOUT))
      continue;
    if (conn_write_ring_ready (v))
      g_ptr_array_add (fo->spread, v);
    else
      g_ptr_array_add (fo->serial, v);
  }
  if (fo->spread->len < FANOUT_MIN_SPREAD) {
    /* not worth it this time: as one thread would */
    for (i = 0; i < fo->spread->len; i++)
      conn_flush (g_ptr_array_index (fo->spread, i));
    for (i = 0; i < fo->serial->len; i++)
      conn_flush (g_ptr_array_index (fo->serial, i));
    return TRUE;
  }

  /* Equal shares in the rotating order: the relay thread takes the first
   * (so the fan-out's first viewers are served as soon as without it). */
  shares = fo->n_workers + 1;
  per = (fo->spread->len + shares - 1) / shares;
  at = MIN (per, fo->spread->len);
  g_mutex_lock (&fo->lock);
  for (i = 0; i < fo->n_workers; i++) {
    Worker *w = &fo->workers[i];
    guint take = MIN (per, fo->spread->len - at);

    w->conns = (Conn **) fo->spread->pdata + at;
    w->n = take;
    at += take;
    if (take) {
      w->go = TRUE;
      fo->busy++;
    }
  }
  g_cond_broadcast (&fo->go_cond);
  g_mutex_unlock (&fo->lock);

  deferred = r->tx.deferred;
  r->tx.deferred = TRUE;
  for (i = 0; i < MIN (per, fo->spread->len); i++)
    conn_write_ring (g_ptr_array_index (fo->spread, i), &r->tx);
  r->tx.deferred = deferred;

  g_mutex_lock (&fo->lock);
  while (fo->busy)
    g_cond_wait (&fo->done_cond, &fo->lock);
  g_mutex_unlock (&fo->lock);

  for (i = 0; i < fo->n_workers; i++)
    fanout_collect (r, &fo->workers[i]);
  r->fanout_spread++;
  /* back on one thread: what the writes called for */
  for (i = 0; i < fo->spread->len; i++)
    conn_write_ring_done (g_ptr_array_index (fo->spread, i));
  for (i = 0; i < fo->serial->len; i++)
    conn_flush (g_ptr_array_index (fo->serial, i));
  return TRUE;
}
