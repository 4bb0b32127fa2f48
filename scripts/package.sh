#!/bin/sh
# gst-diode — Debian packages (amd64 and armel), lintian, and an install into
# clean Debian 12 roots where the installed programs are run.
#
#   scripts/package.sh all     deps, amd64, armel, lint, check (what CI runs)
#   scripts/package.sh deps    install the packaging tools (what is missing)
#   scripts/package.sh amd64   build the amd64 .debs into build-deb/amd64/
#   scripts/package.sh armel   cross build the armel .debs into build-deb/armel/
#                              (scripts/cross-armel.sh's sysroot + cross file)
#   scripts/package.sh lint    lintian on what was built: errors fail, the
#                              warnings are printed
#   scripts/package.sh check   clean roots: amd64 (mmdebstrap minbase, apt
#                              installs the .debs and their dependencies,
#                              maintainer scripts run) and armel (apt resolves,
#                              unpacked, run under qemu-arm); see check_amd64
#
# Environment: DIODE_DEB_OUT (default build-deb), DIODE_DEB_MIRROR (default:
# the Debian mirror apt uses here), DIODE_DEB_KEEP_ROOTS=1 keeps the roots.
# docs/testing.md "Debian packages".
set -eu
cd "$(dirname "$0")/.."
TOP=$PWD
OUT=${DIODE_DEB_OUT:-$TOP/build-deb}
SUITE=bookworm
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
UPSTREAM=${VERSION%-*}
PACKAGES="gstreamer1.0-diode diode-relay diode-tools"
# The Debian packages of the libraries the binaries link (their NEEDED),
# armel: the armel build's dh_shlibdeps reads their symbols files
# (debian/rules). A library missing here fails the build ("cannot find
# library"), it is never silently left out of Depends.
ARMEL_LIBS="libc6 libglib2.0-0 libgstreamer1.0-0 libgnutls30 \
libjson-glib-1.0-0 libsoup-3.0-0 libnice10 zlib1g"

log () { echo "package: $*" >&2; }
die () { log "$*"; exit 1; }

