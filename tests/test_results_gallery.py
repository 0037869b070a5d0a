"""Results page bugs a user met in the gallery, each replayed through AppTest.

- After switching to Fashion-MNIST, "Look at the mistakes" kept MNIST's 5 -> 3 cell and
  showed "Sandal -> Dress: 0 test images".
- Clicking a confusion cell logged Streamlit's "set via the Session State API" warning
  with a stack trace.
"""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path

import numpy as np
import pytest
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest

from se_demo.analysis.results import load_evaluation, most_confused_cell
from se_demo.core.config import CHECKPOINT_DIR

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "results.py")


@pytest.fixture
def with_data(monkeypatch, data_dir):
    monkeypatch.setenv("SE_DEMO_DATA", str(data_dir))  # test data is cached per data root


def _cell(at: AppTest) -> tuple[str, int, int]:
    return (
        at.selectbox(key="results_cell_model").value,
        at.selectbox(key="results_cell_true").value,
        at.selectbox(key="results_cell_predicted").value,
    )


def _count(at: AppTest) -> int:
    line = next(m.value for m in at.markdown if re.match(r"\*\*\d+ test images?\*\*", m.value))
    return int(line.removeprefix("**").split()[0])


def test_switching_the_dataset_starts_from_its_own_most_confused_cell(with_data):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    mnist = load_evaluation(CHECKPOINT_DIR / "mnist")
    assert _cell(at) == ("cnn", *most_confused_cell(np.asarray(mnist.metrics("cnn")["confusion"])))
    at.session_state["dataset"] = "fashion"
    at.run()
    assert not at.exception, at.exception
    fashion = load_evaluation(CHECKPOINT_DIR / "fashion")
    confusion = np.asarray(fashion.metrics("cnn")["confusion"])
    true_class, predicted_class = most_confused_cell(confusion)
    assert _cell(at) == ("cnn", true_class, predicted_class)
    assert _count(at) == confusion[true_class, predicted_class] > 0


def _click_then_page(page: str) -> None:
    """The page; once "click" is set, each run starts as a click's run does: the selection
    callback writes the session state (app_pages/results_confusion.py's _show_clicked_cell)."""
    import runpy

    import streamlit as st

    if st.session_state.get("click"):
        st.session_state["results_cell_model"] = "senet"
        st.session_state["results_cell_true"] = 9
        st.session_state["results_cell_predicted"] = 4
        st.session_state["results_gallery"] = "cell"
    runpy.run_path(page)


def test_a_clicked_cell_logs_no_session_state_warning(with_data, monkeypatch):
    # AppTest runs without a Streamlit runtime, where this check returns early: pretend
    # one exists (for this check only) and let its once-per-process warning fire again.
    monkeypatch.setattr(policies, "runtime", types.SimpleNamespace(exists=lambda: True))
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(policies.__name__)
    logger.addHandler(handler)
    try:
        at = AppTest.from_function(_click_then_page, kwargs={"page": PAGE}, default_timeout=120)
        at.run()
        at.session_state["click"] = True
        at.run()
    finally:
        logger.removeHandler(handler)
    assert not at.exception, at.exception
    assert _cell(at) == ("senet", 9, 4)
    assert not [r for r in records if "Session State API" in r.getMessage()]
