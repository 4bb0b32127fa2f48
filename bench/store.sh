#!/bin/sh
# gst-diode — recordings (issue 10): seek latency in a 1-hour recording,
# relay memory while it is written and watched, the cost of recording 100
# streams for the fan-out, and the upstream bytes peers save.
#
#   bench/store.sh [--quick] [seek] [fanout] [peers]     default: all three
#   bench/store.sh --report DIR       the tables again from DIR/store.jsonl
#
# seek    One relay with --store. A 1-hour recording (--quick: 10 min) is
#         uploaded at full speed by a non-live pipeline,
#           videotestsrc num-buffers=108000 pattern=ball ! 160x120 30 fps !
#           x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30
#           bitrate=256 ! h264parse ! diodesink record=true
#         (timestamps rise from 0 to 3600 s: the recording spans an hour of
#         media; a keyframe, so a chunk, every second), while a viewer
#         (tests/faults/fault-peer: diodesrc start=earliest ! h264parse !
#         avdec_h264 ! fakesink, frames counted) watches it from the start.
#         The relay's VmRSS is sampled every second meanwhile (flat = does
#         not grow with the recording). Then bench/diode-seek does SEEKS
#         (100; --quick 30) flushing KEY_UNIT seeks to random targets in the
#         finished recording: time from gst_element_seek() to the first
#         decoded frame at the sink, p50/p99 (target: p50 <= 50 ms).
# fanout  STREAMS (100; --quick 20) streams of 4 Mbit/s (diode-latency
#         --publishers, 16667-byte frames at 30 fps, a keyframe each second,
#         RECORD flag) and VIEWERS_PER (2) diode-load viewers per stream, on
#         a relay without --store, then on one with --store, same run:
#         relay CPU seconds per delivered Gbit in each, the ratio
#         (target: <= 1.10), and what the store wrote per second.
# peers   An upstream relay holding a recording (PEER_SECONDS of 320x240 at
#         ~1 Mbit/s, uploaded first) and 3 sibling relays under it. One
#         viewer of the recording (start=earliest, to its end) at each
#         sibling in turn (fault-peer: decodes, counts, exits at EOS);
#         twice: siblings without --peer, then with --peer
#         to the two others. Bytes the upstream sent (TCP bytes_acked of
#         every connection on its port, sampled by ss) with peers vs
#         without.
#
# Environment: SEEKS, REC_SECONDS (3600; --quick 600), STREAMS, VIEWERS_PER,
# STEADY (20; --quick 10), ROUNDS (1: fan-out pairs, alternated),
# PEER_SECONDS (600; --quick 120), RESULTS;
# PERF=1: perf profile of the relay in each fan-out point (perf-MODE.txt).
# Results: $RESULTS/store.jsonl and store.txt.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

