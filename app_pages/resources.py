"""Shared, read-only resources for every page: loaded once per server, never mutated.

The sidebar and the Results page import no torch: records, saved evaluations and test
images are read with numpy (torch and torchvision take about 5 s to import on a 2-core
machine). torch is imported the first time a page runs a model.

Every cache is keyed by the content it reads: a checkpoint folder's files by the SHA-256
of their saved records (`saved_key`), so a command that saves them again while the server
runs is seen at the next rerun; the test images by their data root (the dataset's files
are downloaded once, never rewritten). The caches that grow with the runs students look
at keep the latest `FOLDERS_KEPT` folders.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from se_demo.analysis.excitation_stats import class_means
from se_demo.analysis.results import Evaluation, load_evaluation
from se_demo.core.checkpoints import (
    Checkpoint,
    CheckpointError,
    check_model_files,
    load_checkpoints,
)
from se_demo.core.config import CHECKPOINT_DIR, SERVING_THREADS, resolve_data_dir, runs_root
from se_demo.core.datafiles import DatasetUnavailableError, dataset_available, read_split
from se_demo.core.registry import MODEL_KINDS, DatasetName, ModelKind, dataset_info
from se_demo.robustness.results import Robustness, load_robustness

if TYPE_CHECKING:
    from se_demo.analysis.channel_effects import ChannelEffect
    from se_demo.classroom.digits import ClassDigits
    from se_demo.classroom.queue import ClassQueue
    from se_demo.core.data import Split

MNIST_CHECKPOINTS = CHECKPOINT_DIR / DatasetName.MNIST
# Checkpoint folders (the shipped ones, lab runs) whose loaded models a server keeps at once;
# each pair of models takes about 27 MB, and every run a student selects adds one.
FOLDERS_KEPT = 8
_LOG = logging.getLogger(__name__)


def saved_key(directory: Path, *names: str) -> tuple[str, ...]:
    """The SHA-256 of each saved record ``directory/<name>.json`` ('' where missing or
    unreadable): what every cache of the pages is keyed by, with the folder.

    A record names its tensors' SHA-256, so a file saved again while the server runs (a
    retrained model, ``python -m se_demo evaluate``, ``channels`` or ``robustness``) changes
    the key: it is read again, never paired with what was cached before.
    """
    key = []
    for name in names:
        try:
            key.append(hashlib.sha256((Path(directory) / f"{name}.json").read_bytes()).hexdigest())
        except OSError:
            key.append("")
    return tuple(key)


def load_records(directory: Path = MNIST_CHECKPOINTS) -> dict[str, dict[str, Any]]:
    """The records of both models, after checking their weight files (format, checksum,
    header, the model each holds) without importing torch. Raises CheckpointError.
    """
    return _records(Path(directory), saved_key(directory, *MODEL_KINDS))


@st.cache_resource(show_spinner="Checking the checkpoints...", max_entries=4 * FOLDERS_KEPT)
def _records(directory: Path, key: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: check_model_files(directory, name, name)[1] for name in MODEL_KINDS}


def load_models(directory: Path = MNIST_CHECKPOINTS) -> dict[str, Checkpoint]:
    """Both models, in eval mode, with their configs, dataset and records; shared by all
    sessions (never change them).

    Call `load_records` first: it gives the clearer message for a damaged folder. The
    first call also sets torch's thread count for the whole server, once.
    """
    _set_torch_threads()
    return _models(Path(directory), saved_key(directory, *MODEL_KINDS))


@st.cache_resource(show_spinner="Loading the models...", max_entries=FOLDERS_KEPT)
def _models(directory: Path, key: tuple[str, ...]) -> dict[str, Checkpoint]:
    return load_checkpoints(directory)


@st.cache_resource(show_spinner=False)
def _set_torch_threads() -> int:
    import torch

    torch.set_num_threads(SERVING_THREADS)
    return SERVING_THREADS


def load_results(directory: Path = MNIST_CHECKPOINTS) -> Evaluation:
    """The saved test-set evaluation of both models (no dataset needed).

    Read again when its record changes: a run's SE interventions arrive after the run is
    already shown (`se_demo.training.runs.complete_run`).
    """
    return _results(Path(directory), saved_key(directory, "evaluation"))


@st.cache_resource(show_spinner="Loading the saved evaluation...", max_entries=4 * FOLDERS_KEPT)
def _results(directory: Path, key: tuple[str, ...]) -> Evaluation:
    return load_evaluation(directory)


def load_class_means(directory: Path = MNIST_CHECKPOINTS) -> dict[str, np.ndarray]:
    """The SENet's mean excitation per class on the test set, from its saved evaluation:
    {block: (classes, C)}; empty when the evaluation holds no excitations. Raises
    CheckpointError when the evaluation is missing or damaged.
    """
    return _class_means(Path(directory), saved_key(directory, "evaluation"))


@st.cache_data(show_spinner=False, max_entries=4 * FOLDERS_KEPT)
def _class_means(directory: Path, key: tuple[str, ...]) -> dict[str, np.ndarray]:
    results = load_results(directory)
    classes = len(dataset_info(results.record.get("dataset", DatasetName.MNIST)).class_names)
    return {
        block: class_means(values, results.labels, classes)
        for block, values in results.excitations.get(ModelKind.SENET, {}).items()
    }


def load_sweep(directory: Path) -> Robustness:
    """The saved robustness sweep of the models in ``directory`` (`python -m se_demo
    robustness`). Raises CheckpointError when it is missing or damaged.
    """
    return _sweep(Path(directory), saved_key(directory, "robustness"))


@st.cache_resource(show_spinner="Loading the saved robustness sweep...", max_entries=FOLDERS_KEPT)
def _sweep(directory: Path, key: tuple[str, ...]) -> Robustness:
    return load_robustness(directory)


def load_saved_channel_effects(directory: Path) -> dict[str, list[ChannelEffect]] | None:
    """The saved channel effects of the SENet in ``directory`` (`python -m se_demo
    channels`); None when missing, measured on other weights, or damaged (logged).
    """
    return _channel_effects(
        Path(directory), saved_key(directory, "channel_effects", ModelKind.SENET)
    )


@st.cache_data(show_spinner=False, max_entries=FOLDERS_KEPT)
def _channel_effects(
    directory: Path, key: tuple[str, ...]
) -> dict[str, list[ChannelEffect]] | None:
    from se_demo.analysis.channel_effects import load_channel_effects  # imports torch

    try:
        return load_channel_effects(directory, load_records(directory)[ModelKind.SENET])
    except CheckpointError as error:
        _LOG.warning("%s", error)
        return None


def load_test_images(dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The test images (N, 28, 28) uint8 and labels (N,), read-only, from the data root
    of this moment; None when missing or unreadable (never downloads).
    """
    return _test_images(dataset, resolve_data_dir().resolve())


