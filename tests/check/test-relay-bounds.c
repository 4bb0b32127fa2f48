/* gst-diode — what relay links can make a relay hold and do (issue 9)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The attacker's pass on relay links, as tests against an in-process
 * relay: fake child relays (raw role-RELAY clients) and a fake upstream
 * (a raw TLS server the relay links to with --upstream) send what no
 * honest relay would: a push and a viewer dying in the same loop turn,
 * announcements holding as much as a frame allows, the same announcement
 * again and again, a PULL flood, a LINK_OK flood to a child that does not
 * read, PUBLISHes nobody asked for. Each test checks the bound of
 * docs/security.md section 9 that holds it. Real TLS, real sockets on
 * 127.0.0.1; every wait is bounded.
 *
 * Built twice: without BOUNDS_LONG (suite elements) and with it (suite
 * elements-long: the full-size announcement flood measuring RSS).
 */
#include <gst/check/gstcheck.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-identity.h"

#define WAIT_MS 5000

/* "0x" + 40 hex digits made from @n: an address nobody holds. */
static gchar *
fake_address (guint tag, guint n)
{
  return g_strdup_printf ("0x%08x%032x", tag, n);
}

static void
hello (RawClient * c, DiodeRole role, guint16 vmax)
{
  DiodeMsg m = { 0 };

  if (role == DIODE_ROLE_RELAY && vmax >= 2) {
    c->version = DIODE_PROTOCOL_VERSION_LINK;
    c->role = DIODE_ROLE_RELAY;
  }
  raw_send_frame (c, diode_msg_encode_hello (1, vmax, role, "bounds-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "HELLO");
  diode_msg_clear (&m);
}

/* A fake child relay: HELLO role RELAY v2, LINK, LINK_OK read. */
static RawClient *
linked_child (DiodeRelay * r, const gchar * key, int rcvbuf)
{
  RawClient *c = raw_open (r, rcvbuf, key);
  DiodeMsg m = { 0 };

  hello (c, DIODE_ROLE_RELAY, 2);
  raw_send_frame (c, diode_msg_encode_link ());
  raw_expect_next (c, DIODE_MSG_LINK_OK, &m, "LINK");
  diode_msg_clear (&m);
  return c;
}

/* Everything @c sent before has been handled: frames are handled in
 * order, so the PONG to this PING comes after them. */
static void
sync_with (RawClient * c)
{
  gint64 end = deadline_in (WAIT_MS);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_ping (4242));
  for (;;) {
    gint64 left = (end - g_get_monotonic_time ()) / 1000;

    fail_unless (left > 0, "no PONG");
    fail_unless (raw_read (c, &m, (guint) left) == RAW_READ_MSG,
        "the relay closed or sent nothing");
    if (m.type == DIODE_MSG_PONG && m.token == 4242) {
      diode_msg_clear (&m);
      return;
    }
    if (m.type == DIODE_MSG_PING)
      raw_send_frame (c, diode_msg_encode_pong (m.token));
    diode_msg_clear (&m);
  }
}

/* The relay's stats snapshot after at least one more stats interval. */
static G_GNUC_UNUSED gchar *
fresh_stats (DiodeRelay * r)
{
  g_usleep (400 * 1000);
  return diode_relay_get_stats_json (r);
}

static G_GNUC_UNUSED guint
count_of (const gchar * haystack, const gchar * needle)
{
  guint n = 0;
  const gchar *p = haystack;

  while ((p = strstr (p, needle))) {
    n++;
    p += strlen (needle);
  }
  return n;
}

/* The relay under test, letting any relay link to it as a child
 * ([relays] children=*): these tests play hostile children. */
static DiodeRelay *
relay_with_children (void)
{
  DiodeRelay *r = fixture_relay_start (0, "m.pem");

  fixture_relay_conf_add (r, "relays", "children", "*");
  return r;
}

/* A relay whose --upstream is a fake relay listening on @lfd as @up_key;
 * the control link is accepted and LINKED (LINK_OK with the fake's own
 * address as its path). */
static G_GNUC_UNUSED DiodeRelay *
start_under_fake (const gchar * key, int lfd, guint16 port,
    const gchar * up_key, RawClient ** control)
{
  gchar *path = g_build_filename (fixture_config_dir (), key, NULL);
  gchar *up_addr = raw_key_address (up_key);
  gchar *up = g_strdup_printf ("%s@127.0.0.1:%u", up_addr, port);
  const gchar *up_path[] = { up_addr, NULL };
  DiodeRelay *r = diode_relay_new ("127.0.0.1:0", path);
  GError *err = NULL;
  DiodeMsg m = { 0 };
  RawClient *c;

  g_object_set (r, "upstream", up, "stats-interval-ms", 100, NULL);
  if (!diode_relay_start (r, &err))
    g_error ("cannot start relay: %s", err->message);
  fixture_relay_conf_add (r, "relays", "children", "*");
  c = raw_accept (lfd, up_key, WAIT_MS);
  fail_unless (c != NULL, "the relay did not connect to its upstream");
  raw_expect_next (c, DIODE_MSG_HELLO, &m, "the relay's HELLO");
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_welcome (2, 0, "fake-upstream/0"));
  raw_expect_next (c, DIODE_MSG_LINK, &m, "the relay's LINK");
  diode_msg_clear (&m);
  raw_send_frame (c, diode_msg_encode_link_ok (up_path));
  *control = c;
  g_free (up);
  g_free (up_addr);
  g_free (path);
  return r;
}

