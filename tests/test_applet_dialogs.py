"""The applet's menu and dialogs, driven in-process against the real daemon and a simulated
Trezor: the menu's items are enabled per state and call the daemon; the Model One dialogs (word
count, scrambled words with completion, PIN matrix, matrix word entry) complete real dry runs;
a backup goes through Suite's confirmations and ends with the offer to check; a Safe 7 pairs
from the plug-in notification and the main window (what pairing asks and why, the code typed
hidden, the daemon's closing sentence in a window), its pairing kept in a real gnome-keyring,
and forgets it again from the window after saying what that changes.

The test plays the owner: it reads what the simulated Trezor shows over DebugLink (as
tests/owner_agent.py does) and presses the dialogs' own GTK widgets on the GTK thread (a GLib
main loop the module runs on a thread of its own, as the tray runs it on the applet's main
thread).

Screenshots of the dialogs (the README's) go where $TREZOR_BACKUP_SCREENSHOTS says, default a
temporary directory: `TREZOR_BACKUP_SCREENSHOTS=docs/screenshots make test` refreshes the
tracked ones.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PIL import ImageGrab
from trezorlib import messages

from trezor_backup_api.agent import AgentCancelled, PairingAgent
from trezor_backup_api.i18n import Sentence
from trezor_backup_api.urgency import MOST_URGENT_FIRST
from trezor_backup_api.vocabulary import OperationKind
from trezor_backup_applet.agent import DialogAgent
from trezor_backup_applet.controller import Applet
from trezor_backup_applet.device_mirror import Device
from trezor_backup_applet.dialogs import (
    NOT_A_PAIRING_CODE,
    Checklist,
    InfoWindow,
    MatrixWordPrompt,
    PairingCodePrompt,
    PinPrompt,
    ProgressWindow,
    WordCountPrompt,
    WordPrompt,
)
from trezor_backup_applet.gtk_setup import GLib, Gtk
from trezor_backup_applet.icons import Look, look_for
from trezor_backup_applet.main_window import MainWindow, row_of
from trezor_backup_applet.settings import AppletSettings
from trezor_backup_applet.snooze import SnoozeStore
from trezor_backup_applet.tray import MenuEntry, menu_entries, summary
from trezor_backupd.store.history import HistoryStore

import seed_safety
from conftest import DaemonFactory
from desktop_fixtures import Desktop
from harness import (
    EVENT_TIMEOUT,
    NOTIFY_CALLS,
    BusMonitor,
    custom_bus,
    rogue_agent_calls,
    running,
)
from seed_safety import MNEMONIC12
from sim_helpers import ABANDON24, HostPort, Simulator, matrix_key, start_simulator
from test_thp_daemon import kept_credentials, keyring, pair_through_the_cli, safe7

DEVICE_ID = "0A1B2C3D4E5F60718293A4B5"
# In Matrix6 the device counts its middle column as the right one.
MATRIX6_RIGHT = {"8": "9", "5": "6", "2": "3"}

Event = tuple[str, Any]
SAVED_SCREENSHOTS: set[str] = set()
T = TypeVar("T")


class RecordingApplet(Applet):
    """The real applet, also reporting what happens to the test's queue."""

    def __init__(self, events: queue.Queue[Event], tmp: Path) -> None:
        super().__init__(AppletSettings(notifications=False), SnoozeStore(tmp / "applet.json"))
        self.events = events
        self.kept: list[Any] = []
        """Every window the test saw, so that none dies on the test's thread: a GTK object must
        be freed on the GTK thread (`release_windows` does that at the end)."""
        self.dialogs.add_listener(self._opened)

    def _opened(self, window: Any) -> None:
        self.kept.append(window)
        self.events.put(("window", window))

    def operation_progress(self, device: Device, stage: str, message: str) -> None:
        super().operation_progress(device, stage, message)
        self.events.put(("stage", stage))

    def operation_finished(self, device: Device, kind: str, result: str, message: str) -> None:
        super().operation_finished(device, kind, result, message)
        self.events.put(("finished", (kind, result)))

    def devices_changed(self, devices: list[Device], daemon_running: bool) -> None:
        super().devices_changed(devices, daemon_running)
        self.events.put(("devices", (list(devices), daemon_running)))


