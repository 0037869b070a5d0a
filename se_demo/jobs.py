"""A server's training queue: any session queues runs, one trains at a time, first in first out.

Two cores cannot train two models usefully, so one worker thread takes the queued runs in
order. The registry outlives the sessions that use it (the dashboard keeps one per server
in ``st.cache_resource``): a run goes on when its tab closes. Each run carries the short
owner token of the session that queued it; only that token can cancel it, everyone can
watch it. Estimated start times come from the training speed of earlier runs.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from se_demo.registry import MODEL_TITLES
from se_demo.runs import RunRequest, RunStopped, TrainedRun, complete_run, train_run
from se_demo.train import TrainProgress

# python -m bench.train_speed measured ~1,080 training images/s on this machine
# (2 cores, 2026-12-01); the first finished run replaces it with its own speed.
DEFAULT_IMAGES_PER_S = 1_000.0
DEFAULT_OVERHEAD_S = 30.0  # loading data, evaluating, saving, interventions: per run
MAX_CURVE_POINTS = 200  # per model: every step for short runs, thinned for long ones


class JobState(StrEnum):
    """Where a training run is: queued -> running -> finished, cancelled or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


ACTIVE = (JobState.QUEUED, JobState.RUNNING)


def new_owner_token() -> str:
    """A short random token that marks a session's runs as its own."""
    return secrets.token_hex(4)


@dataclass
class Job:
    """One queued, running or ended run; `JobRegistry` hands out copies."""

    id: str
    owner: str
    request: RunRequest
    state: JobState = JobState.QUEUED
    model: str | None = None  # the model training now
    progress: TrainProgress | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)  # one point per logged step
    message: str = ""
    run_dir: Path | None = None
    queued_at: float = 0.0  # time.time() of each event
    started_at: float | None = None
    last_batch_at: float | None = None
    usable_at: float | None = None  # run saved: every page can show it
    completed_at: float | None = None  # the worker is done with it (interventions added)

    @property
    def images_done(self) -> int:
        """Training images processed so far, over all the run's models."""
        if self.progress is None or self.model is None:
            return 0
        p, config = self.progress, self.request.train_config
        per_epoch = config.train_subset or 60_000
        done_models = self.request.models.index(self.model)
        in_model = (p.epoch - 1) * per_epoch + min(p.step * config.batch_size, per_epoch)
        return done_models * config.epochs * per_epoch + in_model


