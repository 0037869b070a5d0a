"""Shared, read-only resources for every page: loaded once per server, never mutated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from torch import nn

from se_demo.checkpoints import load_checkpoint
from se_demo.config import CHECKPOINT_DIR, MODEL_NAMES, resolve_data_dir
from se_demo.data import Split, dataset_available, load_split
from se_demo.evaluate import Evaluation, load_evaluation

MNIST_CHECKPOINTS = CHECKPOINT_DIR / "mnist"


@st.cache_resource(show_spinner="Loading the models...")
def load_models(directory: Path = MNIST_CHECKPOINTS) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
    """Both shipped models with their records, in eval mode; shared by all sessions."""
    return {name: load_checkpoint(directory, name) for name in MODEL_NAMES}


@st.cache_resource(show_spinner="Loading the saved evaluation...")
def load_results(directory: Path = MNIST_CHECKPOINTS) -> Evaluation:
    """The saved test-set evaluation of both models (no dataset needed)."""
    return load_evaluation(directory)


@st.cache_resource(show_spinner="Loading the MNIST test set...")
def load_test_split() -> Split | None:
    """The MNIST test images, or None when the dataset is not on disk (never downloads)."""
    if not dataset_available():
        return None
    return load_split(False, download=False)


def data_dir_label() -> str:
    """Where the app looks for MNIST, for messages."""
    return str(resolve_data_dir().resolve())
