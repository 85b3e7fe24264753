"""The applet reads only `notifications` from config.toml, and says clearly what is wrong."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from trezor_backup_applet.settings import AppletSettings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_keeps_notifications_on(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "absent.toml") == AppletSettings(notifications=True)


def test_notifications_off_stays_off_whatever_the_daemons_keys_say(tmp_path: Path) -> None:
    # A value the daemon rejects (it stops on it) is none of the applet's business.
    path = write(tmp_path, 'notifications = false\nemulators = "not a list"\n')
    assert load_settings(path) == AppletSettings(notifications=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('notifications = "no"\n', "notifications must be true or false, not 'no'"),
        ("notifications = \n", "not valid TOML"),
    ],
)
def test_a_bad_value_is_reported_with_file_and_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with caplog.at_level(logging.ERROR):
        assert load_settings(path) == AppletSettings(notifications=True)
    assert str(path) in caplog.text and expected in caplog.text
