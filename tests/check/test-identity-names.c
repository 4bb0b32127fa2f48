/* gst-diode — identities, names and publisher pins, end to end
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Against an in-process relay on 127.0.0.1, with real TLS:
 *   - clients whose certificate carries an RSA or ECDSA key are refused
 *     (ERROR 102 naming the key type, then close) — only Ed25519 keys are
 *     identities;
 *   - names compare normalized for ownership and reservation ("Cam" and
 *     "cam", "cam" and fullwidth "ｃａｍ" are one name), and names with
 *     invisible or bidi characters (U+200B, U+202E) are refused with ERROR
 *     103;
 *   - a viewer pinned to a publisher (SUBSCRIBE's publisher field,
 *     diodesrc `publisher-id`) is refused when another identity publishes
 *     the name after its owner's grace, and cut off when that happens while
 *     it watches;
 *   - the stats file is written with mode 0600.
 * docs/security.md describes the rules; docs/testing.md lists this file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <glib/gstdio.h>

#include "fixture.h"
#include "rawclient.h"
#include "diode-msg.h"
#include "diode-relay-config.h"

#define WAIT_MS   5000          /* anything that should happen does by then */
#define QUIET_MS  400           /* and what must not happen has not by then */
#define NAME_GRACE_MS 300       /* short name grace for the pin tests */

typedef struct
{
  const gchar *name;
  gchar *key_name;              /* key file name inside the fixture dir */
  gchar *key;                   /* its path */
  gchar *addr;
} Who;

static Who alice = { "alice" }, bob = { "bob" }, carol = { "carol" };

static void
who_init (Who * w)
{
  GError *err = NULL;
  DiodeIdentity *id;

  w->key_name = g_strdup_printf ("%s.pem", w->name);
  w->key = g_build_filename (fixture_config_dir (), w->key_name, NULL);
  id = diode_identity_load_or_create (w->key, &err);
  g_assert (id != NULL);
  w->addr = g_strdup (diode_identity_get_address (id));
  diode_identity_unref (id);
}

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
  /* viewers of a vanished publisher stay attached for the whole test */
  g_object_set (relay, "grace-ms", 30000, NULL);
  fail_unless (diode_relay_start (relay, &err), "relay: %s",
      err ? err->message : "?");
  g_free (key);
  return relay;
}

