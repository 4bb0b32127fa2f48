# gst-diode — interoperability test: recordings (protocol version 3,
# docs/protocol.md section 15) between the Python implementation
# (diode_store.py, written from the document) and the relay's C codec and
# session.
#
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later

import struct
import time

import diode_client as d
import diode_store as S
from interop_harness import HOST, Fail, expect, expect_closed

W = 1767225600000000          # 2026-01-01T00:00:00Z in µs
A1 = "0x" + "11" * 20


def check_store_selftest(ctx):
    """Every byte example of section 15, read from docs/protocol.md itself,
    equals what the Python encoders make of its description and decodes to
    those fields; the refusals and limits the section lists; the CRC. (The
    C codec is checked against the same examples by tests/unit/
    test-msg-store.c, so the two implementations agree on them.)"""
    ex = S.doc_examples()
    want = {
        "publish-v3": S.publish("cam", pubflags=S.RECORD),
        "publish-ok-v3": S.publish_ok("cam", 1, S.STORE_RECORDING),
        "subscribe-v3": S.subscribe("cam", 0, 0, None, S.BACK, 30 * 10**9, S.BEFORE),
        "subscribe-ok-v3": S.subscribe_ok("cam", 100, None, S.S_LIVE_RECORDED, 2 * 10**9),
        "range": S.range_("cam"),
        "range-ok": S.range_ok("cam", S.S_LIVE_RECORDED, None, d.ACCESS_PUBLIC, "", [],
                               [(100, 163, 2 * 10**9, 6 * 10**9, W, W + 4000000)]),
        "fetch": S.fetch("cam", 100, 163, S.LOCAL),
        "chunk": S.chunk(100, 131, 2 * 10**9, 4 * 10**9, W, S.C_KEYFRAME, 1, 33,
                         123456, 0x12345678),
        "fetch-end": S.fetch_end(164, S.DONE),
        "stored": S.stored(163, 1048576, True),
    }
    expect(set(ex) == set(want), "examples in the document %s, expected %s"
           % (sorted(ex), sorted(want)))
    for k, v in want.items():
        expect(ex[k] == v, "example %s: document %s, Python %s" % (k, ex[k].hex(), v.hex()))
        ftype, length = S.check_header(ex[k][:8], 3)
        expect(length == len(ex[k]) - 8, "example %s: length field" % k)
    dec = {k: S.decode(ex[k][0], ex[k][8:]) for k in ex}
    expect(dec["publish-v3"]["pubflags"] == S.RECORD, "publish-v3 %r" % dec["publish-v3"])
    expect(dec["publish-ok-v3"] == {"stream": "cam", "next_seq": 1, "store": 1},
           "publish-ok-v3 %r" % dec["publish-ok-v3"])
    expect(dec["subscribe-v3"]["start_mode"] == S.BACK
           and dec["subscribe-v3"]["start_value"] == 30 * 10**9
           and dec["subscribe-v3"]["pin"] is None, "subscribe-v3 %r" % dec["subscribe-v3"])
    expect(dec["subscribe-ok-v3"]["seq"] == 100
           and dec["subscribe-ok-v3"]["start_time"] == 2 * 10**9, "subscribe-ok-v3")
    expect(dec["range-ok"]["spans"] == [(100, 163, 2 * 10**9, 6 * 10**9, W, W + 4000000)]
           and dec["range-ok"]["owner"] is None, "range-ok %r" % dec["range-ok"])
    expect(dec["fetch"]["flags"] == S.LOCAL and dec["fetch"]["to_seq"] == 163, "fetch")
    expect(dec["chunk"]["n_frames"] == 33 and dec["chunk"]["crc32"] == 0x12345678, "chunk")
    expect(dec["stored"] == {"last_seq": 163, "bytes": 1048576, "final": 1}, "stored")

    # absent blocks: the defaults
    f = S.decode(d.SUBSCRIBE_OK, d.enc_name("cam") + struct.pack(">Q", 5))
    expect(f["stream_state"] == S.S_LIVE and f["start_time"] == d.TIME_NONE,
           "SUBSCRIBE_OK without block %r" % f)
    f = S.decode(d.PUBLISH, d.enc_name("cam"))
    expect(f["pubflags"] == 0 and f["access"] == d.ACCESS_PUBLIC, "bare PUBLISH %r" % f)
    # a relay link: the block after the path
    f = S.decode(d.SUBSCRIBE, S.subscribe("cam", 0, 0, A1, S.EARLIEST, 0, S.AFTER,
                                          path=[A1])[8:], link=True)
    expect(f["pin"] == A1 and f["path"] == [A1] and f["start_mode"] == S.EARLIEST
           and f["snap"] == S.AFTER, "relay-link SUBSCRIBE %r" % f)

    name = d.enc_name("cam")
    bad = [
        (d.PUBLISH, name + b"\0\0\0\0\0" + struct.pack(">I", S.UPLOAD), d.PROTOCOL,
         "UPLOAD without RECORD"),
        (d.PUBLISH_OK, name + struct.pack(">QB", 1, 3), d.PROTOCOL, "store 3"),
        (d.SUBSCRIBE, name + struct.pack(">QIBBQB", 0, 0, 0, 5, 0, 0), d.PROTOCOL,
         "start_mode 5"),
        (d.SUBSCRIBE, name + struct.pack(">QIBBQB", 0, 0, 0, 1, 0, 3), d.PROTOCOL, "snap 3"),
        (d.SUBSCRIBE, name + struct.pack(">QIBBQB", 4, 0, 0, 1, 0, 0), d.PROTOCOL,
         "EARLIEST with start_seq 4"),
        (d.SUBSCRIBE_OK, name + struct.pack(">QBBQ", 1, 0, 3, 0), d.PROTOCOL,
         "stream_state 3"),
        (S.RANGE_OK, name + b"\0\0\0\0\0\0\0" + struct.pack(">H", 257), d.TOO_LARGE,
         "257 spans"),
        (S.RANGE_OK, name + b"\0\0\0\0\0\0\0" + struct.pack(">H", 2)
         + struct.pack(">6Q", 5, 9, 0, 0, 0, 0) + struct.pack(">6Q", 9, 12, 0, 0, 0, 0),
         d.PROTOCOL, "overlapping spans"),
        (S.RANGE_OK, name + b"\0", d.PROTOCOL, "RANGE_OK without owner and policy"),
        (S.FETCH, name + struct.pack(">QQB", 9, 8, 0), d.PROTOCOL, "FETCH 9..8"),
        (S.CHUNK, struct.pack(">5Q5I", 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), d.PROTOCOL,
         "n_frames 0"),
        (S.CHUNK, struct.pack(">5Q5I", 1, 1, 0, 0, 0, 0, 0, 65537, 65537 * 8, 0),
         d.TOO_LARGE, "n_frames 65537"),
        (S.CHUNK, struct.pack(">5Q5I", 1, 1, 0, 0, 0, 0, 0, 1, 64 * 1024 * 1024 + 1, 0),
         d.TOO_LARGE, "bytes over 64 MiB"),
        (S.CHUNK, struct.pack(">5Q5I", 1, 1, 0, 0, 0, 0, 2, 1, 8, 0), d.PROTOCOL,
         "n_prelude > n_frames"),
        (S.CHUNK, struct.pack(">5Q5I", 1, 1, 0, 0, 0, 0, 0, 2, 15, 0), d.PROTOCOL,
         "bytes below 8 per frame"),
        (S.CHUNK, struct.pack(">5Q5I", 2, 1, 0, 0, 0, 0, 0, 1, 8, 0), d.PROTOCOL,
         "first_seq > last_seq"),
        (S.FETCH_END, struct.pack(">QB", 1, 3), d.PROTOCOL, "status 3"),
        (S.STORED, struct.pack(">QQB", 1, 1, 2), d.PROTOCOL, "final 2"),
    ]
    for ftype, payload, code, what in bad:
        try:
            S.decode(ftype, payload)
            raise Fail("store selftest: %s accepted" % what)
        except d.ProtocolViolation as v:
            expect(v.code == code, "store selftest: %s gave %d, expected %d"
                   % (what, v.code, code))
    # the header limits of section 15: below version 3 the types are unknown
    for ftype, limit in S.LIMITS.items():
        S.check_header(struct.pack(">BBHI", ftype, 0, 0, limit), 3)
        for version, code in ((3, d.TOO_LARGE), (2, d.PROTOCOL)):
            try:
                S.check_header(struct.pack(">BBHI", ftype, 0, 0,
                                           limit + 1 if version == 3 else 1), version)
                raise Fail("0x%02x accepted at version %d" % (ftype, version))
            except d.ProtocolViolation as v:
                expect(v.code == code, "0x%02x at version %d: %d" % (ftype, version, v.code))
    expect(S.crc(b"123456789") == 0xCBF43926, "CRC-32 check value")
    return "section 15 examples, blocks, limits and CRC match the Python codec"


