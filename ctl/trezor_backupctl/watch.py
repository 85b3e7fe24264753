"""`trezor-backupctl watch`: the daemon's device signals as a stream of JSON events.

Signals carry only what changed, but a script wants the whole device with every event, so the
last known properties of each device are kept here. Every change goes through one diff, which
also absorbs the overlap between subscribing and listing (a signal sent before the listing
that the listing already contains produces no duplicate event).
"""

import asyncio
from collections.abc import Callable
from typing import Any

from trezor_backup_api.client import (
    BusEvent,
    DaemonClient,
    DaemonOwnerChanged,
    DeviceAdded,
    DevicePropertiesChanged,
    DeviceRemoved,
)
from trezor_backup_api.daemon_errors import DaemonError, DaemonUnreachable
from trezor_backup_api.i18n import _
from trezor_backupctl.json_output import device_record

Emit = Callable[[dict[str, Any]], None]


class DeviceWatch:
    """The devices as last seen, turning bus events into `added`/`removed`/`changed` events."""

    def __init__(self, client: DaemonClient, emit: Emit) -> None:
        self._client = client
        self._emit = emit
        self._devices: dict[str, dict[str, Any]] = {}

    def _update(self, path: str, properties: dict[str, Any]) -> None:
        old = self._devices.get(path)
        self._devices[path] = properties
        new_record = device_record(path, properties)
        if old is None:
            self._emit({"event": "added", "path": path, "device": new_record})
            return
        old_record = device_record(path, old)
        changed = [key for key, value in new_record.items() if old_record.get(key) != value]
        changed += [key for key in old_record if key not in new_record]
        if changed:
            self._emit({"event": "changed", "path": path, "device": new_record, "changed": changed})

    def _remove(self, path: str) -> None:
        properties = self._devices.pop(path, None)
        if properties is not None:
            self._emit({"event": "removed", "path": path, "id": properties.get("Id")})

    async def sync(self) -> None:
        """Bring the known devices in line with `GetDevices()`, emitting the differences."""
        devices = await self._client.get_devices()
        for path in [path for path in self._devices if path not in devices]:
            self._remove(path)
        for path, device in devices.items():
            self._update(path, dict(device.properties))

    async def handle(self, event: BusEvent) -> None:
        """Apply one bus event; events must be handled one at a time, in arrival order."""
        match event:
            case DeviceAdded(path):
                try:
                    device = await self._client.get_device(path)
                except (DaemonError, DaemonUnreachable):
                    return  # gone again already; its DeviceRemoved or the owner change follows
                self._update(path, dict(device.properties))
            case DeviceRemoved(path):
                self._remove(path)
            case DevicePropertiesChanged(path, changed, invalidated):
                if path not in self._devices:
                    return  # not announced yet: DeviceAdded will read all of it
                properties = {**self._devices[path], **changed}
                if invalidated:
                    try:
                        properties = dict((await self._client.get_device(path)).properties)
                    except (DaemonError, DaemonUnreachable):
                        return
                self._update(path, properties)
            case DaemonOwnerChanged(old_owner, new_owner):
                if old_owner:
                    # The devices are unknown now, not unplugged: no `removed` for each.
                    self._devices.clear()
                    self._emit({"event": "daemon_gone"})
                if new_owner:
                    try:
                        await self.sync()
                    except (DaemonError, DaemonUnreachable):
                        return  # it left again; the next owner change tells


async def watch(client: DaemonClient, emit: Emit, stop: asyncio.Event) -> None:
    """Emit the current devices as `added`, then every change, until `stop` is set.

    Raises DaemonUnreachable when the daemon is not there at the start or the session bus goes
    away; a daemon restart in between is reported as `daemon_gone` and new `added` events.
    """
    queue: asyncio.Queue[BusEvent] = asyncio.Queue()
    await client.subscribe(queue.put_nowait)
    devices = DeviceWatch(client, emit)
    await devices.sync()

    async def consume() -> None:
        while True:
            await devices.handle(await queue.get())

    consumer = asyncio.create_task(consume())
    stopped = asyncio.create_task(stop.wait())
    disconnected = asyncio.create_task(client.wait_for_disconnect())
    done, pending = await asyncio.wait(
        {consumer, stopped, disconnected}, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    if consumer in done:
        consumer.result()  # re-raises what ended it, e.g. a closed stdout
    if disconnected in done and stopped not in done:
        raise DaemonUnreachable(_("the session bus connection was closed"))
