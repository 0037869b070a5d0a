"""What the SE excitation explorer's tabs share: the loaded SENet, the chosen input,
the class view of the saved excitations. Not a page: `app_pages/excitation.py` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from app_pages.resources import FOLDERS_KEPT, load_class_means, load_results, saved_key
from se_demo.analysis.excitation import concat_batches, recording_excitations
from se_demo.analysis.excitation_stats import BlockStatistics, block_statistics
from se_demo.analysis.results import Evaluation
from se_demo.core.checkpoints import Checkpoint
from se_demo.core.data import Split
from se_demo.core.inference import predict_logits
from se_demo.core.registry import DatasetInfo, DatasetName, ModelKind, dataset_info
from se_demo.figures.common import block_title


@dataclass(frozen=True)
class Explorer:
    """What every view of the explorer reads: the SENet, its evaluation, the test set."""

    directory: Path
    senet: Checkpoint  # shared by all sessions: never changed
    results: Evaluation
    split: Split | None  # None when the test images are not on disk

    @property
    def dataset(self) -> DatasetInfo:
        """The dataset the SENet was trained on."""
        return self.senet.dataset

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names)

    @property
    def saved(self) -> dict[str, np.ndarray]:
        """The saved test-set excitations {block: (N, C)}."""
        return self.results.excitations[ModelKind.SENET]

    @property
    def blocks(self) -> list[str]:
        return list(self.saved)

    def key(self, name: str) -> str:
        """A widget key of this checkpoint folder ("exc_class_fashion"): a picker whose
        labels depend on the models must be a new widget when they change, or the browser
        keeps showing the old labels (MNIST's "0" for Fashion's T-shirt/top).
        """
        return f"{name}_{self.directory.name}"


@dataclass(frozen=True)
class ChosenInput:
    """The input the One input and Intervene tabs look at."""

    image: torch.Tensor  # normalised as the SENet was trained (1, 1, 28, 28)
    pixels: np.ndarray  # (28, 28) in [0, 1], for display
    described: str  # "test image 0, a 7" or "your drawing"


def block_label(explorer: Explorer, block: str) -> str:
    """The block's title, e.g. "SE block 3 (64 channels)"."""
    return block_title(block, explorer.saved[block].shape[1])


def class_view(
    directory: str,
) -> tuple[list[BlockStatistics], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Block statistics, class means {block: (K, C)} and test-set means {block: (C,)}."""
    return _class_view(Path(directory), saved_key(Path(directory), "evaluation"))


@st.cache_data(show_spinner=False, max_entries=4 * FOLDERS_KEPT)
def _class_view(
    directory: Path, key: tuple[str, ...]
) -> tuple[list[BlockStatistics], dict[str, np.ndarray], dict[str, np.ndarray]]:
    results = load_results(directory)
    saved = results.excitations[ModelKind.SENET]
    summary = results.record["models"][ModelKind.SENET]
    # The evaluation's float32 means when saved, else the mean of the float16 excitations.
    means = summary.get("mean_excitation") or {b: x.mean(0) for b, x in saved.items()}
    classes = len(dataset_info(results.record.get("dataset", DatasetName.MNIST)).class_names)
    return (
        block_statistics(saved, results.labels, classes),
        load_class_means(directory),
        {block: np.asarray(m, dtype=np.float32) for block, m in means.items()},
    )


def run_senet(
    model: torch.nn.Module, image: torch.Tensor
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One normalised input's excitations {block: (C,)} and logits (K,)."""
    with recording_excitations(model) as store:
        logits = predict_logits(model, image)[0].numpy()
    return {b: x[0].numpy() for b, x in concat_batches(store).items()}, logits
