"""The Results page's tables: the original study's metrics beside ours, and what each model
costs (parameters, FLOPs, latency). Not a page: `app_pages/results.py` uses it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from se_demo.analysis.original_study import comparison_rows
from se_demo.analysis.results import Evaluation, cost_rows
from se_demo.core.registry import MODEL_TITLES, DatasetInfo
from se_demo.words import explain

METRIC_LABELS = {
    "accuracy": "accuracy",
    "precision": "macro precision",
    "recall": "macro recall",
    "f1": "macro F1",
}


def show_tables(
    metrics: dict[str, dict[str, Any]],
    evaluation: Evaluation,
    dataset: DatasetInfo,
    first: str,
    second: str,
) -> None:
    """The original study's table beside ours, then the costs of ``evaluation``'s models."""
    first_title, second_title = MODEL_TITLES[first], MODEL_TITLES[second]
    difference = f"{second_title} − {first_title} (ours)"
    st.subheader("The original study's table, side by side", help=explain("macro F1"))
    # st.table, not st.dataframe: static HTML that shows every cell at once and draws fast.
    scores = (
        pd.DataFrame(comparison_rows(metrics, dataset.reference))
        .set_index("metric")
        .rename(index=METRIC_LABELS, columns={"SENet - CNN (ours)": difference})
    )
    st.table(scores.style.format("{:.5f}").format("{:+.5f}", subset=[difference]))
    st.caption(
        (
            "Original study: the TensorFlow repository we reproduce, its published MNIST results "
            "after 100 epochs (Adam 1e-4, batch 32). "
            if dataset.reference
            else "The original study published MNIST results only. "
        )
        + "Ours: the models above. Macro: the unweighted mean over the ten classes."
    )
    costs = pd.DataFrame(cost_rows(evaluation, first, second)).set_index("model")
    costs.index = pd.Index(
        [first_title, second_title, difference.removesuffix(" (ours)")], name="model"
    )
    costs.columns = ["parameters", "FLOPs per image", "CPU latency per image (ms)"]
    st.table(
        costs.style.format("{:,}", subset=["parameters", "FLOPs per image"])
        .format("{:.3f}", subset=["CPU latency per image (ms)"])
        .format("{:+,}", subset=(costs.index[-1:], ["parameters", "FLOPs per image"]))
        .format("{:+.3f}", subset=(costs.index[-1:], ["CPU latency per image (ms)"]))
    )
    st.caption(
        "FLOPs: one forward pass of one 28×28 image, counted by torch.utils.flop_counter (a "
        "multiply-add is 2 FLOPs). Latency: the fastest of 200 single-image forward passes (batch 1) "
        "on the CPU of the machine that ran the evaluation "
        f"({evaluation.measurements.get('cpu', 'not recorded')}, "
        f"{evaluation.measurements.get('threads', '?')} torch threads); "
        "it changes with the machine and its load.",
        help=explain("FLOPs"),
    )
