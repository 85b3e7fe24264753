"""The D-Bus face of the daemon: io.github.TrezorBackupGuard on the session bus.

A thin layer over DeviceTracker: it turns tracked devices into objects with properties and
signals, and method calls into tracker queries. It knows nothing of USB or trezorlib; the
contract it implements is written down in docs/dbus-api.md and in the shipped introspection
XML, which a test keeps equal to what is exported here.
"""

from typing import Annotated, Any, Protocol

from dbus_fast import DBusError, ErrorType, Message, MessageType, PropertyAccess, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt64,
)
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from trezor_backup_api import __version__
from trezor_backup_api.i18n import N_, Sentence, paragraph_english
from trezor_backup_api.names import (
    DEVICE_INTERFACE,
    HISTORY_UNAVAILABLE_ERROR,
    MANAGER_INTERFACE,
    MAX_DEVICE_ID_LENGTH,
    PERMISSION_DENIED_ERROR,
    PROPERTY_SIGNATURES,
    ROOT_PATH,
    device_path,
    error_name,
    is_device_id,
)
from trezor_backup_api.vocabulary import OperationKind, Refusal

from ..device_values import (
    OperationRefused,
    OperationResult,
    Paragraph,
    Progress,
    TrackedDevice,
)
from ..store.history import HistoryEvent, HistoryUnavailable
from ..store.known_devices import KNOWN_SIGNATURES, KnownDevices
from .agents import AgentRegistry, current_caller

DeviceDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
StageAndMessage = Annotated[list[str], DBusSignature("ss")]
FinishedSignal = Annotated[list[str], DBusSignature("sss")]
StageAndText = Annotated[list[Any], DBusSignature("sa(ssa{ss})")]
FinishedText = Annotated[list[Any], DBusSignature("ssa(ssa{ss})")]
DeviceDictList = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]
BusParagraph = list[tuple[str, str, dict[str, str]]]
DBusParagraph = Annotated[BusParagraph, DBusSignature("a(ssa{ss})")]


def on_bus(text: Paragraph) -> BusParagraph:
    """Sentences as the `a(ssa{ss})` value clients translate (docs/dbus-api.md, Languages)."""
    return [sentence.to_bus() for sentence in text]


class SentencedError(DBusError):
    """A D-Bus error whose message is for the owner: its English is the first body argument,
    as in any D-Bus error, and the sentences follow as a second one, `a(ssa{ss})`, for a
    client to show in its owner's language (docs/dbus-api.md, Languages).

    dbus-fast turns a DBusError raised by a method into the reply with `_as_message`, for
    sync and async methods alike (send_reply.SendReply), and gives a one-argument body;
    this is the one place that adds the second.
    """

    def __init__(self, name: str, *text: Sentence) -> None:
        super().__init__(name, paragraph_english(text))
        self.sentences: Paragraph = text

    def _as_message(self, msg: Message) -> Message:
        return Message(
            message_type=MessageType.ERROR,
            reply_serial=msg.serial,
            destination=msg.sender,
            error_name=self.type,
            signature="sa(ssa{ss})",
            body=[self.text, on_bus(self.sentences)],
        )


def device_property_values(device: TrackedDevice) -> dict[str, Any]:
    """The Device1 property values of a tracked device, as plain Python values."""
    status = device.status
    last_check = status.last_check
    return {
        "Id": device.id,
        "State": status.state.value,
        "Explanation": status.explanation,
        "NextStep": status.next_step,
        "ExplanationText": on_bus(status.explanation_text),
        "NextStepText": on_bus(status.next_step_text),
        "Model": status.model,
        "InternalModel": status.internal_model,
        "Label": status.label,
        "FirmwareVersion": status.firmware_version,
        "BackupType": status.backup_type,
        "DryRunInProgress": status.dry_run_in_progress,
        "Locked": status.locked,
        "StateReadTime": (
            int(status.facts.read_at.timestamp())
            if status.facts_from_earlier_read and status.facts
            else 0
        ),
        "LastCheckTime": int(last_check.when.timestamp()) if last_check else 0,
        "LastCheckResult": last_check.result.value if last_check else "",
        "Transport": device.transport_path,
        "Operation": device.operation,
    }


