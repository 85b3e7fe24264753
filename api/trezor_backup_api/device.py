"""A device as the daemon describes it, built from the `a{sv}` of `GetDevices`, `GetDevice`,
`Properties.GetAll` and `PropertiesChanged` (docs/dbus-api.md, Device1 properties).

The record's fields are the documented properties in their documented order, each under the
snake_case form of its D-Bus name. `properties` keeps everything the daemon sent, values
unwrapped, for output that must show exactly that (including properties a newer daemon adds).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from .i18n import Sentence, paragraph_translated, sentences_from_bus
from .names import DEVICE_PROPERTIES, device_path


def plain(value: Any) -> Any:
    """Unwrap variants at any depth, so callers see only ordinary Python values.

    dbus-fast is not imported for its Variant: a client that decodes replies itself
    (blocking_client) must not load it, and without it loaded no Variant can exist.
    """
    signature = sys.modules.get("dbus_fast.signature")
    if signature is not None and isinstance(value, signature.Variant):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


_PYTHON_TYPES: dict[str, type] = {"s": str, "b": bool, "t": int, "a(ssa{ss})": list}
# D-Bus name -> (field, Python type) for decoding.
_FIELDS: dict[str, tuple[str, type]] = {
    name: (attribute, _PYTHON_TYPES[signature])
    for name, (attribute, signature) in DEVICE_PROPERTIES.items()
}
_SENTENCE_FIELDS = frozenset(
    attribute for attribute, signature in DEVICE_PROPERTIES.values() if signature == "a(ssa{ss})"
)


@dataclass(frozen=True)
class DeviceRecord:
    """One Trezor as the daemon last described it.

    `state`, `operation` and `last_check_result` hold `vocabulary` values (BackupState,
    OperationKind, Outcome) when the daemon sends known ones, and a newer daemon's strings
    verbatim otherwise; compare them with the enum members.
    """

    id: str
    state: str = "unknown"
    explanation: str = ""
    next_step: str = ""
    model: str = "Unknown"
    internal_model: str = ""
    label: str = ""
    firmware_version: str = ""
    backup_type: str = ""
    dry_run_in_progress: bool = False
    locked: bool = False
    state_read_time: int = 0
    last_check_time: int = 0
    last_check_result: str = ""
    transport: str = ""
    operation: str = ""
    explanation_text: tuple[Sentence, ...] = ()
    """`explanation` as sentences for the owner's language (i18n.Sentence)."""
    next_step_text: tuple[Sentence, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Every property the daemon sent, by D-Bus name, values unwrapped."""

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any], **extra: Any) -> Self:
        """The record of an `a{sv}` (variants or plain values); a wrongly typed value is
        left at its default rather than trusted. `extra` sets fields a subclass adds."""
        values = plain(dict(properties))
        return cls(id=str(values.get("Id", "")), **extra)._with(values)

    def updated(self, changed: Mapping[str, Any]) -> Self:
        """A copy with the changed properties (of `PropertiesChanged`) applied."""
        return self._with(plain(dict(changed)))

    def _with(self, values: Mapping[str, Any]) -> Self:
        changes: dict[str, Any] = {}
        for name, value in values.items():
            known = _FIELDS.get(name)
            if known is not None and name != "Id":
                attribute, kind = known
                if attribute in _SENTENCE_FIELDS:
                    changes[attribute] = sentences_from_bus(value)
                elif isinstance(value, kind) and (kind is not int or not isinstance(value, bool)):
                    changes[attribute] = value
        return dataclasses.replace(self, properties={**self.properties, **values}, **changes)

    @property
    def path(self) -> str:
        """The daemon's object path for this device."""
        return device_path(self.id)

    def explanation_for_owner(self) -> str:
        """The explanation in the owner's language (English from a daemon that sends no
        sentences)."""
        return paragraph_translated(self.explanation_text) or self.explanation

    def next_step_for_owner(self) -> str:
        """The next step in the owner's language (English from a daemon that sends no
        sentences)."""
        return paragraph_translated(self.next_step_text) or self.next_step

    @property
    def name(self) -> str:
        """What the owner calls it: the label, else the model."""
        return self.label or f"Trezor {self.model}"
