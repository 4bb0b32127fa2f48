/* gst-diode — the relay's STUN answer (sans-IO)
 * Copyright (C) 2026 gst-diode developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * RFC 5389 Binding (and the RFC 3489 "classic" form) for `diode-relay
 * --stun`: judge one datagram, build the answer. The rules are in
 * diode-stun.h and docs/protocol.md section 17.8. Everything is checked
 * against the datagram's length before it is read; nothing is allocated.
 */
#include "diode-stun.h"

#include <string.h>
#include <zlib.h>

#define STUN_BINDING_REQUEST   0x0001
#define STUN_BINDING_SUCCESS   0x0101
#define ATTR_MAPPED_ADDRESS    0x0001
#define ATTR_XOR_MAPPED        0x0020
#define ATTR_FINGERPRINT       0x8028
#define FINGERPRINT_XOR        0x5354554eu

static guint16
rd16 (const guint8 * p)
{
  return ((guint16) p[0] << 8) | p[1];
}

static guint32
rd32 (const guint8 * p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) |
      ((guint32) p[2] << 8) | p[3];
}

static void
wr16 (guint8 * p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v;
}

static void
wr32 (guint8 * p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static guint32
stun_fingerprint (const guint8 * data, gsize len)
{
  return (guint32) crc32 (0, data, len) ^ FINGERPRINT_XOR;
}

/* The attributes after the header: each within the message, padded to 4;
 * with the cookie, a FINGERPRINT is the last one and must match. */
static gboolean
attributes_valid (const guint8 * req, gsize len, gboolean rfc5389)
{
  gsize pos = DIODE_STUN_HEADER_SIZE;

  while (pos < len) {
    guint16 type, alen;
    gsize padded;

    if (len - pos < 4)
      return FALSE;
    type = rd16 (req + pos);
    alen = rd16 (req + pos + 2);
    padded = ((gsize) alen + 3) & ~(gsize) 3;
    if (len - pos - 4 < padded)
      return FALSE;
    if (rfc5389 && type == ATTR_FINGERPRINT) {
      if (alen != 4 || pos + 8 != len)
        return FALSE;
      if (rd32 (req + pos + 4) != stun_fingerprint (req, pos))
        return FALSE;
    }
    pos += 4 + padded;
  }
  return TRUE;
}

gsize
diode_stun_answer (const guint8 * req, gsize len, const DiodeStunAddr * from,
    guint8 * out, gsize out_size)
{
  gboolean rfc5389, v6;
  const guint8 *addr;
  gsize alen, n;
  guint8 *a;

  if (req == NULL || from == NULL || out == NULL)
    return 0;
  if (len < DIODE_STUN_HEADER_SIZE || len > DIODE_STUN_MAX_REQUEST)
    return 0;
  /* top two bits zero (what tells STUN from other protocols on a shared
   * port), a Binding Request, the length of the attributes that follow */
  if ((req[0] & 0xc0) != 0 || rd16 (req) != STUN_BINDING_REQUEST)
    return 0;
  if (rd16 (req + 2) % 4 != 0
      || rd16 (req + 2) != len - DIODE_STUN_HEADER_SIZE)
    return 0;
  rfc5389 = rd32 (req + 4) == DIODE_STUN_MAGIC_COOKIE;
  if (!attributes_valid (req, len, rfc5389))
    return 0;

  switch (from->family) {
    case DIODE_STUN_FAMILY_IPV4:
      v6 = FALSE;
      addr = from->addr;
      break;
    case DIODE_STUN_FAMILY_IPV6:{
      static const guint8 v4mapped[12] =
          { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

      /* a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: the
       * peer knows itself by the IPv4 address */
      v6 = memcmp (from->addr, v4mapped, 12) != 0;
      addr = v6 ? from->addr : from->addr + 12;
      break;
    }
    default:
      return 0;
  }
  if (from->port == 0)
    return 0;
  alen = v6 ? 16 : 4;
  n = DIODE_STUN_HEADER_SIZE + 4 + 4 + alen + (rfc5389 ? 8 : 0);
  if (out_size < n)
    return 0;

  /* header: the transaction id (RFC 3489: the 16 bytes after the length,
   * RFC 5389: cookie + 12) is copied as is */
  wr16 (out, STUN_BINDING_SUCCESS);
  wr16 (out + 2, n - DIODE_STUN_HEADER_SIZE);
  memcpy (out + 4, req + 4, 16);

  a = out + DIODE_STUN_HEADER_SIZE;
  wr16 (a, rfc5389 ? ATTR_XOR_MAPPED : ATTR_MAPPED_ADDRESS);
  wr16 (a + 2, 4 + alen);
  a[4] = 0;
  a[5] = v6 ? DIODE_STUN_FAMILY_IPV6 : DIODE_STUN_FAMILY_IPV4;
  if (rfc5389) {
    gsize i;

    /* XOR with the cookie (port: its top 16 bits), and for IPv6 with
     * cookie + transaction id: the bytes 4..19 of the header */
    wr16 (a + 6, from->port ^ (DIODE_STUN_MAGIC_COOKIE >> 16));
    for (i = 0; i < alen; i++)
      a[8 + i] = addr[i] ^ out[4 + i];
  } else {
    wr16 (a + 6, from->port);
    memcpy (a + 8, addr, alen);
  }

  if (rfc5389) {
    guint8 *f = a + 8 + alen;

    /* the CRC covers the message up to the attribute, with the length in
     * the header already counting the FINGERPRINT (RFC 5389 15.5) */
    wr16 (f, ATTR_FINGERPRINT);
    wr16 (f + 2, 4);
    wr32 (f + 4, stun_fingerprint (out, f - out));
  }
  return n;
}
