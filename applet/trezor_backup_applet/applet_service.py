"""io.github.TrezorBackupGuard.Applet1, on the applet's bus name: `ShowWindow()`, so that
starting the app a second time (from the app grid, `trezor-backup-guard`) opens the running
applet's main window instead of a second applet. Any session process may call it: it only
shows a window. (No `from __future__ import annotations` here: dbus-fast reads the annotations.)
"""

from typing import Protocol

from dbus_fast.service import ServiceInterface, dbus_method

from trezor_backup_api.names import BUS_NAME, ROOT_PATH

APPLET_INTERFACE = f"{BUS_NAME}.Applet1"
APPLET_PATH = f"{ROOT_PATH}/applet"


class WindowOwner(Protocol):
    def show_window(self, device_id: str = "") -> None: ...


class AppletObject(ServiceInterface):
    """The applet's one method on the bus."""

    def __init__(self, applet: WindowOwner) -> None:
        super().__init__(APPLET_INTERFACE)
        self._applet = applet

    @dbus_method()
    def ShowWindow(self) -> None:
        self._applet.show_window()
