"""Fixtures: one private session bus per pytest session, a umockdev testbed per test, and a
factory for the daemon under test. pytest must run under `umockdev-wrapper` (see Makefile)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import Daemon, SessionBus, UsbTestbed


@pytest.fixture(scope="session", autouse=True)
def session_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionBus]:
    """A bus of our own: the tests never touch the desktop's session bus."""
    bus = SessionBus(tmp_path_factory.mktemp("bus") / "capture.log")
    previous = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    yield bus
    bus.stop()
    if previous is None:
        del os.environ["DBUS_SESSION_BUS_ADDRESS"]
    else:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = previous


@pytest.fixture
def usb() -> Iterator[UsbTestbed]:
    """A fresh umockdev testbed; children inherit UMOCKDEV_DIR and see only its devices."""
    if "umockdev" not in os.environ.get("LD_PRELOAD", ""):
        pytest.fail("run the tests under umockdev-wrapper (make test does)")
    testbed = UsbTestbed()
    yield testbed
    del testbed.testbed


DaemonFactory = Callable[..., Daemon]


@pytest.fixture
def make_daemon(tmp_path: Path, usb: UsbTestbed) -> Iterator[DaemonFactory]:
    """Build (not start) daemons that share one home, so a restart keeps its history."""
    made: list[Daemon] = []

    def factory(*emulators: str, config: str = "emulator_poll_seconds = 3600\n") -> Daemon:
        daemon = Daemon(tmp_path, list(emulators), {"UMOCKDEV_DIR": usb.root_dir})
        daemon.config_dir.mkdir(parents=True, exist_ok=True)
        (daemon.config_dir / "config.toml").write_text(config)
        made.append(daemon)
        return daemon

    yield factory
    for daemon in made:
        if daemon.process is not None:
            daemon.stop()
