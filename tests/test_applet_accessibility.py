"""The applet as a screen reader meets it: `trezor-backup-applet` a real process on Xvfb with
the accessibility bus (at-spi-bus-launcher) in its session, the daemon a subprocess, simulated
Trezors; the test reads and acts on the applet only through the AT-SPI tree, as Orca would,
finding every control by its role and accessible name.

Proves: a Model One's backup check is done from the main window through the word count, PIN
matrix and matrix word dialogs, a 24-word check through the word entry (a password field its
label names, filled through AT-SPI's editable text, the tree showing bullets), and a Safe 5's
backup from the tray menu through Suite's questions and the offer to check, by names alone;
the PIN, the words and Suite's questions are also answered from the keyboard alone (digit
keys, Tab, Space, Enter on the default button); every button, check box, entry and menu item
of the window, the tray menu and each dialog has a name; a Trezor's state is in the tree as
words, not only as the icon's colour. No typed PIN or word reaches the applet's output.

In each language of po/LINGUAS the window reads in the catalogue's words, the daemon's
explanation included, and is saved as `<language>/window-main.png` in the screenshots
directory (`TREZOR_BACKUP_SCREENSHOTS=docs/screenshots` refreshes the tracked ones).
"""

from __future__ import annotations

import functools
import queue
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import gi
import pytest
from PIL import ImageGrab
from trezorlib import messages

gi.require_version("Atspi", "2.0")
from gi.repository import Atspi, GLib  # noqa: E402
from test_ctl_operations import TrezorEyes  # noqa: E402

from trezor_backup_api.client import BusEvent, OperationFinished, OperationProgress  # noqa: E402
from trezor_backup_api.input_rules import AFTER_BACKUP, BEFORE_BACKUP  # noqa: E402
from trezor_backup_api.vocabulary import Stage  # noqa: E402
from trezor_backup_applet.icons import Look  # noqa: E402

import seed_safety  # noqa: E402
from conftest import DaemonFactory  # noqa: E402
from desktop_fixtures import SCREEN, Desktop  # noqa: E402
from harness import EVENT_TIMEOUT, Daemon, LineReader, running  # noqa: E402
from languages import LANGUAGES, catalogue, locale_env  # noqa: E402
from other_program import answer_quiz, write_down  # noqa: E402
from seed_safety import MNEMONIC12  # noqa: E402
from sim_helpers import ABANDON24, Simulator, matrix_key, start_simulator  # noqa: E402
from test_applet_desktop import tray_look  # noqa: E402

APP_ID = "io.github.TrezorBackupGuard.Applet"
"""The applet's program name: its application's name in the tree."""
MODEL_ONE_ID = "A11A11A11A11A11A11A11A11"
SAFE5_ID = "5A5A5A5A5A5A5A5A5A5A5A5A"
PIN = "7351"
# In Matrix6 the device counts its middle column as the right one (test_applet_dialogs).
MATRIX6_RIGHT = {"8": "9", "5": "6", "2": "3"}
R = Atspi.Role
CONTROLS = frozenset(
    {R.PUSH_BUTTON, R.TOGGLE_BUTTON, R.CHECK_BOX, R.RADIO_BUTTON, R.ENTRY, R.PASSWORD_TEXT,
     R.MENU_ITEM, R.CHECK_MENU_ITEM, R.RADIO_MENU_ITEM, R.LINK, R.SPIN_BUTTON, R.COMBO_BOX}
)  # fmt: skip
"""The roles a person operates: each must have a name."""
T = TypeVar("T")


