/* gst-diode — access control (issue 4): who may watch, who may publish
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One rule per test, each against an in-process relay (and one against the
 * diode-relay daemon, for SIGHUP) over real TLS on 127.0.0.1. Every
 * participant has its own key file in the fixture's temp dir: alice
 * publishes, bob, carol and dave watch. A refused viewer must see
 * GST_RESOURCE_ERROR_NOT_AUTHORIZED naming the stream, its own address and
 * why. Raw TLS clients check what no element would try (role RELAY, resume
 * from a seq, waiting for a stream) and that a refused client never gets a
 * byte of the stream. Every wait is bounded. docs/security.md cites these
 * tests rule by rule.
 */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fixture.h"
#include "diode-msg.h"
#include "diode-tls.h"

#define CAPS_STR "video/x-h264, stream-format=(string)byte-stream, " \
  "alignment=(string)au, width=(int)320, height=(int)240, " \
  "framerate=(fraction)30/1"
#define WAIT_MS   5000          /* anything that should happen does by then */
#define QUIET_MS  400           /* and what must not happen has not by then */

/* diodesink's "access" values are DiodeAccess (diode-msg.h) */
#define ACCESS_PUBLIC    DIODE_ACCESS_PUBLIC
#define ACCESS_PROTECTED DIODE_ACCESS_PROTECTED
#define ACCESS_PRIVATE   DIODE_ACCESS_PRIVATE

typedef struct
{
  const gchar *name;
  gchar *key;                   /* key file in the temp dir */
  gchar *addr;                  /* its address */
} Who;

static Who alice = { "alice" }, bob = { "bob" }, carol = { "carol" },
    dave = { "dave" };

static void
who_init (Who * w)
{
  GError *err = NULL;
  DiodeIdentity *id;

  w->key = g_strdup_printf ("%s/%s.pem", fixture_config_dir (), w->name);
  id = diode_identity_load_or_create (w->key, &err);
  g_assert (id != NULL);
  w->addr = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
}

/* ------------------------------------------------------------------------ */
/* relays and config files */

static gchar *
write_temp (const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (fixture_config_dir (), name, NULL);
  GError *err = NULL;

  fail_unless (g_file_set_contents (path, text, -1, &err), "%s: %s", path,
      err ? err->message : "?");
  return path;
}

/* An in-process relay with the usual relay key; @config: a file written
 * with write_temp() or NULL; @name_grace_ms 0: the default. */
static DiodeRelay *
relay_start (const gchar * config, guint name_grace_ms)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);
  GError *err = NULL;

  if (config)
    g_object_set (relay, "config", config, NULL);
  if (name_grace_ms)
    g_object_set (relay, "name-grace-ms", name_grace_ms, NULL);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  return relay;
}

/* ------------------------------------------------------------------------ */
/* publishers */

/* Buffer @i: every buffer a keyframe, so a joining viewer starts at the
 * newest one; OFFSET says which it is. */
static GstBuffer *
make_buffer (guint i)
{
  gsize size = 64 + i % 200;
  guint8 *data = g_malloc (size);
  GstBuffer *buf;
  gsize k;

  for (k = 0; k < size; k++)
    data[k] = (guint8) (i * 13 + k);
  buf = gst_buffer_new_wrapped (data, size);
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = i * 33 * GST_MSECOND;
  GST_BUFFER_DURATION (buf) = 33 * GST_MSECOND;
  GST_BUFFER_OFFSET (buf) = i;
  return buf;
}

static GstElement *
sink_new (const gchar * relay_hp, const gchar * stream, Who * who)
{
  GstElement *e = gst_element_factory_make ("diodesink", NULL);

  fail_unless (e != NULL);
  g_object_set (e, "relay", relay_hp, "stream", stream, "identity", who->key,
      "timeout", WAIT_MS, NULL);
  return e;
}

static GstElement *
sink_for (DiodeRelay * relay, const gchar * stream, Who * who)
{
  gchar *hp = diode_relay_get_hostport (relay);
  GstElement *e = sink_new (hp, stream, who);

  g_free (hp);
  return e;
}

/* Wraps @e (configured) in a harness and starts publishing. */
static GstHarness *
publish_element (GstElement * e)
{
  GstHarness *h = gst_harness_new_with_element (e, "sink", NULL);

  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, CAPS_STR);
  gst_harness_play (h);
  return h;
}

static GstHarness *
publish (DiodeRelay * relay, GstElement * e, const gchar * stream)
{
  GstHarness *h = publish_element (e);

  fail_unless (fixture_wait_publisher (relay, stream, TRUE, WAIT_MS),
      "'%s' was not published", stream);
  return h;
}

static void
push (GstHarness * pub, guint i)
{
  fail_unless_equals_int (gst_harness_push (pub, make_buffer (i)),
      GST_FLOW_OK);
}

static void
check_error (GstMessage * msg, GQuark domain, gint code,
    const gchar * const *needles, const gchar * what)
{
  GError *err = NULL;
  gchar *dbg = NULL;
  guint i;

  fail_unless (msg != NULL, "%s: no error at all", what);
  gst_message_parse_error (msg, &err, &dbg);
  GST_INFO ("%s: %s", what, err->message);
  fail_unless (g_error_matches (err, domain, code), "%s: expected %s %d, got "
      "%s %d: %s", what, g_quark_to_string (domain), code,
      g_quark_to_string (err->domain), err->code, err->message);
  for (i = 0; needles[i]; i++)
    fail_unless (strstr (err->message, needles[i]) != NULL,
        "%s: '%s' does not say '%s'", what, err->message, needles[i]);
  g_error_free (err);
  g_free (dbg);
  gst_message_unref (msg);
}

/* @e must fail to start with NOT_AUTHORIZED and every needle (NULL-ended). */
static void
publish_refused (GstElement * e, const gchar * what, ...)
{
  GPtrArray *needles = g_ptr_array_new ();
  const gchar *n;
  va_list ap;

  va_start (ap, what);
  while ((n = va_arg (ap, const gchar *)))
    g_ptr_array_add (needles, (gpointer) n);
  va_end (ap);
  g_ptr_array_add (needles, NULL);
  check_error (fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS),
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      (const gchar * const *) needles->pdata, what);
  g_ptr_array_unref (needles);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

/* @e must fail to start with a SETTINGS error (a local mistake). */
static void
start_fails_locally (GstElement * e, const gchar * what, ...)
{
  GPtrArray *needles = g_ptr_array_new ();
  const gchar *n;
  va_list ap;

  va_start (ap, what);
  while ((n = va_arg (ap, const gchar *)))
    g_ptr_array_add (needles, (gpointer) n);
  va_end (ap);
  g_ptr_array_add (needles, NULL);
  check_error (fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS),
      GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      (const gchar * const *) needles->pdata, what);
  g_ptr_array_unref (needles);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

/* ------------------------------------------------------------------------ */
/* viewers (diodesrc) */

typedef struct
{
  GstHarness *h;
  GstBus *bus;
  Who *who;
  gchar *stream;
} Viewer;

static Viewer *
viewer_new_hp (const gchar * hp, const gchar * stream, Who * who)
{
  Viewer *v = g_new0 (Viewer, 1);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);

  fail_unless (e != NULL);
  g_object_set (e, "relay", hp, "stream", stream, "identity", who->key,
      "timeout", 10000, NULL);
  v->h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  v->bus = gst_bus_new ();
  gst_element_set_bus (v->h->element, v->bus);
  v->who = who;
  v->stream = g_strdup (stream);
  gst_harness_play (v->h);
  return v;
}

static Viewer *
viewer_new (DiodeRelay * relay, const gchar * stream, Who * who)
{
  gchar *hp = diode_relay_get_hostport (relay);
  Viewer *v = viewer_new_hp (hp, stream, who);

  g_free (hp);
  return v;
}

