"""OperationManager over a scripted tracker and a fake device backend: who may start what,
the order of the end (state first, then the signal, then a read), and bookkeeping that
survives a crash. test_operations.py runs the real backend end to end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import pytest
from scripted_devices import NOW, Bench, Device, features, run
from trezorlib import messages

from trezor_backup_api.i18n import Sentence
from trezor_backup_api.vocabulary import OperationKind, Outcome, Refusal, Stage
from trezor_backupd.device.device_ops import HostInput
from trezor_backupd.device.operations import OperationManager
from trezor_backupd.device_values import CheckVerdict, OperationRefused, OperationResult, Progress
from trezor_backupd.store.history import VERDICT_RESULTS

DEVICE_ID = "AAAA"


class FakeWork:
    """A device operation that ends when the test says, with the result it says."""

    made: ClassVar[list[FakeWork]] = []

    def __init__(
        self,
        transport: Any,
        access: Callable[[], AbstractContextManager[None]],
        host: HostInput,
        progress: Callable[[Progress], None],
    ) -> None:
        self.access = access
        self.progress = progress
        self.result = OperationResult(Outcome.PASSED, (Sentence("ok"),))
        self.finish = threading.Event()
        self.crash = False
        self.cancelled = self.disconnected = False
        FakeWork.made.append(self)

    def _run(self) -> OperationResult:
        with self.access():
            self.progress(Progress(Stage.STARTED, Sentence("Follow your Trezor.")))
            self.finish.wait(5)
        if self.crash:
            raise RuntimeError("a bug")
        return self.result

    def check(self, word_count: int | None) -> OperationResult:
        return self._run()

    def backup(self) -> OperationResult:
        return self._run()

    def unlock(self) -> OperationResult:
        return self._run()

    def pair(self) -> OperationResult:
        return self._run()

    def cancel(self) -> None:
        self.cancelled = True
        self.result = OperationResult(Outcome.CANCELLED, (Sentence("cancelled"),))
        self.finish.set()

    def disconnect(self) -> None:
        self.disconnected = True
        self.result = OperationResult(Outcome.DISCONNECTED, (Sentence("gone"),))
        self.finish.set()


class Agents:
    """One agent that answers nothing (a Model T needs no host input) and logs Cancel."""

    def __init__(self, present: bool = True) -> None:
        self.present = present
        self.cancels = 0

    def agent_for(self, caller: str | None) -> Any:
        return self if self.present else None

    async def cancel(self, device_id: str) -> None:
        self.cancels += 1


class Scene:
    """The manager with a scripted device, and everything it told the bus, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *replies: messages.Features) -> None:
        FakeWork.made.clear()
        self.bench = Bench(monkeypatch, listener=self)
        self.device = Device("webusb:001:1", *replies)
        self.bench.devices.append(self.device)
        self.agents = Agents()
        self.told: list[tuple[str, ...]] = []
        self.history_records: list[tuple[str, str]] = []
        self.history_fails = False
        self.finished = asyncio.Event()
        self.manager = OperationManager(
            self.bench.tracker,
            self,  # type: ignore[arg-type]
            self.agents,
            self,
            device_work=FakeWork,
        )

    # listener of both the tracker and the manager
    def device_added(self, device: Any) -> None:
        self.told.append(("added", device.status.state.value, device.operation))

    def device_changed(self, device: Any) -> None:
        self.told.append(("changed", device.status.state.value, device.operation))

    def device_removed(self, device: Any) -> None:
        self.told.append(("removed",))

    def operation_progress(self, device_id: str, progress: Progress) -> None:
        self.told.append(("progress", progress.stage))

    def operation_finished(self, device_id: str, kind: str, result: OperationResult) -> None:
        self.told.append(("finished", kind, result.outcome.value))
        self.finished.set()

    # the history
    def record(self, device_id: str, kind: Any, result: str, when: Any, detail: str) -> None:
        if self.history_fails:
            raise RuntimeError("disk on fire")
        self.history_records.append((str(kind), result))
        if result in VERDICT_RESULTS:
            self.bench.verdicts[device_id] = CheckVerdict(NOW, Outcome(result))

    def start(self, kind: OperationKind = OperationKind.CHECK) -> FakeWork:
        self.manager.start(DEVICE_ID, kind, None, ":1.7")
        return FakeWork.made[-1]


