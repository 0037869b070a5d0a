"""Training really learns, is reproducible from its seed, and stops when asked."""

from __future__ import annotations

import hashlib
import threading

import pytest
import torch

from se_demo.analysis.interventions import Intervention, intervened_model
from se_demo.analysis.lesson import layer_table
from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.inference import predict
from se_demo.core.models import build_from_config
from se_demo.core.registry import DatasetName, InterventionMode, ModelKind
from se_demo.training.train import TrainProgress, build_seeded_model, train_model

SENET = ModelConfig(name=ModelKind.SENET)


def _digest(model: torch.nn.Module) -> str:
    sha = hashlib.sha256()
    for key, value in model.state_dict().items():
        sha.update(key.encode())
        sha.update(value.contiguous().numpy().tobytes())
    return sha.hexdigest()[:16]


@pytest.mark.parametrize(
    ("config", "seed", "digest"),
    [
        # What torch.manual_seed(seed) followed by the layers' constructors gave before
        # initialisation drew from a generator of its own (torch 2.14.1, 2026-12-06).
        (ModelConfig(name=ModelKind.CNN), 0, "ca65dd4dd7eeeeb2"),
        (SENET, 0, "300918da576a590e"),
        (SENET, 7, "e242754670fd0109"),
        (ModelConfig(name=ModelKind.SENET, reduction_ratio=4, squeeze="max", gate="tanh"), 7,
         "344503588aa7cd60"),
    ],
)  # fmt: skip
def test_a_seed_gives_the_initial_weights_it_always_gave(config, seed, digest):
    state = torch.random.get_rng_state()
    assert _digest(build_seeded_model(config, seed)) == digest
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG left alone
    torch.manual_seed(seed)
    assert _digest(build_from_config(config)) == digest  # the global RNG, as before


def test_a_seeded_build_is_the_same_while_other_threads_build_and_draw():
    alone = [_digest(build_seeded_model(SENET, seed)) for seed in (1, 2)]
    shared = build_from_config(SENET, generator=torch.Generator().manual_seed(3))
    off = [Intervention("stages.1.se", InterventionMode.OFF)]
    done, failures, clones = threading.Event(), [], [0]

    def intervening() -> None:  # what a student's session does on every rerun, and more
        try:
            while not done.is_set():
                intervened_model(shared, off, config=SENET)
                layer_table(build_from_config(SENET, device="meta"))
                torch.manual_seed(clones[0])  # any other user of torch's global RNG
                torch.rand(10_000)
                clones[0] += 1
        except BaseException as error:  # reported below
            failures.append(error)

    others = [threading.Thread(target=intervening) for _ in range(2)]
    for thread in others:
        thread.start()
    try:
        during = [_digest(build_seeded_model(SENET, seed)) for seed in (1, 2, 1, 2)]
    finally:
        done.set()
        for thread in others:
            thread.join(timeout=60)
    assert not failures, failures
    assert clones[0] > 4  # the other threads really ran while the seeded builds did
    assert during == alone * 2


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