#ifndef BOUNDS_LONG

/* Attacker's a13 (fixed in e88a654): a push and the stream's only viewer
 * dying in the same loop turn freed the stream while the dead push still
 * pointed at it (heap-use-after-free in relay_reap; ASan reports it, a
 * plain build may crash or not). Twenty rounds, then the relay must
 * still answer. */
GST_START_TEST (test_push_and_viewer_die_together)
{
  DiodeRelay *r = relay_with_children ();
  gchar *evil = raw_key_address ("evil.pem");
  const gchar *path[] = { evil, NULL };
  gchar **allow = g_new0 (gchar *, 2049);
  DiodeMsg m = { 0 };
  RawClient *c;
  guint i, j;

  for (i = 0; i < 2048; i++)
    allow[i] = fake_address (0xa13, i);
  for (i = 0; i < 20; i++) {
    gchar *name = g_strdup_printf ("z%u", i);
    RawClient *ctl = linked_child (r, "evil.pem", 0);
    RawClient *v, *p;

    raw_send_frame (ctl, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
            name, evil, DIODE_ACCESS_PUBLIC, NULL, NULL, path));
    v = raw_open (r, 0, "evil.pem");
    hello (v, DIODE_ROLE_VIEWER, 1);
    raw_send_frame (v, diode_msg_encode_subscribe (name, 0, WAIT_MS));
    raw_expect_next (ctl, DIODE_MSG_PULL, &m, "the relay's PULL");
    fail_unless_equals_string (m.stream, name);
    diode_msg_clear (&m);
    p = raw_open (r, 0, "evil.pem");
    hello (p, DIODE_ROLE_RELAY, 2);
    raw_send_frame (p, diode_msg_encode_publish_relay (name,
            DIODE_ACCESS_PUBLIC, NULL, NULL, evil, path));
    raw_expect_next (p, DIODE_MSG_PUBLISH_OK, &m, "the push");
    diode_msg_clear (&m);
    /* Keep the relay's thread busy (announcements with 2048-address
     * allowlists to parse) while both close, reset, so that it finds the
     * two resets in one epoll batch, the viewer's first. */
    for (j = 0; j < 24; j++) {
      gchar *pad = g_strdup_printf ("pad-%u-%u", i, j);

      raw_send_frame (ctl, diode_msg_encode_announce
          (DIODE_ANNOUNCE_AVAILABLE, pad, evil, DIODE_ACCESS_PRIVATE, NULL,
              (const gchar * const *) allow, path));
      g_free (pad);
    }
    raw_free (v, TRUE);
    raw_free (p, TRUE);
    g_usleep (100 * 1000);
    raw_free (ctl, FALSE);
    g_free (name);
  }
  c = raw_open (r, 0, "after.pem");
  hello (c, DIODE_ROLE_VIEWER, 1);
  raw_free (c, FALSE);
  g_strfreev (allow);
  g_free (evil);
  g_object_unref (r);
}

