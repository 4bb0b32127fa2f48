/* gst-diode — non-blocking TLS 1.3 sessions over a connected socket
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GnuTLS does the socket I/O itself (gnutls_transport_set_int): with a
 * non-blocking fd every call may stop with GNUTLS_E_AGAIN, and
 * gnutls_record_get_direction() tells which readiness to wait for. This file
 * turns GnuTLS codes into the four DiodeTlsStatus values and into error
 * messages a user can act on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "diode-tls.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/auxv.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <gnutls/x509.h>

/* TLS 1.3 only; AES-GCM first (hardware-accelerated almost everywhere);
 * a client on a CPU without AES instructions puts ChaCha20 first instead,
 * and the relay honours the client's order (see get_priority()). */
/* Non-fatal GnuTLS codes (warning alerts...) are retried at once, since each
 * one consumed a record; a peer could still feed them forever, so bound the
 * streak to keep one connection from monopolising the caller's loop. */
#define MAX_NONFATAL_RETRIES 64

#define DIODE_TLS_PRIORITY \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
  "+CHACHA20-POLY1305"
/* For a client on a CPU without AES instructions (a Pi Zero): ChaCha20 is
 * ~2.3x faster in software there, and the relay honours the client's order. */
#define DIODE_TLS_PRIORITY_CHACHA \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305:" \
  "+AES-128-GCM:+AES-256-GCM"

struct _DiodeTls
{
  gnutls_session_t session;
  DiodeIdentity *id;
  gboolean is_server;
  gboolean handshake_done;
  gboolean failed;              /* handshake failed: the session is dead */
  gboolean bye_sent;
  gchar *peer_address;
  gchar *desc;                  /* gnutls_free()'d */
  gsize send_pending;           /* length of the send that returned AGAIN */
  int fd;
  /* Writing (tls_vec_push): MSG_MORE asks the kernel to hold a partial
   * segment back until the next write, so the records of one frame, or of
   * several, leave as one TCP segment instead of one each. */
  gboolean more;                /* this send is followed by more, at once */
  gboolean uncorking;           /* inside gnutls_record_uncork */
  gboolean held;                /* the last write said MSG_MORE: the kernel
                                   may hold its tail (diode_tls_push) */
  gsize max_record;             /* plaintext bytes per record, 0 unknown */
  guint64 writes;               /* sendmsg calls that wrote bytes */
};

G_DEFINE_QUARK (diode-tls-error-quark, diode_tls_error)

/* A /proc/cpuinfo text: the x86 "flags" or the ARM "Features" line lists
 * "aes". No such line (or no text) counts as yes: keep the default order. */
gboolean
diode_tls_cpuinfo_has_aes (const gchar * cpuinfo)
{
  gboolean aes = TRUE;
  gchar **lines;
  guint i;

  if (cpuinfo == NULL)
    return TRUE;
  lines = g_strsplit (cpuinfo, "\n", -1);
  for (i = 0; lines[i]; i++) {
    if (g_str_has_prefix (lines[i], "flags")
        || g_str_has_prefix (lines[i], "Features")) {
      gchar *padded = g_strconcat (lines[i], " ", NULL);

      g_strdelimit (padded, "\t:", ' ');
      aes = strstr (padded, " aes ") != NULL;
      g_free (padded);
      break;
    }
  }
  g_strfreev (lines);
  return aes;
}

/* What this CPU says, asked once. On ARM the kernel's hardware capability
 * bits (the ones its /proc/cpuinfo "Features" line is printed from):
 * HWCAP2_AES on 32-bit ARM, HWCAP_AES on arm64; qemu-user sets them for
 * the CPU it emulates (-cpu arm1176: none), while its /proc/cpuinfo is the
 * host's. Elsewhere /proc/cpuinfo. */
static gboolean
detect_cpu_aes (void)
{
#if defined(__arm__) && defined(AT_HWCAP2)
  return (getauxval (AT_HWCAP2) & (1UL << 0)) != 0;     /* HWCAP2_AES */
#elif defined(__aarch64__) && defined(AT_HWCAP)
  return (getauxval (AT_HWCAP) & (1UL << 3)) != 0;      /* HWCAP_AES */
#else
  gchar *info = NULL;
  gboolean aes;

  g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL);
  aes = diode_tls_cpuinfo_has_aes (info);
  g_free (info);
  return aes;
#endif
}

/* -1: not asked yet; 0/1 (g_atomic: sessions start on any thread). */
static gint cpu_aes = -1;

