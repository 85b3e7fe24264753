"""`trezor-backupctl check`, `backup`, `unlock`, `pair`, `unpair`, `history`: operations on a
device.

An operation runs in the daemon and takes minutes; the CLI registers its terminal agent (the
owner's answers go through it to the device), subscribes to the device's operation signals
before starting so that nothing is missed, prints a progress sentence when the step changes
(not again for each of its screens), and turns the result
into an exit code. Ctrl-C asks the daemon to cancel and still waits for the outcome, so the
exit code says what the device did, not what the CLI hoped.

The subcommands, with their --help texts, are added to main's parser by `add_parsers`,
so main.py stays the place for the shared parts (the connection, the daemon's errors).
"""

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Any, TextIO

from trezor_backup_api.actions import Action, allowed_actions
from trezor_backup_api.agent import AgentExport
from trezor_backup_api.client import (
    BusEvent,
    DaemonClient,
    DaemonError,
    DaemonOwnerChanged,
    DaemonUnreachable,
    OperationFinished,
    OperationProgress,
)
from trezor_backup_api.device import DeviceRecord
from trezor_backup_api.input_rules import AFTER_BACKUP, BEFORE_BACKUP, WORD_COUNTS
from trezor_backup_api.names import ROOT_PATH, device_path, short_error_name
from trezor_backup_api.vocabulary import (
    PAIRED_MODEL,
    BackupState,
    OperationKind,
    Outcome,
    Refusal,
)
from trezor_backupctl.render import history_json, history_table, unpaired_json
from trezor_backupctl.terminal_agent import TerminalAgent
from trezor_backupctl.terminal_input import TerminalLines

PROG = "trezor-backupctl"

EXIT_PASSED = 0
EXIT_FAILED = 1  # mismatch, invalid words, or an error in the daemon or on the device
EXIT_CANCELLED = 3  # cancelled, unplugged, refused by the device or by the daemon's rules
EXIT_USAGE = 64  # EX_USAGE: which device is meant cannot be told

RESULT_EXIT_CODES: dict[str, int] = {
    Outcome.PASSED: EXIT_PASSED,
    Outcome.COMPLETED: EXIT_PASSED,
    Outcome.MISMATCH: EXIT_FAILED,
    Outcome.INVALID_WORDS: EXIT_FAILED,
    Outcome.ERROR: EXIT_FAILED,
    Outcome.CANCELLED: EXIT_CANCELLED,
    Outcome.DISCONNECTED: EXIT_CANCELLED,
    Outcome.REFUSED: EXIT_CANCELLED,
}

# Start errors that mean "not now / not this device" rather than a fault: the device is in a
# state that does not allow it, another operation runs, it was unplugged meanwhile, or the
# keyring that holds a Safe 7's pairing cannot be used.
_START_REFUSALS = frozenset(
    {Refusal.NOT_POSSIBLE, Refusal.BUSY, Refusal.NO_SUCH_DEVICE, Refusal.NO_SECRET_SERVICE}
)
# Where this connection serves its agent; one agent per CLI process, so a fixed path will do.
AGENT_PATH = f"{ROOT_PATH}/ctl/agent"

# A second Ctrl-C within this time confirms cancelling a backup; one alone could be a slip.
BACKUP_CANCEL_CONFIRM_SECONDS = 5.0


def _items(checklist: tuple[str, ...]) -> str:
    return "".join(f"  - {item}\n" for item in checklist)


BEFORE_BACKUP_TEXT = f"""\
Before you create the backup, make sure that:
{_items(BEFORE_BACKUP)}
Warning: once the Trezor shows the first word, do not cancel. Cancelling a started backup
leaves the Trezor in backup_failed for good: it never shows the words again, and the only
way out is to move the funds away, wipe it and set it up again.
"""

AFTER_BACKUP_TEXT = f"""\
Backup created. Before you put the paper away, make sure that:
{_items(AFTER_BACKUP)}"""

BACKUP_CANCEL_WARNING = (
    "Cancelling a started backup leaves this Trezor in backup_failed for good. "
    f"Press Ctrl-C again within {BACKUP_CANCEL_CONFIRM_SECONDS:g} s to cancel anyway."
)


class UsageError(Exception):
    """The command line does not say which device is meant (exit EXIT_USAGE)."""


