#!/bin/sh
# gst-diode — fan-out benchmark: diode-relay (TLS to every viewer) vs
# tcpserversink sync-method=latest-keyframe (no encryption), same clip, same
# load, same run.
#
#   bench/fanout.sh [--quick] [N ...]        default N: 10 100 300 1000 2000
#                                            --quick:   10 100
#   bench/fanout.sh 4000                     works too (see below)
#
# For each N and each server, in this order (diode then anchor):
#   1. start the server side, the publisher in a process of its own in both
#      cases, so that the measured process is only the server:
#        diode: diode-relay  <- TLS <- gst-launch ... ! diodesink
#        anchor: gst-launch tcpserversrc ! gdpdepay ! tcpserversink
#                <- TCP <- gst-launch ... ! gdppay ! tcpclientsink
#      both publishers play bench/.cache/clip.mkv in real time through the
#      same upstream (lib.sh: pub_src, start_tcp_server);
#   2. wait SETTLE seconds (the relay's ring fills: 10 s of buffer by default),
#      then diode-load samples the idle server for PRE seconds: its CPU then
#      is what ingesting the stream costs with no viewer (TLS decryption for
#      the relay, GDP for the anchor), and is subtracted from the window's;
#   3. diode-load connects N viewers at RAMP connections/s, waits WARMUP s,
#      then measures STEADY s: per-viewer bytes, pictures and lag, and the
#      server process's CPU seconds (utime+stime of every thread) and VmRSS
#      at the window edges.
# Reported per N and server: CPU-s per delivered Gbit after subtracting the
# idle CPU (and the raw figure), viewers at full rate (strict: the whole
# window, no skipped frame, never 1 s or more behind live; for the tcp
# readers, which have neither seqs nor pts, pictures counted against the
# clip's frame rate: diode-load.c), the >= 95 %-of-bytes count as a second
# column, RSS growth per viewer, the loader's own CPU; then diode /
# tcpserversink ratios.
#
# N = 4000 and up: the file limit is raised to the hard limit for every
# process; diode-load is one thread and decrypts every viewer's stream, at
# ~0.4 core per 1000 TLS viewers: past ~4000 it (not the relay) may be the
# limit: look at "loader CPU %" (100 = one core) before reading the row.
#
# Environment: RAMP (default 250/s), STEADY (20), WARMUP (3), SETTLE (11),
# PRE (3), RELAY_OPTS (extra diode-relay options), RESULTS (output dir).
# Results: $RESULTS/fanout.jsonl (one JSON line per point) and fanout.txt.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

ns="10 100 300 1000 2000"
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
PRE=${PRE:-3}
RESULTS=${RESULTS:-$cache/results/fanout-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/fanout.jsonl
: > "$out"

need_build
need_clip
clip_fps=$(awk -F= '/^frames=/{f=$2} /^seconds=/{s=$2} END{printf "%g", f / s}' "$cache/clip.info")
# every process of the run (relay, tcpserversink, loader) gets the hard
# file limit: 4000 viewers need 4000+ descriptors in each
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log "machine: $(machine_line)"
log "points: N = $ns; ramp $RAMP/s, settle ${SETTLE}s, idle ${PRE}s, warm-up ${WARMUP}s, steady ${STEADY}s; clip $clip_bps bit/s, $clip_fps fps; file limit $(ulimit -n)"

run_point () { # SERVER N
  server=$1; n=$2
  # everything of one point must end within this bound
  max=$((SETTLE + PRE + n / RAMP + 30 + WARMUP + STEADY + 30))
  common="-n $n --ramp $RAMP --warmup $WARMUP --duration $STEADY --pre $PRE --expect-bps $clip_bps -q"
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
      --server-pid "$TCP_PID" --fps "$clip_fps" $common \
      2> "$bench_tmp/load.err") || true
    check_alive "$TCP_PID" tcpserver
    stop_tcp_server
    cp "$bench_tmp/tcpserver.err" "$RESULTS/tcpserversink-$n.log"
    cp "$bench_tmp/tcpserver-pub.err" "$RESULTS/tcpserversink-publisher-$n.log"
  fi
  [ -n "$json" ] || { cat "$bench_tmp/load.err" >&2; die "diode-load failed"; }
  echo "{\"server\":\"$server\",\"n\":$n,\"load\":$json}" >> "$out"
  log "$server N=$n: $(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["server"]; print("connected %d, full rate %s (bytes %s), cpu %.2f s (idle %.2f s in %g s) for %.3f Gbit, rss %d -> %d KiB, loader %.2f s" % (d["connected"], d["full_rate_strict"], d["full_rate_bytes"], s["cpu_s"], s["idle_cpu_s"], s["idle_s"], d["delivered_gbit"], s["rss_before_kb"], s["rss_steady_kb"], d["loader_cpu_s"]))')"
}

