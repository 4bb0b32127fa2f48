/* gst-diode — unit tests: relay endpoints and relay lists (diode-endpoint)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The forms the elements' relay= property and the relay's --upstream and
 * --fallback options accept, the canonical host:port the known-relays file
 * is keyed by, and every refusal with a message that quotes the entry.
 */
#include <gst/check/gstcheck.h>
#include <string.h>

#include "diode-endpoint.h"

#define PIN "0x00112233445566778899AABBCCDDEEFF00112233"
#define PIN_LOW "0x00112233445566778899aabbccddeeff00112233"

static void
ok (const gchar * text, const gchar * host, guint port, const gchar * pin,
    const gchar * canonical)
{
  GError *err = NULL;
  DiodeEndpoint *e = diode_endpoint_parse (text, 7878, &err), *c;
  gchar *s;

  fail_unless (e != NULL, "'%s' refused: %s", text, err ? err->message : "");
  fail_unless_equals_string (e->host, host);
  fail_unless_equals_int (e->port, port);
  fail_unless_equals_string (e->pin, pin);
  s = diode_endpoint_to_string (e);
  fail_unless_equals_string (s, canonical);
  g_free (s);
  c = diode_endpoint_copy (e);
  fail_unless (c != e && diode_endpoint_same_place (c, e));
  fail_unless_equals_string (c->pin, e->pin);
  diode_endpoint_free (c);
  diode_endpoint_free (e);
}

static void
refused (const gchar * text, const gchar * needle)
{
  GError *err = NULL;
  DiodeEndpoint *e = diode_endpoint_parse (text, 7878, &err);

  fail_unless (e == NULL, "'%s' accepted", text);
  fail_unless (g_error_matches (err, DIODE_ENDPOINT_ERROR,
          DIODE_ENDPOINT_ERROR_INVALID));
  fail_unless (strstr (err->message, needle) != NULL, "'%s': '%s' does not "
      "say '%s'", text, err->message, needle);
  GST_INFO ("%s", err->message);
  g_error_free (err);
}

GST_START_TEST (test_forms)
{
  ok ("relay.example", "relay.example", 7878, NULL, "relay.example:7878");
  ok ("relay.example:9000", "relay.example", 9000, NULL,
      "relay.example:9000");
  ok ("  127.0.0.1:1  ", "127.0.0.1", 1, NULL, "127.0.0.1:1");
  ok ("localhost:65535", "localhost", 65535, NULL, "localhost:65535");
  ok ("[::1]:7000", "::1", 7000, NULL, "[::1]:7000");
  ok ("[::1]", "::1", 7878, NULL, "[::1]:7878");
  ok ("::1", "::1", 7878, NULL, "[::1]:7878");
  ok ("fe80::1:2", "fe80::1:2", 7878, NULL, "[fe80::1:2]:7878");
  /* the pin: any case in, lowercase out, not part of the canonical form */
  ok (PIN "@relay.example:7000", "relay.example", 7000, PIN_LOW,
      "relay.example:7000");
  ok (PIN_LOW "@[::1]:7001", "::1", 7001, PIN_LOW, "[::1]:7001");
  ok (PIN "@host", "host", 7878, PIN_LOW, "host:7878");
  /* the host as written: the known-relays file is keyed by it */
  ok ("Relay.Example:7", "Relay.Example", 7, NULL, "Relay.Example:7");
}

GST_END_TEST;

GST_START_TEST (test_refused)
{
  refused ("", "empty");
  refused ("   ", "empty");
  refused (NULL, "empty");
  refused ("host:", "port after ':' is empty");
  refused ("host:0", "1 to 65535");
  refused ("host:65536", "1 to 65535");
  refused ("host:99999999999999999999999", "1 to 65535");
  refused ("host:+80", "not a number");
  refused ("host:80x", "not a number");
  refused (":80", "host is empty");
  refused ("0x1234@host", "40 hex digits");
  refused ("0x00112233445566778899aabbccddeeff0011223g@host", "40 hex");
  refused ("@host", "40 hex digits");
  refused (PIN "@", "host is empty");
  refused (PIN "@" PIN "@host", "contains '@'");
  refused ("[::1", "without ']'");
  refused ("[::1]x", "only ':PORT'");
  refused ("[::1]:", "port after ':' is empty");
  refused ("[relay.example]:7", "not an IPv6 address");
  refused ("[1.2.3.4]:7", "not an IPv6 address");
  refused ("not:an:address", "brackets");
  refused ("ho st:7", "space");
  refused ("host\x01:7", "control");
  refused ("a/b:7", "contains '/'");
  refused ("a]b", "contains ']'");
  refused ("\xff\xfe:7", "UTF-8");
}

