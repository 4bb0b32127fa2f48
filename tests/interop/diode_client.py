# gst-diode — a second implementation of the wire protocol, in Python.
#
# Copyright (C) 2026 the gst-diode authors. LGPL-2.1-or-later.
#
# Written from docs/protocol.md alone (no look at the C sources) to prove the
# project rule "someone writing a second implementation from the protocol
# document must interoperate with our relay". Section numbers in comments
# refer to that document. Standard library only, plus the `openssl`
# command-line tool to make Ed25519 identities.
#
# One connection object per TLS connection, single-threaded: every wait on the
# socket also answers PINGs and sends our own keepalive PING (section 11), so
# a caller never needs a second thread (an SSL object is not meant to be read
# and written from two threads at once).

import hashlib
import os
import select
import socket
import ssl
import struct
import subprocess
import time

# --- Section 3: frame types, limits -----------------------------------------

HELLO = 0x01
WELCOME = 0x02
PUBLISH = 0x10
PUBLISH_OK = 0x11
SUBSCRIBE = 0x12
SUBSCRIBE_OK = 0x13
POLICY = 0x14
CAPS = 0x20
MEDIA = 0x21
EOS = 0x22
PING = 0x30
PONG = 0x31
ERROR = 0x7F


def name_key(name):
    """How relays compare stream names (section 4): NFKC, case folded, NFKC
    again; the *_OK echo may spell the name as the stream was created."""
    import unicodedata
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())

TYPE_NAMES = {
    HELLO: "HELLO", WELCOME: "WELCOME", PUBLISH: "PUBLISH",
    PUBLISH_OK: "PUBLISH_OK", SUBSCRIBE: "SUBSCRIBE",
    SUBSCRIBE_OK: "SUBSCRIBE_OK", POLICY: "POLICY", CAPS: "CAPS",
    MEDIA: "MEDIA", EOS: "EOS", PING: "PING", PONG: "PONG", ERROR: "ERROR",
}

# Section 3's per-type table.
CONTROL_LIMIT = 1024            # PUBLISH_OK, SUBSCRIBE(_OK), EOS, PING, PONG
TEXT_FRAME_LIMIT = 8192         # HELLO, WELCOME, ERROR
POLICY_LIMIT = 49152            # PUBLISH, POLICY
CAPS_LIMIT = 1048576
MEDIA_LIMIT = 16777216
PAYLOAD_LIMIT = {t: CONTROL_LIMIT for t in TYPE_NAMES}
for _t in (HELLO, WELCOME, ERROR):
    PAYLOAD_LIMIT[_t] = TEXT_FRAME_LIMIT
for _t in (PUBLISH, POLICY):
    PAYLOAD_LIMIT[_t] = POLICY_LIMIT
PAYLOAD_LIMIT[CAPS] = CAPS_LIMIT
PAYLOAD_LIMIT[MEDIA] = MEDIA_LIMIT

HEADER_SIZE = 8
MEDIA_FIXED = 52
MEDIA_DATA_LIMIT = MEDIA_LIMIT - MEDIA_FIXED  # 16 777 164 (section 12)
TEXT_LIMIT = 4096
CAPS_STRING_LIMIT = CAPS_LIMIT - 4  # 1 048 572
NAME_MAX = 255
ALLOW_MAX = 2048

TIME_NONE = 0xFFFFFFFFFFFFFFFF
OFFSET_NONE = 0xFFFFFFFFFFFFFFFF

# --- Section 6: roles, policy, media flags ----------------------------------

ROLE_PUBLISHER = 1
ROLE_VIEWER = 2
ROLE_RELAY = 3

ACCESS_PUBLIC = 0
ACCESS_PROTECTED = 1
ACCESS_PRIVATE = 2

F_KEYFRAME = 1 << 0
F_HEADER = 1 << 1
F_DISCONT = 1 << 2
F_GAP = 1 << 3
F_DROPPABLE = 1 << 4
F_MARKER = 1 << 5
F_STREAMHEADER = 1 << 6
F_DEFINED = 0x7F  # other bits: senders set 0, receivers ignore (section 6)

# --- Section 7: error codes --------------------------------------------------

