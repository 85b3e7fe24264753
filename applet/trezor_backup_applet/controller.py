"""The applet's controller: the device mirror, tray, notifications, agent, dialogs and main
window wired into one `Applet`, whose logic runs on the "dbus" asyncio thread (see main.py for
the two threads). Tray clicks, window buttons and dialog answers reach it with `submit`; it
reaches the GTK thread through `DialogHost.call` and the tray through pystray's setters.

The agent answers only for operations this applet started: the owner asked for them here (a
menu item, a notification's button, a dialog), and the client records them when it starts
them (trezor_backup_api.agent).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from dbus_fast import BusType, NameFlag, RequestNameReply
from dbus_fast.aio import MessageBus

from trezor_backup_api.actions import FAILED
from trezor_backup_api.agent import AgentExport
from trezor_backup_api.client import DaemonClient
from trezor_backup_api.daemon_errors import DaemonError, DaemonUnreachable
from trezor_backup_api.i18n import N_, _, local_day
from trezor_backup_api.names import BUS_NAME, ROOT_PATH, device_path
from trezor_backup_api.vocabulary import BackupState, OperationKind, Outcome

from .agent import DialogAgent
from .applet_service import APPLET_PATH, AppletObject
from .device_mirror import Device, DeviceMirror
from .dialogs import DialogHost, InfoWindow
from .gtk_setup import APP_NAME, Gio
from .guide import next_step_and_guide
from .icons import Look
from .main_window import MainWindow
from .notifications import REMIND_STATES, Notifier, finished_title
from .reminders import Step, next_step_time, reminder_of
from .settings import AppletSettings
from .snooze import DAY, SnoozeStore
from .tray import Tray

log = logging.getLogger("trezor_backup_applet")

APPLET_BUS_NAME = f"{BUS_NAME}.Applet"
AGENT_PATH = f"{ROOT_PATH}/applet/agent"
OPERATION_TITLES: dict[str, tuple[str, str]] = {
    OperationKind.CHECK: (
        N_("Checking the backup: {name}"),
        N_("The backup check could not start"),
    ),
    OperationKind.BACKUP: (N_("Creating the backup: {name}"), N_("The backup could not start")),
    OperationKind.UNLOCK: (N_("Unlocking: {name}"), N_("Unlocking could not start")),
    OperationKind.PAIR: (N_("Pairing: {name}"), N_("Pairing could not start")),
}
"""Each operation's progress window title, and the heading when it cannot start (msgids)."""


