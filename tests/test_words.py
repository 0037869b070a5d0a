"""The dashboard's wording helpers."""

from __future__ import annotations

import pytest

from se_demo.words import GLOSSARY, explain, percent, with_article


@pytest.mark.parametrize(
    ("share", "digits", "text"),
    [(0.9661, 0, "97 %"), (0.99610, 2, "99.61 %"), (0.0033, 2, "0.33 %"), (1.0, 0, "100 %")],
)
def test_percent_has_one_form(share: float, digits: int, text: str) -> None:
    assert percent(share, digits) == text


@pytest.mark.parametrize(
    ("noun", "text"),
    [
        ("7", "a 7"),
        ("8", "an 8"),
        ("Ankle boot", "an Ankle boot"),
        ("T-shirt/top", "a T-shirt/top"),
    ],
)
def test_with_article(noun: str, text: str) -> None:
    assert with_article(noun) == text


def test_every_term_is_explained_in_a_sentence() -> None:
    for term, text in GLOSSARY.items():
        assert explain(term) == text
        assert len(text) > 40, term
        assert text.rstrip().endswith("."), term
    with pytest.raises(KeyError):
        explain("no such term")
    both = explain("squeeze", "gate")
    assert GLOSSARY["squeeze"] in both
    assert GLOSSARY["gate"] in both
