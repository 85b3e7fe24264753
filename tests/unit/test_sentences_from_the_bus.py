"""A client survives what a newer or faulty daemon, or a broken catalogue, sends it: a
sentence that would not format is dropped (the client shows the English property instead),
and a translation that would not format shows the English sentence."""

from __future__ import annotations

import gettext

import pytest

from trezor_backup_api import i18n
from trezor_backup_api.i18n import Sentence, sentences_from_bus

MALFORMED = [
    ["{missing} here", "", {}],
    ["{0} by position", "", {"0": "x"}],
    ["unbalanced {", "", {}],
    ["{name.__class__} by attribute", "", {"name": "x"}],
    ["{name!r} converted", "", {"name": "x"}],
    ["{count} thing", "{count} things", {"count": "²"}],
    ["{count} thing", "{count} things", {}],
    ["a msgid", "", {"name": 3}],
    ["too", "many", {}, "fields"],
    "not a sentence",
]


@pytest.mark.parametrize("item", MALFORMED)
def test_a_malformed_sentence_is_dropped(item: object) -> None:
    assert sentences_from_bus([item, ["Fine {name}.", "", {"name": "x"}]]) == (
        Sentence("Fine {name}.", {"name": "x"}),
    )


def test_a_plural_sentence_with_its_count_is_kept() -> None:
    [sentence] = sentences_from_bus([["{count} day", "{count} days", {"count": "3"}]])
    assert sentence.english() == "3 days"


class BrokenCatalogue(gettext.NullTranslations):
    """A catalogue whose translations name a placeholder the sentence does not have."""

    def gettext(self, message: str) -> str:
        return "{nonsense} " + message


def test_a_translation_that_would_not_format_shows_the_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(i18n, "_translations", BrokenCatalogue())
    sentence = Sentence("Checked on {check_date}.", {"check_date": "2026-12-07"})
    assert sentence.translated() == "Checked on 2026-12-07."
