"""Core 2.10 workflows that set up a wallet or touch its flags: Load/ResetDevice, ApplyFlags.

On core devices the owner types on the device: the host only acknowledges
ButtonRequests. In the simulator the typing arrives as DebugLinkDecision `input`
(what trezorlib's `DebugLink.input()` sends), presses as the other decisions.
The PIN lives in `core_pin`, the backup and the recovery (dry run) in `core_backup`
and `core_recovery`.
"""

from __future__ import annotations

from trezorlib import messages

from . import core_screens as screens
from .core_backup import ShareScreens, show_backup
from .core_pin import unlock
from .models import Layout
from .prompts import ButtonPrompt, EntropyPrompt, Flow, core_cancelled, failure, success
from .seed_words import new_wallet_words
from .state import Wallet

_FT = messages.FailureType


def apply_flags(wallet: Wallet) -> Flow:
    """ApplyFlags: what trezorlib's ensure_unlocked() sends; no seed is derived."""
    refused = yield from unlock(wallet)
    return refused or success("Flags applied")


def wipe_device(wallet: Wallet, new_device_id: str) -> Flow:
    """WipeDevice: "Wipe device" confirmed on the device (recorded on the Safe 7, f2)."""
    if not (
        yield ButtonPrompt(messages.ButtonRequestType.WipeDevice, name="confirm_wipe", pages=1)
    ):
        return core_cancelled()
    wallet.wipe(new_device_id)
    return success("Device wiped")


def load_device(msg: messages.LoadDevice, wallet: Wallet, layout: Layout) -> Flow:
    """LoadDevice (debug firmware): a seed from the host, after a warning."""
    if wallet.initialized:
        return failure(_FT.UnexpectedMessage, "Already initialized")
    if not (yield screens.loading_seed(layout)):
        return core_cancelled()
    wallet.mnemonic = " ".join(msg.mnemonics)
    wallet.pin = msg.pin or None
    wallet.label = msg.label
    wallet.needs_backup = bool(msg.needs_backup)
    wallet.no_backup = bool(msg.no_backup)
    wallet.unfinished_backup = False  # its flag is ignored, as by the official 2.10.0
    wallet.unlocked = True
    return success("Device loaded")


def reset_device(msg: messages.ResetDevice, wallet: Wallet, shares: ShareScreens) -> Flow:
    """ResetDevice: a new seed from both entropies; shown at once unless skipped."""
    if wallet.initialized:
        return failure(_FT.UnexpectedMessage, "Already initialized")
    layout = shares.layout
    if not (yield screens.setup_device(layout)):
        return core_cancelled()
    host_entropy = yield EntropyPrompt()
    assert isinstance(host_entropy, bytes)
    backup_type = msg.backup_type or messages.BackupType.Bip39
    wallet.mnemonic = new_wallet_words(
        backup_type, shares.rng.randbytes(32), host_entropy, msg.strength or 256
    )
    wallet.backup_type = backup_type
    wallet.label = msg.label
    wallet.no_backup = bool(msg.no_backup)
    wallet.needs_backup = not wallet.no_backup
    for prompt in screens.wallet_created(layout):
        if not (yield prompt):
            return core_cancelled()
    if not (msg.skip_backup or msg.no_backup):
        refused = yield from show_backup(wallet, shares)
        if refused:
            return refused
    return success("Initialized")