def exit_code_for_result(result: str) -> int:
    """The exit code of an OperationFinished result; an unknown result counts as an error."""
    return RESULT_EXIT_CODES.get(result, EXIT_FAILED)


def exit_code_for_start_error(name: str) -> int:
    """The exit code when StartCheck/StartBackup (or ForgetPairing) fails with the D-Bus
    error `name`."""
    if short_error_name(name) in _START_REFUSALS:
        return EXIT_CANCELLED
    return EXIT_FAILED


def choose_device(
    devices: Mapping[str, DeviceRecord], given: str | None, *, connected: bool = True
) -> str:
    """The device id the command is about: `given`, or the only connected one.

    `devices` is GetDevices by object path. With `connected`, the given id must be connected
    (checks and backups need the device; the history does not).
    """
    ids = sorted(record.id for record in devices.values())
    listing = ", ".join(ids)
    if given is not None:
        if not connected or given in ids:
            return given
        if not ids:
            raise UsageError(f"no Trezor with id {given} is connected; no Trezor is connected")
        raise UsageError(f"no Trezor with id {given} is connected; connected: {listing}")
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UsageError("no Trezor is connected: plug it in, or give the DEVICE id")
    raise UsageError(f"several Trezors are connected: give the DEVICE id, one of {listing}")


def fits(device: DeviceRecord, action: Action) -> bool:
    """Whether the one rule (trezor_backup_api.actions) allows `action` on the device once
    nothing runs on it: an operation running now is the daemon's to refuse (Busy), in its
    own words."""
    return action in allowed_actions(dataclasses.replace(device, operation=""))


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


