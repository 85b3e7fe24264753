"""How urgent a device's state is: the one order in which every view lists Trezors.

The window, the tray menu and `trezor-backupctl status` put the Trezor that needs its owner
most at the top, so an owner reading from the top meets what to do first. Three levels, the
same ones the applet's icon shows: danger (the funds are at risk until the owner acts), then
attention (something to do, or a state that cannot be vouched for), then calm. A state a newer
daemon invents counts as attention, never as calm. Within a level the order below holds (a
failure before a missing backup, a missing backup before a check); equal states by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .device import DeviceRecord
from .vocabulary import BackupState

DANGER_STATES = frozenset(
    {BackupState.BACKUP_FAILED, BackupState.CHECK_FAILED, BackupState.BACKUP_REQUIRED}
)
"""The funds are at risk until the owner acts."""

CALM_STATES = frozenset(
    {
        BackupState.VERIFIED,
        BackupState.NO_BACKUP,
        BackupState.NOT_INITIALIZED,
        BackupState.BUSY,
        BackupState.BOOTLOADER,
    }
)
"""Known states that ask nothing of the owner."""

MOST_URGENT_FIRST: tuple[str, ...] = (
    BackupState.BACKUP_FAILED,
    BackupState.CHECK_FAILED,
    BackupState.BACKUP_REQUIRED,
    BackupState.EXTRA_BACKUP_UNLOCKED,
    BackupState.PAIRING_REQUIRED,
    BackupState.LOCKED,
    BackupState.UNVERIFIED,
    BackupState.CHECK_DUE,
    BackupState.UNKNOWN,
    BackupState.BUSY,
    BackupState.BOOTLOADER,
    BackupState.NOT_INITIALIZED,
    BackupState.VERIFIED,
    BackupState.NO_BACKUP,
)

R = TypeVar("R", bound=DeviceRecord)


def urgency_rank(state: str) -> int:
    """0 for the most urgent state; an unknown state ranks with `unknown` (attention)."""
    if state in MOST_URGENT_FIRST:
        return MOST_URGENT_FIRST.index(state)
    return MOST_URGENT_FIRST.index(BackupState.UNKNOWN)


def most_urgent_first(devices: Iterable[R]) -> list[R]:
    """The devices in the order every view lists them: by urgency, then by name."""
    return sorted(devices, key=lambda device: (urgency_rank(device.state), device.name))
