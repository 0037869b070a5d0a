"""Classroom reliability: the rows of the bad-input catalogue (RELIABILITY.md) that no
other test covers, a save killed with SIGKILL, and two sessions that never see each
other's actions."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest
from torch import nn

from app_pages import resources
from se_demo.core.checkpoints import (
    Checkpoint,
    load_checkpoint,
    load_checkpoints,
    save_checkpoint,
    save_tensors,
)
from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT, RUNS_ENV_VAR, ModelConfig, to_dict
from se_demo.core.data import Split
from se_demo.core.files import sha256_file
from se_demo.core.models import build_model
from se_demo.drawing.answers import answer_both
from se_demo.drawing.preprocess import drawing_to_mnist, upload_to_mnist
from se_demo.training.runs import list_runs
from tests.conftest import (
    MNIST_CHECKPOINTS,
    draw_strokes,
    refused_before_decoding,
    rerun_until,
    settle_the_lab,
    wait_for,
)
from tools.canvas import CANVAS_SIZE, DIGITS

APP = str(PROJECT_ROOT / "app.py")
PAGES = PROJECT_ROOT / "app_pages"
TIMEOUT = 120
STROKES = {digit: DIGITS[digit] for digit in (7, 0, 1)}


@pytest.fixture(scope="module")
def models() -> dict[str, Checkpoint]:
    return load_checkpoints(MNIST_CHECKPOINTS)


def _app(page: str | None = None) -> AppTest:
    """A fresh session of the whole app (frame and sidebar), on ``page`` if given."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(str(PAGES / page)).run()
        assert not at.exception, at.exception
    return at


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _state_digest(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


# --- Canvas: fully white, extreme stroke widths --------------------------------------------


def test_a_fully_white_canvas_is_flagged_not_read(models: dict[str, Checkpoint]) -> None:
    white = np.full((CANVAS_SIZE, CANVAS_SIZE, 4), 255, dtype=np.uint8)
    digit = drawing_to_mnist(white)
    assert digit is not None
    assert digit.sum() == pytest.approx(400)  # a solid 20 x 20 square of ink
    answers = answer_both(models, digit)
    assert answers.warning is not None
    assert "more ink" in answers.warning
    assert all(answer.unsure for answer in answers.models.values())
    assert "neither is sure" in answers.verdict() or answers.disagree


@pytest.mark.parametrize("width", [1, 2, 40])
@pytest.mark.parametrize("digit", sorted(STROKES))
def test_hairline_and_thick_strokes_are_still_read(
    models: dict[str, Checkpoint], digit: int, width: int
) -> None:
    """1 px (thinner than the slider allows) to the slider's 40 px: the models read it."""
    answers = answer_both(models, drawing_to_mnist(draw_strokes(STROKES[digit], width)))
    assert answers.warning is None
    assert [(a.digit, a.unsure) for a in answers.models.values()] == [(digit, False)] * 2


@pytest.mark.parametrize("width", [200, 400])
@pytest.mark.parametrize("digit", sorted(STROKES))
def test_strokes_wider_than_a_digit_are_never_presented_as_an_answer(
    models: dict[str, Checkpoint], digit: int, width: int
) -> None:
    answers = answer_both(models, drawing_to_mnist(draw_strokes(STROKES[digit], width)))
    assert answers.warning is not None
    assert all(answer.unsure for answer in answers.models.values())


def test_the_stroke_width_slider_is_bounded() -> None:
    at = AppTest.from_file(str(PAGES / "draw.py"), default_timeout=TIMEOUT).run()
    slider = at.slider(key="draw_stroke_width")
    assert (slider.min, slider.max) == (5, 40)


# --- Uploads: formats, bombs and huge dimensions ----------------------------------------------


def _paper(image: np.ndarray) -> Image.Image:
    """A test digit as a 'scan': dark ink on light paper, 224 x 224, mode L."""
    return Image.fromarray(255 - image).resize((224, 224), Image.Resampling.BICUBIC)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_16bit_grey(pixels: np.ndarray) -> bytes:
    """A 16-bit greyscale PNG (PIL can read but not write one)."""
    height, width = pixels.shape
    rows = b"".join(b"\x00" + pixels[r].astype(">u2").tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


def _png_bomb(side: int) -> bytes:
    """A genuine, valid 1-bit PNG of side x side black pixels: kilobytes on disk."""
    rows = (b"\x00" + bytes(side // 8)) * side
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows, 9))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_claiming(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size."""
    at = jpeg.index(b"\xff\xc0") + 5  # marker, 2 bytes length, 1 byte precision
    return jpeg[:at] + struct.pack(">HH", height, width) + jpeg[at + 4 :]


def _transparent_palette(image: np.ndarray) -> bytes:
    """Black ink on a transparent background, saved as a 16-colour palette PNG."""
    ink = np.asarray(Image.fromarray(image).resize((224, 224), Image.Resampling.BICUBIC))
    rgba = np.zeros((224, 224, 4), dtype=np.uint8)
    rgba[..., 3] = ink
    return _encode(Image.fromarray(rgba).quantize(16), "PNG")


def _best_shifted_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """The highest pixel correlation of ``a`` with ``b`` moved by up to one pixel."""
    return max(
        float(np.corrcoef(a.ravel(), np.roll(b, (dy, dx), axis=(0, 1)).ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


UPLOAD_FORMATS: dict[str, Callable[[np.ndarray], bytes]] = {
    "16-bit grey PNG": lambda im: _png_16bit_grey(np.asarray(_paper(im), np.uint16) * 257),
    "CMYK JPEG": lambda im: _encode(_paper(im).convert("CMYK"), "JPEG", quality=95),
    "palette PNG": lambda im: _encode(
        _paper(im).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG"
    ),
    "palette PNG, transparent background": _transparent_palette,
    "animated PNG (first frame)": lambda im: _encode(
        _paper(im),
        "PNG",
        save_all=True,
        append_images=[Image.new("L", (224, 224), 255), _paper(255 - im)],
        duration=200,
        loop=0,
    ),
}


@pytest.mark.parametrize("kind", list(UPLOAD_FORMATS))
def test_unusual_image_formats_read_like_a_plain_scan(
    kind: str, test_split: Split, models: dict[str, Checkpoint]
) -> None:
    image, label = test_split.images[0].numpy(), int(test_split.labels[0])
    plain = upload_to_mnist(_encode(_paper(image), "PNG"))
    digit = upload_to_mnist(UPLOAD_FORMATS[kind](image))
    assert plain is not None
    assert digit is not None
    # The same digit, up to the one-pixel centring step that a centre of mass at x.5
    # can take either way (MNIST's integer shifts).
    assert _best_shifted_correlation(digit, plain) > 0.98
    assert digit.sum() == pytest.approx(plain.sum(), rel=0.05)
    answers = answer_both(models, digit)
    assert [(a.digit, a.unsure) for a in answers.models.values()] == [(label, False)] * 2


def test_the_page_reads_every_unusual_format(test_split: Split) -> None:
    """One session uploads them one after the other; each gets both answers."""
    at = AppTest.from_file(str(PAGES / "draw.py"), default_timeout=TIMEOUT).run()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    for index, (kind, encode) in enumerate(UPLOAD_FORMATS.items()):
        image, label = test_split.images[index].numpy(), int(test_split.labels[index])
        mime = "image/jpeg" if "JPEG" in kind else "image/png"
        at.file_uploader(key="draw_upload").set_value((f"{index}.png", encode(image), mime)).run()
        assert not at.exception, (kind, at.exception)
        assert len(at.error) == 0, (kind, at.error[0].value)
        assert [m.value for m in at.metric] == [str(label)] * 2, kind


def test_a_real_png_decompression_bomb_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = _png_bomb(8_000)  # 64 MP, valid, all zeros
    assert len(bomb) < 20_000
    message = refused_before_decoding(bomb, monkeypatch)
    assert "8000 x 8000 pixels" in message


def test_a_jpeg_claiming_huge_dimensions_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = _encode(Image.new("L", (64, 64), 200), "JPEG")
    message = refused_before_decoding(_jpeg_claiming(small, 9_000, 8_000), monkeypatch)
    assert "9000 x 8000 pixels" in message
    huge = refused_before_decoding(_jpeg_claiming(small, 65_000, 65_000), monkeypatch)
    assert "too large" in huge


def test_the_page_refuses_a_bomb_with_one_message_and_keeps_working(test_split: Split) -> None:
    at = AppTest.from_file(str(PAGES / "draw.py"), default_timeout=TIMEOUT).run()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    at.file_uploader(key="draw_upload").set_value(("bomb.png", _png_bomb(8_000), "image/png"))
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("bomb.png: The image is 8000 x 8000 pixels")
    assert len(at.metric) == 0
    # The same session goes on: the next upload is read.
    scan = _encode(_paper(test_split.images[0].numpy()), "PNG")
    at.file_uploader(key="draw_upload").set_value(("seven.png", scan, "image/png")).run()
    assert not at.exception
    assert len(at.error) == 0
    assert [m.value for m in at.metric] == [str(int(test_split.labels[0]))] * 2


# --- A broken checkpoint folder, a truncated dataset ---------------------------------------


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {PWNED}",))


PWNED = Path("/tmp/se-demo-reliability-pwned")


def _forge_weights(folder: Path, name: str, data: bytes) -> None:
    """Replace a checkpoint's weights with ``data`` and make the record's checksum agree."""
    record = json.loads((folder / f"{name}.json").read_text())
    weights = folder / record["weights_file"]
    weights.write_bytes(data)
    record["weights_sha256"] = sha256_file(weights)
    (folder / f"{name}.json").write_text(json.dumps(record))


def _break(folder: Path, how: str) -> str:
    """Damage the SENet checkpoint in ``folder``; returns what the message must say."""
    record = json.loads((folder / "senet.json").read_text())
    weights = folder / record["weights_file"]
    if how == "missing weights":
        weights.unlink()
        return "which is missing"
    if how == "truncated weights":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
        return "is corrupt or was replaced"
    if how == "foreign architecture":  # a CNN's tensors under a record that says SENet
        torch.manual_seed(0)
        (folder / "senet.json").unlink()
        weights.unlink()
        save_tensors(
            build_model("cnn").state_dict(),
            {"kind": "model", "model": to_dict(ModelConfig(name="senet")), "dataset": "mnist"},
            folder,
            "senet",
        )
        return "do not fit the senet architecture"
    if how == "a CNN in the SENet's place":
        shutil.copy(folder / "cnn.json", folder / "senet.json")
        return "holds a cnn model, not a senet"
    if how == "pickle":
        _forge_weights(folder, "senet", pickle.dumps({"state_dict": _Exploit()}))
        return "is not a readable safetensors file"
    raise ValueError(how)


BREAKAGES = [
    "missing weights",
    "truncated weights",
    "foreign architecture",
    "a CNN in the SENet's place",
    "pickle",
]
# Found only when the model is built (the sidebar checks the files without torch).
FOUND_BY_BUILDING = {"foreign architecture"}


@pytest.mark.parametrize("how", BREAKAGES)
def test_a_damaged_shipped_folder_gives_one_clear_message(
    how: str, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    shipped = tmp_path / "checkpoints"
    shutil.copytree(MNIST_CHECKPOINTS, shipped / "mnist")
    expected = _break(shipped / "mnist", how)
    damaged = _digests(shipped)
    monkeypatch.setattr(resources, "CHECKPOINT_DIR", shipped)
    PWNED.unlink(missing_ok=True)

    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    if how in FOUND_BY_BUILDING:
        _assert_found_by_the_page_that_builds_the_model(at, expected)
    else:
        assert len(at.error) == 1
        assert at.error[0].value.startswith(
            f"The models in '{shipped / 'mnist'}' could not be loaded"
        )
        assert expected in at.error[0].value
        assert len(at.title) == 0  # no page ran on half-loaded models
    assert not PWNED.exists()  # the pickle was never unpickled
    assert _digests(shipped) == damaged  # nothing was deleted or "repaired"


def _assert_found_by_the_page_that_builds_the_model(at: AppTest, expected: str) -> None:
    # The app opens on the lesson, which builds the SENet: it says why it cannot.
    assert at.title[0].value == "How SE works"
    assert len(at.error) == 1
    assert expected in at.error[0].value
    at.switch_page(str(PAGES / "results.py")).run()
    assert not at.error  # the files are whole: the sidebar and the saved results stand
    assert at.title[0].value.startswith("Results")
    at.switch_page(str(PAGES / "excitation.py")).run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    assert expected in at.error[0].value
    assert not at.get("plotly_chart")  # nothing drawn from a model that could not be built


@pytest.mark.parametrize("how", BREAKAGES)
def test_a_damaged_run_is_reported_and_the_session_gets_back(
    how: str, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    run = tmp_path / "mnist" / "20260101-000000-senet-seed0"
    shutil.copytree(MNIST_CHECKPOINTS, run)
    expected = _break(run, how)
    damaged = _digests(run)

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["model_dir"] = str(run)  # chosen in the Training lab
    at.run()
    assert not at.exception, at.exception
    if how in FOUND_BY_BUILDING:
        _assert_found_by_the_page_that_builds_the_model(at, expected)
        assert _digests(run) == damaged
        return
    assert len(at.error) == 1
    assert expected in at.error[0].value
    assert len(at.title) == 0
    at.button(key="back_to_shipped").click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 0
    assert at.session_state["model_dir"] is None
    assert at.title[0].value == "How SE works"  # the shipped models, as before
    assert not at.error
    assert _digests(run) == damaged


def test_a_truncated_dataset_file_leaves_the_app_on_its_saved_results(
    truncated_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(truncated_data))  # test data is cached per data root
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert f"MNIST is missing or unreadable at {truncated_data}" in "\n".join(warnings)
    assert at.title[0].value == "How SE works"
    at.switch_page(str(PAGES / "results.py")).run()
    assert at.title[0].value.startswith("Results")  # the saved evaluation is still shown
    assert at.metric[0].value.endswith("%")
    for page in ("excitation.py", "draw.py", "lesson.py"):
        at.switch_page(str(PAGES / page)).run()
        assert not at.exception, (page, at.exception)


# --- A save killed with SIGKILL ------------------------------------------------------------

# Runs in a child process: saves a new SENet over the old one and stops dead at ``point``,
# touching ``ready`` so that the test can SIGKILL it there.
KILLED_SAVE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import torch
    from se_demo.core import checkpoints
    from se_demo.core.config import ModelConfig, to_dict
    from se_demo.core.models import build_model

    folder, point, ready = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

    def die_here():
        ready.touch()
        time.sleep(600)

    real_save, real_replace, real_unlink = checkpoints.save_file, os.replace, Path.unlink
    def half_written(tensors, path, metadata=None):
        real_save(tensors, path, metadata=metadata)
        with open(path, "r+b") as handle:
            handle.truncate(os.path.getsize(path) // 2)
        die_here()
    def replace(src, dst):
        if Path(dst).suffix == point:
            die_here()
        real_replace(src, dst)
    def unlink(self, missing_ok=False):
        if point == "stale" and self.suffix == ".safetensors":
            die_here()
        real_unlink(self, missing_ok=missing_ok)
    if point == "writing":
        checkpoints.save_file = half_written
    os.replace, Path.unlink = replace, unlink

    torch.manual_seed(1)
    model = build_model("senet")
    checkpoints.save_checkpoint(
        model, {"model": to_dict(ModelConfig(name="senet")), "dataset": "mnist"}, folder, "senet"
    )
    """
)


@pytest.mark.slow  # four child processes, each importing torch (~5 s on two cores)
@pytest.mark.parametrize(
    ("point", "survivor"),
    [
        ("writing", "old"),  # halfway through writing the new weights
        (".safetensors", "old"),  # new weights complete, not yet renamed
        (".json", "old"),  # new weights in place, the record not yet replaced
        ("stale", "new"),  # the new record committed, the old weights not yet removed
    ],
)
def test_a_save_killed_at_any_point_leaves_one_whole_checkpoint(
    point: str, survivor: str, tmp_path: Path
) -> None:
    folder = tmp_path / "checkpoints"
    torch.manual_seed(0)
    old = build_model("senet")
    save_checkpoint(
        old, {"model": to_dict(ModelConfig(name="senet")), "dataset": "mnist"}, folder, "senet"
    )
    old_record = (folder / "senet.json").read_bytes()
    torch.manual_seed(1)
    new = build_model("senet")

    ready, log = tmp_path / "ready", tmp_path / "child.log"
    with open(log, "wb") as output:
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_SAVE, str(folder), point, str(ready)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: ready.exists() or child.poll() is not None, 120, "the child's kill point")
        assert child.poll() is None, log.read_text()  # it ended before the kill point
        child.send_signal(signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL

    loaded = load_checkpoint(folder, "senet").model
    expected = old if survivor == "old" else new
    assert _state_digest(loaded) == _state_digest(expected)
    if survivor == "old":
        assert (folder / "senet.json").read_bytes() == old_record
    # The next save works over whatever the kill left behind.
    torch.manual_seed(2)
    newest = build_model("senet")
    save_checkpoint(
        newest, {"model": to_dict(ModelConfig(name="senet")), "dataset": "mnist"}, folder, "senet"
    )
    assert _state_digest(load_checkpoint(folder, "senet").model) == _state_digest(newest)
    assert len(list(folder.glob("senet-*.safetensors"))) == 1


def test_a_run_killed_while_saving_is_not_listed(tmp_path: Path) -> None:
    """A dashboard run is staged in a hidden folder and renamed when complete."""
    finished = tmp_path / "mnist" / "20260101-000000-cnn-senet-seed0"
    shutil.copytree(MNIST_CHECKPOINTS, finished)
    staging = tmp_path / "mnist" / ".20260102-000000-cnn-senet-seed0.k1ll3d"
    staging.mkdir()
    shutil.copy(MNIST_CHECKPOINTS / "cnn.json", staging / "cnn.json")  # killed after one file
    assert [run.name for run in list_runs("mnist", tmp_path)] == [finished.name]


# --- Two sessions ----------------------------------------------------------------------------


def _draw_view(at: AppTest) -> dict[str, object]:
    """What a session shows on the Draw page: answers, texts and the charts' data."""
    return {
        "metrics": [(m.label, m.value) for m in at.metric],
        "texts": [m.value for m in at.markdown],
        "verdict": [s.value for s in at.success] + [w.value for w in at.warning],
        "charts": [chart.proto.spec for chart in at.get("plotly_chart")],
        "drawing": np.asarray(at.session_state["current_drawing"]).tobytes(),
    }


@pytest.mark.slow
def test_one_sessions_actions_never_change_what_another_sees(
    test_split: Split, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    monkeypatch.setenv(RUNS_ENV_VAR, str(tmp_path))
    monkeypatch.setenv("SE_DEMO_WORKER", "embedded")  # A's run trains in the server's worker
    shared = resources.load_models()
    weights = {name: _state_digest(checkpoint.model) for name, checkpoint in shared.items()}

    # Student B uploads a seven and looks at the answers.
    other = _app("draw.py")
    other.segmented_control(key="draw_source").set_value("Upload an image").run()
    seven = _encode(_paper(test_split.images[0].numpy()), "PNG")
    other.file_uploader(key="draw_upload").set_value(("seven.png", seven, "image/png")).run()
    before = _draw_view(other)
    assert before["metrics"] == [("Basic CNN", "7"), ("SENet", "7")]
    state_before = {k: other.session_state[k] for k in ("dataset", "draw_source")}

    # Student A: an intervention, a training run that A then selects, and an upload.
    one = _app("excitation.py")
    one.radio(key="exc_int_mode").set_value("off").run()
    one.toggle(key="exc_int_all").set_value(True).run()
    changed = [m.value for m in one.markdown if m.value.startswith("Input: ")]
    assert len(changed) == 1
    as_trained, with_intervention = changed[0].split("\n")[1:3]
    assert as_trained.split(": ")[1] != with_intervention.split(": ")[1]  # it did change

    one.switch_page(str(PAGES / "train.py")).run()
    one.radio(key="train_models").set_value("senet")
    one.slider(key="train_epochs").set_value(1)
    one.select_slider(key="train_images").set_value(1_000)
    next(b for b in one.button if b.label == "Queue this run").click().run()
    rerun_until(
        one, lambda a: any("Your run finished" in s.value for s in a.success), 300, "A's run"
    )
    (run,) = (tmp_path / "mnist").iterdir()
    one.selectbox(key="model_source_choice").set_value(str(run)).run()
    assert one.session_state["model_dir"] == str(run)
    assert any(run.name in c.value for c in one.sidebar.caption)

    one.switch_page(str(PAGES / "draw.py")).run()
    assert one.segmented_control(key="draw_models").value == run.name  # A draws against A's run
    one.segmented_control(key="draw_models").set_value("Shipped models").run()
    one.segmented_control(key="draw_source").set_value("Upload an image").run()
    two = _encode(_paper(test_split.images[1].numpy()), "PNG")
    one.file_uploader(key="draw_upload").set_value(("two.png", two, "image/png")).run()
    assert [m.value for m in one.metric] == ["2", "2"]

    # B's next rerun shows exactly what it showed before, from the same shared models.
    other.run()
    assert not other.exception, other.exception
    assert _draw_view(other) == before
    assert {k: other.session_state[k] for k in state_before} == state_before
    assert "my_run" not in other.session_state
    assert "exc_int_mode" not in other.session_state
    assert "model_dir" not in other.session_state or other.session_state["model_dir"] is None
    assert not any("From the run" in c.value for c in other.sidebar.caption)
    assert resources.load_models() is shared  # one copy for every session
    for name, checkpoint in shared.items():
        assert _state_digest(checkpoint.model) == weights[name]
        assert not checkpoint.model.training
    settle_the_lab()  # A's run adds its interventions, then its worker stops
