"""The owner's language, end to end: the programs started with `LANG`/`LC_ALL` of Czech,
German, Spanish or French speak it (the notification the applet raises on plug-in, the
status the command line prints), while `--json` stays the same in every locale. The daemon
itself runs in English; each client translates its sentences (docs/dbus-api.md, Languages).

A check from the terminal, too: its prompts, steps and result in the owner's language.

The catalogues are the checkout's (`make mo`, which `make test` runs first)."""

from __future__ import annotations

import json

import pytest
from test_ctl_operations import CtlSession

from conftest import DaemonFactory
from desktop_fixtures import Desktop
from harness import ctl, get_devices, running
from languages import LANGUAGES, catalogue, locale_env
from sim_helpers import ABANDON24, start_simulator
from test_applet_desktop import applet

DEVICE_ID = "A1B2C3D4E5F60718293A4B5C"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_plug_in_notification_is_in_the_owners_language(
    make_daemon: DaemonFactory, desktop: Desktop, language: str
) -> None:
    words = catalogue(language)
    title = words.gettext("{name} has no backup").format(name="My Trezor")
    sentence = words.gettext(
        "It has never been backed up: create the backup before you send funds to it."
    )
    assert title != "My Trezor has no backup"
    mark = len(desktop.history())
    with start_simulator("one", "backup_required", device_id=DEVICE_ID, label="My Trezor") as sim:
        daemon = make_daemon(sim.path)
        with running(daemon), applet(daemon, desktop, env=locale_env(language)):
            desktop.wait_displayed()
            desktop.choose_action(words.gettext("Later"))
            [shown] = desktop.new_history(mark)
    assert shown["summary"] == title
    assert shown["body"] == sentence


@pytest.mark.parametrize("language", LANGUAGES)
def test_status_speaks_the_owners_language_and_json_does_not(
    make_daemon: DaemonFactory, language: str
) -> None:
    words = catalogue(language)
    with start_simulator("one", "backup_required", device_id=DEVICE_ID, label="Drawer") as sim:
        with running(make_daemon(sim.path)):
            english = ctl("status")
            spoken = ctl("status", env=locale_env(language))
            as_json = [ctl("status", "--json", env=env) for env in (None, locale_env(language))]
    assert english.returncode == spoken.returncode == 0, spoken.stderr
    create = (
        "Create the backup now: take your time, find a private place and write down the "
        "recovery words the Trezor shows, on paper only."
    )
    next_step = words.gettext(create)
    assert next_step != create
    assert create in " ".join(english.stdout.split())
    assert " ".join(next_step.split()) in " ".join(spoken.stdout.split()), spoken.stdout
    assert "Create the backup now" not in spoken.stdout
    english_json, spoken_json = (json.loads(done.stdout) for done in as_json)
    assert english_json == spoken_json


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_check_from_the_terminal_speaks_the_owners_language(
    make_daemon: DaemonFactory, language: str
) -> None:
    """A Model One's 24-word check with its PIN, answered at the translated prompts; the
    step and the result are the owner's language, the result's code is not."""
    words = catalogue(language)
    prompts = (
        words.gettext("Word requested by your Trezor (see its screen): ").rstrip(),
        words.gettext("Position on your Trezor's grid (b = back): ").rstrip(),
        words.gettext("PIN positions (not shown as you type): ").rstrip(),
    )
    pin = "248613579"
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, pin=pin) as sim:
        with running(make_daemon(sim.path)):
            session = CtlSession(
                sim, "check", "--words", "24", press_buttons=True,
                env=locale_env(language), prompts=prompts,
            )  # fmt: skip
            assert session.run(ABANDON24, pin=pin) == 0, session.output()
            assert [d["State"] for d in get_devices()] == ["verified"]
    said = " ".join(session.output().split())
    for english in (
        "Type the word your Trezor shows, on the computer (request {request_number}; it mixes "
        "in words that are not yours on purpose).",
        "Your written backup is correct: it restores this wallet.",
    ):
        translated = words.gettext(english)
        assert translated != english
        assert " ".join(translated.split("{")[0].split()) in said, said
    result = words.gettext("Check result: {result}").format(result="passed")
    assert " ".join(result.split()) in said
    assert "Your written backup is correct" not in said


@pytest.mark.parametrize("language", LANGUAGES)
def test_help_and_a_usage_error_speak_the_owners_language(language: str) -> None:
    """argparse's own words too ("usage:", "options", its errors), from our catalogue."""
    words = catalogue(language)
    helped = ctl("--help", env=locale_env(language))
    assert helped.returncode == 0
    assert helped.stdout.startswith(words.gettext("usage: ") + "trezor-backupctl")
    assert "show this help message and exit" not in helped.stdout
    wrong = ctl("statuss", env=locale_env(language))
    assert wrong.returncode == 2
    error = words.gettext("%(prog)s: error: %(message)s\n").split("%(message)s")[0]
    assert error % {"prog": "trezor-backupctl"} in wrong.stderr, wrong.stderr
