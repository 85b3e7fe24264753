"""The read policy (docs/security.md) on real parts: the daemon never sends a message into a
flow another program runs, reads locked devices without guessing, and unlocks on request.

On core firmware any message that arrives mid-flow ends the flow (recorded on 2.10.0,
e6a-e6e); the simulator reproduces that, so a stray read here would turn the backup below
into "backup failed". A UDP tap between daemon and simulator counts every datagram the
daemon sends.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from trezorlib import messages

from conftest import DaemonFactory
from harness import (
    EVENT_TIMEOUT,
    Daemon,
    LineReader,
    UsbTestbed,
    get_devices,
    refreshed_devices,
    running,
)
from other_program import check_at_its_words, owner_at_device, run_flow
from sim_helpers import ABANDON24, HostPort, host_ports, start_simulator
from udp_tap import UdpTap

DEVICE_ID = "C0DE00000000000000000009"
PIN = "1234"
POLL_EVERY_SECOND = "emulator_poll_seconds = 1\n"


def await_log(daemon: Daemon, text: str) -> None:
    """Wait until the daemon has logged `text` (it handled an event), failing after a while."""
    reader = subprocess.Popen(
        ["tail", "-F", "-n", "+1", str(daemon.log_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        LineReader(reader).wait_for(lambda line: text in line)
    finally:
        reader.kill()
        reader.wait()


def test_another_programs_backup_and_check_complete_while_the_daemon_watches(
    make_daemon: DaemonFactory, usb: UsbTestbed
) -> None:
    with (
        start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim,
        UdpTap(sim.port) as tap,
        host_ports(sim) as (wire, debug),
    ):
        daemon = make_daemon(tap.endpoint, config=POLL_EVERY_SECOND)
        with running(daemon):
            [device] = get_devices()
            assert device["State"] == "backup_required"
            discovery = tap.messages_sent()
            assert discovery == ["PING", "GetFeatures"]

            act = owner_at_device(debug, [])
            reply = wire.call(messages.BackupDevice())
            assert isinstance(reply, messages.ButtonRequest)
            # Mid-backup: other Trezors come and go, and the daemon's emulator check runs.
            other = usb.plug(serial="OTHER1")
            await_log(daemon, "not visible to trezorlib")  # rescanned for it, several times
            usb.unplug(other)
            await_log(daemon, "udev remove of a Trezor")
            wire.send(messages.ButtonAck())
            act(reply.name or "")
            result = wire.receive_message(timeout=EVENT_TIMEOUT)
            while isinstance(result, messages.ButtonRequest):
                wire.send(messages.ButtonAck())
                act(result.name or "")
                result = wire.receive_message(timeout=EVENT_TIMEOUT)
            assert isinstance(result, messages.Success), result
            assert tap.messages_sent() == discovery  # nothing sent into the backup

            # The daemon learns of it when asked: the backup really completed.
            [device] = refreshed_devices()
            assert device["state"] == "unverified"
            after_refresh = tap.messages_sent()
            assert after_refresh == [*discovery, "GetFeatures"]

            check = messages.RecoveryDevice(type=messages.RecoveryType.DryRun)
            result = run_flow(wire, check, owner_at_device(debug, ABANDON24.split()))
            assert isinstance(result, messages.Success), result
            assert tap.messages_sent() == after_refresh  # nothing sent into the check


def test_starting_the_daemon_during_a_model_one_backup_does_not_take_its_replies(
    make_daemon: DaemonFactory,
) -> None:
    """The Model One drops a message that arrives mid-flow; its emulator then answers the
    last sender. The daemon's one discovery read must leave the backup to its program."""
    with (
        start_simulator("one", "backup_required", device_id=DEVICE_ID) as sim,
        host_ports(sim) as (wire, debug),
    ):
        reply = wire.call(messages.BackupDevice())
        assert isinstance(reply, messages.ButtonRequest)
        with running(make_daemon(sim.path)):
            [device] = get_devices()
            assert device["State"] == "busy"  # it did not answer: not asked again
            yes = messages.DebugLinkDecision(button=messages.DebugButton.YES)
            while isinstance(reply, messages.ButtonRequest):
                wire.send(messages.ButtonAck())
                debug.send(yes)
                reply = wire.receive_message(timeout=EVENT_TIMEOUT)
            assert isinstance(reply, messages.Success), reply
            [device] = refreshed_devices()
            assert device["state"] == "unverified"


