"""A Training-lab run end to end: queued in the class's store, trained by a worker process.

    python -m bench.run_end [--runs 3] [--model both] [--epochs 1] [--images 1000]

Starts ``python -m se_demo worker`` on a fresh SQLite store in a temporary folder (as the
app's embedded worker runs, with every core), queues the runs one after the other and
prints, per run: queue -> first batch, -> last batch, last batch -> usable (saved with its
evaluation: every page can show it), last batch -> complete (SE interventions added), the
worker's training images/s, and that speed as a share of the same model trained in this
process with `bench.train_speed`'s recipe on the same number of images, measured in the
same run (both on every core), and the run's SENet test accuracy. Medians at the end.

``--queued-at-once``: the first run trains alone (the lab then knows this machine's
speed, as in a class after its first run), then all the others are queued together and
each one's estimated start (what the Training lab shows at that moment) is printed
beside its real start.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from se_demo.classroom.queue import ClassQueue, LabLimits, LabRun, RunState
from se_demo.classroom.store import DB_ENV_VAR, open_store
from se_demo.core.config import (
    DATA_ENV_VAR,
    PROJECT_ROOT,
    RUNS_ENV_VAR,
    ModelConfig,
    RunRequest,
    TrainConfig,
    resolve_data_dir,
)
from se_demo.core.data import load_split
from se_demo.core.registry import MODEL_KINDS, DatasetName, model_kind
from se_demo.training.train import train_model

KEY = "bench"


def in_process_speed(model: str, images: int, data_dir: str | None) -> float:
    """Training images/s of ``model`` trained here on ``images`` images, every core."""
    torch.set_num_threads(os.cpu_count() or 1)
    train = load_split(True, data_dir, dataset=DatasetName.MNIST)
    recipe = TrainConfig(epochs=1, train_subset=images, seed=0)
    return float(
        train_model(ModelConfig(name=model_kind(model)), recipe, train).history[0][
            "images_per_second"
        ]
    )


def _wait(queue: ClassQueue, run_id: str, timeout_s: float = 1_800) -> tuple[LabRun, float | None]:
    first, deadline = None, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = queue.run(run_id)
        if first is None and run.progress is not None:
            first = time.time()
        if run.completed_at is not None:
            return run, first
        time.sleep(0.02)
    raise SystemExit(f"run {run_id} did not end in {timeout_s:.0f} s")


def _senet_accuracy(run: LabRun, root: Path) -> str:
    path = run.path(root)
    if path is None or "senet" not in run.request.models:
        return "-"
    record = json.loads((path / "evaluation.json").read_text())
    return f"SENet {100 * record['models']['senet']['metrics']['accuracy']:.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", choices=(*MODEL_KINDS, "both"), default="both")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--queued-at-once", action="store_true")
    args = parser.parse_args()
    models = MODEL_KINDS if args.model == "both" else (args.model,)
    reference = {m: in_process_speed(m, args.images * args.epochs, args.data_dir) for m in models}
    print("in this process:", ", ".join(f"{m} {s:,.0f} images/s" for m, s in reference.items()))
    with tempfile.TemporaryDirectory() as root:
        url = f"sqlite:///{Path(root) / 'class.db'}"
        store = open_store(url)
        queue = ClassQueue(store, lecturer_key=KEY)
        queue.set_limits(LabLimits(max_active_runs=100, max_images_per_run=10**9), KEY)
        env = {**os.environ, DB_ENV_VAR: url, RUNS_ENV_VAR: root,
               DATA_ENV_VAR: str(resolve_data_dir(args.data_dir).resolve())}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "se_demo", "worker"], cwd=PROJECT_ROOT,
                                  env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        rows = []
        requests = [
            RunRequest(
                models,
                ModelConfig(),
                TrainConfig(epochs=args.epochs, train_subset=args.images, seed=seed),
            )
            for seed in range(args.runs)
        ]
        queued = (
            [queue.submit(r, "bench", key=KEY) for r in requests] if args.queued_at_once else []
        )
        estimates = queue.waits(queue.runs()) if queued else {}
        print(
            "run  first batch  last batch  -> usable  -> complete   images/s  of in-process  accuracy"
        )
        try:
            for seed, request in enumerate(requests):
                if args.queued_at_once and seed == 1:
                    queued = [queue.submit(r, "bench", key=KEY) for r in requests[1:]]
                    estimates = queue.waits(queue.runs())
                if queued and seed >= 1:
                    run_id = queued[seed - 1]
                else:
                    run_id = queue.submit(request, "bench", key=KEY)
                run, first = _wait(queue, run_id)
                if run.state != RunState.FINISHED:
                    raise SystemExit(f"run failed: {run.message}")
                assert run.last_batch_at is not None
                assert run.usable_at is not None
                assert run.completed_at is not None
                speed = run.images_per_second or 0.0
                share = speed / statistics.mean(reference.values())
                row = (
                    (first or run.queued_at) - run.queued_at,
                    run.last_batch_at - run.queued_at,
                    run.usable_at - run.last_batch_at,
                    run.completed_at - run.last_batch_at,
                )
                rows.append((*row, speed, share))
                accuracy = _senet_accuracy(run, Path(root))
                print(f"{seed:>3}" + "".join(f"{v:>12.1f}" for v in row)
                      + f"{speed:>11,.0f}{share:>14.0%}  {accuracy}")  # fmt: skip
                if run_id in estimates and run.started_at is not None:
                    real = run.started_at - run.queued_at
                    print(f"     estimated start {estimates[run_id][1]:.0f} s, real {real:.0f} s")
        finally:
            worker.terminate()
            worker.wait()
            store.dispose()
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print("med" + "".join(f"{v:>12.1f}" for v in medians[:4])
          + f"{medians[4]:>11,.0f}{medians[5]:>14.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
