"""Running checks and backups: one operation per device, any number of devices at once.

Sits between the bus and the device: it decides whether an operation may start (the device's
state, an agent to answer for the host, nothing else running), runs the blocking workflow of
device_ops on a worker thread, bridges the device's questions to the agent on the event loop,
records the outcome in the history and has the device re-read. It knows nothing of D-Bus: the
agent is reached through the HostAgent protocol, and outcomes go out through a listener.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from trezorlib.transport import Transport

from trezor_backup_api.actions import Action, allowed_actions
from trezor_backup_api.i18n import N_, Sentence
from trezor_backup_api.vocabulary import BackupState, OperationKind, Outcome, Refusal

from ..device_values import (
    AgentUnanswered,
    DeviceStatus,
    OperationRefused,
    OperationResult,
    Progress,
)
from ..store.history import RESULTS_BY_KIND, HistoryStore, HistoryUnavailable
from .device_ops import DeviceOperation, HostCancelled, HostInput
from .device_tracker import DeviceTracker

LOG = logging.getLogger(__name__)
T = TypeVar("T")

AGENT_CANCEL_TIMEOUT_SECONDS = 5.0


_NOT_CHECKABLE = {
    BackupState.NOT_INITIALIZED: N_("This Trezor has no wallet yet: there is nothing to check."),
    BackupState.NO_BACKUP: N_(
        "This Trezor was set up without a backup (seedless): there are no words to check."
    ),
    BackupState.BACKUP_REQUIRED: N_(
        "This Trezor has not been backed up yet: create the backup first, then check it."
    ),
    BackupState.BACKUP_FAILED: N_(
        "This Trezor's backup failed and cannot be repeated: there are no complete words to "
        "check. Move your funds to a new wallet."
    ),
    BackupState.LOCKED: N_("This Trezor is locked: unlock it first, then check its backup."),
}
"""Why a check is refused in these states (msgids); any other state is named in a sentence."""

_ALREADY_RUNNING = {
    OperationKind.CHECK: N_("A check is already running on it."),
    OperationKind.BACKUP: N_("A backup is already running on it."),
    OperationKind.UNLOCK: N_("An unlock is already running on it."),
    OperationKind.PAIR: N_("A pairing is already running on it."),
}
"""The refusal (Busy) of a second operation, per kind of the running one."""


class HostAgent(Protocol):
    """Whoever answers the device's questions for the host (the applet, the CLI).

    A request raises AgentUnanswered when its time runs out, anything else when the agent
    refused, failed or left.
    """

    async def request_pin(self, device_id: str, kind: str) -> str: ...

    async def request_word(self, device_id: str, kind: str) -> str: ...

    async def request_word_count(self, device_id: str) -> int: ...

    async def request_pairing_code(self, device_id: str) -> str: ...

    async def cancel(self, device_id: str) -> None: ...


class AgentDirectory(Protocol):
    def agent_for(self, caller: str | None) -> HostAgent | None:
        """The caller's own agent, else the most recently registered one."""
        ...


class OperationListener(Protocol):
    def operation_progress(self, device_id: str, progress: Progress) -> None: ...

    def operation_finished(self, device_id: str, kind: str, result: OperationResult) -> None: ...


