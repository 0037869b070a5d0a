"""Time to the first full render of the Results page in a real browser.

    python bench/results_render.py [--runs 5] [--data-dir ../shared/data]

Each run starts a fresh ``streamlit run app.py`` and waits until it answers its health
check ("server ready"), then opens the page in headless Chromium and times, from the
navigation to the moment everything is drawn (three plotly charts, the tables, the
images of the default confusion cell, and Streamlit no longer running the script):

- first visit: the first session after the server started. It pays the one-off
  imports (torch, torchvision, scikit-learn, plotly) and loads the checkpoints, the saved
  evaluation and the test images into the server's caches.
- new tab: a second tab of the same browser on the same server, the case of a reload
  or of every later visit, where the server's caches and the browser's cache are warm.

The table shows each run and the medians; the machine's load is printed because the
numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"]
RENDERED = """() => {
    const text = document.body.innerText;
    const charts = [...document.querySelectorAll('.js-plotly-plot')]
        .filter((chart) => chart.querySelector('.main-svg'));
    const images = [...document.querySelectorAll('[data-testid="stImage"] img')];
    const gallery = text.includes('not on disk')
        || (images.length > 0 && images.every((image) => image.complete));
    const running = document.querySelector('[data-testid="stStatusWidget"]');
    return charts.length >= 3 && text.includes('Look at the mistakes') && gallery && !running;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(port: int, data_dir: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, **({"SE_DEMO_DATA": data_dir} if data_dir else {})}
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_healthy(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as reply:
                if reply.read() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the server on port {port} did not become healthy in {timeout:.0f} s")


def time_render(context: BrowserContext, url: str, timeout_s: float = 120.0) -> float:
    """Seconds from navigating a new tab to ``url`` until the Results page is fully drawn."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(RENDERED, polling="raf", timeout=timeout_s * 1000)
        elapsed = time.perf_counter() - start
    finally:
        page.close()
    if errors:
        raise RuntimeError(f"the page raised errors: {errors}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) at the start")
    print(f"{'run':>4} {'server ready (s)':>17} {'first visit (s)':>16} {'new tab (s)':>12}")
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=LAUNCH_ARGS
        )
        for run in range(1, args.runs + 1):
            port = _free_port()
            start = time.perf_counter()
            server = _start_server(port, args.data_dir)
            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            try:
                _wait_healthy(port)
                ready = time.perf_counter() - start
                url = f"http://127.0.0.1:{port}/"
                row = (ready, time_render(context, url), time_render(context, url))
            finally:
                context.close()
                server.terminate()
                server.wait(timeout=30)
            rows.append(row)
            print(f"{run:>4} {row[0]:>17.2f} {row[1]:>16.2f} {row[2]:>12.2f}", flush=True)
        browser.close()
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(f"{'median':>6} {medians[0]:>15.2f} {medians[1]:>16.2f} {medians[2]:>12.2f}")


if __name__ == "__main__":
    main()