class Owner:
    """The test in front of the simulated Trezor and the applet's windows."""

    def __init__(self, app: RecordingApplet, events: queue.Queue[Event], sim: Simulator,
                 screenshots: Path, mnemonic: str = ABANDON24, pin: str = "",
                 code_offset: int = 0) -> None:  # fmt: skip
        self.app = app
        self.screenshots = screenshots
        self.events = events
        self.screen = HostPort(sim.debug_port)
        self.words = mnemonic.split()
        self.pin = pin
        self.code_offset = code_offset
        """Added to the pairing code the Trezor shows: 1 types a wrong one."""
        seed_safety.typed(mnemonic, pin)
        self.shots: set[str] = set()
        self.devices: list[Device] = []
        """The device list the applet last reported while the owner was at work."""

    def next(self) -> Event:
        return self.events.get(timeout=EVENT_TIMEOUT)

    def on_gtk(self, fn: Callable[[], Any]) -> Any:
        return self.app.dialogs.call(fn).result(EVENT_TIMEOUT)

    def state(self) -> messages.DebugLinkState:
        reply = self.screen.call(messages.DebugLinkGetState())
        assert isinstance(reply, messages.DebugLinkState)
        return reply

    def screenshot(self, window: Any, name: str) -> None:
        """Note that the owner saw this window; save it for the README the first time in the
        session (the progress of a check, not of the pairing a later test runs)."""
        if name in self.shots:
            return
        self.shots.add(name)
        if name in SAVED_SCREENSHOTS:
            return
        SAVED_SCREENSHOTS.add(name)
        save_screenshot(self.app, window, self.screenshots / f"{name}.png")

    def answer(self, window: Any) -> None:
        """Do what the owner would in this window."""
        if isinstance(window, ProgressWindow):
            self.screenshot(window, "dialog-progress")
        elif isinstance(window, WordCountPrompt):
            self.screenshot(window, "dialog-word-count")
            self.on_gtk(window.choices[len(self.words)].clicked)
        elif isinstance(window, WordPrompt):
            state = self.state()
            position = state.recovery_word_pos or 0
            word = self.words[position - 1] if position else (state.recovery_fake_word or "")

            def type_word() -> None:
                # BIP-39 words are unique in their first four letters: the prompt completes.
                window.entry.set_text(word[:4])
                window.ok.clicked()

            self.screenshot(window, "dialog-word")
            self.on_gtk(type_word)
        elif isinstance(window, PinPrompt):
            self.screenshot(window, "dialog-pin")
            matrix = self.state().matrix or ""
            positions = "".join(str(matrix.index(digit) + 1) for digit in self.pin)
            seed_safety.typed(positions)

            def enter_pin() -> None:
                for position in positions:
                    window.keys[position].clicked()
                window.ok.clicked()

            self.on_gtk(enter_pin)
        elif isinstance(window, MatrixWordPrompt):
            self.screenshot(window, "dialog-matrix")
            key = matrix_key(self.screen, " ".join(self.words))
            key = MATRIX6_RIGHT.get(key, key) if key not in window.keys else key
            self.on_gtk(window.keys[key].clicked)
        elif isinstance(window, PairingCodePrompt):
            info = self.screen.call(messages.DebugLinkGetPairingInfo())
            assert isinstance(info, messages.DebugLinkPairingInfo)
            code = f"{((info.code_entry_code or 0) + self.code_offset) % 1_000_000:06}"
            seed_safety.typed(code)
            self.screenshot(window, "dialog-pairing-code")

            def type_code() -> None:
                window.entry.set_text(f"{code[:3]} {code[3:]}")  # grouped as the Trezor shows it
                window.ok.clicked()

            self.on_gtk(type_code)
        elif isinstance(window, Checklist) and window.go.get_label() == "_Pair":
            self.screenshot(window, "dialog-before-pairing")
            self.on_gtk(window.go.clicked)
        elif isinstance(window, Checklist):
            self.screenshot(window, "dialog-before-backup" if window.go.get_label()
                            == "Create _backup" else "dialog-after-backup")  # fmt: skip

            def tick_all() -> None:
                assert not window.go.get_sensitive()  # nothing ticked yet: no way on
                for box in window.boxes:
                    box.set_active(True)
                window.go.clicked()

            self.on_gtk(tick_all)

    def act_on_device(self, stage: str) -> None:
        """Press the Trezor's button where its screen asks for a confirmation."""
        if stage in ("confirm", "show_words", "result"):
            self.screen.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))

    def until_finished(self) -> tuple[str, str]:
        """Answer windows and device screens until the operation ends."""
        while True:
            what, data = self.next()
            if what == "window":
                self.answer(data)
            elif what == "stage":
                self.act_on_device(data)
            elif what == "devices":
                self.devices = list(data[0])
            elif what == "finished":
                return tuple(data)

    def close(self) -> None:
        self.screen.close()


def next_window(events: queue.Queue[Event], kind: type[T]) -> T:
    """The next window of this kind the applet opens (other events are passed over)."""
    while True:
        what, data = events.get(timeout=EVENT_TIMEOUT)
        if what == "window" and isinstance(data, kind):
            return data


def drawn_box(window: Any) -> tuple[int, int, int, int]:
    """Where a window is on the screen, once everything pending is drawn (GTK thread)."""
    while Gtk.events_pending():
        Gtk.main_iteration_do(False)
    top = window.window
    x, y = top.get_window().get_origin()[1:]
    allocation = top.get_allocation()
    return (x, y, x + allocation.width, y + allocation.height)


def save_screenshot(app: RecordingApplet, window: Any, path: Path) -> None:
    """Save the window as the owner sees it now."""
    box = app.dialogs.call(lambda: drawn_box(window)).result(EVENT_TIMEOUT)
    ImageGrab.grab(bbox=box, xdisplay=None).save(path)


def release_windows(app: RecordingApplet) -> None:
    """Destroy every window and drop the test's references, on the GTK thread."""
    for window in Gtk.Window.list_toplevels():
        window.destroy()
    app.kept.clear()
    app.window = None
    gc.collect()
    while Gtk.events_pending():
        Gtk.main_iteration_do(False)


@pytest.fixture(scope="module")
def shared_applet(
    desktop: Desktop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RecordingApplet]:
    """One applet for the module, as on a desktop: it follows each test's daemon coming and
    going. Its windows live on a GLib main loop thread, the tray's loop in the real applet."""
    loop = GLib.MainLoop()
    gtk = threading.Thread(target=loop.run, name="gtk", daemon=True)
    gtk.start()
    app = RecordingApplet(queue.Queue(), tmp_path_factory.mktemp("applet"))
    assert app.start()
    yield app
    app.dialogs.call(app.dialogs.close_all).result(EVENT_TIMEOUT)
    # Every window dies on the GTK thread, before its loop ends and the display goes away.
    app.dialogs.call(lambda: release_windows(app)).result(EVENT_TIMEOUT)
    app.stop()
    GLib.idle_add(loop.quit)
    gtk.join(EVENT_TIMEOUT)


@contextmanager
def applet(app: RecordingApplet) -> Iterator[tuple[RecordingApplet, queue.Queue[Event]]]:
    """The shared applet with a fresh event queue for one test."""
    app.events = queue.Queue()
    yield app, app.events


def wait_devices(
    events: queue.Queue[Event],
    where: Callable[[list[Device]], bool],
    latest: list[Device] | None = None,
) -> list[Device]:
    """The first reported device list that satisfies `where`, or `latest` (a list already
    reported, e.g. before the operation's end was) when that does."""
    if latest and where(latest):
        return latest
    while True:
        what, data = events.get(timeout=EVENT_TIMEOUT)
        if what == "devices" and where(data[0]):
            return list(data[0])


