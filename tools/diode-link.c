/* gst-diode — `diode link`: share links and their revocation
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   diode link NAME [--expires DURATION] [--relay HOST:PORT|URL] [--https]
 *                   [--scope live|recording|all] [--identity FILE]
 *       prints http(s)://HOST:PORT/watch/NAME?t=TOKEN, a link that plays
 *       the stream NAME in a browser even when it is protected or private
 *   diode link --show TOKEN|URL
 *       prints what a link holds (stream, owner, link id, times) and
 *       whether its signature verifies
 *   diode link --revoke TOKEN|URL            [--relay ...]
 *   diode link --revoke LINK_ID NAME         [--relay ...]
 *   diode link --revoke --all NAME           [--relay ...]
 *       tells the relay (POST /api/revoke) that the link, or every link
 *       of NAME made until now, no longer works
 *
 * The token is signed with this node's identity, which must be the
 * stream's owner (the identity that publishes it). docs/protocol.md
 * section 16 has the layouts, docs/security.md what a link grants.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libsoup/soup.h>

#include "diode-commands.h"
#include "diode-identity.h"
#include "diode-link-sign.h"
#include "diode-link-token.h"
#include "diode-msg.h"

#define EXIT_USAGE 2
#define DEFAULT_RELAY "127.0.0.1:8080"
#define DEFAULT_EXPIRES (24 * 3600)

static void
say (const gchar * fmt, ...) G_GNUC_PRINTF (1, 2);

static void
say (const gchar * fmt, ...)
{
  va_list ap;
  gchar *m;

  va_start (ap, fmt);
  m = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("diode: %s\n", m);
  g_free (m);
}

/* "30m", "12h", "7d", "90s": one number, one unit. */
static gboolean
parse_duration (const gchar * s, gint64 * out)
{
  guint64 n;
  gint64 unit;
  gsize len = s ? strlen (s) : 0;
  gchar *num;
  gboolean ok;

  if (len < 2)
    return FALSE;
  switch (s[len - 1]) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 24 * 3600;
      break;
    default:
      return FALSE;
  }
  num = g_strndup (s, len - 1);
  ok = g_ascii_string_to_unsigned (num, 10, 0, 1000000000, &n, NULL);
  g_free (num);
  if (!ok)
    return FALSE;
  *out = (gint64) n *unit;
  return TRUE;
}

/* --relay: "HOST:PORT", "HOST", or an http:// / https:// URL with no
 * path. Returns "scheme://host[:port]". */
static gchar *
relay_base (const gchar * relay, gboolean https, GError ** error)
{
  gchar *text = strstr (relay, "://") ? g_strdup (relay) :
      g_strconcat (https ? "https://" : "http://", relay, NULL);
  GUri *uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  gchar *base = NULL;
  const gchar *scheme, *path;

  g_free (text);
  if (!uri) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--relay '%s': expected HOST:PORT or an http(s):// URL", relay);
    return NULL;
  }
  scheme = g_uri_get_scheme (uri);
  path = g_uri_get_path (uri);
  if ((g_ascii_strcasecmp (scheme, "http")
          && g_ascii_strcasecmp (scheme, "https"))
      || !g_uri_get_host (uri) || !*g_uri_get_host (uri)
      || (path && *path && strcmp (path, "/")) || g_uri_get_query (uri)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--relay '%s': expected HOST:PORT or an http(s):// URL with no path",
        relay);
  } else {
    base = g_uri_join (G_URI_FLAGS_NONE, https
        || !g_ascii_strcasecmp (scheme, "https") ? "https" : "http", NULL,
        g_uri_get_host (uri), g_uri_get_port (uri), "", NULL, NULL);
  }
  g_uri_unref (uri);
  return base;
}

