"""The tray icon and its menu (pystray, on the GTK main loop of the main thread).

The menu is a plain model first (`menu_entries`, a pure function of the device list), then
pystray items: the model is what tests and the tooltip read, pystray only draws it. pystray's
setters for icon, title and menu schedule their work with GLib's idle_add, so `Tray.show` may
be called from the asyncio thread. Backends: appindicator where a StatusNotifier host runs,
else gtk (XEmbed); never xorg, which has no menu.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Protocol

from trezor_backup_api.actions import Action, allowed_actions
from trezor_backup_api.i18n import N_, _
from trezor_backup_api.i18n import state_words as state_words_of
from trezor_backup_api.urgency import most_urgent_first
from trezor_backup_api.vocabulary import OperationKind

from .device_mirror import Device
from .gtk_setup import Gio, GLib
from .icons import Look, draw, look_for

log = logging.getLogger(__name__)

TRAY_BACKENDS = ("appindicator", "gtk")
OPERATION_WORDS: dict[str, str] = {
    OperationKind.CHECK: N_("checking the backup"),
    OperationKind.BACKUP: N_("creating the backup"),
    OperationKind.UNLOCK: N_("waiting for the PIN"),
    OperationKind.PAIR: N_("pairing"),
}


class TrayActions(Protocol):
    """What the menu's items do; implemented by the applet (called on the GTK thread)."""

    def check(self, device_id: str) -> None:
        """Check backup..."""

    def backup(self, device_id: str) -> None:
        """Create backup..."""

    def what_to_do(self, device_id: str) -> None:
        """What to do..."""

    def unlock(self, device_id: str) -> None:
        """Unlock..."""

    def pair(self, device_id: str) -> None:
        """Pair with this computer... (a Safe 7 that tells this computer nothing yet)."""

    def cancel(self, device_id: str) -> None:
        """Cancel the running operation."""

    def show_window(self, device_id: str = "") -> None:
        """Open Trezor Backup Guard (the main window); also a left click on the icon."""

    def start_service(self) -> None:
        """Start the backup service (D-Bus activation)."""

    def quit(self) -> None:
        """Quit the applet."""


@dataclass(frozen=True)
class MenuEntry:
    """One menu line: a text, whether it can be clicked, and what it does."""

    text: str
    action: Callable[[], None] | None = None
    enabled: bool = True
    submenu: tuple[MenuEntry, ...] = field(default_factory=tuple)
    default: bool = False
    """The item a left click on the icon runs."""

    @property
    def separator(self) -> bool:
        """A divider line."""
        return self.text == "-"


SEPARATOR = MenuEntry("-", enabled=False)


def state_words(device: Device) -> str:
    """The device's state as the owner reads it (the raw name for a state this version lacks)."""
    if device.operation:
        words = OPERATION_WORDS.get(device.operation)
        return _(words) if words else device.operation
    return state_words_of(device.state)


def unsaid_model(device: Device) -> str:
    """The model, where the device's name does not say it already ("Savings" is a Safe 5),
    else "": "My Model One (One)" says it twice."""
    return "" if device.model.lower() in device.name.lower() else device.model


def device_line(device: Device) -> str:
    """ "Savings (Safe 5): needs a backup", "My Model One: backup checked"."""
    model = unsaid_model(device)
    if model:
        return _("{name} ({model}): {state}").format(
            name=device.name, model=model, state=state_words(device)
        )
    return _("{name}: {state}").format(name=device.name, state=state_words(device))


def summary(devices: Sequence[Device], daemon_running: bool) -> str:
    """The tooltip: the whole state in words."""
    if not daemon_running:
        return _("Trezor Backup Guard: the backup service is not running")
    connected = most_urgent_first(d for d in devices if d.connected)
    if not connected:
        return _("Trezor Backup Guard: no Trezor connected")
    return _("Trezor Backup Guard: {devices}").format(
        devices="; ".join(device_line(d) for d in connected)
    )


def menu_entries(
    devices: Sequence[Device], daemon_running: bool, actions: TrayActions
) -> list[MenuEntry]:
    """The menu for this device list: a line per device, most urgent first (the window's and
    `status`'s order), its actions enabled where they fit."""
    entries: list[MenuEntry] = [
        MenuEntry(_("Open Trezor Backup Guard"), actions.show_window, default=True)
    ]
    connected = most_urgent_first(d for d in devices if d.connected)
    if not daemon_running:
        entries.append(MenuEntry(_("The backup service is not running"), actions.show_window))
        entries.append(MenuEntry(_("Start the service"), actions.start_service))
    elif not connected:
        entries.append(MenuEntry(_("No Trezor connected"), actions.show_window))
    for device in connected:
        device_id = device.id
        allowed = allowed_actions(device)
        # Check and Create are always listed, the rest where they would fit with nothing
        # running (an Unlock... greyed out while the Trezor pairs); all enabled by the rule.
        listed = {Action.CHECK, Action.BACKUP} | allowed_actions(replace(device, operation=""))
        show = functools.partial(actions.show_window, device_id)
        entries.append(MenuEntry(device_line(device), show))
        for action, text, run in (
            (Action.CHECK, _("Check backup..."), actions.check),
            (Action.BACKUP, _("Create backup..."), actions.backup),
            (Action.UNLOCK, _("Unlock..."), actions.unlock),
            (Action.PAIR, _("Pair with this computer..."), actions.pair),
            (Action.WHAT_TO_DO, _("What to do..."), actions.what_to_do),
            (Action.CANCEL, _("Cancel"), actions.cancel),
        ):
            if action in listed or action in allowed:
                # Indented under its device's line: the indent is layout, not text.
                entries.append(
                    MenuEntry(f"    {text}", functools.partial(run, device_id), action in allowed)
                )
    last_known = most_urgent_first(d for d in devices if not d.connected)
    if last_known:
        entries.append(SEPARATOR)
        entries += [
            MenuEntry(
                _("Last seen: {device}").format(device=device_line(d)),
                functools.partial(actions.show_window, d.id),
            )
            for d in last_known
        ]
    entries.append(SEPARATOR)
    entries.append(MenuEntry(_("Quit"), actions.quit))
    return entries


