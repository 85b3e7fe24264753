"""Desktop notifications through org.freedesktop.Notifications (desktop-notifier over dbus-fast).

Without a tray (GNOME without the AppIndicator extension) these and the main window are the
applet's surface, so each one says what happened and what to do in words, offers the next step
as a button where the server supports actions, and opens the main window when clicked. Icon and
urgency follow the news: the tray's looks, critical for danger. Texts come from the daemon
(`Explanation`, `NextStep`, the operation's message), which never carry a word or a PIN;
nothing typed reaches here. Runs on the asyncio thread; button presses come back on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from desktop_notifier import Button, Capability, DesktopNotifier, Icon, Urgency

from trezor_backup_api.vocabulary import NEEDS_BACKUP, BackupState, OperationKind, Outcome

from .device_mirror import Device
from .icons import Look, look_of_state

log = logging.getLogger(__name__)

APP_NAME = "Trezor Backup Guard"
CRITICAL_STATES = frozenset({BackupState.BACKUP_FAILED, BackupState.CHECK_FAILED})
CHECK_STATES = frozenset({BackupState.UNVERIFIED, BackupState.CHECK_DUE})
# States worth interrupting the owner for at plug-in: an unpaired Safe 7 too, whose backup
# this computer cannot guard until it is paired.
REMIND_STATES = NEEDS_BACKUP | CRITICAL_STATES | CHECK_STATES | {BackupState.PAIRING_REQUIRED}


class NotificationActions(Protocol):
    """What a notification's buttons do; implemented by the applet."""

    def check(self, device_id: str) -> None:
        """Start the dry-run check ("Check now")."""

    def backup(self, device_id: str) -> None:
        """Start creating the backup, after the confirmations ("Create backup")."""

    def what_to_do(self, device_id: str) -> None:
        """Open the explanation for a failed backup or check."""

    def pair(self, device_id: str) -> None:
        """Pair a Safe 7 with this computer, after the explanation ("Pair")."""

    def later(self, device_id: str) -> None:
        """Snooze reminders for this device ("Later"), asking first for a failure."""

    def show_window(self, device_id: str = "") -> None:
        """Open the main window (a click on the notification itself)."""


def urgency_of(look: Look) -> Urgency:
    """Danger interrupts (critical: the server keeps it up); everything else is normal."""
    return Urgency.Critical if look is Look.DANGER else Urgency.Normal


def look_of_result(kind: str, result: str) -> Look:
    """The look of an operation's end: calm when it went well, danger when the words or the
    backup failed, attention for the rest (cancelled, unplugged, refused)."""
    if result in (Outcome.PASSED, Outcome.COMPLETED):
        return Look.OK
    if result in (Outcome.MISMATCH, Outcome.INVALID_WORDS) or kind == OperationKind.BACKUP:
        return Look.DANGER
    return Look.ATTENTION


def reminder_title(device: Device) -> str:
    """The headline of the plug-in reminder for a device's state."""
    titles: dict[str, str] = {
        BackupState.BACKUP_REQUIRED: f"{device.name} has no backup",
        BackupState.BACKUP_FAILED: f"The backup of {device.name} failed",
        BackupState.CHECK_FAILED: f"The backup of {device.name} does not match",
        BackupState.UNVERIFIED: f"Check the backup of {device.name}",
        BackupState.CHECK_DUE: f"Time to check the backup of {device.name}",
        BackupState.EXTRA_BACKUP_UNLOCKED: f"An extra backup of {device.name} can be made now",
        BackupState.PAIRING_REQUIRED: f"Pair {device.name} with this computer",
    }
    return titles.get(device.state, f"{device.name} needs attention")


def finished_title(kind: str, result: str) -> str:
    """The headline when an operation ends."""
    kinds: dict[str, str] = {
        OperationKind.CHECK: "Backup check",
        OperationKind.UNLOCK: "Unlocking",
        OperationKind.PAIR: "Pairing",
    }
    what = kinds.get(kind, "Backup")
    done: dict[str, str] = {
        OperationKind.UNLOCK: "Trezor unlocked",
        OperationKind.PAIR: "Paired with this computer",
    }
    # A pairing is also refused for a wrong code or a missing keyring: the message says which.
    refused = "Not paired" if kind == OperationKind.PAIR else f"{what} refused by the Trezor"
    titles: dict[str, str] = {
        Outcome.PASSED: "Backup check passed",
        Outcome.COMPLETED: done.get(kind, "Backup created"),
        Outcome.MISMATCH: "Backup check failed: the words do not match",
        Outcome.INVALID_WORDS: "Backup check failed: the words are not valid",
        Outcome.CANCELLED: f"{what} cancelled",
        Outcome.DISCONNECTED: f"{what} stopped: the Trezor was unplugged",
        Outcome.REFUSED: refused,
    }
    return titles.get(result, f"{what} did not finish")


