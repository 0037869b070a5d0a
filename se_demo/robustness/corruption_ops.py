"""The 15 corruption functions behind `se_demo.robustness.corruptions`, vectorised over a batch.

Each takes images (N, 28, 28) as floats in [0, 1], the parameter of one severity, and
``rng(stream)`` -> a NumPy Generator (one stream per kind of draw, each drawn per image in
order), and returns floats (clipped to [0, 1] by the caller). See `se_demo.robustness.corruptions`
for what each one is and how it differs from MNIST-C.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from se_demo.core.config import IMAGE_CENTRE, IMAGE_SIZE

Streams = Callable[[int], np.random.Generator]


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(x, (0, sigma, sigma), mode="nearest")


def shot_noise(x: np.ndarray, photons: float, rng: Streams) -> np.ndarray:
    return rng(0).poisson(x * photons) / photons


def impulse_noise(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    u = rng(0).random(x.shape)
    return np.where(u < amount / 2, 0.0, np.where(u < amount, 1.0, x))


def glass_blur(x: np.ndarray, level: tuple[float, int, int], rng: Streams) -> np.ndarray:
    sigma, delta, iterations = level
    x = np.floor(_blur(x, sigma) * 255) / 255  # MNIST-C rounds to uint8 between the blurs
    n = len(x)
    offsets = rng(0).integers(-delta, delta, size=(n, iterations, 2, IMAGE_SIZE, IMAGE_SIZE))
    moves = rng(1).random((n, iterations, IMAGE_SIZE, IMAGE_SIZE)) < 0.5
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    inner = (
        (rows > delta)
        & (rows <= IMAGE_SIZE - 1 - delta)
        & (cols > delta)
        & (cols <= IMAGE_SIZE - 1 - delta)
    )
    batch = np.arange(n)[:, None, None]
    for i in range(iterations):
        move = moves[:, i] & inner
        source_rows = np.where(move, rows + offsets[:, i, 0], rows)
        source_cols = np.where(move, cols + offsets[:, i, 1], cols)
        x = x[batch, source_rows, source_cols]
    return _blur(x, sigma)


def motion_blur(x: np.ndarray, level: tuple[int, float], rng: Streams) -> np.ndarray:
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
    return np.fft.irfft2(spectrum, s=(pad, pad))[:, :IMAGE_SIZE, :IMAGE_SIZE]


def _affine(x: np.ndarray, matrices: list[np.ndarray], choice: np.ndarray) -> np.ndarray:
    """Warp image i by ``matrices[choice[i]]`` (2x2, output -> input, about the centre)."""
    out = np.empty_like(x)
    centre = np.array([IMAGE_CENTRE, IMAGE_CENTRE])
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


def shear(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    def matrix(c: float) -> np.ndarray:  # skimage's shear in (row, col) order
        return np.array([[np.cos(c), 0.0], [-np.sin(c), 1.0]])

    return _affine(x, [matrix(amount), matrix(-amount)], _signs(rng(0), len(x)))


def rotate(x: np.ndarray, radians: float, rng: Streams) -> np.ndarray:
    def matrix(a: float) -> np.ndarray:
        return np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])

    return _affine(x, [matrix(radians), matrix(-radians)], _signs(rng(0), len(x)))


def scale(x: np.ndarray, factor: float, rng: Streams) -> np.ndarray:
    return _affine(x, [factor * np.eye(2)], np.zeros(len(x), dtype=int))


def brightness(x: np.ndarray, amount: float, rng: Streams) -> np.ndarray:
    return x + amount


def _shift(x: np.ndarray, down: int, right: int) -> np.ndarray:
    """Move images ``down`` and ``right`` whole pixels, filling with 0."""
    out = np.zeros_like(x)
    rows = (
        slice(max(down, 0), IMAGE_SIZE + min(down, 0)),
        slice(max(-down, 0), IMAGE_SIZE + min(-down, 0)),
    )
    cols = (
        slice(max(right, 0), IMAGE_SIZE + min(right, 0)),
        slice(max(-right, 0), IMAGE_SIZE + min(-right, 0)),
    )
    out[:, rows[0], cols[0]] = x[:, rows[1], cols[1]]
    return out


def translate(x: np.ndarray, pixels: int, rng: Streams) -> np.ndarray:
    signs = 1 - 2 * rng(0).integers(0, 2, size=(len(x), 2))
    out = np.empty_like(x)
    for down in (-1, 1):
        for right in (-1, 1):
            group = (signs[:, 0] == down) & (signs[:, 1] == right)
            out[group] = _shift(x[group], down * pixels, right * pixels)
    return out


def stripe(x: np.ndarray, width: int, rng: Streams) -> np.ndarray:
    x = x.copy()
    x[:, :, :width] = 1 - x[:, :, :width]
    x[:, :, IMAGE_SIZE - width :] = 1 - x[:, :, IMAGE_SIZE - width :]
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


def fog(x: np.ndarray, level: tuple[float, float], rng: Streams) -> np.ndarray:
    strength, decay = level
    peak = x.max(axis=(1, 2), keepdims=True)
    fog = _plasma(len(x), decay, rng)[:, :IMAGE_SIZE, :IMAGE_SIZE]
    return (x + strength * fog) * peak / (peak + strength)


def spatter(x: np.ndarray, level: tuple[float, ...], rng: Streams) -> np.ndarray:
    loc, scale, sigma, threshold, mask_sigma = level
    liquid = _blur(rng(0).normal(loc, scale, size=x.shape), sigma)
    mask = _blur((liquid > threshold).astype(np.float64), mask_sigma)
    mask[mask < 0.8] = 0
    return x * (1 - mask) + 63 / 255 * mask


def _stroke(distance: np.ndarray) -> np.ndarray:
    """MNIST-C's anti-aliased stroke: intensity log(1 - d / 2.3) + 1 at distance d (px)."""
    d = np.clip(np.abs(distance), 0, 2.3 - 1e-10)
    return np.clip(np.log(1 - d / 2.3) + 1, 0, 1)


