#!/bin/sh
# gst-diode — the units under a real systemd. There is no systemd as PID 1
# on this machine or in CI, so the test boots one: /lib/systemd/systemd as
# PID 1 of new PID, mount, network, UTS and IPC namespaces, its root an
# overlay of / (nothing written reaches the host), /proc/sys and /sys read
# only, a private /dev, only loopback. `meson install` goes into the
# overlay, then systemctl starts diode-relay.service and
# diode-publish@cam.service (videotestsrc into diodesink) exactly as an
# operator would, and the test checks: the relay's own user and identity in
# its state directory, its hardening as the kernel sees it (NoNewPrivs,
# no capabilities, seccomp), /healthz, the publisher's identity and trust
# file in its state directory, the stream reaching the relay and ending with
# EOS; `systemctl reload` applying a publisher list without a restart (same
# PID; the publisher then refused and restarted by systemd), a broken file
# changing nothing; a clean stop; `systemctl start` failing (Type=notify)
# when the port is taken. Root only (exit 77 otherwise).
#   test-units-systemd.sh BUILD_DIR
set -eu
# shellcheck disable=SC2034 # used by install-lib.sh
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, overlayfs)"; exit 77; }
for c in unshare nsenter /lib/systemd/systemd systemctl; do
  command -v "$c" >/dev/null || { echo "FAIL: $c is missing (Debian packages systemd, util-linux)" >&2; exit 1; }
done
T=$(mktemp -d /tmp/diode-units-sd.XXXXXX)
R=$T/root

