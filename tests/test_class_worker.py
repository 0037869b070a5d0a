"""Workers on the class's store, on SQLite and on a real PostgreSQL: ``worker --once`` really
trains a queued run and saves it where every page finds it; a worker killed mid-run is
marked within the bound and the next run starts; the command line queues, lists and
cancels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from se_demo.analysis.results import load_evaluation
from se_demo.classroom.queue import ClassQueue, LabLimits, RunState
from se_demo.classroom.store import DB_ENV_VAR, open_store
from se_demo.core.checkpoints import read_record
from se_demo.core.config import (
    CHECKPOINT_DIR,
    DATA_ENV_VAR,
    PROJECT_ROOT,
    RUNS_ENV_VAR,
    ModelConfig,
    RunRequest,
    TrainConfig,
)
from se_demo.training.runs import list_runs
from tests.conftest import wait_for

KEY = "worker-tests-key"
TINY = RunRequest(("senet",), ModelConfig(squeeze="sum"), TrainConfig(epochs=1, train_subset=512))
LONG = RunRequest(("cnn",), ModelConfig(), TrainConfig(epochs=3, train_subset=None))


def _env(store_url: str, runs: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        DB_ENV_VAR: store_url,
        RUNS_ENV_VAR: str(runs),
        DATA_ENV_VAR: str(data_dir),
        **extra,
    }


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "se_demo", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture
def queue(store_url: str):
    store = open_store(store_url)
    queue = ClassQueue(store, lecturer_key=KEY)
    queue.set_limits(LabLimits(max_active_runs=10, max_images_per_run=10**9), KEY)
    yield queue
    store.dispose()


def test_worker_once_with_nothing_queued_exits_at_once(store_url, tmp_path, data_dir, queue):
    done = _cli(_env(store_url, tmp_path, data_dir), "worker", "--once", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "trained 0 runs" in done.stdout


def test_the_command_line_queues_lists_and_cancels(store_url, tmp_path, data_dir, queue):
    env = _env(store_url, tmp_path, data_dir)
    queue.set_limits(LabLimits(), KEY)  # the defaults: one run per student at a time
    added = _cli(env, "queue", "add", "--model", "cnn", "--epochs", "1", "--train-subset", "1000",
                 "--owner", "ada")  # fmt: skip
    assert added.returncode == 0, added.stderr
    run_id = added.stdout.split()[0]
    again = _cli(env, "queue", "add", "--owner", "ada", "--epochs", "1")
    assert again.returncode == 2
    assert "You already have 1 run queued" in again.stderr  # limits hold on the command line
    listed = _cli(env, "queue", "list").stdout.splitlines()
    assert listed[0].split()[:4] == ["run", "owner", "state", "place"]
    assert listed[1].split()[:5] == [run_id, "ada", "queued", "1", "in"]
    refused = _cli(env, "queue", "cancel", run_id, "--owner", "bob")
    assert refused.returncode == 2
    assert "only the session that queued a run" in refused.stderr
    lecturer = _cli({**env, "SE_DEMO_LECTURER_KEY": KEY}, "queue", "cancel", run_id)
    assert lecturer.returncode == 0, lecturer.stderr
    assert queue.run(run_id).state == RunState.CANCELLED
    assert queue.run(run_id).message == "cancelled by the lecturer before it started"


@pytest.mark.slow
def test_worker_once_trains_a_queued_run_usable_on_every_page(store_url, tmp_path, data_dir, queue):
    run_id = queue.submit(TINY, "ada")
    mount = tmp_path.parent / f"{tmp_path.name}-mount"  # the same folder, mounted elsewhere,
    mount.symlink_to(tmp_path)  # as a shared volume on another machine
    done = _cli(_env(store_url, mount, data_dir), "worker", "--once")
    assert done.returncode == 0, done.stderr
    assert "trained 1 run" in done.stdout
    run = queue.run(run_id)
    assert run.state == RunState.FINISHED, run.message
    assert run.queued_at <= run.started_at <= run.last_batch_at <= run.usable_at
    assert run.usable_at <= run.completed_at
    assert [p["step"] for p in run.curve] == [1, 2, 3, 4]  # 512 images, batches of 128
    assert run.images_per_second > 0
    assert run.run_dir.startswith("mnist/")  # relative: every replica resolves its own root
    (listed,) = list_runs("mnist", tmp_path)
    assert listed.path == run.path(tmp_path)
    assert listed.trained == ("senet",)
    assert read_record(listed.path, "senet")["model"]["squeeze"] == "sum"
    shipped = read_record(CHECKPOINT_DIR / "mnist", "cnn")["weights_sha256"]
    assert read_record(listed.path, "cnn")["weights_sha256"] == shipped
    evaluation = load_evaluation(listed.path)
    assert set(evaluation.record["models"]["senet"]["se_interventions"]) == {"off", "mean"}


@pytest.mark.slow
def test_a_killed_worker_is_marked_within_30_s_and_the_next_run_starts(
    store_url, tmp_path, data_dir, queue
):
    env = _env(store_url, tmp_path, data_dir)
    long_id, next_id = queue.submit(LONG, "ada"), queue.submit(TINY, "bob")
    first = subprocess.Popen([sys.executable, "-m", "se_demo", "worker"], cwd=PROJECT_ROOT,
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: queue.run(long_id).progress is not None, 120, "the long run's first step")
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.time()
        second = _cli(env, "worker", "--once")  # a new worker takes the next run at once
        assert second.returncode == 0, second.stderr
        assert queue.run(next_id).state == RunState.FINISHED

        def marked() -> bool:  # the page's view marks a run whose heartbeats stopped
            return any(r.id == long_id and r.state == RunState.FAILED for r in queue.runs())

        wait_for(marked, 30, "the dead worker's run marked", interval=0.5)
        assert queue.run(long_id).completed_at - killed_at <= 30
        assert "worker stopped answering" in queue.run(long_id).message
        assert list_runs("mnist", tmp_path)[0].path == queue.run(next_id).path(tmp_path)
        assert len(list_runs("mnist", tmp_path)) == 1  # the killed run saved nothing
    finally:
        first.kill()


@pytest.mark.slow
def test_a_worker_hands_runs_to_ray(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'class.db'}"
    store = open_store(url)
    queue = ClassQueue(store, lecturer_key=KEY)
    queue.set_limits(LabLimits(max_active_runs=10), KEY)
    first, second = queue.submit(TINY, "ada"), queue.submit(TINY, "ada")
    done = _cli(_env(url, tmp_path, data_dir), "worker", "--backend", "ray", "--once")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trained 1 run" in done.stdout
    run = queue.run(first)
    assert run.state == RunState.FINISHED, run.message
    assert run.curve  # the Ray task reported its progress to the store itself
    assert queue.run(second).state == RunState.QUEUED  # --once: one run
    (listed,) = list_runs("mnist", tmp_path)
    assert listed.path == run.path(tmp_path)
    store.dispose()
