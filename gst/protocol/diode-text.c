/* gst-diode — peer text made safe to print (see diode-text.h)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "diode-text.h"

#include <string.h>

gchar *
diode_text_escape (const gchar * text, guint max_chars)
{
  GString *out = g_string_new (NULL);
  const gchar *p = text ? text : "";
  const gchar *end = p + strlen (p);
  guint chars = 0;

  while (p < end && (max_chars == 0 || chars < max_chars)) {
    gunichar ch = g_utf8_get_char_validated (p, end - p);

    if (ch == (gunichar) - 1 || ch == (gunichar) - 2) {
      /* not UTF-8: show the byte, never pass it on */
      g_string_append_printf (out, "\\x%02x", (guint8) * p);
      p++;
    } else {
      if (ch == '\n')
        g_string_append (out, "\\n");
      else if (ch == '\r')
        g_string_append (out, "\\r");
      else if (ch == '\t')
        g_string_append (out, "\\t");
      else if (ch == '\\')
        g_string_append (out, "\\\\");
      else if (ch < 0x20 || ch == 0x7f)
        g_string_append_printf (out, "\\x%02x", ch);
      else if (g_unichar_iscntrl (ch) || g_unichar_type (ch) ==
          G_UNICODE_FORMAT || ch == 0x2028 || ch == 0x2029)
        /* C1 controls, bidi overrides, line separators */
        g_string_append_printf (out, "\\u{%x}", ch);
      else
        g_string_append_unichar (out, ch);
      p = g_utf8_next_char (p);
    }
    chars++;
  }
  if (p < end)
    g_string_append_printf (out, "...(%" G_GSIZE_FORMAT " more bytes)",
        (gsize) (end - p));
  return g_string_free (out, FALSE);
}
