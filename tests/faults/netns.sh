#!/bin/sh
# gst-diode — runs a netns-* fault test (test-faults) on a real network path:
#
#   netns.sh netns-partition|netns-netem PATH/TO/test-faults
#
# Two network namespaces made for this run, joined by a veth pair:
#   dfr<PID>  the relay and the viewers   10.213.0.1/24 on vr<PID>
#   dfp<PID>  the publisher               10.213.0.2/24 on vp<PID>
# (10.x addresses exist only inside these namespaces; nothing else on the
# machine is touched.) test-faults then breaks the path with tc (a pfifo of
# length 0 drops every packet silently, or netem loss/delay) and heals it.
# The namespaces go away at exit, whatever happened (trap).
#
# Skips (exit 77, meson's code) with the reason when not root, when
# `ip netns` does not work, or (netns-netem) when the kernel has no netem.
set -u
test=$1
driver=$2
ns_r=dfr$$
ns_p=dfp$$
dev_r=vr$$
dev_p=vp$$

skip () { echo "SKIP $test: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, tc)"
command -v ip > /dev/null || skip "no 'ip' command (iproute2)"
command -v tc > /dev/null || skip "no 'tc' command (iproute2)"

drv=""
cleanup () {
  # The driver's own children die with it (PR_SET_PDEATHSIG).
  [ -n "$drv" ] && kill -TERM "$drv" 2> /dev/null && sleep 0.5 && \
    kill -KILL "$drv" 2> /dev/null
  ip netns del "$ns_r" 2> /dev/null
  ip netns del "$ns_p" 2> /dev/null
  # Deleting a namespace destroys the veth end inside it, and its peer.
  ip link del "$dev_r" 2> /dev/null
  ip link del "$dev_p" 2> /dev/null
  true
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

ip netns add "$ns_r" 2> /dev/null || skip "'ip netns add' does not work here"
ip netns add "$ns_p" 2> /dev/null || skip "'ip netns add' does not work here"
set -e
ip link add "$dev_r" type veth peer name "$dev_p"
ip link set "$dev_r" netns "$ns_r"
ip link set "$dev_p" netns "$ns_p"
ip -n "$ns_r" addr add 10.213.0.1/24 dev "$dev_r"
ip -n "$ns_p" addr add 10.213.0.2/24 dev "$dev_p"
ip -n "$ns_r" link set lo up
ip -n "$ns_p" link set lo up
ip -n "$ns_r" link set "$dev_r" up
ip -n "$ns_p" link set "$dev_p" up
set +e

if [ "$test" = netns-netem ]; then
  if ! why=$(tc -n "$ns_p" qdisc add dev "$dev_p" root netem delay 1ms 2>&1); then
    skip "tc netem is not available in this kernel: $why"
  fi
  tc -n "$ns_p" qdisc del dev "$dev_p" root
fi

# In the background, so that a signal to this script (meson's timeout) runs
# the trap at once and takes the driver down too.
"$driver" "$test" --ns-relay "$ns_r" --ns-pub "$ns_p" --relay-host 10.213.0.1 \
  --relay-dev "$dev_r" --pub-dev "$dev_p" &
drv=$!
wait "$drv"
rc=$?
drv=""
exit "$rc"