static gchar *
write_temp (const gchar * name, const gchar * text)
{
  gchar *path = g_build_filename (fixture_config_dir (), name, NULL);

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* ------------------------------------------------------------------------ */
/* raw clients with a diode identity (rawclient.c) */


static RawClient *
raw_hello (DiodeRelay * relay, Who * who, DiodeRole role)
{
  RawClient *c = raw_open (relay, 0, who->key_name);
  DiodeMsg m = { 0 };

  raw_send_frame (c, diode_msg_encode_hello (1, 1, role, "names-test/0"));
  raw_expect_next (c, DIODE_MSG_WELCOME, &m, "HELLO");
  diode_msg_clear (&m);
  return c;
}

/* PUBLISH @stream; returns PUBLISH_OK's next_seq. */
static guint64
publish_ok (RawClient * c, const gchar * stream, const gchar * what)
{
  DiodeMsg m = { 0 };
  guint64 next;

  raw_send_frame (c, diode_msg_encode_publish (stream));
  raw_expect_next (c, DIODE_MSG_PUBLISH_OK, &m, what);
  next = m.seq;
  diode_msg_clear (&m);
  return next;
}

/* CAPS, then keyframe MEDIA @seq. */
static void
push_media (RawClient * c, guint64 seq, gboolean caps)
{
  if (caps)
    raw_send_frame (c, diode_msg_encode_caps ("application/x-test"));
  raw_send_frame (c, diode_msg_encode_media (seq, seq * 1000, seq * 1000,
          1000, seq, seq + 1, DIODE_MEDIA_KEYFRAME, (const guint8 *) "data",
          4));
}

/* A viewer connection that SUBSCRIBEs @stream (pinned to @pin, or not). */
static RawClient *
raw_subscribe (DiodeRelay * relay, Who * who, const gchar * stream,
    const gchar * pin, guint32 wait_ms)
{
  RawClient *c = raw_hello (relay, who, DIODE_ROLE_VIEWER);

  raw_send_frame (c, diode_msg_encode_subscribe_pinned (stream, 0, wait_ms,
          pin));
  return c;
}

/* ------------------------------------------------------------------------ */
/* 1. only Ed25519 certificates are identities */

/* Credentials for a fresh @algo key with a self-signed certificate, as
 * another TLS tool would make; its address in *address. */
static gnutls_certificate_credentials_t
foreign_credentials (gnutls_pk_algorithm_t algo, guint bits, gchar ** address)
{
  gnutls_x509_privkey_t key;
  gnutls_privkey_t priv;
  gnutls_pubkey_t pub;
  gnutls_x509_crt_t crt;
  gnutls_certificate_credentials_t cred;
  gnutls_digest_algorithm_t dig = GNUTLS_DIG_UNKNOWN;
  guint8 serial[8] = { 0x13, 2, 3, 4, 5, 6, 7, 8 };
  time_t now = time (NULL);

  diode_gnutls_ensure_init ();
  fail_unless (gnutls_x509_privkey_init (&key) == 0);
  fail_unless (gnutls_x509_privkey_generate (key, algo, bits, 0) == 0);
  fail_unless (gnutls_privkey_init (&priv) == 0);
  fail_unless (gnutls_privkey_import_x509 (priv, key, 0) == 0);
  fail_unless (gnutls_pubkey_init (&pub) == 0);
  fail_unless (gnutls_pubkey_import_privkey (pub, priv, 0, 0) == 0);
  *address = diode_address_from_pubkey (pub, NULL);
  fail_unless (*address != NULL);
  fail_unless (gnutls_x509_crt_init (&crt) == 0);
  fail_unless (gnutls_x509_crt_set_version (crt, 3) == 0);
  fail_unless (gnutls_x509_crt_set_dn_by_oid (crt,
          GNUTLS_OID_X520_COMMON_NAME, 0, "foreign", 7) == 0);
  fail_unless (gnutls_x509_crt_set_key (crt, key) == 0);
  fail_unless (gnutls_x509_crt_set_serial (crt, serial, sizeof serial) == 0);
  fail_unless (gnutls_x509_crt_set_activation_time (crt, now - 3600) == 0);
  fail_unless (gnutls_x509_crt_set_expiration_time (crt, now + 86400) == 0);
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

/* Reads one frame from a plain GnuTLS session; FALSE on close/timeout. */
static gboolean
gnutls_read_msg (gnutls_session_t s, int fd, GByteArray * rx, DiodeMsg * m)
{
  gint64 end = deadline_in (WAIT_MS);
  gsize plen = 0;

  for (;;) {
    guint8 buf[4096];
    ssize_t n;

    if (rx->len >= DIODE_FRAME_HEADER_SIZE) {
      fail_unless (diode_msg_check_header (rx->data, &plen, NULL));
      if (rx->len >= DIODE_FRAME_HEADER_SIZE + plen) {
        GBytes *f = g_bytes_new (rx->data, DIODE_FRAME_HEADER_SIZE + plen);

        g_byte_array_remove_range (rx, 0, DIODE_FRAME_HEADER_SIZE + plen);
        fail_unless (diode_msg_parse (f, m, NULL));
        g_bytes_unref (f);
        return TRUE;
      }
    }
    if (gnutls_record_check_pending (s) == 0 && !wait_fd (fd, POLLIN, end))
      return FALSE;
    n = gnutls_record_recv (s, buf, sizeof buf);
    if (n > 0)
      g_byte_array_append (rx, buf, n);
    else if (n == 0 || gnutls_error_is_fatal ((int) n))
      return FALSE;
  }
}

/* A client whose certificate carries @algo: the handshake completes, then
 * the relay sends ERROR 102 naming the key type and the client's address,
 * logs it, and closes; HELLO is never answered. */
static void
foreign_client_refused (DiodeRelay * relay, gnutls_pk_algorithm_t algo,
    guint bits, const gchar * says)
{
  gchar *addr = NULL;
  gnutls_certificate_credentials_t cred = foreign_credentials (algo, bits,
      &addr);
  int fd = tcp_connect (relay, 0), ret;
  gint64 end = deadline_in (WAIT_MS);
  gnutls_session_t s;
  GByteArray *rx = g_byte_array_new ();
  GBytes *hello;
  DiodeMsg m = { 0 };

  fail_unless (gnutls_init (&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
          GNUTLS_NO_SIGNAL) == 0);
  fail_unless (gnutls_priority_set_direct (s,
          "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL) == 0);
  fail_unless (gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, cred) == 0);
  gnutls_transport_set_int (s, fd);
  while ((ret = gnutls_handshake (s)) < 0) {
    fail_if (gnutls_error_is_fatal (ret), "%s: TLS handshake: %s", says,
        gnutls_strerror (ret));
    fail_unless (wait_fd (fd, gnutls_record_get_direction (s) ? POLLOUT :
            POLLIN, end), "TLS handshake timed out");
  }
  hello = diode_msg_encode_hello (1, 1, DIODE_ROLE_VIEWER, "foreign/0");
  /* a small frame on a fresh connection: one call sends it */
  fail_unless (gnutls_record_send (s, g_bytes_get_data (hello, NULL),
          g_bytes_get_size (hello)) == (ssize_t) g_bytes_get_size (hello));
  g_bytes_unref (hello);

  fail_unless (gnutls_read_msg (s, fd, rx, &m), "%s: the relay closed "
      "without saying why", says);
  fail_unless_equals_string (diode_msg_type_name (m.type), "ERROR");
  GST_INFO ("%s: ERROR %u: %s", says, m.error_code, m.error_text);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (strstr (m.error_text, says) != NULL && strstr (m.error_text,
          addr) != NULL && strstr (m.error_text, "Ed25519") != NULL, "%s",
      m.error_text);
  diode_msg_clear (&m);
  fail_if (gnutls_read_msg (s, fd, rx, &m), "%s: the relay sent %s after "
      "refusing", says, diode_msg_type_name (m.type));

  gnutls_deinit (s);
  close (fd);
  g_byte_array_unref (rx);
  gnutls_certificate_free_credentials (cred);
  g_free (addr);
}

GST_START_TEST (test_foreign_certificates_refused)
{
  DiodeRelay *relay = relay_start (NULL, 0);

  foreign_client_refused (relay, GNUTLS_PK_RSA, 2048, "an RSA key");
  foreign_client_refused (relay, GNUTLS_PK_ECDSA, 256, "an ECDSA key");
  /* the control: an Ed25519 identity is welcome */
  raw_free (raw_hello (relay, &carol, DIODE_ROLE_VIEWER), FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

/* A "relay" whose certificate carries an RSA key: diodesrc refuses it
 * right after the handshake with NOT_AUTHORIZED naming the key type, and
 * does not record it in known-relays. The fake relay is a plain GnuTLS
 * server in a thread, for one connection. */
typedef struct
{
  int lfd;
  gnutls_certificate_credentials_t cred;
  gboolean handshook;
} FakeRelay;

static gpointer
fake_relay_run (gpointer data)
{
  FakeRelay *f = data;
  gnutls_session_t s;
  struct timeval tv = { WAIT_MS / 1000, 0 };
  guint8 buf[4096];
  int fd, ret;

  if (!wait_fd (f->lfd, POLLIN, deadline_in (WAIT_MS)))
    return NULL;
  fd = accept (f->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  /* blocking, but never for long */
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  gnutls_init (&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL);
  gnutls_priority_set_direct (s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", NULL);
  gnutls_credentials_set (s, GNUTLS_CRD_CERTIFICATE, f->cred);
  gnutls_certificate_server_set_request (s, GNUTLS_CERT_REQUEST);
  gnutls_transport_set_int (s, fd);
  do
    ret = gnutls_handshake (s);
  while (ret < 0 && !gnutls_error_is_fatal (ret));
  f->handshook = ret == 0;
  /* read until the client hangs up (or the timeout) */
  while (ret == 0 && gnutls_record_recv (s, buf, sizeof buf) > 0);
  gnutls_deinit (s);
  close (fd);
  return NULL;
}

GST_START_TEST (test_foreign_relay_refused)
{
  FakeRelay f = { -1, NULL, FALSE };
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  gchar *addr = NULL, *hp, *known, *contents = NULL;
  GThread *t;
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  GstMessage *msg;
  GError *err = NULL;

  f.cred = foreign_credentials (GNUTLS_PK_RSA, 2048, &addr);
  f.lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  memset (&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (f.lfd, (struct sockaddr *) &sa, sizeof sa) == 0);
  fail_unless (listen (f.lfd, 1) == 0);
  fail_unless (getsockname (f.lfd, (struct sockaddr *) &sa, &len) == 0);
  hp = g_strdup_printf ("127.0.0.1:%u", ntohs (sa.sin_port));
  t = g_thread_new ("fake-relay", fake_relay_run, &f);

  g_object_set (e, "relay", hp, "stream", "cam", "identity", carol.key,
      "timeout", WAIT_MS, NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS);
  fail_unless (msg != NULL, "diodesrc accepted an RSA relay");
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("%s", err->message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED), "%s", err->message);
  fail_unless (strstr (err->message, "an RSA key") != NULL &&
      strstr (err->message, "Ed25519") != NULL &&
      strstr (err->message, addr) != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  g_thread_join (t);
  fail_unless (f.handshook, "the TLS handshake did not complete");

  /* not trusted on first use either */
  known = g_build_filename (fixture_config_dir (), "diode", "known-relays",
      NULL);
  if (g_file_get_contents (known, &contents, NULL, NULL))
    fail_if (strstr (contents, hp) != NULL, "the RSA relay was recorded: %s",
        contents);

  g_free (contents);
  g_free (known);
  g_free (hp);
  g_free (addr);
  close (f.lfd);
  gnutls_certificate_free_credentials (f.cred);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 2. names compare normalized; invisible characters refused */

#define FULLWIDTH_CAM "\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8d"    /* ｃａｍ */
#define CAM_ZWSP      "cam\xe2\x80\x8b"   /* cam + U+200B ZERO WIDTH SPACE */
#define RLO_CAM       "\xe2\x80\xae" "cam"        /* U+202E RLO + cam */

GST_START_TEST (test_owned_names_compare_normalized)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  RawClient *a = raw_hello (relay, &alice, DIODE_ROLE_PUBLISHER);
  RawClient *b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  RawClient *v;
  DiodeMsg m = { 0 };
  const gchar *others[] = { "cam", "CAM", FULLWIDTH_CAM };
  guint i;

  publish_ok (a, "Cam", "alice publishes 'Cam'");
  push_media (a, 1, TRUE);
  fail_unless (fixture_wait_last_seq (relay, "Cam", 1, WAIT_MS));

  /* bob cannot take it under another spelling; the relay closes a
   * connection at its third refused PUBLISH (docs/security.md section 9),
   * so he comes back on a new one */
  for (i = 0; i < G_N_ELEMENTS (others); i++) {
    raw_send_frame (b, diode_msg_encode_publish (others[i]));
    raw_expect_error_says (b, DIODE_ERR_NOT_AUTHORIZED, others[i], "is owned by",
        alice.addr, "the same name as 'Cam'", NULL);
  }
  raw_free (b, FALSE);
  b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  /* nor with an invisible character: not a new name, a refused one */
  raw_send_frame (b, diode_msg_encode_publish (CAM_ZWSP));
  raw_expect_error_says (b, DIODE_ERR_BAD_NAME, "cam+U+200B", "U+200B", NULL);
  raw_send_frame (b, diode_msg_encode_publish (RLO_CAM));
  raw_expect_error_says (b, DIODE_ERR_BAD_NAME, "U+202E+cam", "U+202E", NULL);
  publish_ok (b, "bobcam", "bob's own name after the refusals");

  /* a viewer asking for any spelling watches alice's stream */
  for (i = 0; i < G_N_ELEMENTS (others); i++) {
    v = raw_subscribe (relay, &carol, others[i], NULL, 0);
    raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, others[i]);
    fail_unless_equals_string (m.publisher, alice.addr);
    diode_msg_clear (&m);
    raw_free (v, FALSE);
  }
  /* and one asking for a look-alike is told so, not served */
  v = raw_subscribe (relay, &carol, CAM_ZWSP, NULL, 0);
  raw_expect_error_says (v, DIODE_ERR_BAD_NAME, "viewer cam+U+200B", "U+200B", NULL);
  raw_send_frame (v, diode_msg_encode_subscribe (RLO_CAM, 0, 0));
  raw_expect_error_says (v, DIODE_ERR_BAD_NAME, "viewer U+202E+cam", "U+202E", NULL);
  raw_free (v, FALSE);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "cam"), 0);

  raw_free (a, FALSE);
  raw_free (b, FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

GST_START_TEST (test_reserved_names_compare_normalized)
{
  gchar *text = g_strdup_printf ("[names]\ncam=%s\n", alice.addr);
  gchar *cfg = write_temp ("names.conf", text);
  DiodeRelay *relay = relay_start (cfg, 0);
  RawClient *b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  RawClient *a = raw_hello (relay, &alice, DIODE_ROLE_PUBLISHER);
  const gchar *spellings[] = { "Cam", "CAM", FULLWIDTH_CAM };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (spellings); i++) {
    raw_send_frame (b, diode_msg_encode_publish (spellings[i]));
    raw_expect_error_says (b, DIODE_ERR_NOT_AUTHORIZED, spellings[i], "is reserved "
        "for", alice.addr, NULL);
  }
  /* the third refusal closed that connection */
  raw_free (b, FALSE);
  b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  raw_send_frame (b, diode_msg_encode_publish (CAM_ZWSP));
  raw_expect_error_says (b, DIODE_ERR_BAD_NAME, "reserved cam+U+200B", "U+200B",
      NULL);
  raw_send_frame (b, diode_msg_encode_publish (RLO_CAM));
  raw_expect_error_says (b, DIODE_ERR_BAD_NAME, "reserved U+202E+cam", "U+202E",
      NULL);
  /* alice may, under any spelling */
  publish_ok (a, FULLWIDTH_CAM, "alice publishes her reserved name");

  raw_free (a, FALSE);
  raw_free (b, FALSE);
  g_object_unref (relay);
  g_free (cfg);
  g_free (text);
}

GST_END_TEST;

/* The configuration refuses reserved names the relay would refuse, and two
 * spellings of one name. */
GST_START_TEST (test_config_reserved_names_checked)
{
  const gchar *names[][2] = {
    {CAM_ZWSP, NULL},
    {RLO_CAM, NULL},
    {"cam", "Cam"},
  };
  const gchar *says[] = { "U+200B", "U+202E", "the same name as" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *text = g_strdup_printf ("[names]\n%s=%s\n%s%s%s\n",
        names[i][0], alice.addr, names[i][1] ? names[i][1] : "",
        names[i][1] ? "=" : "", names[i][1] ? bob.addr : "");
    gchar *cfg = write_temp ("bad-names.conf", text);
    GError *err = NULL;
    DiodeRelayConfig *c = diode_relay_config_load (cfg, &err);

    fail_unless (c == NULL, "config #%u accepted", i);
    fail_unless (strstr (err->message, says[i]) != NULL, "%s",
        err->message);
    fail_unless (strstr (err->message, "[names]") != NULL, "%s",
        err->message);
    g_error_free (err);
    g_free (cfg);
    g_free (text);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 3. publisher pins */

typedef struct
{
  GstHarness *h;
  GstBus *bus;
} Src;

static Src *
src_new (DiodeRelay * relay, const gchar * stream, Who * who,
    const gchar * pin)
{
  Src *v = g_new0 (Src, 1);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  gchar *hp = diode_relay_get_hostport (relay);

  fail_unless (e != NULL);
  g_object_set (e, "relay", hp, "stream", stream, "identity", who->key,
      "timeout", WAIT_MS, "publisher-id", pin, NULL);
  v->h = gst_harness_new_with_element (e, NULL, "src");
  gst_object_unref (e);
  v->bus = gst_bus_new ();
  gst_element_set_bus (v->h->element, v->bus);
  gst_harness_play (v->h);
  g_free (hp);
  return v;
}

static void
src_free (Src * v)
{
  gst_harness_teardown (v->h);
  gst_object_unref (v->bus);
  g_free (v);
}

/* @v fails with NOT_AUTHORIZED naming both addresses. */
static void
src_refused (Src * v, const gchar * expected, const gchar * actual,
    const gchar * what)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (v->bus,
      WAIT_MS * GST_MSECOND, GST_MESSAGE_ERROR);
  GError *err = NULL;

  fail_unless (msg != NULL, "%s: no error", what);
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("%s: %s", what, err->message);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_AUTHORIZED), "%s: %s", what, err->message);
  fail_unless (strstr (err->message, expected) != NULL &&
      strstr (err->message, actual) != NULL, "%s: '%s' does not name both "
      "addresses", what, err->message);
  g_error_free (err);
  gst_message_unref (msg);
}

/* Alice published "door" and stopped; after her name grace bob publishes
 * it. Viewers pinned to alice are refused (raw SUBSCRIBE and diodesrc), and
 * the diodesrc does not try again; a viewer pinned to bob, or not pinned,
 * watches, and SUBSCRIBE_OK names bob. A subscriber pinned to alice and
 * held waiting for "gate" is refused when bob publishes it. */
GST_START_TEST (test_pin_refused_when_another_publishes)
{
  DiodeRelay *relay = relay_start (NULL, NAME_GRACE_MS);
  RawClient *a = raw_hello (relay, &alice, DIODE_ROLE_PUBLISHER);
  RawClient *b, *v, *held;
  DiodeMsg m = { 0 };
  guint64 seq;
  Src *src;

  seq = publish_ok (a, "door", "alice publishes");
  push_media (a, seq, TRUE);
  raw_send_frame (a, diode_msg_encode_eos (seq));
  fail_unless (fixture_wait_publisher (relay, "door", FALSE, WAIT_MS));
  raw_free (a, FALSE);
  g_usleep ((NAME_GRACE_MS + 200) * 1000);

  /* a subscriber pinned to alice waits for "gate" */
  held = raw_subscribe (relay, &carol, "gate", alice.addr, WAIT_MS);
  fail_unless (fixture_wait_waiting (relay, "gate", 1, WAIT_MS));

  b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  seq = publish_ok (b, "door", "bob publishes after alice's grace");
  push_media (b, seq, TRUE);
  fail_unless (fixture_wait_last_seq (relay, "door", seq, WAIT_MS));

  /* raw viewer pinned to alice: refused, and its connection stays usable */
  v = raw_subscribe (relay, &carol, "door", alice.addr, 0);
  raw_expect_error_says (v, DIODE_ERR_NOT_AUTHORIZED, "pinned to alice",
      "published by", bob.addr, alice.addr, NULL);
  /* pinned to bob (any case): served, SUBSCRIBE_OK names bob */
  {
    gchar *upper = g_ascii_strup (bob.addr, -1);

    upper[1] = 'x';
    raw_send_frame (v, diode_msg_encode_subscribe_pinned ("door", 0, 0,
            upper));
    g_free (upper);
  }
  raw_expect_next (v, DIODE_MSG_SUBSCRIBE_OK, &m, "pinned to bob");
  fail_unless_equals_string (m.publisher, bob.addr);
  diode_msg_clear (&m);
  raw_free (v, FALSE);

  /* diodesrc pinned to alice: NOT_AUTHORIZED naming both, no reconnect */
  src = src_new (relay, "door", &carol, alice.addr);
  src_refused (src, alice.addr, bob.addr, "diodesrc pinned to alice");
  fail_unless_equals_int (gst_harness_buffers_received (src->h), 0);
  g_usleep (QUIET_MS * 1000);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "door"), 0);
  src_free (src);

  /* the held subscriber: bob publishes "gate" (one publication per
   * connection) */
  raw_free (b, FALSE);
  b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  publish_ok (b, "gate", "bob publishes gate");
  raw_expect_error_says (held, DIODE_ERR_NOT_AUTHORIZED, "held, pinned to alice",
      "published by", bob.addr, alice.addr, NULL);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "gate"), 0);

  raw_free (held, FALSE);
  raw_free (b, FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

/* Alice publishes "yard" and her connection drops; her viewers stay
 * attached (publisher grace). After her name grace bob publishes "yard":
 * the viewers pinned to alice (raw and diodesrc) are cut off with ERROR
 * 102 naming both addresses, the unpinned one watches bob's stream. */
GST_START_TEST (test_pin_cuts_off_when_owner_changes)
{
  DiodeRelay *relay = relay_start (NULL, NAME_GRACE_MS);
  RawClient *a = raw_hello (relay, &alice, DIODE_ROLE_PUBLISHER);
  RawClient *b, *pinned, *free_viewer;
  DiodeMsg m = { 0 };
  guint64 seq;
  Src *src;
  gint code = -1;
  gchar *text = NULL;

  seq = publish_ok (a, "yard", "alice publishes");
  push_media (a, seq, TRUE);
  fail_unless (fixture_wait_last_seq (relay, "yard", seq, WAIT_MS));

  pinned = raw_subscribe (relay, &carol, "yard", alice.addr, 0);
  raw_expect_next (pinned, DIODE_MSG_SUBSCRIBE_OK, &m, "pinned to alice");
  fail_unless_equals_string (m.publisher, alice.addr);
  diode_msg_clear (&m);
  free_viewer = raw_subscribe (relay, &carol, "yard", NULL, 0);
  raw_expect_next (free_viewer, DIODE_MSG_SUBSCRIBE_OK, &m, "not pinned");
  diode_msg_clear (&m);
  src = src_new (relay, "yard", &carol, alice.addr);
  fail_unless (fixture_wait_viewers (relay, "yard", 3, WAIT_MS));
  /* the diodesrc watches alice */
  {
    gint64 end = deadline_in (WAIT_MS);
    GstBuffer *buf;

    while (!(buf = gst_harness_try_pull (src->h))) {
      fail_if (g_get_monotonic_time () > end, "diodesrc got no buffer");
      g_usleep (2000);
    }
    gst_buffer_unref (buf);
  }

  /* alice vanishes without EOS; her name grace runs out */
  raw_free (a, TRUE);
  fail_unless (fixture_wait_publisher (relay, "yard", FALSE, WAIT_MS));
  g_usleep ((NAME_GRACE_MS + 200) * 1000);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "yard"), 3);

  b = raw_hello (relay, &bob, DIODE_ROLE_PUBLISHER);
  seq = publish_ok (b, "yard", "bob takes the name");
  push_media (b, seq, TRUE);

  /* the pinned raw viewer: past alice's frames, ERROR 102 and not one of
   * bob's frames; then the relay closes */
  do {
    diode_msg_clear (&m);
    fail_unless (raw_next (pinned, &m, WAIT_MS) == RAW_READ_MSG,
        "the pinned viewer was not told");
    fail_if (m.type == DIODE_MSG_MEDIA && m.seq >= seq,
        "the pinned viewer got bob's MEDIA %" G_GUINT64_FORMAT, m.seq);
  } while (m.type != DIODE_MSG_ERROR);
  GST_INFO ("pinned viewer: ERROR %u: %s", m.error_code, m.error_text);
  fail_unless_equals_int (m.error_code, DIODE_ERR_NOT_AUTHORIZED);
  fail_unless (strstr (m.error_text, bob.addr) &&
      strstr (m.error_text, alice.addr), "%s", m.error_text);
  diode_msg_clear (&m);
  fail_unless (raw_wait_closed (pinned, WAIT_MS, &code, &text) >= 0,
      "the relay did not close the pinned viewer");
  g_free (text);
  /* the diodesrc: NOT_AUTHORIZED naming both */
  src_refused (src, alice.addr, bob.addr, "diodesrc pinned to alice");
  /* the unpinned viewer goes on with bob's stream */
  do {
    diode_msg_clear (&m);
    fail_unless (raw_next (free_viewer, &m, WAIT_MS) == RAW_READ_MSG,
        "the unpinned viewer got nothing from bob");
  } while (m.type != DIODE_MSG_MEDIA || m.seq != seq);
  diode_msg_clear (&m);
  fail_unless_equals_int (diode_relay_count_viewers (relay, "yard"), 1);

  src_free (src);
  raw_free (pinned, FALSE);
  raw_free (free_viewer, FALSE);
  raw_free (b, FALSE);
  g_object_unref (relay);
}

