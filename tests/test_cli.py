"""The command line's flags mirror the config dataclasses: a field without a flag, or a
flag whose default drifts from the dataclass's, fails here."""

from __future__ import annotations

from dataclasses import fields

import pytest

from se_demo.__main__ import _parser
from se_demo.core.config import ModelConfig, TrainConfig
from se_demo.core.registry import DatasetName


def _recipe(argv: list[str]) -> TrainConfig:
    args = vars(_parser().parse_args(argv))
    return TrainConfig(**{f.name: args[f.name] for f in fields(TrainConfig) if f.name in args})


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["train"], TrainConfig()),
        (["queue", "add"], TrainConfig(epochs=2, train_subset=10_000)),
        (["compare"], TrainConfig(epochs=3)),
        (["ablate"], TrainConfig(epochs=2)),
    ],
)
def test_every_recipe_field_is_a_flag_with_the_dataclass_default(argv, expected):
    args = vars(_parser().parse_args(argv))
    seeded = argv[0] not in ("compare", "ablate")  # these train seeds 0 .. N-1
    assert {f.name for f in fields(TrainConfig)} - set(args) == (set() if seeded else {"seed"})
    assert _recipe(argv) == expected
    assert args.get("seed", 0) == expected.seed


def test_flags_set_the_fields_they_name():
    argv = ["train", "--epochs", "4", "--batch-size", "64", "--lr", "0.01", "--weight-decay", "0",
            "--label-smoothing", "0.1", "--max-rotation", "5", "--max-shift", "1", "--max-scale",
            "0.2", "--dataset", "fashion", "--seed", "7", "--train-subset", "512",
            "--threads", "1"]  # fmt: skip
    recipe = _recipe(argv)
    assert recipe == TrainConfig(
        epochs=4, batch_size=64, lr=0.01, weight_decay=0.0, label_smoothing=0.1,
        max_rotation=5.0, max_shift=1.0, max_scale=0.2, dataset=DatasetName.FASHION, seed=7,
        train_subset=512, threads=1,
    )  # fmt: skip
    assert isinstance(recipe.dataset, DatasetName)


def test_se_flags_default_to_model_config():
    args = _parser().parse_args(["train"])
    defaults = ModelConfig()
    assert (args.reduction_ratio, args.squeeze, args.gate) == (
        defaults.reduction_ratio,
        defaults.squeeze,
        defaults.gate,
    )
