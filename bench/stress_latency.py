"""Server-side time per update of the "stress your own digit" sliders.

    python -m bench.stress_latency [--runs 300] [--data-dir ../shared/data]

Each update takes an MNIST test digit (as the Draw page holds it: (28, 28) in [0, 1]),
applies random slider settings with `stress_digit`, then answers with both models
(`answer_both`, one torch thread, as the page does). Target (issue 15): p95 <= 20 ms.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from se_demo.analysis.evaluate import cpu_name
from se_demo.core.checkpoints import load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR, SERVING_THREADS
from se_demo.core.datafiles import read_split
from se_demo.core.registry import DatasetName
from se_demo.drawing.answers import answer_both
from se_demo.robustness.stress import stress_digit

TARGET_P95_MS = 20.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    torch.set_num_threads(SERVING_THREADS)  # as the app does once
    models = load_checkpoints(CHECKPOINT_DIR / DatasetName.MNIST)
    images = read_split(False, args.data_dir, dataset=DatasetName.MNIST)[0].astype(np.float32) / 255
    rng = np.random.default_rng(0)
    stress_ms, total_ms = [], []
    for i in range(args.runs + args.warmup):
        digit = images[i % len(images)]
        start = time.perf_counter()
        stressed = stress_digit(
            digit,
            rotation_deg=float(rng.uniform(-45, 45)),
            noise=float(rng.uniform(0, 0.5)),
            blur=float(rng.uniform(0, 2)),
            shift_px=(float(rng.uniform(-5, 5)), float(rng.uniform(-5, 5))),
            seed=i,
        )
        stressed_at = time.perf_counter()
        answer_both(models, stressed)
        done = time.perf_counter()
        if i >= args.warmup:
            stress_ms.append((stressed_at - start) * 1000)
            total_ms.append((done - start) * 1000)
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    print(f"{args.runs} updates after {args.warmup} warm-up ones (ms):")
    print(f"{'stage':<24}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, values in (("stress_digit", stress_ms), ("stress + both answers", total_ms)):
        p50, p95 = np.percentile(values, [50, 95])
        print(f"{name:<24}{p50:>8.2f}{p95:>8.2f}{max(values):>8.2f}")
    p95 = float(np.percentile(total_ms, 95))
    verdict = "meets" if p95 <= TARGET_P95_MS else "misses"
    print(f"p95 per update {p95:.1f} ms {verdict} the {TARGET_P95_MS:.0f} ms target")


if __name__ == "__main__":
    main()