for n in $ns; do
  run_point diode "$n"
  run_point tcpserversink "$n"
done

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/fanout.txt"
import json, sys
nan = float("nan")
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("fan-out: %s" % sys.argv[2])
print("CPU s = utime+stime of the server process over the steady window, "
      "minus its idle CPU rate (sampled with the stream flowing and no "
      "viewer) times the window; raw = before the subtraction; "
      "Gbit = bytes the viewers received in it. Each publisher is its own "
      "process (in 'rest of machine', with other users).")
print("full rate = strict: whole window, no skipped frame, lag behind live "
      "< 1 s all along (tcp readers: pictures counted against the clip's "
      "frame rate); bytes >= 95 %: the older, weaker count")
hdr = ("N", "server", "connected", "full rate", "bytes >= 95 %", "lag max ms",
       "CPU s", "raw CPU s", "Gbit", "CPU s/Gbit", "raw CPU s/Gbit",
       "idle CPU %", "RSS0 MiB", "RSS MiB", "KiB/viewer", "loader CPU %",
       "rest of machine CPU %")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
by = {}
for r in rows:
    d = r["load"]; s = d["server"]; n = r["n"]; w = d["window_s"]
    gbit = d["delivered_gbit"]
    raw = s["cpu_s"]
    idle_rate = s["idle_cpu_s"] / s["idle_s"] if s.get("idle_s") and s.get("idle_cpu_s") is not None else nan
    cpu = raw - idle_rate * w
    per_gbit = cpu / gbit if gbit > 0 else nan
    raw_gbit = raw / gbit if gbit > 0 else nan
    kib = (s["rss_steady_kb"] - s["rss_before_kb"]) / n
    lag = d["lag_ms"]["max"]
    by[(n, r["server"])] = dict(per_gbit=per_gbit, raw_gbit=raw_gbit, kib=kib,
                                full=d["full_rate_strict"], fb=d["full_rate_bytes"],
                                conn=d["connected"], loader=100.0 * d["loader_cpu_s"] / w)
    rest = d["machine_cpu_s"] - raw - d["loader_cpu_s"]
    print("| %d | %s | %d | %s | %s | %s | %.2f | %.2f | %.3f | %.3f | %.3f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |" % (
        n, r["server"], d["connected"], d["full_rate_strict"], d["full_rate_bytes"],
        "%.0f" % lag if lag is not None else "-", cpu, raw, gbit, per_gbit,
        raw_gbit, 100.0 * idle_rate, s["rss_before_kb"] / 1024,
        s["rss_steady_kb"] / 1024, kib, 100.0 * d["loader_cpu_s"] / w,
        100.0 * rest / w))
print()
print("diode vs tcpserversink (CPU per Gbit, idle subtracted, and KiB per "
      "viewer: lower is better for diode; target: ratio <= 1 at every N, "
      "<= 0.75 from N = 1000 up)")
print("| N | CPU s/Gbit diode | CPU s/Gbit tcpserversink | ratio | raw ratio | KiB/viewer ratio | full rate diode | full rate tcpserversink | loader CPU % diode |")
print("|---|---|---|---|---|---|---|---|---|")
for n in sorted({k[0] for k in by}):
    a, b = by.get((n, "diode")), by.get((n, "tcpserversink"))
    if not a or not b:
        continue
    r1 = a["per_gbit"] / b["per_gbit"] if b["per_gbit"] > 0 else nan
    r0 = a["raw_gbit"] / b["raw_gbit"] if b["raw_gbit"] > 0 else nan
    r2 = a["kib"] / b["kib"] if b["kib"] > 0 else nan
    print("| %d | %.3f | %.3f | %.2f | %.2f | %s | %s/%d | %s/%d | %.0f |" % (
        n, a["per_gbit"], b["per_gbit"], r1, r0,
        "%.1f" % r2 if r2 == r2 else "n/a (anchor ~0)", a["full"], n, b["full"], n,
        a["loader"]))
EOF
log "results in $RESULTS"
