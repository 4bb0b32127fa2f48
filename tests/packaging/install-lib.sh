# gst-diode tests/packaging: shared by test-units.sh and test-units-systemd.sh.
# Sourced; expects BUILD (the meson build directory) and T (a scratch dir).

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "== $*"; }

# `meson install` into DESTDIR $1; prints nothing on success.
install_into() {
  meson install -C "$BUILD" --destdir "$1" --no-rebuild --quiet >"$T/install.log" 2>&1 \
    || { cat "$T/install.log" >&2; fail "meson install --destdir $1"; }
}

# The configured prefix, sysconfdir, libexecdir and unit dir of $BUILD, as
# `meson introspect` reports them (absolute paths).
read_layout() {
  eval "$(meson introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
p = o["prefix"]
j = lambda d: d if d.startswith("/") else p + "/" + d
print("PREFIX=%s SYSCONFDIR=%s LIBEXECDIR=%s BINDIR=%s MANDIR=%s LIBDIR=%s DATADIR=%s UNITDIR_OPT=%s" % (
    p, j(o["sysconfdir"]), j(o["libexecdir"]), j(o["bindir"]), j(o["mandir"]),
    j(o["libdir"]), j(o["datadir"]), o["systemdsystemunitdir"]))
')"
  # the unit dir as data/meson.build chose it
  if [ -n "$UNITDIR_OPT" ]; then UNITDIR=$UNITDIR_OPT
  elif UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null) && [ -n "$UNITDIR" ]; then :
  else UNITDIR=$PREFIX/lib/systemd/system; fi
}
