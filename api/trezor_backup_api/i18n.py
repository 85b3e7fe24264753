"""Every sentence an owner reads, in the owner's language: one gettext text domain for the
daemon, the command line and the applet.

Why one domain: a sentence the daemon composes is rendered by a client (the CLI, the applet)
in the client's locale, so both must look it up in the same catalogue. Why `Sentence`: the
daemon and its clients may run in different locales (the bus is shared, properties are the
same for every client), so the daemon never sends a translated sentence. It sends the
English msgid and the named arguments (`Sentence`), and each client translates and formats
them itself (docs/dbus-api.md, "Languages"). English stays the language of logs, `--json`
and the plain `Explanation`/`NextStep` properties, which scripts compare.

The catalogues (`<lang>/LC_MESSAGES/trezor-backup-guard.mo`) are compiled from `po/` by
`make mo` into this package's `locale/` folder, so a checkout, a venv and the Debian package
find them beside this file; a system-wide install under /usr/share/locale is found too.
"""

from __future__ import annotations

import gettext as _gettext
import locale
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .vocabulary import BackupState

TEXT_DOMAIN = "trezor-backup-guard"

LOCALE_DIR = Path(__file__).with_name("locale")
"""Where `make mo` puts the compiled catalogues (package data of the wheel and the .deb)."""


def _catalogue() -> _gettext.NullTranslations:
    """The owner's catalogue, chosen by $LANGUAGE, $LC_ALL, $LC_MESSAGES and $LANG as gettext
    does; English (the msgids themselves) when none matches."""
    localedir = str(LOCALE_DIR) if LOCALE_DIR.is_dir() else None
    return _gettext.translation(TEXT_DOMAIN, localedir, fallback=True)


_translations: _gettext.NullTranslations | None = None
"""The catalogue once something was translated: loaded on first use, so the daemon, which
never translates, and `status --json` never read one."""


def _owners() -> _gettext.NullTranslations:
    global _translations
    if _translations is None:
        _translations = _catalogue()
    return _translations


def reload_catalogue() -> None:
    """Choose the catalogue again from the environment at the next translation (a test
    switching languages in one process; programs choose once)."""
    global _translations
    _translations = None


def _(message: str) -> str:
    """The owner's translation of `message` (the gettext convention, for xgettext)."""
    return _owners().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The owner's translation of a sentence about `n` things, by the language's plural rule."""
    return _owners().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark `message` for the catalogue without translating it here: for sentences a client
    translates later (a `Sentence` msgid, a table of labels)."""
    return message


ARGPARSE_WORDS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unrecognized arguments: %s"),
    N_("the following arguments are required: %s"),
    N_("expected one argument"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
)
"""argparse's own words an owner meets in `--help` and in a usage error, as Python 3.11's
argparse writes them: marked here so that they are in our catalogue, where argparse finds
them once a program made ours the default domain (`speak_for_argparse`)."""


def speak_for_argparse() -> None:
    """Make our text domain the process's default, so argparse (which translates through
    the default domain) says "usage:", "options" and its errors in the owner's language.
    Called by the programs that parse a command line, before they build the parser."""
    _gettext.bindtextdomain(TEXT_DOMAIN, str(LOCALE_DIR))
    _gettext.textdomain(TEXT_DOMAIN)


def date_format() -> str:
    """The strftime format of a date for the owner: the locale's own (`%x`) once the program
    chose a locale (`locale.setlocale`); ISO 8601 in C and POSIX, the locale of scripts and
    tests and the one a program is left in when the owner's locale is not installed, whose
    `%x` (12/07/26) reads as another day in most of the world, in any language."""
    chosen = locale.setlocale(locale.LC_TIME)
    return "%Y-%m-%d" if chosen in ("C", "POSIX") or chosen.startswith("C.") else "%x"


def local_day(seconds: float) -> str:
    """A Unix time as the owner reads a date: the local day, in `date_format`."""
    return time.strftime(date_format(), time.localtime(seconds))


def format_date(iso_date: str) -> str:
    """An ISO date (`2026-12-07`) in `date_format`; a value that is no ISO date is returned
    as it is."""
    try:
        parsed = time.strptime(iso_date, "%Y-%m-%d")
    except ValueError:
        return iso_date
    return time.strftime(date_format(), parsed)


STATE_WORDS: dict[str, str] = {
    BackupState.NOT_INITIALIZED: N_("not set up yet"),
    BackupState.NO_BACKUP: N_("seedless (no backup by choice)"),
    BackupState.BACKUP_FAILED: N_("backup failed"),
    BackupState.BACKUP_REQUIRED: N_("needs a backup"),
    BackupState.UNVERIFIED: N_("backup not checked yet"),
    BackupState.VERIFIED: N_("backup checked"),
    BackupState.CHECK_FAILED: N_("backup check failed: do not send funds"),
    BackupState.CHECK_DUE: N_("backup check due"),
    BackupState.EXTRA_BACKUP_UNLOCKED: N_("an extra backup can be made now"),
    BackupState.LOCKED: N_("locked: unlock it to read its backup state"),
    BackupState.PAIRING_REQUIRED: N_(
        "not paired with this computer: pair it to read its backup state"
    ),
    BackupState.BUSY: N_("busy"),
    BackupState.BOOTLOADER: N_("in bootloader mode"),
    BackupState.UNKNOWN: N_("state unknown"),
}
"""Each state as the owner reads it after a Trezor's name ("Savings: needs a backup");
msgids, translated by `state_words`."""


