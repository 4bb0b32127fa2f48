# gst-diode — interoperability test: LIST and LISTING (docs/protocol.md
# section 19, appended to version 4), written from the document alone (not
# from the C code), and checks of the real relay and the real `diode ls`.
#
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import struct
import subprocess
import time

import diode_client as d
import diode_store as S
from interop_harness import HOST, Fail, expect

LIST = 0x62
LISTING = 0x63
LIMITS = {LIST: 1024, LISTING: 524288}   # 19.6
ALL, ONE = 0, 1
TRUNCATED = 1
STATES = {0: "live", 1: "recording", 2: "ended", 3: "stored"}
MAX_ENTRIES = 1000
MAX_CODEC = 64
RATE_LIMITED = 107

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "docs", "protocol.md")


# --- codec (19.1) ------------------------------------------------------------

def enc_list(mode, name=""):
    b = name.encode()
    return d.frame(LIST, struct.pack(">BH", mode, len(b)) + b)


def enc_entry(e):
    name = e["name"].encode()
    codec = (e.get("codec") or "").encode()
    owner = e.get("owner")
    out = struct.pack(">H", len(name)) + name
    out += struct.pack(">BBB", e.get("state", 0), e.get("access", 0), e.get("stored", 0))
    out += (bytes([20]) + d.address_bytes(owner)) if owner else b"\0"
    out += struct.pack(">IIQ", e.get("viewers", 0), e.get("web_viewers", 0),
                       e.get("bitrate_bps", 0))
    out += struct.pack(">H", len(codec)) + codec
    out += struct.pack(">HHIQQQQ", e.get("width", 0), e.get("height", 0),
                       e.get("framerate", 0), e.get("live_seq", 0),
                       e.get("uptime_ms", 0), e.get("bytes_in", 0),
                       e.get("bytes_out", 0))
    return out


def enc_listing(flags, entries):
    return d.frame(LISTING, struct.pack(">BH", flags, len(entries))
                   + b"".join(enc_entry(e) for e in entries))


def dec_listing(payload):
    r = d.Reader(payload, "LISTING")
    flags = r.u8("flags")
    if flags & ~TRUNCATED:
        raise d.ProtocolViolation(d.PROTOCOL, "LISTING flags 0x%02x" % flags)
    n = r.u16("count")
    if n > MAX_ENTRIES:
        raise d.ProtocolViolation(d.TOO_LARGE, "LISTING of %d entries" % n)
    entries = []
    for _ in range(n):
        e = {"name": r.name("name")}
        e["state"], e["access"], e["stored"] = r.u8("state"), r.u8("access"), r.u8("stored")
        if e["state"] > 3 or e["access"] > 2 or e["stored"] > 1:
            raise d.ProtocolViolation(d.PROTOCOL, "LISTING entry field out of range")
        olen = r.u8("owner")
        if olen not in (0, 20):
            raise d.ProtocolViolation(d.PROTOCOL, "owner of %d bytes" % olen)
        e["owner"] = "0x" + r._take(20, "owner").hex() if olen else None
        e["viewers"], e["web_viewers"] = r.u32("viewers"), r.u32("web_viewers")
        e["bitrate_bps"] = r.u64("bitrate")
        clen = r.u16("codec")
        if clen > MAX_CODEC:
            raise d.ProtocolViolation(d.TOO_LARGE, "codec of %d bytes" % clen)
        e["codec"] = r._utf8(r._take(clen, "codec"), "codec")
        e["width"], e["height"] = r.u16("width"), r.u16("height")
        e["framerate"] = r.u32("framerate")
        for k in ("live_seq", "uptime_ms", "bytes_in", "bytes_out"):
            e[k] = r.u64(k)
        entries.append(e)
    return flags, entries


def _header(raw):
    """A version-4 viewer's header check, with LISTING's limit."""
    ftype, flags, reserved, length = struct.unpack(">BBHI", raw)
    limit = d.PAYLOAD_LIMIT.get(ftype) or S.LIMITS.get(ftype) or LIMITS.get(ftype)
    if limit is None or flags or reserved or length > limit:
        raise Fail("relay sent a bad header: type 0x%02x, %d bytes" % (ftype, length))
    return ftype, length


