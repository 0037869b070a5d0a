"""The dataset's files on disk: where they are, whether they are there, and reading them
with numpy alone.

torchvision downloads and reads the files for training (`se_demo.core.data`). The app reads
the test images here instead, because importing torch and torchvision costs about 5 s
on a 2-core machine, and the Results page must draw in well under that. The format is
MNIST's IDX: a big-endian header (two zero bytes, a type code, the number of
dimensions, then each dimension as a 32-bit integer) followed by the raw values; a test
checks that this reader returns exactly what torchvision's does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

from se_demo.core.config import DATA_ENV_VAR, TEST_IMAGES, TRAIN_IMAGES, resolve_data_dir
from se_demo.core.registry import dataset_info

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
IDX_UINT8 = 0x08  # the only type code MNIST and Fashion-MNIST use
SPLIT_SIZES = {True: TRAIN_IMAGES, False: TEST_IMAGES}  # train, test


class DatasetUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable; the message says how to fix it."""


def missing_message(root: Path, dataset: str, reason: str) -> str:
    """What is missing where, and the ways to provide it."""
    info = dataset_info(dataset)
    expected = "\n".join(f"  {root / info.folder / 'raw' / name}" for name in MNIST_FILES)
    return (
        f"{info.title} is not available under data root '{root}' ({reason}).\n"
        f"Expected these four files (or their .gz archives):\n{expected}\n"
        f"Download them on a machine with internet (se-demo does this itself when it can), "
        f"or point se-demo at a folder that holds them with --data-dir or "
        f"{DATA_ENV_VAR}=/path/to/root (the folder that contains {info.folder}/raw)."
    )


def dataset_available(data_dir: str | os.PathLike[str] | None = None, *, dataset: str) -> bool:
    """Whether both splits are on disk, without downloading anything."""
    raw = resolve_data_dir(data_dir) / dataset_info(dataset).folder / "raw"
    return all((raw / name).is_file() or (raw / f"{name}.gz").is_file() for name in MNIST_FILES)


def read_idx(path: Path) -> np.ndarray:
    """A uint8 IDX file (or its ``.gz`` archive) as an array of the shape its header gives.

    Raises ValueError for a file that is not uint8 IDX or whose size does not match its
    header (a truncated download, for instance).
    """
    path = Path(path)
    data = path.read_bytes() if path.is_file() else gzip.decompress(Path(f"{path}.gz").read_bytes())
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != IDX_UINT8:
        raise ValueError(f"'{path}' is not a uint8 IDX file")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(
            f"'{path}' holds {len(data) - header:,} values where its header promises "
            f"{int(np.prod(shape)):,} (shape {shape}): truncated or damaged"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def read_split(
    train: bool, data_dir: str | os.PathLike[str] | None = None, *, dataset: str
) -> tuple[np.ndarray, np.ndarray]:
    """One split from disk: images (N, 28, 28) uint8 and labels (N,) int64; never downloads.

    Raises DatasetUnavailableError when the files are missing, unreadable or truncated.
    """
    root = resolve_data_dir(data_dir)
    raw = root / dataset_info(dataset).folder / "raw"
    prefix = "train" if train else "t10k"
    try:
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte").astype(np.int64)
    except FileNotFoundError:
        raise DatasetUnavailableError(missing_message(root, dataset, "files missing")) from None
    except (OSError, ValueError, EOFError) as error:  # EOFError: a truncated .gz
        raise DatasetUnavailableError(
            missing_message(root, dataset, f"files unreadable: {error}")
        ) from None
    expected = SPLIT_SIZES[train]
    if images.shape != (expected, 28, 28) or labels.shape != (expected,):
        raise DatasetUnavailableError(
            missing_message(root, dataset, f"unexpected shapes {images.shape}, {labels.shape}")
        )
    return images, labels


def split_checksum(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of a split's images (uint8) and labels (int64), to record which data a model saw."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()
