"""The applet's desktop integration files: valid entries, the shipped icon as the code draws it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image, ImageChops

from trezor_backup_applet.icons import Look, draw

DATA = Path(__file__).parent.parent / "applet" / "data"


def test_desktop_entries_are_valid_and_autostart_starts_quietly() -> None:
    entries = sorted(DATA.glob("*.desktop"))
    assert [e.name for e in entries] == [
        "io.github.TrezorBackupGuard.Applet-autostart.desktop",
        "io.github.TrezorBackupGuard.Applet.desktop",
    ]
    done = subprocess.run(["desktop-file-validate", *map(str, entries)], capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert "error" not in done.stdout
    assert "Exec=trezor-backup-applet --autostart\n" in entries[0].read_text()


def test_shipped_icon_is_the_drawn_calm_look() -> None:
    shipped = Image.open(DATA / "io.github.TrezorBackupGuard.Applet.png").convert("RGBA")
    assert shipped.size == (256, 256)
    assert ImageChops.difference(shipped, draw(Look.OK, 256)).getbbox() is None


def test_every_look_is_distinct_in_shape_not_only_colour() -> None:
    """Grey versions of the looks differ: readable without colour vision."""
    greys = [draw(look, 22).convert("LA") for look in Look]
    for i, first in enumerate(greys):
        for second in greys[i + 1 :]:
            alpha_first, alpha_second = first.getchannel("A"), second.getchannel("A")
            light_first = first.getchannel("L").point(lambda v: 255 if v > 200 else 0)
            light_second = second.getchannel("L").point(lambda v: 255 if v > 200 else 0)
            assert (
                ImageChops.difference(alpha_first, alpha_second).getbbox() is not None
                or ImageChops.difference(light_first, light_second).getbbox() is not None
            )
