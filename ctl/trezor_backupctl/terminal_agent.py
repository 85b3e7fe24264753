"""The terminal agent: answers the Trezor's questions for the host by asking the owner.

What the owner types here (PIN positions, recovery words, matrix positions) is the most
sensitive data of the whole program. It goes from the terminal into the return value of the
agent method, which the D-Bus layer puts into the reply to the daemon, and nowhere else: it is
not echoed, printed back (not even a completed word), logged, or put into an exception; a
rejected answer is re-asked with a message that does not repeat it.

What counts as an answer (the BIP-39 word completion, PIN and matrix positions, the word
count) is `trezor_backup_api.input_rules`, which the applet's dialogs apply too.
"""

import asyncio
from collections.abc import Coroutine, Sequence
from typing import Any, TextIO, TypeVar

from trezor_backup_api import input_rules
from trezor_backup_api.agent import AgentCancelled
from trezor_backup_api.i18n import N_, _
from trezor_backup_api.vocabulary import WordKind
from trezor_backupctl.terminal_input import TerminalLines

T = TypeVar("T")

BAD_PIN = N_("Type only positions 1 to 9, one for each digit of your PIN (at most 50), try again.")
BAD_WORD_COUNT = N_("Type 12, 18 or 24.")
CLOSED = N_("Cancelled by the daemon/Trezor.")

# The prompts; a script driving the CLI waits for these (each a line of its own then).
PIN_PROMPT = N_("PIN positions (not shown as you type): ")
WORD_PROMPT = N_("Word requested by your Trezor (see its screen): ")
POSITION_PROMPT = N_("Position on your Trezor's grid (b = back): ")
WORD_COUNT_PROMPT = N_("How many words does your backup have (12, 18 or 24)? ")
PAIRING_CODE_PROMPT = N_("Code shown on your Trezor (6 digits, not shown as you type): ")
BAD_PAIRING_CODE = N_("Type the 6 digits your Trezor shows, try again.")

PIN_INTRO = N_(
    """\
Your Trezor asks for its PIN.
Look at your Trezor's screen and type the positions of your PIN digits.
The Trezor shows its digits shuffled on a grid; the positions are those of a numeric keypad:
"""
)
PLAIN_WORD_INTRO = N_(
    """\
Type each word your Trezor's screen asks for, then Enter; its first 4 letters are enough.
The Trezor also asks for words that are not in your backup, in a random order: type them
as well, so the computer never learns which words are yours. Nothing you type is shown.
"""
)
MATRIX_INTRO = N_(
    """\
Your Trezor shows the choices for your word on a grid. Each time, type the position of the
right choice, then Enter (b goes back one step). Nothing you type is shown.
"""
)


def _grid(rows: tuple[tuple[str, ...], ...]) -> str:
    """The layout indented, two columns spread like the Trezor's (7   9)."""
    gap = " " if len(rows[0]) == 3 else "   "
    return "".join(f"    {gap.join(row)}\n" for row in rows)


def pin_matrix() -> str:
    """The 3x3 keypad layout the positions of the PIN's digits refer to."""
    return _grid(input_rules.KEYPAD_ROWS)


def word_matrix(kind: str) -> str:
    """The keypad layout of a matrix word request: 3x3 for `matrix9`, 3 rows of 2 for `matrix6`."""
    return _grid(input_rules.MATRIX6_ROWS if kind == WordKind.MATRIX6 else input_rules.KEYPAD_ROWS)


