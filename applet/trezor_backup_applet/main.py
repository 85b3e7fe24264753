"""`trezor-backup-applet`: the command line, the settings, and the threads of the controller.

Three threads, each owning one toolkit, and one rule for crossing between them:
- main thread: the GTK main loop that pystray's appindicator/gtk backends run (or a plain wait
  when there is no tray);
- "dbus" thread: an asyncio loop with the session bus connection (daemon mirror, agent,
  desktop-notifier). All applet logic runs here; tray clicks and dialog answers are marshalled
  onto it with `run_coroutine_threadsafe` / `wrap_future`;
- "dialogs" thread: the Tk interpreter (`dialogs.DialogHost`), reached through its work queue.
Updates to the tray go through pystray's setters, which schedule themselves with GLib.idle_add.
The applet's logic is `controller.Applet`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from .controller import Applet
from .icons import write_app_icon
from .settings import load_settings
from .snooze import SnoozeStore
from .tray import Tray, load_pystray

log = logging.getLogger("trezor_backup_applet")


def _app_icon_path() -> Path | None:
    """The icon notifications carry: written once to the applet's state directory."""
    path = SnoozeStore().path.with_name("applet-icon.png")
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_app_icon(path)
    except OSError:
        return None
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the applet until Quit, SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="trezor-backup-applet",
        description="Tray icon and notifications of Trezor Backup Guard.",
    )
    parser.add_argument(
        "--autostart",
        action="store_true",
        help="started with the session: start quietly in the tray",
    )
    parser.add_argument(
        "--no-tray", action="store_true", help="notifications and dialogs only (no tray)"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    applet = Applet(load_settings(), SnoozeStore(), _app_icon_path())

    tray: Tray | None = None
    if not args.no_tray:
        try:
            tray = Tray(load_pystray(), applet)
        except ImportError as e:
            log.warning("%s; notifications only", e)
    applet.tray = tray

    if not applet.start():
        print("trezor-backup-applet is already running", file=sys.stderr)
        applet.stop()
        return 0
    if not args.autostart:
        applet.submit(
            applet.notifier.message(
                "Trezor Backup Guard is running",
                "It watches your Trezor's backup and tells you when to act.",
            )
        )

    if tray is not None:
        from gi.repository import GLib

        for signum in (signal.SIGINT, signal.SIGTERM):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, _quit_from_signal, applet)
        tray.run(lambda: None)
    else:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: applet.quit_requested.set())
        applet.quit_requested.wait()
    applet.stop()
    return 0


def _quit_from_signal(applet: Applet) -> bool:
    applet.quit()
    return False
