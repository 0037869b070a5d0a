"""The experiments' records read and written up, without torch: paired statistics over
seeds, their plain-language reading, the Markdown tables, the saved ``comparison`` and
``ablation`` records (`se_demo.training.experiments` runs them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import ttest_rel, wilcoxon

from se_demo.analysis.results import ALPHA
from se_demo.core.registry import ModelKind
from se_demo.words import p_value, percent


def paired_statistics(first: Sequence[float], second: Sequence[float]) -> dict[str, Any]:
    """Mean and std of each, the paired differences (second - first) and their tests.

    Tests: the paired t-test and the Wilcoxon signed-rank test (scipy); with fewer
    than two pairs, or all differences zero, p-values are None.
    """
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    diff = b - a
    n = len(diff)
    t_p = w_p = None
    if n >= 2 and np.any(diff != 0):
        t_p = float(ttest_rel(b, a).pvalue)
        w_p = float(wilcoxon(diff).pvalue)
    return {
        "n": n,
        "first_mean": float(a.mean()),
        "first_std": float(a.std(ddof=1)) if n > 1 else 0.0,
        "second_mean": float(b.mean()),
        "second_std": float(b.std(ddof=1)) if n > 1 else 0.0,
        "differences": diff.tolist(),
        "mean_difference": float(diff.mean()),
        "std_difference": float(diff.std(ddof=1)) if n > 1 else 0.0,
        "second_wins": int(np.sum(diff > 0)),
        "first_wins": int(np.sum(diff < 0)),
        "ttest_p": t_p,
        "wilcoxon_p": w_p,
    }


def _seeds(count: int) -> str:
    return f"{count} seed" if count == 1 else f"{count} seeds"


def describe_comparison(stats: dict[str, Any], alpha: float = ALPHA) -> str:
    """A plain-language reading of `paired_statistics` for SENet (second) vs CNN (first)."""
    p = stats["ttest_p"]
    diff = stats["mean_difference"] * 100
    head = (
        f"Over {stats['n']} seeds, SENet minus CNN test accuracy is {diff:+.3f} points on "
        f"average (SENet better in {_seeds(stats['second_wins'])}, "
        f"CNN in {_seeds(stats['first_wins'])})."
    )
    if p is None:
        return head + " There is no variation to test."
    verdict = "significant" if p < alpha else "not significant"
    return f"{head} Paired t-test {p_value(p)}: the difference is {verdict} at {percent(alpha)}."


def format_comparison_markdown(record: dict[str, Any], with_summary: bool = True) -> str:
    """The multi-seed comparison as a Markdown table plus its plain-language reading.

    ``with_summary=False`` leaves out the summary sentence (for a page that shows it as
    its headline) and keeps the tests' p-values.
    """
    acc = record["accuracy"]
    lines = [
        "| seed | Basic CNN | SENet | SENet - CNN |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for cnn, senet in zip(
        record["runs"][ModelKind.CNN], record["runs"][ModelKind.SENET], strict=True
    ):
        lines.append(
            f"| {cnn['seed']} | {cnn['accuracy']:.4f} | {senet['accuracy']:.4f} | "
            f"{senet['accuracy'] - cnn['accuracy']:+.4f} |"
        )
    lines.append(
        f"| mean ± std | {acc['first_mean']:.4f} ± {acc['first_std']:.4f} | "
        f"{acc['second_mean']:.4f} ± {acc['second_std']:.4f} | "
        f"{acc['mean_difference']:+.4f} ± {acc['std_difference']:.4f} |"
    )
    p_t = "p n/a" if acc["ttest_p"] is None else p_value(acc["ttest_p"])
    p_w = "p n/a" if acc["wilcoxon_p"] is None else p_value(acc["wilcoxon_p"])
    lines.append("")
    tests = f"Wilcoxon signed-rank {p_w}; t-test {p_t}."
    lines.append(f"{record['summary']} ({tests})" if with_summary else tests)
    return "\n".join(lines)


def budget_line(record: dict[str, Any]) -> str:
    """What an experiment cost, from its record: 'trained 33 min with torch 2.14.1'.

    The torch version drops its build suffix ("+cu130"): it says which wheel was
    installed, not what the numbers depend on.
    """
    train = record["train"]
    torch_version = str(record.get("versions", {}).get("torch", "?")).split("+")[0]
    command = f" Made with `{record['command']}`." if record.get("command") else ""
    return (
        f"{len(record['seeds'])} seeds, {train['epochs']} epochs each, batch "
        f"{train['batch_size']}, peak lr {train['lr']:g}; trained "
        f"{record['wall_time_s'] / 60:.0f} min with torch {torch_version}.{command}"
    )


def format_ablation_markdown(record: dict[str, Any]) -> str:
    """The ablation rows as a Markdown table with the paper's ImageNet numbers beside them."""
    lines = [
        "| ablation | variant | parameters | test accuracy (mean ± std) | paper top-1 err. | paper top-5 err. |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in record["rows"]:
        paper = row["paper_imagenet"] or {}
        top1 = f"{paper['top1_err']:.2f}" if "top1_err" in paper else "-"
        top5 = f"{paper['top5_err']:.2f}" if "top5_err" in paper else "-"
        lines.append(
            f"| {row['group']} | {row['label']} | {row['parameters']:,} | "
            f"{row['mean_accuracy']:.4f} ± {row['std_accuracy']:.4f} | {top1} | {top5} |"
        )
    return "\n".join(lines)


def load_experiment(directory: Path, kind: str) -> dict[str, Any] | None:
    """The saved ``comparison`` or ``ablation`` record in ``directory``, or None if absent.

    Raises ValueError for a file that is not such a record.
    """
    path = Path(directory) / f"{kind}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"'{path}' is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("kind") != kind:
        raise ValueError(f"'{path}' is not a saved {kind}")
    return record