def device_dict(device: TrackedDevice) -> dict[str, Variant]:
    """A device as GetDevices returns it: the properties as an a{sv} dictionary."""
    return {
        name: Variant(PROPERTY_SIGNATURES[name], value)
        for name, value in device_property_values(device).items()
    }


class OperationControl(Protocol):
    """What the bus asks of the operations (operations.OperationManager)."""

    def start(
        self, device_id: str, kind: OperationKind, word_count: int | None, caller: str | None
    ) -> None: ...

    def cancel(self, device_id: str) -> None: ...


class PairingControl(Protocol):
    """Forgets a connected Safe 7's pairing (device_tracker.DeviceTracker)."""

    async def forget_pairing(self, device_id: str) -> None: ...


def _named_error(refusal: OperationRefused) -> SentencedError:
    return SentencedError(error_name(refusal.reason), *refusal.text)


class OperationGate:
    """Who may start and cancel operations and forget pairings, and how refusals become
    named errors."""

    def __init__(
        self, operations: OperationControl, agents: AgentRegistry, pairings: PairingControl
    ) -> None:
        self.operations = operations
        self.agents = agents
        self.pairings = pairings

    async def start(self, device_id: str, kind: OperationKind, word_count: int | None) -> None:
        caller = current_caller.get()
        await self.require_own_user(caller)
        try:
            self.operations.start(device_id, kind, word_count, caller)
        except OperationRefused as refusal:
            raise _named_error(refusal) from None

    async def cancel(self, device_id: str) -> None:
        await self.require_own_user(current_caller.get())
        try:
            self.operations.cancel(device_id)
        except OperationRefused as refusal:
            raise _named_error(refusal) from None

    async def forget_pairing(self, device_id: str) -> None:
        await self.require_own_user(current_caller.get())
        try:
            await self.pairings.forget_pairing(device_id)
        except OperationRefused as refusal:
            raise _named_error(refusal) from None

    async def require_own_user(self, caller: str | None) -> None:
        if not await self.agents.caller_is_own_user(caller):
            raise SentencedError(
                PERMISSION_DENIED_ERROR,
                Sentence(N_("Only the user running trezor-backupd may do this.")),
            )


def _word_count_option(options: dict[str, Variant]) -> int | None:
    """StartCheck's options: only word_count (u), 12, 18 or 24."""
    unknown = sorted(set(options) - {"word_count"})
    if unknown:
        raise DBusError(
            ErrorType.INVALID_ARGS,
            f"unknown option {unknown[0]!r}: StartCheck takes only word_count (u)",
        )
    if "word_count" not in options:
        return None
    value = options["word_count"]
    if value.signature not in ("u", "q", "i", "y", "t", "x", "n") or value.value not in (
        12,
        18,
        24,
    ):
        raise DBusError(
            ErrorType.INVALID_ARGS, "word_count must be an unsigned integer: 12, 18 or 24"
        )
    return int(value.value)


