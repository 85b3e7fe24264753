"""The owner's settings, from `$XDG_CONFIG_HOME/trezor-backup-guard/config.toml`, and where
the daemon keeps its state.

Every key is optional and a missing file means the defaults, so the daemon works with no setup.
A value that is wrong stops with a message naming the file, the key and the problem, because
silently falling back would hide, for example, an emulator that is never polled. Keys this
version does not know are only logged, so a config written for a newer version still loads.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from trezor_backup_api.paths import config_path

log = logging.getLogger(__name__)

MAX_RECHECK_INTERVAL_DAYS = 3650
MIN_EMULATOR_POLL_SECONDS = 1.0
MAX_EMULATOR_POLL_SECONDS = 86400.0
MIN_AGENT_TIMEOUT_SECONDS = 1.0
MAX_AGENT_TIMEOUT_SECONDS = 3600.0

_HOST_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


class ConfigError(Exception):
    """The config file cannot be used; the message names the file, key and what is wrong."""


@dataclass(frozen=True)
class Config:
    """Settings of the daemon and the applet, with the defaults an unconfigured system gets."""

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


def load_config(path: Path | None = None) -> Config:
    """Read the config file; a missing file gives the defaults, a bad one raises ConfigError."""
    path = config_path() if path is None else path
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        return Config()
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 text: {e}") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read: {e.strerror or e}") from e
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
    known = {
        "recheck_interval_days",
        "emulators",
        "emulator_poll_seconds",
        "notifications",
        "agent_timeout_seconds",
    }
    for key in sorted(data.keys() - known):
        log.warning("%s: unknown key %r ignored (written for a newer version?)", path, key)

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
