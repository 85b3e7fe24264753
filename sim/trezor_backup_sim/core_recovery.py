"""RecoveryDevice on core 2.10: the dry run and the repeated-backup unlock.

The owner types on the device; the host only acknowledges ButtonRequests. Once the
check has started it lives in storage (`Wallet.recovery_type`): a host message on any
screen after its first ends the host's workflow with Failure(ActionCancelled)
but the device stays in recovery mode, across Cancel, Initialize and power cycles,
until a new RecoveryDevice resumes it at the word count or the owner finishes it on
the device alone (the device runs `recovery_process` without a host; its result
reaches nobody).
"""

from __future__ import annotations

from collections.abc import Generator

from trezorlib import messages

from . import core_screens as screens
from .core_pin import check_pin, unlock
from .models import Layout
from .prompts import Answer, Flow, Prompt, ScreenPrompt, core_cancelled, failure, success
from .seed_words import BIP39_WORD_COUNTS, SLIP39_WORD_COUNTS, is_keyboard_word, master_secret
from .state import Wallet

_FT = messages.FailureType
_RT = messages.RecoveryType
_EXTENDABLE = (
    messages.BackupType.Slip39_Single_Extendable,
    messages.BackupType.Slip39_Basic_Extendable,
    messages.BackupType.Slip39_Advanced_Extendable,
)


def recovery_device(msg: messages.RecoveryDevice, wallet: Wallet, layout: Layout) -> Flow:
    """RecoveryDevice: resume the recovery in storage, or check and start a new one.

    A locked device is unlocked first, and a new check asks the PIN once more.
    """
    refused = yield from unlock(wallet)
    if refused:
        return refused
    if wallet.recovery_type is None:
        refusal = _refusal(msg, wallet)
        if refusal is not None:
            return failure(*refusal)
        if not (yield screens.confirm_seedcheck()):
            return core_cancelled()
        if wallet.pin is not None:
            refused = yield from check_pin(wallet)
            if refused:
                return refused
        wallet.recovery_type = msg.type
    return (yield from recovery_process(wallet, layout))


def _refusal(
    msg: messages.RecoveryDevice, wallet: Wallet
) -> tuple[messages.FailureType, str] | None:
    """The checks core runs before a recovery starts; None when it may start."""
    if msg.type not in (_RT.DryRun, _RT.UnlockRepeatedBackup):
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
    if msg.type == _RT.UnlockRepeatedBackup and wallet.backup_type not in _EXTENDABLE:
        return _FT.ProcessError, "Repeated backup not available"
    return None


def recovery_process(wallet: Wallet, layout: Layout) -> Flow:
    """From the word count to the result, for the recovery waiting in storage."""
    unlocking = wallet.recovery_type == _RT.UnlockRepeatedBackup
    counts = SLIP39_WORD_COUNTS if unlocking else (*BIP39_WORD_COUNTS, *SLIP39_WORD_COUNTS)
    while True:
        words = yield from _enter_words(layout, sorted(counts))
        if words is None:
            return core_cancelled()
        secret = master_secret(words)
        if secret is not None:
            break
        yield screens.invalid_mnemonic()
    wallet.recovery_type = None
    matches = wallet.mnemonic is not None and secret == master_secret(wallet.mnemonic)
    if unlocking:
        if not matches:
            return failure(_FT.ProcessError, "The seed does not match the one in the device")
        wallet.repeated_backup_unlocked = True
        return success("Backup unlocked")
    yield screens.dry_run_result(matches)
    if matches:
        return success("The seed is valid and matches the one in the device")
    return failure(_FT.ProcessError, "The seed does not match the one in the device")


def _enter_words(layout: Layout, counts: list[int]) -> Generator[Prompt, Answer, str | None]:
    """Word count, homepage, the words on the keyboard; None when cancelled."""
    if layout is Layout.CAESAR and not (yield screens.recovery_homepage()):
        return None
    count = 0
    while count not in counts:
        typed = yield screens.word_count(layout, len(counts))
        if typed is None:
            return None
        count = int(typed) if isinstance(typed, str) and typed.isdigit() else 0
    if not (yield screens.recovery_homepage()):
        return None
    prompt: Prompt = screens.mnemonic_input()
    words: list[str] = []
    while len(words) < count:
        word = yield prompt
        if word is None:
            return None
        # The keyboard only completes words of the wordlist.
        if isinstance(word, str) and is_keyboard_word(word, count):
            words.append(word)
        prompt = ScreenPrompt(text_input=True, interrupt_cancels=True)
    return " ".join(words)
