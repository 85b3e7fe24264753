"""trezor-backupctl's output formats, from the properties the client hands the renderer.

What the CLI prints when the daemon is not there is tested with the real CLI in
tests/test_ctl_operations.py.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from trezor_backupctl.json_output import (
    device_record,
    event_line,
    iso_utc,
    snake_case,
    status_json,
)
from trezor_backupctl.render import MIN_NEXT_STEP_WIDTH, status_table

PATH = "/io/github/TrezorBackupGuard/devices/AE3C744E355C817510C0EABF"

NEXT_STEP = (
    "Check your backup: start a dry run and enter the words you wrote down, "
    "so you know they restore this wallet."
)


def properties(**overrides: Any) -> dict[str, Any]:
    """A device's Device1 properties as the client hands them to the renderer."""
    props: dict[str, Any] = {
        "Id": "AE3C744E355C817510C0EABF",
        "State": "unverified",
        "Explanation": "The wallet is backed up, but the backup was never checked.",
        "NextStep": NEXT_STEP,
        "Model": "Safe 3",
        "InternalModel": "T2B1",
        "Label": "My Trezor",
        "FirmwareVersion": "2.8.1",
        "BackupType": "Bip39",
        "DryRunInProgress": False,
        "LastCheckTime": 0,
        "LastCheckResult": "",
        "Transport": "webusb:001:1:4",
    }
    props.update(overrides)
    return props


def test_snake_case() -> None:
    assert snake_case("LastCheckTime") == "last_check_time"
    assert snake_case("Id") == "id"
    assert snake_case("DryRunInProgress") == "dry_run_in_progress"
    assert snake_case("USBPath") == "usb_path"


def test_record_of_a_never_checked_device() -> None:
    assert device_record(PATH, properties()) == {
        "id": "AE3C744E355C817510C0EABF",
        "state": "unverified",
        "explanation": "The wallet is backed up, but the backup was never checked.",
        "next_step": NEXT_STEP,
        "model": "Safe 3",
        "internal_model": "T2B1",
        "label": "My Trezor",
        "firmware_version": "2.8.1",
        "backup_type": "Bip39",
        "dry_run_in_progress": False,
        "last_check_time": None,
        "last_check_result": None,
        "transport": "webusb:001:1:4",
        "path": PATH,
    }


def test_record_of_a_checked_device_has_iso_utc_time() -> None:
    record = device_record(PATH, properties(LastCheckTime=1714564800, LastCheckResult="passed"))
    assert record["last_check_time"] == "2024-05-01T12:00:00+00:00"
    assert record["last_check_result"] == "passed"


def test_record_passes_unknown_properties_through_in_snake_case() -> None:
    record = device_record(PATH, properties(PinProtection=True, SerialBlob=b"\x01\xab"))
    assert record["pin_protection"] is True
    assert record["serial_blob"] == "01ab"
    # Known keys first, in documented order; newer ones after them; path last.
    keys = list(record)
    assert keys.index("transport") < keys.index("pin_protection")
    assert keys[-1] == "path"


def test_status_json_and_event_lines_are_json_documents() -> None:
    record = device_record(PATH, properties())
    assert status_json([record]).startswith('{\n  "devices": [')
    line = event_line({"event": "added", "path": PATH, "device": record})
    assert "\n" not in line
    assert line.startswith('{"event": "added", "path": ')


def test_table_without_devices() -> None:
    assert status_table([], 80) == "No Trezor connected."


def test_table_fits_a_wide_terminal_on_one_line_per_device() -> None:
    lines = status_table([device_record(PATH, properties())], 200).splitlines()
    assert lines[0].split() == ["DEVICE", "MODEL", "LABEL", "STATE", "NEXT", "STEP"]
    assert len(lines) == 2
    assert lines[1].startswith("AE3C744E355C817510C0EABF  Safe 3  My Trezor  unverified  Check")
    assert lines[1].endswith("restore this wallet.")


GUIDE = (
    "https://trezor.io/guides/backups-recovery/general-standards/check-wallet-backup-on-model-one"
)


def test_80_columns_give_a_block_per_device_with_nothing_cut() -> None:
    label = "The family savings Trezor in the drawer"
    next_step = f"Check your backup: have your written words at hand. Trezor's guide: {GUIDE}"
    records = [
        device_record(PATH, properties(Label=label, NextStep=next_step)),
        device_record(PATH, properties(Id="at_udp_127_0_0_1_21324", Label="", NextStep="")),
    ]
    lines = status_table(records, 80).splitlines()
    assert lines[:3] == [
        f"AE3C744E355C817510C0EABF  {label}",
        "  model      Safe 3",
        "  state      unverified",
    ]
    # The next step wraps at word boundaries; the URL, longer than the screen, stands whole
    # on a line of its own (the terminal may fold it; copying and clicking still work).
    assert GUIDE in lines
    assert all(len(line) <= 80 for line in lines if line != GUIDE)
    step = [line.strip() for line in lines[3 : lines.index(GUIDE)]]
    assert step[0].startswith("next step  Check")
    assert " ".join(step).removeprefix("next step  ").split() == next_step.split()[:-1]
    assert lines[lines.index(GUIDE) + 1 :] == [
        "",
        "at_udp_127_0_0_1_21324",
        "  model      Safe 3",
        "  state      unverified",
    ]


def test_a_wide_table_keeps_the_url_whole_on_its_own_line() -> None:
    next_step = f"Check your backup. Trezor's guide: {GUIDE}"
    lines = status_table([device_record(PATH, properties(NextStep=next_step))], 200)
    assert lines.splitlines()[2].strip() == GUIDE


def test_a_table_that_would_squeeze_next_step_becomes_blocks() -> None:
    records = [device_record(PATH, properties())]
    fitting = len("AE3C744E355C817510C0EABF  Safe 3  My Trezor  unverified  ") + MIN_NEXT_STEP_WIDTH
    assert status_table(records, fitting).startswith("DEVICE")
    lines = status_table(records, fitting - 1).splitlines()
    assert lines[0] == "AE3C744E355C817510C0EABF  My Trezor"
    assert all(len(line) <= fitting - 1 for line in lines)


def test_table_shows_empty_values_as_dash() -> None:
    lines = status_table([device_record(PATH, properties(Label="", NextStep=""))], 120)
    assert lines.splitlines()[1].split() == [
        "AE3C744E355C817510C0EABF",
        "Safe",
        "3",
        "-",
        "unverified",
        "-",
    ]


@pytest.mark.parametrize("seconds", [0, 1, 1_780_000_000, 2**31 + 5])
def test_json_times_are_iso_8601_utc_as_datetime_writes_them(seconds: int) -> None:
    assert iso_utc(seconds) == datetime.fromtimestamp(seconds, UTC).isoformat()
