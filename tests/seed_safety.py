"""What the whole test session typed, and everything it produced, for one final grep.

Tests that type a recovery word or a PIN register it here; everything a user or an attacker
could read afterwards registers too: daemon logs, state databases, what the CLI and the
scripted owner printed, and a capture of the session bus. tests/test_zz_seed_safety.py,
which runs last, proves that no secret reached any of it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

typed_secrets: set[str] = set()
outputs: list[tuple[str, Callable[[], str]]] = []


def typed(*secrets: str) -> None:
    """Record words and PINs a test typed (a phrase is split into words)."""
    for secret in secrets:
        typed_secrets.update(secret.split())


def produced(name: str, read: Callable[[], str]) -> None:
    """Record an output to grep at the end of the session."""
    outputs.append((name, read))


def file_text(path: Path) -> Callable[[], str]:
    """Reads a file (text or binary) at grep time; a missing file reads as empty."""
    return lambda: path.read_bytes().decode("latin-1") if path.exists() else ""
