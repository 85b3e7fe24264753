"""Trezor's guide for a device's next step: a link with a name, never a raw address.

The daemon ends the `NextStep` of a Trezor to check with " Trezor's guide: <address>"
(daemon/trezor_backupd/device/status.py), text meant for a terminal. The window shows that guide as
a named link and a notification as a button, so an address is never broken over lines or read
aloud; both take it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .device_mirror import Device

_GUIDE = re.compile(r"\s*Trezor's guide: (https://\S+)\s*$")
_MODEL_NAMES = {"One": "Model One", "T": "Model T"}


def model_name(model: str) -> str:
    """The model as Trezor's pages name it: "Model One", "Model T", "Safe 5"."""
    return _MODEL_NAMES.get(model, model)


@dataclass(frozen=True)
class Guide:
    """A guide as the owner meets it: what it is called and where it is."""

    name: str
    url: str


def next_step_and_guide(device: Device) -> tuple[str, Guide | None]:
    """The device's next step without the address, and the guide it named (None if none)."""
    found = _GUIDE.search(device.next_step)
    if found is None:
        return device.next_step, None
    guide = Guide(f"Trezor's guide for the {model_name(device.model)}", found.group(1))
    return device.next_step[: found.start()], guide
