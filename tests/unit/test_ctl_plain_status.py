"""`trezor-backupctl status` runs without the parser when its command line is plain (main.py's
fast path); the parser must agree on what plain is, or a flag would mean one thing to one
and another to the other."""

from __future__ import annotations

import argparse

import pytest

from trezor_backupctl.main import _STATUS_FLAGS, _plain_status
from trezor_backupctl.parser import build_parser


def status_options() -> set[str]:
    """The options the parser's `status` takes, --help aside."""
    parser = build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    status = commands.choices["status"]
    return {o for a in status._actions for o in a.option_strings} - {"-h", "--help"}


def test_the_fast_path_takes_exactly_the_parsers_status_flags() -> None:
    assert status_options() == _STATUS_FLAGS


@pytest.mark.parametrize(
    ("argv", "plain"),
    [
        (["status"], True),
        (["status", "--json"], True),
        (["status", "--refresh", "--json"], True),
        (["status", "--json", "--json"], False),
        (["status", "--js"], False),
        (["status", "--help"], False),
        (["status", "extra"], False),
        (["watch"], False),
        ([], False),
    ],
)
def test_only_a_plain_status_skips_the_parser(argv: list[str], plain: bool) -> None:
    assert _plain_status(argv) is plain
