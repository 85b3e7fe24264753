"""`trezor-backup-applet`: the command line, the settings, and the threads of the controller.

Two threads, each owning one loop, and one rule for crossing between them:
- main thread: the GLib/GTK main loop, pystray's (appindicator/gtk backends) or, with no tray,
  the applet's own; every window (dialogs, the main window) lives here and is reached with
  GLib.idle_add (`dialogs.DialogHost.call`). Nothing polls: the loop sleeps until there is work;
- "dbus" thread: an asyncio loop with the session bus connection (daemon mirror, agent,
  desktop-notifier). All applet logic runs here; tray clicks, window buttons and dialog
  answers are marshalled onto it with `run_coroutine_threadsafe` / `wrap_future`.
Updates to the tray go through pystray's setters, which schedule themselves with GLib.idle_add.
The applet's logic is `controller.Applet`. Started by hand (not --autostart) it opens the main
window, or asks the applet already running to open its own.
"""

from __future__ import annotations

import argparse
import locale
import logging
import signal
import subprocess
import sys
from pathlib import Path

from trezor_backup_api.i18n import _, speak_for_argparse

from .applet_service import APPLET_INTERFACE, APPLET_PATH
from .controller import APPLET_BUS_NAME, Applet
from .gtk_setup import GLib
from .icons import Look, write_look_icons
from .settings import load_settings
from .snooze import SnoozeStore
from .tray import Tray, load_pystray

log = logging.getLogger("trezor_backup_applet")


def _look_icons() -> dict[Look, Path]:
    """The icons notifications carry, one per look: written once to the state directory."""
    try:
        return write_look_icons(SnoozeStore().path.with_name("icons"))
    except OSError as e:
        log.warning("cannot write the notification icons: %s", e)
        return {}


def _show_running_window() -> None:
    """Ask the applet already running to open its main window."""
    subprocess.run(
        ["gdbus", "call", "--session", "--dest", APPLET_BUS_NAME, "--object-path", APPLET_PATH,
         "--method", f"{APPLET_INTERFACE}.ShowWindow"],
        check=False, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the applet until Quit, SIGINT or SIGTERM."""
    speak_for_argparse()
    parser = argparse.ArgumentParser(
        prog="trezor-backup-applet",
        description=_("Tray icon, window and notifications of Trezor Backup Guard."),
    )
    parser.add_argument(
        "--autostart",
        action="store_true",
        help=_("started with the session: start quietly in the tray"),
    )
    parser.add_argument(
        "--no-tray",
        action="store_true",
        help=_("no tray icon: notifications and the main window (for desktops without a tray)"),
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        # Dates (%x) in the owner's format; the texts follow $LANGUAGE and $LANG (i18n).
        locale.setlocale(locale.LC_ALL, "")
    except locale.Error as e:
        log.warning("the locale is not installed (%s): dates keep the C format", e)

    applet = Applet(load_settings(), SnoozeStore(), _look_icons())

    tray: Tray | None = None
    if not args.no_tray:
        try:
            tray = Tray(load_pystray(), applet)
        except ImportError as e:
            log.warning("%s; notifications only", e)
    applet.tray = tray

    if not applet.start():
        print(_("trezor-backup-applet is already running"), file=sys.stderr)
        if not args.autostart:
            _show_running_window()
        applet.stop()
        return 0
    if not args.autostart or tray is None:
        # Started by hand, or no tray to click: the window is where the owner acts.
        applet.show_window()

    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, _quit_from_signal, applet)
    if tray is not None:
        tray.run(lambda: None)
    else:
        loop = GLib.MainLoop()
        applet.on_quit.append(lambda: GLib.idle_add(loop.quit))
        loop.run()
    applet.stop()
    return 0


def _quit_from_signal(applet: Applet) -> bool:
    applet.quit()
    return False
