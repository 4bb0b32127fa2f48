# gst-diode — interoperability checks of streams and sessions between the
# Python client and the real relay: pinning and access policy, keepalive,
# joining and resuming, life after EOS, forwarding, name grace, slow viewers,
# and the known mismatches with docs/protocol.md.
#
# Copyright (C) 2026 the gst-diode authors. LGPL-2.1-or-later.

import os
import threading
import time

import diode_client as d
from interop_harness import (HOST, Fail, check_stream_start, expect, expect_closed,
                             expect_remote_error, media_raw_flags, raw_error)


def check_c_pinning_and_private(ctx):
    conf = os.path.join(ctx.workdir, "relay-c.conf")
    with open(conf, "w") as f:  # docs/security.md section 5
        f.write("[fleet crew]\nmembers=%s\n" % ctx.identity("crew").address)
    relay = ctx.relay("--config", conf)
    try:
        return _check_c(ctx, relay)
    finally:
        relay.stop()


def _check_c(ctx, relay):
    # Pinning: a wrong relay-id is refused right after the handshake.
    wrong = "0x" + ("00" * 20 if relay.address != "0x" + "00" * 20 else "11" * 20)
    try:
        d.Viewer(HOST, relay.port, ctx.identity("viewer"), relay_id=wrong)
        raise Fail("a viewer pinned to %s accepted relay %s" % (wrong, relay.address))
    except d.PinningError:
        pass
    v = d.Viewer(HOST, relay.port, ctx.identity("viewer"), relay_id=relay.address.upper().replace("0X", "0x"))
    v.close()  # addresses compare case-insensitively
    known = os.path.join(ctx.workdir, "known-relays")
    d.Viewer(HOST, relay.port, ctx.identity("viewer"), known_relays=known).close()
    with open(known) as f:
        expect(f.read().strip() == "%s:%d %s" % (HOST, relay.port, relay.address),
               "known-relays not recorded on first use")
    with open(known, "w") as f:
        f.write("# moved\n%s:%d %s\n" % (HOST, relay.port, wrong))
    try:
        d.Viewer(HOST, relay.port, ctx.identity("viewer"), known_relays=known)
        raise Fail("known-relays with another address accepted")
    except d.PinningError:
        pass

    owner, friend, stranger = ctx.identity("owner"), ctx.identity("friend"), ctx.identity("stranger")
    p = d.Publisher(HOST, relay.port, owner, relay_id=relay.address)
    p.publish("secret", d.ACCESS_PRIVATE, "", [friend.address])
    p.send_caps("application/x-test")
    p.send_media(b"key-1", d.F_KEYFRAME)
    p.send_media(b"delta-2")
    s = d.Viewer(HOST, relay.port, stranger, relay_id=relay.address)
    e = expect_remote_error(lambda: s.subscribe("secret", 0, 2000), d.NOT_AUTHORIZED,
                            "stranger on a private stream")
    expect("secret" in e.text and stranger.address in e.text.lower(),
           "ERROR 102 text does not name the stream and the address: %r" % e.text)
    # 1xx: the connection stays usable, READY again.
    expect_remote_error(lambda: s.subscribe("no-such-stream", 0, 0), d.NOT_FOUND,
                        "second SUBSCRIBE after a 102 on the same connection")
    s.close()
    f = d.Viewer(HOST, relay.port, friend, relay_id=relay.address)
    expect(f.subscribe("secret", 0, 2000) == 1, "friend's first_seq is not the keyframe 1")
    got = f.read_stream(5, stop_after=2)
    check_stream_start(got, 1, "friend")
    o = d.Viewer(HOST, relay.port, owner, relay_id=relay.address)
    o.subscribe("secret", 0, 2000)
    o.read_stream(5, stop_after=2)
    # Another identity may not take the name; ERROR 102, connection usable.
    p2 = d.Publisher(HOST, relay.port, stranger, relay_id=relay.address)
    expect_remote_error(lambda: p2.publish("secret"), d.NOT_AUTHORIZED, "PUBLISH of a name owned by another identity")
    expect(p2.publish("strangers-own") == 1, "PUBLISH after a 102 on the same connection")
    p2.close()
    # POLICY: the friend is cut off (102, closed), the owner stays.
    p.send_policy(d.ACCESS_PRIVATE, "", [])
    p.send_media(b"delta-3")
    expect_remote_error(lambda: f.read_stream(5), d.NOT_AUTHORIZED, "friend after POLICY without it")
    expect_closed(f, "cut-off friend")
    got = o.read_stream(5, stop_after=1)
    expect(got[-1].type == d.MEDIA and got[-1].data == b"delta-3", "owner lost the stream after POLICY")
    # Protected with a fleet the relay does not configure: refused, reason named.
    p.send_policy(d.ACCESS_PROTECTED, "ops", [])
    s = d.Viewer(HOST, relay.port, stranger, relay_id=relay.address)
    e = expect_remote_error(lambda: s.subscribe("secret", 0, 0), d.NOT_AUTHORIZED, "stranger on a protected stream")
    expect("ops" in e.text, "ERROR 102 text does not name the fleet: %r" % e.text)
    s.close()
    # Protected with a configured fleet: its member is admitted, others not.
    p.send_policy(d.ACCESS_PROTECTED, "crew", [])
    m = d.Viewer(HOST, relay.port, ctx.identity("crew"), relay_id=relay.address)
    m.subscribe("secret", 0, 2000)
    m.close()
    s = d.Viewer(HOST, relay.port, stranger, relay_id=relay.address)
    e = expect_remote_error(lambda: s.subscribe("secret", 0, 0), d.NOT_AUTHORIZED, "stranger vs fleet crew")
    expect("crew" in e.text, "ERROR 102 text does not name the fleet: %r" % e.text)
    s.close()
    # Public again: anyone.
    p.send_policy(d.ACCESS_PUBLIC)
    s = d.Viewer(HOST, relay.port, stranger, relay_id=relay.address)
    s.subscribe("secret", 0, 2000)
    s.read_stream(5, stop_after=2)
    o.idle(0.3)
    # Same identity publishing the name again takes it over: the old
    # connection gets 101 and is closed; the attached stranger, not on the
    # new PUBLISH's list, is cut off (102, closed); the owner's viewer gets
    # the new run's CAPS and first MEDIA.
    p3 = d.Publisher(HOST, relay.port, owner, relay_id=relay.address)
    n = p3.publish("secret", d.ACCESS_PRIVATE, "", [friend.address])
    expect(n == 4, "takeover next_seq %d, expected 4" % n)
    expect_remote_error(lambda: p.recv(5), d.NAME_IN_USE, "old publisher after takeover")
    expect_closed(p, "old publisher after 101")
    expect_remote_error(lambda: s.read_stream(5), d.NOT_AUTHORIZED, "public-era viewer after a private PUBLISH")
    expect_closed(s, "cut-off stranger")
    p3.send_caps("application/x-test, run=(int)2")
    p3.send_media(b"run2", d.F_KEYFRAME | d.F_DISCONT)
    got = o.read_stream(5, stop_after=1)
    expect([(x.name, getattr(x, "seq", None)) for x in got] == [("CAPS", None), ("MEDIA", 4)]
           and got[0].caps.endswith("run=(int)2"), "owner's viewer after takeover: %r" % got)
    o.close()
    p3.close()
    return ("wrong relay-id and changed known-relays refused; private: stranger 102 (usable after), "
            "friend and owner admitted; POLICY cuts off; protected: unconfigured fleet refused, member of a "
            "configured one admitted; 101 takeover")


