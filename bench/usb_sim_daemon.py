"""trezor-backupd with a simulator where a USB Trezor would be: for bench/ only.

libusb cannot open a umockdev device, so this runs the daemon's own `main()` with its USB
enumeration handing out the simulator at SIM_PORT under the WebUSB path of bus BUS, port
PORT (tests/sim_helpers.SimulatorOnUsb, as the release test does). The udev events, the
device-node watch, the read and the bus are the daemon's own, as measured.

Usage: usb_sim_daemon.py SIM_PORT BUS PORT [trezor-backupd options]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from trezor_backupd import main
from trezor_backupd.device import device_io
from trezor_backupd.device.device_io import UsbLocation

from sim_helpers import SimulatorOnUsb


def run() -> None:
    sim_port, bus, port, *options = sys.argv[1:]
    transport = SimulatorOnUsb(int(sim_port), UsbLocation(int(bus), (int(port),)))
    device_io.usb_transports = lambda: [transport]
    main.main(options)


if __name__ == "__main__":
    run()