static void
viewer_free (Viewer * v)
{
  gst_harness_teardown (v->h);
  gst_object_unref (v->bus);
  g_free (v->stream);
  g_free (v);
}

/* Fails the test with the viewer's own error, if it has one. */
static void
viewer_check_no_error (Viewer * v)
{
  GstMessage *msg = gst_bus_pop_filtered (v->bus, GST_MESSAGE_ERROR);

  if (msg) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    fail ("%s watching '%s' got an error: %s", v->who->name, v->stream,
        err->message);
  }
}

/* The next buffer @v receives, within WAIT_MS, must be buffer @i. */
static void
viewer_pull (Viewer * v, guint i)
{
  gint64 end = deadline_in (WAIT_MS);
  GstBuffer *b;

  while (!(b = gst_harness_try_pull (v->h))) {
    viewer_check_no_error (v);
    fail_if (g_get_monotonic_time () > end, "%s watching '%s': buffer %u did "
        "not arrive within %u ms", v->who->name, v->stream, i, WAIT_MS);
    g_usleep (2 * 1000);
  }
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i);
  gst_buffer_unref (b);
}

/* @v must fail with NOT_AUTHORIZED naming the stream, its own address and
 * @why. */
static void
viewer_refused (Viewer * v, const gchar * why)
{
  gchar *quoted = g_strdup_printf ("'%s'", v->stream);
  const gchar *needles[] = { quoted, v->who->addr, why, NULL };
  gchar *what = g_strdup_printf ("%s watching '%s'", v->who->name,
      v->stream);

  check_error (gst_bus_timed_pop_filtered (v->bus, WAIT_MS * GST_MSECOND,
          GST_MESSAGE_ERROR), GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_NOT_AUTHORIZED, needles, what);
  g_free (quoted);
  g_free (what);
}

/* Refused before a byte of the stream: not one buffer, no caps. */
static void
viewer_refused_at_join (Viewer * v, const gchar * why)
{
  viewer_refused (v, why);
  fail_unless_equals_int (gst_harness_buffers_received (v->h), 0);
  fail_if (gst_pad_has_current_caps (v->h->sinkpad),
      "%s got the caps of '%s' although refused", v->who->name, v->stream);
}

/* @v (already counted by the relay as a viewer of its stream) gets buffer
 * @i when @pub pushes it. */
static void
watches (GstHarness * pub, Viewer * v, guint i)
{
  push (pub, i);
  viewer_pull (v, i);
}

/* ------------------------------------------------------------------------ */
/* raw TLS clients: hand-made frames, any certificate */

typedef enum
{
  READ_MSG,
  READ_CLOSED,
  READ_TIMEOUT,
} ReadResult;

typedef struct
{
  int fd;
  gnutls_session_t s;
  GByteArray *rx;
  DiodeIdentity *id;            /* when it uses a diode identity */
  gchar *peer;                  /* relay address learned in the handshake */
} Raw;

