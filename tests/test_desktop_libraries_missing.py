"""`trezor-backup-applet` without its desktop libraries: one sentence naming what to install,
exit status 1, never a traceback. Each library is made unloadable in the applet's own process,
the way a venv without `--system-site-packages` or a system without the package sees it."""

from __future__ import annotations

import subprocess
import sys

import pytest

START = """
import sys
{block}
from trezor_backup_applet.startup import main
sys.exit(main())
"""
NO_GTK3 = """
import gi
def refuse(namespace, version):
    raise ValueError(f"Namespace {namespace} not available")
gi.require_version = refuse
"""


def start_applet(block: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", START.format(block=block), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("block", "named", "fix"),
    [
        (
            "sys.modules['gi'] = None",
            "PyGObject, GTK 3",
            "sudo apt install python3-gi gir1.2-gtk-3.0",
        ),
        (NO_GTK3, "GTK 3", "sudo apt install gir1.2-gtk-3.0"),
        ("sys.modules['PIL'] = None", "Pillow", "sudo apt install python3-pil"),
        (
            "sys.modules['desktop_notifier'] = None",
            "desktop-notifier",
            "pip install desktop-notifier",
        ),
    ],
)
def test_a_missing_library_is_named_with_its_package(block: str, named: str, fix: str) -> None:
    done = start_applet(block)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(
        f"trezor-backup-applet cannot start without {named}: install with {fix}"
    )
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr


def test_with_every_library_the_applet_starts() -> None:
    done = start_applet("")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: trezor-backup-applet")