def check_d_keepalive(ctx):
    relay = ctx.relay("--keepalive", "500")
    try:
        ident = ctx.identity("ka")
        # A client that answers PINGs but sends nothing of its own: the relay
        # PINGs it at the announced interval.
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address, keepalive=False)
        k = c.keepalive_ms
        expect(k == 500, "WELCOME keepalive_ms %d, relay started with --keepalive 500" % k)
        c.idle(3.0)
        times = [t for t, _ in c.pings_received]
        expect(len(times) >= 3, "%d PINGs from the relay in 3 s at K=500 ms" % len(times))
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        median = gaps[len(gaps) // 2]
        longest = gaps[-1]
        expect(longest < 3 * k / 1000, "relay sent nothing for %.0f ms, 3K is %d" % (longest * 1000, 3 * k))
        expect(0.25 * k / 1000 <= median <= 2.0 * k / 1000,
               "median PING interval %.0f ms for K=%d ms" % (median * 1000, k))
        # PONG echoes our token.
        c.send_raw(d.ping(0x0123456789ABCDEF))
        end = time.monotonic() + 5
        while not c.pongs_received and time.monotonic() < end:
            c.idle(0.1)
        expect(any(tok == 0x0123456789ABCDEF for _, tok in c.pongs_received), "no PONG with our token")
        c.close()
        # A client that sends nothing and answers nothing is dead after 3K.
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address,
                         keepalive=False, auto_pong=False)
        t0 = time.monotonic()
        expect_remote_error(lambda: c.idle(15) and None, d.TIMEOUT, "silent client")
        took = time.monotonic() - t0
        expect(took >= 2.5 * k / 1000, "silent client closed after %.2f s, before 3K" % took)
        # And one that keeps itself alive (our default) is never closed.
        c = d.Connection(HOST, relay.port, ident, relay_id=relay.address)
        got = c.idle(3 * 3 * k / 1000)
        expect(got == [] and c.state == "READY", "live client disturbed: %r" % got)
        c.close()
    finally:
        relay.stop()
    return ("PING gaps %.0f/%.0f/%.0f ms (min/median/max) at K=%d; PONG echoes the token; silent client "
            "ERROR 203 after %.1f s; keepalive client kept" % (gaps[0] * 1000, median * 1000, longest * 1000, k, took))


