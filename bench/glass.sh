#!/bin/sh
# gst-diode — glass-to-glass latency (issue 13): camera capture to the
# picture rendered by a sync=true sink, for diode and its anchors, same
# pipeline, same content, one run; and joins at the live edge.
#
#   bench/glass.sh [--quick] [diode srt tcp diode2]        glass to glass
#   bench/glass.sh [--quick] --joins [live keyframe live2 tcp srt]
#
# Both ends are bench/glass.c (diode-glass), one process each:
#   publisher  videotestsrc is-live=true pattern=smpte horizontal-speed=4
#              ! I420 1280x720 30/1 ! stamp ! x264enc tune=zerolatency
#              bitrate=4000 key-int-max=60 speed-preset=veryfast
#              option-string=scenecut=0 (a real 2 s GOP) ! h264parse
#              config-interval=-1 ! SINK
#              (the stamp writes the frame index into the picture as blocks
#              and records the capture time, base time + PTS on the
#              pipeline's clock, CLOCK_MONOTONIC; and its own time)
#   viewer     SRC ! h264parse ! avdec_h264 ! fakesink sync=true
#              (the handoff, at rendering, reads the index back: a sample
#              is render time - capture time)
# Glass cases (each DURATION s measured after WARMUP s of viewing):
#   diode   diodesink -> diode-relay -> diodesrc, every property at its
#           default (relay, relay-id and stream excepted), the relay as
#           bench/lib.sh starts it (defaults; per-address caps lifted)
#   srt     srtsink uri=srt://127.0.0.1:P?mode=listener -> srtsrc
#           uri=srt://127.0.0.1:P, defaults (latency 125 ms both ends)
#   tcp     tcpserversink host=127.0.0.1 -> tcpclientsrc do-timestamp=true
#           (tcpclientsrc is not live: the buffers get the running time at
#           which they are read; the sink renders them at once)
#   diode2  diode through 2 relays: relay B --upstream 0xA@127.0.0.1:PA
#           (pinned, as bench/tree.sh), publisher at A, viewer at B
# Joins (--joins): a relay and a publisher as in `diode`, then one viewer
# process with a long-standing viewer plus JOINS joiners (each its own
# pipeline: joiner k joins at SETTLE + k * 4 s + a point of the 2 s GOP,
# uniformly spread, and watches 3 s). Per joiner: start -> first rendered
# picture, that picture's age (render - capture), and its delay 1 s after
# its first picture minus the long-standing viewer's delay for the same
# frame. Cases: live, keyframe (diodesrc join=VALUE where the element has
# the property), live2 (join=live, viewers at relay B of the 2-relay
# chain of the glass case diode2), tcp, srt. tcp keeps tcpserversink's default sync-method
# (latest: a joiner's first picture waits for the next keyframe): with
# latest-keyframe, the keyframe and what followed it arrive in one burst
# while the viewer prerolls, and 2 of 3 trial viewers rendered 3 pictures
# and then nothing (presumably: tcpclientsrc is not live, and do-timestamp
# has no clock yet while the viewer prerolls).
#
# Environment: DURATION (60 s; --quick 15), WARMUP (5 s), JOINS (20;
# --quick 8), SETTLE (6 s), RESULTS (output dir).
# Output: $RESULTS/glass.jsonl and glass.txt (or joins.jsonl, joins.txt),
# the raw lines of every process (CASE-pub.txt, CASE-view.txt) and the
# samples (CASE.samples: index capture_ns render_ns ms).
# DIODESRC_OPTS: more diodesrc properties (default none), to try others.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

DURATION=${DURATION:-60}
JOINS=${JOINS:-20}
mode=glass
while [ $# -gt 0 ]; do
  case $1 in
    --quick) DURATION=${DURATION_QUICK:-15}; JOINS=${JOINS_QUICK:-8} ;;
    --joins) mode=joins ;;
    *) break ;;
  esac
  shift
done
WARMUP=${WARMUP:-5}
SETTLE=${SETTLE:-6}
PERIOD=4
WATCH=3
GOP=2
if [ "$mode" = glass ]; then
  CASES=${*:-diode srt tcp diode2}
else
  CASES=${*:-live keyframe}
