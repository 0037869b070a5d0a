"""How both models do on the class's own digits, and what that can claim.

Accuracy with Wilson 95 % intervals (SciPy), McNemar's exact test on the paired answers
(the Results page's test), both confusion matrices (scikit-learn), the misses and the
disagreements, and the SENet's mean excitations per digit on the class's digits. With
few digits the verdict says it cannot tell yet, and roughly how many digits more a
difference of the size seen so far would need.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix

from se_demo.analysis.results import ALPHA, McNemarResult, mcnemar_exact, wilson_interval
from se_demo.core.config import NUM_CLASSES
from se_demo.core.registry import MODEL_TITLES, ModelKind

MAX_DIGITS_PROJECTED = 100_000  # beyond this, "no difference in sight" rather than a number


@dataclass(frozen=True)
class ModelScore:
    """One model on the class's digits."""

    correct: int
    total: int
    interval: tuple[float, float]  # Wilson 95 %

    @property
    def accuracy(self) -> float:
        """Share of the digits read right (0 with no digits)."""
        return self.correct / self.total if self.total else 0.0


@dataclass(frozen=True)
class ClassReport:
    """Everything the class page says about the models on the class's digits."""

    count: int
    students: int  # distinct sessions
    per_label: np.ndarray  # (10,) digits per label
    predictions: dict[str, np.ndarray]  # model -> (N,)
    scores: dict[str, ModelScore]
    mcnemar: McNemarResult
    confusion: dict[str, np.ndarray]  # model -> (10, 10), rows true, columns predicted
    misses: np.ndarray  # indices either model gets wrong
    disagreements: np.ndarray  # indices where the two models' answers differ


def class_report(
    labels: np.ndarray, probabilities: dict[str, np.ndarray], sessions: list[str]
) -> ClassReport:
    """Score both models on the class's digits from their saved probabilities."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = {
        m: np.asarray(p).reshape(len(labels), -1).argmax(axis=1) for m, p in probabilities.items()
    }
    if not predictions:
        predictions = {m: np.zeros(0, dtype=np.int64) for m in (ModelKind.CNN, ModelKind.SENET)}
    correct = {m: p == labels for m, p in predictions.items()}
    scores = {
        m: ModelScore(int(c.sum()), len(labels), wilson_interval(int(c.sum()), len(labels)))
        for m, c in correct.items()
    }
    cnn, senet = predictions[ModelKind.CNN], predictions[ModelKind.SENET]
    return ClassReport(
        count=len(labels),
        students=len(set(sessions)),
        per_label=np.bincount(labels, minlength=NUM_CLASSES),
        predictions=predictions,
        scores=scores,
        mcnemar=mcnemar_exact(correct[ModelKind.CNN], correct[ModelKind.SENET]),
        confusion={m: _confusion(labels, p) for m, p in predictions.items()},
        misses=np.flatnonzero(~correct[ModelKind.CNN] | ~correct[ModelKind.SENET]),
        disagreements=np.flatnonzero(cnn != senet),
    )


def _confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    if not len(labels):  # scikit-learn refuses an empty set
        return np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    return confusion_matrix(labels, predicted, labels=range(NUM_CLASSES))


def digits_needed(report: ClassReport) -> int | None:
    """Roughly how many digits in all would make a difference of the size seen so far
    significant (McNemar, 5 %): None when the models differ on no digit or equally often.

    Keeps the share of digits on which exactly one model is right, and its split between
    the models, and finds the smallest number of such digits the exact test calls
    significant at that split.
    """
    b, c = report.mcnemar.only_first_correct, report.mcnemar.only_second_correct
    if b == c or report.count == 0:
        return None
    from scipy.stats import binomtest

    share, split = (b + c) / report.count, min(b, c) / (b + c)
    discordant = b + c
    while discordant / share <= MAX_DIGITS_PROJECTED:
        if binomtest(math.floor(discordant * split), discordant, 0.5).pvalue < ALPHA:
            return math.ceil(discordant / share)
        discordant += max(1, discordant // 10)
    return None


def class_verdict(report: ClassReport) -> str:
    """McNemar's reading on the class's digits, in the Results page's honest words."""
    b, c = report.mcnemar.only_first_correct, report.mcnemar.only_second_correct
    names = MODEL_TITLES[ModelKind.CNN], MODEL_TITLES[ModelKind.SENET]
    p = report.mcnemar.p_value
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3g}"
    counts = (
        f"{b + c:,} of our {report.count:,} digits are read right by only one model: {b:,} by "
        f"{names[0]} alone, {c:,} by {names[1]} alone. "
    )
    if report.mcnemar.significant(ALPHA):
        better = names[0] if b > c else names[1]
        return counts + (
            f"McNemar's exact test: significant at 5 % ({p_text}): on our handwriting, the "
            f"shipped {better} reads better. That is these two trained networks and this "
            "class's digits; whether SE helps in general is the multi-seed comparison's question."
        )
    needed = digits_needed(report)
    if needed is None:
        more = (
            "The two models are right on the same digits so far: there is no difference to test yet."
            if b == c
            else "No difference is in sight."
        )
    else:
        more = (
            f"If the difference stayed this size, about {needed:,} digits in all "
            f"({max(needed - report.count, 1):,} more) would be needed to tell."
        )
    return counts + f"McNemar's exact test cannot tell the models apart yet ({p_text}). " + more


def excitation_profiles(
    excitations: dict[str, np.ndarray], labels: np.ndarray, mnist_class_means: dict[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per SE block: the SENet's mean excitation (C,) on the class's digits, and the MNIST
    test set's class means (10, C) mixed in the same proportions of digits, to compare like
    with like."""
    labels = np.asarray(labels, dtype=np.int64)
    weights = np.bincount(labels, minlength=NUM_CLASSES) / max(len(labels), 1)
    return {
        block: (np.asarray(values).mean(axis=0), weights @ mnist_class_means[block])
        for block, values in excitations.items()
        if len(values)
    }
