"""The Draw page's canvas from outside: where the mouse draws, digits as mouse strokes, and
drawings in the form the canvas sends them to the server.

The page's own values (its size, widget key and prompt) come from
``app_pages/draw_canvas.py`` and are re-exported here. Strokes are in canvas pixels,
shaped like MNIST's digits; ``draw`` (Playwright's sync API) and ``draw_async`` (its
async API) move the mouse along them in the same steps.
"""

from __future__ import annotations

import base64
import io
import itertools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from app_pages.draw_canvas import CANVAS_KEY, CANVAS_SIZE, PROMPT

if TYPE_CHECKING:
    from playwright.async_api import Page as AsyncPage
    from playwright.sync_api import Page

__all__ = [
    "CANVAS", "CANVAS_KEY", "CANVAS_SIZE", "DIGITS", "DRAWN", "PROMPT", "Point",
    "canvas_png", "canvas_rgba", "decode", "draw", "draw_async", "oval",
]  # fmt: skip

# Where the mouse draws, and the layer that holds the strokes.
CANVAS = '[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'
DRAWN = '[data-testid="stBidiComponentIsolated"] canvas.dc-canvas.lower-canvas'

Point = tuple[float, float]


def oval(cx: float, cy: float, rx: float, ry: float, steps: int = 36) -> list[Point]:
    """One closed stroke around (cx, cy) with radii (rx, ry): a zero."""
    angles = (2 * math.pi * i / steps for i in range(steps + 2))  # a little overlap closes it
    return [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles]


DIGITS: dict[int, list[list[Point]]] = {
    0: [oval(140, 140, 55, 85)],
    1: [[(145, 50), (140, 230)]],
    4: [[(170, 230), (170, 50), (80, 170), (205, 170)]],
    7: [[(80, 60), (200, 60), (120, 230)]],
}


def _mouse_path(stroke: list[Point], steps: int | None) -> Iterator[tuple[Point, int]]:
    """Each point after the first with the mouse steps to reach it: ``steps``, or one per
    ~6 canvas pixels (at least 2), as a hand moves."""
    for start, end in itertools.pairwise(stroke):
        yield end, steps or max(2, round(math.dist(start, end) / 6))


def draw(page: Page, strokes: list[list[Point]], steps: int | None = None) -> None:
    """Draw ``strokes`` on the Draw page's canvas with the mouse (Playwright, sync)."""
    box = page.locator(CANVAS).bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for (x, y), moves in _mouse_path(stroke, steps):
            page.mouse.move(box["x"] + x, box["y"] + y, steps=moves)
        page.mouse.up()


async def draw_async(page: AsyncPage, strokes: list[list[Point]], steps: int | None = None) -> None:
    """Draw ``strokes`` on the Draw page's canvas with the mouse (Playwright, async)."""
    box = await page.locator(CANVAS).bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        await page.mouse.move(box["x"] + x, box["y"] + y)
        await page.mouse.down()
        for (x, y), moves in _mouse_path(stroke, steps):
            await page.mouse.move(box["x"] + x, box["y"] + y, steps=moves)
        await page.mouse.up()


def canvas_rgba(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit (28, 28) uint8 drawn back on the canvas: white strokes on a
    transparent (CANVAS_SIZE, CANVAS_SIZE, 4) RGBA, enlarged (bicubic) to a random size
    between 4 and 10 canvas pixels per MNIST pixel, at a random place."""
    size = int(rng.integers(112, CANVAS_SIZE + 1))
    top, left = rng.integers(0, CANVAS_SIZE - size + 1, size=2)
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    enlarged = Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)
    rgba[top : top + size, left : left + size, 3] = np.asarray(enlarged)
    return rgba


def canvas_png(image: np.ndarray, rng: np.random.Generator) -> str:
    """An MNIST digit (28, 28) uint8 as the canvas's data URL (`canvas_rgba` as a PNG)."""
    buffer = io.BytesIO()
    Image.fromarray(canvas_rgba(image, rng)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(data_url: str) -> np.ndarray:
    """A canvas data URL back to its RGBA array, as `CanvasResult.image_data` does."""
    _, encoded = data_url.split(";base64,", 1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))
