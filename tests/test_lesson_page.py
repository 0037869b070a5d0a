"""The "How SE works" page in AppTest: it renders for both datasets, its charts show the
numbers the model computes, and a link's query parameters open that exact view."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from se_demo.analysis.lesson import explain_se_block
from se_demo.analysis.results import load_evaluation
from se_demo.core.checkpoints import load_checkpoint
from se_demo.core.config import CHECKPOINT_DIR, DATA_ENV_VAR, PROJECT_ROOT
from se_demo.core.datafiles import read_split
from se_demo.words import GLOSSARY
from tests.conftest import element_texts, plotly_charts, plotly_values

PAGE = str(PROJECT_ROOT / "app_pages" / "lesson.py")
APP = str(PROJECT_ROOT / "app.py")
TIMEOUT = 120


def _page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for name, value in query.items():
        at.query_params[name] = value
    return at.run()


def test_the_lesson_shows_both_networks_and_every_step() -> None:
    at = _page()
    assert not at.exception, at.exception
    assert at.title[0].value == "How SE works"
    assert [h.value for h in at.header] == [
        "1. Where the SE blocks sit",
        "2. One SE block, step by step",
        "3. Why the paper proposed it",
    ]
    assert [m.value for m in at.metric] == ["+5,544", "+10,752"]
    assert {"lesson_maps", "lesson_squeeze", "lesson_fc1", "lesson_fc2", "lesson_gate",
            "lesson_before", "lesson_after"} <= set(plotly_charts(at))  # fmt: skip
    assert len(at.get("latex")) >= 6  # one formula per step
    text = " ".join(m.value for m in at.markdown)
    assert "24.80 % to 23.29 %" in text
    assert "+0.26 % FLOPs" in text
    sources = " ".join(c.value for c in at.caption)
    assert "Table 2 of arXiv:1709.01507" in sources
    assert "ResNet-50 reaches 23.30 % and SE-ResNet-50 22.28 %" in sources
    assert len(at.get("graphviz_chart")) == 2  # the networks, and SE in a residual block
    assert at.segmented_control(key="block").value == 3  # opens on the deepest block
    assert "Channel 43 is the brightest of the 64 maps here" in text
    # its class means beside it, as the saved evaluation gives them
    saved = load_evaluation(CHECKPOINT_DIR / "mnist")
    block = saved.excitations["senet"]["stages.2.se"]
    means = [block[saved.labels == k, 43].mean() for k in range(10)]
    why = plotly_charts(at)["lesson_why"]["data"][0]
    np.testing.assert_allclose(plotly_values(why["y"]), means, atol=1e-6)


def test_a_link_opens_that_block_and_test_image(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = _page(block="3", image="42")
    assert not at.exception, at.exception
    assert at.segmented_control(key="block").value == 3
    assert at.number_input(key="image").value == 42
    images, labels = read_split(False, data_dir, dataset="mnist")
    assert any(
        f"test image 42 (a {labels[42]}) through SE block 3 (64 channels)" in c.value
        for c in at.caption
    )
    senet = load_checkpoint(CHECKPOINT_DIR / "mnist", "senet").model
    expected = explain_se_block(senet, images[42], "stages.2.se", dataset="mnist")
    charts = plotly_charts(at)
    np.testing.assert_allclose(
        plotly_values(charts["lesson_gate"]["data"][0]["y"]), expected.excitation, atol=1e-6
    )
    np.testing.assert_allclose(
        plotly_values(charts["lesson_squeeze"]["data"][0]["y"]), expected.squeezed, atol=1e-6
    )


def test_the_digit_drawn_on_the_draw_page_is_the_default_input() -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    drawing = np.zeros((28, 28), dtype=np.float32)
    drawing[4:24, 13:16] = 1.0  # a 1
    at.session_state["current_drawing"] = drawing
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lesson_source").value == "the digit you drew"
    assert any("Following your drawing through SE block 3" in c.value for c in at.caption)


def test_fashion_mnist_follows_a_clothing_image(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["dataset"] = "fashion"
    at.session_state["current_drawing"] = np.ones((28, 28), dtype=np.float32)  # not offered here
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lesson_source").options == ["a test image"]
    assert any("test image 0 (an Ankle boot)" in c.value for c in at.caption)


def test_the_app_opens_a_link_with_dataset_and_presenter_mode(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["dataset"] = "Fashion-MNIST"
    at.query_params["presenter"] = "true"
    at.query_params["block"] = "2"
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="dataset").value == "fashion"
    assert at.toggle(key="presenter").value is True
    assert at.title[0].value == "How SE works"  # the default page
    assert at.segmented_control(key="block").value == 2


def test_presenter_mode_shows_one_step_at_a_time() -> None:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["presenter"] = True
    at.run()
    assert not at.exception, at.exception
    assert set(plotly_charts(at)) == {"lesson_input", "lesson_maps"}
    assert at.button(key="lesson_back").disabled
    seen = []
    for _ in range(6):
        at.button(key="lesson_next").click().run()
        seen.append(set(plotly_charts(at)) - {"lesson_input"})
    assert seen == [
        {"lesson_squeeze"},
        {"lesson_fc1"},
        {"lesson_fc2"},
        {"lesson_gate"},
        {"lesson_before", "lesson_after"},
        {"lesson_why"},
    ]
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_back").click().run()
    assert set(plotly_charts(at)) == {"lesson_input", "lesson_before", "lesson_after"}


def test_the_original_study_is_defined_where_it_first_appears() -> None:
    at = _page()
    first = next(
        (text, help_)
        for text, help_ in element_texts(at._tree)
        if re.search(r"(?i)original study", text)
    )
    for fact in ("TensorFlow repository", "100 epochs", "Adam", "1e-4", "batch 32", "MNIST test"):
        assert fact in first[0], first
    assert first[1] == GLOSSARY["original study"]


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ({"block": "7"}, "The link's block=7 is not an SE block (1 to 3), so block 3 is shown."),
        (
            {"block": "two"},
            "The link's block=two is not an SE block (1 to 3), so block 3 is shown.",
        ),
        (
            {"image": "10000"},
            "The link's image=10000 is not a test image (0 to 9,999), so test image 0 is shown.",
        ),
    ],
)
def test_a_link_with_a_wrong_value_says_so_in_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, str], warning: str
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = _page(**query)
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == [warning]
    assert at.segmented_control(key="block").value == 3  # the default block
    assert at.number_input(key="image").value == 0


def test_a_link_with_a_drawing_in_the_session_opens_the_test_image_it_names(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["current_drawing"] = np.zeros((28, 28), dtype=np.float32)
    at.query_params["image"] = "42"
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lesson_source").value == "a test image"
    assert at.number_input(key="image").value == 42
    assert not at.warning


def test_the_app_says_when_a_links_dataset_is_unknown(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ENV_VAR, str(data_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["dataset"] = "KMNIST"
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="dataset").value == "mnist"
    assert [w.value for w in at.main.warning] == [
        "The link's dataset=KMNIST is not one of MNIST or Fashion-MNIST, so MNIST is shown."
    ]