fi
RESULTS=${RESULTS:-$cache/results/$mode-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/$mode.jsonl
: > "$out"

need_build
glass_bin=$build/bench/diode-glass
[ -x "$glass_bin" ] || die "build first: ninja -C $build (no bench/diode-glass)"
cp "$glass_bin" "$bench_tmp/bin/"
glass_bin=$bench_tmp/bin/diode-glass
gst-inspect-1.0 x264enc > /dev/null && gst-inspect-1.0 avdec_h264 > /dev/null \
  && gst-inspect-1.0 srtsink > /dev/null || die "x264enc, avdec_h264 or srtsink missing"
log "machine: $(machine_line)"

if [ "$mode" = glass ]; then
  view_s=$((WARMUP + DURATION))
else
  view_s=$(awk -v s="$SETTLE" -v j="$JOINS" -v p="$PERIOD" -v g="$GOP" -v w="$WATCH" \
    'BEGIN{printf "%d", s + j * p + g + w + 2}')
fi
max=$((view_s + 60))

printf '[relays]\nchildren=*\n' > "$bench_tmp/tree.conf"

# relay_node NAME [options]: a relay with its own key, as bench/tree.sh;
# sets RELAY_PORT RELAY_ADDR RELAY_TPID.
relay_node () {
  _n=$1; shift
  RELAY_KEY=$bench_tmp/$_n.pem start_relay "$_n" "$max" \
    --config "$bench_tmp/tree.conf" --known-relays "$bench_tmp/$_n.known" "$@"
}

# publish CASE SINK: the stamping publisher; sets PUB_TPID
publish () {
  bench_spawn "$max" "$bench_tmp/$1-pub" "$glass_bin" pub "$2" \
    --duration $((view_s + 20))
}

# watch CASE SRC [diode-glass options]: the viewer in the foreground
watch () {
  _c=$1 _src=$2; shift 2
  if ! timeout -k 3 "$max" "$glass_bin" "$@" "$_src" --duration "$view_s" \
      > "$bench_tmp/$_c-view.out" 2> "$bench_tmp/$_c-view.err"; then
    tail -n 5 "$bench_tmp/$_c-view.err" >&2
    log "viewer of $_c failed"
  fi
}

# keep CASE: copy the raw lines of CASE into the results
keep () {
  cp "$bench_tmp/$1-pub.out" "$RESULTS/$1-pub.txt"
  cp "$bench_tmp/$1-view.out" "$RESULTS/$1-view.txt"
  cat "$bench_tmp/$1-pub.err" "$bench_tmp/$1-view.err" > "$RESULTS/$1.err" \
    2>/dev/null || true
  echo "{\"case\":\"$1\",\"pub\":\"$1-pub.txt\",\"view\":\"$1-view.txt\"}" >> "$out"
}

stop_all () {
  for p in $bench_pids; do bench_stop "$p"; done
}

# run_case CASE VIEWER_MODE [diode-glass options]
run_case () {
  _c=$1 _vm=$2; shift 2
  wait_quiet
  case $_c in
    diode|live|keyframe)
      relay_node relay
      publish "$_c" "diodesink relay=127.0.0.1:$RELAY_PORT relay-id=$RELAY_ADDR stream=glass"
      sleep 2
      watch "$_c" "diodesrc relay=127.0.0.1:$RELAY_PORT relay-id=$RELAY_ADDR stream=glass ${DIODESRC_OPTS:-}" \
        "$_vm" "$@" ;;
    diode2|live2)
      relay_node relayA
      pa=$RELAY_ADDR@127.0.0.1:$RELAY_PORT
      a_port=$RELAY_PORT a_addr=$RELAY_ADDR
      relay_node relayB --upstream "$pa"
      publish "$_c" "diodesink relay=127.0.0.1:$a_port relay-id=$a_addr stream=glass"
      sleep 3
      watch "$_c" "diodesrc relay=127.0.0.1:$RELAY_PORT relay-id=$RELAY_ADDR stream=glass ${DIODESRC_OPTS:-}" \
        "$_vm" "$@" ;;
    srt)
      p=$(free_port)
      publish "$_c" "srtsink uri=srt://127.0.0.1:$p?mode=listener"
      sleep 2
      watch "$_c" "srtsrc uri=srt://127.0.0.1:$p" "$_vm" "$@" ;;
    tcp)
      p=$(free_port)
      publish "$_c" "tcpserversink host=127.0.0.1 port=$p"
      sleep 2
      watch "$_c" "tcpclientsrc host=127.0.0.1 port=$p do-timestamp=true" "$_vm" "$@" ;;
    *) die "unknown case $_c" ;;
  esac
  stop_all
  keep "$_c"
  log "$_c done"
}

