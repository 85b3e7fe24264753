"""Everything the daemon can say, rendered in every language of po/LINGUAS as a client renders
it: each state's explanation and next step, each read problem, each refusal, each step and
ending of an operation (tests/daemon_sentences.py), and each state's words. A sentence its
catalogue lacks, or a translation that formats wrongly, fails here. The catalogues are
compiled from po/ for the test, so it checks the files a change touches, not an old build."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trezor_backup_api import i18n
from trezor_backup_api.i18n import (
    ARGPARSE_WORDS,
    STATE_WORDS,
    Sentence,
    state_words,
)
from trezor_backup_api.vocabulary import BackupState

from daemon_sentences import daemon_sentences
from languages import LANGUAGES, compile_catalogues


@pytest.fixture(scope="module")
def catalogues(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """po/*.po compiled into a locale directory of their own."""
    folder = tmp_path_factory.mktemp("locale")
    compile_catalogues(folder)
    return folder


@pytest.fixture(params=LANGUAGES)
def language(
    request: pytest.FixtureRequest, catalogues: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The owner's language for the test, as $LANGUAGE chooses it in a program."""
    monkeypatch.setattr(i18n, "LOCALE_DIR", catalogues)
    monkeypatch.setenv("LANGUAGE", request.param)
    i18n.reload_catalogue()
    yield request.param
    monkeypatch.undo()
    i18n.reload_catalogue()


def untranslated(sentence: Sentence) -> bool:
    """Whether the owner's catalogue lacks the sentence (gettext then returns the msgid)."""
    if sentence.plural:
        count = int(sentence.args["count"])
        return i18n.ngettext(sentence.msgid, sentence.plural, count) in (
            sentence.msgid,
            sentence.plural,
        )
    return i18n._(sentence.msgid) == sentence.msgid


def test_every_sentence_of_the_daemon_reads_in_the_owners_language(language: str) -> None:
    sentences = daemon_sentences()
    assert len(sentences) > 100
    missing = sorted({s.msgid for s in sentences if untranslated(s)})
    assert missing == [], f"{language} lacks {len(missing)}: {missing[:5]}"
    for sentence in sentences:
        rendered = sentence.translated()  # a wrong placeholder raises here
        assert "{" not in rendered, (language, sentence.msgid, rendered)


def test_a_state_in_a_daemon_sentence_reads_by_its_words(language: str) -> None:
    """The daemon names a state by its code; the owner reads the words for it."""
    refusal = Sentence(
        "The Trezor cannot be checked now (it is {state}).", {"state": BackupState.BUSY}
    )
    rendered = refusal.translated()
    assert state_words(BackupState.BUSY) in rendered
    assert "busy" not in rendered, (language, rendered)


def test_every_state_has_its_words_in_the_owners_language(language: str) -> None:
    assert set(STATE_WORDS) == set(BackupState)
    for state in BackupState:
        assert state_words(state) != STATE_WORDS[state], (language, state)


def test_english_stays_the_msgids_themselves() -> None:
    """Without a catalogue (LANG=C, the tests' own), a sentence is its English."""
    sentence = daemon_sentences()[0]
    assert sentence.translated() == sentence.english()


def test_a_date_reads_the_same_everywhere_without_the_owners_locale(language: str) -> None:
    """The text in the owner's language, the locale not installed (the tests' C): the date
    is ISO 8601, never C's 03/04/26, which reads as 3 April in most of the world."""
    sentence = Sentence(
        "Your written backup passed the check on {check_date}. The next check is due after "
        "{due_date}.",
        {"check_date": "2026-03-04", "due_date": "2026-08-31"},
    )
    rendered = sentence.translated()
    assert rendered != sentence.english()
    assert "2026-03-04" in rendered and "2026-08-31" in rendered


def test_argparses_own_words_are_the_ones_its_source_translates() -> None:
    """ARGPARSE_WORDS must be argparse's msgids exactly, or its --help stays English."""
    import argparse
    import inspect

    source = inspect.getsource(argparse)
    for msgid in ARGPARSE_WORDS:
        assert repr(msgid) in source or repr(msgid).replace("'", '"') in source, msgid
