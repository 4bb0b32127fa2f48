/* gst-diode — `diode ls RELAY` and `diode stat RELAY NAME`
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Both speak the diode protocol to the relay (LIST, docs/protocol.md
 * section 19) with the user's identity, so they show what that identity
 * may watch: public streams, and protected or private ones whose policy
 * lets it in. The relay is verified as the elements do it (a pin in
 * RELAY, --relay-id, else known-relays). Output: an aligned table (ls) or
 * "key: value" lines (stat); --json: one object, the schema in
 * docs/protocol.md section 19.4. Errors: one line on stderr, exit 1;
 * usage errors exit 2.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "diode-commands.h"
#include "diode-endpoint.h"
#include "diode-identity.h"
#include "diode-msg.h"
#include "diode-name.h"
#include "diode-text.h"
#include "diode-tool-client.h"

#define EXIT_USAGE 2
#define LS_DEFAULT_PORT 7878
#define LS_MAX_PAGES 20         /* LISTs one `diode ls` sends (20 000
                                   streams), within the relay's rate limit */

typedef struct
{
  gchar *identity_path;
  gchar *relay_id;
  gint timeout_s;
  gboolean json;
  gchar *address;               /* this identity's, once loaded */
} LsOptions;

static void
ls_options_clear (LsOptions * o)
{
  g_free (o->identity_path);
  g_free (o->relay_id);
  g_free (o->address);
}

static void
fail_line (const gchar * cmd, const gchar * message)
{
  g_printerr ("diode %s: %s\n", cmd, message);
}

/* Parses the options and RELAY (+ NAME for stat). Returns 0 or EXIT_USAGE. */
static int
parse_args (const gchar * cmd, int *argc, char ***argv, LsOptions * o,
    guint n_args, const gchar * params, const gchar * summary)
{
  GOptionEntry entries[] = {
    {"json", 'j', 0, G_OPTION_ARG_NONE, &o->json,
        "Print one JSON object (schema: docs/protocol.md section 19.4)", NULL},
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &o->identity_path,
        "Key file (default: $XDG_CONFIG_HOME/diode/identity.pem)", "FILE"},
    {"relay-id", 0, 0, G_OPTION_ARG_STRING, &o->relay_id,
        "The relay's address (0x + 40 hex digits); default: the known-relays "
          "file (trust on first use)", "0xADDR"},
    {"timeout", 't', 0, G_OPTION_ARG_INT, &o->timeout_s,
        "Give up after this many seconds (default 10)", "SECONDS"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_autoptr (GError) error = NULL;

  o->timeout_s = 10;
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    fail_line (cmd, error->message);
    return EXIT_USAGE;
  }
  if ((guint) * argc != n_args + 1) {
    g_autofree gchar *m = g_strdup_printf ("expected %s (see --help)",
        params);
    fail_line (cmd, m);
    return EXIT_USAGE;
  }
  if (o->timeout_s <= 0 || o->timeout_s > 3600) {
    fail_line (cmd, "--timeout must be 1..3600 seconds");
    return EXIT_USAGE;
  }
  if (o->relay_id && !diode_address_is_valid (o->relay_id)) {
    g_autofree gchar *m = g_strdup_printf ("--relay-id '%s' is not an "
        "address (0x + 40 hex digits)", o->relay_id);
    fail_line (cmd, m);
    return EXIT_USAGE;
  }
  return 0;
}

/* Connects and checks the relay knows LIST. NULL: *status set. */
static DiodeToolClient *
open_relay (const gchar * cmd, const gchar * relay, LsOptions * o,
    int *status)
{
  g_autoptr (DiodeEndpoint) ep = NULL;
  g_autoptr (DiodeIdentity) id = NULL;
  g_autoptr (GError) error = NULL;
  DiodeToolClient *c;

  ep = diode_endpoint_parse (relay, LS_DEFAULT_PORT, &error);
  if (!ep) {
    fail_line (cmd, error->message);
    *status = EXIT_USAGE;
    return NULL;
  }
  id = diode_identity_load_or_create (o->identity_path, &error);
  if (!id) {
    fail_line (cmd, error->message);
    *status = EXIT_FAILURE;
    return NULL;
  }
  o->address = g_strdup (diode_identity_get_address (id));
  c = diode_tool_client_connect (ep, o->relay_id, id, DIODE_ROLE_VIEWER,
      (guint) o->timeout_s * 1000, &error);
  if (!c) {
    fail_line (cmd, error->message);
    *status = EXIT_FAILURE;
    return NULL;
  }
  if (diode_tool_client_version (c) < DIODE_PROTOCOL_VERSION_DIRECT) {
    g_autofree gchar *m = g_strdup_printf ("relay %s does not support "
        "listing (it speaks protocol version %u; LIST needs %d)",
        diode_tool_client_hostport (c), diode_tool_client_version (c),
        DIODE_PROTOCOL_VERSION_DIRECT);
    fail_line (cmd, m);
    diode_tool_client_free (c);
    *status = EXIT_FAILURE;
    return NULL;
  }
  return c;
}

