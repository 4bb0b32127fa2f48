#!/bin/sh
# gst-diode — build the libFuzzer harnesses and run them (see README.md here).
#
#   tests/fuzz/run.sh [SECONDS] [--runs N] [--jobs N] [--targets "frame session ring"]
#                     [--build-dir DIR] [--make-corpus] [-- LIBFUZZER_ARGS...]
#
#   SECONDS       fuzzing time per target (default 30; with --runs alone: no limit)
#   --runs N      stop a target after N executions in total (split over the jobs)
#   --jobs N      parallel fuzzing processes per target (-jobs=N -workers=N)
#   --targets     which harnesses (default: frame session ring store caps token stun)
#   --build-dir   where binaries go (default: build-fuzz/ at the top of the tree)
#   --make-corpus rebuild tests/fuzz/corpus/ with make-corpus.c, then exit
#
# For each target: compile with clang -fsanitize=fuzzer,address,undefined,
# replay every input in tests/fuzz/regressions/<target>/, then fuzz a copy of
# tests/fuzz/corpus/<target>/ (the committed corpus is never written). An
# input that crashes, leaks, times out or runs out of memory is copied to
# tests/fuzz/regressions/<target>/ and the script exits 1.
# Exit 77 (meson's "skipped") when clang or its libFuzzer runtime is missing.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

SECONDS_PER_TARGET=
RUNS=
JOBS=1
TARGETS="frame session ring store caps token stun"
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
MAKE_CORPUS=0

usage() {
  sed -n '2,20s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    --jobs) JOBS=$2; shift 2 ;;
    --jobs=*) JOBS=${1#*=}; shift ;;
    --targets) TARGETS=$2; shift 2 ;;
    --targets=*) TARGETS=${1#*=}; shift ;;
    --build-dir) BUILD=$2; shift 2 ;;
    --build-dir=*) BUILD=${1#*=}; shift ;;
    --make-corpus) MAKE_CORPUS=1; shift ;;
    -h|--help) usage ;;
    --) shift; break ;;
    [0-9]*) SECONDS_PER_TARGET=$1; shift ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
# what is left goes to libFuzzer as is
EXTRA_ARGS="$*"

case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
if [ -z "$SECONDS_PER_TARGET" ]; then
  if [ -n "$RUNS" ]; then SECONDS_PER_TARGET=0; else SECONDS_PER_TARGET=30; fi
fi

# ---------------------------------------------------------------------------
# Toolchain

CC=${CC:-}
if [ -z "$CC" ] || ! $CC --version 2>/dev/null | grep -qi clang; then
  CC=
  for c in clang clang-14; do
    if command -v $c > /dev/null 2>&1; then CC=$c; break; fi
  done
fi
if [ -z "$CC" ]; then
  echo "run.sh: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 77
fi
if ! command -v pkg-config > /dev/null 2>&1 || ! pkg-config --exists glib-2.0; then
  echo "run.sh: pkg-config or glib-2.0 development files missing" >&2
  exit 77
fi

mkdir -p "$BUILD"
if [ ! -f "$BUILD/.libfuzzer-ok" ]; then
  printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ return 0; }\n' \
    > "$BUILD/probe.c"
  if ! $CC -fsanitize=fuzzer,address,undefined "$BUILD/probe.c" -o "$BUILD/probe" \
      > "$BUILD/probe.log" 2>&1; then
    cat "$BUILD/probe.log" >&2
    echo "run.sh: $CC cannot link libFuzzer (Debian: apt-get install libclang-rt-14-dev)" >&2
    exit 77
  fi
  touch "$BUILD/.libfuzzer-ok"
fi

# Readable stacks: ASan looks for llvm-symbolizer in PATH.
if ! command -v llvm-symbolizer > /dev/null 2>&1; then
  for s in /usr/lib/llvm-14/bin/llvm-symbolizer /usr/bin/llvm-symbolizer-14; do
    if [ -x "$s" ]; then export ASAN_SYMBOLIZER_PATH=$s; break; fi
  done
fi

GLIB_CFLAGS=$(pkg-config --cflags glib-2.0)
# zlib: the chunk CRC of protocol version 3 (diode-msg-store.c)
GLIB_LIBS="$(pkg-config --libs glib-2.0) $(pkg-config --libs zlib 2>/dev/null || echo -lz)"
SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
-Wno-missing-field-initializers -DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 \
-DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74"

