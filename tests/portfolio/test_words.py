"""The portfolio script's words said of a count: one form per plural category of the reader's
language, each the catalogue's form for a number of that category (portfolio/words.py)."""

from __future__ import annotations

from django.utils import translation
from django.utils.translation import ngettext

from portfolio.words import _samples, portfolio_words


def test_counted_words_come_in_each_category_of_the_readers_language():
    with translation.override("de"):
        words = portfolio_words()
        conflicts = words["conflicts"]

        assert conflicts == {
            "one": ngettext("%(count)s event in conflict", "%(count)s events in conflict", 1),
            "other": ngettext("%(count)s event in conflict", "%(count)s events in conflict", 7),
        }
    assert conflicts["one"] != conflicts["other"]
    assert "Konflikt" in conflicts["one"]
    # Every counted word has the script's fallback.
    assert all("other" in word for word in words.values() if isinstance(word, dict))


def test_languages_that_count_otherwise_get_their_own_categories():
    """As Intl.PluralRules names them in the browser: a catalogue is all such a language needs."""
    assert dict(_samples("pl")) == {"one": 1, "few": 2, "many": 0, "other": 1_000_000}
    assert set(dict(_samples("ar"))) == {"zero", "one", "two", "few", "many", "other"}
    assert dict(_samples("ja")) == {"other": 0}
    assert dict(_samples("xx-unknown")) == dict(_samples("en"))
