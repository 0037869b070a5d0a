"""Figures of one input (the Draw page, and the explorer's and lesson's single-input views):
each SE block's excitations, the models' probabilities, the input's pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from se_demo.core.registry import MODEL_COLORS, ModelKind
from se_demo.figures.common import block_title

STACK_GAP_PX = 70  # between stacked charts: the upper one's tick labels, the next title


def _block_traces(
    values: np.ndarray,
    label: str,
    reference: np.ndarray | None,
    reference_label: str,
    axes: dict[str, Any],
) -> list[dict[str, Any]]:
    """One block's bars (C,) and, when given, its reference (C,) as black marks over them."""
    channels = np.arange(len(values))
    traces = [
        {"type": "bar", "x": channels, "y": np.asarray(values, dtype=float),
         "name": label, "marker": {"color": MODEL_COLORS[ModelKind.SENET]},
         "hovertemplate": "channel %{x}<br>excitation %{y:.3f}<extra></extra>", **axes}
    ]  # fmt: skip
    if reference is not None:
        traces.append(
            {"type": "scatter", "x": channels,
             "y": np.asarray(reference, dtype=float), "mode": "markers",
             "name": reference_label,
             "marker": {"color": "black", "symbol": "line-ew-open", "size": 10},
             "hovertemplate": "channel %{x}<br>" + reference_label + " %{y:.3f}<extra></extra>",
             **axes}
        )  # fmt: skip
    return traces


def excitation_bars(
    excitations: dict[str, np.ndarray],
    reference: dict[str, np.ndarray] | None = None,
    reference_label: str = "class mean",
    height_per_block: int = 150,
    label: str = "this input",
) -> go.Figure:
    """One bar chart per SE block of one input's channel excitations (C,), stacked by depth.

    ``reference`` (same keys and shapes), when given, is drawn over the bars as markers,
    for example the test-set mean excitation of the predicted class. ``label`` names the
    bars in the legend. Panels are `STACK_GAP_PX` apart, room for the upper one's tick
    labels and the next one's title.
    """
    # Built as one dict: make_subplots and per-row updates cost ~40 ms of CPU per figure
    # (plotly validates every step), which the Draw page paid on every drawing.
    blocks = list(excitations)
    plot_height = height_per_block * len(blocks) + STACK_GAP_PX * (len(blocks) - 1)
    spacing = STACK_GAP_PX / plot_height if len(blocks) > 1 else 0.0
    height = (1 - spacing * (len(blocks) - 1)) / len(blocks)  # of each block's panel
    layout: dict[str, Any] = {"annotations": []}
    data: list[dict[str, Any]] = []
    for row, block in enumerate(blocks, start=1):
        top = 1 - (row - 1) * (height + spacing)
        suffix = "" if row == 1 else str(row)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        if row == len(blocks):
            layout[f"xaxis{suffix}"]["title"] = {"text": "channel"}
        layout[f"yaxis{suffix}"] = {
            "anchor": f"x{suffix}",
            "domain": [max(top - height, 0.0), top],
            "title": {"text": "excitation"},
        }
        layout["annotations"].append(
            {"text": block_title(block, len(excitations[block])), "font": {"size": 16},
             "showarrow": False, "x": 0.5, "xanchor": "center", "xref": "paper",
             "y": top, "yanchor": "bottom", "yref": "paper"}
        )  # fmt: skip
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "showlegend": row == 1}
        marks = None if reference is None else reference.get(block)
        data += _block_traces(excitations[block], label, marks, reference_label, axes)
    layout.update(
        height=plot_height + 120,
        margin={"l": 40, "r": 10, "t": 40, "b": 80},
        bargap=0.1,
        legend={"orientation": "h", "yanchor": "top", "y": -60 / plot_height},
    )
    return go.Figure({"data": data, "layout": layout})


def probability_bars(
    probabilities: dict[str, np.ndarray],
    titles: Mapping[str, str] | None = None,
    threshold: float | None = None,
    class_names: list[str] | None = None,
) -> go.Figure:
    """Each model's probabilities over the classes (K,), side by side in one bar chart.

    ``class_names`` label the x axis (digits 0-9 when None, and the axis is "digit").
    ``threshold``, when given, is drawn as a dashed line named in the legend, so its label
    never sits on the bars. Built as one dict, like `excitation_bars`.
    """
    titles = titles or {}
    size = len(next(iter(probabilities.values()))) if probabilities else 10
    names = class_names or [str(c) for c in range(size)]
    axis = "digit" if class_names is None else "class"
    data: list[dict[str, Any]] = [
        {"type": "bar", "x": names, "y": np.asarray(values, dtype=float),
         "name": titles.get(name, name), "marker": {"color": MODEL_COLORS.get(name)},
         "hovertemplate": axis + " %{x}<br>probability %{y:.3f}<extra></extra>"}
        for name, values in probabilities.items()
    ]  # fmt: skip
    if threshold is not None:
        data.append(
            {"type": "scatter", "x": [names[0], names[-1]], "y": [threshold, threshold],
             "mode": "lines", "line": {"color": "grey", "dash": "dash"},
             "name": f"unsure below {100 * threshold:.0f} %", "hoverinfo": "skip"}
        )  # fmt: skip
    layout = {
        "barmode": "group",
        "height": 300,
        "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
        "xaxis": {"title": {"text": axis}, "type": "category"},
        "yaxis": {"title": {"text": "probability"}, "range": [0, 1]},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02},
    }
    return go.Figure({"data": data, "layout": layout})


def digit_pixels(image: np.ndarray, height: int = 280) -> go.Figure:
    """A small greyscale image (H, W) in [0, 1], enlarged with a gap between its pixels."""
    values = np.asarray(image, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            zmin=0.0,
            zmax=1.0,
            colorscale="gray",
            showscale=False,
            xgap=1,
            ygap=1,
            hovertemplate="row %{y}, column %{x}<br>ink %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        width=height,
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        plot_bgcolor="#404040",
        xaxis={"visible": False, "constrain": "domain"},
        yaxis={"visible": False, "autorange": "reversed", "scaleanchor": "x"},
    )
    return fig
