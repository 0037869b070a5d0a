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
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from bench.appserver import CHROMIUM_ARGS, chromium_path, start_app

ROOT = Path(__file__).resolve().parents[1]
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
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            server = start_app(args.data_dir, Path(tempfile.mkdtemp()) / "server.log")
            ready = time.perf_counter() - start
            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            try:
                url = f"{server.url}/"
                row = (ready, time_render(context, url), time_render(context, url))
            finally:
                context.close()
                server.stop()
            rows.append(row)
            print(f"{run:>4} {row[0]:>17.2f} {row[1]:>16.2f} {row[2]:>12.2f}", flush=True)
        browser.close()
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(f"{'median':>6} {medians[0]:>15.2f} {medians[1]:>16.2f} {medians[2]:>12.2f}")


if __name__ == "__main__":
    main()