gboolean
diode_tls_cpu_has_aes (void)
{
  gint v = g_atomic_int_get (&cpu_aes);

  if (v < 0) {
    v = detect_cpu_aes ()? 1 : 0;
    g_atomic_int_compare_and_exchange (&cpu_aes, -1, v);
    v = g_atomic_int_get (&cpu_aes);
  }
  return v != 0;
}

void
diode_tls_set_cpu_aes_for_test (gint aes)
{
  g_atomic_int_set (&cpu_aes, aes < 0 ? -1 : aes != 0);
}

/* The priority strings are parsed once per process: a relay sets up
 * thousands of sessions and the cache is immutable, hence shareable. A
 * client picks its order by diode_tls_cpu_has_aes(). */
static gnutls_priority_t
get_priority (gboolean server, GError ** error)
{
  static gsize prio_once = 0;
  static gnutls_priority_t prio = NULL, prio_chacha = NULL;
  static int prio_ret = 0;

  if (g_once_init_enter (&prio_once)) {
    const char *err_pos = NULL;

    diode_gnutls_ensure_init ();
    prio_ret = gnutls_priority_init2 (&prio, DIODE_TLS_PRIORITY, &err_pos, 0);
    if (prio_ret < 0)
      prio = NULL;
    if (prio && gnutls_priority_init2 (&prio_chacha,
            DIODE_TLS_PRIORITY_CHACHA, &err_pos, 0) < 0)
      prio_chacha = NULL;
    g_once_init_leave (&prio_once, 1);
  }
  if (prio == NULL)
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
        "this GnuTLS does not support TLS 1.3 with AES-GCM/ChaCha20: %s",
        gnutls_strerror (prio_ret));
  return !server && prio_chacha && !diode_tls_cpu_has_aes ()? prio_chacha :
      prio;
}

/* Plaintext bytes that fit in one record (16 KiB, or less if the peer
 * asked for smaller records). */
static gsize
max_record (DiodeTls * t)
{
  if (t->max_record == 0)
    t->max_record = gnutls_record_get_max_size (t->session);
  return t->max_record;
}

/* GnuTLS writes every record with one call of this (a record is flushed as
 * soon as it is encrypted: gnutls_record_send and uncork never queue two).
 * The same sendmsg GnuTLS's own system_writev_nosignal does, plus MSG_MORE
 * when the caller said more follows at once (diode_tls_send_more) or when
 * uncork has further records to write: the kernel then builds one segment
 * from several records instead of sending each one (TCP_NODELAY) alone. */
static ssize_t
tls_vec_push (gnutls_transport_ptr_t ptr, const giovec_t * iov, int iovcnt)
{
  DiodeTls *t = ptr;
  struct msghdr m;
  gboolean more = t->more;
  ssize_t n;

  if (t->uncorking)
    more = gnutls_record_check_corked (t->session) > max_record (t);
  memset (&m, 0, sizeof (m));
  /* giovec_t is struct iovec's layout (GnuTLS casts it the same way) */
  m.msg_iov = (struct iovec *) iov;
  m.msg_iovlen = iovcnt;
  n = sendmsg (t->fd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
  if (n > 0) {
    t->writes++;
    t->held = more;
  }
  return n;
}

static DiodeTls *
tls_new (int fd, DiodeIdentity * id, gboolean server, GError ** error)
{
  gnutls_priority_t prio;
  gnutls_session_t session = NULL;
  DiodeTls *t;
  int ret;

  g_return_val_if_fail (fd >= 0, NULL);
  g_return_val_if_fail (id != NULL, NULL);

  prio = get_priority (server, error);
  if (prio == NULL)
    return NULL;

  /* No session tickets: every connection is a fresh full handshake, which
   * costs one signature and spares keeping resumption state and keys.
   * NO_SIGNAL: send with MSG_NOSIGNAL, so writing to a connection the peer
   * reset gives an error instead of killing the process with SIGPIPE. */
  ret = gnutls_init (&session, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
      GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS | GNUTLS_NO_SIGNAL);
  if (ret < 0)
    goto fail;
  if ((ret = gnutls_priority_set (session, prio)) < 0 ||
      (ret = gnutls_credentials_set (session, GNUTLS_CRD_CERTIFICATE,
              diode_identity_get_credentials (id))) < 0)
    goto fail;

  /* Mutual authentication: a client without a certificate has no address,
   * and the relay's access control is by address. */
  if (server)
    gnutls_certificate_server_set_request (session, GNUTLS_CERT_REQUIRE);

  /* Callers own timing (they poll with their own deadlines). */
  gnutls_handshake_set_timeout (session, GNUTLS_INDEFINITE_TIMEOUT);

  t = g_new0 (DiodeTls, 1);
  t->fd = fd;
  /* Reads: GnuTLS's own recv on the fd. Writes: tls_vec_push, which needs
   * the session (its MSG_MORE state), hence the second pointer. */
  gnutls_transport_set_ptr2 (session, GINT_TO_POINTER (fd), t);
  gnutls_transport_set_vec_push_function (session, tls_vec_push);
  t->session = session;
  t->id = diode_identity_ref (id);
  t->is_server = server;
  return t;

fail:
  if (session)
    gnutls_deinit (session);
  g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
      "cannot set up a TLS session: %s", gnutls_strerror (ret));
  return NULL;
}

