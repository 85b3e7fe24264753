"""trezor-backupctl's output formats, from the properties the client hands the renderer.

What the CLI prints when the daemon is not there is tested with the real CLI in
tests/test_ctl_operations.py.
"""

import textwrap
from typing import Any

from trezor_backupctl.render import (
    MIN_NEXT_STEP_WIDTH,
    device_record,
    event_line,
    snake_case,
    status_json,
    status_table,
)

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


def test_table_wraps_next_step_and_truncates_label_at_narrow_width() -> None:
    label = "The family savings Trezor in the drawer"
    lines = status_table([device_record(PATH, properties(Label=label))], 80).splitlines()
    assert all(len(line) <= 80 for line in lines)
    next_step_column = lines[0].index("NEXT STEP")
    assert "  The family savi…  unverified  " in lines[1]
    assert label not in lines[1]
    # Continuation lines leave the other columns blank and keep every word of the next step.
    assert all(line[:next_step_column].isspace() for line in lines[2:])
    assert " ".join(line[next_step_column:] for line in lines[1:]).split() == NEXT_STEP.split()


def test_table_never_squeezes_next_step_below_its_minimum() -> None:
    lines = status_table([device_record(PATH, properties())], 40).splitlines()
    assert len(lines) - 1 == len(textwrap.wrap(NEXT_STEP, MIN_NEXT_STEP_WIDTH))
    assert "AE3C744E355C817510C0EABF" in lines[1]  # the id is never shortened


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
