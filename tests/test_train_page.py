"""The Training lab through AppTest: a real tiny run trained by the server's worker process,
the class's queue as two sessions see it, cancelling, limits, the lecturer's controls, an
unreachable store, run selection, and the undertrained marks on the lab and Results page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app_pages.train_queue import anonymous_name
from se_demo.classroom.queue import RunState
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.training.runs import list_runs, runs_table
from tests.conftest import rerun_until, settle_the_lab, shipped_digest

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "app_pages" / "train.py")
RESULTS = str(ROOT / "app_pages" / "results.py")


@pytest.fixture
def runs_root(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_RUNS", str(tmp_path))
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))
    monkeypatch.delenv("SE_DEMO_DB", raising=False)  # the embedded store: runs/class.db
    monkeypatch.setenv("SE_DEMO_WORKER", "embedded")  # the server's own worker trains
    yield tmp_path
    settle_the_lab()


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
    assert table["trained"].tolist() == ["SENet (undertrained)"]
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
    _queue(first, "cnn", 2, 60_000)
    rerun_until(first, lambda at: any("Your run:" in p.proto.text for p in at.get("progress")),
                120, "the first run to start training")  # fmt: skip
    second = AppTest.from_file(PAGE, default_timeout=120).run()
    _queue(second, "senet", 1, 1_000)
    waiting = [i.value for i in second.info if i.value.startswith("Your run is number")]
    assert len(waiting) == 1
    assert waiting[0].startswith("Your run is number 1 in the queue: it should start in about")
    queue = second.dataframe[0].value  # no finished runs yet: the queue
    first_owner = anonymous_name(first.session_state["owner_token"])
    assert queue["queued by"].tolist() == [first_owner, "you"]
    assert queue["place"].tolist() == ["training", "1 in queue"]
    first_id = first.session_state["my_run"]
    assert f"cancel_{first_id}" not in [b.key for b in second.button]  # view only
    first.button(key=f"cancel_{first_id}").click().run()
    rerun_until(second, _finished, 300, "the second session's run to finish")
    first.run()
    assert any("cancelled by its owner" in i.value for i in first.info)
    assert len(list((runs_root / "mnist").iterdir())) == 1  # only the second run was saved


def _lecturer(at: AppTest, key: str) -> None:
    at.text_input(key="lecturer_key_input").input(key).run()
    assert not at.exception, at.exception


def test_limits_and_the_lecturers_controls(runs_root, monkeypatch):
    monkeypatch.setenv("SE_DEMO_LECTURER_KEY", "class-of-2026")
    student = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not student.exception, student.exception
    assert "lecturer_limits" not in [f.key for f in student.get("form")]  # no controls shown
    _queue(student, "senet", 3, 60_000)  # 180,000 images per model: over the limit
    (refusal,) = student.error
    assert "asks for 180,000 training images per model" in refusal.value
    assert "Nothing was queued." in refusal.value
    assert "my_run" not in student.session_state

    lecturer = AppTest.from_file(PAGE, default_timeout=120).run()
    _lecturer(lecturer, "wrong")
    assert any("not the lecturer's key" in e.value for e in lecturer.error)
    assert not lecturer.get("form")[1:]  # still only the run form
    _lecturer(lecturer, "class-of-2026")
    lecturer.toggle[0].set_value(True)
    next(b for b in lecturer.button if b.label == "Apply").click().run()
    assert not lecturer.exception, lecturer.exception

    student.run()
    assert any("paused the lab" in i.value for i in student.info)
    _queue(student, "senet", 1, 1_000)
    assert any("The lecturer has paused the lab" in e.value for e in student.error)
    assert "my_run" not in student.session_state


def test_the_lecturer_cancels_a_students_run(runs_root, monkeypatch):
    monkeypatch.setenv("SE_DEMO_LECTURER_KEY", "class-of-2026")
    student = AppTest.from_file(PAGE, default_timeout=120).run()
    _queue(student, "cnn", 2, 60_000)
    run_id = student.session_state["my_run"]
    lecturer = AppTest.from_file(PAGE, default_timeout=120).run()
    _lecturer(lecturer, "class-of-2026")
    lecturer.button(key=f"lecturer_cancel_{run_id}").click().run()
    assert not lecturer.exception, lecturer.exception
    from app_pages.resources import class_queue

    rerun_until(
        student,
        lambda at: class_queue().run(run_id).state == RunState.CANCELLED,
        120,
        "the lecturer's cancel",
    )
    assert "cancelled by the lecturer" in class_queue().run(run_id).message


def test_an_unreachable_store_closes_the_lab_in_one_sentence_and_nothing_else(
    runs_root, monkeypatch, tmp_path
):
    monkeypatch.setenv("SE_DEMO_WORKER", "none")
    monkeypatch.setenv("SE_DEMO_DB", f"postgresql+psycopg://postgres@/class?host={tmp_path}")
    lab = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not lab.exception, lab.exception
    (closed,) = lab.error
    assert closed.value.startswith("The Training lab is closed because the class's store")
    assert closed.value.count(". ") == 0  # one sentence
    assert not list(lab.get("form"))  # no form to queue into
    for page in ("lesson.py", "draw.py", "results.py"):
        other = AppTest.from_file(str(ROOT / "app_pages" / page), default_timeout=120).run()
        assert not other.exception, (page, other.exception)
        assert not other.error, (page, [e.value for e in other.error])
    monkeypatch.delenv("SE_DEMO_DB")  # settle_the_lab looks at the working store


def test_the_presets_fill_the_form(runs_root):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.segmented_control(key="train_preset").set_value("beat").run()
    assert not at.exception, at.exception
    assert at.radio(key="train_models").value == "senet"
    assert at.slider(key="train_epochs").value == 2
    assert at.select_slider(key="train_images").value == 60_000
    assert any("against the original study's 99.35 %" in c.value for c in at.caption)
    at.segmented_control(key="train_preset").set_value("smoke").run()
    assert at.select_slider(key="train_images").value == 1_000
    assert any("too short to learn" in c.value for c in at.caption)


def test_the_runs_table_says_what_each_saved_run_trained(tmp_path):
    shipped = CHECKPOINT_DIR / "mnist"
    tiny, full = (
        tmp_path / "mnist" / name for name in ("20261206-000002-tiny", "20261206-000001-full")
    )
    shutil.copytree(shipped, tiny)
    shutil.copytree(shipped, full)
    record = json.loads((tiny / "senet.json").read_text())  # a dashboard run of 1 x 1,000 images
    epochs = record["train"]["epochs"]  # the shipped models': all 60,000 images each epoch
    record.update(
        command="dashboard", train={**record["train"], "epochs": 1, "train_subset": 1_000}
    )
    (tiny / "senet.json").write_text(json.dumps(record))
    accuracy = {
        name: model["metrics"]["accuracy"]
        for name, model in json.loads((shipped / "evaluation.json").read_text())["models"].items()
    }
    rows = runs_table(list_runs("mnist", tmp_path))
    se = f"r={record['model']['reduction_ratio']} {record['model']['squeeze']} {record['model']['gate']}"
    assert rows == [
        {"run": tiny.name, "trained": "SENet (undertrained)", "CNN accuracy": 100 * accuracy["cnn"],
         "SENet accuracy": 100 * accuracy["senet"], "recipe": "1 x 1,000", "SE": se},
        {"run": full.name, "trained": "", "CNN accuracy": 100 * accuracy["cnn"],
         "SENet accuracy": 100 * accuracy["senet"], "recipe": f"{epochs} x 60,000", "SE": se},
    ]  # fmt: skip
