"""MNIST-C style corruptions of 28x28 images, vectorised over a whole test set.

After Mu and Gilmer, "MNIST-C: A Robustness Benchmark for Computer Vision" (2019,
arXiv:1906.02337) and their code (google-research/mnist-c). MNIST-C applies each of 15
corruptions at one fixed strength, one image at a time, with skimage, ImageMagick and
OpenCV. Here every corruption is a NumPy / `scipy.ndimage` function on a whole batch
(N, 28, 28), with three severities (MNIST-C's own strength is marked in `Corruption.levels`
where it is one of them) and severity 0 as the identity. All 15 are implemented:

- shot noise: Poisson noise, as MNIST-C; photon counts 60, 12, 3 (MNIST-C: 3).
- impulse noise: salt and pepper on a share 3, 9, 17 % of the pixels (MNIST-C: 17 %).
- glass blur: Gaussian blur, local pixel shuffling, blur again; MNIST-C's first three
  (sigma, max shift, iterations), of which it used the first. MNIST-C swaps pixel pairs
  one after another in a Python loop; here every pixel copies a random neighbour at once
  (a gather, not a chain of swaps), so the shuffled picture is statistically alike.
- motion blur: MNIST-C calls ImageMagick's one-sided motion blur (radius, sigma, a random
  angle in +-45 degrees); here the same Gaussian-weighted taps along that line, splatted
  bilinearly into one kernel per image and applied by FFT (`numpy.fft`); (radius, sigma)
  (10, 2), (10, 3), (15, 5) (MNIST-C: (10, 3)).
- shear, rotate, scale: the same affine maps about the centre as MNIST-C (skimage's
  warp), done by `scipy.ndimage.affine_transform`, bilinear; shear 0.2, 0.4, 0.6 and
  rotation 0.2, 0.4, 0.6 rad with a random sign (MNIST-C: 0.4 each); zoom-out 1/0.9,
  1/0.7, 1/0.5 (MNIST-C: 1/0.7).
- brightness: + 0.1, 0.3, 0.5 on pixels in [0, 1] (MNIST-C: + 0.5 to HSV value, which is
  the same thing for a grey image).
- translate: 1, 3, 5 px in x and y with random signs (MNIST-C: 3 px), exact integer shifts.
- stripe: the outer 3, 5, 7 columns on each side inverted (MNIST-C: 7).
- fog: MNIST-C's diamond-square plasma fractal, generated on a 32x32 map per image
  (MNIST-C cuts 28x28 out of a 256x256 map, so its fog is finer grained); its severities
  1, 3, 5 (MNIST-C: 5).
- spatter: MNIST-C's liquid layer (blurred Gaussian noise, thresholded, its mask blurred)
  with its severities 1, 2, 3, which cover ever more of the image (MNIST-C's dataset used
  its severity 4: finer, fewer drops); the blur is `scipy.ndimage.gaussian_filter`.
- dotted line: MNIST-C's anti-aliased line across the image with every other 2 px gap;
  severities draw 1, 2, 3 lines (MNIST-C: 1).
- zigzag: MNIST-C's zigzag (2 px legs and amplitude along a random line) drawn as one
  distance field to a triangle wave instead of segment by segment; 1, 2, 3 zigzags
  (MNIST-C: 1).
- canny edges: Canny's detector with skimage's default thresholds (0.1, 0.2), written
  with `scipy.ndimage` (Gaussian, Sobel, non-maximum suppression, hysteresis);
  smoothing sigma 1, 1.5, 2 (MNIST-C: 1, skimage's default).

Fashion-MNIST gets all but stripe, dotted line and zigzag: those imitate pen strokes
beside a digit on an empty background, while a garment fills the frame (stripe would
cut off its sleeves).

Randomness comes only from NumPy Generators seeded by (seed, corruption, severity,
stream), one stream per kind of draw, each drawn per image in order: the same seed gives
the same bytes, and the first k images of a corrupted batch do not depend on the rest.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

import numpy as np

from se_demo.core.config import IMAGE_SIZE
from se_demo.core.registry import DatasetName, dataset_name
from se_demo.robustness import corruption_ops as ops
from se_demo.robustness.corruption_ops import Streams


class CorruptionName(StrEnum):
    """The 15 MNIST-C corruptions, in MNIST-C's order."""

    SHOT_NOISE = "shot_noise"
    IMPULSE_NOISE = "impulse_noise"
    GLASS_BLUR = "glass_blur"
    MOTION_BLUR = "motion_blur"
    SHEAR = "shear"
    SCALE = "scale"
    ROTATE = "rotate"
    BRIGHTNESS = "brightness"
    TRANSLATE = "translate"
    STRIPE = "stripe"
    FOG = "fog"
    SPATTER = "spatter"
    DOTTED_LINE = "dotted_line"
    ZIGZAG = "zigzag"
    CANNY_EDGES = "canny_edges"


