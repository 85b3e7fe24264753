"""trezor-backupctl check / backup / history end to end: the CLI as its own process,
answered through a pipe the way a person answers its prompts (reading the simulated Trezor's
screen over DebugLink), against the real daemon and simulator. Exit codes and scrollback are
what a user would see; no typed word may be in it. Last, what the CLI says when the daemon is
not there."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from trezorlib import messages

from trezor_backup_api.client import BusEvent, DaemonClient, OperationProgress
from trezor_backup_api.names import BUS_NAME, ROOT_PATH
from trezor_backup_api.names import MANAGER_INTERFACE as MANAGER

import seed_safety
from conftest import DaemonFactory
from harness import (
    DEVICE_ID,
    EVENT_TIMEOUT,
    LineReader,
    busctl,
    ctl,
    custom_bus,
    get_devices,
    history,
    rogue_agent_calls,
    running,
)
from seed_safety import MNEMONIC12, ZOO24
from sim_helpers import ABANDON24, HostPort, Simulator, matrix_key, start_simulator

WORD_PROMPT = "Word requested by your Trezor"
GRID_PROMPT = "Position on your Trezor's grid"
PIN_PROMPT = "PIN positions"


class TrezorEyes:
    """The person's eyes on the Trezor: YES on every screen that waits for a button.

    The CLI prints a step once, not once per screen, so the person follows the screens on
    the Trezor itself; here the daemon's `OperationProgress`, sent for every screen, stands
    for seeing it. Subscribed before the CLI starts, so no screen is missed.
    """

    PRESSED = frozenset({"show_words", "result"})

    def __init__(self, sim: Simulator) -> None:
        self.screen = HostPort(sim.debug_port)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._follow()))
        self.thread.start()
        assert self.ready.wait(EVENT_TIMEOUT)

    async def _follow(self) -> None:
        self.loop = asyncio.get_running_loop()
        async with DaemonClient.connect() as client:
            await client.subscribe(self._see)
            self.ready.set()
            await self.stop.wait()

    def _see(self, event: BusEvent) -> None:
        if isinstance(event, OperationProgress) and event.stage in self.PRESSED:
            self.screen.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))

    def close(self) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(EVENT_TIMEOUT)
        self.screen.close()


class CtlSession:
    """trezor-backupctl with a person at the keyboard who looks at the Trezor's screen.

    `env` adds to its environment (a language); `prompts` are the word, grid and PIN prompts
    as that language says them."""

    def __init__(
        self,
        sim: Simulator,
        *args: str,
        press_buttons: bool = False,
        env: dict[str, str] | None = None,
        prompts: tuple[str, str, str] = (WORD_PROMPT, GRID_PROMPT, PIN_PROMPT),
    ) -> None:
        self.sim = sim
        self.screen = HostPort(sim.debug_port)
        self.eyes = TrezorEyes(sim) if press_buttons else None
        self.prompts = prompts
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trezor_backupctl", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=os.environ | (env or {}),
        )
        self.reader = LineReader(self.process)
        seed_safety.produced("trezor-backupctl scrollback", self.output)

    def answer(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def run(self, typed: str, pin: str = "") -> int:
        """Answer every prompt until the CLI exits; returns its exit code."""
        seed_safety.typed(typed, pin)
        word_prompt, grid_prompt, pin_prompt = self.prompts
        for line in self.reader.until_end():
            if line.startswith(word_prompt):
                self.answer(self.requested_word(typed))
            elif line.startswith(grid_prompt):
                self.answer(matrix_key(self.screen, typed))
            elif line.startswith(pin_prompt):
                matrix = self.state().matrix or ""
                positions = "".join(str(matrix.index(d) + 1) for d in pin)
                seed_safety.typed(positions)
                self.answer(positions)
        code = self.process.wait(timeout=EVENT_TIMEOUT)
        self.screen.close()
        if self.eyes is not None:
            self.eyes.close()
        return code

    def state(self) -> messages.DebugLinkState:
        reply = self.screen.call(messages.DebugLinkGetState())
        assert isinstance(reply, messages.DebugLinkState)
        return reply

    def requested_word(self, typed: str) -> str:
        state = self.state()
        position = state.recovery_word_pos or 0
        return typed.split()[position - 1] if position else (state.recovery_fake_word or "")

    def output(self) -> str:
        return "\n".join(self.reader.seen)


@pytest.mark.parametrize(
    ("typed", "code", "state"), [(ABANDON24, 0, "verified"), (ZOO24, 1, "check_failed")]
)
def test_check_through_the_cli(
    make_daemon: DaemonFactory, typed: str, code: int, state: str
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, pin="248613579") as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            # the only device: no id needed
            cli = CtlSession(sim, "check", "--words", "24", press_buttons=True)
            assert cli.run(typed, pin="248613579") == code
            assert [d["State"] for d in get_devices()] == [state]
        assert PIN_PROMPT in cli.output()
        assert cli.output().count(WORD_PROMPT) == 24
        # one line for the 24 words, each asked by its own prompt
        assert cli.output().count("Type the word your Trezor shows") == 1
        seed_safety.assert_no_secret(cli.output(), daemon.log())


@pytest.mark.parametrize(
    ("typed", "result", "problem"),
    [
        (" ".join(["abandon"] * 24), "invalid_words", "not a valid recovery seed"),
        (ZOO24, "mismatch", "of another wallet"),
    ],
)
def test_a_failed_check_after_a_passed_one_shows_failed_everywhere(
    make_daemon: DaemonFactory, typed: str, result: str, problem: str
) -> None:
    """docs/states.md: only the latest verdict counts. A pass, then a wrong word: `status`
    and the bus say check_failed with the problem named, never verified or passed."""
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            passing = CtlSession(sim, "check", "--words", "24", press_buttons=True)
            assert passing.run(ABANDON24) == 0
            assert [d["State"] for d in get_devices()] == ["verified"]
            failing = CtlSession(sim, "check", "--words", "24", press_buttons=True)
            assert failing.run(typed) == 1
            [device] = json.loads(ctl("status", "--json").stdout)["devices"]
            [on_bus] = get_devices()
            assert history() == [("check", "passed"), ("check", result)]
    assert (device["state"], device["last_check_result"]) == ("check_failed", result)
    assert (on_bus["State"], on_bus["LastCheckResult"]) == ("check_failed", result)
    assert problem in device["explanation"] and problem in on_bus["Explanation"]
    seed_safety.assert_no_secret(passing.output(), failing.output(), daemon.log())


def test_a_check_whose_result_cannot_be_saved_says_so(make_daemon: DaemonFactory) -> None:
    """The state directory cannot be made (a file is in its way): the check passes on the
    Trezor, and the CLI, the bus and doctor all say that the result was not saved, and why."""
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        daemon.state_dir.parent.mkdir(parents=True)
        daemon.state_dir.write_text("a file where the state directory should be\n")
        with running(daemon):
            cli = CtlSession(sim, "check", "--words", "24", press_buttons=True)
            assert cli.run(ABANDON24) == 0
            assert [d["State"] for d in get_devices()] == ["unverified"]
            available = busctl("get-property", BUS_NAME, ROOT_PATH, MANAGER, "HistoryAvailable")
            doctor = ctl("doctor")
            status = ctl("status")
    problem = f"cannot create the state directory {daemon.state_dir}: File exists"
    assert status.returncode == 0
    assert status.stderr == (
        "trezor-backupctl: check and backup results are not being saved, so a passed check "
        f"still shows as unverified: {problem}. Fix: trezor-backupctl doctor\n"
    )
    assert available == {"type": "b", "data": False}
    assert (
        "trezor-backupctl: the check result could not be saved, so status will not show it: "
        f"{problem}. Fix: make that directory writable"
    ) in cli.output()
    assert (
        "FAIL history: check and backup results cannot be saved, so a passed check is "
        f"forgotten: {problem}" in doctor.stdout
    )
    seed_safety.assert_no_secret(cli.output(), daemon.log())


def test_twelve_word_check_through_the_cli_uses_the_grid(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, mnemonic=MNEMONIC12) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            cli = CtlSession(sim, "check", DEVICE_ID, "--words", "12", press_buttons=True)
            assert cli.run(MNEMONIC12) == 0
        assert cli.output().count(GRID_PROMPT) == 48
        seed_safety.assert_no_secret(cli.output(), daemon.log())


def test_a_rogue_process_cannot_make_the_cli_ask_for_words(make_daemon: DaemonFactory) -> None:
    """The CLI's agent answers only the daemon, about the check it started: another process
    on the session bus calling its Agent1, for this device or another, gets AccessDenied and
    no prompt appears (docs/security.md)."""
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            cli = CtlSession(sim, "check", DEVICE_ID, "--words", "24")
            cli.reader.wait_for(lambda line: line.startswith(WORD_PROMPT))
            for device in (DEVICE_ID, "F00000000000000000000001"):
                calls = rogue_agent_calls(
                    "--pid",
                    str(cli.process.pid),
                    "/io/github/TrezorBackupGuard/ctl/agent",
                    f"/io/github/TrezorBackupGuard/devices/{device}",
                )
                assert [call["error"] for call in calls] == [
                    "org.freedesktop.DBus.Error.AccessDenied"
                ] * 4, calls
            # Logged (on the CLI's stderr), without any argument of the call.
            refused = cli.reader.wait_for(lambda line: "refused" in line)
            assert "Agent1.RequestPin" in refused and "current" not in refused
            assert cli.process.stdin is not None
            cli.process.stdin.close()
            assert cli.process.wait(timeout=EVENT_TIMEOUT) == 3
        prompts = [line for line in cli.reader.seen if line.startswith(("PIN", "Word", "How"))]
        assert prompts == [line for line in prompts if line.startswith(WORD_PROMPT)]
        assert len(prompts) == 1, cli.output()
        assert "plain" not in cli.output() and "matrix9" not in cli.output()


def test_end_of_input_cancels_the_check(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            cli = CtlSession(sim, "check", DEVICE_ID, "--words", "24")
            cli.reader.wait_for(lambda line: line.startswith(WORD_PROMPT))
            assert cli.process.stdin is not None
            cli.process.stdin.close()
            assert cli.process.wait(timeout=EVENT_TIMEOUT) == 3
            assert history() == [("check", "cancelled")]


def test_backup_through_the_cli_then_history(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            cli = CtlSession(sim, "backup", "--yes", press_buttons=True)
            assert cli.run("") == 0
            out = cli.output()
            # 48 screens of words on the Trezor: one line says what to do with them
            assert out.count("write down the word your Trezor shows") == 1
            progress = [line for line in cli.reader.seen if "your Trezor" in line]
            assert len(progress) == len(set(progress)), out
            assert "private place" in out or "private" in out
            assert f"check {DEVICE_ID}" in out
            assert [d["State"] for d in get_devices()] == ["unverified"]
            again = subprocess.run(
                [sys.executable, "-m", "trezor_backupctl", "backup", "--yes"],
                capture_output=True, text=True, timeout=EVENT_TIMEOUT,
            )  # fmt: skip
            assert again.returncode == 3
            shown = subprocess.run(
                [sys.executable, "-m", "trezor_backupctl", "history", "--json"],
                capture_output=True, text=True, timeout=EVENT_TIMEOUT,
            )  # fmt: skip
            assert shown.returncode == 0, shown.stderr
            events = json.loads(shown.stdout)["events"]
            assert [(e["kind"], e["result"]) for e in events] == [("backup", "completed")]


# --- no daemon to talk to


@pytest.fixture
def empty_bus(tmp_path: Path) -> Iterator[str]:
    """A private session bus on which trezor-backupd is surely absent: nothing can be
    activated on it, even on a machine where trezor-backupd is installed."""
    with custom_bus(tmp_path, f"unix:dir={tmp_path}") as address:
        yield address


def ctl_status_on(bus_address: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus_address}
    return subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_exit_2_naming_setup_when_the_daemon_is_not_set_up_on_the_bus(empty_bus: str) -> None:
    """A pipx install before `setup --user`: no unit and no activation file, so starting a
    unit cannot help; the fix that can is named."""
    result = ctl_status_on(empty_bus)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "trezor-backupctl: trezor-backupd is not set up for this session: the session bus "
        "knows no io.github.TrezorBackupGuard to start. Fix: trezor-backupctl setup --user "
        "(pip and pipx installs), or install the trezor-backup-guard package\n"
    )


def test_exit_2_with_the_reason_when_the_daemon_fails_to_start(tmp_path: Path) -> None:
    services = tmp_path / "services"
    services.mkdir()
    (services / "io.github.TrezorBackupGuard.service").write_text(
        "[D-BUS Service]\nName=io.github.TrezorBackupGuard\nExec=/bin/false\n"
    )
    with custom_bus(tmp_path, f"unix:dir={tmp_path}", service_dir=services) as address:
        result = ctl_status_on(address)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "trezor-backupctl: cannot reach trezor-backupd on the session bus "
        "(io.github.TrezorBackupGuard): "
    )
    assert "systemctl --user start trezor-backupd" in result.stderr
    assert "Traceback" not in result.stderr


def test_exit_2_when_there_is_no_session_bus(tmp_path: Path) -> None:
    result = ctl_status_on(f"unix:path={tmp_path}/no-such-socket")
    assert result.returncode == 2
    assert "cannot reach trezor-backupd" in result.stderr
    assert "no-such-socket" in result.stderr
    assert "Traceback" not in result.stderr
