"""The history store: durable, recovers from a damaged file, refuses what it must not hold."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from trezor_backup_api.vocabulary import OperationKind, Outcome
from trezor_backupd.device_values import BackupFacts, CheckVerdict
from trezor_backupd.store.history import (
    DB_NAME,
    SCHEMA_VERSION,
    HistoryEvent,
    HistoryStore,
    HistoryUnavailable,
)

DEV = "AE3C744E355C817510C0EABF"
OTHER = "0123456789ABCDEF01234567"
T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[HistoryStore]:
    s = HistoryStore(tmp_path / "state")
    yield s
    s.close()


def fill(store: HistoryStore, count: int) -> None:
    for i in range(count):
        store.record(DEV, OperationKind.CHECK, "passed", T0 + timedelta(minutes=i), "x" * 500)


def corrupt_files(state: Path) -> list[Path]:
    return sorted(state.glob(f"{DB_NAME}.corrupt-*"))


def test_creates_private_dir_and_file(tmp_path: Path) -> None:
    state = tmp_path / "a" / "state"
    HistoryStore(state).close()
    assert (state / DB_NAME).is_file()
    assert state.stat().st_mode & 0o777 == 0o700


def test_wal_full_sync_and_schema_version(store: HistoryStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    finally:
        conn.close()
    # synchronous is per connection: ask the store's own one.
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_record_is_committed_when_it_returns(store: HistoryStore) -> None:
    store.record(DEV, OperationKind.BACKUP, "completed", T0)
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    finally:
        other.close()
    assert not store._conn.in_transaction


def test_events_oldest_first_and_per_device(store: HistoryStore) -> None:
    store.record(DEV, OperationKind.CHECK, "passed", T0 + timedelta(days=2), "second")
    store.record(DEV, OperationKind.BACKUP, "completed", T0, "first")
    store.record(OTHER, OperationKind.CHECK, "mismatch", T0 + timedelta(days=1))
    assert store.events(DEV) == [
        HistoryEvent(DEV, OperationKind.BACKUP, "completed", T0, "first"),
        HistoryEvent(DEV, OperationKind.CHECK, "passed", T0 + timedelta(days=2), "second"),
    ]
    assert [e.result for e in store.events(OTHER)] == ["mismatch"]
    assert store.events("FFFF") == []


def test_times_come_back_in_utc(store: HistoryStore) -> None:
    cest = timezone(timedelta(hours=2))
    store.record(DEV, OperationKind.CHECK, "passed", datetime(2025, 6, 1, 14, 0, 0, 123456, cest))
    (event,) = store.events(DEV)
    assert event.when == datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert event.when.utcoffset() == timedelta(0)


def test_last_check_verdict_ignores_runs_without_verdict(store: HistoryStore) -> None:
    """docs/states.md: a check that learnt nothing about the words leaves the verdict before."""
    assert store.last_check_verdict(DEV) is None
    store.record(DEV, OperationKind.CHECK, "cancelled", T0)
    assert store.last_check_verdict(DEV) is None
    store.record(DEV, OperationKind.CHECK, "passed", T0 + timedelta(days=1))
    store.record(DEV, OperationKind.CHECK, "mismatch", T0 + timedelta(days=2))
    for result in ("disconnected", "refused", "error", "cancelled"):
        store.record(DEV, OperationKind.CHECK, result, T0 + timedelta(days=3))
    store.record(DEV, OperationKind.BACKUP, "completed", T0 + timedelta(days=4))
    assert store.last_check_verdict(DEV) == CheckVerdict(T0 + timedelta(days=2), Outcome.MISMATCH)
    store.record(DEV, OperationKind.CHECK, "passed", T0 + timedelta(days=5))
    assert store.last_check_verdict(DEV) == CheckVerdict(T0 + timedelta(days=5), Outcome.PASSED)
    assert store.last_check_verdict(OTHER) is None


def test_invalid_words_after_a_pass_is_the_verdict(store: HistoryStore) -> None:
    """A wrong word (bad checksum) says the written words do not restore the wallet: the
    pass before it no longer counts."""
    store.record(DEV, OperationKind.CHECK, "passed", T0)
    store.record(DEV, OperationKind.CHECK, "invalid_words", T0 + timedelta(days=1))
    store.record(DEV, OperationKind.CHECK, "cancelled", T0 + timedelta(days=2))
    verdict = store.last_check_verdict(DEV)
    assert verdict == CheckVerdict(T0 + timedelta(days=1), Outcome.INVALID_WORDS)
    assert verdict is not None and not verdict.passed


def test_persists_across_reopen(tmp_path: Path) -> None:
    first = HistoryStore(tmp_path)
    first.record(DEV, OperationKind.CHECK, "passed", T0, "ok")
    first.close()
    second = HistoryStore(tmp_path)
    try:
        assert second.events(DEV) == [HistoryEvent(DEV, OperationKind.CHECK, "passed", T0, "ok")]
        assert second.last_check_verdict(DEV) == CheckVerdict(T0, Outcome.PASSED)
    finally:
        second.close()


@pytest.mark.parametrize(
    ("device_id", "kind", "result", "when", "detail", "message"),
    [
        ("", OperationKind.CHECK, "passed", T0, "", "device id"),
        ("A" * 129, OperationKind.CHECK, "passed", T0, "", "device id"),
        ("AB CD", OperationKind.CHECK, "passed", T0, "", "device id"),
        (DEV, OperationKind.CHECK, "seed words", T0, "", "unknown check result"),
        (DEV, OperationKind.CHECK, "completed", T0, "", "unknown check result"),
        (DEV, OperationKind.BACKUP, "passed", T0, "", "unknown backup result"),
        (DEV, OperationKind.CHECK, "passed", datetime(2025, 1, 1), "", "timezone-aware"),
        (DEV, OperationKind.CHECK, "error", T0, "x" * 1001, "at most 1000"),
    ],
)
def test_rejects_bad_input(
    store: HistoryStore,
    device_id: str,
    kind: OperationKind,
    result: str,
    when: datetime,
    detail: str,
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        store.record(device_id, kind, result, when, detail)
    assert store.events(DEV) == []


def test_accepts_the_longest_device_id(store: HistoryStore) -> None:
    long_id = "at_" + "a" * 125
    store.record(long_id, OperationKind.CHECK, "refused", T0)
    assert len(store.events(long_id)) == 1


def test_garbage_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    garbage = b"this is not a database at all\n" * 200
    (tmp_path / DB_NAME).write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="trezor_backupd.store.history"):
        store = HistoryStore(tmp_path)
    try:
        (aside,) = corrupt_files(tmp_path)
        assert aside.read_bytes() == garbage
        assert str(tmp_path / DB_NAME) in caplog.text
        assert str(aside) in caplog.text
        store.record(DEV, OperationKind.CHECK, "passed", T0)
        assert len(store.events(DEV)) == 1
    finally:
        store.close()


def test_truncated_file_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = HistoryStore(tmp_path)
    fill(store, 200)
    store.close()
    db = tmp_path / DB_NAME
    assert not (tmp_path / f"{DB_NAME}-wal").exists()  # checkpointed: all data in the main file
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="trezor_backupd.store.history"):
        reopened = HistoryStore(tmp_path)
    try:
        (aside,) = corrupt_files(tmp_path)
        assert aside.stat().st_size == len(data) // 2
        assert "moved it to" in caplog.text and str(aside) in caplog.text
        assert reopened.events(DEV) == []
        reopened.record(DEV, OperationKind.CHECK, "mismatch", T0)
        assert reopened.last_check_verdict(DEV) == CheckVerdict(T0, Outcome.MISMATCH)
    finally:
        reopened.close()


def test_damaged_pages_are_found_at_open(tmp_path: Path) -> None:
    """A file whose header is fine but whose data pages are not must not wait to be used."""
    store = HistoryStore(tmp_path)
    fill(store, 200)
    store.close()
    db = tmp_path / DB_NAME
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff" * (size // 2))
    reopened = HistoryStore(tmp_path)
    try:
        assert len(corrupt_files(tmp_path)) == 1
        assert reopened.events(DEV) == []
    finally:
        reopened.close()


def test_damage_found_during_use_is_moved_aside_and_the_record_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = HistoryStore(tmp_path)
    try:
        fill(store, 200)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store._conn.execute("PRAGMA shrink_memory")  # drop cached pages: read from disk again
        db = tmp_path / DB_NAME
        page_size = store._conn.execute("PRAGMA page_size").fetchone()[0]
        size = db.stat().st_size
        # Overwrite every page but the header behind SQLite's back, as a failing disk would.
        with db.open("r+b") as f:
            f.seek(page_size)
            f.write(b"\xff" * (size - page_size))
        with caplog.at_level(logging.WARNING, logger="trezor_backupd.store.history"):
            store.record(DEV, OperationKind.BACKUP, "completed", T0)
        assert len(corrupt_files(tmp_path)) == 1
        assert "is damaged" in caplog.text
        assert store.events(DEV) == [HistoryEvent(DEV, OperationKind.BACKUP, "completed", T0, "")]
    finally:
        store.close()


def test_two_damaged_files_in_one_second_are_both_kept(tmp_path: Path) -> None:
    for _ in range(2):
        (tmp_path / DB_NAME).write_bytes(b"garbage" * 100)
        HistoryStore(tmp_path).close()
    assert len(corrupt_files(tmp_path)) == 2


def test_state_dir_under_a_file_is_unavailable(tmp_path: Path) -> None:
    """A path under a regular file cannot be written even by root, like a read-only dir."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(HistoryUnavailable, match="cannot create the state directory"):
        HistoryStore(blocker / "state")


