"""The daemon as its clients see it: method calls, their errors, and signals as typed events.

This is the one place that builds a D-Bus call: `call` sends it, bounds it in time and turns
every failure into a `BusCallError`. `DaemonClient` maps those for the clients to two
exceptions a program can act on: `DaemonUnreachable` (there is no daemon to talk to) and
`DaemonError` (the daemon answered with an error, by name). The daemon's own calls to agents
use `call` too and keep only the error's name.

The client also remembers which operations it started, on which device and answered by which
daemon connection, until their `OperationFinished`: the agent (`agent.AgentExport`) answers
only for those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # dbus-fast is imported where a call is made, not here: importing it loads asyncio, ssl
    # and its service machinery (about 40 ms, 13 MiB), which a client that imports this
    # module for its types and never calls (the CLI's parser) does without.
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

from .daemon_errors import (
    CALL_TIMEOUT_SECONDS,
    DISCONNECTED_ERROR,
    TIMEOUT_ERROR,
    BusCallError,
    DaemonError,
    DaemonUnreachable,
    daemon_failure,
    session_bus_address,
)
from .device import DeviceRecord, plain
from .i18n import Sentence, paragraph_translated, sentences_from_bus
from .names import (
    BUS_NAME,
    DBUS_NAME,
    DBUS_PATH,
    DEVICE_INTERFACE,
    DEVICES_PATH,
    MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
    ROOT_PATH,
)
from .vocabulary import OperationKind


async def call(
    bus: MessageBus,
    destination: str,
    path: str,
    interface: str,
    member: str,
    signature: str = "",
    body: list[Any] | None = None,
    *,
    timeout: float | None = CALL_TIMEOUT_SECONDS,
    autostart: bool = True,
) -> Message:
    """Call a method and return its reply; any failure is a BusCallError.

    `autostart=False` (NO_AUTO_START) for calls that only make sense to a daemon already
    running: they must not start a new daemon the user has just stopped.
    """
    import asyncio

    from dbus_fast import DBusFastError, Message, MessageFlag, MessageType

    msg = Message(
        destination=destination,
        path=path,
        interface=interface,
        member=member,
        signature=signature,
        body=body or [],
        flags=MessageFlag.NONE if autostart else MessageFlag.NO_AUTOSTART,
    )
    try:
        async with asyncio.timeout(timeout):
            reply = await bus.call(msg)
    except TimeoutError:
        raise BusCallError(member, TIMEOUT_ERROR, f"no reply within {timeout:g} s") from None
    except (OSError, EOFError, DBusFastError) as error:
        raise BusCallError(member, DISCONNECTED_ERROR, f"lost the bus: {error}") from None
    if reply is None:
        raise BusCallError(member, DISCONNECTED_ERROR, "lost the bus")
    if reply.message_type is MessageType.ERROR:
        text = str(reply.body[0]) if reply.body else ""
        sentences = sentences_from_bus(reply.body[1]) if len(reply.body) > 1 else ()
        raise BusCallError(member, reply.error_name or "unknown", text, sentences)
    return reply


async def bus_call(bus: MessageBus, member: str, body: list[Any], **options: Any) -> Any:
    """A call to the bus itself (org.freedesktop.DBus) with `s` arguments; its first value."""
    reply = await call(
        bus, DBUS_NAME, DBUS_PATH, DBUS_NAME, member, "s" * len(body), body, **options
    )
    return reply.body[0] if reply.body else None


async def connect_session_bus(timeout: float = CALL_TIMEOUT_SECONDS) -> MessageBus:
    """A connection to the session bus, or DaemonUnreachable saying why there is none."""
    import asyncio

    from dbus_fast import DBusFastError
    from dbus_fast.aio import MessageBus

    address = session_bus_address()
    try:
        async with asyncio.timeout(timeout):
            return await MessageBus(bus_address=address).connect()
    except TimeoutError:
        raise DaemonUnreachable(
            f"the session bus at {address} did not answer within {timeout:g} s"
        ) from None
    except (OSError, EOFError, DBusFastError) as error:
        reason = str(error) or type(error).__name__
        raise DaemonUnreachable(f"no session bus at {address}: {reason}") from None


@dataclass(frozen=True)
class DeviceAdded:
    """`Manager1.DeviceAdded`: a device object appeared."""

    path: str


@dataclass(frozen=True)
class DeviceRemoved:
    """`Manager1.DeviceRemoved`: a device object disappeared."""

    path: str


@dataclass(frozen=True)
class DevicePropertiesChanged:
    """`PropertiesChanged` of a `Device1` object, values unwrapped."""

    path: str
    changed: dict[str, Any]
    invalidated: list[str]


@dataclass(frozen=True)
class DaemonOwnerChanged:
    """`NameOwnerChanged` of BUS_NAME: the daemon left (`old_owner`) and/or came (`new_owner`).

    Unique names, empty for "nobody"; both are set when one daemon replaced another.
    """

    old_owner: str
    new_owner: str


@dataclass(frozen=True)
class OperationProgress:
    """`Device1.OperationProgress`: a step (a `vocabulary.Stage` value) of the operation.
    `message` is English; `text` the same as sentences (from `OperationProgressText`)."""

    path: str
    stage: str
    message: str
    text: tuple[Sentence, ...] = ()

    def message_for_owner(self) -> str:
        """The message in the owner's language (English from a daemon without sentences)."""
        return paragraph_translated(self.text) or self.message


