"""The devices the daemon remembers after they are unplugged, for reminders about a Trezor in
a drawer: `Manager1.GetKnownDevices()` and `ForgetDevice(id)` (docs/dbus-api.md).

A `DeviceListener` between the tracker and the bus publisher records each device it sees (id,
model, label, when last seen; never seed material) in the history file, then passes the change
on. Devices the daemon could not identify (an `at_` fallback id) are not remembered: their id
names a USB port, not a Trezor. The record answers with the dates the reminder ladder needs:
when the next check is due (the last passed check plus the re-check interval) and when it is
overdue (twice the interval), so a client needs no copy of the daemon's configuration.

Forgetting a remembered Safe 7 also removes its pairing from the keyring, through an injected
callable (thp_credentials): a wiped or lost Trezor leaves no usable secret behind once its
owner forgets it. That callable never prompts: a locked keyring is a refusal with a sentence,
not a dialog the D-Bus caller would wait on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from trezor_backup_api.i18n import N_, Sentence
from trezor_backup_api.vocabulary import Refusal

from ..device_values import THP_INTERNAL_MODEL, DeviceListener, OperationRefused, TrackedDevice
from .config import Config
from .history import HistoryStore, HistoryUnavailable, KnownDevice
from .thp_credentials import NoKeyring, SecretServiceUnavailable

LOG = logging.getLogger(__name__)

KNOWN_SIGNATURES = {
    "Id": "s",
    "Model": "s",
    "InternalModel": "s",
    "Label": "s",
    "LastSeen": "t",
    "Connected": "b",
    "LastCheckTime": "t",
    "LastCheckResult": "s",
    "CheckDueTime": "t",
    "CheckOverdueTime": "t",
}
"""The keys of a GetKnownDevices dictionary and their D-Bus types, in docs/dbus-api.md's order."""


def _seconds(when: datetime | None) -> int:
    return int(when.timestamp()) if when is not None else 0


class KnownDevices:
    """Remembers devices as they pass on their way to `inner`, and lists them."""

    def __init__(
        self,
        inner: DeviceListener,
        history: HistoryStore | None,
        config: Config,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        forget_pairing: Callable[[str], bool] | None = None,
    ) -> None:
        """`forget_pairing` removes the Safe 7 pairing of a device id from the keyring
        (blocking; raises SecretServiceUnavailable, NoKeyring when there is none at all)."""
        self._inner = inner
        self._history = history
        self._config = config
        self._clock = clock
        self._forget_pairing = forget_pairing

    # -- the listener ----------------------------------------------------------------------

    def device_added(self, device: TrackedDevice) -> None:
        self._remember(device)
        self._inner.device_added(device)

    def device_changed(self, device: TrackedDevice) -> None:
        self._remember(device)
        self._inner.device_changed(device)

    def device_removed(self, device: TrackedDevice) -> None:
        self._remember(device)  # last seen: now, as it goes
        self._inner.device_removed(device)

    def _remember(self, device: TrackedDevice) -> None:
        status = device.status
        if self._history is None or device.id.startswith("at_") or not status.model:
            return
        try:
            self._history.remember_device(
                device.id, status.model, status.internal_model, status.label, self._clock()
            )
        except (HistoryUnavailable, ValueError) as error:
            LOG.error("Cannot remember Trezor %s: %s", device.id, error)

    # -- what the bus serves ---------------------------------------------------------------

    def listed(self, connected: Iterable[str]) -> list[dict[str, Any]]:
        """Every remembered device as plain values by D-Bus name (see GetKnownDevices)."""
        if self._history is None:
            return []
        here = set(connected)
        known = self._history.known_devices()
        return [self._values(device, device.device_id in here) for device in known]

    def _values(self, known: KnownDevice, connected: bool) -> dict[str, Any]:
        verdict = known.last_check
        passed = verdict.when if verdict is not None and verdict.passed else None
        interval = self._config.recheck_interval
        return {
            "Id": known.device_id,
            "Model": known.model,
            "InternalModel": known.internal_model,
            "Label": known.label,
            "LastSeen": _seconds(known.last_seen),
            "Connected": connected,
            "LastCheckTime": _seconds(verdict.when if verdict else None),
            "LastCheckResult": verdict.result.value if verdict else "",
            "CheckDueTime": _seconds(passed + interval) if passed else 0,
            "CheckOverdueTime": _seconds(passed + 2 * interval) if passed else 0,
        }

    async def forget(self, device_id: str) -> bool:
        """Remove the device's record and history, and a Safe 7's pairing first; False when
        nothing was kept about it. Raises OperationRefused (NoSecretService), forgetting
        nothing, when a keyring that may hold the pairing is locked or refuses; with no
        keyring at all nothing can be stored there, so the rest is forgotten."""
        if self._history is None:
            raise HistoryUnavailable("the daemon runs without history")
        safe7 = any(
            known.device_id == device_id and known.internal_model == THP_INTERNAL_MODEL
            for known in self._history.known_devices()
        )
        if safe7 and self._forget_pairing is not None:
            try:
                await asyncio.to_thread(self._forget_pairing, device_id)
            except NoKeyring as error:
                LOG.info(
                    "Forgetting Trezor %s: no pairing of it was stored, as there is no "
                    "keyring here (%s)",
                    device_id,
                    error,
                )
            except SecretServiceUnavailable as error:
                raise OperationRefused(
                    Refusal.NO_SECRET_SERVICE,
                    Sentence(
                        N_("Nothing was forgotten: this Trezor's pairing could not be removed.")
                    ),
                    error.sentence,
                ) from None
        return self._history.forget(device_id)
