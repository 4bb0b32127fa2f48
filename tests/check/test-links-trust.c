/* gst-diode — who may be a child relay, and what its owner claims are worth
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A child relay names streams and their owners (ANNOUNCE, the PUBLISH of
 * its push), and a parent serves them to viewers that pinned a publisher.
 * So only relays the operator lists ([relays] children) may link, and even
 * a listed child's claims meet the parent's own rules ([names],
 * [publishers], names held for another owner). Here a raw TLS client
 * plays the child (it can claim anything) against an in-process relay;
 * raw viewers pin publishers. Also: a pinned viewer is refused a stream
 * whose owner is unknown, and a child that announces a stream but gives no
 * working push does not keep its parent from the upstream's copy.
 * Real TLS, real sockets; every wait is bounded.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include <string.h>
#include <glib/gstdio.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"

#define WAIT_MS  10000
#define QUIET_MS 1500
/* an owner nobody holds the key of: what a forger claims */
#define FORGED "0xabababababababababababababababababababab"

/* A raw connection speaking as relay @key (role RELAY, version 2). */
static RawClient *
relay_open (DiodeRelay * r, const gchar * key)
{
  RawClient *c = raw_open (r, 0, key);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 2, DIODE_ROLE_RELAY,
          "trust-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "relay HELLO");
  fail_unless_equals_int (m.version, 2);
  diode_msg_clear (&m);
  c->version = 2;
  c->role = DIODE_ROLE_RELAY;
  return c;
}

/* relay_open() + LINK, answered LINK_OK. */
static RawClient *
child_link (DiodeRelay * r, const gchar * key)
{
  RawClient *c = relay_open (r, key);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_link ());
  raw_expect_next (c, DIODE_MSG_LINK_OK, &m, "LINK from a listed child");
  diode_msg_clear (&m);
  return c;
}

static void
announce (RawClient * c, const gchar * key, const gchar * name,
    const gchar * owner)
{
  gchar *self = fixture_key_address (key);
  const gchar *path[] = { self, NULL };

  raw_send_frame (c, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          name, owner, DIODE_ACCESS_PUBLIC, NULL, NULL, path));
  g_free (self);
}

/* A viewer of @name pinned to @pin (NULL: any publisher). */
static RawClient *
viewer (DiodeRelay * r, const gchar * name, const gchar * pin, guint wait_ms)
{
  RawClient *v = raw_open (r, 0, "viewer.pem");
  DiodeMsg m = { 0 };

  raw_send_frame (v, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER,
          "trust-test/0"));
  raw_expect_next (v, DIODE_MSG_WELCOME, &m, "viewer HELLO");
  diode_msg_clear (&m);
  raw_send_frame (v, diode_msg_encode_subscribe_pinned (name, 0, wait_ms,
          pin));
  return v;
}

/* raw_next() for a client that may be a linked child: a parent sends its
 * children a new LINK_OK whenever its own path changes (protocol.md
 * section 14: it linked upstream, failed over), so the root linking to its
 * upstream after the child linked gives the child a second LINK_OK at
 * any point of the test. Nothing is asked of the child by it: skipped,
 * like PING and PONG. */
static RawReadResult
next_skip_link_ok (RawClient * c, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);
  RawReadResult res;

  for (;;) {
    gint64 left = (end - g_get_monotonic_time ()) / 1000;

    res = raw_next (c, m, (guint) MAX (left, 1));
    if (res != RAW_READ_MSG || m->type != DIODE_MSG_LINK_OK)
      return res;
    diode_msg_clear (m);
    if (left <= 0)
      return RAW_READ_TIMEOUT;
  }
}

/* Nothing but PING/PONG reaches @c for @ms; FAILs naming what came. */
static void
expect_quiet (RawClient * c, guint ms, const gchar * what)
{
  gint64 end = deadline_in (ms);
  DiodeMsg m = { 0 };

  while (g_get_monotonic_time () < end) {
    RawReadResult res = next_skip_link_ok (c, &m, 100);

    if (res == RAW_READ_MSG) {
      fail ("%s: got %s (%s)", what, diode_msg_type_name (m.type),
          m.error_text ? m.error_text : "");
    }
    diode_msg_clear (&m);
    if (res == RAW_READ_CLOSED)
      return;
  }
}

