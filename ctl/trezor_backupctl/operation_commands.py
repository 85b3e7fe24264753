"""`trezor-backupctl check`, `backup`, `unlock`, `pair`, `unpair`, `history`: operations on a
device.

An operation runs in the daemon and takes minutes; the CLI registers its terminal agent (the
owner's answers go through it to the device), subscribes to the device's operation signals
before starting so that nothing is missed, prints a progress sentence when the step changes
(not again for each of its screens), and turns the result
into an exit code. Ctrl-C asks the daemon to cancel and still waits for the outcome, so the
exit code says what the device did, not what the CLI hoped.

Their arguments and --help texts are in operation_parser, which main's parser adds, so main.py
stays the place for the shared parts (the connection, the daemon's errors).
"""

import asyncio
import dataclasses
import signal
from collections.abc import Mapping
from contextlib import suppress
from typing import Any, TextIO

from trezor_backup_api.actions import Action, allowed_actions
from trezor_backup_api.agent import AgentExport
from trezor_backup_api.client import (
    BusEvent,
    DaemonClient,
    DaemonOwnerChanged,
    OperationFinished,
    OperationProgress,
)
from trezor_backup_api.daemon_errors import DaemonError, DaemonUnreachable
from trezor_backup_api.device import DeviceRecord
from trezor_backup_api.i18n import N_, _
from trezor_backup_api.input_rules import AFTER_BACKUP, BEFORE_BACKUP
from trezor_backup_api.names import ROOT_PATH, device_path, short_error_name
from trezor_backup_api.vocabulary import (
    PAIRED_MODEL,
    BackupState,
    OperationKind,
    Outcome,
    Refusal,
)
from trezor_backupctl.conventions import (
    BACKUP_CANCEL_CONFIRM_SECONDS,
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_PASSED,
    PROG,
)
from trezor_backupctl.json_output import history_json, unpaired_json
from trezor_backupctl.render import history_table
from trezor_backupctl.terminal_agent import TerminalAgent
from trezor_backupctl.terminal_input import TerminalLines

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

BACKUP_WARNING = N_(
    """\
Warning: once the Trezor shows the first word, do not cancel. Cancelling a started backup
leaves the Trezor in backup_failed for good: it never shows the words again, and the only
way out is to move the funds away, wipe it and set it up again.
"""
)

BACKUP_CANCEL_WARNING = N_(
    "Cancelling a started backup leaves this Trezor in backup_failed for good. "
    "Press Ctrl-C again within {seconds:g} s to cancel anyway."
)


def _checklist(title: str, items: tuple[str, ...]) -> str:
    """A title and its items, one per line (the items are input_rules' checklists, marked
    for the catalogue there)."""
    return title + "\n" + "".join(f"  - {_(item)}\n" for item in items)


def before_backup_text() -> str:
    """What the owner must have ready before a backup, and why not to cancel it."""
    title = _("Before you create the backup, make sure that:")
    return _checklist(title, BEFORE_BACKUP) + "\n" + _(BACKUP_WARNING)


def after_backup_text() -> str:
    """What to check on the written paper before putting it away."""
    title = _("Backup created. Before you put the paper away, make sure that:")
    return _checklist(title, AFTER_BACKUP).rstrip("\n")


_RESULT_LINES = {
    OperationKind.CHECK: N_("Check result: {result}"),
    OperationKind.BACKUP: N_("Backup result: {result}"),
    OperationKind.UNLOCK: N_("Unlock result: {result}"),
    OperationKind.PAIR: N_("Pair result: {result}"),
}
"""The line that ends an operation; the result is its code (`Outcome`), which scripts read."""


def _is_yes(answer: str) -> bool:
    """A yes to the backup's confirmation: English `y`/`yes` always (scripts send those), and
    the owner's language's word for yes, typed with or without its accents ("si" for "sí")."""
    words = {"y", "yes", _("y"), _("yes")}
    return _folded(answer.strip()) in {_folded(word) for word in words}


