"""Turning the daemon's device properties into what trezor-backupctl prints.

Pure functions without D-Bus, so the output formats can be tested without a bus. The input is a
device's `Device1` properties as the daemon sent them (`DeviceRecord.properties`: plain Python
values, keyed by their D-Bus names), so what is printed is exactly what the daemon said.
"""

import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from trezor_backup_api.device import PROPERTY_NAMES

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")

# Narrower than this, NEXT STEP would wrap into a word per line and LABEL would no longer be
# recognisable; then an over-long line the terminal wraps is the lesser evil.
MIN_NEXT_STEP_WIDTH = 16
MIN_LABEL_WIDTH = 10
_COLUMN_GAP = "  "
_EMPTY_CELL = "-"


def snake_case(name: str) -> str:
    """`LastCheckTime` -> `last_check_time`, the key style of JSON consumers (jq, Python)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def _json_value(name: str, value: Any) -> Any:
    """Convert the values whose D-Bus encoding has an in-band 'never' into JSON null."""
    if name in ("LastCheckTime", "StateReadTime"):
        if not value:
            return None
        return datetime.fromtimestamp(value, UTC).isoformat()
    if name == "LastCheckResult":
        return value or None
    if isinstance(value, bytes):
        # A future `ay` property: JSON has no bytes, hex is unambiguous and greppable.
        return value.hex()
    return value


def device_record(path: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """One device as printed by `status --json` and `watch`: snake_case keys plus `path`."""
    # Documented properties in their order; those a newer daemon adds after them, so old
    # scripts keep working and new ones see them.
    names = [name for name in PROPERTY_NAMES if name in properties]
    names += sorted(name for name in properties if name not in PROPERTY_NAMES)
    record = {snake_case(name): _json_value(name, properties[name]) for name in names}
    record["path"] = path
    return record


def status_json(records: list[dict[str, Any]]) -> str:
    """The document of `status --json`; an object, not a bare list, so it can grow keys."""
    return json.dumps({"devices": records}, indent=2)


def event_line(event: Mapping[str, Any]) -> str:
    """One `watch` event as a single line of JSON (JSON Lines), for line-reading scripts."""
    return json.dumps(event)


def _cell(value: Any) -> str:
    text = " ".join(str(value).split()) if value not in (None, "") else ""
    return text or _EMPTY_CELL


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def status_table(records: list[dict[str, Any]], width: int) -> str:
    """The human form of `status`, fitted to a terminal `width` columns wide.

    DEVICE, MODEL and STATE are never shortened: the id is what later commands take as argument
    and the state is the point of the table. LABEL is truncated (down to MIN_LABEL_WIDTH) only
    when NEXT STEP would otherwise get narrower than MIN_NEXT_STEP_WIDTH; NEXT STEP wraps onto
    continuation lines.
    """
    if not records:
        return "No Trezor connected."
    headers = ("DEVICE", "MODEL", "LABEL", "STATE", "NEXT STEP")
    rows = [
        [_cell(r.get(key)) for key in ("id", "model", "label", "state", "next_step")]
        for r in records
    ]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(4)]
    gaps = len(_COLUMN_GAP) * 4
    shortfall = MIN_NEXT_STEP_WIDTH - (width - sum(widths) - gaps)
    if shortfall > 0:
        widths[2] = max(min(widths[2], MIN_LABEL_WIDTH), widths[2] - shortfall)
    next_width = max(MIN_NEXT_STEP_WIDTH, width - sum(widths) - gaps)

    def line(cells: list[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:4])]
        return _COLUMN_GAP.join([*padded, cells[4]]).rstrip()

    lines = [line(list(headers))]
    for row in rows:
        row[2] = _truncate(row[2], widths[2])
        wrapped = textwrap.wrap(row[4], next_width) or [_EMPTY_CELL]
        lines.append(line([*row[:4], wrapped[0]]))
        lines.extend(line(["", "", "", "", more]) for more in wrapped[1:])
    return "\n".join(lines)


def history_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """One `Manager1.GetHistory` entry as `history --json` prints it (time in ISO 8601 UTC)."""
    return {
        "kind": event.get("Kind", ""),
        "result": event.get("Result", ""),
        "time": datetime.fromtimestamp(event.get("Time", 0), UTC).isoformat(),
        "detail": event.get("Detail", ""),
    }


def history_json(device_id: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The document of `history --json`: the device id and its events, oldest first."""
    return json.dumps(
        {"device": device_id, "events": [history_record(event) for event in events]}, indent=2
    )


def unpaired_json(device_id: str) -> str:
    """The document of `unpair --json`: the device, no longer paired with this computer."""
    return json.dumps({"device": device_id, "paired": False})


def history_table(device_id: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The human form of `history`: local time, kind, result and detail, oldest first."""
    if not events:
        return f"No check or backup of {device_id} recorded on this computer."
    headers = ("TIME", "KIND", "RESULT", "DETAIL")
    rows = [
        [
            datetime.fromtimestamp(event.get("Time", 0), UTC)
            .astimezone()
            .strftime("%Y-%m-%d %H:%M %Z"),
            _cell(event.get("Kind")),
            _cell(event.get("Result")),
            _cell(event.get("Detail")),
        ]
        for event in events
    ]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]

    def line(cells: list[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:3])]
        return _COLUMN_GAP.join([*padded, cells[3]]).rstrip()

    return "\n".join([line(list(headers)), *(line(row) for row in rows)])
