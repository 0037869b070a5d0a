"""Training runs started from the dashboard: a background thread, live progress, stop, save.

A finished run is a folder ``runs/<dataset>/<run id>/`` laid out like ``checkpoints/<dataset>/``
(both models and their saved evaluation), so every page can show it. A model the run
did not train is copied from the shipped checkpoints. The folder is written under a
temporary name and renamed when complete: a crash leaves no half-written run. Shipped
checkpoints are only ever read.

Only one run trains at a time per server (two cores cannot train two models usefully);
a second start raises `TrainingBusyError`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from se_demo.checkpoints import CheckpointError, load_checkpoint, read_record, save_checkpoint
from se_demo.config import CHECKPOINT_DIR, MODEL_NAMES, RUNS_DIR, ModelConfig, TrainConfig
from se_demo.data import load_split
from se_demo.evaluate import evaluate_models, save_evaluation
from se_demo.train import TrainProgress, train_model, training_record

RUNS_ENV_VAR = "SE_DEMO_RUNS"
_TRAINING_SLOT = threading.Lock()  # one training run per server process


class TrainingBusyError(RuntimeError):
    """Another training run is in progress on this server."""


def runs_root() -> Path:
    """Where dashboard runs are saved: ``$SE_DEMO_RUNS``, else ``runs/`` in the project."""
    return Path(os.environ.get(RUNS_ENV_VAR) or RUNS_DIR)


@dataclass
class JobStatus:
    """A snapshot of a training job, safe to read from another thread."""

    state: str  # "running", "finished", "stopped" or "failed"
    model: str | None = None  # the model training now
    progress: TrainProgress | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)  # one point per logged step
    message: str = ""
    run_dir: Path | None = None


class TrainingJob:
    """Train one or both models in a background thread and save them as a run."""

    def __init__(
        self,
        models: tuple[str, ...],
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        root: Path | None = None,
        log_every: int = 10,
    ) -> None:
        unknown = set(models) - set(MODEL_NAMES)
        if not models or unknown:
            raise ValueError(f"models must be some of {MODEL_NAMES}, got {models}")
        self.models = models
        self.model_config = model_config
        self.train_config = train_config
        self.data_dir = data_dir
        self.root = root or runs_root()
        self.log_every = log_every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = JobStatus(state="running")
        self._thread = threading.Thread(target=self._run, name="se-demo-training", daemon=True)

    def start(self) -> None:
        """Start training; raises TrainingBusyError if another run is training."""
        if not _TRAINING_SLOT.acquire(blocking=False):
            raise TrainingBusyError(
                "another training run is in progress on this server; wait until it ends"
            )
        self._thread.start()

    def stop(self) -> None:
        """Ask the run to stop after the current step; nothing is saved."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    def status(self) -> JobStatus:
        """A copy of the current status."""
        with self._lock:
            return replace(self._status, curve=list(self._status.curve))

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _on_progress(self, name: str, progress: TrainProgress) -> None:
        with self._lock:
            self._status.progress = progress
            self._status.model = name
            last = progress.step == progress.steps_per_epoch
            if progress.step % self.log_every == 0 or last:
                self._status.curve.append(
                    {
                        "model": name,
                        "epoch": progress.epoch,
                        "step": (progress.epoch - 1) * progress.steps_per_epoch + progress.step,
                        "loss": progress.loss,
                        "accuracy": progress.accuracy,
                        "test_accuracy": progress.test_accuracy,
                    }
                )

    def _run(self) -> None:
        try:
            self._train_and_save()
        except Exception as error:  # shown in the page; the thread must not die silently
            self._update(state="failed", message=f"{type(error).__name__}: {error}")
        finally:
            _TRAINING_SLOT.release()

    def _train_and_save(self) -> None:
        dataset = self.train_config.dataset
        train_split = load_split(True, self.data_dir, dataset=dataset)
        test_split = load_split(False, self.data_dir, dataset=dataset)
        trained = {}
        for name in self.models:
            config = replace(self.model_config, name=name)
            result = train_model(
                config,
                self.train_config,
                train_split,
                test_split,
                progress=partial(self._on_progress, name),
                should_stop=self._stop.is_set,
            )
            if result.stopped:
                self._update(state="stopped", message="stopped; nothing was saved")
                return
            record = training_record(
                config, self.train_config, result, train_split, test_split, command="dashboard"
            )
            trained[name] = (result.model, record)
        self._update(message="evaluating and saving")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{'-'.join(self.models)}-seed{self.train_config.seed}"
        final = self.root / dataset / run_id
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=final.parent))
        try:
            models = {}
            for name in MODEL_NAMES:
                if name in trained:
                    model, record = trained[name]
                    save_checkpoint(model, record, staging, name)
                else:  # keep the pair complete: the shipped model, copied byte for byte
                    shipped = CHECKPOINT_DIR / dataset
                    _, record = load_checkpoint(shipped, name)
                    for file in (f"{name}.json", record["weights_file"]):
                        shutil.copy2(shipped / file, staging / file)
                models[name] = load_checkpoint(staging, name)[0]
            save_evaluation(evaluate_models(models, test_split, dataset), staging)
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._update(state="finished", message=f"saved as {run_id}", run_dir=final)


@dataclass(frozen=True)
class RunInfo:
    """A finished run on disk, for listing and selection."""

    path: Path
    name: str
    dataset: str
    trained: tuple[str, ...]  # models this run trained (the others are the shipped ones)
    accuracy: dict[str, float]  # test accuracy per model
    train: dict[str, Any]  # the recipe
    model: dict[str, Any]  # the SE settings


def list_runs(dataset: str, root: Path | None = None) -> list[RunInfo]:
    """Finished runs for a dataset, newest first, from their JSON records alone.

    Folders without readable records are skipped; weights are checked when a run is loaded.
    """
    folder = (root or runs_root()) / dataset
    runs = []
    for path in sorted(folder.glob("[!.]*"), reverse=True):
        try:
            evaluation = read_record(path, "evaluation")
            records = {name: read_record(path, name) for name in MODEL_NAMES}
        except (OSError, CheckpointError):
            continue
        trained = tuple(n for n in MODEL_NAMES if records[n].get("command") == "dashboard")
        reference = records[trained[0]] if trained else records["senet"]
        runs.append(
            RunInfo(
                path=path,
                name=path.name,
                dataset=dataset,
                trained=trained,
                accuracy={n: evaluation["models"][n]["metrics"]["accuracy"] for n in MODEL_NAMES},
                train=reference["train"],
                model=reference["model"],
            )
        )
    return runs
