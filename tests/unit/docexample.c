/* gst-diode — test helper: the worked examples of docs/protocol.md
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One reader of the document's examples for every unit test that checks
 * them (docexample.h).
 */
#include "docexample.h"

#include <string.h>

/* The marker of @id in @doc, once and only once. */
static const gchar *
find_marker (const gchar * doc, const gchar * id)
{
  gchar *marker = g_strdup_printf ("<!-- example: %s -->", id);
  const gchar *p = strstr (doc, marker);

  fail_unless (p != NULL, "docs/protocol.md has no example '%s'", id);
  fail_unless (strstr (p + 1, marker) == NULL, "example '%s' twice", id);
  g_free (marker);
  return p;
}

GByteArray *
doc_example_bytes (const gchar * doc, const gchar * id)
{
  const gchar *p = find_marker (doc, id);
  GByteArray *a = g_byte_array_new ();
  gboolean in_block = FALSE;
  gchar **lines;
  guint i;

  lines = g_strsplit (p, "\n", -1);
  for (i = 1; lines[i]; i++) {
    gchar **tok, *hash;
    guint k;

    if (g_str_has_prefix (g_strstrip (lines[i]), "```")) {
      if (in_block)
        break;
      in_block = TRUE;
      continue;
    }
    if (!in_block)
      continue;
    hash = strchr (lines[i], '#');
    if (hash)
      *hash = '\0';
    tok = g_strsplit_set (lines[i], " \t", -1);
    for (k = 0; tok[k]; k++) {
      guint8 b;

      if (!*tok[k])
        continue;
      fail_unless (strlen (tok[k]) == 2 && g_ascii_isxdigit (tok[k][0])
          && g_ascii_isxdigit (tok[k][1]), "example '%s': '%s' is not a "
          "byte", id, tok[k]);
      b = (g_ascii_xdigit_value (tok[k][0]) << 4) |
          g_ascii_xdigit_value (tok[k][1]);
      g_byte_array_append (a, &b, 1);
    }
    g_strfreev (tok);
  }
  g_strfreev (lines);
  fail_unless (a->len > 0, "example '%s' is empty", id);
  return a;
}

gchar *
doc_example_text (const gchar * doc, const gchar * id)
{
  const gchar *p = find_marker (doc, id), *start, *end;

  start = strstr (p, "```\n");
  fail_unless (start != NULL, "example '%s': no block", id);
  start += 4;
  end = strchr (start, '\n');
  fail_unless (end != NULL, "example '%s': unterminated", id);
  return g_strndup (start, end - start);
}

void
doc_check_format (const gchar * doc, guint section)
{
  gchar **lines = g_strsplit (doc, "\n", -1);
  gchar *head = g_strdup_printf ("### %u.", section);
  gchar *placeholder = g_strdup_printf ("%u.x", section);
  guint i, next = 1;

  fail_unless (strstr (doc, placeholder) == NULL, "docs/protocol.md still "
      "says %s: %.60s", placeholder, strstr (doc, placeholder));
  for (i = 0; lines[i] && lines[i + 1]; i++) {
    const gchar *a = lines[i], *b = lines[i + 1];

    fail_unless (a[0] != '|' || b[0] == '|' || b[0] == '\0',
        "docs/protocol.md line %u follows a table row without a blank line "
        "(it renders as a row): '%s'", i + 2, b);
    if (g_str_has_prefix (a, head)) {
      gchar *want = g_strdup_printf ("%s%u ", head, next++);

      fail_unless (g_str_has_prefix (a, want), "docs/protocol.md line %u: "
          "'%s' is not numbered '%s'", i + 1, a, want);
      g_free (want);
    }
  }
  fail_unless (next > 1, "docs/protocol.md has no subsection of %u", section);
  g_strfreev (lines);
  g_free (head);
  g_free (placeholder);
}

void
doc_example_frame (const gchar * doc, const gchar * id, GBytes * frame,
    guint16 version, DiodeRole role)
{
  GByteArray *a = doc_example_bytes (doc, id);
  GBytes *doc_frame;
  GError *err = NULL;
  DiodeMsg m;
  gsize size, i;
  const guint8 *d;

  fail_unless (a->len >= DIODE_FRAME_HEADER_SIZE,
      "example '%s' is shorter than a header", id);
  fail_unless (frame != NULL, "example '%s': encoder refused", id);
  d = g_bytes_get_data (frame, &size);
  for (i = 0; i < MIN (size, a->len); i++)
    fail_unless (d[i] == a->data[i], "example '%s': byte %" G_GSIZE_FORMAT
        " is %02x in the document, %02x from the encoder", id, i,
        a->data[i], d[i]);
  fail_unless_equals_int (a->len, size);
  /* and the documented bytes parse back */
  doc_frame = g_bytes_new (a->data, a->len);
  memset (&m, 0, sizeof (m));
  if (!diode_msg_parse_v (doc_frame, version, role, &m, &err))
    fail ("example '%s' does not parse: %s", id, err->message);
  diode_msg_clear (&m);
  g_bytes_unref (doc_frame);
  g_byte_array_unref (a);
  g_bytes_unref (frame);
}
