# shellcheck shell=sh
# gst-diode tests/packaging: boot a real systemd as PID 1 in a root, on a
# machine (or CI chroot) where no systemd runs. Sourced by
# test-units-systemd.sh (an overlay of /) and scripts/package.sh (the clean
# Debian 12 root with the packages installed). POSIX sh, root only.
#
# /lib/systemd/systemd of ROOT runs as PID 1 of new PID, mount, network,
# UTS and IPC namespaces, chrooted into ROOT (bound onto itself, so / is a
# mount point for the units' ProtectSystem=), /proc/sys and /sys read only,
# cgroups on a private tmpfs, a private /dev, /run and /tmp, only loopback;
# no module loading, clock or reboot (bounding set). Units that would touch
# the host or the network are masked in ROOT (see sd_boot).
#
#   sd_boot ROOT LOGDIR [TARGET]  boot into TARGET (default sysinit.target);
#                                 returns once systemd is running or
#                                 degraded (at most 30 s), else prints the
#                                 boot log and returns 1
#   sd_ns SECONDS CMD...          run CMD inside (root, cwd, namespaces),
#                                 bounded by timeout
#   sd_sc ARGS...                 systemctl --no-pager ARGS inside (30 s)
#   sd_prop UNIT PROPERTY         a unit's property (systemctl show)
#   sd_wait UNIT PROPERTY VALUE [TENTHS]
#                                 until the property has that value (10 s),
#                                 else prints the unit's status, returns 1
#   sd_journal UNIT               the unit's journal (messages only)
#   sd_wait_log UNIT TEXT         until a journal line has TEXT (10 s), else
#                                 prints the journal, returns 1
#   sd_stop                       power off (SIGRTMIN+4), kill -9 after 10 s;
#                                 safe to call twice or without a boot
# Sets SD_PID1 (PID 1's host PID) and SD_STATE (running|degraded).

SD_PID1=
SD_BOOT=
SD_STATE=
SD_BOUND=

sd_boot() {
  sd_root=$1 sd_log=$2 sd_target=${3:-sysinit.target}
  mkdir -p "$sd_log" "$sd_root/etc/systemd/system"
  # What a container's systemd must not touch on the host or the network:
  # kernel modules, the clock, NTP, timers (apt), udev (sysfs is read-only
  # anyway), consoles.
  for u in systemd-modules-load.service systemd-timesyncd.service \
      systemd-udevd.service systemd-udev-trigger.service systemd-sysctl.service \
      systemd-binfmt.service timers.target getty.target console-getty.service; do
    ln -sf /dev/null "$sd_root/etc/systemd/system/$u"
  done
  cat > "$sd_log/boot.sh" <<EOS
#!/bin/sh
set -e
R=$sd_root
mount --bind \$R \$R
mount -t proc proc \$R/proc
mount --bind -o ro \$R/proc/sys \$R/proc/sys
mount -o remount,bind,ro \$R/proc/sys
mount -t sysfs -o ro sysfs \$R/sys
mount -t tmpfs -o mode=755 tmpfs \$R/sys/fs/cgroup
mount -t tmpfs -o mode=755 tmpfs \$R/run
mount -t tmpfs -o mode=1777 tmpfs \$R/tmp
mount -t tmpfs -o mode=755 tmpfs \$R/dev
for n in null zero full random urandom tty; do
  touch \$R/dev/\$n; mount --bind /dev/\$n \$R/dev/\$n
done
touch \$R/dev/console; mount --bind /dev/null \$R/dev/console
mkdir \$R/dev/pts \$R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts \$R/dev/pts
ln -s pts/ptmx \$R/dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs \$R/dev/shm
ln -s /proc/self/fd \$R/dev/fd
exec chroot \$R /usr/bin/env -i container=diode-test \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --unit=$sd_target
EOS
  chmod +x "$sd_log/boot.sh"
  # Nothing mounted inside may reach the host: ROOT is made a private mount
  # here, on the host side (bound onto itself first when it is a plain
  # directory; sd_stop unbinds it), so every mount under it in the new
  # namespace stays there. unshare's own --propagation private cannot do
  # it: it remounts / , which fails in a chroot whose / is no mount point
  # (CI's and fresh-check's: "cannot change root filesystem propagation").
  if ! mountpoint -q "$sd_root"; then
    mount --bind "$sd_root" "$sd_root" || { echo "cannot bind $sd_root onto itself" >&2; return 1; }
    SD_BOUND=$sd_root
  fi
  mount --make-rprivate "$sd_root" || { echo "cannot make $sd_root a private mount" >&2; return 1; }
  # setpriv: no module loading, clock or reboot from inside, as nspawn does.
  setpriv --bounding-set -sys_module,-sys_time,-sys_boot \
    unshare --pid --fork --kill-child --mount --uts --ipc --net --propagation unchanged \
    "$sd_log/boot.sh" > "$sd_log/boot.log" 2>&1 &
  SD_BOOT=$!
  sd_i=0 sd_us=
  while [ $sd_i -lt 100 ]; do
    sd_us=$(pgrep -f "^unshare .*$sd_log/boot.sh" || true)
    [ -n "$sd_us" ] && SD_PID1=$(pgrep -P "$sd_us" -x systemd || true)
    [ -n "$SD_PID1" ] && break
    kill -0 "$SD_BOOT" 2>/dev/null || { cat "$sd_log/boot.log" >&2; echo "the namespace did not start" >&2; return 1; }
    sleep 0.1; sd_i=$((sd_i + 1))
  done
  [ -n "$SD_PID1" ] || { cat "$sd_log/boot.log" >&2; echo "systemd did not start" >&2; return 1; }
  sd_i=0
  while [ $sd_i -lt 150 ]; do
    SD_STATE=$(sd_ns 5 systemctl is-system-running 2>/dev/null || true)
    case $SD_STATE in running|degraded) return 0 ;; esac
    sleep 0.2; sd_i=$((sd_i + 1))
  done
  cat "$sd_log/boot.log" >&2
  echo "systemd did not finish booting ($SD_STATE)" >&2
  return 1
}