static Raw *
raw_connect_cred (guint16 port, gnutls_certificate_credentials_t cred)
{
  Raw *c = g_new0 (Raw, 1);
  struct sockaddr_in sa;
  gint64 end = deadline_in (WAIT_MS);
  int one = 1, ret;
  const gnutls_datum_t *certs;
  unsigned int n = 0;

  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  fail_unless (c->fd >= 0);
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
  memset (&sa, 0, sizeof (sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (connect (c->fd, (struct sockaddr *) &sa, sizeof (sa)) == 0,
      "connect: %s", g_strerror (errno));
  fail_unless (fcntl (c->fd, F_SETFL, fcntl (c->fd, F_GETFL) | O_NONBLOCK)
      == 0);

  diode_gnutls_ensure_init ();
  fail_unless (gnutls_init (&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
          GNUTLS_NO_SIGNAL) == 0);
  fail_unless (gnutls_priority_set_direct (c->s,
          "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL) == 0);
  fail_unless (gnutls_credentials_set (c->s, GNUTLS_CRD_CERTIFICATE,
          cred) == 0);
  gnutls_handshake_set_timeout (c->s, GNUTLS_INDEFINITE_TIMEOUT);
  gnutls_transport_set_int (c->s, c->fd);
  while ((ret = gnutls_handshake (c->s)) < 0) {
    fail_if (gnutls_error_is_fatal (ret), "TLS handshake: %s",
        gnutls_strerror (ret));
    fail_unless (wait_fd (c->fd, gnutls_record_get_direction (c->s) ?
            POLLOUT : POLLIN, end), "TLS handshake timed out");
  }
  certs = gnutls_certificate_get_peers (c->s, &n);
  fail_unless (certs != NULL && n > 0);
  c->peer = diode_address_from_der_cert (&certs[0], NULL);
  c->rx = g_byte_array_new ();
  return c;
}

/* A raw client with the identity of @who. */
static Raw *
raw_connect (DiodeRelay * relay, Who * who)
{
  GError *err = NULL;
  DiodeIdentity *id = diode_identity_load_or_create (who->key, &err);
  Raw *c;

  fail_unless (id != NULL);
  c = raw_connect_cred (diode_relay_get_port (relay),
      diode_identity_get_credentials (id));
  c->id = id;
  fail_unless_equals_string (c->peer, diode_relay_get_address (relay));
  return c;
}

static void
raw_free (Raw * c)
{
  gnutls_deinit (c->s);
  close (c->fd);
  if (c->id)
    diode_identity_unref (c->id);
  g_byte_array_unref (c->rx);
  g_free (c->peer);
  g_free (c);
}

static void
raw_send (Raw * c, GBytes * frame)
{
  gsize len, off = 0;
  const guint8 *data = g_bytes_get_data (frame, &len);
  gint64 end = deadline_in (WAIT_MS);

  while (off < len) {
    ssize_t n = gnutls_record_send (c->s, data + off, len - off);

    if (n > 0) {
      off += n;
    } else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      fail_unless (wait_fd (c->fd, POLLOUT, end), "send timed out");
    } else {
      fail ("send to relay failed: %s", gnutls_strerror ((int) n));
    }
  }
  g_bytes_unref (frame);
}

static ReadResult
raw_fill (Raw * c, gsize want, gint64 end)
{
  while (c->rx->len < want) {
    guint8 buf[16384];
    ssize_t n;

    if (gnutls_record_check_pending (c->s) == 0 && !wait_fd (c->fd, POLLIN,
            end))
      return READ_TIMEOUT;
    n = gnutls_record_recv (c->s, buf, MIN (sizeof (buf), want - c->rx->len));
    if (n > 0)
      g_byte_array_append (c->rx, buf, n);
    else if (n == 0 || gnutls_error_is_fatal ((int) n))
      return READ_CLOSED;
  }
  return READ_MSG;
}

static void raw_send (Raw * c, GBytes * frame);

/* The next message other than PING/PONG (keepalive: PINGs are answered). */
static ReadResult
raw_read (Raw * c, DiodeMsg * m, guint timeout_ms)
{
  gint64 end = deadline_in (timeout_ms);

  for (;;) {
    ReadResult res;
    gsize plen = 0;
    GBytes *frame;
    GError *err = NULL;

    res = raw_fill (c, DIODE_FRAME_HEADER_SIZE, end);
    if (res != READ_MSG)
      return res;
    fail_unless (diode_msg_check_header (c->rx->data, &plen, &err),
        "bad frame header from the relay: %s", err ? err->message : "?");
    res = raw_fill (c, DIODE_FRAME_HEADER_SIZE + plen, end);
    if (res != READ_MSG)
      return res;
    frame = g_bytes_new (c->rx->data, DIODE_FRAME_HEADER_SIZE + plen);
    g_byte_array_remove_range (c->rx, 0, DIODE_FRAME_HEADER_SIZE + plen);
    fail_unless (diode_msg_parse (frame, m, &err), "malformed frame: %s",
        err ? err->message : "?");
    g_bytes_unref (frame);
    if (m->type == DIODE_MSG_PING) {
      raw_send (c, diode_msg_encode_pong (m->token));
    } else if (m->type != DIODE_MSG_PONG) {
      return READ_MSG;
    }
    diode_msg_clear (m);
  }
}

static void
raw_expect (Raw * c, DiodeMsgType type, DiodeMsg * m, const gchar * what)
{
  ReadResult res = raw_read (c, m, WAIT_MS);

  fail_unless (res == READ_MSG, "%s: expected %s, but the relay %s", what,
      diode_msg_type_name (type), res == READ_CLOSED ? "closed" :
      "sent nothing");
  fail_unless (m->type == type, "%s: expected %s, got %s (%u %s)", what,
      diode_msg_type_name (type), diode_msg_type_name (m->type),
      m->error_code, m->error_text ? m->error_text : "");
}

static void
raw_hello (Raw * c, DiodeRole role)
{
  DiodeMsg m = { 0 };

  /* a relay link needs version 2 (issue 9); its SUBSCRIBE_OK then carries
   * the policy and path after the version-1 fields, which this reader
   * ignores */
  raw_send (c, diode_msg_encode_hello (1, role == DIODE_ROLE_RELAY ? 2 : 1,
          role, "access-test/0"));
  raw_expect (c, DIODE_MSG_WELCOME, &m, "HELLO");
  diode_msg_clear (&m);
}

/* The next message is ERROR @code whose text holds every needle; nothing
 * (no SUBSCRIBE_OK, CAPS or MEDIA) came before it. */
static void
raw_expect_error (Raw * c, guint code, const gchar * what, ...)
{
  DiodeMsg m = { 0 };
  const gchar *n;
  va_list ap;

  raw_expect (c, DIODE_MSG_ERROR, &m, what);
  GST_INFO ("%s: ERROR %u: %s", what, m.error_code, m.error_text);
  fail_unless_equals_int (m.error_code, code);
  va_start (ap, what);
  while ((n = va_arg (ap, const gchar *)))
    fail_unless (strstr (m.error_text, n) != NULL, "%s: '%s' does not say "
        "'%s'", what, m.error_text, n);
  va_end (ap);
  diode_msg_clear (&m);
}

/* For @ms nothing arrives, and the connection stays open. */
static void
raw_expect_silence (Raw * c, guint ms, const gchar * what)
{
  DiodeMsg m = { 0 };
  ReadResult res = raw_read (c, &m, ms);

  fail_unless (res == READ_TIMEOUT, "%s: relay %s", what,
      res == READ_CLOSED ? "closed the connection" : "sent a message");
  if (res == READ_MSG) {
    fail ("%s: relay sent %s", what, diode_msg_type_name (m.type));
    diode_msg_clear (&m);
  }
}

/* ------------------------------------------------------------------------ */
/* 1. public: any authenticated identity may watch */

GST_START_TEST (test_public_any_identity_watches)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstElement *e = sink_for (relay, "open", &alice);
  GstHarness *pub;
  Viewer *vb, *vc;
  gint access = -1;

  /* public is the default */
  g_object_get (e, "access", &access, NULL);
  fail_unless_equals_int (access, ACCESS_PUBLIC);
  pub = publish (relay, e, "open");
  vb = viewer_new (relay, "open", &bob);
  vc = viewer_new (relay, "open", &carol);
  fail_unless (fixture_wait_viewers (relay, "open", 2, WAIT_MS));
  push (pub, 0);
  viewer_pull (vb, 0);
  viewer_pull (vc, 0);

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. protected: members of the publisher's fleet (relay config) may watch */

GST_START_TEST (test_protected_fleet_members_only)
{
  gchar *text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  gchar *conf = write_temp ("protected.conf", text);
  DiodeRelay *relay = relay_start (conf, 0);
  GstElement *e = sink_for (relay, "hq", &alice);
  GstHarness *pub;
  Viewer *vb, *vc;

  g_object_set (e, "access", ACCESS_PROTECTED, "fleet", "office", NULL);
  pub = publish (relay, e, "hq");

  /* a member watches */
  vb = viewer_new (relay, "hq", &bob);
  fail_unless (fixture_wait_viewers (relay, "hq", 1, WAIT_MS));
  watches (pub, vb, 0);
  /* a non-member is refused, with the fleet's name */
  vc = viewer_new (relay, "hq", &carol);
  viewer_refused_at_join (vc, "is not in fleet 'office'");
  fail_unless_equals_int (diode_relay_count_viewers (relay, "hq"), 1);
  watches (pub, vb, 1);

  /* protected without a fleet is a local mistake, caught before connecting */
  e = sink_for (relay, "nofleet", &alice);
  g_object_set (e, "access", ACCESS_PROTECTED, NULL);
  start_fails_locally (e, "protected without fleet", "needs a fleet", NULL);

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* A fleet the relay does not know: refused with its own reason (and, like
 * every refusal, the stream and the viewer's address), even for bob, who is
 * a member of another fleet. */
GST_START_TEST (test_protected_unconfigured_fleet)
{
  gchar *text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  gchar *conf = write_temp ("unconfigured.conf", text);
  DiodeRelay *relay = relay_start (conf, 0);
  GstElement *e = sink_for (relay, "lab", &alice);
  GstHarness *pub;
  Viewer *vb;

  g_object_set (e, "access", ACCESS_PROTECTED, "fleet", "nowhere", NULL);
  pub = publish (relay, e, "lab");
  vb = viewer_new (relay, "lab", &bob);
  viewer_refused_at_join (vb, "fleet 'nowhere', which is not configured on "
      "this relay");

  viewer_free (vb);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. private: the allowlist, and the publisher itself */

GST_START_TEST (test_private_allowlist)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstElement *e = sink_for (relay, "secret", &alice);
  GstHarness *pub, *pub2;
  Viewer *vc, *vb, *va, *vd, *vb2;
  gchar *list, *good, *bad;

  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub = publish (relay, e, "secret");

  vc = viewer_new (relay, "secret", &carol);
  fail_unless (fixture_wait_viewers (relay, "secret", 1, WAIT_MS));
  watches (pub, vc, 0);
  vb = viewer_new (relay, "secret", &bob);
  viewer_refused_at_join (vb, "is not on its allowlist");
  /* the publisher's own identity may watch its private stream */
  va = viewer_new (relay, "secret", &alice);
  fail_unless (fixture_wait_viewers (relay, "secret", 2, WAIT_MS));
  viewer_pull (va, 0);          /* joins at the newest keyframe */
  push (pub, 1);
  viewer_pull (vc, 1);
  viewer_pull (va, 1);

  /* allow as a file: comments, blank lines, several per line */
  list = g_strdup_printf ("# who may watch 'secret-file'\n\n%s, %s  # dave "
      "and carol\n", dave.addr, carol.addr);
  good = write_temp ("allow-good.txt", list);
  e = sink_for (relay, "secret-file", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", good, NULL);
  pub2 = publish (relay, e, "secret-file");
  vd = viewer_new (relay, "secret-file", &dave);
  fail_unless (fixture_wait_viewers (relay, "secret-file", 1, WAIT_MS));
  watches (pub2, vd, 0);
  vb2 = viewer_new (relay, "secret-file", &bob);
  viewer_refused_at_join (vb2, "is not on its allowlist");

  /* a malformed allow file: a clear SETTINGS error at start, naming the
   * file and line, and nothing published */
  g_free (list);
  list = g_strdup_printf ("%s\n0xnot-an-address\n", dave.addr);
  bad = write_temp ("allow-bad.txt", list);
  e = sink_for (relay, "secret-bad", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", bad, NULL);
  start_fails_locally (e, "malformed allow file", "allow-bad.txt:2",
      "is not an address", NULL);
  fail_if (diode_relay_has_publisher (relay, "secret-bad"));
  /* neither a list nor a file */
  e = sink_for (relay, "secret-bad", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", "/nonexistent/allow",
      NULL);
  start_fails_locally (e, "missing allow file", "neither a list of "
      "addresses", NULL);

  viewer_free (vc);
  viewer_free (vb);
  viewer_free (va);
  viewer_free (vd);
  viewer_free (vb2);
  gst_harness_teardown (pub);
  gst_harness_teardown (pub2);
  g_object_unref (relay);
  g_free (list);
  g_free (good);
  g_free (bad);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. the same policy from a diode:// URI */

GST_START_TEST (test_uri_policy)
{
  gchar *text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  gchar *conf = write_temp ("uri.conf", text);
  DiodeRelay *relay = relay_start (conf, 0);
  guint port = diode_relay_get_port (relay);
  gchar *uri = g_strdup_printf ("diode://127.0.0.1:%u/uri-cam?access=private"
      "&allow=%s", port, carol.addr);
  GError *err = NULL;
  GstElement *e = gst_element_make_from_uri (GST_URI_SINK, uri, NULL, &err);
  GstHarness *pub, *pub2;
  Viewer *vc, *vb, *vb2, *vc2;
  gint access = -1;
  gchar *allow = NULL, *fleet = NULL;

  fail_unless (e != NULL, "%s: %s", uri, err ? err->message : "?");
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (e), "GstDiodeSink");
  g_object_get (e, "access", &access, "allow", &allow, NULL);
  fail_unless_equals_int (access, ACCESS_PRIVATE);
  fail_unless_equals_string (allow, carol.addr);
  g_object_set (e, "identity", alice.key, "timeout", WAIT_MS, NULL);
  pub = publish (relay, e, "uri-cam");
  vc = viewer_new (relay, "uri-cam", &carol);
  fail_unless (fixture_wait_viewers (relay, "uri-cam", 1, WAIT_MS));
  watches (pub, vc, 0);
  vb = viewer_new (relay, "uri-cam", &bob);
  viewer_refused_at_join (vb, "is not on its allowlist");

  /* the uri property, with a fleet */
  g_free (uri);
  uri = g_strdup_printf ("diode://127.0.0.1:%u/uri-fleet?access=protected"
      "&fleet=office", port);
  e = gst_element_factory_make ("diodesink", NULL);
  g_object_set (e, "identity", alice.key, "timeout", WAIT_MS, "uri", uri,
      NULL);
  g_object_get (e, "access", &access, "fleet", &fleet, NULL);
  fail_unless_equals_int (access, ACCESS_PROTECTED);
  fail_unless_equals_string (fleet, "office");
  pub2 = publish (relay, e, "uri-fleet");
  vb2 = viewer_new (relay, "uri-fleet", &bob);
  fail_unless (fixture_wait_viewers (relay, "uri-fleet", 1, WAIT_MS));
  watches (pub2, vb2, 0);
  vc2 = viewer_new (relay, "uri-fleet", &carol);
  viewer_refused_at_join (vc2, "is not in fleet 'office'");

  /* a bad access value in the URI is refused */
  e = gst_element_make_from_uri (GST_URI_SINK, "diode://127.0.0.1/x?access="
      "secret", NULL, &err);
  fail_unless (e == NULL && err != NULL);
  fail_unless (strstr (err->message, "public, protected or private"));
  g_clear_error (&err);

  viewer_free (vc);
  viewer_free (vb);
  viewer_free (vb2);
  viewer_free (vc2);
  gst_harness_teardown (pub);
  gst_harness_teardown (pub2);
  g_object_unref (relay);
  g_free (uri);
  g_free (allow);
  g_free (fleet);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 5. a subscriber waiting for a stream is judged when the stream appears */

GST_START_TEST (test_waiting_subscriber_checked_on_publish)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  Viewer *vb = viewer_new (relay, "later", &bob);
  Viewer *vc = viewer_new (relay, "later", &carol);
  Raw *raw = raw_connect (relay, &bob);
  GstElement *e;
  GstHarness *pub;

  raw_hello (raw, DIODE_ROLE_VIEWER);
  raw_send (raw, diode_msg_encode_subscribe ("later", 0, WAIT_MS));
  fail_unless (fixture_wait_waiting (relay, "later", 3, WAIT_MS),
      "the three subscribers are not all waiting");

  e = sink_for (relay, "later", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub = publish (relay, e, "later");
  /* the allowed one joins and gets the stream */
  fail_unless (fixture_wait_viewers (relay, "later", 1, WAIT_MS));
  watches (pub, vc, 0);
  push (pub, 1);
  viewer_pull (vc, 1);
  /* the others were refused when it appeared, before any byte of it */
  viewer_refused_at_join (vb, "is not on its allowlist");
  raw_expect_error (raw, DIODE_ERR_NOT_AUTHORIZED, "raw waiting viewer",
      "'later'", bob.addr, "is not on its allowlist", NULL);
  raw_expect_silence (raw, QUIET_MS, "raw waiting viewer after refusal");
  fail_unless_equals_int (diode_relay_count_viewers (relay, "later"), 1);
  fail_unless_equals_int (diode_relay_count_waiting (relay, "later"), 0);

  raw_free (raw);
  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 6. changing allow/access on a playing diodesink cuts off at once */

GST_START_TEST (test_live_policy_change_cuts_off)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstHarness *pub = publish (relay, sink_for (relay, "live", &alice), "live");
  Viewer *vb = viewer_new (relay, "live", &bob);
  Viewer *vc = viewer_new (relay, "live", &carol);

  fail_unless (fixture_wait_viewers (relay, "live", 2, WAIT_MS));
  push (pub, 0);
  viewer_pull (vb, 0);
  viewer_pull (vc, 0);

  /* allow first (still public: nobody affected), then access */
  g_object_set (pub->element, "allow", carol.addr, NULL);
  push (pub, 1);
  viewer_pull (vb, 1);
  viewer_pull (vc, 1);
  g_object_set (pub->element, "access", ACCESS_PRIVATE, NULL);
  viewer_refused (vb, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, "live", 1, WAIT_MS));
  /* carol, still allowed, goes on receiving */
  push (pub, 2);
  viewer_pull (vc, 2);
  viewer_check_no_error (vc);
  fail_unless_equals_int (gst_harness_buffers_received (vb->h), 2);

  /* and a change of allow alone: carol is cut off in turn */
  g_object_set (pub->element, "allow", dave.addr, NULL);
  viewer_refused (vc, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, "live", 0, WAIT_MS));
  push (pub, 3);
  g_usleep (QUIET_MS * 1000);
  fail_unless_equals_int (gst_harness_buffers_received (vc->h), 3);

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
}

GST_END_TEST;

/* One g_object_set() that makes a public stream private with carol on the
 * list: carol is allowed before and after, so she must never be cut off. */
GST_START_TEST (test_live_policy_change_is_atomic)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstHarness *pub = publish (relay, sink_for (relay, "atomic", &alice),
      "atomic");
  Viewer *vc = viewer_new (relay, "atomic", &carol);

  fail_unless (fixture_wait_viewers (relay, "atomic", 1, WAIT_MS));
  watches (pub, vc, 0);
  g_object_set (pub->element, "access", ACCESS_PRIVATE, "allow", carol.addr,
      NULL);
  push (pub, 1);
  viewer_pull (vc, 1);
  g_usleep (QUIET_MS * 1000);
  viewer_check_no_error (vc);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "atomic"), 1);

  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
}

GST_END_TEST;

/* A viewer attached to an earlier, public run of a name is judged again
 * when the same publisher comes back with a private policy. */
GST_START_TEST (test_republish_rechecks_attached_viewers)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstHarness *pub = publish (relay, sink_for (relay, "again", &alice),
      "again");
  Viewer *vb = viewer_new (relay, "again", &bob);
  GstElement *e;

  fail_unless (fixture_wait_viewers (relay, "again", 1, WAIT_MS));
  watches (pub, vb, 0);
  /* the publisher drops without EOS: bob stays for the grace period */
  gst_harness_teardown (pub);
  fail_unless (fixture_wait_publisher (relay, "again", FALSE, WAIT_MS));
  fail_unless_equals_int (diode_relay_count_viewers (relay, "again"), 1);

  e = sink_for (relay, "again", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub = publish (relay, e, "again");
  viewer_refused (vb, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, "again", 0, WAIT_MS));
  push (pub, 1);
  g_usleep (QUIET_MS * 1000);
  fail_unless_equals_int (gst_harness_buffers_received (vb->h), 1);

  viewer_free (vb);
  gst_harness_teardown (pub);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 7. fleet changes take effect on reload */

GST_START_TEST (test_fleet_reload)
{
  gchar *text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  gchar *conf = write_temp ("reload.conf", text);
  DiodeRelay *relay = relay_start (conf, 0);
  GstElement *e = sink_for (relay, "hq", &alice);
  GstHarness *pub;
  Viewer *vb, *vc, *vc2;
  GError *err = NULL;

  g_object_set (e, "access", ACCESS_PROTECTED, "fleet", "office", NULL);
  pub = publish (relay, e, "hq");
  vb = viewer_new (relay, "hq", &bob);
  fail_unless (fixture_wait_viewers (relay, "hq", 1, WAIT_MS));
  watches (pub, vb, 0);
  vc = viewer_new (relay, "hq", &carol);
  viewer_refused_at_join (vc, "is not in fleet 'office'");

  /* a broken file changes nothing */
  g_free (text);
  text = g_strdup_printf ("[fleet office]\nmembers=%s;0x1234\n", carol.addr);
  g_free (write_temp ("reload.conf", text));
  fail_if (diode_relay_reload_config (relay, &err));
  fail_unless (err != NULL && strstr (err->message, "'0x1234' is not an "
          "address"), "%s", err ? err->message : "no error");
  g_clear_error (&err);
  watches (pub, vb, 1);

  /* the operator moves bob out and carol in */
  g_free (text);
  text = g_strdup_printf ("# office, after the move\n[fleet office]\n"
      "members=%s\n", carol.addr);
  g_free (write_temp ("reload.conf", text));
  fail_unless (diode_relay_reload_config (relay, &err), "%s",
      err ? err->message : "?");
  viewer_refused (vb, "is not in fleet 'office'");
  fail_unless (fixture_wait_viewers (relay, "hq", 0, WAIT_MS));
  vc2 = viewer_new (relay, "hq", &carol);
  fail_unless (fixture_wait_viewers (relay, "hq", 1, WAIT_MS));
  viewer_pull (vc2, 1);         /* joins at the newest keyframe */
  watches (pub, vc2, 2);
  fail_unless_equals_int (gst_harness_buffers_received (vb->h), 2);

  viewer_free (vb);
  viewer_free (vc);
  viewer_free (vc2);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* The diode-relay daemon reloads its --config on SIGHUP. */

/* Push buffers until @v gets one (the daemon has no viewer counter). */
static guint
pump_until_watching (GstHarness * pub, Viewer * v, guint i)
{
  gint64 end = deadline_in (WAIT_MS);

  for (;; i++) {
    gint64 step = deadline_in (100);
    GstBuffer *b = NULL;

    push (pub, i);
    while (!(b = gst_harness_try_pull (v->h))
        && g_get_monotonic_time () < step)
      g_usleep (2 * 1000);
    if (b) {
      gst_buffer_unref (b);
      return i + 1;
    }
    viewer_check_no_error (v);
    fail_if (g_get_monotonic_time () > end, "%s never got '%s'",
        v->who->name, v->stream);
  }
}

GST_START_TEST (test_sighup_reloads_config)
{
  gchar *text = g_strdup_printf ("[fleet office]\nmembers=%s\n", bob.addr);
  gchar *conf = write_temp ("sighup.conf", text);
  const gchar *args[] = { "--config", conf, NULL };
  FixtureRelayProc *rp = fixture_relay_proc_start (DIODE_RELAY_PATH, args);
  gchar *hp = g_strdup_printf ("127.0.0.1:%u", rp->port);
  GstElement *e;
  GstHarness *pub;
  Viewer *vb, *vc;
  guint i;

  e = sink_new (hp, "hq", &alice);
  g_object_set (e, "access", ACCESS_PROTECTED, "fleet", "office", NULL);
  pub = publish_element (e);
  vb = viewer_new_hp (hp, "hq", &bob);
  i = pump_until_watching (pub, vb, 0);

  g_free (text);
  text = g_strdup_printf ("[fleet office]\nmembers=%s\n", carol.addr);
  g_free (write_temp ("sighup.conf", text));
  fail_unless (kill (rp->pid, SIGHUP) == 0);
  viewer_refused (vb, "is not in fleet 'office'");
  vc = viewer_new_hp (hp, "hq", &carol);
  pump_until_watching (pub, vc, i);

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  fail_unless (fixture_relay_proc_stop (rp), "diode-relay did not exit "
      "cleanly (status 0) on SIGTERM");
  g_free (hp);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 8. name ownership: only its owner may publish a name, while it publishes
 * and for name-grace after */

#define NAME_GRACE_MS 2000

GST_START_TEST (test_name_ownership)
{
  DiodeRelay *relay = relay_start (NULL, NAME_GRACE_MS);
  GstHarness *owner = publish (relay, sink_for (relay, "cam", &alice), "cam");
  GstHarness *restarted, *taker;
  gint64 stopped;

  /* another identity while the owner streams */
  publish_refused (sink_for (relay, "cam", &bob), "hijack while streaming",
      "name 'cam' is owned by", alice.addr, NULL);
  fail_unless (diode_relay_has_publisher (relay, "cam"));
  push (owner, 0);

  /* the owner stops (no EOS: a camera losing its link) */
  gst_harness_teardown (owner);
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, WAIT_MS));
  stopped = g_get_monotonic_time ();
  publish_refused (sink_for (relay, "cam", &bob), "hijack during grace",
      "name 'cam' is owned by", alice.addr, "stays reserved", NULL);
  fail_if (diode_relay_has_publisher (relay, "cam"));

  /* the owner's restart during the grace period is accepted */
  restarted = publish (relay, sink_for (relay, "cam", &alice), "cam");
  fail_unless ((g_get_monotonic_time () - stopped) / 1000 < NAME_GRACE_MS,
      "too slow: the grace period ran out before the checks (test invalid)");
  push (restarted, 1);

  /* and after it stops, once the grace has run out, the name is free */
  gst_harness_teardown (restarted);
  fail_unless (fixture_wait_publisher (relay, "cam", FALSE, WAIT_MS));
  g_usleep ((NAME_GRACE_MS + 300) * 1000);
  taker = publish (relay, sink_for (relay, "cam", &bob), "cam");
  push (taker, 2);
  /* now bob owns it */
  publish_refused (sink_for (relay, "cam", &alice), "old owner",
      "name 'cam' is owned by", bob.addr, NULL);

  gst_harness_teardown (taker);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 9. the operator's reserved names and publisher list, and the log */

static GMutex log_lock;
static GString *log_text;

static void
capture_log (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  g_mutex_lock (&log_lock);
  g_string_append_printf (log_text, "%s\n", message);
  g_mutex_unlock (&log_lock);
  g_log_default_handler (domain, level, message, user_data);
}

static gboolean
log_has (const gchar * needle)
{
  gboolean found;

  g_mutex_lock (&log_lock);
  found = strstr (log_text->str, needle) != NULL;
  g_mutex_unlock (&log_lock);
  return found;
}

GST_START_TEST (test_operator_names_and_publishers)
{
  gchar *text = g_strdup_printf ("[names]\ndoor=%s\n\n[publishers]\n"
      "allow=%s;%s\n", alice.addr, alice.addr, bob.addr);
  gchar *conf = write_temp ("operator.conf", text);
  DiodeRelay *relay;
  GstHarness *door, *other;
  gchar *logged;
  guint handler;

  log_text = g_string_new (NULL);
  handler = g_log_set_handler ("diode-relay", G_LOG_LEVEL_MESSAGE,
      capture_log, NULL);
  relay = relay_start (conf, 0);

  /* a reserved name: anyone else is refused, on the list or not... */
  publish_refused (sink_for (relay, "door", &bob), "reserved name",
      "name 'door' is reserved for", alice.addr, NULL);
  /* ...its identity is accepted */
  door = publish (relay, sink_for (relay, "door", &alice), "door");
  /* the publisher list: bob may publish a free name, carol may not */
  other = publish (relay, sink_for (relay, "other", &bob), "other");
  publish_refused (sink_for (relay, "carols", &carol), "not a publisher",
      carol.addr, "may not publish on this relay", NULL);
  fail_if (diode_relay_has_publisher (relay, "carols"));

  /* every refusal is logged with the address */
  logged = g_strdup_printf ("refused publisher %s", carol.addr);
  fail_unless (log_has (logged), "relay log lacks '%s'", logged);
  g_free (logged);
  logged = g_strdup_printf ("refused publisher %s", bob.addr);
  fail_unless (log_has (logged), "relay log lacks '%s'", logged);
  g_free (logged);

  gst_harness_teardown (door);
  gst_harness_teardown (other);
  g_object_unref (relay);
  g_log_remove_handler ("diode-relay", handler);
  g_string_free (log_text, TRUE);
  g_free (conf);
  g_free (text);
}

GST_END_TEST;

/* A refused viewer is logged with its address too. */
GST_START_TEST (test_viewer_refusal_logged)
{
  DiodeRelay *relay;
  GstElement *e;
  GstHarness *pub;
  Viewer *vb;
  gchar *logged;
  guint handler;

  log_text = g_string_new (NULL);
  handler = g_log_set_handler ("diode-relay", G_LOG_LEVEL_MESSAGE,
      capture_log, NULL);
  relay = relay_start (NULL, 0);
  e = sink_for (relay, "logged", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub = publish (relay, e, "logged");
  vb = viewer_new (relay, "logged", &bob);
  viewer_refused_at_join (vb, "is not on its allowlist");
  logged = g_strdup_printf ("refused viewer %s", bob.addr);
  fail_unless (log_has (logged), "relay log lacks '%s'", logged);

  g_free (logged);
  viewer_free (vb);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_log_remove_handler ("diode-relay", handler);
  g_string_free (log_text, TRUE);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 10. certificates */

/* TLS credentials for a fresh Ed25519 key with a self-signed certificate
 * valid from now + @from_s to now + @until_s; its address in *address. */
static gnutls_certificate_credentials_t
make_credentials (gint64 from_s, gint64 until_s, gchar ** address)
{
  gnutls_x509_privkey_t key;
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  gnutls_x509_crt_t crt;
  gnutls_certificate_credentials_t cred;
  gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
  guint8 serial[8] = { 0x11, 2, 3, 4, 5, 6, 7, 8 };
  time_t now = time (NULL);

  diode_gnutls_ensure_init ();
  fail_unless (gnutls_x509_privkey_init (&key) == 0);
  fail_unless (gnutls_x509_privkey_generate (key, GNUTLS_PK_EDDSA_ED25519,
          256, 0) == 0);
  fail_unless (gnutls_privkey_init (&priv) == 0);
  fail_unless (gnutls_privkey_import_x509 (priv, key, 0) == 0);
  fail_unless (gnutls_pubkey_init (&pub) == 0);
  fail_unless (gnutls_pubkey_import_privkey (pub, priv, 0, 0) == 0);
  *address = diode_address_from_pubkey (pub, NULL);
  fail_unless (*address != NULL);
  fail_unless (gnutls_x509_crt_init (&crt) == 0);
  fail_unless (gnutls_x509_crt_set_version (crt, 3) == 0);
  fail_unless (gnutls_x509_crt_set_dn_by_oid (crt,
          GNUTLS_OID_X520_COMMON_NAME, 0, "test", 4) == 0);
  fail_unless (gnutls_x509_crt_set_key (crt, key) == 0);
  fail_unless (gnutls_x509_crt_set_serial (crt, serial, sizeof serial) == 0);
  fail_unless (gnutls_x509_crt_set_activation_time (crt, now + from_s) == 0);
  fail_unless (gnutls_x509_crt_set_expiration_time (crt, now + until_s) == 0);
  fail_unless (gnutls_x509_crt_set_key_usage (crt,
          GNUTLS_KEY_DIGITAL_SIGNATURE) == 0);
  fail_unless (gnutls_pubkey_get_preferred_hash_algorithm (pub, &dig,
          NULL) >= 0);
  fail_unless (gnutls_x509_crt_privkey_sign (crt, crt, priv, dig, 0) == 0);
  fail_unless (gnutls_certificate_allocate_credentials (&cred) == 0);
  fail_unless (gnutls_certificate_set_x509_key (cred, &crt, 1, key) == 0);
  gnutls_x509_crt_deinit (crt);
  gnutls_pubkey_deinit (pub);
  gnutls_privkey_deinit (priv);
  gnutls_x509_privkey_deinit (key);
  return cred;
}

/* A client whose certificate is out of its validity period: the relay
 * sends ERROR 102 with @reason and the client's address, then closes; it
 * never answers HELLO. */
static void
bad_certificate_refused (DiodeRelay * relay, gint64 from_s, gint64 until_s,
    const gchar * reason)
{
  gchar *addr = NULL;
  gnutls_certificate_credentials_t cred = make_credentials (from_s, until_s,
      &addr);
  Raw *c = raw_connect_cred (diode_relay_get_port (relay), cred);
  DiodeMsg m = { 0 };

  /* say HELLO anyway: it must not be answered with WELCOME */
  raw_send (c, diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "x"));
  raw_expect_error (c, DIODE_ERR_NOT_AUTHORIZED, reason, addr, reason, NULL);
  fail_unless (raw_read (c, &m, WAIT_MS) == READ_CLOSED,
      "%s: the relay did not close after refusing", reason);
  raw_free (c);
  gnutls_certificate_free_credentials (cred);
  g_free (addr);
}

GST_START_TEST (test_certificate_validity)
{
  DiodeRelay *relay = relay_start (NULL, 0);

  bad_certificate_refused (relay, -10 * 86400, -86400, "expired on");
  bad_certificate_refused (relay, 86400, 10 * 86400, "is not valid before");
  g_object_unref (relay);
}

GST_END_TEST;

/* A relay whose key is not the one pinned with relay-id: refused after the
 * handshake, naming both addresses. (The trust-on-first-use case, a key
 * changed against known-relays, is test_relay_key_changed in
 * test-elements.c.) */
GST_START_TEST (test_pinned_relay_mismatch)
{
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  gchar *other = g_build_filename (fixture_config_dir (), "impostor.pem",
      NULL);
  DiodeIdentity *real = diode_identity_load_or_create (key, NULL);
  DiodeRelay *impostor = diode_relay_new ("127.0.0.1:0", other);
  gchar *hp;
  const gchar *factories[] = { "diodesink", "diodesrc" };
  guint k;

  fail_unless (real != NULL);
  fail_unless (diode_relay_start (impostor, NULL));
  hp = diode_relay_get_hostport (impostor);
  for (k = 0; k < G_N_ELEMENTS (factories); k++) {
    GstElement *e = gst_element_factory_make (factories[k], NULL);
    const gchar *needles[] = { diode_relay_get_address (impostor),
      diode_identity_get_address (real), "relay-id requires", NULL
    };

    g_object_set (e, "relay", hp, "stream", "pinned", "identity", bob.key,
        "relay-id", diode_identity_get_address (real), "timeout", WAIT_MS,
        NULL);
    check_error (fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS),
        GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED, needles,
        factories[k]);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_object_unref (e);
  }
  /* nothing was asked of it */
  fail_if (diode_relay_has_publisher (impostor, "pinned"));
  fail_unless_equals_int (diode_relay_count_waiting (impostor, "pinned"), 0);

  diode_identity_unref (real);
  g_object_unref (impostor);
  g_free (hp);
  g_free (key);
  g_free (other);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 11. however the request is made: raw clients, role RELAY, resume, wait */

GST_START_TEST (test_private_raw_requests)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstElement *e = sink_for (relay, "vault", &alice);
  GstHarness *pub, *pub2;
  Raw *c;
  DiodeMsg m = { 0 };
  guint i;
  struct
  {
    DiodeRole role;
    guint64 start_seq;
    guint32 wait_ms;
  } asks[] = {
    {DIODE_ROLE_RELAY, 1, WAIT_MS},
    {DIODE_ROLE_RELAY, 0, 0},
    {DIODE_ROLE_RELAY, 3, 0},
    {DIODE_ROLE_VIEWER, 2, WAIT_MS},
  };

  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub = publish (relay, e, "vault");
  for (i = 0; i < 5; i++)
    push (pub, i);
  fail_unless (fixture_wait_last_seq (relay, "vault", 5, WAIT_MS));

  /* the control: carol, allowed, gets the stream this way */
  c = raw_connect (relay, &carol);
  raw_hello (c, DIODE_ROLE_RELAY);
  raw_send (c, diode_msg_encode_subscribe ("vault", 1, WAIT_MS));
  raw_expect (c, DIODE_MSG_SUBSCRIBE_OK, &m, "carol as RELAY");
  fail_unless_equals_uint64 (m.seq, 1);
  diode_msg_clear (&m);
  /* (CAPS may come first; the stream's MEDIA from seq 1 comes) */
  do {
    diode_msg_clear (&m);
    fail_unless (raw_read (c, &m, WAIT_MS) == READ_MSG,
        "carol as RELAY: no MEDIA");
  } while (m.type == DIODE_MSG_CAPS);
  fail_unless_equals_string (diode_msg_type_name (m.type), "MEDIA");
  fail_unless_equals_uint64 (m.seq, 1);
  diode_msg_clear (&m);
  raw_free (c);

  /* bob, however he asks, and asking again on the same connection */
  for (i = 0; i < G_N_ELEMENTS (asks); i++) {
    if (i == 0 || asks[i].role != asks[i - 1].role) {
      if (i)
        raw_free (c);
      c = raw_connect (relay, &bob);
      raw_hello (c, asks[i].role);
    }
    raw_send (c, diode_msg_encode_subscribe ("vault", asks[i].start_seq,
            asks[i].wait_ms));
    raw_expect_error (c, DIODE_ERR_NOT_AUTHORIZED, "bob", "'vault'",
        bob.addr, "is not on its allowlist", NULL);
  }
  push (pub, 5);
  raw_expect_silence (c, QUIET_MS, "bob after refusals");
  raw_free (c);

  /* as RELAY, resuming, waiting for a name not yet published */
  c = raw_connect (relay, &bob);
  raw_hello (c, DIODE_ROLE_RELAY);
  raw_send (c, diode_msg_encode_subscribe ("vault2", 1, WAIT_MS));
  fail_unless (fixture_wait_waiting (relay, "vault2", 1, WAIT_MS));
  e = sink_for (relay, "vault2", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", carol.addr, NULL);
  pub2 = publish (relay, e, "vault2");
  push (pub2, 0);
  push (pub2, 1);
  raw_expect_error (c, DIODE_ERR_NOT_AUTHORIZED, "bob waiting as RELAY",
      "'vault2'", bob.addr, "is not on its allowlist", NULL);
  raw_expect_silence (c, QUIET_MS, "bob waiting as RELAY after refusal");
  fail_unless_equals_int (diode_relay_count_viewers (relay, "vault2"), 0);
  raw_free (c);

  gst_harness_teardown (pub);
  gst_harness_teardown (pub2);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* The allowlist limit (DIODE_MAX_ALLOW addresses) is a clear SETTINGS
 * error, given as a list as well as a file, at start (and while playing:
 * test_live_allowlist_over_limit_fails_closed). */

static gchar *
many_addresses (guint n)
{
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < n; i++)
    g_string_append_printf (s, "%s0x%040x", i ? "," : "", i + 1);
  return g_string_free (s, FALSE);
}

GST_START_TEST (test_allowlist_limit)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  gchar *too_many = many_addresses (DIODE_MAX_ALLOW + 1);
  gchar *file = write_temp ("allow-many.txt", too_many);
  GstElement *e;

  /* a file of too many */
  e = sink_for (relay, "many", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", file, NULL);
  start_fails_locally (e, "file of too many", "at most 2048", NULL);
  /* a list of too many */
  e = sink_for (relay, "many", &alice);
  g_object_set (e, "access", ACCESS_PRIVATE, "allow", too_many, NULL);
  start_fails_locally (e, "list of too many", "at most 2048", NULL);

  g_object_unref (relay);
  g_free (file);
  g_free (too_many);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 10. access control fails closed (docs/decisions.md): a live change the
 * sink cannot apply closes the stream to everyone but the publisher, posts
 * an error and stops publishing; the properties read what the relay
 * enforces. */

/* A public stream "@stream" that bob watches gets the change in the
 * NULL-terminated property list; the error must say @needle. */
static void
invalid_live_change (const gchar * stream, const gchar * needle,
    const gchar * first_prop, ...)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstHarness *pub = publish (relay, sink_for (relay, stream, &alice), stream);
  GstBus *bus = gst_bus_new ();
  const gchar *needles[] = { needle, "publishing stopped", NULL };
  gchar *allow = NULL, *fleet = NULL;
  gint access = -1;
  Viewer *vb, *vc;
  va_list ap;

  gst_element_set_bus (pub->element, bus);
  vb = viewer_new (relay, stream, &bob);
  fail_unless (fixture_wait_viewers (relay, stream, 1, WAIT_MS));
  watches (pub, vb, 0);

  va_start (ap, first_prop);
  g_object_set_valist (G_OBJECT (pub->element), first_prop, ap);
  va_end (ap);

  check_error (gst_bus_timed_pop_filtered (bus, WAIT_MS * GST_MSECOND,
          GST_MESSAGE_ERROR), GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      needles, stream);
  /* bob, watching, is cut off; carol, new, is refused at the door */
  viewer_refused (vb, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, stream, 0, WAIT_MS));
  vc = viewer_new (relay, stream, &carol);
  viewer_refused_at_join (vc, "is not on its allowlist");
  /* what the properties read is what the relay enforces */
  g_object_get (pub->element, "access", &access, "allow", &allow, "fleet",
      &fleet, NULL);
  fail_unless_equals_int (access, ACCESS_PRIVATE);
  fail_unless (allow == NULL, "allow reads '%s'", allow);
  fail_unless (fleet == NULL, "fleet reads '%s'", fleet);
  /* and nothing more is published */
  fail_unless_equals_int (gst_harness_push (pub, make_buffer (1)),
      GST_FLOW_ERROR);
  fail_unless_equals_int (gst_harness_buffers_received (vb->h), 1);

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  gst_object_unref (bus);
  g_object_unref (relay);
}

GST_START_TEST (test_live_malformed_allow_fails_closed)
{
  invalid_live_change ("bad-allow", "neither a list of addresses",
      "access", ACCESS_PRIVATE, "allow", "0x1234,not-an-address", NULL);
}

GST_END_TEST;

GST_START_TEST (test_live_protected_without_fleet_fails_closed)
{
  invalid_live_change ("no-fleet", "access=protected needs a fleet",
      "access", ACCESS_PROTECTED, NULL);
}

GST_END_TEST;

GST_START_TEST (test_live_allowlist_over_limit_fails_closed)
{
  gchar *too_many = many_addresses (DIODE_MAX_ALLOW + 1);

  invalid_live_change ("many", "at most 2048", "access", ACCESS_PRIVATE,
      "allow", too_many, NULL);
  g_free (too_many);
}

GST_END_TEST;

/* The uri property's query takes the same path as the properties: on a
 * running sink the relay enforces it at once. So does the URI handler. */
GST_START_TEST (test_uri_policy_live)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  guint port = diode_relay_get_port (relay);
  GstHarness *pub = publish (relay, sink_for (relay, "uri-live", &alice),
      "uri-live");
  Viewer *vb = viewer_new (relay, "uri-live", &bob);
  Viewer *vc = viewer_new (relay, "uri-live", &carol);
  gchar *uri, *allow = NULL;
  GError *err = NULL;
  gint access = -1;

  fail_unless (fixture_wait_viewers (relay, "uri-live", 2, WAIT_MS));
  push (pub, 0);
  viewer_pull (vb, 0);
  viewer_pull (vc, 0);

  uri = g_strdup_printf ("diode://127.0.0.1:%u/uri-live?access=private"
      "&allow=%s", port, carol.addr);
  g_object_set (pub->element, "uri", uri, NULL);
  viewer_refused (vb, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, "uri-live", 1, WAIT_MS));
  watches (pub, vc, 1);
  g_object_get (pub->element, "access", &access, "allow", &allow, NULL);
  fail_unless_equals_int (access, ACCESS_PRIVATE);
  fail_unless_equals_string (allow, carol.addr);

  g_free (uri);
  uri = g_strdup_printf ("diode://127.0.0.1:%u/uri-live?access=private"
      "&allow=%s", port, dave.addr);
  fail_unless (gst_uri_handler_set_uri (GST_URI_HANDLER (pub->element), uri,
          &err), "%s", err ? err->message : "?");
  viewer_refused (vc, "is not on its allowlist");
  fail_unless (fixture_wait_viewers (relay, "uri-live", 0, WAIT_MS));

  viewer_free (vb);
  viewer_free (vc);
  gst_harness_teardown (pub);
  g_object_unref (relay);
  g_free (uri);
  g_free (allow);
}

GST_END_TEST;

/* Starting with allow=@path must fail with a SETTINGS error within WAIT_MS
 * whose text names @path and says @needle. Returns that text. */
static gchar *
allow_file_refused (DiodeRelay * relay, const gchar * path,
    const gchar * needle)
{
  GstElement *e = sink_for (relay, "file", &alice);
  gint64 t0 = g_get_monotonic_time ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *text;

  g_object_set (e, "access", ACCESS_PRIVATE, "allow", path, NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS);
  fail_unless (msg != NULL, "allow=%s: no error", path);
  fail_unless (ms_since (t0) < WAIT_MS, "allow=%s: %" G_GINT64_FORMAT " ms "
      "to fail", path, ms_since (t0));
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS), "allow=%s: %s", path, err->message);
  fail_unless (strstr (err->message, path) != NULL, "'%s' does not name %s",
      err->message, path);
  fail_unless (strstr (err->message, needle) != NULL, "'%s' does not say "
      "'%s'", err->message, needle);
  text = g_strdup (err->message);
  g_error_free (err);
  gst_message_unref (msg);
  fail_if (diode_relay_has_publisher (relay, "file"));
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  return text;
}