GST_END_TEST;

/* Attacker's a2, small: announcements are bounded in bytes, not only in
 * entries. With --max-announced 64 a link's share is 32 KiB; 64
 * announcements with 31-relay paths (~2 KiB each) do not all fit (before
 * the byte budget all 64 were kept), and another child's share is still
 * free. */
GST_START_TEST (test_announce_byte_budget)
{
  DiodeRelay *r = relay_with_children ();
  gchar *evil = raw_key_address ("evil.pem");
  gchar *path[32] = { NULL };
  const gchar *honest_path[2] = { NULL, NULL };
  RawClient *a, *b;
  gchar *json, *honest;
  guint i, kept;

  g_object_set (r, "max-announced", 64, "stats-interval-ms", 100, NULL);
  for (i = 0; i < 30; i++)
    path[i] = fake_address (0xa2, i);
  path[30] = g_strdup (evil);
  a = linked_child (r, "evil.pem", 0);
  for (i = 0; i < 64; i++) {
    gchar *name = g_strdup_printf ("flood-%02u", i);

    raw_send_frame (a, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
            name, evil, DIODE_ACCESS_PUBLIC, NULL, NULL,
            (const gchar * const *) path));
    g_free (name);
  }
  sync_with (a);
  honest = raw_key_address ("honest.pem");
  honest_path[0] = honest;
  b = linked_child (r, "honest.pem", 0);
  raw_send_frame (b, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
          "honest-cam", honest, DIODE_ACCESS_PUBLIC, NULL, NULL,
          honest_path));
  sync_with (b);
  json = fresh_stats (r);
  kept = count_of (json, "\"flood-");
  g_print ("%u of 64 announcements kept in a 32 KiB share\n", kept);
  fail_unless (kept > 0, "none kept: %s", json);
  fail_unless (kept < 32, "%u announcements of ~2 KiB kept in a 32 KiB "
      "share", kept);
  fail_unless (strstr (json, "\"honest-cam\"") != NULL,
      "another child's share was taken: %s", json);
  g_free (json);
  raw_free (a, FALSE);
  raw_free (b, FALSE);
  for (i = 0; i < 31; i++)
    g_free (path[i]);
  g_free (honest);
  g_free (evil);
  g_object_unref (r);
}

GST_END_TEST;

/* ANNOUNCEs for @name read by the fake upstream until it is quiet. */
static guint
count_announces (RawClient * up, const gchar * name)
{
  DiodeMsg m = { 0 };
  guint n = 0;

  while (raw_next (up, &m, 700) == RAW_READ_MSG) {
    if (m.type == DIODE_MSG_ANNOUNCE && !g_strcmp0 (m.stream, name))
      n++;
    diode_msg_clear (&m);
  }
  return n;
}

/* Attacker's a8: the same announcement again costs nothing and is not
 * passed up; changes are rate-limited per link (10 a second, 50 at
 * once). Before: every one passed up. */
GST_START_TEST (test_reannounce_churn)
{
  guint16 port;
  int lfd = raw_listen (&port);
  RawClient *up, *child;
  DiodeRelay *r = start_under_fake ("m.pem", lfd, port, "up.pem", &up);
  gchar *evil = raw_key_address ("evil.pem");
  gchar *other = fake_address (0xa8, 1);
  const gchar *path[] = { evil, NULL };
  guint i, n;

  child = linked_child (r, "evil.pem", 0);
  for (i = 0; i < 100; i++)
    raw_send_frame (child, diode_msg_encode_announce
        (DIODE_ANNOUNCE_AVAILABLE, "same", evil, DIODE_ACCESS_PUBLIC, NULL,
            NULL, path));
  sync_with (child);
  n = count_announces (up, "same");
  fail_unless_equals_int (n, 1);

  for (i = 0; i < 200; i++)
    raw_send_frame (child, diode_msg_encode_announce
        (DIODE_ANNOUNCE_AVAILABLE, "churn", i % 2 ? evil : other,
            DIODE_ACCESS_PUBLIC, NULL, NULL, path));
  sync_with (child);
  n = count_announces (up, "churn");
  fail_unless (n >= 1 && n <= 100, "%u of 200 changes passed up", n);

  raw_free (child, FALSE);
  raw_free (up, FALSE);
  g_object_unref (r);
  close (lfd);
  g_free (other);
  g_free (evil);
}