NOT_FOUND = 100
NAME_IN_USE = 101
NOT_AUTHORIZED = 102
BAD_NAME = 103
PROTOCOL = 200
VERSION = 201
TOO_LARGE = 202
TIMEOUT = 203
SLOW_VIEWER = 300
SHUTDOWN = 301
INTERNAL = 302

DEFAULT_PORT = 7878
VERSION_MIN = 1
VERSION_MAX = 1
AGENT = "diode-interop-py/1"


class DiodeError(Exception):
    """Base of everything this module raises."""


class PinningError(DiodeError):
    """The relay's address is not the one we expected (section 2)."""


class BadName(DiodeError):
    """A name breaking section 4, caught locally before sending (code 103)."""
    code = BAD_NAME


class ProtocolViolation(DiodeError):
    """The peer broke the protocol; we sent ERROR `code` and closed."""

    def __init__(self, code, reason):
        super().__init__("%d: %s" % (code, reason))
        self.code = code
        self.reason = reason


class RemoteError(DiodeError):
    """The peer sent ERROR. `fatal` follows the code's class (section 7)."""

    def __init__(self, code, text):
        super().__init__("ERROR %d %s" % (code, text))
        self.code = code
        self.text = text
        self.fatal = code >= 200 or code == NAME_IN_USE


class ConnectionClosed(DiodeError):
    """The peer closed (or the TLS layer failed) without an ERROR frame."""


class Timeout(DiodeError):
    """Nothing arrived within the caller's deadline."""


# --- Section 2: identities and addresses -------------------------------------

def _der_tlv(data, pos):
    """One DER element at `pos`: (tag, start of value, end of value)."""
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        count = n & 0x7F
        n = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + n > len(data):
        raise ValueError("DER element runs past the end")
    return tag, pos, pos + n


def spki_from_cert_der(cert):
    """DER SubjectPublicKeyInfo of an X.509 certificate (RFC 5280 layout:
    Certificate = SEQ { tbsCertificate = SEQ { [0] version?, serial,
    signature, issuer, validity, subject, subjectPublicKeyInfo, ... } })."""
    _, start, _ = _der_tlv(cert, 0)  # Certificate
    _, pos, _ = _der_tlv(cert, start)  # tbsCertificate
    fields = []
    while len(fields) < 7:
        tag, vstart, vend = _der_tlv(cert, pos)
        fields.append((tag, pos, vend))
        pos = vend
    if fields[0][0] != 0xA0:  # no explicit version: v1 certificate
        fields.insert(0, None)
    _, s, e = fields[6]
    return cert[s:e]


def address_of_spki(spki):
    """Section 2: "0x" + lowercase hex of the first 20 bytes of SHA-256."""
    return "0x" + hashlib.sha256(spki).digest()[:20].hex()


def address_of_cert(cert_der):
    return address_of_spki(spki_from_cert_der(cert_der))


def address_bytes(address):
    """20 raw bytes of a "0x…" address, as in the policy's allow list."""
    a = address.lower()
    if not a.startswith("0x") or len(a) != 42:
        raise ValueError("not an address: %r" % address)
    return bytes.fromhex(a[2:])


