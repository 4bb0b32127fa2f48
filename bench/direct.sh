#!/bin/sh
# gst-diode — direct path vs relay path, side by side (issue 12, Deliver 6).
#
#   bench/direct.sh            (as root: network namespaces)
#
# The NAT topology of tests/nat (tests/nat/natlib.sh): diode-relay (with
# --stun) on the "internet", the publisher behind NAT A, two viewers behind
# NAT B, all in one run so that they see the same stream, machine and
# moment:
#
#   publisher  nat-peer publish: videotestsrc pattern=snow 640x480 30 fps !
#              x264enc CBR BITRATE kbit/s (4000) ! diodesink direct=true,
#              every encoded buffer stamped (wall clock) as it enters
#              diodesink
#   direct     nat-peer view, diodesrc direct=auto: starts on the relay
#              path, moves to the direct path (server-reflexive candidates)
#   relay      nat-peer view, diodesrc direct=never: the relay path only
#
# Both viewers stamp each buffer as it leaves diodesrc (same host clock).
# Over the same window (from WARM s after the direct path came up, DURATION
# s long; the same publisher frames for both):
#   throughput   Mbit/s received, frames received / frames sent (full rate
#                strictly: every frame, no DISCONT, buffers-missed 0)
#   latency      viewer stamp - publisher stamp: p50, p99, max (ms)
#   direct up    viewer start (it subscribes) to the diode-path message
#   relay bytes  what the relay sent each viewer (its --stats-file), and the
#                share the direct path saved
#
# Environment: DURATION (measured seconds, 30), WARM (2), BITRATE (kbit/s,
# 4000), SIZE (640x480), RELAY_DELAY_MS (0: the relay on the internet
# namespace itself; N: behind a link of N ms each way, bench/delay-link),
# BUILD_DIR (build), RESULTS (output folder, default
# bench/.cache/results/direct-DATE). NAT_KEEP=1 keeps the raw logs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
DURATION=${DURATION:-30}
WARM=${WARM:-2}
BITRATE=${BITRATE:-4000}
SIZE=${SIZE:-640x480}
RELAY_DELAY_MS=${RELAY_DELAY_MS:-0}
RESULTS=${RESULTS:-$here/.cache/results/direct-$(date +%Y%m%d-%H%M%S)}
PEER=$build/tests/nat/nat-peer
. "$root/tests/nat/natlib.sh"

[ -x "$PEER" ] || nat_fail "build first: ninja -C $build"
export GST_PLUGIN_PATH_1_0="$build/gst/elements"
export GST_REGISTRY_1_0="$build/tests/registry.bin"
nat_require
"$PEER" has-prop diodesink direct || nat_fail "diodesink has no 'direct' property: no direct paths in this build"
nat_init
mkdir -p "$RESULTS"
nat_setup
# RELAY_DELAY_MS > 0: the relay is that far (each way) from the internet
# the peers share, as a relay in another city is; 0: every link is a veth
# with no delay.
if [ "$RELAY_DELAY_MS" -gt 0 ]; then
  nat_distant_relay "$build" "$RELAY_DELAY_MS"
fi
nat_relay "$build"
[ "$NAT_RELAY_STUN" = 1 ] || nat_fail "diode-relay has no --stun"
NAT_STREAM=bench
RELAY=$RELAY_IP:$RELAY_PORT
total=$((DURATION + WARM + 40))

nat_log "relay $RELAY_IP, ${RELAY_DELAY_MS} ms each way from the internet; machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), built from $(git -C "$root" rev-parse --short HEAD)"
nat_bg pub "$NS_A1" env XDG_CONFIG_HOME="$NAT_T/pub-home" LC_ALL=C \
  "$PEER" publish "$RELAY" "$NAT_STREAM" --seconds $total --size "$SIZE" \
  --pattern snow --bitrate "$BITRATE" --keyint 30 --no-decode --stamps \
  --timeout $((total + 20)) --prop direct=true
pub=$nat_last
nat_wait_line "$NAT_T/pub.log" '^stamp ' 20 || { cat "$NAT_T/pub.log"; nat_fail "the publisher sent nothing"; }
sleep 2
for v in direct relay; do
  mode=auto; [ $v = relay ] && mode=never
  # logs v-direct.log, v-relay.log (relay.log is diode-relay's)
  nat_bg "v-$v" "$NS_B1" env XDG_CONFIG_HOME="$NAT_T/$v-home" LC_ALL=C \
    "$PEER" view "$RELAY" "$NAT_STREAM" --no-decode --stamps \
    --timeout $((total + 20)) --prop direct=$mode
  eval "pid_$v=\$nat_last"