class Actions:
    """Records which action a menu item calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def __getattr__(self, name: str) -> Callable[[object], None]:
        def record(arg: object = None) -> None:
            self.calls.append((name, arg))

        return record


def entry(entries: list[MenuEntry], text: str) -> MenuEntry | None:
    return next((e for e in entries if e.text.strip() == text), None)


def test_menu_items_are_enabled_where_they_make_sense() -> None:
    actions = Actions()
    cases = {
        "backup_required": ("Create backup...", ["Check backup..."]),
        "unverified": ("Check backup...", ["Create backup..."]),
        "check_due": ("Check backup...", ["Create backup..."]),
        "check_failed": ("What to do...", ["Create backup..."]),
        "backup_failed": ("What to do...", ["Check backup...", "Create backup..."]),
        "extra_backup_unlocked": ("Create backup...", ["Check backup..."]),
    }
    for state, (enabled, disabled) in cases.items():
        device = Device(id="D1", state=state, model="T", label="Mine")
        entries = menu_entries([device], True, actions)  # type: ignore[arg-type]
        item = entry(entries, enabled)
        assert item is not None and item.enabled and item.action is not None, state
        for text in disabled:
            other = entry(entries, text)
            assert other is not None and not other.enabled, (state, text)
        item.action()
    assert [name for name, _ in actions.calls] == [
        "backup", "check", "check", "what_to_do", "what_to_do", "backup"
    ]  # fmt: skip
    # A locked Trezor offers Unlock..., an unlocked one does not.
    locked = Device(id="D5", state="locked", model="Safe 5", locked=True)
    unlock = entry(menu_entries([locked], True, actions), "Unlock...")  # type: ignore[arg-type]
    assert unlock is not None and unlock.enabled and unlock.action is not None
    unlock.action()
    assert actions.calls[-1] == ("unlock", "D5")
    assert look_for([locked]) is Look.ATTENTION
    unlocked = Device(id="D6", state="unverified")
    assert entry(menu_entries([unlocked], True, actions), "Unlock...") is None  # type: ignore[arg-type]
    assert entry(menu_entries([unlocked], True, actions), "Pair with this computer...") is None  # type: ignore[arg-type]
    # A Safe 7 not paired here offers the pairing, and none while it pairs.
    unpaired = Device(id="at_udp_127_0_0_1_1", state="pairing_required", model="Safe 7")
    entries = menu_entries([unpaired], True, actions)  # type: ignore[arg-type]
    assert entries[1].text == (
        "Trezor Safe 7: not paired with this computer: pair it to read its backup state"
    )
    pair = entry(entries, "Pair with this computer...")
    assert pair is not None and pair.enabled and pair.action is not None
    pair.action()
    assert actions.calls[-1] == ("pair", "at_udp_127_0_0_1_1")
    pairing = Device(id="at_udp_127_0_0_1_1", state="pairing_required", operation="pair")
    busy_pair = entry(menu_entries([pairing], True, actions), "Pair with this computer...")  # type: ignore[arg-type]
    assert busy_pair is not None and not busy_pair.enabled
    assert [name for _, name in row_of(unpaired, time.time()).buttons] == [
        "pair", "history", "later"
    ]  # fmt: skip
    # A Safe 7 read paired here (under its own id) may forget its pairing, in the window only;
    # not while an operation runs, nor one that tells nothing (locked) or is no Safe 7.
    paired = Device(id="P7", state="verified", model="Safe 7")
    assert [name for _, name in row_of(paired, time.time()).buttons] == [
        "check", "history", "forget_pairing"
    ]  # fmt: skip
    assert not any("pairing" in e.text.lower() for e in menu_entries([paired], True, actions))  # type: ignore[arg-type]
    for unfit in (
        Device(id="P7", state="verified", model="Safe 7", operation="check"),
        Device(id="at_udp_127_0_0_1_1", state="locked", model="Safe 7", locked=True),
        Device(id="D8", state="verified", model="Safe 5"),
        Device(id="P7", state="verified", model="Safe 7", connected=False),
    ):
        assert "forget_pairing" not in [name for _, name in row_of(unfit, time.time()).buttons]
    # Nothing plugged: say so, keep what was last seen; an unknown state never crashes.
    gone = Device(id="D2", state="frobnicated", model="One", connected=False)
    entries = menu_entries([gone], True, actions)  # type: ignore[arg-type]
    assert entries[0].text == "Open Trezor Backup Guard" and entries[0].default
    assert entries[1].text == "No Trezor connected"
    assert any(e.text == "Last seen: Trezor One: frobnicated" for e in entries)
    assert summary([gone], False).endswith("the backup service is not running")
    # No daemon: its own look, whatever was last seen, and the way to start it.
    assert look_for([Device(id="D7", state="verified")], daemon_running=False) is Look.OFFLINE
    start = entry(menu_entries([gone], False, actions), "Start the service")  # type: ignore[arg-type]
    assert start is not None and start.enabled and start.action is not None
    start.action()
    assert [name for name, _ in actions.calls][-1] == "start_service"
    assert look_for([Device(id="D3", state="frobnicated")]) is Look.ATTENTION
    busy = Device(id="D4", state="unverified", operation="check")
    assert look_for([busy]) is Look.BUSY
    assert entry(menu_entries([busy], True, actions), "Cancel") is not None  # type: ignore[arg-type]


def test_menu_check_runs_a_24_word_model_one_check_through_the_dialogs(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, screenshots: Path
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with applet(shared_applet) as (app, events), running(daemon):
            [device] = wait_devices(events, lambda d: len(d) == 1 and d[0].connected)
            assert device.state == "unverified"
            entries = menu_entries([device], True, app)
            check = entry(entries, "Check backup...")
            backup = entry(entries, "Create backup...")
            assert check is not None and check.enabled and check.action is not None
            assert backup is not None and not backup.enabled
            owner = Owner(app, events, sim, screenshots)
            try:
                check.action()
                assert owner.until_finished() == ("check", "passed")
            finally:
                owner.close()
            # The list may have come before the end of the operation did.
            wait_devices(
                events, lambda d: d[0].state == "verified" and not d[0].operation, owner.devices
            )
            # Work on the GTK thread runs in order: the window's close was queued before this.
            assert app.dialogs.call(lambda: dict(app.dialogs.progress)).result() == {}
    seed_safety.assert_no_secret(daemon.log())


def test_pin_and_matrix_dialogs_complete_a_12_word_check(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, screenshots: Path
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, pin="7351",
                         mnemonic=MNEMONIC12) as sim:  # fmt: skip
        daemon = make_daemon(sim.path)
        with applet(shared_applet) as (app, events), running(daemon):
            wait_devices(events, lambda d: len(d) == 1 and d[0].connected)
            owner = Owner(app, events, sim, screenshots, MNEMONIC12, pin="7351")
            try:
                app.check(DEVICE_ID)
                assert owner.until_finished() == ("check", "passed")
            finally:
                owner.close()
            assert {"dialog-pin", "dialog-matrix", "dialog-word-count"} <= owner.shots


def test_backup_asks_suites_questions_first_and_offers_the_check_after(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, screenshots: Path
) -> None:
    with start_simulator("one", "backup_required", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with applet(shared_applet) as (app, events), running(daemon):
            wait_devices(events, lambda d: len(d) == 1 and d[0].state == "backup_required")
            owner = Owner(app, events, sim, screenshots)
            try:
                app.backup(DEVICE_ID)
                assert owner.until_finished() == ("backup", "completed")
                # The after-backup checklist offers the check; ticking it starts one.
                assert owner.until_finished() == ("check", "passed")
            finally:
                owner.close()
            assert {"dialog-before-backup", "dialog-after-backup"} <= owner.shots


def test_a_rogue_process_cannot_make_the_applet_ask_for_words(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet
) -> None:
    """The applet's agent answers only the daemon, about an operation the owner started here:
    a process calling its Agent1 gets AccessDenied and no dialog opens, whether no operation
    runs, the owner's own check runs, or the daemon is down and the process took its name
    (docs/security.md)."""
    denied = ["org.freedesktop.DBus.Error.AccessDenied"] * 4
    rogue = (
        "--name",
        "io.github.TrezorBackupGuard.Applet",
        "/io/github/TrezorBackupGuard/applet/agent",
        f"/io/github/TrezorBackupGuard/devices/{DEVICE_ID}",
    )
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon(sim.path)
        with applet(shared_applet) as (app, events):
            seen: list[Event] = []
            with running(daemon):
                wait_devices(events, lambda d: len(d) == 1 and d[0].connected)
                assert [c["error"] for c in rogue_agent_calls(*rogue)] == denied
                app.check(DEVICE_ID)  # the owner's check: the daemon asks for the word count
                while not (seen and isinstance(seen[-1][1], WordCountPrompt)):
                    seen.append(events.get(timeout=EVENT_TIMEOUT))
                assert [c["error"] for c in rogue_agent_calls(*rogue)] == denied
            wait_devices(events, lambda d: bool(d) and not d[0].connected)
            took, *calls = rogue_agent_calls("--take-name", *rogue)
            assert took == {"took_name": True}
            assert [c["error"] for c in calls] == denied
            while not events.empty():
                seen.append(events.get_nowait())
    prompts = (PinPrompt, WordPrompt, MatrixWordPrompt, WordCountPrompt)
    opened = [type(data).__name__ for what, data in seen if what == "window"]
    assert [name for name in opened if name in {p.__name__ for p in prompts}] == [
        "WordCountPrompt"
    ], opened


GUIDE_URL = (
    "https://trezor.io/guides/backups-recovery/general-standards/check-backup-on-trezor-safe-5"
)


def open_main_window(app: RecordingApplet, actions: Actions, devices: list[Device],
                     daemon_running: bool = True) -> MainWindow:  # fmt: skip
    """The applet's main window showing `devices`, as the owner opens it."""

    def open_window() -> MainWindow:
        window = MainWindow(actions, on_open=lambda: actions.calls.append(("opened", None)))  # type: ignore[arg-type]
        window.show_devices(devices, daemon_running)
        window.show()
        app.kept.append(window)  # freed on the GTK thread, with the rest
        return window

    return app.dialogs.call(open_window).result(EVENT_TIMEOUT)