@dataclass(frozen=True)
class Corruption:
    """One corruption: its function and the parameter of each severity (1, 2, 3)."""

    name: CorruptionName
    title: str
    function: Callable[[np.ndarray, Any, Streams], np.ndarray]  # (N, 28, 28) in [0, 1]
    levels: tuple[Any, ...]  # levels[s - 1] is severity s's parameter
    mnist_c: str  # MNIST-C's strength, for the record
    random: bool = True
    fashion: bool = True  # meaningful for Fashion-MNIST too


C = CorruptionName
CORRUPTIONS: dict[CorruptionName, Corruption] = {
    c.name: c
    for c in (
        Corruption(C.SHOT_NOISE, "Shot noise", ops.shot_noise, (60, 12, 3), "3"),
        Corruption(C.IMPULSE_NOISE, "Impulse noise", ops.impulse_noise, (0.03, 0.09, 0.17), "0.17"),
        Corruption(
            C.GLASS_BLUR, "Glass blur", ops.glass_blur, ((0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3)),
            "(0.7, 1, 2)",
        ),
        Corruption(
            C.MOTION_BLUR, "Motion blur", ops.motion_blur, ((10, 2.0), (10, 3.0), (15, 5.0)),
            "(10, 3)",
        ),
        Corruption(C.SHEAR, "Shear", ops.shear, (0.2, 0.4, 0.6), "0.4"),
        Corruption(C.SCALE, "Scale", ops.scale, (1 / 0.9, 1 / 0.7, 1 / 0.5), "1/0.7", random=False),
        Corruption(C.ROTATE, "Rotate", ops.rotate, (0.2, 0.4, 0.6), "0.4"),
        Corruption(C.BRIGHTNESS, "Brightness", ops.brightness, (0.1, 0.3, 0.5), "0.5", random=False),
        Corruption(C.TRANSLATE, "Translate", ops.translate, (1, 3, 5), "3"),
        Corruption(C.STRIPE, "Stripe", ops.stripe, (3, 5, 7), "7", random=False, fashion=False),
        Corruption(C.FOG, "Fog", ops.fog, ((1.5, 2.0), (2.5, 1.7), (3.0, 1.4)), "(3.0, 1.4)"),
        Corruption(
            C.SPATTER, "Spatter", ops.spatter,
            ((0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6), (0.65, 0.3, 2, 0.68, 0.5)),
            "(0.65, 0.3, 1, 0.65, 1.5): finer drops",
        ),
        Corruption(C.DOTTED_LINE, "Dotted line", ops.dotted_line, (1, 2, 3), "1", fashion=False),
        Corruption(C.ZIGZAG, "Zigzag", ops.zigzag, (1, 2, 3), "1", fashion=False),
        Corruption(C.CANNY_EDGES, "Canny edges", ops.canny_edges, (1.0, 1.5, 2.0), "1", random=False),
    )
}  # fmt: skip
SEVERITIES = (1, 2, 3)


def corruptions_for(dataset: str) -> tuple[Corruption, ...]:
    """The corruptions that make sense for a dataset, in MNIST-C's order; unknown
    datasets raise ValueError."""
    dataset = dataset_name(dataset)
    return tuple(c for c in CORRUPTIONS.values() if dataset == DatasetName.MNIST or c.fashion)


def _streams(seed: int, name: str, severity: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), severity, stream])


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupt uint8 images (N, 28, 28) or one (28, 28): same shape, uint8.

    Severity 0 returns an unchanged copy; 1 to 3 grow stronger. The same ``seed`` gives
    the same bytes. Raises ValueError for an unknown name or severity, or other shapes.
    """
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; expected one of {[str(c) for c in C]}")
    if severity not in (0, *SEVERITIES):
        raise ValueError(f"severity must be 0 or one of {SEVERITIES}, got {severity!r}")
    images = np.asarray(images)
    if (
        images.dtype != np.uint8
        or images.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE)
        or images.ndim not in (2, 3)
    ):
        raise ValueError(
            f"expected uint8 images of shape (N, 28, 28) or (28, 28), got {images.dtype} "
            f"{images.shape}"
        )
    if severity == 0:
        return images.copy()
    corruption = CORRUPTIONS[CorruptionName(name)]
    batch = images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.float32) / 255
    rng = partial(_streams, seed, str(corruption.name), severity)
    out = corruption.function(batch, corruption.levels[severity - 1], rng)
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8).reshape(images.shape)
