"""Shared fixtures: the real MNIST data and the shipped checkpoints."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from se_demo.config import CHECKPOINT_DIR, DATA_ENV_VAR
from se_demo.data import Split, load_split
from se_demo.datafiles import MNIST_FILES
from se_demo.registry import DatasetName

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_CHECKPOINTS = CHECKPOINT_DIR / "mnist"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST root: $SE_DEMO_DATA, else ../shared/data beside the checkout."""
    root = Path(os.environ.get(DATA_ENV_VAR) or SHARED_DATA)
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST not found under {root}; set {DATA_ENV_VAR} to the data root")
    return root


@pytest.fixture
def mnist_copy(tmp_path: Path, data_dir: Path) -> Path:
    """A data root in ``tmp_path`` holding a writable copy of MNIST's four files."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copy(data_dir / "MNIST" / "raw" / name, raw / name)
    return tmp_path


@pytest.fixture
def truncated_data(mnist_copy: Path) -> Path:
    """That copy with its test images cut short, as a broken download leaves them."""
    images = mnist_copy / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:100_000])
    return mnist_copy


@pytest.fixture(scope="session")
def train_split(data_dir: Path) -> Split:
    return load_split(True, data_dir, download=False, dataset=DatasetName.MNIST)


@pytest.fixture(scope="session")
def test_split(data_dir: Path) -> Split:
    return load_split(False, data_dir, download=False, dataset=DatasetName.MNIST)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def plotly_values(data: object) -> np.ndarray:
    """A plotly JSON array as numpy: a plain list, or a typed array {dtype, bdata, shape}."""
    if isinstance(data, dict) and "bdata" in data:
        values = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = data.get("shape")
        return values.reshape([int(n) for n in str(shape).split(",")]) if shape else values
    return np.asarray(data)


def plotly_charts(at: AppTest) -> dict[str, dict]:
    """An AppTest page's plotly figures (their JSON) by the key they were drawn with."""
    return {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
