"""The registry: model kinds, datasets and SE options declared once, and used everywhere."""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import numpy as np
import pytest

from se_demo.core.config import PROJECT_ROOT, ModelConfig, TrainConfig, to_dict
from se_demo.core.datafiles import read_split
from se_demo.core.models import build_from_config, se_blocks
from se_demo.core.registry import (
    DATASETS,
    MODEL_COLORS,
    MODEL_TITLES,
    MODELS,
    DatasetName,
    Gate,
    ModelKind,
    Squeeze,
    dataset_info,
    model_title,
    se_block_name,
    se_block_number,
)

NAMES = {'"cnn"', '"senet"', '"mnist"', '"fashion"', "'cnn'", "'senet'", "'mnist'", "'fashion'"}


def _library_and_ui_files() -> list[Path]:
    files = [*sorted((PROJECT_ROOT / "se_demo").rglob("*.py")), PROJECT_ROOT / "app.py"]
    return [*files, *sorted((PROJECT_ROOT / "app_pages").glob("*.py"))]


def test_model_and_dataset_names_are_written_only_in_the_registry() -> None:
    found = []
    for path in _library_and_ui_files():
        if path.name == "registry.py":
            continue
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
        for token in tokens:
            if token.type == tokenize.STRING and any(n in token.string for n in NAMES):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{token.start[0]}")
    assert not found, f"write these through se_demo.core.registry: {found}"


@pytest.mark.parametrize("kind", list(ModelKind))
def test_every_model_kind_builds_as_its_info_says(kind: ModelKind) -> None:
    model = build_from_config(ModelConfig(name=kind))
    assert bool(se_blocks(model)) == MODELS[kind].has_se
    assert MODEL_TITLES[kind] == model_title(kind) == MODELS[kind].title
    assert len(set(MODEL_COLORS.values())) == len(ModelKind)  # one colour each


def test_configs_hold_registry_members_and_save_as_plain_strings() -> None:
    config = ModelConfig(name="senet", squeeze="sum", gate="tanh")
    assert (config.name, config.squeeze, config.gate) == (
        ModelKind.SENET,
        Squeeze.SUM,
        Gate.TANH,
    )
    saved = json.loads(json.dumps(to_dict(config)))
    assert saved == {"name": "senet", "reduction_ratio": 2, "squeeze": "sum", "gate": "tanh"}
    assert ModelConfig.from_dict(saved) == config
    assert TrainConfig(dataset="fashion").dataset is DatasetName.FASHION


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ModelConfig(name="resnet"),
            "unknown model 'resnet'; expected one of ('cnn', 'senet')",
        ),
        (lambda: ModelConfig(squeeze="median"), "unknown squeeze operator 'median'"),
        (lambda: ModelConfig(gate="softmax"), "unknown gate 'softmax'"),
        (lambda: TrainConfig(dataset="cifar"), "unknown dataset 'cifar'"),
        (lambda: dataset_info("emnist"), "expected one of ('mnist', 'fashion')"),
    ],
)
def test_unknown_names_are_refused_with_the_choices(make, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


@pytest.mark.parametrize("dataset", list(DatasetName))
def test_each_datasets_normalisation_is_its_training_pixels_mean_and_std(
    dataset: DatasetName, data_dir: Path, fashion_test_split: object
) -> None:
    images, _ = read_split(True, data_dir, dataset=dataset)  # all 60,000 training images
    pixels = images.astype(np.float64) / 255
    info = DATASETS[dataset]
    assert (info.mean, info.std) == (round(pixels.mean(), 4), round(pixels.std(), 4))


def test_datasets_carry_their_own_classes_and_reference() -> None:
    mnist, fashion = DATASETS[DatasetName.MNIST], DATASETS[DatasetName.FASHION]
    assert len(mnist.class_names) == len(fashion.class_names) == 10
    assert mnist.reference[ModelKind.SENET]["accuracy"] == 0.99350  # the original study's
    assert not fashion.reference  # it published MNIST results only


def test_se_block_names_and_numbers_match_the_senet() -> None:
    blocks = list(se_blocks(build_from_config(ModelConfig(name=ModelKind.SENET))))
    assert blocks == [se_block_name(stage) for stage in range(3)]
    assert [se_block_number(b) for b in blocks] == ["1", "2", "3"]
    assert se_block_number("classifier.1") == "classifier.1"  # not a block: as given
