"""The daemon's memory of backups and checks, per device_id, in one SQLite file.

What the Trezor cannot tell us (whether the written words were ever checked, and when) lives
here, so it must survive crashes and never take the daemon down: every record is one durable
transaction (WAL, synchronous=FULL), a damaged file is moved aside and a fresh one started, and
a state directory that cannot be written gives `HistoryUnavailable` so the daemon can run on
without history and say so. There is deliberately no field that could hold seed material.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from trezor_backup_api.names import MAX_DEVICE_ID_LENGTH, is_device_id
from trezor_backup_api.vocabulary import OperationKind, Outcome

from ..device_values import BackupFacts, CheckVerdict

log = logging.getLogger(__name__)

DB_NAME = "history.sqlite3"
MAX_DETAIL_LENGTH = 1000

# Primary result codes that mean the file itself is damaged, as opposed to I/O or permissions.
_CORRUPTION_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})

_T = TypeVar("_T")


class HistoryUnavailable(Exception):
    """History cannot be read or written (read-only or missing state dir, newer schema, ...).

    The message is worded for the owner's log; the daemon keeps working without history.
    """


class _DamagedFile(Exception):
    """The file is not a usable SQLite database: set it aside and start again."""


VERDICT_RESULTS = (Outcome.PASSED, Outcome.MISMATCH, Outcome.INVALID_WORDS)
"""The check results that are a verdict on the written words (docs/states.md); a cancelled or
refused check leaves the last verdict standing."""
_ENDINGS = frozenset({Outcome.CANCELLED, Outcome.DISCONNECTED, Outcome.REFUSED, Outcome.ERROR})
RESULTS_BY_KIND: dict[OperationKind, frozenset[Outcome]] = {
    OperationKind.CHECK: frozenset(VERDICT_RESULTS) | _ENDINGS,
    OperationKind.BACKUP: frozenset({Outcome.COMPLETED}) | _ENDINGS,
}
"""The operations the history keeps (checks and backups: an unlock or a pairing says nothing
about the backup), and the outcomes each can have."""


@dataclass(frozen=True)
class KnownDevice:
    """A device read here before: how the owner knows it, when it was last seen, and its
    last check verdict (None: never checked here)."""

    device_id: str
    model: str
    internal_model: str
    label: str
    last_seen: datetime
    last_check: CheckVerdict | None


@dataclass(frozen=True)
class HistoryEvent:
    """One finished check or backup; `detail` is a device or daemon message, never user input."""

    device_id: str
    kind: OperationKind
    result: str
    when: datetime
    detail: str


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            device_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            result TEXT NOT NULL,
            at TEXT NOT NULL,  -- ISO 8601 UTC with microseconds: sorts as text
            detail TEXT NOT NULL
        )
        """
    )
    conn.execute("CREATE INDEX events_by_device ON events (device_id, at, id)")


def _create_v2(conn: sqlite3.Connection) -> None:
    """The last complete (unlocked) read of each device's backup facts: flags, no seed."""
    conn.execute(
        """
        CREATE TABLE backup_facts (
            device_id TEXT PRIMARY KEY,
            no_backup INTEGER NOT NULL,
            unfinished_backup INTEGER NOT NULL,
            backup_required INTEGER NOT NULL,
            backup_type TEXT NOT NULL,
            passphrase_protection INTEGER NOT NULL,
            read_at TEXT NOT NULL
        )
        """
    )


def _create_v3(conn: sqlite3.Connection) -> None:
    """Every device the daemon has read: what names it for the owner, and when it was seen.
    Nothing here comes from the seed; the label is the owner's own name for the device."""
    conn.execute(
        """
        CREATE TABLE known_devices (
            device_id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            internal_model TEXT NOT NULL,
            label TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )
        """
    )


# _MIGRATIONS[n] brings the schema from version n to n + 1; append, never edit.
_MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_v1,
    _create_v2,
    _create_v3,
)
SCHEMA_VERSION = len(_MIGRATIONS)


