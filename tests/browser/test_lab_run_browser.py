"""A lab run selected in the Training lab, on every other page in Chromium: each page shows
the run or says in one sentence that it has nothing for it, with a way back to the shipped
models; on a projector the Draw page still shows both answers without scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from se_demo.core.config import RUNS_ENV_VAR, ModelConfig, RunRequest, TrainConfig
from se_demo.training.runs import train_run
from tests.browser.conftest import STARTUP_TIMEOUT_S, collect_errors
from tools.appserver import AppServer, start_app
from tools.canvas import CANVAS, DIGITS, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)
# The pages a student can look at with a run selected (the Training lab selects it).
PAGES = ("How SE works", "Draw a digit", "What SE learned", "Test-set results",
         "Seeds and ablations", "Robustness")  # fmt: skip


@pytest.fixture(scope="module")
def run_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with one real, undertrained lab run of both models (1 epoch, 1,000 images)."""
    runs = tmp_path_factory.mktemp("runs")
    request = RunRequest(
        ("cnn", "senet"), ModelConfig(), TrainConfig(epochs=1, train_subset=1000, batch_size=64)
    )
    run = train_run(request, lambda *_: None, lambda: False, data_dir=data_dir, root=runs)
    log = tmp_path_factory.mktemp("lab-run") / "server.log"
    try:
        server = start_app(data_dir, log, STARTUP_TIMEOUT_S, env={RUNS_ENV_VAR: str(runs)})
    except RuntimeError as error:
        pytest.fail(str(error))
    server.run_name = run.path.name  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def with_run(browser: Browser, run_server: AppServer) -> Iterator[object]:
    """Opens a session at a window size with the lab run selected in the Training lab."""
    opened: list[tuple[Page, list[str]]] = []

    def open_at(width: int, height: int, query: str = "") -> Page:
        context = browser.new_context(
            base_url=run_server.url, viewport={"width": width, "height": height}
        )
        page = context.new_page()
        errors = [e for e in collect_errors(page, run_server) if "/train/_stcore/" not in e]
        opened.append((page, errors))
        page.goto(f"/train{query}")
        choice = page.get_by_test_id("stSelectbox").filter(
            has_text="Models shown on the other pages"
        )
        expect(choice).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # the first run ended
        name = run_server.run_name  # type: ignore[attr-defined]
        for _ in range(3):  # a late rerun of the page (a loaded machine) closes the list
            choice.locator("input").click()
            choice.locator("input").fill(name)
            try:
                page.get_by_role("option", name=name).click(timeout=15_000)
                break
            except PlaywrightTimeoutError:
                continue
        expect(page.get_by_test_id("stSidebar")).to_contain_text("From the run")
        return page

    yield open_at
    for page, errors in opened:
        page.context.close()
        assert errors == [], f"browser console errors: {errors}"
    assert "Traceback" not in run_server.output(), run_server.output()


def _visit(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)  # the run has ended
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_every_page_shows_the_run_or_says_it_has_nothing_for_it(with_run) -> None:
    page = with_run(1280, 800)
    for title in PAGES:
        _visit(page, title)
        main = page.get_by_test_id("stMain")
        expect(main.get_by_test_id("stAlertContentError")).to_have_count(0)
        for alert in main.get_by_test_id("stAlert").all_inner_texts():
            assert "python -m" not in alert, (title, alert)  # no command lines for students
            assert "/tmp/" not in alert, (title, alert)  # nor server paths
    expect(page.get_by_test_id("stSidebar")).to_contain_text("From the run")


def test_robustness_offers_the_way_back_to_the_shipped_models(with_run) -> None:
    page = with_run(1280, 800)
    _visit(page, "Robustness")
    info = page.get_by_test_id("stAlertContentInfo")
    expect(info).to_contain_text("has nothing for it")
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    page.get_by_role("button", name="Show the shipped models").click()
    expect(page.locator(".js-plotly-plot")).to_have_count(3)  # the shipped models' sweep
    expect(page.get_by_test_id("stSidebar")).not_to_contain_text("From the run")


def test_draw_with_an_undertrained_run_fits_a_projector(with_run) -> None:
    page = with_run(1280, 720, "?presenter=true")
    _visit(page, "Draw a digit")
    line = page.get_by_test_id("stCaptionContainer").filter(has_text="Undertrained run")
    expect(line).to_contain_text("Basic CNN")
    expect(line).to_contain_text("SENet")
    lines = line.locator("p").evaluate(
        "p => p.getBoundingClientRect().height / parseFloat(getComputedStyle(p).lineHeight)"
    )
    assert round(lines) == 1, lines  # one short line, not two long warnings
    expect(page.locator(CANVAS)).to_be_visible()
    draw(page, DIGITS[7])
    answer = page.locator(".st-key-draw_answer_senet")
    expect(answer).to_contain_text("SENet")
    box = answer.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 720, box
    assert page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
