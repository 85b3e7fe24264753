"""The argparse side of `check`, `backup`, `unlock`, `pair`, `unpair` and `history`: their
--help texts, their arguments, and the glue from parsed arguments to operation_commands.

main.build_parser adds them with `add_parsers`. operation_commands (with asyncio, the agent
and the terminal) is imported only when one of them runs: every other command starts faster.
"""

import argparse
import sys
from collections.abc import Awaitable, Callable

from trezor_backup_api.client import DaemonClient
from trezor_backup_api.i18n import N_, _
from trezor_backup_api.input_rules import WORD_COUNTS
from trezor_backupctl.conventions import BACKUP_CANCEL_CONFIRM_SECONDS, EXIT_USAGE, PROG

_DEVICE_HELP = N_(
    "the device id `status` shows; may be left out when exactly one Trezor is connected"
)

_EXIT_CODES_HELP = N_(
    """\
  2   trezor-backupd cannot be reached, or left the bus during the operation
  64  DEVICE left out while none or several Trezors are connected, or DEVICE is not connected
Other daemon errors (for example NoAgent, PermissionDenied) print the daemon's message, exit 1."""
)

CHECK_DESCRIPTION = N_(
    """\
Check the recovery words you wrote down with a dry run on the Trezor (RecoveryDevice, type
DryRun): you enter the words, the Trezor compares them with its seed and says whether they
restore this wallet. Nothing else changes on the Trezor.

Model T and Safe family: you enter the words on the Trezor itself; this command prints what
the Trezor asks of you. A check left waiting on the Trezor (stopped here, or unplugged) is
resumed where it stopped. Model One: the Trezor asks for the words through this terminal:
  24 words      type each word the Trezor's screen asks for. It also asks for words that are
                not in your backup, in random order, so the computer never learns your seed.
                The first 4 letters are enough; a word not in the BIP-39 list is asked again.
  12, 18 words  the Trezor shows choices on a grid; type the position of the right one
                (keypad layout 7 8 9 / 4 5 6 / 1 2 3; b goes back one step).
  PIN           type the positions of your PIN digits on the Trezor's shuffled grid.
Nothing you type is shown, printed, logged or stored: it goes to the Trezor and nowhere else.

Ctrl-C or SIGTERM cancels the check on the Trezor and waits for it to end (exit 3); a
second one stops waiting.

When standard input is not a terminal, the answers are read from it one per line, in the
order the Trezor asks: the word count (12, 18 or 24; Model One without --words only), the
PIN positions (PIN-protected Model One only), then one line per word request: a word or its
first 4+ letters (24 words), or one position digit or "b" (12 and 18 words). A rejected line
is asked again with the next line; the end of input cancels the check.

exit status:
  0   passed         the words restore this wallet; the Trezor is now verified
  1   mismatch       valid words, but of another wallet: send no funds to this one; the
                     Trezor is now check_failed, whatever checks passed before
  1   invalid_words  the words fail the BIP-39 checksum: one is wrong or out of order;
                     the Trezor is now check_failed
  1   error          the check failed; the message says why
  3   cancelled, disconnected (unplugged), refused (the Trezor said no, and why), or the
      daemon would not start it: NotPossible (e.g. not backed up yet), Busy (another
      operation runs on this Trezor), NoSuchDevice (unplugged meanwhile)
{exit_codes}
"""
)

BACKUP_DESCRIPTION = N_(
    """\
Create the backup of a Trezor whose state is backup_required: the Trezor shows the recovery
words on its own screen and you write them on paper, in order. A Model One shows each word
twice, one per screen; a Model T or Safe shows them all, then asks you on the Trezor for a
few of them to check what you wrote. In state extra_backup_unlocked (a multi-share backup
unlocked in Trezor Suite with your existing share) it creates the extra shares; your earlier
share keeps restoring the wallet.

Before starting, the checklist of Trezor Suite is shown (enough time, a private place, the
words are the only backup and anyone who sees them can take the coins, paper only, never a
digital copy) and you are asked to confirm, unless --yes is given. Afterwards: the checklist
for the written words, and the next step: check the backup with `{prog} check DEVICE`.

Cancelling a started backup leaves the Trezor in backup_failed for good: it never shows the
words again. So Ctrl-C asks to be pressed twice within {seconds:g} s;
SIGTERM cancels at once.

When standard input is not a terminal, the confirmation is its first line ("y" or "yes"
starts; anything else, or no line, does not), unless --yes; then the PIN positions if the
Trezor asks for its PIN.

exit status:
  0   completed: the Trezor is now unverified; check the backup next
  1   error: the backup failed; the message says why
  3   not confirmed; cancelled, disconnected (unplugged), refused (the Trezor said no); the
      Trezor needs no backup (its state is not backup_required); or the daemon would not
      start it (NotPossible, Busy, NoSuchDevice)
{exit_codes}
"""
)