static int
make_link (DiodeIdentity * id, const gchar * name, const gchar * expires_s,
    const gchar * scope_s, const gchar * base)
{
  DiodeLinkToken t;
  gint64 life = DEFAULT_EXPIRES, now = g_get_real_time () / G_USEC_PER_SEC;
  gchar *text, *escaped, hex[2 * DIODE_LINK_ID_SIZE + 1];
  GDateTime *until;
  gchar *until_s;
  GError *err = NULL;

  memset (&t, 0, sizeof t);
  if (expires_s && !parse_duration (expires_s, &life)) {
    say ("--expires '%s': expected a duration like 30m, 12h or 7d "
        "(s, m, h or d after a whole number)", expires_s);
    return EXIT_USAGE;
  }
  if (life <= 0 || life > DIODE_LINK_MAX_LIFETIME) {
    say ("--expires '%s': a link lasts from 1 s to 366 days", expires_s);
    return EXIT_USAGE;
  }
  if (!scope_s || !strcmp (scope_s, "live"))
    t.scope = DIODE_LINK_SCOPE_LIVE;
  else if (!strcmp (scope_s, "recording"))
    t.scope = DIODE_LINK_SCOPE_RECORDING;
  else if (!strcmp (scope_s, "all"))
    t.scope = DIODE_LINK_SCOPE_ALL;
  else {
    say ("--scope '%s': expected live, recording or all", scope_s);
    return EXIT_USAGE;
  }
  g_strlcpy (t.stream, name, sizeof t.stream);
  t.issued = now;
  t.expires = now + life;
  {
    guint32 r[2] = { g_random_int (), g_random_int () };

    memcpy (t.id, r, sizeof t.id);
  }
  text = diode_link_token_sign (id, &t, &err);
  if (!text) {
    say ("cannot make the link: %s", err->message);
    g_error_free (err);
    return EXIT_FAILURE;
  }
  escaped = g_uri_escape_string (name, NULL, FALSE);
  g_print ("%s/watch/%s?t=%s\n", base, escaped, text);
  diode_link_id_to_hex (t.id, hex);
  until = g_date_time_new_from_unix_utc (t.expires);
  until_s = g_date_time_format (until, "%Y-%m-%d %H:%M:%S UTC");
  g_printerr ("link %s to '%s' (%s), valid until %s; revoke it with: "
      "diode link --revoke %s '%s' --relay %s\n", hex, name, scope_s ?
      scope_s : "live", until_s, hex, name, base);
  g_free (until_s);
  g_date_time_unref (until);
  g_free (escaped);
  g_free (text);
  return EXIT_SUCCESS;
}

/* The token inside a link URL, or the argument as is. */
static const gchar *
token_of (const gchar * arg)
{
  const gchar *t = strstr (arg, "t=");

  return t && strstr (arg, "://") ? t + 2 : arg;
}

static gchar *
time_text (guint64 t)
{
  GDateTime *d = g_date_time_new_from_unix_utc ((gint64) t);
  gchar *s = d ? g_date_time_format (d, "%Y-%m-%d %H:%M:%S UTC") :
      g_strdup ("(out of range)");

  if (d)
    g_date_time_unref (d);
  return s;
}

