/* gst-diode — helpers shared by the direct-path unit tests
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "directcheck.h"
#include "testproc.h"

#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>

static gchar *tmp_root;

void
dc_setup_tmp (const gchar * name)
{
  gchar *tmpl = g_strdup_printf ("diode-test-%s-XXXXXX", name);

  tmp_root = g_dir_make_tmp (tmpl, NULL);
  g_free (tmpl);
  g_assert (tmp_root != NULL);
  g_setenv ("XDG_CONFIG_HOME", tmp_root, TRUE);
}

void
dc_teardown_tmp (void)
{
  tp_rm_rf (tmp_root);
  g_free (tmp_root);
}

DiodeIdentity *
dc_identity (const gchar * name)
{
  gchar *path = g_strdup_printf ("%s/%s-%u.pem", tmp_root, name,
      g_random_int ());
  GError *error = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (path, &error);

  fail_unless (id != NULL, "identity: %s", error ? error->message : "");
  g_free (path);
  return id;
}

GBytes *
dc_caps (void)
{
  return diode_msg_encode_caps ("video/x-h264, stream-format=(string)"
      "byte-stream, alignment=(string)au, width=(int)320, height=(int)240");
}

GBytes *
dc_media (guint64 seq, gboolean keyframe, gsize size)
{
  guint8 *data = g_malloc (size);
  GBytes *f;
  gsize i;

  for (i = 0; i < size; i++)
    data[i] = (guint8) (seq * 131 + i * 7);
  f = diode_msg_encode_media (seq, seq * 33333333, seq * 33333333, 33333333,
      G_MAXUINT64, G_MAXUINT64, keyframe ? DIODE_MEDIA_KEYFRAME : 0, data,
      size);
  g_free (data);
  return f;
}

gboolean
dc_wait_fd (int fd, guint timeout_ms)
{
  struct pollfd p = { fd, POLLIN, 0 };

  return poll (&p, 1, (int) timeout_ms) == 1;
}

DiodeDirectEvent
dc_viewer_next (DiodeDirectViewer * v, DiodeMsg * msg, gchar ** text,
    guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    DiodeDirectEvent e = diode_direct_viewer_next (v, msg, text);
    gint64 left;

    if (e != DIODE_DIRECT_NONE)
      return e;
    left = (end - g_get_monotonic_time ()) / 1000;
    if (left <= 0)
      return DIODE_DIRECT_NONE;
    /* readable also while only SIGNALs wait: poll in short steps */
    if (dc_wait_fd (diode_direct_viewer_get_fd (v), 0))
      g_usleep (1000);
    else
      dc_wait_fd (diode_direct_viewer_get_fd (v), MIN (left, 50));
  }
}

static gboolean
parse_signal (GBytes * f, DiodeMsg * m)
{
  GError *err = NULL;
  gboolean ok = diode_msg_parse_v (f, 4, DIODE_ROLE_VIEWER, m, &err);

  fail_unless (ok, "SIGNAL frame: %s", err ? err->message : "");
  fail_unless_equals_int (m->type, DIODE_MSG_SIGNAL);
  g_bytes_unref (f);
  return TRUE;
}

gboolean
dc_server_signal (DiodeDirectServer * s, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    GBytes *f = diode_direct_server_next_signal (s);

    if (f)
      return parse_signal (f, m);
    if (g_get_monotonic_time () >= end)
      return FALSE;
    dc_wait_fd (diode_direct_server_get_fd (s), 50);
  }
}

gboolean
dc_viewer_signal (DiodeDirectViewer * v, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;) {
    GBytes *f = diode_direct_viewer_next_signal (v);

    if (f)
      return parse_signal (f, m);
    if (g_get_monotonic_time () >= end)
      return FALSE;
    /* the fd is also readable while events wait: short steps */
    g_usleep (10 * 1000);
  }
}

gboolean
dc_admit_all (const gchar * viewer, gpointer data)
{
  return TRUE;
}

gboolean
dc_admit_none (const gchar * viewer, gpointer data)
{
  return FALSE;
}
