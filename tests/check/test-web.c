/* gst-diode — the relay's web side: HTTP(S) and WebSocket viewers (issue 11)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An in-process relay with http-listen, a real publisher (diodesink in a
 * GstHarness), real sockets on 127.0.0.1 and hand-made HTTP requests and
 * WebSocket frames (webclient.c): the frames a browser gets, in order with
 * their seqs; the pages and their headers; a WebSocket viewer that stops
 * reading cut by the diode viewers' limits; bad HTTP and WebSocket input
 * answered by status or close codes while honest viewers (diode and web)
 * go on; HTTPS with a certificate made by the test; a protected stream
 * refused (4102); the NAME.DOMAIN host. Every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <string.h>

#include "fixture.h"
#include "webclient.h"
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
} Env;

static Env *
env_new (const gchar * first_prop, ...)
{
  Env *e = g_new0 (Env, 1);
  va_list ap;

  e->relay = g_object_new (DIODE_TYPE_RELAY, "listen", "127.0.0.1:0",
      "identity", "relay.pem", "http-listen", "127.0.0.1:0", NULL);
  {
    gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);

    g_object_set (e->relay, "identity", key, NULL);
    g_free (key);
  }
  if (first_prop) {
    va_start (ap, first_prop);
    g_object_set_valist (G_OBJECT (e->relay), first_prop, ap);
    va_end (ap);
  }
  fail_unless (diode_relay_start (e->relay, NULL));
  e->http = diode_relay_get_http_port (e->relay);
  fail_unless (e->http != 0);
  return e;
}

static void
env_publish (Env * e, const gchar * stream, gint access)
{
  GstElement *el = gst_element_factory_make ("diodesink", NULL);
  gchar *hp = diode_relay_get_hostport (e->relay);

  g_object_set (el, "relay", hp, "stream", stream, NULL);
  if (access >= 0)
    g_object_set (el, "access", access, "fleet", "office", NULL);
  e->pub = gst_harness_new_with_element (el, "sink", NULL);
  gst_object_unref (el);
  gst_harness_set_src_caps_str (e->pub, CAPS_STR);
  gst_harness_play (e->pub);
  g_free (hp);
  fail_unless (fixture_wait_publisher (e->relay, stream, TRUE, 5000));
}

static void
env_push (Env * e, guint n, gsize size)
{
  guint k;

  for (k = 0; k < n; k++)
    fail_unless_equals_int (gst_harness_push (e->pub,
            fixture_make_buffer (e->pushed++, size, GOP)), GST_FLOW_OK);
}

static void
env_free (Env * e)
{
  if (e->pub)
    gst_harness_teardown (e->pub);
  relay_free (e->relay);
  g_free (e);
}

/* A diode viewer (diodesrc) of @stream. */
static GstHarness *
diode_viewer (Env * e, const gchar * stream)
{
  GstElement *el = gst_element_factory_make ("diodesrc", NULL);
  gchar *hp = diode_relay_get_hostport (e->relay);
  GstHarness *h;

  g_object_set (el, "relay", hp, "stream", stream, "timeout", 5000, NULL);
  h = gst_harness_new_with_element (el, NULL, "src");
  gst_object_unref (el);
  g_free (hp);
  gst_harness_play (h);
  return h;
}

/* The diode viewer gets buffer @i next, whole. */
static void
diode_viewer_expect (GstHarness * h, guint i, gsize size)
{
  gint64 end = deadline_in (5000);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (h))) {
    fail_if (g_get_monotonic_time () > end, "diode viewer: no buffer %u", i);
    g_usleep (2000);
  }
  fail_unless (fixture_payload_matches (b, i, size),
      "diode viewer: buffer %u differs", i);
  gst_buffer_unref (b);
}

