"""The owner's settings, from `$XDG_CONFIG_HOME/trezor-backup-guard/config.toml`, and where
the daemon keeps its state.

Every key is optional and a missing file means the defaults, so the daemon works with no setup.
A value that is wrong stops with a message naming the file, the line, the key and the problem,
because silently falling back would hide, for example, an emulator that is never polled. A key
this version does not know is refused the same way, naming the closest known key: a
misspelled `recheck_intervall_days = 30` must not leave the owner believing in 30 days.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from trezor_backup_api.paths import config_path

MAX_RECHECK_INTERVAL_DAYS = 3650
MIN_EMULATOR_POLL_SECONDS = 1.0
MAX_EMULATOR_POLL_SECONDS = 86400.0
MIN_AGENT_TIMEOUT_SECONDS = 1.0
MAX_AGENT_TIMEOUT_SECONDS = 3600.0

KNOWN_KEYS = frozenset(
    {
        "recheck_interval_days",
        "emulators",
        "emulator_poll_seconds",
        "notifications",
        "agent_timeout_seconds",
    }
)
"""Every setting of config.toml; any other key is refused (with the closest one named)."""

_HOST_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class ConfigError(Exception):
    """The config file cannot be used; the message names the file, key and what is wrong."""


@dataclass
class Config:
    """Settings of the daemon and the applet, with the defaults an unconfigured system gets.

    The daemon holds one Config, which its parts read at each use; `adopt` changes it in place
    when config.toml is saved (config_watch.py), so a new setting applies everywhere at once.
    """

    # How long a passed check counts as fresh; Daedalus reminds after about half a year.
    recheck_interval: timedelta = timedelta(days=180)
    # Emulator endpoints to poll, "udp:HOST:PORT"; empty on real systems (polling an emulator
    # can steal replies from a developer's running trezorctl).
    emulators: tuple[str, ...] = ()
    emulator_poll_seconds: float = 10.0
    notifications: bool = True
    # How long the daemon waits for the owner to answer a prompt (PIN, word) before it
    # cancels the operation on the device.
    agent_timeout_seconds: float = 300.0

    def adopt(self, other: Config) -> None:
        """Take every setting of `other`, in place."""
        for setting in fields(self):
            setattr(self, setting.name, getattr(other, setting.name))


def read_config_file(path: Path) -> bytes | None:
    """The file's bytes, or None when there is none (the defaults apply)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read: {e.strerror or e}") from e


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file gives the defaults, a bad one raises ConfigError."""
    path = config_path() if path is None else path
    return parse_config(path, read_config_file(path))


def parse_config(path: Path, raw: bytes | None) -> Config:
    """The settings in `raw`, the bytes of the file at `path` (None: no file, the defaults);
    ConfigError names the file, line, key and problem."""
    if raw is None:
        return Config()
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 text: {e}") from e
    try:
        return _parse(path, data)
    except ConfigError as e:
        raise ConfigError(_with_line(str(e), path, text)) from None


def _with_line(message: str, path: Path, text: str) -> str:
    """ "{path}: key ..." as "{path}, line N: key ...", N being the line that sets the key."""
    detail = message.removeprefix(f"{path}: ")
    key = re.match(r"[A-Za-z0-9_]+", detail)
    if key is None:
        return message
    setting = re.compile(rf"\s*{re.escape(key.group())}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if setting.match(line):
            return f"{path}, line {number}: {detail}"
    return message


def _parse(path: Path, data: dict[str, Any]) -> Config:
    defaults = Config()
    unknown = sorted(data.keys() - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: {unknown[0]} is not a setting{_did_you_mean(unknown[0])}")

    recheck_interval = defaults.recheck_interval
    if "recheck_interval_days" in data:
        days = data["recheck_interval_days"]
        if not _is_int(days) or not 1 <= days <= MAX_RECHECK_INTERVAL_DAYS:
            raise ConfigError(
                f"{path}: recheck_interval_days must be a whole number of days from 1 to "
                f"{MAX_RECHECK_INTERVAL_DAYS}, not {days!r}"
            )
        recheck_interval = timedelta(days=days)

    emulators = defaults.emulators
    if "emulators" in data:
        emulators = _parse_emulators(path, data["emulators"])

    poll = _seconds(
        path,
        data,
        "emulator_poll_seconds",
        defaults.emulator_poll_seconds,
        (MIN_EMULATOR_POLL_SECONDS, MAX_EMULATOR_POLL_SECONDS),
    )
    agent_timeout = _seconds(
        path,
        data,
        "agent_timeout_seconds",
        defaults.agent_timeout_seconds,
        (MIN_AGENT_TIMEOUT_SECONDS, MAX_AGENT_TIMEOUT_SECONDS),
    )

    notifications = defaults.notifications
    if "notifications" in data:
        value = data["notifications"]
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: notifications must be true or false, not {value!r}")
        notifications = value

    return Config(
        recheck_interval=recheck_interval,
        emulators=emulators,
        emulator_poll_seconds=poll,
        notifications=notifications,
        agent_timeout_seconds=agent_timeout,
    )


def _did_you_mean(key: str) -> str:
    """The closest known key, as a hint for a misspelling: a silently ignored typo would
    leave the owner believing a setting applies that does not."""
    import difflib  # only for a wrong key: a daemon with a good config never loads it

    close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
    known = ", ".join(sorted(KNOWN_KEYS))
    return f" (did you mean {close[0]}?)" if close else f" (the settings are: {known})"


def _seconds(
    path: Path, data: dict[str, Any], key: str, default: float, bounds: tuple[float, float]
) -> float:
    """A duration key: a finite number of seconds within bounds."""
    if key not in data:
        return default
    value = data[key]
    low, high = bounds
    if (
        not (_is_int(value) or isinstance(value, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ConfigError(
            f"{path}: {key} must be a number of seconds from {low:g} to {high:g}, not {value!r}"
        )
    return float(value)


def _parse_emulators(path: Path, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(
            f'{path}: emulators must be a list such as ["udp:127.0.0.1:21324"], not {value!r}'
        )
    endpoints: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ConfigError(f"{path}: emulators[{index}] must be a string, not {item!r}")
        try:
            endpoint = parse_emulator_endpoint(item)
        except ValueError as e:
            raise ConfigError(f"{path}: emulators[{index}]: {e}") from e
        if endpoint in endpoints:
            raise ConfigError(f"{path}: emulators[{index}]: {endpoint} is listed twice")
        endpoints.append(endpoint)
    return tuple(endpoints)


def _is_int(value: object) -> bool:
    """TOML integers, excluding booleans (which Python counts as ints)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_emulator_endpoint(text: str) -> str:
    """Validate an emulator endpoint and return it as "udp:HOST:PORT" with a canonical host.

    trezorlib's UDP transport is IPv4 only (AF_INET) and splits on ":", so the host is an IPv4
    address or a host name; IPv6 literals are refused here rather than failing at poll time.
    """
    scheme, sep, rest = text.strip().partition(":")
    if not sep or scheme.lower() != "udp":
        raise ValueError(f"emulator endpoint {text!r} must look like udp:HOST:PORT")
    host, sep, port_text = rest.rpartition(":")
    if not sep or not host:
        raise ValueError(f"emulator endpoint {text!r} must look like udp:HOST:PORT")
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"emulator endpoint {text!r}: port must be a number from 1 to 65535")
    return f"udp:{_normalise_host(text, host)}:{int(port_text)}"


def _normalise_host(text: str, host: str) -> str:
    host = host.lower()
    if host.replace(".", "").isdigit():
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"emulator endpoint {text!r}: {host} is not an IPv4 address") from None
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels):
        raise ValueError(
            f"emulator endpoint {text!r}: {host!r} is not an IPv4 address or host name"
            " (IPv6 is not supported by the emulator transport)"
        )
    return host.removesuffix(".")
