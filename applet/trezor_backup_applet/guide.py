"""Trezor's guide for a device's next step: a link with a name, never a raw address.

The daemon ends the next step of a Trezor to check with the sentence "Trezor's guide: {url}"
(daemon/trezor_backupd/device/status.py), text meant for a terminal. The window shows that
guide as a named link and a notification as a button, so an address is never broken over
lines or read aloud; both take it from here: the sentence with a `url` argument is the guide,
and the others are the next step, in the owner's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from trezor_backup_api.i18n import _, paragraph_translated

from .device_mirror import Device

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
    """The device's next step in the owner's language without the address, and the guide it
    named (None if none)."""
    guides = [sentence for sentence in device.next_step_text if "url" in sentence.args]
    if not guides:
        return device.next_step_for_owner(), None
    name = _("Trezor's guide for the {model}").format(model=model_name(device.model))
    rest = [sentence for sentence in device.next_step_text if sentence not in guides]
    return paragraph_translated(rest), Guide(name, guides[0].args["url"])