class _AgentBridge:
    """HostInput for the worker thread: each question is an agent call on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, agent: HostAgent, device_id: str) -> None:
        self._loop = loop
        self._agent = agent
        self._device_id = device_id
        self._pending: concurrent.futures.Future[Any] | None = None
        self._aborted = False
        self._lock = threading.Lock()

    def _ask(self, question: Coroutine[Any, Any, T]) -> T:
        with self._lock:  # an abort either sees this question pending or comes first
            if self._aborted:
                question.close()
                raise HostCancelled
            future = asyncio.run_coroutine_threadsafe(question, self._loop)
            self._pending = future
        try:
            return future.result()
        except AgentUnanswered:
            raise HostCancelled(unanswered=True) from None
        except BaseException:
            # An error from the agent, a cancel, the agent leaving the bus: all cancel the
            # operation. The agent's own error text is not kept: it could echo an answer.
            raise HostCancelled from None
        finally:
            self._pending = None

    def abort(self) -> None:
        """Unblock a question in progress (cancel, unplug); later questions fail at once."""
        with self._lock:
            self._aborted = True
            pending = self._pending
        if pending is not None:
            self._loop.call_soon_threadsafe(pending.cancel)

    def pin(self, kind: str) -> str:
        return self._ask(self._agent.request_pin(self._device_id, kind))

    def word(self, kind: str) -> str:
        return self._ask(self._agent.request_word(self._device_id, kind))

    def word_count(self) -> int:
        return self._ask(self._agent.request_word_count(self._device_id))

    def pairing_code(self) -> str:
        return self._ask(self._agent.request_pairing_code(self._device_id))


@dataclass
class _Running:
    """One running operation: the handle the tracker's entry for the device owns."""

    kind: OperationKind
    agent: HostAgent
    bridge: _AgentBridge
    operation: DeviceWork = field(init=False)
    """Set as soon as the tracker has handed over the device."""

    def cancel(self) -> None:
        """Unblock the agent's question, then ask the device to abandon the operation."""
        self.bridge.abort()
        asyncio.get_running_loop().run_in_executor(None, self.operation.cancel)

    def device_gone(self) -> None:
        """Unplugged: stop asking the agent and stop waiting for the device."""
        self.bridge.abort()
        self.operation.disconnect()


class DeviceWork(Protocol):
    """What runs an operation on the device: device_ops.DeviceOperation (a fake in tests)."""

    def check(self, word_count: int | None) -> OperationResult: ...

    def backup(self) -> OperationResult: ...

    def unlock(self) -> OperationResult: ...

    def pair(self) -> OperationResult: ...

    def cancel(self) -> None: ...

    def disconnect(self) -> None: ...


DeviceWorkFactory = Callable[
    [Transport, Callable[[], AbstractContextManager[None]], HostInput, Callable[[Progress], None]],
    DeviceWork,
]


