"""The entry point of trezor-backupctl: the locale, the command, and the client's errors as
exit codes.

Start-up is most of what a `status` costs, and scripts and prompts run it often, so a plain
`status` (`--json`, `--refresh`, nothing else) runs without the parser (parser.py): building
it needs argparse and the catalogue for its translated --help, and those with the async
client would triple its time. Everything else goes through the parser. Each command imports
what it uses when it runs: `status` the blocking client, the others asyncio and DaemonClient.
"""

from __future__ import annotations

import locale
import os
import sys
from contextlib import suppress
from typing import TYPE_CHECKING

from trezor_backup_api.daemon_errors import DaemonError, DaemonUnreachable
from trezor_backup_api.names import BUS_NAME
from trezor_backupctl.conventions import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    PROG,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from trezor_backupctl.parser import Command

_STATUS_FLAGS = frozenset({"--json", "--refresh"})


def _plain_status(argv: list[str]) -> bool:
    """Whether the command line is `status` with its own flags only, each at most once: what
    the parser would accept as such (an abbreviation, --help or a typo goes to the parser)."""
    flags = argv[1:]
    return argv[:1] == ["status"] and len(set(flags)) == len(flags) and set(flags) <= _STATUS_FLAGS


def _run_parsed() -> int:
    from trezor_backupctl.parser import build_parser

    args = build_parser().parse_args()
    if "run" in args:
        run: Callable[[argparse.Namespace], int] = args.run
        return run(args)
    import asyncio

    return asyncio.run(_run(args.command, args))


async def _run(command: Command, args: argparse.Namespace) -> int:
    from trezor_backup_api.client import DaemonClient

    async with DaemonClient.connect() as client:
        return await command(args, client)


def _unreachable_message(error: DaemonUnreachable) -> str:
    from trezor_backup_api.i18n import _
    from trezor_backupctl.doctor import config_problem

    # A daemon that exits on a bad config (78) shows here only as "exited with status 78", or
    # as a failed unit under systemd: have the daemon program read the file it would read.
    problem = config_problem()
    if problem:
        return _(
            "{prog}: trezor-backupd cannot start because its config file is wrong: {problem}. "
            "Fix: correct that line (or remove the key to use the default), then run the "
            "command again"
        ).format(prog=PROG, problem=problem)
    if error.not_set_up:
        return _(
            "{prog}: trezor-backupd is not set up for this session: the session bus knows no "
            "{bus_name} to start. Fix: trezor-backupctl setup --user (pip and pipx installs), "
            "or install the trezor-backup-guard package"
        ).format(prog=PROG, bus_name=BUS_NAME)
    return _(
        "{prog}: cannot reach trezor-backupd on the session bus ({bus_name}): {reason}. "
        "Is it running? Try: systemctl --user start trezor-backupd"
    ).format(prog=PROG, bus_name=BUS_NAME, reason=error.reason.rstrip("."))


def main() -> None:
    """Entry point of the `trezor-backupctl` console script."""
    # Dates and the terminal's encoding; an unknown locale in the environment leaves C.
    with suppress(locale.Error):
        locale.setlocale(locale.LC_ALL, "")
    argv = sys.argv[1:]
    try:
        if _plain_status(argv):
            from trezor_backupctl.status import run

            code = run(as_json="--json" in argv, refresh="--refresh" in argv)
        else:
            code = _run_parsed()
    except DaemonUnreachable as error:
        print(_unreachable_message(error), file=sys.stderr)
        code = EXIT_UNREACHABLE
    except DaemonError as error:
        print(f"{PROG}: {error.name}: {error.for_owner()}", file=sys.stderr)
        code = EXIT_FAILED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader (e.g. `head`) has all it wants. Point stdout at /dev/null so the
        # interpreter's final flush does not report the same broken pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    sys.exit(code)
