"""Fixtures: a private session bus, started for the first test that needs one (the daemon and
desktop fixtures ask for it) and shared by the rest of the session; a umockdev testbed per test;
a factory for the daemon under test. Hooks: at the end of the session, the seed-safety search
of everything the session produced (see seed_safety.py), which fails the session on a find.

Tests under tests/unit use none of these: they run without dbus-daemon, umockdev or a display.
Everything else must run under `umockdev-wrapper` (see Makefile).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import seed_safety
from harness import Daemon, SessionBus, UsbTestbed
from keyring_helpers import gnome_keyring

# The desktop (Xvfb, trayer, dunst) and screenshot fixtures, registered once for every module:
# a module importing them itself would start a second desktop, whose dunst cannot own the
# notification name the first one holds. official_emulators leaves out, or fails, the tests of
# the official firmware when its emulators are absent.
pytest_plugins = ["desktop_fixtures", "official_emulators"]

# Every test speaks English unless it chooses a language for a program it starts (the tests of
# tests/test_languages.py do): the machine's own $LANG must not change what the tests read.
for _variable in ("LANGUAGE", "LC_MESSAGES", "LC_TIME", "LANG"):
    os.environ.pop(_variable, None)
os.environ["LC_ALL"] = "C.UTF-8"

NO_BUS = "unix:path=/nonexistent/ask-for-the-session_bus-fixture"
"""The bus address of a test that did not ask for one: a D-Bus client it starts fails at once
instead of reaching the desktop's own session bus."""


@pytest.fixture(scope="session", autouse=True)
def no_desktop_bus() -> Iterator[None]:
    """Keep every test off the desktop's session bus, whether or not it asks for ours."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", NO_BUS)
        yield


@pytest.fixture(scope="session")
def session_bus(
    no_desktop_bus: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SessionBus]:
    """A bus of our own, exported to the tests and their children from the first test that
    needs it to the end of the session."""
    bus = SessionBus(tmp_path_factory.mktemp("bus") / "capture.log")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        yield bus
    bus.stop()


TEST_KEYRING_PASSWORD = "test-keyring-password"


@pytest.fixture(scope="session")
def secret_service(
    session_bus: SessionBus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A real Secret Service (gnome-keyring-daemon) on the test bus, its login keyring
    unlocked, its files in a directory of its own (yielded). The keyring is where pairing
    credentials belong, so its files are not searched for them."""
    home = tmp_path_factory.mktemp("keyring")
    with gnome_keyring(home, session_bus.address, TEST_KEYRING_PASSWORD):
        yield home


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
def make_daemon(
    session_bus: SessionBus, tmp_path: Path, usb: UsbTestbed
) -> Iterator[DaemonFactory]:
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


def pytest_sessionstart(session: pytest.Session) -> None:
    """Give child processes a file to append what they typed to (seed_safety.TYPED_LOG_ENV)."""
    handle, name = tempfile.mkstemp(prefix="trezor-backup-typed-")
    os.close(handle)
    os.environ[seed_safety.TYPED_LOG_ENV] = name


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test's captured stdout, stderr and log are outputs too (the teardown report holds
    all three phases')."""
    if report.when == "teardown":
        for title, text in report.sections:
            seed_safety.produced(f"{report.nodeid}: {title}", _reads(text))


def _reads(text: str) -> Callable[[], str]:
    return lambda: text


SEED_SAFETY_REPORT: list[str] = []
"""What the session-end search found (first line: what it searched), for the terminal summary."""


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Search every output of the session for every seed and PIN; fail the session on a find."""
    typed_log = Path(os.environ.pop(seed_safety.TYPED_LOG_ENV))
    seed_safety.read_typed_log(typed_log)
    typed_log.unlink(missing_ok=True)
    seeds = seed_safety.session_seeds()
    found: dict[str, None] = {}  # in order, once each
    for name, read in seed_safety.outputs:
        for leak in seed_safety.find_leaks(read(), seeds, seed_safety.pins):
            found[f"{name}, line {leak.line}: {leak.what}"] = None
    SEED_SAFETY_REPORT.append(
        f"searched {len(seed_safety.outputs)} outputs for {len(seeds)} seeds and "
        f"{len(seed_safety.pins)} PINs: " + ("FOUND A TYPED SECRET" if found else "nothing found")
    )
    SEED_SAFETY_REPORT.extend(found)
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    leaked = len(SEED_SAFETY_REPORT) > 1
    terminalreporter.section("seed safety", red=leaked, green=not leaked)
    for line in SEED_SAFETY_REPORT[:50]:
        terminalreporter.write_line(line, red=leaked)
