"""The backup status model: what a Trezor's Features and our check history mean for its owner.

Pure functions, no I/O, so the daemon, the CLI and the tests classify a device the same way.
The state strings are part of the public D-Bus contract (docs/dbus-api.md); the wording of
explanations and next steps is what the CLI, the tray and notifications show. Nothing here
ever sees or mentions seed material: Features carry none, and a verdict is only pass or fail.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta

from trezorlib import messages

from trezor_backup_api.actions import CHECKABLE
from trezor_backup_api.vocabulary import PAIRED_MODEL, BackupState, Outcome

from ..device_values import THP_INTERNAL_MODEL, BackupFacts, CheckVerdict, DeviceStatus


def backup_facts(features: messages.Features, now: datetime) -> BackupFacts | None:
    """The facts of a complete read, or None when the device withheld any of them."""
    if (
        features.no_backup is None
        or features.unfinished_backup is None
        or features.backup_availability is None
    ):
        return None
    availability = features.backup_availability
    return BackupFacts(
        no_backup=features.no_backup,
        unfinished_backup=features.unfinished_backup,
        backup_required=availability == messages.BackupAvailability.Required,
        extra_backup_unlocked=availability == messages.BackupAvailability.Available,
        backup_type=_backup_type_name(features.backup_type),
        passphrase_protection=bool(features.passphrase_protection),
        read_at=now,
    )


_WITHHELD_WHILE_LOCKED = (
    "backup_availability",
    "unfinished_backup",
    "no_backup",
    "backup_type",
    "recovery_status",
    "recovery_type",
    "passphrase_protection",
)
"""The wallet fields a locked core Trezor leaves out of its Features (recorded on 2.10.0,
e1a-e1d; the rest of that block is of no use here)."""


def locked_view(unlocked: messages.Features) -> messages.Features:
    """What a core Trezor read unlocked as `unlocked` reports once locked: the same device,
    its wallet fields withheld.

    A locked Safe 7 answers no new connection at all (THP DEVICE_LOCKED, recorded), so where
    it is known which Trezor that is (the one read paired on the same node, never unplugged
    since) its status is that of a locked core Trezor: the facts of its last unlocked read,
    or `locked`.
    """
    view = copy.copy(unlocked)
    view.pin_protection = True
    view.unlocked = False
    for name in _WITHHELD_WHILE_LOCKED:
        setattr(view, name, None)
    return view


# The Model One leaves internal_model unset and reports model "1"; newer devices report both.
# internal_model wins because it tells the hardware apart even when the marketing name is new.
_MODEL_BY_INTERNAL = {
    "T1B1": "One",
    "T2T1": "T",
    "T2B1": "Safe 3",
    "T3B1": "Safe 3",
    "T3T1": "Safe 5",
    THP_INTERNAL_MODEL: PAIRED_MODEL,
}
_MODEL_BY_NAME = {
    "1": "One",
    "T": "T",
    "Safe 3": "Safe 3",
    "Safe 5": "Safe 5",
    PAIRED_MODEL: PAIRED_MODEL,
}
UNKNOWN_MODEL = "Unknown"

_GUIDES = "https://trezor.io/guides/backups-recovery/general-standards/"
CHECK_GUIDE_BY_MODEL = {
    "One": _GUIDES + "check-wallet-backup-on-model-one",
    "T": _GUIDES + "check-wallet-backup-on-model-t",
    "Safe 3": _GUIDES + "check-backup-on-trezor-safe-3",
    "Safe 5": _GUIDES + "check-backup-on-trezor-safe-5",
    "Safe 7": _GUIDES + "check-backup-on-trezor-safe-7",
}
"""Trezor's own guide to the backup check, per model: the addresses Trezor Suite links."""

_CHECK_NEXT_STEP = (
    "Check your backup: have your written recovery words at hand, start a backup check "
    "and follow the Trezor's screen."
)
_DRY_RUN_NEXT_STEP = (
    "A backup check is waiting on the Trezor: resume it here (start the backup check again "
    "and it continues where it stopped), or finish it on the Trezor, which then shows the "
    "result only on its own screen; reconnect it afterwards to clear this message."
)
_SINGLE_SHARE_NOTE = (
    " Its backup is a single share (SLIP-39); a multi-share backup can be made later "
    "in Trezor Suite."
)
_PASSPHRASE_NOTE = (
    " The check covers the recovery words only: a hidden wallet also needs its passphrase."
)


