/* gst-diode — share links end to end: a browser's WebSocket viewer
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An in-process relay with its web side on, a private stream published by
 * its owner (diodesink), raw WebSocket viewers (webclient.c) with links
 * signed by the owner's key: a valid link plays (MEDIA frames); an expired
 * one, a revoked one (revoked over real HTTP, POST /api/revoke) and one
 * from someone else get ERROR 102, close 4102 and no MEDIA frame; a viewer
 * watching when its link is revoked is cut off the same way.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fixture.h"
#include "webclient.h"
#include "diode-identity.h"
#include "diode-link-sign.h"
#include "diode-msg.h"
#include "diode-web-token.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define GOP   10
#define SIZE  2000

typedef struct
{
  DiodeRelay *relay;
  guint http;
  GstHarness *pub;
  guint pushed;
  gchar *file;
} Env;

static gint64
now_s (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

static Env *
env_new (void)
{
  Env *e = g_new0 (Env, 1);
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  GstElement *el = gst_element_factory_make ("diodesink", NULL);
  gchar *owner_key = g_build_filename (fixture_config_dir (), "owner.pem",
      NULL);
  gchar *hp;

  e->file = g_build_filename (fixture_config_dir (), "ws.revoked", NULL);
  g_unlink (e->file);
  e->relay = g_object_new (DIODE_TYPE_RELAY, "listen", "127.0.0.1:0",
      "identity", key, "http-listen", "127.0.0.1:0", "link-revocations",
      e->file, NULL);
  fail_unless (diode_relay_start (e->relay, NULL));
  e->http = diode_relay_get_http_port (e->relay);
  fail_unless (e->http != 0);
  hp = diode_relay_get_hostport (e->relay);
  g_object_set (el, "relay", hp, "stream", "cam", "identity", owner_key,
      "access", DIODE_ACCESS_PRIVATE, NULL);
  e->pub = gst_harness_new_with_element (el, "sink", NULL);
  gst_object_unref (el);
  gst_harness_set_src_caps_str (e->pub, CAPS_STR);
  gst_harness_play (e->pub);
  fail_unless (fixture_wait_publisher (e->relay, "cam", TRUE, 5000));
  g_free (hp);
  g_free (key);
  g_free (owner_key);
  return e;
}

static void
env_push (Env * e, guint n)
{
  guint k;

  for (k = 0; k < n; k++)
    fail_unless_equals_int (gst_harness_push (e->pub,
            fixture_make_buffer (e->pushed++, SIZE, GOP)), GST_FLOW_OK);
}

static void
env_free (Env * e)
{
  gst_harness_teardown (e->pub);
  relay_free (e->relay);
  g_unlink (e->file);
  g_free (e->file);
  g_free (e);
}

static gchar *
token (const gchar * key_name, gint64 issued, gint64 expires, guint8 * id)
{
  gchar *path = g_build_filename (fixture_config_dir (), key_name, NULL);
  DiodeIdentity *who = diode_identity_load_or_create (path, NULL);
  DiodeLinkToken t;
  gchar *text;
  guint i;

  fail_unless (who != NULL);
  memset (&t, 0, sizeof t);
  t.scope = DIODE_LINK_SCOPE_LIVE;
  for (i = 0; i < DIODE_LINK_ID_SIZE; i++)
    t.id[i] = g_random_int_range (0, 256);
  t.issued = issued;
  t.expires = expires;
  g_strlcpy (t.stream, "cam", sizeof t.stream);
  text = diode_link_token_sign (who, &t, NULL);
  fail_unless (text != NULL);
  if (id)
    memcpy (id, t.id, DIODE_LINK_ID_SIZE);
  diode_identity_unref (who);
  g_free (path);
  return text;
}

static WebClient *
ws_viewer (Env * e, const gchar * tok)
{
  WebClient *w = web_connect (e->http, FALSE, 0);
  gchar *path = tok ? g_strdup_printf ("/ws/cam?t=%s", tok) :
      g_strdup ("/ws/cam");

  fail_unless_equals_int (ws_open (w, e->http, path, NULL), 101);
  g_free (path);
  return w;
}

/* Frames until the first MEDIA (TRUE) or the close (FALSE: its code and
 * reason; the ERROR frame's code if one came). */
