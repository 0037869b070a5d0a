"""Interventions on the SE blocks: switch a block off, fix it at its mean, scale a channel.

An intervention never touches the model it is given: `intervened_model` builds a copy
from the model's config (which travels with its weights: `Checkpoint.config`) without
initialising it, gives it the model's weights, and swaps the chosen blocks' gates for an
`OverriddenGate` that wraps the trained gate. So a shared, cached model stays as it was
for every other session, and the capture hooks of `se_demo.analysis.excitation` read the
changed excitation like any other.

The test-set accuracy of an intervention can be measured on a fixed stratified subset
(`stratified_subset`, `subset_accuracy`) with a Wilson 95 % confidence interval, fast
enough to answer while a student waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from se_demo.analysis.excitation import find_block, gate_channels
from se_demo.analysis.results import wilson_interval
from se_demo.core.config import ModelConfig
from se_demo.core.inference import predict_logits
from se_demo.core.models import build_from_config, se_blocks
from se_demo.core.registry import InterventionMode

INTERVENTION_MODES = {
    InterventionMode.OFF: "switch SE off (excitation = 1)",
    InterventionMode.MEAN: "replace by its test-set mean (input-independent)",
    InterventionMode.SCALE: "scale one channel",
}


@dataclass(frozen=True)
class Intervention:
    """A change to one SE block's excitation; hashable, so it can key a cache."""

    block: str  # e.g. "stages.2.se"
    mode: InterventionMode  # a string naming one is turned into it
    channel: int | None = None  # "scale" only: which channel
    scale: float = 1.0  # "scale" only: factor on that channel's excitation

    def __post_init__(self) -> None:
        if self.mode not in INTERVENTION_MODES:
            raise ValueError(
                f"unknown intervention {self.mode!r}; expected one of {tuple(INTERVENTION_MODES)}"
            )
        object.__setattr__(self, "mode", InterventionMode(self.mode))
        if self.mode == InterventionMode.SCALE and self.channel is None:
            raise ValueError("a 'scale' intervention needs a channel")
        if self.scale < 0:
            raise ValueError(f"scale must not be negative, got {self.scale}")


