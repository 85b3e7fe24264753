"""The daemon as trezor-backupctl sees it: method calls and signals on the session bus.

This is the only module that knows dbus-fast. It turns the bus's failure modes into two
exceptions the CLI can map to exit codes: `DaemonUnreachable` (there is no daemon to talk to)
and `DaemonError` (the daemon answered with an error).
"""

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from dbus_fast import DBusFastError, Message, MessageFlag, MessageType, Variant
from dbus_fast.aio import MessageBus

BUS_NAME = "io.github.TrezorBackupGuard"
MANAGER_PATH = "/io/github/TrezorBackupGuard"
DEVICES_PATH = f"{MANAGER_PATH}/devices"
MANAGER_INTERFACE = f"{BUS_NAME}.Manager1"
DEVICE_INTERFACE = f"{BUS_NAME}.Device1"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"

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


BusEvent = DeviceAdded | DeviceRemoved | DevicePropertiesChanged | DaemonOwnerChanged


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

        def handle(msg: Message) -> None:
            event = _signal_event(msg)
            if event is not None:
                on_event(event)

        self._bus.add_message_handler(handle)
        for rule in _MATCH_RULES:
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