/* One LIST, its LISTING in @out. FALSE: the error printed. */
static gboolean
list_once (const gchar * cmd, DiodeToolClient * c, guint8 mode,
    const gchar * name, DiodeMsg * out)
{
  g_autoptr (GError) error = NULL;
  GBytes *f = diode_msg_encode_list (mode, name);
  gboolean ok;

  if (!f) {
    g_autofree gchar *m = g_strdup_printf ("'%s' is not a stream name",
        name);
    fail_line (cmd, m);
    return FALSE;
  }
  ok = diode_tool_client_send (c, f, DIODE_MSG_LIST, &error);
  g_bytes_unref (f);
  if (ok)
    ok = diode_tool_client_recv (c, out, &error);
  if (!ok) {
    /* a relay of version 4 from before LIST closes with ERROR 200 for an
     * unknown frame type */
    if (error->domain == DIODE_TOOL_ERROR && strstr (error->message,
            "unknown frame type")) {
      g_autofree gchar *m = g_strdup_printf ("relay %s does not support "
          "listing (%s)", diode_tool_client_hostport (c), error->message);
      fail_line (cmd, m);
    } else {
      fail_line (cmd, error->message);
    }
    return FALSE;
  }
  if (out->type == DIODE_MSG_ERROR) {
    g_autofree gchar *m = NULL;
    /* the relay's words: printed escaped, never raw (terminal escapes) */
    g_autofree gchar *text = diode_text_escape (out->error_text, 200);

    if (out->error_code == DIODE_ERR_PROTOCOL
        && out->error_text && strstr (out->error_text, "frame type"))
      m = g_strdup_printf ("relay %s does not support listing (ERROR %u: "
          "%s)", diode_tool_client_hostport (c), out->error_code, text);
    else
      m = g_strdup_printf ("relay %s refused LIST: ERROR %u (%s): %s",
          diode_tool_client_hostport (c), out->error_code,
          diode_error_code_name (out->error_code), text);
    fail_line (cmd, m);
    diode_msg_clear (out);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* output */

static gdouble
entry_fps (const DiodeListEntry * e)
{
  return e->framerate_milli / 1000.0;
}

static void
json_entry (JsonBuilder * b, const DiodeListEntry * e)
{
#define MEMBER(n) json_builder_set_member_name (b, n)
  json_builder_begin_object (b);
  MEMBER ("name");
  json_builder_add_string_value (b, e->name);
  MEMBER ("state");
  json_builder_add_string_value (b, diode_list_state_name (e->state));
  MEMBER ("access");
  json_builder_add_string_value (b, diode_access_name (e->access));
  MEMBER ("stored");
  json_builder_add_boolean_value (b, e->stored);
  MEMBER ("owner");
  if (e->owner)
    json_builder_add_string_value (b, e->owner);
  else
    json_builder_add_null_value (b);
  MEMBER ("viewers");
  json_builder_add_int_value (b, e->viewers);
  MEMBER ("web_viewers");
  json_builder_add_int_value (b, e->web_viewers);
  MEMBER ("bitrate_bps");
  json_builder_add_int_value (b, (gint64) e->bitrate_bps);
  MEMBER ("codec");
  if (e->codec && *e->codec)
    json_builder_add_string_value (b, e->codec);
  else
    json_builder_add_null_value (b);
  MEMBER ("width");
  if (e->width)
    json_builder_add_int_value (b, e->width);
  else
    json_builder_add_null_value (b);
  MEMBER ("height");
  if (e->height)
    json_builder_add_int_value (b, e->height);
  else
    json_builder_add_null_value (b);
  MEMBER ("framerate");
  if (e->framerate_milli)
    json_builder_add_double_value (b, entry_fps (e));
  else
    json_builder_add_null_value (b);
  MEMBER ("live_seq");
  json_builder_add_int_value (b, (gint64) e->live_seq);
  MEMBER ("uptime_s");
  json_builder_add_double_value (b, e->uptime_ms / 1000.0);
  MEMBER ("bytes_in");
  json_builder_add_int_value (b, (gint64) e->bytes_in);
  MEMBER ("bytes_out");
  json_builder_add_int_value (b, (gint64) e->bytes_out);
  json_builder_end_object (b);
#undef MEMBER
}

static void
json_print (JsonBuilder * b)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (b);
  g_autofree gchar *out = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  out = json_generator_to_data (gen, NULL);
  g_print ("%s\n", out);
  json_node_unref (root);
}

static void
json_head (JsonBuilder * b, DiodeToolClient * c)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "relay");
  json_builder_add_string_value (b, diode_tool_client_hostport (c));
  json_builder_set_member_name (b, "relay_address");
  json_builder_add_string_value (b, diode_tool_client_relay_address (c));
}

