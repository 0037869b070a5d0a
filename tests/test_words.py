"""The dashboard's wording helpers."""

from __future__ import annotations

import pytest

from se_demo.words import GLOSSARY, explain, p_value, percent, unbroken, with_article


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
        ("5", "a 5"),
        ("Sandal", "a Sandal"),
        ("Ankle boot", "an Ankle boot"),
        ("T-shirt/top", "a T-shirt/top"),
    ],
)
def test_with_article(noun: str, text: str) -> None:
    assert with_article(noun) == text


def test_every_term_is_explained_in_sentences() -> None:
    for term in GLOSSARY:
        text = explain(term)
        assert len(text) > 40, term
        assert text.rstrip().endswith("."), term  # whole sentences
        assert "**" not in text, term  # one term: its definition alone, no heading
    with pytest.raises(KeyError):
        explain("no such term")
    both = explain("squeeze", "gate")
    paragraphs = both.split("\n\n")
    assert [p.split("**: ")[0] for p in paragraphs] == ["**squeeze", "**gate"]
    assert paragraphs[0].endswith(explain("squeeze"))  # each definition whole, in order
    assert paragraphs[1].endswith(explain("gate"))


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (1.0, "p = 1"),
        (0.225, "p = 0.225"),
        (0.0421, "p = 0.0421"),
        (0.001, "p = 0.001"),
        (0.0008, "p < 0.001"),
        (6.35e-137, "p < 0.001"),
        (0.0, "p < 0.001"),  # a binomial tail that underflowed: never "p = 0"
    ],
)
def test_p_value_is_never_zero(p: float, text: str) -> None:
    assert p_value(p) == text


def test_the_squeeze_is_the_papers_mean_and_the_original_study_is_defined() -> None:
    squeeze = GLOSSARY["squeeze"]
    assert "mean" in squeeze
    assert "global average pooling, as in the SE paper" in squeeze
    assert "original study's TensorFlow code used the sum" in squeeze
    study = GLOSSARY["original study"]
    for fact in ("TensorFlow", "100 epochs", "Adam", "1e-4", "batch 32", "MNIST test metrics"):
        assert fact in study


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("T-shirt/top", "T-\u2060shirt/\u2060top"),
        ("Ankle boot", "Ankle\u00a0boot"),
        ("(75.4 %)", "(75.4\u00a0%)"),
        ("7", "7"),
    ],
)
def test_unbroken_text_has_no_break_opportunity(text: str, kept: str) -> None:
    assert unbroken(text) == kept