sd_ns() { sd_t=$1; shift; timeout "$sd_t" nsenter -t "$SD_PID1" -a -r -w "$@"; }

sd_sc() { sd_ns 30 systemctl --no-pager "$@"; }

sd_stop() {
  if [ -n "$SD_PID1" ] && kill -0 "$SD_PID1" 2>/dev/null; then
    # SIGRTMIN+4: poweroff (PID 1 of a container then exits); then force.
    kill -s RTMIN+4 "$SD_PID1" 2>/dev/null || true
    sd_i=0; while kill -0 "$SD_PID1" 2>/dev/null && [ $sd_i -lt 100 ]; do sleep 0.1; sd_i=$((sd_i + 1)); done
    kill -9 "$SD_PID1" 2>/dev/null || true
  fi
  if [ -n "$SD_BOOT" ]; then wait "$SD_BOOT" 2>/dev/null || true; fi
  if [ -n "$SD_BOUND" ]; then umount "$SD_BOUND" 2>/dev/null || true; fi
  SD_PID1=''
  SD_BOOT=''
  SD_BOUND=''
}

sd_prop() { sd_sc show -p "$2" --value "$1"; }

sd_wait() {
  sd_n=0
  while [ "$(sd_prop "$1" "$2")" != "$3" ] && [ $sd_n -lt "${4:-100}" ]; do sleep 0.1; sd_n=$((sd_n + 1)); done
  [ "$(sd_prop "$1" "$2")" = "$3" ] && return 0
  sd_sc status "$1" >&2 || true
  echo "$1: $2 is $(sd_prop "$1" "$2"), not $3" >&2
  return 1
}

sd_journal() { sd_ns 30 journalctl --no-pager -o cat -u "$1"; }

sd_wait_log() {
  sd_n=0
  while ! sd_journal "$1" | grep -qF "$2" && [ $sd_n -lt 100 ]; do sleep 0.1; sd_n=$((sd_n + 1)); done
  sd_journal "$1" | grep -qF "$2" && return 0
  sd_journal "$1" >&2
  echo "$1 never logged: $2" >&2
  return 1
}
