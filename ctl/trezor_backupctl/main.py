"""Command line of trezor-backupctl: argument parsing, exit codes and the subcommands.

Each subcommand is an async function taking the parsed arguments and a connected DaemonClient
and returning the exit code; `main` owns the connection and maps the client's errors to exit
codes, so a new subcommand is one function plus one subparser.
"""

import argparse
import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from trezor_backup_api import __version__
from trezor_backup_api.client import DaemonClient, DaemonError, DaemonUnreachable
from trezor_backup_api.names import BUS_NAME
from trezor_backup_api.urgency import most_urgent_first
from trezor_backupctl import doctor, session_setup
from trezor_backupctl.operation_parser import add_parsers as add_operation_parsers
from trezor_backupctl.render import device_record, event_line, status_json, status_table
from trezor_backupctl.watch import watch

PROG = "trezor-backupctl"

EXIT_OK = 0
EXIT_DAEMON_ERROR = 1
EXIT_UNREACHABLE = 2  # also argparse's code for usage errors; the help says so
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C

Command = Callable[[argparse.Namespace, DaemonClient], Awaitable[int]]

DESCRIPTION = """\
Show whether the recovery seed of every connected Trezor is backed up and was checked;
create the backup and check it with a dry run.

trezor-backupctl asks trezor-backupd, the Trezor Backup Guard daemon, over the session D-Bus
(name io.github.TrezorBackupGuard). The daemon is started by D-Bus activation or by its
systemd user unit when needed. trezor-backupctl never touches the USB device itself. What you
type for a Model One during `check` (words, PIN or grid positions) is passed to the daemon for
the Trezor only: it is never shown, printed, logged or stored.
"""

STATES_AND_EXIT_CODES = """\
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

STATUS_DESCRIPTION = """\
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

WATCH_DESCRIPTION = """\
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


async def _status(args: argparse.Namespace, client: DaemonClient) -> int:
    if args.refresh:
        await client.refresh()
    devices = await client.get_devices()
    if args.json:
        print(status_json([device_record(p, d.properties) for p, d in devices.items()]))
    else:
        # Most urgent first, the order of the applet's window and tray menu.
        ordered = most_urgent_first(devices.values())
        records = [device_record(device.path, device.properties) for device in ordered]
        print(status_table(records, shutil.get_terminal_size().columns))
    problem = await client.history_problem()
    if problem:
        print(
            f"{PROG}: check and backup results are not being saved, so a passed check still "
            f"shows as unverified: {problem}. Fix: {PROG} doctor",
            file=sys.stderr,
        )
    return EXIT_OK


def _print_event(event: dict[str, Any]) -> None:
    print(event_line(event), flush=True)


async def _watch(args: argparse.Namespace, client: DaemonClient) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await watch(client, _print_event, stop)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; its --help texts double as the manual page."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=STATES_AND_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    status = commands.add_parser(
        "status",
        help="show the backup state of every connected Trezor",
        description=STATUS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument(
        "--refresh",
        action="store_true",
        help=(
            "have the daemon read every Trezor again first (after you used it in another app); "
            "a Trezor with a check waiting on it is left alone"
        ),
    )
    status.set_defaults(command=_status)

    watch_parser = commands.add_parser(
        "watch",
        help="print device changes as JSON lines until interrupted",
        description=WATCH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch_parser.add_argument(
        "--json",
        action="store_true",
        help="accepted for symmetry with status; watch always prints JSON lines",
    )
    watch_parser.set_defaults(command=_watch)
    add_operation_parsers(commands)
    # These two work without (or before there is) a daemon: they set `standalone`, not `command`.
    session_setup.add_parser(commands)
    doctor.add_parser(commands)
    return parser


async def _run(command: Command, args: argparse.Namespace) -> int:
    async with DaemonClient.connect() as client:
        return await command(args, client)


def _unreachable_message(error: DaemonUnreachable) -> str:
    # A daemon that exits on a bad config (78) shows here only as "exited with status 78", or
    # as a failed unit under systemd: have the daemon program read the file it would read.
    problem = doctor.config_problem()
    if problem:
        return (
            f"{PROG}: trezor-backupd cannot start because its config file is wrong: {problem}. "
            "Fix: correct that line (or remove the key to use the default), then run the "
            "command again"
        )
    if error.not_set_up:
        return (
            f"{PROG}: trezor-backupd is not set up for this session: the session bus knows no "
            f"{BUS_NAME} to start. Fix: trezor-backupctl setup --user (pip and pipx installs), "
            "or install the trezor-backup-guard package"
        )
    return (
        f"{PROG}: cannot reach trezor-backupd on the session bus ({BUS_NAME}): "
        f"{error.reason.rstrip('.')}. Is it running? Try: systemctl --user start trezor-backupd"
    )


def main() -> None:
    """Entry point of the `trezor-backupctl` console script."""
    args = build_parser().parse_args()
    if "standalone" in args:
        sys.exit(args.standalone(args))
    try:
        code = asyncio.run(_run(args.command, args))
    except DaemonUnreachable as error:
        print(_unreachable_message(error), file=sys.stderr)
        code = EXIT_UNREACHABLE
    except DaemonError as error:
        print(f"{PROG}: {error.name}: {error.message}", file=sys.stderr)
        code = EXIT_DAEMON_ERROR
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `head`) has all it wants. Point stdout at /dev/null so the
        # interpreter's final flush does not report the same broken pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
