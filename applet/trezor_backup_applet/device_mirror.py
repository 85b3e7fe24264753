"""The daemon's devices as the applet shows them: a live mirror, kept through its restarts.

It runs on the applet's asyncio thread and reports through a `MirrorListener`, so the tray,
the notifications and the dialogs never see D-Bus. The daemon may start after the applet, be
D-Bus activated by it, stop and come back: the mirror follows `NameOwnerChanged` and reloads
everything from `GetDevices` when a new owner appears, and the agent is registered again with
each new owner. Devices that go away are kept as "last known" so the menu can still say what
was seen (not an object named after where a device is connected, docs/dbus-api.md's `at_`
ids), and the devices the daemon remembers (GetKnownDevices) join them, with the dates of
their next check. The calls themselves, their errors and the signals are trezor_backup_api's client.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from trezor_backup_api import client as bus
from trezor_backup_api.agent import AgentExport
from trezor_backup_api.client import BusEvent, DaemonClient
from trezor_backup_api.daemon_errors import DaemonError, DaemonUnreachable
from trezor_backup_api.device import DeviceRecord
from trezor_backup_api.names import device_id_of, names_a_place
from trezor_backup_api.vocabulary import BackupState, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device(DeviceRecord):
    """A device as last described by the daemon, whether it is still connected, and what the
    daemon remembers of it (Manager1.GetKnownDevices; 0 when unknown)."""

    connected: bool = True
    last_seen: int = 0
    check_due_time: int = 0
    check_overdue_time: int = 0


def remembered(known: dict[str, Any]) -> Device:
    """A device the daemon remembers but that is not connected: the state its last check
    left (check_failed, verified) or unknown, never a guess about its backup."""
    result = str(known.get("LastCheckResult", ""))
    verdicts: dict[str, str] = {
        Outcome.PASSED: BackupState.VERIFIED,
        Outcome.MISMATCH: BackupState.CHECK_FAILED,
        Outcome.INVALID_WORDS: BackupState.CHECK_FAILED,
    }
    state = verdicts.get(result, BackupState.UNKNOWN)
    return Device(
        id=str(known.get("Id", "")),
        state=state,
        model=str(known.get("Model", "")) or "Unknown",
        internal_model=str(known.get("InternalModel", "")),
        label=str(known.get("Label", "")),
        last_check_time=int(known.get("LastCheckTime", 0)),
        last_check_result=result,
        connected=False,
    )


def with_memory(device: Device, known: dict[str, Any]) -> Device:
    """The device with what the daemon keeps about it (its record is newer than what this
    applet saw of a device that went away)."""
    return dataclasses.replace(
        device,
        last_check_time=int(known.get("LastCheckTime", 0)),
        last_check_result=str(known.get("LastCheckResult", "")),
        last_seen=int(known.get("LastSeen", 0)),
        check_due_time=int(known.get("CheckDueTime", 0)),
        check_overdue_time=int(known.get("CheckOverdueTime", 0)),
    )


class MirrorListener(Protocol):
    """What the rest of the applet learns from the daemon; called on the asyncio thread."""

    def devices_changed(self, devices: list[Device], daemon_running: bool) -> None:
        """The device list or a device's properties changed (also: the daemon came or went)."""

    def device_plugged(self, device: Device) -> None:
        """A device appeared that this applet had not seen connected since it was plugged."""

    def operation_progress(self, device: Device, stage: str, message: str) -> None:
        """A step of an operation running on the device."""

    def operation_finished(self, device: Device, kind: str, result: str, message: str) -> None:
        """An operation on the device ended."""


def _gone(device: Device) -> Device:
    return dataclasses.replace(device, connected=False, operation="")


