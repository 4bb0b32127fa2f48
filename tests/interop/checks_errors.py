# gst-diode — interoperability checks of the error paths: the client's own
# codec, malformed and out-of-state frames, version negotiation, names and
# sequence numbers, TLS and certificates, shutdown.
#
# Copyright (C) 2026 the gst-diode authors. LGPL-2.1-or-later.

import os
import subprocess

import diode_client as d
from interop_harness import HOST, Fail, expect, expect_closed, expect_remote_error, raw_error


def check_selftest(ctx):
    """The client's own codec against the document's examples and limits
    (no relay): what the receive-side checks do must be right before they
    are trusted against the relay."""
    ex = bytes.fromhex("0100000000000014000100010100" "0d") + b"gst-diode/0.1"
    expect(d.hello(1, 1, d.ROLE_PUBLISHER, "gst-diode/0.1") == ex, "HELLO example of section 6")
    pol = bytes.fromhex("14000000000000190200000001"
                        "00112233445566778899aabbccddeeff00112233")
    expect(d.policy(d.ACCESS_PRIVATE, "", ["0x00112233445566778899aabbccddeeff00112233"]) == pol,
           "POLICY example of section 6")
    bad = [
        (b"\x05\0\0\0\0\0\0\0", d.PROTOCOL, "unknown type"),
        (b"\x30\x01\0\0\0\0\0\x08", d.PROTOCOL, "flags"),
        (b"\x30\0\0\x01\0\0\0\x08", d.PROTOCOL, "reserved"),
        (b"\x30\0\0\0\0\x01\0\x01", d.TOO_LARGE, "PING over 64 KiB"),
        (b"\x20\0\0\0\0\x10\0\x01", d.TOO_LARGE, "CAPS over 1 MiB"),
        (b"\x21\0\0\0\x01\0\0\x01", d.TOO_LARGE, "MEDIA over 16 MiB"),
    ]
    for hdr, code, what in bad:
        try:
            d.check_header(hdr)
            raise Fail("selftest: header with %s accepted" % what)
        except d.ProtocolViolation as v:
            expect(v.code == code, "selftest: %s gave %d" % (what, v.code))
    d.check_header(b"\x21\0\0\0\x01\0\0\x00")  # exactly 16 MiB is fine
    for payload, code, what in [
            (b"\x00\x01\x00\x00\x03\x20\x10\x01" + b"a" * 4097, d.TOO_LARGE, "WELCOME agent over 4096"),
            (b"\x00\x01\x00\x00\x03\x20\x00\x02\xff\xfe", d.PROTOCOL, "WELCOME agent not UTF-8"),
            (b"\x00\x01\x00\x00", d.PROTOCOL, "WELCOME cut short")]:
        try:
            d.decode(d.WELCOME, payload)
            raise Fail("selftest: %s accepted" % what)
        except d.ProtocolViolation as v:
            expect(v.code == code, "selftest: %s gave %d" % (what, v.code))
    for name in ["", "a/b", "a\x00", "x\x85", "x" * 256]:
        try:
            d.check_name(name)
            raise Fail("selftest: bad name %r accepted" % name)
        except d.BadName:
            pass
    d.check_name("caméra-1 ✓")
    expect(len(d.repair_text("é" * 3000)) == 4096, "text cut at a character boundary")
    return "codec matches the examples of section 6 and rejects bad headers/fields"


def check_d_malformed_frames(ctx):
    relay = ctx.relay()
    try:
        return _check_d(ctx, relay)
    finally:
        relay.stop()


