"""The official Trezor firmware (../shared/emulators, or $TREZOR_EMULATORS) as test devices.

Each model's debug build runs as its own process on free UDP ports (wire PORT, DebugLink
PORT+1; a core one binds up to PORT+3, the Safe 7 up to PORT+5). A state is set up over the
wire with trezorlib's own test client (`TrezorTestContext`, which also confirms the device's
screens and skips THP pairing on a debug build) BEFORE the daemon is told about the emulator:
a core firmware ends a running flow on any message, so nothing else may talk to it meanwhile.

Where these and the project's simulator disagree, these win: the simulator is a model of them.

This module is also a pytest plugin (conftest's pytest_plugins): without the emulators the
tests that use `emulator_pool` are left out, with one line in the terminal summary; under
`CI=true` their absence fails those tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from trezorlib import debuglink, device, messages
from trezorlib.debuglink import TrezorTestContext
from trezorlib.transport.udp import UdpTransport

from seed_safety import MNEMONIC12
from sim_helpers import ABANDON24, HOST

EMULATORS_ENV = "TREZOR_EMULATORS"
DEFAULT_EMULATORS = Path(__file__).resolve().parents[1].parent / "shared" / "emulators"
"""../shared/emulators beside the project's root."""

LEGACY = "T1B1"
SAFE7 = "T3W1"
CORE_V1 = ("T2T1", "T2B1", "T3B1", "T3T1")
"""Core models that speak protocol v1 (the Safe 7 speaks THP only)."""
MODELS = (LEGACY, *CORE_V1, SAFE7)
MODEL_NAMES = {
    "T1B1": "One",
    "T2T1": "T",
    "T2B1": "Safe 3",
    "T3B1": "Safe 3",
    "T3T1": "Safe 5",
    "T3W1": "Safe 7",
}
"""The `Model` the daemon shows for each internal model (what the owner reads)."""

PORT_SPAN = 10
"""Ports one emulator may bind, from its wire port on (README: keep them 10 apart)."""
READY_TIMEOUT = 30.0
"""Generous: the machine runs other tests at the same time."""

TEST_PIN = "1234"


def seed_of(model: str) -> str:
    """The seed an emulator is loaded with (both are seed_safety.SUITE_SEEDS): 24 words on
    the Model One, whose 24-word check asks the computer for scrambled words that DebugLink
    names (its 12-word matrix is only drawn, in pixels), 12 on the others."""
    return ABANDON24 if model == LEGACY else MNEMONIC12


def emulators_dir() -> Path:
    """Where the emulators are looked for: $TREZOR_EMULATORS, else ../shared/emulators."""
    return Path(os.environ.get(EMULATORS_ENV) or DEFAULT_EMULATORS)


def require_emulators() -> Path:
    """The emulators' folder. Without it (under CI=true: elsewhere their tests were left out
    at collection) the test fails."""
    where = emulators_dir()
    if not (where / "start").is_file():
        pytest.fail(f"no official firmware emulators at {where} (${EMULATORS_ENV})")
    return where


