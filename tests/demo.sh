#!/bin/sh
# `make demo`: the daemon on a simulated Trezor, on a machine with no Trezor and no desktop.
# Starts a private session bus when there is none, a simulated Model One that still needs its
# backup, and trezor-backupd watching it; prints the status, then follows events until Ctrl-C.
set -eu
PY=${1:-.venv/bin/python}
BIN=$(dirname "$PY")
PORT=${TREZOR_SIM_PORT:-21324}
RUN=$(mktemp -d)
pids=""
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

if ! busctl --user status >/dev/null 2>&1; then
    set -- $(dbus-daemon --session --print-address=1 --print-pid=1 --fork)
    DBUS_SESSION_BUS_ADDRESS=$1
    export DBUS_SESSION_BUS_ADDRESS
    pids="$2"
    echo "Started a private session bus: $DBUS_SESSION_BUS_ADDRESS"
fi

mkfifo "$RUN/sim-ready"
"$BIN/trezor-backup-sim" --model one --state backup_required --label "Demo Trezor" \
    --port "$PORT" >"$RUN/sim-ready" &
pids="$pids $!"
read -r ready <"$RUN/sim-ready"
echo "Simulated Trezor Model One: $ready"

XDG_STATE_HOME="$RUN/state" "$BIN/trezor-backupd" --emulator "udp:127.0.0.1:$PORT" \
    2>"$RUN/daemon.log" &
pids="$pids $!"
gdbus wait --session --timeout 20 io.github.TrezorBackupGuard

echo
"$BIN/trezor-backupctl" status
echo
echo "D-Bus: busctl --user call io.github.TrezorBackupGuard /io/github/TrezorBackupGuard io.github.TrezorBackupGuard.Manager1 GetDevices"
busctl --user call io.github.TrezorBackupGuard /io/github/TrezorBackupGuard \
    io.github.TrezorBackupGuard.Manager1 GetDevices
echo
if [ -n "${CI:-}" ] || [ ! -t 0 ]; then
    exit 0
fi
echo "Following events (trezor-backupctl watch); press Ctrl-C to stop."
"$BIN/trezor-backupctl" watch || true
