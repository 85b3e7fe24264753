"""The `trezor-backup-applet` command: first make sure the desktop libraries are there.

A pip install brings the pure-Python parts, but PyGObject and GTK come from the distribution
(Debian 12's python3 has no usable PyGObject wheel to build against without headers). Without
them the applet would die in an import traceback; instead it names the packages to install, in
one sentence, and exits 1.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

EXIT_MISSING = 1


def _gtk3() -> None:
    """The GTK 3 typelib is installed (ValueError if not), without loading GTK itself, which
    would talk to the display before the applet wants it to."""
    import gi

    gi.require_version("Gtk", "3.0")


# What the applet needs, how to find out whether it is there, and what to install on Debian.
REQUIREMENTS: tuple[tuple[str, Callable[[], object], str], ...] = (
    ("PyGObject", lambda: importlib.import_module("gi"), "python3-gi"),
    ("GTK 3", _gtk3, "gir1.2-gtk-3.0"),
    ("Pillow", lambda: importlib.import_module("PIL.ImageDraw"), "python3-pil"),
    ("dbus-fast", lambda: importlib.import_module("dbus_fast"), "pip install 'dbus-fast>=2'"),
    (
        "desktop-notifier",
        lambda: importlib.import_module("desktop_notifier"),
        "pip install desktop-notifier",
    ),
)


def missing() -> list[tuple[str, str]]:
    """(library, Debian package or pip command) of each requirement that cannot be loaded."""
    gaps = []
    for name, load, remedy in REQUIREMENTS:
        try:
            load()
        except (ImportError, ValueError):  # ValueError: gi has no such typelib version
            gaps.append((name, remedy))
    return gaps


def missing_message(gaps: list[tuple[str, str]]) -> str:
    names = ", ".join(name for name, _ in gaps)
    packages = " ".join(r for _, r in gaps if not r.startswith("pip "))
    pips = " and ".join(r for _, r in gaps if r.startswith("pip "))
    fixes = []
    if packages:
        fixes.append(
            f"sudo apt install {packages} (in a virtual environment, make it with "
            "python3 -m venv --system-site-packages so that it sees them)"
        )
    if pips:
        fixes.append(pips)
    return f"trezor-backup-applet cannot start without {names}: install with {' and '.join(fixes)}."


def main() -> int:
    gaps = missing()
    if gaps:
        print(missing_message(gaps), file=sys.stderr)
        return EXIT_MISSING
    from .main import main as run_applet

    return run_applet()