def _conn(ctx, relay, role, vmax, who="store"):
    return d.Connection(HOST, relay.port, ctx.identity(who), role=role,
                        relay_id=relay.address, version_min=1, version_max=vmax)


def _refused(ctx, relay, role, vmax, data, code, what, needle=None):
    c = _conn(ctx, relay, role, vmax)
    c.send_raw(data)
    try:
        ftype, payload = S.recv_raw(c, 5.0)
        raise Fail("%s: relay sent 0x%02x instead of ERROR %d" % (what, ftype, code))
    except d.RemoteError as e:
        expect(e.code == code, "%s: ERROR %d %r, expected %d" % (what, e.code, e.text, code))
        if needle:
            expect(needle in e.text, "%s: ERROR text %r does not say %r" % (what, e.text, needle))
    except d.ConnectionClosed as e:
        raise Fail("%s: closed without ERROR %d (%s)" % (what, code, e))
    if code >= 200:
        expect_closed(c, what)
    else:
        c.close()


def check_store_admission(ctx):
    """The relay (its C codec and session) reads the v3 blocks where section
    15 puts them and refuses what it says: version 3 negotiated for every
    role; a v3 PUBLISH (RECORD) and a v3 SUBSCRIBE (with and without a pin,
    the block after the publisher field) carry a stream to a v3 and a v1
    viewer; PUBLISH_OK and SUBSCRIBE_OK parse with or without their block;
    UPLOAD without RECORD, start_mode 5, a start mode with start_seq, FETCH
    backwards -> 200; RANGE from a publisher, RANGE at version 2, the frames
    only a relay sends -> 200; FETCH over 1 024 and RANGE_OK over 65 536
    bytes -> 202 from the header."""
    relay = ctx.relay()
    try:
        for role in (d.ROLE_PUBLISHER, d.ROLE_VIEWER, d.ROLE_RELAY):
            c = _conn(ctx, relay, role, 3)
            expect(c.version == 3, "HELLO(1..3, role %d): WELCOME version %d, expected 3"
                   % (role, c.version))
            c.close()
        # a later client gets the relay's highest, 4 (direct paths): the
        # recording frames stay known there
        c = _conn(ctx, relay, d.ROLE_VIEWER, 9)
        expect(c.version == 4, "HELLO(1..9): version %d, expected 4" % c.version)
        c.close()

        # a version-3 publisher, recording asked
        pub_id = ctx.identity("store-pub")
        p = d.Connection(HOST, relay.port, pub_id, role=d.ROLE_PUBLISHER,
                         relay_id=relay.address, version_min=1, version_max=3)
        p.send_raw(S.publish("rec-cam", pubflags=S.RECORD))
        ftype, payload = S.recv_raw(p)
        expect(ftype == d.PUBLISH_OK, "PUBLISH v3: got 0x%02x" % ftype)
        ok = S.decode(ftype, payload)
        expect(d.name_key(ok["stream"]) == d.name_key("rec-cam") and ok["next_seq"] >= 1
               and ok["store"] in (0, 1, 2), "PUBLISH_OK %r" % ok)
        seq = ok["next_seq"]
        p.send_raw(d.caps("video/x-h264, stream-format=(string)byte-stream"))
        p.send_raw(d.media(seq, b"\0\0\0\1\x65key", d.F_KEYFRAME))

        # a version-3 viewer pinning the publisher, then one pinning someone
        # else (102, a refusal: the connection stays usable)
        v = _conn(ctx, relay, d.ROLE_VIEWER, 3, "store-viewer")
        v.send_raw(S.subscribe("rec-cam", 0, 3000, A1, S.LIVE, 0, S.NEAREST))
        try:
            S.recv_raw(v)
            raise Fail("SUBSCRIBE v3 pinned to another publisher was served")
        except d.RemoteError as e:
            expect(e.code == d.NOT_AUTHORIZED, "pin mismatch: ERROR %d %r" % (e.code, e.text))
        v.send_raw(S.subscribe("rec-cam", 0, 3000, pub_id.address, S.LIVE, 0, S.BEFORE))
        ftype, payload = S.recv_raw(v)
        expect(ftype == d.SUBSCRIBE_OK, "SUBSCRIBE v3: got 0x%02x" % ftype)
        sok = S.decode(ftype, payload)
        expect(sok["seq"] == seq and sok["publisher"] == pub_id.address
               and sok["stream_state"] in (0, 1, 2), "SUBSCRIBE_OK %r" % sok)
        got = [S.recv_raw(v) for _ in range(2)]
        expect([t for t, _ in got] == [d.CAPS, d.MEDIA], "v3 viewer got %r"
               % [t for t, _ in got])
        expect(d.decode(d.MEDIA, got[1][1]).seq == seq, "v3 viewer MEDIA seq")
        # a version-1 viewer of the same stream
        v1 = d.Viewer(HOST, relay.port, ctx.identity("store-v1"), relay_id=relay.address)
        expect(v1.version == 1, "viewer offering 1..1 got %d" % v1.version)
        expect(v1.subscribe("rec-cam", 0, 3000) == seq, "v1 SUBSCRIBE_OK first_seq")
        msgs = [v1.recv(5) for _ in range(2)]
        expect([m.type for m in msgs] == [d.CAPS, d.MEDIA], "v1 viewer got %r" % msgs)
        p.send_raw(d.media(seq + 1, b"\0\0\0\1\x41delta", 0))
        expect(S.recv_raw(v)[0] == d.MEDIA, "v3 viewer: next MEDIA")
        expect(v1.recv(5).type == d.MEDIA, "v1 viewer: next MEDIA")
        for c in (v, v1, p):
            c.close()

        # refusals of the codec and the session (fatal: 200, 202)
        name = d.enc_name("cam")
        _refused(ctx, relay, d.ROLE_PUBLISHER, 3,
                 d.frame(d.PUBLISH, name + b"\0\0\0\0\0" + struct.pack(">I", S.UPLOAD)),
                 d.PROTOCOL, "PUBLISH UPLOAD without RECORD", "UPLOAD")
        _refused(ctx, relay, d.ROLE_VIEWER, 3,
                 d.frame(d.SUBSCRIBE, name + struct.pack(">QIBBQB", 0, 0, 0, 5, 0, 0)),
                 d.PROTOCOL, "SUBSCRIBE start_mode 5", "start_mode")
        _refused(ctx, relay, d.ROLE_VIEWER, 3,
                 d.frame(d.SUBSCRIBE, name + struct.pack(">QIBBQB", 7, 0, 0, 1, 0, 0)),
                 d.PROTOCOL, "SUBSCRIBE EARLIEST with start_seq 7", "start_seq")
        _refused(ctx, relay, d.ROLE_VIEWER, 3,
                 d.frame(S.FETCH, name + struct.pack(">QQB", 9, 8, 0)),
                 d.PROTOCOL, "FETCH 9..8", "to_seq")
        _refused(ctx, relay, d.ROLE_PUBLISHER, 3, S.range_("cam"), d.PROTOCOL,
                 "RANGE from a publisher", "PUBLISHER")
        _refused(ctx, relay, d.ROLE_VIEWER, 2, S.range_("cam"), d.PROTOCOL,
                 "RANGE at version 2", "version 3")
        _refused(ctx, relay, d.ROLE_RELAY, 2, S.fetch("cam", 1, 2), d.PROTOCOL,
                 "FETCH on a version-2 relay link", "version 3")
        for data, what in [(S.stored(1, 1, False), "STORED from a client"),
                           (S.fetch_end(1, 0), "FETCH_END from a client"),
                           (S.chunk(1, 1, 0, 0, 0, 0, 0, 1, 8, 0), "CHUNK from a client"),
                           (S.range_ok("cam", 0, None, 0, "", [], []), "RANGE_OK from a client")]:
            _refused(ctx, relay, d.ROLE_VIEWER, 3, data, d.PROTOCOL, what)
        _refused(ctx, relay, d.ROLE_VIEWER, 3,
                 struct.pack(">BBHI", S.FETCH, 0, 0, 1025) + b"\0" * 64,
                 d.TOO_LARGE, "FETCH of 1 025 bytes")
        _refused(ctx, relay, d.ROLE_VIEWER, 3,
                 struct.pack(">BBHI", S.RANGE_OK, 0, 0, 65537) + b"\0" * 64,
                 d.TOO_LARGE, "RANGE_OK of 65 537 bytes")
    finally:
        relay.stop()
    return ("1..3 -> v3 for every role; v3 PUBLISH/SUBSCRIBE (pin, block) served to v3 and "
            "v1 viewers; bad blocks and out-of-place v3 frames -> 200; oversized -> 202")


