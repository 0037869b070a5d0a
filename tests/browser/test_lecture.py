"""The lecture's views in Chromium: Draw a digit fits a projector and a laptop without
scrolling, puts the answers first on a phone, keeps the drawing across pages, and a link's
query parameters open the exact lesson view."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import bright_pixels, draw_after_clear
from tests.conftest import wait_for
from tools.canvas import CANVAS, DIGITS, DRAWN, PROMPT, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWERS = (".st-key-draw_answer_cnn", ".st-key-draw_answer_senet")
VERDICT = ".st-key-draw_verdict"
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)


def _inside_viewport(page: Page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    assert box is not None
    assert size is not None
    assert box["y"] >= 0, (selector, box)
    assert box["x"] >= 0, (selector, box)
    assert box["y"] + box["height"] <= size["height"], (selector, box, size)
    assert box["x"] + box["width"] <= size["width"], (selector, box, size)


@pytest.mark.parametrize(
    ("path", "width", "height"),
    [("/draw?presenter=true", 1280, 720), ("/draw", 1280, 800)],
    ids=["projector-presenter", "laptop"],
)
def test_canvas_and_both_answers_fit_without_scrolling(
    open_page, path: str, width: int, height: int
) -> None:
    page = open_page(path, width, height)
    expect(page.locator(CANVAS)).to_be_visible()
    draw(page, DIGITS[7])
    expect(page.locator(VERDICT)).to_have_text("Both models read 7.")
    assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
    for selector in (CANVAS, *ANSWERS, VERDICT):
        _inside_viewport(page, selector)


@pytest.mark.parametrize("digit", [1, 7])
def test_a_phone_shows_both_answers_without_scrolling_before_the_charts(
    open_page, digit: int
) -> None:
    page = open_page("/draw", 390, 844)
    expect(page.locator(CANVAS)).to_be_visible()
    _inside_viewport(page, CANVAS)
    draw(page, DIGITS[digit])
    expect(page.locator(VERDICT)).to_have_text(f"Both models read {digit}.")
    assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
    for selector in ANSWERS:  # right after drawing, where the student looks
        _inside_viewport(page, selector)
    answer = page.locator(ANSWERS[1]).bounding_box()
    first_chart = page.locator(".stPlotlyChart").first.bounding_box()
    assert answer is not None
    assert first_chart is not None
    assert answer["y"] + answer["height"] <= first_chart["y"]


def test_the_drawing_survives_a_visit_to_another_page(open_page) -> None:
    page = open_page("/draw", 1280, 800)
    expect(page.get_by_text(PROMPT)).to_be_visible()
    draw(page, DIGITS[4])
    expect(page.locator(VERDICT)).to_have_text("Both models read 4.")
    page.get_by_test_id("stSidebarNav").get_by_text("How SE works").click()
    expect(
        page.get_by_test_id("stCaptionContainer").filter(has_text="Following your drawing")
    ).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_text("Draw a digit").click()
    expect(page.locator(VERDICT)).to_have_text("Both models read 4.")
    expect(page.locator(CANVAS)).to_be_visible()
    wait_for(  # the strokes are redrawn on a new canvas
        lambda: bright_pixels(page.locator(DRAWN)) > 1000,
        TIMEOUT_MS / 1000,
        "the drawing to be redrawn on the new canvas",
        interval=0.2,
    )


def test_a_link_opens_the_exact_lesson_view(open_page) -> None:
    page = open_page("/?dataset=Fashion-MNIST&block=2&image=42&presenter=true", 1280, 800)
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Following test image 42")
    expect(caption).to_contain_text("through SE block 2 (32 channels)")
    expect(
        page.get_by_test_id("stSidebar").get_by_role("radio", name="Fashion-MNIST")
    ).to_be_checked()
    expect(
        page.get_by_test_id("stSidebar").get_by_role("switch", name="Presenter mode")
    ).to_be_checked()
    # block 3, the default, would leave the URL; block 2 stays in it
    expect(page).to_have_url(re.compile(r"block=2.*image=42|image=42.*block=2"))


def test_a_link_naming_a_block_opens_at_the_step_by_step_section(open_page) -> None:
    page = open_page("/?block=2&image=5", 1280, 800)
    expect(
        page.get_by_test_id("stCaptionContainer").filter(has_text="Following test image 5")
    ).to_contain_text("through SE block 2 (32 channels)")
    steps = page.get_by_role("heading", name="2. One SE block, step by step")
    expect(steps).to_be_in_viewport()
    expect(page.get_by_role("heading", name="1. Where the SE blocks sit")).not_to_be_in_viewport()


def test_a_link_with_wrong_values_says_so(open_page) -> None:
    page = open_page("/?dataset=KMNIST&block=7", 1280, 800)
    warnings = page.get_by_test_id("stAlertContentWarning")
    expect(warnings.filter(has_text="dataset=KMNIST").get_by_role("paragraph")).to_have_text(
        "The link's dataset=KMNIST is not one of MNIST or Fashion-MNIST, so MNIST is shown."
    )
    expect(warnings.filter(has_text="block=7").get_by_role("paragraph")).to_have_text(
        "The link's block=7 is not an SE block (1 to 3), so block 3 is shown."
    )
    expect(
        page.get_by_test_id("stCaptionContainer").filter(has_text="Following test image 0")
    ).to_contain_text("through SE block 3 (64 channels)")


@pytest.mark.parametrize(
    ("path", "width", "height"),
    [
        ("/draw?dataset=Fashion-MNIST&presenter=true", 1280, 720),
        ("/draw?dataset=Fashion-MNIST", 390, 844),
    ],
    ids=["projector-presenter", "phone"],
)
def test_draw_says_it_uses_the_mnist_models_when_the_sidebar_says_fashion(
    open_page, path: str, width: int, height: int
) -> None:
    page = open_page(path, width, height)
    notice = page.get_by_test_id("stCaptionContainer").filter(
        has_text="Draw always uses the MNIST models"
    )
    expect(notice).to_be_visible()  # in presenter mode too, where the introduction is folded
    _inside_viewport(page, '[data-testid="stCaptionContainer"]:has-text("Draw always uses")')
    draw_after_clear(
        page, DIGITS[7], page.locator(VERDICT)
    )  # redraws if the canvas's late load wiped it
    expect(page.locator(VERDICT)).to_have_text("Both models read 7.")
    for selector in ANSWERS:  # the notice costs no answer its place on the screen
        _inside_viewport(page, selector)