def check_d_keepalive_off(ctx):
    relay = ctx.relay("--keepalive", "0")
    try:
        c = d.Connection(HOST, relay.port, ctx.identity("ka0"), relay_id=relay.address,
                         keepalive=False, auto_pong=False)
        expect(c.keepalive_ms == 0, "WELCOME keepalive_ms %d with --keepalive 0" % c.keepalive_ms)
        got = c.idle(3.0)
        expect(got == [] and not c.pings_received and c.state == "READY",
               "K=0: relay PINGed or closed a silent client: %r" % got)
        c.close()
    finally:
        relay.stop()
    return "K=0: no PINGs, a client silent for 3 s stays connected"


def check_d_sequences_and_subscribe(ctx):
    relay = ctx.relay("--max-wait", "1000")
    try:
        me = ctx.identity("seq")
        v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        t0 = time.monotonic()
        expect_remote_error(lambda: v.subscribe("nobody", 0, 0), d.NOT_FOUND, "SUBSCRIBE wait 0")
        expect(time.monotonic() - t0 < 2, "NOT_FOUND with wait_ms=0 was not at once")
        t0 = time.monotonic()
        expect_remote_error(lambda: v.subscribe("nobody", 0, 60000, timeout=20), d.NOT_FOUND,
                            "SUBSCRIBE wait 60 s on a relay with --max-wait 1000")
        waited = time.monotonic() - t0
        expect(0.8 <= waited < 10, "NOT_FOUND after %.1f s with --max-wait 1000" % waited)
        # Published but no keyframe yet counts as not there.
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        p.publish("seqs")
        p.send_caps("application/x-test")
        p.send_media(b"d1")  # delta before any keyframe
        expect_remote_error(lambda: v.subscribe("seqs", 0, 0), d.NOT_FOUND, "stream without keyframe")
        for i in range(2, 8):
            p.send_media(b"m%d" % i, d.F_KEYFRAME if i in (2, 5) else 0)
        p.idle(0.3)
        # Latest keyframe is seq 5.
        expect(v.subscribe("seqs", 0, 2000) == 5, "join not at the latest keyframe 5")
        got = v.read_stream(5, stop_after=3)
        media = check_stream_start(got, 5, "joiner")
        expect([m.seq for m in media] == [5, 6, 7], "joiner got %r" % [m.seq for m in media])
        v.close()
        # Resume in the middle of a chunk.
        r = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        expect(r.subscribe("seqs", 3, 2000) == 3, "resume at 3 not honoured (%d)" % r.first_seq)
        got = r.read_stream(5, stop_after=5)
        expect(got[0].type == d.CAPS and [m.seq for m in got if m.type == d.MEDIA] == [3, 4, 5, 6, 7],
               "resume: %r" % got)
        r.close()
        # Resume past the last seq (7) of a live stream (not published
        # yet): the viewer is ahead of the relay, which attaches it at the
        # tail, first_seq = last + 1 (section 8), not the latest keyframe.
        r = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        first = r.subscribe("seqs", 50, 2000)
        expect(first == 8, "resume at unheld seq 50: first_seq %d, expected 8 (tail)" % first)
        r.close()
        # Resume at seq 1, the delta sent before any keyframe. Section 10
        # says relays buffer whole chunks (seq 1 is in none); section 8 says
        # such deltas are never sent to a held start_seq=0 subscriber, and
        # that a resume starts "at that seq if it still holds it". The relay
        # keeps it: accepted here either way, reported as an ambiguity.
        r = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        first = r.subscribe("seqs", 1, 2000)
        expect(first in (1, 2, 5), "resume at 1: first_seq %d" % first)
        got = r.read_stream(5, stop_after=1)
        expect(got[-1].seq == first, "resume at 1: first MEDIA %d != first_seq %d" % (got[-1].seq, first))
        resume1 = first
        r.close()
        p.send_eos()
        expect(p.sent_seq == 7, "internal")
        p.idle(0.3)
        p.close()
        # After EOS, within the name grace: the newest chunk, then EOS.
        v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        expect(v.subscribe("seqs", 0, 2000) == 5, "after EOS: not the newest keyframe")
        got = v.read_stream(5)
        expect([m.seq for m in got if m.type == d.MEDIA] == [5, 6, 7] and got[-1].type == d.EOS
               and got[-1].seq == 7, "after EOS: %r" % got)
        v.close()
        # A restarted publisher continues the sequence; lower seqs refused.
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        n = p.publish("seqs")
        expect(n == 8, "PUBLISH_OK next_seq %d after seq 7, expected 8" % n)
        p.send_caps("application/x-test")
        p.send_raw(d.media(7, b"old", d.F_KEYFRAME))
        expect_remote_error(lambda: p.recv(5), d.PROTOCOL, "MEDIA below next_seq")
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        expect(p.publish("seqs") == 8, "next_seq changed by a refused MEDIA")
        p.send_caps("application/x-test")
        p.next_seq = 100  # a publisher may go on with its own larger count
        p.send_media(b"k100", d.F_KEYFRAME | d.F_DISCONT)
        p.idle(0.3)
        v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        expect(v.subscribe("seqs", 0, 2000) == 100, "gap publisher: first_seq %d" % v.first_seq)
        v.close()
        p.close()
    finally:
        relay.stop()
    return ("NOT_FOUND at once / after --max-wait; no keyframe = not there; join at latest keyframe; "
            "resume mid-chunk; resume at pre-keyframe delta 1 -> first_seq %d; after-EOS chunk+EOS; "
            "next_seq continues; lower seq refused; gap allowed" % resume1)


