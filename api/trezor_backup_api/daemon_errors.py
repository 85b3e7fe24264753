"""How a call to the daemon fails, as every client sees it: `BusCallError` for any failed
call, mapped by `daemon_failure` to the two exceptions a program acts on, `DaemonUnreachable`
(there is no daemon to talk to) and `DaemonError` (it answered with an error, by name); and
where the session bus is.

Apart from `client` because `trezor-backupctl status` (blocking_client) needs exactly these
and nothing of the async client: this module imports nothing costly (no dbus-fast, no
dataclasses), which is most of what a `status` costs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .names import short_error_name

if TYPE_CHECKING:
    from .i18n import Sentence

# dbus-fast waits for a reply forever; a hung daemon must not hang a client.
# Generous enough for D-Bus activation, which the bus itself gives 25 s.
CALL_TIMEOUT_SECONDS = 30.0

TIMEOUT_ERROR = "org.freedesktop.DBus.Error.Timeout"
DISCONNECTED_ERROR = "org.freedesktop.DBus.Error.Disconnected"

NOT_ACTIVATABLE_ERROR = "org.freedesktop.DBus.Error.ServiceUnknown"
"""The bus's answer when no D-Bus activation file names the daemon: it is not set up."""

# Errors the bus (not the daemon) sends when nobody serves BUS_NAME, activation failed, or the
# daemon died or hung during the call: all mean "the daemon is not reachable".
_UNREACHABLE_ERRORS = frozenset(
    {
        NOT_ACTIVATABLE_ERROR,
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        TIMEOUT_ERROR,
        "org.freedesktop.DBus.Error.TimedOut",
        DISCONNECTED_ERROR,
    }
)
_SPAWN_ERROR_PREFIX = "org.freedesktop.DBus.Error.Spawn."


class BusCallError(Exception):
    """A call failed: an error reply, no reply in time, or the connection lost.

    `name` is the D-Bus error name (TIMEOUT_ERROR, DISCONNECTED_ERROR for the last two);
    `text` the peer's message, which a caller that asked an agent must drop unread;
    `sentences` the same message for the owner's language, when the daemon sent them (its
    errors' second argument, docs/dbus-api.md "Languages").
    """

    def __init__(
        self, member: str, name: str, text: str, sentences: tuple[Sentence, ...] = ()
    ) -> None:
        super().__init__(f"{member}: {name}")
        self.member = member
        self.name = name
        self.text = text
        self.sentences = sentences


class DaemonUnreachable(Exception):
    """No session bus, or trezor-backupd is not on it and could not be activated.

    `not_set_up`: the bus knows no activation file for it (a pip/pipx install before
    `trezor-backupctl setup --user`), so starting a unit could not help.
    """

    def __init__(self, reason: str, not_set_up: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.not_set_up = not_set_up


class DaemonError(Exception):
    """The daemon (or the bus on its behalf) answered a call with a D-Bus error.

    `str()` is the daemon's own message in English (it never carries a secret), else the
    name; `for_owner()` is that message in the owner's language.
    """

    def __init__(self, name: str, message: str, sentences: tuple[Sentence, ...] = ()) -> None:
        super().__init__(message or name)
        self.name = name
        self.message = message
        self.sentences = sentences
        """The message as the daemon's sentences (i18n.Sentence); empty when it sent none
        (the bus's own errors, InvalidArgs, an older daemon)."""

    def for_owner(self) -> str:
        """The message in the owner's language; the English message when the daemon sent no
        sentences, else the error's name."""
        from .i18n import paragraph_translated  # only on an error: a cheap import otherwise

        return paragraph_translated(self.sentences) or str(self)

    @property
    def short_name(self) -> str:
        """`Busy`, `NotPossible`, ... for the daemon's own errors; "" for others."""
        return short_error_name(self.name)


def daemon_failure(error: BusCallError) -> DaemonUnreachable | DaemonError:
    """What a failed call to the daemon means to a client."""
    if error.name in _UNREACHABLE_ERRORS or error.name.startswith(_SPAWN_ERROR_PREFIX):
        return DaemonUnreachable(error.text or error.name, error.name == NOT_ACTIVATABLE_ERROR)
    return DaemonError(error.name, error.text, error.sentences)


def session_bus_address() -> str:
    """The session bus address, found the way sd-bus and GDBus find it.

    dbus-fast alone only reads DBUS_SESSION_BUS_ADDRESS (or X11 autolaunch files); a systemd
    user session always has its bus at $XDG_RUNTIME_DIR/bus, e.g. in an ssh login.
    """
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir and os.path.exists(os.path.join(runtime_dir, "bus")):
        return f"unix:path={os.path.join(runtime_dir, 'bus')}"
    raise DaemonUnreachable("DBUS_SESSION_BUS_ADDRESS is not set and no $XDG_RUNTIME_DIR/bus")
