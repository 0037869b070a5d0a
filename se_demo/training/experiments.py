"""Experiments over many training runs: the multi-seed comparison and the paper's ablations.

One run of each model (as in the seed) cannot tell whether SE helps on MNIST, where both
are above 99 %. `compare_over_seeds` trains both over several seeds and tests the paired
differences; `ablate` repeats the SE paper's ablation tables (reduction ratio, squeeze
operator, excitation gate; Hu et al., Tables 10-12) on our small network. Their statistics,
tables and saved records are read in `se_demo.training.experiment_results`, without torch.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from se_demo.analysis.evaluate import compute_metrics
from se_demo.core.config import ModelConfig, TrainConfig, to_dict
from se_demo.core.data import Split
from se_demo.core.inference import predict
from se_demo.core.models import build_from_config, count_parameters
from se_demo.core.registry import MODEL_KINDS, Gate, ModelKind, Squeeze, model_kind
from se_demo.training.backends import Backend, InProcess, Run
from se_demo.training.experiment_results import describe_comparison, paired_statistics
from se_demo.training.train import TrainProgress, train_model


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
    *(
        Variant("gate", g, replace(DEFAULT_SE, gate=g))
        for g in (Gate.SIGMOID, Gate.TANH, Gate.RELU)
    ),
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


def compare_over_seeds(
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
    jobs = [
        (ModelConfig(name=model_kind(n)), replace(train_config, seed=s))
        for s in seeds
        for n in names
    ]
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
    trained only once per seed. ``backend`` as in `compare_over_seeds`.
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
                "parameters": count_parameters(build_from_config(variant.config, device="meta")),
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
