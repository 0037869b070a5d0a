"""Reading a saved robustness sweep without torch: accuracies, Holm-corrected McNemar
tests, the wording of what they can claim, and the images behind each number.

`se_demo.robustness.sweep` runs the sweep and saves it; the Robustness page reads it here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from se_demo.analysis.results import ALPHA, answer_lines
from se_demo.core.checkpoints import CheckpointError, load_tensors
from se_demo.core.registry import MODEL_TITLES, ModelKind
from se_demo.words import p_value

FIRST, SECOND = ModelKind.CNN, ModelKind.SENET


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given), capped at 1.

    The k-th smallest p is multiplied by (m - k + 1), then made non-decreasing in rank.
    Rejecting where the adjusted p < alpha keeps the chance of any false claim in the
    whole family below alpha.
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


@dataclass
class Robustness:
    """A saved sweep: both models on every corruption and severity of a test subset."""

    indices: np.ndarray  # (N,) positions in the test set of the images used
    labels: np.ndarray  # (N,) their true classes
    predictions: dict[str, np.ndarray]  # model -> (settings, N) predicted classes, uint8
    excitation_shift: np.ndarray  # (settings, blocks) SENet's class-mean excitation shift
    record: dict[str, Any]

    @property
    def settings(self) -> list[tuple[str, int]]:
        """(corruption, severity) of each row; row 0 is ("clean", 0)."""
        return [(str(name), int(severity)) for name, severity in self.record["settings"]]

    def row(self, corruption: str, severity: int) -> int:
        """The row of one setting; severity 0 of any corruption is the clean row."""
        if severity == 0:
            return 0
        try:
            return self.settings.index((corruption, severity))
        except ValueError:
            raise ValueError(f"no setting ({corruption!r}, {severity}) in this sweep") from None

    def accuracy(self, model: str, corruption: str, severity: int) -> float:
        """Accuracy (share of the N images) of one model at one setting."""
        return float(self.record["accuracy"][model][self.row(corruption, severity)])

    def tests(self, corruption: str) -> list[dict[str, Any]]:
        """The McNemar tests of one corruption, one per severity, with Holm's p."""
        return [t for t in self.record["mcnemar"] if t["corruption"] == corruption]


def load_robustness(directory: Path) -> Robustness:
    """Load a saved sweep; raises CheckpointError if missing, corrupt or not a sweep."""
    tensors, record = load_tensors(directory, "robustness")
    if record.get("kind") != "robustness":
        raise CheckpointError(f"'robustness' in '{directory}' is not a robustness record")
    predictions = {name: tensors[f"{name}/predictions"] for name in record["accuracy"]}
    return Robustness(
        tensors["indices"], tensors["labels"], predictions, tensors["excitation_shift"], record
    )


def verdict(sweep: Robustness, corruption: str) -> str:
    """What the paired tests of one corruption can claim, in plain words."""
    first, second = MODEL_TITLES[FIRST], MODEL_TITLES[SECOND]
    n = sweep.record["test_images"]
    tests = sweep.tests(corruption)
    found = [t for t in tests if t["p_holm"] < ALPHA]
    if not found:
        smallest = min(t["p_holm"] for t in tests)
        return (
            f"No difference shows at any severity (smallest Holm-adjusted "
            f"{p_value(smallest)}). On these {n:,} corrupted test images the two trained "
            "models cannot be told apart; that is not proof that they are equally robust."
        )
    parts = []
    for t in found:
        b, c = t["only_first_correct"], t["only_second_correct"]
        better = first if b > c else second
        parts.append(
            f"severity {t['severity']}: {better} is right more often ({b} images only "
            f"{first} gets right, {c} only {second}; Holm-adjusted {p_value(t['p_holm'])})"
        )
    return (
        "These two trained models differ on this corrupted test set at "
        + "; ".join(parts)
        + ". One trained model of each kind: this is about these two models, not about SE "
        "in general (another training seed may turn it round)."
    )


