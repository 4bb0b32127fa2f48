#!/bin/sh
# gst-diode — install what is missing, build with warnings as errors, run the
# whole test suite, then run it again under AddressSanitizer + UBSan; then
# the fuzzers, the armel cross build with its unit suite under qemu-user
# (scripts/cross-armel.sh) and the Debian packages (scripts/package.sh).
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the unit suite only, no sanitizer pass
set -eu
cd "$(dirname "$0")/.."

QUICK=0
[ "${1:-}" = "--quick" ] && QUICK=1

scripts/setup.sh build
if [ $QUICK = 1 ]; then
  meson test -C build --suite unit --print-errorlogs
  exit 0
fi

status=0
# setup.sh installed node, playwright-core and chromium: the browser suite
# must run, a missing piece is a failure, not a skip (tests/browser/run.sh).
export DIODE_REQUIRE_BROWSER=1
# The default run: every suite but the long fault tests, valgrind and the
# fuzzers (those have their own commands, docs/testing.md).
SKIP="--no-suite faults-long --no-suite elements-long --no-suite tree-long --no-suite valgrind --no-suite fuzz --no-suite nat"
# shellcheck disable=SC2086
meson test -C build --print-errorlogs --logbase suite $SKIP || status=1
# The NAT cases (root, namespaces, one at a time, 25-35 s each) run once
# each: these three here, the other three under ASan below, which covers
# the most direct-path code (CI's 30 minutes; docs/testing.md).
meson test -C build --print-errorlogs --logbase natdefault nat-lan \
  nat-symmetric nat-no-turn || status=1
# The resource-limit attacks at full size (docs/security.md section 9): an
# honest publisher and viewer measured while one client attacks a relay
# process, relay RSS bounded (about 2.5 minutes).
meson test -C build --print-errorlogs --logbase long --suite elements-long \
  || status=1

echo "== the same suite under AddressSanitizer + UBSan"
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
  -Dbuildtype=debug
# The plugin is ASan-built: scan it in the test process, not in the
# uninstrumented gst-plugin-scanner helper.
export GST_REGISTRY_FORK=no
# The suppressions in tests/lsan.supp match function names, so stacks must be
# symbolized: use the symbolizer setup.sh installed, never whatever happens to
# be on PATH, and refuse to run the pass without it (an unsymbolized run
# reports GLib's start-up allocations as leaks).
ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
if [ ! -x "$ASAN_SYMBOLIZER_PATH" ]; then
  echo "test.sh: $ASAN_SYMBOLIZER_PATH is missing (Debian package llvm-14)" >&2
  exit 1
fi
export ASAN_SYMBOLIZER_PATH
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:external_symbolizer_path=$ASAN_SYMBOLIZER_PATH
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0:symbolize=1
# Build the plugin registry once with leak checking off: scanning the
# system's plugins in an instrumented process reports their leaks, not ours.
# Same environment as meson's test_env, so the registry stays valid.
GST_PLUGIN_PATH_1_0=$PWD/build-asan/gst/elements \
GST_REGISTRY_1_0=$PWD/build-asan/tests/registry.bin \
ASAN_OPTIONS=detect_leaks=0 \
  build-asan/tests/unit/test-ring > /dev/null 2>&1 || true
# Leak checking on for everything of ours (the relay runs in-process in the
# elements and web suites). The integration suite loads libav and x264, under which
# LeakSanitizer's own tracer crashes at exit; memory errors are still fatal.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 \
  meson test -C build-asan --print-errorlogs --timeout-multiplier 3 \
    --suite unit --suite elements --suite web --suite examples \
    --logbase suite || status=1
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  meson test -C build-asan --print-errorlogs --timeout-multiplier 3 \
    --suite integration --suite recording --suite faults --suite tree \
    --logbase integrationlog \
    || status=1
# Under ASan the NAT cases that reach the most direct-path code (server-
# reflexive through two NATs, TURN, a cut mid-stream and the fallback); the
# other three run in the default pass above. All six in both passes would
# take CI past its 30 minutes (about 2.7 min of namespaces per pass).
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  meson test -C build-asan --print-errorlogs --timeout-multiplier 3 \
    --logbase natlog nat-nat nat-turn nat-cut \
    || status=1

# The fuzzers are bounded by time, not work (10 s each): they run in the
# background while the camera's build and the packages are made and
# checked, which keeps CI under its 30 minutes (docs/testing.md).
echo "== fuzzers (libFuzzer + ASan + UBSan), bounded, in the background"
FUZZ_OK=0 FUZZ_BAD=0
fuzz_pid=""
if [ -x tests/fuzz/run.sh ]; then
  tests/fuzz/run.sh "${DIODE_FUZZ_SECONDS:-10}" > build/fuzz.log 2>&1 &
  fuzz_pid=$!
fi

# The camera: Debian armel cross build, the unit suite under
# qemu-arm -cpu arm1176 (the Pi Zero's core, no AES instructions).
echo "== 32-bit ARM (armel): cross build, unit suite under qemu-user"
ARM_OK=0 ARM_BAD=0
if scripts/cross-armel.sh all; then ARM_OK=1; else ARM_BAD=1; status=1; fi

# The .debs for amd64 and armel, lintian, clean roots with them installed
# (gst-inspect, the units' commands, every example).
echo "== Debian packages: amd64 and armel, lintian, clean roots"
PKG_OK=0 PKG_BAD=0
if scripts/package.sh all; then PKG_OK=1; else PKG_BAD=1; status=1; fi

if [ -n "$fuzz_pid" ]; then
  if wait "$fuzz_pid"; then FUZZ_OK=1; else FUZZ_BAD=1; status=1; fi
  echo "== fuzzers (their log)"
  cat build/fuzz.log
fi

# One closing line for whoever reads the log.
FUZZ_OK=$((FUZZ_OK + ARM_OK + PKG_OK)) FUZZ_BAD=$((FUZZ_BAD + ARM_BAD + PKG_BAD)) python3 - build/meson-logs/suite.json build/meson-logs/natdefault.json build/meson-logs/long.json build-asan/meson-logs/suite.json build-asan/meson-logs/integrationlog.json build-asan/meson-logs/natlog.json <<'PY'
import json, os, sys
ok = int(os.environ.get("FUZZ_OK", 0))
bad = int(os.environ.get("FUZZ_BAD", 0))
skip = 0
for path in sys.argv[1:]:
    try:
        for line in open(path):
            if not line.strip():
                continue
            r = json.loads(line).get("result")
            if r in ("OK", "EXPECTEDFAIL"): ok += 1
            elif r == "SKIP": skip += 1
            else: bad += 1
    except FileNotFoundError:
        bad += 1
print(f"{ok} passed, {bad} failed, {skip} skipped")
PY
exit $status
