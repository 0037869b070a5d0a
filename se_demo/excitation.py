"""The SE blocks' excitations: capture through hooks, class statistics, interventions.

Capture: temporary forward hooks on each SE block's ``gate`` that only record forward
passes made by the calling thread, so capturing on a model that other threads (other
dashboard sessions) are using at the same time neither sees their inputs nor changes
their outputs.

Class statistics follow the SE paper's "Role of excitation" analysis (Hu et al.,
arXiv:1709.01507, section 7.2, Fig. 6 and 7): class-mean excitations per block, their
spread within a class, and how class-specific a block is (`class_specificity`).

Interventions (`intervened_model`) never touch the model they are given: they return a
deep copy whose SE gates are overridden by forward hooks (switched off, replaced by the
test-set mean, or one channel scaled).
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from se_demo.config import NUM_CLASSES
from se_demo.models import SqueezeExcitation, se_blocks

# --- Capture -------------------------------------------------------------------------


def _record(
    store: list[torch.Tensor], thread: int, module: nn.Module, inputs: Any, output: torch.Tensor
) -> None:
    if threading.get_ident() == thread:
        store.append(output.detach().float().cpu())


@contextmanager
def recording_excitations(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the block, every forward pass of this thread appends each SE gate's output.

    Yields {block name: [excitation batches (n, C), ...]} in depth order.
    """
    thread = threading.get_ident()
    store: dict[str, list[torch.Tensor]] = {}
    handles = []
    for name, block in se_blocks(model).items():
        store[name] = []
        handles.append(block.gate.register_forward_hook(partial(_record, store[name], thread)))
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


