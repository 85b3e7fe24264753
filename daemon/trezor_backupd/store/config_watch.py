"""Apply config.toml while the daemon runs: a saved edit takes effect at once, a wrong one is
refused with its problem named and the settings in force stay as they were.

inotify watches the file's directory, not the file: editors save by writing a new file and
renaming it over the old one, which a watch on the old file's inode would not see. The events
of one save (a rename away, a create, a write) come within milliseconds, so the file is read
once they have settled for SETTLE_SECONDS rather than at each event, which could apply the
defaults for the moment the file was missing.

What the daemon applies is told by `digest` (of the file's bytes it applies; "" for the
defaults without a file) and `problem` (why the file as it is now is refused; "" when it is
applied), so `trezor-backupctl doctor` can compare them with the file (Manager1.ConfigDigest and
ConfigProblem in docs/dbus-api.md). Nothing here knows the bus.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import inotify_simple  # type: ignore[import-untyped]

from .config import Config, ConfigError, parse_config, read_config_file

LOG = logging.getLogger(__name__)

SETTLE_SECONDS = 0.2
"""How long the directory must be quiet after an event before the file is read."""

_SAVES = (
    inotify_simple.flags.CLOSE_WRITE
    | inotify_simple.flags.MOVED_TO
    | inotify_simple.flags.MOVED_FROM
    | inotify_simple.flags.DELETE
)
"""The ways a file's content changes in a directory (a create is followed by its write)."""


def digest_of(raw: bytes | None) -> str:
    """SHA-256 of the file's bytes, "" for no file: what doctor compares with the file."""
    return hashlib.sha256(raw).hexdigest() if raw is not None else ""


class ConfigWatch:
    """Follows one config file: `apply` gets the settings of each new valid content, and
    `told` is called whenever `digest` or `problem` changed (to tell the clients)."""

    def __init__(
        self,
        path: Path,
        raw: bytes | None,
        apply: Callable[[Config], None],
        told: Callable[[], None],
    ) -> None:
        """`raw`: the bytes the daemon started with, already applied. Without inotify (out
        of instances, no such directory) it says so in the log and changes apply at the
        next start."""
        self._path = path
        self._apply = apply
        self._told = told
        self.digest = digest_of(raw)
        self.problem = ""
        self._loop = asyncio.get_running_loop()
        self._settle: asyncio.TimerHandle | None = None
        self._inotify: inotify_simple.INotify | None = inotify_simple.INotify(nonblocking=True)
        try:
            self._inotify.add_watch(str(path.parent), _SAVES)
        except OSError as error:
            LOG.warning(
                "Cannot watch %s (%s): a change to it applies only after a restart",
                path.parent,
                error.strerror or error,
            )
            self._inotify.close()
            self._inotify = None
            return
        self._loop.add_reader(self._inotify.fileno(), self._on_readable)

    def close(self) -> None:
        """Stop watching."""
        if self._settle is not None:
            self._settle.cancel()
        if self._inotify is not None:
            self._loop.remove_reader(self._inotify.fileno())
            self._inotify.close()

    def _on_readable(self) -> None:
        assert self._inotify is not None
        if any(event.name == self._path.name for event in self._inotify.read(timeout=0)):
            if self._settle is not None:
                self._settle.cancel()
            self._settle = self._loop.call_later(SETTLE_SECONDS, self.reload)

    def reload(self) -> None:
        """Read the file; apply it when it is new and valid, else keep the settings in force."""
        self._settle = None
        try:
            raw = read_config_file(self._path)
            digest = digest_of(raw)
            if digest == self.digest and not self.problem:
                return
            config = parse_config(self._path, raw)
        except ConfigError as error:
            if str(error) != self.problem:
                self.problem = str(error)
                LOG.error("%s; keeping the settings in force until the file is corrected", error)
                self._told()
            return
        self.digest, self.problem = digest, ""
        LOG.info("Applied %s", self._path if raw is not None else "the defaults (no config file)")
        self._apply(config)
        self._told()
