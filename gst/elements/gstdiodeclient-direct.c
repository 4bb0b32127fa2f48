/* gst-diode — what both elements share for direct paths
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The STUN and TURN settings (properties, their check at start, the
 * default STUN server: the relay's own answer, announced in WELCOME's v4
 * block), diodesrc's `direct` mode enum, the identity a direct path
 * presents, and the "diode-path" element message. The paths themselves
 * are gst/direct's (DiodeDirectServer, DiodeDirectViewer); the elements
 * only carry their SIGNAL frames over the relay connection
 * (docs/protocol.md section 17).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodeclient.h"
#include "diode-ice.h"

#include <string.h>

GType
gst_diode_direct_mode_get_type (void)
{
  static gsize id = 0;
  static const GEnumValue values[] = {
    {GST_DIODE_DIRECT_NEVER, "Always the relay path", "never"},
    {GST_DIODE_DIRECT_AUTO, "A direct path to the publisher when it offers "
          "one and ICE connects; the relay path meanwhile and as fallback",
        "auto"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&id)) {
    GType t = g_enum_register_static ("GstDiodeDirectMode", values);
    g_once_init_leave (&id, t);
  }
  return (GType) id;
}

void
gst_diode_client_install_direct_properties (GObjectClass * klass)
{
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  g_object_class_install_property (klass, GST_DIODE_PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server for direct paths: HOST:PORT, stun:HOST:PORT, or none "
          "(no server-reflexive candidates). NULL: the relay's own STUN "
          "answer when it offers one (diode-relay --stun)", NULL, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_TURN_SERVER,
      g_param_spec_string ("turn-server", "TURN server",
          "TURN server for direct paths when no direct route exists: "
          "turn://USER:PASS@HOST:PORT[?transport=udp|tcp] (turns://, TURN "
          "over TLS, is refused: libnice would not use TLS). NULL: none. "
          "Read back with the password as *** (turn://USER:***@HOST:PORT)",
          NULL, f));
}

gboolean
gst_diode_client_set_direct_property (GstDiodeClient * c, guint prop_id,
    const GValue * value)
{
  gchar **field;

  if (prop_id == GST_DIODE_PROP_STUN_SERVER)
    field = &c->stun_server;
  else if (prop_id == GST_DIODE_PROP_TURN_SERVER)
    field = &c->turn_server;
  else
    return FALSE;
  GST_OBJECT_LOCK (c->element);
  g_free (*field);
  *field = g_value_dup_string (value);
  GST_OBJECT_UNLOCK (c->element);
  return TRUE;
}

/* A TURN URI as turn-server reads: the password (what follows the first
 * ':' of the user part, up to its last '@') as "***", so that printing
 * the element's properties (gst-launch -v, gst-inspect of a running
 * pipeline, logs) does not give it away, as srtsink keeps its passphrase
 * write-only. */
static gchar *
redact_turn (const gchar * uri)
{
  const gchar *user, *at, *colon;

  if (!uri)
    return NULL;
  user = strstr (uri, "://");
  user = user ? user + 3 : uri;
  at = strrchr (user, '@');
  colon = at ? memchr (user, ':', at - user) : NULL;
  if (!colon)
    return g_strdup (uri);      /* no password in it */
  return g_strdup_printf ("%.*s***%s", (int) (colon + 1 - uri), uri, at);
}

gboolean
gst_diode_client_get_direct_property (GstDiodeClient * c, guint prop_id,
    GValue * value)
{
  if (prop_id == GST_DIODE_PROP_STUN_SERVER) {
    GST_OBJECT_LOCK (c->element);
    g_value_set_string (value, c->stun_server);
    GST_OBJECT_UNLOCK (c->element);
  } else if (prop_id == GST_DIODE_PROP_TURN_SERVER) {
    GST_OBJECT_LOCK (c->element);
    g_value_take_string (value, redact_turn (c->turn_server));
    GST_OBJECT_UNLOCK (c->element);
  } else {
    return FALSE;
  }
  return TRUE;
}

static gboolean
is_none (const gchar * s)
{
  return !s || !*s || !g_ascii_strcasecmp (s, "none");
}

gboolean
gst_diode_client_check_direct (GstDiodeClient * c, GError ** error)
{
  gchar *stun, *turn;
  GError *err = NULL;
  gboolean ok = TRUE;

  GST_OBJECT_LOCK (c->element);
  stun = g_strdup (c->stun_server);
  turn = g_strdup (c->turn_server);
  GST_OBJECT_UNLOCK (c->element);

  /* The URIs are not echoed: turn-server carries a password. */
  if (!is_none (stun) && !diode_ice_check_stun_uri (stun, &err)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "stun-server is not usable (%s): give HOST:PORT, stun:HOST:PORT or "
        "none", err->message);
    ok = FALSE;
  } else if (turn && *turn && !diode_ice_check_turn_uri (turn, &err)) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "turn-server is not usable (%s): give "
        "turn://USER:PASS@HOST:PORT[?transport=udp|tcp]",
        err->message);
    ok = FALSE;
  }
  g_clear_error (&err);
  g_free (stun);
  g_free (turn);
  return ok;
}

gchar *
gst_diode_client_stun_server (GstDiodeClient * c)
{
  gchar *stun;

  GST_OBJECT_LOCK (c->element);
  stun = g_strdup (c->stun_server);
  GST_OBJECT_UNLOCK (c->element);
  if (stun && *stun) {
    if (!g_ascii_strcasecmp (stun, "none"))
      g_clear_pointer (&stun, g_free);
    return stun;
  }
  g_free (stun);
  /* The relay in use answers STUN at the address we reached it on. */
  if (!c->stun_port || !c->relay_host)
    return NULL;
  if (strchr (c->relay_host, ':'))
    return g_strdup_printf ("[%s]:%u", c->relay_host, c->stun_port);
  return g_strdup_printf ("%s:%u", c->relay_host, c->stun_port);
}

gchar *
gst_diode_client_turn_server (GstDiodeClient * c)
{
  gchar *turn;

  GST_OBJECT_LOCK (c->element);
  turn = g_strdup (c->turn_server);
  GST_OBJECT_UNLOCK (c->element);
  if (turn && !*turn)
    g_clear_pointer (&turn, g_free);
  return turn;
}

DiodeIdentity *
gst_diode_client_identity (GstDiodeClient * c, GError ** error)
{
  gchar *identity;
  GError *err = NULL;

  if (c->id)
    return c->id;
  GST_OBJECT_LOCK (c->element);
  identity = g_strdup (c->identity);
  GST_OBJECT_UNLOCK (c->element);
  c->id = diode_identity_load_or_create (identity, &err);
  g_free (identity);
  if (!c->id) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
        "Cannot load identity: %s", err->message);
    g_error_free (err);
  }
  return c->id;
}

void
gst_diode_post_path (GstElement * element, const gchar * path,
    const gchar * pair, guint64 from_seq, const gchar * reason, gint viewers)
{
  GstStructure *s = gst_structure_new ("diode-path",
      "path", G_TYPE_STRING, path,
      "pair", G_TYPE_STRING, pair ? pair : "",
      "from-seq", G_TYPE_UINT64, from_seq,
      "reason", G_TYPE_STRING, reason ? reason : "", NULL);

  if (viewers >= 0)
    gst_structure_set (s, "viewers", G_TYPE_UINT, (guint) viewers, NULL);
  gst_element_post_message (element, gst_message_new_element (GST_OBJECT
          (element), s));
}