def test_a_locked_device_is_locked_until_unlocked_then_keeps_the_state_read_unlocked(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator(
        "safe5", "backup_required", device_id=DEVICE_ID, pin=PIN, locked=True
    ) as sim:
        with running(make_daemon(sim.path)):
            [device] = get_devices()
            assert (device["State"], device["Locked"]) == ("locked", True)
            assert "Unlock" in device["NextStep"]

            unlock = subprocess.Popen(
                [sys.executable, "-m", "trezor_backupctl", "unlock"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            # The line of the PIN keyboard's ButtonRequest: the Trezor shows it now.
            LineReader(unlock).wait_for(lambda line: line == "Enter your PIN on your Trezor.")
            with host_ports(sim) as (wire, debug):
                debug.send(messages.DebugLinkDecision(input=PIN))  # typed on the Trezor
                assert unlock.wait(timeout=EVENT_TIMEOUT) == 0
                [device] = refreshed_devices()
                assert (device["state"], device["locked"]) == ("backup_required", False)
                assert device["state_read_time"] is None

                # Another app locks it; the daemon keeps what it read unlocked, and says so.
                assert isinstance(wire.call(messages.LockDevice()), messages.Success)
            [device] = refreshed_devices()
            assert (device["state"], device["locked"]) == ("backup_required", True)
            assert device["state_read_time"] is not None
            assert "while the Trezor was unlocked" in str(device["explanation"])


@pytest.mark.parametrize("screen", ["recovery_word_count", "recovery", "mnemonic"])
def test_get_features_in_a_check_past_its_first_screen_answers_failure(screen: str) -> None:
    """As core 2.10.0 does (docs/firmware-facts.md): a GetFeatures in place of the
    ButtonAck of any dry-run screen after the first is answered Failure(ActionCancelled),
    and the check stays open on the Trezor."""
    with start_simulator("t", "backed_up") as sim, host_ports(sim) as (wire, debug):
        act = owner_at_device(debug, ABANDON24.split())
        reply = wire.call(messages.RecoveryDevice(type=messages.RecoveryType.DryRun))
        while isinstance(reply, messages.ButtonRequest) and reply.name != screen:
            wire.send(messages.ButtonAck())
            act(reply.name or "")
            reply = wire.receive_message(timeout=EVENT_TIMEOUT)
        assert isinstance(reply, messages.ButtonRequest), reply
        reader = HostPort(sim.port)
        try:
            answer = reader.call(messages.GetFeatures())
            assert isinstance(answer, messages.Failure), answer
            assert answer.code == messages.FailureType.ActionCancelled
            features = reader.call(messages.GetFeatures())
            assert isinstance(features, messages.Features), features
            assert features.recovery_status == messages.RecoveryStatus.Recovery
        finally:
            reader.close()


def test_a_read_into_another_programs_check_shows_busy_and_the_end_is_read(
    make_daemon: DaemonFactory,
) -> None:
    """The simulator's side of the official firmware test of the same name: a refresh
    during another program's check shows `busy`, not a firmware problem, and the check
    run to its end is read right by the next refresh."""
    words = ABANDON24.split()
    with (
        start_simulator("t", "backed_up", device_id=DEVICE_ID) as sim,
        host_ports(sim) as (wire, debug),
    ):
        with running(make_daemon(sim.path)):
            assert [d["State"] for d in get_devices()] == ["unverified"]
            check_at_its_words(wire, debug, words)
            [device] = refreshed_devices()
            assert device["state"] == "busy", device
            assert "another app's flow" in str(device["explanation"])
            assert "firmware" not in f"{device['explanation']} {device['next_step']}"
            check = messages.RecoveryDevice(type=messages.RecoveryType.DryRun)
            result = run_flow(wire, check, owner_at_device(debug, words))
            assert isinstance(result, messages.Success), result
            [device] = refreshed_devices()
            assert (device["state"], device["dry_run_in_progress"]) == ("unverified", False)
