"""The set of connected Trezors and their backup status, kept current from udev and events.

This is where device I/O, the status model and history meet. It is transport-agnostic and
knows nothing of D-Bus: whoever wants to publish the devices implements DeviceListener.

The read policy (docs/security.md) lives here, in `_may_read` and the places that call it.
On core firmware any message that arrives while a flow runs ends that flow (a backup becomes
"backup failed" for good), so a device is read only when nothing can be running on it:
- USB: the read opens (claims) the interface first; a device another app holds is reported
  busy and read again when that app lets go of its device node, never on a timer;
- emulators cannot be claimed: one read at discovery, then only after our own operations
  and on an explicit refresh; their presence is checked without sending them anything;
- never while an operation of ours runs, nor while a check left running waits on the device;
- a read that got no answer, or a reply other than Features (a Failure: a core Trezor in
  a check answers so), is not retried into the device: it may be in another app's flow.
Any number of udev events collapse into at most one running and one pending rescan.

A Safe 7's pairing lives in the keyring, outside the tracker: it reaches it through an
injected "forget the pairing of this device id" callable (thp_credentials), and remembers
which Safe 7 was read paired on each node in a PairingMemory (pairing_memory). An operation
of ours holds its device through the entry's OperationSlot (operation_slot). Device I/O comes
in as a DeviceIO (device_io.TrezorlibIO unless a test hands another).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from trezorlib import messages
from trezorlib.transport import Transport
from trezorlib.transport.hid import HidTransport

from trezor_backup_api.i18n import N_, Sentence
from trezor_backup_api.names import is_trezor_device_id
from trezor_backup_api.vocabulary import BackupState, OperationKind, Refusal

from ..device_values import (
    DeviceListener,
    DeviceStatus,
    OperationRefused,
    TrackedDevice,
)
from ..store.config import Config
from ..store.history import HistoryStore, HistoryUnavailable
from ..store.thp_credentials import Pairing, SecretServiceUnavailable
from .device_io import FeaturesReadError, ReadProblem, StatusRead, TrezorlibIO
from .operation_slot import OperationHandle, OperationSlot
from .pairing_memory import PairingMemory, no_pairing_to_forget
from .status import (
    backup_facts,
    status_from_features,
    status_without_features,
    status_without_keyring,
)
from .udev_watch import TrezorUsbEvent

LOG = logging.getLogger(__name__)

QUICK_RETRY_DELAYS = (0.25, 0.5, 1.0)
"""Right after plug-in the ACL may not be applied yet: retry opening this fast before saying
busy. Only a failed open is retried, and a failed open sends nothing to the device."""

GONE_RESCAN_SECONDS = 1.0
"""After a device that is still listed failed to be read (gone), wait at least this long
before the next look, doubling each time, so that a broken device cannot make us spin."""

MISSING_AFTER_ADD_RETRIES = (0.1, 0.3, 1.0)
"""libusb learns about a new device from its own udev listener, maybe after we do."""

MAX_TIMER_SECONDS = 3600.0
"""The re-check timer runs on the monotonic clock, which stands still while the laptop
sleeps: wake up at least hourly to compare against the wall clock again."""


class DeviceIO(Protocol):
    """The device layer the tracker reads through (device_io.TrezorlibIO; a test hands it
    scripted devices). Every method blocks: the tracker calls them in worker threads."""

    def usb_transports(self) -> list[Transport]:
        """Every Trezor on USB, listed without opening any."""
        ...

    def emulator_listening(self, endpoint: str) -> bool:
        """Whether something still listens at a known emulator endpoint, sending nothing."""
        ...

    def emulator_transport(self, endpoint: str) -> Transport | None:
        """The emulator at the endpoint if it answers a probe."""
        ...

    def read_status(self, transport: Transport) -> StatusRead:
        """One status read (GetFeatures alone); raises FeaturesReadError."""
        ...

    def label_pairing(self, pairing: Pairing, device_id: str) -> None:
        """Keep a Safe 7's pairing under the device id it reported (StatusRead.unlabelled)."""
        ...

    def remove_refused_pairing(self, trezor_pubkey: bytes) -> None:
        """Remove the pairing a Safe 7 refused (FeaturesReadError.refused_key)."""
        ...


