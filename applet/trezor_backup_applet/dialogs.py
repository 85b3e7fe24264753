"""The applet's dialogs, in GTK 3, on the GLib main loop the tray already runs.

Every GTK call happens on the thread that runs the default GLib main context (main.py's main
thread: pystray's loop, or the applet's own loop when there is no tray). The asyncio thread
reaches it through `DialogHost.call`, which hands the work to the loop with `GLib.idle_add`
and gives back a `concurrent.futures.Future`; nothing polls, the loop sleeps until there is
work. A prompt's answer comes back the same way: the agent awaits the future.

Windows have a title that names their Trezor, the application's WM_CLASS and icon
(gtk_setup), a default button (Enter), Escape for Cancel, and keyboard navigation: a check, a
backup and a pairing can be done from the keyboard alone. Every text is in the owner's
language (trezor_backup_api.i18n). Accessibility: every control has a name a screen reader
says, icon-only buttons included; a keypad button is named "position 7" (its place on the
grid, never a digit the device's shuffled layout turns into a secret), the PIN display says
how many positions were entered, and the word and pairing-code entries are invisible text with
a label, so the accessibility tree gets bullets, never a typed word or code.

Seed safety: an answer (PIN positions, a word, a grid position, a Safe 7's pairing code) leaves
a dialog only as the result of its future, and the dialog clears its entry and is destroyed in
the same step; no answer is stored on an object, logged or shown again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from trezor_backup_api.i18n import N_, _, ngettext
from trezor_backup_api.input_rules import (
    AFTER_BACKUP,
    BACK,
    BEFORE_BACKUP,
    KEYPAD_ROWS,
    MATRIX6_ROWS,
    WORD_COUNTS,
    complete_word,
    parse_pairing_code,
)
from trezor_backup_api.vocabulary import BackupState, WordKind

from .gtk_setup import APP_NAME, Gdk, GLib, GObject, Gtk, init_gtk, pixbuf_of
from .icons import Look, draw

log = logging.getLogger(__name__)

T = TypeVar("T")
BULLET = "\u2022"
NOT_A_PAIRING_CODE = N_("The code has 6 digits: type the ones your Trezor shows now.")

WHAT_TO_DO: dict[str, tuple[str, str]] = {
    BackupState.BACKUP_FAILED: (
        N_("The backup was started but not finished"),
        N_(
            "Your Trezor will never show these recovery words again, so this wallet can never "
            "be backed up. If the Trezor is lost or breaks, the funds on it are lost too.\n\n"
            "1. First send all funds from this wallet to a safe one: a wallet with a checked "
            "backup, on another device.\n"
            "2. Wipe this Trezor (Trezor Suite: Settings > Device > Factory reset).\n"
            "3. Set it up again as a new wallet.\n"
            "4. Create the backup and write every word down in order.\n"
            "5. Check the backup with a dry run before you send any funds to it."
        ),
    ),
    BackupState.CHECK_FAILED: (
        N_("The written words do not restore this wallet"),
        N_(
            "The recovery words you entered are valid, but they belong to another wallet. If "
            "this Trezor is lost or breaks, your written words will not bring the funds back. "
            "Send no funds to this wallet.\n\n"
            "1. Run the check again, slowly: a word in the wrong order or a misread word gives "
            "this result.\n"
            "2. If it fails again, send all funds from this wallet to a safe one.\n"
            "3. Wipe this Trezor, set it up again as a new wallet and create the backup.\n"
            "4. Check the new backup with a dry run before you send any funds to it."
        ),
    ),
}
"""The heading and the way out of each failed state (msgids)."""


def set_default_icon() -> None:
    """Every window's icon: the calm look of the tray icon, the app's icon."""
    Gtk.Window.set_default_icon_list([pixbuf_of(draw(Look.OK, size)) for size in (16, 32, 64)])


def accessible(widget: Gtk.Widget, name: str) -> Gtk.Widget:
    """Give `widget` the name a screen reader says."""
    widget.get_accessible().set_name(name)
    return widget


def wrapped(text: str, markup: bool = False, width: int = 48) -> Gtk.Label:
    """A left-aligned, wrapping label."""
    label = Gtk.Label(xalign=0, wrap=True, max_width_chars=width, width_chars=min(width, 40))
    if markup:
        label.set_markup(text)
    else:
        label.set_text(text)
    return label


def heading_label(text: str) -> Gtk.Label:
    """A bold heading."""
    return wrapped(f"<b>{GLib.markup_escape_text(text)}</b>", markup=True)


class Window:
    """A top-level window with the app's looks: title, padding, Escape closes."""

    def __init__(self, title: str) -> None:
        self.window = Gtk.Window(title=title)
        self.window.set_resizable(False)
        self.window.set_position(Gtk.WindowPosition.CENTER)
        self.window.set_type_hint(Gdk.WindowTypeHint.DIALOG)
        self.box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=8, margin=14)
        self.window.add(self.box)
        self.window.connect("delete-event", self._on_delete)
        self.window.connect("key-press-event", self._on_key)

    def _on_delete(self, *_: object) -> bool:
        self.dismiss()
        return True

    def _on_key(self, _window: Gtk.Window, event: Gdk.EventKey) -> bool:
        if event.keyval == Gdk.KEY_Escape:
            self.dismiss()
            return True
        return False

    def dismiss(self) -> None:
        """Closing the window (the title bar's X or Escape)."""
        self.close()

    def close(self) -> None:
        """Destroy the window and let go of its widgets, here on the GTK thread."""
        window = vars(self).get("window")
        if window is None:
            return  # closed before
        window.destroy()
        self._let_go()

    def _let_go(self) -> None:
        """Drop every reference to a GTK object. A window object can outlive its window (an
        answered prompt in a list, a cycle through a signal handler), and Python may free it
        on any thread, its cycle collector included; GTK objects must die on the GTK thread."""
        for name, value in list(vars(self).items()):
            if isinstance(value, dict):
                items = list(value.values())
            else:
                items = value if isinstance(value, list) else [value]
            if any(isinstance(item, GObject.Object) for item in items):
                delattr(self, name)

    def button_row(self) -> Gtk.ButtonBox:
        """The row of buttons at the bottom, right-aligned as GTK dialogs have them."""
        row = Gtk.ButtonBox(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        row.set_layout(Gtk.ButtonBoxStyle.END)
        row.set_margin_top(6)
        self.box.pack_end(row, False, False, 0)
        return row

    @staticmethod
    def button(row: Gtk.Box, text: str, action: Callable[[], None]) -> Gtk.Button:
        """A button with a mnemonic label that runs `action`."""
        button = Gtk.Button.new_with_mnemonic(text)
        button.connect("clicked", lambda _b: action())
        row.add(button)
        return button

    def make_default(self, button: Gtk.Button, style: str = "suggested-action") -> None:
        """Enter presses `button`, drawn in `style` ("" for none)."""
        button.set_can_default(True)
        self.window.set_default(button)
        if style:
            button.get_style_context().add_class(style)

    def show(self) -> None:
        """Show and raise the window."""
        self.window.show_all()
        self.window.present()


class Prompt(Window):
    """A window that answers one agent question; closing it means "cancel" (None).

    Its title names the Trezor it is about: with two plugged in, the owner must know which
    one asks."""

    def __init__(self, host: DialogHost, device: str, title: str, heading: str) -> None:
        super().__init__(title)
        self.host = host
        self.device = device
        self.future: Future[Any] = Future()
        self.box.pack_start(wrapped(heading), False, False, 0)

    def answer(self, value: Any) -> None:
        """Hand the answer to the waiting agent and forget it with the window."""
        if not self.future.done():
            self.future.set_result(value)
        self.close()

    def cancel(self) -> None:
        """The owner closed the window or pressed Cancel, or the operation ended."""
        self.answer(None)

    def dismiss(self) -> None:
        self.cancel()

    def close(self) -> None:
        """Destroy the window (entries were cleared by the subclass before)."""
        self.host.forget(self)
        super().close()

    def add_cancel(self, row: Gtk.Box) -> Gtk.Button:
        return self.button(row, _("_Cancel"), self.cancel)


class KeypadPrompt(Prompt):
    """Blank buttons laid out like the device's matrix; the owner looks at the Trezor's screen.
    The keypad's digit keys press the button at the same place (7 top left, 3 bottom right)."""

    def __init__(
        self,
        host: DialogHost,
        device: str,
        title: str,
        heading: str,
        rows: tuple[tuple[str, ...], ...],
    ) -> None:
        super().__init__(host, device, title, heading)
        grid = Gtk.Grid(row_spacing=4, column_spacing=4, halign=Gtk.Align.CENTER)
        self.box.pack_start(grid, False, False, 4)
        self.keys: dict[str, Gtk.Button] = {}
        for r, row in enumerate(rows):
            for c, position in enumerate(row):
                button = Gtk.Button(label=BULLET)
                button.set_size_request(64, 44)
                button.connect("clicked", lambda _b, p=position: self.press(p))
                place = _("position {position}").format(position=position)
                accessible(button, place)
                button.set_tooltip_text(place)
                grid.attach(button, c, r, 1, 1)
                self.keys[position] = button
        self.window.connect("key-press-event", self._on_digit)

    def _on_digit(self, _window: Gtk.Window, event: Gdk.EventKey) -> bool:
        name = Gdk.keyval_name(event.keyval) or ""
        position = name.removeprefix("KP_")
        if position in self.keys:
            self.keys[position].clicked()
            return True
        return False

    def press(self, position: str) -> None:
        """A keypad button was pressed."""
        raise NotImplementedError


class PinPrompt(KeypadPrompt):
    """The Model One PIN matrix: 3x3 blank buttons, sent as positions. Keyboard: the digit
    keys press the places, Backspace takes the last one back, Enter unlocks (also while a
    keypad button, which has the focus first, has it)."""

    def __init__(self, host: DialogHost, device: str, name: str) -> None:
        super().__init__(
            host,
            device,
            _("Enter PIN: {name}").format(name=name),
            _(
                "Enter your PIN: press the buttons at the places where your Trezor "
                "shows the digits of your PIN."
            ),
            KEYPAD_ROWS,
        )
        self._positions: list[str] = []
        self.shown = Gtk.Label(label="", selectable=False)
        self.box.pack_start(self.shown, False, False, 0)
        row = self.button_row()
        self.erase = self.button(row, "\u232b", self.backspace)
        accessible(self.erase, _("Delete the last position"))
        self.erase.set_tooltip_text(_("Delete the last position"))
        row.set_child_secondary(self.erase, True)
        self.add_cancel(row)
        self.ok = self.button(row, _("_Unlock"), self.submit)
        self.make_default(self.ok)
        self.window.connect("key-press-event", self._on_edit_key)
        self._show_count()

    def _on_edit_key(self, _window: Gtk.Window, event: Gdk.EventKey) -> bool:
        focus = self.window.get_focus()
        on_keypad = focus is None or focus in self.keys.values()
        if event.keyval in (Gdk.KEY_Return, Gdk.KEY_KP_Enter) and on_keypad:
            # Enter unlocks, as in every dialog; on a keypad button it would press a place.
            self.submit()
            return True
        if event.keyval == Gdk.KEY_BackSpace:
            self.backspace()
            return True
        return False

    def _show_count(self) -> None:
        count = len(self._positions)
        self.shown.set_text(BULLET * count)
        accessible(
            self.shown,
            ngettext("{count} position entered", "{count} positions entered", count).format(
                count=count
            ),
        )
        self.ok.set_sensitive(count > 0)

    def press(self, position: str) -> None:
        if len(self._positions) < 50:
            self._positions.append(position)
        self._show_count()

    def backspace(self) -> None:
        """Drop the last position."""
        if self._positions:
            self._positions.pop()
        self._show_count()

    def submit(self) -> None:
        """Send the positions and forget them."""
        if not self._positions:
            return
        positions = "".join(self._positions)
        self._positions.clear()
        self.shown.set_text("")
        self.answer(positions)


class MatrixWordPrompt(KeypadPrompt):
    """One step of the Model One's matrix word entry: press where the Trezor shows the choice.
    Keyboard: the digit keys press the places, Backspace is Back."""

    def __init__(self, host: DialogHost, device: str, name: str, kind: str) -> None:
        rows = MATRIX6_ROWS if kind == WordKind.MATRIX6 else KEYPAD_ROWS
        heading = (
            _("Press the button at the place where your Trezor shows your word.")
            if kind == WordKind.MATRIX6
            else _(
                "Press the button at the place where your Trezor shows the letters your "
                "word starts with."
            )
        )
        super().__init__(host, device, _("Enter word: {name}").format(name=name), heading, rows)
        row = self.button_row()
        self.back = self.button(row, "\u232b " + _("_Back"), lambda: self.press(BACK))
        accessible(self.back, _("Back: undo the last choice"))
        row.set_child_secondary(self.back, True)
        self.add_cancel(row)
        self.window.connect("key-press-event", self._on_back_key)

    def _on_back_key(self, _window: Gtk.Window, event: Gdk.EventKey) -> bool:
        if event.keyval == Gdk.KEY_BackSpace:
            self.press(BACK)
            return True
        return False

    def press(self, position: str) -> None:
        self.answer(position)


class HiddenEntryPrompt(Prompt):
    """One typed secret: a labelled hidden entry (bullets, also for screen readers: nothing
    says it aloud), a line saying why an answer was refused, Cancel and the default button,
    which Enter in the entry presses. What was typed leaves the entry at every press,
    accepted or not, so nothing lingers in a widget."""

    def __init__(
        self,
        host: DialogHost,
        device: str,
        title: str,
        heading: str,
        entry: tuple[str, str, Gtk.InputPurpose, int],
        go: str,
    ) -> None:
        """`entry` is the entry's label (with its mnemonic), its accessible name, input
        purpose and width in characters."""
        super().__init__(host, device, title, heading)
        label_text, name, purpose, width = entry
        self.entry = Gtk.Entry(visibility=False, activates_default=True, width_chars=width)
        self.entry.set_input_purpose(purpose)
        self.entry.set_input_hints(Gtk.InputHints.NO_SPELLCHECK | Gtk.InputHints.NO_EMOJI)
        accessible(self.entry, name)
        label = Gtk.Label.new_with_mnemonic(label_text)
        label.set_xalign(0)
        label.set_mnemonic_widget(self.entry)
        self.box.pack_start(label, False, False, 4)
        self.box.pack_start(self.entry, False, False, 0)
        self.problem = wrapped("")
        self.problem.get_style_context().add_class("error")
        self.box.pack_start(self.problem, False, False, 0)
        row = self.button_row()
        self.add_cancel(row)
        self.ok = self.button(row, go, self.submit)
        self.make_default(self.ok)
        self.entry.connect("changed", lambda _e: self.problem.set_text(""))
        self.entry.grab_focus()

    def parse(self, typed: str) -> Any:
        """The answer `typed` gives; a ValueError whose text (naming nothing typed) says why
        there is none."""
        raise NotImplementedError

    def submit(self) -> None:
        """Send an accepted answer (re-ask otherwise) and clear every trace of it."""
        typed = self.entry.get_text()
        self.entry.set_text("")
        try:
            value = self.parse(typed)
        except ValueError as e:
            self.problem.set_text(str(e))
            self.problem.get_accessible().set_name(str(e))
            self.entry.grab_focus()
            return
        self.answer(value)


class WordPrompt(HiddenEntryPrompt):
    """The scrambled-words prompt: type the word the Trezor asks for; four letters are enough.

    A word that is not in the BIP-39 list is refused here, with a sentence, and asked again:
    on the device it would end the whole check."""

    def __init__(self, host: DialogHost, device: str, name: str) -> None:
        super().__init__(
            host,
            device,
            _("Enter word: {name}").format(name=name),
            _(
                "Type the word your Trezor asks for. Its screen says which word of your backup "
                "it wants, or asks for a fake word: type that one. The first four letters are "
                "enough."
            ),
            (
                _("Recovery _word:"),
                _("Recovery word (hidden)"),
                Gtk.InputPurpose.PASSWORD,
                24,
            ),
            _("_Enter"),
        )

    def parse(self, typed: str) -> str:
        return complete_word(typed)  # WordRejected is a ValueError


class PairingCodePrompt(HiddenEntryPrompt):
    """The 6 digits a Safe 7 shows while it pairs, typed as they stand on its screen.

    Hidden like the PIN: with the code, whoever is at the Trezor's side could pair another
    program in this one's name. "123 456" and "123456" are both taken (input_rules); anything
    else is refused here with a sentence, and asked again."""

    def __init__(self, host: DialogHost, device: str, name: str) -> None:
        super().__init__(
            host,
            device,
            _("Pairing code: {name}").format(name=name),
            _("Type the 6-digit code your Trezor shows. It is used once, for this pairing."),
            (_("Pairing _code:"), _("Pairing code (hidden)"), Gtk.InputPurpose.PIN, 12),
            _("_Pair"),
        )

    def parse(self, typed: str) -> str:
        code = parse_pairing_code(typed)
        if code is None:
            raise ValueError(_(NOT_A_PAIRING_CODE))
        return code


class WordCountPrompt(Prompt):
    """How many words the written backup has."""

    def __init__(self, host: DialogHost, device: str, name: str) -> None:
        super().__init__(
            host,
            device,
            _("Number of words: {name}").format(name=name),
            _("How many recovery words did you write down for {name}?").format(name=name),
        )
        choices = Gtk.Box(spacing=6, halign=Gtk.Align.CENTER)
        self.box.pack_start(choices, False, False, 4)
        self.choices: dict[int, Gtk.Button] = {}
        for count in WORD_COUNTS:
            label = ngettext("_{count} word", "_{count} words", count).format(count=count)
            self.choices[count] = self.button(choices, label, functools.partial(self.answer, count))
        self.add_cancel(self.button_row())


class Checklist(Prompt):
    """Statements to tick before going on, as Trezor Suite asks around a backup; with no
    statements, a plain question with two answers. A `destructive` go (one that undoes what
    takes the owner at the Trezor to set up again) is drawn red, and Enter answers stop.
    Keyboard: Tab reaches each statement (Space ticks it) and then the buttons."""

    def __init__(
        self,
        host: DialogHost,
        device: str,
        title: str,
        heading: str,
        items: tuple[str, ...],
        go: str,
        stop: str,
        destructive: bool = False,
    ) -> None:
        super().__init__(host, device, title, heading)
        self.boxes: list[Gtk.CheckButton] = []
        for item in items:
            box = Gtk.CheckButton()
            box.add(wrapped(item))
            accessible(box, item)
            box.connect("toggled", lambda _b: self._refresh())
            self.box.pack_start(box, False, False, 0)
            self.boxes.append(box)
        row = self.button_row()
        self.stop = self.button(row, stop, lambda: self.answer(False))
        self.go = self.button(row, go, lambda: self.answer(True))
        if destructive:
            self.go.get_style_context().add_class("destructive-action")
            self.make_default(self.stop, style="")
        else:
            self.make_default(self.go)
        self._refresh()

    def _refresh(self) -> None:
        self.go.set_sensitive(all(box.get_active() for box in self.boxes))

    def cancel(self) -> None:
        self.answer(False)


class ProgressWindow(Window):
    """ "Follow the instructions on your Trezor": the operation's live progress, with Cancel."""

    def __init__(
        self, host: DialogHost, device: str, title: str, on_cancel: Callable[[], None]
    ) -> None:
        super().__init__(title)
        self.host = host
        self.device = device
        self.on_cancel = on_cancel
        heading = heading_label(_("Follow the instructions on your Trezor"))
        self.box.pack_start(heading, False, False, 0)
        self.message = wrapped(_("Starting..."))
        self.box.pack_start(self.message, False, False, 0)
        self.bar = Gtk.ProgressBar()
        accessible(self.bar, _("Progress"))
        self.box.pack_start(self.bar, False, False, 4)
        # The bar pulses while the window lives.
        self._pulse: int | None = GLib.timeout_add(120, self._pulse_once)
        self.cancel_button = self.button(self.button_row(), _("_Cancel"), on_cancel)

    def _pulse_once(self) -> bool:
        self.bar.pulse()
        return True

    def _stop_pulse(self) -> None:
        if self._pulse is not None:
            GLib.source_remove(self._pulse)
            self._pulse = None

    def dismiss(self) -> None:
        self.on_cancel()

    def update(self, message: str) -> None:
        """Show the daemon's sentence for the step (the bar goes on pulsing: the daemon
        tells steps, not how far along a flow is)."""
        self.message.set_text(message)

    def close(self) -> None:
        """The operation ended."""
        self._stop_pulse()
        super().close()


class InfoWindow(Window):
    """A text to read (the "What to do..." explanation, or the daemon's error message)."""

    def __init__(self, title: str, heading: str, text: str) -> None:
        super().__init__(title)
        self.box.pack_start(heading_label(heading), False, False, 0)
        self.text = wrapped(text, width=60)
        self.box.pack_start(self.text, False, False, 0)
        self.close_button = self.button(self.button_row(), _("_Close"), self.close)
        self.make_default(self.close_button)


class DialogHost:
    """The applet's windows on the GLib main loop, and the way other threads open them."""

    def __init__(self) -> None:
        self._prompts: list[Prompt] = []
        self.progress: dict[str, ProgressWindow] = {}
        self._listeners: list[Callable[[object], None]] = []

    def start(self) -> None:
        """Check that GTK can open windows here; raises when it cannot (no display)."""
        if not init_gtk():
            raise RuntimeError("the dialogs cannot start: GTK cannot open the display")
        self.call(set_default_icon)

    def close_all(self) -> None:
        """Cancel every open prompt (on the GTK thread, before the loop ends)."""
        for prompt in list(self._prompts):
            prompt.cancel()
        for window in list(self.progress.values()):
            window.close()
        self.progress.clear()

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """Run `fn` on the GTK thread; its result or exception arrives in the future."""
        future: Future[T] = Future()

        def work() -> bool:
            try:
                future.set_result(fn())
            except BaseException as e:
                log.exception("dialog work failed")
                future.set_exception(e)
            return False

        GLib.idle_add(work)
        return future

    def add_listener(self, listener: Callable[[object], None]) -> None:
        """`listener(window)` is called on the GTK thread for each window opened (for tests
        and accessibility tools that drive the dialogs)."""
        self._listeners.append(listener)

    def opened(self, window: Any) -> Any:
        """Show a new window and tell the listeners."""
        window.show()
        for listener in self._listeners:
            listener(window)
        return window

    def forget(self, prompt: Prompt) -> None:
        """A prompt is gone (answered or cancelled)."""
        if prompt in self._prompts:
            self._prompts.remove(prompt)

    def ask(self, make: Callable[[], Prompt]) -> Future[Any]:
        """Open a prompt; the future gets its answer, or None when cancelled."""
        answer: Future[Any] = Future()

        def open_prompt() -> None:
            prompt = make()
            self._prompts.append(prompt)
            prompt.future.add_done_callback(lambda f: answer.set_result(f.result()))
            self.opened(prompt)

        self.call(open_prompt)
        return answer

    # -- the questions --------------------------------------------------------------------

    def ask_pin(self, device: str, name: str) -> Future[str | None]:
        """The PIN as matrix positions."""
        return self.ask(lambda: PinPrompt(self, device, name))

    def ask_word(self, device: str, name: str, kind: str) -> Future[str | None]:
        """A word (kind "plain") or a matrix position ("matrix9"/"matrix6")."""
        if kind in (WordKind.MATRIX9, WordKind.MATRIX6):
            return self.ask(lambda: MatrixWordPrompt(self, device, name, kind))
        return self.ask(lambda: WordPrompt(self, device, name))

    def ask_word_count(self, device: str, name: str) -> Future[int | None]:
        """12, 18 or 24."""
        return self.ask(lambda: WordCountPrompt(self, device, name))

    def ask_pairing_code(self, device: str, name: str) -> Future[str | None]:
        """The 6 digits a Safe 7 shows while it pairs."""
        return self.ask(lambda: PairingCodePrompt(self, device, name))

    def confirm(
        self, device: str, title: str, heading: str, go: str, stop: str,
        items: tuple[str, ...] = (), destructive: bool = False,
    ) -> Future[bool | None]:  # fmt: skip
        """A question about a Trezor (`title` names it), with a go and a stop answer (and
        statements to tick first, if any)."""
        return self.ask(
            lambda: Checklist(self, device, title, heading, items, go, stop, destructive)
        )

    def confirm_before_backup(self, device: str, name: str) -> Future[bool | None]:
        """Trezor Suite's questions before a backup; True to go on."""
        return self.confirm(
            device,
            _("Create backup: {name}").format(name=name),
            _("Before you create the backup of {name}:").format(name=name),
            _("Create _backup"),
            _("_Not now"),
            tuple(_(item) for item in BEFORE_BACKUP),
        )

    def confirm_before_pairing(self, device: str, name: str) -> Future[bool | None]:
        """What pairing a Safe 7 asks of the owner, and why; True to pair."""
        return self.confirm(
            device,
            _("Pair with this computer: {name}").format(name=name),
            _(
                "Allow the pairing on {name}, then type the 6-digit code it shows. It then "
                "asks whether this computer may connect without asking: allow it, so that its "
                "backup status is read each time you plug it in, with nothing to confirm on "
                "the Trezor. The pairing key is kept in your desktop's keyring."
            ).format(name=name),
            _("_Pair"),
            _("_Not now"),
        )

    def confirm_forgetting_pairing(self, device: str, name: str) -> Future[bool | None]:
        """What forgetting a Safe 7's pairing changes, and what it leaves alone; True to
        forget it."""
        return self.confirm(
            device,
            _("Forget pairing: {name}").format(name=name),
            _(
                "This computer stops reading the backup status of {name} until you pair it "
                "again. The Trezor and its wallet are not changed. Pairing again needs the "
                "Trezor and the code it shows."
            ).format(name=name),
            _("_Forget pairing"),
            _("_Keep"),
            destructive=True,
        )

    def offer_check(self, device: str, name: str) -> Future[bool | None]:
        """After a backup: Suite's questions, then the offer to check the words now."""
        return self.confirm(
            device,
            _("Backup created: {name}").format(name=name),
            _(
                "The backup of {name} is done. Now check it with a dry run before you send "
                "funds to this wallet."
            ).format(name=name),
            _("_Check now"),
            _("_Later"),
            tuple(_(item) for item in AFTER_BACKUP),
        )

    def cancel_prompts(self, device: str) -> None:
        """The operation ended or was cancelled: close the device's open prompts."""

        def close() -> None:
            for prompt in [p for p in self._prompts if p.device == device]:
                prompt.cancel()

        self.call(close)

    def show_progress(self, device: str, title: str, on_cancel: Callable[[], None]) -> None:
        """Open (or keep) the progress window of an operation."""

        def open_window() -> None:
            if device not in self.progress:
                self.progress[device] = self.opened(ProgressWindow(self, device, title, on_cancel))

        self.call(open_window)

    def update_progress(self, device: str, message: str) -> None:
        """A new step of the operation."""

        def update() -> None:
            window = self.progress.get(device)
            if window is not None:
                window.update(message)

        self.call(update)

    def close_progress(self, device: str) -> None:
        """The operation ended."""

        def close() -> None:
            window = self.progress.pop(device, None)
            if window is not None:
                window.close()

        self.call(close)

    def show_what_to_do(self, state: str, name: str) -> None:
        """The way out of a failed backup or a failed check."""
        way_out = WHAT_TO_DO.get(state)
        if way_out is None:
            heading = _("Nothing to do")
            text = _("{name} needs nothing from you right now.").format(name=name)
        else:
            heading, text = (_(msgid) for msgid in way_out)
        title = _("What to do: {name}").format(name=name)
        self.call(lambda: self.opened(InfoWindow(title, heading, text)))

    def show_message(self, title: str, heading: str, text: str) -> None:
        """A message to read, such as the daemon's reason for refusing an action."""
        self.call(lambda: self.opened(InfoWindow(title or APP_NAME, heading, text)))