def in_view(window: MainWindow) -> list[str]:
    """The titles of the rows the owner sees without scrolling (GTK thread)."""
    while Gtk.events_pending():
        Gtk.main_iteration_do(False)
    visible = window.scroller.get_allocation().height
    seen = []
    for child, row in zip(window.list.get_children(), window.rows, strict=True):
        allocation = child.get_allocation()
        if allocation.y + allocation.height <= visible:
            seen.append(row.title)
    return seen


def test_the_main_window_shows_the_most_urgent_trezor_first_and_all_three_at_its_first_size(
    shared_applet: RecordingApplet, screenshots: Path
) -> None:
    """What the owner reads and can do in the window, per device, most urgent first (the
    tray's order): a connected one to check, with Trezor's guide as a named link; a last-seen
    one whose check failed (what to do, history, no check while it is away); one checked.
    Titles say the model once; with the daemon away every row's state is unknown."""
    app = shared_applet
    actions = Actions()
    devices = [
        Device(id="D1", state="unverified", model="Safe 5", label="Savings",
               explanation="The backup was never checked on this computer.",
               next_step=f"Check it now. Trezor's guide: {GUIDE_URL}",
               next_step_text=as_sentences(f"Check it now. Trezor's guide: {GUIDE_URL}")),
        Device(id="D2", state="check_failed", model="One", label="My Model One",
               connected=False, last_check_time=1_780_000_000,
               last_check_result="invalid_words", last_seen=1_780_000_100),
        Device(id="D3", state="verified", model="T", label="Spare",
               last_check_time=1_780_000_000, last_check_result="passed"),
    ]  # fmt: skip
    window = open_main_window(app, actions, devices)
    try:
        assert actions.calls == [("opened", None)]
        rows = {row.device_id: row for row in window.rows}
        # Danger first, then what needs a check, then the calm one; the tray agrees.
        assert [row.device_id for row in window.rows] == ["D2", "D1", "D3"]
        menu = [e.text for e in menu_entries(devices, True, actions) if e.action]  # type: ignore[arg-type]
        assert [t for t in menu if t.startswith(("Savings", "Spare", "Last seen"))] == [
            "Savings (Safe 5): backup not checked yet",
            "Spare (T): backup checked",
            "Last seen: My Model One: backup check failed: do not send funds",
        ]
        # All three in view at the first size, nothing to scroll for.
        assert app.dialogs.call(lambda: in_view(window)).result(EVENT_TIMEOUT) == [
            "My Model One", "Savings", "Spare"
        ]  # fmt: skip
        assert (rows["D1"].title, rows["D1"].model) == ("Savings", "Safe 5")
        assert (rows["D2"].title, rows["D2"].model) == ("My Model One", "")
        assert rows["D1"].state == "Backup not checked yet"
        # The guide is a link with a name; no address is in the text.
        assert rows["D1"].guide is not None and rows["D1"].guide.url == GUIDE_URL
        assert rows["D1"].guide.name == "Trezor's guide for the Safe 5"
        assert not any("https://" in line for row in window.rows for line in row.lines)
        assert "Check it now." in rows["D1"].lines
        assert "Last check: never on this computer." in rows["D1"].lines
        assert [name for _, name in rows["D1"].buttons] == ["check", "history", "later"]
        assert rows["D2"].look is Look.DANGER
        # One date format, the desktop's, for every date in a row (ISO 8601 in the tests' C
        # locale: i18n.date_format).
        checked = time.strftime("%Y-%m-%d", time.localtime(1_780_000_000))
        assert f"Last check: {checked}, failed: the words are not a valid recovery seed." in (
            rows["D2"].lines
        )
        seen = time.strftime("%Y-%m-%d", time.localtime(1_780_000_100))
        assert f"Not connected since {seen}. Plug in My Model One to check it or to act on it." in (
            rows["D2"].lines
        )
        assert [name for _, name in rows["D2"].buttons] == [
            "what_to_do", "history", "later", "forget"
        ]  # fmt: skip
        save_screenshot(app, window, screenshots / "window-main.png")

        def press_all() -> None:
            for button in window.buttons.values():
                button.clicked()

        app.dialogs.call(press_all).result(EVENT_TIMEOUT)
        assert sorted(actions.calls[1:]) == sorted(
            [("check", "D1"), ("history", "D1"), ("later", "D1"),
             ("what_to_do", "D2"), ("history", "D2"), ("later", "D2"), ("forget", "D2"),
             ("check", "D3"), ("history", "D3")]
        )  # fmt: skip
        # The daemon gone: the window says so and offers to start it; no row vouches for
        # anything, not even a Trezor that was plugged in.
        app.dialogs.call(lambda: window.show_devices(devices, False)).result(EVENT_TIMEOUT)
        assert app.dialogs.call(window.service.get_visible).result(EVENT_TIMEOUT)
        assert {row.state for row in window.rows} == {"State unknown"}
        assert not any("Not connected" in line for row in window.rows for line in row.lines)
        save_screenshot(app, window, screenshots / "window-service-down.png")
        app.dialogs.call(window.start_button.clicked).result(EVENT_TIMEOUT)
        assert actions.calls[-1] == ("start_service", None)
    finally:
        app.dialogs.call(window.window.destroy).result(EVENT_TIMEOUT)


