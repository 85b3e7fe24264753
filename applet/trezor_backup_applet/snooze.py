""" "Remind me later": per-device snooze times in `$XDG_STATE_HOME/trezor-backup-guard/applet.json`,
which step of the reminder ladder each device was last reminded of (each step once), and which
state its last reminder announced (a restarted applet tells only what changed since).

The config is the owner's policy (written by hand); a snooze is state the applet writes on a
click, so it lives next to the daemon's state, in a file only the applet touches.
A damaged file means "nothing snoozed": a reminder too many is better than a lost one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from trezor_backup_api.paths import state_dir

log = logging.getLogger(__name__)

DAY = 86400
WEEK = 7 * DAY


def snooze_path() -> Path:
    """Where the applet keeps its snooze times."""
    return state_dir() / "applet.json"


class SnoozeStore:
    """Snooze-until times per device id, read once and written on every change."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = snooze_path() if path is None else path
        self._until: dict[str, float] = {}
        self._reminded: dict[str, str] = {}
        self._announced: dict[str, str] = {}
        try:
            data = json.loads(self.path.read_text())
            self._until = {str(k): float(v) for k, v in data.get("snoozed_until", {}).items()}
            self._reminded = {str(k): str(v) for k, v in data.get("reminded", {}).items()}
            self._announced = {str(k): str(v) for k, v in data.get("announced", {}).items()}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, AttributeError, TypeError) as e:
            log.warning("%s cannot be read (%s); nothing is snoozed", self.path, e)

    def snooze(self, device_id: str, seconds: float) -> None:
        """No reminders for this device for `seconds` from now."""
        self._until[device_id] = time.time() + seconds
        self._save()

    def is_snoozed(self, device_id: str) -> bool:
        """Whether reminders for this device are put off now."""
        return self._until.get(device_id, 0.0) > time.time()

    def was_reminded(self, device_id: str, step: str) -> bool:
        """Whether this device was reminded of this ladder step (e.g. "due@1780000000")."""
        return self._reminded.get(device_id) == step

    def reminded(self, device_id: str, step: str) -> None:
        """Remember that the device was reminded of `step`."""
        self._reminded[device_id] = step
        self._save()

    def announced(self, device_id: str) -> str:
        """The state the device's last reminder told of ("" when none or no longer true)."""
        return self._announced.get(device_id, "")

    def announce(self, device_id: str, state: str) -> None:
        """Remember that the owner was told of this state ("": of nothing that holds now)."""
        if self._announced.get(device_id, "") == state:
            return
        if state:
            self._announced[device_id] = state
        else:
            self._announced.pop(device_id, None)
        self._save()

    def _save(self) -> None:
        now = time.time()
        live = {k: v for k, v in self._until.items() if v > now}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            data = {
                "snoozed_until": live,
                "reminded": self._reminded,
                "announced": self._announced,
            }
            temporary.write_text(json.dumps(data, indent=1))
            os.replace(temporary, self.path)
        except OSError as e:
            log.warning("cannot save the snooze in %s: %s", self.path, e)