static glong
max_rss_kb (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* allow= naming a file reads a small regular file only, and what it holds
 * never appears in an error. */
GST_START_TEST (test_allow_file_is_read_safely)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  gchar *fifo = g_build_filename (fixture_config_dir (), "allow.fifo", NULL);
  gchar *secret = write_temp ("allow-secret.txt", "# who may watch\n"
      "hunter2-do-not-echo\n");
  gchar *text;
  glong rss;

  /* a FIFO nobody writes to: refused at once, not a hung pipeline */
  fail_unless (mkfifo (fifo, 0600) == 0, "mkfifo: %s", g_strerror (errno));
  g_free (allow_file_refused (relay, fifo, "not a regular file"));
  /* /dev/zero: refused, not read until memory runs out */
  rss = max_rss_kb ();
  g_free (allow_file_refused (relay, "/dev/zero", "not a regular file"));
  fail_unless (max_rss_kb () - rss < 32 * 1024, "/dev/zero: %ld KiB more",
      max_rss_kb () - rss);
  /* a file of something else: where, never what */
  text = allow_file_refused (relay, secret, ":2: is not an address");
  fail_if (strstr (text, "hunter2") != NULL, "echoed the file: %s", text);
  g_free (text);
  /* a file that says it is empty but is not (/proc): none of its
   * NAME=value pairs shows */
  text = allow_file_refused (relay, "/proc/self/environ", "NUL byte");
  fail_if (strchr (text, '=') != NULL, "echoed the file: %s", text);
  g_free (text);

  g_object_unref (relay);
  g_free (fifo);
  g_free (secret);
}

