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

static gpointer
loop_thread (gpointer data)
{
  DirectLoop *l = data;
  guint i;

  g_main_context_push_thread_default (l->ctx);
  g_main_loop_run (l->loop);
  /* idles queued before the stop (signals, wakes) run against the torn
   * down owner, which expects it; bounded, should a source re-arm */
  for (i = 0; i < 1000 && g_main_context_iteration (l->ctx, FALSE); i++);
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