@pytest.fixture
def scene(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    yield Scene(monkeypatch, features())


def test_refusals_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        scene = Scene(
            monkeypatch, features(backup_availability=messages.BackupAvailability.Required)
        )
        await scene.bench.tracker.settle()
        cases = [
            ("NOPE", OperationKind.CHECK, Refusal.NO_SUCH_DEVICE),
            (DEVICE_ID, OperationKind.CHECK, Refusal.NOT_POSSIBLE),  # nothing to check yet
            (DEVICE_ID, OperationKind.UNLOCK, Refusal.NOT_POSSIBLE),  # not locked
        ]
        for device_id, kind, reason in cases:
            with pytest.raises(OperationRefused) as refused:
                scene.manager.start(device_id, kind, None, ":1.7")
            assert refused.value.reason is reason
        scene.agents.present = False
        with pytest.raises(OperationRefused) as refused:
            scene.manager.start(DEVICE_ID, OperationKind.BACKUP, None, ":1.7")
        assert refused.value.reason is Refusal.NO_AGENT
        scene.agents.present = True
        work = scene.start(OperationKind.BACKUP)
        with pytest.raises(OperationRefused) as refused:
            scene.manager.start(DEVICE_ID, OperationKind.BACKUP, None, ":1.7")
        assert refused.value.reason is Refusal.BUSY
        work.finish.set()
        await scene.finished.wait()
        scene.bench.tracker.close()

    run(scenario)


def test_the_state_changes_before_the_end_is_told_and_the_device_is_read_after(
    scene: Scene,
) -> None:
    async def scenario() -> None:
        await scene.bench.tracker.settle()
        work = scene.start()
        await asyncio.sleep(0)
        reads_before_end = scene.device.reads
        work.finish.set()
        await scene.finished.wait()
        await scene.bench.tracker.settle()
        finished = scene.told.index(("finished", "check", "passed"))
        assert scene.told[finished - 1] == ("changed", "verified", "")
        assert ("changed", "unverified", "check") in scene.told[:finished]
        assert scene.device.reads == reads_before_end + 1
        assert scene.history_records == [("check", "passed")]
        assert scene.manager._tracker.operation_of(DEVICE_ID) is None
        scene.bench.tracker.close()

    run(scenario)


@pytest.mark.parametrize("failure", ["crash", "history"])
def test_a_crash_or_a_broken_history_never_leaves_the_device_busy(
    scene: Scene, failure: str
) -> None:
    async def scenario() -> None:
        await scene.bench.tracker.settle()
        work = scene.start()
        work.crash = failure == "crash"
        scene.history_fails = failure == "history"
        work.finish.set()
        await scene.finished.wait()
        assert scene.bench.tracker.operation_of(DEVICE_ID) is None
        [device] = scene.bench.tracker.devices()
        assert device.operation == ""
        scene.start().finish.set()  # a new operation may start
        scene.finished.clear()
        await scene.finished.wait()
        scene.bench.tracker.close()

    run(scenario)


def test_an_unplugged_device_is_removed_only_after_its_operation_said_how_it_ended(
    scene: Scene,
) -> None:
    async def scenario() -> None:
        await scene.bench.tracker.settle()
        work = scene.start()
        scene.bench.devices.clear()
        scene.bench.tracker.request_rescan()  # the device is gone
        await scene.finished.wait()
        assert work.disconnected
        end = scene.told.index(("finished", "check", "disconnected"))
        assert ("removed",) not in scene.told[:end]
        assert scene.told[end + 1 :] == [("removed",)]
        scene.bench.tracker.close()

    run(scenario)


def test_cancel_goes_to_the_device_through_the_operation_the_tracker_holds(
    scene: Scene,
) -> None:
    async def scenario() -> None:
        await scene.bench.tracker.settle()
        work = scene.start()
        scene.manager.cancel(DEVICE_ID)
        await scene.finished.wait()
        assert work.cancelled
        assert ("finished", "check", "cancelled") in scene.told
        with pytest.raises(OperationRefused) as refused:
            scene.manager.cancel(DEVICE_ID)
        assert refused.value.reason is Refusal.NO_OPERATION
        scene.bench.tracker.close()

    run(scenario)
