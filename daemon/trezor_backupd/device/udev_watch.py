"""udev watching: tell the asyncio loop when a Trezor is plugged into or out of USB.

Knows USB IDs and udev, nothing of trezorlib sessions or D-Bus. pyudev has no asyncio
support of its own, so the monitor's socket is read with ``loop.add_reader``; the monitor is
started before the coldplug listing so that no device can slip through the gap.

A HID Model One (534c:0001) is reported by its usb_device too: trezorlib talks to it through
hidapi's libusb backend (the ``hid`` module, pip's and Debian's alike), which opens that node
and detaches usbhid, never the hidraw node; a hidraw node's events are none of ours.
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
    """The device speaks WebUSB (trezorlib's ``webusb:`` path), not HID (``hid:``)."""
    devnode: str | None = None
    """The usb_device's node (udev's DEVNAME, ``/dev/bus/usb/001/004``), to notice when an
    app that opened it lets go. None on a rescan or without one."""


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
        monitor.start()
        self._monitor = monitor
        listed = self._context.list_devices(subsystem="usb", DEVTYPE="usb_device")
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
