"""The ButtonRequests core 2.10 sends per screen: code, name and page count per layout.

Copied from the recordings (`tests/vectors/core-2.10.0`): the Model T (bolt), the
Safe 3 (caesar) and the Safe 5 (delizia) name and page the same workflows
differently, and a host that follows `name`/`pages` must see the same thing here.
"""

from __future__ import annotations

import json
import math

from trezorlib import messages

from .models import Layout
from .prompts import ButtonPrompt, ScreenPrompt

_BR = messages.ButtonRequestType


def _pages(layout: Layout, caesar_pages: int) -> int:
    """Safe 3 pages its two-button screens; the touch layouts scroll within one page."""
    return caesar_pages if layout is Layout.CAESAR else 1


def loading_seed(layout: Layout) -> ButtonPrompt:
    """LoadDevice's warning."""
    return ButtonPrompt(_BR.Other, name="warn_loading_seed", pages=_pages(layout, 2))


def setup_device(layout: Layout) -> ButtonPrompt:
    """ResetDevice's "Create wallet" screen."""
    return ButtonPrompt(_BR.ResetDevice, name="setup_device", pages=_pages(layout, 2))


def wallet_created(layout: Layout) -> list[ButtonPrompt]:
    """The Safe 5's "Wallet created" screen at the end of ResetDevice; none elsewhere."""
    if layout is Layout.DELIZIA:
        return [ButtonPrompt(_BR.ResetDevice, name="backup_device", pages=1)]
    return []


def backup_intro() -> ButtonPrompt:
    """BackupDevice's first screen."""
    return ButtonPrompt(_BR.ResetDevice, name="backup_intro", pages=1)


def backup_warning() -> ButtonPrompt:
    """ "Keep your backup safe"."""
    return ButtonPrompt(_BR.ResetDevice, name="backup_warning", pages=1)


def confirm_repeated_backup() -> ButtonPrompt:
    """BackupDevice in repeated-backup mode starts here instead of backup_intro."""
    return ButtonPrompt(_BR.ProtectCall, name="confirm_repeated_backup", pages=1)


def warning_shamir_backup() -> ButtonPrompt:
    """ "Do you want to create a M of N multi-share backup?"."""
    return ButtonPrompt(_BR.Other, name="warning_shamir_backup", pages=1)


def share_words(layout: Layout, words: list[str]) -> list[ButtonPrompt]:
    """The screens that show one share (or the BIP-39 words) before its quiz; the words
    are drawn on one screen (the firmware pages them, its text "1. wrong 2. town ...")."""
    shown = _screen("Wallet backup", " ".join(f"{n}. {word}" for n, word in enumerate(words, 1)))
    if layout is Layout.DELIZIA:
        return [
            ButtonPrompt(_BR.ResetDevice, name="share_words", pages=len(words) + 2, screen=shown)
        ]
    if layout is Layout.BOLT:
        pages = math.ceil(len(words) / 4)
        return [ButtonPrompt(_BR.ResetDevice, name="backup_words", pages=pages, screen=shown)]
    # Safe 3: instructions, the words three a page plus a closing page, "Check backup".
    pages = math.ceil(len(words) / 3) + 1
    single = ButtonPrompt(_BR.ResetDevice, name="backup_words", pages=1)
    return [
        single,
        ButtonPrompt(_BR.ResetDevice, name="backup_words", pages=pages, screen=shown),
        single,
    ]


def quiz_word(layout: Layout, position: int, word_count: int) -> ScreenPrompt:
    """A quiz screen after the words (no ButtonRequest): it names the position only, never
    the word (recorded: DebugLinkState.reset_word stays unset); the Safe 3 in its title."""
    asked = f"Select word {position} of {word_count}:"
    if layout is Layout.CAESAR:
        screen = _screen(asked, "")
    elif layout is Layout.DELIZIA:
        screen = _screen(f"Check wallet backup\n{asked}", asked)
    else:
        screen = _screen("Check wallet backup", asked)
    return ScreenPrompt(text_input=True, screen=screen)


def _screen(title: str, text: str) -> str:
    """A layout token as trezorlib's LayoutContent reads it (title, then text)."""
    return json.dumps({"component": "Frame", "title": title, "text": text})


def share_checked(layout: Layout, share_count: int) -> list[ButtonPrompt]:
    """After a share's quiz; the Safe 5 says nothing when there is one share only."""
    if layout is Layout.DELIZIA and share_count == 1:
        return []
    return [ButtonPrompt(_BR.Success, name="success_share_confirm", pages=1)]


def backup_done() -> ButtonPrompt:
    """The last screen of a backup."""
    return ButtonPrompt(_BR.Success, name="success_backup", pages=1)


def pin_entry() -> ButtonPrompt:
    """The PIN keyboard (unlocking, or the dry run's own PIN check)."""
    return ButtonPrompt(_BR.PinEntry, text_input=True, name="pin_device", pages=1)


def wrong_pin() -> ButtonPrompt:
    """The warning after a wrong PIN in a workflow's own PIN check (2.10.0)."""
    return ButtonPrompt(_BR.Warning, name="warning_wrong_pin", pages=1)


def confirm_seedcheck() -> ButtonPrompt:
    """ "Check your backup?" of a dry run or a repeated-backup unlock."""
    return ButtonPrompt(_BR.ProtectCall, name="confirm_seedcheck", pages=1)


def recovery_homepage() -> ButtonPrompt:
    """The recovery homescreen; ends the flow as cancelled when a host message comes."""
    return ButtonPrompt(_BR.RecoveryHomepage, name="recovery", pages=1, interrupt_cancels=True)


def word_count(layout: Layout, choices: int) -> ButtonPrompt:
    """The word-count selector; the Safe 3 shows one choice a page."""
    return ButtonPrompt(
        _BR.MnemonicWordCount,
        text_input=True,
        name="recovery_word_count",
        pages=_pages(layout, choices),
        interrupt_cancels=True,
    )


def mnemonic_input() -> ButtonPrompt:
    """The word keyboard: one ButtonRequest for all the words."""
    return ButtonPrompt(
        _BR.MnemonicInput, text_input=True, name="mnemonic", pages=1, interrupt_cancels=True
    )


def invalid_mnemonic() -> ButtonPrompt:
    """Words that restore nothing (bad checksum); not recorded, name from the firmware."""
    return ButtonPrompt(_BR.Warning, name="warning_invalid_seed", pages=1)


def dry_run_result(matches: bool) -> ButtonPrompt:
    """The result screen of a dry run."""
    if matches:
        return ButtonPrompt(_BR.Success, name="success_dry_recovery", pages=1)
    return ButtonPrompt(_BR.Warning, name="warning_dry_recovery", pages=1)
