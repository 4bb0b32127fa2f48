#!/bin/sh
# gst-diode — join benchmark: time from a viewer's connect() to its first
# decodable frame, and how far behind live that frame is, diode-relay vs
# tcpserversink sync-method=latest and sync-method=latest-keyframe, same
# clip, same run.
#
#   bench/join.sh [--quick]
#
# Each server plays bench/.cache/clip.mkv in real time (keyframe every 2 s).
# After SETTLE seconds, diode-load starts JOINS viewers, each at a uniformly
# random moment within SPREAD seconds (so joins fall anywhere in the GOP), and
# records per viewer:
#   time:   connect() -> first decodable frame
#     diode: TCP + TLS handshake + HELLO/WELCOME + SUBSCRIBE, then the first
#            MEDIA with KEYFRAME after CAPS (the relay starts a joiner at the
#            newest keyframe it holds, with CAPS first)
#     tcp:   the first IDR NAL after an SPS and a PPS in the byte-stream
#   age:    how far behind live that frame is when it arrives
#     diode: its arrival - pts, minus the smallest arrival - pts any viewer
#            of the stream saw in the run (= delivered at once, live)
#     tcp:   the byte-stream has no pts: pictures are counted against the
#            clip's frame rate (the k-th picture a reader gets stands for pts
#            k / fps after its first), and live is the reader's own smallest
#            lateness (diode-load-tcp.c); exact as long as no picture is
#            missing, which the strict full-rate count checks
# A player that shows the first decodable frame at once and then plays in
# real time stays "age" behind live for the whole session.
# Viewers stay connected once joined (the few joined ones are the only load).
#
# Environment: JOINS (default 40; --quick 20), SPREAD (20 s; --quick 8),
# SETTLE (4 s), RESULTS (output dir). Output: $RESULTS/join.jsonl, join.txt.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

JOINS=${JOINS:-40}
SPREAD=${SPREAD:-20}
if [ "${1:-}" = "--quick" ]; then JOINS=${JOINS_QUICK:-20}; SPREAD=${SPREAD_QUICK:-8}; fi
SETTLE=${SETTLE:-4}
RESULTS=${RESULTS:-$cache/results/join-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/join.jsonl
: > "$out"

need_build
need_clip
clip_fps=$(awk -F= '/^frames=/{f=$2} /^seconds=/{s=$2} END{printf "%g", f / s}' "$cache/clip.info")

log "machine: $(machine_line)"
log "$JOINS joins spread over ${SPREAD}s per server"
max=$((SETTLE + SPREAD + 60))
load_args="-n $JOINS --spread $SPREAD --warmup 3 --duration 1 --connect-timeout 10 -q"

# diode
wait_quiet
start_relay relay "$max"
start_diode_pub pub "$max" bench
sleep "$SETTLE"
check_alive "$RELAY_PID" relay; check_alive "$PUB_PID" pub
# shellcheck disable=SC2086
json=$(timeout "$max" "$load_bin" --tls --port "$RELAY_PORT" \
  --relay-id "$RELAY_ADDR" --stream bench $load_args) || die "diode-load failed"
echo "{\"server\":\"diode\",\"load\":$json}" >> "$out"
bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
log "diode done"

for method in latest latest-keyframe; do
  wait_quiet
  start_tcp_server "tcp-$method" "$max" "$method"
  sleep "$SETTLE"
  check_alive "$TCP_PID" "tcp-$method"
  # shellcheck disable=SC2086
  json=$(timeout "$max" "$load_bin" --tcp --port "$TCP_PORT" \
    --fps "$clip_fps" $load_args) || die "diode-load failed"
  echo "{\"server\":\"tcpserversink sync-method=$method\",\"load\":$json}" >> "$out"
  stop_tcp_server
  log "tcpserversink $method done"
done

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/join.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("join: %s" % sys.argv[2])
print("time = connect() to the first decodable frame; age = how far behind "
      "live that frame was when it arrived (tcp: from the picture count, "
      "see bench/join.sh); ms")
hdr = ("server", "joins", "decodable", "time p50", "time p90", "time p99",
       "time max", "age p50", "age p90", "age p99", "age max")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
t = {}
f = lambda v: "%.1f" % v if v is not None else "-"
for r in rows:
    d = r["load"]; k = d["ttfk_ms"]; a = d["first_frame_age_ms"]
    t[r["server"]] = (k, a)
    print("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["server"], d["requested"], k["n"], f(k["p50"]), f(k["p90"]),
        f(k["p99"]), f(k["max"]), f(a["p50"]), f(a["p90"]), f(a["p99"]),
        f(a["max"])))
print()
print("ratios diode / anchor, time to the first decodable frame (lower is better)")
print("| anchor | p50 ratio | p90 ratio |")
print("|---|---|---|")
a = t.get("diode")
for name, b in t.items():
    if name == "diode" or not a or not b[0]["p50"] or not b[0]["p90"]:
        continue
    print("| %s | %.3f | %.3f |" % (name, a[0]["p50"] / b[0]["p50"],
                                    a[0]["p90"] / b[0]["p90"]))
EOF
log "results in $RESULTS"
