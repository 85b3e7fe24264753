"""The strings of the D-Bus contract that name states, results, kinds and stages.

They are public API (docs/dbus-api.md): the daemon publishes exactly these values, and
`trezor-backupctl status --json` and `watch` print them. Each is a StrEnum, so a member equals
its string and a client compares a received string with a member directly. A client must
still expect a value it does not know (a newer daemon): the record keeps it verbatim.
"""

from enum import StrEnum


class BackupState(StrEnum):
    """The backup state of one connected device (`Device1.State`)."""

    NOT_INITIALIZED = "not_initialized"
    NO_BACKUP = "no_backup"
    BACKUP_FAILED = "backup_failed"
    BACKUP_REQUIRED = "backup_required"
    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    CHECK_FAILED = "check_failed"
    CHECK_DUE = "check_due"
    EXTRA_BACKUP_UNLOCKED = "extra_backup_unlocked"
    LOCKED = "locked"
    PAIRING_REQUIRED = "pairing_required"
    BUSY = "busy"
    BOOTLOADER = "bootloader"
    UNKNOWN = "unknown"


NEEDS_BACKUP = frozenset({BackupState.BACKUP_REQUIRED, BackupState.EXTRA_BACKUP_UNLOCKED})
"""The states in which `StartBackup` creates a backup."""

PAIRED_MODEL = "Safe 7"
"""The `Model` of the Trezor that is paired with a computer once (it speaks THP): the one
that can be `pairing_required`, and whose pairing `ForgetPairing` removes."""


class Outcome(StrEnum):
    """How an operation ended: `result` of `OperationFinished`, `Result` in the history."""

    PASSED = "passed"
    MISMATCH = "mismatch"
    INVALID_WORDS = "invalid_words"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DISCONNECTED = "disconnected"
    REFUSED = "refused"
    ERROR = "error"


class OperationKind(StrEnum):
    """What runs on a device: `Device1.Operation` and `kind` of `OperationFinished`."""

    CHECK = "check"
    BACKUP = "backup"
    UNLOCK = "unlock"
    PAIR = "pair"


class Refusal(StrEnum):
    """Why an operation (or forgetting a pairing) cannot be done now: the short names of the
    daemon's errors."""

    NO_SUCH_DEVICE = "NoSuchDevice"
    BUSY = "Busy"
    NO_AGENT = "NoAgent"
    NOT_POSSIBLE = "NotPossible"
    NO_OPERATION = "NoOperation"
    NO_SECRET_SERVICE = "NoSecretService"
    """The desktop's keyring, where Safe 7 pairings are kept, cannot be used now."""


class Stage(StrEnum):
    """A step of a running operation: `stage` of `OperationProgress`."""

    STARTED = "started"
    CONFIRM = "confirm"
    INTRO = "intro"
    WARNING = "warning"
    WORD_COUNT = "word_count"
    ENTER_WORDS = "enter_words"
    WORD_ENTRY = "word_entry"
    PIN = "pin"
    SHOW_WORDS = "show_words"
    WORD_CHECK = "word_check"
    RESULT = "result"
    PAIRING_CODE = "pairing_code"


class WordKind(StrEnum):
    """The `kind` of `Agent1.RequestWord`: a typed word, or a position on a 3x3 or 3x2 grid."""

    PLAIN = "plain"
    MATRIX9 = "matrix9"
    MATRIX6 = "matrix6"
