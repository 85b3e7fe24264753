"""What the tracker remembers of the Safe 7 on one device node, and what it makes of it.

A Safe 7's pairing lives in the keyring, outside the tracker (thp_credentials); this is the
memory of which Trezor was read paired on a node. A Safe 7 read paired on a node that then
answers "not paired" without being unplugged in between was wiped there (a new identity on a
node that never went away): its pairing is dead and is removed (docs/security.md). The
device, remembered under its old id with its history, is then shown as what it is now:
`pairing_required`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from trezorlib import messages

from trezor_backup_api.i18n import N_, Sentence
from trezor_backup_api.vocabulary import PAIRED_MODEL, BackupState

from ..device_values import THP_INTERNAL_MODEL, DeviceStatus
from .status import UNKNOWN_MODEL, locked_view


@dataclass
class PairingMemory:
    """The Safe 7 read paired on one node, until the node goes away (a new memory then)."""

    paired_id: str | None = None
    """The device_id of the Safe 7 read paired on this node (over THP, with this computer's
    credential), until its pairing is forgotten or it is found wiped."""
    known: messages.Features | None = None
    """The last paired read of the Safe 7 on this node. While it tells nothing (locked since,
    or its pairing forgotten here) it is still this Trezor, the node never having gone away
    and no other program having used it: it keeps its id and name, and locked while still
    paired it keeps the facts of its last unlocked read, as the other core models do. A wipe
    (a new identity), another program letting go of it (which may have wiped it and set up
    a new wallet) or an unplug ends this."""
    forgetting: bool = False
    """Its pairing is being removed from the keyring (ForgetPairing): no operation starts."""

    def read_paired(self, device_id: str, features: messages.Features) -> None:
        """It was read over THP with this computer's credential."""
        self.paired_id = device_id
        self.known = features

    def released_by_another_app(self) -> None:
        """Another program let go of it: it may have wiped the Trezor and set up a new
        wallet, which a locked Trezor would not show. Nothing is assumed of who it is."""
        self.known = None

    def wiped(self) -> str | None:
        """It answered "not paired" with no unplug since: the id whose pairing is now dead,
        or None if it was not read paired here."""
        wiped, self.paired_id = self.paired_id, None
        if wiped is not None:
            self.known = None  # a new identity: not the Trezor read here before
        return wiped

    def pairing_forgotten(self, device_id: str) -> bool:
        """Its pairing under `device_id` left the keyring (ForgetPairing): whether that was
        the pairing it was read with, so that it is now shown not paired here."""
        if self.paired_id != device_id:
            return False
        self.paired_id = None
        return True

    def locked_features(self) -> messages.Features | None:
        """What it says locked while still paired: the facts of its last paired read."""
        if self.known is None or self.paired_id is None:
            return None
        return locked_view(self.known)

    def shown(self, status: DeviceStatus) -> DeviceStatus:
        """A status that tells nothing, under the name of the Safe 7 read paired here (its
        pairing forgotten, or another app holds it)."""
        if self.known is None:
            return status
        return replace(
            status,
            model=PAIRED_MODEL,
            internal_model=THP_INTERNAL_MODEL,
            label=self.known.label or "",
        )


def no_pairing_to_forget(status: DeviceStatus) -> Sentence:
    """Why ForgetPairing has nothing to remove from this device, as the owner sees it."""
    if status.model not in (PAIRED_MODEL, UNKNOWN_MODEL):
        return Sentence(
            N_(
                "Only a Trezor Safe 7 is paired with a computer, and this is a Trezor "
                "{model}: there is no pairing to forget."
            ),
            {"model": status.model},
        )
    if status.state is BackupState.PAIRING_REQUIRED:
        return Sentence(
            N_("This Trezor is not paired with this computer: there is no pairing to forget.")
        )
    if status.state is BackupState.LOCKED:
        return Sentence(
            N_(
                "This Trezor is locked and has not said which Trezor it is since it was "
                "plugged in or last used by another app: unlock it, then forget its pairing."
            )
        )
    if status.state is BackupState.UNKNOWN and status.model == PAIRED_MODEL:
        return Sentence(
            N_(
                "Whether this Trezor is paired here cannot be told while the desktop's keyring "
                "cannot be used: unlock the keyring, refresh, then forget its pairing."
            )
        )
    return Sentence(
        N_(
            "This Trezor has not been read paired with this computer since it was plugged "
            "in: refresh its status, then forget its pairing if it is paired here."
        )
    )
