"""Workers: processes that take runs from the class's queue and train them.

``python -m se_demo worker`` runs one, on any machine that reaches the store and the runs
folder; ``--once`` trains one queued run, if any, and exits. A worker trains in its own
process with torch's threads on every core, so the web server keeps answering drawings.
With ``--backend ray`` it hands each claimed run to a Ray cluster instead, so a course on
many machines trains many runs at once.

The dashboard starts one *embedded* worker for itself (`start_embedded_worker`). Replicas
on one machine share one: each embedded worker waits for a lock file on this machine
before it takes runs (two trainings on two cores help nobody), and a waiting one takes
over when the first stops. An embedded worker exits with the server that started it and
marks the run it was training as interrupted.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from se_demo.classroom.queue import (
    HEARTBEAT_S,
    ClassQueue,
    LabRun,
    RunState,
    cancelled_message,
)
from se_demo.classroom.store import DB_ENV_VAR, StoreError, open_store
from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT, RUNS_ENV_VAR, runs_root

WORKER_ENV_VAR = "SE_DEMO_WORKER"  # "embedded" (default): the app starts one; "none": not
POLL_S = 1.0  # how often an idle worker looks for queued runs
STORE_RETRY_S = 5.0  # how long a worker waits before it asks an unreachable store again
REAP_EVERY_BEATS = 5  # a training worker looks for other workers' dead runs every 5 s
PROGRESS_EVERY_S = 0.5  # how often training progress is written to the store
MAX_CURVE_POINTS = 200  # per model: every step for short runs, thinned for long ones
EMBEDDED_NICENESS = 5  # the embedded worker yields the cores to the server's answers


def worker_id() -> str:
    """This process's name in the store: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class _Reporter:
    """Turns the training loop's per-step progress into throttled writes to the store."""

    def __init__(self, queue: ClassQueue, run: LabRun, worker: str) -> None:
        self.queue, self.run, self.worker = queue, run, worker
        self.curve: list[dict[str, Any]] = []
        self._written = 0.0
        self.images_per_second: list[float] = []

    def __call__(self, name: str, progress: Any) -> None:
        request = self.run.request
        steps = request.train_config.epochs * progress.steps_per_epoch
        step = (progress.epoch - 1) * progress.steps_per_epoch + progress.step
        every = max(1, steps // MAX_CURVE_POINTS)
        logged = step % every == 0 or step == 1 or progress.step == progress.steps_per_epoch
        if logged:
            self.curve.append(
                {"model": name, "step": step, "epoch": progress.epoch,
                 "loss": progress.loss, "accuracy": progress.accuracy}
            )  # fmt: skip
        last = name == request.models[-1] and step == steps
        if step == steps:
            self.images_per_second.append(progress.images_per_second)
        now = time.monotonic()
        if not (last or step == 1 or now - self._written >= PROGRESS_EVERY_S):
            return
        self._written = now
        news: dict[str, Any] = {"model": name, "progress": asdict(progress), "curve": self.curve}
        if last:
            news |= {
                "last_batch_at": time.time(),
                "message": "evaluating both models on the test set and saving",
            }
        try:
            self.queue.report(self.run.id, self.worker, **news)
        except StoreError:  # progress is news, not state: the next write catches up
            self._written = 0.0


class _Heartbeat(threading.Thread):
    """Tells the store every second that the run's worker lives; sets ``stop`` when the
    run is cancelled or given up."""

    def __init__(self, queue: ClassQueue, run_id: str, worker: str) -> None:
        super().__init__(name="se-demo-heartbeat", daemon=True)
        self.queue, self.run_id, self.worker = queue, run_id, worker
        self.stop = threading.Event()  # the training loop should stop
        self.stopped_by: str | None = None
        self._done = threading.Event()

    def run(self) -> None:
        beats = 0
        while not self._done.wait(HEARTBEAT_S):
            beats += 1
            try:
                who = self.queue.heartbeat(self.run_id, self.worker)
                if beats % REAP_EVERY_BEATS == 0:  # a busy worker also marks dead ones' runs
                    self.queue.reap_stale()
            except StoreError:  # a blip of the database: try again next second
                continue
            if who:
                self.stopped_by = who
                self.stop.set()

    def finish(self) -> None:
        """End the heartbeats (the run is over)."""
        self._done.set()
        self.join()


def train_claimed(
    queue: ClassQueue,
    run: LabRun,
    worker: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    root: Path | None = None,
) -> RunState:
    """Train a run this worker claimed, save it and record every step in the store."""
    from se_demo.training.runs import (  # torch: only when training
        RunStopped,
        complete_run,
        train_run,
    )

    root = root or runs_root()
    beat = _Heartbeat(queue, run.id, worker)
    beat.start()
    reporter = _Reporter(queue, run, worker)
    try:
        trained = train_run(
            run.request, reporter, beat.stop.is_set, data_dir=data_dir, root=root, run_id=run.id
        )
        speeds = reporter.images_per_second or [0.0]
        relative = trained.path.relative_to(root).as_posix()
        queue.mark_usable(run.id, worker, relative, sum(speeds) / len(speeds))
        complete_run(trained)
        queue.mark_ended(run.id, worker, RunState.FINISHED, "")
        return RunState.FINISHED
    except RunStopped:
        queue.mark_ended(run.id, worker, RunState.CANCELLED, cancelled_message(beat.stopped_by))
        return RunState.CANCELLED
    except Exception as error:  # shown in the lab; the worker goes on with the next run
        queue.mark_ended(run.id, worker, RunState.FAILED, f"{type(error).__name__}: {error}")
        return RunState.FAILED
    finally:
        beat.finish()


def work(
    queue: ClassQueue,
    *,
    once: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    root: Path | None = None,
    threads: int | None = None,
    should_exit: Callable[[], bool] = lambda: False,
) -> int:
    """Train queued runs one after the other in this process; returns how many it took.

    ``once``: at most one run, and return at once when none is queued.
    """
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    me, taken = worker_id(), 0
    while not should_exit():
        try:
            run = queue.claim(me)
        except StoreError:  # the database is away: wait for it, as the pages do
            time.sleep(STORE_RETRY_S)
            continue
        if run is None:
            if once:
                return taken
            time.sleep(POLL_S)
            continue
        taken += 1
        # Losing the store while ending the run stops its heartbeats: the next worker or
        # page that looks marks it.
        with contextlib.suppress(StoreError):
            train_claimed(queue, run, me, data_dir=data_dir, root=root)
        if once:
            return taken
    return taken


def work_on_ray(
    queue: ClassQueue,
    url: str,
    *,
    address: str | None = None,
    slots: int = 2,
    once: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
    root: Path | None = None,
) -> int:
    """Hand queued runs to a Ray cluster, ``slots`` at a time; returns how many it took.

    Each Ray task opens the store itself, heartbeats and records its progress like a
    local worker; the runs' folders must be on a volume every Ray node mounts at ``root``.
    """
    from se_demo.training.backends import import_ray

    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_train_on_ray)
    in_flight: dict[Any, str] = {}
    taken, me = 0, worker_id()
    while True:
        while len(in_flight) < slots and not (once and taken):
            run = queue.claim(me)
            if run is None:
                break
            taken += 1
            args = (url, run.id, me, str(data_dir) if data_dir else None, str(root or runs_root()))
            in_flight[remote.remote(*args)] = run.id
        if not in_flight:
            if once:
                return taken
            time.sleep(POLL_S)
            continue
        done, _ = ray.wait(list(in_flight), timeout=POLL_S)
        for ref in done:
            ray.get(ref)
            del in_flight[ref]
        if once and taken and not in_flight:
            return taken