class Identity:
    """An Ed25519 key and a self-signed certificate made from it (section 2).
    The certificate is regenerated on every load, as the document says."""

    def __init__(self, key_path, cert_path):
        self.key_path = key_path
        self.cert_path = cert_path
        der = subprocess.run(
            ["openssl", "x509", "-in", cert_path, "-outform", "DER"],
            check=True, capture_output=True).stdout
        self.address = address_of_cert(der)

    @classmethod
    def create(cls, directory, days=1, not_before=None):
        """Make (or reuse) directory/identity.pem; a fresh certificate with a
        validity of `days` (negative: already expired, for the tests), or
        valid from `not_before` ("YYYYMMDDHHMMSSZ", a future date for the
        tests) for `days`."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        key = os.path.join(directory, "identity.pem")
        cert = os.path.join(directory, "cert.pem")
        if not os.path.exists(key):
            old = os.umask(0o077)
            try:
                subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                                "-out", key], check=True, capture_output=True)
            finally:
                os.umask(old)
        if not_before is not None:
            cls._sign_with_dates(directory, key, cert, not_before, days)
        elif days > 0:
            subprocess.run(["openssl", "req", "-x509", "-new", "-key", key,
                            "-subj", "/CN=diode-interop", "-days", str(days),
                            "-out", cert], check=True, capture_output=True)
        else:
            # `req -x509` refuses days <= 0; `x509 -req` takes them.
            csr = os.path.join(directory, "req.csr")
            subprocess.run(["openssl", "req", "-new", "-key", key,
                            "-subj", "/CN=diode-interop", "-out", csr],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "x509", "-req", "-in", csr,
                            "-signkey", key, "-days", str(days), "-out", cert],
                           check=True, capture_output=True)
        return cls(key, cert)

    @staticmethod
    def _sign_with_dates(directory, key, cert, not_before, days):
        # OpenSSL 3.0's req/x509 cannot set notBefore; `openssl ca -selfsign`
        # can, given a throwaway CA database.
        ca = os.path.join(directory, "ca")
        os.makedirs(ca, exist_ok=True)
        with open(os.path.join(ca, "index.txt"), "w"):
            pass
        with open(os.path.join(ca, "serial"), "w") as f:
            f.write("01\n")
        with open(os.path.join(ca, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = %s/index.txt\n"
                    "new_certs_dir = %s\nserial = %s/serial\ndefault_md = default\n"
                    "policy = p\n[p]\ncommonName = supplied\n" % (ca, ca, ca))
        csr = os.path.join(ca, "req.csr")
        subprocess.run(["openssl", "req", "-new", "-key", key,
                        "-subj", "/CN=diode-interop", "-out", csr],
                       check=True, capture_output=True)
        end = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(
            time.mktime(time.strptime(not_before, "%Y%m%d%H%M%SZ")) + days * 86400))
        subprocess.run(["openssl", "ca", "-batch", "-config",
                        os.path.join(ca, "ca.cnf"), "-selfsign", "-keyfile", key,
                        "-in", csr, "-startdate", not_before, "-enddate", end,
                        "-out", cert], check=True, capture_output=True)


# --- Section 4: field encoding -------------------------------------------------

def check_name(name):
    """Section 4 *name* rules; raises BadName with the reason."""
    b = name.encode("utf-8") if isinstance(name, str) else bytes(name)
    if not 1 <= len(b) <= NAME_MAX:
        raise BadName("name must be 1..255 bytes, is %d" % len(b))
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError:
        raise BadName("name is not valid UTF-8")
    for ch in s:
        if ch == "/":
            raise BadName("name contains '/'")
        if ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F:
            raise BadName("name contains control character U+%04X" % ord(ch))
    return b


def repair_text(text):
    """Senders repair text (section 4): invalid UTF-8 replaced, NULs dropped
    (strings must not contain them), cut at 4096 bytes on a character
    boundary."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    b = text.replace("\0", "").encode("utf-8")
    if len(b) > TEXT_LIMIT:
        b = b[:TEXT_LIMIT].decode("utf-8", errors="ignore").encode("utf-8")
    return b


def enc_string(b):
    return struct.pack(">H", len(b)) + b


def enc_text(text):
    return enc_string(repair_text(text))


def enc_name(name):
    return enc_string(check_name(name))


def enc_caps(caps):
    b = caps.encode("utf-8")
    if len(b) > CAPS_STRING_LIMIT or "\0" in caps:
        raise ValueError("caps too long or containing NUL")
    return struct.pack(">I", len(b)) + b


