"""What a link's wrong query parameter is told (se_demo.core.links)."""

from __future__ import annotations

import pytest

from se_demo.core.links import choice_problem, number_problem

DATASETS = ["MNIST", "Fashion-MNIST"]


@pytest.mark.parametrize("value", [None, "MNIST", "Fashion-MNIST"])
def test_a_known_or_absent_choice_is_fine(value: str | None) -> None:
    assert choice_problem("dataset", value, DATASETS, "MNIST") is None


@pytest.mark.parametrize("value", ["KMNIST", "fashion", "mnist", ""])
def test_an_unknown_choice_is_named_with_the_choices_and_what_is_shown(value: str) -> None:
    assert choice_problem("dataset", value, DATASETS, "MNIST") == (
        f"The link's dataset={value} is not one of MNIST or Fashion-MNIST, so MNIST is shown."
    )


@pytest.mark.parametrize("value", [None, "1", "3", "03"])
def test_a_number_in_range_or_absent_is_fine(value: str | None) -> None:
    assert number_problem("block", value, 1, 3, "an SE block", "block 1") is None


@pytest.mark.parametrize("value", ["0", "4", "7", "-1", "2.5", "two", ""])
def test_a_number_out_of_range_or_not_a_number_is_named(value: str) -> None:
    assert number_problem("block", value, 1, 3, "an SE block", "block 1") == (
        f"The link's block={value} is not an SE block (1 to 3), so block 1 is shown."
    )
