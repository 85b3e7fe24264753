"""A Trezor on the real USB path: a umockdev usbdevfs node whose ioctls this process answers,
each 64-byte interrupt report forwarded to a UDP device (the simulator, or an official
emulator, which listen alike).

The programs under test run unmodified: udev (umockdev) announces the Trezor, libusb finds it
through sysfs and talks to /dev/bus/usb/001/DDD with usbdevfs ioctls, and the bridge answers
them as the kernel and the Trezor would: descriptors, one interface that one open file at a
time may claim (a claim through another file answers EBUSY, which trezorlib reports as
DeviceIsBusy), interrupt OUT reports sent on as datagrams, the datagrams that come back handed
out on IN URBs, ENODEV once unplugged.

Where the handler runs: in the test process, although it runs under umockdev-wrapper (the
process that owns the testbed must, or its uevents fail: conftest). Tried here: umockdev
serves each open file of the node on a socket of its own from the testbed's worker thread,
and runs the handler there, taking the GIL; the test's own thread meanwhile waits on
subprocesses and pipes, which release it, so no deadlock arose over hundreds of trezorctl
runs. What deadlocks is a client of the bridged node in this same process: libusb or
cython-hidapi block in C, some holding the GIL, on an ioctl whose handler needs it (the guide's
deadlock). So every program that opens the node (the daemon, trezorctl, other_program.py) is
a child process: it inherits LD_PRELOAD and gets UMOCKDEV_DIR, as the daemon fixture gives it.

Two things umockdev 0.17 does not do, and what stands in: it never emits `client-vanished`
(a closed file only shows as a client no longer `connected`, so closes are noticed at the
next ioctl, see `_sweep`); and it has no way to refuse an open, so "no permission" is the
node's mode (`let_open`) with the program under test run without CAP_DAC_OVERRIDE
(NO_DAC_OVERRIDE), since root opens anything.

A HID Model One (534c:0001) is bridged alike, with its HID descriptors and its interface
bound to usbhid, which a program detaches (DISCONNECT) before it may claim it and attaches
again (CONNECT) when done, as hidapi's libusb backend does; GETDRIVER tells which holds it.

Every open, claim, refused claim, release, report and close is recorded with its file (an
`IoctlClient`: one per open of the node) and the time, so a test can tell who held the
Trezor when, and that nobody else touched it meanwhile.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from harness import UsbTestbed, add_node_device
from sim_helpers import HOST

# usbdevfs ioctl request numbers (linux/usbdevice_fs.h, 64-bit layouts): _IOC(dir, 'U', nr, size)


def _ioc(direction: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("U") << 8) | number


_IO, _IOW, _IOR = 0, 1, 2
URB_SIZE = 56
"""sizeof(struct usbdevfs_urb) on 64-bit: type, endpoint, status @4, flags, buffer @16,
buffer_length @24, actual_length @28, ..., usercontext @48."""
SUBMITURB = _ioc(_IOR, 10, URB_SIZE)
DISCARDURB = _ioc(_IO, 11, 0)
REAPURB = _ioc(_IOW, 12, 8)
REAPURBNDELAY = _ioc(_IOW, 13, 8)
CLAIMINTERFACE = _ioc(_IOR, 15, 4)
RELEASEINTERFACE = _ioc(_IOR, 16, 4)
GETDRIVER = _ioc(_IOW, 8, 260)
GET_CAPABILITIES = _ioc(_IOR, 26, 4)
GET_SPEED = _ioc(_IO, 31, 0)
USBDEVFS_IOCTL = _ioc(_IOR | _IOW, 18, 16)
"""struct usbdevfs_ioctl {int ifno; int ioctl_code; void *data}: how libusb asks the kernel
to detach (DISCONNECT) or attach (CONNECT) the interface's driver."""
DISCONNECT, CONNECT = _ioc(_IO, 22, 0), _ioc(_IO, 23, 0)
ACCEPTED = {
    _ioc(_IOR, 3, 4),  # RESETEP
    _ioc(_IOR, 4, 8),  # SETINTERFACE
    _ioc(_IOR, 5, 4),  # SETCONFIGURATION
    _ioc(_IO, 20, 0),  # RESET
    _ioc(_IOR, 21, 4),  # CLEAR_HALT
}
CAPABILITIES = 0x01 | 0x02 | 0x04 | 0x08  # ZERO_PACKET, BULK_CONTINUATION, NO_PACKET_SIZE_LIM,
# BULK_SCATTER_GATHER: what a current kernel says
USB_SPEED_FULL = 2
URB_TYPE_INTERRUPT, URB_TYPE_CONTROL = 1, 2
REPORT_SIZE = 64