def recv(conn, timeout=10.0):
    """Next frame of a version-4 viewer connection as (type, payload), PINGs
    answered; an ERROR raises RemoteError (a fatal one closes)."""
    return S.recv_raw(conn, timeout, header=_header)


def doc_examples(path=DOC):
    """{id: bytes} of the `<!-- example: id -->` blocks of section 19."""
    return S.doc_examples(path, section=19)


# --- checks ------------------------------------------------------------------

def check_list_selftest(ctx):
    """Section 19's byte examples, read from docs/protocol.md, equal the
    Python encoders; an entry round-trips; the refusals of 19.6."""
    ex = doc_examples()
    expect(ex.get("list-one") == enc_list(ONE, "cam"), "list-one differs")
    expect(ex.get("listing-empty") == enc_listing(0, []), "listing-empty differs")
    e = {"name": "cam", "state": 1, "access": 2, "stored": 1, "owner": "0x" + "ab" * 20,
         "viewers": 3, "web_viewers": 1, "bitrate_bps": 10 ** 6, "codec": "h264",
         "width": 1280, "height": 720, "framerate": 30000, "live_seq": 9,
         "uptime_ms": 5, "bytes_in": 7, "bytes_out": 8}
    f = enc_listing(TRUNCATED, [e])
    flags, got = dec_listing(f[d.HEADER_SIZE:])
    expect(flags == TRUNCATED and got == [e], "entry round trip: %r" % got)
    expect(len(enc_entry(e)) == 2 + 3 + 3 + 21 + 16 + 2 + 4 + 4 + 4 + 32,
           "entry size %d" % len(enc_entry(e)))
    stored = dict(e, state=3, viewers=0, web_viewers=0, bitrate_bps=0)
    flags, got = dec_listing(enc_listing(0, [stored])[d.HEADER_SIZE:])
    expect(got == [stored], "stored entry round trip: %r" % got)
    try:
        dec_listing(enc_listing(0, [dict(e, state=4)])[d.HEADER_SIZE:])
        raise Fail("LISTING entry state 4 accepted")
    except d.ProtocolViolation as v:
        expect(v.code == d.PROTOCOL, "state 4: %d" % v.code)
    for bad, code in ((struct.pack(">BH", 2, 0), d.PROTOCOL),
                      (struct.pack(">BH", 0, 1001), d.TOO_LARGE)):
        try:
            dec_listing(bad)
            raise Fail("LISTING %r accepted" % bad)
        except d.ProtocolViolation as v:
            expect(v.code == code, "LISTING %r: %d" % (bad, v.code))
    return "both examples of section 19 equal the Python encoders; entries round-trip"


def _conn(ctx, relay, who, vmax=4, role=d.ROLE_VIEWER):
    return d.Connection(HOST, relay.port, ctx.identity(who), role=role,
                        relay_id=relay.address, version_min=1, version_max=vmax)


def _sync(conn, token, timeout=10.0):
    """PING `token`, then wait for its PONG: the relay has handled every
    frame this connection sent before it."""
    conn.send_raw(d.ping(token))
    deadline = time.monotonic() + timeout
    while True:
        conn._fill(d.HEADER_SIZE, deadline)
        ftype, _, _, length = struct.unpack(">BBHI", bytes(conn._buf[:d.HEADER_SIZE]))
        conn._fill(d.HEADER_SIZE + length, deadline)
        payload = bytes(conn._buf[d.HEADER_SIZE:d.HEADER_SIZE + length])
        del conn._buf[:d.HEADER_SIZE + length]
        if ftype == d.PING:
            conn.send_raw(d.pong(struct.unpack(">Q", payload[:8])[0]))
        elif ftype == d.PONG and struct.unpack(">Q", payload[:8])[0] == token:
            return
        elif ftype == d.ERROR:
            m = d.decode(ftype, payload)
            raise d.RemoteError(m.code, m.text)


