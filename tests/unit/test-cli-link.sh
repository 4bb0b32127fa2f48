#!/bin/sh
# gst-diode — test of `diode link` (share links, docs/protocol.md section 16)
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-cli-link.sh PATH/TO/diode
# Runs with a private $XDG_CONFIG_HOME; prints what failed, exits non-zero.
# The relay's side (POST /api/revoke) is tested in tests/check.

set -u

DIODE=${1:?usage: $0 PATH/TO/diode}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/diode-test-cli-link.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
export XDG_CONFIG_HOME="$TMP/config"
# A cross build's binary runs through its emulator (scripts/cross-armel.sh
# test sets DIODE_EXE_WRAPPER="qemu-arm -cpu arm1176 -L SYSROOT").
if [ -n "${DIODE_EXE_WRAPPER:-}" ]; then
  printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$DIODE_EXE_WRAPPER" "$DIODE" >"$TMP/diode"
  chmod +x "$TMP/diode"
  DIODE=$TMP/diode
fi
failures=0

fail () {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

field () {  # field NAME < show output
  sed -n "s/^$1: //p"
}

owner=$("$DIODE" id 2>/dev/null)

# A link: one URL line on stdout, the link id on stderr.
url=$("$DIODE" link cam 2>"$TMP/err1"); rc=$?
[ $rc -eq 0 ] || fail "diode link exited $rc: $(cat "$TMP/err1")"
[ "$(printf '%s\n' "$url" | wc -l)" -eq 1 ] || fail "more than one line: $url"
printf '%s\n' "$url" | grep -Eq '^http://127\.0\.0\.1:8080/watch/cam\?t=d1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' ||
  fail "not a link URL: '$url'"
[ "${#url}" -le 600 ] || fail "URL of ${#url} characters"
grep -Eq '^link [0-9a-f]{16} to .cam.' "$TMP/err1" ||
  fail "no link id on stderr: $(cat "$TMP/err1")"

# Its token verifies, and holds the owner, the stream, 24 h by default.
"$DIODE" link --show "$url" >"$TMP/show" 2>"$TMP/err2"; rc=$?
[ $rc -eq 0 ] || fail "--show of a fresh link exited $rc: $(cat "$TMP/err2")"
[ "$(field signature < "$TMP/show")" = valid ] || fail "signature: $(cat "$TMP/show")"
[ "$(field owner < "$TMP/show")" = "$owner" ] || fail "owner is not '$owner': $(cat "$TMP/show")"
[ "$(field stream < "$TMP/show")" = cam ] || fail "stream: $(cat "$TMP/show")"
[ "$(field scope < "$TMP/show")" = live ] || fail "scope: $(cat "$TMP/show")"
issued=$(field issued < "$TMP/show" | cut -d' ' -f1)
expires=$(field expires < "$TMP/show" | cut -d' ' -f1)
[ $((expires - issued)) -eq 86400 ] || fail "default lifetime $((expires - issued)) s"
id_shown=$(field 'link id' < "$TMP/show")
grep -q "^link $id_shown " "$TMP/err1" || fail "link id $id_shown is not the one printed"
# the token alone works too
tok=${url#*t=}
"$DIODE" link --show "$tok" >/dev/null 2>&1 || fail "--show of the bare token failed"

# A token altered by one character does not verify (or does not parse).
case $tok in
  d1.A*) bad="d1.B${tok#d1.A}" ;;
  *) bad="d1.A${tok#d1.?}" ;;
esac
"$DIODE" link --show "$bad" >"$TMP/show2" 2>&1; rc=$?
[ $rc -ne 0 ] || fail "--show accepted an altered token: $(cat "$TMP/show2")"

# Options: expiry, scope, relay, https.
"$DIODE" link cam --expires 30m 2>/dev/null > "$TMP/u2" || fail "--expires 30m"
"$DIODE" link --show "$(cat "$TMP/u2")" > "$TMP/show3"
issued=$(field issued < "$TMP/show3" | cut -d' ' -f1)
expires=$(field expires < "$TMP/show3" | cut -d' ' -f1)
[ $((expires - issued)) -eq 1800 ] || fail "--expires 30m gave $((expires - issued)) s"
u=$("$DIODE" link cam --expires 366d --scope all --relay relay.example.org:8443 --https 2>/dev/null)
printf '%s\n' "$u" | grep -q '^https://relay.example.org:8443/watch/cam?t=d1\.' ||
  fail "--relay/--https gave '$u'"
"$DIODE" link --show "$u" | grep -q '^scope: all$' || fail "--scope all not in the token"
u=$("$DIODE" link 'my cam' --relay https://relay.example.org 2>/dev/null)
printf '%s\n' "$u" | grep -q '^https://relay.example.org/watch/my%20cam?t=d1\.' ||
  fail "https URL relay / escaped name gave '$u'"

# Refused with a clear message: bad --expires, bad scope, bad name, bad relay.
for e in 1y 0d 367d 12 h -5m 1.5h; do
  "$DIODE" link cam --expires "$e" >"$TMP/out" 2>"$TMP/err3"; rc=$?
  [ $rc -eq 2 ] || fail "--expires '$e': exit $rc, expected 2"
  [ -s "$TMP/out" ] && fail "--expires '$e' printed a link"
  grep -q -- "^diode: --expires '$e': " "$TMP/err3" ||
    fail "--expires '$e' message: $(cat "$TMP/err3")"
done
grep -q "366 days" "$TMP/err3" 2>/dev/null || true
"$DIODE" link cam --expires 367d 2>&1 | grep -q "366 days" || fail "367d does not name the limit"
"$DIODE" link cam --expires 1y 2>&1 | grep -q "30m, 12h or 7d" || fail "1y does not show the form"
"$DIODE" link cam --scope forever >/dev/null 2>"$TMP/err4"; rc=$?
[ $rc -eq 2 ] && grep -q "scope" "$TMP/err4" || fail "bad --scope: exit $rc, $(cat "$TMP/err4")"
"$DIODE" link 'a/b' >/dev/null 2>"$TMP/err5"; rc=$?
[ $rc -eq 2 ] && grep -q "not a stream name" "$TMP/err5" || fail "bad name: exit $rc, $(cat "$TMP/err5")"
"$DIODE" link >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no name: exit $rc"
"$DIODE" link cam --relay 'ftp://x/y' >/dev/null 2>"$TMP/err6"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--relay" "$TMP/err6" || fail "bad --relay: exit $rc, $(cat "$TMP/err6")"

# Revocation: usage errors, and an unreachable relay said so (exit 1).
"$DIODE" link --revoke >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--revoke alone: exit $rc"
"$DIODE" link --revoke nothex cam >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--revoke with a bad id: exit $rc"
"$DIODE" link --all cam >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--all without --revoke: exit $rc"
"$DIODE" link --revoke --all cam --relay 127.0.0.1:1 >/dev/null 2>"$TMP/err7"; rc=$?
[ $rc -eq 1 ] && grep -q "cannot reach the relay" "$TMP/err7" ||
  fail "unreachable relay: exit $rc, $(cat "$TMP/err7")"
"$DIODE" link --help >"$TMP/help" 2>&1 || fail "link --help"
grep -q -- "--expires" "$TMP/help" && grep -q -- "--revoke" "$TMP/help" ||
  fail "link --help lacks options"

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all diode link checks passed"