HISTORY_DESCRIPTION = N_(
    """\
Print the checks and backups recorded on this computer for a Trezor, connected or not,
oldest first: local TIME, KIND (check or backup), RESULT and DETAIL.

With --json, print {"device": ID, "events": [{"kind", "result", "time", "detail"}, ...]},
with "time" in ISO 8601 UTC.

exit status: 0 printed (also when nothing is recorded), 1 daemon error, 2 daemon not
reachable, 64 DEVICE left out while none or several Trezors are connected.
"""
)


UNLOCK_DESCRIPTION = N_(
    """\
Unlock a PIN-protected Trezor, so that it tells its backup state again: a locked Model T or
Safe does not say whether its wallet is backed up (the daemon then shows the state it read
the last time the Trezor was unlocked, or `locked`). The Trezor shows its PIN keyboard: enter
the PIN there. A Model One shows a shuffled grid instead: type the positions of the PIN
digits here (keypad layout 7 8 9 / 4 5 6 / 1 2 3); nothing typed is echoed, printed, logged
or stored. Unlocking derives no seed and changes nothing on the Trezor. Ctrl-C cancels.

exit status: 0 unlocked (or not locked), 1 error, 2 daemon not reachable, 3 cancelled,
disconnected, or the PIN was refused, 64 DEVICE left out while none or several Trezors are
connected.
"""
)


PAIR_DESCRIPTION = N_(
    """\
Pair a Trezor Safe 7 with this computer, once, so that the daemon can read its backup state
(state pairing_required). The Safe 7 speaks THP: it tells nothing, not even whether it is
backed up, to a computer it was not paired with.

  1. The Trezor asks "Allow Trezor Backup Guard ... to pair": confirm on the Trezor.
  2. It shows a 6-digit code: type it here (not shown as you type; it is used once).
  3. It asks twice more (or once) whether this computer may connect without asking each
     time: confirm, so that its backup state is read when you plug it in, with no
     confirmation on the Trezor every time.

The pairing is kept in your desktop's keyring (gnome-keyring, KWallet), nowhere else; without
a keyring the Trezor cannot be paired. A wrong code, a refusal on the Trezor or unplugging it
ends the pairing with nothing kept: run it again. Wiping the Trezor ends the pairing too.
Ctrl-C cancels.

exit status: 0 paired, 1 error, 2 daemon not reachable, 3 refused (wrong code, refused on the
Trezor, no keyring), cancelled or disconnected, 64 DEVICE left out while none or several
Trezors are connected.
"""
)


UNPAIR_DESCRIPTION = N_(
    """\
Forget this computer's pairing with a Trezor Safe 7: the pairing is removed from your
desktop's keyring, and the Trezor is then shown as pairing_required (the daemon sends it
nothing for this); `pair` pairs it again. The Trezor keeps nothing per computer, so this
keyring can no longer connect to it: unpair when this computer should not (before you give
it away, for instance). A copy of the keyring taken earlier (a backup of your home folder, a
keyring copied elsewhere) still connects to that Trezor until the Trezor is wiped.

A wiped Trezor's pairing is removed by itself only when the daemon sees it wiped while it
stays plugged in here; one wiped elsewhere leaves its dead pairing until you forget the
Trezor (in the applet's window) or pair it again.

With --json, print {"device": ID, "paired": false} once the pairing is removed.

exit status: 0 unpaired, 1 error, 2 daemon not reachable, 3 not possible now: NotPossible
(not a Safe 7 read paired here since it was plugged in, e.g. already unpaired, or locked and
not read paired since: unlock it first; or no pairing of it was found in the keyring), Busy
(an operation runs on it), NoSecretService (the keyring cannot be used), NoSuchDevice
(unplugged meanwhile), 64 DEVICE left out while none or several Trezors are connected, or
DEVICE is not connected.
"""
)


