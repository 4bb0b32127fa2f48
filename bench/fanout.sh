#!/bin/sh
# gst-diode — fan-out benchmark: diode-relay (TLS to every viewer) vs
# tcpserversink sync-method=latest-keyframe (no encryption), same clip, same
# load, same run.
#
#   bench/fanout.sh [--quick] [N ...]        default N: 10 100 500 1000 2000
#                                            --quick:   10 100
#
# For each N and each server, in this order (diode then anchor):
#   1. start the server side: diode-relay + a diodesink publisher, or one
#      gst-launch with tcpserversink; both play bench/.cache/clip.mkv in real
#      time through the same upstream (see lib.sh, pub_src);
#   2. wait SETTLE seconds (the relay's ring fills: 10 s of buffer by default),
#      then diode-load samples the idle server for 2 s (CPU, RSS before);
#   3. diode-load connects N viewers at RAMP connections/s, waits WARMUP s,
#      then measures STEADY s: per-viewer bytes, and the server process's CPU
#      seconds (utime+stime of every thread) and VmRSS at the window edges.
# Reported: CPU seconds per delivered Gbit, RSS growth per viewer
# ((steady - before) / N), viewers at full rate (>= 95 % of the clip's
# bitrate over the window), the loader's own CPU, and diode/tcpserversink
# ratios.
#
# Environment: RAMP (default 250/s), STEADY (20), WARMUP (3), SETTLE (11),
# RELAY_OPTS (extra diode-relay options), RESULTS (output dir).
# Results: $RESULTS/fanout.jsonl (one JSON line per point) and fanout.txt.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

ns="10 100 500 1000 2000"
if [ "${1:-}" = "--quick" ]; then ns="10 100"; shift; fi
if [ $# -gt 0 ]; then ns="$*"; fi
for n in $ns; do
  case $n in ''|*[!0-9]*) die "N must be a number: $n";; esac
  [ "$n" -ge 1 ] && [ "$n" -le 10000 ] || die "N must be 1..10000"
done
RAMP=${RAMP:-250}
STEADY=${STEADY:-20}
WARMUP=${WARMUP:-3}
SETTLE=${SETTLE:-11}
RESULTS=${RESULTS:-$cache/results/fanout-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/fanout.jsonl
: > "$out"

need_build
need_clip

log "machine: $(machine_line)"
log "points: N = $ns; ramp $RAMP/s, settle ${SETTLE}s, warm-up ${WARMUP}s, steady ${STEADY}s; clip $clip_bps bit/s"

run_point () { # SERVER N
  server=$1; n=$2
  # everything of one point must end within this bound
  max=$((SETTLE + 2 + n / RAMP + 30 + WARMUP + STEADY + 30))
  common="-n $n --ramp $RAMP --warmup $WARMUP --duration $STEADY --pre 2 --expect-bps $clip_bps -q"
  wait_quiet
  if [ "$server" = diode ]; then
    # shellcheck disable=SC2086
    start_relay relay "$max" ${RELAY_OPTS:-}
    start_diode_pub pub "$max" bench
    sleep "$SETTLE"
    check_alive "$RELAY_PID" relay; check_alive "$PUB_PID" pub
    # shellcheck disable=SC2086
    json=$(timeout "$max" "$load_bin" --tls --port "$RELAY_PORT" \
      --relay-id "$RELAY_ADDR" --stream bench --server-pid "$RELAY_PID" \
      $common 2> "$bench_tmp/load.err") || true
    check_alive "$RELAY_PID" relay
    bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
    cp "$bench_tmp/relay.err" "$RESULTS/relay-$n.log"
    cp "$bench_tmp/pub.err" "$RESULTS/publisher-$n.log"
  else
    start_tcp_server tcpserver "$max" latest-keyframe
    sleep "$SETTLE"
    check_alive "$TCP_PID" tcpserver
    # shellcheck disable=SC2086
    json=$(timeout "$max" "$load_bin" --tcp --port "$TCP_PORT" \
      --server-pid "$TCP_PID" $common 2> "$bench_tmp/load.err") || true
    check_alive "$TCP_PID" tcpserver
    bench_stop "$TCP_TPID"
    cp "$bench_tmp/tcpserver.err" "$RESULTS/tcpserversink-$n.log"
  fi
  [ -n "$json" ] || { cat "$bench_tmp/load.err" >&2; die "diode-load failed"; }
  echo "{\"server\":\"$server\",\"n\":$n,\"load\":$json}" >> "$out"
  log "$server N=$n: $(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["server"]; print("connected %d, full rate %s, cpu %.2f s for %.3f Gbit, rss %d -> %d KiB" % (d["connected"], d["full_rate"], s["cpu_s"], d["delivered_gbit"], s["rss_before_kb"], s["rss_steady_kb"]))')"
}

for n in $ns; do
  run_point diode "$n"
  run_point tcpserversink "$n"
done

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/fanout.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("fan-out: %s" % sys.argv[2])
print("CPU s = utime+stime of the server process over the steady window; "
      "Gbit = bytes the viewers received in it; rest of machine = every other "
      "process (publisher, other users) in the same window")
hdr = ("N", "server", "connected", "receiving", "full rate", "CPU s", "Gbit",
       "CPU s/Gbit", "idle CPU %", "RSS0 MiB", "RSS MiB", "KiB/viewer",
       "loader CPU %", "rest of machine CPU %")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
by = {}
for r in rows:
    d = r["load"]; s = d["server"]; n = r["n"]
    gbit = d["delivered_gbit"]
    cpu = s["cpu_s"]
    per_gbit = cpu / gbit if gbit > 0 else float("nan")
    kib = (s["rss_steady_kb"] - s["rss_before_kb"]) / n
    idle = 100.0 * s["idle_cpu_s"] / s["idle_s"] if s.get("idle_s") else float("nan")
    by[(n, r["server"])] = dict(per_gbit=per_gbit, kib=kib, full=d["full_rate"],
                                conn=d["connected"], cpu=cpu)
    rest = d["machine_cpu_s"] - cpu - d["loader_cpu_s"]
    print("| %d | %s | %d | %d | %s | %.2f | %.3f | %.3f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |" % (
        n, r["server"], d["connected"], d["receiving"], d["full_rate"], cpu,
        gbit, per_gbit, idle, s["rss_before_kb"] / 1024,
        s["rss_steady_kb"] / 1024, kib,
        100.0 * d["loader_cpu_s"] / d["window_s"], 100.0 * rest / d["window_s"]))
print()
print("ratios diode / tcpserversink (CPU per Gbit and KiB per viewer: lower is better)")
print("| N | CPU s/Gbit ratio | KiB/viewer ratio | full rate diode | full rate tcpserversink |")
print("|---|---|---|---|---|")
for n in sorted({k[0] for k in by}):
    a, b = by.get((n, "diode")), by.get((n, "tcpserversink"))
    if not a or not b:
        continue
    r1 = a["per_gbit"] / b["per_gbit"] if b["per_gbit"] > 0 else float("nan")
    r2 = a["kib"] / b["kib"] if b["kib"] > 0 else float("nan")
    print("| %d | %.2f | %s | %s/%d | %s/%d |" % (n, r1,
          "%.1f" % r2 if r2 == r2 else "n/a (anchor ~0)", a["full"], n, b["full"], n))
EOF
log "results in $RESULTS"
