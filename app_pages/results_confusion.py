"""Where the models go wrong, class by class: the Results page's confusion matrices (a
clicked cell picks the gallery's images) and per-class precision, recall and F1.
Not a page: `app_pages/results.py` uses it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from se_demo.analysis.results import CONFUSION_VIEWS
from se_demo.core.registry import MODEL_TITLES
from se_demo.figures.confusion import confusion_difference_heatmap, confusion_heatmaps
from se_demo.figures.results import per_class_bars


def selected_cell(figure: go.Figure, points: list[dict]) -> tuple[str, int, int] | None:
    """(model name, true class, predicted class) of the last clicked cell, or None.

    ``points`` is the ``selection["points"]`` list of a streamlit plotly event on a
    figure from `confusion_heatmaps`.
    """
    for point in reversed(points):
        trace = figure.data[point["curve_number"]]
        if isinstance(trace, go.Scatter) and trace.meta is not None:
            return str(trace.meta), int(point["y"]), int(point["x"])
    return None


def _copy_clicked_cell(heatmaps: go.Figure) -> None:
    """Copy a clicked heatmap cell into the gallery's cell selectors below."""
    points = st.session_state["results_confusion"]["selection"]["points"]
    cell = selected_cell(heatmaps, points)
    if cell is not None:
        model, true_class, predicted_class = cell
        st.session_state["results_cell_model"] = model
        st.session_state["results_cell_true"] = true_class
        st.session_state["results_cell_predicted"] = predicted_class
        st.session_state["results_gallery"] = "cell"


def show_confusions(
    metrics: dict[str, dict[str, Any]], first: str, second: str, class_names: list[str]
) -> None:
    """Both models' confusion matrices and their difference, in the view the reader picks."""
    st.subheader("Where do they go wrong? Confusion matrices")
    controls = st.columns([3, 2])
    view = controls[0].radio(
        "Show",
        options=list(CONFUSION_VIEWS),
        format_func=CONFUSION_VIEWS.__getitem__,
        horizontal=True,
        key="results_view",
    )
    mute = controls[1].toggle(
        "Mute the diagonal",
        value=True,
        key="results_mute_diagonal",
        help="Grey out the correct predictions so that the colour scale shows the errors only.",
    )
    confusions = {name: np.asarray(metrics[name]["confusion"]) for name in (first, second)}
    heatmaps = confusion_heatmaps(
        confusions, view=view, mute_diagonal=mute, titles=MODEL_TITLES, class_names=class_names
    )
    st.plotly_chart(
        heatmaps,
        key="results_confusion",
        on_select=partial(_copy_clicked_cell, heatmaps),
        selection_mode="points",
        width="stretch",
    )
    first_title, second_title = MODEL_TITLES[first], MODEL_TITLES[second]
    difference, reading = st.columns([1, 1], vertical_alignment="center")
    difference.plotly_chart(
        confusion_difference_heatmap(
            confusions[first],
            confusions[second],
            view=view,
            mute_diagonal=mute,
            title=f"{second_title} minus {first_title}",
            class_names=class_names,
        ),
        key="results_confusion_difference",
        width="stretch",
    )
    reading.markdown(
        "**How to read them.** Rows are the true class, columns the predicted class; both "
        "models share one colour scale, and hovering a cell gives its count and shares. "
        "Row-normalised cells are shares of the true class (the diagonal is the recall), "
        "column-normalised cells shares of the predicted class (the diagonal is the precision).\n\n"
        f"In the difference, a red cell holds more images for {second_title} than for "
        f"{first_title}, a blue one fewer: off the diagonal, red means more of that mistake.\n\n"
        "**Click a cell** of either matrix to see its test images below."
    )


def show_per_class(
    metrics: dict[str, dict[str, Any]], first: str, second: str, class_names: list[str]
) -> None:
    """Grouped bars of each model's per-class precision, recall and F1."""
    st.subheader("Per-class precision, recall and F1")
    st.plotly_chart(
        per_class_bars(
            {name: metrics[name]["per_class"] for name in (first, second)},
            titles=MODEL_TITLES,
            class_names=class_names,
        ),
        key="results_per_class",
        width="stretch",
    )
    st.caption(
        "The axis starts just below the lowest value, so small differences are visible; "
        "hover a bar for its exact value."
    )
