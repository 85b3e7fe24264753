"""The D-Bus face of the daemon: io.github.TrezorBackupGuard on the session bus.

A thin layer over DeviceTracker: it turns tracked devices into objects with properties and
signals, and method calls into tracker queries. It knows nothing of USB or trezorlib; the
contract it implements is written down in docs/dbus-api.md and in the shipped introspection
XML, which a test keeps equal to what is exported here.
"""

import re
from typing import Annotated, Any, Protocol

from dbus_fast import DBusError, ErrorType, PropertyAccess, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusBool,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt64,
)
from dbus_fast.service import ServiceInterface, dbus_method, dbus_property, dbus_signal

from . import __version__
from .device_tracker import TrackedDevice

BUS_NAME = "io.github.TrezorBackupGuard"
ROOT_PATH = "/io/github/TrezorBackupGuard"
DEVICES_PATH = f"{ROOT_PATH}/devices"
MANAGER_INTERFACE = f"{BUS_NAME}.Manager1"
DEVICE_INTERFACE = f"{BUS_NAME}.Device1"
ERROR_PREFIX = f"{BUS_NAME}.Error"

DeviceDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
DeviceDictList = Annotated[list[dict[str, Variant]], DBusSignature("aa{sv}")]

DEVICE_PROPERTY_SIGNATURES: dict[str, str] = {
    "Id": "s",
    "State": "s",
    "Explanation": "s",
    "NextStep": "s",
    "Model": "s",
    "InternalModel": "s",
    "Label": "s",
    "FirmwareVersion": "s",
    "BackupType": "s",
    "DryRunInProgress": "b",
    "LastCheckTime": "t",
    "LastCheckResult": "s",
    "Transport": "s",
}
"""Every Device1 property and its D-Bus type; GetDevices uses the same keys."""


def device_object_path(device_id: str) -> str:
    """The object path of a device; ids are validated to be path-safe by the tracker."""
    return f"{DEVICES_PATH}/{device_id}"


def device_property_values(device: TrackedDevice) -> dict[str, Any]:
    """The Device1 property values of a tracked device, as plain Python values."""
    status = device.status
    last_check = status.last_check
    return {
        "Id": device.id,
        "State": status.state.value,
        "Explanation": status.explanation,
        "NextStep": status.next_step,
        "Model": status.model,
        "InternalModel": status.internal_model,
        "Label": status.label,
        "FirmwareVersion": status.firmware_version,
        "BackupType": status.backup_type,
        "DryRunInProgress": status.dry_run_in_progress,
        "LastCheckTime": int(last_check.when.timestamp()) if last_check else 0,
        "LastCheckResult": ("passed" if last_check.passed else "mismatch") if last_check else "",
        "Transport": device.transport_path,
    }


def device_dict(device: TrackedDevice) -> dict[str, Variant]:
    """A device as GetDevices returns it: the properties as an a{sv} dictionary."""
    return {
        name: Variant(DEVICE_PROPERTY_SIGNATURES[name], value)
        for name, value in device_property_values(device).items()
    }


