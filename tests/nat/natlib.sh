# gst-diode — real NATs in network namespaces, shared by tests/nat/nat.sh
# and bench/direct.sh (sourced, POSIX sh).
#
# The topology (every name ends in the run's pid, so parallel runs and
# leftovers of a killed run never collide; nothing outside these
# namespaces is touched):
#
#   "internet"  nI   10.231.0.1/32 on lo: diode-relay (TCP 7878, --stun
#                    UDP 3479, --http 8080) and coturn (UDP/TCP 3478).
#                    Forwards between the routers' WAN links and has no
#                    route to any LAN (its default route goes into a dummy
#                    device): private addresses stay private.
#   void        nV   10.231.9.2, the internet's default route: forwards
#                    nothing, so what is sent to an unrouted address is
#                    lost on the way, not refused at the sender
#   router A    nRa  WAN 10.231.1.2 (nI side 10.231.1.1), LAN bridge
#                    10.231.11.1/24, MASQUERADE out of WAN
#   host A1     nA1  10.231.11.2 on LAN A   (the publisher)
#   host A2     nA2  10.231.11.3 on LAN A   (the viewer of case a)
#   router B    nRb  WAN 10.231.2.2 (nI side 10.231.2.1), LAN 10.231.12.1/24
#   host B1     nB1  10.231.12.2 on LAN B   (the viewer of the other cases)
#
# MASQUERADE on Linux keeps the source port when it is free, and one
# conntrack entry per 5-tuple: endpoint-independent mapping with
# address-and-port dependent filtering, what most home routers do
# (ICE's server-reflexive candidates work through it). nat_symmetric
# adds --random: a new random port per destination (a symmetric NAT).
#
# Commands in a namespace: nsenter --net=/run/netns/NS, `ip` included
# (not `ip netns exec` nor `ip -n NS`: both switch namespaces the way that
# remounts /sys, which fails in a chroot such as the CI's: '"mount
# --make-rslave /" failed: Invalid argument').
#
# Every process started with nat_bg and every namespace is removed by
# nat_cleanup, which the caller installs as its EXIT trap (nat_init does).

NAT_T=${NAT_T:-}
nat_pids=""
nat_nses=""

nat_skip () { echo "SKIP: $*"; exit 77; }
nat_fail () { echo "FAIL: $*"; exit 1; }
nat_log () { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] $*"; }

# nat_in NS CMD...: run CMD in namespace NS.
nat_in () { _ns=$1; shift; nsenter --net="/run/netns/$_ns" -- "$@"; }

# nat_bg NAME NS CMD...: CMD in NS in the background, stdout+stderr into
# $NAT_T/NAME.log; its pid is remembered for cleanup and left in $nat_last.
nat_bg () {
  _name=$1; _ns=$2; shift 2
  nsenter --net="/run/netns/$_ns" -- "$@" > "$NAT_T/$_name.log" 2>&1 &
  nat_last=$!
  nat_pids="$nat_pids $nat_last"
}

# nat_stop PID...: TERM, then KILL what is still there after 3 s.
nat_stop () {
  for _p in "$@"; do kill -TERM "$_p" 2> /dev/null; done
  _i=0
  while [ $_i -lt 30 ]; do
    _alive=""
    for _p in "$@"; do kill -0 "$_p" 2> /dev/null && _alive="$_alive $_p"; done
    [ -z "$_alive" ] && break
    sleep 0.1; _i=$((_i + 1))
  done
  for _p in "$@"; do kill -KILL "$_p" 2> /dev/null; wait "$_p" 2> /dev/null; done
  true
}

nat_cleanup () {
  set +e      # a failure under nat_setup's set -e lands here: go on anyway
  [ -n "$nat_pids" ] && nat_stop $nat_pids
  nat_pids=""
  # Deleting a namespace removes the veth ends in it and their peers.
  for _ns in $nat_nses; do ip netns del "$_ns" 2> /dev/null; done
  nat_nses=""
  if [ -n "$NAT_T" ] && [ -d "$NAT_T" ] && [ -z "${NAT_KEEP:-}" ]; then
    rm -rf "$NAT_T"
  fi
  true
}

