"""The classification rules of product.md, one state and one ordering rule at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from trezorlib import messages

from trezor_backup_api.i18n import Sentence
from trezor_backup_api.vocabulary import BackupState, Outcome
from trezor_backupd.device.status import (
    backup_facts,
    status_from_features,
    status_without_features,
)
from trezor_backupd.device_values import CheckVerdict, DeviceStatus

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(days=180)
Avail = messages.BackupAvailability


def features(**fields: Any) -> messages.Features:
    """A backed-up Safe 3 unless the test says otherwise."""
    base: dict[str, Any] = {
        "vendor": "trezor.io",
        "major_version": 2,
        "minor_version": 8,
        "patch_version": 9,
        "model": "Safe 3",
        "internal_model": "T2B1",
        "initialized": True,
        "no_backup": False,
        "unfinished_backup": False,
        "backup_availability": Avail.NotAvailable,
        "backup_type": messages.BackupType.Bip39,
        "label": "Savings",
        "device_id": "AE3C744E355C817510C0EABF",
    }
    base.update(fields)
    return messages.Features(**base)


WITHHELD: dict[str, Any] = {
    "no_backup": None,
    "unfinished_backup": None,
    "backup_availability": None,
    "backup_type": None,
    "passphrase_protection": None,
}
"""What core firmware leaves out of a locked device's Features (recorded, e1a-e1d)."""


def classify(
    f: messages.Features, last_check: CheckVerdict | None = None, now: datetime = NOW
) -> DeviceStatus:
    return status_from_features(f, last_check, now, INTERVAL)


def passed(days_ago: float) -> CheckVerdict:
    return CheckVerdict(NOW - timedelta(days=days_ago), Outcome.PASSED)


def test_state_strings_are_the_dbus_contract() -> None:
    assert [s.value for s in BackupState] == [
        "not_initialized",
        "no_backup",
        "backup_failed",
        "backup_required",
        "unverified",
        "verified",
        "check_failed",
        "check_due",
        "extra_backup_unlocked",
        "locked",
        "pairing_required",
        "busy",
        "bootloader",
        "unknown",
    ]


@pytest.mark.parametrize(
    ("fields", "last_check", "expected"),
    [
        ({"initialized": False}, None, BackupState.NOT_INITIALIZED),
        ({"no_backup": True}, None, BackupState.NO_BACKUP),
        ({"unfinished_backup": True}, None, BackupState.BACKUP_FAILED),
        ({"backup_availability": Avail.Required}, None, BackupState.BACKUP_REQUIRED),
        ({}, None, BackupState.UNVERIFIED),
        ({"backup_availability": Avail.Available}, None, BackupState.EXTRA_BACKUP_UNLOCKED),
        ({"pin_protection": True, "unlocked": False, **WITHHELD}, None, BackupState.LOCKED),
        ({}, passed(10), BackupState.VERIFIED),
        ({}, CheckVerdict(NOW - timedelta(days=1), Outcome.MISMATCH), BackupState.CHECK_FAILED),
        ({}, passed(200), BackupState.CHECK_DUE),
        ({"busy": True}, None, BackupState.BUSY),
        ({"bootloader_mode": True, "initialized": None}, None, BackupState.BOOTLOADER),
        ({"initialized": None}, None, BackupState.UNKNOWN),
    ],
)
def test_every_state(
    fields: dict[str, Any], last_check: CheckVerdict | None, expected: BackupState
) -> None:
    status = classify(features(**fields), last_check)
    assert status.state is expected
    assert status.explanation
    assert status.last_check == last_check


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # bootloader beats everything: its wallet fields mean nothing
        (
            {"bootloader_mode": True, "unfinished_backup": True, "busy": True},
            BackupState.BOOTLOADER,
        ),
        # NotAvailable means "failed" as well as "backed up": unfinished_backup decides
        (
            {"unfinished_backup": True, "backup_availability": Avail.NotAvailable},
            BackupState.BACKUP_FAILED,
        ),
        (
            {"unfinished_backup": True, "backup_availability": Avail.Required},
            BackupState.BACKUP_FAILED,
        ),
        ({"no_backup": True, "backup_availability": Avail.Required}, BackupState.NO_BACKUP),
        ({"initialized": False, "no_backup": True}, BackupState.NOT_INITIALIZED),
        ({"initialized": False, "busy": True}, BackupState.BUSY),
    ],
)
def test_ordering_rules(fields: dict[str, Any], expected: BackupState) -> None:
    assert classify(features(**fields), passed(1)).state is expected