/* A raw client answers the relay's PINGs only while the test reads it
 * (raw_next), and a relay closes a connection silent for three keepalive
 * periods (2.4 s at the default 800 ms). A test that waits out the root's
 * 2 s handshake timeout on one client leaves the others unread for that
 * long and more on a loaded machine (load 8 on 2 cores): the child was
 * then closed as silent, and the test read its ERROR ("nothing received
 * for 2403 ms") instead of what it checks. So every wait of such a test
 * goes through expect_within_pumping(), which keeps the clients it does
 * not wait for answering PINGs, like the live peers they play. */
typedef struct
{
  RawClient *c;
  /* TRUE: anything but PING/PONG to it fails the test (the child, which
   * must not be asked again); FALSE: other messages are dropped, and an
   * ERROR or close ends its pumping (the push the root fails) */
  gboolean quiet;
  const gchar *what;
  gboolean done;
} Idle;

/* Answers the PINGs waiting at each client in @idle (@n of them). */
static void
pump_idle (Idle * idle, guint n)
{
  DiodeMsg m = { 0 };
  RawReadResult res;
  guint i;

  for (i = 0; i < n; i++) {
    if (idle[i].done)
      continue;
    while ((res = next_skip_link_ok (idle[i].c, &m, 1)) == RAW_READ_MSG) {
      fail_if (idle[i].quiet, "%s: got %s (%s)", idle[i].what,
          diode_msg_type_name (m.type), m.error_text ? m.error_text : "");
      if (m.type == DIODE_MSG_ERROR)
        idle[i].done = TRUE;
      diode_msg_clear (&m);
      if (idle[i].done)
        break;
    }
    if (res == RAW_READ_CLOSED) {
      fail_if (idle[i].quiet, "%s: the relay closed it", idle[i].what);
      idle[i].done = TRUE;
    }
  }
}

/* The next message to @c within @ms is of @type, the clients in @idle
 * answering PINGs meanwhile. */
static void
expect_within_pumping (RawClient * c, DiodeMsgType type, guint ms,
    const gchar * what, Idle * idle, guint n_idle)
{
  gint64 end = deadline_in (ms);
  DiodeMsg m = { 0 };
  RawReadResult res;

  do {
    pump_idle (idle, n_idle);
    res = raw_next (c, &m, 50);
  } while (res == RAW_READ_TIMEOUT && g_get_monotonic_time () < end);
  fail_unless (res == RAW_READ_MSG, "%s: expected %s, but the relay %s",
      what, diode_msg_type_name (type), res == RAW_READ_CLOSED ? "closed" :
      "sent nothing in time");
  fail_unless (m.type == type, "%s: expected %s, got %s (%s)", what,
      diode_msg_type_name (type), diode_msg_type_name (m.type),
      m.error_text ? m.error_text : "");
  diode_msg_clear (&m);
}

/* The next message to @c is a PULL for @name. */
static void
expect_pull (RawClient * c, const gchar * name)
{
  DiodeMsg m = { 0 };
  RawReadResult res = next_skip_link_ok (c, &m, RAW_IO_MS);

  fail_unless (res == RAW_READ_MSG, "PULL for an announced stream: the "
      "relay %s", res == RAW_READ_CLOSED ? "closed" : "sent nothing");
  fail_unless (m.type == DIODE_MSG_PULL, "PULL for an announced stream: "
      "got %s (%u %s)", diode_msg_type_name (m.type), m.error_code,
      m.error_text ? m.error_text : "");
  fail_unless_equals_string (m.stream, name);
  diode_msg_clear (&m);
}

/* @r's stats mention @needle (TRUE) or not, within WAIT_MS. */
static void
wait_stats (DiodeRelay * r, const gchar * needle, gboolean want)
{
  gint64 end = deadline_in (WAIT_MS);
  gchar *json = NULL;

  for (;;) {
    json = diode_relay_get_stats_json (r);
    if ((json && strstr (json, needle) != NULL) == want)
      break;
    fail_if (g_get_monotonic_time () > end, "stats %s '%s': %s", want ?
        "never show" : "still show", needle, json ? json : "(none)");
    g_free (json);
    g_usleep (50 * 1000);
  }
  g_free (json);
}

