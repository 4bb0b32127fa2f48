#!/bin/sh
# gst-diode — publisher cost: instructions per published byte under
# callgrind, diodesink vs srtsink (with a passphrase) vs tcpclientsink.
#
#   bench/publisher-cost.sh [--quick]
#
# Every sink gets the same upstream, paced in real time like a live camera
# (so no sink is asked to swallow a burst it would drop or queue):
#   filesrc location=clip.h264 ! h264parse ! video/x-h264,alignment=au !
#   identity eos-after=FRAMES sync=true ! <sink> sync=false
# and runs under `valgrind --tool=callgrind` (whole process, every thread,
# user space only: callgrind cannot see the kernel) twice, with FRAMES = N1
# and N2. The receiving ends run natively:
#   diodesink      -> a local diode-relay
#   srtsink        -> srtsrc mode=listener, same passphrase, pbkeylen=16
#   tcpclientsink  -> tcpserversrc
#   fakesink       -> nothing (baseline: the upstream's own cost)
# Reported per sink:
#   Ir/B total    whole-process Ir of the N2 run / its bytes (start-up incl.)
#   Ir/B marginal (Ir(N2) - Ir(N1)) / (bytes(N2) - bytes(N1)): steady state,
#                 start-up, handshakes and teardown cancel out
#   sink Ir/B     marginal minus fakesink's marginal: what the sink adds per
#                 published byte, its own threads (libsrt's) included
# For diodesink also the instructions inside its own code only
# (--toggle-collect on gst_diode_sink_render and on
# gst_diode_sink_writer_thread in gstdiodesink-writer.c, which does the TLS
# sends; the other plugins are stripped, so their functions cannot be
# isolated that way).
# The receivers write what they get to a file, and every run is checked
# against the bytes the upstream produced (the same pipeline into a
# filesink): a sink that dropped or lost data would look cheaper per byte.
#   diodesink      a diodesrc subscribed before the publisher starts (it
#                  waits for the stream) writes what the relay forwarded:
#                  the same bytes, byte for byte, or the script fails;
#   tcpclientsink  the same, from tcpserversrc;
#   srtsink        an exact prefix (no hole: nothing lost mid-stream, or the
#                  script fails), short of at most SRT_TAIL_MAX bytes at the
#                  end (default 0.5 s of the clip): srtsink in live mode
#                  drops what is still queued at EOS.
# "delivered" in the table is the received size over the bytes sent.
# A second table repeats diodesink and srtsink with the CPU's AES/SIMD
# instructions hidden from GnuTLS and Nettle (GNUTLS_CPUID_OVERRIDE=0x1,
# NETTLE_FAT_OVERRIDE=none): closer to the Pi Zero (ARMv6, no AES unit).
#
# Environment: N1/N2 (default 150/450 frames; --quick 60/180), RESULTS.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

SRT_TAIL_MAX=${SRT_TAIL_MAX:-}
N1=${N1:-150}
N2=${N2:-450}
if [ "${1:-}" = "--quick" ]; then N1=60; N2=180; fi
RESULTS=${RESULTS:-$cache/results/pubcost-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$RESULTS"
out=$RESULTS/pubcost.jsonl
: > "$out"
command -v valgrind > /dev/null || die "valgrind is needed"
need_build
need_clip
for e in srtsink srtsrc tcpclientsink tcpserversrc; do
  gst-inspect-1.0 "$e" > /dev/null 2>&1 || die "GStreamer element $e missing"
done
log "machine: $(machine_line); $(valgrind --version)"
# The registry is warm now; never rescan it under valgrind.
export GST_REGISTRY_UPDATE=no
pass=diode-bench-passphrase
max=600

upstream () { # FRAMES
  echo "filesrc location=$clip_h264 ! h264parse ! video/x-h264,stream-format=byte-stream,alignment=au ! identity eos-after=$1 sync=true"
}

# bytes the sink receives for FRAMES frames (kept in sent-FRAMES.h264 for
# the delivery checks)
frame_bytes () {
  # shellcheck disable=SC2046
  timeout 60 gst-launch-1.0 -q $(upstream "$1") ! \
    filesink location="$bench_tmp/sent-$1.h264" sync=false > /dev/null
  stat -c %s "$bench_tmp/sent-$1.h264"
}

# check_delivery NAME FRAMES: what the receiver wrote against what was sent;
# appends "NAME FRAMES SIZE" to $bench_tmp/delivered, dies on a mismatch.
check_delivery () {
  _sent=$bench_tmp/sent-$2.h264
  _got=$(stat -c %s "$bench_tmp/recv.bin" 2>/dev/null || echo 0)
  _want=$(stat -c %s "$_sent")
  echo "$1 $2 $_got" >> "$bench_tmp/delivered"
  case $1 in
    srtsink*)
      [ "$_got" -le "$_want" ] && [ $((_want - _got)) -le "$SRT_TAIL_MAX" ] || \
        die "$1, $2 frames: received $_got of $_want bytes (more than $SRT_TAIL_MAX short)"
      cmp -s -n "$_got" "$bench_tmp/recv.bin" "$_sent" || \
        die "$1, $2 frames: the $_got bytes received are not a prefix of the $_want sent (data lost mid-stream)" ;;
    *)
      [ "$_got" -eq "$_want" ] && cmp -s "$bench_tmp/recv.bin" "$_sent" || \
        die "$1, $2 frames: received $_got bytes, sent $_want, $(cmp "$bench_tmp/recv.bin" "$_sent" 2>&1 | head -n1)" ;;
  esac
}

