"""The tables trezor-backupctl prints for people: `status` and `history`, in the owner's
language (`status` passes the next step translated), fitted to the terminal.

Pure functions without D-Bus, so the output formats can be tested without a bus. The rows are
the records of json_output (the daemon's properties under their JSON keys), so a table shows
what `--json` would, in words.
"""

import re
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from trezor_backup_api.i18n import N_, _, date_format

MIN_NEXT_STEP_WIDTH = 32
"""Narrower than this, NEXT STEP in a table would read a few words per line: `status`
prints a block per device instead."""
_COLUMN_GAP = "  "
_EMPTY_CELL = "-"
_STATUS_HEADERS = (N_("DEVICE"), N_("MODEL"), N_("LABEL"), N_("STATE"), N_("NEXT STEP"))
_BLOCK_LABELS = (N_("model"), N_("state"), N_("next step"))
_HISTORY_HEADERS = (N_("TIME"), N_("KIND"), N_("RESULT"), N_("DETAIL"))
_URL = re.compile(r"\S+://\S+")


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
        return _("No Trezor connected.")
    headers = tuple(_(header) for header in _STATUS_HEADERS)
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
    labels = [_(name) for name in _BLOCK_LABELS]
    label_width = max(map(len, labels))
    model_label, state_label, next_label = (f"  {name.ljust(label_width)}  " for name in labels)
    lines = [device_id if label == _EMPTY_CELL else f"{device_id}  {label}"]
    lines += [model_label + model, state_label + state]
    room = width - len(next_label)
    for number, part in enumerate(_wrap(next_step, room) if next_step != _EMPTY_CELL else []):
        indent = next_label if number == 0 else " " * len(next_label)
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


def history_table(device_id: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The human form of `history`: local time, kind, result and detail, oldest first."""
    if not events:
        return _("No check or backup of {device} recorded on this computer.").format(
            device=device_id
        )
    headers = tuple(_(header) for header in _HISTORY_HEADERS)
    time_format = f"{date_format()} %H:%M %Z"
    rows = [
        [
            datetime.fromtimestamp(event.get("Time", 0), UTC).astimezone().strftime(time_format),
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