# What every run needs, else exit 77 with the reason. $1: the build dir.
nat_require () {
  [ "$(id -u)" = 0 ] || nat_skip "needs root (network namespaces, iptables)"
  for _c in ip nsenter iptables; do
    command -v "$_c" > /dev/null || nat_skip "no '$_c' command (packages iproute2, util-linux, iptables)"
  done
  _probe=dnp$$
  ip netns add "$_probe" 2> /dev/null || nat_skip "'ip netns add' does not work here"
  if ! _why=$(nsenter --net="/run/netns/$_probe" -- iptables -t nat -A POSTROUTING -j MASQUERADE 2>&1); then
    ip netns del "$_probe"
    nat_skip "iptables NAT does not work in a namespace: $_why"
  fi
  if ! _why=$(nat_in "$_probe" ip link add dnpbr type bridge 2>&1); then
    ip netns del "$_probe"
    nat_skip "no bridge devices in this kernel: $_why"
  fi
  ip netns del "$_probe"
}

# nat_init: temp dir, trap, namespace names.
nat_init () {
  NAT_T=$(mktemp -d /tmp/diode-nat.XXXXXX)
  trap nat_cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
  NS_I=nI$$; NS_V=nV$$; NS_RA=nRa$$; NS_RB=nRb$$; NS_A1=nA1$$; NS_A2=nA2$$; NS_B1=nB1$$
  RELAY_IP=10.231.0.1
  RA_WAN=10.231.1.2
  RB_WAN=10.231.2.2
  A1_IP=10.231.11.2
  A2_IP=10.231.11.3
  B1_IP=10.231.12.2
  RELAY_PORT=7878
  STUN_PORT=3479
  HTTP_PORT=8080
  TURN_PORT=3478
  TURN_USER=diode
  TURN_PASS=nat-test-secret
}

# IPv4 only: IPv6 link-local candidates would give ICE paths that no NAT
# is on.
_nat_ns () {
  ip netns add "$1"
  nat_nses="$nat_nses $1"
  nat_in "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  nat_in "$1" ip link set lo up
}

# _nat_link NS1 DEV1 ADDR1 NS2 DEV2 ADDR2: a veth pair; an empty address
# leaves that end without one (a bridge port).
_nat_link () {
  ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
  [ -n "$3" ] && nat_in "$1" ip addr add "$3" dev "$2"
  [ -n "$6" ] && nat_in "$4" ip addr add "$6" dev "$5"
  nat_in "$1" ip link set "$2" up
  nat_in "$4" ip link set "$5" up
}

# nat_setup: the whole topology above (plain MASQUERADE on both routers).
nat_setup () {
  set -e
  for _ns in "$NS_I" "$NS_V" "$NS_RA" "$NS_RB" "$NS_A1" "$NS_A2" "$NS_B1"; do _nat_ns "$_ns"; done
  nat_in "$NS_I" ip addr add "$RELAY_IP/32" dev lo
  # The rest of the internet: a default route to a namespace that forwards
  # nothing, where datagrams to addresses nobody routes (a peer's private
  # host candidate) vanish, as they would past a real ISP, instead of
  # failing the sender with ENETUNREACH (coturn's relay socket gives up on
  # that error). No dummy device: not every kernel has the module.
  _nat_link "$NS_I" void 10.231.9.1/24 "$NS_V" eth0 10.231.9.2/24
  nat_in "$NS_I" ip route add default via 10.231.9.2
  _nat_link "$NS_I" ia 10.231.1.1/24 "$NS_RA" wan "$RA_WAN/24"
  _nat_link "$NS_I" ib 10.231.2.1/24 "$NS_RB" wan "$RB_WAN/24"
  # LAN A is a bridge in router A with two hosts on it.
  nat_in "$NS_RA" ip link add lan type bridge
  nat_in "$NS_RA" ip addr add 10.231.11.1/24 dev lan
  nat_in "$NS_RA" ip link set lan up
  _nat_link "$NS_RA" p1 "" "$NS_A1" eth0 "$A1_IP/24"
  _nat_link "$NS_RA" p2 "" "$NS_A2" eth0 "$A2_IP/24"
  nat_in "$NS_RA" ip link set p1 master lan
  nat_in "$NS_RA" ip link set p2 master lan
  _nat_link "$NS_RB" lan 10.231.12.1/24 "$NS_B1" eth0 "$B1_IP/24"
  nat_in "$NS_A1" ip route add default via 10.231.11.1
  nat_in "$NS_A2" ip route add default via 10.231.11.1
  nat_in "$NS_B1" ip route add default via 10.231.12.1
  nat_in "$NS_RA" ip route add default via 10.231.1.1
  nat_in "$NS_RB" ip route add default via 10.231.2.1
  for _ns in "$NS_I" "$NS_RA" "$NS_RB"; do
    nat_in "$_ns" sysctl -q -w net.ipv4.ip_forward=1
  done
  for _ns in "$NS_RA" "$NS_RB"; do
    nat_in "$_ns" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
    # A home router's firewall: nothing unsolicited from the WAN reaches
    # the router itself. It also keeps the NAT endpoint-independent for
    # hole punching: without it, the peer's first check (arriving before
    # our own went out) is delivered to the router, answered with ICMP and
    # its conntrack entry confirmed; that entry then takes the port our
    # own check needs, MASQUERADE picks another one, and every check of
    # both sides misses (a dropped packet's entry is never confirmed).
    nat_in "$_ns" iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP
  done
  set +e
  # The NATs must really hide the LANs: the internet has no route to them
  # but into the void (the peers' reachability is what the tests show).
  for _a in "$A1_IP" "$A2_IP" "$B1_IP"; do
    nat_in "$NS_I" ip route get "$_a" | grep -q ' via 10.231.9.2 ' \
      || nat_fail "the internet namespace has a route to LAN address $_a: no NAT"
  done
}