def as_sentences(next_step: str) -> tuple[Sentence, ...]:
    """A next step as the daemon sends it in sentences: Trezor's guide is a sentence of its
    own, its address an argument."""
    text, _, url = next_step.partition(" Trezor's guide: ")
    guide = (Sentence("Trezor's guide: {url}", {"url": url}),) if url else ()
    return ((Sentence(text),) if text else ()) + guide


STATE_TEXTS: dict[str, tuple[str, str]] = {
    "backup_failed": ("A backup was started and not finished: the Trezor never shows these "
                      "words again.", "Move the funds to a new wallet, wipe it, start again."),
    "check_failed": ("The written words do not restore this wallet: they are not a valid "
                     "recovery seed.", "Check again slowly; if it fails again, move the funds."),
    "backup_required": ("This wallet has never been backed up.", "Create the backup now."),
    "extra_backup_unlocked": ("An extra backup was unlocked on the Trezor.", "Create it now."),
    "pairing_required": ("This Safe 7 is not paired with this computer.", "Pair it once."),
    "locked": ("The Trezor is locked with its PIN.", "Unlock it to read its backup state."),
    "unverified": ("The backup was never checked on this computer.",
                   f"Check your backup. Trezor's guide: {GUIDE_URL}"),
    "check_due": ("The last check is more than 180 days ago.",
                  f"Check your backup again. Trezor's guide: {GUIDE_URL}"),
    "unknown": ("The Trezor answered something this program does not understand.",
                "Reconnect it."),
    "busy": ("Another app is using the Trezor.", ""),
    "bootloader": ("The Trezor is in bootloader mode.", "Restart it normally."),
    "not_initialized": ("There is no wallet on this Trezor yet.", "Set one up in Trezor Suite."),
    "verified": ("The backup passed its check.", ""),
    "no_backup": ("The Trezor was set up without a backup, on purpose.", ""),
}  # fmt: skip


CHECKED_STATES = {"verified": "passed", "check_due": "passed", "check_failed": "mismatch"}


def test_each_state_has_its_row_in_the_window(
    shared_applet: RecordingApplet, screenshots: Path
) -> None:
    """A screenshot of the window for each state (docs/screenshots/window-<state>.png); every
    state reads as words, with its look, and the order of the window is the urgency's."""
    app = shared_applet
    assert set(STATE_TEXTS) == set(MOST_URGENT_FIRST)
    models = {"pairing_required": "Safe 7", "check_failed": "One", "backup_required": "One"}
    devices = [
        Device(id=f"S{i}", state=state, model=models.get(state, "Safe 5"),
               label=f"Wallet {i + 1}", explanation=STATE_TEXTS[state][0],
               next_step=STATE_TEXTS[state][1], locked=state == "locked",
               next_step_text=as_sentences(STATE_TEXTS[state][1]),
               last_check_time=1_780_000_000 if state in CHECKED_STATES else 0,
               last_check_result=CHECKED_STATES.get(state, ""))
        for i, state in enumerate(reversed(MOST_URGENT_FIRST))
    ]  # fmt: skip
    for device in devices:
        window = open_main_window(app, Actions(), [device])
        try:
            [row] = window.rows
            assert row.state and row.state[0].isupper() and "_" not in row.state
            save_screenshot(app, window, screenshots / f"window-{device.state}.png")
        finally:
            app.dialogs.call(window.window.destroy).result(EVENT_TIMEOUT)
    window = open_main_window(app, Actions(), devices)
    try:
        assert [row.device_id for row in window.rows] == [d.id for d in reversed(devices)]
    finally:
        app.dialogs.call(window.window.destroy).result(EVENT_TIMEOUT)


