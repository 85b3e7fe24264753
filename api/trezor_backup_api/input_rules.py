"""What the owner may answer a Model One, shared by the terminal agent and the dialogs.

Pure functions and constants, so both front ends accept exactly the same input and it is
tested without a terminal, a display or a bus. Nothing here keeps or repeats what was typed:
a rejected answer is refused with a message that does not contain it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from .i18n import N_, _
from .vocabulary import WordKind

WORD_COUNTS = (12, 18, 24)
MIN_PREFIX = 4
"""Letters that name a BIP-39 word (see `complete_word`)."""
MAX_PIN_LENGTH = 50  # the firmware's limit
BACK = "\b"
"""The answer that takes a matrix word entry one step back."""

# Keypad layout of the Model One's PIN and word matrices: 7 8 9 on top, 1 2 3 at the bottom.
KEYPAD_ROWS = (("7", "8", "9"), ("4", "5", "6"), ("1", "2", "3"))
# Matrix6 shows two columns of three words; the firmware counts the middle column as the
# right one, so the right-hand buttons send the right column's digits, and a typed middle
# position means the right column.
MATRIX6_ROWS = (("7", "9"), ("4", "6"), ("1", "3"))
MATRIX6_POSITIONS = {
    **{position: position for position in "134679"},
    **{"2": "3", "5": "6", "8": "9"},
}
_BACK_ANSWERS = frozenset({"b", "back", "\b", "\x7f"})

NOT_A_WORD = N_("That is not a BIP-39 word, try again.")
TOO_SHORT = N_("Type at least 4 letters of the word (or the whole word), try again.")
NO_WORD = N_("Type the word your Trezor asks for.")

BEFORE_BACKUP = (
    N_("I have about 15 minutes and will not be interrupted."),
    N_("I am in a private place: nobody and no camera can see the screen of my Trezor."),
    N_(
        "I understand that the recovery words are the only way to get my funds back if my "
        "Trezor is lost or broken, and that anyone who sees them can take my funds."
    ),
    N_(
        "I have paper and a pen: I write the words on paper only and make no digital copy "
        "(no photo, no file, no cloud, no password manager)."
    ),
)
"""Trezor Suite's questions before a backup, as the owner confirms them (marked for the
catalogue; each view translates them)."""
AFTER_BACKUP = (
    N_("I wrote down every word, in order, exactly as my Trezor showed it."),
    N_("I made no digital copy: no photo, no file, no cloud, no password manager."),
    N_("I will keep the written words hidden and safe."),
)
"""Trezor Suite's questions after a backup, before the offer to check it."""


@cache
def bip39_english() -> tuple[str, ...]:
    """The BIP-39 English wordlist, as trezorlib's `mnemonic` package ships it."""
    from mnemonic import Mnemonic  # only when a word is asked: it is slow to import

    return tuple(Mnemonic("english").wordlist)


class WordRejected(ValueError):
    """A typed word cannot be sent; the message says why (in the owner's language) without
    repeating the word."""


def complete_word(typed: str, wordlist: Sequence[str] | None = None) -> str:
    """The BIP-39 word meant by `typed`: the word itself, or a unique prefix of 4+ letters.

    Four letters, because that is the rule of BIP-39 itself (every English word is unique in
    its first four letters) and of the Model One, whose own word entry completes a word from
    its first four letters: the owner learns one rule. A shorter unique prefix is refused
    rather than guessed, as the device would. Words not in the list are rejected here rather
    than by the device, where a wrong word ends the whole check ("Word not found in a
    wordlist").
    """
    words = bip39_english() if wordlist is None else wordlist
    text = typed.strip().lower()
    if not text:
        raise WordRejected(_(NO_WORD))
    if text in words:
        return text
    matches = [word for word in words if word.startswith(text)]
    if len(text) >= MIN_PREFIX and len(matches) == 1:
        return matches[0]
    if matches:
        raise WordRejected(_(TOO_SHORT))
    raise WordRejected(_(NOT_A_WORD))


def completions(typed: str, wordlist: Sequence[str] | None = None) -> list[str]:
    """The words starting with what is typed, to show as choices (none for nothing typed)."""
    prefix = typed.strip().lower()
    words = bip39_english() if wordlist is None else wordlist
    return [word for word in words if word.startswith(prefix)] if prefix else []


def parse_pin(typed: str) -> str | None:
    """The PIN positions in `typed` (spaces allowed between them), or None if not valid."""
    positions = "".join(typed.split())
    valid = 1 <= len(positions) <= MAX_PIN_LENGTH and all(c in "123456789" for c in positions)
    return positions if valid else None


def parse_pairing_code(typed: str) -> str | None:
    """The 6 digits a Safe 7 shows while pairing (spaces allowed, as it groups them by 3)."""
    code = "".join(typed.split())
    return code if len(code) == 6 and code.isascii() and code.isdigit() else None


def parse_position(typed: str, kind: str) -> str | None:
    """The answer to a `matrix9`/`matrix6` word request: a position digit or BACK; None if bad."""
    text = typed.strip().lower()
    if text in _BACK_ANSWERS:
        return BACK
    if kind == WordKind.MATRIX6:
        return MATRIX6_POSITIONS.get(text)
    return text if len(text) == 1 and text in "123456789" else None


def parse_word_count(typed: str) -> int | None:
    """12, 18 or 24 from what was typed; None for anything else."""
    text = typed.strip()
    return int(text) if text in {str(count) for count in WORD_COUNTS} else None
