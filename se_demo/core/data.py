"""MNIST and Fashion-MNIST as in-memory tensors, loaded once through torchvision.

Training never touches PIL: each split is one uint8 tensor (N, 28, 28) plus its labels,
normalised and augmented on whole batches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from se_demo.core.config import resolve_data_dir
from se_demo.core.datafiles import (
    SPLIT_SIZES,
    DatasetUnavailableError,
    missing_message,
    split_checksum,
)
from se_demo.core.registry import DatasetName, dataset_info


@dataclass(frozen=True)
class Split:
    """One split of MNIST: raw images (N, 28, 28) uint8 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, count: int | None) -> Split:
        """The first ``count`` examples (all of them when ``count`` is None)."""
        if count is None or count >= len(self):
            return self
        return Split(self.images[:count], self.labels[:count])

    def checksum(self) -> str:
        """SHA-256 of the images and labels, to record which data a model saw."""
        return split_checksum(self.images.numpy(), self.labels.numpy())


def load_split(
    train: bool,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    dataset: str,
) -> Split:
    """Load one split of MNIST (or another `DatasetName`) into memory, downloading it if missing.

    Raises DatasetUnavailableError, naming the root and the expected files, when the
    files are absent and cannot be downloaded, or are truncated.
    """
    from torchvision import datasets  # here: the app's pages need normalize(), not torchvision

    root = resolve_data_dir(data_dir)
    source = {DatasetName.MNIST: datasets.MNIST, DatasetName.FASHION: datasets.FashionMNIST}[
        dataset_info(dataset).key
    ]
    try:
        loaded = source(root, train=train, download=download)
    except RuntimeError as error:  # torchvision: "Dataset not found" or failed download
        reason = "download failed" if download else "files missing and download disabled"
        raise DatasetUnavailableError(
            missing_message(root, dataset, f"{reason}: {error}")
        ) from None
    except (OSError, ValueError) as error:  # unreadable or truncated IDX files
        raise DatasetUnavailableError(
            missing_message(root, dataset, f"files unreadable: {error}")
        ) from None
    images, labels = loaded.data, loaded.targets
    expected = SPLIT_SIZES[train]
    if images.shape != (expected, 28, 28) or labels.shape != (expected,):
        raise DatasetUnavailableError(
            missing_message(
                root, dataset, f"unexpected shapes {tuple(images.shape)}, {tuple(labels.shape)}"
            )
        )
    return Split(images.contiguous(), labels.long().contiguous())


def normalize(images: torch.Tensor, dataset: str) -> torch.Tensor:
    """uint8 images (N, 28, 28) or floats in [0, 1] -> normalised float (N, 1, 28, 28).

    Uses the dataset's training-set mean and std: the one normalisation that training,
    evaluation and the drawing path all share.
    """
    info = dataset_info(dataset)
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    if images.dim() == 3:
        images = images.unsqueeze(1)
    return (images - info.mean) / info.std


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    max_rotation: float,
    max_shift: float,
    max_scale: float,
    dataset: str,
) -> torch.Tensor:
    """Small random rotation, zoom and shift, drawn per image, for a normalised batch.

    images: (N, 1, H, W). Padding takes the background value, so a shifted digit keeps
    a black border. All randomness comes from ``generator`` (reproducible runs).
    """
    n, _, height, width = images.shape
    if max_rotation == 0 and max_shift == 0 and max_scale == 0:
        return images
    uniform = torch.rand(n, 4, generator=generator) * 2 - 1  # (N, 4) in [-1, 1)
    angle = torch.deg2rad(uniform[:, 0] * max_rotation)
    scale = 1 + uniform[:, 1] * max_scale
    # affine_grid works in [-1, 1] coordinates: one pixel is 2 / size.
    shift_x = uniform[:, 2] * max_shift * 2 / width
    shift_y = uniform[:, 3] * max_shift * 2 / height
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1
    )  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    info = dataset_info(dataset)
    background = -info.mean / info.std
    warped = F.grid_sample(images - background, grid, align_corners=False, padding_mode="zeros")
    return warped + background
