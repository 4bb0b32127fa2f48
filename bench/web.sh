#!/bin/sh
# gst-diode — the relay's web side under load (issue 11, item 8 and the 5 %
# check of item 1): N WebSocket viewers vs N TLS viewers, the fan-out with
# and without --http, and join-to-first-picture in Chromium.
#
#   bench/web.sh [--quick] [N ...]      default N: 100 1000
#                                       --quick: N = 100, 8 s windows, 5 joins
#
# Points, for each N, each on a fresh relay + publisher (the fan-out
# benchmark's: bench/.cache/clip.mkv, 720p30 H.264 at 4 Mbit/s, played in
# real time into diodesink; lib.sh), in this order, REPEAT times (default 1;
# the order alternates between repeats so a drift of the machine does not
# favour one side):
#   tls-plain  relay without --http, N TLS viewers (the fan-out benchmark)
#   tls-http   relay with --http 127.0.0.1:PORT, idle on its web port,
#              N TLS viewers
#   ws         relay with --http, N WebSocket viewers (diode-load --ws: HTTP
#              upgrade on /ws/bench, one diode frame per binary message)
# Each point: SETTLE s for the ring to fill, 2 s idle sample of the relay
# (its CPU then is subtracted), N viewers at RAMP/s, WARMUP s, STEADY s
# measured: the relay's CPU (utime+stime, all threads), its RSS, the bytes
# delivered, and per viewer the MEDIA seqs and the lag behind live.
# Then JOINS joins in Chromium (bench/web-join.mjs) on a relay with --http
# and the same publisher, no other viewer.
#
# Reported:
#   - relay CPU-s per delivered Gbit, idle CPU subtracted; WS / TLS ratio
#     (target: <= 1.2 at N = 1000);
#   - relay RSS growth per viewer (KiB);
#   - viewers at full rate: connected over the whole window, no MEDIA seq
#     gap, lag behind live < 1 s all along (diode-load's full_rate_seq);
#   - tls-http / tls-plain CPU per Gbit (target: within 5 %);
#   - first picture after page open, p50 / p90 (target: p50 <= 500 ms).
# With REPEAT > 1 each figure is the median of the repeats.
#
# Environment: RAMP (250/s), STEADY (20), WARMUP (3), SETTLE (11), REPEAT (1),
# JOINS (20), RELAY_OPTS (extra relay options, every point), WEB_OPTS (extra
# relay options with --http), RESULTS (output dir), QUIET_MAX/QUIET_WAIT
# (lib.sh wait_quiet). Needs the build (ninja -C build), and for the joins
# Debian's chromium and tests/browser/node_modules (scripts/setup.sh);
# without them the joins are skipped, saying why.
# Results: $RESULTS/web.jsonl (one JSON line per point), web.txt, logs.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

ns="100 1000"
JOINS=${JOINS:-20}
if [ "${1:-}" = "--quick" ]; then
  ns="100"; STEADY=${STEADY:-8}; SETTLE=${SETTLE:-6}; JOINS=${JOINS_QUICK:-5}
  shift
fi
if [ $# -gt 0 ]; then ns="$*"; fi
for n in $ns; do
  case $n in ''|*[!0-9]*) die "N must be a number: $n";; esac
  [ "$n" -ge 1 ] && [ "$n" -le 10000 ] || die "N must be 1..10000"
done
RAMP=${RAMP:-250}
STEADY=${STEADY:-20}
WARMUP=${WARMUP:-3}
SETTLE=${SETTLE:-11}
REPEAT=${REPEAT:-1}
case $REPEAT in ''|*[!0-9]*) die "REPEAT must be a number";; esac
[ "$REPEAT" -ge 1 ] && [ "$REPEAT" -le 10 ] || die "REPEAT must be 1..10"
case $JOINS in ''|*[!0-9]*) die "JOINS must be a number";; esac
[ "$JOINS" -le 1000 ] || die "JOINS must be 0..1000"
RESULTS=${RESULTS:-$cache/results/web-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/web.jsonl
: > "$out"

need_build
need_clip
cpu_model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)

log "machine: $(machine_line)"
log "CPU (lscpu): ${cpu_model:-?}"
log "points: N = $ns x {tls-plain, tls-http, ws}, $REPEAT time(s); ramp $RAMP/s, settle ${SETTLE}s, warm-up ${WARMUP}s, steady ${STEADY}s; clip $clip_bps bit/s; $JOINS joins"

