/* gst-diode — unit tests: stream names as relays compare them (diode-name)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Which names are one name (case, NFKC) and which are refused (invisible,
 * bidi and other format characters, mixed Latin/Greek/Cyrillic letters);
 * the relay's stream table and reserved names rely on exactly this
 * (tests/check/test-identity-names.c checks the relay end to end).
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-msg.h"
#include "diode-name.h"

static gchar *
key_ok (const gchar * name)
{
  GError *err = NULL;
  gchar *key = diode_name_key (name, &err);

  fail_unless (key != NULL, "'%s' refused: %s", name, err ? err->message :
      "?");
  return key;
}

/* @name is refused with BAD_NAME, the message holds @needle and never the
 * refused character itself. */
static void
key_refused (const gchar * name, const gchar * needle)
{
  GError *err = NULL;
  gchar *key = diode_name_key (name, &err);
  gchar *shown = diode_name_escape (name);

  fail_unless (key == NULL, "'%s' accepted as '%s'", shown, key);
  fail_unless (g_error_matches (err, DIODE_PROTOCOL_ERROR,
          DIODE_ERR_BAD_NAME), "%s", err ? err->message : "no error");
  fail_unless (strstr (err->message, needle) != NULL, "'%s': '%s' does not "
      "say '%s'", shown, err->message, needle);
  fail_unless (g_utf8_validate (err->message, -1, NULL));
  GST_INFO ("'%s': %s", shown, err->message);
  g_error_free (err);
  g_free (shown);
}

static void
same (const gchar * a, const gchar * b)
{
  gchar *ka = key_ok (a), *kb = key_ok (b);

  fail_unless_equals_string (ka, kb);
  fail_unless (diode_name_same (a, b));
  fail_unless (diode_name_equal (a, b));
  fail_unless_equals_int (diode_name_hash (a), diode_name_hash (b));
  g_free (ka);
  g_free (kb);
}

GST_START_TEST (test_case_and_width_fold)
{
  same ("Cam", "cam");
  same ("CAM", "cam");
  same ("cam", "\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8d");  /* ｃａｍ fullwidth */
  same ("Ｃａｍ", "cAM");
  same ("straße", "STRASSE");   /* case folding, not lowering */
  same ("ﬁsh", "fish");       /* U+FB01 ligature */
  same ("cam²", "cam2");        /* superscript */
  same ("café", "cafe\xcc\x81");        /* composed vs combining accent */
  same ("pi taipei", "pi\xc2\xa0taipei");       /* no-break space */
  same ("Καμερα", "καμερα");    /* Greek alone is fine */
  same ("камера", "КАМЕРА");    /* Cyrillic alone is fine */
  same ("東京-cam", "東京-CAM");  /* Han with Latin is fine */
  fail_if (diode_name_same ("cam", "cam2"));
  fail_if (diode_name_same ("cam", "cam-2"));
}

GST_END_TEST;

GST_START_TEST (test_invisible_refused)
{
  key_refused ("cam\xe2\x80\x8b", "U+200B");    /* zero width space */
  key_refused ("\xe2\x80\xae" "cam", "U+202E"); /* right-to-left override */
  key_refused ("c\xe2\x80\x8d" "am", "U+200D"); /* zero width joiner */
  key_refused ("cam\xe2\x80\x8f", "U+200F");    /* right-to-left mark */
  key_refused ("\xe2\x81\xa0" "cam", "U+2060");  /* word joiner */
  key_refused ("cam\xe2\x81\xa4", "U+2064");    /* invisible plus */
  key_refused ("\xef\xbb\xbf" "cam", "U+FEFF");  /* BOM */
  key_refused ("ca\xc2\xad" "m", "U+00AD");     /* soft hyphen */
  key_refused ("cam\xcd\x8f", "U+034F");        /* combining grapheme joiner */
  key_refused ("cam\xef\xb8\x8f", "U+FE0F");    /* variation selector 16 */
  key_refused ("cam\xe3\x85\xa4", "U+3164");    /* hangul filler */
  key_refused ("cam\xe2\xa0\x80", "U+2800");    /* braille blank */
  key_refused ("cam\xe2\x80\xa8", "U+2028");    /* line separator */
  key_refused ("cam\xee\x80\x80", "U+E000");    /* private use */
  key_refused ("cam\xf3\xa0\x80\x81", "U+E0001");       /* language tag */
}

GST_END_TEST;

GST_START_TEST (test_mixed_scripts_refused)
{
  key_refused ("c\xd0\xb0m", "Latin and Cyrillic");     /* Cyrillic а */
  key_refused ("\xd0\xb0" "cam", "Cyrillic and Latin");
  key_refused ("c\xce\xb1m", "Latin and Greek");        /* Greek α */
  key_refused ("\xce\xb1\xd0\xb0", "Greek and Cyrillic");
  /* digits and punctuation belong to no script */
  g_free (key_ok ("камера-1"));
  g_free (key_ok ("cam_2.front"));
}

GST_END_TEST;

GST_START_TEST (test_wire_rules_and_spaces)
{
  key_refused ("", "empty");
  key_refused ("a/b", "'/'");
  key_refused ("a\xef\xbc\x8f" "b", "'/'");    /* fullwidth solidus */
  key_refused ("cam\x01", "control");
  key_refused (" cam", "white space");
  key_refused ("cam ", "white space");
  key_refused ("cam\xe3\x80\x80", "white space");  /* ideographic space */
  g_free (key_ok ("front door"));
}

GST_END_TEST;

GST_START_TEST (test_escape)
{
  gchar *e = diode_name_escape ("\xe2\x80\xae" "cam\xe2\x80\x8b");

  fail_unless_equals_string (e, "<U+202E>cam<U+200B>");
  g_free (e);
  e = diode_name_escape ("Cam ｃａｍ");
  fail_unless_equals_string (e, "Cam ｃａｍ");
  g_free (e);
}

GST_END_TEST;

/* A hash table keyed the relay's way: one entry per key. */
GST_START_TEST (test_hash_table)
{
  GHashTable *t = g_hash_table_new (diode_name_hash, diode_name_equal);

  g_hash_table_insert (t, (gpointer) "Cam", GINT_TO_POINTER (1));
  fail_unless (g_hash_table_lookup (t, "cam") == GINT_TO_POINTER (1));
  fail_unless (g_hash_table_lookup (t, "ｃａｍ") == GINT_TO_POINTER (1));
  fail_unless (g_hash_table_lookup (t, "cam2") == NULL);
  /* not a valid name: compares as itself, found by nothing else */
  fail_unless (g_hash_table_lookup (t, "cam\xe2\x80\x8b") == NULL);
  g_hash_table_unref (t);
}

GST_END_TEST;

static Suite *
name_suite (void)
{
  Suite *s = suite_create ("name");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_case_and_width_fold);
  tcase_add_test (tc, test_invisible_refused);
  tcase_add_test (tc, test_mixed_scripts_refused);
  tcase_add_test (tc, test_wire_rules_and_spaces);
  tcase_add_test (tc, test_escape);
  tcase_add_test (tc, test_hash_table);
  return s;
}

GST_CHECK_MAIN (name);
