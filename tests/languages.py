"""The languages the product speaks, as the tests choose them: the list (po/LINGUAS), the
environment of an owner who speaks one, and its catalogue as the programs load it."""

from __future__ import annotations

import gettext
import subprocess
from pathlib import Path

from trezor_backup_api.i18n import LOCALE_DIR, TEXT_DOMAIN

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = (ROOT / "po" / "LINGUAS").read_text().split()


def locale_env(language: str) -> dict[str, str]:
    """The environment of an owner whose desktop speaks `language` (the locales that
    tests/setup-system.sh makes): text and dates both follow it."""
    name = f"{language}_{language.upper()}.UTF-8"
    return {"LANG": name, "LC_ALL": name}


def catalogue(language: str) -> gettext.NullTranslations:
    """The language's catalogue as the programs load it (`make mo`, which `make test` runs
    first); a missing one fails the test."""
    assert (LOCALE_DIR / language).is_dir(), "run `make mo` first"
    return gettext.translation(TEXT_DOMAIN, str(LOCALE_DIR), languages=[language])


def compile_catalogues(folder: Path) -> None:
    """po/ compiled into `folder` by the project's one recipe (po/compile.sh, msgfmt
    --check), for a test that checks the files a change touches, not an old build."""
    subprocess.run(["sh", str(ROOT / "po" / "compile.sh"), str(folder)], check=True)
