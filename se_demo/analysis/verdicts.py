"""Honest verdicts: what a comparison of two trained models can claim, and what it cannot.

McNemar's test says whether two *trained networks* differ on this test set. It says
nothing about whether SE helps when one of them is barely trained, and one run per model
never settles that question: the multi-seed comparison ("Seeds and ablations") does.
A run far below the shipped models is called undertrained wherever it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from se_demo.analysis.results import ALPHA, McNemarResult
from se_demo.core.config import TRAIN_IMAGES
from se_demo.core.registry import MODEL_TITLES, DatasetName, ModelKind, dataset_info
from se_demo.words import p_value, percent

MIN_ACCURACY: dict[str, float] = {
    DatasetName.MNIST: 0.98,
    DatasetName.FASHION: 0.88,
}  # the shipped models reach 99.6 % and 92 %
SEEDS_PAGE = "Seeds and ablations"


def images_seen(record: dict[str, Any]) -> int:
    """Training images a model saw in all, epochs x subset, from its record's recipe."""
    train = record.get("train") or {}
    epochs = int(train.get("epochs") or record.get("epochs") or 0)
    return epochs * int(train.get("train_subset") or TRAIN_IMAGES)


def undertrained_note(record: dict[str, Any], accuracy: float, dataset: str) -> str | None:
    """One sentence saying why a model is undertrained, or None when it is not.

    Undertrained: test ``accuracy`` (a fraction) below 98 % on MNIST or 88 % on
    Fashion-MNIST, or fewer training images seen than one full epoch of the training set.
    """
    info = dataset_info(dataset)
    reasons = []
    if accuracy < MIN_ACCURACY[dataset]:
        reasons.append(
            f"test accuracy {percent(accuracy, 2)} is below {percent(MIN_ACCURACY[dataset])}"
        )
    seen = images_seen(record)
    if seen < TRAIN_IMAGES:
        reasons.append(f"it saw {seen:,} training images, less than one epoch of {TRAIN_IMAGES:,}")
    if not reasons:
        return None
    return (
        f"Undertrained on {info.title}: {' and '.join(reasons)}. It shows what a barely "
        "trained network does, not what its architecture can do."
    )


@dataclass(frozen=True)
class Verdict:
    """The Results box: its tone ("success", "info" or "warning"), text and model notes."""

    tone: str
    text: str
    undertrained: dict[str, str]  # model name -> its undertrained note


def compare_verdict(
    records: dict[str, dict[str, Any]],
    accuracies: dict[str, float],
    dataset: str,
    mcnemar: McNemarResult,
    first: str = ModelKind.CNN,
    second: str = ModelKind.SENET,
) -> Verdict:
    """McNemar's reading for two models, worded for what it can claim.

    With an undertrained model it says only that the two runs differ (or cannot be told
    apart); with two full runs a significant result names the better model, and in every
    case the SE question is sent to the multi-seed comparison.
    """
    notes = {
        name: note
        for name in (first, second)
        if (note := undertrained_note(records[name], accuracies[name], dataset)) is not None
    }
    b, c = mcnemar.only_first_correct, mcnemar.only_second_correct
    names = (MODEL_TITLES.get(first, first), MODEL_TITLES.get(second, second))
    counts = (
        f"{b + c:,} test images are classified correctly by only one model: {b:,} by "
        f"{names[0]} alone, {c:,} by {names[1]} alone. "
    )
    p = p_value(mcnemar.p_value)
    better = names[0] if b > c else names[1]
    seeds = f"Whether SE helps is the question of the multi-seed comparison ({SEEDS_PAGE} page)."
    if notes:
        who = " and ".join(MODEL_TITLES.get(n, n) for n in notes)
        reading = (
            f"McNemar's exact test: these two runs differ ({p}); the {better} run gets more "
            "images right."
            if mcnemar.significant(ALPHA)
            else f"McNemar's exact test: these two runs cannot be told apart ({p})."
        )
        caveat = (
            f" {who} {'is' if len(notes) == 1 else 'are'} undertrained, so this says nothing "
            "about which architecture is better: another seed or a few more epochs can "
            "reverse it. "
        )
        return Verdict("warning", counts + reading + caveat + seeds, notes)
    if mcnemar.significant(ALPHA):
        reading = (
            f"McNemar's exact test: significant at {percent(ALPHA)} ({p}): on this test set, "
            f"{better} is the better model. "
        )
        scope = "That is these two trained networks, one run each. "
        return Verdict("success", counts + reading + scope + seeds, notes)
    reading = (
        f"McNemar's exact test: not statistically significant at {percent(ALPHA)} ({p}): with "
        "this test set, neither model can be called better. "
    )
    return Verdict("info", counts + reading + seeds, notes)
