#!/bin/sh
# gst-diode — how many system calls and TCP segments the relay spends per
# frame it delivers (issue 13, "fewer, fuller records and writes").
#
#   bench/relay-writes.sh [N]        (default N = 300)
#
# Same set-up as fanout.sh (relay + diodesink publisher playing the clip in
# real time + diode-load --tls -n N). Once every viewer has joined, counts
# for SECONDS_WRITES (default 5) s with `perf stat -p RELAY_PID` the relay's
# sendmsg/sendto/write/writev/epoll_ctl calls, and reads the relay's own TCP
# segment counter delta from /proc/net/snmp (OutSegs: the whole machine's,
# so the loader's ACKs are in it too; printed as is). Frames delivered = the
# clip's frame rate x N x seconds. Output: $RESULTS/relay-writes.txt.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

N=${1:-300}
case $N in ''|*[!0-9]*) die "N must be a number";; esac
SECS=${SECONDS_WRITES:-5}
RESULTS=${RESULTS:-$cache/results/relay-writes-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
need_build
need_clip
command -v perf > /dev/null 2>&1 || die "needs perf"
max=$((N / 250 + SECS + 60))
wait_quiet
start_relay relay "$max"
start_diode_pub pub "$max" bench
sleep 3
bench_spawn "$max" "$bench_tmp/load" "$load_bin" --tls --port "$RELAY_PORT" \
  --relay-id "$RELAY_ADDR" --stream bench -n "$N" --ramp 250 --warmup 2 \
  --duration $((SECS + 4)) --expect-bps "$clip_bps" --server-pid "$RELAY_PID" -q
load_tpid=$SPAWN_TPID
sleep $((N / 250 + 4))
segs0=$(awk '/^Tcp:/ {n++; if (n == 2) print $12}' /proc/net/snmp)
timeout $((SECS + 20)) perf stat -x, -p "$RELAY_PID" \
  -e syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_epoll_wait \
  -o "$bench_tmp/stat.csv" -- sleep "$SECS" || die "perf stat failed"
segs1=$(awk '/^Tcp:/ {n++; if (n == 2) print $12}' /proc/net/snmp)
wait "$load_tpid" 2>/dev/null || true
bench_stop "$load_tpid"; bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
frames=$(sed -n 's/^frames=//p' "$cache/clip.info")
secs_clip=$(sed -n 's/^seconds=//p' "$cache/clip.info")
python3 - "$bench_tmp/stat.csv" "$N" "$SECS" "$frames" "$secs_clip" \
  "$((segs1 - segs0))" "$(machine_line)" <<'PY' | tee "$RESULTS/relay-writes.txt"
import sys
path, n, secs, frames, clip_s, segs, machine = sys.argv[1:]
n, secs = int(n), float(secs)
fps = int(frames) / float(clip_s)
delivered = fps * n * secs
print("relay writes: %s" % machine)
print("N = %d, %.0f s, %.1f frames/s per viewer: %.0f frames delivered" % (n, secs, fps, delivered))
print("| counter | total | per delivered frame |")
print("|---|---|---|")
for line in open(path):
    f = line.strip().split(",")
    if len(f) < 3 or not f[0].replace(".", "").isdigit():
        continue
    print("| %s | %s | %.3f |" % (f[2].replace("syscalls:sys_enter_", ""), f[0], int(f[0]) / delivered))
print("| TCP OutSegs (whole machine) | %s | %.3f |" % (segs, int(segs) / delivered))
PY
log "results in $RESULTS"
