#!/bin/sh
# gst-diode — a short end-to-end run with the relay AND a viewer under
# valgrind memcheck (issue 5, item 5):
#
#   valgrind-e2e.sh PATH/TO/diode-relay PATH/TO/fault-peer PATH/TO/valgrind.supp
#   (meson test --suite valgrind)
#
# 1. diode-relay on 127.0.0.1 (free port) under valgrind;
# 2. a viewer (fault-peer view: diodesrc ! h264parse ! avdec_h264 ! fakesink)
#    under valgrind, subscribed before the stream exists;
# 3. a publisher (fault-peer pub, not under valgrind): 100 frames of
#    videotestsrc through x264enc, then EOS; the viewer exits at EOS;
# 4. SIGTERM to the relay, which shuts down cleanly.
#
# Both run with --leak-check=full --errors-for-leak-kinds=definite
# --error-exitcode=1 and the suppressions in valgrind.supp (GStreamer/GLib/
# GnuTLS/libav initialisation only, see that file). Passes when both exit 0,
# i.e. no memory error and "definitely lost: 0 bytes" (or no leak at all),
# and the viewer decoded at least 90 of the 100 frames.
# Logs are kept in VALGRIND_LOGS (default: a temporary directory, removed
# when the run passes).
set -u
relay=$1
peer=$2
supp=$3
FRAMES=100

command -v valgrind > /dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/diode-valgrind.XXXXXX)
logs=${VALGRIND_LOGS:-$tmp}
mkdir -p "$logs"
export XDG_CONFIG_HOME="$tmp/config"
mkdir -p "$XDG_CONFIG_HOME"
# GLib 2.74 still has GSlice: plain malloc, so valgrind sees every block.
export G_SLICE=always-malloc
export G_DEBUG="${G_DEBUG:+$G_DEBUG,}gc-friendly"
pids=""
passed=0

cleanup () {
  for p in $pids; do kill -KILL "$p" 2> /dev/null; done
  if [ "$passed" = 1 ] && [ -z "${VALGRIND_LOGS:-}" ]; then rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Not wrapped in `timeout`, and exec'd: the signals must reach valgrind
# itself, and $! must be its PID. Every wait below is bounded, and the EXIT
# trap kills what is left.
vg () { # LOGNAME CMD...   (run it with &)
  _log=$1; shift
  exec valgrind --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=1 \
    --suppressions="$supp" --num-callers=40 --log-file="$logs/$_log.vg" "$@"
}

fail () { echo "FAIL: $*"; for f in "$logs"/*.vg "$logs"/*.out; do echo "---- $f"; tail -n 60 "$f"; done; exit 1; }

# Warm the registry outside valgrind (a rebuild under it takes minutes).
gst-inspect-1.0 diodesrc > /dev/null 2>&1 || fail "diodesrc not found (GST_PLUGIN_PATH_1_0=${GST_PLUGIN_PATH_1_0:-})"

vg relay "$relay" --listen 127.0.0.1:0 --identity "$tmp/relay.pem" --print-id \
  -v > "$logs/relay.out" 2> "$logs/relay.err" &
relay_pid=$!
pids="$pids $relay_pid"
for i in $(seq 1 600); do
  [ -s "$logs/relay.out" ] && break
  kill -0 "$relay_pid" 2> /dev/null || fail "the relay exited at start"
  sleep 0.1
done
read -r addr port < "$logs/relay.out" || fail "the relay did not print its address within 60 s"
echo "relay (valgrind) on 127.0.0.1:$port ($addr)"

vg viewer "$peer" view --relay "127.0.0.1:$port" --relay-id "$addr" \
  --stream vg --identity "$tmp/viewer.pem" --set timeout=120000 \
  --exit-on-eos --no-stdin > "$logs/viewer.out" 2>&1 &
viewer_pid=$!
pids="$pids $viewer_pid"
for i in $(seq 1 1200); do
  grep -q "waits up to" "$logs/relay.err" && break
  kill -0 "$viewer_pid" 2> /dev/null || fail "the viewer exited before subscribing"
  sleep 0.1
done
grep -q "waits up to" "$logs/relay.err" || fail "the viewer did not subscribe within 120 s"
echo "viewer (valgrind) subscribed; publishing $FRAMES frames"

timeout -k 5 120 "$peer" pub --relay "127.0.0.1:$port" --relay-id "$addr" \
  --stream vg --identity "$tmp/pub.pem" --num-buffers "$FRAMES" \
  --exit-on-eos --no-stdin > "$logs/pub.out" 2>&1 || fail "the publisher failed"

# The viewer stops at EOS.
for i in $(seq 1 1800); do
  kill -0 "$viewer_pid" 2> /dev/null || break
  sleep 0.1
done
kill -0 "$viewer_pid" 2> /dev/null && fail "the viewer did not exit within 180 s of the publisher's EOS"
wait "$viewer_pid"; viewer_rc=$?
kill -TERM "$relay_pid"
for i in $(seq 1 600); do
  kill -0 "$relay_pid" 2> /dev/null || break
  sleep 0.1
done
kill -0 "$relay_pid" 2> /dev/null && fail "the relay did not exit within 60 s of SIGTERM"
wait "$relay_pid"; relay_rc=$?
pids=""

frames=$(sed -n 's/^tick frames=\([0-9]*\).*/\1/p' "$logs/viewer.out" | tail -n 1)
frames=${frames:-0}

summary () { # NAME
  _f="$logs/$1.vg"
  # valgrind's own words: the LEAK SUMMARY lines, or "All heap blocks were
  # freed" (then nothing at all was lost), and the error count.
  grep -E "definitely lost:|indirectly lost:|possibly lost:|All heap blocks were freed|suppressed:|ERROR SUMMARY" "$_f" | \
    sed "s/^==[0-9]*== */$1: /"
}
echo "viewer decoded $frames of $FRAMES frames; exit status: relay $relay_rc, viewer $viewer_rc"
summary relay
summary viewer
[ "$relay_rc" = 0 ] || fail "relay: valgrind found errors or definite leaks (status $relay_rc)"
[ "$viewer_rc" = 0 ] || fail "viewer: valgrind found errors or definite leaks, or the pipeline failed (status $viewer_rc)"
[ "$frames" -ge $((FRAMES * 9 / 10)) ] || fail "the viewer decoded only $frames frames"
grep -q "^eos" "$logs/viewer.out" || fail "the viewer did not get the publisher's EOS"
passed=1
echo "PASS valgrind-e2e"
