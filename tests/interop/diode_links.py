# gst-diode — interoperability test: the relay-link frames of protocol
# version 2, written from docs/protocol.md section 14 alone (not from the C
# code), as a second implementation of that section.
#
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Encoders and decoders for LINK, LINK_OK, ANNOUNCE, PULL and the fields
version 2 appends to PUBLISH, SUBSCRIBE and SUBSCRIBE_OK on a relay link
(role RELAY, version 2)."""

import struct

import diode_client as d

LINK = 0x40
LINK_OK = 0x41
ANNOUNCE = 0x42
PULL = 0x43
LOOP = 104

WITHDRAWN = 0
AVAILABLE = 1

PATH_MAX = 32
LIMITS = {LINK: 1024, LINK_OK: 1024, PULL: 1024, ANNOUNCE: 49152,
          d.SUBSCRIBE_OK: 49152}
NAMES = {LINK: "LINK", LINK_OK: "LINK_OK", ANNOUNCE: "ANNOUNCE", PULL: "PULL"}


def enc_path(path):
    if len(path) > PATH_MAX:
        raise ValueError("a path holds at most %d relays" % PATH_MAX)
    return struct.pack(">B", len(path)) + b"".join(d.address_bytes(a) for a in path)


def enc_owner(address):
    """The publisher-field layout: u8 0 or 20, then the bytes."""
    if address is None:
        return b"\0"
    return b"\x14" + d.address_bytes(address)


def link():
    return d.frame(LINK, b"")


def link_ok(path):
    return d.frame(LINK_OK, enc_path(path))


def announce(op, name, owner=None, access=d.ACCESS_PUBLIC, fleet="", allow=(),
             path=()):
    p = struct.pack(">B", op) + d.enc_name(name)
    if op == AVAILABLE:
        p += enc_owner(owner) + d.enc_policy(access, fleet, allow) + enc_path(path)
    return d.frame(ANNOUNCE, p)


def pull(name, start_seq=0, path=()):
    return d.frame(PULL, d.enc_name(name) + struct.pack(">Q", start_seq)
                   + enc_path(path))


def subscribe_relay(name, start_seq=0, wait_ms=0, pin=None, path=()):
    return d.frame(d.SUBSCRIBE, d.enc_name(name)
                   + struct.pack(">QI", start_seq, wait_ms) + enc_owner(pin)
                   + enc_path(path))


def publish_relay(name, access, fleet, allow, owner, path):
    return d.frame(d.PUBLISH, d.enc_name(name) + d.enc_policy(access, fleet, allow)
                   + enc_owner(owner) + enc_path(path))


def _address(b):
    return "0x" + b.hex()


def _path(r):
    n = r.u8("path count")
    if n > PATH_MAX:
        raise d.ProtocolViolation(d.TOO_LARGE, "%s: path of %d relays, limit %d"
                                  % (r.what, n, PATH_MAX))
    return [_address(r._take(20, "path")) for _ in range(n)]


def _owner(r):
    if r.pos == len(r.b):
        return None
    n = r.u8("owner")
    if n == 0:
        return None
    if n != 20:
        raise d.ProtocolViolation(d.PROTOCOL, "%s: address of %d bytes" % (r.what, n))
    return _address(r._take(20, "owner"))


def _policy(r):
    access = r.u8("access")
    if access > d.ACCESS_PRIVATE:
        raise d.ProtocolViolation(d.PROTOCOL, "%s: access %d" % (r.what, access))
    fleet = r.string("fleet").decode("utf-8")
    n = r.u16("allow count")
    if n > d.ALLOW_MAX:
        raise d.ProtocolViolation(d.TOO_LARGE, "%s: %d addresses" % (r.what, n))
    return access, fleet, [_address(r._take(20, "allow")) for _ in range(n)]


def decode(ftype, payload):
    """A payload received on a relay link -> dict of its fields."""
    r = d.Reader(payload, NAMES.get(ftype, d.TYPE_NAMES.get(ftype, "?")))
    if ftype == LINK:
        return {}
    if ftype == LINK_OK:
        return {"path": _path(r)}
    if ftype == ANNOUNCE:
        op = r.u8("op")
        if op not in (AVAILABLE, WITHDRAWN):
            raise d.ProtocolViolation(d.PROTOCOL, "ANNOUNCE: op %d" % op)
        f = {"op": op, "stream": r.name("stream"), "path": []}
        if op == AVAILABLE:
            f["owner"] = _owner(r)
            f["access"], f["fleet"], f["allow"] = _policy(r)
            f["path"] = _path(r)
        return f
    if ftype == PULL:
        return {"stream": r.name("stream"), "start_seq": r.u64("start_seq"),
                "path": _path(r)}
    if ftype == d.SUBSCRIBE_OK:
        f = {"stream": r.name("stream"), "seq": r.u64("first_seq"),
             "publisher": _owner(r), "path": []}
        if r.pos == len(r.b):
            # no policy fields: fail closed (section 14)
            f["access"], f["fleet"], f["allow"] = d.ACCESS_PRIVATE, "", []
            f["has_policy"] = False
            return f
        f["access"], f["fleet"], f["allow"] = _policy(r)
        f["has_policy"] = True
        if r.pos < len(r.b):
            f["path"] = _path(r)
        return f
    raise ValueError("not a relay-link payload: type 0x%02x" % ftype)
