"""How long the Intervene tab takes to answer "what is the test accuracy with this change?"

    python -m bench.intervention_speed [--dataset mnist] [--runs 5] [--data-dir DIR]

Times, on the shipped SENet, for a change that has no saved result (channel 0 of block 3
scaled by 0.5), medians of ``--runs`` runs in one process:

- full test set: a copy of the SENet with the change, run on all test images (what the
  page's button ran before, 15.5-16.3 s on a busy 2-core machine);
- subset: the same copy on the fixed stratified subset (`SUBSET_SIZE` images) with its
  Wilson 95 % interval, what the page runs now;
- saved: reading a result measured once and saved (SE off in a block, a channel removed),
  what the page shows for those without running anything.

The page caches each answer per setting too, so asking again costs nothing. The machine's
load is printed because the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from se_demo.analysis.channel_effects import load_channel_effects
from se_demo.analysis.interventions import (
    SUBSET_SIZE,
    Intervention,
    intervened_accuracy,
    stratified_subset,
    subset_accuracy,
)
from se_demo.analysis.results import load_evaluation
from se_demo.core.checkpoints import load_checkpoint
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.data import load_split
from se_demo.core.registry import InterventionMode


def _median_seconds(run: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=("mnist", "fashion"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    directory = CHECKPOINT_DIR / args.dataset
    senet = load_checkpoint(directory, "senet")
    dataset = senet.dataset.key
    split = load_split(False, args.data_dir, dataset=dataset)
    change = [Intervention("stages.2.se", InterventionMode.SCALE, channel=0, scale=0.5)]
    indices = stratified_subset(split.labels.numpy())
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = [
        (
            f"full test set ({len(split.labels):,} images)",
            _median_seconds(
                lambda: intervened_accuracy(
                    senet.model,
                    change,
                    split.images,
                    split.labels,
                    config=senet.config,
                    dataset=dataset,
                ),
                args.runs,
            ),
        ),
        (
            f"stratified subset ({SUBSET_SIZE:,} images, Wilson 95 % interval)",
            _median_seconds(
                lambda: subset_accuracy(
                    senet.model,
                    change,
                    split.images,
                    split.labels,
                    indices,
                    config=senet.config,
                    dataset=dataset,
                ),
                args.runs,
            ),
        ),
        (
            "saved result (evaluation + channel effects read from disk)",
            _median_seconds(
                lambda: (load_evaluation(directory), load_channel_effects(directory, senet.record)),
                args.runs,
            ),
        ),
    ]
    print(f"{'intervention accuracy, ' + args.dataset:<62} {'median s':>9}  runs (s)")
    for name, (median, times) in rows:
        print(f"{name:<62} {median:>9.2f}  {' '.join(f'{t:.2f}' for t in times)}")
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
