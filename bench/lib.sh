# gst-diode — shared helpers for the bench/*.sh scripts (sourced, not run).
#
# Every process a script starts goes through bench_spawn, which wraps it in
# `timeout` (a hard bound even if the script itself is killed) and records
# it; bench_cleanup (installed as the EXIT/INT/TERM trap) stops exactly those
# processes by PID. Nothing listens beyond 127.0.0.1.

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BUILD_DIR:-$root/build}
cache=${BENCH_CACHE:-$here/.cache}
relay_bin=$build/relay/diode-relay
load_bin=$build/bench/diode-load
latency_bin=$build/bench/diode-latency
seek_bin=$build/bench/diode-seek

bench_tmp=$(mktemp -d /tmp/diode-bench.XXXXXX)
export XDG_CONFIG_HOME="$bench_tmp/config"
# The plugin is loaded from a snapshot (need_build) so that a rebuild during
# a run changes neither the code measured nor the registry.
export GST_PLUGIN_PATH_1_0="$bench_tmp/plugins${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"
export GST_REGISTRY_1_0="$bench_tmp/registry.bin"
mkdir -p "$XDG_CONFIG_HOME"
bench_pids=""

bench_cleanup () {
  for p in $bench_pids; do
    kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in $bench_pids; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  bench_pids=""
  if [ -z "${BENCH_KEEP_TMP:-}" ]; then rm -rf "$bench_tmp"; fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log () { echo "[$(date +%H:%M:%S)] $*" >&2; }
die () { echo "$(basename "$0"): $*" >&2; exit 1; }

# bench_spawn MAX_SECONDS LOGFILE CMD...: runs CMD in the background under
# `timeout`; sets SPAWN_PID to CMD's own PID (for /proc sampling) and
# SPAWN_TPID to the timeout wrapper (what bench_stop kills).
bench_spawn () {
  _max=$1; _log=$2; shift 2
  timeout -k 3 "$_max" "$@" > "$_log.out" 2> "$_log.err" &
  SPAWN_TPID=$!
  bench_pids="$bench_pids $SPAWN_TPID"
  SPAWN_PID=""
  for _i in $(seq 1 50); do
    SPAWN_PID=$(pgrep -P "$SPAWN_TPID" | head -n1 || true)
    [ -n "$SPAWN_PID" ] && break
    sleep 0.05
  done
  [ -n "$SPAWN_PID" ] || { cat "$_log.err" >&2; die "could not start $1"; }
}

# bench_stop TPID: SIGTERM (forwarded by timeout), then wait.
bench_stop () {
  kill -TERM "$1" 2>/dev/null || true
  for _i in $(seq 1 40); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  bench_pids=$(echo "$bench_pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# Checks the build and snapshots the binaries and the plugin into the
# scratch dir: other people rebuilding the tree during a run must not change
# what is measured halfway through. Warms the GStreamer registry.
need_build () {
  [ -x "$relay_bin" ] && [ -x "$load_bin" ] && [ -x "$latency_bin" ] && \
    [ -f "$build/gst/elements/libgstdiode.so" ] || \
    die "build first: ninja -C $build"
  mkdir -p "$bench_tmp/bin" "$bench_tmp/plugins"
  cp "$relay_bin" "$load_bin" "$latency_bin" "$bench_tmp/bin/"
  [ -x "$seek_bin" ] && cp "$seek_bin" "$bench_tmp/bin/"
  cp "$build/gst/elements/libgstdiode.so" "$bench_tmp/plugins/"
  relay_bin=$bench_tmp/bin/diode-relay
  load_bin=$bench_tmp/bin/diode-load
  latency_bin=$bench_tmp/bin/diode-latency
  seek_bin=$bench_tmp/bin/diode-seek
  gst-inspect-1.0 diodesink > /dev/null || die "diodesink not loadable"
  BENCH_COMMIT=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')
  git -C "$root" diff --quiet HEAD -- relay gst ext 2>/dev/null || \
    BENCH_COMMIT="$BENCH_COMMIT+uncommitted changes in relay/ gst/ ext/"
}

need_clip () {
  "$here/make-clip.sh"
  clip_h264=$cache/clip.h264
  clip_mkv=$cache/clip.mkv
  clip_bps=$(sed -n 's/^bps=//p' "$cache/clip.info")
}

free_port () {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_relay NAME MAX_S [extra relay options]: sets RELAY_PID RELAY_TPID
# RELAY_PORT RELAY_ADDR. RELAY_KEY (default: one key for every relay of a
# run) and RELAY_LISTEN (default 127.0.0.1:0) override the key file and the
# listening address: a tree of relays needs one identity per relay, and a
# relay restarted after kill -9 its old port.
start_relay () {
  _n=$1; _max=$2; shift 2
  # default log level: warnings plus a stats line per stream every 5 s.
  # Every viewer of a benchmark comes from 127.0.0.1 (up to ~2400 at once,
  # hundreds in their TLS handshake): lift the per-address caps, which are
  # meant for one attacker, not for a whole benchmark (docs/decisions.md).
  bench_spawn "$_max" "$bench_tmp/$_n" "$relay_bin" \
    --listen "${RELAY_LISTEN:-127.0.0.1:0}" --print-id --stats-interval 5 \
    --identity "${RELAY_KEY:-$bench_tmp/relay-key.pem}" \
    --max-connections 16384 --max-connections-per-address 20000 \
    --max-pending-per-address 20000 "$@"
  RELAY_PID=$SPAWN_PID; RELAY_TPID=$SPAWN_TPID
  for _i in $(seq 1 100); do
    [ -s "$bench_tmp/$_n.out" ] && break
    sleep 0.05
  done
  read -r RELAY_ADDR RELAY_PORT < "$bench_tmp/$_n.out" || \
    { cat "$bench_tmp/$_n.err" >&2; die "relay did not start"; }
}

# The publisher's upstream: the clip in real time (identity sync=true), as
# H.264 byte-stream access units with SPS/PPS before every IDR. Identical
# for diodesink and tcpserversink.
pub_src () {
  echo "filesrc location=$clip_mkv ! matroskademux ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au ! identity sync=true"
}

# start_diode_pub NAME MAX_S STREAM: sets PUB_PID PUB_TPID.
start_diode_pub () {
  # shellcheck disable=SC2046
  bench_spawn "$2" "$bench_tmp/$1" gst-launch-1.0 -q $(pub_src) ! \
    diodesink relay=127.0.0.1:"$RELAY_PORT" relay-id="$RELAY_ADDR" \
    stream="$3" sync=false
  PUB_PID=$SPAWN_PID; PUB_TPID=$SPAWN_TPID
}

# start_tcp_server NAME MAX_S SYNC_METHOD: the tcpserversink anchor as two
# processes, so that a server's CPU is the server's only, as the relay's is
# (its publisher, diodesink, is a process of its own):
#   publisher  pub_src ! gdppay ! tcpclientsink        (NAME-pub)
#   server     tcpserversrc ! gdpdepay ! tcpserversink  (NAME)
# GDP carries caps, timestamps and buffer flags (DELTA_UNIT: what
# sync-method=latest-keyframe needs to find keyframes) with one 62-byte
# header per buffer and no parsing in the server: the cheapest honest feed
# (shmsrc/tcpserversrc alone lose the flags; h264parse in the server would
# add a parser the relay does not have). Its cost, like the relay's TLS
# decryption of its publisher, is in the idle CPU the scripts subtract.
# Sets TCP_PID TCP_TPID TCP_PORT (the server) and TCP_PUB_TPID.
start_tcp_server () {
  TCP_PORT=$(free_port)
  _feed=$(free_port)
  bench_spawn "$2" "$bench_tmp/$1" gst-launch-1.0 -q \
    tcpserversrc host=127.0.0.1 port="$_feed" ! gdpdepay ! \
    tcpserversink host=127.0.0.1 port="$TCP_PORT" sync-method="$3" sync=false
  TCP_PID=$SPAWN_PID; TCP_TPID=$SPAWN_TPID
  for _i in $(seq 1 100); do
    ss -ltn 2>/dev/null | grep -q "127.0.0.1:$_feed " && break
    sleep 0.05
  done
  # shellcheck disable=SC2046
  bench_spawn "$2" "$bench_tmp/$1-pub" gst-launch-1.0 -q $(pub_src) ! \
    gdppay ! tcpclientsink host=127.0.0.1 port="$_feed" sync=false
  TCP_PUB_TPID=$SPAWN_TPID
  for _i in $(seq 1 100); do
    ss -ltn 2>/dev/null | grep -q "127.0.0.1:$TCP_PORT " && break
    sleep 0.05
  done
}

# stop_tcp_server: both processes of start_tcp_server.
stop_tcp_server () {
  bench_stop "$TCP_PUB_TPID"; bench_stop "$TCP_TPID"
}

# check_alive PID NAME: fail loudly if a server died.
check_alive () {
  kill -0 "$1" 2>/dev/null || { cat "$bench_tmp/$2.err" >&2; die "$2 died"; }
}

# busy_cores SECONDS: how many cores the whole machine kept busy meanwhile.
busy_cores () {
  _a=$(head -n1 /proc/stat); sleep "$1"; _b=$(head -n1 /proc/stat)
  echo "$_a|$_b" | awk -F'|' -v s="$1" '{split($1,x," "); split($2,y," ");
    t = 0; for (i = 2; i <= 9; i++) if (i != 5 && i != 6) t += y[i] - x[i];
    printf "%.2f\n", t / 100 / s}'
}

# wait_quiet: this machine is shared; before a measurement, wait (at most
# QUIET_WAIT seconds, default 120) until other processes use less than
# QUIET_MAX cores (default 0.3). Measures anyway after that, with a warning;
# every table also reports the rest of the machine's CPU during the window.
wait_quiet () {
  _waited=0
  while :; do
    _busy=$(busy_cores 2)
    if awk -v b="$_busy" -v m="${QUIET_MAX:-0.3}" 'BEGIN{exit !(b <= m)}'; then
      [ "$_waited" -gt 0 ] && log "machine quiet again after ${_waited}s (busy $_busy cores)"
      return 0
    fi
    if [ "$_waited" -ge "${QUIET_WAIT:-120}" ]; then
      log "WARNING: other processes keep $_busy cores busy; measuring anyway"
      return 0
    fi
    [ "$_waited" -eq 0 ] && log "other processes use $_busy cores; waiting for a quieter machine"
    _waited=$((_waited + 2))
  done
}

machine_line () {
  echo "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r), $(gst-launch-1.0 --version | sed -n 's/^GStreamer //p'), GnuTLS $(pkg-config --modversion gnutls 2>/dev/null || echo '?'), built from $BENCH_COMMIT"
}