def status_from_features(
    features: messages.Features,
    last_check: CheckVerdict | None,
    now: datetime,
    recheck_interval: timedelta,
    remembered: BackupFacts | None = None,
) -> DeviceStatus:
    """Classify a device from the Features it reported and its last check on this computer.

    The order follows the firmware's meaning of the fields (see product.md): `NotAvailable`
    backup availability means both "backed up" and "backup failed", so `unfinished_backup`
    must be looked at before it; bootloader mode carries no wallet fields at all; a device
    busy with another host's long operation (coinjoin) is reported as busy because nothing
    can be done with it until it is free. A field the device left out is never read as
    false: a locked device's state comes from `remembered` (the last complete read of this
    `device_id`) or is `locked`. `last_check` and `remembered` must belong to this device's
    current `device_id` (a wiped device gets a new id, so old facts cannot leak onto a new
    wallet).
    """
    locked = bool(features.pin_protection) and features.unlocked is False
    live = backup_facts(features, now)
    facts = live or remembered
    from_earlier_read = live is None and remembered is not None
    dry_run = (
        features.recovery_status == messages.RecoveryStatus.Recovery
        and features.recovery_type == messages.RecoveryType.DryRun
    )
    model = _model_name(features)
    state, explanation, next_step = _classify(features, facts, last_check, now, recheck_interval)
    if state in CHECKABLE:  # a dry run left running on the device is the next step
        if dry_run:
            next_step = _DRY_RUN_NEXT_STEP
        elif state in (BackupState.UNVERIFIED, BackupState.CHECK_DUE) and model in (
            CHECK_GUIDE_BY_MODEL
        ):
            next_step += f" Trezor's guide: {CHECK_GUIDE_BY_MODEL[model]}"
    if from_earlier_read and facts is not None and state not in _STATES_WITHOUT_FACTS:
        day = facts.read_at.date().isoformat()
        explanation += (
            f" (As read on {day} while the Trezor was unlocked; it is locked now and does "
            "not say while locked.)"
        )
    return DeviceStatus(
        state=state,
        explanation=explanation,
        next_step=next_step,
        model=model,
        internal_model=_internal_model(features),
        label=features.label or "",
        firmware_version=_firmware_version(features),
        backup_type=facts.backup_type if facts is not None else "",
        dry_run_in_progress=dry_run,
        last_check=last_check,
        locked=locked,
        facts=facts,
        facts_from_earlier_read=from_earlier_read,
    )


_THP_MODEL = (PAIRED_MODEL, THP_INTERNAL_MODEL)
_THP_NEXT_STEPS = {
    BackupState.PAIRING_REQUIRED: (
        "Pair it once from here (Pair with this computer in the applet, or trezor-backupctl "
        "pair): confirm on the Trezor and type the 6-digit code it shows. After that its "
        "backup status is read without asking you."
    ),
    BackupState.LOCKED: (
        "Unlock it from here (Unlock in the applet, or trezor-backupctl unlock) and enter the "
        "PIN on the Trezor; its backup status is read right after."
    ),
}


def status_without_features(state: BackupState, reason: str) -> DeviceStatus:
    """Status for a device whose Features could not be read (held by another app, no access).

    Only `busy` and `unknown` make sense without Features, and for a Safe 7 (THP, which
    tells nothing before a connection is allowed) `pairing_required` and `locked`; `reason`
    becomes the explanation and must already be worded for the owner.
    """
    if state in _THP_NEXT_STEPS:
        model, internal_model = _THP_MODEL
        next_step = _THP_NEXT_STEPS[state]
    elif state not in (BackupState.BUSY, BackupState.UNKNOWN):
        raise ValueError(f"state {state!s} needs Features; only busy and unknown do not")
    else:
        model, internal_model = UNKNOWN_MODEL, ""
    if state is BackupState.BUSY:
        next_step = (
            "Nothing to do if you are using the Trezor in another app: the status is read "
            "again as soon as that app lets it go. If it stays like this, close other wallet "
            "apps or reconnect the Trezor."
        )
    elif state is BackupState.UNKNOWN:
        next_step = (
            "Reconnect the Trezor. If this keeps happening, update its firmware in "
            "Trezor Suite or report the problem."
        )
    return DeviceStatus(
        state=state,
        explanation=reason,
        next_step=next_step,
        model=model,
        internal_model=internal_model,
        label="",
        firmware_version="",
        backup_type="",
        dry_run_in_progress=False,
        last_check=None,
        locked=state is BackupState.LOCKED,
    )


