#!/bin/sh
# gst-diode — a tree of relays (issue 9): what the root sends, what each
# level adds, how long a fail-over takes, and a 1 + 4 + 16 relay tree with
# 1000 viewers.
#
#   bench/tree.sh [--quick] [egress] [latency] [failover] [scale]
#
# The seed tree is Peerstreamer's example, one diode-relay process each, on
# 127.0.0.1, each with its own key and stats file (--stats-interval 1):
#   source; mit, harvard (--upstream source); ben, alyssa (--upstream mit),
#   john, lawrence (--upstream harvard), those four with --fallback source.
# Every link is pinned (0xADDRESS@127.0.0.1:PORT).
#
# egress    the clip published at the source (diodesink, real time), V
#           diode-load viewers at EACH leaf for V = 1, 10, 100: bytes the
#           source sent for the stream / bytes it received, over a window,
#           from its stats file. One copy per pulling child relay (mit and
#           harvard) = 2.00, whatever V.
# latency   diode-latency (publisher and measuring viewer in one process, one
#           clock: bench/diode-latency.c) publishing at the source, its viewer
#           at the source (1 level), mit (2) and ben (3), 99 more viewers
#           (diode-load) beside it. "Added per level" = the percentile at
#           level k minus level k-1 (level 1: minus --direct, no relay).
# failover  TRIALS (20) times: diode-latency publishes at the source and
#           watches at ben, then SIGKILLs mit (ben's upstream) itself: the
#           gap from the kill to the first frame ben delivers via its
#           fallback, and the frames lost. mit is restarted on its port;
#           the next trial starts once ben's stats show it back on mit.
# scale     root + 4 relays + 16 leaves (4 under each, the root as fallback),
#           the clip at the root, 1000 diode-load viewers spread over the
#           leaves: viewers at full rate, root egress ratio, CPU of all relays.
#
# Environment: DURATION (measurement seconds per case, default 20; --quick
# 8), TRIALS (20; --quick 5), VIEWERS ("1 10 100"), SCALE_VIEWERS (1000),
# RESULTS (output dir).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

DURATION=${DURATION:-20}
TRIALS=${TRIALS:-20}
if [ "${1:-}" = "--quick" ]; then
  DURATION=${DURATION_QUICK:-8}; TRIALS=${TRIALS_QUICK:-5}; shift
