"""The values the daemon's parts hand each other: a device's status, its backup facts, a
tracked device, an operation's progress and result, a refusal.

Plain data with no I/O and no trezorlib, udev or D-Bus, so that the D-Bus service can show
them without importing the device layer, and the device layer can make them without
importing the bus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from trezor_backup_api.i18n import Sentence, paragraph_english
from trezor_backup_api.vocabulary import BackupState, Outcome, Refusal, Stage

Paragraph = tuple[Sentence, ...]
"""Sentences an owner reads together, in no language yet: `a(ssa{ss})` on the bus. The daemon
composes every owner-facing text as one, and each client translates it (docs/dbus-api.md,
"Languages"); its English rendering (i18n.paragraph_english) is the plain `s` twin.
"""

THP_INTERNAL_MODEL = "T3W1"
"""The Safe 7, the one model that speaks THP and is paired (its pairing lives in the keyring)."""


@dataclass(frozen=True)
class CheckVerdict:
    """The last dry run on this computer that learnt something about the written words: when,
    and whether they restore the wallet (`passed`), are valid words of another wallet
    (`mismatch`) or are no valid recovery seed at all (`invalid_words`). Endings that learnt
    nothing (cancelled, refused, ...) are no verdict (docs/states.md)."""

    when: datetime  # tz-aware UTC
    result: Outcome

    @property
    def passed(self) -> bool:
        """Only a passed check makes a device `verified`; any other verdict `check_failed`."""
        return self.result is Outcome.PASSED


@dataclass(frozen=True)
class BackupFacts:
    """What a device says about its backup, from one read that carried all of it.

    Core firmware leaves these fields out while the device is locked (recorded on 2.10.0,
    e1a-e1d), and a locked device cannot tell "needs a backup", "backed up", "seedless" and
    "backup failed" apart. So the facts are taken only from a read that has every one of
    them, and the daemon keeps the last such read per device_id to show while it is locked.
    """

    no_backup: bool
    unfinished_backup: bool
    backup_required: bool
    extra_backup_unlocked: bool
    """`backup_availability` Required and Available."""
    backup_type: str
    """The BackupType name ("" when the device does not say, as the Model One)."""
    passphrase_protection: bool
    read_at: datetime  # tz-aware UTC


@dataclass(frozen=True)
class DeviceStatus:
    """Everything the daemon publishes about one device, minus where it is connected."""

    state: BackupState
    explanation_text: Paragraph
    next_step_text: Paragraph
    model: str
    internal_model: str
    label: str
    firmware_version: str
    backup_type: str
    dry_run_in_progress: bool
    last_check: CheckVerdict | None
    locked: bool = False
    """The device is PIN-protected and locked now: Unlock() applies."""
    facts: BackupFacts | None = None
    """The backup facts the state was derived from."""
    facts_from_earlier_read: bool = False
    """This read withheld them (a locked core device): `facts` are the last complete read's."""

    @property
    def explanation(self) -> str:
        """What the state means for the owner, in English (`Explanation`)."""
        return paragraph_english(self.explanation_text)

    @property
    def next_step(self) -> str:
        """What the owner should do next, in English (`NextStep`; "" when nothing)."""
        return paragraph_english(self.next_step_text)


@dataclass(frozen=True)
class TrackedDevice:
    """One connected Trezor as the rest of the daemon sees it."""

    id: str
    transport_path: str
    status: DeviceStatus
    operation: str = ""
    """The kind of the operation of ours that runs on the device ("check", "backup",
    "unlock"), else empty."""


@dataclass(frozen=True)
class OperationResult:
    """How an operation ended, with sentences for the owner (never anything they typed)."""

    outcome: Outcome
    text: Paragraph

    @property
    def message(self) -> str:
        """The sentences in English (OperationFinished's `message`, the history's detail)."""
        return paragraph_english(self.text)


@dataclass(frozen=True)
class Progress:
    """A step of a running operation, for the owner to follow."""

    stage: Stage
    text: Sentence

    @property
    def message(self) -> str:
        """The sentence in English (OperationProgress's `message`)."""
        return self.text.english()


class OperationRefused(Exception):
    """An operation request that cannot be honoured, with sentences for the owner: the
    exception's message is their English."""

    def __init__(self, reason: Refusal, *text: Sentence) -> None:
        self.message = paragraph_english(text)
        super().__init__(self.message)
        self.reason = reason
        self.text: Paragraph = text


class DeviceListener(Protocol):
    """Receives every change to the device set, in order, on the event loop."""

    def device_added(self, device: TrackedDevice) -> None: ...

    def device_changed(self, device: TrackedDevice) -> None: ...

    def device_removed(self, device: TrackedDevice) -> None: ...


class AgentUnanswered(Exception):
    """The owner let an agent's question time run out: they are told so, not "cancelled"."""