def test_keypads_and_the_word_entry_tell_screen_readers_no_secret(
    shared_applet: RecordingApplet,
) -> None:
    app = shared_applet

    def look() -> tuple[list[str], str, str]:
        pin = PinPrompt(app.dialogs, "D1", "Mine")
        names = [pin.keys[p].get_accessible().get_name() for p in "789456123"]
        pin.keys["7"].clicked()
        pin.keys["3"].clicked()
        shown = pin.shown.get_accessible().get_name()
        word = WordPrompt(app.dialogs, "D1", "Mine")
        word.entry.set_text("zoo")
        text = word.entry.get_accessible().get_text(0, -1)
        word.ok.clicked()  # "zoo" is a word: answered, window gone
        pin.cancel()
        # Closed windows keep no widget (and so no entry that held a word) for Python to free
        # later on another thread.
        assert "entry" not in vars(word) and "keys" not in vars(pin)
        return names, shown, text

    names, shown, text = app.dialogs.call(look).result(EVENT_TIMEOUT)
    assert names == [f"position {p}" for p in "789456123"]
    assert shown == "2 positions entered"
    assert text == "\u25cf" * 3  # the typed word reaches the accessibility tree as bullets


def test_later_on_a_failed_check_asks_first_and_snoozes_only_that_trezor(
    shared_applet: RecordingApplet,
) -> None:
    app = shared_applet
    with applet(app) as (_, events):
        failed = Device(id="F1", state="check_failed", label="Savings")
        waiting = Device(id="F2", state="unverified", label="Spare")
        app.mirror.devices.update({"F1": failed, "F2": waiting})
        try:
            for answer in (False, True):
                app.later("F1")
                what, window = events.get(timeout=EVENT_TIMEOUT)
                assert what == "window" and isinstance(window, Checklist)
                prompt: Checklist = window
                heading = app.dialogs.call(prompt.box.get_children()[0].get_text)
                assert "do not restore this wallet" in heading.result(EVENT_TIMEOUT)
                app.dialogs.call((window.go if answer else window.stop).clicked)
                window.future.result(EVENT_TIMEOUT)
                app.submit(asyncio.sleep(0)).result(EVENT_TIMEOUT)  # the answer is handled
                assert app.snoozes.is_snoozed("F1") is answer
            assert not app.snoozes.is_snoozed("F2")
            app.later("F2")  # nothing failed: no question
            app.submit(asyncio.sleep(0)).result(EVENT_TIMEOUT)
            assert app.snoozes.is_snoozed("F2") and events.empty()
        finally:
            for device_id in ("F1", "F2"):
                app.mirror.devices.pop(device_id, None)


def until_notified(desktop: Desktop, mark: int, summary: str) -> list[dict[str, Any]]:
    """The notifications with this summary shown since `mark`, once there is one."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        shown = [n for n in desktop.new_history(mark) if n["summary"] == summary]
        if shown:
            return shown
        assert time.monotonic() < deadline, f"no notification {summary!r}"
        time.sleep(0.05)


def test_a_trezor_in_a_drawer_is_reminded_once_per_step_of_the_ladder(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, desktop: Desktop
) -> None:
    app = shared_applet
    drawer_id = "0D0D0D0D0D0D0D0D0D0D0D0D"
    with start_simulator("one", "backed_up", device_id=drawer_id, label="Drawer") as sim:
        daemon = make_daemon(sim.path)
        with applet(app) as (_, events), running(daemon):
            wait_devices(events, lambda d: any(x.id == drawer_id and x.connected for x in d))
    # Checked ten days ago (the history file the daemon keeps), then put in a drawer: the
    # daemon restarts without it.
    checked = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
    history = HistoryStore(daemon.state_dir)
    history.record(drawer_id, OperationKind.CHECK, "passed", checked)
    history.close()
    due = (checked + timedelta(days=180)).timestamp()
    daemon.emulators = []
    title = "Plug in Drawer to check its backup"
    app.notifier.enabled = True
    try:
        app.clock = lambda: due + 60  # the applet lives 170 days later
        mark = len(desktop.history())
        with applet(app) as (_, events), running(daemon):
            found = wait_devices(events, lambda d: any(x.id == drawer_id and x.check_due_time
                                                       for x in d))  # fmt: skip
            [drawer] = [d for d in found if d.id == drawer_id]
            assert not drawer.connected and drawer.check_due_time == int(due)
            [shown] = until_notified(desktop, mark, title)
            assert "a check is due every 180 days" in shown["body"]
            row = row_of(drawer, app.clock())
            assert any(line.startswith("Check due since") for line in row.lines)
            # The same step again: no second notification.
            app.loop.call_soon_threadsafe(app.review_reminders)
            app.submit(asyncio.sleep(0)).result(EVENT_TIMEOUT)
            app.submit(asyncio.sleep(0)).result(EVENT_TIMEOUT)
            # Overdue (twice the interval): the next step is told.
            app.clock = lambda: due + 181 * 86400
            app.loop.call_soon_threadsafe(app.review_reminders)
            shown_twice = until_notified(desktop, mark, title)
            assert len(shown_twice) == 2, shown_twice
            assert "more than 360 days ago" in shown_twice[0]["body"]
    finally:
        app.notifier.enabled = False
        app.clock = time.time


def test_a_daemon_that_stays_away_is_told_once_with_start_the_service(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, desktop: Desktop
) -> None:
    app = shared_applet
    app.notifier.enabled = True
    app.offline_notice_seconds = 0.2
    mark = len(desktop.history())
    try:
        with applet(app) as (_, events), running(make_daemon()):
            what, data = events.get(timeout=EVENT_TIMEOUT)
            while not (what == "devices" and data[1]):  # until the daemon is there
                what, data = events.get(timeout=EVENT_TIMEOUT)
        # The daemon stopped and stays away: one notification, whose button tries to start
        # it (nothing can be activated on the tests' bus, which the applet then says).
        with BusMonitor(NOTIFY_CALLS) as sent:
            menu = desktop.choose_action("Start the service")
            assert "#Start the service (The backup service is not running)" in menu[-1], menu
            sent.wait_for(lambda line: '"The backup service could not be started"' in line)
            sent.wait_for(lambda line: "trezor-backupctl doctor" in line)
        told = [n for n in desktop.new_history(mark)
                if n["summary"] == "The backup service is not running"]  # fmt: skip
        assert len(told) == 1 and "until it runs again" in told[0]["body"]
    finally:
        app.notifier.enabled = False
        app.offline_notice_seconds = 60.0


def typo_in(prompt: PairingCodePrompt) -> tuple[str, str, str, bool]:
    """Five digits and Pair (GTK thread): what the entry showed a screen reader, what is left
    in it, the sentence shown, and whether the prompt answered."""
    prompt.entry.set_text("48291")
    hidden = prompt.entry.get_accessible().get_text(0, -1)
    prompt.ok.clicked()
    return hidden, prompt.entry.get_text(), prompt.problem.get_text(), prompt.future.done()


def test_the_pairing_code_entry_is_hidden_refuses_what_is_not_6_digits_and_keeps_nothing(
    shared_applet: RecordingApplet,
) -> None:
    app = shared_applet
    seed_safety.typed("482915")
    agent = DialogAgent(app.dialogs, lambda _device_id: "My Safe 7")
    assert isinstance(agent, PairingAgent)  # so the shared AgentExport lets it answer
    path = "/io/github/TrezorBackupGuard/devices/P1"
    with applet(app) as (_, events):
        asked = asyncio.run_coroutine_threadsafe(agent.request_pairing_code(path), app.loop)
        prompt = next_window(events, PairingCodePrompt)
        typo = app.dialogs.call(functools.partial(typo_in, prompt)).result(EVENT_TIMEOUT)
        assert typo == ("\u25cf" * 5, "", NOT_A_PAIRING_CODE, False)  # asked again

        def type_the_code() -> None:
            prompt.entry.set_text("482 915")  # grouped by three, as the Trezor shows it
            prompt.ok.clicked()

        app.dialogs.call(type_the_code).result(EVENT_TIMEOUT)
        assert asked.result(EVENT_TIMEOUT) == "482915"
        assert "entry" not in vars(prompt)  # the window is gone, with every widget that held it
        # Cancel (or Escape, or the window's X): the daemon is told the owner gave no code.
        asked = asyncio.run_coroutine_threadsafe(agent.request_pairing_code(path), app.loop)
        prompt = next_window(events, PairingCodePrompt)
        app.dialogs.call(prompt.cancel).result(EVENT_TIMEOUT)
        with pytest.raises(AgentCancelled):
            asked.result(EVENT_TIMEOUT)


def unpaired_safe7(devices: list[Device]) -> bool:
    return [(d.state, d.model) for d in devices if d.connected] == [("pairing_required", "Safe 7")]


def texts(app: RecordingApplet, window: InfoWindow) -> tuple[str, str, str]:
    """A message window's title, heading and text, as the owner reads them."""

    def read() -> tuple[str, str, str]:
        heading = window.box.get_children()[0].get_text()
        return window.window.get_title(), heading, window.text.get_text()

    return app.dialogs.call(read).result(EVENT_TIMEOUT)


