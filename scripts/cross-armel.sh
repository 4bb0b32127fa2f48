#!/bin/sh
# gst-diode — cross build for Debian armel (the camera: a Pi Zero, ARMv6,
# no AES instructions) and the unit suite under qemu-user.
#
#   scripts/cross-armel.sh sysroot      install the cross toolchain, qemu-user
#                                       and mmdebstrap (what is missing), make
#                                       the armel sysroot and its meson cross
#                                       file; print the cross file's path
#   scripts/cross-armel.sh cross-file   print the cross file's path (makes the
#                                       sysroot first when it is not there)
#   scripts/cross-armel.sh build [DIR]  meson setup DIR (build-armel) with the
#                                       cross file, -Dwerror=true; ninja
#   scripts/cross-armel.sh test [DIR]   the unit suite under qemu-arm
#   scripts/cross-armel.sh all [DIR]    sysroot + build + test, timed
#   scripts/cross-armel.sh test-elements [DIR]  (not in all) the element
#                                       tests that run in one process
#
# Environment: ARMEL_SYSROOT (default /var/tmp/diode-armel/sysroot),
# ARMEL_MIRROR (default: the first Debian mirror apt uses here, else
# http://deb.debian.org/debian), ARMEL_SECURITY_MIRROR (default: apt's
# debian-security URI if any; empty: none), ARMEL_SUITE (bookworm).
#
# Why a sysroot: in Debian 12 libgstreamer-plugins-base1.0-dev is not
# Multi-Arch: same, so the armel one cannot be installed beside the amd64
# one. The armel -dev packages are unpacked (mmdebstrap --variant=extract,
# no maintainer scripts, no emulation) into a directory of their own; the
# cross file points the compiler (--sysroot), pkg-config (sys_root,
# pkg_config_libdir) and qemu-arm (-L) at it. Build-time tools
# (glib-compile-resources) are the host's. docs/testing.md "armel".
set -eu
cd "$(dirname "$0")/.."
. scripts/apt-missing.sh

SYSROOT=${ARMEL_SYSROOT:-/var/tmp/diode-armel/sysroot}
SUITE=${ARMEL_SUITE:-bookworm}
# The cross file sits beside the sysroot, so one sysroot has one cross file.
CROSS_FILE=$(dirname "$SYSROOT")/armel-cross.ini
STAMP=$SYSROOT/.diode-sysroot-complete
# Bumped when write_cross_file changes: an older cross file is rewritten.
CROSS_FORMAT=format-1
TRIPLET=arm-linux-gnueabi
# qemu-arm's CPU: the Pi Zero's ARM1176JZF-S (ARMv6, no AES instructions).
QEMU_CPU=arm1176

HOST_PACKAGES="gcc-$TRIPLET qemu-user mmdebstrap"
# What meson.build asks for (glib, gio, gstreamer + base + check + app +
# video for the tests, gnutls, json-glib, libsoup 3, libnice, zlib), armel.
# Their dependencies come too (mmdebstrap resolves them); the runtime
# libraries among them are what qemu-arm -L loads.
ARMEL_PACKAGES="libc6-dev libglib2.0-dev libgstreamer1.0-dev \
libgstreamer-plugins-base1.0-dev libgnutls28-dev libjson-glib-dev \
libsoup-3.0-dev libnice-dev zlib1g-dev"

log () { echo "cross-armel: $*" >&2; }
die () { log "$*"; exit 1; }

install_host_packages () {
  # shellcheck disable=SC2086
  apt_install_missing cross-armel $HOST_PACKAGES || exit 1
}

# The Debian mirror apt uses here (one-line or deb822 sources), so the
# sysroot comes from the same place as the host's packages.
mirror () {
  if [ -n "${ARMEL_MIRROR:-}" ]; then echo "$ARMEL_MIRROR"; return; fi
  m=$(apt_uris | grep -m 1 -E '/debian/*$' || true)
  echo "${m:-http://deb.debian.org/debian}" | sed 's|/*$||'
}

# Every URI of apt's sources here (one-line and deb822 forms).
apt_uris () {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; break } }
         /^URIs:/ { for (i = 2; i <= NF; i++) print $i }'
}

# The security archive, when apt here uses one (headers match the host's).
security_mirror () {
  if [ -n "${ARMEL_SECURITY_MIRROR+set}" ]; then echo "$ARMEL_SECURITY_MIRROR"; return; fi
  apt_uris | grep -m 1 -E '/debian-security/*$' | sed 's|/*$||' || true
}

write_cross_file () {
  tmp=$CROSS_FILE.tmp.$$
  cat > "$tmp" <<EOF
# Written by scripts/cross-armel.sh ($CROSS_FORMAT): Debian armel, sysroot $SYSROOT
[binaries]
c = '$TRIPLET-gcc'
ar = '$TRIPLET-ar'
strip = '$TRIPLET-strip'
pkgconfig = 'pkg-config'
exe_wrapper = ['qemu-arm', '-cpu', '$QEMU_CPU', '-L', '$SYSROOT']

[properties]
sys_root = '$SYSROOT'
pkg_config_libdir = ['$SYSROOT/usr/lib/$TRIPLET/pkgconfig', '$SYSROOT/usr/share/pkgconfig']

[built-in options]
c_args = ['--sysroot=$SYSROOT']
c_link_args = ['--sysroot=$SYSROOT', '-Wl,-rpath-link,$SYSROOT/usr/lib/$TRIPLET', '-Wl,-rpath-link,$SYSROOT/lib/$TRIPLET']

[host_machine]
system = 'linux'
cpu_family = 'arm'
cpu = 'armv5te'
endian = 'little'
EOF
  mv "$tmp" "$CROSS_FILE"
}

