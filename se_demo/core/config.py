"""Configuration dataclasses and the paths and sizes every part of se-demo shares.

The data root resolution and the default training recipe live here; what each model
kind and dataset is (titles, normalisation, class names) lives in `se_demo.core.registry`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from se_demo.core.registry import (
    MODEL_KINDS,
    DatasetName,
    Gate,
    ModelKind,
    Squeeze,
    dataset_name,
    gate_option,
    model_kind,
    squeeze_option,
)

NUM_CLASSES = 10
TRAIN_IMAGES = 60_000  # MNIST's and Fashion-MNIST's training split
TEST_IMAGES = 10_000  # and their test split
IMAGE_SIZE = 28
# The middle of the pixel grid in pixel indices (13.5): what rotations, shears and zooms
# turn about. MNIST's digits sit half a pixel lower and to the right (their centre of
# mass, `se_demo.drawing.preprocess.MNIST_CENTRE_OF_MASS`).
IMAGE_CENTRE = (IMAGE_SIZE - 1) / 2

DATA_ENV_VAR = "SE_DEMO_DATA"
DEFAULT_DATA_DIR = Path("data")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
RUNS_DIR = PROJECT_ROOT / "runs"
RUNS_ENV_VAR = "SE_DEMO_RUNS"
# torch's thread count for the dashboard's whole process, set once when it first loads
# the models (torch has one count per process: setting it in any thread changes it for
# all). One thread per answer: on a busy 2-core server two made the slowest answers 20
# times slower (bench/draw_latency.py). Lab runs train in a worker process with its own
# thread count (se_demo/classroom/worker.py), never in the server.
SERVING_THREADS = 1


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The MNIST root: the explicit argument, else ``$SE_DEMO_DATA``, else ``./data``."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env) if env else DEFAULT_DATA_DIR


def runs_root() -> Path:
    """Where dashboard runs (and the embedded class store) live: ``$SE_DEMO_RUNS``, else
    ``runs/`` in the project. Every replica and worker of a class must see the same folder.
    """
    return Path(os.environ.get(RUNS_ENV_VAR) or RUNS_DIR)


@dataclass(frozen=True)
class ModelConfig:
    """What `build_model` needs to rebuild a network; saved in every checkpoint."""

    name: ModelKind = ModelKind.SENET
    reduction_ratio: int = 2  # r in the paper; the original study used C -> C/2
    squeeze: Squeeze = Squeeze.MEAN  # the paper's mean; the original study summed
    gate: Gate = Gate.SIGMOID  # excitation non-linearity: sigmoid as in the paper

    def __post_init__(self) -> None:
        # Strings from flags and saved records become the registry's members (or fail).
        # They are StrEnums: `to_dict` and the saved records hold their plain strings.
        object.__setattr__(self, "name", model_kind(self.name))
        object.__setattr__(self, "squeeze", squeeze_option(self.squeeze))
        object.__setattr__(self, "gate", gate_option(self.gate))
        if not isinstance(self.reduction_ratio, int) or self.reduction_ratio < 1:
            raise ValueError(
                f"reduction ratio must be a positive integer, got {self.reduction_ratio!r}"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Rebuild from saved metadata; unknown keys raise ``ValueError``."""
        return _from_dict(cls, values)


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe; every field is a CLI flag of ``python -m se_demo train``
    (its help text: `se_demo.__main__`)."""

    epochs: int = 6  # the original study trained 100; OneCycle + augmentation needs far fewer
    batch_size: int = 128  # large enough to keep both CPU cores busy
    lr: float = 3e-3  # peak learning rate of the OneCycle schedule
    weight_decay: float = 0.05  # AdamW's decoupled weight decay
    label_smoothing: float = 0.05  # softens over-confident logits a little
    max_rotation: float = 10.0  # degrees of random rotation in augmentation
    max_shift: float = 2.0  # pixels of random translation in augmentation
    max_scale: float = 0.1  # relative random zoom in augmentation
    dataset: str = DatasetName.MNIST  # a DatasetName once built
    seed: int = 0  # seeds initialisation, shuffling and augmentation
    train_subset: int | None = None  # first N training images only (tests, dry runs)
    threads: int | None = None  # torch threads; None keeps torch's default

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        object.__setattr__(self, "dataset", dataset_name(self.dataset))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from saved metadata; unknown keys raise ``ValueError``."""
        return _from_dict(cls, values)


@dataclass(frozen=True)
class RunRequest:
    """What a student asked the Training lab to train: which models, SE settings, recipe."""

    models: tuple[str, ...]
    model_config: ModelConfig
    train_config: TrainConfig

    def __post_init__(self) -> None:
        unknown = set(self.models) - set(MODEL_KINDS)
        if not self.models or unknown:
            raise ValueError(f"models must be some of {MODEL_KINDS}, got {self.models}")

    @property
    def images_per_model(self) -> int:
        """Training images one model processes (epochs x images per epoch)."""
        return self.train_config.epochs * (self.train_config.train_subset or TRAIN_IMAGES)

    @property
    def images(self) -> int:
        """Training images to process in all (epochs x subset x models)."""
        return self.images_per_model * len(self.models)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the class's store keeps it)."""
        return {
            "models": list(self.models),
            "model_config": to_dict(self.model_config),
            "train_config": to_dict(self.train_config),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunRequest:
        """Rebuild from `to_dict`'s output; unknown fields raise ``ValueError``."""
        return cls(
            tuple(values["models"]),
            ModelConfig.from_dict(values["model_config"]),
            TrainConfig.from_dict(values["train_config"]),
        )


def _from_dict(cls: Any, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**values)


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """A JSON-ready copy of a config."""
    return asdict(config)
