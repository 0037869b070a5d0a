"""Two students queue training runs on the real server: the second sees its place in the
queue, the first closes its tab and its run still finishes, then the second run trains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import STARTUP_TIMEOUT_S, collect_errors
from tools.appserver import AppServer, start_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 240_000  # a tiny run of both models, evaluation included, on 2 busy cores


@pytest.fixture(scope="module")
def lab_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with its runs saved in a temporary folder (SE_DEMO_RUNS)."""
    runs = tmp_path_factory.mktemp("runs")
    log = tmp_path_factory.mktemp("lab") / "server.log"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_DEMO_RUNS", str(runs))
        patch.setenv("SE_DEMO_WORKER", "embedded")
        try:
            server = start_app(data_dir, log, STARTUP_TIMEOUT_S)
        except RuntimeError as error:
            pytest.fail(str(error))
    server.runs = runs  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def _real(errors: list[str], server: AppServer) -> list[str]:
    """Errors but the frontend's known first probe for its server under the page's path."""
    return [e for e in errors if f"{server.url}/train/_stcore/" not in e]


def _open_lab(browser: Browser, server: AppServer) -> tuple[Page, list[str]]:
    """A new session on the Training lab, its form set to the smallest run (1 epoch, 1,000 images)."""
    page = browser.new_context(base_url=server.url).new_page()
    errors = collect_errors(page, server)
    page.goto("/train")
    expect(page.get_by_role("heading", name="Training lab")).to_be_visible(timeout=60_000)
    for label in ("Epochs", "Training images"):  # both sliders to their smallest value
        page.get_by_role("slider", name=label).press("Home")
    expect(page.get_by_role("slider", name="Epochs")).to_have_attribute("aria-valuetext", "1")
    expect(page.get_by_role("slider", name="Training images")).to_have_attribute(
        "aria-valuetext", "1,000 (smoke test)"
    )
    return page, errors


def test_a_queued_run_survives_its_tab_and_the_next_one_then_trains(
    browser: Browser, lab_server: AppServer
) -> None:
    first, first_errors = _open_lab(browser, lab_server)
    second, second_errors = _open_lab(browser, lab_server)
    queue = "Queue this run"
    first.get_by_role("button", name=queue).click()
    expect(first.get_by_text("Your run:")).to_be_visible(timeout=60_000)  # it trains
    second.get_by_role("button", name=queue).click()
    expect(second.get_by_text("Your run is number 1 in the queue")).to_be_visible()
    expect(second.get_by_text("The run of ")).to_be_visible()  # another student's, by a nickname
    expect(second.get_by_role("button", name="Cancel my run")).to_have_count(1)  # its own only
    assert _real(first_errors, lab_server) == []
    first.context.close()  # the first student closes the tab while the run trains

    expect(second.get_by_text("Your run:")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(second.get_by_text("Your run finished")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    runs = sorted(path.name for path in (lab_server.runs / "mnist").iterdir())  # type: ignore[attr-defined]
    assert len(runs) == 2, runs  # the closed tab's run was saved too, and first:
    expect(second.get_by_text(f"saved as {runs[1]}")).to_be_visible()  # this one is the newer
    assert _real(second_errors, lab_server) == []
    assert "Traceback" not in lab_server.output(), lab_server.output()
    second.context.close()