def check_d_states_and_forwarding(ctx):
    relay = ctx.relay()
    try:
        return _check_states(ctx, relay)
    finally:
        relay.stop()


def _check_states(ctx, relay):
    me, other = ctx.identity("st"), ctx.identity("st-other")

    def P(who=me):
        return d.Publisher(HOST, relay.port, who, relay_id=relay.address)

    def V(who=me, **kw):
        return d.Viewer(HOST, relay.port, who, relay_id=relay.address, **kw)

    def held(name, who=me):
        v = V(who)
        v.send_raw(d.subscribe(name, 0, 10000))
        v.state = "SUBSCRIBING"
        return v

    # End of a publish session (section 6, EOS; section 9).
    p = P()
    p.publish("eos-low")
    p.send_caps("a/b")
    p.send_media(b"k", d.F_KEYFRAME)
    p.send_media(b"k", d.F_KEYFRAME)
    raw_error(p, d.eos(1), d.PROTOCOL, "EOS seq below the last MEDIA")
    for what, data in (("MEDIA after EOS", d.media(5, b"x", d.F_KEYFRAME)),
                       ("POLICY after EOS", d.policy(d.ACCESS_PUBLIC))):
        p = P()
        p.publish("after-" + what.split()[0].lower())
        p.send_caps("a/b")
        p.send_media(b"k", d.F_KEYFRAME)
        p.send_eos()
        raw_error(p, data, d.PROTOCOL, what)
        expect_closed(p, what)
    p = P()
    p.publish("one")
    raw_error(p, d.publish("two"), d.PROTOCOL, "second PUBLISH on a connection")
    p = P()
    p.publish("empty-eos")
    p.send_caps("a/b")
    p.send_raw(d.eos(0))  # EOS 0: no MEDIA at all
    expect(p.idle(0.5) == [], "EOS 0 without MEDIA not accepted quietly")
    p.close()

    # PING/PONG shapes (section 6).
    c = d.Connection(HOST, relay.port, me, relay_id=relay.address, keepalive=False)
    c.send_raw(d.frame(d.PING, (77).to_bytes(8, "big") + b"appended"))
    c.send_raw(d.pong(5))  # unsolicited PONG: harmless
    c.idle(0.5)
    expect(any(t == 77 for _, t in c.pongs_received), "PING with appended bytes not answered")
    raw_error(c, d.frame(d.PING, b"\x01\x02"), d.PROTOCOL, "PING of 2 bytes")
    # Errors from the client (section 7): fatal ones end the connection
    # without an answer; a 1xx from a client is not described, observed: ignored.
    for code in (250, 301):
        c = d.Connection(HOST, relay.port, me, relay_id=relay.address)
        c.send_raw(d.error(code, "client says bye"))
        try:
            m = c.recv(5)
            raise Fail("relay answered a client's ERROR %d with %r" % (code, m))
        except d.RemoteError as e:
            raise Fail("relay answered a client's ERROR %d with ERROR %d" % (code, e.code))
        except d.ConnectionClosed:
            pass

    # Role RELAY needs version 2 (section 14): offering 1..1 it is refused
    # with 201; at version 2 it may SUBSCRIBE (a pull, served like a viewer)
    # and PUBLISH only a stream the relay asked it to push (PULL): else 102.
    p = P()
    p.publish("rr")
    p.send_caps("a/b")
    p.send_media(b"k", d.F_KEYFRAME)
    try:
        c = d.Connection(HOST, relay.port, other, role=d.ROLE_RELAY,
                         relay_id=relay.address, version_min=1, version_max=1)
        c.close()
        raise Fail("role RELAY offering 1..1 was welcomed")
    except d.RemoteError as e:
        expect(e.code == d.VERSION, "role RELAY 1..1: ERROR %d, expected 201"
               % e.code)
    c = d.Connection(HOST, relay.port, other, role=d.ROLE_RELAY,
                     relay_id=relay.address, version_min=1, version_max=2)
    expect(c.subscribe("rr", 0, 2000) == 1, "role RELAY SUBSCRIBE")
    c.close()
    c = d.Connection(HOST, relay.port, other, role=d.ROLE_RELAY,
                     relay_id=relay.address, version_min=1, version_max=2)
    expect_remote_error(lambda: c.publish("rr-up"), d.NOT_AUTHORIZED,
                        "role RELAY PUBLISH without PULL")
    c.close()
    p.close()

    # A held subscriber judged against the PUBLISH that arrives (section 6).
    v = held("held-private", other)
    time.sleep(0.3)
    p = P()
    p.publish("held-private", d.ACCESS_PRIVATE, "", [])
    p.send_caps("a/b")
    p.send_media(b"k", d.F_KEYFRAME)
    expect_remote_error(lambda: v.recv(5), d.NOT_AUTHORIZED, "held subscriber vs private PUBLISH")
    v.close()
    p.close()

    # Stream headers, caps change, forwarding byte for byte (sections 3, 8, 10).
    SH = d.F_STREAMHEADER | d.F_HEADER
    v = held("sh")
    time.sleep(0.3)
    p = P()
    p.publish("sh")
    p.send_raw(d.caps("a/b, v=(int)1") + b"")
    p.next_seq = 1
    for data, fl in ((b"sh1", SH | d.F_KEYFRAME), (b"sh2", SH), (b"k3", d.F_KEYFRAME),
                     (b"d4", 0), (b"k5", d.F_KEYFRAME | 0x80000000), (b"d6", 0)):
        # 0x80000000: a reserved bit, to be ignored and forwarded untouched.
        p.send_raw(media_raw_flags(p.next_seq, data, fl))
        p.next_seq += 1
    m = v.recv(5)
    v.state = "SUBSCRIBED"
    expect(m.type == d.SUBSCRIBE_OK and m.seq == 3,
           "STREAMHEADER frames (one flagged KEYFRAME) counted as the join point: %r" % m)
    early = v.read_stream(5, stop_after=6)
    media = check_stream_start(early, 3, "held joiner with stream headers")
    expect([x.data for x in early if x.type == d.MEDIA] == [b"sh1", b"sh2", b"k3", b"d4", b"k5", b"d6"],
           "stream headers / chunk not delivered in order")
    expect(media[2].flags == d.F_KEYFRAME | 0x80000000, "reserved MEDIA bit not forwarded as sent")
    late = V()
    expect(late.subscribe("sh", 0, 0) == 5, "late joiner not at the latest keyframe 5")
    got = late.read_stream(5, stop_after=3)
    expect([(x.name, getattr(x, "seq", None)) for x in got] ==
           [("CAPS", None), ("MEDIA", 1), ("MEDIA", 2), ("MEDIA", 5)],
           "late joiner: %r" % got)
    # Caps change with a new header set; appended bytes in CAPS/EOS travel.
    p.send_raw(d.frame(d.CAPS, d.enc_caps("a/b, v=(int)2") + b"future"))
    p.send_raw(d.media(7, b"nsh7", SH))
    p.send_raw(d.media(8, b"k8", d.F_KEYFRAME))
    p.next_seq = 9
    p.idle(0.3)
    live = early + v.idle(1.0)
    caps2 = [x for x in live if x.type == d.CAPS][-1]
    expect(caps2.caps == "a/b, v=(int)2" and caps2.raw.endswith(b"future"),
           "CAPS with appended bytes not forwarded byte for byte: %r" % caps2.raw[-12:])
    late2 = V()
    late2.subscribe("sh", 0, 0)
    got = late2.read_stream(5, stop_after=2)
    expect([(x.name, getattr(x, "seq", None)) for x in got] == [("CAPS", None), ("MEDIA", 7), ("MEDIA", 8)],
           "joiner after a caps change must get only the new header set: %r" % got)
    p.send_raw(d.frame(d.EOS, (8).to_bytes(8, "big") + b"more"))
    end = v.read_stream(5)
    expect(end[-1].raw == d.frame(d.EOS, (8).to_bytes(8, "big") + b"more"),
           "EOS with appended bytes not forwarded byte for byte")
    p.close()
    # A new run of the same name (section 9): the attached viewer, past EOS,
    # gets the new run's CAPS and first chunk, seq continuing.
    p = P()
    n = p.publish("sh")
    expect(n == 9, "new run next_seq %d, expected 9" % n)
    p.send_caps("a/b, run=(int)2")
    p.send_media(b"k9", d.F_KEYFRAME | d.F_DISCONT)
    got = v.idle(1.0)
    expect([(x.name, getattr(x, "seq", None)) for x in got] == [("CAPS", None), ("MEDIA", 9)],
           "attached viewer after EOS and a new run: %r" % got)
    p.close()
    v.close()

    # Exact limits are accepted (sections 3, 12).
    p = P()
    p.publish("limits")
    p.send_raw(d.frame(d.CAPS, d.enc_caps("a" * d.CAPS_STRING_LIMIT)))
    p.send_media(b"\x5a" * d.MEDIA_DATA_LIMIT, d.F_KEYFRAME)
    v = V()
    v.subscribe("limits", 0, 5000)
    got = v.read_stream(30, stop_after=1)
    expect(len(got[0].raw) == 8 + d.CAPS_LIMIT and len(got[-1].raw) == 8 + d.MEDIA_LIMIT,
           "1 MiB CAPS / 16 MiB MEDIA not carried whole")
    v.close()
    p.close()
    c = d.Connection(HOST, relay.port, me, relay_id=relay.address, keepalive=False,
                     agent="\u00e9" * 2048)
    c.send_raw(d.frame(d.PING, (9).to_bytes(8, "big") + b"z" * (d.CONTROL_LIMIT - 8)))
    c.idle(0.5)
    expect(any(t == 9 for _, t in c.pongs_received), "1 KiB PING not answered")
    c.close()
    return ("EOS/MEDIA/POLICY after EOS and 2nd PUBLISH -> 200; client ERRORs unanswered; RELAY role; "
            "held vs private 102; stream headers, caps change, reserved bits and appended bytes "
            "forwarded; new run after EOS; exact 1 KiB/1 MiB/16 MiB/4096 limits accepted")


