"""udev watching: tell the asyncio loop when a Trezor is plugged into or out of USB.

Knows USB IDs and udev, nothing of trezorlib sessions or D-Bus. pyudev has no asyncio
support of its own, so the monitor's socket is read with ``loop.add_reader``; the monitor is
started before the coldplug listing so that no device can slip through the gap.

Besides the usb_device it reports the hidraw node of a HID Model One (534c:0001): hidapi apps,
trezorlib among them, open that node rather than the usb_device's. A hidraw node appears after
its usb_device, so its "add" is also the moment trezorlib can first list such a device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import pyudev

from trezor_backup_api.usb_ids import TREZOR_USB_IDS, WEBUSB_IDS

from .device_io import UsbLocation

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrezorUsbEvent:
    """A Trezor appeared on or left the USB bus."""

    action: str  # "add", "remove", or "rescan" after lost events
    location: UsbLocation | None
    webusb: bool = False
    """The device speaks WebUSB, so trezorlib names it by its location (not HID's hidraw)."""
    devnode: str | None = None
    """The device's node (udev's DEVNAME), to notice when an app that opened it lets go:
    ``/dev/bus/usb/001/004`` for a usb_device, ``/dev/hidraw0`` for a HID Model One's hidraw
    node (which trezorlib opens, as ``hid:/dev/hidraw0``). None on a rescan or without one."""


def _usb_id(device: pyudev.Device) -> tuple[int, int] | None:
    """Vendor and product id from the event itself: sysfs attributes are gone on remove."""
    product = device.properties.get("PRODUCT")  # set by the kernel: "1209/53c1/100"
    try:
        if product:
            vendor_hex, product_hex, *_ = product.split("/")
            return int(vendor_hex, 16), int(product_hex, 16)
        vendor_hex = device.properties.get("ID_VENDOR_ID") or device.attributes.asstring("idVendor")
        product_hex = device.properties.get("ID_MODEL_ID") or device.attributes.asstring(
            "idProduct"
        )
        return int(vendor_hex, 16), int(product_hex, 16)
    except (KeyError, ValueError):
        return None


def _location(device: pyudev.Device) -> UsbLocation | None:
    """Bus number and port chain from BUSNUM and the sysfs name (``1-1.4`` -> ports 1, 4)."""
    busnum = device.properties.get("BUSNUM")
    _, _, ports = device.sys_name.partition("-")
    try:
        return UsbLocation(int(busnum or ""), tuple(int(p) for p in ports.split(".")))
    except ValueError:
        return None


def trezor_event(action: str, device: pyudev.Device) -> TrezorUsbEvent | None:
    """The event as we care about it, or None when it is not a Trezor's USB device."""
    if device.subsystem == "hidraw":
        return _hid_wire_event(action, device)
    if device.properties.get("DEVTYPE") != "usb_device":
        return None
    usb_id = _usb_id(device)
    if usb_id not in TREZOR_USB_IDS:
        return None
    return TrezorUsbEvent(
        action,
        _location(device),
        webusb=usb_id in WEBUSB_IDS,
        devnode=device.properties.get("DEVNAME"),
    )


def _hid_wire_event(action: str, device: pyudev.Device) -> TrezorUsbEvent | None:
    """The "add" of a HID Model One's hidraw node, which trezorlib opens to talk to it.

    Only "add": on remove the parents are gone from sysfs, so the event cannot tell whose node
    it was, and the usb_device's own "remove" says the same. Only interface 0: a WebUSB
    Trezor's hidraw node is its FIDO/U2F interface, which browsers open and close freely.
    """
    if action != "add" or not device.properties.get("DEVNAME"):
        return None
    usb_device = device.find_parent("usb", "usb_device")
    if usb_device is None:
        return None
    usb_id = _usb_id(usb_device)
    if usb_id not in TREZOR_USB_IDS or usb_id in WEBUSB_IDS:
        return None
    usb_interface = device.find_parent("usb", "usb_interface")
    if usb_interface is not None and usb_interface.attributes.get("bInterfaceNumber") != b"00":
        return None
    return TrezorUsbEvent(action, _location(usb_device), devnode=device.properties["DEVNAME"])


class UdevWatcher:
    """Delivers Trezor add/remove events to a callback on the running asyncio loop."""

    def __init__(self, on_event: Callable[[TrezorUsbEvent], None]) -> None:
        self._on_event = on_event
        self._context = pyudev.Context()
        self._monitor: pyudev.Monitor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> list[TrezorUsbEvent]:
        """Start listening and return the Trezors already plugged in (coldplug)."""
        monitor = pyudev.Monitor.from_netlink(self._context)
        monitor.filter_by("usb")
        monitor.filter_by("hidraw")
        monitor.start()
        self._monitor = monitor
        listed = [
            *self._context.list_devices(subsystem="usb", DEVTYPE="usb_device"),
            *self._context.list_devices(subsystem="hidraw"),
        ]
        present = [event for device in listed if (event := trezor_event("add", device)) is not None]
        loop.add_reader(monitor.fileno(), self._drain)
        self._loop = loop
        return present

    def _drain(self) -> None:
        assert self._monitor is not None
        while True:
            try:
                device = self._monitor.poll(0)
            except OSError as error:
                # A netlink overflow loses events; whoever listens must rescan.
                LOG.warning("udev monitor error (%s); rescanning", error)
                self._on_event(TrezorUsbEvent("rescan", None))
                return
            if device is None:
                return
            event = trezor_event(device.action or "", device)
            if event is not None:
                LOG.debug("udev %s of a Trezor at %s", event.action, event.location)
                self._on_event(event)

    def stop(self) -> None:
        """Stop listening; safe to call twice."""
        if self._monitor is not None and self._loop is not None:
            self._loop.remove_reader(self._monitor.fileno())
        self._monitor = None
