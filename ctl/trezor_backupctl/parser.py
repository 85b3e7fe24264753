"""The whole command line of trezor-backupctl: the parser, its --help texts (which double as
the manual page, in the owner's language) and which function each subcommand runs.

Each subcommand sets `command`, an async function taking the parsed arguments and a connected
DaemonClient, or `run`, a plain function of the arguments (`status`, and `setup` and
`doctor`, which work without a daemon); both return the exit code, and main maps the
client's errors to exit codes, so a new subcommand is one function plus one subparser. Each
imports what it uses when it runs, not when the parser is built.
"""

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from trezor_backup_api import __version__
from trezor_backup_api.client import DaemonClient
from trezor_backup_api.i18n import N_, _, speak_for_argparse
from trezor_backupctl.conventions import ACTIVATION_NAME, EXIT_OK, PROG, UNIT_NAME
from trezor_backupctl.operation_parser import add_parsers as add_operation_parsers

Command = Callable[[argparse.Namespace, DaemonClient], Awaitable[int]]
"""A subcommand that talks to the daemon on an event loop (main runs it)."""

DESCRIPTION = N_(
    """\
Show whether the recovery seed of every connected Trezor is backed up and was checked;
create the backup and check it with a dry run.

trezor-backupctl asks trezor-backupd, the Trezor Backup Guard daemon, over the session D-Bus
(name io.github.TrezorBackupGuard). The daemon is started by D-Bus activation or by its
systemd user unit when needed. trezor-backupctl never touches the USB device itself. What you
type for a Model One during `check` (words, PIN or grid positions) is passed to the daemon for
the Trezor only: it is never shown, printed, logged or stored.
"""
)

STATES_AND_EXIT_CODES = N_(
    """\
states (STATE column, "state" in JSON):
  not_initialized  no wallet on the device yet: nothing to back up
  no_backup        set up seedless on purpose; no reminders
  backup_failed    a backup was started and not finished; the device will never show the
                   words again: move the funds away, wipe, set up again and back up
  backup_required  the wallet has never been backed up: create the backup now
  extra_backup_unlocked
                   an extra (multi-share) backup was unlocked on the Trezor: create it
                   now, it is gone when the Trezor is unplugged or restarts
  unverified       backed up, but never checked on this computer with a dry run
  verified         the last dry-run check passed
  check_failed     the written words do not restore this wallet: send no funds to it
  check_due        verified, but longer ago than the re-check interval (default 180 days)
  locked           locked with its PIN and never read unlocked here, so its backup state
                   is unknown: unlock it (a locked Trezor read unlocked before keeps that
                   state, with the date of that read)
  pairing_required
                   a Trezor Safe 7 not paired with this computer (or wiped since): it
                   tells its state only to a computer it was paired with once: pair it
  busy             connected but cannot be read now (another app holds it, no permission
                   yet, or it is in a flow: it did not answer, or answered a Failure);
                   read again when the other app lets go of it, or with `status --refresh`
  bootloader       in bootloader mode; no wallet information available
  unknown          the device answered something the daemon cannot decode; or a
                   Trezor Safe 7 read while the desktop's keyring is locked or missing, so
                   whether it is paired here cannot be told: unlock the keyring, then
                   `status --refresh`

exit status:
  0    success (also when no Trezor is connected, and when watch is stopped with Ctrl-C,
       SIGTERM, or by the reader closing the pipe); check: passed; backup: completed
  1    the daemon answered with an error; its D-Bus error name and message are printed;
       check: mismatch, invalid_words or error; backup: error
  2    the daemon cannot be reached: no session bus, or trezor-backupd is not running and
       cannot be started; or the command line is wrong (usage error)
  3    check/backup/unlock/pair: cancelled, disconnected, refused by the Trezor, or not
       possible now (NotPossible, Busy); backup: not confirmed; unpair: not possible now
       (NotPossible, e.g. not paired here; Busy, NoSecretService)
  64   check/backup/unlock/pair/unpair/history: DEVICE left out while none or several Trezors
       are connected, or DEVICE is not connected (history: none or several)
  130  status interrupted with Ctrl-C
  See `trezor-backupctl COMMAND --help` for each command's details.

environment:
  DBUS_SESSION_BUS_ADDRESS  the session bus; if unset, $XDG_RUNTIME_DIR/bus is used
"""
)

STATUS_DESCRIPTION = N_(
    """\
Print one row per connected Trezor: its id (DEVICE), MODEL, LABEL, backup STATE and the
NEXT STEP its owner should take, or, when that table does not fit the terminal (80 columns), a
block per device; the next step wraps at word boundaries and a URL is never broken.
Prints "No Trezor connected." when there is none.

With --json, print instead a JSON object {"devices": [...]}, one object per device with the
keys id, state, explanation, next_step, model, internal_model, label, firmware_version,
backup_type, dry_run_in_progress (true/false), locked (true/false), state_read_time (ISO
8601 UTC of the earlier unlocked read a locked Trezor's state comes from, or null),
last_check_time (ISO 8601 UTC, or null for never), last_check_result ("passed",
"mismatch", "invalid_words", or null for never: the latest check that reached a verdict),
transport, operation ("", "check", "backup", "unlock" or "pair") and path (the device's
D-Bus object path). Properties a newer daemon adds appear under their snake_case names as
well.
"""
)

