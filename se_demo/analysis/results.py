"""Reading saved results, without torch: the evaluation of both models on a test set,
McNemar's test, the costs, and the images behind each number (the original study's
table and report: `se_demo.analysis.original_study`).

Everything the Results page needs lives here, so that the page never imports torch,
torchvision or scikit-learn (together about 5 s on a 2-core machine).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from se_demo.core.checkpoints import CheckpointError, load_tensors
from se_demo.core.config import NUM_CLASSES
from se_demo.core.registry import ModelKind, model_title
from se_demo.words import percent, unbroken


def recipe_line(record: dict[str, Any]) -> str:
    """A model checkpoint's size and training recipe in one line, from its record alone
    ("?" for what a hand-made record lacks).
    """
    train = record.get("train") or {}

    def known(value: Any, spec: str = "") -> str:
        return "?" if value is None else format(value, spec)

    return (
        f"{known(record.get('parameters'), ',')} parameters  \n"
        f"{known(record.get('epochs'))} epochs, batch {known(train.get('batch_size'))}, "
        f"lr {known(train.get('lr'), 'g')}, seed {known(train.get('seed'))}; "
        f"trained {known(record.get('created'))[:10]}"
    )


ALPHA = 0.05  # the significance level of every test se-demo reports


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test of two classifiers on the same test set."""

    only_first_correct: int  # images the first model gets right and the second wrong
    only_second_correct: int
    p_value: float

    def significant(self, alpha: float = ALPHA) -> bool:
        """Whether the difference is significant at level ``alpha``."""
        return self.p_value < alpha


def mcnemar_exact(first_correct: np.ndarray, second_correct: np.ndarray) -> McNemarResult:
    """McNemar's exact (binomial) test on per-image correctness of two models (scipy)."""
    first_correct = np.asarray(first_correct, dtype=bool)
    second_correct = np.asarray(second_correct, dtype=bool)
    b = int(np.sum(first_correct & ~second_correct))
    c = int(np.sum(~first_correct & second_correct))
    from scipy.stats import binomtest  # imported here: scipy.stats alone takes ~0.7 s

    p = 1.0 if b + c == 0 else float(binomtest(min(b, c), b + c, 0.5).pvalue)
    return McNemarResult(b, c, min(p, 1.0))


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """The Wilson score 95 % interval of the proportion ``correct / total`` (SciPy);
    (0, 1) with no trials."""
    if total == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    interval = binomtest(correct, total).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


@dataclass
class Evaluation:
    """Everything the Results page shows, for every model on one test set."""

    labels: np.ndarray  # (N,) true classes
    probabilities: dict[str, np.ndarray]  # model name -> (N, 10)
    excitations: dict[str, dict[str, np.ndarray]]  # model name -> block -> (N, C)
    record: dict[str, Any]  # metrics, flops, parameters per model; data checksum
    # What depends on the machine and its load, kept out of the record (and so out of
    # evaluation.json): {"cpu", "threads", "latency_ms": {model: ms}}, in measurements.json.
    measurements: dict[str, Any] = field(default_factory=dict)

    def predictions(self, name: str) -> np.ndarray:
        """Predicted classes (N,) of one model."""
        return self.probabilities[name].argmax(1)

    def metrics(self, name: str) -> dict[str, Any]:
        """The saved metrics of one model."""
        return self.record["models"][name]["metrics"]


def load_evaluation(directory: Path) -> Evaluation:
    """Load a saved evaluation; raises CheckpointError if missing or corrupt."""
    tensors, record = load_tensors(directory, "evaluation")
    if record.get("kind") != "evaluation":
        raise CheckpointError(f"'evaluation' in '{directory}' is not an evaluation record")
    probabilities: dict[str, np.ndarray] = {}
    excitations: dict[str, dict[str, np.ndarray]] = {}
    for name in record["models"]:
        probabilities[name] = tensors[f"{name}/probabilities"]
        prefix = f"{name}/excitation/"
        blocks = sorted(k for k in tensors if k.startswith(prefix))
        excitations[name] = {k[len(prefix) :]: tensors[k].astype(np.float32) for k in blocks}
    return Evaluation(
        tensors["labels"], probabilities, excitations, record, read_measurements(directory)
    )


MEASUREMENTS_FILE = "measurements.json"


