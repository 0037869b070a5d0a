"""What se-demo knows by name: the two model kinds, the datasets and the SE options.

The one place where "cnn", "senet", "mnist" and "fashion" are written. Everything else
reads `ModelKind`, `DatasetName`, `Squeeze` and `Gate` (StrEnums, so they are also the
strings saved in records, flags and folders) and the frozen infos below. No torch here:
the pages that show saved results read this without importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar


class ModelKind(StrEnum):
    """The two networks the dashboard compares."""

    CNN = "cnn"  # the original study's basic CNN
    SENET = "senet"  # the same CNN with an SE block after each stage


class DatasetName(StrEnum):
    """The datasets se-demo trains and evaluates on."""

    MNIST = "mnist"
    FASHION = "fashion"


class Squeeze(StrEnum):
    """How an SE block pools each channel to one number."""

    MEAN = "mean"  # the paper's global average pooling
    SUM = "sum"  # the original study's TensorFlow code
    MAX = "max"  # the paper's ablation (Table 11)


class Gate(StrEnum):
    """The non-linearity that turns the bottleneck's output into excitations."""

    SIGMOID = "sigmoid"  # the paper's choice
    TANH = "tanh"  # ablation (Table 12)
    RELU = "relu"  # ablation (Table 12)


class InterventionMode(StrEnum):
    """What an intervention does to an SE block's excitation."""

    OFF = "off"  # excitation 1: the block passes its input through
    MEAN = "mean"  # the block's test-set mean excitation, the same for every input
    SCALE = "scale"  # one channel's excitation times a factor


@dataclass(frozen=True)
class ModelInfo:
    """How a model kind is shown, and how it is built: the CNN with or without SE blocks."""

    kind: ModelKind
    title: str
    color: str  # one colour per model on every chart
    has_se: bool


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset: where torchvision keeps it, how to normalise it, its class names, and
    the original study's published test results on it (empty where it published none).
    """

    key: DatasetName  # the name used in flags, folders and records
    title: str
    folder: str  # torchvision's folder under the data root
    mean: float  # pixel mean over the training images, pixels in [0, 1]
    std: float
    class_names: tuple[str, ...]
    reference: Mapping[str, Mapping[str, float]]  # by model kind


MODELS: Mapping[str, ModelInfo] = MappingProxyType(
    {
        ModelKind.CNN: ModelInfo(ModelKind.CNN, "Basic CNN", "#636EFA", has_se=False),
        ModelKind.SENET: ModelInfo(ModelKind.SENET, "SENet", "#EF553B", has_se=True),
    }
)

DATASETS: Mapping[str, DatasetInfo] = MappingProxyType(
    {
        DatasetName.MNIST: DatasetInfo(
            DatasetName.MNIST,
            "MNIST",
            "MNIST",
            0.1307,  # over the 60,000 training images
            0.3081,
            tuple("0123456789"),
            # The original study's MNIST test results after 100 epochs (Adam 1e-4, batch 32).
            reference={
                ModelKind.CNN: {
                    "accuracy": 0.99340,
                    "precision": 0.99339,
                    "recall": 0.99329,
                    "f1": 0.99334,
                },
                ModelKind.SENET: {
                    "accuracy": 0.99350,
                    "precision": 0.99344,
                    "recall": 0.99342,
                    "f1": 0.99342,
                },
            },
        ),
        DatasetName.FASHION: DatasetInfo(
            DatasetName.FASHION,
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
            reference={},
        ),
    }
)


_E = TypeVar("_E", bound=StrEnum)


def _member(enum: type[_E], value: str, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        expected = tuple(str(member) for member in enum)
        raise ValueError(f"unknown {what} {value!r}; expected one of {expected}") from None


def model_kind(value: str) -> ModelKind:
    """``"cnn"`` or ``"senet"`` as a `ModelKind`; anything else raises ValueError."""
    return _member(ModelKind, value, "model")


def model_info(kind: str) -> ModelInfo:
    """The `ModelInfo` of a model kind; unknown kinds raise ValueError."""
    return MODELS[model_kind(kind)]


def model_title(kind: str) -> str:
    """A model's title for people ("Basic CNN", "SENet"); unknown names are shown as given."""
    return MODELS[kind].title if kind in MODELS else kind


def dataset_name(value: str) -> DatasetName:
    """``"mnist"`` or ``"fashion"`` as a `DatasetName`; anything else raises ValueError."""
    return _member(DatasetName, value, "dataset")


def dataset_info(key: str) -> DatasetInfo:
    """The `DatasetInfo` of a dataset; unknown names raise ValueError."""
    return DATASETS[dataset_name(key)]


def squeeze_option(value: str) -> Squeeze:
    """A squeeze operator by name; unknown names raise ValueError."""
    return _member(Squeeze, value, "squeeze operator")


def gate_option(value: str) -> Gate:
    """A gate by name; unknown names raise ValueError."""
    return _member(Gate, value, "gate")


MODEL_KINDS: tuple[str, ...] = tuple(ModelKind)
MODEL_TITLES: Mapping[str, str] = MappingProxyType({k: i.title for k, i in MODELS.items()})
MODEL_COLORS: Mapping[str, str] = MappingProxyType({k: i.color for k, i in MODELS.items()})
SQUEEZES: tuple[str, ...] = tuple(Squeeze)
GATES: tuple[str, ...] = tuple(Gate)


def se_block_name(stage: int) -> str:
    """The module path of the SE block of stage ``stage`` (from 0): 2 -> "stages.2.se"."""
    return f"stages.{stage}.se"


def se_block_number(block: str) -> str:
    """An SE block's position in depth order, counted from 1: "stages.2.se" -> "3".

    Names that are not an SE block's path are returned as given.
    """
    parts = block.split(".")
    if len(parts) == 3 and parts[0] == "stages" and parts[1].isdigit() and parts[2] == "se":
        return str(int(parts[1]) + 1)
    return block