done
nat_wait_line "$NAT_T/v-direct.log" '^path .*direct' 30 || {
  grep -v '^stamp' "$NAT_T/v-direct.log"; nat_fail "the direct viewer never reported a direct path"; }
up_us=$(grep -m1 '^path .*direct' "$NAT_T/v-direct.log" | cut -d' ' -f2)
t0=$(grep -m1 '^started ' "$NAT_T/v-direct.log" | cut -d' ' -f2)
nat_log "direct path up after $(( (up_us - t0) / 1000 )) ms: $(grep -m1 '^path .*direct' "$NAT_T/v-direct.log" | cut -d' ' -f3-)"
sleep $((WARM + DURATION + 2))

# The relay's bytes to each viewer, told apart by their addresses.
for v in direct relay; do
  addr=$("$build/tools/diode" id -i "$NAT_T/$v-home/diode/identity.pem")
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(v["bytes"] for s in d["streams"] if s["name"] == "bench"
          for v in s["viewers"] if v["address"] == sys.argv[2]))' \
    "$NAT_T/relay-stats.json" "$addr" > "$NAT_T/$v.relaybytes"
done
for v in direct relay; do
  grep '^final-stats\|^stats ' "$NAT_T/v-$v.log" | tail -n 1 > "$NAT_T/$v.stats"
done
nat_stop "$pub" "$pid_direct" "$pid_relay"
grep "^stamp " "$NAT_T/pub.log" > "$RESULTS/pub.stamps"
for v in direct relay; do
  grep "^stamp " "$NAT_T/v-$v.log" > "$RESULTS/$v.stamps"
  grep -v "^stamp " "$NAT_T/v-$v.log" > "$RESULTS/$v.log"
done
cp "$NAT_T/relay-stats.json" "$NAT_T/relay.log" "$RESULTS/"

# One line per viewer: frames sent in the window by the publisher (stamped
# between from and to), how many of them the viewer got, their latency
# percentiles and the bytes per second.
from=$((up_us + WARM * 1000000))
to=$((from + DURATION * 1000000))
printf '%-7s %9s %9s %8s %8s %8s %8s %9s %14s\n' path frames received Mbit/s \
  p50_ms p99_ms max_ms discont relay_bytes
for v in direct relay; do
  awk -v from=$from -v to=$to -v dur=$DURATION '
    FNR == NR { if ($3 >= from && $3 < to) { sent[$2] = $3; n++ } next }
    ($2 in sent) && !($2 in got) { got[$2] = $3 - sent[$2]; bytes += $4; m++ }
    END {
      for (x in got) print got[x] > "/dev/stderr"   # sorted by sort(1)
      printf "%d %d %.2f\n", n, m, bytes * 8 / dur / 1e6
    }' "$RESULTS/pub.stamps" "$RESULTS/$v.stamps" 2> "$NAT_T/$v.lat" > "$NAT_T/$v.sum"
  sort -n "$NAT_T/$v.lat" > "$NAT_T/$v.lats"
  k=$(wc -l < "$NAT_T/$v.lats")
  q () { awk -v k="$k" -v p="$1" 'NR == int((k - 1) * p) + 1 { printf "%.2f", $1 / 1000 }' "$NAT_T/$v.lats"; }
  disc=$(sed -n 's/.*discont=(guint64)\([0-9]*\).*/\1/p' "$NAT_T/$v.stats")
  read -r n m mbit < "$NAT_T/$v.sum"
  printf '%-7s %9s %9s %8s %8s %8s %8s %9s %14s\n' "$v" "$n" "$m" "$mbit" \
    "$(q 0.5)" "$(q 0.99)" "$(q 1)" "${disc:-?}" "$(cat "$NAT_T/$v.relaybytes")"
done | tee "$RESULTS/summary.txt"
# The direct viewer must have stayed on the direct path through the window.
n_paths=$(grep -c '^path ' "$NAT_T/v-direct.log")
[ "$n_paths" = 1 ] || echo "WARNING: the direct viewer changed path $n_paths times: $(grep '^path ' "$NAT_T/v-direct.log" | cut -d' ' -f3- | tr '\n' ';')" | tee -a "$RESULTS/summary.txt"
d=$(cat "$NAT_T/direct.relaybytes"); r=$(cat "$NAT_T/relay.relaybytes")
echo "direct path up $(( (up_us - t0) / 1000 )) ms after subscribe; relay bytes saved by the direct viewer: $((r - d)) ($(awk -v d="$d" -v r="$r" 'BEGIN { printf "%.1f", r ? 100 * (r - d) / r : 0 }') %)" \
  | tee -a "$RESULTS/summary.txt"
echo "results: $RESULTS"
