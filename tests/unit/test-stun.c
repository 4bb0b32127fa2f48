/* gst-diode — unit tests: the relay's STUN answer (diode-stun)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * docs/protocol.md section 17.8: a Binding Request is answered, RFC 5389
 * (cookie: XOR-MAPPED-ADDRESS + FINGERPRINT) and RFC 3489 classic (no
 * cookie: MAPPED-ADDRESS), IPv4 and IPv6; everything else silently not.
 * Checked against the test vectors of RFC 5769 (a real ICE request with
 * FINGERPRINT, the XOR-MAPPED-ADDRESS bytes), handmade requests, and
 * requests made and answers read by libnice's own STUN code (the client
 * the direct paths use), in both its RFC 5389 and RFC 3489 modes.
 */
#include <gst/check/gstcheck.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stun/stunagent.h>
#include <stun/usages/bind.h>

#include "diode-stun.h"

/* RFC 5769 section 2.1: sample request (SOFTWARE "STUN test client",
 * PRIORITY,
 * ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT) */
static const guint8 rfc5769_request[] = {
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
  0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
  0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
  0x59, 0x20, 0x20, 0x20,
  0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56,
  0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
  0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 sections 2.2 and 2.3: XOR-MAPPED-ADDRESS of 192.0.2.1:32853
 * and [2001:db8:1234:5678:11:2233:4455:6677]:32853 with the transaction
 * id above */
static const guint8 rfc5769_xor_v4[] = {
  0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
};

static const guint8 rfc5769_xor_v6[] = {
  0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
  0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
  0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
};

static DiodeStunAddr
v4 (guint8 a, guint8 b, guint8 c, guint8 d, guint16 port)
{
  DiodeStunAddr x = { DIODE_STUN_FAMILY_IPV4, {a, b, c, d}, port };
  return x;
}

static DiodeStunAddr
v6_sample (void)
{
  DiodeStunAddr x = { DIODE_STUN_FAMILY_IPV6,
    {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}, 32853
  };
  return x;
}

/* a bare Binding Request: 20 bytes, @cookie or a classic 16-byte id */
static void
bare_request (guint8 req[20], gboolean cookie)
{
  guint i;

  req[0] = 0x00;
  req[1] = 0x01;
  req[2] = req[3] = 0;
  for (i = 4; i < 20; i++)
    req[i] = 0x30 + i;
  if (cookie) {
    req[4] = 0x21;
    req[5] = 0x12;
    req[6] = 0xa4;
    req[7] = 0x42;
  }
}

GST_START_TEST (test_rfc5769_vectors)
{
  DiodeStunAddr from = v4 (192, 0, 2, 1, 32853);
  guint8 out[DIODE_STUN_MAX_ANSWER], req[sizeof (rfc5769_request)];
  gsize n;

  /* the real ICE request, FINGERPRINT checked, is answered */
  n = diode_stun_answer (rfc5769_request, sizeof (rfc5769_request), &from,
      out, sizeof (out));
  fail_unless_equals_int (n, 40);
  /* Binding Success, 20 bytes of attributes, the cookie and the id */
  fail_unless (out[0] == 0x01 && out[1] == 0x01 && out[2] == 0
      && out[3] == 20);
  fail_unless (memcmp (out + 4, rfc5769_request + 4, 16) == 0);
  fail_unless (memcmp (out + 20, rfc5769_xor_v4, 12) == 0);
  /* FINGERPRINT last, and right */
  fail_unless (out[32] == 0x80 && out[33] == 0x28 && out[35] == 4);

  from = v6_sample ();
  n = diode_stun_answer (rfc5769_request, sizeof (rfc5769_request), &from,
      out, sizeof (out));
  fail_unless_equals_int (n, 52);
  fail_unless_equals_int (out[3], 32);
  fail_unless (memcmp (out + 20, rfc5769_xor_v6, 24) == 0);

  /* one bit of the FINGERPRINT, or of a byte it covers, wrong: silence */
  memcpy (req, rfc5769_request, sizeof (req));
  req[sizeof (req) - 1] ^= 1;
  fail_unless_equals_int (diode_stun_answer (req, sizeof (req), &from, out,
          sizeof (out)), 0);
  memcpy (req, rfc5769_request, sizeof (req));
  req[30] ^= 0x20;
  fail_unless_equals_int (diode_stun_answer (req, sizeof (req), &from, out,
          sizeof (out)), 0);
}

GST_END_TEST;

GST_START_TEST (test_classic_and_bare)
{
  DiodeStunAddr from = v4 (203, 0, 113, 7, 40000);
  guint8 req[20], out[DIODE_STUN_MAX_ANSWER];
  static const guint8 mapped[] = {
    0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x9c, 0x40, 203, 0, 113, 7,
  };
  gsize n;

  /* RFC 3489: no cookie, MAPPED-ADDRESS in the clear, the 16-byte id */
  bare_request (req, FALSE);
  n = diode_stun_answer (req, sizeof (req), &from, out, sizeof (out));
  fail_unless_equals_int (n, 32);
  fail_unless (out[0] == 0x01 && out[1] == 0x01 && out[2] == 0
      && out[3] == 12);
  fail_unless (memcmp (out + 4, req + 4, 16) == 0);
  fail_unless (memcmp (out + 20, mapped, sizeof (mapped)) == 0);

  /* RFC 5389 without any attribute (FINGERPRINT is not required) */
  bare_request (req, TRUE);
  n = diode_stun_answer (req, sizeof (req), &from, out, sizeof (out));
  fail_unless_equals_int (n, 40);
  fail_unless (out[20] == 0x00 && out[21] == 0x20);
  /* port 40000 ^ 0x2112, address ^ the cookie */
  fail_unless_equals_int ((out[26] << 8) | out[27], 40000 ^ 0x2112);
  fail_unless (out[28] == (203 ^ 0x21) && out[29] == (0 ^ 0x12)
      && out[30] == (113 ^ 0xa4) && out[31] == (7 ^ 0x42));

  /* an IPv4 peer seen on a dual-stack socket as ::ffff:203.0.113.7 */
  {
    DiodeStunAddr m = { DIODE_STUN_FAMILY_IPV6,
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7}, 40000
    };
    guint8 out2[DIODE_STUN_MAX_ANSWER];

    fail_unless_equals_int (diode_stun_answer (req, sizeof (req), &m, out2,
            sizeof (out2)), 40);
    fail_unless (memcmp (out, out2, 40) == 0);
  }
}