def load_test_split(dataset: str) -> Split | None:
    """The same test set as tensors, for the pages that run models."""
    return _test_split(dataset, resolve_data_dir().resolve())


@st.cache_resource(show_spinner="Loading the test images...")
def _test_images(dataset: str, root: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not dataset_available(root, dataset=dataset):
        return None
    try:
        return read_split(False, root, dataset=dataset)
    except DatasetUnavailableError as error:  # truncated or corrupt files: the pages run
        _LOG.warning("%s", error)  # on the saved results, as without the dataset
        return None


@st.cache_resource(show_spinner="Loading the test set...")
def _test_split(dataset: str, root: Path) -> Split | None:
    import torch

    from se_demo.core.data import Split

    arrays = _test_images(dataset, root)
    if arrays is None:
        return None
    images, labels = arrays
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.copy()))


def class_queue() -> ClassQueue:
    """The lab's queue in the class's store (``SE_DEMO_DB``), shared by every session and
    every replica; starts this server's embedded worker the first time (unless
    ``SE_DEMO_WORKER=none``). Raises StoreError when the store cannot be reached.
    """
    from se_demo.classroom.store import store_url

    queue = _class_queue(store_url(), lecturer_key())
    start_class_worker()
    return queue


def class_digits() -> ClassDigits:
    """The class's digits in the class's store (the same store as the lab's queue).

    Raises StoreError when the store cannot be reached.
    """
    from se_demo.classroom.digits import ClassDigits

    return ClassDigits(class_queue())


def start_class_worker() -> subprocess.Popen[bytes] | None:
    """This server's embedded worker (started once; None with ``SE_DEMO_WORKER=none``).

    It trains the class's queued runs in its own process; replicas on one machine share
    one (`se_demo.classroom.worker`). Needs no database to start: it waits for one.
    """
    from se_demo.classroom.store import store_url

    return _embedded_worker(store_url(), runs_root().resolve(), resolve_data_dir().resolve())


def lecturer_key() -> str | None:
    """The lecturer's key: ``lecturer_key`` in .streamlit/secrets.toml, else
    ``$SE_DEMO_LECTURER_KEY``; None when neither is set (then nobody has the controls)."""
    from se_demo.classroom.queue import lecturer_key_from_env

    try:
        key = st.secrets.get("lecturer_key")
    except FileNotFoundError:  # no secrets.toml: the environment decides
        key = None
    return str(key) if key else lecturer_key_from_env()


@st.cache_resource(show_spinner=False)
def _class_queue(url: str, key: str | None) -> ClassQueue:
    from se_demo.classroom.queue import ClassQueue
    from se_demo.classroom.store import open_store

    return ClassQueue(open_store(url), lecturer_key=key)


@st.cache_resource(show_spinner=False)
def _embedded_worker(url: str, root: Path, data_dir: Path) -> subprocess.Popen[bytes] | None:
    from se_demo.classroom.worker import embedded_worker_wanted, start_embedded_worker

    if not embedded_worker_wanted():
        return None
    return start_embedded_worker(url, data_dir=data_dir, root=root)


def active_dataset() -> str:
    """The dataset this session looks at (chosen in the sidebar)."""
    return str(st.session_state.get("dataset", DatasetName.MNIST))


def active_model_dir() -> Path:
    """The checkpoint folder this session shows: the shipped one, or a selected run."""
    chosen = st.session_state.get("model_dir")
    return Path(chosen) if chosen else CHECKPOINT_DIR / active_dataset()


def data_dir_label() -> str:
    """Where the app looks for MNIST, for messages."""
    return str(resolve_data_dir().resolve())
