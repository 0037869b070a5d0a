"""The original study's report and table, with our numbers beside its published ones.

The original study (the TensorFlow repository se-demo reproduces) printed, per model, a
confusion matrix, per-class precision/recall/F1 to five decimals and a total line, and
its README compared the two models side by side. Its published numbers live in
`se_demo.core.registry` (`DatasetInfo.reference`). No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from se_demo.core.config import NUM_CLASSES
from se_demo.core.registry import ModelKind, model_title


def format_reference_report(title: str, metrics: dict[str, Any]) -> str:
    """The original study's report: confusion matrix, per-class P/R/F1 (five decimals), total line."""
    lines = [title, "Confusion matrix (rows: true class, columns: predicted class)"]
    lines.append("     " + "".join(f"{c:>6}" for c in range(NUM_CLASSES)))
    for c, row in enumerate(metrics["confusion"]):
        lines.append(f"{c:>5}" + "".join(f"{v:>6}" for v in row))
    lines.append("")
    lines.append(f"{'class':>5} {'precision':>10} {'recall':>10} {'f1':>10} {'support':>8}")
    per = metrics["per_class"]
    for c in range(NUM_CLASSES):
        lines.append(
            f"{c:>5} {per['precision'][c]:>10.5f} {per['recall'][c]:>10.5f} "
            f"{per['f1'][c]:>10.5f} {per['support'][c]:>8}"
        )
    lines.append(
        f"total accuracy {metrics['accuracy']:.5f}  precision {metrics['precision']:.5f}  "
        f"recall {metrics['recall']:.5f}  f1 {metrics['f1']:.5f}"
    )
    return "\n".join(lines)


def comparison_rows(
    metrics: dict[str, dict[str, Any]], reference: Mapping[str, Mapping[str, float]]
) -> list[dict[str, Any]]:
    """Rows of the original-study-versus-ours table: one per metric, the original study's
    number (``reference``, a `DatasetInfo.reference`) and ours for each model.

    An empty ``reference`` drops the original study's columns (it published MNIST only).
    """
    rows = []
    for key in ("accuracy", "precision", "recall", "f1"):
        row: dict[str, Any] = {"metric": key}
        for name in metrics:
            if reference:
                row[f"{model_title(name)} (original study)"] = reference.get(name, {}).get(key)
            row[f"{model_title(name)} (ours)"] = metrics[name][key]
        if {ModelKind.CNN, ModelKind.SENET} <= set(metrics):
            row["SENet - CNN (ours)"] = metrics[ModelKind.SENET][key] - metrics[ModelKind.CNN][key]
        rows.append(row)
    return rows


def format_comparison(
    metrics: dict[str, dict[str, Any]], reference: Mapping[str, Mapping[str, float]]
) -> str:
    """The side-by-side table of the original study's README, ours beside its numbers."""
    rows = comparison_rows(metrics, reference)
    columns = list(rows[0])
    widths = [max(len(c), 9) for c in columns]
    out = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    for row in rows:
        cells = [
            str(row[c])
            if isinstance(row[c], str)
            else ("-" if row[c] is None else f"{row[c]:+.5f}" if "-" in c else f"{row[c]:.5f}")
            for c in columns
        ]
        out.append("  ".join(v.rjust(w) for v, w in zip(cells, widths, strict=True)))
    return "\n".join(out)
