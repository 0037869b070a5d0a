"""Shared fixtures: the real MNIST data and the shipped checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from se_demo.config import CHECKPOINT_DIR, DATA_ENV_VAR
from se_demo.data import Split, load_split

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_CHECKPOINTS = CHECKPOINT_DIR / "mnist"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST root: $SE_DEMO_DATA, else ../shared/data beside the checkout."""
    root = Path(os.environ.get(DATA_ENV_VAR) or SHARED_DATA)
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST not found under {root}; set {DATA_ENV_VAR} to the data root")
    return root


@pytest.fixture(scope="session")
def train_split(data_dir: Path) -> Split:
    return load_split(True, data_dir, download=False)


@pytest.fixture(scope="session")
def test_split(data_dir: Path) -> Split:
    return load_split(False, data_dir, download=False)


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
