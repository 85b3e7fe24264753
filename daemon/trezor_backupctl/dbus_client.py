"""The daemon as trezor-backupctl sees it: method calls and signals on the session bus.

This is the only module that knows dbus-fast. It turns the bus's failure modes into two
exceptions the CLI can map to exit codes: `DaemonUnreachable` (there is no daemon to talk to)
and `DaemonError` (the daemon answered with an error). It also serves the CLI's agent: any
object with the `Agent` methods is exported as io.github.TrezorBackupGuard.Agent1, so the
terminal prompts themselves know nothing of D-Bus.
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

from dbus_fast import DBusError, DBusFastError, Message, MessageFlag, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

from trezor_backupd.bus_names import (
    AGENT_INTERFACE,
    BUS_NAME,
    DEVICE_INTERFACE,
    DEVICES_PATH,
    MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
)
from trezor_backupd.bus_names import ROOT_PATH as MANAGER_PATH

# Where this connection serves its agent; one agent per CLI process, so a fixed path will do.
AGENT_PATH = f"{MANAGER_PATH}/ctl/agent"
AGENT_CANCELLED_ERROR = f"{BUS_NAME}.Agent.Error.Cancelled"

# dbus-fast waits for a reply forever; a hung daemon must not hang a script that calls us.
# Generous enough for D-Bus activation, which the bus itself gives 25 s.
CALL_TIMEOUT_SECONDS = 30.0

# Errors the bus (not the daemon) sends when nobody serves BUS_NAME, activation failed, or the
# daemon died or hung during the call: all mean "the daemon is not reachable".
_UNREACHABLE_ERRORS = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Timeout",
        "org.freedesktop.DBus.Error.TimedOut",
        "org.freedesktop.DBus.Error.Disconnected",
    }
)
_SPAWN_ERROR_PREFIX = "org.freedesktop.DBus.Error.Spawn."
# For calls that only make sense to the daemon already running (a device it announced, an
# agent registered with it): they must not start a new daemon the user has just stopped.
_NO_AUTOSTART = MessageFlag.NO_AUTOSTART

# Signals a `watch` needs. The sender is the well-known name: dbus-daemon matches it against the
# name's owner at delivery time, so the rules keep working across a daemon restart.
_MATCH_RULES = (
    f"type='signal',sender='{BUS_NAME}',path='{MANAGER_PATH}',interface='{MANAGER_INTERFACE}'",
    f"type='signal',sender='{BUS_NAME}',interface='{PROPERTIES_INTERFACE}',"
    f"member='PropertiesChanged',path_namespace='{DEVICES_PATH}',arg0='{DEVICE_INTERFACE}'",
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
)


class DaemonUnreachable(Exception):
    """No session bus, or trezor-backupd is not on it and could not be activated."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DaemonError(Exception):
    """The daemon (or the bus on its behalf) answered a call with a D-Bus error."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


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
    """`Device1.OperationProgress`: a step of the running check or backup."""

    path: str
    stage: str
    message: str


@dataclass(frozen=True)
class OperationFinished:
    """`Device1.OperationFinished`: the check or backup ended with `result`."""

    path: str
    kind: str
    result: str
    message: str


BusEvent = (
    DeviceAdded
    | DeviceRemoved
    | DevicePropertiesChanged
    | DaemonOwnerChanged
    | OperationProgress
    | OperationFinished
)


class AgentCancelled(Exception):
    """The agent has no answer (end of input, Ctrl-C, prompt closed): the operation must end.

    Its text goes to the daemon as the D-Bus error message, so it must never contain what the
    owner typed.
    """


class Agent(Protocol):
    """What the daemon may ask the host during an operation (docs/dbus-api.md, Agent1).

    `device` is the device's object path. The request methods raise AgentCancelled when there
    is no answer; `cancel` closes any prompt because the operation ended.
    """

    async def request_pin(self, device: str, kind: str) -> str: ...

    async def request_word(self, device: str, kind: str) -> str: ...

    async def request_word_count(self, device: str) -> int: ...

    def cancel(self, device: str) -> None: ...


class _AgentInterface(ServiceInterface):
    """Agent1 on the bus, delegating to an `Agent`; its answers go into the reply only."""

    def __init__(self, agent: Agent) -> None:
        super().__init__(AGENT_INTERFACE)
        self._agent = agent

    @dbus_method()
    async def RequestPin(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        try:
            return await self._agent.request_pin(device, kind)
        except AgentCancelled as error:
            raise DBusError(AGENT_CANCELLED_ERROR, str(error)) from None

    @dbus_method()
    async def RequestWord(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        try:
            return await self._agent.request_word(device, kind)
        except AgentCancelled as error:
            raise DBusError(AGENT_CANCELLED_ERROR, str(error)) from None

    @dbus_method()
    async def RequestWordCount(self, device: DBusObjectPath) -> DBusUInt32:
        try:
            return await self._agent.request_word_count(device)
        except AgentCancelled as error:
            raise DBusError(AGENT_CANCELLED_ERROR, str(error)) from None

    @dbus_method()
    def Cancel(self, device: DBusObjectPath) -> None:
        self._agent.cancel(device)


def _plain(value: Any) -> Any:
    """Unwrap variants at any depth, so callers see only ordinary Python values."""
    if isinstance(value, Variant):
        return _plain(value.value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def device_path(device_id: str) -> str:
    """The object path of a device; docs/dbus-api.md builds it from the `Id` property."""
    return f"{DEVICES_PATH}/{device_id}"


def session_bus_address() -> str:
    """The session bus address, found the way sd-bus and GDBus find it.

    dbus-fast alone only reads DBUS_SESSION_BUS_ADDRESS (or X11 autolaunch files); a systemd
    user session always has its bus at $XDG_RUNTIME_DIR/bus, e.g. in an ssh login.
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.exists(os.path.join(runtime_dir, "bus")):
        return f"unix:path={os.path.join(runtime_dir, 'bus')}"
    raise DaemonUnreachable("DBUS_SESSION_BUS_ADDRESS is not set and no $XDG_RUNTIME_DIR/bus")


