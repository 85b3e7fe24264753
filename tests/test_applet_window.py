"""The applet on a desktop without a tray, as GNOME without the AppIndicator extension is:
`trezor-backup-applet --no-tray` in a process where tkinter cannot be imported (Debian's own
python3 has none), with a real notification server (dunst), the daemon as a subprocess and a
simulated Trezor.

Proves: `--help` works without tkinter; the start-up notification's click opens the main
window (a real X window, its WM_CLASS the application's id), opening it makes the daemon read
the Trezors again (Manager1.Refresh), and the owner starts a check from the window with the
keyboard alone; the check's first question (the word count) comes up as its own window and
Escape cancels the check on the Trezor.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import DaemonFactory
from desktop_fixtures import Desktop
from harness import EVENT_TIMEOUT, BusMonitor, Daemon, LineReader, running
from sim_helpers import start_simulator

DEVICE_ID = "B1B2C3D4E5F60718293A4B5C"
APP_ID = "io.github.TrezorBackupGuard.Applet"
DESKTOP_ENTRY = Path(__file__).parent.parent / "applet" / "data" / f"{APP_ID}.desktop"
# Run the applet as `python -m trezor_backup_applet`, with tkinter made unimportable.
WITHOUT_TKINTER = (
    "import runpy, sys; sys.modules['tkinter'] = None; "
    "runpy.run_module('trezor_backup_applet', run_name='__main__', alter_sys=True)"
)


def applet_command(*args: str) -> list[str]:
    return [sys.executable, "-c", WITHOUT_TKINTER, *args]


def test_help_needs_no_tkinter() -> None:
    done = subprocess.run(applet_command("--help"), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--no-tray" in done.stdout and "main window" in done.stdout
    # The guard itself works: importing tkinter really fails in that process.
    blocked = subprocess.run([sys.executable, "-c", WITHOUT_TKINTER.split("; runpy")[0]
                              + "; import tkinter"], capture_output=True, text=True)  # fmt: skip
    assert blocked.returncode != 0 and "tkinter" in blocked.stderr


def xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, check=True,
                          timeout=EVENT_TIMEOUT).stdout.strip()  # fmt: skip


def window_named(title: str) -> str:
    """The X window with this exact title, waiting for it to be mapped."""
    return xdotool("search", "--sync", "--onlyvisible", "--name", f"^{title}$").split()[0]


@contextmanager
def applet_without_tray(daemon: Daemon, desk: Desktop) -> Iterator[LineReader]:
    env = desk.env() | {
        "XDG_STATE_HOME": str(daemon.home / "state"),
        "XDG_CONFIG_HOME": str(daemon.home / "config"),
    }
    process = subprocess.Popen(
        applet_command("--no-tray", "--autostart", "--log-level", "debug"),
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    log = LineReader(process)
    try:
        yield log
    finally:
        process.terminate()
        assert process.wait(timeout=EVENT_TIMEOUT) == 0, "\n".join(log.seen)
    assert not any("Traceback" in line or "CRITICAL" in line for line in log.seen), log.seen


def test_without_a_tray_a_notification_click_opens_the_window_and_a_check_runs_from_it(
    make_daemon: DaemonFactory, desktop: Desktop
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, label="Drawer") as sim:
        daemon = make_daemon(sim.path)
        with running(daemon), applet_without_tray(daemon, desktop) as log:
            log.wait_for(lambda line: "registered as the daemon's agent" in line)
            with BusMonitor("type='method_call',member='Refresh'") as refreshes:
                # The start-up notification: a click on it (its default action) opens the window.
                menu = desktop.choose_action(",default]")
                assert any("Check the backup of Drawer" in line for line in menu), menu
                window = window_named("Trezor Backup Guard")
                refreshes.wait_for(lambda line: "member=Refresh" in line)
            wm_class = subprocess.run(["xprop", "-id", window, "WM_CLASS"], capture_output=True,
                                      text=True, check=True).stdout  # fmt: skip
            assert f'"{APP_ID}"' in wm_class, wm_class
            # ... the class the app grid's entry names, so the desktop shows its name and icon.
            assert f"\nStartupWMClass={APP_ID}\n" in DESKTOP_ENTRY.read_text()
            with BusMonitor("type='signal',member='OperationFinished'") as finished:
                # Keyboard only: Alt+C is the row's "Check backup..." button.
                xdotool("windowfocus", "--sync", window)
                xdotool("key", "alt+c")
                count = window_named("Number of words: Drawer")  # it names its Trezor
                xdotool("windowfocus", "--sync", count)
                xdotool("key", "Escape")
                finished.wait_for(lambda line: "member=OperationFinished" in line)
                finished.wait_for(lambda line: '"cancelled"' in line)
