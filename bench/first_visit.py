"""The first visit of each page after a server start, against a later visit.

    python -m bench.first_visit [--pages results excitation draw] [--runs 3] [--after 0]

For each page and run: start a fresh ``streamlit run app.py``, wait for its health check
and then ``--after`` s (a class arrives some time after the server starts), open the page
in a new session (tools/ws_session.py: the browser's protocol, no browser) and time the
script run to its end (on the Draw page including one drawing); then open it again in a
second session, the later visit. ``--opened-first`` lets one session open another page
first (the server warms its caches in the background from the first session on). Prints each run and the medians; the load average too,
as the numbers move with it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from se_demo.core.data import load_split
from se_demo.core.registry import DatasetName
from tools.appserver import start_app
from tools.canvas import canvas_png
from tools.ws_session import DrawSession


async def visit(url: str, page: str, drawing: str) -> float:
    """Seconds for one new session to show the page (and, on the Draw page, an answer)."""
    session = DrawSession(url, page=page, timeout_s=120)
    start = time.perf_counter()
    await session.open()
    if page == "draw":
        await session.draw(drawing)
    elapsed = time.perf_counter() - start
    await session.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", nargs="+", default=["results", "excitation", "draw"])
    parser.add_argument("--runs", type=int, default=3, help="server starts per page")
    parser.add_argument("--after", type=float, default=0.0, help="seconds from health to visit")
    parser.add_argument(
        "--opened-first",
        default=None,
        help="a page one session opens right after the health check (e.g. how-se-works, the "
        "default page a class opens first); the timed visits follow --after s later",
    )
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    args = parser.parse_args()
    digit = (
        load_split(False, args.data_dir, download=False, dataset=DatasetName.MNIST)
        .images[0]
        .numpy()
    )
    drawing = canvas_png(digit, np.random.default_rng(0))
    print(f"{'page':<11} {'run':>3} {'first s':>8} {'later s':>8}  load avg")
    for page in args.pages:
        first, later = [], []
        for run in range(args.runs):
            log = Path(tempfile.mkdtemp(prefix="first_visit_")) / "server.log"
            server = start_app(args.data_dir, log)
            try:
                if args.opened_first:
                    asyncio.run(visit(server.url, args.opened_first, drawing))
                time.sleep(args.after)
                first.append(asyncio.run(visit(server.url, page, drawing)))
                later.append(asyncio.run(visit(server.url, page, drawing)))
            finally:
                server.stop()
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"{page:<11} {run:>3} {first[-1]:>8.2f} {later[-1]:>8.2f}  {load}", flush=True)
        print(
            f"{page:<11} {'med':>3} {statistics.median(first):>8.2f} {statistics.median(later):>8.2f}"
        )


if __name__ == "__main__":
    main()