def test_a_safe7_pairs_from_the_plug_in_notification_with_the_code_typed_in_the_applet(
    make_daemon: DaemonFactory,
    shared_applet: RecordingApplet,
    desktop: Desktop,
    secret_service: Path,
    screenshots: Path,
) -> None:
    """Plugged in unpaired, the Safe 7 is announced with a Pair button; the owner reads what
    pairing asks and why, confirms on the Trezor, types its code into the applet and allows
    connecting without asking; the daemon's sentence says it is paired. Its pairing is in the
    keyring, its status is read, and the object of the unpaired Trezor is not kept as a ghost."""
    app = shared_applet
    store = keyring()
    app.notifier.enabled = True
    mark = len(desktop.history())  # closes what is shown: the action menu offers ours only
    try:
        with safe7() as sim, applet(app) as (_, events), running(make_daemon(sim.path)) as daemon:
            wait_devices(events, unpaired_safe7)
            menu = desktop.choose_action("#Pair (")
            assert any("#Pair (Pair Trezor Safe 7 with this computer)" in line for line in menu)
            owner = Owner(app, events, sim, screenshots, MNEMONIC12)
            try:
                assert owner.until_finished() == ("pair", "completed")
            finally:
                owner.close()
            result = next_window(events, InfoWindow)
            assert texts(app, result) == (
                "Pairing: Trezor Safe 7",
                "Paired with this computer",
                "Paired: this computer now reads the Trezor's backup status without asking you.",
            )
            app.dialogs.call(result.close).result(EVENT_TIMEOUT)
            assert {"dialog-before-pairing", "dialog-pairing-code"} <= owner.shots
            devices = wait_devices(
                events, lambda d: [x.state for x in d if x.model == "Safe 7"] == ["unverified"],
                owner.devices,
            )  # fmt: skip
            assert not [d.id for d in devices if d.id.startswith("at_")], devices
            assert kept_credentials(store) == 1
            # Now it tells its state: the plug-in reminder of a Trezor never checked here. The
            # pairing's end was told in the window, not again in a notification.
            until_notified(desktop, mark, "Check the backup of My Trezor")
            told = [n["summary"] for n in desktop.new_history(mark)]
            assert "Paired with this computer" not in told, told
        seed_safety.assert_no_secret(daemon.log())
    finally:
        app.notifier.enabled = False


def test_a_wrong_code_from_the_main_window_ends_with_the_daemons_sentence_and_nothing_kept(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, secret_service: Path,
    screenshots: Path,
) -> None:  # fmt: skip
    app = shared_applet
    store = keyring()
    with safe7() as sim, applet(app) as (_, events), running(make_daemon(sim.path)) as daemon:
        [unpaired] = [d for d in wait_devices(events, unpaired_safe7) if d.connected]
        app.show_window()
        window = next_window(events, MainWindow)
        owner = Owner(app, events, sim, screenshots, MNEMONIC12, code_offset=1)
        try:
            app.dialogs.call(window.buttons[(unpaired.id, "pair")].clicked).result(EVENT_TIMEOUT)
            assert owner.until_finished() == ("pair", "refused")
        finally:
            owner.close()
        result = next_window(events, InfoWindow)
        title, heading, text = texts(app, result)
        assert (title, heading) == ("Pairing: Trezor Safe 7", "Not paired")
        assert text.startswith("The code did not match the one on the Trezor: nothing was stored.")
        app.dialogs.call(result.close).result(EVENT_TIMEOUT)
        app.dialogs.call(window.close).result(EVENT_TIMEOUT)
        assert kept_credentials(store) == 0
        assert [d.state for d in app.mirror.devices.values() if d.connected] == ["pairing_required"]
    seed_safety.assert_no_secret(daemon.log())


