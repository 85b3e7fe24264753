"""The config file: defaults, every key, and errors that name the file, key and problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trezor_backup_api.paths import config_path, state_dir
from trezor_backupd.store.config import Config, ConfigError, load_config, parse_emulator_endpoint


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path / "absent.toml")
    assert config == Config()
    assert config.recheck_interval == timedelta(days=180)
    assert config.emulators == ()
    assert config.emulator_poll_seconds == 10.0
    assert config.notifications is True


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_every_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        recheck_interval_days = 90
        emulators = ["udp:127.0.0.1:21324", " UDP:Localhost:21424 "]
        emulator_poll_seconds = 2.5
        notifications = false
        """,
    )
    assert load_config(path) == Config(
        recheck_interval=timedelta(days=90),
        emulators=("udp:127.0.0.1:21324", "udp:localhost:21424"),
        emulator_poll_seconds=2.5,
        notifications=False,
    )


def test_integer_poll_seconds(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "emulator_poll_seconds = 1"))
    assert config.emulator_poll_seconds == 1.0
    assert isinstance(config.emulator_poll_seconds, float)


def test_a_misspelled_key_is_refused_with_its_line_and_the_key_meant(tmp_path: Path) -> None:
    path = write(tmp_path, "# every 30 days\n\nrecheck_intervall_days = 30\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}, line 3: recheck_intervall_days is not a setting "
        "(did you mean recheck_interval_days?)"
    )


def test_an_unknown_key_like_no_setting_lists_the_settings(tmp_path: Path) -> None:
    path = write(tmp_path, 'notifications = true\nfuture_option = "yes"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 2: future_option is not a setting (the settings are: ")
    assert "recheck_interval_days" in message and "emulators" in message


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("recheck_interval_days = 0", "recheck_interval_days", "from 1 to 3650"),
        ("recheck_interval_days = -5", "recheck_interval_days", "from 1 to 3650"),
        ("recheck_interval_days = 3651", "recheck_interval_days", "from 1 to 3650"),
        ("recheck_interval_days = 1.5", "recheck_interval_days", "whole number"),
        ('recheck_interval_days = "180"', "recheck_interval_days", "whole number"),
        ("recheck_interval_days = true", "recheck_interval_days", "whole number"),
        ('emulators = "udp:127.0.0.1:21324"', "emulators", "must be a list"),
        ("emulators = [21324]", r"emulators\[0\]", "must be a string"),
        ('emulators = ["127.0.0.1:21324"]', r"emulators\[0\]", "udp:HOST:PORT"),
        ('emulators = ["udp:127.0.0.1:0"]', r"emulators\[0\]", "port must be"),
        (
            'emulators = ["udp:127.0.0.1:21324", "udp:127.0.0.1:21324"]',
            r"emulators\[1\]",
            "listed twice",
        ),
        ("emulator_poll_seconds = 0.5", "emulator_poll_seconds", "from 1 to 86400"),
        ("emulator_poll_seconds = nan", "emulator_poll_seconds", "from 1 to 86400"),
        ("emulator_poll_seconds = inf", "emulator_poll_seconds", "from 1 to 86400"),
        ("emulator_poll_seconds = false", "emulator_poll_seconds", "number of seconds"),
        ('notifications = "no"', "notifications", "true or false"),
        ("notifications = 0", "notifications", "true or false"),
    ],
)
def test_bad_values_name_file_key_and_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=key) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line 1: ")
    assert problem in message


def test_a_bad_value_is_reported_with_the_line_that_sets_it(tmp_path: Path) -> None:
    path = write(tmp_path, "# my settings\nnotifications = true\n\n  emulators = [1]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}, line 4: emulators[0] must be a string, not 1"


def test_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "recheck_interval_days = = 3")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'notifications = "\xff"')
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read") as caught:
        load_config(tmp_path)  # a directory
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("udp:127.0.0.1:21324", "udp:127.0.0.1:21324"),
        ("  udp:127.0.0.1:021324 ", "udp:127.0.0.1:21324"),
        ("UDP:Emulator.Example.ORG.:1", "udp:emulator.example.org:1"),
        ("udp:localhost:65535", "udp:localhost:65535"),
        ("udp:my-host:21324", "udp:my-host:21324"),
    ],
)
def test_parse_emulator_endpoint(text: str, expected: str) -> None:
    assert parse_emulator_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "udp:HOST:PORT"),
        ("127.0.0.1:21324", "udp:HOST:PORT"),
        ("tcp:127.0.0.1:21324", "udp:HOST:PORT"),
        ("udp:127.0.0.1", "udp:HOST:PORT"),
        ("udp::21324", "udp:HOST:PORT"),
        ("udp:127.0.0.1:", "port must be"),
        ("udp:127.0.0.1:65536", "port must be"),
        ("udp:127.0.0.1:-1", "port must be"),
        ("udp:127.0.0.1:２１３２４", "port must be"),  # fullwidth digits  # noqa: RUF001
        ("udp:256.0.0.1:21324", "not an IPv4 address"),
        ("udp:1.2.3:21324", "not an IPv4 address"),
        ("udp:::1:21324", "IPv6"),
        ("udp:bad_host:21324", "not an IPv4 address or host name"),
        ("udp:-bad.example:21324", "not an IPv4 address or host name"),
        ("udp:a..b:21324", "not an IPv4 address or host name"),
        ("udp:" + "a" * 64 + ":21324", "not an IPv4 address or host name"),
    ],
)
def test_parse_emulator_endpoint_errors(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match="emulator endpoint") as caught:
        parse_emulator_endpoint(text)
    assert problem in str(caught.value)


def test_xdg_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "st"))
    assert config_path() == tmp_path / "cfg" / "trezor-backup-guard" / "config.toml"
    assert state_dir() == tmp_path / "st" / "trezor-backup-guard"


@pytest.mark.parametrize("value", [None, "", "relative/dir"])
def test_xdg_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str | None) -> None:
    """Unset, empty and relative values all mean the default, as the XDG spec says."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)
    assert config_path() == tmp_path / ".config" / "trezor-backup-guard" / "config.toml"
    assert state_dir() == tmp_path / ".local" / "state" / "trezor-backup-guard"


def test_load_config_uses_xdg_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "trezor-backup-guard").mkdir()
    (tmp_path / "trezor-backup-guard" / "config.toml").write_text("notifications = false")
    assert load_config().notifications is False