run_point () { # CONFIG N ROUND
  config=$1; n=$2; round=$3
  # everything of one point must end within this bound
  max=$((SETTLE + 2 + n / RAMP + 30 + WARMUP + STEADY + 30))
  web=""
  if [ "$config" != tls-plain ]; then
    http_port=$(free_port)
    web="--http 127.0.0.1:$http_port ${WEB_OPTS:-}"
  fi
  wait_quiet
  # shellcheck disable=SC2086
  start_relay relay "$max" ${RELAY_OPTS:-} $web
  start_diode_pub pub "$max" bench
  sleep "$SETTLE"
  check_alive "$RELAY_PID" relay; check_alive "$PUB_PID" pub
  common="-n $n --ramp $RAMP --warmup $WARMUP --duration $STEADY --pre 2 --expect-bps $clip_bps --stream bench --server-pid $RELAY_PID -q"
  if [ "$config" = ws ]; then
    # shellcheck disable=SC2086
    json=$(timeout "$max" "$load_bin" --ws --port "$http_port" $common \
      2> "$bench_tmp/load.err") || true
  else
    # shellcheck disable=SC2086
    json=$(timeout "$max" "$load_bin" --tls --port "$RELAY_PORT" \
      --relay-id "$RELAY_ADDR" $common 2> "$bench_tmp/load.err") || true
  fi
  check_alive "$RELAY_PID" relay
  bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
  cp "$bench_tmp/relay.err" "$RESULTS/relay-$config-$n-$round.log"
  cp "$bench_tmp/pub.err" "$RESULTS/publisher-$config-$n-$round.log"
  [ -n "$json" ] || { cat "$bench_tmp/load.err" >&2; die "diode-load failed"; }
  echo "{\"config\":\"$config\",\"n\":$n,\"round\":$round,\"load\":$json}" >> "$out"
  log "$config N=$n (round $round): $(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["server"]; print("connected %d, full rate %s (gaps %s, lag max %s ms), cpu %.2f s for %.3f Gbit, rss %d -> %d KiB%s" % (d["connected"], d["full_rate_seq"], d["seq_gaps"], d["lag_ms"]["max"], s["cpu_s"], d["delivered_gbit"], s["rss_before_kb"], s["rss_steady_kb"], (", failures " + json.dumps(d["failures"])) if d["failures"] else ""))')"
}

round=1
while [ "$round" -le "$REPEAT" ]; do
  for n in $ns; do
    if [ $((round % 2)) -eq 1 ]; then order="tls-plain tls-http ws"
    else order="ws tls-http tls-plain"; fi
    for config in $order; do
      run_point "$config" "$n" "$round"
    done
  done
  round=$((round + 1))
done

# ---- join to first picture in Chromium ----
joins_json=""
if [ "$JOINS" -gt 0 ]; then
  if ! command -v node > /dev/null; then
    log "joins skipped: no node (Debian package nodejs)"
  elif [ ! -d "$root/tests/browser/node_modules/playwright-core" ]; then
    log "joins skipped: no tests/browser/node_modules (scripts/setup.sh runs npm ci there)"
  elif [ ! -x "${DIODE_CHROMIUM:-/usr/bin/chromium}" ]; then
    log "joins skipped: no chromium (Debian package chromium)"
  else
    max=$((SETTLE + 30 + JOINS * 20))
    http_port=$(free_port)
    wait_quiet
    # shellcheck disable=SC2086
    start_relay relay "$max" ${RELAY_OPTS:-} --http "127.0.0.1:$http_port" ${WEB_OPTS:-}
    start_diode_pub pub "$max" bench
    sleep 3
    check_alive "$RELAY_PID" relay; check_alive "$PUB_PID" pub
    log "joining $JOINS times: http://127.0.0.1:$http_port/watch/bench"
    joins_json=$(timeout "$max" node "$here/web-join.mjs" \
      "http://127.0.0.1:$http_port/watch/bench" "$JOINS" \
      2> "$RESULTS/joins.log") || true
    bench_stop "$PUB_TPID"; bench_stop "$RELAY_TPID"
    cp "$bench_tmp/relay.err" "$RESULTS/relay-joins.log"
    if [ -n "$joins_json" ]; then
      echo "{\"config\":\"joins\",\"joins\":$joins_json}" >> "$out"
    else
      tail -n 5 "$RESULTS/joins.log" >&2
      log "the joins produced no result (see $RESULTS/joins.log)"
    fi
  fi
fi

python3 - "$out" "$(machine_line)" "$cpu_model" <<'EOF' | tee "$RESULTS/web.txt"
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("web side: %s" % sys.argv[2])
print("CPU (lscpu model name): %s" % sys.argv[3])
print("relay CPU s = utime+stime of the relay process over the steady window "
      "minus its idle rate (sampled 2 s before the viewers) times the window; "
      "Gbit = diode frame bytes the viewers received in it; full rate = the "
      "whole window, no MEDIA seq gap, lag behind live < 1 s")