class DeviceObject(ServiceInterface):
    """io.github.TrezorBackupGuard.Device1 for one connected Trezor."""

    def __init__(self, device: TrackedDevice, gate: OperationGate) -> None:
        super().__init__(DEVICE_INTERFACE)
        self._values = device_property_values(device)
        self._id = device.id
        self._gate = gate

    def update(self, device: TrackedDevice) -> None:
        """Take the device's new status and announce the properties that changed."""
        values = device_property_values(device)
        changed = {name: value for name, value in values.items() if self._values[name] != value}
        self._values = values
        if changed:
            self.emit_properties_changed(changed)

    @dbus_property(access=PropertyAccess.READ)
    def Id(self) -> DBusStr:
        return str(self._values["Id"])

    @dbus_property(access=PropertyAccess.READ)
    def State(self) -> DBusStr:
        return str(self._values["State"])

    @dbus_property(access=PropertyAccess.READ)
    def Explanation(self) -> DBusStr:
        return str(self._values["Explanation"])

    @dbus_property(access=PropertyAccess.READ)
    def NextStep(self) -> DBusStr:
        return str(self._values["NextStep"])

    @dbus_property(access=PropertyAccess.READ)
    def ExplanationText(self) -> DBusParagraph:
        return list(self._values["ExplanationText"])

    @dbus_property(access=PropertyAccess.READ)
    def NextStepText(self) -> DBusParagraph:
        return list(self._values["NextStepText"])

    @dbus_property(access=PropertyAccess.READ)
    def Model(self) -> DBusStr:
        return str(self._values["Model"])

    @dbus_property(access=PropertyAccess.READ)
    def InternalModel(self) -> DBusStr:
        return str(self._values["InternalModel"])

    @dbus_property(access=PropertyAccess.READ)
    def Label(self) -> DBusStr:
        return str(self._values["Label"])

    @dbus_property(access=PropertyAccess.READ)
    def FirmwareVersion(self) -> DBusStr:
        return str(self._values["FirmwareVersion"])

    @dbus_property(access=PropertyAccess.READ)
    def BackupType(self) -> DBusStr:
        return str(self._values["BackupType"])

    @dbus_property(access=PropertyAccess.READ)
    def DryRunInProgress(self) -> DBusBool:
        return bool(self._values["DryRunInProgress"])

    @dbus_property(access=PropertyAccess.READ)
    def Locked(self) -> DBusBool:
        return bool(self._values["Locked"])

    @dbus_property(access=PropertyAccess.READ)
    def StateReadTime(self) -> DBusUInt64:
        return int(self._values["StateReadTime"])

    @dbus_property(access=PropertyAccess.READ)
    def LastCheckTime(self) -> DBusUInt64:
        return int(self._values["LastCheckTime"])

    @dbus_property(access=PropertyAccess.READ)
    def LastCheckResult(self) -> DBusStr:
        return str(self._values["LastCheckResult"])

    @dbus_property(access=PropertyAccess.READ)
    def Transport(self) -> DBusStr:
        return str(self._values["Transport"])

    @dbus_property(access=PropertyAccess.READ)
    def Operation(self) -> DBusStr:
        return str(self._values["Operation"])

    @dbus_method()
    async def StartCheck(self, options: DeviceDict) -> None:
        await self._gate.start(self._id, OperationKind.CHECK, _word_count_option(options))

    @dbus_method()
    async def StartBackup(self, options: DeviceDict) -> None:
        if options:
            raise DBusError(
                ErrorType.INVALID_ARGS,
                f"unknown option {sorted(options)[0]!r}: StartBackup takes no options",
            )
        await self._gate.start(self._id, OperationKind.BACKUP, None)

    @dbus_method()
    async def Unlock(self) -> None:
        await self._gate.start(self._id, OperationKind.UNLOCK, None)

    @dbus_method()
    async def Pair(self) -> None:
        await self._gate.start(self._id, OperationKind.PAIR, None)

    @dbus_method()
    async def ForgetPairing(self) -> None:
        await self._gate.forget_pairing(self._id)

    @dbus_method()
    async def Cancel(self) -> None:
        await self._gate.cancel(self._id)

    def operation_progress(self, progress: Progress) -> None:
        """Say a step: its sentences first, then the English, which a client may wait for."""
        self.OperationProgressText(progress)
        self.OperationProgress(progress)

    def operation_finished(self, kind: str, result: OperationResult) -> None:
        """Say how an operation ended: its sentences first, then the English, on which a
        client may stop listening."""
        self.OperationFinishedText(kind, result)
        self.OperationFinished(kind, result)

    @dbus_signal()
    def OperationProgress(self, progress: Progress) -> StageAndMessage:
        return [progress.stage.value, progress.message]

    @dbus_signal()
    def OperationProgressText(self, progress: Progress) -> StageAndText:
        return [progress.stage.value, on_bus((progress.text,))]

    @dbus_signal()
    def OperationFinished(self, kind: str, result: OperationResult) -> FinishedSignal:
        return [kind, result.outcome.value, result.message]

    @dbus_signal()
    def OperationFinishedText(self, kind: str, result: OperationResult) -> FinishedText:
        return [kind, result.outcome.value, on_bus(result.text)]


