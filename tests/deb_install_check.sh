#!/bin/sh
# Runs inside a fresh Debian 12 root (tests/test_deb_package.py): installs the package with apt,
# lets the installed daemon read a simulated Trezor (the checkout's simulator, which the test
# runs outside the root: the package does not ship it) on a session bus of its own, as an
# ordinary user, then purges the package. Results go to /tmp/result/ for the test to check.
# Usage: deb_install_check.sh PACKAGE.deb SIM_PORT
set -eu
deb=$1 port=$2
out=/tmp/result
mkdir -p "$out" && chmod 1777 "$out"
step() { echo "== $*"; }

step "apt sources: Debian 12 from deb.debian.org"
cat >/etc/apt/sources.list <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
apt-get -q update

step "apt install $deb"
# Keep what apt downloads: the test mounts a cache over /var/cache/apt/archives.
apt -q -o APT::Keep-Downloaded-Packages=true install -y "$deb"
dpkg-query -L trezor-backup-guard >"$out/installed-files"
dpkg-query -W -f='${Conffiles}\n' trezor-backup-guard >"$out/conffiles"
# Not enabled for every user: D-Bus activation, udev and the applet's autostart start it.
find /etc/systemd/user -name 'trezor-backupd*' >"$out/enabled-units"

step "as a user: a session bus, the daemon by D-Bus activation"
useradd --create-home owner
cat >/tmp/as-owner.sh <<'EOF'
set -eu
port=$1 out=$2
export XDG_RUNTIME_DIR="$HOME/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
mkdir -p "$HOME/.config/trezor-backup-guard"
printf 'emulators = ["udp:127.0.0.1:%s"]\n' "$port" >"$HOME/.config/trezor-backup-guard/config.toml"
set -- $(dbus-daemon --session --print-address=1 --print-pid=1 --fork)
export DBUS_SESSION_BUS_ADDRESS=$1
bus=$2
trezor-backupctl status --json >"$out/status.json"
trezor-backupctl status
daemon=$(dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus.GetConnectionUnixProcessID \
    string:io.github.TrezorBackupGuard | awk '{print $2}')
readlink "/proc/$daemon/exe" >"$out/daemon-exe"
tr '\0' ' ' <"/proc/$daemon/cmdline" >"$out/daemon-cmdline"
trezor-backup-applet --help >"$out/applet-help.txt"
kill "$daemon" "$bus"
timeout 20 tail --pid="$daemon" -s 0.1 -f /dev/null
EOF
runuser -u owner -- sh -c 'cd && sh /tmp/as-owner.sh "$@"' - "$port" "$out"

step "apt purge trezor-backup-guard"
apt -q purge -y trezor-backup-guard
find /etc/systemd/user /var/lib/systemd -name '*trezor-backupd*' >"$out/units-after-purge"
echo "purged" >"$out/purged"
