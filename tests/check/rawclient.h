/* gst-diode — test fixture: raw TLS clients that speak hand-made frames
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A client with a real diode identity and TLS session (DiodeTls) to an
 * in-process relay on 127.0.0.1, that sends and reads frames by hand: what
 * no element would do. Sockets are non-blocking and every wait is bounded
 * (deadline_in() / wait_fd() from fixture.h). Failures inside these helpers
 * are gst-check failures (fail_unless), so use them from GST_START_TEST.
 */
#pragma once

#include "fixture.h"
#include "diode-msg.h"
#include "diode-tls.h"

G_BEGIN_DECLS

/* How long sends (and raw_expect()) wait for the relay. */
#define RAW_IO_MS 2000

typedef struct
{
  int fd;
  DiodeIdentity *id;
  DiodeTls *tls;
  GByteArray *rx;               /* plaintext received, not yet parsed */
  /* what the connection negotiated, for reading frames (0: version 1
   * rules); a test speaking as a relay sets 2 and DIODE_ROLE_RELAY so the
   * relay-link frames parse */
  guint16 version;
  DiodeRole role;
} RawClient;

typedef enum
{
  RAW_READ_MSG,                 /* a whole frame (or the bytes asked for) */
  RAW_READ_CLOSED,              /* EOF, reset or TLS close */
  RAW_READ_TIMEOUT,             /* nothing more within the time given */
} RawReadResult;

/* Plain TCP to @relay's port on 127.0.0.1, TCP_NODELAY, non-blocking.
 * @rcvbuf > 0: SO_RCVBUF set before connect (a small window from the
 * start). */
int           tcp_connect (DiodeRelay * relay, int rcvbuf);
/* The same to 127.0.0.1:@port, from source address @src_ip (NULL: any;
 * "127.0.0.2" is another loopback address: another client address). */
int           tcp_connect_from (const gchar * src_ip, guint port, int rcvbuf);
/* Best effort send of @len bytes (the relay may hang up before it read
 * everything); gives up after RAW_IO_MS. */
void          tcp_send (int fd, const guint8 * data, gsize len);
/* Reads and discards until the relay closes (EOF or reset). Returns how long
 * that took in ms, or -1 if it did not happen within @timeout_ms. */
gint64        tcp_wait_closed (int fd, guint timeout_ms);

/* TLS over @fd, already connected to @relay, as the identity in key file
 * @key_name inside the fixture's temp dir (created if needed). The relay's
 * certificate must carry @relay's address. */
RawClient    *raw_open_fd (DiodeRelay * relay, int fd, const gchar * key_name);
/* The same for a relay known by its address only (a diode-relay process). */
RawClient    *raw_open_fd_addr (const gchar * relay_address, int fd,
                                const gchar * key_name);
/* tcp_connect() + raw_open_fd(). */
RawClient    *raw_open (DiodeRelay * relay, int rcvbuf, const gchar * key_name);
/* Abrupt: no close_notify, just close(). @reset: SO_LINGER 0, so the kernel
 * sends RST instead of FIN. */
void          raw_free (RawClient * c, gboolean reset);

/* Sends all of @len bytes; FALSE if the relay closed first or the socket
 * stayed blocked for RAW_IO_MS. */
gboolean      raw_send (RawClient * c, const guint8 * data, gsize len);
/* Sends what the socket takes now, without waiting: the bytes taken
 * (GnuTLS rule: after AGAIN, offer the same data again), -1 if the relay
 * closed. */
gssize        raw_try_send (RawClient * c, const guint8 * data, gsize len);
/* Sends and unrefs @frame; the relay must still be reading. */
void          raw_send_frame (RawClient * c, GBytes * frame);

/* Reads plaintext until @c->rx holds at least @want bytes (never more than
 * that: a test may want to stop mid-frame), until @end (monotonic µs). */
RawReadResult raw_fill (RawClient * c, gsize want, gint64 end);
/* The next whole frame from the relay, parsed into @m (cleared by the
 * caller). A bad header or frame is a test failure. */
RawReadResult raw_read (RawClient * c, DiodeMsg * m, guint timeout_ms);
/* The next message (within RAW_IO_MS) must be of @type. */
void          raw_expect (RawClient * c, DiodeMsgType type, DiodeMsg * m);
/* The next message other than PING/PONG within @timeout_ms, answering the
 * relay's PINGs on the way (a client that does not would be closed as
 * silent after three keepalive periods). */
RawReadResult raw_next (RawClient * c, DiodeMsg * m, guint timeout_ms);
/* raw_next() within RAW_IO_MS must give a message of @type (@what names the
 * step in the failure). */
void          raw_expect_next (RawClient * c, DiodeMsgType type, DiodeMsg * m,
                               const gchar * what);
/* raw_next() must give ERROR @code whose text holds every needle given
 * after @what (NULL-terminated). */
void          raw_expect_error_says (RawClient * c, guint code,
                                     const gchar * what, ...) G_GNUC_NULL_TERMINATED;
/* Reads until the relay closes, within @timeout_ms. Every message on the way
 * must be an ERROR; the last one's code goes to @code (-1: none) and its
 * text to @text (if not NULL; free it). Returns ms until the close, -1 if
 * the relay kept the connection open. */
gint64        raw_wait_closed (RawClient * c, guint timeout_ms, gint * code,
                               gchar ** text);
/* Reads and discards plaintext (frames or not) until the relay closes.
 * Returns ms until EOF/reset, or -1 if the connection was still open after
 * @timeout_ms. */
gint64        raw_drain_until_closed (RawClient * c, guint timeout_ms);

/* The other end: a listening socket on 127.0.0.1 (port chosen by the
 * kernel, returned in @port), non-blocking, for a fake relay that a relay
 * under test links to (--upstream pointed at it). */
int           raw_listen (guint16 * port);
/* One connection accepted on @lfd within @timeout_ms, TLS server side as
 * the identity in key file @key_name; NULL if none came. */
RawClient    *raw_accept (int lfd, const gchar * key_name, guint timeout_ms);
/* TCP connections accepted (and closed at once) on @lfd within
 * @timeout_ms: how many connections the relay opened. */
guint         tcp_count_accepts (int lfd, guint timeout_ms);
/* The address of the identity in key file @key_name (created if needed). */
gchar        *raw_key_address (const gchar * key_name);

G_END_DECLS
