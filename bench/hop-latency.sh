#!/bin/sh
# gst-diode — hop latency: what one diode-relay adds between a publisher and
# its viewers, per fan-out position (first, median, last viewer served).
#
#   bench/hop-latency.sh [--quick]
#   VIEWERS="1 100 1000" bench/hop-latency.sh
#
# diode-latency (bench/diode-latency.c) is the publisher AND every viewer in
# one process (one clock): MEDIA frames of 16 KiB at 30 fps (~3.9 Mbit/s,
# keyframe every 60) whose payload starts with the monotonic send time; each
# viewer records receive - send for every frame.
#   direct:       publisher -> TLS -> in-process receiver, no relay (baseline)
#   relay, N:     publisher -> relay -> N measuring viewers
# The relay writes each frame viewer after viewer and starts each frame at
# the next viewer (stream_fanout), so no one viewer is always served last:
# per frame the tool takes the first, the median and the last arrival across
# the N viewers, and the table gives p50/p99 of each over the frames. "last"
# is the position the issue's target names (the viewer served last). Every
# viewer is read by diode-latency's one thread, so a frame may wait in one
# socket while the thread reads the others: receive times are the kernel's
# (SO_TIMESTAMPNS: when the bytes reached the viewer's socket), not the
# thread's ("tool CPU %": diode-latency's own CPU over the window, 100 = the
# one core its thread can use; it still competes with the relay for the two
# cores).
# "Added by the hop" = relay percentile - direct percentile.
#
# Environment: DURATION (measurement seconds per case, default 30; --quick
# 10), VIEWERS (default "1 100"; "1 100 1000" for the issue 13 targets),
# RESULTS (output dir).
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
delay=2
warm=2
max=$((delay + warm + DURATION + 60))

wait_quiet
json=$(timeout "$max" "$latency_bin" --direct --warmup "$warm" \
  --duration "$DURATION" -q) || die "diode-latency --direct failed"
echo "{\"case\":\"direct\",\"viewers\":1,\"r\":$json}" >> "$out"
log "direct done"

for v in $VIEWERS; do
  case $v in ''|*[!0-9]*) die "bad viewer count $v";; esac
  wait_quiet
  start_relay relay "$max"
  json=$(timeout "$max" "$latency_bin" --port "$RELAY_PORT" \
    --relay-id "$RELAY_ADDR" --stream lat --viewer-delay "$delay" \
    --viewers "$v" --warmup "$warm" --duration "$DURATION" -q) || \
    { cat "$bench_tmp/relay.err" >&2; die "diode-latency with $v viewers failed"; }
  check_alive "$RELAY_PID" relay
  bench_stop "$RELAY_TPID"
  echo "{\"case\":\"relay\",\"viewers\":$v,\"r\":$json}" >> "$out"
  log "relay with $v viewers done"
done

python3 - "$out" "$(machine_line)" <<'EOF2' | tee "$RESULTS/hop.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("hop latency: %s" % sys.argv[2])
print("receive - send of 16 KiB frames at 30 fps, ms (one process, one clock); "
      "per frame the first, median and last arrival across the viewers")
hdr = ("case", "viewers", "frames", "lost", "first p50", "first p99",
       "median p50", "median p99", "last p50", "last p99", "last max",
       "added p50 (last)", "added p99 (last)", "tool CPU %")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
base = None
f = lambda v: "%.3f" % v if v is not None else "-"
for r in rows:
    d = r["r"]
    if r["case"] == "direct":
        base = d["last_ms"]
    fi, me, la = d["first_ms"], d["median_ms"], d["last_ms"]
    rel = base and r["case"] != "direct" and la["p50"] is not None
    cpu = d.get("self_cpu_s")
    print("| %s | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["case"], r["viewers"], d["frames_complete"], d["frames_lost"],
        f(fi["p50"]), f(fi["p99"]), f(me["p50"]), f(me["p99"]),
        f(la["p50"]), f(la["p99"]), f(la["max"]),
        f(la["p50"] - base["p50"]) if rel else "-",
        f(la["p99"] - base["p99"]) if rel else "-",
        "%.0f" % (100.0 * cpu / d["window_s"]) if cpu is not None else "-"))
for r in rows:
    d = r["r"]
    if d.get("reads_unstamped"):
        print("(%s, %d viewers: %d of %d reads had no kernel receive time and used the read's)" % (
            r["case"], r["viewers"], d["reads_unstamped"],
            d["reads_unstamped"] + d.get("reads_kernel_stamped", 0)))
    if d.get("viewers_failed"):
        print("(%s, %d viewers: %d VIEWERS LOST during the run, left out of the positions; first: %s)" % (
            r["case"], r["viewers"], d["viewers_failed"], d.get("viewer_failure", "?")))
    if d.get("frames_incomplete"):
        print("(%s, %d viewers: %d frames did not reach every viewer, left out)" % (
            r["case"], r["viewers"], d["frames_incomplete"]))
targets = {100: 5.0, 1000: 10.0}
for r in rows:
    t = targets.get(r["viewers"])
    la = r["r"]["last_ms"]
    if r["case"] == "relay" and t and la["p99"] is not None:
        print("target, %d viewers: last viewer p99 %.3f ms (added by the hop %.3f) vs <= %.0f ms: %s" % (
            r["viewers"], la["p99"], la["p99"] - base["p99"], t,
            "holds" if la["p99"] <= t else "MISSED"))
EOF2
log "results in $RESULTS"
