"""Shared fixtures and helpers: the real data, the shipped checkpoints, polling with a
deadline, and the drawings, scans and subprocesses that more than one test module uses."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from se_demo.classroom.store import DB_ENV_VAR
from se_demo.classroom.worker import WORKER_ENV_VAR
from se_demo.core.config import CHECKPOINT_DIR, DATA_ENV_VAR, PROJECT_ROOT, RUNS_ENV_VAR
from se_demo.core.data import Split, load_split
from se_demo.core.datafiles import MNIST_FILES
from se_demo.core.registry import DatasetName
from se_demo.drawing.preprocess import ImageRejectedError, open_upload
from tools.canvas import CANVAS_SIZE, Point
from tools.postgres import PostgresServer, start_postgres

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_CHECKPOINTS = CHECKPOINT_DIR / "mnist"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST root: $SE_DEMO_DATA, else ../shared/data beside the checkout."""
    root = Path(os.environ.get(DATA_ENV_VAR) or SHARED_DATA)
    if not (root / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST not found under {root}; set {DATA_ENV_VAR} to the data root")
    return root


@pytest.fixture(scope="session", autouse=True)
def _class_store_per_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Pages that reach the class's store get a fresh one under a temporary runs folder
    (never the project's runs/), and no worker unless a test asks for one
    (``SE_DEMO_WORKER=embedded``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RUNS_ENV_VAR, str(tmp_path_factory.mktemp("runs")))
        patch.setenv(WORKER_ENV_VAR, "none")
        patch.delenv(DB_ENV_VAR, raising=False)
        yield


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server (Debian's), on a Unix socket, for the whole session."""
    try:
        server = start_postgres()
    except (RuntimeError, subprocess.CalledProcessError) as error:
        pytest.fail(f"PostgreSQL could not start (scripts/test.sh installs it): {error}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty class store: an SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'class.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"t_{os.getpid()}_{next(_DATABASES)}")


_DATABASES = itertools.count()


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


@pytest.fixture(scope="session")
def fashion_test_split(data_dir: Path) -> Split:
    """Fashion-MNIST's test split, which scripts/test.sh unpacks beside MNIST."""
    if not (data_dir / "FashionMNIST" / "raw").is_dir():
        pytest.fail(
            f"Fashion-MNIST not found under {data_dir}: scripts/test.sh unpacks it from "
            "Debian's dataset-fashion-mnist"
        )
    return load_split(False, data_dir, download=False, dataset="fashion")


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


# --- Waiting ---------------------------------------------------------------------------------


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Call ``predicate`` every ``interval`` seconds until it is true; after ``timeout``
    seconds raise TimeoutError saying ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}, in vain")
        time.sleep(interval)


class Clock:
    """A clock a test moves by hand (``clock.now += 2``), for the store's times."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def settle_the_lab(timeout: float = 300) -> None:
    """Wait until every run in the class's store of this moment has ended (a finished run
    is shown before its SE interventions are added), then stop the worker that this test
    process started for it."""
    from app_pages import resources

    queue = resources.class_queue()
    done = lambda: all(run.completed_at is not None for run in queue.runs())  # noqa: E731
    wait_for(done, timeout, "the lab's runs to end", interval=0.5)
    worker = resources.start_class_worker()
    if worker is not None:
        worker.terminate()
        worker.wait(30)


def element_texts(node: object) -> Iterator[tuple[str, str]]:
    """(text, help) of every element under an AppTest node, in page order; not the glossary."""
    proto = getattr(node, "proto", None)
    if type(node).__name__ == "Expander" and getattr(proto, "label", "") == "Glossary":
        return
    if proto is not None:
        fields = {f.name: v for f, v in proto.ListFields() if isinstance(v, str)}
        text = " ".join(fields.get(k, "") for k in ("label", "body", "value", "placeholder"))
        if text.strip():
            yield text, fields.get("help", "")
    for child in getattr(node, "children", {}).values():
        yield from element_texts(child)


def rerun_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float, what: str) -> None:
    """Rerun an AppTest page every half second until ``done(at)``, failing on any exception."""

    def rerun_and_check() -> bool:
        at.run()
        assert not at.exception, at.exception
        return done(at)

    if not done(at):
        wait_for(rerun_and_check, timeout, what, interval=0.5)


# --- Shipped files and fresh processes -------------------------------------------------------


def shipped_digest() -> str:
    """SHA-256 over the names and bytes of the shipped MNIST checkpoints."""
    digest = hashlib.sha256()
    for path in sorted(MNIST_CHECKPOINTS.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


HEAVY = ("torch", "torchvision", "sklearn", "scipy.stats")
RUN_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file({path!r}, default_timeout=120)
app.run()
assert not app.exception, app.exception
assert app.title, "the page drew nothing"
print(json.dumps([name for name in {heavy!r} if name in sys.modules]))
"""


def heavy_imports(path: str, data_dir: str) -> set[str]:
    """Which of `HEAVY` a page imports when run alone in a fresh process."""
    script = RUN_PAGE.format(path=path, heavy=HEAVY)
    env = {**os.environ, DATA_ENV_VAR: data_dir}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


# --- Drawings, scans and uploads -------------------------------------------------------------


def draw_strokes(
    strokes: list[list[Point]], width: int = 20, size: int = CANVAS_SIZE
) -> np.ndarray:
    """What the canvas returns: white anti-aliased strokes on a transparent (H, W, 4) RGBA."""
    scale = 4  # draw large and shrink: anti-aliased edges like the browser's
    image = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        points = [(x * scale, y * scale) for x, y in stroke]
        pen.line(points, fill=(255, 255, 255, 255), width=width * scale, joint="curve")
        for x, y in (points[0], points[-1]):
            r = width * scale / 2
            pen.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255, 255))
    return np.asarray(image.resize((size, size), Image.Resampling.BOX))


def scan_png(image: np.ndarray) -> bytes:
    """A test digit as a 'scan': dark ink on light paper, enlarged, as a PNG."""
    paper = Image.fromarray(255 - image).resize((224, 224), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    paper.save(buffer, "PNG")
    return buffer.getvalue()


def refused_before_decoding(payload: bytes, monkeypatch: pytest.MonkeyPatch) -> str:
    """The message `open_upload` refuses ``payload`` with, asserting no pixel was decoded."""
    decoded: list[str] = []
    original = Image.Image.load

    def spy(self: Image.Image) -> object:
        decoded.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    with pytest.raises(ImageRejectedError) as refused:
        open_upload(payload)
    assert decoded == []  # refused from the header alone
    return str(refused.value)