@pytest.fixture(scope="module")
def accessibility_bus(desktop: Desktop) -> Iterator[None]:
    """at-spi-bus-launcher in the session, as a desktop session starts it, for the module:
    libatspi keeps the accessibility bus it first connected to for the life of the process."""
    launcher = subprocess.Popen(
        ["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"],
        env=desktop.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        subprocess.run(["gdbus", "wait", "--session", "--timeout", str(int(EVENT_TIMEOUT)),
                        "org.a11y.Bus"], check=True)  # fmt: skip
        yield
    finally:
        launcher.terminate()
        launcher.wait(timeout=EVENT_TIMEOUT)


def until(found: Callable[[], T | None], what: str) -> T:
    """`found()` once it is something. The tree changes with no event this process could
    wait on without a main loop of its own; its events are taken in at each try."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        context = GLib.MainContext.default()
        while context.iteration(False):
            pass
        try:
            result = found()
        except GLib.Error:  # a node left the tree while it was read: read the tree again
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, f"never found: {what}"
        time.sleep(0.02)


def children(node: Atspi.Accessible) -> list[Atspi.Accessible]:
    return [child for i in range(node.get_child_count())
            if (child := node.get_child_at_index(i)) is not None]  # fmt: skip


def descendants(node: Atspi.Accessible) -> Iterator[Atspi.Accessible]:
    """Every node below `node`, depth first, in the order a person tabs through them."""
    for child in children(node):
        yield child
        yield from descendants(child)


def showing(node: Atspi.Accessible) -> bool:
    """Whether `node` is on the screen (a window closed meanwhile is not)."""
    try:
        return bool(node.get_state_set().contains(Atspi.StateType.SHOWING))
    except GLib.Error:
        return False


def applet_in_tree() -> Atspi.Accessible | None:
    desktop = Atspi.get_desktop(0)
    desktop.clear_cache()
    return next((app for app in children(desktop) if app.get_name() == APP_ID), None)


def windows(app: Atspi.Accessible) -> list[Atspi.Accessible]:
    """The applet's windows on the screen now (a closed one leaves the tree)."""
    return [window for window in children(app) if showing(window)]


def window_named(app: Atspi.Accessible, start: str) -> Atspi.Accessible:
    """The applet's window whose title begins with `start`, once it shows."""

    def find() -> Atspi.Accessible | None:
        return next((w for w in windows(app) if w.get_name().startswith(start)), None)

    return until(find, f"a window {start!r}")


def control(root: Atspi.Accessible, role: Atspi.Role, name: str) -> Atspi.Accessible:
    """The control with this role and accessible name under `root` (the first, as Tab
    reaches it)."""

    def find() -> Atspi.Accessible | None:
        return next((node for node in descendants(root) if node.get_role() == role
                     and node.get_name().strip() == name), None)  # fmt: skip

    return until(find, f"{Atspi.role_get_name(role)} {name!r} in {root.get_name()!r}")


def press(root: Atspi.Accessible, role: Atspi.Role, name: str) -> None:
    """Do what the control's first action does (click, toggle), as a screen reader does."""
    assert control(root, role, name).do_action(0)


def unnamed_controls(root: Atspi.Accessible) -> list[str]:
    """The controls on the screen under `root` that a screen reader could only call by their
    role (a hidden one, such as a hidden info bar's, is not read)."""
    return [f"{node.get_role_name()} in {root.get_name()!r}" for node in descendants(root)
            if node.get_role() in CONTROLS and not node.get_name().strip()
            and showing(node)]  # fmt: skip


def texts(root: Atspi.Accessible) -> list[str]:
    """The words under `root` a screen reader reads: names of labels and list items."""
    return [node.get_name() for node in descendants(root)
            if node.get_role() in (R.LABEL, R.LIST_ITEM) and node.get_name()]  # fmt: skip


class TrezorHands(TrezorEyes):
    """The owner at the simulated Trezor, following the daemon's signals: YES on each screen
    that asks for a button; on a core backup's words screen, the words written down and its
    quiz answered on the Trezor. Keeps how each operation ended."""

    def __init__(self, sim: Simulator) -> None:
        self.results: queue.Queue[tuple[str, str]] = queue.Queue()
        super().__init__(sim)

    def _see(self, event: BusEvent) -> None:
        if isinstance(event, OperationFinished):
            self.results.put((event.kind, event.result))
        elif isinstance(event, OperationProgress):
            yes = messages.DebugLinkDecision(button=messages.DebugButton.YES)
            if event.stage == Stage.SHOW_WORDS:
                written = write_down(self.screen, [])
                self.screen.send(yes)
                answer_quiz(self.screen, written)
            elif event.stage in (Stage.CONFIRM, Stage.INTRO, Stage.WARNING, Stage.WORD_CHECK,
                                 Stage.RESULT):  # fmt: skip
                self.screen.send(yes)

    def result(self) -> tuple[str, str] | None:
        """How the last operation ended, None while it runs."""
        try:
            return self.results.get_nowait()
        except queue.Empty:
            return None

    def state(self) -> messages.DebugLinkState:
        reply = self.screen.call(messages.DebugLinkGetState())
        assert isinstance(reply, messages.DebugLinkState)
        return reply


class AppletProcess:
    """trezor-backup-applet started by hand in a session with the accessibility bus."""

    def __init__(self, daemon: Daemon, desk: Desktop, *args: str, language: str = "") -> None:
        env = desk.env() | {
            "XDG_STATE_HOME": str(daemon.home / "state"),
            "XDG_CONFIG_HOME": str(daemon.home / "config"),
        }
        env.pop("NO_AT_BRIDGE", None)  # the desktop fixture's, for the in-process tests
        if language:
            env |= locale_env(language)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trezor_backup_applet", *args, "--log-level", "debug"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.log = LineReader(self.process)
        seed_safety.produced("applet output", lambda: "\n".join(self.log.seen))

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=EVENT_TIMEOUT) == 0, "\n".join(self.log.seen)
        assert not any("Traceback" in line for line in self.log.seen), self.log.seen


