"""Every sentence the daemon can say to an owner, for tests that render them (in English here,
in every language in the tests of the catalogues).

Two sources, so that nothing is left out and real arguments are used where it matters:
`composed_sentences()` asks the daemon's own code for what it says (every state's explanation
and next step, every read problem, every refusal of an operation or of forgetting a pairing),
with the arguments it really passes; `marked_msgids()` finds every msgid the daemon's sources
mark with N_ (as xgettext does), and `daemon_sentences()` adds those the code above did not
reach (the steps and endings of an operation on a device), with sample arguments named by
their placeholders.
"""

from __future__ import annotations

import ast
import string
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from trezorlib import messages

from trezor_backup_api.i18n import Sentence
from trezor_backup_api.vocabulary import BackupState, OperationKind, Outcome, Refusal
from trezor_backupd.device import status
from trezor_backupd.device.device_io import FeaturesReadError, ReadProblem
from trezor_backupd.device.operations import _require_allowed
from trezor_backupd.device.pairing_memory import no_pairing_to_forget
from trezor_backupd.device_values import BackupFacts, CheckVerdict, DeviceStatus, OperationRefused
from trezor_backupd.store.thp_credentials import _LOCKED

DAEMON_SOURCES = Path(__file__).resolve().parents[1] / "daemon" / "trezor_backupd"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
INTERVAL = timedelta(days=180)

_SAMPLE_ARGUMENTS = {
    "device_id": "E00000000000000000000005",
    "error": "TimeoutError",
    "model": "Safe 5",
    "path": "/org/example/Agent",
    "reason": "Firmware error",
    "state": "verified",
    "url": status.CHECK_GUIDE_BY_MODEL["T"],
    "count": "180",
}


def placeholders(msgid: str) -> set[str]:
    """The `{names}` a msgid formats."""
    return {name for _, name, _, _ in string.Formatter().parse(msgid) if name}


def sample_arguments(msgid: str) -> dict[str, str]:
    """Arguments for a msgid's placeholders as the daemon fills them: a date for `*date`, a
    number for `*number`, else a value of the kind its name says."""
    args = {}
    for name in placeholders(msgid):
        if name.endswith("date"):
            args[name] = "2026-06-01"
        elif name.endswith("number"):
            args[name] = "3"
        else:
            args[name] = _SAMPLE_ARGUMENTS[name]
    return args


@cache
def marked_msgids() -> frozenset[str]:
    """Every msgid in the daemon's sources: the string literal of each `N_(...)`, and the
    singular of each `plural_sentence(...)` (the msgid a plural sentence is sent under)."""
    found = set()
    for source in DAEMON_SOURCES.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("N_", "plural_sentence")
            ):
                literal = node.args[0]
                assert isinstance(literal, ast.Constant) and isinstance(literal.value, str)
                found.add(literal.value)
    return frozenset(found)


def _features(**fields: Any) -> messages.Features:
    base: dict[str, Any] = {
        "vendor": "trezor.io",
        "major_version": 2,
        "minor_version": 8,
        "patch_version": 0,
        "initialized": True,
        "no_backup": False,
        "unfinished_backup": False,
        "backup_availability": messages.BackupAvailability.NotAvailable,
        "backup_type": messages.BackupType.Bip39,
        "passphrase_protection": False,
        "model": "T",
        "internal_model": "T2T1",
    }
    return messages.Features(**(base | fields))


_FEATURES = [
    _features(bootloader_mode=True, firmware_present=False),
    _features(bootloader_mode=True),
    _features(busy=True),
    _features(initialized=None),
    _features(initialized=False),
    _features(no_backup=None),
    _features(no_backup=True),
    _features(unfinished_backup=True),
    _features(backup_availability=messages.BackupAvailability.Available),
    _features(backup_availability=messages.BackupAvailability.Required),
    _features(backup_type=messages.BackupType.Slip39_Single_Extendable),
    _features(passphrase_protection=True),
    _features(
        recovery_status=messages.RecoveryStatus.Recovery,
        recovery_type=messages.RecoveryType.DryRun,
    ),
]
"""Features that lead to every state and every note the status model adds."""

_CHECKS = [
    None,
    CheckVerdict(NOW - timedelta(days=3), Outcome.PASSED),
    CheckVerdict(NOW - timedelta(days=300), Outcome.PASSED),
    CheckVerdict(NOW - timedelta(days=3), Outcome.MISMATCH),
    CheckVerdict(NOW - timedelta(days=3), Outcome.INVALID_WORDS),
]


def composed_statuses() -> list[DeviceStatus]:
    """A status in every state, with each explanation and next step the model composes."""
    remembered = BackupFacts(False, False, False, False, "Bip39", True, NOW - timedelta(days=9))
    locked = status.locked_view(_features())
    statuses = [
        status.status_from_features(features, check, NOW, INTERVAL)
        for features in _FEATURES
        for check in _CHECKS
    ]
    statuses += [
        status.status_from_features(locked, None, NOW, INTERVAL),
        status.status_from_features(locked, _CHECKS[1], NOW, INTERVAL, remembered),
    ]
    for problem in ReadProblem:
        reason = FeaturesReadError(problem, why=_LOCKED).explanation_text
        statuses += [
            status.status_without_features(state, reason)
            for state in (
                BackupState.BUSY,
                BackupState.UNKNOWN,
                BackupState.PAIRING_REQUIRED,
                BackupState.LOCKED,
            )
        ]
        statuses.append(status.status_without_keyring(reason))
    return statuses


def composed_refusals() -> list[OperationRefused]:
    """Every refusal that depends on a device's state: each operation in each state (of a
    Model T and of a Safe 7), and ForgetPairing on a device with no pairing to forget."""
    refusals = []
    for state in BackupState:
        for model in ("T", "Safe 7", "Unknown"):
            shown = DeviceStatus(state, (), (), model, "", "", "", "", False, None)
            for kind in OperationKind:
                try:
                    _require_allowed(kind, "E00000000000000000000005", shown)
                except OperationRefused as refusal:
                    refusals.append(refusal)
            refusals.append(OperationRefused(Refusal.NOT_POSSIBLE, no_pairing_to_forget(shown)))
    return refusals


def composed_sentences() -> list[Sentence]:
    """What the daemon's code says, with the arguments it passes."""
    sentences = []
    for shown in composed_statuses():
        sentences += [*shown.explanation_text, *shown.next_step_text]
    for refusal in composed_refusals():
        sentences += refusal.text
    return sentences


def daemon_sentences() -> list[Sentence]:
    """Every daemon sentence at least once: the composed ones, then each other marked msgid
    with sample arguments."""
    composed = composed_sentences()
    reached = {sentence.msgid for sentence in composed}
    others = [
        Sentence(msgid, sample_arguments(msgid)) for msgid in sorted(marked_msgids() - reached)
    ]
    return composed + others