def test_device_states_beat_our_verdict() -> None:
    """A verdict from the past must not hide that the device now needs a backup."""
    f = features(backup_availability=Avail.Required)
    assert classify(f, passed(1)).state is BackupState.BACKUP_REQUIRED
    f = features(unfinished_backup=True)
    assert classify(f, CheckVerdict(NOW, Outcome.MISMATCH)).state is BackupState.BACKUP_FAILED


def test_check_due_boundary() -> None:
    f = features()
    assert classify(f, passed(180)).state is BackupState.VERIFIED
    just_over = CheckVerdict(NOW - INTERVAL - timedelta(seconds=1), Outcome.PASSED)
    assert classify(f, just_over).state is BackupState.CHECK_DUE
    assert status_from_features(f, passed(31), NOW, timedelta(days=30)).state is (
        BackupState.CHECK_DUE
    )


def test_a_failed_check_stays_failed_however_old() -> None:
    old_failure = CheckVerdict(NOW - timedelta(days=1000), Outcome.MISMATCH)
    assert classify(features(), old_failure).state is BackupState.CHECK_FAILED


def test_verified_mentions_the_date_and_asks_nothing() -> None:
    status = classify(features(), CheckVerdict(datetime(2025, 3, 4, 9, tzinfo=UTC), Outcome.PASSED))
    assert status.state is BackupState.VERIFIED
    assert "2025-03-04" in status.explanation
    assert "2025-08-31" in status.explanation  # next check due
    assert status.next_step == ""


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        (Outcome.MISMATCH, "valid recovery words, but of another wallet"),
        (Outcome.INVALID_WORDS, "not a valid recovery seed"),
    ],
)
def test_a_failed_check_after_a_pass_is_check_failed_naming_the_problem(
    result: Outcome, problem: str
) -> None:
    """docs/states.md: only the latest verdict counts, and the owner learns what was wrong."""
    assert classify(features(), passed(1)).state is BackupState.VERIFIED
    status = classify(features(), CheckVerdict(NOW, result))
    assert status.state is BackupState.CHECK_FAILED
    assert problem in status.explanation
    assert status.last_check is not None and not status.last_check.passed


def test_check_failed_warns_against_sending_funds() -> None:
    status = classify(features(), CheckVerdict(NOW, Outcome.MISMATCH))
    assert "do not restore" in status.explanation
    assert "Do not send any funds" in status.explanation
    assert status.next_step


def test_backup_failed_explains_the_way_out() -> None:
    status = classify(features(unfinished_backup=True))
    assert "never" in status.explanation
    for step in ("funds", "wipe", "set it up", "backup", "check"):
        assert step in status.next_step


@pytest.mark.parametrize(
    "state",
    [BackupState.NOT_INITIALIZED, BackupState.BACKUP_REQUIRED, BackupState.UNVERIFIED],
)
def test_states_that_need_action_say_what_to_do(state: BackupState) -> None:
    fields: dict[str, dict[str, Any]] = {
        BackupState.NOT_INITIALIZED: {"initialized": False},
        BackupState.BACKUP_REQUIRED: {"backup_availability": Avail.Required},
        BackupState.UNVERIFIED: {},
    }
    status = classify(features(**fields[state]))
    assert status.state is state
    assert status.next_step


def test_seedless_gets_no_reminder() -> None:
    status = classify(features(no_backup=True))
    assert status.next_step == ""
    assert "without a backup" in status.explanation


