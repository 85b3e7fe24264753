"""The JSON documents of trezor-backupctl: `status --json`, `watch`, `history --json`,
`unpair --json`.

Scripts read these, so they are the same in every locale: keys, codes and the daemon's own
English; nothing here is translated (and so nothing here imports the catalogue, which keeps
`status --json` quick). The input is a device's `Device1` properties as the daemon sent them
(plain Python values keyed by their D-Bus names), so what is printed is exactly what the
daemon said. Pure functions without D-Bus, testable without a bus.
"""

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from trezor_backup_api.names import PROPERTY_NAMES

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """`LastCheckTime` -> `last_check_time`, the key style of JSON consumers (jq, Python)."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def iso_utc(seconds: int) -> str:
    """A D-Bus time (whole seconds since the epoch) in ISO 8601 UTC, as
    `datetime.isoformat()` writes it (`2026-12-07T09:00:00+00:00`); by `time`, as the
    datetime module alone costs `status` ~3 ms of its start."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def _json_value(name: str, value: Any) -> Any:
    """Convert the values whose D-Bus encoding has an in-band 'never' into JSON null."""
    if name in ("LastCheckTime", "StateReadTime"):
        if not value:
            return None
        return iso_utc(value)
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


def history_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """One `Manager1.GetHistory` entry as `history --json` prints it (time in ISO 8601 UTC)."""
    return {
        "kind": event.get("Kind", ""),
        "result": event.get("Result", ""),
        "time": iso_utc(event.get("Time", 0)),
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