class TerminalAgent:
    """An Agent (trezor_backup_api.agent) that asks the owner on the terminal, for one device.

    Requests about another device are refused: the daemon falls back to the most recently
    registered agent, and a check of device A must not start asking words for device B.
    Each prompt runs as a task, so `cancel` (the daemon: the operation ended) and
    `close_prompts` (Ctrl-C) end it at once; the pending request then answers with an error.
    """

    def __init__(
        self,
        device_path: str,
        lines: TerminalLines,
        out: TextIO,
        *,
        word_count: int | None = None,
        wordlist: Sequence[str] | None = None,
    ) -> None:
        self.device_path = device_path
        self._lines = lines
        self._out = out
        self._word_count = word_count
        self._wordlist = wordlist if wordlist is not None else input_rules.bip39_english()
        self._pending: set[asyncio.Task[Any]] = set()
        self._explained: set[str] = set()

    def _say(self, text: str) -> None:
        self._out.write(text if text.endswith("\n") else text + "\n")
        self._out.flush()

    async def _ask_line(self, prompt: str, *, secret: bool) -> str:
        """Show `prompt` and read the answer after it.

        On a terminal the answer is typed on the prompt's line. For a script the prompt is a
        whole line, so that a driver reading the output line by line sees it before answering
        (the Trezor's screen decides the answer, so it cannot be written in advance).
        """
        self._out.write(prompt if self._lines.is_tty else prompt + "\n")
        self._out.flush()
        return await self._lines.read_line(secret=secret)

    def _explain_once(self, key: str, text: str) -> None:
        if key not in self._explained:
            self._explained.add(key)
            self._say(text)

    def _check_device(self, device: str) -> None:
        if device != self.device_path:
            raise AgentCancelled(f"this agent answers only for {self.device_path}")

    async def _ask(self, prompt: Coroutine[Any, Any, T]) -> T:
        task = asyncio.ensure_future(prompt)
        self._pending.add(task)
        try:
            return await task
        except EOFError:
            raise AgentCancelled("no more input") from None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the request itself is being cancelled, not only its prompt
            raise AgentCancelled("the prompt was closed") from None
        finally:
            self._pending.discard(task)

    def close_prompts(self) -> bool:
        """End every open prompt (its request answers Cancelled); False if none was open."""
        pending = [task for task in self._pending if not task.done()]
        for task in pending:
            task.cancel()
        return bool(pending)

    def cancel(self, device: str) -> None:
        """Agent1.Cancel: the operation ended or was cancelled, so close any prompt."""
        if device == self.device_path and self.close_prompts():
            self._say("\n" + _(CLOSED))

    async def request_pin(self, device: str, kind: str) -> str:
        """Agent1.RequestPin: the PIN as keypad positions of the Trezor's shuffled digits."""
        self._check_device(device)
        return await self._ask(self._pin_prompt())

    async def _pin_prompt(self) -> str:
        self._say(_(PIN_INTRO) + "\n" + pin_matrix())
        while True:
            pin = input_rules.parse_pin(await self._ask_line(_(PIN_PROMPT), secret=True))
            if pin is not None:
                return pin
            self._say(_(BAD_PIN))

    async def request_word(self, device: str, kind: str) -> str:
        """Agent1.RequestWord: a BIP-39 word (`plain`) or a grid position (`matrix9/6`)."""
        self._check_device(device)
        if kind == WordKind.PLAIN:
            return await self._ask(self._word_prompt())
        if kind in (WordKind.MATRIX9, WordKind.MATRIX6):
            return await self._ask(self._position_prompt(kind))
        raise AgentCancelled(f"unknown word request kind {kind!r}")  # to the daemon, English

    async def _word_prompt(self) -> str:
        self._explain_once("plain", _(PLAIN_WORD_INTRO))
        while True:
            try:
                return input_rules.complete_word(
                    await self._ask_line(_(WORD_PROMPT), secret=True), self._wordlist
                )
            except input_rules.WordRejected as rejected:
                # Its message is one of input_rules' sentences (never what was typed).
                self._say(_(str(rejected)))

    async def _position_prompt(self, kind: str) -> str:
        self._explain_once("matrix", _(MATRIX_INTRO))
        self._say("\n" + word_matrix(kind))
        while True:
            position = input_rules.parse_position(
                await self._ask_line(_(POSITION_PROMPT), secret=True), kind
            )
            if position is not None:
                return position
            if kind == WordKind.MATRIX6:
                self._say(_("Type one position, 1, 3, 4, 6, 7 or 9, or b to go back."))
            else:
                self._say(_("Type one position, 1 to 9, or b to go back."))

    async def request_pairing_code(self, device: str) -> str:
        """Agent1.RequestPairingCode: the 6 digits a Safe 7 shows while pairing."""
        self._check_device(device)
        return await self._ask(self._pairing_code_prompt())

    async def _pairing_code_prompt(self) -> str:
        while True:
            code = input_rules.parse_pairing_code(
                await self._ask_line(_(PAIRING_CODE_PROMPT), secret=True)
            )
            if code is not None:
                return code
            self._say(_(BAD_PAIRING_CODE))

    async def request_word_count(self, device: str) -> int:
        """Agent1.RequestWordCount: from --words if given, else asked (it is not secret)."""
        self._check_device(device)
        if self._word_count is not None:
            return self._word_count
        return await self._ask(self._word_count_prompt())

    async def _word_count_prompt(self) -> int:
        while True:
            count = input_rules.parse_word_count(
                await self._ask_line(_(WORD_COUNT_PROMPT), secret=False)
            )
            if count is not None:
                return count
            self._say(_(BAD_WORD_COUNT))
