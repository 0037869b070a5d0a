"""Runs trained from the dashboard: train, evaluate and save one run; list the saved ones.

A finished run is a folder ``runs/<dataset>/<run id>/`` laid out like
``checkpoints/<dataset>/`` (both models and their saved evaluation), so every page can
show it. A model the run did not train is copied from the shipped checkpoints. The folder
is written under a temporary name and renamed when complete: a crash leaves no
half-written run. Shipped checkpoints are only ever read.

A run is usable as soon as it is renamed into place: its evaluation then holds
predictions, metrics, excitations, McNemar's test and the cost of each model. The SE
interventions (eight more passes over the test set) are added afterwards by
`complete_run`, and the pages show them once they are there.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from se_demo.analysis.evaluate import add_interventions, evaluate_models, save_evaluation
from se_demo.analysis.verdicts import undertrained_note
from se_demo.core.checkpoints import (
    CheckpointError,
    load_checkpoints,
    read_record,
    save_checkpoint,
)
from se_demo.core.config import CHECKPOINT_DIR, TRAIN_IMAGES, ModelConfig, RunRequest, runs_root
from se_demo.core.data import Split, load_split
from se_demo.core.registry import MODEL_KINDS, MODEL_TITLES, ModelKind, model_kind
from se_demo.training.train import TrainProgress, TrainResult, train_model, training_record

LATENCY_REPEATS = 50  # a run's latency: the fastest of 50 passes (the CLI takes 200)


class RunStopped(Exception):
    """The run was cancelled while training; nothing was saved."""


@dataclass
class TrainedRun:
    """A saved run and what `complete_run` needs to finish it."""

    path: Path
    test_split: Split


def _train_models(
    request: RunRequest,
    train_split: Split,
    test_split: Split,
    progress: Callable[[str, TrainProgress], None],
    should_stop: Callable[[], bool],
) -> dict[str, tuple[ModelConfig, TrainResult]]:
    """Train each requested model: {name: (its config, its result)}; `RunStopped` if stopped."""
    trained = {}
    for name in request.models:
        config = replace(request.model_config, name=model_kind(name))
        result = train_model(
            config,
            request.train_config,
            train_split,
            test_split,
            progress=partial(progress, name),
            should_stop=should_stop,
            evaluate_last_epoch=False,  # the run's evaluation measures it once
        )
        if result.stopped:
            raise RunStopped
        trained[name] = (config, result)
    return trained


def _folder_name(request: RunRequest, run_id: str | None) -> str:
    """``<date>-<time>-<models>-seed<seed>[-<run id>]``: sorted by time, never colliding."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = f"{stamp}-{'-'.join(request.models)}-seed{request.train_config.seed}"
    return f"{folder}-{run_id}" if run_id else folder


def _copy_shipped(shipped: Path, name: str, staging: Path) -> None:
    """Keep a run's pair complete: the shipped model ``name``, copied byte for byte."""
    record = read_record(shipped, name)
    for file in (f"{name}.json", record["weights_file"]):
        shutil.copy2(shipped / file, staging / file)


def train_run(
    request: RunRequest,
    progress: Callable[[str, TrainProgress], None],
    should_stop: Callable[[], bool],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    root: Path | None = None,
    run_id: str | None = None,
) -> TrainedRun:
    """Train the requested models, evaluate both on the test set and save the run.

    ``progress(model name, progress)`` is called after every step. Raises `RunStopped`
    when ``should_stop()`` turns true during training. ``run_id`` (the queue's id of the
    run) ends the folder's name, so that runs saved in the same second never collide.
    """
    # The evaluation's libraries, imported now rather than after the last batch (~2 s).
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401

    dataset = request.train_config.dataset
    train_split = load_split(True, data_dir, dataset=dataset)
    test_split = load_split(False, data_dir, dataset=dataset)
    trained = _train_models(request, train_split, test_split, progress, should_stop)
    shipped = CHECKPOINT_DIR / dataset
    shipped_models = load_checkpoints(shipped, tuple(n for n in MODEL_KINDS if n not in trained))
    models = {
        name: trained[name][1].model if name in trained else shipped_models[name].model
        for name in MODEL_KINDS
    }
    evaluation = evaluate_models(models, test_split, dataset, latency_repeats=LATENCY_REPEATS)
    final = (root or runs_root()) / dataset / _folder_name(request, run_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        for name in MODEL_KINDS:
            if name in trained:
                config, result = trained[name]
                metrics = evaluation.metrics(name)
                if result.history and "test_accuracy" not in result.history[-1]:
                    result.history[-1]["test_accuracy"] = metrics["accuracy"]
                record = training_record(
                    config, request.train_config, result, train_split, test_split,
                    command="dashboard", metrics=metrics,
                )  # fmt: skip
                save_checkpoint(result.model, record, staging, name)
            else:
                _copy_shipped(shipped, name, staging)
        save_evaluation(evaluation, staging)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TrainedRun(final, test_split)


def complete_run(run: TrainedRun) -> None:
    """Add the SE interventions to a saved run's evaluation (its record only, atomically)."""
    add_interventions(run.path, run.test_split)


@dataclass(frozen=True)
class RunInfo:
    """A finished run on disk, for listing and selection."""

    path: Path
    name: str
    dataset: str
    trained: tuple[str, ...]  # models this run trained (the others are the shipped ones)
    accuracy: dict[str, float]  # test accuracy per model
    train: dict[str, Any]  # the recipe
    model: dict[str, Any]  # the SE settings
    records: dict[str, dict[str, Any]]  # each model's record


def list_runs(dataset: str, root: Path | None = None) -> list[RunInfo]:
    """Finished runs for a dataset, newest first, from their JSON records alone.

    Folders without readable records are skipped; weights are checked when a run is loaded.
    """
    folder = (root or runs_root()) / dataset
    runs = []
    for path in sorted(folder.glob("[!.]*"), reverse=True):
        try:
            evaluation = read_record(path, "evaluation")
            records = {name: read_record(path, name) for name in MODEL_KINDS}
        except (OSError, CheckpointError):
            continue
        trained = tuple(n for n in MODEL_KINDS if records[n].get("command") == "dashboard")
        reference = records[trained[0]] if trained else records[ModelKind.SENET]
        runs.append(
            RunInfo(
                path=path,
                name=path.name,
                dataset=dataset,
                trained=trained,
                accuracy={n: evaluation["models"][n]["metrics"]["accuracy"] for n in MODEL_KINDS},
                train=reference["train"],
                model=reference["model"],
                records=records,
            )
        )
    return runs


def runs_table(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """The Training lab's table of finished runs, one row per run: the models it trained
    (marked where undertrained), both test accuracies in %, its recipe and SE settings."""
    return [
        {
            "run": run.name,
            "trained": ", ".join(
                f"{MODEL_TITLES[m]} (undertrained)"
                if undertrained_note(run.records[m], run.accuracy[m], run.dataset)
                else MODEL_TITLES[m]
                for m in run.trained
            ),
            "CNN accuracy": 100 * run.accuracy[ModelKind.CNN],
            "SENet accuracy": 100 * run.accuracy[ModelKind.SENET],
            "recipe": f"{run.train['epochs']} x {run.train['train_subset'] or TRAIN_IMAGES:,}",
            "SE": f"r={run.model['reduction_ratio']} {run.model['squeeze']} {run.model['gate']}",
        }
        for run in runs
    ]