class Reader:
    """Decodes a payload; every failure is a ProtocolViolation carrying the
    code section 4 assigns."""

    def __init__(self, payload, what):
        self.b = payload
        self.pos = 0
        self.what = what

    def _take(self, n, field):
        if self.pos + n > len(self.b):
            raise ProtocolViolation(
                PROTOCOL, "%s: field %s runs past the end of the payload"
                % (self.what, field))
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def u8(self, field):
        return self._take(1, field)[0]

    def u16(self, field):
        return struct.unpack(">H", self._take(2, field))[0]

    def u32(self, field):
        return struct.unpack(">I", self._take(4, field))[0]

    def u64(self, field):
        return struct.unpack(">Q", self._take(8, field))[0]

    def _utf8(self, b, field):
        if b"\0" in b:
            raise ProtocolViolation(PROTOCOL, "%s: NUL in %s" % (self.what, field))
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolViolation(
                PROTOCOL, "%s: %s is not valid UTF-8" % (self.what, field))

    def string(self, field):
        n = self.u16(field)
        return self._take(n, field)

    def text(self, field):
        n = self.u16(field)
        if n > TEXT_LIMIT:
            raise ProtocolViolation(
                TOO_LARGE, "%s: %s is %d bytes, limit %d"
                % (self.what, field, n, TEXT_LIMIT))
        return self._utf8(self._take(n, field), field)

    def name(self, field):
        b = self.string(field)
        try:
            return check_name(b).decode("utf-8")
        except BadName as e:
            # Malformed frame: reported with a fatal code (section 4).
            raise ProtocolViolation(PROTOCOL, "%s: bad %s: %s"
                                    % (self.what, field, e))

    def caps(self, field):
        n = self.u32(field)
        if n > CAPS_STRING_LIMIT:
            raise ProtocolViolation(
                TOO_LARGE, "%s: caps of %d bytes, limit %d"
                % (self.what, n, CAPS_STRING_LIMIT))
        return self._utf8(self._take(n, field), field)

    def rest(self):
        v = self.b[self.pos:]
        self.pos = len(self.b)
        return v


# --- Section 6: messages ---------------------------------------------------------

def frame(ftype, payload, flags=0, reserved=0):
    return struct.pack(">BBHI", ftype, flags, reserved, len(payload)) + payload


def hello(version_min=VERSION_MIN, version_max=VERSION_MAX,
          role=ROLE_VIEWER, agent=AGENT, extra=b""):
    """`extra`: appended bytes a later version might define (section 3)."""
    return frame(HELLO, struct.pack(">HHB", version_min, version_max, role)
                 + enc_text(agent) + extra)


def enc_policy(access, fleet="", allow=()):
    fleet_b = check_name(fleet) if fleet else b""
    if len(allow) > ALLOW_MAX:
        raise ValueError("at most %d allowed addresses" % ALLOW_MAX)
    return (struct.pack(">B", access) + enc_string(fleet_b)
            + struct.pack(">H", len(allow))
            + b"".join(address_bytes(a) for a in allow))


def publish(name, access=None, fleet="", allow=()):
    p = enc_name(name)
    if access is not None:
        p += enc_policy(access, fleet, allow)
    return frame(PUBLISH, p)


def policy(access, fleet="", allow=()):
    return frame(POLICY, enc_policy(access, fleet, allow))


def subscribe(name, start_seq=0, wait_ms=0):
    return frame(SUBSCRIBE, enc_name(name) + struct.pack(">QI", start_seq, wait_ms))


def caps(caps_string):
    return frame(CAPS, enc_caps(caps_string))


def media(seq, data, flags=0, pts=TIME_NONE, dts=TIME_NONE,
          duration=TIME_NONE, offset=OFFSET_NONE, offset_end=OFFSET_NONE):
    if len(data) > MEDIA_DATA_LIMIT:
        raise ValueError("MEDIA data over %d bytes" % MEDIA_DATA_LIMIT)
    if seq == 0:
        raise ValueError("0 is never a MEDIA seq")
    return frame(MEDIA, struct.pack(">QQQQQQI", seq, pts, dts, duration, offset,
                                    offset_end, flags & F_DEFINED) + data)


def eos(seq):
    return frame(EOS, struct.pack(">Q", seq))


def ping(token):
    return frame(PING, struct.pack(">Q", token))


def pong(token):
    return frame(PONG, struct.pack(">Q", token))


def error(code, text):
    return frame(ERROR, struct.pack(">H", code) + enc_text(text))


class Message:
    """A decoded frame: `type`, `name`, and the fields of its type."""

    def __init__(self, ftype, raw, **fields):
        self.type = ftype
        self.name = TYPE_NAMES[ftype]
        self.raw = raw  # the whole frame, header included
        self.__dict__.update(fields)

    def __repr__(self):
        f = {k: v for k, v in self.__dict__.items()
             if k not in ("raw", "type", "name", "data")}
        if self.type == MEDIA:
            f["data_len"] = len(self.data)
        return "<%s %s>" % (self.name, f)


