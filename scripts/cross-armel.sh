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
#
# Environment: ARMEL_SYSROOT (default /var/tmp/diode-armel/sysroot),
# ARMEL_MIRROR (default: the first Debian mirror apt uses here, else
# http://deb.debian.org/debian), ARMEL_SUITE (bookworm).
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
TOP=$PWD

SYSROOT=${ARMEL_SYSROOT:-/var/tmp/diode-armel/sysroot}
SUITE=${ARMEL_SUITE:-bookworm}
# The cross file sits beside the sysroot, so one sysroot has one cross file.
CROSS_FILE=$(dirname "$SYSROOT")/armel-cross.ini
STAMP=$SYSROOT/.diode-sysroot-complete
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
  missing=""
  for p in $HOST_PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages; as root: apt-get install$missing"
  log "installing:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  # shellcheck disable=SC2086
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
    $missing >&2
}

# The Debian mirror apt uses here (one-line or deb822 sources), so the
# sysroot comes from the same place as the host's packages.
mirror () {
  if [ -n "${ARMEL_MIRROR:-}" ]; then echo "$ARMEL_MIRROR"; return; fi
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^deb[ \t]/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }
           /^URIs:/ { print $2; exit }' | grep -v security | head -n 1)
  case "$m" in
    */debian|*/debian/) echo "${m%/}" ;;
    *) echo http://deb.debian.org/debian ;;
  esac
}

write_cross_file () {
  tmp=$CROSS_FILE.tmp.$$
  cat > "$tmp" <<EOF
# Written by scripts/cross-armel.sh: Debian armel, sysroot $SYSROOT
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
  if [ ! -f "$STAMP" ]; then
    m=$(mirror)
    log "making the armel sysroot at $SYSROOT from $m ($SUITE)"
    rm -rf "$SYSROOT"
    mkdir -p "$(dirname "$SYSROOT")"
    # extract: the packages and their dependencies unpacked, nothing run.
    # shellcheck disable=SC2086
    mmdebstrap --quiet --variant=extract --arch=armel \
      --include="$(echo $ARMEL_PACKAGES | tr ' ' ',')" \
      "$SUITE" "$SYSROOT" \
      "deb $m $SUITE main" "deb $m $SUITE-updates main" >&2
    # Debian's -dev symlinks are relative, but a few libraries' are
    # absolute (/lib/...): point those into the sysroot.
    find "$SYSROOT/usr/lib/$TRIPLET" -maxdepth 1 -type l -lname '/*' |
      while read -r l; do
        ln -sf "$SYSROOT$(readlink "$l")" "$l"
      done
    touch "$STAMP"
  fi
  [ -f "$CROSS_FILE" ] && grep -q "sysroot $SYSROOT\$" "$CROSS_FILE" || write_cross_file
}

cross_file () {
  # Fast path (debian/rules calls this): nothing to install or check.
  if [ ! -f "$STAMP" ] || [ ! -f "$CROSS_FILE" ]; then
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
  # The CLI tests are shell scripts: they run the armel diode through this.
  DIODE_EXE_WRAPPER="qemu-arm -cpu $QEMU_CPU -L $SYSROOT"
  export DIODE_EXE_WRAPPER
  # shellcheck disable=SC2086
  meson test -C "$dir" --suite unit --print-errorlogs $(unit_exclusions)
}

# Unit tests that cannot run under qemu-user, each with its reason
# (docs/testing.md "armel"). Printed as meson test --no-suite/names.
unit_exclusions () {
  :
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
  all)
    T0=$(date +%s)
    timed make_sysroot
    timed do_build "$@"
    timed do_test "$@"
    log "all took $(($(date +%s) - T0)) s"
    ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
