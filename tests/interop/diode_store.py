# gst-diode — interoperability test: the recording frames of protocol
# version 3, written from docs/protocol.md section 15 alone (not from the C
# code), as a second implementation of that section.
#
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Encoders and decoders for RANGE, RANGE_OK, FETCH, CHUNK, FETCH_END,
STORED and the v3 blocks appended to PUBLISH, PUBLISH_OK, SUBSCRIBE and
SUBSCRIBE_OK (any role, version 3), plus a frame reader for a version-3
connection of diode_client.Connection."""

import os
import re
import struct
import time
import zlib

import diode_client as d
import diode_links as L

VERSION_STORE = 3

RANGE = 0x50
RANGE_OK = 0x51
FETCH = 0x52
CHUNK = 0x53
FETCH_END = 0x54
STORED = 0x55
NAMES = {RANGE: "RANGE", RANGE_OK: "RANGE_OK", FETCH: "FETCH",
         CHUNK: "CHUNK", FETCH_END: "FETCH_END", STORED: "STORED"}
# section 15, "New frames"
LIMITS = {RANGE: 1024, RANGE_OK: 65536, FETCH: 1024, CHUNK: 1024,
          FETCH_END: 1024, STORED: 1024}

NOT_STORED = 105
STORE_FAILED = 106

# pubflags
RECORD = 1 << 0
UPLOAD = 1 << 1
# PUBLISH_OK store
STORE_NONE, STORE_RECORDING, STORE_UNAVAILABLE = 0, 1, 2
# SUBSCRIBE start_mode, snap
LIVE, EARLIEST, BACK, WALLCLOCK, TIME = 0, 1, 2, 3, 4
BEFORE, AFTER, NEAREST = 0, 1, 2
# SUBSCRIBE_OK / RANGE_OK stream_state
S_LIVE, S_LIVE_RECORDED, S_RECORDING = 0, 1, 2
# CHUNK flags
C_KEYFRAME, C_CONTINUATION, C_DISCONT, C_EOS = 1, 2, 4, 8
# RANGE / FETCH flags
LOCAL = 1
# FETCH_END status
DONE, MORE, NONE = 0, 1, 2

SPAN_SIZE = 48
SPANS_MAX = 256
CHUNK_HEADER_SIZE = 60
CHUNK_FRAMES_MAX = 65536
CHUNK_BYTES_MAX = 64 * 1024 * 1024
FETCH_MAX_CHUNKS = 64
FETCH_MAX_BYTES = 32 * 1024 * 1024


def crc(data, value=0):
    """CRC-32/ISO-HDLC, as zlib's crc32(): running over a chunk's frames."""
    return zlib.crc32(data, value) & 0xFFFFFFFF


def _violation(code, text):
    return d.ProtocolViolation(code, text)


# --- v3 blocks ---------------------------------------------------------------

def publish(name, access=d.ACCESS_PUBLIC, fleet="", allow=(), pubflags=0,
            owner=None, path=None):
    """PUBLISH at version 3: the policy always (the block needs it), the
    relay-link owner and path when `path` is not None, then pubflags."""
    if pubflags & UPLOAD and not pubflags & RECORD:
        raise ValueError("UPLOAD without RECORD")
    p = d.enc_name(name) + d.enc_policy(access, fleet, allow)
    if path is not None:
        p += L.enc_owner(owner) + L.enc_path(path)
    return d.frame(d.PUBLISH, p + struct.pack(">I", pubflags))


def publish_ok(name, next_seq, store):
    return d.frame(d.PUBLISH_OK, d.enc_name(name) + struct.pack(">QB", next_seq, store))


def subscribe(name, start_seq=0, wait_ms=0, pin=None, start_mode=LIVE,
              start_value=0, snap=BEFORE, path=None):
    if start_mode > 4 or snap > 2 or (start_mode != LIVE and start_seq != 0):
        raise ValueError("start_mode/snap out of range or with start_seq")
    p = d.enc_name(name) + struct.pack(">QI", start_seq, wait_ms) + L.enc_owner(pin)
    if path is not None:
        p += L.enc_path(path)
    return d.frame(d.SUBSCRIBE, p + struct.pack(">BQB", start_mode, start_value, snap))


def subscribe_ok(name, first_seq, publisher=None, stream_state=S_LIVE,
                 start_time=d.TIME_NONE):
    return d.frame(d.SUBSCRIBE_OK, d.enc_name(name) + struct.pack(">Q", first_seq)
                   + L.enc_owner(publisher)
                   + struct.pack(">BQ", stream_state, start_time))


# --- new frames ----------------------------------------------------------------

def range_(name, flags=0):
    return d.frame(RANGE, d.enc_name(name) + struct.pack(">B", flags))


def enc_span(s):
    return struct.pack(">6Q", *s)


def range_ok(name, stream_state, owner, access, fleet, allow, spans):
    if len(spans) > SPANS_MAX:
        raise ValueError("at most %d spans" % SPANS_MAX)
    p = (d.enc_name(name) + struct.pack(">B", stream_state) + L.enc_owner(owner)
         + d.enc_policy(access, fleet, allow) + struct.pack(">H", len(spans))
         + b"".join(enc_span(s) for s in spans))
    return d.frame(RANGE_OK, p)


def fetch(name, from_seq, to_seq, flags=0):
    if from_seq > to_seq:
        raise ValueError("from_seq after to_seq")
    return d.frame(FETCH, d.enc_name(name) + struct.pack(">QQB", from_seq, to_seq, flags))


def chunk(first_seq, last_seq, time_, end_time, wall_us, flags, n_prelude,
          n_frames, nbytes, crc32):
    return d.frame(CHUNK, struct.pack(">5Q5I", first_seq, last_seq, time_,
                                      end_time, wall_us, flags, n_prelude,
                                      n_frames, nbytes, crc32))


def chunk_of(frames, first_seq, last_seq, n_prelude, flags=C_KEYFRAME,
             time_=d.TIME_NONE, end_time=d.TIME_NONE, wall_us=0):
    """A CHUNK frame describing `frames` (bytes of whole frames), then them."""
    c = 0
    for f in frames:
        c = crc(f, c)
    return chunk(first_seq, last_seq, time_, end_time, wall_us, flags,
                 n_prelude, len(frames), sum(len(f) for f in frames), c) + b"".join(frames)


def fetch_end(next_seq, status):
    return d.frame(FETCH_END, struct.pack(">QB", next_seq, status))


def stored(last_seq, nbytes, final):
    return d.frame(STORED, struct.pack(">QQB", last_seq, nbytes, 1 if final else 0))


# --- decoding ------------------------------------------------------------------

def _chunk_fields(r):
    f = dict(zip(("first_seq", "last_seq", "time", "end_time", "wall_us"),
                 (r.u64(n) for n in ("first_seq", "last_seq", "time", "end_time",
                                     "wall_us"))))
    for n in ("flags", "n_prelude", "n_frames", "bytes", "crc32"):
        f[n] = r.u32(n)
    if f["n_frames"] == 0:
        raise _violation(d.PROTOCOL, "CHUNK: n_frames 0")
    if f["n_frames"] > CHUNK_FRAMES_MAX:
        raise _violation(d.TOO_LARGE, "CHUNK: n_frames %d" % f["n_frames"])
    if f["n_prelude"] > f["n_frames"]:
        raise _violation(d.PROTOCOL, "CHUNK: n_prelude above n_frames")
    if f["bytes"] > CHUNK_BYTES_MAX:
        raise _violation(d.TOO_LARGE, "CHUNK: bytes %d" % f["bytes"])
    if f["bytes"] < 8 * f["n_frames"]:
        raise _violation(d.PROTOCOL, "CHUNK: bytes below 8 per frame")
    if f["first_seq"] > f["last_seq"]:
        raise _violation(d.PROTOCOL, "CHUNK: first_seq after last_seq")
    return f


def decode(ftype, payload, link=False):
    """The payload of a frame received on a version-3 connection -> dict.
    `link`: a relay link (role RELAY), whose PUBLISH/SUBSCRIBE/SUBSCRIBE_OK
    carry the section-14 fields before the v3 block."""
    r = d.Reader(payload, NAMES.get(ftype, d.TYPE_NAMES.get(ftype, "?")))
    if ftype == RANGE:
        return {"stream": r.name("stream"), "flags": r.u8("flags")}
    if ftype == FETCH:
        f = {"stream": r.name("stream"), "from_seq": r.u64("from_seq"),
             "to_seq": r.u64("to_seq"), "flags": r.u8("flags")}
        if f["from_seq"] > f["to_seq"]:
            raise _violation(d.PROTOCOL, "FETCH: from_seq after to_seq")
        return f
    if ftype == RANGE_OK:
        f = {"stream": r.name("stream"), "stream_state": r.u8("stream_state")}
        if f["stream_state"] > 2:
            raise _violation(d.PROTOCOL, "RANGE_OK: stream_state %d" % f["stream_state"])
        # owner and policy are not optional here
        n = r.u8("owner")
        if n not in (0, 20):
            raise _violation(d.PROTOCOL, "RANGE_OK: owner of %d bytes" % n)
        f["owner"] = "0x" + r._take(20, "owner").hex() if n else None
        f["access"], f["fleet"], f["allow"] = L._policy(r)
        count = r.u16("span count")
        if count > SPANS_MAX:
            raise _violation(d.TOO_LARGE, "RANGE_OK: %d spans" % count)
        spans = [struct.unpack(">6Q", r._take(SPAN_SIZE, "span")) for _ in range(count)]
        for i, s in enumerate(spans):
            if s[0] > s[1] or (i and s[0] <= spans[i - 1][1]):
                raise _violation(d.PROTOCOL, "RANGE_OK: span %d out of order" % i)
        f["spans"] = spans
        return f
    if ftype == CHUNK:
        return _chunk_fields(r)
    if ftype == FETCH_END:
        f = {"next_seq": r.u64("next_seq"), "status": r.u8("status")}
        if f["status"] > 2:
            raise _violation(d.PROTOCOL, "FETCH_END: status %d" % f["status"])
        return f
    if ftype == STORED:
        f = {"last_seq": r.u64("last_seq"), "bytes": r.u64("bytes"),
             "final": r.u8("final")}
        if f["final"] > 1:
            raise _violation(d.PROTOCOL, "STORED: final %d" % f["final"])
        return f
    # the messages with a v3 block
    if ftype == d.PUBLISH:
        f = {"stream": r.name("stream"), "pubflags": 0}
        if r.pos == len(r.b):
            f["access"], f["fleet"], f["allow"] = d.ACCESS_PUBLIC, "", []
            return f
        f["access"], f["fleet"], f["allow"] = L._policy(r)
        if link:
            f["owner"] = L._owner(r)
            f["path"] = L._path(r) if r.pos < len(r.b) else []
        if r.pos < len(r.b):
            f["pubflags"] = r.u32("pubflags")
            if f["pubflags"] & UPLOAD and not f["pubflags"] & RECORD:
                raise _violation(d.PROTOCOL, "PUBLISH: UPLOAD without RECORD")
        return f
    if ftype == d.PUBLISH_OK:
        f = {"stream": r.name("stream"), "next_seq": r.u64("next_seq"), "store": 0}
        if r.pos < len(r.b):
            f["store"] = r.u8("store")
            if f["store"] > 2:
                raise _violation(d.PROTOCOL, "PUBLISH_OK: store %d" % f["store"])
        return f
    if ftype == d.SUBSCRIBE:
        f = {"stream": r.name("stream"), "start_seq": r.u64("start_seq"),
             "wait_ms": r.u32("wait_ms"), "pin": L._owner(r),
             "start_mode": LIVE, "start_value": 0, "snap": BEFORE}
        if link:
            f["path"] = L._path(r) if r.pos < len(r.b) else []
        if r.pos < len(r.b):
            f["start_mode"] = r.u8("start_mode")
            f["start_value"] = r.u64("start_value")
            f["snap"] = r.u8("snap")
            if (f["start_mode"] > 4 or f["snap"] > 2
                    or (f["start_mode"] != LIVE and f["start_seq"] != 0)):
                raise _violation(d.PROTOCOL, "SUBSCRIBE: bad start")
        return f
    if ftype == d.SUBSCRIBE_OK:
        f = {"stream": r.name("stream"), "seq": r.u64("first_seq"),
             "publisher": L._owner(r)}
        if link:
            if r.pos == len(r.b):
                # no policy fields: fail closed (section 14)
                f["access"], f["fleet"], f["allow"] = d.ACCESS_PRIVATE, "", []
                f["has_policy"], f["path"] = False, []
            else:
                f["access"], f["fleet"], f["allow"] = L._policy(r)
                f["has_policy"] = True
                f["path"] = L._path(r) if r.pos < len(r.b) else []
        f["stream_state"], f["start_time"], f["live_seq"] = S_LIVE, d.TIME_NONE, 0
        if r.pos < len(r.b):
            f["stream_state"] = r.u8("stream_state")
            f["start_time"] = r.u64("start_time")
            if f["stream_state"] > 2:
                raise _violation(d.PROTOCOL, "SUBSCRIBE_OK: stream_state %d"
                                 % f["stream_state"])
            # section 18: live_seq, appended at version 4, read when 8
            # bytes follow (fewer: absent, 0); anything after is ignored
            if len(r.b) - r.pos >= 8:
                f["live_seq"] = r.u64("live_seq")
        return f
    raise ValueError("not a version-3 payload: type 0x%02x" % ftype)


def check_header(header, version):
    """Section 3 at `version` (not a relay link): (type, length) or raises."""
    ftype, flags, reserved, length = struct.unpack(">BBHI", header)
    limit = d.PAYLOAD_LIMIT.get(ftype) or (LIMITS.get(ftype) if version >= 3 else None)
    if limit is None:
        raise _violation(d.PROTOCOL, "unknown frame type 0x%02x" % ftype)
    if flags or reserved:
        raise _violation(d.PROTOCOL, "flags or reserved bytes set")
    if length > limit:
        raise _violation(d.TOO_LARGE, "frame of %d bytes, limit %d" % (length, limit))
    return ftype, length


def recv_raw(conn, timeout=10.0, header=None):
    """Next frame of a version-3 connection as (type, payload), PINGs
    answered; an ERROR raises diode_client.RemoteError. @header(bytes) ->
    (type, length) judges the header (default: check_header)."""
    deadline = time.monotonic() + timeout
    while True:
        conn._fill(d.HEADER_SIZE, deadline)
        raw = bytes(conn._buf[:d.HEADER_SIZE])
        ftype, length = header(raw) if header else check_header(raw, conn.version)
        conn._fill(d.HEADER_SIZE + length, deadline)
        payload = bytes(conn._buf[d.HEADER_SIZE:d.HEADER_SIZE + length])
        del conn._buf[:d.HEADER_SIZE + length]
        if ftype == d.PING:
            conn.send_raw(d.pong(struct.unpack(">Q", payload[:8])[0]))
            continue
        if ftype == d.PONG:
            continue
        if ftype == d.ERROR:
            m = d.decode(ftype, payload)
            if m.code >= 200:
                conn.close()
            raise d.RemoteError(m.code, m.text)
        return ftype, payload


# --- the byte examples of docs/protocol.md section 15 ----------------------------

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "docs", "protocol.md")


def doc_examples(path=DOC, section=15):
    """{id: bytes} of every `<!-- example: id -->` block of one section (15
    by default): the hex pairs of the fenced block after the marker, '#'
    comments."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # one section only: section 16's examples (share links) are not frames
    start = text.find("\n## %d." % section)
    end = text.find("\n## %d." % (section + 1), start)
    text = text[start:end if end > start else len(text)]
    out = {}
    for m in re.finditer(r"<!-- example: ([a-z0-9-]+) -->\s*```\n(.*?)```", text, re.S):
        hexes = []
        for line in m.group(2).splitlines():
            hexes += line.split("#", 1)[0].split()
        if m.group(1) in out:
            raise ValueError("example %s twice" % m.group(1))
        out[m.group(1)] = bytes(int(h, 16) for h in hexes)
    return out