def check_d_name_grace_and_handshake(ctx):
    relay = ctx.relay("--name-grace", "1000")
    try:
        me, other = ctx.identity("ng"), ctx.identity("ng-other")
        p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
        p.publish("grace")
        p.send_caps("a/b")
        p.send_media(b"k", d.F_KEYFRAME)
        p.send_eos()
        p.idle(0.2)
        p.close()
        q = d.Publisher(HOST, relay.port, other, relay_id=relay.address)
        expect_remote_error(lambda: q.publish("grace"), d.NOT_AUTHORIZED, "other identity within name grace")
        time.sleep(1.8)
        v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
        expect_remote_error(lambda: v.subscribe("grace", 0, 0), d.NOT_FOUND, "ended stream after name grace")
        v.close()
        expect(q.publish("grace") == 1, "other identity after name grace: next_seq not 1 (stream not forgotten)")
        q.close()
        # Section 11: a relay bounds accept -> HELLO and closes with ERROR 203
        # when TLS got that far. The bound is not in the document.
        c = d.Connection(HOST, relay.port, me, relay_id=relay.address, send_hello=False, keepalive=False)
        t0 = time.monotonic()
        expect_remote_error(lambda: c.idle(60) and None, d.TIMEOUT, "TLS without HELLO")
        took = time.monotonic() - t0
    finally:
        relay.stop()
    return "name grace: 102 within, NOT_FOUND and free after; no HELLO -> ERROR 203 after %.1f s" % took


