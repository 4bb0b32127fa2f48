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
#   scripts/package.sh check [amd64|armel]   (default: both; a missing .deb fails)
#                              clean roots: amd64 (mmdebstrap minbase, apt
#                              installs the .debs and their dependencies,
#                              maintainer scripts run; booted by its own
#                              systemd, which runs the units; examples run)
#                              and armel (apt resolves, unpacked, run under
#                              qemu-arm); `check armel`: armel only
#
# Environment: DIODE_DEB_OUT (default build-deb), DIODE_DEB_MIRROR (default:
# the Debian mirror apt uses here), DIODE_DEB_KEEP_ROOTS=1 keeps the roots.
# docs/testing.md "Debian packages".
set -eu
cd "$(dirname "$0")/.."
. scripts/apt-missing.sh
# sd_boot, sd_ns, sd_sc, sd_stop: the clean root booted by its own systemd
# shellcheck source=tests/packaging/systemd-boot.sh
. tests/packaging/systemd-boot.sh
TOP=$PWD
OUT=${DIODE_DEB_OUT:-$TOP/build-deb}
SUITE=bookworm
# (Read without dpkg-dev, which `deps` may still have to install.)
VERSION=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
UPSTREAM=${VERSION%-*}
# The binary packages, as debian/control names them.
PACKAGES=$(sed -n 's/^Package: *//p' debian/control)
# What the examples need in the amd64 root (examples/README.md): PyGObject,
# the encoders and decoders they use, a compiler and the headers for the C
# ones.
EXAMPLE_DEPS="python3-gi,gir1.2-gstreamer-1.0,gir1.2-gst-plugins-base-1.0,\
gstreamer1.0-plugins-base,gstreamer1.0-plugins-bad,gstreamer1.0-plugins-ugly,gstreamer1.0-libav,\
gcc,libc6-dev,pkg-config,libgstreamer1.0-dev,libgstreamer-plugins-base1.0-dev"
# The Debian packages of the libraries the binaries link (their NEEDED),
# armel: the armel build's dh_shlibdeps reads their symbols files
# (debian/rules). A library missing here fails the build ("cannot find
# library"), it is never silently left out of Depends.
ARMEL_LIBS="libc6 libglib2.0-0 libgstreamer1.0-0 libgnutls30 \
libjson-glib-1.0-0 libsoup-3.0-0 libnice10 zlib1g"

log () { echo "package: $*" >&2; }
# Background processes of the checks: a failed check (die) or an interrupt
# ends the ones still running, by pid; each also runs under timeout.
BG=""
bg_add () { BG="$BG $1"; }
# On every way out (set -e included): a booted root's systemd, its bind
# mount and the background checks never outlive the script. Safe twice.
cleanup () {
  for p in $BG; do kill "$p" 2>/dev/null || true; done
  BG=""
  sd_stop
}
trap cleanup EXIT
trap 'exit 1' INT TERM
die () { log "$*"; cleanup; exit 1; }

apt_install () {
  apt_install_missing package "$@" || die "missing Debian packages"
}

do_deps () {
  apt_install debhelper dpkg-dev fakeroot lintian mmdebstrap qemu-user procps \
    binutils python3
}

