/* gst-diode — fuzzing: the relay's STUN answer (gst/protocol/diode-stun.c)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Anyone on the internet may send the relay's --stun port any datagram
 * from any (spoofed) source. The input is a source and a datagram: byte 0
 * picks the family (bit 0 and 1: IPv4, IPv6, IPv4-mapped IPv6, unknown),
 * bytes 1..16 the address, 17..18 the port, the rest is the datagram
 * (given with its exact length, so a read past it is an ASan error).
 * Checks, each written again from docs/protocol.md section 17.8:
 *  - an answer only to a datagram of 20..548 bytes with the top two bits
 *    zero, type 0x0001, a length field that is a multiple of 4 and equal
 *    to the size minus 20, from a known family and a port other than 0;
 *  - the answer is at most DIODE_STUN_MAX_ANSWER bytes and never more
 *    than the request + 32 (no amplification);
 *  - it is a Binding Success (0x0101) whose length field is its size
 *    minus 20, with the request's 16 bytes after the length; with the
 *    magic cookie an XOR-MAPPED-ADDRESS that un-XORs to the source and a
 *    correct, last FINGERPRINT; without it a MAPPED-ADDRESS of the source;
 *    an IPv4-mapped source is answered as IPv4;
 *  - the same input gives the same answer; one byte less room gives none;
 *    the answer itself, sent back, is never answered (it is a response).
 */
#include "fuzz-common.h"

#include <zlib.h>

#include "diode-stun.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_glib_setup (argc, argv);
  return 0;
}

static guint16
be16 (const guint8 * p)
{
  return ((guint16) p[0] << 8) | p[1];
}

static void
check_answer (const guint8 * req, gsize len, const DiodeStunAddr * from,
    const guint8 * out, gsize n)
{
  gboolean cookie = fuzz_be32 (req + 4) == DIODE_STUN_MAGIC_COOKIE;
  gboolean v6 = from->family == DIODE_STUN_FAMILY_IPV6;
  const guint8 *addr = from->addr;
  const guint8 *a = out + 20;
  gsize alen, i;

  if (v6) {
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0xff, 0xff
    };
    if (memcmp (addr, mapped, 12) == 0) {
      v6 = FALSE;
      addr += 12;
    }
  }
  alen = v6 ? 16 : 4;

  FUZZ_CHECK (n <= DIODE_STUN_MAX_ANSWER && n <= len + 32,
      "answer of %zu bytes to %zu", n, len);
  FUZZ_CHECK (n == 20 + 4 + 4 + alen + (cookie ? 8 : 0), "answer size %zu",
      n);
  FUZZ_CHECK (be16 (out) == 0x0101 && be16 (out + 2) == n - 20,
      "answer header %04x %u", be16 (out), be16 (out + 2));
  FUZZ_CHECK (memcmp (out + 4, req + 4, 16) == 0, "transaction id changed");
  FUZZ_CHECK (be16 (a) == (cookie ? 0x0020 : 0x0001)
      && be16 (a + 2) == 4 + alen && a[4] == 0
      && a[5] == (v6 ? 2 : 1), "mapped address attribute header");
  if (cookie) {
    guint32 crc;

    FUZZ_CHECK ((be16 (a + 6) ^ 0x2112) == from->port, "XOR port");
    for (i = 0; i < alen; i++)
      FUZZ_CHECK ((a[8 + i] ^ req[4 + i]) == addr[i], "XOR address byte %zu",
          i);
    FUZZ_CHECK (be16 (a + 8 + alen) == 0x8028 && be16 (a + 10 + alen) == 4,
        "FINGERPRINT not last");
    crc = (guint32) crc32 (0, out, 20 + 8 + alen) ^ 0x5354554eu;
    FUZZ_CHECK (fuzz_be32 (a + 12 + alen) == crc, "FINGERPRINT wrong");
  } else {
    FUZZ_CHECK (be16 (a + 6) == from->port, "port");
    FUZZ_CHECK (memcmp (a + 8, addr, alen) == 0, "address");
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  DiodeStunAddr from;
  const guint8 *req;
  guint8 *copy, out[DIODE_STUN_MAX_ANSWER + 16], out2[DIODE_STUN_MAX_ANSWER];
  gsize len, n;
  gboolean sane;

  if (size < 19)
    return 0;
  memset (&from, 0, sizeof (from));
  switch (data[0] & 3) {
    case 0:
      from.family = DIODE_STUN_FAMILY_IPV4;
      break;
    case 1:
      from.family = DIODE_STUN_FAMILY_IPV6;
      break;
    case 2:
      from.family = DIODE_STUN_FAMILY_IPV6;
      break;
    default:
      from.family = data[0];
      break;
  }
  memcpy (from.addr, data + 1, 16);
  if ((data[0] & 3) == 2) {
    memset (from.addr, 0, 10);
    from.addr[10] = from.addr[11] = 0xff;
  }
  from.port = be16 (data + 17);
  len = size - 19;
  /* an exact-size copy: ASan sees any read past the datagram */
  copy = len ? g_memdup2 (data + 19, len) : g_malloc0 (1);
  req = copy;

  n = diode_stun_answer (req, len, &from, out, sizeof (out));
  sane = len >= 20 && len <= 548 && (req[0] & 0xc0) == 0
      && be16 (req) == 0x0001 && be16 (req + 2) % 4 == 0
      && be16 (req + 2) == len - 20 && from.port != 0
      && (from.family == DIODE_STUN_FAMILY_IPV4
      || from.family == DIODE_STUN_FAMILY_IPV6);
  if (n)
    FUZZ_CHECK (sane, "answered a datagram that is no sane Binding Request");
  if (n) {
    check_answer (req, len, &from, out, n);
    FUZZ_CHECK (diode_stun_answer (req, len, &from, out2, sizeof (out2)) == n
        && memcmp (out, out2, n) == 0, "a second answer differs");
    FUZZ_CHECK (diode_stun_answer (req, len, &from, out2, n - 1) == 0,
        "answered into too small a buffer");
    FUZZ_CHECK (diode_stun_answer (out, n, &from, out2, sizeof (out2)) == 0,
        "answered its own answer");
  } else if (sane && len == 20) {
    /* no attributes: nothing else can be wrong */
    FUZZ_CHECK (FALSE, "a bare Binding Request was not answered");
  }
  g_free (copy);
  return 0;
}