def status_notifier_host() -> bool:
    """Whether the session has a StatusNotifier host (KDE, GNOME with the AppIndicator
    extension), which the appindicator backend is for."""
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
            "NameHasOwner", GLib.Variant("(s)", ("org.kde.StatusNotifierWatcher",)),
            GLib.VariantType("(b)"), Gio.DBusCallFlags.NONE, 2000, None,
        )  # fmt: skip
    except GLib.Error:
        return False
    return bool(reply.unpack()[0])


def load_pystray() -> ModuleType:
    """pystray with the backend for this desktop: appindicator where a StatusNotifier host
    runs, else gtk (XEmbed; libappindicator's own XEmbed fallback logs a Gdk-CRITICAL); the
    other one when the first does not load."""
    wanted = os.environ.get("PYSTRAY_BACKEND")
    errors = []
    order = TRAY_BACKENDS if status_notifier_host() else tuple(reversed(TRAY_BACKENDS))
    for backend in (wanted,) if wanted in TRAY_BACKENDS else order:
        os.environ["PYSTRAY_BACKEND"] = str(backend)
        try:
            return importlib.import_module("pystray")
        except Exception as e:  # pystray raises ImportError, GI may raise ValueError
            errors.append(f"{backend}: {e}")
            for name in [m for m in sys.modules if m.startswith("pystray")]:
                del sys.modules[name]
    raise ImportError("no tray backend works here: " + "; ".join(errors))


class Tray:
    """The pystray icon; `run()` owns the main thread's GTK loop until `stop()`."""

    ICON_SIZE = 64

    def __init__(self, pystray: ModuleType, actions: TrayActions) -> None:
        self.pystray = pystray
        self.actions = actions
        self.entries: list[MenuEntry] = menu_entries([], False, actions)
        self.look = Look.OFFLINE
        self.icon: Any = pystray.Icon(
            "trezor-backup-guard",
            icon=draw(Look.OFFLINE, self.ICON_SIZE),
            title=summary([], False),
            menu=pystray.Menu(lambda: self._items(self.entries)),
        )

    def _items(self, entries: Sequence[MenuEntry]) -> list[Any]:
        pystray = self.pystray
        items: list[Any] = []
        for entry in entries:
            if entry.separator:
                items.append(pystray.Menu.SEPARATOR)
            elif entry.submenu:
                items.append(
                    pystray.MenuItem(
                        entry.text, pystray.Menu(*self._items(entry.submenu)), enabled=entry.enabled
                    )
                )
            else:
                items.append(
                    pystray.MenuItem(
                        entry.text,
                        _guarded(entry.action),
                        enabled=entry.enabled,
                        default=entry.default,
                    )
                )
        return items

    def show(self, devices: Sequence[Device], daemon_running: bool) -> None:
        """Redraw icon, tooltip and menu for this device list (any thread)."""
        self.entries = menu_entries(devices, daemon_running, self.actions)
        look = look_for(devices, daemon_running)
        if look is not self.look:
            self.look = look
            self.icon.icon = draw(look, self.ICON_SIZE)
        self.icon.title = summary(devices, daemon_running)
        self.icon.update_menu()

    def run(self, setup: Callable[[], None]) -> None:
        """Show the icon and run the GTK loop; `setup` runs once it is visible."""

        def started(icon: Any) -> None:
            icon.visible = True
            setup()

        try:
            self.icon.run(setup=started)
        except Exception as e:  # GLib.Error, from pystray's own notifier
            # pystray closes its notification on the way out, and raises when the session has
            # no notification server: the loop has ended, so this only must not crash the exit.
            log.warning("the tray ended with an error: %s", e)

    def stop(self) -> None:
        """End the GTK loop (any thread)."""
        self.icon.stop()


def _guarded(action: Callable[[], None] | None) -> Callable[[], None]:
    """A menu callback that logs instead of raising into the GTK loop."""

    def run() -> None:
        if action is None:
            return
        try:
            action()
        except Exception:
            log.exception("menu action failed")

    return run
