#!/bin/sh
# gst-diode — every benchmark of issue 3, one command.
#
#   bench/run-all.sh [--quick] [--no-profile]
#
# Builds nothing: run `ninja -C build` first. Makes the clip if missing
# (bench/make-clip.sh), then runs, each against its anchor in the same run:
#   bench/fanout.sh          (--quick: N = 10 100)
#   bench/join.sh
#   bench/hop-latency.sh
#   bench/publisher-cost.sh
#   bench/tree.sh            a tree of relays (issue 9): root egress, latency
#                            per level, fail-over gap, 1 + 4 + 16 relays
#   bench/store.sh           recordings (issue 10): seek latency in a 1-hour
#                            recording, relay RSS while it is written, fan-out
#                            CPU with vs without --store, bytes peers save
#   bench/web.sh             the web side (issue 11): WebSocket vs TLS viewers,
#                            the fan-out with and without --http, joins in
#                            Chromium (--quick: N = 100, 5 joins)
#   bench/profile-relay.sh   relay, then tcpserversink (--anchor), under perf
#                            with 1000 viewers (--quick: 100; --no-profile: skip)
# All results land in one folder, bench/.cache/results/all-<time>/, with
# summary.txt holding every table. Full run: about 35 minutes on a quiet
# 2-core machine (plus any time spent waiting for other processes to calm
# down, see QUIET_MAX/QUIET_WAIT in lib.sh); --quick: about 16 minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
quick=""
profile=yes
for a in "$@"; do
  case $a in
    --quick) quick=--quick ;;
    --no-profile) profile=no ;;
    *) echo "usage: $0 [--quick] [--no-profile]" >&2; exit 2 ;;
  esac
done
RESULTS=${RESULTS:-$here/.cache/results/all-$(date +%Y%m%d-%H%M%S)}
export RESULTS
mkdir -p "$RESULTS"
"$here/make-clip.sh"

start=$(date +%s)
"$here/fanout.sh" $quick
"$here/join.sh" $quick
"$here/hop-latency.sh" $quick
"$here/publisher-cost.sh" $quick
"$here/tree.sh" $quick
"$here/store.sh" $quick
"$here/web.sh" $quick
if [ $profile = yes ]; then
  pn=1000; [ -n "$quick" ] && pn=100
  "$here/profile-relay.sh" $pn
  "$here/profile-relay.sh" --anchor $pn
fi
{
  for f in fanout join hop pubcost tree store web profile profile-anchor; do
    [ -f "$RESULTS/$f.txt" ] && { cat "$RESULTS/$f.txt"; echo; }
  done
  echo "total time: $(( $(date +%s) - start )) s"
} > "$RESULTS/summary.txt"
cat "$RESULTS/summary.txt"
echo "run-all: results in $RESULTS" >&2
