"""The daemon as the applet sees it: a live mirror of its devices, and the calls that act on them.

This is the only module of the applet that talks to trezor-backupd. It runs on the applet's
asyncio thread and reports through a `ClientListener`, so the tray, the notifications and the
dialogs never see D-Bus. The daemon may start after the applet, be D-Bus activated by it, stop
and come back: the mirror follows `NameOwnerChanged` and reloads everything from `GetDevices`
when a new owner appears, and the agent is registered again with each new owner. Devices that
go away are kept as "last known" so the menu can still say what was seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dbus_fast import Message, MessageFlag, MessageType, Variant
from dbus_fast.aio import MessageBus

from trezor_backupd.bus_names import (
    BUS_NAME,
    DEVICE_INTERFACE,
    DEVICES_PATH,
    MANAGER_INTERFACE,
)
from trezor_backupd.bus_names import ROOT_PATH as MANAGER_PATH

log = logging.getLogger(__name__)


# The bus gives activation 25 s; a daemon that hangs longer must not hang the applet.
CALL_TIMEOUT_SECONDS = 30.0

# The sender is the well-known name: the bus resolves it at delivery time, so these rules keep
# working across a daemon restart without being added again.
_MATCH_RULES = (
    f"type='signal',sender='{BUS_NAME}',path='{MANAGER_PATH}',interface='{MANAGER_INTERFACE}'",
    f"type='signal',sender='{BUS_NAME}',path_namespace='{DEVICES_PATH}'",
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
    f"member='NameOwnerChanged',arg0='{BUS_NAME}'",
)


class DaemonError(Exception):
    """The daemon (or the bus on its behalf) answered a call with an error.

    `str()` is the daemon's own message: the applet shows it as is, it never carries a secret.
    """

    def __init__(self, name: str, text: str) -> None:
        super().__init__(text or name)
        self.name = name


@dataclass(frozen=True)
class Device:
    """One Trezor as the daemon last described it (the Device1 properties the applet uses)."""

    id: str
    state: str = "unknown"
    explanation: str = ""
    next_step: str = ""
    model: str = "Unknown"
    label: str = ""
    operation: str = ""
    locked: bool = False
    connected: bool = True

    @property
    def path(self) -> str:
        """The daemon's object path for this device."""
        return f"{DEVICES_PATH}/{self.id}"

    @property
    def name(self) -> str:
        """What the owner calls it: the label, else the model."""
        return self.label or f"Trezor {self.model}"

    def updated(self, properties: Mapping[str, Any]) -> Device:
        """A copy with the given Device1 properties (plain values) applied; unknown keys ignored."""
        fields = {
            "State": "state",
            "Explanation": "explanation",
            "NextStep": "next_step",
            "Model": "model",
            "Label": "label",
            "Operation": "operation",
        }
        changes: dict[str, Any] = {fields[k]: str(v) for k, v in properties.items() if k in fields}
        if "Locked" in properties:
            changes["locked"] = bool(properties["Locked"])
        return replace(self, **changes)


class ClientListener(Protocol):
    """What the rest of the applet learns from the daemon; called on the asyncio thread."""

    def devices_changed(self, devices: list[Device], daemon_running: bool) -> None:
        """The device list or a device's properties changed (also: the daemon came or went)."""

    def device_plugged(self, device: Device) -> None:
        """A device appeared that this applet had not seen connected since it was plugged."""

    def operation_progress(self, device: Device, stage: str, message: str) -> None:
        """A step of an operation running on the device."""

    def operation_finished(self, device: Device, kind: str, result: str, message: str) -> None:
        """An operation on the device ended."""


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Variant) else value