def read_measurements(directory: Path) -> dict[str, Any]:
    """An evaluation's machine-dependent measurements (`Evaluation.measurements`); empty
    when the file is missing or unreadable (they are shown, never relied on)."""
    try:
        measurements = json.loads((Path(directory) / MEASUREMENTS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return measurements if isinstance(measurements, dict) else {}


IMAGE_SETS = ("disagree", "only_first_correct", "only_second_correct")


def evaluation_mcnemar(
    evaluation: Evaluation, first: str = ModelKind.CNN, second: str = ModelKind.SENET
) -> McNemarResult:
    """McNemar's exact test on the per-image correctness of two models in an evaluation.

    Read from the evaluation's record when it was saved there for these two models.
    """
    saved = evaluation.record.get("mcnemar", {})
    if (saved.get("first"), saved.get("second")) == (first, second):
        return McNemarResult(
            saved["only_first_correct"], saved["only_second_correct"], saved["p_value"]
        )
    labels = evaluation.labels
    return mcnemar_exact(
        evaluation.predictions(first) == labels, evaluation.predictions(second) == labels
    )


def cost_rows(
    evaluation: Evaluation, first: str = ModelKind.CNN, second: str = ModelKind.SENET
) -> list[dict[str, Any]]:
    """Parameters, FLOPs per image and CPU latency per image (ms; NaN when not measured):
    one row per model, then a row of ``second - first``.
    """
    keys = ("parameters", "flops", "latency_ms")
    latency = evaluation.measurements.get("latency_ms", {})
    rows = [
        {
            "model": model_title(name),
            "parameters": evaluation.record["models"][name]["parameters"],
            "flops": evaluation.record["models"][name]["flops"],
            "latency_ms": float(latency.get(name, float("nan"))),
        }
        for name in (first, second)
    ]
    difference = {k: rows[1][k] - rows[0][k] for k in keys}
    rows.append({"model": f"{rows[1]['model']} - {rows[0]['model']}", **difference})
    return rows


def confusion_cell_indices(
    labels: np.ndarray, predictions: np.ndarray, true_class: int, predicted_class: int
) -> np.ndarray:
    """Indices (ascending) of the images in one confusion cell: true class, predicted class."""
    return np.flatnonzero((labels == true_class) & (predictions == predicted_class))


def most_confused_cell(confusion: np.ndarray) -> tuple[int, int]:
    """(true class, predicted class) of the largest off-diagonal cell of a confusion matrix."""
    errors = np.array(confusion, dtype=float)
    np.fill_diagonal(errors, -1.0)
    true_class, predicted_class = np.unravel_index(int(errors.argmax()), errors.shape)
    return int(true_class), int(predicted_class)


CONFUSION_VIEWS: dict[str, str] = {
    "counts": "Counts",
    "recall": "Row-normalised (recall)",
    "precision": "Column-normalised (precision)",
}


def normalize_confusion(confusion: np.ndarray, view: str) -> np.ndarray:
    """A confusion matrix (rows: true class, columns: predicted) in one of `CONFUSION_VIEWS`.

    ``"counts"`` keeps the counts; ``"recall"`` divides each row by its true-class total
    (the diagonal is then the per-class recall); ``"precision"`` divides each column by
    its predicted-class total (diagonal: precision). Empty rows or columns give zeros.
    """
    counts = np.asarray(confusion, dtype=float)
    if view == "counts":
        return counts
    if view not in CONFUSION_VIEWS:
        raise ValueError(
            f"unknown confusion view {view!r}; expected one of {tuple(CONFUSION_VIEWS)}"
        )
    totals = counts.sum(axis=1 if view == "recall" else 0, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def comparison_indices(
    evaluation: Evaluation,
    which: str = "disagree",
    first: str = ModelKind.CNN,
    second: str = ModelKind.SENET,
) -> np.ndarray:
    """Indices (ascending) of the images in one of `IMAGE_SETS` of two models' predictions.

    ``"only_first_correct"`` and ``"only_second_correct"`` are the two counts of
    McNemar's test; ``"disagree"`` also holds the images both get wrong differently.
    """
    a, b = evaluation.predictions(first), evaluation.predictions(second)
    labels = evaluation.labels
    if which == "disagree":
        mask = a != b
    elif which == "only_first_correct":
        mask = (a == labels) & (b != labels)
    elif which == "only_second_correct":
        mask = (a != labels) & (b == labels)
    else:
        raise ValueError(f"unknown image set {which!r}; expected one of {IMAGE_SETS}")
    return np.flatnonzero(mask)


RIGHT, WRONG = ":material/check:", ":material/close:"


def answer_lines(
    image: str,
    label: int,
    answers: Mapping[str, int],
    class_names: Sequence[str],
    confidences: Mapping[str, float] | None = None,
) -> list[str]:
    """A caption for one image in a gallery: ``image`` (e.g. "image 7") and its true class,
    then each model's answer, with its confidence when given, marked right or wrong by
    Streamlit's Material icons (`RIGHT`, `WRONG`: fonts without emoji or dingbats still
    draw them). Class names and confidences are `unbroken`: a gallery's narrow column
    wraps between them, not inside.
    """
    lines = [f"{image}, true {unbroken(class_names[label])}"]
    for name, predicted in answers.items():
        mark = RIGHT if predicted == label else WRONG
        answer = unbroken(class_names[predicted])
        if confidences is not None:
            answer += " " + unbroken(f"({percent(confidences[name], 1)})")
        lines.append(f"{model_title(name)}: {answer} {mark}")
    return lines


def prediction_lines(
    evaluation: Evaluation, index: int, class_names: tuple[str, ...] | None = None
) -> list[str]:
    """`answer_lines` of one test image of a saved evaluation: every model's prediction
    with its confidence."""
    names = class_names or tuple(str(c) for c in range(NUM_CLASSES))
    predicted = {n: int(p[index].argmax()) for n, p in evaluation.probabilities.items()}
    confidences = {n: float(evaluation.probabilities[n][index, c]) for n, c in predicted.items()}
    return answer_lines(
        f"image {index}", int(evaluation.labels[index]), predicted, names, confidences
    )