for c in $CASES; do
  if [ "$mode" = glass ]; then
    case $c in diode|srt|tcp|diode2) ;; *) die "unknown case $c (diode srt tcp diode2)";; esac
    run_case "$c" view
  else
    case $c in
      live|keyframe)
        run_case "$c" joins --join "$c" --joiners "$JOINS" --settle "$SETTLE" \
          --period "$PERIOD" --watch "$WATCH" --gop "$GOP" ;;
      live2)
        run_case "$c" joins --join live --joiners "$JOINS" --settle "$SETTLE" \
          --period "$PERIOD" --watch "$WATCH" --gop "$GOP" ;;
      tcp|srt)
        run_case "$c" joins --joiners "$JOINS" --settle "$SETTLE" \
          --period "$PERIOD" --watch "$WATCH" --gop "$GOP" ;;
      *) die "unknown joins case $c (live keyframe live2 tcp srt)" ;;
    esac
  fi
done

python3 - "$RESULTS" "$mode" "$WARMUP" "$(machine_line)" <<'EOF' | tee "$RESULTS/$mode.txt"
import json, math, os, sys
res, mode, warm, machine = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
rows = [json.loads(l) for l in open(os.path.join(res, mode + ".jsonl")) if l.strip()]

def pct(v, p):
    # nearest rank
    if not v:
        return None
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[k]

def load(case, probe=False):
    # capture: the frame's PTS on the pipeline clock (CLOCK_MONOTONIC), or
    # with probe=True (or no such time) the stamp probe's own time
    cap = {}
    for l in open(os.path.join(res, case + "-pub.txt")):
        f = l.split()
        if f and f[0] == "S":
            t = int(f[3]) if len(f) > 3 and not probe else -1
            cap[int(f[1])] = t if t >= 0 else int(f[2])
    rend, start, rej = {}, {}, {}
    for l in open(os.path.join(res, case + "-view.txt")):
        f = l.split()
        if not f:
            continue
        if f[0] == "R":
            rend.setdefault(int(f[1]), []).append((int(f[3]), int(f[2])))
        elif f[0] == "J":
            start[int(f[1])] = int(f[2])
        elif f[0] == "X":
            rej[int(f[1])] = rej.get(int(f[1]), 0) + 1
    return cap, rend, start, rej

f1 = lambda v: "-" if v is None else "%.1f" % v
print("%s: %s" % ("glass to glass" if mode == "glass" else "joins", machine))

