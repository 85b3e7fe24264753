"""GTK 3 through PyGObject, set up once for every window of the applet.

The program name must be set before Gtk is imported (PyGObject initialises GTK on import, and
GTK takes the name then): it becomes the windows' WM_CLASS and the Wayland application id, the
name desktops match with `io.github.TrezorBackupGuard.Applet.desktop` (its StartupWMClass) to
show the right name and icon in the taskbar. Import Gtk from here, never directly.
"""

from __future__ import annotations

from typing import Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
gi.require_version("GdkPixbuf", "2.0")

from gi.repository import GLib  # noqa: E402

APP_ID = "io.github.TrezorBackupGuard.Applet"
APP_NAME = "Trezor Backup Guard"

GLib.set_prgname(APP_ID)
GLib.set_application_name(APP_NAME)

from gi.repository import Gdk, GdkPixbuf, Gio, GObject, Gtk  # noqa: E402

Gdk.set_program_class(APP_ID)

__all__ = ["APP_ID", "APP_NAME", "GLib", "GObject", "Gdk", "Gio", "Gtk", "init_gtk", "pixbuf_of"]


def init_gtk() -> bool:
    """Open the display now if it was not there when Gtk was imported; False when there is
    none. PyGObject remembers its import-time attempt and refuses windows after a failed one,
    so a display that came later (the tests import first, then start Xvfb) is recorded there."""
    import gi.overrides.Gtk as overrides

    if Gtk.init_check()[0]:
        overrides.initialized = True
    return bool(overrides.initialized)


def pixbuf_of(image: Any) -> GdkPixbuf.Pixbuf:
    """A Pillow RGBA image as a GdkPixbuf (window icons, state icons in the main window)."""
    rgba = image.convert("RGBA")
    width, height = rgba.size
    return GdkPixbuf.Pixbuf.new_from_bytes(
        GLib.Bytes.new(rgba.tobytes()), GdkPixbuf.Colorspace.RGB, True, 8, width, height, width * 4
    )
