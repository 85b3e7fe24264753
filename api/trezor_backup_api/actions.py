"""Which actions fit a device now: the one rule that the daemon's refusals, the tray menu, the
main window, the notifications and `trezor-backupctl` all ask.

It reads only what the daemon publishes (docs/dbus-api.md, Device1), so a client decides
exactly as the daemon does. Where a view offers fewer (the tray has no "Forget pairing...", a
notification offers one next step), that is the view's choice among what the rule allows;
it never offers more. The daemon's own refusals come first where it knows more than it
publishes (`ForgetPairing` knows whether a pairing is kept; an operation already running is
`Error.Busy`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from .names import names_a_place
from .vocabulary import NEEDS_BACKUP, PAIRED_MODEL, BackupState


class Action(StrEnum):
    """Something the owner can ask for about one device."""

    CHECK = "check"
    """`StartCheck`: a dry-run check of the written words."""
    BACKUP = "backup"
    """`StartBackup`: create the (first, or an unlocked extra) backup."""
    UNLOCK = "unlock"
    """`Unlock`: the PIN, so that the backup state can be read."""
    PAIR = "pair"
    """`Pair`: a Safe 7 learns this computer."""
    CANCEL = "cancel"
    """`Cancel`: end the running operation."""
    WHAT_TO_DO = "what_to_do"
    """Read what a failed backup or check means and what to do about it."""
    FORGET_PAIRING = "forget_pairing"
    """`ForgetPairing`: remove this computer's pairing with a Safe 7 read paired here."""
    FORGET = "forget"
    """`Manager1.ForgetDevice`: forget an unplugged Trezor and its history."""


CHECKABLE = frozenset(
    {BackupState.UNVERIFIED, BackupState.VERIFIED, BackupState.CHECK_DUE, BackupState.CHECK_FAILED}
)
"""The states of a backed-up wallet: a check of its written words fits."""

FAILED = frozenset({BackupState.BACKUP_FAILED, BackupState.CHECK_FAILED})
"""The states whose way out the owner must read first ("What to do...")."""


class DeviceView(Protocol):
    """The published properties the rule reads (a DeviceRecord has them)."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def locked(self) -> bool: ...

    @property
    def operation(self) -> str: ...


def has_pairing_here(device: DeviceView) -> bool:
    """Whether the device is a Safe 7 read paired with this computer, as far as its properties
    tell. A Safe 7 tells its id only over a paired connection, so it is one listed under its
    own id (one under an `at_` id was never read paired since it was plugged in), and not
    `pairing_required` (its pairing forgotten or wiped since) nor `unknown` (the keyring is
    locked: whether it is paired cannot be told). A locked one keeps its pairing."""
    return (
        device.model == PAIRED_MODEL
        and not names_a_place(device.id)
        and device.state not in (BackupState.PAIRING_REQUIRED, BackupState.UNKNOWN)
    )


def allowed_actions(device: DeviceView, *, connected: bool = True) -> frozenset[Action]:
    """The actions that fit `device` now. `connected` is False for a Trezor only remembered
    (`GetKnownDevices`): nothing can be asked of it but to forget it or to read what a
    failure means. While an operation runs, only cancelling it (and reading) fits."""
    allowed: set[Action] = set()
    if device.state in FAILED:
        allowed.add(Action.WHAT_TO_DO)
    if not connected:
        allowed.add(Action.FORGET)
        return frozenset(allowed)
    if device.operation:
        allowed.add(Action.CANCEL)
        return frozenset(allowed)
    if device.state in CHECKABLE:
        allowed.add(Action.CHECK)
    if device.state in NEEDS_BACKUP:
        allowed.add(Action.BACKUP)
    if device.locked:
        allowed.add(Action.UNLOCK)
    if device.state == BackupState.PAIRING_REQUIRED:
        allowed.add(Action.PAIR)
    if has_pairing_here(device):
        allowed.add(Action.FORGET_PAIRING)
    return frozenset(allowed)
