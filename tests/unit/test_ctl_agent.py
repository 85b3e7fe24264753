"""trezor-backupctl's terminal agent and the check/backup/history commands, without a daemon.

The prompts read from a real pipe (as when a script drives the CLI) and write to an in-memory
stream, or to a pipe or pseudo-terminal where a test waits for a prompt before it answers;
every test that types a secret asserts that it never appears in what was written.
End-to-end tests of the commands against the daemon live with the daemon's tests.
"""

import asyncio
import io
import json
import os
import select
import termios
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, TypeVar

import pytest

from trezor_backup_api.agent import AgentCancelled
from trezor_backup_api.device import DeviceRecord
from trezor_backup_api.input_rules import (
    BACK,
    NO_WORD,
    NOT_A_WORD,
    TOO_SHORT,
    WordRejected,
    bip39_english,
    complete_word,
    parse_pin,
    parse_position,
    parse_word_count,
)
from trezor_backup_api.names import device_path
from trezor_backupctl.conventions import EXIT_CANCELLED, EXIT_FAILED, EXIT_PASSED
from trezor_backupctl.json_output import history_json
from trezor_backupctl.operation_commands import (
    UsageError,
    choose_device,
    exit_code_for_result,
    exit_code_for_start_error,
)
from trezor_backupctl.render import history_table
from trezor_backupctl.terminal_agent import (
    BAD_PIN,
    CLOSED,
    WORD_COUNT_PROMPT,
    WORD_PROMPT,
    TerminalAgent,
    pin_matrix,
    word_matrix,
)
from trezor_backupctl.terminal_input import TerminalLines

T = TypeVar("T")
DEVICE = device_path("AE3C744E355C817510C0EABF")
WORDS = bip39_english()


@contextmanager
def piped(text: str, *, close: bool = True) -> Iterator[TerminalLines]:
    """Standard input as a script gives it: `text` in a pipe (closed after it, or kept open)."""
    read_end, write_end = os.pipe()
    os.write(write_end, text.encode())
    if close:
        os.close(write_end)
    try:
        yield TerminalLines(read_end)
    finally:
        os.close(read_end)
        if not close:
            os.close(write_end)


@contextmanager
def output_pipe() -> Iterator[tuple[TextIO, int]]:
    """Somewhere for the agent to write that the test reads as it comes: (the agent's end,
    the test's descriptor)."""
    read_end, write_end = os.pipe()
    try:
        with open(write_end, "w") as out:
            yield out, read_end
    finally:
        os.close(read_end)


