/* gst-diode — test harness: relays linked into a tree
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * See linksharness.h.
 */
#include "linksharness.h"

/* A relay that links to @upstream (and @fallback, may be NULL), each
 * pinned to the relay's address. */
DiodeRelay *
start_linked (const gchar * key, DiodeRelay * upstream, DiodeRelay * fallback,
    guint linger_ms)
{
  gchar *path = g_build_filename (fixture_config_dir (), key, NULL);
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  gchar *up = NULL;
  gchar *fb[2] = { NULL, NULL };
  gchar *self = fixture_key_address (key);
  GError *err = NULL;

  /* its parents accept it as a child ([relays] children) */
  if (upstream)
    fixture_relay_conf_add (upstream, "relays", "children", self);
  if (fallback)
    fixture_relay_conf_add (fallback, "relays", "children", self);
  g_free (self);
  if (upstream)
    up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (upstream), diode_relay_get_port (upstream));
  if (fallback)
    fb[0] = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address
        (fallback), diode_relay_get_port (fallback));
  g_object_set (r, "upstream", up, "fallbacks", fb, "link-linger", linger_ms,
      "failback-delay", 500, NULL);
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  g_free (up);
  g_free (fb[0]);
  g_free (path);
  return r;
}

GstHarness *
publisher (DiodeRelay * relay, const gchar * stream)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesink", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, NULL);
  h = gst_harness_new_with_element (e, "sink", NULL);
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_harness_play (h);
  g_free (hp);
  return h;
}

GstHarness *
viewer (DiodeRelay * relay, const gchar * stream)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstHarness *h;

  g_object_set (e, "relay", hp, "stream", stream, "timeout", WAIT_MS, NULL);
  h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  gst_harness_play (h);
  g_free (hp);
  return h;
}

void
push (GstHarness * pub, guint from, guint n)
{
  guint i;

  for (i = from; i < from + n; i++)
    fail_unless_equals_int (gst_harness_push (pub,
            fixture_make_buffer (i, 500 + i % 700, GOP)), GST_FLOW_OK);
}

/* The next buffer from @view must be buffer @i, byte for byte. */
void
expect_buffer (GstHarness * view, guint i)
{
  gint64 end = deadline_in (WAIT_MS);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (view))) {
    fail_if (g_get_monotonic_time () > end, "buffer %u did not arrive "
        "within %u ms", i, WAIT_MS);
    g_usleep (2000);
  }
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
  fail_unless (fixture_payload_matches (b, i, 500 + i % 700),
      "payload of buffer %u differs", i);
  gst_buffer_unref (b);
}

/* @r trusts @child with protected and private streams ([relays] trusted):
 * the policy of a stream pulled from an upstream that sends none is
 * private (access control fails closed). */
void
trust (DiodeRelay * r, DiodeRelay * child)
{
  fixture_relay_conf_add (r, "relays", "trusted",
      diode_relay_get_address (child));
}

/* A fresh stats snapshot of @r (stats-interval-ms set): the JSON root. */
JsonNode *
fresh_stats (DiodeRelay * r)
{
  gchar *old = diode_relay_get_stats_json (r), *json = NULL;
  gint64 end = deadline_in (WAIT_MS);
  JsonNode *root;

  while (!(json = diode_relay_get_stats_json (r))
      || g_strcmp0 (json, old) == 0) {
    fail_if (g_get_monotonic_time () > end, "no new stats snapshot");
    g_free (json);
    g_usleep (20 * 1000);
  }
  g_free (old);
  root = json_from_string (json, NULL);
  fail_unless (root != NULL);
  g_free (json);
  return root;
}

/* Member @member of @r's link of kind @kind (to @peer if not NULL), from
 * a fresh snapshot; -1 if there is no such link. */
gint64
link_stat (DiodeRelay * r, const gchar * kind, const gchar * peer,
    const gchar * member)
{
  JsonNode *root = fresh_stats (r);
  JsonArray *links = json_object_get_array_member (json_node_get_object
      (root), "links");
  gint64 v = -1;
  guint i;

  for (i = 0; i < json_array_get_length (links); i++) {
    JsonObject *o = json_array_get_object_element (links, i);

    if (!g_strcmp0 (json_object_get_string_member (o, "kind"), kind)
        && (!peer || !g_strcmp0 (json_object_get_string_member (o, "peer"),
                peer)))
      v = json_object_get_int_member (o, member);
  }
  json_node_unref (root);
  return v;
}