class NodeWatch(Protocol):
    """Tells when another process lets go of a device node (see device_node_watch)."""

    def watch(self, key: str, devnode: str) -> bool: ...

    def unwatch(self, key: str) -> None: ...

    def own_access(self, key: str) -> AbstractContextManager[None]: ...

    def untouched_since_release(self, key: str) -> bool: ...


@dataclass
class _Entry:
    """What we know about one transport path."""

    transport: Transport
    reader: asyncio.Task[None] | None = None
    features: messages.Features | None = None
    published: TrackedDevice | None = None
    slot: OperationSlot = field(default_factory=OperationSlot)
    """Our operation on the device, if one runs, and the lock on talking to it."""
    read_once: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the latest requested read has produced a status (or the device left)."""
    released_while_reading: bool = False
    """Another program let go during a read: what it did may be newer than that read."""
    pairing: PairingMemory = field(default_factory=PairingMemory)
    """The Safe 7 read paired on this node, if any (a new node starts with none)."""
    watched: bool = False
    """Its device node is watched: another app letting go of it is reported (node_released),
    so a read that found it held waits for that instead of trying again on a timer."""


_STATE_OF_PROBLEM = {
    ReadProblem.PAIRING_REQUIRED: BackupState.PAIRING_REQUIRED,
    ReadProblem.NO_KEYRING: BackupState.PAIRING_REQUIRED,
    ReadProblem.LOCKED_THP: BackupState.LOCKED,
}
"""What a Safe 7 that tells nothing is: not paired here (also when no keyring exists to
keep a pairing in), or locked (THP refuses both). Read while the keyring is locked it is
neither: whether it is paired here cannot be told."""

_FORGET_WHILE_RUNNING = {
    OperationKind.CHECK: N_("A check is running on it: forget the pairing once it ended."),
    OperationKind.BACKUP: N_("A backup is running on it: forget the pairing once it ended."),
    OperationKind.UNLOCK: N_("An unlock is running on it: forget the pairing once it ended."),
    OperationKind.PAIR: N_("A pairing is running on it: forget the pairing once it ended."),
}
"""The refusal (Busy) of ForgetPairing, per kind of the operation running on the device."""


def fallback_id(transport_path: str) -> str:
    """An id for a device that has not told us its device_id: where it is connected."""
    return "at_" + re.sub(r"[^A-Za-z0-9]", "_", transport_path)


class DeviceTracker:
    """Keeps the connected-device set exact and every device's status current."""

    def __init__(
        self,
        config: Config,
        history: HistoryStore | None,
        listener: DeviceListener,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        node_watch: NodeWatch | None = None,
        forget_pairing: Callable[[str], bool] | None = None,
        device_io: DeviceIO | None = None,
    ) -> None:
        """`forget_pairing` removes the Safe 7 pairing of a device id from the keyring
        (blocking; says whether there was one; raises SecretServiceUnavailable);
        `device_io` is the device layer (by default trezorlib's, device_io.TrezorlibIO)."""
        self._io: DeviceIO = device_io if device_io is not None else TrezorlibIO()
        self._config = config
        self._node_watch = node_watch
        self._forget_pairing = forget_pairing
        self._devnodes: dict[str, str] = {}
        self._history = history
        self._listener = listener
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._scan_lock = asyncio.Lock()
        self._pending_scan: asyncio.Future[None] | None = None
        self._list_usb = True
        """Whether the next scan lists USB anew (a udev event or a refresh asked for one)."""
        self._expected_usb_paths: set[str] = set()
        self._due_timer: asyncio.TimerHandle | None = None
        self._missing_retry: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._departed: dict[str, _Entry] = {}
        self._gone_delays: dict[str, float] = {}
        """By device id: entries unplugged mid-operation, until the operation has ended."""

    # ---- queries -------------------------------------------------------------------------

    def devices(self) -> list[TrackedDevice]:
        """The connected devices whose status has been read, in plug-in order."""
        return [entry.published for entry in self._entries.values() if entry.published]

    def device(self, device_id: str) -> TrackedDevice | None:
        """One connected device by id, or None."""
        return next((d for d in self.devices() if d.id == device_id), None)

    # ---- events --------------------------------------------------------------------------

    def usb_event(self, event: TrezorUsbEvent) -> None:
        """React to udev: drop an unplugged device at once, and rescan for the rest."""
        if event.location is not None:
            location = event.location
            path = location.webusb_path if event.webusb else location.hid_path
            if event.action == "remove":
                self._expected_usb_paths.discard(path)
                self._devnodes.pop(path, None)
                self._forget(path)
            elif event.action == "add":
                self._expected_usb_paths.add(path)
                if event.devnode:
                    self._devnodes[path] = event.devnode
                    entry = self._entries.get(path)
                    if entry is not None and self._node_watch is not None:
                        # A scan listed it before this event was handled.
                        entry.watched = self._node_watch.watch(path, event.devnode)
        self.request_rescan()

    def node_released(self, path: str) -> None:
        """Another program closed the device's node: what it did may have changed the state."""
        entry = self._entries.get(path)
        if entry is None:
            return
        entry.pairing.released_by_another_app()
        if not self._may_read(entry):
            return
        if entry.reader is not None:
            entry.released_while_reading = True  # read again once this read is over
            return
        LOG.debug("Another program let go of %s; reading it", path)
        entry.read_once = asyncio.Event()
        entry.reader = self._spawn(self._read(path, entry, after_release=True))

    def request_rescan(self, usb: bool = True) -> asyncio.Future[None]:
        """Schedule a rescan; requests made while one is pending share it.

        `usb=False` (the emulator look-up) keeps the last USB listing: USB changes come as
        udev events, and listing the bus costs more than the look-up itself.
        """
        self._list_usb |= usb
        if self._pending_scan is None:
            future = asyncio.get_running_loop().create_future()
            self._pending_scan = future
            self._spawn(self._run_scan(future))
        return self._pending_scan

    async def settle(self) -> None:
        """Wait for the current rescan and the first read of every device it found."""
        await self.request_rescan()
        pending = [e.read_once.wait() for e in self._entries.values() if not e.read_once.is_set()]
        if pending:
            await asyncio.gather(*pending)

    async def refresh(self) -> None:
        """Re-read every connected device now (the owner changed something elsewhere)."""
        for path, entry in self._entries.items():
            if entry.reader is None and self._may_read(entry):
                entry.read_once = asyncio.Event()
                entry.reader = self._spawn(self._read(path, entry))
        await self.settle()

    @staticmethod
    def _may_read(entry: _Entry) -> bool:
        """Whether a read could not end a flow on the device (the read policy, see above).

        A status read during our own operation would abort it; during a check left running
        on a core device, the owner may be typing words on it, which a read would throw away.
        """
        if entry.slot.running is not None:
            return False
        return entry.published is None or not entry.published.status.dry_run_in_progress

    def operation_of(self, device_id: str) -> OperationHandle | None:
        """The operation of ours running on the device, connected or just unplugged."""
        entry = self._departed.get(device_id)
        if entry is None:
            try:
                entry = self._entry_of(device_id)[1]
            except KeyError:
                return None
        return entry.slot.running

    def running_operations(self) -> list[OperationHandle]:
        """Every operation of ours still running (for shutdown)."""
        entries = [*self._entries.values(), *self._departed.values()]
        return [entry.slot.running for entry in entries if entry.slot.running is not None]

    async def forget_pairing(self, device_id: str) -> None:
        """`Device1.ForgetPairing`: remove this Safe 7's pairing from the keyring, then show
        it `pairing_required` without asking it (with no credential it tells nothing).

        Raises OperationRefused: the device is not connected, an operation runs on it, it
        is not a Safe 7 read paired here, the keyring cannot be used, or it holds no pairing
        of this Trezor. No operation can start meanwhile (begin_operation refuses): the
        device lock is then waited for only while a status read ends.
        """
        try:
            path, entry = self._entry_of(device_id)
        except KeyError:
            raise OperationRefused(
                Refusal.NO_SUCH_DEVICE,
                Sentence(N_("No Trezor {device_id} is connected."), {"device_id": device_id}),
            ) from None
        if entry.slot.running is not None:
            raise OperationRefused(
                Refusal.BUSY, Sentence(_FORGET_WHILE_RUNNING[OperationKind(entry.slot.kind)])
            )
        paired_id = entry.pairing.paired_id
        if paired_id is None or self._forget_pairing is None:
            assert entry.published is not None  # _entry_of finds published devices only
            raise OperationRefused(
                Refusal.NOT_POSSIBLE, no_pairing_to_forget(entry.published.status)
            )
        if entry.pairing.forgetting:
            raise OperationRefused(
                Refusal.BUSY, Sentence(N_("Its pairing is being forgotten already."))
            )
        forget = self._forget_pairing

        def in_worker() -> bool:
            with entry.slot.lock:  # a read in flight, which may use the credential, ends first
                return forget(paired_id)

        entry.pairing.forgetting = True
        try:
            removed = await asyncio.to_thread(in_worker)
        except SecretServiceUnavailable as error:
            raise OperationRefused(Refusal.NO_SECRET_SERVICE, error.sentence) from None
        finally:
            entry.pairing.forgetting = False
        if not removed:
            raise OperationRefused(
                Refusal.NOT_POSSIBLE,
                Sentence(
                    N_(
                        "No pairing of this Trezor was found in the desktop's keyring, so "
                        "nothing was removed: refresh its status to see whether it is still "
                        "paired here."
                    )
                ),
            )
        LOG.info("The pairing with Trezor %s was forgotten", device_id)
        if self._entries.get(path) is entry and entry.pairing.pairing_forgotten(paired_id):
            self._publish_unreadable(path, entry, FeaturesReadError(ReadProblem.PAIRING_REQUIRED))

    def begin_operation(
        self, device_id: str, operation: OperationHandle
    ) -> tuple[Transport, Callable[[], AbstractContextManager[None]]]:
        """Hand the device's transport to an operation; no status read touches it meanwhile.

        Reading during an operation would be worse than useless: it would end the operation
        on core firmware, and an emulator would send its next reply to us. The second value
        is entered by the operation's thread around its whole use of the device. Raises
        OperationRefused (Busy) while its pairing is being forgotten.
        """
        path, entry = self._entry_of(device_id)
        if entry.pairing.forgetting:
            raise OperationRefused(
                Refusal.BUSY,
                Sentence(N_("Its pairing is being forgotten: start it again once that ended.")),
            )
        if entry.reader is not None:
            entry.reader.cancel()
            entry.reader = None
        entry.slot.begin(operation)
        assert entry.published is not None
        self._publish(path, entry, entry.published.status)
        return entry.transport, lambda: self._device_access(path, entry)

    def finish_operation(self, operation: OperationHandle) -> Callable[[], None]:
        """The operation is over: publish at once that nothing runs and what the history now
        says (a new verdict), before anyone hears how it ended. Returns what to do once the
        end has been announced: remove the device if it was unplugged meanwhile, else read it
        again (its backup state may have changed).

        Only the entry that holds this very operation is touched: the device may have been
        plugged in again, with a new operation, before this one ended.
        """
        for device_id, departed in self._departed.items():
            if departed.slot.end(operation):
                return lambda: self._remove_departed(device_id, departed)
        found = next(((p, e) for p, e in self._entries.items() if e.slot.end(operation)), None)
        if found is None:
            return lambda: None  # its device's object went away already (re-plugged)
        path, entry = found
        if entry.features is not None:
            self._publish(path, entry, self._classify(entry.features, path))
        elif entry.published is not None:
            self._publish(path, entry, entry.published.status)

        def read_again() -> None:
            if self._entries.get(path) is not entry:
                return
            if entry.reader is not None:
                entry.reader.cancel()
            entry.read_once = asyncio.Event()
            entry.reader = self._spawn(self._read(path, entry))

        return read_again

    def _remove_departed(self, device_id: str, entry: _Entry) -> None:
        if self._departed.get(device_id) is entry:
            del self._departed[device_id]
            if entry.published is not None:
                self._listener.device_removed(entry.published)

    def _entry_of(self, device_id: str) -> tuple[str, _Entry]:
        for path, entry in self._entries.items():
            if entry.published is not None and entry.published.id == device_id:
                return path, entry
        raise KeyError(device_id)

    async def poll_emulators(self) -> None:
        """Look for configured emulators now and then; only runs when some are configured.

        Known emulators are sent nothing (see _discover): this only notices them come and go.
        """
        while True:
            await asyncio.sleep(self._config.emulator_poll_seconds)
            await self.request_rescan(usb=False)

    def close(self) -> None:
        """Stop every background task and timer."""
        if self._due_timer is not None:
            self._due_timer.cancel()
        for task in list(self._background):
            task.cancel()

    # ---- scanning ------------------------------------------------------------------------

    async def _run_scan(self, future: asyncio.Future[None]) -> None:
        async with self._scan_lock:
            self._pending_scan = None
            try:
                known = {path: entry.transport for path, entry in self._entries.items()}
                list_usb, self._list_usb = self._list_usb, False
                present = await asyncio.to_thread(self._discover, known, list_usb)
                self._apply_scan(present)
            except Exception:
                LOG.exception("Rescanning for Trezors failed")
            finally:
                future.set_result(None)
        missing = self._expected_usb_paths - self._entries.keys()
        if missing and self._missing_retry is None:
            self._missing_retry = self._spawn(self._rescan_for_missing(missing))

    def _discover(self, known: dict[str, Transport], list_usb: bool) -> dict[str, Transport]:
        if list_usb:
            # hidapi lists a HID Model One by opening its node (for its strings): our own
            # access, not another program letting go. WebUSB listing opens nothing.
            with ExitStack() as ours:
                if self._node_watch is not None:
                    for path in known:
                        if path.startswith(f"{HidTransport.PATH_PREFIX}:"):
                            ours.enter_context(self._node_watch.own_access(path))
                transports = self._io.usb_transports()
        else:
            transports = [t for path, t in known.items() if path not in self._config.emulators]
        for endpoint in self._config.emulators:
            if endpoint in known:
                # Known emulators are only checked for still listening: a probe would make
                # the emulator send its next reply to us instead of to whoever talks to it.
                if self._io.emulator_listening(endpoint):
                    transports.append(known[endpoint])
                continue
            if not self._io.emulator_listening(endpoint):
                continue  # nothing there: no datagram needed to know it
            emulator = self._io.emulator_transport(endpoint)
            if emulator is not None:
                transports.append(emulator)
        return {transport.get_path(): transport for transport in transports}

    def _apply_scan(self, present: dict[str, Transport]) -> None:
        for path in self._entries.keys() - present.keys():
            self._forget(path)
        for path, transport in present.items():
            if path not in self._entries:
                entry = _Entry(transport)
                self._entries[path] = entry
                devnode = self._devnodes.get(path)
                if self._node_watch is not None and devnode is not None:
                    entry.watched = self._node_watch.watch(path, devnode)
                entry.reader = self._spawn(self._read(path, entry))

    async def _rescan_for_missing(self, missing: set[str]) -> None:
        try:
            for delay in MISSING_AFTER_ADD_RETRIES:
                await asyncio.sleep(delay)
                await self.request_rescan()
                missing = self._expected_usb_paths - self._entries.keys()
                if not missing:
                    return
            LOG.info("A Trezor announced by udev is not visible to trezorlib: %s", sorted(missing))
            self._expected_usb_paths -= missing
        finally:
            self._missing_retry = None

    def _forget(self, path: str) -> None:
        entry = self._entries.pop(path, None)
        if entry is None:
            return
        if self._node_watch is not None:
            self._node_watch.unwatch(path)
        entry.read_once.set()
        if entry.reader is not None and entry.reader is not asyncio.current_task():
            entry.reader.cancel()
        if entry.published is None:
            return
        LOG.info("Trezor %s was disconnected", entry.published.id)
        if entry.slot.running is not None:
            # Its object stays until the operation has said it ended (disconnected).
            self._departed[entry.published.id] = entry
            entry.slot.running.device_gone()
            return
        self._listener.device_removed(entry.published)

    # ---- reading -------------------------------------------------------------------------

    async def _read(self, path: str, entry: _Entry, after_release: bool = False) -> None:
        """Read the device and publish what it says. `after_release`: another program let
        go of it, and the read is skipped if one touches it again before it starts."""
        retry_delays: Iterator[float] = iter(QUICK_RETRY_DELAYS)
        try:
            while True:
                try:
                    read = await asyncio.to_thread(self._locked_read, path, entry, after_release)
                    if read is None:  # taken again: read once it is let go again
                        entry.read_once.set()
                        return
                except FeaturesReadError as error:
                    # A watched Trezor another app holds is read when that app lets go: a
                    # retry on a timer could take it in the middle of what that app does.
                    retry = error.worth_retrying_soon and not (
                        entry.watched and error.problem is ReadProblem.HELD_BY_ANOTHER_APP
                    )
                    delay = next(retry_delays, None) if retry else None
                    if delay is not None:
                        LOG.debug("Opening %s failed (%s); retrying", path, error)
                        await asyncio.sleep(delay)
                        continue
                    if error.problem is ReadProblem.GONE:
                        LOG.info("Trezor at %s went away while being read", path)
                        self._forget(path)
                        # It may be back already under the same path (a quick re-plug, a
                        # reboot): the scan that saw it came before it was forgotten. One
                        # that stays listed but cannot be read is looked for less and less.
                        delay = self._gone_delays.get(path, 0.0)
                        self._gone_delays[path] = min(
                            max(2 * delay, GONE_RESCAN_SECONDS), MAX_TIMER_SECONDS
                        )
                        self._spawn(self._rescan_after(delay))
                        return
                    if error.refused_key is not None:
                        await asyncio.to_thread(self._remove_refused, entry, error.refused_key)
                    if error.problem is ReadProblem.PAIRING_REQUIRED:
                        await self._forget_wiped(entry)
                    # No retry: the next read comes when another app lets go of the device,
                    # after an operation of ours, or on an explicit refresh.
                    LOG.info("Trezor at %s cannot be read: %s", path, error)
                    self._publish_unreadable(path, entry, error)
                    return
                features = read.features
                if read.unlabelled is not None and features.device_id:
                    await asyncio.to_thread(self._label, entry, read.unlabelled, features.device_id)
                entry.features = features
                if read.over_thp and features.device_id:
                    entry.pairing.read_paired(features.device_id, features)
                self._gone_delays.pop(path, None)
                self._publish(path, entry, self._classify(features, path, remember=True))
                return
        finally:
            if asyncio.current_task() is entry.reader:
                entry.reader = None
                if entry.released_while_reading and self._entries.get(path) is entry:
                    entry.released_while_reading = False
                    self.node_released(path)

    async def _forget_wiped(self, entry: _Entry) -> None:
        """A Safe 7 read paired on this node answered "not paired", with no unplug between:
        it was wiped, and the pairing of the id it had is dead (docs/security.md)."""
        wiped = entry.pairing.wiped()
        if wiped is None or self._forget_pairing is None:
            return
        try:
            removed = await asyncio.to_thread(self._forget_pairing, wiped)
        except SecretServiceUnavailable as error:
            LOG.warning(
                "Trezor %s no longer knows this computer, but its dead pairing could "
                "not be removed from the keyring: %s",
                wiped,
                error,
            )
            return
        if removed:
            LOG.info(
                "Trezor %s no longer knows this computer (wiped): its dead pairing was "
                "removed from the keyring",
                wiped,
            )

    async def _rescan_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.request_rescan()

    @contextmanager
    def _device_access(self, path: str, entry: _Entry) -> Iterator[None]:
        """Hold the device for ourselves (worker thread): no other read or operation of ours
        meanwhile, and our own open and close do not count as another app letting go."""
        own = nullcontext() if self._node_watch is None else self._node_watch.own_access(path)
        with entry.slot.lock, own:
            yield

    def _label(self, entry: _Entry, pairing: Pairing, device_id: str) -> None:
        """Keep the pairing a read connected with under the device id the Trezor reported
        (worker thread), before that read is published: a ForgetPairing, which waits for the
        device lock, then finds it under that id, and is not undone by it."""
        with entry.slot.lock:
            self._io.label_pairing(pairing, device_id)

    def _remove_refused(self, entry: _Entry, trezor_pubkey: bytes) -> None:
        """Remove the pairing the Trezor refused in a read (worker thread), before that read
        is published."""
        with entry.slot.lock:
            self._io.remove_refused_pairing(trezor_pubkey)

    def _locked_read(self, path: str, entry: _Entry, after_release: bool) -> StatusRead | None:
        """A status read (worker thread) that waits for, and excludes, an operation; None
        without touching the device when `after_release` and another program opened or
        closed it since it let go (trezorlib programs list the devices, opening each, some
        milliseconds before they claim one: a read starting now would be in the way)."""
        with self._device_access(path, entry):
            watch = self._node_watch
            if after_release and watch is not None and not watch.untouched_since_release(path):
                LOG.debug("Another program took %s again; not reading it", path)
                return None
            return self._io.read_status(entry.transport)

    def _publish_unreadable(self, path: str, entry: _Entry, error: FeaturesReadError) -> None:
        entry.features = None
        if error.problem is ReadProblem.LOCKED_THP:
            # The Trezor read paired on this node, locked since: what it would say locked.
            entry.features = entry.pairing.locked_features()
            if entry.features is not None:
                self._publish(path, entry, self._classify(entry.features, path))
                return
        if error.problem is ReadProblem.KEYRING_UNAVAILABLE:
            status = status_without_keyring(error.explanation_text)
        else:
            state = _STATE_OF_PROBLEM.get(error.problem)
            if state is None:
                state = BackupState.BUSY if error.transient else BackupState.UNKNOWN
            status = status_without_features(state, error.explanation_text)
        self._publish(path, entry, entry.pairing.shown(status))

    def _device_id(self, features: messages.Features | None, path: str) -> str:
        device_id = features.device_id if features is not None else None
        if not device_id or not is_trezor_device_id(device_id):
            return fallback_id(path)
        clash = any(
            other is not None and other.id == device_id and other_path != path
            for other_path, other in ((p, e.published) for p, e in self._entries.items())
        )
        return fallback_id(path) if clash else device_id

    def _classify(
        self, features: messages.Features, path: str, remember: bool = False
    ) -> DeviceStatus:
        """The status of a read; `remember` keeps complete backup facts for locked reads."""
        device_id = self._device_id(features, path)
        now = self._clock()
        verdict = remembered = None
        if self._history is not None and not device_id.startswith("at_"):
            try:
                facts = backup_facts(features, now)
                if facts is None:
                    remembered = self._history.remembered_facts(device_id)
                elif remember:
                    self._history.remember_facts(device_id, facts)
                verdict = self._history.last_check_verdict(device_id)
            except HistoryUnavailable as error:
                LOG.error("Cannot use the history of Trezor %s: %s", device_id, error)
        return status_from_features(
            features, verdict, now, self._config.recheck_interval, remembered
        )

    def _publish(self, path: str, entry: _Entry, status: DeviceStatus) -> None:
        device_id = self._device_id(entry.features or entry.pairing.known, path)
        device = TrackedDevice(device_id, path, status, entry.slot.kind)
        previous = entry.published
        if previous == device:
            entry.read_once.set()
            return
        entry.published = device
        entry.read_once.set()
        if previous is not None and previous.id == device.id:
            LOG.info("Trezor %s is now %s", device.id, status.state)
            self._listener.device_changed(device)
        else:
            if previous is None:
                LOG.info("Trezor %s (%s) connected: %s", device.id, status.model, status.state)
            else:
                self._listener.device_removed(previous)
            replugged = self._departed.pop(device.id, None)
            if replugged is not None and replugged.published is not None:
                # Back before its old operation ended: the old object goes first.
                self._listener.device_removed(replugged.published)
            self._listener.device_added(device)
        self._schedule_due_timer()

    # ---- time ----------------------------------------------------------------------------

    def _schedule_due_timer(self) -> None:
        """Wake up when the first verified device becomes due for a re-check."""
        if self._due_timer is not None:
            self._due_timer.cancel()
            self._due_timer = None
        deadlines = [
            entry.published.status.last_check.when + self._config.recheck_interval
            for entry in self._entries.values()
            if entry.published is not None
            and entry.published.status.state is BackupState.VERIFIED
            and entry.published.status.last_check is not None
        ]
        if not deadlines:
            return
        delay = max(0.0, (min(deadlines) - self._clock()).total_seconds()) + 1.0
        delay = min(delay, MAX_TIMER_SECONDS)
        loop = asyncio.get_running_loop()
        self._due_timer = loop.call_later(delay, self.reclassify)

    def reclassify(self) -> None:
        """Recompute every status from cached Features and history, with no device I/O."""
        for path, entry in self._entries.items():
            if entry.features is not None and entry.published is not None:
                status = self._classify(entry.features, path)
                self._publish(path, entry, status)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task
