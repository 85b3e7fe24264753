"""A change made in another app reaches the daemon when that app lets go of the device.

The daemon's tracker with its real DeviceNodeWatch (inotify), a umockdev device node that a
real second process holds while it runs a backup on the simulator through trezorlib's wire
protocol, and real udev events. One part cannot be real: libusb cannot open a umockdev
device, so the USB enumeration hands the tracker the simulator's transport under the
device's WebUSB path (`SimulatorOnUsb`). Everything from there on (the read policy, the node
watch, GetFeatures, the status model) is the daemon's own code.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from trezorlib.transport.udp import UdpTransport

from trezor_backupd import device_io
from trezor_backupd.config import Config
from trezor_backupd.device_io import UsbLocation
from trezor_backupd.device_node_watch import DeviceNodeWatch
from trezor_backupd.device_tracker import DeviceTracker, TrackedDevice
from trezor_backupd.udev_watch import TrezorUsbEvent

from harness import EVENT_TIMEOUT, UsbTestbed
from sim_helpers import HOST, start_simulator

LOCATION = UsbLocation(busnum=1, port_numbers=(1,))
OTHER_PROGRAM = Path(__file__).with_name("other_program.py")


class SimulatorOnUsb(UdpTransport):
    """The simulator, named as the USB device at LOCATION would be."""

    def get_path(self) -> str:
        return LOCATION.webusb_path


class States:
    """A DeviceListener that lets a test await the next published state."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._changed = asyncio.Event()

    def device_added(self, device: TrackedDevice) -> None:
        self._record(device)

    def device_changed(self, device: TrackedDevice) -> None:
        self._record(device)

    def device_removed(self, device: TrackedDevice) -> None:
        self._record(device, "removed")

    def _record(self, device: TrackedDevice, state: str | None = None) -> None:
        self.seen.append(state or device.status.state.value)
        self._changed.set()

    async def until(self, state: str) -> None:
        async with asyncio.timeout(EVENT_TIMEOUT):
            while state not in self.seen:
                self._changed.clear()
                await self._changed.wait()


async def run_other_program(*args: str) -> None:
    """The second program, as a process of its own (under the same umockdev preload)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(OTHER_PROGRAM), *args, stderr=subprocess.PIPE
    )
    _, error = await asyncio.wait_for(process.communicate(), EVENT_TIMEOUT)
    assert process.returncode == 0, error.decode()


def test_a_backup_made_by_another_program_is_read_once_it_lets_go(
    usb: UsbTestbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, devnode = usb.plug_with_node(1)
    with start_simulator("safe5", "backup_required") as sim:
        transport = SimulatorOnUsb(f"{HOST}:{sim.port}")
        monkeypatch.setattr(device_io, "usb_transports", lambda: [transport])

        async def scenario() -> list[str]:
            states = States()
            tracker: DeviceTracker | None = None
            watch = DeviceNodeWatch(lambda key: tracker.node_released(key) if tracker else None)
            tracker = DeviceTracker(Config(), None, states, node_watch=watch)
            try:
                tracker.usb_event(TrezorUsbEvent("add", LOCATION, webusb=True, devnode=devnode))
                await states.until("backup_required")
                # Trezor Suite opens the device, backs it up, and closes it.
                await run_other_program("backup", str(sim.port), "--hold", devnode)
                await states.until("unverified")
                return states.seen
            finally:
                tracker.close()
                watch.close()

        assert asyncio.run(scenario()) == ["backup_required", "unverified"]