GST_END_TEST;

/* Attacker's a3: an upstream sending the same PULL 50 times gets one push
 * connection, not 50. */
GST_START_TEST (test_pull_flood_one_push)
{
  guint16 port;
  int lfd = raw_listen (&port);
  RawClient *up, *pub;
  DiodeRelay *r = start_under_fake ("m.pem", lfd, port, "up.pem", &up);
  gchar *up_addr = raw_key_address ("up.pem");
  const gchar *path[] = { up_addr, NULL };
  DiodeMsg m = { 0 };
  guint i, n;

  pub = raw_open (r, 0, "cam.pem");
  hello (pub, DIODE_ROLE_PUBLISHER, 1);
  raw_send_frame (pub, diode_msg_encode_publish ("s"));
  raw_expect_next (pub, DIODE_MSG_PUBLISH_OK, &m, "PUBLISH");
  diode_msg_clear (&m);
  raw_expect_next (up, DIODE_MSG_ANNOUNCE, &m, "the relay's ANNOUNCE");
  diode_msg_clear (&m);
  for (i = 0; i < 50; i++)
    raw_send_frame (up, diode_msg_encode_pull ("s", 0, path));
  n = tcp_count_accepts (lfd, 2000);
  fail_unless (n >= 1 && n <= 2, "%u push connections for 50 PULLs", n);

  raw_free (pub, FALSE);
  raw_free (up, FALSE);
  g_object_unref (r);
  close (lfd);
  g_free (up_addr);
}

GST_END_TEST;

/* Attacker's a14: an upstream flooding LINK_OK (its path changing each
 * time) to a relay whose child does not read: the child is sent the
 * latest path, not every one (before: thousands queued for it). */
GST_START_TEST (test_link_ok_flood)
{
  guint16 port;
  int lfd = raw_listen (&port);
  RawClient *up, *child;
  DiodeRelay *r = start_under_fake ("m.pem", lfd, port, "up.pem", &up);
  gchar *up_addr = raw_key_address ("up.pem");
  gchar *pa[31] = { NULL }, *pb[31] = { NULL };
  DiodeMsg m = { 0 };
  gint64 end;
  guint i, n = 0;

  g_object_set (r, "keepalive-ms", 0, "write-timeout-ms", 60000, NULL);
  child = linked_child (r, "child.pem", 4096);
  pa[0] = g_strdup (up_addr);
  pb[0] = g_strdup (up_addr);
  for (i = 1; i < 30; i++) {
    pa[i] = fake_address (0xa14a, i);
    pb[i] = fake_address (0xa14b, i);
  }
  for (i = 0; i < 3000; i++)
    raw_send_frame (up, diode_msg_encode_link_ok ((const gchar * const *)
            (i % 2 ? pa : pb)));
  sync_with (up);
  g_usleep (1000 * 1000);
  end = deadline_in (3000);
  while (g_get_monotonic_time () < end
      && raw_next (child, &m, 500) == RAW_READ_MSG) {
    if (m.type == DIODE_MSG_LINK_OK)
      n++;
    diode_msg_clear (&m);
  }
  fail_unless (n >= 1, "the child never heard of the new path");
  fail_unless (n < 100, "%u LINK_OK queued for a child that did not read",
      n);

  for (i = 0; i < 30; i++) {
    g_free (pa[i]);
    g_free (pb[i]);
  }
  raw_free (child, FALSE);
  raw_free (up, FALSE);
  g_object_unref (r);
  close (lfd);
  g_free (up_addr);
}

GST_END_TEST;

/* Attacker's a11: PUBLISH on a relay connection that no PULL asked for is
 * refused (102), and after MAX_PUBLISH_REFUSALS the connection is closed,
 * as for a publisher refused again and again (before: never closed). */