GST_END_TEST;

/* The message quotes the entry escaped: a control character from a URI
 * cannot reach a terminal or a log line raw. */
GST_START_TEST (test_error_quotes_entry)
{
  GError *err = NULL;
  gchar *longhost = g_strnfill (254, 'a');
  DiodeEndpoint *e;

  fail_unless (diode_endpoint_parse ("evil\x1b[2J:7", 7878, &err) == NULL);
  fail_unless (strchr (err->message, '\x1b') == NULL, "%s", err->message);
  fail_unless (strstr (err->message, "evil\\033[2J:7") != NULL, "%s",
      err->message);
  g_clear_error (&err);
  fail_unless (diode_endpoint_parse (longhost, 7878, &err) == NULL);
  fail_unless (strstr (err->message, "longer than 253") != NULL);
  g_clear_error (&err);
  longhost[253] = '\0';
  e = diode_endpoint_parse (longhost, 7878, NULL);
  fail_unless (e != NULL);
  diode_endpoint_free (e);
  g_free (longhost);
}

GST_END_TEST;

static GPtrArray *
list_ok (const gchar * text, guint n)
{
  GError *err = NULL;
  GPtrArray *l = diode_endpoint_list_parse (text, 7878, &err);

  fail_unless (l != NULL, "'%s' refused: %s", text, err ? err->message : "");
  fail_unless_equals_int (l->len, n);
  return l;
}

static void
list_refused (const gchar * text, const gchar * needle)
{
  GError *err = NULL;
  GPtrArray *l = diode_endpoint_list_parse (text, 7878, &err);

  fail_unless (l == NULL, "'%s' accepted", text);
  fail_unless (g_error_matches (err, DIODE_ENDPOINT_ERROR,
          DIODE_ENDPOINT_ERROR_INVALID));
  fail_unless (strstr (err->message, needle) != NULL, "'%s': '%s' does not "
      "say '%s'", text, err->message, needle);
  GST_INFO ("%s", err->message);
  g_error_free (err);
}

GST_START_TEST (test_list)
{
  GPtrArray *l;
  GString *s;
  guint i;

  l = list_ok ("a:1", 1);
  g_ptr_array_unref (l);
  l = list_ok ("a:1, b ,  " PIN "@[::1]:3,c:1", 4);
  fail_unless_equals_string (((DiodeEndpoint *) l->pdata[0])->host, "a");
  fail_unless_equals_string (((DiodeEndpoint *) l->pdata[1])->host, "b");
  fail_unless_equals_int (((DiodeEndpoint *) l->pdata[1])->port, 7878);
  fail_unless_equals_string (((DiodeEndpoint *) l->pdata[2])->pin, PIN_LOW);
  fail_unless_equals_string (((DiodeEndpoint *) l->pdata[3])->host, "c");
  g_ptr_array_unref (l);
  /* the same host on another port is another relay */
  l = list_ok ("a:1,a:2,a", 3);
  g_ptr_array_unref (l);

  list_refused ("", "empty");
  list_refused (" ", "empty");
  list_refused ("a:1,", "entry 2 of the relay list is empty");
  list_refused (",a:1", "entry 1 of the relay list is empty");
  list_refused ("a:1,,b:1", "entry 2");
  list_refused ("a:1, ,b:1", "entry 2");
  list_refused ("a:1,b:x", "'b:x'");
  list_refused ("a:1,b:2,A:1", "relay 'A:1' (entry 3) is already entry 1");
  list_refused ("a,a:7878", "already entry 1");
  list_refused (PIN "@a:1,a:1", "already entry 1");
  list_refused ("[::1]:7878,::1", "is already entry 1");

  s = g_string_new ("h0");
  for (i = 1; i < 16; i++)
    g_string_append_printf (s, ",h%u", i);
  l = list_ok (s->str, 16);
  g_ptr_array_unref (l);
  g_string_append (s, ",h16");
  list_refused (s->str, "17 entries, at most 16");
  g_string_free (s, TRUE);
}

GST_END_TEST;

static Suite *
endpoint_suite (void)
{
  Suite *s = suite_create ("endpoint");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_forms);
  tcase_add_test (tc, test_refused);
  tcase_add_test (tc, test_error_quotes_entry);
  tcase_add_test (tc, test_list);
  return s;
}

GST_CHECK_MAIN (endpoint);
