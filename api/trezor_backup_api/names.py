"""The names of the D-Bus contract (docs/dbus-api.md): bus name, object paths, interfaces,
error names and the Device1 properties with their types, and the rule every device id
follows. The introspection XML shipped with the daemon is their machine-readable form."""

import re

BUS_NAME = "io.github.TrezorBackupGuard"
ROOT_PATH = "/io/github/TrezorBackupGuard"
DEVICES_PATH = f"{ROOT_PATH}/devices"
MANAGER_INTERFACE = f"{BUS_NAME}.Manager1"
DEVICE_INTERFACE = f"{BUS_NAME}.Device1"
AGENT_INTERFACE = f"{BUS_NAME}.Agent1"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"

ERROR_PREFIX = f"{BUS_NAME}.Error"
"""The daemon's errors are `ERROR_PREFIX + "." + Refusal`, `HistoryUnavailable` or
`PermissionDenied` (docs/dbus-api.md, Errors)."""
AGENT_CANCELLED_ERROR = f"{BUS_NAME}.Agent.Error.Cancelled"
"""What the applet's and the CLI's agents answer when the owner gives no answer (the daemon
takes any error as "cancel the operation")."""
AGENT_REFUSED_ERROR = "org.freedesktop.DBus.Error.AccessDenied"
"""What an agent answers a caller it does not serve (see `agent.AgentExport`)."""

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"


def error_name(short: str) -> str:
    """The full D-Bus name of one of the daemon's errors, e.g. `Busy` (a `Refusal`),
    `HistoryUnavailable` or `PermissionDenied`: the one place such a name is built."""
    return f"{ERROR_PREFIX}.{short}"


def short_error_name(name: str) -> str:
    """`Busy`, `NotPossible`, ... of one of the daemon's error names; "" for any other name."""
    prefix = ERROR_PREFIX + "."
    return name.removeprefix(prefix) if name.startswith(prefix) else ""


PERMISSION_DENIED_ERROR = error_name("PermissionDenied")
"""A caller of another uid asked for what only the daemon's own user may do."""
HISTORY_UNAVAILABLE_ERROR = error_name("HistoryUnavailable")
"""The daemon runs without its history file, which the call needs."""


MAX_DEVICE_ID_LENGTH = 128
"""The longest device id, the same for every caller: the tracker taking a Trezor's own
device_id, the bus checking an id a client sends, the history storing one. A Trezor's
device_id is 24 hex digits; an `at_` id is as long as the place it names, and an emulator
endpoint's (`udp:HOST:PORT`) grows with its host name. The bus must accept back every id the
daemon publishes and the history store every id an operation runs on, so the limit cannot be
lower for the bus than for the tracker, nor for the history than for the bus (it was 80 on the
bus, 64 in the tracker and 128 in the history: an `at_` id of 81 to 128 characters was
published and then refused as an argument). 128 is the history's limit, which its file
already holds to; it still bounds what a hostile Trezor or caller can make the daemon keep."""

_DEVICE_ID = re.compile(rf"[A-Za-z0-9_]{{1,{MAX_DEVICE_ID_LENGTH}}}")


def is_device_id(text: str) -> bool:
    """Whether `text` can be a device id: 1 to MAX_DEVICE_ID_LENGTH letters, digits or
    underscores, which is also what an element of an object path may hold (`device_path`)."""
    return _DEVICE_ID.fullmatch(text) is not None


def is_trezor_device_id(text: str) -> bool:
    """Whether a device_id a Trezor reports can name it: a device id without underscores, so
    that it can never pass for an `at_` id (`names_a_place`)."""
    return is_device_id(text) and "_" not in text


def device_path(device_id: str) -> str:
    """The object path of a device; docs/dbus-api.md builds it from the `Id` property."""
    return f"{DEVICES_PATH}/{device_id}"


def names_a_place(device_id: str) -> bool:
    """Whether an id names where a device is connected rather than the device: docs/dbus-api.md's
    `at_` ids of a device that has not told its device_id (an unpaired or locked Safe 7, a busy
    Trezor). Such an id means nothing once that object is removed."""
    return device_id.startswith("at_")


def device_id_of(path: str) -> str:
    """The device id at the end of a device object path."""
    return path.rsplit("/", 1)[-1]


DEVICE_PROPERTIES: dict[str, tuple[str, str]] = {
    "Id": ("id", "s"),
    "State": ("state", "s"),
    "Explanation": ("explanation", "s"),
    "NextStep": ("next_step", "s"),
    "ExplanationText": ("explanation_text", "a(ssa{ss})"),
    "NextStepText": ("next_step_text", "a(ssa{ss})"),
    "Model": ("model", "s"),
    "InternalModel": ("internal_model", "s"),
    "Label": ("label", "s"),
    "FirmwareVersion": ("firmware_version", "s"),
    "BackupType": ("backup_type", "s"),
    "DryRunInProgress": ("dry_run_in_progress", "b"),
    "Locked": ("locked", "b"),
    "StateReadTime": ("state_read_time", "t"),
    "LastCheckTime": ("last_check_time", "t"),
    "LastCheckResult": ("last_check_result", "s"),
    "Transport": ("transport", "s"),
    "Operation": ("operation", "s"),
}
"""Every Device1 property, in docs/dbus-api.md's order: D-Bus name -> (the record's field,
D-Bus signature). The daemon publishes with these signatures (and `GetDevices` uses the same
keys); the record (`device.DeviceRecord`) decodes with them. Here, with the other names of
the contract, rather than beside the record, so that `status --json` names the properties
without loading the record's machinery."""

PROPERTY_SIGNATURES = {name: signature for name, (_, signature) in DEVICE_PROPERTIES.items()}
"""Every Device1 property and its D-Bus type."""

PROPERTY_NAMES = tuple(DEVICE_PROPERTIES)
"""The documented Device1 properties, in the order scripts and people read them best."""
