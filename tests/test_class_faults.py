"""The class's store survives the web server: killed with SIGKILL while its worker trains
one run and five wait, the server comes back with the five still queued, the interrupted
one marked, and nothing duplicated; on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from se_demo.classroom.queue import ClassQueue, RunState
from se_demo.classroom.store import DB_ENV_VAR, open_store
from se_demo.core.config import ModelConfig, RunRequest, TrainConfig
from se_demo.training.runs import list_runs
from tests.conftest import wait_for
from tools.appserver import AppServer, start_app
from tools.ws_session import DrawSession, run_blocking

pytestmark = pytest.mark.slow

KEY = "faults-key"
LONG = RunRequest(("cnn",), ModelConfig(), TrainConfig(epochs=3, train_subset=None))
TINY = RunRequest(("cnn",), ModelConfig(), TrainConfig(epochs=1, train_subset=512))


def _serve(store_url: str, runs: Path, data_dir: Path, log: Path) -> AppServer:
    """The app, visited once: its first script run starts its embedded worker."""
    env = {DB_ENV_VAR: store_url, "SE_DEMO_RUNS": str(runs), "SE_DEMO_WORKER": "embedded"}
    server = start_app(data_dir, log, env=env)

    async def visit() -> None:
        session = DrawSession(server.url, page="train", timeout_s=120)
        await session.open()
        await session.close()

    run_blocking(visit())
    return server


def _pid(worker: str | None) -> int:
    assert worker is not None
    return int(worker.rsplit(":", 1)[1])


def test_a_killed_server_keeps_the_queue_and_marks_the_interrupted_run(
    store_url: str, tmp_path: Path, data_dir: Path
) -> None:
    store = open_store(store_url)
    queue = ClassQueue(store, lecturer_key=KEY)
    ids = [queue.submit(LONG, "lecturer", key=KEY)]
    ids += [queue.submit(TINY, f"student-{i}") for i in range(5)]
    server = _serve(store_url, tmp_path, data_dir, tmp_path / "first.log")
    try:
        wait_for(lambda: queue.run(ids[0]).progress is not None, 120, "the long run training")
        worker = _pid(queue.run(ids[0]).worker)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        wait_for(lambda: not Path(f"/proc/{worker}").exists(), 10, "the worker to exit too")
    finally:
        server.stop()
    interrupted = queue.run(ids[0])
    assert interrupted.state == RunState.FAILED
    assert interrupted.message.startswith("interrupted: the server stopped while it trained")
    assert [queue.run(i).state for i in ids[1:]] == [RunState.QUEUED] * 5

    server = _serve(store_url, tmp_path, data_dir, tmp_path / "second.log")
    try:
        wait_for(lambda: queue.run(ids[1]).completed_at is not None, 300, "the next run")
    finally:
        server.stop()
    runs = queue.runs()
    assert [r.id for r in runs] == ids  # nothing lost, nothing added
    assert runs[0].state == RunState.FAILED  # still marked, never retried
    assert runs[1].state == RunState.FINISHED
    finished = [r for r in runs if r.state == RunState.FINISHED]
    saved = list_runs("mnist", tmp_path)
    assert sorted(r.path for r in saved) == sorted(r.path(tmp_path) for r in finished)
    for log in ("first.log", "second.log"):
        assert "Traceback" not in (tmp_path / log).read_text()
    store.dispose()