WEBUSB_DESCRIPTORS = bytes.fromhex(
    "12011002000000400912c153000201020301"  # device: USB 2.1, 64-byte EP0, 1209:53c1
    "0902200001010080fa"  # configuration 1: one interface, bus-powered
    "0904000002ff000000"  # interface 0: two endpoints, vendor class 0xff
    "0705810340000107050103400001"  # interrupt IN 0x81 and OUT 0x01, 64 bytes, 1 ms
)
"""The descriptors of a Trezor (core firmware) on WebUSB, as sysfs `descriptors` has them."""
BOOTLOADER_DESCRIPTORS = WEBUSB_DESCRIPTORS.replace(
    bytes.fromhex("0912c153"), bytes.fromhex("0912c053"), 1
)
"""The same Trezor in its bootloader (1209:53c0): WebUSB, the same interface and endpoints."""
HID_DESCRIPTORS = bytes.fromhex(
    "12010002000000404c530100000101020301"  # device: USB 2.0, 64-byte EP0, 534c:0001
    "0902290001010080fa"  # configuration 1: one interface, bus-powered
    "090400000203000000"  # interface 0: two endpoints, class HID, no boot protocol
    "092111010001222200"  # HID 1.11, one report descriptor of 34 bytes
    "0705810340000107050103400001"  # interrupt IN 0x81 and OUT 0x01, 64 bytes, 1 ms
)
"""The descriptors of a Model One on HID (firmware before 1.7, 534c:0001)."""
HID_REPORT_DESCRIPTOR = bytes.fromhex(
    "0600ff0901a101"  # usage page 0xff00, usage 1, application collection
    "0920150026ff00750895408102"  # 64 bytes of 0-255: input
    "0921150026ff00750895409102"  # the same: output
    "c0"
)
"""Vendor page 0xff00: 64-byte input and output reports, no report id."""
ROOT_HUB_DESCRIPTORS = bytes.fromhex(
    "12010002090001406b1d020006010302010109021900010100e0000904000001090000000705810304000c"
)
NO_DAC_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
"""Run a command as root that file modes still apply to (see BridgedTrezor.let_open)."""
STRINGS = {1: "SatoshiLabs", 2: "TREZOR"}
"""String descriptors; 3 (the serial number) is the device's own."""


@dataclass
class Event:
    """Something a file did to the Trezor, at `when` (time.monotonic())."""

    when: float
    client: int
    """Which open of the node (numbered from 1 in the order they came)."""
    what: str
    """open, close, claim, refused, release, out; detach and attach (the kernel driver)."""


@dataclass
class _File:
    """One open of the node, as the kernel keeps it: its number, its reapable URBs and the
    IN URBs that wait for a report."""

    number: int
    done: deque[Any] = field(default_factory=deque)
    waiting_in: deque[Any] = field(default_factory=deque)