static gboolean
ws_until_media_or_close (WebClient * w, gint * close_code, gchar ** reason,
    guint * error_code)
{
  gint64 end = deadline_in (8000);

  *close_code = 0;
  *error_code = 0;
  while (g_get_monotonic_time () < end) {
    guint8 op = 0;
    GBytes *p = NULL;
    const guint8 *d;
    gsize n;

    if (!ws_next (w, &op, &p, 5000, TRUE)) {
      *close_code = -1;
      return FALSE;
    }
    d = g_bytes_get_data (p, &n);
    if (op == 0x8) {
      *close_code = n >= 2 ? (d[0] << 8) | d[1] : 1005;
      *reason = g_strndup ((const gchar *) d + 2, n >= 2 ? n - 2 : 0);
      g_bytes_unref (p);
      return FALSE;
    }
    fail_unless_equals_int (op, 0x2);
    fail_unless (n >= DIODE_FRAME_HEADER_SIZE);
    if (d[0] == DIODE_MSG_MEDIA) {
      g_bytes_unref (p);
      return TRUE;
    }
    if (d[0] == DIODE_MSG_ERROR && n >= 10)
      *error_code = (d[8] << 8) | d[9];
    g_bytes_unref (p);
  }
  fail ("neither MEDIA nor a close in time");
  return FALSE;
}

