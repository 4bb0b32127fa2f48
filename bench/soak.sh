#!/bin/sh
# gst-diode — soak: one relay, one live publisher, 200 viewers joining and
# leaving at random for MINUTES minutes; is the relay's memory and its file
# descriptor count flat? (issue 5, item 6; not part of CI)
#
#   bench/soak.sh [MINUTES]            default 10
#
# 1. diode-relay on 127.0.0.1 (free port, -q, stats every 10 s into a JSON
#    file) and a diodesink publisher: videotestsrc is-live=true, 320x240 at
#    30 fps, x264enc tune=zerolatency key-int-max=30 (a keyframe a second).
# 2. bench/diode-churn: VIEWERS (200) viewer slots in one process, each one
#    connecting, watching for 0.5-20 s, leaving (close_notify, RST, before
#    SUBSCRIBE_OK, or stalling until the relay's keepalive cuts it off) and
#    coming back 0-2 s later, for the whole run. Viewers PING every 400 ms.
# 3. Every 10 s: the relay's VmRSS (/proc/PID/status) and open fds
#    (ls /proc/PID/fd | wc -l), with the churn's progress.
# 4. The churn stops; 10 s later the relay's fds must be back to what they
#    were with the publisher alone (baseline, before any viewer).
#
# Verdict, after a warm-up of WARMUP seconds (default: 10 % of the run,
# 20 to 60 s): RSS and fds are "flat" when the mean of the last quarter of
# the samples is within 10 % (TOLERANCE) of the mean of the first quarter;
# fds must also return to the baseline. Exit status 0 only if all three hold
# and the churn saw no unexpected failure.
#
# Environment: VIEWERS (200), INTERVAL (10 s), WARMUP, TOLERANCE (10),
# RESULTS (output dir; default bench/.cache/results/soak-DATE).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

minutes=${1:-10}
case $minutes in ''|*[!0-9]*) die "MINUTES must be a whole number: $minutes";; esac
[ "$minutes" -ge 1 ] && [ "$minutes" -le 1440 ] || die "MINUTES must be 1..1440"
VIEWERS=${VIEWERS:-200}
INTERVAL=${INTERVAL:-10}
TOLERANCE=${TOLERANCE:-10}
duration=$((minutes * 60))
if [ -z "${WARMUP:-}" ]; then
  WARMUP=$((duration / 10))
  [ "$WARMUP" -lt 20 ] && WARMUP=20
  [ "$WARMUP" -gt 60 ] && WARMUP=60