DiodeTls *
diode_tls_new_server (int fd, DiodeIdentity * id, GError ** error)
{
  return tls_new (fd, id, TRUE, error);
}

DiodeTls *
diode_tls_new_client (int fd, DiodeIdentity * id, const gchar * server_name,
    GError ** error)
{
  DiodeTls *t = tls_new (fd, id, FALSE, error);

  /* SNI carries DNS names only (RFC 6066): never an IP literal. It is
   * informational for us (the server picks no certificate by it) but lets a
   * TLS-terminating front end route the connection. */
  if (t != NULL && server_name != NULL && *server_name != '\0' &&
      !g_hostname_is_ip_address (server_name))
    gnutls_server_name_set (t->session, GNUTLS_NAME_DNS, server_name,
        strlen (server_name));
  return t;
}

void
diode_tls_free (DiodeTls * t)
{
  if (t == NULL)
    return;
  gnutls_deinit (t->session);
  diode_identity_unref (t->id);
  g_free (t->peer_address);
  if (t->desc)
    gnutls_free (t->desc);
  g_free (t);
}

/* A hint for the handshake errors users actually meet. */
static const gchar *
handshake_hint (DiodeTls * t, int ret)
{
  switch (ret) {
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_RECORD_OVERFLOW:
    case GNUTLS_E_DECRYPTION_FAILED:
      return " (the peer is probably not speaking TLS)";
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_NO_PRIORITIES_WERE_SET:
    case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    case GNUTLS_E_NO_COMMON_KEY_SHARE:
      return " (the peer does not support TLS 1.3 with AES-GCM or ChaCha20)";
    case GNUTLS_E_PREMATURE_TERMINATION:
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PUSH_ERROR:
      return " (the connection was closed during the handshake)";
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
      if (gnutls_alert_get (t->session) == GNUTLS_A_CERTIFICATE_REQUIRED)
        return " (the peer requires a certificate)";
      return "";
    default:
      return "";
  }
}

static void
set_handshake_error (DiodeTls * t, int ret, int saved_errno, GError ** error)
{
  if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND ||
      ret == GNUTLS_E_CERTIFICATE_REQUIRED) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_NO_CERT,
        "TLS handshake failed: peer presented no certificate");
    return;
  }
  if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
    const char *name = gnutls_alert_get_name (gnutls_alert_get (t->session));
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
        "TLS handshake failed: the peer refused it (alert: %s)%s",
        name ? name : "unknown", handshake_hint (t, ret));
    return;
  }
  if ((ret == GNUTLS_E_PUSH_ERROR || ret == GNUTLS_E_PULL_ERROR) &&
      saved_errno != 0) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
        "TLS handshake failed: %s (%s)", gnutls_strerror (ret),
        g_strerror (saved_errno));
    return;
  }
  g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
      "TLS handshake failed: %s%s", gnutls_strerror (ret),
      handshake_hint (t, ret));
}

/* Runs once the handshake has completed: the peer's address is the hash of
 * the public key in its (unverified, self-signed) certificate. */
static gboolean
learn_peer_address (DiodeTls * t, GError ** error)
{
  const gnutls_datum_t *certs;
  unsigned int n = 0;
  GError *err = NULL;

  if (gnutls_certificate_type_get2 (t->session, GNUTLS_CTYPE_PEERS) !=
      GNUTLS_CRT_X509 ||
      (certs = gnutls_certificate_get_peers (t->session, &n)) == NULL ||
      n == 0) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_NO_CERT,
        "peer presented no certificate");
    return FALSE;
  }
  /* certs[0] is the peer's own certificate; any chain after it is ignored. */
  t->peer_address = diode_address_from_der_cert (&certs[0], &err);
  if (t->peer_address == NULL) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_NO_CERT,
        "peer presented an unusable certificate: %s", err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

