"""The names of the D-Bus contract (docs/dbus-api.md): bus name, object paths, interfaces and
error names. The introspection XML shipped with the daemon is their machine-readable form."""

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
    """The full D-Bus name of one of the daemon's errors, e.g. `Busy`."""
    return f"{ERROR_PREFIX}.{short}"


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
