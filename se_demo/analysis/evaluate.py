"""Running the models: predictions, metrics, cost (FLOPs, latency), and the saved
evaluation of both models on a test set. Reading it back needs no torch: `se_demo.analysis.results`.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from se_demo.analysis.excitation import concat_batches, recording_excitations
from se_demo.analysis.interventions import intervention_accuracies
from se_demo.analysis.results import MEASUREMENTS_FILE, Evaluation, mcnemar_exact
from se_demo.core.checkpoints import (
    Checkpoint,
    load_checkpoints,
    read_record,
    save_tensors,
    shared_dataset,
)
from se_demo.core.config import NUM_CLASSES, ModelConfig
from se_demo.core.data import Split
from se_demo.core.files import write_json_atomic
from se_demo.core.inference import count_flops, eval_mode, predict
from se_demo.core.models import count_parameters
from se_demo.core.registry import ModelKind


def compute_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1, per-class values and the confusion matrix.

    All from scikit-learn; ``confusion[i][j]`` counts true class i predicted as j.
    """
    # Imported here: the Draw page answers through predict() and needs none of it (~1.3 s).
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    classes = list(range(NUM_CLASSES))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "precision": float(np.mean(precision)),
        "recall": float(np.mean(recall)),
        "f1": float(np.mean(f1)),
        "per_class": {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "f1": f1.tolist(),
            "support": support.tolist(),
        },
        "confusion": confusion_matrix(labels, predictions, labels=classes).tolist(),
    }


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for labelling timings."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_latency_ms(model: nn.Module, repeats: int = 200) -> float:
    """CPU latency of classifying one image, in milliseconds: the fastest of ``repeats``
    passes, timed by torch.utils.benchmark on the process's torch threads.

    The minimum, not the median: on a shared machine other processes only ever add time,
    so the fastest run is the stable estimate of what the model itself costs.
    """
    from torch.utils import benchmark

    x = torch.zeros(1, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    # The Timer's default is one thread; the app and the CLI answer on the process's count.
    timer = benchmark.Timer(
        "model(x)", globals={"model": model, "x": x}, num_threads=torch.get_num_threads()
    )
    with eval_mode(model), torch.no_grad():
        timer.timeit(10)  # warm-up
        # One pass per measurement (each after the Timer's own two warm-up passes).
        fastest = min(timer.timeit(1).raw_times[0] for _ in range(repeats))
    return fastest * 1000


def evaluate_checkpoints(
    checkpoints: Mapping[str, Checkpoint], test_split: Split, *, latency_repeats: int = 200
) -> Evaluation:
    """`evaluate_models` for loaded checkpoints, on the test split of the dataset they were
    trained on, with the SE interventions measured from the configs that come with them.
    """
    return evaluate_models(
        {name: checkpoint.model for name, checkpoint in checkpoints.items()},
        test_split,
        shared_dataset(checkpoints).key,
        configs={name: checkpoint.config for name, checkpoint in checkpoints.items()},
        latency_repeats=latency_repeats,
    )


def evaluate_models(
    models: Mapping[str, nn.Module],
    test_split: Split,
    dataset: str,
    *,
    configs: Mapping[str, ModelConfig] | None = None,
    latency_repeats: int = 200,
) -> Evaluation:
    """Run every model once over the test set, capturing SE excitations in the same pass.

    For a model with SE blocks, also saves each block's test-set mean excitation and,
    given the models' ``configs`` (what their intervened copies are built from), the test
    accuracy with each block switched off or set to that mean (8 more passes; without
    them, `add_interventions` adds these to the saved evaluation later). Latency is the
    fastest of ``latency_repeats`` single-image passes.
    """
    labels = test_split.labels.numpy()
    probabilities: dict[str, np.ndarray] = {}
    excitations: dict[str, dict[str, np.ndarray]] = {}
    # Cost first, on a quiet process: right after the test-set passes and scikit-learn's
    # metrics, other thread pools still spin on the cores and doubled the latency we saw.
    summary: dict[str, Any] = {
        name: {"parameters": count_parameters(model), "flops": count_flops(model)[""]}
        for name, model in models.items()
    }
    measurements = {
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),
        "latency_ms": {
            name: measure_latency_ms(model, latency_repeats) for name, model in models.items()
        },
    }
    for name, model in models.items():
        probabilities[name], excitations[name], summary[name] = _test_set_pass(
            model, test_split, dataset, summary[name], configs[name] if configs else None
        )
    record = {
        "dataset": dataset,
        "data_sha256": test_split.checksum(),
        "test_images": len(labels),
        "models": summary,
    }
    if {ModelKind.CNN, ModelKind.SENET} <= set(models):  # the Results page's question, once
        right = {
            name: probabilities[name].argmax(1) == labels
            for name in (ModelKind.CNN, ModelKind.SENET)
        }
        test = mcnemar_exact(right[ModelKind.CNN], right[ModelKind.SENET])
        record["mcnemar"] = {"first": ModelKind.CNN, "second": ModelKind.SENET, **asdict(test)}
    return Evaluation(labels, probabilities, excitations, record, measurements)


