"""Model T / Safe family (core firmware 2.8) workflows as prompt generators.

On core devices the owner types on the device: the host only acknowledges
ButtonRequests. In the simulator the typing arrives as DebugLinkDecision `input`
(what trezorlib's DebugLink sends), buttons as DebugLinkDecision `button`.
A dry run is persistent: `Wallet.dry_run_in_progress` survives an interrupted
workflow (Features then report recovery_status=Recovery, recovery_type=DryRun) and
a later RecoveryDevice resumes it at the word-count screen, as the firmware does.
"""

from __future__ import annotations

from collections.abc import Generator

from trezorlib import messages

from .legacy_flows import ENGLISH
from .prompts import Answer, ButtonPrompt, Flow, Prompt, failure, success
from .state import DebugState, Wallet

_FT = messages.FailureType
_BR = messages.ButtonRequestType
_CANCELLED = "Cancelled"
_BIP39_WORD_COUNTS = (12, 18, 24)


def dry_run(msg: messages.RecoveryDevice, wallet: Wallet) -> Flow:
    """RecoveryDevice(type=DryRun) on a core device, or resuming one in progress."""
    if not wallet.dry_run_in_progress:
        refusal = _refuse_dry_run(msg, wallet)
        if refusal is not None:
            return failure(*refusal)
        if not (yield ButtonPrompt(_BR.ProtectCall)):
            return failure(_FT.ActionCancelled, _CANCELLED)
        if wallet.pin is not None:
            entered = yield ButtonPrompt(_BR.PinEntry, text_input=True)
            if entered is None:
                return failure(_FT.ActionCancelled, _CANCELLED)
            if entered != wallet.pin:
                return failure(_FT.PinInvalid, "PIN invalid")
        wallet.dry_run_in_progress = True

    phrase = yield from _enter_valid_mnemonic()
    wallet.dry_run_in_progress = False
    if phrase is None:
        return failure(_FT.ActionCancelled, _CANCELLED)
    matches = phrase == wallet.mnemonic
    yield ButtonPrompt(_BR.Success if matches else _BR.Warning)
    if matches:
        return success("The seed is valid and matches the one in the device")
    return failure(_FT.ProcessError, "The seed does not match the one in the device")


def _refuse_dry_run(
    msg: messages.RecoveryDevice, wallet: Wallet
) -> tuple[messages.FailureType, str] | None:
    """The checks core runs before a dry run starts; None when it may start."""
    if msg.type != messages.RecoveryType.DryRun:
        if wallet.initialized:
            return _FT.UnexpectedMessage, "Already initialized"
        return _FT.ProcessError, "The simulator only performs dry runs"
    if not wallet.initialized:
        return _FT.NotInitialized, "Device is not initialized"
    if msg.enforce_wordlist is False:
        return (
            _FT.ProcessError,
            "Value enforce_wordlist must be True, Trezor Core enforces words automatically.",
        )
    if wallet.no_backup:
        return _FT.ProcessError, "Dry-run not available for seedless devices"
    if wallet.needs_backup or wallet.unfinished_backup:
        return _FT.ProcessError, "Cannot do dry-run without backed-up seed"
    return None


def _enter_valid_mnemonic() -> Generator[Prompt, Answer, str | None]:
    """Word count, then the words, until they form a valid BIP-39 mnemonic (None: NO)."""
    while True:
        count_text = yield ButtonPrompt(_BR.MnemonicWordCount, text_input=True)
        if count_text is None:
            return None
        if not (isinstance(count_text, str) and count_text.isdigit()):
            continue
        count = int(count_text)
        if count not in _BIP39_WORD_COUNTS:
            continue
        if not (yield ButtonPrompt(_BR.RecoveryHomepage)):
            return None
        words: list[str] = []
        while len(words) < count:
            word = yield ButtonPrompt(_BR.MnemonicInput, text_input=True)
            if word is None:
                return None
            # The on-device keyboard only completes words of the wordlist.
            if isinstance(word, str) and word in ENGLISH.wordlist:
                words.append(word)
        phrase = " ".join(words)
        if ENGLISH.check(phrase):
            return phrase
        yield ButtonPrompt(_BR.Warning)  # "Invalid recovery seed", then start over


def backup(wallet: Wallet, debug: DebugState) -> Flow:
    """BackupDevice on core: show the words, then check some of them."""
    if wallet.mnemonic is None:
        return failure(_FT.NotInitialized, "Device is not initialized")
    if not wallet.needs_backup:
        return failure(_FT.ProcessError, "Seed already backed up")
    wallet.needs_backup = False
    wallet.unfinished_backup = True
    words = wallet.mnemonic.split()
    # The intro, then the words (DebugLinkState.mnemonic_secret holds them).
    for _ in range(2):
        if not (yield ButtonPrompt(_BR.ResetDevice)):
            return failure(_FT.ActionCancelled, _CANCELLED)
    for position in (1, len(words) // 2, len(words)):
        debug.reset_word, debug.reset_word_pos = words[position - 1], position
        while True:
            typed = yield ButtonPrompt(_BR.ResetDevice, text_input=True)
            if typed is None:
                return failure(_FT.ActionCancelled, _CANCELLED)
            if typed == words[position - 1]:
                break
            yield ButtonPrompt(_BR.Warning)  # wrong word: shown, then asked again
    wallet.unfinished_backup = False
    yield ButtonPrompt(_BR.Success)
    return success("Seed successfully backed up")