if mode == "glass":
    print("capture (base time + PTS of videotestsrc's frame) -> render (handoff of "
          "fakesink sync=true after avdec_h264), ms; %d s warm-up dropped; last column: "
          "p50/max from the stamp probe's time instead" % warm)
    print("| case | frames | rendered | rejected | unknown | p50 | p99 | max "
          "| first picture's age | from probe p50/max |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    names = {"diode": "diode (1 relay, defaults)", "srt": "srt (defaults, latency 125)",
             "tcp": "tcp (tcpserversink -> tcpclientsrc)", "diode2": "diode (2 relays)"}
    summ = {}
    for r in rows:
        c = r["case"]
        cap, rend, start, rej = load(c)
        t0 = start.get(0, 0) + int(warm * 1e9)
        samples, unknown = [], 0
        with open(os.path.join(res, c + ".samples"), "w") as out:
            for t, idx in rend.get(0, []):
                if t < t0:
                    continue
                if idx not in cap:
                    unknown += 1
                    continue
                ms = (t - cap[idx]) / 1e6
                samples.append(ms)
                out.write("%d %d %d %.3f\n" % (idx, cap[idx], t, ms))
        # the age (render - capture) of the viewer's first picture: with a
        # source that keeps the delay it starts with, the join phase
        first = [(t - cap[i]) / 1e6 for t, i in rend.get(0, [])[:1] if i in cap]
        pcap = load(c, probe=True)[0]
        psam = [(t - pcap[i]) / 1e6 for t, i in rend.get(0, []) if t >= t0 and i in pcap]
        s = {"p50": pct(samples, 50), "p99": pct(samples, 99),
             "max": max(samples) if samples else None, "n": len(samples),
             "first_age": first[0] if first else None,
             "probe_p50": pct(psam, 50), "probe_max": max(psam) if psam else None}
        summ[c] = s
        print("| %s | %d | %d | %d | %d | %s | %s | %s | %s | %s / %s |" % (names.get(c, c),
              len([t for t, i in rend.get(0, []) if t >= t0]), len(samples), rej.get(0, 0),
              unknown, f1(s["p50"]), f1(s["p99"]), f1(s["max"]), f1(s["first_age"]),
              f1(s["probe_p50"]), f1(s["probe_max"])))
    with open(os.path.join(res, "summary.json"), "w") as o:
        json.dump(summ, o)
    print()
    print("ratios (lower is better)")
    print("| ratio | p50 | p99 | max |")
    print("|---|---|---|---|")
    for a in ("diode", "diode2"):
        for b in ("srt", "tcp"):
            if a in summ and b in summ and summ[a]["n"] and summ[b]["n"]:
                print("| %s / %s | %.2f | %.2f | %.2f |" % (a, b,
                      summ[a]["p50"] / summ[b]["p50"], summ[a]["p99"] / summ[b]["p99"],
                      summ[a]["max"] / summ[b]["max"]))
    if "diode" in summ and summ["diode"]["n"]:
        d = summ["diode"]
        ok = d["p99"] <= 250 and ("srt" not in summ or d["p99"] <= summ["srt"]["p99"])
        print("\ntarget (diode defaults: p99 at most srt's and at most 250 ms): %s"
              % ("holds" if ok else "MISSED"))
else:
    print("per joiner: start (set to PLAYING) -> first rendered picture, its age "
          "(render - capture), and 1 s later its delay minus the long-standing viewer's "
          "delay for the same frame; ms")
    print("| case | joiners | pictured | rejected | first picture p50 | max | age p50 | max "
          "| delta after 1 s p50 | max abs | within 100 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r["case"]
        cap, rend, start, rej = load(c)
        base = dict((i, t) for t, i in rend.get(0, []))
        ttf, age, delta, per = [], [], [], []
        for k in sorted(start):
            if k == 0:
                continue
            rs = [(t, i) for t, i in rend.get(k, []) if t >= start[k] and i in cap]
            rec = {"joiner": k, "start_ns": start[k]}
            if rs:
                t, i = rs[0]
                rec["first_ms"] = (t - start[k]) / 1e6
                rec["age_ms"] = (t - cap[i]) / 1e6
                ttf.append(rec["first_ms"]); age.append(rec["age_ms"])
                later = [(abs(t2 - t - 1e9), t2, i2) for t2, i2 in rs if i2 in base]
                if later:
                    _, t2, i2 = min(later)
                    rec["delta_ms"] = (t2 - base[i2]) / 1e6
                    rec["delay_ms"] = (t2 - cap[i2]) / 1e6
                    delta.append(rec["delta_ms"])
            per.append(rec)
        with open(os.path.join(res, c + ".joiners.json"), "w") as o:
            json.dump(per, o, indent=0)
        nj = len([k for k in start if k])
        within = len([d for d in delta if abs(d) <= 100])
        print("| %s | %d | %d | %d | %s | %s | %s | %s | %s | %s | %d/%d |" % (c, nj, len(ttf),
              sum(v for k, v in rej.items() if k), f1(pct(ttf, 50)),
              f1(max(ttf) if ttf else None), f1(pct(age, 50)), f1(max(age) if age else None),
              f1(pct(delta, 50)), f1(max(abs(d) for d in delta) if delta else None),
              within, nj))
EOF
log "results in $RESULTS"
