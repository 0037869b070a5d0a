"""The Training lab page through AppTest: a real (tiny) run, the stop control, run selection."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_jobs import _shipped_digest

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "train.py")


@pytest.fixture
def runs_root(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_RUNS", str(tmp_path))
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))
    return tmp_path


def _wait_for(at: AppTest, predicate, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(at):
        assert time.monotonic() < deadline, "timed out waiting for the page"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception


@pytest.mark.slow
def test_train_page_trains_a_tiny_run_and_makes_it_selectable(runs_root):
    before = _shipped_digest()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert any("No runs yet" in c.value for c in at.caption)
    at.radio(key="train_models").set_value("senet")
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_images").set_value(1_000)
    at.selectbox(key="train_gate").set_value("tanh")
    at.button[0].click().run()  # the form's submit button
    _wait_for(at, lambda a: any("Training finished" in s.value for s in a.success))
    runs = list((runs_root / "mnist").iterdir())
    assert len(runs) == 1
    table = at.dataframe[0].value
    assert table["run"].tolist() == [runs[0].name]
    assert table["trained"].tolist() == ["SENet"]
    at.selectbox(key="model_source_choice").set_value(str(runs[0])).run()
    assert at.session_state["model_dir"] == str(runs[0])
    assert _shipped_digest() == before


@pytest.mark.slow
def test_stop_control_really_stops(runs_root):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.slider(key="train_epochs").set_value(5)
    at.select_slider(key="train_images").set_value(60_000)
    at.button[0].click().run()
    _wait_for(at, lambda a: a.session_state["training_job"].status().progress is not None)
    at.button(key="stop_training").click().run()  # shown while training
    _wait_for(at, lambda a: any("stopped" in i.value for i in a.info))
    job = at.session_state["training_job"]
    assert job.status().state == "stopped"
    assert job.status().progress.epoch == 1  # 5 epochs asked for: it stopped early
    assert not (runs_root / "mnist").exists() or not list((runs_root / "mnist").iterdir())