def _train_on_ray(url: str, run_id: str, worker: str, data_dir: str | None, root: str) -> str:
    import torch

    torch.set_num_threads(1)  # the task's one CPU: Ray runs ``slots`` of them side by side
    store = open_store(url)
    try:
        queue = ClassQueue(store)
        state = train_claimed(queue, queue.run(run_id), worker, data_dir=data_dir, root=Path(root))
        return str(state)
    finally:
        store.dispose()


# --- the embedded worker --------------------------------------------------------------


def machine_lock_path(url: str) -> Path:
    """The lock file that lets one embedded worker per machine and store train."""
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"se-demo-worker-{digest}.lock"


def hold_machine_lock(url: str, should_exit: Callable[[], bool]) -> IO[bytes] | None:
    """Wait until this process holds the machine's worker lock; None if told to exit first."""
    handle = open(machine_lock_path(url), "ab")  # noqa: SIM115 (held for the process's life)
    while not should_exit():
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            time.sleep(POLL_S)
    handle.close()
    return None


def start_embedded_worker(
    url: str, *, data_dir: Path, root: Path, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``python -m se_demo worker --embedded`` for this server process."""
    environment = {
        **os.environ,
        DB_ENV_VAR: url,
        RUNS_ENV_VAR: str(root),
        DATA_ENV_VAR: str(data_dir),
    }
    command = [
        sys.executable,
        "-m",
        "se_demo",
        "worker",
        "--embedded",
        "--parent",
        str(os.getpid()),
    ]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=environment, stdout=log, stderr=log, stdin=subprocess.DEVNULL
    )


def embedded_worker_wanted() -> bool:
    """Whether the app starts its own worker (``$SE_DEMO_WORKER`` is not ``none``)."""
    return os.environ.get(WORKER_ENV_VAR, "embedded").lower() != "none"