static gchar *
format_time (time_t t)
{
  GDateTime *dt = g_date_time_new_from_unix_utc (t);
  gchar *s = dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S UTC") :
      g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) t);

  if (dt)
    g_date_time_unref (dt);
  return s;
}

gboolean
diode_tls_check_peer_certificate (DiodeTls * t, GError ** error)
{
  const gnutls_datum_t *certs;
  unsigned int n = 0;
  gnutls_x509_crt_t crt;
  time_t now = time (NULL), from, until;
  gboolean ok = TRUE;
  gchar *when;
  int algo;

  g_return_val_if_fail (t != NULL, FALSE);
  certs = gnutls_certificate_get_peers (t->session, &n);
  if (certs == NULL || n == 0) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_NO_CERT,
        "peer presented no certificate");
    return FALSE;
  }
  if (gnutls_x509_crt_init (&crt) < 0)
    return TRUE;
  if (gnutls_x509_crt_import (crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_BAD_CERT,
        "the certificate of %s is malformed", t->peer_address ?
        t->peer_address : "the peer");
    gnutls_x509_crt_deinit (crt);
    return FALSE;
  }
  /* Only Ed25519 keys are identities. The handshake accepts any key type
   * (TLS 1.3's CertificateVerify proved the peer holds it), so that the
   * refusal can come here, with words, instead of as a bare TLS alert. */
  algo = gnutls_x509_crt_get_pk_algorithm (crt, NULL);
  if (algo != GNUTLS_PK_EDDSA_ED25519) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_NOT_ED25519,
        "the certificate of %s carries %s; diode identities are Ed25519 keys "
        "only", t->peer_address ? t->peer_address : "the peer",
        diode_pk_algorithm_describe (algo));
    gnutls_x509_crt_deinit (crt);
    return FALSE;
  }
  from = gnutls_x509_crt_get_activation_time (crt);
  until = gnutls_x509_crt_get_expiration_time (crt);
  if (from == (time_t) - 1 || until == (time_t) - 1) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_BAD_CERT,
        "the certificate of %s is malformed (no validity period)",
        t->peer_address ? t->peer_address : "the peer");
    ok = FALSE;
  } else if (now > until) {
    when = format_time (until);
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_BAD_CERT,
        "the certificate of %s expired on %s", t->peer_address ?
        t->peer_address : "the peer", when);
    g_free (when);
    ok = FALSE;
  } else if (now < from) {
    when = format_time (from);
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_BAD_CERT,
        "the certificate of %s is not valid before %s (check the clocks)",
        t->peer_address ? t->peer_address : "the peer", when);
    g_free (when);
    ok = FALSE;
  }
  gnutls_x509_crt_deinit (crt);
  return ok;
}

DiodeTlsStatus
diode_tls_handshake (DiodeTls * t, GError ** error)
{
  int ret, saved_errno;
  guint retries;

  g_return_val_if_fail (t != NULL, DIODE_TLS_ERROR);

  if (t->handshake_done)
    return DIODE_TLS_OK;
  if (t->failed) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_HANDSHAKE,
        "TLS handshake already failed");
    return DIODE_TLS_ERROR;
  }

  for (retries = 0;; retries++) {
    errno = 0;
    ret = gnutls_handshake (t->session);
    saved_errno = errno;
    if (ret == GNUTLS_E_SUCCESS)
      break;
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
      return DIODE_TLS_AGAIN;
    /* Non-fatal (e.g. a warning alert): the handshake can go on at once. */
    if (!gnutls_error_is_fatal (ret) && retries < MAX_NONFATAL_RETRIES)
      continue;
    t->failed = TRUE;
    /* Tell the peer why (e.g. certificate_required for a client without a
     * certificate) instead of a bare end of file; best effort on a
     * non-blocking socket, and nothing to say when the transport broke. */
    if (ret != GNUTLS_E_PULL_ERROR && ret != GNUTLS_E_PUSH_ERROR
        && ret != GNUTLS_E_PREMATURE_TERMINATION
        && ret != GNUTLS_E_FATAL_ALERT_RECEIVED)
      gnutls_alert_send_appropriate (t->session, ret);
    set_handshake_error (t, ret, saved_errno, error);
    return DIODE_TLS_ERROR;
  }

  if (!learn_peer_address (t, error)) {
    t->failed = TRUE;
    return DIODE_TLS_ERROR;
  }
  t->handshake_done = TRUE;
  return DIODE_TLS_OK;
}