sources_of() {
  case $1 in
    frame) echo "$ROOT/gst/protocol/diode-msg.c $ROOT/gst/protocol/diode-msg-field.c $ROOT/gst/protocol/diode-msg-link.c $ROOT/gst/protocol/diode-msg-store.c $ROOT/gst/protocol/diode-msg-direct.c $ROOT/gst/protocol/diode-msg-list.c" ;;
    session) echo "$ROOT/gst/protocol/diode-msg.c $ROOT/gst/protocol/diode-msg-field.c $ROOT/gst/protocol/diode-msg-link.c $ROOT/gst/protocol/diode-msg-store.c $ROOT/gst/protocol/diode-msg-direct.c $ROOT/gst/protocol/diode-msg-list.c $ROOT/gst/protocol/diode-session.c $ROOT/gst/protocol/diode-session-send.c" ;;
    ring) echo "$ROOT/gst/buffering/diode-ring.c" ;;
    caps) echo "$ROOT/gst/protocol/diode-caps-info.c" ;;
    stun) echo "$ROOT/gst/protocol/diode-stun.c" ;;
    store) echo "$ROOT/gst/store/diode-chunkrec.c $ROOT/gst/store/diode-store.c \
$ROOT/gst/store/diode-store-index.c $ROOT/gst/store/diode-store-writer.c $ROOT/gst/store/diode-store-retention.c \
$ROOT/gst/store/diode-store-read.c $ROOT/gst/buffering/diode-ring.c \
$ROOT/gst/protocol/diode-msg.c $ROOT/gst/protocol/diode-msg-field.c $ROOT/gst/protocol/diode-msg-link.c $ROOT/gst/protocol/diode-msg-store.c $ROOT/gst/protocol/diode-msg-direct.c $ROOT/gst/protocol/diode-msg-list.c" ;;
    token) echo "$ROOT/gst/protocol/diode-link-token.c $ROOT/gst/protocol/diode-msg.c $ROOT/gst/protocol/diode-msg-field.c $ROOT/gst/protocol/diode-msg-link.c $ROOT/gst/protocol/diode-msg-store.c $ROOT/gst/protocol/diode-msg-direct.c $ROOT/gst/protocol/diode-msg-list.c" ;;
    *) echo "run.sh: unknown target '$1' (frame, session, ring, store, caps, token, stun)" >&2; exit 2 ;;
  esac
}

# Inputs of up to 70000 bytes: a whole control frame (64 KiB payload limit),
# text fields past their 4096-byte limit, and feeds past the session's first
# 4096-byte buffer. The ring harness's programs need no more than the default.
max_len_of() {
  case $1 in
    frame|session) echo 70000 ;;
    store) echo 65536 ;;
    token) echo 2048 ;;
    stun) echo 600 ;;
    *) echo 4096 ;;
  esac
}

# Rebuilds $BUILD/fuzz-$1 when a source is newer than it.
build() {
  t=$1
  bin=$BUILD/fuzz-$t
  srcs=$(sources_of "$t")
  # shellcheck disable=SC2086
  if [ -x "$bin" ] && [ -z "$(find "$HERE/fuzz-$t.c" "$HERE/fuzz-common.h" \
      "$ROOT"/gst/protocol/*.[ch] "$ROOT"/gst/buffering/*.[ch] "$ROOT"/gst/store/*.[ch] \
      -newer "$bin" 2>/dev/null)" ]; then
    return 0
  fi
  echo "== building fuzz-$t"
  # shellcheck disable=SC2086
  $CC $CFLAGS $SAN -I"$ROOT/gst/protocol" -I"$ROOT/gst/buffering" -I"$ROOT/gst/store" $GLIB_CFLAGS \
    "$HERE/fuzz-$t.c" $srcs $GLIB_LIBS -o "$bin"
}

# ---------------------------------------------------------------------------
# Seed corpus

if [ $MAKE_CORPUS = 1 ]; then
  echo "== building make-corpus"
  # shellcheck disable=SC2086
  $CC $CFLAGS -I"$ROOT/gst/protocol" $GLIB_CFLAGS "$HERE/make-corpus.c" \
    "$ROOT/gst/protocol/diode-msg.c" "$ROOT/gst/protocol/diode-msg-field.c" \
    "$ROOT/gst/protocol/diode-msg-link.c" \
    "$ROOT/gst/protocol/diode-msg-store.c" "$ROOT/gst/protocol/diode-msg-direct.c" "$ROOT/gst/protocol/diode-msg-list.c" \
    $GLIB_LIBS -o "$BUILD/make-corpus"
  rm -rf "$HERE/corpus/frame" "$HERE/corpus/session" "$HERE/corpus/ring"
  "$BUILD/make-corpus" "$HERE/corpus"
  # the store's seeds are written by the store itself (fuzz-store.c)
  build store
  rm -rf "$HERE/corpus/store"
  FUZZ_STORE_MAKE_CORPUS="$HERE/corpus/store" G_SLICE=always-malloc "$BUILD/fuzz-store"
  for d in frame session ring store; do
    echo "corpus/$d: $(find "$HERE/corpus/$d" -type f | wc -l) files, $(cat "$HERE/corpus/$d"/* | wc -c) bytes"
  done
  exit 0