cleanup() {
  sd_stop
  # the namespaces' mounts went with them; only the overlay is ours here
  umount "$R" 2>/dev/null || true
  # never remove through a still mounted overlay of /
  if mountpoint -q "$R"; then
    echo "cleanup: $R is still mounted; left in place" >&2
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
# shellcheck source=tests/packaging/install-lib.sh
. "$HERE/install-lib.sh"
# shellcheck source=tests/packaging/systemd-boot.sh
. "$HERE/systemd-boot.sh"
read_layout

note "overlay root, systemd as PID 1"
mkdir -p "$T/upper" "$T/work" "$R"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$R" \
  || fail "cannot mount an overlay of / (overlayfs)"
install_into "$R"
# booted into sysinit.target only: the units are started by hand below
sd_boot "$R" "$T" || fail "systemd did not boot"
ns() { sd_ns "$@"; }
sc() { sd_sc "$@"; }
echo "  systemd $(sc --version | head -1 | cut -d' ' -f2) is PID 1 (host PID $SD_PID1), state $SD_STATE"

prop() { sd_prop "$@"; }
# wait_for UNIT PROPERTY VALUE [TENTHS]
wait_for() { sd_wait "$@" || fail "$1: $2 never became $3"; }
journal() { sd_journal "$@"; }
# wait_log UNIT TEXT
wait_log() { sd_wait_log "$@" || fail "$1 never logged: $2"; }

note "diode-relay.service"
# the operator's options: loopback only, the web side for /healthz, STUN
# (UDP under RestrictAddressFamilies=)
echo 'DIODE_RELAY_OPTS="--listen 127.0.0.1:7878 --http 127.0.0.1:8080 --stun 127.0.0.1:3478 --stats-interval 0"' \
  > "$R$SYSCONFDIR/default/diode-relay"
sc daemon-reload
sc start diode-relay.service
# Type=notify: start returned after READY=1, so it serves now, no waiting
[ "$(prop diode-relay.service ActiveState)" = active ] || fail "diode-relay.service is not active once started"
ns 10 curl -sf http://127.0.0.1:8080/healthz >/dev/null || fail "/healthz did not answer when systemctl start returned"
wait_log diode-relay.service "listening on 127.0.0.1:7878"
wait_log diode-relay.service "answering STUN on 127.0.0.1:3478"
MAIN=$(prop diode-relay.service MainPID)
ST=$R/var/lib/private/diode-relay
[ -f "$ST/identity.pem" ] || fail "no identity in the state directory /var/lib/diode-relay"
[ "$(stat -c %a "$ST/identity.pem")" = 600 ] || fail "identity.pem is not 0600"
[ "$(stat -c %a "$ST")" = 700 ] || fail "the state directory is not 0700"
uid=$(stat -c %u "$ST/identity.pem")
[ "$uid" -ne 0 ] || fail "the identity belongs to root"
[ -d "$ST/store" ] || fail "no store in the state directory"
ADDR=$("$R$BINDIR/diode" id --identity "$ST/identity.pem" 2>/dev/null)
journal diode-relay.service | grep -qF "relay $ADDR listening" || fail "the relay does not run with the state directory's identity $ADDR"
status=$(ns 10 cat "/proc/$MAIN/status")
echo "$status" | grep -q "^Uid:[[:space:]]*${uid}[[:space:]]" || fail "the relay does not run as its own user $uid"
echo "$status" | grep -q "^NoNewPrivs:[[:space:]]*1" || fail "NoNewPrivs is not set"
echo "$status" | grep -q "^CapEff:[[:space:]]*0000000000000000" || fail "the relay has capabilities"
echo "$status" | grep -q "^CapBnd:[[:space:]]*0000000000000000" || fail "the relay's bounding set is not empty"
echo "$status" | grep -q "^Seccomp:[[:space:]]*2" || fail "no seccomp filter"
health=$(ns 10 curl -sf http://127.0.0.1:8080/healthz) || fail "/healthz did not answer"
[ "$health" = ok ] || fail "/healthz said '$health'"
echo "  PID $MAIN as uid $uid, identity $ADDR in /var/lib/diode-relay, NoNewPrivs, no capabilities, seccomp, /healthz ok"

note "diode-publish@cam.service"
mkdir -p "$R$SYSCONFDIR/diode/publish"
# quotes inside the pipeline reach GStreamer (the caps' spaces); recorded
# into the relay's store in its state directory (ProtectSystem=strict)
cat > "$R$SYSCONFDIR/diode/publish/cam.env" <<'EOE'
PIPELINE='videotestsrc is-live=true num-buffers=40 ! capsfilter caps="video/x-raw, width=64, height=48, framerate=20/1" ! diodesink stream=cam record=true relay=127.0.0.1:7878'
EOE
sc start diode-publish@cam.service
wait_for diode-publish@cam.service ActiveState inactive 200
[ "$(prop diode-publish@cam.service Result)" = success ] \
  || { journal diode-publish@cam.service >&2; fail "the publisher did not end cleanly"; }
PS=$R/var/lib/private/diode-publish/cam/diode
for f in identity.pem known-relays; do
  [ -f "$PS/$f" ] || fail "no $f in /var/lib/diode-publish/cam/diode"
done
PADDR=$("$R$BINDIR/diode" id --identity "$PS/identity.pem" 2>/dev/null)
grep -qi "${ADDR#0x}" "$PS/known-relays" || fail "the publisher did not record the relay's identity"
wait_log diode-relay.service "$PADDR publishes 'cam'"
wait_log diode-relay.service "'cam' reached end of stream"
ls "$ST"/store/streams/*/* >/dev/null 2>&1 || fail "nothing recorded in /var/lib/diode-relay/store"
echo "  $PADDR published 'cam' (identity in /var/lib/diode-publish/cam), recorded, EOS at the end"

note "systemctl reload diode-relay"
printf '[publishers]\n# only the relay itself: the camera is refused\nallow=%s\n' "$ADDR" \
  > "$R$SYSCONFDIR/diode/relay.conf"
sc reload diode-relay.service
wait_log diode-relay.service "configuration reloaded from $SYSCONFDIR/diode/relay.conf"
[ "$(prop diode-relay.service MainPID)" = "$MAIN" ] || fail "reload restarted the relay"
[ "$(prop diode-relay.service NRestarts)" = 0 ] || fail "the relay was restarted"
sc start diode-publish@cam.service
wait_log diode-relay.service "refused publisher $PADDR"
# refused: the pipeline fails, systemd restarts it after RestartSec
wait_for diode-publish@cam.service NRestarts 1 100
sc stop diode-publish@cam.service
echo "  reloaded in PID $MAIN, publisher refused and restarted by systemd"
echo '[bogus' > "$R$SYSCONFDIR/diode/relay.conf"
sc reload diode-relay.service
wait_log diode-relay.service "configuration not reloaded"
wait_for diode-relay.service ActiveState active 10
[ "$(prop diode-relay.service MainPID)" = "$MAIN" ] || fail "a broken file restarted the relay"
echo "  a broken file: not reloaded, still PID $MAIN"

note "systemctl stop"
sc stop diode-relay.service
[ "$(prop diode-relay.service Result)" = success ] || fail "the relay did not stop cleanly"
wait_log diode-relay.service "shutting down"
echo "  stopped cleanly"
# A relay that cannot listen fails `systemctl start` itself (no READY=1).
# The taker sets SO_REUSEADDR as the relay does: the relay just stopped
# leaves its connections in TIME_WAIT on 7878. Two listeners still cannot
# share the port.
echo '# valid again: only the port stands in the way' > "$R$SYSCONFDIR/diode/relay.conf"
ns 30 python3 -c 'import os, socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7878)); s.listen(1)
open("/run/taker.pid", "w").write(str(os.getpid())); time.sleep(20)' &
TAKER=$!
n=0; while ! ns 5 python3 -c 'import socket; socket.create_connection(("127.0.0.1", 7878), 1)' 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
if sc start diode-relay.service 2>/dev/null; then fail "systemctl start succeeded with the port taken"; fi
sc stop diode-relay.service
# shellcheck disable=SC2016 # expanded inside the namespace
ns 5 sh -c 'kill "$(cat /run/taker.pid)"' || true
wait $TAKER 2>/dev/null || true
wait_log diode-relay.service "cannot listen on 127.0.0.1:7878"
echo "  with 127.0.0.1:7878 taken, systemctl start fails (cannot listen)"
echo "OK"
