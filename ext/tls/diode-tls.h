/* gst-diode — non-blocking TLS 1.3 sessions over a connected socket
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Thin wrapper over a GnuTLS session on a non-blocking fd. Both ends present a
 * certificate (mutual auth); neither verifies a CA chain: the peer's identity
 * is its address (hash of its public key), available once the handshake is
 * done. Policy (pinning, known relays, access lists) is the caller's.
 * TLS 1.3 only; AES-GCM first, ChaCha20-Poly1305 allowed.
 */
#pragma once

#include "diode-identity.h"

G_BEGIN_DECLS

typedef enum {
  DIODE_TLS_OK = 0,     /* done / some bytes moved */
  DIODE_TLS_AGAIN,      /* would block: wait for the direction from
                           diode_tls_wants_write() and call again */
  DIODE_TLS_CLOSED,     /* peer closed (clean close_notify or EOF) */
  DIODE_TLS_ERROR,      /* *error set */
} DiodeTlsStatus;

#define DIODE_TLS_ERROR (diode_tls_error_quark ())
GQuark diode_tls_error_quark (void);
typedef enum {
  DIODE_TLS_ERROR_HANDSHAKE,     /* handshake failed (garbage, version...) */
  DIODE_TLS_ERROR_NO_CERT,       /* peer presented no certificate */
  DIODE_TLS_ERROR_IO,            /* socket error / record error */
  DIODE_TLS_ERROR_BAD_CERT,      /* peer certificate expired/not yet valid/
                                    malformed */
  DIODE_TLS_ERROR_NOT_ED25519,   /* peer key is not Ed25519 (RSA, ECDSA...):
                                    not a diode identity */
} DiodeTlsErrorCode;

typedef struct _DiodeTls DiodeTls;

/* Most plaintext one TLS record carries (RFC 8446 section 5.1). */
#define DIODE_TLS_MAX_RECORD 16384

/* The fd stays owned by the caller; it must be non-blocking. */
DiodeTls      *diode_tls_new_server (int fd, DiodeIdentity *id, GError **error);
/* @server_name: informational (SNI), may be NULL. */
DiodeTls      *diode_tls_new_client (int fd, DiodeIdentity *id,
                                     const gchar *server_name, GError **error);
void           diode_tls_free       (DiodeTls *t);

/* Advance the handshake. OK once complete, and the peer address is known. */
DiodeTlsStatus diode_tls_handshake  (DiodeTls *t, GError **error);
/* After AGAIN: TRUE if the operation waits for the socket to be writable,
 * FALSE if readable. */
gboolean       diode_tls_wants_write (DiodeTls *t);
const gchar   *diode_tls_get_peer_address (DiodeTls *t);
/* After the handshake: does the peer's certificate carry an Ed25519 key
 * (DIODE_TLS_ERROR_NOT_ED25519 otherwise), is it within its validity period
 * and well formed? Identity is the key alone, but an expired certificate
 * means a peer that ignores its own lifetimes: refuse it with a reason. The
 * session stays usable, so the caller can say why before closing. */
gboolean       diode_tls_check_peer_certificate (DiodeTls *t, GError **error);
/* Does this CPU have AES instructions? A client without them (the camera,
 * a Pi Zero: ARMv6) offers ChaCha20-Poly1305 first, and the relay honours
 * the client's order. ARM: the kernel's hwcaps (HWCAP2_AES, arm64
 * HWCAP_AES); elsewhere /proc/cpuinfo (diode_tls_cpuinfo_has_aes). Asked
 * once per process. */
gboolean       diode_tls_cpu_has_aes (void);
/* The same question of a /proc/cpuinfo text; NULL or no flags line: TRUE. */
gboolean       diode_tls_cpuinfo_has_aes (const gchar *cpuinfo);
/* Tests only: what diode_tls_cpu_has_aes() says from now on (0 or 1); -1
 * asks the CPU again. */
void           diode_tls_set_cpu_aes_for_test (gint aes);
/* Negotiated cipher etc., e.g. "TLS1.3-AES-128-GCM" (for logs). */
const gchar   *diode_tls_describe   (DiodeTls *t);

/* Read up to @len plaintext bytes. OK with *n_read > 0, AGAIN, CLOSED, ERROR. */
DiodeTlsStatus diode_tls_recv (DiodeTls *t, guint8 *buf, gsize len,
                               gsize *n_read, GError **error);
/* Bytes already decrypted and waiting inside GnuTLS (poll won't show them). */
gsize          diode_tls_pending (DiodeTls *t);
/* Write up to @len bytes. OK with *n_written > 0. After AGAIN the caller must
 * call again with the same data (GnuTLS rule) once the socket is writable. */
DiodeTlsStatus diode_tls_send (DiodeTls *t, const guint8 *buf, gsize len,
                               gsize *n_written, GError **error);
/* diode_tls_send for a caller that writes more at once: every record but
 * the last one it has to write goes out with MSG_MORE (the kernel holds a
 * partial segment back until the next write), the last one too when @more.
 * The caller must then send again, or call diode_tls_push(), in the same
 * turn: a held tail is sent by the next write that does not say more. */
DiodeTlsStatus diode_tls_send_more (DiodeTls *t, const guint8 *buf, gsize len,
                                    gboolean more, gsize *n_written,
                                    GError **error);
/* After a send returned AGAIN: write the record GnuTLS holds for it (the
 * data need not be given again), *n_written = that send's length. */
DiodeTlsStatus diode_tls_send_again (DiodeTls *t, gboolean more,
                                     gsize *n_written, GError **error);
/* Plaintext bytes one record carries (16 KiB unless the peer asked less). */
gsize          diode_tls_max_record (DiodeTls *t);
/* Batch several sends into fewer records (gnutls_record_cork/uncork): while
 * corked, sends copy into GnuTLS (any length, never AGAIN); uncork writes
 * full records, all but the last with MSG_MORE. After AGAIN it stays corked
 * with what is left: call uncork again once writable. */
void           diode_tls_cork   (DiodeTls *t);
DiodeTlsStatus diode_tls_uncork (DiodeTls *t, GError **error);
/* Plaintext bytes waiting in the cork buffer (memory the session holds). */
gsize          diode_tls_corked (DiodeTls *t);
/* The last write said MSG_MORE and nothing follows after all: send what the
 * kernel holds now. No-op otherwise. */
void           diode_tls_push   (DiodeTls *t);
/* Writes (sendmsg calls that moved bytes) since the session began. */
guint64        diode_tls_get_writes (DiodeTls *t);
/* Best-effort close_notify (never blocks). */
void           diode_tls_bye    (DiodeTls *t);

G_END_DECLS
