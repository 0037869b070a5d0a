"""Results: which model is better, where do they go wrong, and is the difference real?

Everything comes from the saved evaluation (`load_results()`); no model runs here. Only
the test images themselves need the dataset on disk. Each section below the verdict is one
function of `app_pages/results_*.py` that gets what it shows as arguments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from app_pages.presentation import link_to_page
from app_pages.resources import (
    active_dataset,
    active_model_dir,
    load_records,
    load_results,
)
from app_pages.results_confusion import show_confusions, show_per_class
from app_pages.results_gallery import CELL_KEYS, show_mistakes
from app_pages.results_tables import show_tables
from se_demo.analysis.results import Evaluation, McNemarResult, evaluation_mcnemar
from se_demo.analysis.verdicts import Verdict, compare_verdict
from se_demo.core.checkpoints import CheckpointError
from se_demo.core.config import CHECKPOINT_DIR
from se_demo.core.registry import MODEL_TITLES, DatasetInfo, ModelKind, dataset_info
from se_demo.words import explain, percent

FIRST: str = ModelKind.CNN
SECOND: str = ModelKind.SENET


def _load(model_dir: Path, dataset: DatasetInfo) -> Evaluation:
    """The saved evaluation of the models in ``model_dir``; the page ends if there is none."""
    try:
        evaluation = load_results(model_dir)
    except CheckpointError as error:
        st.error(
            f"No saved evaluation to show for {dataset.title}: {error}. Create it with "
            f"`python -m se_demo evaluate --dataset {dataset.key}`."
        )
        st.stop()
    # A chosen confusion cell belongs to the evaluation it was chosen in: after switching the
    # dataset or the run, start again from that evaluation's most confused cell.
    if st.session_state.get("results_cell_of") != str(model_dir):
        for key in CELL_KEYS:
            st.session_state.pop(key, None)
        st.session_state["results_cell_of"] = str(model_dir)
    return evaluation


def _headline(metrics: dict[str, dict[str, Any]], mcnemar: McNemarResult) -> None:
    """Both accuracies and how many test images only one model gets right."""
    first_title, second_title = MODEL_TITLES[FIRST], MODEL_TITLES[SECOND]
    first_accuracy, second_accuracy = (metrics[name]["accuracy"] for name in (FIRST, SECOND))
    headline = st.columns(3)
    headline[0].metric(f"{first_title} accuracy", percent(first_accuracy, 2), border=True)
    headline[1].metric(
        f"{second_title} accuracy",
        percent(second_accuracy, 2),
        delta=f"{(second_accuracy - first_accuracy) * 100:+.2f} pp",
        help=explain("pp"),
        delta_color="off" if second_accuracy == first_accuracy else "normal",
        delta_arrow="off" if second_accuracy == first_accuracy else "auto",
        delta_description=f"vs {first_title}",
        border=True,
    )
    headline[2].metric(
        "Test images only one model gets right",
        f"{mcnemar.only_first_correct} vs {mcnemar.only_second_correct}",
        help=f"{first_title} alone versus {second_title} alone",
        border=True,
    )


def _is_it_real(verdict: Verdict) -> None:
    """McNemar's test in words, and the way to the many-seed comparison."""
    st.subheader("Is the difference real? McNemar's test", help=explain("McNemar's test"))
    getattr(st, verdict.tone)(verdict.text)
    link_to_page(
        "app_pages/experiments.py",
        label="Seeds and ablations: does SE help over many seeds?",
        icon=":material/casino:",
    )
    st.caption(
        "McNemar's exact test (scipy's binomial test) looks only at the images on which the "
        "models differ: if neither model were better, each of them would be the one that is "
        "right about half of the time."
    )


def main() -> None:
    """The Results page."""
    dataset = dataset_info(active_dataset())
    class_names = list(dataset.class_names)
    model_dir = active_model_dir()
    shipped = model_dir == CHECKPOINT_DIR / dataset.key
    st.title(f"Results: basic CNN versus SENet on {dataset.title}")
    evaluation = _load(model_dir, dataset)
    metrics = {name: evaluation.metrics(name) for name in (FIRST, SECOND)}
    mcnemar = evaluation_mcnemar(evaluation, FIRST, SECOND)
    verdict = compare_verdict(
        load_records(model_dir),
        {name: metrics[name]["accuracy"] for name in (FIRST, SECOND)},
        dataset.key,
        mcnemar,
        FIRST,
        SECOND,
    )
    source = "The shipped checkpoints" if shipped else f"The models of the run {model_dir.name}"
    st.caption(
        f"{source} on all {evaluation.record['test_images']:,} {dataset.title} test images, "
        "read from their saved evaluation; nothing is recomputed here."
    )
    for name, note in verdict.undertrained.items():
        st.badge(f"{MODEL_TITLES[name]}: undertrained", icon=":material/warning:", color="orange")
        st.caption(note)
    _headline(metrics, mcnemar)
    _is_it_real(verdict)
    show_tables(metrics, evaluation, dataset, FIRST, SECOND)
    show_confusions(metrics, FIRST, SECOND, class_names)
    show_per_class(metrics, FIRST, SECOND, class_names)
    show_mistakes(evaluation, dataset, FIRST, SECOND)


main()