class OperationManager:
    """Starts, cancels and finishes operations; one per device at a time (the tracker's
    entry for the device holds it)."""

    def __init__(
        self,
        tracker: DeviceTracker,
        history: HistoryStore | None,
        agents: AgentDirectory,
        listener: OperationListener,
        device_work: DeviceWorkFactory = DeviceOperation,
    ) -> None:
        self._tracker = tracker
        self._history = history
        self._agents = agents
        self._listener = listener
        self._device_work = device_work
        self._tasks: set[asyncio.Task[None]] = set()

    def start(
        self, device_id: str, kind: OperationKind, word_count: int | None, caller: str | None
    ) -> None:
        """Start an operation and return at once; raises OperationRefused when it cannot."""
        device = self._tracker.device(device_id)
        if device is None:
            raise OperationRefused(
                Refusal.NO_SUCH_DEVICE,
                Sentence(N_("No Trezor {device_id} is connected."), {"device_id": device_id}),
            )
        if (running := self._tracker.operation_of(device_id)) is not None:
            raise OperationRefused(
                Refusal.BUSY, Sentence(_ALREADY_RUNNING[OperationKind(running.kind)])
            )
        _require_allowed(kind, device_id, device.status)
        agent = self._agents.agent_for(caller)
        if agent is None:
            raise OperationRefused(
                Refusal.NO_AGENT,
                Sentence(
                    N_(
                        "No agent is registered to answer the Trezor's questions: start the "
                        "tray applet or use trezor-backupctl."
                    )
                ),
            )
        loop = asyncio.get_running_loop()
        bridge = _AgentBridge(loop, agent, device_id)

        def progress(step: Progress) -> None:
            loop.call_soon_threadsafe(self._listener.operation_progress, device_id, step)

        # The tracker hands over the transport and owns the handle until the end.
        running = _Running(kind, agent, bridge)
        transport, device_access = self._tracker.begin_operation(device_id, running)
        running.operation = self._device_work(transport, device_access, bridge, progress)
        task = loop.create_task(self._run(device_id, running, word_count))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        LOG.info("Started a %s on Trezor %s", kind, device_id)

    def cancel(self, device_id: str) -> None:
        """Cancel the running operation on the device."""
        running = self._tracker.operation_of(device_id)
        if running is None:
            raise OperationRefused(
                Refusal.NO_OPERATION, Sentence(N_("Nothing is running on this Trezor."))
            )
        LOG.info("Cancelling the %s on Trezor %s", running.kind, device_id)
        running.cancel()

    async def close(self) -> None:
        """The daemon is stopping: end every operation and wait for them.

        A check is cancelled on the device. A backup is only let go of: cancelling it would
        leave the device `backup_failed` for good (and an unlock waits for nothing else).
        """
        for running in self._tracker.running_operations():
            if running.kind == OperationKind.CHECK:
                running.cancel()
            else:
                running.device_gone()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _run(self, device_id: str, running: _Running, word_count: int | None) -> None:
        operation = running.operation
        result = OperationResult(
            Outcome.ERROR, (Sentence(N_("The operation failed unexpectedly.")),)
        )
        try:
            if running.kind is OperationKind.CHECK:
                result = await asyncio.to_thread(operation.check, word_count)
            elif running.kind is OperationKind.BACKUP:
                result = await asyncio.to_thread(operation.backup)
            elif running.kind is OperationKind.PAIR:
                result = await asyncio.to_thread(operation.pair)
            else:
                result = await asyncio.to_thread(operation.unlock)
            LOG.info("The %s on Trezor %s ended: %s", running.kind, device_id, result.outcome)
            self._record(device_id, running.kind, result)
        except Exception:
            LOG.exception("The %s on Trezor %s crashed", running.kind, device_id)
        finally:
            # The device's State (with the new verdict) and Operation change first, then
            # the signal goes out, then the device is read again (or removed, if it was
            # unplugged): a client reading State on the signal sees the new one.
            after = self._tracker.finish_operation(running)
            self._listener.operation_finished(device_id, running.kind.value, result)
            after()
        if result.outcome not in (Outcome.PASSED, Outcome.MISMATCH, Outcome.COMPLETED):
            await self._tell_agent_it_ended(running.agent, device_id)

    def _record(self, device_id: str, kind: OperationKind, result: OperationResult) -> None:
        if self._history is None or kind not in RESULTS_BY_KIND:
            return
        try:
            self._history.record(
                device_id, kind, result.outcome.value, datetime.now(UTC), result.message
            )
        except HistoryUnavailable as error:
            LOG.error("Could not record the %s in the history: %s", kind, error)

    @staticmethod
    async def _tell_agent_it_ended(agent: HostAgent, device_id: str) -> None:
        """Let the agent close its prompt; a stuck agent holds up nothing else."""
        try:
            await asyncio.wait_for(agent.cancel(device_id), AGENT_CANCEL_TIMEOUT_SECONDS)
        except Exception as error:  # the agent may have left; it only closes its prompt
            LOG.debug("Agent did not take Cancel: %s", type(error).__name__)


@dataclass(frozen=True)
class _Idle:
    """A device as the rule sees it (the properties it reads, as published), with nothing
    running on it."""

    id: str
    state: str
    model: str
    locked: bool
    operation: str = ""


def _require_allowed(kind: OperationKind, device_id: str, status: DeviceStatus) -> None:
    """Refuse (NotPossible) what the one rule (trezor_backup_api.actions) does not allow on
    the device as it is published; nothing runs on it (that was refused as Busy)."""
    idle = _Idle(device_id, status.state, status.model, status.locked)
    if Action(kind.value) in allowed_actions(idle):
        return
    state = {"state": status.state.value}  # a state's name, as the State property says it
    if kind is OperationKind.PAIR:
        reason = Sentence(
            N_(
                "Only a Trezor Safe 7 that is not paired with this computer can be paired "
                "(this one is {state})."
            ),
            state,
        )
    elif kind is OperationKind.UNLOCK:
        reason = Sentence(N_("The Trezor is not locked."))
    elif kind is OperationKind.CHECK and status.state in _NOT_CHECKABLE:
        reason = Sentence(_NOT_CHECKABLE[status.state])
    elif kind is OperationKind.CHECK:
        reason = Sentence(N_("The Trezor cannot be checked now (it is {state})."), state)
    else:
        reason = Sentence(
            N_(
                "The Trezor does not need a backup now (it is {state}); a backup can only be "
                "created once, right after the wallet is set up."
            ),
            state,
        )
    raise OperationRefused(Refusal.NOT_POSSIBLE, reason)