class DeviceObject(ServiceInterface):
    """io.github.TrezorBackupGuard.Device1 for one connected Trezor."""

    def __init__(self, device: TrackedDevice) -> None:
        super().__init__(DEVICE_INTERFACE)
        self._values = device_property_values(device)

    def update(self, device: TrackedDevice) -> None:
        """Take the device's new status and announce the properties that changed."""
        values = device_property_values(device)
        changed = {name: value for name, value in values.items() if self._values[name] != value}
        self._values = values
        if changed:
            self.emit_properties_changed(changed)

    @dbus_property(access=PropertyAccess.READ)
    def Id(self) -> DBusStr:
        return str(self._values["Id"])

    @dbus_property(access=PropertyAccess.READ)
    def State(self) -> DBusStr:
        return str(self._values["State"])

    @dbus_property(access=PropertyAccess.READ)
    def Explanation(self) -> DBusStr:
        return str(self._values["Explanation"])

    @dbus_property(access=PropertyAccess.READ)
    def NextStep(self) -> DBusStr:
        return str(self._values["NextStep"])

    @dbus_property(access=PropertyAccess.READ)
    def Model(self) -> DBusStr:
        return str(self._values["Model"])

    @dbus_property(access=PropertyAccess.READ)
    def InternalModel(self) -> DBusStr:
        return str(self._values["InternalModel"])

    @dbus_property(access=PropertyAccess.READ)
    def Label(self) -> DBusStr:
        return str(self._values["Label"])

    @dbus_property(access=PropertyAccess.READ)
    def FirmwareVersion(self) -> DBusStr:
        return str(self._values["FirmwareVersion"])

    @dbus_property(access=PropertyAccess.READ)
    def BackupType(self) -> DBusStr:
        return str(self._values["BackupType"])

    @dbus_property(access=PropertyAccess.READ)
    def DryRunInProgress(self) -> DBusBool:
        return bool(self._values["DryRunInProgress"])

    @dbus_property(access=PropertyAccess.READ)
    def LastCheckTime(self) -> DBusUInt64:
        return int(self._values["LastCheckTime"])

    @dbus_property(access=PropertyAccess.READ)
    def LastCheckResult(self) -> DBusStr:
        return str(self._values["LastCheckResult"])

    @dbus_property(access=PropertyAccess.READ)
    def Transport(self) -> DBusStr:
        return str(self._values["Transport"])


_DEVICE_ID = re.compile(r"[A-Za-z0-9_]{1,80}")


class DeviceDirectory(Protocol):
    """What the manager object serves: the tracker, seen from the bus."""

    def devices(self) -> list[TrackedDevice]: ...

    async def refresh(self) -> None: ...


class ManagerObject(ServiceInterface):
    """io.github.TrezorBackupGuard.Manager1: the device list, for the applet, CLI and scripts."""

    def __init__(self, directory: DeviceDirectory) -> None:
        super().__init__(MANAGER_INTERFACE)
        self._directory = directory

    @dbus_property(access=PropertyAccess.READ)
    def Version(self) -> DBusStr:
        return __version__

    @dbus_method()
    def GetDevices(self) -> DeviceDictList:
        return [device_dict(device) for device in self._directory.devices()]

    @dbus_method()
    def GetDevice(self, device_id: DBusStr) -> DeviceDict:
        if not _DEVICE_ID.fullmatch(device_id):
            raise DBusError(
                ErrorType.INVALID_ARGS,
                "device id must be 1 to 80 letters, digits or underscores, "
                "as in the Id property; see GetDevices",
            )
        for device in self._directory.devices():
            if device.id == device_id:
                return device_dict(device)
        raise DBusError(
            f"{ERROR_PREFIX}.NoSuchDevice", f"no Trezor with id {device_id} is connected"
        )

    @dbus_method()
    async def Refresh(self) -> None:
        await self._directory.refresh()

    @dbus_signal()
    def DeviceAdded(self, path: str) -> DBusObjectPath:
        return path

    @dbus_signal()
    def DeviceRemoved(self, path: str) -> DBusObjectPath:
        return path


class BusPublisher:
    """Mirrors the tracker's device set onto the bus (a DeviceListener)."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self._manager: ManagerObject | None = None
        self._objects: dict[str, DeviceObject] = {}

    def export_manager(self, manager: ManagerObject) -> None:
        """Export the root object; device objects are announced through its signals."""
        self._bus.export(ROOT_PATH, manager)
        self._manager = manager

    def device_added(self, device: TrackedDevice) -> None:
        path = device_object_path(device.id)
        interface = DeviceObject(device)
        self._objects[device.id] = interface
        self._bus.export(path, interface)
        if self._manager is not None:
            self._manager.DeviceAdded(path)

    def device_changed(self, device: TrackedDevice) -> None:
        self._objects[device.id].update(device)

    def device_removed(self, device: TrackedDevice) -> None:
        path = device_object_path(device.id)
        if self._objects.pop(device.id, None) is not None:
            self._bus.unexport(path)
            if self._manager is not None:
                self._manager.DeviceRemoved(path)