@contextmanager
def applet(
    daemon: Daemon, desk: Desktop, *args: str, language: str = ""
) -> Iterator[AppletProcess]:
    process = AppletProcess(daemon, desk, *args, language=language)
    try:
        process.log.wait_for(lambda line: "registered as the daemon's agent" in line)
        yield process
    finally:
        process.stop()


def test_a_model_one_check_is_done_from_the_main_window_by_accessible_names(
    make_daemon: DaemonFactory, desktop: Desktop, accessibility_bus: None
) -> None:
    """A 12-word check with a PIN: the word count, the PIN matrix (typed on the keyboard)
    and the matrix word entry."""
    with (
        start_simulator("one", "backed_up", device_id=MODEL_ONE_ID, label="Drawer", pin=PIN,
                        mnemonic=MNEMONIC12) as sim,
        running(make_daemon(sim.path)) as daemon,
        applet(daemon, desktop, "--no-tray"),
    ):  # fmt: skip
        app = until(applet_in_tree, "the applet in the accessibility tree")
        main = window_named(app, "Trezor Backup Guard")
        # The state in words: the row is named by its Trezor and state, and says it again.
        row = control(main, R.LIST_ITEM, "Drawer: Backup not checked yet")
        assert "Backup not checked yet" in texts(row)
        assert "Last check: never on this computer." in texts(row)
        assert unnamed_controls(main) == []
        owner = Owner(app, sim, MNEMONIC12, PIN)
        assert owner.check(row) == ("check", "passed")
        assert owner.seen == {"Number of words", "Enter PIN", "Enter word"}
        control(main, R.LIST_ITEM, "Drawer: Backup checked")


def test_the_word_entry_is_a_labelled_password_field_that_completes_a_24_word_check(
    make_daemon: DaemonFactory, desktop: Desktop, accessibility_bus: None
) -> None:
    """A 24-word check: each word is typed into a hidden entry (AT-SPI's editable text) that
    a label names, and Enter sends it; the tree shows bullets, never the word."""
    with (
        start_simulator("one", "backed_up", device_id=MODEL_ONE_ID, label="Drawer") as sim,
        running(make_daemon(sim.path)) as daemon,
        applet(daemon, desktop, "--no-tray"),
    ):
        app = until(applet_in_tree, "the applet in the accessibility tree")
        main = window_named(app, "Trezor Backup Guard")
        owner = Owner(app, sim, ABANDON24)
        assert owner.check(control(main, R.LIST_ITEM, "Drawer: Backup not checked yet")) == (
            "check",
            "passed",
        )
        assert owner.seen == {"Number of words", "Enter word"}
        control(main, R.LIST_ITEM, "Drawer: Backup checked")


