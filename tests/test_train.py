"""Training really learns, is reproducible from its seed, and stops when asked."""

from __future__ import annotations

import pytest
import torch

from se_demo.analysis.evaluate import predict
from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.registry import DatasetName
from se_demo.training.train import TrainProgress, train_model


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn", "senet"])
def test_short_training_really_learns(name, train_split, test_split):
    config = TrainConfig(epochs=2, train_subset=8_000, seed=0)
    seen: list[TrainProgress] = []
    result = train_model(ModelConfig(name=name), config, train_split, progress=seen.append)
    held_out = test_split.subset(2_000)
    accuracy = float(
        (
            predict(result.model, held_out.images, dataset=DatasetName.MNIST).argmax(1)
            == held_out.labels
        )
        .float()
        .mean()
    )
    assert accuracy > 0.93, accuracy  # chance is 0.10
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert seen[-1].epoch == 2
    assert seen[-1].step == seen[-1].steps_per_epoch
    assert all(p.images_per_second > 0 for p in seen)
    assert not result.model.training


@pytest.mark.slow
def test_same_seed_same_numbers(train_split, test_split):
    config = TrainConfig(epochs=1, train_subset=1_024, batch_size=64, seed=7)
    evaluated = test_split.subset(500)
    first = train_model(ModelConfig(name="senet"), config, train_split, evaluated)
    second = train_model(ModelConfig(name="senet"), config, train_split, evaluated)
    other = train_model(
        ModelConfig(name="senet"),
        TrainConfig(**{**config.__dict__, "seed": 8}),
        train_split,
        evaluated,
    )
    keys = ("loss", "accuracy", "test_accuracy")
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    again = train_model(ModelConfig(name="senet"), config, train_split, evaluated)
    assert torch.equal(torch.random.get_rng_state(), before)  # the global RNG is left alone
    assert again.history[0]["loss"] == first.history[0]["loss"]
    assert [first.history[0][k] for k in keys] == [second.history[0][k] for k in keys]
    for a, b in zip(
        first.model.state_dict().values(), second.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert first.history[0]["loss"] != other.history[0]["loss"]


def test_stop_request_ends_the_run(train_split):
    steps: list[int] = []
    result = train_model(
        ModelConfig(name="cnn"),
        TrainConfig(epochs=3, train_subset=2_048, batch_size=64),
        train_split,
        progress=lambda p: steps.append(p.step),
        should_stop=lambda: len(steps) >= 3,
    )
    assert result.stopped
    assert len(steps) == 3
    assert result.history == []
