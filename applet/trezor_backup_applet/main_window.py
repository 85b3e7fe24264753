"""The main window: every Trezor the applet knows, what its state means, and what to do.

It is how an owner acts on a desktop without a tray (GNOME without the AppIndicator
extension), and what the tray icon and a notification's click open. One row per device,
connected or last seen: its state in words with the tray's look, the daemon's explanation and
next step, the last check, and buttons for the actions that fit. A pure model (`row_of`)
decides the texts and the buttons; the GTK part only draws it, on the GTK thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from trezor_backup_api.actions import CHECKABLE, Action, allowed_actions
from trezor_backup_api.i18n import N_, _, local_day, ngettext
from trezor_backup_api.urgency import most_urgent_first
from trezor_backup_api.vocabulary import Outcome

from .device_mirror import Device
from .dialogs import Window, accessible, wrapped
from .gtk_setup import APP_NAME, GLib, Gtk, pixbuf_of
from .guide import Guide, model_name, next_step_and_guide
from .icons import Look, draw, look_name, look_of_state
from .reminders import Step, step_of
from .tray import state_words, unsaid_model

NOT_RUNNING = N_("The backup service is not running, so what you see may be out of date.")
LAST_CHECK_LINES: dict[str, str] = {
    Outcome.PASSED: N_("Last check: {date}, passed."),
    Outcome.MISMATCH: N_("Last check: {date}, failed: the words belong to another wallet."),
    Outcome.INVALID_WORDS: N_(
        "Last check: {date}, failed: the words are not a valid recovery seed."
    ),
}
"""The line of each verdict on the written words (msgids)."""


class WindowActions(Protocol):
    """What the window's buttons do; implemented by the applet (called on the GTK thread)."""

    def check(self, device_id: str) -> None: ...
    def backup(self, device_id: str) -> None: ...
    def unlock(self, device_id: str) -> None: ...
    def pair(self, device_id: str) -> None: ...
    def cancel(self, device_id: str) -> None: ...
    def what_to_do(self, device_id: str) -> None: ...
    def history(self, device_id: str) -> None: ...
    def later(self, device_id: str) -> None: ...
    def forget(self, device_id: str) -> None: ...
    def forget_pairing(self, device_id: str) -> None:
        """Forget pairing... (a Safe 7 paired here). Only here, never in the tray menu: it is
        rarely wanted (giving the computer away), and undoing it takes the Trezor and its
        code, so it waits in the window behind a confirmation, not one click from the icon."""
        ...

    def start_service(self) -> None: ...


@dataclass(frozen=True)
class Row:
    """One device as the window shows it."""

    device_id: str
    title: str
    state: str
    look: Look
    lines: tuple[str, ...]
    buttons: tuple[tuple[str, str], ...]
    """(label, action name of WindowActions) for the actions that fit now."""
    model: str = ""
    """The model, shown beside the title where the title does not say it."""
    guide: Guide | None = None
    """Trezor's guide for the next step, shown as a link under the buttons."""


def last_check_line(device: Device) -> str:
    """When the latest verdict on the written words came, and what it was."""
    date = local_day(device.last_check_time)
    line = LAST_CHECK_LINES.get(device.last_check_result)
    if line is None:  # a verdict this version does not know: the daemon's word for it
        result = device.last_check_result.replace("_", " ")
        return _("Last check: {date}, {result}.").format(date=date, result=result)
    return _(line).format(date=date)