class BridgedTrezor:
    """A Trezor whose usbdevfs node is answered by forwarding reports to `udp_port`."""

    def __init__(
        self,
        usb: UsbTestbed,
        port: int,
        udp_port: int,
        serial: str,
        hid: bool = False,
        bootloader: bool = False,
    ) -> None:
        import gi

        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev

        self._usb = usb
        self.serial = serial
        self.events: list[Event] = []
        self._lock = threading.Condition()
        self._files: dict[Any, _File] = {}
        self._numbers = itertools.count(1)
        self._holder: Any = None
        self._gone = False
        self.hid = hid
        self.driver_attached = hid
        """usbhid holds a HID Trezor's interface until a program detaches it."""
        self._reports: deque[bytes] = deque()
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.connect((HOST, udp_port))
        self._udp.setblocking(False)
        self._handler = UMockdev.IoctlBase()
        self._handler.connect("client-connected", self._connected)
        self._handler.connect("handle-ioctl", self._ioctl)
        self.devnode = f"/dev/bus/usb/001/{port + 1:03d}"
        usb.testbed.attach_ioctl(self.devnode, self._handler)
        descriptors = (
            HID_DESCRIPTORS if hid else BOOTLOADER_DESCRIPTORS if bootloader else WEBUSB_DESCRIPTORS
        ).hex()
        self.syspath, _ = add_node_device(
            usb.testbed,
            port,
            product="0001" if hid else "53c0" if bootloader else "53c1",
            vendor="534c" if hid else "1209",
            extra=f"A: serial={serial}\nA: speed=12\nA: bConfigurationValue=1\n"
            f"H: descriptors={descriptors}\n",
        )

    @property
    def webusb_path(self) -> str:
        """The path trezorlib names this Trezor by."""
        return f"webusb:001:{self.syspath.rsplit('-', 1)[1]}"

    @property
    def hid_path(self) -> str:
        """The path trezorlib names a HID Trezor by (hidapi's libusb backend's)."""
        return f"hid:1-{self.syspath.rsplit('-', 1)[1]}:1.0"

    def let_open(self, allowed: bool) -> None:
        """Give the node the mode udev leaves without the project's rules (0444: anyone may
        watch it, nobody may open it read-write, which libusb needs) or the one they give.
        Root opens it anyway: run the program under test without CAP_DAC_OVERRIDE
        (NO_DAC_OVERRIDE)."""
        os.chmod(self._usb.root_dir + self.devnode, 0o666 if allowed else 0o444)

    def unplug(self) -> None:
        """Pull it out: every call on an open file answers ENODEV from now on."""
        with self._lock:
            self._gone = True
        self._usb.unplug(self.syspath)
        self._udp.close()

    def holders(self) -> list[tuple[int, float, float]]:
        """Every claim: (file, claimed at, released or closed at)."""
        with self._lock:
            self._sweep()
        spans: list[tuple[int, float, float]] = []
        started: dict[int, float] = {}
        for event in list(self.events):
            if event.what == "claim":
                started[event.client] = event.when
            elif event.what in ("release", "close") and event.client in started:
                spans.append((event.client, started.pop(event.client), event.when))
        spans += [(client, when, float("inf")) for client, when in started.items()]
        return spans

    def wait_for(self, what: str, after: float, timeout: float) -> Event:
        """The first `what` event (claim, out, ...) later than `after` (time.monotonic()),
        waited for up to `timeout` seconds."""

        def found() -> Event | None:
            return next((e for e in self.events if e.what == what and e.when > after), None)

        with self._lock:
            event = self._lock.wait_for(found, timeout)
        if event is None:
            raise AssertionError(f"no {what} after {after} within {timeout} s")
        return event

    # ---- the kernel's side ---------------------------------------------------------------

    def _record(self, file: _File, what: str) -> None:
        """Note what a file did; the lock is held."""
        self.events.append(Event(time.monotonic(), file.number, what))
        self._lock.notify_all()

    def _connected(self, _handler: Any, client: Any) -> None:
        with self._lock:
            self._file(client)

    def _file(self, client: Any) -> _File:
        """The open file behind `client`, recorded as opened the first time; lock held."""
        file = self._files.get(client)
        if file is None:
            file = self._files[client] = _File(next(self._numbers))
            self._record(file, "open")
        return file

    def _sweep(self) -> None:
        """Record the files closed since the last call, and drop their claim; lock held.

        umockdev 0.17 never emits `client-vanished`; a closed file shows as a client that is
        no longer `connected`, so closes are noticed at the next ioctl (or `holders()`), as
        the kernel would release the claim of a closed file before serving another one.
        """
        for client, file in list(self._files.items()):
            if not client.get_connected():
                del self._files[client]
                if self._holder is client:
                    self._holder = None
                self._record(file, "close")

    def _ioctl(self, _handler: Any, client: Any) -> bool:
        try:
            with self._lock:
                result, error = self._answer(client)
        except Exception as failure:  # never into umockdev's C code
            print(f"usb bridge: {type(failure).__name__}: {failure}", flush=True)
            result, error = -1, errno.EIO
        client.complete(result, error)
        return True

    def _answer(self, client: Any) -> tuple[int, int]:
        """(result, errno) of one ioctl; the lock is held."""
        self._sweep()
        file = self._file(client)
        if self._gone:
            return -1, errno.ENODEV
        request = client.get_request()
        arg = client.get_arg()
        if request == GET_CAPABILITIES:
            arg.resolve(0, 4).update(0, struct.pack("<I", CAPABILITIES))
        elif request == GETDRIVER:
            return self._driver(arg)
        elif request == USBDEVFS_IOCTL:
            command = bytes(arg.resolve(0, 16).retrieve())
            return self._driver_ioctl(file, struct.unpack_from("<i", command, 4)[0])
        elif request == GET_SPEED:
            return USB_SPEED_FULL, 0
        elif request == CLAIMINTERFACE:
            return self._claim(client, file)
        elif request == RELEASEINTERFACE:
            if self._holder is client:
                self._holder = None
                self._record(file, "release")
        elif request == SUBMITURB:
            return self._submit(client, file, arg.resolve(0, URB_SIZE))
        elif request in (REAPURB, REAPURBNDELAY):
            return self._reap(file, arg)
        elif request == DISCARDURB:
            return self._discard(file, struct.unpack("<Q", bytes(arg.retrieve())[:8])[0])
        elif request not in ACCEPTED:
            return -1, errno.ENOTTY
        return 0, 0

    def _driver(self, arg: Any) -> tuple[int, int]:
        """GETDRIVER: "usbfs" while a file claims the interface, "usbhid" while it is bound."""
        name = "usbfs" if self._holder is not None else "usbhid" if self.driver_attached else ""
        if not name:
            return -1, errno.ENODATA
        arg.resolve(0, 260).update(4, name.encode() + b"\0")
        return 0, 0

    def _driver_ioctl(self, file: _File, code: int) -> tuple[int, int]:
        """DISCONNECT and CONNECT of the kernel driver, as drivers/usb/core/devio.c answers
        them: nothing to detach but usbhid, nothing to attach while a file claims it."""
        if code == DISCONNECT:
            if self._holder is not None or not self.driver_attached:
                return -1, errno.ENODATA
            self.driver_attached = False
            self._record(file, "detach")
        elif code == CONNECT:
            if self._holder is not None:
                return -1, errno.EBUSY
            if self.hid and not self.driver_attached:
                self.driver_attached = True
                self._record(file, "attach")
        else:
            return -1, errno.ENOTTY
        return 0, 0

    def _claim(self, client: Any, file: _File) -> tuple[int, int]:
        if self.driver_attached:  # usbhid has it: the kernel refuses a second claimant
            self._record(file, "refused")
            return -1, errno.EBUSY
        if self._holder is not None and self._holder is not client:
            self._record(file, "refused")
            return -1, errno.EBUSY
        if self._holder is None:
            self._holder = client
            self._record(file, "claim")
        return 0, 0

    def _submit(self, client: Any, file: _File, urb: Any) -> tuple[int, int]:
        fields = bytes(urb.retrieve())
        kind, endpoint = fields[0], fields[1]
        length = struct.unpack_from("<i", fields, 24)[0]
        if kind == URB_TYPE_CONTROL:
            buffer = urb.resolve(16, length)
            self._control(urb, buffer, bytes(buffer.retrieve())[:8])
            file.done.append(urb)
            return 0, 0
        if kind != URB_TYPE_INTERRUPT:
            return -1, errno.EINVAL
        if self._holder is None:  # the kernel claims the interface for a URB on it
            self._holder = client
            self._record(file, "claim")
        elif self._holder is not client:
            self._record(file, "refused")
            return -1, errno.EBUSY
        if endpoint & 0x80:
            file.waiting_in.append(urb)
            return 0, 0
        report = bytes(urb.resolve(16, length).retrieve())
        self._record(file, "out")
        self._udp.send(report)
        urb.update(28, struct.pack("<i", len(report)))
        file.done.append(urb)
        return 0, 0

    def _control(self, urb: Any, buffer: Any, setup: bytes) -> None:
        """Standard GET_DESCRIPTOR(string) requests, and a HID Trezor's report descriptor;
        everything else stalls."""
        request_type, request, value, _index, length = struct.unpack("<BBHHH", setup)
        if self.hid and (request_type, request, value >> 8) == (0x81, 6, 0x22):
            reply = HID_REPORT_DESCRIPTOR[:length]
            buffer.update(8, reply)
            urb.update(28, struct.pack("<i", len(reply)))
            return
        if (request_type, request, value >> 8) != (0x80, 6, 3):
            urb.update(4, struct.pack("<i", -errno.EPIPE))
            return
        number = value & 0xFF
        if number == 0:
            text = b"\x04\x03\x09\x04"  # US English only
        else:
            encoded = STRINGS.get(number, self.serial).encode("utf-16-le")
            text = bytes([2 + len(encoded), 3]) + encoded
        reply = text[:length]
        buffer.update(8, reply)
        urb.update(28, struct.pack("<i", len(reply)))

    def _reap(self, file: _File, arg: Any) -> tuple[int, int]:
        while file.waiting_in:
            with suppress(BlockingIOError):
                self._reports.append(self._udp.recv(REPORT_SIZE))
            if not self._reports:
                break
            urb = file.waiting_in.popleft()
            report = self._reports.popleft()
            urb.resolve(16, REPORT_SIZE).update(0, report)
            urb.update(28, struct.pack("<i", len(report)))
            file.done.append(urb)
        if not file.done:
            return -1, errno.EAGAIN
        arg.resolve(0, 8).set_ptr(0, file.done.popleft())
        return 0, 0

    def _discard(self, file: _File, address: int) -> tuple[int, int]:
        for urb in file.waiting_in:
            if urb.client_addr == address:
                file.waiting_in.remove(urb)
                urb.update(4, struct.pack("<i", -errno.ENOENT))
                file.done.append(urb)
                return 0, 0
        return -1, errno.EINVAL


