"""Model One (legacy firmware 1.14) workflows as prompt generators.

Order of checks, texts and codes follow `legacy/firmware/fsm_msg_common.h`,
`recovery.c` and `reset.c`, and the recordings of the real firmware. The matrix
word entry of a dry run lives in `matrix.py`.
"""

from __future__ import annotations

import random

from mnemonic import Mnemonic
from trezorlib import messages

from . import matrix
from .address import p2pkh_address
from .prompts import ButtonPrompt, Flow, WordPrompt, failure, require_pin, success
from .state import DebugState, Wallet

_FT = messages.FailureType
_BR = messages.ButtonRequestType
ENGLISH = Mnemonic("english")
# Scrambled input always asks 24 times; shorter seeds are padded with fake words.
_SCRAMBLED_REQUESTS = 24
_CANCELLED = "Action cancelled by user"


def ping(msg: messages.Ping, cancelled_text: str) -> Flow:
    """Ping, optionally confirmed on the device (ProtectCall); same flow on core."""
    if msg.button_protection:
        confirmed = yield ButtonPrompt(_BR.ProtectCall)
        if not confirmed:
            return failure(_FT.ActionCancelled, cancelled_text)
    return [messages.Success(message=msg.message)]


def dry_run(
    msg: messages.RecoveryDevice, wallet: Wallet, debug: DebugState, rng: random.Random
) -> Flow:
    """RecoveryDevice: only the dry run (seed check) of an initialized device."""
    if wallet.pin is not None:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    if msg.type != messages.RecoveryType.DryRun:
        if wallet.initialized:
            return failure(_FT.UnexpectedMessage, "Device is already initialized. Use Wipe first.")
        return failure(_FT.ProcessError, "The simulator only performs dry runs")
    if not wallet.initialized:
        return failure(_FT.NotInitialized, "Device not initialized")
    forbidden = (msg.passphrase_protection, msg.pin_protection, msg.language, msg.label)
    if any(value is not None for value in (*forbidden, msg.u2f_counter)):
        return failure(_FT.DataError, "Forbidden field set in dry-run")
    word_count = msg.word_count if msg.word_count is not None else 12
    if word_count not in (12, 18, 24):
        return failure(_FT.DataError, "Invalid word count")
    if msg.input_method == messages.RecoveryDeviceInputMethod.Matrix:
        # Allowed under Strict: the words never reach the computer.
        typed_words = yield from matrix.enter_words(word_count, rng, debug)
        return (yield from _dry_run_result(" ".join(typed_words), wallet, debug))
    if (
        word_count < _SCRAMBLED_REQUESTS
        and wallet.safety_checks == messages.SafetyCheckLevel.Strict
    ):
        return failure(_FT.DataError, "Advanced recovery must be used.")

    words: list[str] = [""] * word_count
    order = list(range(1, word_count + 1)) + [0] * (_SCRAMBLED_REQUESTS - word_count)
    rng.shuffle(order)
    for position in order:
        debug.recovery_word_pos = position
        debug.recovery_fake_word = rng.choice(ENGLISH.wordlist) if position == 0 else ""
        typed = yield WordPrompt(messages.WordRequestType.Plain)
        assert isinstance(typed, str)
        if position == 0:
            if typed != debug.recovery_fake_word:
                return failure(_FT.ProcessError, "Wrong word retyped")
            continue
        if msg.enforce_wordlist and typed not in ENGLISH.wordlist:
            return failure(_FT.DataError, "Word not found in a wordlist")
        words[position - 1] = typed

    return (yield from _dry_run_result(" ".join(words), wallet, debug))


def _dry_run_result(candidate: str, wallet: Wallet, debug: DebugState) -> Flow:
    """recovery_done() of a dry run: compare, show the confirm-only result screen."""
    if not ENGLISH.check(candidate):
        result = failure(_FT.DataError, "Invalid seed, are words in correct order?")
    elif candidate == wallet.mnemonic:
        result = success("The seed is valid and matches the one in the device")
    else:
        result = failure(
            _FT.DataError, "The seed is valid but does not match the one in the device"
        )
    # The result screen is confirm-only: the decision does not change the result.
    debug.result_on_screen = True
    try:
        yield ButtonPrompt(_BR.Other)
    finally:
        debug.result_on_screen = False
    return result