fi

# ---------------------------------------------------------------------------
# Run

# GLib's own allocator would hide GBytes/GArray memory from ASan and LSan
# (the harnesses restart themselves with it too).
export G_SLICE=always-malloc
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

status=0
summary=""
for t in $TARGETS; do
  build "$t"
  bin=$BUILD/fuzz-$t
  reg=$HERE/regressions/$t

  # 1. every input that once crashed must pass now
  nreg=0
  if [ -d "$reg" ]; then
    set --
    for f in "$reg"/*; do
      [ -f "$f" ] || continue
      case $(basename "$f") in README*|.*) continue ;; esac
      set -- "$@" "$f"
    done
    nreg=$#
    if [ $nreg -gt 0 ]; then
      if ! "$bin" -rss_limit_mb=2048 -timeout=10 -error_exitcode=1 "$@" > "$BUILD/regressions-$t.log" 2>&1; then
        tail -n 60 "$BUILD/regressions-$t.log" >&2
        echo "run.sh: fuzz-$t FAILS on a regression input in tests/fuzz/regressions/$t/" \
             "(log: $BUILD/regressions-$t.log)" >&2
        status=1
        summary="$summary
fuzz-$t: REGRESSION FAILED"
        continue
      fi
    fi
  fi

  # 2. fuzz a copy of the seed corpus
  work=$(mktemp -d "${TMPDIR:-/tmp}/diode-fuzz-$t.XXXXXX")
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$HERE/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
  seeds=$(find "$work/corpus" -type f | wc -l)
  set -- -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 \
    -max_len="$(max_len_of "$t")" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/"
  if [ -n "$RUNS" ]; then
    set -- "$@" -runs=$(( (RUNS + JOBS - 1) / JOBS ))
  fi
  if [ "$JOBS" -gt 1 ]; then
    set -- "$@" -jobs="$JOBS" -workers="$JOBS"
  fi
  echo "== fuzz-$t: $seeds seeds, $nreg regression inputs, ${SECONDS_PER_TARGET}s${RUNS:+, $RUNS runs}, $JOBS job(s)"
  start=$(date +%s)
  rc=0
  # jobs write fuzz-N.log into the current directory
  # shellcheck disable=SC2086
  (cd "$work" && "$bin" "$@" $EXTRA_ARGS "$work/corpus" > "$work/main.log" 2>&1) || rc=$?
  end=$(date +%s)

  # with -jobs each job logs to fuzz-N.log and the parent repeats those logs
  if [ "$JOBS" -gt 1 ]; then logs=$(ls "$work"/fuzz-*.log 2>/dev/null || true)
  else logs=$work/main.log; fi
  # shellcheck disable=SC2086
  execs=$(cat $logs | sed -n 's/^stat::number_of_executed_units: *//p' \
    | awk '{s += $1} END {print s + 0}')
  final=$(find "$work/corpus" -type f | wc -l)
  # libFuzzer's last status line per job: edge coverage and corpus units
  # shellcheck disable=SC2086
  cov=$(for l in $logs; do grep -E '^#[0-9]+.* cov: ' "$l" | tail -n 1; done \
    | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p' \
    | sort -n | tail -n 1 | awk '{printf "cov %s, ft %s, %s units", $1, $2, $3}')
  crashes=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
    -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)

  if [ "$crashes" -gt 0 ] || [ $rc -ne 0 ]; then
    mkdir -p "$reg"
    find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
      -o -name 'timeout-*' -o -name 'oom-*' \) -exec cp {} "$reg/" \;
    for l in $logs; do
      if grep -q -E 'ERROR: |invariant broken|SUMMARY: ' "$l"; then
        grep -v -E '^(#[0-9]|INFO:|\[|Done|MERGE|stat::)' "$l" | tail -n 80 >&2
      fi
    done
    echo "run.sh: fuzz-$t FOUND $crashes crash(es) (exit $rc); input(s) kept in" \
         "tests/fuzz/regressions/$t/, logs in $work" >&2
    status=1
    summary="$summary
fuzz-$t: $execs executions in $((end - start)) s, $crashes crash(es) (exit $rc)"
  else
    line="fuzz-$t: $execs executions in $((end - start)) s ($JOBS job(s)), corpus $seeds -> $final files${cov:+ ($cov)}, 0 crashes"
    echo "$line"
    summary="$summary
$line"
    rm -rf "$work"
  fi
done

echo "== fuzzing summary$summary"
exit $status