nan = float("nan")
def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else nan
pts = {}
for r in rows:
    if r["config"] == "joins":
        continue
    d = r["load"]; s = d["server"]; n = r["n"]
    gbit = d["delivered_gbit"]
    idle_rate = s["idle_cpu_s"] / s["idle_s"] if s.get("idle_s") else 0.0
    cpu = s["cpu_s"] - idle_rate * d["window_s"]
    pts.setdefault((n, r["config"]), []).append(dict(
        cpu=cpu, gbit=gbit, per_gbit=cpu / gbit if gbit > 0 else nan,
        kib=(s["rss_steady_kb"] - s["rss_before_kb"]) / n,
        conn=d["connected"], full=d["full_rate_seq"], gaps=d["seq_gaps"],
        lag=d["lag_ms"]["max"] if d["lag_ms"]["max"] is not None else nan,
        lag90=d["lag_ms"]["p90"] if d["lag_ms"]["p90"] is not None else nan,
        idle=100.0 * idle_rate,
        loader=100.0 * d["loader_cpu_s"] / d["window_s"],
        rest=100.0 * (d["machine_cpu_s"] - s["cpu_s"] - d["loader_cpu_s"]) / d["window_s"],
        fail=d["failures"], round=r["round"]))
agg = {}
hdr = ("N", "viewers", "clean runs", "connected", "full rate", "seq gaps",
       "lag p90 / max ms", "relay CPU s (net)", "Gbit", "CPU s/Gbit",
       "idle CPU %", "KiB/viewer", "loader CPU %", "rest of machine CPU %")
print()
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
names = {"tls-plain": "TLS, relay without --http", "tls-http": "TLS, relay with --http",
         "ws": "WebSocket"}
for (n, c) in sorted(pts, key=lambda k: (k[0], ["tls-plain", "tls-http", "ws"].index(k[1]))):
    # A run where some viewers were not at full rate (on this shared
    # machine: the loader or the relay starved by other work) measures a
    # smaller load: the medians use the clean runs when there is one.
    A = pts[(n, c)]
    L = [x for x in A if x["full"] == n] or A
    a = {k: med([x[k] for x in L]) for k in ("cpu", "gbit", "per_gbit", "kib", "lag", "lag90", "idle", "loader", "rest")}
    a["conn"] = min(x["conn"] for x in L); a["full"] = min(x["full"] for x in L)
    a["gaps"] = max(x["gaps"] for x in L)
    agg[(n, c)] = a
    print("| %d | %s | %d of %d | %d | %d/%d | %d | %.0f / %.0f | %.2f | %.2f | %.3f | %.1f | %.1f | %.0f | %.0f |" % (
        n, names[c], len([x for x in A if x["full"] == n]), len(A), a["conn"], a["full"], n, a["gaps"], a["lag90"], a["lag"],
        a["cpu"], a["gbit"], a["per_gbit"], a["idle"], a["kib"], a["loader"], a["rest"]))
print()
print("every run (round: full rate, CPU s/Gbit, KiB/viewer, rest of machine CPU %, failures)")
for (n, c) in sorted(pts):
    print("  N=%d %s: %s" % (n, c, "; ".join(
        "r%d: %d/%d, %.3f, %.1f, %.0f%s" % (x["round"], x["full"], n, x["per_gbit"], x["kib"], x["rest"],
                                          (" " + json.dumps(x["fail"])) if x["fail"] else "")
        for x in pts[(n, c)])))
print()
print("| N | WS / TLS CPU per Gbit (target <= 1.2 at 1000) | WS / TLS KiB per viewer | --http / without, TLS CPU per Gbit (target <= 1.05) |")
print("|---|---|---|---|")
for n in sorted({k[0] for k in agg}):
    t, h, w = agg.get((n, "tls-http")), agg.get((n, "tls-plain")), agg.get((n, "ws"))
    r1 = w["per_gbit"] / t["per_gbit"] if w and t and t["per_gbit"] > 0 else nan
    r2 = w["kib"] / t["kib"] if w and t and t["kib"] > 0 else nan
    r3 = t["per_gbit"] / h["per_gbit"] if t and h and h["per_gbit"] > 0 else nan
    print("| %d | %.2f%s | %.2f | %.3f%s |" % (n, r1,
          (" (met)" if r1 <= 1.2 else " (missed)") if n == 1000 and r1 == r1 else "",
          r2, r3, (" (met)" if r3 <= 1.05 else " (missed)") if r3 == r3 else ""))
for r in rows:
    if r["config"] != "joins":
        continue
    j = r["joins"]; p = j["first_paint_ms"]; w = j["wall_ms"]
    print()
    print("join to first picture in Chromium %s (page open -> first decoded frame "
          "drawn, window.diodePlayer.firstPaintMs), %d joins, %d failed:" % (
              j.get("chromium", "?"), j["joins"], j["failed"]))
    print("  p50 %s ms, p90 %s ms, max %s ms%s; wall (script's view, an upper bound) p50 %s ms, p90 %s ms" % (
        p["p50"], p["p90"], p["max"],
        (" (target p50 <= 500 ms: %s)" % ("met" if p["p50"] <= 500 else "missed")) if p["p50"] is not None else "",
        w["p50"], w["p90"]))
    for f in j["failures"]:
        print("  failure: %s" % f)
EOF
log "results in $RESULTS"