@dataclass(frozen=True)
class OperationFinished:
    """`Device1.OperationFinished`: the operation (`OperationKind`) ended with `result`
    (an `Outcome` value)."""

    path: str
    kind: str
    result: str
    message: str
    text: tuple[Sentence, ...] = ()

    def message_for_owner(self) -> str:
        """The message in the owner's language (English from a daemon without sentences)."""
        return paragraph_translated(self.text) or self.message


@dataclass(frozen=True)
class OperationText:
    """`OperationProgressText` or `OperationFinishedText`: the sentences of the
    `OperationProgress` or `OperationFinished` the daemon sends next on the same path. The
    subscriptions attach them to that event and deliver no event of this kind."""

    path: str
    text: tuple[Sentence, ...]
    precedes: str
    """The member of the signal these sentences belong to (`OperationProgress`, ...)."""


BusEvent = (
    DeviceAdded
    | DeviceRemoved
    | DevicePropertiesChanged
    | DaemonOwnerChanged
    | OperationProgress
    | OperationFinished
)

# The sender is the well-known name: dbus-daemon matches it against the name's owner at
# delivery time, so the rules keep working across a daemon restart.
_OWNER_RULE = (
    f"type='signal',sender='{DBUS_NAME}',interface='{DBUS_NAME}',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'"
)
_DEVICE_RULES = (
    f"type='signal',sender='{BUS_NAME}',path='{ROOT_PATH}',interface='{MANAGER_INTERFACE}'",
    f"type='signal',sender='{BUS_NAME}',path_namespace='{DEVICES_PATH}'",
    _OWNER_RULE,
)


def _start_call(kind: OperationKind, word_count: int | None) -> tuple[str, str, list[Any]]:
    """The `Device1` method that starts `kind`: its member, signature and body."""
    if kind is OperationKind.CHECK:
        from dbus_fast import Variant

        options = {} if word_count is None else {"word_count": Variant("u", word_count)}
        return "StartCheck", "a{sv}", [options]
    if kind is OperationKind.BACKUP:
        return "StartBackup", "a{sv}", [{}]
    if kind is OperationKind.UNLOCK:
        return "Unlock", "", []
    return "Pair", "", []


def _operation_rule(path: str) -> str:
    return f"type='signal',sender='{BUS_NAME}',path='{path}',interface='{DEVICE_INTERFACE}'"


def event_of(msg: Message) -> BusEvent | OperationText | None:
    """The event a signal of the daemon (or the bus, about the daemon) stands for; else None."""
    from dbus_fast import MessageType

    if msg.message_type is not MessageType.SIGNAL:
        return None
    path = msg.path or ""
    if msg.interface == MANAGER_INTERFACE and path == ROOT_PATH and msg.signature == "o":
        if msg.member == "DeviceAdded":
            return DeviceAdded(msg.body[0])
        if msg.member == "DeviceRemoved":
            return DeviceRemoved(msg.body[0])
    elif not path.startswith(f"{DEVICES_PATH}/"):
        if (
            msg.sender == DBUS_NAME
            and msg.member == "NameOwnerChanged"
            and msg.signature == "sss"
            and msg.body[0] == BUS_NAME
        ):
            return DaemonOwnerChanged(msg.body[1], msg.body[2])
    elif (
        msg.interface == PROPERTIES_INTERFACE
        and msg.member == "PropertiesChanged"
        and msg.signature == "sa{sv}as"
        and msg.body[0] == DEVICE_INTERFACE
    ):
        return DevicePropertiesChanged(path, plain(msg.body[1]), list(msg.body[2]))
    elif msg.interface == DEVICE_INTERFACE:
        if msg.member == "OperationProgressText" and msg.signature == "sa(ssa{ss})":
            return OperationText(path, sentences_from_bus(msg.body[1]), "OperationProgress")
        if msg.member == "OperationFinishedText" and msg.signature == "ssa(ssa{ss})":
            return OperationText(path, sentences_from_bus(msg.body[2]), "OperationFinished")
        if msg.member == "OperationProgress" and msg.signature == "ss":
            return OperationProgress(path, *msg.body)
        if msg.member == "OperationFinished" and msg.signature == "sss":
            return OperationFinished(path, *msg.body)
    return None


