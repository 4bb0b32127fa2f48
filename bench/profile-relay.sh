#!/bin/sh
# gst-diode — where does the relay's time go? A sampling profile of
# diode-relay serving N TLS viewers of the benchmark clip.
#
#   bench/profile-relay.sh [N]          (default N = 1000)
#   bench/profile-relay.sh --anchor [N] the same for tcpserversink
#                                       sync-method=latest-keyframe (TCP viewers)
#
# Same set-up as fanout.sh (relay + diodesink publisher playing the clip in
# real time + diode-load --tls -n N). Once every viewer has joined, records
# the relay process for SECONDS (default 10) with
#   perf record -e cpu-clock -g -p RELAY_PID
# (software clock sampling: works without hardware counters, kernel included)
# and prints the shares of the shared objects (kernel included), the top
# symbols by self time and the biggest inclusive subtrees. Without a usable perf it falls back to callgrind on
# the relay with N_CG (default 100) viewers (user space only, much slower).
# Output: $RESULTS/profile.txt or profile-anchor.txt (+ the perf data or
# callgrind.out).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

anchor=no
tag=profile
if [ "${1:-}" = "--anchor" ]; then anchor=yes; tag=profile-anchor; shift; fi
N=${1:-1000}
case $N in ''|*[!0-9]*) die "N must be a number";; esac
SECONDS_=${SECONDS_PROFILE:-10}
RESULTS=${RESULTS:-$cache/results/$tag-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
need_build
need_clip
log "machine: $(machine_line)"
max=$((N / 250 + SECONDS_ + 90))
clip_bps=${clip_bps:-4000000}

use_perf=no
if command -v perf > /dev/null 2>&1 && \
   perf record -e cpu-clock -o "$bench_tmp/perf.probe" true > /dev/null 2>&1; then
  use_perf=yes
fi

if [ $anchor = yes ] && [ $use_perf = no ]; then
  die "--anchor needs perf"
fi
if [ $anchor = yes ]; then
  wait_quiet
  start_tcp_server tcpserver "$max" latest-keyframe
  RELAY_PID=$TCP_PID; RELAY_TPID=$TCP_TPID; PUB_TPID=$TCP_PUB_TPID
  what="tcpserversink sync-method=latest-keyframe (server gst-launch pid $TCP_PID, fed over GDP by a publisher process), $N TCP viewers"
  sleep 3
  bench_spawn "$max" "$bench_tmp/load" "$load_bin" --tcp --port "$TCP_PORT" \
    -n "$N" --ramp 250 --warmup 2 --duration $((SECONDS_ + 4)) \
    --expect-bps "$clip_bps" --server-pid "$TCP_PID" -q
  load_tpid=$SPAWN_TPID
elif [ $use_perf = yes ]; then
  wait_quiet
  start_relay relay "$max"
  start_diode_pub pub "$max" bench
  what="diode-relay, $N TLS viewers"
  sleep 3
  bench_spawn "$max" "$bench_tmp/load" "$load_bin" --tls --port "$RELAY_PORT" \
    --relay-id "$RELAY_ADDR" --stream bench -n "$N" --ramp 250 --warmup 2 \
    --duration $((SECONDS_ + 4)) --expect-bps "$clip_bps" \
    --server-pid "$RELAY_PID" -q
  load_tpid=$SPAWN_TPID
fi
if [ $use_perf = yes ]; then
  sleep $((N / 250 + 4))
  log "recording $what for ${SECONDS_}s"
  timeout $((SECONDS_ + 30)) perf record -e cpu-clock -F 999 -g \
    -p "$RELAY_PID" -o "$RESULTS/$tag.perf.data" -- sleep "$SECONDS_" \
    > "$bench_tmp/perf.log" 2>&1 || { cat "$bench_tmp/perf.log" >&2; die "perf record failed"; }
  wait "$load_tpid" 2>/dev/null || true
  bench_stop "$load_tpid"
  if [ -n "$PUB_TPID" ]; then bench_stop "$PUB_TPID"; fi
  bench_stop "$RELAY_TPID"
  {
    echo "profile of $what, ${SECONDS_}s, perf cpu-clock: $(machine_line)"
    echo "load: $(cat "$bench_tmp/load.out")"
    echo
    echo "== by shared object (self time; [kernel.kallsyms] = the kernel)"
    perf report -i "$RESULTS/$tag.perf.data" --stdio --no-children -g none \
      --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -n 12
    echo
    echo "== top symbols (self)"
    perf report -i "$RESULTS/$tag.perf.data" --stdio --no-children -g none \
      --sort sym 2>/dev/null | grep -E '^ +[0-9]' | head -n 30
    echo
    echo "== inclusive (children, self): where the big subtrees are"
    perf report -i "$RESULTS/$tag.perf.data" --stdio --children -g none \
      --sort sym 2>/dev/null | grep -E '^ +[0-9]' | head -n 30
  } > "$RESULTS/$tag.txt"
else
  N_CG=${N_CG:-100}
  log "perf unusable: callgrind on the relay with $N_CG viewers"
  cgmax=$((SECONDS_ * 10 + 120))
  bench_spawn "$cgmax" "$bench_tmp/relay" valgrind --tool=callgrind -q \
    --callgrind-out-file="$RESULTS/callgrind.out" "$relay_bin" \
    --listen 127.0.0.1:0 --print-id -q --identity "$bench_tmp/relay-key.pem" \
    --max-pending-per-address 20000 --max-connections-per-address 20000
  RELAY_TPID=$SPAWN_TPID
  for _i in $(seq 1 200); do [ -s "$bench_tmp/relay.out" ] && break; sleep 0.1; done
  read -r RELAY_ADDR RELAY_PORT < "$bench_tmp/relay.out" || die "relay did not start"
  start_diode_pub pub "$cgmax" bench
  sleep 3
  timeout "$cgmax" "$load_bin" --tls --port "$RELAY_PORT" --relay-id "$RELAY_ADDR" \
    --stream bench -n "$N_CG" --ramp 50 --warmup 2 --duration "$SECONDS_" \
    --expect-bps "$clip_bps" -q > "$bench_tmp/load.json" || true
  bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
  {
    echo "profile of diode-relay under callgrind, $N_CG viewers: $(machine_line)"
    echo "load: $(cat "$bench_tmp/load.json")"
    callgrind_annotate "$RESULTS/callgrind.out" 2>/dev/null | head -n 60
  } > "$RESULTS/$tag.txt"
fi
cat "$RESULTS/$tag.txt"
log "results in $RESULTS"
