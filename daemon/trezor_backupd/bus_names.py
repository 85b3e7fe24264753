"""The names of the D-Bus contract (docs/dbus-api.md), in one place for the daemon, the
command line and the applet. No imports: clients take these without loading the daemon."""

BUS_NAME = "io.github.TrezorBackupGuard"
ROOT_PATH = "/io/github/TrezorBackupGuard"
DEVICES_PATH = f"{ROOT_PATH}/devices"
MANAGER_INTERFACE = f"{BUS_NAME}.Manager1"
DEVICE_INTERFACE = f"{BUS_NAME}.Device1"
AGENT_INTERFACE = f"{BUS_NAME}.Agent1"
ERROR_PREFIX = f"{BUS_NAME}.Error"
PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