class UsbBridge:
    """The bus a test plugs bridged Trezors into (bus 1, its root hub at 001/001)."""

    def __init__(self, usb: UsbTestbed) -> None:
        self.usb = usb
        self._next_port = 1
        usb.testbed.add_from_string(
            "P: /devices/pci0000:00/0000:00:14.0/usb1\nN: bus/usb/001/001\n"
            "E: DEVNAME=/dev/bus/usb/001/001\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
            "E: BUSNUM=001\nE: DEVNUM=001\n"
            "A: busnum=1\nA: devnum=1\nA: speed=480\nA: bConfigurationValue=1\n"
            f"H: descriptors={ROOT_HUB_DESCRIPTORS.hex()}\n"
        )

    def plug(
        self,
        udp_port: int,
        serial: str = "000000000000000000000001",
        hid: bool = False,
        bootloader: bool = False,
    ) -> BridgedTrezor:
        """A Trezor on the next free port of bus 1, forwarding to the UDP device at
        `udp_port` (emits "add"); `hid`: a Model One with HID firmware (534c:0001), its
        interface bound to usbhid; `bootloader`: a core Trezor in its bootloader
        (1209:53c0)."""
        port = self._next_port
        self._next_port += 1
        return BridgedTrezor(self.usb, port, udp_port, serial, hid, bootloader)