GST_START_TEST (test_unasked_push_closed)
{
  DiodeRelay *r = relay_with_children ();
  gchar *evil = raw_key_address ("evil.pem");
  const gchar *path[] = { evil, NULL };
  RawClient *c = raw_open (r, 0, "evil.pem");
  gint code = -1;
  guint i;

  hello (c, DIODE_ROLE_RELAY, 2);
  for (i = 0; i < 10; i++) {
    GBytes *f = diode_msg_encode_publish_relay ("nobody-asked",
        DIODE_ACCESS_PUBLIC, NULL, NULL, evil, path);

    if (raw_try_send (c, g_bytes_get_data (f, NULL), g_bytes_get_size (f))
        < 0) {
      g_bytes_unref (f);
      break;
    }
    g_bytes_unref (f);
  }
  fail_unless (raw_wait_closed (c, WAIT_MS, &code, NULL) >= 0,
      "a relay pushing what nobody asked for was never closed");
  fail_unless_equals_int (code, DIODE_ERR_NOT_AUTHORIZED);
  raw_free (c, FALSE);
  g_free (evil);
  g_object_unref (r);
}

GST_END_TEST;

#else /* BOUNDS_LONG */

static guint64
rss_bytes (void)
{
  gchar *text = NULL;
  guint64 pages = 0;

  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    sscanf (text, "%*u %" G_GUINT64_FORMAT, &pages);
  g_free (text);
  return pages * (guint64) sysconf (_SC_PAGESIZE);
}

/* Attacker's a2 at size: 1024 announcements of ~41 KB (2048-address
 * allowlists, 31-relay paths) from one child. Announced allowlists are
 * not kept and the rest is under the byte budget: the process (relay and
 * test) grows by far less than the ~160 MB the entries held before. */
GST_START_TEST (test_announce_flood_rss)
{
  DiodeRelay *r = relay_with_children ();
  gchar *evil = raw_key_address ("evil.pem");
  gchar *path[32] = { NULL };
  gchar **allow = g_new0 (gchar *, 2049);
  RawClient *a;
  guint64 before, after;
  guint i;

  for (i = 0; i < 30; i++)
    path[i] = fake_address (0xa2, i);
  path[30] = g_strdup (evil);
  for (i = 0; i < 2048; i++)
    allow[i] = fake_address (0xa11, i);
  a = linked_child (r, "evil.pem", 0);
  sync_with (a);
  before = rss_bytes ();
  for (i = 0; i < 1024; i++) {
    gchar *name = g_strdup_printf ("flood-%04u", i);

    raw_send_frame (a, diode_msg_encode_announce (DIODE_ANNOUNCE_AVAILABLE,
            name, evil, DIODE_ACCESS_PRIVATE, NULL,
            (const gchar * const *) allow, (const gchar * const *) path));
    g_free (name);
    if (i % 64 == 63)
      sync_with (a);
  }
  sync_with (a);
  after = rss_bytes ();
  g_print ("RSS %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " KiB\n",
      before / 1024, after / 1024);
  fail_unless (after < before + 48 * 1024 * 1024, "RSS grew by %"
      G_GUINT64_FORMAT " KiB", (after - before) / 1024);
  raw_free (a, FALSE);
  for (i = 0; i < 31; i++)
    g_free (path[i]);
  g_strfreev (allow);
  g_free (evil);
  g_object_unref (r);
}

GST_END_TEST;

#endif /* BOUNDS_LONG */

static Suite *
bounds_suite (void)
{
  Suite *s = suite_create ("relay-bounds");
  TCase *tc = tcase_create ("relay-bounds");

  fixture_config_dir ();
  suite_add_tcase (s, tc);
#ifndef BOUNDS_LONG
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_push_and_viewer_die_together);
  tcase_add_test (tc, test_announce_byte_budget);
  tcase_add_test (tc, test_reannounce_churn);
  tcase_add_test (tc, test_pull_flood_one_push);
  tcase_add_test (tc, test_link_ok_flood);
  tcase_add_test (tc, test_unasked_push_closed);
#else
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_announce_flood_rss);
#endif
  return s;
}

GST_CHECK_MAIN (bounds);
