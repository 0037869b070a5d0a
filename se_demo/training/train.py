"""The training loop shared by the CLI and the dashboard.

Recipe: AdamW with a OneCycle learning-rate schedule, light label smoothing and small
random affine augmentation, on in-memory tensors in channels-last layout. It passes the
seed's 100-epoch accuracy in a handful of epochs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from se_demo.analysis.evaluate import compute_metrics
from se_demo.core.checkpoints import library_versions
from se_demo.core.config import ModelConfig, TrainConfig, to_dict
from se_demo.core.data import Split, normalize, random_affine
from se_demo.core.inference import predict
from se_demo.core.models import build_from_config, count_parameters


@dataclass(frozen=True)
class TrainProgress:
    """What the progress callback receives after every step (and at each epoch's end)."""

    epoch: int  # 1-based
    step: int  # 1-based, within the epoch
    steps_per_epoch: int
    loss: float  # running mean over the epoch so far
    accuracy: float  # running training accuracy over the epoch so far
    images_per_second: float
    test_accuracy: float | None = None  # set on the last step of an epoch when evaluated


@dataclass
class TrainResult:
    """A trained model with its history; ``stopped`` says whether it ended early."""

    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    stopped: bool = False


def build_seeded_model(config: ModelConfig, seed: int) -> nn.Module:
    """A fresh model whose weights are drawn from a generator of its own seeded with ``seed``.

    The same weights as ``torch.manual_seed(seed)`` then `build_from_config` give, but
    torch's global RNG is neither read nor changed: threads that draw from it while this
    one builds (other sessions, interventions) change nothing here, nor see a change.
    """
    return build_from_config(config, generator=torch.Generator().manual_seed(seed))


def train_model(
    model_config: ModelConfig,
    train_config: TrainConfig,
    train_split: Split,
    test_split: Split | None = None,
    *,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    evaluate_last_epoch: bool = True,
) -> TrainResult:
    """Train a fresh model; the same seed and threads give the same weights.

    ``test_split`` is evaluated after each epoch for the history (never used to choose
    anything), the last epoch only if ``evaluate_last_epoch`` (a caller that evaluates
    the finished model itself saves a pass). ``should_stop`` is polled every step; when
    it returns True the run ends with ``stopped=True`` and the partly trained model.
    """
    if train_config.threads:
        torch.set_num_threads(train_config.threads)
    model = build_seeded_model(model_config, train_config.seed).to(
        memory_format=torch.channels_last
    )
    generator = torch.Generator().manual_seed(train_config.seed)  # data order, augmentation
    split = train_split.subset(train_config.train_subset)
    images = normalize(split.images, train_config.dataset).contiguous(
        memory_format=torch.channels_last
    )
    steps_per_epoch = -(-len(split.labels) // train_config.batch_size)
    optimizer, schedule = _optimizer(model, train_config, train_config.epochs * steps_per_epoch)
    result = TrainResult(model=model)
    start = time.perf_counter()
    for epoch in range(1, train_config.epochs + 1):
        batches = _shuffled_batches(images, split.labels, train_config, generator)
        record = _train_epoch(
            model,
            optimizer,
            schedule,
            batches,
            train_config,
            epoch=epoch,
            steps=steps_per_epoch,
            progress=progress,
            should_stop=should_stop,
        )
        if record is None:
            result.stopped = True
            break
        if test_split is not None and (evaluate_last_epoch or epoch < train_config.epochs):
            probs = predict(model, test_split.images, dataset=train_config.dataset)
            record["test_accuracy"] = float((probs.argmax(1) == test_split.labels).float().mean())
            if progress is not None:
                progress(_evaluated(record, steps_per_epoch))
        result.history.append(record)
    model.eval()
    result.wall_time_s = time.perf_counter() - start
    return result


def _optimizer(
    model: nn.Module, config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """AdamW with its OneCycle learning-rate schedule over ``total_steps`` steps."""
    optimizer = torch.optim.AdamW(  # fused: one kernel for all parameters, ~8 -> ~1 ms a step
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=total_steps
    )
    return optimizer, schedule


def _shuffled_batches(
    images: torch.Tensor, labels: torch.Tensor, config: TrainConfig, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (images, labels) batches in a fresh random order, each batch randomly
    rotated, shifted and scaled; ``images`` normalised (N, 1, 28, 28), channels-last."""
    order = torch.randperm(len(labels), generator=generator)
    for index in order.split(config.batch_size):
        batch = random_affine(
            images[index],
            generator,
            max_rotation=config.max_rotation,
            max_shift=config.max_shift,
            max_scale=config.max_scale,
            dataset=config.dataset,
        )
        yield batch.contiguous(memory_format=torch.channels_last), labels[index]


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    config: TrainConfig,
    *,
    epoch: int,
    steps: int,
    progress: Callable[[TrainProgress], None] | None,
    should_stop: Callable[[], bool] | None,
) -> dict[str, float] | None:
    """One optimiser step per batch, then the epoch's record (mean loss, training
    accuracy, speed); None when ``should_stop()`` turns true before a step."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for step, (batch, target) in enumerate(batches, start=1):
        if should_stop is not None and should_stop():
            return None
        logits = model(batch)
        loss = F.cross_entropy(logits, target, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item() * len(target)
        correct += int((logits.argmax(1) == target).sum())
        seen += len(target)
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress(
                TrainProgress(
                    epoch=epoch,
                    step=step,
                    steps_per_epoch=steps,
                    loss=total_loss / seen,
                    accuracy=correct / seen,
                    images_per_second=seen / elapsed if elapsed > 0 else 0.0,
                )
            )
    elapsed = time.perf_counter() - start
    return {
        "epoch": epoch,
        "loss": total_loss / seen,
        "accuracy": correct / seen,
        "images_per_second": seen / elapsed,
    }


def _evaluated(record: dict[str, float], steps: int) -> TrainProgress:
    """What the progress callback hears once an epoch's record has its test accuracy."""
    return TrainProgress(
        epoch=int(record["epoch"]),
        step=steps,
        steps_per_epoch=steps,
        loss=record["loss"],
        accuracy=record["accuracy"],
        images_per_second=record["images_per_second"],
        test_accuracy=record["test_accuracy"],
    )


def training_record(
    model_config: ModelConfig,
    train_config: TrainConfig,
    result: TrainResult,
    train_split: Split,
    test_split: Split,
    command: str,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The self-describing record saved with a trained model (config, recipe, metrics, versions).

    ``metrics``: the model's test metrics when the caller has them; else computed here.
    """
    if metrics is None:
        probs = predict(result.model, test_split.images, dataset=train_config.dataset)
        metrics = compute_metrics(test_split.labels.numpy(), probs.argmax(1).numpy())
    return {
        "model": to_dict(model_config),
        "train": to_dict(train_config),
        "dataset": train_config.dataset,
        "train_data_sha256": train_split.subset(train_config.train_subset).checksum(),
        "test_data_sha256": test_split.checksum(),
        "epochs": train_config.epochs,
        "wall_time_s": round(result.wall_time_s, 1),
        "parameters": count_parameters(result.model),
        "history": result.history,
        "test_metrics": {k: metrics[k] for k in ("accuracy", "precision", "recall", "f1")},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "versions": library_versions(),
    }
