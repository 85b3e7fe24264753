"""Mutable device state: the wallet in storage and what DebugLink can read out.

Kept apart from the message handling so that the flows can change the wallet (a
backup clears `needs_backup`, a failed one sets `unfinished_backup`) without knowing
how messages reach them. `Wallet` also carries the two facts core firmware keeps in
RAM (`unlocked`, `repeated_backup_unlocked`): `power_cycle()` drops exactly those.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from trezorlib import messages

from .models import BackupState


@dataclass
class Wallet:
    """What the device's storage holds. `mnemonic is None` means not initialized."""

    device_id: str
    label: str | None
    mnemonic: str | None
    pin: str | None
    needs_backup: bool = False
    unfinished_backup: bool = False
    no_backup: bool = False
    unlocked: bool = True
    safety_checks: messages.SafetyCheckLevel = messages.SafetyCheckLevel.Strict
    backup_type: messages.BackupType = messages.BackupType.Bip39
    passphrase_protection: bool = False
    # Core firmware persists a running recovery (dry run) in storage: it survives
    # Cancel, Initialize and power cycles and is resumed by the next RecoveryDevice.
    recovery_type: messages.RecoveryType | None = None
    # Core RAM flag set by RecoveryDevice(type=UnlockRepeatedBackup).
    repeated_backup_unlocked: bool = False
    # THP (Safe 7): the device secret its static key and credential MACs come from.
    thp_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def initialized(self) -> bool:
        """Whether a seed is stored."""
        return self.mnemonic is not None

    def wipe(self, device_id: str) -> None:
        """Forget everything; a wiped device gets a new device id."""
        self.device_id = device_id
        self.label = self.mnemonic = self.pin = None
        self.needs_backup = self.unfinished_backup = self.no_backup = False
        self.unlocked = True
        self.recovery_type = None
        self.repeated_backup_unlocked = False
        self.safety_checks = messages.SafetyCheckLevel.Strict
        self.backup_type = messages.BackupType.Bip39
        self.passphrase_protection = False
        self.thp_secret = secrets.token_bytes(32)  # every THP credential dies with it

    def power_cycle(self) -> None:
        """Storage stays; RAM goes: a PIN-protected wallet is locked again."""
        self.unlocked = self.pin is None
        self.repeated_backup_unlocked = False

    @classmethod
    def create(
        cls, state: BackupState, *, device_id: str, label: str, mnemonic: str, pin: str | None
    ) -> Wallet:
        """A wallet in one of the backup states the daemon distinguishes."""
        if state is BackupState.BLANK:
            return cls(device_id=device_id, label=label, mnemonic=None, pin=None)
        return cls(
            device_id=device_id,
            label=label,
            mnemonic=mnemonic,
            pin=pin,
            needs_backup=state is BackupState.BACKUP_REQUIRED,
            unfinished_backup=state is BackupState.BACKUP_FAILED,
            no_backup=state is BackupState.NO_BACKUP,
        )


@dataclass
class DebugState:
    """The DebugLinkState fields the flows maintain; stale values stay, as on the device."""

    recovery_word_pos: int = 0
    recovery_fake_word: str = ""
    pin_matrix: str = ""
    reset_word: str = ""
    reset_word_pos: int = 0
    # The matrix screen on display (JSON, see matrix.MatrixScreen.token), else None.
    matrix_token: str | None = None
    # A dry run's result waits for the owner's confirmation (the word fields are stale then).
    result_on_screen: bool = False


class LegacyScreen(StrEnum):
    """A Model One screen that the DebugLinkState fields cannot tell (they stay stale, as on
    the device, whose OLED buffer the simulator does not draw): the simulator's answer in
    `tokens` to DebugLinkGetState(wait_layout=CURRENT_LAYOUT), which the legacy firmware
    ignores, so that `trezor-backup-sim screen` does not show an ended flow as still asking."""

    HOME = "home"
    """No flow runs: the check or backup has ended."""
    RESULT = "result"
    """The result of a backup check, waiting for a press."""