WATCH_DESCRIPTION = N_(
    """\
Print the connected devices, then every change, one JSON object per line, until interrupted:

  {"event": "added", "path": PATH, "device": DEVICE}
  {"event": "removed", "path": PATH, "id": ID}
  {"event": "changed", "path": PATH, "device": DEVICE, "changed": [KEY, ...]}
  {"event": "daemon_gone"}

DEVICE is the object `status --json` prints per device, after the change; "changed" lists
its keys that changed. The devices present at the start come as "added" events. When the
daemon stops, "daemon_gone" is printed and all devices count as unknown; when it comes back,
its devices are printed as "added" again. Each line is flushed at once, for pipes.
"""
)


SETUP_DESCRIPTION = N_(
    """\
Install the session integration for a pip or pipx installation of Trezor Backup Guard:

  $XDG_CONFIG_HOME/systemd/user/{unit}
      the systemd user unit (enable it with: systemctl --user enable --now trezor-backupd)
  $XDG_DATA_HOME/dbus-1/services/{activation}
      D-Bus activation: the first call to io.github.TrezorBackupGuard starts the daemon

Both run the trezor-backupd of this installation. Then `systemctl --user daemon-reload` is run
when systemctl can reach your user manager. The udev rules that give you access to a plugged-in
Trezor must be installed by root: setup prints the one command to run.
With --uninstall, remove exactly those two files again (disabling the unit first).
"""
)

DOCTOR_DESCRIPTION = N_(
    "Check the udev rules, access to each plugged Trezor, the config file the daemon "
    "reads (naming a bad key and its line), the daemon on the session bus (running or "
    "D-Bus activatable), whether it can save check results, a tray host, that a "
    "notification server answers, the keyring (Secret Service) a Safe 7's pairing "
    "is kept in, and whether "
    "Trezor Bridge or Trezor Suite may hold the device. Prints one line per check: "
    "OK, WARN (works, something is missing) or FAIL, with the fix. "
    "Exit status 0 when nothing FAILed, 1 otherwise."
)


def _status(args: argparse.Namespace) -> int:
    from trezor_backupctl.status import run

    return run(as_json=args.json, refresh=args.refresh)


async def _watch(args: argparse.Namespace, client: DaemonClient) -> int:
    import asyncio
    import signal

    from trezor_backupctl.json_output import event_line
    from trezor_backupctl.watch import watch

    def print_event(event: dict[str, Any]) -> None:
        print(event_line(event), flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await watch(client, print_event, stop)
    return EXIT_OK


def _setup(args: argparse.Namespace) -> int:
    from trezor_backupctl import session_setup

    return session_setup.run(args)


def _doctor(args: argparse.Namespace) -> int:
    from trezor_backupctl import doctor

    return doctor.run(args)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; its --help texts double as the manual page."""
    speak_for_argparse()
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=_(DESCRIPTION),
        epilog=_(STATES_AND_EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title=_("commands"), metavar="COMMAND", required=True)

    status = commands.add_parser(
        "status",
        help=_("show the backup state of every connected Trezor"),
        description=_(STATUS_DESCRIPTION),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
    status.add_argument(
        "--refresh",
        action="store_true",
        help=_(
            "have the daemon read every Trezor again first (after you used it in another app); "
            "a Trezor with a check waiting on it is left alone"
        ),
    )
    status.set_defaults(run=_status)

    watch_parser = commands.add_parser(
        "watch",
        help=_("print device changes as JSON lines until interrupted"),
        description=_(WATCH_DESCRIPTION),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch_parser.add_argument(
        "--json",
        action="store_true",
        help=_("accepted for symmetry with status; watch always prints JSON lines"),
    )
    watch_parser.set_defaults(command=_watch)
    add_operation_parsers(commands)

    # These two work without (or before there is) a daemon.
    setup = commands.add_parser(
        "setup",
        help=_("install the systemd user unit and D-Bus activation for a pip/pipx install"),
        description=_(SETUP_DESCRIPTION).format(unit=UNIT_NAME, activation=ACTIVATION_NAME),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    setup.add_argument(
        "--user",
        action="store_true",
        required=True,
        help=_("install into your own XDG directories (the only mode; root is never needed)"),
    )
    setup.add_argument("--uninstall", action="store_true", help=_("remove what setup installed"))
    setup.set_defaults(run=_setup)
    doctor = commands.add_parser(
        "doctor",
        help=_("check the installation and the desktop session, and say how to fix problems"),
        description=_(DOCTOR_DESCRIPTION),
    )
    doctor.set_defaults(run=_doctor)
    return parser
