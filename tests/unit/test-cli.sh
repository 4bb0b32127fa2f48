#!/bin/sh
# gst-diode — test of the `diode` command-line tool
# Copyright (C) 2026 gst-diode developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-cli.sh PATH/TO/diode
# Runs with a private $XDG_CONFIG_HOME; prints what failed, exits non-zero.

set -u

DIODE=${1:?usage: $0 PATH/TO/diode}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/diode-test-cli.XXXXXX") || exit 1
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

is_address () {
  printf '%s\n' "$1" | grep -Eq '^0x[0-9a-f]{40}$'
}

# First run: creates the identity, says so on stderr, address on stdout.
addr1=$("$DIODE" id 2>"$TMP/err1"); rc=$?
[ $rc -eq 0 ] || fail "diode id exited $rc: $(cat "$TMP/err1")"
is_address "$addr1" || fail "diode id printed '$addr1', not an address"
KEY="$XDG_CONFIG_HOME/diode/identity.pem"
[ -f "$KEY" ] || fail "no key file at $KEY"
grep -q "created new identity $KEY" "$TMP/err1" ||
  fail "no 'created new identity' note on stderr: $(cat "$TMP/err1")"
mode=$(stat -c %a "$KEY" 2>/dev/null)
[ "$mode" = 600 ] || fail "key file mode is $mode, expected 600"
dmode=$(stat -c %a "$XDG_CONFIG_HOME/diode" 2>/dev/null)
[ "$dmode" = 700 ] || fail "key directory mode is $dmode, expected 700"

# Second run: same address, no note.
addr2=$("$DIODE" id 2>"$TMP/err2"); rc=$?
[ $rc -eq 0 ] || fail "second diode id exited $rc: $(cat "$TMP/err2")"
[ "$addr1" = "$addr2" ] || fail "address changed: '$addr1' then '$addr2'"
[ -s "$TMP/err2" ] && fail "second run wrote to stderr: $(cat "$TMP/err2")"
[ "$(printf '%s\n' "$addr2" | wc -l)" -eq 1 ] || fail "more than one line"

# --identity FILE: another key, another address.
addr3=$("$DIODE" id --identity "$TMP/other.pem" 2>/dev/null); rc=$?
[ $rc -eq 0 ] || fail "diode id --identity exited $rc"
is_address "$addr3" || fail "--identity printed '$addr3'"
[ "$addr3" != "$addr1" ] || fail "two identities have the same address"
[ "$(stat -c %a "$TMP/other.pem" 2>/dev/null)" = 600 ] ||
  fail "--identity key file is not 0600"

# Errors: exit 1 with "diode: <message>" naming the file.
echo "not a key" > "$TMP/garbage.pem"
"$DIODE" id --identity "$TMP/garbage.pem" >/dev/null 2>"$TMP/err3"; rc=$?
[ $rc -eq 1 ] || fail "garbage key: exit $rc, expected 1"
grep -q "^diode: .*$TMP/garbage.pem" "$TMP/err3" ||
  fail "garbage key message: $(cat "$TMP/err3")"
"$DIODE" id --identity "$TMP" >/dev/null 2>"$TMP/err4"; rc=$?
[ $rc -eq 1 ] || fail "directory as key: exit $rc, expected 1"

# Usage.
"$DIODE" frobnicate >/dev/null 2>"$TMP/err5"; rc=$?
[ $rc -eq 2 ] || fail "unknown command: exit $rc, expected 2"
grep -q "Usage" "$TMP/err5" || fail "unknown command prints no usage"
"$DIODE" >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no command: exit $rc, expected 2"
"$DIODE" --help >"$TMP/help" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "--help exited $rc"
grep -q "id" "$TMP/help" || fail "--help does not list the id command"
"$DIODE" id --help >"$TMP/help2" 2>&1; rc=$?
[ $rc -eq 0 ] || fail "id --help exited $rc"
grep -q -- "--identity" "$TMP/help2" || fail "id --help lacks --identity"
ver=$("$DIODE" --version); rc=$?
[ $rc -eq 0 ] || fail "--version exited $rc"
printf '%s\n' "$ver" | grep -Eq '^diode [0-9]' || fail "--version printed '$ver'"

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all CLI checks passed"
