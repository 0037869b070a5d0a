"""The Seeds and ablations page shows the shipped comparison and ablation of each dataset."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from se_demo.core.config import CHECKPOINT_DIR
from se_demo.training.experiment_results import (
    budget_line,
    format_comparison_markdown,
    load_experiment,
)

PAGE = str(Path(__file__).resolve().parents[1] / "app_pages" / "experiments.py")


@pytest.mark.parametrize("dataset", ["mnist", "fashion"])
def test_page_shows_the_saved_experiments(dataset):
    comparison = load_experiment(CHECKPOINT_DIR / dataset, "comparison")
    ablation = load_experiment(CHECKPOINT_DIR / dataset, "ablation")
    assert comparison is not None, f"no shipped comparison for {dataset}"
    assert ablation is not None, f"no shipped ablation for {dataset}"
    assert len(comparison["seeds"]) >= 5
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["dataset"] = dataset
    at.run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert text.count(comparison["summary"]) == 1  # the headline, not repeated below it
    assert format_comparison_markdown(comparison, with_summary=False) in text
    captions = [c.value for c in at.caption]
    assert budget_line(comparison) in captions
    assert budget_line(ablation) in captions
    for row in ablation["rows"]:
        assert f"| {row['group']} | {row['label']} |" in text
    # the paper's "no SE" row (23.30 %) is not the lesson's Table 2 ResNet-50 (24.80 %)
    assert "| 23.30 |" in text
    assert "is not the Table 2 one that the lesson quotes" in text
    assert len(at.get("plotly_chart")) == 2


def test_page_explains_a_missing_experiment(tmp_path, monkeypatch):
    monkeypatch.setattr("se_demo.core.config.CHECKPOINT_DIR", tmp_path)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("python -m se_demo compare" in i.value for i in at.info)


def test_budget_line_names_the_torch_version_plainly():
    comparison = load_experiment(CHECKPOINT_DIR / "mnist", "comparison")
    assert comparison["versions"]["torch"] == "2.14.1+cu130"
    line = budget_line(comparison)
    assert f"trained {comparison['wall_time_s'] / 60:.0f} min with torch 2.14.1." in line
    assert "+cu130" not in line
    assert " on 2.14" not in line


def test_a_selected_lab_run_is_said_not_to_be_part_of_the_experiments(tmp_path):
    run = tmp_path / "mnist" / "20261206-000000-cnn-senet-seed0"
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["model_dir"] = str(run)
    at.run()
    assert not at.exception
    (note,) = [c.value for c in at.caption if run.name in c.value]
    assert "is not part of these experiments" in note
    assert at.markdown  # the experiments are still shown
    at.button(key="experiments_back_to_shipped").click().run()
    assert at.session_state["model_dir"] is None
    assert not any(run.name in c.value for c in at.caption)
