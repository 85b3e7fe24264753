"""A person drives a check, or a Safe 7's pairing, to its end with only the documented
commands: `trezor-backupctl` in one terminal, `trezor-backup-sim screen` and `press yes` in
another."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import seed_safety
from conftest import DaemonFactory
from harness import DEVICE_ID, EVENT_TIMEOUT, LineReader, get_devices, running
from sim_helpers import ABANDON24, start_simulator
from test_thp_daemon import kept_credentials, keyring, safe7


def sim_action(port: int, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "trezor_backup_sim", *args, "--port", str(port)],
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def drive(command: list[str], answer: Callable[[str], str | None]) -> LineReader:
    """`trezor-backupctl COMMAND` with a person at the terminal: `answer` hears each line it
    prints and returns what is typed in reply (None: nothing). Returns its output once it
    exited with 0."""
    cli = subprocess.Popen(
        [sys.executable, "-m", "trezor_backupctl", *command],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert cli.stdin is not None
    reader = LineReader(cli)
    seed_safety.produced(
        f"trezor-backupctl {command[0]} scrollback", lambda: "\n".join(reader.seen)
    )
    for line in reader.until_end():
        typed = answer(line)
        if typed is not None:
            cli.stdin.write(typed + "\n")
            cli.stdin.flush()
    assert cli.wait(timeout=EVENT_TIMEOUT) == 0, "\n".join(reader.seen)
    return reader


def test_a_model_one_check_driven_with_screen_and_press(make_daemon: DaemonFactory) -> None:
    seed_safety.typed(ABANDON24)
    screens = []
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):

            def person(line: str) -> str | None:
                if line.startswith("Word requested by your Trezor"):
                    screen = sim_action(sim.port, "screen")
                    screens.append(screen)
                    asked = re.search(r"asks for word (\d+) of your recovery seed", screen)
                    made_up = re.search(r"asks for the word '(\w+)'", screen)
                    assert asked or made_up, screen
                    return ABANDON24.split()[int(asked[1]) - 1] if asked else made_up[1]  # type: ignore[index]
                if "Read the result" in line:
                    screens.append(sim_action(sim.port, "screen"))
                if "your Trezor shows" in line or "Read the result" in line:
                    sim_action(sim.port, "press", "yes")
                return None

            reader = drive(["check", "--words", "24"], person)
            assert [d["State"] for d in get_devices()] == ["verified"]
            ended = sim_action(sim.port, "screen")
    # The result screen and the end of the flow are told, not the last word asked.
    assert screens[-1] == (
        "The Trezor shows the result of the backup check: read it, then press yes.\n"
    )
    assert ended == (
        "The Trezor shows its home screen: no check or backup is running on it (any has ended).\n"
    )
    assert len(screens) == 25
    seed_safety.assert_no_secret("\n".join(reader.seen), daemon.log())


def test_without_a_simulator_the_action_says_so() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "trezor_backup_sim", "press", "yes", "--port", "9"],
        capture_output=True, text=True, timeout=EVENT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "trezor-backup-sim: no simulator answers on DebugLink port 10 (wire port 9); "
        "start one, or give its --port\n"
    )


def test_a_safe7_paired_with_screen_and_press(
    make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """`trezor-backupctl pair` in one terminal; in the other, `press yes` allows the pairing,
    `screen` shows the code to type, and `press yes` allows connecting without asking."""
    store = keyring()
    with safe7() as sim, running(make_daemon(sim.path)) as daemon:

        def person(line: str) -> str | None:
            if line.startswith("Code shown on your Trezor"):
                screen = sim_action(sim.port, "screen")
                shown = re.fullmatch(
                    r"The Trezor shows the pairing code (\d{3} \d{3}): type it into the "
                    r"computer\.\n",
                    screen,
                )
                assert shown, screen
                seed_safety.typed(shown[1])
                return shown[1]
            if "Confirm on your Trezor" in line:
                sim_action(sim.port, "press", "yes")
            return None

        reader = drive(["pair"], person)
        assert kept_credentials(store) == 1
        assert sim_action(sim.port, "screen").startswith("The Trezor asks for nothing")
    seed_safety.assert_no_secret("\n".join(reader.seen), daemon.log())
