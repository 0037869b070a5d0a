"""The class's digits through the pages (AppTest): Add your digit on the Draw page, the
class page's counts and statistics, taking a digit back, and an unreachable store."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_pages import resources
from se_demo.classroom.digit_stats import class_report
from se_demo.core.config import PROJECT_ROOT
from se_demo.core.data import Split

DRAW = str(PROJECT_ROOT / "app_pages" / "draw.py")
CLASS = str(PROJECT_ROOT / "app_pages" / "class_digits.py")


@pytest.fixture(autouse=True)
def own_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    monkeypatch.setenv("SE_DEMO_RUNS", str(tmp_path))
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))


def _scan(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(255 - image).resize((224, 224), Image.Resampling.BICUBIC).save(buffer, "PNG")
    return buffer.getvalue()


def _student_uploads(test_split: Split, index: int) -> AppTest:
    at = AppTest.from_file(DRAW, default_timeout=60).run()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    scan = _scan(test_split.images[index].numpy())
    at.file_uploader(key="draw_upload").set_value(("digit.png", scan, "image/png")).run()
    assert not at.exception, at.exception
    return at


def _add(at: AppTest, label: int) -> None:
    assert at.button(key="class_add").disabled  # a label is chosen, never assumed
    at.segmented_control(key="class_label").set_value(label).run()
    at.button(key="class_add").click().run()
    assert not at.exception, at.exception


def test_students_add_digits_and_the_class_page_counts_them(test_split: Split) -> None:
    first = _student_uploads(test_split, 0)  # a 7
    assert any("The class needs a" in m.value for m in first.markdown)
    _add(first, 7)
    assert any(s.value == "Added as a 7: thank you!" for s in first.success)
    second = _student_uploads(test_split, 1)  # a 2
    _add(second, 2)

    page = AppTest.from_file(CLASS, default_timeout=60).run()
    assert not page.exception, page.exception
    metrics = {m.label: m.value for m in page.metric}
    assert (metrics["Digits drawn"], metrics["Students"]) == ("2", "2")
    arrays = resources.class_digits().arrays()
    report = class_report(arrays.labels, arrays.probabilities, arrays.sessions)
    scores = page.dataframe[0].value
    assert scores["our digits"].tolist() == [
        f"{100 * report.scores[m].accuracy:.1f} % ({report.scores[m].correct} of 2)"
        for m in ("cnn", "senet")
    ]
    assert metrics["SENet on our digits"] == f"{100 * report.scores['senet'].accuracy:.1f} %"
    assert "cannot tell the models apart yet" in page.info[0].value

    first.button(key="class_take_back").click().run()  # the first student takes theirs back
    assert any("taken back" in i.value for i in first.info)
    page.run()
    metrics = {m.label: m.value for m in page.metric}
    assert (metrics["Digits drawn"], metrics["Students"]) == ("1", "1")


def test_the_class_page_with_no_digits_says_where_they_come_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SE_DEMO_PUBLIC_URL", "https://se-demo.example.edu/")
    page = AppTest.from_file(CLASS, default_timeout=60).run()
    assert not page.exception, page.exception
    assert any("No digits yet" in i.value for i in page.info)
    (qr,) = page.get("image")
    assert qr.proto.imgs[0].alt == "QR code of https://se-demo.example.edu/draw"
    assert "Join: `https://se-demo.example.edu/draw`" in [m.value for m in page.markdown]


def test_an_unreachable_store_leaves_the_draw_page_answering(
    test_split: Split, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SE_DEMO_DB", f"postgresql+psycopg://postgres@/class?host={tmp_path}")
    at = _student_uploads(test_split, 0)
    assert [m.value for m in at.metric][:2] == ["7", "7"]  # both models still answer
    off = [c.value for c in at.caption if "Adding digits to our class's set is off" in c.value]
    assert len(off) == 1
    assert "class_add" not in [b.key for b in at.button]  # the digit cannot be added
    page = AppTest.from_file(CLASS, default_timeout=60).run()
    assert not page.exception, page.exception
    (away,) = page.error
    assert away.value.startswith("The class's digits are away because the class's store")


def test_a_lab_run_is_tested_on_the_class_digits_beside_mnist(
    test_split: Split, tmp_path: Path
) -> None:
    import shutil

    from se_demo.core.config import CHECKPOINT_DIR
    from se_demo.drawing.answers import answer_many

    run = tmp_path / "mnist" / "20261206-000000-senet-seed0-abcd1234"
    shutil.copytree(CHECKPOINT_DIR / "mnist", run)  # a run folder, laid out like the shipped one
    images = test_split.images[:20].numpy().copy()
    images[:5] = images[:5, ::-1, ::-1]  # five upside down: some misses
    labels = test_split.labels[:20].numpy()
    models = resources.load_models(CHECKPOINT_DIR / "mnist")
    probabilities, excitations = answer_many(models, images)
    resources.class_digits().add_many(images, labels, probabilities, excitations, "import")

    lab = AppTest.from_file(str(PROJECT_ROOT / "app_pages" / "train.py"), default_timeout=60).run()
    lab.selectbox(key="model_source_choice").set_value(str(run)).run()
    lab.button(key="run_on_class_digits").click().run()
    assert not lab.exception, lab.exception
    report = class_report(labels, probabilities, ["import"] * 20)
    shown = {m.label: (m.value, m.delta) for m in lab.metric}
    label = f"SENet of {run.name} on our 20 digits"
    accuracy = report.scores["senet"].accuracy
    assert shown[label][0] == f"{100 * accuracy:.1f} %"
    assert shown[label][1].endswith("pp vs its MNIST test accuracy")
