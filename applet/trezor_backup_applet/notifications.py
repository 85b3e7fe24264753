"""Desktop notifications through org.freedesktop.Notifications (desktop-notifier over dbus-fast).

Without a tray (GNOME without the AppIndicator extension) these and the main window are the
applet's surface, so each one says in a title and one sentence what happened and what to do,
offers the next step (and Trezor's guide to it) as a button where the server supports actions,
and opens the main window when clicked; no address is ever in the text. One notification per
Trezor, always current: replaced when its news changes, withdrawn when it is no longer true.
Icon and urgency follow the news: the tray's looks, critical for danger. Texts are this
module's or the daemon's (an operation's message), which never carry a word or a PIN; nothing
typed reaches here. Runs on the asyncio thread; button presses come back on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from desktop_notifier import Button, Capability, DesktopNotifier, Icon, Urgency

from trezor_backup_api.actions import FAILED, Action, allowed_actions
from trezor_backup_api.i18n import N_, _
from trezor_backup_api.vocabulary import NEEDS_BACKUP, BackupState, OperationKind, Outcome

from .device_mirror import Device
from .guide import next_step_and_guide
from .icons import Look, look_of_state
from .snooze import SnoozeStore

log = logging.getLogger(__name__)

APP_NAME = "Trezor Backup Guard"
CHECK_STATES = frozenset({BackupState.UNVERIFIED, BackupState.CHECK_DUE})
# States worth interrupting the owner for at plug-in: an unpaired Safe 7 too, whose backup
# this computer cannot guard until it is paired.
REMIND_STATES = NEEDS_BACKUP | FAILED | CHECK_STATES | {BackupState.PAIRING_REQUIRED}


class NotificationActions(Protocol):
    """What a notification's buttons do; implemented by the applet."""

    def check(self, device_id: str) -> None:
        """Start the dry-run check ("Check now")."""

    def backup(self, device_id: str) -> None:
        """Start creating the backup, after the confirmations ("Create backup")."""

    def what_to_do(self, device_id: str) -> None:
        """Open the explanation for a failed backup or check."""

    def guide(self, device_id: str) -> None:
        """Open Trezor's guide for the device's next step ("Trezor's guide")."""

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


REMINDER_TITLES: dict[str, str] = {
    BackupState.BACKUP_REQUIRED: N_("{name} has no backup"),
    BackupState.BACKUP_FAILED: N_("The backup of {name} failed"),
    BackupState.CHECK_FAILED: N_("The backup check of {name} failed"),
    BackupState.UNVERIFIED: N_("Check the backup of {name}"),
    BackupState.CHECK_DUE: N_("Time to check the backup of {name}"),
    BackupState.EXTRA_BACKUP_UNLOCKED: N_("An extra backup of {name} can be made now"),
    BackupState.PAIRING_REQUIRED: N_("Pair {name} with this computer"),
}
"""The headline of each state's reminder (msgids)."""


def reminder_title(device: Device) -> str:
    """The headline of the reminder for a device's state."""
    return _(REMINDER_TITLES.get(device.state, N_("{name} needs attention"))).format(
        name=device.name
    )


REMINDER_SENTENCES: dict[str, str] = {
    BackupState.BACKUP_REQUIRED: N_(
        "It has never been backed up: create the backup before you send funds to it."
    ),
    BackupState.BACKUP_FAILED: N_(
        "Its backup was started and never finished: move its funds to a wallet with a backup."
    ),
    BackupState.CHECK_FAILED: N_(
        "Your written words do not restore this wallet: send no funds to it."
    ),
    BackupState.UNVERIFIED: N_(
        "Check your written recovery words once, so you know they restore this wallet."
    ),
    BackupState.CHECK_DUE: N_("Its last backup check is long ago: check your written words again."),
    BackupState.EXTRA_BACKUP_UNLOCKED: N_(
        "Create it now: the chance is gone when the Trezor is unplugged."
    ),
    BackupState.PAIRING_REQUIRED: N_("Pair it once, so this computer can read its backup state."),
}
"""The one sentence under a reminder's title: what is wrong and what to do. The daemon's
`Explanation` and `NextStep` are for the window, where there is room for them. (msgids)"""

