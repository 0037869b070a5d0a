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
from scipy import ndimage

SIZE = 28
CENTRE = (SIZE - 1) / 2
Streams = Callable[[int], np.random.Generator]


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


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(x, (0, sigma, sigma), mode="nearest")


def _shot_noise(x: np.ndarray, photons: float, rng: Streams) -> np.ndarray:
    return rng(0).poisson(x * photons) / photons


def _impulse_noise(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    u = rng(0).random(x.shape)
    return np.where(u < amount / 2, 0.0, np.where(u < amount, 1.0, x))


def _glass_blur(x: np.ndarray, level: tuple[float, int, int], rng: Streams) -> np.ndarray:
    sigma, delta, iterations = level
    x = np.floor(_blur(x, sigma) * 255) / 255  # MNIST-C rounds to uint8 between the blurs
    n = len(x)
    offsets = rng(0).integers(-delta, delta, size=(n, iterations, 2, SIZE, SIZE))
    moves = rng(1).random((n, iterations, SIZE, SIZE)) < 0.5
    rows, cols = np.indices((SIZE, SIZE))
    inner = (
        (rows > delta) & (rows <= SIZE - 1 - delta) & (cols > delta) & (cols <= SIZE - 1 - delta)
    )
    batch = np.arange(n)[:, None, None]
    for i in range(iterations):
        move = moves[:, i] & inner
        source_rows = np.where(move, rows + offsets[:, i, 0], rows)
        source_cols = np.where(move, cols + offsets[:, i, 1], cols)
        x = x[batch, source_rows, source_cols]
    return _blur(x, sigma)


def _motion_blur(x: np.ndarray, level: tuple[int, float], rng: Streams) -> np.ndarray:
    radius, sigma = level
    n, pad = len(x), 64  # FFT size: 28 + 2 * 15 taps fit without wrapping into the image
    angle = np.deg2rad(rng(0).uniform(-45, 45, size=n))
    kernels = np.zeros((n, pad, pad))
    weights = np.exp(-(np.arange(radius + 1) ** 2) / (2 * sigma**2))
    batch = np.arange(n)
    for step, weight in enumerate(weights / weights.sum()):
        down, right = step * np.sin(angle), step * np.cos(angle)  # offsets (n,), px
        top, left = np.floor(down), np.floor(right)
        fy, fx = down - top, right - left  # bilinear weights of the four pixels
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                rows, cols = (top + dy).astype(int) % pad, (left + dx).astype(int) % pad
                np.add.at(kernels, (batch, rows, cols), weight * wy * wx)
    spectrum = np.fft.rfft2(x, s=(pad, pad)) * np.fft.rfft2(kernels)
    return np.fft.irfft2(spectrum, s=(pad, pad))[:, :SIZE, :SIZE]


def _affine(x: np.ndarray, matrices: list[np.ndarray], choice: np.ndarray) -> np.ndarray:
    """Warp image i by ``matrices[choice[i]]`` (2x2, output -> input, about the centre)."""
    out = np.empty_like(x)
    centre = np.array([CENTRE, CENTRE])
    for k, matrix in enumerate(matrices):
        group = choice == k
        if group.any():
            full = np.eye(3)
            full[1:, 1:] = matrix
            offset = np.r_[0.0, centre - matrix @ centre]
            out[group] = ndimage.affine_transform(x[group], full, offset, order=1, mode="constant")
    return out


def _signs(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, size=n)  # 0: +, 1: -


def _shear(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    def matrix(c: float) -> np.ndarray:  # skimage's shear in (row, col) order
        return np.array([[np.cos(c), 0.0], [-np.sin(c), 1.0]])

    return _affine(x, [matrix(amount), matrix(-amount)], _signs(rng(0), len(x)))


def _rotate(x: np.ndarray, radians: float, rng: Streams) -> np.ndarray:
    def matrix(a: float) -> np.ndarray:
        return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])

    return _affine(x, [matrix(radians), matrix(-radians)], _signs(rng(0), len(x)))


def _scale(x: np.ndarray, factor: float, rng: Streams) -> np.ndarray:
    return _affine(x, [factor * np.eye(2)], np.zeros(len(x), dtype=int))


