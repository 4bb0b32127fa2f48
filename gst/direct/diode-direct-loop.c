/* gst-diode — direct paths: the thread, the element's eventfd, small helpers
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-direct-private.h"

#include <gio/gio.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* How long the stopped loop goes on for work still attached to it. */
#define DRAIN_MS 2000

/* After the loop quit: runs what is still attached to the context until
 * nothing is (at most DRAIN_MS). Idles queued before the stop (signals,
 * wakes) run against the torn down owner, which expects it. And an ICE
 * agent with TURN allocations is closed with nice_agent_close_async
 * (ext/nice diode_ice_free): its sockets and timers stay on this context
 * until the TURN server answered the deallocation or libnice gave up, and
 * only then is the agent freed. A non-blocking drain left them, the
 * agent, its sockets and the context leaked at every teardown with TURN.
 * "Nothing attached" is read from the context itself: no source ready,
 * none with a timeout, and no fd but the context's own wakeup one. */
static void
loop_drain (GMainContext * ctx)
{
  gint64 end = g_get_monotonic_time () + DRAIN_MS * G_TIME_SPAN_MILLISECOND;
  gint nfds = 8, n, prio, timeout;
  GPollFD *fds = g_new (GPollFD, nfds);
  guint i;

  if (!g_main_context_acquire (ctx)) {
    g_free (fds);
    return;                     /* never: the loop that held it is over */
  }
  for (i = 0; i < 100000; i++) {
    gboolean ready = g_main_context_prepare (ctx, &prio);
    gint64 left;

    while ((n = g_main_context_query (ctx, ready ? prio : G_MAXINT,
                &timeout, fds, nfds)) > nfds) {
      nfds = n;
      fds = g_renew (GPollFD, fds, nfds);
    }
    left = (end - g_get_monotonic_time ()) / G_TIME_SPAN_MILLISECOND;
    if ((!ready && n <= 1 && timeout < 0) || left <= 0) {
      /* check() ends the iteration prepare() began */
      g_main_context_check (ctx, prio, fds, 0);
      break;
    }
    if (ready)
      timeout = 0;
    else if (timeout < 0 || timeout > left)
      timeout = (gint) left;
    if (g_poll (fds, n, timeout) < 0 && errno != EINTR)
      n = 0;
    if (g_main_context_check (ctx, prio, fds, n))
      g_main_context_dispatch (ctx);
  }
  g_main_context_release (ctx);
  g_free (fds);
}

static gpointer
loop_thread (gpointer data)
{
  DirectLoop *l = data;

  g_main_context_push_thread_default (l->ctx);
  g_main_loop_run (l->loop);
  loop_drain (l->ctx);
  g_main_context_pop_thread_default (l->ctx);
  return NULL;
}

void
direct_loop_start (DirectLoop * l, const gchar * name)
{
  l->ctx = g_main_context_new ();
  l->loop = g_main_loop_new (l->ctx, FALSE);
  l->thread = g_thread_new (name, loop_thread, l);
}

void
direct_loop_invoke (DirectLoop * l, GSourceFunc func, gpointer data,
    GDestroyNotify destroy)
{
  /* an idle source rather than g_main_context_invoke: that one runs the
   * function in the caller's thread when it can acquire the context */
  GSource *src = g_idle_source_new ();

  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, func, data, destroy);
  g_source_attach (src, l->ctx);
  g_source_unref (src);
}

static void
signal_in_free (gpointer data)
{
  DirectSignalIn *in = data;

  g_free (in->peer);
  g_free (in->data);
  g_free (in);
}

void
direct_loop_invoke_signal (DirectLoop * l, GSourceFunc func, gpointer owner,
    const DiodeMsg * m)
{
  DirectSignalIn *in = g_new0 (DirectSignalIn, 1);

  in->owner = owner;
  in->sid = m->sid;
  in->kind = m->signal_kind;
  in->peer = g_strdup (m->peer);
  in->data = g_strdup (m->signal_data ? m->signal_data : "");
  direct_loop_invoke (l, func, in, signal_in_free);
}

typedef struct {
  GSourceFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} SyncCall;

static gboolean
sync_call_run (gpointer data)
{
  SyncCall *s = data;

  s->func (s->data);
  g_mutex_lock (&s->lock);
  s->done = TRUE;
  g_cond_signal (&s->cond);
  g_mutex_unlock (&s->lock);
  return G_SOURCE_REMOVE;
}

void
direct_loop_call_sync (DirectLoop * l, GSourceFunc func, gpointer data)
{
  SyncCall s = { func, data };

  g_mutex_init (&s.lock);
  g_cond_init (&s.cond);
  direct_loop_invoke (l, sync_call_run, &s, NULL);
  g_mutex_lock (&s.lock);
  while (!s.done)
    g_cond_wait (&s.cond, &s.lock);
  g_mutex_unlock (&s.lock);
  g_mutex_clear (&s.lock);
  g_cond_clear (&s.cond);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

void
direct_loop_stop (DirectLoop * l)
{
  if (!l->thread)
    return;
  direct_loop_invoke (l, quit_loop, l->loop, NULL);
  g_thread_join (l->thread);
  l->thread = NULL;
  g_main_loop_unref (l->loop);
  g_main_context_unref (l->ctx);
  l->loop = NULL;
  l->ctx = NULL;
}

gboolean
direct_notify_init (DirectNotify * n, GError ** error)
{
  n->set = FALSE;
  n->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (n->fd < 0) {
    int e = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
        "eventfd: %s", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

void
direct_notify_clear (DirectNotify * n)
{
  if (n->fd >= 0)
    close (n->fd);
  n->fd = -1;
}

void
direct_notify_raise (DirectNotify * n)
{
  guint64 one = 1;

  if (n->set)
    return;
  /* a counter of 1 cannot overflow: write only fails on EINTR */
  while (write (n->fd, &one, sizeof one) < 0 && errno == EINTR);
  n->set = TRUE;
}

void
direct_notify_lower (DirectNotify * n)
{
  guint64 v;

  if (!n->set)
    return;
  while (read (n->fd, &v, sizeof v) < 0 && errno == EINTR);
  n->set = FALSE;
}

const gchar *const *
direct_env_local_addresses (void)
{
  static gsize once = 0;
  static gchar **addresses = NULL;

  if (g_once_init_enter (&once)) {
    const gchar *env = g_getenv ("DIODE_ICE_LOCAL_ADDRESSES");

    if (env && *env) {
      gchar **v = g_strsplit (env, ",", 16);
      guint i, n = 0;

      for (i = 0; v[i]; i++) {
        g_strstrip (v[i]);
        if (*v[i])
          v[n++] = v[i];
        else
          g_free (v[i]);
      }
      v[n] = NULL;
      addresses = v;
    }
    g_once_init_leave (&once, 1);
  }
  return (const gchar * const *) addresses;
}

gchar *
direct_escape (const gchar * text)
{
  gchar *esc, *cut;

  if (!text)
    return g_strdup ("");
  cut = g_utf8_make_valid (text, MIN (strlen (text), 400));
  esc = g_strescape (cut, NULL);
  g_free (cut);
  if (g_utf8_strlen (esc, -1) > 200) {
    gchar *end = g_utf8_offset_to_pointer (esc, 200);

    *end = '\0';
  }
  return esc;
}
