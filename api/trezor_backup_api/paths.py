"""Where Trezor Backup Guard keeps its files, per the XDG base directory spec: the owner's
config (read by the daemon and the applet) and the state directory (the daemon's history,
the applet's snoozes)."""

import os
from pathlib import Path

APP_DIR = "trezor-backup-guard"


def config_path() -> Path:
    """Where the config file lives: `$XDG_CONFIG_HOME` or `~/.config`."""
    return _xdg_dir("XDG_CONFIG_HOME", Path(".config")) / APP_DIR / "config.toml"


def state_dir() -> Path:
    """Where state is kept: `$XDG_STATE_HOME` or `~/.local/state`."""
    return _xdg_dir("XDG_STATE_HOME", Path(".local", "state")) / APP_DIR


def _xdg_dir(variable: str, default_under_home: Path) -> Path:
    """The XDG base directory spec says to ignore relative paths, so we do."""
    value = os.environ.get(variable, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return Path.home() / default_under_home