def check_d_slow_viewer_skips(ctx):
    relay = ctx.relay("--viewer-soft-limit", "300000", "--viewer-hard-limit", "100000000")
    try:
        msgs, published = _slow_reader(ctx, relay, "skip")
    finally:
        relay.stop()
    seqs = [m.seq for m in msgs if m.type == d.MEDIA]
    flags = {m.seq: m.flags for m in msgs if m.type == d.MEDIA}
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
    expect(gaps, "a viewer reading 10x slower than the stream never skipped (%d of %d frames)"
           % (len(seqs), published))
    for a, b in gaps:
        expect(flags[b] & d.F_KEYFRAME, "skip %d -> %d lands on a delta unit" % (a, b))
    expect(msgs[-1].type == d.EOS and msgs[-1].seq == seqs[-1], "slow viewer: no EOS at the end")
    return "slow reader got %d of %d frames, %d skips, each landing on a KEYFRAME, then EOS" % (
        len(seqs), published, len(gaps))


def _slow_reader(ctx, relay, name, seconds=3.0):
    me = ctx.identity("slow")
    p = d.Publisher(HOST, relay.port, me, relay_id=relay.address)
    p.publish(name)
    p.send_caps("a/b")
    p.send_media(b"k" * 1000, d.F_KEYFRAME)
    v = d.Viewer(HOST, relay.port, me, relay_id=relay.address)
    v.subscribe(name, 0, 1000)
    count = [0]

    def blast():  # its own connection, its own thread
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < seconds:
            for k in range(4):
                p.send_media(bytes([i & 255]) * 100000, d.F_KEYFRAME if k == 0 else 0)
                i += 1
            time.sleep(0.02)
        p.send_eos()
        count[0] = i + 1
        p.idle(1.0)
        p.close()
    th = threading.Thread(target=blast)
    th.start()
    msgs = []
    try:
        while True:
            m = v.recv(10)
            msgs.append(m)
            if m.type == d.EOS:
                break
            time.sleep(0.02)  # about 5 MB/s against the publisher's ~20 MB/s
    finally:
        th.join(30)
        v.close()
    return msgs, count[0]


def check_slow_viewer_error_300(ctx):
    """Sections 7, 8, 10: a viewer that cannot keep up "is disconnected with
    ERROR 300". A viewer that reads, slowly, past the hard limit must be able
    to read that ERROR before the connection ends."""
    relay = ctx.relay("--viewer-soft-limit", "300000000", "--viewer-hard-limit", "600000")
    try:
        try:
            msgs, _ = _slow_reader(ctx, relay, "hard")
        except d.RemoteError as e:
            expect(e.code == d.SLOW_VIEWER, "slow viewer got ERROR %d %r" % (e.code, e.text))
            return "ERROR 300 %r" % e.text
        except d.ConnectionClosed as e:
            raise Fail("slow viewer past --viewer-hard-limit: connection ended without ERROR 300 (%s); "
                       "relay log: %s" % (e, relay.log_tail(3).splitlines()[-3:]))
    finally:
        relay.stop()
    raise Fail("slow viewer past --viewer-hard-limit got the whole stream (%d frames)" % len(msgs))