def _brightness(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    return x + amount


def _shift(x: np.ndarray, down: int, right: int) -> np.ndarray:
    """Move images ``down`` and ``right`` whole pixels, filling with 0."""
    out = np.zeros_like(x)
    rows = slice(max(down, 0), SIZE + min(down, 0)), slice(max(-down, 0), SIZE + min(-down, 0))
    cols = slice(max(right, 0), SIZE + min(right, 0)), slice(max(-right, 0), SIZE + min(-right, 0))
    out[:, rows[0], cols[0]] = x[:, rows[1], cols[1]]
    return out


def _translate(x: np.ndarray, pixels: int, rng: Streams) -> np.ndarray:
    signs = 1 - 2 * rng(0).integers(0, 2, size=(len(x), 2))
    out = np.empty_like(x)
    for down in (-1, 1):
        for right in (-1, 1):
            group = (signs[:, 0] == down) & (signs[:, 1] == right)
            out[group] = _shift(x[group], down * pixels, right * pixels)
    return out


def _stripe(x: np.ndarray, width: int, rng: Streams) -> np.ndarray:
    x = x.copy()
    x[:, :, :width] = 1 - x[:, :, :width]
    x[:, :, SIZE - width :] = 1 - x[:, :, SIZE - width :]
    return x


def _plasma(n: int, decay: float, rng: Streams, size: int = 32) -> np.ndarray:
    """MNIST-C's diamond-square height map, (n, size, size) in [0, 1], one per image."""
    heights = np.zeros((n, size, size))
    step, wibble, stream = size, 100.0, 0

    def wibbled(total: np.ndarray) -> np.ndarray:
        nonlocal stream
        stream += 1
        return total / 4 + wibble * rng(stream).uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = heights[:, ::step, ::step]
        squares = corners + np.roll(corners, -1, axis=1)
        heights[:, half::step, half::step] = wibbled(squares + np.roll(squares, -1, axis=2))
        centres, corners = heights[:, half::step, half::step], heights[:, ::step, ::step]
        left = centres + np.roll(centres, 1, axis=1) + corners + np.roll(corners, -1, axis=2)
        heights[:, ::step, half::step] = wibbled(left)
        top = centres + np.roll(centres, 1, axis=2) + corners + np.roll(corners, -1, axis=1)
        heights[:, half::step, ::step] = wibbled(top)
        step, wibble = half, wibble / decay
    heights -= heights.min(axis=(1, 2), keepdims=True)
    return heights / heights.max(axis=(1, 2), keepdims=True)


def _fog(x: np.ndarray, level: tuple[float, float], rng: Streams) -> np.ndarray:
    strength, decay = level
    peak = x.max(axis=(1, 2), keepdims=True)
    fog = _plasma(len(x), decay, rng)[:, :SIZE, :SIZE]
    return (x + strength * fog) * peak / (peak + strength)


def _spatter(x: np.ndarray, level: tuple[float, ...], rng: Streams) -> np.ndarray:
    loc, scale, sigma, threshold, mask_sigma = level
    liquid = _blur(rng(0).normal(loc, scale, size=x.shape), sigma)
    mask = _blur((liquid > threshold).astype(np.float64), mask_sigma)
    mask[mask < 0.8] = 0
    return x * (1 - mask) + 63 / 255 * mask


def _stroke(distance: np.ndarray) -> np.ndarray:
    """MNIST-C's anti-aliased stroke: intensity log(1 - d / 2.3) + 1 at distance d (px)."""
    d = np.clip(np.abs(distance), 0, 2.3 - 1e-10)
    return np.clip(np.log(1 - d / 2.3) + 1, 0, 1)


def _dotted_line(x: np.ndarray, lines: int, rng: Streams) -> np.ndarray:
    rows, cols = np.indices((SIZE, SIZE))
    dashes = (cols // 2) % 2 == 1  # MNIST-C blanks every other 2-column block
    for k in range(lines):
        ends = rng(k).integers(0, SIZE - 1, size=(len(x), 2))
        r0, r1 = ends[:, 0, None, None], ends[:, 1, None, None]
        x = np.clip(x + _stroke(rows - (r0 + (r1 - r0) * cols / (SIZE - 1))) * dashes, 0, 1)
    return x


def _zigzag(x: np.ndarray, lines: int, rng: Streams, leg: float = 2.0) -> np.ndarray:
    rows, cols = np.indices((SIZE, SIZE))
    for k in range(lines):
        r0 = rng(2 * k).integers(0, SIZE - 1, size=len(x))[:, None, None]
        rise = rng(2 * k + 1).integers(-5, 5, size=len(x))[:, None, None]  # r1 - r0
        theta = np.arctan(rise / 23)
        along = (cols - 2) * np.cos(theta) + (rows - r0) * np.sin(theta)
        across = -(cols - 2) * np.sin(theta) + (rows - r0) * np.cos(theta)
        phase = np.mod(along - leg, 4 * leg)
        wave = leg * (np.abs(phase - 2 * leg) / leg - 1)  # 0 at the start, then +-leg
        inside = (along >= 0) & (along <= 23 / np.cos(theta))
        x = np.clip(x + _stroke((across - wave) / np.sqrt(2)) * inside, 0, 1)
    return x


def _canny_edges(x: np.ndarray, sigma: float, rng: Streams) -> np.ndarray:
    smooth = ndimage.gaussian_filter(x, (0, sigma, sigma), mode="constant")
    # Sobel by hand: ndimage.sobel would also smooth across the batch axis (other images).
    gy = ndimage.correlate1d(ndimage.correlate1d(smooth, [-1, 0, 1], 1), [1, 2, 1], 2)
    gx = ndimage.correlate1d(ndimage.correlate1d(smooth, [-1, 0, 1], 2), [1, 2, 1], 1)
    magnitude = np.hypot(gx, gy)
    direction = (np.round(np.arctan2(gy, gx) / (np.pi / 4)) % 4).astype(int)
    padded = np.pad(magnitude, ((0, 0), (1, 1), (1, 1)))
    peak = np.zeros(x.shape, dtype=bool)
    for d, (dr, dc) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = padded[:, 1 + dr : 1 + dr + SIZE, 1 + dc : 1 + dc + SIZE]
        behind = padded[:, 1 - dr : 1 - dr + SIZE, 1 - dc : 1 - dc + SIZE]
        peak |= (direction == d) & (magnitude >= ahead) & (magnitude >= behind)
    weak = peak & (magnitude >= 0.1)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within an image, never across images
    labels, count = ndimage.label(weak, structure)
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[weak & (magnitude >= 0.2)])] = True
    keep[0] = False
    return keep[labels].astype(np.float64)


