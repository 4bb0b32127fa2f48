#!/bin/sh
# gst-diode — runs the browser suite (test-player.mjs) under whatever node
# is on PATH at test time, not at configure time, so the test always
# exists in `meson test` and says why when it cannot run.
#   run.sh RELAY DIODE PLUGIN_DIR [SCREENSHOT.png]
# Missing node (or, in test-player.mjs, playwright-core or /usr/bin/chromium):
# exit 77, skipped, with the reason. With DIODE_REQUIRE_BROWSER=1 (set by
# scripts/test.sh, whose setup.sh installs all three) a missing piece is a
# failure instead: CI must not go green without running the browser.
here=$(dirname "$0")
node=$(command -v node || command -v nodejs || true)
if [ -z "$node" ]; then
  if [ "${DIODE_REQUIRE_BROWSER:-0}" = 1 ]; then
    echo "FAIL: no node or nodejs on PATH (Debian package nodejs, installed by scripts/setup.sh) and DIODE_REQUIRE_BROWSER=1" >&2
    exit 1
  fi
  echo "SKIP: no node or nodejs on PATH (Debian package nodejs, installed by scripts/setup.sh)"
  exit 77
fi
exec "$node" "$here/test-player.mjs" "$@"
