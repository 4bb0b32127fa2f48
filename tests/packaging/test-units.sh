#!/bin/sh
# gst-diode — what `meson install` puts in place for services, checked
# without running systemd (tests/packaging/test-units-systemd.sh boots one):
# every file where the layout says, the units accepted by
# `systemd-analyze verify` with no warning and an exposure of at most 2.0
# (relay) / 2.5 (publisher) by `systemd-analyze security --offline`, the
# man pages listing exactly the options the programs' --help lists, and the
# relay starting with the shipped configuration file.
#   test-units.sh BUILD_DIR
set -eu
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/diode-units.XXXXXX)
RELAY_PID=
cleanup() { [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
# shellcheck source=tests/packaging/install-lib.sh
. "$HERE/install-lib.sh"
read_layout
D=$T/root
install_into "$D"

note "installed files (prefix $PREFIX, units in $UNITDIR)"
for f in "$BINDIR/diode-relay" "$BINDIR/diode" "$LIBDIR/gstreamer-1.0/libgstdiode.so" \
    "$UNITDIR/diode-relay.service" "$UNITDIR/diode-publish@.service" \
    "$LIBEXECDIR/diode-publish" "$SYSCONFDIR/diode/relay.conf" \
    "$SYSCONFDIR/default/diode-relay" "$DATADIR/doc/diode-publish/examples/publish.env.example" \
    "$MANDIR/man8/diode-relay.8" "$MANDIR/man8/diode-publish.8" "$MANDIR/man1/diode.1"; do
  [ -f "$D$f" ] || fail "not installed: $f"
  echo "  $f"
done
[ -d "$D$SYSCONFDIR/diode/publish" ] || fail "not installed: $SYSCONFDIR/diode/publish/"
[ -x "$D$LIBEXECDIR/diode-publish" ] || fail "$LIBEXECDIR/diode-publish is not executable"
for f in "$D$UNITDIR"/diode-*.service "$D$LIBEXECDIR/diode-publish"; do
  ! grep -n '@[A-Za-z_]*@' "$f" || fail "$f: a placeholder was not substituted"
done
grep -q "^ExecStart=$BINDIR/diode-relay " "$D$UNITDIR/diode-relay.service" \
  || fail "diode-relay.service does not start $BINDIR/diode-relay"
grep -q "^ExecStart=$LIBEXECDIR/diode-publish %i$" "$D$UNITDIR/diode-publish@.service" \
  || fail "diode-publish@.service does not start $LIBEXECDIR/diode-publish"

note "systemd-analyze verify"
command -v systemd-analyze >/dev/null \
  || fail "systemd-analyze is missing (Debian package systemd; scripts/setup.sh)"
# The units name installed paths; point them into the DESTDIR so verify
# finds the programs, and MANPATH so it finds the man pages of
# Documentation=.
mkdir "$T/units"
for u in diode-relay.service diode-publish@.service; do
  sed "s|$PREFIX/|$D$PREFIX/|g" "$D$UNITDIR/$u" > "$T/units/$u"
done
# Without man-db verify cannot look pages up: then only the files are
# checked (above) and verify is told not to.
man_opt=--man=yes
command -v man >/dev/null || { man_opt=--man=no; echo "  (man missing: Documentation= not looked up)"; }
out=$(cd "$T" && MANPATH="$D$MANDIR:" systemd-analyze verify "$man_opt" \
  "$T/units/diode-relay.service" "$T/units/diode-publish@.service" 2>&1) \
  || { echo "$out" >&2; fail "systemd-analyze verify failed"; }
[ -z "$out" ] || { echo "$out" >&2; fail "systemd-analyze verify warned"; }
echo "  no warnings"

note "systemd-analyze security --offline"
cp "$T/units/diode-publish@.service" "$T/units/diode-publish@cam.service"
for spec in diode-relay.service:20 diode-publish@cam.service:25; do
  u=${spec%:*}
  systemd-analyze security --offline=true --threshold="${spec#*:}" \
    "$T/units/$u" > "$T/security.txt" 2>&1 \
    || { cat "$T/security.txt" >&2; fail "$u: exposure above ${spec#*:}/100"; }
  grep "Overall exposure" "$T/security.txt" | sed 's/^/  /'
done

note "man pages"
if command -v groff >/dev/null; then
  for m in man8/diode-relay.8 man8/diode-publish.8 man1/diode.1; do
    out=$(groff -man -ww -z "$D$MANDIR/$m" 2>&1)
    [ -z "$out" ] || { echo "$out" >&2; fail "groff warns about $m"; }
  done
  echo "  groff -ww: no warnings"
else
  echo "  (groff missing: formatting not checked)"
fi
# The options each page documents (.TP headings in its OPTIONS section, or
# in a command's .SS subsection) against the program's --help.
opts_man() { # PAGE SECTION-HEADING
  python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read().split("\n")
head, inside, tp, found = sys.argv[2], False, False, set()
for line in text:
    if line.startswith(".SH") or line.startswith(".SS"):
        inside = line == head
        continue
    if inside and line == ".TP":
        tp = True
        continue
    if inside and tp:
        found |= set(re.findall(r"--[a-z][a-z-]*", line.replace("\\-", "-")))
    tp = False
print("\n".join(sorted(found - {"--help"})))
PY
}
opts_help() { "$@" --help | sed -n '/^Application Options:/,$p' \
  | sed -n -E 's/^ +(-[A-Za-z], )?(--[a-z][a-z-]*).*/\2/p' | sort -u; }
check_opts() { # PAGE HEADING PROGRAM...
  page=$1 heading=$2; shift 2
  opts_man "$page" "$heading" > "$T/man.txt"
  opts_help "$@" > "$T/help.txt"
  [ -s "$T/help.txt" ] || fail "$* --help listed no options"
  diff -u "$T/help.txt" "$T/man.txt" \
    || fail "$(basename "$page") ($heading) and '$* --help' list different options (- help, + man)"
  echo "  $(basename "$page") $heading: $(wc -l < "$T/help.txt") options, as --help says"
}
check_opts "$D$MANDIR/man8/diode-relay.8" ".SH OPTIONS" "$D$BINDIR/diode-relay"
check_opts "$D$MANDIR/man1/diode.1" ".SH OPTIONS" "$D$BINDIR/diode"
# every command `diode --help` lists has its section
cmds=$("$D$BINDIR/diode" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
[ -n "$cmds" ] || fail "diode --help listed no commands"
for c in $cmds; do
  grep -q "^\.SS diode $c\$" "$D$MANDIR/man1/diode.1" || fail "diode.1 has no section for 'diode $c'"
  check_opts "$D$MANDIR/man1/diode.1" ".SS diode $c" "$D$BINDIR/diode" "$c"
done

note "the relay starts with the shipped relay.conf"
"$D$BINDIR/diode-relay" --listen 127.0.0.1:0 --identity "$T/state/identity.pem" \
  --config "$D$SYSCONFDIR/diode/relay.conf" --print-id > "$T/relay.out" 2> "$T/relay.err" &
RELAY_PID=$!
i=0
while [ ! -s "$T/relay.out" ] && [ $i -lt 100 ] && kill -0 $RELAY_PID 2>/dev/null; do
  sleep 0.1; i=$((i + 1))
done
[ -s "$T/relay.out" ] || { cat "$T/relay.err" >&2; fail "diode-relay did not start with $SYSCONFDIR/diode/relay.conf"; }
echo "  $(cat "$T/relay.out")"
kill $RELAY_PID
wait $RELAY_PID || fail "diode-relay did not stop cleanly on SIGTERM"
RELAY_PID=
echo "OK"