def _check_d(ctx, relay):
    done = []

    def fresh(role=d.ROLE_VIEWER, **kw):
        return d.Connection(HOST, relay.port, ctx.identity("errs"), role=role,
                            relay_id=relay.address, **kw)

    def case(what, data, code, role=d.ROLE_VIEWER, setup=None):
        c = fresh(role)
        if setup:
            setup(c)
        _, took = raw_error(c, data, code, what)
        expect_closed(c, what)
        done.append(what)
        return took

    F = d.frame
    case("unknown type 0x05", F(0x05, b""), d.PROTOCOL)
    case("nonzero flags", F(d.PING, b"\0" * 8, flags=1), d.PROTOCOL)
    case("nonzero reserved", F(d.PING, b"\0" * 8, reserved=1), d.PROTOCOL)
    # Only the 8 header bytes: the relay must judge them without the payload.
    took = case("PING header announcing 64 KiB + 1", b"\x30\0\0\0\x00\x01\x00\x01", d.TOO_LARGE)
    expect(took < 4, "TOO_LARGE took %.1f s: judged only after a timeout?" % took)
    case("MEDIA header announcing 4 GiB", b"\x21\0\0\0\xff\xff\xff\xff", d.TOO_LARGE, d.ROLE_PUBLISHER)
    case("CAPS header announcing 1 MiB + 1", b"\x20\0\0\0\x00\x10\x00\x01", d.TOO_LARGE, d.ROLE_PUBLISHER)
    case("SUBSCRIBE cut short", F(d.SUBSCRIBE, d.enc_name("x") + b"\0\0\0\0\0\0\0\0\0"), d.PROTOCOL)
    case("PUBLISH name with '/'", F(d.PUBLISH, d.enc_string(b"a/b")), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("PUBLISH empty name", F(d.PUBLISH, d.enc_string(b"")), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("PUBLISH 256-byte name", F(d.PUBLISH, d.enc_string(b"n" * 256)), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("SUBSCRIBE name with U+0085", F(d.SUBSCRIBE, d.enc_string("a\x85".encode()) + b"\0" * 12),
         d.PROTOCOL)
    case("PUBLISH access 3", F(d.PUBLISH, d.enc_name("p3") + b"\x03\0\0\0\0"), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("PUBLISH fleet with '/'", F(d.PUBLISH, d.enc_name("pf") + b"\x01" + d.enc_string(b"a/b") + b"\0\0"),
         d.PROTOCOL, d.ROLE_PUBLISHER)
    case("PUBLISH 2049 allowed addresses",
         F(d.PUBLISH, d.enc_name("pa") + b"\x02\0\0" + (2049).to_bytes(2, "big") + b"\x11" * 20 * 2049),
         d.TOO_LARGE, d.ROLE_PUBLISHER)
    case("PUBLISH from a VIEWER", d.publish("pv"), d.PROTOCOL, d.ROLE_VIEWER)
    case("SUBSCRIBE from a PUBLISHER", d.subscribe("sp"), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("CAPS before PUBLISH_OK", d.caps("a/b"), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("POLICY before PUBLISH_OK", d.policy(d.ACCESS_PUBLIC), d.PROTOCOL, d.ROLE_PUBLISHER)
    case("HELLO twice", d.hello(), d.PROTOCOL)

    def published(name, with_caps=True, media=0):
        def setup(c):
            c.publish(name)
            if with_caps:
                c.send_raw(d.caps("application/x-test"))
            for i in range(media):
                c.send_raw(d.media(i + 1, b"m", d.F_KEYFRAME))
        return setup

    case("MEDIA before CAPS", d.media(1, b"x", d.F_KEYFRAME), d.PROTOCOL, d.ROLE_PUBLISHER,
         published("mbc", with_caps=False))
    case("MEDIA seq not above the last", d.media(2, b"x"), d.PROTOCOL, d.ROLE_PUBLISHER,
         published("seq", media=2))
    case("CAPS over 1 048 572 caps bytes", F(d.CAPS, (1048573).to_bytes(4, "big") + b"a" * 1048572),
         d.TOO_LARGE, d.ROLE_PUBLISHER, published("bigcaps", with_caps=False))
    case("CAPS not UTF-8", F(d.CAPS, b"\0\0\0\x02\xff\xfe"), d.PROTOCOL, d.ROLE_PUBLISHER,
         published("caps8", with_caps=False))

    def ended(c):
        published("after-eos", media=1)(c)
        c.send_raw(d.eos(1))
    case("CAPS after EOS", d.caps("application/x-test"), d.PROTOCOL, d.ROLE_PUBLISHER, ended)
    case("SUBSCRIBE while SUBSCRIBED", d.subscribe("after-eos"), d.PROTOCOL, d.ROLE_VIEWER,
         lambda c: c.subscribe("after-eos", 0, 2000))

    # Before HELLO: anything else is refused.
    c = fresh(send_hello=False)
    _, _ = raw_error(c, d.ping(1), d.PROTOCOL, "PING before HELLO")
    done.append("PING before HELLO")
    # HELLO problems, each on a fresh connection without our HELLO.
    for what, data, code in [
            ("HELLO role 4", d.hello(1, 1, 4), d.PROTOCOL),
            ("HELLO agent not UTF-8", F(d.HELLO, b"\0\x01\0\x01\x02\0\x02\xff\xfe"), d.PROTOCOL),
            ("HELLO agent of 4097 bytes", F(d.HELLO, b"\0\x01\0\x01\x02" + (4097).to_bytes(2, "big") + b"a" * 4097),
             d.TOO_LARGE)]:
        c = fresh(send_hello=False)
        raw_error(c, data, code, what)
        expect_closed(c, what)
        done.append(what)
    return "%d malformed or out-of-state frames each answered with the code of sections 3/4/6/8" % len(done)


def check_d_version_negotiation(ctx):
    relay = ctx.relay()
    try:
        ident = ctx.identity("ver")
        # relays speak 1..4 (version 2 adds relay links, 3 recordings, 4 direct
        # paths, section 5)
        for lo, hi in [(5, 6), (0, 0), (4, 3), (0xFFFF, 0xFFFF)]:
            c = d.Connection(HOST, relay.port, ident, relay_id=relay.address, send_hello=False)
            e, _ = raw_error(c, d.hello(lo, hi, d.ROLE_VIEWER), d.VERSION, "HELLO %d..%d" % (lo, hi))
            expect_closed(c, "HELLO %d..%d" % (lo, hi))
            if (lo, hi) == (5, 6):
                expect("5..6" in e.text and "1..4" in e.text, "ERROR 201 text does not name the ranges: %r" % e.text)
        # the highest common version: 4 for a viewer offering up to 7, 2 for
        # one offering up to 2 (version 2 changes nothing for viewers), 1 for
        # one offering 1..1
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address, version_min=0, version_max=7)
        expect(c.version == 4, "HELLO 0..7: WELCOME version %d, expected 4" % c.version)
        c.close()
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address, version_min=1, version_max=2)
        expect(c.version == 2, "HELLO 1..2: WELCOME version %d, expected 2" % c.version)
        c.close()
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address, version_min=1, version_max=1)
        expect(c.version == 1, "HELLO 1..1: WELCOME version %d, expected 1" % c.version)
        c.close()
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address,
                         hello_extra=b"future fields")
        expect(c.version == 1, "HELLO with appended bytes not welcomed")
        c.close()
        # Appended bytes in PUBLISH (after the policy) and SUBSCRIBE (after its
        # last field, the publisher pin, here empty) are ignored.
        p = d.Publisher(HOST, relay.port, ident, relay_id=relay.address)
        p.send_raw(d.frame(d.PUBLISH, d.enc_name("fwd") + d.enc_policy(d.ACCESS_PUBLIC) + b"later"))
        p.state = "PUBLISH_SENT"
        m = p.recv(5)
        expect(m.type == d.PUBLISH_OK, "PUBLISH with appended bytes: %r" % m)
        p.state, p.next_seq = "PUBLISHING", m.seq
        p.send_caps("application/x-test")
        p.send_media(b"k", d.F_KEYFRAME)
        v = d.Viewer(HOST, relay.port, ident, relay_id=relay.address)
        v.send_raw(d.frame(d.SUBSCRIBE, d.enc_name("fwd") + b"\0" * 8 + b"\0\0\x07\xd0" + b"\0" + b"later"))
        v.state = "SUBSCRIBING"
        m = v.recv(5)
        expect(m.type == d.SUBSCRIBE_OK, "SUBSCRIBE with appended bytes: %r" % m)
        v.close()
        p.close()
    finally:
        relay.stop()
    return "5..6, 0..0, 4..3, 65535..65535 -> ERROR 201; 0..7 -> version 4; 1..2 -> 2; 1..1 -> 1; appended bytes ignored"


def check_d_names_and_seq_gaps(ctx):
    relay = ctx.relay()
    try:
        me = ctx.identity("names")
        for name in ["a b", "caf\u00e9\u00a0\u2603", "\u00e9" * 127 + "x", "x" * 255, "-", "..", "\U0001f600"]:
            p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
            expect(p.publish(name) == 1, "name %r refused" % name)
            p.close()
        c = d.Connection(HOST, relay.port, me, role=d.ROLE_PUBLISHER, relay_id=relay.address, send_hello=False)
        raw_error(c, d.hello(1, 1, 0), d.PROTOCOL, "HELLO role 0")
        # Gaps inside a session are allowed (section 9); seq 0 is not.
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        p.publish("gaps")
        p.send_caps("a/b")
        v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        p.send_media(b"1", d.F_KEYFRAME)
        v.subscribe("gaps", 0, 2000)
        p.next_seq = 10
        p.send_media(b"10")
        p.next_seq = 1000
        p.send_media(b"1000", d.F_KEYFRAME)
        p.send_eos()
        got = v.read_stream(5)
        expect([m.seq for m in got if m.type == d.MEDIA] == [1, 10, 1000] and got[-1].seq == 1000,
               "seq gaps: %r" % got)
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        p.publish("zero")
        p.send_caps("a/b")
        raw_error(p, d.frame(d.MEDIA, b"\0" * 8 + d.media(1, b"x")[16:]), d.PROTOCOL, "MEDIA seq 0")
    finally:
        relay.stop()
    return "names with spaces, U+00A0, 255 bytes, emoji accepted; role 0 -> 200; seq gaps forwarded; seq 0 -> 200"


def check_d_tls_and_identity(ctx):
    relay = ctx.relay()
    try:
        c = d.Connection(HOST, relay.port, ctx.identity("tls"), relay_id=relay.address)
        expect(c.tls_version == "TLSv1.3", "TLS version %s" % c.tls_version)
        c.close()
        # No client certificate: a TLS alert (certificate_required), never a bare EOF.
        try:
            c = d.Connection(HOST, relay.port, None, relay_id=relay.address)
            raise Fail("a client without certificate got WELCOME")
        except d.ConnectionClosed as e:
            expect("CERTIFICATE_REQUIRED" in str(e).upper() or "CERTIFICATE REQUIRED" in str(e).upper(),
                   "no certificate_required alert: %s" % e)
            no_cert = "certificate_required alert"
        # An expired client certificate: ERROR 102 instead of WELCOME.
        try:
            d.Connection(HOST, relay.port, ctx.identity("old", days=-1), relay_id=relay.address)
            raise Fail("a client with an expired certificate got WELCOME")
        except d.RemoteError as e:
            expect(e.code == d.NOT_AUTHORIZED, "expired certificate: ERROR %d %r" % (e.code, e.text))
            expired = e.text
            expect("expired" in e.text, "ERROR 102 text does not name the reason: %r" % e.text)
        # A client certificate not valid yet: the same.
        future = d.Identity.create(os.path.join(ctx.workdir, "id-future"), 30, not_before="20991231000000Z")
        try:
            d.Connection(HOST, relay.port, future, relay_id=relay.address)
            raise Fail("a client with a certificate valid from 2099 got WELCOME")
        except d.RemoteError as e:
            expect(e.code == d.NOT_AUTHORIZED, "future certificate: ERROR %d %r" % (e.code, e.text))
            not_yet = e.text
        # TLS 1.2 is refused.
        import socket
        import ssl
        ctx12 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx12.check_hostname = False
        ctx12.verify_mode = ssl.CERT_NONE
        ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        i = ctx.identity("tls")
        ctx12.load_cert_chain(i.cert_path, i.key_path)
        raw = socket.create_connection((HOST, relay.port), timeout=10)
        try:
            ctx12.wrap_socket(raw).close()
            raise Fail("TLS 1.2 handshake accepted")
        except (ssl.SSLError, OSError):
            pass
        finally:
            raw.close()
    finally:
        relay.stop()
    return "TLS 1.3 only, TLS 1.2 refused; no cert -> %s; expired -> 102 %r; not yet valid -> 102 %r" % (
        no_cert, expired[50:100], not_yet[50:100])


def check_d_shutdown(ctx):
    relay = ctx.relay()
    me = ctx.identity("bye")
    v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
    relay.proc.terminate()
    try:
        expect_remote_error(lambda: v.idle(10) and None, d.SHUTDOWN, "viewer at relay SIGTERM")
        try:
            relay.proc.wait(10)  # no second signal: that one would not be handled
        except subprocess.TimeoutExpired:
            pass
    finally:
        rc = relay.stop()
    expect(rc == 0, "relay exited %s on SIGTERM" % rc)
    return "SIGTERM -> ERROR 301 to a connected client, relay exits 0"