GST_END_TEST;

/* Whatever is not a sane Binding Request gets nothing. */
GST_START_TEST (test_ignored)
{
  DiodeStunAddr from = v4 (10, 0, 0, 1, 5000);
  guint8 req[DIODE_STUN_MAX_REQUEST + 4], out[DIODE_STUN_MAX_ANSWER];

#define IGNORED(len) fail_unless_equals_int (diode_stun_answer (req, (len), \
        &from, out, sizeof (out)), 0)

  memset (req, 0, sizeof (req));
  bare_request (req, TRUE);
  fail_unless_equals_int (diode_stun_answer (req, 20, &from, out,
          sizeof (out)), 40);
  /* too short */
  IGNORED (19);
  IGNORED (0);
  /* the top two bits set (not STUN), a response, an indication, another
   * method */
  req[0] = 0x40;
  IGNORED (20);
  req[0] = 0x01;
  IGNORED (20);
  req[0] = 0x00;
  req[1] = 0x11;
  IGNORED (20);
  req[1] = 0x03;
  IGNORED (20);
  req[1] = 0x01;
  /* length not what the datagram holds, or not a multiple of 4 */
  IGNORED (24);
  req[3] = 4;
  IGNORED (20);
  req[3] = 2;
  IGNORED (22);
  /* an attribute longer than the message */
  req[3] = 4;
  req[20] = 0x80;
  req[21] = 0x22;
  req[22] = 0;
  req[23] = 4;
  IGNORED (24);
  /* ... fits with its value: answered (unknown attributes are not read) */
  req[3] = 8;
  fail_unless_equals_int (diode_stun_answer (req, 28, &from, out,
          sizeof (out)), 40);
  /* a FINGERPRINT that is not last */
  req[3] = 20;
  req[28] = 0x80;
  req[29] = 0x28;
  req[30] = 0;
  req[31] = 4;
  req[36] = 0x80;
  req[37] = 0x22;
  req[38] = 0;
  req[39] = 0;
  IGNORED (40);
  /* over the 548-byte limit, however well formed */
  memset (req + 20, 0, sizeof (req) - 20);
  req[2] = (DIODE_STUN_MAX_REQUEST + 4 - 20) >> 8;
  req[3] = (DIODE_STUN_MAX_REQUEST + 4 - 20) & 0xff;
  IGNORED (DIODE_STUN_MAX_REQUEST + 4);
  /* with all-zero attributes (type 0, length 0) it is answered at 548 */
  req[2] = (DIODE_STUN_MAX_REQUEST - 20) >> 8;
  req[3] = (DIODE_STUN_MAX_REQUEST - 20) & 0xff;
  fail_unless_equals_int (diode_stun_answer (req, DIODE_STUN_MAX_REQUEST,
          &from, out, sizeof (out)), 40);

  /* nowhere to write, or nobody to answer */
  bare_request (req, TRUE);
  fail_unless_equals_int (diode_stun_answer (req, 20, &from, out, 39), 0);
  from.family = 0;
  IGNORED (20);
  from = v4 (10, 0, 0, 1, 0);
  IGNORED (20);