async def _follow(
    client: DaemonClient,
    agent: TerminalAgent,
    kind: OperationKind,
    start: Callable[[str], Awaitable[None]],
    out: TextIO,
    err: TextIO,
) -> OperationFinished | int:
    """Run one operation on the agent's device with the agent registered; its end (the result
    and message printed), or the exit code if it never ran."""
    loop = asyncio.get_running_loop()
    path = agent.device_path
    finished: asyncio.Future[OperationFinished] = loop.create_future()
    daemon_gone = asyncio.Event()
    give_up = asyncio.Event()

    shown_stage = ""

    def on_event(event: BusEvent) -> None:
        nonlocal shown_stage
        if isinstance(event, OperationProgress):
            # One line per step: the daemon announces every screen (48 while a Model One
            # shows its words), but the owner follows them on the Trezor, and the prompts of
            # the agent still come one per word.
            if event.stage != shown_stage:
                shown_stage = event.stage
                _say(out, event.message)
        elif isinstance(event, OperationFinished):
            if event.kind == kind and not finished.done():
                finished.set_result(event)
        elif isinstance(event, DaemonOwnerChanged) and event.old_owner:
            daemon_gone.set()

    await client.subscribe_operation(path, on_event)
    export = AgentExport(client, agent, AGENT_PATH)
    await export.register()
    try:
        try:
            await start(path)
        except DaemonError as error:
            _say(err, f"{PROG}: {error.message or error.name}")
            return exit_code_for_start_error(error.name)

        cancelling: list[asyncio.Task[None]] = []
        warned_at: float | None = None

        async def cancel_on_device() -> None:
            # NoOperation (it ended meanwhile) or the daemon gone: either way the wait ends.
            with suppress(DaemonError, DaemonUnreachable):
                await client.cancel_operation(path)

        def cancel() -> None:
            if cancelling:
                give_up.set()  # asked twice: stop waiting for a daemon that does not answer
                return
            _say(out, "\nCancelling on the Trezor...")
            agent.close_prompts()
            cancelling.append(asyncio.create_task(cancel_on_device()))

        def on_ctrl_c() -> None:
            nonlocal warned_at
            confirmed = warned_at is not None and (
                loop.time() - warned_at <= BACKUP_CANCEL_CONFIRM_SECONDS
            )
            if kind == OperationKind.BACKUP and not cancelling and not confirmed:
                warned_at = loop.time()
                _say(out, "\n" + BACKUP_CANCEL_WARNING)
                return
            cancel()

        loop.add_signal_handler(signal.SIGINT, on_ctrl_c)
        loop.add_signal_handler(signal.SIGTERM, cancel)
        waits: list[asyncio.Future[Any]] = [
            asyncio.create_task(daemon_gone.wait()),
            asyncio.create_task(give_up.wait()),
            asyncio.create_task(client.wait_for_disconnect()),
        ]
        try:
            await asyncio.wait([finished, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
            for task in [*waits, *cancelling]:
                task.cancel()
        if finished.done():
            ended = finished.result()
            _say(out, f"\n{kind.capitalize()} result: {ended.result}")
            if ended.message:
                _say(out, ended.message)
            if kind != OperationKind.UNLOCK:
                await _say_if_not_saved(client, kind, err)
            return ended
        if give_up.is_set():
            _say(err, f"{PROG}: stopped waiting for the Trezor; see: {PROG} status")
            return EXIT_CANCELLED
        raise DaemonUnreachable(f"trezor-backupd left the session bus during the {kind}")
    finally:
        agent.close_prompts()
        if daemon_gone.is_set():
            export.stop()
        else:
            await export.unregister()


async def _say_if_not_saved(client: DaemonClient, kind: str, err: TextIO) -> None:
    """Tell the owner when the daemon could not record the result: `status` will not show it."""
    try:
        problem = await client.history_problem()
    except (DaemonError, DaemonUnreachable) as error:
        problem = f"the daemon did not say whether it was saved ({error})"
    if problem:
        _say(
            err,
            f"{PROG}: the {kind} result could not be saved, so status will not show it: "
            f"{problem}. Fix: make that directory writable (or free some disk space), "
            f"restart the daemon (systemctl --user restart trezor-backupd), then {kind} again",
        )


async def run_check(
    client: DaemonClient,
    given: str | None,
    word_count: int | None,
    lines: TerminalLines,
    out: TextIO,
    err: TextIO,
) -> int:
    """`check`: a dry-run check of the written words; the exit code tells the result."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    if devices[device_path(device_id)].dry_run_in_progress:
        _say(out, "A check is already running on this Trezor; it continues from there.")
    agent = TerminalAgent(device_path(device_id), lines, out, word_count=word_count)

    async def start(path: str) -> None:
        await client.start_check(path, word_count)

    ended = await _follow(client, agent, OperationKind.CHECK, start, out, err)
    return ended if isinstance(ended, int) else exit_code_for_result(ended.result)


async def run_backup(
    client: DaemonClient,
    given: str | None,
    assume_yes: bool,
    lines: TerminalLines,
    out: TextIO,
    err: TextIO,
) -> int:
    """`backup`: the checklist, the confirmation, the backup itself, then what comes next."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    device = devices[device_path(device_id)]
    if not fits(device, Action.BACKUP):
        _say(
            err,
            f"{PROG}: {device_id} needs no backup now (state {device.state}). {device.explanation}",
        )
        return EXIT_CANCELLED
    _say(out, BEFORE_BACKUP_TEXT)
    if not assume_yes:
        # On a terminal the answer goes on the question's line; a script gets a whole line.
        out.write("Start the backup now? [y/N] " + ("" if lines.is_tty else "\n"))
        out.flush()
        try:
            answer = await lines.read_line(secret=False)
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            _say(out, "No backup was started.")
            return EXIT_CANCELLED
    agent = TerminalAgent(device_path(device_id), lines, out)
    ended = await _follow(client, agent, OperationKind.BACKUP, client.start_backup, out, err)
    if isinstance(ended, int):
        return ended
    if ended.result == Outcome.COMPLETED:
        _say(out, "\n" + AFTER_BACKUP_TEXT)
        _say(out, f"Now check your backup: {PROG} check {device_id}")
    else:
        _say(out, f"See what this means for the Trezor now: {PROG} status")
    return exit_code_for_result(ended.result)


async def show_history(client: DaemonClient, given: str | None, as_json: bool, out: TextIO) -> int:
    """`history`: the checks and backups recorded for a device, connected or not."""
    device_id = choose_device(await client.get_devices(), given, connected=False)
    events = await client.get_history(device_id)
    _say(out, history_json(device_id, events) if as_json else history_table(device_id, events))
    return EXIT_PASSED


_DEVICE_HELP = "the device id `status` shows; may be left out when exactly one Trezor is connected"

_EXIT_CODES_HELP = """\
  2   trezor-backupd cannot be reached, or left the bus during the operation
  64  DEVICE left out while none or several Trezors are connected, or DEVICE is not connected
Other daemon errors (for example NoAgent, PermissionDenied) print the daemon's message, exit 1."""

CHECK_DESCRIPTION = f"""\
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
{_EXIT_CODES_HELP}
"""

BACKUP_DESCRIPTION = f"""\
Create the backup of a Trezor whose state is backup_required: the Trezor shows the recovery
words on its own screen and you write them on paper, in order. A Model One shows each word
twice, one per screen; a Model T or Safe shows them all, then asks you on the Trezor for a
few of them to check what you wrote. In state extra_backup_unlocked (a multi-share backup
unlocked in Trezor Suite with your existing share) it creates the extra shares; your earlier
share keeps restoring the wallet.

Before starting, the checklist of Trezor Suite is shown (enough time, a private place, the
words are the only backup and anyone who sees them can take the coins, paper only, never a
digital copy) and you are asked to confirm, unless --yes is given. Afterwards: the checklist
for the written words, and the next step: check the backup with `{PROG} check DEVICE`.

Cancelling a started backup leaves the Trezor in backup_failed for good: it never shows the
words again. So Ctrl-C asks to be pressed twice within {BACKUP_CANCEL_CONFIRM_SECONDS:g} s;
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
{_EXIT_CODES_HELP}
"""

HISTORY_DESCRIPTION = """\
Print the checks and backups recorded on this computer for a Trezor, connected or not,
oldest first: local TIME, KIND (check or backup), RESULT and DETAIL.

With --json, print {"device": ID, "events": [{"kind", "result", "time", "detail"}, ...]},
with "time" in ISO 8601 UTC.

exit status: 0 printed (also when nothing is recorded), 1 daemon error, 2 daemon not
reachable, 64 DEVICE left out while none or several Trezors are connected.
"""


UNLOCK_DESCRIPTION = """\
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


PAIR_DESCRIPTION = """\
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


UNPAIR_DESCRIPTION = """\
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


def _usage_guarded(
    command: Callable[[argparse.Namespace, DaemonClient], Awaitable[int]],
) -> Callable[[argparse.Namespace, DaemonClient], Awaitable[int]]:
    """A command whose UsageError is printed and exits EXIT_USAGE."""

    async def guarded(args: argparse.Namespace, client: DaemonClient) -> int:
        try:
            return await command(args, client)
        except UsageError as error:
            _say(sys.stderr, f"{PROG}: {error}")
            return EXIT_USAGE

    return guarded


async def run_unlock(
    client: DaemonClient, given: str | None, lines: TerminalLines, out: TextIO, err: TextIO
) -> int:
    """`unlock`: the PIN on the Trezor (or through the terminal on a Model One), then the
    backup state the unlocked Trezor reports."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    if not fits(devices[device_path(device_id)], Action.UNLOCK):
        _say(out, f"{device_id} is not locked.")
        return EXIT_PASSED
    agent = TerminalAgent(device_path(device_id), lines, out)
    return await _then_status(client, agent, OperationKind.UNLOCK, client.unlock, out, err)


async def run_pair(
    client: DaemonClient, given: str | None, lines: TerminalLines, out: TextIO, err: TextIO
) -> int:
    """`pair`: a Safe 7 learns this computer; the code it shows is typed here."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    device = devices[device_path(device_id)]
    if device.state == BackupState.UNKNOWN and device.model == PAIRED_MODEL:
        # Read while the keyring is locked: it may well be paired already.
        _say(err, f"{PROG}: whether {device_id} is paired cannot be told now. {device.next_step}")
        return EXIT_CANCELLED
    if not fits(device, Action.PAIR):
        _say(out, f"{device_id} needs no pairing (it is {device.state}).")
        return EXIT_PASSED
    _say(
        out,
        "Confirm on your Trezor, then type the code it shows. It then asks whether this "
        "computer may connect without asking each time: confirm, so that its backup state "
        "is read whenever you plug it in.",
    )
    agent = TerminalAgent(device_path(device_id), lines, out)
    return await _then_status(client, agent, OperationKind.PAIR, client.pair, out, err)


async def _then_status(
    client: DaemonClient,
    agent: TerminalAgent,
    kind: OperationKind,
    start: Callable[[str], Awaitable[None]],
    out: TextIO,
    err: TextIO,
) -> int:
    """Follow an operation whose point is the state it lets the daemon read (unlock, pair):
    once it completed, say where to see that state. Its exit code."""
    ended = await _follow(client, agent, kind, start, out, err)
    if isinstance(ended, int):
        return ended
    if ended.result == Outcome.COMPLETED:
        _say(out, f"See its backup state: {PROG} status")
    return exit_code_for_result(ended.result)


async def run_unpair(
    client: DaemonClient, given: str | None, as_json: bool, out: TextIO, err: TextIO
) -> int:
    """`unpair`: the daemon forgets its pairing with a Safe 7 (the Trezor hears nothing).

    Always asked of the daemon, which alone knows whether a pairing is kept: a Safe 7 shown
    `unknown` (keyring locked) may have one, and the answer is a refusal with its reason.
    """
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    try:
        await client.forget_pairing(device_path(device_id))
    except DaemonError as error:
        _say(err, f"{PROG}: {error.message or error.name}")
        return exit_code_for_start_error(error.name)
    _say(
        out,
        unpaired_json(device_id)
        if as_json
        else f"The pairing with {device_id} is forgotten: this computer no longer reads its "
        f"backup state. To pair it again: {PROG} pair",
    )
    return EXIT_PASSED


async def _pair(args: argparse.Namespace, client: DaemonClient) -> int:
    lines = TerminalLines(sys.stdin.fileno())
    return await run_pair(client, args.device, lines, sys.stdout, sys.stderr)


async def _unpair(args: argparse.Namespace, client: DaemonClient) -> int:
    return await run_unpair(client, args.device, args.json, sys.stdout, sys.stderr)


async def _check(args: argparse.Namespace, client: DaemonClient) -> int:
    lines = TerminalLines(sys.stdin.fileno())
    return await run_check(client, args.device, args.words, lines, sys.stdout, sys.stderr)


async def _backup(args: argparse.Namespace, client: DaemonClient) -> int:
    lines = TerminalLines(sys.stdin.fileno())
    return await run_backup(client, args.device, args.yes, lines, sys.stdout, sys.stderr)


async def _unlock(args: argparse.Namespace, client: DaemonClient) -> int:
    lines = TerminalLines(sys.stdin.fileno())
    return await run_unlock(client, args.device, lines, sys.stdout, sys.stderr)


async def _history(args: argparse.Namespace, client: DaemonClient) -> int:
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
    parser.add_argument("device", nargs="?", metavar="DEVICE", help=_DEVICE_HELP)
    parser.set_defaults(command=_usage_guarded(command))
    return parser


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `check`, `backup`, `unlock`, `pair`, `unpair` and `history` to main.build_parser's
    commands."""
    check = _device_parser(
        commands,
        "check",
        "check the written recovery words with a dry run on the Trezor",
        CHECK_DESCRIPTION,
        _check,
    )
    check.add_argument(
        "--words",
        type=int,
        choices=WORD_COUNTS,
        metavar="N",
        help="how many words the backup has (12, 18 or 24; Model One only; asked if left out)",
    )
    backup = _device_parser(
        commands,
        "backup",
        "create the backup: write down the words the Trezor shows",
        BACKUP_DESCRIPTION,
        _backup,
    )
    backup.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation before starting"
    )
    _device_parser(
        commands,
        "unlock",
        "unlock a locked Trezor with its PIN, so that its backup state can be read",
        UNLOCK_DESCRIPTION,
        _unlock,
    )
    _device_parser(
        commands,
        "pair",
        "pair a Trezor Safe 7 with this computer (once), so that its backup state can be read",
        PAIR_DESCRIPTION,
        _pair,
    )
    unpair = _device_parser(
        commands,
        "unpair",
        "forget this computer's pairing with a Trezor Safe 7",
        UNPAIR_DESCRIPTION,
        _unpair,
    )
    unpair.add_argument("--json", action="store_true", help="print JSON instead of a sentence")
    history = _device_parser(
        commands,
        "history",
        "show the checks and backups recorded for a Trezor",
        HISTORY_DESCRIPTION,
        _history,
    )
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")