class DaemonClient:
    """A session bus connection used to talk to trezor-backupd; one asyncio loop."""

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus
        self._started: dict[str, str] = {}
        """Device path -> unique name of the daemon that runs the operation started here."""
        self._operation_rules: set[str] = set()
        bus.add_message_handler(self._forget_finished)

    @classmethod
    @asynccontextmanager
    async def connect(cls) -> AsyncIterator[DaemonClient]:
        """Connect to the session bus; the daemon itself is only contacted by the calls."""
        bus = await connect_session_bus()
        try:
            yield cls(bus)
        finally:
            bus.disconnect()

    async def _call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        body: list[Any] | None = None,
        *,
        autostart: bool = True,
    ) -> Message:
        try:
            return await call(
                self.bus, BUS_NAME, path, interface, member, signature, body, autostart=autostart
            )
        except BusCallError as error:
            raise daemon_failure(error) from None

    async def _bus_call(self, member: str, body: list[Any]) -> Any:
        try:
            return await bus_call(self.bus, member, body)
        except BusCallError as error:
            raise daemon_failure(error) from None

    async def daemon_owner(self) -> str:
        """The unique name of the connection that owns BUS_NAME now; "" when none does."""
        try:
            return str(await self._bus_call("GetNameOwner", [BUS_NAME]))
        except (DaemonError, DaemonUnreachable):
            return ""

    async def get_devices(self) -> dict[str, DeviceRecord]:
        """`Manager1.GetDevices()`: every connected device, by object path.

        Sent without NO_AUTO_START, so the bus starts the daemon if it is activatable.
        """
        reply = await self._call(ROOT_PATH, MANAGER_INTERFACE, "GetDevices")
        records = (DeviceRecord.from_properties(properties) for properties in reply.body[0])
        return {record.path: record for record in records}

    async def get_device(self, path: str) -> DeviceRecord:
        """All `Device1` properties of the device object at `path` (NO_AUTO_START)."""
        reply = await self._call(
            path, PROPERTIES_INTERFACE, "GetAll", "s", [DEVICE_INTERFACE], autostart=False
        )
        return DeviceRecord.from_properties(reply.body[0])

    async def get_history(self, device_id: str) -> list[dict[str, Any]]:
        """`Manager1.GetHistory(id)`: the device's recorded checks and backups, oldest first,
        by key (`Kind`, `Result`, `Time`, `Detail`)."""
        reply = await self._call(ROOT_PATH, MANAGER_INTERFACE, "GetHistory", "s", [device_id])
        result: list[dict[str, Any]] = plain(reply.body[0])
        return result

    async def history_problem(self) -> str:
        """`Manager1.HistoryProblem` (NO_AUTO_START): why checks and backups are not being
        remembered now; "" when they are."""
        reply = await self._call(
            ROOT_PATH,
            PROPERTIES_INTERFACE,
            "Get",
            "ss",
            [MANAGER_INTERFACE, "HistoryProblem"],
            autostart=False,
        )
        return str(reply.body[0].value)

    async def refresh(self) -> None:
        """`Manager1.Refresh()`: read every connected device again, for changes made elsewhere."""
        await self._call(ROOT_PATH, MANAGER_INTERFACE, "Refresh")

    async def get_known_devices(self) -> list[dict[str, Any]]:
        """`Manager1.GetKnownDevices()`: every device the daemon has read, connected or not,
        as plain values by key (`Id`, `Label`, `LastSeen`, `CheckDueTime`, ...)."""
        reply = await self._call(ROOT_PATH, MANAGER_INTERFACE, "GetKnownDevices")
        known: list[dict[str, Any]] = plain(reply.body[0])
        return known

    async def forget_device(self, device_id: str) -> None:
        """`Manager1.ForgetDevice(id)`: drop an unplugged device's record and history."""
        await self._call(ROOT_PATH, MANAGER_INTERFACE, "ForgetDevice", "s", [device_id])

    async def register_agent(self, path: str) -> None:
        """`Manager1.RegisterAgent(path)`: the agent served at `path` (see agent.AgentExport)."""
        await self._call(ROOT_PATH, MANAGER_INTERFACE, "RegisterAgent", "o", [path])

    async def unregister_agent(self, path: str) -> None:
        """Withdraw the agent at `path` from the daemon; a daemon already gone is fine."""
        with suppress(DaemonError, DaemonUnreachable):
            await self._call(
                ROOT_PATH, MANAGER_INTERFACE, "UnregisterAgent", "o", [path], autostart=False
            )

    # -- operations ------------------------------------------------------------------------

    async def forget_pairing(self, path: str) -> None:
        """`Device1.ForgetPairing()`: the daemon drops its pairing with this Safe 7."""
        await self._call(path, DEVICE_INTERFACE, "ForgetPairing", autostart=False)

    async def cancel_operation(self, path: str) -> None:
        """`Device1.Cancel`: ask the daemon to cancel the operation running on the device."""
        await self._call(path, DEVICE_INTERFACE, "Cancel", autostart=False)

    async def start(self, path: str, kind: OperationKind, word_count: int | None = None) -> None:
        """Start `kind` on the device at `path` (`Device1.StartCheck`, `StartBackup`, `Unlock`
        or `Pair`); returns at once, the outcome comes as OperationFinished. `word_count` is a
        Model One check's (asked from the agent when left out).

        This client remembers that it started the operation, with which daemon: the daemon
        may ask the agent before its reply to the start arrives, so the entry is made first,
        with the name's owner of now (unique names are never reused on a bus).
        """
        member, signature, body = _start_call(kind, word_count)
        if path not in self._operation_rules:
            await self._bus_call("AddMatch", [_operation_rule(path)])
            self._operation_rules.add(path)
        self._started[path] = await self.daemon_owner()
        try:
            reply = await self._call(
                path, DEVICE_INTERFACE, member, signature, body, autostart=False
            )
        except BaseException:
            self._started.pop(path, None)
            raise
        if reply.sender:
            self._started[path] = reply.sender

    def started_by(self, path: str) -> str | None:
        """The daemon connection running the operation this client started on the device at
        `path`, until its OperationFinished; None when this client started none there."""
        return self._started.get(path)

    def _forget_finished(self, msg: Message) -> None:
        event = event_of(msg)
        if isinstance(event, OperationFinished) and self._started.get(event.path) == msg.sender:
            del self._started[event.path]
        elif isinstance(event, DaemonOwnerChanged) and event.old_owner:
            for path in [p for p, owner in self._started.items() if owner == event.old_owner]:
                del self._started[path]

    # -- signals ---------------------------------------------------------------------------

    async def subscribe(self, on_event: Callable[[BusEvent], None]) -> None:
        """Deliver the daemon's device signals and its coming and going to `on_event`.

        The handler runs in the order messages arrive, and a method reply is processed after
        every signal sent before it: subscribe first, then list, and no event is lost.
        """
        await self._subscribe(_DEVICE_RULES, lambda _event: True, on_event)

    async def subscribe_operation(self, path: str, on_event: Callable[[BusEvent], None]) -> None:
        """Deliver the operation signals of the device at `path`, and the daemon's leaving.

        Call it before starting the operation, so that no progress and no end is missed.
        """

        def wanted(event: BusEvent) -> bool:
            if isinstance(event, OperationProgress | OperationFinished):
                return event.path == path
            return isinstance(event, DaemonOwnerChanged)

        self._operation_rules.add(path)
        await self._subscribe((_operation_rule(path), _OWNER_RULE), wanted, on_event)

    async def _subscribe(
        self,
        rules: tuple[str, ...],
        wanted: Callable[[BusEvent], bool],
        on_event: Callable[[BusEvent], None],
    ) -> None:
        texts: dict[tuple[str | None, str, str], tuple[Sentence, ...]] = {}
        """(sender, path, member) -> the sentences of that signal, which comes next there."""

        def handle(msg: Message) -> None:
            event = event_of(msg)
            if isinstance(event, OperationText):
                texts[msg.sender, event.path, event.precedes] = event.text
                return
            if isinstance(event, OperationProgress | OperationFinished):
                key = (msg.sender, event.path, msg.member or "")
                event = dataclasses.replace(event, text=texts.pop(key, ()))
            if event is not None and wanted(event):
                on_event(event)

        self.bus.add_message_handler(handle)
        for rule in rules:
            await self._bus_call("AddMatch", [rule])

    async def wait_for_disconnect(self) -> None:
        """Return when the bus connection is gone (the session ended)."""
        try:
            await self.bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        except Exception:  # whatever the cause, the connection is gone all the same
            return
