/* gst-diode — the settings both elements share: properties, URI handler
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What a user sets on diodesink or diodesrc (relay or a relay list,
 * stream, identity, relay-id, timeouts, reconnect, uri) and the diode://
 * URI handler behind both, like GstSRTObject's property code. The connection itself lives in
 * gstdiodeclient.c. Settings are read and written under GST_OBJECT_LOCK.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstdiodeclient.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* properties and URI */

void
gst_diode_client_install_properties (GObjectClass * klass,
    guint timeout_default)
{
  GParamFlags f = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY;

  g_object_class_install_property (klass, GST_DIODE_PROP_RELAY,
      g_param_spec_string ("relay", "Relay",
          "Relay to connect to, HOST[:PORT] (port defaults to 7878), or a "
          "comma-separated list of relays tried in order (fail-over); an "
          "entry may pin its relay's identity: 0xADDRESS@HOST[:PORT]",
          GST_DIODE_DEFAULT_RELAY, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_STREAM,
      g_param_spec_string ("stream", "Stream",
          "Name of the stream (NULL: the element's own name)", NULL, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_IDENTITY,
      g_param_spec_string ("identity", "Identity",
          "Key file of this participant, created with mode 0600 if missing "
          "(NULL: $XDG_CONFIG_HOME/diode/identity.pem)", NULL, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_RELAY_ID,
      g_param_spec_string ("relay-id", "Relay ID",
          "Address (0x...) the relay must present (with a relay list: every "
          "entry that does not pin its own); NULL: trust on first use, "
          "recorded in $XDG_CONFIG_HOME/diode/known-relays", NULL, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_RECONNECT,
      g_param_spec_boolean ("reconnect", "Reconnect",
          "When the connection to the relay is lost (not refused), connect "
          "again by itself with backoff and resume", TRUE, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_RECONNECT_DELAY,
      g_param_spec_uint ("reconnect-delay", "Reconnect delay",
          "Wait before the first reconnect attempt (ms); doubled after each "
          "failure", 0, 60000, GST_DIODE_DEFAULT_RECONNECT_DELAY, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_RECONNECT_MAX_DELAY,
      g_param_spec_uint ("reconnect-max-delay", "Reconnect max delay",
          "Longest wait between reconnect attempts (ms)", 0, 600000,
          GST_DIODE_DEFAULT_RECONNECT_MAX_DELAY, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_MAX_RECONNECTS,
      g_param_spec_int ("max-reconnects", "Max reconnects",
          "Failed reconnect attempts in a row before giving up with an error "
          "(-1: never give up)", -1, G_MAXINT,
          GST_DIODE_DEFAULT_MAX_RECONNECTS, f));
  g_object_class_install_property (klass, GST_DIODE_PROP_URI,
      g_param_spec_string ("uri", "URI",
          "diode://HOST[:PORT][,HOST[:PORT]...]/STREAM[?relay-id=0x...]"
          "[&start=...]: "
          "sets relay (one or a list), stream "
          "and relay-id at once (used at the next start); diodesink's "
          "?access=&allow=&fleet= policy query applies at once, also while "
          "playing", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (klass, GST_DIODE_PROP_TIMEOUT,
      g_param_spec_uint ("timeout", "Timeout",
          "Milliseconds to wait for the relay to connect, answer or accept "
          "data; diodesrc also waits this long for a stream that is not "
          "published yet (0: no limit)",
          0, G_MAXUINT, timeout_default, f));
  gst_diode_client_install_direct_properties (klass);
}

gboolean
gst_diode_client_set_property (GstDiodeClient * c, guint prop_id,
    const GValue * value)
{
  GstElement *e = c->element;

  if (gst_diode_client_set_direct_property (c, prop_id, value))
    return TRUE;
  if (prop_id == GST_DIODE_PROP_URI) {
    GError *err = NULL;
    const gchar *uri = g_value_get_string (value);

    if (uri && !gst_diode_client_set_uri (c, uri, &err)) {
      GST_ELEMENT_WARNING (e, RESOURCE, SETTINGS, ("%s", err->message),
          (NULL));
      g_error_free (err);
    }
    return TRUE;
  }

  GST_OBJECT_LOCK (e);
  switch (prop_id) {
    case GST_DIODE_PROP_RELAY:
      g_free (c->relay);
      c->relay = g_value_dup_string (value);
      if (!c->relay)
        c->relay = g_strdup (GST_DIODE_DEFAULT_RELAY);
      break;
    case GST_DIODE_PROP_STREAM:
      g_free (c->stream);
      c->stream = g_value_dup_string (value);
      break;
    case GST_DIODE_PROP_IDENTITY:
      g_free (c->identity);
      c->identity = g_value_dup_string (value);
      /* Loaded again at the next start. */
      g_clear_pointer (&c->id, diode_identity_unref);
      break;
    case GST_DIODE_PROP_RELAY_ID:
      g_free (c->relay_id);
      c->relay_id = g_value_dup_string (value);
      break;
    case GST_DIODE_PROP_TIMEOUT:
      c->timeout = g_value_get_uint (value);
      break;
    case GST_DIODE_PROP_RECONNECT:
      c->reconnect = g_value_get_boolean (value);
      break;
    case GST_DIODE_PROP_RECONNECT_DELAY:
      c->reconnect_delay = g_value_get_uint (value);
      break;
    case GST_DIODE_PROP_RECONNECT_MAX_DELAY:
      c->reconnect_max_delay = g_value_get_uint (value);
      break;
    case GST_DIODE_PROP_MAX_RECONNECTS:
      c->max_reconnects = g_value_get_int (value);
      break;
    default:
      GST_OBJECT_UNLOCK (e);
      return FALSE;
  }
  GST_OBJECT_UNLOCK (e);
  return TRUE;
}

gboolean
gst_diode_client_get_property (GstDiodeClient * c, guint prop_id,
    GValue * value)
{
  GstElement *e = c->element;

  if (gst_diode_client_get_direct_property (c, prop_id, value))
    return TRUE;
  if (prop_id == GST_DIODE_PROP_URI) {
    g_value_take_string (value, gst_diode_client_get_uri (c));
    return TRUE;
  }

  GST_OBJECT_LOCK (e);
  switch (prop_id) {
    case GST_DIODE_PROP_RELAY:
      g_value_set_string (value, c->relay);
      break;
    case GST_DIODE_PROP_STREAM:
      if (c->stream)
        g_value_set_string (value, c->stream);
      else
        g_value_set_string (value, GST_OBJECT_NAME (e));
      break;
    case GST_DIODE_PROP_IDENTITY:
      g_value_set_string (value, c->identity);
      break;
    case GST_DIODE_PROP_RELAY_ID:
      g_value_set_string (value, c->relay_id);
      break;
    case GST_DIODE_PROP_TIMEOUT:
      g_value_set_uint (value, c->timeout);
      break;
    case GST_DIODE_PROP_RECONNECT:
      g_value_set_boolean (value, c->reconnect);
      break;
    case GST_DIODE_PROP_RECONNECT_DELAY:
      g_value_set_uint (value, c->reconnect_delay);
      break;
    case GST_DIODE_PROP_RECONNECT_MAX_DELAY:
      g_value_set_uint (value, c->reconnect_max_delay);
      break;
    case GST_DIODE_PROP_MAX_RECONNECTS:
      g_value_set_int (value, c->max_reconnects);
      break;
    default:
      GST_OBJECT_UNLOCK (e);
      return FALSE;
  }
  GST_OBJECT_UNLOCK (e);
  return TRUE;
}

GType
gst_diode_access_get_type (void)
{
  static gsize id = 0;
  static const GEnumValue values[] = {
    {DIODE_ACCESS_PUBLIC, "Any authenticated identity may watch", "public"},
    {DIODE_ACCESS_PROTECTED, "Members of the fleet (relay configuration) "
          "may watch", "protected"},
    {DIODE_ACCESS_PRIVATE, "Only the allowlist may watch", "private"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&id)) {
    GType t = g_enum_register_static ("GstDiodeAccess", values);
    g_once_init_leave (&id, t);
  }
  return (GType) id;
}

/* "[0xPIN@]host:port,..." for a parsed list: what get_uri prints and the
 * relay property reads after a URI set it. */
static gchar *
relay_list_canonical (GPtrArray * list)
{
  GString *out = g_string_new (NULL);
  guint i;

  for (i = 0; i < list->len; i++) {
    const DiodeEndpoint *ep = g_ptr_array_index (list, i);
    gchar *hp = diode_endpoint_to_string (ep);

    g_string_append_printf (out, "%s%s%s%s", i ? "," : "",
        ep->pin ? ep->pin : "", ep->pin ? "@" : "", hp);
    g_free (hp);
  }
  return g_string_free (out, FALSE);
}

/* diode://RELAYS/STREAM[?query]. RELAYS is one relay or a comma-separated
 * list, each entry [0xADDRESS@]HOST[:PORT]: not an authority GstUri can
 * parse (commas, several ports, a pin where userinfo would be), so the
 * authority is cut out and parsed as a relay list, and the rest (path,
 * query) goes through GstUri behind a placeholder host. */
gboolean
gst_diode_client_set_uri (GstDiodeClient * c, const gchar * uri,
    GError ** error)
{
  GstUri *u = NULL;
  const gchar *path, *rid, *rest, *end;
  gchar *full_path = NULL, *authority = NULL, *tail;
  GPtrArray *list;
  GError *err = NULL;
  gint access = -1;
  gchar *hostport, *stream = NULL;

  if (!uri || g_ascii_strncasecmp (uri, "diode://", 8) != 0) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s' is not a diode:// URI (diode://HOST[:PORT]/STREAM)",
        uri ? uri : "");
    goto fail;
  }
  rest = uri + 8;
  end = rest + strcspn (rest, "/?#");
  authority = g_strndup (rest, end - rest);
  tail = g_strconcat ("diode://h", end, NULL);
  u = gst_uri_from_string (tail);
  g_free (tail);
  path = full_path = u ? gst_uri_get_path (u) : NULL;
  while (path && *path == '/')
    path++;
  if (!*authority || !u || !path || !*path || strchr (path, '/')) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s' needs a relay host (or a list of them) and one stream name: "
        "diode://HOST[:PORT][,HOST[:PORT]...]/STREAM", uri);
    goto fail;
  }
  list = diode_endpoint_list_parse (authority, GST_DIODE_DEFAULT_PORT, &err);
  if (!list) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s': %s", uri, err->message);
    g_error_free (err);
    goto fail;
  }
  hostport = relay_list_canonical (list);
  g_ptr_array_unref (list);
  stream = g_strdup (path);
  rid = gst_uri_get_query_value (u, "relay-id");
  if (gst_uri_get_query_value (u, "access")) {
    GEnumClass *ec = g_type_class_ref (GST_TYPE_DIODE_ACCESS);
    GEnumValue *ev = g_enum_get_value_by_nick (ec,
        gst_uri_get_query_value (u, "access"));

    g_type_class_unref (ec);
    if (!ev) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "'%s': access must be public, protected or private", uri);
      g_free (hostport);
      g_free (stream);
      goto fail;
    }
    access = ev->value;
  }
  GST_OBJECT_LOCK (c->element);
  if (access >= 0)
    c->access = access;
  if (gst_uri_get_query_value (u, "allow")) {
    g_free (c->allow);
    c->allow = g_strdup (gst_uri_get_query_value (u, "allow"));
  }
  if (gst_uri_get_query_value (u, "fleet")) {
    g_free (c->fleet);
    c->fleet = g_strdup (gst_uri_get_query_value (u, "fleet"));
  }
  /* diodesrc's `start` (live, earliest, -SECONDS, an ISO 8601 time): the
   * source checks it when it starts. */
  if (gst_uri_get_query_value (u, "start")) {
    g_free (c->start);
    c->start = g_strdup (gst_uri_get_query_value (u, "start"));
  }
  g_free (c->relay);
  c->relay = hostport;
  g_free (c->stream);
  c->stream = stream;
  /* The URI says everything: no relay-id in it means none. */
  g_free (c->relay_id);
  c->relay_id = g_strdup (rid);
  GST_OBJECT_UNLOCK (c->element);
  gst_uri_unref (u);
  g_free (full_path);
  g_free (authority);
  return TRUE;

fail:
  if (u)
    gst_uri_unref (u);
  g_free (full_path);
  g_free (authority);
  return FALSE;
}

static const gchar *const *
uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { "diode", NULL };
  return protocols;
}

static gchar *
uri_get_uri (GstURIHandler * handler)
{
  return gst_diode_client_get_uri (gst_diode_client_of (GST_ELEMENT (handler)));
}

static gboolean
uri_set_uri (GstURIHandler * handler, const gchar * uri, GError ** error)
{
  return gst_diode_client_set_uri (gst_diode_client_of (GST_ELEMENT (handler)), uri, error);
}

void
gst_diode_client_uri_handler_init (GstURIHandlerInterface * iface)
{
  iface->get_protocols = uri_get_protocols;
  iface->get_uri = uri_get_uri;
  iface->set_uri = uri_set_uri;
}

gchar *
gst_diode_client_get_uri (GstDiodeClient * c)
{
  GPtrArray *list;
  gchar *uri, *relay;

  GST_OBJECT_LOCK (c->element);
  relay = g_strdup (c->relay);
  GST_OBJECT_UNLOCK (c->element);
  /* The canonical list (no spaces, every port) when it parses, so the URI
   * reads back the same; as set otherwise (start will refuse it). */
  list = diode_endpoint_list_parse (relay, GST_DIODE_DEFAULT_PORT, NULL);
  if (list) {
    g_free (relay);
    relay = relay_list_canonical (list);
    g_ptr_array_unref (list);
  }
  GST_OBJECT_LOCK (c->element);
  uri = g_strdup_printf ("diode://%s/%s%s%s", relay,
      c->stream ? c->stream : GST_OBJECT_NAME (c->element),
      c->relay_id ? "?relay-id=" : "", c->relay_id ? c->relay_id : "");
  /* diodesrc's start, when it is not the default, reads back too */
  if (c->start && *c->start && g_ascii_strcasecmp (c->start, "live")) {
    gchar *esc = g_uri_escape_string (c->start, ":", FALSE);
    gchar *full = g_strdup_printf ("%s%sstart=%s", uri, c->relay_id ? "&" :
        "?", esc);

    g_free (esc);
    g_free (uri);
    uri = full;
  }
  GST_OBJECT_UNLOCK (c->element);
  g_free (relay);
  return uri;
}
