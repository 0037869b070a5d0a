"""The Draw page under AppTest: prompt, uploads, refusals and Clear (the canvas is in
tests/browser, since AppTest cannot draw)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_pages import resources
from app_pages.draw_canvas import PROMPT
from se_demo.analysis.results import load_evaluation
from se_demo.core.checkpoints import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    load_checkpoints,
    save_checkpoint,
)
from se_demo.core.config import DATA_ENV_VAR, PROJECT_ROOT
from se_demo.core.data import Split
from se_demo.drawing.answers import answer_both, se_on_and_off
from se_demo.drawing.preprocess import upload_to_mnist
from se_demo.robustness.stress import stress_digit
from tests.conftest import MNIST_CHECKPOINTS, plotly_charts, plotly_values, scan_png

PAGE = str(PROJECT_ROOT / "app_pages" / "draw.py")
APP = str(PROJECT_ROOT / "app.py")
TIMEOUT = 60


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()


def _upload(at: AppTest, name: str, payload: bytes, mime: str = "image/png") -> AppTest:
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    return at.file_uploader(key="draw_upload").set_value((name, payload, mime)).run()


def _disagrees(models: dict[str, Checkpoint], scan: bytes) -> bool:
    digit = upload_to_mnist(scan)
    return digit is not None and answer_both(models, digit).disagree


def test_blank_canvas_shows_the_prompt() -> None:
    at = _page()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    assert PROMPT in at.info[0].value
    assert len(at.get("bidi_component")) == 1  # the canvas
    assert at.button(key="draw_clear").label == "Clear"
    assert at.slider(key="draw_stroke_width").value == 20
    assert len(at.metric) == 0
    assert "current_drawing" not in at.session_state


def test_the_page_runs_inside_the_app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception
    assert at.title[0].value == "Draw a digit"
    assert any(PROMPT in info.value for info in at.info)


def test_an_uploaded_scan_gets_both_answers(test_split: Split) -> None:
    image = test_split.images[0].numpy()
    label = int(test_split.labels[0])
    at = _upload(_page(), "seven.png", scan_png(image))
    assert not at.exception
    assert [m.label for m in at.metric] == ["Basic CNN", "SENet"]
    assert [m.value for m in at.metric] == [str(label), str(label)]
    texts = "\n".join(m.value for m in at.markdown)
    assert f"Basic CNN: {label} (" in texts
    assert f"SENet: {label} (" in texts
    assert at.success[0].value == f"Both models read {label}."
    drawing = at.session_state["current_drawing"]
    assert drawing.shape == (28, 28)
    assert drawing.dtype == np.float32
    np.testing.assert_array_equal(drawing, upload_to_mnist(scan_png(image)))

    charts = plotly_charts(at)
    assert set(charts) == {"draw_pixels", "draw_probabilities", "draw_excitation"}
    # The enlarged image is exactly what the models see.
    np.testing.assert_allclose(
        plotly_values(charts["draw_pixels"]["data"][0]["z"]), drawing, atol=1e-6
    )
    # The bars; the "unsure below" line is a legend entry of its own (not on the bars).
    bars = [trace for trace in charts["draw_probabilities"]["data"] if trace["type"] == "bar"]
    assert [trace["name"] for trace in bars] == ["Basic CNN", "SENet"]
    for trace in bars:
        assert int(np.argmax(plotly_values(trace["y"]))) == label
        assert plotly_values(trace["y"]).sum() == pytest.approx(1.0, abs=1e-4)
    excitation = charts["draw_excitation"]["data"]
    assert [len(plotly_values(trace["y"])) for trace in excitation] == [16, 16, 32, 32, 64, 64]
    assert [trace["name"] for trace in excitation[:2]] == [
        "this input",
        f"test-set mean of {label}s",
    ]
    saved = load_evaluation(MNIST_CHECKPOINTS)
    class_mean = saved.excitations["senet"]["stages.0.se"][saved.labels == label].mean(0)
    np.testing.assert_allclose(plotly_values(excitation[1]["y"]), class_mean, atol=1e-5)


def test_disagreement_is_said(test_split: Split) -> None:
    models = load_checkpoints(MNIST_CHECKPOINTS)
    evaluation = load_evaluation(MNIST_CHECKPOINTS)
    disagree = np.flatnonzero(evaluation.predictions("cnn") != evaluation.predictions("senet"))
    # The first disagreement that survives the scan (enlarging and preprocessing again).
    scans = (scan_png(test_split.images[int(i)].numpy()) for i in disagree)
    scan = next(s for s in scans if _disagrees(models, s))
    at = _upload(_page(), "hard.png", scan)
    assert not at.exception
    assert at.warning[0].value.startswith("The models disagree: Basic CNN says")
    assert len(at.success) == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"this is not an image", "not a PNG or JPEG image"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "not a PNG or JPEG image"),
        (scan_png(np.eye(28, dtype=np.uint8) * 255)[:300], "corrupt or truncated"),
    ],
)
def test_bad_uploads_are_refused_with_a_message(payload: bytes, message: str) -> None:
    at = _upload(_page(), "bad.png", payload)  # one session: the refusal must not crash it
    assert not at.exception
    assert at.error[0].value.startswith("bad.png: ")
    assert message in at.error[0].value
    assert len(at.metric) == 0
    assert "current_drawing" not in at.session_state


def test_a_blank_page_upload_asks_for_a_digit() -> None:
    blank = io.BytesIO()
    Image.new("L", (200, 200), 235).save(blank, "JPEG")
    at = _upload(_page(), "blank.jpg", blank.getvalue(), "image/jpeg")
    assert not at.exception
    assert at.warning[0].value.startswith("No digit found in blank.jpg: the image looks blank")
    assert len(at.metric) == 0
    assert len(at.get("image")) == 1  # the photo itself is shown


def test_clear_gives_a_new_canvas_and_forgets_the_drawing() -> None:
    at = _page()
    at.session_state["current_drawing"] = np.zeros((28, 28), dtype=np.float32)
    at.button(key="draw_clear").click().run()
    assert not at.exception
    assert at.session_state["draw_canvas_generation"] == 1
    assert "current_drawing" not in at.session_state
    assert PROMPT in at.info[0].value


def test_switching_input_forgets_the_upload(test_split: Split) -> None:
    at = _upload(_page(), "digit.png", scan_png(test_split.images[1].numpy()))
    assert "current_drawing" in at.session_state
    at.segmented_control(key="draw_source").set_value("Draw").run()
    assert not at.exception
    assert "current_drawing" not in at.session_state
    assert PROMPT in at.info[0].value


def test_models_that_cannot_be_built_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    # The sidebar checks the files without torch; building the model is this page's job.
    def cannot_build(directory: Path) -> None:
        raise CheckpointError("weights of checkpoint 'cnn' do not fit the architecture")

    monkeypatch.setattr(resources, "load_checkpoints", cannot_build)
    resources._models.clear()
    try:
        at = _page()
        assert not at.exception, at.exception
        assert len(at.error) == 1
        assert "The MNIST models in " in at.error[0].value
        assert "could not be loaded" in at.error[0].value
        assert "do not fit the architecture" in at.error[0].value
        assert not at.get("plotly_chart")
    finally:
        resources._models.clear()


def test_stress_sliders_change_what_the_models_see_and_answer(test_split: Split) -> None:
    at = _upload(_page(), "seven.png", scan_png(test_split.images[0].numpy()))
    drawing = at.session_state["current_drawing"]
    at.slider(key="stress_rotation").set_value(90).run()
    at.slider(key="stress_blur").set_value(1.0).run()
    assert not at.exception
    seen = stress_digit(drawing, rotation_deg=90, blur=1.0)
    charts = plotly_charts(at)
    np.testing.assert_allclose(
        plotly_values(charts["draw_pixels"]["data"][0]["z"]), seen, atol=1e-6
    )
    models = load_checkpoints(MNIST_CHECKPOINTS)
    expected = answer_both(models, seen)
    assert [m.value for m in at.metric] == [
        "unsure" if a.unsure else str(a.digit) for a in expected.models.values()
    ]
    np.testing.assert_array_equal(at.session_state["current_drawing"], drawing)  # kept unstressed


def test_models_saved_again_into_a_folder_are_read_again(tmp_path: Path) -> None:
    # The server's caches are keyed by the weights' SHA-256, not only by the folder.
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_CHECKPOINTS, folder)
    first = resources.load_models(folder)
    assert resources.load_models(folder) is first  # unchanged files: the cached models
    cnn = load_checkpoint(folder, "cnn")
    with torch.no_grad():
        cnn.model.classifier[-1].bias.add_(1.0)
    save_checkpoint(cnn.model, cnn.record, folder, "cnn")
    second = resources.load_models(folder)
    assert second is not first
    assert torch.equal(second["cnn"].model.classifier[-1].bias, cnn.model.classifier[-1].bias)
    assert second["cnn"].record["weights_sha256"] != first["cnn"].record["weights_sha256"]


def test_the_se_switch_shows_the_drawing_with_se_on_and_off(test_split: Split) -> None:
    at = _upload(_page(), "seven.png", scan_png(test_split.images[0].numpy()))
    assert at.toggle(key="draw_se_switch").value is False
    assert len(at.metric) == 2  # the two models' answers only
    at.toggle(key="draw_se_switch").set_value(True).run()
    assert not at.exception, at.exception
    senet = load_checkpoint(MNIST_CHECKPOINTS, "senet")
    expected = se_on_and_off(senet, at.session_state["current_drawing"])
    on, off = at.metric[2:]
    assert (on.label, off.label) == ("SENet, SE on (as trained)", "SENet, SE off (every s = 1)")
    assert (on.value, off.value) == (str(expected.trained.digit), str(expected.gates_at_one.digit))
    assert off.delta == f"{round(100 * expected.gates_at_one.confidence)} % sure"
    assert expected.sentence() in [m.value for m in at.markdown]


def test_clear_takes_the_stress_off(test_split: Split) -> None:
    at = _page()
    at.session_state["current_drawing"] = test_split.images[0].numpy().astype(np.float32) / 255
    at.run()
    at.slider(key="stress_rotation").set_value(90).run()
    at.slider(key="stress_blur").set_value(1.0).run()
    at.button(key="draw_clear").click().run()
    assert not at.exception
    assert PROMPT in at.info[0].value
    # On the page without a digit too, at rest: the next digit is seen as drawn.
    assert at.slider(key="stress_rotation").value == 0
    assert at.slider(key="stress_blur").value == 0.0