def status_without_keyring(reason: str) -> DeviceStatus:
    """A Safe 7 read while the desktop's keyring could not be used: no credential could be
    offered, so its "not paired" says nothing about a pairing kept there. It is `unknown`
    (calling it `pairing_required` would send its owner to pair it again and again while
    the keyring stays locked, as after an autologin), and the way out is the keyring.
    """
    model, internal_model = _THP_MODEL
    return replace(
        status_without_features(BackupState.UNKNOWN, reason),
        model=model,
        internal_model=internal_model,
        next_step=(
            "Unlock your desktop's keyring (log in again, or open it in Passwords and Keys or "
            "KWallet Manager; if there is none, trezor-backupctl doctor says how to get one), "
            "then refresh (open the applet's window, or trezor-backupctl status --refresh)."
        ),
    )


# States decided before any backup fact is looked at.
_STATES_WITHOUT_FACTS = frozenset(
    {
        BackupState.BOOTLOADER,
        BackupState.BUSY,
        BackupState.UNKNOWN,
        BackupState.NOT_INITIALIZED,
        BackupState.LOCKED,
        BackupState.PAIRING_REQUIRED,
    }
)


def _classify(
    features: messages.Features,
    facts: BackupFacts | None,
    last_check: CheckVerdict | None,
    now: datetime,
    recheck_interval: timedelta,
) -> tuple[BackupState, str, str]:
    """Return (state, explanation, next step); the order of the tests is the product rule."""
    if features.bootloader_mode:
        if features.firmware_present is False:
            return (
                BackupState.BOOTLOADER,
                "The Trezor is in bootloader mode and has no firmware installed, so it holds "
                "no usable wallet right now.",
                "Install the firmware with Trezor Suite.",
            )
        return (
            BackupState.BOOTLOADER,
            "The Trezor is in bootloader mode, where it shows no wallet information.",
            "Unplug it and plug it in again without touching it, so that it starts normally.",
        )
    if features.busy:
        return (
            BackupState.BUSY,
            "The Trezor is busy with a long task started by another app (for example a "
            "coinjoin), so its backup status cannot be checked right now.",
            "Nothing to do: the status updates by itself once the other app has finished.",
        )
    if features.initialized is None:
        return (
            BackupState.UNKNOWN,
            "The Trezor did not say whether it holds a wallet, so its backup status is unknown.",
            "Update the firmware with Trezor Suite, then reconnect the Trezor.",
        )
    if not features.initialized:
        return (
            BackupState.NOT_INITIALIZED,
            "This Trezor has no wallet yet, so there is nothing to back up.",
            "Set up a wallet with Trezor Suite. The Trezor shows the recovery words on its "
            "own screen: write them down on paper, in order.",
        )
    if facts is None and not (features.pin_protection and features.unlocked is False):
        return (
            BackupState.UNKNOWN,
            "The Trezor did not report whether its wallet is backed up, so its backup status "
            "is unknown.",
            "Update the firmware with Trezor Suite, then reconnect the Trezor.",
        )
    if facts is None:
        return (
            BackupState.LOCKED,
            "This Trezor is locked with its PIN, and a locked Trezor does not tell whether "
            "its wallet is backed up. It has not been read unlocked on this computer yet.",
            "Unlock it from here (Unlock in the applet, or trezor-backupctl unlock): the Trezor "
            "asks for its PIN on its own screen, and its backup status is read right after. "
            "If you unlock it on the Trezor itself, refresh afterwards.",
        )
    if facts.no_backup:
        return (
            BackupState.NO_BACKUP,
            "This wallet was set up without a backup on purpose. If the Trezor is lost, "
            "broken or wiped, its funds cannot be recovered.",
            "",
        )
    if facts.unfinished_backup:
        return (
            BackupState.BACKUP_FAILED,
            "A backup of this wallet was started but not finished. The Trezor will never "
            "show the recovery words again, so this wallet can no longer be backed up.",
            "Send all funds to a wallet that has a checked backup. Then wipe this Trezor, "
            "set it up as a new wallet, create the backup and check it.",
        )
    if facts.extra_backup_unlocked:
        return (
            BackupState.EXTRA_BACKUP_UNLOCKED,
            "An extra (multi-share) backup has been unlocked on this Trezor with your "
            "existing share. It can be created now, and only until the Trezor is unplugged "
            "or restarts.",
            "Create the extra backup now: the Trezor shows each new share on its screen; "
            "write every share down on paper, in order.",
        )
    if facts.backup_required:
        return (
            BackupState.BACKUP_REQUIRED,
            "This wallet has never been backed up. If the Trezor is lost, broken or wiped, "
            "its funds cannot be recovered.",
            "Create the backup now: take your time, find a private place and write down the "
            "recovery words the Trezor shows, on paper only.",
        )
    state, explanation, next_step = _classify_backed_up(last_check, now, recheck_interval)
    if facts.backup_type == messages.BackupType.Slip39_Single_Extendable.name:
        explanation += _SINGLE_SHARE_NOTE
    if state is BackupState.VERIFIED and facts.passphrase_protection:
        explanation += _PASSPHRASE_NOTE
    return state, explanation, next_step


