# gst-diode — interoperability test: relay links (protocol version 2,
# docs/protocol.md section 14) between the Python implementation and the
# relay.
#
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later

import diode_client as d
import diode_links as L
from interop_harness import HOST, Fail, expect, expect_closed, raw_error

A1 = "0x" + "11" * 20
A2 = "0x" + "22" * 20
A3 = "0x" + "33" * 20


def check_links_selftest(ctx):
    """The examples of section 14, byte for byte, and the path limits, from
    the Python encoders written from the document."""
    ex = bytes.fromhex("4100000000000029" "02") + b"\x11" * 20 + b"\x22" * 20
    expect(L.link_ok([A1, A2]) == ex, "LINK_OK example of section 14")
    ex = bytes.fromhex("4300000000000022" "000363616d" "0000000000000005" "01") + b"\x33" * 20
    expect(L.pull("cam", 5, [A3]) == ex, "PULL example of section 14")
    ex = bytes.fromhex("4200000000000006" "00" "0003") + b"cam"
    expect(L.announce(L.WITHDRAWN, "cam") == ex, "ANNOUNCE example of section 14")
    ex = (bytes.fromhex("1200000000000027" "0003") + b"cam"
          + bytes.fromhex("0000000000000000" "00000bb8" "00" "01") + b"\x33" * 20)
    expect(L.subscribe_relay("cam", 0, 3000, None, [A3]) == ex,
           "SUBSCRIBE example of section 14")
    expect(L.link() == bytes.fromhex("4000000000000000"), "LINK")
    f = L.decode(L.ANNOUNCE, L.announce(L.AVAILABLE, "cam", A1, d.ACCESS_PRIVATE,
                                        "", [A2], [A3, A1])[8:])
    expect(f == {"op": 1, "stream": "cam", "owner": A1, "access": 2,
                 "fleet": "", "allow": [A2], "path": [A3, A1]}, "ANNOUNCE round trip %r" % f)
    for payload, ftype, code, what in [
            (b"\x21" + b"\x44" * (33 * 20), L.LINK_OK, d.TOO_LARGE, "path of 33"),
            (b"\x02" + b"\x44" * 30, L.LINK_OK, d.PROTOCOL, "path ending early"),
            (b"\x07\x00\x03cam", L.ANNOUNCE, d.PROTOCOL, "ANNOUNCE op 7")]:
        try:
            L.decode(ftype, payload)
            raise Fail("links selftest: %s accepted" % what)
        except d.ProtocolViolation as v:
            expect(v.code == code, "links selftest: %s gave %d" % (what, v.code))
    f = L.decode(d.SUBSCRIBE_OK, d.enc_name("cam") + b"\0" * 8 + b"\0")
    expect(f["access"] == d.ACCESS_PRIVATE and not f["has_policy"],
           "SUBSCRIBE_OK without policy must fail closed")
    return "section 14 examples and limits match the Python codec"


def check_links_admission(ctx):
    """What the relay admits on and off relay links (sections 3, 5, 14),
    decided before any relay-link behaviour: version 2 for role RELAY, the
    new types unknown elsewhere, LINK only from a relay, ANNOUNCE only once
    LINKED, PULL and LINK_OK never towards a relay, a path over 32."""
    relay = ctx.relay()
    try:
        ident = ctx.identity("links")

        def conn(role, vmax):
            return d.Connection(HOST, relay.port, ident, role=role,
                                relay_id=relay.address, version_min=1,
                                version_max=vmax)

        c = conn(d.ROLE_RELAY, 2)
        expect(c.version == 2, "HELLO(1..2, RELAY): WELCOME version %d, expected 2"
               % c.version)
        c.close()
        # a viewer at version 2 is no relay: LINK is an unknown type for it
        c = conn(d.ROLE_VIEWER, 2)
        expect(c.version == 2, "viewer offering 1..2 got version %d" % c.version)
        e, _ = raw_error(c, L.link(), d.PROTOCOL, "LINK from a viewer")
        expect("relay links" in e.text, "ERROR 200 text: %r" % e.text)
        expect_closed(c, "LINK from a viewer")
        # ANNOUNCE before LINK_OK
        c = conn(d.ROLE_RELAY, 2)
        raw_error(c, L.announce(L.WITHDRAWN, "cam"), d.PROTOCOL,
                  "ANNOUNCE before LINK")
        expect_closed(c, "ANNOUNCE before LINK")
        # frames a relay only sends
        for data, what in [(L.pull("cam"), "PULL to a relay"),
                           (L.link_ok([A1]), "LINK_OK to a relay")]:
            c = conn(d.ROLE_RELAY, 2)
            raw_error(c, data, d.PROTOCOL, what)
            expect_closed(c, what)
        # a pull whose path passes 32 relays: 202 from the payload
        c = conn(d.ROLE_RELAY, 2)
        too_long = (d.enc_name("cam") + b"\0" * 12 + b"\0" + b"\x21"
                    + b"\x44" * (33 * 20))
        raw_error(c, d.frame(d.SUBSCRIBE, too_long), d.TOO_LARGE,
                  "SUBSCRIBE with a path of 33")
        expect_closed(c, "SUBSCRIBE with a path of 33")
    finally:
        relay.stop()
    return ("RELAY 1..2 -> v2; LINK from a viewer, ANNOUNCE before LINK, PULL and "
            "LINK_OK to a relay -> 200; path of 33 -> 202")