class JobRegistry:
    """The queue of one server: submit, cancel, look; a daemon thread does the training."""

    def __init__(
        self,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        root: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.data_dir = data_dir
        self.root = root
        self._clock = clock
        self._jobs: dict[str, Job] = {}  # insertion order is queue order
        self._stops: dict[str, threading.Event] = {}
        self._speeds: list[float] = []  # images/s of earlier runs
        self._overheads: list[float] = []  # s of a run's wall time not spent on training steps
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None  # alive while runs are queued

    def submit(self, request: RunRequest, owner: str) -> str:
        """Queue a run for ``owner``; returns its id."""
        with self._wake:
            job_id = f"run-{len(self._jobs) + 1}-{secrets.token_hex(2)}"
            self._jobs[job_id] = Job(job_id, owner, request, queued_at=self._clock())
            self._stops[job_id] = threading.Event()
            if self._worker is None:  # the worker ends when the queue is empty: no thread
                # (and none of torch's thread state) outlives the runs at interpreter exit
                self._worker = threading.Thread(
                    target=self._work, name="se-demo-training", daemon=True
                )
                self._worker.start()
        return job_id

    def cancel(self, job_id: str, owner: str) -> None:
        """Cancel a queued or running run; only its owner may. Raises PermissionError."""
        with self._lock:
            job = self._jobs[job_id]
            if job.owner != owner:
                raise PermissionError("only the session that queued a run can cancel it")
            if job.state == JobState.QUEUED:
                job.state, job.message = JobState.CANCELLED, "cancelled before it started"
                job.completed_at = self._clock()
            self._stops[job_id].set()

    def job(self, job_id: str) -> Job:
        """A copy of one run's record (KeyError if unknown)."""
        with self._lock:
            return _copy(self._jobs[job_id])

    def jobs(self) -> list[Job]:
        """Copies of every run this server knows, in the order they were queued."""
        with self._lock:
            return [_copy(job) for job in self._jobs.values()]

    def images_per_second(self) -> float:
        """Training speed for estimates: the median of earlier runs, else the default."""
        with self._lock:
            return statistics.median(self._speeds) if self._speeds else DEFAULT_IMAGES_PER_S

    def speed_basis(self) -> str:
        """Where `images_per_second` comes from, for the page."""
        with self._lock:
            runs = len(self._speeds)
        if runs:
            return f"the median of {runs} earlier {'run' if runs == 1 else 'runs'} on this server"
        return "python -m bench.train_speed on this machine, until a run here measures it"

    def waits(self) -> dict[str, tuple[int, float]]:
        """For each queued run: (position, 1 = next; estimated seconds until it starts)."""
        speed = self.images_per_second()
        with self._lock:
            end_s = statistics.median(self._overheads) if self._overheads else DEFAULT_OVERHEAD_S
            ahead, result = 0.0, dict[str, tuple[int, float]]()
            for job in self._jobs.values():
                if job.state == JobState.RUNNING:
                    ahead += (job.request.images - job.images_done) / speed + end_s
                elif job.state == JobState.QUEUED:
                    result[job.id] = (len(result) + 1, ahead)
                    ahead += job.request.images / speed + end_s
            return result

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until no run is queued or running (for tests and scripts); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while any(job.completed_at is None for job in self._jobs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(min(left, 0.5))
        return True

    def _work(self) -> None:
        while True:
            with self._wake:
                job = next((j for j in self._jobs.values() if j.state == JobState.QUEUED), None)
                if job is None:
                    self._worker = None
                    return
                job.state, job.started_at = JobState.RUNNING, self._clock()
            self._run(job)
            with self._wake:
                self._wake.notify_all()

    def _run(self, job: Job) -> None:
        stop = self._stops[job.id]
        try:
            trained = train_run(
                job.request,
                lambda name, p: self._on_progress(job, name, p),
                stop.is_set,
                data_dir=self.data_dir,
                root=self.root,
            )
            self._on_saved(job, trained)
            complete_run(trained)
        except RunStopped:
            with self._lock:
                job.state, job.message = (
                    JobState.CANCELLED,
                    "cancelled by its owner; nothing was saved",
                )
        except Exception as error:  # shown in the page; the worker must go on
            with self._lock:
                if job.state == JobState.RUNNING:
                    job.state = JobState.FAILED
                job.message = f"{type(error).__name__}: {error}"
        finally:
            with self._lock:
                job.completed_at = self._clock()
                self._measure(job)

    def _measure(self, job: Job) -> None:
        """Keep a finished run's training speed and overhead for later estimates."""
        if job.state != JobState.FINISHED or job.progress is None or job.started_at is None:
            return
        speed = job.progress.images_per_second
        self._speeds.append(speed)
        wall = (job.completed_at or job.started_at) - job.started_at
        self._overheads.append(max(0.0, wall - job.request.images / speed))

    def _on_progress(self, job: Job, name: str, progress: TrainProgress) -> None:
        with self._lock:
            job.model, job.progress = name, progress
            steps = job.request.train_config.epochs * progress.steps_per_epoch
            step = (progress.epoch - 1) * progress.steps_per_epoch + progress.step
            every = max(1, steps // MAX_CURVE_POINTS)
            if step % every == 0 or step == 1 or progress.step == progress.steps_per_epoch:
                job.curve.append(
                    {"model": name, "step": step, "epoch": progress.epoch,
                     "loss": progress.loss, "accuracy": progress.accuracy}
                )  # fmt: skip
            if name == job.request.models[-1] and step == steps:
                job.last_batch_at = self._clock()
                job.message = "evaluating both models on the test set and saving"

    def _on_saved(self, job: Job, trained: TrainedRun) -> None:
        with self._lock:
            job.state, job.run_dir, job.usable_at = JobState.FINISHED, trained.path, self._clock()
            job.message = f"saved as {trained.path.name}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    return f"{seconds / 60:.0f} min"


def describe_wait(position: int, seconds: float, now: float) -> str:
    """'Your run is number 2 in the queue: it should start in about 40 s (around 02:31:05 UTC).'"""
    start = dt.datetime.fromtimestamp(now + seconds, dt.UTC).strftime("%H:%M:%S UTC")
    return (
        f"Your run is number {position} in the queue: it should start in about "
        f"{_duration(seconds)} (around {start})."
    )


def queue_rows(jobs: list[Job], waits: dict[str, tuple[int, float]], owner: str) -> list[dict]:
    """The queue as table rows: runs still queued or running, in order."""
    rows = []
    for job in jobs:
        if job.state not in ACTIVE:
            continue
        config = job.request.train_config
        position, seconds = waits.get(job.id, (0, 0.0))
        rows.append(
            {
                "place": "training" if job.state == JobState.RUNNING else f"{position} in queue",
                "queued by": "you" if job.owner == owner else "another session",
                "models": " + ".join(MODEL_TITLES[m] for m in job.request.models),
                "recipe": f"{config.epochs} epochs x {config.train_subset or 60_000:,} images",
                "starts in": "now" if job.state == JobState.RUNNING else f"~{_duration(seconds)}",
            }
        )
    return rows


def _copy(job: Job) -> Job:
    return replace(job, curve=list(job.curve))