GST_END_TEST;

/* diodesrc publisher-id must be an address: a local SETTINGS error. */
GST_START_TEST (test_publisher_id_must_be_address)
{
  DiodeRelay *relay = relay_start (NULL, 0);
  GstElement *e = gst_element_factory_make ("diodesrc", NULL);
  gchar *hp = diode_relay_get_hostport (relay);
  GstMessage *msg;
  GError *err = NULL;

  g_object_set (e, "relay", hp, "stream", "cam", "identity", carol.key,
      "publisher-id", "0x1234", NULL);
  msg = fixture_expect_error (e, GST_STATE_PAUSED, WAIT_MS);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &err, NULL);
  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_SETTINGS), "%s", err->message);
  fail_unless (strstr (err->message, "0x1234") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  g_free (hp);
  g_object_unref (relay);
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* 4. the stats file is the operator's alone */

static guint
file_mode (const gchar * path)
{
  struct stat st;

  fail_unless (g_stat (path, &st) == 0, "%s: %s", path, g_strerror (errno));
  return st.st_mode & 07777;
}

/* Waits until @path holds a JSON snapshot (not @old). */
static void
wait_stats_written (const gchar * path, const gchar * old)
{
  gint64 end = deadline_in (WAIT_MS);

  for (;;) {
    gchar *s = NULL;
    gboolean done = g_file_get_contents (path, &s, NULL, NULL) &&
        strstr (s, "streams") != NULL && g_strcmp0 (s, old);

    g_free (s);
    if (done)
      return;
    fail_if (g_get_monotonic_time () > end, "%s was not written", path);
    g_usleep (20 * 1000);
  }
}

GST_START_TEST (test_stats_file_mode)
{
  gchar *fresh = g_build_filename (fixture_config_dir (), "stats-new.json",
      NULL);
  gchar *old = g_build_filename (fixture_config_dir (), "stats-old.json",
      NULL);
  gchar *key = g_build_filename (fixture_config_dir (), "relay.pem", NULL);
  const gchar *files[] = { fresh, old };
  mode_t mask = umask (022);
  guint i;

  g_unlink (fresh);
  fail_unless (g_file_set_contents (old, "old", -1, NULL));
  fail_unless (g_chmod (old, 0644) == 0);
  for (i = 0; i < G_N_ELEMENTS (files); i++) {
    DiodeRelay *relay = diode_relay_new ("127.0.0.1:0", key);

    g_object_set (relay, "stats-file", files[i], "stats-interval-ms", 50,
        NULL);
    fail_unless (diode_relay_start (relay, NULL));
    wait_stats_written (files[i], "old");
    fail_unless_equals_int (file_mode (files[i]), 0600);
    g_object_unref (relay);
  }
  umask (mask);
  g_free (fresh);
  g_free (old);
  g_free (key);
}

GST_END_TEST;

static Suite *
identity_names_suite (void)
{
  Suite *s = suite_create ("identity-names");
  TCase *tc = tcase_create ("identity-names");

  fixture_config_dir ();
  who_init (&alice);
  who_init (&bob);
  who_init (&carol);
  suite_add_tcase (s, tc);
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_foreign_certificates_refused);
  tcase_add_test (tc, test_foreign_relay_refused);
  tcase_add_test (tc, test_owned_names_compare_normalized);
  tcase_add_test (tc, test_reserved_names_compare_normalized);
  tcase_add_test (tc, test_config_reserved_names_checked);
  tcase_add_test (tc, test_pin_refused_when_another_publishes);
  tcase_add_test (tc, test_pin_cuts_off_when_owner_changes);
  tcase_add_test (tc, test_publisher_id_must_be_address);
  tcase_add_test (tc, test_stats_file_mode);
  return s;
}

GST_CHECK_MAIN (identity_names);
