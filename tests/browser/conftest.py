"""The real app under `streamlit run`, driven by Debian's Chromium through Playwright.

One server per test session on a free port; its output goes to a log file that tests
read to assert that no traceback was printed. The server, the canvas and the digits
drawn on it come from tools/; here are the fixtures, and the ink a canvas holds.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, expect

from tools.appserver import CHROMIUM_ARGS, AppServer, chromium_path, start_app
from tools.canvas import CANVAS, DRAWN, Point, draw

STARTUP_TIMEOUT_S = 60.0


def draw_after_clear(page: Page, strokes: list[list[Point]], answer: Locator) -> None:
    """Draw on the canvas that Clear has just mounted, until ``answer`` shows or the ink stays.

    The canvas component loads its (empty) starting drawing asynchronously after it
    mounts, and strokes drawn before that load ends are wiped by it: on a loaded CI
    machine the test's mouse can be that fast (a person is not). So the strokes are drawn
    again, at most twice more, only when the canvas lost them before any answer came;
    an app that never answers still fails the caller's own check.
    """
    expect(page.locator(CANVAS)).to_be_visible()
    for _ in range(3):
        draw(page, strokes)
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and answer.count() == 0:
            if bright_pixels(page.locator(DRAWN)) == 0:
                break  # wiped by the late load: draw again
            page.wait_for_timeout(200)
        else:
            return


def bright_pixels(canvas: Locator) -> int:
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


def _chromium() -> str:
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the browser tests, never skip them
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch the system Chromium; Playwright's own browser download does not work here."""
    return {**browser_type_launch_args, "executable_path": _chromium(), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def app_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Start the app on a free port, wait until it is healthy, stop it after the session."""
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    try:
        server = start_app(data_dir, log, STARTUP_TIMEOUT_S)
    except RuntimeError as error:
        pytest.fail(str(error))
    try:
        yield server
    finally:
        server.stop()


def collect_errors(page: Page, app_server: AppServer) -> list[str]:
    """The page's console errors and uncaught exceptions, as they happen.

    Opened at a page's path (/draw), Streamlit's frontend first probes /draw/_stcore/ for
    its server (a 404) and then finds it at the root: a known probe, not an error of the app.
    """
    errors: list[str] = []
    probe = re.compile(rf"{re.escape(app_server.url)}/[\w-]+/_stcore/")

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not probe.match(url):
            errors.append(f"{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture(scope="session")
def base_url(app_server: AppServer) -> str:
    """pytest-playwright resolves ``page.goto("/draw")`` against the running app."""
    return app_server.url


@pytest.fixture
def open_page(browser: Browser, app_server: AppServer) -> Iterator[object]:
    """Opens a path in a new session at a given window size; checks its errors afterwards."""
    opened: list[tuple[Page, list[str]]] = []

    def open_at(path: str, width: int, height: int) -> Page:
        context = browser.new_context(
            base_url=app_server.url, viewport={"width": width, "height": height}
        )
        page = context.new_page()
        errors = collect_errors(page, app_server)
        page.goto(path)
        opened.append((page, errors))
        return page

    yield open_at
    for page, errors in opened:
        page.context.close()
        assert errors == [], f"browser console errors: {errors}"
    assert "Traceback" not in app_server.output(), app_server.output()
