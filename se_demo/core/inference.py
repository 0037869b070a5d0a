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
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000, *, dataset: str
) -> torch.Tensor:
    """Logits (N, 10) for uint8 images (N, 28, 28) or normalised (N, 1, 28, 28).

    uint8 images are normalised with ``dataset``'s statistics. Runs in eval mode and
    restores the model's previous mode afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        outputs = []
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            if chunk.dtype == torch.uint8:
                chunk = normalize(chunk, dataset)
            outputs.append(model(chunk.contiguous(memory_format=torch.channels_last)))
        return torch.cat(outputs) if outputs else torch.empty(0, 10)
    finally:
        model.train(was_training)


def predict(
    model: nn.Module, images: torch.Tensor, batch_size: int = 1000, *, dataset: str
) -> torch.Tensor:
    """Class probabilities (N, 10): the softmax of `predict_logits`."""
    return torch.softmax(predict_logits(model, images, batch_size, dataset=dataset), dim=1)
