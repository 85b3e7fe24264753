#!/bin/sh
# `make demo`: the daemon on a simulated Trezor, on a machine with no Trezor and no desktop.
# Starts a private session bus when there is none, a simulated Model One that still needs its
# backup, and trezor-backupd watching it; prints the status, then follows events until Ctrl-C.
set -eu
PY=${1:-.venv/bin/python}
BIN=$(dirname "$PY")
# The simulator's wire port P and its DebugLink port P+1: 21324 like the official emulator,
# unless that is taken (by the emulator itself, say); TREZOR_SIM_PORT chooses one.
free_port_pair() {
    "$PY" - "$1" <<'EOF'
import socket, sys
def free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
        try:
            first.bind(("127.0.0.1", port))
            second.bind(("127.0.0.1", first.getsockname()[1] + 1))
        except OSError:
            return None
        return first.getsockname()[1]
port = free(int(sys.argv[1]))
while port is None:
    port = free(0)
print(port)
EOF
}
if [ -n "${TREZOR_SIM_PORT:-}" ]; then
    PORT=$TREZOR_SIM_PORT
else
    PORT=$(free_port_pair 21324)
    if [ "$PORT" != 21324 ]; then
        echo "UDP port 21324 or 21325 is taken (a Trezor emulator?): the simulator uses" \
            "$PORT and $((PORT + 1)) instead (TREZOR_SIM_PORT=N chooses)."
    fi
fi
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
cat <<EOF
Act on the simulated Trezor from another terminal (its seed: "abandon" 23 times, then "art"):
  export DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS' PATH="$BIN:\$PATH"
  trezor-backupctl backup --yes           # the Trezor shows the 24 words, twice; for each:
  trezor-backup-sim screen --port $PORT     #   the word it shows
  trezor-backup-sim press yes --port $PORT  #   and the button to go on
  trezor-backupctl check --words 24       # answer each prompt with the word 'screen' names
EOF
echo "Following events (trezor-backupctl watch); press Ctrl-C to stop."
"$BIN/trezor-backupctl" watch || true
