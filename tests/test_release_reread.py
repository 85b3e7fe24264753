"""A change made in another app reaches the bus when that app lets go of the device.

The daemon's own `serve()` on the test's private bus, with its real DeviceNodeWatch
(inotify) on a umockdev device node, real udev coldplug, and a real second process that holds
the node while it backs the Trezor up through trezorlib's wire protocol. One part cannot be
real: libusb cannot open a umockdev device, so USB enumeration hands the daemon the
simulator's transport under the device's WebUSB path (`sim_helpers.SimulatorOnUsb`). Everything from
there on (the read policy, the node watch, GetFeatures, the status model, the bus) is the
daemon's own code, in this process so that the enumeration can be replaced.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from trezorlib.transport import Transport

from trezor_backupd.device.device_io import TrezorlibIO, UsbLocation
from trezor_backupd.main import serve
from trezor_backupd.store.config import Config

from harness import BUS_NAME, EVENT_TIMEOUT, SessionBus, UsbTestbed, Watch, get_devices
from sim_helpers import SimulatorOnUsb, start_simulator

LOCATION = UsbLocation(busnum=1, port_numbers=(1,))
OTHER_PROGRAM = Path(__file__).with_name("other_program.py")


class OnlyThisUsb(TrezorlibIO):
    """trezorlib's device layer, except that USB lists the simulator's transport alone."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def usb_transports(self) -> list[Transport]:
        return [self.transport]


async def run_other_program(*args: str) -> None:
    """The second program, as a process of its own (under the same umockdev preload)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(OTHER_PROGRAM), *args, stderr=subprocess.PIPE
    )
    _, error = await asyncio.wait_for(process.communicate(), EVENT_TIMEOUT)
    assert process.returncode == 0, error.decode()


def wait_for_daemon() -> None:
    subprocess.run(
        ["gdbus", "wait", "--session", "--timeout", str(int(EVENT_TIMEOUT)), BUS_NAME],
        check=True,
    )


def test_a_backup_made_by_another_program_is_on_the_bus_once_it_lets_go(
    usb: UsbTestbed,
    session_bus: SessionBus,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    _, devnode = usb.plug_with_node(1)
    with start_simulator("safe5", "backup_required") as sim:
        transport = SimulatorOnUsb(sim.port, LOCATION)

        async def scenario() -> None:
            config_file = tmp_path / "config.toml"  # none: the defaults
            daemon = asyncio.create_task(
                serve(Config(), config_file, None, (), OnlyThisUsb(transport))
            )
            try:
                await asyncio.to_thread(wait_for_daemon)
                [device] = await asyncio.to_thread(get_devices)
                assert device["State"] == "backup_required"
                watch = Watch()
                try:
                    await asyncio.to_thread(watch.next_event, "added")
                    # Trezor Suite opens the device, backs it up, and closes it.
                    await run_other_program("backup", str(sim.port), "--hold", devnode)
                    changed = await asyncio.to_thread(
                        watch.next_event, "changed", lambda e: "state" in e["changed"]
                    )
                    assert changed["device"]["state"] == "unverified"
                finally:
                    watch.stop()
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # serve() stops on it, as under systemd
                assert await asyncio.wait_for(daemon, EVENT_TIMEOUT) == 0

        asyncio.run(scenario())