def check_store_relay_answers(ctx):
    """What a relay serving recordings answers (section 15): RANGE and FETCH
    of a stream it does not have -> ERROR 100, the connection usable; RANGE
    of a live stream -> RANGE_OK with its ring span up to the live edge;
    FETCH of it -> CHUNKs whose frames match count, bytes and CRC as the
    Python side computes them, then FETCH_END."""
    relay = ctx.relay()
    try:
        v = _conn(ctx, relay, d.ROLE_VIEWER, 3, "store-viewer")
        for data, what in [(S.range_("nothing-here"), "RANGE"),
                           (S.fetch("nothing-here", 1, 10), "FETCH")]:
            v.send_raw(data)
            try:
                S.recv_raw(v, 5.0)
                raise Fail("%s of an unknown stream answered" % what)
            except d.RemoteError as e:
                expect(e.code == d.NOT_FOUND, "%s of an unknown stream: ERROR %d %r"
                       % (what, e.code, e.text))
        p = d.Connection(HOST, relay.port, ctx.identity("store-pub"),
                         role=d.ROLE_PUBLISHER, relay_id=relay.address,
                         version_min=1, version_max=3)
        p.send_raw(S.publish("live-cam"))
        ftype, payload = S.recv_raw(p)
        seq = S.decode(ftype, payload)["next_seq"]
        p.send_raw(d.caps("video/x-h264"))
        for i in range(9):
            p.send_raw(d.media(seq + i, b"frame%d" % i, d.F_KEYFRAME if i % 3 == 0 else 0))
        last = seq + 8
        time.sleep(0.5)
        v.send_raw(S.range_("live-cam"))
        ftype, payload = S.recv_raw(v)
        expect(ftype == S.RANGE_OK, "RANGE: got 0x%02x" % ftype)
        r = S.decode(ftype, payload)
        expect(r["stream_state"] == S.S_LIVE and r["spans"]
               and r["spans"][-1][1] == last, "RANGE_OK %r (last seq %d)" % (r, last))
        v.send_raw(S.fetch("live-cam", seq, last))
        chunks = 0
        while True:
            ftype, payload = S.recv_raw(v)
            if ftype == S.FETCH_END:
                break
            expect(ftype == S.CHUNK, "FETCH: got 0x%02x" % ftype)
            h = S.decode(ftype, payload)
            c, n = 0, 0
            for _ in range(h["n_frames"]):
                t, pl = S.recv_raw(v)
                raw = struct.pack(">BBHI", t, 0, 0, len(pl)) + pl
                c, n = S.crc(raw, c), n + len(raw)
            expect(n == h["bytes"] and c == h["crc32"], "CHUNK %r: %d bytes, crc %08x"
                   % (h, n, c))
            chunks += 1
        expect(chunks >= 1, "FETCH of a live stream: no chunk")
        v.close()
        p.close()
    finally:
        relay.stop()
    return "RANGE/FETCH answered as section 15 says"


