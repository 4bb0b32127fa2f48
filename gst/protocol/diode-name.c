/* gst-diode — stream names as relays compare them
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Normalization and refusal rules for names (see diode-name.h and
 * docs/security.md). GLib's Unicode tables do the work: g_utf8_normalize()
 * for NFKC, g_utf8_casefold() for case, g_unichar_type() and
 * g_unichar_get_script() for the categories and scripts.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "diode-name.h"
#include "diode-msg.h"

#include <string.h>

/* Default-ignorable code points that are not format characters (Cf, caught
 * by category): they render as nothing, so a name holding one looks like
 * the same name without it. From Unicode's Default_Ignorable_Code_Point,
 * plus U+2800 BRAILLE PATTERN BLANK (a symbol that renders blank). */
static gboolean
is_invisible (gunichar c)
{
  return c == 0x034F || c == 0x115F || c == 0x1160 || c == 0x17B4 ||
      c == 0x17B5 || (c >= 0x180B && c <= 0x180F) || c == 0x2800 ||
      c == 0x3164 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFFA0 ||
      (c >= 0xFFF0 && c <= 0xFFF8) || (c >= 0xE0000 && c <= 0xE0FFF);
}

/* Why @c may not be part of a name, or NULL if it may. */
static const gchar *
char_refused (gunichar c)
{
  switch (g_unichar_type (c)) {
    case G_UNICODE_FORMAT:
      return "an invisible formatting character";
    case G_UNICODE_CONTROL:
      return "a control character";
    case G_UNICODE_UNASSIGNED:
      return "an unassigned code point";
    case G_UNICODE_PRIVATE_USE:
      return "a private-use character";
    case G_UNICODE_SURROGATE:
      return "a surrogate";
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return "a line or paragraph separator";
    default:
      return is_invisible (c) ? "an invisible character" : NULL;
  }
}

static gboolean
check_chars (const gchar * name, GError ** error)
{
  const gchar *p;

  for (p = name; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    const gchar *why = char_refused (c);

    if (why) {
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
          "stream name contains U+%04X, %s: it would look like another "
          "name", c, why);
      return FALSE;
    }
  }
  return TRUE;
}

enum
{
  SCRIPT_LATIN = 1 << 0,
  SCRIPT_GREEK = 1 << 1,
  SCRIPT_CYRILLIC = 1 << 2,
};

/* Latin, Greek and Cyrillic share many letter shapes ("a"/"а"/"α", "o"/
 * "о"/"ο"): a name whose letters come from two of them is most likely a
 * look-alike. Other mixes (Latin with Han or Kana, say) are common in real
 * names and share no shapes. */
static gboolean
check_scripts (const gchar * key, GError ** error)
{
  static const gchar *const names[] = { "Latin", "Greek", "Cyrillic" };
  const gchar *p;
  guint seen = 0, first = 0, i;

  for (p = key; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    guint bit = 0;

    if (!g_unichar_isalpha (c))
      continue;
    switch (g_unichar_get_script (c)) {
      case G_UNICODE_SCRIPT_LATIN:
        bit = SCRIPT_LATIN;
        break;
      case G_UNICODE_SCRIPT_GREEK:
        bit = SCRIPT_GREEK;
        break;
      case G_UNICODE_SCRIPT_CYRILLIC:
        bit = SCRIPT_CYRILLIC;
        break;
      default:
        break;
    }
    if (bit && !first)
      first = bit;
    seen |= bit;
    if (bit && bit != first) {
      const gchar *a = NULL, *b = NULL;

      for (i = 0; i < G_N_ELEMENTS (names); i++) {
        if (first == (1u << i))
          a = names[i];
        if (bit == (1u << i))
          b = names[i];
      }
      g_set_error (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
          "stream name mixes %s and %s letters (U+%04X), which look alike",
          a, b, c);
      return FALSE;
    }
  }
  return TRUE;
}

gchar *
diode_name_key (const gchar * name, GError ** error)
{
  gchar *nfkc, *folded, *key;
  const gchar *last;

  if (!diode_msg_check_stream_name (name, error))
    return NULL;
  if (!check_chars (name, error))
    return NULL;
  /* NFKC folds compatibility forms (fullwidth, ligatures, superscripts,
   * the non-breaking and ideographic spaces); case folding can leave a
   * string that is not NFKC any more, hence NFKC again after it. */
  nfkc = g_utf8_normalize (name, -1, G_NORMALIZE_NFKC);
  folded = g_utf8_casefold (nfkc, -1);
  key = g_utf8_normalize (folded, -1, G_NORMALIZE_NFKC);
  g_free (nfkc);
  g_free (folded);
  if (key == NULL || *key == '\0') {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name cannot be normalized");
    g_free (key);
    return NULL;
  }
  /* Normalization may create what the name did not hold (a control
   * character out of a compatibility form, a '/' out of U+FF0F FULLWIDTH
   * SOLIDUS): the key obeys the same rules as the name. */
  if (!check_chars (key, error) || !check_scripts (key, error)) {
    g_free (key);
    return NULL;
  }
  if (strchr (key, '/')) {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name contains a character that normalizes to '/'");
    g_free (key);
    return NULL;
  }
  last = g_utf8_find_prev_char (key, key + strlen (key));
  if (g_unichar_isspace (g_utf8_get_char (key)) ||
      (last && g_unichar_isspace (g_utf8_get_char (last)))) {
    g_set_error_literal (error, DIODE_PROTOCOL_ERROR, DIODE_ERR_BAD_NAME,
        "stream name begins or ends with white space");
    g_free (key);
    return NULL;
  }
  return key;
}

gboolean
diode_name_same (const gchar * a, const gchar * b)
{
  gchar *ka = diode_name_key (a, NULL), *kb = diode_name_key (b, NULL);
  gboolean same = ka && kb && !strcmp (ka, kb);

  g_free (ka);
  g_free (kb);
  return same;
}

/* The key, or a copy of the string itself when it is not a valid name (so
 * that a hash table stays consistent whatever it is given). */
static gchar *
key_or_self (const gchar * name)
{
  gchar *key = diode_name_key (name, NULL);

  return key ? key : g_strdup (name);
}

guint
diode_name_hash (gconstpointer name)
{
  gchar *key = key_or_self (name);
  guint h = g_str_hash (key);

  g_free (key);
  return h;
}

gboolean
diode_name_equal (gconstpointer a, gconstpointer b)
{
  gchar *ka, *kb;
  gboolean eq;

  if (!strcmp (a, b))
    return TRUE;
  ka = key_or_self (a);
  kb = key_or_self (b);
  eq = !strcmp (ka, kb);
  g_free (ka);
  g_free (kb);
  return eq;
}

gchar *
diode_name_escape (const gchar * name)
{
  GString *out;
  const gchar *p;

  if (name == NULL)
    return g_strdup ("(none)");
  if (!g_utf8_validate (name, -1, NULL))
    return g_strescape (name, NULL);
  out = g_string_new (NULL);
  for (p = name; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (char_refused (c) || !g_unichar_isprint (c))
      g_string_append_printf (out, "<U+%04X>", c);
    else
      g_string_append_unichar (out, c);
  }
  return g_string_free (out, FALSE);
}