static DiodeRelay *
relay_with_config (const gchar * key, const gchar * text)
{
  DiodeRelay *r = fixture_relay_start (0, key);
  gchar *file = g_strdup_printf ("trust-%u.conf", diode_relay_get_port (r));
  gchar *path = g_build_filename (fixture_config_dir (), file, NULL);
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  g_object_set (r, "config", path, "stats-interval-ms", 100, NULL);
  fail_unless (diode_relay_reload_config (r, &err), "%s", err ?
      err->message : "");
  g_free (path);
  g_free (file);
  return r;
}

/* ------------------------------------------------------------------------ */

/* No [relays] children: a self-made identity's LINK gets 102 naming it and
 * the config key; the connection stays usable (PING), its ANNOUNCE is not
 * admitted (not LINKED) and nobody is asked to push. Listed, the same
 * identity links. */
GST_START_TEST (test_unlisted_link_refused)
{
  DiodeRelay *root = fixture_relay_start (0, "root.pem");
  gchar *rogue = fixture_key_address ("rogue.pem");
  RawClient *c = relay_open (root, "rogue.pem"), *v;
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_link ());
  raw_expect_error_says (c, DIODE_ERR_NOT_AUTHORIZED, "LINK from an "
      "unlisted relay", rogue, diode_relay_get_address (root),
      "[relays] children", NULL);
  raw_send_frame (c, diode_msg_encode_ping (7));
  raw_expect (c, DIODE_MSG_PONG, &m);
  diode_msg_clear (&m);
  announce (c, "rogue.pem", "victim-cam", FORGED);
  raw_expect_error_says (c, DIODE_ERR_PROTOCOL, "ANNOUNCE without a link",
      NULL);
  v = viewer (root, "victim-cam", FORGED, QUIET_MS);
  raw_expect_error_says (v, DIODE_ERR_NOT_FOUND, "viewer of a name only "
      "an unlinked relay announced", NULL);
  raw_free (v, FALSE);
  raw_free (c, FALSE);

  fixture_relay_conf_add (root, "relays", "children", rogue);
  c = child_link (root, "rogue.pem");
  raw_free (c, FALSE);
  g_free (rogue);
  g_object_unref (root);
}

GST_END_TEST;

/* A listed child claims owners the parent's own rules refuse: a name
 * [names] reserves for another identity, an owner not on [publishers],
 * a name another child announced for another owner. Each announcement is
 * ignored: viewers pinned to the forged owner are never served and the
 * child is never asked to push. An allowed claim is (the control). */
GST_START_TEST (test_forged_owner_announce_refused)
{
  gchar *victim = fixture_key_address ("victim.pem");
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *other = fixture_key_address ("child2.pem");
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s;%s\n"
      "[names]\nvictim-cam=%s\n[publishers]\nallow=%s;%s\n", rogue, other,
      victim, victim, rogue);
  DiodeRelay *root = relay_with_config ("root.pem", text);
  RawClient *c = child_link (root, "rogue.pem");
  RawClient *c2 = child_link (root, "child2.pem");
  RawClient *v1, *v2, *v3, *v4;

  /* [names]: victim-cam is the victim's, an allowed owner or not */
  announce (c, "rogue.pem", "victim-cam", rogue);
  /* [publishers]: the forged owner may not publish here */
  announce (c, "rogue.pem", "other-cam", FORGED);
  /* another child holds dup-cam for the victim */
  announce (c2, "child2.pem", "dup-cam", victim);
  wait_stats (root, "\"dup-cam\"", TRUE);
  announce (c, "rogue.pem", "dup-cam", rogue);
  /* the control: an allowed claim is believed */
  announce (c, "rogue.pem", "ok-cam", rogue);
  wait_stats (root, "\"ok-cam\"", TRUE);
  /* dup-cam withdrawn by its holder: the ignored claim must not step in */
  raw_send_frame (c2, diode_msg_encode_announce (DIODE_ANNOUNCE_WITHDRAWN,
          "dup-cam", NULL, 0, NULL, NULL, NULL));
  wait_stats (root, "\"dup-cam\"", FALSE);

  v1 = viewer (root, "victim-cam", rogue, QUIET_MS);
  v2 = viewer (root, "other-cam", FORGED, QUIET_MS);
  v3 = viewer (root, "dup-cam", rogue, QUIET_MS);
  v4 = viewer (root, "ok-cam", rogue, WAIT_MS);
  /* only ok-cam is asked for */
  expect_pull (c, "ok-cam");
  expect_quiet (c, QUIET_MS, "the child after refused announcements");
  raw_expect_error_says (v1, DIODE_ERR_NOT_FOUND, "viewer of a reserved "
      "name claimed by a child", NULL);
  raw_expect_error_says (v2, DIODE_ERR_NOT_FOUND, "viewer of a name "
      "claimed for an owner not on [publishers]", NULL);
  raw_expect_error_says (v3, DIODE_ERR_NOT_FOUND, "viewer of a name "
      "claimed against another child's owner", NULL);

  raw_free (v1, FALSE);
  raw_free (v2, FALSE);
  raw_free (v3, FALSE);
  raw_free (v4, FALSE);
  raw_free (c2, FALSE);
  raw_free (c, FALSE);
  g_object_unref (root);
  g_free (text);
  g_free (victim);
  g_free (rogue);
  g_free (other);
}