static void
expect_refused (Env * e, const gchar * tok, const gchar * why)
{
  WebClient *w = ws_viewer (e, tok);
  gint code;
  guint err;
  gchar *reason = NULL;

  fail_if (ws_until_media_or_close (w, &code, &reason, &err),
      "a MEDIA frame reached a viewer whose link should be refused (%s)",
      why);
  fail_unless_equals_int (err, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless_equals_int (code, 4102);
  fail_unless (reason && strstr (reason, why), "close reason '%s' does not "
      "say '%s'", reason, why);
  g_free (reason);
  web_free (w);
}

static guint
post_revoke (Env * e, const gchar * text, gchar ** answer)
{
  gchar *req = g_strdup_printf ("POST /api/revoke HTTP/1.1\r\nHost: "
      "127.0.0.1:%u\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
      "Connection: close\r\n\r\n%s", e->http, strlen (text), text);
  guint status = http_raw (e->http, FALSE, req, answer);

  g_free (req);
  return status;
}

GST_START_TEST (test_ws_link_plays_expired_refused)
{
  Env *e = env_new ();
  gint64 now = now_s ();
  gchar *good = token ("owner.pem", now - 60, now + 3600, NULL);
  gchar *expired = token ("owner.pem", now - 7200, now - 3600, NULL);
  gchar *foreign = token ("other.pem", now - 60, now + 3600, NULL);
  gchar *reason = NULL;
  WebClient *w;
  gint code;
  guint err;

  env_push (e, GOP);
  w = ws_viewer (e, good);
  fail_unless (ws_until_media_or_close (w, &code, &reason, &err),
      "a valid link got no MEDIA (close %d '%s')", code, reason);
  web_free (w);
  expect_refused (e, expired, "expired");
  expect_refused (e, foreign, "not made by this stream's owner");
  expect_refused (e, NULL, "needs a share link");
  expect_refused (e, "d1.garbage.garbage", "not valid");
  g_free (good);
  g_free (expired);
  g_free (foreign);
  env_free (e);
}

GST_END_TEST;

GST_START_TEST (test_ws_revoked_link)
{
  Env *e = env_new ();
  gint64 now = now_s ();
  guint8 id[DIODE_LINK_ID_SIZE];
  gchar *tok = token ("owner.pem", now - 60, now + 3600, id);
  gchar *other = token ("owner.pem", now - 60, now + 3600, NULL);
  gchar *path = g_build_filename (fixture_config_dir (), "owner.pem", NULL);
  DiodeIdentity *owner = diode_identity_load_or_create (path, NULL);
  DiodeLinkRevocation rv;
  gchar *text, *answer = NULL, *reason = NULL;
  WebClient *watching, *w2;
  gint code;
  guint err, k;

  env_push (e, GOP);
  /* one viewer watching with the link, another with another link */
  watching = ws_viewer (e, tok);
  fail_unless (ws_until_media_or_close (watching, &code, &reason, &err));
  w2 = ws_viewer (e, other);
  fail_unless (ws_until_media_or_close (w2, &code, &reason, &err));

  /* the owner revokes the first link over HTTP */
  memset (&rv, 0, sizeof rv);
  rv.kind = DIODE_LINK_REVOKE_ONE;
  g_strlcpy (rv.stream, "cam", sizeof rv.stream);
  memcpy (rv.id, id, sizeof id);
  rv.issued = now - 60;
  rv.expires = now + 3600;
  text = diode_link_revocation_sign (owner, &rv, NULL);
  fail_unless_equals_int (post_revoke (e, "not a revocation", &answer), 400);
  g_free (answer);
  fail_unless_equals_int (post_revoke (e, text, &answer), 200);
  fail_unless (strstr (answer, "revoked link") != NULL, "%s", answer);
  g_free (answer);

  /* the viewer watching with it is cut off: 102, 4102, no more MEDIA */
  {
    gint64 end = deadline_in (8000);
    gboolean closed = FALSE;

    while (!closed && g_get_monotonic_time () < end) {
      guint8 op = 0;
      GBytes *p = NULL;

      if (!ws_next (watching, &op, &p, 5000, TRUE))
        break;
      if (op == 0x8) {
        gsize n;
        const guint8 *d = g_bytes_get_data (p, &n);

        fail_unless (n >= 2);
        fail_unless_equals_int ((d[0] << 8) | d[1], 4102);
        closed = TRUE;
      }
      g_bytes_unref (p);
    }
    fail_unless (closed, "the viewer of a revoked link was not cut off");
  }
  web_free (watching);
  /* a new viewer with it is refused; the other link still plays */
  expect_refused (e, tok, "revoked");
  for (k = 0; k < 2; k++)
    env_push (e, 1);
  fail_unless (ws_until_media_or_close (w2, &code, &reason, &err),
      "the other link's viewer was cut off too (close %d)", code);
  web_free (w2);
  /* GET on /api/revoke: 405 */
  fail_unless_equals_int (http_get (e->http, FALSE, "/api/revoke", NULL,
          NULL), 405);

  diode_identity_unref (owner);
  g_free (path);
  g_free (text);
  g_free (tok);
  g_free (other);
  env_free (e);
}

GST_END_TEST;

/* A viewer whose link expires while it watches is cut off by relay_ws_tick:
 * ERROR 102 saying "expired", close 4102, within a bounded wait (the link
 * expires 2 to 3 s after it is made; the tick looks at every connection
 * at least once a second). */
GST_START_TEST (test_ws_link_expires_while_watching)
{
  Env *e = env_new ();
  gint64 now;
  gchar *tok, *reason = NULL;
  WebClient *w;
  gint code = 0;
  guint err = 0;
  gboolean error_said_expired = FALSE;
  gint64 end;

  env_push (e, GOP);
  /* 2 to 3 s from now (whole seconds) */
  now = now_s ();
  tok = token ("owner.pem", now - 60, now + 3, NULL);
  w = ws_viewer (e, tok);
  fail_unless (ws_until_media_or_close (w, &code, &reason, &err),
      "the link got no MEDIA before it expired (close %d '%s')", code,
      reason);
  /* frames keep coming until the link expires; then ERROR and close */
  end = deadline_in (15000);
  code = 0;
  while (!code && g_get_monotonic_time () < end) {
    guint8 op = 0;
    GBytes *p = NULL;
    const guint8 *d;
    gsize n;

    env_push (e, 1);
    if (!ws_next (w, &op, &p, 500, TRUE))
      continue;                 /* nothing in 500 ms (no MEDIA is sent) */
    d = g_bytes_get_data (p, &n);
    if (op == 0x8) {
      fail_unless (n >= 2);
      code = (d[0] << 8) | d[1];
      reason = g_strndup ((const gchar *) d + 2, n - 2);
    } else if (op == 0x2 && n >= 10 && d[0] == DIODE_MSG_ERROR) {
      gsize j;

      /* the text follows the code (the header holds NUL bytes) */
      err = (d[8] << 8) | d[9];
      for (j = 10; j + 7 <= n; j++)
        error_said_expired |= !memcmp (d + j, "expired", 7);
    }
    g_bytes_unref (p);
  }
  fail_unless_equals_int (code, 4102);
  fail_unless_equals_int (err, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (error_said_expired, "the ERROR does not say 'expired'");
  fail_unless (reason && strstr (reason, "expired"), "close reason '%s'",
      reason);
  fail_unless (now_s () >= now + 3, "cut off before the link expired");
  g_free (reason);
  web_free (w);
  g_free (tok);
  env_free (e);
}

GST_END_TEST;

/* `diode link` and `diode link --revoke URL` against the running relay:
 * the printed URL plays, the revocation the CLI posts cuts it off. */
GST_START_TEST (test_cli_link_and_revoke)
{
  Env *e = env_new ();
  gchar *key = g_build_filename (fixture_config_dir (), "owner.pem", NULL);
  gchar *relay_opt = g_strdup_printf ("127.0.0.1:%u", e->http);
  gchar *out = NULL, *err = NULL, *tok, *reason = NULL;
  gchar *mk[] = { (gchar *) DIODE_PATH, (gchar *) "link", (gchar *) "cam",
    (gchar *) "--identity", key, (gchar *) "--relay", relay_opt,
    (gchar *) "--expires", (gchar *) "10m", NULL
  };
  gint status = -1, code;
  guint errc;
  WebClient *w;

  env_push (e, GOP);
  fail_unless (g_spawn_sync (NULL, mk, NULL, G_SPAWN_DEFAULT, NULL, NULL,
          &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "diode link: %s",
      err);
  g_strstrip (out);
  fail_unless (g_str_has_prefix (out, "http://127.0.0.1:"), "%s", out);
  tok = strstr (out, "?t=");
  fail_unless (tok != NULL, "%s", out);
  w = ws_viewer (e, tok + 3);
  fail_unless (ws_until_media_or_close (w, &code, &reason, &errc),
      "the CLI's link does not play (close %d '%s')", code, reason);
  g_free (err);
  {
    gchar *rv[] = { (gchar *) DIODE_PATH, (gchar *) "link",
      (gchar *) "--revoke", out, (gchar *) "--identity", key, NULL
    };
    gchar *out2 = NULL;

    fail_unless (g_spawn_sync (NULL, rv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
            &out2, &err, &status, NULL));
    fail_unless (g_spawn_check_wait_status (status, NULL),
        "diode link --revoke: %s", err);
    fail_unless (strstr (out2, "revoked link") != NULL, "%s", out2);
    g_free (out2);
    g_free (err);
  }
  /* cut off, and refused from now on */
  while (ws_until_media_or_close (w, &code, &reason, &errc));
  fail_unless_equals_int (code, 4102);
  g_free (reason);
  web_free (w);
  expect_refused (e, tok + 3, "revoked");
  g_free (out);
  g_free (relay_opt);
  g_free (key);
  env_free (e);
}

GST_END_TEST;

static Suite *
web_token_ws_suite (void)
{
  Suite *s = suite_create ("web-token-ws");
  TCase *tc = tcase_create ("ws");

  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_ws_link_plays_expired_refused);
  tcase_add_test (tc, test_ws_revoked_link);
  tcase_add_test (tc, test_ws_link_expires_while_watching);
  tcase_add_test (tc, test_cli_link_and_revoke);
  return s;
}

GST_CHECK_MAIN (web_token_ws);