def _check_device_id(device_id: str) -> None:
    if not is_device_id(device_id):
        raise DBusError(
            ErrorType.INVALID_ARGS,
            f"device id must be 1 to {MAX_DEVICE_ID_LENGTH} letters, digits or underscores, "
            "as in the Id property; see GetDevices",
        )


class DeviceDirectory(Protocol):
    """What the manager object serves: the tracker, seen from the bus."""

    def devices(self) -> list[TrackedDevice]: ...

    async def refresh(self) -> None: ...


class HistorySource(Protocol):
    problem: str

    def events(self, device_id: str) -> list[HistoryEvent]: ...


class ConfigSource(Protocol):
    """The config file as the daemon applies it (config_watch.ConfigWatch)."""

    digest: str
    problem: str


class ManagerObject(ServiceInterface):
    """io.github.TrezorBackupGuard.Manager1: the device list, for the applet, CLI and scripts."""

    def __init__(
        self,
        directory: DeviceDirectory,
        history: HistorySource | None,
        gate: OperationGate,
        history_problem: str,
        known: KnownDevices | None = None,
        config: ConfigSource | None = None,
    ) -> None:
        """`history_problem`: why there is no history store (when `history` is None)."""
        super().__init__(MANAGER_INTERFACE)
        self._directory = directory
        self._history = history
        self._gate = gate
        self._history_problem = history_problem
        self._known = known
        self._config = config

    def config_changed(self) -> None:
        """The config file was applied or refused: tell the clients that follow it."""
        self.emit_properties_changed(
            {"ConfigDigest": self.ConfigDigest, "ConfigProblem": self.ConfigProblem}
        )

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> DBusStr:
        return __version__

    @dbus_property(access=PropertyAccess.READ)
    def HistoryAvailable(self) -> DBusBool:
        return not self._current_history_problem()

    @dbus_property(access=PropertyAccess.READ)
    def HistoryProblem(self) -> DBusStr:
        return self._current_history_problem()

    @dbus_property(access=PropertyAccess.READ)
    def ConfigDigest(self) -> DBusStr:
        return self._config.digest if self._config is not None else ""

    @dbus_property(access=PropertyAccess.READ)
    def ConfigProblem(self) -> DBusStr:
        return self._config.problem if self._config is not None else ""

    def _current_history_problem(self) -> str:
        """Why checks and backups cannot be remembered now; "" when they can."""
        return self._history.problem if self._history is not None else self._history_problem

    @dbus_method()
    def GetDevices(self) -> DeviceDictList:
        return [device_dict(device) for device in self._directory.devices()]

    @dbus_method()
    def GetDevice(self, device_id: DBusStr) -> DeviceDict:
        _check_device_id(device_id)
        for device in self._directory.devices():
            if device.id == device_id:
                return device_dict(device)
        raise SentencedError(
            error_name(Refusal.NO_SUCH_DEVICE),
            Sentence(N_("no Trezor with id {device_id} is connected"), {"device_id": device_id}),
        )

    @dbus_method()
    async def Refresh(self) -> None:
        await self._directory.refresh()

    @dbus_method()
    def GetKnownDevices(self) -> DeviceDictList:
        if self._known is None:
            return []
        try:
            listed = self._known.listed(device.id for device in self._directory.devices())
        except HistoryUnavailable as error:
            raise DBusError(HISTORY_UNAVAILABLE_ERROR, str(error)) from None
        return [
            {name: Variant(KNOWN_SIGNATURES[name], value) for name, value in known.items()}
            for known in listed
        ]

    @dbus_method()
    async def ForgetDevice(self, device_id: DBusStr) -> None:
        _check_device_id(device_id)
        if any(device.id == device_id for device in self._directory.devices()):
            raise SentencedError(
                error_name(Refusal.NOT_POSSIBLE),
                Sentence(N_("this Trezor is connected: unplug it first")),
            )
        await self._gate.require_own_user(current_caller.get())  # it removes a pairing too
        try:
            forgotten = self._known is not None and await self._known.forget(device_id)
        except HistoryUnavailable as error:
            raise DBusError(HISTORY_UNAVAILABLE_ERROR, str(error)) from None
        except OperationRefused as refusal:
            raise _named_error(refusal) from None
        if not forgotten:
            raise SentencedError(
                error_name(Refusal.NO_SUCH_DEVICE),
                Sentence(
                    N_("no Trezor with id {device_id} is remembered"), {"device_id": device_id}
                ),
            )

    @dbus_method()
    def GetHistory(self, device_id: DBusStr) -> DeviceDictList:
        _check_device_id(device_id)
        if self._history is None:
            raise DBusError(
                HISTORY_UNAVAILABLE_ERROR,
                "the daemon runs without history: its state directory cannot be used (see its log)",
            )
        try:
            events = self._history.events(device_id)
        except HistoryUnavailable as error:
            raise DBusError(HISTORY_UNAVAILABLE_ERROR, str(error)) from None
        return [
            {
                "Kind": Variant("s", event.kind.value),
                "Result": Variant("s", event.result),
                "Time": Variant("t", int(event.when.timestamp())),
                "Detail": Variant("s", event.detail),
            }
            for event in events
        ]

    @dbus_method()
    async def RegisterAgent(self, path: DBusObjectPath) -> None:
        caller = current_caller.get()
        await self._gate.require_own_user(caller)
        assert caller is not None
        self._gate.agents.register(caller, path)

    @dbus_method()
    def UnregisterAgent(self, path: DBusObjectPath) -> None:
        caller = current_caller.get()
        if caller is None or not self._gate.agents.unregister(caller, path):
            raise SentencedError(
                error_name(Refusal.NO_AGENT),
                Sentence(N_("no agent of yours is registered at {path}"), {"path": path}),
            )

    @dbus_signal()
    def DeviceAdded(self, path: str) -> DBusObjectPath:
        return path

    @dbus_signal()
    def DeviceRemoved(self, path: str) -> DBusObjectPath:
        return path