class Owner:
    """The owner in front of the simulated Model One and the applet's dialogs, which they
    reach through the accessibility tree (and the keyboard) only."""

    QUESTIONS = ("Number of words: ", "Enter PIN: ", "Enter word: ")
    """The titles of the dialogs a check asks in, before the Trezor's name."""

    def __init__(self, app: Atspi.Accessible, sim: Simulator, mnemonic: str, pin: str = "") -> None:
        seed_safety.typed(mnemonic, pin)
        self.app = app
        self.sim = sim
        self.mnemonic = mnemonic
        self.pin = pin
        self.seen: set[str] = set()
        """The dialogs answered (their titles without the Trezor's name)."""

    def check(self, row: Atspi.Accessible) -> tuple[str, str]:
        """Press the row's "Check backup..." and answer every dialog; how the check ended."""
        hands = TrezorHands(self.sim)
        try:
            press(row, R.PUSH_BUTTON, "Check backup...")
            while isinstance(
                step := until(lambda: self._dialog() or hands.result(), "a dialog or the end"),
                Atspi.Accessible,
            ):
                self._answer(step, hands)
        finally:
            hands.close()
        kind, result = step
        return str(kind), str(result)

    def _dialog(self) -> Atspi.Accessible | None:
        return next((w for w in windows(self.app) if w.get_name().startswith(self.QUESTIONS)),
                    None)  # fmt: skip

    def _answer(self, dialog: Atspi.Accessible, hands: TrezorHands) -> None:
        """Answer a dialog by its controls' names, as the owner at the Trezor would; the PIN
        and the words from the keyboard."""
        title = str(dialog.get_name())
        kind = title.split(": ")[0]
        assert unnamed_controls(dialog) == [], kind
        if kind == "Number of words":
            press(dialog, R.PUSH_BUTTON, f"{len(self.mnemonic.split())} words")
        elif kind == "Enter PIN":
            matrix = hands.state().matrix or ""
            positions = "".join(str(matrix.index(digit) + 1) for digit in self.pin)
            seed_safety.typed(positions)
            assert {f"position {p}" for p in "123456789"} <= names_under(dialog)
            # The digit keys press the places (7 top left, as on a keypad), Enter unlocks.
            xdotool("windowfocus", "--sync", x_window(f"^{title}$"))
            xdotool("key", *positions)
            count = f"{len(positions)} positions entered"
            until(lambda: count in texts(dialog), "the count of positions")
            xdotool("key", "Return")
        elif kind == "Enter word" and R.PASSWORD_TEXT in roles_under(dialog):
            self._type_word(title, dialog, hands)
        else:
            key = matrix_key(hands.screen, self.mnemonic)
            if f"position {key}" not in names_under(dialog):
                key = MATRIX6_RIGHT[key]
            press(dialog, R.PUSH_BUTTON, f"position {key}")
        until(lambda: dialog not in windows(self.app), f"{kind} closed")
        self.seen.add(kind)

    def _type_word(self, title: str, dialog: Atspi.Accessible, hands: TrezorHands) -> None:
        """Type the word the Trezor asks for (four letters are enough) into the hidden entry
        its label names, and press Enter."""
        entry = control(dialog, R.PASSWORD_TEXT, "Recovery word (hidden)")
        [label] = [node for node in descendants(dialog) if node.get_name() == "Recovery word:"]
        labelled_by = [
            relation.get_target(0)
            for relation in entry.get_relation_set()
            if relation.get_relation_type() == Atspi.RelationType.LABELLED_BY
        ]
        assert labelled_by == [label]
        state = hands.state()
        position = state.recovery_word_pos or 0
        word = self.mnemonic.split()[position - 1] if position else state.recovery_fake_word
        assert word
        typed = word[:4]
        assert entry.set_text_contents(typed)
        assert entry.get_text(0, -1) == "\u25cf" * len(typed)  # bullets, never the letters
        xdotool("windowfocus", "--sync", x_window(f"^{title}$"))
        xdotool("key", "Return")  # the entry activates the default button, Enter


def roles_under(root: Atspi.Accessible) -> set[Atspi.Role]:
    return {node.get_role() for node in descendants(root)}


def names_under(root: Atspi.Accessible) -> set[str]:
    return {node.get_name() for node in descendants(root)}


def xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, check=True,
                          timeout=EVENT_TIMEOUT).stdout.strip()  # fmt: skip


def x_window(title: str) -> str:
    """The X window whose title matches `title` (a regular expression), once mapped."""
    return xdotool("search", "--sync", "--onlyvisible", "--name", title).split()[0]


def open_tray_menu(app: Atspi.Accessible) -> Atspi.Accessible:
    """Right-click the tray icon (the right end of trayer's strip); the menu's window."""
    xdotool("mousemove", str(SCREEN[0] - 16), "16", "click", "3")

    def menu() -> Atspi.Accessible | None:
        return next((w for w in windows(app) for node in descendants(w)
                     if node.get_role() == R.MENU_ITEM), None)  # fmt: skip

    return until(menu, "the tray menu")