def backup(wallet: Wallet, debug: DebugState) -> Flow:
    """BackupDevice: every word shown twice, one ConfirmWord request each."""
    if wallet.mnemonic is None:
        return failure(_FT.NotInitialized, "Device not initialized")
    if wallet.pin is not None:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    if not wallet.needs_backup:
        return failure(_FT.UnexpectedMessage, "Seed already backed up")
    # From here on an interrupted backup can never be repeated.
    wallet.needs_backup = False
    wallet.unfinished_backup = True
    words = wallet.mnemonic.split()
    for _ in range(2):
        for position, word in enumerate(words, start=1):
            debug.reset_word, debug.reset_word_pos = word, position
            if not (yield ButtonPrompt(_BR.ConfirmWord)):
                return failure(_FT.ActionCancelled, _CANCELLED)
    wallet.unfinished_backup = False
    return success("Seed successfully backed up")


def get_address(msg: messages.GetAddress, wallet: Wallet) -> Flow:
    """GetAddress for Bitcoin P2PKH: what hosts use to make the device ask for its PIN."""
    if wallet.mnemonic is None:
        return failure(_FT.NotInitialized, "Device not initialized")
    if not wallet.unlocked:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    if msg.coin_name not in (None, "Bitcoin"):
        return failure(_FT.DataError, "Invalid coin name")
    if msg.script_type not in (None, messages.InputScriptType.SPENDADDRESS):
        return failure(_FT.DataError, "The simulator only derives P2PKH addresses")
    address = p2pkh_address(wallet.mnemonic, list(msg.address_n))
    if msg.show_display:
        yield ButtonPrompt(_BR.Address)
    return [messages.Address(address=address)]


def apply_flags(wallet: Wallet) -> Flow:
    """ApplyFlags: what trezorlib's ensure_unlocked() sends; the PIN matrix when locked
    (1.14.2, tests/test_official_guesses.py)."""
    if not wallet.unlocked:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    return success("Flags applied")


def apply_settings(msg: messages.ApplySettings, wallet: Wallet) -> Flow:
    """ApplySettings: one ProtectCall confirmation per setting (label, safety checks)."""
    settings = (msg.label, msg.safety_checks)
    if all(value is None for value in settings):
        return failure(_FT.DataError, "No setting provided")
    if not wallet.unlocked:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    for value in settings:
        if value is not None and not (yield ButtonPrompt(_BR.ProtectCall)):
            return failure(_FT.ActionCancelled, _CANCELLED)
    if msg.label is not None:
        wallet.label = msg.label
    if msg.safety_checks is not None:
        wallet.safety_checks = msg.safety_checks
    return success("Settings applied")


def wipe_device(wallet: Wallet, new_device_id: str) -> Flow:
    """WipeDevice: confirmed on the device, then storage is erased."""
    if not (yield ButtonPrompt(_BR.WipeDevice)):
        return failure(_FT.ActionCancelled, _CANCELLED)
    wallet.wipe(new_device_id)
    return success("Device wiped")


def load_device(msg: messages.LoadDevice, wallet: Wallet) -> Flow:
    """LoadDevice (debug builds only): how test setups put a known seed on a device."""
    if not wallet.unlocked:
        refused = yield from require_pin(wallet)
        if refused:
            return refused
    if wallet.initialized:
        return failure(_FT.UnexpectedMessage, "Device is already initialized. Use Wipe first.")
    if not (yield ButtonPrompt(_BR.ProtectCall)):
        return failure(_FT.ActionCancelled, _CANCELLED)
    mnemonic = msg.mnemonics[0] if msg.mnemonics else None
    if mnemonic is not None and not msg.skip_checksum and not ENGLISH.check(mnemonic):
        return failure(_FT.DataError, "Mnemonic with wrong checksum provided")
    wallet.mnemonic = mnemonic
    wallet.pin = msg.pin or None
    wallet.label = msg.label
    wallet.needs_backup = bool(msg.needs_backup)
    wallet.unfinished_backup = bool(msg.unfinished_backup)
    wallet.no_backup = bool(msg.no_backup)
    return success("Device loaded")
