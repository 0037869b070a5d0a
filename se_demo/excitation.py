"""Reading the SE blocks' excitations through forward hooks on their gates.

The hooks are temporary and only record forward passes made by the calling thread, so
capturing on a model that other threads (other dashboard sessions) are using at the same
time neither sees their inputs nor changes their outputs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import nn

from se_demo.models import se_blocks


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
