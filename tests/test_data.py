"""Finding MNIST, and clear errors when it is missing or broken."""

from __future__ import annotations

import gzip
import socket

import numpy as np
import pytest
import torch

from se_demo.core.config import resolve_data_dir
from se_demo.core.data import load_split, normalize, random_affine
from se_demo.core.datafiles import (
    MNIST_FILES,
    DatasetUnavailableError,
    dataset_available,
    read_idx,
    read_split,
    split_checksum,
)
from se_demo.core.registry import DatasetName


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("SE_DEMO_DATA", str(tmp_path / "env"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("SE_DEMO_DATA")
    assert str(resolve_data_dir()) == "data"


def test_real_mnist_loads_as_tensors(train_split, test_split):
    assert train_split.images.shape == (60_000, 28, 28)
    assert train_split.images.dtype == torch.uint8
    assert test_split.labels.bincount().tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


def test_missing_data_offline_gives_one_clear_message(tmp_path, monkeypatch):
    # Offline whatever this machine can reach: every lookup of a mirror fails at once.
    looked_up: list[str] = []

    def offline(host, *args, **kwargs):
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "offline (the test forbids the network)")

    def no_connect(self, address):
        raise OSError("offline (the test forbids the network)")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    monkeypatch.setattr(socket.socket, "connect", no_connect)
    with pytest.raises(DatasetUnavailableError) as info:
        load_split(False, tmp_path, download=True, dataset=DatasetName.MNIST)
    assert looked_up  # the download was tried, and failed
    message = str(info.value)
    assert "download failed" in message
    assert str(tmp_path) in message
    assert all(name in message for name in MNIST_FILES)
    assert "SE_DEMO_DATA" in message
    assert not dataset_available(tmp_path, dataset=DatasetName.MNIST)


def test_truncated_dataset_file(truncated_data):
    with pytest.raises(DatasetUnavailableError, match="t10k-images-idx3-ubyte"):
        load_split(False, truncated_data, download=False, dataset=DatasetName.MNIST)
    with pytest.raises(DatasetUnavailableError, match="truncated or damaged"):
        read_split(False, truncated_data, dataset=DatasetName.MNIST)


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
@pytest.mark.parametrize("train", [False, True])
def test_numpy_reader_equals_torchvision(data_dir, dataset, train):
    # The app reads the test images with numpy (no torch import); training uses torchvision.
    split = load_split(train, data_dir, download=False, dataset=dataset)
    images, labels = read_split(train, data_dir, dataset=dataset)
    assert images.dtype == np.uint8
    assert labels.dtype == np.int64
    assert np.array_equal(images, split.images.numpy())
    assert np.array_equal(labels, split.labels.numpy())
    assert split_checksum(images, labels) == split.checksum()


def test_numpy_reader_reads_gz_and_refuses_other_files(tmp_path, data_dir):
    labels = (data_dir / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").read_bytes()
    (tmp_path / "labels.gz").write_bytes(gzip.compress(labels))
    assert np.array_equal(read_idx(tmp_path / "labels"), np.frombuffer(labels[8:], np.uint8))
    (tmp_path / "float").write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + bytes(4))
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        read_idx(tmp_path / "float")
    (tmp_path / "long").write_bytes(labels + b"extra")
    with pytest.raises(ValueError, match="truncated or damaged"):
        read_idx(tmp_path / "long")
    with pytest.raises(DatasetUnavailableError, match="files missing"):
        read_split(False, tmp_path, dataset=DatasetName.MNIST)


def test_normalize_and_augment_keep_the_background():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    x = normalize(images, DatasetName.MNIST)
    assert x.shape == (4, 1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    y = random_affine(
        x, generator, max_rotation=10, max_shift=2, max_scale=0.1, dataset=DatasetName.MNIST
    )
    torch.testing.assert_close(y, x)  # a black image stays black wherever it moves
    images[:, 10:18, 10:18] = 255
    a = random_affine(
        normalize(images, DatasetName.MNIST),
        torch.Generator().manual_seed(3),
        max_rotation=10,
        max_shift=2,
        max_scale=0.1,
        dataset=DatasetName.MNIST,
    )
    b = random_affine(
        normalize(images, DatasetName.MNIST),
        torch.Generator().manual_seed(3),
        max_rotation=10,
        max_shift=2,
        max_scale=0.1,
        dataset=DatasetName.MNIST,
    )
    torch.testing.assert_close(a, b)  # reproducible from the generator
    assert not torch.equal(a[0], a[1])  # drawn per image