fi
RESULTS=${RESULTS:-$cache/results/soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
table=$RESULTS/soak.tsv
summary=$RESULTS/soak.txt

need_build
churn_bin=$build/bench/diode-churn
[ -x "$churn_bin" ] || die "build first: ninja -C $build (bench/diode-churn)"
cp "$churn_bin" "$bench_tmp/bin/"
churn_bin=$bench_tmp/bin/diode-churn

max=$((duration + 180))
log "machine: $(machine_line)"
log "soak: $minutes min, $VIEWERS viewers churning, samples every ${INTERVAL}s, warm-up ${WARMUP}s; results in $RESULTS"

start_relay relay "$max" --stats-interval 10 --stats-file "$bench_tmp/stats.json"
log "relay pid $RELAY_PID on 127.0.0.1:$RELAY_PORT ($RELAY_ADDR)"
bench_spawn "$max" "$bench_tmp/pub" gst-launch-1.0 -q videotestsrc \
  is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! \
  x264enc tune=zerolatency key-int-max=30 speed-preset=ultrafast ! h264parse ! \
  diodesink relay=127.0.0.1:"$RELAY_PORT" relay-id="$RELAY_ADDR" stream=soak
PUB_TPID=$SPAWN_TPID

rss () { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$RELAY_PID/status"; }
fds () { ls "/proc/$RELAY_PID/fd" | wc -l; }

# Let the publisher connect and the relay's ring fill a little.
sleep 5
check_alive "$RELAY_PID" relay
kill -0 "$PUB_TPID" 2>/dev/null || { cat "$bench_tmp/pub.err" >&2; die "publisher died"; }
base_fds=$(fds)
base_rss=$(rss)
log "baseline (publisher only): RSS $base_rss kB, $base_fds fds"

bench_spawn $((duration + 60)) "$bench_tmp/churn" "$churn_bin" --port "$RELAY_PORT" \
  --relay-id "$RELAY_ADDR" --stream soak -n "$VIEWERS" --duration "$duration" \
  --report "$INTERVAL" --identity "$bench_tmp/viewer.pem"
CHURN_TPID=$SPAWN_TPID

printf 't_s\trss_kB\tfds\tviewers\tchurn\n' > "$table"
printf '%6s %10s %6s %8s  %s\n' t_s rss_kB fds viewers "churn (last progress line)" >&2
t=0
start=$(date +%s)
while kill -0 "$CHURN_TPID" 2>/dev/null; do
  next=$((start + t + INTERVAL))
  now=$(date +%s)
  [ "$next" -gt "$now" ] && sleep $((next - now))
  kill -0 "$CHURN_TPID" 2>/dev/null || break    # only samples under churn
  t=$((t + INTERVAL))
  check_alive "$RELAY_PID" relay
  r=$(rss); f=$(fds)
  v=$(python3 -c 'import json,sys
try:
  d=json.load(open(sys.argv[1])); print(sum(len(s.get("viewers",[])) for s in d.get("streams",[])))
except Exception: print("?")' "$bench_tmp/stats.json" 2>/dev/null || echo '?')
  c=$(grep '^diode-churn: t=' "$bench_tmp/churn.err" | tail -n1 | sed 's/^diode-churn: //')
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$f" "$v" "$c" >> "$table"
  printf '%6s %10s %6s %8s  %s\n' "$t" "$r" "$f" "$v" "$c" >&2
  [ "$t" -gt $((duration + 60)) ] && break
done
wait "$CHURN_TPID" && churn_rc=0 || churn_rc=$?
churn_json=$(cat "$bench_tmp/churn.out")
sleep 10
check_alive "$RELAY_PID" relay
end_fds=$(fds)
end_rss=$(rss)
cp "$bench_tmp/stats.json" "$RESULTS/relay-stats.json" 2>/dev/null || true
cp "$bench_tmp/relay.err" "$RESULTS/relay.log" 2>/dev/null || true

python3 - "$table" "$WARMUP" "$TOLERANCE" "$base_fds" "$end_fds" "$base_rss" \
    "$end_rss" "$churn_rc" "$churn_json" > "$summary" <<'EOF' || verdict_rc=$?
import json, sys
table, warmup, tol, base_fds, end_fds, base_rss, end_rss, churn_rc, churn = sys.argv[1:]
warmup, tol = int(warmup), float(tol)
rows = [l.rstrip("\n").split("\t") for l in open(table)][1:]
rows = [(int(r[0]), int(r[1]), int(r[2])) for r in rows if r[1] and r[2]]
post = [r for r in rows if r[0] > warmup]
ok = True
print("samples: %d (every row), %d after the %d s warm-up" % (len(rows), len(post), warmup))
if len(post) < 4:
    print("VERDICT: too few samples after the warm-up"); sys.exit(1)
q = max(1, len(post) // 4)
for name, col in (("RSS (kB)", 1), ("fds", 2)):
    vals = [r[col] for r in post]
    first = sum(vals[:q]) / q
    last = sum(vals[-q:]) / q
    drift = (last - first) / first * 100 if first else 0.0
    flat = abs(drift) <= tol
    ok &= flat
    print("%-8s first quarter mean %.0f, last quarter mean %.0f, drift %+.1f %% "
          "(min %d, max %d over the run after warm-up): %s"
          % (name, first, last, drift, min(vals), max(vals),
             "flat" if flat else "NOT FLAT (limit %g %%)" % tol))
back = int(end_fds) == int(base_fds)
ok &= back
print("fds with the publisher alone: %s before the viewers, %s 10 s after the "
      "last one left: %s" % (base_fds, end_fds, "back to baseline" if back else "LEAKED"))
print("RSS with the publisher alone: %s kB before, %s kB after" % (base_rss, end_rss))
try:
    c = json.loads(churn)
    print("churn: %d sessions, %d subscribed, %d reached a keyframe, %d media frames; "
          "left: %s; stalled viewers closed by the relay %d, not closed %d; "
          "unexpected %d %s" % (c["sessions"], c["subscribed"], c["with_keyframe"],
          c["media"], c["left"], c["stalled_closed_by_relay"], c["stalled_not_closed"],
          c["unexpected"], c["unexpected_reasons"] or ""))
    if c["unexpected"]:
        ok = False
except Exception as e:
    print("churn: no summary (%s), exit status %s" % (e, churn_rc)); ok = False
if churn_rc != "0":
    ok = False
print("VERDICT: %s" % ("flat (RSS and fds), fds back to baseline, no unexpected failure"
                       if ok else "FAILED"))
sys.exit(0 if ok else 1)
EOF
verdict_rc=${verdict_rc:-0}
echo >&2
cat "$summary" >&2
log "table: $table; summary: $summary"
bench_stop "$PUB_TPID"
bench_stop "$RELAY_TPID"
exit "$verdict_rc"
