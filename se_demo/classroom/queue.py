"""The Training lab's queue, in the class's store: one queue for every replica and worker.

A run goes queued -> running -> finished, cancelled or failed, first in first out. A worker
claims the oldest queued run atomically (one UPDATE of one row; on PostgreSQL its row is
picked ``FOR UPDATE SKIP LOCKED``), so exactly one worker trains it. While training, the
worker's heartbeat updates the row every second; a run whose heartbeat is older than
`STALE_AFTER_S` is marked failed by the next worker or page that looks, so a dead worker
never leaves a run "running" for ever.

Each run carries the anonymous token of the session that queued it; only that token, or
the lecturer's key, cancels it. The lecturer's key also pauses the lab, sets the
per-student limits and clears the class's ended runs; without it those calls raise
`PermissionError`.
"""

from __future__ import annotations

import hmac
import os
import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row

from se_demo.classroom.store import Store, lab_runs, lab_settings
from se_demo.core.config import RunRequest, runs_root

LECTURER_KEY_ENV_VAR = "SE_DEMO_LECTURER_KEY"
HEARTBEAT_S = 1.0  # a training worker's sign of life
STALE_AFTER_S = 15.0  # no heartbeat for this long: the worker is gone (the bound is 30 s)
# bench.train_speed measured ~2,600 SENet training images/s on this machine's 2 threads
# (2026-12-06); the first finished run replaces it with its own speed.
DEFAULT_IMAGES_PER_S = 2_000.0
DEFAULT_OVERHEAD_S = 30.0  # loading data, evaluating, saving, interventions: per run
SPEED_SAMPLES = 20  # estimates use the median of the last 20 finished runs


class RunState(StrEnum):
    """Where a lab run is: queued -> running -> finished, cancelled or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"


ACTIVE = (RunState.QUEUED, RunState.RUNNING)


class LabLimitError(ValueError):
    """A student's run was refused (a limit, or the lab is paused); nothing was queued."""


def new_owner_token() -> str:
    """A random token that marks a session's runs as its own (never shown in full)."""
    return secrets.token_hex(8)


def lecturer_key_from_env() -> str | None:
    """The lecturer's key from ``$SE_DEMO_LECTURER_KEY`` (None when unset or empty)."""
    return os.environ.get(LECTURER_KEY_ENV_VAR) or None


@dataclass(frozen=True)
class LabLimits:
    """What the lecturer lets each student do (one row in the store)."""

    paused: bool = False  # no run starts and no student queues while paused
    max_active_runs: int = 1  # queued or running at once, per student
    max_images_per_run: int = 120_000  # epochs x training images, per model

    def __post_init__(self) -> None:
        if self.max_active_runs < 1 or self.max_images_per_run < 1:
            raise ValueError("limits must be at least 1")


@dataclass(frozen=True)
class LabRun:
    """One run's row: a copy, never updated in place."""

    id: str
    seq: int
    owner: str
    state: RunState
    request: RunRequest
    images: int
    queued_at: float
    message: str = ""
    started_at: float | None = None
    heartbeat_at: float | None = None
    last_batch_at: float | None = None
    usable_at: float | None = None
    completed_at: float | None = None
    worker: str | None = None
    cancel_requested: str | None = None
    model: str | None = None
    progress: dict[str, Any] | None = None
    curve: list[dict[str, Any]] = field(default_factory=list)
    run_dir: str | None = None  # relative to the runs root
    images_per_second: float | None = None
    overhead_s: float | None = None

    @property
    def images_done(self) -> int:
        """Training images processed so far, over all the run's models."""
        if self.progress is None or self.model is None:
            return 0
        p, config = self.progress, self.request.train_config
        per_epoch = self.request.images_per_model // config.epochs
        done_models = self.request.models.index(self.model)
        in_model = (p["epoch"] - 1) * per_epoch + min(p["step"] * config.batch_size, per_epoch)
        return done_models * self.request.images_per_model + in_model

    def path(self, root: Path | None = None) -> Path | None:
        """The run's folder under this machine's runs root (None until it is saved)."""
        return None if self.run_dir is None else (root or runs_root()) / self.run_dir


def _run_from_row(row: Row[Any]) -> LabRun:
    values = row._asdict()
    values["state"] = RunState(values["state"])
    values["request"] = RunRequest.from_dict(values["request"])
    values["curve"] = values["curve"] or []
    return LabRun(**{f.name: values[f.name] for f in fields(LabRun)})