def _usage_guarded(
    command: Callable[[argparse.Namespace, DaemonClient], Awaitable[int]],
) -> Callable[[argparse.Namespace, DaemonClient], Awaitable[int]]:
    """A command whose UsageError is printed and exits EXIT_USAGE."""

    async def guarded(args: argparse.Namespace, client: DaemonClient) -> int:
        from trezor_backupctl.operation_commands import UsageError

        try:
            return await command(args, client)
        except UsageError as error:
            print(f"{PROG}: {error}", file=sys.stderr, flush=True)
            return EXIT_USAGE

    return guarded


async def _pair(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import run_pair
    from trezor_backupctl.terminal_input import TerminalLines

    lines = TerminalLines(sys.stdin.fileno())
    return await run_pair(client, args.device, lines, sys.stdout, sys.stderr)


async def _unpair(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import run_unpair

    return await run_unpair(client, args.device, args.json, sys.stdout, sys.stderr)


async def _check(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import run_check
    from trezor_backupctl.terminal_input import TerminalLines

    lines = TerminalLines(sys.stdin.fileno())
    return await run_check(client, args.device, args.words, lines, sys.stdout, sys.stderr)


async def _backup(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import run_backup
    from trezor_backupctl.terminal_input import TerminalLines

    lines = TerminalLines(sys.stdin.fileno())
    return await run_backup(client, args.device, args.yes, lines, sys.stdout, sys.stderr)


async def _unlock(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import run_unlock
    from trezor_backupctl.terminal_input import TerminalLines

    lines = TerminalLines(sys.stdin.fileno())
    return await run_unlock(client, args.device, lines, sys.stdout, sys.stderr)


async def _history(args: argparse.Namespace, client: DaemonClient) -> int:
    from trezor_backupctl.operation_commands import show_history

    return await show_history(client, args.device, args.json, sys.stdout)


def _device_parser(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    summary: str,
    description: str,
    command: Callable[[argparse.Namespace, DaemonClient], Awaitable[int]],
) -> argparse.ArgumentParser:
    """A subcommand about one device: its DEVICE argument and its guarded command."""
    parser = commands.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("device", nargs="?", metavar="DEVICE", help=_(_DEVICE_HELP))
    parser.set_defaults(command=_usage_guarded(command))
    return parser


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `check`, `backup`, `unlock`, `pair`, `unpair` and `history` to main.build_parser's
    commands."""
    exit_codes = _(_EXIT_CODES_HELP)
    check = _device_parser(
        commands,
        "check",
        _("check the written recovery words with a dry run on the Trezor"),
        _(CHECK_DESCRIPTION).format(exit_codes=exit_codes),
        _check,
    )
    check.add_argument(
        "--words",
        type=int,
        choices=WORD_COUNTS,
        metavar="N",
        help=_("how many words the backup has (12, 18 or 24; Model One only; asked if left out)"),
    )
    backup = _device_parser(
        commands,
        "backup",
        _("create the backup: write down the words the Trezor shows"),
        _(BACKUP_DESCRIPTION).format(
            prog=PROG, seconds=BACKUP_CANCEL_CONFIRM_SECONDS, exit_codes=exit_codes
        ),
        _backup,
    )
    backup.add_argument(
        "--yes", action="store_true", help=_("do not ask for confirmation before starting")
    )
    _device_parser(
        commands,
        "unlock",
        _("unlock a locked Trezor with its PIN, so that its backup state can be read"),
        _(UNLOCK_DESCRIPTION),
        _unlock,
    )
    _device_parser(
        commands,
        "pair",
        _("pair a Trezor Safe 7 with this computer (once), so that its backup state can be read"),
        _(PAIR_DESCRIPTION),
        _pair,
    )
    unpair = _device_parser(
        commands,
        "unpair",
        _("forget this computer's pairing with a Trezor Safe 7"),
        _(UNPAIR_DESCRIPTION),
        _unpair,
    )
    unpair.add_argument("--json", action="store_true", help=_("print JSON instead of a sentence"))
    history = _device_parser(
        commands,
        "history",
        _("show the checks and backups recorded for a Trezor"),
        _(HISTORY_DESCRIPTION),
        _history,
    )
    history.add_argument("--json", action="store_true", help=_("print JSON instead of a table"))