fi
VIEWERS=${VIEWERS:-1 10 100}
SCALE_VIEWERS=${SCALE_VIEWERS:-1000}
CASES=${*:-egress latency failover scale}
RESULTS=${RESULTS:-$cache/results/tree-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/tree.jsonl
: > "$out"
need_build
"$relay_bin" --help | grep -q -- '--upstream' || \
  die "$relay_bin has no --upstream: build a relay with relay links (issue 9)"
log "machine: $(machine_line)"
max=$((DURATION * 3 + 120))

# ---------------------------------------------------------------- the tree

# Every relay here is ours: each accepts any relay as a child ([relays]
# children=*; a parent takes LINK only from relays its config lists).
printf '[relays]\nchildren=*\n' > "$bench_tmp/tree.conf"

# tree_node NAME [relay options]: starts relay NAME with its own key, stats file
# and known-relays; records NAME_port NAME_addr NAME_pid NAME_tpid. A
# restarted node keeps its key and port.
tree_node () {
  _name=$1; shift
  eval "_port=\${${_name}_port:-0}"
  RELAY_KEY=$bench_tmp/$_name.pem RELAY_LISTEN=127.0.0.1:$_port \
    start_relay "$_name" "$max" --stats-interval 1 \
    --stats-file "$bench_tmp/$_name.json" --config "$bench_tmp/tree.conf" \
    --known-relays "$bench_tmp/$_name.known" --max-streams-per-address 0 "$@"
  eval "${_name}_port=$RELAY_PORT ${_name}_addr=$RELAY_ADDR" \
    "${_name}_pid=$RELAY_PID ${_name}_tpid=$RELAY_TPID"
}

pin () { eval "echo \${${1}_addr}@127.0.0.1:\${${1}_port}"; }
port_of () { eval "echo \${${1}_port}"; }
addr_of () { eval "echo \${${1}_addr}"; }

# Options of a child of $1 with fallback $2 (optional).
child_of () {
  echo "--upstream $(pin "$1")${2:+ --fallback $(pin "$2")} --failback-delay 1000"
}

seed_tree () {
  tree_node source
  # shellcheck disable=SC2046
  tree_node mit $(child_of source)
  # shellcheck disable=SC2046
  tree_node harvard $(child_of source)
  for l in ben alyssa; do
    # shellcheck disable=SC2046
    tree_node $l $(child_of mit source)
  done
  for l in john lawrence; do
    # shellcheck disable=SC2046
    tree_node $l $(child_of harvard source)
  done
  log "seed tree up: source :$source_port mit :$mit_port harvard :$harvard_port" \
    "ben :$ben_port alyssa :$alyssa_port john :$john_port lawrence :$lawrence_port"
}

stop_all () {
  for p in $bench_pids; do bench_stop "$p"; done
  unset source_port mit_port harvard_port ben_port alyssa_port john_port \
    lawrence_port 2>/dev/null || true
  for i in $(seq 0 3); do unset "mid${i}_port" 2>/dev/null || true; done
  for i in $(seq 0 15); do unset "leaf${i}_port" 2>/dev/null || true; done
  unset root_port 2>/dev/null || true
}

# stream_counters NAME STREAM: "bytes_in bytes_out viewers" from NAME's stats
stream_counters () {
  python3 - "$bench_tmp/$1.json" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("0 0 -1"); sys.exit()
for s in d.get("streams", []):
    if s.get("name") == sys.argv[2]:
        print(s.get("bytes_in", 0), s.get("bytes_out", 0), len(s.get("viewers", [])))
        break
else:
    print("0 0 -1")
EOF
}

# on_upstream CHILD PARENT: CHILD's stats show its control link to PARENT
# up as its upstream (kind upstream, state ready or linked) and no fallback
# link: it has failed back. Waits up to 30 s; fails the run otherwise.
on_upstream () {
  python3 - "$bench_tmp/$1.json" "127.0.0.1:$(port_of "$2")" <<'EOF' || die "$1 is not back on $2 after 30 s"
import json, sys, time
end = time.time() + 30
while time.time() < end:
    try:
        links = json.load(open(sys.argv[1])).get("links", [])
    except Exception:
        links = []
    up = any(l.get("kind") == "upstream" and l.get("peer") == sys.argv[2]
             and l.get("state") in ("ready", "linked") for l in links)
    if up and not any(l.get("kind") == "fallback" for l in links):
        sys.exit(0)
    time.sleep(0.2)
sys.exit(1)
EOF
}

# cpu_ticks PID...: utime + stime of those processes, in clock ticks
cpu_ticks () {
  _t=0
  for _p in "$@"; do
    _v=$(awk '{print $14 + $15}' "/proc/$_p/stat" 2>/dev/null || echo 0)
    _t=$((_t + _v))
  done
  echo "$_t"
}

# load_at NAME N STREAM LOGNAME: N diode-load viewers of STREAM at NAME,
# kept connected for the whole case; sets LOAD_TPID
load_at () {
  bench_spawn "$max" "$bench_tmp/$4" "$load_bin" --tls \
    --port "$(port_of "$1")" --relay-id "$(addr_of "$1")" --stream "$3" \
    -n "$2" --ramp 200 --warmup 4 --duration "$DURATION" --linger 3 \
    --expect-bps "${LOAD_BPS:-${clip_bps:-3950000}}" -q
  LOAD_TPID=$SPAWN_TPID
}

# ---------------------------------------------------------------- egress

case_egress () {
  need_clip
  for v in $VIEWERS; do
    case $v in ''|*[!0-9]*) die "bad viewer count $v";; esac
    wait_quiet
    seed_tree
    RELAY_PORT=$source_port RELAY_ADDR=$source_addr
    start_diode_pub pub "$max" eg
    loads=""
    for l in ben alyssa john lawrence; do
      load_at $l "$v" eg "load-$l"
      loads="$loads $LOAD_TPID"
    done
    sleep 6
    set -- $(stream_counters source eg); in0=$1 out0=$2
    t0=$(date +%s.%N)
    sleep "$DURATION"
    set -- $(stream_counters source eg); in1=$1 out1=$2 subs=$3
    t1=$(date +%s.%N)
    for p in $loads; do wait "$p" 2>/dev/null || true; done
    full=0; req=0
    for l in ben alyssa john lawrence; do
      j=$(cat "$bench_tmp/load-$l.out" 2>/dev/null || true)
      [ -n "$j" ] || continue
      full=$((full + $(echo "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["full_rate"])')))
      req=$((req + v))
    done
    echo "{\"case\":\"egress\",\"viewers_per_leaf\":$v,\"root_in\":$((in1 - in0)),\"root_out\":$((out1 - out0)),\"root_subscribers\":$subs,\"seconds\":$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}'),\"full_rate\":$full,\"requested\":$req}" >> "$out"
    log "egress with $v viewers per leaf done (root subscribers $subs)"
    stop_all
  done
}

# ---------------------------------------------------------------- latency

case_latency () {
  warm=2
  delay=6
  wait_quiet
  json=$(timeout "$max" "$latency_bin" --direct --warmup "$warm" \
    --duration "$DURATION" -q) || die "diode-latency --direct failed"
  echo "{\"case\":\"latency\",\"level\":0,\"at\":\"direct\",\"r\":$json}" >> "$out"
  level=1
  for at in source mit ben; do
    wait_quiet
    seed_tree
    load_at "$at" 99 "lat$level" "load-lat"
    lp=$LOAD_TPID
    json=$(timeout "$max" "$latency_bin" --port "$source_port" \
      --relay-id "$source_addr" --view-port "$(port_of $at)" \
      --view-relay-id "$(addr_of $at)" --stream "lat$level" \
      --viewer-delay "$delay" --warmup "$warm" --duration "$DURATION" -q) \
      || die "diode-latency through $level levels failed"
    wait "$lp" 2>/dev/null || true
    others=$(cat "$bench_tmp/load-lat.out" 2>/dev/null || true)
    echo "{\"case\":\"latency\",\"level\":$level,\"at\":\"$at\",\"r\":$json,\"others\":${others:-null}}" >> "$out"
    log "latency through $level level(s) done"
    stop_all
    level=$((level + 1))
  done
}

# ---------------------------------------------------------------- failover

case_failover () {
  wait_quiet
  # The tree lives through every trial (each takes ~10 s, a restart and a
  # fail-back): its processes' `timeout` bound must cover them all.
  _max_was=$max
  max=$((TRIALS * 40 + 120))
  seed_tree
  for t in $(seq 1 "$TRIALS"); do
    on_upstream ben mit
    # A trial whose publisher or viewer connection broke is a result too
    # (kept, with diode-latency's reason), not the end of the run.
    if json=$(timeout "$max" "$latency_bin" --port "$source_port" \
        --relay-id "$source_addr" --view-port "$ben_port" \
        --view-relay-id "$ben_addr" --stream "fo$t" --viewer-delay 1 \
        --warmup 1 --duration 5 --kill-pid "$mit_pid" --kill-at 4 \
        2> "$bench_tmp/fo.err"); then
      echo "{\"case\":\"failover\",\"trial\":$t,\"r\":$json}" >> "$out"
    else
      why=$(tail -n 3 "$bench_tmp/fo.err" | tr '\n"\\' ' ')
      log "fail-over trial $t broke: $why"
      echo "{\"case\":\"failover\",\"trial\":$t,\"broken\":\"$why\"}" >> "$out"
      kill -KILL "$mit_pid" 2>/dev/null || true
    fi
    bench_stop "$mit_tpid"
    # shellcheck disable=SC2046
    tree_node mit $(child_of source)
  done
  log "fail-over: $TRIALS trials done"
  stop_all
  max=$_max_was
}

# ---------------------------------------------------------------- scale

case_scale () {
  need_clip
  wait_quiet
  tree_node root
  relays="$root_pid"
  for m in 0 1 2 3; do
    # shellcheck disable=SC2046
    tree_node "mid$m" $(child_of root)
    relays="$relays $RELAY_PID"
  done
  per=$((SCALE_VIEWERS / 16)); extra=$((SCALE_VIEWERS % 16))
  loads=""
  for i in $(seq 0 15); do
    # shellcheck disable=SC2046
    tree_node "leaf$i" $(child_of "mid$((i / 4))" root) \
      --max-connections-per-address 20000 --max-pending-per-address 20000
    relays="$relays $RELAY_PID"
  done
  log "scale tree up: 1 + 4 + 16 relays"
  RELAY_PORT=$root_port RELAY_ADDR=$root_addr
  start_diode_pub pub "$max" big
  for i in $(seq 0 15); do
    load_at "leaf$i" $((per + (i < extra ? 1 : 0))) big "load-leaf$i"
    loads="$loads $LOAD_TPID"
  done
  sleep 8
  set -- $(stream_counters root big); in0=$1 out0=$2
  c0=$(cpu_ticks $relays); t0=$(date +%s.%N)
  sleep "$DURATION"
  set -- $(stream_counters root big); in1=$1 out1=$2 subs=$3
  c1=$(cpu_ticks $relays); t1=$(date +%s.%N)
  for p in $loads; do wait "$p" 2>/dev/null || true; done
  full=0; failed=0
  for i in $(seq 0 15); do
    j=$(cat "$bench_tmp/load-leaf$i.out" 2>/dev/null || true)
    [ -n "$j" ] || continue
    full=$((full + $(echo "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["full_rate"])')))
    failed=$((failed + $(echo "$j" | python3 -c 'import json,sys; print(json.load(sys.stdin)["failed"])')))
  done
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
  echo "{\"case\":\"scale\",\"viewers\":$SCALE_VIEWERS,\"full_rate\":$full,\"failed\":$failed,\"root_in\":$((in1 - in0)),\"root_out\":$((out1 - out0)),\"root_subscribers\":$subs,\"relays_cpu_s\":$(awk -v a="$c0" -v b="$c1" -v h="$(getconf CLK_TCK)" 'BEGIN{printf "%.3f", (b - a) / h}'),\"seconds\":$secs}" >> "$out"
  log "scale run done"
  stop_all
}

for c in $CASES; do
  case $c in
    egress|latency|failover|scale) "case_$c" ;;
    *) die "unknown case $c (egress latency failover scale)" ;;
  esac
done

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/tree.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("relay tree: %s" % sys.argv[2])
eg = [r for r in rows if r["case"] == "egress"]
if eg:
    print("\nroot egress for one stream (clip in real time), 2 pulling children (mit, harvard)")
    print("| viewers per leaf | viewers | root subscribers | root out / in | per pulling child | viewers at full rate |")
    print("|---|---|---|---|---|---|")
    for r in eg:
        ratio = r["root_out"] / r["root_in"] if r["root_in"] else float("nan")
        print("| %d | %d | %d | %.2f | %.2f | %d/%d |" % (r["viewers_per_leaf"],
              4 * r["viewers_per_leaf"], r["root_subscribers"], ratio, ratio / 2,
              r["full_rate"], r["requested"]))
lat = [r for r in rows if r["case"] == "latency"]
if lat:
    print("\nreceive - send of 16 KiB frames at 30 fps, ms; 100 viewers at the viewing relay")
    print("| levels | viewer at | samples | lost | p50 | p99 | max | added p50 | added p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    prev = None
    for r in lat:
        l = r["r"]["latency_ms"]
        a50 = "%.3f" % (l["p50"] - prev["p50"]) if prev else "-"
        a99 = "%.3f" % (l["p99"] - prev["p99"]) if prev else "-"
        print("| %d | %s | %d | %d | %.3f | %.3f | %.3f | %s | %s |" % (r["level"], r["at"],
              r["r"]["samples"], r["r"]["frames_lost"], l["p50"], l["p99"], l["max"], a50, a99))
        prev = l
fo = [r for r in rows if r["case"] == "failover"]
if fo:
    # A trial whose viewer had no frame before the kill measured a join,
    # not a fail-over: reported, left out of the figures.
    broken = [r for r in fo if "broken" in r]
    fo = [r for r in fo if "broken" not in r]
    cold = [r for r in fo if r["r"]["failover"]["seq_at_kill"] == 0]
    fo = [r for r in fo if r["r"]["failover"]["seq_at_kill"] > 0]
    gaps = sorted(r["r"]["failover"]["gap_ms"] for r in fo if r["r"]["failover"]["gap_ms"] is not None)
    lost = sum(r["r"]["failover"]["lost"] for r in fo)
    never = sum(1 for r in fo if r["r"]["failover"]["gap_ms"] is None)
    if gaps:
        p50 = gaps[len(gaps) // 2] if len(gaps) % 2 else (gaps[len(gaps) // 2 - 1] + gaps[len(gaps) // 2]) / 2
        print("\nfail-over (kill -9 mit, viewer at ben, fallback the source): %d trials" % len(fo))
        print("| gap p50 ms | gap max ms | frames lost (all trials) | trials without a frame after the kill |")
        print("|---|---|---|---|")
        print("| %.0f | %.0f | %d | %d |" % (p50, gaps[-1], lost, never))
    if cold:
        print("(%d more trials had no frame at ben before the kill: not counted)" % len(cold))
    for r in broken:
        print("(trial %d broke: %s)" % (r["trial"], r["broken"].strip()))
sc = [r for r in rows if r["case"] == "scale"]
for r in sc:
    ratio = r["root_out"] / r["root_in"] if r["root_in"] else float("nan")
    print("\nscale: 1 + 4 + 16 relays, %d viewers at the leaves: %d at full rate, %d failed; "
          "root subscribers %d, root out / in %.2f (4 pulling children); the 21 relays used "
          "%.2f CPU-seconds per second" % (r["viewers"], r["full_rate"], r["failed"],
          r["root_subscribers"], ratio, r["relays_cpu_s"] / r["seconds"]))
EOF
log "results in $RESULTS"
