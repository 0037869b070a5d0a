"""Time to the first full render of the Results page in a real browser, and the server's
part of it.

    python -m bench.results_render [--runs 5] [--data-dir ../shared/data]

Each run starts a fresh ``streamlit run app.py`` and waits until it answers its health
check ("server ready"), then opens the page in headless Chromium and times, from the
navigation to the moment everything is drawn (three plotly charts, the tables, the
images of the default confusion cell, and Streamlit no longer running the script):

- first visit: the first session after the server started, in a browser with an empty
  cache. The server reads the records, the saved evaluation and the test images into
  its caches (it imports neither torch nor scikit-learn for this page).
- new tab: a second tab of the same browser on the same server, the case of a reload
  or of every later visit, where the server's caches and the browser's cache are warm.

The server's part is timed apart, in a fresh process with Streamlit's AppTest: the
script's first run (what the first visit waits for on the server) and a later run.
The rest is the browser's: here it shares the server's 2 cores, and its main thread is
the bottleneck (loading plotly.js alone takes about 1 s on this machine).

The table shows each run and the medians; the machine's load is printed because the
numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import BrowserContext, sync_playwright

from tools.appserver import CHROMIUM_ARGS, chromium_path, start_app

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


SERVER_RUNS = """
import sys, time
from streamlit.testing.v1 import AppTest
app = AppTest.from_file("app.py", default_timeout=120)
start = time.perf_counter(); app.run(); first = time.perf_counter() - start
start = time.perf_counter(); app.run(); later = time.perf_counter() - start
assert not app.exception, app.exception
heavy = [name for name in ("torch", "torchvision", "sklearn", "scipy.stats") if name in sys.modules]
print(first, later, ",".join(heavy) or "none")
"""


def time_script_runs(data_dir: str | None) -> tuple[float, float, str]:
    """The page's first and a later script run in a fresh process (s), and which heavy
    libraries the first run imported.
    """
    env = {**os.environ, **({"SE_DEMO_DATA": data_dir} if data_dir else {})}
    result = subprocess.run(
        [sys.executable, "-c", SERVER_RUNS], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"the script run failed:\n{result.stderr}")
    first, later, heavy = result.stdout.split()
    return float(first), float(later), heavy


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    args = parser.parse_args()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min) at the start")
    header = ["server ready", "first visit", "new tab", "script 1st run", "later run"]
    print(f"{'run':>6}" + "".join(f"{name + ' (s)':>20}" for name in header) + "  heavy imports")
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
                first_visit, new_tab = time_render(context, url), time_render(context, url)
            finally:
                context.close()
                server.stop()
            first_run, later_run, heavy = time_script_runs(args.data_dir)
            row = (ready, first_visit, new_tab, first_run, later_run)
            rows.append(row)
            print(
                f"{run:>6}" + "".join(f"{value:>20.2f}" for value in row) + f"  {heavy}", flush=True
            )
        browser.close()
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(f"{'median':>6}" + "".join(f"{value:>20.2f}" for value in medians))


if __name__ == "__main__":
    main()