class OverriddenGate(nn.Module):
    """An SE gate whose excitation (N, C) an `Intervention` replaces or rescales."""

    def __init__(
        self, trained: nn.Module, intervention: Intervention, mean: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.trained = trained  # the original gate, kept so "scale" can rescale its output
        self.intervention = intervention
        self.mean = mean  # (C,), "mean" only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        excitation = self.trained(x)
        if self.intervention.mode == InterventionMode.OFF:
            return torch.ones_like(excitation)
        if self.intervention.mode == InterventionMode.MEAN:
            assert self.mean is not None
            return self.mean.to(excitation).expand_as(excitation)
        factor = torch.ones(excitation.shape[1], dtype=excitation.dtype)
        factor[self.intervention.channel] = self.intervention.scale
        return excitation * factor

    def extra_repr(self) -> str:
        return repr(self.intervention)


def _mean_of(
    intervention: Intervention,
    channels: int,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None,
) -> torch.Tensor | None:
    if intervention.mode != InterventionMode.MEAN:
        return None
    if mean_excitations is None or intervention.block not in mean_excitations:
        raise ValueError(f"no mean excitation given for {intervention.block!r}")
    mean = torch.as_tensor(np.asarray(mean_excitations[intervention.block]), dtype=torch.float32)
    if mean.shape != (channels,):
        raise ValueError(
            f"mean excitation of {intervention.block!r} has shape {tuple(mean.shape)}, "
            f"expected ({channels},)"
        )
    return mean


def intervened_model(
    model: nn.Module,
    interventions: Iterable[Intervention],
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    *,
    config: ModelConfig,
) -> nn.Module:
    """A copy of ``model`` (built from ``config``, the one it was built from, with its
    weights copied in) with the interventions' gates swapped in, in eval mode.

    The copy is built from the model's config on the "meta" device, so nothing is
    initialised and no RNG drawn, then gets memory and a copy of ``model``'s weights in
    torch's default layout, whatever layout ``model``'s own are in (a trained model's are
    channels-last, and a convolution's last bits depend on it); ``model`` itself is
    never changed. ``mean_excitations`` {block: (C,)} supplies the replacement of "mean"
    interventions. Raises ValueError for an unknown block or channel.
    """
    clone = build_from_config(config, device="meta")
    clone.to_empty(device="cpu").load_state_dict(model.state_dict())  # a copy, default layout
    clone.eval()
    for intervention in interventions:
        block = find_block(clone, intervention.block)
        channels = gate_channels(clone, intervention.block)
        if intervention.channel is not None and not 0 <= intervention.channel < channels:
            raise ValueError(
                f"channel {intervention.channel} out of range for {intervention.block!r} "
                f"({channels} channels)"
            )
        mean = _mean_of(intervention, channels, mean_excitations)
        block.gate = OverriddenGate(block.gate, intervention, mean)
    return clone


def intervened_accuracy(
    model: nn.Module,
    interventions: Iterable[Intervention],
    images: torch.Tensor,
    labels: torch.Tensor,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    *,
    config: ModelConfig,
    dataset: str,
) -> float:
    """Accuracy on uint8 (images, labels) of ``dataset`` of ``model`` (built from
    ``config``) with the interventions (on a copy)."""
    clone = intervened_model(model, interventions, mean_excitations, config=config)
    predictions = predict_logits(clone, images, dataset=dataset).argmax(1)
    return int((predictions == labels).sum()) / len(labels)


def intervention_accuracies(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray],
    dataset: str,
    *,
    config: ModelConfig,
) -> dict[str, dict[str, float]]:
    """Accuracy with each SE block (and all at once, key "all") switched off or set to its mean.

    Returns {"off": {block: accuracy, ..., "all": accuracy}, "mean": {...}}; one pass over
    ``images`` per entry, on copies of ``model`` (built from ``config``).
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
                config=config,
                dataset=dataset,
            )
            for key, group in groups.items()
        }
        for mode in (InterventionMode.OFF, InterventionMode.MEAN)
    }


# --- Accuracy on a fixed stratified subset, with its confidence interval -----------------

SUBSET_SIZE = 1000  # about 1 s of SENet forward passes on 2 CPU cores


def stratified_subset(labels: np.ndarray, size: int = SUBSET_SIZE) -> np.ndarray:
    """Indices (ascending) of a fixed subset of ``size`` test images, stratified by class.

    Each class gets its share of ``size`` in proportion to its count (largest remainders
    round), and those are its first images in test-set order: no randomness, so every
    session and every run measures on the same images.
    """
    labels = np.asarray(labels)
    if not 0 < size <= len(labels):
        raise ValueError(f"subset size must lie in 1..{len(labels)}, got {size}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / len(labels)
    quota = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - quota), kind="stable")[: size - quota.sum()]:
        quota[index] += 1
    picked = [np.flatnonzero(labels == c)[:q] for c, q in zip(classes, quota, strict=True)]
    return np.sort(np.concatenate(picked))


@dataclass(frozen=True)
class SubsetAccuracy:
    """Accuracy on a subset of the test set, with a Wilson 95 % confidence interval."""

    correct: int
    total: int
    low: float
    high: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    def contains(self, accuracy: float) -> bool:
        """Whether ``accuracy`` lies inside the interval: no measurable change from it."""
        return self.low <= accuracy <= self.high


def subset_accuracy(
    model: nn.Module,
    interventions: Iterable[Intervention],
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: np.ndarray,
    mean_excitations: Mapping[str, Sequence[float] | np.ndarray] | None = None,
    *,
    config: ModelConfig,
    dataset: str,
) -> SubsetAccuracy:
    """Accuracy of the intervened ``model`` (built from ``config``) on uint8
    ``images[indices]`` of ``dataset``, with its interval."""
    picked = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    clone = intervened_model(model, interventions, mean_excitations, config=config)
    predictions = predict_logits(clone, images[picked], dataset=dataset).argmax(1)
    correct = int((predictions == labels[picked]).sum())
    return SubsetAccuracy(correct, len(picked), *wilson_interval(correct, len(picked)))
