"""Shared, read-only resources for every page: loaded once per server, never mutated.

The sidebar and the Results page import no torch: records, saved evaluations and test
images are read with numpy (torch and torchvision take about 5 s to import on a 2-core
machine). torch is imported the first time a page runs a model.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from se_demo.analysis.results import Evaluation, load_evaluation
from se_demo.core.checkpoints import Checkpoint, check_model_files, load_checkpoints
from se_demo.core.config import CHECKPOINT_DIR, SERVING_THREADS, resolve_data_dir, runs_root
from se_demo.core.datafiles import DatasetUnavailableError, dataset_available, read_split
from se_demo.core.registry import MODEL_KINDS, DatasetName

if TYPE_CHECKING:
    from se_demo.classroom.digits import ClassDigits
    from se_demo.classroom.queue import ClassQueue
    from se_demo.core.data import Split

MNIST_CHECKPOINTS = CHECKPOINT_DIR / DatasetName.MNIST
_LOG = logging.getLogger(__name__)


def weights_key(directory: Path, names: tuple[str, ...] = MODEL_KINDS) -> tuple[str, ...]:
    """The weights' SHA-256 each record names (empty where unreadable): what the caches
    below are keyed by, with the folder, so that files saved again into a folder while the
    server runs are read again, never paired with what was cached before.
    """
    key = []
    for name in names:
        try:
            record = json.loads((Path(directory) / f"{name}.json").read_text())
            key.append(str(record.get("weights_sha256", "")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            key.append("")
    return tuple(key)


def load_records(directory: Path = MNIST_CHECKPOINTS) -> dict[str, dict[str, Any]]:
    """The records of both models, after checking their weight files (format, checksum,
    header, the model each holds) without importing torch. Raises CheckpointError.
    """
    return _records(Path(directory), weights_key(directory))


@st.cache_resource(show_spinner="Checking the checkpoints...")
def _records(directory: Path, weights: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    return {name: check_model_files(directory, name, name)[1] for name in MODEL_KINDS}


def load_models(directory: Path = MNIST_CHECKPOINTS) -> dict[str, Checkpoint]:
    """Both models, in eval mode, with their configs, dataset and records; shared by all
    sessions (never change them).

    Call `load_records` first: it gives the clearer message for a damaged folder. The
    first call also sets torch's thread count for the whole server, once.
    """
    _set_torch_threads()
    return _models(Path(directory), weights_key(directory))


@st.cache_resource(show_spinner="Loading the models...")
def _models(directory: Path, weights: tuple[str, ...]) -> dict[str, Checkpoint]:
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
    record = Path(directory) / "evaluation.json"
    version = record.stat().st_mtime_ns if record.is_file() else 0
    return _results(Path(directory), weights_key(directory, ("evaluation",)), version)


@st.cache_resource(show_spinner="Loading the saved evaluation...", max_entries=32)
def _results(directory: Path, weights: tuple[str, ...], version: int) -> Evaluation:
    return load_evaluation(directory)


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


def link_to_seeds_page() -> None:
    """A link to the multi-seed comparison; plain text when the page runs alone (AppTest)."""
    label = "Seeds and ablations: does SE help over many seeds?"
    try:
        st.page_link("app_pages/experiments.py", label=label, icon=":material/casino:")
    except StreamlitPageNotFoundError:  # no st.navigation around this page
        st.caption(f"See the page {label}")


def data_dir_label() -> str:
    """Where the app looks for MNIST, for messages."""
    return str(resolve_data_dir().resolve())
