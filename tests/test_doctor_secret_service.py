"""`trezor-backupctl doctor` on the session's Secret Service, where a Safe 7's pairing is kept
and only there (docs/security.md): a real gnome-keyring unlocked, locked, or without a default
keyring; a bus with none; and one that could start it, which doctor must not do."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import EVENT_TIMEOUT, custom_bus
from keyring_helpers import SECRETS, gnome_keyring
from test_problems_named import ActivatingBus

PASSWORD = "doctor-test-keyring"


@pytest.fixture
def bare_bus(tmp_path: Path) -> Iterator[str]:
    """The address of a bus with nothing on it and nothing to activate."""
    with custom_bus(tmp_path, f"unix:dir={tmp_path}") as address:
        yield address


def keyring_line(address: str, tmp_path: Path) -> str:
    """The one keyring line of `trezor-backupctl doctor` run on the bus at `address`."""
    env = os.environ | {
        "DBUS_SESSION_BUS_ADDRESS": address,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "doctor"],
        env=env, capture_output=True, text=True, timeout=EVENT_TIMEOUT,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    [line] = [line for line in done.stdout.splitlines() if " keyring: " in line]
    return line


@pytest.mark.usefixtures("secret_service")
def test_an_unlocked_keyring_lets_a_safe7_be_paired(tmp_path: Path) -> None:
    line = keyring_line(os.environ["DBUS_SESSION_BUS_ADDRESS"], tmp_path)
    assert line == "OK   keyring: the default keyring is unlocked: a Safe 7 can be paired and read"


def test_no_keyring_is_a_warning_that_names_what_to_install(bare_bus: str, tmp_path: Path) -> None:
    """Not a FAIL: only a Safe 7 needs it."""
    line = keyring_line(bare_bus, tmp_path)
    assert line.startswith(
        f"WARN keyring: no Secret Service ({SECRETS}) in this session, and a Trezor Safe 7's "
        "pairing is kept only there: a Safe 7 cannot be paired until one runs (other Trezors "
        "do not need it). Fix: install gnome-keyring (or KWallet)"
    ), line


def test_a_locked_keyring_is_to_be_unlocked(bare_bus: str, tmp_path: Path) -> None:
    with gnome_keyring(tmp_path / "keyring", bare_bus, PASSWORD):
        assert keyring_line(bare_bus, tmp_path).startswith("OK   keyring:")
        # As "Lock" in the keyring manager does.
        subprocess.run(
            ["gdbus", "call", "--session", "--dest", SECRETS, "--object-path",
             "/org/freedesktop/secrets", "--method", "org.freedesktop.Secret.Service.Lock",
             "['/org/freedesktop/secrets/collection/login']"],
            env=os.environ | {"DBUS_SESSION_BUS_ADDRESS": bare_bus},
            check=True, capture_output=True,
        )  # fmt: skip
        line = keyring_line(bare_bus, tmp_path)
    assert line.startswith(
        "WARN keyring: your default keyring is locked: until it is unlocked a Safe 7 cannot be "
        "paired, and one paired here cannot be read. Fix: unlock it"
    ), line


def test_a_keyring_without_a_default_collection_is_named(bare_bus: str, tmp_path: Path) -> None:
    """gnome-keyring started outside a login, never used before: no default keyring yet."""
    with gnome_keyring(tmp_path / "keyring", bare_bus):
        line = keyring_line(bare_bus, tmp_path)
    assert line.startswith(
        "WARN keyring: the Secret Service has no default keyring, where a Safe 7's pairing "
        "would be kept, so a Safe 7 cannot be paired. Fix: create a keyring"
    ), line


def test_an_activatable_keyring_is_not_started_by_doctor(tmp_path: Path) -> None:
    """D-Bus would start it on the daemon's first use; doctor starts nothing (this one would
    fail: an attempt would show)."""
    bus = ActivatingBus(tmp_path)
    try:
        bus.service(SECRETS, "/bin/false")
        line = keyring_line(bus.address, tmp_path)
    finally:
        os.kill(bus.pid, signal.SIGTERM)
    assert line == (
        f"OK   keyring: {SECRETS} is not running, but D-Bus starts it on first use; until "
        "your keyring is unlocked a Safe 7 paired here is not read (pairing asks to unlock it)"
    )