def dotted_line(x: np.ndarray, lines: int, rng: Streams) -> np.ndarray:
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    dashes = (cols // 2) % 2 == 1  # MNIST-C blanks every other 2-column block
    for k in range(lines):
        ends = rng(k).integers(0, IMAGE_SIZE - 1, size=(len(x), 2))
        r0, r1 = ends[:, 0, None, None], ends[:, 1, None, None]
        x = np.clip(x + _stroke(rows - (r0 + (r1 - r0) * cols / (IMAGE_SIZE - 1))) * dashes, 0, 1)
    return x


def zigzag(x: np.ndarray, lines: int, rng: Streams, leg: float = 2.0) -> np.ndarray:
    rows, cols = np.indices((IMAGE_SIZE, IMAGE_SIZE))
    for k in range(lines):
        r0 = rng(2 * k).integers(0, IMAGE_SIZE - 1, size=len(x))[:, None, None]
        rise = rng(2 * k + 1).integers(-5, 5, size=len(x))[:, None, None]  # r1 - r0
        theta = np.arctan(rise / 23)
        along = (cols - 2) * np.cos(theta) + (rows - r0) * np.sin(theta)
        across = -(cols - 2) * np.sin(theta) + (rows - r0) * np.cos(theta)
        phase = np.mod(along - leg, 4 * leg)
        wave = leg * (np.abs(phase - 2 * leg) / leg - 1)  # 0 at the start, then +-leg
        inside = (along >= 0) & (along <= 23 / np.cos(theta))
        x = np.clip(x + _stroke((across - wave) / np.sqrt(2)) * inside, 0, 1)
    return x


def canny_edges(x: np.ndarray, sigma: float, rng: Streams) -> np.ndarray:
    smooth = ndimage.gaussian_filter(x, (0, sigma, sigma), mode="constant")
    # Sobel by hand: ndimage.sobel would also smooth across the batch axis (other images).
    gy = ndimage.correlate1d(ndimage.correlate1d(smooth, [-1, 0, 1], 1), [1, 2, 1], 2)
    gx = ndimage.correlate1d(ndimage.correlate1d(smooth, [-1, 0, 1], 2), [1, 2, 1], 1)
    magnitude = np.hypot(gx, gy)
    direction = (np.round(np.arctan2(gy, gx) / (np.pi / 4)) % 4).astype(int)
    padded = np.pad(magnitude, ((0, 0), (1, 1), (1, 1)))
    peak = np.zeros(x.shape, dtype=bool)
    for d, (dr, dc) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead = padded[:, 1 + dr : 1 + dr + IMAGE_SIZE, 1 + dc : 1 + dc + IMAGE_SIZE]
        behind = padded[:, 1 - dr : 1 - dr + IMAGE_SIZE, 1 - dc : 1 - dc + IMAGE_SIZE]
        peak |= (direction == d) & (magnitude >= ahead) & (magnitude >= behind)
    weak = peak & (magnitude >= 0.1)
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within an image, never across images
    labels, count = ndimage.label(weak, structure)
    keep = np.zeros(count + 1, dtype=bool)
    keep[np.unique(labels[weak & (magnitude >= 0.2)])] = True
    keep[0] = False
    return keep[labels].astype(np.float64)
