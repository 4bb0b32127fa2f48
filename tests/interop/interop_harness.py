# gst-diode — interoperability test harness: the real diode-relay process
# (127.0.0.1, port 0, --print-id, its own XDG_CONFIG_HOME), identities for the
# Python client, and the assertions the checks share.
#
# Copyright (C) 2026 the gst-diode authors. LGPL-2.1-or-later.

import json
import os
import select
import struct
import subprocess
import tempfile
import time

import diode_client as d

HOST = "127.0.0.1"


class Fail(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Fail(what)


class Relay:
    """The real diode-relay on 127.0.0.1, port 0, with its own
    XDG_CONFIG_HOME; `--print-id` gives its address and port."""

    def __init__(self, binary, workdir, *extra):
        self.dir = tempfile.mkdtemp(prefix="relay-", dir=workdir)
        env = dict(os.environ, XDG_CONFIG_HOME=self.dir)
        self.log_path = os.path.join(self.dir, "relay.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--print-id", "-v"] + list(extra),
            stdout=subprocess.PIPE, stderr=self.log, env=env)
        r, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not r:
            self.stop()
            raise Fail("relay printed no address within 10 s")
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or not line[0].startswith("0x"):
            self.stop()
            raise Fail("unexpected --print-id line %r" % line)
        self.address, self.port = line[0], int(line[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def log_tail(self, n=15):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")


class Ctx:
    def __init__(self, relay_bin, plugin_dir, workdir):
        self.relay_bin = relay_bin
        self.plugin_dir = plugin_dir
        self.workdir = workdir
        self.ids = {}

    def identity(self, name, days=1):
        if (name, days) not in self.ids:
            self.ids[(name, days)] = d.Identity.create(
                os.path.join(self.workdir, "id-" + name + ("" if days > 0 else "-expired")),
                days)
        return self.ids[(name, days)]

    def relay(self, *extra):
        return Relay(self.relay_bin, self.workdir, *extra)

    def gst_env(self, name):
        home = os.path.join(self.workdir, "gst-" + name)
        os.makedirs(home, exist_ok=True)
        env = dict(os.environ, XDG_CONFIG_HOME=home,
                   GST_PLUGIN_PATH=self.plugin_dir,
                   GST_PLUGIN_PATH_1_0=self.plugin_dir)
        return env


def pub(ctx, relay, who="pub", **kw):
    return d.Publisher(HOST, relay.port, ctx.identity(who),
                       relay_id=relay.address, **kw)


def view(ctx, relay, who="viewer", **kw):
    return d.Viewer(HOST, relay.port, ctx.identity(who),
                    relay_id=relay.address, **kw)


def expect_remote_error(fn, code, what, closes=None, conn=None):
    """fn() must raise RemoteError `code`; with `closes`, the relay must
    (or must not) then close the connection."""
    try:
        fn()
    except d.RemoteError as e:
        expect(e.code == code, "%s: ERROR %d %r, expected %d" % (what, e.code, e.text, code))
        if closes and conn is not None:
            expect_closed(conn, what)
        return e
    except d.ConnectionClosed as e:
        raise Fail("%s: connection closed without ERROR %d (%s)" % (what, code, e))
    raise Fail("%s: no ERROR %d" % (what, code))


def expect_closed(conn, what, timeout=5.0):
    if conn.state == "CLOSED" and getattr(conn, "_closed", False):
        return  # we closed already after a fatal ERROR, as section 7 says
    try:
        m = conn.recv(timeout)
        raise Fail("%s: relay sent %r instead of closing" % (what, m))
    except d.ConnectionClosed:
        return
    except d.Timeout:
        raise Fail("%s: relay did not close within %.0f s" % (what, timeout))


def raw_error(conn, data, code, what, timeout=5.0):
    """Send raw bytes; the relay must answer ERROR `code` and close."""
    conn.send_raw(data)
    t0 = time.monotonic()

    def until_error():
        # Stream messages already on their way (a SUBSCRIBED viewer) are
        # skipped; the ERROR must come within the timeout.
        end = time.monotonic() + timeout
        while True:
            m = conn.recv(max(end - time.monotonic(), 0))
            if m.type not in (d.CAPS, d.MEDIA, d.EOS):
                return m
    e = expect_remote_error(until_error, code, what)
    return e, time.monotonic() - t0


def stream_from_stats(path, name):
    try:
        with open(path) as f:
            js = json.load(f)
    except (OSError, ValueError):
        return None
    for s in js.get("streams", []):
        if s.get("name") == name:
            return s
    return None


def wait_stats(path, name, pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = stream_from_stats(path, name)
        if s is not None and pred(s):
            return s
        time.sleep(0.1)
    raise Fail("%s: not seen in --stats-file within %.0f s" % (what, timeout))


def media_raw_flags(seq, data, flags):
    """MEDIA with any flags word (d.media() clears the reserved bits)."""
    return d.frame(d.MEDIA, struct.pack(">QQQQQQI", seq, d.TIME_NONE, d.TIME_NONE, d.TIME_NONE,
                                        d.OFFSET_NONE, d.OFFSET_NONE, flags) + data)


def check_stream_start(msgs, first_seq, what):
    """CAPS first, stream headers (seq < first_seq), then MEDIA first_seq
    with KEYFRAME; returns the MEDIA list (headers excluded)."""
    expect(msgs and msgs[0].type == d.CAPS, "%s: first message is %s, not CAPS"
           % (what, msgs[0].name if msgs else "nothing"))
    i = 1
    while i < len(msgs) and msgs[i].type == d.MEDIA and msgs[i].flags & d.F_STREAMHEADER:
        expect(msgs[i].seq < first_seq, "%s: STREAMHEADER seq %d not below first_seq %d"
               % (what, msgs[i].seq, first_seq))
        i += 1
    expect(i < len(msgs) and msgs[i].type == d.MEDIA,
           "%s: no MEDIA after CAPS" % what)
    m = msgs[i]
    expect(m.seq == first_seq, "%s: first MEDIA seq %d != first_seq %d"
           % (what, m.seq, first_seq))
    expect(m.flags & d.F_KEYFRAME, "%s: first MEDIA (seq %d) is not a KEYFRAME (flags 0x%x)"
           % (what, m.seq, m.flags))
    return [x for x in msgs[i:] if x.type == d.MEDIA]
