"""Model One matrix word entry: the dry run with `input_method=Matrix`.

How the legacy firmware (`legacy/firmware/recovery.c`) lets a user enter a seed
without ever typing a word on the computer: every word is picked in four steps on
screens of scrambled choices. Three 3x3 screens narrow the word down (first-letter
range, two-letter range, prefix range: WordRequest type Matrix9), a 2x3 screen
shows the remaining words (Matrix6). The host only learns keypad positions, never
which choice they stood for, so it cannot log the seed.

The host answers each WordRequest with `WordAck(word="<d>")`: d is the keypad
position '1'..'9' (7 8 9 top row, 1 2 3 bottom row, as on a numeric keypad); on a
2x3 screen the middle column counts as the right one. `"\b"` undoes the last step
(at the start of a word it goes back to the start of the previous word). Any other
first character just repeats the request. A blank cell ("-") selects the first
choice of the screen, as on the device. Every screen only offers wordlist words, so
a word outside the wordlist cannot be entered at all.

The grouping of the 2048 BIP-39 words into the choices is data of the firmware
(`recovery-table.h`, generated from a hand-made partition, so it cannot be derived
from the wordlist): it is kept here as group sizes. How many letters a choice's
label shows and how the label is spelled ("T-Z", "AB-AC", "AL A-C", "WIN -K") are
computed like the firmware's generator (`build-recovery-table.pl`) and
`add_choice()` do; the labels match every screen of the recorded transcripts.

Deviations from the real firmware, all on purpose:

* The scramble comes from the simulator's RNG (Python's `random`, reseeded by
  `DebugLinkReseedRandom`), not the firmware's; keypad positions differ from a
  recording's.
* The real device only *draws* the screen (`DebugLinkState.layout`, the OLED
  buffer; the simulator's stays zeroed). So that a debug host can still find its
  digit, the simulator puts the current screen into `DebugLinkState.tokens` (a
  field trezorlib's DebugLinkState has and the legacy firmware never sets) as ONE
  JSON string, see `MatrixScreen.token`. One string, because trezorlib's
  `DebugLink` joins all tokens into one when it reads a state. The field is empty
  when no matrix screen is up.
* The firmware highlights the picked word for 250 ms (reading only "tiny"
  messages meanwhile); the simulator has no clock and goes on at once.

As on the device, `recovery_word_pos` and `recovery_fake_word` are not touched in
matrix mode (they keep whatever an earlier scrambled session left).
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator
from dataclasses import dataclass
from functools import cache

from mnemonic import Mnemonic
from trezorlib import messages

from .prompts import Answer, Prompt, WordPrompt
from .state import DebugState

WORDLIST: list[str] = Mnemonic("english").wordlist

# The partition, read off `word_table2` / `word_table1` of the firmware's
# recovery-table.h (the differences of their low 12 bits); the letter counts in
# their high bits are recomputed by `_letters_shown()`, which reproduces all 711.
# Words in each of the 630 final (Matrix6) groups, in wordlist order: at most 6.
_WORDS_PER_GROUP = (
    "541422151351341435345344562214144241634361456453534233533345445266153233331112244343553111"
    "122366421311121536645564446524544462112421112211111126131223516234342253312121311115253251"
    "126642524423534436424254462231223324233643535534344434222516222522261111121425123323423316"
    "123244423222324435113331123131124443334566445111311412214145343545544445545614336163524122"
    "224222214233544444513223232233242142413431411315563114323656534554455553565263545423224313"
    "131132323223325133144314163121165555534553424344446364352521146452544455132532545151531364"
    "536531324233624241445434325332242343332333455362615362245456261665656534343653462552555664"
)
# Final groups in each of the 81 prefix-range (third) screens: at most 9. Nine of
# these make one first-level choice, so the second screen always has nine choices.
_GROUPS_PER_RANGE = (
    "889899796695755977886998999935967888987898999997997848997749999958999885699749999"
)
_KEYS = "123456789"
_BACKSPACE = "\b"
_BLANK = "-"
_WRT = messages.WordRequestType
LEVELS = 4
"""WordRequests per word: Matrix9 three times, then Matrix6."""
TOKEN_COMPONENT = "RecoveryMatrix"
"""The `component` of the JSON token in DebugLinkState.tokens during matrix entry."""


@dataclass(frozen=True)
class Choice:
    """One choice of a matrix screen: the words [start, end) it stands for, and its label."""

    start: int
    end: int
    label: str


@cache
def _group_starts() -> tuple[int, ...]:
    """Index of the first word of every final group, plus 2048 at the end."""
    starts = [0]
    for size in _WORDS_PER_GROUP:
        starts.append(starts[-1] + int(size))
    assert starts[-1] == len(WORDLIST)
    return tuple(starts)


@cache
def _range_starts() -> tuple[int, ...]:
    """Index of the first final group of every prefix range, plus 630 at the end."""
    starts = [0]
    for count in _GROUPS_PER_RANGE:
        starts.append(starts[-1] + int(count))
    assert starts[-1] == len(_WORDS_PER_GROUP) and len(starts) == 9 * 9 + 1
    return tuple(starts)


def _letters_shown(start: int, end: int) -> int:
    """How many letters the label of the words [start, end) spells out.

    The firmware's table generator decides this: enough letters to tell the range
    from its neighbours, plus one when the last letter has to be a range itself,
    or two (and no common prefix) when the neighbours share even that.
    """
    before = WORDLIST[start - 1] if start > 0 else "_"
    first, last = WORDLIST[start], WORDLIST[end - 1]
    after = WORDLIST[end] if end < len(WORDLIST) else "_"
    common = 0
    while common < 5:
        if first[: common + 1] != last[: common + 1]:
            break
        if before[:common] != first[:common] and after[:common] != last[:common]:
            break
        common += 1
    extra = 0
    if before[:common] == first[:common] or last[:common] == after[:common]:
        extra = 1
    if before[: common + 1] == first[: common + 1] or last[: common + 1] == after[: common + 1]:
        common, extra = 0, 2
    return common + extra


def _label(letters: int, first: str, last: str) -> str:
    """The label of a choice from `first` to `last`, spelled like the firmware's screen.

    Works on NUL-padded strings because the firmware reads one letter past the
    end of short words ("WIN -K" covers "win" itself).
    """
    head, tail = (first.upper() + "\0" * 5), (last.upper() + "\0" * 5)
    shown = head[:letters]
    if head[0] != tail[0]:
        text = f"{shown}-{tail[0]}"  # T-Z, WI-Z
    elif head[letters - 1] == tail[letters - 1]:
        text = shown  # S, BU, ABU
    elif letters < 3:
        text = f"{shown}-{tail[:letters]}"  # AB-AC
    else:
        text = f"{shown[:-1]} {head[letters - 1]}-{tail[letters - 1]}".replace("\0", "")
    return text.split("\0")[0]


def _span(start: int, end: int, letters: int | None = None) -> Choice:
    """A choice for the words [start, end)."""
    letters = _letters_shown(start, end) if letters is None else letters
    return Choice(start, end, _label(letters, WORDLIST[start], WORDLIST[end - 1]))


def choices(path: tuple[int, ...]) -> list[Choice]:
    """The choices of the screen after the choices `path` (0 to 3 of them) of a word."""
    groups, ranges = _group_starts(), _range_starts()
    if len(path) == 0:  # first letter(s): nine blocks of nine prefix ranges
        return [
            _span(groups[ranges[9 * i]], groups[ranges[9 * i + 9]], letters=1) for i in range(9)
        ]
    if len(path) == 1:  # two-letter ranges: always nine
        return [
            _span(groups[ranges[r]], groups[ranges[r + 1]])
            for r in range(9 * path[0], 9 * path[0] + 9)
        ]
    prefix_range = 9 * path[0] + path[1]
    first_group, end_group = ranges[prefix_range], ranges[prefix_range + 1]
    if len(path) == 2:  # prefix ranges: up to nine
        return [_span(groups[g], groups[g + 1]) for g in range(first_group, end_group)]
    group = first_group + path[2]  # the words themselves: up to six
    return [Choice(w, w + 1, WORDLIST[w]) for w in range(groups[group], groups[group + 1])]


@dataclass(frozen=True)
class MatrixScreen:
    """A scrambled screen of choices, and what each keypad position selects."""

    request: messages.WordRequestType
    word: int
    level: int
    options: tuple[Choice, ...]
    labels: tuple[str, ...]
    picks: tuple[int, ...]

    @classmethod
    def scramble(cls, word: int, path: tuple[int, ...], rng: random.Random) -> MatrixScreen:
        """Lay the choices after `path` out in random cells, like `display_choices()`."""
        options = tuple(choices(path))
        two_columns = len(path) == LEVELS - 1
        cells = list(range(6 if two_columns else 9))
        rng.shuffle(cells)
        labels: list[str] = []
        picks: list[int] = []
        for key in range(9):
            row, column = divmod(key, 3)  # row 0 is the bottom row, keys 1 2 3
            cell = row * 2 + min(column, 1) if two_columns else key
            shown = cells[cell]
            labels.append(options[shown].label if shown < len(options) else _BLANK)
            # A blank cell selects the screen's first choice, as on the device.
            picks.append(shown if shown < len(options) else 0)
        request = _WRT.Matrix6 if two_columns else _WRT.Matrix9
        return cls(request, word, len(path), options, tuple(labels), tuple(picks))

    def selected(self, key: str) -> int:
        """Index in `options` of what keypad position `key` ('1'..'9') selects."""
        return self.picks[_KEYS.index(key)]

    @property
    def token(self) -> str:
        """The screen as JSON for DebugLinkState.tokens.

        `{"component": "RecoveryMatrix", "request": "Matrix9", "word": 1, "level": 0,
        "keys": {"1": "D-E", ..., "9": "C"}}`: `word` counts from 1, `level` is 0..3
        (3 = the Matrix6 word screen), `keys` is what each keypad position shows,
        "-" for a blank cell (what the screen shows, nothing more).
        """
        keys = dict(zip(_KEYS, self.labels, strict=True))
        return json.dumps(
            {
                "component": TOKEN_COMPONENT,
                "request": self.request.name,
                "word": self.word,
                "level": self.level,
                "keys": keys,
            }
        )


def enter_words(
    word_count: int, rng: random.Random, debug: DebugState
) -> Generator[Prompt, Answer, list[str]]:
    """Ask for `word_count` words on matrix screens; return them (only wordlist words).

    Mirrors `recovery_digit()`/`next_matrix()`: every accepted key or backspace
    draws a new scrambled screen; anything else repeats the request unchanged.
    The screen is published in DebugState while it is up and removed however the
    entry ends (finished, cancelled, or aborted by Initialize / a new request).
    """
    words: list[str] = []
    path: list[int] = []
    try:
        screen = MatrixScreen.scramble(1, (), rng)
        while True:
            debug.matrix_token = screen.token
            answer = yield WordPrompt(screen.request)
            key = answer[:1] if isinstance(answer, str) else ""
            if key == _BACKSPACE:
                if path:
                    path.pop()
                elif words:
                    words.pop()  # back to the first screen of the previous word
            elif key and key in _KEYS:
                choice = screen.selected(key)
                if len(path) < LEVELS - 1:
                    path.append(choice)
                else:
                    words.append(WORDLIST[screen.options[choice].start])
                    path = []
                    if len(words) == word_count:
                        return words
            else:
                continue  # recovery_request(): the same screen is asked again
            screen = MatrixScreen.scramble(len(words) + 1, tuple(path), rng)
    finally:
        debug.matrix_token = None
