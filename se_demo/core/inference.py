"""Plain inference: class probabilities of a model for a batch of images, the eval mode
it runs in, and what one forward pass costs in FLOPs.

It sits at the bottom of the import graph, so the analysis modules (excitation capture,
interventions) and the evaluation can all use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from se_demo.core.data import normalize
from se_demo.core.hooks import thread_hooks


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block ``model`` is in eval mode; after it, in the mode it was in
    (``model.train(previous)``), also when the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def predict_logits(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000, *, dataset: str | None = None
) -> torch.Tensor:
    """Logits (N, 10) for uint8 images (N, 28, 28), normalised with ``dataset``'s statistics,
    or for images already normalised (N, 1, 28, 28) float, given without a dataset.

    A dataset given with normalised images would be ignored, so it is refused (ValueError),
    as are uint8 images without one. Runs in eval mode and restores the model's previous
    mode afterwards.
    """
    _check_input(images, dataset)
    with eval_mode(model):
        outputs = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            if dataset is not None:
                chunk = normalize(chunk, dataset)
            outputs.append(model(chunk.contiguous(memory_format=torch.channels_last)))
        return torch.cat(outputs) if outputs else torch.empty(0, 10)


def _check_input(images: torch.Tensor, dataset: str | None) -> None:
    if images.dtype == torch.uint8 and dataset is None:
        raise ValueError("uint8 images need the dataset whose statistics normalise them")
    if images.dtype != torch.uint8 and dataset is not None:
        raise ValueError(
            f"{images.dtype} images are taken as already normalised: the dataset "
            f"{dataset!r} would be ignored, so give none"
        )


def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000, *, dataset: str | None = None
) -> torch.Tensor:
    """Class probabilities (N, 10): the softmax of `predict_logits`."""
    return torch.softmax(predict_logits(model, images, batch_size, dataset=dataset), dim=1)


def count_flops(model: nn.Module, image_size: int = 28) -> dict[str, int]:
    """FLOPs of one forward pass on one (1, image_size, image_size) image, by module path
    as ``model.named_modules()`` names them; "" is the whole model.

    As `torch.utils.flop_counter` counts them: each multiply-add of a convolution or
    matrix multiply is 2 FLOPs; element-wise work (ReLU, an SE block's squeeze and
    scaling) is not counted. Works on a "meta" model, which has no weights to read.
    """
    from torch.utils.flop_counter import FlopCounterMode

    # Only the counter's total is read, at each module's start and end, through hooks
    # of this thread: its own figures per module come from global module hooks, which
    # other threads' forward passes (other sessions) fire too.
    counter = FlopCounterMode(display=False)
    modules = {module: name for name, module in model.named_modules()}
    started: dict[str, list[int]] = {name: [] for name in modules.values()}
    flops = dict.fromkeys(modules.values(), 0)

    def start(module: nn.Module, inputs: Any) -> None:
        started[modules[module]].append(counter.get_total_flops())

    def end(module: nn.Module, inputs: Any, output: Any) -> None:
        name = modules[module]
        flops[name] += counter.get_total_flops() - started[name].pop()

    x = torch.zeros(1, 1, image_size, image_size, device=next(model.parameters()).device)
    hooks = thread_hooks([(m, end) for m in modules], [(m, start) for m in modules])
    with hooks, eval_mode(model), torch.no_grad(), counter:
        model(x)
    return flops