class BusPublisher:
    """Mirrors the tracker's device set onto the bus (a DeviceListener)."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._manager: ManagerObject | None = None
        self._gate: OperationGate | None = None
        self._objects: dict[str, DeviceObject] = {}

    def export_manager(self, manager: ManagerObject, gate: OperationGate) -> None:
        """Export the root object; device objects are announced through its signals."""
        self._bus.export(ROOT_PATH, manager)
        self._manager = manager
        self._gate = gate

    def device_added(self, device: TrackedDevice) -> None:
        path = device_path(device.id)
        assert self._gate is not None, "export_manager() comes first"
        interface = DeviceObject(device, self._gate)
        self._objects[device.id] = interface
        self._bus.export(path, interface)
        if self._manager is not None:
            self._manager.DeviceAdded(path)

    def device_changed(self, device: TrackedDevice) -> None:
        self._objects[device.id].update(device)

    def device_removed(self, device: TrackedDevice) -> None:
        """The device is gone; one unplugged mid-operation is removed by the tracker only
        after OperationFinished (disconnected) was said on its object."""
        self._unexport(device.id)

    def _unexport(self, device_id: str) -> None:
        if self._objects.pop(device_id, None) is not None:
            path = device_path(device_id)
            self._bus.unexport(path)
            if self._manager is not None:
                self._manager.DeviceRemoved(path)

    def operation_progress(self, device_id: str, progress: Progress) -> None:
        if (interface := self._objects.get(device_id)) is not None:
            interface.operation_progress(progress)

    def operation_finished(self, device_id: str, kind: str, result: OperationResult) -> None:
        if (interface := self._objects.get(device_id)) is not None:
            interface.operation_finished(kind, result)