class Notifier:
    """Sends the applet's notifications; quietly does nothing when turned off or serverless.

    Each carries the icon of the tray's look for its news, and danger is critical."""

    def __init__(
        self,
        actions: NotificationActions,
        enabled: bool = True,
        icons: Mapping[Look, Path] | None = None,
    ) -> None:
        self.actions = actions
        self.enabled = enabled
        self.icons = dict(icons or {})
        app_icon = self.icons.get(Look.OK)
        self._notifier = DesktopNotifier(
            app_name=APP_NAME, app_icon=Icon(path=app_icon) if app_icon else None
        )
        self._buttons: bool | None = None

    async def _supports_buttons(self) -> bool:
        if self._buttons is None:
            try:
                self._buttons = Capability.BUTTONS in await self._notifier.get_capabilities()
            except Exception as e:
                log.info("cannot ask the notification server what it supports: %s", e)
                return False
        return self._buttons

    async def remind(self, device: Device, title: str = "") -> None:
        """The reminder for a device whose state needs the owner (`title` for a reminder
        other than the plug-in one, such as a check falling due)."""
        if device.state not in REMIND_STATES:
            return
        body = " ".join(part for part in (device.explanation, device.next_step) if part)
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if device.connected and device.state in NEEDS_BACKUP:
            choices.append(("backup", "Create backup", self.actions.backup))
        elif device.connected and device.state in CHECK_STATES:
            choices.append(("check", "Check now", self.actions.check))
        elif device.connected and device.state == BackupState.PAIRING_REQUIRED:
            choices.append(("pair", "Pair", self.actions.pair))
        elif device.state in CRITICAL_STATES:
            choices.append(("what_to_do", "What to do...", self.actions.what_to_do))
        choices.append(("later", "Later", self.actions.later))
        look = look_of_state(device.state)
        await self._send(title or reminder_title(device), body, look, device.id, choices)

    async def ladder(self, device: Device, title: str, body: str) -> None:
        """A step of the reminder ladder: the check is due soon, due or overdue."""
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if device.connected and not device.operation:
            choices.append(("check", "Check now", self.actions.check))
        choices.append(("later", "Later", self.actions.later))
        await self._send(title, body, Look.ATTENTION, device.id, choices)

    async def summary(self, devices: Sequence[Device]) -> None:
        """At start-up: nothing when all is well, the reminder itself for one device, one
        notification naming them all for several."""
        needing = [d for d in devices if d.state in REMIND_STATES]
        if len(needing) == 1:
            await self.remind(needing[0])
        elif needing:
            looks = [look_of_state(d.state) for d in needing]
            look = Look.DANGER if Look.DANGER in looks else Look.ATTENTION
            body = "\n".join(f"{d.name}: {reminder_title(d)}" for d in needing)
            choices: list[tuple[str, str, Callable[[str], None]]] = [
                ("open", "Open", self.actions.show_window)
            ]
            await self._send(f"{len(needing)} Trezors need attention", body, look, "", choices)

    async def finished(self, device: Device, kind: str, result: str, message: str) -> None:
        """An operation's end: passed, mismatch (with what it means), cancelled, ..."""
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if kind == OperationKind.BACKUP and result == Outcome.COMPLETED:
            choices.append(("check", "Check now", self.actions.check))
        if result == Outcome.MISMATCH:
            choices.append(("what_to_do", "What to do...", self.actions.what_to_do))
        await self._send(
            finished_title(kind, result),
            f"{device.name}: {message}",
            look_of_result(kind, result),
            device.id,
            choices,
        )

    async def offer(
        self, title: str, body: str, look: Look, choice: tuple[str, str, Callable[[str], None]]
    ) -> None:
        """A notice with one button (e.g. "Start the service")."""
        await self._send(title, body, look, "", [choice])

    async def message(self, title: str, body: str, look: Look = Look.ATTENTION) -> None:
        """A plain notice, e.g. the backup service could not be started."""
        await self._send(title, body, look, "", [])

    async def _send(
        self,
        title: str,
        body: str,
        look: Look,
        device_id: str,
        choices: list[tuple[str, str, Callable[[str], None]]],
    ) -> None:
        if not self.enabled:
            return
        buttons: list[Button] = []
        if choices and await self._supports_buttons():
            buttons = [
                Button(title=label, identifier=key, on_pressed=_bind(handler, device_id))
                for key, label, handler in choices
            ]
        icon = self.icons.get(look)
        try:
            await self._notifier.send(
                title,
                body,
                urgency=urgency_of(look),
                icon=Icon(path=icon) if icon else None,
                buttons=buttons,
                on_clicked=_bind(self.actions.show_window, device_id),
            )
        except Exception as e:
            # No notification server (yet): the tray and the window still show the state.
            log.warning("could not show the notification %r: %s", title, e)


def _bind(handler: Callable[[str], None], device_id: str) -> Callable[[], None]:
    return lambda: handler(device_id)
