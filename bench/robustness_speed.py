"""Wall time of the robustness sweep (`python -m se_demo robustness`), split into its parts.

    python -m bench.robustness_speed [--repeats 3] [--datasets mnist fashion]

For each dataset: the corruptions alone (every corruption and severity on the sweep's
2,000 images), then the whole sweep (corruptions, both models, SE excitations, tests),
each repeated; medians are printed with the machine's load average, since the machine
may be shared, and the CPU time the process used (all its threads): on a quiet 2-core
machine the wall time approaches half of it. Target (issue 15): both datasets' sweeps in <= 2 min each.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from torch import nn

from se_demo.analysis.evaluate import cpu_name
from se_demo.core.checkpoints import load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.datafiles import read_split
from se_demo.robustness.corruptions import SEVERITIES, corrupt, corruptions_for
from se_demo.robustness.sweep import EVERY, run_robustness


def _corrupt_all(subset: np.ndarray, dataset: str) -> None:
    for corruption in corruptions_for(dataset):
        for severity in SEVERITIES:
            corrupt(subset, str(corruption.name), severity)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion"])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores")
    print(
        f"{'dataset':<9}{'part':<14}{'median s':>10}{'runs s':>24}{'CPU s':>10}"
        f"{'load before/after':>20}"
    )
    for dataset in args.datasets:
        images, labels = read_split(False, args.data_dir, dataset=dataset)
        checkpoints = load_checkpoints(CHECKPOINT_DIR / dataset)
        models: dict[str, nn.Module] = {n: c.model for n, c in checkpoints.items()}
        subset = np.ascontiguousarray(images[::EVERY])
        parts: dict[str, Callable[[], object]] = {
            "corruptions": partial(_corrupt_all, subset, dataset),
            "whole sweep": partial(run_robustness, models, images, labels, dataset),
        }
        for part, work in parts.items():
            load_before = os.getloadavg()[0]
            times, cpu = [], []
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                work()
                times.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            runs = ", ".join(f"{t:.1f}" for t in times)
            load = f"{load_before:.1f}/{os.getloadavg()[0]:.1f}"
            print(
                f"{dataset:<9}{part:<14}{np.median(times):>10.1f}{runs:>24}"
                f"{np.median(cpu):>10.1f}{load:>20}"
            )


if __name__ == "__main__":
    main()
