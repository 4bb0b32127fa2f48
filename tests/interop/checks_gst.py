# gst-diode — interoperability checks with the real elements: the Python
# client against diodesink and diodesrc in gst-launch-1.0 (through the real
# relay), and the `diode` tool reading the client's key.
#
# Copyright (C) 2026 the gst-diode authors. LGPL-2.1-or-later.

import os
import subprocess
import threading
import time

import diode_client as d
from interop_harness import (HOST, Fail, check_stream_start, expect, expect_remote_error,
                             pub, view, wait_stats)


def check_a_python_publisher_to_diodesrc(ctx):
    relay = ctx.relay("--stats-file", os.path.join(ctx.workdir, "stats-a.json"),
                      "--stats-interval", "1")
    try:
        return _check_a(ctx, relay)
    finally:
        relay.stop()


def _check_a(ctx, relay):
    out_dir = os.path.join(ctx.workdir, "a-out")
    os.makedirs(out_dir, exist_ok=True)
    caps_str = "application/x-test, interop=(string)yes, n=(int)7"
    src = subprocess.Popen(
        ["gst-launch-1.0", "-v", "diodesrc", "relay=%s:%d" % (HOST, relay.port),
         "stream=py-a", "relay-id=" + relay.address, "timeout=30000", "!",
         "identity", "silent=false", "!",
         "multifilesink", "location=" + os.path.join(out_dir, "buf-%05d")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ctx.gst_env("a"))
    try:
        # The viewer's SUBSCRIBE must be held at the relay before anything is
        # published, so it gets the stream from its first frame.
        wait_stats(os.path.join(ctx.workdir, "stats-a.json"), "py-a",
                   lambda s: s.get("waiting", 0) >= 1, 20, "diodesrc's held SUBSCRIBE")
        p = pub(ctx, relay)
        next_seq = p.publish("py-a")
        expect(next_seq == 1, "PUBLISH_OK next_seq %d for a new name, expected 1" % next_seq)
        p.send_caps(caps_str)
        payloads = []
        sizes = [1, 1000, 65536, 3, 2 * 1024 * 1024, 17, 5000, 1]
        flags = [d.F_KEYFRAME | d.F_HEADER, 0, d.F_MARKER, d.F_DROPPABLE,
                 d.F_KEYFRAME, 0, d.F_MARKER, 0]
        for i, (n, fl) in enumerate(zip(sizes, flags)):
            data = bytes((i * 37 + k) & 0xFF for k in range(min(n, 4096)))
            data = (data * (n // len(data) + 1))[:n]
            payloads.append((data, fl))
            p.send_media(data, fl, pts=i * 40_000_000, dts=i * 40_000_000,
                         duration=40_000_000, offset=i, offset_end=i + 1)
        p.send_eos()
        p.idle(0.5)
        try:
            out, _ = src.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            raise Fail("gst-launch diodesrc did not end within 30 s of EOS")
        out = out.decode(errors="replace")
        p.close()
    finally:
        if src.poll() is None:
            src.kill()
            src.wait()
    expect(src.returncode == 0, "gst-launch exited %d: %s" % (src.returncode, out[-800:]))
    expect("Got EOS from element" in out, "diodesrc pipeline got no EOS")
    expect(("caps = " + caps_str) in out,
           "caps %r not on diodesrc's pad: %s" % (caps_str, [l for l in out.splitlines() if "caps" in l][:3]))
    files = sorted(os.listdir(out_dir))
    expect(len(files) == len(payloads), "%d buffers out, %d published" % (len(files), len(payloads)))
    for i, (f, (data, _)) in enumerate(zip(files, payloads)):
        with open(os.path.join(out_dir, f), "rb") as fh:
            expect(fh.read() == data, "buffer %d differs from the published payload" % i)
    chains = [l for l in out.splitlines() if "chain" in l and "identity0:sink" in l]
    expect(len(chains) == len(payloads), "identity saw %d buffers" % len(chains))
    for i, (line, (data, fl)) in enumerate(zip(chains, payloads)):
        expect("(%d bytes," % len(data) in line, "buffer %d size: %s" % (i, line))
        expect(("delta-unit" in line) == (not fl & d.F_KEYFRAME),
               "buffer %d DELTA_UNIT does not match KEYFRAME=%d: %s" % (i, fl & 1, line))
        for bit, word in ((d.F_HEADER, " header"), (d.F_MARKER, "marker"),
                          (d.F_DROPPABLE, "droppable")):
            expect((word in line) == bool(fl & bit), "buffer %d flag %s: %s" % (i, word.strip(), line))
        expect("duration: 0:00:00.040000000" in line, "buffer %d duration not kept: %s" % (i, line))
    return "%d buffers (1 B..2 MiB) byte-exact, caps, flags, durations and EOS through diodesrc" % len(payloads)


def check_b_diodesink_to_python_viewers(ctx):
    relay = ctx.relay()
    try:
        return _check_b(ctx, relay)
    finally:
        relay.stop()


def _read_viewer(ctx, relay, who, result, start_event=None):
    try:
        if start_event is not None:
            start_event.wait(30)
        v = view(ctx, relay, who)
        first = v.subscribe("h264", 0, wait_ms=20000, timeout=30)
        result["first_seq"] = first
        result["msgs"] = v.read_stream(timeout=60)
        v.close()
    except Exception as e:  # reported by the main thread
        result["error"] = "%s: %r" % (who, e)


def _check_b(ctx, relay):
    early, late = {}, {}
    t1 = threading.Thread(target=_read_viewer, args=(ctx, relay, "v-early", early))
    t1.start()
    late_go = threading.Event()
    t2 = threading.Thread(target=_read_viewer, args=(ctx, relay, "v-late", late, late_go))
    t2.start()
    time.sleep(0.5)  # the early viewer's SUBSCRIBE is held (or it joins at a keyframe anyway)
    sink = subprocess.Popen(
        ["gst-launch-1.0", "videotestsrc", "is-live=true", "num-buffers=120", "!",
         "video/x-raw,width=320,height=240,framerate=30/1", "!",
         "x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=15", "!",
         "h264parse", "!", "diodesink", "stream=h264",
         "relay=%s:%d" % (HOST, relay.port), "relay-id=" + relay.address],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ctx.gst_env("b"))
    try:
        time.sleep(2.0)  # about 60 frames in: the late viewer joins mid-stream
        late_go.set()
        try:
            out, _ = sink.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise Fail("diodesink pipeline did not end within 60 s")
    finally:
        late_go.set()
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    t1.join(70)
    t2.join(70)
    expect(sink.returncode == 0, "diodesink pipeline exited %d: %s"
           % (sink.returncode, out.decode(errors="replace")[-800:]))
    summary = []
    for res, who in ((early, "early viewer"), (late, "late viewer")):
        expect("error" not in res, res.get("error", ""))
        expect("msgs" in res, "%s: no result" % who)
        msgs, first = res["msgs"], res["first_seq"]
        expect(first > 0, "%s: first_seq 0" % who)
        expect("video/x-h264" in msgs[0].caps if msgs[0].type == d.CAPS else False,
               "%s: first message %r is not H.264 CAPS" % (who, msgs[0]))
        media = check_stream_start(msgs, first, who)
        seqs = [m.seq for m in media]
        expect(all(a < b for a, b in zip(seqs, seqs[1:])), "%s: seqs not increasing" % who)
        expect(msgs[-1].type == d.EOS, "%s: stream did not end with EOS" % who)
        expect(msgs[-1].seq == seqs[-1], "%s: EOS seq %d != last MEDIA seq %d"
               % (who, msgs[-1].seq, seqs[-1]))
        for m in media:
            expect(m.flags & ~d.F_DEFINED == 0, "%s: reserved MEDIA flag bits set" % who)
        res["media"] = {m.seq: m.raw for m in media}
        summary.append("%s first_seq %d, %d MEDIA, EOS %d" % (who, first, len(media), msgs[-1].seq))
    expect(late["first_seq"] > early["first_seq"],
           "late viewer first_seq %d not after the early one's %d"
           % (late["first_seq"], early["first_seq"]))
    for seq, raw in late["media"].items():
        expect(early["media"].get(seq) == raw,
               "MEDIA seq %d differs between the two viewers (not forwarded byte for byte)" % seq)
    return "; ".join(summary) + "; identical frames"


def check_b_diodesink_streamheaders(ctx):
    """diodesink with caps carrying `streamheader` (oggmux): the Python
    viewers, early and late, get CAPS, then the STREAMHEADER frames (seq below
    first_seq, bytes equal to the caps' streamheader buffers), then a
    KEYFRAME at first_seq (sections 6 MEDIA, 8, 10)."""
    relay = ctx.relay()
    sink = subprocess.Popen(
        ["gst-launch-1.0", "audiotestsrc", "is-live=true", "num-buffers=200", "!", "vorbisenc", "!",
         "oggmux", "!", "diodesink", "stream=ogg", "relay=%s:%d" % (HOST, relay.port),
         "relay-id=" + relay.address],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ctx.gst_env("ogg"))
    res = {"early": {}, "late": {}}

    def viewer(who, delay):
        try:
            time.sleep(delay)
            v = d.Viewer(HOST, relay.port, ctx.identity("ogg-" + who), relay_id=relay.address)
            res[who]["first"] = v.subscribe("ogg", 0, 20000, timeout=30)
            res[who]["msgs"] = v.read_stream(40)
            v.close()
        except Exception as e:  # reported below
            res[who]["error"] = repr(e)
    threads = [threading.Thread(target=viewer, args=("early", 0)),
               threading.Thread(target=viewer, args=("late", 2.0))]
    for t in threads:
        t.start()
    try:
        try:
            sink.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise Fail("oggmux ! diodesink pipeline did not end")
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
        for t in threads:
            t.join(60)
        relay.stop()
    for who in res:
        expect("error" not in res[who], "%s viewer: %s" % (who, res[who].get("error")))
    results = [(who, res[who]["first"], res[who]["msgs"]) for who in ("early", "late")]
    expect(sink.returncode == 0, "oggmux ! diodesink exited %d" % sink.returncode)
    out = []
    for who, first, msgs in results:
        expect(msgs[0].type == d.CAPS and "streamheader=(buffer)<" in msgs[0].caps,
               "%s: no CAPS with streamheader first" % who)
        hexes = msgs[0].caps.split("streamheader=(buffer)<", 1)[1].split(">", 1)[0]
        caps_headers = [bytes.fromhex(h.strip()) for h in hexes.split(",")]
        media = check_stream_start(msgs, first, who)
        headers = [m for m in msgs if m.type == d.MEDIA and m.flags & d.F_STREAMHEADER]
        expect([m.data for m in headers] == caps_headers,
               "%s: STREAMHEADER frames differ from the caps' streamheader buffers" % who)
        expect(msgs[-1].type == d.EOS and msgs[-1].seq == media[-1].seq, "%s: EOS seq" % who)
        out.append("%s first_seq %d after %d STREAMHEADER" % (who, first, len(headers)))
    return "; ".join(out) + ", equal to the caps' streamheader"


def check_c_diodesink_private(ctx):
    """diodesink's policy fields (access=private allow=…) as the relay reads
    them, judged with addresses computed by this client."""
    relay = ctx.relay()
    friend, stranger = ctx.identity("sink-friend"), ctx.identity("sink-stranger")
    sink = subprocess.Popen(
        ["gst-launch-1.0", "videotestsrc", "is-live=true", "num-buffers=90", "!",
         "video/x-raw,width=160,height=120,framerate=30/1", "!",
         "x264enc", "tune=zerolatency", "speed-preset=ultrafast", "key-int-max=10", "!",
         "h264parse", "!", "diodesink", "stream=priv", "access=private", "allow=" + friend.address,
         "relay=%s:%d" % (HOST, relay.port), "relay-id=" + relay.address],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ctx.gst_env("c2"))
    try:
        f = d.Viewer(HOST, relay.port, friend, relay_id=relay.address)
        first = f.subscribe("priv", 0, 20000, timeout=30)
        s = d.Viewer(HOST, relay.port, stranger, relay_id=relay.address)
        e = expect_remote_error(lambda: s.subscribe("priv", 0, 0), d.NOT_AUTHORIZED,
                                "stranger on diodesink's private stream")
        s.close()
        msgs = f.read_stream(60)
        check_stream_start(msgs, first, "friend of diodesink")
        f.close()
        try:
            sink.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise Fail("diodesink pipeline did not end")
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
        relay.stop()
    expect(sink.returncode == 0, "diodesink exited %d" % sink.returncode)
    return "allowed Python viewer got %d MEDIA + EOS; stranger 102 %r" % (
        sum(1 for m in msgs if m.type == d.MEDIA), e.text[:50])


def check_identity_file_compat(ctx, diode_tool):
    """Section 2: our key file and address computation agree with `diode id`."""
    ident = ctx.identity("compat")
    out = subprocess.run([diode_tool, "id", "--identity", ident.key_path], capture_output=True,
                         timeout=20, env=dict(os.environ, XDG_CONFIG_HOME=ctx.workdir))
    expect(out.returncode == 0, "diode id failed on an openssl Ed25519 key: %s" % out.stderr)
    printed = out.stdout.decode().strip()
    expect(printed == ident.address, "diode id says %s, our SHA-256(SPKI) gives %s" % (printed, ident.address))
    return "diode id reads our openssl key and prints our address %s" % printed
