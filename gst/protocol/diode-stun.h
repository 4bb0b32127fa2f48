/* gst-diode — the relay's STUN answer as a sans-IO codec
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * `diode-relay --stun HOST:PORT` answers STUN Binding requests on one UDP
 * socket so that ICE (libnice) finds each end's server-reflexive address
 * without a third-party STUN server (docs/protocol.md section 17.8). The
 * socket lives in relay/diode-relay-stun.c; the bytes are judged and the
 * answer is built here, with no socket types, so it can be unit-tested
 * and fuzzed on its own.
 *
 * What is answered: a Binding Request (type 0x0001) whose header is sane
 * (top two bits zero, length a multiple of 4 equal to the datagram's size
 * minus 20, datagram of 20..DIODE_STUN_MAX_REQUEST bytes) and whose
 * attributes are well formed (each within the message; a FINGERPRINT, if
 * present, last and correct). Everything else (responses, indications,
 * other methods, malformed datagrams) gets no answer: a UDP answerer that
 * replies to junk is an amplifier and an oracle.
 *
 *  - RFC 5389 (magic cookie 0x2112A442 at bytes 4..7): Binding Success
 *    Response with XOR-MAPPED-ADDRESS and FINGERPRINT.
 *  - RFC 3489 "classic" (no cookie; libnice's compatibility modes can send
 *    these): Binding Response with MAPPED-ADDRESS, the same 16-byte
 *    transaction id.
 *
 * Attributes of the request other than FINGERPRINT are not interpreted
 * (USERNAME, MESSAGE-INTEGRITY, unknown ones): the answer carries no
 * integrity and reveals only what the datagram's source already knows.
 * The answer is at most DIODE_STUN_MAX_ANSWER bytes, never more than the
 * request + 32 bytes (no amplification).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Address families as STUN writes them in (XOR-)MAPPED-ADDRESS. */
#define DIODE_STUN_FAMILY_IPV4  0x01
#define DIODE_STUN_FAMILY_IPV6  0x02

#define DIODE_STUN_HEADER_SIZE  20
#define DIODE_STUN_MAX_REQUEST  548   /* RFC 5389 section 7.1's safe size */
#define DIODE_STUN_MAX_ANSWER   52    /* header + XOR-MAPPED-ADDRESS (IPv6)
                                         + FINGERPRINT */
#define DIODE_STUN_MAGIC_COOKIE 0x2112A442u

/* Where the request came from, as the relay's recvfrom() saw it.
 * @family: DIODE_STUN_FAMILY_IPV4 (@addr holds 4 bytes, network order) or
 * DIODE_STUN_FAMILY_IPV6 (16 bytes; an IPv4-mapped ::ffff:a.b.c.d source,
 * as a dual-stack socket reports IPv4 peers, is answered as IPv4).
 * @port: host byte order. */
typedef struct {
  guint8  family;
  guint8  addr[16];
  guint16 port;
} DiodeStunAddr;

/* Judges the datagram @req (@len bytes) received from @from and, when it is
 * a Binding Request to answer, writes the answer into @out and returns its
 * length. Returns 0 (send nothing) for everything else, including an
 * @out_size too small (DIODE_STUN_MAX_ANSWER is always enough) or an
 * unknown @from->family. Pure function: no state, no allocation. */
gsize diode_stun_answer (const guint8 *req, gsize len,
                         const DiodeStunAddr *from,
                         guint8 *out, gsize out_size);

G_END_DECLS
