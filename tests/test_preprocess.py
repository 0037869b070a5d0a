"""Drawings and uploads to MNIST-like digits: centred, sized and scaled like MNIST's own."""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from se_demo.core.checkpoints import load_checkpoint
from se_demo.core.data import Split
from se_demo.core.inference import predict
from se_demo.drawing.preprocess import (
    MAX_UPLOAD_BYTES,
    PREVIEW_SIDE,
    ImageRejectedError,
    drawing_problem,
    drawing_to_mnist,
    open_upload,
    preview,
    upload_to_mnist,
)
from tests.conftest import MNIST_CHECKPOINTS, draw_strokes, refused_before_decoding
from tools.canvas import CANVAS_SIZE, DIGITS, Point, canvas_rgba, oval

SEVEN = DIGITS[7]


def _transform(strokes: list[list[Point]], scale: float, dx: float, dy: float) -> list[list[Point]]:
    return [[(x * scale + dx, y * scale + dy) for x, y in stroke] for stroke in strokes]


def _digit(rgba: np.ndarray) -> np.ndarray:
    digit = drawing_to_mnist(rgba)
    assert digit is not None
    return digit


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def _ink_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the box around every non-zero pixel."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _png(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt)
    return buffer.getvalue()


def _assert_mnist_like(digit: np.ndarray | None) -> np.ndarray:
    """MNIST's layout: 28x28 in [0, 1], full ink, longer side 20 px, centre of mass at (14, 14)."""
    assert digit is not None
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.min() >= 0.0
    assert digit.max() == pytest.approx(1.0)
    assert max(_ink_box(digit)) == 20
    row, col = _centre_of_mass(digit)
    # MNIST shifts by whole pixels, so its centres of mass lie within half a pixel of 14.
    assert abs(row - 14) <= 0.5
    assert abs(col - 14) <= 0.5
    return digit


SYNTHETIC = {
    "centred seven": (SEVEN, 20),
    "off-centre seven": (_transform(SEVEN, 0.5, -30, -25), 10),
    "tiny seven": (_transform(SEVEN, 0.15, 180, 200), 3),
    "huge seven": (_transform(SEVEN, 1.6, -120, -90), 30),
    "thin seven": (SEVEN, 3),
    "thick seven": (SEVEN, 40),
    "off-centre zero": ([oval(70, 200, 40, 60)], 12),
    "one": ([[(145.0, 50.0), (140.0, 230.0)]], 20),
}


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_synthetic_drawings_come_out_mnist_like(name: str) -> None:
    strokes, width = SYNTHETIC[name]
    _assert_mnist_like(drawing_to_mnist(draw_strokes(strokes, width)))


def test_position_and_size_on_the_canvas_do_not_matter() -> None:
    reference = _digit(draw_strokes(SEVEN, 20))
    moved = _digit(draw_strokes(_transform(SEVEN, 1.0, -60, 40), 20))
    smaller = _digit(draw_strokes(_transform(SEVEN, 0.5, 20, 30), 10))
    np.testing.assert_allclose(moved, reference, atol=0.1)  # line rasterising differs a little
    assert np.corrcoef(smaller.ravel(), reference.ravel())[0, 1] > 0.95


def test_aspect_ratio_is_kept() -> None:
    wide = _digit(draw_strokes([[(40.0, 100.0), (240.0, 100.0), (240.0, 200.0)]], 4))
    tall = _digit(draw_strokes([[(140.0, 30.0), (140.0, 250.0)]], 22))
    height, width = _ink_box(wide)  # ink 204 x 104 canvas pixels
    assert width == 20
    assert abs(height - 20 * 104 / 204) <= 1
    height, width = _ink_box(tall)  # 22 x 242
    assert height == 20
    assert width in (2, 3)


def test_thicker_strokes_give_more_ink() -> None:
    ink = [float(_digit(draw_strokes(SEVEN, width)).sum()) for width in (3, 12, 24, 40)]
    assert ink == sorted(ink)
    assert ink[-1] > 2 * ink[0]