class Applet:
    """The applet's logic; implements the mirror's listener and the tray's, window's and
    notifications' actions. Listener methods run on the asyncio thread; actions may come
    from any thread."""

    def __init__(
        self,
        settings: AppletSettings,
        snooze: SnoozeStore,
        icons: Mapping[Look, Path] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        """Wall-clock time for the reminder ladder (tests move it)."""
        self.loop = asyncio.new_event_loop()
        self.dialogs = DialogHost()
        self.mirror = DeviceMirror(self)
        self.notifier = Notifier(self, snooze, settings.notifications, icons)
        self.snoozes = snooze
        self.tray: Tray | None = None
        self.window: MainWindow | None = None
        """The main window, made on first use (GTK thread only)."""
        self.bus: MessageBus | None = None
        self.quit_requested = threading.Event()
        self.on_quit: list[Any] = []
        # Devices whose running operation this applet started: they get the progress window.
        self._ours: set[str] = set()
        self._shown: tuple[list[Device], bool] = ([], False)
        self._states: dict[str, str] = {}
        """Each device's state as last seen, to tell its notification when it changes."""
        self._started_up = False
        self._found_at_start: set[str] = set()
        self._ladder_timer: asyncio.TimerHandle | None = None
        self.offline_notice_seconds = 60.0
        """How long the daemon may be away before a notification says so."""
        self._absence_timer: asyncio.TimerHandle | None = None
        self._told_absent = False
        self._thread = threading.Thread(target=self.loop.run_forever, name="dbus", daemon=True)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> bool:
        """Check GTK, start the D-Bus thread and connect; False when another applet runs."""
        self.dialogs.start()
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result(60)

    async def _connect(self) -> bool:
        self.bus = await MessageBus(bus_type=BusType.SESSION).connect()
        reply = await self.bus.request_name(APPLET_BUS_NAME, NameFlag.DO_NOT_QUEUE)
        if reply not in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
            return False
        self.bus.export(APPLET_PATH, AppletObject(self))
        client = DaemonClient(self.bus)
        await self.mirror.connect(
            client, AgentExport(client, DialogAgent(self.dialogs, self._name_of), AGENT_PATH)
        )
        return True

    def stop(self) -> None:
        """Leave the bus and end the D-Bus thread (after the GTK loop ended)."""
        if self._thread.is_alive():
            try:
                self.submit(self.notifier.withdraw_all()).result(5)
            except TimeoutError:
                log.warning("the notifications could not be withdrawn in time")
            if self.bus is not None:
                self.loop.call_soon_threadsafe(self.bus.disconnect)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)

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
        self._shown = (list(devices), daemon_running)
        if self.tray is not None:
            self.tray.show(devices, daemon_running)
        self.dialogs.call(self._redraw_window)
        if daemon_running and not self._started_up:
            # The first list of the session: its Trezors come as plug-ins next, but were not
            # just plugged in; they are told of only when their state is news.
            self._started_up = True
            self._found_at_start = {device.id for device in devices if device.connected}
        if daemon_running:
            for device in devices:
                if self._states.get(device.id, device.state) != device.state:
                    self._spawn(self.notifier.follow(device))
            self._states = {device.id: device.state for device in devices}
            self.review_reminders()
        self._watch_absence(daemon_running)

    def _watch_absence(self, daemon_running: bool) -> None:
        """A daemon that stays away `offline_notice_seconds` is told once per absence (the
        icon says it at once; a desktop without a tray has only the notification)."""
        if daemon_running:
            self._told_absent = False
            if self._absence_timer is not None:
                self._absence_timer.cancel()
                self._absence_timer = None
        elif self._absence_timer is None and not self._told_absent:
            self._absence_timer = self.loop.call_later(
                self.offline_notice_seconds, self._tell_absent
            )

    def _tell_absent(self) -> None:
        self._absence_timer = None
        if self.mirror.daemon_running:
            return
        self._told_absent = True
        self._spawn(
            self.notifier.offer(
                _("The backup service is not running"),
                _(
                    "Trezor Backup Guard cannot see your Trezors or remind you of their backups "
                    "until it runs again."
                ),
                Look.OFFLINE,
                ("start", _("Start the service"), lambda _device: self.start_service()),
            )
        )

    def review_reminders(self) -> None:
        """Notify each device's new step of the reminder ladder (once per step), and wake up
        again when the next device reaches its next step: one timer, no polling."""
        now = self.clock()
        devices = list(self.mirror.devices.values())
        for device in devices:
            reminder = reminder_of(device, now)
            if reminder is None or self.snoozes.is_snoozed(device.id):
                continue
            if device.connected and reminder.step is not Step.DUE_SOON:
                continue  # the daemon says check_due: the plug-in reminder covers it
            if not self.snoozes.was_reminded(device.id, reminder.key(device)):
                self.snoozes.reminded(device.id, reminder.key(device))
                self._spawn(self.notifier.ladder(device, reminder.title, reminder.body))
        if self._ladder_timer is not None:
            self._ladder_timer.cancel()
            self._ladder_timer = None
        wake = next_step_time(devices, now)
        if wake is not None:
            # Wall-clock seconds to loop time; a long sleep (suspend) only delays it.
            self._ladder_timer = self.loop.call_later(wake - now + 1, self.review_reminders)

    def device_plugged(self, device: Device) -> None:
        """A Trezor plugged in is the moment to tell what it needs; one that was there when
        the applet (and the daemon) started only when that is news since the last time."""
        at_start = device.id in self._found_at_start
        self._found_at_start.discard(device.id)
        if device.state not in REMIND_STATES or self.snoozes.is_snoozed(device.id):
            return
        if not at_start or self.notifier.is_news(device):
            self._spawn(self.notifier.remind(device))
        else:
            log.debug("nothing new to tell of %s: it is still %s", device.id, device.state)

    def operation_progress(self, device: Device, stage: str, message: str) -> None:
        if device.id in self._ours:
            self.dialogs.update_progress(device.id, message)

    def operation_finished(self, device: Device, kind: str, result: str, message: str) -> None:
        ours = device.id in self._ours
        self._ours.discard(device.id)
        self.dialogs.close_progress(device.id)
        self.dialogs.cancel_prompts(device.id)
        if ours and kind == OperationKind.PAIR:
            # The owner is at the pairing's windows: the daemon's sentence (paired, a wrong
            # code, no keyring, ...) is read in one, not in a notification that fades away.
            self.dialogs.show_message(
                _("Pairing: {name}").format(name=device.name), finished_title(kind, result), message
            )
            return
        self._spawn(self.notifier.finished(device, kind, result, message))
        if ours and kind == OperationKind.BACKUP and result == Outcome.COMPLETED:
            self._spawn(self._offer_check(device))

    # -- what the owner asks for (any thread) ----------------------------------------------

    def check(self, device_id: str) -> None:
        self._spawn(self._start(device_id, OperationKind.CHECK))

    def backup(self, device_id: str) -> None:
        self._spawn(
            self._start_if_confirmed(
                device_id, OperationKind.BACKUP, self.dialogs.confirm_before_backup
            )
        )

    def unlock(self, device_id: str) -> None:
        self._spawn(self._start(device_id, OperationKind.UNLOCK))

    def pair(self, device_id: str) -> None:
        self._spawn(
            self._start_if_confirmed(
                device_id, OperationKind.PAIR, self.dialogs.confirm_before_pairing
            )
        )

    def cancel(self, device_id: str) -> None:
        self._spawn(self._cancel(device_id))

    def what_to_do(self, device_id: str) -> None:
        self._spawn(self._what_to_do(device_id))

    def guide(self, device_id: str) -> None:
        """Open Trezor's guide for the device's next step in the browser."""
        guide = next_step_and_guide(self._device(device_id))[1]
        if guide is not None:
            url = guide.url
            self.dialogs.call(lambda: Gio.AppInfo.launch_default_for_uri(url, None))

    def history(self, device_id: str) -> None:
        self._spawn(self._history(device_id))

    def later(self, device_id: str) -> None:
        self._spawn(self._later(device_id))

    def forget(self, device_id: str) -> None:
        self._spawn(self._forget(device_id))

    def forget_pairing(self, device_id: str) -> None:
        self._spawn(self._forget_pairing(device_id))

    def start_service(self) -> None:
        self._spawn(self._start_service())

    def show_window(self, device_id: str = "") -> None:
        """Open (or raise) the main window; the daemon reads the devices again for it."""
        self.dialogs.call(self._open_window)

    def quit(self) -> None:
        """End the applet: the GTK loop ends (main.py), then the D-Bus thread."""
        self.quit_requested.set()
        for callback in self.on_quit:
            callback()
        if self.tray is not None:
            self.tray.stop()

    # -- the main window (GTK thread) ------------------------------------------------------

    def _open_window(self) -> None:
        if self.window is None:
            self.window = MainWindow(self, lambda: self._spawn(self._refresh()), self.clock)
        self.window.show_devices(*self._shown)
        self.dialogs.opened(self.window)

    def _redraw_window(self) -> None:
        if self.window is not None and self.window.window.get_visible():
            self.window.show_devices(*self._shown)

    # -- the same, on the asyncio thread ------------------------------------------------------

    def _device(self, device_id: str) -> Device:
        return self.mirror.devices.get(device_id) or Device(id=device_id)

    def _name_of(self, device_id: str) -> str:
        """What the owner calls the device, for the agent's prompts."""
        return self._device(device_id).name

    @property
    def _client(self) -> DaemonClient:
        assert self.mirror.client is not None, "start() first"
        return self.mirror.client

    async def _refresh(self) -> None:
        """The owner opened the window: read every Trezor again (safe: the daemon skips a
        device with a flow running, docs/security.md "read policy")."""
        if not self.mirror.daemon_running:
            return
        try:
            await self._client.refresh()
        except (DaemonError, DaemonUnreachable) as e:
            log.info("could not refresh: %s", e)

    async def _start_service(self) -> None:
        """D-Bus activation: GetDevices without NO_AUTO_START starts an installed daemon."""
        await self.mirror.reload()
        if not self.mirror.daemon_running:
            await self.notifier.message(
                _("The backup service could not be started"),
                _(
                    "Trezor Backup Guard cannot see your Trezors without it. Run "
                    "`trezor-backupctl doctor` in a terminal to find out why."
                ),
                Look.OFFLINE,
            )

    async def _start(self, device_id: str, kind: OperationKind) -> None:
        """Start an operation the owner asked for here (a menu item, a notification's button,
        a dialog): the agent answers the daemon's questions for it, and for nothing else."""
        device = self._device(device_id)
        path = device_path(device_id)
        self._ours.add(device_id)
        title, cannot_start = OPERATION_TITLES[kind]
        self.dialogs.show_progress(
            device_id, _(title).format(name=device.name), lambda: self.cancel(device_id)
        )
        try:
            await self._client.start(path, kind)
        except (DaemonError, DaemonUnreachable) as e:
            self._ours.discard(device_id)
            self.dialogs.close_progress(device_id)
            self.dialogs.show_message(APP_NAME, _(cannot_start), str(e))

    async def _start_if_confirmed(
        self,
        device_id: str,
        kind: OperationKind,
        confirm: Callable[[str, str], Future[bool | None]],
    ) -> None:
        """Start `kind` once the owner read what it asks of them (a backup's questions, what
        pairing does) and went on."""
        if await asyncio.wrap_future(confirm(device_id, self._device(device_id).name)):
            await self._start(device_id, kind)

    async def _offer_check(self, device: Device) -> None:
        if await asyncio.wrap_future(self.dialogs.offer_check(device.id, device.name)):
            await self._start(device.id, OperationKind.CHECK)

    async def _cancel(self, device_id: str) -> None:
        device = self._device(device_id)
        if device.operation == OperationKind.BACKUP:
            sure = await asyncio.wrap_future(
                self.dialogs.confirm(
                    f"{device_id}:cancel",
                    _("Cancel the backup: {name}").format(name=device.name),
                    _(
                        "If you cancel now, this Trezor will never show its recovery words "
                        "again: the wallet can then never be backed up and must be replaced."
                    ),
                    _("_Cancel the backup"),
                    _("_Go on with the backup"),
                    (_("I understand that this wallet can then never be backed up."),),
                )
            )
            if not sure:
                return
        try:
            await self._client.cancel_operation(device_path(device_id))
        except (DaemonError, DaemonUnreachable) as e:
            self.dialogs.show_message(APP_NAME, _("Could not cancel"), str(e))

    async def _what_to_do(self, device_id: str) -> None:
        device = self._device(device_id)
        self.dialogs.show_what_to_do(device.state, device.name)

    async def _history(self, device_id: str) -> None:
        device = self._device(device_id)
        try:
            events = await self._client.get_history(device_id)
        except (DaemonError, DaemonUnreachable) as e:
            self.dialogs.show_message(APP_NAME, _("The history cannot be read"), str(e))
            return
        text = "\n".join(history_line(event) for event in events) or _(
            "No check or backup of this Trezor was recorded here."
        )
        title = _("History: {name}").format(name=device.name)
        heading = _("Checks and backups of {name}").format(name=device.name)
        self.dialogs.call(lambda: self.dialogs.opened(InfoWindow(title, heading, text)))

    async def _forget(self, device_id: str) -> None:
        """Forget an unplugged Trezor, after the owner read what goes with it."""
        device = self._device(device_id)
        sure = await asyncio.wrap_future(
            self.dialogs.confirm(
                f"{device_id}:forget",
                _("Forget: {name}").format(name=device.name),
                _(
                    "This computer forgets {name} and its history: when its last check "
                    "passed or failed, and the reminders. If you plug it in again, it is a "
                    "Trezor whose backup was never checked here."
                ).format(name=device.name),
                _("_Forget"),
                _("_Keep it"),
            )
        )
        if not sure:
            return
        try:
            await self._client.forget_device(device_id)
        except (DaemonError, DaemonUnreachable) as e:
            self.dialogs.show_message(
                APP_NAME, _("Could not forget {name}").format(name=device.name), str(e)
            )
            return
        self.mirror.forget(device_id)

    async def _forget_pairing(self, device_id: str) -> None:
        """Forget this computer's pairing with a Safe 7 once the owner read what that changes.
        Done, it needs no window: the row turns `pairing_required` as the daemon publishes
        it. A refusal (no keyring, an operation running, not paired here) is the daemon's
        sentence in a window, as a pairing's end is."""
        device = self._device(device_id)
        if not await asyncio.wrap_future(
            self.dialogs.confirm_forgetting_pairing(device_id, device.name)
        ):
            return
        try:
            await self._client.forget_pairing(device_path(device_id))
        except (DaemonError, DaemonUnreachable) as e:
            self.dialogs.show_message(
                _("Forget pairing: {name}").format(name=device.name),
                _("The pairing was not forgotten"),
                str(e),
            )

    async def _later(self, device_id: str) -> None:
        """Snooze one device's reminders for a day; a failed backup or check only after the
        owner read what they postpone."""
        device = self._device(device_id)
        if device.state in FAILED:
            what = (
                _(
                    "Your written words do not restore this wallet: until this is solved, any "
                    "funds you send to it can be lost. Remind you again tomorrow?"
                )
                if device.state == BackupState.CHECK_FAILED
                else _(
                    "This wallet can never be backed up: until its funds are moved to a new "
                    "wallet, they are lost if the Trezor is lost or breaks. Remind you again "
                    "tomorrow?"
                )
            )
            sure = await asyncio.wrap_future(
                self.dialogs.confirm(
                    f"{device_id}:later",
                    _("Postpone: {name}").format(name=device.name),
                    what,
                    _("_Remind me tomorrow"),
                    _("_Keep reminding me"),
                )
            )
            if not sure:
                return
        self.snoozes.snooze(device_id, DAY)
        # Told again when the day is over, at the next start or plug-in.
        self.snoozes.announce(device_id, "")
        log.info("reminders for %s snoozed for a day", device_id)


def history_line(event: Mapping[str, Any]) -> str:
    """One recorded check or backup as the owner reads it: when, and how it ended (the
    headline its notification had), with the daemon's detail."""
    moment = int(event.get("Time", 0))
    values = {
        "date": local_day(moment),
        "time": time.strftime("%H:%M", time.localtime(moment)),
        "what": finished_title(str(event.get("Kind", "")), str(event.get("Result", ""))),
    }
    if event.get("Detail"):
        return _("{date} {time}: {what} ({detail})").format(detail=event["Detail"], **values)
    return _("{date} {time}: {what}").format(**values)
