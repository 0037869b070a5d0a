"""The real app under `streamlit run`, driven by Debian's Chromium through Playwright.

One server per test session on a free port; its output goes to a log file that tests
read to assert that no traceback was printed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from se_demo.config import DATA_ENV_VAR, PROJECT_ROOT

STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class AppServer:
    """A running ``streamlit run app.py``: its base URL and everything it printed."""

    url: str
    log: Path

    def output(self) -> str:
        """The server's stdout and stderr so far."""
        return self.log.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the browser tests, never skip them
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch the system Chromium; Playwright's own browser download does not work here."""
    return {
        **browser_type_launch_args,
        "executable_path": _chromium(),
        "args": ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"],
    }


@pytest.fixture(scope="session")
def app_server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """Start the app on a free port, wait until it is healthy, stop it after the session."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    env = {**os.environ, DATA_ENV_VAR: str(data_dir)}
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    server = AppServer(url, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}:\n{server.output()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit not healthy after {STARTUP_TIMEOUT_S:.0f} s:\n{server.output()}"
                )
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def base_url(app_server: AppServer) -> str:
    """pytest-playwright resolves ``page.goto("/draw")`` against the running app."""
    return app_server.url
