/* gst-diode — tree tests: reading a relay's --stats-file
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See relaystats.h. json-glib, as the relay uses to write the file.
 */
#include "relaystats.h"

#include <json-glib/json-glib.h>

static JsonNode *
read_root (const gchar * file)
{
  JsonParser *parser = json_parser_new ();
  JsonNode *root = NULL;

  if (json_parser_load_from_file (parser, file, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_copy (json_parser_get_root (parser));
  g_object_unref (parser);
  return root;
}

static JsonObject *
find_stream (JsonNode * root, const gchar * name)
{
  JsonObject *o = json_node_get_object (root);
  JsonArray *a;
  guint i;

  if (!json_object_has_member (o, "streams"))
    return NULL;
  a = json_object_get_array_member (o, "streams");
  for (i = 0; a && i < json_array_get_length (a); i++) {
    JsonObject *s = json_array_get_object_element (a, i);
    if (!g_strcmp0 (json_object_get_string_member_with_default (s, "name",
                NULL), name))
      return s;
  }
  return NULL;
}

gchar *
rstats_path (const gchar * file, const gchar * stream)
{
  JsonNode *root = read_root (file);
  JsonObject *s = root ? find_stream (root, stream) : NULL;
  GString *out = NULL;

  if (s && json_object_has_member (s, "path")) {
    JsonArray *a = json_object_get_array_member (s, "path");
    guint i;

    out = g_string_new (NULL);
    for (i = 0; a && i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      g_string_append_printf (out, "%s%s", i ? "," : "",
          JSON_NODE_HOLDS_VALUE (e) && json_node_get_string (e) ?
          json_node_get_string (e) : "?");
    }
  }
  if (root)
    json_node_unref (root);
  return out ? g_string_free (out, FALSE) : NULL;
}

gint
rstats_viewers (const gchar * file, const gchar * stream, gchar ** first,
    gdouble * out_per_in)
{
  JsonNode *root = read_root (file);
  JsonObject *s = root ? find_stream (root, stream) : NULL;
  gint count = -1;

  if (s && json_object_has_member (s, "viewers")) {
    JsonArray *a = json_object_get_array_member (s, "viewers");

    count = a ? (gint) json_array_get_length (a) : 0;
    if (first && count > 0)
      *first = g_strdup (json_object_get_string_member_with_default
          (json_array_get_object_element (a, 0), "address", ""));
    if (out_per_in) {
      gdouble in = json_object_get_double_member_with_default (s,
          "bytes_in", 0);
      *out_per_in = in > 0 ? json_object_get_double_member_with_default (s,
          "bytes_out", 0) / in : -1;
    }
  }
  if (root)
    json_node_unref (root);
  return count;
}

/* "ready" once TLS and HELLO are done (a link that can pull), "linked" once
 * LINK_OK came back. */
static gboolean
link_is_up (const gchar * state)
{
  return !g_strcmp0 (state, "ready") || !g_strcmp0 (state, "linked");
}

gchar *
rstats_link_kind (const gchar * file, const gchar * peer, gint64 * failovers)
{
  JsonNode *root = read_root (file);
  JsonObject *o = root ? json_node_get_object (root) : NULL;
  gchar *kind = NULL;

  if (failovers)
    *failovers = o ? json_object_get_int_member_with_default (o,
        "failovers", -1) : -1;
  if (o && json_object_has_member (o, "links")) {
    JsonArray *a = json_object_get_array_member (o, "links");
    guint i;

    for (i = 0; a && i < json_array_get_length (a) && !kind; i++) {
      JsonObject *l = json_array_get_object_element (a, i);
      const gchar *k = json_object_get_string_member_with_default (l, "kind",
          "");

      if ((!g_strcmp0 (k, "upstream") || !g_strcmp0 (k, "fallback")
              || !g_strcmp0 (k, "probe"))
          && !g_strcmp0 (json_object_get_string_member_with_default (l,
                  "peer", ""), peer)
          && link_is_up (json_object_get_string_member_with_default (l,
                  "state", "")))
        kind = g_strdup (k);
    }
  }
  if (root)
    json_node_unref (root);
  return kind;
}