def decode(ftype, payload, raw=b""):
    """Payload of a validated header -> Message (extra bytes after the
    defined fields are ignored, section 3, except MEDIA data)."""
    r = Reader(payload, TYPE_NAMES[ftype])
    if ftype == HELLO:
        return Message(ftype, raw, version_min=r.u16("version_min"),
                       version_max=r.u16("version_max"), role=r.u8("role"),
                       agent=r.text("agent"))
    if ftype == WELCOME:
        return Message(ftype, raw, version=r.u16("version"),
                       keepalive_ms=r.u32("keepalive_ms"), agent=r.text("agent"))
    if ftype in (PUBLISH_OK, SUBSCRIBE_OK):
        stream = r.name("stream")
        return Message(ftype, raw, stream=stream, seq=r.u64(
            "next_seq" if ftype == PUBLISH_OK else "first_seq"))
    if ftype == CAPS:
        return Message(ftype, raw, caps=r.caps("caps"))
    if ftype == MEDIA:
        seq, pts, dts, duration, offset, offset_end = (
            r.u64(f) for f in ("seq", "pts", "dts", "duration", "offset",
                               "offset_end"))
        flags = r.u32("flags")
        return Message(ftype, raw, seq=seq, pts=pts, dts=dts, duration=duration,
                       offset=offset, offset_end=offset_end, flags=flags,
                       data=r.rest())
    if ftype == EOS:
        return Message(ftype, raw, seq=r.u64("seq"))
    if ftype in (PING, PONG):
        return Message(ftype, raw, token=r.u64("token"))
    if ftype == ERROR:
        return Message(ftype, raw, code=r.u16("code"), text=r.text("text"))
    # PUBLISH, SUBSCRIBE, POLICY are client->relay: a client never decodes
    # them, the state check refuses them first.
    return Message(ftype, raw)


def check_header(header):
    """Section 3: validate the 8 header bytes before reading any payload.
    Returns (type, length) or raises ProtocolViolation."""
    ftype, flags, reserved, length = struct.unpack(">BBHI", header)
    if ftype not in TYPE_NAMES:
        raise ProtocolViolation(PROTOCOL, "unknown frame type 0x%02x" % ftype)
    if flags:
        raise ProtocolViolation(PROTOCOL, "%s with flags 0x%02x"
                                % (TYPE_NAMES[ftype], flags))
    if reserved:
        raise ProtocolViolation(PROTOCOL, "%s with reserved 0x%04x"
                                % (TYPE_NAMES[ftype], reserved))
    if length > PAYLOAD_LIMIT[ftype]:
        raise ProtocolViolation(TOO_LARGE, "%s of %d bytes, limit %d"
                                % (TYPE_NAMES[ftype], length,
                                   PAYLOAD_LIMIT[ftype]))
    return ftype, length


# --- Section 8: the client side of a connection ------------------------------------

# What the relay may send in each client state (section 8, client end table);
# PING, PONG and ERROR are allowed in every state after HELLO.
ALLOWED = {
    "AWAIT_WELCOME": {WELCOME},
    "READY": set(),
    "PUBLISH_SENT": {PUBLISH_OK},
    "SUBSCRIBING": {SUBSCRIBE_OK},
    "PUBLISHING": set(),
    "SUBSCRIBED": {CAPS, MEDIA, EOS},
    "CLOSED": set(),
}
ANY_STATE = {PING, PONG, ERROR}


def parse_hostport(s):
    host, sep, port = s.rpartition(":")
    if not sep:
        return s, DEFAULT_PORT
    return host, int(port)


class KnownRelays:
    """Section 2 trust on first use: `host:port 0xaddress` per line."""

    def __init__(self, path):
        self.path = path

    def check(self, hostport, address):
        lines = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                lines = f.read().splitlines()
        for n, line in enumerate(lines, 1):
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] == hostport:
                if words[1].lower() != address.lower():
                    raise PinningError(
                        "relay %s presented %s but %s line %d records %s; "
                        "remove that line if the relay's key really changed"
                        % (hostport, address, self.path, n, words[1]))
                return
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write("%s %s\n" % (hostport, address))