GST_END_TEST;

/* A listed child announces a stream for an allowed owner, is asked to
 * push it, and pushes it naming another owner: 102, and the viewer pinned
 * to the forged owner gets no SUBSCRIBE_OK and no MEDIA. */
GST_START_TEST (test_forged_owner_push_refused)
{
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", rogue);
  DiodeRelay *root = relay_with_config ("root.pem", text);
  RawClient *c = child_link (root, "rogue.pem"), *p, *v;
  const gchar *path[] = { rogue, NULL };
  DiodeMsg m = { 0 };
  guint8 data[64] = { 0 };

  announce (c, "rogue.pem", "cam", rogue);
  wait_stats (root, "\"cam\"", TRUE);
  v = viewer (root, "cam", FORGED, WAIT_MS);
  expect_pull (c, "cam");
  p = relay_open (root, "rogue.pem");
  raw_send_frame (p, diode_msg_encode_publish_relay ("cam",
          DIODE_ACCESS_PUBLIC, NULL, NULL, FORGED, path));
  raw_next (p, &m, RAW_IO_MS);
  if (m.type == DIODE_MSG_PUBLISH_OK) {
    /* the forgery got through: show what the viewer gets */
    raw_send_frame (p, diode_msg_encode_caps ("video/x-test"));
    raw_send_frame (p, diode_msg_encode_media (1, 0, 0, 1, 0, 0,
            DIODE_MEDIA_KEYFRAME, data, sizeof (data)));
  }
  fail_unless_equals_int (m.type, DIODE_MSG_ERROR);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (strstr (m.error_text, "owner") != NULL, "%s", m.error_text);
  diode_msg_clear (&m);
  expect_quiet (v, QUIET_MS, "viewer pinned to a forged owner");
  raw_free (p, FALSE);
  raw_free (v, FALSE);
  raw_free (c, FALSE);
  g_object_unref (root);
  g_free (text);
  g_free (rogue);
}

GST_END_TEST;

/* SIGHUP (a reload) taking a child off [relays] children unlinks it: its
 * control link gets 102 and closes, its announcements are forgotten. */