def _pong(conn, token, timeout=10.0):
    """PING `token`, then wait for its PONG: the relay has handled every
    frame this connection sent before it (frames are handled in order)."""
    conn.send_raw(d.ping(token))
    deadline = time.monotonic() + timeout
    while True:
        conn._fill(d.HEADER_SIZE, deadline)
        ftype, length = S.check_header(bytes(conn._buf[:d.HEADER_SIZE]), conn.version)
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


def check_live_edge(ctx):
    """Section 18, from the document alone: a version-4 viewer that joins
    four frames after a keyframe is told, in SUBSCRIBE_OK after the v3
    block, live_seq = the newest frame's seq, while first_seq is the
    keyframe's, and then gets the keyframe and the four; a version-3
    viewer's SUBSCRIBE_OK ends with the v3 block (no live_seq)."""
    relay = ctx.relay()
    try:
        p = _conn(ctx, relay, d.ROLE_PUBLISHER, 4, "live-pub")
        expect(p.version == 4, "publisher offering 1..4 got version %d" % p.version)
        p.send_raw(S.publish("live-cam"))
        ftype, payload = S.recv_raw(p)
        expect(ftype == d.PUBLISH_OK, "PUBLISH: got 0x%02x" % ftype)
        seq = S.decode(ftype, payload)["next_seq"]
        p.send_raw(d.caps("video/x-h264, stream-format=(string)byte-stream"))
        p.send_raw(d.media(seq, b"\0\0\0\1\x65key", d.F_KEYFRAME))
        for i in range(1, 5):
            p.send_raw(d.media(seq + i, b"\0\0\0\1\x41delta%d" % i, 0))
        _pong(p, 4242)

        v = _conn(ctx, relay, d.ROLE_VIEWER, 4, "live-view")
        v.send_raw(S.subscribe("live-cam", 0, 3000))
        ftype, payload = S.recv_raw(v)
        expect(ftype == d.SUBSCRIBE_OK, "SUBSCRIBE v4: got 0x%02x" % ftype)
        sok = S.decode(ftype, payload)
        expect(sok["seq"] == seq and sok["live_seq"] == seq + 4,
               "SUBSCRIBE_OK at version 4: first_seq %d, live_seq %d; expected "
               "%d and %d" % (sok["seq"], sok["live_seq"], seq, seq + 4))
        got = [S.recv_raw(v) for _ in range(6)]
        expect([t for t, _ in got] == [d.CAPS] + [d.MEDIA] * 5,
               "v4 viewer got %r" % [t for t, _ in got])
        expect([d.decode(d.MEDIA, pl).seq for _, pl in got[1:]]
               == list(range(seq, seq + 5)), "v4 viewer: MEDIA seqs")

        v3 = _conn(ctx, relay, d.ROLE_VIEWER, 3, "live-view3")
        v3.send_raw(S.subscribe("live-cam", 0, 3000))
        ftype, payload = S.recv_raw(v3)
        expect(ftype == d.SUBSCRIBE_OK, "SUBSCRIBE v3: got 0x%02x" % ftype)
        # stream, first_seq, publisher (length 20 and the address),
        # stream_state, start_time
        expect(len(payload) == 2 + len("live-cam") + 8 + 1 + 20 + 1 + 8,
               "SUBSCRIBE_OK at version 3 is %d bytes: the v3 block must end it"
               % len(payload))
        for c in (v, v3, p):
            c.close()
    finally:
        relay.stop()
    return ("v4 SUBSCRIBE_OK: first_seq at the keyframe, live_seq at the newest "
            "frame (4 later); v3: ends with the v3 block")
