"""The real app under `streamlit run`, driven by Debian's Chromium through Playwright.

One server per test session on a free port; its output goes to a log file that tests
read to assert that no traceback was printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

from bench.appserver import CHROMIUM_ARGS, AppServer, chromium_path, start_app

STARTUP_TIMEOUT_S = 60.0


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

    Opened at /draw, Streamlit's frontend first probes /draw/_stcore/ for its server
    (a 404) and then finds it at the root: a known probe, not an error of the app.
    """
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if message.type == "error" and not url.startswith(f"{app_server.url}/draw/_stcore/"):
            errors.append(f"{message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture(scope="session")
def base_url(app_server: AppServer) -> str:
    """pytest-playwright resolves ``page.goto("/draw")`` against the running app."""
    return app_server.url