_WORDS_PROBLEM = {
    Outcome.MISMATCH: "the words entered are valid recovery words, but of another wallet",
    Outcome.INVALID_WORDS: (
        "the words entered are not a valid recovery seed (a word is wrong or missing, or the "
        "order is wrong)"
    ),
}
"""What each failed verdict says about the written words: the owner's first clue."""


def _classify_backed_up(
    last_check: CheckVerdict | None, now: datetime, recheck_interval: timedelta
) -> tuple[BackupState, str, str]:
    """The device says the wallet is backed up; only our own dry runs say the words are right."""
    if last_check is None:
        return (
            BackupState.UNVERIFIED,
            "The Trezor says this wallet is backed up, but the written words have never been "
            "checked on this computer.",
            _CHECK_NEXT_STEP,
        )
    day = last_check.when.date().isoformat()
    if not last_check.passed:
        return (
            BackupState.CHECK_FAILED,
            f"The backup check on {day} found that {_WORDS_PROBLEM[last_check.result]}, so "
            "they do not restore this wallet. Do not send any funds to it.",
            "Check again, entering the words slowly and in order. If it fails again, send "
            "the funds to a new wallet with a new, checked backup while this Trezor still works.",
        )
    due = last_check.when + recheck_interval
    if now - last_check.when > recheck_interval:
        return (
            BackupState.CHECK_DUE,
            f"Your backup last passed a check on {day}, more than {recheck_interval.days} "
            "days ago.",
            "Check your backup again to make sure the written words are still complete and "
            "readable. " + _CHECK_NEXT_STEP,
        )
    return (
        BackupState.VERIFIED,
        f"Your written backup passed the check on {day}. The next check is due after "
        f"{due.date().isoformat()}.",
        "",
    )


def _model_name(features: messages.Features) -> str:
    """The owner-facing model name; internal_model first as it names the hardware exactly."""
    by_internal = _MODEL_BY_INTERNAL.get(features.internal_model or "")
    if by_internal is not None:
        return by_internal
    return _MODEL_BY_NAME.get(features.model or "", UNKNOWN_MODEL)


def _internal_model(features: messages.Features) -> str:
    """The Model One does not report internal_model, but "1" can only be a T1B1."""
    if features.model == "1":
        return "T1B1"
    return features.internal_model or ""


def _firmware_version(features: messages.Features) -> str:
    """In bootloader mode major/minor/patch are the bootloader's; fw_* name the firmware."""
    if features.bootloader_mode:
        if features.fw_major is None or features.fw_minor is None or features.fw_patch is None:
            return ""
        return f"{features.fw_major}.{features.fw_minor}.{features.fw_patch}"
    return f"{features.major_version}.{features.minor_version}.{features.patch_version}"


def _backup_type_name(backup_type: messages.BackupType | int | None) -> str:
    """The enum name, keeping a number a newer firmware may send rather than failing."""
    if backup_type is None:
        return ""
    try:
        return messages.BackupType(backup_type).name
    except ValueError:
        return f"BackupType{int(backup_type)}"