def corruption_rows(sweep: Robustness) -> list[dict[str, Any]]:
    """One row per corruption: each model's accuracy (%) per severity, SENet - CNN at the
    strongest severity (pp), and the smallest Holm-adjusted p over its severities.
    """
    severities = sweep.record["severities"]
    rows = []
    for name, info in sweep.record["corruptions"].items():
        row: dict[str, Any] = {"corruption": info["title"]}
        for model in (FIRST, SECOND):
            for s in severities:
                row[f"{MODEL_TITLES[model]} s{s} %"] = 100 * sweep.accuracy(model, name, s)
        strongest = severities[-1]
        row[f"SENet - CNN s{strongest} pp"] = 100 * (
            sweep.accuracy(SECOND, name, strongest) - sweep.accuracy(FIRST, name, strongest)
        )
        row["Holm p (min)"] = min(t["p_holm"] for t in sweep.tests(name))
        rows.append(row)
    return rows


def format_robustness_table(sweep: Robustness) -> str:
    """The sweep as a Markdown table, with the clean and mean-over-corruptions rows."""
    rows = corruption_rows(sweep)
    columns = list(rows[0])
    summary = sweep.record["summary"]
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if c == "corruption" else "---:" for c in columns) + "|",
    ]
    for row in rows:
        cells = [row["corruption"]] + [
            p_value(row[c])
            if c.startswith("Holm")
            else f"{row[c]:+.1f}"
            if "pp" in c
            else f"{row[c]:.1f}"
            for c in columns[1:]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for label, key in (("mean over corruptions", "mean_by_severity"),):
        cells = [f"**{label}**"]
        for model in (FIRST, SECOND):
            cells += [f"{100 * v:.1f}" for v in summary[model][key]]
        diff = summary[SECOND][key][-1] - summary[FIRST][key][-1]
        cells += [f"{100 * diff:+.1f}", ""]
        lines.append("| " + " | ".join(cells) + " |")
    clean = {m: summary[m]["clean"] for m in (FIRST, SECOND)}
    drops = {m: summary[m]["relative_drop"] for m in (FIRST, SECOND)}
    lines.append("")
    lines.append(
        f"Clean accuracy on these {sweep.record['test_images']:,} images: "
        f"CNN {100 * clean[FIRST]:.2f} %, SENet {100 * clean[SECOND]:.2f} %. Mean over all "
        f"corruptions and severities: CNN {100 * summary[FIRST]['mean']:.1f} % "
        f"({100 * drops[FIRST]:.1f} % below clean), SENet {100 * summary[SECOND]['mean']:.1f} % "
        f"({100 * drops[SECOND]:.1f} % below clean)."
    )
    return "\n".join(lines)


def example_positions(
    sweep: Robustness, corruption: str, severity: int, count: int = 8
) -> np.ndarray:
    """Up to ``count`` positions (into `Robustness.indices`) to show for one setting: the
    images where the models' answers differ first, then ones either gets wrong, then the rest.
    """
    row = sweep.row(corruption, severity)
    a, b = sweep.predictions[FIRST][row], sweep.predictions[SECOND][row]
    wrong = (a != sweep.labels) | (b != sweep.labels)
    rank = np.where(a != b, 0, np.where(wrong, 1, 2))
    return np.argsort(rank, kind="stable")[:count]


def example_lines(
    sweep: Robustness, corruption: str, severity: int, position: int, class_names: Sequence[str]
) -> list[str]:
    """The caption of one example (a position from `example_positions`): the test image,
    its true class and each model's saved answer at this setting, marked right or wrong."""
    row = sweep.row(corruption, severity)
    answers: dict[str, int] = {m: int(sweep.predictions[m][row, position]) for m in (FIRST, SECOND)}
    image = f"test image {int(sweep.indices[position])}"
    return answer_lines(image, int(sweep.labels[position]), answers, class_names)