def test_blank_canvas_gives_nothing() -> None:
    assert drawing_to_mnist(None) is None
    assert drawing_to_mnist(np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)) is None
    black = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    black[..., 3] = 255  # an opaque black background counts as no ink
    assert drawing_to_mnist(black) is None
    faint = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    faint[100:110, 100:110] = (255, 255, 255, 10)  # a speck below the ink threshold
    assert drawing_to_mnist(faint) is None


def test_a_lone_dot_is_handled() -> None:
    dot = _assert_mnist_like(drawing_to_mnist(draw_strokes([[(100.0, 100.0)]], 6)))
    assert dot.sum() > 200  # a disc blown up to 20 px: far more ink than a digit


@pytest.mark.parametrize(
    "strokes",
    [[[(100.0, 100.0)]], [[(130.0, 140.0), (150.0, 140.0)]], _transform(SEVEN, 0.2, 100, 100)],
    ids=["dot", "20-px-dash", "tiny-seven"],
)
def test_a_tiny_drawing_is_called_too_small(strokes: list[list[Point]]) -> None:
    problem = drawing_problem(draw_strokes(strokes, 20))
    assert problem is not None
    assert problem.startswith("Too small to read")


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_digit_sized_drawings_have_no_problem(name: str) -> None:
    strokes, width = SYNTHETIC[name]
    assert drawing_problem(draw_strokes(strokes, width)) is None
    assert drawing_problem(np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)) is None  # blank


def test_dark_on_light_uploads_are_inverted() -> None:
    drawing = draw_strokes(SEVEN, 20)
    expected = _digit(drawing)
    ink = drawing[..., 3]
    paper = (235 - ink.astype(np.float32) * 200 / 255).astype(np.uint8)  # dark ink, light paper
    for fmt in ("PNG", "JPEG"):
        digit = _assert_mnist_like(upload_to_mnist(_png(np.stack([paper] * 3, axis=-1), fmt)))
        assert np.corrcoef(digit.ravel(), expected.ravel())[0, 1] > 0.97
    # Light ink on a dark background is not inverted.
    light_on_dark = _assert_mnist_like(upload_to_mnist(_png(ink)))
    assert np.corrcoef(light_on_dark.ravel(), expected.ravel())[0, 1] > 0.97
    assert (light_on_dark > 0.5).sum() == pytest.approx((expected > 0.5).sum(), rel=0.1)


def test_noisy_photo_of_a_digit() -> None:
    rng = np.random.default_rng(0)
    ink = (
        draw_strokes(_transform(SEVEN, 2.0, 100, 60), 40, size=640)[..., 3].astype(np.float32) / 255
    )
    shading = np.linspace(0.75, 0.9, 640, dtype=np.float32)[None, :]  # uneven light
    photo = shading - 0.6 * ink + rng.normal(0, 0.02, (640, 640)).astype(np.float32)
    photo_bytes = _png((np.clip(photo, 0, 1) * 255).astype(np.uint8), "JPEG")
    digit = _assert_mnist_like(upload_to_mnist(photo_bytes))
    expected = _digit(draw_strokes(SEVEN, 20))
    assert np.corrcoef(digit.ravel(), expected.ravel())[0, 1] > 0.9


def test_transparent_png_with_dark_strokes() -> None:
    strokes = draw_strokes(SEVEN, 20)
    dark = strokes.copy()
    dark[..., :3] = 0  # black strokes on a transparent background
    digit = _assert_mnist_like(upload_to_mnist(_png(dark)))
    expected = _digit(strokes)
    assert np.corrcoef(digit.ravel(), expected.ravel())[0, 1] > 0.97


def test_blank_upload_gives_nothing() -> None:
    assert upload_to_mnist(_png(np.full((300, 200), 240, dtype=np.uint8))) is None


def _with_size(png: bytes, width: int, height: int) -> bytes:
    """The same PNG with its IHDR claiming another size (CRC fixed, pixel data unchanged)."""
    ihdr = png[12:29]  # chunk type + 13 data bytes
    data = struct.pack(">II", width, height) + ihdr[12:]
    chunk = b"IHDR" + data
    return png[:12] + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


