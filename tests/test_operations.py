"""End to end: dry-run checks and backups through D-Bus, driven by a scripted owner
(tests/owner_agent.py) who answers the daemon's agent calls and presses the simulated
Trezor's buttons. Every test that types words proves they reached no output."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shamir_mnemonic  # type: ignore[import-untyped]  # trezorlib's own dependency
from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus
from trezorlib import messages

import seed_safety
from conftest import DaemonFactory
from harness import (
    BUS_NAME,
    DEVICE,
    DEVICE_ID,
    EVENT_TIMEOUT,
    ROOT_PATH,
    Daemon,
    LineReader,
    OwnerRun,
    ctl,
    device_path,
    gdbus,
    get_devices,
    history,
    running,
)
from other_program import owner_at_device, run_flow
from seed_safety import MNEMONIC12, ZOO24
from sim_helpers import ABANDON24, Simulator, host_ports, start_simulator

BAD_CHECKSUM24 = " ".join(["abandon"] * 24)


class BusCapture:
    """dbus-monitor of the private bus, to prove no secret crossed it.

    Everything but one kind of message: the agent's replies to the daemon's questions,
    which carry the owner's answers to the device by design (the agent-to-device path).
    Every signal, method call, error and every reply the daemon sends is captured.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = path.open("w")
        self.process = subprocess.Popen(
            ["dbus-monitor", "--session", "type='signal'", "type='method_call'",
             "type='error'", f"type='method_return',sender='{BUS_NAME}'"],
            stdout=self.file, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def text(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=EVENT_TIMEOUT)
        self.file.close()
        return self.path.read_text(errors="replace")


@pytest.fixture
def capture(tmp_path: Path) -> Iterator[BusCapture]:
    bus = BusCapture(tmp_path / "bus.log")
    yield bus
    if bus.process.poll() is None:
        bus.text()


def _daemon_outputs(daemon: Daemon) -> list[str]:
    db = daemon.state_dir / "history.sqlite3"
    return [daemon.log(), db.read_bytes().decode("latin-1") if db.exists() else ""]


@pytest.mark.parametrize(
    ("typed", "result", "state"),
    [
        (ABANDON24, "passed", "verified"),
        (ZOO24, "mismatch", "check_failed"),
        (BAD_CHECKSUM24, "invalid_words", "check_failed"),
    ],
)
def test_model_one_24_word_check(
    make_daemon: DaemonFactory, capture: BusCapture, typed: str, result: str, state: str
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            owner = OwnerRun(sim, "check", "--typed", typed, "--words", "24")
            finished = owner.finished()
            assert (finished["kind"], finished["result"]) == ("check", result)
            [device] = get_devices()
            assert device["State"] == state
            assert device["Operation"] == ""
            assert history() == [("check", result)]
            if result == "passed":
                assert device["LastCheckResult"] == "passed" and device["LastCheckTime"] > 0
            if result == "mismatch":
                assert "Do not send funds" in finished["message"]
                assert "send no funds" in device["Explanation"].lower() or (
                    "funds" in device["Explanation"]
                )
        assert owner.output().count('"what": "word"') == 24
        bus_text = capture.text()
        assert "member=OperationFinished" in bus_text and "member=RequestWord" in bus_text
        seed_safety.assert_no_secret(owner.output(), bus_text, *_daemon_outputs(daemon))


ALL12 = " ".join(["all"] * 12)


@pytest.mark.parametrize(("typed", "result"), [(MNEMONIC12, "passed"), (ALL12, "mismatch")])
def test_model_one_12_word_check_uses_the_matrix(
    make_daemon: DaemonFactory, capture: BusCapture, typed: str, result: str
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, mnemonic=MNEMONIC12) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            owner = OwnerRun(sim, "check", "--typed", typed, "--words", "12")
            assert owner.finished()["result"] == result
        kinds = [json.loads(line).get("kind") for line in owner.reader.seen if '"word"' in line]
        assert kinds == ["matrix9", "matrix9", "matrix9", "matrix6"] * 12
        seed_safety.assert_no_secret(owner.output(), capture.text(), *_daemon_outputs(daemon))


def test_pin_protected_model_one_asks_the_agent_for_the_pin(
    make_daemon: DaemonFactory, capture: BusCapture
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, pin="735192468") as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            owner = OwnerRun(sim, "check", "--pin", "735192468")
            owner.wait_for("asked", what="word_count")
            owner.wait_for("asked", what="pin", kind="current")
            assert owner.finished()["result"] == "passed"
            assert [d["State"] for d in get_devices()] == ["verified"]
        seed_safety.assert_no_secret(owner.output(), capture.text(), daemon.log())


def test_core_model_check_is_typed_on_the_device(make_daemon: DaemonFactory) -> None:
    with start_simulator("t", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check")
            owner.wait_for("progress", stage="enter_words")
            assert owner.finished()["result"] == "passed"
            assert '"what"' not in owner.output()  # nothing asked of the computer
            assert [d["State"] for d in get_devices()] == ["verified"]


def test_core_model_mismatch_fails_the_check(make_daemon: DaemonFactory) -> None:
    with start_simulator("safe3", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check", "--typed", ZOO24)
            assert owner.finished()["result"] == "mismatch"
            [device] = get_devices()
            assert device["State"] == "check_failed"
            assert device["LastCheckResult"] == "mismatch"


@pytest.mark.parametrize("model", ["one", "t", "safe5"])
def test_a_backup_leaves_the_device_unverified(make_daemon: DaemonFactory, model: str) -> None:
    with start_simulator(model, "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "backup")
            finished = owner.finished()
            assert (finished["kind"], finished["result"]) == ("backup", "completed")
            events = [json.loads(line) for line in owner.output().splitlines()]
            stages = [event["stage"] for event in events if event["event"] == "progress"]
            if model == "one":  # every word shown twice, one screen each
                assert stages.count("show_words") >= 3
            else:  # the phases of a core backup, named from its recorded screens
                phases = [s for s in stages if s in ("intro", "warning", "show_words", "result")]
                assert phases == ["intro", "warning", "show_words", "result"]
            assert "check" in finished["message"]
            [device] = get_devices()
            assert device["State"] == "unverified"
            assert history() == [("backup", "completed")]


def test_cancel_during_word_entry_changes_nothing_but_history(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check", "--words", "24", "--cancel-at", "word_entry")
            assert owner.finished()["result"] == "cancelled"
            assert [d["State"] for d in get_devices()] == ["unverified"]
            assert history() == [("check", "cancelled")]


def test_an_agent_that_leaves_mid_prompt_cancels_the_operation(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check", "--words", "24", "--vanish-at", "RequestWord")
            owner.wait_for("vanishing")
            watcher = subprocess.Popen(
                ["gdbus", "monitor", "--session", "--dest", BUS_NAME],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                reader = LineReader(watcher)
                if history() != [("check", "cancelled")]:
                    reader.wait_for(lambda line: "OperationFinished" in line)
            finally:
                watcher.terminate()
                watcher.wait()
            assert history() == [("check", "cancelled")]
            assert [d["Operation"] for d in get_devices()] == [""]


def test_one_operation_per_device_and_named_refusals(make_daemon: DaemonFactory) -> None:
    with start_simulator("t", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            no_agent = gdbus(device_path(), f"{DEVICE}.StartCheck", "{}")
            assert "io.github.TrezorBackupGuard.Error.NoAgent" in no_agent.stderr

            owner = OwnerRun(sim, "check", "--hold-at", "confirm")
            owner.wait_for("holding")
            assert [d["Operation"] for d in get_devices()] == ["check"]
            second = gdbus(device_path(), f"{DEVICE}.StartCheck", "{}")
            assert "io.github.TrezorBackupGuard.Error.Busy" in second.stderr

            not_needed = gdbus(device_path(), f"{DEVICE}.StartBackup", "{}")
            assert "io.github.TrezorBackupGuard.Error" in not_needed.stderr

            cancel = gdbus(device_path(), f"{DEVICE}.Cancel")
            assert cancel.returncode == 0, cancel.stderr
            assert owner.finished()["result"] == "cancelled"
            nothing = gdbus(device_path(), f"{DEVICE}.Cancel")
            assert "io.github.TrezorBackupGuard.Error.NoOperation" in nothing.stderr


def test_bad_options_get_invalid_args_and_unneeded_backups_are_refused(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            wrong_count = gdbus(
                device_path(), f"{DEVICE}.StartCheck", "{'word_count': <uint32 13>}"
            )
            assert "org.freedesktop.DBus.Error.InvalidArgs" in wrong_count.stderr
            assert "12, 18 or 24" in wrong_count.stderr
            unknown = gdbus(device_path(), f"{DEVICE}.StartCheck", "{'colour': <'red'>}")
            assert "InvalidArgs" in unknown.stderr and "colour" in unknown.stderr
            owner = OwnerRun(sim, "backup")
            refused = owner.wait_for("start_error")
            assert refused["name"] == "io.github.TrezorBackupGuard.Error.NotPossible"


def test_core_check_is_refused_up_front_without_a_backup(make_daemon: DaemonFactory) -> None:
    with start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check")
            assert owner.wait_for("start_error")["name"].endswith("Error.NotPossible")
            assert history() == []


def test_a_check_left_running_on_a_core_device_is_shown_and_resumed(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("t", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with host_ports(sim) as (wire, buttons):
            # Another host started a check and went away after the owner confirmed it.
            prompt = wire.call(
                messages.RecoveryDevice(type=messages.RecoveryType.DryRun, enforce_wordlist=True)
            )
            assert isinstance(prompt, messages.ButtonRequest)
            buttons.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
            assert isinstance(wire.call(messages.ButtonAck()), messages.ButtonRequest)
            wire.call(messages.Initialize())  # the screen is interrupted; the check persists
        with running(make_daemon(sim.path)):
            [device] = get_devices()
            assert device["DryRunInProgress"] is True
            owner = OwnerRun(sim, "check")
            owner.wait_for("progress", stage="word_count")
            assert owner.finished()["result"] == "passed"
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("verified", False)


def test_stopping_the_daemon_mid_check_leaves_no_stale_state(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            owner = OwnerRun(sim, "check", "--words", "24", "--stall-at", "RequestWord")
            owner.wait_for("stalling")
        # running() asserted a clean exit; the check was cancelled on the device.
        assert owner.finished()["result"] == "cancelled"
        with running(daemon):
            [device] = get_devices()
            assert (device["State"], device["Operation"]) == ("unverified", "")
            assert history() == [("check", "cancelled")]
            again = OwnerRun(sim, "check", "--words", "24")
            assert again.finished()["result"] == "passed"


@pytest.mark.parametrize(
    ("action", "state", "stage"),
    [("check", "backed_up", "result"), ("backup", "backup_required", "show_words")],
)
def test_unplugging_mid_operation_ends_it_disconnected(
    make_daemon: DaemonFactory, usb: Any, action: str, state: str, stage: str
) -> None:
    with start_simulator("one", state, device_id=DEVICE_ID) as sim:
        syspath = usb.plug()
        with running(make_daemon(sim.path)):
            args = ["--words", "24"] if action == "check" else []
            owner = OwnerRun(sim, action, *args, "--hold-at", stage)
            owner.wait_for("holding")
            sim.process.terminate()
            sim.process.wait()
            usb.unplug(syspath)
            finished = owner.finished()
            assert (finished["kind"], finished["result"]) == (action, "disconnected")
            assert get_devices() == []
            assert history() == [(action, "disconnected")]


def test_with_two_agents_the_starter_is_asked_else_the_latest(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            bystander = OwnerRun(sim, "answer")
            bystander.wait_for("registered")
            starter = OwnerRun(sim, "check", "--words", "24")
            assert starter.finished()["result"] == "passed"
            assert starter.output().count('"what": "word"') == 24
            # The starter's agent left with it: a client without an agent of its own
            # gets the one that remains.
            started = gdbus(device_path(), f"{DEVICE}.StartCheck", "{'word_count': <uint32 24>}")
            assert started.returncode == 0, started.stderr
            assert bystander.finished()["result"] == "passed"
            assert bystander.output().count('"what": "word"') == 24


def test_a_cancelled_core_check_stays_open_on_the_device_and_is_resumed_here(
    make_daemon: DaemonFactory,
) -> None:
    """Recorded on 2.10.0 (b5, e4a): after a Cancel the device keeps the check open at the
    word count; the owner is told so, and StartCheck continues it to a recorded result."""
    with start_simulator("safe5", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            owner = OwnerRun(sim, "check", "--cancel-at", "enter_words")
            finished = owner.finished()
            assert finished["result"] == "cancelled"
            assert "keeps it open" in finished["message"]
            [device] = get_devices()
            assert device["DryRunInProgress"] is True
            assert "waiting on the Trezor" in device["NextStep"]
            resumed = OwnerRun(sim, "check")
            resumed.wait_for("progress", stage="word_count")
            assert resumed.finished()["result"] == "passed"
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("verified", False)
            assert history() == [("check", "cancelled"), ("check", "passed")]


def single_share() -> str:
    """A single SLIP-39 share (extendable), as a Safe sets up a wallet by default."""
    share: str = shamir_mnemonic.generate_mnemonics(1, [(1, 1)], bytes(range(16)))[0][0]
    return share


def test_an_extra_backup_unlocked_in_another_app_is_created_here(
    make_daemon: DaemonFactory,
) -> None:
    """Recorded on 2.10.0 (e5a, e5b): Trezor Suite unlocks a repeated backup with the
    existing share; the daemon offers it (it lasts until unplug) and creates it."""
    share = single_share()
    seed_safety.typed(share)
    with start_simulator("safe5", "backed_up", device_id=DEVICE_ID, slip39_share=share) as sim:
        with running(make_daemon(sim.path)):
            [device] = get_devices()
            assert device["State"] == "unverified"
            assert "multi-share backup can be made later" in device["Explanation"]
            with host_ports(sim) as (wire, debug):
                unlock = messages.RecoveryDevice(type=messages.RecoveryType.UnlockRepeatedBackup)
                unlocked = run_flow(wire, unlock, owner_at_device(debug, share.split()))
                assert isinstance(unlocked, messages.Success), unlocked
            refreshed = ctl("status", "--refresh", "--json")
            [device] = json.loads(refreshed.stdout)["devices"]
            assert device["state"] == "extra_backup_unlocked"
            assert "unplugged" in device["explanation"]

            finished = OwnerRun(sim, "backup").finished()
            assert (finished["kind"], finished["result"]) == ("backup", "completed")
            assert "earlier share still restores this wallet" in finished["message"]
            [device] = get_devices()
            assert (device["State"], device["BackupType"]) == (
                "unverified",
                "Slip39_Basic_Extendable",
            )

            checked = OwnerRun(sim, "check", "--typed", share).finished()
            assert checked["result"] == "passed"
            assert "shares you entered" in checked["message"]


def test_a_passed_check_with_a_passphrase_says_it_covered_the_words_only(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator(
        "safe5", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24, passphrase=True
    ) as sim:
        with running(make_daemon(sim.path)):
            finished = OwnerRun(sim, "check").finished()
            assert finished["result"] == "passed"
            assert "hidden wallet also needs its passphrase" in finished["message"]
            [device] = get_devices()
            assert device["State"] == "verified"
            assert "passphrase" in device["Explanation"]


def test_state_has_changed_when_operation_finished_arrives(make_daemon: DaemonFactory) -> None:
    """A script that reads State in its OperationFinished handler sees the new state, and
    PropertiesChanged(State, Operation) comes before the signal on the bus."""

    async def follow_check(sim: Simulator) -> tuple[list[str], str]:
        bus = await MessageBus(bus_type=BusType.SESSION).connect()
        path = f"{ROOT_PATH}/devices/{DEVICE_ID}"
        seen: list[str] = []
        state_in_handler: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        reads: list[asyncio.Task[None]] = []

        async def read_state() -> None:
            reply = await bus.call(
                Message(destination=BUS_NAME, path=path, member="Get",
                        interface="org.freedesktop.DBus.Properties", signature="ss",
                        body=[DEVICE, "State"])
            )  # fmt: skip
            assert reply is not None
            state_in_handler.set_result(reply.body[0].value)

        def on_signal(msg: Message) -> None:
            if msg.path != path or msg.message_type is not MessageType.SIGNAL:
                return
            if msg.member == "PropertiesChanged":
                seen.extend(sorted(msg.body[1]))
            elif msg.member == "OperationFinished":
                seen.append("OperationFinished")
                reads.append(asyncio.ensure_future(read_state()))

        bus.add_message_handler(on_signal)
        await bus.call(
            Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                    body=[f"type='signal',path='{path}'"])
        )  # fmt: skip
        owner = await asyncio.to_thread(OwnerRun, sim, "check")
        assert (await asyncio.to_thread(owner.finished))["result"] == "passed"
        state = await asyncio.wait_for(state_in_handler, EVENT_TIMEOUT)
        bus.disconnect()
        return seen, state

    with start_simulator("t", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            seen, state = asyncio.run(follow_check(sim))
    assert state == "verified"
    finished = seen.index("OperationFinished")
    assert "State" in seen[:finished] and "LastCheckTime" in seen[:finished]
    assert seen[:finished].count("Operation") == 2  # "" -> check -> ""
