#!/bin/sh
# gst-diode — `diode ls` and `diode stat` against a real diode-relay
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-cli-ls.sh PATH/TO/diode PATH/TO/diode-relay PATH/TO/fault-peer
# A relay on a free loopback port, two real publishers (tests/faults'
# fault-peer: x264enc into diodesink; one public, one private to an allowed
# identity), a real viewer (diodesrc, avdec_h264) of the public one; the
# plugin comes from meson's test environment. Then the tool as a stranger and as
# the allowed identity, --json parsed with python3, and the errors:
# unreachable, unpinned (pin and known-relays), not found, usage.
# Every wait is bounded; everything started is stopped by its pid.

set -u

DIODE=${1:?usage: $0 diode diode-relay fault-peer}
RELAY_BIN=${2:?usage: $0 diode diode-relay fault-peer}
PEER=${3:?usage: $0 diode diode-relay fault-peer}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/diode-test-cli-ls.XXXXXX") || exit 1
PIDS=""
cleanup () {
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
export XDG_CONFIG_HOME="$TMP/config"
failures=0

fail () {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

# Identities: the stranger (default), the allowed viewer, the publisher.
stranger=$("$DIODE" id 2>/dev/null)
friend=$("$DIODE" id --identity "$TMP/friend.pem" 2>/dev/null)
[ -n "$stranger" ] && [ -n "$friend" ] || { echo "cannot make identities"; exit 1; }

# The relay on a free port: port 0, its log says which.
"$RELAY_BIN" --listen 127.0.0.1:0 --identity "$TMP/relay.pem" \
  >"$TMP/relay.log" 2>&1 &
PIDS="$PIDS $!"
port=""
i=0
while [ $i -lt 100 ] && [ -z "$port" ]; do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/relay.log" | head -1)
  [ -n "$port" ] || sleep 0.1
  i=$((i + 1))
done
[ -n "$port" ] || { echo "relay did not start: $(cat "$TMP/relay.log")"; exit 1; }
R=127.0.0.1:$port
relay_addr=$(sed -n 's/.*\(0x[0-9a-f]\{40\}\).*/\1/p' "$TMP/relay.log" | head -1)

publish () {  # NAME [--set PROP=VALUE]...  (320x240 at 30 fps)
  name=$1; shift
  "$PEER" pub --relay "$R" --stream "$name" --identity "$TMP/pub.pem" \
    --no-stdin --tick-ms 1000 "$@" >"$TMP/pub-$name.log" 2>&1 &
  PIDS="$PIDS $!"
}
publish cam-public
publish cam-private --set access=private --set allow="$friend"
# a real viewer of the public stream, as the stranger
"$PEER" view --relay "$R" --stream cam-public --no-stdin --tick-ms 1000 \
  >"$TMP/viewer.log" 2>&1 &
PIDS="$PIDS $!"

# Wait (bounded: 250 tries, some 30 s) until the stranger sees cam-public with its viewer and a
# bitrate (the relay's rate window is one second).
ok=""
i=0
while [ $i -lt 250 ] && [ -z "$ok" ]; do
  "$DIODE" ls "$R" --json >"$TMP/ls.json" 2>"$TMP/ls.err" &&
    python3 - "$TMP/ls.json" <<'PY' && ok=1
import json, sys
d = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in d["streams"]}
c = s.get("cam-public")
sys.exit(0 if c and c["viewers"] >= 1 and c["bitrate_bps"] > 0 and c["width"] == 320 else 1)
PY
  [ -n "$ok" ] || sleep 0.1
  i=$((i + 1))
done
[ -n "$ok" ] || fail "cam-public never listed with a viewer and a bitrate: $(cat "$TMP/ls.json" "$TMP/ls.err")"

# The stranger's JSON: the schema, cam-public live, cam-private absent.
python3 - "$TMP/ls.json" "$relay_addr" <<'PY' || fail "stranger's ls --json: $(cat "$TMP/ls.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["relay"].startswith("127.0.0.1:"), d
assert d["relay_address"] == sys.argv[2], d
assert d["truncated"] is False
names = [x["name"] for x in d["streams"]]
assert "cam-private" not in names, names
c = [x for x in d["streams"] if x["name"] == "cam-public"][0]
for k in ("state", "access", "stored", "owner", "viewers", "web_viewers",
          "bitrate_bps", "codec", "width", "height", "framerate", "live_seq",
          "uptime_s", "bytes_in", "bytes_out"):
    assert k in c, k
assert c["state"] == "live" and c["access"] == "public", c
assert c["codec"] == "h264" and c["height"] == 240 and c["framerate"] == 30.0, c
assert c["live_seq"] > 0 and c["bytes_in"] > 0 and c["bytes_out"] > 0, c
assert c["owner"].startswith("0x") and len(c["owner"]) == 42, c
PY

# The allowed identity sees both (bounded wait for the private one's media).
ok=""
i=0
while [ $i -lt 50 ] && [ -z "$ok" ]; do
  "$DIODE" ls "$R" --json --identity "$TMP/friend.pem" >"$TMP/ls2.json" 2>"$TMP/ls2.err" &&
    python3 -c 'import json,sys; n=[x["name"] for x in json.load(open(sys.argv[1]))["streams"]]; sys.exit(0 if "cam-private" in n and "cam-public" in n else 1)' "$TMP/ls2.json" && ok=1
  [ -n "$ok" ] || sleep 0.1
  i=$((i + 1))
done
[ -n "$ok" ] || fail "the allowed identity does not see both: $(cat "$TMP/ls2.json" "$TMP/ls2.err")"
python3 -c 'import json,sys; c=[x for x in json.load(open(sys.argv[1]))["streams"] if x["name"]=="cam-private"][0]; sys.exit(0 if c["access"]=="private" else 1)' "$TMP/ls2.json" ||
  fail "cam-private's access is not private: $(cat "$TMP/ls2.json")"
# Now that cam-private is known to be there: the stranger still does not
# see it (the check above ran before that was sure).
"$DIODE" ls "$R" --json >"$TMP/ls3.json" 2>"$TMP/ls3.err" || fail "ls --json: $(cat "$TMP/ls3.err")"
python3 -c 'import json,sys; n=[x["name"] for x in json.load(open(sys.argv[1]))["streams"]]; sys.exit(0 if "cam-public" in n and "cam-private" not in n else 1)' "$TMP/ls3.json" ||
  fail "the stranger's ls --json shows cam-private: $(cat "$TMP/ls3.json")"

# The table: a header and one aligned row per stream.
"$DIODE" ls "$R" >"$TMP/ls.txt" 2>"$TMP/ls.err"; rc=$?
[ $rc -eq 0 ] || fail "ls exited $rc: $(cat "$TMP/ls.err")"
head -1 "$TMP/ls.txt" | grep -q '^NAME  *STATE  *ACCESS  *VIEWERS  *BITRATE  *CODEC  *SIZE  *FPS  *UPTIME$' ||
  fail "ls header: $(head -1 "$TMP/ls.txt")"
grep -q '^cam-public  *live  *public  *[1-9]' "$TMP/ls.txt" || fail "ls row: $(cat "$TMP/ls.txt")"
grep -q 'cam-private' "$TMP/ls.txt" && fail "the table shows cam-private to a stranger"

# stat: key: value lines; --json; hidden and missing answer alike.
"$DIODE" stat "$R" cam-public >"$TMP/stat.txt" 2>"$TMP/stat.err"; rc=$?
[ $rc -eq 0 ] || fail "stat exited $rc: $(cat "$TMP/stat.err")"
for k in name state access owner viewers bitrate codec size framerate live_seq bytes_in bytes_out; do
  grep -q "^$k: " "$TMP/stat.txt" || fail "stat lacks '$k:': $(cat "$TMP/stat.txt")"
done
grep -q '^size: 320x240$' "$TMP/stat.txt" || fail "stat size: $(cat "$TMP/stat.txt")"
"$DIODE" stat "$R" cam-private --identity "$TMP/friend.pem" --json >"$TMP/stat.json" 2>"$TMP/stat.err"; rc=$?
[ $rc -eq 0 ] || fail "stat of a private stream by the allowed identity exited $rc: $(cat "$TMP/stat.err")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["stream"]["name"]=="cam-private" and d["stream"]["access"]=="private"' "$TMP/stat.json" ||
  fail "stat --json: $(cat "$TMP/stat.json")"
"$DIODE" stat "$R" cam-private >"$TMP/h.out" 2>"$TMP/hidden.err"; rc1=$?
"$DIODE" stat "$R" cam-nothing >"$TMP/m.out" 2>"$TMP/missing.err"; rc2=$?
[ $rc1 -eq 1 ] && [ $rc2 -eq 1 ] || fail "stat hidden/missing exit $rc1/$rc2, expected 1/1"
[ -s "$TMP/h.out" ] && fail "stat of a hidden stream printed: $(cat "$TMP/h.out")"
grep -q "^diode stat: no stream cam-private on $R (or not visible to $stranger)$" "$TMP/hidden.err" ||
  fail "hidden stat message: $(cat "$TMP/hidden.err")"
sed "s/cam-private/X/" "$TMP/hidden.err" >"$TMP/h1"
sed "s/cam-nothing/X/" "$TMP/missing.err" >"$TMP/h2"
cmp -s "$TMP/h1" "$TMP/h2" || fail "hidden and missing differ: $(cat "$TMP/hidden.err" "$TMP/missing.err")"

# --relay-id: the right one works, a wrong one is refused naming both.
"$DIODE" ls "$R" --relay-id "$relay_addr" >/dev/null 2>"$TMP/e.err" ||
  fail "ls --relay-id (right address): $(cat "$TMP/e.err")"
wrong=0x00000000000000000000000000000000000000aa
"$DIODE" ls "$R" --relay-id $wrong >/dev/null 2>"$TMP/e1.err"; rc=$?
[ $rc -eq 1 ] && grep -q "$relay_addr" "$TMP/e1.err" && grep -q "$wrong" "$TMP/e1.err" &&
  [ "$(wc -l <"$TMP/e1.err")" -eq 1 ] || fail "wrong --relay-id: exit $rc, $(cat "$TMP/e1.err")"
"$DIODE" stat "$wrong@$R" cam-public >/dev/null 2>"$TMP/e2.err"; rc=$?
[ $rc -eq 1 ] && grep -q "$wrong" "$TMP/e2.err" || fail "wrong pin in RELAY: exit $rc, $(cat "$TMP/e2.err")"

# known-relays: the tool recorded the relay on first use; a different
# address on record is refused naming the file's line to remove.
KR="$XDG_CONFIG_HOME/diode/known-relays"
grep -q "$R $relay_addr" "$KR" || fail "known-relays lacks '$R $relay_addr': $(cat "$KR")"
sed -i "s/$relay_addr/$wrong/" "$KR"
"$DIODE" ls "$R" >/dev/null 2>"$TMP/e3.err"; rc=$?
[ $rc -eq 1 ] && grep -q "$wrong" "$TMP/e3.err" && grep -q "$relay_addr" "$TMP/e3.err" &&
  grep -q "known-relays" "$TMP/e3.err" || fail "changed known relay: exit $rc, $(cat "$TMP/e3.err")"

# Unreachable: refused port, unresolvable name; named host:port, exit 1.
"$DIODE" ls 127.0.0.1:1 --timeout 3 >/dev/null 2>"$TMP/u1.err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot reach relay 127.0.0.1:1: Connection refused" "$TMP/u1.err" ||
  fail "refused port: exit $rc, $(cat "$TMP/u1.err")"
"$DIODE" stat no-such-host.invalid:7878 cam --timeout 3 >/dev/null 2>"$TMP/u2.err"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot reach relay no-such-host.invalid:7878" "$TMP/u2.err" ||
  fail "unresolvable host: exit $rc, $(cat "$TMP/u2.err")"

# A port that accepts TCP and then says nothing: --timeout bounds the wait.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$TMP/mute.port" &
PIDS="$PIDS $!"
i=0
while [ $i -lt 50 ] && [ ! -s "$TMP/mute.port" ]; do sleep 0.1; i=$((i + 1)); done
mute=$(cat "$TMP/mute.port")
t0=$(date +%s)
"$DIODE" ls "127.0.0.1:$mute" --timeout 1 >/dev/null 2>"$TMP/u3.err"; rc=$?
t1=$(date +%s)
[ $rc -eq 1 ] && grep -q "relay 127.0.0.1:$mute: TLS handshake (is it a diode relay?) timed out after 1000 ms" "$TMP/u3.err" ||
  fail "silent port: exit $rc, $(cat "$TMP/u3.err")"
[ $((t1 - t0)) -le 3 ] || fail "--timeout 1 took $((t1 - t0)) s"

# Usage errors: exit 2.
"$DIODE" ls >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "ls without RELAY: exit $rc"
"$DIODE" stat "$R" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "stat without NAME: exit $rc"
"$DIODE" ls "$R" --relay-id nonsense >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "bad --relay-id: exit $rc"
"$DIODE" ls 'a b c:::' >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "bad RELAY: exit $rc"
"$DIODE" stat "$R" 'bad/name' >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "bad stream name: exit $rc"

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all ls/stat checks passed"
