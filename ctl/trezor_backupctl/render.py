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

MIN_NEXT_STEP_WIDTH = 32
"""Narrower than this, NEXT STEP in a table would read a few words per line: `status`
prints a block per device instead."""
_COLUMN_GAP = "  "
_EMPTY_CELL = "-"
_BLOCK_INDENT = " " * len("  next step  ")
_URL = re.compile(r"\S+://\S+")


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


def status_table(records: list[dict[str, Any]], width: int) -> str:
    """The human form of `status`, fitted to a terminal `width` columns wide.

    A table, one line per device, when it fits: nothing shortened, NEXT STEP at least
    MIN_NEXT_STEP_WIDTH wide and wrapped at word boundaries. Otherwise (80 columns, long
    labels) a block per device, since a table squeezed into a narrow terminal cuts labels and
    makes the next step unreadable. A URL is never broken in either form: it is what the owner
    copies or clicks.
    """
    if not records:
        return "No Trezor connected."
    headers = ("DEVICE", "MODEL", "LABEL", "STATE", "NEXT STEP")
    rows = [
        [_cell(r.get(key)) for key in ("id", "model", "label", "state", "next_step")]
        for r in records
    ]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(4)]
    next_width = width - sum(widths) - len(_COLUMN_GAP) * 4
    longest_word = max(len(word) for row in rows for word in row[4].split())
    if next_width < max(MIN_NEXT_STEP_WIDTH, longest_word):
        return "\n\n".join(_status_block(row, width) for row in rows)

    def line(cells: list[str]) -> str:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(cells[:4])]
        return _COLUMN_GAP.join([*padded, cells[4]]).rstrip()

    lines = [line(list(headers))]
    for row in rows:
        wrapped = _wrap(row[4], next_width)
        lines.append(line([*row[:4], wrapped[0]]))
        lines.extend(line(["", "", "", "", more]) for more in wrapped[1:])
    return "\n".join(lines)


def _status_block(row: list[str], width: int) -> str:
    """One device in a narrow terminal: its id (what commands take) and label, then a line
    each for model, state and the next step (if any), wrapped under its own indent. A URL that does
    not fit under the indent gets a line of its own from the first column."""
    device_id, model, label, state, next_step = row
    lines = [device_id if label == _EMPTY_CELL else f"{device_id}  {label}"]
    lines += [f"  model      {model}", f"  state      {state}"]
    room = width - len(_BLOCK_INDENT)
    for number, part in enumerate(_wrap(next_step, room) if next_step != _EMPTY_CELL else []):
        indent = "  next step  " if number == 0 else _BLOCK_INDENT
        lines.append(part if len(part) > room and _URL.fullmatch(part) else indent + part)
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    """Word-boundary wrapping that puts each URL on a line of its own, whole."""
    lines: list[str] = []
    for piece, url in zip(_URL.split(text), [*_URL.findall(text), ""], strict=True):
        lines += textwrap.wrap(piece, width, break_long_words=False, break_on_hyphens=False)
        if url:
            lines.append(url)
    return lines or [_EMPTY_CELL]


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
