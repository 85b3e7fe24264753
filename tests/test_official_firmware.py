"""The scenarios that matter to owners, against the official firmware of every model.

The daemon runs as in the other end-to-end tests (a subprocess on the private bus, told about
one emulator with `--emulator`); the Trezor is the official debug firmware (see
official_emulators.py), set up over the wire before the daemon starts, and the owner acts on
its screen through DebugLink. Each test names the recorded or guessed behaviour it confirms
(docs/firmware-facts.md keeps the list).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from trezorlib import messages

import seed_safety
from conftest import DaemonFactory
from harness import (
    EVENT_TIMEOUT,
    LineReader,
    OwnerRun,
    get_devices,
    history,
    refreshed_devices,
    running,
)
from official_emulators import (
    CORE_V1,
    LEGACY,
    MODEL_NAMES,
    SAFE7,
    STATES,
    TEST_PIN,
    EmulatorPool,
    seed_of,
)
from other_program import check_at_its_words, owner_at_device, run_flow
from seed_safety import ZOO24
from sim_helpers import HostPort
from test_thp_daemon import keyring, pair_through_the_cli, refresh


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("model", [LEGACY, *CORE_V1])
def test_each_backup_state_is_shown(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str, state: str
) -> None:
    emulator = emulator_pool.get(model)
    device_id = emulator.load(state)
    with running(make_daemon(emulator.path)):
        [device] = get_devices()
        assert (device["Model"], device["State"]) == (MODEL_NAMES[model], STATES[state])
        if state != "blank":
            assert device["Id"] == device_id


@pytest.mark.parametrize("typed", ["right", "wrong"])
@pytest.mark.parametrize("model", [LEGACY, *CORE_V1])
def test_a_dry_run_check_passes_or_fails(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str, typed: str
) -> None:
    """Core: the words are typed on the Trezor (DebugLink input); Model One: the daemon asks
    the owner's agent for each scrambled word the Trezor names."""
    emulator = emulator_pool.get(model)
    device_id = emulator.load("backed_up")
    words = seed_of(model) if typed == "right" else ZOO24
    with running(make_daemon(emulator.path)):
        owner = OwnerRun(emulator, "check", "--typed", words, device_id=device_id)
        finished = owner.finished()
        expected = ("passed", "verified") if typed == "right" else ("mismatch", "check_failed")
        [device] = get_devices()
        assert (finished["result"], device["State"]) == expected, owner.output()
        assert history(device_id) == [("check", expected[0])]


@pytest.mark.parametrize("model", [LEGACY, *CORE_V1])
def test_a_backup_leaves_the_trezor_unverified(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str
) -> None:
    """The owner writes the words down and (core) answers the Trezor's word quiz on it, by
    the position its screen names ("Select word 6 of 12:", the Safe 3 in the title;
    `reset_word` stays unset)."""
    emulator = emulator_pool.get(model)
    device_id = emulator.load("needs_backup")
    with running(make_daemon(emulator.path)):
        # The owner writes down the words shown, which are the loaded seed.
        owner = OwnerRun(emulator, "backup", "--typed", seed_of(model), device_id=device_id)
        finished = owner.finished()
        [device] = get_devices()
        assert (finished["result"], device["State"]) == ("completed", "unverified"), owner.output()
        assert history(device_id) == [("backup", "completed")]