def _test_set_pass(
    model: nn.Module,
    test_split: Split,
    dataset: str,
    cost: dict[str, Any],
    config: ModelConfig | None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
    """One model over the test set: its probabilities, its SE blocks' excitations and its
    summary (metrics, then ``cost``; for an SE model its mean excitations and, given its
    ``config``, the accuracies with each block switched off or set to its mean)."""
    labels = test_split.labels.numpy()
    with recording_excitations(model) as store:
        probs = predict(model, test_split.images, dataset=dataset).numpy()
    excitations = {block: t.numpy() for block, t in concat_batches(store).items()}
    summary = {"metrics": compute_metrics(labels, probs.argmax(1)), **cost}
    if excitations:  # an SE model: what each block's excitation is worth, once
        means = {block: x.mean(0, dtype=np.float64) for block, x in excitations.items()}
        summary["mean_excitation"] = {block: m.tolist() for block, m in means.items()}
        if config is not None:
            summary["se_interventions"] = intervention_accuracies(
                model, test_split.images, test_split.labels, means, dataset, config=config
            )
    return probs, excitations, summary


def save_evaluation(evaluation: Evaluation, directory: Path) -> Path:
    """Save an evaluation atomically next to the checkpoints: safetensors + JSON record,
    and its machine-dependent measurements in their own small JSON, so that evaluating
    unchanged models again changes no file but that one."""
    tensors = {"labels": evaluation.labels.astype(np.int64)}
    for name, probs in evaluation.probabilities.items():
        tensors[f"{name}/probabilities"] = probs.astype(np.float32)
        for block, values in evaluation.excitations.get(name, {}).items():
            tensors[f"{name}/excitation/{block}"] = values.astype(np.float16)
    path = save_tensors(
        tensors, {"kind": "evaluation", **evaluation.record}, directory, "evaluation"
    )
    write_json_atomic(Path(directory) / MEASUREMENTS_FILE, evaluation.measurements)
    return path


def add_interventions(directory: Path, test_split: Split) -> None:
    """Add the SE interventions to an evaluation saved without them (`evaluate_models`),
    measured on the checkpoints saved beside it (which bring their configs).

    Only the JSON record changes, replaced atomically; the tensors stay as they are.
    """
    record = read_record(directory, "evaluation")
    checkpoints = load_checkpoints(directory, tuple(record["models"]))
    for name, summary in record["models"].items():
        if "mean_excitation" in summary and "se_interventions" not in summary:
            summary["se_interventions"] = intervention_accuracies(
                checkpoints[name].model,
                test_split.images,
                test_split.labels,
                summary["mean_excitation"],
                record["dataset"],
                config=checkpoints[name].config,
            )
    write_json_atomic(directory / "evaluation.json", record)
