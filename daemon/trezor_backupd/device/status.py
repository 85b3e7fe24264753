"""The backup status model: what a Trezor's Features and our check history mean for its owner.

Pure functions, no I/O, so the daemon, the CLI and the tests classify a device the same way.
The state strings are part of the public D-Bus contract (docs/dbus-api.md); the wording of
explanations and next steps is what the CLI, the tray and notifications show, each in its own
language: so they are composed here as sentences (i18n.Sentence, English msgids marked with
N_ for the catalogue, dates and addresses as arguments), never as finished text. Nothing here
ever sees or mentions seed material: Features carry none, and a verdict is only pass or fail.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime, timedelta

from trezorlib import messages

from trezor_backup_api.actions import CHECKABLE
from trezor_backup_api.i18n import N_, Sentence, plural_sentence
from trezor_backup_api.vocabulary import PAIRED_MODEL, BackupState, Outcome

from ..device_values import (
    THP_INTERNAL_MODEL,
    BackupFacts,
    CheckVerdict,
    DeviceStatus,
    Paragraph,
)


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

_CHECK_NEXT_STEP = Sentence(
    N_(
        "Check your backup: have your written recovery words at hand, start a backup check "
        "and follow the Trezor's screen."
    )
)
_DRY_RUN_NEXT_STEP = Sentence(
    N_(
        "A backup check is waiting on the Trezor: resume it here (start the backup check "
        "again and it continues where it stopped), or finish it on the Trezor, which then "
        "shows the result only on its own screen; reconnect it afterwards to clear this "
        "message."
    )
)
_SINGLE_SHARE_NOTE = Sentence(
    N_(
        "Its backup is a single share (SLIP-39); a multi-share backup can be made later "
        "in Trezor Suite."
    )
)
_PASSPHRASE_NOTE = Sentence(
    N_("The check covers the recovery words only: a hidden wallet also needs its passphrase.")
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
            next_step = (_DRY_RUN_NEXT_STEP,)
        elif state in (BackupState.UNVERIFIED, BackupState.CHECK_DUE) and model in (
            CHECK_GUIDE_BY_MODEL
        ):
            guide = Sentence(N_("Trezor's guide: {url}"), {"url": CHECK_GUIDE_BY_MODEL[model]})
            next_step += (guide,)
    if from_earlier_read and facts is not None and state not in _STATES_WITHOUT_FACTS:
        explanation += (
            Sentence(
                N_(
                    "(As read on {read_date} while the Trezor was unlocked; it is locked now "
                    "and does not say while locked.)"
                ),
                {"read_date": facts.read_at.date().isoformat()},
            ),
        )
    return DeviceStatus(
        state=state,
        explanation_text=explanation,
        next_step_text=next_step,
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
_NEXT_STEPS_WITHOUT_FEATURES = {
    BackupState.PAIRING_REQUIRED: Sentence(
        N_(
            "Pair it once from here (Pair with this computer in the applet, or "
            "trezor-backupctl pair): confirm on the Trezor and type the 6-digit code it "
            "shows. After that its backup status is read without asking you."
        )
    ),
    BackupState.LOCKED: Sentence(
        N_(
            "Unlock it from here (Unlock in the applet, or trezor-backupctl unlock) and enter "
            "the PIN on the Trezor; its backup status is read right after."
        )
    ),
    BackupState.BUSY: Sentence(
        N_(
            "Nothing to do if you are using the Trezor in another app: the status is read "
            "again as soon as that app lets it go. If it stays like this, close other wallet "
            "apps or reconnect the Trezor."
        )
    ),
    BackupState.UNKNOWN: Sentence(
        N_(
            "Reconnect the Trezor. If this keeps happening, update its firmware in "
            "Trezor Suite or report the problem."
        )
    ),
}
"""The states a device can be in without Features, and what its owner does about each."""


def status_without_features(state: BackupState, reason: Paragraph) -> DeviceStatus:
    """Status for a device whose Features could not be read (held by another app, no access).

    Only `busy` and `unknown` make sense without Features, and for a Safe 7 (THP, which
    tells nothing before a connection is allowed) `pairing_required` and `locked`; `reason`
    becomes the explanation and must already be worded for the owner.
    """
    if state not in _NEXT_STEPS_WITHOUT_FEATURES:
        raise ValueError(f"state {state!s} needs Features; only busy and unknown do not")
    if state in (BackupState.BUSY, BackupState.UNKNOWN):
        model, internal_model = UNKNOWN_MODEL, ""
    else:
        model, internal_model = _THP_MODEL
    return DeviceStatus(
        state=state,
        explanation_text=reason,
        next_step_text=(_NEXT_STEPS_WITHOUT_FEATURES[state],),
        model=model,
        internal_model=internal_model,
        label="",
        firmware_version="",
        backup_type="",
        dry_run_in_progress=False,
        last_check=None,
        locked=state is BackupState.LOCKED,
    )


def status_without_keyring(reason: Paragraph) -> DeviceStatus:
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
        next_step_text=(
            Sentence(
                N_(
                    "Unlock your desktop's keyring (log in again, or open it in Passwords and "
                    "Keys or KWallet Manager; if there is none, trezor-backupctl doctor says "
                    "how to get one), then refresh (open the applet's window, or "
                    "trezor-backupctl status --refresh)."
                )
            ),
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


_Told = tuple[BackupState, Paragraph, Paragraph]
"""A state, its explanation and its next step."""


def _told(state: BackupState, explanation: str, next_step: str) -> _Told:
    """A state told in one sentence and done in one, neither with arguments (msgids the
    caller marks with N_); an empty next step is none."""
    return state, (Sentence(explanation),), (Sentence(next_step),) if next_step else ()


def _classify(
    features: messages.Features,
    facts: BackupFacts | None,
    last_check: CheckVerdict | None,
    now: datetime,
    recheck_interval: timedelta,
) -> _Told:
    """Return (state, explanation, next step); the order of the tests is the product rule."""
    if features.bootloader_mode:
        if features.firmware_present is False:
            return _told(
                BackupState.BOOTLOADER,
                N_(
                    "The Trezor is in bootloader mode and has no firmware installed, so it "
                    "holds no usable wallet right now."
                ),
                N_("Install the firmware with Trezor Suite."),
            )
        return _told(
            BackupState.BOOTLOADER,
            N_("The Trezor is in bootloader mode, where it shows no wallet information."),
            N_("Unplug it and plug it in again without touching it, so that it starts normally."),
        )
    if features.busy:
        return _told(
            BackupState.BUSY,
            N_(
                "The Trezor is busy with a long task started by another app (for example a "
                "coinjoin), so its backup status cannot be checked right now."
            ),
            N_("Nothing to do: the status updates by itself once the other app has finished."),
        )
    if features.initialized is None:
        return _told(
            BackupState.UNKNOWN,
            N_(
                "The Trezor did not say whether it holds a wallet, so its backup status is unknown."
            ),
            N_("Update the firmware with Trezor Suite, then reconnect the Trezor."),
        )
    if not features.initialized:
        return _told(
            BackupState.NOT_INITIALIZED,
            N_("This Trezor has no wallet yet, so there is nothing to back up."),
            N_(
                "Set up a wallet with Trezor Suite. The Trezor shows the recovery words on "
                "its own screen: write them down on paper, in order."
            ),
        )
    if facts is None and not (features.pin_protection and features.unlocked is False):
        return _told(
            BackupState.UNKNOWN,
            N_(
                "The Trezor did not report whether its wallet is backed up, so its backup "
                "status is unknown."
            ),
            N_("Update the firmware with Trezor Suite, then reconnect the Trezor."),
        )
    if facts is None:
        return _told(
            BackupState.LOCKED,
            N_(
                "This Trezor is locked with its PIN, and a locked Trezor does not tell whether "
                "its wallet is backed up. It has not been read unlocked on this computer yet."
            ),
            N_(
                "Unlock it from here (Unlock in the applet, or trezor-backupctl unlock): the "
                "Trezor asks for its PIN on its own screen, and its backup status is read "
                "right after. If you unlock it on the Trezor itself, refresh afterwards."
            ),
        )
    if facts.no_backup:
        return _told(
            BackupState.NO_BACKUP,
            N_(
                "This wallet was set up without a backup on purpose. If the Trezor is lost, "
                "broken or wiped, its funds cannot be recovered."
            ),
            "",
        )
    if facts.unfinished_backup:
        return _told(
            BackupState.BACKUP_FAILED,
            N_(
                "A backup of this wallet was started but not finished. The Trezor will never "
                "show the recovery words again, so this wallet can no longer be backed up."
            ),
            N_(
                "Send all funds to a wallet that has a checked backup. Then wipe this Trezor, "
                "set it up as a new wallet, create the backup and check it."
            ),
        )
    if facts.extra_backup_unlocked:
        return _told(
            BackupState.EXTRA_BACKUP_UNLOCKED,
            N_(
                "An extra (multi-share) backup has been unlocked on this Trezor with your "
                "existing share. It can be created now, and only until the Trezor is "
                "unplugged or restarts."
            ),
            N_(
                "Create the extra backup now: the Trezor shows each new share on its screen; "
                "write every share down on paper, in order."
            ),
        )
    if facts.backup_required:
        return _told(
            BackupState.BACKUP_REQUIRED,
            N_(
                "This wallet has never been backed up. If the Trezor is lost, broken or "
                "wiped, its funds cannot be recovered."
            ),
            N_(
                "Create the backup now: take your time, find a private place and write down "
                "the recovery words the Trezor shows, on paper only."
            ),
        )
    state, explanation, next_step = _classify_backed_up(last_check, now, recheck_interval)
    if facts.backup_type == messages.BackupType.Slip39_Single_Extendable.name:
        explanation += (_SINGLE_SHARE_NOTE,)
    if state is BackupState.VERIFIED and facts.passphrase_protection:
        explanation += (_PASSPHRASE_NOTE,)
    return state, explanation, next_step


_CHECK_FAILED = {
    Outcome.MISMATCH: N_(
        "The backup check on {check_date} found that the words entered are valid recovery "
        "words, but of another wallet, so they do not restore this wallet. Do not send any "
        "funds to it."
    ),
    Outcome.INVALID_WORDS: N_(
        "The backup check on {check_date} found that the words entered are not a valid "
        "recovery seed (a word is wrong or missing, or the order is wrong), so they do not "
        "restore this wallet. Do not send any funds to it."
    ),
}
"""What each failed verdict says about the written words: the owner's first clue."""


