"""The Training lab through AppTest: a real tiny run, the queue as two sessions see it,
cancelling, run selection, and the undertrained marks on the lab and the Results page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.resources import training_registry
from tests.conftest import rerun_until, shipped_digest

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "train.py")
RESULTS = str(ROOT / "app_pages" / "results.py")


@pytest.fixture
def runs_root(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_RUNS", str(tmp_path))
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))
    yield tmp_path
    # A run is shown as finished before its SE interventions are added: let the worker
    # end before the next test (and the interpreter) goes on.
    assert training_registry().wait_until_idle(300)


def _queue(at: AppTest, models: str, epochs: int, images: int) -> None:
    at.radio(key="train_models").set_value(models)
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_images").set_value(images)
    next(b for b in at.button if b.label == "Queue this run").click().run()
    assert not at.exception, at.exception


def _finished(at: AppTest) -> bool:
    return any("Your run finished" in s.value for s in at.success)


@pytest.mark.slow
def test_a_tiny_run_trains_shows_named_curves_and_is_marked_undertrained(runs_root):
    before = shipped_digest()
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert any("No runs yet" in c.value for c in at.caption)
    at.selectbox(key="train_gate").set_value("tanh")
    _queue(at, "senet", 1, 1_000)
    rerun_until(at, _finished, 300, "the tiny run to finish")
    (run,) = (runs_root / "mnist").iterdir()
    # the curves: one point per step (8 batches of 128), named, accuracy on 0-100 %
    (chart,) = at.get("plotly_chart")
    spec = chart.proto.spec
    assert '"name":"SENet"' in spec
    assert '"name":"senet"' not in spec
    assert '"range":[0,100]' in spec
    assert '"mode":"lines+markers"' in spec
    assert any("SENet: Undertrained on MNIST" in w.value for w in at.warning)
    table = at.dataframe[-1].value  # the finished runs (the queue is empty)
    assert table["run"].tolist() == [run.name]
    assert table["trained"].tolist() == ["SENet"]
    assert table["undertrained"].tolist() == ["SENet"]
    at.selectbox(key="model_source_choice").set_value(str(run)).run()
    assert at.session_state["model_dir"] == str(run)
    assert shipped_digest() == before

    results = AppTest.from_file(RESULTS, default_timeout=120)
    results.session_state["model_dir"] = str(run)
    results.run()
    assert not results.exception, results.exception
    badges = [m.value for m in results.markdown if "-badge[" in m.value]  # st.badge
    assert len(badges) == 1
    assert "SENet: undertrained" in badges[0]
    (verdict,) = results.warning
    assert "these two runs" in verdict.value
    assert "is the better model" not in verdict.value
    assert "Seeds and ablations" in verdict.value

    frame = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    frame.session_state["model_dir"] = str(run)
    frame.run()
    assert not frame.exception, frame.exception
    notes = [c.value for c in frame.sidebar.caption if "Undertrained" in c.value]
    assert len(notes) == 1  # the SENet it trained; the Basic CNN is the shipped one
    assert "1,000 training images" in notes[0]


@pytest.mark.slow
def test_a_second_session_waits_its_turn_and_cannot_cancel_the_first(runs_root):
    first = AppTest.from_file(PAGE, default_timeout=120).run()
    _queue(first, "cnn", 5, 60_000)
    second = AppTest.from_file(PAGE, default_timeout=120).run()
    _queue(second, "senet", 1, 1_000)
    waiting = [i.value for i in second.info if i.value.startswith("Your run is number")]
    assert len(waiting) == 1
    assert waiting[0].startswith("Your run is number 1 in the queue: it should start in about")
    queue = second.dataframe[0].value  # no finished runs yet: the queue
    assert queue["queued by"].tolist() == ["another session", "you"]
    assert queue["place"].tolist() == ["training", "1 in queue"]
    first_id = first.session_state["my_run"]
    assert f"cancel_{first_id}" not in [b.key for b in second.button]  # view only
    first.button(key=f"cancel_{first_id}").click().run()
    rerun_until(second, _finished, 300, "the second session's run to finish")
    first.run()
    assert any("cancelled by its owner" in i.value for i in first.info)
    assert len(list((runs_root / "mnist").iterdir())) == 1  # only the second run was saved