GST_END_TEST;

static Suite *
access_suite (void)
{
  Suite *s = suite_create ("access");
  TCase *tc = tcase_create ("general");

  fixture_config_dir ();
  /* identities first, once: every forked test shares the key files */
  who_init (&alice);
  who_init (&bob);
  who_init (&carol);
  who_init (&dave);
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_public_any_identity_watches);
  tcase_add_test (tc, test_protected_fleet_members_only);
  tcase_add_test (tc, test_protected_unconfigured_fleet);
  tcase_add_test (tc, test_private_allowlist);
  tcase_add_test (tc, test_uri_policy);
  tcase_add_test (tc, test_waiting_subscriber_checked_on_publish);
  tcase_add_test (tc, test_live_policy_change_cuts_off);
  tcase_add_test (tc, test_live_policy_change_is_atomic);
  tcase_add_test (tc, test_republish_rechecks_attached_viewers);
  tcase_add_test (tc, test_fleet_reload);
  tcase_add_test (tc, test_sighup_reloads_config);
  tcase_add_test (tc, test_name_ownership);
  tcase_add_test (tc, test_operator_names_and_publishers);
  tcase_add_test (tc, test_viewer_refusal_logged);
  tcase_add_test (tc, test_certificate_validity);
  tcase_add_test (tc, test_pinned_relay_mismatch);
  tcase_add_test (tc, test_private_raw_requests);
  tcase_add_test (tc, test_allowlist_limit);
  tcase_add_test (tc, test_live_malformed_allow_fails_closed);
  tcase_add_test (tc, test_live_protected_without_fleet_fails_closed);
  tcase_add_test (tc, test_live_allowlist_over_limit_fails_closed);
  tcase_add_test (tc, test_uri_policy_live);
  tcase_add_test (tc, test_allow_file_is_read_safely);
  return s;
}

GST_CHECK_MAIN (access);
