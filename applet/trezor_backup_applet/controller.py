"""The applet's controller: the device mirror, tray, notifications, agent and dialogs wired
into one `Applet`, whose logic runs on the "dbus" asyncio thread (see main.py for the three
threads). Tray clicks and dialog answers reach it with `submit`; it reaches the Tk thread
through `DialogHost` and the tray through pystray's setters.

The agent answers only for operations this applet started: the owner asked for them here (a
menu item, a notification's button, a dialog), and the client records them when it starts
them (trezor_backup_api.agent).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from dbus_fast import BusType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus

from trezor_backup_api.agent import AgentExport
from trezor_backup_api.client import DaemonClient, DaemonError, DaemonUnreachable
from trezor_backup_api.names import BUS_NAME, ROOT_PATH, device_path
from trezor_backup_api.vocabulary import OperationKind, Outcome

from .agent import DialogAgent
from .device_mirror import Device, DeviceMirror
from .dialogs import Checklist, DialogHost
from .notifications import REMIND_STATES, Notifier
from .settings import AppletSettings
from .snooze import DAY, SnoozeStore
from .tray import Tray

log = logging.getLogger("trezor_backup_applet")

APPLET_BUS_NAME = f"{BUS_NAME}.Applet"
AGENT_PATH = f"{ROOT_PATH}/applet/agent"
OPERATION_TITLES = {
    OperationKind.CHECK: "Checking the backup",
    OperationKind.BACKUP: "Creating the backup",
    OperationKind.UNLOCK: "Unlocking",
}


class Applet:
    """The applet's logic; implements the mirror's listener and the tray's and notifications'
    actions. Listener methods run on the asyncio thread; actions may come from any thread."""

    def __init__(
        self, settings: AppletSettings, snooze: SnoozeStore, icon_path: Path | None = None
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.dialogs = DialogHost()
        self.mirror = DeviceMirror(self)
        self.notifier = Notifier(self, settings.notifications, icon_path)
        self.snoozes = snooze
        self.tray: Tray | None = None
        self.bus: MessageBus | None = None
        self.quit_requested = threading.Event()
        # Devices whose running operation this applet started: they get the progress window.
        self._ours: set[str] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dbus", daemon=True)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the dialog and D-Bus threads and connect; False when another applet runs."""
        self.dialogs.start()
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result(60)

    async def _connect(self) -> bool:
        self.bus = await MessageBus(bus_type=BusType.SESSION).connect()
        reply = await self.bus.request_name(APPLET_BUS_NAME, NameFlag.DO_NOT_QUEUE)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            return False
        client = DaemonClient(self.bus)
        await self.mirror.connect(
            client, AgentExport(client, DialogAgent(self.dialogs), AGENT_PATH)
        )
        return True

    def stop(self) -> None:
        """Leave the bus and end the threads."""
        if self._thread.is_alive():
            if self.bus is not None:
                self.loop.call_soon_threadsafe(self.bus.disconnect)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        self.dialogs.stop()

    def submit(self, coroutine: Coroutine[Any, Any, None]) -> Future[None]:
        """Run applet logic on the asyncio thread, from any thread; errors are logged."""

        async def guarded() -> None:
            try:
                await coroutine
            except Exception:
                log.exception("applet action failed")

        return asyncio.run_coroutine_threadsafe(guarded(), self.loop)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Fire and forget; `submit` keeps the task referenced by its future until done."""
        self.submit(coroutine)

    # -- what the daemon says (asyncio thread) ----------------------------------------------

    def devices_changed(self, devices: list[Device], daemon_running: bool) -> None:
        if self.tray is not None:
            self.tray.show(devices, daemon_running)

    def device_plugged(self, device: Device) -> None:
        if device.state in REMIND_STATES and not self.snoozes.is_snoozed(device.id):
            self._spawn(self.notifier.remind(device))

    def operation_progress(self, device: Device, stage: str, message: str) -> None:
        if device.id in self._ours:
            self.dialogs.update_progress(device.id, message)

    def operation_finished(self, device: Device, kind: str, result: str, message: str) -> None:
        ours = device.id in self._ours
        self._ours.discard(device.id)
        self.dialogs.close_progress(device.id)
        self.dialogs.cancel_prompts(device.id)
        self._spawn(self.notifier.finished(device, kind, result, message))
        if ours and kind == OperationKind.BACKUP and result == Outcome.COMPLETED:
            self._spawn(self._offer_check(device))

    # -- what the owner asks for (any thread) ----------------------------------------------

    def check(self, device_id: str) -> None:
        self._spawn(self._start(device_id, OperationKind.CHECK))

    def backup(self, device_id: str) -> None:
        self._spawn(self._backup(device_id))

    def unlock(self, device_id: str) -> None:
        self._spawn(self._start(device_id, OperationKind.UNLOCK))

    def cancel(self, device_id: str) -> None:
        self._spawn(self._cancel(device_id))

    def what_to_do(self, device_id: str) -> None:
        self._spawn(self._what_to_do(device_id))

    def later(self, device_id: str) -> None:
        self.snoozes.snooze(device_id, DAY)
        log.info("reminders for %s snoozed for a day", device_id)

    def snooze_all(self, seconds: float) -> None:
        self._spawn(self._snooze_all(seconds))

    def quit(self) -> None:
        self.quit_requested.set()
        if self.tray is not None:
            self.tray.stop()

    # -- the same, on the asyncio thread ------------------------------------------------------

    def _device(self, device_id: str) -> Device:
        return self.mirror.devices.get(device_id) or Device(id=device_id)

    @property
    def _client(self) -> DaemonClient:
        assert self.mirror.client is not None, "start() first"
        return self.mirror.client

    async def _start(self, device_id: str, kind: OperationKind) -> None:
        """Start an operation the owner asked for here (a menu item, a notification's button,
        a dialog): the agent answers the daemon's questions for it, and for nothing else."""
        device = self._device(device_id)
        path = device_path(device_id)
        self._ours.add(device_id)
        self.dialogs.show_progress(
            device_id, f"{OPERATION_TITLES[kind]}: {device.name}", lambda: self.cancel(device_id)
        )
        try:
            if kind is OperationKind.CHECK:
                await self._client.start_check(path)
            elif kind is OperationKind.UNLOCK:
                await self._client.unlock(path)
            else:
                await self._client.start_backup(path)
        except (DaemonError, DaemonUnreachable) as e:
            self._ours.discard(device_id)
            self.dialogs.close_progress(device_id)
            self.dialogs.show_message(
                "Trezor Backup Guard", f"{OPERATION_TITLES[kind]} could not start", str(e)
            )

    async def _backup(self, device_id: str) -> None:
        device = self._device(device_id)
        if await asyncio.wrap_future(self.dialogs.confirm_before_backup(device_id, device.name)):
            await self._start(device_id, OperationKind.BACKUP)

    async def _offer_check(self, device: Device) -> None:
        if await asyncio.wrap_future(self.dialogs.offer_check(device.id, device.name)):
            await self._start(device.id, OperationKind.CHECK)

    async def _cancel(self, device_id: str) -> None:
        device = self._device(device_id)
        if device.operation == OperationKind.BACKUP:
            sure = await asyncio.wrap_future(
                self.dialogs.ask(
                    lambda: Checklist(
                        self.dialogs,
                        f"{device_id}:cancel",
                        "Cancel the backup?",
                        "If you cancel now, this Trezor will never show its recovery words "
                        "again: the wallet can then never be backed up and must be replaced.",
                        ("I understand that this wallet can then never be backed up.",),
                        "Cancel the backup",
                        "Go on with the backup",
                    )
                )
            )
            if not sure:
                return
        try:
            await self._client.cancel_operation(device_path(device_id))
        except (DaemonError, DaemonUnreachable) as e:
            self.dialogs.show_message("Trezor Backup Guard", "Could not cancel", str(e))

    async def _what_to_do(self, device_id: str) -> None:
        device = self._device(device_id)
        self.dialogs.show_what_to_do(device.state, device.name)

    async def _snooze_all(self, seconds: float) -> None:
        for device in self.mirror.devices.values():
            if device.connected:
                self.snoozes.snooze(device.id, seconds)