def _signal_event(msg: Message) -> BusEvent | None:
    """The event a signal matched by _MATCH_RULES stands for; None for anything else."""
    if msg.message_type is not MessageType.SIGNAL:
        return None
    if msg.interface == MANAGER_INTERFACE and msg.path == MANAGER_PATH:
        if msg.member == "DeviceAdded":
            return DeviceAdded(msg.body[0])
        if msg.member == "DeviceRemoved":
            return DeviceRemoved(msg.body[0])
    elif (
        msg.interface == PROPERTIES_INTERFACE
        and msg.member == "PropertiesChanged"
        and msg.body[0] == DEVICE_INTERFACE
        and (msg.path or "").startswith(f"{DEVICES_PATH}/")
    ):
        return DevicePropertiesChanged(msg.path or "", _plain(msg.body[1]), list(msg.body[2]))
    elif (
        msg.sender == "org.freedesktop.DBus"
        and msg.interface == "org.freedesktop.DBus"
        and msg.member == "NameOwnerChanged"
        and msg.body[0] == BUS_NAME
    ):
        return DaemonOwnerChanged(msg.body[1], msg.body[2])
    return None


def _operation_event(msg: Message) -> OperationProgress | OperationFinished | None:
    """The Device1 operation signal `msg` is, or None."""
    if msg.message_type is not MessageType.SIGNAL or msg.interface != DEVICE_INTERFACE:
        return None
    if msg.member == "OperationProgress" and msg.signature == "ss":
        return OperationProgress(msg.path or "", *msg.body)
    if msg.member == "OperationFinished" and msg.signature == "sss":
        return OperationFinished(msg.path or "", *msg.body)
    return None


