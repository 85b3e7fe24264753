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

from trezor_backup_api.i18n import _

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
    """The one sentence naming what is missing and the commands that install it."""
    libraries = ", ".join(name for name, _remedy in gaps)
    packages = " ".join(r for _name, r in gaps if not r.startswith("pip "))
    apt = f"sudo apt install {packages}"
    pips = [r.removeprefix("pip install ") for _name, r in gaps if r.startswith("pip ")]
    pip = f"pip install {' '.join(pips)}"
    if packages and pips:
        sentence = _(
            "trezor-backup-applet cannot start without {libraries}: install with {apt} (in a "
            "virtual environment, make it with python3 -m venv --system-site-packages so that "
            "it sees them) and {pip}."
        )
    elif packages:
        sentence = _(
            "trezor-backup-applet cannot start without {libraries}: install with {apt} (in a "
            "virtual environment, make it with python3 -m venv --system-site-packages so that "
            "it sees them)."
        )
    else:
        sentence = _("trezor-backup-applet cannot start without {libraries}: install with {pip}.")
    return sentence.format(libraries=libraries, apt=apt, pip=pip)


def main() -> int:
    gaps = missing()
    if gaps:
        print(missing_message(gaps), file=sys.stderr)
        return EXIT_MISSING
    from .main import main as run_applet

    return run_applet()