static gchar *
human_bitrate (guint64 bps)
{
  if (bps >= 1000000)
    return g_strdup_printf ("%.1f Mb/s", bps / 1e6);
  if (bps >= 1000)
    return g_strdup_printf ("%.0f kb/s", bps / 1e3);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " b/s", bps);
}

static gchar *
human_duration (guint64 ms)
{
  guint64 s = ms / 1000;

  if (s >= 3600)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "h%02um", s / 3600,
        (guint) (s % 3600 / 60));
  if (s >= 60)
    return g_strdup_printf ("%um%02us", (guint) (s / 60), (guint) (s % 60));
  return g_strdup_printf ("%us", (guint) s);
}

static gchar *
human_size (const DiodeListEntry * e)
{
  if (e->width && e->height)
    return g_strdup_printf ("%ux%u", e->width, e->height);
  return g_strdup ("-");
}

static gchar *
human_fps (const DiodeListEntry * e)
{
  if (!e->framerate_milli)
    return g_strdup ("-");
  return g_strdup_printf ("%.4g", entry_fps (e));
}

/* ------------------------------------------------------------------------ */
/* ls */

#define LS_COLS 9

static void
print_table (GPtrArray * rows)
{
  static const gchar *head[LS_COLS] = { "NAME", "STATE", "ACCESS", "VIEWERS",
    "BITRATE", "CODEC", "SIZE", "FPS", "UPTIME"
  };
  gsize w[LS_COLS];
  guint i, k;

  for (k = 0; k < LS_COLS; k++)
    w[k] = strlen (head[k]);
  for (i = 0; i < rows->len; i++) {
    gchar **row = rows->pdata[i];

    for (k = 0; k < LS_COLS; k++)
      w[k] = MAX (w[k], (gsize) g_utf8_strlen (row[k], -1));
  }
  for (k = 0; k < LS_COLS; k++)
    g_print ("%-*s%s", (int) w[k], head[k], k + 1 < LS_COLS ? "  " : "\n");
  for (i = 0; i < rows->len; i++) {
    gchar **row = rows->pdata[i];

    for (k = 0; k < LS_COLS; k++) {
      gsize pad = w[k] - g_utf8_strlen (row[k], -1);

      g_print ("%s%*s%s", row[k], k + 1 < LS_COLS ? (int) pad : 0, "",
          k + 1 < LS_COLS ? "  " : "\n");
    }
  }
}

static gchar **
table_row (const DiodeListEntry * e)
{
  gchar **row = g_new0 (gchar *, LS_COLS + 1);

  row[0] = diode_name_escape (e->name);
  row[1] = g_strdup (diode_list_state_name (e->state));
  row[2] = g_strdup (diode_access_name (e->access));
  row[3] = e->web_viewers ? g_strdup_printf ("%u+%u web", e->viewers,
      e->web_viewers) : g_strdup_printf ("%u", e->viewers);
  row[4] = human_bitrate (e->bitrate_bps);
  row[5] = e->codec && *e->codec ? diode_text_escape (e->codec, 64) :
      g_strdup ("-");
  row[6] = human_size (e);
  row[7] = human_fps (e);
  row[8] = human_duration (e->uptime_ms);
  return row;
}