make_sysroot () {
  install_host_packages
  mkdir -p "$(dirname "$SYSROOT")"
  # One maker at a time (debian/rules and a developer may both ask): the
  # second waits, then finds the stamp.
  exec 9>"$(dirname "$SYSROOT")/.lock"
  flock 9
  if [ ! -f "$STAMP" ]; then
    m=$(mirror)
    sec=$(security_mirror)
    log "making the armel sysroot at $SYSROOT from $m ($SUITE${sec:+, $sec})"
    rm -rf "$SYSROOT"
    # extract: the packages and their dependencies unpacked, nothing run.
    # shellcheck disable=SC2086
    mmdebstrap --quiet --variant=extract --arch=armel \
      --include="$(echo $ARMEL_PACKAGES | tr ' ' ',')" \
      "$SUITE" "$SYSROOT" \
      "deb $m $SUITE main" "deb $m $SUITE-updates main" \
      ${sec:+"deb $sec $SUITE-security main"} >&2
    # Debian's -dev symlinks are relative, but a few libraries' are
    # absolute (/lib/...): point those into the sysroot.
    find "$SYSROOT/usr/lib/$TRIPLET" -maxdepth 1 -type l -lname '/*' |
      while read -r l; do
        ln -sf "$SYSROOT$(readlink "$l")" "$l"
      done
    sysroot_schemas
    touch "$STAMP"
  fi
  cross_file_current || write_cross_file
  exec 9>&-
}

# Nothing ran in the sysroot, so the GSettings schemas its packages ship
# (glib-networking's proxy module wants gsettings-desktop-schemas') are not
# compiled: without that, GIO aborts a program that resolves a proxy (the
# CLI's `diode link`). The host's compiler makes the same (little-endian)
# file.
sysroot_schemas () {
  d=$SYSROOT/usr/share/glib-2.0/schemas
  [ -d "$d" ] && [ ! -f "$d/gschemas.compiled" ] || return 0
  gcs=$(command -v glib-compile-schemas ||
    find /usr/lib -path '*/glib-2.0/glib-compile-schemas' 2>/dev/null | head -n 1)
  [ -n "$gcs" ] || die "no glib-compile-schemas on this machine (Debian package libglib2.0-0)"
  "$gcs" "$d" >&2
}

# The cross file is this script's current one for this sysroot.
cross_file_current () {
  [ -f "$CROSS_FILE" ] &&
    grep -q "($CROSS_FORMAT): Debian armel, sysroot $SYSROOT\$" "$CROSS_FILE"
}

cross_file () {
  # Fast path (debian/rules calls this): nothing to install, one grep.
  if [ ! -f "$STAMP" ] || ! cross_file_current; then
    make_sysroot
  fi
  echo "$CROSS_FILE"
}

do_build () {
  dir=${1:-build-armel}
  cf=$(cross_file)
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" --cross-file "$cf" -Dwerror=true
  fi
  ninja -C "$dir"
}

do_test () {
  dir=${1:-build-armel}
  [ -f "$dir/build.ninja" ] || die "$dir is not built: scripts/cross-armel.sh build $dir"
  sysroot_schemas
  # The CLI tests are shell scripts: they run the armel diode through this.
  DIODE_EXE_WRAPPER="qemu-arm -cpu $QEMU_CPU -L $SYSROOT"
  export DIODE_EXE_WRAPPER
  # Every unit test runs; the one case that cannot (test-store-fds'
  # /store/fds/emfile re-executes itself, which needs binfmt_misc) skips
  # itself under an exe_wrapper. tls-cipher-aes-cpu (tests/unit/meson.build)
  # runs the cipher test again on qemu-arm -cpu max (AES instructions).
  meson test -C "$dir" --suite unit --print-errorlogs
}

# Element tests (GstHarness + an in-process relay) that also run under
# qemu-user: the others start relay processes or pipelines of plugins the
# sysroot lacks (appsink), and an armel child cannot be exec'd without
# binfmt_misc. The armel GStreamer core plugins come from the sysroot; the
# registry is made in-process (no armel gst-plugin-scanner exec).
ELEMENT_TESTS="elements join relay relay-gather relay-spread conformance \
relay-settings limits-core relay-list version elements-rec"
do_test_elements () {
  dir=${1:-build-armel}
  [ -f "$dir/build.ninja" ] || die "$dir is not built: scripts/cross-armel.sh build $dir"
  # shellcheck disable=SC2086
  GST_PLUGIN_SYSTEM_PATH_1_0=$SYSROOT/usr/lib/$TRIPLET/gstreamer-1.0 \
  GST_REGISTRY_FORK=no \
    meson test -C "$dir" --print-errorlogs $ELEMENT_TESTS
}

timed () {
  t0=$(date +%s)
  "$@"
  t1=$(date +%s)
  log "step '$1' took $((t1 - t0)) s"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  sysroot) make_sysroot; echo "$CROSS_FILE" ;;
  cross-file) cross_file ;;
  build) do_build "$@" ;;
  test) do_test "$@" ;;
  test-elements) timed do_test_elements "$@" ;;
  all)
    T0=$(date +%s)
    timed make_sysroot
    timed do_build "$@"
    timed do_test "$@"
    log "all took $(($(date +%s) - T0)) s"
    ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
