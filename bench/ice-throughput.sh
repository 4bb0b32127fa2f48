#!/bin/sh
# gst-diode — which reliable transport for direct paths: libnice's
# pseudo-TCP (over ICE-UDP) vs ICE-TCP, carrying a paced 4 Mbit/s stream
# (25 fps, 20 000-byte frames) for SECONDS, on loopback and across a link
# with delay and loss between two network namespaces.
#
#   bench/ice-throughput.sh [SECONDS]        (default 30; root for the link)
#
# The link: netem when the kernel has it, else bench/delay-link (a
# userspace forwarder between TUN devices, seeded loss). Prints one line
# per run, then a table with ratios (ICE-TCP / pseudo-TCP). "auto" is
# DIODE_ICE_AUTO (both kinds of candidates; ICE picks), the default.
# docs/decisions.md, "Direct paths: which reliable transport", has figures.
set -eu
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-30}
BUILD=${BUILD_DIR:-build}
DELAY_MS=${DELAY_MS:-20}          # each way: RTT 2 x DELAY_MS
LOSS_PCT=${LOSS_PCT:-1}
ninja -C "$BUILD" bench/ice-throughput bench/delay-link >/dev/null
tool=$BUILD/bench/ice-throughput
link=$BUILD/bench/delay-link

tag=$$
ns_pub=icepub$tag
ns_view=iceview$tag
link_pid=""
out=$(mktemp /tmp/ice-throughput.XXXXXX)

cleanup () {
  if [ -n "$link_pid" ]; then
    kill -TERM "$link_pid" 2>/dev/null || true
    wait "$link_pid" 2>/dev/null || true
    link_pid=""
  fi
  ip netns del "$ns_pub" 2>/dev/null || true
  ip netns del "$ns_view" 2>/dev/null || true
}
trap 'cleanup; rm -f "$out" "$out.fifo"' EXIT
trap 'exit 130' INT TERM

run () {  # NAME TRANSPORT [ice-throughput options]
  name=$1; t=$2; shift 2
  line=$(timeout $((SECONDS_RUN + 60)) "$tool" --transport "$t" \
    --seconds "$SECONDS_RUN" "$@" 2>&1 | tail -1) || true
  echo "$name $line"
  echo "$name $line" >> "$out"
}

echo "== CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "== loopback"
run loopback pseudotcp
run loopback tcp
run loopback auto

# ip in a namespace (not `ip -n`, which remounts /sys and fails in a chroot)
nsip () { _ns=$1; shift; nsenter --net=/run/netns/"$_ns" ip "$@"; }

setup_link () {  # DELAY LOSS
  cleanup
  ip netns add "$ns_pub"
  ip netns add "$ns_view"
  nsip "$ns_pub" link set lo up
  nsip "$ns_view" link set lo up
  if ip link add icetest$tag type veth peer name icetestp$tag 2>/dev/null \
     && ip link set icetest$tag netns "$ns_pub" \
     && ip link set icetestp$tag netns "$ns_view" \
     && nsenter --net=/run/netns/"$ns_pub" tc qdisc add dev icetest$tag root \
          netem delay "${1}ms" loss "${2}%" 2>/dev/null \
     && nsenter --net=/run/netns/"$ns_view" tc qdisc add dev icetestp$tag \
          root netem delay "${1}ms" loss "${2}%" 2>/dev/null; then
    nsip "$ns_pub" addr add 10.77.0.1/24 dev icetest$tag
    nsip "$ns_view" addr add 10.77.0.2/24 dev icetestp$tag
    nsip "$ns_pub" link set icetest$tag up
    nsip "$ns_view" link set icetestp$tag up
    echo "   (netem)"
    return
  fi
  # no netem: the userspace link
  ip netns del "$ns_pub"; ip netns del "$ns_view"
  ip netns add "$ns_pub"; ip netns add "$ns_view"
  nsip "$ns_pub" link set lo up
  nsip "$ns_view" link set lo up
  rm -f "$out.fifo"; mkfifo "$out.fifo"
  timeout $((SECONDS_RUN * 2 + 120)) "$link" --ns-a "$ns_pub" --ns-b "$ns_view" \
    --delay-ms "$1" --loss-pct "$2" --seed 1 \
    --seconds $((SECONDS_RUN * 2 + 100)) > "$out.fifo" &
  link_pid=$!
  read -r ready < "$out.fifo"
  [ "$ready" = ready ] || { echo "delay-link did not start" >&2; exit 1; }
  nsip "$ns_pub" addr add 10.77.0.1/24 dev dl0
  nsip "$ns_view" addr add 10.77.0.2/24 dev dl0
  nsip "$ns_pub" link set dl0 up
  nsip "$ns_view" link set dl0 up
  echo "   (userspace delay-link: no netem in this kernel)"
}

if [ "$(id -u)" = 0 ]; then
  for cond in "$DELAY_MS 0" "$DELAY_MS $LOSS_PCT"; do
    set -- $cond
    name="delay${1}ms_loss${2}pct"
    echo "== $name (RTT $(($1 * 2)) ms)"
    setup_link "$1" "$2"
    run "$name" pseudotcp --ns-pub "$ns_pub" --addr-pub 10.77.0.1 \
      --ns-view "$ns_view" --addr-view 10.77.0.2
    run "$name" tcp --ns-pub "$ns_pub" --addr-pub 10.77.0.1 \
      --ns-view "$ns_view" --addr-view 10.77.0.2
    run "$name" auto --ns-pub "$ns_pub" --addr-pub 10.77.0.1 \
      --ns-view "$ns_view" --addr-view 10.77.0.2
    cleanup
  done
else
  echo "== not root: no namespaces, loopback only"
fi

echo
python3 - "$out" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    name, rest = line.split(' ', 1)
    kv = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', rest))
    rows.setdefault(name, {})[kv.get('transport', '?')] = kv
print(f"{'path':<24}{'transport':<11}{'Mbit/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'connect ms':>12}  frames   pair")
for name, byt in rows.items():
    for t in ('pseudotcp', 'tcp', 'auto'):
        kv = byt.get(t, {})
        if 'mbps' not in kv:
            print(f"{name:<24}{t:<11}  failed"); continue
        print(f"{name:<24}{t:<11}{float(kv['mbps']):>8.2f}{float(kv['p50_ms']):>9.1f}"
              f"{float(kv['p99_ms']):>9.1f}{float(kv['max_ms']):>9.1f}{float(kv['connect_ms']):>12.0f}  {kv['frames']}  {kv.get('pair', '')}")
print()
print("ratios ICE-TCP / pseudo-TCP (throughput; p99 latency: below 1 = ICE-TCP better)")
for name, byt in rows.items():
    a, b = byt.get('pseudotcp', {}), byt.get('tcp', {})
    if 'mbps' in a and 'mbps' in b:
        print(f"  {name:<24} throughput {float(b['mbps'])/float(a['mbps']):.2f}"
              f"  p99 {float(b['p99_ms'])/max(float(a['p99_ms']),0.001):.2f}")
PY
