"""Draw digits with the mouse on the real canvas in Chromium; both models must read them."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import AppServer, collect_errors

pytestmark = pytest.mark.browser

CANVAS = '[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'
DRAWN = '[data-testid="stBidiComponentIsolated"] canvas.dc-canvas.lower-canvas'  # the strokes
PROMPT = "Draw a digit from 0 to 9 on the black canvas"
TIMEOUT_MS = 30_000  # the first visit loads torch and both models in the server
expect.set_options(timeout=TIMEOUT_MS)

Point = tuple[float, float]


def _oval(cx: float, cy: float, rx: float, ry: float, steps: int = 36) -> list[Point]:
    angles = (2 * math.pi * i / steps for i in range(steps + 2))  # a little overlap closes it
    return [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles]


# Strokes in canvas pixels (280 x 280), shaped like MNIST's digits.
DIGITS: dict[int, list[list[Point]]] = {
    0: [_oval(140, 140, 55, 85)],
    1: [[(145, 50), (140, 230)]],
    4: [[(170, 230), (170, 50), (80, 170), (205, 170)]],
    7: [[(80, 60), (200, 60), (120, 230)]],
}


@pytest.fixture
def draw_page(page: Page, app_server: AppServer) -> Iterator[Page]:
    """The Draw page, loaded, with browser errors collected and checked afterwards."""
    errors = collect_errors(page, app_server)
    page.goto("/draw")
    expect(page.get_by_text(PROMPT)).to_be_visible()
    expect(page.locator(CANVAS)).to_be_visible()
    yield page
    assert errors == [], f"browser console errors: {errors}"
    assert "Traceback" not in app_server.output(), app_server.output()


def _draw(page: Page, strokes: list[list[Point]]) -> None:
    box = page.locator(CANVAS).bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.down()
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            steps = max(2, round(math.dist((x0, y0), (x1, y1)) / 6))
            page.mouse.move(box["x"] + x1, box["y"] + y1, steps=steps)
        page.mouse.up()


def _bright_pixels(canvas: Locator) -> int:
    """How many pixels of the rendered canvas hold white ink."""
    return int(
        canvas.evaluate(
            """el => {
                const data = el.getContext("2d").getImageData(0, 0, el.width, el.height).data;
                let count = 0;
                for (let i = 0; i < data.length; i += 4) if (data[i] > 128) count++;
                return count;
            }"""
        )
    )


def _expect_answers(page: Page, digit: int) -> None:
    expect(page.locator(".st-key-draw_answer_cnn")).to_contain_text(f"Basic CNN: {digit} (")
    expect(page.locator(".st-key-draw_answer_senet")).to_contain_text(f"SENet: {digit} (")
    expect(page.locator(".st-key-draw_verdict")).to_have_text(f"Both models read {digit}.")


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_both_models_read_a_drawn_digit(draw_page: Page, digit: int) -> None:
    _draw(draw_page, DIGITS[digit])
    _expect_answers(draw_page, digit)
    expect(draw_page.get_by_text(PROMPT)).to_have_count(0)


def test_clear_empties_canvas_and_prediction(draw_page: Page) -> None:
    _draw(draw_page, DIGITS[7])
    _expect_answers(draw_page, 7)
    assert _bright_pixels(draw_page.locator(DRAWN)) > 1000

    draw_page.get_by_role("button", name="Clear").click()
    expect(draw_page.get_by_text(PROMPT)).to_be_visible()
    expect(draw_page.locator(".st-key-draw_answer_cnn")).to_have_count(0)
    expect(draw_page.locator(".st-key-draw_answer_senet")).to_have_count(0)
    assert _bright_pixels(draw_page.locator(DRAWN)) == 0

    # The fresh canvas takes a new digit.
    _draw(draw_page, DIGITS[1])
    _expect_answers(draw_page, 1)


@pytest.mark.parametrize(
    "strokes",
    [[[(140, 140), (142, 141)]], [[(130, 140), (150, 140)]]],
    ids=["stray-dot", "20-px-dash"],
)
def test_a_tiny_mark_is_not_presented_as_an_answer(
    draw_page: Page, strokes: list[list[Point]]
) -> None:
    _draw(draw_page, strokes)
    expect(draw_page.get_by_text("Too small to read")).to_be_visible()
    expect(draw_page.locator(".st-key-draw_answer_cnn")).to_have_count(0)
    expect(draw_page.locator(".st-key-draw_verdict")).to_have_count(0)
    # Drawn larger, it is read again.
    draw_page.get_by_role("button", name="Clear").click()
    expect(draw_page.get_by_text(PROMPT)).to_be_visible()
    expect(draw_page.locator(CANVAS)).to_be_visible()
    _draw(draw_page, DIGITS[7])
    _expect_answers(draw_page, 7)
