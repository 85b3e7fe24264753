"""The applet's one setting, `notifications`, from the owner's config.toml.

The file is the daemon's too (docs: Configuration), but the applet reads only its own key:
a value the daemon rejects must not change what the applet does. A bad `notifications` value,
or a file that cannot be read, is reported the way the daemon reports its keys (the file, the
key, what is wrong) and the applet keeps notifications on: a reminder too many is better than
a reminder silently lost.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from trezor_backup_api.paths import config_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppletSettings:
    """What the applet takes from the config file."""

    notifications: bool = True


def load_settings(path: Path | None = None) -> AppletSettings:
    """The applet's settings; problems are logged as errors and give the default."""
    path = config_path() if path is None else path
    defaults = AppletSettings()
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return defaults
    except tomllib.TOMLDecodeError as e:
        log.error("%s: not valid TOML: %s; notifications stay on", path, e)
        return defaults
    except (UnicodeDecodeError, OSError) as e:
        log.error("%s: cannot be read: %s; notifications stay on", path, e)
        return defaults
    value = data.get("notifications", defaults.notifications)
    if not isinstance(value, bool):
        log.error("%s: notifications must be true or false, not %r; they stay on", path, value)
        return defaults
    return AppletSettings(notifications=value)