def test_a_safe5_backup_is_made_from_the_tray_menu_by_accessible_names(
    make_daemon: DaemonFactory, desktop: Desktop, accessibility_bus: None
) -> None:
    with (
        start_simulator("safe5", "backup_required", device_id=SAFE5_ID, label="Savings") as sim,
        running(make_daemon(sim.path)) as daemon,
        applet(daemon, desktop, "--autostart"),
    ):
        app = until(applet_in_tree, "the applet in the accessibility tree")
        desktop.wait_tray(lambda image: tray_look(image) is Look.DANGER, "the danger icon")
        menu = open_tray_menu(app)
        # The menu says the state in words, and names every item.
        control(menu, R.MENU_ITEM, "Savings (Safe 5): needs a backup")
        assert unnamed_controls(menu) == []
        hands = TrezorHands(sim)
        try:
            press(menu, R.MENU_ITEM, "Create backup...")
            asked = window_named(app, "Create backup: Savings")
            assert unnamed_controls(asked) == []
            go = control(asked, R.PUSH_BUTTON, "Create backup")
            statements = [node for node in descendants(asked) if node.get_role() == R.CHECK_BOX]
            assert len(statements) == len(BEFORE_BACKUP)
            assert [node.get_name() for node in statements] == list(BEFORE_BACKUP)
            assert not has(go, Atspi.StateType.ENABLED)  # nothing ticked: no way on
            # From the keyboard alone: the focus starts on the first statement; Space ticks
            # each, Tab goes on to the next and then to the buttons, Enter presses.
            xdotool("windowfocus", "--sync", x_window("^Create backup: Savings$"))
            for number, statement in enumerate(statements):
                if number:
                    xdotool("key", "Tab")
                until(functools.partial(has, statement, Atspi.StateType.FOCUSED), "the focus")
                xdotool("key", "space")
            until(lambda: has(go, Atspi.StateType.ENABLED), "Create backup enabled")
            xdotool("key", "Tab", "Tab")  # past "Not now"
            until(lambda: has(go, Atspi.StateType.FOCUSED), "the focus on Create backup")
            xdotool("key", "Return")
            assert until(hands.result, "the backup's end") == ("backup", "completed")
            offer = window_named(app, "Backup created: Savings")
            assert unnamed_controls(offer) == []
            assert {n.get_name() for n in descendants(offer) if n.get_role() == R.CHECK_BOX} == (
                set(AFTER_BACKUP)
            )
            press(offer, R.PUSH_BUTTON, "Later")
        finally:
            hands.close()
        until(lambda: offer not in windows(app), "the offer closed")
        menu = open_tray_menu(app)
        control(menu, R.MENU_ITEM, "Savings (Safe 5): backup not checked yet")
        xdotool("key", "Escape")


def has(node: Atspi.Accessible, state: Atspi.StateType) -> bool:
    return bool(node.get_state_set().contains(state))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_main_window_reads_in_the_owners_language(
    make_daemon: DaemonFactory,
    desktop: Desktop,
    accessibility_bus: None,
    screenshots: Path,
    language: str,
) -> None:
    """The applet started with $LANG of another language: its window names the Trezor's
    state, its explanation (the daemon's sentence) and its buttons in the catalogue's words,
    and is saved as a screenshot."""
    words_of = catalogue(language)
    words = words_of.gettext("backup not checked yet")
    assert words != "backup not checked yet"
    state = words_of.gettext("{name}: {state}").format(
        name="Drawer", state=words[:1].upper() + words[1:]
    )
    explanation = words_of.gettext(
        "The Trezor says this wallet is backed up, but the written words have never been "
        "checked on this computer."
    )
    check = words_of.gettext("_Check backup...").replace("_", "")
    with (
        start_simulator("one", "backed_up", device_id=MODEL_ONE_ID, label="Drawer") as sim,
        running(make_daemon(sim.path)) as daemon,
        applet(daemon, desktop, "--no-tray", language=language),
    ):
        app = until(applet_in_tree, "the applet in the accessibility tree")
        main = window_named(app, words_of.gettext("Trezor Backup Guard"))
        row = control(main, R.LIST_ITEM, state)
        assert explanation in row.get_description()
        control(main, R.PUSH_BUTTON, check)
        folder = screenshots / language
        folder.mkdir(exist_ok=True)
        extents = main.get_extents(Atspi.CoordType.SCREEN)
        box = (extents.x, extents.y, extents.x + extents.width, extents.y + extents.height)
        ImageGrab.grab(bbox=box, xdisplay=desktop.display).save(folder / "window-main.png")
