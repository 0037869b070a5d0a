"""Dashboard training runs: complete, stop, one at a time, and never touch shipped checkpoints."""

from __future__ import annotations

import hashlib

import pytest

from se_demo.checkpoints import load_checkpoint
from se_demo.config import CHECKPOINT_DIR, ModelConfig, TrainConfig
from se_demo.jobs import TrainingBusyError, TrainingJob, list_runs
from se_demo.results import load_evaluation

SMALL = TrainConfig(epochs=1, train_subset=512, batch_size=64)


def _shipped_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((CHECKPOINT_DIR / "mnist").iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_a_small_run_completes_and_is_listed(tmp_path, data_dir):
    before = _shipped_digest()
    job = TrainingJob(
        ("senet",),
        ModelConfig(name="senet", squeeze="max"),
        SMALL,
        data_dir=data_dir,
        root=tmp_path,
    )
    job.start()
    job.join(timeout=300)
    status = job.status()
    assert status.state == "finished", status.message
    assert status.curve[-1]["step"] == 8  # 512 images / 64 per batch
    assert status.curve[-1]["test_accuracy"] is not None
    runs = list_runs("mnist", tmp_path)
    assert [run.path for run in runs] == [status.run_dir]
    assert runs[0].trained == ("senet",)
    _, record = load_checkpoint(status.run_dir, "senet")
    assert record["model"]["squeeze"] == "max"
    assert record["train"]["train_subset"] == 512
    shipped_cnn = load_checkpoint(CHECKPOINT_DIR / "mnist", "cnn")[1]
    assert (
        load_checkpoint(status.run_dir, "cnn")[1]["weights_sha256"] == shipped_cnn["weights_sha256"]
    )
    evaluation = load_evaluation(status.run_dir)
    assert evaluation.metrics("senet")["accuracy"] == pytest.approx(runs[0].accuracy["senet"])
    assert evaluation.metrics("senet")["accuracy"] > 0.3  # 8 steps already beat chance
    assert _shipped_digest() == before
    assert not list((tmp_path / "mnist").glob(".*"))  # no staging folder left


def test_stop_ends_the_run_and_saves_nothing(tmp_path, data_dir):
    job = TrainingJob(
        ("cnn", "senet"),
        ModelConfig(),
        TrainConfig(epochs=5, train_subset=20_000),
        data_dir=data_dir,
        root=tmp_path,
    )
    job.start()
    while job.status().progress is None:
        job.join(timeout=0.05)
    job.stop()
    job.join(timeout=60)
    status = job.status()
    assert status.state == "stopped"
    assert status.progress is not None
    assert status.progress.epoch == 1
    assert list_runs("mnist", tmp_path) == []


def test_one_training_run_at_a_time(tmp_path, data_dir):
    first = TrainingJob(
        ("cnn",), ModelConfig(), TrainConfig(epochs=3), data_dir=data_dir, root=tmp_path
    )
    first.start()
    try:
        second = TrainingJob(("cnn",), ModelConfig(), SMALL, data_dir=data_dir, root=tmp_path)
        with pytest.raises(TrainingBusyError, match="another training run"):
            second.start()
    finally:
        first.stop()
        first.join(timeout=60)
    assert first.status().state == "stopped"


def test_failure_is_reported_not_swallowed(tmp_path):
    job = TrainingJob(("cnn",), ModelConfig(), SMALL, data_dir=tmp_path / "nowhere", root=tmp_path)
    job.start()
    job.join(timeout=60)
    status = job.status()
    assert status.state == "failed"
    assert "MNIST is not available" in status.message
    # the slot was released: another run can start
    again = TrainingJob(
        ("cnn",), ModelConfig(), SMALL, data_dir=tmp_path / "nowhere", root=tmp_path
    )
    again.start()
    again.join(timeout=60)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="resnet"):
        TrainingJob(("resnet",), ModelConfig(), SMALL)