/* --show: what a link holds, and whether its signature verifies. */
static int
show_link (const gchar * arg)
{
  gchar *tok = g_strdup (token_of (arg)), *amp = strchr (tok, '&');
  guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
  gchar hex[2 * DIODE_LINK_ID_SIZE + 1], *owner, *is, *ex;
  DiodeLinkToken t;
  gsize len = 0;
  GError *err = NULL;
  gboolean valid;

  if (amp)
    *amp = '\0';
  if (!diode_link_text_decode (tok, p, &len, sig, &err)
      || !diode_link_token_parse (p, len, &t, &err)) {
    say ("link --show: not a share link: %s", err->message);
    g_error_free (err);
    g_free (tok);
    return EXIT_FAILURE;
  }
  valid = diode_link_verify (t.owner, DIODE_LINK_TOKEN_CONTEXT, p, len, sig,
      NULL);
  owner = diode_link_key_address (t.owner, NULL);
  diode_link_id_to_hex (t.id, hex);
  is = time_text (t.issued);
  ex = time_text (t.expires);
  g_print ("stream: %s\nowner: %s\nlink id: %s\nscope: %s\n"
      "issued: %" G_GUINT64_FORMAT " (%s)\nexpires: %" G_GUINT64_FORMAT
      " (%s)\nsignature: %s\n", t.stream, owner ? owner : "(bad key)", hex,
      t.scope == DIODE_LINK_SCOPE_ALL ? "all" :
      t.scope == DIODE_LINK_SCOPE_LIVE ? "live" : "recording", t.issued, is,
      t.expires, ex, valid ? "valid" : "INVALID");
  g_free (is);
  g_free (ex);
  g_free (owner);
  g_free (tok);
  return valid ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int
post_revocation (const gchar * base, const gchar * text)
{
  SoupSession *session = soup_session_new_with_options ("timeout", 30,
      "user-agent", "diode-link", NULL);
  gchar *url = g_strconcat (base, "/api/revoke", NULL);
  SoupMessage *msg = soup_message_new (SOUP_METHOD_POST, url);
  GBytes *body, *answer;
  GError *err = NULL;
  gchar *reply;
  guint status;
  int rc;

  if (!msg) {
    say ("cannot make a request to %s", url);
    g_free (url);
    g_object_unref (session);
    return EXIT_FAILURE;
  }
  body = g_bytes_new (text, strlen (text));
  soup_message_set_request_body_from_bytes (msg, "text/plain", body);
  g_bytes_unref (body);
  answer = soup_session_send_and_read (session, msg, NULL, &err);
  if (!answer) {
    say ("cannot reach the relay at %s: %s", base, err->message);
    g_error_free (err);
    g_object_unref (msg);
    g_free (url);
    g_object_unref (session);
    return EXIT_FAILURE;
  }
  status = soup_message_get_status (msg);
  reply = g_strndup (g_bytes_get_data (answer, NULL),
      MIN (g_bytes_get_size (answer), 1024));
  g_strstrip (reply);
  /* the relay's text, made safe for a terminal */
  for (gchar * p = reply; *p; p++)
    if ((guchar) * p < 0x20)
      *p = ' ';
  if (status == SOUP_STATUS_OK) {
    g_print ("%s\n", reply);
    rc = EXIT_SUCCESS;
  } else {
    say ("the relay at %s refused the revocation (%u): %s", base, status,
        *reply ? reply : soup_status_get_phrase (status));
    rc = EXIT_FAILURE;
  }
  g_free (reply);
  g_bytes_unref (answer);
  g_object_unref (msg);
  g_free (url);
  g_object_unref (session);
  return rc;
}

static int
revoke_link (DiodeIdentity * id, int argc, char **argv, gboolean all,
    const gchar * base)
{
  DiodeLinkRevocation rv;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gchar *text;
  GError *err = NULL;
  int rc;

  memset (&rv, 0, sizeof rv);
  if (all) {
    if (argc != 2) {
      say ("link --revoke --all: give the stream's NAME");
      return EXIT_USAGE;
    }
    rv.kind = DIODE_LINK_REVOKE_ALL;
    g_strlcpy (rv.stream, argv[1], sizeof rv.stream);
    rv.before = now;
  } else if (argc == 3) {
    if (!diode_link_id_from_hex (argv[1], rv.id)) {
      say ("link --revoke '%s': not a link id (16 hex digits)", argv[1]);
      return EXIT_USAGE;
    }
    rv.kind = DIODE_LINK_REVOKE_ONE;
    g_strlcpy (rv.stream, argv[2], sizeof rv.stream);
    /* only the id is known: it was issued before now, and expires at the
     * latest 366 days from now */
    rv.issued = now;
    rv.expires = now + DIODE_LINK_MAX_LIFETIME;
  } else if (argc == 2) {
    guint8 p[DIODE_LINK_MAX_PAYLOAD], sig[DIODE_LINK_SIG_SIZE];
    DiodeLinkToken t;
    gsize len = 0;
    gchar *tok = g_strdup (token_of (argv[1])), *amp = strchr (tok, '&');

    if (amp)
      *amp = '\0';
    if (!diode_link_text_decode (tok, p, &len, sig, &err)
        || !diode_link_token_parse (p, len, &t, &err)) {
      say ("link --revoke: '%.40s' is not a share link: %s", argv[1],
          err->message);
      g_error_free (err);
      g_free (tok);
      return EXIT_USAGE;
    }
    g_free (tok);
    rv.kind = DIODE_LINK_REVOKE_ONE;
    g_strlcpy (rv.stream, t.stream, sizeof rv.stream);
    memcpy (rv.id, t.id, sizeof rv.id);
    rv.issued = t.issued;
    rv.expires = t.expires;
  } else {
    say ("link --revoke: give a link (URL or token), a link id and the "
        "stream's NAME, or --all and the stream's NAME");
    return EXIT_USAGE;
  }
  if (!diode_msg_check_stream_name (rv.stream, NULL)) {
    say ("link --revoke: '%s' is not a stream name", rv.stream);
    return EXIT_USAGE;
  }
  text = diode_link_revocation_sign (id, &rv, &err);
  if (!text) {
    say ("cannot sign the revocation: %s", err->message);
    g_error_free (err);
    return EXIT_FAILURE;
  }
  rc = post_revocation (base, text);
  g_free (text);
  return rc;
}

int
diode_cmd_link (int argc, char **argv)
{
  gchar *identity_path = NULL, *expires = NULL, *relay = NULL, *scope = NULL;
  gboolean https = FALSE, revoke_mode = FALSE, all = FALSE, show = FALSE;
  GOptionEntry entries[] = {
    {"expires", 'e', 0, G_OPTION_ARG_STRING, &expires,
        "How long the link works: 30m, 12h, 7d... (default 24h, at most "
          "366d)", "DURATION"},
    {"relay", 'r', 0, G_OPTION_ARG_STRING, &relay,
        "The relay's web side: HOST:PORT or an http(s):// URL (default "
          DEFAULT_RELAY ")", "RELAY"},
    {"https", 0, 0, G_OPTION_ARG_NONE, &https,
        "The relay serves HTTPS (--http-cert)", NULL},
    {"scope", 's', 0, G_OPTION_ARG_STRING, &scope,
        "What the link may watch: live, recording or all (default live)",
        "SCOPE"},
    {"revoke", 0, 0, G_OPTION_ARG_NONE, &revoke_mode,
        "Revoke a link (TOKEN or URL; or LINK_ID NAME) instead", NULL},
    {"show", 0, 0, G_OPTION_ARG_NONE, &show,
        "Print what a link (TOKEN or URL) holds and check its signature",
        NULL},
    {"all", 0, 0, G_OPTION_ARG_NONE, &all,
        "With --revoke: every link of NAME made until now", NULL},
    {"identity", 'i', 0, G_OPTION_ARG_FILENAME, &identity_path,
        "The owner's key file (default: $XDG_CONFIG_HOME/diode/identity.pem)",
        "FILE"},
    {NULL}
  };
  GOptionContext *ctx;
  DiodeIdentity *id = NULL;
  GError *error = NULL;
  gchar *base = NULL;
  int rc = EXIT_USAGE;

  ctx = g_option_context_new ("NAME | --revoke TOKEN|URL | --revoke LINK_ID "
      "NAME | --revoke --all NAME");
  g_option_context_set_summary (ctx,
      "Prints a link that plays the stream NAME in a browser, signed with "
      "this node's\nidentity (the stream's owner): protected and private "
      "streams play with it\nuntil it expires or is revoked. The link id "
      "goes to stderr.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    say ("%s", error->message);
    g_error_free (error);
    goto out;
  }
  if (show) {
    if (argc != 2) {
      say ("link --show: give one link (URL or token)");
      goto out;
    }
    rc = show_link (argv[1]);
    goto out;
  }
  if (all && !revoke_mode) {
    say ("link: --all goes with --revoke");
    goto out;
  }
  /* a link given as the thing to revoke names its relay */
  if (revoke_mode && !relay && argc == 2 && strstr (argv[1], "://")) {
    const gchar *w = strstr (argv[1], "/watch/");

    if (w)
      relay = g_strndup (argv[1], w - argv[1]);
  }
  base = relay_base (relay ? relay : DEFAULT_RELAY, https, &error);
  if (!base) {
    say ("%s", error->message);
    g_error_free (error);
    goto out;
  }
  if (!revoke_mode) {
    if (argc != 2) {
      say (argc < 2 ? "link: give the stream's NAME" :
          "link: unexpected argument '%s'", argc < 2 ? "" : argv[2]);
      goto out;
    }
    if (!diode_msg_check_stream_name (argv[1], NULL)) {
      say ("link: '%s' is not a stream name", argv[1]);
      goto out;
    }
  }
  id = diode_identity_load_or_create (identity_path, &error);
  if (!id) {
    say ("%s", error->message);
    g_error_free (error);
    rc = EXIT_FAILURE;
    goto out;
  }
  if (diode_identity_was_created (id))
    g_printerr ("created new identity %s (links work for streams this "
        "identity publishes)\n", diode_identity_get_path (id));
  if (revoke_mode)
    rc = revoke_link (id, argc, argv, all, base);
  else
    rc = make_link (id, argv[1], expires, scope, base);
out:
  if (id)
    diode_identity_unref (id);
  g_option_context_free (ctx);
  g_free (base);
  g_free (identity_path);
  g_free (expires);
  g_free (relay);
  g_free (scope);
  return rc;
}
