"""Desktop notifications through org.freedesktop.Notifications (desktop-notifier over dbus-fast).

Without a tray (GNOME without the AppIndicator extension) these are the applet's main surface,
so each one says what happened and what to do in words, and offers the next step as a button
where the server supports actions. Texts come from the daemon (`Explanation`, `NextStep`,
the operation's message), which never carry a word or a PIN; nothing typed reaches here.
Runs on the asyncio thread; button presses come back on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from desktop_notifier import Button, Capability, DesktopNotifier, Icon, Urgency

from trezor_backup_api.vocabulary import NEEDS_BACKUP, BackupState, OperationKind, Outcome

from .device_mirror import Device

log = logging.getLogger(__name__)

APP_NAME = "Trezor Backup Guard"
CRITICAL_STATES = frozenset({BackupState.BACKUP_FAILED, BackupState.CHECK_FAILED})
CHECK_STATES = frozenset({BackupState.UNVERIFIED, BackupState.CHECK_DUE})
# States worth interrupting the owner for at plug-in.
REMIND_STATES = NEEDS_BACKUP | CRITICAL_STATES | CHECK_STATES


class NotificationActions(Protocol):
    """What a notification's buttons do; implemented by the applet."""

    def check(self, device_id: str) -> None:
        """Start the dry-run check ("Check now")."""

    def backup(self, device_id: str) -> None:
        """Start creating the backup, after the confirmations ("Create backup")."""

    def what_to_do(self, device_id: str) -> None:
        """Open the explanation for a failed backup or check."""

    def later(self, device_id: str) -> None:
        """Snooze reminders for this device ("Later")."""


def reminder_title(device: Device) -> str:
    """The headline of the plug-in reminder for a device's state."""
    titles: dict[str, str] = {
        BackupState.BACKUP_REQUIRED: f"{device.name} has no backup",
        BackupState.BACKUP_FAILED: f"The backup of {device.name} failed",
        BackupState.CHECK_FAILED: f"The backup of {device.name} does not match",
        BackupState.UNVERIFIED: f"Check the backup of {device.name}",
        BackupState.CHECK_DUE: f"Time to check the backup of {device.name}",
        BackupState.EXTRA_BACKUP_UNLOCKED: f"An extra backup of {device.name} can be made now",
    }
    return titles.get(device.state, f"{device.name} needs attention")


def finished_title(kind: str, result: str) -> str:
    """The headline when an operation ends."""
    kinds: dict[str, str] = {OperationKind.CHECK: "Backup check", OperationKind.UNLOCK: "Unlocking"}
    what = kinds.get(kind, "Backup")
    titles: dict[str, str] = {
        Outcome.PASSED: "Backup check passed",
        Outcome.COMPLETED: "Trezor unlocked" if kind == OperationKind.UNLOCK else "Backup created",
        Outcome.MISMATCH: "Backup check failed: the words do not match",
        Outcome.INVALID_WORDS: "Backup check failed: the words are not valid",
        Outcome.CANCELLED: f"{what} cancelled",
        Outcome.DISCONNECTED: f"{what} stopped: the Trezor was unplugged",
        Outcome.REFUSED: f"{what} refused by the Trezor",
    }
    return titles.get(result, f"{what} did not finish")


class Notifier:
    """Sends the applet's notifications; quietly does nothing when turned off or serverless."""

    def __init__(
        self, actions: NotificationActions, enabled: bool = True, icon_path: Path | None = None
    ) -> None:
        self.actions = actions
        self.enabled = enabled
        icon = Icon(path=icon_path) if icon_path else None
        self._notifier = DesktopNotifier(app_name=APP_NAME, app_icon=icon)
        self._buttons: bool | None = None

    async def _supports_buttons(self) -> bool:
        if self._buttons is None:
            try:
                self._buttons = Capability.BUTTONS in await self._notifier.get_capabilities()
            except Exception as e:
                log.info("cannot ask the notification server what it supports: %s", e)
                return False
        return self._buttons

    async def remind(self, device: Device) -> None:
        """The plug-in reminder for a device whose state needs the owner."""
        if device.state not in REMIND_STATES:
            return
        body = " ".join(part for part in (device.explanation, device.next_step) if part)
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if device.state in NEEDS_BACKUP:
            choices.append(("backup", "Create backup", self.actions.backup))
        elif device.state in CHECK_STATES:
            choices.append(("check", "Check now", self.actions.check))
        else:
            choices.append(("what_to_do", "What to do...", self.actions.what_to_do))
        choices.append(("later", "Later", self.actions.later))
        urgency = Urgency.Critical if device.state in CRITICAL_STATES else Urgency.Normal
        await self._send(reminder_title(device), body, urgency, device.id, choices)

    async def finished(self, device: Device, kind: str, result: str, message: str) -> None:
        """An operation's end: passed, mismatch (with what it means), cancelled, ..."""
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if kind == OperationKind.BACKUP and result == Outcome.COMPLETED:
            choices.append(("check", "Check now", self.actions.check))
        urgent = result in (Outcome.MISMATCH, Outcome.INVALID_WORDS) or (
            kind == OperationKind.BACKUP and result != Outcome.COMPLETED
        )
        if result == Outcome.MISMATCH:
            choices.append(("what_to_do", "What to do...", self.actions.what_to_do))
        urgency = Urgency.Critical if urgent else Urgency.Normal
        await self._send(
            finished_title(kind, result), f"{device.name}: {message}", urgency, device.id, choices
        )

    async def message(self, title: str, body: str) -> None:
        """A plain notice, e.g. the daemon's error message when it refused an action."""
        await self._send(title, body, Urgency.Normal, "", [])

    async def _send(
        self,
        title: str,
        body: str,
        urgency: Urgency,
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
        try:
            await self._notifier.send(title, body, urgency=urgency, buttons=buttons)
        except Exception as e:
            # No notification server (yet): the tray still shows the state.
            log.warning("could not show the notification %r: %s", title, e)


def _bind(handler: Callable[[str], None], device_id: str) -> Callable[[], None]:
    return lambda: handler(device_id)