FINISHED_TITLES: dict[str, str] = {
    Outcome.PASSED: N_("Backup check passed"),
    Outcome.MISMATCH: N_("Backup check failed: the words do not match"),
    Outcome.INVALID_WORDS: N_("Backup check failed: the words are not valid"),
}
"""The headline of an end that only a check has (msgids)."""
FINISHED_TITLES_BY_KIND: dict[str, dict[str, str]] = {
    OperationKind.CHECK: {
        Outcome.COMPLETED: N_("Backup check passed"),
        Outcome.CANCELLED: N_("Backup check cancelled"),
        Outcome.DISCONNECTED: N_("Backup check stopped: the Trezor was unplugged"),
        Outcome.REFUSED: N_("Backup check refused by the Trezor"),
        "": N_("Backup check did not finish"),
    },
    OperationKind.BACKUP: {
        Outcome.COMPLETED: N_("Backup created"),
        Outcome.CANCELLED: N_("Backup cancelled"),
        Outcome.DISCONNECTED: N_("Backup stopped: the Trezor was unplugged"),
        Outcome.REFUSED: N_("Backup refused by the Trezor"),
        "": N_("Backup did not finish"),
    },
    OperationKind.UNLOCK: {
        Outcome.COMPLETED: N_("Trezor unlocked"),
        Outcome.CANCELLED: N_("Unlocking cancelled"),
        Outcome.DISCONNECTED: N_("Unlocking stopped: the Trezor was unplugged"),
        Outcome.REFUSED: N_("Unlocking refused by the Trezor"),
        "": N_("Unlocking did not finish"),
    },
    OperationKind.PAIR: {
        Outcome.COMPLETED: N_("Paired with this computer"),
        Outcome.CANCELLED: N_("Pairing cancelled"),
        Outcome.DISCONNECTED: N_("Pairing stopped: the Trezor was unplugged"),
        # A pairing is also refused for a wrong code or a missing keyring: the message says
        # which.
        Outcome.REFUSED: N_("Not paired"),
        "": N_("Pairing did not finish"),
    },
}
"""The headline of each operation's end, by kind and result ("": any other end); a kind
this version does not know is told as a backup's (msgids)."""


def finished_title(kind: str, result: str) -> str:
    """The headline when an operation ends."""
    if result in FINISHED_TITLES:
        return _(FINISHED_TITLES[result])
    titles = FINISHED_TITLES_BY_KIND.get(kind, FINISHED_TITLES_BY_KIND[OperationKind.BACKUP])
    return _(titles.get(result, titles[""]))


