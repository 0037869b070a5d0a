"""How long the smallest dashboard run takes, from queueing to usable on every page.

    python -m bench.run_end [--runs 3] [--epochs 1] [--images 1000]

Queues a run of both models through the server's job registry (as the Training lab does)
into a temporary folder and prints, per run: queue -> first batch, -> last batch,
last batch -> usable (the run saved with its evaluation: every page can show it), and
last batch -> complete (the SE interventions added). Then loads the run the way the pages
do (records, evaluation, models) and times that too. Medians over runs at the end.
Runs on the app's torch thread count (`se_demo.config.SERVING_THREADS`) unless
``--threads`` says otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from se_demo.checkpoints import load_checkpoint
from se_demo.config import SERVING_THREADS, ModelConfig, TrainConfig
from se_demo.jobs import JobRegistry, new_owner_token
from se_demo.registry import MODEL_KINDS
from se_demo.results import load_evaluation
from se_demo.runs import RunRequest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=SERVING_THREADS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # one setting per process, as the app sets it
    rows = []
    with tempfile.TemporaryDirectory() as root:
        registry = JobRegistry(data_dir=args.data_dir, root=Path(root))
        header = "run  first batch  last batch  -> usable  -> complete  page load (s)"
        print(header)
        for run in range(args.runs):
            request = RunRequest(
                ("cnn", "senet"),
                ModelConfig(),
                TrainConfig(epochs=args.epochs, train_subset=args.images, seed=run),
            )
            job_id = registry.submit(request, new_owner_token())
            first = None
            while registry.job(job_id).state in ("queued", "running"):
                if first is None and registry.job(job_id).progress is not None:
                    first = time.time()
                time.sleep(0.01)
            registry.wait_until_idle(600)
            job = registry.job(job_id)
            if job.state != "finished" or job.run_dir is None:
                raise SystemExit(f"run failed: {job.message}")
            assert job.last_batch_at is not None
            assert job.usable_at is not None
            assert job.completed_at is not None
            start = time.perf_counter()
            load_evaluation(job.run_dir)
            for name in MODEL_KINDS:
                load_checkpoint(job.run_dir, name)
            load_s = time.perf_counter() - start
            row = (
                (first or job.queued_at) - job.queued_at,
                job.last_batch_at - job.queued_at,
                job.usable_at - job.last_batch_at,
                job.completed_at - job.last_batch_at,
                load_s,
            )
            rows.append(row)
            print(f"{run:>3}" + "".join(f"{v:>12.1f}" for v in row))
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print("med" + "".join(f"{v:>12.1f}" for v in medians))


if __name__ == "__main__":
    main()
