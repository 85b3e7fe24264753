"""`make demo` (tests/demo.sh) when the official emulator's port is taken: it says so, picks
free ports, and still shows the simulated Trezor."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(**env: str) -> str:
    """`make demo`'s script as CI runs it (it shows the status and ends), on the ports it
    picks; its output, once it succeeded."""
    environment = os.environ | {"CI": "1"} | env
    environment.pop("TREZOR_SIM_PORT", None)
    done = subprocess.run(
        ["sh", str(ROOT / "tests/demo.sh"), sys.executable],
        env=environment, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_demo_moves_to_free_ports_when_21324_is_taken() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        with suppress(OSError):  # already taken by someone else: the same case
            holder.bind(("127.0.0.1", 21324))
        stdout = run_demo(DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent")
    moved = re.search(
        r"UDP port 21324 or 21325 is taken \(a Trezor emulator\?\): the simulator uses "
        r"(\d+) and (\d+) instead \(TREZOR_SIM_PORT=N chooses\)\.",
        stdout,
    )
    assert moved, stdout
    port = int(moved[1])
    assert port != 21324 and int(moved[2]) == port + 1
    assert f"Simulated Trezor Model One: ready udp:127.0.0.1:{port}" in stdout
    # Not a terminal: 80 columns, where `status` prints a block per Trezor.
    assert re.search(r"  Demo Trezor\n  model +One\n  state +backup_required\n", stdout), stdout


def test_a_safe7_demo_runs_on_a_bus_and_keyring_of_its_own() -> None:
    """TREZOR_SIM_MODEL=safe7: a simulated Safe 7, to pair. Even with a session bus at hand
    (the tests' own here) the demo starts its own bus and keyring, so that the pairing of a
    simulated Trezor never lands in the owner's keyring."""
    stdout = run_demo(TREZOR_SIM_MODEL="safe7")
    assert "Started a private session bus" in stdout
    assert "Started a keyring of its own on that bus" in stdout
    assert re.search(r"Simulated Trezor Safe 7: ready udp:127\.0\.0\.1:\d+", stdout)
    assert re.search(r"\n  model +Safe 7\n  state +pairing_required\n", stdout), stdout