def row_of(device: Device, now: float, daemon_running: bool = True) -> Row:
    """The texts and buttons of one device's row at time `now`. Without the daemon nothing
    about the device can be vouched for, whether it is plugged in or not: its state is
    unknown, and only what this computer remembers (the last check) is shown."""
    model = unsaid_model(device)
    if not daemon_running:
        known = (last_check_line(device),) if device.last_check_time else ()
        state = _("State unknown")
        return Row(device.id, device.name, state, Look.OFFLINE, known, (), model)
    next_step, guide = next_step_and_guide(device)
    lines = [part for part in (device.explanation_for_owner(), next_step) if part]
    step = step_of(device, now)
    if step is not None:
        due = {
            Step.DUE_SOON: _("Next check due on {date}."),
            Step.DUE: _("Check due since {date}."),
            Step.OVERDUE: _("Check overdue: it was due on {date}."),
        }[step]
        lines.append(due.format(date=local_day(device.check_due_time)))
    if device.last_check_time:
        lines.append(last_check_line(device))
    elif device.state in CHECKABLE:
        lines.append(_("Last check: never on this computer."))
    if not device.connected:
        away = (
            _("Not connected since {date}. Plug in {name} to check it or to act on it.")
            if device.last_seen
            else _("Not connected. Plug in {name} to check it or to act on it.")
        )
        lines.append(away.format(date=local_day(device.last_seen), name=device.name))
    allowed = allowed_actions(device, connected=device.connected)
    buttons = [
        (label, action.value)
        for action, label in (
            (Action.BACKUP, _("Create _backup...")),
            (Action.CHECK, _("_Check backup...")),
            (Action.UNLOCK, _("_Unlock...")),
            (Action.PAIR, _("_Pair with this computer...")),
            (Action.CANCEL, _("_Cancel")),
            (Action.WHAT_TO_DO, _("_What to do...")),
        )
        if action in allowed
    ]
    buttons.append((_("_History"), "history"))
    if look_of_state(device.state) is not Look.OK or step is not None:
        buttons.append((_("Remind me _later..."), "later"))
    buttons += [
        (label, action.value)
        for action, label in (
            (Action.FORGET, _("_Forget...")),
            (Action.FORGET_PAIRING, _("Forget _pairing...")),
        )
        if action in allowed
    ]
    words = state_words(device)
    return Row(
        device.id,
        device.name,
        words[:1].upper() + words[1:],
        Look.BUSY if device.operation else look_of_state(device.state),
        tuple(lines),
        tuple(buttons),
        model,
        guide,
    )


