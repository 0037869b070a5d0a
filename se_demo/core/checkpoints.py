"""Safe, atomic checkpoints: safetensors weights plus a JSON record that describes them.

Layout of a checkpoint called ``senet`` in a folder:
    senet.json                    the record: model config, recipe, metrics, versions,
                                  and the name and SHA-256 of the weights file
    senet-<sha256[:8]>.safetensors  the weights (content-addressed, as torchvision names them)

The JSON record is the commit point: the weights file is written first under its own
name, then the record is replaced atomically, then stale weights are removed. A crash
or Ctrl-C at any moment leaves either the old or the new checkpoint whole. Nothing is
ever unpickled: JSON and safetensors only.

`load_checkpoint` gives a `Checkpoint`: the model together with what its weights mean,
its `ModelConfig`, its dataset (normalisation and class names) and its record, as
torchvision's `Weights` and timm's ``pretrained_cfg`` do. Callers never pair a model with
a dataset or a config by hand.

Tensors are read and written as numpy arrays, so reading a record or a saved
evaluation never imports torch (about 2 s on a small machine; the Results page needs
none of it). torch is imported only where a model is built.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from se_demo.core.config import ModelConfig
from se_demo.core.files import FILE_MODE, fsync_dir, sha256_file, write_json_atomic
from se_demo.core.registry import MODEL_KINDS, DatasetInfo, ModelKind, dataset_info

if TYPE_CHECKING:
    import torch
    from torch import nn

    from se_demo.core.models import ReferenceCNN

FORMAT = "se-demo"
FORMAT_VERSION = 1
HEADER_KEY = "se-demo"  # the one safetensors metadata key we write


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, foreign or inconsistent; the message says which."""


def library_versions() -> dict[str, str]:
    """Versions that matter for reproducing a result."""
    import numpy
    import safetensors
    import sklearn
    import torch
    import torchvision

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
        "safetensors": safetensors.__version__,
    }


def save_tensors(
    tensors: Mapping[str, np.ndarray], record: dict[str, Any], directory: Path, name: str
) -> Path:
    """Atomically save ``tensors`` with a JSON ``record`` as ``directory/name.json``.

    Returns the path of the JSON record. The previous version stays intact until the
    new one is complete.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, FILE_MODE)
        contiguous = {key: np.ascontiguousarray(value) for key, value in tensors.items()}
        save_file(contiguous, str(tmp), metadata=_header(record))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        digest = sha256_file(tmp)
        weights = directory / f"{name}-{digest[:8]}.safetensors"
        os.replace(tmp, weights)
        fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    full_record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        **record,
        "weights_file": weights.name,
        "weights_sha256": digest,
    }
    record_path = directory / f"{name}.json"
    write_json_atomic(record_path, full_record)
    for stale in _weights_files(directory, name):  # the replaced file, and any a kill left
        if stale != weights:
            stale.unlink(missing_ok=True)
    return record_path


def _weights_files(directory: Path, name: str) -> list[Path]:
    """Every weights file of checkpoint ``name``: exactly ``name-<8 hex digits>.safetensors``
    (so ``senet-v2-0123abcd.safetensors``, another checkpoint's, is never one of them).
    """
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{8}}\.safetensors")
    return [path for path in directory.iterdir() if pattern.fullmatch(path.name)]


def _header_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a record that is copied into the weights file, to detect lying JSON."""
    return {key: record[key] for key in ("model", "kind") if key in record}


def _header(record: dict[str, Any]) -> dict[str, str]:
    """The safetensors metadata: ONE key holding canonical JSON. safetensors stores its
    metadata in a hash map, so with two keys their order (and the file's bytes and name)
    changed from save to save; one key makes identical content give identical bytes.
    """
    fields = {"format": FORMAT, "record": _header_fields(record)}
    return {HEADER_KEY: json.dumps(fields, sort_keys=True, separators=(",", ":"))}


def _read_header(metadata: dict[str, str]) -> tuple[str | None, dict[str, Any]]:
    """(format, header fields) from a weights file's metadata, in either layout we wrote."""
    if HEADER_KEY in metadata:
        fields = json.loads(metadata[HEADER_KEY])
        return fields.get("format"), fields.get("record", {})
    return metadata.get("format"), json.loads(metadata.get("record", "{}"))  # before 2026-12


def read_record(directory: Path, name: str) -> dict[str, Any]:
    """The JSON record of ``name`` in ``directory``, checked to be an se-demo record.

    Reads no weights: cheap enough for listing. Raises CheckpointError.
    """
    record_path = Path(directory) / f"{name}.json"
    if not record_path.is_file():
        raise CheckpointError(
            f"no checkpoint '{name}' in '{directory}': {record_path.name} is missing"
        )
    try:
        record = json.loads(record_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"'{record_path}' is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(
            f'\'{record_path}\' is not an se-demo record (no "format": "{FORMAT}")'
        )
    if record.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"'{record_path}' has format version {record.get('format_version')!r}; "
            f"this se-demo reads version {FORMAT_VERSION}"
        )
    return record


