"""DeviceNodeWatch on real inotify, over device nodes in a umockdev testbed, closed by real
processes; and the node udev_watch reports for it to watch.

Every test that expects no report first waits for a report on a second node that was closed
after the one under test: inotify queues one instance's events in order, so when that report
arrives everything before it has been handled.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Coroutine
from typing import Any

import pytest

from trezor_backupd.device.device_node_watch import DeviceNodeWatch
from trezor_backupd.device.udev_watch import TrezorUsbEvent, UdevWatcher

from harness import EVENT_TIMEOUT, UsbTestbed

NODE = "/dev/bus/usb/001/002"
SENTINEL = "/dev/bus/usb/001/003"
KEY = "webusb:001:1"
SENTINEL_KEY = "webusb:001:2"


def add_node_device(usb: UsbTestbed, port: int, product: str = "53c1", vendor: str = "1209") -> str:
    """A Trezor usb_device with a device node at /dev/bus/usb/001/<port + 1>; its syspath."""
    return usb.plug_with_node(port, product, vendor)[0]


@pytest.fixture
def nodes(usb: UsbTestbed) -> UsbTestbed:
    add_node_device(usb, 1)
    add_node_device(usb, 2)
    assert os.path.exists(NODE) and os.path.exists(SENTINEL)
    return usb


def open_close(node: str, times: int = 1, flags: int = os.O_RDWR) -> None:
    """Another process (under the same umockdev preload) opens and closes the node."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "for _ in range(int(sys.argv[2])):\n"
            "    os.close(os.open(sys.argv[1], int(sys.argv[3])))\n",
            node,
            str(times),
            str(flags),
        ],
        check=True,
        timeout=EVENT_TIMEOUT,
    )


class Released:
    """Collects on_released calls; ``until(key, times)`` waits until ``key`` was reported
    that many times."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._arrived = asyncio.Event()

    def __call__(self, key: str) -> None:
        self.keys.append(key)
        self._arrived.set()

    async def until(self, key: str, times: int = 1) -> None:
        async def wait() -> None:
            while self.keys.count(key) < times:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), EVENT_TIMEOUT)

    async def settled(self) -> None:
        """Everything queued so far has been reported: a close of the sentinel came after it."""
        before = self.keys.count(SENTINEL_KEY)
        open_close(SENTINEL)

        async def wait() -> None:
            while self.keys.count(SENTINEL_KEY) == before:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), EVENT_TIMEOUT)


def run(test: Coroutine[Any, Any, None]) -> None:
    asyncio.run(test)


async def started() -> tuple[DeviceNodeWatch, Released]:
    released = Released()
    watcher = DeviceNodeWatch(released)
    assert watcher.watch(KEY, NODE)
    assert watcher.watch(SENTINEL_KEY, SENTINEL)
    return watcher, released


def test_another_process_closing_the_node_is_one_release(nodes: UsbTestbed) -> None:
    async def test() -> None:
        watcher, released = await started()
        open_close(NODE)
        await released.until(KEY)
        await released.settled()
        assert released.keys.count(KEY) == 1
        watcher.close()

    run(test())


@pytest.mark.parametrize("in_thread", [False, True], ids=["on_loop", "in_io_thread"])
def test_own_access_is_no_release(nodes: UsbTestbed, in_thread: bool) -> None:
    def own_read(watcher: DeviceNodeWatch) -> None:
        with watcher.own_access(KEY):
            os.close(os.open(NODE, os.O_RDWR))
            os.close(os.open(NODE, os.O_RDONLY))  # an opener may well open a node twice

    async def test() -> None:
        watcher, released = await started()
        if in_thread:  # as the daemon does: its device I/O runs in a worker thread
            await asyncio.to_thread(own_read, watcher)
        else:
            own_read(watcher)
        await released.settled()
        assert KEY not in released.keys
        open_close(NODE)  # and another process's close afterwards still counts
        await released.until(KEY)
        watcher.close()

    run(test())


def node_holder() -> subprocess.Popen[str]:
    """Another process that opens NODE read-only, says so with a line, and closes it when a
    line arrives on its stdin."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys; f = open(sys.argv[1], 'rb'); print(flush=True);"
         " sys.stdin.readline(); f.close()", NODE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_holder_letting_go_during_own_access_is_a_release(nodes: UsbTestbed) -> None:
    """Another app held the device when the daemon tried it (a WebUSB read finds it busy) and
    let go meanwhile: that close must not be lost, or the daemon waits for a release forever.
    (It is caught here because the holder opened read-only and the daemon read-write: inotify
    would merge two identical closes queued back to back; see the module's docstring.)"""

    async def test() -> None:
        watcher, released = await started()
        holder = node_holder()
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdout.readline()  # it holds the node now
        with watcher.own_access(KEY):
            fd = os.open(NODE, os.O_RDWR)
            holder.stdin.write("\n")
            holder.stdin.close()
            assert holder.wait(EVENT_TIMEOUT) == 0
            os.close(fd)
        await released.until(KEY)
        await released.settled()
        assert released.keys.count(KEY) == 1
        watcher.close()

    run(test())


