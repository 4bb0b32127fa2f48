/* gst-diode — trust-on-first-use record of relay identities
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Like ssh's known_hosts: the first address a relay presents is recorded, and
 * any later different one is refused with a message telling the user what to
 * do. The file is small and read whole on each check (once per connection).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "diode-known-relays.h"
#include "diode-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

G_DEFINE_QUARK (diode-known-relays-error-quark, diode_known_relays_error)

gchar *
diode_known_relays_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "diode", "known-relays",
      NULL);
}

static gboolean
append_entry (const gchar * path, const gchar * hostport,
    const gchar * address, GError ** error)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *lower = g_ascii_strdown (address, -1);
  GString *line;
  struct stat st;
  gboolean ok;
  int fd, saved;

  if (g_mkdir_with_parents (dir, 0700) < 0) {
    saved = errno;
    g_set_error (error, DIODE_KNOWN_RELAYS_ERROR, DIODE_KNOWN_RELAYS_ERROR_IO,
        "cannot create directory %s: %s", dir, g_strerror (saved));
    return FALSE;
  }
  /* 0600: the file tells who talks to which relay. O_APPEND with one write()
   * per entry keeps concurrent recorders from interleaving lines. Read access
   * is for peeking at the last byte below. */
  fd = g_open (path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
      0600);
  if (fd < 0) {
    saved = errno;
    g_set_error (error, DIODE_KNOWN_RELAYS_ERROR, DIODE_KNOWN_RELAYS_ERROR_IO,
        "cannot record relay identity in %s: %s", path, g_strerror (saved));
    return FALSE;
  }

  line = g_string_new (NULL);
  if (fstat (fd, &st) < 0)
    st.st_size = -1;
  if (st.st_size == 0)
    g_string_append (line, "# gst-diode known relays (trust on first use): "
        "host:port identity-address\n");
  else if (st.st_size > 0) {
    /* A hand-edited file may lack the final newline: never glue our entry
     * onto its last line. */
    gchar last = '\n';
    if (pread (fd, &last, 1, st.st_size - 1) == 1 && last != '\n')
      g_string_append_c (line, '\n');
  }
  g_string_append_printf (line, "%s %s\n", hostport, lower);

  ok = TRUE;
  {
    const gchar *p = line->str;
    gsize left = line->len;
    while (left > 0) {
      gssize n = write (fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        saved = errno;
        g_set_error (error, DIODE_KNOWN_RELAYS_ERROR,
            DIODE_KNOWN_RELAYS_ERROR_IO, "cannot write to %s: %s", path,
            g_strerror (saved));
        ok = FALSE;
        break;
      }
      p += n;
      left -= n;
    }
  }
  g_string_free (line, TRUE);
  if (close (fd) < 0 && ok) {
    saved = errno;
    g_set_error (error, DIODE_KNOWN_RELAYS_ERROR, DIODE_KNOWN_RELAYS_ERROR_IO,
        "cannot write to %s: %s", path, g_strerror (saved));
    ok = FALSE;
  }
  return ok;
}

gboolean
diode_known_relays_check (const gchar * path, const gchar * hostport,
    const gchar * address, GError ** error)
{
  g_autofree gchar *default_path = NULL;
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GError *err = NULL;
  guint i;

  g_return_val_if_fail (hostport != NULL && *hostport != '\0', FALSE);
  g_return_val_if_fail (diode_address_is_valid (address), FALSE);

  /* The host:port is the first field of a whitespace-separated line. */
  for (i = 0; hostport[i]; i++) {
    if (g_ascii_isspace (hostport[i]) || hostport[i] == '#') {
      g_set_error (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_IO,
          "invalid relay address \"%s\" (contains spaces or '#')", hostport);
      return FALSE;
    }
  }

  if (path == NULL)
    path = default_path = diode_known_relays_default_path ();

  if (!g_file_get_contents (path, &contents, NULL, &err)) {
    if (!g_error_matches (err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_IO, "cannot read known relays: %s",
          err->message);
      g_error_free (err);
      return FALSE;
    }
    g_clear_error (&err);
  }

  if (contents != NULL) {
    lines = g_strsplit (contents, "\n", -1);
    for (i = 0; lines[i] != NULL; i++) {
      g_auto (GStrv) fields = NULL;
      gchar *line = g_strstrip (lines[i]);
      const gchar *rec_host = NULL, *rec_addr = NULL;
      guint f;

      if (*line == '\0' || *line == '#')
        continue;
      fields = g_strsplit_set (line, " \t", -1);
      /* Runs of blanks give empty fields: take the first two non-empty. */
      for (f = 0; fields[f] != NULL; f++) {
        if (*fields[f] == '\0')
          continue;
        if (rec_host == NULL)
          rec_host = fields[f];
        else if (rec_addr == NULL)
          rec_addr = fields[f];
      }
      /* Host names are case-insensitive, addresses are hex. */
      if (rec_host == NULL || rec_addr == NULL ||
          g_ascii_strcasecmp (rec_host, hostport) != 0)
        continue;
      if (g_ascii_strcasecmp (rec_addr, address) == 0)
        return TRUE;
      g_set_error (error, DIODE_KNOWN_RELAYS_ERROR,
          DIODE_KNOWN_RELAYS_ERROR_KEY_CHANGED,
          "relay %s presented identity %s, but %s records %s for it "
          "(line %u). If the relay's key was really replaced, delete that "
          "line; otherwise someone may be impersonating the relay.",
          hostport, address, path, rec_addr, i + 1);
      return FALSE;
    }
  }

  return append_entry (path, hostport, address, error);
}