class Connection:
    """One client connection to a relay (sections 1, 2, 5, 8, 11).

    Every wait (`recv`, `idle`) answers PINGs with PONGs and sends a PING
    when we have sent nothing for half the keepalive interval. Received
    frames are checked strictly (header, payload, state, seq order); a
    violation sends ERROR and closes, then raises ProtocolViolation."""

    def __init__(self, host, port, identity, role=ROLE_VIEWER, relay_id=None,
                 known_relays=None, version_min=VERSION_MIN,
                 version_max=VERSION_MAX, agent=AGENT, timeout=10.0,
                 hello_extra=b"", send_hello=True, auto_pong=True,
                 keepalive=True):
        self.role = role
        self.state = "CLOSED"
        self.auto_pong = auto_pong
        self.keepalive = keepalive
        self.keepalive_ms = 0
        self.version = None
        self.welcome = None
        self.pings_received = []  # (monotonic time, token)
        self.pongs_received = []
        self.last_seq = None  # last MEDIA seq on this connection
        self._buf = bytearray()
        self._last_send = time.monotonic()
        self._last_recv = time.monotonic()

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3  # section 1: nothing else
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False  # no CA chain: a peer is its key
        ctx.verify_mode = ssl.CERT_NONE
        if identity is not None:
            ctx.load_cert_chain(identity.cert_path, identity.key_path)
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = ctx.wrap_socket(raw)
        except (ssl.SSLError, OSError) as e:
            raw.close()
            raise ConnectionClosed("TLS handshake failed: %s" % e)
        self.tls_version = self.sock.version()
        self.cipher = self.sock.cipher()
        cert = self.sock.getpeercert(binary_form=True)
        if cert is None:
            self.close()
            raise PinningError("relay presented no certificate")
        self.relay_address = address_of_cert(cert)
        # Section 2: a refused relay is disconnected right after the TLS
        # handshake, before any frame is sent.
        try:
            if relay_id is not None:
                if relay_id.lower() != self.relay_address:
                    raise PinningError("relay %s:%d is %s, expected %s" % (
                        host, port, self.relay_address, relay_id.lower()))
            elif known_relays is not None:
                KnownRelays(known_relays).check("%s:%d" % (host, port),
                                                self.relay_address)
        except PinningError:
            self.close()
            raise
        self.state = "AWAIT_WELCOME"
        if send_hello:
            self.send_raw(hello(version_min, version_max, role, agent,
                                hello_extra))
            self.expect_welcome(version_min, version_max, timeout)

    # -- sending --

    def send_raw(self, data):
        """Bytes as they are (also malformed frames, for the tests)."""
        try:
            self.sock.sendall(data)
        except (OSError, ssl.SSLError) as e:
            self._after_send_failure(e)
        self._last_send = time.monotonic()

    def _after_send_failure(self, e):
        """The relay closed under us. Its reason may still be waiting to be
        read: an ERROR frame, or a TLS alert (section 1: a client without
        certificate "reads the alert instead of WELCOME"; with OpenSSL 3 the
        HELLO write itself already fails). Read it before giving up."""
        if getattr(self, "_salvaging", False):
            raise ConnectionClosed("send failed: %s" % e)
        self._salvaging = True
        self.state = "CLOSED"  # no keepalive PING from here on
        skipped = 0
        deadline = time.monotonic() + 2.0
        try:
            while True:
                # Frames queued before the ERROR (a stalled viewer's backlog)
                # are of no use any more: skip them, bounded in time.
                m = self.recv_frame(max(deadline - time.monotonic(), 0))
                if m.type == ERROR:
                    self.close()
                    raise RemoteError(m.code, m.text)
                skipped += 1
        except (ConnectionClosed, Timeout, ProtocolViolation, OSError,
                ssl.SSLError) as e2:
            raise ConnectionClosed("send failed: %s; then (%d frames "
                                   "skipped): %s" % (e, skipped, e2))
        finally:
            self._salvaging = False

    def send_error(self, code, text):
        try:
            self.send_raw(error(code, text))
        except ConnectionClosed:
            pass

    def _violation(self, v):
        """We detected a protocol violation: ERROR, close, raise."""
        self.send_error(v.code, v.reason)
        self.close()
        raise v

    # -- receiving --

    def _fill(self, n, deadline):
        """Read until the buffer holds n bytes, servicing keepalive."""
        while len(self._buf) < n:
            now = time.monotonic()
            if now >= deadline:
                raise Timeout("nothing within the deadline")
            self._keepalive_tick(now)
            slice_s = deadline - now
            if self.keepalive and self.keepalive_ms:
                slice_s = min(slice_s, self.keepalive_ms / 4000.0)
            if not self.sock.pending():
                r, _, _ = select.select([self.sock], [], [], max(slice_s, 0.001))
                if not r:
                    continue
            self.sock.setblocking(False)
            try:
                chunk = self.sock.recv(max(n - len(self._buf), 16384))
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (ssl.SSLError, OSError) as e:
                self.state = "CLOSED"
                raise ConnectionClosed("receive failed: %s" % e)
            finally:
                try:
                    self.sock.setblocking(True)
                except OSError:
                    pass
            if not chunk:
                self.state = "CLOSED"
                raise ConnectionClosed("end of file")
            self._last_recv = time.monotonic()
            self._buf += chunk

    def _keepalive_tick(self, now):
        # Section 11: send some frame at least every K ms; we use K/2 so that
        # scheduling noise never makes us late.
        if (self.keepalive and self.keepalive_ms and self.state != "CLOSED"
                and now - self._last_send >= self.keepalive_ms / 2000.0):
            self.send_raw(ping(int(now * 1000) & 0xFFFFFFFF))

    def recv_frame(self, timeout):
        """Next frame, header checked before the payload is read."""
        deadline = time.monotonic() + timeout
        self._fill(HEADER_SIZE, deadline)
        try:
            ftype, length = check_header(bytes(self._buf[:HEADER_SIZE]))
        except ProtocolViolation as v:
            self._violation(v)
        self._fill(HEADER_SIZE + length, deadline)
        raw = bytes(self._buf[:HEADER_SIZE + length])
        del self._buf[:HEADER_SIZE + length]
        try:
            return decode(ftype, raw[HEADER_SIZE:], raw)
        except ProtocolViolation as v:
            self._violation(v)

    def recv(self, timeout=10.0):
        """Next message other than PING/PONG, checked against the state.
        An ERROR raises RemoteError (and closes if it is fatal)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv_frame(max(deadline - time.monotonic(), 0))
            if m.type == PING:
                self.pings_received.append((time.monotonic(), m.token))
                if self.auto_pong:
                    self.send_raw(pong(m.token))
                continue
            if m.type == PONG:
                self.pongs_received.append((time.monotonic(), m.token))
                continue
            if m.type == ERROR:
                self._on_error(m)
            if m.type not in ALLOWED[self.state]:
                self._violation(ProtocolViolation(
                    PROTOCOL, "%s not allowed in state %s" % (m.name, self.state)))
            if m.type == MEDIA:
                if m.seq == 0 or (self.last_seq is not None
                                  and m.seq <= self.last_seq):
                    self._violation(ProtocolViolation(
                        PROTOCOL, "MEDIA seq %d after %s" % (m.seq, self.last_seq)))
                self.last_seq = m.seq
            if m.type == EOS and m.seq < (self.last_seq or 0):
                self._violation(ProtocolViolation(
                    PROTOCOL, "EOS seq %d below last MEDIA seq %d"
                    % (m.seq, self.last_seq)))
            return m

    def _on_error(self, m):
        # Section 7: by class. Never answer an ERROR with an ERROR.
        e = RemoteError(m.code, m.text)
        if e.fatal:
            self.close()
        elif self.state in ("PUBLISH_SENT", "SUBSCRIBING"):
            self.state = "READY"  # a refusal: as before the request
        elif self.state == "SUBSCRIBED" and m.code == NOT_AUTHORIZED:
            # A cut-off viewer (section 6, POLICY enforcement): the relay
            # closes; so do we.
            self.close()
        raise e

    def idle(self, seconds):
        """Wait, answering PINGs and keeping the link alive. Any other
        message arriving meanwhile is returned in a list."""
        got = []
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            try:
                got.append(self.recv(left))
            except Timeout:
                return got

    # -- handshake and requests --

    def expect_welcome(self, version_min, version_max, timeout):
        m = self.recv(timeout)
        self.welcome = m
        if not version_min <= m.version <= version_max:
            self._violation(ProtocolViolation(
                VERSION, "relay chose version %d, client speaks %d..%d"
                % (m.version, version_min, version_max)))
        self.version = m.version
        self.keepalive_ms = m.keepalive_ms
        self.state = "READY"
        return m

    def publish(self, name, access=None, fleet="", allow=(), timeout=10.0):
        """PUBLISH; returns PUBLISH_OK's next_seq or raises RemoteError."""
        self.send_raw(publish(name, access, fleet, allow))
        self.state = "PUBLISH_SENT"
        m = self.recv(timeout)
        if name_key(m.stream) != name_key(name):
            self._violation(ProtocolViolation(
                PROTOCOL, "PUBLISH_OK for %r, asked %r" % (m.stream, name)))
        self.state = "PUBLISHING"
        return m.seq

    def subscribe(self, name, start_seq=0, wait_ms=0, timeout=None):
        """SUBSCRIBE; returns SUBSCRIBE_OK's first_seq or raises."""
        self.send_raw(subscribe(name, start_seq, wait_ms))
        self.state = "SUBSCRIBING"
        m = self.recv(timeout if timeout is not None else wait_ms / 1000.0 + 10)
        if name_key(m.stream) != name_key(name):
            self._violation(ProtocolViolation(
                PROTOCOL, "SUBSCRIBE_OK for %r, asked %r" % (m.stream, name)))
        if m.seq == 0:
            self._violation(ProtocolViolation(
                PROTOCOL, "SUBSCRIBE_OK with first_seq 0"))
        self.state = "SUBSCRIBED"
        self.first_seq = m.seq
        return m.seq

    def close(self):
        if self.state == "CLOSED" and getattr(self, "_closed", False):
            return
        self.state = "CLOSED"
        self._closed = True
        try:
            self.sock.settimeout(1.0)
            self.sock.unwrap()  # TLS close_notify, then TCP close (section 1)
        except (OSError, ssl.SSLError, ValueError):
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class Publisher(Connection):
    """PUBLISH, CAPS, MEDIA with its own seq counter, EOS."""

    def __init__(self, host, port, identity, **kw):
        super().__init__(host, port, identity, role=ROLE_PUBLISHER, **kw)
        self.next_seq = None
        self.sent_seq = 0

    def publish(self, name, access=None, fleet="", allow=(), timeout=10.0):
        self.next_seq = super().publish(name, access, fleet, allow, timeout)
        return self.next_seq

    def send_caps(self, caps_string):
        self.send_raw(caps(caps_string))

    def send_policy(self, access, fleet="", allow=()):
        self.send_raw(policy(access, fleet, allow))

    def send_media(self, data, flags=0, **times):
        seq = self.next_seq
        self.send_raw(media(seq, data, flags, **times))
        self.sent_seq = seq
        self.next_seq += 1
        self._keepalive_tick(time.monotonic())
        # Read what is pending (PINGs to answer) without waiting.
        self._drain()
        return seq

    def send_eos(self):
        self.send_raw(eos(self.sent_seq))

    def _drain(self):
        while self.sock.pending() or select.select([self.sock], [], [], 0)[0]:
            try:
                # PINGs are answered inside; anything but PING/PONG/ERROR is
                # refused by recv's state check (PUBLISHING), so it never
                # returns a message here.
                self.recv(0.05)
            except Timeout:
                return


class Viewer(Connection):
    def __init__(self, host, port, identity, **kw):
        super().__init__(host, port, identity, role=ROLE_VIEWER, **kw)

    def read_stream(self, timeout=30.0, stop_after=None):
        """Messages after SUBSCRIBE_OK up to and including EOS (or until
        `stop_after` MEDIA, or the timeout)."""
        out = []
        deadline = time.monotonic() + timeout
        media_count = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("stream did not end within %.0f s" % timeout)
            m = self.recv(left)
            out.append(m)
            if m.type == MEDIA:
                media_count += 1
                if stop_after is not None and media_count >= stop_after:
                    return out
            if m.type == EOS:
                return out