# nat_symmetric ROUTER_NS: a symmetric NAT (a random port for each
# destination) instead of the plain MASQUERADE.
nat_symmetric () {
  nat_in "$1" iptables -t nat -F POSTROUTING
  nat_in "$1" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random
}

# nat_block_udp ROUTER_NS: the router forwards no UDP but to the TURN
# server's port (and what conntrack knows as replies).
nat_block_udp () {
  nat_in "$1" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  nat_in "$1" iptables -A FORWARD -p udp -d "$RELAY_IP" --dport "$TURN_PORT" -j ACCEPT
  nat_in "$1" iptables -A FORWARD -p udp -j DROP
}

# nat_cut ROUTER_NS: from now on the router forwards only what goes to
# or comes from the internet host (the relay and coturn): a direct path
# through it is cut mid-stream, the relay path is not. Conntrack entries
# of the cut flows stay, but their packets are dropped in FORWARD.
nat_cut () {
  nat_in "$1" iptables -I FORWARD 1 -j DROP
  nat_in "$1" iptables -I FORWARD 1 -s "$RELAY_IP" -j ACCEPT
  nat_in "$1" iptables -I FORWARD 1 -d "$RELAY_IP" -j ACCEPT
}

# nat_distant_relay BUILD DELAY_MS: (benchmark) the relay moves to its own
# namespace nS, 10.231.5.1, behind a link of DELAY_MS each way from the
# internet (bench/delay-link: a userspace TUN forwarder, since this kernel
# has no netem), as a relay in another city is; the peers' direct path does
# not cross that link. Sets NAT_RELAY_NS and RELAY_IP for nat_relay.
nat_distant_relay () {
  _dl=$1/bench/delay-link
  [ -x "$_dl" ] || nat_fail "no $_dl (build first)"
  NS_S=nS$$
  _nat_ns "$NS_S"
  "$_dl" --ns-a "$NS_I" --ns-b "$NS_S" --delay-ms "$2" --loss-pct 0 \
    --seconds 3600 > "$NAT_T/delay-link.log" 2>&1 &
  nat_pids="$nat_pids $!"
  nat_wait_line "$NAT_T/delay-link.log" '^ready' 10 || nat_fail "delay-link did not start: $(cat "$NAT_T/delay-link.log")"
  nat_in "$NS_I" ip addr add 10.231.4.1/24 dev dl0
  nat_in "$NS_S" ip addr add 10.231.4.2/24 dev dl0
  nat_in "$NS_I" ip link set dl0 up
  nat_in "$NS_S" ip link set dl0 up
  nat_in "$NS_S" ip addr add 10.231.5.1/32 dev lo
  nat_in "$NS_I" ip route add 10.231.5.1/32 via 10.231.4.2
  nat_in "$NS_S" ip route add default via 10.231.4.1
  NAT_RELAY_NS=$NS_S
  RELAY_IP=10.231.5.1
}

