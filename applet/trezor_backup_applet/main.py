"""`trezor-backup-applet`: wires the daemon client, tray, notifications, agent and dialogs.

Three threads, each owning one toolkit, and one rule for crossing between them:
- main thread: the GTK main loop that pystray's appindicator/gtk backends run (or a plain wait
  when there is no tray);
- "dbus" thread: an asyncio loop with the session bus connection (daemon mirror, agent,
  desktop-notifier). All applet logic runs here; tray clicks and dialog answers are marshalled
  onto it with `run_coroutine_threadsafe` / `wrap_future`;
- "dialogs" thread: the Tk interpreter (`dialogs.DialogHost`), reached through its work queue.
Updates to the tray go through pystray's setters, which schedule themselves with GLib.idle_add.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from dbus_fast import BusType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus

from trezor_backupd.config import Config, ConfigError, load_config

from .agent import AGENT_PATH, Agent
from .daemon_client import DaemonClient, DaemonError, Device
from .dialogs import Checklist, DialogHost
from .icons import write_app_icon
from .notifications import REMIND_STATES, Notifier
from .snooze import DAY, SnoozeStore
from .tray import Tray, load_pystray

log = logging.getLogger("trezor_backup_applet")

APPLET_BUS_NAME = "io.github.TrezorBackupGuard.Applet"
OPERATION_TITLES = {
    "check": "Checking the backup",
    "backup": "Creating the backup",
    "unlock": "Unlocking",
}


class Applet:
    """The applet's logic; implements the client's listener and the tray's and notifications'
    actions. Listener methods run on the asyncio thread; actions may come from any thread."""

    def __init__(self, config: Config, snooze: SnoozeStore, icon_path: Path | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.dialogs = DialogHost()
        self.client = DaemonClient(self, AGENT_PATH)
        self.notifier = Notifier(self, config.notifications, icon_path)
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
        self.bus.export(AGENT_PATH, Agent(self.dialogs))
        await self.client.connect(self.bus)
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
        if ours and kind == "backup" and result == "completed":
            self._spawn(self._offer_check(device))

    # -- what the owner asks for (any thread) ----------------------------------------------

    def check(self, device_id: str) -> None:
        self._spawn(self._start(device_id, "check"))

    def backup(self, device_id: str) -> None:
        self._spawn(self._backup(device_id))

    def unlock(self, device_id: str) -> None:
        self._spawn(self._start(device_id, "unlock"))

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
        return self.client.devices.get(device_id) or Device(id=device_id)

    async def _start(self, device_id: str, kind: str) -> None:
        device = self._device(device_id)
        self._ours.add(device_id)
        self.dialogs.show_progress(
            device_id, f"{OPERATION_TITLES[kind]}: {device.name}", lambda: self.cancel(device_id)
        )
        try:
            if kind == "check":
                await self.client.start_check(device_id)
            elif kind == "unlock":
                await self.client.unlock(device_id)
            else:
                await self.client.start_backup(device_id)
        except DaemonError as e:
            self._ours.discard(device_id)
            self.dialogs.close_progress(device_id)
            self.dialogs.show_message(
                "Trezor Backup Guard", f"{OPERATION_TITLES[kind]} could not start", str(e)
            )

    async def _backup(self, device_id: str) -> None:
        device = self._device(device_id)
        if await asyncio.wrap_future(self.dialogs.confirm_before_backup(device_id, device.name)):
            await self._start(device_id, "backup")

    async def _offer_check(self, device: Device) -> None:
        if await asyncio.wrap_future(self.dialogs.offer_check(device.id, device.name)):
            await self._start(device.id, "check")

    async def _cancel(self, device_id: str) -> None:
        device = self._device(device_id)
        if device.operation == "backup":
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
            await self.client.cancel(device_id)
        except DaemonError as e:
            self.dialogs.show_message("Trezor Backup Guard", "Could not cancel", str(e))

    async def _what_to_do(self, device_id: str) -> None:
        device = self._device(device_id)
        self.dialogs.show_what_to_do(device.state, device.name)

    async def _snooze_all(self, seconds: float) -> None:
        for device in self.client.devices.values():
            if device.connected:
                self.snoozes.snooze(device.id, seconds)


def _app_icon_path() -> Path | None:
    """The icon notifications carry: written once to the applet's state directory."""
    path = SnoozeStore().path.with_name("applet-icon.png")
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_app_icon(path)
    except OSError:
        return None
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the applet until Quit, SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="trezor-backup-applet",
        description="Tray icon and notifications of Trezor Backup Guard.",
    )
    parser.add_argument(
        "--autostart",
        action="store_true",
        help="started with the session: start quietly in the tray",
    )
    parser.add_argument(
        "--no-tray", action="store_true", help="notifications and dialogs only (no tray)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    try:
        config = load_config()
    except ConfigError as e:
        log.warning("%s; using the defaults", e)
        config = Config()
    applet = Applet(config, SnoozeStore(), _app_icon_path())

    tray: Tray | None = None
    if not args.no_tray:
        try:
            tray = Tray(load_pystray(), applet)
        except ImportError as e:
            log.warning("%s; notifications only", e)
    applet.tray = tray

    if not applet.start():
        print("trezor-backup-applet is already running", file=sys.stderr)
        applet.stop()
        return 0
    if not args.autostart:
        applet.submit(
            applet.notifier.message(
                "Trezor Backup Guard is running",
                "It watches your Trezor's backup and tells you when to act.",
            )
        )

    if tray is not None:
        from gi.repository import GLib

        for signum in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, _quit_from_signal, applet)
        tray.run(lambda: None)
    else:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: applet.quit_requested.set())
        applet.quit_requested.wait()
    applet.stop()
    return 0


def _quit_from_signal(applet: Applet) -> bool:
    applet.quit()
    return False