class DaemonClient:
    """The applet's connection to trezor-backupd; all methods run on one asyncio loop."""

    def __init__(self, listener: ClientListener, agent_path: str | None = None) -> None:
        self.listener = listener
        self.agent_path = agent_path
        self.bus: MessageBus | None = None
        self.devices: dict[str, Device] = {}
        self.daemon_running = False
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_pending = False
        self._agent_registered = False
        # Devices connected when the daemon left: a restart is not a plug-in, so they are not
        # announced again when the new daemon lists them.
        self._connected_when_daemon_left: set[str] = set()

    async def connect(self, bus: MessageBus) -> None:
        """Listen to the daemon's signals and load its devices, activating it when installed."""
        self.bus = bus
        bus.add_message_handler(self._on_message)
        for rule in _MATCH_RULES:
            await self._call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                "s",
                [rule],
            )
        await self.reload(activate=True)

    async def reload(self, activate: bool = False) -> None:
        """Read every device again and register the agent; no daemon is not an error here."""
        try:
            reply = await self._daemon_call(
                MANAGER_PATH, MANAGER_INTERFACE, "GetDevices", "", [], autostart=activate
            )
        except DaemonError as e:
            log.info("daemon not reachable (%s); waiting for it to start", e.name)
            self._set_running(False)
            return
        fresh: dict[str, Device] = {}
        for props in reply[0]:
            values = {k: _plain(v) for k, v in props.items()}
            device = Device(id=str(values.get("Id", ""))).updated(values)
            if device.id:
                fresh[device.id] = device
        before = {i for i, d in self.devices.items() if d.connected}
        before |= self._connected_when_daemon_left
        self._connected_when_daemon_left = set()
        for device_id, device in self.devices.items():
            if device_id not in fresh:
                fresh[device_id] = replace(device, connected=False, operation="")
        self.devices = fresh
        self.daemon_running = True
        if self.agent_path is not None and not self._agent_registered:
            try:
                await self._daemon_call(
                    MANAGER_PATH, MANAGER_INTERFACE, "RegisterAgent", "o", [self.agent_path]
                )
                self._agent_registered = True
                log.info("registered as the daemon's agent")
            except DaemonError as e:
                log.warning("could not register as the daemon's agent: %s", e)
        self._notify_changed()
        for device in list(self.devices.values()):
            if device.connected and device.id not in before:
                self.listener.device_plugged(device)

    def _set_running(self, running: bool) -> None:
        self.daemon_running = running
        if not running:
            self._agent_registered = False
            self._connected_when_daemon_left |= {i for i, d in self.devices.items() if d.connected}
            self.devices = {
                i: replace(d, connected=False, operation="") for i, d in self.devices.items()
            }
        self._notify_changed()

    def _notify_changed(self) -> None:
        self.listener.devices_changed(list(self.devices.values()), self.daemon_running)

    # -- actions -------------------------------------------------------------------------

    async def start_check(self, device_id: str, word_count: int | None = None) -> None:
        """Device1.StartCheck; raises DaemonError with the daemon's message when refused."""
        options = {} if word_count is None else {"word_count": Variant("u", word_count)}
        await self._device_call(device_id, "StartCheck", "a{sv}", [options])

    async def start_backup(self, device_id: str) -> None:
        """Device1.StartBackup (the caller has asked for the owner's confirmations first)."""
        await self._device_call(device_id, "StartBackup", "a{sv}", [{}])

    async def unlock(self, device_id: str) -> None:
        """Device1.Unlock: the PIN is asked on the Trezor (the matrix, on a Model One)."""
        await self._device_call(device_id, "Unlock", "", [])

    async def cancel(self, device_id: str) -> None:
        """Device1.Cancel of the running operation."""
        await self._device_call(device_id, "Cancel", "", [])

    async def _device_call(
        self, device_id: str, member: str, signature: str, body: list[Any]
    ) -> None:
        path = f"{DEVICES_PATH}/{device_id}"
        await self._daemon_call(path, DEVICE_INTERFACE, member, signature, body)

    # -- the bus ---------------------------------------------------------------------------

    async def _daemon_call(
        self,
        path: str,
        interface: str,
        member: str,
        signature: str,
        body: list[Any],
        autostart: bool = False,
    ) -> list[Any]:
        return await self._call(BUS_NAME, path, interface, member, signature, body, autostart)

    async def _call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        signature: str,
        body: list[Any],
        autostart: bool = True,
    ) -> list[Any]:
        assert self.bus is not None, "connect() first"
        message = Message(
            destination=destination,
            path=path,
            interface=interface,
            member=member,
            signature=signature,
            body=body,
            flags=MessageFlag.NONE if autostart else MessageFlag.NO_AUTOSTART,
        )
        try:
            reply = await asyncio.wait_for(self.bus.call(message), CALL_TIMEOUT_SECONDS)
        except TimeoutError:
            raise DaemonError(
                "org.freedesktop.DBus.Error.Timeout", "the daemon does not answer"
            ) from None
        if reply is None:
            return []
        if reply.message_type is MessageType.ERROR:
            text = str(reply.body[0]) if reply.body else ""
            raise DaemonError(reply.error_name or "", text)
        return list(reply.body)

    def _on_message(self, message: Message) -> None:
        if message.message_type is not MessageType.SIGNAL:
            return
        try:
            self._on_signal(message)
        except Exception:
            # A signal we do not understand must never take the applet down.
            log.exception("could not handle %s.%s", message.interface, message.member)

    def _on_signal(self, message: Message) -> None:
        member, path, body = message.member, message.path or "", message.body
        if member == "NameOwnerChanged" and body and body[0] == BUS_NAME:
            if body[2]:
                self._schedule_reload()
            else:
                log.info("the daemon left the bus")
                self._set_running(False)
            return
        if message.interface == MANAGER_INTERFACE and member in ("DeviceAdded", "DeviceRemoved"):
            if member == "DeviceRemoved":
                device_id = str(body[0]).rsplit("/", 1)[-1]
                device = self.devices.get(device_id)
                if device is not None:
                    self.devices[device_id] = replace(device, connected=False, operation="")
                    self._notify_changed()
            else:
                self._schedule_reload()
            return
        if not path.startswith(f"{DEVICES_PATH}/"):
            return
        device = self.devices.get(path.rsplit("/", 1)[-1])
        if device is None:
            return
        if member == "PropertiesChanged" and body[0] == DEVICE_INTERFACE:
            changed = {k: _plain(v) for k, v in body[1].items()}
            self.devices[device.id] = device.updated(changed)
            self._notify_changed()
        elif member == "OperationProgress":
            self.listener.operation_progress(device, str(body[0]), str(body[1]))
        elif member == "OperationFinished":
            self.listener.operation_finished(device, str(body[0]), str(body[1]), str(body[2]))

    def _schedule_reload(self) -> None:
        """Coalesce bursts of signals (a plug-in, a restart) into one GetDevices."""
        self._reload_pending = True
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload_while_pending())

    async def _reload_while_pending(self) -> None:
        while self._reload_pending:
            self._reload_pending = False
            await self.reload()