apt_install () {
  missing=""
  for p in "$@"; do
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

do_deps () {
  apt_install debhelper dpkg-dev fakeroot lintian mmdebstrap qemu-user \
    binutils python3
}

# Debian's sources as apt has them here (main archive, updates, security),
# one-line form for mmdebstrap; so the roots come from the mirror the host's
# packages came from. Read from apt-cache policy: the release lines say
# which source is Debian's.
sources () {
  if [ -n "${DIODE_DEB_MIRROR:-}" ]; then
    echo "deb $DIODE_DEB_MIRROR $SUITE main"
    echo "deb $DIODE_DEB_MIRROR $SUITE-updates main"
    return
  fi
  apt-cache policy | awk -v suite="$SUITE" '
    /^ *[0-9]+ (https?|file):/ { uri = $2; dist = $3; next }
    /^ *release / && uri != "" {
      if ($0 ~ /o=Debian,/ && $0 ~ ("n=" suite "(-updates|-security)?,")) {
        split(dist, d, "/")
        line = "deb " uri " " d[1] " main"
        if (!(line in seen)) { seen[line] = 1; print line }
      }
      uri = ""
    }'
}

# The tree as git sees it (tracked and untracked, not ignored), copied so the
# build's files (obj-*, debian/tmp, ../*.deb) stay out of the work tree.
copy_tree () {
  dest=$1
  rm -rf "$dest"
  mkdir -p "$dest"
  git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$dest"
}

build_deps () {
  src=$1
  unmet=$(cd "$src" && dpkg-checkbuilddeps -P nocheck 2>&1 |
    sed -n 's/.*Unmet build dependencies: //p' |
    sed 's/([^)]*)//g; s/<[^>]*>//g; s/|[^ ]*//g')
  # shellcheck disable=SC2086
  [ -z "$unmet" ] || apt_install $unmet
}

do_amd64 () {
  do_deps
  dir=$OUT/amd64
  rm -rf "$dir"
  copy_tree "$dir/gst-diode-$UPSTREAM"
  build_deps "$dir/gst-diode-$UPSTREAM"
  (cd "$dir/gst-diode-$UPSTREAM" &&
    DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
      dpkg-buildpackage -b -us -uc -Pnocheck) > "$dir/build.log" 2>&1 \
    || { tail -n 60 "$dir/build.log" >&2; die "amd64 build failed ($dir/build.log)"; }
  rm -rf "$dir/gst-diode-$UPSTREAM"
  ls "$dir"/*.deb >&2
}

# The armel library packages of ARMEL_LIBS, resolved from the mirror by
# mmdebstrap (download + extract, nothing run), each unpacked with its
# DEBIAN/ into build-deb/armel-libs/PKG; prints their library folders.
armel_libs () {
  libs=$OUT/armel-libs
  rm -rf "$libs"
  mkdir -p "$libs"
  log "fetching the armel libraries the binaries link (for dh_shlibdeps)"
  # shellcheck disable=SC2086
  sources | mmdebstrap --quiet --variant=extract --arch=armel \
    --aptopt='APT::Install-Recommends "false"' --skip=cleanup/apt/cache \
    --include="$(echo $ARMEL_LIBS | tr ' ' ',')" \
    "$SUITE" "$libs/root" - >&2
  dirs=""
  for p in $ARMEL_LIBS; do
    deb=$(ls "$libs/root/var/cache/apt/archives/${p}_"*_armel.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || die "no armel $p was downloaded"
    dpkg-deb -R "$deb" "$libs/$p"
    for d in "$libs/$p/lib/arm-linux-gnueabi" "$libs/$p/usr/lib/arm-linux-gnueabi"; do
      [ -d "$d" ] && dirs="$dirs $d"
    done
  done
  rm -rf "$libs/root"
  echo $dirs
}

do_armel () {
  do_deps
  [ -x scripts/cross-armel.sh ] || die "scripts/cross-armel.sh is missing: the armel build needs its sysroot"
  cf=$(scripts/cross-armel.sh cross-file)
  [ -f "$cf" ] || die "scripts/cross-armel.sh cross-file gave no file"
  libdirs=$(armel_libs)
  dir=$OUT/armel
  rm -rf "$dir"
  copy_tree "$dir/gst-diode-$UPSTREAM"
  # -d: the armel build dependencies are in the sysroot, not installed.
  (cd "$dir/gst-diode-$UPSTREAM" &&
    CC=arm-linux-gnueabi-gcc DIODE_CROSS_FILE=$cf DIODE_SHLIBS_LIBDIRS=$libdirs DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
      dpkg-buildpackage -a armel -d -b -us -uc -Pnocheck) > "$dir/build.log" 2>&1 \
    || { tail -n 60 "$dir/build.log" >&2; die "armel build failed ($dir/build.log)"; }
  rm -rf "$dir/gst-diode-$UPSTREAM"
  ls "$dir"/*.deb >&2
}

do_lint () {
  found=0
  for changes in "$OUT"/amd64/*.changes "$OUT"/armel/*.changes; do
    [ -f "$changes" ] || continue
    found=1
    log "lintian $(basename "$changes")"
    # Errors fail; warnings and info are printed for whoever reads the log.
    rc=0
    lintian --fail-on error --tag-display-limit 0 "$changes" > "$OUT/lintian.txt" 2>&1 || rc=$?
    grep -v '^running with root privileges' "$OUT/lintian.txt" >&2 || true
    [ $rc = 0 ] || die "lintian: errors (or lintian failed) in $changes"
  done
  [ $found = 1 ] || die "nothing built in $OUT"
}

debs () {
  for p in $PACKAGES; do
    f=$(ls "$OUT/$1/${p}_${VERSION}_$1.deb" 2>/dev/null) || die "missing $p for $1 in $OUT/$1"
    echo "$f"
  done
}

# A check that fails says which one.
expect () {
  what=$1
  shift
  if "$@" > "$OUT/check.out" 2>&1; then
    log "ok: $what"
  else
    cat "$OUT/check.out" >&2
    die "FAILED: $what"
  fi
}

# amd64: a minbase root, apt installing our .debs (their dependencies
# resolved from the mirror, the maintainer scripts run: dh_installsystemd's
# enable), then the programs run inside it.
check_amd64 () {
  root=$OUT/root-amd64
  rm -rf "$root"
  includes=""
  for f in $(debs amd64); do includes="$includes --include=$f"; done
  log "making a clean $SUITE root (minbase) with the amd64 packages"
  # shellcheck disable=SC2086
  sources | mmdebstrap --quiet --variant=minbase --arch=amd64 \
    --include=gstreamer1.0-tools $includes \
    --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    "$SUITE" "$root" - >&2
  in_root () { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"; }
  for p in $PACKAGES; do
    expect "$p installed (dpkg)" sh -c "chroot '$root' dpkg-query -W -f='\${Status}' $p | grep -qx 'install ok installed'"
  done
  expect "gst-inspect-1.0 diodesink" sh -c "chroot '$root' env -i PATH=/usr/bin:/bin HOME=/root gst-inspect-1.0 diodesink | grep -q 'diodesink'"
  expect "gst-inspect-1.0 diodesrc" sh -c "chroot '$root' env -i PATH=/usr/bin:/bin HOME=/root gst-inspect-1.0 diodesrc | grep -q 'diodesrc'"
  expect "the plugin is the package's" sh -c "chroot '$root' dpkg -S /usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstdiode.so | grep -q '^gstreamer1.0-diode:amd64'"
  expect "diode-relay --version" sh -c "chroot '$root' diode-relay --version | grep -q '$UPSTREAM'"
  expect "diode-relay --help" sh -c "chroot '$root' diode-relay --help | grep -q -- '--listen'"
  expect "diode --help" in_root diode --help
  expect "diode --version" sh -c "chroot '$root' diode --version | grep -q '$UPSTREAM'"
  check_units "$root"
  check_relay_runs "$root"
  [ "${DIODE_DEB_KEEP_ROOTS:-0}" = 1 ] || rm -rf "$root"
}

# The units where systemd looks (/lib/systemd/system in bookworm; merged
# /usr makes it /usr/lib/systemd/system too), enabled by the postinst.
check_units () {
  root=$1
  units=$(chroot "$root" dpkg -L diode-relay | grep -E '^(/usr)?/lib/systemd/system/[^/]+$' || true)
  if [ -z "$units" ]; then
    log "NOTE: diode-relay ships no systemd unit yet (nothing installed by meson)"
    return 0
  fi
  for u in $units; do
    expect "unit $u installed" test -f "$root$u"
  done
  if echo "$units" | grep -q '/diode-relay.service$'; then
    expect "diode-relay.service enabled by the postinst" \
      sh -c "ls '$root'/etc/systemd/system/*.wants/diode-relay.service"
  fi
}

# The relay starts from the installed package and serves: its identity made,
# a TCP connect to its port on loopback answered.
check_relay_runs () {
  root=$1
  rm -f "$root/tmp/relay.log"
  chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root XDG_CONFIG_HOME=/tmp/relay-config \
    timeout 20 diode-relay --listen 127.0.0.1:0 > "$root/tmp/relay.log" 2>&1 &
  pid=$!
  i=0 port=""
  while [ $i -lt 100 ] && [ -z "$port" ]; do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$root/tmp/relay.log" | head -n 1)
    [ -n "$port" ] || sleep 0.1
    i=$((i + 1))
  done
  if [ -z "$port" ]; then
    kill "$pid" 2>/dev/null || true
    cat "$root/tmp/relay.log" >&2
    die "FAILED: the installed diode-relay did not say where it listens"
  fi
  # The relay runs in the root's chroot but on the host's loopback.
  expect "the installed diode-relay accepts on 127.0.0.1:$port" python3 -c \
    "import socket; socket.create_connection(('127.0.0.1', $port), 5).close()"
  expect "the installed diode-relay still runs" kill -0 "$pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  expect "the installed diode-relay made its identity" test -s "$root/tmp/relay-config/diode/identity.pem"
}

# armel: no armel binaries can run apt's maintainer scripts here without
# binfmt_misc (CI's chroot has none), so apt resolves the armel .debs'
# dependencies from the mirror and mmdebstrap unpacks them (extract); the
# installed programs then run under qemu-arm with the root as their /
# (-L), the Pi Zero's CPU (-cpu arm1176). GST_REGISTRY_FORK=no: the plugin
# scanner would be an exec qemu-arm cannot follow.
check_armel () {
  root=$OUT/root-armel
  rm -rf "$root"
  includes=""
  for f in $(debs armel); do includes="$includes --include=$f"; done
  log "resolving and unpacking the armel packages into a clean $SUITE root"
  # shellcheck disable=SC2086
  sources | mmdebstrap --quiet --variant=extract --arch=armel \
    --aptopt='APT::Install-Recommends "false"' \
    --include=gstreamer1.0-tools $includes \
    --setup-hook="mkdir -p \"\$1$OUT/armel\"" \
    --setup-hook="copy-in $(debs armel | tr '\n' ' ') $OUT/armel" \
    "$SUITE" "$root" - >&2
  # (file-mirror-automount's bind mounts outlive the extract variant.)
  rm -rf "${root:?}$OUT"
  for f in $(debs armel); do
    expect "$(basename "$f"): ARM EABI5 soft-float ELF files" check_arm_elf "$f"
  done
  for p in $PACKAGES; do
    expect "$p unpacked into the armel root" test -f "$root/usr/share/doc/$p/copyright"
  done
  expect "armel gst-inspect-1.0 diodesink (qemu-arm)" sh -c "$(q_cmd)/usr/bin/gst-inspect-1.0 diodesink | grep -q diodesink"
  expect "armel gst-inspect-1.0 diodesrc (qemu-arm)" sh -c "$(q_cmd)/usr/bin/gst-inspect-1.0 diodesrc | grep -q diodesrc"
  expect "armel diode-relay --version (qemu-arm)" sh -c "$(q_cmd)/usr/bin/diode-relay --version | grep -q '$UPSTREAM'"
  expect "armel diode-relay --help (qemu-arm)" sh -c "$(q_cmd)/usr/bin/diode-relay --help | grep -q -- --listen"
  expect "armel diode --help (qemu-arm)" sh -c "$(q_cmd)/usr/bin/diode --help"
  [ "${DIODE_DEB_KEEP_ROOTS:-0}" = 1 ] || rm -rf "$root"
}

# qemu-arm running a program of the armel root, as a shell command prefix
# (the program's path follows, as seen inside the root). GStreamer is told
# its plugin folder: qemu-arm -L redirects opening files, but GStreamer's
# scan of its compiled-in folder finds nothing through it.
q_cmd () {
  echo "env -i PATH=/usr/bin:/bin HOME=/tmp GST_REGISTRY_FORK=no GST_REGISTRY_1_0=$root/tmp/registry.bin GST_PLUGIN_SYSTEM_PATH_1_0=$root/usr/lib/arm-linux-gnueabi/gstreamer-1.0 qemu-arm -cpu arm1176 -L $root $root"
}

# Every ELF file of a .deb: 32-bit ARM, EABI version 5, soft-float (armel).
check_arm_elf () {
  x=$(mktemp -d)
  dpkg-deb -x "$1" "$x"
  n=0
  for e in $(find "$x" -type f -perm -u+x -o -type f -name '*.so*'); do
    head -c 4 "$e" | grep -q 'ELF' || continue
    h=$(readelf -h "$e")
    echo "$h" | grep -q 'Class: *ELF32' || { echo "$e: not ELF32"; rm -rf "$x"; return 1; }
    echo "$h" | grep -q 'Machine: *ARM' || { echo "$e: not ARM"; rm -rf "$x"; return 1; }
    echo "$h" | grep -q 'Flags:.*Version5 EABI, soft-float ABI' || { echo "$e: not EABI5 soft-float: $(echo "$h" | grep Flags)"; rm -rf "$x"; return 1; }
    n=$((n + 1))
  done
  rm -rf "$x"
  [ $n -gt 0 ] || { echo "no ELF file in $1"; return 1; }
}

do_check () {
  do_deps
  [ "${1:-}" = armel ] || check_amd64
  if ls "$OUT"/armel/*.deb > /dev/null 2>&1; then check_armel; else
    log "no armel packages in $OUT/armel: armel not checked"; fi
}

timed () {
  t0=$(date +%s)
  "$@"
  log "step '$1' took $(($(date +%s) - t0)) s"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  deps) timed do_deps ;;
  amd64) timed do_amd64 ;;
  armel) timed do_armel ;;
  lint) timed do_lint ;;
  check) timed do_check "$@" ;;
  all)
    T0=$(date +%s)
    timed do_deps
    timed do_amd64
    timed do_armel
    timed do_lint
    timed check_amd64
    timed check_armel
    log "all took $(($(date +%s) - T0)) s"
    ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