def concat_batches(store: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Join what `recording_excitations` collected into one (N, C) tensor per block."""
    return {name: torch.cat(batches) for name, batches in store.items() if batches}


def capture_excitations(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000
) -> dict[str, torch.Tensor]:
    """Excitations {block name: (N, C)} of every SE block for uint8 or normalised images."""
    from se_demo.evaluate import predict

    with recording_excitations(model) as store:
        predict(model, images, batch_size=batch_size)
    return concat_batches(store)


def _block(model: nn.Module, block: str) -> SqueezeExcitation:
    blocks = se_blocks(model)
    if block not in blocks:
        raise ValueError(f"no SE block {block!r}; the model has {list(blocks)}")
    return blocks[block]


def gate_channels(model: nn.Module, block: str) -> int:
    """Number of channels an SE block rescales."""
    return _block(model, block).fc2.out_features


@dataclass(frozen=True)
class Recalibration:
    """One SE block at work on one input: its feature maps before and after the scaling."""

    channels: tuple[int, ...]  # which channels the arrays hold, in this order
    before: np.ndarray  # (k, H, W) the block's input: the stage's second conv after ReLU
    excitation: np.ndarray  # (k,) the gate's output for these channels
    after: np.ndarray  # (k, H, W) the block's output: before * excitation


def _record_block(
    store: list[tuple[torch.Tensor, torch.Tensor]],
    thread: int,
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    output: torch.Tensor,
) -> None:
    if threading.get_ident() == thread:
        store.append((inputs[0].detach().float().cpu(), output.detach().float().cpu()))


def capture_recalibration(
    model: nn.Module,
    image: torch.Tensor,
    block: str,
    channels: Sequence[int] | None = None,
    dataset: str = "mnist",
) -> Recalibration:
    """Feature maps of SE ``block`` before and after its channel scaling, for one input.

    ``image``: uint8 (28, 28) or (1, 28, 28), or normalised (1, 1, 28, 28). ``channels``
    picks channels (all of them when None). Hooks are temporary and thread-filtered, so
    ``model`` may be shared; with an intervened copy, "after" shows the intervention.
    """
    from se_demo.evaluate import predict

    module = _block(model, block)
    if image.dtype == torch.uint8 and image.dim() == 2:
        image = image[None]
    if len(image) != 1:
        raise ValueError(f"expected one image, got a batch of {len(image)}")
    maps: list[tuple[torch.Tensor, torch.Tensor]] = []
    handle = module.register_forward_hook(partial(_record_block, maps, threading.get_ident()))
    try:
        with recording_excitations(model) as store:
            predict(model, image, dataset=dataset)
    finally:
        handle.remove()
    (before, after), excitation = maps[0], store[block][0]
    picked = list(range(before.shape[1])) if channels is None else [int(c) for c in channels]
    return Recalibration(
        channels=tuple(picked),
        before=before[0, picked].numpy(),
        excitation=excitation[0, picked].numpy(),
        after=after[0, picked].numpy(),
    )


def extreme_channels(excitation: np.ndarray, count: int) -> tuple[list[int], list[int]]:
    """The ``count`` most excited channels (highest first) and least excited (lowest first)."""
    order = np.argsort(np.asarray(excitation), kind="stable")
    count = min(count, len(order))
    return [int(c) for c in order[::-1][:count]], [int(c) for c in order[:count]]


# --- Class statistics (the paper's Fig. 6 and 7) ---------------------------------------


def _class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    counts = np.bincount(labels, minlength=num_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise ValueError(f"no examples of class(es) {empty.tolist()}")
    return counts


def class_means(
    excitations: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """Mean excitation per class: (N, C) and labels (N,) -> (num_classes, C).

    Raises ValueError if a class has no examples.
    """
    values = np.asarray(excitations, dtype=np.float64)
    counts = _class_counts(labels, num_classes)
    sums = np.zeros((num_classes, values.shape[1]))
    np.add.at(sums, np.asarray(labels), values)
    return sums / counts[:, None]


@dataclass(frozen=True)
class ChannelSpread:
    """How one class's excitations spread per channel (the paper's Fig. 7): each (C,)."""

    mean: np.ndarray
    std: np.ndarray
    low: np.ndarray  # 10th percentile
    high: np.ndarray  # 90th percentile
    count: int  # examples of the class


def class_spread(excitations: np.ndarray, labels: np.ndarray, label: int) -> ChannelSpread:
    """Per-channel mean, standard deviation and 10th/90th percentiles within one class."""
    values = np.asarray(excitations, dtype=np.float64)[np.asarray(labels) == label]
    if not len(values):
        raise ValueError(f"no examples of class {label}")
    low, high = np.percentile(values, [10, 90], axis=0)
    return ChannelSpread(values.mean(0), values.std(0), low, high, len(values))


def _sums_of_squares(
    excitations: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Between-class and total sums of squares per channel, each (C,)."""
    values = np.asarray(excitations, dtype=np.float64)
    counts = _class_counts(labels, num_classes)
    means = class_means(values, labels, num_classes)
    overall = values.mean(0)
    between = (counts[:, None] * (means - overall) ** 2).sum(0)
    total = ((values - overall) ** 2).sum(0)
    return between, total