/* The next binary message: a diode frame of @type (its bytes returned). */
static GBytes *
ws_expect_frame (WebClient * w, guint8 type, const gchar * what)
{
  guint8 op = 0;
  GBytes *p = NULL;
  const guint8 *d;
  gsize n;

  fail_unless (ws_next (w, &op, &p, 5000, TRUE), "%s: no frame", what);
  fail_unless_equals_int (op, 0x2);
  d = g_bytes_get_data (p, &n);
  fail_unless (n >= DIODE_FRAME_HEADER_SIZE, "%s: short frame", what);
  fail_unless (d[0] == type, "%s: frame type 0x%02x, not 0x%02x", what, d[0],
      type);
  return p;
}

static guint64
be64 (const guint8 * p)
{
  guint64 v = 0;
  guint i;

  for (i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

/* A MEDIA message: its seq; its payload is buffer *@index (the fixture's
 * payload carries its index; -1 on entry: learn it). */
static guint64
ws_expect_media (WebClient * w, gint * index, gsize size)
{
  GBytes *p = ws_expect_frame (w, DIODE_MSG_MEDIA, "media");
  gsize n;
  const guint8 *d = g_bytes_get_data (p, &n);
  const guint8 *body = d + DIODE_MEDIA_PREFIX_SIZE;
  guint64 seq = be64 (d + DIODE_FRAME_HEADER_SIZE);
  guint8 *expect;

  fail_unless_equals_uint64 (n, DIODE_MEDIA_PREFIX_SIZE + size);
  if (*index < 0)
    *index = (body[0] << 24) | (body[1] << 16) | (body[2] << 8) | body[3];
  expect = g_malloc (size);
  fixture_fill_payload (expect, size, *index);
  fail_unless (memcmp (body, expect, size) == 0,
      "web viewer: payload of buffer %d differs", *index);
  g_free (expect);
  g_bytes_unref (p);
  return seq;
}

/* Opens /ws/@stream and reads SUBSCRIBE_OK and CAPS. */
static WebClient *
ws_viewer (Env * e, const gchar * path, const gchar * host)
{
  WebClient *w = web_connect (e->http, FALSE, 0);

  fail_unless_equals_int (ws_open (w, e->http, path, host), 101);
  g_bytes_unref (ws_expect_frame (w, DIODE_MSG_SUBSCRIBE_OK, "subscribe"));
  g_bytes_unref (ws_expect_frame (w, DIODE_MSG_CAPS, "caps"));
  return w;
}

/* ------------------------------------------------------------------------ */

/* A browser's WebSocket gets the frames a v3 diode viewer gets: SUBSCRIBE_OK,
 * CAPS, then MEDIA from the latest keyframe, in order, seqs consecutive,
 * payloads whole; EOS then close 1000. */
GST_START_TEST (test_ws_frames_in_order)
{
  Env *e = env_new (NULL);
  WebClient *w;
  gint index = -1;
  guint64 seq0, k;
  guint8 op;
  GBytes *p;
  gchar *reason = NULL;

  env_publish (e, "cam", -1);
  env_push (e, GOP + 3, SIZE);
  w = ws_viewer (e, "/ws/cam", NULL);
  fail_unless (fixture_wait_viewers (e->relay, "cam", 1, 5000));
  env_push (e, 2 * GOP, SIZE);
  seq0 = ws_expect_media (w, &index, SIZE);
  fail_unless_equals_int (index % GOP, 0);     /* a keyframe */
  for (k = 1; (guint) index + k < e->pushed; k++) {
    gint i = index + k;

    fail_unless_equals_uint64 (ws_expect_media (w, &i, SIZE), seq0 + k);
  }
  fail_unless (gst_harness_push_event (e->pub, gst_event_new_eos ()));
  p = ws_expect_frame (w, DIODE_MSG_EOS, "eos");
  g_bytes_unref (p);
  fail_unless (ws_next (w, &op, &p, 5000, TRUE));
  fail_unless_equals_int (op, 0x8);
  fail_unless (g_bytes_get_size (p) >= 2);
  fail_unless_equals_int (((const guint8 *) g_bytes_get_data (p, NULL))[0]
      << 8 | ((const guint8 *) g_bytes_get_data (p, NULL))[1], 1000);
  g_bytes_unref (p);
  g_free (reason);
  web_free (w);
  env_free (e);
}

GST_END_TEST;

/* The player page, the static files, their headers; 404, 405, 400. */
GST_START_TEST (test_pages_and_routes)
{
  Env *e = env_new (NULL);
  gchar *a = NULL;

  fail_unless_equals_int (http_get (e->http, FALSE, "/watch/cam%20one", NULL,
          &a), 200);
  fail_unless (strstr (a, "<meta name=\"diode-stream\" content=\"cam one\">")
      != NULL, "no stream meta: %s", a);
  fail_unless (strstr (a, "Content-Security-Policy: default-src 'self'"));
  fail_unless (strstr (a, "X-Content-Type-Options: nosniff"));
  g_free (a);
  /* a name that needs escaping in the page */
  fail_unless_equals_int (http_get (e->http, FALSE,
          "/watch/a%22%3Cb%3E", NULL, &a), 200);
  fail_unless (strstr (a, "content=\"a&quot;&lt;b&gt;\"") != NULL, "%s", a);
  g_free (a);
  fail_unless_equals_int (http_get (e->http, FALSE, "/static/watch.js", NULL,
          &a), 200);
  fail_unless (strstr (a, "text/javascript"));
  g_free (a);
  fail_unless_equals_int (http_get (e->http, FALSE, "/static/../x", NULL,
          NULL) / 100, 4);
  fail_unless_equals_int (http_get (e->http, FALSE, "/static/nope.js", NULL,
          NULL), 404);
  fail_unless_equals_int (http_get (e->http, FALSE, "/nowhere", NULL, NULL),
      404);
  fail_unless_equals_int (http_raw (e->http, FALSE, "DELETE /watch/cam "
          "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL), 405);
  /* an invalid stream name: 400 before any upgrade */
  fail_unless_equals_int (http_get (e->http, FALSE, "/watch/", NULL, NULL),
      400);
  fail_unless_equals_int (http_get (e->http, FALSE, "/ws/a%00b", NULL,
          NULL), 400);
  /* the API routes reach diode-web-api.c (whatever it answers, not 404) */
  fail_if (http_get (e->http, FALSE, "/api/streams", NULL, &a) == 404);
  fail_unless (strstr (a, "Cache-Control: no-store"));
  g_free (a);
  /* a body where none is taken: refused from the head */
  fail_unless_equals_int (http_raw (e->http, FALSE, "GET /healthz HTTP/1.1\r\n"
          "Host: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n",
          NULL), 400);
  fail_unless_equals_int (http_raw (e->http, FALSE, "POST /api/revoke "
          "HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: "
          "close\r\n\r\n", NULL), 413);
  env_free (e);
}

GST_END_TEST;

/* The t parameter (a share link) on the page routes as on the WebSocket:
 * over 1024 bytes, or not "d1." + base64url, is 400 with a plain sentence
 * (protocol.md 16.3), not a page that loops "Connection lost". */
GST_START_TEST (test_page_token_checked)
{
  Env *e = env_new ("http-domain", "diode.test", NULL);
  GString *t = g_string_new ("d1.");
  gchar *path, *a = NULL;

  /* a token-shaped t of 1024 bytes: the page (the WebSocket checks it) */
  while (t->len < 1024)
    g_string_append_c (t, 'A');
  path = g_strconcat ("/watch/cam?t=", t->str, NULL);
  fail_unless_equals_int (http_get (e->http, FALSE, path, NULL, NULL), 200);
  g_free (path);
  /* 1025 bytes: refused, on both page routes and on the WebSocket's */
  g_string_append_c (t, 'A');
  path = g_strconcat ("/watch/cam?t=", t->str, NULL);
  fail_unless_equals_int (http_get (e->http, FALSE, path, NULL, &a), 400);
  fail_unless (strstr (a, "the share link is not valid") != NULL, "%s", a);
  g_free (a);
  g_free (path);
  path = g_strconcat ("/?t=", t->str, NULL);
  fail_unless_equals_int (http_get (e->http, FALSE, path, "cam.diode.test",
          NULL), 400);
  g_free (path);
  path = g_strconcat ("/ws/cam?t=", t->str, NULL);
  fail_unless_equals_int (http_get (e->http, FALSE, path, NULL, NULL), 400);
  g_free (path);
  /* not a token: no prefix, other characters, empty */
  fail_unless_equals_int (http_get (e->http, FALSE, "/watch/cam?t=abc", NULL,
          NULL), 400);
  fail_unless_equals_int (http_get (e->http, FALSE,
          "/watch/cam?t=d1.ab%2Bcd", NULL, NULL), 400);
  fail_unless_equals_int (http_get (e->http, FALSE, "/watch/cam?t=", NULL,
          NULL), 400);
  fail_unless_equals_int (http_get (e->http, FALSE, "/ws/cam?t=x%20y", NULL,
          NULL), 400);
  /* no t at all: the page */
  fail_unless_equals_int (http_get (e->http, FALSE, "/watch/cam", NULL,
          NULL), 200);
  g_string_free (t, TRUE);
  env_free (e);
}

GST_END_TEST;

/* With http-domain, Host NAME.DOMAIN (any case, port ignored) gets NAME's
 * player at / and its WebSocket at /ws. */
GST_START_TEST (test_host_domain)
{
  Env *e = env_new ("http-domain", "diode.test", NULL);
  WebClient *w;
  gchar *a = NULL;
  gint index = -1;

  env_publish (e, "cam", -1);
  env_push (e, GOP, SIZE);
  fail_unless_equals_int (http_get (e->http, FALSE, "/", "Cam.Diode.Test:80",
          &a), 200);
  fail_unless (strstr (a, "content=\"cam\"") != NULL, "%s", a);
  g_free (a);
  w = ws_viewer (e, "/ws", "cam.diode.test");
  ws_expect_media (w, &index, SIZE);
  fail_unless_equals_int (index, 0);
  web_free (w);
  env_free (e);
}

GST_END_TEST;

/* A stream nobody publishes: ERROR 100 then close 4100 with its text. */
GST_START_TEST (test_ws_not_found)
{
  Env *e = env_new ("max-wait-ms", 300, NULL);
  WebClient *w = web_connect (e->http, FALSE, 0);
  gchar *reason = NULL;
  GBytes *p;

  fail_unless_equals_int (ws_open (w, e->http, "/ws/nobody", NULL), 101);
  p = ws_expect_frame (w, DIODE_MSG_ERROR, "not found");
  g_bytes_unref (p);
  fail_unless_equals_int (ws_wait_close (w, 5000, &reason), 4100);
  fail_unless (strstr (reason, "not published") != NULL, "%s", reason);
  g_free (reason);
  web_free (w);
  env_free (e);
}

GST_END_TEST;

/* A protected stream without a share link: ERROR 102 with the token
 * check's sentence, close 4102 with the same reason; no stream frame. */
GST_START_TEST (test_ws_protected_refused)
{
  Env *e = env_new (NULL);
  WebClient *w;
  gchar *reason = NULL;
  GBytes *p;
  const gchar *why = relay_web_token_result_text (RELAY_TOKEN_MISSING);
  gsize n;
  const guint8 *d;

  env_publish (e, "secret", DIODE_ACCESS_PROTECTED);
  env_push (e, GOP, SIZE);
  w = web_connect (e->http, FALSE, 0);
  fail_unless_equals_int (ws_open (w, e->http, "/ws/secret", NULL), 101);
  p = ws_expect_frame (w, DIODE_MSG_ERROR, "refused");
  d = g_bytes_get_data (p, &n);
  fail_unless_equals_int ((d[8] << 8) | d[9], DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (n >= 12 + strlen (why) && !memcmp (d + 12, why, strlen (why)));
  g_bytes_unref (p);
  fail_unless_equals_int (ws_wait_close (w, 5000, &reason), 4102);
  fail_unless_equals_string (reason, why);
  g_free (reason);
  web_free (w);
  env_free (e);
}

GST_END_TEST;

/* A WebSocket viewer that stops reading is cut off like a diode viewer
 * (hard limit or write timeout) while a diode viewer and a web viewer of
 * the same stream receive everything; the relay's memory stays bounded
 * by its ring. */
GST_START_TEST (test_ws_slow_viewer_cut)
{
  Env *e = env_new ("buffer-bytes", (guint64) 4 * 1024 * 1024,
      "viewer-soft-limit", (guint64) 1024 * 1024, "viewer-hard-limit",
      (guint64) 2 * 1024 * 1024, "write-timeout-ms", 1000, NULL);
  WebClient *slow, *good;
  GstHarness *dv;
  gint i;
  guint k, first_new;
  guint64 rss0, rss1;
  const gsize big = 50000;

  env_publish (e, "cam", -1);
  env_push (e, GOP, big);
  dv = diode_viewer (e, "cam");
  fail_unless (fixture_wait_viewers (e->relay, "cam", 1, 5000));
  for (k = 0; k < GOP; k++)
    diode_viewer_expect (dv, k, big);
  good = ws_viewer (e, "/ws/cam", NULL);
  for (k = 0; k < GOP; k++) {
    i = k;
    ws_expect_media (good, &i, big);
  }
  slow = web_connect (e->http, FALSE, 4096);
  fail_unless_equals_int (ws_open (slow, e->http, "/ws/cam", NULL), 101);
  fail_unless (fixture_wait_viewers (e->relay, "cam", 3, 5000));
  rss0 = fixture_proc_rss_kb (getpid ());
  first_new = e->pushed;
  /* 600 x 50 kB = 30 MB, far past the slow viewer's socket and limits */
  for (k = 0; k < 60; k++) {
    guint j;

    env_push (e, GOP, big);
    for (j = e->pushed - GOP; j < e->pushed; j++) {
      diode_viewer_expect (dv, j, big);
      i = j;
      ws_expect_media (good, &i, big);
    }
  }
  fail_unless (first_new == GOP);
  /* the slow one: closed by the relay (4300 after its ERROR, or the
   * socket closed) and no longer a viewer */
  fail_unless (fixture_wait_viewers (e->relay, "cam", 2, 10000),
      "the slow web viewer was not cut off");
  rss1 = fixture_proc_rss_kb (getpid ());
#ifndef __SANITIZE_ADDRESS__
  /* 30 MB went through; the relay holds its 4 MiB ring and one frame per
   * viewer (ASan's quarantine keeps freed memory: not measured there) */
  fail_unless (rss1 < rss0 + 64 * 1024, "RSS grew from %" G_GUINT64_FORMAT
      " to %" G_GUINT64_FORMAT " KiB", rss0, rss1);
#else
  (void) rss0;
  (void) rss1;
#endif
  web_free (slow);
  web_free (good);
  gst_harness_teardown (dv);
  env_free (e);
}

GST_END_TEST;

/* Bad HTTP: each gets a status or its connection closed, in time, and a
 * diode viewer and a web viewer go on receiving meanwhile. */
GST_START_TEST (test_http_bad_input)
{
  Env *e = env_new ("handshake-timeout-ms", 1000,
      "max-pending-per-address", 6, NULL);
  WebClient *good, *w;
  GstHarness *dv;
  gchar *big, *req, *a = NULL;
  gint index = -1;
  guint st, k;
  WebClient *held[6];
  gint64 t0;

  env_publish (e, "cam", -1);
  env_push (e, GOP, SIZE);
  dv = diode_viewer (e, "cam");
  fail_unless (fixture_wait_viewers (e->relay, "cam", 1, 5000));
  good = ws_viewer (e, "/ws/cam", NULL);

  /* a malformed request line */
  st = http_raw (e->http, FALSE, "GARBAGE\r\n\r\n", NULL);
  fail_unless (st == 400 || st == 0, "malformed request: %u", st);
  st = http_raw (e->http, FALSE, "GET /healthz HTTP/9.9\r\n\r\n", NULL);
  fail_unless (st / 100 == 4 || st / 100 == 5 || st == 0, "%u", st);
  /* a 100 KiB header (libsoup's cap is 64 KiB) */
  big = g_malloc (100 * 1024 + 1);
  memset (big, 'a', 100 * 1024);
  big[100 * 1024] = '\0';
  req = g_strdup_printf ("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n"
      "Connection: close\r\n\r\n", big);
  st = http_raw (e->http, FALSE, req, &a);
  fail_unless (st == 0 || st / 100 == 4 || st / 100 == 5,
      "huge header answered %u", st);
  g_free (a);
  g_free (req);
  g_free (big);
  /* slow headers: closed at the deadline (handshake-timeout-ms) */
  w = web_connect (e->http, FALSE, 0);
  web_send (w, "GET /healthz HTTP/1.1\r\n", 23);
  t0 = g_get_monotonic_time ();
  while (!w->closed && ms_since (t0) < 8000)
    web_read_some (w, 500);
  fail_unless (w->closed, "a request head trickled for 8 s was not cut");
  fail_unless (ms_since (t0) >= 800);
  web_free (w);
  /* the relay forgets closed HTTP connections at its next tick (200 ms) */
  g_usleep (1000 * 1000);
  /* too many connections from one address: the 7th HTTP one is closed */
  for (k = 0; k < 6; k++)
    held[k] = web_connect (e->http, FALSE, 0);
  g_usleep (300 * 1000);
  st = http_get (e->http, FALSE, "/healthz", NULL, NULL);
  fail_unless_equals_int (st, 0);
  for (k = 0; k < 6; k++)
    web_free (held[k]);

  /* the honest viewers never noticed */
  env_push (e, GOP, SIZE);
  for (k = 0; k < 2 * GOP; k++)
    diode_viewer_expect (dv, k, SIZE);
  for (k = 0; k < GOP; k++) {
    gint i = index < 0 ? -1 : index + (gint) k;

    ws_expect_media (good, &i, SIZE);
    if (index < 0)
      index = i;
  }
  web_free (good);
  gst_harness_teardown (dv);
  env_free (e);
}

GST_END_TEST;

typedef struct
{
  const gchar *what;
  guint8 b0;
  gsize len;
  gboolean masked;
  gint code;
} Garbage;

/* WebSocket garbage: each closes its own connection with the right code;
 * a diode viewer and an honest web viewer receive everything meanwhile. */
GST_START_TEST (test_ws_garbage)
{
  static const Garbage g[] = {
    {"unmasked ping", 0x89, 4, FALSE, 1002},
    {"bad opcode", 0x83, 4, TRUE, 1002},
    {"continuation", 0x80, 4, TRUE, 1002},
    {"fragmented ping", 0x09, 4, TRUE, 1002},
    {"oversized ping", 0x89, 200, TRUE, 1002},
    {"reserved bits", 0xc9, 4, TRUE, 1002},
    {"text message", 0x81, 5, TRUE, 1003},
    {"binary message", 0x82, 5000, TRUE, 1003},
  };
  Env *e = env_new (NULL);
  WebClient *good, *w;
  GstHarness *dv;
  guint8 payload[5000];
  guint k, n;
  gint index = -1;
  gchar *reason = NULL;
  guint8 op;
  GBytes *p;

  memset (payload, 'x', sizeof (payload));
  env_publish (e, "cam", -1);
  env_push (e, GOP, SIZE);
  dv = diode_viewer (e, "cam");
  fail_unless (fixture_wait_viewers (e->relay, "cam", 1, 5000));
  good = ws_viewer (e, "/ws/cam", NULL);

  for (k = 0; k < G_N_ELEMENTS (g); k++) {
    w = ws_viewer (e, "/ws/cam", NULL);
    ws_send_frame (w, g[k].b0, payload, g[k].len, g[k].masked);
    fail_unless_equals_int (ws_wait_close (w, 5000, NULL), g[k].code);
    web_free (w);
  }
  /* a flood of pings: 1008 */
  w = ws_viewer (e, "/ws/cam", NULL);
  for (n = 0; n < 200; n++)
    if (!ws_send_frame (w, 0x89, payload, 8, TRUE))
      break;
  fail_unless_equals_int (ws_wait_close (w, 5000, NULL), 1008);
  web_free (w);
  /* a ping is answered with its payload; a close is echoed */
  w = ws_viewer (e, "/ws/cam", NULL);
  ws_send_frame (w, 0x89, (const guint8 *) "hello", 5, TRUE);
  for (;;) {
    fail_unless (ws_next (w, &op, &p, 5000, FALSE));
    if (op == 0xa)
      break;
    g_bytes_unref (p);
  }
  fail_unless (g_bytes_get_size (p) == 5
      && !memcmp (g_bytes_get_data (p, NULL), "hello", 5));
  g_bytes_unref (p);
  ws_send_frame (w, 0x88, (const guint8 *) "\x03\xe9", 2, TRUE);
  fail_unless_equals_int (ws_wait_close (w, 5000, &reason), 1001);
  g_free (reason);
  web_free (w);

  env_push (e, GOP, SIZE);
  for (k = 0; k < 2 * GOP; k++)
    diode_viewer_expect (dv, k, SIZE);
  for (k = 0; k < GOP; k++) {
    gint i = index < 0 ? -1 : index + (gint) k;

    ws_expect_media (good, &i, SIZE);
    if (index < 0)
      index = i;
  }
  web_free (good);
  gst_harness_teardown (dv);
  env_free (e);
}

GST_END_TEST;

/* HTTPS with a certificate made here (openssl): the page and a WebSocket
 * viewer over TLS. */
GST_START_TEST (test_https)
{
  gchar *dir = g_build_filename (fixture_config_dir (), "https", NULL);
  gchar *cert = g_build_filename (dir, "cert.pem", NULL);
  gchar *key = g_build_filename (dir, "key.pem", NULL);
  gchar *argv[] = { (gchar *) "openssl", (gchar *) "req", (gchar *) "-x509",
    (gchar *) "-newkey", (gchar *) "ec", (gchar *) "-pkeyopt",
    (gchar *) "ec_paramgen_curve:prime256v1", (gchar *) "-nodes",
    (gchar *) "-keyout", key, (gchar *) "-out", cert, (gchar *) "-days",
    (gchar *) "2", (gchar *) "-subj", (gchar *) "/CN=localhost", NULL
  };
  gint status = -1;
  Env *e;
  WebClient *w, *slow;
  gchar *a = NULL;
  gint index = -1;
  guint k;

  g_mkdir_with_parents (dir, 0700);
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
          NULL, NULL, &status, NULL) && status == 0, "openssl req failed");
  e = env_new ("http-cert", cert, "http-key", key, "viewer-soft-limit",
      (guint64) 1024 * 1024, "viewer-hard-limit", (guint64) 2 * 1024 * 1024,
      "write-timeout-ms", 1000, NULL);
  env_publish (e, "cam", -1);
  env_push (e, GOP, SIZE);
  fail_unless_equals_int (http_get (e->http, TRUE, "/watch/cam", NULL, &a),
      200);
  fail_unless (strstr (a, "content=\"cam\"") != NULL);
  g_free (a);
  /* plain HTTP on the HTTPS port: not served */
  fail_if (http_get (e->http, FALSE, "/watch/cam", NULL, NULL) == 200);

  w = web_connect (e->http, TRUE, 0);
  fail_unless_equals_int (ws_open (w, e->http, "/ws/cam", NULL), 101);
  g_bytes_unref (ws_expect_frame (w, DIODE_MSG_SUBSCRIBE_OK, "subscribe"));
  g_bytes_unref (ws_expect_frame (w, DIODE_MSG_CAPS, "caps"));
  ws_expect_media (w, &index, SIZE);
  fail_unless_equals_int (index, 0);
  env_push (e, GOP, SIZE);
  for (index = 1; index < 2 * GOP; index++) {
    gint i = index;

    ws_expect_media (w, &i, SIZE);
  }
  /* a TLS viewer that stops reading: cut off, and the TLS one that reads
   * gets every frame meanwhile (no TLS write blocks the relay) */
  slow = web_connect (e->http, TRUE, 4096);
  fail_unless_equals_int (ws_open (slow, e->http, "/ws/cam", NULL), 101);
  fail_unless (fixture_wait_viewers (e->relay, "cam", 2, 5000));
  for (k = 0; k < 20; k++) {
    guint j;

    env_push (e, GOP, 50000);
    for (j = e->pushed - GOP; j < e->pushed; j++) {
      gint i = j;

      ws_expect_media (w, &i, 50000);
    }
  }
  fail_unless (fixture_wait_viewers (e->relay, "cam", 1, 10000),
      "the stalled HTTPS viewer was not cut off");
  web_free (slow);
  web_free (w);
  env_free (e);
  g_free (cert);
  g_free (key);
  g_free (dir);
}

GST_END_TEST;

/* The daemon: --http 127.0.0.1:0 logs the real port and serves there;
 * --http-cert without --http is refused. */
GST_START_TEST (test_daemon_http_option)
{
  const gchar *args[] = { "--http", "127.0.0.1:0", NULL };
  gchar *log = g_build_filename (fixture_config_dir (), "web-daemon.log",
      NULL);
  FixtureRelayProc *p;
  gchar *text = NULL, *at, *a = NULL;
  gint64 end = deadline_in (10000);
  guint port = 0;
  const gchar *bad[] = { DIODE_RELAY_PATH, "--http-cert", "x.pem", NULL };
  gint status = 0;

  p = fixture_relay_proc_start_full (DIODE_RELAY_PATH, args, log, 0);
  while (!port && g_get_monotonic_time () < end) {
    g_free (text);
    text = NULL;
    if (g_file_get_contents (log, &text, NULL, NULL)
        && (at = strstr (text, "web side listening on http://127.0.0.1:")))
      port = atoi (at + strlen ("web side listening on http://127.0.0.1:"));
    else
      g_usleep (50 * 1000);
  }
  fail_unless (port > 0, "no 'web side listening' line: %s", text);
  fail_unless_equals_int (http_get (port, FALSE, "/watch/cam", NULL, &a),
      200);
  fail_unless (strstr (a, "content=\"cam\"") != NULL);
  g_free (a);
  fail_unless (fixture_relay_proc_stop (p));
  fail_unless (g_spawn_sync (NULL, (gchar **) bad, NULL,
          G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
          NULL, NULL, &status, NULL));
  fail_if (g_spawn_check_wait_status (status, NULL),
      "--http-cert without --http was accepted");
  g_free (text);
  g_free (log);
}

GST_END_TEST;

static Suite *
web_suite (void)
{
  Suite *s = suite_create ("web");
  TCase *tc = tcase_create ("web");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ws_frames_in_order);
  tcase_add_test (tc, test_pages_and_routes);
  tcase_add_test (tc, test_page_token_checked);
  tcase_add_test (tc, test_host_domain);
  tcase_add_test (tc, test_ws_not_found);
  tcase_add_test (tc, test_ws_protected_refused);
  tcase_add_test (tc, test_ws_slow_viewer_cut);
  tcase_add_test (tc, test_http_bad_input);
  tcase_add_test (tc, test_ws_garbage);
  tcase_add_test (tc, test_https);
  tcase_add_test (tc, test_daemon_http_option);
  return s;
}

GST_CHECK_MAIN (web);
