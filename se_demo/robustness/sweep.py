"""The robustness sweep: both models on every corruption and severity of a test subset.

For each setting it records each model's answer per image, paired McNemar tests of the
two models (Holm-corrected over all settings of the dataset), and how far the SENet's
class-mean excitations move from the clean ones per SE block. Saved next to the
evaluation (safetensors + JSON, `se_demo.core.checkpoints.save_tensors`); read back without
torch by `se_demo.robustness.results`.

The sweep uses every 5th test image (2,000): nearly all its time is the two models'
forward passes, 90 s for MNIST's 46 settings on a quiet 2-core CPU (README); the whole
test set would take five times as long.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from se_demo.analysis.excitation import concat_batches, recording_excitations
from se_demo.analysis.excitation_stats import class_means
from se_demo.analysis.results import mcnemar_exact
from se_demo.core.checkpoints import save_tensors
from se_demo.core.datafiles import split_checksum
from se_demo.core.inference import predict
from se_demo.robustness.corruptions import SEVERITIES, corrupt, corruptions_for
from se_demo.robustness.results import FIRST, SECOND, Robustness, holm

EVERY = 5  # use test images 0, 5, 10, ...: both halves of the test set, a fifth of the cost
SEED = 0


def _answers(
    models: dict[str, nn.Module], images: np.ndarray, dataset: str
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each model's predicted classes (N,) and the SE model's excitations {block: (N, C)}."""
    tensor = torch.from_numpy(images)
    predictions, excitations = {}, {}
    for name, model in models.items():
        with recording_excitations(model) as store:
            probabilities = predict(model, tensor, batch_size=1000, dataset=dataset)
        predictions[name] = probabilities.argmax(1).numpy().astype(np.uint8)
        excitations.update({b: t.numpy() for b, t in concat_batches(store).items()})
    return predictions, excitations


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _run_settings(
    models: dict[str, nn.Module],
    subset: np.ndarray,
    truth: np.ndarray,
    settings: list[tuple[str, int]],
    dataset: str,
    seed: int,
    on_setting: Callable[[str, int], None] | None,
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Both models on each setting of ``subset``: predictions {model: (settings, N)} and,
    per setting, the SENet's class-mean excitations {block: (K, C)}."""
    predictions: dict[str, list[np.ndarray]] = {FIRST: [], SECOND: []}
    class_mean_rows: list[dict[str, np.ndarray]] = []
    for name, severity in settings:
        if on_setting is not None:
            on_setting(name, severity)
        batch = subset if severity == 0 else corrupt(subset, name, severity, seed)
        answers, excitations = _answers(models, batch, dataset)
        for model in (FIRST, SECOND):
            predictions[model].append(answers[model])
        class_mean_rows.append({b: class_means(x, truth) for b, x in excitations.items()})
    return {model: np.stack(rows) for model, rows in predictions.items()}, class_mean_rows


def _paired_tests(
    right: dict[str, np.ndarray], settings: list[tuple[str, int]]
) -> list[dict[str, Any]]:
    """McNemar's exact test of the two models at every corrupted setting, with Holm's
    adjusted p over all of them (``right``: {model: (settings, N) correct or not})."""
    tests: list[dict[str, Any]] = [
        {
            "corruption": name,
            "severity": severity,
            **asdict(mcnemar_exact(right[FIRST][i], right[SECOND][i])),
        }
        for i, (name, severity) in enumerate(settings)
        if severity > 0
    ]
    for test, adjusted in zip(tests, holm([t["p_value"] for t in tests]), strict=True):
        test["p_holm"] = float(adjusted)
    return tests


def run_robustness(
    models: dict[str, nn.Module],
    images: np.ndarray,
    labels: np.ndarray,
    dataset: str,
    *,
    seed: int = SEED,
    every: int = EVERY,
    only: Sequence[str] | None = None,
    on_setting: Callable[[str, int], None] | None = None,
) -> Robustness:
    """Run ``models`` (by `ModelKind`) on every corruption of ``dataset`` at severities 0-3.

    ``images``: the whole test set, uint8 (N, 28, 28); ``labels`` (N,). Every ``every``-th
    image is used. ``only`` limits the sweep to some corruptions (the Holm correction then
    covers those only). ``on_setting(corruption, severity)`` is called before each setting.
    """
    if set(models) != {FIRST, SECOND}:
        raise ValueError(f"expected the models {FIRST!r} and {SECOND!r}, got {sorted(models)}")
    indices = np.arange(0, len(images), every)
    subset, truth = np.ascontiguousarray(images[indices]), labels[indices].astype(np.int64)
    settings: list[tuple[str, int]] = [("clean", 0)]
    chosen = [c for c in corruptions_for(dataset) if only is None or c.name in only]
    settings += [(str(c.name), s) for c in chosen for s in SEVERITIES]
    stacked, class_mean_rows = _run_settings(
        models, subset, truth, settings, dataset, seed, on_setting
    )
    blocks = list(class_mean_rows[0])
    clean = class_mean_rows[0]
    shift = np.array(
        [[_rms(row[b] - clean[b]) for b in blocks] for row in class_mean_rows], dtype=np.float32
    )
    right = {model: rows == truth for model, rows in stacked.items()}
    tests = _paired_tests(right, settings)
    accuracy = {model: [float(v) for v in right[model].mean(1)] for model in (FIRST, SECOND)}
    record = {
        "kind": "robustness",
        "dataset": dataset,
        "data_sha256": split_checksum(images, labels),
        "seed": seed,
        "every": every,
        "test_images": len(indices),
        "severities": list(SEVERITIES),
        "corruptions": {
            str(c.name): {"title": c.title, "levels": list(c.levels), "mnist_c": c.mnist_c}
            for c in chosen
        },
        "settings": [list(s) for s in settings],
        "accuracy": accuracy,
        "mcnemar": tests,
        "summary": {model: _summary(accuracy[model], settings) for model in (FIRST, SECOND)},
        "excitation": {
            "blocks": blocks,
            "between_class": [_rms(clean[b] - clean[b].mean(0)) for b in blocks],
        },
    }
    return Robustness(indices, truth, stacked, shift, record)


def _summary(accuracy: list[float], settings: list[tuple[str, int]]) -> dict[str, object]:
    """Clean accuracy, the mean over corruptions per severity and overall, the relative drop."""
    by_severity = [
        float(np.mean([a for a, (_, s) in zip(accuracy, settings, strict=True) if s == severity]))
        for severity in SEVERITIES
    ]
    mean = float(np.mean(by_severity))
    return {
        "clean": accuracy[0],
        "mean_by_severity": by_severity,
        "mean": mean,
        "relative_drop": (accuracy[0] - mean) / accuracy[0],
    }


def save_robustness(sweep: Robustness, directory: Path) -> Path:
    """Save a sweep atomically as ``robustness.json`` + safetensors in ``directory``."""
    tensors: dict[str, np.ndarray] = {
        "indices": sweep.indices.astype(np.int64),
        "labels": sweep.labels.astype(np.int64),
        "excitation_shift": sweep.excitation_shift.astype(np.float32),
        **{f"{m}/predictions": p.astype(np.uint8) for m, p in sweep.predictions.items()},
    }
    return save_tensors(tensors, sweep.record, directory, "robustness")