def test_a_node_another_process_still_holds_is_not_free_for_a_read(nodes: UsbTestbed) -> None:
    """A program lists the devices (opening and closing each node) and then holds one, as
    trezorctl does: the close is reported once the node is quiet, but a read must not start
    while the holder has it open; once the holder lets go it may."""

    async def test() -> None:
        watcher, released = await started()
        holder = node_holder()
        assert holder.stdin is not None and holder.stdout is not None
        open_close(NODE)
        holder.stdout.readline()  # it holds the node now
        await released.until(KEY)
        assert not await asyncio.to_thread(watcher.untouched_since_release, KEY)
        holder.stdin.write("\n")
        holder.stdin.close()
        assert holder.wait(EVENT_TIMEOUT) == 0
        await released.until(KEY, times=2)
        assert await asyncio.to_thread(watcher.untouched_since_release, KEY)
        watcher.close()

    run(test())


def test_unwatch_stops_reports(nodes: UsbTestbed) -> None:
    async def test() -> None:
        watcher, released = await started()
        watcher.unwatch(KEY)
        watcher.unwatch(KEY)
        open_close(NODE)
        await released.settled()
        assert KEY not in released.keys
        watcher.close()
        watcher.close()

    run(test())


def test_a_missing_or_vanished_node_does_not_raise(nodes: UsbTestbed) -> None:
    async def test() -> None:
        watcher, released = await started()
        assert not watcher.watch("webusb:001:9", "/dev/bus/usb/001/099")
        with watcher.own_access("webusb:001:9"):
            pass
        nodes.testbed.remove_device("/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1")
        os.unlink(nodes.root_dir + NODE)  # as devtmpfs does on unplug; umockdev leaves it
        assert not os.path.exists(NODE)
        await released.settled()  # the deletion has been handled, and was no release
        assert KEY not in released.keys
        with watcher.own_access(KEY):
            pass
        watcher.unwatch(KEY)
        assert not watcher.watch(KEY, NODE)
        watcher.close()

    run(test())


def test_many_closes_never_make_more_reports_than_closes(nodes: UsbTestbed) -> None:
    async def test() -> None:
        watcher, released = await started()
        open_close(NODE, times=20)
        open_close(NODE, times=5, flags=os.O_RDONLY)
        await released.until(KEY)
        await released.settled()
        assert 1 <= released.keys.count(KEY) <= 25
        watcher.close()

    run(test())


def test_udev_reports_the_node_apps_open(usb: UsbTestbed) -> None:
    """The usb_device's node, WebUSB and HID Model One alike (hidapi's libusb backend opens
    it, never hidraw), also when plugged in while watching; hidraw nodes are none of ours
    (a read detaches usbhid and attaches it again, and each time its hidraw node comes and
    goes)."""
    webusb = add_node_device(usb, 1)
    hid = add_node_device(usb, 2, vendor="534c", product="0001")

    def add_hidraw(usb_device: str, number: int, interface: str) -> None:
        parent = usb.testbed.add_device(
            "usb", f"{usb_device.rsplit('/', 1)[1]}:1.{int(interface)}", usb_device,
            ["bInterfaceNumber", interface], ["DEVTYPE", "usb_interface"],
        )  # fmt: skip
        usb.testbed.add_device(
            "hidraw", f"hidraw{number}", parent, [], ["DEVNAME", f"/dev/hidraw{number}"]
        )

    add_hidraw(hid, 0, "00")
    add_hidraw(webusb, 1, "01")

    async def test() -> None:
        events: asyncio.Queue[TrezorUsbEvent] = asyncio.Queue()
        watcher = UdevWatcher(events.put_nowait)
        present = watcher.start(asyncio.get_running_loop())
        devnodes = {(e.webusb, e.devnode) for e in present}
        assert devnodes == {(True, "/dev/bus/usb/001/002"), (False, "/dev/bus/usb/001/003")}

        later = add_node_device(usb, 3, vendor="534c", product="0001")
        add_hidraw(later, 2, "00")
        event = await asyncio.wait_for(events.get(), EVENT_TIMEOUT)
        assert (event.action, event.webusb, event.devnode) == ("add", False, "/dev/bus/usb/001/004")
        assert event.location is not None and event.location.port_numbers == (3,)
        watcher.stop()

    run(test())
