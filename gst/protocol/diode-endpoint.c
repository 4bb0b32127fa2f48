/* gst-diode — relay endpoints: "[0xADDRESS@]HOST[:PORT]" and lists of them
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Hand-written rather than g_network_address_parse(): the protocol core
 * depends on GLib only (no GIO), and the pin prefix, the list rules and
 * messages that quote the offending entry are ours anyway. The accepted
 * forms are those the elements accepted before lists existed (HOST,
 * HOST:PORT, [V6]:PORT, a bare IPv6 literal), plus the pin.
 */
#include "diode-endpoint.h"

#include <string.h>

G_DEFINE_QUARK (diode-endpoint-error-quark, diode_endpoint_error);

/* DNS names are at most 253 characters; more is a typo or an attack. */
#define MAX_HOST 253

static gboolean
invalid (GError ** error, const gchar * text, const gchar * format, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
invalid (GError ** error, const gchar * text, const gchar * format, ...)
{
  va_list args;
  gchar *why, *shown;

  va_start (args, format);
  why = g_strdup_vprintf (format, args);
  va_end (args);
  /* The entry may come from a command line or a URI: quote it, escaped, so
   * a control character cannot garble a terminal or a log line. */
  shown = g_strescape (text, NULL);
  g_set_error (error, DIODE_ENDPOINT_ERROR, DIODE_ENDPOINT_ERROR_INVALID,
      "relay '%s' is not [0xADDRESS@]HOST[:PORT]: %s", shown, why);
  g_free (shown);
  g_free (why);
  return FALSE;
}

static gboolean
is_pin (const gchar * s, gsize len)
{
  gsize i;

  if (len != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
    return FALSE;
  for (i = 2; i < len; i++)
    if (!g_ascii_isxdigit (s[i]))
      return FALSE;
  return TRUE;
}

/* A host name or IPv4 address as written: printable, no separator that
 * would make "host:port", lists, pins or URIs ambiguous. Resolution says
 * whether it exists. */
static gboolean
check_host (const gchar * text, const gchar * host, GError ** error)
{
  const gchar *p;

  if (*host == '\0')
    return invalid (error, text, "the host is empty");
  if (strlen (host) > MAX_HOST)
    return invalid (error, text, "the host is longer than %d characters",
        MAX_HOST);
  if (!g_utf8_validate (host, -1, NULL))
    return invalid (error, text, "the host is not valid UTF-8");
  for (p = host; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_isspace (c) || g_unichar_iscntrl (c))
      return invalid (error, text, "the host contains a space or a control "
          "character");
    if (c == '/' || c == '@' || c == '[' || c == ']' || c == ',' || c == ':')
      return invalid (error, text, "the host contains '%c'", (gchar) c);
  }
  return TRUE;
}

static gboolean
parse_port (const gchar * text, const gchar * s, guint16 * port,
    GError ** error)
{
  guint64 v = 0;
  const gchar *p;

  if (*s == '\0')
    return invalid (error, text, "the port after ':' is empty");
  for (p = s; *p; p++) {
    if (!g_ascii_isdigit (*p))
      return invalid (error, text, "the port '%s' is not a number", s);
    v = v * 10 + (*p - '0');
    if (v > G_MAXUINT16)
      break;
  }
  if (v == 0 || v > G_MAXUINT16)
    return invalid (error, text, "the port must be 1 to 65535");
  *port = v;
  return TRUE;
}

DiodeEndpoint *
diode_endpoint_parse (const gchar * text, guint16 default_port,
    GError ** error)
{
  gchar *s, *hostport, *at, *colon;
  DiodeEndpoint e = { NULL, 0, NULL };

  g_return_val_if_fail (default_port != 0, NULL);

  if (text == NULL)
    text = "";
  s = g_strstrip (g_strdup (text));
  if (*s == '\0') {
    invalid (error, text, "it is empty");
    goto fail;
  }

  hostport = s;
  at = strchr (s, '@');
  if (at) {
    if (!is_pin (s, at - s)) {
      invalid (error, text, "the relay identity before '@' must be 0x and "
          "40 hex digits");
      goto fail;
    }
    *at = '\0';
    e.pin = g_ascii_strdown (s, -1);
    hostport = at + 1;
  }

  e.port = default_port;
  if (hostport[0] == '[') {
    /* [V6] or [V6]:PORT */
    gchar *close = strchr (hostport, ']');

    if (close == NULL) {
      invalid (error, text, "'[' without ']'");
      goto fail;
    }
    *close = '\0';
    if (!strchr (hostport + 1, ':')
        || !g_hostname_is_ip_address (hostport + 1)) {
      invalid (error, text, "'%s' in brackets is not an IPv6 address",
          hostport + 1);
      goto fail;
    }
    e.host = g_strdup (hostport + 1);
    if (close[1] == ':') {
      if (!parse_port (text, close + 2, &e.port, error))
        goto fail;
    } else if (close[1] != '\0') {
      invalid (error, text, "only ':PORT' may follow ']'");
      goto fail;
    }
  } else if ((colon = strchr (hostport, ':')) && strchr (colon + 1, ':')) {
    /* two colons or more: an IPv6 literal alone, default port */
    if (!g_hostname_is_ip_address (hostport)) {
      invalid (error, text, "not an IPv6 address (an IPv6 address with a "
          "port goes in brackets: [::1]:7878)");
      goto fail;
    }
    e.host = g_strdup (hostport);
  } else {
    if (colon) {
      *colon = '\0';
      if (!parse_port (text, colon + 1, &e.port, error))
        goto fail;
    }
    if (!check_host (text, hostport, error))
      goto fail;
    e.host = g_strdup (hostport);
  }
  g_free (s);
  return g_memdup2 (&e, sizeof (e));

fail:
  g_free (e.host);
  g_free (e.pin);
  g_free (s);
  return NULL;
}

static gboolean
only_spaces (const gchar * s)
{
  while (g_ascii_isspace (*s))
    s++;
  return *s == '\0';
}

GPtrArray *
diode_endpoint_list_parse (const gchar * text, guint16 default_port,
    GError ** error)
{
  GPtrArray *list;
  gchar **parts;
  guint i, n;

  g_return_val_if_fail (default_port != 0, NULL);

  if (text == NULL || only_spaces (text)) {
    g_set_error_literal (error, DIODE_ENDPOINT_ERROR,
        DIODE_ENDPOINT_ERROR_INVALID, "the relay list is empty");
    return NULL;
  }
  parts = g_strsplit (text, ",", -1);
  n = g_strv_length (parts);
  if (n > DIODE_ENDPOINT_LIST_MAX) {
    g_set_error (error, DIODE_ENDPOINT_ERROR, DIODE_ENDPOINT_ERROR_INVALID,
        "the relay list has %u entries, at most %d are allowed", n,
        DIODE_ENDPOINT_LIST_MAX);
    g_strfreev (parts);
    return NULL;
  }
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) diode_endpoint_free);
  for (i = 0; i < n; i++) {
    DiodeEndpoint *e;
    guint j;

    if (*g_strstrip (parts[i]) == '\0') {
      g_set_error (error, DIODE_ENDPOINT_ERROR, DIODE_ENDPOINT_ERROR_INVALID,
          "entry %u of the relay list is empty (two commas, or a comma at "
          "an end)", i + 1);
      goto fail;
    }
    e = diode_endpoint_parse (parts[i], default_port, error);
    if (e == NULL)
      goto fail;
    for (j = 0; j < list->len; j++) {
      if (diode_endpoint_same_place (e, list->pdata[j])) {
        gchar *where = diode_endpoint_to_string (e);

        g_set_error (error, DIODE_ENDPOINT_ERROR,
            DIODE_ENDPOINT_ERROR_INVALID, "relay '%s' (entry %u) is already "
            "entry %u of the relay list", where, i + 1, j + 1);
        g_free (where);
        diode_endpoint_free (e);
        goto fail;
      }
    }
    g_ptr_array_add (list, e);
  }
  g_strfreev (parts);
  return list;

fail:
  g_strfreev (parts);
  g_ptr_array_unref (list);
  return NULL;
}

gchar *
diode_endpoint_to_string (const DiodeEndpoint * e)
{
  g_return_val_if_fail (e != NULL, NULL);

  if (strchr (e->host, ':'))
    return g_strdup_printf ("[%s]:%u", e->host, e->port);
  return g_strdup_printf ("%s:%u", e->host, e->port);
}

gboolean
diode_endpoint_same_place (const DiodeEndpoint * a, const DiodeEndpoint * b)
{
  return a->port == b->port && g_ascii_strcasecmp (a->host, b->host) == 0;
}

DiodeEndpoint *
diode_endpoint_copy (const DiodeEndpoint * e)
{
  DiodeEndpoint *c;

  if (e == NULL)
    return NULL;
  c = g_new0 (DiodeEndpoint, 1);
  c->host = g_strdup (e->host);
  c->port = e->port;
  c->pin = g_strdup (e->pin);
  return c;
}

void
diode_endpoint_free (DiodeEndpoint * e)
{
  if (e == NULL)
    return;
  g_free (e->host);
  g_free (e->pin);
  g_free (e);
}