class MainWindow(Window):
    """The window; `show_devices` redraws it (GTK thread).

    A header bar carries the title, the close button and how many Trezors there are. The
    list takes the height its rows need, up to what the screen has room for, and scrolls
    beyond: three Trezors are all in view when it opens."""

    MARGIN = 100
    """Screen height left for the header bar, the window's padding and a panel."""

    def __init__(
        self,
        actions: WindowActions,
        on_open: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(APP_NAME)
        self.actions = actions
        self.clock = clock
        self.on_open = on_open
        self.window.set_resizable(True)
        self.window.set_type_hint(0)  # a normal window (Gdk.WindowTypeHint.NORMAL)
        self.header = Gtk.HeaderBar(title=APP_NAME, show_close_button=True)
        self.window.set_titlebar(self.header)
        self.service = Gtk.InfoBar(message_type=Gtk.MessageType.WARNING)
        self.service.get_content_area().add(wrapped(_(NOT_RUNNING)))
        self.start_button = self.service.add_button(_("_Start the service"), 1)
        self.service.connect("response", lambda _bar, _r: actions.start_service())
        self.service.get_content_area().show_all()
        self.service.set_no_show_all(True)  # shown only while the daemon is away
        self.box.pack_start(self.service, False, False, 0)
        # Natural width too: else the window opens at the rows' minimum width, where their
        # text wraps into more lines than the height asked for holds.
        self.scroller = Gtk.ScrolledWindow(
            hscrollbar_policy=Gtk.PolicyType.NEVER,
            propagate_natural_height=True,
            propagate_natural_width=True,
        )
        self.list = Gtk.ListBox(selection_mode=Gtk.SelectionMode.NONE)
        accessible(self.list, _("Your Trezors"))
        self.scroller.add(self.list)
        self.box.pack_start(self.scroller, True, True, 0)
        self.rows: list[Row] = []
        self.buttons: dict[tuple[str, str], Gtk.Button] = {}

    def close(self) -> None:
        """Hide, keep for the next time (the applet goes on in the background)."""
        self.window.hide()

    def show(self) -> None:
        self._fit_screen()
        super().show()
        self.on_open()

    def _fit_screen(self) -> None:
        """Let the list grow to the screen's work area (the monitor the window opens on)."""
        display = self.window.get_display()
        monitor = display.get_primary_monitor() or display.get_monitor(0)
        if monitor is not None:
            height = monitor.get_workarea().height
            self.scroller.set_max_content_height(max(200, height - self.MARGIN))

    def show_devices(self, devices: Sequence[Device], daemon_running: bool) -> None:
        """Redraw the rows for this device list, most urgent first (the tray's order)."""
        self.service.set_visible(not daemon_running)
        count = len(devices)
        self.header.set_subtitle(
            ngettext("{count} Trezor", "{count} Trezors", count).format(count=count)
            if count
            else ""
        )
        now = self.clock()
        rows = [row_of(device, now, daemon_running) for device in most_urgent_first(devices)]
        if rows == self.rows and self.list.get_children():
            return  # nothing the owner reads changed: keep the widgets and the focus
        for child in self.list.get_children():
            self.list.remove(child)
        self.buttons = {}
        self.rows = rows
        if not self.rows:
            empty = wrapped(
                _("No Trezor yet. Plug in your Trezor: its backup state appears here.")
                if daemon_running
                else _("No Trezor known yet.")
            )
            empty.set_margin_top(12)
            self.list.add(empty)
        for row in self.rows:
            self.list.add(self._draw(row))
        self.list.show_all()

    def _draw(self, row: Row) -> Gtk.Widget:
        box = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=10, margin=8)
        icon = Gtk.Image.new_from_pixbuf(pixbuf_of(draw(row.look, 32)))
        icon.set_valign(Gtk.Align.START)
        accessible(icon, look_name(row.look))
        box.pack_start(icon, False, False, 0)
        text = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=2)
        title = f"<b>{GLib.markup_escape_text(row.title)}</b>"
        if row.model:
            model = GLib.markup_escape_text(model_name(row.model))
            title += f"  <span alpha='65%'>Trezor {model}</span>"
        text.pack_start(wrapped(title, markup=True, width=60), False, False, 0)
        state = wrapped(f"<b>{GLib.markup_escape_text(row.state)}</b>", markup=True, width=60)
        text.pack_start(state, False, False, 0)
        for line in row.lines:
            text.pack_start(wrapped(line, width=60), False, False, 0)
        actions = Gtk.Box(spacing=6)
        for label, name in row.buttons:
            button = Gtk.Button.new_with_mnemonic(label)
            button.connect("clicked", lambda _b, n=name, i=row.device_id: self._act(n, i))
            actions.pack_start(button, False, False, 0)
            self.buttons[(row.device_id, name)] = button
        text.pack_start(actions, False, False, 2)
        if row.guide is not None:
            # A line of its own: beside the buttons it made a longer language's row wider
            # than the screen.
            link = Gtk.LinkButton.new_with_label(row.guide.url, row.guide.name)
            link.set_tooltip_text(None)  # the address is for the browser, not the owner
            link.set_halign(Gtk.Align.START)
            text.pack_start(link, False, False, 0)
        box.pack_start(text, True, True, 0)
        list_row = Gtk.ListBoxRow(activatable=False)
        list_row.add(box)
        # A screen reader names the row by its Trezor and state in words, and reads the lines
        # as its description: the state is never only the icon's colour and shape.
        accessible(list_row, _("{name}: {state}").format(name=row.title, state=row.state))
        list_row.get_accessible().set_description("\n".join(row.lines))
        return list_row

    def _act(self, name: str, device_id: str) -> None:
        action: Callable[[str], None] = getattr(self.actions, name)
        action(device_id)
