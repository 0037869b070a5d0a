"""Reading the SE blocks' excitations through hooks, without changing the model.

Temporary forward hooks on each SE block's ``gate`` that only record forward passes made
by the calling thread (`se_demo.core.hooks`), so capturing on a model that other threads
(other dashboard sessions) are using at the same time neither sees their inputs nor
changes their outputs.

The rest of the excitation analysis lives beside this module: class statistics in
`se_demo.analysis.excitation_stats`, their wording in `se_demo.analysis.excitation_text`, and changes to
the excitations in `se_demo.analysis.interventions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from se_demo.core.hooks import first_input, output_of, recording_activations
from se_demo.core.inference import predict
from se_demo.core.models import SqueezeExcitation, se_blocks


@contextmanager
def recording_excitations(model: nn.Module) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Within the block, every forward pass of this thread appends each SE gate's output.

    Yields {block name: [excitation batches (n, C), ...]} in depth order.
    """
    taps = {name: (block.gate, output_of) for name, block in se_blocks(model).items()}
    with recording_activations(taps) as store:
        yield store


def concat_batches(store: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Join what `recording_excitations` collected into one (N, C) tensor per block."""
    return {name: torch.cat(batches) for name, batches in store.items() if batches}


def capture_excitations(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000, *, dataset: str | None = None
) -> dict[str, torch.Tensor]:
    """Excitations {block name: (N, C)} of every SE block for uint8 images (normalised as
    ``dataset``'s) or already normalised ones (no dataset)."""
    with recording_excitations(model) as store:
        predict(model, images, batch_size=batch_size, dataset=dataset)
    return concat_batches(store)


def find_block(model: nn.Module, block: str) -> SqueezeExcitation:
    """The SE block called ``block`` (e.g. "stages.2.se"); ValueError naming the choices."""
    blocks = se_blocks(model)
    if block not in blocks:
        raise ValueError(f"no SE block {block!r}; the model has {list(blocks)}")
    return blocks[block]


def gate_channels(model: nn.Module, block: str) -> int:
    """Number of channels an SE block rescales."""
    return find_block(model, block).fc2.out_features


@dataclass(frozen=True)
class Recalibration:
    """One SE block at work on one input: its feature maps before and after the scaling."""

    channels: tuple[int, ...]  # which channels the arrays hold, in this order
    before: np.ndarray  # (k, H, W) the block's input: the stage's second conv after ReLU
    excitation: np.ndarray  # (k,) the gate's output for these channels
    after: np.ndarray  # (k, H, W) the block's output: before * excitation


def capture_recalibration(
    model: nn.Module,
    image: torch.Tensor,
    block: str,
    channels: Sequence[int] | None = None,
    *,
    dataset: str | None = None,
) -> Recalibration:
    """Feature maps of SE ``block`` before and after its channel scaling, for one input.

    ``image``: uint8 (28, 28) or (1, 28, 28) with its ``dataset``, or normalised
    (1, 1, 28, 28) without one (`se_demo.core.inference.predict_logits`). ``channels``
    picks channels (all of them when None). Hooks are temporary and thread-filtered, so
    ``model`` may be shared; with an intervened copy, "after" shows the intervention.
    """
    module = find_block(model, block)
    if image.dtype == torch.uint8 and image.dim() == 2:
        image = image[None]
    if len(image) != 1:
        raise ValueError(f"expected one image, got a batch of {len(image)}")
    taps = {
        "before": (module, first_input),
        "excitation": (module.gate, output_of),
        "after": (module, output_of),
    }
    with recording_activations(taps) as store:
        predict(model, image, dataset=dataset)
    before, excitation, after = (store[key][0] for key in taps)
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