def _classify_backed_up(
    last_check: CheckVerdict | None, now: datetime, recheck_interval: timedelta
) -> _Told:
    """The device says the wallet is backed up; only our own dry runs say the words are right."""
    if last_check is None:
        return (
            BackupState.UNVERIFIED,
            (
                Sentence(
                    N_(
                        "The Trezor says this wallet is backed up, but the written words have "
                        "never been checked on this computer."
                    )
                ),
            ),
            (_CHECK_NEXT_STEP,),
        )
    check_date = last_check.when.date().isoformat()
    if not last_check.passed:
        return (
            BackupState.CHECK_FAILED,
            (Sentence(_CHECK_FAILED[last_check.result], {"check_date": check_date}),),
            (
                Sentence(
                    N_(
                        "Check again, entering the words slowly and in order. If it fails "
                        "again, send the funds to a new wallet with a new, checked backup "
                        "while this Trezor still works."
                    )
                ),
            ),
        )
    if now - last_check.when > recheck_interval:
        return (
            BackupState.CHECK_DUE,
            (
                plural_sentence(
                    "Your backup last passed a check on {check_date}, more than {count} day ago.",
                    "Your backup last passed a check on {check_date}, more than {count} days ago.",
                    recheck_interval.days,
                    {"check_date": check_date},
                ),
            ),
            (
                Sentence(
                    N_(
                        "Check your backup again to make sure the written words are still "
                        "complete and readable."
                    )
                ),
                _CHECK_NEXT_STEP,
            ),
        )
    return (
        BackupState.VERIFIED,
        (
            Sentence(
                N_(
                    "Your written backup passed the check on {check_date}. The next check is "
                    "due after {due_date}."
                ),
                {
                    "check_date": check_date,
                    "due_date": (last_check.when + recheck_interval).date().isoformat(),
                },
            ),
        ),
        (),
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