#undef IGNORED
}

GST_END_TEST;

/* libnice's STUN client builds the request and judges the answer: the
 * mapped address it reads must be the datagram's source. */
static void
libnice_round_trip (StunCompatibility compat, StunAgentUsageFlags flags,
    const DiodeStunAddr * from, gsize expect_len)
{
  static const uint16_t known[] = {
    STUN_ATTRIBUTE_MAPPED_ADDRESS, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS,
    STUN_ATTRIBUTE_FINGERPRINT, 0
  };
  StunAgent agent;
  StunMessage req, resp;
  guint8 buf[STUN_MAX_MESSAGE_SIZE], out[DIODE_STUN_MAX_ANSWER];
  struct sockaddr_storage mapped, alt;
  socklen_t mapped_len = sizeof (mapped), alt_len = sizeof (alt);
  gsize len, n;

  stun_agent_init (&agent, known, compat, flags);
  len = stun_usage_bind_create (&agent, &req, buf, sizeof (buf));
  fail_unless (len >= 20);
  n = diode_stun_answer (buf, len, from, out, sizeof (out));
  fail_unless_equals_int (n, expect_len);
  fail_unless (n <= len + 32, "amplification: %" G_GSIZE_FORMAT " for %"
      G_GSIZE_FORMAT, n, len);
  fail_unless_equals_int (stun_agent_validate (&agent, &resp, out, n, NULL,
          NULL), STUN_VALIDATION_SUCCESS);
  fail_unless_equals_int (stun_usage_bind_process (&resp,
          (struct sockaddr *) &mapped, &mapped_len,
          (struct sockaddr *) &alt, &alt_len), STUN_USAGE_BIND_RETURN_SUCCESS);
  if (from->family == DIODE_STUN_FAMILY_IPV4) {
    struct sockaddr_in *sin = (struct sockaddr_in *) &mapped;

    fail_unless_equals_int (sin->sin_family, AF_INET);
    fail_unless_equals_int (ntohs (sin->sin_port), from->port);
    fail_unless (memcmp (&sin->sin_addr, from->addr, 4) == 0);
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &mapped;

    fail_unless_equals_int (sin6->sin6_family, AF_INET6);
    fail_unless_equals_int (ntohs (sin6->sin6_port), from->port);
    fail_unless (memcmp (&sin6->sin6_addr, from->addr, 16) == 0);
  }
}

GST_START_TEST (test_libnice_client)
{
  DiodeStunAddr a4 = v4 (198, 51, 100, 20, 61000);
  DiodeStunAddr a6 = v6_sample ();

  /* what libnice's ICE agent sends to a STUN server (RFC 5389, with and
   * without FINGERPRINT) and its RFC 3489 compatibility mode */
  libnice_round_trip (STUN_COMPATIBILITY_RFC5389,
      STUN_AGENT_USAGE_USE_FINGERPRINT, &a4, 40);
  libnice_round_trip (STUN_COMPATIBILITY_RFC5389, 0, &a4, 40);
  libnice_round_trip (STUN_COMPATIBILITY_RFC5389,
      STUN_AGENT_USAGE_USE_FINGERPRINT, &a6, 52);
  libnice_round_trip (STUN_COMPATIBILITY_RFC3489, 0, &a4, 32);
  libnice_round_trip (STUN_COMPATIBILITY_RFC3489, 0, &a6, 44);
}

GST_END_TEST;

static Suite *
stun_suite (void)
{
  Suite *s = suite_create ("stun");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_rfc5769_vectors);
  tcase_add_test (tc, test_classic_and_bare);
  tcase_add_test (tc, test_ignored);
  tcase_add_test (tc, test_libnice_client);
  return s;
}

GST_CHECK_MAIN (stun);