@pytest.mark.parametrize("model", CORE_V1)
def test_a_locked_trezor_is_locked_until_the_pin_is_typed_on_it(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str
) -> None:
    """Locked (LockDevice from another app, recorded e1a): its wallet fields are withheld,
    so it is `locked`; `trezor-backupctl unlock` shows the PIN keyboard on the Trezor
    (ApplyFlags, recorded e2a) and the state read right after is the real one."""
    emulator = emulator_pool.get(model)
    seed_safety.typed(TEST_PIN)
    emulator.load("needs_backup", pin=TEST_PIN)
    with running(make_daemon(emulator.path)):
        [device] = get_devices()
        assert (device["State"], device["Locked"]) == ("locked", True)
        unlock = subprocess.Popen(
            [sys.executable, "-m", "trezor_backupctl", "unlock"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        reader = LineReader(unlock)
        seed_safety.produced("trezor-backupctl unlock output", lambda: "\n".join(reader.seen))
        reader.wait_for(lambda line: line == "Enter your PIN on your Trezor.")
        screen = HostPort(emulator.debug_port)
        try:
            screen.send(messages.DebugLinkDecision(input=TEST_PIN))  # typed on the Trezor
            assert unlock.wait(timeout=EVENT_TIMEOUT) == 0, "\n".join(reader.seen)
        finally:
            screen.close()
        [device] = get_devices()
        assert (device["State"], device["Locked"]) == ("backup_required", False)


@pytest.mark.parametrize("model", CORE_V1)
def test_a_cancelled_check_stays_open_on_the_trezor_and_is_resumed_here(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str
) -> None:
    """Cancelled while the words are typed, the Trezor keeps the check open (recorded b5,
    e4a): the owner is told so; StartCheck resumes it and it passes."""
    emulator = emulator_pool.get(model)
    device_id = emulator.load("backed_up")
    words = seed_of(model)
    with running(make_daemon(emulator.path)):
        owner = OwnerRun(
            emulator, "check", "--typed", words, "--cancel-at", "enter_words", device_id=device_id
        )
        finished = owner.finished()
        assert finished["result"] == "cancelled"
        assert "keeps it open" in finished["message"]
        [device] = get_devices()
        assert device["DryRunInProgress"] is True
        assert "waiting on the Trezor" in device["NextStep"]
        resumed = OwnerRun(emulator, "check", "--typed", words, device_id=device_id)
        assert resumed.finished()["result"] == "passed", resumed.output()
        [device] = get_devices()
        assert (device["State"], device["DryRunInProgress"]) == ("verified", False)
        assert history(device_id) == [("check", "cancelled"), ("check", "passed")]


@pytest.mark.parametrize("state", sorted(STATES))
def test_each_backup_state_of_a_safe7_is_shown_once_paired(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, secret_service: Path, state: str
) -> None:
    """Set up anew, a Safe 7 is a new wallet whose old pairing died with the wipe: paired
    again, its state is read over THP."""
    keyring()
    emulator = emulator_pool.get(SAFE7)
    device_id = emulator.load(state)
    with running(make_daemon(emulator.path)):
        assert pair_through_the_cli(emulator).startswith("exit 0")
        refresh()
        [device] = get_devices()
        assert (device["Model"], device["State"]) == ("Safe 7", STATES[state])
        if state != "blank":
            assert device["Id"] == device_id


def test_a_safe7_is_paired_then_read_silently_after_a_replug(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, secret_service: Path
) -> None:
    """Unpaired it is `pairing_required`; `trezor-backupctl pair` pairs it with the code
    shown on its screen; unplugged and plugged in again (a new THP channel) it is read with
    the autoconnect credential, no confirmation on the Trezor."""
    keyring()
    emulator = emulator_pool.get(SAFE7)
    device_id = emulator.load("needs_backup")
    with running(make_daemon(emulator.path)):
        [device] = get_devices()
        assert (device["State"], device["Model"]) == ("pairing_required", "Safe 7")
        output = pair_through_the_cli(emulator)
        assert output.startswith("exit 0"), output
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Id"]) == ("backup_required", device_id)
        emulator.stop()
        refresh()
        assert get_devices() == []
        emulator.start()
        refresh()
        [device] = get_devices()
        assert (device["State"], device["Id"]) == ("backup_required", device_id)


@pytest.mark.parametrize("model", CORE_V1)
def test_another_programs_check_runs_to_its_end_beside_the_daemon(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str
) -> None:
    """A core firmware ends a flow on any message (recorded e6): with the daemon running
    and showing the Trezor, another program's whole dry run (as trezorctl's) still ends in
    Success, so the daemon sent nothing meanwhile."""
    emulator = emulator_pool.get(model)
    emulator.load("backed_up")
    with running(make_daemon(emulator.path)):
        assert [d["State"] for d in get_devices()] == ["unverified"]
        wire, screen = HostPort(emulator.port), HostPort(emulator.debug_port)
        try:
            check = messages.RecoveryDevice(type=messages.RecoveryType.DryRun)
            result = run_flow(wire, check, owner_at_device(screen, seed_of(model).split()))
        finally:
            wire.close()
            screen.close()
        assert isinstance(result, messages.Success), result


@pytest.mark.parametrize("model", CORE_V1)
def test_a_read_into_another_programs_check_shows_busy_and_the_end_is_read(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, model: str
) -> None:
    """A core Trezor in a dry run past its first screen answers GetFeatures with
    Failure(ActionCancelled) (found here on 2.10.0, docs/firmware-facts.md): the owner's
    refresh during another program's check shows `busy`, never a firmware problem; once
    that program has run its check to the end, a refresh reads the Trezor right."""
    emulator = emulator_pool.get(model)
    emulator.load("backed_up")
    words = seed_of(model).split()
    with running(make_daemon(emulator.path)) as daemon:
        assert [d["State"] for d in get_devices()] == ["unverified"]
        wire, screen = HostPort(emulator.port), HostPort(emulator.debug_port)
        try:
            check_at_its_words(wire, screen, words)
            [device] = refreshed_devices()
            assert device["state"] == "busy", device
            assert "another app's flow" in str(device["explanation"])
            assert "firmware" not in f"{device['explanation']} {device['next_step']}"
            assert "in_a_flow: got Failure ActionCancelled" in daemon.log()
            # The program never hears of its check again; it starts it anew, which resumes
            # the check the Trezor kept open (recorded e4), and runs it to its end.
            check = messages.RecoveryDevice(type=messages.RecoveryType.DryRun)
            result = run_flow(wire, check, owner_at_device(screen, words))
            assert isinstance(result, messages.Success), result
        finally:
            wire.close()
            screen.close()
        [device] = refreshed_devices()
        assert (device["state"], device["dry_run_in_progress"]) == ("unverified", False), device
