"""Configuration dataclasses and the constants every part of se-demo shares.

One source of truth: the normalisation constants, the data root resolution and the
default training recipe live here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

# MNIST pixel statistics over the 60,000 training images (pixels scaled to [0, 1]).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

NUM_CLASSES = 10
IMAGE_SIZE = 28

DATA_ENV_VAR = "SE_DEMO_DATA"
DEFAULT_DATA_DIR = Path("data")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT_DIR = PROJECT_ROOT / "checkpoints"
RUNS_DIR = PROJECT_ROOT / "runs"

MODEL_NAMES = ("cnn", "senet")
SQUEEZE_OPERATORS = ("mean", "sum", "max")
GATES = ("sigmoid", "tanh", "relu")


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset se-demo can train on: where torchvision keeps it, and how to normalise it."""

    key: str  # the name used in flags, folders and records
    title: str
    folder: str  # torchvision's folder under the data root
    mean: float  # pixel mean over the training images, pixels in [0, 1]
    std: float
    class_names: tuple[str, ...]


DATASETS = {
    "mnist": DatasetInfo("mnist", "MNIST", "MNIST", MNIST_MEAN, MNIST_STD, tuple("0123456789")),
    "fashion": DatasetInfo(
        "fashion",
        "Fashion-MNIST",
        "FashionMNIST",
        0.2860,
        0.3530,
        (
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
    ),
}


def dataset_info(key: str) -> DatasetInfo:
    """The `DatasetInfo` of ``"mnist"`` or ``"fashion"``; anything else raises ValueError."""
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {key!r}; expected one of {tuple(DATASETS)}")
    return DATASETS[key]


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The MNIST root: the explicit argument, else ``$SE_DEMO_DATA``, else ``./data``."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env) if env else DEFAULT_DATA_DIR


@dataclass(frozen=True)
class ModelConfig:
    """What `build_model` needs to rebuild a network; saved in every checkpoint."""

    name: str = "senet"  # "cnn": the seed's basic CNN; "senet": the same CNN with SE blocks
    reduction_ratio: int = 2  # r in the paper; the seed used C -> C/2
    squeeze: str = "mean"  # global pooling of the squeeze: the paper's mean, the seed's sum
    gate: str = "sigmoid"  # excitation non-linearity: sigmoid as in the paper

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.name!r}; expected one of {MODEL_NAMES}")
        if self.squeeze not in SQUEEZE_OPERATORS:
            raise ValueError(
                f"unknown squeeze operator {self.squeeze!r}; expected one of {SQUEEZE_OPERATORS}"
            )
        if self.gate not in GATES:
            raise ValueError(f"unknown gate {self.gate!r}; expected one of {GATES}")
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
    """The training recipe; every field is a CLI flag of ``python -m se_demo train``."""

    epochs: int = field(
        default=6,
        metadata={"help": "the seed trained 100; OneCycle + augmentation needs far fewer"},
    )
    batch_size: int = field(
        default=128, metadata={"help": "large enough to keep both CPU cores busy"}
    )
    lr: float = field(
        default=3e-3, metadata={"help": "peak learning rate of the OneCycle schedule"}
    )
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW's decoupled weight decay"})
    label_smoothing: float = field(
        default=0.05, metadata={"help": "softens over-confident logits a little"}
    )
    max_rotation: float = field(
        default=10.0, metadata={"help": "degrees of random rotation in augmentation"}
    )
    max_shift: float = field(
        default=2.0, metadata={"help": "pixels of random translation in augmentation"}
    )
    max_scale: float = field(default=0.1, metadata={"help": "relative random zoom in augmentation"})
    dataset: str = field(default="mnist", metadata={"help": "mnist or fashion (Fashion-MNIST)"})
    seed: int = field(
        default=0, metadata={"help": "seeds initialisation, shuffling and augmentation"}
    )
    train_subset: int | None = field(
        default=None, metadata={"help": "first N training images only (tests, dry runs)"}
    )
    threads: int | None = field(
        default=None, metadata={"help": "torch threads; None keeps torch's default"}
    )

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")
        dataset_info(self.dataset)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuild from saved metadata; unknown keys raise ``ValueError``."""
        return _from_dict(cls, values)


def _from_dict(cls: Any, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    return cls(**values)


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """A JSON-ready copy of a config."""
    return asdict(config)