GST_START_TEST (test_reload_unlinks_child)
{
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *other = fixture_key_address ("child2.pem");
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", rogue);
  DiodeRelay *root = relay_with_config ("root.pem", text);
  RawClient *c = child_link (root, "rogue.pem");
  gchar *path = NULL, *why = NULL;
  gint code = 0;
  GError *err = NULL;

  announce (c, "rogue.pem", "cam", rogue);
  wait_stats (root, "\"cam\"", TRUE);
  g_free (text);
  text = g_strdup_printf ("[relays]\nchildren=%s\n", other);
  g_object_get (root, "config", &path, NULL);
  fail_unless (g_file_set_contents (path, text, -1, NULL));
  fail_unless (diode_relay_reload_config (root, &err), "%s", err ?
      err->message : "");
  raw_wait_closed (c, WAIT_MS, &code, &why);
  fail_unless_equals_int (code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (why && strstr (why, "[relays] children"), "%s", why);
  wait_stats (root, "\"cam\"", FALSE);
  raw_free (c, FALSE);
  g_object_unref (root);
  g_free (why);
  g_free (path);
  g_free (text);
  g_free (rogue);
  g_free (other);
}

GST_END_TEST;

/* A push that names no owner: a viewer pinned to a publisher is refused
 * (102), not served a stream whose owner nobody knows. */
GST_START_TEST (test_pin_unknown_owner_refused)
{
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", rogue);
  DiodeRelay *root = relay_with_config ("root.pem", text);
  RawClient *c = child_link (root, "rogue.pem"), *p, *v;
  const gchar *path[] = { rogue, NULL };
  DiodeMsg m = { 0 };
  guint8 data[64] = { 0 };

  announce (c, "rogue.pem", "anon", NULL);
  wait_stats (root, "\"anon\"", TRUE);
  v = viewer (root, "anon", FORGED, WAIT_MS);
  expect_pull (c, "anon");
  p = relay_open (root, "rogue.pem");
  raw_send_frame (p, diode_msg_encode_publish_relay ("anon",
          DIODE_ACCESS_PUBLIC, NULL, NULL, NULL, path));
  raw_expect_next (p, DIODE_MSG_PUBLISH_OK, &m, "owner-less push");
  diode_msg_clear (&m);
  raw_send_frame (p, diode_msg_encode_caps ("video/x-test"));
  raw_send_frame (p, diode_msg_encode_media (1, 0, 0, 1, 0, 0,
          DIODE_MEDIA_KEYFRAME, data, sizeof (data)));
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "pinned viewer of a "
      "stream of unknown owner", "no known publisher", NULL);
  /* the push ends while the stream has nobody left (it was freed under
   * the lingering push connection: heap-use-after-free, attacker's a12) */
  raw_send_frame (p, diode_msg_encode_eos (1));
  raw_free (p, FALSE);
  raw_free (c, FALSE);
  g_usleep (500 * 1000);
  c = child_link (root, "rogue.pem");
  raw_free (v, FALSE);
  raw_free (c, FALSE);
  g_object_unref (root);
  g_free (text);
  g_free (rogue);
}

GST_END_TEST;

/* Published at top, the root's upstream. A child of the root announces
 * the same name and then never pushes (cam) or pushes nothing (cam2): after
 * the handshake timeout the root takes the stream from its upstream, its
 * viewer gets frames, and the child is not asked again at once. */