NOT_RUN: list[str] = []
"""What was left out for want of the emulators, for the terminal summary."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without the emulators, outside CI, leave their scenarios out and say so once."""
    where = emulators_dir()
    if (where / "start").is_file() or os.environ.get("CI") == "true":
        return
    left_out = [item for item in items if POOL_FIXTURE in getattr(item, "fixturenames", ())]
    if left_out:
        items[:] = [item for item in items if item not in left_out]
        config.hook.pytest_deselected(items=left_out)
        NOT_RUN.append(
            f"official firmware: {len(left_out)} scenarios not run, no emulators at {where} "
            f"(set ${EMULATORS_ENV}; under CI=true this fails)"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in NOT_RUN:
        terminalreporter.write_line(line, yellow=True)


def free_port_block() -> int:
    """A loopback UDP port P with P..P+PORT_SPAN-1 all free."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((HOST, 0))
            base = int(probe.getsockname()[1])
        if base + PORT_SPAN > 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(base, base + PORT_SPAN):
                taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(taken)
                taken.bind((HOST, port))
        except OSError:
            continue
        finally:
            for taken in held:
                taken.close()
        return base
    raise RuntimeError("no free block of UDP ports")


@contextmanager
def wire_client(port: int) -> Iterator[TrezorTestContext]:
    """trezorlib's test client for the device whose wire is UDP `port` (DebugLink on the
    next port): another program that confirms every screen itself, on the official
    firmware or on the simulator. Closed at the end of the block."""
    context = TrezorTestContext(
        UdpTransport(f"{HOST}:{port}"), debug_transport=UdpTransport(f"{HOST}:{port + 1}")
    )
    try:
        yield context
    finally:
        context.client.transport.close()
        context.debug.close()


@dataclass
class OfficialEmulator:
    """One official firmware emulator process with its flash in `profile`.

    `stop()` is an unplug, `start()` after it a plug-in of the same device, both together a
    power cycle; `start(wipe=True)` a new, empty device.
    """

    model: str
    folder: Path
    profile: Path
    port: int = field(default_factory=free_port_block)
    process: subprocess.Popen[bytes] | None = None

    @property
    def path(self) -> str:
        """The daemon's `--emulator` address (trezorlib's transport path)."""
        return f"udp:{HOST}:{self.port}"

    @property
    def debug_port(self) -> int:
        return self.port + 1

    @property
    def log_path(self) -> Path:
        return self.profile / "emulator.log"

    def start(self, wipe: bool = False) -> None:
        """Start it and wait until its DebugLink answers (the wire is up by then too)."""
        assert self.process is None
        self.profile.mkdir(parents=True, exist_ok=True)
        command = [str(self.folder / "start"), self.model, str(self.port)]
        command += ["--profile", str(self.profile), *(["--wipe"] if wipe else [])]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.model} emulator did not start: {self.log_tail()}")

    def _answers(self) -> bool:
        """Whether DebugLink answers the transport's ping (waits up to a few seconds)."""
        transport = UdpTransport(f"{HOST}:{self.debug_port}")
        transport.open()
        try:
            return bool(transport.is_ready())
        finally:
            transport.close()

    def stop(self) -> None:
        """Kill it and wait for it (an unplug; the flash stays in the profile)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def power_cycle(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-20:])

    def setup_client(self) -> AbstractContextManager[TrezorTestContext]:
        """trezorlib's test client on the wire, its DebugLink confirming every screen (and
        typing the test PIN); closed at the end of the block, before the daemon may look."""
        return wire_client(self.port)

    def load(self, state: str, pin: str | None = None, locked: bool = True) -> str:
        """Wipe, then make it a Trezor in `state` (see STATES), with a PIN locked unless
        `locked` is False; its new device id."""
        with self.setup_client() as context:
            session = context.client.get_session(passphrase=None)
            if context.features.initialized:
                device.wipe(session)
                context.client.refresh_features()
                session = context.client.get_session(passphrase=None)
            # Core firmware takes no unfinished_backup in LoadDevice (it loads a plain
            # backed-up wallet): its backup fails the way a real one does, cancelled at its
            # first screen (recorded, e1d).
            unfinished = state == "unfinished_backup"
            legacy_unfinished = unfinished and self.model == LEGACY
            if state != "blank":
                debuglink.load_device(
                    session,
                    seed_of(self.model),
                    pin=pin,
                    passphrase_protection=False,
                    label=f"emulated {self.model}",
                    needs_backup=state == "needs_backup" or (unfinished and not legacy_unfinished),
                    no_backup=state == "seedless",
                    unfinished_backup=legacy_unfinished,
                )
            if unfinished and not legacy_unfinished:
                started = session.call_raw(messages.BackupDevice())
                assert isinstance(started, messages.ButtonRequest), started
                cancelled = session.call_raw(messages.Cancel())
                assert isinstance(cancelled, messages.Failure), cancelled
            features = context.client.refresh_features()
            if pin is not None and locked:
                session.call(messages.LockDevice(), expect=messages.Success)
        assert features.device_id is not None
        return features.device_id


STATES = {
    "blank": "not_initialized",
    "needs_backup": "backup_required",
    "backed_up": "unverified",
    "seedless": "no_backup",
    "unfinished_backup": "backup_failed",
}
"""Each backup state a Trezor can be set up in, and the daemon's `State` for it (a backed-up
Trezor never checked on this computer is `unverified`)."""


class EmulatorPool:
    """At most one emulator running at a time (the machine has two cores), started on first
    use of its model and kept for the next test of that model."""

    def __init__(self, folder: Path, profiles: Path) -> None:
        self.folder = folder
        self.profiles = profiles
        self.running: OfficialEmulator | None = None

    def get(self, model: str) -> OfficialEmulator:
        if self.running is not None and self.running.model == model:
            return self.running
        self.close()
        emulator = OfficialEmulator(model, self.folder, self.profiles / model)
        emulator.start(wipe=True)
        self.running = emulator
        return emulator

    def close(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


POOL_FIXTURE = "emulator_pool"


@pytest.fixture(scope="module", name=POOL_FIXTURE)
def emulator_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorPool]:
    """The official emulators for one test module (skipped or failed without them)."""
    pool = EmulatorPool(require_emulators(), tmp_path_factory.mktemp("emulators"))
    try:
        yield pool
    finally:
        pool.close()