def _folded(text: str) -> str:
    """`text` in lower case without accents, for comparing what a person typed."""
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


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
            raise UsageError(
                _("no Trezor with id {device} is connected; no Trezor is connected").format(
                    device=given
                )
            )
        raise UsageError(
            _("no Trezor with id {device} is connected; connected: {devices}").format(
                device=given, devices=listing
            )
        )
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise UsageError(_("no Trezor is connected: plug it in, or give the DEVICE id"))
    raise UsageError(
        _("several Trezors are connected: give the DEVICE id, one of {devices}").format(
            devices=listing
        )
    )


def fits(device: DeviceRecord, action: Action) -> bool:
    """Whether the one rule (trezor_backup_api.actions) allows `action` on the device once
    nothing runs on it: an operation running now is the daemon's to refuse (Busy), in its
    own words."""
    return action in allowed_actions(dataclasses.replace(device, operation=""))


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


class _Follower:
    """One operation on the agent's device, followed to its end with the agent registered:
    a progress line per step, Ctrl-C asking the daemon to cancel (twice for a backup), and
    the result printed."""

    def __init__(
        self,
        client: DaemonClient,
        agent: TerminalAgent,
        kind: OperationKind,
        out: TextIO,
        err: TextIO,
    ) -> None:
        self._client = client
        self._agent = agent
        self._kind = kind
        self._out = out
        self._err = err
        self._loop = asyncio.get_running_loop()
        self._path = agent.device_path
        self._finished: asyncio.Future[OperationFinished] = self._loop.create_future()
        self._daemon_gone = asyncio.Event()
        self._give_up = asyncio.Event()
        self._shown_stage = ""
        self._cancelling: asyncio.Task[None] | None = None
        self._warned_at: float | None = None

    async def run(self, word_count: int | None = None) -> OperationFinished | int:
        """Its end (the result and message printed), or the exit code if it never ran."""
        await self._client.subscribe_operation(self._path, self._on_event)
        export = AgentExport(self._client, self._agent, AGENT_PATH)
        await export.register()
        try:
            try:
                await self._client.start(self._path, self._kind, word_count)
            except DaemonError as error:
                _say(self._err, f"{PROG}: {error.for_owner()}")
                return exit_code_for_start_error(error.name)
            await self._wait()
            return await self._ended()
        finally:
            self._agent.close_prompts()
            if self._daemon_gone.is_set():
                export.stop()
            else:
                await export.unregister()

    def _on_event(self, event: BusEvent) -> None:
        if isinstance(event, OperationProgress):
            # One line per step: the daemon announces every screen (48 while a Model One
            # shows its words), but the owner follows them on the Trezor, and the prompts of
            # the agent still come one per word.
            if event.stage != self._shown_stage:
                self._shown_stage = event.stage
                _say(self._out, event.message_for_owner())
        elif isinstance(event, OperationFinished):
            if event.kind == self._kind and not self._finished.done():
                self._finished.set_result(event)
        elif isinstance(event, DaemonOwnerChanged) and event.old_owner:
            self._daemon_gone.set()

    async def _wait(self) -> None:
        """Until the operation finished, the daemon left, or the owner gave up waiting."""
        self._loop.add_signal_handler(signal.SIGINT, self._on_ctrl_c)
        self._loop.add_signal_handler(signal.SIGTERM, self._cancel)
        waits: list[asyncio.Future[Any]] = [
            asyncio.create_task(self._daemon_gone.wait()),
            asyncio.create_task(self._give_up.wait()),
            asyncio.create_task(self._client.wait_for_disconnect()),
        ]
        try:
            await asyncio.wait([self._finished, *waits], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._loop.remove_signal_handler(signal.SIGINT)
            self._loop.remove_signal_handler(signal.SIGTERM)
            for task in waits:
                task.cancel()
            if self._cancelling is not None:
                self._cancelling.cancel()

    async def _ended(self) -> OperationFinished | int:
        if self._finished.done():
            ended = self._finished.result()
            result = _(_RESULT_LINES[self._kind])
            _say(self._out, "\n" + result.format(result=ended.result))
            if ended.message:
                _say(self._out, ended.message_for_owner())
            if self._kind != OperationKind.UNLOCK:
                await _say_if_not_saved(self._client, self._kind, self._err)
            return ended
        if self._give_up.is_set():
            _say(
                self._err,
                _("{prog}: stopped waiting for the Trezor; see: {prog} status").format(prog=PROG),
            )
            return EXIT_CANCELLED
        raise DaemonUnreachable(
            _("trezor-backupd left the session bus during the operation ({kind})").format(
                kind=self._kind
            )
        )

    def _on_ctrl_c(self) -> None:
        confirmed = self._warned_at is not None and (
            self._loop.time() - self._warned_at <= BACKUP_CANCEL_CONFIRM_SECONDS
        )
        if self._kind == OperationKind.BACKUP and self._cancelling is None and not confirmed:
            self._warned_at = self._loop.time()
            warning = _(BACKUP_CANCEL_WARNING).format(seconds=BACKUP_CANCEL_CONFIRM_SECONDS)
            _say(self._out, "\n" + warning)
            return
        self._cancel()

    def _cancel(self) -> None:
        if self._cancelling is not None:
            self._give_up.set()  # asked twice: stop waiting for a daemon that does not answer
            return
        _say(self._out, "\n" + _("Cancelling on the Trezor..."))
        self._agent.close_prompts()
        self._cancelling = asyncio.create_task(self._cancel_on_device())

    async def _cancel_on_device(self) -> None:
        # NoOperation (it ended meanwhile) or the daemon gone: either way the wait ends.
        with suppress(DaemonError, DaemonUnreachable):
            await self._client.cancel_operation(self._path)


_NOT_SAVED = {
    OperationKind.CHECK: N_(
        "{prog}: the check result could not be saved, so status will not show it: {problem}. "
        "Fix: make that directory writable (or free some disk space), restart the daemon "
        "(systemctl --user restart trezor-backupd), then check again"
    ),
    OperationKind.BACKUP: N_(
        "{prog}: the backup result could not be saved, so status will not show it: {problem}. "
        "Fix: make that directory writable (or free some disk space), restart the daemon "
        "(systemctl --user restart trezor-backupd), then back up again"
    ),
    OperationKind.PAIR: N_(
        "{prog}: the pairing result could not be saved, so status will not show it: {problem}. "
        "Fix: make that directory writable (or free some disk space), restart the daemon "
        "(systemctl --user restart trezor-backupd), then pair again"
    ),
}


async def _say_if_not_saved(client: DaemonClient, kind: OperationKind, err: TextIO) -> None:
    """Tell the owner when the daemon could not record the result: `status` will not show it."""
    try:
        problem = await client.history_problem()
    except (DaemonError, DaemonUnreachable) as error:
        problem = _("the daemon did not say whether it was saved ({reason})").format(reason=error)
    if problem:
        message = _(_NOT_SAVED[kind])
        _say(err, message.format(prog=PROG, problem=problem))


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
        _say(out, _("A check is already running on this Trezor; it continues from there."))
    agent = TerminalAgent(device_path(device_id), lines, out, word_count=word_count)
    ended = await _Follower(client, agent, OperationKind.CHECK, out, err).run(word_count)
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
        message = _("{prog}: {device} needs no backup now (state {state}). {explanation}")
        _say(
            err,
            message.format(
                prog=PROG,
                device=device_id,
                state=device.state,
                explanation=device.explanation_for_owner(),
            ),
        )
        return EXIT_CANCELLED
    _say(out, before_backup_text())
    if not assume_yes:
        # On a terminal the answer goes on the question's line; a script gets a whole line.
        out.write(_("Start the backup now? [y/N] ") + ("" if lines.is_tty else "\n"))
        out.flush()
        try:
            answer = await lines.read_line(secret=False)
        except EOFError:
            answer = ""
        if not _is_yes(answer):
            _say(out, _("No backup was started."))
            return EXIT_CANCELLED
    agent = TerminalAgent(device_path(device_id), lines, out)
    ended = await _Follower(client, agent, OperationKind.BACKUP, out, err).run()
    if isinstance(ended, int):
        return ended
    if ended.result == Outcome.COMPLETED:
        _say(out, "\n" + after_backup_text())
        _say(out, _("Now check your backup: {command}").format(command=f"{PROG} check {device_id}"))
    else:
        _say(out, _("See what this means for the Trezor now: {prog} status").format(prog=PROG))
    return exit_code_for_result(ended.result)


async def show_history(client: DaemonClient, given: str | None, as_json: bool, out: TextIO) -> int:
    """`history`: the checks and backups recorded for a device, connected or not."""
    device_id = choose_device(await client.get_devices(), given, connected=False)
    events = await client.get_history(device_id)
    _say(out, history_json(device_id, events) if as_json else history_table(device_id, events))
    return EXIT_PASSED


async def run_unlock(
    client: DaemonClient, given: str | None, lines: TerminalLines, out: TextIO, err: TextIO
) -> int:
    """`unlock`: the PIN on the Trezor (or through the terminal on a Model One), then the
    backup state the unlocked Trezor reports."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    if not fits(devices[device_path(device_id)], Action.UNLOCK):
        _say(out, _("{device} is not locked.").format(device=device_id))
        return EXIT_PASSED
    agent = TerminalAgent(device_path(device_id), lines, out)
    return await _then_status(client, agent, OperationKind.UNLOCK, out, err)


async def run_pair(
    client: DaemonClient, given: str | None, lines: TerminalLines, out: TextIO, err: TextIO
) -> int:
    """`pair`: a Safe 7 learns this computer; the code it shows is typed here."""
    devices = await client.get_devices()
    device_id = choose_device(devices, given)
    device = devices[device_path(device_id)]
    if device.state == BackupState.UNKNOWN and device.model == PAIRED_MODEL:
        # Read while the keyring is locked: it may well be paired already.
        message = _("{prog}: whether {device} is paired cannot be told now. {next_step}")
        next_step = device.next_step_for_owner()
        _say(err, message.format(prog=PROG, device=device_id, next_step=next_step))
        return EXIT_CANCELLED
    if not fits(device, Action.PAIR):
        message = _("{device} needs no pairing (it is {state}).")
        _say(out, message.format(device=device_id, state=device.state))
        return EXIT_PASSED
    _say(
        out,
        _(
            "Confirm on your Trezor, then type the code it shows. It then asks whether this "
            "computer may connect without asking each time: confirm, so that its backup state "
            "is read whenever you plug it in."
        ),
    )
    agent = TerminalAgent(device_path(device_id), lines, out)
    return await _then_status(client, agent, OperationKind.PAIR, out, err)


async def _then_status(
    client: DaemonClient,
    agent: TerminalAgent,
    kind: OperationKind,
    out: TextIO,
    err: TextIO,
) -> int:
    """Follow an operation whose point is the state it lets the daemon read (unlock, pair):
    once it completed, say where to see that state. Its exit code."""
    ended = await _Follower(client, agent, kind, out, err).run()
    if isinstance(ended, int):
        return ended
    if ended.result == Outcome.COMPLETED:
        _say(out, _("See its backup state: {prog} status").format(prog=PROG))
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
        _say(err, f"{PROG}: {error.for_owner()}")
        return exit_code_for_start_error(error.name)
    forgotten = _(
        "The pairing with {device} is forgotten: this computer no longer reads its backup "
        "state. To pair it again: {prog} pair"
    )
    _say(
        out, unpaired_json(device_id) if as_json else forgotten.format(device=device_id, prog=PROG)
    )
    return EXIT_PASSED
