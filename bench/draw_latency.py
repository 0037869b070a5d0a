"""Server-side latency of the Draw page, from a canvas drawing to both models' answers.

    python -m bench.draw_latency [--runs 300] [--threads 1 2] [--data-dir ../shared/data]

Each run takes one drawing as the canvas sends it (a 280x280 RGBA PNG; the inputs are
MNIST test digits drawn back at a random size and place), then times:
  decode   the PNG to an RGBA array, as streamlit-drawable-canvas does on the server;
  prepare  the MNIST preprocessing (`drawing_to_mnist`);
  answer   both models plus the SE excitations (`answer_both`).
The target (issue 4) is p95 < 20 ms for prepare + answer; decode is shown beside it.
The page answers with one torch thread; ``--threads`` also times other counts.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Mapping

import numpy as np
import torch

from se_demo.analysis.evaluate import cpu_name
from se_demo.core.checkpoints import Checkpoint, load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.data import load_split
from se_demo.core.registry import DatasetName
from se_demo.drawing.answers import answer_both
from se_demo.drawing.preprocess import drawing_to_mnist
from tools.canvas import canvas_png, decode

TARGET_P95_MS = 20.0


def time_drawings(
    drawings: list[str], models: Mapping[str, Checkpoint], warmup: int, threads: int
) -> dict[str, np.ndarray]:
    """Milliseconds per stage for every drawing after the first ``warmup``, answering
    on ``threads`` torch threads (set for the process, as the app does once)."""
    torch.set_num_threads(threads)
    times: dict[str, list[float]] = {"decode": [], "prepare": [], "answer": []}
    for i, drawing in enumerate(drawings):
        start = time.perf_counter()
        rgba = decode(drawing)
        decoded = time.perf_counter()
        digit = drawing_to_mnist(rgba)
        prepared = time.perf_counter()
        assert digit is not None
        answer_both(models, digit)
        answered = time.perf_counter()
        if i >= warmup:
            times["decode"].append((decoded - start) * 1000)
            times["prepare"].append((prepared - decoded) * 1000)
            times["answer"].append((answered - prepared) * 1000)
    ms = {name: np.array(values) for name, values in times.items()}
    ms["prepare + answer"] = ms["prepare"] + ms["answer"]
    ms["decode + prepare + answer"] = ms["decode"] + ms["prepare + answer"]
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300, help="timed drawings per setting")
    parser.add_argument("--warmup", type=int, default=20, help="untimed drawings first")
    parser.add_argument("--data-dir", default=None, help="MNIST root (default: $SE_DEMO_DATA)")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, torch.get_num_threads()],
        help="torch threads for the answers, timed one after the other (default: 1, as the "
        "page uses, then torch's default)",
    )
    args = parser.parse_args()

    models = load_checkpoints(CHECKPOINT_DIR / DatasetName.MNIST)
    images = load_split(
        False, args.data_dir, download=False, dataset=DatasetName.MNIST
    ).images.numpy()
    rng = np.random.default_rng(0)
    drawings = [canvas_png(images[i], rng) for i in range(args.warmup + args.runs)]

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {cpu_name()} ({platform.machine()}), {os.cpu_count()} CPUs, load average "
        f"{load}; torch {torch.__version__}; {args.runs} drawings after {args.warmup} warm-up"
    )
    print(f"{'threads':>7}  {'stage':<26} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for threads in args.threads:
        ms = time_drawings(drawings, models, args.warmup, threads)
        for name, values in ms.items():
            p50, p95 = np.percentile(values, [50, 95])
            print(f"{threads:>7}  {name:<26} {p50:>7.2f} {p95:>7.2f} {values.max():>7.2f}")
        p95 = float(np.percentile(ms["prepare + answer"], 95))
        verdict = "meets" if p95 < TARGET_P95_MS else "MISSES"
        print(
            f"{threads:>7}  prepare + answer p95 {p95:.1f} ms {verdict} the {TARGET_P95_MS:.0f} ms target"
        )


if __name__ == "__main__":
    main()
