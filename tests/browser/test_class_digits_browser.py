"""Three students add digits in their own browsers; the projector's class page counts
them and scores both models without a reload, and a digit taken back disappears."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import STARTUP_TIMEOUT_S, collect_errors
from tools.appserver import AppServer, start_app
from tools.canvas import CANVAS, DIGITS, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def class_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with a class store of its own (an empty SQLite file in a fresh runs folder)."""
    runs = tmp_path_factory.mktemp("class-runs")
    log = tmp_path_factory.mktemp("class") / "server.log"
    try:
        server = start_app(data_dir, log, STARTUP_TIMEOUT_S, env={"SE_DEMO_RUNS": str(runs)})
    except RuntimeError as error:
        pytest.fail(str(error))
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()


def _metric(page: Page, label: str) -> object:
    return page.locator('[data-testid="stMetric"]', has_text=label).locator(
        '[data-testid="stMetricValue"]'
    )


def _add_digit(page: Page, digit: int) -> None:
    page.goto("/draw")
    expect(page.locator(CANVAS)).to_be_visible(timeout=TIMEOUT_MS)
    draw(page, DIGITS[digit])
    expect(page.locator(".st-key-draw_answer_senet")).to_be_visible(timeout=TIMEOUT_MS)
    box = page.locator(".st-key-class_add_box")
    box.get_by_role("radio", name=str(digit), exact=True).click()
    box.get_by_role("button", name="Add my digit").click()
    expect(box.get_by_text(f"Added as a {digit}: thank you!")).to_be_visible(timeout=TIMEOUT_MS)


def test_the_projector_shows_the_classs_digits_live(
    browser: Browser, class_server: AppServer
) -> None:
    projector = browser.new_context(base_url=class_server.url).new_page()
    errors = collect_errors(projector, class_server)
    projector.goto("/our-class-digits")
    expect(projector.get_by_text("No digits yet")).to_be_visible(timeout=TIMEOUT_MS)
    students = [browser.new_context(base_url=class_server.url).new_page() for _ in range(3)]
    for count, (student, digit) in enumerate(zip(students, (7, 0, 1), strict=True), start=1):
        _add_digit(student, digit)
        expect(_metric(projector, "Digits drawn")).to_have_text(str(count), timeout=TIMEOUT_MS)
    expect(_metric(projector, "Students")).to_have_text("3")
    for model in ("Basic CNN", "SENet"):  # the three drawings are read right by both
        expect(_metric(projector, f"{model} on our digits")).to_have_text("100.0 %")
    expect(projector.get_by_text("3 of our")).to_have_count(0)
    expect(
        projector.get_by_text("0 of our 3 digits are read right by only one model")
    ).to_be_visible()

    take_back = (
        students[1].locator(".st-key-class_add_box").get_by_role("button", name="Take back my last")
    )
    take_back.click()
    expect(students[1].get_by_text("Your last digit was taken back.")).to_be_visible()
    expect(_metric(projector, "Digits drawn")).to_have_text("2", timeout=TIMEOUT_MS)
    expect(_metric(projector, "Students")).to_have_text("2")
    assert errors == []