GST_START_TEST (test_stalled_child_bypassed)
{
  DiodeRelay *top = fixture_relay_start (0, "top.pem");
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *rootaddr = fixture_key_address ("root.pem");
  gchar *rootkey = g_build_filename (fixture_config_dir (), "root.pem", NULL);
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", rogue);
  gchar *conf = g_build_filename (fixture_config_dir (), "stall.conf", NULL);
  gchar *up;
  DiodeRelay *root;
  RawClient *pubs[2], *c, *p, *v, *v2;
  const gchar *path[] = { rogue, NULL };
  const gchar *names[] = { "cam", "cam2" };
  DiodeMsg m = { 0 };
  guint8 data[64] = { 0 };
  GError *err = NULL;
  Idle idle[5] = { {0} };
  guint i, seq, n_idle;

  fixture_relay_conf_add (top, "relays", "children", rootaddr);
  up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address (top),
      diode_relay_get_port (top));
  fail_unless (g_file_set_contents (conf, text, -1, NULL));
  root = diode_relay_new ("127.0.0.1:0", rootkey);
  g_object_set (root, "upstream", up, "config", conf,
      "handshake-timeout-ms", 2000, "stats-interval-ms", 100, NULL);
  fail_unless (diode_relay_start (root, &err), "%s", err ? err->message :
      "");

  /* the real streams, at top */
  for (i = 0; i < 2; i++) {
    pubs[i] = raw_open (top, 0, "victim.pem");
    raw_send_frame (pubs[i], diode_msg_encode_hello (1, 1,
            DIODE_ROLE_PUBLISHER, "trust-test/0"));
    raw_expect_next (pubs[i], DIODE_MSG_WELCOME, &m, "publisher HELLO");
    diode_msg_clear (&m);
    raw_send_frame (pubs[i], diode_msg_encode_publish (names[i]));
    raw_expect_next (pubs[i], DIODE_MSG_PUBLISH_OK, &m, "PUBLISH at top");
    diode_msg_clear (&m);
    raw_send_frame (pubs[i], diode_msg_encode_caps ("video/x-test"));
    for (seq = 1; seq <= 3; seq++)
      raw_send_frame (pubs[i], diode_msg_encode_media (seq, seq, seq, 1, 0,
              0, DIODE_MEDIA_KEYFRAME, data, sizeof (data)));
    fail_unless (fixture_wait_last_seq (top, names[i], 3, WAIT_MS));
  }

  c = child_link (root, "rogue.pem");
  announce (c, "rogue.pem", "cam", rogue);
  announce (c, "rogue.pem", "cam2", rogue);
  wait_stats (root, "\"cam2\"", TRUE);
  /* the child (quiet: it is asked for nothing before the PULL) and the
   * publishers at top stay alive, answering PINGs, through every wait of
   * a handshake timeout: the child is bypassed because it does not push,
   * not because it went silent; the top keeps its publishers */
  idle[0].c = c;
  idle[0].quiet = TRUE;
  idle[0].what = "the child, while the root waits for a push";
  idle[1].c = pubs[0];
  idle[1].what = "publisher of cam at top";
  idle[2].c = pubs[1];
  idle[2].what = "publisher of cam2 at top";
  n_idle = 3;
  pump_idle (idle, n_idle);

  /* nopush: asked, never pushes */
  v = viewer (root, "cam", NULL, WAIT_MS);
  expect_pull (c, "cam");
  expect_within_pumping (v, DIODE_MSG_SUBSCRIBE_OK, WAIT_MS, "viewer at the "
      "root, the child never pushing", idle, n_idle);

  /* mute: pushes, but nothing */
  v2 = viewer (root, "cam2", NULL, WAIT_MS);
  expect_pull (c, "cam2");
  p = relay_open (root, "rogue.pem");
  raw_send_frame (p, diode_msg_encode_publish_relay ("cam2",
          DIODE_ACCESS_PUBLIC, NULL, NULL, rogue, path));
  raw_expect_next (p, DIODE_MSG_PUBLISH_OK, &m, "a push");
  diode_msg_clear (&m);
  /* the mute push too stays alive until the root fails it (ERROR): closed
   * as silent first, it would only have ended, and the child, not
   * shunned, been asked again */
  idle[n_idle].c = p;
  idle[n_idle++].what = "the mute push";
  idle[n_idle].c = v;
  idle[n_idle++].what = "the viewer of cam";
  expect_within_pumping (v2, DIODE_MSG_SUBSCRIBE_OK, WAIT_MS, "viewer at the "
      "root, the child pushing nothing", idle, n_idle);
  raw_expect_next (v2, DIODE_MSG_CAPS, &m, "the upstream's copy");
  diode_msg_clear (&m);
  /* and the child is not asked again for either (shunned for 30 s) */
  expect_quiet (c, 2 * QUIET_MS, "the child that did not push");

  raw_free (p, FALSE);
  raw_free (v, FALSE);
  raw_free (v2, FALSE);
  raw_free (c, FALSE);
  raw_free (pubs[0], FALSE);
  raw_free (pubs[1], FALSE);
  g_object_unref (root);
  g_object_unref (top);
  g_free (up);
  g_free (conf);
  g_free (text);
  g_free (rootkey);
  g_free (rootaddr);
  g_free (rogue);
}

GST_END_TEST;

/* The same child's push of cam2 is taken (PUBLISH_OK) and then goes
 * silent: no frame, no PONG. With a handshake timeout longer than three
 * keepalive periods the root closes the push as silent first; a push that
 * ended before delivering any frame is no better than none, so the child
 * is not asked again at once and the viewer gets the upstream's copy
 * (before: the root asked the same child again every 2.4 s, forever). */
