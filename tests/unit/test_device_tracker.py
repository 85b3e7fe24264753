"""DeviceTracker with the device layer replaced: rescans, the read policy, ids, the clock.

The tracker's USB enumeration and its one read (`device_io.usb_transports`,
`device_io.read_features`) are swapped for scripted ones, so these run without a bus,
umockdev or a simulator; the end-to-end tests (test_read_policy.py and others) run the
same code on real parts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from trezorlib import messages

from trezor_backupd import device_io, device_tracker
from trezor_backupd.config import Config
from trezor_backupd.device_io import FeaturesReadError, ReadProblem, UsbLocation
from trezor_backupd.device_tracker import DeviceTracker, TrackedDevice
from trezor_backupd.status import BackupFacts, CheckVerdict
from trezor_backupd.udev_watch import TrezorUsbEvent

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
Reply = messages.Features | FeaturesReadError


def features(device_id: str = "AAAA", **fields: Any) -> messages.Features:
    """An unlocked, backed-up Safe 5 unless told otherwise."""
    base: dict[str, Any] = {
        "vendor": "trezor.io",
        "major_version": 2,
        "minor_version": 10,
        "patch_version": 0,
        "model": "Safe 5",
        "internal_model": "T3T1",
        "device_id": device_id,
        "initialized": True,
        "pin_protection": False,
        "unlocked": True,
        "no_backup": False,
        "unfinished_backup": False,
        "backup_availability": messages.BackupAvailability.NotAvailable,
        "passphrase_protection": False,
    }
    return messages.Features(**(base | fields))


class FakeTransport:
    """Stands for a trezorlib Transport: only its path is asked for."""

    def __init__(self, path: str) -> None:
        self.path = path

    def get_path(self) -> str:
        return self.path


class Device:
    """What one scripted device answers, read after read (the last answer repeats)."""

    def __init__(self, path: str, *replies: Reply) -> None:
        self.transport = FakeTransport(path)
        self.replies = list(replies)
        self.reads = 0

    def read(self) -> messages.Features:
        self.reads += 1
        reply = self.replies[min(self.reads, len(self.replies)) - 1]
        if isinstance(reply, FeaturesReadError):
            raise reply
        return reply


class Bench:
    """The tracker with scripted devices, a recording listener and history, and a clock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.devices: list[Device] = []
        self.scans = 0
        self.scan_gate = threading.Event()
        self.scan_gate.set()
        self.events: list[tuple[str, str, str]] = []
        self.verdicts: dict[str, CheckVerdict] = {}
        self.facts: dict[str, BackupFacts] = {}
        self.now = NOW
        self._changed = asyncio.Event()
        monkeypatch.setattr(device_io, "usb_transports", self._enumerate)
        monkeypatch.setattr(device_io, "read_features", self._read)
        monkeypatch.setattr(device_tracker, "QUICK_RETRY_DELAYS", (0.0, 0.0, 0.0))
        self.tracker = DeviceTracker(Config(), self, self, clock=lambda: self.now)  # type: ignore[arg-type]

    # the device layer
    def _enumerate(self) -> list[Any]:
        self.scans += 1
        self.scan_gate.wait()
        return [device.transport for device in self.devices]

    def _read(self, transport: Any) -> messages.Features:
        return next(d for d in self.devices if d.transport is transport).read()

    # the history (HistoryStore's methods the tracker calls)
    def last_check_verdict(self, device_id: str) -> CheckVerdict | None:
        return self.verdicts.get(device_id)

    def remembered_facts(self, device_id: str) -> BackupFacts | None:
        return self.facts.get(device_id)

    def remember_facts(self, device_id: str, facts: BackupFacts) -> None:
        self.facts[device_id] = facts.to_remember()

    # the listener
    def device_added(self, device: TrackedDevice) -> None:
        self._record("added", device)

    def device_changed(self, device: TrackedDevice) -> None:
        self._record("changed", device)

    def device_removed(self, device: TrackedDevice) -> None:
        self._record("removed", device)

    def _record(self, event: str, device: TrackedDevice) -> None:
        self.events.append((event, device.id, device.status.state.value))
        self._changed.set()

    def states(self) -> dict[str, str]:
        return {d.id: d.status.state.value for d in self.tracker.devices()}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bench]:
    yield Bench(monkeypatch)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 10))


def busy(problem: ReadProblem) -> FeaturesReadError:
    return FeaturesReadError(problem)


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
    device = Device("webusb:001:1", busy(ReadProblem.NOT_ANSWERING), features())
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
    withheld = dict.fromkeys(
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
    bench.verdicts["AAAA"] = CheckVerdict(NOW - timedelta(days=179), passed=True)
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
