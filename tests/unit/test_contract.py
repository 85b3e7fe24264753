"""The contract package's vocabulary is the one the daemon speaks and the docs describe."""

from __future__ import annotations

from pathlib import Path

from trezor_backup_api.vocabulary import BackupState, OperationKind, Outcome, Stage

ROOT = Path(__file__).resolve().parents[2]
DBUS_API = ROOT / "docs" / "dbus-api.md"


def test_the_api_page_documents_every_value() -> None:
    page = DBUS_API.read_text()
    for enum in (BackupState, Outcome, OperationKind, Stage):
        missing = [member.value for member in enum if f"`{member.value}`" not in page]
        assert not missing, (enum.__name__, missing)