gboolean
diode_tls_wants_write (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, FALSE);
  return gnutls_record_get_direction (t->session) == 1;
}

const gchar *
diode_tls_get_peer_address (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, NULL);
  return t->peer_address;
}

const gchar *
diode_tls_describe (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, NULL);

  if (!t->handshake_done)
    return "(TLS handshake not complete)";
  /* Computed on first use: most sessions are never described. */
  if (t->desc == NULL)
    t->desc = gnutls_session_get_desc (t->session);
  return t->desc ? t->desc : "(TLS1.3)";
}

/* Record I/O before the handshake completed (or after it failed) is an
 * error, not a programming error: teardown paths drain sessions in any state
 * and deserve a clean status. */
static gboolean
check_established (DiodeTls * t, GError ** error)
{
  if (t->handshake_done)
    return TRUE;
  g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_IO, "%s",
      t->failed ? "TLS handshake failed earlier" :
      "TLS handshake not complete");
  return FALSE;
}

/* Maps a record-layer return code for recv/send/uncork. */
static DiodeTlsStatus
record_status (ssize_t ret, int saved_errno, const gchar * op,
    GError ** error)
{
  if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
    return DIODE_TLS_AGAIN;
  /* EOF without close_notify: TLS 1.3 framing (and our own protocol) leave
   * no truncation attack worth an error; treat it as a close. */
  if (ret == GNUTLS_E_PREMATURE_TERMINATION)
    return DIODE_TLS_CLOSED;
  if ((ret == GNUTLS_E_PULL_ERROR || ret == GNUTLS_E_PUSH_ERROR) &&
      saved_errno != 0) {
    g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_IO,
        "TLS %s failed: %s", op, g_strerror (saved_errno));
    return DIODE_TLS_ERROR;
  }
  g_set_error (error, DIODE_TLS_ERROR, DIODE_TLS_ERROR_IO,
      "TLS %s failed: %s", op, gnutls_strerror ((int) ret));
  return DIODE_TLS_ERROR;
}

DiodeTlsStatus
diode_tls_recv (DiodeTls * t, guint8 * buf, gsize len, gsize * n_read,
    GError ** error)
{
  ssize_t ret;
  int saved_errno;
  guint retries;

  g_return_val_if_fail (t != NULL, DIODE_TLS_ERROR);
  g_return_val_if_fail (buf != NULL || len == 0, DIODE_TLS_ERROR);

  *n_read = 0;
  if (!check_established (t, error))
    return DIODE_TLS_ERROR;
  if (len == 0)
    return DIODE_TLS_OK;
  for (retries = 0;; retries++) {
    errno = 0;
    ret = gnutls_record_recv (t->session, buf, len);
    saved_errno = errno;
    if (ret > 0) {
      *n_read = ret;
      return DIODE_TLS_OK;
    }
    if (ret == 0)
      return DIODE_TLS_CLOSED;
    /* Non-fatal codes other than AGAIN (warning alerts, a TLS 1.3 key update
     * just processed) mean "nothing for you yet, but call again now":
     * returning AGAIN would wait for socket readiness that may never come
     * when the rest is already buffered. */
    if (ret != GNUTLS_E_AGAIN && ret != GNUTLS_E_INTERRUPTED &&
        !gnutls_error_is_fatal ((int) ret) && retries < MAX_NONFATAL_RETRIES)
      continue;
    return record_status (ret, saved_errno, "receive", error);
  }
}

gsize
diode_tls_pending (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, 0);
  return gnutls_record_check_pending (t->session);
}

/* GnuTLS rule: when gnutls_record_send() returns GNUTLS_E_AGAIN the record is
 * already encrypted and queued inside the session; the next call flushes it
 * and returns the length of *that* earlier call, whatever data it is given.
 * So after AGAIN the caller must call again with the same data (at least as
 * many bytes), and only then consider them written. */
DiodeTlsStatus
diode_tls_send (DiodeTls * t, const guint8 * buf, gsize len,
    gsize * n_written, GError ** error)
{
  return diode_tls_send_more (t, buf, len, FALSE, n_written, error);
}

/* The record written now is followed by the rest of @buf when @len is
 * more than a record holds, and by the caller's next send when @more. */
