"""The server's training queue: runs complete, wait in order, are cancelled by their owner only."""

from __future__ import annotations

import pytest

from se_demo.checkpoints import load_checkpoint, read_record
from se_demo.config import CHECKPOINT_DIR, ModelConfig, TrainConfig
from se_demo.jobs import ACTIVE, JobRegistry, describe_wait, queue_rows
from se_demo.results import load_evaluation
from se_demo.runs import RunRequest, list_runs
from tests.conftest import shipped_digest, wait_for

SMALL = TrainConfig(epochs=1, train_subset=512, batch_size=64)
LONG = TrainConfig(epochs=5, train_subset=None)


@pytest.mark.slow
def test_a_small_run_completes_with_per_step_curves_and_is_listed(tmp_path, data_dir):
    before = shipped_digest()
    registry = JobRegistry(data_dir=data_dir, root=tmp_path)
    request = RunRequest(("senet",), ModelConfig(squeeze="max"), SMALL)
    job_id = registry.submit(request, "owner-a")
    assert registry.wait_until_idle(300)
    job = registry.job(job_id)
    assert job.state == "finished", job.message
    # 512 images / 64 per batch: a point for every one of the 8 steps, named by model
    assert [p["step"] for p in job.curve] == list(range(1, 9))
    assert {p["model"] for p in job.curve} == {"senet"}
    assert job.queued_at <= job.started_at <= job.last_batch_at <= job.usable_at
    assert job.usable_at <= job.completed_at
    runs = list_runs("mnist", tmp_path)
    assert [run.path for run in runs] == [job.run_dir]
    assert runs[0].trained == ("senet",)
    _, record = load_checkpoint(job.run_dir, "senet")
    assert record["model"]["squeeze"] == "max"
    assert record["train"]["train_subset"] == 512
    assert record["history"][-1]["test_accuracy"] == record["test_metrics"]["accuracy"]
    shipped_cnn = read_record(CHECKPOINT_DIR / "mnist", "cnn")
    assert read_record(job.run_dir, "cnn")["weights_sha256"] == shipped_cnn["weights_sha256"]
    evaluation = load_evaluation(job.run_dir)
    senet = evaluation.record["models"]["senet"]
    assert senet["metrics"]["accuracy"] == pytest.approx(runs[0].accuracy["senet"])
    assert senet["metrics"]["accuracy"] > 0.3  # 8 steps already beat chance
    assert set(senet["se_interventions"]) == {"off", "mean"}  # added after it was usable
    assert evaluation.measurements["latency_ms"]["senet"] > 0
    assert shipped_digest() == before
    assert not list((tmp_path / "mnist").glob(".*"))  # no staging folder left


@pytest.mark.slow
def test_runs_wait_in_order_and_only_their_owner_cancels(tmp_path, data_dir):
    registry = JobRegistry(data_dir=data_dir, root=tmp_path)
    long_id = registry.submit(RunRequest(("cnn",), ModelConfig(), LONG), "owner-a")
    second = registry.submit(RunRequest(("cnn",), ModelConfig(), SMALL), "owner-b")
    third = registry.submit(RunRequest(("cnn", "senet"), ModelConfig(), SMALL), "owner-b")

    def started_or_ended() -> bool:  # a run that fails before its first step ends the wait
        job = registry.job(long_id)
        return job.progress is not None or job.state not in ACTIVE

    wait_for(started_or_ended, 120, "the long run's first step")
    long_run = registry.job(long_id)
    waits = registry.waits()
    assert long_run.state == "running", long_run.message
    assert [waits[second][0], waits[third][0]] == [1, 2]
    speed = registry.images_per_second()
    gap = waits[third][1] - waits[second][1]  # the second run's images and overhead
    assert gap == pytest.approx(512 / speed + 30.0)
    assert waits[second][1] > 60_000 * 4 / speed  # the long run has most of 5 epochs left
    rows = queue_rows(registry.jobs(), waits, "owner-b")
    assert [r["place"] for r in rows] == ["training", "1 in queue", "2 in queue"]
    assert [r["queued by"] for r in rows] == ["another session", "you", "you"]
    with pytest.raises(PermissionError):
        registry.cancel(long_id, "owner-b")
    registry.cancel(second, "owner-b")  # queued: never starts
    registry.cancel(long_id, "owner-a")  # running: stops after the current step
    assert registry.wait_until_idle(300)
    assert registry.job(second).state == "cancelled"
    assert registry.job(second).started_at is None
    assert registry.job(long_id).state == "cancelled"
    assert registry.job(long_id).progress.epoch == 1
    assert registry.job(third).state == "finished"  # the queue went on
    assert [run.path for run in list_runs("mnist", tmp_path)] == [registry.job(third).run_dir]
    assert registry.speed_basis().startswith("the median of 1 earlier run")


def test_a_failure_is_reported_and_the_queue_goes_on(tmp_path):
    registry = JobRegistry(data_dir=tmp_path / "nowhere", root=tmp_path)
    first = registry.submit(RunRequest(("cnn",), ModelConfig(), SMALL), "a")
    second = registry.submit(RunRequest(("cnn",), ModelConfig(), SMALL), "a")
    assert registry.wait_until_idle(60)
    for job_id in (first, second):
        assert registry.job(job_id).state == "failed"
        assert "MNIST is not available" in registry.job(job_id).message


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="resnet"):
        RunRequest(("resnet",), ModelConfig(), SMALL)


def test_wait_sentence_gives_position_and_clock_time():
    now = 1_764_556_200.0  # 2025-12-01 02:30:00 UTC
    assert describe_wait(2, 41.0, now) == (
        "Your run is number 2 in the queue: it should start in about 40 s (around 02:30:41 UTC)."
    )
    assert "about 3 min" in describe_wait(1, 170.0, now)