class DeviceMirror:
    """The devices of trezor-backupd, by id; all methods run on one asyncio loop."""

    def __init__(self, listener: MirrorListener) -> None:
        self.listener = listener
        self.devices: dict[str, Device] = {}
        self.daemon_running = False
        self.client: DaemonClient | None = None
        self._agent: AgentExport | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_pending = False
        self._agent_registered = False
        # Devices connected when the daemon left: a restart is not a plug-in, so they are not
        # announced again when the new daemon lists them.
        self._connected_when_daemon_left: set[str] = set()

    async def connect(self, client: DaemonClient, agent: AgentExport | None = None) -> None:
        """Follow the daemon's signals and load its devices, activating it when installed;
        `agent` is registered with every daemon that comes."""
        self.client = client
        self._agent = agent
        if agent is not None:
            agent.export()
        await client.subscribe(self._on_event)
        await self.reload()

    async def reload(self) -> None:
        """Read every device again and register the agent; no daemon is not an error here."""
        assert self.client is not None, "connect() first"
        try:
            listed = await self.client.get_devices()
        except (DaemonError, DaemonUnreachable) as e:
            log.info("daemon not reachable (%s); waiting for it to start", e)
            self._set_running(False)
            return
        fresh = {
            record.id: Device.from_properties(record.properties)
            for record in listed.values()
            if record.id
        }
        before = {i for i, d in self.devices.items() if d.connected}
        before |= self._connected_when_daemon_left
        self._connected_when_daemon_left = set()
        for device_id, device in self.devices.items():
            if device_id not in fresh and not names_a_place(device_id):
                fresh[device_id] = _gone(device)
        for known in await self._known_devices():
            device_id = str(known.get("Id", ""))
            if device_id:
                fresh[device_id] = with_memory(fresh.get(device_id) or remembered(known), known)
        self.devices = fresh
        self.daemon_running = True
        if self._agent is not None and not self._agent_registered:
            # Marked before the call: a reload running meanwhile (the daemon's NameOwnerChanged
            # while the first GetDevices activated it) must not register a second time.
            self._agent_registered = True
            try:
                await self._agent.register()
                log.info("registered as the daemon's agent")
            except (DaemonError, DaemonUnreachable) as e:
                self._agent_registered = False
                log.warning("could not register as the daemon's agent: %s", e)
        self._notify_changed()
        for device in list(self.devices.values()):
            if device.connected and device.id not in before:
                self.listener.device_plugged(device)

    async def _known_devices(self) -> list[dict[str, Any]]:
        """The daemon's remembered devices; none from a daemon without them."""
        assert self.client is not None
        try:
            return await self.client.get_known_devices()
        except (DaemonError, DaemonUnreachable) as e:
            log.info("no remembered devices: %s", e)
            return []

    def forget(self, device_id: str) -> None:
        """The daemon forgot the device: so does the mirror."""
        if self.devices.pop(device_id, None) is not None:
            self._notify_changed()

    def _set_running(self, running: bool) -> None:
        self.daemon_running = running
        if not running:
            self._agent_registered = False
            self._connected_when_daemon_left |= {i for i, d in self.devices.items() if d.connected}
            self.devices = {i: _gone(d) for i, d in self.devices.items()}
        self._notify_changed()

    def _notify_changed(self) -> None:
        self.listener.devices_changed(list(self.devices.values()), self.daemon_running)

    def _on_event(self, event: BusEvent) -> None:
        try:
            self._apply(event)
        except Exception:
            # A signal we do not understand must never take the applet down.
            log.exception("could not handle %s", type(event).__name__)

    def _apply(self, event: BusEvent) -> None:
        if isinstance(event, bus.DaemonOwnerChanged):
            if event.new_owner:
                self._schedule_reload()
            else:
                log.info("the daemon left the bus")
                self._set_running(False)
            return
        if isinstance(event, bus.DeviceAdded):
            self._schedule_reload()
            return
        device = self.devices.get(device_id_of(event.path))
        if device is None:
            return
        if isinstance(event, bus.DeviceRemoved):
            if names_a_place(device.id):
                # Not a Trezor that went away: the same one is added again under its device id
                # once it can be read (e.g. paired), or it was unplugged before it told its id.
                del self.devices[device.id]
            else:
                self.devices[device.id] = _gone(device)
            self._notify_changed()
        elif isinstance(event, bus.DevicePropertiesChanged):
            self.devices[device.id] = device.updated(event.changed)
            self._notify_changed()
        elif isinstance(event, bus.OperationProgress):
            self.listener.operation_progress(device, event.stage, event.message_for_owner())
        elif isinstance(event, bus.OperationFinished):
            self.listener.operation_finished(
                device, event.kind, event.result, event.message_for_owner()
            )

    def _schedule_reload(self) -> None:
        """Coalesce bursts of signals (a plug-in, a restart) into one GetDevices."""
        self._reload_pending = True
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.ensure_future(self._reload_while_pending())

    async def _reload_while_pending(self) -> None:
        while self._reload_pending:
            self._reload_pending = False
            await self.reload()