def channel_specificity(
    excitations: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """Eta squared per channel (C,): the share of its variance across inputs explained by class.

    eta^2 = SS_between / SS_total, the one-way ANOVA effect size; 0 for a channel that
    does not vary at all.
    """
    between, total = _sums_of_squares(excitations, labels, num_classes)
    return np.divide(between, total, out=np.zeros_like(total), where=total > 0)


def class_specificity(
    excitations: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES
) -> float:
    """How class-specific a block's excitations (N, C) are, in [0, 1].

    The share of the block's excitation variance that the class explains, pooled over
    channels: sum_c SS_between,c / sum_c SS_total,c. This is the channel average of
    `channel_specificity` weighted by each channel's variance, so a channel that hardly
    moves (a gate stuck near 0 or 1, or nearly constant) counts as little as it matters,
    instead of its near-zero variance turning rounding noise into a large ratio.
    1: the excitation depends on the class only; 0: class means are all equal. Like any
    eta squared it is biased up by about (K - 1) / (N - 1) when nothing depends on the
    class: 0.0009 for 10 classes and 10,000 test images.
    """
    between, total = _sums_of_squares(excitations, labels, num_classes)
    return float(between.sum() / total.sum()) if total.sum() > 0 else 0.0


@dataclass(frozen=True)
class BlockStatistics:
    """The class view of one SE block over a test set, reduced to a few numbers."""

    block: str
    channels: int
    specificity: float  # `class_specificity`: share of variance explained by class
    between_std: float  # RMS distance of class means from the all-class mean, excitation units
    within_std: float  # RMS spread of excitations around their class mean
    mean: float  # mean excitation over inputs and channels
    saturated: float  # share of excitations above `SATURATED_ABOVE`
    suppressed: float  # share of excitations below `SUPPRESSED_BELOW`
    kept_channels: int  # channels whose mean excitation is above `SATURATED_ABOVE`
    dropped_channels: int  # channels whose mean excitation is below `SUPPRESSED_BELOW`


SATURATED_ABOVE = 0.9
SUPPRESSED_BELOW = 0.1


def block_statistics(
    excitations: Mapping[str, np.ndarray], labels: np.ndarray, num_classes: int = NUM_CLASSES
) -> list[BlockStatistics]:
    """`BlockStatistics` of every block of {block: (N, C)}, in the mapping's (depth) order."""
    stats = []
    for block, raw in excitations.items():
        values = np.asarray(raw, dtype=np.float64)
        between, total = _sums_of_squares(values, labels, num_classes)
        channel_means = values.mean(0)
        stats.append(
            BlockStatistics(
                block=block,
                channels=values.shape[1],
                specificity=class_specificity(values, labels, num_classes),
                between_std=float(np.sqrt(between.sum() / values.size)),
                within_std=float(np.sqrt((total.sum() - between.sum()) / values.size)),
                mean=float(values.mean()),
                saturated=float(np.mean(values > SATURATED_ABOVE)),
                suppressed=float(np.mean(values < SUPPRESSED_BELOW)),
                kept_channels=int(np.sum(channel_means > SATURATED_ABOVE)),
                dropped_channels=int(np.sum(channel_means < SUPPRESSED_BELOW)),
            )
        )
    return stats


def _block_number(block: str) -> str:
    return str(int(block.split(".")[1]) + 1) if block.startswith("stages.") else block


def _listing(values: Sequence[str], blocks: Sequence[str]) -> str:
    """'a in block 1, b in block 2 and c in block 3'."""
    parts = [f"{v} in block {_block_number(b)}" for v, b in zip(values, blocks, strict=True)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def describe_depth(stats: Sequence[BlockStatistics]) -> str:
    """A plain-language reading of `block_statistics` across depth, against the SE paper."""
    if not stats:
        return "This model has no SE blocks."
    names = [s.block for s in stats]
    first, last = stats[0], stats[-1]
    lines = [
        "The class explains "
        + _listing([f"{s.specificity:.0%}" for s in stats], names)
        + " of how the excitations vary from one test image to the next."
    ]
    if len(stats) > 1:
        steps = [b.specificity - a.specificity for a, b in itertools.pairwise(stats)]
        if min(steps) >= -0.02 and last.specificity > first.specificity + 0.1:
            lines.append(
                "This share grows with depth, as in the SE paper (Fig. 6), where early blocks "
                "excite nearly the same channels for every class and later blocks respond to "
                "the class."
            )
            if abs(steps[-1]) < 0.05:
                lines.append(
                    f"It levels off between block {_block_number(stats[-2].block)} and "
                    f"block {_block_number(last.block)}."
                )
        else:
            lines.append(
                "Unlike in the SE paper (Fig. 6), this share does not grow steadily with depth."
            )
        loudest = max(stats, key=lambda s: s.between_std)
        quiet = [s.block for s in stats if s.between_std < 0.5 * loudest.between_std]
        lines.append(
            "A share is not a size: on the 0-1 scale of an excitation, class means differ "
            "from the all-class mean by "
            + _listing([f"{s.between_std:.3f}" for s in stats], names)
            + " on average."
        )
        if quiet:
            which = " and ".join(_block_number(b) for b in quiet)
            plural = "s" if len(quiet) > 1 else ""
            lines.append(
                f"In block{plural} {which} these differences are less than half as large as "
                f"in block {_block_number(loudest.block)}: closer to class-agnostic, as the "
                "paper's early blocks are."
            )
    if last.saturated > 0.5:
        lines.append(
            f"As the paper found for its last blocks, the last block saturates: "
            f"{last.saturated:.0%} of its excitations are above {SATURATED_ABOVE}, so it "
            "rescales little."
        )
    else:
        lines.append(
            f"The paper's last blocks saturate (most excitations near 1, so they barely "
            f"rescale); ours does not: {last.saturated:.0%} of the last block's excitations "
            f"are above {SATURATED_ABOVE} and {last.suppressed:.0%} below {SUPPRESSED_BELOW}."
        )
        if last.kept_channels or last.dropped_channels:
            lines.append(
                f"{last.kept_channels} of its {last.channels} channels are kept for nearly "
                f"every input (mean excitation above {SATURATED_ABOVE}) and "
                f"{last.dropped_channels} nearly always suppressed (below {SUPPRESSED_BELOW}): "
                "part of the block acts as a fixed channel selection."
            )
    return " ".join(lines)


def describe_interventions(summary: Mapping[str, Any]) -> str:
    """A plain-language reading of the saved switch-off results, against the SE paper."""
    saved = summary.get("se_interventions")
    if not saved:
        return ""
    baseline = summary["metrics"]["accuracy"]
    blocks = [key for key in saved["off"] if key != "all"]
    off = {b: 100 * (saved["off"][b] - baseline) for b in blocks}
    mean = {b: 100 * (saved["mean"][b] - baseline) for b in blocks}
    lines = [
        "Switching one block off (excitation 1) changes the test accuracy by "
        + _listing([f"{off[b]:+.2f} pp" for b in blocks], blocks)
        + f"; all blocks off: {100 * (saved['off']['all'] - baseline):+.2f} pp."
    ]
    lines.append(
        "Replacing a block's excitation by its test-set mean changes it by "
        + _listing([f"{mean[b]:+.2f} pp" for b in blocks], blocks)
        + (
            ": on this task, what the SE blocks contribute is mostly a fixed per-channel "
            "scaling, not its dependence on the input."
            if max(map(abs, mean.values())) < 0.5 * max(map(abs, off.values()))
            else "."
        )
    )
    costliest = min(blocks, key=lambda b: off[b])
    if costliest == blocks[-1]:
        lines.append(
            "In the SE paper the saturated last blocks could be removed at a marginal cost; "
            "here removing the last block costs the most."
        )
    else:
        lines.append(
            "As in the SE paper, where the saturated last blocks could be removed at a "
            "marginal cost, removing the last block costs less than removing "
            f"block {_block_number(costliest)}."
        )
    return " ".join(lines)


# --- Interventions ---------------------------------------------------------------------

INTERVENTION_MODES = {
    "off": "switch SE off (excitation = 1)",
    "mean": "replace by its test-set mean (input-independent)",
    "scale": "scale one channel",
}


@dataclass(frozen=True)
class Intervention:
    """A change to one SE block's excitation; hashable, so it can key a cache."""

    block: str  # e.g. "stages.2.se"
    mode: str  # one of `INTERVENTION_MODES`
    channel: int | None = None  # "scale" only: which channel
    scale: float = 1.0  # "scale" only: factor on that channel's excitation

    def __post_init__(self) -> None:
        if self.mode not in INTERVENTION_MODES:
            raise ValueError(
                f"unknown intervention {self.mode!r}; expected one of {tuple(INTERVENTION_MODES)}"
            )
        if self.mode == "scale" and self.channel is None:
            raise ValueError("a 'scale' intervention needs a channel")
        if self.scale < 0:
            raise ValueError(f"scale must not be negative, got {self.scale}")


def _override(
    intervention: Intervention,
    mean: torch.Tensor | None,
    module: nn.Module,
    inputs: Any,
    output: torch.Tensor,
) -> torch.Tensor:
    """Forward hook on a gate: the excitation (N, C) the intervention puts in its place."""
    if intervention.mode == "off":
        return torch.ones_like(output)
    if intervention.mode == "mean":
        assert mean is not None
        return mean.to(output).expand_as(output)
    changed = output.clone()
    changed[:, intervention.channel] *= intervention.scale
    return changed


def _copy_without_hooks(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with no forward hooks.

    Other threads may be adding and removing their recording hooks on a shared model
    while it is copied; mapping each module's hook dict to a fresh empty one in the
    deepcopy memo means the copy never iterates them (nor inherits them).
    """
    memo: dict[int, Any] = {id(m._forward_hooks): OrderedDict() for m in model.modules()}
    return copy.deepcopy(model, memo)


def intervened_model(
    model: nn.Module,
    interventions: Iterable[Intervention],
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None = None,
) -> nn.Module:
    """A deep copy of ``model`` with the interventions hooked onto its SE gates.

    ``model`` itself is never changed, so a shared, cached model stays as it was for
    every other session. ``mean_excitations`` {block: (C,)} supplies the replacement
    of "mean" interventions. Raises ValueError for an unknown block or channel.
    """
    clone = _copy_without_hooks(model)
    clone.eval()
    for intervention in interventions:
        gate = _block(clone, intervention.block).gate
        channels = gate_channels(clone, intervention.block)
        mean = None
        if intervention.mode == "mean":
            if mean_excitations is None or intervention.block not in mean_excitations:
                raise ValueError(f"no mean excitation given for {intervention.block!r}")
            mean = torch.as_tensor(
                np.asarray(mean_excitations[intervention.block]), dtype=torch.float32
            )
            if mean.shape != (channels,):
                raise ValueError(
                    f"mean excitation of {intervention.block!r} has shape {tuple(mean.shape)}, "
                    f"expected ({channels},)"
                )
        if intervention.channel is not None and not 0 <= intervention.channel < channels:
            raise ValueError(
                f"channel {intervention.channel} out of range for {intervention.block!r} "
                f"({channels} channels)"
            )
        gate.register_forward_hook(partial(_override, intervention, mean))
    return clone


def intervened_accuracy(
    model: nn.Module,
    interventions: Iterable[Intervention],
    images: torch.Tensor,
    labels: torch.Tensor,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    dataset: str = "mnist",
) -> float:
    """Accuracy on (images, labels) of ``model`` with the interventions (on a copy)."""
    from se_demo.evaluate import predict

    clone = intervened_model(model, interventions, mean_excitations)
    predictions = predict(clone, images, dataset=dataset).argmax(1)
    return int((predictions == labels).sum()) / len(labels)


def intervention_accuracies(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray],
    dataset: str = "mnist",
) -> dict[str, dict[str, float]]:
    """Accuracy with each SE block (and all at once, key "all") switched off or set to its mean.

    Returns {"off": {block: accuracy, ..., "all": accuracy}, "mean": {...}}; one pass over
    ``images`` per entry, on copies of ``model``.
    """
    blocks = list(se_blocks(model))
    groups = {**{block: [block] for block in blocks}, "all": blocks}
    return {
        mode: {
            key: intervened_accuracy(
                model,
                [Intervention(block, mode) for block in group],
                images,
                labels,
                mean_excitations,
                dataset,
            )
            for key, group in groups.items()
        }
        for mode in ("off", "mean")
    }


def intervention_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-block intervention table (percent) from an evaluation record's model summary.

    One row per SE block and one for all blocks at once: test accuracy with the block
    switched off and with its excitation replaced by the test-set mean, and the change
    from the trained model in percentage points. Empty when the record has none (a model
    without SE blocks, or an evaluation saved before they were computed).
    """
    saved = summary.get("se_interventions")
    if not saved:
        return []
    baseline = summary["metrics"]["accuracy"]
    rows = []
    for key in saved["off"]:
        off, mean = saved["off"][key], saved["mean"][key]
        rows.append(
            {
                "SE block": "all blocks" if key == "all" else f"block {_block_number(key)}",
                "accuracy, SE off (%)": 100 * off,
                "change, SE off (pp)": 100 * (off - baseline),
                "accuracy, mean excitation (%)": 100 * mean,
                "change, mean excitation (pp)": 100 * (mean - baseline),
            }
        )
    return rows
