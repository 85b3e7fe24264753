"""The daemon for a one-shot client: a few method calls over a blocking connection.

Why a second transport beside `client.DaemonClient`: `trezor-backupctl status` is run by
scripts and prompts, and most of its time was start-up: dbus-fast cannot be imported without
asyncio, ssl and its service machinery (about 40 ms, more than the interpreter's own start),
and an event loop is no help for one call and its reply. jeepney's blocking connection (pure
Python, the D-Bus library secretstorage is built on, so already installed) costs a few
milliseconds. It raises the same `DaemonUnreachable` and `DaemonError` as `DaemonClient`, by
the same mapping (daemon_errors), and imports nothing costly itself: neither dbus-fast nor
the dataclasses of the records and events. jeepney speaks to unix sockets only, which every
session bus of dbus-daemon and dbus-broker is; a tcp: session bus is reported unreachable.
"""

from __future__ import annotations

from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageFlag, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from .daemon_errors import (
    CALL_TIMEOUT_SECONDS,
    DISCONNECTED_ERROR,
    TIMEOUT_ERROR,
    BusCallError,
    DaemonUnreachable,
    daemon_failure,
    session_bus_address,
)
from .names import BUS_NAME, MANAGER_INTERFACE, PROPERTIES_INTERFACE, ROOT_PATH, device_path


def _plain(value: Any) -> Any:
    """Variants unwrapped, as `device.plain` gives them: jeepney decodes a variant as its
    (signature, value) pair. Only the values of `a{sv}` are variants in this API."""
    if isinstance(value, dict):
        return {key: _plain(item[1]) if _is_variant(item) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _is_variant(value: Any) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)


class BlockingBus:
    """One authenticated connection to the session bus; calls wait for their reply."""

    def __init__(self, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        address = session_bus_address()
        try:
            self._connection: DBusConnection = open_dbus_connection(bus=address)
        except Exception as error:  # no socket, refused, Hello failed, no unix: transport
            reason = str(error) or type(error).__name__
            raise DaemonUnreachable(f"no session bus at {address}: {reason}") from None

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> BlockingBus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(
        self,
        destination: str,
        path: str,
        interface: str,
        member: str,
        *args: str,
        autostart: bool = True,
    ) -> list[Any]:
        """The reply's values; any failure is a BusCallError, as `client.call` raises."""
        address = DBusAddress(path, bus_name=destination, interface=interface)
        message = new_method_call(address, member, "s" * len(args) or None, args)
        if not autostart:
            message.header.flags |= MessageFlag.no_auto_start
        try:
            reply = self._connection.send_and_get_reply(message, timeout=self._timeout)
        except TimeoutError:
            raise BusCallError(
                member, TIMEOUT_ERROR, f"no reply within {self._timeout:g} s"
            ) from None
        except OSError as error:
            raise BusCallError(member, DISCONNECTED_ERROR, f"lost the bus: {error}") from None
        values = [_plain(value) for value in reply.body]
        if reply.header.message_type == MessageType.error:
            from .i18n import sentences_from_bus  # only on an error: a cheap import otherwise

            name = str(reply.header.fields.get(HeaderFields.error_name, "unknown"))
            text = str(values[0]) if values else ""
            sentences = sentences_from_bus(values[1]) if len(values) > 1 else ()
            raise BusCallError(member, name, text, sentences)
        return values


class BlockingDaemonClient:
    """The `Manager1` calls `status` makes, with `DaemonClient`'s errors."""

    def __init__(self, bus: BlockingBus) -> None:
        self._bus = bus

    def _call(self, path: str, interface: str, member: str, *args: str, **options: Any) -> Any:
        try:
            return self._bus.call(BUS_NAME, path, interface, member, *args, **options)
        except BusCallError as error:
            raise daemon_failure(error) from None

    def get_devices(self) -> dict[str, dict[str, Any]]:
        """`Manager1.GetDevices()` (starting the daemon): every connected device's properties
        by object path, plain values by D-Bus name. The properties as they are, not as
        `DeviceRecord`s (`DaemonClient.get_devices`): `status --json` prints them so, and
        `DeviceRecord.from_properties` makes a record of them where one is needed."""
        (devices,) = self._call(ROOT_PATH, MANAGER_INTERFACE, "GetDevices")
        return {device_path(str(properties.get("Id", ""))): properties for properties in devices}

    def history_problem(self) -> str:
        """`Manager1.HistoryProblem`, as `DaemonClient.history_problem` (NO_AUTO_START)."""
        (problem,) = self._call(
            ROOT_PATH,
            PROPERTIES_INTERFACE,
            "Get",
            MANAGER_INTERFACE,
            "HistoryProblem",
            autostart=False,
        )
        return str(problem[1] if _is_variant(problem) else problem)

    def refresh(self) -> None:
        """`Manager1.Refresh()`: read every connected device again."""
        self._call(ROOT_PATH, MANAGER_INTERFACE, "Refresh")