class DaemonClient:
    """A session bus connection used to talk to trezor-backupd."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus

    @classmethod
    @asynccontextmanager
    async def connect(cls) -> AsyncIterator["DaemonClient"]:
        """Connect to the session bus; the daemon itself is only contacted by the calls."""
        address = session_bus_address()
        try:
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                bus = await MessageBus(bus_address=address).connect()
        except TimeoutError:
            raise DaemonUnreachable(
                f"the session bus at {address} did not answer within {CALL_TIMEOUT_SECONDS:g} s"
            ) from None
        except (OSError, EOFError, DBusFastError) as error:
            reason = str(error) or type(error).__name__
            raise DaemonUnreachable(f"no session bus at {address}: {reason}") from None
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
        destination: str = BUS_NAME,
        flags: MessageFlag = MessageFlag.NONE,
    ) -> list[Any]:
        """Call a method and return the reply body, or raise one of this module's errors."""
        msg = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body or [],
            flags=flags,
        )
        try:
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                reply = await self._bus.call(msg)
        except TimeoutError:
            raise DaemonUnreachable(f"no reply within {CALL_TIMEOUT_SECONDS:g} s") from None
        except (OSError, EOFError, DBusFastError) as error:
            raise DaemonUnreachable(f"lost the session bus: {error}") from None
        if reply is None:
            raise DaemonUnreachable("lost the session bus")
        if reply.message_type is MessageType.ERROR:
            name = reply.error_name or "unknown"
            text = str(reply.body[0]) if reply.body else ""
            if name in _UNREACHABLE_ERRORS or name.startswith(_SPAWN_ERROR_PREFIX):
                raise DaemonUnreachable(text or name)
            raise DaemonError(name, text)
        return reply.body

    async def get_devices(self) -> dict[str, dict[str, Any]]:
        """`Manager1.GetDevices()`: the properties of every connected device, by object path.

        Sent without NO_AUTO_START, so the bus starts the daemon if it is activatable.
        """
        (devices,) = await self._call(MANAGER_PATH, MANAGER_INTERFACE, "GetDevices")
        return {device_path(device["Id"].value): _plain(device) for device in devices}

    async def get_device_properties(self, path: str) -> dict[str, Any]:
        """All `Device1` properties of the device object at `path`.

        NO_AUTO_START: asking about a device the daemon announced must not start a daemon
        the user has just stopped.
        """
        (properties,) = await self._call(
            path,
            PROPERTIES_INTERFACE,
            "GetAll",
            "s",
            [DEVICE_INTERFACE],
            flags=MessageFlag.NO_AUTOSTART,
        )
        result: dict[str, Any] = _plain(properties)
        return result

    async def subscribe(self, on_event: Callable[[BusEvent], None]) -> None:
        """Deliver the daemon's device signals and its coming and going to `on_event`.

        The handler runs in the order messages arrive, and a method reply is processed after
        every signal sent before it: subscribe first, then list, and no event is lost.
        """
        await self._subscribe(_MATCH_RULES, _signal_event, on_event)

    async def subscribe_operation(self, path: str, on_event: Callable[[BusEvent], None]) -> None:
        """Deliver the operation signals of the device at `path`, and the daemon's leaving.

        Call it before starting the operation, so that no progress and no end is missed.
        """

        def event_of(msg: Message) -> BusEvent | None:
            if msg.path == path:
                return _operation_event(msg)
            event = _signal_event(msg)
            return event if isinstance(event, DaemonOwnerChanged) else None

        rules = (
            f"type='signal',sender='{BUS_NAME}',path='{path}',interface='{DEVICE_INTERFACE}'",
            _MATCH_RULES[2],
        )
        await self._subscribe(rules, event_of, on_event)

    async def _subscribe(
        self,
        rules: tuple[str, ...],
        event_of: Callable[[Message], BusEvent | None],
        on_event: Callable[[BusEvent], None],
    ) -> None:
        def handle(msg: Message) -> None:
            event = event_of(msg)
            if event is not None:
                on_event(event)

        self._bus.add_message_handler(handle)
        for rule in rules:
            await self._call(
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [rule],
                destination="org.freedesktop.DBus",
            )

    async def wait_for_disconnect(self) -> None:
        """Return when the bus connection is gone (the session ended)."""
        try:
            await self._bus.wait_for_disconnect()  # type: ignore[no-untyped-call]
        except Exception:  # whatever the cause, the connection is gone all the same
            return

    async def get_history(self, device_id: str) -> list[dict[str, Any]]:
        """`Manager1.GetHistory(id)`: the device's recorded checks and backups, oldest first."""
        (events,) = await self._call(
            MANAGER_PATH, MANAGER_INTERFACE, "GetHistory", "s", [device_id]
        )
        result: list[dict[str, Any]] = _plain(events)
        return result

    async def start_check(self, path: str, word_count: int | None) -> None:
        """`Device1.StartCheck`: returns at once; the outcome comes as OperationFinished."""
        options = {} if word_count is None else {"word_count": Variant("u", word_count)}
        await self._call(
            path, DEVICE_INTERFACE, "StartCheck", "a{sv}", [options], flags=_NO_AUTOSTART
        )

    async def start_backup(self, path: str) -> None:
        """`Device1.StartBackup`: returns at once; the outcome comes as OperationFinished."""
        await self._call(path, DEVICE_INTERFACE, "StartBackup", "a{sv}", [{}], flags=_NO_AUTOSTART)

    async def unlock(self, path: str) -> None:
        """`Device1.Unlock()`: the PIN is asked on the device (or from the agent)."""
        await self._call(path, DEVICE_INTERFACE, "Unlock")

    async def refresh(self) -> None:
        """`Manager1.Refresh()`: read every connected device again, for changes made elsewhere."""
        await self._call(MANAGER_PATH, MANAGER_INTERFACE, "Refresh")

    async def cancel_operation(self, path: str) -> None:
        """`Device1.Cancel`: ask the daemon to cancel the operation running on the device."""
        await self._call(path, DEVICE_INTERFACE, "Cancel", flags=_NO_AUTOSTART)

    async def register_agent(self, agent: Agent) -> None:
        """Serve `agent` as Agent1 at AGENT_PATH and register it with the daemon.

        Only the daemon's current connection may call it: any other program on the session
        bus could otherwise make the terminal ask for recovery words in the daemon's name.
        """
        (daemon,) = await self._call(
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "GetNameOwner",
            "s",
            [BUS_NAME],
            destination="org.freedesktop.DBus",
        )

        def only_the_daemon(msg: Message) -> Message | None:
            if (
                msg.message_type is MessageType.METHOD_CALL
                and msg.path == AGENT_PATH
                and msg.sender != daemon
            ):
                return Message.new_error(
                    msg,
                    "org.freedesktop.DBus.Error.AccessDenied",
                    f"this agent answers only {BUS_NAME}",
                )
            return None

        self._bus.add_message_handler(only_the_daemon)
        self._bus.export(AGENT_PATH, _AgentInterface(agent))
        await self._call(MANAGER_PATH, MANAGER_INTERFACE, "RegisterAgent", "o", [AGENT_PATH])

    async def unregister_agent(self) -> None:
        """Withdraw the agent from the daemon and the bus; a daemon already gone is fine."""
        with suppress(DaemonError, DaemonUnreachable):
            await self._call(
                MANAGER_PATH,
                MANAGER_INTERFACE,
                "UnregisterAgent",
                "o",
                [AGENT_PATH],
                flags=_NO_AUTOSTART,
            )
        self._bus.unexport(AGENT_PATH)
