# shellcheck shell=sh
# gst-diode — sourced by scripts/setup.sh, cross-armel.sh and package.sh:
#   apt_install_missing WHO PACKAGE...
# installs those of the Debian packages that are not installed yet (as root:
# apt-get update, then install without recommends, waiting for another
# apt to finish), or says which are missing and the apt-get line to run as
# root and returns 1. All output goes to stderr: cross-armel.sh's stdout is
# a path for debian/rules.
apt_install_missing () {
  _who=$1; shift
  _missing=""
  for _p in "$@"; do
    dpkg-query -W -f='${Status}' "$_p" 2>/dev/null | grep -q "install ok installed" \
      || _missing="$_missing $_p"
  done
  [ -z "$_missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$_who: these Debian packages are missing; install them as root with:" >&2
    echo "  apt-get update && apt-get install -y$_missing" >&2
    return 1
  fi
  echo "$_who: installing:$_missing" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Lock::Timeout=600 $_missing >&2
}
