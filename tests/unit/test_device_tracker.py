"""DeviceTracker with the device layer scripted (scripted_devices): rescans, the read policy,
ids, locked reads, the clock. The end-to-end tests (test_read_policy.py and others) run the
same code on real parts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from scripted_devices import NOW, Bench, Device, busy, features, run
from trezorlib import messages

from trezor_backup_api.vocabulary import Outcome
from trezor_backupd.device.device_io import ReadProblem, UsbLocation
from trezor_backupd.device.udev_watch import TrezorUsbEvent
from trezor_backupd.device_values import CheckVerdict


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield Bench(monkeypatch)


def test_any_number_of_rescan_requests_collapse_into_one_running_and_one_pending(
    bench: Bench,
) -> None:
    async def scenario() -> None:
        bench.scan_gate.clear()
        first = bench.tracker.request_rescan()
        await asyncio.sleep(0)  # the first scan is running (and blocked)
        pending = {id(bench.tracker.request_rescan()) for _ in range(50)}
        assert len(pending) == 1 and id(first) not in pending
        bench.scan_gate.set()
        await bench.tracker.request_rescan()
        await bench.tracker.settle()
        assert bench.scans <= 3  # the running one, the pending one, and settle's own
        bench.tracker.close()

    run(scenario)


def test_a_device_that_cannot_be_opened_is_retried_briefly_then_busy(bench: Bench) -> None:
    """A failed open sends nothing, so it is retried (the seat's ACL may lag)."""
    held = busy(ReadProblem.HELD_BY_ANOTHER_APP)
    device = Device("webusb:001:1", held, held, features())
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.states() == {"AAAA": "unverified"}
        assert device.reads == 3
        bench.tracker.close()

    run(scenario)


def test_a_device_that_did_not_answer_is_not_asked_again_until_a_release(bench: Bench) -> None:
    """A read that went unanswered may sit in another app's flow: no retry, no timer."""
    device = Device("webusb:001:1", busy(ReadProblem.IN_A_FLOW), features())
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        [tracked] = bench.tracker.devices()
        assert tracked.status.state.value == "busy"
        await bench.tracker.request_rescan()
        assert device.reads == 1
        bench.tracker.node_released("webusb:001:1")  # the other app closed the device
        await bench.tracker.settle()
        assert device.reads == 2
        assert [d.status.state.value for d in bench.tracker.devices()] == ["unverified"]
        bench.tracker.close()

    run(scenario)


def test_a_check_left_running_is_never_read_unprompted(bench: Bench) -> None:
    running = features(
        recovery_status=messages.RecoveryStatus.Recovery,
        recovery_type=messages.RecoveryType.DryRun,
    )
    device = Device("webusb:001:1", running, features())
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        bench.tracker.node_released("webusb:001:1")
        await bench.tracker.refresh()
        assert device.reads == 1
        [tracked] = bench.tracker.devices()
        assert tracked.status.dry_run_in_progress
        bench.tracker.close()

    run(scenario)


def test_two_devices_claiming_one_id_are_told_apart_by_where_they_are(bench: Bench) -> None:
    bench.devices += [Device("webusb:001:1", features()), Device("webusb:001:2", features())]

    async def scenario() -> None:
        await bench.tracker.settle()
        assert sorted(bench.states()) == ["AAAA", "at_webusb_001_2"]
        bench.tracker.close()

    run(scenario)


def test_a_new_device_id_behind_the_same_transport_is_a_new_device(bench: Bench) -> None:
    """A wipe (or another emulator on the port) gives a new id: removed, then added."""
    device = Device("udp:127.0.0.1:21324", features("OLD"), features("NEW", initialized=False))
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.refresh()
        assert bench.events == [
            ("added", "OLD", "unverified"),
            ("removed", "OLD", "unverified"),
            ("added", "NEW", "not_initialized"),
        ]
        bench.tracker.close()

    run(scenario)


def test_a_locked_device_shows_what_it_said_when_last_unlocked(bench: Bench) -> None:
    withheld: dict[str, Any] = dict.fromkeys(
        ("no_backup", "unfinished_backup", "backup_availability", "passphrase_protection")
    )
    locked = features(pin_protection=True, unlocked=False, **withheld)
    required = features(
        pin_protection=True, backup_availability=messages.BackupAvailability.Required
    )
    device = Device("webusb:001:1", locked, required, locked)
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.states() == {"AAAA": "locked"}
        await bench.tracker.refresh()  # unlocked meanwhile: every field is back
        assert bench.states() == {"AAAA": "backup_required"}
        await bench.tracker.refresh()  # locked again
        [tracked] = bench.tracker.devices()
        assert (tracked.status.state.value, tracked.status.locked) == ("backup_required", True)
        assert tracked.status.facts_from_earlier_read
        bench.tracker.close()

    run(scenario)


def test_a_verified_device_falls_due_on_the_injected_clock(bench: Bench) -> None:
    bench.verdicts["AAAA"] = CheckVerdict(NOW - timedelta(days=179), Outcome.PASSED)
    bench.devices.append(Device("webusb:001:1", features()))

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.states() == {"AAAA": "verified"}
        bench.now = NOW + timedelta(days=2)
        bench.tracker.reclassify()  # what the due timer calls; no device I/O
        assert bench.states() == {"AAAA": "check_due"}
        assert bench.devices[0].reads == 1
        bench.tracker.close()

    run(scenario)


def test_an_unplug_event_drops_the_device_at_once(bench: Bench) -> None:
    bench.devices.append(Device("webusb:001:1", features()))
    location = UsbLocation(busnum=1, port_numbers=(1,))

    async def scenario() -> None:
        await bench.tracker.settle()
        bench.devices.clear()
        bench.tracker.usb_event(TrezorUsbEvent("remove", location, webusb=True))
        assert bench.tracker.devices() == []
        assert bench.events[-1] == ("removed", "AAAA", "unverified")
        bench.tracker.close()

    run(scenario)


def test_the_emulator_look_up_does_not_list_usb_again(bench: Bench) -> None:
    """USB changes arrive as udev events; the periodic emulator look-up keeps the listing."""
    bench.devices.append(Device("webusb:001:1", features()))

    async def scenario() -> None:
        await bench.tracker.settle()
        listed = bench.scans
        await bench.tracker.request_rescan(usb=False)
        assert bench.scans == listed
        assert bench.states() == {"AAAA": "unverified"}
        await bench.tracker.request_rescan()
        assert bench.scans == listed + 1
        bench.tracker.close()

    run(scenario)


def test_a_release_during_a_read_is_read_after_it(bench: Bench) -> None:
    """What the other program did may be newer than the read that was running."""
    device = Device("webusb:001:1", features(), features(unfinished_backup=True))
    bench.devices.append(device)

    async def scenario() -> None:
        bench.read_gate.clear()
        settling = asyncio.ensure_future(bench.tracker.settle())
        while not bench.reads_started:
            await asyncio.sleep(0.001)  # the first read is in progress
        bench.tracker.node_released("webusb:001:1")
        bench.read_gate.set()
        await settling
        while device.reads < 2:
            await asyncio.sleep(0.001)
        await bench.tracker.settle()
        assert bench.states() == {"AAAA": "backup_failed"}
        bench.tracker.close()

    run(scenario)


class Handle:
    """An operation as the tracker sees it."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.gone = False

    def cancel(self) -> None:
        pass

    def device_gone(self) -> None:
        self.gone = True


def test_a_device_back_before_its_old_operation_ended_keeps_its_new_operation(
    bench: Bench,
) -> None:
    location = UsbLocation(busnum=1, port_numbers=(1,))
    bench.devices.append(Device("webusb:001:1", features()))

    async def scenario() -> None:
        await bench.tracker.settle()
        old = Handle("check")
        bench.tracker.begin_operation("AAAA", old)
        bench.devices.clear()
        bench.tracker.usb_event(TrezorUsbEvent("remove", location, webusb=True))
        assert old.gone
        bench.devices.append(Device("webusb:001:1", features()))  # plugged in again
        await bench.tracker.settle()
        new = Handle("backup")
        bench.tracker.begin_operation("AAAA", new)
        bench.tracker.finish_operation(old)()  # the old one ends only now
        assert bench.tracker.operation_of("AAAA") is new
        assert [d.operation for d in bench.tracker.devices()] == ["backup"]
        assert [e for e in bench.events if e[0] == "removed"] == [("removed", "AAAA", "unverified")]
        bench.tracker.close()

    run(scenario)