# nat_relay BUILD [EXTRA...]: diode-relay on the internet host, with its
# STUN answer when it has one (--stun) and the web side for /metrics.
# Sets NAT_RELAY_STUN=1 when --stun was given.
nat_relay () {
  _bin=$1/relay/diode-relay; shift
  [ -x "$_bin" ] || nat_fail "no $_bin (build first)"
  NAT_RELAY_STUN=0
  _stun=""
  if "$_bin" --help 2>&1 | grep -q -- '--stun'; then
    NAT_RELAY_STUN=1
    _stun="--stun $RELAY_IP:$STUN_PORT"
  fi
  # shellcheck disable=SC2086
  nat_bg relay "${NAT_RELAY_NS:-$NS_I}" env XDG_CONFIG_HOME="$NAT_T/relay-home" LC_ALL=C \
    "$_bin" --listen "$RELAY_IP:$RELAY_PORT" --identity "$NAT_T/relay.pem" \
    --print-id --http "$RELAY_IP:$HTTP_PORT" --stats-interval 1 \
    --stats-file "$NAT_T/relay-stats.json" $_stun -v "$@"
  NAT_RELAY_PID=$nat_last
  _i=0
  until grep -q '^0x[0-9a-f]* [0-9]*$' "$NAT_T/relay.log" 2> /dev/null; do
    kill -0 "$NAT_RELAY_PID" 2> /dev/null || { cat "$NAT_T/relay.log"; nat_fail "the relay exited"; }
    [ $_i -gt 100 ] && nat_fail "the relay did not start within 10 s"
    sleep 0.1; _i=$((_i + 1))
  done
  NAT_RELAY_ID=$(grep -m1 '^0x[0-9a-f]* [0-9]*$' "$NAT_T/relay.log" | cut -d' ' -f1)
}

# nat_turn: coturn on the internet host, one static user, no file in /etc
# read (-n) and its database in the run's directory. NAT_TURN_VERBOSE=1:
# coturn's verbose log (turn.log).
nat_turn () {
  command -v turnserver > /dev/null || nat_skip "no turnserver (package coturn)"
  nat_bg turn "$NS_I" turnserver -n --listening-ip="$RELAY_IP" \
    --listening-port="$TURN_PORT" --relay-ip="$RELAY_IP" \
    --min-port=49152 --max-port=49452 --lt-cred-mech \
    --user="$TURN_USER:$TURN_PASS" --realm=diode.test \
    --userdb="$NAT_T/turndb" --pidfile="$NAT_T/turn.pid" \
    --no-tls --no-dtls --no-cli --no-software-attribute \
    --log-file=stdout --simple-log ${NAT_TURN_VERBOSE:+-V}
  NAT_TURN_PID=$nat_last
  _i=0
  # coturn logs its listeners once they are bound.
  until grep -q -i 'listener opened on\|Total General servers' "$NAT_T/turn.log" 2> /dev/null; do
    kill -0 "$NAT_TURN_PID" 2> /dev/null || { cat "$NAT_T/turn.log"; nat_fail "turnserver exited"; }
    [ $_i -gt 100 ] && { cat "$NAT_T/turn.log"; nat_fail "turnserver did not start within 10 s"; }
    sleep 0.1; _i=$((_i + 1))
  done
  NAT_TURN_URI="turn://$TURN_USER:$TURN_PASS@$RELAY_IP:$TURN_PORT"
}

# nat_metric NAME: the relay's counter NAME{stream="$NAT_STREAM"} from
# /metrics (0 when absent).
nat_metric () {
  nat_in "${NAT_RELAY_NS:-$NS_I}" curl -s -m 3 "http://$RELAY_IP:$HTTP_PORT/metrics" \
    | awk -v m="$1{stream=\"$NAT_STREAM\"}" '$1 == m { v = $2 } END { printf "%.0f\n", v + 0 }'
}

# nat_wait_line FILE PATTERN SECONDS: wait until a line of FILE matches.
nat_wait_line () {
  _n=$(($3 * 10))
  _i=0
  while ! grep -q -- "$2" "$1" 2> /dev/null; do
    [ $_i -ge $_n ] && return 1
    sleep 0.1; _i=$((_i + 1))
  done
  return 0
}

# nat_wait_pid PID SECONDS: wait for a background process to exit; its
# status in $nat_rc (124 when it did not exit in time).
nat_wait_pid () {
  _n=$(($2 * 10))
  _i=0
  while kill -0 "$1" 2> /dev/null; do
    if [ $_i -ge $_n ]; then nat_rc=124; return 1; fi
    sleep 0.1; _i=$((_i + 1))
  done
  wait "$1"
  nat_rc=$?
  return 0
}
