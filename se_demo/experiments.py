"""Experiments over many training runs: the multi-seed comparison and the paper's ablations.

One run of each model (as in the seed) cannot tell whether SE helps on MNIST, where both
are above 99 %. `compare_models` trains both over several seeds and tests the paired
differences; `ablate` repeats the SE paper's ablation tables (reduction ratio, squeeze
operator, excitation gate; Hu et al., Tables 10-12) on our small network.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import ttest_rel, wilcoxon

from se_demo.backends import Backend, InProcess, Run
from se_demo.config import ModelConfig, TrainConfig, to_dict
from se_demo.data import Split
from se_demo.evaluate import compute_metrics, predict
from se_demo.models import build_from_config, count_parameters
from se_demo.registry import MODEL_KINDS, ModelKind, Squeeze
from se_demo.train import TrainProgress, train_model
from se_demo.words import percent


@dataclass(frozen=True)
class Variant:
    """One row of an ablation table."""

    group: str  # "baseline", "reduction ratio", "squeeze", "gate"
    label: str
    config: ModelConfig


DEFAULT_SE = ModelConfig(name=ModelKind.SENET)
ABLATION_VARIANTS: tuple[Variant, ...] = (
    Variant("baseline", "no SE (basic CNN)", ModelConfig(name=ModelKind.CNN)),
    *(
        Variant("reduction ratio", f"r = {r}", replace(DEFAULT_SE, reduction_ratio=r))
        for r in (1, 2, 4, 8, 16)
    ),
    *(
        Variant("squeeze", s, replace(DEFAULT_SE, squeeze=s))
        for s in (Squeeze.MEAN, Squeeze.MAX, Squeeze.SUM)
    ),
    *(Variant("gate", g, replace(DEFAULT_SE, gate=g)) for g in ("sigmoid", "tanh", "relu")),
)

# SE-ResNet-50 on ImageNet, single-crop top-1 / top-5 error (%) and parameters (millions),
# from Hu et al., TPAMI version of arXiv:1709.01507, Tables 10 (ratio), 11 (squeeze), 12 (gate).
# Our defaults there: r = 16, mean squeeze, sigmoid gate. The paper has no sum squeeze.
PAPER_IMAGENET: dict[tuple[str, str], dict[str, float]] = {
    ("baseline", "no SE (basic CNN)"): {"top1_err": 23.30, "top5_err": 6.55, "params_m": 25.6},
    ("reduction ratio", "r = 2"): {"top1_err": 22.29, "top5_err": 6.00, "params_m": 45.7},
    ("reduction ratio", "r = 4"): {"top1_err": 22.25, "top5_err": 6.09, "params_m": 35.7},
    ("reduction ratio", "r = 8"): {"top1_err": 22.26, "top5_err": 5.99, "params_m": 30.7},
    ("reduction ratio", "r = 16"): {"top1_err": 22.28, "top5_err": 6.03, "params_m": 28.1},
    ("squeeze", "max"): {"top1_err": 22.57, "top5_err": 6.09},
    ("squeeze", "mean"): {"top1_err": 22.28, "top5_err": 6.03},
    ("gate", "relu"): {"top1_err": 23.47, "top5_err": 6.98},
    ("gate", "tanh"): {"top1_err": 23.00, "top5_err": 6.38},
    ("gate", "sigmoid"): {"top1_err": 22.28, "top5_err": 6.03},
}

RunCallback = Callable[[str, int, TrainProgress], None]


def train_and_test(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_split: Split,
    test_split: Split,
    progress: Callable[[TrainProgress], None] | None = None,
) -> dict[str, Any]:
    """Train one model and return its test accuracy, macro F1, size and wall time."""
    result = train_model(model_config, train_config, train_split, progress=progress)
    probs = predict(result.model, test_split.images, dataset=train_config.dataset)
    metrics = compute_metrics(test_split.labels.numpy(), probs.argmax(1).numpy())
    return {
        "seed": train_config.seed,
        "accuracy": metrics["accuracy"],
        "f1": metrics["f1"],
        "parameters": count_parameters(result.model),
        "wall_time_s": round(result.wall_time_s, 1),
    }


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


def describe_comparison(stats: dict[str, Any], alpha: float = 0.05) -> str:
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
    return f"{head} Paired t-test p = {p:.3g}: the difference is {verdict} at {percent(alpha)}."


def compare_models(
    train_config: TrainConfig,
    seeds: Sequence[int],
    train_split: Split,
    test_split: Split,
    on_progress: RunCallback | None = None,
    backend: Backend | None = None,
) -> dict[str, Any]:
    """Train the CNN and the SENet once per seed; a JSON-ready record with paired statistics.

    ``backend`` runs the trainings (default: `InProcess`; `RayBackend` for Ray).
    """
    start = time.perf_counter()
    names = MODEL_KINDS
    jobs = [(ModelConfig(name=n), replace(train_config, seed=s)) for s in seeds for n in names]
    labels = [(name, seed) for seed in seeds for name in names]
    results = _run_all(backend, jobs, labels, train_split, test_split, on_progress)
    runs = {
        name: [r for (n, _), r in zip(labels, results, strict=True) if n == name] for name in names
    }
    stats = paired_statistics(
        [r["accuracy"] for r in runs[ModelKind.CNN]], [r["accuracy"] for r in runs[ModelKind.SENET]]
    )
    return {
        "kind": "comparison",
        "dataset": train_config.dataset,
        "train": to_dict(train_config),
        "seeds": list(seeds),
        "runs": runs,
        "accuracy": stats,
        "f1": paired_statistics(
            [r["f1"] for r in runs[ModelKind.CNN]], [r["f1"] for r in runs[ModelKind.SENET]]
        ),
        "summary": describe_comparison(stats),
        "wall_time_s": round(time.perf_counter() - start, 1),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def ablate(
    train_config: TrainConfig,
    seeds: Sequence[int],
    train_split: Split,
    test_split: Split,
    variants: Sequence[Variant] = ABLATION_VARIANTS,
    on_progress: RunCallback | None = None,
    backend: Backend | None = None,
) -> dict[str, Any]:
    """Train every variant once per seed; rows with mean and std accuracy and parameters.

    A configuration shared by several rows (the default SE appears in each group) is
    trained only once per seed. ``backend`` as in `compare_models`.
    """
    start = time.perf_counter()
    labels: dict[tuple[ModelConfig, int], str] = {}
    for variant in variants:
        for seed in seeds:
            labels.setdefault((variant.config, seed), variant.label)
    keys = list(labels)
    jobs = [(config, replace(train_config, seed=seed)) for config, seed in keys]
    named = [(labels[key], key[1]) for key in keys]
    results = _run_all(backend, jobs, named, train_split, test_split, on_progress)
    cache = dict(zip(keys, results, strict=True))
    rows = []
    for variant in variants:
        accuracies = [cache[(variant.config, seed)]["accuracy"] for seed in seeds]
        rows.append(
            {
                "group": variant.group,
                "label": variant.label,
                "model": to_dict(variant.config),
                "parameters": count_parameters(build_from_config(variant.config)),
                "accuracies": accuracies,
                "mean_accuracy": statistics.fmean(accuracies),
                "std_accuracy": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
                "paper_imagenet": PAPER_IMAGENET.get((variant.group, variant.label)),
            }
        )
    return {
        "kind": "ablation",
        "dataset": train_config.dataset,
        "train": to_dict(train_config),
        "seeds": list(seeds),
        "rows": rows,
        "wall_time_s": round(time.perf_counter() - start, 1),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _run_all(
    backend: Backend | None,
    jobs: list[Run],
    labels: list[tuple[str, int]],
    train_split: Split,
    test_split: Split,
    on_progress: RunCallback | None,
) -> list[dict[str, Any]]:
    """Every job's `train_and_test` result, in order, with progress as (label, seed)."""

    def progress(index: int, p: TrainProgress) -> None:
        assert on_progress is not None
        on_progress(*labels[index], p)

    return (backend or InProcess()).run(
        train_and_test, jobs, train_split, test_split, progress if on_progress else None
    )


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
    p_t = "n/a" if acc["ttest_p"] is None else f"{acc['ttest_p']:.3g}"
    p_w = "n/a" if acc["wilcoxon_p"] is None else f"{acc['wilcoxon_p']:.3g}"
    lines.append("")
    tests = f"Wilcoxon signed-rank p = {p_w}; t-test p = {p_t}."
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