@pytest.mark.parametrize(
    ("model", "internal_model", "name", "internal"),
    [
        ("1", None, "One", "T1B1"),
        ("T", "T2T1", "T", "T2T1"),
        ("T", None, "T", ""),
        ("Safe 3", "T2B1", "Safe 3", "T2B1"),
        ("Safe 3", "T3B1", "Safe 3", "T3B1"),
        ("Safe 5", "T3T1", "Safe 5", "T3T1"),
        ("Safe 7", "T3W1", "Safe 7", "T3W1"),
        ("Something new", "T3T1", "Safe 5", "T3T1"),  # internal_model wins
        ("Something new", "X9Z9", "Unknown", "X9Z9"),
        (None, None, "Unknown", ""),
    ],
)
def test_model_names(
    model: str | None, internal_model: str | None, name: str, internal: str
) -> None:
    status = classify(features(model=model, internal_model=internal_model))
    assert (status.model, status.internal_model) == (name, internal)


def test_model_one_fields() -> None:
    """The Model One leaves internal_model, backup_type and recovery_status unset."""
    f = messages.Features(
        vendor="trezor.io",
        major_version=1,
        minor_version=14,
        patch_version=2,
        model="1",
        initialized=True,
        no_backup=False,
        unfinished_backup=False,
        backup_availability=Avail.NotAvailable,
    )
    status = classify(f)
    assert status.model == "One"
    assert status.internal_model == "T1B1"
    assert status.firmware_version == "1.14.2"
    assert status.backup_type == ""
    assert status.label == ""
    assert status.dry_run_in_progress is False
    assert status.state is BackupState.UNVERIFIED


def test_reported_fields() -> None:
    status = classify(features(backup_type=messages.BackupType.Slip39_Basic))
    assert status.backup_type == "Slip39_Basic"
    assert status.label == "Savings"
    assert status.firmware_version == "2.8.9"


def test_bootloader_reports_the_firmware_version_not_its_own() -> None:
    f = features(bootloader_mode=True, fw_major=2, fw_minor=8, fw_patch=1)
    assert classify(f).firmware_version == "2.8.1"
    assert classify(features(bootloader_mode=True)).firmware_version == ""


def test_bootloader_without_firmware_says_to_install_it() -> None:
    status = classify(features(bootloader_mode=True, firmware_present=False))
    assert status.state is BackupState.BOOTLOADER
    assert "Install the firmware" in status.next_step


def test_dry_run_in_progress() -> None:
    running = features(
        recovery_status=messages.RecoveryStatus.Recovery,
        recovery_type=messages.RecoveryType.DryRun,
    )
    status = classify(running)
    assert status.dry_run_in_progress is True
    assert status.state is BackupState.UNVERIFIED
    assert "waiting on the Trezor: resume it here" in status.next_step
    assert "finish it on the Trezor" in status.next_step

    normal_recovery = features(
        initialized=False,
        recovery_status=messages.RecoveryStatus.Recovery,
        recovery_type=messages.RecoveryType.NormalRecovery,
    )
    assert classify(normal_recovery).dry_run_in_progress is False
    assert classify(features()).dry_run_in_progress is False


@pytest.mark.parametrize("state", [BackupState.BUSY, BackupState.UNKNOWN])
def test_status_without_features(state: BackupState) -> None:
    reason = "Another app (Trezor Suite?) is using the Trezor."
    status = status_without_features(state, (Sentence(reason),))
    assert status.state is state
    assert status.explanation == reason
    assert status.next_step
    assert status.model == "Unknown"
    assert (status.internal_model, status.firmware_version, status.backup_type) == ("", "", "")
    assert status.last_check is None


def test_status_without_features_refuses_states_that_need_features() -> None:
    with pytest.raises(ValueError, match="needs Features"):
        status_without_features(BackupState.VERIFIED, (Sentence("x"),))


def locked(**fields: Any) -> messages.Features:
    """A PIN-protected core device after LockDevice: the backup fields are withheld."""
    return features(pin_protection=True, unlocked=False, **WITHHELD, **fields)


@pytest.mark.parametrize(
    "unlocked_fields",
    [
        {"backup_availability": Avail.Required},
        {},
        {"no_backup": True},
        {"unfinished_backup": True},
    ],
)
def test_a_locked_read_never_infers_a_backup_state(unlocked_fields: dict[str, Any]) -> None:
    """e1a-e1d: the four states read the same while locked; none may be guessed."""
    status = classify(locked(**{k: v for k, v in unlocked_fields.items() if k not in WITHHELD}))
    assert status.state is BackupState.LOCKED
    assert status.locked
    assert "Unlock" in status.next_step
    assert status.facts is None