def test_database_path_taken_by_a_directory_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).mkdir()
    with pytest.raises(HistoryUnavailable, match="cannot open the history file"):
        HistoryStore(tmp_path)
    assert corrupt_files(tmp_path) == []


def test_newer_schema_is_refused_and_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    HistoryStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with (
        caplog.at_level(logging.ERROR, logger="trezor_backupd.store.history"),
        pytest.raises(HistoryUnavailable, match="newer trezor-backupd"),
    ):
        HistoryStore(tmp_path)
    assert f"schema version {SCHEMA_VERSION + 1}" in caplog.text
    assert corrupt_files(tmp_path) == []
    conn = sqlite3.connect(tmp_path / DB_NAME)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    finally:
        conn.close()


def test_no_column_for_anything_but_the_event(store: HistoryStore) -> None:
    columns = [row[1] for row in store._conn.execute("PRAGMA table_info(events)")]
    assert columns == ["id", "device_id", "kind", "result", "at", "detail"]


def test_backup_facts_are_remembered_per_device_and_survive_a_restart(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    facts = BackupFacts(
        no_backup=False,
        unfinished_backup=False,
        backup_required=True,
        extra_backup_unlocked=False,
        backup_type="Bip39",
        passphrase_protection=True,
        read_at=when,
    )
    store = HistoryStore(tmp_path)
    assert store.remembered_facts("DEV1") is None
    store.remember_facts("DEV1", facts)
    store.close()
    store = HistoryStore(tmp_path)
    assert store.remembered_facts("DEV1") == facts
    assert store.remembered_facts("DEV2") is None
    store.close()


def test_an_unlocked_extra_backup_is_not_remembered(store: HistoryStore) -> None:
    """e5c-e5e: Available ends on any Cancel or power cycle; a later locked read must not
    promise it."""
    facts = BackupFacts(False, False, False, True, "Slip39_Single_Extendable", False,
                        datetime(2026, 1, 2, tzinfo=UTC))  # fmt: skip
    store.remember_facts("DEV1", facts)
    kept = store.remembered_facts("DEV1")
    assert kept is not None
    assert not kept.extra_backup_unlocked


def test_known_devices_are_remembered_with_their_last_verdict_and_forgotten_whole(
    store: HistoryStore,
) -> None:
    store.remember_device(DEV, "T", "T2T1", "Savings", T0)
    store.remember_device("OTHER1", "1", "", "Drawer", T0 + timedelta(days=1))
    store.record(DEV, OperationKind.CHECK, "passed", T0 + timedelta(hours=1))
    store.remember_device(DEV, "T", "T2T1", "Savings 2", T0 + timedelta(days=2))  # relabelled
    known = store.known_devices()
    assert [(k.device_id, k.label, k.last_seen) for k in known] == [
        (DEV, "Savings 2", T0 + timedelta(days=2)),
        ("OTHER1", "Drawer", T0 + timedelta(days=1)),
    ]
    assert known[0].last_check == CheckVerdict(T0 + timedelta(hours=1), Outcome.PASSED)
    assert known[1].last_check is None
    # Forgetting takes the record and the history with it, and only that device's.
    assert store.forget(DEV)
    assert [k.device_id for k in store.known_devices()] == ["OTHER1"]
    assert store.events(DEV) == [] and store.last_check_verdict(DEV) is None
    assert not store.forget(DEV)