start_relay relay $((max * 12))

# run_cg NAME FRAMES [env assignments --] SINK...: callgrind run; prints Ir
run_cg () {
  name=$1; frames=$2; shift 2
  envs=""
  while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
  shift
  recv_tpid=""
  rm -f "$bench_tmp/recv.bin"
  case $name in
    srtsink*)
      port=$(free_port)
      bench_spawn "$max" "$bench_tmp/srtsrc" gst-launch-1.0 -q \
        srtsrc uri="srt://127.0.0.1:$port?mode=listener" passphrase=$pass \
        pbkeylen=16 ! filesink location="$bench_tmp/recv.bin" sync=false
      recv_tpid=$SPAWN_TPID
      sleep 0.5
      set -- "$@" uri="srt://127.0.0.1:$port?mode=caller" passphrase=$pass \
        pbkeylen=16 ;;
    tcpclientsink*)
      port=$(free_port)
      bench_spawn "$max" "$bench_tmp/tcpsrc" gst-launch-1.0 -q \
        tcpserversrc host=127.0.0.1 port="$port" ! \
        filesink location="$bench_tmp/recv.bin" sync=false
      recv_tpid=$SPAWN_TPID
      sleep 0.5
      set -- "$@" host=127.0.0.1 port="$port" ;;
    diodesink*)
      # subscribed before the publisher exists: diodesrc waits (timeout)
      # for the name and gets every frame from the first; it ends at EOS
      bench_spawn "$max" "$bench_tmp/diodesrc" gst-launch-1.0 -q \
        diodesrc relay=127.0.0.1:"$RELAY_PORT" relay-id="$RELAY_ADDR" \
        stream="cost-$name-$frames" timeout=$((max * 1000)) ! \
        filesink location="$bench_tmp/recv.bin" sync=false
      recv_tpid=$SPAWN_TPID
      sleep 1
      set -- "$@" relay=127.0.0.1:"$RELAY_PORT" relay-id="$RELAY_ADDR" \
        stream="cost-$name-$frames" ;;
  esac
  toggle=""
  case $name in diodesink) toggle="--toggle-collect=gst_diode_sink_render --toggle-collect=gst_diode_sink_writer_thread";; esac
  cgout=$bench_tmp/cg.$name.$frames
  # shellcheck disable=SC2046,SC2086
  env $envs timeout "$max" valgrind --tool=callgrind -q \
    --callgrind-out-file="$cgout" $toggle \
    gst-launch-1.0 -q $(upstream "$frames") ! "$@" sync=false \
    > "$bench_tmp/cg.log" 2>&1 || {
      cat "$bench_tmp/cg.log" >&2; die "callgrind run $name $frames failed"; }
  if [ -n "$recv_tpid" ]; then
    # let the receiver write out what is still in flight (diodesrc ends by
    # itself at the stream's EOS)
    for _i in $(seq 1 40); do
      kill -0 "$recv_tpid" 2>/dev/null || break
      case $name in diodesink*) sleep 0.25 ;; *) sleep 1; break ;; esac
    done
    bench_stop "$recv_tpid"
    check_delivery "$name" "$frames"
  fi
  sed -n 's/^summary: //p' "$cgout"
}

