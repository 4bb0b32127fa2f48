#!/bin/sh
# gst-diode — install what is missing (Debian 12), configure and build.
# Idempotent: a second run installs nothing and rebuilds only what changed.
#   scripts/setup.sh [BUILD_DIR [MESON_OPTIONS...]]
set -eu
cd "$(dirname "$0")/.."

# llvm-14 brings llvm-symbolizer: without it sanitizer stacks are not
# symbolized and tests/lsan.supp (which matches function names) never matches.
# chromium, nodejs, npm: the browser suite (tests/browser: Debian's Chromium
# driven by playwright-core 1.60, which runs on Debian 12's node 18); glib-networking: TLS
# for the relay's HTTPS. coturn, iptables, iproute2, curl: the NAT suite
# (tests/nat: namespaces, MASQUERADE, a TURN server it starts itself, the
# relay's /metrics). python3-gi, gir1.2-gstreamer-1.0: the Python examples
# (examples/, PyGObject; the `examples` test runs them). systemd: the
# packaging suite verifies the units and boots it as PID 1 in namespaces to
# run them (tests/packaging). A nodejs that
# brings its own npm (NodeSource's conflicts with Debian's npm package) is
# kept: npm is asked for only when there is no npm command.
PACKAGES="meson ninja-build pkg-config gcc libglib2.0-dev zlib1g-dev libgnutls28-dev libjson-glib-dev libsoup-3.0-dev \
libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools \
gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad \
gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x \
gstreamer1.0-plugins-base-apps python3 openssl clang libclang-rt-14-dev llvm-14 \
glib-networking chromium nodejs libnice-dev coturn iptables iproute2 curl python3-gi gir1.2-gstreamer-1.0 systemd"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

. scripts/apt-missing.sh
# shellcheck disable=SC2086
apt_install_missing setup $PACKAGES || exit 1

# The browser suite's one npm package, playwright-core, is the published
# release's own tarball kept in tests/browser/vendor/ (its sha512 is npm's
# dist.integrity, checked by npm ci against package-lock.json): installed
# offline, so the suite needs no registry (a machine behind a TLS-inspecting
# proxy could not reach it; docs/decisions.md), and again only when the lock
# file changed. playwright-core downloads no browser: the tests use
# /usr/bin/chromium.
if [ ! -f tests/browser/node_modules/.package-lock.json ] \
  || [ tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --offline --no-audit --no-fund --loglevel=error)
fi

BUILD=${1:-build}
[ $# -gt 0 ] && shift
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" -Dwerror=true "$@"
fi
ninja -C "$BUILD"