def _refusable(kind: str) -> bytes:
    small = _png(np.zeros((28, 28), dtype=np.uint8))
    return {
        "text": b"hello, this is text",
        "pdf": b"%PDF-1.7\n" + bytes(500),
        "empty": b"",
        "gif": _png(np.zeros((28, 28), dtype=np.uint8), "GIF"),
        "oversized": _with_size(small, 9_000, 8_000),  # 72 MP, under PIL's own bomb limit
        "bomb": _with_size(small, 50_000, 50_000),  # 2,500 MP, over PIL's limit too
        "too many bytes": small + bytes(MAX_UPLOAD_BYTES),
    }[kind]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("text", "not a PNG or JPEG"),
        ("pdf", "not a PNG or JPEG"),
        ("empty", "not a PNG or JPEG"),
        ("gif", "not a PNG or JPEG"),
        ("oversized", "9000 x 8000 pixels"),
        ("bomb", "too large"),
        ("too many bytes", "MB"),
    ],
)
def test_bad_uploads_are_refused_before_decoding(
    kind: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert re.search(message, refused_before_decoding(_refusable(kind), monkeypatch))


def test_header_patch_keeps_a_valid_png() -> None:
    small = _png(np.full((28, 28), 7, dtype=np.uint8))
    image = open_upload(_with_size(small, 28, 28))
    assert image.size == (28, 28)
    assert np.asarray(image).max() == 7


def test_corrupt_uploads_are_refused() -> None:
    photo = _png((np.random.default_rng(1).random((200, 200)) * 255).astype(np.uint8))
    with pytest.raises(ImageRejectedError, match="corrupt"):
        open_upload(photo[: len(photo) // 2])
    jpeg = _png(np.zeros((200, 200), dtype=np.uint8), "JPEG")
    with pytest.raises(ImageRejectedError):
        open_upload(jpeg[:200])


ROUND_TRIP_DIGITS = 500
MIN_KEPT = 0.98  # measured: 1.000 on these 500 for both models, 0.999 on all 10,000


def test_mnist_digits_drawn_back_keep_their_predictions(test_split: Split) -> None:
    rng = np.random.default_rng(0)
    images = test_split.images[:ROUND_TRIP_DIGITS]
    redrawn = [_digit(canvas_rgba(image.numpy(), rng)) for image in images]
    for digit in redrawn[:50]:
        _assert_mnist_like(digit)
    # Pixel by pixel, the redrawn digit is the original again (median correlation 0.97
    # measured; a centre off by one pixel gives 0.64, a 18 px box 0.80).
    originals = images.numpy() / 255.0
    correlation = [
        np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(originals, redrawn, strict=True)
    ]
    assert np.median(correlation) > 0.95
    redrawn_batch = torch.from_numpy(np.stack(redrawn))
    for name in ("cnn", "senet"):
        checkpoint = load_checkpoint(MNIST_CHECKPOINTS, name)
        before = checkpoint.predict(images).argmax(1)
        after = predict(checkpoint.model, checkpoint.normalize(redrawn_batch)).argmax(1)
        kept = float((before == after).float().mean())
        print(f"{name}: {kept:.3f} of {ROUND_TRIP_DIGITS} MNIST test digits keep their prediction")
        assert kept >= MIN_KEPT


@pytest.mark.parametrize(
    ("mode", "size", "shown_mode"),
    [("I;16", (900, 600), "RGB"), ("RGBA", (120, 300), "RGBA"), ("L", (4000, 3000), "RGB")],
)
def test_an_uploads_preview_is_an_inline_png_a_browser_can_show(
    mode: str, size: tuple[int, int], shown_mode: str
) -> None:
    photo = Image.new(mode, size)
    url = preview(photo)
    assert url.startswith("data:image/png;base64,")  # inline: no media file to go missing
    shown = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert shown.mode == shown_mode
    scale = min(1.0, PREVIEW_SIDE / max(size))
    assert shown.size == (round(size[0] * scale), round(size[1] * scale))
