"""The contract package's vocabulary is the one the daemon speaks and the docs describe."""

from __future__ import annotations

import re
from pathlib import Path

from trezor_backup_api.vocabulary import BackupState, OperationKind, Outcome, Stage

ROOT = Path(__file__).resolve().parents[2]
DEVICE_OPS = ROOT / "daemon" / "trezor_backupd" / "device_ops.py"
DBUS_API = ROOT / "docs" / "dbus-api.md"


def test_every_progress_stage_the_daemon_emits_is_a_stage_of_the_contract() -> None:
    # Progress("stage", ...) or Progress(\n "stage", ...): the first argument, as written.
    emitted = set(re.findall(r'Progress\(\s*"([a-z_]+)"', DEVICE_OPS.read_text()))
    assert emitted, "no Progress(...) found in device_ops.py"
    assert emitted <= {stage.value for stage in Stage}


def test_the_api_page_documents_every_value() -> None:
    page = DBUS_API.read_text()
    for enum in (BackupState, Outcome, OperationKind, Stage):
        missing = [member.value for member in enum if f"`{member.value}`" not in page]
        assert not missing, (enum.__name__, missing)