report () { # JSONL MACHINE_LINE
python3 - "$1" "$2" <<'EOF'

import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("recordings: %s" % sys.argv[2])
for r in rows:
    if r["case"] == "seek":
        s = r["seek"]; l = s["latency_ms"]; m = r["rss"]
        print()
        print("seek: %.0f s recording (uploaded in %.1f s, %.1f MB stored; the viewer "
              "watching it from the start meanwhile decoded %s of its %d frames); %d seeks "
              "(%d failed), KEY_UNIT, flushing, seek -> first decoded frame:"
              % (r["rec_seconds"], r["upload_s"], r["store_bytes"] / 1e6,
                 r.get("watched_frames", "?"), r["rec_seconds"] * 30, s["seeks"], s["failed"]))
        print("| p50 ms | p90 ms | p99 ms | max ms | mean ms | landing error p50 ms |")
        print("|---|---|---|---|---|---|")
        print("| %.1f | %.1f | %.1f | %.1f | %.1f | %s |" % (l["p50"], l["p90"], l["p99"],
              l["max"], l["mean"], s["landing_error_ms"]["p50"]))
        if m:
            print()
            print("relay RSS while the recording was written and watched (%d samples, 1/s): "
                  "min %.1f MiB, max %.1f MiB, at 10 %% %.1f MiB, at the end %.1f MiB"
                  % (m["samples"], m["min_kib"] / 1024, m["max_kib"] / 1024,
                     m["at_10pct_kib"] / 1024, m["at_end_kib"] / 1024))
fan = [r for r in rows if r["case"] == "fanout"]
if fan:
    print()
    print("fan-out while recording: CPU s = relay utime+stime over the window, Gbit delivered to the viewers")
    print("| round | mode | streams | viewers | full rate | CPU s | Gbit | CPU s/Gbit | store writes MB/s | RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    per = {}
    for r in fan:
        d = r["load"]; s = d["server"]; g = d["delivered_gbit"]
        v = s["cpu_s"] / g if g > 0 else float("nan")
        per.setdefault(r.get("round", 1), {})[r["mode"]] = v
        print("| %d | %s | %d | %d | %s/%d | %.2f | %.3f | %.3f | %.1f | %.1f |" % (
            r.get("round", 1), r["mode"], r["streams"], r["viewers"], d["full_rate"],
            d["connected"], s["cpu_s"], g, v, r["store_write_Bps"] / 1e6,
            s["rss_steady_kb"] / 1024))
    ratios = [p["store"] / p["nostore"] for p in per.values() if "store" in p and "nostore" in p]
    if ratios:
        ratios.sort()
        print()
        print("CPU per Gbit, --store / without, per round: %s; median %.2f (target <= 1.10)"
              % (" ".join("%.2f" % x for x in ratios), ratios[len(ratios) // 2]))
pe = {r["mode"]: r for r in rows if r["case"] == "peers"}
if pe:
    print()
    print("peers: 3 siblings under one upstream, one viewer of the recording at each in turn")
    print("| siblings | recording bytes | upstream sent | x recording | siblings' fetched from upstream / from peers | frames decoded by the 3 viewers (of N) | viewer times s |")
    print("|---|---|---|---|---|---|---|")
    for mode in ("nopeers", "peers"):
        if mode in pe:
            r = pe[mode]
            f = r.get("siblings_fetch", {})
            print("| %s | %d | %d | %.2f | %s / %s | %s (of %s) | %s |" % ("without --peer" if mode == "nopeers" else "with --peer",
                  r["film_bytes"], r["upstream_bytes"], r["upstream_bytes"] / r["film_bytes"],
                  f.get("fetched_from_upstream", "?"), f.get("fetched_from_peers", "?"),
                  " ".join(str(x) for x in r.get("frames", [])), r.get("rec_frames", "?"),
                  " ".join("%.1f" % t for t in r["watch_s"])))
    if "peers" in pe and "nopeers" in pe and pe["nopeers"]["upstream_bytes"] > 0:
        a, b = pe["nopeers"]["upstream_bytes"], pe["peers"]["upstream_bytes"]
        print()
        print("upstream bytes saved by peers: %d (%.0f %%)" % (a - b, 100.0 * (a - b) / a))
EOF
}

# --report DIR: the tables again from DIR/store.jsonl (no run)
if [ "${1:-}" = "--report" ]; then
  [ -f "${2:-}/store.jsonl" ] || die "--report DIR: no DIR/store.jsonl"
  report "$2/store.jsonl" "(machine: see the run's log)"
  exit 0
fi
quick=""
if [ "${1:-}" = "--quick" ]; then quick=yes; shift; fi
SEEKS=${SEEKS:-${quick:+30}}; SEEKS=${SEEKS:-100}
REC_SECONDS=${REC_SECONDS:-${quick:+600}}; REC_SECONDS=${REC_SECONDS:-3600}
STREAMS=${STREAMS:-${quick:+20}}; STREAMS=${STREAMS:-100}
VIEWERS_PER=${VIEWERS_PER:-2}
ROUNDS=${ROUNDS:-1}
STEADY=${STEADY:-${quick:+10}}; STEADY=${STEADY:-20}
PEER_SECONDS=${PEER_SECONDS:-${quick:+120}}; PEER_SECONDS=${PEER_SECONDS:-600}
CASES=${*:-seek fanout peers}
RESULTS=${RESULTS:-$cache/results/store-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/store.jsonl
: > "$out"

need_build
[ -x "$seek_bin" ] || die "build first: ninja -C $build (bench/diode-seek)"
# the watcher of the seek case: tests/faults/fault-peer (decodes, counts)
peer_bin=$build/tests/faults/fault-peer
[ -x "$peer_bin" ] || die "build first: ninja -C $build (tests/faults/fault-peer)"
cp "$peer_bin" "$bench_tmp/bin/"; peer_bin=$bench_tmp/bin/fault-peer
"$relay_bin" --help | grep -q -- '--store' || \
  die "$relay_bin has no --store: build a relay with recordings (issue 10)"
gst-inspect-1.0 diodesink | grep -q ' record ' || \
  die "diodesink has no 'record' property (issue 10)"
log "machine: $(machine_line)"
printf '[relays]\nchildren=*\n' > "$bench_tmp/relays.conf"

# upload NAME STREAM SECONDS WIDTH HEIGHT KBPS: a non-live x264 stream of
# SECONDS at 30 fps, uploaded with record=true to $RELAY_PORT; waits for it
# (diodesink posts EOS once the relay confirmed the whole recording stored).
# Sets UPLOAD_S (wall seconds).
upload () {
  _t0=$(date +%s.%N)
  timeout $(($3 + 600)) gst-launch-1.0 -q videotestsrc num-buffers=$(($3 * 30)) \
    pattern=ball ! "video/x-raw,width=$4,height=$5,framerate=30/1" ! \
    x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
    bitrate="$6" ! h264parse ! diodesink relay=127.0.0.1:"$RELAY_PORT" \
    relay-id="$RELAY_ADDR" stream="$2" record=true \
    > "$bench_tmp/$1.out" 2> "$bench_tmp/$1.err" || \
    { cat "$bench_tmp/$1.err" >&2; die "upload of $2 failed"; }
  UPLOAD_S=$(echo "$_t0 $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
}

# rss_sampler PID FILE: "seconds rss_kib" every second, until stopped.
rss_sampler () {
  bench_spawn 7200 "$bench_tmp/rss-$1" sh -c 'p=$1; f=$2; t0=$(date +%s)
    while kill -0 "$p" 2>/dev/null; do
      echo "$(( $(date +%s) - t0 )) $(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p" /proc/$p/status)" >> "$f"
      sleep 1
    done' rss "$1" "$2"
  RSS_TPID=$SPAWN_TPID
}

# ------------------------------------------------------------------ seek

case_seek () {
  max=$((REC_SECONDS + 1200))
  wait_quiet
  start_relay rec "$max" --store "$bench_tmp/store-rec" \
    --stats-interval 1 --stats-file "$bench_tmp/rec.json"
  : > "$bench_tmp/rss.txt"
  rss_sampler "$RELAY_PID" "$bench_tmp/rss.txt"
  # the viewer joins once the upload has begun, and watches from the start
  # while the rest is written
  ( sleep 3
    exec timeout "$max" "$peer_bin" view --relay 127.0.0.1:"$RELAY_PORT" \
      --relay-id "$RELAY_ADDR" --stream rec1h --set start=earliest \
      --set timeout=30000 --no-stdin --tick-ms 1000 \
    ) > "$bench_tmp/watch.out" 2> "$bench_tmp/watch.err" &
  watch_pid=$!
  bench_pids="$bench_pids $watch_pid"
  log "seek: uploading a ${REC_SECONDS} s recording (160x120, 30 fps, 256 kbit/s)"
  upload up rec1h "$REC_SECONDS" 160 120 256
  rss_during=$(wc -l < "$bench_tmp/rss.txt")
  log "seek: uploaded in ${UPLOAD_S} s; the watcher goes on for 5 s"
  sleep 5
  kill "$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  # frames the watcher decoded (fault-peer's last "tick frames=N")
  watched=$(sed -n 's/^tick frames=\([0-9]*\).*/\1/p' "$bench_tmp/watch.out" | tail -n1)
  watched=${watched:-0}
  check_alive "$RELAY_PID" rec
  json=$(timeout 900 "$seek_bin" --relay 127.0.0.1:"$RELAY_PORT" \
    --relay-id "$RELAY_ADDR" --stream rec1h --seeks "$SEEKS" \
    2> "$bench_tmp/seek.err") || { cat "$bench_tmp/seek.err" >&2; die "diode-seek failed"; }
  bench_stop "$RSS_TPID"
  store_bytes=$(du -sb "$bench_tmp/store-rec" | cut -f1)
  cp "$bench_tmp/rec.err" "$RESULTS/relay-seek.log"
  cp "$bench_tmp/watch.err" "$RESULTS/watcher-seek.log"
  cp "$bench_tmp/seek.err" "$RESULTS/diode-seek.log"
  cp "$bench_tmp/rss.txt" "$RESULTS/rss-seek.txt"
  bench_stop "$RELAY_TPID"
  rss=$(awk -v n="$rss_during" 'NR <= n && $2 != "" { a[++k] = $2 }
    END { if (!k) { print "{}"; exit }
      lo = a[1]; hi = a[1]; for (i = 1; i <= k; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
      q = int(k / 10); if (q < 1) q = 1
      printf "{\"samples\":%d,\"min_kib\":%d,\"max_kib\":%d,\"at_10pct_kib\":%d,\"at_end_kib\":%d}", k, lo, hi, a[q], a[k] }' "$bench_tmp/rss.txt")
  echo "{\"case\":\"seek\",\"rec_seconds\":$REC_SECONDS,\"upload_s\":$UPLOAD_S,\"watched_frames\":$watched,\"store_bytes\":$store_bytes,\"rss\":$rss,\"seek\":$json}" >> "$out"
  log "seek: $json"
  log "seek: relay RSS while written and watched: $rss"
}

# ------------------------------------------------------------------ fanout

fanout_point () { # MODE (nostore|store)
  _mode=$1
  _nv=$((STREAMS * VIEWERS_PER))
  max=$((STEADY + 180))
  _store=""
  [ "$_mode" = store ] && _store="--store $bench_tmp/store-fan --store-bytes 8589934592"
  rm -rf "$bench_tmp/store-fan"
  wait_quiet
  # shellcheck disable=SC2086
  start_relay "fan-$_mode" "$max" --max-streams 1000 \
    --max-streams-per-address 0 $_store
  bench_spawn "$max" "$bench_tmp/pubs-$_mode" "$latency_bin" \
    --port "$RELAY_PORT" --relay-id "$RELAY_ADDR" --publishers "$STREAMS" \
    --stream rec --record --size 16667 --fps 30 --gop 30 --viewer-delay 1 \
    --warmup 1 --duration $((STEADY + 120)) -q
  PUBS_TPID=$SPAWN_TPID; PUBS_PID=$SPAWN_PID
  sleep 4
  check_alive "$PUBS_PID" "pubs-$_mode"
  _b0=$(du -sb "$bench_tmp/store-fan" 2>/dev/null | cut -f1 || echo 0)
  _t0=$(date +%s.%N)
  if [ -n "${PERF:-}" ]; then
    # PERF=1: where the relay's time goes, 10 s of the steady window
    ( sleep $((_nv / 250 + 5))
      perf record -q -e cpu-clock -g -p "$RELAY_PID" -o "$RESULTS/perf-$_mode.data" \
        -- sleep 10 > /dev/null 2>&1
      perf report -i "$RESULTS/perf-$_mode.data" --stdio --no-children \
        --sort dso,sym 2> /dev/null | grep -v '^$' | head -80 > "$RESULTS/perf-$_mode.txt"
    ) &
    _perf_pid=$!
  fi
  json=$(timeout "$max" "$load_bin" --tls --port "$RELAY_PORT" \
    --relay-id "$RELAY_ADDR" --stream rec --streams "$STREAMS" -n "$_nv" \
    --ramp 250 --warmup 3 --duration "$STEADY" --pre 0 \
    --expect-bps 4000000 --server-pid "$RELAY_PID" -q \
    2> "$bench_tmp/load.err") || true
  _t1=$(date +%s.%N)
  [ -n "${PERF:-}" ] && wait "$_perf_pid" 2>/dev/null || true
  _b1=$(du -sb "$bench_tmp/store-fan" 2>/dev/null | cut -f1 || echo 0)
  check_alive "$RELAY_PID" "fan-$_mode"
  check_alive "$PUBS_PID" "pubs-$_mode"
  bench_stop "$PUBS_TPID"; bench_stop "$RELAY_TPID"
  cp "$bench_tmp/fan-$_mode.err" "$RESULTS/relay-fanout-$_mode.log"
  [ -n "$json" ] || { cat "$bench_tmp/load.err" >&2; die "diode-load failed"; }
  _wps=$(echo "${_b0:-0} ${_b1:-0} $_t0 $_t1" | awk '{printf "%.0f", ($2 - $1) / ($4 - $3)}')
  echo "{\"case\":\"fanout\",\"round\":${ROUND:-1},\"mode\":\"$_mode\",\"streams\":$STREAMS,\"viewers\":$_nv,\"store_write_Bps\":$_wps,\"load\":$json}" >> "$out"
  log "fanout $_mode: store wrote $_wps B/s; $(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["server"]; print("full rate %s/%d, cpu %.2f s for %.3f Gbit" % (d["full_rate"], d["connected"], s["cpu_s"], d["delivered_gbit"]))')"
  rm -rf "$bench_tmp/store-fan"
}

case_fanout () {
  _r=1
  while [ "$_r" -le "$ROUNDS" ]; do
    ROUND=$_r
    fanout_point nostore
    fanout_point store
    _r=$((_r + 1))
  done
}

# ------------------------------------------------------------------ peers

# node NAME [options]: relay NAME with its own key and a fixed port (kept
# across restarts: siblings pin each other).
node () {
  _name=$1; shift
  eval "_port=\${${_name}_port:-0}"
  RELAY_KEY=$bench_tmp/$_name.pem RELAY_LISTEN=127.0.0.1:$_port \
    start_relay "$_name" "$max" --stats-interval 1 \
    --stats-file "$bench_tmp/$_name.json" --config "$bench_tmp/relays.conf" \
    --known-relays "$bench_tmp/$_name.known" "$@"
  eval "${_name}_port=$RELAY_PORT ${_name}_addr=$RELAY_ADDR" \
    "${_name}_pid=$RELAY_PID ${_name}_tpid=$RELAY_TPID"
}
pin () { eval "echo \${${1}_addr}@127.0.0.1:\${${1}_port}"; }

# ss_bytes PORT FILE: the bytes every TCP connection on local port PORT
# delivered (bytes_acked, the largest seen per connection), summed, written
# to FILE every 0.5 s until stopped.
ss_bytes () {
  bench_spawn 7200 "$bench_tmp/ss-$1" python3 -c '
import re, subprocess, sys, time
port, path = sys.argv[1], sys.argv[2]
seen = {}
while True:
    out = subprocess.run(["ss", "-tinH", "sport = :%s" % port],
                         capture_output=True, text=True).stdout
    key = None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            f = line.split()
            key = tuple(f[-2:]) if len(f) >= 2 else None
            continue
        m = re.search(r"bytes_acked:(\d+)", line)
        if key and m:
            seen[key] = max(seen.get(key, 0), int(m.group(1)))
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % sum(seen.values()))
    import os; os.replace(path + ".tmp", path)
    time.sleep(0.5)
' "$1" "$2"
  SS_TPID=$SPAWN_TPID
}

# watch_to_end SIBLING: one viewer of the recording from its start to EOS.
watch_to_end () {
  eval "_p=\$${1}_port _a=\$${1}_addr"
  _t0=$(date +%s.%N)
  timeout 600 "$peer_bin" view --relay 127.0.0.1:"$_p" --relay-id "$_a" \
    --stream film --set start=earliest --set timeout=30000 --no-stdin \
    --exit-on-eos --tick-ms 1000 \
    > "$bench_tmp/w-$1.out" 2> "$bench_tmp/w-$1.err" || \
    { cat "$bench_tmp/w-$1.err" >&2; log "peers: the viewer at $1 failed"; }
  WATCH_S=$(echo "$_t0 $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
  WATCH_F=$(sed -n 's/^tick frames=\([0-9]*\).*/\1/p' "$bench_tmp/w-$1.out" | tail -n1)
}

peers_round () { # MODE (nopeers|peers)
  _mode=$1
  for s in sa sb sc; do
    _opts="--upstream $(pin up)"
    if [ "$_mode" = peers ]; then
      for o in sa sb sc; do
        [ "$o" = "$s" ] || _opts="$_opts --peer $(pin "$o")"
      done
    fi
    # shellcheck disable=SC2086
    node "$s" $_opts
  done
  sleep 2
  ss_bytes "$up_port" "$bench_tmp/ss-$_mode.txt"
  sleep 1
  _u0=$(cat "$bench_tmp/ss-$_mode.txt" 2>/dev/null || echo 0)
  _times=""; _frames=""
  for s in sa sb sc; do
    watch_to_end "$s"
    _times="$_times $WATCH_S"; _frames="$_frames ${WATCH_F:-0}"
  done
  sleep 2
  _u1=$(cat "$bench_tmp/ss-$_mode.txt")
  bench_stop "$SS_TPID"
  # the siblings' own count (docs/stats.md "fetch"), summed
  _fetch=$(python3 - "$bench_tmp/sa.json" "$bench_tmp/sb.json" "$bench_tmp/sc.json" <<'PY'
import json, sys
tot = {"fetched_from_peers": 0, "fetched_from_upstream": 0, "cache_hits": 0, "damaged": 0}
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k in tot and isinstance(v, (int, float)):
                tot[k] += v
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
for f in sys.argv[1:]:
    try:
        walk(json.load(open(f)))
    except Exception:
        pass
print(json.dumps(tot))
PY
)
  for s in sa sb sc; do
    cp "$bench_tmp/$s.json" "$RESULTS/peers-$_mode-$s.json" 2>/dev/null || true
    cp "$bench_tmp/$s.err" "$RESULTS/peers-$_mode-$s.log"
    eval "bench_stop \$${s}_tpid"
  done
  _up=$((_u1 - _u0))
  echo "{\"case\":\"peers\",\"mode\":\"$_mode\",\"film_bytes\":$film_bytes,\"upstream_bytes\":$_up,\"siblings_fetch\":$_fetch,\"watch_s\":[$(echo $_times | tr ' ' ',')],\"frames\":[$(echo $_frames | tr ' ' ',')],\"rec_frames\":$((PEER_SECONDS * 30))}" >> "$out"
  log "peers $_mode: the upstream sent $_up bytes for 3 viewers of a $film_bytes-byte recording (watch times:$_times s, frames decoded:$_frames)"
}

case_peers () {
  max=$((PEER_SECONDS + 1800))
  wait_quiet
  # keys and ports first: siblings pin each other
  for s in sa sb sc; do
    node "$s"
    eval "bench_stop \$${s}_tpid"
  done
  node up --store "$bench_tmp/store-up"
  log "peers: uploading a ${PEER_SECONDS} s recording (320x240, 30 fps, 1000 kbit/s) to the upstream"
  upload upfilm film "$PEER_SECONDS" 320 240 1000
  film_bytes=$(du -sb "$bench_tmp/store-up" | cut -f1)
  log "peers: uploaded in ${UPLOAD_S} s, $film_bytes bytes in the upstream's store"
  peers_round nopeers
  peers_round peers
  cp "$bench_tmp/up.err" "$RESULTS/peers-upstream.log"
  bench_stop "$up_tpid"
}

for c in $CASES; do
  case $c in
    seek) case_seek ;;
    fanout) case_fanout ;;
    peers) case_peers ;;
    *) die "unknown case $c (seek fanout peers)" ;;
  esac
done

report "$out" "$(machine_line)" | tee "$RESULTS/store.txt"
log "results in $RESULTS"
