"""BackupDevice on core 2.10: the words once, a three-word quiz, never again.

The device marks the backup unfinished *before* the first screen, so a backup that
is cancelled, interrupted by any host message or cut by a power cycle leaves
`unfinished_backup=True` for good. A repeated backup (after
RecoveryDevice(type=UnlockRepeatedBackup)) writes a new SLIP-39 share set instead
and never marks anything unfinished.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass

from trezorlib import messages, protobuf

from . import core_screens as screens
from .core_pin import unlock
from .models import Layout
from .prompts import Answer, Flow, Prompt, core_cancelled, failure, success
from .seed_words import repeated_backup_shares
from .state import Wallet

_FT = messages.FailureType
Refusal = list[protobuf.MessageType] | None


@dataclass(frozen=True)
class ShareScreens:
    """How a model shows words and quizzes them: its layout and its RNG."""

    layout: Layout
    rng: random.Random

    def show(self, words: str, share_count: int) -> Generator[Prompt, Answer, Refusal]:
        """One share's screens, then the quiz: one word from each third of the share."""
        word_list = words.split()
        for prompt in screens.share_words(self.layout, word_list):
            if not (yield prompt):
                return core_cancelled()
        third = len(word_list) // 3
        for start, end in ((0, third), (third, 2 * third), (2 * third, len(word_list))):
            position = self.rng.randrange(start, end) + 1
            quiz = screens.quiz_word(self.layout, position, len(word_list))
            # A wrong word is not accepted: the quiz asks the same position again.
            while (typed := (yield quiz)) != word_list[position - 1]:
                if typed is None:
                    return core_cancelled()
        for prompt in screens.share_checked(self.layout, share_count):
            if not (yield prompt):
                return core_cancelled()
        return None


def backup(msg: messages.BackupDevice, wallet: Wallet, shares: ShareScreens) -> Flow:
    """BackupDevice: the first backup of a new wallet, or a repeated one when unlocked."""
    refused = yield from unlock(wallet)
    if refused:
        return refused
    if wallet.mnemonic is None:
        return failure(_FT.NotInitialized, "Device is not initialized")
    if wallet.repeated_backup_unlocked:
        return (yield from _repeated_backup(msg, wallet, shares))
    if not wallet.needs_backup:
        return failure(_FT.ProcessError, "Seed already backed up")
    refused = yield from show_backup(wallet, shares)
    if refused:
        return refused
    yield screens.backup_done()
    return success("Seed successfully backed up")


def show_backup(wallet: Wallet, shares: ShareScreens) -> Generator[Prompt, Answer, Refusal]:
    """Intro, warning, the words and their quiz; `needs_backup` ends as it starts."""
    assert wallet.mnemonic is not None
    wallet.needs_backup = False
    wallet.unfinished_backup = True
    for prompt in (screens.backup_intro(), screens.backup_warning()):
        if not (yield prompt):
            return core_cancelled()
    refused = yield from shares.show(wallet.mnemonic, 1)
    if refused:
        return refused
    wallet.unfinished_backup = False
    return None


def _repeated_backup(msg: messages.BackupDevice, wallet: Wallet, shares: ShareScreens) -> Flow:
    """A new share set for the same secret; the unlock is used up whatever happens."""
    assert wallet.mnemonic is not None
    wallet.repeated_backup_unlocked = False
    for prompt in (
        screens.confirm_repeated_backup(),
        screens.warning_shamir_backup(),
        screens.backup_warning(),
    ):
        if not (yield prompt):
            return core_cancelled()
    groups = [(g.member_threshold, g.member_count) for g in msg.groups] or [(1, 1)]
    share_set = repeated_backup_shares(wallet.mnemonic, msg.group_threshold or 1, groups)
    for share in share_set:
        refused = yield from shares.show(share, len(share_set))
        if refused:
            return refused
    wallet.backup_type = messages.BackupType.Slip39_Basic_Extendable
    yield screens.backup_done()
    return success("Seed successfully backed up")