class ClassQueue:
    """The lab's queue on a store; what students, the lecturer and workers call."""

    def __init__(
        self,
        store: Store,
        *,
        lecturer_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._lecturer_key = lecturer_key
        self._clock = clock

    # --- the lecturer ---------------------------------------------------------------
    def has_lecturer_key(self) -> bool:
        """Whether a lecturer's key is set for this class (else nobody has the controls)."""
        return bool(self._lecturer_key)

    def is_lecturer(self, key: str | None) -> bool:
        """Whether ``key`` is the lecturer's key (compared in constant time)."""
        if not key or not self._lecturer_key:
            return False
        return hmac.compare_digest(key.encode(), self._lecturer_key.encode())

    def require_lecturer(self, key: str | None) -> None:
        """Raise PermissionError unless ``key`` is the lecturer's key."""
        if not self.is_lecturer(key):
            raise PermissionError("only the lecturer (with the lecturer's key) can do that")

    def set_limits(self, limits: LabLimits, key: str | None) -> None:
        """Pause or resume the lab and set the per-student limits (lecturer only)."""
        self.require_lecturer(key)
        with self.store.write(serial=True) as connection:
            connection.execute(
                update(lab_settings).where(lab_settings.c.id == 1).values(**vars(limits))
            )

    def clear_ended(self, key: str | None, root: Path | None = None) -> int:
        """Delete every ended run and its saved folder (lecturer only); returns how many.

        Queued and running runs stay (cancel them first).
        """
        self.require_lecturer(key)
        ended = lab_runs.c.state.not_in(ACTIVE) & lab_runs.c.completed_at.is_not(None)
        with self.store.write(serial=True) as connection:
            dirs = connection.execute(select(lab_runs.c.run_dir).where(ended)).scalars().all()
            count = connection.execute(delete(lab_runs).where(ended)).rowcount
        for run_dir in filter(None, dirs):
            shutil.rmtree((root or runs_root()) / run_dir, ignore_errors=True)
        return count

    # --- students ---------------------------------------------------------------------
    def limits(self) -> LabLimits:
        """The lab's current limits and whether it is paused."""
        with self.store.read() as connection:
            row = connection.execute(select(lab_settings).where(lab_settings.c.id == 1)).one()
        return LabLimits(
            paused=bool(row.paused),
            max_active_runs=int(row.max_active_runs),
            max_images_per_run=int(row.max_images_per_run),
        )

    def submit(self, request: RunRequest, owner: str, *, key: str | None = None) -> str:
        """Queue a run for ``owner``; returns its id.

        Raises `LabLimitError` (nothing queued) when the lab is paused or the run is over a
        limit; the lecturer's ``key`` is under no limit.
        """
        lecturer = self.is_lecturer(key)
        run_id = secrets.token_hex(4)
        with self.store.write(serial=True) as connection:
            if not lecturer:
                self._check_limits(connection, request, owner)
            connection.execute(
                insert(lab_runs).values(
                    id=run_id,
                    owner=owner,
                    state=RunState.QUEUED,
                    request=request.to_dict(),
                    images=request.images,
                    queued_at=self._clock(),
                    message="",
                    curve=[],
                )
            )
        return run_id

    def _check_limits(self, connection: Any, request: RunRequest, owner: str) -> None:
        row = connection.execute(select(lab_settings).where(lab_settings.c.id == 1)).one()
        if row.paused:
            raise LabLimitError(
                "The lecturer has paused the lab: no new runs for now. Nothing was queued."
            )
        if request.images_per_model > row.max_images_per_run:
            raise LabLimitError(
                f"This run asks for {request.images_per_model:,} training images per model "
                f"(epochs x images); the lab allows {row.max_images_per_run:,}. Choose fewer "
                "epochs or images. Nothing was queued."
            )
        active = connection.execute(
            select(func.count())
            .select_from(lab_runs)
            .where(lab_runs.c.owner == owner, lab_runs.c.state.in_(ACTIVE))
        ).scalar_one()
        if active >= row.max_active_runs:
            runs = "run" if row.max_active_runs == 1 else "runs"
            raise LabLimitError(
                f"You already have {active} {'run' if active == 1 else 'runs'} queued or "
                f"training; the lab allows {row.max_active_runs} {runs} per student at a time. "
                "Wait for it to finish or cancel it. Nothing was queued."
            )

    def cancel(self, run_id: str, owner: str | None, *, key: str | None = None) -> None:
        """Cancel a queued or running run: its owner, or the lecturer with the key.

        A queued run never starts; a running one stops after its current step and saves
        nothing. Raises KeyError for an unknown run, PermissionError for anyone else.
        """
        who = "lecturer" if self.is_lecturer(key) else "owner"
        with self.store.write() as connection:
            row = connection.execute(
                select(lab_runs.c.owner).where(lab_runs.c.id == run_id)
            ).first()
            if row is None:
                raise KeyError(run_id)
            if who == "owner" and (owner is None or not hmac.compare_digest(row.owner, owner)):
                raise PermissionError(
                    "only the session that queued a run, or the lecturer, can cancel it"
                )
            active = (lab_runs.c.id == run_id) & lab_runs.c.state.in_(ACTIVE)
            connection.execute(update(lab_runs).where(active).values(cancel_requested=who))
            connection.execute(
                update(lab_runs)
                .where(lab_runs.c.id == run_id, lab_runs.c.state == RunState.QUEUED)
                .values(
                    state=RunState.CANCELLED,
                    message=f"cancelled by {_canceller(who)} before it started",
                    completed_at=self._clock(),
                )
            )

    # --- everyone: looking ----------------------------------------------------------------
    def runs(self, *, limit: int = 200) -> list[LabRun]:
        """Every active run and the latest ended ones, in queue order.

        Marks runs whose worker stopped (see `reap_stale`) on the way.
        """
        with self.store.read() as connection:
            rows = connection.execute(
                select(lab_runs).order_by(lab_runs.c.seq.desc()).limit(limit)
            ).all()
        runs = [_run_from_row(row) for row in reversed(rows)]
        if any(self._is_stale(run) for run in runs):
            self.reap_stale()
            return self.runs(limit=limit)
        return runs

    def run(self, run_id: str) -> LabRun:
        """One run's row (KeyError if unknown)."""
        with self.store.read() as connection:
            row = connection.execute(select(lab_runs).where(lab_runs.c.id == run_id)).first()
        if row is None:
            raise KeyError(run_id)
        return _run_from_row(row)

    def speeds(self) -> tuple[float, float, int]:
        """(training images/s, overhead s per run, how many runs measured them) for
        estimates: medians of the last finished runs, else the defaults."""
        with self.store.read() as connection:
            rows = connection.execute(
                select(lab_runs.c.images_per_second, lab_runs.c.overhead_s)
                .where(lab_runs.c.images_per_second.is_not(None))
                .order_by(lab_runs.c.seq.desc())
                .limit(SPEED_SAMPLES)
            ).all()
        if not rows:
            return DEFAULT_IMAGES_PER_S, DEFAULT_OVERHEAD_S, 0
        overheads = [r.overhead_s for r in rows if r.overhead_s is not None]
        return (
            statistics.median(r.images_per_second for r in rows),
            statistics.median(overheads) if overheads else DEFAULT_OVERHEAD_S,
            len(rows),
        )

    def waits(self, runs: list[LabRun]) -> dict[str, tuple[int, float]]:
        """For each queued run: (position, 1 = next; estimated seconds until it starts).

        One worker trains one run at a time: the estimate adds up the runs ahead.
        """
        speed, overhead, _ = self.speeds()
        ahead, result = 0.0, dict[str, tuple[int, float]]()
        for run in runs:
            if run.state == RunState.RUNNING:
                ahead += (run.images - run.images_done) / speed + overhead
            elif run.state == RunState.QUEUED:
                result[run.id] = (len(result) + 1, ahead)
                ahead += run.images / speed + overhead
        return result

    # --- workers ----------------------------------------------------------------------
    def claim(self, worker: str) -> LabRun | None:
        """Take the oldest queued run for ``worker`` (None when none, or the lab is paused).

        Exactly one worker gets each run, however many ask at once.
        """
        self.reap_stale()
        now = self._clock()
        with self.store.write() as connection:
            paused = connection.execute(
                select(lab_settings.c.paused).where(lab_settings.c.id == 1)
            ).scalar_one()
            if paused:
                return None
            oldest = (
                select(lab_runs.c.seq)
                .where(lab_runs.c.state == RunState.QUEUED)
                .order_by(lab_runs.c.seq)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            row = connection.execute(
                update(lab_runs)
                .where(lab_runs.c.seq == oldest, lab_runs.c.state == RunState.QUEUED)
                .values(state=RunState.RUNNING, started_at=now, heartbeat_at=now, worker=worker)
                .returning(*lab_runs.c)
            ).first()
        return None if row is None else _run_from_row(row)

    def heartbeat(self, run_id: str, worker: str) -> str | None:
        """The worker is alive. Returns who asked to stop the run ("owner", "lecturer"),
        "lost" when the run is no longer this worker's (marked failed meanwhile), else None.
        """
        with self.store.write() as connection:
            row = connection.execute(
                update(lab_runs)
                .where(
                    lab_runs.c.id == run_id,
                    lab_runs.c.worker == worker,
                    lab_runs.c.completed_at.is_(None),
                    lab_runs.c.state.in_((RunState.RUNNING, RunState.FINISHED)),
                )
                .values(heartbeat_at=self._clock())
                .returning(lab_runs.c.cancel_requested)
            ).first()
        return "lost" if row is None else row.cancel_requested

    def report(self, run_id: str, worker: str, **values: Any) -> None:
        """Record a worker's news of its run (progress, curve, message, times)."""
        allowed = {"model", "progress", "curve", "message", "last_batch_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        with self.store.write() as connection:
            connection.execute(
                update(lab_runs)
                .where(lab_runs.c.id == run_id, lab_runs.c.worker == worker)
                .values(**values)
            )

    def mark_usable(self, run_id: str, worker: str, run_dir: str, images_per_second: float) -> None:
        """The run is saved: finished and shown on every page (its interventions follow)."""
        now = self._clock()
        with self.store.write() as connection:
            connection.execute(
                update(lab_runs)
                .where(lab_runs.c.id == run_id, lab_runs.c.worker == worker)
                .values(
                    state=RunState.FINISHED,
                    run_dir=run_dir,
                    usable_at=now,
                    heartbeat_at=now,
                    images_per_second=images_per_second,
                    message=f"saved as {Path(run_dir).name}",
                )
            )

    def mark_ended(self, run_id: str, worker: str, state: RunState, message: str) -> None:
        """The worker is done with the run: finished (interventions added), cancelled or failed."""
        now = self._clock()
        with self.store.write() as connection:
            run = connection.execute(
                select(lab_runs).where(lab_runs.c.id == run_id, lab_runs.c.worker == worker)
            ).first()
            if run is None:
                return
            values: dict[str, Any] = {"completed_at": now}
            if state != RunState.FINISHED or run.state != RunState.FINISHED:
                values |= {"state": state, "message": message}
            if run.images_per_second and run.started_at is not None:
                wall = now - run.started_at
                values["overhead_s"] = max(0.0, wall - run.images / run.images_per_second)
            connection.execute(update(lab_runs).where(lab_runs.c.id == run_id).values(**values))

    def reap_stale(self) -> list[str]:
        """Mark the runs whose worker stopped sending heartbeats; returns their ids.

        A running run becomes failed (nothing was saved); a finished run whose
        interventions were being added keeps its saved results and is closed.
        """
        now = self._clock()
        stale = (
            lab_runs.c.completed_at.is_(None)
            & lab_runs.c.state.in_((RunState.RUNNING, RunState.FINISHED))
            & (lab_runs.c.heartbeat_at < now - STALE_AFTER_S)
        )
        with self.store.write() as connection:
            running = (
                connection.execute(
                    update(lab_runs)
                    .where(stale, lab_runs.c.state == RunState.RUNNING)
                    .values(
                        state=RunState.FAILED,
                        completed_at=now,
                        message=(
                            f"interrupted: its worker stopped answering for over {STALE_AFTER_S:.0f} s "
                            "(the server or worker was stopped); nothing was saved, queue it again"
                        ),
                    )
                    .returning(lab_runs.c.id)
                )
                .scalars()
                .all()
            )
            closed = (
                connection.execute(
                    update(lab_runs).where(stale).values(completed_at=now).returning(lab_runs.c.id)
                )
                .scalars()
                .all()
            )
        return [*running, *closed]

    def _is_stale(self, run: LabRun) -> bool:
        return (
            run.completed_at is None
            and run.state in (RunState.RUNNING, RunState.FINISHED)
            and (run.heartbeat_at or 0.0) < self._clock() - STALE_AFTER_S
        )


def _canceller(who: str) -> str:
    return "the lecturer" if who == "lecturer" else "its owner"


def cancelled_message(who: str | None) -> str:
    """What a run cancelled while training says."""
    return f"cancelled by {_canceller(who or 'owner')}; nothing was saved"
