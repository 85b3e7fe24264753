"""What the test session typed, everything it produced, and the rule that finds one in the other.

Tests that type a seed or a PIN register it here (so does the scripted owner, through the file
named by TYPED_LOG_ENV, for the PIN positions it answers); the suite's own seeds are always
searched for, whether or not a test typed them. Everything a user or an attacker could read
afterwards registers too: daemon logs, state databases, what the CLI and the scripted owner
printed, each test's captured output and a capture of the session bus. At the end of the session
conftest's pytest_sessionfinish runs `find_leaks` over all of it and fails the session on a find.
Only outputs are searched, never the test sources, which hold the seeds.

The rule, made to find a real leak without tripping on ordinary text:
- A seed leaks when RUN_LENGTH of its words appear in a row, in order, separated only by
  non-letters (spaces, punctuation, quotes, newlines; at most MAX_GAP characters), in any case.
  One word alone ("all", "abandon") is everyday text and never counts; phrases shorter than
  RUN_LENGTH are not searched.
- A PIN (or the matrix positions answered for it, or a THP pairing code) leaks when its digits
  stand after a key that names a secret (`pin=1234`, `"pin": "1234"`, `PIN: 1234`,
  `positions=...`, `code: 123456`). A run of digits
  of its own counts anywhere only from LONE_DIGITS on: shorter ones are what ports, PIDs and
  D-Bus serials look like (`serial=1234`, `udp:127.0.0.1:7351`). The keypad keys answered one at
  a time for a matrix word are single digits and cannot be told from any other digit: they are
  not searched.
- A THP pairing credential or host key (registered with `binary_secrets`) leaks when its hex
  form appears anywhere, in any case.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from trezor_backup_sim.main import DEFAULT_MNEMONIC

from sim_helpers import ABANDON24

MNEMONIC12 = "alcohol woman abuse must during monitor noble actual mixed trade anger aisle"
ZOO24 = " ".join(["zoo"] * 23 + ["vote"])
SUITE_SEEDS = (DEFAULT_MNEMONIC, ABANDON24, MNEMONIC12, ZOO24)
"""Seeds the suite loads into simulators or types: searched for in every session."""

RUN_LENGTH = 3
MAX_GAP = 16
LONE_DIGITS = 8
TYPED_LOG_ENV = "TREZOR_BACKUP_TEST_TYPED_LOG"
"""Names the file a test's child process appends what it typed to, one secret per line;
conftest exports it for the whole session."""

phrases: set[tuple[str, ...]] = set()
pins: set[str] = set()
hex_secrets: set[str] = set()
outputs: list[tuple[str, Callable[[], str]]] = []


def typed(*secrets: str) -> None:
    """Record seeds (a phrase of words) and PINs (digits) a test typed; empty ones are skipped."""
    for secret in secrets:
        if secret.strip().isdigit():
            pins.add(secret.strip())
        elif words := tuple(secret.lower().split()):
            phrases.add(words)


def binary_secrets(*secrets: bytes) -> None:
    """Record THP credentials and host private keys a test used (searched for as hex)."""
    hex_secrets.update(secret.hex() for secret in secrets if len(secret) >= 16)


def produced(name: str, read: Callable[[], str]) -> None:
    """Record an output to search at the end of the session."""
    outputs.append((name, read))


def file_text(path: Path) -> Callable[[], str]:
    """Reads a file (text or binary) at search time; a missing file reads as empty."""
    return lambda: path.read_bytes().decode("latin-1") if path.exists() else ""


@dataclass(frozen=True)
class Leak:
    """Where a secret was found; `what` describes it without repeating it."""

    line: int
    what: str


def _mask(secret: str) -> str:
    return f"{secret[:2]}{'*' * (len(secret) - 2)}" if len(secret) > 2 else "*" * len(secret)


def find_leaks(
    text: str, seeds: Iterable[tuple[str, ...]], secret_pins: Iterable[str]
) -> list[Leak]:
    """Every place in text where a seed or a PIN leaks by the rule in the module docstring."""
    runs = {
        seed[i : i + RUN_LENGTH]
        for seed in seeds
        if len(seed) >= RUN_LENGTH
        for i in range(len(seed) - RUN_LENGTH + 1)
    }
    leaks: list[Leak] = []
    words = list(re.finditer(r"[A-Za-z]+", text))
    for i in range(len(words) - RUN_LENGTH + 1):
        window = words[i : i + RUN_LENGTH]
        if tuple(m.group().lower() for m in window) not in runs:
            continue
        if all(b.start() - a.end() <= MAX_GAP for a, b in itertools.pairwise(window)):
            masked = " ".join(_mask(m.group()) for m in window)
            line = text.count("\n", 0, window[0].start()) + 1
            leaks.append(Leak(line, f"{RUN_LENGTH} words of a seed in a row ({masked})"))
    for pin in secret_pins:
        digits = re.escape(pin)
        keyed = re.compile(
            rf"(?<![A-Za-z_])(pin|pins|positions?|code)[\"']?\s*[=:]\s*[\"'(\[]?\s*{digits}(?![0-9])",
            re.IGNORECASE,
        )
        found = list(keyed.finditer(text))
        if len(pin) >= LONE_DIGITS:
            found += re.finditer(rf"(?<![0-9]){digits}(?![0-9])", text)
        for match in found:
            line = text.count("\n", 0, match.start()) + 1
            leaks.append(Leak(line, f"a typed PIN ({_mask(pin)}, {len(pin)} digits)"))
    lowered = text.lower()
    for secret in hex_secrets:
        if (at := lowered.find(secret)) >= 0:
            line = text.count("\n", 0, at) + 1
            leaks.append(Leak(line, f"a THP credential or host key ({len(secret) // 2} bytes)"))
    return leaks


def read_typed_log(path: Path) -> None:
    """Record the secrets child processes appended to the typed log."""
    if path.exists():
        typed(*path.read_text().splitlines())


def session_seeds() -> set[tuple[str, ...]]:
    return phrases | {tuple(seed.split()) for seed in SUITE_SEEDS}


def assert_no_secret(*texts: str) -> None:
    """A test's own early check: no secret known so far is in any of texts."""
    for text in texts:
        leaks = find_leaks(text, session_seeds(), pins)
        assert not leaks, f"a typed secret leaked: {leaks[0].what}, line {leaks[0].line}"
