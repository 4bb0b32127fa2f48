/* gst-diode — the `diode` command-line tool
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode id [--identity FILE]    print this node's address (create the key)
 *   diode link NAME [...]         print a share link for a browser (and
 *                                 --revoke one): tools/diode-link.c
 *   diode ls RELAY [--json]       streams this identity may watch, and
 *   diode stat RELAY NAME         one of them: tools/diode-ls.c
 *
 * Exit status: 0 success, 1 error, 2 usage error. Results go to stdout (one
 * line, script-friendly), notes and errors to stderr.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "diode-commands.h"
#include "diode-identity.h"

#ifndef VERSION
#define VERSION "unknown"
#endif

#define EXIT_USAGE 2

typedef struct
{
  const gchar *name;
  const gchar *summary;
  int (*run) (int argc, char **argv);
} Command;

static int cmd_id (int argc, char **argv);

static const Command commands[] = {
  {"id", "Print the address of this node's identity (created on first use)",
      cmd_id},
  {"link", "Print a link that plays a stream in a browser; --revoke one",
      diode_cmd_link},
  {"ls", "List the streams of a relay this identity may watch",
      diode_cmd_ls},
  {"stat", "Show one stream of a relay", diode_cmd_stat},
};

static void
print_error (const gchar * message)
{
  g_printerr ("diode: %s\n", message);
}

static gchar *
commands_description (void)
{
  GString *s = g_string_new ("Commands:\n");
  guint i;

  for (i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "  %-10s %s\n", commands[i].name,
        commands[i].summary);
  g_string_append (s, "\nRun 'diode COMMAND --help' for a command's options.");
  return g_string_free (s, FALSE);
}

static void
print_usage (void)
{
  g_autofree gchar *desc = commands_description ();

  g_printerr ("Usage: diode [--version] COMMAND [OPTIONS]\n\n%s\n", desc);
}

static int
cmd_id (int argc, char **argv)
{
  g_autofree gchar *identity_path = NULL;
  GOptionEntry entries[] = {
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity_path,
        "Key file (default: $XDG_CONFIG_HOME/diode/identity.pem)", "FILE"},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (DiodeIdentity) id = NULL;
  g_autoptr (GError) error = NULL;

  ctx = g_option_context_new ("- print this node's identity address");
  g_option_context_set_summary (ctx,
      "Prints the address (0x + 40 hex digits) derived from the identity's "
      "public key.\nThe key is created, mode 0600, if the file does not "
      "exist.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    print_error (error->message);
    return EXIT_USAGE;
  }
  if (argc > 1) {
    g_autofree gchar *msg =
        g_strdup_printf ("id: unexpected argument '%s'", argv[1]);
    print_error (msg);
    return EXIT_USAGE;
  }

  id = diode_identity_load_or_create (identity_path, &error);
  if (id == NULL) {
    print_error (error->message);
    return EXIT_FAILURE;
  }
  if (diode_identity_was_created (id))
    g_printerr ("created new identity %s\n", diode_identity_get_path (id));
  g_print ("%s\n", diode_identity_get_address (id));
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    {"version", 'V', 0, G_OPTION_ARG_NONE, &version,
        "Print the version and exit", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *desc = NULL;
  g_autofree gchar *sub_prgname = NULL;
  guint i;

  setlocale (LC_ALL, "");
  g_set_prgname ("diode");

  ctx = g_option_context_new ("COMMAND [OPTIONS]");
  desc = commands_description ();
  g_option_context_set_description (ctx, desc);
  g_option_context_add_main_entries (ctx, entries, NULL);
  /* Stop at the first non-option: what follows belongs to the command. */
  g_option_context_set_strict_posix (ctx, TRUE);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    print_error (error->message);
    return EXIT_USAGE;
  }
  if (version) {
    g_print ("diode %s\n", VERSION);
    return EXIT_SUCCESS;
  }
  if (argc < 2) {
    print_usage ();
    return EXIT_USAGE;
  }

  for (i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (strcmp (argv[1], commands[i].name) == 0) {
      /* "Usage: diode id ..." in the command's --help. */
      sub_prgname = g_strdup_printf ("diode %s", commands[i].name);
      g_set_prgname (sub_prgname);
      return commands[i].run (argc - 1, argv + 1);
    }
  }

  g_printerr ("diode: unknown command '%s'\n\n", argv[1]);
  print_usage ();
  return EXIT_USAGE;
}
