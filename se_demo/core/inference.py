"""Plain inference: class probabilities of a model for a batch of images.

It sits at the bottom of the import graph, so the analysis modules (excitation capture,
interventions) and the evaluation can all use it without an import cycle.
"""

from __future__ import annotations

import torch
from torch import nn

from se_demo.core.data import normalize


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
    was_training = model.training
    model.eval()
    try:
        outputs = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            if dataset is not None:
                chunk = normalize(chunk, dataset)
            outputs.append(model(chunk.contiguous(memory_format=torch.channels_last)))
        return torch.cat(outputs) if outputs else torch.empty(0, 10)
    finally:
        model.train(was_training)


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