DiodeTlsStatus
diode_tls_send_more (DiodeTls * t, const guint8 * buf, gsize len,
    gboolean more, gsize * n_written, GError ** error)
{
  ssize_t ret;
  int saved_errno;

  g_return_val_if_fail (t != NULL, DIODE_TLS_ERROR);
  g_return_val_if_fail (buf != NULL || len == 0, DIODE_TLS_ERROR);
  /* Shorter data than the call that got AGAIN would make us report more
   * bytes written than the caller passed. */
  g_return_val_if_fail (len >= t->send_pending, DIODE_TLS_ERROR);

  *n_written = 0;
  if (!check_established (t, error))
    return DIODE_TLS_ERROR;
  if (len == 0)
    return DIODE_TLS_OK;

  errno = 0;
  t->more = more || len > max_record (t);
  ret = gnutls_record_send (t->session, buf, len);
  t->more = FALSE;
  saved_errno = errno;
  if (ret >= 0) {
    t->send_pending = 0;
    *n_written = ret;
    return DIODE_TLS_OK;
  }
  if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
    if (t->send_pending == 0)
      t->send_pending = MIN (len, gnutls_record_get_max_size (t->session));
    return DIODE_TLS_AGAIN;
  }
  /* Unlike recv, no retry on other non-fatal codes: a send that cannot
   * progress (e.g. GNUTLS_E_LARGE_PACKET) would spin forever. */
  return record_status (ret, saved_errno, "send", error);
}

DiodeTlsStatus
diode_tls_send_again (DiodeTls * t, gboolean more, gsize * n_written,
    GError ** error)
{
  ssize_t ret;
  int saved_errno;

  g_return_val_if_fail (t != NULL, DIODE_TLS_ERROR);
  g_return_val_if_fail (t->send_pending > 0, DIODE_TLS_ERROR);

  *n_written = 0;
  /* GnuTLS: after AGAIN, NULL and 0 write the same data as before */
  errno = 0;
  t->more = more;
  ret = gnutls_record_send (t->session, NULL, 0);
  t->more = FALSE;
  saved_errno = errno;
  if (ret >= 0) {
    t->send_pending = 0;
    *n_written = ret;
    return DIODE_TLS_OK;
  }
  if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED)
    return DIODE_TLS_AGAIN;
  return record_status (ret, saved_errno, "send", error);
}

gsize
diode_tls_max_record (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, 0);
  return max_record (t);
}

void
diode_tls_cork (DiodeTls * t)
{
  g_return_if_fail (t != NULL);
  gnutls_record_cork (t->session);
}

DiodeTlsStatus
diode_tls_uncork (DiodeTls * t, GError ** error)
{
  int ret, saved_errno;

  g_return_val_if_fail (t != NULL, DIODE_TLS_ERROR);

  if (!check_established (t, error))
    return DIODE_TLS_ERROR;
  /* Non-blocking uncork: on AGAIN GnuTLS keeps the unsent data and stays
   * corked, so calling uncork again once writable carries on where it
   * stopped. Returns the bytes flushed (0 if nothing was corked). */
  errno = 0;
  t->uncorking = TRUE;
  ret = gnutls_record_uncork (t->session, 0);
  t->uncorking = FALSE;
  saved_errno = errno;
  if (ret >= 0)
    return DIODE_TLS_OK;
  return record_status (ret, saved_errno, "send", error);
}

gsize
diode_tls_corked (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, 0);
  return gnutls_record_check_corked (t->session);
}

void
diode_tls_push (DiodeTls * t)
{
  int one = 1;

  g_return_if_fail (t != NULL);
  if (!t->held)
    return;
  t->held = FALSE;
  /* Setting TCP_NODELAY (again) sends what the socket holds at once
   * (tcp_push_pending_frames); not a TCP socket: nothing is held. */
  (void) setsockopt (t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
}

guint64
diode_tls_get_writes (DiodeTls * t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->writes;
}

void
diode_tls_bye (DiodeTls * t)
{
  g_return_if_fail (t != NULL);

  /* Before the handshake completes there are no keys to protect an alert
   * with; after a failure the peer gets nothing useful from one either. */
  if (t->bye_sent || !t->handshake_done)
    return;
  t->bye_sent = TRUE;
  /* SHUT_WR: send close_notify without waiting for the peer's. AGAIN leaves
   * the alert unsent; that is fine, the TCP close follows anyway. */
  (void) gnutls_bye (t->session, GNUTLS_SHUT_WR);
}