def load_tensors(directory: Path, name: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load what `save_tensors` wrote, checking format, checksum and header agreement.

    Raises CheckpointError with a message that names the file and the problem.
    """
    directory = Path(directory)
    record_path = directory / f"{name}.json"
    record = read_record(directory, name)
    weights_name = str(record.get("weights_file", ""))
    weights = directory / weights_name
    if not weights_name or Path(weights_name).name != weights_name or not weights.is_file():
        raise CheckpointError(
            f"'{record_path}' names weights file '{weights_name}', which is missing"
        )
    digest = sha256_file(weights)
    if digest != record.get("weights_sha256"):
        raise CheckpointError(
            f"'{weights}' is corrupt or was replaced: its SHA-256 {digest[:12]}... does not "
            f"match the record's {str(record.get('weights_sha256'))[:12]}..."
        )
    try:
        tensors = load_file(str(weights))
        with open(weights, "rb") as handle:
            header_len = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(header_len)).get("__metadata__", {})
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"'{weights}' is not a readable safetensors file ({error})") from None
    try:
        written_by, saved = _read_header(header)
    except (ValueError, AttributeError):
        written_by, saved = None, {}
    if written_by != FORMAT:
        raise CheckpointError(f"'{weights}' was not written by se-demo")
    if saved != _header_fields(record):
        raise CheckpointError(
            f"'{record_path}' does not describe the weights it names: the record says "
            f"{_header_fields(record)}, the weights were saved as {saved}"
        )
    return tensors, record


def save_checkpoint(model: nn.Module, record: dict[str, Any], directory: Path, name: str) -> Path:
    """Save a model's weights with its record, which must hold ``"model"`` (a ModelConfig
    dict) and ``"dataset"`` (a `DatasetName`): what `load_checkpoint` gives back with them.
    """
    ModelConfig.from_dict(record["model"])  # refuse to save a record that cannot be loaded
    dataset_info(record["dataset"])
    weights = {key: value.detach().cpu().numpy() for key, value in model.state_dict().items()}
    return save_tensors(weights, {"kind": "model", **record}, directory, name)


def check_model_files(
    directory: Path, name: str, expected_model: str | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The weights and record of model checkpoint ``name``, with everything checked that
    needs no model built: format, checksum, header agreement, a valid config, and (given
    ``expected_model``) the architecture it names. Raises CheckpointError.
    """
    tensors, record = load_tensors(directory, name)
    if record.get("kind") != "model":
        raise CheckpointError(f"'{name}' in '{directory}' is not a model checkpoint")
    try:
        config = ModelConfig.from_dict(record["model"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint '{name}' has an invalid model config: {error}") from None
    try:
        dataset_info(record["dataset"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"checkpoint '{name}' names no known dataset: {error}") from None
    if expected_model is not None and config.name != expected_model:  # a CNN saved as SENet
        raise CheckpointError(
            f"'{Path(directory) / name}.json' holds a {config.name} model, not a {expected_model}"
        )
    return tensors, record


@dataclass(frozen=True, eq=False)  # one loaded model is one object, as its module is
class Checkpoint:
    """A model rebuilt from its checkpoint, with what its weights mean.

    ``model`` is shared (a cache hands the same one to every session): never change it.
    """

    model: ReferenceCNN  # in eval mode
    config: ModelConfig  # what it was built from: `build_from_config(config)` is its twin
    dataset: DatasetInfo  # what it was trained on: normalisation and class names
    record: dict[str, Any]  # the JSON record: recipe, metrics, versions, weights' SHA-256

    @property
    def kind(self) -> ModelKind:
        """Which of the two networks this is."""
        return self.config.name

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 28, 28) or floats in [0, 1] -> the normalised (N, 1, 28, 28)
        input this model was trained on (its dataset's mean and std)."""
        from se_demo.core.data import normalize

        return normalize(images, self.dataset.key)

    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Class probabilities (N, K) for uint8 images (N, 28, 28), normalised as in training."""
        from se_demo.core.inference import predict

        return predict(self.model, images, batch_size, dataset=self.dataset.key)


def load_checkpoint(directory: Path, name: str) -> Checkpoint:
    """Rebuild a model from its checkpoint, in eval mode, with its config, dataset and record.

    Raises CheckpointError for a missing, corrupt, foreign or inconsistent checkpoint.
    """
    import torch

    from se_demo.core.models import build_from_config

    tensors, record = check_model_files(directory, name)
    config = ModelConfig.from_dict(record["model"])
    model = build_from_config(config, device="meta")  # shapes only: nothing initialised
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = sorted(
        key
        for key in set(expected) & set(tensors)
        if tuple(expected[key].shape) != tensors[key].shape
    )
    if missing or unexpected or wrong_shape:
        raise CheckpointError(
            f"weights of checkpoint '{name}' do not fit the {config.name} architecture its "
            f"record describes: missing {missing[:4]}, unexpected {unexpected[:4]}, "
            f"wrong shapes {wrong_shape[:4]}"
        )
    # The tensors were just read from the file: the model takes them as they are.
    model.load_state_dict(
        {key: torch.from_numpy(value) for key, value in tensors.items()}, assign=True
    )
    model.eval()
    return Checkpoint(model, config, dataset_info(record["dataset"]), record)


def load_checkpoints(
    directory: Path, names: tuple[str, ...] = MODEL_KINDS
) -> dict[str, Checkpoint]:
    """The checkpoints ``names`` (both models by default) of one folder, each holding the
    model it is named after and all trained on one dataset. Raises CheckpointError.
    """
    checkpoints = {name: load_checkpoint(directory, name) for name in names}
    for name, checkpoint in checkpoints.items():
        if name in MODEL_KINDS and checkpoint.kind != name:  # a CNN saved as SENet
            raise CheckpointError(
                f"'{Path(directory) / name}.json' holds a {checkpoint.kind} model, not a {name}"
            )
    if checkpoints:
        shared_dataset(checkpoints)
    return checkpoints


def shared_dataset(checkpoints: Mapping[str, Checkpoint]) -> DatasetInfo:
    """The one dataset all ``checkpoints`` were trained on; CheckpointError if they differ."""
    datasets = sorted({str(checkpoint.dataset.key) for checkpoint in checkpoints.values()})
    if len(datasets) != 1:
        raise CheckpointError(
            f"the checkpoints {sorted(map(str, checkpoints))} were trained on "
            f"{len(datasets)} datasets {datasets}, not one"
        )
    return dataset_info(datasets[0])