def _list(conn, mode, name=""):
    conn.send_raw(enc_list(mode, name))
    ftype, payload = recv(conn)
    expect(ftype == LISTING, "LIST answered with 0x%02x" % ftype)
    return payload, dec_listing(payload)


def check_list_relay(ctx):
    """19.2 against the real relay, from a second implementation: a public
    stream listed with its caps and live edge, a private one hidden from a
    stranger and shown to the identity its allowlist names, LIST ONE of a
    hidden stream the same bytes as of a missing one, LIST below version 4
    an unknown type (200, closed); and `diode ls --json` agrees."""
    relay = ctx.relay()
    try:
        friend = ctx.identity("list-friend")
        pubs = []
        for name, access, allow in (("lst-open", d.ACCESS_PUBLIC, ()),
                                    ("lst-secret", d.ACCESS_PRIVATE, (friend.address,))):
            p = _conn(ctx, relay, "list-pub", 4, d.ROLE_PUBLISHER)
            p.send_raw(S.publish(name, access=access, allow=allow))
            ftype, payload = recv(p)
            expect(ftype == d.PUBLISH_OK, "PUBLISH %s: 0x%02x" % (name, ftype))
            seq = S.decode(ftype, payload)["next_seq"]
            p.send_raw(d.caps("video/x-h264, stream-format=(string)byte-stream, "
                              "width=(int)640, height=(int)480, framerate=(fraction)30/1"))
            p.send_raw(d.media(seq, b"\0\0\0\1\x65key", d.F_KEYFRAME))
            p.send_raw(d.media(seq + 1, b"\0\0\0\1\x41d", 0))
            _sync(p, 4711)
            pubs.append((p, seq))

        s = _conn(ctx, relay, "list-stranger")
        _, (flags, entries) = _list(s, ALL)
        expect(flags == 0 and [e["name"] for e in entries] == ["lst-open"],
               "stranger sees %r" % [e["name"] for e in entries])
        e = entries[0]
        expect(e["state"] == 0 and e["access"] == 0 and e["codec"] == "h264"
               and e["width"] == 640 and e["height"] == 480 and e["framerate"] == 30000
               and e["live_seq"] == pubs[0][1] + 1
               and e["owner"] == ctx.identity("list-pub").address,
               "lst-open entry: %r" % e)
        hidden, _ = _list(s, ONE, "lst-secret")
        missing, (_, none) = _list(s, ONE, "lst-nothing")
        expect(none == [] and hidden == missing,
               "hidden %r vs missing %r" % (hidden, missing))

        f = _conn(ctx, relay, "list-friend")
        _, (_, entries) = _list(f, ALL)
        expect([e["name"] for e in entries] == ["lst-open", "lst-secret"],
               "friend sees %r" % [e["name"] for e in entries])

        old = _conn(ctx, relay, "list-old", vmax=3)
        old.send_raw(enc_list(ALL))
        try:
            recv(old, 5.0)
            raise Fail("a version-3 LIST was answered")
        except d.RemoteError as err:
            expect(err.code == d.PROTOCOL, "version-3 LIST: ERROR %d" % err.code)

        out = subprocess.run([ctx.diode_tool, "ls", "%s:%d" % (HOST, relay.port),
                              "--relay-id", relay.address, "--identity", friend.key_path,
                              "--json", "--timeout", "10"],
                             capture_output=True, text=True, timeout=30,
                             env=dict(os.environ, XDG_CONFIG_HOME=os.path.join(
                                 ctx.workdir, "list-tool")))
        expect(out.returncode == 0, "diode ls: %s" % out.stderr)
        js = json.loads(out.stdout)
        expect([x["name"] for x in js["streams"]] == ["lst-open", "lst-secret"]
               and js["relay_address"] == relay.address
               and js["streams"][1]["access"] == "private"
               and js["streams"][0]["framerate"] == 30.0,
               "diode ls --json: %r" % js)
        for c in [s, f] + [p for p, _ in pubs]:
            c.close()
    finally:
        relay.stop()
    return ("stranger sees only the public stream, the allowed identity both; "
            "hidden == missing; v3 LIST refused; diode ls --json agrees")