int
diode_cmd_ls (int argc, char **argv)
{
  LsOptions o = { 0 };
  DiodeToolClient *c;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify)
      g_strfreev);
  gchar *after = g_strdup ("");
  gboolean truncated = FALSE;
  int status = EXIT_SUCCESS;
  guint page;

  status = parse_args ("ls", &argc, &argv, &o, 1, "RELAY",
      "Lists the streams RELAY ([0xADDR@]HOST[:PORT]) carries that this "
      "identity may watch:\nstate (live, recording, ended, stored), access, "
      "viewers, bitrate, codec, size, "
      "frame rate, time since the first frame.");
  if (status)
    goto out;
  c = open_relay ("ls", argv[1], &o, &status);
  if (!c)
    goto out;
  if (o.json) {
    json_head (b, c);
    json_builder_set_member_name (b, "streams");
    json_builder_begin_array (b);
  }
  for (page = 0; page < LS_MAX_PAGES; page++) {
    DiodeMsg m = { 0 };
    guint i;

    if (!list_once ("ls", c, DIODE_LIST_ALL, after, &m)) {
      status = EXIT_FAILURE;
      break;
    }
    for (i = 0; i < m.n_entries; i++) {
      if (o.json)
        json_entry (b, &m.entries[i]);
      else
        g_ptr_array_add (rows, table_row (&m.entries[i]));
    }
    truncated = (m.list_flags & DIODE_LISTING_TRUNCATED) && m.n_entries;
    if (truncated) {
      g_free (after);
      after = g_strdup (m.entries[m.n_entries - 1].name);
    }
    diode_msg_clear (&m);
    if (!truncated)
      break;
  }
  diode_tool_client_free (c);
  if (status == EXIT_SUCCESS) {
    if (o.json) {
      json_builder_end_array (b);
      json_builder_set_member_name (b, "truncated");
      json_builder_add_boolean_value (b, truncated);
      json_builder_end_object (b);
      json_print (b);
    } else {
      print_table (rows);
      if (truncated)
        g_printerr ("diode ls: more streams than %d pages of %d: list "
            "truncated\n", LS_MAX_PAGES, DIODE_LIST_MAX_ENTRIES);
    }
  }
out:
  g_ptr_array_unref (rows);
  g_free (after);
  ls_options_clear (&o);
  return status;
}

/* ------------------------------------------------------------------------ */
/* stat */

static void
print_stat (const DiodeListEntry * e, DiodeToolClient * c)
{
  g_autofree gchar *name = diode_name_escape (e->name);
  g_autofree gchar *br = human_bitrate (e->bitrate_bps);
  g_autofree gchar *up = human_duration (e->uptime_ms);
  g_autofree gchar *size = human_size (e);
  g_autofree gchar *fps = human_fps (e);

  g_print ("name: %s\n", name);
  g_print ("relay: %s (%s)\n", diode_tool_client_hostport (c),
      diode_tool_client_relay_address (c));
  g_print ("state: %s\n", diode_list_state_name (e->state));
  g_print ("access: %s\n", diode_access_name (e->access));
  g_print ("owner: %s\n", e->owner ? e->owner : "-");
  g_print ("stored: %s\n", e->stored ? "yes" : "no");
  g_print ("viewers: %u\n", e->viewers);
  g_print ("web_viewers: %u\n", e->web_viewers);
  g_print ("bitrate: %s\n", br);
  if (e->codec && *e->codec) {
    g_autofree gchar *codec = diode_text_escape (e->codec, 64);

    g_print ("codec: %s\n", codec);
  } else {
    g_print ("codec: -\n");
  }
  g_print ("size: %s\n", size);
  g_print ("framerate: %s\n", fps);
  g_print ("live_seq: %" G_GUINT64_FORMAT "\n", e->live_seq);
  g_print ("uptime: %s\n", up);
  g_print ("bytes_in: %" G_GUINT64_FORMAT "\n", e->bytes_in);
  g_print ("bytes_out: %" G_GUINT64_FORMAT "\n", e->bytes_out);
}

int
diode_cmd_stat (int argc, char **argv)
{
  LsOptions o = { 0 };
  DiodeToolClient *c;
  DiodeMsg m = { 0 };
  int status;

  status = parse_args ("stat", &argc, &argv, &o, 2, "RELAY NAME",
      "Shows one stream of RELAY ([0xADDR@]HOST[:PORT]): what `diode ls` "
      "shows, and the\nbytes received and sent. A stream this identity "
      "may not watch is not found.");
  if (status)
    goto out;
  if (!diode_msg_check_stream_name (argv[2], NULL)) {
    g_autofree gchar *msg = g_strdup_printf ("'%s' is not a stream name",
        argv[2]);
    fail_line ("stat", msg);
    status = EXIT_USAGE;
    goto out;
  }
  c = open_relay ("stat", argv[1], &o, &status);
  if (!c)
    goto out;
  if (!list_once ("stat", c, DIODE_LIST_ONE, argv[2], &m)) {
    status = EXIT_FAILURE;
  } else if (m.n_entries == 0) {
    g_autofree gchar *msg = g_strdup_printf ("no stream %s on %s (or not "
        "visible to %s)", argv[2], diode_tool_client_hostport (c),
        o.address);
    fail_line ("stat", msg);
    status = EXIT_FAILURE;
  } else if (o.json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_head (b, c);
    json_builder_set_member_name (b, "stream");
    json_entry (b, &m.entries[0]);
    json_builder_end_object (b);
    json_print (b);
  } else {
    print_stat (&m.entries[0], c);
  }
  diode_msg_clear (&m);
  diode_tool_client_free (c);
out:
  ls_options_clear (&o);
  return status;
}