# Debian's sources as apt has them here (main archive, updates, security),
# one-line form for mmdebstrap; so the roots come from the mirror the host's
# packages came from. Read from apt-cache policy: the release lines say
# which source is Debian's.
debian_sources () {
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

sources () {
  list=$(debian_sources)
  if [ -z "$list" ]; then
    # No package lists yet (a fresh machine): apt learns its sources first.
    apt-get update -q >&2
    list=$(debian_sources)
  fi
  [ -n "$list" ] || die "no Debian bookworm source in apt's configuration (set DIODE_DEB_MIRROR)"
  echo "$list"
}

# The tree as git sees it (tracked and untracked, not ignored), copied so the
# build's files (obj-*, debian/tmp, ../*.deb) stay out of the work tree.
copy_tree () {
  dest=$1
  rm -rf "$dest"
  mkdir -p "$dest"
  if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
      tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$dest"
  else
    # Not a git checkout (a release tarball): everything but build output.
    tar --exclude='./build*' --exclude='./obj-*' --exclude='./tests/browser/node_modules' \
      -cf - . | tar -xf - -C "$dest"
  fi
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
  srcs=$(sources) || die "no Debian sources"
  # shellcheck disable=SC2086
  echo "$srcs" | mmdebstrap --quiet --variant=extract --arch=armel \
    --aptopt='APT::Install-Recommends "false"' --skip=cleanup/apt/cache \
    --include="$(echo $ARMEL_LIBS | tr ' ' ',')" \
    "$SUITE" "$libs/root" - >&2
  dirs=""
  for p in $ARMEL_LIBS; do
    deb=$(find "$libs/root/var/cache/apt/archives" -name "${p}_*_armel.deb" | head -n 1)
    [ -n "$deb" ] || die "no armel $p was downloaded"
    dpkg-deb -R "$deb" "$libs/$p"
    for d in "$libs/$p/lib/arm-linux-gnueabi" "$libs/$p/usr/lib/arm-linux-gnueabi"; do
      [ -d "$d" ] && dirs="$dirs $d"
    done
  done
  rm -rf "$libs/root"
  echo "${dirs# }"
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
    out=$OUT/lintian-$(basename "$changes" .changes).txt
    lintian --fail-on error --tag-display-limit 0 "$changes" > "$out" 2>&1 || rc=$?
    grep -v '^running with root privileges' "$out" >&2 || true
    [ $rc = 0 ] || die "lintian: errors (or lintian failed) in $changes"
  done
  [ $found = 1 ] || die "nothing built in $OUT"
}

# The built .debs of one architecture, one per line; fails when one is
# missing. Called as list=$(debs A) || die ...: in that subshell die could
# not stop the script.
debs () {
  for p in $PACKAGES; do
    f=$(ls "$OUT/$1/${p}_${VERSION}_$1.deb" "$OUT/$1/${p}_${VERSION}_all.deb" 2>/dev/null) \
      || [ -n "$f" ] || { log "missing $p for $1 in $OUT/$1"; echo MISSING; return 1; }
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
  debs_list=$(debs amd64) || die "FAILED: a package of amd64 is missing in $OUT/amd64"
  for f in $debs_list; do includes="$includes --include=$f"; done
  log "making a clean $SUITE root (minbase) with the amd64 packages"
  srcs=$(sources) || die "no Debian sources"
  # systemd: systemd-analyze verifies the installed units, then the root's
  # own systemd boots it and runs them (check_systemd).
  # shellcheck disable=SC2086
  echo "$srcs" | mmdebstrap --quiet --variant=minbase --arch=amd64 \
    --aptopt='APT::Install-Recommends "false"' \
    --include="gstreamer1.0-tools,systemd,$EXAMPLE_DEPS" $includes \
    --hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount \
    "$SUITE" "$root" - >&2
  # shellcheck disable=SC2317 # called through expect
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

# The units where systemd looks (/lib/systemd/system in bookworm), valid for
# bookworm's systemd; then the root booted and the units run by its systemd
# (check_systemd).
check_units () {
  root=$1
  for u in /lib/systemd/system/diode-relay.service /lib/systemd/system/diode-publish@.service; do
    expect "unit $u installed" test -f "$root$u"
  done
  expect "systemd-analyze verify diode-relay.service" \
    chroot "$root" systemd-analyze verify --man=no /lib/systemd/system/diode-relay.service
  expect "systemd-analyze verify diode-publish@cam.service" \
    chroot "$root" systemd-analyze verify --man=no diode-publish@cam.service
  check_systemd "$root"
}

# The clean root booted by its own systemd, as PID 1 of new namespaces
# (tests/packaging/systemd-boot.sh, as tests/packaging/test-units-systemd.sh
# boots its overlay), into multi-user.target as a machine boots: the
# postinst's enable brings the relay up by itself. Then what an operator
# does (README "Packages and services", docs/relay-network.md): the
# journal's "listening" line for the address, `diode ls` from inside the
# root, the example env file as /etc/diode/publish/cam.env with a
# videotestsrc + x264enc pipeline, diode-publish@cam started, `diode stat`
# showing it live, a viewer, the examples, `systemctl reload` (same PID),
# `systemctl stop`. The root's loopback is its own: everything that talks
# to the relay runs inside (sd_ns); files to read from here go to
# /var/tmp/pkgcheck ($root/var/tmp/pkgcheck; its /tmp is the boot's tmpfs).
# A check in a subshell of this one (which has sd_* and op_diode, unlike sh -c).
in_sub () { ( eval "$1" ); }
CHK=/var/tmp/pkgcheck
check_systemd () {
  root=$1
  rm -rf "${root:?}$CHK"
  mkdir -p "$root$CHK"
  rm -rf "${OUT:?}/boot"
  sd_boot "$root" "$OUT/boot" multi-user.target || die "FAILED: systemd did not boot the clean root ($OUT/boot/boot.log)"
  log "ok: systemd $(sd_sc --version | head -n 1 | cut -d' ' -f2) booted the clean root as PID 1 into multi-user.target ($SD_STATE)"
  [ "$SD_STATE" = running ] || log "NOTE: failed units: $(sd_sc list-units --failed --plain --no-legend | cut -d' ' -f1 | tr '\n' ' ')"
  # shellcheck disable=SC2016 # expanded by in_sub
  expect "diode-relay enabled by the postinst (systemctl is-enabled)" \
    in_sub '[ "$(sd_sc is-enabled diode-relay)" = enabled ]'
  # shellcheck disable=SC2016 # expanded by in_sub
  expect "diode-relay started by itself at boot (systemctl is-active)" \
    in_sub '[ "$(sd_sc is-active diode-relay)" = active ]'
  expect "systemctl enable --now diode-relay (README)" sd_sc enable --now diode-relay
  expect "journalctl -u diode-relay: listening on 127.0.0.1:7878 (/etc/default/diode-relay, loopback as installed)" \
    sd_wait_log diode-relay.service "listening on 127.0.0.1:7878"
  rid=$(sd_journal diode-relay.service | sed -n 's/.*relay \(0x[0-9a-f]*\) listening on 127\.0\.0\.1:7878.*/\1/p' | head -n 1)
  [ -n "$rid" ] || die "FAILED: no relay address in the journal's listening line"
  main=$(sd_prop diode-relay.service MainPID)
  st=$root/var/lib/private/diode-relay
  expect "its identity in /var/lib/diode-relay, 0600, its own user's (not root)" in_sub \
    "[ \"\$(stat -c %a '$st/identity.pem')\" = 600 ] && [ \"\$(stat -c %u '$st/identity.pem')\" != 0 ] &&
     [ \"\$(chroot '$root' diode id --identity /var/lib/private/diode-relay/identity.pem)\" = $rid ]"
  expect "the relay runs as that user (PID $main)" in_sub \
    "sd_ns 10 cat /proc/$main/status | grep -q \"^Uid:[[:space:]]*\$(stat -c %u '$st/identity.pem')[[:space:]]\""
  log "ok: diode-relay.service: relay $rid, PID $main"
  # diode as an operator runs it in the root, the relay pinned by the address
  # from the journal
  # shellcheck disable=SC2317 # called through in_sub
  op_diode () { sd_ns 20 env -i PATH=/usr/bin:/bin HOME=/root XDG_CONFIG_HOME="$CHK/op" diode "$@"; }
  expect "diode ls: the relay carries nothing yet" in_sub \
    "op_diode ls $rid@127.0.0.1:7878 > '$root$CHK/ls0.txt' && cat '$root$CHK/ls0.txt' &&
     [ \$(wc -l < '$root$CHK/ls0.txt') = 1 ] && grep -q '^NAME ' '$root$CHK/ls0.txt'"

  # the camera: the packaged example env file, a test source into x264enc
  mkdir -p "$root/etc/diode/publish"
  cp "$root/usr/share/doc/diode-publish/examples/publish.env.example" "$root/etc/diode/publish/cam.env"
  sed -i "s|^PIPELINE=.*|PIPELINE='videotestsrc is-live=true ! capsfilter caps=\"video/x-raw, format=I420, width=320, height=240, framerate=15/1\" ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! h264parse ! diodesink stream=cam relay=127.0.0.1:7878'|" \
    "$root/etc/diode/publish/cam.env"
  expect "cam.env: one PIPELINE, the test camera's" in_sub \
    "[ \$(grep -c '^PIPELINE=' '$root/etc/diode/publish/cam.env') = 1 ] && grep -q '^PIPELINE=.videotestsrc' '$root/etc/diode/publish/cam.env'"
  expect "systemctl start diode-publish@cam" sd_sc start diode-publish@cam
  expect "the relay took the camera's stream (journal)" sd_wait_log diode-relay.service "publishes 'cam'"
  expect "diode-publish@cam active" sd_wait diode-publish@cam.service ActiveState active
  expect "diode stat: cam is live" in_sub \
    "n=0; while [ \$n -lt 50 ]; do op_diode stat $rid@127.0.0.1:7878 cam > '$root$CHK/stat.txt' 2>&1 &&
       grep -q '^state: live' '$root$CHK/stat.txt' && exit 0; sleep 0.2; n=\$((n + 1)); done; cat '$root$CHK/stat.txt'; exit 1"
  expect "diode ls: the camera, live" in_sub \
    "op_diode ls $rid@127.0.0.1:7878 > '$root$CHK/ls1.txt' && cat '$root$CHK/ls1.txt' && grep -q '^cam  *live ' '$root$CHK/ls1.txt'"
  expect "the camera's identity in /var/lib/diode-publish/cam" \
    test -s "$root/var/lib/private/diode-publish/cam/diode/identity.pem"
  # (-v prints fakesink's last-message notifications, some coalesced: at
  # least 20 of the 30 buffers show, then the EOS after the 30th)
  expect "a viewer (gst-launch-1.0 diodesrc) receives 30 H.264 buffers of cam" in_sub "
    sd_ns 40 env -i PATH=/usr/bin:/bin HOME=/root XDG_CONFIG_HOME=$CHK/viewer \
      gst-launch-1.0 -v diodesrc stream=cam relay=127.0.0.1:7878 relay-id=$rid num-buffers=30 ! \
      fakesink silent=false > '$root$CHK/viewer.log' 2>&1 &&
    [ \"\$(grep -c 'fakesink0.*chain' '$root$CHK/viewer.log')\" -ge 20 ] &&
    grep -q 'caps = video/x-h264' '$root$CHK/viewer.log' && grep -q '^Got EOS' '$root$CHK/viewer.log' || { cat '$root$CHK/viewer.log'; exit 1; }"
  # An env file without PIPELINE: the wrapper exits 78, systemd does not
  # restart it (RestartPreventExitStatus=78).
  echo '# no PIPELINE' > "$root/etc/diode/publish/nopipe.env"
  sd_sc start diode-publish@nopipe > /dev/null 2>&1 || true
  expect "diode-publish@nopipe (no PIPELINE) fails with 78, not restarted" in_sub \
    "sd_wait diode-publish@nopipe.service ActiveState failed &&
     [ \"\$(sd_prop diode-publish@nopipe.service ExecMainStatus)\" = 78 ] &&
     [ \"\$(sd_prop diode-publish@nopipe.service NRestarts)\" = 0 ]"
  # A NAME without its env file (a typo): AssertPathExists= fails the start
  # before anything runs, so Restart= never applies (a missing
  # EnvironmentFile= alone is a failure systemd restarts every RestartSec).
  expect "diode-publish@typo (no env file) refused by its assertion, nothing run" in_sub \
    "! sd_sc start diode-publish@typo > /dev/null 2>&1 &&
     [ \"\$(sd_prop diode-publish@typo.service AssertResult)\" = no ] &&
     [ \"\$(sd_prop diode-publish@typo.service ExecMainPID)\" = 0 ]"
  check_examples "$root" 7878 "$rid"

  expect "systemctl reload diode-relay" sd_sc reload diode-relay
  expect "the relay reloaded /etc/diode/relay.conf (journal)" \
    sd_wait_log diode-relay.service "configuration reloaded from /etc/diode/relay.conf"
  expect "the relay still runs after the reload (same MainPID $main)" \
    in_sub "[ \"\$(sd_prop diode-relay.service MainPID)\" = $main ] && [ \"\$(sd_sc is-active diode-relay)\" = active ]"
  expect "systemctl stop diode-publish@cam" sd_sc stop diode-publish@cam
  expect "the camera ended its stream on stop (EOS at the relay)" \
    sd_wait_log diode-relay.service "'cam' reached end of stream"
  expect "systemctl stop diode-relay" sd_sc stop diode-relay
  expect "the relay stopped cleanly (Result=success, inactive)" in_sub \
    "[ \"\$(sd_prop diode-relay.service Result)\" = success ] && [ \"\$(sd_sc is-active diode-relay)\" = inactive ]"
  sd_stop
  log "ok: the clean root's systemd powered off"
}

# The examples as the package ships them (/usr/share/doc/gstreamer1.0-diode/
# examples), against the relay systemd started from the unit (check_systemd): the C
# ones compiled the way examples/README.md says, then each viewer subscribed
# before its publisher publishes, as examples/run-examples.sh does with the
# build tree (the same output lines checked, fewer of them).
check_examples () {
  root=$1 port=$2 rid=$3
  exd=/usr/share/doc/gstreamer1.0-diode/examples
  in_root_sh () {
    sd_ns 60 env -i PATH=/usr/bin:/bin HOME=/tmp XDG_CONFIG_HOME=/tmp/examples LC_ALL=C.UTF-8 sh -c "$1"
  }
  for c in viewer-appsink publish-appsrc; do
    expect "example $c.c compiles as examples/README.md says" in_root_sh \
      "cd /tmp && cc $exd/$c.c -o $c \$(pkg-config --cflags --libs gstreamer-1.0 gstreamer-app-1.0)"
  done
  relay=127.0.0.1:$port
  in_root_sh "exec timeout 40 /tmp/viewer-appsink --relay $relay --relay-id $rid --stream ex-c" \
    > "$root$CHK/ex-cview.log" 2>&1 &
  cview=$!
  bg_add "$cview"
  expect "viewer-appsink connected" wait_for_line "$root$CHK/ex-cview.log" "connection connected"
  expect "publish-appsrc publishes 90 frames (exit 0)" in_root_sh \
    "exec timeout 40 /tmp/publish-appsrc --relay $relay --relay-id $rid --stream ex-c --count 90 --fps 30 > $CHK/ex-cpub.log 2>&1"
  expect "publish-appsrc ended with EOS" grep -q '^eos: 90 frames published$' "$root$CHK/ex-cpub.log"
  if wait "$cview"; then log "ok: viewer-appsink exit 0"; else
    cat "$root$CHK/ex-cview.log" >&2; die "FAILED: viewer-appsink"; fi
  expect "viewer-appsink printed 90 frame lines, H.264 caps, EOS" sh -c "
    [ \$(grep -c '^frame ' '$root$CHK/ex-cview.log') = 90 ] &&
    grep -q '^caps video/x-h264' '$root$CHK/ex-cview.log' &&
    grep -q '^eos after 90 frames\$' '$root$CHK/ex-cview.log'"
  in_root_sh "exec timeout 40 python3 $exd/viewer.py --relay $relay --relay-id $rid --stream ex-py --sink fakesink --stats-interval 300 --timeout 30" \
    > "$root$CHK/ex-pview.log" 2>&1 &
  pview=$!
  bg_add "$pview"
  expect "viewer.py connected" wait_for_line "$root$CHK/ex-pview.log" "connection: connected relay "
  expect "publish.py publishes 3 s (exit 0)" in_root_sh \
    "exec timeout 40 python3 $exd/publish.py --relay $relay --relay-id $rid --stream ex-py --seconds 3 --stats-interval 500 --timeout 30 > $CHK/ex-ppub.log 2>&1"
  expect "publish.py sent EOS and the relay has it all" sh -c "
    grep -q '^sending eos: 3 s published' '$root$CHK/ex-ppub.log' &&
    grep -q '^eos: the relay has the whole stream' '$root$CHK/ex-ppub.log'"
  if wait "$pview"; then log "ok: viewer.py exit 0"; else
    cat "$root$CHK/ex-pview.log" >&2; die "FAILED: viewer.py"; fi
  expect "viewer.py decoded pictures, printed stats and the EOS" sh -c "
    grep -q '^first picture: 320x240 ' '$root$CHK/ex-pview.log' &&
    grep -q '^stats: buffers-received=[1-9]' '$root$CHK/ex-pview.log' &&
    grep -q '^eos: the publisher ended the stream' '$root$CHK/ex-pview.log'"
}

# Waits (at most 10 s) until a log file says where it listens; prints the port.
wait_listening () {
  i=0
  while [ $i -lt 100 ]; do
    p=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" 2>/dev/null | head -n 1)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    sleep 0.1
    i=$((i + 1))
  done
}

# Waits (at most 15 s) for a line containing TEXT in FILE.
wait_for_line () {
  i=0
  while [ $i -lt 150 ]; do
    grep -qF "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
    i=$((i + 1))
  done
  echo "no line with '$2' in $1:"
  cat "$1"
  return 1
}

# The relay starts from the installed package and serves: its identity made,
# a TCP connect to its port on loopback answered.
check_relay_runs () {
  root=$1
  rm -f "$root/tmp/relay.log"
  chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root XDG_CONFIG_HOME=/tmp/relay-config \
    timeout 20 diode-relay --listen 127.0.0.1:0 > "$root/tmp/relay.log" 2>&1 &
  pid=$!
  bg_add "$pid"
  port=$(wait_listening "$root/tmp/relay.log")
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
  debs_list=$(debs armel) || die "FAILED: a package of armel is missing in $OUT/armel"
  for f in $debs_list; do includes="$includes --include=$f"; done
  log "resolving and unpacking the armel packages into a clean $SUITE root"
  srcs=$(sources) || die "no Debian sources"
  # shellcheck disable=SC2086
  echo "$srcs" | mmdebstrap --quiet --variant=extract --arch=armel \
    --aptopt='APT::Install-Recommends "false"' \
    --include=gstreamer1.0-tools $includes \
    --setup-hook="mkdir -p \"\$1$OUT/armel\"" \
    --setup-hook="copy-in $(echo "$debs_list" | tr '\n' ' ') $OUT/armel" \
    "$SUITE" "$root" - >&2
  # (file-mirror-automount's bind mounts outlive the extract variant.)
  rm -rf "${root:?}$OUT"
  for f in $debs_list; do
    case "$f" in *_all.deb) continue ;; esac
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
  # The armel relay, an armel publisher and an armel viewer, all emulated,
  # on loopback: the camera's binaries doing the camera's job.
  rm -f "$root/tmp/relay.log" "$root/tmp/pub.log" "$root/tmp/viewer.log"
  # q_cmd is a command prefix: its words are meant to split.
  # shellcheck disable=SC2046
  $(q_cmd)/usr/bin/diode-relay --listen 127.0.0.1:0 --identity "$root/tmp/relay.pem" \
    > "$root/tmp/relay.log" 2>&1 &
  arelay=$!
  bg_add "$arelay"
  port=$(wait_listening "$root/tmp/relay.log")
  rid=$(sed -n 's/.*relay \(0x[0-9a-f]*\) listening.*/\1/p' "$root/tmp/relay.log" | head -n 1)
  if [ -z "$port" ] || [ -z "$rid" ]; then
    kill "$arelay" 2>/dev/null || true
    cat "$root/tmp/relay.log" >&2
    die "FAILED: the armel diode-relay (qemu-arm) did not listen"
  fi
  log "ok: armel diode-relay (qemu-arm) listening: $rid on 127.0.0.1:$port"
  # shellcheck disable=SC2046
  timeout 60 $(q_cmd)/usr/bin/gst-launch-1.0 fakesrc is-live=true format=time \
    do-timestamp=true num-buffers=150 sizetype=fixed sizemax=1000 ! \
    capsfilter caps=application/x-diode-check ! identity sleep-time=20000 ! \
    diodesink stream=armcheck relay=127.0.0.1:"$port" relay-id="$rid" \
    > "$root/tmp/pub.log" 2>&1 &
  apub=$!
  bg_add "$apub"
  expect "armel relay took the armel publisher's stream" wait_for_line "$root/tmp/relay.log" \
    "publishes 'armcheck'"
  expect "an armel viewer (diodesrc, qemu-arm) receives 40 buffers" sh -c "
    timeout 30 $(q_cmd)/usr/bin/gst-launch-1.0 -v diodesrc stream=armcheck \
      relay=127.0.0.1:$port relay-id=$rid num-buffers=40 ! fakesink silent=false \
      > '$root/tmp/viewer.log' 2>&1 &&
    [ \"\$(grep -c 'fakesink0.*chain' '$root/tmp/viewer.log')\" -ge 20 ] &&
    grep -q 'Got EOS from element' '$root/tmp/viewer.log' ||
    { cat '$root/tmp/viewer.log'; exit 1; }"
  if wait "$apub"; then log "ok: the armel publisher ended cleanly (EOS, exit 0)"; else
    cat "$root/tmp/pub.log" >&2; kill "$arelay" 2>/dev/null || true
    die "FAILED: the armel publisher did not end cleanly"; fi
  kill "$arelay" 2>/dev/null || true
  wait "$arelay" 2>/dev/null || true
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
  find "$x" -type f \( -perm -u+x -o -name '*.so*' \) > "$x.list"
  n=0 bad=""
  while read -r e; do
    head -c 4 "$e" | grep -q 'ELF' || continue
    h=$(readelf -h "$e")
    if ! echo "$h" | grep -q 'Class: *ELF32'; then bad="$e: not ELF32"; break; fi
    if ! echo "$h" | grep -q 'Machine: *ARM'; then bad="$e: not ARM"; break; fi
    if ! echo "$h" | grep -q 'Flags:.*Version5 EABI, soft-float ABI'; then
      bad="$e: not EABI5 soft-float: $(echo "$h" | grep Flags)"; break; fi
    n=$((n + 1))
  done < "$x.list"
  rm -rf "$x" "$x.list"
  [ -z "$bad" ] || { echo "$bad"; return 1; }
  [ $n -gt 0 ] || { echo "no ELF file in $1"; return 1; }
}

do_check () {
  do_deps
  case "${1:-both}" in
    amd64) check_amd64 ;;
    armel) check_armel ;;
    both) check_amd64; check_armel ;;
    *) die "check: amd64, armel or nothing (both)" ;;
  esac
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
  *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
