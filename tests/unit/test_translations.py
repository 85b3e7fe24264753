"""Every catalogue is complete and correct for the strings the programs have now: a string
marked for translation that a language lacks (or has fuzzy), or a translation whose `{name}`
placeholders differ from the English, fails here (`make check-po`: xgettext, msgmerge and
msgfmt --check, changing nothing in the checkout)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from languages import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]


def test_the_languages_are_czech_german_spanish_and_french_at_least() -> None:
    assert {"cs", "de", "es", "fr"} <= set(LANGUAGES)


def test_every_catalogue_translates_every_string_of_the_programs() -> None:
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "check-po"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == LANGUAGES
    for line in lines:
        assert re.fullmatch(r"[a-z_]+: \d+ translated messages?\.", line), line