def test_without_a_keyring_the_pairing_ends_with_the_daemons_sentence_saying_so(
    make_daemon: DaemonFactory,
    shared_applet: RecordingApplet,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session where no Secret Service runs (a bus of its own: the daemon and an applet, no
    keyring): after the explanation, the pairing is refused before the Trezor is asked
    anything, and the applet shows the daemon's sentence saying why. (`shared_applet` only
    runs the GTK loop for this second applet's windows.)"""
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        events: queue.Queue[Event] = queue.Queue()
        app = RecordingApplet(events, tmp_path)
        assert app.start()
        try:
            with safe7() as sim, running(make_daemon(sim.path)):
                [unpaired] = [d for d in wait_devices(events, unpaired_safe7) if d.connected]
                app.pair(unpaired.id)
                explained = next_window(events, Checklist)
                app.dialogs.call(explained.go.clicked).result(EVENT_TIMEOUT)
                seen: list[Event] = []
                while not (seen and isinstance(seen[-1][1], InfoWindow)):
                    seen.append(events.get(timeout=EVENT_TIMEOUT))
                result = seen[-1][1]
                # Nothing was asked on the Trezor: no step of the pairing was ever shown.
                assert [data for what, data in seen if what == "stage"] == []
                assert ("finished", ("pair", "refused")) in seen
                title, heading, text = texts(app, result)
                assert (title, heading) == ("Pairing: Trezor Safe 7", "Not paired")
                assert "No keyring" in text and "cannot be paired" in text, text
        finally:
            app.dialogs.call(lambda: close_windows(app)).result(EVENT_TIMEOUT)
            app.stop()


def paired_safe7(devices: list[Device]) -> bool:
    return [(d.state, d.model) for d in devices if d.connected] == [("unverified", "Safe 7")]


def confirmation(window: Checklist) -> tuple[str, str, str, str, bool, bool]:
    """A question's title, text and buttons, whether its go is drawn as destructive and
    whether Enter answers stop (GTK thread)."""
    text = window.box.get_children()[0].get_text()
    go, stop = window.go, window.stop
    destructive = go.get_style_context().has_class("destructive-action")
    return (
        window.window.get_title(),
        text,
        go.get_label(),
        stop.get_label(),
        destructive,
        (stop.has_default()),
    )


def test_forget_pairing_in_the_window_says_what_it_changes_and_leaves_the_safe7_unpaired(
    make_daemon: DaemonFactory, shared_applet: RecordingApplet, secret_service: Path,
    screenshots: Path,
) -> None:  # fmt: skip
    """A Safe 7 paired here: Forget pairing... in its row says first what that changes and
    what it leaves alone. Keep changes nothing; Forget pairing empties the keyring and the row
    says it is not paired, with Pair. Where nothing is paired, the daemon's refusal is read in
    a window."""
    app = shared_applet
    store = keyring()
    with safe7() as sim, applet(app) as (_, events), running(make_daemon(sim.path)) as daemon:
        wait_devices(events, unpaired_safe7)
        assert pair_through_the_cli(sim).startswith("exit 0")
        [paired] = [d for d in wait_devices(events, paired_safe7) if d.connected]
        app.show_window()
        window = next_window(events, MainWindow)

        def ask() -> Checklist:
            app.dialogs.call(
                lambda: window.buttons[(paired.id, "forget_pairing")].clicked()
            ).result(EVENT_TIMEOUT)
            return next_window(events, Checklist)

        asked = ask()
        assert app.dialogs.call(functools.partial(confirmation, asked)).result(EVENT_TIMEOUT) == (
            "Forget pairing: My Trezor",
            "This computer stops reading the backup status of My Trezor until you pair it "
            "again. The Trezor and its wallet are not changed. Pairing again needs the Trezor "
            "and the code it shows.",
            "_Forget pairing",
            "_Keep",
            True,
            True,
        )
        save_screenshot(app, asked, screenshots / "dialog-forget-pairing.png")
        app.dialogs.call(asked.stop.clicked).result(EVENT_TIMEOUT)
        assert kept_credentials(store) == 1
        assert [d.id for d in app.mirror.devices.values() if d.connected] == [paired.id]

        app.dialogs.call(ask().go.clicked).result(EVENT_TIMEOUT)
        [unpaired] = [d for d in wait_devices(events, unpaired_safe7) if d.connected]
        assert kept_credentials(store) == 0
        rows = app.dialogs.call(lambda: {row.device_id: row for row in window.rows}).result(
            EVENT_TIMEOUT
        )
        assert rows[unpaired.id].state == (
            "Not paired with this computer: pair it to read its backup state"
        )
        assert ("_Pair with this computer...", "pair") in rows[unpaired.id].buttons
        assert not [row for row in rows.values() if ("Forget _pairing...", "forget_pairing")
                    in row.buttons]  # fmt: skip

        # Not paired here (the button is not offered then): the daemon says why not.
        app.forget_pairing(unpaired.id)
        app.dialogs.call(next_window(events, Checklist).go.clicked).result(EVENT_TIMEOUT)
        refusal = next_window(events, InfoWindow)
        title, heading, text = texts(app, refusal)
        assert (title, heading) == (
            "Forget pairing: My Trezor",  # still this Trezor, under its name
            "The pairing was not forgotten",
        )
        assert text == (
            "This Trezor is not paired with this computer: there is no pairing to forget."
        ), text
        app.dialogs.call(refusal.close).result(EVENT_TIMEOUT)
        app.dialogs.call(window.close).result(EVENT_TIMEOUT)
    seed_safety.assert_no_secret(daemon.log())


def close_windows(app: RecordingApplet) -> None:
    """Close the windows an applet opened (GTK thread), leaving other applets' alone."""
    for window in app.kept:
        window.close()
    app.kept.clear()