class Notifier:
    """Sends the applet's notifications, one per Trezor at a time; quietly does nothing when
    turned off or serverless.

    A device's new notification replaces its last one (closed, then sent: desktop-notifier
    6 always sends `replaces_id` 0), and a reminder whose state is no longer true is withdrawn
    (`CloseNotification`). Which state each device's reminder last announced is kept in the
    store, so a restarted applet repeats nothing that did not change. Each carries the icon
    of the tray's look for its news, and danger is critical."""

    def __init__(
        self,
        actions: NotificationActions,
        store: SnoozeStore,
        enabled: bool = True,
        icons: Mapping[Look, Path] | None = None,
    ) -> None:
        self.actions = actions
        self.store = store
        self.enabled = enabled
        self.icons = dict(icons or {})
        app_icon = self.icons.get(Look.OK)
        self._notifier = DesktopNotifier(
            app_name=APP_NAME, app_icon=Icon(path=app_icon) if app_icon else None
        )
        self._buttons: bool | None = None
        self._live: dict[str, Shown] = {}
        """The notification each device has on the server now (as far as this applet knows)."""
        self._sending = asyncio.Lock()
        """Held while a notification is sent: what `follow` reads of `_live` is then settled
        (an operation's end is sent before the state it leads to arrives)."""

    async def _supports_buttons(self) -> bool:
        if self._buttons is None:
            try:
                self._buttons = Capability.BUTTONS in await self._notifier.get_capabilities()
            except Exception as e:
                log.info("cannot ask the notification server what it supports: %s", e)
                return False
        return self._buttons

    def is_news(self, device: Device) -> bool:
        """Whether the device's state is one to tell and not the one last told about it."""
        return device.state in REMIND_STATES and self.store.announced(device.id) != device.state

    async def remind(self, device: Device) -> None:
        """The reminder for a device whose state needs the owner: a title, one sentence, and
        the next step, the guide and "Later" as buttons."""
        if device.state not in REMIND_STATES:
            return
        guide = next_step_and_guide(device)[1]
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        allowed = allowed_actions(device, connected=device.connected)
        # One next step, the first that the rule allows: a failure's explanation before a
        # check (of a check that failed).
        for action, text, run in (
            (Action.BACKUP, _("Create backup"), self.actions.backup),
            (Action.WHAT_TO_DO, _("What to do..."), self.actions.what_to_do),
            (Action.CHECK, _("Check now"), self.actions.check),
            (Action.PAIR, _("Pair"), self.actions.pair),
        ):
            if action in allowed:
                choices.append((action.value, text, run))
                break
        if guide is not None:
            choices.append(("guide", _("Trezor's guide"), self.actions.guide))
        choices.append(("later", _("Later"), self.actions.later))
        look = look_of_state(device.state)
        body = _(REMINDER_SENTENCES.get(device.state, N_("Open Trezor Backup Guard to see why.")))
        self.store.announce(device.id, device.state)
        await self._send(reminder_title(device), body, look, device.id, choices, device.state)

    async def follow(self, device: Device) -> None:
        """The device's state changed: its reminder, if one is up, is replaced by the new
        state's, or withdrawn when the new state needs nothing. An operation's end that is up
        already told the owner: its state counts as announced."""
        async with self._sending:
            shown = self._live.get(device.id)
        if shown is None or shown.state == device.state:
            return
        if not shown.state:
            self.store.announce(device.id, device.state if device.state in REMIND_STATES else "")
        elif device.connected and device.state in REMIND_STATES:
            await self.remind(device)
        else:
            self.store.announce(device.id, "")
            await self.withdraw(device.id)

    async def withdraw(self, device_id: str) -> None:
        """Close the device's notification: what it said is no longer true."""
        shown = self._live.pop(device_id, None)
        if shown is None:
            return
        try:
            await self._notifier.clear(shown.identifier)
        except Exception as e:
            log.info("could not withdraw a notification: %s", e)

    async def withdraw_all(self) -> None:
        """Close every device's notification: the applet is quitting, and their buttons
        would call no one. What they announced stays in the store."""
        for device_id in list(self._live):
            await self.withdraw(device_id)

    async def ladder(self, device: Device, title: str, body: str) -> None:
        """A step of the reminder ladder: the check is due soon, due or overdue."""
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if Action.CHECK in allowed_actions(device, connected=device.connected):
            choices.append(("check", _("Check now"), self.actions.check))
        choices.append(("later", _("Later"), self.actions.later))
        await self._send(title, body, Look.ATTENTION, device.id, choices)

    async def finished(self, device: Device, kind: str, result: str, message: str) -> None:
        """An operation's end: passed, mismatch (with what it means), cancelled, ..."""
        choices: list[tuple[str, str, Callable[[str], None]]] = []
        if kind == OperationKind.BACKUP and result == Outcome.COMPLETED:
            # The daemon reads the device again only after this signal: ask the rule about
            # the state a finished backup leaves (docs/dbus-api.md).
            backed_up = replace(device, state=BackupState.UNVERIFIED, operation="")
            if Action.CHECK in allowed_actions(backed_up, connected=device.connected):
                choices.append(("check", _("Check now"), self.actions.check))
        if result in (Outcome.MISMATCH, Outcome.INVALID_WORDS):
            choices.append(("what_to_do", _("What to do..."), self.actions.what_to_do))
        await self._send(
            finished_title(kind, result),
            _("{name}: {message}").format(name=device.name, message=message),
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
        announces: str = "",
    ) -> None:
        """Send, replacing the device's notification; `announces` is the state a reminder
        tells of ("" for other news), which `follow` compares with the state that comes."""
        if not self.enabled:
            return
        async with self._sending:
            buttons: list[Button] = []
            if choices and await self._supports_buttons():
                buttons = [
                    Button(title=label, identifier=key, on_pressed=_bind(handler, device_id))
                    for key, label, handler in choices
                ]
            icon = self.icons.get(look)
            if device_id:
                await self.withdraw(device_id)
            try:
                identifier = await self._notifier.send(
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
                return
            if device_id:
                self._live[device_id] = Shown(identifier, announces)


@dataclass(frozen=True)
class Shown:
    """A device's notification on the server: its identifier, and the state it announced
    ("" for an operation's end or a ladder step)."""

    identifier: str
    state: str


def _bind(handler: Callable[[str], None], device_id: str) -> Callable[[], None]:
    return lambda: handler(device_id)