def test_a_locked_device_keeps_the_state_read_while_unlocked() -> None:
    read_at = NOW - timedelta(days=3)
    facts = backup_facts(features(backup_availability=Avail.Required), read_at)
    assert facts is not None
    status = status_from_features(locked(), None, NOW, INTERVAL, facts)
    assert status.state is BackupState.BACKUP_REQUIRED
    assert status.facts_from_earlier_read
    assert read_at.date().isoformat() in status.explanation
    assert "locked now" in status.explanation


def test_a_live_complete_read_beats_what_was_remembered() -> None:
    old = backup_facts(features(backup_availability=Avail.Required), NOW)
    status = status_from_features(features(), None, NOW, INTERVAL, old)
    assert status.state is BackupState.UNVERIFIED
    assert not status.facts_from_earlier_read


def test_missing_backup_fields_on_an_unlocked_device_are_unknown_not_backed_up() -> None:
    status = classify(features(**WITHHELD))
    assert status.state is BackupState.UNKNOWN


def test_the_extra_backup_state_says_it_is_lost_on_unplug() -> None:
    status = classify(
        features(
            backup_availability=Avail.Available,
            backup_type=messages.BackupType.Slip39_Single_Extendable,
            recovery_status=messages.RecoveryStatus.Backup,
        )
    )
    assert status.state is BackupState.EXTRA_BACKUP_UNLOCKED
    assert "unplugged" in status.explanation
    assert "Create the extra backup now" in status.next_step


def test_a_single_share_backup_is_named_with_the_multi_share_note() -> None:
    status = classify(features(backup_type=messages.BackupType.Slip39_Single_Extendable))
    assert status.state is BackupState.UNVERIFIED
    assert "single share" in status.explanation
    assert "multi-share backup can be made later in Trezor Suite" in status.explanation


def test_verified_with_passphrase_says_the_check_covered_the_words_only() -> None:
    status = classify(features(passphrase_protection=True), passed(1))
    assert status.state is BackupState.VERIFIED
    assert "passphrase" in status.explanation
    assert "passphrase" not in classify(features(), passed(1)).explanation


@pytest.mark.parametrize(
    ("model_fields", "guide"),
    [
        ({"model": "1", "internal_model": None}, "check-wallet-backup-on-model-one"),
        ({"model": "T", "internal_model": "T2T1"}, "check-wallet-backup-on-model-t"),
        ({"model": "Safe 3", "internal_model": "T3B1"}, "check-backup-on-trezor-safe-3"),
        ({"model": "Safe 5", "internal_model": "T3T1"}, "check-backup-on-trezor-safe-5"),
        ({"model": "Safe 7", "internal_model": "T3W1"}, "check-backup-on-trezor-safe-7"),
    ],
)
def test_the_check_step_links_trezors_own_guide(model_fields: dict[str, Any], guide: str) -> None:
    prefix = "https://trezor.io/guides/backups-recovery/general-standards/"
    for last_check in (None, passed(200)):
        step = classify(features(**model_fields), last_check).next_step
        assert prefix + guide in step
        assert step.count("https://") == 1


def test_no_guide_is_linked_for_a_model_trezor_has_none_for() -> None:
    step = classify(features(model="Safe 9", internal_model="T9Z9")).next_step
    assert "https://" not in step


def test_a_new_wallet_is_told_the_trezor_shows_the_words() -> None:
    step = classify(features(initialized=False)).next_step
    assert "Trezor shows the recovery words" in step
    assert "Suite and write down the recovery words it shows" not in step


def test_a_locked_model_one_still_says_its_backup_state_so_nothing_is_from_earlier() -> None:
    """The Model One reports its backup fields while locked (recorded, 1.14.2)."""
    one = features(model="1", internal_model=None, pin_protection=True, unlocked=False)
    earlier = backup_facts(features(backup_availability=Avail.Required), NOW - timedelta(days=9))
    status = status_from_features(one, None, NOW, INTERVAL, earlier)
    assert (status.state, status.locked) == (BackupState.UNVERIFIED, True)
    assert not status.facts_from_earlier_read
    assert "As read on" not in status.explanation
