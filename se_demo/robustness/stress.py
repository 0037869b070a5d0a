"""Stress a drawn digit: rotation, noise, blur and shift, for the Draw page's sliders.

Pure NumPy / `scipy.ndimage`, no torch: about a millisecond per update, so the sliders
stay within the drawing path's latency budget (bench/stress_latency.py).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from se_demo.core.config import IMAGE_CENTRE, IMAGE_SIZE


def stress_digit(
    digit: np.ndarray,
    *,
    rotation_deg: float = 0.0,
    noise: float = 0.0,
    blur: float = 0.0,
    shift_px: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> np.ndarray:
    """A stressed copy of an MNIST-like digit (28, 28) in [0, 1], or a batch (N, 28, 28).

    Applied in this order: rotation (degrees, anticlockwise) about the centre and shift
    (``shift_px`` = (right, down), pixels), both bilinear with black outside; Gaussian
    blur (``blur`` = sigma in pixels); additive Gaussian noise (``noise`` = its standard
    deviation on the [0, 1] scale, from ``seed``, so the same settings give the same image).
    The result is clipped to [0, 1], float32. All settings at 0 return the digit unchanged.
    Raises ValueError for another shape or a negative noise or blur.
    """
    image = np.asarray(digit, dtype=np.float32)
    if image.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE) or image.ndim not in (2, 3):
        raise ValueError(f"expected a digit of shape (28, 28) or (N, 28, 28), got {image.shape}")
    if noise < 0 or blur < 0:
        raise ValueError(f"noise and blur must be >= 0, got noise={noise}, blur={blur}")
    batch: np.ndarray = image.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    right, down = shift_px
    if rotation_deg or right or down:
        angle = -np.deg2rad(rotation_deg)  # rows grow downwards: minus turns anticlockwise
        # output (row, col) -> input: rotate back about the centre, then undo the shift
        matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array([IMAGE_CENTRE, IMAGE_CENTRE])
        offset = centre - matrix @ (centre + np.array([down, right]))
        full, shift = np.eye(3), np.r_[0.0, offset]
        full[1:, 1:] = matrix
        batch = ndimage.affine_transform(batch, full, shift, order=1, mode="constant")
    if blur:
        batch = ndimage.gaussian_filter(batch, (0, blur, blur), mode="constant")
    if noise:
        batch = batch + noise * np.random.default_rng(seed).standard_normal(batch.shape)
    return np.clip(batch, 0, 1).astype(np.float32).reshape(image.shape)