def state_words(state: str) -> str:
    """A `State` code as the owner reads it, in the owner's language (the code itself, made
    readable, for a state this version does not know)."""
    words = STATE_WORDS.get(state)
    return _(words) if words else state.replace("_", " ")


@dataclass(frozen=True)
class Sentence:
    """A sentence in no language yet: its English msgid with `{name}` placeholders, and the
    arguments. On the bus it is `(ssa{ss})`, msgid, plural msgid (empty for a sentence that
    counts nothing) and arguments; a list of them, `a(ssa{ss})`, is a paragraph.

    A sentence that counts something has a `plural` msgid and its count in the argument
    `count`: the language's plural rule picks the form (`plural_sentence` makes one).
    Arguments are never translated (a model name, a URL), except dates and states: an
    argument whose name ends in `date` holds an ISO date (`2026-12-07`), and one named `state`
    a `State` code (`unverified`); English keeps them as they are, a translation shows the
    date in the locale's own format and the state by its words (`state_words`). Recovery
    words, PINs and codes never become arguments: no sentence carries seed material.
    """

    msgid: str
    args: Mapping[str, str] = field(default_factory=dict)
    plural: str = ""

    def english(self) -> str:
        """The sentence as English (logs, `--json`, the plain string properties)."""
        return self._template(_ENGLISH).format(**self.args)

    def translated(self) -> str:
        """The sentence in the owner's language; English (arguments as they are) where the
        owner's catalogue has no translation of it, or a broken one."""
        template = self._template(_owners())
        if template == self._template(_ENGLISH) or not _formats_with(template, self.args):
            return self.english()
        return template.format(**_for_owner(self.args))

    def _template(self, translations: _gettext.NullTranslations) -> str:
        if self.plural:
            return translations.ngettext(self.msgid, self.plural, int(self.args["count"]))
        return translations.gettext(self.msgid)

    def to_bus(self) -> tuple[str, str, dict[str, str]]:
        """The `(ssa{ss})` value."""
        return (self.msgid, self.plural, dict(self.args))


def _formats_with(template: str, args: Mapping[str, str]) -> bool:
    """Whether `template` names only plain placeholders that `args` has: what a sentence
    from the bus or a catalogue must be before it is formatted (no index, no attribute, no
    conversion, nothing missing, braces balanced)."""
    try:
        fields = list(_FORMATTER.parse(template))
    except ValueError:
        return False
    return all(
        name is None or (name.isidentifier() and name in args and not conversion)
        for _, name, _, conversion in fields
    )


_FORMATTER = string.Formatter()


def _for_owner(args: Mapping[str, str]) -> dict[str, str]:
    """Arguments as a translation shows them: dates in the locale's format, states by name."""
    shown = dict(args)
    for name, value in args.items():
        if name.endswith("date"):
            shown[name] = format_date(value)
        elif name == "state":
            shown[name] = state_words(value)
    return shown


_ENGLISH = _gettext.NullTranslations()
"""The msgids themselves, with English's plural rule."""


def plural_sentence(singular: str, plural: str, count: int, args: Mapping[str, str]) -> Sentence:
    """A sentence about `count` things: `{count}` in the msgids is the number (xgettext
    extracts both forms through this function's name, as it does for ngettext)."""
    return Sentence(singular, {**args, "count": str(count)}, plural)


def paragraph_english(sentences: Iterable[Sentence]) -> str:
    """Sentences joined as English prose."""
    return " ".join(s.english() for s in sentences)


def paragraph_translated(sentences: Iterable[Sentence]) -> str:
    """Sentences joined in the owner's language."""
    return " ".join(s.translated() for s in sentences)


def sentences_from_bus(value: object) -> tuple[Sentence, ...]:
    """Sentences from an `a(ssa{ss})` value; anything malformed is dropped (a client must
    survive a newer or faulty daemon), so the caller falls back to the English property."""
    if not isinstance(value, list):
        return ()
    result = []
    for item in value:
        if (
            isinstance(item, (list, tuple))
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], str)
            and isinstance(item[2], dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in item[2].items())
            and (not item[1] or _is_count(item[2].get("count", "")))
            and all(_formats_with(template, item[2]) for template in item[:2] if template)
        ):
            result.append(Sentence(item[0], dict(item[2]), item[1]))
    return tuple(result)


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdecimal()
