"""Checkpoints: round trip, and one clear error for each kind of bad file."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from se_demo.core import checkpoints
from se_demo.core.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_checkpoints,
    save_checkpoint,
)
from se_demo.core.config import CHECKPOINT_DIR, ModelConfig, to_dict
from se_demo.core.data import normalize
from se_demo.core.files import sha256_file
from se_demo.core.inference import predict, predict_logits
from se_demo.core.models import ReferenceCNN, build_model
from se_demo.core.registry import DATASETS, DatasetName, Gate, ModelKind, Squeeze, model_kind


def _save(
    model_name: str,
    directory: Path,
    name: str | None = None,
    seed: int = 0,
    dataset: str = DatasetName.MNIST,
) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = build_model(model_name)
    record = {"model": to_dict(ModelConfig(name=model_kind(model_name))), "dataset": dataset}
    save_checkpoint(model, record, directory, name or model_name)
    return model


def _weights(directory: Path, name: str) -> Path:
    return directory / json.loads((directory / f"{name}.json").read_text())["weights_file"]


def _assert_same(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb
        assert torch.equal(va, vb)


def test_round_trip_and_record(tmp_path):
    model = _save("senet", tmp_path)
    loaded = load_checkpoint(tmp_path, "senet")
    _assert_same(model, loaded.model)
    assert isinstance(loaded.model, ReferenceCNN)
    assert not loaded.model.training
    assert loaded.record["model"]["name"] == "senet"
    assert loaded.record["weights_sha256"] == sha256_file(_weights(tmp_path, "senet"))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


@pytest.mark.parametrize("dataset", list(DatasetName))
def test_the_weights_bring_their_config_and_dataset(tmp_path, dataset):
    config = ModelConfig(reduction_ratio=4, squeeze=Squeeze.MAX, gate=Gate.TANH)
    torch.manual_seed(0)
    model = build_model(ModelKind.SENET, reduction_ratio=4, squeeze="max", gate="tanh")
    save_checkpoint(model, {"model": to_dict(config), "dataset": dataset}, tmp_path, "senet")
    loaded = load_checkpoint(tmp_path, "senet")
    assert loaded.config == config
    assert loaded.kind is ModelKind.SENET
    assert loaded.dataset is DATASETS[dataset]
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    assert torch.equal(loaded.normalize(images), normalize(images, dataset))
    assert torch.equal(loaded.predict(images), predict(model, images, dataset=dataset))


def test_a_record_without_a_dataset_is_neither_saved_nor_loaded(tmp_path):
    model = build_model("cnn")
    with pytest.raises(KeyError, match="dataset"):
        save_checkpoint(model, {"model": to_dict(ModelConfig(name=ModelKind.CNN))}, tmp_path, "a")
    checkpoints.save_tensors(
        {k: v.numpy() for k, v in model.state_dict().items()},
        {"kind": "model", "model": to_dict(ModelConfig(name=ModelKind.CNN)), "dataset": "kmnist"},
        tmp_path,
        "b",
    )
    with pytest.raises(CheckpointError, match=r"names no known dataset.*kmnist"):
        load_checkpoint(tmp_path, "b")


def test_checkpoints_of_one_folder_share_their_dataset_and_hold_their_model(tmp_path):
    _save("cnn", tmp_path, dataset=DatasetName.MNIST)
    _save("senet", tmp_path, dataset=DatasetName.FASHION)
    with pytest.raises(CheckpointError, match=r"2 datasets \['fashion', 'mnist'\]"):
        load_checkpoints(tmp_path)
    _save("senet", tmp_path, dataset=DatasetName.MNIST)
    assert {c.dataset.key for c in load_checkpoints(tmp_path).values()} == {"mnist"}
    _save("cnn", tmp_path, name="senet")
    with pytest.raises(CheckpointError, match="holds a cnn model, not a senet"):
        load_checkpoints(tmp_path)


def test_predict_refuses_a_dataset_it_would_ignore():
    model = build_model("cnn")
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    normalised = normalize(images, DatasetName.FASHION)
    with pytest.raises(ValueError, match="would be ignored"):
        predict_logits(model, normalised, dataset=DatasetName.MNIST)
    with pytest.raises(ValueError, match="uint8 images need the dataset"):
        predict_logits(model, images)
    assert torch.equal(
        predict_logits(model, normalised), predict_logits(model, images, dataset="fashion")
    )


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=r"cnn\.json is missing"):
        load_checkpoint(tmp_path, "cnn")


def test_missing_weights_file(tmp_path):
    _save("cnn", tmp_path)
    _weights(tmp_path, "cnn").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path, "cnn")


def test_truncated_weights_file(tmp_path):
    _save("cnn", tmp_path)
    _save("senet", tmp_path)
    weights = _weights(tmp_path, "cnn")
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or was replaced"):
        load_checkpoint(tmp_path, "cnn")
    load_checkpoint(tmp_path, "senet")  # the other checkpoint is unaffected


def test_weights_from_another_architecture(tmp_path):
    # senet weights renamed into the cnn checkpoint, with the checksum updated to match.
    _save("cnn", tmp_path)
    _save("senet", tmp_path)
    record = json.loads((tmp_path / "cnn.json").read_text())
    senet_weights = _weights(tmp_path, "senet")
    record["weights_file"] = senet_weights.name
    record["weights_sha256"] = sha256_file(senet_weights)
    (tmp_path / "cnn.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not describe the weights"):
        load_checkpoint(tmp_path, "cnn")


def test_foreign_safetensors_file(tmp_path):
    # A valid safetensors file that se-demo did not write (no header record).
    from safetensors.torch import save_file

    _save("cnn", tmp_path)
    weights = _weights(tmp_path, "cnn")
    save_file({"weight": torch.zeros(3, 3)}, str(weights))
    record = json.loads((tmp_path / "cnn.json").read_text())
    record["weights_sha256"] = sha256_file(weights)
    (tmp_path / "cnn.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not written by se-demo"):
        load_checkpoint(tmp_path, "cnn")


@pytest.mark.parametrize(
    "lie",
    [{"name": "senet"}, {"squeeze": "sum"}, {"reduction_ratio": 4}, {"name": "resnet"}],
)
def test_metadata_that_lies_about_the_architecture(tmp_path, lie):
    _save("cnn", tmp_path)
    record = json.loads((tmp_path / "cnn.json").read_text())
    record["model"].update(lie)
    (tmp_path / "cnn.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="does not describe the weights"):
        load_checkpoint(tmp_path, "cnn")


def test_state_dict_that_does_not_fit_is_refused(tmp_path):
    # Header and record agree (both say senet) but the tensors are a CNN's.
    cnn = build_model("cnn")
    checkpoints.save_tensors(
        cnn.state_dict(),
        {"kind": "model", "model": to_dict(ModelConfig()), "dataset": DatasetName.MNIST},
        tmp_path,
        "x",
    )
    with pytest.raises(CheckpointError, match="do not fit the senet architecture"):
        load_checkpoint(tmp_path, "x")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/se-demo-pwned",))


def test_pickle_renamed_to_the_checkpoint_is_never_unpickled(tmp_path):
    _save("cnn", tmp_path)
    weights = _weights(tmp_path, "cnn")
    marker = Path("/tmp/se-demo-pwned")
    marker.unlink(missing_ok=True)
    weights.write_bytes(pickle.dumps({"state": _Exploit()}))
    with pytest.raises(CheckpointError, match="corrupt or was replaced"):
        load_checkpoint(tmp_path, "cnn")
    # Even with the checksum forged, safetensors refuses it and nothing runs.
    record = json.loads((tmp_path / "cnn.json").read_text())
    record["weights_sha256"] = sha256_file(weights)
    (tmp_path / "cnn.json").write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(tmp_path, "cnn")
    assert not marker.exists()


def test_record_that_is_not_json_or_not_ours(tmp_path):
    (tmp_path / "a.json").write_bytes(b"\x80\x04not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path, "a")
    (tmp_path / "b.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not an se-demo record"):
        load_checkpoint(tmp_path, "b")


def test_crash_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    old = _save("cnn", tmp_path, seed=0)
    real_replace = os.replace

    def crash_on_record(src, dst):
        if str(dst).endswith(".json"):
            raise KeyboardInterrupt  # Ctrl-C between writing the weights and the record
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_record)
    with pytest.raises(KeyboardInterrupt):
        _save("cnn", tmp_path, seed=1)
    monkeypatch.setattr(os, "replace", real_replace)
    _assert_same(old, load_checkpoint(tmp_path, "cnn").model)
    assert not list(tmp_path.glob(".*tmp"))


def test_crash_while_writing_weights_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    old = _save("senet", tmp_path, seed=0)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoints, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        _save("senet", tmp_path, seed=1)
    _assert_same(old, load_checkpoint(tmp_path, "senet").model)
    assert not list(tmp_path.glob(".*tmp"))


def test_identical_saves_give_identical_bytes_and_names(tmp_path):
    model = build_model("senet")
    names, contents = set(), set()
    for attempt in range(6):
        directory = tmp_path / str(attempt)
        record = {"model": to_dict(ModelConfig()), "dataset": DatasetName.MNIST}
        save_checkpoint(model, record, directory, "senet")
        (weights,) = directory.glob("senet-*.safetensors")
        names.add(weights.name)
        contents.add(weights.read_bytes())
    assert len(names) == 1
    assert len(contents) == 1


def test_a_new_save_removes_exactly_the_file_it_replaced(tmp_path):
    other = tmp_path / "senet-v2-0123abcd.safetensors"  # another checkpoint's weights
    other.write_bytes(b"not ours to delete")
    _save("senet", tmp_path, seed=0)
    first = _weights(tmp_path, "senet").name
    _save("senet", tmp_path, seed=1)
    second = _weights(tmp_path, "senet").name
    assert first != second
    assert not (tmp_path / first).exists()
    assert (tmp_path / second).exists()
    assert other.read_bytes() == b"not ours to delete"
    load_checkpoint(tmp_path, "senet")


@pytest.mark.parametrize("dataset", list(DatasetName))
@pytest.mark.parametrize("name", list(ModelKind))
def test_a_shipped_config_is_saved_again_as_the_same_json(dataset, name):
    loaded = load_checkpoint(CHECKPOINT_DIR / dataset, name)
    assert loaded.config.name is ModelKind(name)
    assert isinstance(loaded.config.squeeze, Squeeze)
    assert isinstance(loaded.config.gate, Gate)
    saved = json.loads((CHECKPOINT_DIR / dataset / f"{name}.json").read_text())["model"]
    assert json.dumps(to_dict(loaded.config)) == json.dumps(saved)
