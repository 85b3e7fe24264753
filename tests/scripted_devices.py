"""A DeviceTracker whose device layer is scripted, for unit tests of the daemon's core.

The tracker is handed the bench as its device layer (device_tracker.DeviceIO): its USB
enumeration and its one read answer from scripted devices; the history and the listener
are recorded here. No bus, umockdev or simulator is needed; the end-to-end tests run the
same code on real parts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from trezorlib import messages

from trezor_backupd.device import device_tracker
from trezor_backupd.device.device_io import FeaturesReadError, ReadProblem, StatusRead
from trezor_backupd.device.device_tracker import DeviceTracker
from trezor_backupd.device_values import BackupFacts, CheckVerdict, DeviceListener, TrackedDevice
from trezor_backupd.store.config import Config
from trezor_backupd.store.thp_credentials import Pairing

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


class NodeWatchSpy:
    """A NodeWatch that remembers which nodes it watches; no other program touches them."""

    def __init__(self) -> None:
        self.watched: dict[str, str] = {}

    def watch(self, key: str, devnode: str) -> bool:
        self.watched[key] = devnode
        return True

    def unwatch(self, key: str) -> None:
        self.watched.pop(key, None)

    @contextmanager
    def own_access(self, key: str) -> Iterator[None]:
        yield

    def untouched_since_release(self, key: str) -> bool:
        """No other program touches a scripted device."""
        return True


class Bench:
    """The tracker with scripted devices, a recording listener and history, and a clock."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, listener: DeviceListener | None = None
    ) -> None:
        """`listener` hears the tracker instead of the bench's own record of `events`."""
        self.devices: list[Device] = []
        self.scans = 0
        self.scan_gate = threading.Event()
        self.scan_gate.set()
        self.read_gate = threading.Event()
        self.read_gate.set()
        self.reads_started = 0
        self.node_watch = NodeWatchSpy()
        self.events: list[tuple[str, str, str]] = []
        self.verdicts: dict[str, CheckVerdict] = {}
        self.facts: dict[str, BackupFacts] = {}
        self.now = NOW
        self.thp_paths: set[str] = set()
        """Where a Safe 7 is: its reads come over THP, paired with this computer."""
        self.unlabelled: dict[str, Pairing] = {}
        """By path: the pairing a Safe 7's reads connect with, kept without its device id."""
        self.labelled: list[tuple[Pairing, str]] = []
        self.refused: list[bytes] = []
        monkeypatch.setattr(device_tracker, "QUICK_RETRY_DELAYS", (0.0, 0.0, 0.0))
        self.tracker = DeviceTracker(
            Config(),
            self,  # type: ignore[arg-type]  # the HistoryStore methods the tracker calls
            listener or self,
            clock=lambda: self.now,
            node_watch=self.node_watch,
            device_io=self,
        )

    # the device layer (DeviceIO)
    def usb_transports(self) -> list[Any]:
        self.scans += 1
        self.scan_gate.wait()
        return [device.transport for device in self.devices]

    def emulator_listening(self, endpoint: str) -> bool:
        return False  # no emulator is configured here

    def emulator_transport(self, endpoint: str) -> Any:
        return None

    def read_status(self, transport: Any) -> StatusRead:
        self.reads_started += 1
        self.read_gate.wait(5)
        features = next(d for d in self.devices if d.transport is transport).read()
        path = transport.get_path()
        if path not in self.thp_paths:
            return StatusRead(features)
        return StatusRead(features, over_thp=True, unlabelled=self.unlabelled.get(path))

    def label_pairing(self, pairing: Pairing, device_id: str) -> None:
        self.labelled.append((pairing, device_id))

    def remove_refused_pairing(self, trezor_pubkey: bytes) -> None:
        self.refused.append(trezor_pubkey)

    # the history (HistoryStore's methods the tracker calls)
    def last_check_verdict(self, device_id: str) -> CheckVerdict | None:
        return self.verdicts.get(device_id)

    def remembered_facts(self, device_id: str) -> BackupFacts | None:
        return self.facts.get(device_id)

    def remember_facts(self, device_id: str, facts: BackupFacts) -> None:
        self.facts[device_id] = replace(facts, extra_backup_unlocked=False)  # as the store does

    # the listener
    def device_added(self, device: TrackedDevice) -> None:
        self._record("added", device)

    def device_changed(self, device: TrackedDevice) -> None:
        self._record("changed", device)

    def device_removed(self, device: TrackedDevice) -> None:
        self._record("removed", device)

    def _record(self, event: str, device: TrackedDevice) -> None:
        self.events.append((event, device.id, device.status.state.value))

    def states(self) -> dict[str, str]:
        return {d.id: d.status.state.value for d in self.tracker.devices()}


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 10))


def busy(problem: ReadProblem) -> FeaturesReadError:
    return FeaturesReadError(problem)