C = CorruptionName
CORRUPTIONS: dict[CorruptionName, Corruption] = {
    c.name: c
    for c in (
        Corruption(C.SHOT_NOISE, "Shot noise", _shot_noise, (60, 12, 3), "3"),
        Corruption(C.IMPULSE_NOISE, "Impulse noise", _impulse_noise, (0.03, 0.09, 0.17), "0.17"),
        Corruption(
            C.GLASS_BLUR, "Glass blur", _glass_blur, ((0.7, 1, 2), (0.9, 2, 1), (1.0, 2, 3)),
            "(0.7, 1, 2)",
        ),
        Corruption(
            C.MOTION_BLUR, "Motion blur", _motion_blur, ((10, 2.0), (10, 3.0), (15, 5.0)),
            "(10, 3)",
        ),
        Corruption(C.SHEAR, "Shear", _shear, (0.2, 0.4, 0.6), "0.4"),
        Corruption(C.SCALE, "Scale", _scale, (1 / 0.9, 1 / 0.7, 1 / 0.5), "1/0.7", random=False),
        Corruption(C.ROTATE, "Rotate", _rotate, (0.2, 0.4, 0.6), "0.4"),
        Corruption(C.BRIGHTNESS, "Brightness", _brightness, (0.1, 0.3, 0.5), "0.5", random=False),
        Corruption(C.TRANSLATE, "Translate", _translate, (1, 3, 5), "3"),
        Corruption(C.STRIPE, "Stripe", _stripe, (3, 5, 7), "7", random=False, fashion=False),
        Corruption(C.FOG, "Fog", _fog, ((1.5, 2.0), (2.5, 1.7), (3.0, 1.4)), "(3.0, 1.4)"),
        Corruption(
            C.SPATTER, "Spatter", _spatter,
            ((0.65, 0.3, 4, 0.69, 0.6), (0.65, 0.3, 3, 0.68, 0.6), (0.65, 0.3, 2, 0.68, 0.5)),
            "(0.65, 0.3, 1, 0.65, 1.5): finer drops",
        ),
        Corruption(C.DOTTED_LINE, "Dotted line", _dotted_line, (1, 2, 3), "1", fashion=False),
        Corruption(C.ZIGZAG, "Zigzag", _zigzag, (1, 2, 3), "1", fashion=False),
        Corruption(C.CANNY_EDGES, "Canny edges", _canny_edges, (1.0, 1.5, 2.0), "1", random=False),
    )
}  # fmt: skip
SEVERITIES = (1, 2, 3)


def corruptions_for(dataset: str) -> tuple[Corruption, ...]:
    """The corruptions that make sense for ``"mnist"`` or ``"fashion"``, in MNIST-C's order."""
    if dataset not in ("mnist", "fashion"):
        raise ValueError(f"unknown dataset {dataset!r}; expected 'mnist' or 'fashion'")
    return tuple(c for c in CORRUPTIONS.values() if dataset == "mnist" or c.fashion)


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
    if images.dtype != np.uint8 or images.shape[-2:] != (SIZE, SIZE) or images.ndim not in (2, 3):
        raise ValueError(
            f"expected uint8 images of shape (N, 28, 28) or (28, 28), got {images.dtype} "
            f"{images.shape}"
        )
    if severity == 0:
        return images.copy()
    corruption = CORRUPTIONS[CorruptionName(name)]
    batch = images.reshape(-1, SIZE, SIZE).astype(np.float32) / 255
    rng = partial(_streams, seed, str(corruption.name), severity)
    out = corruption.function(batch, corruption.levels[severity - 1], rng)
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8).reshape(images.shape)
