"""The class's digits as files: MNIST's IDX format, NumPy's ``.npz`` and a CSV.

- IDX: a folder with ``class-images-idx3-ubyte`` and ``class-labels-idx1-ubyte``, laid
  out exactly as MNIST ships its files (big-endian header, uint8), so the readers of MNIST
  (torchvision's, the original study's code, `se_demo.core.datafiles.read_idx`) read it;
- npz: ``images`` (N, 28, 28) uint8 and ``labels`` (N,) uint8, stored uncompressed;
- CSV: a header ``label,pixel0,...,pixel783`` and one digit a row, label first.

Every writer is deterministic (the same digits give the same bytes: no timestamps), so an
export, an import and a second export give identical files. Reading never unpickles.
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np

from se_demo.core.config import IMAGE_SIZE
from se_demo.core.datafiles import read_idx
from se_demo.core.files import write_bytes_atomic

FORMATS = ("idx", "npz", "csv")
IMAGES_FILE, LABELS_FILE = "class-images-idx3-ubyte", "class-labels-idx1-ubyte"
NPZ_FILE, CSV_FILE = "class-digits.npz", "class-digits.csv"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no real time in the file


def _idx_bytes(array: np.ndarray) -> bytes:
    values = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, values.ndim]) + np.array(values.shape, dtype=">u4").tobytes()
    return header + values.tobytes()


def export_files(images: np.ndarray, labels: np.ndarray, fmt: str) -> dict[str, bytes]:
    """The files of an export in ``fmt``, by name (the page offers them for download)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    images = np.asarray(images, dtype=np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    labels = np.asarray(labels, dtype=np.uint8)
    if fmt == "idx":
        return {IMAGES_FILE: _idx_bytes(images), LABELS_FILE: _idx_bytes(labels)}
    if fmt == "npz":
        return {NPZ_FILE: _npz_bytes({"images": images, "labels": labels})}
    return {CSV_FILE: _csv_bytes(images, labels)}


def zipped(files: dict[str, bytes]) -> bytes:
    """Files in one deterministic zip (an IDX export is a folder of two)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def export_digits(images: np.ndarray, labels: np.ndarray, out: Path, fmt: str) -> list[Path]:
    """Write the digits into the folder ``out`` in ``fmt``; returns the files written."""
    files = export_files(images, labels, fmt)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_bytes_atomic(out / name, data)
    return [out / name for name in files]


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _csv_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["label", *(f"pixel{i}" for i in range(IMAGE_SIZE * IMAGE_SIZE))])
    for image, label in zip(images, labels, strict=True):
        writer.writerow([int(label), *(int(v) for v in image.reshape(-1))])
    return text.getvalue().encode()


def read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Digits from an export: an IDX folder (gzipped or not), an ``.npz`` or a ``.csv`` (or
    a folder holding one of them). Returns images (N, 28, 28) uint8 and labels (N,) int64.

    Raises ValueError, saying what was expected, for anything else.
    """
    path = Path(path)
    if path.is_dir():
        if (path / IMAGES_FILE).exists() or (path / f"{IMAGES_FILE}.gz").exists():
            return _checked(read_idx(path / IMAGES_FILE), read_idx(path / LABELS_FILE))
        images = sorted(path.glob("*images-idx3-ubyte*"))
        labels = sorted(path.glob("*labels-idx1-ubyte*"))
        if len(images) == 1 and len(labels) == 1:
            return _checked(read_idx(_stem(images[0])), read_idx(_stem(labels[0])))
        for name in (NPZ_FILE, CSV_FILE):
            if (path / name).exists():
                return read_digits(path / name)
        raise ValueError(
            f"'{path}' holds no digits: expected one *-images-idx3-ubyte and one "
            f"*-labels-idx1-ubyte file (or .gz), {NPZ_FILE} or {CSV_FILE}"
        )
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix == ".csv":
        return _read_csv(path)
    raise ValueError(f"'{path}' is not an IDX folder, an .npz or a .csv of digits")


def _stem(path: Path) -> Path:
    return path.with_suffix("") if path.suffix == ".gz" else path


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        arrays = {}
        for name in ("images", "labels"):
            with archive.open(f"{name}.npy") as member:
                arrays[name] = np.lib.format.read_array(
                    io.BytesIO(member.read()), allow_pickle=False
                )
    return _checked(arrays["images"], arrays["labels"])


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as file:
        rows = list(csv.reader(file))
    if not rows or rows[0][:1] != ["label"] or len(rows[0]) != 1 + IMAGE_SIZE * IMAGE_SIZE:
        raise ValueError(f"'{path}' is not a digits CSV: its header must be label,pixel0..pixel783")
    values = np.array(rows[1:], dtype=np.int64).reshape(-1, 1 + IMAGE_SIZE * IMAGE_SIZE)
    if values.size and (values[:, 1:].min() < 0 or values[:, 1:].max() > 255):
        raise ValueError(f"'{path}' has pixel values outside 0-255")
    return _checked(values[:, 1:].astype(np.uint8), values[:, 0])


def _checked(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images).reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.uint8)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be digits from 0 to 9")
    return images, labels
