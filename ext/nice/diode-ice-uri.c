/* gst-diode — STUN and TURN server URIs for the ICE layer
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The forms the elements' `stun-server` and `turn-server` properties take
 * (README.md, "Direct paths"), parsed once here so that the property
 * check and the agent agree:
 *
 *   STUN  "host:port", "stun:host:port" (port optional: 3478); a literal
 *         IPv6 address in brackets, "[2001:db8::1]:3478".
 *   TURN  "turn://user:pass@host:port[?transport=udp|tcp]"; user and
 *         password percent-encoded as in any URI.
 *
 * "turns://" (TURN over TLS) is refused: libnice 0.1.21 has a TURN-TLS
 * relay type but, in RFC 5245 mode, it opens a plain TCP connection
 * (agent.c only wraps the socket in "pseudo-SSL" for the Google and MSOC
 * dialects): credentials would cross the network in the clear while the
 * user believes they are in TLS. Fail closed with a message saying so.
 */
#include "diode-ice-priv.h"

#include <gio/gio.h>
#include <string.h>

#define DEFAULT_STUN_PORT 3478

void
diode_ice_server_clear (DiodeIceServer * s)
{
  g_clear_pointer (&s->host, g_free);
  g_clear_pointer (&s->user, g_free);
  if (s->pass)
    memset (s->pass, 0, strlen (s->pass));
  g_clear_pointer (&s->pass, g_free);
  s->port = 0;
  s->tcp = FALSE;
}

/* A host as a URI or "host:port" carries it: a DNS name or an address,
 * no spaces or control characters (they would end up in logs). */
static gboolean
host_ok (const gchar * host)
{
  const gchar *p;

  if (!host || !*host || strlen (host) > 253)
    return FALSE;
  for (p = host; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-' && *p != ':'
        && *p != '_')
      return FALSE;
  }
  return TRUE;
}

gboolean
diode_ice_parse_stun (const gchar * uri, DiodeIceServer * out,
    GError ** error)
{
  const gchar *rest = uri;
  GSocketConnectable *addr;
  GError *err = NULL;

  memset (out, 0, sizeof (*out));
  if (!uri || !*uri) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "STUN server: empty (want host:port or stun:host:port)");
    return FALSE;
  }
  if (g_str_has_prefix (rest, "stuns:")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "STUN server: \"stuns:\" (STUN over TLS) is not supported by "
        "libnice; use stun:host:port");
    return FALSE;
  }
  if (g_str_has_prefix (rest, "stun:"))
    rest += 5;
  if (g_str_has_prefix (rest, "//") || strchr (rest, '@')
      || strchr (rest, '/') || strchr (rest, '?')) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "STUN server: want host:port or stun:host:port, without \"//\", "
        "user, path or query");
    return FALSE;
  }
  addr = g_network_address_parse (rest, DEFAULT_STUN_PORT, &err);
  if (!addr) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "STUN server: bad host or port (%s)", err->message);
    g_error_free (err);
    return FALSE;
  }
  out->host = g_strdup (g_network_address_get_hostname
      (G_NETWORK_ADDRESS (addr)));
  out->port = g_network_address_get_port (G_NETWORK_ADDRESS (addr));
  g_object_unref (addr);
  if (!host_ok (out->host) || out->port == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        out->port == 0 ? "STUN server: port 0" :
        "STUN server: the host is not a name or an address");
    diode_ice_server_clear (out);
    return FALSE;
  }
  return TRUE;
}

gboolean
diode_ice_parse_turn (const gchar * uri, DiodeIceServer * out,
    GError ** error)
{
  GUri *u;
  GError *err = NULL;
  const gchar *query;

  memset (out, 0, sizeof (*out));
  if (!uri || !*uri) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: empty (want turn://user:pass@host:port)");
    return FALSE;
  }
  if (g_ascii_strncasecmp (uri, "turns:", 6) == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "TURN server: \"turns://\" (TURN over TLS) is refused: libnice "
        "0.1.21 would connect without TLS in RFC 5245 mode; use "
        "turn://...?transport=tcp or udp");
    return FALSE;
  }
  if (g_ascii_strncasecmp (uri, "turn://", 7) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: the scheme must be turn:// "
        "(turn://user:pass@host:port[?transport=udp|tcp])");
    return FALSE;
  }
  u = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD, &err);
  if (!u) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: not a URI (%s)", err->message);
    g_error_free (err);
    return FALSE;
  }
  if (!g_uri_get_user (u) || !*g_uri_get_user (u)
      || !g_uri_get_password (u)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: user and password missing (turn://user:pass@host:port)");
    goto fail;
  }
  if (!host_ok (g_uri_get_host (u))) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: the host is missing or not a name or an address");
    goto fail;
  }
  if (g_uri_get_port (u) <= 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: the port is missing (turn://user:pass@host:PORT)");
    goto fail;
  }
  if (*g_uri_get_path (u) && strcmp (g_uri_get_path (u), "/") != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN server: a path is not allowed");
    goto fail;
  }
  query = g_uri_get_query (u);
  out->tcp = FALSE;
  if (query) {
    if (strcmp (query, "transport=tcp") == 0)
      out->tcp = TRUE;
    else if (strcmp (query, "transport=udp") != 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "TURN server: the query must be transport=udp or transport=tcp");
      goto fail;
    }
  }
  out->host = g_strdup (g_uri_get_host (u));
  out->port = g_uri_get_port (u);
  out->user = g_strdup (g_uri_get_user (u));
  out->pass = g_strdup (g_uri_get_password (u));
  g_uri_unref (u);
  return TRUE;

fail:
  g_uri_unref (u);
  return FALSE;
}

gboolean
diode_ice_check_stun_uri (const gchar * uri, GError ** error)
{
  DiodeIceServer s;

  if (!diode_ice_parse_stun (uri, &s, error))
    return FALSE;
  diode_ice_server_clear (&s);
  return TRUE;
}

gboolean
diode_ice_check_turn_uri (const gchar * uri, GError ** error)
{
  DiodeIceServer s;

  if (!diode_ice_parse_turn (uri, &s, error))
    return FALSE;
  diode_ice_server_clear (&s);
  return TRUE;
}
