#!/bin/sh
# `make demo`: the daemon on a simulated Trezor, on a machine with no Trezor and no desktop.
# Starts a private session bus when there is none, a simulated Model One that still needs its
# backup, and trezor-backupd watching it; prints the status, then follows events until Ctrl-C.
# TREZOR_SIM_MODEL=safe7 simulates a Safe 7 instead, to pair: then the bus is always a private
# one, with a keyring of its own (gnome-keyring, a throwaway password), so that the pairing
# of a simulated Trezor never lands in the owner's keyring.
set -eu
PY=${1:-.venv/bin/python}
BIN=$(dirname "$PY")
MODEL=${TREZOR_SIM_MODEL:-one}
case "$MODEL" in
    one) STATE=backup_required NAME="Model One" ;;
    safe7) STATE=backed_up NAME="Safe 7" ;;
    *) echo "TREZOR_SIM_MODEL is 'one' (the default) or 'safe7', not '$MODEL'." >&2; exit 64 ;;
esac
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

if [ "$MODEL" = safe7 ] || ! busctl --user status >/dev/null 2>&1; then
    set -- $(dbus-daemon --session --print-address=1 --print-pid=1 --fork)
    DBUS_SESSION_BUS_ADDRESS=$1
    export DBUS_SESSION_BUS_ADDRESS
    pids="$2"
    echo "Started a private session bus: $DBUS_SESSION_BUS_ADDRESS"
fi
sim_options=""
if [ "$MODEL" = safe7 ]; then
    if ! command -v gnome-keyring-daemon >/dev/null; then
        echo "A Safe 7's pairing is kept in a keyring: install gnome-keyring first." >&2
        exit 69
    fi
    mkdir -m 700 "$RUN/keyring" "$RUN/keyring/run"
    printf demo | HOME="$RUN/keyring" XDG_DATA_HOME="$RUN/keyring/data" \
        XDG_RUNTIME_DIR="$RUN/keyring/run" \
        gnome-keyring-daemon --components=secrets --foreground --unlock >/dev/null 2>&1 &
    pids="$pids $!"
    gdbus wait --session --timeout 20 org.freedesktop.secrets
    echo "Started a keyring of its own on that bus, for the simulated Safe 7's pairing."
    sim_options="--pairing-methods code-entry"
fi

mkfifo "$RUN/sim-ready"
# shellcheck disable=SC2086  # sim_options is words on purpose
"$BIN/trezor-backup-sim" --model "$MODEL" --state "$STATE" --label "Demo Trezor" \
    $sim_options --port "$PORT" >"$RUN/sim-ready" &
pids="$pids $!"
read -r ready <"$RUN/sim-ready"
echo "Simulated Trezor $NAME: $ready"

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
if [ "$MODEL" = safe7 ]; then
    cat <<EOF
Act on the simulated Safe 7 from another terminal:
  export DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS' PATH="$BIN:\$PATH"
  trezor-backupctl pair                   # then, each time it asks you to confirm or for the code:
  trezor-backup-sim press yes --port $PORT  #   allow (the pairing, then connecting without asking)
  trezor-backup-sim screen --port $PORT     #   the code to type into trezor-backupctl
  trezor-backupctl status                 # read without asking, now that it is paired
EOF
else
    cat <<EOF
Act on the simulated Trezor from another terminal (its seed: "abandon" 23 times, then "art"):
  export DBUS_SESSION_BUS_ADDRESS='$DBUS_SESSION_BUS_ADDRESS' PATH="$BIN:\$PATH"
  trezor-backupctl backup --yes           # the Trezor shows the 24 words, twice; for each:
  trezor-backup-sim screen --port $PORT     #   the word it shows
  trezor-backup-sim press yes --port $PORT  #   and the button to go on
  trezor-backupctl check --words 24       # answer each prompt with the word 'screen' names
EOF
fi
echo "Following events (trezor-backupctl watch); press Ctrl-C to stop."
"$BIN/trezor-backupctl" watch || true
