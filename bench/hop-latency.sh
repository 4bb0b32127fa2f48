#!/bin/sh
# gst-diode — hop latency: what one diode-relay adds between a publisher and
# a viewer, p50 and p99, with 1 and with 100 viewers on the stream.
#
#   bench/hop-latency.sh [--quick]
#
# diode-latency (bench/diode-latency.c) is the publisher AND the measuring
# viewer in one process (one clock): MEDIA frames of 16 KiB at 30 fps
# (~3.9 Mbit/s, keyframe every 60) whose payload starts with the monotonic
# send time; the viewer records receive - send for every frame.
#   direct:       publisher -> TLS -> in-process receiver, no relay (baseline)
#   relay, 1:     publisher -> relay -> the measuring viewer
#   relay, 100:   the same, plus 99 viewers from diode-load subscribed
#                 first, so the measuring viewer is the last one served
# "Added by the hop" = relay percentile - direct percentile.
#
# Environment: DURATION (measurement seconds per case, default 30; --quick
# 10), VIEWERS (default "1 100"), RESULTS (output dir).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

DURATION=${DURATION:-30}
if [ "${1:-}" = "--quick" ]; then DURATION=${DURATION_QUICK:-10}; fi
VIEWERS=${VIEWERS:-1 100}
RESULTS=${RESULTS:-$cache/results/hop-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/hop.jsonl
: > "$out"
need_build
log "machine: $(machine_line)"
delay=4
warm=2
max=$((delay + warm + DURATION + 40))

wait_quiet
json=$(timeout "$max" "$latency_bin" --direct --warmup "$warm" \
  --duration "$DURATION" -q) || die "diode-latency --direct failed"
echo "{\"case\":\"direct\",\"viewers\":1,\"r\":$json}" >> "$out"
log "direct done"

for v in $VIEWERS; do
  case $v in ''|*[!0-9]*) die "bad viewer count $v";; esac
  wait_quiet
  start_relay relay "$max"
  lp=""
  if [ "$v" -gt 1 ]; then
    # the other viewers: subscribe first (they wait for the stream)
    bench_spawn "$max" "$bench_tmp/load" "$load_bin" --tls \
      --port "$RELAY_PORT" --relay-id "$RELAY_ADDR" --stream lat \
      -n $((v - 1)) --warmup $((delay + warm)) --duration $((DURATION - 1)) \
      --linger 6 --expect-bps 3950000 -q
    lp=$SPAWN_TPID
  fi
  json=$(timeout "$max" "$latency_bin" --port "$RELAY_PORT" \
    --relay-id "$RELAY_ADDR" --stream lat --viewer-delay "$delay" \
    --warmup "$warm" --duration "$DURATION" -q) || die "diode-latency failed"
  check_alive "$RELAY_PID" relay
  load=null
  if [ -n "$lp" ]; then
    wait "$lp" 2>/dev/null || true   # it ends on its own, a few s after us
    bench_stop "$lp"
    load=$(cat "$bench_tmp/load.out")
    [ -n "$load" ] || load=null
  fi
  bench_stop "$RELAY_TPID"
  echo "{\"case\":\"relay\",\"viewers\":$v,\"r\":$json,\"others\":$load}" >> "$out"
  log "relay with $v viewers done"
done

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/hop.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("hop latency: %s" % sys.argv[2])
print("receive - send of 16 KiB frames at 30 fps, ms (one process, one clock)")
print("| case | viewers | samples | lost | p50 | p90 | p99 | max | added p50 | added p99 |")
print("|---|---|---|---|---|---|---|---|---|---|")
base = None
for r in rows:
    l = r["r"]["latency_ms"]
    if r["case"] == "direct":
        base = l
    add50 = "%.3f" % (l["p50"] - base["p50"]) if base and r["case"] != "direct" else "-"
    add99 = "%.3f" % (l["p99"] - base["p99"]) if base and r["case"] != "direct" else "-"
    print("| %s | %d | %d | %d | %.3f | %.3f | %.3f | %.3f | %s | %s |" % (
        r["case"], r["viewers"], r["r"]["samples"], r["r"]["frames_lost"],
        l["p50"], l["p90"], l["p99"], l["max"], add50, add99))
for r in rows:
    o = r.get("others")
    if o:
        print("(with %d viewers: the other %d got %s at full rate, %s failed)" % (
            r["viewers"], o["requested"], o["full_rate"], o["failed"]))
EOF
log "results in $RESULTS"
