"""Runs last (pytest takes files in name order): greps everything the session produced for
every word and PIN any test typed. Finding one anywhere fails the suite."""

from __future__ import annotations

import re
from pathlib import Path

import seed_safety

PROJECT = Path(__file__).resolve().parents[1]


def own_vocabulary() -> set[str]:
    """Words the program itself may print (its source and docs): "must" or "during" in a log
    line are ours, not a leak, so such seed words cannot be told apart and are left out."""
    words: set[str] = set()
    for folder in ("daemon", "applet", "docs"):
        for path in (PROJECT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".xml"):
                words.update(re.findall(r"[a-z]+", path.read_text(errors="replace").lower()))
    return words


def test_no_typed_secret_reached_any_output() -> None:
    assert seed_safety.typed_secrets, "no test typed a secret: run the whole suite"
    distinctive = seed_safety.typed_secrets - own_vocabulary()
    assert len(distinctive) >= 8, sorted(distinctive)
    names = [name for name, _read in seed_safety.outputs]
    assert any(name.startswith("daemon log") for name in names)
    assert "session bus capture" in names
    pattern = re.compile(
        r"(?<![A-Za-z0-9])("
        + "|".join(re.escape(s) for s in sorted(distinctive, key=len, reverse=True))
        + r")(?![A-Za-z0-9])"
    )
    leaks = []
    for name, read in seed_safety.outputs:
        text = read()
        if (found := pattern.search(text)) is not None:
            leaks.append(f"{name}: ...{text[max(0, found.start() - 60) : found.end() + 20]!r}")
    assert not leaks, "typed secrets leaked:\n" + "\n".join(leaks[:10])
