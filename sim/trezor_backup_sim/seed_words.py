"""The words a core wallet is written down as: BIP-39 phrases and SLIP-39 shares.

The simulator keeps the words it showed (`Wallet.mnemonic`; for SLIP-39 the first
single share). A check compares what the words *decode to*, so the single share of
an upgraded (multi-share) wallet still matches, as on the real device.
"""

from __future__ import annotations

import hashlib

import shamir_mnemonic  # type: ignore[import-untyped]  # trezorlib's own dependency
from mnemonic import Mnemonic
from shamir_mnemonic.wordlist import WORDLIST as SLIP39_WORDLIST  # type: ignore[import-untyped]
from trezorlib import messages

ENGLISH = Mnemonic("english")
BIP39_WORD_COUNTS = (12, 18, 24)
SLIP39_WORD_COUNTS = (20, 33)
_SLIP39_WORDS = frozenset(SLIP39_WORDLIST)
_BIP39_WORDS = frozenset(ENGLISH.wordlist)


def is_keyboard_word(word: str, word_count: int) -> bool:
    """Whether the on-device keyboard can complete `word` for a backup of this length."""
    return word in (_SLIP39_WORDS if word_count in SLIP39_WORD_COUNTS else _BIP39_WORDS)


def master_secret(words: str) -> bytes | None:
    """What the words restore, tagged by scheme; None for words that restore nothing."""
    count = len(words.split())
    if count in BIP39_WORD_COUNTS:
        return b"bip39:" + ENGLISH.to_entropy(words) if ENGLISH.check(words) else None
    if count in SLIP39_WORD_COUNTS:
        try:
            secret: bytes = shamir_mnemonic.combine_mnemonics([words])
            return b"slip39:" + secret
        except shamir_mnemonic.MnemonicError:
            return None
    return None


def new_wallet_words(
    backup_type: messages.BackupType, internal_entropy: bytes, host_entropy: bytes, strength: int
) -> str:
    """ResetDevice: the new seed from the device's and the host's entropy, as words."""
    secret = hashlib.sha256(internal_entropy + host_entropy).digest()[: strength // 8]
    if backup_type == messages.BackupType.Bip39:
        return ENGLISH.to_mnemonic(secret)
    share: str = shamir_mnemonic.generate_mnemonics(1, [(1, 1)], secret)[0][0]
    return share


def repeated_backup_shares(
    words: str, group_threshold: int, groups: list[tuple[int, int]]
) -> list[str]:
    """A new SLIP-39 share set for the same master secret (extendable backup)."""
    secret = shamir_mnemonic.combine_mnemonics([words])
    share_sets = shamir_mnemonic.generate_mnemonics(group_threshold, groups, secret)
    return [share for group in share_sets for share in group]
