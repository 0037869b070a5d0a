"""Shared, read-only resources for every page: loaded once per server, never mutated."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st
from torch import nn

from se_demo.checkpoints import CheckpointError, load_checkpoint
from se_demo.config import CHECKPOINT_DIR, MODEL_NAMES, resolve_data_dir
from se_demo.data import DatasetUnavailableError, Split, dataset_available, load_split
from se_demo.evaluate import Evaluation, load_evaluation

MNIST_CHECKPOINTS = CHECKPOINT_DIR / "mnist"
_LOG = logging.getLogger(__name__)


@st.cache_resource(show_spinner="Loading the models...")
def load_models(directory: Path = MNIST_CHECKPOINTS) -> dict[str, tuple[nn.Module, dict[str, Any]]]:
    """Both shipped models with their records, in eval mode; shared by all sessions."""
    models = {name: load_checkpoint(directory, name) for name in MODEL_NAMES}
    for name, (_, record) in models.items():
        if record["model"]["name"] != name:  # e.g. a basic CNN saved in the SENet's place
            raise CheckpointError(
                f"'{directory / name}.json' holds a {record['model']['name']} model, not a {name}"
            )
    return models


@st.cache_resource(show_spinner="Loading the saved evaluation...")
def load_results(directory: Path = MNIST_CHECKPOINTS) -> Evaluation:
    """The saved test-set evaluation of both models (no dataset needed)."""
    return load_evaluation(directory)


@st.cache_resource(show_spinner="Loading the test set...")
def load_test_split(dataset: str = "mnist") -> Split | None:
    """The test images, or None when the dataset is missing or unreadable (never downloads)."""
    if not dataset_available(dataset=dataset):
        return None
    try:
        return load_split(False, download=False, dataset=dataset)
    except DatasetUnavailableError as error:  # truncated or corrupt files: the pages run
        _LOG.warning("%s", error)  # on the saved results, as without the dataset
        return None


def active_dataset() -> str:
    """The dataset this session looks at (chosen in the sidebar)."""
    return str(st.session_state.get("dataset", "mnist"))


def active_model_dir() -> Path:
    """The checkpoint folder this session shows: the shipped one, or a selected run."""
    chosen = st.session_state.get("model_dir")
    return Path(chosen) if chosen else CHECKPOINT_DIR / active_dataset()


def data_dir_label() -> str:
    """Where the app looks for MNIST, for messages."""
    return str(resolve_data_dir().resolve())