b1=$(frame_bytes "$N1")
b2=$(frame_bytes "$N2")
log "bytes: $N1 frames = $b1, $N2 frames = $b2"
# 0.5 s of the clip by default
[ -n "$SRT_TAIL_MAX" ] || SRT_TAIL_MAX=$((b2 * 30 / N2 / 2))

measure () { # NAME ENVS... -- SINK...
  name=$1; shift
  ir1=$(run_cg "$name" "$N1" "$@")
  ir2=$(run_cg "$name" "$N2" "$@")
  d1=$(sed -n "s/^$name $N1 //p" "$bench_tmp/delivered" 2>/dev/null | tail -n1)
  # (the diodesink-all runs below are checked the same way in run_cg)
  d2=$(sed -n "s/^$name $N2 //p" "$bench_tmp/delivered" 2>/dev/null | tail -n1)
  dl="\"d1\":${d1:-null},\"d2\":${d2:-null}"
  if [ "$name" = diodesink ]; then
    # the same runs again without the toggle: whole-process numbers
    r1=$(run_cg diodesink-all "$N1" "$@")
    r2=$(run_cg diodesink-all "$N2" "$@")
    echo "{\"sink\":\"$name\",\"n1\":$N1,\"n2\":$N2,\"b1\":$b1,\"b2\":$b2,\"ir1\":$r1,\"ir2\":$r2,\"render1\":$ir1,\"render2\":$ir2,$dl}" >> "$out"
  else
    echo "{\"sink\":\"$name\",\"n1\":$N1,\"n2\":$N2,\"b1\":$b1,\"b2\":$b2,\"ir1\":$ir1,\"ir2\":$ir2,$dl}" >> "$out"
  fi
  log "$name done"
}

noaes="GNUTLS_CPUID_OVERRIDE=0x1 NETTLE_FAT_OVERRIDE=none"
measure fakesink -- fakesink
measure diodesink -- diodesink
measure srtsink -- srtsink
measure tcpclientsink -- tcpclientsink
# shellcheck disable=SC2086
measure diodesink-noaes $noaes -- diodesink
# shellcheck disable=SC2086
measure srtsink-noaes $noaes -- srtsink
bench_stop "$RELAY_TPID"

python3 - "$out" "$(machine_line)" <<'EOF' | tee "$RESULTS/pubcost.txt"
import json, sys
rows = {}
for l in open(sys.argv[1]):
    if l.strip():
        r = json.loads(l); rows[r["sink"]] = r
print("publisher cost: %s" % sys.argv[2])
print("callgrind Ir (user-space instructions, every thread) per published byte")
def marg(r):
    return (r["ir2"] - r["ir1"]) / (r["b2"] - r["b1"])
base = marg(rows["fakesink"])
print("| sink | Ir/B total (N2 run) | Ir/B marginal | sink Ir/B (minus fakesink) | sink's own functions Ir/B | delivered (N1, N2) |")
print("|---|---|---|---|---|---|")
res = {}
for name in ("fakesink", "tcpclientsink", "srtsink", "diodesink", "srtsink-noaes", "diodesink-noaes"):
    r = rows.get(name)
    if not r:
        continue
    m = marg(r)
    res[name] = m - base
    ren = "-"
    if "render2" in r:
        ren = "%.2f" % ((r["render2"] - r["render1"]) / (r["b2"] - r["b1"]))
    dl = "-"
    if r.get("d1") is not None and r.get("d2") is not None:
        dl = "%.1f %%, %.1f %%" % (100.0 * r["d1"] / r["b1"], 100.0 * r["d2"] / r["b2"])
    print("| %s | %.2f | %.2f | %s | %s | %s |" % (name, r["ir2"] / r["b2"], m,
          "-" if name == "fakesink" else "%.2f" % (m - base), ren, dl))
print()
print("ratios of sink Ir/B (lower is better for diodesink)")
print("| comparison | ratio |")
print("|---|---|")
for a, b in (("diodesink", "srtsink"), ("diodesink", "tcpclientsink"),
             ("diodesink-noaes", "srtsink-noaes")):
    if a in res and b in res and res[b] > 0:
        print("| %s / %s | %.2f |" % (a, b, res[a] / res[b]))
EOF
log "results in $RESULTS"