class HistoryStore:
    """Check and backup events per device, durable once `record` returns."""

    def __init__(self, state_dir: Path) -> None:
        """Open or create `state_dir / history.sqlite3`; raise HistoryUnavailable if we cannot."""
        self._path = state_dir / DB_NAME
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryUnavailable(
                f"cannot create the state directory {state_dir}: {e.strerror or e}"
            ) from e
        self._conn = self._open()
        # Why the last record could not be written ("" once one was): Manager1.HistoryProblem.
        self.problem = ""

    @property
    def path(self) -> Path:
        """The database file, for log lines and `status` output."""
        return self._path

    def record(
        self, device_id: str, kind: OperationKind, result: str, when: datetime, detail: str = ""
    ) -> None:
        """Store one event in its own transaction; it is on disk when this returns."""
        _check_device_id(device_id)
        kind = OperationKind(kind)
        if kind not in RESULTS_BY_KIND:
            raise ValueError(f"history keeps checks and backups, not {kind}")
        if result not in RESULTS_BY_KIND[kind]:
            known = ", ".join(sorted(RESULTS_BY_KIND[kind]))
            raise ValueError(f"unknown {kind} result {result!r}; expected one of: {known}")
        if len(detail) > MAX_DETAIL_LENGTH:
            raise ValueError(f"detail is {len(detail)} characters; at most {MAX_DETAIL_LENGTH}")
        at = _to_db_time(when)

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "INSERT INTO events (device_id, kind, result, at, detail)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (device_id, kind.value, result, at, detail),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            self._run(insert)
        except HistoryUnavailable as error:
            self.problem = str(error)
            raise
        self.problem = ""

    def events(self, device_id: str) -> list[HistoryEvent]:
        """All events of one device, oldest first."""
        _check_device_id(device_id)

        def select(conn: sqlite3.Connection) -> list[HistoryEvent]:
            rows = conn.execute(
                "SELECT kind, result, at, detail FROM events WHERE device_id = ? ORDER BY at, id",
                (device_id,),
            ).fetchall()
            return [
                HistoryEvent(device_id, OperationKind(kind), result, _from_db_time(at), detail)
                for kind, result, at, detail in rows
            ]

        return self._run(select)

    def last_check_verdict(self, device_id: str) -> CheckVerdict | None:
        """The newest check that reached a verdict on the words; a cancelled, refused,
        disconnected or failed run says nothing about them (docs/states.md)."""
        _check_device_id(device_id)

        def select(conn: sqlite3.Connection) -> CheckVerdict | None:
            row = conn.execute(
                "SELECT result, at FROM events WHERE device_id = ? AND kind = ?"
                " AND result IN (?, ?, ?) ORDER BY at DESC, id DESC LIMIT 1",
                (device_id, OperationKind.CHECK.value, *VERDICT_RESULTS),
            ).fetchone()
            if row is None:
                return None
            result, at = row
            return CheckVerdict(when=_from_db_time(at), result=Outcome(result))

        return self._run(select)

    def remember_facts(self, device_id: str, facts: BackupFacts) -> None:
        """Keep the facts of a complete read, to show while the device is locked later.

        An unlocked extra backup is not kept: `Available` lives in the device's RAM and ends
        on any Cancel or power cycle (recorded, e5c-e5e), so a later read must not promise it.
        """
        _check_device_id(device_id)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO backup_facts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    device_id,
                    facts.no_backup,
                    facts.unfinished_backup,
                    facts.backup_required,
                    facts.backup_type,
                    facts.passphrase_protection,
                    _to_db_time(facts.read_at),
                ),
            )

        self._run(upsert)

    def remembered_facts(self, device_id: str) -> BackupFacts | None:
        """The facts of the device's last complete read, or None if it was never read so."""
        _check_device_id(device_id)

        def select(conn: sqlite3.Connection) -> BackupFacts | None:
            row = conn.execute(
                "SELECT no_backup, unfinished_backup, backup_required, backup_type,"
                " passphrase_protection, read_at FROM backup_facts WHERE device_id = ?",
                (device_id,),
            ).fetchone()
            if row is None:
                return None
            no_backup, unfinished, required, backup_type, passphrase, read_at = row
            return BackupFacts(
                no_backup=bool(no_backup),
                unfinished_backup=bool(unfinished),
                backup_required=bool(required),
                extra_backup_unlocked=False,
                backup_type=backup_type,
                passphrase_protection=bool(passphrase),
                read_at=_from_db_time(read_at),
            )

        return self._run(select)

    def remember_device(
        self, device_id: str, model: str, internal_model: str, label: str, seen: datetime
    ) -> None:
        """Record that the device was read now, under this model and label."""
        _check_device_id(device_id)

        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO known_devices VALUES (?, ?, ?, ?, ?)",
                (device_id, model, internal_model, label[:MAX_DETAIL_LENGTH], _to_db_time(seen)),
            )

        self._run(upsert)

    def known_devices(self) -> list[KnownDevice]:
        """Every remembered device, most recently seen first, with its last check verdict."""

        def select(conn: sqlite3.Connection) -> list[tuple[str, str, str, str, str]]:
            return conn.execute(
                "SELECT device_id, model, internal_model, label, last_seen FROM known_devices"
                " ORDER BY last_seen DESC"
            ).fetchall()

        return [
            KnownDevice(device_id, model, internal, label, _from_db_time(seen),
                        self.last_check_verdict(device_id))
            for device_id, model, internal, label, seen in self._run(select)
        ]  # fmt: skip

    def forget(self, device_id: str) -> bool:
        """Remove everything kept about a device (record, facts, events); False if unknown."""
        _check_device_id(device_id)

        def delete(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                removed = 0
                for table in ("known_devices", "backup_facts", "events"):
                    # The table names are ours, not input.
                    removed += conn.execute(
                        f"DELETE FROM {table} WHERE device_id = ?", (device_id,)
                    ).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return removed > 0

        return self._run(delete)

    def close(self) -> None:
        """Close the database; the WAL is checkpointed and removed by SQLite."""
        self._conn.close()

    def _run(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run one operation; a file found damaged mid-use is set aside and the run retried once.

        Retrying on the fresh file keeps the event being recorded, which is worth more than the
        damaged history it replaces.
        """
        try:
            return operation(self._conn)
        except sqlite3.DatabaseError as e:
            damage = _damage(e)
            if damage is None:
                raise HistoryUnavailable(f"cannot use the history file {self._path}: {e}") from e
            self._conn.close()
            self._move_aside(damage)
            self._conn = self._open()
        try:
            return operation(self._conn)
        except sqlite3.DatabaseError as e:
            raise HistoryUnavailable(f"cannot use the history file {self._path}: {e}") from e

    def _open(self) -> sqlite3.Connection:
        """Connect, set aside a damaged file (once), and bring the schema up to date."""
        try:
            return self._connect()
        except _DamagedFile as damage:
            self._move_aside(damage)
        try:
            return self._connect()
        except _DamagedFile as damage:
            raise HistoryUnavailable(
                f"the new history file {self._path} is damaged as well: {damage}"
            ) from damage

    def _connect(self) -> sqlite3.Connection:
        """Open the file and prepare it; raise _DamagedFile or HistoryUnavailable if we cannot.

        quick_check reads every page, so damage is found now rather than in the middle of
        recording a check; it is fast for a file of this size.
        """
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves so each record is exactly
            # one transaction, and PRAGMAs are not wrapped in implicit ones.
            conn = sqlite3.connect(self._path, isolation_level=None)
        except sqlite3.Error as e:
            raise HistoryUnavailable(f"cannot open the history file {self._path}: {e}") from e
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise _DamagedFile(f"integrity check failed: {check[0] if check else 'no answer'}")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is None or str(mode[0]).lower() != "wal":
                log.warning(
                    "History file %s: SQLite refused WAL mode (journal mode %s); "
                    "records are still durable, but slower",
                    self._path,
                    mode[0] if mode else "unknown",
                )
            conn.execute("PRAGMA synchronous=FULL")
            self._migrate(conn)
        except sqlite3.DatabaseError as e:
            conn.close()
            damage = _damage(e)
            if damage is not None:
                raise damage from e
            raise HistoryUnavailable(f"cannot open the history file {self._path}: {e}") from e
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            log.error(
                "History file %s has schema version %d, newer than the %d this version of "
                "trezor-backupd knows; running without history and leaving the file untouched "
                "for the newer version",
                self._path,
                version,
                SCHEMA_VERSION,
            )
            raise HistoryUnavailable(
                f"the history file {self._path} was written by a newer trezor-backupd "
                f"(schema {version}, this one knows {SCHEMA_VERSION})"
            )
        for step in range(version, SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            try:
                _MIGRATIONS[step](conn)
                # PRAGMA does not take parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {step + 1}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            log.info("History file %s: schema version %d", self._path, step + 1)

    def _move_aside(self, reason: _DamagedFile) -> None:
        """Rename the damaged file (and its WAL/SHM, which belong to it) out of the way."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self._path.with_name(f"{DB_NAME}.corrupt-{stamp}")
        counter = 1
        while target.exists():
            target = self._path.with_name(f"{DB_NAME}.corrupt-{stamp}-{counter}")
            counter += 1
        try:
            self._path.rename(target)
            for suffix in ("-wal", "-shm"):
                companion = self._path.with_name(DB_NAME + suffix)
                if companion.exists():
                    companion.rename(target.with_name(target.name + suffix))
        except OSError as e:
            raise HistoryUnavailable(
                f"the history file {self._path} is damaged ({reason}) and could not be moved "
                f"aside: {e.strerror or e}"
            ) from e
        log.warning(
            "History file %s is damaged (%s); moved it to %s and started a new, empty history",
            self._path,
            reason,
            target,
        )


def _damage(error: sqlite3.DatabaseError) -> _DamagedFile | None:
    """A _DamagedFile when SQLite says the file is damaged or not a database, else None.

    Anything else (read-only, disk full, I/O error) is the file being unreachable, which moving
    it aside would not cure and would lose history for.
    """
    code: int | None = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _CORRUPTION_CODES:
        return _DamagedFile(str(error))
    return None


def _check_device_id(device_id: str) -> None:
    if not is_device_id(device_id):
        raise ValueError(
            f"device id {device_id!r} must be 1 to {MAX_DEVICE_ID_LENGTH} letters, digits or '_'"
        )


def _to_db_time(when: datetime) -> str:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("event time must be timezone-aware")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