async def read_until(fd: int, text: str, timeout: float = 2.0) -> str:
    """What fd delivers up to `text` (and what came with it): the way to wait for a prompt."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    seen = b""
    loop.add_reader(fd, readable.set)
    try:
        async with asyncio.timeout(timeout):
            while text.encode() not in seen:
                await readable.wait()
                readable.clear()
                seen += os.read(fd, 4096)
    except TimeoutError:
        raise AssertionError(f"no {text!r} within {timeout} s; got {seen!r}") from None
    finally:
        loop.remove_reader(fd)
    return seen.decode()


def run(coroutine: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coroutine

    return asyncio.run(wrapper())


def agent_on(lines: TerminalLines, out: TextIO, **options: Any) -> TerminalAgent:
    return TerminalAgent(DEVICE, lines, out, **options)


# --- word completion against the BIP-39 English list


def test_the_wordlist_is_bip39_english_and_four_letters_name_a_word() -> None:
    assert len(WORDS) == 2048
    assert WORDS[0] == "abandon"
    assert WORDS[-1] == "zoo"
    assert len({word[:4] for word in WORDS}) == 2048


@pytest.mark.parametrize(
    ("typed", "word"),
    [
        ("abandon", "abandon"),
        ("aban", "abandon"),
        ("abando", "abandon"),
        ("  ZOO \t", "zoo"),
        ("act", "act"),  # a three-letter word is a word, not a short prefix
        ("acti", "action"),
        ("Wrist", "wrist"),
    ],
)
def test_a_word_or_a_unique_prefix_of_four_letters_is_completed(typed: str, word: str) -> None:
    assert complete_word(typed, WORDS) == word


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", NO_WORD),
        ("   ", NO_WORD),
        ("ab", TOO_SHORT),
        ("zo", TOO_SHORT),
        ("abandonx", NOT_A_WORD),
        ("xyzzy", NOT_A_WORD),
        ("qq", NOT_A_WORD),
        ("bitcoin", NOT_A_WORD),
    ],
)
def test_a_word_not_in_the_list_is_rejected_without_repeating_it(typed: str, reason: str) -> None:
    with pytest.raises(WordRejected) as rejected:
        complete_word(typed, WORDS)
    assert str(rejected.value) == reason
    if typed.strip():
        assert typed.strip() not in str(rejected.value)


# --- PIN, matrix positions, word count


@pytest.mark.parametrize(
    ("typed", "pin"),
    [("7", "7"), ("735", "735"), (" 7 3 5 ", "735"), ("9" * 50, "9" * 50)],
)
def test_pin_positions_are_digits_one_to_nine(typed: str, pin: str) -> None:
    assert parse_pin(typed) == pin


@pytest.mark.parametrize("typed", ["", "  ", "0", "1203", "12a", "9" * 51, "1\b2", "½"])
def test_anything_else_is_not_a_pin(typed: str) -> None:
    assert parse_pin(typed) is None


@pytest.mark.parametrize(
    ("typed", "kind", "answer"),
    [
        ("5", "matrix9", "5"),
        (" 9 ", "matrix9", "9"),
        ("b", "matrix9", BACK),
        ("B", "matrix6", BACK),
        ("back", "matrix9", BACK),
        ("\b", "matrix6", BACK),
        ("\x7f", "matrix9", BACK),
        ("7", "matrix6", "7"),
        ("3", "matrix6", "3"),
        ("8", "matrix6", "9"),  # the firmware counts the middle column as the right one
        ("2", "matrix6", "3"),
    ],
)
def test_matrix_positions(typed: str, kind: str, answer: str) -> None:
    assert parse_position(typed, kind) == answer


@pytest.mark.parametrize("typed", ["", "0", "10", "55", "x", "-1", "\u0661"])
@pytest.mark.parametrize("kind", ["matrix9", "matrix6"])
def test_bad_matrix_positions(typed: str, kind: str) -> None:
    assert parse_position(typed, kind) is None


def test_word_counts() -> None:
    assert [parse_word_count(t) for t in ("12", " 18 ", "24")] == [12, 18, 24]
    assert [parse_word_count(t) for t in ("", "13", "twelve", "024")] == [None] * 4


def test_the_grids_are_drawn_as_the_keypad() -> None:
    assert pin_matrix() == "    7 8 9\n    4 5 6\n    1 2 3\n"
    assert word_matrix("matrix9") == pin_matrix()
    assert word_matrix("matrix6") == "    7   9\n    4   6\n    1   3\n"


# --- the agent on a pipe


def test_words_are_completed_and_reasked_but_never_written_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    with piped("xyzzy\nabandonx\nzo\naban\nzoo\n") as lines:
        agent = agent_on(lines, out)
        assert run(agent.request_word(DEVICE, "plain")) == "abandon"
        assert run(agent.request_word(DEVICE, "plain")) == "zoo"
    written = out.getvalue()
    assert written.count("Word requested by your Trezor (see its screen):") == 5
    assert written.count(NOT_A_WORD) == 2
    assert written.count(TOO_SHORT) == 1
    captured = capsys.readouterr()
    for secret in ("xyzzy", "abandonx", "aban", "abandon", "zoo"):
        assert secret not in written
        assert secret not in captured.out + captured.err


def test_the_pin_prompt_draws_the_grid_and_reasks_bad_positions() -> None:
    out = io.StringIO()
    with piped("1203\n\n735946\n") as lines:
        assert run(agent_on(lines, out).request_pin(DEVICE, "current")) == "735946"
    written = out.getvalue()
    assert "Look at your Trezor's screen and type the positions of your PIN digits" in written
    assert pin_matrix() in written
    assert written.count(BAD_PIN) == 2
    for secret in ("1203", "735946", "7 3 5"):
        assert secret not in written


def test_matrix_word_requests_read_one_position_each() -> None:
    out = io.StringIO()
    with piped("0\n4\nb\n8\n") as lines:
        agent = agent_on(lines, out)
        assert run(agent.request_word(DEVICE, "matrix9")) == "4"
        assert run(agent.request_word(DEVICE, "matrix9")) == BACK
        assert run(agent.request_word(DEVICE, "matrix6")) == "9"
    written = out.getvalue()
    assert word_matrix("matrix9") in written
    assert word_matrix("matrix6") in written
    assert "Type one position, 1 to 9, or b to go back." in written
    assert "0" not in written and "b\n" not in written


def test_the_word_count_comes_from_the_option_or_is_asked() -> None:
    out = io.StringIO()
    with piped("13\n18\n") as lines:
        assert run(agent_on(lines, out, word_count=24).request_word_count(DEVICE)) == 24
        assert run(agent_on(lines, out).request_word_count(DEVICE)) == 18
    assert "12, 18 or 24" in out.getvalue()


def test_the_end_of_input_cancels_the_operation() -> None:
    out = io.StringIO()
    with piped("aban\n") as lines:
        agent = agent_on(lines, out)
        assert run(agent.request_word(DEVICE, "plain")) == "abandon"
        with pytest.raises(AgentCancelled) as cancelled:
            run(agent.request_word(DEVICE, "plain"))
    assert "aban" not in str(cancelled.value)
    assert "aban" not in out.getvalue()


def test_a_last_line_without_newline_is_still_an_answer() -> None:
    with piped("zoo") as lines:
        assert run(agent_on(lines, io.StringIO()).request_word(DEVICE, "plain")) == "zoo"


def test_cancel_from_the_daemon_closes_a_waiting_prompt() -> None:
    async def scenario(agent: TerminalAgent, output: int) -> None:
        request = asyncio.create_task(agent.request_word(DEVICE, "plain"))
        await read_until(output, WORD_PROMPT)
        assert not request.done()  # waiting for a line that does not come
        agent.cancel(DEVICE)
        with pytest.raises(AgentCancelled):
            await asyncio.wait_for(request, 2)
        await read_until(output, CLOSED)

    with piped("", close=False) as lines, output_pipe() as (out, output):
        run(scenario(agent_on(lines, out), output))


def test_cancel_with_no_prompt_open_says_nothing() -> None:
    out = io.StringIO()
    with piped("") as lines:
        agent_on(lines, out).cancel(DEVICE)
    assert out.getvalue() == ""


def test_requests_for_another_device_are_refused() -> None:
    out = io.StringIO()
    other = device_path("0123456789ABCDEF01234567")
    with piped("abandon\n") as lines:
        agent = agent_on(lines, out)
        with pytest.raises(AgentCancelled):
            run(agent.request_word(other, "plain"))
        with pytest.raises(AgentCancelled):
            run(agent.request_pin(other, "current"))
        # the line was not consumed: it still answers a request for the right device
        assert run(agent.request_word(DEVICE, "plain")) == "abandon"
    assert out.getvalue().count("Word requested") == 1


def test_unknown_word_request_kinds_cancel() -> None:
    with piped("abandon\n") as lines, pytest.raises(AgentCancelled):
        run(agent_on(lines, io.StringIO()).request_word(DEVICE, "matrix12"))


# --- exit codes and the choice of device


@pytest.mark.parametrize(
    ("result", "code"),
    [
        ("passed", EXIT_PASSED),
        ("completed", EXIT_PASSED),
        ("mismatch", EXIT_FAILED),
        ("invalid_words", EXIT_FAILED),
        ("error", EXIT_FAILED),
        ("something_new", EXIT_FAILED),
        ("cancelled", EXIT_CANCELLED),
        ("disconnected", EXIT_CANCELLED),
        ("refused", EXIT_CANCELLED),
    ],
)
def test_results_map_to_exit_codes(result: str, code: int) -> None:
    assert exit_code_for_result(result) == code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("io.github.TrezorBackupGuard.Error.NotPossible", 3),
        ("io.github.TrezorBackupGuard.Error.Busy", 3),
        ("io.github.TrezorBackupGuard.Error.NoSuchDevice", 3),
        ("io.github.TrezorBackupGuard.Error.NoAgent", 1),
        ("io.github.TrezorBackupGuard.Error.PermissionDenied", 1),
        ("org.freedesktop.DBus.Error.InvalidArgs", 1),
        ("org.example.Error.Busy", 1),
    ],
)
def test_start_errors_map_to_exit_codes(name: str, code: int) -> None:
    assert exit_code_for_start_error(name) == code


def _devices(*ids: str) -> dict[str, DeviceRecord]:
    return {device_path(i): DeviceRecord(id=i) for i in ids}


def test_the_only_connected_device_is_chosen() -> None:
    assert choose_device(_devices("AAA"), None) == "AAA"
    assert choose_device(_devices("AAA", "BBB"), "BBB") == "BBB"


@pytest.mark.parametrize(
    ("ids", "given", "expected"),
    [
        ((), None, "no Trezor is connected"),
        (("AAA", "BBB"), None, "one of AAA, BBB"),
        (("AAA",), "CCC", "connected: AAA"),
        ((), "CCC", "no Trezor is connected"),
    ],
)
def test_an_unclear_device_is_a_usage_error(
    ids: tuple[str, ...], given: str | None, expected: str
) -> None:
    with pytest.raises(UsageError, match=expected):
        choose_device(_devices(*ids), given)


def test_history_takes_any_device_id() -> None:
    assert choose_device(_devices(), "CCC", connected=False) == "CCC"
    with pytest.raises(UsageError):
        choose_device(_devices("AAA", "BBB"), None, connected=False)


# --- history output


EVENTS = [
    {"Kind": "backup", "Result": "completed", "Time": 1_700_000_000, "Detail": ""},
    {"Kind": "check", "Result": "mismatch", "Time": 1_700_086_400, "Detail": "words differ"},
]


def test_history_json() -> None:
    document = json.loads(history_json("AAA", EVENTS))
    assert document == {
        "device": "AAA",
        "events": [
            {
                "kind": "backup",
                "result": "completed",
                "time": "2023-11-14T22:13:20+00:00",
                "detail": "",
            },
            {
                "kind": "check",
                "result": "mismatch",
                "time": "2023-11-15T22:13:20+00:00",
                "detail": "words differ",
            },
        ],
    }


@pytest.fixture
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for the test, so the table's local times are known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("utc_local_time")
def test_history_table() -> None:
    table = history_table("AAA", EVENTS).splitlines()
    assert table[0].split() == ["TIME", "KIND", "RESULT", "DETAIL"]
    assert table[1].split() == ["2023-11-14", "22:13", "UTC", "backup", "completed", "-"]
    assert table[2].endswith("mismatch   words differ")
    assert history_table("AAA", []) == "No check or backup of AAA recorded on this computer."


# --- a real terminal (pseudo-terminal): secret answers are not echoed


def _terminal_echo(secret: bool) -> tuple[str, str]:
    """Answer the agent's prompt for a word (secret) or the word count (not secret) on a
    pseudo-terminal; what the agent read, and what the terminal echoed after the prompt."""
    controller, terminal = os.openpty()
    try:
        lines = TerminalLines(terminal)
        assert lines.is_tty

        async def scenario(out: TextIO) -> str:
            agent = agent_on(lines, out)
            asking: asyncio.Future[str | int]
            if secret:
                asking = asyncio.ensure_future(agent.request_word(DEVICE, "plain"))
                prompt, typed = WORD_PROMPT, b"zoo\n"
            else:
                asking = asyncio.ensure_future(agent.request_word_count(DEVICE))
                prompt, typed = WORD_COUNT_PROMPT, b"24\n"
            await read_until(controller, prompt)  # the prompt has set the terminal up by now
            os.write(controller, typed)
            return str(await asyncio.wait_for(asking, 2))

        with open(terminal, "w", closefd=False) as out:
            line = run(scenario(out))
        echo = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if not ready:
                break
            echo += os.read(controller, 1024)
        restored = termios.tcgetattr(terminal)[3] & termios.ECHO
        assert restored, "echo must be back on after the prompt"
        return line, echo.decode()
    finally:
        os.close(controller)
        os.close(terminal)


def test_a_secret_line_is_not_echoed_on_a_terminal() -> None:
    line, echo = _terminal_echo(secret=True)
    assert line == "zoo"
    assert "zoo" not in echo
    assert echo.strip("\r\n") == ""  # only the Enter, so the output goes on below


def test_a_plain_line_is_echoed_on_a_terminal() -> None:
    line, echo = _terminal_echo(secret=False)
    assert line == "24"
    assert "24" in echo
