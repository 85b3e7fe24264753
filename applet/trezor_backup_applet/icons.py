"""The tray icon's looks, drawn with Pillow at whatever size the tray asks for.

Each look has its own silhouette, not just its own colour, so it reads for colour-blind
owners and on monochrome panels: a shield with a tick (nothing to do), a shield with a
question mark (needs attention), a warning triangle with "!" (danger), a shield with three
dots (an operation runs), a grey shield with a bar (the backup service is not running: the
applet cannot vouch for anything). Drawing at 4x and downsampling keeps small sizes crisp.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, ImageDraw

from trezor_backup_api.i18n import N_, _
from trezor_backup_api.urgency import CALM_STATES, DANGER_STATES

from .device_mirror import Device


class Look(enum.Enum):
    """What the icon says at a glance, from best to worst (busy aside)."""

    OK = "ok"
    ATTENTION = "attention"
    DANGER = "danger"
    BUSY = "busy"
    OFFLINE = "offline"


_LOOK_NAMES = {
    Look.OK: N_("Nothing to do"),
    Look.ATTENTION: N_("Needs attention"),
    Look.DANGER: N_("Danger"),
    Look.BUSY: N_("Busy"),
    Look.OFFLINE: N_("The backup service is not running"),
}


def look_name(look: Look) -> str:
    """What the look says, in words: the name a screen reader gives the icon, so that no
    state is told by its colour and shape alone."""
    return _(_LOOK_NAMES[look])


_COLOURS = {
    Look.OK: (46, 160, 67),
    Look.ATTENTION: (230, 160, 0),
    Look.DANGER: (210, 40, 40),
    Look.BUSY: (40, 110, 210),
    Look.OFFLINE: (120, 120, 120),
}
_SCALE = 4


def look_of_state(state: str) -> Look:
    """The look one device's backup state calls for: the urgency levels of
    trezor_backup_api.urgency, so the icon and the order of every list agree."""
    if state in DANGER_STATES:
        return Look.DANGER
    if state in CALM_STATES:
        return Look.OK
    return Look.ATTENTION


def look_for(devices: Iterable[Device], daemon_running: bool = True) -> Look:
    """The icon for the connected devices: busy while any runs an operation, else the worst;
    offline while the daemon is not there to say."""
    if not daemon_running:
        return Look.OFFLINE
    connected = [d for d in devices if d.connected]
    if any(d.operation for d in connected):
        return Look.BUSY
    order = [Look.OK, Look.ATTENTION, Look.DANGER]
    return max((look_of_state(d.state) for d in connected), key=order.index, default=Look.OK)


def draw(look: Look, size: int = 64) -> Image.Image:
    """The icon as an RGBA image of size x size pixels."""
    big = size * _SCALE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    colour = _COLOURS[look]
    outline = (255, 255, 255, 255)
    width = max(big // 16, 1)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x * big, y * big)

    if look is Look.DANGER:
        pen.polygon(
            [at(0.5, 0.04), at(0.97, 0.93), at(0.03, 0.93)],
            fill=colour,
            outline=outline,
            width=width,
        )
        pen.rounded_rectangle([at(0.44, 0.3), at(0.56, 0.68)], radius=big // 30, fill=outline)
        pen.ellipse([at(0.43, 0.73), at(0.57, 0.86)], fill=outline)
        return image.resize((size, size), Image.Resampling.LANCZOS)

    shield = [
        at(0.5, 0.03),
        at(0.92, 0.17),
        at(0.88, 0.55),
        at(0.5, 0.97),
        at(0.12, 0.55),
        at(0.08, 0.17),
    ]
    pen.polygon(shield, fill=colour, outline=outline, width=width)
    stroke = big // 9
    if look is Look.OK:
        pen.line(
            [at(0.28, 0.5), at(0.45, 0.67), at(0.74, 0.32)],
            fill=outline,
            width=stroke,
            joint="curve",
        )
    elif look is Look.ATTENTION:
        pen.arc([at(0.33, 0.18), at(0.67, 0.5)], start=180, end=90, fill=outline, width=stroke)
        pen.line([at(0.5, 0.49), at(0.5, 0.62)], fill=outline, width=stroke)
        pen.ellipse([at(0.44, 0.7), at(0.56, 0.82)], fill=outline)
    elif look is Look.OFFLINE:
        pen.line([at(0.28, 0.5), at(0.72, 0.5)], fill=outline, width=stroke)
    else:
        for x in (0.3, 0.5, 0.7):
            pen.ellipse([at(x - 0.07, 0.4), at(x + 0.07, 0.54)], fill=outline)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def write_look_icons(directory: Path, size: int = 64) -> dict[Look, Path]:
    """Each look as a PNG file in `directory` (notifications carry the look of their news)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for look in Look:
        path = directory / f"{look.value}.png"
        if not path.exists():
            draw(look, size).save(path)
        paths[look] = path
    return paths