GST_START_TEST (test_silent_push_bypassed)
{
  DiodeRelay *top = fixture_relay_start (0, "top.pem");
  gchar *rogue = fixture_key_address ("rogue.pem");
  gchar *rootaddr = fixture_key_address ("root.pem");
  gchar *rootkey = g_build_filename (fixture_config_dir (), "root.pem", NULL);
  gchar *text = g_strdup_printf ("[relays]\nchildren=%s\n", rogue);
  gchar *conf = g_build_filename (fixture_config_dir (), "silent.conf", NULL);
  gchar *up;
  DiodeRelay *root;
  RawClient *pub, *c, *p, *v;
  const gchar *path[] = { rogue, NULL };
  DiodeMsg m = { 0 };
  guint8 data[64] = { 0 };
  GError *err = NULL;
  Idle idle[2] = { {0} };
  guint seq;

  fixture_relay_conf_add (top, "relays", "children", rootaddr);
  up = g_strdup_printf ("%s@127.0.0.1:%u", diode_relay_get_address (top),
      diode_relay_get_port (top));
  fail_unless (g_file_set_contents (conf, text, -1, NULL));
  root = diode_relay_new ("127.0.0.1:0", rootkey);
  /* 6 s: the keepalive (3 x 800 ms) ends the silent push first */
  g_object_set (root, "upstream", up, "config", conf,
      "handshake-timeout-ms", 6000, "stats-interval-ms", 100, NULL);
  fail_unless (diode_relay_start (root, &err), "%s", err ? err->message :
      "");

  pub = raw_open (top, 0, "victim.pem");
  raw_send_frame (pub, diode_msg_encode_hello (1, 1, DIODE_ROLE_PUBLISHER,
          "trust-test/0"));
  raw_expect_next (pub, DIODE_MSG_WELCOME, &m, "publisher HELLO");
  diode_msg_clear (&m);
  raw_send_frame (pub, diode_msg_encode_publish ("cam2"));
  raw_expect_next (pub, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH at top");
  diode_msg_clear (&m);
  raw_send_frame (pub, diode_msg_encode_caps ("video/x-test"));
  for (seq = 1; seq <= 3; seq++)
    raw_send_frame (pub, diode_msg_encode_media (seq, seq, seq, 1, 0, 0,
            DIODE_MEDIA_KEYFRAME, data, sizeof (data)));
  fail_unless (fixture_wait_last_seq (top, "cam2", 3, WAIT_MS));

  c = child_link (root, "rogue.pem");
  announce (c, "rogue.pem", "cam2", rogue);
  wait_stats (root, "\"cam2\"", TRUE);
  idle[0].c = c;
  idle[0].quiet = TRUE;
  idle[0].what = "the child whose push went silent";
  idle[1].c = pub;
  idle[1].what = "publisher of cam2 at top";
  pump_idle (idle, 2);

  v = viewer (root, "cam2", NULL, 30000);
  expect_pull (c, "cam2");
  p = relay_open (root, "rogue.pem");
  raw_send_frame (p, diode_msg_encode_publish_relay ("cam2",
          DIODE_ACCESS_PUBLIC, NULL, NULL, rogue, path));
  raw_expect_next (p, DIODE_MSG_PUBLISH_OK, &m, "a push");
  diode_msg_clear (&m);
  /* p is never read again: it answers no PING */
  expect_within_pumping (v, DIODE_MSG_SUBSCRIBE_OK, 20000, "viewer at the "
      "root, the child's push silent", idle, 2);
  raw_expect_next (v, DIODE_MSG_CAPS, &m, "the upstream's copy");
  diode_msg_clear (&m);
  expect_quiet (c, QUIET_MS, "the child whose push went silent");

  raw_free (p, FALSE);
  raw_free (v, FALSE);
  raw_free (c, FALSE);
  raw_free (pub, FALSE);
  g_object_unref (root);
  g_object_unref (top);
  g_free (up);
  g_free (conf);
  g_free (text);
  g_free (rootkey);
  g_free (rootaddr);
  g_free (rogue);
}

GST_END_TEST;

static Suite *
links_trust_suite (void)
{
  Suite *s = suite_create ("links-trust");
  TCase *tc = tcase_create ("trust");

  fixture_config_dir ();
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_unlisted_link_refused);
  tcase_add_test (tc, test_forged_owner_announce_refused);
  tcase_add_test (tc, test_forged_owner_push_refused);
  tcase_add_test (tc, test_reload_unlinks_child);
  tcase_add_test (tc, test_pin_unknown_owner_refused);
  tcase_add_test (tc, test_stalled_child_bypassed);
  tcase_add_test (tc, test_silent_push_bypassed);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (links_trust);
